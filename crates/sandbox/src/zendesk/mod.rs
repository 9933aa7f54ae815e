//! Zendesk Support: `GET /api/v2/search/export(.json)` as `api-contracts.md` §3 describes it.

mod data;
mod query;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::faults::{echoed_headers, FaultKind, MEGABYTE};
use crate::limiter::{QuotaSpec, Window};
use crate::Shared;

const VENDOR: &str = "zendesk";
const ROUTE: &str = "/api/v2/search/export";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportOrder {
    /// Oldest first, as `api-contracts.md` §3.7 describes.
    #[default]
    Ascending,
    /// Newest first, as the seed's cursor (`"desc": true`) suggests the real API may do.
    Descending,
}

#[derive(Debug, Clone)]
pub struct ZendeskConfig {
    pub users: u64,
    pub seed: u64,
    pub order: ExportOrder,
    pub cursor_ttl: Duration,
    /// Replaces the default quotas (account 700/min, search export 100/min) when set.
    pub quota: Option<QuotaSpec>,
}

impl Default for ZendeskConfig {
    fn default() -> Self {
        Self {
            users: 2_500,
            seed: 42,
            order: ExportOrder::Ascending,
            cursor_ttl: Duration::from_secs(3600),
            quota: None,
        }
    }
}

/// A user's JSON and the `updated_at` it was rendered for.
type Rendered = (i64, Arc<str>);

pub struct ZendeskSim {
    config: ZendeskConfig,
    users: RwLock<Vec<data::User>>,
    /// Each user's JSON as last rendered, with the `updated` and host it was rendered for: pages
    /// are assembled from these, so the simulator is never the bottleneck of a benchmark.
    rendered: std::sync::Mutex<Vec<Option<Rendered>>>,
    rendered_host: std::sync::Mutex<String>,
    /// The account-wide window first, then the endpoint's own (absent with a `--quota` override).
    windows: Vec<Window>,
}

impl ZendeskSim {
    pub fn new(config: ZendeskConfig) -> Self {
        let windows = match &config.quota {
            Some(q) => vec![Window::new(q.clone())],
            None => vec![
                Window::new(QuotaSpec::new("account", 700, 60)),
                Window::new(QuotaSpec::new("search_export", 100, 60)),
            ],
        };
        Self {
            users: RwLock::new(data::generate(config.users, config.seed)),
            rendered: std::sync::Mutex::new(vec![None; config.users as usize]),
            rendered_host: std::sync::Mutex::new(String::new()),
            config,
            windows,
        }
    }

    pub fn quota_specs(&self) -> Vec<QuotaSpec> {
        self.windows.iter().map(|w| w.spec.clone()).collect()
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v2/search/export", get(export))
        .route("/api/v2/search/export.json", get(export))
        .route("/_sandbox/zendesk/touch", post(touch))
        .route("/_sandbox/zendesk/users", get(all_users))
}

/// The paging position a cursor carries. The real cursor is opaque base64 JSON too.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    /// query and type the export was started with
    q: String,
    t: String,
    /// sort values of the last record served: created_at, id
    c: i64,
    i: u64,
    /// issued at (epoch seconds)
    iat: i64,
    /// records exported so far
    n: u64,
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn error(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    if let Some(token) = value.strip_prefix("Bearer ") {
        return !token.trim().is_empty();
    }
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    // API-token form only: `{email}/token:{token}`
    match text.split_once(':') {
        Some((user, token)) => match user.strip_suffix("/token") {
            Some(email) => email.contains('@') && !token.is_empty(),
            None => false,
        },
        None => false,
    }
}

async fn export(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let response = serve_export(&shared, &headers, raw.as_deref().unwrap_or("")).await;
    shared
        .stats
        .record(VENDOR, ROUTE, response.status().as_u16());
    response
}

async fn serve_export(shared: &Shared, headers: &HeaderMap, raw_query: &str) -> Response {
    if !authorized(headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            json!({"error": "Couldn't authenticate you"}),
        );
    }
    let faults = shared.faults.next(VENDOR);
    for f in &faults {
        if let FaultKind::Slow { ms } = f {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
        }
    }
    for f in &faults {
        match f {
            FaultKind::TooManyRequests | FaultKind::TooManyRequestsZeroWait => {
                let wait = if *f == FaultKind::TooManyRequests {
                    "1"
                } else {
                    "0"
                };
                let mut r = rate_limited_body();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static(wait));
                return r;
            }
            FaultKind::Internal => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "InternalError", "description": "Something went wrong"}),
                )
            }
            FaultKind::Unauthorized => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": "Couldn't authenticate you"}),
                )
            }
            FaultKind::EchoAuth => {
                // a debugging gateway that tells all: the credentials come back in the body
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "InternalError", "description": "upstream failed",
                           "request": {"headers": echoed_headers(headers)}}),
                );
            }
            FaultKind::Unavailable => {
                let mut r = error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "ServiceUnavailable", "description": "Try again later"}),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
            _ => {}
        }
    }

    let sim = &shared.zendesk;
    let now = Instant::now();
    let verdicts: Vec<_> = sim.windows.iter().map(|w| w.check(now)).collect();
    if let Some(v) = verdicts.iter().find(|v| !v.allowed) {
        let mut r = rate_limited_body();
        let h = r.headers_mut();
        h.insert(header::RETRY_AFTER, HeaderValue::from(v.reset_s));
        add_limit_headers(h, sim, &verdicts, false);
        return r;
    }
    for w in &sim.windows {
        w.accept(now);
    }

    let mut r = match page(sim, headers, raw_query, PageFaults::from_kinds(&faults)) {
        Ok(body) => apply_body_faults(body, &faults),
        Err(r) => r.into_response(),
    };
    add_limit_headers(r.headers_mut(), sim, &verdicts, true);
    r
}

