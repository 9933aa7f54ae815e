//! The `[connection]` and `[source]` keys of a Pinterest flow, validated without any I/O.
//!
//! `[source]` takes seed 000's params as written: `ad_account_id`, `object_type` (`campaigns`,
//! `ad_groups`, `ads`) and `object_ids` (comma-separated; empty means every object of the account).

use std::time::Duration;

use serde::Deserialize;
use sluice_core::settings::{number_or_digits, text_list};
use sluice_core::{ConnectionLimits, ConnectorConfig, ConnectorError, Secret};
use sluice_http::{Auth, HttpConfig, OAuthKeys, Quota};
use url::Url;

use crate::columns;

/// Rate-limit categories (the OpenAPI's `x-ratelimit-category`).
pub const ADS_ANALYTICS: &str = "ads_analytics";
pub const ADS_READ: &str = "ads_read";
pub const ORG_READ: &str = "org_read";
pub const CATALOGS_READ: &str = "catalogs_read";

/// Standard access: 100 requests a second per user and app, 300 a minute for analytics, 1,000
/// for entity reads. The organic and catalog categories' numbers are not published: 1,000 a
/// minute is a cautious guess (set `quota = { org_read = "…" }` when you know yours).
fn default_quotas() -> Vec<Quota> {
    vec![
        Quota::new("per_user", 100, Duration::from_secs(1)),
        Quota::for_category(ADS_ANALYTICS, 300, Duration::from_secs(60)),
        Quota::for_category(ADS_READ, 1000, Duration::from_secs(60)),
        Quota::for_category(ORG_READ, 1000, Duration::from_secs(60)),
        Quota::for_category(CATALOGS_READ, 1000, Duration::from_secs(60)),
    ]
}

/// Seed 000's `object_type`: which analytics stream the flow pulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    Campaigns,
    AdGroups,
    Ads,
}

impl ObjectType {
    pub fn stream(self) -> &'static str {
        match self {
            ObjectType::Campaigns => "campaign_analytics",
            ObjectType::AdGroups => "ad_group_analytics",
            ObjectType::Ads => "ad_analytics",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Hour,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Day => "DAY",
            Granularity::Hour => "HOUR",
        }
    }
}

/// How conversions are attributed: sent with every analytics request and report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub click_window_days: u32,
    pub engagement_window_days: u32,
    pub view_window_days: u32,
    pub conversion_report_time: String,
}

#[derive(Debug, Clone)]
pub struct PinterestSettings {
    pub flow: String,
    /// Scheme, host and port: `/v5/…` is added to it.
    pub base_url: Url,
    pub auth: Auth,
    pub quotas: Vec<Quota>,
    pub limits: ConnectionLimits,
    /// Who Pinterest counts requests of: the app and the user (their refresh or access token).
    pub quota_scope: String,
    /// The ad accounts: each is a slice of every stream.
    pub ad_accounts: Vec<String>,
    pub object_type: Option<ObjectType>,
    /// Objects to pull analytics of (for the stream of `object_type`); empty: all of them.
    pub object_ids: Vec<String>,
    /// Columns asked for when the flow's mapping does not say.
    pub columns: Option<Vec<String>>,
    pub granularity: Granularity,
    pub attribution: Attribution,
    /// Entity statuses listed (the API's default leaves out archived objects).
    pub entity_statuses: Vec<String>,
    /// Items per entity page, 1 to 250.
    pub page_size: u32,
    /// Entity streams write only the items changed since the last run (where items say when
    /// they changed); otherwise the whole list each run.
    pub changed_only: bool,
    /// Audience ownerships listed (the API's default is OWNED only).
    pub ownership_types: Vec<String>,
    /// `privacy` of the boards listed (default `ALL`: the API's own default leaves some out).
    pub board_privacy: Option<String>,
}

/// `[connection]` of a Pinterest flow (beside the engine's `connector`, `quota`, …).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connection {
    /// Instead of `https://api.pinterest.com`: scheme, host and port (a proxy, the sandbox).
    base_url: Option<String>,
    /// An access token; alone, it is used until it expires.
    access_token: Option<Secret>,
    /// With `client_id` and `client_secret`: the access token is renewed when it expires.
    refresh_token: Option<Secret>,
    client_id: Option<Secret>,
    client_secret: Option<Secret>,
    /// Where tokens are refreshed (default `{base_url}/v5/oauth/token`).
    token_url: Option<String>,
}

