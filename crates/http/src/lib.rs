//! The one HTTP client every connector uses: authentication, a request quota per connection,
//! retries with full-jitter backoff that honour `Retry-After` and rate-limit headers, timeouts and
//! request counters. Connectors supply only what differs: URLs, how to read a body, and (rarely)
//! how to classify a vendor-specific error.

mod auth;
mod base_url;
mod client;
mod error;
mod metrics;
mod oauth;
mod pacing;
mod policy;
mod request;

pub use auth::Auth;
pub use base_url::{parse_base_url, quota_infos};
pub use client::{redact, HttpClient, HttpConfig, DEFAULT_MAX_WAIT};
pub use error::HttpError;
pub use metrics::RequestMetrics;
pub use oauth::{ClientAuth, OAuthKeys, OAuthRefresh, TokenStore};
pub use pacing::{quota_wait, Quota, BUDGET_PERIOD, PACE};
pub use policy::{parse_retry_after, Classifier, Decision, ResponseInfo};
pub use request::{Body, Request};
pub use reqwest::header::HeaderMap;

/// A quota scope: who a vendor counts requests of (`connector` and a fingerprint of the
/// identity, never the identity itself), so clients of one account share their quotas.
pub fn quota_scope(connector: &str, identity: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(identity.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{connector}:{hex}")
}
