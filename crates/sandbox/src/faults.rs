//! Switchable faults. A fault list is comma-separated `KIND[xCOUNT][@START]`: COUNT consecutive
//! requests (default 1) starting at the START-th API request of a vendor (1-based, default 2, so
//! the first page of a run is clean). Kinds:
//!
//! | kind | effect |
//! | --- | --- |
//! | `429` | 429 with `Retry-After: 1` and the vendor's rate-limit body |
//! | `429ra0` | 429 with `Retry-After: 0` (a client must not hot-loop) |
//! | `500`, `503` | server errors (503 carries `Retry-After: 1`) |
//! | `truncate` | status 200, then the connection drops halfway through the body |
//! | `cut-json` | status 200 with a complete HTTP body that is half of the JSON |
//! | `slow=MS` | the response is delayed by MS milliseconds |
//! | `expire-cursor` | the paging cursor handed out by this response is already expired |
//! | `401` | 401 as if the credentials had been revoked |
//! | `terminated-early` | (streams) status 200, then the body ends with a `terminated early` line halfway |
//! | `split-record` | (streams) one record is split across two lines |
//! | `misfit` | one record of the page carries a value of the wrong type (`locale_id: "en"`) |
//! | `repeat-cursor` | (Zendesk) the page asked for, but the cursor handed out is the one the request sent (on a first page: one that leads to the first page again); `has_more` stays true |
//! | `replay` | (Zendesk) the records of the export's first page again, with a fresh valid cursor (the real position advances); `has_more` true |
//! | `huge-value=MB` | one record carries a string of MB MiB (1 to 1024): Zendesk's first record of the page as its `notes`, Mixpanel an extra event (not in the truth) as a `blob` property |
//! | `echo-auth` | 500 whose JSON body echoes the request's headers, `Authorization` verbatim, as some proxies and debugging gateways do (Zendesk in `request.headers`, Mixpanel in the `error` text and `headers`) |
//! | `bad-lines` | (Mixpanel) six extra lines in the middle of the body: `time` a string, no `time`, no `properties`, `event` a number, a JSON array, a line that is not JSON |
//! | `huge-line=MB` | (Mixpanel) one extra line of MB MiB that is not JSON, in the middle of the body |
//! | `retry-after[=N]` | (Pinterest) 400 `{"code":1,"message":"… Retry after N seconds"}` (N 2 unless given) |
//! | `code12` | (Pinterest) 400 `{"code":12,"message":"Something went wrong on our end…"}` |
//! | `daily-quota` | (Pinterest) 429 code 8 with `X-RateLimit-Reset: 67150`, as when a daily budget is spent |
//! | `expire-token` | (Pinterest) the access token of this request is expired from now on (1104) |
//! | `report-failed` | (Pinterest) the report this request creates ends FAILED at its first poll |
//! | `report-expired` | (Pinterest) the report this request creates ends EXPIRED at its first poll |
//! | `expire-link` | (Pinterest) the FINISHED `url` this poll hands out is already expired |
//! | `new-column` | (Pinterest) every analytics row of this response carries `NEW_METRIC_SANDBOX`, a column nobody asked for, as when the API starts sending a new metric |
//! | `linkedin-daily-quota` | (LinkedIn) /rest/adAnalytics answers the `APPLICATION_AND_MEMBER DAY` 429 (LinkedIn also honours `daily-quota`) |
//! | `linkedin-expire-token` | (LinkedIn) the access token is expired from now on: 401 "Expired access token" (LinkedIn also honours `expire-token`) |
//! | `linkedin-data-volume` (or `data-volume`) | (LinkedIn) /rest/adAnalytics answers the 45-million-metric-values 429 |
//! | `delete-board` | (Pinterest) the main account's first board (lowest id) is gone for this request's child routes (`/boards/{id}/sections`, `/pins`, `/sections/{sid}/pins`: 404 code 40 "Board not found."), while `GET /boards` still lists it: a board deleted between listing and paging |
//!
//! Example: `429x5@3,503@9,truncate@12,expire-cursor@4`.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use serde_json::{Map, Value};

