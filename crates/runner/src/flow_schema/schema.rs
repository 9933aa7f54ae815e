//! The flow file's JSON Schema (draft-07), from the engine's tables and each registered
//! connector's keys.

use serde_json::{json, Map, Value};
use sluice_core::settings_doc::{ConnectorKeys, Key, Kind, Rule, Side};
use sluice_core::Registry;

use super::engine::{engine_table, Table, ENGINE_TABLES};
use super::reference::rule_line;

/// Where the schema says it lives (`$id`).
pub const SCHEMA_ID: &str = "https://sluice.dev/schemas/flow.json";

/// An environment reference, as credentials must be written. `Flow::parse` also accepts a
/// name that starts with a digit; no shell can export one, so the schema does not.
pub const ENV_REFERENCE_PATTERN: &str = r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$";

/// Text that holds no `${` at all: `Flow::parse` refuses a reference with text around it (the
/// text may be a pasted secret), so a `[connection]` value is a whole reference or none.
const NO_REFERENCE_PATTERN: &str = r"\$\{";

/// What `number_or_digits`, the days keys and the schedule's numbers accept as text.
const DIGITS_PATTERN: &str = r"^\s*[0-9]+\s*$";

/// `parse_quota`: `COUNT/SECONDS`, both above 0.
const QUOTA_PATTERN: &str = r"^\s*0*[1-9][0-9]*\s*/\s*0*[1-9][0-9]*\s*$";

/// `parse_size` as text: a number and an optional unit.
const SIZE_PATTERN: &str = r"^\s*[0-9]*\.?[0-9]+\s*([bB]|[kKmMgG][iI]?[bB])?\s*$";

/// Digits of 15 or more: a `minute` schedule's interval as text.
const MINUTE_INTERVAL_PATTERN: &str = r"^\s*0*(?:1[5-9]|[2-9][0-9]|[1-9][0-9]{2,})\s*$";

/// The URL schemes `is_object_store_url` takes for an object store.
const OBJECT_STORE_SCHEMES: &[&str] = &[
    "s3", "s3a", "gs", "az", "adl", "azure", "abfs", "abfss", "file",
];

/// A regex that matches `values` as a parser that upper-cases (and, when `loose`, trims and
/// reads spaces and `-` as `_`) reads them: JSON Schema has no case-insensitive flag.
fn any_case_pattern(values: &[&str], loose: bool) -> String {
    let alternatives: Vec<String> = values
        .iter()
        .map(|v| {
            v.chars()
                .map(|c| match c {
                    '_' if loose => "[ _-]".to_string(),
                    c if c.is_ascii_alphabetic() => {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    }
                    c if c.is_ascii_alphanumeric() => c.to_string(),
                    c => format!("\\{c}"),
                })
                .collect()
        })
        .collect();
    let space = if loose { r"\s*" } else { "" };
    format!("^{space}(?:{}){space}$", alternatives.join("|"))
}

fn env_reference() -> Value {
    json!({"type": "string", "pattern": ENV_REFERENCE_PATTERN})
}

/// Text as `[connection]` takes it: literal text with no `${` in it, or a whole reference.
fn text_or_reference() -> Value {
    json!({
        "type": "string",
        "anyOf": [
            {"pattern": ENV_REFERENCE_PATTERN},
            {"not": {"pattern": NO_REFERENCE_PATTERN}}
        ]
    })
}

fn choice_schema(values: &[&str], any_case: bool, loose: bool, empty: bool) -> Value {
    let mut values: Vec<&str> = values.to_vec();
    if empty {
        values.push("");
    }
    if any_case || loose {
        json!({
            "type": "string",
            "anyOf": [
                {"enum": values},
                {"pattern": any_case_pattern(&values, loose)}
            ]
        })
    } else {
        json!({"type": "string", "enum": values})
    }
}

/// What the schema of a key needs beyond the key: where it is and what the registry holds.
struct Context<'a> {
    /// A `[connection]` key of a connector: `Flow::parse` resolves `${NAME}` in its text.
    references: bool,
    connectors: &'a [&'static str],
}

