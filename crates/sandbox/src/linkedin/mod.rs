//! LinkedIn Marketing API as `api-contracts.md` §2 describes it: OAuth refresh (the refresh token
//! does not rotate), versioned `/rest` routes (`LinkedIn-Version`, sunset → 426), Rest.li 2.0 and
//! 1.0 query decoding (`restli.rs`), `adAnalytics` with its finders, pivots, 20-field limit,
//! silent element cap, query tunneling, daily and data-volume throttles (`analytics.rs`), and the
//! cursor-paged entity lists (`entities.rs`).
//!
//! Every `/rest` request goes through [`api`]: bearer check, faults, version, URL length, the
//! handler, body faults, stats. Control routes under `/_sandbox/linkedin/` give tests the truth.

mod analytics;
mod data;
mod entities;
mod metrics;
pub(crate) mod restli;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::credentials;
use crate::faults::{body_faults, echoed_headers, slow, FaultKind};
use crate::limiter::QuotaSpec;
use crate::Shared;

const VENDOR: &str = "linkedin";
const SCOPE: &str = "r_ads,r_ads_reporting";
/// The refresh token lives 12 months from the original authorization (the sandbox's start).
const REFRESH_TTL: Duration = Duration::from_secs(365 * 86_400);

#[derive(Debug, Clone)]
pub struct LinkedInConfig {
    /// Ad accounts; the first two are `credentials::LINKEDIN_ACCOUNT_IDS`.
    pub accounts: usize,
    pub campaign_groups_per_account: usize,
    pub campaigns_per_group: usize,
    pub creatives_per_campaign: usize,
    pub seed: u64,
    /// `/rest/adAnalytics` answers at most this many elements, dropping the rest silently.
    pub elements_cap: usize,
    /// Say the uncut count in `paging.total` (the contract allows a server either way; by
    /// default the cut is silent).
    pub expose_total: bool,
    /// Request URLs (path and query as received) longer than this answer 414.
    pub max_url_bytes: usize,
    /// Lifetime of an access token (the initial one counts from the sandbox's start). LinkedIn's
    /// is 60 days; an hour makes refreshes happen in tests.
    pub access_token_ttl: Duration,
    /// Requests a day (UTC) to `/rest/adAnalytics` for the app; `None`: unlimited.
    pub app_daily_limit: Option<u64>,
    /// Requests a day (UTC) to `/rest/adAnalytics` for the member (token owner); `None`: unlimited.
    pub member_daily_limit: Option<u64>,
    /// Metric values (elements × metric fields) per rolling 5 minutes; LinkedIn's is 45 million.
    pub data_volume_limit: Option<u64>,
    /// The newest version (`YYYYMM`); `None`: the current UTC month. Versions more than 12
    /// months older are sunset (426); newer ones do not exist (400).
    pub latest_version: Option<String>,
}

impl Default for LinkedInConfig {
    fn default() -> Self {
        Self {
            accounts: 2,
            campaign_groups_per_account: 3,
            campaigns_per_group: 4,
            creatives_per_campaign: 3,
            seed: 42,
            elements_cap: 15_000,
            expose_total: false,
            max_url_bytes: 8_192,
            access_token_ttl: Duration::from_secs(3_600),
            app_daily_limit: None,
            member_daily_limit: None,
            data_volume_limit: None,
            latest_version: None,
        }
    }
}

/// What `/_sandbox/stats` adds for LinkedIn.
#[derive(Default)]
struct Counters {
    refreshes: u64,
    refreshes_refused: u64,
    truncated_responses: u64,
    tunneled: u64,
    rejected_414: u64,
    rejected_426: u64,
    daily_429: u64,
    data_volume_429: u64,
    metric_values: u64,
}

/// Day counters of `/rest/adAnalytics` (reset at 00:00 UTC).
struct Daily {
    day: NaiveDate,
    app: u64,
    member: HashMap<&'static str, u64>,
}

pub struct LinkedInSim {
    config: LinkedInConfig,
    data: data::Data,
    /// access token → expiry
    tokens: Mutex<(HashMap<String, Instant>, u64)>,
    salt: u64,
    refresh_expires: Instant,
    started: Instant,
    daily: Mutex<Daily>,
    volume: Mutex<VecDeque<(Instant, u64)>>,
    counters: Mutex<Counters>,
}

/// The member every sandbox token belongs to.
const MEMBER: &str = "urn:li:person:sbxMember01";

