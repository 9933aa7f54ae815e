//! The one request loop every connector uses: credentials, quotas, retries, waits and limits.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use tokio::time::Instant;
use url::Url;

use crate::auth::Auth;
use crate::error::HttpError;
use crate::metrics::RequestMetrics;
use crate::oauth::OAuthState;
use crate::pacing::{pacers, Exhausted, Pacer, Quota};

/// Requests remembered per category for [`HttpClient::note_budget`]: more than any quota a
/// window of a minute or less allows that a client paces through.
const SEND_HISTORY: usize = 4096;

/// Metered requests, oldest first: when each was sent and how long until its answer began.
type SendHistory = VecDeque<(Instant, Duration)>;

/// A metered request between its send and its answer, counted in `in_flight`.
struct InFlight<'a>(Option<&'a std::sync::atomic::AtomicUsize>);

impl<'a> InFlight<'a> {
    fn start(count: &'a std::sync::atomic::AtomicUsize, metered: bool) -> Self {
        if !metered {
            return Self(None);
        }
        count.fetch_add(1, Ordering::SeqCst);
        Self(Some(count))
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(count) = self.0 {
            count.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
use crate::policy::{budgets, default_decision, reset_seconds, Classifier, Decision, ResponseInfo};
use crate::request::{Body, Request};

/// How one connection talks HTTP. Defaults suit a page-at-a-time JSON API.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Named in error messages ("connection of flow `x`").
    pub connection: String,
    /// Who the vendor counts the quotas of (the connector and a fingerprint of the credential):
    /// clients of one scope share their quotas in the process. Empty shares nothing.
    pub quota_scope: String,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
    /// Longest a whole page request may take.
    pub request_timeout: Duration,
    /// Retries of failures other than rate limiting (5xx, cut bodies, timeouts).
    pub max_retries: usize,
    /// Cap on the total time spent waiting between attempts of one request.
    pub max_total_wait: Duration,
    /// The longest single wait for a quota (a reset header, `Retry-After`, a spent budget):
    /// a longer one stops the run as "quota exhausted" with the time to resume, instead of a
    /// silent multi-hour sleep.
    pub max_wait: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Every quota the connection is subject to; a request waits for those of its category and
    /// for those every request counts against.
    pub quotas: Vec<Quota>,
    pub classifier: Option<Classifier>,
    /// The largest body read into memory: a bigger one fails at once (asking again would
    /// bring the same), so memory is bounded by this, not by what a server sends.
    pub max_body_bytes: usize,
}

/// The default of `max_wait_seconds`.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(300);

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connection: "connection".into(),
            quota_scope: String::new(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(300),
            max_retries: 8,
            max_total_wait: Duration::from_secs(15 * 60),
            max_wait: DEFAULT_MAX_WAIT,
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
            max_wait: limits
                .max_wait_seconds
                .map_or(defaults.max_wait, Duration::from_secs),
            read_timeout: limits
                .read_timeout_seconds
                .map_or(defaults.read_timeout, Duration::from_secs),
            connect_timeout: limits
                .connect_timeout_seconds
                .map_or(defaults.connect_timeout, Duration::from_secs),
            request_timeout: limits
                .request_timeout_seconds
                .map_or(defaults.request_timeout, Duration::from_secs),
            max_total_wait: limits
                .retry_budget_seconds
                .map_or(defaults.max_total_wait, Duration::from_secs),
            ..defaults
        }
    }
}

/// Of an error response, only this much is read: enough for the message, never a flood.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A floor under every retry wait, so that `Retry-After: 0` or an unlucky full jitter draw never
/// turns into a hot loop against a struggling server.
const MIN_RETRY_WAIT: Duration = Duration::from_millis(100);

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

enum Credentials {
    Static(Option<sluice_core::Secret>),
    OAuth(Arc<OAuthState>),
}

