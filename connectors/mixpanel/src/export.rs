//! One export task: a range of whole days, pulled with one request (a backfill window, or the
//! days not yet complete plus a lookback), split into day partitions while streaming.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use futures::StreamExt;
use sluice_core::{ConnectorError, DayWindow, Page, PullContext, RejectedRecord};
use sluice_http::{HttpClient, HttpError, Request};

use crate::config::MixpanelSettings;
use crate::dedup::DayDedup;
use crate::lines::{Decoded, EventKeys, LineDecoder};

/// A page of lines handed to the mapper holds at most this much, whatever size the events are.
const PAGE_BYTES: usize = 8 * 1024 * 1024;

/// The days of one request hold at most this much together before they go out as pages.
const BUFFERED_BYTES: usize = 8 * 1024 * 1024;

/// Attempts at one range before the task fails (each a full re-pull of the range).
const MAX_ATTEMPTS: u32 = 5;

enum Failure {
    /// The body broke: pull the range again.
    Retry(String),
    Fatal(ConnectorError),
}

struct DayBuffer {
    dedup: DayDedup,
    lines: Vec<u8>,
    count: usize,
    bytes: u64,
}

fn connector_error(settings: &MixpanelSettings, e: HttpError) -> ConnectorError {
    let body = e.body().unwrap_or_default().to_string();
    match e.status() {
        Some(400) if body.contains("Unable to authenticate") => ConnectorError::Auth {
            connection: format!("mixpanel connection of flow `{}`", settings.flow),
            message: e.to_string(),
        },
        Some(400) if body.contains("later than today") => ConnectorError::Config(format!(
            "{e}. The project's timezone is probably not `{}`: set [source] timezone to the project's",
            settings.timezone
        )),
        Some(402) => ConnectorError::Api {
            status: Some(402),
            message: format!("{e}. The Mixpanel plan does not include API access"),
        },
        _ => e.into_connector_error(
            &format!("mixpanel connection of flow `{}`", settings.flow),
            "Check the credentials the flow's environment references point at, and the region",
        ),
    }
}

fn day_of(keys: &EventKeys<'_>, tz: chrono_tz::Tz) -> Option<NaiveDate> {
    let t = &keys.properties.time;
    let secs = t
        .as_i64()
        .or_else(|| t.as_f64().map(|f| f.floor() as i64))?;
    DateTime::from_timestamp(secs, 0).map(|d| d.with_timezone(&tz).date_naive())
}

