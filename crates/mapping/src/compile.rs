//! Validation and compilation of a mapping set against a stream schema. Every problem is
//! collected, so a user fixes a file in one pass; the seeds' harmless slips are normalised with
//! a warning that names the mapping index.

use std::fmt;

use serde_json::Value;
use sluice_core::StreamSchema;

use crate::plan::{ColumnPlan, ColumnSource, CompiledMapping, DestNode, ValueType};
use crate::set::{Mapping, MappingSet, SourceType};
use sluice_core::suggest::closest;

/// One finding about a mapping set, tied to a `mappings[i]` entry where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub index: Option<usize>,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "mappings[{i}]: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[derive(Debug)]
pub struct CompileOutcome {
    pub mapping: CompiledMapping,
    pub warnings: Vec<Issue>,
    /// What the compiler did that a user should know but need not fix (aliases applied).
    pub notes: Vec<Issue>,
}

#[derive(Debug, thiserror::Error)]
pub struct CompileError {
    pub file: String,
    pub errors: Vec<Issue>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} problem{} in the mapping set",
            self.file,
            self.errors.len(),
            if self.errors.len() == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// Split a dot path and trim each part. Returns the parts and whether trimming changed anything.
fn normalise_path(path: &str) -> Result<(Vec<String>, bool), String> {
    let mut changed = false;
    let mut parts = Vec::new();
    for raw in path.split('.') {
        let part = raw.trim();
        if part.len() != raw.len() {
            changed = true;
        }
        if part.is_empty() {
            return Err(format!("path `{path}` has an empty part"));
        }
        if part.chars().any(char::is_whitespace) {
            return Err(format!(
                "path `{path}`: `{part}` contains a space; rename the field without spaces"
            ));
        }
        parts.push(part.to_string());
    }
    Ok((parts, changed))
}

struct Entry {
    index: usize,
    destination: Vec<String>,
    source: ColumnSource,
    value_type: ValueType,
}

/// The value of one setting mapped to a caret-rendered issue per problem.
fn expr_issues(
    index: usize,
    source: &str,
    errors: Vec<crate::expr::parse::ExprError>,
) -> Vec<Issue> {
    errors
        .into_iter()
        .map(|e| Issue {
            index: Some(index),
            message: format!("expression: {}", e.render(source)),
        })
        .collect()
}

/// Compile `set` against `schema` (when the stream declares one). `file` names the set in
/// messages.
pub fn compile(
    file: &str,
    set: &MappingSet,
    schema: Option<&StreamSchema>,
) -> Result<CompileOutcome, CompileError> {
    compile_with_aliases(file, set, schema, &[])
}

/// Resolve a source path through a stream's aliases: the first rule whose result the schema
/// declares, else the last rule that matches. `None` when no alias matches.
fn resolve_alias(
    path: &str,
    schema: Option<&StreamSchema>,
    aliases: &[(String, String)],
) -> Option<String> {
    let mut fallback = None;
    for (alias, target) in aliases {
        let candidate = if alias.ends_with('.') {
            path.strip_prefix(alias.as_str())
                .map(|rest| format!("{target}{rest}"))
        } else {
            (path == alias).then(|| target.clone())
        };
        let Some(candidate) = candidate else { continue };
        let parts: Vec<&str> = candidate.split('.').collect();
        if schema.is_some_and(|s| s.lookup_declared(&parts).is_some()) {
            return Some(candidate);
        }
        fallback = Some(candidate);
    }
    fallback
}

