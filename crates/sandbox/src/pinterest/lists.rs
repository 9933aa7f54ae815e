//! The asset list endpoints, with the bookmark paging of `entities.rs` (base64 JSON of the last
//! id served and a fingerprint of the query; a bookmark that does not decode or belongs to
//! another query is a 400 code 1):
//!
//! - `ads_read`: `/ad_accounts/{id}/audiences`, `/customer_lists`, `/keywords`,
//!   `/product_group_promotions`;
//! - `org_read`: `/boards`, `/boards/{id}/sections`, `/boards/{id}/pins`,
//!   `/boards/{id}/sections/{sid}/pins`, `/pins`;
//! - `catalogs_read`: `/catalogs`, `/catalogs/feeds`, `/catalogs/product_groups`.
//!
//! Boards, pins and catalogs take an optional `ad_account_id` (absent: the main account). An
//! unknown board is 404 `{"code":40,"message":"Board not found."}`, an unknown section (or one of
//! another board) 404 `{"code":40,"message":"Board section not found."}`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::assets::{Pin, MATCH_TYPES};
use super::columns::ENTITY_STATUSES;
use super::data::Data;
use super::entities::{account, decode, encode, Bookmark};
use super::params::{self, Params};
use super::quotas::Category;
use super::{api, ApiError, Ctx, PinterestSim};
use crate::faults::FaultKind;
use crate::Shared;

/// `creative_types` of the pin lists.
const PIN_CREATIVE_TYPES: &[&str] = &[
    "REGULAR",
    "VIDEO",
    "SHOPPING",
    "CAROUSEL",
    "MAX_VIDEO",
    "SHOP_THE_PIN",
    "COLLECTION",
    "IDEA",
    "SHOWCASE",
    "QUIZ",
];
const PRIVACY: &[&str] = &["ALL", "PUBLIC", "PROTECTED", "SECRET", "PUBLIC_AND_SECRET"];

fn bad(message: String) -> ApiError {
    ApiError::invalid(message)
}

fn board_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, 40, "Board not found.")
}

fn section_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, 40, "Board section not found.")
}

/// Where a page starts and how big it is.
struct Page {
    fingerprint: u64,
    page_size: usize,
    descending: bool,
    after: Option<u64>,
}

/// `page_size` of at least 1 and no maximum (keywords: the spec gives none).
fn page_size_unbounded(p: &Params) -> Result<usize, String> {
    let Some(text) = p.get("page_size") else {
        return Ok(25);
    };
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err(format!(
            "Parameter 'page_size' must be at least 1 (was {text})"
        )),
        Err(_) => Err(format!(
            "Parameter 'page_size' was not numeric (was {text})"
        )),
    }
}

/// The paging of a list request: `what` and `filters` make the bookmark's fingerprint; `order`
/// says whether the endpoint takes `order`; `unbounded` drops the 250 maximum.
fn paging(
    p: &Params,
    what: &str,
    filters: &str,
    order: bool,
    unbounded: bool,
) -> Result<Page, String> {
    let page_size = if unbounded {
        page_size_unbounded(p)?
    } else {
        params::page_size(p)?
    };
    let descending = order
        && params::one_of(p, "order", &["ASCENDING", "DESCENDING"], "ASCENDING")? == "DESCENDING";
    let fingerprint = super::hash(0x4C49_5354, &format!("{what}|{filters}|{descending}"));
    let mut page = Page {
        fingerprint,
        page_size,
        descending,
        after: None,
    };
    if let Some(text) = p.get("bookmark").filter(|b| !b.is_empty()) {
        match decode(text) {
            Some(b) if b.q == fingerprint && !b.x => page.after = Some(b.a),
            Some(b) if b.x => {
                return Err("Parameter 'bookmark' is invalid: the bookmark has expired".into())
            }
            _ => return Err(format!("Parameter 'bookmark' is invalid (was {text})")),
        }
    }
    Ok(page)
}

/// `misfit`: the first numeric field of the first item arrives as a string.
fn misfit(items: &mut [Value]) {
    if let Some(Value::Object(o)) = items.first_mut() {
        if let Some((_, v)) = o.iter_mut().find(|(_, v)| v.is_number()) {
            *v = json!(v.to_string());
        }
    }
}

