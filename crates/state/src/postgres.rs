//! The state store in PostgreSQL, shared by every machine that runs a flow's shards.
//!
//! The `postgres` client drives its own small runtime and must not be called from inside the
//! runner's: each connection therefore lives on a thread of its own and the store sends it
//! closures ([`PgConn::call`]), which blocks the caller the way a SQLite statement does.
//!
//! Locks are leases held by a session: a PostgreSQL advisory lock, which the server releases
//! the moment the holder's connection ends (a killed pod frees its lease at once, with no
//! expiry to wait out), plus a `leases` row naming the owner and its heartbeat for messages
//! and for telling whether a run is alive.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use postgres::config::{Host, SslMode};
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, Config, NoTls, Statement};

use crate::db::{Arg, Cell, Row};
use crate::lock::{describe_holder, Held, LockGuard, LockOwner, Locks};
use crate::StateError;

/// Where a PostgreSQL store is, with the URL's secrets kept out of every message.
#[derive(Clone)]
pub struct PgTarget {
    config: Config,
    schema: String,
    display: String,
    /// `sslmode=require`: TLS, with the server's certificate verified.
    tls: bool,
    /// Certificate authorities trusted beside the public roots (`[state] ca_file`).
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl PgTarget {
    /// `url` is a `postgres://` URL or a `key=value` connection string; `schema` holds the
    /// tables (created on first use).
    pub fn parse(url: &str, schema: &str) -> Result<Self, String> {
        let mut config = Config::from_str(url).map_err(|e| {
            // the parser's message never echoes the string, which may hold a password
            format!("not a PostgreSQL connection URL ({e}); write postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        })?;
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || schema.is_empty()
            || schema.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(format!(
                "schema `{schema}` must be letters, digits and `_`, not starting with a digit"
            ));
        }
        // prefer (the default) connects in the clear, as `disable` does: TLS is what
        // `require` asks for, and then the certificate is verified, never merely accepted
        let tls = config.get_ssl_mode() == SslMode::Require;
        if !tls {
            config.ssl_mode(SslMode::Disable);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        // a server gone silent (a partition, a dead host) is noticed in about a minute, not
        // after the kernel's two hours: a commit, a heartbeat or a release never hangs on it
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(20));
        config.tcp_user_timeout(Duration::from_secs(60));
        config.application_name("sluice");
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("");
        let db = config.get_dbname().unwrap_or(user);
        let display = format!("postgres://{user}@{host}:{port}/{db} (schema {schema})");
        Ok(Self {
            config,
            schema: schema.to_string(),
            display,
            tls,
            extra_roots: Vec::new(),
        })
    }

    /// Trust the certificate authorities of the PEM file `path` too (a private CA, such as a
    /// cloud's database CA bundle).
    pub fn with_ca_file(mut self, path: &std::path::Path) -> Result<Self, String> {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                format!(
                    "{}: not a readable PEM certificate file: {e}",
                    path.display()
                )
            })?;
        if certs.is_empty() {
            return Err(format!("{}: holds no PEM certificate", path.display()));
        }
        self.extra_roots.extend(certs);
        Ok(self)
    }

    /// Whether connections use TLS (`sslmode=require`).
    pub fn uses_tls(&self) -> bool {
        self.tls
    }

    fn tls_config(&self) -> Result<Option<rustls::ClientConfig>, String> {
        if !self.tls {
            return Ok(None);
        }
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in &self.extra_roots {
            roots
                .add(cert.clone())
                .map_err(|e| format!("[state] ca_file: a certificate rustls refuses: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Some(config))
    }

    /// Whether the URL itself carries a password.
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }

    /// The password, given apart from the URL (a flow's `password = "${NAME}"`).
    pub fn with_password(mut self, password: &str) -> Self {
        self.config.password(password);
        self
    }

    /// How messages name the store: no password, ever.
    pub fn display(&self) -> &str {
        &self.display
    }

    pub(crate) fn err(&self, message: impl Into<String>) -> StateError {
        StateError::Postgres {
            store: self.display.clone(),
            message: message.into(),
        }
    }
}

/// A connection with the statements it has prepared.
pub(crate) struct Session {
    client: Client,
    prepared: HashMap<String, Statement>,
}

impl Session {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// A connection on its own thread.
pub(crate) struct PgConn {
    jobs: mpsc::Sender<Job>,
}

impl PgConn {
    /// Connect, and with `migrate` bring the schema up to date.
    pub(crate) fn connect(target: &PgTarget, migrate: bool) -> Result<Self, StateError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::channel::<Result<(), String>>();
        let config = target.config.clone();
        let schema = target.schema.clone();
        let tls = target.tls_config().map_err(|e| target.err(e))?;
        std::thread::Builder::new()
            .name("sluice-postgres".into())
            .spawn(move || {
                let client = match open(&config, tls, &schema, migrate) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                let mut session = Session {
                    client,
                    prepared: HashMap::new(),
                };
                while let Ok(job) = queue.recv() {
                    job(&mut session);
                }
            })
            .map_err(|e| target.err(format!("cannot start its connection thread: {e}")))?;
        connected
            .recv()
            .map_err(|_| target.err("its connection thread ended before connecting"))?
            .map_err(|e| target.err(e))?;
        Ok(Self { jobs })
    }

    /// Run `f` on the connection's thread and wait for its result.
    pub(crate) fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session) -> R + Send + 'static,
    ) -> Result<R, String> {
        let (reply, result) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |s| {
                let _ = reply.send(f(s));
            }))
            .map_err(|_| "the connection thread is gone".to_string())?;
        result
            .recv()
            .map_err(|_| "the connection thread ended mid-statement".to_string())
    }
}

