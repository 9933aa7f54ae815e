//! Mixpanel raw event export: `GET /api/2.0/export` as `api-contracts.md` §4 describes it.
//! One server stands for every residency host (`data`, `data-eu`, `data-in`).

mod data;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use bytes::Bytes;
use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use crate::faults::FaultKind;
use crate::limiter::{QuotaSpec, Window};
use crate::Shared;

const VENDOR: &str = "mixpanel";
const ROUTE: &str = "/api/2.0/export";
/// The export refuses ranges past this many records per request.
const MAX_LIMIT: u64 = 100_000;
const MAX_CONCURRENT: usize = 100;

#[derive(Debug, Clone)]
pub struct MixpanelConfig {
    /// Distinct events per day (duplicates come on top).
    pub events_per_day: u64,
    pub seed: u64,
    /// The project's timezone: day boundaries and "today".
    pub timezone: Tz,
    /// Replaces the default quotas (3/s, 60/h) when set.
    pub quota: Option<QuotaSpec>,
}

impl Default for MixpanelConfig {
    fn default() -> Self {
        Self {
            events_per_day: 400,
            seed: 42,
            timezone: Tz::UTC,
            quota: None,
        }
    }
}

pub struct MixpanelSim {
    config: MixpanelConfig,
    windows: Vec<Window>,
    in_flight: Arc<AtomicUsize>,
}

impl MixpanelSim {
    pub fn new(config: MixpanelConfig) -> Self {
        let windows = match &config.quota {
            Some(q) => vec![Window::new(q.clone())],
            None => vec![
                Window::new(QuotaSpec::new("per_second", 3, 1)),
                Window::new(QuotaSpec::new("per_hour", 60, 3600)),
            ],
        };
        Self {
            config,
            windows,
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn quota_specs(&self) -> Vec<QuotaSpec> {
        self.windows.iter().map(|w| w.spec.clone()).collect()
    }

    fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.config.timezone).date_naive()
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(ROUTE, get(export))
        .route("/_sandbox/mixpanel/events", get(truth))
}

fn error(status: StatusCode, request: &str, message: &str) -> Response {
    (status, Json(json!({"request": request, "error": message}))).into_response()
}

enum Credentials {
    ServiceAccount,
    ProjectSecret,
}

fn credentials(headers: &HeaderMap) -> Option<Credentials> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    match text.split_once(':') {
        // `secret:` (curl -u SECRET:) or `secret` alone (Airbyte, Singer): a project secret
        Some((user, "")) if !user.is_empty() => Some(Credentials::ProjectSecret),
        Some((user, secret)) if !user.is_empty() && !secret.is_empty() => {
            Some(Credentials::ServiceAccount)
        }
        None if !text.is_empty() => Some(Credentials::ProjectSecret),
        _ => None,
    }
}

struct Query {
    from: NaiveDate,
    to: NaiveDate,
    events: Option<HashSet<String>>,
    since: Option<i64>,
}

fn parse_query(
    sim: &MixpanelSim,
    raw: &str,
    creds: &Credentials,
) -> Result<Query, (StatusCode, String)> {
    let bad = |m: &str| (StatusCode::BAD_REQUEST, m.to_string());
    let mut from = None;
    let mut to = None;
    let mut project = None;
    let mut events = None;
    let mut since = None;
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "from_date" => from = Some(v.into_owned()),
            "to_date" => to = Some(v.into_owned()),
            "project_id" => project = Some(v.into_owned()),
            "limit" => {
                let n: u64 = v.parse().map_err(|_| bad("limit must be an integer"))?;
                if n > MAX_LIMIT {
                    return Err(bad("limit must be less than or equal to 100000"));
                }
            }
            "event" => {
                let names: Vec<String> = serde_json::from_str(&v).map_err(|_| {
                    bad("event must be a JSON array of event names, e.g. [\"Sign in\"]")
                })?;
                events = Some(names.into_iter().collect());
            }
            "where" => {
                // the one form connectors send: properties["$time"]>=datetime(N)
                if let Some(n) = v
                    .split("datetime(")
                    .nth(1)
                    .and_then(|r| r.split(')').next())
                {
                    since = Some(
                        n.trim()
                            .parse::<i64>()
                            .map_err(|_| bad("where: cannot parse datetime(...)"))?,
                    );
                }
            }
            _ => {}
        }
    }
    if matches!(creds, Credentials::ServiceAccount) {
        match project {
            None => {
                return Err(bad(
                    "project_id is required when authenticating with a service account",
                ))
            }
            Some(p) if p.parse::<u64>().is_err() => {
                return Err(bad("project_id must be an integer"))
            }
            _ => {}
        }
    }
    let date = |name: &str, v: Option<String>| -> Result<NaiveDate, (StatusCode, String)> {
        let v = v.ok_or_else(|| bad(&format!("{name} is a required parameter")))?;
        NaiveDate::parse_from_str(&v, "%Y-%m-%d")
            .map_err(|_| bad(&format!("{name} must be a date in the format YYYY-MM-DD")))
    };
    let from = date("from_date", from)?;
    let to = date("to_date", to)?;
    if to > sim.today() {
        return Err(bad("to_date cannot be later than today"));
    }
    if from > to {
        return Err(bad("from_date cannot be later than to_date"));
    }
    Ok(Query {
        from,
        to,
        events,
        since,
    })
}