/// One page of `items` (id, rendered item): `{"items": […], "bookmark": …|null}`.
fn respond(ctx: &Ctx<'_>, mut items: Vec<(u64, Value)>, page: &Page) -> Response {
    items.sort_by_key(|(id, _)| *id);
    if page.descending {
        items.reverse();
    }
    let start = match page.after {
        None => 0,
        Some(last) => items
            .iter()
            .position(|(id, _)| {
                if page.descending {
                    *id < last
                } else {
                    *id > last
                }
            })
            .unwrap_or(items.len()),
    };
    let end = start.saturating_add(page.page_size).min(items.len());
    let bookmark = (end < items.len()).then(|| {
        encode(&Bookmark {
            q: page.fingerprint,
            a: items[end - 1].0,
            x: ctx.has(FaultKind::ExpireCursor),
        })
    });
    let mut out: Vec<Value> = items.drain(start..end).map(|(_, v)| v).collect();
    if ctx.has(FaultKind::Misfit) {
        misfit(&mut out);
    }
    Json(json!({"items": out, "bookmark": bookmark})).into_response()
}

fn done(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

/// An optional single id parameter.
fn opt_id(p: &Params, name: &str) -> Result<Option<u64>, String> {
    p.get(name).map(|v| params::id(name, v)).transpose()
}

/// The account of an optional `ad_account_id` (absent: the main account).
fn owner(sim: &PinterestSim, p: &Params) -> Result<usize, ApiError> {
    match p.get("ad_account_id") {
        None => Ok(0),
        Some(id) => account(sim, id),
    }
}

// ---- ads_read ----

fn audiences_page(ctx: &Ctx<'_>, id: &str, raw: &str) -> Result<Response, ApiError> {
    let account = account(ctx.sim, id)?;
    let p = Params::parse(raw);
    let ownership =
        params::one_of(&p, "ownership_type", &["OWNED", "RECEIVED"], "OWNED").map_err(bad)?;
    let page = paging(
        &p,
        "audiences",
        &format!("{account}|{ownership}"),
        true,
        false,
    )
    .map_err(bad)?;
    let d = &ctx.sim.data;
    let owned = ownership == "OWNED";
    let items = d
        .assets
        .audiences
        .iter()
        .filter(|x| x.account == account && x.owned == owned)
        .map(|x| (x.id, d.audience_json(x)))
        .collect();
    Ok(respond(ctx, items, &page))
}

fn customer_lists_page(ctx: &Ctx<'_>, id: &str, raw: &str) -> Result<Response, ApiError> {
    let account = account(ctx.sim, id)?;
    let p = Params::parse(raw);
    let page = paging(&p, "customer_lists", &account.to_string(), true, false).map_err(bad)?;
    let d = &ctx.sim.data;
    let items = d
        .assets
        .customer_lists
        .iter()
        .filter(|x| x.account == account)
        .map(|x| (x.id, d.customer_list_json(x)))
        .collect();
    Ok(respond(ctx, items, &page))
}

fn keywords_page(ctx: &Ctx<'_>, id: &str, raw: &str) -> Result<Response, ApiError> {
    let account = account(ctx.sim, id)?;
    let p = Params::parse(raw);
    let campaign = opt_id(&p, "campaign_id").map_err(bad)?;
    let group = opt_id(&p, "ad_group_id").map_err(bad)?;
    let groups = params::ids(&p, "ad_group_ids", 250).map_err(bad)?;
    if campaign.is_none() && group.is_none() && groups.is_empty() {
        return Err(bad("Missing required parameter: one of 'campaign_id', 'ad_group_id' or 'ad_group_ids' is required".into()));
    }
    let mut match_types = params::enums(&p, "match_types", MATCH_TYPES, 5).map_err(bad)?;
    match_types.sort();
    let filters = format!("{account}|{campaign:?}|{group:?}|{groups:?}|{match_types:?}");
    let page = paging(&p, "keywords", &filters, false, true).map_err(bad)?;
    let d = &ctx.sim.data;
    let items = d
        .assets
        .keywords
        .iter()
        .filter(|k| {
            let g = &d.ad_groups[k.ad_group];
            k.account == account
                && campaign.is_none_or(|c| d.campaigns[g.campaign].id == c)
                && group.is_none_or(|x| g.id == x)
                && (groups.is_empty() || groups.contains(&g.id))
                && (match_types.is_empty() || match_types.iter().any(|m| m == k.match_type))
        })
        .map(|k| (k.id, d.keyword_json(k)))
        .collect();
    Ok(respond(ctx, items, &page))
}

fn promotions_page(ctx: &Ctx<'_>, id: &str, raw: &str) -> Result<Response, ApiError> {
    let account = account(ctx.sim, id)?;
    let p = Params::parse(raw);
    let group = opt_id(&p, "ad_group_id").map_err(bad)?;
    let ids = params::ids(&p, "product_group_promotion_ids", 250).map_err(bad)?;
    if group.is_none() && ids.is_empty() {
        return Err(bad("Missing required parameter: 'ad_group_id' or 'product_group_promotion_ids' is required".into()));
    }
    let mut statuses = if p.has("entity_statuses") {
        params::enums(
            &p,
            "entity_statuses",
            ENTITY_STATUSES,
            ENTITY_STATUSES.len() * 4,
        )
        .map_err(bad)?
    } else {
        vec!["ACTIVE".to_string(), "PAUSED".to_string()]
    };
    statuses.sort();
    let filters = format!("{account}|{group:?}|{ids:?}|{statuses:?}");
    let page = paging(&p, "product_group_promotions", &filters, true, false).map_err(bad)?;
    let d = &ctx.sim.data;
    let items = d
        .assets
        .promotions
        .iter()
        .filter(|x| {
            let g = &d.ad_groups[x.ad_group];
            g.account == account
                && group.is_none_or(|y| g.id == y)
                && (ids.is_empty() || ids.contains(&x.id))
                && statuses.iter().any(|s| s == x.status.as_str())
        })
        .map(|x| (x.id, d.promotion_json(x)))
        .collect();
    Ok(respond(ctx, items, &page))
}

async fn ads_read(
    shared: Arc<Shared>,
    route: &'static str,
    headers: HeaderMap,
    id: String,
    raw: Option<String>,
    f: fn(&Ctx<'_>, &str, &str) -> Result<Response, ApiError>,
) -> Response {
    let raw = raw.unwrap_or_default();
    api(&shared, route, Category::AdsRead, &headers, |ctx| {
        done(f(ctx, &id, &raw))
    })
    .await
}

macro_rules! account_list {
    ($name:ident, $route:literal, $page:path) => {
        pub async fn $name(
            State(shared): State<Arc<Shared>>,
            Path(id): Path<String>,
            headers: HeaderMap,
            RawQuery(raw): RawQuery,
        ) -> Response {
            ads_read(shared, $route, headers, id, raw, $page).await
        }
    };
}

account_list!(
    audiences,
    "/v5/ad_accounts/{ad_account_id}/audiences",
    audiences_page
);
account_list!(
    customer_lists,
    "/v5/ad_accounts/{ad_account_id}/customer_lists",
    customer_lists_page
);
account_list!(
    keywords,
    "/v5/ad_accounts/{ad_account_id}/keywords",
    keywords_page
);
account_list!(
    product_group_promotions,
    "/v5/ad_accounts/{ad_account_id}/product_group_promotions",
    promotions_page
);

// ---- org_read: boards and pins ----

/// The main account's first board (lowest id): the one `delete-board` deletes.
fn first_main_board(d: &Data) -> Option<usize> {
    (0..d.assets.boards.len())
        .filter(|b| d.assets.boards[*b].account == 0)
        .min_by_key(|b| d.assets.boards[*b].id)
}

/// The board of a path (404 code 40 when unknown, or deleted by `delete-board`).
fn board(ctx: &Ctx<'_>, id: &str) -> Result<usize, ApiError> {
    let d = &ctx.sim.data;
    let b = id
        .parse::<u64>()
        .ok()
        .and_then(|id| d.assets.boards.iter().position(|b| b.id == id))
        .ok_or_else(board_not_found)?;
    if ctx.has(FaultKind::DeleteBoard) && first_main_board(d) == Some(b) {
        return Err(board_not_found());
    }
    Ok(b)
}

fn privacy_matches(filter: &str, privacy: &str) -> bool {
    match filter {
        "ALL" => true,
        "PUBLIC_AND_SECRET" => privacy != "PROTECTED",
        f => f == privacy,
    }
}

fn boards_page(ctx: &Ctx<'_>, raw: &str) -> Result<Response, ApiError> {
    let p = Params::parse(raw);
    let account = owner(ctx.sim, &p)?;
    // absent: public and secret boards, as for the owner's token; protected ones on request
    let privacy = params::one_of(&p, "privacy", PRIVACY, "PUBLIC_AND_SECRET").map_err(bad)?;
    let page = paging(&p, "boards", &format!("{account}|{privacy}"), false, false).map_err(bad)?;
    let d = &ctx.sim.data;
    let items = (0..d.assets.boards.len())
        .filter(|b| {
            let x = &d.assets.boards[*b];
            x.account == account && privacy_matches(privacy, x.privacy)
        })
        .map(|b| (d.assets.boards[b].id, d.board_json(b)))
        .collect();
    Ok(respond(ctx, items, &page))
}

fn sections_page(ctx: &Ctx<'_>, board_id: &str, raw: &str) -> Result<Response, ApiError> {
    let b = board(ctx, board_id)?;
    let p = Params::parse(raw);
    let page = paging(&p, "sections", &b.to_string(), false, false).map_err(bad)?;
    let d = &ctx.sim.data;
    let items = d
        .assets
        .sections
        .iter()
        .filter(|s| s.board == b)
        .map(|s| (s.id, d.section_json(s)))
        .collect();
    Ok(respond(ctx, items, &page))
}

/// The `creative_types`, `pin_metrics` and `ad_account_id` of a pin list; the types sorted.
fn pin_params(ctx: &Ctx<'_>, p: &Params) -> Result<Vec<String>, ApiError> {
    let mut types = params::enums(
        p,
        "creative_types",
        PIN_CREATIVE_TYPES,
        PIN_CREATIVE_TYPES.len(),
    )
    .map_err(bad)?;
    types.sort();
    params::boolean(p, "pin_metrics", false).map_err(bad)?;
    owner(ctx.sim, p)?;
    Ok(types)
}

fn pins_of<'a>(
    d: &'a Data,
    keep: impl Fn(&Pin) -> bool + 'a,
    types: &'a [String],
) -> Vec<(u64, Value)> {
    d.assets
        .pins
        .iter()
        .filter(|x| keep(x) && (types.is_empty() || types.iter().any(|t| t == x.creative_type)))
        .map(|x| (x.id, d.pin_json(x)))
        .collect()
}

fn board_pins_page(ctx: &Ctx<'_>, board_id: &str, raw: &str) -> Result<Response, ApiError> {
    let b = board(ctx, board_id)?;
    let p = Params::parse(raw);
    let types = pin_params(ctx, &p)?;
    let page = paging(&p, "board_pins", &format!("{b}|{types:?}"), false, false).map_err(bad)?;
    let items = pins_of(&ctx.sim.data, |x| x.board == b, &types);
    Ok(respond(ctx, items, &page))
}

fn section_pins_page(
    ctx: &Ctx<'_>,
    board_id: &str,
    section_id: &str,
    raw: &str,
) -> Result<Response, ApiError> {
    let b = board(ctx, board_id)?;
    let d = &ctx.sim.data;
    let s = section_id
        .parse::<u64>()
        .ok()
        .and_then(|id| {
            d.assets
                .sections
                .iter()
                .position(|s| s.id == id && s.board == b)
        })
        .ok_or_else(section_not_found)?;
    let p = Params::parse(raw);
    let page = paging(&p, "section_pins", &s.to_string(), false, false).map_err(bad)?;
    let items = pins_of(d, |x| x.section == Some(s), &[]);
    Ok(respond(ctx, items, &page))
}

/// Whether a pin is in `GET /pins` of `account`: pins of the account's boards, those of
/// PROTECTED boards only with `include_protected_pins=true`.
pub(super) fn listed_pin(d: &Data, x: &Pin, account: usize, protected: bool) -> bool {
    let b = &d.assets.boards[x.board];
    b.account == account && (protected || b.privacy != "PROTECTED")
}

fn pins_page(ctx: &Ctx<'_>, raw: &str) -> Result<Response, ApiError> {
    let p = Params::parse(raw);
    let account = owner(ctx.sim, &p)?;
    let types = pin_params(ctx, &p)?;
    let protected = params::boolean(&p, "include_protected_pins", false).map_err(bad)?;
    let filter = params::one_of(
        &p,
        "pin_filter",
        &["exclude_native", "exclude_repins", "has_been_promoted"],
        "",
    )
    .map_err(bad)?;
    let private = params::one_of(&p, "pin_type", &["PRIVATE"], "").map_err(bad)? == "PRIVATE";
    let filters = format!("{account}|{types:?}|{protected}|{filter}|{private}");
    let page = paging(&p, "pins", &filters, false, false).map_err(bad)?;
    let d = &ctx.sim.data;
    // every sandbox pin is native and none is a repin, so only has_been_promoted narrows
    let keep = move |x: &Pin| {
        listed_pin(d, x, account, protected)
            && (filter != "has_been_promoted" || x.promoted)
            && (!private || d.assets.boards[x.board].privacy == "SECRET")
    };
    let items = pins_of(d, keep, &types);
    Ok(respond(ctx, items, &page))
}

pub async fn boards(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    api(&shared, "/v5/boards", Category::OrgRead, &headers, |ctx| {
        done(boards_page(ctx, &raw))
    })
    .await
}

pub async fn board_sections(
    State(shared): State<Arc<Shared>>,
    Path(board_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let route = "/v5/boards/{board_id}/sections";
    api(&shared, route, Category::OrgRead, &headers, |ctx| {
        done(sections_page(ctx, &board_id, &raw))
    })
    .await
}

pub async fn board_pins(
    State(shared): State<Arc<Shared>>,
    Path(board_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let route = "/v5/boards/{board_id}/pins";
    api(&shared, route, Category::OrgRead, &headers, |ctx| {
        done(board_pins_page(ctx, &board_id, &raw))
    })
    .await
}

pub async fn section_pins(
    State(shared): State<Arc<Shared>>,
    Path((board_id, section_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let route = "/v5/boards/{board_id}/sections/{section_id}/pins";
    api(&shared, route, Category::OrgRead, &headers, |ctx| {
        done(section_pins_page(ctx, &board_id, &section_id, &raw))
    })
    .await
}

pub async fn pins(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    api(&shared, "/v5/pins", Category::OrgRead, &headers, |ctx| {
        done(pins_page(ctx, &raw))
    })
    .await
}

// ---- catalogs_read ----

fn catalogs_page(ctx: &Ctx<'_>, raw: &str) -> Result<Response, ApiError> {
    let p = Params::parse(raw);
    let account = owner(ctx.sim, &p)?;
    let page = paging(&p, "catalogs", &account.to_string(), false, false).map_err(bad)?;
    let d = &ctx.sim.data;
    let items = d
        .assets
        .catalogs
        .iter()
        .filter(|c| c.account == account)
        .map(|c| (c.id, d.catalog_json(c)))
        .collect();
    Ok(respond(ctx, items, &page))
}

fn feeds_page(ctx: &Ctx<'_>, raw: &str) -> Result<Response, ApiError> {
    let p = Params::parse(raw);
    let account = owner(ctx.sim, &p)?;
    let page = paging(&p, "feeds", &account.to_string(), false, false).map_err(bad)?;
    let d = &ctx.sim.data;
    let items = d
        .assets
        .feeds
        .iter()
        .filter(|f| d.assets.catalogs[f.catalog].account == account)
        .map(|f| (f.id, d.feed_json(f)))
        .collect();
    Ok(respond(ctx, items, &page))
}

fn product_groups_page(ctx: &Ctx<'_>, raw: &str) -> Result<Response, ApiError> {
    let p = Params::parse(raw);
    let account = owner(ctx.sim, &p)?;
    let d = &ctx.sim.data;
    if !d.assets.catalogs.iter().any(|c| c.account == account) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            4182,
            "Can't access this feature without an existing catalog.",
        ));
    }
    let catalog = opt_id(&p, "catalog_id").map_err(bad)?;
    let feed = opt_id(&p, "feed_id").map_err(bad)?;
    let ids = params::ids(&p, "id", 1000).map_err(bad)?;
    let filters = format!("{account}|{catalog:?}|{feed:?}|{ids:?}");
    let page = paging(&p, "product_groups", &filters, false, false).map_err(bad)?;
    let items = d
        .assets
        .product_groups
        .iter()
        .filter(|g| {
            let c = &d.assets.catalogs[d.product_group_catalog(g)];
            c.account == account
                && catalog.is_none_or(|x| c.id == x)
                && feed.is_none_or(|x| d.assets.feeds[g.feed].id == x)
                && (ids.is_empty() || ids.contains(&g.id))
        })
        .map(|g| (g.id, d.product_group_json(g)))
        .collect();
    Ok(respond(ctx, items, &page))
}

async fn catalogs_read(
    shared: Arc<Shared>,
    route: &'static str,
    headers: HeaderMap,
    raw: Option<String>,
    f: fn(&Ctx<'_>, &str) -> Result<Response, ApiError>,
) -> Response {
    let raw = raw.unwrap_or_default();
    api(&shared, route, Category::CatalogsRead, &headers, |ctx| {
        done(f(ctx, &raw))
    })
    .await
}

pub async fn catalogs(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    catalogs_read(shared, "/v5/catalogs", headers, raw, catalogs_page).await
}

pub async fn feeds(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    catalogs_read(shared, "/v5/catalogs/feeds", headers, raw, feeds_page).await
}

pub async fn product_groups(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let route = "/v5/catalogs/product_groups";
    catalogs_read(shared, route, headers, raw, product_groups_page).await
}

// ---- truth ----

fn with(mut v: Value, extra: &[(&str, String)]) -> Value {
    if let Value::Object(o) = &mut v {
        for (k, x) in extra {
            o.insert((*k).to_string(), json!(x));
        }
    }
    v
}

/// The truth of an asset type (`None`: not one of them), every status and ownership, rendered
/// as its list renders it, restricted to `account` when given. `audiences` takes an optional
/// `ownership_type`, `pins` an optional `include_protected_pins` (default false, as the list).
pub(super) fn truth(
    d: &Data,
    kind: &str,
    account: Option<usize>,
    p: &Params,
) -> Option<Vec<(u64, Value)>> {
    let mine = |a: usize| account.is_none_or(|x| x == a);
    let a = &d.assets;
    let board_account = |b: usize| a.boards[b].account;
    let items = match kind {
        "audiences" => {
            let ownership = p.get("ownership_type");
            a.audiences
                .iter()
                .filter(|x| mine(x.account))
                .filter(|x| ownership.is_none_or(|o| (o == "OWNED") == x.owned))
                .map(|x| (x.id, d.audience_json(x)))
                .collect()
        }
        "customer_lists" => a
            .customer_lists
            .iter()
            .filter(|x| mine(x.account))
            .map(|x| (x.id, d.customer_list_json(x)))
            .collect(),
        "keywords" => a
            .keywords
            .iter()
            .filter(|x| mine(x.account))
            .map(|x| (x.id, d.keyword_json(x)))
            .collect(),
        "product_group_promotions" => a
            .promotions
            .iter()
            .filter(|x| mine(d.ad_groups[x.ad_group].account))
            .map(|x| (x.id, d.promotion_json(x)))
            .collect(),
        "boards" => (0..a.boards.len())
            .filter(|b| mine(board_account(*b)))
            .map(|b| (a.boards[b].id, d.board_json(b)))
            .collect(),
        "board_sections" => a
            .sections
            .iter()
            .filter(|s| mine(board_account(s.board)))
            .map(|s| {
                let board = a.boards[s.board].id.to_string();
                (s.id, with(d.section_json(s), &[("board_id", board)]))
            })
            .collect(),
        "pins" => {
            let protected = p.get("include_protected_pins") == Some("true");
            let main = account.unwrap_or(0);
            pins_of(d, move |x| listed_pin(d, x, main, protected), &[])
        }
        "board_pins" => pins_of(d, |x| mine(board_account(x.board)), &[]),
        "board_section_pins" => pins_of(
            d,
            |x| x.section.is_some() && mine(board_account(x.board)),
            &[],
        ),
        "catalogs" => a
            .catalogs
            .iter()
            .filter(|c| mine(c.account))
            .map(|c| (c.id, d.catalog_json(c)))
            .collect(),
        "feeds" => a
            .feeds
            .iter()
            .filter(|f| mine(a.catalogs[f.catalog].account))
            .map(|f| (f.id, d.feed_json(f)))
            .collect(),
        "product_groups" => a
            .product_groups
            .iter()
            .filter(|g| mine(a.catalogs[d.product_group_catalog(g)].account))
            .map(|g| (g.id, d.product_group_json(g)))
            .collect(),
        _ => return None,
    };
    Some(items)
}

/// The asset types [`truth`] knows.
pub(super) const TRUTH_TYPES: &str = "audiences, customer_lists, keywords, \
product_group_promotions, boards, board_sections, pins, board_pins, board_section_pins, catalogs, \
feeds, product_groups";
