//! Shared vocabulary of sluice: what a connector is, what it yields, and the types every engine
//! crate agrees on. Nothing here knows a vendor, a sink or a mapping.

pub mod connector;
pub mod day_pages;
pub mod json;
pub mod records;
pub mod schema;
pub mod secret;
pub mod settings;
pub mod settings_doc;
pub mod suggest;

pub use connector::{
    ConnectionLimits, Connector, ConnectorConfig, ConnectorError, ConnectorFactory, DayWindow,
    KeyValueStore, Page, PageSender, Param, PullContext, QuotaInfo, QuotaOverrides, Registry,
    RejectedRecord, RequestMetricsSnapshot, StateHandle, StreamSpec, StreamTable, SyncMode, Task,
    DEFAULT_MAX_PAGE_BYTES,
};
pub use day_pages::DayPages;
pub use records::{Framed, Records};
pub use schema::{FieldType, SchemaField, StreamSchema};
pub use secret::{redact, Secret};
pub use settings_doc::{ConnectorKeys, Key, Kind, Rule, Side};
