use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, RateLimiter};
use reqwest::header::{HeaderMap, AUTHORIZATION};
use tokio::time::Instant;
use url::Url;

use crate::auth::Auth;
use crate::error::HttpError;
use crate::metrics::RequestMetrics;
use crate::policy::{
    default_decision, remaining, reset_seconds, Classifier, Decision, ResponseInfo,
};

/// A request budget: `count` requests per `period`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// The vendor's name for it (`search_export`, `ads_analytics`, …), for plans and logs.
    pub name: String,
    pub count: u32,
    pub period: Duration,
}

impl Quota {
    pub fn new(name: &str, count: u32, period: Duration) -> Self {
        Self {
            name: name.to_string(),
            count,
            period,
        }
    }

    /// A flow's `quota = "COUNT/SECONDS"` replaces every declared quota; without one, the
    /// connector's `defaults` apply.
    pub fn overridden(overridden: Option<(u32, u64)>, defaults: Vec<Quota>) -> Vec<Quota> {
        match overridden {
            Some((count, secs)) => vec![Quota::new("quota", count, Duration::from_secs(secs))],
            None => defaults,
        }
    }

    /// The even spacing this quota allows between two requests.
    pub fn interval(&self) -> Duration {
        self.period / self.count.max(1)
    }
}

/// Requests are paced at this share of a quota. The margin absorbs arrival jitter, so that a
/// server counting a strict sliding window never sees one request too many, while a long run
/// still uses more than 90 % of what it is allowed.
pub const PACE: f64 = 0.95;

/// Quotas over periods longer than this are budgets, not rates: up to 95 % of the count may go
/// at once (within the shorter quotas), and no more within any period. Pacing 60 an hour
/// evenly would make every small job wait a minute per request for nothing.
pub const BUDGET_PERIOD: Duration = Duration::from_secs(60);

/// A client-side sliding window: the send times of the last `budget` requests.
struct Budget {
    budget: usize,
    period: Duration,
    sent: Mutex<std::collections::VecDeque<Instant>>,
}

impl Budget {
    /// How long until one more request fits; records it when it does (`Duration::ZERO`).
    fn reserve(&self) -> Duration {
        let now = Instant::now();
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.period)
        {
            sent.pop_front();
        }
        if sent.len() < self.budget {
            sent.push_back(now);
            return Duration::ZERO;
        }
        sent.front()
            .map_or(Duration::ZERO, |t| {
                (*t + self.period).saturating_duration_since(now)
            })
            .max(Duration::from_millis(1))
    }
}

/// How one connection talks HTTP. Defaults suit a page-at-a-time JSON API.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Named in error messages ("connection of flow `x`").
    pub connection: String,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
    /// Longest a whole page request may take.
    pub request_timeout: Duration,
    /// Retries of failures other than rate limiting (5xx, cut bodies, timeouts).
    pub max_retries: usize,
    /// Cap on the total time spent waiting between attempts of one request. Rate-limited
    /// responses (429) are waited out up to this cap, however many there are.
    pub max_total_wait: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Every quota the connection is subject to; requests are paced under all of them (evenly,
    /// no bursts, at [`PACE`] of the strictest).
    pub quotas: Vec<Quota>,
    pub classifier: Option<Classifier>,
    /// The largest body read into memory: a bigger one fails at once (asking again would
    /// bring the same), so memory is bounded by this, not by what a server sends.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connection: "connection".into(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(300),
            max_retries: 8,
            max_total_wait: Duration::from_secs(15 * 60),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            quotas: Vec::new(),
            classifier: None,
            max_body_bytes: usize::try_from(sluice_core::DEFAULT_MAX_PAGE_BYTES)
                .unwrap_or(usize::MAX),
        }
    }
}

