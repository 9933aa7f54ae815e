//! Executing a compiled mapping over a page of newline-delimited records.
//!
//! Each record is scanned once by the plan's projection scanner ([`crate::scan`]): only the
//! paths columns read are decoded, into cells that borrow from the input. A record whose
//! values do not fit their columns is rejected whole (with the reason), never half-appended.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, StructArray};
use arrow_schema::{DataType, Fields};
use serde_json::Value;
use sluice_core::{Framed, Records};

use crate::expr::value::Dv;
use crate::plan::{ColumnSource, CompiledMapping, DestNode, ValueType};
use crate::scan::{scan, scan_item, scan_shared, Cell, RecordError};

/// A record the mapper could not map, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// 1-based line of the record within the input it came in (for a framed page: the
    /// item's position in the page).
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
                Builder::Time(TimestampMicrosecondBuilder::new().with_timezone("+00:00"))
            }
            ValueType::List(item) => match item.as_ref() {
                ValueType::Int64 => Builder::ListInt(ListBuilder::new(Int64Builder::new())),
                ValueType::Float64 => Builder::ListFloat(ListBuilder::new(Float64Builder::new())),
                ValueType::Boolean => Builder::ListBool(ListBuilder::new(BooleanBuilder::new())),
                _ => Builder::ListStr(ListBuilder::new(StringBuilder::new())),
            },
        }
    }

    #[inline]
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

/// A decoded cell as an expression sees it.
fn cell_to_dv(c: &Cell<'_>) -> Dv {
    match c {
        Cell::Null => Dv::Null,
        Cell::Int(i) => Dv::Int(*i),
        Cell::Float(f) => Dv::Float(*f),
        Cell::Bool(b) => Dv::Bool(*b),
        Cell::Str(s) => Dv::Str(s.to_string()),
        Cell::Micros(m) => chrono::DateTime::from_timestamp_micros(*m)
            .map_or(Dv::Null, |t| Dv::Time(t.fixed_offset())),
        Cell::List(items) => Dv::List(items.iter().map(cell_to_dv).collect()),
    }
}

/// An expression's value in its column's type; a value that does not fit is a misfit.
fn dv_to_cell(v: Dv, t: &ValueType) -> Result<Cell<'static>, String> {
    let misfit = |v: &Dv| {
        format!(
            "expected {}, found {} ({})",
            t.describe(),
            v.kind(),
            v.to_text().unwrap_or_default()
        )
    };
    Ok(match (t, &v) {
        (_, Dv::Null) => Cell::Null,
        (ValueType::Utf8 | ValueType::JsonText, _) => Cell::Str(Cow::Owned(match v {
            Dv::Str(s) => s,
            other => other.to_text().unwrap_or_default(),
        })),
        (ValueType::Int64, _) => match &v {
            Dv::Int(i) => Cell::Int(*i),
            Dv::Float(f) if f.fract() == 0.0 => Cell::Int(*f as i64),
            Dv::Str(s) => Cell::Int(s.trim().parse().map_err(|_| misfit(&v))?),
            Dv::Bool(b) => Cell::Int(i64::from(*b)),
            _ => return Err(misfit(&v)),
        },
        (ValueType::Float64, _) => Cell::Float(v.as_f64().ok_or_else(|| misfit(&v))?),
        (ValueType::Boolean, Dv::Bool(b)) => Cell::Bool(*b),
        (ValueType::Boolean, Dv::Str(s)) if s == "true" || s == "false" => Cell::Bool(s == "true"),
        (ValueType::Timestamp, Dv::Time(t)) => Cell::Micros(t.timestamp_micros()),
        (ValueType::Timestamp, Dv::Str(s)) => Cell::Micros(
            crate::expr::funcs::parse_iso(s)
                .ok_or_else(|| misfit(&v))?
                .timestamp_micros(),
        ),
        (ValueType::List(item), Dv::List(items)) => Cell::List(
            items
                .iter()
                .map(|i| dv_to_cell(i.clone(), item))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(misfit(&v)),
    })
}

