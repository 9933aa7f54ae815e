//! Backfills, locks and quota use: the built binary against the simulator.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;

const FROM: &str = "2023-01-01";
const TO: &str = "2023-06-30";

/// Users of the truth whose `updated_at` falls within FROM..=TO.
fn in_range(truth: &[serde_json::Value]) -> Vec<serde_json::Value> {
    truth
        .iter()
        .filter(|u| {
            let t = u["updated_at"].as_str().expect("updated_at");
            ("2023-01-01T00:00:00Z".."2023-07-01T00:00:00Z").contains(&t)
        })
        .cloned()
        .collect()
}

async fn backfill(h: &Harness, flow: &std::path::Path, extra: &[&str]) -> Output {
    let base = [
        "backfill",
        flow.to_str().expect("path"),
        "--from",
        FROM,
        "--to",
        TO,
        "--window",
        "14d",
    ];
    run_binary(&[&base[..], extra].concat(), h.dir.path()).await
}

fn file_names(h: &Harness) -> BTreeSet<String> {
    parquet_files(&h.dest().join("users"))
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_loads_the_range_once_and_a_rerun_writes_nothing() {
    let h = harness(4_000, "").await;
    let flow = h.flow("users", "", "");
    let out = backfill(&h, &flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    // the plan is printed before anything runs
    assert!(
        out.stdout.contains("13 windows: 0 done, 13 to run"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("requests: at least 13") && out.stdout.contains("ETA"),
        "{}",
        out.stdout
    );
    let truth = in_range(&h.truth().await);
    assert!(truth.len() > 200, "the range holds data: {}", truth.len());
    assert_equals_truth(&read_rows(&h.dest()), &truth);

    let files = file_names(&h);
    let requests = h.stats().await["vendors"]["zendesk"]["requests"].clone();
    let out = backfill(&h, &flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("13 done, 0 to run") && out.stdout.contains("nothing to do"),
        "{}",
        out.stdout
    );
    assert_eq!(
        file_names(&h),
        files,
        "a finished backfill rerun wrote files"
    );
    assert_eq!(
        h.stats().await["vendors"]["zendesk"]["requests"],
        requests,
        "and sent requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_replaces_the_windows_files() {
    let h = harness(3_000, "").await;
    let flow = h.flow("users", "", "");
    assert_eq!(backfill(&h, &flow, &[]).await.code, 0);
    let before = file_names(&h);
    let out = backfill(&h, &flow, &["--force"]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("--force"), "{}", out.stdout);
    let after = file_names(&h);
    assert!(
        before.is_disjoint(&after),
        "every window's files were replaced: {before:?} / {after:?}"
    );
    assert_equals_truth(&read_rows(&h.dest()), &in_range(&h.truth().await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_killed_at_several_points_resumes_to_a_clean_result() {
    // each request 250 ms late, one window at a time: about 7 s for 13 windows
    let h = harness(6_000, "slow=250x100000@1").await;
    let flow = h.flow_with("users", "page_size = 100", "", "file_rows = 100");
    let mut killed = 0;
    for ms in [900, 1_700, 2_600] {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "backfill",
                flow.to_str().expect("path"),
                "--from",
                FROM,
                "--to",
                TO,
                "--window",
                "14d",
                "--concurrency",
                "1",
            ])
            .current_dir(h.dir.path())
            .env("ZENDESK_EMAIL", EMAIL)
            .env("ZENDESK_API_TOKEN", TOKEN)
            .stdout(std::process::Stdio::null())
            // kept for the failure message below
            .stderr(
                std::fs::File::create(h.dir.path().join(format!("killed-at-{ms}ms.log")))
                    .expect("log"),
            )
            .spawn()
            .expect("spawn");
        tokio::time::sleep(Duration::from_millis(ms)).await;
        if child.try_wait().expect("try_wait").is_none() {
            killed += 1;
        }
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
        let rows = read_rows(&h.dest());
        let ids: BTreeSet<i64> = rows.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), rows.len(), "a killed backfill left duplicates");
    }
    assert!(killed >= 2, "the kills must land mid-backfill");
    h.set_faults("").await;
    let out = backfill(&h, &flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        !out.stdout.contains(" 0 done,"),
        "completed windows are not redone: {}",
        out.stdout
    );
    let rows = read_rows(&h.dest());
    let truth = in_range(&h.truth().await);
    if rows.len() != truth.len() {
        // the evidence a rare failure needs: every run's log and the windows' reports
        let mut logs = String::new();
        for ms in [900, 1_700, 2_600] {
            let log = std::fs::read_to_string(h.dir.path().join(format!("killed-at-{ms}ms.log")))
                .unwrap_or_default();
            logs.push_str(&format!("--- run killed at {ms} ms:\n{log}\n"));
        }
        let reports: Vec<String> = reports(&h.dest())
            .iter()
            .map(|r| r["streams"].to_string())
            .collect();
        panic!(
            "{} rows for {} users in range\n{logs}--- final run:\n{}\n--- reports:\n{}",
            rows.len(),
            truth.len(),
            out.all(),
            reports.join("\n")
        );
    }
    assert_equals_truth(&rows, &truth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_plans_without_requests_and_bad_ranges_are_refused() {
    let h = harness(100, "").await;
    let flow = h.flow("users", "", "");
    let out = backfill(&h, &flow, &["--dry-run"]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("13 to run"), "{}", out.stdout);
    for (from, to, says) in [
        ("2024-02-01", "2024-01-01", "is after --to"),
        ("01/02/2024", "2024-01-01", "--from 01/02/2024"),
    ] {
        let args = [
            "backfill",
            flow.to_str().expect("path"),
            "--from",
            from,
            "--to",
            to,
        ];
        let bad = run_binary(&args, h.dir.path()).await;
        assert_eq!(bad.code, 2, "{from}..{to}: {}", bad.all());
        assert!(bad.stderr.contains(says), "{}", bad.stderr);
    }
    assert_eq!(h.stats().await["vendors"]["zendesk"]["requests"], 0);
    assert!(!h.dest().join("users").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_of_a_running_flow_is_refused() {
    let h = harness(3_000, "slow=300x100000@1").await;
    let flow = h.flow("users", "", "");
    let mut first = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", flow.to_str().expect("path")])
        .current_dir(h.dir.path())
        .env("ZENDESK_EMAIL", EMAIL)
        .env("ZENDESK_API_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = h.run(&flow, &[]).await;
    assert_eq!(second.code, 4, "{}", second.all());
    assert!(
        second.stderr.contains("already running"),
        "{}",
        second.stderr
    );
    let status = first.wait().await.expect("first run");
    assert!(status.success());
    assert_equals_truth(&read_rows(&h.dest()), &h.truth().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_runs_flows_when_due_and_stops_cleanly_on_sigterm() {
    let h = harness(500, "").await;
    let flow = h.flow("every2s", "", "");
    let text =
        std::fs::read_to_string(&flow).expect("flow") + "\n[schedule]\ncron = \"*/2 * * * * *\"\n";
    std::fs::write(&flow, text).expect("flow");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["schedule", flow.to_str().expect("path")])
        .current_dir(h.dir.path())
        .env("ZENDESK_EMAIL", EMAIL)
        .env("ZENDESK_API_TOKEN", TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    tokio::time::sleep(Duration::from_millis(5_300)).await;
    let pid = child.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the scheduler exits after SIGTERM")
        .expect("output");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("scheduler stopped after starting"),
        "{stdout}"
    );
    let reports = reports(&h.dest());
    assert!(
        (2..=3).contains(&reports.len()),
        "runs every 2 s for 5 s: {}",
        reports.len()
    );
    // every run succeeded, but the last may have been in progress when SIGTERM came: it
    // stops as `interrupted`, with what was complete committed (a slow machine hits that)
    let status = |r: &serde_json::Value| r["metrics"]["statusSummary"]["status"].clone();
    let (last, earlier) = reports.split_last().expect("reports");
    assert!(
        earlier.iter().all(|r| status(r) == "success"),
        "{:?}",
        reports.iter().map(status).collect::<Vec<_>>()
    );
    assert!(
        status(last) == "success" || status(last) == "interrupted",
        "{}",
        status(last)
    );
    assert_equals_truth(&read_rows(&h.dest()), &h.truth().await);
}

/// Users of the truth updated within `from..=to` (inclusive days).
fn updated_within(truth: &[serde_json::Value], from: &str, to: &str) -> Vec<serde_json::Value> {
    let end = (chrono::NaiveDate::parse_from_str(to, "%Y-%m-%d").expect("day")
        + chrono::Days::new(1))
    .to_string();
    truth
        .iter()
        .filter(|u| {
            let t = u["updated_at"].as_str().expect("updated_at");
            t >= from && t < end.as_str()
        })
        .cloned()
        .collect()
}

async fn backfill_range(
    h: &Harness,
    flow: &std::path::Path,
    from: &str,
    to: &str,
    window: &str,
) -> Output {
    let args = [
        "backfill",
        flow.to_str().expect("path"),
        "--from",
        from,
        "--to",
        to,
        "--window",
        window,
    ];
    run_binary(&args, h.dir.path()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_another_window_layout_or_a_longer_range_pulls_only_days_not_done() {
    let h = harness(4_000, "").await;
    let flow = h.flow("users", "", "");
    let weeks = backfill_range(&h, &flow, "2023-01-01", "2023-01-31", "7d").await;
    assert_eq!(weeks.code, 0, "{}", weeks.all());
    let requests = |v: serde_json::Value| v["vendors"]["zendesk"]["requests"].as_u64().expect("n");
    let after_weeks = requests(h.stats().await);
    // the same days in fortnights: every day is done
    let fortnights = backfill_range(&h, &flow, "2023-01-01", "2023-01-31", "14d").await;
    assert_eq!(fortnights.code, 0, "{}", fortnights.all());
    assert!(
        fortnights.stdout.contains(" 0 to run"),
        "{}",
        fortnights.stdout
    );
    assert_eq!(
        requests(h.stats().await),
        after_weeks,
        "no request for done days"
    );
    // a longer range: only February and March are pulled
    let longer = backfill_range(&h, &flow, "2023-01-01", "2023-03-31", "14d").await;
    assert_eq!(longer.code, 0, "{}", longer.all());
    assert!(
        longer.stdout.contains("5 done, 5 to run"),
        "{}",
        longer.stdout
    );
    let truth = h.truth().await;
    assert_equals_truth(
        &read_rows(&h.dest()),
        &updated_within(&truth, "2023-01-01", "2023-03-31"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_days_that_are_not_over_are_never_recorded_done() {
    let h = harness(300, "").await;
    let flow = h.flow("users", "", "");
    let today = chrono::Utc::now().date_naive();
    let yesterday = today - chrono::Days::new(1);
    let day = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let future = backfill_range(&h, &flow, &day(0), &day(5), "7d").await;
    assert_eq!(future.code, 2, "{}", future.all());
    assert!(
        future.stderr.contains("last complete day"),
        "{}",
        future.stderr
    );
    assert_eq!(h.stats().await["vendors"]["zendesk"]["requests"], 0);
    let clamped = backfill_range(&h, &flow, &day(-3), &day(3), "7d").await;
    assert_eq!(clamped.code, 0, "{}", clamped.all());
    assert!(
        clamped.all().contains(&format!("stops at {yesterday}")),
        "{}",
        clamped.all()
    );
    // what was recorded done ends yesterday: today is pulled by a later backfill
    let later = backfill_range(&h, &flow, &day(-3), &yesterday.to_string(), "7d").await;
    assert!(
        later.stdout.contains("1 done, 0 to run"),
        "{}",
        later.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_backfill_killed_then_rerun_with_other_windows_writes_each_user_once() {
    // each request 700 ms late: the first layout's windows take several pages each
    let h = harness(6_000, "slow=700x100000@1").await;
    let flow = h.flow_with("users", "page_size = 50", "", "file_rows = 50");
    for (ms, window) in [(1_200, "7d"), (2_500, "30d")] {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "backfill",
                flow.to_str().expect("path"),
                "--from",
                FROM,
                "--to",
                TO,
                "--window",
                window,
            ])
            .current_dir(h.dir.path())
            .env("ZENDESK_EMAIL", EMAIL)
            .env("ZENDESK_API_TOKEN", TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        tokio::time::sleep(Duration::from_millis(ms)).await;
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
    }
    h.set_faults("").await;
    let out = backfill_range(&h, &flow, FROM, TO, "7d").await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("resumed"), "{}", out.stdout);
    assert_equals_truth(&read_rows(&h.dest()), &in_range(&h.truth().await));
}
