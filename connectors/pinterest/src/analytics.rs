//! Analytics and targeting analytics of one ad account over a window of days, in as few
//! requests as the API's limits allow:
//! - days within the last 89 (UTC) go to the synchronous endpoints, at most 90 days and 250 ids
//!   a request;
//! - older days (up to 914 back) go to an asynchronous report, at most 186 days and 500 ids a
//!   report ([`crate::reports`]).
//!
//! A window is pulled range by range, each range for every id chunk, and committed when a range
//! is whole: its days then replace their earlier files (of this ad account only), and a crashed
//! pull resumes at the next range.

use bytes::Bytes;
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use sluice_core::{ConnectorError, DayPages, DayWindow, PullContext};
use sluice_http::{HttpClient, Request};

use crate::config::{Granularity, PinterestSettings, ADS_ANALYTICS};
use crate::errors::connector_error;
use crate::rows;
use crate::streams::Level;

/// The synchronous endpoints serve this many days back (the API says 90; a request at the
/// turn of a UTC day must not fall outside).
pub const SYNC_DAYS_BACK: u64 = 89;
/// Days one synchronous request may cover (DAY granularity).
pub const SYNC_RANGE_DAYS: u64 = 90;
/// HOUR: 8 days back, 3 days a request, synchronous only.
const HOUR_DAYS_BACK: u64 = 7;
const HOUR_RANGE_DAYS: u64 = 3;
/// Reports: 914 days back, 186 days a report.
pub const REPORT_DAYS_BACK: u64 = 913;
pub const REPORT_RANGE_DAYS: u64 = 186;
/// Ids per report (a synchronous request: [`Level::sync_ids`]).
pub const REPORT_IDS: usize = 500;

/// How a range of days is pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Sync,
    Report,
}

/// One range of a window, and how it is pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub days: DayWindow,
    pub route: Route,
}

fn chunks(from: NaiveDate, to: NaiveDate, days: u64, route: Route, out: &mut Vec<Range>) {
    let mut start = from;
    while start <= to {
        let end = (start + Days::new(days - 1)).min(to);
        out.push(Range {
            days: DayWindow {
                from: start,
                to: end,
            },
            route,
        });
        start = end + Days::new(1);
    }
}

/// The ranges of `window` as of `today` (UTC): reports for the old days, synchronous requests
/// for the recent ones. Days before what any endpoint serves are an error.
pub fn ranges(
    window: DayWindow,
    today: NaiveDate,
    granularity: Granularity,
    level: Level,
) -> Result<Vec<Range>, ConnectorError> {
    let (back, range) = match granularity {
        Granularity::Day => (SYNC_DAYS_BACK, SYNC_RANGE_DAYS),
        Granularity::Hour => (HOUR_DAYS_BACK, HOUR_RANGE_DAYS),
    };
    let sync_floor = today - Days::new(back);
    let reports = level.report_level(false).is_some();
    let oldest = match granularity {
        Granularity::Day if reports => today - Days::new(REPORT_DAYS_BACK),
        _ => sync_floor,
    };
    if window.from < oldest {
        let why = if reports {
            String::new()
        } else {
            format!(
                " (no asynchronous report has a {} level, so the synchronous endpoint's 90 \
                 days are all there is)",
                level.name()
            )
        };
        return Err(ConnectorError::Config(format!(
            "{} is older than Pinterest keeps {} {} analytics ({oldest} is the oldest day it \
             serves today{why}): pull from {oldest} on",
            window.from,
            granularity.as_str(),
            level.name()
        )));
    }
    let mut out = Vec::new();
    if window.from < sync_floor {
        let end = window.to.min(sync_floor - Days::new(1));
        chunks(window.from, end, REPORT_RANGE_DAYS, Route::Report, &mut out);
    }
    if window.to >= sync_floor {
        chunks(
            window.from.max(sync_floor),
            window.to,
            range,
            Route::Sync,
            &mut out,
        );
    }
    Ok(out)
}