async fn export(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let response = serve(&shared, &headers, &raw).await;
    shared
        .stats
        .record(VENDOR, ROUTE, response.status().as_u16());
    response
}

async fn serve(shared: &Shared, headers: &HeaderMap, raw: &str) -> Response {
    let request = format!("{ROUTE}?{raw}");
    let Some(creds) = credentials(headers) else {
        return error(
            StatusCode::UNAUTHORIZED,
            &request,
            "Unable to authenticate request",
        );
    };
    let faults = shared.faults.next(VENDOR);
    for f in &faults {
        match f {
            FaultKind::Slow { ms } => {
                tokio::time::sleep(std::time::Duration::from_millis(*ms)).await
            }
            FaultKind::TooManyRequests | FaultKind::TooManyRequestsZeroWait => {
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    &request,
                    "Query rate limit exceeded for project_id: 1. Please try again later.",
                )
            }
            FaultKind::Internal => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &request,
                    "Internal server error",
                )
            }
            FaultKind::Unavailable => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &request,
                    "Service unavailable",
                )
            }
            FaultKind::Unauthorized => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    &request,
                    "Unable to authenticate request",
                )
            }
            _ => {}
        }
    }
    let sim = &shared.mixpanel;
    let query = match parse_query(sim, raw, &creds) {
        Ok(q) => q,
        Err((status, message)) => return error(status, &request, &message),
    };
    let now = Instant::now();
    let verdicts: Vec<_> = sim.windows.iter().map(|w| w.check(now)).collect();
    let concurrent = sim.in_flight.load(Ordering::SeqCst);
    if verdicts.iter().any(|v| !v.allowed) || concurrent >= MAX_CONCURRENT {
        let used: Vec<String> = sim
            .windows
            .iter()
            .zip(&verdicts)
            .map(|(w, v)| {
                format!(
                    "{}/{} queries in the last {} s",
                    w.spec.limit - v.remaining,
                    w.spec.limit,
                    w.spec.period_s
                )
            })
            .collect();
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            &request,
            &format!(
                "Query rate limit exceeded for project_id: 1. {concurrent}/{MAX_CONCURRENT} queries running concurrently and {}. For more information, please consult our documentation.",
                used.join(", ")
            ),
        );
    }
    for w in &sim.windows {
        w.accept(now);
    }
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let stream = EventStream::new(sim, query, &faults, gzip);
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if gzip {
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// The export body, produced lazily in chunks: the sandbox never holds a whole range.
struct EventStream {
    days: Vec<NaiveDate>,
    day: Option<data::DayEvents>,
    config: MixpanelConfig,
    events: Option<HashSet<String>>,
    since: Option<i64>,
    /// Lines emitted so far, and where a fault strikes (a line number).
    emitted: u64,
    strike: Option<(u64, FaultKind)>,
    gzip: Option<flate2::write::GzEncoder<Vec<u8>>>,
    done: bool,
    now: i64,
    _guard: InFlight,
}

struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl EventStream {
    fn new(sim: &MixpanelSim, q: Query, faults: &[FaultKind], gzip: bool) -> Self {
        sim.in_flight.fetch_add(1, Ordering::SeqCst);
        let mut days = Vec::new();
        let mut d = q.to;
        while d >= q.from {
            days.push(d);
            d = d.pred_opt().unwrap_or(d);
            if days.len() > 3660 {
                break;
            }
        }
        // about the middle of the body
        let total = sim.config.events_per_day * days.len() as u64;
        let strike = faults
            .iter()
            .find(|f| {
                matches!(
                    f,
                    FaultKind::Truncate | FaultKind::TerminatedEarly | FaultKind::SplitRecord
                )
            })
            .map(|f| ((total / 2).max(1), *f));
        Self {
            days,
            day: None,
            config: sim.config.clone(),
            events: q.events,
            since: q.since,
            emitted: 0,
            strike,
            gzip: gzip
                .then(|| flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast())),
            done: false,
            now: Utc::now().timestamp(),
            _guard: InFlight(sim.in_flight.clone()),
        }
    }

    fn next_event(&mut self) -> Option<Value> {
        loop {
            if let Some(day) = self.day.as_mut() {
                for g in day.by_ref() {
                    let e = g.line;
                    if self
                        .events
                        .as_ref()
                        .is_some_and(|set| !set.contains(e["event"].as_str().unwrap_or("")))
                    {
                        continue;
                    }
                    let time = e["properties"]["time"].as_i64().unwrap_or(0);
                    if self.since.is_some_and(|s| time < s) {
                        continue;
                    }
                    // today's events exist only up to now
                    if time > self.now {
                        self.day = None;
                        break;
                    }
                    return Some(e);
                }
            }
            let d = self.days.pop()?;
            self.day = Some(data::DayEvents::new(
                self.config.seed,
                d,
                self.config.timezone,
                self.config.events_per_day,
            ));
        }
    }

    /// The next chunk of plain text, and whether the connection is to be cut after it.
    fn plain_chunk(&mut self) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(64 * 1024);
        while out.len() < 60 * 1024 {
            if let Some((at, kind)) = self.strike {
                if self.emitted == at {
                    self.strike = None;
                    match kind {
                        FaultKind::TerminatedEarly => {
                            out.extend_from_slice(b"terminated early\n");
                            self.done = true;
                            return (out, false);
                        }
                        FaultKind::Truncate => return (out, true),
                        FaultKind::SplitRecord => {
                            if let Some(e) = self.next_event() {
                                let line = e.to_string();
                                let mid = line.len() / 2;
                                let cut = (mid..line.len())
                                    .find(|i| line.is_char_boundary(*i))
                                    .unwrap_or(mid);
                                out.extend_from_slice(&line.as_bytes()[..cut]);
                                out.push(b'\n');
                                out.extend_from_slice(&line.as_bytes()[cut..]);
                                out.push(b'\n');
                                self.emitted += 1;
                            }
                            continue;
                        }
                        _ => {}
                    }
                }
            }
            match self.next_event() {
                Some(e) => {
                    let _ = serde_json::to_writer(&mut out, &e);
                    out.push(b'\n');
                    self.emitted += 1;
                }
                None => {
                    self.done = true;
                    break;
                }
            }
        }
        (out, false)
    }
}

