//! Executing a compiled mapping over a page of newline-delimited records.
//!
//! First cut: each record is parsed once into a `serde_json::Value` and every column reads its
//! path from it. A record whose values do not fit their columns is rejected whole (with the
//! reason), never half-appended. Issue #3 replaces the decode with a columnar one; the contract
//! (bytes in, batch + rejects out) stays.

use std::borrow::Cow;
use std::sync::Arc;

use std::collections::BTreeMap;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, StructArray};
use arrow_schema::{DataType, Fields};
use serde_json::Value;

use crate::plan::{ColumnSource, CompiledMapping, DestNode, ValueType};

/// A record the mapper could not map, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// 1-based line of the record within the input it came in.
    pub line: usize,
    /// The record as received (lossy UTF-8).
    pub record: String,
    pub reason: String,
}

#[derive(Debug)]
pub struct MapOutput {
    pub batch: RecordBatch,
    pub rejects: Vec<Reject>,
    pub input_records: usize,
    /// Keys of tracked open objects that no column reads (full dot path → the type their first
    /// non-null value suggests; `None` while only nulls were seen).
    pub unknown_fields: BTreeMap<String, Option<ValueType>>,
}

/// One converted value, held until the whole record is known to fit.
enum Cell<'a> {
    Null,
    Int(i64),
    Micros(i64),
    Float(f64),
    Bool(bool),
    Str(Cow<'a, str>),
    List(Vec<Cell<'a>>),
}

enum Builder {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
    Time(TimestampMicrosecondBuilder),
    ListInt(ListBuilder<Int64Builder>),
    ListFloat(ListBuilder<Float64Builder>),
    ListBool(ListBuilder<BooleanBuilder>),
    ListStr(ListBuilder<StringBuilder>),
}

impl Builder {
    fn for_type(t: &ValueType) -> Self {
        match t {
            ValueType::Int64 => Builder::Int(Int64Builder::new()),
            ValueType::Float64 => Builder::Float(Float64Builder::new()),
            ValueType::Boolean => Builder::Bool(BooleanBuilder::new()),
            ValueType::Utf8 | ValueType::JsonText => Builder::Str(StringBuilder::new()),
            ValueType::Timestamp => {
                Builder::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            ValueType::List(item) => match item.as_ref() {
                ValueType::Int64 => Builder::ListInt(ListBuilder::new(Int64Builder::new())),
                ValueType::Float64 => Builder::ListFloat(ListBuilder::new(Float64Builder::new())),
                ValueType::Boolean => Builder::ListBool(ListBuilder::new(BooleanBuilder::new())),
                _ => Builder::ListStr(ListBuilder::new(StringBuilder::new())),
            },
        }
    }

    fn append(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (Builder::Int(b), Cell::Int(v)) => b.append_value(*v),
            (Builder::Float(b), Cell::Float(v)) => b.append_value(*v),
            (Builder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (Builder::Str(b), Cell::Str(v)) => b.append_value(v),
            (Builder::Time(b), Cell::Micros(v)) => b.append_value(*v),
            (Builder::ListInt(b), Cell::List(items)) => {
                for i in items {
                    b.values().append_option(match i {
                        Cell::Int(v) => Some(*v),
                        _ => None,
                    });
                }
                b.append(true);
            }
            (Builder::ListFloat(b), Cell::List(items)) => {
                for i in items {
                    b.values().append_option(match i {
                        Cell::Float(v) => Some(*v),
                        _ => None,
                    });
                }
                b.append(true);
            }
            (Builder::ListBool(b), Cell::List(items)) => {
                for i in items {
                    b.values().append_option(match i {
                        Cell::Bool(v) => Some(*v),
                        _ => None,
                    });
                }
                b.append(true);
            }
            (Builder::ListStr(b), Cell::List(items)) => {
                for i in items {
                    match i {
                        Cell::Str(v) => b.values().append_value(v),
                        _ => b.values().append_null(),
                    }
                }
                b.append(true);
            }
            (b, _) => b.append_null(),
        }
    }

    fn append_null(&mut self) {
        match self {
            Builder::Int(b) => b.append_null(),
            Builder::Float(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
            Builder::Str(b) => b.append_null(),
            Builder::Time(b) => b.append_null(),
            Builder::ListInt(b) => b.append(false),
            Builder::ListFloat(b) => b.append(false),
            Builder::ListBool(b) => b.append(false),
            Builder::ListStr(b) => b.append(false),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::ListInt(b) => Arc::new(b.finish()),
            Builder::ListFloat(b) => Arc::new(b.finish()),
            Builder::ListBool(b) => Arc::new(b.finish()),
            Builder::ListStr(b) => Arc::new(b.finish()),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Convert a JSON value to a column's type. Lossless widenings are allowed (a number or boolean
/// into a string column, an integral float into an integer column); anything else is a misfit.
fn convert<'a>(v: &'a Value, t: &ValueType) -> Result<Cell<'a>, String> {
    let misfit = || {
        format!(
            "expected {}, found {} ({})",
            t.describe(),
            kind(v),
            short(v)
        )
    };
    Ok(match (t, v) {
        (_, Value::Null) => Cell::Null,
        (ValueType::Int64, Value::Number(n)) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Cell::Int(f as i64),
                _ => return Err(misfit()),
            },
        },
        (ValueType::Float64, Value::Number(n)) => Cell::Float(n.as_f64().ok_or_else(misfit)?),
        (ValueType::Boolean, Value::Bool(b)) => Cell::Bool(*b),
        (ValueType::Timestamp, Value::Number(n)) => {
            let micros = match n.as_i64() {
                Some(s) => s.checked_mul(1_000_000),
                None => n
                    .as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 9.0e12)
                    .map(|f| (f * 1e6).round() as i64),
            };
            Cell::Micros(micros.ok_or_else(misfit)?)
        }
        (ValueType::Timestamp, Value::String(s)) => Cell::Micros(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|_| misfit())?
                .timestamp_micros(),
        ),
        (ValueType::Utf8, Value::String(s)) => Cell::Str(Cow::Borrowed(s)),
        (ValueType::Utf8, Value::Number(n)) => Cell::Str(Cow::Owned(n.to_string())),
        (ValueType::Utf8, Value::Bool(b)) => Cell::Str(Cow::Owned(b.to_string())),
        (ValueType::JsonText, Value::String(s)) => Cell::Str(Cow::Borrowed(s)),
        (ValueType::JsonText, other) => Cell::Str(Cow::Owned(other.to_string())),
        (ValueType::List(item), Value::Array(items)) => Cell::List(
            items
                .iter()
                .map(|i| convert(i, item))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("array item {e}"))?,
        ),
        _ => return Err(misfit()),
    })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(60).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn lookup<'a>(record: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut v = record;
    for p in path {
        v = v.as_object()?.get(p)?;
    }
    Some(v)
}