/// A constant's cell, converted once per call.
fn constant_cell(v: &Value, t: &ValueType) -> Cell<'static> {
    match (t, v) {
        (_, Value::Null) => Cell::Null,
        (ValueType::Int64, Value::Number(n)) => n.as_i64().map_or(Cell::Null, Cell::Int),
        (ValueType::Float64, Value::Number(n)) => n.as_f64().map_or(Cell::Null, Cell::Float),
        (ValueType::Boolean, Value::Bool(b)) => Cell::Bool(*b),
        (_, Value::String(s)) => Cell::Str(Cow::Owned(s.clone())),
        (_, other) => Cell::Str(Cow::Owned(other.to_string())),
    }
}

/// One call's mapping in progress: the column builders and what records left behind.
struct MapRun<'m, 'a> {
    mapping: &'m CompiledMapping,
    builders: Vec<Option<Builder>>,
    constants: Vec<Option<Cell<'static>>>,
    expressions: Vec<(usize, &'m crate::plan::ExprColumn)>,
    slots: Vec<Dv>,
    /// The record being mapped, one cell per column.
    cells: Vec<Cell<'a>>,
    rejects: Vec<Reject>,
    input_records: usize,
    unknown: HashMap<u32, HashMap<Box<[u8]>, Option<ValueType>>>,
    /// When timed (`sluice bench`): the time spent evaluating and building columns, the rest
    /// of a run being the decoding.
    evaluating: Option<Duration>,
}

/// Remember an unknown key of a tracked object, and the first non-null type it showed.
fn note_unknown(
    unknown: &mut HashMap<u32, HashMap<Box<[u8]>, Option<ValueType>>>,
    t: u32,
    key: &[u8],
    ty: Option<ValueType>,
) {
    let seen = unknown.entry(t).or_default();
    match seen.get_mut(key) {
        Some(None) => {
            if let Some(ty) = ty {
                seen.insert(key.into(), Some(ty));
            }
        }
        Some(Some(_)) => {}
        None => {
            seen.insert(key.into(), ty);
        }
    }
}

impl<'m, 'a> MapRun<'m, 'a> {
    fn new(mapping: &'m CompiledMapping) -> Self {
        MapRun {
            mapping,
            builders: mapping
                .columns
                .iter()
                .map(|c| (!c.hidden).then(|| Builder::for_type(&c.value_type)))
                .collect(),
            constants: mapping
                .columns
                .iter()
                .map(|c| match &c.source {
                    ColumnSource::Constant(v) => Some(constant_cell(v, &c.value_type)),
                    _ => None,
                })
                .collect(),
            expressions: mapping
                .columns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| match &c.source {
                    ColumnSource::Expression(x) => Some((i, &**x)),
                    _ => None,
                })
                .collect(),
            slots: Vec::new(),
            cells: vec![Cell::Null; mapping.columns.len()],
            rejects: Vec::new(),
            input_records: 0,
            unknown: HashMap::new(),
            evaluating: None,
        }
    }

    /// Evaluate the expression columns over the scanned cells.
    fn evaluate(&mut self) -> Result<(), RecordError> {
        for (i, x) in &self.expressions {
            self.slots.clear();
            self.slots
                .extend(x.slots.iter().map(|&s| cell_to_dv(&self.cells[s])));
            let column = &self.mapping.columns[*i];
            let dest = || column.destination.join(".");
            let v = crate::expr::eval(&x.node, &mut self.slots)
                .map_err(|e| RecordError::Misfit(format!("expression for `{}`: {e}", dest())))?;
            self.cells[*i] = dv_to_cell(v, &column.value_type)
                .map_err(|e| RecordError::Misfit(format!("expression for `{}`: {e}", dest())))?;
        }
        Ok(())
    }

    /// Append the scanned record to the columns, or reject it whole with the reason.
    fn finish_record(
        &mut self,
        scanned: Result<(), RecordError>,
        line: usize,
        record: impl FnOnce() -> String,
    ) {
        self.input_records += 1;
        let started = self.evaluating.map(|_| Instant::now());
        match scanned
            .and_then(|()| self.evaluate())
            .and_then(|()| self.check_sizes())
        {
            Ok(()) => {
                // appending empties the cells for the next record
                for (i, (b, c)) in self.builders.iter_mut().zip(&mut self.cells).enumerate() {
                    let c = std::mem::replace(c, Cell::Null);
                    let Some(b) = b else { continue };
                    match (&self.constants[i], c) {
                        (Some(k), _) => b.append(k),
                        (None, Cell::Null) => b.append_null(),
                        (None, c) => b.append(&c),
                    }
                }
            }
            Err(e) => {
                self.cells.fill(Cell::Null);
                self.reject(e, line, record);
            }
        }
        if let (Some(t), Some(spent)) = (started, self.evaluating.as_mut()) {
            *spent += t.elapsed();
        }
    }

