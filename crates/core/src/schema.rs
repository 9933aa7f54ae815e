//! Stream schemas: the shape of the records a connector yields, declared as data.
//!
//! The mapper derives its output Arrow types from these, and validates mapping sources against
//! them before any request is sent.

use serde::{Deserialize, Serialize};

/// The type of one field of a source record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FieldType {
    Integer,
    Number,
    String,
    Boolean,
    /// Epoch seconds (an integer or a float), written as a UTC timestamp.
    Timestamp,
    /// A list whose items all have one type.
    Array {
        items: Box<FieldType>,
    },
    /// A nested object with known fields.
    Object {
        fields: Vec<SchemaField>,
    },
    /// An object with known fields and any others (custom properties that come and go).
    /// Unknown fields read as strings through a mapping set; without one, the flow's schema
    /// policy decides what a new field does.
    Open {
        fields: Vec<SchemaField>,
    },
    /// Free-form JSON (custom fields whose shape varies by account): kept as JSON text.
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaField {
    pub name: String,
    #[serde(flatten)]
    pub ty: FieldType,
}

impl SchemaField {
    pub fn new(name: &str, ty: FieldType) -> Self {
        Self {
            name: name.to_string(),
            ty,
        }
    }
}

/// The record schema of one stream: its top-level fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamSchema {
    pub fields: Vec<SchemaField>,
    /// The record itself may hold fields beside these (an API that adds columns): without a
    /// mapping set the schema policy decides what they do; a mapped flow reports them.
    #[serde(default)]
    pub open: bool,
}

impl StreamSchema {
    /// The type at a dot path such as `results.id`, if the schema declares it.
    pub fn lookup_declared(&self, path: &[&str]) -> Option<&FieldType> {
        let (first, rest) = path.split_first()?;
        let field = self.fields.iter().find(|f| f.name == *first)?;
        let mut ty = &field.ty;
        for part in rest {
            match ty {
                FieldType::Object { fields } | FieldType::Open { fields } => {
                    ty = &fields.iter().find(|f| f.name == *part)?.ty;
                }
                _ => return None,
            }
        }
        Some(ty)
    }

    /// The type at a dot path: declared, or a string for an unknown field of an open object.
    pub fn lookup(&self, path: &[&str]) -> Option<&FieldType> {
        static UNDECLARED: FieldType = FieldType::String;
        if let Some(t) = self.lookup_declared(path) {
            return Some(t);
        }
        let (last, parent) = path.split_last()?;
        let _ = last;
        if parent.is_empty() {
            return self.open.then_some(&UNDECLARED);
        }
        match self.lookup_declared(parent)? {
            FieldType::Open { .. } => Some(&UNDECLARED),
            _ => None,
        }
    }

