//! One run of a flow, `sluice check` and `sluice discover`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sluice_core::{Connector, ConnectorError, Page, PullContext, Registry, StreamSpec, Task};
use sluice_mapping::{compile_with_aliases, identity_mapping_of, CompiledMapping, MappingSet};
use sluice_sinks::Lake;
use sluice_state::{LockGuard, LockOwner, StateError, StateStore};
use tokio::sync::{mpsc, watch};

use crate::consume::{consume, recover, ConsumeError, SinkContext};
use crate::flow::Flow;
use crate::report::{
    DurationSummary, ErrorEntry, FileSummary, Metrics, RecordSummary, RunReport, RunStatus,
    SizeSummary, StatusSummary, StreamReport,
};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Locked(StateError),
    #[error(transparent)]
    State(StateError),
    #[error("{0}")]
    Io(String),
    /// The state and the lake disagree; nothing was requested or written.
    #[error("{0}")]
    Disagrees(String),
}

impl RunError {
    /// A stable code for run reports, in the seeds' style.
    pub fn code(&self) -> &'static str {
        match self {
            RunError::Config(_) => "CONFIG-1000-400",
            RunError::Connector(e) => e.code(),
            RunError::Locked(_) => "STATE-4002-409",
            RunError::State(_) => "STATE-4001-500",
            RunError::Io(_) => "SINK-3003-500",
            RunError::Disagrees(_) => "STATE-4003-409",
        }
    }
}

impl From<StateError> for RunError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Locked { .. } => RunError::Locked(e),
            other => RunError::State(other),
        }
    }
}

#[derive(Default)]
pub struct RunOptions {
    /// Draw a progress line on stderr.
    pub progress: bool,
    /// Flips to `true` when the run should stop (SIGINT/SIGTERM): no new pages are requested,
    /// and what is complete is committed.
    pub stop: Option<watch::Receiver<bool>>,
}

pub struct RunOutcome {
    pub report: RunReport,
    pub report_path: PathBuf,
    pub status: RunStatus,
    /// When a quota ran out: which, and when the flow may run again.
    pub exhausted: Option<Exhaustion>,
}

