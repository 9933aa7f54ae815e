//! The writing half of a task's pipeline, on a blocking thread: pages in, mapped batches into
//! part files, and commits that move the checkpoint only together with the files it covers.
//!
//! Files roll by rows (staged on disk under temporary names); commits happen only at pages that
//! carry a checkpoint, so a connector decides what a unit of completion is: every page
//! (Zendesk) or a whole request of day partitions (Mixpanel).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use serde_json::{json, Value};
use sluice_core::{Page, Records};
use sluice_mapping::{CompiledMapping, MapOutput, Reject};
use sluice_sinks::{
    partition_dir, DataFile, DeltaChange, DeltaTables, Format, Lake, ParquetOptions, PartFile,
    SinkError, StagedFile,
};
use sluice_state::{Commit, Locks, NewFile, StateError, StateStore};
use tokio::sync::mpsc::Receiver;

use crate::progress::Progress;
use crate::schema_policy::{DynamicColumns, PolicyError};

pub(crate) struct SinkContext {
    pub run_id: String,
    pub flow: String,
    pub stream: String,
    /// The task's key in the state store: the stream, or `stream@from..to` for a window.
    pub task: String,
    /// The slice of the stream the task pulls (empty: the whole).
    pub slice: String,
    /// The days of a backfill window task (recorded in the windows table).
    pub window: Option<(NaiveDate, NaiveDate)>,
    /// The days the task pulls (a backfill window, or an incremental run of a day stream).
    pub pulled_days: Option<(NaiveDate, NaiveDate)>,
    /// Committed instead of the connector's checkpoint when the task completes.
    pub final_checkpoint: Option<Value>,
    /// Records carry their own day partition, which is the day they were pulled for.
    pub day_partitioned: bool,
    /// Files of an earlier pull of this task, replaced when this pull completes (`--force`).
    pub replaces: Vec<PathBuf>,
    /// Shared counters for a backfill's progress line.
    pub counters: Option<Arc<crate::progress::Counters>>,
    pub dest: PathBuf,
    /// Where committed files go (a rename, or an upload).
    pub lake: Arc<Lake>,
    /// The streams' Delta tables, when the flow writes them: each commit is logged there once
    /// its files are promoted.
    pub delta: Option<Arc<DeltaTables>>,
    pub tmp_dir: PathBuf,
    pub run_date: NaiveDate,
    pub file_rows: u64,
    pub format: Format,
    pub parquet: ParquetOptions,
    pub threshold: f64,
    pub mapping: Arc<CompiledMapping>,
    /// Present when the stream writes every field it sees (no mapping set over an open schema).
    pub dynamic: Option<DynamicColumns>,
    pub rejects_path: PathBuf,
    pub progress: bool,
    /// The run's lock, checked before each commit: a lease lost with its connection stops
    /// the run (another process may own its tasks now).
    pub lock: Arc<sluice_state::LockGuard>,
}

#[derive(Debug, Default)]
pub(crate) struct StreamTotals {
    pub input: u64,
    pub output: u64,
    pub failed: u64,
    /// Dropped on purpose by the connector (duplicates, re-reads): in `input`, never written.
    pub skipped: u64,
    pub pages: u64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub files: Vec<PathBuf>,
    pub completed: bool,
    /// Fields dropped under `schema_policy = "ignore"`, and columns added under `evolve`.
    pub ignored_fields: Vec<String>,
    pub added_fields: Vec<String>,
    /// Fields of a mapped flow's records that its mapping set does not read (first ones only).
    pub unmapped_fields: Vec<String>,
    /// The connector's notes, and the writer's (a stream without rows).
    pub notes: Vec<String>,
}

/// How many unmapped field names a stream report lists: enough to act on, never a flood.
const MAX_UNMAPPED_LISTED: usize = 50;

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
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl ConsumeError {
    pub fn code(&self) -> &'static str {
        match self {
            ConsumeError::Sink(_) => "SINK-3001-500",
            ConsumeError::State(_) => "STATE-4001-500",
            ConsumeError::Threshold { .. } => "MAPPER-3700-400",
            ConsumeError::Rejects { .. } => "SINK-3002-500",
            ConsumeError::Policy(_) => "SCHEMA-3800-400",
        }
    }
}