    /// Dot paths of the open objects, outermost first (`""`: the record itself).
    pub fn open_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.open {
            out.push(String::new());
        }
        self.visit(&mut |path, ty| {
            if matches!(ty, FieldType::Open { .. }) {
                out.push(path.to_string());
            }
        });
        out
    }

    /// The schema as a sample shows it: every object may hold fields the sample did not (an
    /// inferred schema cannot know that a field never comes).
    pub fn opened(&self) -> StreamSchema {
        fn open(fields: &[SchemaField]) -> Vec<SchemaField> {
            fields
                .iter()
                .map(|f| SchemaField {
                    name: f.name.clone(),
                    ty: match &f.ty {
                        FieldType::Object { fields } | FieldType::Open { fields } => {
                            FieldType::Open {
                                fields: open(fields),
                            }
                        }
                        other => other.clone(),
                    },
                })
                .collect()
        }
        StreamSchema {
            fields: open(&self.fields),
            open: self.open,
        }
    }

    /// Every leaf path of the schema, in declaration order (`results.id`, `results.name`, …).
    pub fn leaf_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(&mut |path, ty| {
            if !matches!(ty, FieldType::Object { .. } | FieldType::Open { .. }) {
                out.push(path.to_string());
            }
        });
        out
    }

    /// Calls `f` with the dot path and type of every field, parents before children.
    fn visit(&self, f: &mut impl FnMut(&str, &FieldType)) {
        fn walk(prefix: &str, fields: &[SchemaField], f: &mut impl FnMut(&str, &FieldType)) {
            for field in fields {
                let path = if prefix.is_empty() {
                    field.name.clone()
                } else {
                    format!("{prefix}.{}", field.name)
                };
                f(&path, &field.ty);
                if let FieldType::Object { fields } | FieldType::Open { fields } = &field.ty {
                    walk(&path, fields, f);
                }
            }
        }
        walk("", &self.fields, f);
    }

    /// A JSON Schema rendering, in the shape the seeds' explore calls return.
    pub fn to_json_schema(&self) -> serde_json::Value {
        fn ty(t: &FieldType) -> serde_json::Value {
            use serde_json::json;
            match t {
                FieldType::Integer => json!({"type": "integer"}),
                FieldType::Number => json!({"type": "number"}),
                FieldType::String => json!({"type": "string"}),
                FieldType::Boolean => json!({"type": "boolean"}),
                FieldType::Timestamp => json!({"type": "integer", "format": "unix-time"}),
                FieldType::Json => json!({}),
                FieldType::Array { items } => json!({"type": "array", "items": ty(items)}),
                FieldType::Object { fields } => obj(fields),
                FieldType::Open { fields } => {
                    let mut o = obj(fields);
                    o["additionalProperties"] = json!(true);
                    o
                }
            }
        }
        fn obj(fields: &[SchemaField]) -> serde_json::Value {
            let props: serde_json::Map<String, serde_json::Value> =
                fields.iter().map(|f| (f.name.clone(), ty(&f.ty))).collect();
            serde_json::json!({"type": "object", "properties": props})
        }
        obj(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> StreamSchema {
        StreamSchema {
            fields: vec![SchemaField::new(
                "results",
                FieldType::Object {
                    fields: vec![
                        SchemaField::new("id", FieldType::Integer),
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
        }
    }

    #[test]
    fn lookup_follows_dot_paths() {
        let s = schema();
        assert_eq!(s.lookup(&["results", "id"]), Some(&FieldType::Integer));
        assert_eq!(s.lookup(&["results", "nope"]), None);
        assert_eq!(s.lookup(&["results", "id", "deeper"]), None);
        assert_eq!(s.leaf_paths(), vec!["results.id", "results.tags"]);
        // a sample's schema: unseen fields of its objects read as strings, declared ones keep
        // their type, and paths through a scalar stay unknown
        let opened = s.opened();
        assert_eq!(
            opened.lookup(&["results", "nope"]),
            Some(&FieldType::String)
        );
        assert_eq!(opened.lookup(&["results", "id"]), Some(&FieldType::Integer));
        assert_eq!(opened.lookup(&["results", "id", "deeper"]), None);
        assert_eq!(opened.leaf_paths(), s.leaf_paths());
    }

    #[test]
    fn open_objects_are_listed_outermost_first_and_are_not_leaves() {
        let s = StreamSchema {
            fields: vec![SchemaField::new(
                "results",
                FieldType::Object {
                    fields: vec![
                        SchemaField::new("id", FieldType::Integer),
                        SchemaField::new(
                            "user_fields",
                            FieldType::Open {
                                fields: vec![SchemaField::new(
                                    "extra",
                                    FieldType::Open { fields: vec![] },
                                )],
                            },
                        ),
                    ],
                },
            )],
            open: false,
        };
        assert_eq!(
            s.open_paths(),
            vec!["results.user_fields", "results.user_fields.extra"]
        );
        assert_eq!(s.leaf_paths(), vec!["results.id"]);
    }
}

impl StreamSchema {
    /// A schema from JSON Schema, as the seeds' explore calls return it (the whole response
    /// with a `schema` key, or the schema itself).
    pub fn from_json_schema(v: &serde_json::Value) -> Result<Self, String> {
        let root = v.get("schema").unwrap_or(v);
        match json_schema_type(root)? {
            FieldType::Object { fields } | FieldType::Open { fields } => Ok(StreamSchema {
                fields,
                open: false,
            }),
            _ => Err("the schema's root must be an object with `properties`".into()),
        }
    }

    /// A schema inferred from sample records (one JSON object per line). Fields only ever null
    /// become strings; fields whose type varies become JSON text.
    pub fn infer(sample: &[u8]) -> Self {
        let mut root: Option<FieldType> = None;
        for line in sample.split(|b| *b == b'\n') {
            if let Ok(v @ serde_json::Value::Object(_)) =
                serde_json::from_slice::<serde_json::Value>(line)
            {
                root = Some(match root {
                    None => infer_type(&v).unwrap_or(FieldType::Json),
                    Some(t) => merge(t, infer_type(&v)),
                });
            }
        }
        match root.map(settle) {
            Some(FieldType::Object { fields }) => StreamSchema {
                fields,
                open: false,
            },
            _ => StreamSchema::default(),
        }
    }
}

fn json_schema_type(v: &serde_json::Value) -> Result<FieldType, String> {
    let ty = match v.get("type") {
        Some(serde_json::Value::String(t)) => t.as_str(),
        // ["string", "null"]: the non-null one
        Some(serde_json::Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ => return Ok(FieldType::Json),
    };
    Ok(match ty {
        "integer" => FieldType::Integer,
        "number" => FieldType::Number,
        "string" => FieldType::String,
        "boolean" => FieldType::Boolean,
        "array" => FieldType::Array {
            items: Box::new(match v.get("items") {
                Some(items) => json_schema_type(items)?,
                None => FieldType::Json,
            }),
        },
        "object" => {
            let mut fields = Vec::new();
            if let Some(serde_json::Value::Object(props)) = v.get("properties") {
                for (name, p) in props {
                    fields.push(SchemaField::new(name, json_schema_type(p)?));
                }
            }
            if v.get("additionalProperties") == Some(&serde_json::Value::Bool(true)) {
                FieldType::Open { fields }
            } else {
                FieldType::Object { fields }
            }
        }
        "null" => FieldType::String,
        other => return Err(format!("unknown JSON Schema type `{other}`")),
    })
}

/// The marker for "only nulls so far" inside inferred objects (inference never produces an
/// empty open object otherwise).
fn unseen() -> FieldType {
    FieldType::Open { fields: Vec::new() }
}

fn is_unseen(t: &FieldType) -> bool {
    matches!(t, FieldType::Open { fields } if fields.is_empty())
}

fn is_scalar(t: &FieldType) -> bool {
    matches!(
        t,
        FieldType::Integer
            | FieldType::Number
            | FieldType::String
            | FieldType::Boolean
            | FieldType::Timestamp
    )
}

/// `None` for null: no type yet.
fn infer_type(v: &serde_json::Value) -> Option<FieldType> {
    use serde_json::Value;
    Some(match v {
        Value::Null => return None,
        Value::Bool(_) => FieldType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => FieldType::Integer,
        Value::Number(_) => FieldType::Number,
        Value::String(_) => FieldType::String,
        Value::Array(items) => {
            let mut t: Option<FieldType> = None;
            for i in items {
                t = match t {
                    None => infer_type(i),
                    Some(t) => Some(merge(t, infer_type(i))),
                };
            }
            FieldType::Array {
                items: Box::new(t.unwrap_or_else(unseen)),
            }
        }
        Value::Object(map) => FieldType::Object {
            fields: map
                .iter()
                .map(|(k, v)| SchemaField::new(k, infer_type(v).unwrap_or_else(unseen)))
                .collect(),
        },
    })
}

/// Two observations of one field: the type both fit (scalars that disagree become strings,
/// which every scalar widens to), or JSON text.
fn merge(a: FieldType, b: Option<FieldType>) -> FieldType {
    let Some(b) = b else { return a };
    match (a, b) {
        (a, b) if is_unseen(&a) => b,
        (a, b) if is_unseen(&b) => a,
        (FieldType::Integer, FieldType::Number) | (FieldType::Number, FieldType::Integer) => {
            FieldType::Number
        }
        (FieldType::Object { fields: mut fa }, FieldType::Object { fields: fb }) => {
            for f in fb {
                match fa.iter().position(|x| x.name == f.name) {
                    Some(i) => {
                        let old = std::mem::replace(&mut fa[i].ty, FieldType::Json);
                        fa[i].ty = merge(old, Some(f.ty));
                    }
                    None => fa.push(f),
                }
            }
            FieldType::Object { fields: fa }
        }
        (FieldType::Array { items: ia }, FieldType::Array { items: ib }) => FieldType::Array {
            items: Box::new(merge(*ia, Some(*ib))),
        },
        (a, b) if a == b => a,
        (a, b) if is_scalar(&a) && is_scalar(&b) => FieldType::String,
        _ => FieldType::Json,
    }
}

/// Fields still unseen (only nulls) become strings.
fn settle(t: FieldType) -> FieldType {
    match t {
        t if is_unseen(&t) => FieldType::String,
        FieldType::Array { items } => FieldType::Array {
            items: Box::new(settle(*items)),
        },
        FieldType::Object { fields } => FieldType::Object {
            fields: fields
                .into_iter()
                .map(|f| SchemaField {
                    name: f.name,
                    ty: settle(f.ty),
                })
                .collect(),
        },
        other => other,
    }
}

#[cfg(test)]
mod inference_tests {
    use super::*;

    #[test]
    fn infers_and_reads_json_schema() {
        let sample = b"{\"a\":1,\"b\":null,\"c\":{\"d\":[\"x\"]},\"e\":1,\"g\":\"7\"}\n{\"a\":2,\"b\":null,\"e\":1.5,\"f\":true,\"g\":8}\n{\"g\":9,\"k\":5}\n{\"k\":[1]}\n";
        let s = StreamSchema::infer(sample);
        assert_eq!(s.lookup(&["a"]), Some(&FieldType::Integer));
        assert_eq!(s.lookup(&["b"]), Some(&FieldType::String));
        assert_eq!(s.lookup(&["e"]), Some(&FieldType::Number));
        assert_eq!(
            s.lookup(&["c", "d"]),
            Some(&FieldType::Array {
                items: Box::new(FieldType::String)
            })
        );
        assert_eq!(s.lookup(&["f"]), Some(&FieldType::Boolean));
        // a string then numbers: a string column (numbers widen to it), not the last type seen
        assert_eq!(s.lookup(&["g"]), Some(&FieldType::String));
        // a number then an array: JSON text
        assert_eq!(s.lookup(&["k"]), Some(&FieldType::Json));
        let js = serde_json::json!({"schema": {"type": "object", "properties": {
            "results": {"type": "object", "properties": {"id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}}}}});
        let s = StreamSchema::from_json_schema(&js).expect("schema");
        assert_eq!(s.lookup(&["results", "id"]), Some(&FieldType::Integer));
        assert!(StreamSchema::from_json_schema(&serde_json::json!({"type": "string"})).is_err());
    }
}
