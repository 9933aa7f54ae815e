//! Asynchronous reports, for days older than the synchronous endpoints serve (up to 914 back):
//! create one (`POST /ad_accounts/{id}/reports`, a JSON body), poll it by token until it is
//! FINISHED, and download it from the link it gives, which is pre-signed for five minutes and
//! refuses a second way of authenticating (so it goes without the connection's token, and
//! outside its quotas). A report that ends EXPIRED or FAILED is created again; a link that
//! expired before the download is asked for again by polling; a report too large to hold is
//! split into two of half the days.

use std::time::Duration;

use bytes::Bytes;
use chrono::Days;
use serde::Deserialize;
use std::collections::BTreeMap;

use serde_json::json;
use serde_json::value::RawValue;
use sluice_core::{ConnectorError, DayWindow, PullContext};
use sluice_http::{HttpError, Request};

use crate::analytics::{Pull, Row};
use crate::config::ADS_ANALYTICS;
use crate::errors::connector_error;

/// Reports created again after EXPIRED or FAILED before the pull gives up.
const MAX_CREATIONS: u32 = 3;
/// Polls of one report before the pull gives up (with the waits below, about 20 minutes).
const MAX_POLLS: u32 = 60;
/// Links asked for again after one expired before its download.
const MAX_LINKS: u32 = 3;

#[derive(Deserialize)]
struct Created {
    token: String,
}

#[derive(Deserialize)]
struct Status {
    report_status: String,
    #[serde(default)]
    url: Option<String>,
}

/// The wait before poll `n` (0-based): short at first, reports of a few days finish quickly.
fn poll_wait(n: u32) -> Duration {
    Duration::from_millis(match n {
        0 => 200,
        1 => 500,
        2..=4 => 1_000,
        5..=9 => 5_000,
        _ => 30_000,
    })
}

fn protocol(account: &str, message: String) -> ConnectorError {
    ConnectorError::Protocol {
        endpoint: format!("reports of ad account {account}"),
        message,
    }
}

/// The rows of one report (`ids` ≤ 500) over `days`; a report too large to hold is pulled as
/// two of half the days.
pub async fn pull(
    p: &Pull<'_>,
    ctx: &PullContext,
    days: DayWindow,
    ids: &[String],
) -> Result<(Vec<crate::analytics::Row>, usize), ConnectorError> {
    let mut pending = vec![days];
    let mut rows = Vec::new();
    let mut bytes = 0;
    while let Some(d) = pending.pop() {
        match one(p, ctx, d, ids).await {
            Ok((r, b)) => {
                rows.extend(r);
                bytes += b;
            }
            Err(Split) if d.from < d.to => {
                let half = d.from + Days::new(((d.to - d.from).num_days() / 2) as u64);
                tracing::info!(from = %d.from, to = %d.to, "a report larger than max_page_bytes: asking for two of half the days");
                pending.push(DayWindow {
                    from: half + Days::new(1),
                    to: d.to,
                });
                pending.push(DayWindow {
                    from: d.from,
                    to: half,
                });
            }
            Err(Split) => {
                return Err(protocol(
                    &ctx.task.slice,
                    format!(
                        "the report of {} alone is larger than max_page_bytes: raise it in \
                         [connection]",
                        d.from
                    ),
                ))
            }
            Err(Failed(e)) => return Err(e),
        }
    }
    Ok((rows, bytes))
}

enum Outcome {
    /// Too large to download whole.
    Split,
    Failed(ConnectorError),
}
use Outcome::{Failed, Split};

impl From<ConnectorError> for Outcome {
    fn from(e: ConnectorError) -> Self {
        Failed(e)
    }
}

