//! Checkpoints and run history in an embedded SQLite file.
//!
//! The store is the commit point of a run: a checkpoint advances in the same transaction that
//! records which staged files become final, so after a crash either both happened (the recovery
//! step finishes the renames) or neither did (the staged files are discarded and the data is
//! pulled again). Nothing is lost and nothing is written twice.

mod lock;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

pub use lock::{FileLocks, LockGuard, LockOwner, Locks};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store {path}: {message}")]
    Sqlite { path: String, message: String },
    #[error("flow `{flow}` is already running in mode `{mode}`: {holder} holds its lock; wait for it to finish")]
    Locked {
        flow: String,
        mode: String,
        holder: String,
    },
    #[error("lock file {path}: {message}")]
    Lock { path: String, message: String },
    #[error("state store {path}: stored checkpoint of `{flow}`/`{stream}` is not JSON: {message}")]
    Corrupt {
        path: String,
        flow: String,
        stream: String,
        message: String,
    },
}

/// A staged file whose promotion was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFile {
    pub temp: PathBuf,
    pub target: PathBuf,
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

pub struct StateStore {
    conn: Connection,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    flow TEXT NOT NULL,
    stream TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    PRIMARY KEY (flow, stream)
);
CREATE TABLE IF NOT EXISTS pending_files (
    temp TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    flow TEXT NOT NULL,
    run_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    flow TEXT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'run',
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    pid INTEGER NOT NULL,
    report TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_flow ON runs (flow, started_at);
CREATE TABLE IF NOT EXISTS tasks (
    flow TEXT NOT NULL,
    task TEXT NOT NULL,
    completed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    PRIMARY KEY (flow, task)
);
CREATE TABLE IF NOT EXISTS task_files (
    path TEXT PRIMARY KEY,
    flow TEXT NOT NULL,
    task TEXT NOT NULL,
    stream TEXT NOT NULL,
    partition TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS task_files_by_partition ON task_files (flow, stream, partition);
CREATE INDEX IF NOT EXISTS task_files_by_task ON task_files (flow, task);
CREATE TABLE IF NOT EXISTS doomed_files (
    path TEXT PRIMARY KEY,
    flow TEXT NOT NULL
);
";

/// Changes to [`SCHEMA`], in order; `PRAGMA user_version` counts those applied. A store written
/// by an older sluice is brought up to date when it is opened.
const MIGRATIONS: &[fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>] =
    &[windows_table, manifest_days, slices];

/// Slices (an ad account of a stream): a day of one slice is replaced by a pull of that slice
/// only, and backfill windows are per slice.
fn slices(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE task_files ADD COLUMN slice TEXT NOT NULL DEFAULT '';
         ALTER TABLE windows ADD COLUMN slice TEXT NOT NULL DEFAULT '';",
    )
}

/// The days of each committed file, so a lost file names the backfill that restores it.
fn manifest_days(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE task_files ADD COLUMN day_from TEXT;
         ALTER TABLE task_files ADD COLUMN day_to TEXT;",
    )
}

/// Backfill windows with their days, so completion is known per day whatever window layout a
/// later backfill asks for. Windows completed before this table existed are read from their keys.
fn windows_table(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS windows (
            flow TEXT NOT NULL,
            task TEXT NOT NULL,
            stream TEXT NOT NULL,
            day_from TEXT NOT NULL,
            day_to TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (flow, task)
        );
        CREATE INDEX IF NOT EXISTS windows_by_stream ON windows (flow, stream, day_from);",
    )?;
    let done: Vec<(String, String, String)> = {
        let mut stmt =
            tx.prepare("SELECT flow, task, completed_at FROM tasks WHERE task LIKE '%@%..%'")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (flow, task, completed_at) in done {
        if let Some((stream, from, to)) = parse_window_key(&task) {
            // a window that held its own completion day (or later days) was not complete:
            // older versions recorded those done
            let completed = completed_at.get(..10).unwrap_or_default();
            let whole = to.to_string().as_str() < completed;
            tx.execute(
                "INSERT OR IGNORE INTO windows (flow, task, stream, day_from, day_to, done)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![flow, task, stream, from.to_string(), to.to_string(), whole],
            )?;
        }
    }
    Ok(())
}

