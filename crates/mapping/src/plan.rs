//! The compiled form of a mapping set: one column operation per destination leaf, and the tree
//! of destination structs that arranges the leaves into the output schema. Issue #3 adds
//! expression operations beside `Attribute` and `Constant`; the tree and schema stay as they are.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use sluice_core::FieldType;

/// The Arrow-facing type of a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueType {
    Int64,
    Float64,
    Boolean,
    Utf8,
    /// UTC microseconds, from epoch seconds or an RFC 3339 string.
    Timestamp,
    /// A list of scalars.
    List(Box<ValueType>),
    /// Anything nested or free-form, kept as JSON text.
    JsonText,
}

impl ValueType {
    pub fn from_field_type(t: &FieldType) -> Self {
        match t {
            FieldType::Integer => ValueType::Int64,
            FieldType::Number => ValueType::Float64,
            FieldType::Boolean => ValueType::Boolean,
            FieldType::String => ValueType::Utf8,
            FieldType::Timestamp => ValueType::Timestamp,
            FieldType::Array { items } => match items.as_ref() {
                FieldType::Integer | FieldType::Number | FieldType::Boolean | FieldType::String => {
                    ValueType::List(Box::new(ValueType::from_field_type(items)))
                }
                _ => ValueType::JsonText,
            },
            FieldType::Object { .. } | FieldType::Open { .. } | FieldType::Json => {
                ValueType::JsonText
            }
        }
    }

    /// The column type a first value suggests, for columns the data brings (no declared type).
    /// Numbers become floats: analytics properties mix 5 and 5.5 freely.
    pub fn infer(v: &serde_json::Value) -> Option<Self> {
        use serde_json::Value;
        match v {
            Value::Null => None,
            Value::Bool(_) => Some(ValueType::Boolean),
            Value::Number(_) => Some(ValueType::Float64),
            Value::String(_) => Some(ValueType::Utf8),
            Value::Array(_) | Value::Object(_) => Some(ValueType::JsonText),
        }
    }

    /// A short stable name, for storing a column's type.
    pub fn name(&self) -> String {
        match self {
            ValueType::Int64 => "int64".into(),
            ValueType::Float64 => "float64".into(),
            ValueType::Boolean => "boolean".into(),
            ValueType::Utf8 => "utf8".into(),
            ValueType::Timestamp => "timestamp".into(),
            ValueType::JsonText => "json".into(),
            ValueType::List(item) => format!("list<{}>", item.name()),
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "int64" => ValueType::Int64,
            "float64" => ValueType::Float64,
            "boolean" => ValueType::Boolean,
            "utf8" => ValueType::Utf8,
            "timestamp" => ValueType::Timestamp,
            "json" => ValueType::JsonText,
            other => {
                let item = other.strip_prefix("list<")?.strip_suffix('>')?;
                ValueType::List(Box::new(ValueType::from_name(item)?))
            }
        })
    }

    pub fn data_type(&self) -> DataType {
        match self {
            ValueType::Int64 => DataType::Int64,
            ValueType::Float64 => DataType::Float64,
            ValueType::Boolean => DataType::Boolean,
            ValueType::Utf8 | ValueType::JsonText => DataType::Utf8,
            ValueType::Timestamp => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
            }
            ValueType::List(item) => {
                DataType::List(Arc::new(Field::new("item", item.data_type(), true)))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ValueType::Int64 => "integer".into(),
            ValueType::Float64 => "number".into(),
            ValueType::Boolean => "boolean".into(),
            ValueType::Utf8 => "string".into(),
            ValueType::Timestamp => "timestamp (epoch seconds or RFC 3339)".into(),
            ValueType::JsonText => "JSON".into(),
            ValueType::List(item) => format!("array of {}", item.describe()),
        }
    }
}

/// Where a column's values come from.
#[derive(Debug, Clone)]
pub enum ColumnSource {
    /// A dot path into the record.
    Attribute(Vec<String>),
    /// The same value for every record.
    Constant(serde_json::Value),
    /// An expression over fields of the record, read through hidden columns.
    Expression(Box<ExprColumn>),
}