impl LinkedInSim {
    pub fn new(config: LinkedInConfig) -> Self {
        let anchor = Utc::now().date_naive();
        let data = data::generate(
            config.seed,
            anchor,
            config.accounts,
            config.campaign_groups_per_account,
            config.campaigns_per_group,
            config.creatives_per_campaign,
        );
        let now = Instant::now();
        let mut tokens = HashMap::new();
        tokens.insert(
            credentials::LINKEDIN_ACCESS_TOKEN.to_string(),
            now + config.access_token_ttl,
        );
        let started_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        Self {
            data,
            tokens: Mutex::new((tokens, 0)),
            salt: config.seed ^ started_ns,
            refresh_expires: now + REFRESH_TTL,
            started: now,
            daily: Mutex::new(Daily {
                day: anchor,
                app: 0,
                member: HashMap::new(),
            }),
            volume: Mutex::new(VecDeque::new()),
            counters: Mutex::new(Counters::default()),
            config,
        }
    }

    pub fn quota_specs(&self) -> Vec<QuotaSpec> {
        let spec =
            |name: &str, n: u64| QuotaSpec::new(name, n.min(u64::from(u32::MAX)) as u32, 86_400);
        let mut out = Vec::new();
        if let Some(n) = self.config.app_daily_limit {
            out.push(spec("adAnalytics_application_day", n));
        }
        if let Some(n) = self.config.member_daily_limit {
            out.push(spec("adAnalytics_member_day", n));
        }
        if let Some(n) = self.config.data_volume_limit {
            out.push(QuotaSpec::new(
                "adAnalytics_metric_values_5min",
                n.min(u64::from(u32::MAX)) as u32,
                300,
            ));
        }
        out
    }

    fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.counters.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The LinkedIn part of `/_sandbox/stats`.
    pub fn stats_json(&self) -> Value {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let d = self.daily.lock().unwrap_or_else(|p| p.into_inner());
        json!({
            "refreshes": c.refreshes,
            "refreshes_refused": c.refreshes_refused,
            "truncated_responses": c.truncated_responses,
            "tunneled": c.tunneled,
            "rejected_414": c.rejected_414,
            "rejected_426": c.rejected_426,
            "daily_429": c.daily_429,
            "data_volume_429": c.data_volume_429,
            "metric_values": c.metric_values,
            "analytics_today": {"day": d.day.to_string(), "application": d.app,
                "member": d.member.get(MEMBER).copied().unwrap_or_default()},
            "latest_version": self.latest_version(),
        })
    }

    fn latest_version(&self) -> String {
        self.config.latest_version.clone().unwrap_or_else(|| {
            let t = Utc::now();
            format!("{:04}{:02}", t.year(), t.month())
        })
    }

    fn token_state(&self, token: &str) -> Bearer {
        let g = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        match g.0.get(token) {
            None => Bearer::Unknown,
            Some(exp) if Instant::now() >= *exp => Bearer::Expired,
            Some(_) => Bearer::Valid,
        }
    }

    fn expire(&self, token: &str) {
        let mut g = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(exp) = g.0.get_mut(token) {
            *exp = Instant::now();
        }
    }

    fn mint(&self) -> String {
        let mut g = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        g.1 += 1;
        let mut rng = crate::rng::Rng::new(self.salt ^ g.1.wrapping_mul(0x2545_F491));
        let token = format!(
            "AQV{:016x}{:016x}{:06x}",
            rng.next_u64(),
            rng.next_u64(),
            g.1
        );
        g.0.insert(token.clone(), Instant::now() + self.config.access_token_ttl);
        token
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bearer {
    Unknown,
    Expired,
    Valid,
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/oauth/v2/accessToken", post(token))
        .route(
            "/rest/adAnalytics",
            get(analytics::get_analytics).post(analytics::post_analytics),
        )
        .route("/rest/adAccounts", get(entities::accounts))
        .route("/rest/adAccounts/{id}", get(entities::account))
        .route(
            "/rest/adAccounts/{id}/adCampaignGroups",
            get(entities::groups),
        )
        .route(
            "/rest/adAccounts/{id}/adCampaigns",
            get(entities::campaigns),
        )
        .route("/rest/adAccounts/{id}/creatives", get(entities::creatives))
        .route("/_sandbox/linkedin/analytics", get(analytics::truth))
        .route("/_sandbox/linkedin/entities", get(entities::truth))
}

/// LinkedIn's error envelope: `{"status", "code", "message"}` (plus `serviceErrorCode` when set).
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"status": status.as_u16(), "code": code, "message": message})),
    )
        .into_response()
}