/// Counts since the last commit: they join the totals only when committed.
#[derive(Debug, Default, Clone, Copy)]
struct Pending {
    input: u64,
    output: u64,
    failed: u64,
    skipped: u64,
}

/// Records that failed mapping, held until their pull commits (a discarded attempt's rejects
/// are not reported twice). Past a cap the run's threshold check stops the task first.
const EARLY_THRESHOLD_CHECK: u64 = 1_000;

/// The most the open part files of a task hold in memory together.
const OPEN_FILES_BYTES: usize = 16 * 1024 * 1024;

struct Consumer<'a> {
    ctx: &'a SinkContext,
    store: &'a mut StateStore,
    mapping: Arc<CompiledMapping>,
    dynamic: Option<DynamicColumns>,
    open: BTreeMap<NaiveDate, (PartFile, Option<Days>)>,
    staged: Vec<(NaiveDate, StagedFile, Option<Days>)>,
    pending_checkpoint: Option<Value>,
    pending: Pending,
    pending_rejects: Vec<String>,
    /// Whether the last page consumed carried a checkpoint (so pending data is covered).
    covered: bool,
    /// Columns were accepted since the accepted set was last stored.
    columns_changed: bool,
    seq: u32,
    totals: StreamTotals,
}

/// An inclusive range of days.
type Days = (NaiveDate, NaiveDate);

/// The days two ranges cover together.
fn union(a: Option<Days>, b: Option<Days>) -> Option<Days> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, b) => a.or(b),
    }
}