fn rate_limited_body() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"error": "APIRateLimitExceeded",
               "description": "Number of allowed search export API requests per minute exceeded"}),
    )
}

fn add_limit_headers(
    h: &mut HeaderMap,
    sim: &ZendeskSim,
    verdicts: &[crate::limiter::Verdict],
    counted: bool,
) {
    let used = u32::from(counted);
    let (account, endpoint) = match (sim.windows.first(), sim.windows.get(1)) {
        (Some(a), Some(e)) => ((a, &verdicts[0]), (e, &verdicts[1])),
        (Some(a), None) => ((a, &verdicts[0]), (a, &verdicts[0])),
        _ => return,
    };
    h.insert("x-rate-limit", HeaderValue::from(account.0.spec.limit));
    h.insert(
        "x-rate-limit-remaining",
        HeaderValue::from(account.1.remaining.saturating_sub(used)),
    );
    h.insert("ratelimit-limit", HeaderValue::from(endpoint.0.spec.limit));
    h.insert(
        "ratelimit-remaining",
        HeaderValue::from(endpoint.1.remaining.saturating_sub(used)),
    );
    h.insert(
        "ratelimit-reset",
        HeaderValue::from(endpoint.1.reset_s.max(1)),
    );
}

/// A 400 with Zendesk's `{error, description}` body.
struct BadRequest {
    error: &'static str,
    description: String,
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        error(
            StatusCode::BAD_REQUEST,
            json!({"error": self.error, "description": self.description}),
        )
    }
}

fn bad_request(error: &'static str, description: &str) -> BadRequest {
    BadRequest {
        error,
        description: description.to_string(),
    }
}

/// What the faults in force do to a page (the status faults replace it instead).
#[derive(Debug, Clone, Copy, Default)]
struct PageFaults {
    /// `expire-cursor`: the cursor handed out is already expired.
    expire: bool,
    /// `misfit`: the first record has a value of the wrong type.
    misfit: bool,
    /// `repeat-cursor`: the cursor handed out is the one the request sent.
    repeat_cursor: bool,
    /// `replay`: the first page's records again, behind a fresh cursor.
    replay: bool,
    /// `huge-value=MB`: MiB of the `notes` string the first record carries.
    huge_value: Option<u64>,
}

impl PageFaults {
    fn from_kinds(faults: &[FaultKind]) -> Self {
        let mut p = Self::default();
        for f in faults {
            match f {
                FaultKind::ExpireCursor => p.expire = true,
                FaultKind::Misfit => p.misfit = true,
                FaultKind::RepeatCursor => p.repeat_cursor = true,
                FaultKind::Replay => p.replay = true,
                FaultKind::HugeValue { mb } => p.huge_value = Some(*mb),
                _ => {}
            }
        }
        p
    }
}

