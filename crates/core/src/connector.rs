//! The connector contract: a connector declares its streams as data and, given a task, sends
//! pages of records in the stream's record shape, each with the checkpoint that becomes valid once
//! that page is safely written. It knows nothing of mapping, sinks or state storage.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::records::Records;
use crate::schema::StreamSchema;
use crate::secret::Secret;
use crate::settings_doc::ConnectorKeys;

/// One data set of a source, declared as data.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    pub name: String,
    /// Dot paths (in the record shape) that identify a record.
    pub primary_key: Vec<String>,
    /// Dot path of the field the stream is incremental on, if any.
    pub cursor_field: Option<String>,
    pub schema: StreamSchema,
    /// How `sluice run` pulls the stream.
    pub sync: SyncMode,
    /// Whether a backfill can ask this stream for a day range.
    pub supports_day_windows: bool,
    /// The longest day range one request may cover (an API's range cap), if any: backfill
    /// windows are cut to it.
    pub max_window_days: Option<u32>,
    /// Records are partitioned by their own day, and a pull of a day replaces that day's files
    /// (event streams). Otherwise a window's files hold all of its days together (entity
    /// streams partitioned by extraction date), so a window is redone only whole.
    pub day_partitioned: bool,
    /// The fields a flow without a mapping set writes, when not every field of the schema
    /// (an API whose columns are chosen per request: the connector's default ones).
    pub default_fields: Option<Vec<String>>,
    /// Other names mapping sets use for this stream's fields, tried in order: `(alias, path)`.
    /// An alias ending in `.` is a prefix. A rule applies when its result is a declared field;
    /// the last matching rule applies regardless.
    pub aliases: Vec<(String, String)>,
    /// The quota category its requests count against, beside the connection-wide quotas
    /// (`None`: only those): what `sluice streams` shows and a quota override names.
    pub rate_category: Option<String>,
}

/// How `sluice run` pulls a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// The connector keeps its own position (a cursor, a high-water mark) in its checkpoint.
    Incremental,
    /// Whole days that stay open for a while after the fact (late events, restated ad
    /// metrics): each run pulls the days since the last complete one, plus the last
    /// `lookback_days` again, and each day pulled replaces that day's earlier files. The engine
    /// keeps the position; a first run pulls `initial_days` (today included). A flow's
    /// `[source]` may set both.
    Days {
        lookback_days: u32,
        initial_days: u32,
    },
    /// The whole data set every run (entity lists).
    Snapshot,
}

/// An inclusive range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayWindow {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The unit of work: one stream, one slice of it, and (for day-windowed pulls) a day window.
#[derive(Debug, Clone)]
pub struct Task {
    pub stream: String,
    /// Which part of the source (an ad account): one of [`Connector::slices`]; empty when the
    /// stream has one part.
    pub slice: String,
    pub window: Option<DayWindow>,
}

impl Task {
    /// The task's key in the state store, stable across runs: `stream`, `stream/slice`, and
    /// `…@from..to` for a window of a backfill.
    pub fn key(&self, backfill: bool) -> String {
        let mut key = self.stream.clone();
        if !self.slice.is_empty() {
            key.push('/');
            key.push_str(&self.slice);
        }
        match (backfill, self.window) {
            (true, Some(w)) => format!("{key}@{}..{}", w.from, w.to),
            _ => key,
        }
    }
}