impl Consumer<'_> {
    fn file_for(
        &mut self,
        date: NaiveDate,
        days: Option<Days>,
    ) -> Result<&mut PartFile, SinkError> {
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
            let name = format!(
                "part-{}-{tag}-{:04}.{}",
                self.ctx.run_id,
                self.seq,
                self.ctx.format.extension()
            );
            let temp = self.ctx.tmp_dir.join(format!("{name}.tmp"));
            let target = partition_dir(&self.ctx.dest, &self.ctx.stream, date).join(&name);
            let file = PartFile::create_as(
                self.ctx.format,
                temp,
                target,
                self.mapping.schema(),
                self.ctx.parquet,
            )?;
            self.open.insert(date, (file, None));
        }
        let (file, covered) = self.open.get_mut(&date).ok_or_else(|| SinkError::Io {
            path: date.to_string(),
            message: "partition file vanished".into(),
        })?;
        *covered = union(*covered, days);
        Ok(file)
    }

    /// Many day partitions open at once (a request of many days) each hold a row group and a
    /// buffer: past [`OPEN_FILES_BYTES`] together, the largest is finished (a later record of
    /// its day starts another file), so memory does not grow with the days of a request.
    fn bound_open_files(&mut self) -> Result<(), SinkError> {
        loop {
            let total: usize = self.open.values().map(|(f, _)| f.memory_bytes()).sum();
            if total <= OPEN_FILES_BYTES || self.open.len() <= 1 {
                return Ok(());
            }
            let largest = self
                .open
                .iter()
                .max_by_key(|(_, (f, _))| f.memory_bytes())
                .map(|(d, _)| *d);
            if let Some((date, (f, days))) = largest.and_then(|d| self.open.remove_entry(&d)) {
                self.staged.push((date, f.finish()?, days));
            }
        }
    }

    fn stage_all_open(&mut self) -> Result<(), SinkError> {
        for (date, (f, days)) in std::mem::take(&mut self.open) {
            self.staged.push((date, f.finish()?, days));
        }
        Ok(())
    }

    fn over_threshold(&self) -> bool {
        let failed = self.totals.failed + self.pending.failed;
        let input = self.totals.input + self.pending.input;
        failed > 0 && input > 0 && (failed as f64) / (input as f64) > self.ctx.threshold
    }

    fn threshold_error(&self) -> ConsumeError {
        ConsumeError::Threshold {
            failed: self.totals.failed + self.pending.failed,
            input: self.totals.input + self.pending.input,
            threshold_pct: self.ctx.threshold * 100.0,
            rejects: self.ctx.rejects_path.display().to_string(),
        }
    }

    /// Everything since the last commit goes: open and staged files, counts, rejects.
    fn discard(&mut self) {
        for (_, (f, _)) in std::mem::take(&mut self.open) {
            if let Ok(staged) = f.finish() {
                let _ = std::fs::remove_file(&staged.temp);
            }
        }
        for (_, s, _) in self.staged.drain(..) {
            let _ = std::fs::remove_file(&s.temp);
        }
        self.pending = Pending::default();
        self.pending_rejects.clear();
        self.pending_checkpoint = None;
    }

    fn flush_rejects(&mut self) -> Result<(), ConsumeError> {
        if self.pending_rejects.is_empty() {
            return Ok(());
        }
        let path = &self.ctx.rejects_path;
        let err = |e: std::io::Error| ConsumeError::Rejects {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        let mut out = BufWriter::new(f);
        for line in self.pending_rejects.drain(..) {
            // a rejected record may be a server's debug page quoting the request's credentials
            out.write_all(sluice_core::redact(&line).as_bytes())
                .map_err(err)?;
            out.write_all(b"\n").map_err(err)?;
        }
        out.flush().map_err(err)
    }

    /// Close every open file and commit all staged files with the latest checkpoint, then
    /// promote them and retire what they replace.
    fn commit(&mut self, completes: bool, partitions: &[NaiveDate]) -> Result<(), ConsumeError> {
        if self.over_threshold() {
            return Err(self.fail_threshold());
        }
        self.stage_all_open()?;
        if self.staged.is_empty()
            && self.pending_checkpoint.is_none()
            && !completes
            && partitions.is_empty()
        {
            return Ok(());
        }
        let files: Vec<NewFile> = self
            .staged
            .iter()
            .map(|(date, s, days)| NewFile {
                temp: s.temp.clone(),
                target: s.target.clone(),
                partition: date.to_string(),
                days: *days,
            })
            .collect();
        let replace_partitions: Vec<String> = partitions.iter().map(NaiveDate::to_string).collect();
        self.flush_rejects()?;
        // in the store before the commit names them (object stores): see `lake_state`
        for (_, s, _) in &self.staged {
            self.ctx.lake.stage(&s.temp)?;
        }
        self.ctx.lock.check(&self.ctx.flow)?;
        // what this very commit retires (a Delta table logs only those, in the version that
        // adds their replacements; another task's are its own to log)
        let mut retiring = Vec::new();
        if self.ctx.delta.is_some() {
            retiring = self.store.partition_files(
                &self.ctx.flow,
                &self.ctx.stream,
                &self.ctx.slice,
                &replace_partitions,
            )?;
            if completes {
                retiring.extend(self.ctx.replaces.iter().cloned());
            }
        }
        let checkpoint = self.pending_checkpoint.take();
        self.store.commit(Commit {
            run_id: &self.ctx.run_id,
            flow: &self.ctx.flow,
            task: &self.ctx.task,
            stream: &self.ctx.stream,
            slice: &self.ctx.slice,
            window: self.ctx.window,
            checkpoint: checkpoint.as_ref(),
            files: &files,
            completes,
            replaces: if completes { &self.ctx.replaces } else { &[] },
            replace_partitions: &replace_partitions,
        })?;
        // what is retired below is what the snapshot names (another task's commit may add more
        // after it: that task retires those once its own snapshot is out)
        let mut doomed = self.store.doomed_files(&self.ctx.flow)?;
        crate::lake_state::publish(self.store, &self.ctx.lake, &self.ctx.flow)?;
        let mut promoted = Vec::with_capacity(self.staged.len());
        for (_, s, _) in std::mem::take(&mut self.staged) {
            self.ctx.lake.promote(&s.temp, &s.target)?;
            self.store.forget_pending(&s.temp)?;
            self.totals.output_bytes += s.bytes;
            promoted.push(DataFile {
                path: s.target.clone(),
                bytes: s.bytes,
                rows: Some(s.rows),
            });
            self.totals.files.push(s.target);
        }
        if let Some(delta) = &self.ctx.delta {
            doomed.retain(|d| retiring.contains(d));
            crash_point("before-delta-commit");
            let schema = self.mapping.schema();
            delta.commit(&DeltaChange {
                adds: &promoted,
                removes: &doomed,
                schema: Some(&schema),
                app_id: Some(&format!("sluice/{}/{}", self.ctx.flow, self.ctx.task)),
                info: json!({
                    "runId": self.ctx.run_id,
                    "flow": self.ctx.flow,
                    "task": self.ctx.task,
                    "checkpoint": checkpoint,
                }),
            })?;
            crash_point("after-delta-commit");
        }
        for old in doomed {
            remove_doomed(self.store, &self.ctx.lake, &old)?;
        }
        if let (true, Some(d)) = (self.columns_changed, &self.dynamic) {
            self.store
                .put_value(&self.ctx.flow, &columns_key(&self.ctx.stream), &d.to_json())?;
            self.columns_changed = false;
        }
        self.totals.input += self.pending.input;
        self.totals.output += self.pending.output;
        self.totals.failed += self.pending.failed;
        self.totals.skipped += self.pending.skipped;
        self.pending = Pending::default();
        Ok(())
    }

    /// Stop on the error threshold: nothing since the last commit is written, but the counts
    /// say what was read and the rejects file holds every rejected record, the evidence.
    fn fail_threshold(&mut self) -> ConsumeError {
        let mut error = self.threshold_error();
        if let Err(e) = self.flush_rejects() {
            error = e;
        }
        self.totals.input += self.pending.input;
        self.totals.failed += self.pending.failed;
        self.totals.skipped += self.pending.skipped;
        self.discard();
        error
    }

    fn map_records(
        &mut self,
        records: &Records,
        partition: Option<NaiveDate>,
        days: Option<Days>,
        mapped: Option<MapOutput>,
    ) -> Result<(), ConsumeError> {
        // a page mapped ahead on the mapping thread (only when the mapping cannot change)
        let mut out = match mapped {
            Some(out) => out,
            None => self.mapping.map_records(records),
        };
        if let Some(dynamic) = self.dynamic.as_mut() {
            let change = dynamic.observe(&out.unknown_fields, &self.mapping)?;
            if let Some(extended) = change.extended {
                if change.added.is_empty() {
                    self.mapping = Arc::new(extended);
                } else {
                    // a column the stream's Delta table cannot take stops the task before a
                    // record of it is written
                    if let Some(delta) = &self.ctx.delta {
                        delta.check_schema(&self.ctx.stream, &extended.schema())?;
                    }
                    // new columns: the files so far keep their schema, new files get the new one
                    self.stage_all_open()?;
                    self.mapping = Arc::new(extended);
                    self.totals.added_fields.extend(change.added);
                    self.columns_changed = true;
                    out = self.mapping.map_records(records);
                }
            }
            for f in change.ignored {
                if !self.totals.ignored_fields.contains(&f) {
                    self.totals.ignored_fields.push(f);
                }
            }
        } else {
            for f in out.unknown_fields.keys() {
                let listed = &mut self.totals.unmapped_fields;
                if listed.len() < MAX_UNMAPPED_LISTED && !listed.contains(f) {
                    listed.push(f.clone());
                }
            }
        }
        self.pending.input += out.input_records as u64;
        self.pending.failed += out.rejects.len() as u64;
        for r in &out.rejects {
            self.pending_rejects.push(reject_line(
                &self.ctx.run_id,
                &self.ctx.stream,
                self.totals.pages,
                r,
            ));
        }
        let rows = out.batch.num_rows() as u64;
        if rows > 0 {
            let date = partition.unwrap_or(self.ctx.run_date);
            let file = self.file_for(date, days)?;
            file.write(&out.batch)?;
            if file.rows() >= self.ctx.file_rows {
                if let Some((f, days)) = self.open.remove(&date) {
                    self.staged.push((date, f.finish()?, days));
                }
            }
            self.bound_open_files()?;
            self.pending.output += rows;
        }
        if self.pending.failed >= EARLY_THRESHOLD_CHECK && self.over_threshold() {
            return Err(self.fail_threshold());
        }
        Ok(())
    }

    /// What the connector could not hand over or dropped on purpose, counted like the records
    /// the mapper reads.
    fn connector_records(&mut self, rejected: &[sluice_core::RejectedRecord], skipped: u64) {
        self.pending.input += rejected.len() as u64 + skipped;
        self.pending.failed += rejected.len() as u64;
        self.pending.skipped += skipped;
        for r in rejected {
            self.pending_rejects.push(
                json!({
                    "runId": self.ctx.run_id,
                    "stream": self.ctx.stream,
                    "page": self.totals.pages,
                    "reason": r.reason,
                    "record": record_value(&r.record),
                })
                .to_string(),
            );
        }
    }

    /// A stream that has written nothing yet, and whose pull found no rows, still gets a file:
    /// an empty one with its schema, so a reader (DuckDB, Spark) finds the table, with its
    /// columns, instead of a missing path. Once the stream has files, an empty pull adds none.
    fn schema_for_an_empty_stream(&mut self) -> Result<(), ConsumeError> {
        let wrote = self.totals.output + self.pending.output > 0
            || !self.open.is_empty()
            || !self.staged.is_empty()
            || !self.totals.files.is_empty();
        if wrote
            || self
                .store
                .stream_has_files(&self.ctx.flow, &self.ctx.stream)?
        {
            return Ok(());
        }
        self.file_for(self.ctx.run_date, None)?;
        self.totals
            .notes
            .push("no rows: an empty file with the stream's schema was written".into());
        Ok(())
    }

    fn page(&mut self, page: Page, mapped: Option<MapOutput>) -> Result<bool, ConsumeError> {
        if page.discard_uncommitted {
            tracing::info!(task = %self.ctx.task, "discarding an incomplete attempt; the connector retries it");
            self.discard();
            self.covered = true;
            return Ok(false);
        }
        self.totals.pages += 1;
        self.totals.input_bytes += page.input_bytes;
        self.connector_records(&page.rejected, page.skipped);
        for note in page.notes {
            let note = sluice_core::redact(&note).into_owned();
            if !self.totals.notes.contains(&note) {
                self.totals.notes.push(note);
            }
        }
        if !page.records.is_empty() || mapped.is_some() {
            let days = match (
                self.ctx.day_partitioned,
                page.partition,
                self.ctx.pulled_days,
            ) {
                (true, Some(day), _) => Some((day, day)),
                (_, _, Some(window)) => Some(window),
                _ => page.covers.map(|w| (w.from, w.to)),
            };
            self.map_records(&page.records, page.partition, days, mapped)?;
        }
        if let Some(c) = &self.ctx.counters {
            c.add_records(page.record_count as u64);
        }
        let checkpoint = match (&self.ctx.final_checkpoint, page.completes_task) {
            (Some(position), true) => Some(position.clone()),
            _ => page.checkpoint,
        };
        self.covered = checkpoint.is_some() || page.completes_task;
        if self.covered {
            if checkpoint.is_some() {
                self.pending_checkpoint = checkpoint;
            }
            if page.completes_task {
                self.schema_for_an_empty_stream()?;
            }
            if page.completes_task
                || !page.completes_partitions.is_empty()
                || !self.staged.is_empty()
            {
                self.commit(page.completes_task, &page.completes_partitions)?;
            }
        }
        if page.completes_task {
            self.totals.completed = true;
        }
        Ok(page.completes_task)
    }
}

