//! The `[connection]` and `[source]` keys of a LinkedIn flow, as the flow file's JSON Schema and
//! `docs/flows.md` describe them. The tests hold them to the settings parser ([`crate::config`]).

use sluice_core::settings_doc::{choice_any_case, key, Kind, Rule, Side};
use sluice_core::ConnectorKeys;

use crate::streams;

/// The `adAnalytics` pivots, as `pivot` and `pivots` take them: [`streams::PIVOTS`]' names.
const PIVOTS: &[&str] = &pivot_names();

const fn pivot_names() -> [&'static str; streams::PIVOTS.len()] {
    let mut names = [""; streams::PIVOTS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = streams::PIVOTS[i].name;
        i += 1;
    }
    names
}

/// The keys a LinkedIn flow takes beside the engine's, registered with the connector.
pub const SETTINGS: ConnectorKeys = ConnectorKeys {
    connection: &[
        key(
            "base_url",
            Kind::Text,
            "Scheme, host and port (a proxy, the sandbox); sluice appends `/rest/…`.",
        )
        .default("`https://api.linkedin.com`"),
        key(
            "access_token",
            Kind::Credential,
            "An access token: alone, used until it expires (60 days).",
        ),
        key(
            "refresh_token",
            Kind::Credential,
            "With `client_id` and `client_secret`: the access token is renewed as it expires. \
             It lasts 12 months from the authorization and does not renew.",
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
            .default("`https://www.linkedin.com/oauth/v2/accessToken`"),
        key(
            "linkedin_version",
            Kind::Text,
            "The `LinkedIn-Version` header, `YYYYMM`. A version lives 12 months; pin one for a \
             fixed response schema.",
        )
        .default("last month's"),
        key(
            "max_url_bytes",
            Kind::Count,
            "Longer request URLs go as a tunnelled POST (at least 256).",
        )
        .default("`4096`"),
        key(
            "elements_cap",
            Kind::Count,
            "The most elements an answer holds: an answer this long was cut by the server, and \
             is asked for again in parts.",
        )
        .default("`15000`"),
        key(
            "data_volume_wait_seconds",
            Kind::Count,
            "How long a data-volume 429 waits before asking again (its window is five \
             minutes).",
        )
        .default("`330`"),
    ],
    source: &[
        key(
            "accountIds",
            Kind::List,
            "Ad accounts (seed 001's param): numeric ids or `urn:li:sponsoredAccount:…` URNs. \
             Entity streams list these.",
        ),
        key(
            "campaignGroupIds",
            Kind::List,
            "Campaign groups: numeric ids or `urn:li:sponsoredCampaignGroup:…` URNs.",
        ),
        key(
            "campaignIds",
            Kind::List,
            "Campaigns: numeric ids or `urn:li:sponsoredCampaign:…` URNs. The most specific \
             non-empty list of the three filters the analytics.",
        ),
        key(
            "pivot",
            Kind::Choice {
                values: PIVOTS,
                any_case: true,
                loose: true,
                empty: true,
            },
            "The analytics stream a flow without `streams` pulls (`ad_analytics_<pivot>`); \
             `CAMPAIGN GROUP` as the seed writes it works too.",
        ),
        key(
            "pivots",
            Kind::ListOf {
                values: PIVOTS,
                any_case: true,
            },
            "One to three pivots together (`\"CAMPAIGN, MEMBER_COUNTRY_V2\"`): the \
             `ad_statistics` stream (`q=statistics`).",
        ),
        key(
            "fields",
            Kind::List,
            "Metrics (`impressions`, `clicks`, `costInUsd`, …).",
        )
        .default("those the mapping set reads, else seed 001's twelve"),
        key(
            "time_granularity",
            choice_any_case(&["DAILY", "MONTHLY", "ALL"]),
            "Rows per day, per month, or one for the whole range.",
        )
        .default("`DAILY`"),
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
        Rule::AnyOf {
            side: Side::Source,
            groups: &[&["accountIds"], &["campaignGroupIds"], &["campaignIds"]],
        },
    ],
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;
    use sluice_core::settings_doc::{check_connector, probe_secret as secret};
    use sluice_core::ConnectorConfig;

    use crate::NAME;

    /// What `config/flows/linkedin-ad-analytics.toml` gives the connector, resolved.
    fn base() -> ConnectorConfig {
        ConnectorConfig {
            flow: "linkedin-ad-analytics".into(),
            connection: ["refresh_token", "client_id", "client_secret"]
                .into_iter()
                .map(|k| (k.to_string(), secret()))
                .collect(),
            source: [
                ("accountIds", "507404993"),
                ("campaignGroupIds", ""),
                ("campaignIds", ""),
                ("pivot", "CAMPAIGN"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect(),
            ..Default::default()
        }
    }

    /// Values for the keys the rules set that do not take `"probe"`.
    const SAMPLES: &[(&str, &str)] = &[
        ("accountIds", "12345"),
        ("campaignGroupIds", "12345"),
        ("campaignIds", "12345"),
    ];

    #[test]
    fn the_settings_table_is_what_the_connector_accepts_and_its_rules_hold() {
        check_connector(crate::register, NAME, &base(), SAMPLES).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn the_pivots_are_the_analytics_streams() {
        let streams: BTreeSet<String> = crate::all_streams()
            .into_iter()
            .filter_map(|s| s.name.strip_prefix("ad_analytics_").map(str::to_uppercase))
            .collect();
        let pivots: BTreeSet<String> = super::PIVOTS.iter().map(|p| p.to_string()).collect();
        assert_eq!(streams, pivots);
    }
}