async fn one(
    p: &Pull<'_>,
    ctx: &PullContext,
    days: DayWindow,
    ids: &[String],
) -> Result<(Vec<crate::analytics::Row>, usize), Outcome> {
    let s = p.settings;
    let account = ctx.task.slice.as_str();
    let path = format!("ad_accounts/{account}/reports");
    let mut body = json!({
        "start_date": days.from.to_string(),
        "end_date": days.to.to_string(),
        "granularity": s.granularity.as_str(),
        "columns": p.columns,
        "level": p.level.report_level(p.targeting.is_some()),
        "click_window_days": s.attribution.click_window_days,
        "engagement_window_days": s.attribution.engagement_window_days,
        "view_window_days": s.attribution.view_window_days,
        "conversion_report_time": s.attribution.conversion_report_time,
        "report_format": "JSON",
    });
    if let (Some(field), Some(obj)) = (p.level.ids_param(), body.as_object_mut()) {
        if !ids.is_empty() {
            obj.insert(field.into(), json!(ids));
        }
    }
    if let (Some(t), Some(obj)) = (p.targeting, body.as_object_mut()) {
        obj.insert("targeting_types".into(), json!([t.to_ascii_uppercase()]));
    }
    let fail = |e: HttpError| Failed(connector_error(&s.flow, e));
    for creation in 1..=MAX_CREATIONS {
        let create = Request::post_json(s.url(&path), &body).category(ADS_ANALYTICS);
        let (created, _) = p
            .http
            .send_parsed(&create, |b: Bytes| {
                serde_json::from_slice::<Created>(&b).map_err(|e| format!("no report token: {e}"))
            })
            .await
            .map_err(fail)?;
        let mut url = s.url(&path);
        url.query_pairs_mut().append_pair("token", &created.token);
        let status_request = Request::get(url).category(ADS_ANALYTICS);
        let mut links = 0;
        let mut polls = 0;
        loop {
            tokio::time::sleep(poll_wait(polls)).await;
            polls += 1;
            if polls > MAX_POLLS {
                return Err(Failed(protocol(
                    account,
                    format!(
                        "the report of {}..{} did not finish in time",
                        days.from, days.to
                    ),
                )));
            }
            let (status, _) = p
                .http
                .send_parsed(&status_request, |b: Bytes| {
                    serde_json::from_slice::<Status>(&b)
                        .map_err(|e| format!("not a report status: {e}"))
                })
                .await
                .map_err(fail)?;
            match status.report_status.as_str() {
                "IN_PROGRESS" => continue,
                "FINISHED" => {
                    let Some(link) = status.url else {
                        return Err(Failed(protocol(
                            account,
                            "a FINISHED report without a url".into(),
                        )));
                    };
                    match download(p, &link).await {
                        Ok(out) => return Ok(out),
                        Err(Download::Expired) if links < MAX_LINKS => {
                            links += 1;
                            tracing::info!("the report's link expired before its download; asking for a new one");
                            continue;
                        }
                        Err(Download::Expired) => {
                            return Err(Failed(protocol(
                                account,
                                "every link of the report expired before its download".into(),
                            )))
                        }
                        Err(Download::TooLarge) => return Err(Split),
                        Err(Download::Failed(e)) => return Err(Failed(e)),
                    }
                }
                "EXPIRED" | "FAILED" | "CANCELLED" | "DOES_NOT_EXIST" => {
                    tracing::warn!(status = %status.report_status, creation, "report not delivered; creating it again");
                    break;
                }
                other => {
                    return Err(Failed(protocol(
                        account,
                        format!("unknown report status `{other}`"),
                    )))
                }
            }
        }
    }
    Err(Failed(protocol(
        account,
        format!(
            "the report of {}..{} failed {MAX_CREATIONS} times",
            days.from, days.to
        ),
    )))
}

enum Download {
    Expired,
    TooLarge,
    Failed(ConnectorError),
}

/// Fetch a report file: `{"<object id>": [rows…]}`.
async fn download(
    p: &Pull<'_>,
    link: &str,
) -> Result<(Vec<crate::analytics::Row>, usize), Download> {
    let url = url::Url::parse(link).map_err(|e| {
        Download::Failed(ConnectorError::Protocol {
            endpoint: "reports".into(),
            message: format!("the report link is not a URL: {e}"),
        })
    })?;
    // pre-signed: the link is the credential, and it is not Pinterest's API being called
    let request = Request::get(url).without_auth().unmetered();
    let id_key = p.level.id_key();
    let alt_keys = p.level.report_id_keys();
    let result = p
        .http
        .send_parsed(&request, |b: Bytes| {
            let file: BTreeMap<String, Vec<&RawValue>> =
                serde_json::from_slice(&b).map_err(|e| format!("not a report file: {e}"))?;
            let mut wanted = vec![id_key];
            wanted.extend(alt_keys.iter().filter(|k| **k != id_key));
            let mut rows = Vec::new();
            for (id, items) in file {
                for item in items {
                    let probe = crate::rows::probe(item, &wanted)
                        .map_err(|e| format!("report entry `{id}`: {e}"))?;
                    let Some(day) = probe.date else { continue };
                    // a report may name the object by another key (PIN_PROMOTION_ID for ads),
                    // or only by the entry it is under
                    let extra = if probe.found[0].is_some() {
                        Vec::new()
                    } else {
                        let v = probe.found[1..]
                            .iter()
                            .flatten()
                            .next()
                            .map(|v| v.get().to_string())
                            .unwrap_or_else(|| crate::rows::json_text(&id));
                        vec![(id_key, v)]
                    };
                    rows.push(Row {
                        day,
                        line: crate::rows::line(item, probe.keys, &extra),
                    });
                }
            }
            Ok(rows)
        })
        .await;
    match result {
        Ok((rows, bytes)) => Ok((rows, bytes)),
        Err(HttpError::TooLarge { .. }) => Err(Download::TooLarge),
        Err(e) if matches!(e.status(), Some(403 | 404 | 410)) => Err(Download::Expired),
        Err(e) => Err(Download::Failed(connector_error(&p.settings.flow, e))),
    }
}
