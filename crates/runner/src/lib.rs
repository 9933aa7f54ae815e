//! Runs flows: loads and validates them, drives a connector's pages through the mapper into the
//! sink, commits checkpoints only after the data they cover is safely written, and reports.

pub mod agreement;
pub mod backfill;
mod consume;
pub mod flow;
pub mod flow_schema;
mod lake_state;
pub use lake_state::{ensure_state, publish_flow_state};
pub mod mapfile;
mod progress;
pub use progress::clear_for_log;
pub mod report;
mod run;
pub mod run_plan;
pub mod schedule;
pub mod scheduler;
pub mod schema_policy;
mod shard;
pub use shard::Shard;

pub use flow::{Flow, FlowError, Overrides};
pub use flow_schema::{flow_schema, flows_reference};
pub use report::{RunReport, RunStatus};
pub use run::{check_flow, discover, run_flow, CheckReport, RunError, RunOptions, RunOutcome};
pub use schedule::Schedule;
