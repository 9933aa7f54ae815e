//! Checkpoints and run history: an embedded SQLite file by default, or PostgreSQL when
//! several machines share one flow.
//!
//! The store is the commit point of a run: a checkpoint advances in the same transaction that
//! records which staged files become final, so after a crash either both happened (the recovery
//! step finishes the renames) or neither did (the staged files are discarded and the data is
//! pulled again). Nothing is lost and nothing is written twice. Both stores run the same
//! statements ([`db`]), so the protocol has one definition.

mod db;
mod lock;
mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::Value;

use db::{args, serialized_by, stmt, Db, Row, Stmt};
pub use lock::{shard_mode, FileLocks, Held, LockGuard, LockOwner, Locks};
pub use postgres::{PgLocks, PgTarget};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store {path}: {message}")]
    Sqlite { path: String, message: String },
    #[error("state store {store}: {message}")]
    Postgres { store: String, message: String },
    #[error("flow `{flow}` is already running in mode `{mode}`: {holder} holds its lock; wait for it to finish")]
    Locked {
        flow: String,
        mode: String,
        holder: String,
    },
    #[error("flow `{flow}`: {message}")]
    LeaseLost { flow: String, message: String },
    #[error("lock file {path}: {message}")]
    Lock { path: String, message: String },
    #[error("state store {path}: stored checkpoint of `{flow}`/`{stream}` is not JSON: {message}")]
    Corrupt {
        path: String,
        flow: String,
        stream: String,
        message: String,
    },
    #[error("state store {store}: {what} needs a SQLite store")]
    Unsupported { store: String, what: &'static str },
}

/// Where a flow keeps its state.
#[derive(Debug, Clone)]
pub enum StateLocation {
    /// The embedded default: a SQLite file (beside the lake, or in the work dir).
    Sqlite(PathBuf),
    /// A PostgreSQL database every machine of a fleet reaches.
    Postgres(Box<PgTarget>),
}

impl StateLocation {
    /// How messages name it (a PostgreSQL URL without its password).
    pub fn display(&self) -> String {
        match self {
            StateLocation::Sqlite(p) => p.display().to_string(),
            StateLocation::Postgres(t) => t.display().to_string(),
        }
    }

    /// Whether a store is there to read without creating one (a SQLite file that exists; a
    /// PostgreSQL store is always there: its tables are made on first use).
    pub fn exists(&self) -> bool {
        match self {
            StateLocation::Sqlite(p) => p.exists(),
            StateLocation::Postgres(_) => true,
        }
    }

    /// The SQLite file, for what only a local file can do (a snapshot shipped to the lake).
    pub fn local_path(&self) -> Option<&Path> {
        match self {
            StateLocation::Sqlite(p) => Some(p),
            StateLocation::Postgres(_) => None,
        }
    }

    /// Whether other machines see this state (so shards may share a task list).
    pub fn is_shared(&self) -> bool {
        matches!(self, StateLocation::Postgres(_))
    }

    pub fn open(&self) -> Result<StateStore, StateError> {
        match self {
            StateLocation::Sqlite(p) => StateStore::open(p),
            StateLocation::Postgres(t) => StateStore::connect(t),
        }
    }

    /// The locks that go with the store: files beside a SQLite store, leases in PostgreSQL.
    pub fn locks(&self) -> Box<dyn Locks> {
        match self {
            StateLocation::Sqlite(p) => Box::new(FileLocks::beside(p)),
            StateLocation::Postgres(t) => Box::new(PgLocks::new(t.as_ref().clone())),
        }
    }
}

/// A staged file whose promotion was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFile {
    pub temp: PathBuf,
    pub target: PathBuf,
    /// The run that committed it: while that run is alive, the promotion is its own to do.
    pub run_id: String,
}

/// A file a commit adds, with the partition (day) of its stream it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub temp: PathBuf,
    pub target: PathBuf,
    pub partition: String,
    /// The days its records were pulled for, when known: what a backfill pulls to restore it.
    pub days: Option<(NaiveDate, NaiveDate)>,
}

/// A committed file, as the manifest knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: PathBuf,
    pub task: String,
    pub stream: String,
    pub slice: String,
    pub partition: String,
    pub days: Option<(NaiveDate, NaiveDate)>,
}

