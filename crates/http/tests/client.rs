//! The client against a real local server: retries, waits and quotas as a vendor would see them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sluice_core::Secret;
use sluice_http::{Auth, HttpClient, HttpConfig, HttpError, Quota};

type Script = fn(usize) -> Response;

struct Server {
    url: url::Url,
    hits: Arc<AtomicUsize>,
}

async fn serve(script: Script) -> Server {
    let hits = Arc::new(AtomicUsize::new(0));
    async fn handler(
        State((hits, script)): State<(Arc<AtomicUsize>, Script)>,
        headers: HeaderMap,
    ) -> Response {
        let n = hits.fetch_add(1, Ordering::SeqCst);
        if headers.get("authorization").is_none() {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        script(n)
    }
    let app = Router::new()
        .route("/x", get(handler))
        .with_state((hits.clone(), script));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server {
        url: url::Url::parse(&format!("http://{addr}/x")).expect("url"),
        hits,
    }
}

fn client(config: HttpConfig) -> HttpClient {
    HttpClient::new(
        Auth::Bearer {
            token: Secret::new("t"),
        },
        config,
    )
    .expect("client")
}

fn fast() -> HttpConfig {
    HttpConfig {
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..HttpConfig::default()
    }
}

fn ok_text(b: bytes::Bytes) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|e| e.to_string())
}

fn with_header(status: StatusCode, name: &'static str, value: String) -> Response {
    let mut r = status.into_response();
    r.headers_mut()
        .insert(name, HeaderValue::from_str(&value).expect("header"));
    r
}

