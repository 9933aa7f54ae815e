//! The entity lists: `adAccounts` (search and get), `adCampaignGroups`, `adCampaigns` (search)
//! and `creatives` (criteria finder, `X-RestLi-Method: FINDER`), cursor-paged with `pageSize`
//! (1..1000, default 100) and `pageToken` → `metadata.nextPageToken`, absent on the last page.
//! A search without a status filter leaves out PENDING_DELETION and REMOVED entities
//! ([UNVERIFIED], contract §2.6); `search=(status:(values:List(…)))` lists exactly those.
//! A page token is base64url of `offset.signature`, the signature bound to the route and its
//! filters: a token that does not decode, or belongs to another query, is a 400.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};

use super::data::{Data, HIDDEN_BY_DEFAULT};
use super::restli::{Params, Value as RValue};
use super::{api, bad_request, error, hash, Ctx, LinkedInSim};
use crate::faults::FaultKind;
use crate::Shared;

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1_000;

fn audit(created: i64, modified: i64) -> Value {
    json!({"created": {"time": created}, "lastModified": {"time": modified}})
}

fn account_urn(d: &Data, i: usize) -> String {
    format!(
        "urn:li:sponsoredAccount:{}",
        d.accounts.get(i).map_or(0, |a| a.id)
    )
}

fn schedule(start: i64, end: Option<i64>) -> Value {
    match end {
        Some(e) => json!({"start": start, "end": e}),
        None => json!({"start": start}),
    }
}

fn render_account(d: &Data, i: usize) -> Value {
    let Some(a) = d.accounts.get(i) else {
        return Value::Null;
    };
    json!({
        "id": a.id,
        "name": a.name,
        "currency": a.currency,
        "status": a.status,
        "type": "BUSINESS",
        "reference": format!("urn:li:organization:{}", 2_414_183 + i as u64 * 17),
        "test": a.test,
        "servingStatuses": if a.status == "ACTIVE" { json!(["RUNNABLE"]) } else { json!(["ACCOUNT_STATUS_NOT_ACTIVE"]) },
        "notifiedOnCampaignOptimization": false,
        "notifiedOnCreativeApproval": false,
        "notifiedOnCreativeRejection": true,
        "notifiedOnEndOfCampaign": false,
        "notifiedOnNewFeaturesEnabled": false,
        "changeAuditStamps": audit(a.created, a.modified),
        "version": {"versionTag": "2"},
    })
}

fn render_group(d: &Data, i: usize) -> Value {
    let Some(g) = d.groups.get(i) else {
        return Value::Null;
    };
    let currency = d.accounts.get(g.account).map_or("USD", |a| a.currency);
    json!({
        "id": g.id,
        "account": account_urn(d, g.account),
        "name": g.name,
        "status": g.status,
        "test": false,
        "backfilled": false,
        "servingStatuses": if g.status == "ACTIVE" { json!(["RUNNABLE"]) } else { json!(["CAMPAIGN_GROUP_STATUS_HOLD"]) },
        "runSchedule": schedule(g.start, g.end),
        "totalBudget": {"amount": super::metrics::money(g.budget_micro), "currencyCode": currency},
        "changeAuditStamps": audit(g.created, g.modified),
        "allowedCampaignTypes": ["TEXT_AD", "SPONSORED_UPDATES", "SPONSORED_INMAILS", "DYNAMIC"],
    })
}