/// A page of records ready for the mapper.
#[derive(Debug, Default)]
pub struct Page {
    /// The records, in the stream's record shape (for the seeds' sources: the explore `data[]`
    /// item shape).
    pub records: Records,
    pub record_count: usize,
    /// Bytes received from the API for this page (before decompression where the API
    /// compresses), for the run report's input size.
    pub input_bytes: u64,
    /// The day partition these records belong to; `None` means the run's extraction date.
    pub partition: Option<NaiveDate>,
    /// State to store once this page and every page before it are committed by the sink.
    /// `None` keeps the previous checkpoint.
    pub checkpoint: Option<Value>,
    /// True when this checkpoint completes the task (the export is whole): the runner closes
    /// and commits everything outstanding, so the final state never runs ahead of the data.
    pub completes_task: bool,
    /// Day partitions this page's checkpoint holds whole (all their records were sent since the
    /// last checkpoint): their files from any earlier pull are replaced by this pull's.
    pub completes_partitions: Vec<NaiveDate>,
    /// Throw away everything sent since the last checkpoint (a retried request will send it
    /// again). Such a page carries no records.
    pub discard_uncommitted: bool,
    /// Records the connector received but cannot hand over (not in the stream's record shape,
    /// too large): they count as failed, like mapping rejects, and go to the rejects file.
    pub rejected: Vec<RejectedRecord>,
    /// The days this page's records were selected by, when neither a day partition nor a
    /// backfill window says (an incremental pull of records updated since a mark): kept with
    /// the files, so a lost file names the backfill that pulls it again.
    pub covers: Option<DayWindow>,
    /// Records the connector dropped on purpose (duplicates, re-reads of records already
    /// written): counted in the report as skipped, never written.
    pub skipped: u64,
    /// What a user should know about this pull that is not an error (a feature the account
    /// does not have, an object deleted while it was paged): kept in the stream's report.
    pub notes: Vec<String>,
}

/// A record a connector could not use, as the rejects file keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    /// The record as received (a prefix of it when it was too large to keep).
    pub record: Vec<u8>,
    pub reason: String,
}

pub type PageSender = tokio::sync::mpsc::Sender<Page>;

/// What a connector needs to run one task.
pub struct PullContext {
    pub task: Task,
    /// The checkpoint last committed for this stream, if any.
    pub checkpoint: Option<Value>,
    /// The run's start time: connectors compute windows and marks from it, not from the clock.
    pub run_started: DateTime<Utc>,
    /// The record fields (dot paths) the flow's mapping reads: an API that takes a list of
    /// columns asks for these. Empty when every field is wanted.
    pub fields: Vec<String>,
    pub pages: PageSender,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{0}")]
    Config(String),
    #[error("authentication failed for connection `{connection}`: {message}")]
    Auth { connection: String, message: String },
    #[error("{message}")]
    Api {
        status: Option<u16>,
        message: String,
    },
    #[error("unexpected response from {endpoint}: {message}")]
    Protocol { endpoint: String, message: String },
    #[error("stream `{0}` is not offered by this connector")]
    UnknownStream(String),
    #[error("the run stopped before the connector finished")]
    Stopped,
    /// A quota is spent for longer than the run may wait (a vendor's daily budget): retrying
    /// now only burns requests. What is complete is committed; resume after `resume_at`.
    #[error("{message}")]
    QuotaExhausted {
        quota: String,
        resume_at: DateTime<Utc>,
        message: String,
    },
}

impl ConnectorError {
    /// A stable code for run reports, in the seeds' `CONNECTOR-…` style.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectorError::Config(_) => "CONNECTOR-1001-400",
            ConnectorError::Auth { .. } => "CONNECTOR-1002-401",
            ConnectorError::Api { .. } => "CONNECTOR-2001-500",
            ConnectorError::Protocol { .. } => "CONNECTOR-2002-502",
            ConnectorError::UnknownStream(_) => "CONNECTOR-1003-400",
            ConnectorError::Stopped => "CONNECTOR-2003-499",
            ConnectorError::QuotaExhausted { .. } => "CONNECTOR-2004-429",
        }
    }
}

#[async_trait]
pub trait Connector: Send + Sync {
    fn streams(&self) -> Vec<StreamSpec>;

    fn stream(&self, name: &str) -> Option<StreamSpec> {
        self.streams().into_iter().find(|s| s.name == name)
    }

    /// Pull one task, sending pages until it is complete. Returning `Ok` without a page that
    /// `completes_task` means there was nothing to do.
    async fn pull(&self, ctx: PullContext) -> Result<(), ConnectorError>;

    /// Counters of the HTTP traffic this connector sent, for the run report.
    fn request_metrics(&self) -> RequestMetricsSnapshot;

    /// The request quotas this connection paces itself under (after any override).
    fn quotas(&self) -> Vec<QuotaInfo>;

