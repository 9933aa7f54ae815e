//! Pinterest Ads API v5 as `api-contracts.md` §1 describes it: OAuth refresh with rotating
//! tokens, ad accounts and their campaigns, ad groups and ads with bookmark paging, the asset
//! lists (audiences, customer lists, keywords, product group promotions, boards, sections, pins,
//! catalogs, feeds, product groups: `lists.rs`), synchronous analytics (down to pins and product
//! groups) and targeting analytics, async reports with a pre-signed download, and per-owner rate
//! limits by category.
//!
//! Every `/v5` request goes through [`api`]: bearer check, faults, rate limits, the handler, then
//! the rate-limit headers and the stats. Control routes under `/_sandbox/pinterest/` give tests
//! the truth: every entity, and the analytics rows a complete pull must equal.

mod analytics;
mod assets;
mod auth;
mod columns;
mod data;
mod entities;
mod lists;
mod metrics;
mod params;
mod quotas;
mod reports;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Timelike, Utc};
use serde_json::{json, Value};

use crate::faults::{body_faults, echoed_headers, slow, FaultKind};
use crate::limiter::QuotaSpec;
use crate::Shared;

pub use quotas::{Category, PinterestQuotas, RateLimitHeaders};

const VENDOR: &str = "pinterest";

/// How a refused refresh token is answered (both 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefreshRefusal {
    /// `{"code":2,"message":"Authentication failed. Invalid refresh token."}`, the generic
    /// authentication failure of §1.9.
    #[default]
    AuthenticationFailed,
    /// `{"code":283,"message":"The authorization grant is invalid"}`, the body reported for an
    /// invalid refresh token in pinterest/pinterest-python-sdk#114.
    InvalidGrant,
}

#[derive(Debug, Clone)]
pub struct PinterestConfig {
    /// Ads of the main account (`credentials::PINTEREST_AD_ACCOUNT_ID`); `--size pinterest=N`.
    pub ads: u64,
    pub campaigns: u64,
    pub ad_groups: u64,
    pub seed: u64,
    /// Lifetime of an access token (the initial one counts from the sandbox's start). The spec
    /// gives no number; 30 days is common in the wild. [UNVERIFIED]
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token: 60 days (continuous refresh tokens).
    pub refresh_token_ttl: Duration,
    /// Each refresh returns a new refresh token and retires the one sent.
    pub rotate_refresh_tokens: bool,
    /// Status of the 1104 "expired token" error: 401 or 400 (§1.9 lists it under 400). [UNVERIFIED]
    pub expired_token_status: u16,
    pub refresh_refusal: RefreshRefusal,
    /// `code` of the 400 for a date outside the analytics limits (`400` as the spec's example
    /// bodies, or `1`). [UNVERIFIED]
    pub date_limit_code: i64,
    /// Polls a report answers IN_PROGRESS before FINISHED.
    pub report_polls_in_progress: u32,
    /// A report's life ("valid for one hour"); then EXPIRED.
    pub report_ttl: Duration,
    /// A download link's life ("valid for five minutes").
    pub download_ttl: Duration,
    /// The published quotas per owner.
    pub quotas: PinterestQuotas,
    /// Replaces every quota (universal, categories, daily) with one window, as `--quota` does.
    pub quota: Option<QuotaSpec>,
    pub rate_limit_headers: RateLimitHeaders,
}

impl Default for PinterestConfig {
    fn default() -> Self {
        Self {
            ads: 650,
            campaigns: 12,
            ad_groups: 60,
            seed: 42,
            access_token_ttl: Duration::from_secs(3_600),
            refresh_token_ttl: Duration::from_secs(60 * 86_400),
            rotate_refresh_tokens: true,
            expired_token_status: 401,
            refresh_refusal: RefreshRefusal::AuthenticationFailed,
            date_limit_code: 400,
            report_polls_in_progress: 2,
            report_ttl: Duration::from_secs(3_600),
            download_ttl: Duration::from_secs(300),
            quotas: PinterestQuotas::default(),
            quota: None,
            rate_limit_headers: RateLimitHeaders::default(),
        }
    }
}

/// What `/_sandbox/stats` adds for Pinterest.
#[derive(Default)]
struct Counters {
    /// per category: requests, 429s
    categories: BTreeMap<&'static str, (u64, u64)>,
    refreshes: u64,
    refreshes_refused: u64,
    reports_created: u64,
    report_polls: u64,
    downloads: u64,
    downloads_refused: u64,
}