/// The largest `huge-value=MB` / `huge-line=MB`: the Zendesk page is built in memory.
const MAX_MB: u64 = 1024;
/// One `MB` of a fault: a mebibyte, so the size exceeds MB megabytes in either sense.
pub(crate) const MEGABYTE: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    TooManyRequests,
    TooManyRequestsZeroWait,
    Internal,
    Unavailable,
    Truncate,
    CutJson,
    Slow { ms: u64 },
    ExpireCursor,
    Unauthorized,
    Misfit,
    TerminatedEarly,
    SplitRecord,
    RepeatCursor,
    Replay,
    HugeValue { mb: u64 },
    EchoAuth,
    BadLines,
    HugeLine { mb: u64 },
    RetryAfter { secs: u64 },
    Code12,
    DailyQuota,
    ExpireToken,
    ReportFailed,
    ReportExpired,
    ExpireLink,
    NewColumn,
    DeleteBoard,
    LinkedInDailyQuota,
    LinkedInExpireToken,
    DataVolume,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub count: u64,
    pub start: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    pub specs: Vec<FaultSpec>,
}

impl FaultPlan {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut specs = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (rest, start) = match item.split_once('@') {
                Some((r, s)) => (
                    r,
                    s.parse::<u64>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("fault `{item}`: START must be a number ≥ 1"))?,
                ),
                None => (item, 2),
            };
            let (kind_text, count) = match rest.rsplit_once('x') {
                Some((k, c))
                    if !k.is_empty()
                        && c.chars().all(|ch| ch.is_ascii_digit())
                        && !c.is_empty() =>
                {
                    (
                        k,
                        c.parse::<u64>()
                            .map_err(|_| format!("fault `{item}`: bad COUNT"))?,
                    )
                }
                _ => (rest, 1),
            };
            let kind = match kind_text {
                "429" => FaultKind::TooManyRequests,
                "429ra0" => FaultKind::TooManyRequestsZeroWait,
                "500" => FaultKind::Internal,
                "503" => FaultKind::Unavailable,
                "truncate" => FaultKind::Truncate,
                "cut-json" => FaultKind::CutJson,
                "expire-cursor" => FaultKind::ExpireCursor,
                "401" => FaultKind::Unauthorized,
                "misfit" => FaultKind::Misfit,
                "terminated-early" => FaultKind::TerminatedEarly,
                "split-record" => FaultKind::SplitRecord,
                "repeat-cursor" => FaultKind::RepeatCursor,
                "replay" => FaultKind::Replay,
                "echo-auth" => FaultKind::EchoAuth,
                "bad-lines" => FaultKind::BadLines,
                "retry-after" => FaultKind::RetryAfter { secs: 2 },
                "code12" => FaultKind::Code12,
                "daily-quota" => FaultKind::DailyQuota,
                "expire-token" => FaultKind::ExpireToken,
                "linkedin-daily-quota" => FaultKind::LinkedInDailyQuota,
                "linkedin-expire-token" => FaultKind::LinkedInExpireToken,
                "data-volume" | "linkedin-data-volume" => FaultKind::DataVolume,
                "report-failed" => FaultKind::ReportFailed,
                "report-expired" => FaultKind::ReportExpired,
                "expire-link" => FaultKind::ExpireLink,
                "new-column" => FaultKind::NewColumn,
                "delete-board" => FaultKind::DeleteBoard,
                other => with_value(item, other)?,
            };
            specs.push(FaultSpec { kind, count, start });
        }
        Ok(Self { specs })
    }
}

/// The kinds that carry a value: `slow=MS`, `huge-value=MB`, `huge-line=MB`, `retry-after=N`.
fn with_value(item: &str, kind: &str) -> Result<FaultKind, String> {
    if let Some(secs) = kind.strip_prefix("retry-after=") {
        return Ok(FaultKind::RetryAfter {
            secs: secs
                .trim_end_matches('s')
                .parse()
                .map_err(|_| format!("fault `{item}`: retry-after=N needs seconds"))?,
        });
    }
    if let Some(ms) = kind.strip_prefix("slow=") {
        return Ok(FaultKind::Slow {
            ms: ms
                .trim_end_matches("ms")
                .parse()
                .map_err(|_| format!("fault `{item}`: slow=MS needs milliseconds"))?,
        });
    }
    if let Some(mb) = kind.strip_prefix("huge-value=") {
        return Ok(FaultKind::HugeValue {
            mb: megabytes(item, mb)?,
        });
    }
    if let Some(mb) = kind.strip_prefix("huge-line=") {
        return Ok(FaultKind::HugeLine {
            mb: megabytes(item, mb)?,
        });
    }
    Err(format!(
        "unknown fault `{kind}`; known: 429, 429ra0, 500, 503, truncate, cut-json, slow=MS, \
         expire-cursor, 401, misfit, terminated-early, split-record, repeat-cursor, replay, \
         huge-value=MB, echo-auth, bad-lines, huge-line=MB, retry-after[=N], code12, \
         daily-quota, expire-token, report-failed, report-expired, expire-link, new-column, delete-board, \
         linkedin-daily-quota, linkedin-expire-token, linkedin-data-volume"
    ))
}

