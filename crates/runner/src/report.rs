//! The run report, in the shape of the seeds' flow-run metrics (`durationSummary`,
//! `sizeSummary`, `recordSummary`, `fileSummary`, `statusSummary`) plus what the HTTP layer did.

use serde::Serialize;
use sluice_core::RequestMetricsSnapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Everything pulled was written (including "nothing new").
    Success,
    /// More records failed mapping than the flow's error threshold allows; progress up to the
    /// last commit is kept, nothing past it.
    ThresholdExceeded,
    /// The run stopped on an error; progress up to the last commit is kept.
    Failed,
    /// Stopped by a signal; progress up to the last commit is kept.
    Interrupted,
    /// A vendor's daily (or other long) quota ran out; progress up to the last commit is kept
    /// and the next run continues.
    QuotaExhausted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::ThresholdExceeded => "threshold_exceeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::QuotaExhausted => "quota_exhausted",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorEntry {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DurationSummary {
    #[serde(rename = "startedAtUTC")]
    pub started_at_utc: i64,
    #[serde(rename = "completedAtUTC")]
    pub completed_at_utc: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SizeSummary {
    pub input_bytes: u64,
    pub output_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordSummary {
    /// Every record received: written, failed or skipped.
    pub input_record_count: u64,
    pub output_record_count: u64,
    /// Records that failed (in the rejects file with their reasons).
    pub failed_record_count: u64,
    /// Records the connector dropped on purpose (duplicates, re-reads of records already
    /// written).
    pub skipped_record_count: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileSummary {
    /// Pages received from the API.
    pub input_file_count: u64,
    pub output_file_count: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusSummary {
    pub status: RunStatus,
    pub errors: Vec<ErrorEntry>,
    /// When a quota ran out: the earliest time the flow can continue (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_at: Option<String>,
    /// Which quota ran out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exhausted_quota: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    pub duration_summary: DurationSummary,
    pub size_summary: SizeSummary,
    pub record_summary: RecordSummary,
    pub file_summary: FileSummary,
    pub status_summary: StatusSummary,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamReport {
    pub stream: String,
    /// The task: the stream itself, or `stream@from..to` for a backfill window.
    pub task: String,
    pub record_summary: RecordSummary,
    pub pages: u64,
    /// Output files, relative to the destination path.
    pub files: Vec<String>,
    /// True when the stream's export completed and its mark advanced.
    pub completed: bool,
    /// New fields that became columns (`schema_policy = "evolve"`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added_fields: Vec<String>,
    /// New fields that were dropped (`schema_policy = "ignore"`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored_fields: Vec<String>,
    /// Fields the records brought that the flow's mapping set does not read (a vendor's new
    /// columns): map them to keep them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmapped_fields: Vec<String>,
    /// What the connector or the writer noted about the pull (an empty stream, a feature the
    /// account lacks, an object deleted while paged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub id: String,
    pub flow_name: String,
    pub flow_file: String,
    pub connector: String,
    pub destination: String,
    pub metrics: Metrics,
    pub requests: RequestMetricsSnapshot,
    pub streams: Vec<StreamReport>,
    pub warnings: Vec<String>,
    /// Present when records were rejected.
    pub rejects_file: Option<String>,
}
