//! One run of a flow, `sluice check` and `sluice discover`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sluice_core::{Connector, ConnectorError, Page, PullContext, Registry, StreamSpec, Task};
use sluice_mapping::{compile, identity_mapping, CompiledMapping, MappingSet};
use sluice_state::{StateError, StateStore};
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
}

struct Prepared {
    connector: Arc<dyn Connector>,
    streams: Vec<(StreamSpec, Arc<CompiledMapping>)>,
    warnings: Vec<String>,
}

fn prepare(flow: &Flow, registry: &Registry) -> Result<Prepared, RunError> {
    let connector = registry
        .build(&flow.connector, &flow.connector_config)
        .map_err(|e| RunError::Config(format!("{}: {e}", flow.file.display())))?;
    let offered = connector.streams();
    let names: Vec<String> = match &flow.streams {
        Some(s) => s.clone(),
        None => offered.iter().map(|s| s.name.clone()).collect(),
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
                identity_mapping(&spec.schema),
            ),
        };
        let outcome = compile(&file, &set, Some(&spec.schema))
            .map_err(|e| RunError::Config(e.to_string()))?;
        for w in outcome.warnings {
            warnings.push(format!("{file}: {w}"));
        }
        streams.push((spec, Arc::new(outcome.mapping)));
    }
    Ok(Prepared {
        connector,
        streams,
        warnings,
    })
}

/// What `sluice check` found: the flow is valid; these are the warnings and the output shape.
pub struct CheckReport {
    pub warnings: Vec<String>,
    pub streams: Vec<(String, arrow_schema::SchemaRef)>,
}

