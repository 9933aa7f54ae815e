//! The built binary against the Mixpanel simulator: per-day partitions, exact deduplication,
//! the export's failure modes, schema policies and bounded memory.

mod common;
#[path = "../crates/state/tests/support/pg.rs"]
mod pg;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use chrono::{Datelike, NaiveDate};
use common::{parquet_files, reports};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use sluice_sandbox::{FaultPlan, MixpanelConfig, QuotaSpec, Sandbox, SandboxConfig};

const SECRET: &str = "mp-secret-1234567890-DO-NOT-LEAK";

struct Mp {
    dir: tempfile::TempDir,
    sandbox: Sandbox,
    http: reqwest::Client,
}

async fn mixpanel(config: MixpanelConfig, faults: &str) -> Mp {
    let sandbox = Sandbox::start(
        ([127, 0, 0, 1], 0).into(),
        SandboxConfig {
            mixpanel: config,
            faults: FaultPlan::parse(faults).expect("faults"),
            ..SandboxConfig::default()
        },
    )
    .await
    .expect("sandbox");
    Mp {
        dir: tempfile::tempdir().expect("tempdir"),
        sandbox,
        http: reqwest::Client::new(),
    }
}

/// A past day whose `num_days_from_ce() % 3` is `rem` (the simulator's `coupon` days are 0).
fn day_with(rem: i32) -> NaiveDate {
    let mut d = NaiveDate::from_ymd_opt(2026, 10, 1).expect("date");
    while d.num_days_from_ce() % 3 != rem {
        d = d.succ_opt().expect("date");
    }
    d
}

impl Mp {
    fn dest(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// A flow; `mapping` adds the seed's mapping set, `extra_source` and `top` add TOML lines.
    fn flow(&self, name: &str, mapping: bool, extra_source: &str, top: &str) -> PathBuf {
        let mapping = if mapping {
            format!(
                "[mapping]\nfile = \"{}\"\n",
                common::repo()
                    .join("config/mappings/mixpanel-events.json")
                    .display()
            )
        } else {
            String::new()
        };
        let text = format!(
            "name = \"{name}\"\n{top}\n[connection]\nconnector = \"mixpanel\"\nbase_url = \"{}\"\napi_secret = \"${{MIXPANEL_API_SECRET}}\"\nquota = \"50/1\"\n\n[source]\nstreams = [\"events\"]\n{extra_source}\n\n{mapping}\n[destination]\nformat = \"parquet\"\npath = \"out\"\n",
            self.sandbox.base_url()
        );
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("flow");
        path
    }

    async fn sluice(&self, args: &[&str]) -> common::Output {
        common::run_binary_with(args, self.dir.path(), &[("MIXPANEL_API_SECRET", SECRET)]).await
    }

    async fn sluice_args(&self, args: &[String]) -> common::Output {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.sluice(&args).await
    }

    async fn backfill(
        &self,
        flow: &Path,
        from: NaiveDate,
        to: NaiveDate,
        window: &str,
    ) -> common::Output {
        let (f, t) = (from.to_string(), to.to_string());
        self.sluice(&[
            "backfill",
            flow.to_str().expect("path"),
            "--from",
            &f,
            "--to",
            &t,
            "--window",
            window,
        ])
        .await
    }

    async fn truth(&self, from: NaiveDate, to: NaiveDate) -> Vec<Value> {
        let url = format!(
            "{}/_sandbox/mixpanel/events?from_date={from}&to_date={to}",
            self.sandbox.base_url()
        );
        common::get_ndjson(&self.http, &url).await
    }

    async fn stats(&self) -> Value {
        common::get_json(
            &self.http,
            &format!("{}/_sandbox/stats", self.sandbox.base_url()),
        )
        .await
    }
}

fn batches(dir: &Path) -> Vec<(String, RecordBatch)> {
    let mut out = Vec::new();
    for f in parquet_files(dir) {
        let day = f
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().trim_start_matches("date=").to_string())
            .unwrap_or_default();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&f).expect("open"))
            .expect("parquet")
            .build()
            .expect("reader");
        for b in reader {
            out.push((day.clone(), b.expect("batch")));
        }
    }
    out
}

/// (day, event, distinct_id, time, insert_id) of every row written with the seed's mapping.
fn mapped_keys(dest: &Path) -> Vec<(String, String, String, i64, String)> {
    let mut rows = Vec::new();
    for (day, b) in batches(&dest.join("events")) {
        let s = b
            .column_by_name("_extconndev")
            .expect("_extconndev")
            .as_struct();
        let text = |n: &str, i: usize| {
            let c = s.column_by_name(n).expect(n).as_string::<i32>();
            if c.is_null(i) {
                String::new()
            } else {
                c.value(i).to_string()
            }
        };
        let time = s
            .column_by_name("time")
            .expect("time")
            .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        for i in 0..b.num_rows() {
            rows.push((
                day.clone(),
                text("event_name", i),
                text("distinct_id", i),
                time.value(i) / 1_000_000,
                text("insert_id", i),
            ));
        }
    }
    rows
}

