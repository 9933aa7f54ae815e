//! `--json` for `run`, `backfill` and `check`: one machine-readable summary on stdout, the
//! same fields whatever happened (a cron wrapper, an Airflow task or a Kubernetes Job reads it
//! instead of scraping the human line), and its JSON Schema (`sluice schema summary`).

use std::sync::Mutex;

use serde::Serialize;
use serde_json::{json, Value};
use sluice_runner::RunOutcome;

/// Every error line printed this process, masked: a summary carries them.
static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keep `message` (already masked) for the summary.
pub fn remember_error(message: &str) {
    if let Ok(mut e) = ERRORS.lock() {
        e.push(message.to_string());
    }
}

fn errors() -> Vec<String> {
    ERRORS.lock().map(|e| e.clone()).unwrap_or_default()
}

#[derive(Debug, Serialize)]
pub struct Summary {
    /// `run`, `backfill` or `check`.
    pub command: &'static str,
    pub flow: Option<String>,
    /// `success`, `threshold_exceeded`, `failed`, `interrupted`, `quota_exhausted`,
    /// `nothing_to_do` (a backfill whose windows are done), `ok` (a check) or `invalid` (the
    /// flow or the command line was refused before any work).
    pub status: String,
    pub exit_code: u8,
    pub records_in: u64,
    pub records_out: u64,
    pub rejected: u64,
    pub skipped: u64,
    /// Files the run wrote.
    pub files: u64,
    /// The run report's path.
    pub report: Option<String>,
    /// When a spent quota allows the next run (ISO-8601, UTC).
    pub resume_at: Option<String>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// Environment variables a run needs and that are not set (a check).
    pub unset_env: Vec<String>,
}

impl Summary {
    pub fn new(command: &'static str, status: &str, exit_code: u8) -> Self {
        Self {
            command,
            flow: None,
            status: status.into(),
            exit_code,
            records_in: 0,
            records_out: 0,
            rejected: 0,
            skipped: 0,
            files: 0,
            report: None,
            resume_at: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            unset_env: Vec::new(),
        }
    }

    pub fn of_outcome(command: &'static str, flow: &str, o: &RunOutcome, exit_code: u8) -> Self {
        let r = &o.report.metrics.record_summary;
        Self {
            flow: Some(flow.to_string()),
            records_in: r.input_record_count,
            records_out: r.output_record_count,
            rejected: r.failed_record_count,
            skipped: r.skipped_record_count,
            files: o.report.metrics.file_summary.output_file_count,
            report: Some(o.report_path.display().to_string()),
            resume_at: o.exhausted.as_ref().map(|e| {
                e.resume_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            }),
            warnings: o.report.warnings.clone(),
            ..Self::new(command, o.status.as_str(), exit_code)
        }
    }

    /// Print it (with every error printed so far) and return its exit code.
    pub fn print(mut self) -> u8 {
        self.errors.extend(errors());
        let text = serde_json::to_string(&self).unwrap_or_default();
        super::output::print_line(&sluice_core::redact(&text));
        self.exit_code
    }
}

/// The summary's JSON Schema (draft-07).
pub fn schema() -> Value {
    let count = |d: &str| json!({"type": "integer", "minimum": 0, "description": d});
    let texts = |d: &str| json!({"type": "array", "items": {"type": "string"}, "description": d});
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://github.com/sluice/sluice/schemas/summary.json",
        "title": "sluice run summary",
        "description": "What `sluice run|backfill|check --json` prints on stdout: one object.",
        "type": "object",
        "additionalProperties": false,
        "required": ["command", "flow", "status", "exit_code", "records_in", "records_out",
                     "rejected", "skipped", "files", "report", "resume_at", "errors",
                     "warnings", "unset_env"],
        "properties": {
            "command": {"enum": ["run", "backfill", "check"]},
            "flow": {"type": ["string", "null"], "description": "The flow's name; null when the flow file could not be read."},
            "status": {"enum": ["success", "threshold_exceeded", "failed", "interrupted",
                                "quota_exhausted", "nothing_to_do", "ok", "invalid"]},
            "exit_code": {"type": "integer", "description": "0 success, 1 failed, 2 invalid, 3 error threshold, 4 locked, 5 quota spent, 6 backfill interrupted with windows left."},
            "records_in": count("Records received from the source."),
            "records_out": count("Records written."),
            "rejected": count("Records that failed (in the rejects file)."),
            "skipped": count("Records dropped on purpose (already written)."),
            "files": count("Files written."),
            "report": {"type": ["string", "null"], "description": "The run report's path."},
            "resume_at": {"type": ["string", "null"], "format": "date-time", "description": "When a spent quota allows the next run (UTC)."},
            "errors": texts("Error messages, secrets masked."),
            "warnings": texts("Warnings of the run or check."),
            "unset_env": texts("Environment variables a run needs that are not set (check)."),
        }
    })
}
