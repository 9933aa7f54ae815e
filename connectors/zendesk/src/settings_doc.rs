//! The `[connection]` and `[source]` keys of a Zendesk flow, as the flow file's JSON Schema and
//! `docs/flows.md` describe them. The tests hold them to the settings parser ([`crate::config`]).

use sluice_core::settings_doc::{key, Kind, Rule, Side};
use sluice_core::ConnectorKeys;

/// The keys a Zendesk flow takes beside the engine's, registered with the connector.
pub const SETTINGS: ConnectorKeys = ConnectorKeys {
    connection: &[
        key(
            "subdomain",
            Kind::Text,
            "The account: `acme` for `https://acme.zendesk.com`.",
        ),
        key(
            "base_url",
            Kind::Text,
            "Instead of `subdomain`: scheme, host and port only (a proxy, the sandbox); sluice \
             appends `/api/v2/…`.",
        )
        .default("`https://<subdomain>.zendesk.com`"),
        key(
            "email",
            Kind::Text,
            "The agent an API token belongs to (with `api_token`).",
        ),
        key(
            "api_token",
            Kind::Credential,
            "An API token, with `email` (Basic auth `email/token:TOKEN`).",
        ),
        key(
            "access_token",
            Kind::Credential,
            "An OAuth access token (bearer), instead of `email` and `api_token`.",
        ),
    ],
    source: &[
        key(
            "page_size",
            Kind::Count,
            "Records per page, 1 to 1000. A page larger than `max_page_bytes` fails the run, \
             naming this key.",
        )
        .default("`1000`"),
        key(
            "overlap_seconds",
            Kind::Count,
            "How far before the mark each run re-reads: the search index lags behind writes. \
             Records re-read unchanged are skipped.",
        )
        .default("`300`"),
        key(
            "start",
            Kind::Text,
            "Where a first run starts: users updated since this date (`2024-01-01`) or RFC \
             3339 time.",
        )
        .default("every user"),
    ],
    rules: &[
        Rule::AnyOf {
            side: Side::Connection,
            groups: &[&["subdomain"], &["base_url"]],
        },
        Rule::AnyOf {
            side: Side::Connection,
            groups: &[&["email", "api_token"], &["access_token"]],
        },
    ],
};

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use sluice_core::settings_doc::{check_connector, probe_secret as secret};
    use sluice_core::{ConnectorConfig, Param};

    use crate::NAME;

    /// What `config/flows/zendesk-users.toml` gives the connector, resolved.
    fn base() -> ConnectorConfig {
        ConnectorConfig {
            flow: "zendesk-users".into(),
            connection: [
                ("subdomain", Param::Plain(Value::from("acme"))),
                ("email", secret()),
                ("api_token", secret()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            source: [
                ("page_size", Value::from(1000)),
                ("overlap_seconds", Value::from(300)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            ..Default::default()
        }
    }

    /// Values for the keys the rules set that do not take `"probe"`.
    const SAMPLES: &[(&str, &str)] = &[
        ("base_url", "http://127.0.0.1:9"),
        ("subdomain", "acme"),
        ("email", "agent@acme.com"),
    ];

    #[test]
    fn the_settings_table_is_what_the_connector_accepts_and_its_rules_hold() {
        check_connector(crate::register, NAME, &base(), SAMPLES).unwrap_or_else(|e| panic!("{e}"));
    }
}
