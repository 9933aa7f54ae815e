//! The pages of a pull by day: records of a range gathered per day as NDJSON lines, a page per
//! day, then the checkpoint that makes those days whole. Analytics APIs (Pinterest, LinkedIn,
//! Mixpanel) all answer a range of days at once, and a day's files are replaced only when
//! every record of it was sent.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::Serialize;
use serde_json::Value;

use crate::connector::{ConnectorError, DayWindow, Page, PullContext};
use crate::records::Records;

impl DayWindow {
    /// Every day of the window, in order.
    pub fn days(self) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut d = self.from;
        while d <= self.to {
            out.push(d);
            match d.checked_add_days(Days::new(1)) {
                Some(next) => d = next,
                None => break,
            }
        }
        out
    }

    pub fn contains(self, day: NaiveDate) -> bool {
        day >= self.from && day <= self.to
    }
}

impl PullContext {
    /// Hand a page to the runner; `Stopped` once the run no longer takes pages.
    pub async fn send(&self, page: Page) -> Result<(), ConnectorError> {
        self.pages
            .send(page)
            .await
            .map_err(|_| ConnectorError::Stopped)
    }

    /// Every record of `days` was sent: with this checkpoint their earlier files are replaced
    /// by this pull's, and a crash resumes after them.
    pub async fn commit_days(
        &self,
        days: DayWindow,
        checkpoint: Option<Value>,
    ) -> Result<(), ConnectorError> {
        self.send(Page {
            checkpoint,
            completes_partitions: days.days(),
            ..Page::default()
        })
        .await
    }

    /// The task is whole; `checkpoint` is its final state.
    pub async fn complete(&self, checkpoint: Option<Value>) -> Result<(), ConnectorError> {
        self.send(Page {
            checkpoint,
            completes_task: true,
            ..Page::default()
        })
        .await
    }
}

/// One answer's records for a range of days, grouped by day.
#[derive(Debug)]
pub struct DayPages {
    range: DayWindow,
    by_day: BTreeMap<NaiveDate, (Vec<u8>, usize)>,
    /// Records dated outside the range, or not dated: left out and counted as skipped.
    outside: u64,
    input_bytes: u64,
}

impl DayPages {
    /// `input_bytes`: what the answer weighed, for the report (counted once).
    pub fn new(range: DayWindow, input_bytes: u64) -> Self {
        Self {
            range,
            by_day: BTreeMap::new(),
            outside: 0,
            input_bytes,
        }
    }

    /// One record, as its JSON line (no newline), for `day`.
    pub fn push(&mut self, day: Option<NaiveDate>, line: &[u8]) {
        if let Some(lines) = self.lines(day) {
            lines.extend_from_slice(line);
            lines.push(b'\n');
        }
    }

    /// One record, serialized, for `day`.
    pub fn push_json(&mut self, day: Option<NaiveDate>, record: &impl Serialize) {
        let Some(day) = day.filter(|d| self.range.contains(*d)) else {
            self.outside += 1;
            return;
        };
        let (lines, n) = self.by_day.entry(day).or_default();
        let mark = lines.len();
        if serde_json::to_writer(&mut *lines, record).is_ok() {
            lines.push(b'\n');
            *n += 1;
        } else {
            lines.truncate(mark);
        }
    }

    fn lines(&mut self, day: Option<NaiveDate>) -> Option<&mut Vec<u8>> {
        let Some(day) = day.filter(|d| self.range.contains(*d)) else {
            self.outside += 1;
            return None;
        };
        let (lines, n) = self.by_day.entry(day).or_default();
        *n += 1;
        Some(lines)
    }

    pub fn records(&self) -> usize {
        self.by_day.values().map(|(_, n)| n).sum()
    }

    /// A page per day, in day order; the records outside the range are warned about once.
    pub async fn send(self, ctx: &PullContext) -> Result<(), ConnectorError> {
        if self.outside > 0 {
            tracing::warn!(
                records = self.outside,
                from = %self.range.from,
                to = %self.range.to,
                "records dated outside the days asked for were left out"
            );
        }
        let mut input_bytes = self.input_bytes;
        let mut skipped = self.outside;
        for (day, (lines, n)) in self.by_day {
            ctx.send(Page {
                records: Records::Lines(lines),
                record_count: n,
                input_bytes: std::mem::take(&mut input_bytes),
                partition: Some(day),
                skipped: std::mem::take(&mut skipped),
                ..Page::default()
            })
            .await?;
        }
        if input_bytes > 0 || skipped > 0 {
            // nothing inside the range: the answer still counts
            ctx.send(Page {
                input_bytes,
                skipped,
                ..Page::default()
            })
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::Task;
    use chrono::Utc;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
    }

    #[tokio::test]
    async fn records_go_a_page_per_day_and_those_outside_the_range_are_counted_once() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let ctx = PullContext {
            task: Task {
                stream: "s".into(),
                slice: String::new(),
                window: None,
            },
            checkpoint: None,
            run_started: Utc::now(),
            fields: Vec::new(),
            pages: tx,
        };
        let range = DayWindow {
            from: d("2026-01-01"),
            to: d("2026-01-03"),
        };
        let mut pages = DayPages::new(range, 500);
        pages.push(Some(d("2026-01-02")), br#"{"a":1}"#);
        pages.push_json(Some(d("2026-01-01")), &serde_json::json!({"a": 2}));
        pages.push(Some(d("2026-01-02")), br#"{"a":3}"#);
        pages.push(Some(d("2026-01-04")), br#"{"a":4}"#);
        pages.push(None, br#"{"a":5}"#);
        assert_eq!(pages.records(), 3);
        pages.send(&ctx).await.expect("send");
        ctx.commit_days(range, None).await.expect("commit");
        drop(ctx);
        let mut got = Vec::new();
        while let Some(p) = rx.recv().await {
            got.push(p);
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].partition, Some(d("2026-01-01")));
        assert_eq!((got[0].input_bytes, got[0].skipped), (500, 2));
        assert_eq!(got[1].partition, Some(d("2026-01-02")));
        assert_eq!((got[1].record_count, got[1].input_bytes), (2, 0));
        match &got[1].records {
            Records::Lines(l) => assert_eq!(l.as_slice(), b"{\"a\":1}\n{\"a\":3}\n"),
            other => panic!("{other:?}"),
        }
        assert_eq!(got[2].completes_partitions, range.days());
        assert_eq!(range.days().len(), 3);
    }
}
