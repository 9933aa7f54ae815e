//! One SQL surface over the two stores, so the commit protocol is written once.
//!
//! Statements are written in the dialect both SQLite and PostgreSQL accept (upserts with
//! `ON CONFLICT`, no `INSERT OR REPLACE`, timestamps passed in rather than computed by the
//! database), with SQLite's `?N` placeholders and `rowid` for insertion order; [`pg_sql`]
//! turns those into `$N` and the `seq` column PostgreSQL's tables carry instead.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;

use crate::postgres::PgConn;

/// A statement parameter, owned so a statement can travel to the PostgreSQL thread.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        v.map_or(Arg::Null, Arg::Text)
    }
}

/// `args![a, b]`: the parameters of a statement.
macro_rules! args {
    ($($a:expr),* $(,)?) => { vec![$(crate::db::Arg::from($a)),*] };
}
pub(crate) use args;

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Arg::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Arg::Int(v) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*v)),
            Arg::Bool(v) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(i64::from(*v))),
        })
    }
}

/// One column value as read back; both stores' types map onto these.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
}

/// A result row.
#[derive(Debug, Clone)]
pub(crate) struct Row(pub(crate) Vec<Cell>);

impl Row {
    fn cell(&self, i: usize) -> Result<&Cell, String> {
        self.0
            .get(i)
            .ok_or_else(|| format!("column {i} missing from a result row"))
    }

    pub(crate) fn text(&self, i: usize) -> Result<String, String> {
        match self.cell(i)? {
            Cell::Text(s) => Ok(s.clone()),
            other => Err(format!("column {i} is {other:?}, not text")),
        }
    }

    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, String> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    pub(crate) fn bool(&self, i: usize) -> Result<bool, String> {
        match self.cell(i)? {
            Cell::Bool(b) => Ok(*b),
            Cell::Int(v) => Ok(*v != 0),
            other => Err(format!("column {i} is {other:?}, not a boolean")),
        }
    }
}

/// A statement with its parameters, one step of a transaction.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub(crate) sql: &'static str,
    pub(crate) args: Vec<Arg>,
    /// PostgreSQL only (SQLite serializes its writers already).
    pub(crate) pg_only: bool,
}

pub(crate) fn stmt(sql: &'static str, args: Vec<Arg>) -> Stmt {
    Stmt {
        sql,
        args,
        pg_only: false,
    }
}

/// First in a transaction: commits of one `key` (a flow) run one after another, as SQLite's
/// do. Under PostgreSQL's READ COMMITTED, two commits that retire the same day's files (a
/// backfill window and a run's lookback, or two shards) would otherwise each see the other's
/// rows only in part, and a file could leave the manifest without being retired.
pub(crate) fn serialized_by(key: String) -> Stmt {
    Stmt {
        sql: "SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))",
        args: vec![Arg::Text(key)],
        pg_only: true,
    }
}

/// The database behind a state store.
pub(crate) enum Db {
    Sqlite(Connection),
    Postgres(PgConn),
}

impl Db {
    pub(crate) fn query(&self, sql: &'static str, args: Vec<Arg>) -> Result<Vec<Row>, String> {
        match self {
            Db::Sqlite(conn) => sqlite_query(conn, sql, &args).map_err(|e| e.to_string()),
            Db::Postgres(pg) => {
                let sql = pg_sql(sql);
                pg.call(move |c| crate::postgres::query(c, &sql, &args))?
            }
        }
    }

    /// Rows the statement changed.
    pub(crate) fn execute(&self, sql: &'static str, args: Vec<Arg>) -> Result<u64, String> {
        match self {
            Db::Sqlite(conn) => conn
                .execute(sql, rusqlite::params_from_iter(args.iter()))
                .map(|n| n as u64)
                .map_err(|e| e.to_string()),
            Db::Postgres(pg) => {
                let sql = pg_sql(sql);
                pg.call(move |c| {
                    crate::postgres::execute(c, &sql, &args)
                        .map_err(|e| crate::postgres::describe(&e))
                })?
            }
        }
    }

    /// Run the statements in order, all or none.
    pub(crate) fn transaction(&self, stmts: Vec<Stmt>) -> Result<(), String> {
        match self {
            Db::Sqlite(conn) => {
                // immediate: the write lock is taken up front, so a busy store waits at the
                // start (busy_timeout) instead of failing mid-commit
                let tx = rusqlite::Transaction::new_unchecked(
                    conn,
                    rusqlite::TransactionBehavior::Immediate,
                )
                .map_err(|e| e.to_string())?;
                for s in stmts.iter().filter(|s| !s.pg_only) {
                    tx.execute(s.sql, rusqlite::params_from_iter(s.args.iter()))
                        .map_err(|e| e.to_string())?;
                }
                tx.commit().map_err(|e| e.to_string())
            }
            Db::Postgres(pg) => {
                let stmts: Vec<(String, Vec<Arg>)> =
                    stmts.into_iter().map(|s| (pg_sql(s.sql), s.args)).collect();
                pg.call(move |c| crate::postgres::transaction(c, &stmts))?
            }
        }
    }
}

fn sqlite_query(conn: &Connection, sql: &str, args: &[Arg]) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let width = stmt.column_count();
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            cells.push(match r.get_ref(i)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::Int(v),
                ValueRef::Real(v) => Cell::Text(v.to_string()),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Cell::Text(String::from_utf8_lossy(t).into_owned())
                }
            });
        }
        Ok(Row(cells))
    })?;
    rows.collect()
}

/// The shared dialect in PostgreSQL's spelling: `?N` → `$N`, `rowid` → `seq`.
pub(crate) fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out.replace("rowid", "seq")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_insertion_order_are_spelled_for_postgres() {
        assert_eq!(
            pg_sql("SELECT a FROM t WHERE x = ?1 AND (?2 IS NULL OR y = ?2) ORDER BY rowid"),
            "SELECT a FROM t WHERE x = $1 AND ($2 IS NULL OR y = $2) ORDER BY seq"
        );
    }

    #[test]
    fn a_row_names_the_column_it_cannot_read() {
        let row = Row(vec![Cell::Int(1), Cell::Null]);
        assert!(row.bool(0).expect("an integer is a boolean"));
        assert_eq!(row.opt_text(1), Ok(None));
        assert!(row.text(0).unwrap_err().contains("column 0"));
        assert!(row.text(5).unwrap_err().contains("column 5 missing"));
    }
}
