//! The words a connector describes its flow keys in: each key of its `[connection]` and
//! `[source]` tables, what its value may be, what an absent key means, and the requirements
//! that involve more than one key. A connector declares its [`ConnectorKeys`] beside its
//! settings and registers them with itself ([`crate::Registry::register`]); the engine renders
//! the flow file's JSON Schema and `docs/flows.md` from them.
//!
//! The tables are data, not derived from the parsers (a connector's settings structs are
//! private to its crate). So [`check_keys`] and [`check_rules`] hold a table to the real
//! parser instead, for a connector's tests: the keys its settings accept, the values a choice
//! accepts, the keys it cannot do without, and its alternatives and dependencies.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::connector::{ConnectorConfig, Param, Registry};
use crate::secret::Secret;
use crate::settings::{ENGINE_CONNECTION_KEYS, ENGINE_SOURCE_KEYS};

/// What a key's value may be, as its parser reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Text.
    Text,
    /// A path, relative to the flow file's directory.
    Path,
    /// A flow name: letters, digits, `-` and `_`.
    Name,
    /// A secret: only ever an exact `${NAME}` environment reference.
    Credential,
    /// Text, one of `values`. `any_case`: compared in upper case; `loose`: also trimmed, with
    /// spaces and `-` read as `_` (LinkedIn's `CAMPAIGN GROUP`); `empty`: `""` means unset.
    Choice {
        values: &'static [&'static str],
        any_case: bool,
        loose: bool,
        empty: bool,
    },
    /// `number_or_digits`: a whole number, or its digits as text (the seeds write ids so).
    Count,
    /// `number_or_digits` restricted to these values.
    CountIn(&'static [u64]),
    /// `text_list`: an array of text or numbers, comma-separated text, or one number.
    List,
    /// `text_list` whose items are each one of `values` (upper case when `any_case`).
    ListOf {
        values: &'static [&'static str],
        any_case: bool,
    },
    /// An array of text, and only that.
    Strings,
    /// A TOML integer (no text), from `min`, up to `max`.
    Int { min: u64, max: Option<u64> },
    /// A whole number or its digits as text, from `min`, up to `max`.
    WholeOrDigits { min: u64, max: Option<u64> },
    /// A number from `min` to `max`.
    Fraction,
    /// `parse_size`: bytes, or text with a unit (`"64 MiB"`, `"200MB"`).
    Size,
    /// `COUNT/SECONDS`, or a table of them by quota name.
    Quota,
    /// Stream names of the flow's connector, or `["*"]`.
    Streams,
    /// A connector of the registry.
    Connector,
    /// `[destination.options]`: text (or a reference), numbers and booleans by key.
    StoreOptions,
}

/// One key of a table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    /// Always required (keys required only together with others are [`Rule`]s).
    pub required: bool,
    /// What an absent key means, as the code does it (for the reference and the hover text).
    pub default: Option<&'static str>,
    pub meaning: &'static str,
}

/// A key that may be left out and has no default to show.
pub const fn key(name: &'static str, kind: Kind, meaning: &'static str) -> Key {
    Key {
        name,
        kind,
        required: false,
        default: None,
        meaning,
    }
}

impl Key {
    /// The key is always required.
    pub const fn required(self) -> Self {
        Key {
            required: true,
            ..self
        }
    }

    /// What an absent key means.
    pub const fn default(self, default: &'static str) -> Self {
        Key {
            default: Some(default),
            ..self
        }
    }
}

/// Text, one of `values`, as written.
pub const fn choice(values: &'static [&'static str]) -> Kind {
    Kind::Choice {
        values,
        any_case: false,
        loose: false,
        empty: false,
    }
}

/// Text, one of `values`, in any case.
pub const fn choice_any_case(values: &'static [&'static str]) -> Kind {
    Kind::Choice {
        values,
        any_case: true,
        loose: false,
        empty: false,
    }
}

/// `[connection]` or `[source]`: the two tables a connector's settings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Connection,
    Source,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Connection => "connection",
            Side::Source => "source",
        }
    }
}