/// A validated export request.
struct PageRequest {
    query: String,
    filter_type: String,
    terms: Vec<query::Term>,
    size: usize,
    /// `page[after]` exactly as sent (`repeat-cursor` hands it back), and what it decodes to.
    after: Option<(String, Cursor)>,
}

impl PageRequest {
    fn cursor(&self) -> Option<&Cursor> {
        self.after.as_ref().map(|(_, c)| c)
    }
}

fn parse_request(sim: &ZendeskSim, raw_query: &str) -> Result<PageRequest, BadRequest> {
    let mut query = None;
    let mut filter_type = None;
    let mut size = None;
    let mut after = None;
    for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        match k.as_ref() {
            "query" => query = Some(v.into_owned()),
            "filter[type]" => filter_type = Some(v.into_owned()),
            "page[size]" => size = Some(v.into_owned()),
            "page[after]" => after = Some(v.into_owned()),
            _ => {}
        }
    }
    let size: usize = match size {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(bad_request(
                    "InvalidPaginationParameter",
                    "page[size] must be an integer from 1 to 1000",
                ))
            }
        },
    };
    let after = match after {
        None => None,
        Some(text) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&text)
                .ok()
                .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok());
            match decoded {
                None => {
                    return Err(bad_request(
                        "InvalidPaginationParameter",
                        "page[after] is not a valid cursor",
                    ))
                }
                Some(c) if now_s() - c.iat > sim.config.cursor_ttl.as_secs() as i64 => {
                    return Err(bad_request("InvalidPaginationParameter", "cursor expired"))
                }
                Some(c) => Some((text, c)),
            }
        }
    };
    let cursor = after.as_ref().map(|(_, c)| c);
    let query = match (query, cursor) {
        (Some(q), Some(c)) if q != c.q => {
            return Err(bad_request(
                "InvalidPaginationParameter",
                "the cursor belongs to another query",
            ))
        }
        (Some(q), _) => q,
        (None, Some(c)) => c.q.clone(),
        (None, None) => return Err(bad_request("InvalidQuery", "query is required")),
    };
    let filter_type = match (filter_type, cursor) {
        (Some(t), _) => t,
        (None, Some(c)) => c.t.clone(),
        (None, None) => {
            return Err(bad_request(
                "InvalidFilter",
                "filter[type] is required: one of ticket, user, organization, group",
            ))
        }
    };
    if !["ticket", "user", "organization", "group"].contains(&filter_type.as_str()) {
        return Err(bad_request(
            "InvalidFilter",
            "filter[type] must be one of ticket, user, organization, group",
        ));
    }
    let terms = query::parse(&query).map_err(|e| bad_request("InvalidQuery", &e))?;
    Ok(PageRequest {
        query,
        filter_type,
        terms,
        size,
        after,
    })
}

/// The sort key (created_at, id) records are served in.
fn key(u: &data::User) -> (i64, u64) {
    (u.created, u.id)
}

/// A position before every record, for the export's order: a cursor carrying it leads to the
/// first page (what `repeat-cursor` hands out on a first page).
fn start_position(descending: bool) -> (i64, u64) {
    if descending {
        (i64::MAX, u64::MAX)
    } else {
        (i64::MIN, 0)
    }
}

/// Up to `size` users of the request after `position` (the sort key of the last record served),
/// and whether more follow.
fn select<'a>(
    users: &'a [data::User],
    req: &PageRequest,
    position: (i64, u64),
    descending: bool,
) -> (Vec<&'a data::User>, bool) {
    // users are stored in (created, id) order; find where the position leaves off
    let candidates: Box<dyn Iterator<Item = &data::User>> = if req.filter_type != "user" {
        Box::new(std::iter::empty())
    } else if descending {
        let end = users.partition_point(|u| key(u) < position);
        Box::new(users[..end].iter().rev())
    } else {
        let start = users.partition_point(|u| key(u) <= position);
        Box::new(users[start..].iter())
    };
    let now = now_s();
    let mut selected: Vec<&data::User> = Vec::with_capacity(req.size + 1);
    for u in candidates
        .filter(|u| u.indexed_from <= now && query::matches(&req.terms, u.created, u.updated))
    {
        selected.push(u);
        if selected.len() > req.size {
            break;
        }
    }
    let has_more = selected.len() > req.size;
    selected.truncate(req.size);
    (selected, has_more)
}

