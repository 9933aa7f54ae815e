//! The list endpoints (`ads_read`): ad accounts, campaigns, ad groups, ads, with bookmark paging:
//! `{"items": […], "bookmark": "<opaque>" | null}`. A bookmark is base64 JSON of the last id
//! served and a fingerprint of the query; a bookmark that does not decode, or belongs to another
//! query, is a 400 (code 1). `entity_statuses` defaults to ACTIVE and PAUSED, as the API does.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::columns::ENTITY_STATUSES;
use super::params::{self, Params};
use super::quotas::Category;
use super::{api, invalid, ApiError, Ctx, PinterestSim};
use crate::faults::FaultKind;
use crate::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Accounts,
    Campaigns,
    AdGroups,
    Ads,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Accounts => "ad_accounts",
            Kind::Campaigns => "campaigns",
            Kind::AdGroups => "ad_groups",
            Kind::Ads => "ads",
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct Bookmark {
    /// fingerprint of the query the bookmark continues
    pub q: u64,
    /// last id served
    pub a: u64,
    /// `expire-cursor`: refused on use
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub x: bool,
}

pub(super) fn encode(b: &Bookmark) -> String {
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(b).unwrap_or_default())
}

pub(super) fn decode(text: &str) -> Option<Bookmark> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The account of a path: 400 for a malformed id, 404 for an unknown one.
pub(crate) fn account(sim: &PinterestSim, id: &str) -> Result<usize, ApiError> {
    params::id("ad_account_id", id).map_err(ApiError::invalid)?;
    sim.data
        .account_index(id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, 2, "AdAccount not found."))
}

/// A validated list request: which entities, in which order, from where.
struct ListRequest {
    kind: Kind,
    account: Option<usize>,
    statuses: Vec<String>,
    campaign_ids: Vec<u64>,
    ad_group_ids: Vec<u64>,
    ad_ids: Vec<u64>,
    include_shared: bool,
    descending: bool,
    page_size: usize,
    after: Option<u64>,
}

impl ListRequest {
    fn fingerprint(&self) -> u64 {
        let mut statuses = self.statuses.clone();
        statuses.sort();
        let key = format!(
            "{}|{:?}|{}|{}|{}|{:?}|{:?}|{:?}",
            self.kind.name(),
            self.account,
            statuses.join(","),
            self.include_shared,
            self.descending,
            self.campaign_ids,
            self.ad_group_ids,
            self.ad_ids
        );
        super::hash(0x424F_4F4B, &key)
    }
}

fn parse(kind: Kind, account: Option<usize>, raw: &str) -> Result<ListRequest, String> {
    let p = Params::parse(raw);
    let statuses = if kind == Kind::Accounts || !p.has("entity_statuses") {
        vec!["ACTIVE".to_string(), "PAUSED".to_string()]
    } else {
        params::enums(
            &p,
            "entity_statuses",
            ENTITY_STATUSES,
            ENTITY_STATUSES.len() * 4,
        )?
    };
    let order = params::one_of(&p, "order", &["ASCENDING", "DESCENDING"], "ASCENDING")?;
    let (campaign_ids, ad_group_ids, ad_ids) = match kind {
        Kind::Accounts => (Vec::new(), Vec::new(), Vec::new()),
        Kind::Campaigns => (
            params::ids(&p, "campaign_ids", 250)?,
            Vec::new(),
            Vec::new(),
        ),
        Kind::AdGroups => (
            params::ids(&p, "campaign_ids", 250)?,
            params::ids(&p, "ad_group_ids", 250)?,
            Vec::new(),
        ),
        Kind::Ads => (
            params::ids(&p, "campaign_ids", 250)?,
            params::ids(&p, "ad_group_ids", 250)?,
            params::ids(&p, "ad_ids", 250)?,
        ),
    };
    if kind == Kind::AdGroups {
        params::boolean(&p, "translate_interests_to_names", false)?;
    }
    let mut req = ListRequest {
        kind,
        account,
        statuses,
        campaign_ids,
        ad_group_ids,
        ad_ids,
        include_shared: params::boolean(&p, "include_shared_accounts", true)?,
        descending: order == "DESCENDING",
        page_size: params::page_size(&p)?,
        after: None,
    };
    if let Some(text) = p.get("bookmark").filter(|b| !b.is_empty()) {
        match decode(text) {
            Some(b) if b.q == req.fingerprint() && !b.x => req.after = Some(b.a),
            Some(b) if b.x => {
                return Err("Parameter 'bookmark' is invalid: the bookmark has expired".into())
            }
            _ => return Err(format!("Parameter 'bookmark' is invalid (was {text})")),
        }
    }
    Ok(req)
}