    /// The fewest requests a task needs (a backfill plan's estimate; paged APIs need more).
    /// `fields` are what the mapping reads, as the pull's [`PullContext::fields`].
    fn min_requests(&self, _task: &Task, _fields: &[String]) -> u64 {
        1
    }

    /// The days an entity stream's incremental runs already hold, read from its checkpoint:
    /// a backfill of those days would pull the same records again (`--force` still does).
    fn incremental_days(
        &self,
        _stream: &StreamSpec,
        _checkpoint: &serde_json::Value,
    ) -> Option<DayWindow> {
        None
    }

    /// The streams a flow pulls when it names none (`[source] streams`): all of them unless
    /// the connector's settings pick some (Pinterest's `object_type`).
    fn default_streams(&self) -> Vec<String> {
        self.streams().into_iter().map(|s| s.name).collect()
    }

    /// The windows a backfill of `from..=to` pulls when `--window` does not say: the layout
    /// that needs the fewest requests (an API with a short synchronous range and a long
    /// asynchronous one). `None` leaves it to the engine's default.
    fn windows(
        &self,
        _stream: &StreamSpec,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> Option<Vec<DayWindow>> {
        None
    }

    /// The parts of a stream's source, planned up front (no network): an ad account each, say.
    /// Plans, ETAs and shards count them; a day of one slice never replaces another's files.
    fn slices(&self, _stream: &StreamSpec) -> Vec<String> {
        vec![String::new()]
    }

    /// The last day whose data is final at `now`: a backfill never records a later day done.
    /// Yesterday in UTC unless the API counts days in another timezone.
    fn last_complete_day(&self, now: DateTime<Utc>) -> NaiveDate {
        now.date_naive().pred_opt().unwrap_or(NaiveDate::MIN)
    }
}

/// A request quota as a plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuotaInfo {
    pub name: String,
    pub count: u32,
    pub period_s: u64,
}

/// What the HTTP layer did, as the run report shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestMetricsSnapshot {
    pub requests_sent: u64,
    pub retries: u64,
    pub bytes_received: u64,
    pub throttled_ms: u64,
    pub rate_limited_responses: u64,
}

/// A connection parameter after `${ENV}` resolution: references become secrets.
#[derive(Debug, Clone)]
pub enum Param {
    Plain(Value),
    Secret(Secret),
}

/// The `[connection]` and `[source]` tables of a flow, resolved.
#[derive(Debug, Clone, Default)]
pub struct ConnectorConfig {
    /// The flow's name, used in error messages ("connection of flow `x`").
    pub flow: String,
    pub connection: BTreeMap<String, Param>,
    pub source: BTreeMap<String, Value>,
    /// The flow's quota overrides.
    pub quota: QuotaOverrides,
    /// The `[connection]` keys every connector's HTTP client honours.
    pub limits: ConnectionLimits,
    /// Where a connector keeps values between runs (a rotated refresh token): the flow's
    /// state store. `None` where nothing runs (`sluice check`).
    pub store: Option<StateHandle>,
    /// `[connection]` keys the flow file gives a literal value (not an `${ENV}` reference),
    /// even if an override (`--sandbox`) replaced them: a credential among them is refused.
    pub literal_keys: std::collections::BTreeSet<String>,
}

/// A small key-value store that outlives the run.
pub trait KeyValueStore: Send + Sync {
    fn load(&self, key: &str) -> Option<String>;
    fn save(&self, key: &str, value: &str) -> Result<(), String>;
}

/// A shared handle on the flow's [`KeyValueStore`].
#[derive(Clone)]
pub struct StateHandle(pub Arc<dyn KeyValueStore>);

impl std::fmt::Debug for StateHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateHandle")
    }
}