impl HttpConfig {
    /// The defaults with the flow's `[connection]` limits applied, for the connection named
    /// `connection` in messages.
    pub fn for_connection(connection: String, limits: &sluice_core::ConnectionLimits) -> Self {
        let defaults = Self::default();
        Self {
            connection,
            max_retries: limits
                .max_retries
                .map_or(defaults.max_retries, |n| n as usize),
            max_body_bytes: limits.max_page_bytes.map_or(defaults.max_body_bytes, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
            ..defaults
        }
    }
}

/// Of an error response, only this much is read: enough for the message, never a flood.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Read a body up to `cap` bytes. `Ok(None)` when it is larger (what is past the cap is never
/// read, so a hostile size costs nothing).
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Option<bytes::Bytes>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Ok(None);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// An error body, cut at [`MAX_ERROR_BODY`].
async fn read_error_body(mut response: reqwest::Response) -> bytes::Bytes {
    let mut body = bytes::BytesMut::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    body.freeze()
}

/// A floor under every retry wait, so that `Retry-After: 0` or an unlucky full jitter draw never
/// turns into a hot loop against a struggling server.
const MIN_RETRY_WAIT: Duration = Duration::from_millis(100);

struct Inner {
    client: reqwest::Client,
    auth_header: Option<sluice_core::Secret>,
    config: HttpConfig,
    limiters: Vec<DefaultDirectRateLimiter>,
    budgets: Vec<Budget>,
    /// Set when the server reports an exhausted budget: no request leaves before this instant.
    paused_until: Mutex<Option<Instant>>,
    metrics: RequestMetrics,
}

/// Cheap to clone; clones share the quota, the pause and the counters.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

/// One failed attempt, with what the retry loop needs to know about it.
struct Attempt {
    error: HttpError,
    retryable: bool,
    after: Option<Duration>,
    rate_limited: bool,
}

impl HttpClient {
    pub fn new(auth: Auth, config: HttpConfig) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .gzip(true)
            .build()
            .map_err(|e| HttpError::Setup(e.to_string()))?;
        let mut limiters = Vec::new();
        let mut budgets = Vec::new();
        for q in &config.quotas {
            if q.count == 0 {
                return Err(HttpError::Setup(format!(
                    "quota `{}` needs a count above 0",
                    q.name
                )));
            }
            if q.period > BUDGET_PERIOD {
                budgets.push(Budget {
                    budget: ((f64::from(q.count) * PACE).floor() as usize).max(1),
                    period: q.period,
                    sent: Mutex::new(std::collections::VecDeque::new()),
                });
                continue;
            }
            let interval = q.interval().div_f64(PACE);
            let quota = governor::Quota::with_period(interval)
                .ok_or_else(|| {
                    HttpError::Setup(format!("quota `{}` needs a period above 0", q.name))
                })?
                .allow_burst(NonZeroU32::MIN);
            limiters.push(RateLimiter::direct(quota));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                auth_header: auth.header_value(),
                config,
                limiters,
                budgets,
                paused_until: Mutex::new(None),
                metrics: RequestMetrics::default(),
            }),
        })
    }

    pub fn metrics(&self) -> &RequestMetrics {
        &self.inner.metrics
    }

    /// GET `url` and read the whole body, then hand it to `parse` (which may keep it: the
    /// records of a page can stay slices of it). Transport errors, cut bodies, retryable
    /// statuses and bodies that `parse` rejects are all retried with backoff; the parsed value
    /// and the body size come back.
    pub async fn get_parsed<T, P>(&self, url: &Url, parse: P) -> Result<(T, usize), HttpError>
    where
        P: Fn(bytes::Bytes) -> Result<T, String>,
    {
        self.with_retries(url, || self.attempt(url, &parse)).await
    }

    /// GET `url` and return the response once its status is a success, with the body unread:
    /// for streamed exports. Statuses are retried as for [`HttpClient::get_parsed`]; failures
    /// while reading the body are the caller's to handle (typically by retrying the request).
    pub async fn get_stream(&self, url: &Url) -> Result<reqwest::Response, HttpError> {
        self.with_retries(url, || self.attempt_stream(url)).await
    }

    /// Count bytes a caller read from a streamed body.
    pub fn note_received(&self, bytes: usize) {
        self.inner.metrics.received(bytes);
    }

    async fn with_retries<T, F, Fut>(&self, url: &Url, mut op: F) -> Result<T, HttpError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Attempt>>,
    {
        let cfg = &self.inner.config;
        let attempts = AtomicU32::new(0);
        let failures = AtomicU32::new(0);
        let waited_us = AtomicU64::new(0);
        // the count is enforced below, where rate limiting and failures are told apart
        let backoff = ExponentialBuilder::default()
            .with_min_delay(cfg.min_backoff)
            .with_max_delay(cfg.max_backoff)
            .without_max_times();
        let result = (|| {
            attempts.fetch_add(1, Ordering::Relaxed);
            op()
        })
        .retry(backoff)
        .when(|a: &Attempt| a.retryable)
        .adjust(|a: &Attempt, step: Option<Duration>| {
            let step = step?;
            if !a.rate_limited
                && failures.fetch_add(1, Ordering::Relaxed) as usize >= cfg.max_retries
            {
                return None;
            }
            // Full jitter over the exponential step, floored; a server's own wait wins if longer.
            let jitter = step.mul_f64(fastrand::f64()).max(MIN_RETRY_WAIT);
            let wait = a.after.map_or(jitter, |after| after.max(MIN_RETRY_WAIT));
            let total = Duration::from_micros(waited_us.load(Ordering::Relaxed)) + wait;
            if total > cfg.max_total_wait {
                return None;
            }
            waited_us.store(total.as_micros() as u64, Ordering::Relaxed);
            Some(wait)
        })
        .notify(|a: &Attempt, wait: Duration| {
            self.inner.metrics.retry();
            if a.rate_limited {
                self.inner.metrics.throttled(wait);
            }
            tracing::warn!(
                connection = %cfg.connection,
                error = %a.error,
                wait_ms = wait.as_millis() as u64,
                "retrying request"
            );
        })
        .await;
        result.map_err(|a| {
            let attempts = attempts.load(Ordering::Relaxed);
            if a.retryable {
                HttpError::Exhausted {
                    url: redact(url),
                    attempts,
                    waited: Duration::from_micros(waited_us.load(Ordering::Relaxed)),
                    last: Box::new(a.error),
                }
            } else {
                a.error
            }
        })
    }

    async fn attempt_stream(&self, url: &Url) -> Result<reqwest::Response, Attempt> {
        self.wait_for_turn().await;
        let inner = &self.inner;
        inner.metrics.request_sent();
        // no total timeout: a day of events may stream for a long time; the read timeout
        // still catches a stalled connection
        let mut request = inner.client.get(url.clone());
        if let Some(h) = &inner.auth_header {
            request = request.header(AUTHORIZATION, h.expose());
        }
        let response = request.send().await.map_err(|e| Attempt {
            error: HttpError::Transport {
                url: redact(url),
                message: describe(&e),
            },
            retryable: true,
            after: None,
            rate_limited: false,
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.note_budget(&headers);
        let probe = ResponseInfo {
            status,
            headers: &headers,
            body: b"",
        };
        let decision = inner
            .config
            .classifier
            .and_then(|c| c(&probe))
            .unwrap_or_else(|| default_decision(&probe));
        if decision == Decision::Success {
            return Ok(response);
        }
        let body = read_error_body(response).await;
        inner.metrics.received(body.len());
        let error = HttpError::Status {
            status,
            url: redact(url),
            body: snippet(&body),
        };
        let rate_limited = status == 429;
        if rate_limited {
            inner.metrics.rate_limited();
        }
        Err(match decision {
            Decision::Retry { after } => Attempt {
                error,
                retryable: true,
                after,
                rate_limited,
            },
            _ => Attempt {
                error,
                retryable: false,
                after: None,
                rate_limited: false,
            },
        })
    }

    async fn wait_for_turn(&self) {
        let started = Instant::now();
        let pause = self
            .inner
            .paused_until
            .lock()
            .map(|p| *p)
            .unwrap_or_default();
        if let Some(until) = pause {
            tokio::time::sleep_until(until).await;
        }
        for limiter in &self.inner.limiters {
            limiter.until_ready().await;
        }
        for budget in &self.inner.budgets {
            loop {
                let wait = budget.reserve();
                if wait.is_zero() {
                    break;
                }
                tracing::info!(
                    wait_s = wait.as_secs(),
                    "request budget spent; waiting for the window to move"
                );
                tokio::time::sleep(wait).await;
            }
        }
        let waited = started.elapsed();
        if waited > Duration::from_millis(1) {
            self.inner.metrics.throttled(waited);
        }
    }

    /// Adapt to the server's own account of the budget: when it says none is left, hold every
    /// request until its window resets instead of spending a request on a 429.
    fn note_budget(&self, headers: &HeaderMap) {
        if remaining(headers) == Some(0) {
            let wait = reset_seconds(headers).unwrap_or(Duration::from_secs(1));
            if let Ok(mut p) = self.inner.paused_until.lock() {
                *p = Some(Instant::now() + wait);
            }
        }
    }

    async fn attempt<T, P>(&self, url: &Url, parse: &P) -> Result<(T, usize), Attempt>
    where
        P: Fn(bytes::Bytes) -> Result<T, String>,
    {
        self.wait_for_turn().await;
        let inner = &self.inner;
        inner.metrics.request_sent();
        let mut request = inner
            .client
            .get(url.clone())
            .timeout(inner.config.request_timeout);
        if let Some(h) = &inner.auth_header {
            request = request.header(AUTHORIZATION, h.expose());
        }
        let transport = |message: String| Attempt {
            error: HttpError::Transport {
                url: redact(url),
                message,
            },
            retryable: true,
            after: None,
            rate_limited: false,
        };
        let response = request.send().await.map_err(|e| transport(describe(&e)))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = if (200..300).contains(&status) {
            let cap = inner.config.max_body_bytes;
            match read_capped(response, cap).await {
                Ok(Some(body)) => body,
                Ok(None) => {
                    return Err(Attempt {
                        error: HttpError::TooLarge {
                            url: redact(url),
                            limit: cap,
                        },
                        retryable: false,
                        after: None,
                        rate_limited: false,
                    })
                }
                Err(e) => {
                    return Err(Attempt {
                        error: HttpError::Body {
                            url: redact(url),
                            message: format!("response cut short: {}", describe(&e)),
                        },
                        retryable: true,
                        after: None,
                        rate_limited: false,
                    })
                }
            }
        } else {
            read_error_body(response).await
        };
        inner.metrics.received(body.len());
        self.note_budget(&headers);
        let info = ResponseInfo {
            status,
            headers: &headers,
            body: &body,
        };
        let decision = inner
            .config
            .classifier
            .and_then(|c| c(&info))
            .unwrap_or_else(|| default_decision(&info));
        let status_error = || HttpError::Status {
            status,
            url: redact(url),
            body: snippet(&body),
        };
        match decision {
            Decision::Success => match parse(body.clone()) {
                Ok(value) => Ok((value, body.len())),
                Err(message) => Err(Attempt {
                    error: HttpError::Body {
                        url: redact(url),
                        message,
                    },
                    retryable: true,
                    after: None,
                    rate_limited: false,
                }),
            },
            Decision::Retry { after } => {
                if status == 429 {
                    inner.metrics.rate_limited();
                }
                Err(Attempt {
                    error: status_error(),
                    retryable: true,
                    after,
                    rate_limited: status == 429,
                })
            }
            Decision::Fail => Err(Attempt {
                error: status_error(),
                retryable: false,
                after: None,
                rate_limited: false,
            }),
        }
    }
}

/// A URL fit for logs: no user info, and query values that look like credentials masked.
pub fn redact(url: &Url) -> String {
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    let sensitive = |k: &str| {
        let k = k.to_ascii_lowercase();
        ["token", "secret", "key", "password", "auth"]
            .iter()
            .any(|s| k.contains(s))
    };
    if clean.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if sensitive(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        clean.query_pairs_mut().clear().extend_pairs(pairs);
    }
    sluice_core::redact(clean.as_str()).into_owned()
}

fn describe(e: &reqwest::Error) -> String {
    // reqwest's Display names the URL, which we already show redacted; walk the sources instead.
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else {
        "transport error"
    };
    if parts.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {}", parts.join(": "))
    }
}

/// The start of a body for a message, with every secret masked first (a server may echo the
/// request's headers, and a cut must not leave half a token behind).
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    let clean = sluice_core::redact(&text);
    let cut: String = clean.trim().chars().take(MAX).collect();
    if clean.trim().chars().count() > MAX {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_masks_credential_like_query_values() {
        let url = Url::parse("https://u:p@x.io/a?api_key=abc&page=2&access_token=t").expect("url");
        let r = redact(&url);
        assert!(
            !r.contains("abc") && !r.contains(":p@") && !r.contains("=t"),
            "{r}"
        );
        assert!(r.contains("page=2"), "{r}");
    }
}