/// `MB` of `huge-value=MB` or `huge-line=MB` (an `mb` suffix is allowed), 1 to [`MAX_MB`].
fn megabytes(item: &str, text: &str) -> Result<u64, String> {
    let digits = text
        .strip_suffix("mb")
        .or_else(|| text.strip_suffix("MB"))
        .unwrap_or(text);
    digits
        .parse::<u64>()
        .ok()
        .filter(|mb| (1..=MAX_MB).contains(mb))
        .ok_or_else(|| {
            format!("fault `{item}`: MB must be a number of megabytes from 1 to {MAX_MB}")
        })
}

/// The request's headers as a debugging proxy echoes them (`echo-auth`): lower-case names,
/// values verbatim (repeated headers joined by `, `), `Authorization` included.
pub(crate) fn echoed_headers(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        out.insert(name.as_str().to_string(), Value::String(values.join(", ")));
    }
    Value::Object(out)
}

/// The plan in force and each vendor's request counter (reset when the plan is replaced).
pub struct FaultState {
    inner: Mutex<(FaultPlan, HashMap<&'static str, u64>)>,
}

impl FaultState {
    pub fn new(plan: FaultPlan) -> Self {
        Self {
            inner: Mutex::new((plan, HashMap::new())),
        }
    }

    pub fn replace(&self, plan: FaultPlan) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *g = (plan, HashMap::new());
    }

    /// Count one API request of `vendor` and return the faults that apply to it.
    pub fn next(&self, vendor: &'static str) -> Vec<FaultKind> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let n = {
            let c = g.1.entry(vendor).or_insert(0);
            *c += 1;
            *c
        };
        g.0.specs
            .iter()
            .filter(|s| n >= s.start && n < s.start + s.count)
            .map(|s| s.kind)
            .collect()
    }
}

/// `slow=MS`: hold the answer.
pub(crate) async fn slow(faults: &[FaultKind]) {
    for f in faults {
        if let FaultKind::Slow { ms } = f {
            tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
        }
    }
}

