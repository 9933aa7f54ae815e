//! The request seams against a real local server: methods and bodies, requests without the
//! connection's credentials, quota categories, spent quotas, and OAuth refresh under concurrency.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sluice_core::Secret;
use sluice_http::{
    Auth, HttpClient, HttpConfig, HttpError, OAuthRefresh, Quota, Request, TokenStore,
};

/// (method, authorization, content type, body) of a request.
type Received = (String, Option<String>, String, String);

#[derive(Default)]
struct Seen {
    hits: AtomicUsize,
    token_calls: AtomicUsize,
    last: Mutex<Vec<Received>>,
    /// The refresh token the server accepts now (rotated at each refresh).
    refresh: Mutex<String>,
    /// The access token the server accepts now.
    access: Mutex<String>,
}

async fn echo(
    State(seen): State<Arc<Seen>>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: String,
) -> Response {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    seen.last.lock().expect("log").push((
        method.to_string(),
        header("authorization"),
        header("content-type").unwrap_or_default(),
        body,
    ));
    "ok".into_response()
}

async fn data(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> Response {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    let want = format!("Bearer {}", seen.access.lock().expect("access"));
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(h) if h == want => "ok".into_response(),
        _ => (
            StatusCode::UNAUTHORIZED,
            r#"{"code":1104,"message":"The token you provided is not valid or has expired."}"#,
        )
            .into_response(),
    }
}

async fn token(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: String) -> Response {
    seen.token_calls.fetch_add(1, Ordering::SeqCst);
    // a refresh takes a moment, so concurrent requests pile up behind it
    tokio::time::sleep(Duration::from_millis(100)).await;
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !basic.starts_with("Basic ") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut refresh = seen.refresh.lock().expect("refresh");
    if form.get("grant_type").map(String::as_str) != Some("refresh_token")
        || form.get("refresh_token") != Some(&*refresh)
    {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"code":2,"message":"Authentication failed."}"#,
        )
            .into_response();
    }
    let n = seen.token_calls.load(Ordering::SeqCst);
    let access = format!("pina.access-{n}");
    *refresh = format!("pinr.rotated-{n}");
    *seen.access.lock().expect("access") = access.clone();
    axum::Json(serde_json::json!({
        "access_token": access, "token_type": "bearer", "expires_in": 3600, "scope": "ads:read",
        "refresh_token": *refresh, "refresh_token_expires_in": 5184000
    }))
    .into_response()
}

async fn spent(State(seen): State<Arc<Seen>>) -> Response {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("x-ratelimit-reset", "67150")],
        r#"{"code":8,"message":"This request exceeded a rate limit."}"#,
    )
        .into_response()
}

async fn last_one(State(seen): State<Arc<Seen>>) -> Response {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::OK,
        [
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "67150"),
        ],
        "ok",
    )
        .into_response()
}

async fn serve(seen: Arc<Seen>) -> url::Url {
    let app = Router::new()
        .route("/echo", get(echo).post(echo))
        .route("/data", get(data))
        .route("/token", post(token))
        .route("/spent", get(spent))
        .route("/last", get(last_one))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url::Url::parse(&format!("http://{addr}/")).expect("url")
}

fn ok_text(b: bytes::Bytes) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|e| e.to_string())
}

fn bearer(config: HttpConfig) -> HttpClient {
    HttpClient::new(
        Auth::Bearer {
            token: Secret::new("static-token"),
        },
        config,
    )
    .expect("client")
}