/// Validate a flow and its mapping set without any network access.
pub fn check_flow(flow: &Flow, registry: &Registry) -> Result<CheckReport, RunError> {
    let p = prepare(flow, registry)?;
    Ok(CheckReport {
        warnings: p.warnings,
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

pub async fn run_flow(
    flow: &Flow,
    registry: &Registry,
    options: RunOptions,
) -> Result<RunOutcome, RunError> {
    let prepared = prepare(flow, registry)?;
    for w in &prepared.warnings {
        tracing::warn!("{w}");
    }
    let started = Utc::now();
    let run_id = new_run_id(started);
    let dest = flow.destination.path.clone();
    let mut store = StateStore::open(&flow.state_path)?;
    store.begin_run(
        &run_id,
        &flow.name,
        &started.to_rfc3339(),
        std::process::id(),
    )?;
    let tmp_root = dest.join("_sluice").join("tmp").join(&flow.name);
    let runs_dir = dest.join("_runs");
    let rejects_path = runs_dir.join(format!("rejects-{run_id}.jsonl"));
    tracing::info!(flow = %flow.name, run = %run_id, destination = %dest.display(), "run started");

    let mut errors: Vec<ErrorEntry> = Vec::new();
    let mut status = RunStatus::Success;
    let mut stream_reports = Vec::new();
    let (
        mut totals_in,
        mut totals_out,
        mut totals_failed,
        mut pages,
        mut bytes_in,
        mut bytes_out,
        mut files,
    ) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);

    match recover(&store, &flow.name, &tmp_root, &run_id) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            files = n,
            "finished promoting files an interrupted run had committed"
        ),
        Err(e) => {
            errors.push(ErrorEntry {
                code: e.code().into(),
                message: e.to_string(),
            });
            status = RunStatus::Failed;
        }
    }

    let mut stop = options.stop.clone();
    if status == RunStatus::Success {
        for (spec, mapping) in &prepared.streams {
            if stop.as_ref().is_some_and(|s| *s.borrow()) {
                status = RunStatus::Interrupted;
                break;
            }
            let checkpoint = store.checkpoint(&flow.name, &spec.name)?;
            let (tx, rx) = mpsc::channel::<Page>(2);
            let connector = prepared.connector.clone();
            let pull_ctx = PullContext {
                task: Task {
                    stream: spec.name.clone(),
                    window: None,
                },
                checkpoint,
                run_started: started,
                pages: tx,
            };
            let mut pull = tokio::spawn(async move { connector.pull(pull_ctx).await });
            let ctx = SinkContext {
                run_id: run_id.clone(),
                flow: flow.name.clone(),
                stream: spec.name.clone(),
                dest: dest.clone(),
                tmp_dir: tmp_root.join(&run_id),
                run_date: started.date_naive(),
                file_rows: flow.destination.file_rows,
                parquet: flow.destination.parquet,
                threshold: flow.error_threshold,
                mapping: mapping.clone(),
                rejects_path: rejects_path.clone(),
                progress: options.progress,
            };
            let consumer = tokio::task::spawn_blocking(move || {
                let r = consume(rx, &ctx, &mut store);
                (store, r)
            });
            let interrupted = async {
                match stop.as_mut() {
                    Some(s) => {
                        let _ = s.wait_for(|v| *v).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let pull_result = tokio::select! {
                r = &mut pull => match r {
                    Ok(r) => r,
                    Err(e) => Err(ConnectorError::Api { status: None, message: format!("connector task failed: {e}") }),
                },
                _ = interrupted => {
                    pull.abort();
                    status = RunStatus::Interrupted;
                    Err(ConnectorError::Stopped)
                }
            };
            let (returned_store, (totals, consume_result)) = consumer
                .await
                .map_err(|e| RunError::Io(format!("writer thread failed: {e}")))?;
            store = returned_store;
            match (&consume_result, pull_result) {
                (Err(e), _) => {
                    errors.push(ErrorEntry {
                        code: e.code().into(),
                        message: format!("stream `{}`: {e}", spec.name),
                    });
                    if status == RunStatus::Success {
                        status = match e {
                            ConsumeError::Threshold { .. } => RunStatus::ThresholdExceeded,
                            _ => RunStatus::Failed,
                        };
                    }
                }
                (Ok(()), Err(ConnectorError::Stopped)) if status == RunStatus::Interrupted => {}
                (Ok(()), Err(e)) => {
                    errors.push(ErrorEntry {
                        code: e.code().into(),
                        message: format!("stream `{}`: {e}", spec.name),
                    });
                    status = RunStatus::Failed;
                }
                (Ok(()), Ok(())) => {}
            }
            totals_in += totals.input;
            totals_out += totals.output;
            totals_failed += totals.failed;
            pages += totals.pages;
            bytes_in += totals.input_bytes;
            bytes_out += totals.output_bytes;
            files += totals.files.len() as u64;
            stream_reports.push(StreamReport {
                stream: spec.name.clone(),
                record_summary: RecordSummary {
                    input_record_count: totals.input,
                    output_record_count: totals.output,
                    failed_record_count: totals.failed,
                },
                pages: totals.pages,
                files: totals.files.iter().map(|f| relative(&dest, f)).collect(),
                completed: totals.completed,
            });
            if status == RunStatus::Interrupted {
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(tmp_root.join(&run_id));

    let completed = Utc::now();
    let report = RunReport {
        id: run_id.clone(),
        flow_name: flow.name.clone(),
        flow_file: flow.file.display().to_string(),
        connector: flow.connector.clone(),
        destination: dest.display().to_string(),
        metrics: Metrics {
            duration_summary: DurationSummary {
                started_at_utc: started.timestamp_millis(),
                completed_at_utc: completed.timestamp_millis(),
            },
            size_summary: SizeSummary {
                input_bytes: bytes_in,
                output_bytes: bytes_out,
            },
            record_summary: RecordSummary {
                input_record_count: totals_in,
                output_record_count: totals_out,
                failed_record_count: totals_failed,
            },
            file_summary: FileSummary {
                input_file_count: pages,
                output_file_count: files,
            },
            status_summary: StatusSummary { status, errors },
        },
        requests: prepared.connector.request_metrics(),
        streams: stream_reports,
        warnings: prepared.warnings.clone(),
        rejects_file: (totals_failed > 0).then(|| relative(&dest, &rejects_path)),
    };
    let report_json = serde_json::to_value(&report).unwrap_or(Value::Null);
    let report_path = runs_dir.join(format!("{run_id}.json"));
    write_atomically(
        &report_path,
        &serde_json::to_vec_pretty(&report_json).unwrap_or_default(),
    )?;
    store.finish_run(
        &run_id,
        status.as_str(),
        &completed.to_rfc3339(),
        &report_json,
    )?;
    tracing::info!(flow = %flow.name, run = %run_id, status = status.as_str(), records_in = totals_in, records_out = totals_out, failed = totals_failed, "run finished");
    Ok(RunOutcome {
        report,
        report_path,
        status,
    })
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
    let pull_ctx = PullContext {
        task: Task {
            stream: spec.name.clone(),
            window: None,
        },
        checkpoint: None,
        run_started: Utc::now(),
        pages: tx,
    };
    let c = connector.clone();
    let pull = tokio::spawn(async move { c.pull(pull_ctx).await });
    let mut data = Vec::new();
    while data.len() < limit {
        let Some(page) = rx.recv().await else { break };
        for line in page
            .records
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            if data.len() >= limit {
                break;
            }
            data.push(serde_json::from_slice::<Value>(line).unwrap_or(Value::Null));
        }
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
