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

/// Strip ANSI escape sequences (colours, line clears).
fn visible(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[test]
fn the_progress_line_fits_a_narrow_or_wide_terminal_and_logs_never_glue_onto_it() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("note: no `script` here (util-linux): the pseudo-terminal case is skipped");
        return;
    }
    for cols in [40usize, 120] {
        let dir = tempfile::tempdir().expect("dir");
        let (code, _, err) = run_in(dir.path(), &["init", "zendesk"]);
        assert_eq!(code, 0, "{err}");
        let command = format!(
            "stty rows 24 cols {cols}; {} run zendesk.toml --sandbox",
            env!("CARGO_BIN_EXE_sluice")
        );
        let out = sluice_script(dir.path(), &command);
        let progress: Vec<String> = out
            .split(['\r', '\n'])
            .map(visible)
            .filter(|s| s.starts_with("users: "))
            .collect();
        assert!(!progress.is_empty(), "no progress line drawn: {out}");
        for p in &progress {
            assert!(
                p.chars().count() < cols,
                "{cols} columns, {} wide: {p}",
                p.chars().count()
            );
            // a log line glued onto a progress line would carry its timestamp
            assert!(!p.contains(" INFO ") && !p.contains("Z "), "glued: {p}");
        }
        if cols == 120 {
            assert!(
                progress.iter().any(|p| p.contains("records/s")),
                "{progress:?}"
            );
        }
    }
}

