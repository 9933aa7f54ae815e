//! Synchronous analytics (a bare JSON array of rows) and targeting analytics (`{"data": […]}`)
//! at the ad account, campaign, ad group and ad levels, all `ads_analytics`. Also what the async
//! reports and the truth route render, so all of them agree to the micro dollar.
//!
//! Rows exist only for entities that delivered (or converted) in the period. A metric that is
//! zero is left out of some rows ("if a column has no value, it may not be returned"), chosen by
//! a hash of the row and column, so the truth and the endpoint leave out the same keys.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{json, Map, Value};

use super::columns::{
    ACCOUNT_TARGETING_TYPES, AD_GROUP_TARGETING_TYPES, AD_TARGETING_TYPES, ASYNC_COLUMNS,
    CAMPAIGN_TARGETING_TYPES, REPORT_TARGETING_TYPES, SYNC_COLUMNS,
};
use super::entities::account;
use super::metrics::{ad_series, cell, Attribution, Base, Cell, Clock};
use super::params::{self, Params};
use super::quotas::Category;
use super::{api, ApiError, Ctx, PinterestSim};
use crate::faults::FaultKind;
use crate::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Advertiser,
    Campaign,
    AdGroup,
    Ad,
    /// `pins/analytics`: a (campaign, pin) an ad promotes, indexes into `promoted_pins`
    Pin,
    /// `product_groups/analytics` and PRODUCT_GROUP reports: indexes into `product_groups`
    ProductGroup,
}

impl Level {
    /// The key of a row's entity id.
    pub fn id_key(self) -> &'static str {
        match self {
            Level::Advertiser => "AD_ACCOUNT_ID",
            Level::Campaign => "CAMPAIGN_ID",
            Level::AdGroup => "AD_GROUP_ID",
            Level::Ad => "AD_ID",
            Level::Pin => "PIN_ID",
            Level::ProductGroup => "PRODUCT_GROUP_ID",
        }
    }

    /// How the spec's 400 names the endpoint ("Invalid ad account campaign analytics parameters.").
    fn what(self) -> &'static str {
        match self {
            Level::Advertiser => "ad account",
            Level::Campaign => "ad account campaign",
            Level::AdGroup => "ad account group",
            Level::Ad => "ad account ads",
            Level::Pin => "ad account pin",
            Level::ProductGroup => "ad account product group",
        }
    }

    fn targeting_types(self) -> (&'static [&'static str], usize) {
        match self {
            Level::Advertiser => (ACCOUNT_TARGETING_TYPES, 15),
            Level::Campaign => (CAMPAIGN_TARGETING_TYPES, 14),
            Level::AdGroup => (AD_GROUP_TARGETING_TYPES, 14),
            Level::Ad => (AD_TARGETING_TYPES, 14),
            Level::Pin | Level::ProductGroup => (&[], 0),
        }
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "ADVERTISER" => Some(Level::Advertiser),
            "CAMPAIGN" => Some(Level::Campaign),
            "AD_GROUP" => Some(Level::AdGroup),
            "AD" | "PIN_PROMOTION" => Some(Level::Ad),
            "PIN" => Some(Level::Pin),
            "PRODUCT_GROUP" => Some(Level::ProductGroup),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Total,
    Day,
    Hour,
    Week,
    Month,
}

impl Granularity {
    pub const NAMES: [&'static str; 5] = ["TOTAL", "DAY", "HOUR", "WEEK", "MONTH"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "TOTAL" => Some(Granularity::Total),
            "DAY" => Some(Granularity::Day),
            "HOUR" => Some(Granularity::Hour),
            "WEEK" => Some(Granularity::Week),
            "MONTH" => Some(Granularity::Month),
            _ => None,
        }
    }
}

/// A validated analytics request, whichever way it came (sync, targeting, report, truth).
pub struct Query {
    pub account: usize,
    pub level: Level,
    /// Indexes into the level's entities (the account itself for ADVERTISER), in id order.
    pub entities: Vec<usize>,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub columns: Vec<String>,
    pub granularity: Granularity,
    pub attr: Attribution,
    pub targeting: Vec<String>,
}

/// One entity's counts over one period.
pub struct Row {
    pub entity: usize,
    /// `DATE` (absent for TOTAL)
    pub date: Option<String>,
    pub base: Base,
}

/// The id of an entity of `level`.
fn entity_id(sim: &PinterestSim, level: Level, e: usize) -> u64 {
    let d = &sim.data;
    match level {
        Level::Advertiser => d.accounts[e].id.parse().unwrap_or_default(),
        Level::Campaign => d.campaigns[e].id,
        Level::AdGroup => d.ad_groups[e].id,
        Level::Ad => d.ads[e].id,
        Level::Pin => d.assets.promoted_pins[e].1,
        Level::ProductGroup => d.assets.product_groups[e].id,
    }
}

