//! The schema and the reference of a registry of made-up connectors: what each part of the
//! builder does with a connector's keys. The real connectors' tables are tested in their
//! crates, and the repository's flows and `docs/flows.md` in the binary's
//! `tests/flow_schema.rs`.

use std::sync::Arc;

use serde_json::{json, Value};
use sluice_core::settings_doc::{choice_any_case, key, ConnectorKeys, Kind, Rule, Side};
use sluice_core::{
    Connector, ConnectorConfig, ConnectorError, Registry, StreamSchema, StreamSpec, SyncMode,
};

use super::*;

fn refuse(_: &ConnectorConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
    Err(ConnectorError::Config("a made-up connector".into()))
}

fn stream(name: &str, sync: SyncMode, rate_category: Option<&str>) -> StreamSpec {
    StreamSpec {
        name: name.into(),
        primary_key: Vec::new(),
        cursor_field: None,
        schema: StreamSchema::default(),
        sync,
        supports_day_windows: false,
        max_window_days: None,
        day_partitioned: false,
        default_fields: None,
        aliases: Vec::new(),
        rate_category: rate_category.map(str::to_string),
    }
}

fn alpha_streams() -> Vec<StreamSpec> {
    vec![
        stream(
            "daily",
            SyncMode::Days {
                lookback_days: 2,
                initial_days: 7,
            },
            Some("reports"),
        ),
        stream("things", SyncMode::Snapshot, None),
    ]
}

fn beta_streams() -> Vec<StreamSpec> {
    vec![stream("rows", SyncMode::Incremental, None)]
}

/// A token, or a user and password with a project; a required account.
const ALPHA: ConnectorKeys = ConnectorKeys {
    connection: &[
        key("token", Kind::Credential, "A token."),
        key("user", Kind::Text, "A user."),
        key("password", Kind::Credential, "The user's password."),
        key("region", choice_any_case(&["EU", "US"]), "Where.").default("`US`"),
    ],
    source: &[
        key("account", Kind::List, "The accounts.").required(),
        key("project", Kind::Count, "The user's project."),
    ],
    rules: &[
        Rule::AnyOf {
            side: Side::Connection,
            groups: &[&["token"], &["user", "password"]],
        },
        Rule::Needs {
            side: Side::Connection,
            keys: &["user"],
            needs_side: Side::Source,
            needs: &["project"],
        },
    ],
};

/// No keys of its own.
const BETA: ConnectorKeys = ConnectorKeys {
    connection: &[],
    source: &[],
    rules: &[],
};

fn registry() -> Registry {
    let mut r = Registry::default();
    r.register("alpha", "Alpha: made up", refuse, alpha_streams, &ALPHA);
    r.register("beta", "Beta: made up too", refuse, beta_streams, &BETA);
    r
}

