//! The compiled form of a mapping set: one column operation per destination leaf, and the tree
//! of destination structs that arranges the leaves into the output schema. Issue #3 adds
//! expression operations beside `Attribute` and `Constant`; the tree and schema stay as they are.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use sluice_core::FieldType;

/// The Arrow-facing type of a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueType {
    Int64,
    Float64,
    Boolean,
    Utf8,
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
            FieldType::Array { items } => match items.as_ref() {
                FieldType::Integer | FieldType::Number | FieldType::Boolean | FieldType::String => {
                    ValueType::List(Box::new(ValueType::from_field_type(items)))
                }
                _ => ValueType::JsonText,
            },
            FieldType::Object { .. } | FieldType::Json => ValueType::JsonText,
        }
    }

    pub fn data_type(&self) -> DataType {
        match self {
            ValueType::Int64 => DataType::Int64,
            ValueType::Float64 => DataType::Float64,
            ValueType::Boolean => DataType::Boolean,
            ValueType::Utf8 | ValueType::JsonText => DataType::Utf8,
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
            ValueType::JsonText => "JSON".into(),
            ValueType::List(item) => format!("array of {}", item.describe()),
        }
    }
}

/// Where a column's values come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnSource {
    /// A dot path into the record.
    Attribute(Vec<String>),
    /// The same value for every record.
    Constant(serde_json::Value),
}

#[derive(Debug, Clone)]
pub struct ColumnPlan {
    /// Index of the mapping entry this column came from, for messages and `bench`.
    pub mapping_index: usize,
    pub destination: Vec<String>,
    pub source: ColumnSource,
    pub value_type: ValueType,
}

/// The destination tree: leaves point at columns, inner nodes become Arrow structs.
#[derive(Debug, Clone)]
pub enum DestNode {
    Leaf(usize),
    Struct(Vec<(String, DestNode)>),
}

#[derive(Debug, Clone)]
pub struct CompiledMapping {
    pub(crate) columns: Vec<ColumnPlan>,
    /// Top-level destination nodes, in first-mentioned order.
    pub(crate) roots: Vec<(String, DestNode)>,
    pub(crate) schema: SchemaRef,
}

impl CompiledMapping {
    pub(crate) fn new(columns: Vec<ColumnPlan>, roots: Vec<(String, DestNode)>) -> Self {
        let fields: Vec<Field> = roots
            .iter()
            .map(|(name, node)| node_field(name, node, &columns))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        Self {
            columns,
            roots,
            schema,
        }
    }

    /// The Arrow schema of every batch this mapping produces.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
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