/// The deliveries behind a query's rows: (position of the entity in `q.entities`, the ad whose
/// series it sums). A product group draws its own series (keyed by its id); every other level
/// sums the ads of the account below it.
fn sources<'a>(
    sim: &'a PinterestSim,
    q: &Query,
    pos: &HashMap<usize, usize>,
) -> Vec<(usize, &'a super::data::Ad)> {
    let d = &sim.data;
    if q.level == Level::ProductGroup {
        return q
            .entities
            .iter()
            .enumerate()
            .filter_map(|(p, e)| {
                let ad = d.assets.product_group_ads.get(*e)?.as_ref()?;
                (ad.account == q.account).then_some((p, ad))
            })
            .collect();
    }
    let mut out = Vec::new();
    for (i, ad) in d.ads.iter().enumerate() {
        if ad.account != q.account {
            continue;
        }
        let e = match q.level {
            Level::Advertiser => ad.account,
            Level::Campaign => ad.campaign,
            Level::AdGroup => ad.ad_group,
            Level::Ad => i,
            Level::Pin => match d.assets.promoted_index.get(&(ad.campaign, ad.pin_id)) {
                Some(e) => *e,
                None => continue,
            },
            Level::ProductGroup => continue,
        };
        if let Some(&p) = pos.get(&e) {
            out.push((p, ad));
        }
    }
    out
}

/// Every row of the query, entity by entity, then by date.
pub fn compute(sim: &PinterestSim, q: &Query, clock: Clock) -> Vec<Row> {
    let days = ((q.end - q.start).num_days() + 1).max(0) as usize;
    let pos: HashMap<usize, usize> = q
        .entities
        .iter()
        .enumerate()
        .map(|(p, e)| (*e, p))
        .collect();
    let mut sums: Vec<Vec<Option<Base>>> = vec![vec![None; days]; q.entities.len()];
    for (p, ad) in sources(sim, q, &pos) {
        let series = ad_series(sim.config.seed, ad, q.start, q.end, q.attr, clock);
        for (k, b) in series.into_iter().enumerate() {
            if let Some(b) = b {
                sums[p][k].get_or_insert_with(Base::default).add(&b);
            }
        }
    }
    let mut rows = Vec::new();
    for (p, days) in sums.into_iter().enumerate() {
        let entity = q.entities[p];
        let mut groups: BTreeMap<Option<NaiveDate>, Base> = BTreeMap::new();
        for (k, b) in days.into_iter().enumerate() {
            let Some(b) = b else { continue };
            let day = q.start + Duration::days(k as i64);
            match q.granularity {
                Granularity::Day => rows.push(Row {
                    entity,
                    date: Some(day.to_string()),
                    base: b,
                }),
                Granularity::Hour => {
                    let hours = if day == clock.today { clock.hour } else { 24 };
                    for h in 0..hours {
                        let hb = b.hour(h, hours);
                        if !hb.is_zero() {
                            rows.push(Row {
                                entity,
                                date: Some(format!("{day} {h:02}:00:00")),
                                base: hb,
                            });
                        }
                    }
                }
                g => {
                    let key = match g {
                        Granularity::Week => Some(
                            (day - Duration::days(i64::from(day.weekday().num_days_from_monday())))
                                .max(q.start),
                        ),
                        Granularity::Month => Some(day.with_day(1).unwrap_or(day).max(q.start)),
                        _ => None,
                    };
                    groups.entry(key).or_default().add(&b);
                }
            }
        }
        for (key, base) in groups {
            rows.push(Row {
                entity,
                date: key.map(|k| k.to_string()),
                base,
            });
        }
    }
    rows
}

/// The entity a row describes, and its parents.
struct Lineage<'a> {
    account: &'a super::data::Account,
    campaign: Option<&'a super::data::Campaign>,
    group: Option<&'a super::data::AdGroup>,
    ad: Option<&'a super::data::Ad>,
    /// the pin of a PIN row
    pin: Option<u64>,
}

fn lineage(sim: &PinterestSim, level: Level, e: usize) -> Lineage<'_> {
    let d = &sim.data;
    let ad = (level == Level::Ad).then(|| &d.ads[e]);
    let group = match level {
        Level::Ad => ad.map(|a| &d.ad_groups[a.ad_group]),
        Level::AdGroup => Some(&d.ad_groups[e]),
        _ => None,
    };
    let pin = (level == Level::Pin).then(|| d.assets.promoted_pins[e]);
    let campaign = match level {
        Level::Campaign => Some(&d.campaigns[e]),
        Level::AdGroup | Level::Ad => group.map(|g| &d.campaigns[g.campaign]),
        Level::Pin => pin.map(|(c, _)| &d.campaigns[c]),
        Level::Advertiser | Level::ProductGroup => None,
    };
    let account_index = match level {
        Level::Advertiser => e,
        _ => campaign.map_or(0, |c| c.account),
    };
    Lineage {
        account: &d.accounts[account_index],
        campaign,
        group,
        ad,
        pin: pin.map(|(_, p)| p),
    }
}

