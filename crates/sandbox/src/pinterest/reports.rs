//! Async reports: `POST /v5/ad_accounts/{id}/reports` (a JSON body only) hands out a token,
//! `GET …/reports?token=…` answers IN_PROGRESS for a configured number of polls, then FINISHED
//! with a download `url` and `size`. The report lives an hour (then EXPIRED); the link five
//! minutes. The link points at the sandbox itself and behaves like a pre-signed S3 URL: it
//! refuses a request that also carries `Authorization`, and answers an expired or forged
//! signature with 403, in S3's XML. Both calls count against `ads_analytics`; downloads count
//! against nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::analytics::{self, Granularity, Level, Limits, Query};
use super::columns::{
    AD_SUMMARY_STATUSES, ASYNC_COLUMNS, CAMPAIGN_SUMMARY_STATUSES, REPORT_LEVELS,
    REPORT_TARGETING_TYPES,
};
use super::entities::account;
use super::metrics::{Attribution, ATTRIBUTES};
use super::params::{self, Params};
use super::quotas::Category;
use super::{api, hash, invalid, ApiError, Ctx, PinterestSim, VENDOR};
use crate::faults::FaultKind;
use crate::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Normal,
    /// `report-failed`: FAILED from the first poll
    Failed,
    /// `report-expired`: EXPIRED from the first poll
    Expired,
}

struct Report {
    account: usize,
    created: Instant,
    polls: u32,
    fate: Fate,
    query: Query,
    csv: bool,
    by_date: bool,
    /// Rendered at the first FINISHED poll.
    body: Option<Arc<Vec<u8>>>,
}

pub struct Reports {
    inner: Mutex<HashMap<String, Report>>,
    key: u64,
    issued: std::sync::atomic::AtomicU64,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Reports {
    pub fn new(seed: u64) -> Self {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        Self {
            inner: Mutex::new(HashMap::new()),
            key: seed ^ started.rotate_left(17),
            issued: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Report>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn signature(&self, token: &str, expires: i64) -> String {
        format!("{:016x}", hash(self.key, &format!("{token}|{expires}")))
    }
}

/// A string array of the body, at most `max` items (absent: empty).
fn strings(body: &Map<String, Value>, name: &str, max: usize) -> Result<Vec<String>, String> {
    let Some(v) = body.get(name) else {
        return Ok(Vec::new());
    };
    let items = v
        .as_array()
        .ok_or_else(|| format!("Parameter '{name}' must be an array"))?;
    if items.is_empty() || items.len() > max {
        return Err(format!(
            "Parameter '{name}' must have 1 to {max} items (had {})",
            items.len()
        ));
    }
    items
        .iter()
        .map(|i| {
            i.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("Parameter '{name}' must hold strings"))
        })
        .collect()
}

fn id_list(body: &Map<String, Value>, name: &str) -> Result<Vec<u64>, String> {
    strings(body, name, 500)?
        .iter()
        .map(|s| params::id(name, s))
        .collect()
}

fn text<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("Parameter '{name}' must be a string")),
    }
}

fn required<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    text(body, name)?.ok_or_else(|| format!("Missing required parameter '{name}'"))
}

fn window(body: &Map<String, Value>, name: &str, default: u32) -> Result<u32, String> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => params::window(name, Some(&v.to_string()), default),
    }
}

fn one_of<'a>(
    body: &'a Map<String, Value>,
    name: &str,
    allowed: &[&str],
    default: &'a str,
) -> Result<&'a str, String> {
    match text(body, name)? {
        None => Ok(default),
        Some(v) if allowed.contains(&v) => Ok(v),
        Some(v) => Err(format!(
            "Parameter '{name}' has an invalid value '{v}'; expected one of {}",
            allowed.join(", ")
        )),
    }
}

/// A validated report request.
struct Spec {
    query: Query,
    csv: bool,
    by_date: bool,
}

