//! Mixpanel raw event export: `GET /api/2.0/export` as `api-contracts.md` §4 describes it.
//! One server stands for every residency host (`data`, `data-eu`, `data-in`).

mod data;

use std::collections::{HashSet, VecDeque};
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
use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use crate::faults::{echoed_headers, FaultKind, MEGABYTE};
use crate::limiter::{QuotaSpec, Window};
use crate::Shared;

const VENDOR: &str = "mixpanel";
const ROUTE: &str = "/api/2.0/export";
/// The export refuses ranges past this many records per request.
const MAX_LIMIT: u64 = 100_000;
const MAX_CONCURRENT: usize = 100;
/// Plain bytes the body is produced in, a chunk at a time.
const CHUNK: usize = 60 * 1024;

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
            FaultKind::EchoAuth => return echo_auth(&request, headers),
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

/// `echo-auth`: a 500 from a debugging gateway that tells all, the request's headers (credentials
/// included) both in the error text, where a client's error message picks them up, and as a field.
fn echo_auth(request: &str, headers: &HeaderMap) -> Response {
    let echoed = echoed_headers(headers);
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({
            "request": request,
            "error": format!("upstream failed; request headers: {echoed}"),
            "headers": echoed,
        })),
    )
        .into_response()
}

/// The faults that strike a streamed body at a line, about its middle.
fn strikes_a_line(kind: &FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::Truncate
            | FaultKind::TerminatedEarly
            | FaultKind::SplitRecord
            | FaultKind::BadLines
            | FaultKind::HugeLine { .. }
            | FaultKind::HugeValue { .. }
    )
}

/// The strikes that add lines rather than spoil the body: a body shorter than the middle
/// (filtered, or today's) still gets them, at its end.
fn adds_lines(kind: &FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::BadLines | FaultKind::HugeLine { .. } | FaultKind::HugeValue { .. }
    )
}

/// What a strike leaves the stream to do.
enum Strike {
    Continue,
    /// The body ends after this chunk.
    End,
    /// The connection drops after this chunk.
    Cut,
}

/// A line too large to build at once, written a piece per chunk: `prefix`, `left` bytes of `x`,
/// `suffix` (which ends the line).
struct LongLine {
    prefix: Vec<u8>,
    left: u64,
    suffix: Vec<u8>,
}

impl LongLine {
    /// Write the next piece, filler up to `out` holding `chunk` bytes; true once the line is
    /// complete.
    fn write_into(&mut self, out: &mut Vec<u8>, chunk: usize) -> bool {
        out.append(&mut self.prefix);
        let n = self.left.min(chunk.saturating_sub(out.len()).max(1) as u64);
        out.resize(out.len() + n as usize, b'x');
        self.left -= n;
        if self.left > 0 {
            return false;
        }
        out.append(&mut self.suffix);
        true
    }

    /// `huge-line=MB`: MB MiB that are not JSON.
    fn garbage(mb: u64) -> Self {
        Self {
            prefix: Vec::new(),
            left: mb.saturating_mul(MEGABYTE),
            suffix: b"\n".to_vec(),
        }
    }

    /// `huge-value=MB`: a valid event at `time` whose `blob` property is a string of MB MiB.
    fn event_with_blob(mb: u64, time: i64) -> Self {
        let text = json!({"event": "Page view", "properties": {
            "time": time,
            "distinct_id": "huge-value@example.com",
            "$insert_id": "sandbox-huge-value",
            "blob": "",
        }})
        .to_string();
        const BLOB: &str = "\"blob\":\"";
        // split inside the empty string, whatever order the properties serialize in
        let at = text
            .find("\"blob\":\"\"")
            .map_or(text.len(), |i| i + BLOB.len());
        let (prefix, suffix) = text.split_at(at);
        Self {
            prefix: prefix.as_bytes().to_vec(),
            left: mb.saturating_mul(MEGABYTE),
            suffix: format!("{suffix}\n").into_bytes(),
        }
    }
}

/// `bad-lines`: one line of each kind a reader must survive, in this order: `time` a string, no
/// `time`, no `properties`, `event` a number, a JSON array, a line that is not JSON. Their times
/// are `time` (inside the requested range), so only their shape is wrong.
fn bad_lines(time: i64) -> Vec<u8> {
    let properties = |n: u32, time: Option<Value>| {
        let mut p = serde_json::Map::new();
        if let Some(t) = time {
            p.insert("time".into(), t);
        }
        p.insert("distinct_id".into(), json!("bad-lines@example.com"));
        p.insert("$insert_id".into(), json!(format!("sandbox-bad-line-{n}")));
        Value::Object(p)
    };
    let lines = [
        json!({"event": "Sign in", "properties": properties(1, Some(json!(time.to_string())))})
            .to_string(),
        json!({"event": "Sign in", "properties": properties(2, None)}).to_string(),
        json!({"event": "Sign in"}).to_string(),
        json!({"event": 42, "properties": properties(4, Some(json!(time)))}).to_string(),
        "[1,2,3]".to_string(),
        "this is not json".to_string(),
    ];
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    out
}