/// The value of an entity column (ids as numbers), if the row's entity has it.
fn attribute(l: &Lineage<'_>, col: &str) -> Option<Value> {
    let c = l.campaign;
    let g = l.group;
    let a = l.ad;
    let num = |v: u64| Some(json!(v));
    match col {
        "ADVERTISER_ID" | "AD_ACCOUNT_ID" => l.account.id.parse::<u64>().ok().and_then(num),
        "CAMPAIGN_ID" => c.and_then(|c| num(c.id)),
        "CAMPAIGN_NAME" => c.map(|c| json!(c.name)),
        "CAMPAIGN_ENTITY_STATUS" => c.map(|c| json!(c.status.as_str())),
        "CAMPAIGN_STATUS" => c.map(|c| json!(c.status.summary())),
        "CAMPAIGN_OBJECTIVE_TYPE" => c.map(|c| json!(c.objective)),
        "CAMPAIGN_LIFETIME_SPEND_CAP" => c.and_then(|c| c.lifetime_cap).and_then(num),
        "CAMPAIGN_DAILY_SPEND_CAP" => c.and_then(|c| c.daily_cap).and_then(num),
        "CAMPAIGN_BUDGET_OPTIMIZATION" => c.map(|c| json!(c.cbo)),
        "IS_PREMIERE_CAMPAIGN" => c.map(|_| json!(false)),
        "AD_GROUP_ID" => g.and_then(|g| num(g.id)),
        "AD_GROUP_NAME" => g.map(|g| json!(g.name)),
        "AD_GROUP_ENTITY_STATUS" => g.map(|g| json!(g.status.as_str())),
        "AD_GROUP_STATUS" => g.map(|g| json!(g.status.summary())),
        "AD_GROUP_BUDGET_TYPE" => g.map(|g| json!(g.budget_type)),
        "AD_GROUP_BUDGET_IN_LOCAL_CURRENCY" => g
            .and_then(|g| g.budget_micro)
            .map(|b| json!(b as f64 / 1e6)),
        "AD_GROUP_BID_MULTIPLIER" => g.and_then(|g| g.bid_multiplier).map(|m| json!(m)),
        "AD_GROUP_OPTIMIZATION" => g.map(|g| json!(g.billable_event)),
        "AD_ID" | "PIN_PROMOTION_ID" => a.and_then(|a| num(a.id)),
        "AD_NAME" | "PIN_PROMOTION_NAME" => a.map(|a| json!(a.name)),
        "AD_STATUS" | "PIN_PROMOTION_STATUS" => a.map(|a| json!(a.status.ad_summary())),
        "PIN_ID" => a.map(|a| a.pin_id).or(l.pin).and_then(num),
        "VIDEO_LENGTH" => a.and_then(|a| a.video_length).and_then(num),
        _ => None,
    }
}

fn is_zero(v: &Value) -> bool {
    v.as_f64() == Some(0.0)
}

/// How the requested columns land in a row's map.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Zeros {
    /// sync and targeting: some zero metrics left out, by a hash of `salt` and the column
    SomeDropped,
    /// JSON reports "will not zero-fill metrics": every zero left out
    AllDropped,
}

fn fill(
    sim: &PinterestSim,
    m: &mut Map<String, Value>,
    q: &Query,
    row: &Row,
    lineage: &Lineage<'_>,
    zeros: Zeros,
    salt: &str,
) {
    let hour = q.granularity == Granularity::Hour;
    for col in &q.columns {
        if m.contains_key(col) {
            continue;
        }
        let value = match cell(col, &row.base, hour) {
            Cell::Attribute => attribute(lineage, col),
            Cell::Absent => None,
            Cell::Metric(v) if is_zero(&v) => {
                let drop = match zeros {
                    Zeros::AllDropped => true,
                    Zeros::SomeDropped => {
                        super::hash(sim.config.seed, &format!("{salt}|{col}")) & 1 == 0
                    }
                };
                (!drop).then_some(v)
            }
            Cell::Metric(v) => Some(v),
        };
        if let Some(v) = value {
            m.insert(col.clone(), v);
        }
    }
}

/// A sync row: `DATE`, the id key as a string, the columns.
pub fn sync_row(sim: &PinterestSim, q: &Query, row: &Row) -> Value {
    let id = entity_id(sim, q.level, row.entity);
    let mut m = Map::new();
    if let Some(d) = &row.date {
        m.insert("DATE".into(), json!(d));
    }
    m.insert(q.level.id_key().into(), json!(id.to_string()));
    let salt = format!("{id}|{}", row.date.as_deref().unwrap_or(""));
    fill(
        sim,
        &mut m,
        q,
        row,
        &lineage(sim, q.level, row.entity),
        Zeros::SomeDropped,
        &salt,
    );
    Value::Object(m)
}

