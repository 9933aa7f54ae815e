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
        match self.lookup_declared(parent)? {
            FieldType::Open { .. } => Some(&UNDECLARED),
            _ => None,
        }
    }

    /// Dot paths of the open objects, outermost first.
    pub fn open_paths(&self) -> Vec<String> {
        fn walk(prefix: &str, fields: &[SchemaField], out: &mut Vec<String>) {
            for f in fields {
                let path = if prefix.is_empty() {
                    f.name.clone()
                } else {
                    format!("{prefix}.{}", f.name)
                };
                match &f.ty {
                    FieldType::Open { fields } => {
                        out.push(path.clone());
                        walk(&path, fields, out);
                    }
                    FieldType::Object { fields } => walk(&path, fields, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk("", &self.fields, &mut out);
        out
    }

    /// Every leaf path of the schema, in declaration order (`results.id`, `results.name`, …).
    pub fn leaf_paths(&self) -> Vec<String> {
        fn walk(prefix: &str, fields: &[SchemaField], out: &mut Vec<String>) {
            for f in fields {
                let path = if prefix.is_empty() {
                    f.name.clone()
                } else {
                    format!("{prefix}.{}", f.name)
                };
                match &f.ty {
                    FieldType::Object { fields } | FieldType::Open { fields } => {
                        walk(&path, fields, out)
                    }
                    _ => out.push(path),
                }
            }
        }
        let mut out = Vec::new();
        walk("", &self.fields, &mut out);
        out
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
        }
    }

    #[test]
    fn lookup_follows_dot_paths() {
        let s = schema();
        assert_eq!(s.lookup(&["results", "id"]), Some(&FieldType::Integer));
        assert_eq!(s.lookup(&["results", "nope"]), None);
        assert_eq!(s.lookup(&["results", "id", "deeper"]), None);
        assert_eq!(s.leaf_paths(), vec!["results.id", "results.tags"]);
    }
}