fn parse_body(sim: &PinterestSim, account: usize, body: &str) -> Result<Spec, ApiError> {
    let bad = ApiError::invalid;
    let value: Value = serde_json::from_str(body)
        .map_err(|_| bad("The request body must be a JSON object".into()))?;
    let Some(b) = value.as_object() else {
        return Err(bad("The request body must be a JSON object".into()));
    };
    let level_name = required(b, "level").map_err(bad)?;
    if !REPORT_LEVELS.contains(&level_name) {
        return Err(bad(format!(
            "Parameter 'level' has an invalid value '{level_name}'; expected one of {}",
            REPORT_LEVELS.join(", ")
        )));
    }
    let start = params::date("start_date", required(b, "start_date").map_err(bad)?).map_err(bad)?;
    let end = params::date("end_date", required(b, "end_date").map_err(bad)?).map_err(bad)?;
    let granularity = one_of(b, "granularity", &Granularity::NAMES, "").map_err(bad)?;
    let granularity = Granularity::parse(granularity)
        .ok_or_else(|| bad("Missing required parameter 'granularity'".into()))?;
    let columns = strings(b, "columns", ASYNC_COLUMNS.len()).map_err(bad)?;
    if columns.is_empty() {
        return Err(bad("Missing required parameter 'columns'".into()));
    }
    for c in &columns {
        analytics::check_column(c, ASYNC_COLUMNS).map_err(bad)?;
    }
    let defaults = Attribution::default();
    let attr = Attribution {
        windows: [
            window(b, "click_window_days", defaults.windows[0]).map_err(bad)?,
            window(b, "engagement_window_days", defaults.windows[1]).map_err(bad)?,
            window(b, "view_window_days", defaults.windows[2]).map_err(bad)?,
        ],
        at_conversion: one_of(
            b,
            "conversion_report_time",
            &["TIME_OF_AD_ACTION", "TIME_OF_CONVERSION"],
            "TIME_OF_AD_ACTION",
        )
        .map_err(bad)?
            == "TIME_OF_CONVERSION",
    };
    let attribution_types = strings(b, "attribution_types", 2).map_err(bad)?;
    params::check_enums(
        "attribution_types",
        &attribution_types,
        &["INDIVIDUAL", "HOUSEHOLD"],
        2,
    )
    .map_err(bad)?;
    let campaign_ids = id_list(b, "campaign_ids").map_err(bad)?;
    let ad_group_ids = id_list(b, "ad_group_ids").map_err(bad)?;
    let ad_ids = id_list(b, "ad_ids").map_err(bad)?;
    let product_group_ids = id_list(b, "product_group_ids").map_err(bad)?;
    id_list(b, "product_item_ids").map_err(bad)?;
    let statuses = |name: &str, allowed: &[&str]| -> Result<Vec<String>, ApiError> {
        let s = strings(b, name, 6).map_err(bad)?;
        params::check_enums(name, &s, allowed, 6).map_err(bad)?;
        Ok(s)
    };
    let campaign_statuses = statuses("campaign_statuses", CAMPAIGN_SUMMARY_STATUSES)?;
    let ad_group_statuses = statuses("ad_group_statuses", CAMPAIGN_SUMMARY_STATUSES)?;
    let ad_statuses = statuses("ad_statuses", AD_SUMMARY_STATUSES)?;
    let targeting = strings(b, "targeting_types", 5).map_err(bad)?;
    params::check_enums("targeting_types", &targeting, REPORT_TARGETING_TYPES, 5).map_err(bad)?;
    let targeting_level = level_name.ends_with("_TARGETING");
    if !targeting.is_empty() && !targeting_level {
        return Err(bad(format!(
            "Parameter 'targeting_types' requires a level ending in _TARGETING (was {level_name})"
        )));
    }
    if targeting_level && targeting.is_empty() {
        return Err(bad(format!(
            "Missing required parameter 'targeting_types' for level {level_name}"
        )));
    }
    let product_item = level_name.starts_with("PRODUCT_ITEM");
    if product_item && (!ad_ids.is_empty() || !ad_statuses.is_empty()) {
        return Err(bad(
            "Parameters 'ad_ids' and 'ad_statuses' are not allowed for level PRODUCT_ITEM".into(),
        ));
    }
    let format = one_of(b, "report_format", &["JSON", "CSV"], "JSON").map_err(bad)?;
    let sort = one_of(b, "primary_sort", &["BY_ID", "BY_DATE"], "BY_ID").map_err(bad)?;
    one_of(
        b,
        "reporting_timezone",
        &["PINTEREST_TIME_ZONE", "AD_ACCOUNT_TIME_ZONE"],
        "PINTEREST_TIME_ZONE",
    )
    .map_err(bad)?;
    let hour = granularity == Granularity::Hour;
    for name in ["start_hour", "end_hour"] {
        if let Some(v) = b.get(name) {
            if !hour {
                return Err(bad(format!(
                    "Parameter '{name}' is only allowed for hourly reports"
                )));
            }
            if v.as_u64().is_none_or(|h| h > 23) {
                return Err(bad(format!(
                    "Parameter '{name}' must be an hour from 0 to 23"
                )));
            }
        }
    }
    let limits = if hour {
        Limits { back: 8, range: 3 }
    } else if product_item {
        Limits {
            back: 92,
            range: 31,
        }
    } else {
        Limits {
            back: 914,
            range: 186,
        }
    };
    analytics::check_dates(sim, "ad account ads analytics", start, end, &limits, hour)?;
    let level = match level_name.trim_end_matches("_TARGETING") {
        "ADVERTISER" => Some(Level::Advertiser),
        "CAMPAIGN" => Some(Level::Campaign),
        "AD_GROUP" => Some(Level::AdGroup),
        "PIN_PROMOTION" => Some(Level::Ad),
        // only the plain level: PRODUCT_GROUP_TARGETING reports stay empty
        "PRODUCT_GROUP" if !targeting_level => Some(Level::ProductGroup),
        // keywords and product items: this account has none
        _ => None,
    };
    let product_group_ids = &product_group_ids;
    let entities = match level {
        None => Vec::new(),
        Some(Level::ProductGroup) => {
            analytics::all_entities(sim, account, Level::ProductGroup, product_group_ids)
        }
        Some(l) => analytics::all_entities(sim, account, l, &[])
            .into_iter()
            .filter(|e| {
                keep(
                    sim,
                    l,
                    *e,
                    &[&campaign_ids, &ad_group_ids, &ad_ids],
                    &[&campaign_statuses, &ad_group_statuses, &ad_statuses],
                )
            })
            .collect(),
    };
    Ok(Spec {
        query: Query {
            account,
            level: level.unwrap_or(Level::Advertiser),
            entities,
            start,
            end,
            columns,
            granularity,
            attr,
            targeting,
        },
        csv: format == "CSV",
        by_date: sort == "BY_DATE",
    })
}