fn render_campaign(d: &Data, i: usize) -> Value {
    let Some(c) = d.campaigns.get(i) else {
        return Value::Null;
    };
    let currency = d.accounts.get(c.account).map_or("USD", |a| a.currency);
    json!({
        "id": c.id,
        "account": account_urn(d, c.account),
        "campaignGroup": format!("urn:li:sponsoredCampaignGroup:{}", d.groups.get(c.group).map_or(0, |g| g.id)),
        "name": c.name,
        "status": c.status,
        "type": c.kind,
        "costType": c.cost_type,
        "dailyBudget": {"amount": super::metrics::money(c.daily_budget_micro), "currencyCode": currency},
        "unitCost": {"amount": "8.5", "currencyCode": currency},
        "objectiveType": "WEBSITE_VISIT",
        "optimizationTargetType": "NONE",
        "locale": {"country": "US", "language": "en"},
        "format": if c.kind == "TEXT_AD" { "TEXT_AD" } else { "STANDARD_UPDATE" },
        "offsiteDeliveryEnabled": false,
        "audienceExpansionEnabled": false,
        "test": false,
        "servingStatuses": if c.status == "ACTIVE" { json!(["RUNNABLE"]) } else { json!(["CAMPAIGN_STATUS_NOT_ACTIVE"]) },
        "runSchedule": schedule(c.start, c.end),
        "changeAuditStamps": audit(c.created, c.modified),
        "version": {"versionTag": c.version.to_string()},
    })
}

fn render_creative(d: &Data, i: usize) -> Value {
    let Some(c) = d.creatives.get(i) else {
        return Value::Null;
    };
    json!({
        "id": format!("urn:li:sponsoredCreative:{}", c.id),
        "campaign": format!("urn:li:sponsoredCampaign:{}", d.campaigns.get(c.campaign).map_or(0, |x| x.id)),
        "account": account_urn(d, c.account),
        "intendedStatus": c.status,
        "isServing": c.serving,
        "servingHoldReasons": if c.serving { json!([]) } else { json!(["CAMPAIGN_STATUS_NOT_ACTIVE"]) },
        "isTest": false,
        "createdAt": c.created,
        "createdBy": "urn:li:person:sbxMember01",
        "lastModifiedAt": c.modified,
        "lastModifiedBy": "urn:li:person:sbxMember01",
        "content": {"reference": format!("urn:li:share:{}", c.share)},
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Accounts,
    Groups,
    Campaigns,
    Creatives,
}

impl Kind {
    fn route(self) -> &'static str {
        match self {
            Kind::Accounts => "/rest/adAccounts",
            Kind::Groups => "/rest/adAccounts/{id}/adCampaignGroups",
            Kind::Campaigns => "/rest/adAccounts/{id}/adCampaigns",
            Kind::Creatives => "/rest/adAccounts/{id}/creatives",
        }
    }

    fn render(self, d: &Data, i: usize) -> Value {
        match self {
            Kind::Accounts => render_account(d, i),
            Kind::Groups => render_group(d, i),
            Kind::Campaigns => render_campaign(d, i),
            Kind::Creatives => render_creative(d, i),
        }
    }

    /// Indexes of this kind under `account` (all accounts for `Accounts`), with their status.
    fn items(self, d: &Data, account: Option<usize>) -> Vec<(usize, &'static str)> {
        let under = |a: usize| account.is_none_or(|x| x == a);
        match self {
            Kind::Accounts => d
                .accounts
                .iter()
                .enumerate()
                .map(|(i, a)| (i, a.status))
                .collect(),
            Kind::Groups => d
                .groups
                .iter()
                .enumerate()
                .filter(|(_, g)| under(g.account))
                .map(|(i, g)| (i, g.status))
                .collect(),
            Kind::Campaigns => d
                .campaigns
                .iter()
                .enumerate()
                .filter(|(_, c)| under(c.account))
                .map(|(i, c)| (i, c.status))
                .collect(),
            Kind::Creatives => d
                .creatives
                .iter()
                .enumerate()
                .filter(|(_, c)| under(c.account))
                .map(|(i, c)| (i, c.status))
                .collect(),
        }
    }
}

/// Values of a `List(…)` of atoms.
fn atoms(name: &str, v: &RValue) -> Result<Vec<String>, String> {
    let RValue::List(items) = v else {
        return Err(format!("`{name}` must be a List(…)"));
    };
    items
        .iter()
        .map(|i| {
            i.as_atom()
                .map(str::to_string)
                .ok_or_else(|| format!("`{name}` must hold plain values"))
        })
        .collect()
}

/// The status filter of `search=(status:(values:List(…)))`, if any.
fn status_filter(p: &Params) -> Result<Option<Vec<String>>, String> {
    let Some(search) = p.get("search") else {
        return Ok(None);
    };
    let RValue::Record(fields) = search else {
        return Err("`search` must be a record, e.g. (status:(values:List(ACTIVE)))".into());
    };
    let Some(status) = fields.get("status") else {
        return Ok(None);
    };
    let values = status
        .get("values")
        .ok_or("`search.status` needs `values:List(…)`")?;
    atoms("search.status.values", values).map(Some)
}

fn page_size(p: &Params) -> Result<usize, String> {
    let Some(v) = p.get("pageSize") else {
        return Ok(DEFAULT_PAGE);
    };
    v.as_atom()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| format!("pageSize must be a number from 1 to {MAX_PAGE}"))
}

