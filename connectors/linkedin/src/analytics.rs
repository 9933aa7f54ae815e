//! `GET /rest/adAnalytics` over a window of days, within the endpoint's caps:
//! - at most 20 fields a request (`dateRange` and `pivotValues` included): the metrics go in
//!   chunks of 18, and the chunks' elements are merged back into one record per (pivot values,
//!   date range), as one unlimited request would give;
//! - no paging, and an answer silently cut at 15,000 elements: an answer that long (or one
//!   whose `paging.total` counts more than it holds) is never trusted; its date range is split in two (a single day: its facet list) and asked again,
//!   until every answer is under the cap;
//! - a URL longer than the server takes (414) goes as a tunnelled `POST` with
//!   `X-HTTP-Method-Override: GET` and the query as a form body.
//!
//! A range is committed whole: its days replace their earlier files, and a crash resumes at
//! the next range.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sluice_core::{ConnectorError, DayPages, DayWindow, PullContext};
use sluice_http::{HttpClient, HttpError, Request};

use crate::config::{Granularity, LinkedInSettings, ANALYTICS};
use crate::errors::connector_error;
use crate::restli;
use crate::streams::{self, Metric, Pivot};

/// Metrics a request names besides `dateRange` and `pivotValues` (20 fields at most).
pub const METRICS_PER_REQUEST: usize = 18;

/// Which finder asks: `q=analytics` by one pivot, or `q=statistics` by up to three (rows
/// with one URN per pivot in `pivotValues`).
#[derive(Debug, Clone)]
pub enum Finder {
    Analytics(Pivot),
    Statistics(Vec<Pivot>),
}

impl Finder {
    fn pivots(&self) -> &[Pivot] {
        match self {
            Finder::Analytics(p) => std::slice::from_ref(p),
            Finder::Statistics(ps) => ps,
        }
    }

    fn demographic(&self) -> bool {
        self.pivots().iter().any(|p| p.demographic)
    }

    /// `pivot CAMPAIGN` or `pivots CAMPAIGN, MEMBER_COUNTRY_V2`, for messages.
    fn describe(&self) -> String {
        let names: Vec<&str> = self.pivots().iter().map(|p| p.name).collect();
        match self {
            Finder::Analytics(_) => format!("pivot {}", names.join("")),
            Finder::Statistics(_) => format!("pivots {}", names.join(", ")),
        }
    }

    /// How long LinkedIn keeps the rows: performance 10 years, professional demographics 2.
    fn retention(&self) -> Months {
        Months::new(if self.demographic() { 24 } else { 120 })
    }
}

/// The metric chunks of one request set.
pub fn chunks(metrics: &[String]) -> Vec<Vec<String>> {
    if metrics.is_empty() {
        return vec![Vec::new()];
    }
    metrics
        .chunks(METRICS_PER_REQUEST)
        .map(<[String]>::to_vec)
        .collect()
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    done_through: Option<NaiveDate>,
}

/// Elements of one date range, merged by key.
type Merged = BTreeMap<String, Map<String, Value>>;

enum Outcome {
    Whole(Merged),
    /// An answer reached the cap: it may have been cut.
    Capped,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    elements: Vec<Map<String, Value>>,
    #[serde(default)]
    paging: Option<Paging>,
}

/// A server may say how many elements the answer had before it was cut.
#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    total: Option<u64>,
}

/// The elements of an answer, and whether the server says it left some out.
struct Elements {
    elements: Vec<Map<String, Value>>,
    cut: bool,
}

fn key(e: &Map<String, Value>) -> String {
    format!(
        "{}|{}",
        e.get("pivotValues")
            .map(Value::to_string)
            .unwrap_or_default(),
        e.get("dateRange").map(Value::to_string).unwrap_or_default()
    )
}

