//! The subcommands: each resolves its arguments and hands off to `sluice-runner`.

use std::path::Path;

use sluice_core::Registry;
use sluice_runner::{
    check_flow, discover as discover_stream, run_flow, Flow, Overrides, RunError, RunOptions,
    RunStatus,
};
use sluice_state::{LockOwner, StateStore};

use super::output::out;
use super::summary::Summary;
use super::{
    sandbox, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_LOCKED, EXIT_QUOTA, EXIT_THRESHOLD,
};

/// Every connector this binary ships, registered by name.
pub fn registry() -> Registry {
    let mut r = Registry::default();
    sluice_zendesk::register(&mut r);
    sluice_mixpanel::register(&mut r);
    sluice_pinterest::register(&mut r);
    sluice_linkedin::register(&mut r);
    r
}

fn load(path: &Path, overrides: &Overrides) -> Result<Flow, u8> {
    Flow::load(path, overrides).map_err(|e| {
        crate::cli::print_error(&e.to_string());
        EXIT_INVALID
    })
}

/// The documented exit code of a finished run (see `cli/mod.rs`).
fn exit_for_status(status: RunStatus) -> u8 {
    match status {
        RunStatus::Success | RunStatus::Interrupted => 0,
        RunStatus::ThresholdExceeded => EXIT_THRESHOLD,
        RunStatus::QuotaExhausted => EXIT_QUOTA,
        RunStatus::Failed => EXIT_FAILED,
    }
}

fn exit_for(e: &RunError) -> u8 {
    match e {
        RunError::Config(_) | RunError::Disagrees(_) => EXIT_INVALID,
        RunError::Locked(_) => EXIT_LOCKED,
        _ => EXIT_FAILED,
    }
}

/// `--quota COUNT/SECONDS` as (count, seconds).
pub fn parse_quota_arg(text: Option<&str>) -> Result<Option<(u32, u64)>, u8> {
    text.map(|t| {
        sluice_runner::flow::parse_quota(t).map_err(|e| {
            crate::cli::print_error(&format!("--quota {e}"));
            EXIT_INVALID
        })
    })
    .transpose()
}

