//! Crashes, bad configuration and secrets: what a production run must survive or refuse.

mod common;

use std::time::Duration;

use common::*;

/// Start a run, SIGKILL it after `after`, and return whether it was still running.
async fn run_and_kill(h: &Harness, flow: &std::path::Path, after: Duration) -> bool {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", flow.to_str().expect("path")])
        .current_dir(h.dir.path())
        .env("ZENDESK_EMAIL", EMAIL)
        .env("ZENDESK_API_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn");
    tokio::time::sleep(after).await;
    let status = child.try_wait().expect("try_wait");
    eprintln!("kill after {after:?}: {status:?}");
    let still_running = status.is_none();
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    still_running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_several_points_then_rerun_equals_a_clean_run() {
    kill_at_several_points_then_rerun(false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_an_object_store_destination_then_rerun_equals_a_clean_run() {
    kill_at_several_points_then_rerun(true, false).await;
}

/// Issue #14: each run on a fresh machine (the work dir, with its state, gone after every
/// kill, as with a Kubernetes pod): the lake's copy of the state carries the flow on, and no
/// record is lost or written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_on_fresh_pods_each_time_then_rerun_equals_a_clean_run() {
    kill_at_several_points_then_rerun(true, true).await;
}

async fn kill_at_several_points_then_rerun(object_store: bool, fresh_pods: bool) {
    // 6,000 users in pages of 250, each page 150 ms late: a run takes about 4 s, committing
    // every 1,000 rows, so each kill lands mid-export at a different point
    let h = harness(6_000, "slow=150x100000@1").await;
    let flow = h.flow_with("users", "page_size = 250", "", "file_rows = 1000");
    let (data, work) = if object_store {
        (
            to_object_store(&flow, &h.dir.path().join("lake")),
            h.dir.path().join(".sluice/users"),
        )
    } else {
        (h.dest(), h.dest())
    };
    let mut killed = 0;
    for ms in [700, 1_600, 2_500] {
        if run_and_kill(&h, &flow, Duration::from_millis(ms)).await {
            killed += 1;
        }
        if fresh_pods {
            let _ = std::fs::remove_dir_all(&work);
        }
        // whatever survived a kill is readable and holds no user twice
        let rows = read_rows(&data);
        let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), rows.len(), "a killed run left duplicates");
    }
    assert!(killed >= 2, "the kills must land mid-run");
    let partial = read_rows(&data).len();
    assert!(
        partial > 0 && partial < 6_000,
        "progress was committed before the kills: {partial}"
    );
    h.set_faults("").await;
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    if fresh_pods {
        assert!(
            out.all()
                .contains("restored the flow's state from the lake"),
            "{}",
            out.all()
        );
        // nothing staged in the store is left over either
        let staged = data.join("_sluice/tmp");
        let left: Vec<_> = files_under(&staged);
        assert!(
            left.is_empty(),
            "staged objects left in the store: {left:?}"
        );
    }
    assert_equals_truth(&read_rows(&data), &h.truth().await);
    // no staged leftovers remain
    let tmp = work.join("_sluice/tmp/users");
    let leftovers: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "staged files left behind: {leftovers:?}"
    );
}

