//! Quota use as the server counts it. In a test binary of its own, so that nothing else runs
//! beside it: the rate a client achieves is a measurement, and starving it of CPU would measure
//! the machine instead.

mod common;

use common::*;

/// Quota use as the server counts it: at least 90 % of the allowed rate, and no 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_uses_the_quota_without_a_single_429() {
    let mut config = sluice_sandbox::SandboxConfig::default();
    config.zendesk.users = 6_000;
    config.zendesk.quota = Some(sluice_sandbox::QuotaSpec::new("quota", 25, 1));
    let sandbox = sluice_sandbox::Sandbox::start(([127, 0, 0, 1], 0).into(), config)
        .await
        .expect("sandbox");
    let h = Harness {
        dir: tempfile::tempdir().expect("tempdir"),
        sandbox,
        http: reqwest::Client::new(),
    };
    let flow = h.flow("users", "page_size = 60", "");
    let text = std::fs::read_to_string(&flow)
        .expect("flow")
        .replace("quota = \"6000/60\"", "quota = \"25/1\"");
    std::fs::write(&flow, text).expect("flow");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let z = &h.stats().await["vendors"]["zendesk"];
    assert_eq!(z["by_status"].get("429"), None, "the server saw 429s: {z}");
    let requests = z["requests"].as_f64().expect("requests");
    assert_eq!(requests, 100.0);
    let span =
        z["last_request_s"].as_f64().expect("last") - z["first_request_s"].as_f64().expect("first");
    let used = (requests - 1.0) / (span * 25.0);
    assert!(
        (0.9..=1.0).contains(&used),
        "used {:.1} % of the allowed rate",
        used * 100.0
    );
    assert_equals_truth(&read_rows(&h.dest()), &h.truth().await);
}