    /// No value past `max_value_bytes`: one giant field must not blow up the batch.
    fn check_sizes(&self) -> Result<(), RecordError> {
        fn size(c: &Cell<'_>) -> usize {
            match c {
                Cell::Str(s) => s.len(),
                Cell::List(items) => items.iter().map(size).sum(),
                _ => 0,
            }
        }
        let max = self.mapping.max_value_bytes;
        for (cell, column) in self.cells.iter().zip(&self.mapping.columns) {
            let n = size(cell);
            if n > max {
                return Err(RecordError::Misfit(format!(
                    "`{}`: a value of {n} bytes is larger than max_value_bytes ({max} bytes); \
                     raise max_value_bytes in the flow to keep it",
                    column.destination.join(".")
                )));
            }
        }
        Ok(())
    }

    fn reject(&mut self, e: RecordError, line: usize, record: impl FnOnce() -> String) {
        self.rejects.push(Reject {
            line,
            record: record(),
            reason: match e {
                RecordError::Malformed(m) => format!("malformed JSON {m}"),
                RecordError::NotObject(kind) => {
                    format!("a record must be a JSON object, found {kind}")
                }
                RecordError::Misfit(m) => m,
            },
        });
    }

    fn output(self) -> MapOutput {
        self.output_timed().0
    }

    /// The batch, and the time spent evaluating when the run is timed.
    fn output_timed(mut self) -> (MapOutput, Duration) {
        let started = self.evaluating.map(|_| Instant::now());
        let mapping = self.mapping;
        let unknown_fields = self
            .unknown
            .into_iter()
            .flat_map(|(t, keys)| {
                let prefix = mapping.tracked[t as usize].path.join(".");
                keys.into_iter().map(move |(k, ty)| {
                    let key = String::from_utf8_lossy(&k);
                    let path = if prefix.is_empty() {
                        key.into_owned()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    (path, ty)
                })
            })
            .collect();
        let mut arrays: Vec<Option<ArrayRef>> = self
            .builders
            .iter_mut()
            .map(|b| b.as_mut().map(Builder::finish))
            .collect();
        let columns: Vec<ArrayRef> = mapping
            .roots
            .iter()
            .zip(mapping.schema.fields())
            .map(|((_, node), field)| assemble(node, field.data_type(), &mut arrays))
            .collect();
        let batch = RecordBatch::try_new(mapping.schema.clone(), columns)
            .unwrap_or_else(|e| unreachable!("plan and arrays disagree: {e}"));
        if let (Some(t), Some(spent)) = (started, self.evaluating.as_mut()) {
            *spent += t.elapsed();
        }
        let out = MapOutput {
            batch,
            rejects: self.rejects,
            input_records: self.input_records,
            unknown_fields,
        };
        (out, self.evaluating.unwrap_or_default())
    }
}

impl CompiledMapping {
    /// Map a page's records, in whichever layout the connector sent them.
    pub fn map_records(&self, records: &Records) -> MapOutput {
        match records {
            Records::Lines(lines) => self.map_ndjson(lines),
            Records::Framed(framed) => self.map_framed(framed),
        }
    }

    /// Map a page of newline-delimited JSON records. Blank lines are skipped.
    pub fn map_ndjson(&self, input: &[u8]) -> MapOutput {
        self.ndjson(input, false).0
    }

    /// As [`CompiledMapping::map_ndjson`], and the part of its time spent evaluating (the
    /// expressions, and moving values into Arrow columns); the rest is decoding. Timing each
    /// record costs a few percent, so only `sluice bench` asks.
    pub fn map_ndjson_timed(&self, input: &[u8]) -> (MapOutput, Duration) {
        self.ndjson(input, true)
    }

    fn ndjson(&self, input: &[u8], timed: bool) -> (MapOutput, Duration) {
        let mut run = MapRun::new(self);
        if timed {
            run.evaluating = Some(Duration::ZERO);
        }
        let mut start = 0;
        let mut line_no = 0;
        while start < input.len() {
            let end = memchr::memchr(b'\n', &input[start..]).map_or(input.len(), |i| start + i);
            let line = &input[start..end];
            start = end + 1;
            line_no += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let unknown = &mut run.unknown;
            let scanned = scan(
                &self.trie,
                line,
                &self.meta,
                &mut run.cells,
                &mut |t, k, ty| note_unknown(unknown, t, k, ty),
            );
            run.finish_record(scanned, line_no, || {
                String::from_utf8_lossy(line).into_owned()
            });
        }
        run.output_timed()
    }