async fn with_sandbox(
    path: &Path,
    sandbox: bool,
    quota: Option<(u32, u64)>,
) -> Result<(Option<sluice_sandbox::Sandbox>, Overrides), u8> {
    if !sandbox {
        return Ok((
            None,
            Overrides {
                quota,
                ..Overrides::default()
            },
        ));
    }
    let connector = Flow::peek_connector(path).unwrap_or_default();
    let started = sandbox::start_local(quota).await.and_then(|s| {
        let mut o = sandbox::overrides_for(&s, &connector)?;
        o.quota = quota;
        Ok((s, o))
    });
    match started {
        Ok((s, o)) => {
            tracing::info!(url = %s.base_url(), "sandbox started for this run");
            Ok((Some(s), o))
        }
        Err(e) => {
            crate::cli::print_error(&format!("{}: --sandbox: {e}", path.display()));
            Err(EXIT_INVALID)
        }
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `n thing` or `n things`.
fn plural(n: u64, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// What a run did with its records, as the summary line says it.
fn counts(m: &sluice_runner::report::Metrics) -> String {
    let r = &m.record_summary;
    let skipped = if r.skipped_record_count > 0 {
        format!(", {} skipped (already written)", r.skipped_record_count)
    } else {
        String::new()
    };
    format!(
        "{} in, {} written, {} failed{skipped}, {}",
        plural(r.input_record_count, "record"),
        r.output_record_count,
        r.failed_record_count,
        plural(m.file_summary.output_file_count, "file"),
    )
}

/// An output column as people read it: `a.b: integer`, structs walked, lists of their items.
fn arrow_leaves(path: &str, ty: &arrow_schema::DataType, out: &mut Vec<String>) {
    use arrow_schema::DataType as T;
    fn name(ty: &T) -> String {
        match ty {
            T::Int8 | T::Int16 | T::Int32 | T::Int64 => "integer".into(),
            T::UInt8 | T::UInt16 | T::UInt32 | T::UInt64 => "integer (unsigned)".into(),
            T::Float16 | T::Float32 | T::Float64 => "number".into(),
            T::Utf8 | T::LargeUtf8 | T::Utf8View => "string".into(),
            T::Boolean => "boolean".into(),
            T::Date32 | T::Date64 => "date".into(),
            T::Timestamp(_, Some(tz)) => format!("timestamp ({tz})"),
            T::Timestamp(_, None) => "timestamp".into(),
            T::List(f) | T::LargeList(f) => format!("list of {}", name(f.data_type())),
            T::Struct(fs) => format!("struct of {} fields", fs.len()),
            other => other.to_string(),
        }
    }
    match ty {
        T::Struct(fields) => {
            for f in fields {
                arrow_leaves(&format!("{path}.{}", f.name()), f.data_type(), out);
            }
        }
        other => out.push(format!("{path}: {}", name(other))),
    }
}

/// A summary of a command that stopped before any work, by its exit code.
fn refused(command: &'static str, code: u8) -> Summary {
    Summary::new(
        command,
        if code == EXIT_INVALID {
            "invalid"
        } else {
            "failed"
        },
        code,
    )
}

/// The exit code, and with `--json` the summary on stdout.
fn finish(json: bool, summary: Summary) -> u8 {
    if json {
        summary.print()
    } else {
        summary.exit_code
    }
}

pub async fn run(
    path: &Path,
    use_sandbox: bool,
    quota: Option<&str>,
    shard: Option<&str>,
    json: bool,
    dry_run: bool,
) -> u8 {
    finish(
        json,
        run_summary(path, use_sandbox, quota, shard, json, dry_run).await,
    )
}

/// `--shard K/N`, or the exit code of a refused one.
fn parse_shard_arg(shard: Option<&str>) -> Result<Option<sluice_runner::Shard>, u8> {
    shard
        .map(sluice_runner::Shard::parse)
        .transpose()
        .map_err(|e| {
            crate::cli::print_error(&e);
            EXIT_INVALID
        })
}

/// The plan of a run, printed (to stderr with `--json`, whose stdout is the summary alone).
fn print_run_plan(flow: &Flow, json: bool) -> Summary {
    match sluice_runner::run_plan::plan_run(flow, &registry()) {
        Ok(plan) => {
            let text = plan.describe();
            if json {
                for line in text.lines() {
                    crate::cli::print_notice("plan", line);
                }
            } else {
                out!("{}", text.trim_end_matches('\n'));
            }
            Summary {
                flow: Some(flow.name.clone()),
                ..Summary::new("run", "ok", 0)
            }
        }
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            Summary {
                flow: Some(flow.name.clone()),
                ..refused("run", exit_for(&e))
            }
        }
    }
}

async fn run_summary(
    path: &Path,
    use_sandbox: bool,
    quota: Option<&str>,
    shard: Option<&str>,
    json: bool,
    dry_run: bool,
) -> Summary {
    let quota = match parse_quota_arg(quota) {
        Ok(q) => q,
        Err(code) => return refused("run", code),
    };
    let shard = match parse_shard_arg(shard) {
        Ok(s) => s,
        Err(code) => return refused("run", code),
    };
    let (_sandbox, mut overrides) = match with_sandbox(path, use_sandbox, quota).await {
        Ok(x) => x,
        Err(code) => return refused("run", code),
    };
    overrides.shard = shard;
    let flow = match load(path, &overrides) {
        Ok(f) => f,
        Err(code) => return refused("run", code),
    };
    if dry_run {
        return print_run_plan(&flow, json);
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::warn!("stopping: finishing the page in hand and committing what is complete");
        let _ = stop_tx.send(true);
    });
    let options = RunOptions {
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        stop: Some(stop_rx),
    };
    match run_flow(&flow, &registry(), options).await {
        Ok(outcome) => {
            let m = &outcome.report.metrics;
            let secs = (m.duration_summary.completed_at_utc - m.duration_summary.started_at_utc)
                as f64
                / 1000.0;
            if !json {
                out!(
                    "{}: {} — {}, {} in {:.1}s → {} (report {})",
                    flow.name,
                    outcome.status.as_str(),
                    counts(m),
                    human_bytes(m.size_summary.output_bytes),
                    secs,
                    flow.destination.describe(),
                    outcome.report_path.display(),
                );
            }
            for e in &m.status_summary.errors {
                crate::cli::print_error(&format!("{} {}", e.code, e.message));
            }
            print_exhaustion(&outcome);
            Summary::of_outcome("run", &flow.name, &outcome, exit_for_status(outcome.status))
        }
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            Summary {
                flow: Some(flow.name.clone()),
                ..refused("run", exit_for(&e))
            }
        }
    }
}