/// Where a stream's accepted columns live in the state store.
pub(crate) fn columns_key(stream: &str) -> String {
    format!("{stream}#columns")
}

fn reject_line(run_id: &str, stream: &str, page: u64, r: &Reject) -> String {
    json!({
        "runId": run_id,
        "stream": stream,
        "page": page,
        "line": r.line,
        "reason": r.reason,
        "record": record_value(r.record.as_bytes()),
    })
    .to_string()
}

/// A rejected record as the rejects file keeps it: its JSON if it is JSON, else its text.
fn record_value(raw: &[u8]) -> Value {
    serde_json::from_slice::<Value>(raw)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(raw).into_owned()))
}

/// Threads that map pages of a fixed mapping: one per core (mapping is the heaviest stage of a
/// flow), at most four.
fn mapping_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// Consume pages until the producer is done (or fails), committing at its checkpoints. What
/// the last checkpoint covers is committed at the end, so an interrupted export keeps its
/// progress; what no checkpoint covers is dropped, to be pulled again.
pub(crate) fn consume(
    mut rx: Receiver<Page>,
    ctx: &SinkContext,
    store: &mut StateStore,
) -> (StreamTotals, Result<(), ConsumeError>) {
    let mut progress = Progress::new(ctx.progress, &ctx.task);
    let mut c = Consumer {
        ctx,
        store,
        mapping: ctx.mapping.clone(),
        dynamic: ctx.dynamic.clone(),
        open: BTreeMap::new(),
        staged: Vec::new(),
        pending_checkpoint: None,
        pending: Pending::default(),
        pending_rejects: Vec::new(),
        covered: true,
        // the first pull's columns are the baseline, even when it saw no new field
        columns_changed: ctx.dynamic.as_ref().is_some_and(|d| d.first_pull),
        seq: 0,
        totals: StreamTotals::default(),
    };
    let mut result = Ok(());
    let mut step = |c: &mut Consumer<'_>, page: Page, mapped: Option<MapOutput>| -> bool {
        match c.page(page, mapped) {
            Ok(done) => {
                progress.update(
                    c.totals.pages,
                    c.totals.input + c.pending.input,
                    c.totals.output + c.pending.output,
                );
                done
            }
            Err(e) => {
                result = Err(e);
                true
            }
        }
    };
    if ctx.dynamic.is_none() {
        // the mapping is fixed: pages are mapped on threads of their own while the writer
        // encodes, so every core works; the writer takes them back in page order
        let workers = mapping_threads();
        let source = Mutex::new((rx, 0u64));
        // a permit per page taken from the producer, returned once the page is written: at
        // most two per thread wait for the writer, so one slow page cannot let others pile up
        let (permit, permits) = std::sync::mpsc::sync_channel::<()>(2 * workers);
        std::thread::scope(|scope| {
            let (tx, mapped_rx) =
                std::sync::mpsc::sync_channel::<(u64, Page, Option<MapOutput>)>(workers);
            for _ in 0..workers {
                let tx = tx.clone();
                let permit = permit.clone();
                let mapping = ctx.mapping.clone();
                let source = &source;
                scope.spawn(move || loop {
                    // fails once the writer is gone
                    if permit.send(()).is_err() {
                        break;
                    }
                    // the lock is held while waiting, so pages are numbered in arrival order
                    let next = source.lock().ok().and_then(|mut s| {
                        let page = s.0.blocking_recv()?;
                        s.1 += 1;
                        Some((s.1 - 1, page))
                    });
                    let Some((seq, mut page)) = next else { break };
                    let out =
                        (!page.records.is_empty()).then(|| mapping.map_records(&page.records));
                    // the page's body is no longer needed: free it before the write
                    page.records = Records::default();
                    if tx.send((seq, page, out)).is_err() {
                        break;
                    }
                });
            }
            drop((tx, permit));
            let mut waiting = BTreeMap::new();
            let mut next = 0u64;
            'pages: for (seq, page, out) in mapped_rx.iter() {
                waiting.insert(seq, (page, out));
                while let Some((page, out)) = waiting.remove(&next) {
                    next += 1;
                    let done = step(&mut c, page, out);
                    // the written page's permit (taken before the page, so never waited for)
                    let _ = permits.try_recv();
                    if done {
                        break 'pages;
                    }
                }
            }
            // when the writer stopped early, each mapping thread ends at its next permit or
            // its next send
            drop((mapped_rx, permits));
        });
        // and the producer on its next page
        drop(source);
    } else {
        while let Some(page) = rx.blocking_recv() {
            if step(&mut c, page, None) {
                break;
            }
        }
        // stop the producer if we stopped early
        rx.close();
    }
    if result.is_ok() && c.covered {
        result = c.commit(false, &[]);
    } else {
        c.discard();
    }
    progress.finish(c.totals.pages, c.totals.input, c.totals.output);
    (c.totals, result)
}

