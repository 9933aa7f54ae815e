//! The `[connection]` and `[source]` keys of a Pinterest flow, as the flow file's JSON Schema and
//! `docs/flows.md` describe them. The tests hold them to the settings parser ([`crate::config`]).

use sluice_core::settings_doc::{choice, choice_any_case, key, Kind, Rule, Side};
use sluice_core::ConnectorKeys;

/// The keys a Pinterest flow takes beside the engine's, registered with the connector.
pub const SETTINGS: ConnectorKeys = ConnectorKeys {
    connection: &[
        key(
            "base_url",
            Kind::Text,
            "Scheme, host and port (a proxy, the sandbox); sluice appends `/v5/…`.",
        )
        .default("`https://api.pinterest.com`"),
        key(
            "access_token",
            Kind::Credential,
            "An access token: alone, used until it expires; with the refresh credentials, the \
             first one used.",
        ),
        key(
            "refresh_token",
            Kind::Credential,
            "With `client_id` and `client_secret`: the access token is renewed as it expires. \
             Pinterest rotates it; the latest is kept in the state database, so flows of one \
             authorization share one `[state] path`.",
        ),
        key(
            "client_id",
            Kind::Credential,
            "The app's id (with `refresh_token`).",
        ),
        key(
            "client_secret",
            Kind::Credential,
            "The app's secret (with `refresh_token`).",
        ),
        key("token_url", Kind::Text, "Where tokens are refreshed.")
            .default("`{base_url}/v5/oauth/token`"),
    ],
    source: &[
        key(
            "ad_account_id",
            Kind::List,
            "The ad account (seed 000's param), or several: each is a slice of every stream. \
             Digits only.",
        )
        .required(),
        key(
            "object_type",
            Kind::Choice {
                values: &["campaigns", "ad_groups", "ads"],
                any_case: false,
                loose: false,
                empty: true,
            },
            "The analytics stream a flow without `streams` pulls (seed 000's param).",
        ),
        key(
            "object_ids",
            Kind::List,
            "Ids of `object_type` to pull analytics of (needs `object_type`).",
        )
        .default("every object of the account"),
        key(
            "columns",
            Kind::List,
            "Analytics columns, of the API's enum (`DATE` is not one: every row has it).",
        )
        .default("those the mapping set reads; without one, the default list"),
        key(
            "granularity",
            choice_any_case(&["DAY", "HOUR"]),
            "Rows per day, or per hour (8 days back, 3 days a request, synchronous only).",
        )
        .default("`DAY`"),
        key(
            "click_window_days",
            Kind::CountIn(&[0, 1, 7, 14, 30, 60]),
            "Attribution window after a click, sent with every request.",
        )
        .default("`30`"),
        key(
            "engagement_window_days",
            Kind::CountIn(&[0, 1, 7, 14, 30, 60]),
            "Attribution window after an engagement.",
        )
        .default("`30`"),
        key(
            "view_window_days",
            Kind::CountIn(&[0, 1, 7, 14, 30, 60]),
            "Attribution window after a view.",
        )
        .default("`1`"),
        key(
            "conversion_report_time",
            choice(&["TIME_OF_AD_ACTION", "TIME_OF_CONVERSION"]),
            "Which day a conversion counts on.",
        )
        .default("`TIME_OF_AD_ACTION`"),
        key(
            "entity_statuses",
            Kind::ListOf {
                values: &["ACTIVE", "PAUSED", "ARCHIVED", "DRAFT", "DELETED_DRAFT"],
                any_case: false,
            },
            "Statuses of the objects listed (the API's own default leaves archived ones out).",
        )
        .default("`ACTIVE`, `PAUSED`, `ARCHIVED`"),
        key("page_size", Kind::Count, "Entity items per page, 1 to 250.").default("`250`"),
        key(
            "entities",
            choice(&["snapshot", "changed"]),
            "Entity streams: every item each run, or only the items changed since the last run \
             (by the item's own change time, where it has one).",
        )
        .default("`snapshot`"),
        key(
            "ownership_type",
            Kind::ListOf {
                values: &["OWNED", "RECEIVED"],
                any_case: false,
            },
            "Audiences listed: owned, shared with the account, or both.",
        )
        .default("`OWNED`, `RECEIVED`"),
        key(
            "board_privacy",
            choice(&["ALL", "PUBLIC", "PROTECTED", "SECRET", "PUBLIC_AND_SECRET"]),
            "Boards listed, by privacy.",
        )
        .default("`ALL`"),
    ],
    rules: &[
        Rule::AnyOf {
            side: Side::Connection,
            groups: &[
                &["refresh_token", "client_id", "client_secret"],
                &["access_token"],
            ],
        },
        Rule::Needs {
            side: Side::Connection,
            keys: &["refresh_token"],
            needs_side: Side::Connection,
            needs: &["client_id", "client_secret"],
        },
    ],
};

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use sluice_core::settings_doc::{check_connector, probe_secret as secret};
    use sluice_core::ConnectorConfig;

    use crate::NAME;

    /// What `config/flows/pinterest-account-analytics.toml` gives the connector, resolved.
    fn base() -> ConnectorConfig {
        ConnectorConfig {
            flow: "pinterest-account-analytics".into(),
            connection: ["refresh_token", "client_id", "client_secret"]
                .into_iter()
                .map(|k| (k.to_string(), secret()))
                .collect(),
            source: [("ad_account_id".to_string(), Value::from("549755885175"))]
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    /// Its rules only set credentials.
    const SAMPLES: &[(&str, &str)] = &[];

    #[test]
    fn the_settings_table_is_what_the_connector_accepts_and_its_rules_hold() {
        check_connector(crate::register, NAME, &base(), SAMPLES).unwrap_or_else(|e| panic!("{e}"));
    }
}
