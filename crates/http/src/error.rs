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
        "gave up on {url} after {attempts} attempts and {waited:?} of waiting; last error: {last}"
    )]
    Exhausted {
        url: String,
        attempts: u32,
        waited: Duration,
        last: Box<HttpError>,
    },
    #[error("the response from {url} is larger than max_page_bytes ({limit} bytes), so it was not read; ask for smaller pages ([source] page_size) or raise [connection] max_page_bytes")]
    TooLarge { url: String, limit: usize },
    #[error("invalid HTTP client setup: {0}")]
    Setup(String),
}

impl HttpError {
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
