//! The `[connection]` and `[source]` keys of a Mixpanel flow, as the flow file's JSON Schema and
//! `docs/flows.md` describe them. The tests hold them to the settings parser ([`crate::config`]).

use sluice_core::settings_doc::{choice, key, Kind, Rule, Side};
use sluice_core::ConnectorKeys;

/// The keys a Mixpanel flow takes beside the engine's, registered with the connector.
pub const SETTINGS: ConnectorKeys = ConnectorKeys {
    connection: &[
        key(
            "region",
            choice(&["us", "eu", "in"]),
            "The project's data residency, which picks the export host.",
        )
        .default("`us`"),
        key(
            "base_url",
            Kind::Text,
            "Instead of `region`: scheme, host and port only (a proxy, the sandbox); sluice \
             appends `/api/2.0/export`.",
        )
        .default("the region's host"),
        key(
            "username",
            Kind::Text,
            "A service account's name (with `secret`, and `[source] project_id`).",
        ),
        key("secret", Kind::Credential, "The service account's secret."),
        key(
            "api_secret",
            Kind::Credential,
            "A project's API secret, instead of a service account.",
        ),
    ],
    source: &[
        key(
            "project_id",
            Kind::Count,
            "The project; required with a service account.",
        ),
        key(
            "timezone",
            Kind::Text,
            "The project's IANA timezone: how Mixpanel reads the export's dates (UTC for \
             projects created since 2023, the project's own for older ones) and how days are \
             partitioned.",
        )
        .default("`UTC`"),
        key(
            "event",
            Kind::Strings,
            "Only these event names, such as `[\"Sign in\"]`.",
        )
        .default("every event"),
        key(
            "where",
            Kind::Text,
            "A segmentation expression, passed through as the export's `where`.",
        ),
        key(
            "page_records",
            Kind::Count,
            "Events per page handed to the mapper (1 to 1,000,000).",
        )
        .default("`5000`"),
    ],
    rules: &[
        Rule::AnyOf {
            side: Side::Connection,
            groups: &[&["username", "secret"], &["api_secret"]],
        },
        Rule::Needs {
            side: Side::Connection,
            keys: &["username", "secret"],
            needs_side: Side::Source,
            needs: &["project_id"],
        },
    ],
};

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use sluice_core::settings_doc::{check_connector, probe_secret as secret};
    use sluice_core::ConnectorConfig;

    use crate::NAME;

    /// What `config/flows/mixpanel-events-raw.toml` gives the connector, resolved.
    fn base() -> ConnectorConfig {
        ConnectorConfig {
            flow: "mixpanel-events-raw".into(),
            connection: [("api_secret".to_string(), secret())].into_iter().collect(),
            source: [("timezone".to_string(), Value::from("UTC"))]
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    /// Values for the keys the rules set that do not take `"probe"`.
    const SAMPLES: &[(&str, &str)] = &[("username", "service-account"), ("project_id", "12345")];

    #[test]
    fn the_settings_table_is_what_the_connector_accepts_and_its_rules_hold() {
        check_connector(crate::register, NAME, &base(), SAMPLES).unwrap_or_else(|e| panic!("{e}"));
    }
}
