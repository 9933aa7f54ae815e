//! The `[connection]` and `[source]` keys of a LinkedIn flow, validated without any I/O.
//!
//! `[source]` takes seed 001's params as written: `accountIds`, `campaignGroupIds`,
//! `campaignIds` (comma-separated numeric ids or full URNs) and `pivot`.

use std::time::Duration;

use chrono::{Datelike, Months, Utc};
use serde::Deserialize;
use sluice_core::settings::{number_or_digits, text_list};
use sluice_core::{ConnectionLimits, ConnectorConfig, ConnectorError, Secret};
use sluice_http::{Auth, ClientAuth, HttpConfig, OAuthKeys, Quota};
use url::Url;

use crate::streams::{self, Pivot};

/// Rate categories: LinkedIn counts calls per endpoint.
pub const ANALYTICS: &str = "ad_analytics";
pub const ENTITIES: &str = "ad_entities";

/// LinkedIn publishes no numbers (each app sees its own in the Developer Portal): a pace that
/// keeps well inside what apps are usually given. Set yours with `quota = { ad_analytics = … }`.
fn default_quotas() -> Vec<Quota> {
    vec![
        Quota::for_category(ANALYTICS, 100, Duration::from_secs(60)),
        Quota::for_category(ENTITIES, 100, Duration::from_secs(60)),
    ]
}

/// The data-volume throttle's window is five minutes: a wait of it must fit.
const DEFAULT_MAX_WAIT_SECONDS: u64 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Daily,
    Monthly,
    All,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Daily => "DAILY",
            Granularity::Monthly => "MONTHLY",
            Granularity::All => "ALL",
        }
    }
}

/// What the analytics requests are filtered by: the most specific list the flow gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    /// `campaigns`, `campaignGroups` or `accounts`.
    pub param: &'static str,
    pub urns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct LinkedInSettings {
    pub flow: String,
    /// Scheme, host and port: `/rest/…` is added to it.
    pub base_url: Url,
    pub auth: Auth,
    pub quotas: Vec<Quota>,
    pub limits: ConnectionLimits,
    pub quota_scope: String,
    /// `LinkedIn-Version: YYYYMM`.
    pub version: String,
    /// Longer request URLs are sent as a tunnelled POST.
    pub max_url_bytes: usize,
    /// Elements an answer holds at most; an answer this long was cut by the server.
    pub elements_cap: usize,
    pub data_volume_wait: Duration,
    pub accounts: Vec<String>,
    pub facet: Option<Facet>,
    pub pivot: Option<Pivot>,
    /// The `ad_statistics` stream's pivots (`q=statistics`, one to three).
    pub pivots: Vec<Pivot>,
    /// Metrics asked for when the mapping set does not say.
    pub fields: Option<Vec<String>>,
    pub granularity: Granularity,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connection {
    /// Instead of `https://api.linkedin.com`: scheme, host and port.
    base_url: Option<String>,
    access_token: Option<Secret>,
    refresh_token: Option<Secret>,
    client_id: Option<Secret>,
    client_secret: Option<Secret>,
    /// Default `https://www.linkedin.com/oauth/v2/accessToken`.
    token_url: Option<String>,
    /// `YYYYMM`; default last month's (a version lives 12 months).
    linkedin_version: Option<String>,
    #[serde(default, deserialize_with = "number_or_digits")]
    max_url_bytes: Option<u64>,
    #[serde(default, deserialize_with = "number_or_digits")]
    elements_cap: Option<u64>,
    /// How long a data-volume 429 waits before asking again (default 330: the five-minute
    /// window and a margin).
    #[serde(default, deserialize_with = "number_or_digits")]
    data_volume_wait_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    #[serde(default, rename = "accountIds", deserialize_with = "text_list")]
    account_ids: Option<Vec<String>>,
    #[serde(default, rename = "campaignGroupIds", deserialize_with = "text_list")]
    campaign_group_ids: Option<Vec<String>>,
    #[serde(default, rename = "campaignIds", deserialize_with = "text_list")]
    campaign_ids: Option<Vec<String>>,
    /// `ACCOUNT`, `CAMPAIGN GROUP`, `CAMPAIGN`, `CREATIVE`, … : the stream a flow without
    /// `streams` pulls.
    pivot: Option<String>,
    /// One to three pivots together (`CAMPAIGN, MEMBER_COUNTRY_V2`): the `ad_statistics`
    /// stream, asked for with `q=statistics`.
    #[serde(default, deserialize_with = "text_list")]
    pivots: Option<Vec<String>>,
    /// Metrics (default: those the mapping set reads).
    #[serde(default, deserialize_with = "text_list")]
    fields: Option<Vec<String>>,
    /// `DAILY` (default), `MONTHLY` or `ALL`.
    time_granularity: Option<String>,
}

const CREDENTIALS: &[&str] = &[
    "access_token",
    "refresh_token",
    "client_id",
    "client_secret",
];

fn config_err(msg: impl Into<String>) -> ConnectorError {
    ConnectorError::Config(msg.into())
}

/// `123` or `urn:li:<kind>:123` → the URN; anything else is refused by key.
pub fn urn(key: &str, kind: &str, value: &str) -> Result<String, ConnectorError> {
    let prefix = format!("urn:li:{kind}:");
    let id = value.strip_prefix(&prefix).unwrap_or(value);
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(config_err(format!(
            "[source] `{key}`: \"{value}\" is neither a numeric id nor a `{prefix}…` URN"
        )));
    }
    Ok(format!("{prefix}{id}"))
}