/// `stream@YYYY-MM-DD..YYYY-MM-DD` → its parts.
fn parse_window_key(key: &str) -> Option<(&str, NaiveDate, NaiveDate)> {
    let (stream, range) = key.rsplit_once('@')?;
    let (from, to) = range.split_once("..")?;
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    Some((stream, day(from)?, day(to)?))
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        step(&tx)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
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

impl StateStore {
    /// Open (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let display = path.display().to_string();
        let err = |e: &dyn std::fmt::Display| StateError::Sqlite {
            path: display.clone(),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err(&e))?;
        }
        let conn = Connection::open(path).map_err(|e| err(&e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| err(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| err(&e))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| err(&e))?;
        conn.execute_batch(SCHEMA).map_err(|e| err(&e))?;
        migrate(&conn).map_err(|e| err(&e))?;
        Ok(Self {
            conn,
            path: display,
        })
    }

    fn err(&self, e: rusqlite::Error) -> StateError {
        StateError::Sqlite {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Where the store is.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.path)
    }

    /// A consistent copy of the store at `to` (which must not exist), what it holds after its
    /// last commit even while other connections write, without the values kept under the
    /// pseudo-flow `leave_out` (secrets such as a rotated refresh token: the copy travels).
    /// The copy is vacuumed again after they go, so no page of it still holds them.
    pub fn snapshot(&self, to: &Path, leave_out: &str) -> Result<(), StateError> {
        let target = to.to_string_lossy().into_owned();
        self.conn
            .execute("VACUUM INTO ?1", params![target])
            .map_err(|e| self.err(e))?;
        let copy = Connection::open(to).map_err(|e| self.err(e))?;
        copy.execute(
            "DELETE FROM checkpoints WHERE flow = ?1",
            params![leave_out],
        )
        .and_then(|_| copy.execute_batch("VACUUM"))
        .map_err(|e| self.err(e))
    }

    pub fn checkpoint(&self, flow: &str, stream: &str) -> Result<Option<Value>, StateError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM checkpoints WHERE flow = ?1 AND stream = ?2",
                params![flow, stream],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StateError::Corrupt {
                path: self.path.clone(),
                flow: flow.into(),
                stream: stream.into(),
                message: e.to_string(),
            })
        })
        .transpose()
    }

    /// In one transaction: record that the commit's files are to be promoted, move the task's
    /// checkpoint, and on completion mark the task done and doom the files it replaces.
    pub fn commit(&mut self, c: Commit<'_>) -> Result<(), StateError> {
        let path = self.path.clone();
        let to_err = |e: rusqlite::Error| StateError::Sqlite {
            path: path.clone(),
            message: e.to_string(),
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(to_err)?;
        let result = (|| {
            for part in c.replace_partitions {
                tx.execute(
                    "INSERT OR REPLACE INTO doomed_files (path, flow)
                     SELECT path, flow FROM task_files
                     WHERE flow = ?1 AND stream = ?2 AND slice = ?3 AND partition = ?4",
                    params![c.flow, c.stream, c.slice, part],
                )?;
                tx.execute(
                    "DELETE FROM task_files WHERE flow = ?1 AND stream = ?2 AND slice = ?3 AND partition = ?4",
                    params![c.flow, c.stream, c.slice, part],
                )?;
            }
            for f in c.files {
                tx.execute(
                    "INSERT OR REPLACE INTO pending_files (temp, target, flow, run_id) VALUES (?1, ?2, ?3, ?4)",
                    params![f.temp.to_string_lossy(), f.target.to_string_lossy(), c.flow, c.run_id],
                )?;
                tx.execute(
                    "INSERT OR REPLACE INTO task_files (path, flow, task, stream, partition, day_from, day_to, slice)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        f.target.to_string_lossy(),
                        c.flow,
                        c.task,
                        c.stream,
                        f.partition,
                        f.days.map(|d| d.0.to_string()),
                        f.days.map(|d| d.1.to_string()),
                        c.slice
                    ],
                )?;
                // a file of this very commit is never retired by it
                tx.execute(
                    "DELETE FROM doomed_files WHERE path = ?1",
                    params![f.target.to_string_lossy()],
                )?;
            }
            if let Some(cp) = c.checkpoint {
                tx.execute(
                    "INSERT INTO checkpoints (flow, stream, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (flow, stream) DO UPDATE SET value = excluded.value,
                       updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
                    params![c.flow, c.task, cp.to_string()],
                )?;
            }
            if let Some((from, to)) = c.window {
                tx.execute(
                    "INSERT INTO windows (flow, task, stream, day_from, day_to, done, slice)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (flow, task) DO UPDATE SET done = max(done, excluded.done)",
                    params![
                        c.flow,
                        c.task,
                        c.stream,
                        from.to_string(),
                        to.to_string(),
                        c.completes,
                        c.slice
                    ],
                )?;
            }
            if c.completes {
                tx.execute(
                    "INSERT OR REPLACE INTO tasks (flow, task) VALUES (?1, ?2)",
                    params![c.flow, c.task],
                )?;
                for old in c.replaces {
                    tx.execute(
                        "INSERT OR REPLACE INTO doomed_files (path, flow) VALUES (?1, ?2)",
                        params![old.to_string_lossy(), c.flow],
                    )?;
                    tx.execute(
                        "DELETE FROM task_files WHERE path = ?1",
                        params![old.to_string_lossy()],
                    )?;
                }
            }
            Ok::<_, rusqlite::Error>(())
        })();
        match result {
            Ok(()) => tx.commit().map_err(to_err),
            Err(e) => Err(to_err(e)),
        }
    }

    /// Whether a task (a backfill window) completed.
    pub fn task_done(&self, flow: &str, task: &str) -> Result<bool, StateError> {
        self.conn
            .query_row(
                "SELECT 1 FROM tasks WHERE flow = ?1 AND task = ?2",
                params![flow, task],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// The backfill windows of a stream's slice that committed anything, oldest days first.
    pub fn windows(
        &self,
        flow: &str,
        stream: &str,
        slice: &str,
    ) -> Result<Vec<WindowRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT task, day_from, day_to, done FROM windows
                 WHERE flow = ?1 AND stream = ?2 AND slice = ?3 ORDER BY day_from, day_to",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![flow, stream, slice], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (task, from, to, done) = row.map_err(|e| self.err(e))?;
            let day = |s: &str| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| StateError::Corrupt {
                    path: self.path.clone(),
                    flow: flow.into(),
                    stream: task.clone(),
                    message: format!("window day `{s}`: {e}"),
                })
            };
            out.push(WindowRecord {
                from: day(&from)?,
                to: day(&to)?,
                task,
                done,
            });
        }
        Ok(out)
    }

    /// Every checkpoint of `flow`: incremental positions (`stream`, `stream/slice`) and
    /// backfill windows' (`…@from..to`), by key, with when each last moved (ISO-8601).
    pub fn checkpoints(&self, flow: &str) -> Result<Vec<(String, Value, String)>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT stream, value, updated_at FROM checkpoints WHERE flow = ?1 ORDER BY stream",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![flow], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, text, at) = row.map_err(|e| self.err(e))?;
            let value = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                path: self.path.clone(),
                flow: flow.into(),
                stream: key.clone(),
                message: e.to_string(),
            })?;
            out.push((key, value, at));
        }
        Ok(out)
    }

    /// Every backfill window of `flow`, by stream and slice, oldest days first.
    pub fn all_windows(
        &self,
        flow: &str,
    ) -> Result<Vec<(String, String, WindowRecord)>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT DISTINCT stream, slice FROM windows WHERE flow = ?1 ORDER BY stream, slice",
            )
            .map_err(|e| self.err(e))?;
        let parts: Vec<(String, String)> = stmt
            .query_map(params![flow], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
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
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, task, stream, partition, day_from, day_to, slice FROM task_files
                 WHERE flow = ?1 ORDER BY rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![flow], |r| {
                let day = |i: usize| -> rusqlite::Result<Option<NaiveDate>> {
                    Ok(r.get::<_, Option<String>>(i)?
                        .and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()))
                };
                Ok(ManifestFile {
                    path: PathBuf::from(r.get::<_, String>(0)?),
                    task: r.get(1)?,
                    stream: r.get(2)?,
                    partition: r.get(3)?,
                    days: day(4)?.zip(day(5)?),
                    slice: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Drop files from the manifest (the lake lost them and their loss is accepted).
    pub fn forget_files(&self, flow: &str, paths: &[PathBuf]) -> Result<usize, StateError> {
        let mut forgot = 0;
        for p in paths {
            forgot += self
                .conn
                .execute(
                    "DELETE FROM task_files WHERE flow = ?1 AND path = ?2",
                    params![flow, p.to_string_lossy()],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(forgot)
    }

    /// Whether the store holds anything of `flow` (positions, files, windows, finished runs):
    /// a store that holds nothing beside a lake with data was lost or emptied.
    pub fn knows(&self, flow: &str) -> Result<bool, StateError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM checkpoints WHERE flow = ?1)
                     OR EXISTS (SELECT 1 FROM task_files WHERE flow = ?1)
                     OR EXISTS (SELECT 1 FROM windows WHERE flow = ?1)
                     OR EXISTS (SELECT 1 FROM runs WHERE flow = ?1 AND status != 'running')",
                params![flow],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Whether any task of the stream has committed a file (that is still live).
    pub fn stream_has_files(&self, flow: &str, stream: &str) -> Result<bool, StateError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM task_files WHERE flow = ?1 AND stream = ?2)",
                params![flow, stream],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// The output files a task has written so far.
    pub fn task_files(&self, flow: &str, task: &str) -> Result<Vec<PathBuf>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT path FROM task_files WHERE flow = ?1 AND task = ?2 ORDER BY path")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![flow, task], |r| {
                Ok(PathBuf::from(r.get::<_, String>(0)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Start a task over: forget its checkpoint and completion (its files stay until a new
    /// pull of the task completes and replaces them).
    pub fn restart_task(&self, flow: &str, task: &str) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM checkpoints WHERE flow = ?1 AND stream = ?2",
                params![flow, task],
            )
            .and_then(|_| {
                self.conn.execute(
                    "DELETE FROM tasks WHERE flow = ?1 AND task = ?2",
                    params![flow, task],
                )
            })
            .and_then(|_| {
                self.conn.execute(
                    "UPDATE windows SET done = 0 WHERE flow = ?1 AND task = ?2",
                    params![flow, task],
                )
            })
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Files replaced by a completed task, still to delete.
    pub fn doomed_files(&self, flow: &str) -> Result<Vec<PathBuf>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT path FROM doomed_files WHERE flow = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![flow], |r| Ok(PathBuf::from(r.get::<_, String>(0)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn forget_doomed(&self, path: &Path) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM doomed_files WHERE path = ?1",
                params![path.to_string_lossy()],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Store a value under `key` (beside the checkpoints; read it back with
    /// [`StateStore::checkpoint`]).
    pub fn put_value(&self, flow: &str, key: &str, value: &Value) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO checkpoints (flow, stream, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (flow, stream) DO UPDATE SET value = excluded.value,
                   updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
                params![flow, key, value.to_string()],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Files of `flow` whose promotion was committed but may not have happened yet.
    pub fn pending_files(&self, flow: &str) -> Result<Vec<PendingFile>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT temp, target FROM pending_files WHERE flow = ?1 ORDER BY rowid")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![flow], |r| {
                Ok(PendingFile {
                    temp: PathBuf::from(r.get::<_, String>(0)?),
                    target: PathBuf::from(r.get::<_, String>(1)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn forget_pending(&self, temp: &Path) -> Result<(), StateError> {
        self.conn
            .execute(
                "DELETE FROM pending_files WHERE temp = ?1",
                params![temp.to_string_lossy()],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
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
        let path = self.path.clone();
        let sql_err = |e: rusqlite::Error| StateError::Sqlite {
            path: path.clone(),
            message: e.to_string(),
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        tx.execute(
            "UPDATE runs SET status = 'crashed' WHERE flow = ?1 AND mode = ?2 AND status = 'running'",
            params![flow, mode],
        )
        .map_err(sql_err)?;
        tx.execute(
            "INSERT INTO runs (run_id, flow, mode, started_at, status, pid) VALUES (?1, ?2, ?3, ?4, 'running', ?5)",
            params![run_id, flow, mode, started_at, pid],
        )
        .map_err(sql_err)?;
        tx.commit().map_err(sql_err)
    }

    pub fn finish_run(
        &self,
        run_id: &str,
        status: &str,
        finished_at: &str,
        report: &Value,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "UPDATE runs SET status = ?2, finished_at = ?3, report = ?4 WHERE run_id = ?1",
                params![run_id, status, finished_at, report.to_string()],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Run history, newest first.
    pub fn runs(&self, flow: Option<&str>, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT run_id, flow, started_at, finished_at, status, report, mode FROM runs
                 WHERE (?1 IS NULL OR flow = ?1) ORDER BY started_at DESC, rowid DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![flow, limit as i64], |r| {
                let report: Option<String> = r.get(5)?;
                Ok(RunRecord {
                    run_id: r.get(0)?,
                    flow: r.get(1)?,
                    mode: r.get(6)?,
                    started_at: r.get(2)?,
                    finished_at: r.get(3)?,
                    status: r.get(4)?,
                    report: report.and_then(|t| serde_json::from_str(&t).ok()),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Forget the incremental positions of `streams`, so their next run starts afresh. Backfill
    /// windows keep their progress (`backfill --force` pulls them again), because a window
    /// that forgot its position while keeping its files would write them twice.
    pub fn reset(&self, flow: &str, streams: &[&str]) -> Result<usize, StateError> {
        let mut forgot = 0;
        for stream in streams {
            forgot += self
                .conn
                .execute(
                    "DELETE FROM checkpoints WHERE flow = ?1 AND stream = ?2",
                    params![flow, stream],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(forgot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checkpoints_and_pending_files_commit_together() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = StateStore::open(&dir.path().join("_sluice/state.db")).expect("open");
        assert_eq!(s.checkpoint("f", "users").expect("read"), None);
        let file = PendingFile {
            temp: "/t/a.tmp".into(),
            target: "/o/a.parquet".into(),
        };
        let new = NewFile {
            temp: file.temp.clone(),
            target: file.target.clone(),
            partition: "2024-01-01".into(),
            days: None,
        };
        s.commit(Commit {
            run_id: "r1",
            flow: "f",
            task: "users",
            stream: "users",
            slice: "",
            window: None,
            checkpoint: Some(&json!({"mark": 5})),
            files: std::slice::from_ref(&new),
            completes: false,
            replaces: &[],
            replace_partitions: &[],
        })
        .expect("commit");
        assert_eq!(
            s.checkpoint("f", "users").expect("read"),
            Some(json!({"mark": 5}))
        );
        assert_eq!(s.pending_files("f").expect("pending"), vec![file.clone()]);
        s.forget_pending(&file.temp).expect("forget");
        assert!(s.pending_files("f").expect("pending").is_empty());
        // survives reopening
        drop(s);
        let s = StateStore::open(&dir.path().join("_sluice/state.db")).expect("reopen");
        assert_eq!(
            s.checkpoint("f", "users").expect("read"),
            Some(json!({"mark": 5}))
        );
        assert_eq!(s.reset("f", &["other"]).expect("reset"), 0);
        assert_eq!(s.reset("f", &["users"]).expect("reset"), 1);
        assert_eq!(s.checkpoint("f", "users").expect("read"), None);
    }

    #[test]
    fn a_row_left_running_is_marked_crashed_whatever_its_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = StateStore::open(&dir.path().join("state.db")).expect("open");
        // pid 1 is alive in every container: a pid check would take this row for a live run
        s.begin_run("r1", "f", "run", "2024-01-01T00:00:00Z", 1)
            .expect("first run");
        s.begin_run("b1", "f", "backfill", "2024-01-01T00:00:01Z", 1)
            .expect("a backfill row");
        s.begin_run("r2", "f", "run", "2024-01-01T00:00:02Z", 1)
            .expect("the caller holds the lock, so r1 is dead");
        s.finish_run(
            "r2",
            "success",
            "2024-01-01T00:00:05Z",
            &json!({"ok": true}),
        )
        .expect("finish");
        let runs = s.runs(Some("f"), 10).expect("runs");
        let statuses: Vec<(&str, &str)> = runs
            .iter()
            .map(|r| (r.run_id.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(
            statuses,
            [("r2", "success"), ("b1", "running"), ("r1", "crashed")],
            "a backfill row is another mode's"
        );
        assert_eq!(runs[0].report, Some(json!({"ok": true})));
    }

    #[test]
    fn a_completing_commit_marks_the_task_and_dooms_what_it_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = StateStore::open(&dir.path().join("state.db")).expect("open");
        let file = |t: &str, p: &str| NewFile {
            temp: t.into(),
            target: p.into(),
            partition: "2026-01-01".into(),
            days: None,
        };
        let old = file("/t/1", "/o/old.parquet");
        let new = file("/t/2", "/o/new.parquet");
        let task = "users@2024-01-01..2024-01-07";
        let commit = |files, completes, replaces| Commit {
            run_id: "r",
            flow: "f",
            task,
            stream: "users",
            slice: "",
            window: None,
            checkpoint: None,
            files,
            completes,
            replaces,
            replace_partitions: &[],
        };
        s.commit(commit(std::slice::from_ref(&old), true, &[]))
            .expect("first pull");
        assert!(s.task_done("f", task).expect("done"));
        s.restart_task("f", task).expect("restart");
        assert!(!s.task_done("f", task).expect("not done"));
        let previous = s.task_files("f", task).expect("files");
        assert_eq!(previous, vec![old.target.clone()]);
        s.commit(commit(std::slice::from_ref(&new), false, &previous))
            .expect("progress");
        assert!(
            s.doomed_files("f").expect("doomed").is_empty(),
            "old files stay until completion"
        );
        s.commit(commit(&[], true, &previous)).expect("completion");
        assert_eq!(
            s.doomed_files("f").expect("doomed"),
            vec![old.target.clone()]
        );
        assert_eq!(
            s.task_files("f", task).expect("files"),
            vec![new.target.clone()]
        );
    }

    #[test]
    fn a_whole_partition_replaces_its_earlier_files_from_any_task() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = StateStore::open(&dir.path().join("state.db")).expect("open");
        let file = |p: &str, day: &str| NewFile {
            temp: format!("/t/{p}").into(),
            target: format!("/o/{p}").into(),
            partition: day.into(),
            days: None,
        };
        let base = Commit {
            run_id: "r",
            flow: "f",
            task: "events@2024-05-01..2024-05-07",
            stream: "events",
            slice: "",
            window: None,
            checkpoint: None,
            files: &[],
            completes: true,
            replaces: &[],
            replace_partitions: &[],
        };
        let first = [file("a1", "2024-05-01"), file("b1", "2024-05-02")];
        let days = ["2024-05-01".to_string(), "2024-05-02".to_string()];
        s.commit(Commit {
            files: &first,
            replace_partitions: &days,
            ..base
        })
        .expect("backfill");
        assert!(s.doomed_files("f").expect("doomed").is_empty());
        // an incremental pull re-reads 2024-05-02 whole
        let again = [file("b2", "2024-05-02")];
        let day2 = ["2024-05-02".to_string()];
        s.commit(Commit {
            task: "events",
            files: &again,
            replace_partitions: &day2,
            ..base
        })
        .expect("lookback");
        assert_eq!(
            s.doomed_files("f").expect("doomed"),
            vec![PathBuf::from("/o/b1")]
        );
        assert_eq!(
            s.task_files("f", "events").expect("files"),
            vec![PathBuf::from("/o/b2")]
        );
        assert_eq!(
            s.task_files("f", "events@2024-05-01..2024-05-07")
                .expect("files"),
            vec![PathBuf::from("/o/a1")],
            "the other day is untouched"
        );
    }

    #[test]
    fn windows_are_known_by_their_days_and_a_forced_one_is_open_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = StateStore::open(&dir.path().join("state.db")).expect("open");
        let d = |t: &str| NaiveDate::parse_from_str(t, "%Y-%m-%d").expect("day");
        let task = "users@2024-01-01..2024-01-07";
        let commit = |completes| Commit {
            run_id: "r",
            flow: "f",
            task,
            stream: "users",
            slice: "",
            window: Some((d("2024-01-01"), d("2024-01-07"))),
            checkpoint: None,
            files: &[],
            completes,
            replaces: &[],
            replace_partitions: &[],
        };
        s.commit(commit(false)).expect("progress");
        let open = s.windows("f", "users", "").expect("windows");
        assert_eq!(
            open,
            [WindowRecord {
                task: task.into(),
                from: d("2024-01-01"),
                to: d("2024-01-07"),
                done: false
            }]
        );
        s.commit(commit(true)).expect("done");
        s.commit(commit(false))
            .expect("a later commit does not undo completion");
        assert!(s.windows("f", "users", "").expect("windows")[0].done);
        s.restart_task("f", task).expect("force");
        assert!(!s.windows("f", "users", "").expect("windows")[0].done);
        assert!(s.windows("f", "other", "").expect("windows").is_empty());
    }

    #[test]
    fn a_store_of_an_older_version_is_migrated_with_its_done_windows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(SCHEMA).expect("old schema");
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