/// Values a targeting type breaks down into. LOCATION (metro codes) and AUDIENCE_INCLUDE
/// (audience ids) are numbers, as in the spec's example. [UNVERIFIED beyond the example]
fn targeting_values(t: &str) -> Vec<Value> {
    let s = |v: &[&str]| v.iter().map(|x| json!(x)).collect();
    match t {
        "KEYWORD" => s(&[
            "christmas decor ideas",
            "wohnzimmer ideen",
            "café table",
            "small balcony garden",
            "décor scandinave",
        ]),
        "APPTYPE" => s(&[
            "iphone",
            "ipad",
            "web",
            "web_mobile",
            "android_mobile",
            "android_tablet",
        ]),
        "GENDER" => s(&["female", "male", "unknown"]),
        "LOCATION" => [500, 501, 505, 602, 803, 807]
            .iter()
            .map(|v| json!(v))
            .collect(),
        "PLACEMENT" => s(&["SEARCH", "BROWSE", "OTHER"]),
        "COUNTRY" => s(&["US", "CA", "GB", "DE", "FR"]),
        "TARGETED_INTEREST" => s(&[
            "Food and Drinks",
            "Home Decor",
            "Gardening",
            "Women's Fashion",
        ]),
        "PINNER_INTEREST" => s(&[
            "Chocolate Cookies",
            "Mid-century Modern",
            "Balcony Plants",
            "Crème Brûlée",
        ]),
        "AUDIENCE_INCLUDE" => [254_261_234_567u64, 254_261_234_890, 254_261_235_113]
            .iter()
            .map(|v| json!(v))
            .collect(),
        "GEO" => s(&["US:94102", "US:10001", "CA:M5V", "GB:EC1A"]),
        "AGE_BUCKET" => s(&[
            "18-24", "25-34", "35-44", "45-49", "50-54", "55-64", "65+", "unknown",
        ]),
        "REGION" => s(&["US-CA", "US-NY", "US-TX", "CA-ON", "GB-ENG"]),
        "AGE_BUCKET_AND_GENDER" => {
            s(&["25-34&female", "25-34&male", "35-44&female", "45-49&female"])
        }
        "CREATIVE_TYPE" => s(&[
            "REGULAR",
            "VIDEO",
            "SHOPPING",
            "CAROUSEL",
            "MAX_VIDEO",
            "IDEA",
            "COLLECTION",
        ]),
        "AUDIENCE_MULTIPLIER" => s(&["AUDIENCE_MULTIPLIER_ON", "AUDIENCE_MULTIPLIER_OFF"]),
        "CREATIVE_ENHANCEMENTS" => s(&["ENHANCED", "NOT_ENHANCED"]),
        "QUIZ_RESULT" => s(&["Quiz result 1", "Quiz result 2", "Quiz result 3"]),
        "MEDIA_TYPE" => s(&["IMAGE", "VIDEO"]),
        "LOCAL_ADS_STORE_CODE" => s(&["STORE-001", "STORE-002"]),
        _ => Vec::new(),
    }
}

/// A row split by one targeting type: (value, counts) for each value with delivery. About one
/// value in ten has none in a period; QUIZ_RESULT exists only for quiz ads.
fn split(sim: &PinterestSim, q: &Query, row: &Row, t: &str, salt: &str) -> Vec<(Value, Base)> {
    if t == "QUIZ_RESULT" {
        let quiz = q.level == Level::Ad && sim.data.ads[row.entity].creative == "QUIZ";
        if !quiz {
            return Vec::new();
        }
    }
    let values = targeting_values(t);
    let weights: Vec<u64> = (0..values.len())
        .map(|i| {
            let w = super::hash(sim.config.seed, &format!("{salt}|{t}|{i}")) % 100;
            if w < 10 {
                0
            } else {
                w
            }
        })
        .collect();
    let total: u64 = weights.iter().sum();
    let mut before = 0;
    let mut out = Vec::new();
    for (v, w) in values.into_iter().zip(weights) {
        let b = row.base.share(before, before + w, total);
        before += w;
        if w > 0 && !b.is_zero() {
            out.push((v, b));
        }
    }
    out
}

/// A row's targeting entries: `{targeting_type, targeting_value, metrics: {ID: number, DATE, …}}`.
pub fn targeting_entries(sim: &PinterestSim, q: &Query, row: &Row) -> Vec<Value> {
    let id = entity_id(sim, q.level, row.entity);
    let date = row.date.as_deref().unwrap_or("");
    let lineage = lineage(sim, q.level, row.entity);
    let mut out = Vec::new();
    for t in &q.targeting {
        for (value, base) in split(sim, q, row, t, &format!("{id}|{date}")) {
            let part = Row {
                entity: row.entity,
                date: row.date.clone(),
                base,
            };
            let mut m = Map::new();
            m.insert(q.level.id_key().into(), json!(id));
            if let Some(d) = &row.date {
                m.insert("DATE".into(), json!(d));
            }
            let salt = format!("{id}|{date}|{t}|{value}");
            fill(sim, &mut m, q, &part, &lineage, Zeros::SomeDropped, &salt);
            out.push(json!({"targeting_type": t, "targeting_value": value, "metrics": m}));
        }
    }
    out
}

/// The report key of a level's id (ads report as pin promotions and carry both ids).
fn report_key(level: Level) -> &'static str {
    match level {
        Level::Advertiser => "ADVERTISER_ID",
        Level::Ad => "PIN_PROMOTION_ID",
        l => l.id_key(),
    }
}