fn sign(sim: &LinkedInSim, key: &str, offset: usize) -> u64 {
    hash(sim.config.seed ^ 0x5eed_7043, &format!("{key}|{offset}"))
}

fn encode_token(sim: &LinkedInSim, key: &str, offset: usize, expired: bool) -> String {
    let sig = if expired {
        !sign(sim, key, offset)
    } else {
        sign(sim, key, offset)
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{offset}.{sig:016x}"))
}

fn decode_token(sim: &LinkedInSim, key: &str, token: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (offset, sig) = text.split_once('.')?;
    let offset: usize = offset.parse().ok()?;
    let sig = u64::from_str_radix(sig, 16).ok()?;
    (sig == sign(sim, key, offset)).then_some(offset)
}

/// One page of a list request.
fn list(ctx: &Ctx<'_>, kind: Kind, account: Option<usize>, finder: &str) -> Response {
    let sim = ctx.sim;
    let p = match ctx.params() {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    match p.get("q").and_then(RValue::as_atom) {
        Some(q) if q == finder => {}
        Some(q) => {
            return bad_request(&format!(
                "Invalid finder q={q}; this resource has q={finder}"
            ))
        }
        None => return bad_request(&format!("Parameter `q` is required (q={finder})")),
    }
    let statuses = match status_filter(&p) {
        Ok(s) => s,
        Err(e) => return bad_request(&e),
    };
    let campaigns = match (kind, p.get("campaigns")) {
        (Kind::Creatives, Some(v)) => match atoms("campaigns", v) {
            Ok(urns) => {
                let mut ids = Vec::new();
                for urn in urns {
                    match urn
                        .strip_prefix("urn:li:sponsoredCampaign:")
                        .and_then(|n| n.parse::<u64>().ok())
                    {
                        Some(id) => ids.push(id),
                        None => {
                            return bad_request(&format!(
                                "Invalid URN `{urn}` in `campaigns`: expected urn:li:sponsoredCampaign:<number>"
                            ))
                        }
                    }
                }
                Some(ids)
            }
            Err(e) => return bad_request(&e),
        },
        _ => None,
    };
    let intended = match (kind, p.get("intendedStatuses")) {
        (Kind::Creatives, Some(v)) => match atoms("intendedStatuses", v) {
            Ok(s) => Some(s),
            Err(e) => return bad_request(&e),
        },
        _ => None,
    };
    let size = match page_size(&p) {
        Ok(n) => n,
        Err(e) => return bad_request(&e),
    };
    let d = &sim.data;
    let items: Vec<usize> = kind
        .items(d, account)
        .into_iter()
        .filter(|(_, status)| match (&statuses, &intended) {
            (Some(s), _) | (None, Some(s)) => s.iter().any(|x| x == status),
            (None, None) => kind == Kind::Creatives || !HIDDEN_BY_DEFAULT.contains(status),
        })
        .filter(|(i, _)| {
            campaigns.as_ref().is_none_or(|ids| {
                d.creatives
                    .get(*i)
                    .and_then(|c| d.campaigns.get(c.campaign))
                    .is_some_and(|c| ids.contains(&c.id))
            })
        })
        .map(|(i, _)| i)
        .collect();
    let key = format!(
        "{}|{account:?}|{statuses:?}|{campaigns:?}|{intended:?}",
        kind.route()
    );
    let offset = match p.get("pageToken").and_then(RValue::as_atom) {
        None => 0,
        Some(t) => match decode_token(sim, &key, t) {
            Some(o) if o <= items.len() => o,
            _ => return bad_request("Invalid pageToken: it does not belong to this query"),
        },
    };
    if p.get("pageToken").is_some_and(|v| v.as_atom().is_none()) {
        return bad_request("pageToken must be a plain value");
    }
    let end = (offset + size).min(items.len());
    let elements: Vec<Value> = items[offset..end]
        .iter()
        .map(|i| kind.render(d, *i))
        .collect();
    let metadata = if end < items.len() {
        json!({"nextPageToken": encode_token(sim, &key, end, ctx.has(FaultKind::ExpireCursor))})
    } else {
        json!({})
    };
    Json(json!({"elements": elements, "metadata": metadata})).into_response()
}

/// The account of a path; `None` answers [`not_found`].
fn account_of(sim: &LinkedInSim, id: &str) -> Option<usize> {
    id.parse::<u64>()
        .ok()
        .and_then(|n| sim.data.account_index(n))
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("Ad account {id} does not exist or is not accessible"),
    )
}

pub async fn accounts(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    api(
        &shared,
        Kind::Accounts.route(),
        &uri,
        &headers,
        query.unwrap_or_default(),
        |ctx| list(ctx, Kind::Accounts, None, "search"),
    )
    .await
}

pub async fn account(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    api(
        &shared,
        "/rest/adAccounts/{id}",
        &uri,
        &headers,
        query.unwrap_or_default(),
        |ctx| match account_of(ctx.sim, &id) {
            Some(i) => Json(render_account(&ctx.sim.data, i)).into_response(),
            None => not_found(&id),
        },
    )
    .await
}

async fn child(
    shared: Arc<Shared>,
    kind: Kind,
    id: String,
    uri: Uri,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    api(
        &shared,
        kind.route(),
        &uri,
        &headers,
        query.unwrap_or_default(),
        |ctx| {
            let Some(account) = account_of(ctx.sim, &id) else {
                return not_found(&id);
            };
            if kind == Kind::Creatives {
                let finder = ctx
                    .header("x-restli-method")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("FINDER"));
                if !finder {
                    return bad_request(
                        "The X-RestLi-Method: FINDER header is required for q=criteria",
                    );
                }
                return list(ctx, kind, Some(account), "criteria");
            }
            list(ctx, kind, Some(account), "search")
        },
    )
    .await
}