/// The export body, produced lazily in chunks: the sandbox never holds a whole range.
struct EventStream {
    days: Vec<NaiveDate>,
    day: Option<data::DayEvents>,
    config: MixpanelConfig,
    events: Option<HashSet<String>>,
    since: Option<i64>,
    /// Events emitted so far, the line the faults strike at and the strikes still to come.
    emitted: u64,
    strike_at: u64,
    strikes: VecDeque<FaultKind>,
    /// A line being written a piece per chunk (`huge-line`, `huge-value`).
    long_line: Option<LongLine>,
    /// The time of the last event emitted (or the range's start): lines a fault adds carry it,
    /// so they fall inside the requested range.
    last_time: i64,
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
        let now = Utc::now().timestamp();
        let range_start = q
            .from
            .and_hms_opt(0, 0, 0)
            .and_then(|d| sim.config.timezone.from_local_datetime(&d).earliest())
            .map_or(0, |d| d.timestamp());
        Self {
            days,
            day: None,
            config: sim.config.clone(),
            events: q.events,
            since: q.since,
            emitted: 0,
            strike_at: (total / 2).max(1),
            strikes: faults.iter().copied().filter(strikes_a_line).collect(),
            long_line: None,
            last_time: range_start.max(q.since.unwrap_or(i64::MIN)).min(now),
            gzip: gzip
                .then(|| flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast())),
            done: false,
            now,
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
                    self.last_time = time;
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
        let mut out = Vec::with_capacity(CHUNK + 4 * 1024);
        while out.len() < CHUNK {
            if let Some(line) = self.long_line.as_mut() {
                if line.write_into(&mut out, CHUNK) {
                    self.long_line = None;
                }
                continue;
            }
            if self.emitted >= self.strike_at {
                if let Some(kind) = self.strikes.pop_front() {
                    match self.strike(kind, &mut out) {
                        Strike::Continue => continue,
                        Strike::End => {
                            self.done = true;
                            return (out, false);
                        }
                        Strike::Cut => return (out, true),
                    }
                }
            }
            match self.next_event() {
                Some(e) => {
                    let _ = serde_json::to_writer(&mut out, &e);
                    out.push(b'\n');
                    self.emitted += 1;
                }
                None if self.strikes.iter().any(adds_lines) => {
                    // the body ended before its middle: the added lines come now
                    self.strikes.retain(adds_lines);
                    self.strike_at = 0;
                }
                None => {
                    self.done = true;
                    break;
                }
            }
        }
        (out, false)
    }

    /// Apply one fault at the strike line, writing what it adds to `out`.
    fn strike(&mut self, kind: FaultKind, out: &mut Vec<u8>) -> Strike {
        match kind {
            FaultKind::TerminatedEarly => {
                out.extend_from_slice(b"terminated early\n");
                return Strike::End;
            }
            FaultKind::Truncate => return Strike::Cut,
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
            }
            FaultKind::BadLines => out.extend_from_slice(&bad_lines(self.last_time)),
            FaultKind::HugeLine { mb } => self.long_line = Some(LongLine::garbage(mb)),
            FaultKind::HugeValue { mb } => {
                self.long_line = Some(LongLine::event_with_blob(mb, self.last_time))
            }
            _ => {}
        }
        Strike::Continue
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain chunks of one day's export (20 events) with `faults`, keeping `events` only.
    fn chunks(faults: &[FaultKind], events: Option<&[&str]>) -> Vec<Vec<u8>> {
        let sim = MixpanelSim::new(MixpanelConfig {
            events_per_day: 20,
            ..Default::default()
        });
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).expect("date");
        let q = Query {
            from: day,
            to: day,
            events: events.map(|e| e.iter().map(|s| s.to_string()).collect()),
            since: None,
        };
        let mut stream = EventStream::new(&sim, q, faults, false);
        let mut out = Vec::new();
        while !stream.done {
            let (chunk, cut) = stream.plain_chunk();
            assert!(!cut);
            out.push(chunk);
        }
        out
    }

    fn lines(chunks: &[Vec<u8>]) -> Vec<Vec<u8>> {
        chunks
            .concat()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    #[test]
    fn huge_lines_are_produced_a_chunk_at_a_time() {
        for fault in [
            FaultKind::HugeLine { mb: 2 },
            FaultKind::HugeValue { mb: 2 },
        ] {
            let chunks = chunks(&[fault], None);
            assert!(chunks.len() > 30, "{fault:?}: {} chunks", chunks.len());
            // a chunk may finish the event or line it started, never much more
            assert!(chunks.iter().all(|c| c.len() < CHUNK + 4 * 1024));
            let lines = lines(&chunks);
            let long: Vec<&Vec<u8>> = lines
                .iter()
                .filter(|l| l.len() >= 2 * 1024 * 1024)
                .collect();
            assert_eq!(long.len(), 1, "{fault:?}");
            let parsed = serde_json::from_slice::<Value>(long[0]);
            assert_eq!(parsed.is_ok(), matches!(fault, FaultKind::HugeValue { .. }));
        }
    }

    #[test]
    fn a_body_shorter_than_its_middle_still_gets_the_added_lines_at_its_end() {
        let clean = lines(&chunks(&[], Some(&["Sign in"])));
        let faulted = lines(&chunks(&[FaultKind::BadLines], Some(&["Sign in"])));
        assert_eq!(faulted.len(), clean.len() + 6);
        assert_eq!(&faulted[..clean.len()], &clean[..]);
        assert_eq!(
            faulted.last().map(Vec::as_slice),
            Some(&b"this is not json"[..])
        );
        let nothing = lines(&chunks(&[FaultKind::BadLines], Some(&["No such event"])));
        assert_eq!(nothing.len(), 6);
    }
}