/// [`compile`], resolving sources the schema lacks through the stream's `aliases`
/// (`(alias, path)`, a trailing `.` marks a prefix).
pub fn compile_with_aliases(
    file: &str,
    set: &MappingSet,
    schema: Option<&StreamSchema>,
    aliases: &[(String, String)],
) -> Result<CompileOutcome, CompileError> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let known_paths = schema.map(|s| s.leaf_paths()).unwrap_or_default();

    if set.mappings.is_empty() {
        errors.push(Issue {
            index: None,
            message: "the set has no mappings: add at least one {sourceType, source, destination}"
                .into(),
        });
    }

    for (index, m) in set.mappings.iter().enumerate() {
        let issue = |message: String| Issue {
            index: Some(index),
            message,
        };
        let destination = match normalise_path(&m.destination) {
            Ok((parts, changed)) => {
                if changed {
                    warnings.push(issue(format!(
                        "destination \"{}\" has spaces around a path part; read as \"{}\"",
                        m.destination,
                        parts.join(".")
                    )));
                }
                parts
            }
            Err(e) => {
                errors.push(issue(format!("destination {e}")));
                continue;
            }
        };
        let aliased;
        let m = match (&m.source, m.source_type) {
            (Value::String(src), SourceType::Attribute)
                if schema.is_some_and(|s| {
                    s.lookup(&src.split('.').map(str::trim).collect::<Vec<_>>())
                        .is_none()
                }) =>
            {
                match resolve_alias(src.trim(), schema, aliases) {
                    Some(target) => {
                        notes.push(issue(format!(
                            "source `{src}` read as `{target}` (an alias the stream declares)"
                        )));
                        aliased = Mapping {
                            source: Value::String(target),
                            ..m.clone()
                        };
                        &aliased
                    }
                    None => m,
                }
            }
            _ => m,
        };
        let resolved = if m.source_type == SourceType::Expression {
            let Value::String(text) = &m.source else {
                errors.push(issue(format!(
                    "an EXPRESSION source must be a string, found {}",
                    m.source
                )));
                continue;
            };
            let resolve = |p: &str| resolve_alias(p, schema, aliases);
            match crate::expr::compile_expression(text, schema, &resolve) {
                Ok(c) => {
                    let column = ColumnSource::Expression(Box::new(crate::plan::ExprColumn {
                        text: text.clone(),
                        node: c.node,
                        fields: c.fields,
                        slots: Vec::new(),
                    }));
                    (column, c.ty)
                }
                Err(errs) => {
                    errors.extend(expr_issues(index, text, errs));
                    continue;
                }
            }
        } else {
            match resolve_source(m, schema, &known_paths) {
                Ok((source, value_type, note)) => {
                    if let Some(note) = note {
                        warnings.push(issue(note));
                    }
                    (source, value_type)
                }
                Err(e) => {
                    errors.push(issue(e));
                    continue;
                }
            }
        };
        if let Some(prev) = entries.iter().find(|e| e.destination == destination) {
            if prev.source == resolved.0 {
                warnings.push(issue(format!(
                    "repeats mappings[{}] (same source, same destination `{}`); applied once",
                    prev.index,
                    destination.join(".")
                )));
            } else {
                errors.push(issue(format!(
                    "destination `{}` is already written by mappings[{}] from a different source; \
                     a destination takes one source: remove or rename one of them",
                    destination.join("."),
                    prev.index
                )));
            }
            continue;
        }
        entries.push(Entry {
            index,
            destination,
            source: resolved.0,
            value_type: resolved.1,
        });
    }

    let mut roots: Vec<(String, DestNode)> = Vec::new();
    let mut columns = Vec::new();
    for e in entries {
        match insert(&mut roots, &e.destination, columns.len()) {
            Ok(()) => columns.push(ColumnPlan {
                mapping_index: e.index,
                destination: e.destination,
                source: e.source,
                value_type: e.value_type,
                hidden: false,
            }),
            Err(message) => errors.push(Issue {
                index: Some(e.index),
                message,
            }),
        }
    }

    // the fields expressions read become hidden columns the scanner fills
    let visible = columns.len();
    for i in 0..visible {
        let fields = match &columns[i].source {
            ColumnSource::Expression(x) => x.fields.clone(),
            _ => continue,
        };
        let mut slots = Vec::with_capacity(fields.len());
        for (path, ty) in fields {
            let existing = columns.iter().position(|c| {
                c.hidden
                    && matches!(&c.source, ColumnSource::Attribute(p) if *p == path)
                    && c.value_type == ty
            });
            let slot = existing.unwrap_or_else(|| {
                columns.push(ColumnPlan {
                    mapping_index: columns[i].mapping_index,
                    destination: Vec::new(),
                    source: ColumnSource::Attribute(path),
                    value_type: ty,
                    hidden: true,
                });
                columns.len() - 1
            });
            slots.push(slot);
        }
        if let ColumnSource::Expression(x) = &mut columns[i].source {
            x.slots = slots;
        }
    }
    if errors.is_empty() {
        Ok(CompileOutcome {
            mapping: CompiledMapping::new(columns, roots),
            warnings,
            notes,
        })
    } else {
        Err(CompileError {
            file: file.to_string(),
            errors,
        })
    }
}

type Resolved = (ColumnSource, ValueType, Option<String>);

