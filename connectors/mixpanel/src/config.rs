//! The `[connection]` and `[source]` keys this connector reads, validated without any I/O.

use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;
use sluice_core::settings::number_or_digits;
use sluice_core::{ConnectorConfig, ConnectorError, Secret};
use sluice_http::{Auth, HttpConfig, Quota};
use url::Url;

#[derive(Debug, Clone)]
pub struct MixpanelSettings {
    pub flow: String,
    pub base_url: Url,
    pub auth: Auth,
    /// Required with a service account.
    pub project_id: Option<u64>,
    /// The project's timezone: how Mixpanel reads `from_date`/`to_date` (UTC for projects
    /// created since 2023, the project timezone for older ones) and how days are partitioned.
    pub timezone: Tz,
    pub events: Option<Vec<String>>,
    pub where_clause: Option<String>,
    /// Records per page handed to the mapper.
    pub page_records: usize,
    /// The longest line (one event) held in memory; a longer one is rejected unread.
    pub max_page_bytes: usize,
    /// No complete event for this long: the export stalled, and is asked for again.
    pub stall_timeout: Duration,
    pub quotas: Vec<Quota>,
    /// The engine's `[connection]` limits (page size in memory, retries).
    pub limits: sluice_core::ConnectionLimits,
}

/// The longest a streamed export may go without bytes, and without a complete event.
const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(120);

fn config_err(msg: impl Into<String>) -> ConnectorError {
    ConnectorError::Config(msg.into())
}

/// Raw export: 60 queries an hour and 3 a second per project (and 100 at once).
fn default_quotas() -> Vec<Quota> {
    vec![
        Quota::new("per_second", 3, Duration::from_secs(1)),
        Quota::new("per_hour", 60, Duration::from_secs(3600)),
    ]
}

/// `[connection]` of a Mixpanel flow (beside the engine's `connector`, `quota`, …).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connection {
    /// Instead of `region`: scheme, host and port only (a proxy, the sandbox).
    base_url: Option<String>,
    /// The project's data residency: `us` (default), `eu` or `in`.
    region: Option<String>,
    /// A service account's name (with `secret`).
    username: Option<String>,
    /// A service account's secret.
    secret: Option<Secret>,
    /// A project's API secret, instead of a service account.
    api_secret: Option<Secret>,
}

/// `[source]` of a Mixpanel flow (beside the engine's `streams`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    /// Required with a service account.
    #[serde(default, deserialize_with = "number_or_digits")]
    project_id: Option<u64>,
    /// The project's IANA timezone (UTC for projects created since 2023).
    timezone: Option<String>,
    /// Only these events.
    event: Option<Vec<String>>,
    /// A segmentation expression, as the export's `where`.
    #[serde(rename = "where")]
    where_clause: Option<String>,
    /// Events per page handed to the mapper (default 5000).
    #[serde(default, deserialize_with = "number_or_digits")]
    page_records: Option<u64>,
}

/// The keys that must be `${ENV}` references.
const CREDENTIALS: &[&str] = &["secret", "api_secret"];

impl MixpanelSettings {
    pub fn from_config(config: &ConnectorConfig) -> Result<Self, ConnectorError> {
        let (connection, source): (Connection, Source) = config.settings(CREDENTIALS)?;
        let base_url = match connection.base_url.as_deref() {
            Some(url) => parse_base_url(url)?,
            None => {
                let host = match connection.region.as_deref().unwrap_or("us") {
                    "us" => "https://data.mixpanel.com",
                    "eu" => "https://data-eu.mixpanel.com",
                    "in" => "https://data-in.mixpanel.com",
                    other => {
                        return Err(config_err(format!(
                            "[connection] `region` = \"{other}\": use \"us\", \"eu\" or \"in\" (the project's data residency)"
                        )))
                    }
                };
                parse_base_url(host)?
            }
        };
        let project_id = source.project_id;
        let auth = match (connection.username, connection.secret, connection.api_secret) {
            (Some(user), Some(secret), _) => {
                if project_id.is_none() {
                    return Err(config_err(
                        "[source] `project_id` is required with a service account (`username` + `secret`)",
                    ));
                }
                Auth::Basic {
                    user,
                    password: secret,
                }
            }
            (_, _, Some(secret)) => Auth::BasicSecretOnly { secret },
            (None, Some(_), None) => {
                return Err(config_err("[connection] `secret` needs `username` (the service account's name)"))
            }
            _ => {
                return Err(config_err(
                    "[connection] needs credentials: `username` and `secret = \"${MIXPANEL_SECRET}\"` \
                     (a service account), or `api_secret = \"${MIXPANEL_API_SECRET}\"` (a project secret)",
                ))
            }
        };
        let timezone = match source.timezone.as_deref() {
            None => Tz::UTC,
            Some(tz) => Tz::from_str(tz).map_err(|_| {
                config_err(format!(
                    "[source] `timezone` = \"{tz}\" is not an IANA timezone; use the project's, such as \
                     \"America/Los_Angeles\" for Pacific Time, or \"UTC\" for projects created since 2023"
                ))
            })?,
        };
        let page_records = source.page_records.unwrap_or(5_000).clamp(1, 1_000_000) as usize;
        let quotas = Quota::overridden(&config.quota, default_quotas());
        Ok(Self {
            flow: config.flow.clone(),
            base_url,
            auth,
            project_id,
            timezone,
            events: source.event,
            where_clause: source.where_clause,
            page_records,
            max_page_bytes: config.max_page_bytes(),
            stall_timeout: config
                .limits
                .read_timeout_seconds
                .map_or(STREAM_READ_TIMEOUT, Duration::from_secs),
            quotas,
            limits: config.limits,
        })
    }

    pub fn http_config(&self) -> HttpConfig {
        // the quotas are the project's, whichever flow spends them
        let project = match (self.project_id, &self.auth) {
            (Some(p), _) => p.to_string(),
            (None, Auth::BasicSecretOnly { secret }) => secret.expose().to_string(),
            (None, _) => String::new(),
        };
        HttpConfig {
            quota_scope: sluice_http::quota_scope("mixpanel", &project),
            quotas: self.quotas.clone(),
            // a long day can take a while to stream: the body's pace is watched, not its length
            read_timeout: self.stall_timeout,
            ..HttpConfig::for_connection(
                format!("mixpanel connection of flow `{}`", self.flow),
                &self.limits,
            )
        }
    }
}

fn parse_base_url(text: &str) -> Result<Url, ConnectorError> {
    sluice_http::parse_base_url(text, "https://data-eu.mixpanel.com", "/api/2.0/export")
        .map_err(ConnectorError::Config)
}