/// A requirement of a connector that involves more than one key.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// At least one of these groups of keys is given whole (credentials: a token, or an app's
    /// refresh credentials).
    AnyOf {
        side: Side,
        groups: &'static [&'static [&'static str]],
    },
    /// Given every key of `keys`, every key of `needs` must be given too.
    Needs {
        side: Side,
        keys: &'static [&'static str],
        needs_side: Side,
        needs: &'static [&'static str],
    },
}

/// The `[connection]` and `[source]` keys of one connector, beside the engine's. The
/// connector's name is the one it registers them under.
#[derive(Debug, Clone, Copy)]
pub struct ConnectorKeys {
    pub connection: &'static [Key],
    pub source: &'static [Key],
    pub rules: &'static [Rule],
}

impl ConnectorKeys {
    /// The keys of `side`.
    pub fn side(&self, side: Side) -> &'static [Key] {
        match side {
            Side::Connection => self.connection,
            Side::Source => self.source,
        }
    }
}

/// The keys a connector's settings take, as its error for an unknown key lists them
/// (`crate::settings`: "the keys are: …", its struct's fields and the engine's).
fn accepted_keys(
    registry: &Registry,
    connector: &str,
    side: Side,
) -> Result<BTreeSet<String>, String> {
    // far from every real key, so the message lists them instead of suggesting one
    let probe = "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq";
    let mut config = ConnectorConfig {
        flow: "probe".into(),
        ..Default::default()
    };
    match side {
        Side::Connection => {
            config
                .connection
                .insert(probe.into(), Param::Plain(Value::from("x")));
        }
        Side::Source => {
            config.source.insert(probe.into(), Value::from("x"));
        }
    }
    let message = match registry.build(connector, &config) {
        Ok(_) => {
            return Err(format!(
                "{connector}: an unknown [{}] key was accepted",
                side.name()
            ))
        }
        Err(e) => e.to_string(),
    };
    let want = format!(
        "[{}] `{probe}` is not a setting here; the keys are: ",
        side.name()
    );
    let list = message
        .strip_prefix(&want)
        .ok_or_else(|| format!("{connector}: unexpected message: {message}"))?;
    Ok(list.split(", ").map(|k| k.trim().to_string()).collect())
}

fn names<'a>(keys: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    keys.into_iter().map(str::to_string).collect()
}

/// A stand-in secret for the probes: shaped to pass any format check (an email, a token).
pub fn probe_secret() -> Param {
    Param::Secret(Secret::new("probe@example.com"))
}

/// A connector's own test of its key table, in one call: [`check_keys`] and [`check_rules`]
/// on a registry holding just it (`register` is its `register` function).
pub fn check_connector(
    register: fn(&mut Registry),
    connector: &str,
    base: &ConnectorConfig,
    samples: &[(&str, &str)],
) -> Result<(), String> {
    let mut registry = Registry::default();
    register(&mut registry);
    check_keys(&registry, connector)?;
    check_rules(&registry, connector, base, samples)
}

/// Holds the key table `connector` registered to its settings: the keys it declares, with the
/// engine's, are exactly those its settings accept, and none of its own is an engine key.
pub fn check_keys(registry: &Registry, connector: &str) -> Result<(), String> {
    let keys = registry.settings(connector).map_err(|e| e.to_string())?;
    for (side, engine) in [
        (Side::Connection, ENGINE_CONNECTION_KEYS),
        (Side::Source, ENGINE_SOURCE_KEYS),
    ] {
        let own = names(keys.side(side).iter().map(|k| k.name));
        let engine = names(engine.iter().copied());
        // a connector key never shadows an engine key
        if !own.is_disjoint(&engine) {
            return Err(format!(
                "{connector} [{}]: engine keys declared as the connector's: {:?}",
                side.name(),
                own.intersection(&engine).collect::<Vec<_>>()
            ));
        }
        let declared: BTreeSet<String> = own.union(&engine).cloned().collect();
        let accepted = accepted_keys(registry, connector, side)?;
        if declared != accepted {
            return Err(format!(
                "{connector} [{}]: declared and accepted keys differ: declared only {:?}, \
                 accepted only {:?}",
                side.name(),
                declared.difference(&accepted).collect::<Vec<_>>(),
                accepted.difference(&declared).collect::<Vec<_>>()
            ));
        }
    }
    Ok(())
}

