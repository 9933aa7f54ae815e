//! Delta Lake tables: each stream's directory `<destination>/<stream>/` is one table,
//! partitioned by `date` (the Hive-style day directories every format already uses), its log in
//! `<stream>/_delta_log/`.
//!
//! sluice writes the Delta protocol itself (version 1 readers, version 2 writers, JSON commits)
//! on the lake's own object store, rather than through the `deltalake` crate. What a writer
//! needs of Delta is small: one JSON file of actions per commit, created only if its version
//! is free (a conditional put: `If-None-Match: *` on S3, GCS and Azure, a hard link on a local
//! disk). `deltalake-core` 1.1.3 would bring a second arrow (59), parquet and object_store
//! (0.13) beside sluice's, 344 crates in all, and needs its own per-cloud crates and locking
//! setup for S3; this way every lake sluice writes to holds Delta tables, with the same
//! credentials and options, and the data files are the Parquet the other formats write.
//! The tests read the tables back with the `deltalake` reader (delta-rs, from PyPI).
//!
//! Each sluice commit becomes one Delta commit per table it touches: `add` for the files it
//! promoted, `remove` for the files it retires (before they are deleted, so a reader of the
//! latest version never meets a missing file), the task as an application transaction
//! (`txn`), and the run, task and checkpoint in `commitInfo`. A commit replayed after a crash is
//! recognised by its files: a file the table already holds is never added twice, so rows are
//! never doubled, and recovery adds what a crashed run promoted but never logged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_schema::{DataType, Schema, TimeUnit};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};

use crate::{Lake, SinkError};

/// The partition column of every table: the day of the `date=YYYY-MM-DD` directories.
pub const PARTITION_COLUMN: &str = "date";

/// The protocol sluice writes: no table features, so every Delta reader opens the table.
const MIN_READER_VERSION: i64 = 1;
const MIN_WRITER_VERSION: i64 = 2;

/// Versions taken by other writers before a commit gives up (each is read and checked).
const COMMIT_ATTEMPTS: usize = 100;

/// What a Delta path escapes: the table's paths are relative URIs.
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A data file a commit adds.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// Below the destination: `<stream>/date=…/part-….parquet`.
    pub path: PathBuf,
    pub bytes: u64,
    /// Rows, for the file's statistics (`numRecords`) when known.
    pub rows: Option<u64>,
}

/// One sluice commit, as the Delta tables see it.
#[derive(Debug)]
pub struct DeltaChange<'a> {
    pub adds: &'a [DataFile],
    /// Files retired (below the destination), of any stream's table.
    pub removes: &'a [PathBuf],
    /// The Arrow schema of the added files: a table is created from it, and a column it has
    /// that the table lacks is added (schema evolution). `None`: read from the files.
    pub schema: Option<&'a Schema>,
    /// The application transaction the commit belongs to (sluice's task), as `txn`.
    pub app_id: Option<&'a str>,
    /// Recorded in the commit's `commitInfo` under `sluice` (run, task, checkpoint).
    pub info: Value,
}

/// The Delta tables of one destination, with the latest version of each read so far (a commit
/// reads only the versions written since).
pub struct DeltaTables {
    lake: Arc<Lake>,
    dest: PathBuf,
    snapshots: Mutex<HashMap<String, Snapshot>>,
}

impl std::fmt::Debug for DeltaTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeltaTables({})", self.lake.describe())
    }
}

/// What a table's log says at its latest version read.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    /// `None` while the table has no commit.
    version: Option<u64>,
    /// The schema's fields, as the log spells them.
    fields: Vec<Value>,
    partition_columns: Vec<String>,
    /// Data files of the latest version, relative to the table (decoded).
    files: HashSet<String>,
    /// Files removed at some version: never added again (a removed file may already be
    /// deleted, and data file names are never reused).
    removed: HashSet<String>,
    /// The latest `metaData` action whole: a schema change keeps its other settings.
    metadata: Option<Value>,
    /// Application transactions: app id to version.
    txns: HashMap<String, i64>,
}

impl DeltaTables {
    pub fn new(lake: Arc<Lake>, dest: PathBuf) -> Self {
        DeltaTables {
            lake,
            dest,
            snapshots: Mutex::new(HashMap::new()),
        }
    }

