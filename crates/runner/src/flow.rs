//! Flow files: one TOML file ties a connection, a source, a mapping set and a destination
//! together. Parsing is pure (no network, no files but the flow itself); credentials are only
//! ever `${ENV_VAR}` references, resolved here into secrets.
//!
//! Relative paths in a flow file resolve against the directory of the flow file, never the
//! current directory, so a flow does the same thing from cron, Kubernetes or a shell.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use sluice_core::{ConnectorConfig, Param, Secret};
use sluice_sinks::{is_object_store_url, Lake, ParquetOptions, SinkError};
use sluice_state::StateLocation;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{file}: cannot read the flow file: {message}")]
    Read { file: String, message: String },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: String,
        key: String,
        message: String,
    },
    /// Every `${NAME}` the flow references that is not set, at once.
    #[error("{file}: {}", unset_message(.unset))]
    UnsetEnv {
        file: String,
        /// (key, variable)
        unset: Vec<(String, String)>,
    },
}

fn unset_message(unset: &[(String, String)]) -> String {
    let names: Vec<String> = unset.iter().map(|(k, v)| format!("{v} ({k})")).collect();
    format!(
        "environment variable{} not set: {}; export {} before running the flow (or try it \
         with --sandbox)",
        if unset.len() == 1 { " is" } else { "s are" },
        names.join(", "),
        if unset.len() == 1 { "it" } else { "them" }
    )
}