/// When a quota ran out: which, and when to run again (what was complete is committed).
fn print_exhaustion(outcome: &sluice_runner::RunOutcome) {
    if let Some(e) = &outcome.exhausted {
        crate::cli::print_notice(
            "note",
            &format!(
                "quota `{}` is spent; what was complete is committed. Run again after {} (UTC) \
                 to continue; `sluice schedule` waits for it by itself",
                e.quota,
                e.resume_at.format("%Y-%m-%d %H:%M:%S")
            ),
        );
    }
}

pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Validate a flow offline, before its secrets exist: unset `${NAME}`s are listed (all of
/// them) as what the run will need, and stand-ins take their place for the check.
pub async fn check(path: &Path, use_sandbox: bool, json: bool) -> u8 {
    finish(json, check_summary(path, use_sandbox, json).await)
}

async fn check_summary(path: &Path, use_sandbox: bool, json: bool) -> Summary {
    let (_sandbox, overrides) = match with_sandbox(path, use_sandbox, None).await {
        Ok(x) => x,
        Err(code) => return refused("check", code),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            crate::cli::print_error(&format!(
                "{}: cannot read the flow file: {e}",
                path.display()
            ));
            return refused("check", EXIT_INVALID);
        }
    };
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let unset = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let parsed = Flow::parse(&absolute, &text, &overrides, &|name| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| {
                unset.borrow_mut().insert(name.to_string());
                // shaped to pass any connector's format check: an email, a token
                Some("stand-in@sluice.invalid".into())
            })
    });
    let flow = match parsed {
        Ok(f) => f,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return refused("check", EXIT_INVALID);
        }
    };
    let unset = unset.into_inner();
    match check_flow(&flow, &registry()) {
        Ok(report) => {
            for w in &report.warnings {
                crate::cli::print_notice("warning", w);
            }
            for n in &report.notes {
                crate::cli::print_notice("note", n);
            }
            let summary = Summary {
                flow: Some(flow.name.clone()),
                warnings: report.warnings.clone(),
                unset_env: unset.iter().cloned().collect(),
                ..Summary::new("check", "ok", 0)
            };
            if json {
                return summary;
            }
            for (stream, schema) in &report.streams {
                let mut leaves = Vec::new();
                for f in schema.fields() {
                    arrow_leaves(f.name(), f.data_type(), &mut leaves);
                }
                out!(
                    "{}: stream `{stream}` → {}",
                    flow.name,
                    plural(leaves.len() as u64, "column")
                );
                for l in leaves {
                    out!("  {l}");
                }
            }
            if !unset.is_empty() {
                let names: Vec<&str> = unset.iter().map(String::as_str).collect();
                out!(
                    "{}: a run needs {} set: {} (or try it with --sandbox)",
                    flow.name,
                    if names.len() == 1 {
                        "this environment variable"
                    } else {
                        "these environment variables"
                    },
                    names.join(", ")
                );
            }
            out!(
                "{}: ok ({} warning{})",
                path.display(),
                report.warnings.len(),
                if report.warnings.len() == 1 { "" } else { "s" }
            );
            summary
        }
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            Summary {
                flow: Some(flow.name.clone()),
                ..refused("check", exit_for(&e))
            }
        }
    }
}