fn resolve_source(
    m: &Mapping,
    schema: Option<&StreamSchema>,
    known_paths: &[String],
) -> Result<Resolved, String> {
    match m.source_type {
        SourceType::Attribute => {
            let Value::String(path) = &m.source else {
                return Err(format!(
                    "an ATTRIBUTE source must be a dot path string, found {}",
                    m.source
                ));
            };
            let (parts, changed) = normalise_path(path).map_err(|e| format!("source {e}"))?;
            let note = changed.then(|| {
                format!(
                    "source \"{path}\" has spaces around a path part; read as \"{}\"",
                    parts.join(".")
                )
            });
            let value_type = match schema {
                None => ValueType::JsonText,
                Some(schema) => {
                    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                    match schema.lookup(&refs) {
                        Some(t) => ValueType::from_field_type(t),
                        None => {
                            let hint =
                                closest(&parts.join("."), known_paths.iter().map(String::as_str))
                                    .map(|c| format!("; did you mean `{c}`?"))
                                    .unwrap_or_else(|| {
                                        "; `sluice discover` lists the stream's fields".into()
                                    });
                            return Err(format!(
                                "source `{}` is not a field of the stream{hint}",
                                parts.join(".")
                            ));
                        }
                    }
                }
            };
            Ok((ColumnSource::Attribute(parts), value_type, note))
        }
        SourceType::Constant => {
            let value_type = match &m.source {
                Value::Bool(_) => ValueType::Boolean,
                Value::Number(n) if n.is_i64() => ValueType::Int64,
                Value::Number(_) => ValueType::Float64,
                Value::String(_) | Value::Null => ValueType::Utf8,
                Value::Array(_) | Value::Object(_) => ValueType::JsonText,
            };
            Ok((ColumnSource::Constant(m.source.clone()), value_type, None))
        }
        SourceType::Expression => Err("expressions are compiled separately".into()),
    }
}

pub(crate) fn insert(
    nodes: &mut Vec<(String, DestNode)>,
    path: &[String],
    column: usize,
) -> Result<(), String> {
    let Some((head, rest)) = path.split_first() else {
        return Err("empty destination".into());
    };
    let pos = nodes.iter().position(|(n, _)| n == head);
    if rest.is_empty() {
        return match pos {
            None => {
                nodes.push((head.clone(), DestNode::Leaf(column)));
                Ok(())
            }
            Some(_) => Err(format!(
                "destination `{}` is both a field and a struct of other destinations",
                path.join(".")
            )),
        };
    }
    let idx = match pos {
        Some(i) => i,
        None => {
            nodes.push((head.clone(), DestNode::Struct(Vec::new())));
            nodes.len() - 1
        }
    };
    match &mut nodes[idx].1 {
        DestNode::Struct(children) => insert(children, rest, column),
        DestNode::Leaf(_) => Err(format!(
            "destination `{}` nests under `{head}`, which another mapping writes as a field",
            path.join(".")
        )),
    }
}

/// Where a flow without a mapping set writes a source path: the same path, except that fields
/// of an open object (custom properties) become top-level columns named by their key.
pub fn identity_destination(schema: &StreamSchema, source: &str) -> String {
    for open in schema.open_paths().iter().rev() {
        if let Some(rest) = source.strip_prefix(&format!("{open}.")) {
            return rest.to_string();
        }
    }
    source.to_string()
}

/// A mapping that writes every declared leaf of the stream schema: what a flow without a
/// mapping set gets.
pub fn identity_mapping(schema: &StreamSchema) -> MappingSet {
    identity_mapping_of(schema, None)
}