impl CompiledMapping {
    /// Map a page of newline-delimited JSON records. Blank lines are skipped.
    pub fn map_ndjson(&self, input: &[u8]) -> MapOutput {
        let mut builders: Vec<Builder> = self
            .columns
            .iter()
            .map(|c| Builder::for_type(&c.value_type))
            .collect();
        let mut rejects = Vec::new();
        let mut input_records = 0;
        let mut unknown_fields = BTreeMap::new();
        for (i, line) in input.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            input_records += 1;
            let reject = |reason: String| Reject {
                line: i + 1,
                record: String::from_utf8_lossy(line).into_owned(),
                reason,
            };
            let record: Value = match serde_json::from_slice(line) {
                Ok(v @ Value::Object(_)) => v,
                Ok(other) => {
                    rejects.push(reject(format!(
                        "a record must be a JSON object, found {}",
                        kind(&other)
                    )));
                    continue;
                }
                Err(e) => {
                    rejects.push(reject(format!("malformed JSON: {e}")));
                    continue;
                }
            };
            let mut cells: Vec<Cell<'_>> = Vec::with_capacity(self.columns.len());
            let mut failure = None;
            for col in &self.columns {
                let cell = match &col.source {
                    ColumnSource::Attribute(path) => match lookup(&record, path) {
                        None => Ok(Cell::Null),
                        Some(v) => convert(v, &col.value_type)
                            .map_err(|e| format!("field `{}`: {e}", path.join("."))),
                    },
                    ColumnSource::Constant(v) => convert(v, &col.value_type)
                        .map_err(|e| format!("constant for `{}`: {e}", col.destination.join("."))),
                };
                match cell {
                    Ok(c) => cells.push(c),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            for t in &self.tracked {
                if let Some(Value::Object(obj)) = lookup(&record, &t.path) {
                    for (k, v) in obj {
                        if !t.known.contains(k) {
                            let entry = unknown_fields
                                .entry(format!("{}.{k}", t.path.join(".")))
                                .or_insert(None);
                            if entry.is_none() {
                                *entry = ValueType::infer(v);
                            }
                        }
                    }
                }
            }
            if let Some(reason) = failure {
                rejects.push(reject(reason));
                continue;
            }
            for (b, c) in builders.iter_mut().zip(&cells) {
                match c {
                    Cell::Null => b.append_null(),
                    c => b.append(c),
                }
            }
        }
        let mut arrays: Vec<Option<ArrayRef>> =
            builders.iter_mut().map(|b| Some(b.finish())).collect();
        let columns: Vec<ArrayRef> = self
            .roots
            .iter()
            .zip(self.schema.fields())
            .map(|((_, node), field)| assemble(node, field.data_type(), &mut arrays))
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .unwrap_or_else(|e| unreachable!("plan and arrays disagree: {e}"));
        MapOutput {
            batch,
            rejects,
            input_records,
            unknown_fields,
        }
    }
}

fn assemble(node: &DestNode, data_type: &DataType, arrays: &mut [Option<ArrayRef>]) -> ArrayRef {
    match (node, data_type) {
        (DestNode::Leaf(i), _) => arrays[*i]
            .take()
            .unwrap_or_else(|| unreachable!("each leaf is used once")),
        (DestNode::Struct(children), DataType::Struct(fields)) => {
            let children: Vec<ArrayRef> = children
                .iter()
                .zip(fields.iter())
                .map(|((_, n), f)| assemble(n, f.data_type(), arrays))
                .collect();
            Arc::new(StructArray::new(Fields::clone(fields), children, None))
        }
        _ => unreachable!("the schema is built from the same tree"),
    }
}

#[cfg(test)]
mod tests {
    use crate::{compile, MappingSet};
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::Array;
    use sluice_core::{FieldType, SchemaField, StreamSchema};