/// What a PostgreSQL error says, with its SQLSTATE when the server sent one.
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

fn open(
    config: &Config,
    tls: Option<rustls::ClientConfig>,
    schema: &str,
    migrate: bool,
) -> Result<Client, String> {
    let connected = match tls {
        Some(tls) => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls)),
        None => config.connect(NoTls),
    };
    let mut client = connected.map_err(|e| {
        let text = describe(&e);
        if text.contains("certificate") {
            format!(
                "{text} (sslmode=require verifies the server's certificate against the public \
                 roots and the CA of [state] ca_file)"
            )
        } else {
            text
        }
    })?;
    // machines starting at once race on IF NOT EXISTS (PostgreSQL checks, then inserts):
    // the loser's duplicate is the winner's schema
    if let Err(e) = client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")) {
        let raced = e.code().is_some_and(|c| {
            *c == postgres::error::SqlState::UNIQUE_VIOLATION
                || *c == postgres::error::SqlState::DUPLICATE_SCHEMA
        });
        if !raced {
            return Err(describe(&e));
        }
    }
    // a statement stuck behind another session's lock ends with an error, not never
    client
        .batch_execute(&format!(
            "SET search_path TO \"{schema}\"; SET statement_timeout = '300s'"
        ))
        .map_err(|e| describe(&e))?;
    if migrate {
        run_migrations(&mut client, schema).map_err(|e| match e {
            MigrateError::Pg(e) => describe(&e),
            MigrateError::Newer(v) => format!(
                "its schema is version {v}, written by a newer sluice (this one knows {}); \
                 upgrade sluice on every machine that runs this flow",
                MIGRATIONS.len()
            ),
        })?;
    }
    Ok(client)
}

/// The tables, in the shape the SQLite store has after all its migrations; `seq` keeps
/// insertion order where SQLite's `rowid` does.
const SCHEMA_V1: &str = "
CREATE TABLE checkpoints (
    flow TEXT NOT NULL,
    stream TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (flow, stream)
);
CREATE TABLE pending_files (
    seq BIGSERIAL,
    temp TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    flow TEXT NOT NULL,
    run_id TEXT NOT NULL
);
CREATE TABLE runs (
    seq BIGSERIAL,
    run_id TEXT PRIMARY KEY,
    flow TEXT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'run',
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    pid BIGINT NOT NULL,
    report TEXT
);
CREATE INDEX runs_by_flow ON runs (flow, started_at);
CREATE TABLE tasks (
    flow TEXT NOT NULL,
    task TEXT NOT NULL,
    completed_at TEXT NOT NULL,
    PRIMARY KEY (flow, task)
);
CREATE TABLE task_files (
    seq BIGSERIAL,
    path TEXT PRIMARY KEY,
    flow TEXT NOT NULL,
    task TEXT NOT NULL,
    stream TEXT NOT NULL,
    partition TEXT NOT NULL,
    day_from TEXT,
    day_to TEXT,
    slice TEXT NOT NULL DEFAULT ''
);
CREATE INDEX task_files_by_partition ON task_files (flow, stream, partition);
CREATE INDEX task_files_by_task ON task_files (flow, task);
CREATE TABLE doomed_files (
    path TEXT PRIMARY KEY,
    flow TEXT NOT NULL
);
CREATE TABLE windows (
    flow TEXT NOT NULL,
    task TEXT NOT NULL,
    stream TEXT NOT NULL,
    day_from TEXT NOT NULL,
    day_to TEXT NOT NULL,
    done BOOLEAN NOT NULL DEFAULT false,
    slice TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (flow, task)
);
CREATE INDEX windows_by_stream ON windows (flow, stream, day_from);
CREATE TABLE leases (
    flow TEXT NOT NULL,
    mode TEXT NOT NULL,
    run_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    backend_pid INTEGER NOT NULL,
    backend_start TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    PRIMARY KEY (flow, mode)
);
";

