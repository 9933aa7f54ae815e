//! `GET /rest/adAnalytics` (and its tunneled `POST` with `X-HTTP-Method-Override: GET`): the
//! `analytics` and `statistics` finders, facets, granularities, the 20-field limit, the silent
//! element cap, the daily and data-volume throttles, and the truth route.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Datelike, NaiveDate, Utc};
use serde_json::{json, Map, Value};

use super::metrics::{self, Pivot, Vector, METRICS};
use super::restli::{Params, Value as RValue};
use super::{
    api, bad_request, too_many, Ctx, LinkedInSim, DATA_VOLUME, DAY_LIMIT_APP, DAY_LIMIT_MEMBER,
    MEMBER,
};
use crate::faults::FaultKind;
use crate::Shared;

const ROUTE: &str = "/rest/adAnalytics";
/// At most this many `fields`, `dateRange` and `pivotValues` included.
const MAX_FIELDS: usize = 20;
const MAX_PIVOTS: usize = 3;
const VOLUME_WINDOW: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Daily,
    Monthly,
    Yearly,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    DateRange,
    PivotValues,
    Metric(usize),
}

/// A validated analytics request.
pub struct Query {
    pivots: Vec<Pivot>,
    granularity: Granularity,
    start: NaiveDate,
    end: NaiveDate,
    fields: Vec<Field>,
    /// creatives under every facet given
    creatives: Vec<usize>,
}

impl Query {
    fn metric_fields(&self) -> u64 {
        self.fields
            .iter()
            .filter(|f| matches!(f, Field::Metric(_)))
            .count() as u64
    }
}

/// The facets a request may filter by, with their URN prefixes.
const FACETS: &[(&str, &str)] = &[
    ("accounts", "urn:li:sponsoredAccount:"),
    ("campaignGroups", "urn:li:sponsoredCampaignGroup:"),
    ("campaigns", "urn:li:sponsoredCampaign:"),
    ("creatives", "urn:li:sponsoredCreative:"),
];

/// An enum parameter, bare (`CAMPAIGN`) or in union form (`(value:CAMPAIGN)`).
fn enum_value<'a>(name: &str, v: &'a RValue) -> Result<&'a str, String> {
    match v {
        RValue::Atom(s) => Ok(s),
        RValue::Record(m) if m.len() == 1 => m
            .get("value")
            .and_then(RValue::as_atom)
            .ok_or_else(|| format!("parameter `{name}` must be an enum or (value:ENUM)")),
        _ => Err(format!(
            "parameter `{name}` must be an enum or (value:ENUM)"
        )),
    }
}

fn parse_pivot(name: &str, v: &RValue) -> Result<Pivot, String> {
    let text = enum_value(name, v)?;
    Pivot::parse(text).ok_or_else(|| format!("Invalid value {text} for parameter `{name}`"))
}

fn date_of(name: &str, v: &RValue) -> Result<NaiveDate, String> {
    let part = |k: &str| -> Result<i64, String> {
        v.get(k)
            .and_then(RValue::as_atom)
            .ok_or_else(|| format!("dateRange.{name}.{k} is required"))?
            .parse::<i64>()
            .map_err(|_| format!("dateRange.{name}.{k} must be a number"))
    };
    let (y, m, d) = (part("year")?, part("month")?, part("day")?);
    i32::try_from(y)
        .ok()
        .zip(u32::try_from(m).ok())
        .zip(u32::try_from(d).ok())
        .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| format!("dateRange.{name} {y}-{m}-{d} is not a valid date"))
}

fn field_of(name: &str) -> Result<Field, String> {
    match name {
        "dateRange" => Ok(Field::DateRange),
        "pivotValues" => Ok(Field::PivotValues),
        "pivot" | "pivotValue" => Err(format!(
            "Field `{name}` is not supported anymore: `pivot` and `pivotValue` is not supported anymore, use `pivotValues`"
        )),
        other => metrics::metric_index(other)
            .map(Field::Metric)
            .ok_or_else(|| format!("Unknown field `{other}` in `fields`")),
    }
}