/// An async report's rows (`BY_ID`): `{"<entity id>": [row, …]}`, ids as numbers inside, zeros
/// left out, targeting rows with `TARGETING_TYPE` and `TARGETING_VALUE`.
pub fn report_rows(sim: &PinterestSim, q: &Query, clock: Clock) -> Vec<(u64, Value)> {
    let mut out = Vec::new();
    for row in compute(sim, q, clock) {
        let id = entity_id(sim, q.level, row.entity);
        let lineage = lineage(sim, q.level, row.entity);
        let head = |m: &mut Map<String, Value>| {
            if let Some(d) = &row.date {
                m.insert("DATE".into(), json!(d));
            }
            m.insert(report_key(q.level).into(), json!(id));
            if q.level == Level::Ad {
                m.insert("AD_ID".into(), json!(id));
            }
        };
        if q.targeting.is_empty() {
            let mut m = Map::new();
            head(&mut m);
            fill(sim, &mut m, q, &row, &lineage, Zeros::AllDropped, "");
            out.push((id, Value::Object(m)));
            continue;
        }
        for t in &q.targeting {
            let salt = format!("{id}|{}", row.date.as_deref().unwrap_or(""));
            for (value, base) in split(sim, q, &row, t, &salt) {
                let part = Row {
                    entity: row.entity,
                    date: row.date.clone(),
                    base,
                };
                let mut m = Map::new();
                head(&mut m);
                m.insert("TARGETING_TYPE".into(), json!(t));
                m.insert("TARGETING_VALUE".into(), value);
                fill(sim, &mut m, q, &part, &lineage, Zeros::AllDropped, "");
                out.push((id, Value::Object(m)));
            }
        }
    }
    out
}

/// `{"<id>": [rows]}` of [`report_rows`].
pub fn report_json(sim: &PinterestSim, q: &Query, clock: Clock) -> Value {
    let mut by_id: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for (id, row) in report_rows(sim, q, clock) {
        by_id.entry(id).or_default().push(row);
    }
    Value::Object(
        by_id
            .into_iter()
            .map(|(id, rows)| (id.to_string(), Value::Array(rows)))
            .collect(),
    )
}

/// `columns`: comma-separated members of `allowed`; `DATE` is not one.
pub fn columns(p: &Params, allowed: &[&str]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let list = p.list("columns");
    if list.is_empty() {
        return Err("Missing required parameter 'columns'".into());
    }
    for c in list {
        check_column(&c, allowed)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

pub fn check_column(c: &str, allowed: &[&str]) -> Result<(), String> {
    if c == "DATE" {
        return Err("Parameter 'columns' has an invalid value 'DATE': DATE is not a column (rows carry it for time granularities)".into());
    }
    if !allowed.contains(&c) {
        return Err(format!(
            "Parameter 'columns' has an invalid value '{c}' (not a reporting column)"
        ));
    }
    Ok(())
}

/// The date limits of an analytics request: `back` days before today at most, `range` days
/// between start and end at most (inclusive days are one more).
pub struct Limits {
    pub back: i64,
    pub range: i64,
}

pub fn check_dates(
    sim: &PinterestSim,
    what: &str,
    start: NaiveDate,
    end: NaiveDate,
    limits: &Limits,
    hour: bool,
) -> Result<(), ApiError> {
    let today = sim.clock().today;
    let refuse = |m: String| {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            sim.config.date_limit_code,
            format!("Invalid {what} parameters. {m}"),
        ))
    };
    let with = if hour { " with HOUR granularity" } else { "" };
    if end < start {
        return refuse(format!(
            "end_date ({end}) cannot be before start_date ({start})."
        ));
    }
    let earliest = today - Duration::days(limits.back);
    if start < earliest {
        return refuse(format!(
            "You can only get data from the last {} days{with}: start_date {start} is before {earliest} (UTC).",
            limits.back
        ));
    }
    let span = (end - start).num_days();
    if span > limits.range {
        return refuse(format!(
            "The maximum time range is {} days{with}: end_date {end} is {span} days past start_date {start}.",
            limits.range
        ));
    }
    Ok(())
}

/// The attribution parameters (`*_window_days`, `conversion_report_time`) of a query string.
pub fn attribution(p: &Params) -> Result<Attribution, String> {
    let d = Attribution::default();
    let time = params::one_of(
        p,
        "conversion_report_time",
        &["TIME_OF_AD_ACTION", "TIME_OF_CONVERSION"],
        "TIME_OF_AD_ACTION",
    )?;
    Ok(Attribution {
        windows: [
            params::window(
                "click_window_days",
                p.get("click_window_days"),
                d.windows[0],
            )?,
            params::window(
                "engagement_window_days",
                p.get("engagement_window_days"),
                d.windows[1],
            )?,
            params::window("view_window_days", p.get("view_window_days"), d.windows[2])?,
        ],
        at_conversion: time == "TIME_OF_CONVERSION",
    })
}

/// The (campaign, pin) pairs of the account's ads, of `campaign` (any when `None`) and `pins`
/// (any when empty): (pin id, index).
fn pin_entities(
    sim: &PinterestSim,
    account: usize,
    campaign: Option<u64>,
    pins: &[u64],
) -> Vec<(u64, usize)> {
    let d = &sim.data;
    d.assets
        .promoted_pins
        .iter()
        .enumerate()
        .filter(|(_, (c, pin))| {
            let c = &d.campaigns[*c];
            c.account == account
                && campaign.is_none_or(|x| x == c.id)
                && (pins.is_empty() || pins.contains(pin))
        })
        .map(|(i, (_, pin))| (*pin, i))
        .collect()
}