/// `truncate` (the connection drops halfway) and `cut-json` (half the JSON, complete HTTP).
pub(crate) async fn body_faults(
    r: axum::response::Response,
    faults: &[FaultKind],
) -> axum::response::Response {
    use axum::body::Body;
    let truncate = faults.contains(&FaultKind::Truncate);
    if !truncate && !faults.contains(&FaultKind::CutJson) {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let body = if truncate {
        Body::from_stream(futures::stream::iter(vec![
            Ok::<_, std::io::Error>(half),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "sandbox cut the body",
            )),
        ]))
    } else {
        Body::from(half)
    };
    axum::response::Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_counts_and_starts() {
        let p = FaultPlan::parse("429x5@3, 503, slow=250ms@1,expire-cursor@4").expect("parses");
        assert_eq!(
            p.specs,
            vec![
                FaultSpec {
                    kind: FaultKind::TooManyRequests,
                    count: 5,
                    start: 3
                },
                FaultSpec {
                    kind: FaultKind::Unavailable,
                    count: 1,
                    start: 2
                },
                FaultSpec {
                    kind: FaultKind::Slow { ms: 250 },
                    count: 1,
                    start: 1
                },
                FaultSpec {
                    kind: FaultKind::ExpireCursor,
                    count: 1,
                    start: 4
                },
            ]
        );
        assert!(FaultPlan::parse("boom").is_err());
        assert!(FaultPlan::parse("500@0").is_err());
    }

    #[test]
    fn parses_the_hostile_server_kinds() {
        let kinds = |text: &str| -> Vec<FaultKind> {
            FaultPlan::parse(text)
                .expect("parses")
                .specs
                .into_iter()
                .map(|s| s.kind)
                .collect()
        };
        assert_eq!(
            kinds("repeat-cursor,replay,echo-auth,bad-lines,huge-value=200,huge-line=3mb"),
            vec![
                FaultKind::RepeatCursor,
                FaultKind::Replay,
                FaultKind::EchoAuth,
                FaultKind::BadLines,
                FaultKind::HugeValue { mb: 200 },
                FaultKind::HugeLine { mb: 3 },
            ]
        );
        let p = FaultPlan::parse("huge-value=2x3@4, replayx2").expect("parses");
        assert_eq!(
            p.specs,
            vec![
                FaultSpec {
                    kind: FaultKind::HugeValue { mb: 2 },
                    count: 3,
                    start: 4
                },
                FaultSpec {
                    kind: FaultKind::Replay,
                    count: 2,
                    start: 2
                },
            ]
        );
        for bad in [
            "huge-value",
            "huge-value=",
            "huge-value=0",
            "huge-value=big",
            "huge-line=1025",
            "repeat",
        ] {
            assert!(FaultPlan::parse(bad).is_err(), "{bad} must not parse");
        }
        let message = FaultPlan::parse("boom").expect_err("unknown");
        for name in [
            "repeat-cursor",
            "replay",
            "huge-value=MB",
            "echo-auth",
            "bad-lines",
            "huge-line=MB",
        ] {
            assert!(message.contains(name), "{message} lists {name}");
        }
    }

    #[test]
    fn parses_the_pinterest_kinds() {
        let p = FaultPlan::parse(
            "retry-after,retry-after=5@3,code12x2,daily-quota,expire-token,report-failed,report-expired,expire-link,new-columnx3,delete-boardx4@2",
        )
        .expect("parses");
        let kinds: Vec<FaultKind> = p.specs.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            vec![
                FaultKind::RetryAfter { secs: 2 },
                FaultKind::RetryAfter { secs: 5 },
                FaultKind::Code12,
                FaultKind::DailyQuota,
                FaultKind::ExpireToken,
                FaultKind::ReportFailed,
                FaultKind::ReportExpired,
                FaultKind::ExpireLink,
                FaultKind::NewColumn,
                FaultKind::DeleteBoard,
            ]
        );
        assert_eq!(p.specs[9].count, 4);
        assert_eq!(p.specs[2].count, 2);
        assert_eq!(p.specs[8].count, 3);
        assert!(FaultPlan::parse("retry-after=soon").is_err());
        let message = FaultPlan::parse("boom").expect_err("unknown");
        assert!(
            message.contains("expire-link")
                && message.contains("new-column")
                && message.contains("delete-board"),
            "{message}"
        );
    }

    #[test]
    fn parses_the_linkedin_kinds() {
        let p = FaultPlan::parse(
            "linkedin-daily-quota,linkedin-expire-token,linkedin-data-volumex2,data-volume",
        )
        .expect("parses");
        let kinds: Vec<FaultKind> = p.specs.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            vec![
                FaultKind::LinkedInDailyQuota,
                FaultKind::LinkedInExpireToken,
                FaultKind::DataVolume,
                FaultKind::DataVolume,
            ]
        );
        let message = FaultPlan::parse("boom").expect_err("unknown");
        assert!(message.contains("linkedin-data-volume"), "{message}");
    }

    #[test]
    fn echoes_every_header_verbatim() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            axum::http::HeaderValue::from_static("Basic c2VjcmV0"),
        );
        h.append("accept", axum::http::HeaderValue::from_static("a"));
        h.append("accept", axum::http::HeaderValue::from_static("b"));
        let v = echoed_headers(&h);
        assert_eq!(v["authorization"], "Basic c2VjcmV0");
        assert_eq!(v["accept"], "a, b");
    }

    #[test]
    fn applies_to_the_requests_in_range() {
        let s = FaultState::new(FaultPlan::parse("500x2@2").expect("parses"));
        let hits: Vec<bool> = (0..4).map(|_| !s.next("zendesk").is_empty()).collect();
        assert_eq!(hits, [false, true, true, false]);
    }
}