/// The windows a backfill of `from..=to` needs fewest requests in: the reports' part in
/// windows of 186 days, the synchronous part in windows of 90, split where the routes meet.
pub fn windows(from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Vec<DayWindow> {
    let sync_floor = today - Days::new(SYNC_DAYS_BACK);
    let mut out = Vec::new();
    let mut ranges = Vec::new();
    if from < sync_floor {
        chunks(
            from,
            to.min(sync_floor - Days::new(1)),
            REPORT_RANGE_DAYS,
            Route::Report,
            &mut ranges,
        );
    }
    if to >= sync_floor {
        chunks(
            from.max(sync_floor),
            to,
            SYNC_RANGE_DAYS,
            Route::Sync,
            &mut ranges,
        );
    }
    out.extend(ranges.into_iter().map(|r| r.days));
    out
}

/// What a task has done, checkpointed after each whole range.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    /// The last day of the window pulled whole.
    done_through: Option<NaiveDate>,
}

/// One analytics row, kept as the JSON line the mapper reads, with its day.
pub(crate) struct Row {
    pub(crate) day: NaiveDate,
    pub(crate) line: Vec<u8>,
}

/// The rows of a synchronous answer: a bare array, or for targeting `{"data": [{targeting_type,
/// targeting_value, metrics}]}` flattened to one row per value and day. `add` (column, value)
/// goes into each row that lacks the column. Rows without a day are left out.
fn parse_rows<'k>(
    body: &[u8],
    targeting: bool,
    add: &[(&'k str, &str)],
) -> Result<Vec<Row>, String> {
    let wanted: Vec<&str> = add.iter().map(|(k, _)| *k).collect();
    let row = |raw: &RawValue, mut extra: Vec<(&'k str, String)>| -> Result<Option<Row>, String> {
        let probe = rows::probe(raw, &wanted)?;
        let Some(day) = probe.date else {
            return Ok(None);
        };
        for ((column, value), found) in add.iter().zip(&probe.found) {
            if found.is_none() {
                extra.push((column, rows::json_text(value)));
            }
        }
        Ok(Some(Row {
            day,
            line: rows::line(raw, probe.keys, &extra),
        }))
    };
    let mut out = Vec::new();
    if !targeting {
        let items: Vec<&RawValue> =
            serde_json::from_slice(body).map_err(|e| format!("not an analytics array: {e}"))?;
        for item in items {
            out.extend(row(item, Vec::new())?);
        }
        return Ok(out);
    }
    #[derive(Deserialize)]
    struct Wrapped<'a> {
        #[serde(borrow)]
        data: Vec<Item<'a>>,
    }
    #[derive(Deserialize)]
    struct Item<'a> {
        targeting_type: Value,
        targeting_value: Value,
        #[serde(borrow, default)]
        metrics: Option<&'a RawValue>,
    }
    let wrapped: Wrapped<'_> =
        serde_json::from_slice(body).map_err(|e| format!("not a targeting answer: {e}"))?;
    let empty = RawValue::from_string("{}".into()).map_err(|e| e.to_string())?;
    for item in wrapped.data {
        let extra = vec![
            ("TARGETING_TYPE", text(item.targeting_type).to_string()),
            ("TARGETING_VALUE", text(item.targeting_value).to_string()),
        ];
        out.extend(row(item.metrics.unwrap_or(&empty), extra)?);
    }
    Ok(out)
}

/// A value as text (a targeting value may be a number: LOCATION 500).
fn text(v: Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        other => other,
    }
}

/// Objects asked for together: the ids, and what they are asked for under (a pin's campaign).
#[derive(Debug, Clone, Default)]
pub struct IdGroup {
    /// A query parameter every request of the group sends, and its value (`campaign_id`).
    pub scope: Option<(&'static str, String)>,
    pub ids: Vec<String>,
}

/// Everything a pull of one stream needs to know.
pub struct Pull<'a> {
    pub settings: &'a PinterestSettings,
    pub http: &'a HttpClient,
    pub level: Level,
    /// The targeting type, for a targeting stream.
    pub targeting: Option<&'static str>,
    pub columns: Vec<String>,
    /// The objects, for a level that names them (empty: none in the account).
    pub groups: Vec<IdGroup>,
}

