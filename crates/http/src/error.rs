use std::time::Duration;

/// Why a request did not produce a usable response. URLs are redacted; bodies are truncated.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("HTTP {status} from {url}: {body}")]
    Status {
        status: u16,
        url: String,
        body: String,
    },
    #[error("request to {url} failed: {message}")]
    Transport { url: String, message: String },
    #[error("unreadable response from {url}: {message}")]
    Body { url: String, message: String },
    #[error(
        "gave up on {url} after {attempts} attempts and {} s of waiting; last error: {last}",
        waited.as_secs()
    )]
    Exhausted {
        url: String,
        attempts: u32,
        waited: Duration,
        last: Box<HttpError>,
    },
    #[error("the response from {url} is larger than max_page_bytes ({limit} bytes), so it was not read; ask for smaller pages ([source] page_size) or raise [connection] max_page_bytes")]
    TooLarge { url: String, limit: usize },
    /// A quota's next turn is further away than the run may wait.
    #[error("quota `{quota}` is spent until {resume_at} (a wait of {wait_s} s, longer than max_wait_seconds allows){}", last.as_ref().map(|l| format!("; last response: {l}")).unwrap_or_default())]
    QuotaExhausted {
        quota: String,
        resume_at: chrono::DateTime<chrono::Utc>,
        wait_s: u64,
        last: Option<Box<HttpError>>,
    },
    #[error("the token endpoint {url} refused to refresh the access token (HTTP {status}): {body}. Authorize again and update the refresh token the flow's environment reference points at. (Another flow of this authorization with a state database of its own may have rotated the token: flows that share an authorization share one `[state] path`.)")]
    Refresh {
        url: String,
        status: u16,
        body: String,
    },
    #[error("invalid HTTP client setup: {0}")]
    Setup(String),
}

impl HttpError {
    /// This failure as a connector error: a spent quota, refused credentials (`auth_hint` says
    /// what to check), or an API error.
    pub fn into_connector_error(
        self,
        connection: &str,
        auth_hint: &str,
    ) -> sluice_core::ConnectorError {
        use sluice_core::ConnectorError;
        match self {
            HttpError::QuotaExhausted {
                ref quota,
                resume_at,
                ..
            } => ConnectorError::QuotaExhausted {
                quota: quota.clone(),
                resume_at,
                message: self.to_string(),
            },
            HttpError::Refresh { .. } => ConnectorError::Auth {
                connection: connection.to_string(),
                message: self.to_string(),
            },
            e => match e.status() {
                Some(401) | Some(403) => ConnectorError::Auth {
                    connection: connection.to_string(),
                    message: format!("{e}. {auth_hint}"),
                },
                status => ConnectorError::Api {
                    status,
                    message: e.to_string(),
                },
            },
        }
    }

    pub(crate) fn exhausted(quota: String, wait: Duration, last: Option<HttpError>) -> Self {
        let resume_at = chrono::Utc::now()
            + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1));
        HttpError::QuotaExhausted {
            quota,
            resume_at,
            wait_s: wait.as_secs(),
            last: last.map(Box::new),
        }
    }

    /// The HTTP status behind this error, looking through retries.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            HttpError::Exhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The (truncated) response body behind this error, looking through retries.
    pub fn body(&self) -> Option<&str> {
        match self {
            HttpError::Status { body, .. } => Some(body),
            HttpError::Exhausted { last, .. } => last.body(),
            _ => None,
        }
    }
}
