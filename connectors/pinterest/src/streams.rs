//! The streams, as data: each is an entity list, an analytics level, or a targeting breakdown of
//! a level. Paths, id keys and report levels per level are here; how to pull them is elsewhere.

use sluice_core::{FieldType, SchemaField, StreamSchema, StreamSpec, SyncMode};

use crate::columns::{self, Kind as ColumnKind};

/// The four levels of an ad account's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    AdAccount,
    Campaign,
    AdGroup,
    Ad,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::AdAccount, Level::Campaign, Level::AdGroup, Level::Ad];

    /// As stream names spell it.
    pub fn name(self) -> &'static str {
        match self {
            Level::AdAccount => "ad_account",
            Level::Campaign => "campaign",
            Level::AdGroup => "ad_group",
            Level::Ad => "ad",
        }
    }

    /// The key of a row's object in analytics.
    pub fn id_key(self) -> &'static str {
        match self {
            Level::AdAccount => "AD_ACCOUNT_ID",
            Level::Campaign => "CAMPAIGN_ID",
            Level::AdGroup => "AD_GROUP_ID",
            Level::Ad => "AD_ID",
        }
    }

    /// The query parameter (and report field) that names the objects.
    pub fn ids_param(self) -> Option<&'static str> {
        match self {
            Level::AdAccount => None,
            Level::Campaign => Some("campaign_ids"),
            Level::AdGroup => Some("ad_group_ids"),
            Level::Ad => Some("ad_ids"),
        }
    }

    /// The entity list below the ad account.
    pub fn list_path(self) -> Option<&'static str> {
        match self {
            Level::AdAccount => None,
            Level::Campaign => Some("campaigns"),
            Level::AdGroup => Some("ad_groups"),
            Level::Ad => Some("ads"),
        }
    }

    /// `ad_accounts/{account}/…/analytics` (or `targeting_analytics`).
    pub fn analytics_path(self, account: &str, targeting: bool) -> String {
        let leaf = if targeting {
            "targeting_analytics"
        } else {
            "analytics"
        };
        match self.list_path() {
            None => format!("ad_accounts/{account}/{leaf}"),
            Some(list) => format!("ad_accounts/{account}/{list}/{leaf}"),
        }
    }

    /// The async report's `level`.
    pub fn report_level(self, targeting: bool) -> &'static str {
        match (self, targeting) {
            (Level::AdAccount, false) => "ADVERTISER",
            (Level::AdAccount, true) => "ADVERTISER_TARGETING",
            (Level::Campaign, false) => "CAMPAIGN",
            (Level::Campaign, true) => "CAMPAIGN_TARGETING",
            (Level::AdGroup, false) => "AD_GROUP",
            (Level::AdGroup, true) => "AD_GROUP_TARGETING",
            (Level::Ad, false) => "PIN_PROMOTION",
            (Level::Ad, true) => "PIN_PROMOTION_TARGETING",
        }
    }

    /// Report rows of an ad's level may name it by its old name.
    pub fn report_id_keys(self) -> &'static [&'static str] {
        match self {
            Level::AdAccount => &["AD_ACCOUNT_ID", "ADVERTISER_ID"],
            Level::Campaign => &["CAMPAIGN_ID"],
            Level::AdGroup => &["AD_GROUP_ID"],
            Level::Ad => &["AD_ID", "PIN_PROMOTION_ID"],
        }
    }
}

/// What a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The objects of a level, listed (a snapshot each run).
    Entity(Level),
    /// Daily metrics per object of a level.
    Analytics(Level),
    /// Daily metrics per object and value of one targeting type (`AGE_BUCKET`, …).
    Targeting(Level, &'static str),
}

/// Every stream's name and kind, in the seed's order.
pub fn table() -> Vec<(String, Kind)> {
    let mut out = Vec::new();
    for level in Level::ALL {
        out.push((level.name().to_string(), Kind::Entity(level)));
        out.push((
            format!("{}_analytics", level.name()),
            Kind::Analytics(level),
        ));
        let types = columns::TARGETING_TYPES
            .iter()
            .find(|(l, _)| *l == level.name())
            .map(|(_, t)| *t)
            .unwrap_or_default();
        for t in types {
            out.push((
                format!("{}_targeting_analytics_{t}", level.name()),
                Kind::Targeting(level, t),
            ));
        }
    }
    out
}

pub fn kind_of(stream: &str) -> Option<Kind> {
    table()
        .into_iter()
        .find(|(n, _)| n == stream)
        .map(|(_, k)| k)
}

fn f(name: &str, ty: FieldType) -> SchemaField {
    SchemaField::new(name, ty)
}

