//! A connector's `[connection]` and `[source]` tables, read into its typed settings.
//!
//! A typo must never silently do nothing: a misspelt `region` would pull from the wrong data
//! residency. So every key of both tables is checked against the settings structs' own fields
//! (and the engine's keys) before anything is read, and every bad key is reported at once, with
//! the closest known key, or the table it belongs in. Credentials must be `${ENV}` references,
//! also when `--sandbox` replaces them, so a flow that passes in the sandbox never fails in
//! production for it.

use std::collections::BTreeMap;

use serde::de::{self, DeserializeOwned, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::connector::{ConnectorConfig, ConnectorError, Param};
use crate::secret::Secret;
use crate::suggest::closest;

/// `[connection]` keys the engine reads for every connector.
pub const ENGINE_CONNECTION_KEYS: &[&str] = &[
    "connector",
    "quota",
    "max_page_bytes",
    "max_retries",
    "max_wait_seconds",
    "read_timeout_seconds",
    "connect_timeout_seconds",
    "request_timeout_seconds",
    "retry_budget_seconds",
];

/// `[source]` keys the engine reads for every connector.
pub const ENGINE_SOURCE_KEYS: &[&str] = &["streams", "lookback_days", "initial_days"];

/// Records the field list a struct's `Deserialize` asks for, and fails: the struct itself is
/// the one list of its keys.
struct FieldNames(Option<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(de::Error::custom("only the field names"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The keys a settings struct takes (its serde field names).
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut names = FieldNames(None);
    let _ = T::deserialize(&mut names);
    names.0.unwrap_or(&[])
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// A list written as a TOML array, a comma-separated string (the seeds' form) or a number,
/// for `#[serde(deserialize_with = …)]`; empty items are dropped.
pub fn text_list<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let item = |v: &Value| match v {
        Value::String(s) => Ok(s.trim().to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(de::Error::custom(format!(
            "must be text or a number, found {other}"
        ))),
    };
    let list = match Option::<Value>::deserialize(d)? {
        None => return Ok(None),
        Some(Value::Array(items)) => items.iter().map(item).collect::<Result<Vec<_>, _>>()?,
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
        Some(v @ Value::Number(_)) => vec![item(&v)?],
        Some(other) => {
            return Err(de::Error::custom(format!(
                "must be a list or a comma-separated string, found {other}"
            )))
        }
    };
    Ok(Some(list.into_iter().filter(|s| !s.is_empty()).collect()))
}

/// A whole number written as a TOML integer or as a string of digits (the seeds write their
/// ids as strings), for `#[serde(deserialize_with = …)]`.
pub fn number_or_digits<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("must be a whole number ≥ 0, found {n}"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("must be a whole number, found \"{s}\""))),
        Some(other) => Err(de::Error::custom(format!(
            "must be a whole number, found {other}"
        ))),
    }
}

/// What is wrong with one key, for the message that lists them all.
fn key_problem(table: &str, key: &str, known: &[&str], other_table: (&str, &[&str])) -> String {
    if let Some(near) = closest(key, known.iter().copied()) {
        return format!("[{table}] `{key}` is not a setting here: did you mean `{near}`?");
    }
    if other_table.1.contains(&key) {
        return format!("[{table}] `{key}` belongs in [{}]", other_table.0);
    }
    if let Some(near) = closest(key, other_table.1.iter().copied()) {
        return format!(
            "[{table}] `{key}` is not a setting here: did you mean `{near}` (in [{}])?",
            other_table.0
        );
    }
    format!(
        "[{table}] `{key}` is not a setting here; the keys are: {}",
        known.join(", ")
    )
}

fn read<T: DeserializeOwned>(
    table: &str,
    object: serde_json::Map<String, Value>,
) -> Result<T, String> {
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|e| {
        let path = e.path().to_string();
        format!("[{table}] `{path}`: {}", e.inner())
    })
}