pub async fn discover(path: &Path, stream: Option<&str>, limit: usize, use_sandbox: bool) -> u8 {
    let (_sandbox, overrides) = match with_sandbox(path, use_sandbox, None).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    let flow = match load(path, &overrides) {
        Ok(f) => f,
        Err(code) => return code,
    };
    match discover_stream(&flow, &registry(), stream, limit).await {
        Ok(v) => {
            out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            0
        }
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            exit_for(&e)
        }
    }
}

fn open_state(path: &Path) -> Result<(Flow, StateStore), u8> {
    // state commands need no credentials: resolve the flow with its connection ignored
    let flow = load_without_credentials(path)?;
    // a fresh machine works on the lake's copy, not on a new empty state
    sluice_runner::ensure_state(&flow).map_err(|e| {
        crate::cli::print_error(&e.to_string());
        exit_for(&e)
    })?;
    let store = flow.state.open().map_err(|e| {
        crate::cli::print_error(&e.to_string());
        EXIT_FAILED
    })?;
    Ok((flow, store))
}

fn load_without_credentials(path: &Path) -> Result<Flow, u8> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        crate::cli::print_error(&format!("{}: {e}", path.display()));
        EXIT_INVALID
    })?;
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    // the real value where there is one (an object store's keys), a stand-in elsewhere
    Flow::parse(&absolute, &text, &Overrides::default(), &|name| {
        std::env::var(name).ok().or_else(|| Some("unused".into()))
    })
    .map_err(|e| {
        crate::cli::print_error(&e.to_string());
        EXIT_INVALID
    })
}

pub fn runs(paths: &[std::path::PathBuf], limit: usize, json: bool) -> u8 {
    let files = match flow_files(paths) {
        Ok(f) => f,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return EXIT_INVALID;
        }
    };
    let mut all = Vec::new();
    for f in &files {
        // a listing reads: a flow that never ran has no state, and gets none
        let flow = match load_without_credentials(f) {
            Ok(flow) => flow,
            Err(c) => return c,
        };
        if !flow.state.exists() {
            continue;
        }
        let store = match flow.state.open() {
            Ok(s) => s,
            Err(e) => {
                crate::cli::print_error(&e.to_string());
                return EXIT_FAILED;
            }
        };
        match store.runs(Some(&flow.name), limit) {
            Ok(mut r) => {
                // a run whose process died without finishing its row holds no lock
                let locks = flow.state.locks();
                for run in r.iter_mut().filter(|r| r.status == "running") {
                    if !locks.is_alive(&flow.name, &run.run_id).unwrap_or(true) {
                        run.status = "crashed".into();
                    }
                }
                all.extend(r)
            }
            Err(e) => {
                crate::cli::print_error(&e.to_string());
                return EXIT_FAILED;
            }
        }
    }
    all.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    all.truncate(limit);
    if json {
        for r in all {
            out!(
                "{}",
                serde_json::json!({"runId": r.run_id, "flow": r.flow, "mode": r.mode, "startedAt": r.started_at,
                    "finishedAt": r.finished_at, "status": r.status, "report": r.report})
            );
        }
        return 0;
    }
    out!(
        "{:<26} {:<16} {:<8} {:<17} {:>9} {:>9} {:>7} {:>10} {:>8}",
        "RUN",
        "FLOW",
        "MODE",
        "STATUS",
        "IN",
        "OUT",
        "FAILED",
        "BYTES",
        "SECONDS"
    );
    for r in all {
        let m = r
            .report
            .as_ref()
            .and_then(|v| v.get("metrics").cloned())
            .unwrap_or_default();
        let n = |a: &str, b: &str| {
            m.get(a)
                .and_then(|x| x.get(b))
                .and_then(|x| x.as_i64())
                .unwrap_or(0)
        };
        let secs = (n("durationSummary", "completedAtUTC") - n("durationSummary", "startedAtUTC"))
            .max(0) as f64
            / 1000.0;
        out!(
            "{:<26} {:<16} {:<8} {:<17} {:>9} {:>9} {:>7} {:>10} {:>8.1}",
            r.run_id,
            r.flow,
            r.mode,
            r.status,
            n("recordSummary", "inputRecordCount"),
            n("recordSummary", "outputRecordCount"),
            n("recordSummary", "failedRecordCount"),
            human_bytes(n("sizeSummary", "outputBytes") as u64),
            secs
        );
        if let Some(errors) = m
            .get("statusSummary")
            .and_then(|s| s.get("errors"))
            .and_then(|e| e.as_array())
        {
            for e in errors {
                out!(
                    "    {} {}",
                    e["code"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                );
            }
        }
    }
    0
}