/// The row of an analytics stream: `DATE`, the object's id, every column of the enum, and for a
/// targeting stream the targeting type and value.
fn analytics_schema(level: Level, targeting: bool) -> StreamSchema {
    let mut fields = vec![f("DATE", FieldType::String)];
    if targeting {
        fields.push(f("TARGETING_TYPE", FieldType::String));
        fields.push(f("TARGETING_VALUE", FieldType::String));
    }
    if columns::kind(level.id_key()).is_none() {
        fields.push(f(level.id_key(), FieldType::String));
    }
    for (name, kind) in columns::COLUMNS {
        let ty = match kind {
            ColumnKind::Count => FieldType::Integer,
            ColumnKind::Amount => FieldType::Number,
            ColumnKind::Text => FieldType::String,
        };
        fields.push(f(name, ty));
    }
    // Pinterest adds metric columns over time: the record stays open to them
    StreamSchema { fields, open: true }
}

/// An entity's fields as the list endpoints return them (more may come; these are kept).
fn entity_schema(level: Level) -> StreamSchema {
    use FieldType::*;
    let mut fields = vec![
        f("id", String),
        f("name", String),
        f("status", String),
        f("created_time", Timestamp),
        f("updated_time", Timestamp),
    ];
    let extra: &[(&str, FieldType)] = match level {
        Level::AdAccount => &[
            ("country", String),
            ("currency", String),
            ("owner", Json),
            (
                "permissions",
                Array {
                    items: Box::new(String),
                },
            ),
        ],
        Level::Campaign => &[
            ("ad_account_id", String),
            ("objective_type", String),
            ("daily_spend_cap", Integer),
            ("lifetime_spend_cap", Integer),
            ("start_time", Timestamp),
            ("end_time", Timestamp),
            ("summary_status", String),
            ("type", String),
        ],
        Level::AdGroup => &[
            ("ad_account_id", String),
            ("campaign_id", String),
            ("budget_in_micro_currency", Integer),
            ("bid_in_micro_currency", Integer),
            ("budget_type", String),
            ("billable_event", String),
            ("start_time", Timestamp),
            ("end_time", Timestamp),
            ("summary_status", String),
            ("type", String),
        ],
        Level::Ad => &[
            ("ad_account_id", String),
            ("campaign_id", String),
            ("ad_group_id", String),
            ("pin_id", String),
            ("creative_type", String),
            ("destination_url", String),
            ("review_status", String),
            ("summary_status", String),
            ("type", String),
        ],
    };
    fields.extend(extra.iter().map(|(n, t)| f(n, t.clone())));
    StreamSchema {
        fields,
        open: false,
    }
}

/// A stream's spec; `columns` are the analytics columns a flow without a mapping set writes.
pub fn spec(name: &str, kind: Kind, columns: &[String]) -> StreamSpec {
    match kind {
        Kind::Entity(level) => StreamSpec {
            name: name.to_string(),
            primary_key: vec!["id".into()],
            cursor_field: Some("updated_time".into()),
            schema: entity_schema(level),
            sync: SyncMode::Snapshot,
            supports_day_windows: false,
            max_window_days: None,
            day_partitioned: false,
            default_fields: None,
            aliases: Vec::new(),
        },
        Kind::Analytics(level) | Kind::Targeting(level, _) => {
            let targeting = matches!(kind, Kind::Targeting(..));
            let mut defaults = vec!["DATE".to_string()];
            if targeting {
                defaults.push("TARGETING_TYPE".into());
                defaults.push("TARGETING_VALUE".into());
            }
            defaults.push(level.id_key().to_string());
            defaults.extend(columns.iter().filter(|c| *c != level.id_key()).cloned());
            let mut key = vec![level.id_key().to_string(), "DATE".into()];
            if targeting {
                key.push("TARGETING_TYPE".into());
                key.push("TARGETING_VALUE".into());
            }
            StreamSpec {
                name: name.to_string(),
                primary_key: key,
                cursor_field: Some("DATE".into()),
                schema: analytics_schema(level, targeting),
                // conversions are credited to the day of the click for the click window: the
                // last 30 days change, and each run pulls them again
                sync: SyncMode::Days {
                    lookback_days: 30,
                    initial_days: 30,
                },
                supports_day_windows: true,
                max_window_days: None,
                day_partitioned: true,
                default_fields: Some(defaults),
                aliases: Vec::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_thirty_streams_of_this_issue_are_all_here() {
        let names: Vec<String> = table().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 30, "{names:?}");
        for wanted in [
            "ad_account",
            "ad_account_analytics",
            "campaign_targeting_analytics_creative_type",
            "ad_targeting_analytics_quiz_result",
            "ad_group_targeting_analytics_placement",
        ] {
            assert!(names.iter().any(|n| n == wanted), "{wanted}");
        }
        let targeting = table()
            .into_iter()
            .filter(|(_, k)| matches!(k, Kind::Targeting(..)))
            .count();
        assert_eq!(targeting, 22);
    }
}