    /// Log one sluice commit: per table it touches, a Delta commit of the files not yet added
    /// and the retired files still in the table. Returns the versions written; none when
    /// every table already holds the change (a replay).
    pub fn commit(&self, change: &DeltaChange<'_>) -> Result<Vec<(String, u64)>, SinkError> {
        let mut by_table: BTreeMap<String, TableChange<'_>> = BTreeMap::new();
        for f in change.adds {
            let (table, rel) = self.locate(&f.path)?;
            by_table.entry(table).or_default().adds.push((rel, f));
        }
        for p in change.removes {
            let (table, rel) = self.locate(p)?;
            by_table.entry(table).or_default().removes.push(rel);
        }
        let mut snapshots = self.lock_snapshots()?;
        let mut written = Vec::new();
        for (table, t) in by_table {
            let snap = snapshots.entry(table.clone()).or_default();
            if let Some(v) = self.commit_table(&table, snap, &t, change)? {
                written.push((table, v));
            }
        }
        Ok(written)
    }

    /// The data files the table's latest version holds, as paths below the destination.
    pub fn live_files(&self, table: &str) -> Result<HashSet<PathBuf>, SinkError> {
        let mut snapshots = self.lock_snapshots()?;
        let snap = snapshots.entry(table.to_string()).or_default();
        self.refresh(table, snap)?;
        Ok(snap
            .files
            .iter()
            .map(|rel| {
                let mut p = self.dest.join(table);
                p.extend(rel.split('/'));
                p
            })
            .collect())
    }