pub(crate) fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "PARAM_INVALID", message)
}

fn service_error(status: StatusCode, service: u32, code: &str, message: &str) -> Response {
    (
        status,
        Json(
            json!({"status": status.as_u16(), "serviceErrorCode": service, "code": code,
            "message": message}),
        ),
    )
        .into_response()
}

fn revoked() -> Response {
    service_error(
        StatusCode::UNAUTHORIZED,
        65601,
        "REVOKED_ACCESS_TOKEN",
        "The token used in the request has been revoked by the user",
    )
}

fn expired() -> Response {
    service_error(
        StatusCode::UNAUTHORIZED,
        65601,
        "EXPIRED_ACCESS_TOKEN",
        "Expired access token",
    )
}

fn missing_token() -> Response {
    service_error(
        StatusCode::UNAUTHORIZED,
        65600,
        "INVALID_ACCESS_TOKEN",
        "Invalid access token",
    )
}

pub(crate) const DAY_LIMIT_MEMBER: &str =
    "Resource level throttle APPLICATION_AND_MEMBER DAY limit for calls to this resource is reached.";
pub(crate) const DAY_LIMIT_APP: &str =
    "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.";
pub(crate) const DATA_VOLUME: &str = "The data request limit has been exceeded. More than 45 million metric values were requested in a 5-minute window.";

pub(crate) fn too_many(message: &str) -> Response {
    service_error(
        StatusCode::TOO_MANY_REQUESTS,
        101,
        "TOO_MANY_REQUESTS",
        message,
    )
}

/// 64-bit FNV-1a finished with SplitMix: page-token signatures and stable choices.
pub(crate) fn hash(key: u64, text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ key;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    crate::rng::Rng::new(h).next_u64()
}

/// What a handler gets.
pub(crate) struct Ctx<'a> {
    pub sim: &'a LinkedInSim,
    pub faults: Vec<FaultKind>,
    pub headers: &'a HeaderMap,
    /// The query as the API reads it (for a tunneled POST: the body).
    pub query: String,
}

impl Ctx<'_> {
    pub fn has(&self, f: FaultKind) -> bool {
        self.faults.contains(&f)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Rest.li 2.0 when `X-Restli-Protocol-Version: 2.0.0`, else 1.0.
    pub fn protocol(&self) -> restli::Protocol {
        match self.header("x-restli-protocol-version") {
            Some(v) if v.trim() == "2.0.0" => restli::Protocol::V2,
            _ => restli::Protocol::V1,
        }
    }

    /// The decoded query; the error is the 400's message.
    pub fn params(&self) -> Result<restli::Params, String> {
        restli::parse_query(&self.query, self.protocol())
    }
}

/// `YYYYMM` → months since year 0.
fn months(version: &str) -> Option<i64> {
    if version.len() != 6 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = version[..4].parse().ok()?;
    let m: i64 = version[4..].parse().ok()?;
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
}

/// Serve one `/rest` request at `route`; `query` is what the API reads as the query string.
pub(crate) async fn api(
    shared: &Shared,
    route: &'static str,
    uri: &Uri,
    headers: &HeaderMap,
    query: String,
    handler: impl FnOnce(&Ctx<'_>) -> Response,
) -> Response {
    let sim = &shared.linkedin;
    let response = serve(shared, uri, headers, query, handler).await;
    let status = response.status().as_u16();
    shared.stats.record(VENDOR, route, status);
    sim.count(|c| {
        c.rejected_414 += u64::from(status == 414);
        c.rejected_426 += u64::from(status == 426);
    });
    response
}

async fn serve(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    query: String,
    handler: impl FnOnce(&Ctx<'_>) -> Response,
) -> Response {
    let sim = &shared.linkedin;
    let Some(token) = bearer(headers) else {
        return missing_token();
    };
    if sim.token_state(token) == Bearer::Unknown {
        return revoked();
    }
    let faults = shared.faults.next(VENDOR);
    slow(&faults).await;
    if let Some(r) = fault_response(&faults, headers) {
        return r;
    }
    if faults.contains(&FaultKind::ExpireToken) || faults.contains(&FaultKind::LinkedInExpireToken)
    {
        sim.expire(token);
    }
    match sim.token_state(token) {
        Bearer::Valid => {}
        Bearer::Expired => return expired(),
        Bearer::Unknown => return revoked(),
    }
    if let Some(r) = check_version(sim, headers) {
        return r;
    }
    let url_len = uri.path_and_query().map_or(0, |p| p.as_str().len());
    if url_len > sim.config.max_url_bytes {
        return (StatusCode::URI_TOO_LONG, "Request-URI Too Long").into_response();
    }
    let ctx = Ctx {
        sim,
        faults,
        headers,
        query,
    };
    let r = handler(&ctx);
    if r.status() == StatusCode::OK {
        body_faults(r, &ctx.faults).await
    } else {
        r
    }
}

fn check_version(sim: &LinkedInSim, headers: &HeaderMap) -> Option<Response> {
    let Some(version) = headers
        .get("linkedin-version")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
    else {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        ));
    };
    let latest = months(&sim.latest_version()).unwrap_or(i64::MAX);
    let not_active = format!("Requested version {version} is not active");
    match months(&version) {
        None => Some(error(
            StatusCode::BAD_REQUEST,
            "NONEXISTENT_VERSION",
            &not_active,
        )),
        Some(v) if v > latest => Some(error(
            StatusCode::BAD_REQUEST,
            "NONEXISTENT_VERSION",
            &not_active,
        )),
        Some(v) if latest - v > 12 => Some(error(
            StatusCode::UPGRADE_REQUIRED,
            "NONEXISTENT_VERSION",
            &not_active,
        )),
        Some(_) => None,
    }
}

