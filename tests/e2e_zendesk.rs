//! The built binary against the Zendesk simulator: every run must end with the sandbox's truth
//! in the output, each user exactly once, whatever the server threw at it.

mod common;

use common::*;
use sluice_sandbox::ExportOrder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_equals_the_sandbox_truth() {
    let h = harness(2_300, "").await;
    let flow = h.flow("users", "", "");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let truth = h.truth().await;
    assert_equals_truth(&read_rows(&h.dest()), &truth);
    // pages are mapped on several threads, yet rows keep the export's order (created_at, id)
    let rows = read_rows(&h.dest());
    let mut served: Vec<(&str, i64)> = truth
        .iter()
        .map(|u| {
            (
                u["created_at"].as_str().expect("created_at"),
                u["id"].as_i64().expect("id"),
            )
        })
        .collect();
    served.sort();
    let written: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let expected: Vec<i64> = served.iter().map(|(_, id)| *id).collect();
    assert!(written == expected, "rows are not in the export's order");
    // unicode and nulls survived
    assert!(rows
        .iter()
        .any(|r| r.name.as_deref().is_some_and(|n| !n.is_ascii())));
    assert!(rows.iter().any(|r| r.phone.is_none()) && rows.iter().any(|r| r.phone.is_some()));
    // one Hive partition for the run's extraction date, and a report beside it
    let parts: Vec<_> = std::fs::read_dir(h.dest().join("users"))
        .expect("users dir")
        .flatten()
        .collect();
    assert_eq!(parts.len(), 1);
    assert!(parts[0].file_name().to_string_lossy().starts_with("date="));
    let report = &reports(&h.dest())[0];
    let m = &report["metrics"];
    assert_eq!(m["recordSummary"]["inputRecordCount"], 2_300);
    assert_eq!(m["recordSummary"]["outputRecordCount"], 2_300);
    assert_eq!(m["recordSummary"]["failedRecordCount"], 0);
    assert_eq!(m["statusSummary"]["status"], "success");
    assert_eq!(
        m["fileSummary"]["inputFileCount"], 5,
        "2,300 users in pages of 500"
    );
    assert_eq!(report["requests"]["requestsSent"], 5);
    assert!(m["sizeSummary"]["outputBytes"].as_u64().expect("bytes") > 0);
    // the seed's repeated mapping was collapsed with a warning naming its index
    assert!(report["warnings"][0]
        .as_str()
        .expect("warning")
        .contains("mappings[34]: repeats mappings[7]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_writes_nothing_and_then_exactly_the_updated_users() {
    let h = harness(1_200, "").await;
    let flow = h.flow("users", "", "");
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    let first = read_rows(&h.dest()).len();
    assert_eq!(first, 1_200);

    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("0 written"), "{}", out.stdout);
    assert_eq!(
        read_rows(&h.dest()).len(),
        first,
        "a run with no changes wrote data"
    );

    let touched = h.touch(7).await;
    assert_eq!(touched.len(), 7);
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let rows = read_rows(&h.dest());
    let new: Vec<&Row> = rows[first..].iter().collect();
    let mut new_ids: Vec<u64> = new.iter().map(|r| r.id as u64).collect();
    new_ids.sort_unstable();
    let mut want = touched.clone();
    want.sort_unstable();
    assert_eq!(
        new_ids, want,
        "the third run must write exactly the touched users"
    );
    let truth = truth_rows(&h.truth().await);
    for r in new {
        assert_eq!(
            Some(r),
            truth.get(&r.id),
            "the new version is the sandbox's current one"
        );
    }
    // the latest version per id equals the truth
    let mut latest = std::collections::BTreeMap::new();
    for r in rows {
        latest.insert(r.id, r);
    }
    assert_eq!(latest.len(), truth.len());
}

async fn faulted_run_equals_clean(faults: &str, order: ExportOrder) -> serde_json::Value {
    let h = harness_with(3_100, faults, order).await;
    let flow = h.flow("users", "", "");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "faults {faults}: {}", out.all());
    assert_equals_truth(&read_rows(&h.dest()), &h.truth().await);
    let report = reports(&h.dest()).remove(0);
    assert_eq!(report["metrics"]["statusSummary"]["status"], "success");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_cursor_restarts_without_duplicates_or_loss() {
    let report = faulted_run_equals_clean("expire-cursor@3", ExportOrder::Ascending).await;
    // 7 pages and one 400: the cursor from page 3 fails once, and the restarted query continues
    // from page 3's position instead of starting over
    assert_eq!(report["requests"]["requestsSent"], 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_cursor_restarts_when_the_server_sorts_newest_first() {
    faulted_run_equals_clean("expire-cursor@2,expire-cursor@5", ExportOrder::Descending).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_waited_out_honouring_retry_after() {
    let started = std::time::Instant::now();
    let report = faulted_run_equals_clean("429x3@2,429ra0x2@6", ExportOrder::Ascending).await;
    assert_eq!(report["requests"]["rateLimitedResponses"], 5);
    assert_eq!(report["requests"]["retries"], 5);
    // three `Retry-After: 1` waits were honoured
    assert!(started.elapsed() >= std::time::Duration::from_secs(3));
    assert!(report["requests"]["throttledMs"].as_u64().expect("ms") >= 3_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_cut_bodies_are_retried() {
    let report = faulted_run_equals_clean(
        "500@2,503x2@4,truncate@7,cut-json@9",
        ExportOrder::Ascending,
    )
    .await;
    assert_eq!(report["requests"]["retries"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_fails_fast_naming_the_connection() {
    let h = harness(600, "401@1").await;
    let flow = h.flow("users", "", "");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr
            .contains("authentication failed for connection `zendesk connection of flow `users``"),
        "{}",
        out.stderr
    );
    let stats = h.stats().await;
    assert_eq!(
        stats["vendors"]["zendesk"]["requests"], 1,
        "a 401 is not retried"
    );
    assert!(read_rows(&h.dest()).is_empty());
    let report = reports(&h.dest()).remove(0);
    assert_eq!(report["metrics"]["statusSummary"]["status"], "failed");
    assert_eq!(
        report["metrics"]["statusSummary"]["errors"][0]["code"],
        "CONNECTOR-1002-401"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misfit_record_goes_to_the_rejects_file_and_the_threshold_decides() {
    let h = harness(1_000, "misfit@1,misfit@2").await;
    let flow = h.flow("users", "", "");
    let out = h.run(&flow, &[]).await;
    assert_eq!(
        out.code,
        0,
        "2 of 1000 is under the default 5 %: {}",
        out.all()
    );
    let report = reports(&h.dest()).remove(0);
    assert_eq!(report["metrics"]["recordSummary"]["failedRecordCount"], 2);
    assert_eq!(report["metrics"]["recordSummary"]["outputRecordCount"], 998);
    let rejects = h
        .dest()
        .join(report["rejectsFile"].as_str().expect("rejects file"));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(rejects)
        .expect("rejects")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0]["reason"]
        .as_str()
        .expect("reason")
        .contains("field `results.locale_id`: expected integer, found a string"));
    assert_eq!(
        lines[0]["record"]["results"]["locale_id"], "en",
        "the record is kept whole"
    );

    // the same data against a strict threshold: the run fails and commits nothing
    let h = harness(1_000, "misfit@1").await;
    let flow = h.flow("strict", "", "error_threshold = 0.0001");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(
        out.stderr.contains("above the flow's error threshold"),
        "{}",
        out.stderr
    );
    assert!(
        read_rows(&h.dest()).is_empty(),
        "nothing is written past the threshold"
    );
    // and the next run (threshold raised) still gets everything: the mark did not move
    let flow = h.flow("strict", "", "error_threshold = 0.5");
    h.set_faults("").await;
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    assert_equals_truth(&read_rows(&h.dest()), &h.truth().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_indexed_after_the_mark_is_caught_by_the_overlap() {
    let h = harness(800, "").await;
    let flow = h.flow("users", "", "");
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    let before = read_rows(&h.dest()).len();

    let truth = h.truth().await;
    let late_id = truth[100]["id"].as_u64().expect("id");
    let prompt_id = truth[200]["id"].as_u64().expect("id");
    // `late` is updated first but indexed 4 s later (at least 3 s: the sandbox counts whole
    // seconds); `prompt` is updated a second later and indexed at once, so the next run's mark
    // passes `late`'s updated_at before search sees it
    h.touch_with(serde_json::json!({"ids": [late_id], "index_lag_s": 4}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    h.touch_with(serde_json::json!({"ids": [prompt_id]})).await;
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    let second: Vec<i64> = read_rows(&h.dest())[before..]
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        second,
        [prompt_id as i64],
        "search does not show the late update yet"
    );

    tokio::time::sleep(std::time::Duration::from_millis(3_500)).await;
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    let third: Vec<i64> = read_rows(&h.dest())[before + 1..]
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        third,
        [late_id as i64],
        "the overlap re-read finds the late-indexed update, once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_store_destination_gets_the_files_and_the_reports() {
    let h = harness(1_200, "").await;
    let flow = h.flow("users", "", "");
    let lake = to_object_store(&flow, &h.dir.path().join("lake"));
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("→ file://"), "{}", out.stdout);
    let truth = h.truth().await;
    assert_equals_truth(&read_rows(&lake), &truth);
    assert!(!h.dest().exists(), "nothing goes to a local `out`");
    // state, staging and the local copy of the report live in the work directory
    let work = h.dir.path().join(".sluice/users");
    assert!(work.join("_sluice/state.db").exists());
    assert!(
        parquet_files(&work).is_empty(),
        "data is never left locally"
    );
    let report = &reports(&lake)[0];
    assert_eq!(report, &reports(&work)[0], "the lake holds the same report");
    assert_eq!(
        report["destination"],
        format!("file://{}", lake.display()),
        "the report names the lake"
    );
    // the incremental mark works the same: nothing new, then exactly the touched users
    let out = h.run(&flow, &[]).await;
    assert!(out.stdout.contains("0 written"), "{}", out.all());
    let touched = h.touch(4).await;
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let rows = read_rows(&lake);
    assert_eq!(rows.len(), 1_200 + touched.len());
    assert_eq!(reports(&lake).len(), 3);
}

/// Each id at most once in the output.
fn assert_no_duplicates(rows: &[Row]) {
    let mut seen = std::collections::BTreeSet::new();
    for r in rows {
        assert!(seen.insert(r.id), "user {} written twice", r.id);
    }
}

/// A server that loops stops the run with `says` in the error, writes nothing twice, and once
/// it behaves, the next run finishes the export.
async fn a_looping_server_stops_and_resumes(faults: &str, says: &str) {
    let h = harness(3_000, faults).await;
    let flow = h.flow("users", "", "");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 1, "{faults}: {}", out.all());
    assert!(out.stderr.contains(says), "{faults}: {}", out.stderr);
    let requests = h.stats().await["vendors"]["zendesk"]["requests"]
        .as_u64()
        .expect("n");
    assert!(
        requests < 20,
        "{faults}: {requests} requests: it was paged on"
    );
    let rows = read_rows(&h.dest());
    assert_no_duplicates(&rows);
    h.set_faults("").await;
    let again = h.run(&flow, &[]).await;
    assert_eq!(again.code, 0, "{faults}: {}", again.all());
    assert_equals_truth(&read_rows(&h.dest()), &h.truth().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_cursor_that_does_not_advance_stops_the_export() {
    a_looping_server_stops_and_resumes("repeat-cursorx100000@3", "cursor it had already given")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_pages_of_records_already_sent_stop_the_export() {
    a_looping_server_stops_and_resumes("replayx100000@3", "it is looping").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_page_larger_than_max_page_bytes_is_refused_unread() {
    let h = harness(1_000, "huge-value=200@2").await;
    let flow = h.flow("users", "", "");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", flow.to_str().expect("path")])
        .current_dir(h.dir.path())
        .env("ZENDESK_EMAIL", EMAIL)
        .env("ZENDESK_API_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id().expect("pid");
    let watch = tokio::spawn(async move {
        let mut peak = 0u64;
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kib) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        peak
    });
    let out = child.wait_with_output().await.expect("output");
    let peak = watch.await.expect("peak");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("max_page_bytes") && stderr.contains("page_size"),
        "the error says what to do: {stderr}"
    );
    assert_eq!(
        h.stats().await["vendors"]["zendesk"]["requests"],
        2,
        "the 200 MB page is not asked for again"
    );
    assert!(peak < 150 * 1024, "peak RSS {peak} KiB: the page was read");
    assert_no_duplicates(&read_rows(&h.dest()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_value_larger_than_max_value_bytes_is_rejected_not_written() {
    let h = harness(600, "huge-value=20@1").await;
    let flow = h.flow("users", "", "");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let report = reports(&h.dest()).remove(0);
    assert_eq!(report["metrics"]["recordSummary"]["failedRecordCount"], 1);
    let rejects = h
        .dest()
        .join(report["rejectsFile"].as_str().expect("rejects file"));
    let text = std::fs::read_to_string(rejects).expect("rejects");
    assert!(text.contains("max_value_bytes"), "{}", &text[..300]);
    assert_eq!(read_rows(&h.dest()).len(), 599);

    // raised, it is written
    let h = harness(600, "huge-value=20@1").await;
    let flow = h.flow("users", "", "max_value_bytes = \"32 MiB\"");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_equals_truth(&read_rows(&h.dest()), &h.truth().await);
}
