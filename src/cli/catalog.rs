//! `sluice connectors` and `sluice streams`: what sluice can pull, read from the connectors'
//! own stream tables, so a newcomer needs no flow file, no credentials and no network.

use serde_json::{json, Value};
use sluice_core::{FieldType, Registry, SchemaField, StreamSpec, SyncMode};

use super::commands::registry;
use super::output::{print_json, print_line};
use super::{EXIT_INVALID, EXIT_OK};

/// The sync mode, as a user reads it.
fn sync_text(sync: SyncMode) -> String {
    match sync {
        SyncMode::Incremental => "incremental".into(),
        SyncMode::Days {
            lookback_days,
            initial_days,
        } => format!(
            "daily restated: each run pulls the last {lookback_days} day{} again; a first run pulls {initial_days}",
            plural(lookback_days as usize)
        ),
        SyncMode::Snapshot => "snapshot".into(),
    }
}

fn sync_json(sync: SyncMode) -> Value {
    match sync {
        SyncMode::Incremental => json!({"mode": "incremental"}),
        SyncMode::Days {
            lookback_days,
            initial_days,
        } => json!({"mode": "days", "lookback_days": lookback_days, "initial_days": initial_days}),
        SyncMode::Snapshot => json!({"mode": "snapshot"}),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn partitioning(spec: &StreamSpec) -> &'static str {
    if spec.day_partitioned {
        "by the record's day (date=YYYY-MM-DD)"
    } else {
        "by extraction date"
    }
}

/// `integer`, `array<string>`, `object{year: integer, …}`.
fn type_text(ty: &FieldType) -> String {
    let fields = |fs: &[SchemaField], open: bool| {
        let mut parts: Vec<String> = fs
            .iter()
            .map(|f| format!("{}: {}", f.name, type_text(&f.ty)))
            .collect();
        if open {
            parts.push("…".into());
        }
        format!("object{{{}}}", parts.join(", "))
    };
    match ty {
        FieldType::Integer => "integer".into(),
        FieldType::Number => "number".into(),
        FieldType::String => "string".into(),
        FieldType::Boolean => "boolean".into(),
        FieldType::Timestamp => "timestamp".into(),
        FieldType::Json => "json".into(),
        FieldType::Array { items } => format!("array<{}>", type_text(items)),
        FieldType::Object { fields: fs } => fields(fs, false),
        FieldType::Open { fields: fs } => fields(fs, true),
    }
}

/// Every leaf as `a.b.c: type`, nested objects walked; `a.*` where an object takes any other
/// field too.
fn leaves(prefix: &str, fields: &[SchemaField], open: bool, out: &mut Vec<String>) {
    for f in fields {
        let path = format!("{prefix}{}", f.name);
        match &f.ty {
            FieldType::Object { fields } => leaves(&format!("{path}."), fields, false, out),
            FieldType::Open { fields } => leaves(&format!("{path}."), fields, true, out),
            ty => out.push(format!("{path}: {}", type_text(ty))),
        }
    }
    if open {
        out.push(format!("{prefix}*: any other field the API sends"));
    }
}

fn stream_json(spec: &StreamSpec) -> Value {
    json!({
        "stream": spec.name,
        "primary_key": spec.primary_key,
        "cursor_field": spec.cursor_field,
        "sync": sync_json(spec.sync),
        "backfill_by_day": spec.supports_day_windows,
        "partitioning": if spec.day_partitioned { "record_day" } else { "extraction_date" },
        "rate_category": spec.rate_category,
        "columns": spec.schema.fields,
        "open": spec.schema.open,
    })
}

fn unknown_connector(r: &Registry, name: &str) -> u8 {
    super::print_error(&format!(
        "unknown connector `{name}`; sluice has {} (see `sluice connectors`)",
        r.names().join(", ")
    ));
    EXIT_INVALID
}

pub fn connectors(json_out: bool) -> u8 {
    let r = registry();
    let mut rows = Vec::new();
    for name in r.names() {
        let about = r.about(name).unwrap_or_default();
        let streams = r.streams(name).map(|s| s.len()).unwrap_or(0);
        rows.push((name, about, streams));
    }
    if json_out {
        let v: Vec<Value> = rows
            .iter()
            .map(|(name, about, streams)| {
                json!({
                    "connector": name,
                    "about": about,
                    "streams": streams,
                    "docs": format!("docs/connectors/{name}.md"),
                })
            })
            .collect();
        return print_json(&Value::Array(v));
    }
    let width = rows.iter().map(|(n, ..)| n.len()).max().unwrap_or(0);
    for (name, about, streams) in &rows {
        if !print_line(&format!(
            "{name:width$}  {streams:>3} stream{}  {about}",
            plural(*streams)
        )) {
            return EXIT_OK;
        }
    }
    print_line("\nsluice streams CONNECTOR lists one's streams; sluice init CONNECTOR writes a starter flow.");
    EXIT_OK
}

pub fn streams(connector: &str, stream: Option<&str>, json_out: bool) -> u8 {
    let r = registry();
    let Ok(mut specs) = r.streams(connector) else {
        return unknown_connector(&r, connector);
    };
    if let Some(wanted) = stream {
        specs.retain(|s| s.name == wanted);
        if specs.is_empty() {
            super::print_error(&format!(
                "connector `{connector}` has no stream `{wanted}`; `sluice streams {connector}` lists them"
            ));
            return EXIT_INVALID;
        }
    }
    if json_out {
        return print_json(&Value::Array(specs.iter().map(stream_json).collect()));
    }
    for spec in &specs {
        let mut lines = vec![
            spec.name.clone(),
            format!("  key:          {}", spec.primary_key.join(", ")),
            format!("  sync:         {}", sync_text(spec.sync)),
            format!(
                "  backfill:     {}",
                if spec.supports_day_windows {
                    "by day ranges (sluice backfill --from --to)"
                } else {
                    "no (each run takes the whole list)"
                }
            ),
            format!("  partitioned:  {}", partitioning(spec)),
        ];
        if let Some(c) = &spec.rate_category {
            lines.push(format!("  rate:         {c}"));
        }
        if let Some(c) = &spec.cursor_field {
            lines.push(format!("  cursor:       {c}"));
        }
        let mut columns = Vec::new();
        leaves("", &spec.schema.fields, spec.schema.open, &mut columns);
        lines.push(format!("  fields ({}):", columns.len()));
        lines.extend(columns.into_iter().map(|c| format!("    {c}")));
        lines.push(String::new());
        for l in lines {
            if !print_line(&l) {
                return EXIT_OK;
            }
        }
    }
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_types_read_in_one_line() {
        let ty = FieldType::Object {
            fields: vec![
                SchemaField::new("year", FieldType::Integer),
                SchemaField::new(
                    "tags",
                    FieldType::Array {
                        items: Box::new(FieldType::String),
                    },
                ),
            ],
        };
        assert_eq!(type_text(&ty), "object{year: integer, tags: array<string>}");
        let mut out = Vec::new();
        leaves("", &[SchemaField::new("d", ty)], true, &mut out);
        assert_eq!(
            out,
            [
                "d.year: integer",
                "d.tags: array<string>",
                "*: any other field the API sends"
            ]
        );
        assert!(sync_text(SyncMode::Days {
            lookback_days: 1,
            initial_days: 30
        })
        .contains("last 1 day again"));
    }
}