/// The ids and JSON renderers of the entities a request selects, in id order.
fn select<'a>(sim: &'a PinterestSim, req: &ListRequest) -> Vec<(u64, Box<dyn Fn() -> Value + 'a>)> {
    let d = &sim.data;
    let status_ok = |s: super::data::Status| req.statuses.iter().any(|x| x == s.as_str());
    let filter = |ids: &[u64], id: u64| ids.is_empty() || ids.contains(&id);
    let mut out: Vec<(u64, Box<dyn Fn() -> Value + 'a>)> = Vec::new();
    match req.kind {
        Kind::Accounts => {
            for a in d.accounts.iter().filter(|a| a.owned || req.include_shared) {
                let id = a.id.parse().unwrap_or_default();
                out.push((id, Box::new(move || d.account_json(a))));
            }
        }
        Kind::Campaigns => {
            for c in d.campaigns.iter().filter(|c| {
                Some(c.account) == req.account
                    && status_ok(c.status)
                    && filter(&req.campaign_ids, c.id)
            }) {
                out.push((c.id, Box::new(move || d.campaign_json(c))));
            }
        }
        Kind::AdGroups => {
            for g in d.ad_groups.iter().filter(|g| {
                Some(g.account) == req.account
                    && status_ok(g.status)
                    && filter(&req.campaign_ids, d.campaigns[g.campaign].id)
                    && filter(&req.ad_group_ids, g.id)
            }) {
                out.push((g.id, Box::new(move || d.ad_group_json(g))));
            }
        }
        Kind::Ads => {
            for a in d.ads.iter().filter(|a| {
                Some(a.account) == req.account
                    && status_ok(a.status)
                    && filter(&req.campaign_ids, d.campaigns[a.campaign].id)
                    && filter(&req.ad_group_ids, d.ad_groups[a.ad_group].id)
                    && filter(&req.ad_ids, a.id)
            }) {
                out.push((a.id, Box::new(move || d.ad_json(a))));
            }
        }
    }
    out.sort_by_key(|(id, _)| *id);
    if req.descending {
        out.reverse();
    }
    out
}

fn page(ctx: &Ctx<'_>, kind: Kind, account: Option<usize>, raw: &str) -> Response {
    let req = match parse(kind, account, raw) {
        Ok(r) => r,
        Err(m) => return invalid(&m),
    };
    let all = select(ctx.sim, &req);
    let start = match req.after {
        None => 0,
        Some(last) => all
            .iter()
            .position(|(id, _)| {
                if req.descending {
                    *id < last
                } else {
                    *id > last
                }
            })
            .unwrap_or(all.len()),
    };
    let end = (start + req.page_size).min(all.len());
    let mut items: Vec<Value> = all[start..end].iter().map(|(_, f)| f()).collect();
    if ctx.has(FaultKind::Misfit) {
        if let Some(Value::Object(o)) = items.first_mut() {
            let t = o.get("created_time").cloned().unwrap_or(Value::Null);
            o.insert("created_time".into(), json!(t.to_string()));
        }
    }
    let bookmark = (end < all.len()).then(|| {
        encode(&Bookmark {
            q: req.fingerprint(),
            a: all[end - 1].0,
            x: ctx.has(FaultKind::ExpireCursor),
        })
    });
    Json(json!({"items": items, "bookmark": bookmark})).into_response()
}

pub async fn list_accounts(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    api(
        &shared,
        "/v5/ad_accounts",
        Category::AdsRead,
        &headers,
        |ctx| page(ctx, Kind::Accounts, None, &raw),
    )
    .await
}

pub async fn get_account(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    api(
        &shared,
        "/v5/ad_accounts/{ad_account_id}",
        Category::AdsRead,
        &headers,
        |ctx| match account(ctx.sim, &id) {
            Ok(a) => Json(ctx.sim.data.account_json(&ctx.sim.data.accounts[a])).into_response(),
            Err(e) => e.into_response(),
        },
    )
    .await
}

async fn list_of(
    shared: Arc<Shared>,
    route: &'static str,
    kind: Kind,
    id: String,
    headers: HeaderMap,
    raw: Option<String>,
) -> Response {
    let raw = raw.unwrap_or_default();
    api(
        &shared,
        route,
        Category::AdsRead,
        &headers,
        |ctx| match account(ctx.sim, &id) {
            Ok(a) => page(ctx, kind, Some(a), &raw),
            Err(e) => e.into_response(),
        },
    )
    .await
}

pub async fn campaigns(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let route = "/v5/ad_accounts/{ad_account_id}/campaigns";
    list_of(shared, route, Kind::Campaigns, id, headers, raw).await
}

pub async fn ad_groups(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let route = "/v5/ad_accounts/{ad_account_id}/ad_groups";
    list_of(shared, route, Kind::AdGroups, id, headers, raw).await
}

pub async fn ads(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let route = "/v5/ad_accounts/{ad_account_id}/ads";
    list_of(shared, route, Kind::Ads, id, headers, raw).await
}

/// `GET /_sandbox/pinterest/entities?type=…[&ad_account_id=]`: every object of the type, all
/// statuses, as the list endpoint renders it, in id order. Types: `ad_accounts`, `campaigns`,
/// `ad_groups`, `ads`, and the assets of `lists.rs` (`audiences` [`&ownership_type=`],
/// `customer_lists`, `keywords`, `product_group_promotions`, `boards`, `board_sections` (with
/// `board_id`), `pins` (the `/pins` list [`&include_protected_pins=true`]), `board_pins`,
/// `board_section_pins`, `catalogs`, `feeds`, `product_groups`).
pub async fn truth(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref().unwrap_or(""));
    let d = &shared.pinterest.data;
    let account = match p.get("ad_account_id") {
        None => None,
        Some(id) => match d.account_index(id) {
            Some(a) => Some(a),
            None => return (StatusCode::NOT_FOUND, "unknown ad_account_id").into_response(),
        },
    };
    let mine = |a: usize| account.is_none_or(|x| x == a);
    let mut items: Vec<(u64, Value)> = match p.get("type") {
        Some("ad_accounts") => d
            .accounts
            .iter()
            .enumerate()
            .filter(|(i, _)| mine(*i))
            .map(|(_, a)| (a.id.parse().unwrap_or_default(), d.account_json(a)))
            .collect(),
        Some("campaigns") => d
            .campaigns
            .iter()
            .filter(|c| mine(c.account))
            .map(|c| (c.id, d.campaign_json(c)))
            .collect(),
        Some("ad_groups") => d
            .ad_groups
            .iter()
            .filter(|g| mine(g.account))
            .map(|g| (g.id, d.ad_group_json(g)))
            .collect(),
        Some("ads") => d
            .ads
            .iter()
            .filter(|a| mine(a.account))
            .map(|a| (a.id, d.ad_json(a)))
            .collect(),
        Some(other) if super::lists::truth(d, other, account, &p).is_some() => {
            super::lists::truth(d, other, account, &p).unwrap_or_default()
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                format!(
                    "type must be one of ad_accounts, campaigns, ad_groups, ads, {}",
                    super::lists::TRUTH_TYPES
                ),
            )
                .into_response()
        }
    };
    items.sort_by_key(|(id, _)| *id);
    Json(Value::Array(items.into_iter().map(|(_, v)| v).collect())).into_response()
}