/// Each user's JSON, from the cache when it is current. The first is rendered afresh for the
/// faults that change it: `misfit` spoils a value, `huge-value` drops `notes` for [`assemble`] to
/// write (the key once, as users carry `notes` already).
fn render(
    sim: &ZendeskSim,
    selected: &[&data::User],
    base: &str,
    faults: PageFaults,
) -> Vec<Arc<str>> {
    let mut cache = sim.rendered.lock().unwrap_or_else(|p| p.into_inner());
    let mut host = sim.rendered_host.lock().unwrap_or_else(|p| p.into_inner());
    if *host != base {
        cache.iter_mut().for_each(|c| *c = None);
        *host = base.to_string();
    }
    selected
        .iter()
        .enumerate()
        .map(|(i, u)| {
            if i == 0 && (faults.misfit || faults.huge_value.is_some()) {
                let mut v = data::to_json(u, sim.config.seed, base);
                if let Value::Object(o) = &mut v {
                    if faults.misfit {
                        o.insert("locale_id".into(), json!("en"));
                    }
                    if faults.huge_value.is_some() {
                        o.remove("notes");
                    }
                }
                return Arc::from(v.to_string());
            }
            match cache.get_mut(u.index as usize) {
                Some(Some((updated, text))) if *updated == u.updated => text.clone(),
                Some(slot) => {
                    let text: Arc<str> =
                        Arc::from(data::to_json(u, sim.config.seed, base).to_string());
                    *slot = Some((u.updated, text.clone()));
                    text
                }
                None => Arc::from(data::to_json(u, sim.config.seed, base).to_string()),
            }
        })
        .collect()
}

fn encode_cursor(c: &Cursor) -> String {
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(c).unwrap_or_default())
}

/// `links.next`: the request's own parameters with `page[after]` set to `token`.
fn next_link(base: &str, req: &PageRequest, token: &str) -> String {
    let next: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("filter[type]", &req.filter_type)
        .append_pair("page[after]", token)
        .append_pair("page[size]", &req.size.to_string())
        .append_pair("query", &req.query)
        .finish();
    format!("{base}/api/v2/search/export.json?{next}")
}

fn page(
    sim: &ZendeskSim,
    headers: &HeaderMap,
    raw_query: &str,
    faults: PageFaults,
) -> Result<Vec<u8>, BadRequest> {
    let req = parse_request(sim, raw_query)?;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let base = format!("http://{host}");
    let users = sim.users.read().unwrap_or_else(|p| p.into_inner());
    let descending = sim.config.order == ExportOrder::Descending;
    let start = start_position(descending);
    let position = req.cursor().map_or(start, |c| (c.c, c.i));
    // the page the request asked for, which also says where the next cursor points
    let (asked, asked_more) = select(&users, &req, position, descending);
    // `replay` serves the first page's records whatever the request asked for
    let served = if faults.replay {
        select(&users, &req, start, descending).0
    } else {
        asked.clone()
    };
    let has_more = asked_more || faults.repeat_cursor || faults.replay;
    let results = render(sim, &served, &base, faults);
    // records exported so far; a replayed page counts at least one, so its cursor always differs
    let exported =
        req.cursor().map_or(0, |c| c.n) + (results.len() as u64).max(u64::from(faults.replay));
    let token = match &req.after {
        Some((sent, _)) if faults.repeat_cursor => Some(sent.clone()),
        _ if has_more => {
            let (c, i) = asked.last().map_or(position, |u| key(u));
            let position = if faults.repeat_cursor { start } else { (c, i) };
            Some(encode_cursor(&Cursor {
                q: req.query.clone(),
                t: req.filter_type.clone(),
                c: position.0,
                i: position.1,
                iat: if faults.expire { 0 } else { now_s() },
                n: if faults.repeat_cursor { 0 } else { exported },
            }))
        }
        _ => None,
    };
    let (after_cursor, next) = match &token {
        Some(t) => (json!(t), json!(next_link(&base, &req, t))),
        None => (Value::Null, Value::Null),
    };
    let tail = json!({
        "facets": null,
        "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": null},
        "links": {"prev": null, "next": next},
    })
    .to_string();
    Ok(assemble(&results, &tail, faults.huge_value))
}

