//! Quota use as the server counts it. In a test binary of its own, so that nothing else runs
//! beside it: the rate a client achieves is a measurement, and starving it of CPU would measure
//! the machine instead.

mod common;

use common::*;

/// Run a Zendesk flow of `pages` pages under a quota of `count` per `period_s` (the server's and
/// the flow's): the share of the allowed rate the server saw used.
async fn quota_use(count: u32, period_s: u64, pages: u64) -> f64 {
    let mut config = sluice_sandbox::SandboxConfig::default();
    config.zendesk.users = pages * 60;
    config.zendesk.quota = Some(sluice_sandbox::QuotaSpec::new("quota", count, period_s));
    let sandbox = sluice_sandbox::Sandbox::start(([127, 0, 0, 1], 0).into(), config)
        .await
        .expect("sandbox");
    let h = Harness {
        dir: tempfile::tempdir().expect("tempdir"),
        sandbox,
        http: reqwest::Client::new(),
    };
    let flow = h.flow("users", "page_size = 60", "");
    let text = std::fs::read_to_string(&flow).expect("flow").replace(
        "quota = \"6000/60\"",
        &format!("quota = \"{count}/{period_s}\""),
    );
    std::fs::write(&flow, text).expect("flow");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let z = &h.stats().await["vendors"]["zendesk"];
    assert_eq!(z["by_status"].get("429"), None, "the server saw 429s: {z}");
    let requests = z["requests"].as_f64().expect("requests");
    assert_eq!(requests, pages as f64);
    let span =
        z["last_request_s"].as_f64().expect("last") - z["first_request_s"].as_f64().expect("first");
    assert_equals_truth(&read_rows(&h.dest()), &h.truth().await);
    let used = (requests - 1.0) / (span * f64::from(count) / period_s as f64);
    eprintln!(
        "quota {count}/{period_s}: {:.1} % of the allowed rate",
        used * 100.0
    );
    used
}

/// Quota use as the server counts it: at least 90 % of the allowed rate, and no 429, under a
/// quota of a second and under a tight window whose reset headers count whole seconds (one
/// test, so the two never run at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_uses_the_quota_without_a_single_429() {
    let used = quota_use(25, 1, 100).await;
    assert!(
        (0.9..=1.0).contains(&used),
        "25/1: used {:.1} % of the allowed rate",
        used * 100.0
    );
    // the server's reset says 1 s when a tenth of one is left: waiting for it idled 29 %
    let used = quota_use(10, 2, 50).await;
    assert!(
        (0.9..=1.0).contains(&used),
        "10/2: used {:.1} % of the allowed rate",
        used * 100.0
    );
}