/// One row of run history.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    pub flow: String,
    pub mode: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub report: Option<Value>,
}

/// A backfill window as the state knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRecord {
    pub task: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Completed; otherwise some of it was committed and it resumes from its checkpoint.
    pub done: bool,
}

/// One commit: the files a task finished, the checkpoint they bring it to, and, when the task
/// completes, the files of an earlier pull of the same task that the new ones replace.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    pub run_id: &'a str,
    pub flow: &'a str,
    /// The task: a stream name for incremental runs, `stream@from..to` for a backfill window.
    pub task: &'a str,
    pub stream: &'a str,
    /// The part of the stream's source the task pulls (empty: the whole).
    pub slice: &'a str,
    /// The days of a backfill window task: recorded with the first commit, done with the last.
    pub window: Option<(NaiveDate, NaiveDate)>,
    pub checkpoint: Option<&'a Value>,
    pub files: &'a [NewFile],
    pub completes: bool,
    pub replaces: &'a [PathBuf],
    /// Partitions of the stream this commit holds whole: their files from earlier pulls (by
    /// any task) are retired.
    pub replace_partitions: &'a [String],
}

pub struct StateStore {
    db: Db,
    /// How messages name the store.
    name: String,
    /// The SQLite file, when it is one.
    file: Option<PathBuf>,
}

/// Now, as the store's timestamps spell it.
fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