pub(crate) struct Prepared {
    pub connector: Arc<dyn Connector>,
    pub streams: Vec<(StreamSpec, Arc<CompiledMapping>)>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

/// The state database as the connector's key-value store (a rotated refresh token). Its values
/// belong to no one flow: every flow of the database that uses one OAuth grant must see the
/// token the last of them received, since a vendor that rotates tokens retires the one sent.
struct StateValues {
    location: sluice_state::StateLocation,
}

/// The pseudo-flow the shared values are kept under (not a valid flow name).
pub(crate) const SHARED_VALUES: &str = ":shared";

impl sluice_core::KeyValueStore for StateValues {
    fn load(&self, key: &str) -> Option<String> {
        // a read never creates the store (a dry run, a flow that never ran)
        if !self.location.exists() {
            return None;
        }
        let store = self.location.open().ok()?;
        match store.checkpoint(SHARED_VALUES, key).ok()?? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    fn save(&self, key: &str, value: &str) -> Result<(), String> {
        self.location
            .open()
            .and_then(|s| s.put_value(SHARED_VALUES, key, &Value::String(value.to_string())))
            .map_err(|e| e.to_string())
    }
}

/// Build the connector and compile each stream's mapping. `with_state` gives the connector the
/// flow's state store (not for `sluice check`, which writes nothing).
pub(crate) fn prepare_with(
    flow: &Flow,
    registry: &Registry,
    with_state: bool,
) -> Result<Prepared, RunError> {
    let mut config = flow.connector_config.clone();
    if with_state {
        config.store = Some(sluice_core::StateHandle(Arc::new(StateValues {
            location: flow.state.clone(),
        })));
    }
    let connector = registry
        .build(&flow.connector, &config)
        .map_err(|e| RunError::Config(format!("{}: {e}", flow.file.display())))?;
    let offered = connector.streams();
    let names: Vec<String> = match &flow.streams {
        Some(s) if s.iter().any(|n| n == "*") => offered.iter().map(|s| s.name.clone()).collect(),
        Some(s) => s.clone(),
        None => connector.default_streams(),
    };
    let set = match &flow.mapping_file {
        Some(path) => Some((
            path.display().to_string(),
            MappingSet::from_file(path).map_err(|e| RunError::Config(e.to_string()))?,
        )),
        None => None,
    };
    let mut streams = Vec::new();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    for name in names {
        let spec =
            offered
                .iter()
                .find(|s| s.name == name)
                .cloned()
                .ok_or_else(|| {
                    RunError::Config(format!(
                "{}: source.streams: `{name}` is not a stream of connector `{}`; it offers: {}",
                flow.file.display(),
                flow.connector,
                offered.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
                })?;
        let (file, set) = match &set {
            Some((f, s)) => (f.clone(), s.clone()),
            None => (
                format!("identity mapping of `{name}`"),
                identity_mapping_of(&spec.schema, spec.default_fields.as_deref()),
            ),
        };
        let outcome = compile_with_aliases(&file, &set, Some(&spec.schema), &spec.aliases)
            .map_err(|e| RunError::Config(e.to_string()))?;
        for w in outcome.warnings {
            warnings.push(format!("{file}: {w}"));
        }
        for n in outcome.notes {
            notes.push(format!("{file}: {n}"));
        }
        streams.push((
            spec,
            Arc::new(outcome.mapping.with_max_value_bytes(flow.max_value_bytes)),
        ));
    }
    Ok(Prepared {
        connector,
        streams,
        warnings,
        notes,
    })
}

/// Build the connector and compile the mappings for a run (with the state store).
pub(crate) fn prepare(flow: &Flow, registry: &Registry) -> Result<Prepared, RunError> {
    prepare_with(flow, registry, true)
}

/// What `sluice check` found: the flow is valid; these are the warnings and the output shape.
pub struct CheckReport {
    pub warnings: Vec<String>,
    /// Aliases applied and the like: worth knowing, nothing to fix.
    pub notes: Vec<String>,
    pub streams: Vec<(String, arrow_schema::SchemaRef)>,
}

/// Validate a flow and its mapping set without any network access.
pub fn check_flow(flow: &Flow, registry: &Registry) -> Result<CheckReport, RunError> {
    let p = prepare_with(flow, registry, false)?;
    // an object store's URL and options are checked here; credentials only on first use
    let lake = flow
        .destination
        .lake()
        .map_err(|e| RunError::Config(format!("{}: destination: {e}", flow.file.display())))?;
    let mut notes = p.notes;
    if lake.is_remote() {
        notes.push(format!(
            "files go to {}; state and staged files stay in {}",
            lake.describe(),
            flow.destination.path.display()
        ));
    }
    Ok(CheckReport {
        warnings: p.warnings,
        notes,
        streams: p
            .streams
            .iter()
            .map(|(s, m)| (s.name.clone(), m.schema()))
            .collect(),
    })
}

fn new_run_id(now: DateTime<Utc>) -> String {
    format!(
        "{}-{:04x}",
        now.format("%Y%m%dT%H%M%S%3fZ"),
        fastrand::u16(..)
    )
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let io = |e: std::io::Error| RunError::Io(format!("cannot write {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

fn relative(dest: &Path, p: &Path) -> String {
    p.strip_prefix(dest).unwrap_or(p).display().to_string()
}

/// One task to run: a stream (incremental) or a stream's window (backfill).
pub(crate) struct TaskSpec {
    pub stream: StreamSpec,
    pub mapping: Arc<CompiledMapping>,
    pub task: Task,
    /// The task's key in the state store.
    pub key: String,
    pub replaces: Vec<PathBuf>,
    /// A backfill window: its days are recorded in the windows table.
    pub backfill: bool,
    /// The checkpoint the engine commits when the task completes (a day stream's position),
    /// instead of the connector's.
    pub final_checkpoint: Option<Value>,
}

/// What one task did.
struct TaskResult {
    report: StreamReport,
    input_bytes: u64,
    output_bytes: u64,
    error: Option<(ErrorEntry, RunStatus)>,
    interrupted: bool,
    exhausted: Option<Exhaustion>,
}

/// A quota spent for longer than the run may wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhaustion {
    pub quota: String,
    pub resume_at: DateTime<Utc>,
}

/// Shared by every task of one run.
pub(crate) struct RunContext<'a> {
    pub flow: &'a Flow,
    pub lake: Arc<Lake>,
    /// The streams' Delta tables, when the flow writes them.
    pub delta: Option<Arc<sluice_sinks::DeltaTables>>,
    pub connector: Arc<dyn Connector>,
    pub run_id: String,
    pub started: DateTime<Utc>,
    /// The lock (and the history's mode) of this run: `run` or `backfill` (each holds its own
    /// lock), with its shard if it has one.
    pub lock_mode: String,
    pub tmp_root: PathBuf,
    pub rejects_path: PathBuf,
    pub progress_line: bool,
    pub counters: Option<Arc<crate::progress::Counters>>,
    /// Held until the run is over; the kernel releases it if the process dies.
    pub lock: Arc<LockGuard>,
}

async fn run_task(
    ctx: &RunContext<'_>,
    spec: TaskSpec,
    mut stop: Option<watch::Receiver<bool>>,
) -> Result<TaskResult, RunError> {
    let flow = ctx.flow;
    let mut store = flow.state.open()?;
    let checkpoint = store.checkpoint(&flow.name, &spec.key)?;
    // without a mapping set, a stream with custom properties writes every field it sees,
    // under the flow's schema policy
    let open = spec.stream.schema.open_paths();
    // declared fields a flow does not read are never "new"
    let declared: std::collections::BTreeSet<String> =
        spec.stream.schema.leaf_paths().into_iter().collect();
    let (mapping, dynamic) = if flow.mapping_file.is_none() && !open.is_empty() {
        let stored =
            store.checkpoint(&flow.name, &crate::consume::columns_key(&spec.stream.name))?;
        let accepted = stored
            .as_ref()
            .map(crate::schema_policy::accepted_from_json)
            .unwrap_or_default();
        let added: Vec<(String, String, sluice_mapping::ValueType)> = accepted
            .iter()
            .map(|(src, ty)| {
                (
                    src.clone(),
                    sluice_mapping::identity_destination(&spec.stream.schema, src),
                    ty.clone(),
                )
            })
            .collect();
        let mapping = spec
            .mapping
            .with_columns(&added)
            .track_unknown_fields(&open, &declared);
        let dynamic = crate::schema_policy::DynamicColumns {
            stream: spec.stream.name.clone(),
            policy: flow.schema_policy,
            first_pull: stored.is_none(),
            schema: spec.stream.schema.clone(),
            accepted,
        };
        (Arc::new(mapping), Some(dynamic))
    } else if spec.stream.schema.open {
        // a mapped flow over records that grow columns lists the new ones it does not read
        let mapping = (*spec.mapping)
            .clone()
            .track_unknown_fields(&[String::new()], &declared);
        (Arc::new(mapping), None)
    } else {
        (spec.mapping.clone(), None)
    };
    if let Some(delta) = &ctx.delta {
        // the mapping against the table as it is now: a column Delta cannot hold, or whose
        // type differs from the table's, is refused before anything is pulled
        if let Err(e) = delta.check_schema(&spec.stream.name, &mapping.schema()) {
            return Err(RunError::Config(format!(
                "{}: stream `{}`: {e}",
                flow.file.display(),
                spec.stream.name
            )));
        }
    }
    let (tx, rx) = mpsc::channel::<Page>(2);
    let connector = ctx.connector.clone();
    let pull_ctx = PullContext {
        task: spec.task.clone(),
        checkpoint,
        run_started: ctx.started,
        fields: mapping.source_paths(),
        pages: tx,
    };
    let mut pull = tokio::spawn(async move { connector.pull(pull_ctx).await });
    let sink = SinkContext {
        run_id: ctx.run_id.clone(),
        flow: flow.name.clone(),
        stream: spec.stream.name.clone(),
        task: spec.key.clone(),
        slice: spec.task.slice.clone(),
        window: spec
            .task
            .window
            .filter(|_| spec.backfill)
            .map(|w| (w.from, w.to)),
        pulled_days: spec.task.window.map(|w| (w.from, w.to)),
        final_checkpoint: spec.final_checkpoint.clone(),
        day_partitioned: spec.stream.day_partitioned,
        replaces: spec.replaces,
        counters: ctx.counters.clone(),
        lock: ctx.lock.clone(),
        dest: flow.destination.path.clone(),
        lake: ctx.lake.clone(),
        delta: ctx.delta.clone(),
        tmp_dir: ctx.tmp_root.join(&ctx.run_id),
        run_date: ctx.started.date_naive(),
        file_rows: flow.destination.file_rows,
        format: flow.destination.format,
        parquet: flow.destination.parquet,
        threshold: flow.error_threshold,
        mapping,
        dynamic,
        rejects_path: ctx.rejects_path.clone(),
        progress: ctx.progress_line,
    };
    let consumer = tokio::task::spawn_blocking(move || consume(rx, &sink, &mut store));
    let interrupted = async {
        match stop.as_mut() {
            Some(s) => {
                let _ = s.wait_for(|v| *v).await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let mut was_interrupted = false;
    let pull_result = tokio::select! {
        r = &mut pull => match r {
            Ok(r) => r,
            Err(e) => Err(ConnectorError::Api { status: None, message: format!("connector task failed: {e}") }),
        },
        _ = interrupted => {
            pull.abort();
            was_interrupted = true;
            Err(ConnectorError::Stopped)
        }
    };
    let (totals, consume_result) = consumer
        .await
        .map_err(|e| RunError::Io(format!("writer thread failed: {e}")))?;
    let task_name = &spec.key;
    let exhausted = match &pull_result {
        Err(ConnectorError::QuotaExhausted {
            quota, resume_at, ..
        }) => Some(Exhaustion {
            quota: quota.clone(),
            resume_at: *resume_at,
        }),
        _ => None,
    };
    let error = match (&consume_result, pull_result) {
        (Err(e), _) => Some((
            ErrorEntry {
                code: e.code().into(),
                message: format!("task `{task_name}`: {e}"),
            },
            match e {
                ConsumeError::Threshold { .. } => RunStatus::ThresholdExceeded,
                _ => RunStatus::Failed,
            },
        )),
        (Ok(()), Err(ConnectorError::Stopped)) if was_interrupted => None,
        (Ok(()), Err(e)) => Some((
            ErrorEntry {
                code: e.code().into(),
                message: format!("task `{task_name}`: {e}"),
            },
            if matches!(e, ConnectorError::QuotaExhausted { .. }) {
                RunStatus::QuotaExhausted
            } else {
                RunStatus::Failed
            },
        )),
        (Ok(()), Ok(())) => None,
    };
    if totals.completed {
        if let Some(c) = &ctx.counters {
            c.window_done();
        }
    }
    let dest = &flow.destination.path;
    Ok(TaskResult {
        report: StreamReport {
            stream: spec.stream.name.clone(),
            task: spec.key.clone(),
            record_summary: RecordSummary {
                input_record_count: totals.input,
                output_record_count: totals.output,
                failed_record_count: totals.failed,
                skipped_record_count: totals.skipped,
            },
            pages: totals.pages,
            files: totals.files.iter().map(|f| relative(dest, f)).collect(),
            completed: totals.completed,
            added_fields: totals.added_fields,
            ignored_fields: totals.ignored_fields,
            unmapped_fields: totals.unmapped_fields,
            notes: totals.notes,
        },
        input_bytes: totals.input_bytes,
        output_bytes: totals.output_bytes,
        error,
        interrupted: was_interrupted,
        exhausted,
    })
}

/// Start a run: lock the flow (per mode), finish what a crashed run left, compare the state with
/// the lake, and build the context. The run is recorded in the history only by [`execute`], so
/// a caller that stops here (the lake lost files, say) leaves no trace but its message.
pub(crate) struct Begun<'a> {
    pub ctx: RunContext<'a>,
    pub store: StateStore,
    pub errors: Vec<ErrorEntry>,
    /// Committed files the lake no longer holds.
    pub lost: Vec<sluice_state::ManifestFile>,
}

pub(crate) fn begin<'a>(
    flow: &'a Flow,
    connector: Arc<dyn Connector>,
    mode: &'static str,
    progress_line: bool,
    streams: &[StreamSpec],
) -> Result<Begun<'a>, RunError> {
    let started = Utc::now();
    let run_id = new_run_id(started);
    let dest = flow.destination.path.clone();
    let lake = Arc::new(
        flow.destination
            .lake()
            .map_err(|e| RunError::Config(format!("{}: destination: {e}", flow.file.display())))?,
    );
    // a fresh machine (an empty work dir), or one that ran the flow less recently than
    // another, starts from the lake's copy of the state
    crate::lake_state::sync_from_lake(&lake, &flow.state, &flow.name)?;
    let store = flow.state.open()?;
    let locks = flow.state.locks();
    let lock_mode = flow
        .shard
        .map_or_else(|| mode.to_string(), |s| s.lock_mode(mode));
    let lock = locks.acquire(
        &flow.name,
        &lock_mode,
        &LockOwner::current(&run_id, &started.to_rfc3339()),
    )?;
    let tmp_root = dest.join("_sluice").join("tmp").join(&flow.name);
    let mut errors = Vec::new();
    // the lake's copy first: recovery promotes and deletes what this state says, and a
    // machine that starts from the lake's copy must know it too
    if !store.pending_files(&flow.name)?.is_empty() || !store.doomed_files(&flow.name)?.is_empty() {
        if let Err(e) = crate::lake_state::publish(&store, &lake, &flow.name) {
            return Err(RunError::Io(format!(
                "cannot copy the flow's state to {} before finishing an interrupted commit: {e}",
                lake.describe()
            )));
        }
    }
    let delta = flow
        .destination
        .delta
        .then(|| Arc::new(sluice_sinks::DeltaTables::new(lake.clone(), dest.clone())));
    match recover(
        &store,
        locks.as_ref(),
        &lake,
        delta.as_deref(),
        &flow.name,
        &tmp_root,
    ) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            files = n,
            "finished promoting files an interrupted run had committed"
        ),
        Err(e) => errors.push(ErrorEntry {
            code: e.code().into(),
            message: e.to_string(),
        }),
    }
    let lost = crate::agreement::lost_files(flow, &store, &lake, streams)?;
    Ok(Begun {
        ctx: RunContext {
            flow,
            lake,
            delta,
            connector,
            rejects_path: dest.join("_runs").join(format!("rejects-{run_id}.jsonl")),
            run_id,
            started,
            lock_mode,
            tmp_root,
            progress_line,
            counters: None,
            lock: Arc::new(lock),
        },
        store,
        errors,
        lost,
    })
}

/// Run `tasks` (at most `concurrency` at a time), then write the report and finish the run.
pub(crate) async fn execute(
    ctx: RunContext<'_>,
    mut store: StateStore,
    mut errors: Vec<ErrorEntry>,
    tasks: Vec<TaskSpec>,
    concurrency: usize,
    stop: Option<watch::Receiver<bool>>,
    mut warnings: Vec<String>,
) -> Result<RunOutcome, RunError> {
    use futures::StreamExt;
    store.begin_run(
        &ctx.run_id,
        &ctx.flow.name,
        &ctx.lock_mode,
        &ctx.started.to_rfc3339(),
        std::process::id(),
    )?;
    tracing::info!(flow = %ctx.flow.name, run = %ctx.run_id, mode = %ctx.lock_mode, destination = %ctx.lake.describe(), "run started");
    let mut status = if errors.is_empty() {
        RunStatus::Success
    } else {
        RunStatus::Failed
    };
    let mut results = Vec::new();
    // once a quota is spent, no further task starts: each would only meet the same wall
    let spent = std::sync::atomic::AtomicBool::new(false);
    if status == RunStatus::Success {
        let ctx_ref = &ctx;
        let stop_ref = &stop;
        let spent_ref = &spent;
        let mut stream = futures::stream::iter(tasks)
            .map(|spec| async move {
                if stop_ref.as_ref().is_some_and(|s| *s.borrow())
                    || spent_ref.load(std::sync::atomic::Ordering::SeqCst)
                {
                    return Ok(None);
                }
                let r = run_task(ctx_ref, spec, stop_ref.clone()).await;
                if matches!(&r, Ok(t) if t.exhausted.is_some()) {
                    spent_ref.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                r.map(Some)
            })
            .buffered(concurrency.max(1));
        while let Some(r) = stream.next().await {
            match r {
                Ok(Some(r)) => results.push(r),
                Ok(None) if spent.load(std::sync::atomic::Ordering::SeqCst) => {}
                Ok(None) => status = RunStatus::Interrupted,
                // the run goes on to its report: a failure never leaves it `running`
                Err(e) => {
                    errors.push(ErrorEntry {
                        code: e.code().into(),
                        message: e.to_string(),
                    });
                    status = RunStatus::Failed;
                }
            }
        }
    }
    let flow = ctx.flow;
    let dest = flow.destination.path.clone();
    // staged files whose promotion is committed but failed (an upload that did not go
    // through) stay for the next run to finish; the rest of the run's staging goes
    let run_tmp = ctx.tmp_root.join(&ctx.run_id);
    let unpromoted = store
        .pending_files(&flow.name)
        .map_or(true, |p| p.iter().any(|f| f.temp.starts_with(&run_tmp)));
    if unpromoted {
        tracing::warn!(dir = %run_tmp.display(), "committed files are not in the lake yet; the next run finishes them");
    } else {
        let _ = std::fs::remove_dir_all(&run_tmp);
    }
    let mut record_summary = RecordSummary::default();
    let (mut pages, mut bytes_in, mut bytes_out, mut files) = (0u64, 0u64, 0u64, 0u64);
    let mut stream_reports = Vec::new();
    let exhausted = results
        .iter()
        .filter_map(|r| r.exhausted.clone())
        .max_by_key(|e| e.resume_at);
    for r in results {
        if let Some((entry, s)) = r.error {
            errors.push(entry);
            if status == RunStatus::Success || status == RunStatus::Interrupted {
                status = s;
            }
        }
        if r.interrupted && status == RunStatus::Success {
            status = RunStatus::Interrupted;
        }
        record_summary.input_record_count += r.report.record_summary.input_record_count;
        record_summary.output_record_count += r.report.record_summary.output_record_count;
        record_summary.failed_record_count += r.report.record_summary.failed_record_count;
        record_summary.skipped_record_count += r.report.record_summary.skipped_record_count;
        pages += r.report.pages;
        bytes_in += r.input_bytes;
        bytes_out += r.output_bytes;
        files += r.report.files.len() as u64;
        if !r.report.unmapped_fields.is_empty() {
            warnings.push(format!(
                "stream `{}`: the source sent fields the mapping set does not read: {}; map \
                 them to keep them",
                r.report.stream,
                r.report.unmapped_fields.join(", ")
            ));
        }
        stream_reports.push(r.report);
    }
    // errors may quote a vendor's body: the report and the history keep no secret
    for e in &mut errors {
        e.message = sluice_core::redact(&e.message).into_owned();
    }
    let warnings: Vec<String> = warnings
        .iter()
        .map(|w| sluice_core::redact(w).into_owned())
        .collect();
    let completed = Utc::now();
    let failed = record_summary.failed_record_count;
    let report = RunReport {
        id: ctx.run_id.clone(),
        flow_name: flow.name.clone(),
        flow_file: flow.file.display().to_string(),
        connector: flow.connector.clone(),
        destination: ctx.lake.describe(),
        metrics: Metrics {
            duration_summary: DurationSummary {
                started_at_utc: ctx.started.timestamp_millis(),
                completed_at_utc: completed.timestamp_millis(),
            },
            size_summary: SizeSummary {
                input_bytes: bytes_in,
                output_bytes: bytes_out,
            },
            record_summary,
            file_summary: FileSummary {
                input_file_count: pages,
                output_file_count: files,
            },
            status_summary: StatusSummary {
                status,
                errors,
                resume_at: exhausted.as_ref().map(|e| e.resume_at.to_rfc3339()),
                exhausted_quota: exhausted.as_ref().map(|e| e.quota.clone()),
            },
        },
        requests: ctx.connector.request_metrics(),
        streams: stream_reports,
        warnings,
        rejects_file: (failed > 0).then(|| relative(&dest, &ctx.rejects_path)),
    };
    let mut report = report;
    let report_path = dest.join("_runs").join(format!("{}.json", ctx.run_id));
    let written = write_atomically(
        &report_path,
        &serde_json::to_vec_pretty(&report).unwrap_or_default(),
    );
    if let Err(e) = &written {
        // a full or read-only disk: the history still says how the run ended
        status = RunStatus::Failed;
        report.metrics.status_summary.status = status;
        report.metrics.status_summary.errors.push(ErrorEntry {
            code: e.code().into(),
            message: e.to_string(),
        });
    }
    let report_json = serde_json::to_value(&report).unwrap_or(Value::Null);
    // an object store keeps the run's report and rejects beside its data (the local copies
    // are what `sluice runs` reads); a local lake already has them in place
    for p in [&report_path, &ctx.rejects_path] {
        if p.exists() {
            if let Err(e) = ctx.lake.publish(p) {
                tracing::warn!(file = %p.display(), error = %e, "could not copy to the lake; the local copy stays");
            }
        }
    }
    store.finish_run(
        &ctx.run_id,
        status.as_str(),
        &completed.to_rfc3339(),
        &report_json,
    )?;
    // the lake's copy of the state ends with the run too (its history, promotions finished)
    if let Err(e) = crate::lake_state::publish(&store, &ctx.lake, &flow.name) {
        tracing::warn!(error = %e, "could not copy the state to the lake; the next commit does");
    }
    written?;
    let m = &report.metrics.record_summary;
    tracing::info!(flow = %flow.name, run = %ctx.run_id, status = status.as_str(), records_in = m.input_record_count, records_out = m.output_record_count, failed = m.failed_record_count, "run finished");
    Ok(RunOutcome {
        report,
        report_path,
        status,
        exhausted,
    })
}

/// The position of a day stream: the last day pulled after it had ended.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct DaysState {
    complete_through: Option<chrono::NaiveDate>,
}

/// The days an incremental run of a day stream pulls: since the last complete day, plus the
/// lookback (or the initial days on a first run), through today; and the position to commit
/// when they are in.
fn days_to_pull(
    state: &DaysState,
    lookback: u32,
    initial: u32,
    last_complete: chrono::NaiveDate,
) -> (sluice_core::DayWindow, Value) {
    use chrono::Days;
    let today = last_complete + Days::new(1);
    let from = match state.complete_through {
        None => today - Days::new(u64::from(initial.max(1)) - 1),
        Some(c) => (c + Days::new(1) - Days::new(u64::from(lookback))).min(today),
    };
    let through = state
        .complete_through
        .map_or(last_complete, |c| c.max(last_complete));
    (
        sluice_core::DayWindow { from, to: today },
        serde_json::json!({ "complete_through": through }),
    )
}

/// The tasks of an incremental run: one per stream and slice, from each one's checkpoint; a
/// day stream's task is the window of days to pull.
pub(crate) fn incremental_tasks(
    flow: &Flow,
    prepared: &Prepared,
    store: Option<&StateStore>,
) -> Result<Vec<TaskSpec>, RunError> {
    let last_complete = prepared.connector.last_complete_day(Utc::now());
    let mut tasks = Vec::new();
    for (spec, mapping) in &prepared.streams {
        for slice in prepared.connector.slices(spec) {
            let mut task = Task {
                stream: spec.name.clone(),
                slice,
                window: None,
            };
            let key = task.key(false);
            if flow.shard.is_some_and(|s| !s.owns(&key)) {
                continue;
            }
            let mut final_checkpoint = None;
            if let sluice_core::SyncMode::Days {
                lookback_days,
                initial_days,
            } = spec.sync
            {
                let state: DaysState = match store {
                    Some(s) => s
                        .checkpoint(&flow.name, &key)?
                        .and_then(|v| serde_json::from_value(v).ok())
                        .unwrap_or_default(),
                    None => DaysState::default(),
                };
                let (window, position) = days_to_pull(
                    &state,
                    flow.lookback_days.unwrap_or(lookback_days),
                    flow.initial_days.unwrap_or(initial_days),
                    last_complete,
                );
                task.window = Some(window);
                final_checkpoint = Some(position);
            }
            tasks.push(TaskSpec {
                stream: spec.clone(),
                mapping: mapping.clone(),
                task,
                key,
                replaces: Vec::new(),
                backfill: false,
                final_checkpoint,
            });
        }
    }
    Ok(tasks)
}

/// An incremental run: one task per stream and slice, from each one's stored checkpoint.
pub async fn run_flow(
    flow: &Flow,
    registry: &Registry,
    options: RunOptions,
) -> Result<RunOutcome, RunError> {
    let prepared = prepare(flow, registry)?;
    for w in &prepared.warnings {
        tracing::warn!("{w}");
    }
    let specs: Vec<StreamSpec> = prepared.streams.iter().map(|(s, _)| s.clone()).collect();
    let begun = begin(
        flow,
        prepared.connector.clone(),
        "run",
        options.progress,
        &specs,
    )?;
    let tasks = incremental_tasks(flow, &prepared, Some(&begun.store))?;
    // a day stream's run pulls its recent days whole: their lost files are replaced by it
    let last_complete = prepared.connector.last_complete_day(Utc::now());
    let lost: Vec<_> = begun
        .lost
        .iter()
        .filter(|f| {
            !tasks.iter().any(|t| {
                t.stream.day_partitioned
                    && t.task.window.is_some_and(|w| {
                        crate::agreement::restores(f, &t.task.stream, &t.task.slice, w, w.to)
                    })
            })
        })
        .cloned()
        .collect();
    if !lost.is_empty() {
        return Err(crate::agreement::lost_error(flow, &lost, last_complete));
    }
    execute(
        begun.ctx,
        begun.store,
        begun.errors,
        tasks,
        1,
        options.stop,
        prepared.warnings,
    )
    .await
}

/// Pull the first page(s) of a stream, without state or writes, as the seeds' explore call
/// shows a source: its schema and a preview of records.
pub async fn discover(
    flow: &Flow,
    registry: &Registry,
    stream: Option<&str>,
    limit: usize,
) -> Result<Value, RunError> {
    let connector = registry
        .build(&flow.connector, &flow.connector_config)
        .map_err(|e| RunError::Config(format!("{}: {e}", flow.file.display())))?;
    let offered = connector.streams();
    let wanted = stream
        .map(str::to_string)
        .or_else(|| flow.streams.as_ref().and_then(|s| s.first().cloned()))
        .or_else(|| offered.first().map(|s| s.name.clone()))
        .ok_or_else(|| RunError::Config("the connector offers no streams".into()))?;
    let spec = offered
        .iter()
        .find(|s| s.name == wanted)
        .cloned()
        .ok_or_else(|| {
            RunError::Config(format!(
                "`{wanted}` is not a stream of connector `{}`",
                flow.connector
            ))
        })?;
    let (tx, mut rx) = mpsc::channel::<Page>(1);
    let last_complete = connector.last_complete_day(Utc::now());
    let window = match spec.sync {
        // a preview of the last days
        sluice_core::SyncMode::Days { .. } => Some(sluice_core::DayWindow {
            from: last_complete,
            to: last_complete + chrono::Days::new(1),
        }),
        _ => None,
    };
    let pull_ctx = PullContext {
        task: Task {
            stream: spec.name.clone(),
            slice: connector
                .slices(&spec)
                .into_iter()
                .next()
                .unwrap_or_default(),
            window,
        },
        checkpoint: None,
        run_started: Utc::now(),
        fields: Vec::new(),
        pages: tx,
    };
    let c = connector.clone();
    let pull = tokio::spawn(async move { c.pull(pull_ctx).await });
    let mut data = Vec::new();
    while data.len() < limit {
        let Some(page) = rx.recv().await else { break };
        page.records.for_each_line(|line| {
            data.push(serde_json::from_slice::<Value>(line).unwrap_or(Value::Null));
            data.len() < limit
        });
        if page.completes_task {
            break;
        }
    }
    drop(rx);
    match pull.await {
        Ok(Err(e)) if !matches!(e, ConnectorError::Stopped) => return Err(e.into()),
        _ => {}
    }
    Ok(json!({
        "stream": spec.name,
        "primaryKey": spec.primary_key,
        "cursorField": spec.cursor_field,
        "format": "hierarchical",
        "schema": spec.schema.to_json_schema(),
        "data": data,
    }))
}
