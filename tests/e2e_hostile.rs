//! Servers that break the contract in ways the sandbox does not: written here, small, each one
//! misbehaving in one way, and the built binary run against them.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::*;
use serde_json::json;

/// A Zendesk-like export served by `page(n, query)` for the n-th request.
type Pages = fn(usize, &str) -> Response;

async fn serve(pages: Pages) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    async fn export(
        State((hits, pages)): State<(Arc<AtomicUsize>, Pages)>,
        RawQuery(q): RawQuery,
    ) -> Response {
        let n = hits.fetch_add(1, Ordering::SeqCst);
        pages(n, q.as_deref().unwrap_or(""))
    }
    let app = Router::new()
        .route("/api/v2/search/export.json", get(export))
        .with_state((hits.clone(), pages));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), hits)
}

fn user(id: u64, created: &str) -> serde_json::Value {
    json!({"id": id, "name": format!("user {id}"), "created_at": created,
           "updated_at": "2024-06-01T00:00:00Z", "role": "end-user"})
}

fn page(results: Vec<serde_json::Value>, next: Option<&str>) -> Response {
    axum::Json(json!({
        "results": results,
        "facets": null,
        "meta": {"has_more": next.is_some(), "after_cursor": next, "before_cursor": null},
        "links": {"prev": null, "next": null},
    }))
    .into_response()
}

/// A flow against `base` in a fresh directory.
fn flow(dir: &std::path::Path, base: &str) -> std::path::PathBuf {
    let mapping = repo().join("config/mappings/zendesk-users.json");
    let path = dir.join("f.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"f\"\n[connection]\nconnector = \"zendesk\"\nbase_url = \"{base}\"\n\
             email = \"${{ZENDESK_EMAIL}}\"\napi_token = \"${{ZENDESK_API_TOKEN}}\"\nquota = \"6000/60\"\n\
             [source]\nstreams = [\"users\"]\n[mapping]\nfile = \"{}\"\n\
             [destination]\nformat = \"parquet\"\npath = \"out\"\n",
            mapping.display()
        ),
    )
    .expect("flow");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_records_out_of_created_at_order_are_all_written_once() {
    // the second record is older than the first, and a later page repeats one of page one
    let (base, _) = serve(|n, _| match n {
        0 => page(
            vec![
                user(1, "2024-01-01T00:10:00Z"),
                user(2, "2024-01-01T00:00:00Z"),
                user(3, "2024-01-01T00:20:00Z"),
            ],
            Some("c1"),
        ),
        _ => page(
            vec![
                user(4, "2024-01-01T00:05:00Z"),
                user(1, "2024-01-01T00:10:00Z"),
                user(5, "2024-01-01T00:30:00Z"),
            ],
            None,
        ),
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let f = flow(dir.path(), &base);
    let out = run_binary(&["run", f.to_str().expect("path")], dir.path()).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let mut ids: Vec<i64> = read_rows(&dir.path().join("out"))
        .iter()
        .map(|r| r.id)
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3, 4, 5], "{}", out.all());
    assert!(
        out.stdout.contains("1 skipped"),
        "the repeat is counted: {}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_cursor_that_always_expires_on_a_server_that_ignores_the_restart_stops() {
    // every next page is "expired", and the restarted query gets the first page again
    let (base, hits) = serve(|_, q| {
        if q.contains("page%5Bafter%5D") {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(
                    json!({"error": "InvalidPaginationParameter", "description": "cursor expired"}),
                ),
            )
                .into_response();
        }
        page(
            vec![
                user(1, "2024-01-01T00:00:00Z"),
                user(2, "2024-01-01T00:01:00Z"),
            ],
            Some("c"),
        )
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let f = flow(dir.path(), &base);
    let out = run_binary(&["run", f.to_str().expect("path")], dir.path()).await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr.contains("expiring") || out.stderr.contains("looping"),
        "{}",
        out.stderr
    );
    assert!(
        hits.load(Ordering::SeqCst) < 30,
        "stopped early: {} requests",
        hits.load(Ordering::SeqCst)
    );
    let rows = read_rows(&dir.path().join("out"));
    assert!(rows.len() <= 2, "nothing written twice: {}", rows.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_mixpanel_body_that_trickles_is_a_stalled_export_not_a_hung_run() {
    use futures::StreamExt;
    async fn export() -> Response {
        // a few events, then a space every half second, forever
        let start = futures::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(
            "{\"event\":\"a\",\"properties\":{\"time\":1,\"distinct_id\":\"u\"}}\n",
        ))]);
        let trickle = futures::stream::unfold((), |()| async {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            Some((Ok(bytes::Bytes::from_static(b" ")), ()))
        });
        axum::body::Body::from_stream(start.chain(trickle)).into_response()
    }
    let app = Router::new().route("/api/2.0/export", get(export));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("m.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"m\"\n[connection]\nconnector = \"mixpanel\"\nbase_url = \"http://{addr}\"\n\
             api_secret = \"${{MIXPANEL_API_SECRET}}\"\nread_timeout_seconds = 2\n\
             [source]\nstreams = [\"events\"]\ninitial_days = 1\n\
             [destination]\nformat = \"parquet\"\npath = \"out\"\n"
        ),
    )
    .expect("flow");
    let started = std::time::Instant::now();
    let out = run_binary_with(
        &["run", path.to_str().expect("path")],
        dir.path(),
        &[("MIXPANEL_API_SECRET", "mp-secret-xyz")],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("stalled"), "{}", out.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "the run ends: {:?}",
        started.elapsed()
    );
}
