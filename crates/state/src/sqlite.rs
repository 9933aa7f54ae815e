//! The embedded store: one SQLite file per lake, its schema and the migrations of stores that
//! older versions of sluice wrote.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use rusqlite::{params, Connection, TransactionBehavior};

/// Open (creating if needed) the SQLite store at `path`, migrated to the current layout.
pub(crate) fn open(path: &Path) -> Result<Connection, String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    (|| {
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)
    })()
    .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// A consistent copy of the store at `to` without the values of the pseudo-flow `leave_out`,
/// vacuumed again after they go so no page of it still holds them.
pub(crate) fn snapshot(conn: &Connection, to: &Path, leave_out: &str) -> Result<(), String> {
    let target = to.to_string_lossy().into_owned();
    conn.execute("VACUUM INTO ?1", params![target])
        .map_err(|e| e.to_string())?;
    let copy = Connection::open(to).map_err(|e| e.to_string())?;
    copy.execute(
        "DELETE FROM checkpoints WHERE flow = ?1",
        params![leave_out],
    )
    .and_then(|_| copy.execute_batch("VACUUM"))
    .map(|_| ())
    .map_err(|e| e.to_string())
}

pub(crate) const SCHEMA: &str = "
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