fn parse_pivot(key: &str, text: &str) -> Result<Pivot, ConnectorError> {
    Pivot::parse(text).ok_or_else(|| {
        config_err(format!(
            "[source] `{key}`: \"{}\" is not a pivot; use one of {}",
            text.trim(),
            streams::PIVOTS
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The month before the current one: always a live version.
fn default_version() -> String {
    let now = Utc::now().date_naive();
    let last = now.checked_sub_months(Months::new(1)).unwrap_or(now);
    format!("{:04}{:02}", last.year(), last.month())
}

impl LinkedInSettings {
    pub fn from_config(config: &ConnectorConfig) -> Result<Self, ConnectorError> {
        let (connection, source): (Connection, Source) = config.settings(CREDENTIALS)?;
        let base_url = sluice_http::parse_base_url(
            connection
                .base_url
                .as_deref()
                .unwrap_or("https://api.linkedin.com"),
            "https://api.linkedin.com",
            "/rest/…",
        )
        .map_err(ConnectorError::Config)?;
        let token_url_text = connection
            .token_url
            .as_deref()
            .unwrap_or("https://www.linkedin.com/oauth/v2/accessToken");
        let token_url = Url::parse(token_url_text).map_err(|e| {
            config_err(format!(
                "[connection] `token_url` = \"{token_url_text}\" is not a URL: {e}"
            ))
        })?;
        let keys = OAuthKeys {
            refresh_token: connection.refresh_token,
            client_id: connection.client_id,
            client_secret: connection.client_secret,
            access_token: connection.access_token,
        };
        let identity = keys.identity();
        let auth = keys
            .into_auth(
                token_url,
                ClientAuth::Body,
                config.store.as_ref().map(|h| h.0.clone()),
                "the 60-day access token",
            )
            .map_err(config_err)?;
        let version = connection.linkedin_version.unwrap_or_else(default_version);
        if version.len() != 6 || !version.chars().all(|c| c.is_ascii_digit()) {
            return Err(config_err(format!(
                "[connection] `linkedin_version` = \"{version}\": LinkedIn's versions are \
                 YYYYMM (such as {})",
                default_version()
            )));
        }
        let list = |key: &str, kind: &str, v: Option<Vec<String>>| {
            v.unwrap_or_default()
                .iter()
                .map(|x| urn(key, kind, x))
                .collect::<Result<Vec<_>, _>>()
        };
        let accounts = list("accountIds", "sponsoredAccount", source.account_ids)?;
        let groups = list(
            "campaignGroupIds",
            "sponsoredCampaignGroup",
            source.campaign_group_ids,
        )?;
        let campaigns = list("campaignIds", "sponsoredCampaign", source.campaign_ids)?;
        let facet = [
            ("campaigns", campaigns),
            ("campaignGroups", groups),
            ("accounts", accounts.clone()),
        ]
        .into_iter()
        .find(|(_, urns)| !urns.is_empty())
        .map(|(param, urns)| Facet { param, urns });
        if facet.is_none() {
            return Err(config_err(
                "[source] needs `accountIds`, `campaignGroupIds` or `campaignIds` (comma-separated \
                 numeric ids or URNs, as in the seed's source params): analytics are asked for \
                 by one of them",
            ));
        }
        let pivot = match source.pivot.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(parse_pivot("pivot", p)?),
        };
        let pivots = source
            .pivots
            .unwrap_or_default()
            .iter()
            .map(|p| parse_pivot("pivots", p))
            .collect::<Result<Vec<_>, _>>()?;
        if pivots.len() > streams::MAX_STATISTICS_PIVOTS {
            return Err(config_err(format!(
                "[source] `pivots` names {} pivots: LinkedIn's q=statistics takes at most {}",
                pivots.len(),
                streams::MAX_STATISTICS_PIVOTS
            )));
        }
        if let Some(p) = pivots
            .iter()
            .enumerate()
            .find_map(|(i, p)| pivots[..i].contains(p).then_some(p))
        {
            return Err(config_err(format!(
                "[source] `pivots` names {} twice",
                p.name
            )));
        }
        if let Some(fields) = &source.fields {
            if fields.is_empty() {
                return Err(config_err("[source] `fields` is empty: name some metrics"));
            }
            for f in fields {
                if matches!(f.as_str(), "dateRange" | "pivotValues" | "pivotValue") {
                    return Err(config_err(format!(
                        "[source] `fields`: `{f}` is not a metric (every element has it)"
                    )));
                }
                if !f.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(config_err(format!(
                        "[source] `fields`: `{f}` is not a metric name"
                    )));
                }
            }
        }
        let granularity = match source
            .time_granularity
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("DAILY") => Granularity::Daily,
            Some("MONTHLY") => Granularity::Monthly,
            Some("ALL") => Granularity::All,
            Some(other) => {
                return Err(config_err(format!(
                    "[source] `time_granularity` = \"{other}\": use DAILY, MONTHLY or ALL"
                )))
            }
        };
        let mut limits = config.limits;
        if limits.max_wait_seconds.is_none() {
            limits.max_wait_seconds = Some(DEFAULT_MAX_WAIT_SECONDS);
        }
        Ok(Self {
            flow: config.flow.clone(),
            base_url,
            auth,
            quotas: Quota::overridden(&config.quota, default_quotas()),
            limits,
            quota_scope: sluice_http::quota_scope("linkedin", &identity),
            version,
            max_url_bytes: connection.max_url_bytes.unwrap_or(4_096).max(256) as usize,
            elements_cap: connection.elements_cap.unwrap_or(15_000).max(1) as usize,
            data_volume_wait: connection
                .data_volume_wait_seconds
                .map_or(crate::errors::DATA_VOLUME_WAIT, Duration::from_secs),
            accounts,
            facet,
            pivot,
            pivots,
            fields: source.fields,
            granularity,
        })
    }

    pub fn http_config(&self) -> HttpConfig {
        HttpConfig {
            quota_scope: self.quota_scope.clone(),
            quotas: self.quotas.clone(),
            classifier: Some({
                let wait = self.data_volume_wait;
                sluice_http::Classifier::new(move |info| crate::errors::classify(info, wait))
            }),
            ..HttpConfig::for_connection(
                format!("linkedin connection of flow `{}`", self.flow),
                &self.limits,
            )
        }
    }

    /// `{base_url}/rest/{path}`.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(&format!("/rest/{}", path.trim_start_matches('/')));
        url
    }

    /// The numeric id of an account URN (for paths).
    pub fn account_id(urn: &str) -> &str {
        urn.rsplit(':').next().unwrap_or(urn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use sluice_core::Param;

    fn config(source: &[(&str, Value)]) -> ConnectorConfig {
        ConnectorConfig {
            flow: "f".into(),
            connection: [(
                "access_token".to_string(),
                Param::Secret(Secret::new("AQV.x")),
            )]
            .into_iter()
            .collect(),
            source: source
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_seeds_params_read_as_written_and_the_most_specific_list_is_the_facet() {
        let s = LinkedInSettings::from_config(&config(&[
            ("accountIds", Value::from("508670032")),
            ("campaignGroupIds", Value::from("611138362")),
            (
                "campaignIds",
                Value::from("1991010101,urn:li:sponsoredCampaign:1992020202"),
            ),
            ("pivot", Value::from("CAMPAIGN GROUP")),
            ("pivots", Value::from("campaign, MEMBER COUNTRY V2")),
        ]))
        .expect("valid");
        assert_eq!(
            s.pivots.iter().map(|p| p.name).collect::<Vec<_>>(),
            ["CAMPAIGN", "MEMBER_COUNTRY_V2"]
        );
        let facet = s.facet.expect("facet");
        assert_eq!(facet.param, "campaigns");
        assert_eq!(
            facet.urns,
            [
                "urn:li:sponsoredCampaign:1991010101",
                "urn:li:sponsoredCampaign:1992020202"
            ]
        );
        assert_eq!(s.pivot.map(|p| p.name), Some("CAMPAIGN_GROUP"));
        assert_eq!(s.accounts, ["urn:li:sponsoredAccount:508670032"]);
        assert_eq!(s.version.len(), 6);
        assert_eq!(s.limits.max_wait_seconds, Some(600));
        let only_groups = LinkedInSettings::from_config(&config(&[(
            "campaignGroupIds",
            Value::from("611138362"),
        )]))
        .expect("valid");
        assert_eq!(only_groups.facet.map(|f| f.param), Some("campaignGroups"));
    }

    #[test]
    fn bad_params_are_refused_by_name() {
        for (source, says) in [
            (vec![], "accountIds"),
            (
                vec![("accountIds", Value::from("urn:li:sponsoredCampaign:1"))],
                "sponsoredAccount",
            ),
            (
                vec![
                    ("accountIds", Value::from("1")),
                    ("pivot", Value::from("DEVICE")),
                ],
                "MEMBER_COUNTRY_V2",
            ),
            (
                vec![
                    ("accountIds", Value::from("1")),
                    ("fields", Value::from("dateRange")),
                ],
                "not a metric",
            ),
            (
                vec![
                    ("accountIds", Value::from("1")),
                    (
                        "pivots",
                        Value::from("CAMPAIGN, CREATIVE, ACCOUNT, CAMPAIGN_GROUP"),
                    ),
                ],
                "at most 3",
            ),
            (
                vec![
                    ("accountIds", Value::from("1")),
                    ("pivots", Value::from("CAMPAIGN, campaign")),
                ],
                "CAMPAIGN twice",
            ),
            (
                vec![
                    ("accountIds", Value::from("1")),
                    ("pivots", Value::from("CAMPAIGN, DEVICE")),
                ],
                "\"DEVICE\" is not a pivot",
            ),
        ] {
            let err = LinkedInSettings::from_config(&config(&source))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{says}: {err}");
        }
    }
}