    /// The tables' snapshots, one commit or read at a time.
    fn lock_snapshots(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, Snapshot>>, SinkError> {
        self.snapshots.lock().map_err(|_| SinkError::Delta {
            table: self.lake.describe(),
            message: "an earlier commit panicked".into(),
        })
    }

    /// The table a file below the destination belongs to, and its path in the table.
    fn locate(&self, path: &Path) -> Result<(String, String), SinkError> {
        let outside = || SinkError::io(path, "is not a file of a table below the destination");
        let below = path.strip_prefix(&self.dest).map_err(|_| outside())?;
        let mut parts = Vec::new();
        for c in below.components() {
            match c {
                Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                _ => return Err(outside()),
            }
        }
        if parts.len() < 2 {
            return Err(outside());
        }
        let table = parts.remove(0);
        Ok((table, parts.join("/")))
    }

    fn log_dir(&self, table: &str) -> PathBuf {
        self.dest.join(table).join("_delta_log")
    }

    fn commit_path(&self, table: &str, version: u64) -> PathBuf {
        self.log_dir(table).join(format!("{version:020}.json"))
    }

    fn error(&self, table: &str, message: impl Into<String>) -> SinkError {
        SinkError::Delta {
            table: format!("{}/{table}", self.lake.describe().trim_end_matches('/')),
            message: message.into(),
        }
    }

    /// Read the versions written since `snap`'s: the whole log the first time (listed), then
    /// only what follows, one version at a time until the first that does not exist.
    fn refresh(&self, table: &str, snap: &mut Snapshot) -> Result<(), SinkError> {
        let mut next = match snap.version {
            Some(v) => v + 1,
            None => {
                let listed = self.lake.list_files(&self.log_dir(table))?;
                let first = listed.iter().filter_map(|p| commit_version(p)).min();
                let checkpointed = listed.iter().any(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.contains(".checkpoint.") || n == "_last_checkpoint")
                });
                match first {
                    None if checkpointed => {
                        return Err(self.error(
                            table,
                            "its log starts from a checkpoint sluice cannot read (another \
                             writer checkpointed the table and its early commits were cleaned \
                             up): write this flow to a new destination",
                        ))
                    }
                    None => return Ok(()),
                    Some(0) => 0,
                    Some(v) => {
                        return Err(self.error(
                            table,
                            format!(
                                "its log's first commit is version {v}: the earlier ones were \
                                 cleaned up after a checkpoint, which sluice cannot read; \
                                 write this flow to a new destination"
                            ),
                        ))
                    }
                }
            }
        };
        loop {
            let path = self.commit_path(table, next);
            let Some(bytes) = self.lake.read(&path)? else {
                return Ok(());
            };
            self.apply(table, &path, snap, &bytes)?;
            snap.version = Some(next);
            next += 1;
        }
    }

    /// Replay one commit file's actions onto `snap`.
    fn apply(
        &self,
        table: &str,
        path: &Path,
        snap: &mut Snapshot,
        bytes: &[u8],
    ) -> Result<(), SinkError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| self.error(table, format!("{} is not UTF-8", path.display())))?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad =
                |why: &str| self.error(table, format!("{} line {}: {why}", path.display(), n + 1));
            let action: Value =
                serde_json::from_str(line).map_err(|e| bad(&format!("not JSON: {e}")))?;
            if let Some(add) = action.get("add") {
                let path = decoded_path(add).ok_or_else(|| bad("an add without a path"))?;
                snap.removed.remove(&path);
                snap.files.insert(path);
            } else if let Some(remove) = action.get("remove") {
                let path = decoded_path(remove).ok_or_else(|| bad("a remove without a path"))?;
                snap.files.remove(&path);
                snap.removed.insert(path);
            } else if let Some(meta) = action.get("metaData") {
                let schema: Value = meta["schemaString"]
                    .as_str()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .ok_or_else(|| bad("metaData without a readable schemaString"))?;
                snap.fields = schema["fields"].as_array().cloned().unwrap_or_default();
                snap.partition_columns = meta["partitionColumns"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                snap.metadata = Some(meta.clone());
            } else if let Some(protocol) = action.get("protocol") {
                let reader = protocol["minReaderVersion"].as_i64().unwrap_or(1);
                let writer = protocol["minWriterVersion"].as_i64().unwrap_or(1);
                if reader > MIN_READER_VERSION || writer > MIN_WRITER_VERSION {
                    return Err(self.error(
                        table,
                        format!(
                            "the table needs Delta reader version {reader} and writer version \
                             {writer} (table features such as deletion vectors or column \
                             mapping, enabled by another tool); sluice writes reader 1 / \
                             writer 2 tables only, and writing this one could corrupt it"
                        ),
                    ));
                }
            } else if let Some(txn) = action.get("txn") {
                if let (Some(app), Some(v)) = (txn["appId"].as_str(), txn["version"].as_i64()) {
                    snap.txns.insert(app.to_string(), v);
                }
            }
        }
        Ok(())
    }

    fn commit_table(
        &self,
        table: &str,
        snap: &mut Snapshot,
        t: &TableChange<'_>,
        change: &DeltaChange<'_>,
    ) -> Result<Option<u64>, SinkError> {
        for _ in 0..COMMIT_ATTEMPTS {
            self.refresh(table, snap)?;
            // a file the table holds, or held once, is never added (again)
            let mut adds: Vec<&(String, &DataFile)> = t
                .adds
                .iter()
                .filter(|(rel, _)| !snap.files.contains(rel) && !snap.removed.contains(rel))
                .collect();
            let removes: Vec<&String> = t
                .removes
                .iter()
                .filter(|rel| snap.files.contains(*rel))
                .collect();
            if snap.version.is_none() && adds.is_empty() {
                // nothing to create a table for (a retired file of a table never logged)
                return Ok(None);
            }
            if snap.version.is_some() && snap.partition_columns != [PARTITION_COLUMN] {
                return Err(self.error(
                    table,
                    format!(
                        "it is partitioned by {:?}; sluice's tables are partitioned by \
                         `{PARTITION_COLUMN}`: write this flow to a new destination",
                        snap.partition_columns
                    ),
                ));
            }
            if !removes.is_empty() && snap.append_only() {
                return Err(self.error(
                    table,
                    "it is append-only (`delta.appendOnly`), and this commit retires files (a \
                     re-pulled day or --force): unset the property, or write to a new destination",
                ));
            }
            // only the tables that get files take their schema: a commit also retires files
            // of other streams' tables
            let new_fields = match (change.schema, adds.is_empty()) {
                (_, true) => snap.fields.clone(),
                (Some(s), false) => self.merged_fields(table, &snap.fields, s)?,
                (None, false) => {
                    // recovery: each file's own schema; a file that cannot join the table is
                    // left out with a warning, so the others (and the retirements) still go in
                    let mut fields = snap.fields.clone();
                    adds.retain(|(_, f)| {
                        match self
                            .file_schema(table, &f.path)
                            .and_then(|s| self.merged_fields(table, &fields, &s))
                        {
                            Ok(merged) => {
                                fields = merged;
                                true
                            }
                            Err(e) => {
                                tracing::warn!(file = %f.path.display(), error = %e, "left out of the Delta table");
                                false
                            }
                        }
                    });
                    fields
                }
            };
            if snap.version.is_none() && adds.is_empty() {
                return Ok(None);
            }
            let schema_grows = new_fields.len() != snap.fields.len();
            if adds.is_empty() && removes.is_empty() && !schema_grows {
                return Ok(None);
            }
            let now = chrono::Utc::now().timestamp_millis();
            let mut actions = Vec::new();
            if snap.version.is_none() {
                actions.push(json!({"protocol": {
                    "minReaderVersion": MIN_READER_VERSION,
                    "minWriterVersion": MIN_WRITER_VERSION,
                }}));
            }
            if schema_grows {
                let schema = json!({"type": "struct", "fields": new_fields}).to_string();
                // a table's other settings (its id, name, configuration) stay as they are
                let meta = match &snap.metadata {
                    Some(existing) => {
                        let mut m = existing.clone();
                        m["schemaString"] = Value::String(schema);
                        m
                    }
                    None => json!({
                        "id": new_table_id(),
                        "format": {"provider": "parquet", "options": {}},
                        "schemaString": schema,
                        "partitionColumns": [PARTITION_COLUMN],
                        "configuration": {},
                        "createdTime": now,
                    }),
                };
                actions.push(json!({ "metaData": meta }));
            }
            if let Some(app) = change.app_id {
                let version = snap.txns.get(app).map_or(0, |v| v + 1);
                actions
                    .push(json!({"txn": {"appId": app, "version": version, "lastUpdated": now}}));
            }
            for (rel, f) in &adds {
                let mut add = json!({
                    "path": utf8_percent_encode(rel, PATH_ESCAPES).to_string(),
                    "partitionValues": partition_values(rel),
                    "size": f.bytes,
                    "modificationTime": now,
                    "dataChange": true,
                });
                if let Some(rows) = f.rows {
                    add["stats"] = Value::String(json!({ "numRecords": rows }).to_string());
                }
                actions.push(json!({ "add": add }));
            }
            for rel in &removes {
                actions.push(json!({"remove": {
                    "path": utf8_percent_encode(rel, PATH_ESCAPES).to_string(),
                    "partitionValues": partition_values(rel),
                    "deletionTimestamp": now,
                    "dataChange": true,
                }}));
            }
            actions.push(json!({"commitInfo": {
                "timestamp": now,
                "operation": "WRITE",
                "operationParameters": {
                    "mode": if removes.is_empty() { "Append" } else { "Overwrite" },
                    "partitionBy": format!("[\"{PARTITION_COLUMN}\"]"),
                },
                "isBlindAppend": removes.is_empty(),
                "engineInfo": concat!("sluice/", env!("CARGO_PKG_VERSION")),
                "sluice": change.info,
            }}));
            let version = snap.version.map_or(0, |v| v + 1);
            let mut body = String::new();
            for a in &actions {
                body.push_str(&a.to_string());
                body.push('\n');
            }
            let path = self.commit_path(table, version);
            if self.lake.put_new(&path, body.clone().into_bytes())? {
                self.apply(table, &path, snap, body.as_bytes())?;
                snap.version = Some(version);
                return Ok(Some(version));
            }
            // another writer (a shard) took this version: read it, and try the next
        }
        Err(self.error(
            table,
            format!("{COMMIT_ATTEMPTS} versions in a row were taken by other writers"),
        ))
    }

    /// The table's fields with the columns of `schema` it lacks added at the end (a new
    /// table: the schema's columns, then `date`).
    fn merged_fields(
        &self,
        table: &str,
        fields: &[Value],
        schema: &Schema,
    ) -> Result<Vec<Value>, SinkError> {
        let mut out = fields.to_vec();
        let fresh = out.is_empty();
        for f in schema.fields() {
            // Spark compares column names without case
            if f.name().eq_ignore_ascii_case(PARTITION_COLUMN) {
                return Err(self.error(
                    table,
                    format!(
                        "the column `{}` clashes with the table's partition column \
                         `{PARTITION_COLUMN}`: rename it in the mapping set",
                        f.name()
                    ),
                ));
            }
            let ty = delta_type(f.data_type())
                .map_err(|why| self.error(table, format!("column `{}`: {why}", f.name())))?;
            match out.iter().find(|e| e["name"] == f.name().as_str()) {
                Some(existing) if existing["type"] != ty => {
                    return Err(self.error(
                        table,
                        format!(
                            "column `{}` is {} in the table but {} in the new files: a \
                             column's type cannot change (map it to its old type, or write to \
                             a new destination)",
                            f.name(),
                            type_name(&existing["type"]),
                            type_name(&ty)
                        ),
                    ))
                }
                Some(_) => {}
                None => out.push(field(f.name(), ty)),
            }
        }
        if fresh {
            out.push(field(PARTITION_COLUMN, Value::String("date".into())));
        }
        Ok(out)
    }

    /// The schema of a Parquet data file in the lake (recovery adds files it did not write),
    /// from its footer alone: two ranged reads, whatever the file's size.
    fn file_schema(&self, table: &str, path: &Path) -> Result<Schema, SinkError> {
        let bad = |why: String| self.error(table, format!("{}: {why}", path.display()));
        let size = self
            .lake
            .size(path)?
            .ok_or_else(|| bad("is missing".into()))?;
        if size < 12 {
            return Err(bad("is too short to be Parquet".into()));
        }
        let tail = self.lake.read_range(path, size - 8..size)?;
        if tail.len() != 8 || tail[4..] != *b"PAR1" {
            return Err(bad("is not a Parquet file".into()));
        }
        let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
        if footer + 12 > size {
            return Err(bad("has a damaged footer".into()));
        }
        let bytes = self.lake.read_range(path, size - 8 - footer..size - 8)?;
        let meta = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&bytes)
            .map_err(|e| bad(e.to_string()))?;
        let file = meta.file_metadata();
        parquet::arrow::parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
            .map_err(|e| bad(e.to_string()))
    }

    /// Whether files of `schema` can join `table` as it is now: a column Delta cannot hold,
    /// one named like the partition column, or one whose type differs from the table's is
    /// refused, before anything of it is written.
    pub fn check_schema(&self, table: &str, schema: &Schema) -> Result<(), SinkError> {
        let mut snapshots = self.lock_snapshots()?;
        let snap = snapshots.entry(table.to_string()).or_default();
        self.refresh(table, snap)?;
        self.merged_fields(table, &snap.fields, schema).map(|_| ())
    }
}