/// Why a string value could not be resolved.
enum ParamError {
    /// `${NAME}` with NAME unset or empty.
    Unset(String),
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowFile {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    connection: toml::Table,
    #[serde(default)]
    source: toml::Table,
    #[serde(default)]
    mapping: Option<MappingTable>,
    destination: DestinationTable,
    #[serde(default)]
    state: Option<StateTable>,
    /// Fraction of input records that may fail mapping before the run fails (default 0.05).
    #[serde(default)]
    error_threshold: Option<f64>,
    /// What a new field does when the flow has no mapping set: evolve, ignore or fail.
    #[serde(default)]
    schema_policy: Option<String>,
    /// The largest value a column takes (bytes, or "16 MiB"); a larger one is rejected.
    #[serde(default)]
    max_value_bytes: Option<toml::Value>,
    #[serde(default)]
    schedule: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingTable {
    file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationTable {
    format: String,
    /// A directory, or an object store URL (`s3://`, `gs://`, `az://`, `abfss://`, `file://`).
    path: String,
    /// For an object store: the local directory for state, staged files and report copies.
    #[serde(default)]
    work_dir: Option<String>,
    /// For an object store: its configuration keys (region, endpoint, credentials…).
    #[serde(default)]
    options: Option<toml::Table>,
    /// Rows per output file before a new file starts (and progress is committed).
    #[serde(default)]
    file_rows: Option<u64>,
    #[serde(default)]
    row_group_rows: Option<usize>,
    #[serde(default)]
    row_group_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateTable {
    /// A SQLite file (the default is beside the lake, or in the work dir).
    #[serde(default)]
    path: Option<String>,
    /// A PostgreSQL store shared by every machine that runs the flow.
    #[serde(default)]
    url: Option<String>,
    /// The PostgreSQL password, as `${NAME}`.
    #[serde(default)]
    password: Option<String>,
    /// The PostgreSQL schema holding sluice's tables.
    #[serde(default)]
    schema: Option<String>,
    /// A PEM file of certificate authorities for `sslmode=require` (a private CA).
    #[serde(default)]
    ca_file: Option<String>,
}

pub use sluice_sinks::Format;

#[derive(Debug, Clone)]
pub struct Destination {
    /// The data files' format (`parquet` for a Delta table).
    pub format: Format,
    /// Each stream is also a Delta table: every commit is logged in `<stream>/_delta_log`.
    pub delta: bool,
    /// Absolute: the lake's directory, or for an object store the local working directory
    /// (state, staged files, local copies of run reports) that targets are named under.
    pub path: PathBuf,
    /// The object store's URL, when the lake is one.
    pub url: Option<String>,
    /// The object store's configuration; `${ENV}` values are secrets.
    pub options: Vec<(String, Param)>,
    pub file_rows: u64,
    pub parquet: ParquetOptions,
}

impl Destination {
    /// Open the lake (no request is made: object store clients connect on first use).
    pub fn lake(&self) -> Result<Lake, SinkError> {
        match &self.url {
            None => Ok(Lake::local(self.path.clone())),
            Some(url) => {
                let options: Vec<(String, String)> = self
                    .options
                    .iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Param::Secret(s) => s.expose().to_string(),
                            Param::Plain(Value::String(s)) => s.clone(),
                            Param::Plain(other) => other.to_string(),
                        };
                        (k.clone(), v)
                    })
                    .collect();
                Lake::object_store(url, &options, self.path.clone())
            }
        }
    }

    /// Where files go, as a user names it.
    pub fn describe(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

/// A string value of a flow, or the secret an exact `${NAME}` reference names.
fn string_param(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Param, ParamError> {
    if !s.contains("${") {
        return Ok(Param::Plain(Value::String(s.to_string())));
    }
    let Some(var) = env_reference(s) else {
        // the text around the reference may be a pasted secret: it is not echoed
        return Err(ParamError::Invalid(
            "an environment reference is exactly \"${NAME}\", with nothing around it".into(),
        ));
    };
    let value = env(var)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ParamError::Unset(var.to_string()))?;
    Ok(Param::Secret(Secret::new(value)))
}

/// The `[state]` table: a SQLite `path`, or a PostgreSQL `url` (with `password` and `schema`).
/// `Ok(None)` when a `${NAME}` it needs is unset (pushed to `unset`).
fn parse_state(
    table: &StateTable,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<(String, String)>,
) -> Result<Option<StateLocation>, (String, String)> {
    let key = |k: &str| format!("state.{k}");
    match (&table.path, &table.url) {
        (Some(_), Some(_)) => Err((
            key("url"),
            "give either `path` (a SQLite file) or `url` (PostgreSQL), not both".into(),
        )),
        (None, None) => Err((
            "state".into(),
            "needs `path` (a SQLite file) or `url` (postgres://USER@HOST:PORT/DATABASE)".into(),
        )),
        (Some(path), None) => {
            for (k, given) in [
                ("password", table.password.is_some()),
                ("schema", table.schema.is_some()),
                ("ca_file", table.ca_file.is_some()),
            ] {
                if given {
                    return Err((key(k), "applies to a PostgreSQL `url` only".into()));
                }
            }
            Ok(Some(StateLocation::Sqlite(resolve_path(base, path))))
        }
        (None, Some(url)) => {
            let mut missing = false;
            let mut secret = |k: &str, s: &str| match string_param(s, env) {
                Ok(Param::Secret(v)) => Ok(Some((v.expose().to_string(), true))),
                Ok(Param::Plain(Value::String(v))) => Ok(Some((v, false))),
                Ok(Param::Plain(v)) => Ok(Some((v.to_string(), false))),
                Err(ParamError::Unset(var)) => {
                    unset.push((key(k), var));
                    missing = true;
                    Ok(None)
                }
                Err(ParamError::Invalid(m)) => Err((key(k), m)),
            };
            let url = secret("url", url)?;
            let password = match &table.password {
                Some(p) => secret("password", p)?,
                None => None,
            };
            if missing {
                return Ok(None);
            }
            let Some((url, url_is_secret)) = url else {
                return Ok(None);
            };
            if let Some((_, false)) = password {
                return Err((
                    key("password"),
                    "is a secret: write `password = \"${NAME}\"` and set NAME in the environment"
                        .into(),
                ));
            }
            let schema = table.schema.as_deref().unwrap_or("sluice");
            let mut target =
                sluice_state::PgTarget::parse(&url, schema).map_err(|m| (key("url"), m))?;
            if target.has_password() && !url_is_secret {
                return Err((
                    key("url"),
                    "holds a password in the flow file: move it to `password = \"${NAME}\"` \
                     (or make the whole URL `${NAME}`)"
                        .into(),
                ));
            }
            if let Some((password, _)) = password {
                target = target.with_password(&password);
            }
            if let Some(ca) = &table.ca_file {
                if !target.uses_tls() {
                    return Err((
                        key("ca_file"),
                        "applies with TLS only: add sslmode=require to the URL".into(),
                    ));
                }
                target = target
                    .with_ca_file(&resolve_path(base, ca))
                    .map_err(|m| (key("ca_file"), m))?;
            }
            Ok(Some(StateLocation::Postgres(Box::new(target))))
        }
    }
}

/// A flow, resolved and validated.
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub file: PathBuf,
    pub connector: String,
    pub connector_config: ConnectorConfig,
    /// Streams to pull; `None` means every stream of the connector.
    pub streams: Option<Vec<String>>,
    /// `[source] lookback_days`: days every run pulls again (day streams), over the stream's
    /// default (the seeds' "Backfill (days)").
    pub lookback_days: Option<u32>,
    /// `[source] initial_days`: days a first run pulls, today included.
    pub initial_days: Option<u32>,
    pub mapping_file: Option<PathBuf>,
    pub destination: Destination,
    /// Where checkpoints, the file manifest and run history are kept.
    pub state: StateLocation,
    /// The share of the task list this process runs (`--shard K/N`); `None`: all of it.
    pub shard: Option<crate::Shard>,
    pub error_threshold: f64,
    /// A record with a larger value goes to the rejects file.
    pub max_value_bytes: usize,
    pub schema_policy: crate::schema_policy::SchemaPolicy,
    pub schedule: Option<crate::Schedule>,
}

/// Values that replace what the flow file says, e.g. `--sandbox` pointing the connection at a
/// local simulator with sandbox credentials.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `Some` replaces a connection key, `None` removes it.
    pub connection: BTreeMap<String, Option<Param>>,
    pub destination_path: Option<PathBuf>,
    /// Replaces the connection's request quota: (count, seconds).
    pub quota: Option<(u32, u64)>,
    /// Run one shard of the task list (`--shard K/N`).
    pub shard: Option<crate::Shard>,
}

fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

fn resolve_path(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        normalise(&base.join(p))
    }
}