/// The key `name` of the table.
fn find(keys: &ConnectorKeys, connector: &str, side: Side, name: &str) -> Result<Key, String> {
    keys.side(side)
        .iter()
        .find(|k| k.name == name)
        .copied()
        .ok_or_else(|| format!("{connector}: no [{}] key {name}", side.name()))
}

/// Set `key` to a value it accepts (`samples`: text for the keys "probe" will not do).
fn set(config: &mut ConnectorConfig, side: Side, key: &Key, samples: &[(&str, &str)]) {
    let text = samples
        .iter()
        .find(|(k, _)| *k == key.name)
        .map_or("probe", |(_, v)| *v);
    match (side, key.kind) {
        // a credential is a secret, as `Flow::parse` makes one of a reference
        (Side::Connection, Kind::Credential) => {
            let secret = Param::Secret(Secret::new("probe-secret"));
            config.connection.insert(key.name.into(), secret);
        }
        (Side::Connection, _) => {
            let plain = Param::Plain(Value::from(text));
            config.connection.insert(key.name.into(), plain);
        }
        (Side::Source, _) => {
            config.source.insert(key.name.into(), Value::from(text));
        }
    }
}

fn remove(config: &mut ConnectorConfig, side: Side, name: &str) {
    match side {
        Side::Connection => {
            config.connection.remove(name);
        }
        Side::Source => {
            config.source.remove(name);
        }
    }
}

