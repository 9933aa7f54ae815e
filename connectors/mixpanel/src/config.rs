//! The `[connection]` and `[source]` keys this connector reads, validated without any I/O.

use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use serde_json::Value;
use sluice_core::{ConnectorConfig, ConnectorError};
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
    /// Days a first run pulls (today included).
    pub initial_days: u32,
    /// Complete days re-pulled by every run, for events that arrive late.
    pub lookback_days: u32,
    /// Records per page handed to the mapper.
    pub page_records: usize,
    /// The longest line (one event) held in memory; a longer one is rejected unread.
    pub max_page_bytes: usize,
    pub quotas: Vec<Quota>,
    /// The engine's `[connection]` limits (page size in memory, retries).
    pub limits: sluice_core::ConnectionLimits,
}

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

impl MixpanelSettings {
    pub fn from_config(config: &ConnectorConfig) -> Result<Self, ConnectorError> {
        let base_url = match config.plain_str("base_url")? {
            Some(url) => parse_base_url(url)?,
            None => {
                let host = match config.plain_str("region")?.unwrap_or("us") {
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
        let project_id = config.source_u64("project_id")?;
        let auth = match (
            config.plain_str("username")?,
            config.secret("secret")?,
            config.secret("api_secret")?,
        ) {
            (Some(user), Some(secret), _) => {
                if project_id.is_none() {
                    return Err(config_err(
                        "[source] `project_id` is required with a service account (`username` + `secret`)",
                    ));
                }
                Auth::Basic {
                    user: user.to_string(),
                    password: secret.clone(),
                }
            }
            (_, _, Some(secret)) => Auth::BasicSecretOnly { secret: secret.clone() },
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
        let timezone = match config.source.get("timezone") {
            None => Tz::UTC,
            Some(Value::String(tz)) => Tz::from_str(tz).map_err(|_| {
                config_err(format!(
                    "[source] `timezone` = \"{tz}\" is not an IANA timezone; use the project's, such as \
                     \"America/Los_Angeles\" for Pacific Time, or \"UTC\" for projects created since 2023"
                ))
            })?,
            Some(other) => return Err(config_err(format!("[source] `timezone` must be a string, found {other}"))),
        };
        let events = match config.source.get("event") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| config_err("[source] `event` must be a list of event names"))?,
            ),
            Some(_) => {
                return Err(config_err(
                    "[source] `event` must be a list of event names, e.g. [\"Sign in\"]",
                ))
            }
        };
        let where_clause = match config.source.get("where") {
            None => None,
            Some(Value::String(w)) => Some(w.clone()),
            Some(_) => {
                return Err(config_err(
                    "[source] `where` must be a segmentation expression string",
                ))
            }
        };
        let initial_days = config.source_u64("initial_days")?.unwrap_or(7);
        let lookback_days = config.source_u64("lookback_days")?.unwrap_or(2);
        if initial_days == 0 || initial_days > 3650 {
            return Err(config_err(format!(
                "[source] `initial_days` = {initial_days}: use 1 to 3650"
            )));
        }
        if lookback_days > 365 {
            return Err(config_err(format!(
                "[source] `lookback_days` = {lookback_days}: use 0 to 365"
            )));
        }
        let page_records = config
            .source_u64("page_records")?
            .unwrap_or(5_000)
            .clamp(1, 1_000_000) as usize;
        let quotas = Quota::overridden(config.quota, default_quotas());
        Ok(Self {
            flow: config.flow.clone(),
            base_url,
            auth,
            project_id,
            timezone,
            events,
            where_clause,
            initial_days: initial_days as u32,
            lookback_days: lookback_days as u32,
            page_records,
            max_page_bytes: config.max_page_bytes(),
            quotas,
            limits: config.limits,
        })
    }

    pub fn http_config(&self) -> HttpConfig {
        HttpConfig {
            quotas: self.quotas.clone(),
            // a long day can take a while to stream; stalls are caught by the read timeout
            read_timeout: Duration::from_secs(120),
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