fn parse_fields(names: &[String]) -> Result<Vec<Field>, String> {
    if names.len() > MAX_FIELDS {
        return Err(format!(
            "Too many fields requested: {} fields were requested in `fields`, but at most {MAX_FIELDS} are allowed (dateRange and pivotValues included)",
            names.len()
        ));
    }
    let mut out = Vec::new();
    for n in names {
        let f = field_of(n)?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

fn default_fields() -> Vec<Field> {
    vec![
        Field::DateRange,
        Field::PivotValues,
        Field::Metric(0),
        Field::Metric(1),
    ]
}

/// The creatives under every facet given, from `(facet, ids)`.
fn scope(sim: &LinkedInSim, facets: &[(&str, Vec<u64>)]) -> Vec<usize> {
    let d = &sim.data;
    d.creatives
        .iter()
        .enumerate()
        .filter(|(_, cr)| {
            facets.iter().all(|(facet, ids)| {
                let id = match *facet {
                    "accounts" => d.accounts.get(cr.account).map(|a| a.id),
                    "campaignGroups" => d
                        .campaigns
                        .get(cr.campaign)
                        .and_then(|c| d.groups.get(c.group))
                        .map(|g| g.id),
                    "campaigns" => d.campaigns.get(cr.campaign).map(|c| c.id),
                    _ => Some(cr.id),
                };
                id.is_some_and(|id| ids.contains(&id))
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// Validate an API request's decoded parameters.
fn parse_request(sim: &LinkedInSim, p: &Params) -> Result<Query, String> {
    let q = p
        .get("q")
        .and_then(RValue::as_atom)
        .ok_or("Parameter `q` is required (analytics or statistics)")?;
    let pivots = match q {
        "analytics" => {
            if p.contains_key("pivots") {
                return Err(
                    "Parameter `pivots` is not allowed with q=analytics; use `pivot`".into(),
                );
            }
            let v = p
                .get("pivot")
                .ok_or("Parameter `pivot` is required with q=analytics")?;
            vec![parse_pivot("pivot", v)?]
        }
        "statistics" => {
            if p.contains_key("pivot") {
                return Err(
                    "Parameter `pivot` is not allowed with q=statistics; use `pivots`".into(),
                );
            }
            let Some(RValue::List(items)) = p.get("pivots") else {
                return Err("Parameter `pivots` is required with q=statistics, as List(…)".into());
            };
            if items.is_empty() || items.len() > MAX_PIVOTS {
                return Err(format!(
                    "Parameter `pivots` must have 1 to {MAX_PIVOTS} values, got {}",
                    items.len()
                ));
            }
            let pivots = items
                .iter()
                .map(|v| parse_pivot("pivots", v))
                .collect::<Result<Vec<_>, _>>()?;
            let distinct: BTreeSet<String> = pivots.iter().map(|p| format!("{p:?}")).collect();
            if distinct.len() != pivots.len() {
                return Err("Parameter `pivots` repeats a pivot".into());
            }
            pivots
        }
        "attributedRevenueMetrics" => {
            return Err(
                "q=attributedRevenueMetrics needs a connected CRM (not in the sandbox)".into(),
            )
        }
        other => return Err(format!("Invalid finder q={other}")),
    };
    let granularity = match p.get("timeGranularity") {
        None => return Err("Parameter `timeGranularity` is required".into()),
        Some(v) => match enum_value("timeGranularity", v)? {
            "DAILY" => Granularity::Daily,
            "MONTHLY" => Granularity::Monthly,
            "YEARLY" => Granularity::Yearly,
            "ALL" => Granularity::All,
            other => {
                return Err(format!(
                    "Invalid value {other} for parameter `timeGranularity`"
                ))
            }
        },
    };
    let range = p
        .get("dateRange")
        .ok_or("Parameter `dateRange` is required")?;
    let start = date_of(
        "start",
        range.get("start").ok_or("dateRange.start is required")?,
    )?;
    let end = match range.get("end") {
        Some(e) => date_of("end", e)?,
        None => Utc::now().date_naive(),
    };
    if end < start {
        return Err(format!(
            "dateRange.end {end} is before dateRange.start {start}"
        ));
    }
    let mut facets = Vec::new();
    for (facet, prefix) in FACETS {
        let Some(v) = p.get(*facet) else { continue };
        let RValue::List(items) = v else {
            return Err(format!("Parameter `{facet}` must be a List(…) of URNs"));
        };
        if items.is_empty() {
            return Err(format!("Parameter `{facet}` must not be an empty List"));
        }
        let mut ids = Vec::new();
        for item in items {
            let urn = item
                .as_atom()
                .ok_or_else(|| format!("Parameter `{facet}` must hold URNs"))?;
            let id = urn
                .strip_prefix(prefix)
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| {
                    format!("Invalid URN `{urn}` in `{facet}`: expected {prefix}<number>")
                })?;
            ids.push(id);
        }
        facets.push((*facet, ids));
    }
    if facets.is_empty() {
        return Err(
            "At least one facet is required: accounts, campaignGroups, campaigns or creatives"
                .into(),
        );
    }
    let fields = match p.get("fields") {
        None => default_fields(),
        Some(RValue::List(items)) => {
            let names = items
                .iter()
                .map(|v| v.as_atom().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or("Parameter `fields` must be a comma list of names")?;
            if names.is_empty() {
                default_fields()
            } else {
                parse_fields(&names)?
            }
        }
        Some(RValue::Atom(a)) if a.is_empty() => default_fields(),
        Some(_) => return Err("Parameter `fields` must be a comma list of names".into()),
    };
    Ok(Query {
        pivots,
        granularity,
        start,
        end,
        creatives: scope(sim, &facets),
        fields,
    })
}

/// The bucket `day` falls in, clipped to the request.
fn bucket(q: &Query, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let (from, to) = match q.granularity {
        Granularity::Daily => (day, day),
        Granularity::Monthly => {
            let first = day.with_day(1).unwrap_or(day);
            let next = first
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(first);
            (first, next.pred_opt().unwrap_or(first))
        }
        Granularity::Yearly => (
            NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day),
            NaiveDate::from_ymd_opt(day.year(), 12, 31).unwrap_or(day),
        ),
        Granularity::All => (q.start, q.end),
    };
    (from.max(q.start), to.min(q.end))
}

type Key = (NaiveDate, NaiveDate, Vec<String>);

/// Every element of the answer, uncapped, in (date, pivot values) order.
fn compute(sim: &LinkedInSim, q: &Query) -> Vec<Value> {
    let data = &sim.data;
    let seed = sim.config.seed;
    let mut sums: BTreeMap<Key, Vector> = BTreeMap::new();
    let last = q.end.min(data.anchor);
    for &ci in &q.creatives {
        let Some(creative) = data.creatives.get(ci) else {
            continue;
        };
        // only the campaign's delivery window can hold rows
        let Some((from, to)) = data.campaigns.get(creative.campaign).and_then(|c| c.active) else {
            continue;
        };
        let last = to.map_or(last, |t| t.min(last));
        let mut day = q.start.max(from);
        while day <= last {
            if let Some(v) = metrics::daily(data, seed, ci, day) {
                // pieces: (pivot values so far, vector)
                let mut pieces: Vec<(Vec<String>, Vector)> = vec![(Vec::new(), v)];
                for &pivot in &q.pivots {
                    let mut next = Vec::new();
                    for (values, v) in pieces {
                        if let Some(value) = pivot.entity_value(data, creative) {
                            let mut vs = values;
                            vs.push(value);
                            next.push((vs, v));
                        } else {
                            for (value, piece) in metrics::split(data, seed, pivot, ci, day, &v) {
                                let mut vs = values.clone();
                                vs.push(value);
                                next.push((vs, piece));
                            }
                        }
                    }
                    pieces = next;
                }
                let (from, to) = bucket(q, day);
                for (values, v) in pieces {
                    let sum = sums.entry((from, to, values)).or_insert([0; metrics::N]);
                    for (s, x) in sum.iter_mut().zip(v.iter()) {
                        *s += x;
                    }
                }
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
    }
    sums.into_iter()
        .map(|((from, to, values), v)| element(q, from, to, values, &v))
        .collect()
}

fn ymd(d: NaiveDate) -> Value {
    json!({"year": d.year(), "month": d.month(), "day": d.day()})
}

fn element(q: &Query, from: NaiveDate, to: NaiveDate, values: Vec<String>, v: &Vector) -> Value {
    let mut m = Map::new();
    for f in &q.fields {
        match f {
            Field::DateRange => {
                m.insert(
                    "dateRange".into(),
                    json!({"start": ymd(from), "end": ymd(to)}),
                );
            }
            Field::PivotValues => {
                m.insert("pivotValues".into(), json!(values));
            }
            Field::Metric(i) => {
                m.insert(METRICS[*i].0.into(), metrics::render(*i, v));
            }
        }
    }
    Value::Object(m)
}

/// Count one request against the day counters; the 429 body if a counter is spent.
fn admit_daily(sim: &LinkedInSim) -> Option<Response> {
    let mut d = sim.daily.lock().unwrap_or_else(|p| p.into_inner());
    let today = Utc::now().date_naive();
    if d.day != today {
        d.day = today;
        d.app = 0;
        d.member.clear();
    }
    if sim.config.app_daily_limit.is_some_and(|n| d.app >= n) {
        return Some(too_many(DAY_LIMIT_APP));
    }
    let member = d.member.get(MEMBER).copied().unwrap_or_default();
    if sim.config.member_daily_limit.is_some_and(|n| member >= n) {
        return Some(too_many(DAY_LIMIT_MEMBER));
    }
    d.app += 1;
    *d.member.entry(MEMBER).or_default() += 1;
    None
}

/// Admit `values` metric values into the rolling 5-minute window, unless it would overflow.
fn admit_volume(sim: &LinkedInSim, values: u64) -> bool {
    let Some(limit) = sim.config.data_volume_limit else {
        return true;
    };
    let now = Instant::now();
    let mut w = sim.volume.lock().unwrap_or_else(|p| p.into_inner());
    while w
        .front()
        .is_some_and(|(t, _)| now.duration_since(*t) >= VOLUME_WINDOW)
    {
        w.pop_front();
    }
    let held: u64 = w.iter().map(|(_, n)| n).sum();
    if held + values > limit {
        return false;
    }
    w.push_back((now, values));
    true
}

fn handle(ctx: &Ctx<'_>) -> Response {
    let sim = ctx.sim;
    if ctx.has(FaultKind::DailyQuota) || ctx.has(FaultKind::LinkedInDailyQuota) {
        sim.count(|c| c.daily_429 += 1);
        return too_many(DAY_LIMIT_MEMBER);
    }
    if ctx.has(FaultKind::DataVolume) {
        sim.count(|c| c.data_volume_429 += 1);
        return too_many(DATA_VOLUME);
    }
    if let Some(r) = admit_daily(sim) {
        sim.count(|c| c.daily_429 += 1);
        return r;
    }
    let params = match ctx.params() {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    let q = match parse_request(sim, &params) {
        Ok(q) => q,
        Err(e) => return bad_request(&e),
    };
    let mut elements = compute(sim, &q);
    let total = elements.len();
    let cap = sim.config.elements_cap;
    let truncated = elements.len() > cap;
    if truncated {
        // the earliest rows go, as OWOX saw: "campaigns from the beginning of the period"
        elements.drain(..elements.len() - cap);
    }
    let values = elements.len() as u64 * q.metric_fields();
    if !admit_volume(sim, values) {
        sim.count(|c| c.data_volume_429 += 1);
        return too_many(DATA_VOLUME);
    }
    sim.count(|c| {
        c.truncated_responses += u64::from(truncated);
        c.metric_values += values;
    });
    let mut paging = json!({"start": 0, "count": 10, "links": []});
    if sim.config.expose_total {
        paging["total"] = total.into();
    }
    Json(json!({
        "paging": paging,
        "elements": elements,
    }))
    .into_response()
}

/// `GET /rest/adAnalytics`.
pub async fn get_analytics(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    api(
        &shared,
        ROUTE,
        &uri,
        &headers,
        query.unwrap_or_default(),
        handle,
    )
    .await
}

/// `POST /rest/adAnalytics` with `X-HTTP-Method-Override: GET`: the body is the query string.
pub async fn post_analytics(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let overridden = headers
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("GET"));
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .starts_with("application/x-www-form-urlencoded")
        });
    let query = match uri.query() {
        Some(q) if !q.is_empty() && !body.is_empty() => format!("{q}&{body}"),
        Some(q) if !q.is_empty() => q.to_string(),
        _ => body,
    };
    let sim = &shared.linkedin;
    api(&shared, ROUTE, &uri, &headers, query, |ctx| {
        if !overridden {
            return super::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "POST is not supported on /rest/adAnalytics; tunnel a GET with X-HTTP-Method-Override: GET",
            );
        }
        if !form {
            return bad_request(
                "A tunneled request needs Content-Type: application/x-www-form-urlencoded",
            );
        }
        sim.count(|c| c.tunneled += 1);
        handle(ctx)
    })
    .await
}

/// A truth-route id list: numbers or URNs, comma-separated.
fn truth_ids(text: &str, prefix: &str) -> Result<Vec<u64>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.strip_prefix(prefix)
                .unwrap_or(s)
                .parse::<u64>()
                .map_err(|_| format!("`{s}` is not an id or a {prefix}… URN"))
        })
        .collect()
}

/// `GET /_sandbox/linkedin/analytics?pivots=CAMPAIGN[,CREATIVE]&granularity=DAILY&start=…&end=…
/// &fields=a,b&accounts=…`: the elements the API answers, without the cap.
pub async fn truth(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let sim = &shared.linkedin;
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        args.insert(k.into_owned(), v.into_owned());
    }
    match truth_query(sim, &args) {
        Ok(q) => Json(json!({"elements": compute(sim, &q)})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}

fn truth_query(sim: &LinkedInSim, args: &BTreeMap<String, String>) -> Result<Query, String> {
    let arg = |k: &str| args.get(k).map(String::as_str).unwrap_or_default();
    let pivots = arg("pivots")
        .split(',')
        .chain(arg("pivot").split(','))
        .filter(|s| !s.is_empty())
        .map(|s| Pivot::parse(s).ok_or_else(|| format!("unknown pivot {s}")))
        .collect::<Result<Vec<_>, _>>()?;
    if pivots.is_empty() || pivots.len() > MAX_PIVOTS {
        return Err("pivots: 1 to 3 pivots, comma-separated".into());
    }
    let granularity = match args
        .get("granularity")
        .map(String::as_str)
        .unwrap_or("DAILY")
    {
        "DAILY" => Granularity::Daily,
        "MONTHLY" => Granularity::Monthly,
        "YEARLY" => Granularity::Yearly,
        "ALL" => Granularity::All,
        other => return Err(format!("unknown granularity {other}")),
    };
    let date = |k: &str| {
        NaiveDate::parse_from_str(arg(k), "%Y-%m-%d").map_err(|_| format!("{k}: YYYY-MM-DD"))
    };
    let start = date("start")?;
    let end = if arg("end").is_empty() {
        Utc::now().date_naive()
    } else {
        date("end")?
    };
    let fields = if arg("fields").is_empty() {
        default_fields()
    } else {
        let names: Vec<String> = arg("fields").split(',').map(str::to_string).collect();
        let mut out = Vec::new();
        for n in &names {
            let f = field_of(n)?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    };
    let mut facets = Vec::new();
    for (facet, prefix) in FACETS {
        if let Some(text) = args.get(*facet) {
            facets.push((*facet, truth_ids(text, prefix)?));
        }
    }
    if facets.is_empty() {
        return Err("one of accounts, campaignGroups, campaigns, creatives is required".into());
    }
    Ok(Query {
        pivots,
        granularity,
        start,
        end,
        creatives: scope(sim, &facets),
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linkedin::{restli, LinkedInConfig};

    fn query(sim: &LinkedInSim, text: &str) -> Result<Query, String> {
        let p = restli::parse_query(text, restli::Protocol::V2)?;
        parse_request(sim, &p)
    }

    #[test]
    fn account_rows_are_sums_of_campaign_rows() {
        let sim = LinkedInSim::new(LinkedInConfig::default());
        let account = sim.data.accounts[0].id;
        let base = format!(
            "timeGranularity=DAILY&dateRange=(start:(year:2000,month:1,day:1))&accounts=List(urn%3Ali%3AsponsoredAccount%3A{account})&fields=dateRange,pivotValues,impressions,clicks,costInUsd"
        );
        let by_account = compute(
            &sim,
            &query(&sim, &format!("q=analytics&pivot=ACCOUNT&{base}")).expect("valid"),
        );
        let by_campaign = compute(
            &sim,
            &query(&sim, &format!("q=analytics&pivot=(value:CAMPAIGN)&{base}")).expect("valid"),
        );
        let by_country = compute(
            &sim,
            &query(
                &sim,
                &format!("q=statistics&pivots=List(ACCOUNT,MEMBER_COUNTRY_V2)&{base}"),
            )
            .expect("valid"),
        );
        assert!(!by_account.is_empty());
        let total =
            |rows: &[Value]| -> u64 { rows.iter().filter_map(|r| r["impressions"].as_u64()).sum() };
        assert_eq!(total(&by_account), total(&by_campaign));
        assert!(total(&by_country) <= total(&by_account));
        assert!(total(&by_country) > 0);
        for r in &by_account {
            assert!(r["costInUsd"].is_string(), "{r}");
        }
    }

    #[test]
    fn validation_messages() {
        let sim = LinkedInSim::new(LinkedInConfig::default());
        let ok = "q=analytics&pivot=CAMPAIGN&timeGranularity=ALL&dateRange=(start:(year:2024,month:1,day:1))&campaigns=List(urn%3Ali%3AsponsoredCampaign%3A1)";
        assert!(query(&sim, ok).is_ok());
        let e = query(&sim, &format!("{ok}&fields=bogus"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("bogus"), "{e}");
        let e = query(&sim, "q=analytics&pivot=CAMPAIGN&timeGranularity=ALL&dateRange=(start:(year:2024,month:1,day:1))")
            .err()
            .unwrap_or_default();
        assert!(e.contains("facet"), "{e}");
        assert!(query(&sim, &ok.replace("pivot=CAMPAIGN", "pivot=NOPE")).is_err());
        assert!(query(&sim, &ok.replace("month:1", "month:13")).is_err());
        assert!(query(
            &sim,
            &ok.replace(
                "q=analytics&pivot=CAMPAIGN",
                "q=statistics&pivots=List(CAMPAIGN,CREATIVE,ACCOUNT,CAMPAIGN_GROUP)"
            )
        )
        .is_err());
    }
}