pub struct PinterestSim {
    config: PinterestConfig,
    data: data::Data,
    tokens: auth::Tokens,
    quotas: quotas::Quotas,
    reports: reports::Reports,
    counters: Mutex<Counters>,
    /// Days the sandbox's "today" is moved ahead of the real one (`POST clock`).
    offset_days: AtomicI64,
}

impl PinterestSim {
    pub fn new(config: PinterestConfig) -> Self {
        let anchor = Utc::now().date_naive();
        let data = data::generate(
            config.seed,
            anchor,
            config.campaigns,
            config.ad_groups,
            config.ads,
        );
        Self {
            data,
            tokens: auth::Tokens::new(
                config.seed,
                config.access_token_ttl,
                config.refresh_token_ttl,
                config.rotate_refresh_tokens,
            ),
            quotas: quotas::Quotas::new(config.quotas.clone(), config.quota.clone()),
            reports: reports::Reports::new(config.seed),
            counters: Mutex::new(Counters::default()),
            offset_days: AtomicI64::new(0),
            config,
        }
    }

    pub fn quota_specs(&self) -> Vec<QuotaSpec> {
        self.quotas.specs()
    }

    /// Now, as far as analytics are concerned.
    fn clock(&self) -> metrics::Clock {
        let now = Utc::now();
        metrics::Clock {
            today: now.date_naive()
                + chrono::Duration::days(self.offset_days.load(Ordering::SeqCst)),
            hour: now.hour(),
        }
    }

    fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.counters.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// The Pinterest part of `/_sandbox/stats`.
    pub fn stats_json(&self) -> Value {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let categories: serde_json::Map<String, Value> = Category::ALL
            .iter()
            .map(|cat| {
                let (requests, throttled) =
                    c.categories.get(cat.name()).copied().unwrap_or_default();
                (
                    cat.name().to_string(),
                    json!({"requests": requests, "429": throttled}),
                )
            })
            .collect();
        json!({
            "categories": categories,
            "refreshes": c.refreshes,
            "refreshes_refused": c.refreshes_refused,
            "reports_created": c.reports_created,
            "report_polls": c.report_polls,
            "downloads": c.downloads,
            "downloads_refused": c.downloads_refused,
            "today": self.clock().today.to_string(),
        })
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v5/oauth/token", post(token))
        .route("/v5/ad_accounts", get(entities::list_accounts))
        .route(
            "/v5/ad_accounts/{ad_account_id}",
            get(entities::get_account),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/campaigns",
            get(entities::campaigns),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ad_groups",
            get(entities::ad_groups),
        )
        .route("/v5/ad_accounts/{ad_account_id}/ads", get(entities::ads))
        .route(
            "/v5/ad_accounts/{ad_account_id}/analytics",
            get(analytics::account_analytics),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/campaigns/analytics",
            get(analytics::campaigns),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ad_groups/analytics",
            get(analytics::ad_groups),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ads/analytics",
            get(analytics::ads),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/targeting_analytics",
            get(analytics::account_targeting),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/campaigns/targeting_analytics",
            get(analytics::campaigns_targeting),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ad_groups/targeting_analytics",
            get(analytics::ad_groups_targeting),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/ads/targeting_analytics",
            get(analytics::ads_targeting),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/audiences",
            get(lists::audiences),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/customer_lists",
            get(lists::customer_lists),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/keywords",
            get(lists::keywords),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/product_group_promotions",
            get(lists::product_group_promotions),
        )
        .route("/v5/boards", get(lists::boards))
        .route("/v5/boards/{board_id}/sections", get(lists::board_sections))
        .route("/v5/boards/{board_id}/pins", get(lists::board_pins))
        .route(
            "/v5/boards/{board_id}/sections/{section_id}/pins",
            get(lists::section_pins),
        )
        .route("/v5/pins", get(lists::pins))
        .route("/v5/catalogs", get(lists::catalogs))
        .route("/v5/catalogs/feeds", get(lists::feeds))
        .route("/v5/catalogs/product_groups", get(lists::product_groups))
        .route(
            "/v5/ad_accounts/{ad_account_id}/pins/analytics",
            get(analytics::pins),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/product_groups/analytics",
            get(analytics::product_groups),
        )
        .route(
            "/v5/ad_accounts/{ad_account_id}/reports",
            post(reports::create).get(reports::poll),
        )
        .route(
            "/_sandbox/pinterest/download/{token}",
            get(reports::download),
        )
        .route("/_sandbox/pinterest/entities", get(entities::truth))
        .route("/_sandbox/pinterest/analytics", get(analytics::truth))
        .route("/_sandbox/pinterest/clock", post(move_clock))
}

/// The API's error body: `{"code": …, "message": …}`.
pub(crate) fn error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// 400 code 1: a parameter the API refuses.
pub(crate) fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, 1, message)
}