impl Pull<'_> {
    fn account<'c>(&self, ctx: &'c PullContext) -> &'c str {
        ctx.task.slice.as_str()
    }

    /// Rows of one synchronous request.
    async fn sync(
        &self,
        ctx: &PullContext,
        days: DayWindow,
        scope: Option<&(&'static str, String)>,
        ids: &[String],
    ) -> Result<(Vec<Row>, usize), ConnectorError> {
        let s = self.settings;
        let mut url = s.url(
            &self
                .level
                .analytics_path(self.account(ctx), self.targeting.is_some()),
        );
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("start_date", &days.from.to_string())
                .append_pair("end_date", &days.to.to_string())
                .append_pair("columns", &self.columns.join(","))
                .append_pair("granularity", s.granularity.as_str())
                .append_pair(
                    "click_window_days",
                    &s.attribution.click_window_days.to_string(),
                )
                .append_pair(
                    "engagement_window_days",
                    &s.attribution.engagement_window_days.to_string(),
                )
                .append_pair(
                    "view_window_days",
                    &s.attribution.view_window_days.to_string(),
                )
                .append_pair(
                    "conversion_report_time",
                    &s.attribution.conversion_report_time,
                );
            if let (Some(param), false) = (self.level.ids_param(), ids.is_empty()) {
                q.append_pair(param, &ids.join(","));
            }
            if let Some(t) = self.targeting {
                q.append_pair("targeting_types", &t.to_ascii_uppercase());
            }
            if let Some((param, value)) = scope {
                q.append_pair(param, value);
            }
        }
        let targeting = self.targeting.is_some();
        let scope_column = self.level.scope_key().zip(scope.map(|(_, v)| v.as_str()));
        let request = Request::get(url).category(ADS_ANALYTICS);
        let (rows, bytes) = self
            .http
            .send_parsed(&request, |body: Bytes| {
                let add: Vec<(&str, &str)> = scope_column.into_iter().collect();
                parse_rows(&body, targeting, &add)
            })
            .await
            .map_err(|e| connector_error(&s.flow, e))?;
        Ok((rows, bytes))
    }

    /// Pull the task's window, range by range.
    pub async fn run(&self, ctx: &PullContext) -> Result<(), ConnectorError> {
        let window = ctx.task.window.ok_or_else(|| {
            ConnectorError::Config(
                "an analytics pull needs a day window (the engine plans one)".into(),
            )
        })?;
        let today = ctx.run_started.date_naive();
        let window = DayWindow {
            from: window.from,
            to: window.to.min(today),
        };
        let progress: Progress = ctx
            .checkpoint
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let needs_ids = self.level.ids_param().is_some();
        let none = needs_ids && self.groups.iter().all(|g| g.ids.is_empty());
        if none {
            tracing::info!(
                level = self.level.name(),
                "no objects in the ad account: nothing to pull"
            );
        }
        let whole_account = [IdGroup::default()];
        let groups: &[IdGroup] = if needs_ids {
            &self.groups
        } else {
            &whole_account
        };
        for range in ranges(window, today, self.settings.granularity, self.level)? {
            if progress.done_through.is_some_and(|d| range.days.to <= d) {
                continue;
            }
            let per_request = match range.route {
                Route::Sync => self.level.sync_ids(),
                Route::Report => REPORT_IDS,
            };
            for group in groups {
                let chunks: Vec<&[String]> = if needs_ids {
                    group.ids.chunks(per_request).collect()
                } else {
                    vec![&[]]
                };
                // each answer goes out as it comes: memory holds one answer, not the range
                for ids in chunks {
                    let (rows, bytes) = match range.route {
                        Route::Sync => {
                            self.sync(ctx, range.days, group.scope.as_ref(), ids)
                                .await?
                        }
                        Route::Report => crate::reports::pull(self, ctx, range.days, ids).await?,
                    };
                    let mut pages = DayPages::new(range.days, bytes as u64);
                    for row in rows {
                        pages.push(Some(row.day), &row.line);
                    }
                    pages.send(ctx).await?;
                }
            }
            let done = Progress {
                done_through: Some(range.days.to.min(window.to)),
            };
            ctx.commit_days(range.days, serde_json::to_value(done).ok())
                .await?;
        }
        let done = Progress {
            done_through: Some(window.to),
        };
        ctx.complete(serde_json::to_value(done).ok()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
    }

    #[test]
    fn old_days_go_to_reports_recent_ones_to_the_sync_endpoints() {
        let today = d("2026-12-02");
        let w = DayWindow {
            from: today - Days::new(200),
            to: today - Days::new(1),
        };
        let r = ranges(w, today, Granularity::Day, Level::Campaign).expect("ranges");
        let reports: Vec<_> = r.iter().filter(|r| r.route == Route::Report).collect();
        let sync: Vec<_> = r.iter().filter(|r| r.route == Route::Sync).collect();
        // 111 old days: one report; 89 recent days: one synchronous range
        assert_eq!(reports.len(), 1);
        assert_eq!(sync.len(), 1);
        assert_eq!(
            reports[0].days.to + Days::new(1),
            sync[0].days.from,
            "no gap, no overlap"
        );
        assert_eq!(sync[0].days.from, today - Days::new(SYNC_DAYS_BACK));
        let err = ranges(
            DayWindow {
                from: today - Days::new(1000),
                to: today,
            },
            today,
            Granularity::Day,
            Level::Campaign,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("older than Pinterest keeps"),
            "{err}"
        );
    }

    #[test]
    fn a_backfill_is_cut_where_the_routes_meet() {
        let today = d("2026-12-02");
        let w = windows(today - Days::new(400), today - Days::new(1), today);
        // 311 report days → 2 windows of ≤186; 89 sync days → 1 window
        assert_eq!(w.len(), 3, "{w:?}");
        assert_eq!(w[2].from, today - Days::new(SYNC_DAYS_BACK));
    }

    #[test]
    fn targeting_answers_flatten_to_one_row_per_value() {
        let body = br#"{"data":[{"targeting_type":"AGE_BUCKET","targeting_value":"45-49","metrics":{"AD_GROUP_ID":2680067996745,"DATE":"2022-04-26","SPEND_IN_DOLLAR":240}},
            {"targeting_type":"LOCATION","targeting_value":500,"metrics":{"DATE":"2022-04-26","SPEND_IN_DOLLAR":1}},
            {"targeting_type":"GENDER","targeting_value":"F","metrics":{"SPEND_IN_DOLLAR":1}}]}"#;
        let rows = parse_rows(body, true, &[]).expect("rows");
        // the row without a day is left out
        assert_eq!(rows.len(), 2);
        let second: Value = serde_json::from_slice(&rows[1].line).expect("json");
        assert_eq!(second["TARGETING_VALUE"], "500");
        assert_eq!(second["TARGETING_TYPE"], "LOCATION");
        assert_eq!(rows[0].day, d("2022-04-26"));
        let plain = br#"[{"DATE":"2022-04-26","PIN_ID":"1"},{"DATE":"2022-04-27","PIN_ID":"2","CAMPAIGN_ID":"9"}]"#;
        let rows = parse_rows(plain, false, &[("CAMPAIGN_ID", "5")]).expect("rows");
        let a: Value = serde_json::from_slice(&rows[0].line).expect("json");
        let b: Value = serde_json::from_slice(&rows[1].line).expect("json");
        assert_eq!(
            (a["CAMPAIGN_ID"].as_str(), b["CAMPAIGN_ID"].as_str()),
            (Some("5"), Some("9"))
        );
    }
}