/// Run `command` under `script` on a pseudo-terminal; its whole output.
fn sluice_script(dir: &std::path::Path, command: &str) -> String {
    let out = std::process::Command::new("script")
        .args(["-qfec", command, "/dev/null"])
        .current_dir(dir)
        .output()
        .expect("script");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn state_show_and_runs_only_read_and_state_show_says_times_and_backfilled_days() {
    let dir = tempfile::tempdir().expect("dir");
    let (code, _, err) = run_in(dir.path(), &["init", "zendesk"]);
    assert_eq!(code, 0, "{err}");
    let state = dir.path().join("out/zendesk/_sluice/state.db");
    let (code, out, err) = run_in(dir.path(), &["state", "show", "zendesk.toml"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no state yet"), "{err}");
    let shown: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(shown["positions"], serde_json::json!({}));
    let (code, _, err) = run_in(dir.path(), &["runs", "zendesk.toml"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !state.exists() && !dir.path().join("out").exists(),
        "a read created state"
    );

    // backfilled days first (an incremental run's days need no backfill), then a run
    let (code, _, err) = run_in(
        dir.path(),
        &[
            "backfill",
            "zendesk.toml",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-03",
            "--window",
            "1",
            "--sandbox",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_in(dir.path(), &["run", "zendesk.toml", "--sandbox"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_in(dir.path(), &["state", "show", "zendesk.toml"]);
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).expect("json");
    let users = &shown["positions"]["users"];
    let mark = users["times"]["mark"]
        .as_str()
        .expect("the mark in ISO-8601");
    assert!(
        mark.len() == 20 && mark.ends_with('Z') && mark.contains('T'),
        "{mark}"
    );
    assert!(
        users["updated_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{users}"
    );
    assert_eq!(shown["backfill"]["users"]["windows_done"], 3, "{shown}");
    assert_eq!(
        shown["backfill"]["users"]["days_done"],
        serde_json::json!(["2026-01-01..2026-01-03"]),
        "{shown}"
    );
}

#[test]
fn every_verb_has_an_example_and_every_option_a_description() {
    let (code, top, _) = run(&["--help"]);
    assert_eq!(code, 0);
    let verbs: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|v| v != "help")
        .collect();
    assert!(verbs.len() >= 14, "{verbs:?}");
    for verb in &verbs {
        let (code, help, err) = run(&[verb, "--help"]);
        assert_eq!(code, 0, "{verb}: {err}");
        assert!(
            help.contains("Example: sluice"),
            "{verb} has no example:\n{help}"
        );
        // short help: an option or argument line with nothing after its name has no description
        let (code, help, err) = run(&[verb, "-h"]);
        assert_eq!(code, 0, "{verb}: {err}");
        let lines: Vec<&str> = help
            .lines()
            .skip_while(|l| !l.starts_with("Arguments:") && !l.starts_with("Options:"))
            .collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let item = t.starts_with('-') || t.starts_with('<');
            // the description is beside the name, or (a long name) on the next, deeper line
            let next_describes = lines.get(i + 1).is_some_and(|n| {
                let nt = n.trim_start();
                n.len() - nt.len() > line.len() - t.len()
                    && !nt.is_empty()
                    && !nt.starts_with('-')
                    && !nt.starts_with('<')
            });
            if item && !t.contains("  ") && !next_describes {
                panic!("{verb}: `{t}` has no description:\n{help}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeouts_and_the_retry_budget_are_flow_settings() {
    // every answer takes 5 s; the flow allows a request 1 s and all its retries 2 s
    let h = common::harness(300, "slow=5000x50@1").await;
    let flow = h.flow("slow", "", "");
    let text = std::fs::read_to_string(&flow).expect("flow").replace(
        "quota = \"6000/60\"",
        "quota = \"6000/60\"\nrequest_timeout_seconds = 1\nretry_budget_seconds = 2",
    );
    std::fs::write(&flow, text).expect("flow");
    let started = std::time::Instant::now();
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.all().contains("timed out"), "{}", out.all());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}: {}",
        started.elapsed(),
        out.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_dry_run_says_where_each_stream_starts_and_requests_nothing() {
    let h = common::harness(300, "").await;
    let flow = h.flow("plan", "", "");
    let out = h.run(&flow, &["--dry-run"]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("users: the start (a first run)"),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("6000 per 60 s"), "{}", out.all());
    assert_eq!(h.stats().await["vendors"]["zendesk"]["requests"], 0);
    assert!(!h.dest().exists(), "a dry run wrote");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let requests = h.stats().await["vendors"]["zendesk"]["requests"].clone();
    let out = h.run(&flow, &["--dry-run", "--json"]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let summary: Value = serde_json::from_str(out.stdout.trim()).expect("one summary");
    assert_eq!(summary["status"], "ok");
    assert!(
        out.stderr.contains("its stored position (mark 20"),
        "{}",
        out.all()
    );
    assert_eq!(h.stats().await["vendors"]["zendesk"]["requests"], requests);

    // a day stream's plan names its days
    let dir = tempfile::tempdir().expect("dir");
    let (code, _, err) = run_in(dir.path(), &["init", "linkedin"]);
    assert_eq!(code, 0, "{err}");
    let (code, plan, err) = run_in(
        dir.path(),
        &["run", "linkedin.toml", "--dry-run", "--sandbox"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(plan.contains("ad_analytics_campaign: the days "), "{plan}");
    assert!(!dir.path().join("out").exists(), "a dry run created state");
}

#[test]
fn a_backfill_waiting_for_its_quota_says_so_on_the_progress_line() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("note: no `script` here (util-linux): the pseudo-terminal case is skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let (code, _, err) = run_in(dir.path(), &["init", "zendesk"]);
    assert_eq!(code, 0, "{err}");
    // one request every 3 s: each window waits for the quota
    let command = format!(
        "stty rows 24 cols 160; {} backfill zendesk.toml --from 2026-01-01 --to 2026-01-03 \
         --window 1 --concurrency 1 --sandbox --quota 1/3",
        env!("CARGO_BIN_EXE_sluice")
    );
    let out = sluice_script(dir.path(), &command);
    let lines: Vec<String> = out
        .split(['\r', '\n'])
        .map(visible)
        .filter(|s| s.contains(" windows, "))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("waiting for quota `quota` (")),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.contains("(0s)")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("elapsed, ETA ")),
        "{lines:?}"
    );
}

#[test]
fn the_sandbox_banner_says_all_a_flow_needs_to_run_against_it() {
    use std::io::BufRead;
    let mut child = sluice()
        .args(["sandbox", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut base = String::new();
    let mut env: Vec<(String, String)> = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(url) = line.strip_prefix("sandbox listening on ") {
            base = url.trim().to_string();
        }
        if let Some(vars) = line.trim().strip_prefix("export ") {
            for pair in vars.split_whitespace() {
                let (k, v) = pair.split_once('=').expect("NAME=value");
                env.push((k.into(), v.into()));
            }
        }
        if line.starts_with("(or skip") {
            break;
        }
    }
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let dir = tempfile::tempdir().expect("dir");
    for c in ["zendesk", "mixpanel", "pinterest", "linkedin"] {
        let (code, _, err) = run_in(dir.path(), &["init", c]);
        assert_eq!(code, 0, "{err}");
        let path = dir.path().join(format!("{c}.toml"));
        let mut text = std::fs::read_to_string(&path)
            .expect("flow")
            .replace("subdomain = \"acme\"", "");
        let mut keys = format!("connector = \"{c}\"\nbase_url = \"{base}\"");
        if c == "linkedin" {
            keys.push_str(&format!("\ntoken_url = \"{base}/oauth/v2/accessToken\""));
        }
        text = text.replacen(&format!("connector = \"{c}\""), &keys, 1);
        std::fs::write(&path, text).expect("flow");
        let out = sluice()
            .args(["run", &format!("{c}.toml")])
            .current_dir(dir.path())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{c}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