/// Issue #14: a fresh pod (an empty work dir) running an object-store flow again writes
/// nothing twice: it starts from the state the last one left in the lake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_pod_running_the_flow_again_writes_each_record_once() {
    let h = harness(1_200, "").await;
    let flow = h.flow("users", "page_size = 250", "");
    let lake = to_object_store(&flow, &h.dir.path().join("lake"));
    let work = h.dir.path().join(".sluice/users");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        lake.join("_sluice/state/users.db").is_file(),
        "no state in the lake"
    );
    assert_equals_truth(&read_rows(&lake), &h.truth().await);
    std::fs::remove_dir_all(&work).expect("a fresh pod");
    let touched = h.touch(40).await;
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.all()
            .contains("restored the flow's state from the lake"),
        "{}",
        out.all()
    );
    // the users written before are not written again; the changed ones are, once
    let rows = read_rows(&lake);
    assert_eq!(rows.len(), 1_200 + touched.len(), "{}", out.all());
    // and its run history came along
    let runs = run_binary(
        &["runs", flow.to_str().expect("path"), "--json"],
        h.dir.path(),
    )
    .await;
    assert_eq!(runs.stdout.lines().count(), 2, "{}", runs.all());
    // a backfill planned on yet another fresh machine knows the windows done before
    let path = flow.to_str().expect("path");
    let backfill = [
        "backfill",
        path,
        "--from",
        "2023-01-01",
        "--to",
        "2023-01-31",
    ];
    let out = run_binary(&backfill, h.dir.path()).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let files = common::parquet_files(&lake).len();
    std::fs::remove_dir_all(&work).expect("a fresh pod");
    let out = run_binary(&backfill, h.dir.path()).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.contains("already done"), "{}", out.all());
    assert_eq!(
        common::parquet_files(&lake).len(),
        files,
        "a window was pulled again"
    );
    // and a state reset there reaches the lake's copy (a later machine does not undo it)
    std::fs::remove_dir_all(&work).expect("a fresh pod");
    let out = run_binary(&["state", "reset", path], h.dir.path()).await;
    assert_eq!(out.code, 0, "{}", out.all());
    std::fs::remove_dir_all(&work).expect("a fresh pod");
    let out = h.run(&flow, &["--dry-run"]).await;
    assert!(
        out.stdout.contains("the start (a first run)"),
        "{}",
        out.all()
    );
}