/// Make the Delta tables agree with the state after a crash: files the state holds that a
/// table does not (promoted, but the run died before logging them, or written before the flow
/// turned to Delta) are added, and files being retired are removed, before they are deleted.
/// Files a live run (another shard) is still promoting are its own to log.
fn log_what_a_crash_left(
    store: &StateStore,
    lake: &Lake,
    delta: &DeltaTables,
    flow: &str,
    retire: bool,
) -> Result<(), ConsumeError> {
    let unpromoted: std::collections::HashSet<PathBuf> = store
        .pending_files(flow)?
        .into_iter()
        .map(|p| p.target)
        .collect();
    let mut by_stream: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for f in store.manifest(flow)? {
        let parquet = f.path.extension().is_some_and(|e| e == "parquet");
        if parquet && !unpromoted.contains(&f.path) {
            by_stream.entry(f.stream).or_default().push(f.path);
        }
    }
    let mut adds = Vec::new();
    for (stream, files) in by_stream {
        let logged = delta.live_files(&stream)?;
        for path in files.into_iter().filter(|p| !logged.contains(p)) {
            // a file the lake lost is the agreement check's to report, not the table's to hold
            if let Some(bytes) = lake.size(&path)? {
                adds.push(DataFile {
                    path,
                    bytes,
                    rows: None,
                });
            }
        }
    }
    let removes = if retire {
        store.doomed_files(flow)?
    } else {
        Vec::new()
    };
    if adds.is_empty() && removes.is_empty() {
        return Ok(());
    }
    let written = delta.commit(&DeltaChange {
        adds: &adds,
        removes: &removes,
        schema: None,
        app_id: None,
        info: json!({"flow": flow, "recovery": true}),
    })?;
    if !written.is_empty() {
        tracing::info!(
            files = adds.len(),
            retired = removes.len(),
            "logged in the Delta tables what an interrupted run had committed"
        );
    }
    Ok(())
}