/// Epoch seconds of this century, as a checkpoint's marks hold them, in ISO-8601.
fn epoch_text(v: &serde_json::Value) -> Option<String> {
    let secs = v
        .as_i64()
        .filter(|s| (946_684_800..4_102_444_800).contains(s))?;
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// `from..to` runs of consecutive windows.
fn day_runs(windows: &[&sluice_state::WindowRecord]) -> Vec<String> {
    let mut runs: Vec<(chrono::NaiveDate, chrono::NaiveDate)> = Vec::new();
    for w in windows {
        match runs.last_mut() {
            Some((_, to)) if to.succ_opt() == Some(w.from) || *to >= w.from => {
                *to = (*to).max(w.to)
            }
            _ => runs.push((w.from, w.to)),
        }
    }
    runs.into_iter().map(|(f, t)| format!("{f}..{t}")).collect()
}

/// A flow's stored positions and backfill windows as JSON: each incremental position (per
/// slice) with when it moved and its epoch marks in ISO-8601, and each stream's backfilled
/// days. Reads only: a flow that never ran has no state, and none is created.
pub fn state_show(path: &Path) -> u8 {
    let flow = match load_without_credentials(path) {
        Ok(f) => f,
        Err(c) => return c,
    };
    let mut out = serde_json::json!({
        "flow": flow.name,
        "state": flow.state.display().to_string(),
        "positions": {},
        "backfill": {},
    });
    if !flow.state.exists() {
        crate::cli::print_notice(
            "note",
            &format!(
                "{}: no state yet (the flow has not run): nothing at {}",
                flow.name,
                flow.state.display()
            ),
        );
        out!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return 0;
    }
    let store = match flow.state.open() {
        Ok(s) => s,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return EXIT_FAILED;
        }
    };
    let (checkpoints, windows) =
        match (store.checkpoints(&flow.name), store.all_windows(&flow.name)) {
            (Ok(c), Ok(w)) => (c, w),
            (Err(e), _) | (_, Err(e)) => {
                crate::cli::print_error(&e.to_string());
                return EXIT_FAILED;
            }
        };
    let mut positions = serde_json::Map::new();
    for (key, value, updated_at) in checkpoints {
        // a backfill window's checkpoint shows as its window below
        if key.contains('@') || key.starts_with(':') {
            continue;
        }
        let times: serde_json::Map<String, serde_json::Value> = value
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| epoch_text(v).map(|t| (k.clone(), t.into())))
            .collect();
        positions.insert(
            key,
            serde_json::json!({"checkpoint": value, "updated_at": updated_at, "times": times}),
        );
    }
    let mut backfill = serde_json::Map::new();
    let mut by_part: std::collections::BTreeMap<String, Vec<sluice_state::WindowRecord>> =
        std::collections::BTreeMap::new();
    for (stream, slice, w) in windows {
        let key = if slice.is_empty() {
            stream
        } else {
            format!("{stream}/{slice}")
        };
        by_part.entry(key).or_default().push(w);
    }
    for (key, ws) in by_part {
        let done: Vec<&sluice_state::WindowRecord> = ws.iter().filter(|w| w.done).collect();
        let open: Vec<&sluice_state::WindowRecord> = ws.iter().filter(|w| !w.done).collect();
        backfill.insert(
            key,
            serde_json::json!({
                "windows_done": done.len(),
                "windows_open": open.len(),
                "days_done": day_runs(&done),
                "days_open": day_runs(&open),
            }),
        );
    }
    out["positions"] = positions.into();
    out["backfill"] = backfill.into();
    out!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    0
}