fn key_part(v: &Option<serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub async fn run(
    settings: &MixpanelSettings,
    http: &HttpClient,
    ctx: PullContext,
) -> Result<(), ConnectorError> {
    let tz = settings.timezone;
    let today = ctx.run_started.with_timezone(&tz).date_naive();
    // the engine plans the days (an incremental run's since the last complete one, plus its
    // lookback; a backfill's window); a day is never in the future
    let window = ctx.task.window.ok_or_else(|| {
        ConnectorError::Config("a Mixpanel export needs a day window (the engine plans one)".into())
    })?;
    let (from, to) = (window.from, window.to.min(today));
    let finish = Page {
        completes_task: true,
        ..Page::default()
    };
    if from > to {
        return ctx.send(finish).await;
    }
    let mut url = settings.base_url.clone();
    url.set_path("/api/2.0/export");
    {
        let mut q = url.query_pairs_mut();
        if let Some(p) = settings.project_id {
            q.append_pair("project_id", &p.to_string());
        }
        q.append_pair("from_date", &from.to_string())
            .append_pair("to_date", &to.to_string());
        if let Some(events) = &settings.events {
            q.append_pair("event", &serde_json::to_string(events).unwrap_or_default());
        }
        if let Some(w) = &settings.where_clause {
            q.append_pair("where", w);
        }
    }
    tracing::info!(from = %from, to = %to, "requesting mixpanel export");
    for attempt in 1..=MAX_ATTEMPTS {
        match pull_range(settings, http, &url, from, to, &ctx).await {
            Ok(()) => {
                let page = Page {
                    completes_partitions: DayWindow { from, to }.days(),
                    ..finish
                };
                return ctx.send(page).await;
            }
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry(reason)) => {
                tracing::warn!(attempt, from = %from, to = %to, "{reason}; pulling the days again");
                ctx.send(Page {
                    discard_uncommitted: true,
                    ..Page::default()
                })
                .await?;
                if attempt == MAX_ATTEMPTS {
                    return Err(ConnectorError::Api {
                        status: None,
                        message: format!("the export of {from}..{to} failed {MAX_ATTEMPTS} times; last: {reason}"),
                    });
                }
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
        }
    }
    Ok(())
}

async fn pull_range(
    settings: &MixpanelSettings,
    http: &HttpClient,
    url: &url::Url,
    from: NaiveDate,
    to: NaiveDate,
    ctx: &PullContext,
) -> Result<(), Failure> {
    let response = http
        .send_stream(&Request::get(url.clone()))
        .await
        .map_err(|e| Failure::Fatal(connector_error(settings, e)))?;
    let mut body = response.bytes_stream();
    let mut decoder = LineDecoder::new(settings.max_page_bytes);
    let mut days: BTreeMap<NaiveDate, DayBuffer> = BTreeMap::new();
    let mut ready: Vec<(NaiveDate, Vec<u8>, usize, u64)> = Vec::new();
    let mut rejected: Vec<RejectedRecord> = Vec::new();
    let mut rejected_bytes = 0usize;
    let mut outside = 0u64;
    let mut duplicates = 0u64;
    let tz = settings.timezone;
    let page_records = settings.page_records;
    let mut ended = false;
    // bytes held in the days' buffers together: past a cap they go out as pages, so memory is
    // bounded whatever the number of days in the request
    let mut buffered = 0usize;
    // a body that trickles (a byte now and then, never a whole event) would hold the run and
    // its lock forever: no complete event for this long is a stalled export
    let stall = settings.stall_timeout;
    let mut progress_at = tokio::time::Instant::now();
    while !ended {
        let next = match tokio::time::timeout_at(progress_at + stall, body.next()).await {
            Ok(next) => next,
            Err(_) => {
                return Err(Failure::Retry(format!(
                    "the export stalled: no complete event in {} s",
                    stall.as_secs()
                )))
            }
        };
        let chunk = match next {
            Some(Ok(c)) => c,
            Some(Err(e)) => return Err(Failure::Retry(format!("the export stream broke: {e}"))),
            None => {
                ended = true;
                bytes::Bytes::new()
            }
        };
        http.note_received(chunk.len());
        let mut decoded_any = false;
        let mut emit = |item: Decoded<'_>| {
            decoded_any = true;
            let (line, keys) = match item {
                Decoded::Event { line, keys } => (line, keys),
                Decoded::Rejected(r) => {
                    rejected_bytes += r.record.len();
                    rejected.push(r);
                    return;
                }
            };
            let Some(day) = day_of(&keys, tz) else {
                rejected.push(RejectedRecord {
                    record: line.to_vec(),
                    reason: format!(
                        "`properties.time` = {} is not a time (Unix seconds)",
                        keys.properties.time
                    ),
                });
                return;
            };
            if day < from || day > to {
                outside += 1;
                return;
            }
            let buf = days.entry(day).or_insert_with(|| DayBuffer {
                dedup: DayDedup::default(),
                lines: Vec::new(),
                count: 0,
                bytes: 0,
            });
            let time = keys.properties.time.to_string();
            if !buf.dedup.first_time(
                &keys.event,
                &key_part(&keys.properties.distinct_id),
                &time,
                &key_part(&keys.properties.insert_id),
            ) {
                duplicates += 1;
                return;
            }
            buf.lines.extend_from_slice(line);
            buf.lines.push(b'\n');
            buf.count += 1;
            buf.bytes += line.len() as u64 + 1;
            buffered += line.len() + 1;
            // a page is bounded by records and by bytes, whatever size the events are
            if buf.count >= page_records || buf.lines.len() >= PAGE_BYTES {
                buffered -= buf.lines.len();
                ready.push((day, std::mem::take(&mut buf.lines), buf.count, buf.bytes));
                buf.count = 0;
                buf.bytes = 0;
            }
            if buffered >= BUFFERED_BYTES {
                for (day, buf) in days.iter_mut().filter(|(_, b)| b.count > 0) {
                    ready.push((*day, std::mem::take(&mut buf.lines), buf.count, buf.bytes));
                    buf.count = 0;
                    buf.bytes = 0;
                }
                buffered = 0;
            }
        };
        let decoded = if ended {
            decoder.finish(&mut emit)
        } else {
            decoder.feed(&chunk, &mut emit)
        };
        if let Err(e) = decoded {
            return Err(Failure::Retry(e.to_string()));
        }
        if decoded_any {
            progress_at = tokio::time::Instant::now();
        }
        for (day, records, count, bytes) in ready.drain(..) {
            send(ctx, day, records, count, bytes).await?;
        }
        if rejected.len() >= 1_000 || rejected_bytes >= PAGE_BYTES {
            send_rejected(ctx, std::mem::take(&mut rejected), 0).await?;
            rejected_bytes = 0;
        }
    }
    for (day, buf) in days.iter_mut() {
        if buf.count > 0 {
            send(
                ctx,
                *day,
                std::mem::take(&mut buf.lines),
                buf.count,
                buf.bytes,
            )
            .await?;
        }
    }
    if !rejected.is_empty() || duplicates > 0 || outside > 0 {
        let failed = rejected.len();
        send_rejected(ctx, rejected, duplicates + outside).await?;
        if failed > 0 {
            tracing::warn!(
                events = failed,
                "lines that are not events of the export went to the rejects file"
            );
        }
    }
    let index_bytes: usize = days.values().map(|b| b.dedup.memory_bytes()).sum();
    let kept: usize = days.values().map(|b| b.dedup.len()).sum();
    tracing::info!(from = %from, to = %to, events = kept, duplicates, dedup_index_bytes = index_bytes, "mixpanel export complete");
    if outside > 0 {
        tracing::warn!(
            events = outside,
            "events whose time falls outside the requested days (in {tz}) were left out (counted \
             as skipped); if this recurs, the project's timezone is probably not {tz}"
        );
    }
    Ok(())
}

/// Records of rejected lines and skipped events, in a page of their own (they belong to no day).
async fn send_rejected(
    ctx: &PullContext,
    rejected: Vec<RejectedRecord>,
    skipped: u64,
) -> Result<(), Failure> {
    ctx.pages
        .send(Page {
            rejected,
            skipped,
            ..Page::default()
        })
        .await
        .map_err(|_| Failure::Fatal(ConnectorError::Stopped))
}

async fn send(
    ctx: &PullContext,
    day: NaiveDate,
    records: Vec<u8>,
    count: usize,
    bytes: u64,
) -> Result<(), Failure> {
    ctx.pages
        .send(Page {
            records: sluice_core::Records::Lines(records),
            record_count: count,
            input_bytes: bytes,
            partition: Some(day),
            ..Page::default()
        })
        .await
        .map_err(|_| Failure::Fatal(ConnectorError::Stopped))
}