/// Stop the process at a named point when `SLUICE_TEST_ABORT_AT` names it: how the tests crash
/// a run between two steps of a commit, deterministically.
fn crash_point(name: &str) {
    if std::env::var_os("SLUICE_TEST_ABORT_AT").is_some_and(|v| v == name) {
        eprintln!("sluice: aborting at `{name}` (SLUICE_TEST_ABORT_AT)");
        std::process::abort();
    }
}

fn remove_doomed(store: &StateStore, lake: &Lake, path: &Path) -> Result<(), ConsumeError> {
    lake.remove(path)?;
    store.forget_doomed(path)?;
    Ok(())
}

/// Finish what a crashed run committed but did not promote or retire, and drop what it never
/// committed (staged files of runs that are no longer alive).
pub(crate) fn recover(
    store: &StateStore,
    locks: &dyn Locks,
    lake: &Lake,
    delta: Option<&DeltaTables>,
    flow: &str,
    tmp_root: &Path,
) -> Result<usize, ConsumeError> {
    let mut promoted = 0;
    for f in store.pending_files(flow)? {
        // another shard's run promoting its own commit right now
        if locks.is_alive(flow, &f.run_id)? {
            continue;
        }
        lake.promote(&f.temp, &f.target)?;
        store.forget_pending(&f.temp)?;
        promoted += 1;
    }
    // a live run (another shard) amid a commit retires its own files once their replacements
    // are in place; retiring them now would leave its days empty meanwhile
    let mut live_commit = false;
    for f in store.pending_files(flow)? {
        live_commit |= locks.is_alive(flow, &f.run_id)?;
    }
    if let Some(delta) = delta {
        log_what_a_crash_left(store, lake, delta, flow, !live_commit)?;
    }
    let doomed = if live_commit {
        Vec::new()
    } else {
        store.doomed_files(flow)?
    };
    for old in doomed {
        remove_doomed(store, lake, &old)?;
    }
    // objects staged in the store by runs that died before their commit (a lost machine):
    // no commit names them, so they go
    // a staged file a commit names is promoted by recovery or by its live run, never swept:
    // the list is read after the listings, so a commit made meanwhile is seen
    let remote_staged = if lake.is_remote() {
        lake.list_files(tmp_root)?
    } else {
        Vec::new()
    };
    let local_runs: Vec<std::fs::DirEntry> = std::fs::read_dir(tmp_root)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    let named: std::collections::HashSet<PathBuf> = store
        .pending_files(flow)?
        .into_iter()
        .map(|p| p.temp)
        .collect();
    if lake.is_remote() {
        for staged in remote_staged {
            if named.contains(&staged) {
                continue;
            }
            let run = staged
                .strip_prefix(tmp_root)
                .ok()
                .and_then(|p| p.components().next())
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            if let Some(run) = run {
                if !locks.is_alive(flow, &run)? {
                    lake.remove(&staged)?;
                }
            }
        }
    }
    for e in local_runs {
        let dir = e.path();
        if named.iter().any(|t| t.starts_with(&dir)) {
            continue;
        }
        let run = e.file_name().to_string_lossy().into_owned();
        if !locks.is_alive(flow, &run)? {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    Ok(promoted)
}