pub fn state_reset(path: &Path, stream: Option<&str>) -> u8 {
    let (flow, store) = match open_state(path) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let offered: Vec<String> = match registry().streams(&flow.connector) {
        Ok(s) => s.into_iter().map(|s| s.name).collect(),
        Err(e) => {
            crate::cli::print_error(&format!("{}: {e}", path.display()));
            return EXIT_INVALID;
        }
    };
    let pulled: Vec<String> = flow.streams.clone().unwrap_or_else(|| offered.clone());
    let streams: Vec<&str> = match stream {
        None => pulled.iter().map(String::as_str).collect(),
        Some(s) if pulled.iter().any(|p| p == s) => vec![s],
        Some(s) => {
            crate::cli::print_error(&format!(
                "--stream {s}: flow `{}` has no such stream; it pulls {}",
                flow.name,
                pulled.join(", ")
            ));
            return EXIT_INVALID;
        }
    };
    // no run or backfill may be holding a position while it is forgotten
    let locks = flow.state.locks();
    let now = chrono::Utc::now().to_rfc3339();
    let mut held = Vec::new();
    for mode in ["run", "backfill"] {
        let owner = LockOwner::current(&format!("state-reset-{mode}"), &now);
        match locks.acquire(&flow.name, mode, &owner) {
            Ok(guard) => held.push(guard),
            Err(e) => {
                crate::cli::print_error(&format!("{e}; the state was not changed"));
                return EXIT_LOCKED;
            }
        }
    }
    match store.reset(&flow.name, &streams) {
        Ok(n) => {
            if let Err(e) = sluice_runner::publish_flow_state(&flow) {
                crate::cli::print_error(&e.to_string());
                return exit_for(&e);
            }
            out!(
                "{}: forgot {n} checkpoint{} ({})",
                flow.name,
                if n == 1 { "" } else { "s" },
                streams.join(", ")
            );
            0
        }
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            EXIT_FAILED
        }
    }
}

pub fn state_forget_missing(path: &Path) -> u8 {
    let flow = match load_without_credentials(path) {
        Ok(f) => f,
        Err(c) => return c,
    };
    if let Err(e) = sluice_runner::ensure_state(&flow) {
        crate::cli::print_error(&e.to_string());
        return exit_for(&e);
    }
    match sluice_runner::agreement::forget_missing(&flow, &registry()) {
        Ok(lost) => {
            if let Err(e) = sluice_runner::publish_flow_state(&flow) {
                crate::cli::print_error(&e.to_string());
                return exit_for(&e);
            }
            for p in &lost {
                out!("forgot {}", p.display());
            }
            out!(
                "{}: the state forgot {} file{} the lake no longer holds",
                flow.name,
                lost.len(),
                if lost.len() == 1 { "" } else { "s" }
            );
            0
        }
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            exit_for(&e)
        }
    }
}

/// Flow files named on the command line: files, or directories whose `*.toml` files are flows.
fn flow_files(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<_> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        return Err("no flow files given (FLOW.toml files or a directory of them)".into());
    }
    Ok(out)
}

