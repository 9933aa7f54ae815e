//! The one HTTP client every connector uses: authentication, a request quota per connection,
//! retries with full-jitter backoff that honour `Retry-After` and rate-limit headers, timeouts and
//! request counters. Connectors supply only what differs: URLs, how to read a body, and (rarely)
//! how to classify a vendor-specific error.

mod auth;
mod base_url;
mod client;
mod error;
mod metrics;
mod policy;

pub use auth::Auth;
pub use base_url::{parse_base_url, quota_infos};
pub use client::{HttpClient, HttpConfig, Quota};
pub use error::HttpError;
pub use metrics::RequestMetrics;
pub use policy::{parse_retry_after, Decision, ResponseInfo};
