//! A flow file checked against the schema: a small walker of the keywords the flow schema
//! uses, for the tests that hold every flow of the repository and the reference's example to
//! the schema. Not a full validator: `pattern` and `not` only narrow text and are left to real
//! ones (Taplo's); `Flow::parse` and the connectors remain what decides.

use serde_json::Value;

/// What `schema` (as [`super::flow_schema`] makes it) finds wrong with the flow file `text`,
/// one line each, by dotted key path (`source.page_sise: not a key the schema declares`).
/// `Err`: the text is not TOML.
pub fn schema_errors(schema: &Value, text: &str) -> Result<Vec<String>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut errors = Vec::new();
    check(
        schema,
        &toml_json(&toml::Value::Table(table)),
        "",
        &mut errors,
    );
    Ok(errors)
}

fn toml_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.clone(), toml_json(v))).collect())
        }
    }
}

fn is_type(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// A small validator for the keywords the flow schema uses: `type`, `enum`, `const`,
/// `minimum`, `maximum`, `minItems`, `properties`, `additionalProperties`, `required`,
/// `dependencies`, `items`, `allOf`, `anyOf`, `if`/`then`/`else`. `pattern` and `not` are
/// left to real validators (no regex crate here): they only narrow text.
fn check(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            errors.push(format!("{at}: not allowed"));
        }
        return;
    };
    if let Some(ty) = s.get("type") {
        let ok = match ty {
            Value::String(t) => is_type(value, t),
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| is_type(value, t)),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: {value} is not of type {ty}"));
            return;
        }
    }
    if let Some(Value::Array(values)) = s.get("enum") {
        if !values.contains(value) {
            errors.push(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    if let Some(c) = s.get("const") {
        if c != value {
            errors.push(format!("{at}: {value} is not {c}"));
        }
    }
    if let (Some(n), Some(min)) = (value.as_f64(), s.get("minimum").and_then(Value::as_f64)) {
        if n < min {
            errors.push(format!("{at}: {n} is below {min}"));
        }
    }
    if let (Some(n), Some(max)) = (value.as_f64(), s.get("maximum").and_then(Value::as_f64)) {
        if n > max {
            errors.push(format!("{at}: {n} is above {max}"));
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < min {
                errors.push(format!("{at}: fewer than {min} items"));
            }
        }
        if let Some(item) = s.get("items") {
            for (i, v) in items.iter().enumerate() {
                check(item, v, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Some(object) = value.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for (k, v) in object {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                (Some(sub), _) => check(sub, v, &path, errors),
                (None, Some(Value::Bool(false))) => {
                    errors.push(format!("{path}: not a key the schema declares"))
                }
                (None, Some(extra)) => check(extra, v, &path, errors),
                (None, None) => {}
            }
        }
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(r) {
                errors.push(format!("{at}: `{r}` is required"));
            }
        }
        for (k, needs) in s
            .get("dependencies")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if object.contains_key(k) {
                for n in needs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if !object.contains_key(n) {
                        errors.push(format!("{at}: `{k}` needs `{n}`"));
                    }
                }
            }
        }
    }
    for sub in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(sub, value, at, errors);
    }
    if let Some(branches) = s.get("anyOf").and_then(Value::as_array) {
        let mut failures = Vec::new();
        let any = branches.iter().any(|b| {
            let mut e = Vec::new();
            check(b, value, at, &mut e);
            failures.extend(e.iter().cloned());
            e.is_empty()
        });
        if !any {
            errors.push(format!("{at}: none of the alternatives: {failures:?}"));
        }
    }
    if let Some(condition) = s.get("if") {
        let mut e = Vec::new();
        check(condition, value, at, &mut e);
        let branch = if e.is_empty() {
            s.get("then")
        } else {
            s.get("else")
        };
        if let Some(b) = branch {
            check(b, value, at, errors);
        }
    }
}
