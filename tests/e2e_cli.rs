//! The built binary as automation and newcomers meet it: discovery without a flow file, and
//! output that survives a closed or full stdout.

mod common;

use std::process::Stdio;

use serde_json::Value;

fn sluice() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = sluice().args(args).output().expect("sluice ran");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn connectors_and_their_streams_are_listed_without_a_flow_credentials_or_network() {
    let (code, text, err) = run(&["connectors"]);
    assert_eq!(code, 0, "{err}");
    for c in ["linkedin", "mixpanel", "pinterest", "zendesk"] {
        assert!(text.lines().any(|l| l.starts_with(c)), "{c}: {text}");
    }
    assert!(text.contains("44 streams"), "{text}");
    let (code, json, err) = run(&["connectors", "--json"]);
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&json).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(4), "{list}");

    let (code, json, err) = run(&["streams", "pinterest", "--json"]);
    assert_eq!(code, 0, "{err}");
    let streams: Value = serde_json::from_str(&json).expect("json");
    let streams = streams.as_array().expect("array");
    assert_eq!(streams.len(), 44);
    let campaign = streams
        .iter()
        .find(|s| s["stream"] == "campaign_analytics")
        .expect("campaign_analytics");
    assert_eq!(campaign["sync"]["mode"], "days", "{campaign}");
    assert_eq!(campaign["rate_category"], "ads_analytics", "{campaign}");
    assert_eq!(campaign["partitioning"], "record_day");
    assert!(campaign["primary_key"]
        .as_array()
        .is_some_and(|k| k.iter().any(|c| c == "DATE")));
    assert!(campaign["columns"]
        .as_array()
        .is_some_and(|c| c.iter().any(|f| f["name"] == "SPEND_IN_DOLLAR")));
    let board = streams
        .iter()
        .find(|s| s["stream"] == "board")
        .expect("board");
    assert_eq!(board["sync"]["mode"], "snapshot");
    assert_eq!(board["partitioning"], "extraction_date");

    let (code, text, err) = run(&["streams", "linkedin", "--stream", "ad_analytics_campaign"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("element.dateRange.start.year: integer"),
        "{text}"
    );
    assert!(text.contains("rate:         ad_analytics"), "{text}");

    let (code, _, err) = run(&["streams", "salesforce"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown connector `salesforce`") && err.contains("zendesk"),
        "{err}"
    );
    let (code, _, err) = run(&["streams", "zendesk", "--stream", "tickets"]);
    assert_eq!(code, 2);
    assert!(err.contains("no stream `tickets`"), "{err}");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly_and_a_full_disk_is_said_once() {
    // `sluice streams pinterest | head -1`: the reader goes away after the first line
    let mut child = sluice()
        .args(["streams", "pinterest"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !err.contains("cannot write"),
        "a closed pipe is not an error: {err}"
    );

    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("note: no /dev/full here: the full-disk case is skipped");
        return;
    };
    let out = sluice()
        .args(["connectors"])
        .stdout(full)
        .output()
        .expect("sluice ran");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.matches("cannot write to standard output").count(),
        1,
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_stdout_is_full_still_commits_and_exits_by_its_outcome() {
    let h = common::harness(300, "").await;
    let flow = h.flow("full", "", "");
    let full = match std::fs::OpenOptions::new().write(true).open("/dev/full") {
        Ok(f) => f,
        Err(_) => {
            eprintln!("note: no /dev/full here: skipped");
            return;
        }
    };
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", flow.to_str().expect("path")])
        .current_dir(h.dir.path())
        .envs([
            ("ZENDESK_EMAIL", common::EMAIL),
            ("ZENDESK_API_TOKEN", common::TOKEN),
        ])
        .stdout(full)
        .output()
        .await
        .expect("sluice ran");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let report = common::reports(&h.dest()).pop().expect("a report");
    assert_eq!(
        report["metrics"]["recordSummary"]["outputRecordCount"].as_u64(),
        Some(300),
        "{report}"
    );
}

fn run_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = sluice()
        .args(args)
        .current_dir(dir)
        // none of the flows' secrets exist here
        .env_remove("ZENDESK_EMAIL")
        .env_remove("ZENDESK_API_TOKEN")
        .output()
        .expect("sluice ran");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn init_then_check_then_run_with_the_sandbox_works_for_every_connector() {
    let dir = tempfile::tempdir().expect("dir");
    for c in ["zendesk", "mixpanel", "pinterest", "linkedin"] {
        let (code, out, err) = run_in(dir.path(), &["init", c]);
        assert_eq!(code, 0, "{c}: {err}");
        assert!(out.contains(&format!("wrote {c}.toml")), "{out}");
        assert!(dir.path().join(format!("mappings/{c}.json")).is_file());
        let flow = format!("{c}.toml");
        // offline and before the secrets exist: valid, with every variable a run needs named
        let (code, out, err) = run_in(dir.path(), &["check", &flow]);
        assert_eq!(code, 0, "{c}: {err}");
        assert!(
            out.contains("a run needs these environment variables set"),
            "{out}"
        );
        // a run without them says all of them at once
        let (code, _, err) = run_in(dir.path(), &["run", &flow]);
        assert_eq!(code, 2, "{c}: {err}");
        assert!(err.contains("environment variables are not set"), "{err}");
        assert!(err.matches(" (connection.").count() >= 2, "{err}");
        let (code, _, err) = run_in(dir.path(), &["run", &flow, "--sandbox"]);
        assert_eq!(code, 0, "{c}: {err}");
        let report = common::reports(&dir.path().join("out").join(c))
            .pop()
            .expect("report");
        assert!(
            report["metrics"]["recordSummary"]["outputRecordCount"].as_u64() > Some(0),
            "{c}: {report}"
        );
    }
    // nothing is overwritten unasked
    let (code, _, err) = run_in(dir.path(), &["init", "zendesk"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    let (code, _, err) = run_in(dir.path(), &["init", "zendesk", "--force"]);
    assert_eq!(code, 0, "{err}");
    // other streams: no seed mapping, every field written
    let other = tempfile::tempdir().expect("dir");
    let (code, _, err) = run_in(
        other.path(),
        &[
            "init",
            "pinterest",
            "--streams",
            "campaign,ad_group",
            "--destination",
            "lake",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!other.path().join("mappings").exists());
    let (code, _, err) = run_in(other.path(), &["run", "pinterest.toml", "--sandbox"]);
    assert_eq!(code, 0, "{err}");
    assert!(!common::parquet_files(&other.path().join("lake/campaign")).is_empty());
    let (code, _, err) = run_in(
        other.path(),
        &["init", "pinterest", "--streams", "campaigns"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("no stream `campaigns`") && err.contains("`campaign`"),
        "{err}"
    );
}

/// The summary's keys are exactly its schema's, and each required one is there.
fn assert_fits_schema(summary: &Value, schema: &Value) {
    let props = schema["properties"].as_object().expect("properties");
    let obj = summary.as_object().expect("an object");
    for k in obj.keys() {
        assert!(props.contains_key(k), "`{k}` is not in the schema");
    }
    for r in schema["required"].as_array().expect("required") {
        assert!(
            obj.contains_key(r.as_str().unwrap_or("")),
            "{r} missing: {summary}"
        );
    }
    let status = &summary["status"];
    assert!(
        props["status"]["enum"]
            .as_array()
            .is_some_and(|e| e.contains(status)),
        "{status}"
    );
}

#[test]
fn json_summaries_and_json_logs_are_all_machines_read() {
    let (code, schema, err) = run(&["schema", "summary"]);
    assert_eq!(code, 0, "{err}");
    let schema: Value = serde_json::from_str(&schema).expect("schema");
    let (code, flow_schema, err) = run(&["schema", "flow"]);
    assert_eq!(code, 0, "{err}");
    let flow_schema: Value = serde_json::from_str(&flow_schema).expect("flow schema");
    assert_eq!(
        flow_schema["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
    assert!(flow_schema["properties"]["connection"].is_object());
    let dir = tempfile::tempdir().expect("dir");
    let (code, _, err) = run_in(dir.path(), &["init", "zendesk"]);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = run_in(dir.path(), &["run", "zendesk.toml", "--sandbox", "--json"]);
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_fits_schema(&s, &schema);
    assert_eq!(s["status"], "success");
    assert!(s["records_out"].as_u64() > Some(0), "{s}");
    let report: Value = serde_json::from_slice(
        &std::fs::read(s["report"].as_str().expect("report")).expect("report file"),
    )
    .expect("report json");
    assert_eq!(
        report["metrics"]["recordSummary"]["outputRecordCount"],
        s["records_out"]
    );

    // refused before any work: still one summary, and its error
    let (code, out, _) = run_in(dir.path(), &["run", "zendesk.toml", "--json"]);
    assert_eq!(code, 2);
    let s: Value = serde_json::from_str(out.trim()).expect("summary");
    assert_fits_schema(&s, &schema);
    assert_eq!(
        (s["status"].as_str(), s["exit_code"].as_u64()),
        (Some("invalid"), Some(2))
    );
    assert!(
        s["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("ZENDESK_EMAIL")),
        "{s}"
    );

    let (code, out, _) = run_in(dir.path(), &["check", "zendesk.toml", "--json"]);
    assert_eq!(code, 0);
    let s: Value = serde_json::from_str(out.trim()).expect("summary");
    assert_fits_schema(&s, &schema);
    assert_eq!(
        s["unset_env"],
        serde_json::json!(["ZENDESK_API_TOKEN", "ZENDESK_EMAIL"])
    );

    let (from, to) = ("2026-01-01", "2026-01-03");
    let (code, out, err) = run_in(
        dir.path(),
        &[
            "--log-format",
            "json",
            "backfill",
            "zendesk.toml",
            "--from",
            from,
            "--to",
            to,
            "--sandbox",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(out.trim()).expect("one summary on stdout");
    assert_fits_schema(&s, &schema);
    assert_eq!(s["command"], "backfill");
    // every stderr line is JSON: logs, the plan, warnings and errors alike
    let (code, _, err2) = run_in(dir.path(), &["--log-format", "json", "run", "zendesk.toml"]);
    assert_eq!(code, 2);
    for line in err.lines().chain(err2.lines()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string(), "{line}");
    }
    assert!(
        err2.contains("\"level\":\"ERROR\"") && err2.contains("ZENDESK_EMAIL"),
        "{err2}"
    );
}

#[test]
fn schedule_over_a_directory_reports_every_bad_flow_skips_unscheduled_ones_and_runs_the_rest() {
    let dir = tempfile::tempdir().expect("dir");
    let (code, _, err) = run_in(dir.path(), &["init", "pinterest"]);
    assert_eq!(code, 0, "{err}");
    let good = std::fs::read_to_string(dir.path().join("pinterest.toml")).expect("flow");
    assert!(good.contains("[schedule]"));
    let unscheduled = good[..good.find("[schedule]").expect("schedule")]
        .replace("name = \"pinterest\"", "name = \"pinterest-unscheduled\"");
    std::fs::write(dir.path().join("b-unscheduled.toml"), unscheduled).expect("write");
    std::fs::write(
        dir.path().join("c-broken.toml"),
        "name = \"x\"\n[connection]\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("d-bad-format.toml"),
        good.replace("format = \"parquet\"", "format = \"xlsx\"")
            .replace("name = \"pinterest\"", "name = \"bad\""),
    )
    .expect("write");
    let child = sluice()
        .args(["schedule", ".", "--sandbox"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the invalid flows show in the code: {err}"
    );
    assert!(
        err.contains("c-broken.toml") && err.contains("d-bad-format.toml"),
        "{err}"
    );
    assert!(err.contains("b-unscheduled.toml: no [schedule]"), "{err}");
    assert!(err.contains("scheduling 1 flow"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("scheduler stopped"));
}

#[test]
fn a_refused_first_connection_fails_at_once_naming_the_url_once() {
    let dir = tempfile::tempdir().expect("dir");
    let (code, _, err) = run_in(dir.path(), &["init", "zendesk"]);
    assert_eq!(code, 0, "{err}");
    // a port nobody listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let text = std::fs::read_to_string(dir.path().join("zendesk.toml"))
        .expect("flow")
        .replace(
            "subdomain = \"acme\"",
            &format!("base_url = \"http://127.0.0.1:{port}\""),
        );
    std::fs::write(dir.path().join("zendesk.toml"), text).expect("flow");
    let started = std::time::Instant::now();
    let out = sluice()
        .args(["run", "zendesk.toml"])
        .current_dir(dir.path())
        .env("ZENDESK_EMAIL", "agent@example.com")
        .env("ZENDESK_API_TOKEN", "t")
        .output()
        .expect("ran");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{err}"
    );
    assert!(!err.contains("retrying request"), "{err}");
    assert_eq!(
        err.matches(&format!("127.0.0.1:{port}")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("base_url"), "{err}");
}