/// `[connection]` keys of the engine, the same for every connector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// `max_page_bytes`: the most of one response a connector holds in memory.
    pub max_page_bytes: Option<u64>,
    /// `max_retries`: attempts after a failure other than rate limiting (5xx, cut bodies).
    pub max_retries: Option<u32>,
    /// `max_wait_seconds`: the longest wait for a quota before the run stops as exhausted.
    pub max_wait_seconds: Option<u64>,
    /// `read_timeout_seconds`: the longest wait for the next bytes of a response (and, on a
    /// streamed export, for the next whole record).
    pub read_timeout_seconds: Option<u64>,
    /// `connect_timeout_seconds`: the longest wait for a connection to open.
    pub connect_timeout_seconds: Option<u64>,
    /// `request_timeout_seconds`: the longest a whole (not streamed) request may take.
    pub request_timeout_seconds: Option<u64>,
    /// `retry_budget_seconds`: the most one request may wait across all its retries.
    pub retry_budget_seconds: Option<u64>,
}

/// A flow's `quota`: one `COUNT/SECONDS` for every quota of the connection (tests, a budget
/// shared with other tools), or values per quota name (`{ ads_analytics = "300/60" }`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaOverrides {
    pub all: Option<(u32, u64)>,
    pub by_name: BTreeMap<String, (u32, u64)>,
    /// Processes sharing the credential's quotas at once (`--shard K/N`: N); each paces at its
    /// share. 0 and 1 mean this process alone.
    pub share: u32,
    /// This process's place among them (`--shard K/N`: K), for staggering a quota smaller than
    /// their number.
    pub share_index: u32,
}

/// The default of `max_page_bytes`: far above any page a vendor sends at its largest page size
/// (Zendesk's 1,000 users are about 1 MB), far below what would strain a small pod.
pub const DEFAULT_MAX_PAGE_BYTES: u64 = 64 * 1024 * 1024;

impl ConnectorConfig {
    /// The most of one response (a page, or one line of a streamed body) a connector may hold.
    pub fn max_page_bytes(&self) -> usize {
        usize::try_from(self.limits.max_page_bytes.unwrap_or(DEFAULT_MAX_PAGE_BYTES))
            .unwrap_or(usize::MAX)
    }
}

pub type ConnectorFactory = fn(&ConnectorConfig) -> Result<Arc<dyn Connector>, ConnectorError>;

/// What a connector offers before it is configured: its stream table, for commands that need
/// no credentials (`state`, listings).
pub type StreamTable = fn() -> Vec<StreamSpec>;

/// Connectors by name, registered explicitly by the binary.
#[derive(Default)]
pub struct Registry {
    factories: BTreeMap<&'static str, Entry>,
}

/// What a connector registers.
struct Entry {
    factory: ConnectorFactory,
    streams: StreamTable,
    about: &'static str,
    settings: &'static ConnectorKeys,
}

impl Registry {
    /// `about`: one line on what the connector pulls, for `sluice connectors`. `settings`: its
    /// `[connection]` and `[source]` keys, for the flow file's schema and reference.
    pub fn register(
        &mut self,
        name: &'static str,
        about: &'static str,
        factory: ConnectorFactory,
        streams: StreamTable,
        settings: &'static ConnectorKeys,
    ) {
        let entry = Entry {
            factory,
            streams,
            about,
            settings,
        };
        self.factories.insert(name, entry);
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.factories.keys().copied().collect()
    }

    /// What connector `name` pulls, in a line.
    pub fn about(&self, name: &str) -> Result<&'static str, ConnectorError> {
        Ok(self.entry(name)?.about)
    }

    /// The `[connection]` and `[source]` keys connector `name` declares.
    pub fn settings(&self, name: &str) -> Result<&'static ConnectorKeys, ConnectorError> {
        Ok(self.entry(name)?.settings)
    }

    fn entry(&self, name: &str) -> Result<&Entry, ConnectorError> {
        self.factories.get(name).ok_or_else(|| {
            ConnectorError::Config(format!(
                "unknown connector `{name}`; known connectors: {}",
                self.names().join(", ")
            ))
        })
    }

    pub fn build(
        &self,
        name: &str,
        config: &ConnectorConfig,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        (self.entry(name)?.factory)(config)
    }

    /// The streams of connector `name`, without configuring it.
    pub fn streams(&self, name: &str) -> Result<Vec<StreamSpec>, ConnectorError> {
        Ok((self.entry(name)?.streams)())
    }
}
