//! The writing half of a stream's pipeline, on a blocking thread: pages in, mapped batches into
//! part files, and commits that move the checkpoint only together with the files it covers.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::{json, Value};
use sluice_core::Page;
use sluice_mapping::{CompiledMapping, Reject};
use sluice_sinks::{partition_dir, promote, ParquetOptions, PartFile, SinkError, StagedFile};
use sluice_state::{Commit, PendingFile, StateError, StateStore};
use tokio::sync::mpsc::Receiver;

use crate::progress::Progress;

pub(crate) struct SinkContext {
    pub run_id: String,
    pub flow: String,
    pub stream: String,
    /// The task's key in the state store: the stream, or `stream@from..to` for a window.
    pub task: String,
    /// Files of an earlier pull of this task, replaced when this pull completes (`--force`).
    pub replaces: Vec<PathBuf>,
    /// Shared counters for a backfill's progress line.
    pub counters: Option<Arc<crate::progress::Counters>>,
    pub dest: PathBuf,
    pub tmp_dir: PathBuf,
    pub run_date: NaiveDate,
    pub file_rows: u64,
    pub parquet: ParquetOptions,
    pub threshold: f64,
    pub mapping: Arc<CompiledMapping>,
    pub rejects_path: PathBuf,
    pub progress: bool,
}

#[derive(Debug, Default)]
pub(crate) struct StreamTotals {
    pub input: u64,
    pub output: u64,
    pub failed: u64,
    pub pages: u64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub files: Vec<PathBuf>,
    pub completed: bool,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConsumeError {
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{failed} of {input} records failed mapping, above the flow's error threshold of {threshold_pct} %; nothing past the last commit was written. The rejected records and reasons are in {rejects}")]
    Threshold {
        failed: u64,
        input: u64,
        threshold_pct: f64,
        rejects: String,
    },
    #[error("cannot write rejected records to {path}: {message}")]
    Rejects { path: String, message: String },
}

impl ConsumeError {
    pub fn code(&self) -> &'static str {
        match self {
            ConsumeError::Sink(_) => "SINK-3001-500",
            ConsumeError::State(_) => "STATE-4001-500",
            ConsumeError::Threshold { .. } => "MAPPER-3700-400",
            ConsumeError::Rejects { .. } => "SINK-3002-500",
        }
    }
}