impl PartialEq for ColumnSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ColumnSource::Attribute(a), ColumnSource::Attribute(b)) => a == b,
            (ColumnSource::Constant(a), ColumnSource::Constant(b)) => a == b,
            (ColumnSource::Expression(a), ColumnSource::Expression(b)) => a.text == b.text,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExprColumn {
    pub text: String,
    pub node: crate::expr::Node,
    /// The fields the expression reads, in slot order.
    pub fields: Vec<(Vec<String>, ValueType)>,
    /// The hidden columns that hold them (filled when the plan is assembled).
    pub slots: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct ColumnPlan {
    /// Index of the mapping entry this column came from, for messages and `bench`.
    pub mapping_index: usize,
    pub destination: Vec<String>,
    pub source: ColumnSource,
    pub value_type: ValueType,
    /// An input an expression reads, not written out.
    pub hidden: bool,
}

/// The destination tree: leaves point at columns, inner nodes become Arrow structs.
#[derive(Debug, Clone)]
pub enum DestNode {
    Leaf(usize),
    Struct(Vec<(String, DestNode)>),
}

/// An open object whose keys the mapper reports when no column reads them.
#[derive(Debug, Clone)]
pub(crate) struct TrackedObject {
    pub path: Vec<String>,
    pub known: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct CompiledMapping {
    pub(crate) columns: Vec<ColumnPlan>,
    /// Top-level destination nodes, in first-mentioned order.
    pub(crate) roots: Vec<(String, DestNode)>,
    pub(crate) schema: SchemaRef,
    pub(crate) tracked: Vec<TrackedObject>,
    /// The scanner's view of the plan, derived from `columns` and `tracked`.
    pub(crate) trie: crate::scan::Trie,
    pub(crate) meta: Vec<crate::scan::ColMeta>,
    /// The largest value a column takes; a record with a larger one is rejected.
    pub(crate) max_value_bytes: usize,
}

/// The default of `max_value_bytes`: larger than any sane field (a ticket description, an event
/// property), small enough that one value cannot blow up a batch and its Parquet page.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;

impl CompiledMapping {
    pub(crate) fn new(columns: Vec<ColumnPlan>, roots: Vec<(String, DestNode)>) -> Self {
        let fields: Vec<Field> = roots
            .iter()
            .map(|(name, node)| node_field(name, node, &columns))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let mut m = Self {
            columns,
            roots,
            schema,
            tracked: Vec::new(),
            trie: crate::scan::Trie::build(&[], &[]),
            meta: Vec::new(),
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        };
        m.derive_scanner();
        m
    }

    fn derive_scanner(&mut self) {
        self.trie = crate::scan::Trie::build(&self.columns, &self.tracked);
        self.meta = self
            .columns
            .iter()
            .map(|c| crate::scan::ColMeta {
                ty: c.value_type.clone(),
                name: match &c.source {
                    ColumnSource::Attribute(p) => p.join("."),
                    ColumnSource::Constant(_) => {
                        format!("constant for {}", c.destination.join("."))
                    }
                    ColumnSource::Expression(_) => {
                        format!("expression for {}", c.destination.join("."))
                    }
                },
            })
            .collect();
    }

    /// Report keys of these objects (dot paths) that no column reads, in
    /// [`crate::MapOutput::unknown_fields`]: how a flow without a mapping set sees new fields.
    /// `ignored` keys (full paths) are not reported.
    /// Keys known before (read by an added column, ignored earlier) stay known.
    pub fn track_unknown_fields(mut self, objects: &[String], ignored: &BTreeSet<String>) -> Self {
        let before: HashMap<Vec<String>, BTreeSet<String>> = std::mem::take(&mut self.tracked)
            .into_iter()
            .map(|t| (t.path, t.known))
            .collect();
        self.tracked = objects
            .iter()
            .map(|o| {
                // `""` is the record itself
                let path: Vec<String> = if o.is_empty() {
                    Vec::new()
                } else {
                    o.split('.').map(str::to_string).collect()
                };
                let mut known: BTreeSet<String> = self
                    .columns
                    .iter()
                    .filter_map(|c| match &c.source {
                        ColumnSource::Attribute(src)
                            if src.len() == path.len() + 1 && src.starts_with(&path) =>
                        {
                            src.last().cloned()
                        }
                        _ => None,
                    })
                    .collect();
                for i in ignored {
                    let key = if o.is_empty() {
                        Some(i.as_str()).filter(|k| !k.contains('.'))
                    } else {
                        i.strip_prefix(&format!("{o}."))
                    };
                    if let Some(key) = key {
                        known.insert(key.to_string());
                    }
                }
                if let Some(earlier) = before.get(&path) {
                    known.extend(earlier.iter().cloned());
                }
                TrackedObject { path, known }
            })
            .collect();
        self.derive_scanner();
        self
    }

    /// This mapping plus columns for fields the data brought: `(source path, destination
    /// path, type)`. Tracking carries over.
    pub fn with_columns(&self, added: &[(String, String, ValueType)]) -> Self {
        let mut columns = self.columns.clone();
        let mut roots = self.roots.clone();
        for (source, destination, value_type) in added {
            let dest: Vec<String> = destination.split('.').map(str::to_string).collect();
            if crate::compile::insert(&mut roots, &dest, columns.len()).is_ok() {
                columns.push(ColumnPlan {
                    mapping_index: usize::MAX,
                    destination: dest,
                    source: ColumnSource::Attribute(
                        source.split('.').map(str::to_string).collect(),
                    ),
                    value_type: value_type.clone(),
                    hidden: false,
                });
            }
        }
        let mut extended = CompiledMapping::new(columns, roots);
        let mut tracked = self.tracked.clone();
        let index: HashMap<String, usize> = tracked
            .iter()
            .enumerate()
            .map(|(i, t)| (t.path.join("."), i))
            .collect();
        for (source, _, _) in added {
            let (parent, key) = source.rsplit_once('.').unwrap_or(("", source.as_str()));
            if let Some(i) = index.get(parent) {
                tracked[*i].known.insert(key.to_string());
            }
        }
        extended.tracked = tracked;
        extended.max_value_bytes = self.max_value_bytes;
        extended.derive_scanner();
        extended
    }

    /// This mapping, rejecting records with a value larger than `bytes`.
    pub fn with_max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes.max(1);
        self
    }

    /// The Arrow schema of every batch this mapping produces.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The record fields (dot paths) the mapping reads, each once: what a connector that asks
    /// for columns by name needs to ask for.
    pub fn source_paths(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.columns {
            if let ColumnSource::Attribute(path) = &c.source {
                let p = path.join(".");
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    pub fn columns(&self) -> &[ColumnPlan] {
        &self.columns
    }
}

fn node_field(name: &str, node: &DestNode, columns: &[ColumnPlan]) -> Field {
    match node {
        DestNode::Leaf(i) => Field::new(name, columns[*i].value_type.data_type(), true),
        DestNode::Struct(children) => {
            let fields: Fields = children
                .iter()
                .map(|(n, c)| node_field(n, c, columns))
                .collect();
            // Structs are never null themselves: a record with every leaf null still has them.
            Field::new(name, DataType::Struct(fields), false)
        }
    }
}