/// Whether an entity passes the id and status filters of its own level and its parents'
/// (campaign, ad group, ad); filters of levels below it do not apply.
fn keep(
    sim: &PinterestSim,
    level: Level,
    e: usize,
    ids: &[&Vec<u64>; 3],
    statuses: &[&Vec<String>; 3],
) -> bool {
    let d = &sim.data;
    let (campaign, group, ad) = match level {
        Level::Advertiser => (None, None, None),
        Level::Campaign => (Some(&d.campaigns[e]), None, None),
        Level::AdGroup => {
            let g = &d.ad_groups[e];
            (Some(&d.campaigns[g.campaign]), Some(g), None)
        }
        Level::Ad => {
            let a = &d.ads[e];
            (
                Some(&d.campaigns[a.campaign]),
                Some(&d.ad_groups[a.ad_group]),
                Some(a),
            )
        }
        Level::Pin => (Some(&d.campaigns[d.assets.promoted_pins[e].0]), None, None),
        Level::ProductGroup => (None, None, None),
    };
    let pass =
        |list: &Vec<u64>, id: Option<u64>| list.is_empty() || id.is_none_or(|i| list.contains(&i));
    let pass_status = |list: &Vec<String>, s: Option<&str>| {
        list.is_empty() || s.is_none_or(|s| list.iter().any(|x| x == s))
    };
    pass(ids[0], campaign.map(|c| c.id))
        && pass(ids[1], group.map(|g| g.id))
        && pass(ids[2], ad.map(|a| a.id))
        && pass_status(statuses[0], campaign.map(|c| c.status.summary()))
        && pass_status(statuses[1], group.map(|g| g.status.summary()))
        && pass_status(statuses[2], ad.map(|a| a.status.ad_summary()))
}