/// The page's JSON from the rendered records and the envelope's `tail` (an object whose members
/// follow `results`). `huge_mb` gives the first record (rendered without `notes`) a `notes` string
/// of that many MiB, written straight into the body so the page is never held twice.
fn assemble(results: &[Arc<str>], tail: &str, huge_mb: Option<u64>) -> Vec<u8> {
    const NOTES: &[u8] = b",\"notes\":\"";
    let huge = huge_mb.map_or(0, |mb| mb.saturating_mul(MEGABYTE) as usize);
    let capacity = results.iter().map(|r| r.len() + 1).sum::<usize>() + tail.len() + 16;
    let mut body = Vec::with_capacity(capacity + huge + NOTES.len() + 2);
    body.extend_from_slice(b"{\"results\":[");
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        match r.strip_suffix('}') {
            Some(open) if i == 0 && huge_mb.is_some() => {
                body.extend_from_slice(open.as_bytes());
                body.extend_from_slice(NOTES);
                body.resize(body.len() + huge, b'x');
                body.extend_from_slice(b"\"}");
            }
            _ => body.extend_from_slice(r.as_bytes()),
        }
    }
    body.extend_from_slice(b"],");
    // the rest of the envelope, without its opening brace
    body.extend_from_slice(tail.as_bytes().get(1..).unwrap_or_default());
    body
}

fn apply_body_faults(body: Vec<u8>, faults: &[FaultKind]) -> Response {
    let json_ct = HeaderValue::from_static("application/json; charset=utf-8");
    if faults.contains(&FaultKind::Truncate) {
        let half = body.len() / 2;
        let first = bytes::Bytes::copy_from_slice(&body[..half]);
        let stream = futures::stream::iter(vec![
            Ok::<_, std::io::Error>(first),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "sandbox cut the body",
            )),
        ]);
        let mut r = Response::new(Body::from_stream(stream));
        r.headers_mut().insert(header::CONTENT_TYPE, json_ct);
        return r;
    }
    let body = if faults.contains(&FaultKind::CutJson) {
        body[..body.len() / 2].to_vec()
    } else {
        body
    };
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(header::CONTENT_TYPE, json_ct);
    r
}

#[derive(Deserialize)]
struct TouchRequest {
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    ids: Option<Vec<u64>>,
    /// Seconds before search sees the update (the real index lags behind writes).
    #[serde(default)]
    index_lag_s: i64,
}

/// Mark users as updated now: `{"count": N}` spreads N over the data set, `{"ids": […]}` names
/// them; `index_lag_s` hides the new version from search for that long. Answers the ids touched
/// and their new `updated_at`.
async fn touch(State(shared): State<Arc<Shared>>, Json(req): Json<TouchRequest>) -> Response {
    let now = now_s();
    let mut users = shared
        .zendesk
        .users
        .write()
        .unwrap_or_else(|p| p.into_inner());
    let len = users.len() as u64;
    let indexes: Vec<usize> = match (req.ids, req.count) {
        (Some(ids), _) => users
            .iter()
            .enumerate()
            .filter(|(_, u)| ids.contains(&u.id))
            .map(|(i, _)| i)
            .collect(),
        (None, Some(n)) if n > 0 && len > 0 => {
            let n = n.min(len);
            (0..n)
                .map(|k| (k * len / n + len / (2 * n)).min(len - 1) as usize)
                .collect()
        }
        _ => Vec::new(),
    };
    let mut touched = Vec::new();
    for i in indexes {
        users[i].updated = now;
        users[i].indexed_from = now + req.index_lag_s.max(0);
        touched.push(users[i].id);
    }
    Json(json!({"ids": touched, "updated_at": data::iso(now)})).into_response()
}

/// Every user as the export would return it now, one JSON object per line: the truth that
/// tests compare a run's output with.
async fn all_users(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let base = format!("http://{host}");
    let users = shared
        .zendesk
        .users
        .read()
        .unwrap_or_else(|p| p.into_inner());
    let mut out = Vec::new();
    for u in users.iter() {
        let _ = serde_json::to_writer(
            &mut out,
            &data::to_json(u, shared.zendesk.config.seed, &base),
        );
        out.push(b'\n');
    }
    ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response()
}