/// `a/b/../c` → `a/c`, without touching the file system (the path may not exist yet).
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// An exact `${NAME}` reference, if `s` is one.
fn env_reference(s: &str) -> Option<&str> {
    let name = s.strip_prefix("${")?.strip_suffix('}')?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

impl Flow {
    /// The connector a flow file names, read before the flow is resolved (to know which
    /// simulator `--sandbox` needs). `None` when the file cannot tell.
    pub fn peek_connector(path: &Path) -> Option<String> {
        let text = std::fs::read_to_string(path).ok()?;
        let table: toml::Table = toml::from_str(&text).ok()?;
        table
            .get("connection")?
            .get("connector")?
            .as_str()
            .map(str::to_string)
    }

    pub fn load(path: &Path, overrides: &Overrides) -> Result<Self, FlowError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| FlowError::Read {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Self::parse(&absolute, &text, overrides, &|name| {
            std::env::var(name).ok()
        })
    }

    /// Parse flow text. `path` locates the file (for messages and relative paths); `env` looks
    /// up environment variables.
    pub fn parse(
        path: &Path,
        text: &str,
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, FlowError> {
        let file = path.display().to_string();
        let invalid = |key: &str, message: String| FlowError::Invalid {
            file: file.clone(),
            key: key.to_string(),
            message,
        };
        let raw: FlowFile = toml::from_str(text).map_err(|e| FlowError::Parse {
            file: file.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));

        if raw.name.is_empty()
            || !raw
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                "name",
                format!(
                    "\"{}\" must be letters, digits, `-` or `_` (it names state and files)",
                    raw.name
                ),
            ));
        }

        // every unset `${NAME}`, said together at the end
        let mut unset: Vec<(String, String)> = Vec::new();
        let mut connector = None;
        let mut quota = sluice_core::QuotaOverrides::default();
        let mut limits = sluice_core::ConnectionLimits::default();
        let mut connection = BTreeMap::new();
        let mut literal_keys = std::collections::BTreeSet::new();
        for (key, value) in &raw.connection {
            let full_key = format!("connection.{key}");
            if !matches!(value, toml::Value::String(s) if s.contains("${")) {
                literal_keys.insert(key.clone());
            }
            if overrides.connection.contains_key(key) {
                continue;
            }
            match (key.as_str(), value) {
                ("connector", toml::Value::String(s)) => connector = Some(s.clone()),
                ("connector", _) => {
                    return Err(invalid(
                        &full_key,
                        "must be a string such as \"zendesk\"".into(),
                    ))
                }
                ("quota", toml::Value::String(s)) => {
                    quota.all = Some(parse_quota(s).map_err(|m| invalid(&full_key, m))?)
                }
                ("quota", toml::Value::Table(t)) => {
                    for (name, v) in t {
                        let key = format!("{full_key}.{name}");
                        let text = v.as_str().ok_or_else(|| {
                            invalid(&key, "must be \"COUNT/SECONDS\", e.g. \"300/60\"".into())
                        })?;
                        quota.by_name.insert(
                            name.clone(),
                            parse_quota(text).map_err(|m| invalid(&key, m))?,
                        );
                    }
                }
                ("quota", _) => {
                    return Err(invalid(
                        &full_key,
                        "must be \"COUNT/SECONDS\" for every quota, e.g. \"100/60\", or a table \
                         per quota, e.g. { ads_analytics = \"300/60\" }"
                            .into(),
                    ))
                }
                ("max_wait_seconds", toml::Value::Integer(n)) if *n >= 0 => {
                    limits.max_wait_seconds = u64::try_from(*n).ok()
                }
                ("read_timeout_seconds", toml::Value::Integer(n)) if *n >= 1 => {
                    limits.read_timeout_seconds = u64::try_from(*n).ok()
                }
                ("connect_timeout_seconds", toml::Value::Integer(n)) if *n >= 1 => {
                    limits.connect_timeout_seconds = u64::try_from(*n).ok()
                }
                ("request_timeout_seconds", toml::Value::Integer(n)) if *n >= 1 => {
                    limits.request_timeout_seconds = u64::try_from(*n).ok()
                }
                ("retry_budget_seconds", toml::Value::Integer(n)) if *n >= 0 => {
                    limits.retry_budget_seconds = u64::try_from(*n).ok()
                }
                ("retry_budget_seconds", _) => {
                    return Err(invalid(
                        &full_key,
                        "must be a whole number of seconds, e.g. 900".into(),
                    ))
                }
                (
                    "read_timeout_seconds" | "connect_timeout_seconds" | "request_timeout_seconds",
                    _,
                ) => {
                    return Err(invalid(
                        &full_key,
                        "must be a whole number of seconds above 0, e.g. 60".into(),
                    ))
                }
                ("max_wait_seconds", _) => {
                    return Err(invalid(
                        &full_key,
                        "must be a whole number of seconds, e.g. 300".into(),
                    ))
                }
                ("max_page_bytes", v) => {
                    limits.max_page_bytes = Some(parse_size(v).map_err(|m| invalid(&full_key, m))?)
                }
                ("max_retries", toml::Value::Integer(n)) if (0..=100).contains(n) => {
                    limits.max_retries = u32::try_from(*n).ok()
                }
                ("max_retries", _) => {
                    return Err(invalid(
                        &full_key,
                        "must be a whole number of retries from 0 to 100".into(),
                    ))
                }
                (_, toml::Value::String(s)) if s.contains("${") => match string_param(s, env) {
                    Ok(value) => {
                        connection.insert(key.clone(), value);
                    }
                    Err(ParamError::Unset(var)) => unset.push((full_key.clone(), var)),
                    Err(ParamError::Invalid(m)) => return Err(invalid(&full_key, m)),
                },
                (_, v) => {
                    connection.insert(key.clone(), Param::Plain(toml_to_json(v)));
                }
            }
        }
        for (k, v) in &overrides.connection {
            if let Some(v) = v {
                connection.insert(k.clone(), v.clone());
            }
        }
        if overrides.quota.is_some() {
            quota = sluice_core::QuotaOverrides {
                all: overrides.quota,
                ..Default::default()
            };
        }
        let connector = connector.ok_or_else(|| {
            invalid(
                "connection.connector",
                "missing: name the connector, e.g. connector = \"zendesk\"".into(),
            )
        })?;

        let mut source: BTreeMap<String, Value> = raw
            .source
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect();
        let days = |key: &str,
                    source: &mut BTreeMap<String, Value>,
                    range: std::ops::RangeInclusive<u64>| {
            let full = format!("source.{key}");
            match source.remove(key) {
                None => Ok(None),
                Some(v) => {
                    let n = v
                        .as_u64()
                        .or_else(|| v.as_str().and_then(|t| t.trim().parse().ok()))
                        .filter(|n| range.contains(n))
                        .ok_or_else(|| {
                            invalid(
                                &full,
                                format!(
                                    "{v} must be a whole number of days from {} to {}",
                                    range.start(),
                                    range.end()
                                ),
                            )
                        })?;
                    Ok(Some(n as u32))
                }
            }
        };
        let lookback_days = days("lookback_days", &mut source, 0..=365)?;
        let initial_days = days("initial_days", &mut source, 1..=3650)?;
        let streams = match source.remove("streams") {
            None => None,
            Some(Value::Array(items)) if !items.is_empty() => Some(
                items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(invalid(
                            "source.streams",
                            format!("stream names are strings, found {other}"),
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => {
                return Err(invalid(
                    "source.streams",
                    "must be a non-empty list of stream names, e.g. [\"users\"]".into(),
                ))
            }
        };

        let delta = raw.destination.format == "delta";
        let format = if delta {
            Some(Format::Parquet)
        } else {
            Format::parse(&raw.destination.format)
        }
        .ok_or_else(|| {
            invalid(
                "destination.format",
                format!(
                    "\"{}\" is not a format: use \"parquet\", \"delta\" (Delta Lake tables \
                     of Parquet files), \"arrow\" (Arrow IPC) or \"jsonl\"",
                    raw.destination.format
                ),
            )
        })?;
        let url = (overrides.destination_path.is_none()
            && is_object_store_url(raw.destination.path.trim()))
        .then(|| raw.destination.path.trim().to_string());
        let dest_path = match (&overrides.destination_path, &url) {
            (Some(p), _) => p.clone(),
            (None, Some(_)) => resolve_path(
                base,
                raw.destination
                    .work_dir
                    .as_deref()
                    .unwrap_or(&format!(".sluice/{}", raw.name)),
            ),
            (None, None) => {
                if raw.destination.path.trim().is_empty() {
                    return Err(invalid("destination.path", "must not be empty".into()));
                }
                if raw.destination.work_dir.is_some() {
                    return Err(invalid(
                        "destination.work_dir",
                        "applies to object store destinations (s3://, gs://, az://, file://) only"
                            .into(),
                    ));
                }
                resolve_path(base, &raw.destination.path)
            }
        };
        let mut options = Vec::new();
        for (key, value) in raw.destination.options.iter().flatten() {
            let full_key = format!("destination.options.{key}");
            if url.is_none() && overrides.destination_path.is_none() {
                return Err(invalid(
                    "destination.options",
                    "apply to object store destinations (s3://, gs://, az://, file://) only".into(),
                ));
            }
            let value = match value {
                toml::Value::String(s) => match string_param(s, env) {
                    Ok(v) => v,
                    Err(ParamError::Unset(var)) => {
                        unset.push((full_key.clone(), var));
                        continue;
                    }
                    Err(ParamError::Invalid(m)) => return Err(invalid(&full_key, m)),
                },
                toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_) => {
                    Param::Plain(Value::String(value.to_string()))
                }
                _ => {
                    return Err(invalid(
                        &full_key,
                        "must be a string, a number or a boolean".into(),
                    ))
                }
            };
            options.push((key.clone(), value));
        }
        let defaults = ParquetOptions::default();
        let parquet = ParquetOptions {
            row_group_rows: raw
                .destination
                .row_group_rows
                .unwrap_or(defaults.row_group_rows),
            row_group_bytes: raw
                .destination
                .row_group_bytes
                .unwrap_or(defaults.row_group_bytes),
            ..defaults
        };
        if parquet.row_group_rows == 0 || parquet.row_group_bytes == 0 {
            return Err(invalid(
                "destination",
                "row group limits must be above 0".into(),
            ));
        }
        let file_rows = raw.destination.file_rows.unwrap_or(500_000);
        if file_rows == 0 {
            return Err(invalid("destination.file_rows", "must be above 0".into()));
        }
        let error_threshold = raw.error_threshold.unwrap_or(0.05);
        if !(0.0..=1.0).contains(&error_threshold) {
            return Err(invalid(
                "error_threshold",
                format!("{error_threshold} must be a fraction from 0 to 1 (0.05 = 5 %)"),
            ));
        }
        let max_value_bytes = match &raw.max_value_bytes {
            None => sluice_mapping::DEFAULT_MAX_VALUE_BYTES,
            Some(v) => usize::try_from(parse_size(v).map_err(|m| invalid("max_value_bytes", m))?)
                .unwrap_or(usize::MAX),
        };
        let schema_policy = match &raw.schema_policy {
            None => crate::schema_policy::SchemaPolicy::Evolve,
            Some(p) => crate::schema_policy::SchemaPolicy::parse(p)
                .map_err(|m| invalid("schema_policy", m))?,
        };
        let state = match &raw.state {
            None => StateLocation::Sqlite(dest_path.join("_sluice").join("state.db")),
            Some(table) => match parse_state(table, base, env, &mut unset) {
                Ok(Some(location)) => location,
                // an unset `${NAME}`: said with the others below
                Ok(None) => StateLocation::Sqlite(dest_path.join("_sluice").join("state.db")),
                Err((key, message)) => return Err(invalid(&key, message)),
            },
        };
        if !unset.is_empty() {
            return Err(FlowError::UnsetEnv { file, unset });
        }
        if let Some(shard) = overrides.shard {
            if !state.is_shared() {
                return Err(invalid(
                    "state",
                    format!(
                        "--shard {shard} needs a state store every shard shares, so each task \
                         runs once and a rerun shard finds its own: set [state] url = \
                         \"postgres://USER@HOST:PORT/DATABASE\" (the state is now the SQLite \
                         file {}, one machine's)",
                        state.display()
                    ),
                ));
            }
            quota.share = shard.count;
            quota.share_index = shard.index;
        }

        Ok(Flow {
            connector_config: ConnectorConfig {
                flow: raw.name.clone(),
                connection,
                source,
                quota,
                limits,
                literal_keys,
                store: None,
            },
            name: raw.name,
            file: path.to_path_buf(),
            connector,
            streams,
            lookback_days,
            initial_days,
            mapping_file: raw.mapping.map(|m| resolve_path(base, &m.file)),
            destination: Destination {
                format,
                delta,
                path: dest_path,
                url,
                options,
                file_rows,
                parquet,
            },
            state,
            shard: overrides.shard,
            error_threshold,
            max_value_bytes,
            schema_policy,
            schedule: raw
                .schedule
                .as_ref()
                .map(crate::Schedule::from_table)
                .transpose()
                .map_err(|m| FlowError::Parse {
                    file: file.clone(),
                    message: m,
                })?,
        })
    }
}

/// A size in bytes: a whole number, or a string with a unit (`"64 MiB"`, `"200MB"`, `"1GiB"`).
pub fn parse_size(v: &toml::Value) -> Result<u64, String> {
    let bad = |found: String| {
        format!("{found} must be a size above 0: bytes, or a string such as \"64 MiB\"")
    };
    let n = match v {
        toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| bad(n.to_string()))?,
        toml::Value::String(text) => {
            let t = text.trim();
            let split = t
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .unwrap_or(t.len());
            let (number, unit) = t.split_at(split);
            let number: f64 = number.parse().map_err(|_| bad(format!("\"{text}\"")))?;
            let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1,
                "kb" => 1_000,
                "kib" => 1 << 10,
                "mb" => 1_000_000,
                "mib" => 1 << 20,
                "gb" => 1_000_000_000,
                "gib" => 1 << 30,
                _ => return Err(bad(format!("\"{text}\""))),
            };
            (number * scale as f64) as u64
        }
        other => return Err(bad(other.to_string())),
    };
    if n == 0 {
        return Err(bad("0".into()));
    }
    Ok(n)
}