fn all_descriptions(schema: &Value, at: &str, missing: &mut Vec<String>) {
    match schema {
        Value::Object(o) => {
            if let Some(Value::Object(props)) = o.get("properties") {
                for (k, sub) in props {
                    let path = format!("{at}.{k}");
                    // the `if` of a connector only names `connector`
                    let in_condition = at.contains(".if");
                    if !in_condition && sub.get("description").and_then(Value::as_str).is_none() {
                        missing.push(path.clone());
                    }
                    all_descriptions(sub, &path, missing);
                }
            }
            for (k, v) in o {
                if k != "properties" {
                    all_descriptions(v, &format!("{at}.{k}"), missing);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                all_descriptions(v, &format!("{at}[{i}]"), missing);
            }
        }
        _ => {}
    }
}

#[test]
fn the_schema_is_draft_07_with_a_description_on_every_key_and_a_block_per_connector() {
    let r = registry();
    let schema = flow_schema(&r);
    assert_eq!(
        schema["$schema"],
        Value::from("http://json-schema.org/draft-07/schema#")
    );
    assert_eq!(schema["$id"], Value::from(SCHEMA_ID));
    assert!(schema["title"].is_string() && schema["description"].is_string());
    let mut missing = Vec::new();
    all_descriptions(&schema, "", &mut missing);
    assert!(
        missing.is_empty(),
        "keys without a description: {missing:#?}"
    );
    assert_eq!(
        schema["properties"]["connection"]["properties"]["connector"]["enum"],
        json!(["alpha", "beta"])
    );

    let blocks = schema["allOf"].as_array().expect("allOf");
    let named: Vec<&str> = blocks
        .iter()
        .filter_map(|b| {
            b["if"]["properties"]["connection"]["properties"]["connector"]["const"].as_str()
        })
        .collect();
    assert_eq!(named, r.names(), "one if/then per connector");

    // the streams a connector block offers are the registry's, and `*`
    let alpha = &blocks[0]["then"];
    assert_eq!(
        alpha["properties"]["source"]["properties"]["streams"]["items"]["enum"],
        json!(["daily", "things", "*"])
    );
    // a credential is a reference, and the schema says so
    let token = &alpha["properties"]["connection"]["properties"]["token"];
    assert_eq!(token["pattern"], Value::from(ENV_REFERENCE_PATTERN));
    assert!(
        token["description"]
            .as_str()
            .is_some_and(|d| d.contains("${NAME}")),
        "{token}"
    );
    // a required key makes `[source]` required; a need across tables is the root's
    assert_eq!(alpha["required"], json!(["source"]));
    assert_eq!(
        alpha["properties"]["source"]["required"],
        json!(["account"])
    );
    assert_eq!(
        alpha["allOf"][0]["then"]["properties"]["source"]["required"],
        json!(["project"])
    );
    // a connector without keys of its own: the engine's only, and nothing required
    let beta = &blocks[1]["then"];
    let source = beta["properties"]["source"]["properties"]
        .as_object()
        .expect("source");
    assert_eq!(
        source.keys().map(String::as_str).collect::<Vec<_>>(),
        ["initial_days", "lookback_days", "streams"]
    );
    assert!(beta.get("required").is_none(), "{beta}");
}

#[test]
fn a_flow_is_held_to_its_connectors_keys() {
    let schema = flow_schema(&registry());
    let flow = "name = \"f\"\n[connection]\nconnector = \"alpha\"\ntoken = \"${T}\"\n\
                region = \"eu\"\n[source]\nstreams = [\"daily\"]\naccount = \"1,2\"\n\
                [destination]\nformat = \"jsonl\"\npath = \"out\"\n";
    assert_eq!(schema_errors(&schema, flow), Ok(Vec::new()));
    for (broken, says) in [
        (flow.replace("account", "acount"), "source.acount"),
        (
            flow.replace("[source]\n", "[source]\nuser = \"u\"\n"),
            "source.user",
        ),
        (
            flow.replace("token = \"${T}\"\n", ""),
            "none of the alternatives",
        ),
        (
            flow.replace("token = \"${T}\"\n", "user = \"u\"\npassword = \"${P}\"\n"),
            "`project` is required",
        ),
        (flow.replace("\"daily\"", "\"rows\""), "source.streams[0]"),
        (flow.replace("\"alpha\"", "\"beta\""), "connection.token"),
        (
            flow.replace("\"alpha\"", "\"gamma\""),
            "connection.connector",
        ),
    ] {
        let errors = schema_errors(&schema, &broken).expect("TOML");
        assert!(
            errors.iter().any(|e| e.contains(says)),
            "{says}: {errors:#?}"
        );
    }
    assert!(schema_errors(&schema, "name = ").is_err());
}

#[test]
fn the_reference_has_a_section_per_connector_with_its_keys_and_rules() {
    let text = flows_reference(&registry());
    for part in [
        "\n### `alpha`\n\nAlpha: made up.\n\n- Streams (2): `daily`, `things`.\n\
         - Rate categories of its streams: `reports`.\n\
         - Day streams' defaults: `lookback_days` 2, `initial_days` 7.\n\
         - More: [connectors/alpha.md](connectors/alpha.md).\n\n`[connection]`:\n\n",
        "| `token` | `\"${NAME}\"` only |  |  | A token. |\n",
        "| `region` | one of `EU`, `US` (any case), or `\"${NAME}\"` |  | `US` | Where. |\n",
        "| `account` | list | yes |  | The accounts. |\n",
        "\nRequired together:\n\n- `[connection]` needs `token`, or `user` + `password`.\n\
         - With `user` in `[connection]`, `[source]` also needs `project`.\n",
        "\n### `beta`\n\nBeta: made up too.\n\n- Streams (1): `rows`.\n",
    ] {
        assert!(text.contains(part), "{part}\n---\n{text}");
    }
    assert!(text.starts_with("# Flow file reference\n"));
    assert!(
        text.ends_with("| --- | --- | --- | --- | --- |\n"),
        "beta's empty tables last"
    );
}