/// The product groups promoted in the account, of `ids` (any when empty): (id, index).
fn product_group_entities(sim: &PinterestSim, account: usize, ids: &[u64]) -> Vec<(u64, usize)> {
    let a = &sim.data.assets;
    a.product_groups
        .iter()
        .zip(&a.product_group_ads)
        .enumerate()
        .filter(|(_, (g, ad))| {
            ad.as_ref().is_some_and(|ad| ad.account == account)
                && (ids.is_empty() || ids.contains(&g.id))
        })
        .map(|(i, (g, _))| (g.id, i))
        .collect()
}

/// The entities a sync request names, which must belong to the account; in id order.
fn named_entities(
    sim: &PinterestSim,
    account: usize,
    level: Level,
    p: &Params,
    targeting: bool,
) -> Result<Vec<usize>, String> {
    let d = &sim.data;
    let required = |name: &str, ids: Vec<u64>| {
        if ids.is_empty() {
            Err(format!("Missing required parameter '{name}'"))
        } else {
            Ok(ids)
        }
    };
    let mut out: Vec<(u64, usize)> = match level {
        Level::Advertiser => return Ok(vec![account]),
        Level::Campaign => {
            let ids = required("campaign_ids", params::ids(p, "campaign_ids", 250)?)?;
            d.campaigns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.account == account && ids.contains(&c.id))
                .map(|(i, c)| (c.id, i))
                .collect()
        }
        Level::AdGroup => {
            let ids = required("ad_group_ids", params::ids(p, "ad_group_ids", 250)?)?;
            d.ad_groups
                .iter()
                .enumerate()
                .filter(|(_, g)| g.account == account && ids.contains(&g.id))
                .map(|(i, g)| (g.id, i))
                .collect()
        }
        Level::Ad => {
            let ad_ids = params::ids(p, "ad_ids", 250)?;
            let campaign_ids = params::ids(p, "campaign_ids", 250)?;
            let pin_ids = params::ids(p, "pin_ids", 100)?;
            let mine = d
                .ads
                .iter()
                .enumerate()
                .filter(|(_, a)| a.account == account);
            if !ad_ids.is_empty() {
                mine.filter(|(_, a)| ad_ids.contains(&a.id))
                    .map(|(i, a)| (a.id, i))
                    .collect()
            } else if targeting {
                return Err("Missing required parameter 'ad_ids'".into());
            } else if !campaign_ids.is_empty() && !pin_ids.is_empty() {
                mine.filter(|(_, a)| {
                    campaign_ids.contains(&d.campaigns[a.campaign].id)
                        && pin_ids.contains(&a.pin_id)
                })
                .map(|(i, a)| (a.id, i))
                .collect()
            } else {
                return Err(
                    "Missing required parameter 'ad_ids' (or 'campaign_ids' with 'pin_ids')".into(),
                );
            }
        }
        Level::Pin => {
            let campaign = params::id("campaign_id", p.required("campaign_id")?)?;
            let pins = required("pin_ids", params::ids(p, "pin_ids", 100)?)?;
            pin_entities(sim, account, Some(campaign), &pins)
        }
        Level::ProductGroup => {
            let ids = required(
                "product_group_ids",
                params::ids(p, "product_group_ids", 250)?,
            )?;
            product_group_entities(sim, account, &ids)
        }
    };
    out.sort();
    Ok(out.into_iter().map(|(_, i)| i).collect())
}

fn parse_sync(
    sim: &PinterestSim,
    account: usize,
    level: Level,
    targeting: bool,
    raw: &str,
) -> Result<Query, ApiError> {
    let p = Params::parse(raw);
    let bad = ApiError::invalid;
    let entities = named_entities(sim, account, level, &p, targeting).map_err(bad)?;
    let start = params::date("start_date", p.required("start_date").map_err(bad)?).map_err(bad)?;
    let end = params::date("end_date", p.required("end_date").map_err(bad)?).map_err(bad)?;
    let columns = columns(&p, SYNC_COLUMNS).map_err(bad)?;
    let granularity = params::one_of(&p, "granularity", &Granularity::NAMES, "")
        .map_err(bad)
        .and_then(|g| {
            Granularity::parse(g)
                .ok_or_else(|| bad("Missing required parameter 'granularity'".into()))
        })?;
    let attr = attribution(&p).map_err(bad)?;
    params::one_of(
        &p,
        "reporting_timezone",
        &["PINTEREST_TIME_ZONE", "AD_ACCOUNT_TIME_ZONE"],
        "PINTEREST_TIME_ZONE",
    )
    .map_err(bad)?;
    params::boolean(&p, "aggregate_report_rows", false).map_err(bad)?;
    let targeting_types = if targeting {
        let (allowed, max) = level.targeting_types();
        let t = params::enums(&p, "targeting_types", allowed, max).map_err(bad)?;
        if t.is_empty() {
            return Err(bad("Missing required parameter 'targeting_types'".into()));
        }
        params::enums(&p, "attribution_types", &["INDIVIDUAL", "HOUSEHOLD"], 2).map_err(bad)?;
        t
    } else {
        Vec::new()
    };
    let hour = granularity == Granularity::Hour;
    let limits = if hour {
        Limits { back: 8, range: 3 }
    } else {
        Limits {
            back: 90,
            range: 90,
        }
    };
    let what = format!(
        "{} {}analytics",
        level.what(),
        if targeting { "targeting " } else { "" }
    );
    check_dates(sim, &what, start, end, &limits, hour)?;
    Ok(Query {
        account,
        level,
        entities,
        start,
        end,
        columns,
        granularity,
        attr,
        targeting: targeting_types,
    })
}