struct RejectsFile {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl RejectsFile {
    fn write(
        &mut self,
        run_id: &str,
        stream: &str,
        page: u64,
        rejects: &[Reject],
    ) -> Result<(), ConsumeError> {
        let err = |e: std::io::Error| ConsumeError::Rejects {
            path: self.path.display().to_string(),
            message: e.to_string(),
        };
        if self.out.is_none() {
            if let Some(parent) = self.path.parent() {
                std::fs::create_dir_all(parent).map_err(err)?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(err)?;
            self.out = Some(BufWriter::new(f));
        }
        if let Some(out) = self.out.as_mut() {
            for r in rejects {
                let line = json!({
                    "runId": run_id,
                    "stream": stream,
                    "page": page,
                    "line": r.line,
                    "reason": r.reason,
                    "record": serde_json::from_str::<Value>(&r.record).unwrap_or_else(|_| Value::String(r.record.clone())),
                });
                serde_json::to_writer(&mut *out, &line).map_err(|e| err(e.into()))?;
                out.write_all(b"\n").map_err(err)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ConsumeError> {
        if let Some(out) = self.out.as_mut() {
            out.flush().map_err(|e| ConsumeError::Rejects {
                path: self.path.display().to_string(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }
}

struct Consumer<'a> {
    ctx: &'a SinkContext,
    store: &'a mut StateStore,
    open: BTreeMap<NaiveDate, PartFile>,
    pending_checkpoint: Option<Value>,
    seq: u32,
    totals: StreamTotals,
    rejects: RejectsFile,
}

impl Consumer<'_> {
    fn file_for(&mut self, date: NaiveDate) -> Result<&mut PartFile, SinkError> {
        if !self.open.contains_key(&date) {
            self.seq += 1;
            // the task names the file, so concurrent windows of one run never collide and a
            // window's files are recognisably its own
            let tag: String = self
                .ctx
                .task
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let name = format!("part-{}-{tag}-{:04}.parquet", self.ctx.run_id, self.seq);
            let temp = self.ctx.tmp_dir.join(format!("{name}.tmp"));
            let target = partition_dir(&self.ctx.dest, &self.ctx.stream, date).join(&name);
            let file = PartFile::create(temp, target, self.ctx.mapping.schema(), self.ctx.parquet)?;
            self.open.insert(date, file);
        }
        self.open.get_mut(&date).ok_or_else(|| SinkError::Io {
            path: date.to_string(),
            message: "partition file vanished".into(),
        })
    }

    fn over_threshold(&self) -> bool {
        self.totals.failed > 0
            && self.totals.input > 0
            && (self.totals.failed as f64) / (self.totals.input as f64) > self.ctx.threshold
    }

    /// Close every open file and commit them with the latest checkpoint, then promote them.
    /// `completes` marks the task done (and retires the files it replaces).
    fn commit(&mut self, completes: bool) -> Result<(), ConsumeError> {
        self.rejects.flush()?;
        if self.over_threshold() {
            for (_, f) in std::mem::take(&mut self.open) {
                if let Ok(staged) = f.finish() {
                    let _ = std::fs::remove_file(&staged.temp);
                }
            }
            return Err(ConsumeError::Threshold {
                failed: self.totals.failed,
                input: self.totals.input,
                threshold_pct: self.ctx.threshold * 100.0,
                rejects: self.ctx.rejects_path.display().to_string(),
            });
        }
        let mut staged: Vec<StagedFile> = Vec::new();
        for (_, f) in std::mem::take(&mut self.open) {
            staged.push(f.finish()?);
        }
        if staged.is_empty() && self.pending_checkpoint.is_none() && !completes {
            return Ok(());
        }
        let pending: Vec<PendingFile> = staged
            .iter()
            .map(|s| PendingFile {
                temp: s.temp.clone(),
                target: s.target.clone(),
            })
            .collect();
        self.store.commit(Commit {
            run_id: &self.ctx.run_id,
            flow: &self.ctx.flow,
            task: &self.ctx.task,
            checkpoint: self.pending_checkpoint.take().as_ref(),
            files: &pending,
            completes,
            replaces: if completes { &self.ctx.replaces } else { &[] },
        })?;
        for s in staged {
            promote(&s.temp, &s.target)?;
            self.store.forget_pending(&s.temp)?;
            self.totals.output_bytes += s.bytes;
            self.totals.files.push(s.target);
        }
        if completes {
            for old in &self.ctx.replaces {
                remove_doomed(self.store, old)?;
            }
        }
        Ok(())
    }

    fn page(&mut self, page: Page) -> Result<bool, ConsumeError> {
        self.totals.pages += 1;
        self.totals.input_bytes += page.input_bytes;
        if !page.records.is_empty() {
            let out = self.ctx.mapping.map_ndjson(&page.records);
            self.totals.input += out.input_records as u64;
            self.totals.failed += out.rejects.len() as u64;
            if !out.rejects.is_empty() {
                let (run_id, stream, n) = (
                    self.ctx.run_id.clone(),
                    self.ctx.stream.clone(),
                    self.totals.pages,
                );
                self.rejects.write(&run_id, &stream, n, &out.rejects)?;
            }
            let rows = out.batch.num_rows() as u64;
            if rows > 0 {
                let date = page.partition.unwrap_or(self.ctx.run_date);
                self.file_for(date)?.write(&out.batch)?;
                self.totals.output += rows;
            }
        }
        if let Some(c) = &self.ctx.counters {
            c.add_records(page.record_count as u64);
        }
        if page.checkpoint.is_some() {
            self.pending_checkpoint = page.checkpoint;
        }
        let full = self.open.values().any(|f| f.rows() >= self.ctx.file_rows);
        if page.completes_task || full {
            self.commit(page.completes_task)?;
        }
        if page.completes_task {
            self.totals.completed = true;
        }
        Ok(page.completes_task)
    }
}

/// Consume pages until the producer is done (or fails), committing as it goes. Whatever was
/// consumed completely is committed at the end, so an interrupted export keeps its progress.
pub(crate) fn consume(
    mut rx: Receiver<Page>,
    ctx: &SinkContext,
    store: &mut StateStore,
) -> (StreamTotals, Result<(), ConsumeError>) {
    let mut progress = Progress::new(ctx.progress, &ctx.task);
    let mut c = Consumer {
        ctx,
        store,
        open: BTreeMap::new(),
        pending_checkpoint: None,
        seq: 0,
        totals: StreamTotals::default(),
        rejects: RejectsFile {
            path: ctx.rejects_path.clone(),
            out: None,
        },
    };
    let mut result = Ok(());
    while let Some(page) = rx.blocking_recv() {
        match c.page(page) {
            Ok(done) => {
                progress.update(c.totals.pages, c.totals.input, c.totals.output);
                if done {
                    break;
                }
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    // stop the producer if we stopped early
    rx.close();
    if result.is_ok() {
        result = c.commit(false);
    } else {
        discard(std::mem::take(&mut c.open));
    }
    progress.finish(c.totals.pages, c.totals.input, c.totals.output);
    (c.totals, result)
}

fn discard(open: BTreeMap<NaiveDate, PartFile>) {
    for (_, f) in open {
        if let Ok(staged) = f.finish() {
            let _ = std::fs::remove_file(&staged.temp);
        }
    }
}

/// Finish what a crashed run committed but did not promote, and drop what it never committed.
fn remove_doomed(store: &StateStore, path: &Path) -> Result<(), ConsumeError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(SinkError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            }
            .into())
        }
    }
    store.forget_doomed(path)?;
    Ok(())
}

/// Finish what a crashed run committed but did not promote or retire, and drop what it never
/// committed (staged files of runs that are no longer alive).
pub(crate) fn recover(
    store: &StateStore,
    flow: &str,
    tmp_root: &Path,
) -> Result<usize, ConsumeError> {
    let mut promoted = 0;
    for f in store.pending_files(flow)? {
        promote(&f.temp, &f.target)?;
        store.forget_pending(&f.temp)?;
        promoted += 1;
    }
    for old in store.doomed_files(flow)? {
        remove_doomed(store, &old)?;
    }
    let live = store.live_runs(flow)?;
    if let Ok(entries) = std::fs::read_dir(tmp_root) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !live.contains(&name) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(promoted)
}