pub async fn schedule(
    paths: &[std::path::PathBuf],
    use_sandbox: bool,
    max_concurrent: usize,
    quota: Option<&str>,
) -> u8 {
    let quota = match parse_quota_arg(quota) {
        Ok(q) => q,
        Err(code) => return code,
    };
    let files = match flow_files(paths) {
        Ok(f) => f,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return EXIT_INVALID;
        }
    };
    let sandbox = if use_sandbox {
        match sandbox::start_local(quota).await {
            Ok(s) => Some(s),
            Err(e) => {
                crate::cli::print_error(&format!("--sandbox: {e}"));
                return EXIT_FAILED;
            }
        }
    } else {
        None
    };
    // every flow is looked at: the invalid ones are all reported, the rest run
    let mut flows = Vec::new();
    let mut invalid = 0usize;
    let mut unscheduled = 0usize;
    for f in &files {
        let overrides = match &sandbox {
            Some(s) => {
                match sandbox::overrides_for(s, &Flow::peek_connector(f).unwrap_or_default()) {
                    Ok(o) => o,
                    Err(e) => {
                        crate::cli::print_error(&format!("{}: --sandbox: {e}", f.display()));
                        invalid += 1;
                        continue;
                    }
                }
            }
            None => Overrides::default(),
        };
        let Ok(flow) = load(f, &overrides) else {
            invalid += 1;
            continue;
        };
        if flow.schedule.is_none() {
            crate::cli::print_notice(
                "note",
                &format!(
                    "{}: no [schedule], so not scheduled (add `cron = \"0 * * * *\"`, or the \
                     seeds' frequency and interval, to run it here)",
                    f.display()
                ),
            );
            unscheduled += 1;
            continue;
        }
        if let Err(e) = check_flow(&flow, &registry()) {
            crate::cli::print_error(&e.to_string());
            invalid += 1;
            continue;
        }
        flows.push(flow);
    }
    if flows.is_empty() {
        crate::cli::print_error(&format!(
            "no flow to schedule: {invalid} invalid, {unscheduled} without a [schedule], of {} \
             file{}",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        ));
        return EXIT_INVALID;
    }
    tracing::info!(
        scheduled = flows.len(),
        invalid,
        unscheduled,
        "scheduling {} flow{}",
        flows.len(),
        if flows.len() == 1 { "" } else { "s" }
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop_tx.send(true);
    });
    let runner = std::sync::Arc::new(sluice_runner::scheduler::EngineRunner::new(registry()));
    let clock = std::sync::Arc::new(sluice_runner::scheduler::SystemClock);
    let started =
        sluice_runner::scheduler::run_scheduler(flows, runner, clock, max_concurrent, stop_rx)
            .await;
    out!(
        "scheduler stopped after starting {started} run{}",
        if started == 1 { "" } else { "s" }
    );
    // the flows it could not run still say so in the exit code
    if invalid > 0 {
        EXIT_INVALID
    } else {
        0
    }
}

/// `7d`, `2w` or a bare number of days.
fn parse_window(text: &str) -> Result<u32, String> {
    let t = text.trim().to_ascii_lowercase();
    let (n, unit) = match t.strip_suffix('d') {
        Some(n) => (n, 1),
        None => match t.strip_suffix('w') {
            Some(n) => (n, 7),
            None => (t.as_str(), 1),
        },
    };
    match n.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n * unit),
        _ => Err(format!(
            "--window {text}: use a number of days such as 7d, or weeks such as 2w"
        )),
    }
}

pub struct BackfillArgs<'a> {
    pub flow: &'a Path,
    pub from: &'a str,
    pub to: &'a str,
    pub window: Option<&'a str>,
    pub streams: Option<Vec<String>>,
    pub force: bool,
    pub concurrency: usize,
    pub sandbox: bool,
    pub quota: Option<&'a str>,
    pub shard: Option<&'a str>,
    pub dry_run: bool,
    pub json: bool,
}

pub async fn backfill(args: BackfillArgs<'_>) -> u8 {
    let json = args.json;
    finish(json, backfill_summary(args).await)
}