/// The schema of a value of `kind`, without its description.
fn kind_schema(kind: Kind, cx: &Context) -> Value {
    let schema = match kind {
        Kind::Text if cx.references => return text_or_reference(),
        Kind::Text => json!({"type": "string"}),
        Kind::Path => json!({"type": "string", "minLength": 1}),
        Kind::Name => json!({"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}),
        Kind::Credential => return env_reference(),
        Kind::Choice {
            values,
            any_case,
            loose,
            empty,
        } => choice_schema(values, any_case, loose, empty),
        Kind::Count => json!({"anyOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "pattern": DIGITS_PATTERN}
        ]}),
        Kind::CountIn(values) => {
            let alternatives: Vec<String> = values.iter().map(u64::to_string).collect();
            json!({"anyOf": [
                {"type": "integer", "enum": values},
                {"type": "string", "pattern": format!(r"^\s*0*(?:{})\s*$", alternatives.join("|"))}
            ]})
        }
        Kind::List => json!({"anyOf": [
            {"type": "array", "items": {"type": ["string", "number"]}},
            {"type": ["string", "number"]}
        ]}),
        Kind::ListOf { values, any_case } => json!({"anyOf": [
            {"type": "array", "items": choice_schema(values, any_case, false, false)},
            {"type": "string"}
        ]}),
        Kind::Strings => json!({"type": "array", "items": {"type": "string"}}),
        Kind::Int { min, max } => {
            let mut s = json!({"type": "integer", "minimum": min});
            if let (Some(max), Some(o)) = (max, s.as_object_mut()) {
                o.insert("maximum".into(), Value::from(max));
            }
            s
        }
        Kind::WholeOrDigits { min, max } => {
            let mut number = json!({"type": "integer", "minimum": min});
            if let (Some(max), Some(o)) = (max, number.as_object_mut()) {
                o.insert("maximum".into(), Value::from(max));
            }
            json!({"anyOf": [number, {"type": "string", "pattern": DIGITS_PATTERN}]})
        }
        Kind::Fraction => json!({"type": "number", "minimum": 0, "maximum": 1}),
        Kind::Size => json!({"anyOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "pattern": SIZE_PATTERN}
        ]}),
        Kind::Quota => json!({"anyOf": [
            {"type": "string", "pattern": QUOTA_PATTERN},
            {"type": "object", "additionalProperties": {"type": "string", "pattern": QUOTA_PATTERN}}
        ]}),
        Kind::Streams => json!({"type": "array", "minItems": 1, "items": {"type": "string"}}),
        Kind::Connector => json!({"type": "string", "enum": cx.connectors}),
        Kind::StoreOptions => json!({
            "type": "object",
            "additionalProperties": {"anyOf": [
                text_or_reference(),
                {"type": ["number", "boolean"]}
            ]}
        }),
    };
    if cx.references {
        // a reference is text: whatever a connector key's type, its value may come from the
        // environment (the connector reads the resolved text)
        json!({"anyOf": [schema, env_reference()]})
    } else {
        schema
    }
}

/// The hover text of a key: its meaning, its default, and how to write it when that is not
/// obvious from its type.
fn description(key: &Key, references: bool) -> String {
    let mut text = key.meaning.to_string();
    if let Some(d) = key.default {
        text.push_str(&format!(" Default: {}.", d.trim_end_matches('.')));
    }
    match key.kind {
        Kind::Credential => text.push_str(
            " A credential: only ever an environment reference, exactly \"${NAME}\" (a literal \
             value is refused, --sandbox too).",
        ),
        Kind::List | Kind::ListOf { .. } => {
            text.push_str(" A list: an array, comma-separated text or a number.")
        }
        Kind::Count | Kind::CountIn(_) => text.push_str(" A whole number, or its digits as text."),
        Kind::Path => text.push_str(" Relative paths resolve against the flow file's directory."),
        _ => {}
    }
    if references && key.kind != Kind::Credential {
        text.push_str(" May be an environment reference, exactly \"${NAME}\".");
    }
    text
}

fn key_schema(key: &Key, cx: &Context) -> Value {
    let mut schema = kind_schema(key.kind, cx);
    if let Some(o) = schema.as_object_mut() {
        o.insert(
            "description".into(),
            Value::String(description(key, cx.references)),
        );
    }
    schema
}