/// Schema changes in order; `schema_version` counts those applied. A new one is appended,
/// never edited, so every machine of a fleet reaches the same shape.
const MIGRATIONS: &[&str] = &[SCHEMA_V1];

enum MigrateError {
    Pg(postgres::Error),
    Newer(i64),
}

impl From<postgres::Error> for MigrateError {
    fn from(e: postgres::Error) -> Self {
        MigrateError::Pg(e)
    }
}

fn run_migrations(client: &mut Client, schema: &str) -> Result<(), MigrateError> {
    let mut tx = client.transaction()?;
    // shards start together: one migrates, the others wait and find it done
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&format!("sluice-schema/{schema}")],
    )?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let applied: i64 = tx
        .query_opt("SELECT version FROM schema_version", &[])?
        .map_or(0, |r| r.get(0));
    let known = MIGRATIONS.len() as i64;
    if applied > known {
        return Err(MigrateError::Newer(applied));
    }
    for step in MIGRATIONS.iter().skip(applied.max(0) as usize) {
        tx.batch_execute(step)?;
    }
    if applied < known {
        tx.execute("DELETE FROM schema_version", &[])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&known],
        )?;
    }
    tx.commit()?;
    Ok(())
}

impl ToSql for Arg {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Text(s) => s.as_str().to_sql_checked(ty, out),
            Arg::Bool(b) => b.to_sql_checked(ty, out),
            Arg::Int(v) => match *ty {
                Type::INT4 => i32::try_from(*v)?.to_sql_checked(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql_checked(ty, out),
                _ => v.to_sql_checked(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        // each value checks its own type when written
        true
    }

    to_sql_checked!();
}

fn params(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

fn cells(row: &postgres::Row) -> Result<Row, postgres::Error> {
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let cell = if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)?
                .map_or(Cell::Null, Cell::Bool)
        } else if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?
                .map_or(Cell::Null, Cell::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?
                .map_or(Cell::Null, |v| Cell::Int(v.into()))
        } else {
            row.try_get::<_, Option<String>>(i)?
                .map_or(Cell::Null, Cell::Text)
        };
        out.push(cell);
    }
    Ok(Row(out))
}

pub(crate) fn query(s: &mut Session, sql: &str, args: &[Arg]) -> Result<Vec<Row>, String> {
    (|| {
        let stmt = s.statement(sql)?;
        s.client
            .query(&stmt, &params(args))?
            .iter()
            .map(cells)
            .collect::<Result<Vec<Row>, postgres::Error>>()
    })()
    .map_err(|e: postgres::Error| describe(&e))
}

pub(crate) fn execute(s: &mut Session, sql: &str, args: &[Arg]) -> Result<u64, postgres::Error> {
    let stmt = s.statement(sql)?;
    s.client.execute(&stmt, &params(args))
}

pub(crate) fn transaction(s: &mut Session, stmts: &[(String, Vec<Arg>)]) -> Result<(), String> {
    (|| {
        // prepared before the transaction, so a rolled-back one leaves none half-known
        let prepared: Vec<Statement> = stmts
            .iter()
            .map(|(sql, _)| s.statement(sql))
            .collect::<Result<_, _>>()?;
        let mut tx = s.client.transaction()?;
        for (stmt, (_, args)) in prepared.iter().zip(stmts) {
            tx.execute(stmt, &params(args))?;
        }
        tx.commit()
    })()
    .map_err(|e: postgres::Error| describe(&e))
}

/// Leases of a PostgreSQL store (see the module's doc).
pub struct PgLocks {
    target: PgTarget,
    /// The connection liveness questions go over, made on the first (recovery asks one per
    /// staged file).
    probe: std::sync::Mutex<Option<PgConn>>,
}

impl PgLocks {
    pub fn new(target: PgTarget) -> Self {
        Self {
            target,
            probe: std::sync::Mutex::new(None),
        }
    }
}

/// How often a held lease says it is still there.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// A held lease: its session (whose end releases the advisory locks) and its heartbeat.
struct HeldLease {
    conn: Arc<PgConn>,
    stop: Option<mpsc::Sender<()>>,
    /// Set by the heartbeat when the session is gone: the locks went with it.
    lost: Arc<AtomicBool>,
    flow: String,
    mode: String,
    run_id: String,
}