/// Issue #14: a machine that kept an old work dir while another ran the flow does not trust
/// its own state: the lake's newer copy replaces it, and nothing is written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_with_an_older_state_than_the_lake_takes_the_lakes_copy() {
    let h = harness(600, "").await;
    let flow = h.flow("users", "page_size = 250", "");
    let lake = to_object_store(&flow, &h.dir.path().join("lake"));
    let work = h.dir.path().join(".sluice/users");
    let kept = h.dir.path().join("kept-work-dir");
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    // machine A keeps its work dir; machine B (a fresh one) runs the flow after changes
    std::fs::rename(&work, &kept).expect("machine A's disk");
    let touched = h.touch(30).await;
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(read_rows(&lake).len(), 600 + touched.len());
    // machine A comes back with its old state
    std::fs::remove_dir_all(&work).expect("machine B gone");
    std::fs::rename(&kept, &work).expect("machine A's disk back");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.all().contains("older than the lake's copy"),
        "{}",
        out.all()
    );
    assert_eq!(
        read_rows(&lake).len(),
        600 + touched.len(),
        "the touched users were written again: {}",
        out.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flow_files_name_the_file_and_key_and_write_nothing() {
    let h = harness(10, "").await;
    let good = std::fs::read_to_string(h.flow("f", "", "")).expect("flow");
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            good.replace("format = \"parquet\"", "format = \"xlsx\""),
            vec!["destination.format", "xlsx"],
        ),
        (
            good.replace("connector = \"zendesk\"", "connector = \"zendeks\""),
            vec!["unknown connector `zendeks`", "zendesk"],
        ),
        (
            good.replace("${ZENDESK_API_TOKEN}", "${SLUICE_TEST_UNSET_VAR}"),
            vec!["SLUICE_TEST_UNSET_VAR (connection.api_token)", "not set"],
        ),
        (
            good.replace("${ZENDESK_API_TOKEN}", "plain-text-token"),
            vec!["`api_token` is a credential", "environment reference"],
        ),
        (
            good.replace("page_size = 500\n", "page_size = 5000\n"),
            vec!["page_size", "1 to 1000"],
        ),
        (
            good.replace("streams = [\"users\"]", "streams = [\"tickets\"]"),
            vec!["source.streams", "`tickets`", "users"],
        ),
        (
            good.replace("[mapping]", "[mapping]\nfiles = 1"),
            vec!["unknown field `files`"],
        ),
        (
            good.replace("quota = \"6000/60\"", "quota = \"lots\""),
            vec!["connection.quota"],
        ),
        (
            format!("{good}\n[schedule]\nfrequency = \"minute\"\ninterval = 5\n"),
            vec!["schedule.interval", "15 or more"],
        ),
        (
            format!("{good}\n[schedule]\ncron = \"0 25 * * *\"\n"),
            vec!["schedule.cron"],
        ),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let path = h.dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).expect("write");
        for cmd in ["check", "run"] {
            let out = run_binary(&[cmd, path.to_str().expect("path")], h.dir.path()).await;
            if cmd == "check" && text.contains("${SLUICE_TEST_UNSET_VAR}") {
                // a check runs before the secrets exist: it names what a run will need
                assert_eq!(out.code, 0, "case {i} ({cmd}): {}", out.all());
                assert!(
                    out.stdout.contains("SLUICE_TEST_UNSET_VAR"),
                    "{}",
                    out.all()
                );
                continue;
            }
            assert_eq!(out.code, 2, "case {i} ({cmd}): {}", out.all());
            let err = out.stderr.clone();
            assert!(
                err.contains(&format!("bad{i}.toml")),
                "case {i}: names the file: {err}"
            );
            for n in needles {
                assert!(err.contains(n), "case {i}: `{n}` missing from: {err}");
            }
            assert!(
                !err.contains("plain-text-token"),
                "case {i}: echoed a credential: {err}"
            );
        }
    }
    assert!(!h.dest().exists(), "a bad flow wrote output");
    assert_eq!(
        h.stats().await["vendors"]["zendesk"]["requests"],
        0,
        "a bad flow sent requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_mapping_sets_name_the_mapping_index_and_write_nothing() {
    let h = harness(10, "").await;
    let good = std::fs::read_to_string(h.flow("m", "", "")).expect("flow");
    let cases = [
        (
            r#"{"mappings": [ "mappings": ["#,
            vec!["not a mapping set", "line 1"],
        ),
        (
            r#"{"mappings":[{"sourceType":"ATTRIBUTE","source":"results.id","destination":"_x.id"},
                {"sourceType":"ATTRIBUTE","source":"results.name","destination":"_x.id"},
                {"sourceType":"ATTRIBUTE","source":"results.emial","destination":"_x.mail"}]}"#,
            vec![
                "2 problems",
                "mappings[1]",
                "already written by mappings[0]",
                "mappings[2]",
                "did you mean `results.email`",
            ],
        ),
        (
            r#"{"mappings":[{"sourceType":"FORMULA","source":"x","destination":"y"}]}"#,
            vec!["FORMULA"],
        ),
    ];
    for (i, (mapping, needles)) in cases.iter().enumerate() {
        let mpath = h.dir.path().join(format!("m{i}.json"));
        std::fs::write(&mpath, mapping).expect("write mapping");
        let text = good.replace(
            &format!(
                "{}",
                repo().join("config/mappings/zendesk-users.json").display()
            ),
            &mpath.display().to_string(),
        );
        let path = h.dir.path().join(format!("m{i}.toml"));
        std::fs::write(&path, text).expect("write flow");
        let out = run_binary(&["run", path.to_str().expect("path")], h.dir.path()).await;
        assert_eq!(out.code, 2, "case {i}: {}", out.all());
        assert!(
            out.stderr.contains(&format!("m{i}.json")),
            "case {i}: names the file: {}",
            out.stderr
        );
        for n in needles {
            assert!(
                out.stderr.contains(n),
                "case {i}: `{n}` missing from: {}",
                out.stderr
            );
        }
    }
    assert!(!h.dest().exists(), "a bad mapping wrote output");
    assert_eq!(
        h.stats().await["vendors"]["zendesk"]["requests"],
        0,
        "a bad mapping sent requests"
    );
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_logs_reports_rejects_state_or_output() {
    use base64::Engine;
    let h = harness(1_500, "misfit@1,503@2,401@5").await;
    let flow = h.flow("users", "", "");
    let mut logs = String::new();
    for args in [&["--log-format", "json"][..], &[][..]] {
        let out = run_binary(
            &[args, &["run", flow.to_str().expect("path")]].concat(),
            h.dir.path(),
        )
        .await;
        logs.push_str(&out.all());
        h.set_faults("misfit@1").await;
    }
    let discover = run_binary(&["discover", flow.to_str().expect("path")], h.dir.path()).await;
    assert_eq!(discover.code, 0, "{}", discover.all());
    logs.push_str(&discover.all());
    let header = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}/token:{TOKEN}"));
    let needles = [TOKEN.to_string(), header];
    for n in &needles {
        assert!(!logs.contains(n.as_str()), "a secret leaked into the logs");
    }
    let files = files_under(&h.dest());
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("rejects-")),
        "the test must cover a rejects file"
    );
    assert!(files
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "parquet")));
    for f in files {
        let bytes = std::fs::read(&f).expect("read");
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "a secret leaked into {}",
                f.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_discover_show_the_stream_without_writing() {
    let h = harness(40, "").await;
    let flow = h.flow("users", "", "");
    let out = run_binary(&["check", flow.to_str().expect("path")], h.dir.path()).await;
    assert_eq!(out.code, 0, "{}", out.all());
    // the output's columns in words, nested ones by path
    assert!(
        out.stdout.contains("_extconndev.id: integer")
            && out.stdout.contains("_extconndev.email: string")
            && !out.stdout.contains("Struct("),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("warning:") && out.stderr.contains("mappings[34]"),
        "{}",
        out.stderr
    );
    assert_eq!(
        h.stats().await["vendors"]["zendesk"]["requests"],
        0,
        "check sent a request"
    );

    let out = run_binary(
        &["discover", flow.to_str().expect("path"), "--limit", "3"],
        h.dir.path(),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("discover prints JSON");
    assert_eq!(v["data"].as_array().expect("data").len(), 3);
    assert!(v["data"][0]["results"]["id"].is_u64());
    assert!(v["data"][0]["meta"]["has_more"].is_boolean());
    assert_eq!(
        v["schema"]["properties"]["results"]["properties"]["external_id"]["type"],
        "string"
    );
    assert_eq!(
        v["schema"]["properties"]["results"]["properties"]["role"]["type"],
        "string"
    );
    assert!(!h.dest().exists(), "discover wrote output");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_every_expression_problem_with_a_caret_and_a_suggestion() {
    let h = harness(10, "").await;
    let good = std::fs::read_to_string(h.flow("x", "", "")).expect("flow");
    let mapping = h.dir.path().join("expr.json");
    std::fs::write(
        &mapping,
        serde_json::json!({"mappings": [
            {"sourceType": "EXPRESSION", "source": "uper(results.name)", "destination": "_x.a"},
            {"sourceType": "EXPRESSION", "source": "concat(results.emial, \"x\")", "destination": "_x.b"},
            {"sourceType": "EXPRESSION", "source": "iif(results.verified, 'y',)", "destination": "_x.c"},
            {"sourceType": "EXPRESSION", "source": "substr(results.name, 1)", "destination": "_x.d"},
            {"sourceType": "EXPRESSION", "source": "lower(results.email) + \"!\"", "destination": "_x.ok"}
        ]})
        .to_string(),
    )
    .expect("mapping");
    let text = good.replace(
        &format!(
            "{}",
            repo().join("config/mappings/zendesk-users.json").display()
        ),
        &mapping.display().to_string(),
    );
    let flow = h.dir.path().join("expr.toml");
    std::fs::write(&flow, text).expect("flow");
    let out = run_binary(&["check", flow.to_str().expect("path")], h.dir.path()).await;
    assert_eq!(out.code, 2, "{}", out.all());
    let err = &out.stderr;
    assert!(err.contains("4 problems"), "{err}");
    assert!(
        err.contains("mappings[0]: expression: unknown function `uper`; did you mean `upper`?"),
        "{err}"
    );
    assert!(
        err.contains("uper(results.name)\n      ^^^^\n"),
        "the caret sits under the name: {err}"
    );
    assert!(err.contains("mappings[1]: expression: `results.emial` is not a field of the stream; did you mean `results.email`?"), "{err}");
    assert!(err.contains("             ^^^^^^^^^^^^^"), "{err}");
    assert!(
        err.contains("mappings[2]: expression: unexpected `)`"),
        "{err}"
    );
    assert!(
        err.contains("mappings[3]: expression: `substr` takes 3 arguments, not 2"),
        "{err}"
    );
    assert!(
        !err.contains("mappings[4]"),
        "a valid expression is not reported: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upload_loses_nothing_and_the_next_run_finishes_it() {
    let h = harness(1_500, "").await;
    let flow = h.flow_with("users", "", "", "file_rows = 1000");
    let lake = to_object_store(&flow, &h.dir.path().join("lake"));
    // a file where the stream's directory should be: every upload fails, even as root
    std::fs::write(lake.join("users"), b"in the way").expect("blocker");
    let out = h.run(&flow, &[]).await;
    assert_ne!(
        out.code,
        0,
        "an upload that fails must fail the run: {}",
        out.all()
    );
    assert!(
        out.all().contains("file://"),
        "the error names the store: {}",
        out.all()
    );
    std::fs::remove_file(lake.join("users")).expect("unblock");
    // the next run uploads what the failed one committed, then pulls the rest
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_equals_truth(&read_rows(&lake), &h.truth().await);
    let staged = h.dir.path().join(".sluice/users/_sluice/tmp/users");
    let leftovers: Vec<_> = std::fs::read_dir(&staged)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "staged files left behind: {leftovers:?}"
    );
}

/// The command the error names to restore lost files (the first `sluice backfill` line), as
/// arguments.
fn restore_command(stderr: &str) -> Vec<String> {
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("sluice backfill"))
        .unwrap_or_else(|| panic!("no restore command in: {stderr}"));
    line.split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_lost_state_beside_a_lake_with_data_stops_the_run() {
    for object_store in [false, true] {
        let h = harness(1_200, "").await;
        let flow = h.flow("users", "", "");
        let lake = if object_store {
            to_object_store(&flow, &h.dir.path().join("lake"))
        } else {
            h.dest()
        };
        assert_eq!(h.run(&flow, &[]).await.code, 0);
        let files = files_under(&lake);
        let state_dir = if object_store {
            h.dir.path().join(".sluice/users/_sluice")
        } else {
            h.dest().join("_sluice")
        };
        std::fs::remove_dir_all(&state_dir).expect("state deleted");
        let mut files = files;
        if object_store {
            // the lake keeps a copy of an object-store flow's state (issue #14): a machine
            // that lost its own carries on from it, writing nothing twice
            let out = h.run(&flow, &[]).await;
            assert_eq!(out.code, 0, "{}", out.all());
            assert!(out.stdout.contains(" 0 written"), "{}", out.all());
            assert_eq!(
                files_under(&lake).len(),
                files.len() + 1,
                "one more run report"
            );
            // without that copy too, the run refuses as a local flow does
            std::fs::remove_dir_all(&state_dir).expect("state deleted");
            std::fs::remove_dir_all(lake.join("_sluice/state")).expect("lake copy deleted");
            files = files_under(&lake);
        }
        let out = h.run(&flow, &[]).await;
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(
            out.stderr.contains("deleted or emptied") && out.stderr.contains("state.db"),
            "{}",
            out.stderr
        );
        assert_eq!(files_under(&lake), files, "nothing was written");
        assert_eq!(
            h.stats().await["vendors"]["zendesk"]["requests"],
            if object_store { 4 } else { 3 },
            "nothing was requested"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_committed_file_deleted_by_hand_is_noticed_and_restored_by_the_named_backfill() {
    let h = harness(4_000, "").await;
    let flow = h.flow("users", "", "");
    let path = flow.to_str().expect("path");
    let args = [
        "backfill",
        path,
        "--from",
        "2023-01-01",
        "--to",
        "2023-03-31",
        "--window",
        "30d",
    ];
    assert_eq!(run_binary(&args, h.dir.path()).await.code, 0);
    let parts = parquet_files(&h.dest().join("users"));
    std::fs::remove_file(&parts[0]).expect("deleted by hand");
    let name = parts[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let refused = run_binary(&["run", path], h.dir.path()).await;
    assert_eq!(refused.code, 2, "{}", refused.all());
    assert!(refused.stderr.contains(&name), "{}", refused.stderr);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    // a backfill that does not pull those days goes on, and says what is still lost
    let other = run_binary(&args, h.dir.path()).await;
    assert_eq!(other.code, 0, "{}", other.all());
    assert!(other.stderr.contains(&name), "{}", other.stderr);
    let restore = restore_command(&run_binary(&["run", path], h.dir.path()).await.stderr);
    let restore: Vec<&str> = restore.iter().map(String::as_str).collect();
    let out = run_binary(&restore, h.dir.path()).await;
    assert_eq!(out.code, 0, "{restore:?}: {}", out.all());
    let truth: Vec<serde_json::Value> = h
        .truth()
        .await
        .into_iter()
        .filter(|u| {
            let t = u["updated_at"].as_str().expect("updated_at");
            ("2023-01-01".."2023-04-01").contains(&t)
        })
        .collect();
    assert_equals_truth(&read_rows(&h.dest()), &truth);
    let after = h.run(&flow, &[]).await;
    assert_eq!(
        after.code,
        0,
        "the lake and the state agree again: {}",
        after.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_loss_can_be_accepted_and_runs_go_on() {
    let h = harness(500, "").await;
    let flow = h.flow("users", "", "");
    let path = flow.to_str().expect("path");
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    let parts = parquet_files(&h.dest().join("users"));
    std::fs::remove_file(&parts[0]).expect("deleted by hand");
    assert_eq!(h.run(&flow, &[]).await.code, 2);
    let forget = run_binary(&["state", "forget-missing", path], h.dir.path()).await;
    assert_eq!(forget.code, 0, "{}", forget.all());
    assert!(forget.stdout.contains("forgot 1 file"), "{}", forget.stdout);
    assert_eq!(h.run(&flow, &[]).await.code, 0);
}

/// Whether `needle` appears in `hay` as is, or in a form a server or a log may turn it into.
fn leaks(hay: &[u8], needle: &str) -> bool {
    let forms = [needle.to_string(), needle.replace('/', "\\/")];
    forms
        .iter()
        .any(|f| hay.windows(f.len()).any(|w| w == f.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_vendor_body_that_echoes_the_credentials_is_relayed_masked() {
    use base64::Engine;
    let h = harness(300, "echo-authx100@1").await;
    let flow = h.flow("users", "", "");
    // every retry relays the body again: two of them, and the run fails with it
    let text = std::fs::read_to_string(&flow).expect("flow").replace(
        "quota = \"6000/60\"",
        "quota = \"6000/60\"\nmax_retries = 2",
    );
    std::fs::write(&flow, text).expect("flow");
    let mut logs = String::new();
    for format in ["text", "json"] {
        let out = run_binary(
            &["--log-format", format, "run", flow.to_str().expect("path")],
            h.dir.path(),
        )
        .await;
        assert_eq!(out.code, 1, "{}", out.all());
        assert!(
            out.stderr.contains("upstream failed") && out.stderr.contains("***"),
            "the body is relayed, masked: {}",
            out.stderr
        );
        logs.push_str(&out.all());
    }
    let runs = run_binary(
        &["runs", flow.to_str().expect("path"), "--json"],
        h.dir.path(),
    )
    .await;
    logs.push_str(&runs.all());
    let header = base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}/token:{TOKEN}"));
    for needle in [TOKEN, header.as_str()] {
        assert!(!leaks(logs.as_bytes(), needle), "a secret leaked: {logs}");
        for f in files_under(&h.dest()) {
            let bytes = std::fs::read(&f).expect("read");
            assert!(
                !leaks(&bytes, needle),
                "a secret leaked into {}",
                f.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_base_url_with_a_password_is_refused_without_echoing_it() {
    let h = harness(10, "").await;
    let flow = h.flow("users", "", "");
    let text = std::fs::read_to_string(&flow).expect("flow").replace(
        "base_url = \"http://",
        "base_url = \"http://agent:hunter2-PW@",
    );
    std::fs::write(&flow, text).expect("flow");
    for verb in ["check", "run"] {
        let out = run_binary(&[verb, flow.to_str().expect("path")], h.dir.path()).await;
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(out.stderr.contains("base_url"), "{}", out.stderr);
        assert!(!out.all().contains("hunter2-PW"), "{}", out.all());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_mistyped_settings_are_all_reported_by_check_with_what_was_meant() {
    let h = harness(10, "").await;
    let flow = h.flow("users", "pagesize = 100\nstrat = \"2024-01-01\"", "");
    let text = std::fs::read_to_string(&flow).expect("flow").replace(
        "[connection]\n",
        "[connection]\npage_size = 100\nsubdomian = \"acme\"\n",
    );
    std::fs::write(&flow, text).expect("flow");
    for verb in ["check", "run"] {
        let out = run_binary(&[verb, flow.to_str().expect("path")], h.dir.path()).await;
        assert_eq!(out.code, 2, "{}", out.all());
        for says in [
            "4 problems",
            "[connection] `page_size` belongs in [source]",
            "[connection] `subdomian` is not a setting here: did you mean `subdomain`?",
            "[source] `pagesize` is not a setting here: did you mean `page_size`?",
            "[source] `strat` is not a setting here: did you mean `start`?",
        ] {
            assert!(out.stderr.contains(says), "{says}\nin: {}", out.stderr);
        }
    }
    assert_eq!(h.stats().await["vendors"]["zendesk"]["requests"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_literal_credential_is_refused_with_the_sandbox_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = dir.path().join("f.toml");
    let mapping = repo().join("config/mappings/zendesk-users.json");
    std::fs::write(
        &flow,
        format!(
            "name = \"f\"\n[connection]\nconnector = \"zendesk\"\nsubdomain = \"acme\"\n\
             email = \"a@b.c\"\napi_token = \"literal-token-value\"\n[source]\nstreams = [\"users\"]\n\
             [mapping]\nfile = \"{}\"\n[destination]\nformat = \"parquet\"\npath = \"out\"\n",
            mapping.display()
        ),
    )
    .expect("flow");
    let out = run_binary(
        &["run", flow.to_str().expect("path"), "--sandbox"],
        dir.path(),
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("`api_token` is a credential"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("literal-token-value"), "{}", out.all());
    assert!(!dir.path().join("out").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_state_older_than_the_lake_is_noticed() {
    let h = harness(600, "").await;
    let flow = h.flow("users", "", "");
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    let state = h.dest().join("_sluice/state.db");
    let backup = h.dir.path().join("state.db.backup");
    std::fs::copy(&state, &backup).expect("backup");
    h.touch(10).await;
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    std::fs::copy(&backup, &state).expect("restored from the backup");
    let _ = std::fs::remove_file(h.dest().join("_sluice/state.db-wal"));
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(out.stderr.contains("did not commit"), "{}", out.stderr);
    let rows = read_rows(&h.dest());
    assert_eq!(rows.len(), 610, "nothing was written again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_backfill_of_days_the_incremental_runs_hold_pulls_nothing_twice() {
    let h = harness(800, "").await;
    let flow = h.flow("users", "", "");
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    let before = h.stats().await["vendors"]["zendesk"]["requests"].clone();
    let args = [
        "backfill",
        flow.to_str().expect("path"),
        "--from",
        "2015-01-01",
        "--to",
        "2026-11-30",
        "--window",
        "365d",
    ];
    let out = run_binary(&args, h.dir.path()).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("incremental runs hold"),
        "{}",
        out.stdout
    );
    assert_eq!(
        h.stats().await["vendors"]["zendesk"]["requests"],
        before,
        "{}",
        out.stdout
    );
    assert_equals_truth(&read_rows(&h.dest()), &h.truth().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_lost_incremental_file_is_restored_by_the_command_the_error_names() {
    let h = harness(700, "").await;
    let flow = h.flow("users", "", "");
    let path = flow.to_str().expect("path");
    assert_eq!(h.run(&flow, &[]).await.code, 0);
    for f in parquet_files(&h.dest().join("users")) {
        std::fs::remove_file(f).expect("deleted by hand");
    }
    let refused = h.run(&flow, &[]).await;
    assert_eq!(refused.code, 2, "{}", refused.all());
    let restore = restore_command(&refused.stderr);
    let restore: Vec<&str> = restore.iter().map(String::as_str).collect();
    let out = run_binary(&restore, h.dir.path()).await;
    assert_eq!(out.code, 0, "{restore:?}: {}", out.all());
    assert_equals_truth(&read_rows(&h.dest()), &h.truth().await);
    let after = run_binary(&["run", path], h.dir.path()).await;
    assert_eq!(after.code, 0, "{}", after.all());
}