fn properties(keys: &[Key], cx: &Context) -> Map<String, Value> {
    keys.iter()
        .map(|k| (k.name.to_string(), key_schema(k, cx)))
        .collect()
}

fn required(keys: &[Key]) -> Vec<&'static str> {
    keys.iter().filter(|k| k.required).map(|k| k.name).collect()
}

fn any_of_required(groups: &[&[&str]]) -> Value {
    Value::Array(groups.iter().map(|g| json!({"required": g})).collect())
}

/// `[schedule]`: `cron` or `frequency`; `timezone` with `cron` only; `once` needs a start and
/// takes no interval; the others need an interval, 15 or more for `minute`.
fn schedule_rules() -> Value {
    json!({
        "anyOf": [{"required": ["cron"]}, {"required": ["frequency"]}],
        "dependencies": {"timezone": ["cron"]},
        "allOf": [
            {
                "if": {"required": ["cron"]},
                "then": {"not": {"anyOf": [
                    {"required": ["frequency"]},
                    {"required": ["interval"]}
                ]}}
            },
            {
                "if": {"properties": {"frequency": {"const": "once"}}, "required": ["frequency"]},
                "then": {"required": ["start_time"], "not": {"required": ["interval"]}}
            },
            {
                "if": {
                    "properties": {"frequency": {"enum": ["minute", "hour", "day", "week"]}},
                    "required": ["frequency"]
                },
                "then": {"required": ["interval"]}
            },
            {
                "if": {"properties": {"frequency": {"const": "minute"}}, "required": ["frequency"]},
                "then": {"properties": {"interval": {
                    "description": "A `minute` schedule needs an interval of 15 or more.",
                    "anyOf": [
                        {"type": "integer", "minimum": 15},
                        {"type": "string", "pattern": MINUTE_INTERVAL_PATTERN}
                    ]
                }}}
            }
        ]
    })
}

/// `[destination]`: `work_dir` and `options` apply to object stores only.
fn destination_rules() -> Value {
    let schemes = any_case_pattern(OBJECT_STORE_SCHEMES, false);
    let url = format!("{}://", schemes.trim_end_matches('$'));
    json!({
        "allOf": [{
            "if": {"properties": {"path": {"not": {"pattern": url}}}, "required": ["path"]},
            "then": {"not": {"anyOf": [{"required": ["work_dir"]}, {"required": ["options"]}]}}
        }]
    })
}

fn table_schema(table: &Table, cx: &Context) -> Value {
    let mut schema = json!({
        "type": "object",
        "description": table.about,
        "properties": properties(table.keys, cx),
    });
    if let Some(o) = schema.as_object_mut() {
        let req = required(table.keys);
        if !req.is_empty() {
            o.insert("required".into(), json!(req));
        }
        // `[connection]` and `[source]` take the connector's keys too: closed per connector
        if !matches!(table.name, "connection" | "source") {
            o.insert("additionalProperties".into(), Value::Bool(false));
        }
        let extra = match table.name {
            "schedule" => schedule_rules(),
            "destination" => destination_rules(),
            _ => Value::Null,
        };
        if let Value::Object(extra) = extra {
            o.extend(extra);
        }
    }
    schema
}