impl StateStore {
    /// Open (creating if needed) the SQLite store at `path`.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let name = path.display().to_string();
        let conn = sqlite::open(path).map_err(|message| StateError::Sqlite {
            path: name.clone(),
            message,
        })?;
        Ok(Self {
            db: Db::Sqlite(conn),
            name,
            file: Some(path.to_path_buf()),
        })
    }

    /// Connect to a PostgreSQL store, creating or migrating its tables.
    pub fn connect(target: &PgTarget) -> Result<Self, StateError> {
        let conn = postgres::PgConn::connect(target, true)?;
        Ok(Self {
            db: Db::Postgres(conn),
            name: target.display().to_string(),
            file: None,
        })
    }

    fn err(&self, message: String) -> StateError {
        match self.db {
            Db::Sqlite(_) => StateError::Sqlite {
                path: self.name.clone(),
                message,
            },
            Db::Postgres(_) => StateError::Postgres {
                store: self.name.clone(),
                message,
            },
        }
    }

    fn query(&self, sql: &'static str, args: Vec<db::Arg>) -> Result<Vec<Row>, StateError> {
        self.db.query(sql, args).map_err(|m| self.err(m))
    }

    fn execute(&self, sql: &'static str, args: Vec<db::Arg>) -> Result<u64, StateError> {
        self.db.execute(sql, args).map_err(|m| self.err(m))
    }

    fn transaction(&self, stmts: Vec<Stmt>) -> Result<(), StateError> {
        let result = self.db.transaction(stmts);
        result.map_err(|m| self.err(m))
    }

    /// Read each row with `f`; a row it cannot read is a damaged store.
    fn rows<T>(
        &self,
        sql: &'static str,
        args: Vec<db::Arg>,
        f: impl Fn(&Row) -> Result<T, String>,
    ) -> Result<Vec<T>, StateError> {
        self.query(sql, args)?
            .iter()
            .map(|r| f(r).map_err(|m| self.err(m)))
            .collect()
    }

    fn flag(&self, sql: &'static str, args: Vec<db::Arg>) -> Result<bool, StateError> {
        Ok(self
            .rows(sql, args, |r| r.bool(0))?
            .first()
            .copied()
            .unwrap_or(false))
    }

    /// How messages name the store: its file, or its PostgreSQL URL without the password.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SQLite file, when the store is one.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// A consistent copy of the store at `to` (which must not exist), what it holds after its
    /// last commit even while other connections write, without the values kept under the
    /// pseudo-flow `leave_out` (secrets such as a rotated refresh token: the copy travels).
    pub fn snapshot(&self, to: &Path, leave_out: &str) -> Result<(), StateError> {
        match &self.db {
            Db::Sqlite(conn) => sqlite::snapshot(conn, to, leave_out).map_err(|m| self.err(m)),
            Db::Postgres(_) => Err(StateError::Unsupported {
                store: self.name.clone(),
                what: "a snapshot file",
            }),
        }
    }

    fn corrupt(&self, flow: &str, key: &str, message: String) -> StateError {
        StateError::Corrupt {
            path: self.name.clone(),
            flow: flow.into(),
            stream: key.into(),
            message,
        }
    }

    pub fn checkpoint(&self, flow: &str, stream: &str) -> Result<Option<Value>, StateError> {
        let text = self.rows(
            "SELECT value FROM checkpoints WHERE flow = ?1 AND stream = ?2",
            args![flow, stream],
            |r| r.text(0),
        )?;
        text.first()
            .map(|t| serde_json::from_str(t).map_err(|e| self.corrupt(flow, stream, e.to_string())))
            .transpose()
    }

    /// In one transaction: record that the commit's files are to be promoted, move the task's
    /// checkpoint, and on completion mark the task done and doom the files it replaces.
    pub fn commit(&mut self, c: Commit<'_>) -> Result<(), StateError> {
        let at = now();
        let mut steps = vec![serialized_by(format!("sluice-commit/{}", c.flow))];
        for part in c.replace_partitions {
            steps.push(stmt(
                "INSERT INTO doomed_files (path, flow)
                 SELECT path, flow FROM task_files
                 WHERE flow = ?1 AND stream = ?2 AND slice = ?3 AND partition = ?4
                 ON CONFLICT (path) DO UPDATE SET flow = excluded.flow",
                args![c.flow, c.stream, c.slice, part.as_str()],
            ));
            steps.push(stmt(
                "DELETE FROM task_files WHERE flow = ?1 AND stream = ?2 AND slice = ?3 AND partition = ?4",
                args![c.flow, c.stream, c.slice, part.as_str()],
            ));
        }
        for f in c.files {
            steps.push(stmt(
                "INSERT INTO pending_files (temp, target, flow, run_id) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (temp) DO UPDATE SET target = excluded.target,
                   flow = excluded.flow, run_id = excluded.run_id",
                args![path_text(&f.temp), path_text(&f.target), c.flow, c.run_id],
            ));
            // a file committed again moves to the end of the manifest, as a new one
            steps.push(stmt(
                "DELETE FROM task_files WHERE path = ?1",
                args![path_text(&f.target)],
            ));
            steps.push(stmt(
                "INSERT INTO task_files (path, flow, task, stream, partition, day_from, day_to, slice)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                args![
                    path_text(&f.target),
                    c.flow,
                    c.task,
                    c.stream,
                    f.partition.as_str(),
                    f.days.map(|d| d.0.to_string()),
                    f.days.map(|d| d.1.to_string()),
                    c.slice
                ],
            ));
            // a file of this very commit is never retired by it
            steps.push(stmt(
                "DELETE FROM doomed_files WHERE path = ?1",
                args![path_text(&f.target)],
            ));
        }
        if let Some(cp) = c.checkpoint {
            steps.push(stmt(
                "INSERT INTO checkpoints (flow, stream, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (flow, stream) DO UPDATE SET value = excluded.value,
                   updated_at = excluded.updated_at",
                args![c.flow, c.task, cp.to_string(), at.as_str()],
            ));
        }
        if let Some((from, to)) = c.window {
            steps.push(stmt(
                "INSERT INTO windows (flow, task, stream, day_from, day_to, done, slice)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (flow, task) DO UPDATE SET done = (windows.done OR excluded.done)",
                args![
                    c.flow,
                    c.task,
                    c.stream,
                    from.to_string(),
                    to.to_string(),
                    c.completes,
                    c.slice
                ],
            ));
        }
        if c.completes {
            steps.push(stmt(
                "INSERT INTO tasks (flow, task, completed_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (flow, task) DO UPDATE SET completed_at = excluded.completed_at",
                args![c.flow, c.task, at.as_str()],
            ));
            for old in c.replaces {
                steps.push(stmt(
                    "INSERT INTO doomed_files (path, flow) VALUES (?1, ?2)
                     ON CONFLICT (path) DO UPDATE SET flow = excluded.flow",
                    args![path_text(old), c.flow],
                ));
                steps.push(stmt(
                    "DELETE FROM task_files WHERE path = ?1",
                    args![path_text(old)],
                ));
            }
        }
        self.transaction(steps)
    }

    /// Whether a task (a backfill window) completed.
    pub fn task_done(&self, flow: &str, task: &str) -> Result<bool, StateError> {
        self.flag(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE flow = ?1 AND task = ?2)",
            args![flow, task],
        )
    }

    fn window_rows(&self, flow: &str, rows: Vec<Row>) -> Result<Vec<WindowRecord>, StateError> {
        rows.iter()
            .map(|r| {
                let task = r.text(0).map_err(|m| self.err(m))?;
                let day = |i: usize| {
                    let text = r.text(i).map_err(|m| self.err(m))?;
                    parse_day(&text).ok_or_else(|| {
                        self.corrupt(
                            flow,
                            &task,
                            format!("window day `{text}` is not YYYY-MM-DD"),
                        )
                    })
                };
                Ok(WindowRecord {
                    from: day(1)?,
                    to: day(2)?,
                    done: r.bool(3).map_err(|m| self.err(m))?,
                    task: task.clone(),
                })
            })
            .collect()
    }

    /// The backfill windows of a stream's slice that committed anything, oldest days first.
    pub fn windows(
        &self,
        flow: &str,
        stream: &str,
        slice: &str,
    ) -> Result<Vec<WindowRecord>, StateError> {
        let rows = self.query(
            "SELECT task, day_from, day_to, done FROM windows
             WHERE flow = ?1 AND stream = ?2 AND slice = ?3 ORDER BY day_from, day_to",
            args![flow, stream, slice],
        )?;
        self.window_rows(flow, rows)
    }

    /// Every checkpoint of `flow`: incremental positions (`stream`, `stream/slice`) and
    /// backfill windows' (`…@from..to`), by key, with when each last moved (ISO-8601).
    pub fn checkpoints(&self, flow: &str) -> Result<Vec<(String, Value, String)>, StateError> {
        let rows = self.rows(
            "SELECT stream, value, updated_at FROM checkpoints WHERE flow = ?1 ORDER BY stream",
            args![flow],
            |r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)),
        )?;
        rows.into_iter()
            .map(|(key, text, at)| {
                let value = serde_json::from_str(&text)
                    .map_err(|e| self.corrupt(flow, &key, e.to_string()))?;
                Ok((key, value, at))
            })
            .collect()
    }

    /// Every backfill window of `flow`, by stream and slice, oldest days first.
    pub fn all_windows(
        &self,
        flow: &str,
    ) -> Result<Vec<(String, String, WindowRecord)>, StateError> {
        let parts = self.rows(
            "SELECT DISTINCT stream, slice FROM windows WHERE flow = ?1 ORDER BY stream, slice",
            args![flow],
            |r| Ok((r.text(0)?, r.text(1)?)),
        )?;
        let mut out = Vec::new();
        for (stream, slice) in parts {
            for w in self.windows(flow, &stream, &slice)? {
                out.push((stream.clone(), slice.clone(), w));
            }
        }
        Ok(out)
    }

    /// Every committed file of `flow` (the manifest), oldest first.
    pub fn manifest(&self, flow: &str) -> Result<Vec<ManifestFile>, StateError> {
        self.rows(
            "SELECT path, task, stream, partition, day_from, day_to, slice FROM task_files
             WHERE flow = ?1 ORDER BY rowid",
            args![flow],
            |r| {
                let day = |i: usize| -> Result<Option<NaiveDate>, String> {
                    Ok(r.opt_text(i)?.as_deref().and_then(parse_day))
                };
                Ok(ManifestFile {
                    path: PathBuf::from(r.text(0)?),
                    task: r.text(1)?,
                    stream: r.text(2)?,
                    partition: r.text(3)?,
                    days: day(4)?.zip(day(5)?),
                    slice: r.text(6)?,
                })
            },
        )
    }

    /// The committed files of partitions of one stream's slice: what a commit that holds those
    /// partitions whole retires.
    pub fn partition_files(
        &self,
        flow: &str,
        stream: &str,
        slice: &str,
        partitions: &[String],
    ) -> Result<Vec<PathBuf>, StateError> {
        let mut out = Vec::new();
        for part in partitions {
            out.extend(self.rows(
                "SELECT path FROM task_files
                 WHERE flow = ?1 AND stream = ?2 AND slice = ?3 AND partition = ?4 ORDER BY rowid",
                args![flow, stream, slice, part.as_str()],
                |r| r.text(0).map(PathBuf::from),
            )?);
        }
        Ok(out)
    }

    /// Drop files from the manifest (the lake lost them and their loss is accepted).
    pub fn forget_files(&self, flow: &str, paths: &[PathBuf]) -> Result<usize, StateError> {
        let mut forgot = 0;
        for p in paths {
            forgot += self.execute(
                "DELETE FROM task_files WHERE flow = ?1 AND path = ?2",
                args![flow, path_text(p)],
            )?;
        }
        Ok(forgot as usize)
    }

    /// Whether the store holds anything of `flow` (positions, files, windows, finished runs):
    /// a store that holds nothing beside a lake with data was lost or emptied.
    pub fn knows(&self, flow: &str) -> Result<bool, StateError> {
        self.flag(
            "SELECT EXISTS (SELECT 1 FROM checkpoints WHERE flow = ?1)
                 OR EXISTS (SELECT 1 FROM task_files WHERE flow = ?1)
                 OR EXISTS (SELECT 1 FROM windows WHERE flow = ?1)
                 OR EXISTS (SELECT 1 FROM runs WHERE flow = ?1 AND status != 'running')",
            args![flow],
        )
    }

    /// Whether any task of the stream has committed a file (that is still live).
    pub fn stream_has_files(&self, flow: &str, stream: &str) -> Result<bool, StateError> {
        self.flag(
            "SELECT EXISTS (SELECT 1 FROM task_files WHERE flow = ?1 AND stream = ?2)",
            args![flow, stream],
        )
    }

    /// The output files a task has written so far.
    pub fn task_files(&self, flow: &str, task: &str) -> Result<Vec<PathBuf>, StateError> {
        self.rows(
            "SELECT path FROM task_files WHERE flow = ?1 AND task = ?2 ORDER BY path",
            args![flow, task],
            |r| r.text(0).map(PathBuf::from),
        )
    }

    /// Start a task over: forget its checkpoint and completion (its files stay until a new
    /// pull of the task completes and replaces them).
    pub fn restart_task(&self, flow: &str, task: &str) -> Result<(), StateError> {
        self.transaction(vec![
            stmt(
                "DELETE FROM checkpoints WHERE flow = ?1 AND stream = ?2",
                args![flow, task],
            ),
            stmt(
                "DELETE FROM tasks WHERE flow = ?1 AND task = ?2",
                args![flow, task],
            ),
            stmt(
                "UPDATE windows SET done = ?3 WHERE flow = ?1 AND task = ?2",
                args![flow, task, false],
            ),
        ])
    }

    /// Files replaced by a completed task, still to delete.
    pub fn doomed_files(&self, flow: &str) -> Result<Vec<PathBuf>, StateError> {
        self.rows(
            "SELECT path FROM doomed_files WHERE flow = ?1 ORDER BY path",
            args![flow],
            |r| r.text(0).map(PathBuf::from),
        )
    }

    pub fn forget_doomed(&self, path: &Path) -> Result<(), StateError> {
        self.execute(
            "DELETE FROM doomed_files WHERE path = ?1",
            args![path_text(path)],
        )
        .map(|_| ())
    }

    /// Store a value under `key` (beside the checkpoints; read it back with
    /// [`StateStore::checkpoint`]).
    pub fn put_value(&self, flow: &str, key: &str, value: &Value) -> Result<(), StateError> {
        self.execute(
            "INSERT INTO checkpoints (flow, stream, value, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (flow, stream) DO UPDATE SET value = excluded.value,
               updated_at = excluded.updated_at",
            args![flow, key, value.to_string(), now()],
        )
        .map(|_| ())
    }

    /// Files of `flow` whose promotion was committed but may not have happened yet.
    pub fn pending_files(&self, flow: &str) -> Result<Vec<PendingFile>, StateError> {
        self.rows(
            "SELECT temp, target, run_id FROM pending_files WHERE flow = ?1 ORDER BY rowid",
            args![flow],
            |r| {
                Ok(PendingFile {
                    temp: PathBuf::from(r.text(0)?),
                    target: PathBuf::from(r.text(1)?),
                    run_id: r.text(2)?,
                })
            },
        )
    }

    pub fn forget_pending(&self, temp: &Path) -> Result<(), StateError> {
        self.execute(
            "DELETE FROM pending_files WHERE temp = ?1",
            args![path_text(temp)],
        )
        .map(|_| ())
    }

    /// Record the start of a run of `flow` in `mode`. The caller holds the (flow, mode) lock
    /// ([`Locks::acquire`]), so any other row of that flow and mode still `running` was left by
    /// a process that died: it is marked `crashed`.
    pub fn begin_run(
        &mut self,
        run_id: &str,
        flow: &str,
        mode: &str,
        started_at: &str,
        pid: u32,
    ) -> Result<(), StateError> {
        self.transaction(vec![
            stmt(
                "UPDATE runs SET status = 'crashed' WHERE flow = ?1 AND mode = ?2 AND status = 'running'",
                args![flow, mode],
            ),
            stmt(
                "INSERT INTO runs (run_id, flow, mode, started_at, status, pid)
                 VALUES (?1, ?2, ?3, ?4, 'running', ?5)",
                args![run_id, flow, mode, started_at, i64::from(pid)],
            ),
        ])
    }

    pub fn finish_run(
        &self,
        run_id: &str,
        status: &str,
        finished_at: &str,
        report: &Value,
    ) -> Result<(), StateError> {
        self.execute(
            "UPDATE runs SET status = ?2, finished_at = ?3, report = ?4 WHERE run_id = ?1",
            args![run_id, status, finished_at, report.to_string()],
        )
        .map(|_| ())
    }

    /// Run history, newest first.
    pub fn runs(&self, flow: Option<&str>, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let read = |r: &Row| -> Result<RunRecord, String> {
            Ok(RunRecord {
                run_id: r.text(0)?,
                flow: r.text(1)?,
                mode: r.text(6)?,
                started_at: r.text(2)?,
                finished_at: r.opt_text(3)?,
                status: r.text(4)?,
                report: r.opt_text(5)?.and_then(|t| serde_json::from_str(&t).ok()),
            })
        };
        match flow {
            Some(flow) => self.rows(
                "SELECT run_id, flow, started_at, finished_at, status, report, mode FROM runs
                 WHERE flow = ?1 ORDER BY started_at DESC, rowid DESC LIMIT ?2",
                args![flow, limit],
                read,
            ),
            None => self.rows(
                "SELECT run_id, flow, started_at, finished_at, status, report, mode FROM runs
                 ORDER BY started_at DESC, rowid DESC LIMIT ?1",
                args![limit],
                read,
            ),
        }
    }

    /// Forget the incremental positions of `streams`, so their next run starts afresh. Backfill
    /// windows keep their progress (`backfill --force` pulls them again), because a window
    /// that forgot its position while keeping its files would write them twice.
    pub fn reset(&self, flow: &str, streams: &[&str]) -> Result<usize, StateError> {
        let mut forgot = 0;
        for stream in streams {
            forgot += self.execute(
                "DELETE FROM checkpoints WHERE flow = ?1 AND stream = ?2",
                args![flow, *stream],
            )?;
        }
        Ok(forgot as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_of_an_older_version_is_migrated_with_its_done_windows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        {
            let conn = rusqlite::Connection::open(&path).expect("open");
            conn.execute_batch(crate::sqlite::SCHEMA)
                .expect("old schema");
            conn.execute(
                "INSERT INTO tasks (flow, task, completed_at) VALUES
                 ('f', 'users@2024-02-01..2024-02-14', '2024-03-01T00:00:00Z'),
                 ('f', 'users@2024-02-15..2024-02-28', '2024-02-20T10:00:00Z'),
                 ('f', 'users', '2024-03-01T00:00:00Z')",
                [],
            )
            .expect("old rows");
        }
        let s = StateStore::open(&path).expect("migrates");
        let w = s.windows("f", "users", "").expect("windows");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].done);
        assert_eq!(w[0].to.to_string(), "2024-02-14");
        assert!(
            !w[1].done,
            "a window completed before its last day ended was not whole"
        );
        drop(s);
        StateStore::open(&path).expect("reopens without migrating twice");
    }
}