#[tokio::test]
async fn retry_after_zero_never_becomes_a_hot_loop() {
    let s = serve(|n| {
        if n < 3 {
            with_header(StatusCode::TOO_MANY_REQUESTS, "retry-after", "0".into())
        } else {
            "ok".into_response()
        }
    })
    .await;
    let c = client(fast());
    let started = Instant::now();
    let (body, _) = c
        .get_parsed(&s.url, ok_text)
        .await
        .expect("succeeds after the storm");
    assert_eq!(body, "ok");
    assert_eq!(s.hits.load(Ordering::SeqCst), 4);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "each retry waited the floor: {:?}",
        started.elapsed()
    );
    let m = c.metrics().snapshot();
    assert_eq!(
        (m.retries, m.rate_limited_responses, m.requests_sent),
        (3, 3, 4)
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let s = serve(|n| {
        if n == 0 {
            let when = SystemTime::now() + Duration::from_secs(2);
            with_header(
                StatusCode::SERVICE_UNAVAILABLE,
                "retry-after",
                httpdate::fmt_http_date(when),
            )
        } else {
            "ok".into_response()
        }
    })
    .await;
    let started = Instant::now();
    client(fast())
        .get_parsed(&s.url, ok_text)
        .await
        .expect("ok");
    // an HTTP date has whole seconds: the wait is between 1 and 2 s, never the 10 ms backoff
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn client_errors_fail_at_once_with_the_status_and_body() {
    let s = serve(|_| (StatusCode::FORBIDDEN, r#"{"error":"Forbidden"}"#).into_response()).await;
    let err = client(fast())
        .get_parsed(&s.url, ok_text)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.body().is_some_and(|b| b.contains("Forbidden")));
    assert_eq!(s.hits.load(Ordering::SeqCst), 1, "a 403 is not retried");
}

#[tokio::test]
async fn the_total_wait_is_capped() {
    let s =
        serve(|_| with_header(StatusCode::SERVICE_UNAVAILABLE, "retry-after", "1".into())).await;
    let c = client(HttpConfig {
        max_total_wait: Duration::from_millis(2_500),
        ..fast()
    });
    let started = Instant::now();
    let err = c.get_parsed(&s.url, ok_text).await.unwrap_err();
    match err {
        HttpError::Exhausted {
            attempts, waited, ..
        } => {
            assert_eq!(attempts, 3, "1 s + 1 s fit in 2.5 s, a third wait does not");
            assert_eq!(waited, Duration::from_secs(2));
        }
        other => panic!("expected Exhausted, got {other}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(s.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn unparseable_bodies_are_retried_then_reported() {
    let s = serve(|n| {
        if n == 0 {
            "{\"half\":".into_response()
        } else {
            "{}".into_response()
        }
    })
    .await;
    let parse = |b: bytes::Bytes| {
        serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string())
    };
    let (v, _) = client(fast())
        .get_parsed(&s.url, parse)
        .await
        .expect("second body parses");
    assert_eq!(v, serde_json::json!({}));
    assert_eq!(s.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_quota_spaces_requests_evenly() {
    let s = serve(|_| "ok".into_response()).await;
    let quotas = vec![
        Quota::new("account", 700, Duration::from_secs(60)),
        Quota::new("endpoint", 10, Duration::from_secs(1)),
    ];
    let c = client(HttpConfig { quotas, ..fast() });
    let started = Instant::now();
    for _ in 0..5 {
        c.get_parsed(&s.url, ok_text).await.expect("ok");
    }
    // no burst, and the strictest quota wins: the 5th request leaves 4 intervals of
    // 100 ms / 0.95 after the first
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(415) && elapsed < Duration::from_millis(650),
        "{elapsed:?}"
    );
    assert!(c.metrics().snapshot().throttled_ms >= 300);
}

#[tokio::test]
async fn an_exhausted_budget_header_holds_the_next_request_until_reset() {
    let s = serve(|n| {
        if n == 0 {
            let mut r = "ok".into_response();
            r.headers_mut()
                .insert("x-rate-limit-remaining", HeaderValue::from_static("650"));
            r.headers_mut()
                .insert("ratelimit-remaining", HeaderValue::from_static("0"));
            r.headers_mut()
                .insert("ratelimit-reset", HeaderValue::from_static("1"));
            r
        } else {
            "ok".into_response()
        }
    })
    .await;
    let c = client(fast());
    c.get_parsed(&s.url, ok_text).await.expect("first");
    let started = Instant::now();
    c.get_parsed(&s.url, ok_text).await.expect("second");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        c.metrics().snapshot().rate_limited_responses,
        0,
        "no 429 was spent"
    );
}

#[tokio::test]
async fn a_long_429_storm_is_waited_out_but_failures_are_counted() {
    let s = serve(|n| {
        if n < 6 {
            with_header(StatusCode::TOO_MANY_REQUESTS, "retry-after", "0".into())
        } else {
            "ok".into_response()
        }
    })
    .await;
    let c = client(HttpConfig {
        max_retries: 2,
        ..fast()
    });
    c.get_parsed(&s.url, ok_text)
        .await
        .expect("six 429s do not use up two retries");
    assert_eq!(s.hits.load(Ordering::SeqCst), 7);

    let s = serve(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()).await;
    let err = c.get_parsed(&s.url, ok_text).await.unwrap_err();
    assert!(
        matches!(err, HttpError::Exhausted { attempts: 3, .. }),
        "{err}"
    );
    assert_eq!(s.hits.load(Ordering::SeqCst), 3, "one try and two retries");
}

#[tokio::test]
async fn a_long_period_quota_is_a_budget_not_a_rate() {
    let s = serve(|_| "ok".into_response()).await;
    // 20 an hour: 19 (95 %) go at once, the 20th waits for the window
    let quotas = vec![Quota::new("per_hour", 20, Duration::from_secs(3600))];
    let c = client(HttpConfig { quotas, ..fast() });
    let started = Instant::now();
    for _ in 0..19 {
        c.get_parsed(&s.url, ok_text).await.expect("ok");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // the hour moves later than the run may wait: the quota is spent, and says until when
    let err = c.get_parsed(&s.url, ok_text).await.unwrap_err();
    match &err {
        HttpError::QuotaExhausted {
            quota, resume_at, ..
        } => {
            assert_eq!(quota, "per_hour");
            let ahead = *resume_at - chrono::Utc::now();
            assert!(ahead > chrono::Duration::minutes(55), "{ahead}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(s.hits.load(Ordering::SeqCst), 19);
    // a run allowed to wait that long waits instead
    let patient = client(HttpConfig {
        quotas: vec![Quota::new("per_hour", 1, Duration::from_secs(3600))],
        max_wait: Duration::from_secs(7200),
        ..fast()
    });
    patient.get_parsed(&s.url, ok_text).await.expect("first");
    let blocked = tokio::time::timeout(
        Duration::from_millis(300),
        patient.get_parsed(&s.url, ok_text),
    )
    .await;
    assert!(blocked.is_err(), "the second waits for the hour to move");
}

/// A response reporting a budget of `limit` with `remaining` left, resetting in `reset` seconds.
fn budget(remaining: u64, limit: u64, reset: Option<&str>) -> Response {
    let mut r = "ok".into_response();
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    if let Some(reset) = reset {
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(reset).expect("header"),
        );
    }
    r
}

/// The time the request after `before` requests waits, under a 2-a-second quota.
async fn wait_after(script: Script, before: usize) -> Duration {
    let s = serve(script).await;
    let c = client(HttpConfig {
        quotas: vec![Quota::new("per_second", 2, Duration::from_secs(1))],
        ..fast()
    });
    for _ in 0..before {
        c.get_parsed(&s.url, ok_text).await.expect("ok");
    }
    let started = Instant::now();
    c.get_parsed(&s.url, ok_text).await.expect("ok");
    started.elapsed()
}

#[tokio::test]
async fn a_reset_later_than_the_clients_own_window_says_is_waited_out() {
    // the client's own two requests leave its 1 s window in about 0.5 s, but the server says
    // its budget resets in 3 s: its window is longer than the flow's quota, so the reset wins
    let waited = wait_after(
        |n| match n {
            0 => budget(1, 2, None),
            1 => budget(0, 2, Some("3")),
            _ => budget(1, 2, None),
        },
        2,
    )
    .await;
    assert!(waited >= Duration::from_millis(2_800), "{waited:?}");
}

#[tokio::test]
async fn a_budget_someone_else_spends_too_is_waited_out_to_its_reset() {
    // the first answer counts two spent for the client's one request: another client shares
    // the budget, so when it is spent later the client waits for the server's reset (1.2 s)
    // rather than for its own requests to leave the window (about 0.5 s)
    let waited = wait_after(
        |n| match n {
            0 => budget(0, 2, Some("0.2")),
            1 => budget(1, 2, None),
            2 => budget(0, 2, Some("1.2")),
            _ => budget(1, 2, None),
        },
        3,
    )
    .await;
    assert!(waited >= Duration::from_millis(1_050), "{waited:?}");
}

#[tokio::test]
async fn a_budget_only_this_client_spends_frees_with_its_own_window() {
    // the control of the two above: the same spent budget, no one else counted, a reset the
    // estimate agrees with (1.2 s): the wait ends when the client's own oldest request leaves
    // the window (about 0.5 s), before the reset
    let waited = wait_after(
        |n| match n {
            0 => budget(1, 2, None),
            1 => budget(0, 2, Some("1.2")),
            _ => budget(1, 2, None),
        },
        2,
    )
    .await;
    assert!(waited < Duration::from_millis(1_000), "{waited:?}");
}