fn create_report(ctx: &Ctx<'_>, id: &str, raw: &str, body: &str) -> Response {
    let sim = ctx.sim;
    let account = match account(sim, id) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    if !raw.is_empty() {
        return invalid(
            "This endpoint does not support URL query parameters; send the parameters as a JSON body",
        );
    }
    let spec = match parse_body(sim, account, body) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let n = sim
        .reports
        .issued
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let token = format!(
        "{:016x}{:08x}",
        hash(sim.reports.key, &format!("report|{n}")),
        n
    );
    let fate = if ctx.has(FaultKind::ReportFailed) {
        Fate::Failed
    } else if ctx.has(FaultKind::ReportExpired) {
        Fate::Expired
    } else {
        Fate::Normal
    };
    {
        let mut g = sim.reports.lock();
        let ttl = sim.config.report_ttl;
        g.retain(|_, r| r.created.elapsed() < ttl * 2);
        g.insert(
            token.clone(),
            Report {
                account,
                created: Instant::now(),
                polls: 0,
                fate,
                query: spec.query,
                csv: spec.csv,
                by_date: spec.by_date,
                body: None,
            },
        );
    }
    sim.count(|c| c.reports_created += 1);
    Json(json!({"report_status": "IN_PROGRESS", "token": token, "message": null})).into_response()
}

pub async fn create(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: String,
) -> Response {
    let raw = raw.unwrap_or_default();
    let route = "/v5/ad_accounts/{ad_account_id}/reports";
    api(&shared, route, Category::AdsAnalytics, &headers, |ctx| {
        create_report(ctx, &id, &raw, &body)
    })
    .await
}