/// `misfit`: the first row's first numeric metric arrives as a string.
fn misfit(rows: &mut [Value], targeting: bool) {
    let first = match rows.first_mut() {
        Some(r) if targeting => r.get_mut("metrics"),
        r => r,
    };
    if let Some(Value::Object(m)) = first {
        if let Some((_, v)) = m.iter_mut().find(|(k, v)| *k != "DATE" && v.is_number()) {
            *v = json!(v.to_string());
        }
    }
}

/// The column `new-column` adds: not in the API's enum, so no client asks for it.
pub const NEW_COLUMN: &str = "NEW_METRIC_SANDBOX";

/// `new-column`: every row carries [`NEW_COLUMN`] (a count, as most new metrics are).
fn new_column(rows: &mut [Value], targeting: bool) {
    for (i, row) in rows.iter_mut().enumerate() {
        let target = if targeting {
            row.get_mut("metrics")
        } else {
            Some(row)
        };
        if let Some(Value::Object(m)) = target {
            m.insert(NEW_COLUMN.to_string(), json!(i + 1));
        }
    }
}

fn serve(ctx: &Ctx<'_>, id: &str, level: Level, targeting: bool, raw: &str) -> Response {
    let sim = ctx.sim;
    let q = match account(sim, id).and_then(|a| parse_sync(sim, a, level, targeting, raw)) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let rows = compute(sim, &q, sim.clock());
    let mut out: Vec<Value> = if targeting {
        rows.iter()
            .flat_map(|r| targeting_entries(sim, &q, r))
            .collect()
    } else {
        rows.iter().map(|r| sync_row(sim, &q, r)).collect()
    };
    if ctx.has(FaultKind::Misfit) {
        misfit(&mut out, targeting);
    }
    if ctx.has(FaultKind::NewColumn) {
        new_column(&mut out, targeting);
    }
    if targeting {
        Json(json!({"data": out})).into_response()
    } else {
        Json(Value::Array(out)).into_response()
    }
}

async fn endpoint(
    shared: Arc<Shared>,
    route: &'static str,
    level: Level,
    targeting: bool,
    id: String,
    headers: HeaderMap,
    raw: Option<String>,
) -> Response {
    let raw = raw.unwrap_or_default();
    api(&shared, route, Category::AdsAnalytics, &headers, |ctx| {
        serve(ctx, &id, level, targeting, &raw)
    })
    .await
}

macro_rules! analytics_route {
    ($name:ident, $route:literal, $level:expr, $targeting:expr) => {
        pub async fn $name(
            State(shared): State<Arc<Shared>>,
            Path(id): Path<String>,
            headers: HeaderMap,
            RawQuery(raw): RawQuery,
        ) -> Response {
            endpoint(shared, $route, $level, $targeting, id, headers, raw).await
        }
    };
}

analytics_route!(
    account_analytics,
    "/v5/ad_accounts/{ad_account_id}/analytics",
    Level::Advertiser,
    false
);
analytics_route!(
    campaigns,
    "/v5/ad_accounts/{ad_account_id}/campaigns/analytics",
    Level::Campaign,
    false
);
analytics_route!(
    ad_groups,
    "/v5/ad_accounts/{ad_account_id}/ad_groups/analytics",
    Level::AdGroup,
    false
);
analytics_route!(
    ads,
    "/v5/ad_accounts/{ad_account_id}/ads/analytics",
    Level::Ad,
    false
);
analytics_route!(
    pins,
    "/v5/ad_accounts/{ad_account_id}/pins/analytics",
    Level::Pin,
    false
);
analytics_route!(
    product_groups,
    "/v5/ad_accounts/{ad_account_id}/product_groups/analytics",
    Level::ProductGroup,
    false
);
analytics_route!(
    account_targeting,
    "/v5/ad_accounts/{ad_account_id}/targeting_analytics",
    Level::Advertiser,
    true
);
analytics_route!(
    campaigns_targeting,
    "/v5/ad_accounts/{ad_account_id}/campaigns/targeting_analytics",
    Level::Campaign,
    true
);
analytics_route!(
    ad_groups_targeting,
    "/v5/ad_accounts/{ad_account_id}/ad_groups/targeting_analytics",
    Level::AdGroup,
    true
);
analytics_route!(
    ads_targeting,
    "/v5/ad_accounts/{ad_account_id}/ads/targeting_analytics",
    Level::Ad,
    true
);