/// The identity mapping of `fields` (dot paths of the schema; every leaf when `None`).
pub fn identity_mapping_of(schema: &StreamSchema, fields: Option<&[String]>) -> MappingSet {
    let paths = match fields {
        Some(f) => f.to_vec(),
        None => schema.leaf_paths(),
    };
    MappingSet {
        mappings: paths
            .into_iter()
            .map(|p| Mapping {
                source_type: SourceType::Attribute,
                destination: identity_destination(schema, &p),
                source: Value::String(p),
                name: None,
                description: None,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use sluice_core::{FieldType, SchemaField};

    fn schema() -> StreamSchema {
        StreamSchema {
            fields: vec![SchemaField::new(
                "results",
                FieldType::Object {
                    fields: vec![
                        SchemaField::new("id", FieldType::Integer),
                        SchemaField::new("email", FieldType::String),
                        SchemaField::new("verified", FieldType::Boolean),
                    ],
                },
            )],
            open: false,
        }
    }

    fn set(json: &str) -> MappingSet {
        MappingSet::from_json("t.json", json).expect("valid set")
    }

    #[test]
    fn spaces_in_destination_are_normalised_with_a_warning_naming_the_index() {
        let s = set(r#"{"mappings":[
            {"sourceType":"ATTRIBUTE","source":"results.id","destination":"_x.id"},
            {"sourceType":"ATTRIBUTE","source":"results.email","destination":"_x. EMAIL"}]}"#);
        let out = compile("t.json", &s, Some(&schema())).expect("compiles");
        assert_eq!(out.warnings.len(), 1);
        assert_eq!(out.warnings[0].index, Some(1));
        assert!(out.warnings[0].message.contains("\"_x.EMAIL\""));
        let schema = out.mapping.schema();
        let arrow_schema::DataType::Struct(fields) = schema.field(0).data_type() else {
            panic!("expected a struct");
        };
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "EMAIL"]);
    }

    #[test]
    fn a_repeated_mapping_is_collapsed_with_a_warning() {
        let s = set(r#"{"mappings":[
            {"sourceType":"ATTRIBUTE","source":"results.verified","destination":"_x.verified"},
            {"sourceType":"ATTRIBUTE","source":"results.id","destination":"_x.id"},
            {"sourceType":"ATTRIBUTE","source":"results.verified","destination":"_x.verified"}]}"#);
        let out = compile("t.json", &s, Some(&schema())).expect("compiles");
        assert_eq!(out.mapping.columns().len(), 2);
        assert_eq!(out.warnings[0].index, Some(2));
        assert!(out.warnings[0].message.contains("repeats mappings[0]"));
    }

    #[test]
    fn expressions_share_the_one_source_per_destination_rule() {
        let repeated = set(r#"{"mappings":[
            {"sourceType":"EXPRESSION","source":"lower(results.email)","destination":"_x.mail"},
            {"sourceType":"EXPRESSION","source":"lower(results.email)","destination":"_x.mail"}]}"#);
        let out = compile("t.json", &repeated, Some(&schema())).expect("compiles");
        let written = out.mapping.columns().iter().filter(|c| !c.hidden).count();
        assert_eq!(written, 1);
        assert!(out.warnings[0].message.contains("repeats mappings[0]"));

        let clash = set(r#"{"mappings":[
            {"sourceType":"ATTRIBUTE","source":"results.email","destination":"_x.mail"},
            {"sourceType":"EXPRESSION","source":"lower(results.email)","destination":"_x.mail"}]}"#);
        let err = compile("t.json", &clash, Some(&schema())).unwrap_err();
        assert_eq!(err.errors[0].index, Some(1));
        assert!(err.to_string().contains("already written by mappings[0]"));
    }

    #[test]
    fn a_field_read_twice_or_once_in_an_expression_gives_the_same_values_every_record() {
        let s = set(r#"{"mappings":[
            {"sourceType":"EXPRESSION","source":"concat(results.email, \"|\", upper(results.email))","destination":"_x.twice"},
            {"sourceType":"EXPRESSION","source":"sha256(results.email)","destination":"_x.once"},
            {"sourceType":"EXPRESSION","source":"iif(results.verified, results.email, \"no\")","destination":"_x.maybe"}]}"#);
        let out = compile("t.json", &s, Some(&schema())).expect("compiles");
        let input = b"{\"results\":{\"email\":\"a@b.c\",\"verified\":true}}\n{\"results\":{\"email\":\"X@y.z\",\"verified\":false}}\n";
        let batch = out.mapping.map_ndjson(input).batch;
        let x = batch.column(0).as_struct();
        let col = |name: &str, row: usize| {
            x.column_by_name(name)
                .expect("column")
                .as_string::<i32>()
                .value(row)
                .to_string()
        };
        assert_eq!(col("twice", 0), "a@b.c|A@B.C");
        assert_eq!(col("twice", 1), "X@y.z|X@Y.Z");
        // sha256 of "a@b.c", as `sha256sum` prints it
        assert_eq!(
            col("once", 0),
            "d648b243a3e817eaa3309e00e183483f2867baadf522099f0c2121770536b25a"
        );
        assert_ne!(col("once", 0), col("once", 1));
        assert_eq!(col("maybe", 0), "a@b.c");
        assert_eq!(col("maybe", 1), "no");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let s = set(r#"{"mappings":[
            {"sourceType":"ATTRIBUTE","source":"results.id","destination":"_x.id"},
            {"sourceType":"ATTRIBUTE","source":"results.email","destination":"_x.id"},
            {"sourceType":"ATTRIBUTE","source":"results.emial","destination":"_x.mail"},
            {"sourceType":"ATTRIBUTE","source":"results.id","destination":"_x..y"},
            {"sourceType":"ATTRIBUTE","source":"results.id","destination":"_x.id.deeper"}]}"#);
        let err = compile("t.json", &s, Some(&schema())).unwrap_err();
        let indexes: Vec<Option<usize>> = err.errors.iter().map(|e| e.index).collect();
        assert_eq!(indexes, [Some(1), Some(2), Some(3), Some(4)]);
        let text = err.to_string();
        assert!(text.starts_with("t.json: 4 problems"), "{text}");
        assert!(text.contains("already written by mappings[0]"), "{text}");
        assert!(text.contains("did you mean `results.email`"), "{text}");
        assert!(text.contains("empty part"), "{text}");
        assert!(text.contains("nests under `id`"), "{text}");
    }

    #[test]
    fn identity_mapping_covers_every_leaf() {
        let out = compile("id", &identity_mapping(&schema()), Some(&schema())).expect("compiles");
        assert_eq!(out.mapping.columns().len(), 3);
        assert!(out.warnings.is_empty());
    }
}