/// An error answer, small enough to travel in a `Result`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: i64,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 code 1.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 1, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, self.code, &self.message)
    }
}

fn authentication_failed() -> Response {
    error(StatusCode::UNAUTHORIZED, 2, "Authentication failed.")
}

const RATE_LIMITED: &str = "This request exceeded a rate limit. This can happen if the client exceeds one of the published rate limits within a short time window.";

fn rate_limited() -> Response {
    error(StatusCode::TOO_MANY_REQUESTS, 8, RATE_LIMITED)
}

/// 64-bit FNV-1a, finished with SplitMix: bookmark fingerprints, signatures, stable choices.
pub(crate) fn hash(key: u64, text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ key;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    crate::rng::Rng::new(h).next_u64()
}

/// `http://HOST` of the request, for URLs the sandbox hands out.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// What a handler gets: the simulator, the faults of this request and the host it came to.
pub(crate) struct Ctx<'a> {
    pub sim: &'a PinterestSim,
    pub faults: Vec<FaultKind>,
    pub base: String,
}

impl Ctx<'_> {
    pub fn has(&self, f: FaultKind) -> bool {
        self.faults.contains(&f)
    }
}

/// The response a status fault stands for, if any of `faults` is one.
fn fault_response(
    sim: &PinterestSim,
    faults: &[FaultKind],
    category: Category,
    headers: &HeaderMap,
) -> Option<Response> {
    let limit = sim.quotas.category_limit(category);
    let throttled = |reset: u64| {
        let mut r = rate_limited();
        sim.config
            .rate_limit_headers
            .apply(r.headers_mut(), limit, 0, reset);
        r
    };
    for f in faults {
        let r = match f {
            FaultKind::TooManyRequests => throttled(1),
            FaultKind::TooManyRequestsZeroWait => throttled(0),
            FaultKind::DailyQuota => {
                let mut r = throttled(67_150);
                r.headers_mut()
                    .insert("x-envoy-ratelimited", HeaderValue::from_static("true"));
                r
            }
            FaultKind::Internal => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                0,
                "Internal server error.",
            ),
            FaultKind::Unavailable => {
                let mut r = error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    0,
                    "Service unavailable. Please try again later.",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            FaultKind::Unauthorized => authentication_failed(),
            FaultKind::RetryAfter { secs } => invalid(&format!(
                "The request could not be completed at this time. Retry after {secs} seconds"
            )),
            FaultKind::Code12 => error(
                StatusCode::BAD_REQUEST,
                12,
                "Something went wrong on our end. Sorry about that.",
            ),
            FaultKind::EchoAuth => {
                let echoed = echoed_headers(headers);
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({
                        "code": 0,
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

/// Serve one `/v5` request of `category` at `route`: bearer check, faults, rate limits,
/// `handler`, body faults, headers, stats.
pub(crate) async fn api(
    shared: &Shared,
    route: &'static str,
    category: Category,
    headers: &HeaderMap,
    handler: impl FnOnce(&Ctx<'_>) -> Response,
) -> Response {
    let sim = &shared.pinterest;
    let response = serve(shared, category, headers, handler).await;
    let status = response.status().as_u16();
    shared.stats.record(VENDOR, route, status);
    sim.count(|c| {
        let e = c.categories.entry(category.name()).or_default();
        e.0 += 1;
        e.1 += u64::from(status == 429);
    });
    response
}

async fn serve(
    shared: &Shared,
    category: Category,
    headers: &HeaderMap,
    handler: impl FnOnce(&Ctx<'_>) -> Response,
) -> Response {
    let sim = &shared.pinterest;
    let Some(token) = auth::bearer(headers) else {
        return authentication_failed();
    };
    if sim.tokens.check(token) == auth::Bearer::Unknown {
        return authentication_failed();
    }
    let faults = shared.faults.next(VENDOR);
    slow(&faults).await;
    if let Some(r) = fault_response(sim, &faults, category, headers) {
        return r;
    }
    if faults.contains(&FaultKind::ExpireToken) {
        sim.tokens.expire(token);
    }
    let owner = match sim.tokens.check(token) {
        auth::Bearer::Valid(owner) => owner,
        auth::Bearer::Expired(_) => {
            let status = StatusCode::from_u16(sim.config.expired_token_status)
                .unwrap_or(StatusCode::UNAUTHORIZED);
            return error(
                status,
                1104,
                "The token you provided is not valid or has expired.",
            );
        }
        auth::Bearer::Unknown => return authentication_failed(),
    };
    let admission = sim.quotas.admit(owner, category);
    let limits = &sim.config.rate_limit_headers;
    if !admission.allowed {
        let mut r = rate_limited();
        limits.apply(r.headers_mut(), admission.limit, 0, admission.reset_s);
        if admission.daily {
            r.headers_mut()
                .insert("x-envoy-ratelimited", HeaderValue::from_static("true"));
        }
        return r;
    }
    let ctx = Ctx {
        sim,
        faults,
        base: base_url(headers),
    };
    let mut r = handler(&ctx);
    if r.status() == StatusCode::OK {
        r = body_faults(r, &ctx.faults).await;
    }
    limits.apply(
        r.headers_mut(),
        admission.limit,
        admission.remaining,
        admission.reset_s,
    );
    r
}

/// `POST /v5/oauth/token`: HTTP Basic client credentials, a form body.
async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let sim = &shared.pinterest;
    let response = serve_token(&shared, &headers, &body).await;
    let status = response.status().as_u16();
    shared.stats.record(VENDOR, "/v5/oauth/token", status);
    sim.count(|c| {
        let e = c.categories.entry(Category::OrgRead.name()).or_default();
        e.0 += 1;
        e.1 += u64::from(status == 429);
        if status == 200 {
            c.refreshes += 1;
        } else if status == 401 {
            c.refreshes_refused += 1;
        }
    });
    response
}

async fn serve_token(shared: &Shared, headers: &HeaderMap, body: &str) -> Response {
    let sim = &shared.pinterest;
    if !auth::client_authorized(headers) {
        return authentication_failed();
    }
    let faults = shared.faults.next(VENDOR);
    slow(&faults).await;
    if let Some(r) = fault_response(sim, &faults, Category::OrgRead, headers) {
        return r;
    }
    // the OpenAPI puts the token endpoint in org_read; the client's user is the owner
    let admission = sim.quotas.admit(data::USER_ID, Category::OrgRead);
    let limits = &sim.config.rate_limit_headers;
    if !admission.allowed {
        let mut r = rate_limited();
        limits.apply(r.headers_mut(), admission.limit, 0, admission.reset_s);
        return r;
    }
    let mut r = match sim.tokens.grant(body) {
        Ok(v) => Json(v).into_response(),
        Err(auth::Refusal::BadRequest(m)) => invalid(&m),
        Err(auth::Refusal::RefreshToken) => match sim.config.refresh_refusal {
            RefreshRefusal::AuthenticationFailed => error(
                StatusCode::UNAUTHORIZED,
                2,
                "Authentication failed. Invalid refresh token.",
            ),
            RefreshRefusal::InvalidGrant => error(
                StatusCode::UNAUTHORIZED,
                283,
                "The authorization grant is invalid",
            ),
        },
    };
    if r.status() == StatusCode::OK {
        r = body_faults(r, &faults).await;
    }
    limits.apply(
        r.headers_mut(),
        admission.limit,
        admission.remaining,
        admission.reset_s,
    );
    r
}

#[derive(serde::Deserialize)]
struct ClockRequest {
    #[serde(default)]
    advance_days: i64,
}

/// `POST /_sandbox/pinterest/clock` `{"advance_days": N}`: move "today" N days ahead (for
/// analytics, their date limits and conversion maturity; tokens and reports keep real time).
/// Answers the new today.
async fn move_clock(State(shared): State<Arc<Shared>>, Json(req): Json<ClockRequest>) -> Response {
    let sim = &shared.pinterest;
    sim.offset_days
        .fetch_add(req.advance_days, Ordering::SeqCst);
    Json(json!({"today": sim.clock().today.to_string()})).into_response()
}
