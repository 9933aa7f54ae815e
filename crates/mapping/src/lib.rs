//! Mapping sets as the seeds write them (Adobe Data Prep's `mappings[]`), compiled once into a
//! plan of column operations and executed per page into Arrow record batches.
//!
//! The path: [`MappingSet::from_json`] reads the file, [`compile`] validates it against the
//! stream schema (every problem at once, slips normalised with warnings) and returns a
//! [`CompiledMapping`], whose [`CompiledMapping::map_ndjson`] turns a page of records into a
//! batch plus the records it rejected.

mod compile;
mod execute;
pub mod expr;
mod plan;
mod scan;
mod set;

pub use compile::{
    compile, compile_with_aliases, identity_destination, identity_mapping, identity_mapping_of,
    CompileError, CompileOutcome, Issue,
};
pub use execute::{MapOutput, Reject};
pub use plan::{ColumnSource, CompiledMapping, ValueType, DEFAULT_MAX_VALUE_BYTES};
pub use set::{Mapping, MappingSet, SetError, SourceType};
pub use sluice_core::suggest::closest;