    /// Map the items of a framed page: the members they share are read once, each item once,
    /// in place. A reject's `line` is the item's 1-based position in the page.
    pub fn map_framed(&self, page: &Framed) -> MapOutput {
        let mut run = MapRun::new(self);
        let body = &page.body[..];
        let mut shared = vec![Cell::Null; self.columns.len()];
        let unknown = &mut run.unknown;
        let shared_ok = scan_shared(
            &self.trie,
            body,
            &page.shared,
            &self.meta,
            &mut shared,
            &mut |t, k, ty| note_unknown(unknown, t, k, ty),
        );
        // the columns the shared members fill, copied into each item's cells
        let shared: Vec<(usize, Cell<'_>)> = shared
            .into_iter()
            .enumerate()
            .filter(|(_, c)| !matches!(c, Cell::Null))
            .collect();
        for (i, range) in page.items.iter().enumerate() {
            let scanned = match (&shared_ok, body.get(range.clone())) {
                (Err(e), _) => Err(e.clone()),
                (Ok(()), None) => Err(RecordError::Malformed(format!(
                    "item bytes {range:?} are out of the page"
                ))),
                (Ok(()), Some(item)) => {
                    for (c, cell) in &shared {
                        run.cells[*c] = cell.clone();
                    }
                    let unknown = &mut run.unknown;
                    scan_item(
                        &self.trie,
                        item,
                        &page.key,
                        &self.meta,
                        &mut run.cells,
                        &mut |t, k, ty| note_unknown(unknown, t, k, ty),
                    )
                }
            };
            run.finish_record(scanned, i + 1, || {
                String::from_utf8_lossy(&page.line(i)).into_owned()
            });
        }
        run.output()
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
    use crate::{compile, MappingSet, ValueType};
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::Array;
    use sluice_core::{FieldType, Framed, SchemaField, StreamSchema};

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
            open: false,
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
    fn a_framed_page_maps_exactly_like_its_records_as_lines() {
        let schema = StreamSchema {
            fields: vec![
                SchemaField::new(
                    "meta",
                    FieldType::Object {
                        fields: vec![SchemaField::new("after_cursor", FieldType::String)],
                    },
                ),
                SchemaField::new(
                    "results",
                    FieldType::Open {
                        fields: vec![
                            SchemaField::new("id", FieldType::Integer),
                            SchemaField::new("name", FieldType::String),
                        ],
                    },
                ),
            ],
            open: false,
        };
        let set = MappingSet::from_json(
            "t",
            r#"{"mappings":[
            {"sourceType":"ATTRIBUTE","source":"results.id","destination":"id"},
            {"sourceType":"ATTRIBUTE","source":"meta.after_cursor","destination":"cursor"},
            {"sourceType":"EXPRESSION","source":"concat(results.name, \"@\", meta.after_cursor)","destination":"tag"}]}"#,
        )
        .expect("set");
        let mapping = compile("t", &set, Some(&schema))
            .expect("compiles")
            .mapping
            .track_unknown_fields(&["results".into()], &Default::default());
        let body: &'static [u8] = br#"{"results":[{"id":1,"name":"a","extra":true}, {"id":"x"} ,{"id":3,"name":"c\"q\u00e9"},{"id":4,"name":"d","more":[1]}],"meta":{"after_cursor":"k1","has_more":true}}"#;
        let find = |needle: &[u8]| {
            body.windows(needle.len())
                .position(|w| w == needle)
                .expect("in the body")
        };
        let items: Vec<_> = [
            &br#"{"id":1,"name":"a","extra":true}"#[..],
            br#"{"id":"x"}"#,
            br#"{"id":3,"name":"c\"q\u00e9"}"#,
            br#"{"id":4,"name":"d","more":[1]}"#,
        ]
        .iter()
        .map(|item| find(item)..find(item) + item.len())
        .collect();
        let meta = br#"{"after_cursor":"k1","has_more":true}"#;
        let framed = Framed {
            body: bytes::Bytes::from_static(body),
            items: items.clone(),
            shared: vec![("meta".into(), find(meta)..find(meta) + meta.len())],
            key: "results".into(),
        };
        let mut lines = Vec::new();
        for i in 0..items.len() {
            lines.extend_from_slice(&framed.line(i));
            lines.push(b'\n');
        }
        let by_item = mapping.map_framed(&framed);
        let by_line = mapping.map_ndjson(&lines);
        assert_eq!(by_item.batch, by_line.batch);
        assert_eq!(by_item.rejects, by_line.rejects);
        assert_eq!(by_item.unknown_fields, by_line.unknown_fields);
        assert_eq!(by_item.input_records, 4);
        assert_eq!(by_item.batch.num_rows(), 3);
        assert_eq!(by_item.rejects[0].line, 2);
        assert!(by_item.rejects[0]
            .record
            .contains(r#""results":{"id":"x"}"#));
        let tags = by_item.batch.column(2).as_string::<i32>();
        assert_eq!(tags.value(1), "c\"q\u{e9}@k1");
        let unknown: Vec<_> = by_item.unknown_fields.keys().cloned().collect();
        assert_eq!(unknown, ["results.extra", "results.more"]);
    }

    #[test]
    fn keys_of_an_open_record_no_column_reads_are_reported_and_known_ones_stay_quiet() {
        let schema = StreamSchema {
            fields: vec![
                SchemaField::new("DATE", FieldType::String),
                SchemaField::new("SPEND", FieldType::Integer),
                SchemaField::new("CLICKS", FieldType::Integer),
            ],
            open: true,
        };
        let set = MappingSet::from_json(
            "t",
            r#"{"mappings":[{"sourceType":"ATTRIBUTE","source":"SPEND","destination":"spend"}]}"#,
        )
        .expect("set");
        let declared: std::collections::BTreeSet<String> =
            ["DATE", "SPEND", "CLICKS"].map(String::from).into();
        let mapping = compile("t", &set, Some(&schema))
            .expect("compiles")
            .mapping
            .track_unknown_fields(&[String::new()], &declared);
        let input = concat!(
            r#"{"DATE":"2026-01-01","SPEND":1,"CLICKS":2,"NEW_A":3,"NEW_B":"x","NEW_C":null}"#,
            "\n"
        );
        let out = mapping.map_ndjson(input.as_bytes());
        assert_eq!(out.batch.num_rows(), 1);
        let unknown: Vec<_> = out.unknown_fields.iter().collect();
        assert_eq!(
            unknown,
            [
                (&"NEW_A".to_string(), &Some(ValueType::Float64)),
                (&"NEW_B".to_string(), &Some(ValueType::Utf8)),
                (&"NEW_C".to_string(), &None),
            ]
        );
        // tracking again (as the ignore policy does) keeps what was known and adds more
        let again = mapping.track_unknown_fields(&[String::new()], &[String::from("NEW_A")].into());
        let out = again.map_ndjson(input.as_bytes());
        let unknown: Vec<_> = out.unknown_fields.keys().cloned().collect();
        assert_eq!(unknown, ["NEW_B", "NEW_C"]);
    }

    #[test]
    fn a_framed_page_with_broken_shared_members_rejects_every_item() {
        let body = br#"{"results":[{"id":1},{"id":2}],"meta":{"after_cursor":tru}}"#;
        let framed = Framed {
            body: bytes::Bytes::from_static(body),
            items: vec![12..20, 21..29],
            shared: vec![("meta".into(), 38..58)],
            key: "results".into(),
        };
        assert_eq!(&body[38..58], br#"{"after_cursor":tru}"#);
        let schema = StreamSchema {
            fields: vec![SchemaField::new(
                "meta",
                FieldType::Object {
                    fields: vec![SchemaField::new("after_cursor", FieldType::String)],
                },
            )],
            open: false,
        };
        let set = MappingSet::from_json(
            "t",
            r#"{"mappings":[{"sourceType":"ATTRIBUTE","source":"meta.after_cursor","destination":"c"}]}"#,
        )
        .expect("set");
        let out = compile("t", &set, Some(&schema))
            .expect("compiles")
            .mapping
            .map_framed(&framed);
        assert_eq!(out.batch.num_rows(), 0);
        assert_eq!(out.rejects.len(), 2);
        assert!(
            out.rejects[1].reason.contains("the page's `meta`"),
            "{}",
            out.rejects[1].reason
        );
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