struct Inner {
    client: reqwest::Client,
    credentials: Credentials,
    config: HttpConfig,
    pacers: Vec<Arc<Pacer>>,
    /// Set when the server reports a spent budget: no request of that category (`None`: any)
    /// leaves before this instant.
    paused_until: Mutex<HashMap<Option<String>, Instant>>,
    /// This client's metered requests, newest last, per category and all together (`None`):
    /// when and how long until their answer began. See [`HttpClient::note_budget`].
    sent: Mutex<HashMap<Option<String>, SendHistory>>,
    /// Metered requests sent and not answered yet.
    in_flight: std::sync::atomic::AtomicUsize,
    /// Until when a budget is known to be spent by others too (the server counted more than
    /// this client could have in its window): no shortcut in [`HttpClient::note_budget`].
    shared_until: Mutex<Option<Instant>>,
    metrics: RequestMetrics,
    /// Set by the first answer: before it, a refused connection is a wrong address, not a
    /// server that is briefly away, and it fails at once instead of retrying for a minute.
    answered: std::sync::atomic::AtomicBool,
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

impl Attempt {
    fn fail(error: HttpError) -> Self {
        Self {
            error,
            retryable: false,
            after: None,
            rate_limited: false,
        }
    }

    fn retry(error: HttpError) -> Self {
        Self {
            error,
            retryable: true,
            after: None,
            rate_limited: false,
        }
    }
}

/// The state one request's attempts share.
#[derive(Default)]
struct Tries {
    attempts: AtomicU32,
    failures: AtomicU32,
    waited_us: AtomicU64,
    /// Credentials were refreshed once for this request: a second expiry is a real refusal.
    refreshed: AtomicBool,
    /// A wait longer than the budget stopped the retries: (quota, wait in µs).
    exhausted: Mutex<Option<(String, u64)>>,
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
        let pacers = pacers(&config.quota_scope, &config.quotas).map_err(HttpError::Setup)?;
        let credentials = match auth {
            Auth::OAuthRefresh(o) => Credentials::OAuth(crate::oauth::shared(o)),
            other => Credentials::Static(other.header_value()),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                credentials,
                config,
                pacers,
                paused_until: Mutex::new(HashMap::new()),
                sent: Mutex::new(HashMap::new()),
                in_flight: std::sync::atomic::AtomicUsize::new(0),
                shared_until: Mutex::new(None),
                metrics: RequestMetrics::default(),
                answered: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    pub fn metrics(&self) -> &RequestMetrics {
        &self.inner.metrics
    }

    /// Send `request` and read the whole body, then hand it to `parse` (which may keep it: the
    /// records of a page can stay slices of it). Transport errors, cut bodies, retryable
    /// statuses and bodies that `parse` rejects are all retried with backoff; the parsed value
    /// and the body size come back.
    pub async fn send_parsed<T, P>(
        &self,
        request: &Request,
        parse: P,
    ) -> Result<(T, usize), HttpError>
    where
        P: Fn(bytes::Bytes) -> Result<T, String>,
    {
        let parse = &parse;
        self.with_retries(request, |tries| async move {
            self.attempt(request, parse, &tries).await
        })
        .await
    }

    /// Send `request` and return the response once its status is a success, with the body
    /// unread: for streamed exports. Statuses are retried as for [`HttpClient::send_parsed`];
    /// failures while reading the body are the caller's to handle (typically by asking again).
    pub async fn send_stream(&self, request: &Request) -> Result<reqwest::Response, HttpError> {
        self.with_retries(request, |tries| async move {
            self.attempt_stream(request, &tries).await
        })
        .await
    }

    /// `send_parsed` of a GET.
    pub async fn get_parsed<T, P>(&self, url: &Url, parse: P) -> Result<(T, usize), HttpError>
    where
        P: Fn(bytes::Bytes) -> Result<T, String>,
    {
        self.send_parsed(&Request::get(url.clone()), parse).await
    }

    /// Count bytes a caller read from a streamed body.
    pub fn note_received(&self, bytes: usize) {
        self.inner.metrics.received(bytes);
    }

    async fn with_retries<T, F, Fut>(&self, request: &Request, op: F) -> Result<T, HttpError>
    where
        F: Fn(Arc<Tries>) -> Fut,
        Fut: std::future::Future<Output = Result<T, Attempt>>,
    {
        let cfg = &self.inner.config;
        let tries = Arc::new(Tries::default());
        let tries_ref = &tries;
        // the count is enforced below, where rate limiting and failures are told apart
        let backoff = ExponentialBuilder::default()
            .with_min_delay(cfg.min_backoff)
            .with_max_delay(cfg.max_backoff)
            .without_max_times();
        let result = (|| {
            tries_ref.attempts.fetch_add(1, Ordering::Relaxed);
            op(tries_ref.clone())
        })
        .retry(backoff)
        .when(|a: &Attempt| a.retryable)
        .adjust(|a: &Attempt, step: Option<Duration>| {
            let step = step?;
            if !a.rate_limited
                && tries_ref.failures.fetch_add(1, Ordering::Relaxed) as usize >= cfg.max_retries
            {
                return None;
            }
            // Full jitter over the exponential step, floored; a server's own wait wins if longer.
            let jitter = step.mul_f64(fastrand::f64()).max(MIN_RETRY_WAIT);
            let wait = a.after.map_or(jitter, |after| after.max(MIN_RETRY_WAIT));
            let total = Duration::from_micros(tries_ref.waited_us.load(Ordering::Relaxed)) + wait;
            if a.rate_limited && (wait > cfg.max_wait || total > cfg.max_total_wait) {
                let quota = request
                    .category
                    .clone()
                    .unwrap_or_else(|| "rate limit".into());
                if let Ok(mut e) = tries_ref.exhausted.lock() {
                    *e = Some((quota, wait.as_micros() as u64));
                }
                return None;
            }
            if total > cfg.max_total_wait {
                return None;
            }
            tries_ref
                .waited_us
                .store(total.as_micros() as u64, Ordering::Relaxed);
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
            if let HttpError::QuotaExhausted { .. } = a.error {
                return a.error;
            }
            let exhausted = tries.exhausted.lock().ok().and_then(|mut e| e.take());
            if let Some((quota, wait_us)) = exhausted {
                return HttpError::exhausted(quota, Duration::from_micros(wait_us), Some(a.error));
            }
            let attempts = tries.attempts.load(Ordering::Relaxed);
            if a.retryable {
                HttpError::Exhausted {
                    url: redact(&request.url),
                    attempts,
                    waited: Duration::from_micros(tries.waited_us.load(Ordering::Relaxed)),
                    last: Box::new(a.error),
                }
            } else {
                a.error
            }
        })
    }

    /// The `Authorization` header for `request` and its generation (for a refresh on expiry).
    async fn credentials(
        &self,
        request: &Request,
    ) -> Result<(u64, Option<sluice_core::Secret>), Attempt> {
        if !request.authenticated {
            return Ok((0, None));
        }
        match &self.inner.credentials {
            Credentials::Static(h) => Ok((0, h.clone())),
            Credentials::OAuth(o) => {
                let (generation, header) = o.header().await;
                if header.is_some() {
                    return Ok((generation, header));
                }
                // no access token yet: get one first
                self.refresh(o, generation).await.map_err(Attempt::fail)?;
                Ok(o.header().await)
            }
        }
    }

    /// Refresh the access token: a request like any other for the quotas every request counts
    /// against (a vendor counts it).
    async fn refresh(&self, o: &OAuthState, generation: u64) -> Result<(), HttpError> {
        if let Err(a) = self
            .wait_for_turn(&Request::get(o.token_url().clone()))
            .await
        {
            return Err(a.error);
        }
        o.refresh(&self.inner.client, generation).await
    }

    /// Build the reqwest request: method, URL, headers, body, credentials.
    fn build(
        &self,
        request: &Request,
        auth: Option<&sluice_core::Secret>,
        timeout: bool,
    ) -> reqwest::RequestBuilder {
        let inner = &self.inner;
        let mut r = inner
            .client
            .request(request.method.clone(), request.url.clone());
        if timeout {
            r = r.timeout(inner.config.request_timeout);
        }
        for (name, value) in &request.headers {
            r = r.header(name, value);
        }
        match &request.body {
            Some(Body::Json(bytes)) => {
                r = r
                    .header(CONTENT_TYPE, "application/json")
                    .body(bytes.clone())
            }
            Some(Body::Form(text)) => {
                r = r
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(text.clone())
            }
            None => {}
        }
        if let Some(h) = auth {
            r = r.header(AUTHORIZATION, h.expose());
        }
        r
    }

    /// What to do with a response's status, by the connector's rule, then the default one.
    fn decide(&self, info: &ResponseInfo<'_>, request: &Request) -> Decision {
        let decision = self
            .inner
            .config
            .classifier
            .as_ref()
            .and_then(|c| c.decide(info))
            .unwrap_or_else(|| default_decision(info));
        // an OAuth connection's 401 is an expired token until a refresh says otherwise
        if decision == Decision::Fail
            && info.status == 401
            && request.authenticated
            && matches!(self.inner.credentials, Credentials::OAuth(_))
        {
            return Decision::Refresh;
        }
        decision
    }

    /// Turn a non-success decision into the attempt the retry loop sees, refreshing the
    /// credentials first when they expired.
    async fn failed(
        &self,
        decision: Decision,
        status: u16,
        error: HttpError,
        generation: u64,
        tries: &Tries,
    ) -> Attempt {
        match decision {
            Decision::Retry { after } => {
                let rate_limited = status == 429;
                if rate_limited {
                    self.inner.metrics.rate_limited();
                }
                Attempt {
                    error,
                    retryable: true,
                    after,
                    rate_limited,
                }
            }
            Decision::Refresh => {
                let Credentials::OAuth(o) = &self.inner.credentials else {
                    return Attempt::fail(error);
                };
                if tries.refreshed.swap(true, Ordering::SeqCst) {
                    // refreshed already, and still refused: the grant itself is wrong
                    return Attempt::fail(error);
                }
                match self.refresh(o, generation).await {
                    Ok(()) => Attempt {
                        error,
                        retryable: true,
                        after: Some(Duration::ZERO),
                        rate_limited: true,
                    },
                    Err(e) => Attempt::fail(e),
                }
            }
            Decision::Success | Decision::Fail => Attempt::fail(error),
        }
    }

    async fn attempt_stream(
        &self,
        request: &Request,
        tries: &Tries,
    ) -> Result<reqwest::Response, Attempt> {
        self.wait_for_turn(request).await?;
        let (generation, auth) = self.credentials(request).await?;
        let inner = &self.inner;
        inner.metrics.request_sent();
        // no total timeout: a day of events may stream for a long time; the read timeout
        // still catches a stalled connection
        let sent_at = Instant::now();
        let flight = InFlight::start(&self.inner.in_flight, request.metered);
        let response = self
            .build(request, auth.as_ref(), false)
            .send()
            .await
            .map_err(|e| self.transport_failure(&e, request));
        drop(flight);
        let response = response?;
        self.record_send(request, sent_at);
        self.inner.answered.store(true, Ordering::Relaxed);
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.note_budget(&headers, request);
        let probe = ResponseInfo {
            status,
            headers: &headers,
            body: b"",
        };
        let decision = self.decide(&probe, request);
        if decision == Decision::Success {
            return Ok(response);
        }
        let body = read_error_body(response).await;
        inner.metrics.received(body.len());
        // the body may say more than the status (a vendor's own rule)
        let info = ResponseInfo {
            status,
            headers: &headers,
            body: &body,
        };
        let decision = match self.decide(&info, request) {
            Decision::Success => decision,
            d => d,
        };
        let error = HttpError::Status {
            status,
            url: redact(&request.url),
            body: snippet(&body),
        };
        Err(self
            .failed(decision, status, error, generation, tries)
            .await)
    }

    /// Wait for the quotas of the request's category (and the shared ones), and for a pause a
    /// server asked for; a wait longer than the budget is exhaustion, returned at once.
    async fn wait_for_turn(&self, request: &Request) -> Result<(), Attempt> {
        if !request.metered {
            return Ok(());
        }
        let started = Instant::now();
        let max_wait = self.inner.config.max_wait;
        let category = request.category.as_deref();
        let pause = self.inner.paused_until.lock().ok().and_then(|p| {
            p.iter()
                .filter(|(c, _)| c.is_none() || c.as_deref() == category)
                .map(|(_, until)| *until)
                .max()
        });
        if let Some(until) = pause {
            let wait = until.saturating_duration_since(Instant::now());
            if wait > max_wait {
                let quota = category.unwrap_or("rate limit").to_string();
                return Err(Attempt::fail(HttpError::exhausted(quota, wait, None)));
            }
            crate::pacing::note_wait(category.unwrap_or("every request"), wait);
            if wait >= crate::pacing::SAID_WAIT {
                tracing::info!(
                    quota = category.unwrap_or("every request"),
                    wait_s = wait.as_secs(),
                    "waiting for quota: the server says its budget is spent until its window resets"
                );
            }
            tokio::time::sleep_until(until).await;
        }
        for pacer in &self.inner.pacers {
            if !pacer.quota.applies_to(category) {
                continue;
            }
            pacer
                .turn(max_wait)
                .await
                .map_err(|Exhausted { quota, wait }| {
                    Attempt::fail(HttpError::exhausted(quota, wait, None))
                })?;
        }
        let waited = started.elapsed();
        if waited > Duration::from_millis(1) {
            self.inner.metrics.throttled(waited);
        }
        Ok(())
    }

    /// A metered request answered (its headers arrived) `sent_at` + the elapsed time.
    fn record_send(&self, request: &Request, sent_at: Instant) {
        if !request.metered {
            return;
        }
        let answered = sent_at.elapsed();
        if let Ok(mut sent) = self.inner.sent.lock() {
            let mut keys = vec![None];
            if request.category.is_some() {
                keys.push(request.category.clone());
            }
            for key in keys {
                let history = sent.entry(key).or_default();
                history.push_back((sent_at, answered));
                while history.len() > SEND_HISTORY {
                    history.pop_front();
                }
            }
        }
    }

    /// Adapt to the server's own account of the budget: when it says none is left, hold every
    /// request of that category until its window resets instead of spending a request on a 429.
    ///
    /// Reset headers count whole seconds, rounded up: under a one- or two-second window, waiting
    /// for one would idle a third of the time. So the pause may end sooner, when the spent
    /// budget is this client's alone: its own last LIMIT requests (the budget's limit) fall
    /// within the period of the flow's quota of that count, nothing else of this client is in
    /// flight, and the server has not lately counted more than this client could have in its
    /// window (someone else spends it too). The slot then frees when the oldest of those leaves
    /// the window, by the time of its answer plus the period: never before the server's reset,
    /// and an estimate the reset contradicts (sooner than its lower bound: the server's window
    /// is longer than the flow says) is dropped for the reset.
    fn note_budget(&self, headers: &HeaderMap, request: &Request) {
        let reported = budgets(headers);
        if reported.is_empty() {
            return;
        }
        let now = Instant::now();
        for (remaining, limit) in &reported {
            let Some(limit) = *limit else { continue };
            let Some((key, period)) = self.quota_of_limit(request, limit) else {
                continue;
            };
            let ours = self.own_in_window(&key, now, period)
                + self.inner.in_flight.load(Ordering::SeqCst) as u64;
            if limit.saturating_sub(*remaining) > ours {
                if let Ok(mut shared) = self.inner.shared_until.lock() {
                    *shared = Some(now + (period * 10).max(Duration::from_secs(60)));
                }
            }
        }
        let spent: Vec<Option<u64>> = reported
            .iter()
            .filter(|(remaining, _)| *remaining == 0)
            .map(|(_, limit)| *limit)
            .collect();
        if spent.is_empty() {
            return;
        }
        let after = reset_seconds(headers).unwrap_or(Duration::from_secs(1));
        let reset = now + after;
        let earliest = now + after.saturating_sub(Duration::from_secs(1));
        let shared = self
            .inner
            .shared_until
            .lock()
            .map_or(true, |s| s.is_some_and(|until| now < until));
        let alone = !shared && self.inner.in_flight.load(Ordering::SeqCst) == 0;
        let mut until = now;
        for limit in spent {
            let own = limit
                .filter(|_| alone)
                .and_then(|limit| self.own_budget_frees(request, limit, now));
            until = until.max(match own {
                Some(own) if own >= earliest => own.min(reset),
                _ => reset,
            });
        }
        if let Ok(mut p) = self.inner.paused_until.lock() {
            let key = request.category.clone();
            // an answer read late never shortens a pause a newer one set
            let kept = p.get(&key).copied().filter(|&u| u > until);
            p.insert(key, kept.unwrap_or(until));
        }
    }

    /// The flow's quota whose count is `limit` among those the request counts against: its
    /// history key (its category; `None` for every request) and period (the longest, if
    /// several match).
    fn quota_of_limit(&self, request: &Request, limit: u64) -> Option<(Option<String>, Duration)> {
        let category = request.category.as_deref();
        self.inner
            .config
            .quotas
            .iter()
            .filter(|q| q.applies_to(category) && u64::from(q.count) == limit)
            .max_by_key(|q| q.period)
            .map(|q| (q.category.clone(), q.period))
    }

    /// This client's answered requests of `key` that may still be in a window of `period`.
    fn own_in_window(&self, key: &Option<String>, now: Instant, period: Duration) -> u64 {
        let Ok(sent) = self.inner.sent.lock() else {
            return u64::MAX;
        };
        sent.get(key).map_or(0, |h| {
            h.iter()
                .rev()
                .take_while(|(at, answered)| now.duration_since(*at + *answered) < period)
                .count() as u64
        })
    }

    /// When the oldest of this client's last `limit` requests leaves a window of the flow's
    /// quota of that count, if they all fall within it now.
    fn own_budget_frees(&self, request: &Request, limit: u64, now: Instant) -> Option<Instant> {
        let (key, period) = self.quota_of_limit(request, limit)?;
        let sent = self.inner.sent.lock().ok()?;
        let history = sent.get(&key)?;
        let n = usize::try_from(limit).ok()?;
        if n == 0 || history.len() < n {
            return None;
        }
        let (oldest, answered) = history[history.len() - n];
        (now.duration_since(oldest) < period).then(|| oldest + answered + period)
    }

    /// A request that got no answer. Retried, unless the server never answered this
    /// connection and refused it (or its name did not resolve): then the address is wrong,
    /// and the user hears so in a second, once, with the URL.
    fn transport_failure(&self, e: &reqwest::Error, request: &Request) -> Attempt {
        let error = HttpError::Transport {
            url: redact(&request.url),
            message: describe(e),
        };
        if e.is_connect() && !self.inner.answered.load(Ordering::Relaxed) {
            return Attempt::fail(HttpError::Transport {
                url: redact(&request.url),
                message: format!(
                    "{} (the server has not answered this connection yet, so it is not \
                     retried: check the flow's base_url, or that the service is up)",
                    describe(e)
                ),
            });
        }
        Attempt::retry(error)
    }

    async fn attempt<T, P>(
        &self,
        request: &Request,
        parse: &P,
        tries: &Tries,
    ) -> Result<(T, usize), Attempt>
    where
        P: Fn(bytes::Bytes) -> Result<T, String>,
    {
        self.wait_for_turn(request).await?;
        let (generation, auth) = self.credentials(request).await?;
        let inner = &self.inner;
        inner.metrics.request_sent();
        let url = || redact(&request.url);
        let sent_at = Instant::now();
        let flight = InFlight::start(&self.inner.in_flight, request.metered);
        let response = self
            .build(request, auth.as_ref(), true)
            .send()
            .await
            .map_err(|e| self.transport_failure(&e, request));
        drop(flight);
        let response = response?;
        self.record_send(request, sent_at);
        self.inner.answered.store(true, Ordering::Relaxed);
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = if (200..300).contains(&status) {
            let cap = inner.config.max_body_bytes;
            match read_capped(response, cap).await {
                Ok(Some(body)) => body,
                Ok(None) => {
                    return Err(Attempt::fail(HttpError::TooLarge {
                        url: url(),
                        limit: cap,
                    }))
                }
                Err(e) => {
                    return Err(Attempt::retry(HttpError::Body {
                        url: url(),
                        message: format!("response cut short: {}", describe(&e)),
                    }))
                }
            }
        } else {
            read_error_body(response).await
        };
        inner.metrics.received(body.len());
        self.note_budget(&headers, request);
        let info = ResponseInfo {
            status,
            headers: &headers,
            body: &body,
        };
        match self.decide(&info, request) {
            Decision::Success => match parse(body.clone()) {
                Ok(value) => Ok((value, body.len())),
                Err(message) => Err(Attempt::retry(HttpError::Body {
                    url: url(),
                    message,
                })),
            },
            decision => {
                let error = HttpError::Status {
                    status,
                    url: url(),
                    body: snippet(&body),
                };
                Err(self
                    .failed(decision, status, error, generation, tries)
                    .await)
            }
        }
    }
}

/// A URL fit for logs: no user info, query values that look like credentials masked, and any
/// remembered secret masked.
pub fn redact(url: &Url) -> String {
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    let sensitive = |k: &str| {
        let k = k.to_ascii_lowercase();
        ["token", "secret", "key", "password", "auth", "signature"]
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

pub(crate) fn describe(e: &reqwest::Error) -> String {
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
pub(crate) fn snippet(body: &[u8]) -> String {
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