impl futures::Stream for EventStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::io::Write;
        use std::task::Poll;
        if self.done && self.gzip.is_none() {
            return Poll::Ready(None);
        }
        if self.done {
            // finish the gzip stream
            let bytes = self
                .gzip
                .take()
                .and_then(|g| g.finish().ok())
                .unwrap_or_default();
            return Poll::Ready(Some(Ok(Bytes::from(bytes))));
        }
        let (plain, cut) = self.plain_chunk();
        let out = match self.gzip.as_mut() {
            None => plain,
            Some(g) => {
                let _ = g.write_all(&plain);
                let _ = g.flush();
                std::mem::take(g.get_mut())
            }
        };
        if cut {
            self.done = true;
            self.gzip = None;
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "sandbox cut the stream",
            ))));
        }
        Poll::Ready(Some(Ok(Bytes::from(out))))
    }
}

/// The events of a range as the output should hold them: each event once.
async fn truth(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let raw = raw.unwrap_or_default();
    let mut from = None;
    let mut to = None;
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "from_date" => from = NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok(),
            "to_date" => to = NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok(),
            _ => {}
        }
    }
    let (Some(from), Some(to)) = (from, to) else {
        return (
            StatusCode::BAD_REQUEST,
            "from_date and to_date are required",
        )
            .into_response();
    };
    let cfg = &shared.mixpanel.config;
    let mut out = Vec::new();
    // Mixpanel's own notion of one event: the same event, distinct_id, time and $insert_id
    let mut seen = HashSet::new();
    let mut d = from;
    while d <= to {
        let now = Utc::now().timestamp();
        for g in data::DayEvents::new(cfg.seed, d, cfg.timezone, cfg.events_per_day) {
            if g.line["properties"]["time"].as_i64().unwrap_or(0) > now {
                break;
            }
            let p = &g.line["properties"];
            let key = format!(
                "{}\u{0}{}\u{0}{}\u{0}{}",
                g.line["event"], p["distinct_id"], p["time"], p["$insert_id"]
            );
            if seen.insert(key) {
                let _ = serde_json::to_writer(&mut out, &g.line);
                out.push(b'\n');
            }
        }
        d = d.succ_opt().unwrap_or(d);
        if d == NaiveDate::MAX {
            break;
        }
    }
    ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response()
}