/// `[source]` of a Pinterest flow (beside the engine's `streams`, `lookback_days`, …).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    /// The ad account (seed 000), or several, comma-separated.
    #[serde(default, deserialize_with = "text_list")]
    ad_account_id: Option<Vec<String>>,
    /// `campaigns`, `ad_groups` or `ads`: the analytics stream a flow without `streams` pulls.
    object_type: Option<String>,
    /// Comma-separated object ids; empty: every object of the account.
    #[serde(default, deserialize_with = "text_list")]
    object_ids: Option<Vec<String>>,
    /// Analytics columns (default: those the mapping set reads).
    #[serde(default, deserialize_with = "text_list")]
    columns: Option<Vec<String>>,
    /// `DAY` (default) or `HOUR`.
    granularity: Option<String>,
    #[serde(default, deserialize_with = "number_or_digits")]
    click_window_days: Option<u64>,
    #[serde(default, deserialize_with = "number_or_digits")]
    engagement_window_days: Option<u64>,
    #[serde(default, deserialize_with = "number_or_digits")]
    view_window_days: Option<u64>,
    /// `TIME_OF_AD_ACTION` (default) or `TIME_OF_CONVERSION`.
    conversion_report_time: Option<String>,
    /// Statuses of the objects listed (default ACTIVE, PAUSED, ARCHIVED).
    #[serde(default, deserialize_with = "text_list")]
    entity_statuses: Option<Vec<String>>,
    /// Entity items per page, 1 to 250 (default 250).
    #[serde(default, deserialize_with = "number_or_digits")]
    page_size: Option<u64>,
    /// `snapshot` (default: every item each run) or `changed` (items changed since the last run).
    entities: Option<String>,
    /// Audience ownerships listed: `OWNED`, `RECEIVED` (default both).
    #[serde(default, deserialize_with = "text_list")]
    ownership_type: Option<Vec<String>>,
    /// Boards listed: `ALL` (default), `PUBLIC`, `PROTECTED`, `SECRET` or `PUBLIC_AND_SECRET`.
    board_privacy: Option<String>,
}

/// The keys that must be `${ENV}` references.
const CREDENTIALS: &[&str] = &[
    "access_token",
    "refresh_token",
    "client_id",
    "client_secret",
];

const WINDOWS: [u64; 6] = [0, 1, 7, 14, 30, 60];

fn config_err(msg: impl Into<String>) -> ConnectorError {
    ConnectorError::Config(msg.into())
}

fn window(key: &str, value: Option<u64>, default: u32) -> Result<u32, ConnectorError> {
    match value {
        None => Ok(default),
        Some(v) if WINDOWS.contains(&v) => Ok(v as u32),
        Some(v) => Err(config_err(format!(
            "[source] `{key}` = {v}: the API takes 0, 1, 7, 14, 30 or 60"
        ))),
    }
}

fn digits(key: &str, ids: &[String]) -> Result<(), ConnectorError> {
    match ids
        .iter()
        .find(|id| id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()))
    {
        Some(bad) => Err(config_err(format!(
            "[source] `{key}`: \"{bad}\" is not a Pinterest id (digits only)"
        ))),
        None => Ok(()),
    }
}