pub async fn groups(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    child(shared, Kind::Groups, id, uri, headers, query).await
}

pub async fn campaigns(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    child(shared, Kind::Campaigns, id, uri, headers, query).await
}

pub async fn creatives(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    child(shared, Kind::Creatives, id, uri, headers, query).await
}

/// `GET /_sandbox/linkedin/entities?type=accounts|campaign_groups|campaigns|creatives[&account=ID]`:
/// every entity of the type (all statuses), rendered as the lists render it.
pub async fn truth(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let sim = &shared.linkedin;
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        args.insert(k.into_owned(), v.into_owned());
    }
    let refuse = |m: &str| (StatusCode::BAD_REQUEST, Json(json!({"error": m}))).into_response();
    let kind = match args.get("type").map(String::as_str) {
        Some("accounts") => Kind::Accounts,
        Some("campaign_groups") => Kind::Groups,
        Some("campaigns") => Kind::Campaigns,
        Some("creatives") => Kind::Creatives,
        _ => return refuse("type=accounts|campaign_groups|campaigns|creatives is required"),
    };
    let account = match args.get("account") {
        None => None,
        Some(id) => {
            let id = id.strip_prefix("urn:li:sponsoredAccount:").unwrap_or(id);
            match id
                .parse::<u64>()
                .ok()
                .and_then(|n| sim.data.account_index(n))
            {
                Some(i) => Some(i),
                None => return refuse("unknown account"),
            }
        }
    };
    let elements: Vec<Value> = kind
        .items(&sim.data, account)
        .into_iter()
        .filter(|(i, _)| kind != Kind::Accounts || account.is_none_or(|a| a == *i))
        .map(|(i, _)| kind.render(&sim.data, i))
        .collect();
    Json(json!({"elements": elements})).into_response()
}