/// The token of `Authorization: Bearer <token>`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty()).then_some(token)
}

/// The response a status fault stands for, if any of `faults` is one.
fn fault_response(faults: &[FaultKind], headers: &HeaderMap) -> Option<Response> {
    for f in faults {
        let r = match f {
            FaultKind::TooManyRequests | FaultKind::TooManyRequestsZeroWait => {
                let mut r = service_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    101,
                    "TOO_MANY_REQUESTS",
                    "Too many requests.",
                );
                let wait = if *f == FaultKind::TooManyRequests {
                    "1"
                } else {
                    "0"
                };
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static(wait));
                r
            }
            FaultKind::Internal => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "Internal Server Error",
            ),
            FaultKind::Unavailable => {
                let mut r = error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    "Service Unavailable",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            FaultKind::Unauthorized => revoked(),
            FaultKind::EchoAuth => {
                let echoed = echoed_headers(headers);
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({
                        "status": 500,
                        "message": format!("upstream failed; request headers: {echoed}"),
                        "headers": echoed,
                    })),
                )
                    .into_response()
            }
            _ => continue,
        };
        return Some(r);
    }
    None
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /oauth/v2/accessToken`: the refresh grant, client credentials in the form body.
async fn token(State(shared): State<Arc<Shared>>, body: String) -> Response {
    let sim = &shared.linkedin;
    let response = serve_token(sim, &body);
    let status = response.status().as_u16();
    shared.stats.record(VENDOR, "/oauth/v2/accessToken", status);
    sim.count(|c| {
        if status == 200 {
            c.refreshes += 1;
        } else {
            c.refreshes_refused += 1;
        }
    });
    response
}

fn serve_token(sim: &LinkedInSim, body: &str) -> Response {
    let mut form: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
        form.insert(k.into_owned(), v.into_owned());
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    for required in ["grant_type", "client_id", "client_secret"] {
        if field(required).is_empty() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("A required parameter \"{required}\" is missing"),
            );
        }
    }
    if field("grant_type") != "refresh_token" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!(
                "The grant type \"{}\" is not supported (the sandbox grants refresh_token)",
                field("grant_type")
            ),
        );
    }
    if field("client_id") != credentials::LINKEDIN_CLIENT_ID
        || field("client_secret") != credentials::LINKEDIN_CLIENT_SECRET
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "Client authentication failed: the client_id or client_secret is invalid",
        );
    }
    let now = Instant::now();
    if field("refresh_token") != credentials::LINKEDIN_REFRESH_TOKEN || now >= sim.refresh_expires {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "The provided authorization grant or refresh token is invalid, expired or revoked",
        );
    }
    let access = sim.mint();
    let refresh_left = REFRESH_TTL.saturating_sub(now.duration_since(sim.started));
    Json(json!({
        "access_token": access,
        "expires_in": sim.config.access_token_ttl.as_secs(),
        "refresh_token": credentials::LINKEDIN_REFRESH_TOKEN,
        "refresh_token_expires_in": refresh_left.as_secs(),
        "scope": SCOPE,
    }))
    .into_response()
}