/// `COUNT/SECONDS` → (count, seconds).
pub fn parse_quota(text: &str) -> Result<(u32, u64), String> {
    let bad = || format!("\"{text}\" must be \"COUNT/SECONDS\" with both above 0, e.g. \"100/60\"");
    let (c, s) = text.split_once('/').ok_or_else(bad)?;
    let c: u32 = c.trim().parse().map_err(|_| bad())?;
    let s: u64 = s.trim().parse().map_err(|_| bad())?;
    if c == 0 || s == 0 {
        return Err(bad());
    }
    Ok((c, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "zendesk-users"
[connection]
connector = "zendesk"
subdomain = "acme"
email = "agent@acme.com"
api_token = "${ZD_TOKEN}"
quota = "50/60"
[source]
streams = ["users"]
page_size = 500
[mapping]
file = "../mappings/m.json"
[destination]
format = "parquet"
path = "../../out/zendesk"
"#;

    fn env(name: &str) -> Option<String> {
        (name == "ZD_TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn resolves_paths_against_the_flow_file_and_env_into_secrets() {
        let flow = Flow::parse(
            Path::new("/repo/config/flows/f.toml"),
            GOOD,
            &Overrides::default(),
            &env,
        )
        .expect("parses");
        assert_eq!(flow.destination.path, PathBuf::from("/repo/out/zendesk"));
        assert_eq!(
            flow.mapping_file,
            Some(PathBuf::from("/repo/config/mappings/m.json"))
        );
        assert_eq!(
            flow.state.local_path(),
            Some(Path::new("/repo/out/zendesk/_sluice/state.db"))
        );
        assert_eq!(flow.connector_config.quota.all, Some((50, 60)));
        assert_eq!(flow.streams, Some(vec!["users".to_string()]));
        assert_eq!(
            flow.connector_config.source.get("page_size"),
            Some(&Value::from(500))
        );
        match flow.connector_config.connection.get("api_token") {
            Some(Param::Secret(s)) => assert_eq!(s.expose(), "s3cret"),
            other => panic!("expected a secret, got {other:?}"),
        }
        assert!(!format!("{flow:?}").contains("s3cret"));
    }

    fn err(text: &str) -> String {
        Flow::parse(Path::new("/x/f.toml"), text, &Overrides::default(), &env)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_postgres_state_takes_its_password_from_the_environment_only() {
        let parse = |state: &str| {
            Flow::parse(
                Path::new("/repo/config/flows/f.toml"),
                &format!("{GOOD}[state]\n{state}\n"),
                &Overrides::default(),
                &env,
            )
        };
        let flow = parse(
            "url = \"postgres://sluice@db.internal:5433/lake\"\npassword = \"${ZD_TOKEN}\"\nschema = \"ads\"",
        )
        .expect("parses");
        let StateLocation::Postgres(t) = &flow.state else {
            panic!("not postgres: {:?}", flow.state)
        };
        assert_eq!(
            t.display(),
            "postgres://sluice@db.internal:5433/lake (schema ads)"
        );
        assert!(t.has_password());
        assert!(flow.state.is_shared() && flow.state.local_path().is_none());
        let refuse = |state: &str, key: &str, says: &str| {
            let e = parse(state).expect_err("refused").to_string();
            assert!(e.contains(key) && e.contains(says), "{state}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        };
        refuse(
            "url = \"postgres://u:hunter2@db/lake\"",
            "state.url",
            "password = \"${NAME}\"",
        );
        refuse(
            "url = \"postgres://u@db/lake\"\npassword = \"hunter2\"",
            "state.password",
            "secret",
        );
        refuse(
            "path = \"s.db\"\nurl = \"postgres://u@db/lake\"",
            "state.url",
            "not both",
        );
        refuse(
            "path = \"s.db\"\nschema = \"x\"",
            "state.schema",
            "PostgreSQL",
        );
        refuse(
            "url = \"postgres://u@db/lake\"\nschema = \"a-b\"",
            "state.url",
            "schema `a-b`",
        );
        refuse(
            "url = \"postgres://u@db/lake\"\nca_file = \"ca.pem\"",
            "state.ca_file",
            "sslmode=require",
        );
        refuse(
            "url = \"postgres://u@db/lake?sslmode=require\"\nca_file = \"/nonexistent/ca.pem\"",
            "state.ca_file",
            "/nonexistent/ca.pem",
        );
        let e = parse("url = \"postgres://u@db/lake\"\npassword = \"${PG_PASS}\"")
            .expect_err("unset")
            .to_string();
        assert!(e.contains("PG_PASS") && e.contains("state.password"), "{e}");
        // the whole URL may be the secret, password and all
        let flow = parse("url = \"${ZD_TOKEN}\"");
        assert!(
            flow.is_err(),
            "s3cret is no URL… but the message must not show it"
        );
        assert!(!flow.expect_err("err").to_string().contains("s3cret"));
    }

    #[test]
    fn an_object_store_destination_keeps_its_state_in_a_work_dir() {
        let text = GOOD.replace(
            "path = \"../../out/zendesk\"",
            "path = \"s3://lake/marketing/\"\n[destination.options]\nregion = \"eu-west-1\"\naccess_key_id = \"AKIDEXAMPLE\"\nsecret_access_key = \"${ZD_TOKEN}\"\nallow_http = true",
        );
        let flow = Flow::parse(
            Path::new("/repo/config/flows/f.toml"),
            &text,
            &Overrides::default(),
            &env,
        )
        .expect("parses");
        let d = &flow.destination;
        assert_eq!(d.url.as_deref(), Some("s3://lake/marketing/"));
        assert_eq!(
            d.path,
            PathBuf::from("/repo/config/flows/.sluice/zendesk-users")
        );
        assert_eq!(
            flow.state.local_path(),
            Some(Path::new(
                "/repo/config/flows/.sluice/zendesk-users/_sluice/state.db"
            ))
        );
        assert_eq!(d.describe(), "s3://lake/marketing/");
        let keys: Vec<&str> = d.options.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["access_key_id", "allow_http", "region", "secret_access_key"]
        );
        assert!(matches!(d.options[3].1, Param::Secret(_)));
        assert!(
            !format!("{flow:?}").contains("s3cret"),
            "options stay secret"
        );
        let lake = d.lake().expect("an S3 lake opens without a request");
        assert!(lake.is_remote());

        let with_work_dir = text.replace(
            "[destination.options]",
            "work_dir = \"/var/lib/sluice\"\n[destination.options]",
        );
        let flow = Flow::parse(
            Path::new("/x/f.toml"),
            &with_work_dir,
            &Overrides::default(),
            &env,
        )
        .expect("parses");
        assert_eq!(flow.destination.path, PathBuf::from("/var/lib/sluice"));

        let e = err(&GOOD.replace(
            "path = \"../../out/zendesk\"",
            "path = \"out\"\nwork_dir = \"w\"",
        ));
        assert!(e.contains("destination.work_dir"), "{e}");
        let e = err(&GOOD.replace(
            "path = \"../../out/zendesk\"",
            "path = \"out\"\n[destination.options]\nregion = \"x\"",
        ));
        assert!(
            e.contains("destination.options") && e.contains("object store"),
            "{e}"
        );
        let e = err(&text.replace("region = \"eu-west-1\"", "region = [1]"));
        assert!(e.contains("destination.options.region"), "{e}");
    }

    #[test]
    fn bad_flows_name_the_file_and_the_key() {
        let e = err(&GOOD.replace("${ZD_TOKEN}", "${MISSING_VAR}"));
        assert!(
            e.starts_with("/x/f.toml: environment variable is not set: MISSING_VAR (connection.api_token); export it"),
            "{e}"
        );
        // every unset variable at once, not one per attempt
        let e = err(&GOOD
            .replace("${ZD_TOKEN}", "${MISSING_VAR}")
            .replace("\"agent@acme.com\"", "\"${MISSING_TOO}\""));
        assert!(
            e.contains("variables are not set")
                && e.contains("MISSING_VAR (connection.api_token)")
                && e.contains("MISSING_TOO (connection.email)"),
            "{e}"
        );
        let e = err(&GOOD.replace("format = \"parquet\"", "format = \"csv\""));
        assert!(e.contains("destination.format") && e.contains("csv"), "{e}");
        let e = err(&GOOD.replace("[source]", "[source]\nstreams_typo = 1\n[bogus]"));
        assert!(e.contains("/x/f.toml") && e.contains("bogus"), "{e}");
        let e = err(&GOOD.replace("connector = \"zendesk\"\n", ""));
        assert!(e.contains("connection.connector"), "{e}");
        let e = err(&GOOD.replace("50/60", "fast"));
        assert!(e.contains("connection.quota"), "{e}");
        let e = err(&GOOD.replace("${ZD_TOKEN}", "pre-${ZD_TOKEN}"));
        assert!(e.contains("exactly \"${NAME}\""), "{e}");
        let e = err("name = \"x\"\n[connection\n");
        assert!(e.starts_with("/x/f.toml:"), "{e}");
    }

    #[test]
    fn overrides_replace_connection_keys_without_needing_their_env() {
        let mut o = Overrides::default();
        o.connection.insert(
            "api_token".into(),
            Some(Param::Secret(Secret::new("sandbox"))),
        );
        o.connection.insert(
            "base_url".into(),
            Some(Param::Plain(Value::String("http://127.0.0.1:1".into()))),
        );
        let text = GOOD.replace("${ZD_TOKEN}", "${NOT_SET_ANYWHERE}");
        let flow = Flow::parse(Path::new("/x/f.toml"), &text, &o, &env).expect("parses");
        assert!(flow.connector_config.connection.contains_key("base_url"));
    }
}