impl Held for HeldLease {
    fn check(&self) -> Result<(), String> {
        let lost = || {
            "this run's lease is lost (its connection to the state store ended, so another \
             process may have taken over): stopping before it commits anything more"
                .to_string()
        };
        if self.lost.load(Ordering::SeqCst) {
            return Err(lost());
        }
        // the session is alive (and holds its locks) if it answers
        match self
            .conn
            .call(|s| s.client.simple_query("SELECT 1").map(|_| ()))
        {
            Ok(Ok(())) => Ok(()),
            _ => {
                self.lost.store(true, Ordering::SeqCst);
                Err(lost())
            }
        }
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        drop(self.stop.take());
        let (flow, mode, run_id) = (self.flow.clone(), self.mode.clone(), self.run_id.clone());
        let _ = self.conn.call(move |s| {
            let _ = s.client.execute(
                "DELETE FROM leases WHERE flow = $1 AND mode = $2 AND run_id = $3",
                &[&flow, &mode, &run_id],
            );
            let _ = s.client.execute("SELECT pg_advisory_unlock_all()", &[]);
        });
    }
}

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Why a lease was refused: who holds it, when the holder is known.
enum Refused {
    Held(Option<String>),
    OtherCount(String),
}

impl PgLocks {
    fn key(&self, flow: &str, what: &str) -> String {
        format!("sluice/{}/{flow}/{what}", self.target.schema)
    }

    fn run_key(&self, flow: &str, run_id: &str) -> String {
        self.key(flow, &format!("run {run_id}"))
    }
}

/// Take an advisory lock of the session, shared or exclusive, without waiting.
fn try_lock(s: &mut Session, key: &str, shared: bool) -> Result<bool, postgres::Error> {
    let sql = if shared {
        "SELECT pg_try_advisory_lock_shared(hashtextextended($1, 0))"
    } else {
        "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
    };
    Ok(s.client.query_one(sql, &[&key])?.get(0))
}

fn holder(s: &mut Session, flow: &str, mode_like: &str) -> Result<Option<String>, postgres::Error> {
    Ok(s.client
        .query_opt(
            "SELECT owner FROM leases WHERE flow = $1 AND mode LIKE $2 ORDER BY acquired_at DESC LIMIT 1",
            &[&flow, &mode_like],
        )?
        .map(|r| r.get::<_, String>(0)))
}