fn csv_cell(v: Option<&Value>, col: &str) -> String {
    let s = match v {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        // CSV reports zero-fill metrics; attributes stay empty
        None if ATTRIBUTES.contains(&col) => String::new(),
        None => "0".into(),
    };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The report file: JSON keyed by entity id (or by `DATE` for `BY_DATE`), or CSV.
fn render(sim: &PinterestSim, r: &Report) -> Vec<u8> {
    let q = &r.query;
    let clock = sim.clock();
    if r.csv {
        let rows = analytics::report_rows(sim, q, clock);
        let mut head: Vec<String> = Vec::new();
        if q.granularity != Granularity::Total {
            head.push("DATE".into());
        }
        if let Some((_, Value::Object(first))) = rows.first() {
            for k in [
                "ADVERTISER_ID",
                "CAMPAIGN_ID",
                "AD_GROUP_ID",
                "PIN_PROMOTION_ID",
                "AD_ID",
                "PRODUCT_GROUP_ID",
            ] {
                if first.contains_key(k) && !q.columns.iter().any(|c| c == k) {
                    head.push(k.into());
                }
            }
        }
        if !q.targeting.is_empty() {
            head.push("TARGETING_TYPE".into());
            head.push("TARGETING_VALUE".into());
        }
        head.extend(q.columns.iter().cloned());
        let mut out = head.join(",");
        out.push('\n');
        for (_, row) in &rows {
            let line: Vec<String> = head.iter().map(|c| csv_cell(row.get(c), c)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        return out.into_bytes();
    }
    if r.by_date && q.granularity != Granularity::Total {
        let mut by_date: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
        for (_, row) in analytics::report_rows(sim, q, clock) {
            let date = row
                .get("DATE")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            by_date.entry(date).or_default().push(row);
        }
        let v: Map<String, Value> = by_date
            .into_iter()
            .map(|(d, rows)| (d, Value::Array(rows)))
            .collect();
        return serde_json::to_vec(&v).unwrap_or_default();
    }
    serde_json::to_vec(&analytics::report_json(sim, q, clock)).unwrap_or_default()
}

fn poll_report(ctx: &Ctx<'_>, id: &str, raw: &str) -> Response {
    let sim = ctx.sim;
    let account = match account(sim, id) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let p = Params::parse(raw);
    let token = match p.required("token") {
        Ok(t) => t.trim().trim_matches(|c| c == '\'' || c == '"').to_string(),
        Err(m) => return invalid(&m),
    };
    sim.count(|c| c.report_polls += 1);
    let status = |s: &str| json!({"report_status": s, "url": null, "size": null});
    let mut g = sim.reports.lock();
    let Some(r) = g.get_mut(&token).filter(|r| r.account == account) else {
        return Json(status("DOES_NOT_EXIST")).into_response();
    };
    r.polls += 1;
    if r.created.elapsed() >= sim.config.report_ttl || r.fate == Fate::Expired {
        r.body = None;
        return Json(status("EXPIRED")).into_response();
    }
    if r.fate == Fate::Failed {
        return Json(status("FAILED")).into_response();
    }
    if r.polls <= sim.config.report_polls_in_progress {
        return Json(status("IN_PROGRESS")).into_response();
    }
    let body = match &r.body {
        Some(b) => b.clone(),
        None => {
            let b = Arc::new(render(sim, r));
            r.body = Some(b.clone());
            b
        }
    };
    let expires = if ctx.has(FaultKind::ExpireLink) {
        unix_now() - 1
    } else {
        unix_now() + sim.config.download_ttl.as_secs() as i64
    };
    let url = format!(
        "{}/_sandbox/pinterest/download/{token}?expires={expires}&signature={}",
        ctx.base,
        sim.reports.signature(&token, expires)
    );
    Json(json!({"report_status": "FINISHED", "url": url, "size": body.len()})).into_response()
}

pub async fn poll(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let route = "/v5/ad_accounts/{ad_account_id}/reports";
    api(&shared, route, Category::AdsAnalytics, &headers, |ctx| {
        poll_report(ctx, &id, &raw)
    })
    .await
}

/// An S3-style XML error.
fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>SANDBOX0000000000</RequestId></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

fn serve_download(sim: &PinterestSim, token: &str, headers: &HeaderMap, raw: &str) -> Response {
    if headers.contains_key(header::AUTHORIZATION) {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        );
    }
    let p = Params::parse(raw);
    let (Some(expires), Some(signature)) = (
        p.get("expires").and_then(|e| e.parse::<i64>().ok()),
        p.get("signature"),
    ) else {
        return s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Query-string authentication requires the Signature and Expires parameters",
        );
    };
    if sim.reports.signature(token, expires) != signature {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    if unix_now() > expires {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    let g = sim.reports.lock();
    let body = g
        .get(token)
        .filter(|r| r.created.elapsed() < sim.config.report_ttl)
        .and_then(|r| r.body.clone().map(|b| (b, r.csv)));
    match body {
        Some((b, csv)) => {
            let ct = if csv { "text/csv" } else { "application/json" };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, ct)],
                b.as_ref().clone(),
            )
                .into_response()
        }
        None => s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        ),
    }
}

/// `GET /_sandbox/pinterest/download/{token}?expires=…&signature=…`: the report file.
pub async fn download(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let sim = &shared.pinterest;
    let r = serve_download(sim, &token, &headers, raw.as_deref().unwrap_or(""));
    let ok = r.status() == StatusCode::OK;
    shared.stats.record(
        VENDOR,
        "/_sandbox/pinterest/download/{token}",
        r.status().as_u16(),
    );
    sim.count(|c| {
        if ok {
            c.downloads += 1;
        } else {
            c.downloads_refused += 1;
        }
    });
    r
}
