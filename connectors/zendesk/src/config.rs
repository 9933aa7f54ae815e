//! The `[connection]` and `[source]` keys this connector reads, validated without any I/O.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sluice_core::settings::number_or_digits;
use sluice_core::{ConnectorConfig, ConnectorError, Secret};
use sluice_http::{Auth, HttpConfig, Quota};
use url::Url;

/// Search export allows 100 requests a minute per account, on top of the account-wide limit
/// (700 a minute on Enterprise plans; set `quota` for other plans).
fn default_quotas() -> Vec<Quota> {
    vec![
        Quota::new("account", 700, Duration::from_secs(60)),
        Quota::for_category(SEARCH_EXPORT, 100, Duration::from_secs(60)),
    ]
}

/// The rate-limit category of the search export endpoint.
pub const SEARCH_EXPORT: &str = "search_export";

#[derive(Debug, Clone)]
pub struct ZendeskSettings {
    pub flow: String,
    pub base_url: Url,
    pub auth: Auth,
    pub quotas: Vec<Quota>,
    /// The engine's `[connection]` limits (page size in memory, retries).
    pub limits: sluice_core::ConnectionLimits,
    /// Records per page, 1..=1000.
    pub page_size: u32,
    /// How far before the mark each run re-reads, for records the search index saw late.
    pub overlap: Duration,
    /// Where the first run starts (records updated at or after this time).
    pub start: DateTime<Utc>,
}

fn config_err(msg: impl Into<String>) -> ConnectorError {
    ConnectorError::Config(msg.into())
}

/// `[connection]` of a Zendesk flow (beside the engine's `connector`, `quota`, …).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connection {
    /// The account: `acme` for acme.zendesk.com.
    subdomain: Option<String>,
    /// Instead of `subdomain`: scheme, host and port only (a proxy, the sandbox).
    base_url: Option<String>,
    /// The agent an API token belongs to.
    email: Option<String>,
    api_token: Option<Secret>,
    /// An OAuth access token, instead of `email` and `api_token`.
    access_token: Option<Secret>,
}

/// `[source]` of a Zendesk flow (beside the engine's `streams`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    /// Records per page, 1 to 1000.
    #[serde(default, deserialize_with = "number_or_digits")]
    page_size: Option<u64>,
    /// How far before the mark each run re-reads, for records the search index saw late.
    #[serde(default, deserialize_with = "number_or_digits")]
    overlap_seconds: Option<u64>,
    /// Where the first run starts: a date or an RFC 3339 time.
    start: Option<String>,
}

/// The keys that must be `${ENV}` references.
const CREDENTIALS: &[&str] = &["api_token", "access_token"];

impl ZendeskSettings {
    pub fn from_config(config: &ConnectorConfig) -> Result<Self, ConnectorError> {
        let (connection, source): (Connection, Source) = config.settings(CREDENTIALS)?;
        let base_url = match (
            connection.base_url.as_deref(),
            connection.subdomain.as_deref(),
        ) {
            (Some(url), _) => parse_base_url(url)?,
            (None, Some(sub)) => {
                if sub.is_empty() || !sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(config_err(format!(
                        "[connection] `subdomain` = \"{sub}\" is not a Zendesk subdomain (the \
                         `acme` of acme.zendesk.com)"
                    )));
                }
                parse_base_url(&format!("https://{sub}.zendesk.com"))?
            }
            (None, None) => {
                return Err(config_err(
                    "[connection] needs `subdomain` (acme for acme.zendesk.com) or `base_url`",
                ))
            }
        };
        let auth = match (connection.email, connection.api_token, connection.access_token) {
            (Some(email), Some(token), _) => {
                if !email.contains('@') {
                    return Err(config_err(format!(
                        "[connection] `email` = \"{email}\" is not an email address"
                    )));
                }
                Auth::zendesk_token(&email, token)
            }
            (_, _, Some(token)) => Auth::Bearer { token },
            (None, Some(_), None) => {
                return Err(config_err(
                    "[connection] `api_token` needs `email` (the agent the token belongs to)",
                ))
            }
            _ => {
                return Err(config_err(
                    "[connection] needs credentials: `email` and `api_token = \"${ZENDESK_API_TOKEN}\"`, \
                     or `access_token = \"${ZENDESK_OAUTH_TOKEN}\"`",
                ))
            }
        };
        let page_size = source.page_size.unwrap_or(1000);
        if !(1..=1000).contains(&page_size) {
            return Err(config_err(format!(
                "[source] `page_size` = {page_size}: the export allows 1 to 1000"
            )));
        }
        let overlap = Duration::from_secs(source.overlap_seconds.unwrap_or(300));
        let start = match source.start.as_deref() {
            None => DateTime::<Utc>::UNIX_EPOCH,
            Some(s) => DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
                })
                .map_err(|_| {
                    config_err(format!(
                        "[source] `start` = \"{s}\": use a date (2024-01-01) or an RFC 3339 time"
                    ))
                })?,
        };
        let quotas = Quota::overridden(&config.quota, default_quotas());
        Ok(Self {
            flow: config.flow.clone(),
            base_url,
            auth,
            quotas,
            page_size: page_size as u32,
            overlap,
            start,
            limits: config.limits,
        })
    }

    pub fn http_config(&self) -> HttpConfig {
        HttpConfig {
            // the account's quotas are the account's, whichever flow or token spends them
            quota_scope: sluice_http::quota_scope(
                "zendesk",
                self.base_url.host_str().unwrap_or_default(),
            ),
            quotas: self.quotas.clone(),
            ..HttpConfig::for_connection(
                format!("zendesk connection of flow `{}`", self.flow),
                &self.limits,
            )
        }
    }
}

fn parse_base_url(text: &str) -> Result<Url, ConnectorError> {
    sluice_http::parse_base_url(text, "https://acme.zendesk.com", "/api/v2/…")
        .map_err(ConnectorError::Config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use sluice_core::Param;

    fn config(pairs: &[(&str, Param)]) -> ConnectorConfig {
        ConnectorConfig {
            flow: "f".into(),
            connection: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Default::default()
        }
    }

    fn plain(s: &str) -> Param {
        Param::Plain(Value::String(s.into()))
    }

    #[test]
    fn base_url_must_be_bare() {
        let secret = Param::Secret(Secret::new("t"));
        let ok = config(&[
            ("base_url", plain("http://127.0.0.1:8080")),
            ("email", plain("a@b.c")),
            ("api_token", secret.clone()),
        ]);
        assert!(ZendeskSettings::from_config(&ok).is_ok());
        let with_path = config(&[
            ("base_url", plain("https://acme.zendesk.com/api/v2")),
            ("email", plain("a@b.c")),
            ("api_token", secret),
        ]);
        let err = ZendeskSettings::from_config(&with_path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("scheme, host and port only"), "{err}");
    }

    #[test]
    fn a_literal_token_is_refused() {
        let c = config(&[
            ("subdomain", plain("acme")),
            ("email", plain("a@b.c")),
            ("api_token", plain("literal-token")),
        ]);
        let err = ZendeskSettings::from_config(&c).unwrap_err().to_string();
        assert!(err.contains("environment reference"), "{err}");
        assert!(!err.contains("literal-token"), "{err}");
    }
}