/// `a + b` of two decimal texts, exactly ("209.449" + "0.551" = "210.000").
fn add_decimal(a: &str, b: &str) -> Option<String> {
    let scale = |s: &str| s.split_once('.').map_or(0, |(_, f)| f.len());
    let digits = scale(a).max(scale(b));
    let units = |s: &str| -> Option<i128> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let neg = int.starts_with('-');
        let int: i128 = int.trim_start_matches('-').parse().ok()?;
        let mut frac = frac.to_string();
        while frac.len() < digits {
            frac.push('0');
        }
        let frac: i128 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        let v = int.checked_mul(10i128.checked_pow(digits as u32)?)? + frac;
        Some(if neg { -v } else { v })
    };
    let sum = units(a)? + units(b)?;
    if digits == 0 {
        return Some(sum.to_string());
    }
    let p = 10i128.pow(digits as u32);
    let sign = if sum < 0 { "-" } else { "" };
    let abs = sum.abs();
    Some(format!("{sign}{}.{:0digits$}", abs / p, abs % p))
}

/// Fold `other` (the same key, from another part of a split facet list) into `into`: counts
/// and money are added.
fn add_into(into: &mut Map<String, Value>, other: Map<String, Value>) {
    for (k, v) in other {
        match (into.get_mut(&k), v) {
            (None, v) => {
                into.insert(k, v);
            }
            (Some(Value::Number(a)), Value::Number(b)) => {
                if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
                    *a = (x + y).into();
                } else if let Some(n) = a
                    .as_f64()
                    .zip(b.as_f64())
                    .and_then(|(x, y)| serde_json::Number::from_f64(x + y))
                {
                    *a = n;
                }
            }
            (Some(Value::String(a)), Value::String(b))
                if streams::metric(&k) == Some(Metric::Money) =>
            {
                if let Some(sum) = add_decimal(a, &b) {
                    *a = sum;
                }
            }
            _ => {}
        }
    }
}

fn date_of(v: &Value) -> Option<NaiveDate> {
    let n = |k: &str| v.get(k).and_then(Value::as_u64);
    NaiveDate::from_ymd_opt(n("year")? as i32, n("month")? as u32, n("day")? as u32)
}

pub struct Pull<'a> {
    pub settings: &'a LinkedInSettings,
    pub http: &'a HttpClient,
    pub finder: Finder,
    pub metrics: Vec<String>,
}