async fn backfill_summary(args: BackfillArgs<'_>) -> Summary {
    let json = args.json;
    let date = |flag: &str, v: &str| {
        chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
            crate::cli::print_error(&format!("{flag} {v}: expected a date such as 2024-01-31"));
            EXIT_INVALID
        })
    };
    let (from, to) = match (date("--from", args.from), date("--to", args.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(c), _) | (_, Err(c)) => return refused("backfill", c),
    };
    let window_days = match args.window.map(parse_window).transpose() {
        Ok(w) => w,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return refused("backfill", EXIT_INVALID);
        }
    };
    let quota = match parse_quota_arg(args.quota) {
        Ok(q) => q,
        Err(code) => return refused("backfill", code),
    };
    let shard = match parse_shard_arg(args.shard) {
        Ok(s) => s,
        Err(code) => return refused("backfill", code),
    };
    let (_sandbox, mut overrides) = match with_sandbox(args.flow, args.sandbox, quota).await {
        Ok(x) => x,
        Err(code) => return refused("backfill", code),
    };
    overrides.shard = shard;
    let flow = match load(args.flow, &overrides) {
        Ok(f) => f,
        Err(code) => return refused("backfill", code),
    };
    let request = sluice_runner::backfill::BackfillRequest {
        from,
        to,
        window_days,
        streams: args.streams,
        force: args.force,
        concurrency: args.concurrency,
    };
    let registry = registry();
    let plan = match sluice_runner::backfill::plan_backfill(&flow, &registry, &request) {
        Ok(p) => p,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return Summary {
                flow: Some(flow.name.clone()),
                ..refused("backfill", exit_for(&e))
            };
        }
    };
    let described = plan.describe();
    if json {
        // stdout holds the summary alone
        for line in described.lines() {
            crate::cli::print_notice("plan", line);
        }
    } else {
        out!("{}", described.trim_end_matches('\n'));
    }
    if args.dry_run {
        return Summary {
            flow: Some(flow.name.clone()),
            ..Summary::new("backfill", "ok", 0)
        };
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::warn!("stopping: no new windows; committing what is complete");
        let _ = stop_tx.send(true);
    });
    let options = RunOptions {
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        stop: Some(stop_rx),
    };
    match sluice_runner::backfill::run_backfill(&flow, &registry, &plan, options).await {
        Ok(Some(outcome)) => {
            let done = outcome
                .report
                .streams
                .iter()
                .filter(|s| s.completed)
                .count();
            let m = &outcome.report.metrics;
            if !json {
                out!(
                    "{}: backfill {} — {done}/{} window{} completed, {} → {} (report {})",
                    flow.name,
                    outcome.status.as_str(),
                    plan.to_run(),
                    if plan.to_run() == 1 { "" } else { "s" },
                    counts(m),
                    flow.destination.describe(),
                    outcome.report_path.display(),
                );
            }
            for e in &m.status_summary.errors {
                crate::cli::print_error(&format!("{} {}", e.code, e.message));
            }
            print_exhaustion(&outcome);
            let code = if outcome.status == sluice_runner::RunStatus::Interrupted {
                crate::cli::print_notice(
                    "note",
                    &format!(
                        "{}: the backfill stopped before every window was done; what was \
                         complete is committed: run the same command again to finish",
                        flow.name
                    ),
                );
                EXIT_INTERRUPTED
            } else {
                exit_for_status(outcome.status)
            };
            Summary::of_outcome("backfill", &flow.name, &outcome, code)
        }
        Ok(None) => {
            if !json {
                out!(
                    "{}: every window is already done; nothing to do (use --force to pull them again)",
                    flow.name
                );
            }
            Summary {
                flow: Some(flow.name.clone()),
                ..Summary::new("backfill", "nothing_to_do", 0)
            }
        }
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            Summary {
                flow: Some(flow.name.clone()),
                ..refused("backfill", exit_for(&e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_window;

    #[test]
    fn windows_in_days_or_weeks() {
        assert_eq!(parse_window("7d"), Ok(7));
        assert_eq!(parse_window("2w"), Ok(14));
        assert_eq!(parse_window("30"), Ok(30));
        assert!(parse_window("0d").is_err());
        assert!(parse_window("soon").is_err());
    }
}