impl PinterestSettings {
    pub fn from_config(config: &ConnectorConfig) -> Result<Self, ConnectorError> {
        let (connection, source): (Connection, Source) = config.settings(CREDENTIALS)?;
        let base_url = sluice_http::parse_base_url(
            connection
                .base_url
                .as_deref()
                .unwrap_or("https://api.pinterest.com"),
            "https://api.pinterest.com",
            "/v5/…",
        )
        .map_err(ConnectorError::Config)?;
        let token_url = match &connection.token_url {
            Some(t) => Url::parse(t).map_err(|e| {
                config_err(format!(
                    "[connection] `token_url` = \"{t}\" is not a URL: {e}"
                ))
            })?,
            None => base_url
                .join("/v5/oauth/token")
                .map_err(|e| config_err(e.to_string()))?,
        };
        let app = connection
            .client_id
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or_default();
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
                sluice_http::ClientAuth::Basic,
                config.store.as_ref().map(|h| h.0.clone()),
                "they",
            )
            .map_err(config_err)?;
        let ad_accounts = source.ad_account_id.unwrap_or_default();
        if ad_accounts.is_empty() {
            return Err(config_err(
                "[source] needs `ad_account_id` (the ad account, as in the seed's source params)",
            ));
        }
        digits("ad_account_id", &ad_accounts)?;
        let object_type = match source.object_type.as_deref() {
            None | Some("") => None,
            Some("campaigns") => Some(ObjectType::Campaigns),
            Some("ad_groups") => Some(ObjectType::AdGroups),
            Some("ads") => Some(ObjectType::Ads),
            Some(other) => {
                return Err(config_err(format!(
                "[source] `object_type` = \"{other}\": use \"campaigns\", \"ad_groups\" or \"ads\""
            )))
            }
        };
        let object_ids = source.object_ids.unwrap_or_default();
        digits("object_ids", &object_ids)?;
        if !object_ids.is_empty() && object_type.is_none() {
            return Err(config_err(
                "[source] `object_ids` needs `object_type` (which objects they are)",
            ));
        }
        if let Some(cols) = &source.columns {
            for c in cols {
                if c == "DATE" {
                    return Err(config_err(
                        "[source] `columns`: `DATE` is not a column (each row has it anyway)",
                    ));
                }
                if columns::kind(c).is_none() {
                    return Err(config_err(format!(
                        "[source] `columns`: `{c}` is not an analytics column of the API{}",
                        sluice_core::suggest::closest(c, columns::COLUMNS.iter().map(|(n, _)| *n))
                            .map(|n| format!("; did you mean `{n}`?"))
                            .unwrap_or_default()
                    )));
                }
            }
        }
        let granularity = match source.granularity.as_deref().map(str::to_ascii_uppercase) {
            None => Granularity::Day,
            Some(g) if g == "DAY" => Granularity::Day,
            Some(g) if g == "HOUR" => Granularity::Hour,
            Some(other) => {
                return Err(config_err(format!(
                    "[source] `granularity` = \"{other}\": use \"DAY\" or \"HOUR\""
                )))
            }
        };
        let attribution = Attribution {
            click_window_days: window("click_window_days", source.click_window_days, 30)?,
            engagement_window_days: window(
                "engagement_window_days",
                source.engagement_window_days,
                30,
            )?,
            view_window_days: window("view_window_days", source.view_window_days, 1)?,
            conversion_report_time: match source.conversion_report_time.as_deref() {
                None => "TIME_OF_AD_ACTION".into(),
                Some(t @ ("TIME_OF_AD_ACTION" | "TIME_OF_CONVERSION")) => t.into(),
                Some(other) => {
                    return Err(config_err(format!(
                        "[source] `conversion_report_time` = \"{other}\": use \
                         \"TIME_OF_AD_ACTION\" or \"TIME_OF_CONVERSION\""
                    )))
                }
            },
        };
        let entity_statuses = source
            .entity_statuses
            .unwrap_or_else(|| vec!["ACTIVE".into(), "PAUSED".into(), "ARCHIVED".into()]);
        const STATUSES: [&str; 5] = ["ACTIVE", "PAUSED", "ARCHIVED", "DRAFT", "DELETED_DRAFT"];
        if let Some(bad) = entity_statuses
            .iter()
            .find(|s| !STATUSES.contains(&s.as_str()))
        {
            return Err(config_err(format!(
                "[source] `entity_statuses`: \"{bad}\" is not one of {}",
                STATUSES.join(", ")
            )));
        }
        let page_size = source.page_size.unwrap_or(250);
        if !(1..=250).contains(&page_size) {
            return Err(config_err(format!(
                "[source] `page_size` = {page_size}: the API takes 1 to 250"
            )));
        }
        let changed_only = match source.entities.as_deref() {
            None | Some("snapshot") => false,
            Some("changed") => true,
            Some(other) => {
                return Err(config_err(format!(
                    "[source] `entities` = \"{other}\": use \"snapshot\" (every item each run) or \
                     \"changed\" (the items changed since the last run)"
                )))
            }
        };
        let ownership_types = source
            .ownership_type
            .unwrap_or_else(|| vec!["OWNED".into(), "RECEIVED".into()]);
        if let Some(bad) = ownership_types
            .iter()
            .find(|t| !["OWNED", "RECEIVED"].contains(&t.as_str()))
        {
            return Err(config_err(format!(
                "[source] `ownership_type`: \"{bad}\" is not OWNED or RECEIVED"
            )));
        }
        const PRIVACY: [&str; 5] = ["ALL", "PUBLIC", "PROTECTED", "SECRET", "PUBLIC_AND_SECRET"];
        if let Some(bad) = source
            .board_privacy
            .as_deref()
            .filter(|p| !PRIVACY.contains(p))
        {
            return Err(config_err(format!(
                "[source] `board_privacy` = \"{bad}\": use one of {}",
                PRIVACY.join(", ")
            )));
        }
        Ok(Self {
            flow: config.flow.clone(),
            base_url,
            auth,
            quotas: Quota::overridden(&config.quota, default_quotas()),
            limits: config.limits,
            quota_scope: sluice_http::quota_scope("pinterest", &format!("{app}|{identity}")),
            ad_accounts,
            object_type,
            object_ids,
            columns: source.columns,
            granularity,
            attribution,
            entity_statuses,
            page_size: page_size as u32,
            changed_only,
            ownership_types,
            board_privacy: Some(source.board_privacy.unwrap_or_else(|| "ALL".into())),
        })
    }

    pub fn http_config(&self) -> HttpConfig {
        HttpConfig {
            quota_scope: self.quota_scope.clone(),
            quotas: self.quotas.clone(),
            classifier: Some(sluice_http::Classifier::new(crate::errors::classify)),
            ..HttpConfig::for_connection(
                format!("pinterest connection of flow `{}`", self.flow),
                &self.limits,
            )
        }
    }

    /// `{base_url}/v5/{path}`.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(&format!("/v5/{}", path.trim_start_matches('/')));
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use sluice_core::Param;

    fn config(connection: &[(&str, Param)], source: &[(&str, Value)]) -> ConnectorConfig {
        ConnectorConfig {
            flow: "f".into(),
            connection: connection
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            source: source
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Default::default()
        }
    }

    fn secret(s: &str) -> Param {
        Param::Secret(Secret::new(s))
    }

    #[test]
    fn the_seeds_params_read_as_written() {
        let c = config(
            &[("access_token", secret("pina.x"))],
            &[
                ("ad_account_id", Value::from("123456789000")),
                ("object_type", Value::from("ads")),
                (
                    "object_ids",
                    Value::from("687247811001, 687247811002,687247815005"),
                ),
            ],
        );
        let s = PinterestSettings::from_config(&c).expect("valid");
        assert_eq!(s.ad_accounts, ["123456789000"]);
        assert_eq!(s.object_type, Some(ObjectType::Ads));
        assert_eq!(s.object_ids.len(), 3);
        assert_eq!(
            s.url("ad_accounts/1/ads").as_str(),
            "https://api.pinterest.com/v5/ad_accounts/1/ads"
        );
        assert_eq!(s.attribution.click_window_days, 30);
        assert!(s.entity_statuses.contains(&"ARCHIVED".to_string()));
    }

    #[test]
    fn bad_params_are_refused_by_name() {
        let base = [("access_token", secret("pina.x"))];
        for (source, says) in [
            (vec![], "ad_account_id"),
            (vec![("ad_account_id", Value::from("act_1"))], "digits"),
            (
                vec![
                    ("ad_account_id", Value::from("1")),
                    ("object_type", Value::from("pins")),
                ],
                "object_type",
            ),
            (
                vec![
                    ("ad_account_id", Value::from("1")),
                    ("columns", Value::from("IMPRESION_1")),
                ],
                "did you mean `IMPRESSION_1`",
            ),
            (
                vec![
                    ("ad_account_id", Value::from("1")),
                    ("click_window_days", Value::from(3)),
                ],
                "0, 1, 7, 14, 30 or 60",
            ),
        ] {
            let err = PinterestSettings::from_config(&config(&base, &source))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{says}: {err}");
        }
        let err = PinterestSettings::from_config(&config(
            &[("refresh_token", secret("pinr.x"))],
            &[("ad_account_id", Value::from("1"))],
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("client_id"), "{err}");
    }
}
