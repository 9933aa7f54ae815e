//! `sluice run --dry-run`: what a run would request, from the state as it is, without a
//! request, a lock or a write (a flow that never ran gets no state either).

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sluice_core::{QuotaInfo, Registry, SyncMode};

use crate::backfill::{human_duration, quota_time};
use crate::flow::Flow;
use crate::run::{incremental_tasks, prepare, RunError};

/// One task of the run: a stream's slice, where it starts, and the fewest requests it takes.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedTask {
    pub stream: String,
    /// The part of the source (an ad account); empty when the stream has one part.
    pub slice: String,
    /// What it pulls: the days of a day stream, or where an incremental stream resumes.
    pub starts_from: String,
    pub min_requests: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunPlan {
    pub flow: String,
    pub tasks: Vec<PlannedTask>,
    pub quotas: Vec<QuotaInfo>,
    pub min_requests: u64,
    /// The least time those requests take at the quotas' pace.
    #[serde(serialize_with = "seconds")]
    pub min_duration: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// Where an incremental stream resumes, from its checkpoint: its epoch marks in ISO-8601,
/// else the checkpoint's own keys.
fn resumes_from(checkpoint: Option<&Value>) -> String {
    let Some(Value::Object(map)) = checkpoint else {
        return "the start (a first run)".into();
    };
    let marks: Vec<String> = map
        .iter()
        .filter_map(|(k, v)| {
            let secs = v
                .as_i64()
                .filter(|s| (946_684_800..4_102_444_800).contains(s))?;
            let t = chrono::DateTime::from_timestamp(secs, 0)?;
            Some(format!(
                "{k} {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ))
        })
        .collect();
    if marks.is_empty() {
        "its stored position".into()
    } else {
        format!("its stored position ({})", marks.join(", "))
    }
}

/// Plan a run of `flow` from its stored state, as `run_flow` would.
pub fn plan_run(flow: &Flow, registry: &Registry) -> Result<RunPlan, RunError> {
    let prepared = prepare(flow, registry)?;
    // a fresh machine's plan starts where the lake's copy of the state says
    crate::lake_state::ensure_state(flow)?;
    let store = if flow.state.exists() {
        Some(flow.state.open()?)
    } else {
        None
    };
    let tasks = incremental_tasks(flow, &prepared, store.as_ref())?;
    let mut planned = Vec::new();
    let mut min_requests = 0;
    for t in &tasks {
        let starts_from = match (t.stream.sync, t.task.window) {
            (SyncMode::Days { .. }, Some(w)) => {
                let n = (w.to - w.from).num_days() + 1;
                format!(
                    "the days {}..{} ({n} day{})",
                    w.from,
                    w.to,
                    if n == 1 { "" } else { "s" }
                )
            }
            (SyncMode::Snapshot, _) => "the whole list (a snapshot)".into(),
            _ => {
                let checkpoint = match &store {
                    Some(s) => s.checkpoint(&flow.name, &t.key)?,
                    None => None,
                };
                resumes_from(checkpoint.as_ref())
            }
        };
        let n = prepared
            .connector
            .min_requests(&t.task, &t.mapping.source_paths());
        min_requests += n;
        planned.push(PlannedTask {
            stream: t.stream.name.clone(),
            slice: t.task.slice.clone(),
            starts_from,
            min_requests: n,
        });
    }
    let quotas = prepared.connector.quotas();
    let min_duration = quotas
        .iter()
        .map(|q| quota_time(q, min_requests))
        .max()
        .unwrap_or_default();
    Ok(RunPlan {
        flow: flow.name.clone(),
        tasks: planned,
        quotas,
        min_requests,
        min_duration,
    })
}

impl RunPlan {
    /// The plan as a person reads it.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "run {}: {} task{}\n",
            self.flow,
            self.tasks.len(),
            if self.tasks.len() == 1 { "" } else { "s" }
        );
        for t in &self.tasks {
            let name = if t.slice.is_empty() {
                t.stream.clone()
            } else {
                format!("{} / {}", t.stream, t.slice)
            };
            out.push_str(&format!(
                "  {name}: {}, at least {} request{}\n",
                t.starts_from,
                t.min_requests,
                if t.min_requests == 1 { "" } else { "s" }
            ));
        }
        let quota = if self.quotas.is_empty() {
            "no quota".to_string()
        } else {
            self.quotas
                .iter()
                .map(|q| format!("{} per {} s ({})", q.count, q.period_s, q.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "  requests: at least {} (pages beyond the first add more); quota: {quota}\n  \
             time: at least {} at that pace\n",
            self.min_requests,
            human_duration(self.min_duration)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_says_its_marks_in_iso_8601() {
        assert_eq!(resumes_from(None), "the start (a first run)");
        let cp = serde_json::json!({"mark": 1748736000, "recent": [[1, 2]], "page": 3});
        assert_eq!(
            resumes_from(Some(&cp)),
            "its stored position (mark 2025-06-01T00:00:00Z)"
        );
        assert_eq!(
            resumes_from(Some(&serde_json::json!({"cursor": "abc"}))),
            "its stored position"
        );
    }
}