/// The `then` of connector `name`: `[connection]` and `[source]` closed to the engine's keys
/// and the connector's (`keys`), with the connector's requirements.
fn connector_then(name: &str, keys: &ConnectorKeys, registry: &Registry) -> Value {
    let mut streams: Vec<String> = registry
        .streams(name)
        .map(|s| s.into_iter().map(|s| s.name).collect())
        .unwrap_or_default();
    streams.push("*".into());
    let connectors = registry.names();
    let own = Context {
        references: true,
        connectors: &connectors,
    };
    // `[source]` values are never resolved from the environment
    let own_source = Context {
        references: false,
        ..own
    };
    let mut root_required = Vec::new();
    let mut root_all_of = Vec::new();
    let mut tables = Map::new();
    for side in [Side::Connection, Side::Source] {
        let (engine_keys, own_keys) = (engine_table(side.name()), keys.side(side));
        let own_cx = match side {
            Side::Connection => &own,
            Side::Source => &own_source,
        };
        // the engine's keys are typed by the table's own schema already: here they only need
        // to be named (the table is closed), with their text, and `streams` its stream names
        let mut props: Map<String, Value> = engine_keys
            .iter()
            .map(|k| {
                let mut schema = json!({"description": description(k, false)});
                if let (Kind::Streams, Some(o)) = (k.kind, schema.as_object_mut()) {
                    o.insert("items".into(), json!({"enum": streams}));
                }
                (k.name.to_string(), schema)
            })
            .collect();
        props.extend(properties(own_keys, own_cx));
        let req = required(own_keys);
        let about = ENGINE_TABLES
            .iter()
            .find(|t| t.name == side.name())
            .map_or("", |t| t.about);
        let mut table = json!({
            "type": "object",
            "description": format!(
                "{about} With connector = \"{name}\": the engine's keys and the connector's."
            ),
            "properties": props,
            "additionalProperties": false,
        });
        let Some(t) = table.as_object_mut() else {
            continue;
        };
        let mut all_of = Vec::new();
        for rule in keys.rules {
            match *rule {
                Rule::AnyOf { side: s, groups } if s == side => {
                    all_of.push(json!({"anyOf": any_of_required(groups)}));
                }
                Rule::Needs {
                    side: s,
                    keys: given,
                    needs_side,
                    needs,
                } if s == side && needs_side == side => {
                    all_of.push(json!({
                        "if": {"required": given},
                        "then": {"required": needs}
                    }));
                }
                Rule::Needs {
                    side: s,
                    keys: given,
                    needs_side,
                    needs,
                } if s == side => {
                    root_all_of.push(json!({
                        "if": {
                            "properties": {side.name(): {"required": given}},
                            "required": [side.name()]
                        },
                        "then": {
                            "properties": {needs_side.name(): {
                                "description": rule_line(rule).trim_start_matches("- ").trim_end(),
                                "required": needs
                            }},
                            "required": [needs_side.name()]
                        }
                    }));
                }
                _ => {}
            }
        }
        let needed = !req.is_empty() || !all_of.is_empty();
        if !req.is_empty() {
            t.insert("required".into(), json!(req));
        }
        if !all_of.is_empty() {
            t.insert("allOf".into(), Value::Array(all_of));
        }
        if needed && side == Side::Source {
            root_required.push(side.name());
        }
        tables.insert(side.name().to_string(), table);
    }
    let mut then = json!({"properties": tables});
    if let Some(o) = then.as_object_mut() {
        if !root_required.is_empty() {
            o.insert("required".into(), json!(root_required));
        }
        if !root_all_of.is_empty() {
            o.insert("allOf".into(), Value::Array(root_all_of));
        }
    }
    then
}

/// The JSON Schema (draft-07) of a flow file as [`crate::Flow::parse`] reads it, with each
/// connector of `registry` closing `[connection]` and `[source]` to the keys it registered
/// with itself (an `if` on `connection.connector`, then its keys). Point Taplo at it with a
/// `#:schema ./flow.schema.json` line at the top of a flow file.
pub fn flow_schema(registry: &Registry) -> Value {
    let connectors = registry.names();
    let cx = Context {
        references: false,
        connectors: &connectors,
    };
    let top = engine_table("");
    let mut props = properties(top, &cx);
    let mut root_required = required(top);
    for table in ENGINE_TABLES.iter().filter(|t| !t.name.is_empty()) {
        props.insert(table.name.to_string(), table_schema(table, &cx));
        if table.required {
            root_required.push(table.name);
        }
    }
    let all_of: Vec<Value> = connectors
        .iter()
        .filter_map(|name| registry.settings(name).ok().map(|keys| (name, keys)))
        .map(|(name, keys)| {
            json!({
                "if": {
                    "properties": {"connection": {
                        "properties": {"connector": {"const": name}},
                        "required": ["connector"]
                    }},
                    "required": ["connection"]
                },
                "then": connector_then(name, keys, registry)
            })
        })
        .collect();
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "sluice flow",
        "description": "A sluice flow file: one connection, its source, a mapping set and a \
                        destination. Unknown keys are errors. Credentials are only ever \
                        environment references, exactly \"${NAME}\". Reference: docs/flows.md.",
        "type": "object",
        "properties": props,
        "required": root_required,
        "additionalProperties": false,
        "allOf": all_of,
    })
}