impl Locks for PgLocks {
    /// The lock of `mode` for the flow. A shard's mode (`backfill shard 1/4`, see
    /// [`crate::shard_mode`]) holds its base mode shared and its own exclusively: the shards
    /// of one flow run at once, each alone, while an unsharded run or a `state reset` (which
    /// hold the base exclusively) waits for all of them, and shards dealt by another N are
    /// refused (they would run the same tasks).
    fn acquire(&self, flow: &str, mode: &str, owner: &LockOwner) -> Result<LockGuard, StateError> {
        let conn = Arc::new(PgConn::connect(&self.target, true)?);
        let owner_json =
            serde_json::to_string(owner).map_err(|e| self.target.err(e.to_string()))?;
        let (base, shard) = crate::lock::split_shard_mode(mode);
        let base_key = self.key(flow, base);
        let own_key = self.key(flow, mode);
        let run_key = self.run_key(flow, &owner.run_id);
        let probe_prefix = self.key(flow, "run ");
        let (f, m, b, run_id) = (
            flow.to_string(),
            mode.to_string(),
            base.to_string(),
            owner.run_id.clone(),
        );
        let taken = conn
            .call(move |s| -> Result<Result<(), Refused>, postgres::Error> {
                if !try_lock(s, &base_key, shard.is_some())? {
                    return Ok(Err(Refused::Held(holder(s, &f, &format!("{b}%"))?)));
                }
                if shard.is_some() && !try_lock(s, &own_key, false)? {
                    return Ok(Err(Refused::Held(holder(s, &f, &m)?)));
                }
                // the run's own lock, which tells every machine it is alive
                try_lock(s, &run_key, false)?;
                if let Some((_, count)) = shard {
                    let others = s.client.query(
                        "SELECT mode, run_id FROM leases WHERE flow = $1 AND mode LIKE $2",
                        &[&f, &format!("{b} shard %")],
                    )?;
                    for row in others {
                        let (other, other_run): (String, String) = (row.get(0), row.get(1));
                        let other_count = crate::lock::split_shard_mode(&other).1.map(|x| x.1);
                        if other_count == Some(count) || other_run == run_id {
                            continue;
                        }
                        let key = format!("{probe_prefix}{other_run}");
                        if try_lock(s, &key, false)? {
                            // its run is gone: a stale row
                            s.client.execute(
                                "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                                &[&key],
                            )?;
                            continue;
                        }
                        return Ok(Err(Refused::OtherCount(other)));
                    }
                }
                let at = now();
                s.client.execute(
                    "INSERT INTO leases (flow, mode, run_id, owner, backend_pid, backend_start,
                                         acquired_at, heartbeat_at)
                     SELECT $1, $2, $3, $4, pg_backend_pid(),
                            extract(epoch FROM backend_start)::text, $5, $5
                     FROM pg_stat_activity WHERE pid = pg_backend_pid()
                     ON CONFLICT (flow, mode) DO UPDATE SET run_id = excluded.run_id,
                       owner = excluded.owner, backend_pid = excluded.backend_pid,
                       backend_start = excluded.backend_start,
                       acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at",
                    &[&f, &m, &run_id, &owner_json, &at],
                )?;
                Ok(Ok(()))
            })
            .map_err(|e| self.target.err(e))?
            .map_err(|e| self.target.err(describe(&e)))?;
        match taken {
            Ok(()) => {}
            Err(Refused::Held(holder)) => {
                return Err(StateError::Locked {
                    flow: flow.to_string(),
                    mode: mode.to_string(),
                    holder: holder
                        .and_then(|h| serde_json::from_str::<LockOwner>(&h).ok())
                        .map_or_else(|| "another process".to_string(), |h| describe_holder(&h)),
                })
            }
            Err(Refused::OtherCount(other)) => {
                return Err(StateError::Locked {
                    flow: flow.to_string(),
                    mode: mode.to_string(),
                    holder: format!(
                        "a run of `{other}` (shards of another count: every shard of one flow \
                         must be started with the same N)"
                    ),
                })
            }
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let lost = Arc::new(AtomicBool::new(false));
        let (beat, beat_lost) = (Arc::clone(&conn), Arc::clone(&lost));
        let (f, m, run_id) = (flow.to_string(), mode.to_string(), owner.run_id.clone());
        let store_name = self.target.display.clone();
        std::thread::Builder::new()
            .name("sluice-lease".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(HEARTBEAT) {
                    let (fl, mo, r) = (f.clone(), m.clone(), run_id.clone());
                    let result = beat.call(move |s| {
                        s.client.execute(
                            "UPDATE leases SET heartbeat_at = $4
                             WHERE flow = $1 AND mode = $2 AND run_id = $3",
                            &[&fl, &mo, &r, &now()],
                        )
                    });
                    match result {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) if e.is_closed() => {
                            beat_lost.store(true, Ordering::SeqCst);
                            tracing::error!(
                                store = %store_name, flow = %f, error = %describe(&e),
                                "the lease's connection to the state store ended: the run stops before its next commit"
                            );
                            return;
                        }
                        Ok(Err(e)) => tracing::warn!(
                            store = %store_name, flow = %f, error = %describe(&e),
                            "lease heartbeat failed"
                        ),
                        Err(e) => {
                            beat_lost.store(true, Ordering::SeqCst);
                            tracing::error!(store = %store_name, flow = %f, error = %e, "lease heartbeat failed");
                            return;
                        }
                    }
                }
            })
            .map_err(|e| self.target.err(format!("cannot start the lease heartbeat: {e}")))?;
        Ok(LockGuard::new(HeldLease {
            conn,
            stop: Some(stop),
            lost,
            flow: flow.to_string(),
            mode: mode.to_string(),
            run_id: owner.run_id.clone(),
        }))
    }

    /// Alive while the session that took the run's lease holds the run's own advisory lock:
    /// taking it is the probe (and a taken one is given back at once). No other session's
    /// details are read, so this works for any role and any session settings.
    fn is_alive(&self, flow: &str, run_id: &str) -> Result<bool, StateError> {
        let mut probe = self.probe.lock().unwrap_or_else(|p| p.into_inner());
        if probe.is_none() {
            *probe = Some(PgConn::connect(&self.target, true)?);
        }
        let Some(conn) = probe.as_ref() else {
            return Err(self.target.err("no connection for the liveness probe"));
        };
        let key = self.run_key(flow, run_id);
        let answer = conn.call(move |s| -> Result<bool, postgres::Error> {
            if try_lock(s, &key, false)? {
                s.client.execute(
                    "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                    &[&key],
                )?;
                return Ok(false);
            }
            Ok(true)
        });
        if answer.is_err() || matches!(answer, Ok(Err(_))) {
            // a broken connection is made again on the next question
            *probe = None;
        }
        answer
            .map_err(|e| self.target.err(e))?
            .map_err(|e| self.target.err(describe(&e)))
    }
}