    fn mapping() -> crate::CompiledMapping {
        let schema = StreamSchema {
            fields: vec![SchemaField::new(
                "results",
                FieldType::Object {
                    fields: vec![
                        SchemaField::new("id", FieldType::Integer),
                        SchemaField::new("name", FieldType::String),
                        SchemaField::new(
                            "tags",
                            FieldType::Array {
                                items: Box::new(FieldType::String),
                            },
                        ),
                    ],
                },
            )],
        };
        let set = MappingSet::from_json(
            "t",
            r#"{"mappings":[
            {"sourceType":"ATTRIBUTE","source":"results.id","destination":"_x.id"},
            {"sourceType":"ATTRIBUTE","source":"results.name","destination":"_x.name"},
            {"sourceType":"ATTRIBUTE","source":"results.tags","destination":"_x.tags"},
            {"sourceType":"CONSTANT","source":"zendesk","destination":"origin"}]}"#,
        )
        .expect("set");
        compile("t", &set, Some(&schema)).expect("compiles").mapping
    }

    #[test]
    fn maps_values_into_nested_structs_and_keeps_unicode_and_nulls() {
        let input = concat!(
            r#"{"results":{"id":1,"name":"Zoë 北京","tags":["a","b"]}}"#,
            "\n\n",
            r#"{"results":{"id":2,"name":null}}"#,
            "\n"
        );
        let out = mapping().map_ndjson(input.as_bytes());
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        assert_eq!(out.input_records, 2);
        let x = out.batch.column(0).as_struct();
        let ids = x.column(0).as_primitive::<Int64Type>();
        assert_eq!(ids.values().to_vec(), [1, 2]);
        let names = x.column(1).as_string::<i32>();
        assert_eq!(names.value(0), "Zoë 北京");
        assert!(names.is_null(1));
        let tags = x.column(2).as_list::<i32>();
        assert_eq!(tags.value(0).as_string::<i32>().value(1), "b");
        assert!(tags.is_null(1));
        assert_eq!(out.batch.column(1).as_string::<i32>().value(1), "zendesk");
    }

    #[test]
    fn a_misfit_or_malformed_record_is_rejected_whole_with_its_reason() {
        let input = concat!(
            r#"{"results":{"id":"abc","name":"x"}}"#,
            "\n",
            r#"{"results":{"id":3,"name":"ok"}}"#,
            "\n",
            r#"{"results":{"id":4,"#,
            "\n",
            r#"[1,2]"#
        );
        let out = mapping().map_ndjson(input.as_bytes());
        assert_eq!(out.batch.num_rows(), 1);
        assert_eq!(out.input_records, 4);
        let reasons: Vec<(usize, &str)> = out
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3);
        assert_eq!(reasons[0].0, 1);
        assert!(reasons[0]
            .1
            .contains("field `results.id`: expected integer, found a string"));
        assert!(reasons[1].1.starts_with("malformed JSON"));
        assert!(reasons[2].1.contains("must be a JSON object"));
        // the good record's values are intact, not shifted by the rejected one
        let x = out.batch.column(0).as_struct();
        assert_eq!(x.column(0).as_primitive::<Int64Type>().value(0), 3);
    }

    #[test]
    fn numbers_widen_into_string_columns() {
        let out = mapping().map_ndjson(br#"{"results":{"id":5.0,"name":42}}"#);
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        let x = out.batch.column(0).as_struct();
        assert_eq!(x.column(0).as_primitive::<Int64Type>().value(0), 5);
        assert_eq!(x.column(1).as_string::<i32>().value(0), "42");
    }
}