#[tokio::test]
async fn posts_carry_their_body_and_a_request_may_go_without_credentials() {
    let seen = Arc::new(Seen::default());
    let base = serve(seen.clone()).await;
    let c = bearer(HttpConfig::default());
    let url = base.join("echo").expect("url");
    c.send_parsed(
        &Request::post_json(url.clone(), &serde_json::json!({"level": "CAMPAIGN"})),
        ok_text,
    )
    .await
    .expect("json");
    c.send_parsed(
        &Request::post_form(url.clone(), [("q", "a b"), ("x", "1")]),
        ok_text,
    )
    .await
    .expect("form");
    c.send_parsed(&Request::get(url).without_auth(), ok_text)
        .await
        .expect("no auth");
    let last = seen.last.lock().expect("log");
    assert_eq!(last[0].0, "POST");
    assert_eq!(last[0].2, "application/json");
    assert_eq!(last[0].3, r#"{"level":"CAMPAIGN"}"#);
    assert_eq!(last[1].2, "application/x-www-form-urlencoded");
    assert_eq!(last[1].3, "q=a+b&x=1");
    assert_eq!(last[0].1.as_deref(), Some("Bearer static-token"));
    assert_eq!(
        last[2].1, None,
        "a pre-signed URL gets no second credential"
    );
}

#[tokio::test]
async fn a_category_waits_only_for_its_own_quota() {
    let seen = Arc::new(Seen::default());
    let base = serve(seen.clone()).await;
    let url = base.join("echo").expect("url");
    let c = bearer(HttpConfig {
        quotas: vec![Quota::for_category(
            "ads_analytics",
            1,
            Duration::from_secs(2),
        )],
        ..HttpConfig::default()
    });
    let started = Instant::now();
    for _ in 0..5 {
        c.send_parsed(&Request::get(url.clone()).category("ads_read"), ok_text)
            .await
            .expect("entity list");
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    for _ in 0..2 {
        c.send_parsed(
            &Request::get(url.clone()).category("ads_analytics"),
            ok_text,
        )
        .await
        .expect("analytics");
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the second analytics request waited for its quota: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_reset_beyond_the_wait_budget_stops_at_once_with_the_time_to_resume() {
    let seen = Arc::new(Seen::default());
    let base = serve(seen.clone()).await;
    let c = bearer(HttpConfig::default());
    let started = Instant::now();
    let err = c
        .send_parsed(
            &Request::get(base.join("spent").expect("url")).category("ads_analytics"),
            ok_text,
        )
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no long sleep: {:?}",
        started.elapsed()
    );
    match &err {
        HttpError::QuotaExhausted {
            quota, resume_at, ..
        } => {
            assert_eq!(quota, "ads_analytics");
            let ahead = (*resume_at - chrono::Utc::now()).num_seconds();
            assert!((67_000..=67_150).contains(&ahead), "{ahead}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        seen.hits.load(Ordering::SeqCst),
        1,
        "no retry burns the quota"
    );

    // a success that says the budget is spent: the next request does not go at all
    let seen = Arc::new(Seen::default());
    let base = serve(seen.clone()).await;
    let c = bearer(HttpConfig::default());
    let last = Request::get(base.join("last").expect("url"));
    c.send_parsed(&last, ok_text)
        .await
        .expect("the last one of the budget");
    let err = c.send_parsed(&last, ok_text).await.unwrap_err();
    assert!(matches!(err, HttpError::QuotaExhausted { .. }), "{err}");
    assert_eq!(seen.hits.load(Ordering::SeqCst), 1);
}

#[derive(Default)]
struct MemoryStore(Mutex<HashMap<String, String>>);

impl TokenStore for MemoryStore {
    fn load(&self, key: &str) -> Option<String> {
        self.0.lock().ok()?.get(key).cloned()
    }
    fn save(&self, key: &str, value: &str) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|e| e.to_string())?
            .insert(key.into(), value.into());
        Ok(())
    }
}

/// A client of the grant of app `client`; clients of one grant in one process share it.
fn oauth(base: &url::Url, store: Arc<MemoryStore>, client: &str) -> HttpClient {
    HttpClient::new(
        Auth::OAuthRefresh(OAuthRefresh {
            token_url: base.join("token").expect("url"),
            client_id: Secret::new(client),
            client_secret: Secret::new("client-secret-1"),
            refresh_token: Secret::new("pinr.initial"),
            access_token: Some(Secret::new("pina.expired")),
            extra_fields: vec![],
            client_auth: sluice_http::ClientAuth::Basic,
            store: Some(store),
        }),
        HttpConfig::default(),
    )
    .expect("client")
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_for_all_requests_and_the_rotation_is_kept() {
    let seen = Arc::new(Seen::default());
    *seen.refresh.lock().expect("refresh") = "pinr.initial".into();
    *seen.access.lock().expect("access") = "pina.current".into();
    let base = serve(seen.clone()).await;
    let store = Arc::new(MemoryStore::default());
    let c = oauth(&base, store.clone(), "client-id-1");
    let url = base.join("data").expect("url");
    let requests: Vec<_> = (0..8)
        .map(|_| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move { c.send_parsed(&Request::get(url), ok_text).await })
        })
        .collect();
    for r in requests {
        r.await
            .expect("task")
            .expect("every request succeeds after one refresh");
    }
    assert_eq!(
        seen.token_calls.load(Ordering::SeqCst),
        1,
        "one refresh for eight expiries"
    );
    let kept = store
        .0
        .lock()
        .expect("store")
        .values()
        .next()
        .cloned()
        .expect("rotation kept");
    assert!(kept.contains("pinr.rotated-1"), "{kept}");

    // another flow of the grant in the process shares it: an expiry it sees is refreshed
    // with the rotated token, not the environment's (which the server no longer takes)
    *seen.access.lock().expect("access") = "pina.expired-again".into();
    let next = oauth(&base, store, "client-id-1");
    next.send_parsed(&Request::get(url.clone()), ok_text)
        .await
        .expect("the kept token refreshes");
    assert_eq!(seen.token_calls.load(Ordering::SeqCst), 2);

    // a refused refresh is an authentication error that names no secret
    let fresh = oauth(&base, Arc::new(MemoryStore::default()), "client-id-2");
    *seen.access.lock().expect("access") = "pina.other".into();
    let err = fresh
        .send_parsed(&Request::get(url), ok_text)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("refused to refresh"), "{err}");
    assert!(
        !err.contains("pinr.") && !err.contains("client-secret-1"),
        "{err}"
    );
}