impl Pull<'_> {
    fn query(&self, from: NaiveDate, to: NaiveDate, facets: &[String], chunk: &[String]) -> String {
        let facet = self.settings.facet.as_ref().map_or("accounts", |f| f.param);
        let mut fields = vec!["dateRange".to_string(), "pivotValues".to_string()];
        fields.extend(chunk.iter().cloned());
        let (q, pivot_param, pivot_value) = match &self.finder {
            Finder::Analytics(p) => ("analytics", "pivot", p.name.to_string()),
            Finder::Statistics(ps) => (
                "statistics",
                "pivots",
                restli::list(ps.iter().map(|p| p.name)),
            ),
        };
        restli::query(&[
            ("q", q.into()),
            (pivot_param, pivot_value),
            ("timeGranularity", self.settings.granularity.as_str().into()),
            ("dateRange", restli::date_range(from, to)),
            (facet, restli::list(facets.iter().map(String::as_str))),
            ("fields", fields.join(",")),
        ])
    }

    fn request(&self, query: &str, tunnel: bool) -> Request {
        let mut url = self.settings.url("adAnalytics");
        let request = if tunnel {
            Request::post_encoded_form(url, query.to_string())
                .header("x-http-method-override", "GET")
        } else {
            url.set_query(Some(query));
            Request::get(url)
        };
        request
            .header("linkedin-version", &self.settings.version)
            .header("x-restli-protocol-version", "2.0.0")
            .category(ANALYTICS)
    }

    async fn send_as(&self, query: &str, tunnel: bool) -> Result<(Elements, usize), HttpError> {
        self.http
            .send_parsed(&self.request(query, tunnel), |b: Bytes| {
                serde_json::from_slice::<Answer>(&b)
                    .map(|a| {
                        let total = a.paging.and_then(|p| p.total);
                        Elements {
                            cut: total.is_some_and(|t| t > a.elements.len() as u64),
                            elements: a.elements,
                        }
                    })
                    .map_err(|e| format!("not an adAnalytics answer: {e}"))
            })
            .await
    }

    /// One request: as a GET while its URL fits, else (or on a 414) tunnelled.
    async fn send(&self, query: &str) -> Result<(Elements, usize), ConnectorError> {
        let length = self.settings.url("adAnalytics").as_str().len() + 1 + query.len();
        let tunnel = length > self.settings.max_url_bytes;
        let result = match self.send_as(query, tunnel).await {
            Err(e) if !tunnel && e.status() == Some(414) => {
                tracing::info!(
                    url_bytes = length,
                    "the URL is too long for the server (414): tunnelling the query in a POST"
                );
                self.send_as(query, true).await
            }
            other => other,
        };
        result.map_err(|e| connector_error(&self.settings.flow, &self.settings.version, e))
    }

    /// Every element of one date range over `facets`, the metric chunks merged.
    async fn range(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        facets: &[String],
        bytes: &mut usize,
    ) -> Result<Outcome, ConnectorError> {
        let mut merged = Merged::new();
        for chunk in chunks(&self.metrics) {
            let q = self.query(from, to, facets, &chunk);
            let (answer, n) = self.send(&q).await?;
            *bytes += n;
            // at the cap, or short of the total the server counted: cut either way
            if answer.cut || answer.elements.len() >= self.settings.elements_cap {
                return Ok(Outcome::Capped);
            }
            for e in answer.elements {
                merged.entry(key(&e)).or_default().extend(e);
            }
        }
        Ok(Outcome::Whole(merged))
    }

    /// A date range whole; a single capped day is asked for by halves of its facet list, and
    /// the halves' elements of one key (an account over two campaign lists) are added.
    async fn whole(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        facets: &[String],
        bytes: &mut usize,
    ) -> Result<Outcome, ConnectorError> {
        match self.range(from, to, facets, bytes).await? {
            Outcome::Capped
                if (from == to || self.settings.granularity != Granularity::Daily)
                    && facets.len() > 1 =>
            {
                let (a, b) = facets.split_at(facets.len() / 2);
                tracing::info!(%from, %to, facets = facets.len(), "an answer reached the element cap: asking for the facet list in halves");
                let left = Box::pin(self.whole(from, to, a, bytes)).await?;
                let right = Box::pin(self.whole(from, to, b, bytes)).await?;
                Ok(match (left, right) {
                    (Outcome::Whole(mut l), Outcome::Whole(r)) => {
                        for (k, v) in r {
                            match l.get_mut(&k) {
                                Some(into) => add_into(into, v),
                                None => {
                                    l.insert(k, v);
                                }
                            }
                        }
                        Outcome::Whole(l)
                    }
                    _ => Outcome::Capped,
                })
            }
            other => Ok(other),
        }
    }

    pub async fn run(&self, ctx: &PullContext) -> Result<(), ConnectorError> {
        let window = ctx.task.window.ok_or_else(|| {
            ConnectorError::Config(
                "an analytics pull needs a day window (the engine plans one)".into(),
            )
        })?;
        let today = ctx.run_started.date_naive();
        let floor = today
            .checked_sub_months(self.finder.retention())
            .unwrap_or(today);
        let mut window = DayWindow {
            from: window.from,
            to: window.to.min(today),
        };
        if window.from < floor {
            tracing::warn!(
                from = %window.from,
                kept_from = %floor,
                pivots = %self.finder.describe(),
                "LinkedIn keeps {} data from {floor} on: the days before are not asked for",
                if self.finder.demographic() { "professional-demographic" } else { "performance" }
            );
            window.from = floor;
        }
        let progress: Progress = ctx
            .checkpoint
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let start = progress
            .done_through
            .map_or(window.from, |d| window.from.max(d + Days::new(1)));
        let facets = self
            .settings
            .facet
            .as_ref()
            .map(|f| f.urns.clone())
            .unwrap_or_default();
        // ranges still to pull, the earliest on top
        let mut pending = Vec::new();
        if start <= window.to {
            pending.push((start, window.to));
        }
        while let Some((from, to)) = pending.pop() {
            let mut bytes = 0;
            match self.whole(from, to, &facets, &mut bytes).await? {
                Outcome::Whole(merged) => {
                    self.send_range(ctx, DayWindow { from, to }, merged, bytes)
                        .await?
                }
                Outcome::Capped if from < to && self.settings.granularity == Granularity::Daily => {
                    let mid = from + Days::new(((to - from).num_days() / 2) as u64);
                    tracing::info!(%from, %to, cap = self.settings.elements_cap, "an answer reached the element cap (LinkedIn cuts it silently): asking for two halves of the range");
                    pending.push((mid + Days::new(1), to));
                    pending.push((from, mid));
                }
                Outcome::Capped => {
                    return Err(ConnectorError::Protocol {
                        endpoint: "adAnalytics".into(),
                        message: format!(
                            "{from}..{to} of {} has {} or more elements for a single \
                             facet even when asked for alone, and LinkedIn cuts such answers \
                             without saying so: name narrower `campaignIds` (or use \
                             time_granularity DAILY) so nothing is lost",
                            self.finder.describe(),
                            self.settings.elements_cap
                        ),
                    })
                }
            }
        }
        let done = Progress {
            done_through: Some(window.to),
        };
        ctx.complete(serde_json::to_value(done).ok()).await
    }

    /// One range's records in the seed's shape, a page per day, then the commit of its days.
    async fn send_range(
        &self,
        ctx: &PullContext,
        range: DayWindow,
        merged: Merged,
        bytes: usize,
    ) -> Result<(), ConnectorError> {
        let mut pages = DayPages::new(range, bytes as u64);
        for (_, mut element) in merged {
            let day = element
                .get("dateRange")
                .and_then(|r| r.get("start"))
                .and_then(date_of);
            // the seed's record: `pivotValue` is the first of `pivotValues`
            let first = element
                .get("pivotValues")
                .and_then(|v| v.get(0))
                .cloned()
                .unwrap_or(Value::Null);
            element.insert("pivotValue".into(), first);
            pages.push_json(day, &serde_json::json!({ "element": element }));
        }
        pages.send(ctx).await?;
        let done = Progress {
            done_through: Some(range.to),
        };
        ctx.commit_days(range, serde_json::to_value(done).ok())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_go_in_chunks_of_18_beside_date_range_and_pivot_values() {
        let metrics: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let c = chunks(&metrics);
        assert_eq!(c.len(), 3);
        assert!(c.iter().all(|c| c.len() + 2 <= 20));
        assert_eq!(c.concat(), metrics);
    }

    #[test]
    fn money_adds_exactly_and_counts_add() {
        assert_eq!(add_decimal("209.449", "0.551").as_deref(), Some("210.000"));
        assert_eq!(add_decimal("1.5", "2.25").as_deref(), Some("3.75"));
        assert_eq!(add_decimal("3", "4").as_deref(), Some("7"));
        assert_eq!(add_decimal("x", "4"), None);
        let mut a: Map<String, Value> =
            serde_json::from_str(r#"{"impressions":10,"costInUsd":"1.10","pivotValues":["u"]}"#)
                .expect("json");
        let b: Map<String, Value> =
            serde_json::from_str(r#"{"impressions":5,"costInUsd":"0.95","pivotValues":["u"]}"#)
                .expect("json");
        add_into(&mut a, b);
        assert_eq!(a["impressions"], 15);
        assert_eq!(a["costInUsd"], "2.05");
    }
}