impl ConnectorConfig {
    /// Read `[connection]` into `C` and `[source]` into `S`, after checking every key of both
    /// (unknown, misplaced) and that each of `credentials` is an environment reference. All
    /// problems come back in one error.
    pub fn settings<C: DeserializeOwned, S: DeserializeOwned>(
        &self,
        credentials: &[&str],
    ) -> Result<(C, S), ConnectorError> {
        let connection_keys: Vec<&str> = field_names::<C>()
            .iter()
            .chain(ENGINE_CONNECTION_KEYS)
            .copied()
            .collect();
        let source_keys: Vec<&str> = field_names::<S>()
            .iter()
            .chain(ENGINE_SOURCE_KEYS)
            .copied()
            .collect();
        let mut problems = Vec::new();
        for key in self.connection.keys() {
            if !connection_keys.contains(&key.as_str()) {
                problems.push(key_problem(
                    "connection",
                    key,
                    &connection_keys,
                    ("source", &source_keys),
                ));
            }
        }
        for key in self.source.keys() {
            if !source_keys.contains(&key.as_str()) {
                problems.push(key_problem(
                    "source",
                    key,
                    &source_keys,
                    ("connection", &connection_keys),
                ));
            }
        }
        for key in credentials {
            let literal = self.literal_keys.contains(*key)
                || matches!(self.connection.get(*key), Some(Param::Plain(_)));
            if literal {
                problems.push(format!(
                    "[connection] `{key}` is a credential: write it as an environment reference \
                     such as \"${{{}}}\", never literally",
                    key.to_uppercase()
                ));
            }
        }
        match problems.len() {
            0 => {}
            1 => return Err(ConnectorError::Config(problems.remove(0))),
            n => {
                return Err(ConnectorError::Config(format!(
                    "{n} problems in the flow's settings:\n  {}",
                    problems.join("\n  ")
                )))
            }
        }
        let connection: serde_json::Map<String, Value> = self
            .connection
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Param::Plain(v) => v.clone(),
                    Param::Secret(s) => Value::String(s.expose().to_string()),
                };
                (k.clone(), v)
            })
            .collect();
        let source: BTreeMap<String, Value> = self.source.clone();
        let c = read::<C>("connection", connection);
        let s = read::<S>("source", source.into_iter().collect());
        match (c, s) {
            (Ok(c), Ok(s)) => Ok((c, s)),
            (c, s) => Err(ConnectorError::Config(
                [c.err(), s.err()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("\n  "),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Connection {
        region: Option<String>,
        api_secret: Option<Secret>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Source {
        #[serde(default, deserialize_with = "number_or_digits")]
        page_size: Option<u64>,
        start: Option<String>,
    }

    fn config(connection: &[(&str, Param)], source: &[(&str, Value)]) -> ConnectorConfig {
        ConnectorConfig {
            flow: "f".into(),
            connection: connection
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            source: source
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_struct_is_the_list_of_its_keys() {
        assert_eq!(field_names::<Connection>(), ["region", "api_secret"]);
        assert_eq!(field_names::<Source>(), ["page_size", "start"]);
    }

    #[test]
    fn issue9_every_bad_key_is_reported_at_once_with_what_was_meant() {
        let c = config(
            &[
                ("regoin", Param::Plain(Value::from("eu"))),
                ("page_size", Param::Plain(Value::from(5))),
                ("api_secret", Param::Plain(Value::from("literal-secret"))),
            ],
            &[
                ("strat", Value::from("2024-01-01")),
                ("pagesize", Value::from(5)),
                ("zzz", Value::from(1)),
            ],
        );
        let err = c
            .settings::<Connection, Source>(&["api_secret"])
            .unwrap_err()
            .to_string();
        for says in [
            "[connection] `regoin` is not a setting here: did you mean `region`?",
            "[connection] `page_size` belongs in [source]",
            "[source] `strat` is not a setting here: did you mean `start`?",
            "[source] `pagesize` is not a setting here: did you mean `page_size`?",
            "[source] `zzz` is not a setting here; the keys are: page_size, start, streams, lookback_days, initial_days",
            "`api_secret` is a credential",
        ] {
            assert!(err.contains(says), "{says}\nin: {err}");
        }
        assert!(!err.contains("literal-secret"), "{err}");
    }

    #[test]
    fn values_are_typed_and_a_bad_one_is_named() {
        let c = config(
            &[("api_secret", Param::Secret(Secret::new("s3cret-value")))],
            &[("page_size", Value::from("250"))],
        );
        let (conn, src) = c
            .settings::<Connection, Source>(&["api_secret"])
            .expect("valid");
        assert_eq!(src.page_size, Some(250), "digits in a string are a number");
        assert_eq!(
            conn.api_secret.map(|s| s.expose().to_string()).as_deref(),
            Some("s3cret-value")
        );
        let bad = config(&[], &[("page_size", Value::from("many"))]);
        let err = bad
            .settings::<Connection, Source>(&[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[source] `page_size`") && err.contains("many"),
            "{err}"
        );
    }

    #[test]
    fn a_literal_credential_is_refused_even_when_the_sandbox_replaced_it() {
        let mut c = config(
            &[("api_secret", Param::Secret(Secret::new("sandbox")))],
            &[],
        );
        c.literal_keys.insert("api_secret".into());
        let err = c
            .settings::<Connection, Source>(&["api_secret"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a credential"), "{err}");
    }
}
