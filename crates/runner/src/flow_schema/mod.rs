//! The flow file's JSON Schema (draft-07, for Taplo and VS Code: completion, hover text and
//! validation while a flow is edited) and `docs/flows.md`, both rendered from one set of key
//! tables, so the editor and the reference say the same thing: the engine's tables (`engine`)
//! and the keys each connector registers with itself ([`sluice_core::ConnectorKeys`], from
//! [`Registry::settings`](sluice_core::Registry::settings)).
//!
//! The tables are data, not derived from the parsers: `flow.rs` reads its tables by hand, and
//! each connector's settings structs are private to its crate. So tests hold the tables to the
//! real parsers instead: the engine's here (the keys `Flow::parse` takes out before a connector
//! sees them, the keys serde lists), each connector's in its own crate
//! ([`sluice_core::settings_doc::check_keys`] and [`check_rules`]: the keys its settings accept,
//! the values a choice accepts, the keys it cannot do without), and every flow in
//! `config/flows/` against the schema in the binary's `tests/flow_schema.rs`. A key added to a
//! parser and not to its table fails a test.
//!
//! - `engine`: the tables `Flow::parse` reads;
//! - `schema`: the JSON Schema builder;
//! - `reference`: the Markdown of `docs/flows.md`;
//! - `walk`: a flow file checked against the schema (for those tests).
//!
//! [`check_rules`]: sluice_core::settings_doc::check_rules

mod engine;
mod reference;
mod schema;
mod walk;

#[cfg(test)]
mod tests;

pub use engine::{Table, ENGINE_TABLES};
pub use reference::{flows_reference, EXAMPLE};
pub use schema::{flow_schema, ENV_REFERENCE_PATTERN, SCHEMA_ID};
pub use walk::schema_errors;