fn truth_keys(truth: &[Value]) -> BTreeSet<(String, String, String, i64, String)> {
    truth
        .iter()
        .map(|e| {
            let p = &e["properties"];
            let t = p["time"].as_i64().expect("time");
            let day = chrono::DateTime::from_timestamp(t, 0)
                .expect("t")
                .date_naive()
                .to_string();
            (
                day,
                e["event"].as_str().expect("event").into(),
                p["distinct_id"].as_str().expect("id").into(),
                t,
                p["$insert_id"].as_str().expect("iid").into(),
            )
        })
        .collect()
}

/// The output holds each event of the truth once, in its own day's partition.
fn assert_equals_truth(dest: &Path, truth: &[Value]) {
    let rows = mapped_keys(dest);
    let set: BTreeSet<_> = rows.iter().cloned().collect();
    assert_eq!(set.len(), rows.len(), "duplicate events in the output");
    let want = truth_keys(truth);
    assert_eq!(
        set.len(),
        want.len(),
        "event count differs from the simulator's"
    );
    assert!(set == want, "events differ from the simulator's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_mapping_writes_one_partition_per_day_without_duplicates() {
    let mp = mixpanel(MixpanelConfig::default(), "").await;
    let flow = mp.flow("events", true, "", "");
    let check = mp.sluice(&["check", flow.to_str().expect("path")]).await;
    assert_eq!(check.code, 0, "{}", check.all());
    assert!(
        check
            .stderr
            .contains("source `data.insert_id` read as `properties.$insert_id`"),
        "{}",
        check.stderr
    );
    assert!(
        check
            .stderr
            .contains("source `data.event_name` read as `event`"),
        "{}",
        check.stderr
    );

    let (from, to) = (day_with(1), day_with(1) + chrono::Days::new(9));
    let out = mp.backfill(&flow, from, to, "10d").await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_equals_truth(&mp.dest(), &mp.truth(from, to).await);
    let days: BTreeSet<String> = mapped_keys(&mp.dest()).into_iter().map(|r| r.0).collect();
    assert_eq!(days.len(), 10, "one partition per day");
    // one request asked for the ten days and was split into days while streaming
    assert_eq!(mp.stats().await["vendors"]["mixpanel"]["requests"], 1);
    // the simulator sent exact duplicates, which are one event: counted as skipped
    let report = reports(&mp.dest()).remove(0);
    let summary = &report["metrics"]["recordSummary"];
    let n = |k: &str| summary[k].as_u64().expect(k);
    assert_eq!(n("outputRecordCount"), 4_000);
    assert!(n("skippedRecordCount") > 0, "{summary}");
    assert_eq!(
        n("inputRecordCount"),
        4_000 + n("skippedRecordCount"),
        "issue9: rows dropped on purpose are counted in records in: {summary}"
    );
}

async fn faulted_equals_clean(faults: &str) {
    let mp = mixpanel(MixpanelConfig::default(), faults).await;
    let flow = mp.flow("events", true, "", "");
    let (from, to) = (day_with(2), day_with(2) + chrono::Days::new(2));
    let out = mp.backfill(&flow, from, to, "3d").await;
    assert_eq!(out.code, 0, "{faults}: {}", out.all());
    assert_equals_truth(&mp.dest(), &mp.truth(from, to).await);
    let requests = mp.stats().await["vendors"]["mixpanel"]["requests"]
        .as_u64()
        .expect("n");
    assert!(
        requests >= 2,
        "{faults}: the fault forced a second request ({requests})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_early_is_pulled_again_and_replaced() {
    faulted_equals_clean("terminated-early@1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_body_is_pulled_again() {
    faulted_equals_clean("truncate@1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried() {
    faulted_equals_clean("429@1,503@2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_split_across_lines_is_rejoined_in_one_pull() {
    let mp = mixpanel(MixpanelConfig::default(), "split-record@1").await;
    let flow = mp.flow("events", true, "", "");
    let (from, to) = (day_with(0), day_with(0) + chrono::Days::new(1));
    let out = mp.backfill(&flow, from, to, "2d").await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_equals_truth(&mp.dest(), &mp.truth(from, to).await);
    assert_eq!(
        mp.stats().await["vendors"]["mixpanel"]["requests"],
        1,
        "re-joined, not re-pulled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_runs_repull_recent_days_and_replace_them() {
    let mp = mixpanel(MixpanelConfig::default(), "").await;
    let flow = mp.flow("events", true, "initial_days = 3\nlookback_days = 1", "");
    assert_eq!(
        mp.sluice(&["run", flow.to_str().expect("path")]).await.code,
        0
    );
    let out = mp.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Days::new(2);
    // the re-pulled days replaced their files: each event once, one file per day
    assert_equals_truth(&mp.dest(), &mp.truth(from, today).await);
    let files = parquet_files(&mp.dest().join("events"));
    let days: BTreeSet<_> = files
        .iter()
        .map(|f| f.parent().expect("dir").to_path_buf())
        .collect();
    assert_eq!(
        files.len(),
        days.len(),
        "a replaced day keeps only its newest file: {files:?}"
    );
    // the second run asked for yesterday (the lookback) and today only
    let yesterday = today - chrono::Days::new(1);
    assert!(
        out.stderr.contains(&format!("from={yesterday} to={today}")),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_policy_decides_what_a_new_property_does() {
    let baseline = day_with(1);
    let coupon_day = day_with(0) + chrono::Days::new(3);
    for (policy, code) in [("evolve", 0), ("ignore", 0), ("fail", 1)] {
        let mp = mixpanel(MixpanelConfig::default(), "").await;
        let flow = mp.flow("raw", false, "", &format!("schema_policy = \"{policy}\""));
        // the first pull sets the baseline: no coupon that day
        assert_eq!(mp.backfill(&flow, baseline, baseline, "1d").await.code, 0);
        let out = mp.backfill(&flow, coupon_day, coupon_day, "1d").await;
        assert_eq!(out.code, code, "{policy}: {}", out.all());
        let has_coupon = batches(&mp.dest().join("events"))
            .iter()
            .any(|(_, b)| b.column_by_name("coupon").is_some());
        let report = reports(&mp.dest()).pop().expect("report");
        match policy {
            "evolve" => {
                assert!(has_coupon, "evolve adds the column");
                assert_eq!(report["streams"][0]["addedFields"][0], "properties.coupon");
            }
            "ignore" => {
                assert!(!has_coupon, "ignore drops the field");
                assert_eq!(
                    report["streams"][0]["ignoredFields"][0],
                    "properties.coupon"
                );
                let rows: usize = batches(&mp.dest().join("events"))
                    .iter()
                    .map(|(_, b)| b.num_rows())
                    .sum();
                assert_eq!(rows, 800, "but keeps the events");
            }
            _ => {
                assert!(!has_coupon);
                assert!(
                    out.stderr.contains("new field `properties.coupon`"),
                    "{}",
                    out.stderr
                );
                let days: BTreeMap<String, usize> = batches(&mp.dest().join("events"))
                    .into_iter()
                    .fold(BTreeMap::new(), |mut m, (d, b)| {
                        *m.entry(d).or_default() += b.num_rows();
                        m
                    });
                assert_eq!(days.len(), 1, "fail stops before writing the day: {days:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_timezones_are_checked() {
    // a project whose timezone is a day behind the flow's: to_date is "later than today"
    let config = MixpanelConfig {
        timezone: "Etc/GMT+12".parse().expect("tz"),
        ..MixpanelConfig::default()
    };
    let mp = mixpanel(config, "").await;
    let flow = mp.flow("events", true, "timezone = \"Pacific/Kiritimati\"", "");
    let out = mp.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr.contains("to_date cannot be later than today")
            && out
                .stderr
                .contains("set [source] timezone to the project's"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(SECRET));

    // a service account needs a project id, said before any request
    let text = std::fs::read_to_string(&flow).expect("flow").replace(
        "api_secret = \"${MIXPANEL_API_SECRET}\"",
        "username = \"svc\"\nsecret = \"${MIXPANEL_API_SECRET}\"",
    );
    std::fs::write(&flow, text).expect("flow");
    let out = mp.sluice(&["check", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("`project_id` is required with a service account"),
        "{}",
        out.stderr
    );

    // the simulator takes both forms of Basic auth and refuses a service account without it
    let base = mp.sandbox.base_url();
    let day = day_with(1);
    let get = |auth: &'static str, project: bool| {
        let url = format!(
            "{base}/api/2.0/export?from_date={day}&to_date={day}{}",
            if project { "&project_id=7" } else { "" }
        );
        let http = mp.http.clone();
        async move {
            http.get(url)
                .header("authorization", format!("Basic {auth}"))
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }
    };
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (svc, secret_colon, secret_bare) = (b64("svc:pw"), b64("projsecret:"), b64("projsecret"));
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    assert_eq!(get(leak(svc.clone()), true).await, 200);
    assert_eq!(get(leak(svc), false).await, 400);
    assert_eq!(get(leak(secret_colon), false).await, 200);
    assert_eq!(get(leak(secret_bare), false).await, 200);
}

/// Peak resident memory of a finished child, polled from /proc while it runs.
async fn peak_rss_kib(mut child: tokio::process::Child) -> (u64, std::process::ExitStatus) {
    let pid = child.id().expect("pid");
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kib) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            return (peak, status);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_however_large_a_day_is() {
    let mut peaks = Vec::new();
    for per_day in [30_000u64, 150_000] {
        let config = MixpanelConfig {
            events_per_day: per_day,
            ..MixpanelConfig::default()
        };
        let mp = mixpanel(config, "").await;
        let flow = mp.flow("big", true, "", "");
        // row groups bounded well below both day sizes, so only what grows with the day differs
        let text = std::fs::read_to_string(&flow).expect("flow") + "row_group_rows = 8192\n";
        std::fs::write(&flow, text).expect("flow");
        let day = day_with(1).to_string();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "-q",
                "backfill",
                flow.to_str().expect("path"),
                "--from",
                &day,
                "--to",
                &day,
                "--window",
                "1d",
            ])
            .current_dir(mp.dir.path())
            .env("MIXPANEL_API_SECRET", SECRET)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let (peak, status) = peak_rss_kib(child).await;
        assert!(status.success());
        let rows: usize = batches(&mp.dest().join("events"))
            .iter()
            .map(|(_, b)| b.num_rows())
            .sum();
        assert!(
            rows as u64 > per_day * 99 / 100,
            "the day was written: {rows}"
        );
        peaks.push(peak);
    }
    // 120,000 more events are ~42 MB more JSON; buffering the day would add at least that.
    // What may grow is the dedup index: 16-byte hashes, ~34 bytes an event at worst, 1.5x while
    // the table grows (~6 MB here).
    let growth_mib = (peaks[1] as f64 - peaks[0] as f64) / 1024.0;
    eprintln!("peak RSS {peaks:?} KiB, growth {growth_mib:.1} MiB");
    assert!(
        growth_mib < 16.0,
        "peak RSS grew {growth_mib:.1} MiB for 5x the day ({peaks:?} KiB)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_stays_within_the_default_quotas() {
    let mp = mixpanel(MixpanelConfig::default(), "").await;
    let flow = mp.flow("events", true, "", "");
    let text = std::fs::read_to_string(&flow)
        .expect("flow")
        .replace("quota = \"50/1\"\n", "");
    std::fs::write(&flow, text).expect("flow");
    let (from, to) = (day_with(1), day_with(1) + chrono::Days::new(8));
    let out = mp.backfill(&flow, from, to, "1d").await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout
            .contains("3 per 1 s (per_second), 60 per 3600 s (per_hour)"),
        "{}",
        out.stdout
    );
    let z = &mp.stats().await["vendors"]["mixpanel"];
    assert_eq!(z["requests"], 9, "one request per one-day window");
    assert_eq!(z["by_status"].get("429"), None, "no 429 at 3 a second: {z}");
    let span =
        z["last_request_s"].as_f64().expect("last") - z["first_request_s"].as_f64().expect("first");
    assert!(
        span >= 8.0 / 3.0,
        "paced at 3 a second at most: {span:.2} s"
    );
    assert_equals_truth(&mp.dest(), &mp.truth(from, to).await);
}

/// The rejects file of the run, one JSON value per line.
fn rejects(dest: &Path) -> Vec<Value> {
    let dir = dest.join("_runs");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("_runs").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("rejects-") {
            let text = std::fs::read_to_string(e.path()).expect("rejects");
            out.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<Value>(l).expect("reject line")),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_lines_that_are_not_events_are_rejected_and_the_export_completes() {
    let mp = mixpanel(MixpanelConfig::default(), "bad-lines@1").await;
    let flow = mp.flow("events", true, "", "");
    let (from, to) = (day_with(2), day_with(2) + chrono::Days::new(2));
    let out = mp.backfill(&flow, from, to, "3d").await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_equals_truth(&mp.dest(), &mp.truth(from, to).await);
    assert_eq!(
        mp.stats().await["vendors"]["mixpanel"]["requests"],
        1,
        "a bad line is the server's record, not a broken body: no re-pull"
    );
    let rejected = rejects(&mp.dest());
    assert_eq!(rejected.len(), 6, "{rejected:?}");
    for r in &rejected {
        assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
        assert!(!r["record"].is_null(), "the record is kept: {r}");
    }
    assert!(rejected.iter().any(|r| r["record"] == "this is not json"));
    let report = reports(&mp.dest()).remove(0);
    assert_eq!(report["metrics"]["recordSummary"]["failedRecordCount"], 6);
    assert!(report["rejectsFile"].as_str().is_some(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_tripped_threshold_reports_the_real_counts_and_keeps_every_reject() {
    let mp = mixpanel(MixpanelConfig::default(), "bad-lines@1").await;
    // 6 bad lines in some 1,200 events is 0.5 %: over a threshold of 0.1 %
    let flow = mp.flow("events", true, "", "error_threshold = 0.001");
    let (from, to) = (day_with(2), day_with(2) + chrono::Days::new(2));
    let out = mp.backfill(&flow, from, to, "3d").await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(!out.stderr.contains("0 of 0"), "{}", out.stderr);
    let message = out
        .stderr
        .lines()
        .find(|l| l.contains("failed mapping") || l.contains("error threshold"))
        .unwrap_or_else(|| panic!("no threshold error: {}", out.stderr))
        .to_string();
    assert!(message.contains("6 of "), "{message}");
    let rejected = rejects(&mp.dest());
    assert_eq!(
        rejected.len(),
        6,
        "every rejected record is kept: {message}"
    );
    let report = reports(&mp.dest()).remove(0);
    let summary = &report["metrics"]["recordSummary"];
    assert_eq!(summary["failedRecordCount"], 6, "{summary}");
    assert!(
        summary["inputRecordCount"].as_u64().expect("n") > 1_000,
        "{summary}"
    );
    assert_eq!(
        summary["outputRecordCount"], 0,
        "nothing written: {summary}"
    );
    assert!(parquet_files(&mp.dest().join("events")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_huge_line_is_rejected_once_with_memory_bounded() {
    let mp = mixpanel(MixpanelConfig::default(), "huge-line=200@1").await;
    let flow = mp.flow("events", true, "", "");
    let day = day_with(2).to_string();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "-q",
            "backfill",
            flow.to_str().expect("path"),
            "--from",
            &day,
            "--to",
            &day,
        ])
        .current_dir(mp.dir.path())
        .env("MIXPANEL_API_SECRET", SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let (peak, status) = peak_rss_kib(child).await;
    eprintln!("peak RSS {peak} KiB");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        mp.stats().await["vendors"]["mixpanel"]["requests"],
        1,
        "the 200 MB line is downloaded once"
    );
    let d = day_with(2);
    assert_equals_truth(&mp.dest(), &mp.truth(d, d).await);
    let rejected = rejects(&mp.dest());
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("max_page_bytes")),
        "{}",
        rejected[0]
    );
    assert!(
        peak < 150 * 1024,
        "peak RSS {peak} KiB for a 200 MB line: it was held"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_huge_value_is_rejected_with_memory_bounded() {
    let mp = mixpanel(MixpanelConfig::default(), "huge-value=100@1").await;
    let flow = mp.flow("events", true, "", "");
    let day = day_with(2).to_string();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "-q",
            "backfill",
            flow.to_str().expect("path"),
            "--from",
            &day,
            "--to",
            &day,
        ])
        .current_dir(mp.dir.path())
        .env("MIXPANEL_API_SECRET", SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let (peak, status) = peak_rss_kib(child).await;
    eprintln!("peak RSS {peak} KiB");
    assert!(status.success(), "{status:?}");
    let d = day_with(2);
    assert_equals_truth(&mp.dest(), &mp.truth(d, d).await);
    assert_eq!(rejects(&mp.dest()).len(), 1);
    assert!(peak < 150 * 1024, "peak RSS {peak} KiB for a 100 MB value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_lost_day_file_names_the_backfill_of_that_day() {
    let mp = mixpanel(MixpanelConfig::default(), "").await;
    let flow = mp.flow("events", true, "", "");
    let (from, to) = (day_with(2), day_with(2) + chrono::Days::new(2));
    assert_eq!(mp.backfill(&flow, from, to, "3d").await.code, 0);
    let lost_day = from + chrono::Days::new(1);
    let files = parquet_files(&mp.dest().join("events").join(format!("date={lost_day}")));
    std::fs::remove_file(&files[0]).expect("deleted by hand");
    // a run refuses (the lost day is not one it pulls again), naming the backfill that does
    let out = mp.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    let expected = format!("--from {lost_day} --to {lost_day}");
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    // a backfill without --force has nothing to do there: it goes on and says the file is lost
    let unforced = mp.backfill(&flow, lost_day, lost_day, "1d").await;
    assert_eq!(unforced.code, 0, "{}", unforced.all());
    assert!(unforced.stderr.contains(&expected), "{}", unforced.stderr);
    let d = lost_day.to_string();
    let forced = mp
        .sluice(&[
            "backfill",
            flow.to_str().expect("path"),
            "--streams",
            "events",
            "--from",
            &d,
            "--to",
            &d,
            "--force",
        ])
        .await;
    assert_eq!(forced.code, 0, "{}", forced.all());
    assert_equals_truth(&mp.dest(), &mp.truth(from, to).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_an_error_body_that_echoes_the_secret_is_relayed_masked() {
    use base64::Engine;
    let mp = mixpanel(MixpanelConfig::default(), "echo-authx100@1").await;
    let flow = mp.flow("events", true, "", "");
    let text = std::fs::read_to_string(&flow)
        .expect("flow")
        .replace("quota = \"50/1\"", "quota = \"50/1\"\nmax_retries = 1");
    std::fs::write(&flow, text).expect("flow");
    let out = mp.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stderr.contains("upstream failed"), "{}", out.stderr);
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{SECRET}:"));
    let mut texts = vec![out.all().into_bytes()];
    for f in walk(&mp.dest()) {
        texts.push(std::fs::read(f).expect("read"));
    }
    for t in &texts {
        for needle in [SECRET, encoded.as_str()] {
            assert!(
                !t.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "a secret leaked: {}",
                String::from_utf8_lossy(t)
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_hourly_quota_stops_the_backfill_cleanly_and_a_later_run_finishes_it() {
    let mp = mixpanel(MixpanelConfig::default(), "").await;
    // one request an hour: the second window would wait an hour
    let flow = mp.flow("events", true, "", "");
    let text = std::fs::read_to_string(&flow).expect("flow").replace(
        "quota = \"50/1\"",
        "quota = { per_second = \"50/1\", per_hour = \"2/3600\" }",
    );
    std::fs::write(&flow, text).expect("flow");
    let (from, to) = (day_with(2), day_with(2) + chrono::Days::new(2));
    let started = std::time::Instant::now();
    let out = mp.backfill(&flow, from, to, "1d").await;
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no hour-long sleep"
    );
    assert!(
        out.stderr.contains("quota `per_hour` is spent") && out.stderr.contains("Run again after"),
        "{}",
        out.stderr
    );
    assert_eq!(mp.stats().await["vendors"]["mixpanel"]["requests"], 1);
    let report = reports(&mp.dest()).remove(0);
    let status = &report["metrics"]["statusSummary"];
    assert_eq!(status["status"], "quota_exhausted", "{status}");
    assert_eq!(status["exhaustedQuota"], "per_hour", "{status}");
    assert!(status["resumeAt"].as_str().is_some(), "{status}");
    // an hour later (here: a larger budget), the backfill goes on from where it stopped
    let text = std::fs::read_to_string(&flow)
        .expect("flow")
        .replace("per_hour = \"2/3600\"", "per_hour = \"60/3600\"");
    std::fs::write(&flow, text).expect("flow");
    let again = mp.backfill(&flow, from, to, "1d").await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(
        again.stdout.contains("1 done, 2 to run"),
        "{}",
        again.stdout
    );
    assert_equals_truth(&mp.dest(), &mp.truth(from, to).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_memory_does_not_grow_with_the_days_of_one_request() {
    let mut peaks = Vec::new();
    for window in ["1d", "24d"] {
        let config = MixpanelConfig {
            events_per_day: 8_000,
            ..MixpanelConfig::default()
        };
        let mp = mixpanel(config, "").await;
        let flow = mp.flow("big", true, "", "");
        let text = std::fs::read_to_string(&flow).expect("flow") + "row_group_rows = 8192\n";
        std::fs::write(&flow, text).expect("flow");
        let (from, to) = (day_with(1), day_with(1) + chrono::Days::new(23));
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "-q",
                "backfill",
                flow.to_str().expect("path"),
                "--from",
                &from.to_string(),
                "--to",
                &to.to_string(),
                "--window",
                window,
                "--concurrency",
                "1",
            ])
            .current_dir(mp.dir.path())
            .env("MIXPANEL_API_SECRET", SECRET)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let (peak, status) = peak_rss_kib(child).await;
        assert!(status.success());
        peaks.push(peak);
    }
    // 24 days of 8,000 events are ~70 MB of JSON; held until the response ends, they would all
    // be in memory at once. What may grow is bounded: 8 MiB of lines waiting for their page,
    // 16 MiB of open part files, and the dedup index (~34 bytes an event: ~7 MB here): 31 MiB,
    // plus the allocator's slack (measured: 30 MiB in all). Holding the response would be over 70.
    let growth_mib = (peaks[1] as f64 - peaks[0] as f64) / 1024.0;
    eprintln!("peak RSS {peaks:?} KiB, growth {growth_mib:.1} MiB");
    assert!(
        growth_mib < 40.0,
        "one request of 24 days took {growth_mib:.1} MiB more than 24 requests of a day ({peaks:?} KiB)"
    );
}

/// A flow of `mp` that keeps its state in the test's PostgreSQL (a schema of its own) and
/// writes to `out`, paced at `quota`.
fn fleet_flow(mp: &Mp, name: &str, out: &str, quota: &str) -> PathBuf {
    let flow = mp.flow(name, true, "", "");
    let text = std::fs::read_to_string(&flow)
        .expect("flow")
        .replace("quota = \"50/1\"", &format!("quota = \"{quota}\""))
        .replace("path = \"out\"", &format!("path = \"{out}\""))
        + &format!(
            "[state]\nurl = \"{}\"\nschema = \"{}\"\n",
            pg::url(),
            pg::fresh_schema(name)
        );
    std::fs::write(&flow, text).expect("flow");
    flow
}

fn shard_args(flow: &Path, from: NaiveDate, to: NaiveDate, shard: &str) -> Vec<String> {
    [
        "backfill",
        flow.to_str().expect("path"),
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
        "--window",
        "1d",
        "--concurrency",
        "1",
        "--shard",
        shard,
    ]
    .map(String::from)
    .to_vec()
}

fn sluice_process(mp: &Mp, args: &[String]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.args(args)
        .current_dir(mp.dir.path())
        .env("MIXPANEL_API_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn output_of(child: tokio::process::Child) -> common::Output {
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the shard finished in time")
        .expect("the shard ran");
    common::Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The windows a backfill's plan says it runs ("N windows: D done, R to run").
fn to_run(stdout: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.split(" done, ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no window count in {stdout}"))
}

fn limited(stats: &Value) -> u64 {
    stats["vendors"]["mixpanel"]["by_status"]["429"]
        .as_u64()
        .unwrap_or(0)
}

fn requests(stats: &Value) -> u64 {
    stats["vendors"]["mixpanel"]["requests"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_backfill_what_one_process_does_each_day_once_within_the_quota() {
    // the credential's quota at the server; every flow is told the same
    let config = MixpanelConfig {
        quota: Some(QuotaSpec::new("all", 8, 2)),
        ..MixpanelConfig::default()
    };
    let mp = mixpanel(config, "").await;
    let (from, to) = (day_with(1), day_with(1) + chrono::Days::new(15));
    let truth = mp.truth(from, to).await;

    let solo = mp.flow("solo", true, "", "");
    let text = std::fs::read_to_string(&solo)
        .expect("flow")
        .replace("quota = \"50/1\"", "quota = \"8/2\"");
    std::fs::write(&solo, text).expect("flow");
    // a shard of a one-machine state would run its tasks with nobody knowing the others'
    let refused = mp.sluice_args(&shard_args(&solo, from, to, "0/4")).await;
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(refused.stderr.contains("[state] url"), "{}", refused.stderr);
    let out = mp.backfill(&solo, from, to, "1d").await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_equals_truth(&mp.dest(), &truth);
    let one_process = mapped_keys(&mp.dest());

    let fleet = fleet_flow(&mp, "fleet", "out-fleet", "8/2");
    // the server's sliding window forgets the one-process run first: the quota is the fleet's
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let before = mp.stats().await;
    let shards: Vec<_> = (0..4)
        .map(|k| {
            sluice_process(&mp, &shard_args(&fleet, from, to, &format!("{k}/4")))
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut planned = 0;
    for (k, child) in shards.into_iter().enumerate() {
        let out = output_of(child).await;
        assert_eq!(out.code, 0, "shard {k}: {}", out.all());
        assert!(
            out.stdout.contains(&format!("shard {k}/4:")),
            "{}",
            out.stdout
        );
        planned += to_run(&out.stdout);
    }
    let after = mp.stats().await;
    assert_eq!(planned, 16, "the shards' shares add up to the task list");
    assert_eq!(
        requests(&after) - requests(&before),
        16,
        "each day's window was pulled by one shard, once: {after}"
    );
    assert_eq!(
        limited(&after),
        0,
        "the shards together held the quota: {after}"
    );
    let dest = mp.dir.path().join("out-fleet");
    assert_equals_truth(&dest, &truth);
    let mut four = mapped_keys(&dest);
    let mut one = one_process;
    four.sort();
    one.sort();
    assert!(four == one, "four shards wrote what one process wrote");
    // the shared state knows every window: a rerun of any shard has nothing to do
    let again = mp.sluice_args(&shard_args(&fleet, from, to, "2/4")).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.stdout.contains("already done"), "{}", again.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_killed_mid_backfill_is_rerun_alone_and_finishes_its_own_windows() {
    let config = MixpanelConfig {
        quota: Some(QuotaSpec::new("all", 8, 2)),
        ..MixpanelConfig::default()
    };
    let mp = mixpanel(config, "").await;
    let (from, to) = (day_with(2), day_with(2) + chrono::Days::new(11));
    let fleet = fleet_flow(&mp, "killed", "out", "8/2");
    // the shard with the most windows dies: at two windows per 2 s it is mid-backfill
    let mut shares = Vec::new();
    for k in 0..4 {
        let mut args = shard_args(&fleet, from, to, &format!("{k}/4"));
        args.push("--dry-run".into());
        let plan = mp.sluice_args(&args).await;
        assert_eq!(plan.code, 0, "{}", plan.all());
        shares.push(to_run(&plan.stdout));
    }
    assert_eq!(shares.iter().sum::<u64>(), 12, "{shares:?}");
    let (victim_index, most) = shares
        .iter()
        .enumerate()
        .max_by_key(|(_, n)| **n)
        .map(|(k, n)| (k, *n))
        .expect("four shards");
    assert!(most >= 3, "{shares:?}");
    let mut shards: Vec<_> = (0..4)
        .map(|k| {
            sluice_process(&mp, &shard_args(&fleet, from, to, &format!("{k}/4")))
                .spawn()
                .expect("spawn")
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut victim = shards.remove(victim_index);
    victim.start_kill().expect("SIGKILL");
    let status = victim.wait().await.expect("wait");
    assert!(!status.success(), "the shard was killed: {status:?}");
    for child in shards {
        let out = output_of(child).await;
        assert_eq!(out.code, 0, "{}", out.all());
    }
    let missing_before =
        mp.truth(from, to).await.len() as i64 - mapped_keys(&mp.dest()).len() as i64;
    assert!(
        missing_before > 0,
        "the killed shard's windows are not all written yet"
    );
    let before = requests(&mp.stats().await);
    let rerun = mp
        .sluice_args(&shard_args(&fleet, from, to, &format!("{victim_index}/4")))
        .await;
    assert_eq!(rerun.code, 0, "{}", rerun.all());
    let pulled = requests(&mp.stats().await) - before;
    let left = to_run(&rerun.stdout);
    // on a loaded machine the victim may have died before finishing a window: then it has
    // them all left, and its rerun still pulls only its own
    assert!(left >= 1 && left <= most, "{}", rerun.stdout);
    assert_eq!(
        pulled,
        left,
        "the rerun pulls only the killed shard's windows that had not completed\n{}",
        rerun.all()
    );
    assert_equals_truth(&mp.dest(), &mp.truth(from, to).await);
    assert_eq!(limited(&mp.stats().await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_stopped_by_sigterm_exits_6_and_the_same_command_finishes_it() {
    let config = MixpanelConfig {
        quota: Some(QuotaSpec::new("all", 2, 1)),
        ..MixpanelConfig::default()
    };
    let mp = mixpanel(config, "").await;
    let (from, to) = (day_with(0), day_with(0) + chrono::Days::new(9));
    let flow = mp.flow("events", true, "", "");
    let text = std::fs::read_to_string(&flow)
        .expect("flow")
        .replace("quota = \"50/1\"", "quota = \"2/1\"");
    std::fs::write(&flow, text).expect("flow");
    let args: Vec<String> = [
        "backfill",
        flow.to_str().expect("path"),
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
        "--window",
        "1d",
        "--json",
    ]
    .map(String::from)
    .to_vec();
    // two windows a second: ten take five seconds, and the pod is drained after one
    let child = sluice_process(&mp, &args).spawn().expect("spawn");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let pid = child.id().expect("pid").to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(term.success());
    let out = output_of(child).await;
    assert_eq!(out.code, 6, "{}", out.all());
    let summary: Value = serde_json::from_str(out.stdout.trim()).expect("one JSON summary");
    assert_eq!(summary["status"], "interrupted", "{summary}");
    assert_eq!(summary["exit_code"], 6);
    assert!(
        out.stderr.contains("run the same command again"),
        "{}",
        out.stderr
    );
    let again = mp.sluice_args(&args).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_equals_truth(&mp.dest(), &mp.truth(from, to).await);
}