fn builds(registry: &Registry, connector: &str, config: &ConnectorConfig) -> Result<(), String> {
    registry
        .build(connector, config)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Holds the key table `connector` registered to its settings, from `base`, a configuration
/// it builds: every value a choice declares is accepted and another is not, a required key
/// cannot be left out, each group of an [`Rule::AnyOf`] does alone (and none is refused), and
/// a [`Rule::Needs`] holds both ways. `samples`: a value for the keys that do not take the
/// text `"probe"` (a URL, an id), by key.
pub fn check_rules(
    registry: &Registry,
    connector: &str,
    base: &ConnectorConfig,
    samples: &[(&str, &str)],
) -> Result<(), String> {
    let name = connector;
    let keys = registry.settings(name).map_err(|e| e.to_string())?;
    builds(registry, name, base).map_err(|e| format!("{name}: the base configuration: {e}"))?;

    for side in [Side::Connection, Side::Source] {
        for k in keys.side(side) {
            // every value a choice declares is accepted, and another one is not
            let values: Vec<Value> = match k.kind {
                Kind::Choice { values, empty, .. } => values
                    .iter()
                    .chain(empty.then_some(&""))
                    .map(|v| Value::from(*v))
                    .collect(),
                Kind::ListOf { values, .. } => values.iter().map(|v| Value::from(*v)).collect(),
                Kind::CountIn(values) => values.iter().map(|v| Value::from(*v)).collect(),
                _ => continue,
            };
            let with = |v: Value| {
                let mut c = base.clone();
                match side {
                    Side::Connection => {
                        c.connection.insert(k.name.into(), Param::Plain(v));
                    }
                    Side::Source => {
                        c.source.insert(k.name.into(), v);
                    }
                }
                c
            };
            for v in values {
                builds(registry, name, &with(v.clone()))
                    .map_err(|e| format!("{name} {} = {v}: {e}", k.name))?;
            }
            let bogus = match k.kind {
                Kind::CountIn(_) => Value::from(2),
                _ => Value::from("NOT_A_VALUE"),
            };
            let e = builds(registry, name, &with(bogus))
                .err()
                .unwrap_or_default();
            if !e.contains(k.name) {
                return Err(format!("{name} {}: a bogus value: {e:?}", k.name));
            }
        }
        // a required key cannot be left out
        for k in keys.side(side).iter().filter(|k| k.required) {
            let mut c = base.clone();
            remove(&mut c, side, k.name);
            if builds(registry, name, &c).is_ok() {
                return Err(format!("{name}: {} is required", k.name));
            }
        }
    }

    for rule in keys.rules {
        match *rule {
            Rule::AnyOf { side, groups } => {
                let mut without = base.clone();
                for g in groups {
                    for k in *g {
                        remove(&mut without, side, k);
                    }
                }
                if builds(registry, name, &without).is_ok() {
                    return Err(format!("{name}: none of {groups:?} was accepted"));
                }
                for g in groups {
                    let mut c = without.clone();
                    for k in *g {
                        set(&mut c, side, &find(keys, name, side, k)?, samples);
                    }
                    // with what the group's keys need themselves (a service account needs
                    // its project)
                    for needs in keys.rules {
                        if let Rule::Needs {
                            side: s,
                            keys: given,
                            needs_side,
                            needs,
                        } = *needs
                        {
                            if s == side && given.iter().all(|k| g.contains(k)) {
                                for n in needs {
                                    let key = find(keys, name, needs_side, n)?;
                                    set(&mut c, needs_side, &key, samples);
                                }
                            }
                        }
                    }
                    builds(registry, name, &c).map_err(|e| format!("{name}: {g:?} alone: {e}"))?;
                }
            }
            Rule::Needs {
                side,
                keys: given,
                needs_side,
                needs,
            } => {
                let mut c = base.clone();
                for k in given {
                    set(&mut c, side, &find(keys, name, side, k)?, samples);
                }
                for n in needs {
                    set(
                        &mut c,
                        needs_side,
                        &find(keys, name, needs_side, n)?,
                        samples,
                    );
                }
                builds(registry, name, &c)
                    .map_err(|e| format!("{name}: {given:?} with {needs:?}: {e}"))?;
                for n in needs {
                    let mut lacking = c.clone();
                    remove(&mut lacking, needs_side, n);
                    if builds(registry, name, &lacking).is_ok() {
                        return Err(format!("{name}: {given:?} without {n} was accepted"));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use serde::Deserialize;

    use super::*;
    use crate::connector::{
        Connector, ConnectorError, PullContext, QuotaInfo, RequestMetricsSnapshot, StreamSpec,
    };

    /// A connector's settings: a region, and an API secret or a user with a project.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Connection {
        region: Option<String>,
        api_secret: Option<Secret>,
        user: Option<String>,
        secret: Option<Secret>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Source {
        project: Option<String>,
    }

    struct Probe;

    #[async_trait]
    impl Connector for Probe {
        fn streams(&self) -> Vec<StreamSpec> {
            Vec::new()
        }
        async fn pull(&self, _: PullContext) -> Result<(), ConnectorError> {
            Ok(())
        }
        fn request_metrics(&self) -> RequestMetricsSnapshot {
            RequestMetricsSnapshot::default()
        }
        fn quotas(&self) -> Vec<QuotaInfo> {
            Vec::new()
        }
    }

    fn build(config: &ConnectorConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
        let (c, s): (Connection, Source) = config.settings(&["api_secret", "secret"])?;
        let fail = |m: &str| Err(ConnectorError::Config(m.into()));
        if let Some(region) = c.region {
            if !["us", "eu"].contains(&region.as_str()) {
                return fail("[connection] region must be us or eu");
            }
        }
        // a user, when given, wins over the API secret
        match (c.user, c.secret, c.api_secret) {
            (Some(_), Some(_), _) if s.project.is_none() => fail("a user needs a project"),
            (Some(_), Some(_), _) | (_, _, Some(_)) => Ok(Arc::new(Probe)),
            _ => fail("api_secret, or user and secret"),
        }
    }

    fn streams() -> Vec<StreamSpec> {
        Vec::new()
    }

    const CONNECTION: &[Key] = &[
        key("region", choice(&["us", "eu"]), "Where.").default("`us`"),
        key("api_secret", Kind::Credential, "A secret."),
        key("user", Kind::Text, "A user."),
        key("secret", Kind::Credential, "The user's secret."),
    ];

    const KEYS: ConnectorKeys = ConnectorKeys {
        connection: CONNECTION,
        source: &[key("project", Kind::Text, "The project.")],
        rules: &[
            Rule::AnyOf {
                side: Side::Connection,
                groups: &[&["api_secret"], &["user", "secret"]],
            },
            Rule::Needs {
                side: Side::Connection,
                keys: &["user", "secret"],
                needs_side: Side::Source,
                needs: &["project"],
            },
        ],
    };

    fn registry(keys: &'static ConnectorKeys) -> Registry {
        let mut r = Registry::default();
        r.register("probe", "A probe", build, streams, keys);
        r
    }

    fn base() -> ConnectorConfig {
        ConnectorConfig {
            flow: "probe".into(),
            connection: [(
                "api_secret".to_string(),
                Param::Secret(Secret::new("probe-secret")),
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_registry_carries_each_connectors_keys() {
        let r = registry(&KEYS);
        let keys = r.settings("probe").expect("registered");
        assert_eq!(keys.connection, CONNECTION);
        let e = r.settings("nope").expect_err("not registered");
        assert!(e.to_string().contains("unknown connector `nope`"), "{e}");
    }

    #[test]
    fn key_helpers_set_what_they_say() {
        let k = key("k", choice_any_case(&["A"]), "m")
            .required()
            .default("`A`");
        assert!(k.required);
        assert_eq!(k.default, Some("`A`"));
        assert_eq!(
            k.kind,
            Kind::Choice {
                values: &["A"],
                any_case: true,
                loose: false,
                empty: false
            }
        );
        assert_eq!(KEYS.side(Side::Source)[0].name, "project");
        assert_eq!(Side::Connection.name(), "connection");
    }

    #[test]
    fn check_keys_finds_a_key_declared_or_accepted_alone() {
        assert_eq!(check_keys(&registry(&KEYS), "probe"), Ok(()));

        const MISSING: ConnectorKeys = ConnectorKeys {
            connection: CONNECTION.split_at(3).0,
            ..KEYS
        };
        let e = check_keys(&registry(&MISSING), "probe").expect_err("secret is not declared");
        assert!(e.contains("accepted only [\"secret\"]"), "{e}");

        const EXTRA: ConnectorKeys = ConnectorKeys {
            source: &[
                key("project", Kind::Text, "The project."),
                key("page", Kind::Count, "Not read."),
            ],
            ..KEYS
        };
        let e = check_keys(&registry(&EXTRA), "probe").expect_err("page is not read");
        assert!(e.contains("declared only [\"page\"]"), "{e}");

        const SHADOW: ConnectorKeys = ConnectorKeys {
            source: &[
                key("project", Kind::Text, "The project."),
                key("streams", Kind::Streams, "An engine key."),
            ],
            ..KEYS
        };
        let e = check_keys(&registry(&SHADOW), "probe").expect_err("an engine key");
        assert!(e.contains("engine keys"), "{e}");
    }

    #[test]
    fn check_rules_holds_choices_alternatives_and_needs_to_the_parser() {
        assert_eq!(check_rules(&registry(&KEYS), "probe", &base(), &[]), Ok(()));

        // a choice value the parser refuses
        const WIDER: ConnectorKeys = ConnectorKeys {
            connection: &[
                key("region", choice(&["us", "eu", "in"]), "Where."),
                key("api_secret", Kind::Credential, "A secret."),
                key("user", Kind::Text, "A user."),
                key("secret", Kind::Credential, "The user's secret."),
            ],
            ..KEYS
        };
        let e = check_rules(&registry(&WIDER), "probe", &base(), &[]).expect_err("`in`");
        assert!(e.contains("region = \"in\""), "{e}");

        // a requirement the parser does not have
        const REQUIRED: ConnectorKeys = ConnectorKeys {
            source: &[key("project", Kind::Text, "The project.").required()],
            ..KEYS
        };
        let e = check_rules(&registry(&REQUIRED), "probe", &base(), &[]).expect_err("required");
        assert!(e.contains("project is required"), "{e}");

        // a need the table does not declare: the user's group alone does not build
        const NO_NEEDS: ConnectorKeys = ConnectorKeys {
            rules: KEYS.rules.split_at(1).0,
            ..KEYS
        };
        let e = check_rules(&registry(&NO_NEEDS), "probe", &base(), &[]).expect_err("needs");
        assert!(e.contains("alone"), "{e}");
    }
}