/// Every entity of `level` in the account (all statuses), or those of `ids`; in id order.
pub fn all_entities(sim: &PinterestSim, account: usize, level: Level, ids: &[u64]) -> Vec<usize> {
    let d = &sim.data;
    let keep = |id: u64| ids.is_empty() || ids.contains(&id);
    let mut out: Vec<(u64, usize)> = match level {
        Level::Advertiser => return vec![account],
        Level::Campaign => d
            .campaigns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.account == account && keep(c.id))
            .map(|(i, c)| (c.id, i))
            .collect(),
        Level::AdGroup => d
            .ad_groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.account == account && keep(g.id))
            .map(|(i, g)| (g.id, i))
            .collect(),
        Level::Ad => d
            .ads
            .iter()
            .enumerate()
            .filter(|(_, a)| a.account == account && keep(a.id))
            .map(|(i, a)| (a.id, i))
            .collect(),
        Level::Pin => pin_entities(sim, account, None, ids),
        Level::ProductGroup => product_group_entities(sim, account, ids),
    };
    out.sort();
    out.into_iter().map(|(_, i)| i).collect()
}

fn truth_query(sim: &PinterestSim, p: &Params, report: bool) -> Result<Query, String> {
    let level = p.required("level")?;
    let level = Level::parse(level).ok_or_else(|| {
        format!(
            "level must be ADVERTISER, CAMPAIGN, AD_GROUP, AD, PIN or PRODUCT_GROUP (was {level})"
        )
    })?;
    let account_id = p
        .get("ad_account_id")
        .unwrap_or(crate::credentials::PINTEREST_AD_ACCOUNT_ID);
    let account = sim
        .data
        .account_index(account_id)
        .ok_or_else(|| format!("unknown ad_account_id {account_id}"))?;
    let mut ids = params::ids(p, "ids", usize::MAX)?;
    ids.extend(match level {
        Level::Pin => params::ids(p, "pin_ids", usize::MAX)?,
        Level::ProductGroup => params::ids(p, "product_group_ids", usize::MAX)?,
        _ => Vec::new(),
    });
    let entities = if level == Level::Pin {
        let campaign = params::id("campaign_id", p.required("campaign_id")?)?;
        let mut pairs = pin_entities(sim, account, Some(campaign), &ids);
        pairs.sort();
        pairs.into_iter().map(|(_, i)| i).collect()
    } else {
        all_entities(sim, account, level, &ids)
    };
    let granularity = params::one_of(p, "granularity", &Granularity::NAMES, "DAY")?;
    let targeting = p.list("targeting_types");
    if report {
        params::check_enums(
            "targeting_types",
            &targeting,
            REPORT_TARGETING_TYPES,
            usize::MAX,
        )?;
    } else {
        params::check_enums(
            "targeting_types",
            &targeting,
            level.targeting_types().0,
            usize::MAX,
        )?;
    }
    Ok(Query {
        account,
        level,
        entities,
        start: params::date("start_date", p.required("start_date")?)?,
        end: params::date("end_date", p.required("end_date")?)?,
        columns: columns(p, if report { ASYNC_COLUMNS } else { SYNC_COLUMNS })?,
        granularity: Granularity::parse(granularity).unwrap_or(Granularity::Day),
        attr: attribution(p)?,
        targeting,
    })
}

/// `GET /_sandbox/pinterest/analytics?level=…&start_date=…&end_date=…&columns=…`: the rows the
/// endpoint of that level returns for the range and every entity of the level (all statuses, or
/// those of `ids`), without the date limits. With `targeting_types` the targeting body
/// (`{"data": […]}`); with `shape=report` an async report's body (`{"<id>": [rows]}`).
///
/// `level=PIN&campaign_id=C[&pin_ids=P1,P2]`: the rows of `pins/analytics` for campaign C (its
/// promoted pins, or those of `pin_ids`); `level=PRODUCT_GROUP[&product_group_ids=G1,G2]`: the
/// rows of `product_groups/analytics` (every product group promoted in the account, or those);
/// with `shape=report` the PRODUCT_GROUP report body. Other optional parameters: `ad_account_id`
/// (default the main account), `granularity` (default DAY), the attribution parameters.
pub async fn truth(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let sim = &shared.pinterest;
    let p = Params::parse(raw.as_deref().unwrap_or(""));
    let report = p.get("shape") == Some("report");
    let q = match truth_query(sim, &p, report) {
        Ok(q) => q,
        Err(m) => return (StatusCode::BAD_REQUEST, m).into_response(),
    };
    let clock = sim.clock();
    if report {
        return Json(report_json(sim, &q, clock)).into_response();
    }
    let rows = compute(sim, &q, clock);
    if q.targeting.is_empty() {
        Json(Value::Array(
            rows.iter().map(|r| sync_row(sim, &q, r)).collect(),
        ))
        .into_response()
    } else {
        let data: Vec<Value> = rows
            .iter()
            .flat_map(|r| targeting_entries(sim, &q, r))
            .collect();
        Json(json!({"data": data})).into_response()
    }
}