impl Snapshot {
    fn append_only(&self) -> bool {
        self.metadata
            .as_ref()
            .and_then(|m| m["configuration"]["delta.appendOnly"].as_str())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

#[derive(Debug, Default)]
struct TableChange<'a> {
    adds: Vec<(String, &'a DataFile)>,
    removes: Vec<String>,
}

fn field(name: &str, ty: Value) -> Value {
    json!({"name": name, "type": ty, "nullable": true, "metadata": {}})
}

fn type_name(ty: &Value) -> String {
    match ty {
        Value::String(s) => s.clone(),
        other => other["type"]
            .as_str()
            .unwrap_or("a nested type")
            .to_string(),
    }
}

/// The Delta type of an Arrow type sluice writes.
fn delta_type(dt: &DataType) -> Result<Value, String> {
    let simple = |s: &str| Ok(Value::String(s.into()));
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => simple("string"),
        DataType::Dictionary(_, value) => delta_type(value),
        DataType::Int64 => simple("long"),
        DataType::Int32 => simple("integer"),
        DataType::Int16 => simple("short"),
        DataType::Int8 => simple("byte"),
        DataType::Float64 => simple("double"),
        DataType::Float32 => simple("float"),
        DataType::Boolean => simple("boolean"),
        DataType::Date32 => simple("date"),
        DataType::Binary | DataType::LargeBinary => simple("binary"),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => simple("timestamp"),
        DataType::Decimal128(p, s) if *p <= 38 && *s >= 0 => simple(&format!("decimal({p},{s})")),
        DataType::List(item) | DataType::LargeList(item) => Ok(json!({
            "type": "array",
            "elementType": delta_type(item.data_type())?,
            "containsNull": true,
        })),
        DataType::Struct(fields) => {
            let fields = fields
                .iter()
                .map(|f| Ok(field(f.name(), delta_type(f.data_type())?)))
                .collect::<Result<Vec<_>, String>>()?;
            Ok(json!({"type": "struct", "fields": fields}))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => Ok(json!({
                "type": "map",
                "keyType": delta_type(kv[0].data_type())?,
                "valueType": delta_type(kv[1].data_type())?,
                "valueContainsNull": true,
            })),
            _ => Err("a map without key and value fields".into()),
        },
        other => Err(format!(
            "{other} has no Delta type (without table features): map it to a string, a \
             number, a boolean or a UTC timestamp in microseconds"
        )),
    }
}

/// The partition values of a path in a table: its `key=value` directories.
fn partition_values(rel: &str) -> Value {
    let mut values = serde_json::Map::new();
    let dirs = rel.rsplit_once('/').map_or("", |(d, _)| d);
    for part in dirs.split('/') {
        if let Some((k, v)) = part.split_once('=') {
            values.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    Value::Object(values)
}

fn decoded_path(action: &Value) -> Option<String> {
    let raw = action["path"].as_str()?;
    Some(percent_decode_str(raw).decode_utf8_lossy().into_owned())
}

/// The version of a commit file, `00000000000000000042.json`.
fn commit_version(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// A random UUID (version 4), the table's id.
fn new_table_id() -> String {
    let (a, b, c, d) = (
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..0x1000),
        fastrand::u64(..),
    );
    let variant = 0x8000 | (d >> 48) as u16 & 0x3fff;
    format!(
        "{a:08x}-{b:04x}-4{c:03x}-{variant:04x}-{:012x}",
        d & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests;
