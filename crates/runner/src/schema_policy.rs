//! The schema migration policy (seed 004's setting), for streams written without a mapping set
//! over an open schema (custom properties that come and go):
//!
//! - `evolve` (default): a new field becomes a new column; files written before keep their
//!   schema and stay readable beside the new ones (`union_by_name`).
//! - `ignore`: a new field is dropped and listed in the run report.
//! - `fail`: the run stops before writing the field's records and names it.
//!
//! "New" means not declared by the stream and not accepted before: the columns a stream has
//! accepted are kept in the state store, and the first pull of a stream accepts what it sees
//! (there is nothing to compare it with yet).

use std::collections::{BTreeMap, BTreeSet};

use sluice_mapping::{identity_destination, CompiledMapping, ValueType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaPolicy {
    Evolve,
    Ignore,
    Fail,
}

impl SchemaPolicy {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "evolve" => Ok(SchemaPolicy::Evolve),
            "ignore" => Ok(SchemaPolicy::Ignore),
            "fail" => Ok(SchemaPolicy::Fail),
            other => Err(format!(
                "\"{other}\" is not a schema policy: use \"evolve\", \"ignore\" or \"fail\""
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("stream `{stream}`: new field `{field}` (not in the stream's known columns); schema_policy = \"fail\" stops before writing it. Map it in a mapping set, or set schema_policy = \"evolve\" (a new column) or \"ignore\" (dropped)")]
    NewField { stream: String, field: String },
}

/// The growing column set of one stream within a task.
#[derive(Debug, Clone)]
pub struct DynamicColumns {
    pub stream: String,
    pub policy: SchemaPolicy,
    /// No columns were accepted before: this pull sets the baseline.
    pub first_pull: bool,
    pub schema: sluice_core::StreamSchema,
    /// Columns accepted so far beyond the declared ones: source path → type.
    pub accepted: BTreeMap<String, ValueType>,
}

/// What one page changed.
#[derive(Debug, Default)]
pub struct Change {
    pub extended: Option<CompiledMapping>,
    pub added: Vec<String>,
    pub ignored: Vec<String>,
}

impl DynamicColumns {
    /// Apply the policy to the fields a page brought that no column reads.
    pub fn observe(
        &mut self,
        unknown: &BTreeMap<String, Option<ValueType>>,
        mapping: &CompiledMapping,
    ) -> Result<Change, PolicyError> {
        let mut change = Change::default();
        let mut added = Vec::new();
        for (field, ty) in unknown {
            if self.accepted.contains_key(field) {
                continue;
            }
            // a field seen only as null so far gets a column once a value shows its type
            let Some(ty) = ty else { continue };
            match (self.first_pull, self.policy) {
                (true, _) | (false, SchemaPolicy::Evolve) => {
                    self.accepted.insert(field.clone(), ty.clone());
                    added.push((
                        field.clone(),
                        identity_destination(&self.schema, field),
                        ty.clone(),
                    ));
                    change.added.push(field.clone());
                }
                (false, SchemaPolicy::Ignore) => change.ignored.push(field.clone()),
                (false, SchemaPolicy::Fail) => {
                    return Err(PolicyError::NewField {
                        stream: self.stream.clone(),
                        field: field.clone(),
                    })
                }
            }
        }
        if !added.is_empty() {
            change.extended = Some(mapping.with_columns(&added));
        }
        if !change.ignored.is_empty() {
            // ignored fields stop being reported on every page
            let ignored: BTreeSet<String> = change.ignored.iter().cloned().collect();
            let base = change.extended.take().unwrap_or_else(|| mapping.clone());
            change.extended = Some(base.track_unknown_fields(&self.schema.open_paths(), &ignored));
        }
        Ok(change)
    }

    /// The accepted columns as stored in the state store.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.accepted
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.name())))
                .collect(),
        )
    }
}

/// Accepted columns from their stored form.
pub fn accepted_from_json(v: &serde_json::Value) -> BTreeMap<String, ValueType> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), ValueType::from_name(v.as_str()?)?)))
                .collect()
        })
        .unwrap_or_default()
}
