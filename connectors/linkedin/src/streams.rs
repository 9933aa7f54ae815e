//! The streams, as data: one analytics stream per pivot (`ad_analytics_<pivot>`) and the
//! entity lists that name what the pivot values point at.

use sluice_core::{FieldType, SchemaField, StreamSchema, StreamSpec, SyncMode};

/// A pivot of `adAnalytics`: what each row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pivot {
    pub name: &'static str,
    /// Professional-demographic data: kept 2 years, not 10.
    pub demographic: bool,
}

pub const PIVOTS: &[Pivot] = &[
    Pivot {
        name: "ACCOUNT",
        demographic: false,
    },
    Pivot {
        name: "CAMPAIGN_GROUP",
        demographic: false,
    },
    Pivot {
        name: "CAMPAIGN",
        demographic: false,
    },
    Pivot {
        name: "CREATIVE",
        demographic: false,
    },
    Pivot {
        name: "CONVERSION",
        demographic: false,
    },
    Pivot {
        name: "MEMBER_COMPANY",
        demographic: true,
    },
    Pivot {
        name: "MEMBER_COMPANY_SIZE",
        demographic: true,
    },
    Pivot {
        name: "MEMBER_INDUSTRY",
        demographic: true,
    },
    Pivot {
        name: "MEMBER_SENIORITY",
        demographic: true,
    },
    Pivot {
        name: "MEMBER_JOB_TITLE",
        demographic: true,
    },
    Pivot {
        name: "MEMBER_JOB_FUNCTION",
        demographic: true,
    },
    Pivot {
        name: "MEMBER_COUNTRY_V2",
        demographic: true,
    },
    Pivot {
        name: "MEMBER_REGION_V2",
        demographic: true,
    },
];

impl Pivot {
    pub fn stream(self) -> String {
        format!("ad_analytics_{}", self.name.to_ascii_lowercase())
    }

    /// The seed's `pivot`, as written (`CAMPAIGN GROUP` with a space too).
    pub fn parse(text: &str) -> Option<Pivot> {
        let wanted = text.trim().to_ascii_uppercase().replace([' ', '-'], "_");
        PIVOTS.iter().copied().find(|p| p.name == wanted)
    }
}

/// A metric's type: counts are numbers, money is text in the API (kept exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Count,
    Money,
}

/// The metrics a request may name (the API has more; a flow may name any with `fields`).
pub const METRICS: &[(&str, Metric)] = &[
    ("impressions", Metric::Count),
    ("clicks", Metric::Count),
    ("costInUsd", Metric::Money),
    ("costInLocalCurrency", Metric::Money),
    ("externalWebsiteConversions", Metric::Count),
    ("landingPageClicks", Metric::Count),
    ("likes", Metric::Count),
    ("comments", Metric::Count),
    ("shares", Metric::Count),
    ("follows", Metric::Count),
    ("totalEngagements", Metric::Count),
    ("approximateUniqueImpressions", Metric::Count),
    ("approximateMemberReach", Metric::Count),
    ("videoViews", Metric::Count),
    ("videoCompletions", Metric::Count),
    ("oneClickLeads", Metric::Count),
    ("conversionValueInLocalCurrency", Metric::Money),
    ("reactions", Metric::Count),
    ("sends", Metric::Count),
    ("opens", Metric::Count),
    ("actionClicks", Metric::Count),
    ("adUnitClicks", Metric::Count),
    ("companyPageClicks", Metric::Count),
    ("otherEngagements", Metric::Count),
    ("textUrlClicks", Metric::Count),
    ("cardClicks", Metric::Count),
    ("cardImpressions", Metric::Count),
    ("fullScreenPlays", Metric::Count),
    ("jobApplications", Metric::Count),
    ("registrations", Metric::Count),
];

pub fn metric(name: &str) -> Option<Metric> {
    METRICS.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
}

/// Seed 001's metrics: what a flow without `fields` or a mapping set asks for.
pub const DEFAULT_METRICS: &[&str] = &[
    "impressions",
    "clicks",
    "costInUsd",
    "costInLocalCurrency",
    "externalWebsiteConversions",
    "landingPageClicks",
    "likes",
    "comments",
    "shares",
    "follows",
    "totalEngagements",
    "approximateUniqueImpressions",
];

/// An entity list below an ad account.
#[derive(Debug)]
pub struct EntityStream {
    pub name: &'static str,
    /// Below `/rest/`, with `{account}`.
    pub path: &'static str,
    /// The path answers one object.
    pub single: bool,
    /// The finder's query (`q=search&search=…`), Rest.li-encoded.
    pub finder: &'static str,
    /// Sent as `X-RestLi-Method` (creatives' finder needs it).
    pub method_header: Option<&'static str>,
    pub page_size: u32,
    pub fields: &'static [(&'static str, FieldKind)],
}

#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    Int,
    Str,
    Bool,
    /// Epoch milliseconds.
    Millis,
    Json,
}

pub static ENTITIES: &[EntityStream] = &[
    EntityStream {
        name: "ad_account",
        path: "adAccounts/{account}",
        single: true,
        finder: "",
        method_header: None,
        page_size: 0,
        fields: &[
            ("id", FieldKind::Int),
            ("name", FieldKind::Str),
            ("currency", FieldKind::Str),
            ("status", FieldKind::Str),
            ("type", FieldKind::Str),
            ("reference", FieldKind::Str),
            ("test", FieldKind::Bool),
            ("servingStatuses", FieldKind::Json),
            ("version", FieldKind::Json),
        ],
    },
    EntityStream {
        name: "campaign_group",
        path: "adAccounts/{account}/adCampaignGroups",
        single: false,
        // every status: whether the default search leaves some out is not documented
        finder: "q=search&search=(status:(values:List(ACTIVE,PAUSED,ARCHIVED,CANCELED,DRAFT,PENDING_DELETION,REMOVED)))",
        method_header: None,
        page_size: 1000,
        fields: &[
            ("id", FieldKind::Int),
            ("account", FieldKind::Str),
            ("name", FieldKind::Str),
            ("status", FieldKind::Str),
            ("runSchedule", FieldKind::Json),
            ("totalBudget", FieldKind::Json),
            ("changeAuditStamps", FieldKind::Json),
        ],
    },
    EntityStream {
        name: "campaign",
        path: "adAccounts/{account}/adCampaigns",
        single: false,
        finder: "q=search&search=(status:(values:List(ACTIVE,PAUSED,ARCHIVED,COMPLETED,CANCELED,DRAFT,PENDING_DELETION,REMOVED)))",
        method_header: None,
        page_size: 1000,
        fields: &[
            ("id", FieldKind::Int),
            ("account", FieldKind::Str),
            ("campaignGroup", FieldKind::Str),
            ("name", FieldKind::Str),
            ("status", FieldKind::Str),
            ("type", FieldKind::Str),
            ("costType", FieldKind::Str),
            ("dailyBudget", FieldKind::Json),
            ("runSchedule", FieldKind::Json),
            ("changeAuditStamps", FieldKind::Json),
            ("version", FieldKind::Json),
        ],
    },
    EntityStream {
        name: "creative",
        path: "adAccounts/{account}/creatives",
        single: false,
        finder: "q=criteria",
        method_header: Some("FINDER"),
        page_size: 100,
        fields: &[
            ("id", FieldKind::Str),
            ("campaign", FieldKind::Str),
            ("account", FieldKind::Str),
            ("intendedStatus", FieldKind::Str),
            ("isServing", FieldKind::Bool),
            ("createdAt", FieldKind::Millis),
            ("lastModifiedAt", FieldKind::Millis),
            ("content", FieldKind::Json),
        ],
    },
];

/// The `q=statistics` stream: rows by up to three pivots together (the flow's `pivots`), with
/// one URN per pivot in `pivotValues`.
pub const STATISTICS_STREAM: &str = "ad_statistics";

/// Pivots one `q=statistics` request may name.
pub const MAX_STATISTICS_PIVOTS: usize = 3;

/// What a stream is.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Analytics(Pivot),
    /// By the flow's `pivots`.
    Statistics,
    Entity(&'static EntityStream),
}

pub fn table() -> Vec<(String, Kind)> {
    let mut out: Vec<(String, Kind)> = PIVOTS
        .iter()
        .map(|p| (p.stream(), Kind::Analytics(*p)))
        .collect();
    out.push((STATISTICS_STREAM.to_string(), Kind::Statistics));
    out.extend(
        ENTITIES
            .iter()
            .map(|e| (e.name.to_string(), Kind::Entity(e))),
    );
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

fn day() -> FieldType {
    FieldType::Object {
        fields: vec![
            f("year", FieldType::Integer),
            f("month", FieldType::Integer),
            f("day", FieldType::Integer),
        ],
    }
}

/// Seed 001's record: `{element: {dateRange, pivotValue, pivotValues, metrics…}}`.
fn analytics_schema(metrics: &[String]) -> StreamSchema {
    let mut fields = vec![
        f(
            "dateRange",
            FieldType::Object {
                fields: vec![f("start", day()), f("end", day())],
            },
        ),
        f("pivotValue", FieldType::String),
        f(
            "pivotValues",
            FieldType::Array {
                items: Box::new(FieldType::String),
            },
        ),
    ];
    for m in metrics {
        let ty = match metric(m) {
            Some(Metric::Count) => FieldType::Integer,
            // money is text in the API: kept exact; unknown metrics as text too
            _ => FieldType::String,
        };
        fields.push(f(m, ty));
    }
    StreamSchema {
        fields: vec![f("element", FieldType::Object { fields })],
        open: false,
    }
}

fn entity_schema(e: &EntityStream) -> StreamSchema {
    StreamSchema {
        fields: e
            .fields
            .iter()
            .map(|(n, k)| {
                f(
                    n,
                    match k {
                        FieldKind::Int | FieldKind::Millis => FieldType::Integer,
                        FieldKind::Str => FieldType::String,
                        FieldKind::Bool => FieldType::Boolean,
                        FieldKind::Json => FieldType::Json,
                    },
                )
            })
            .collect(),
        open: false,
    }
}

/// A stream's spec; `metrics` are those a flow without a mapping set writes.
pub fn spec(name: &str, kind: Kind, metrics: &[String], lookback_days: u32) -> StreamSpec {
    match kind {
        Kind::Analytics(_) | Kind::Statistics => StreamSpec {
            name: name.to_string(),
            primary_key: vec![
                "element.pivotValues".into(),
                "element.dateRange.start".into(),
            ],
            cursor_field: Some("element.dateRange.start".into()),
            schema: analytics_schema(metrics),
            // clicks and conversions are restated for days after the fact
            sync: SyncMode::Days {
                lookback_days,
                initial_days: 30,
            },
            supports_day_windows: true,
            max_window_days: None,
            day_partitioned: true,
            default_fields: None,
            aliases: Vec::new(),
            rate_category: Some(crate::config::ANALYTICS.to_string()),
        },
        Kind::Entity(e) => StreamSpec {
            name: name.to_string(),
            primary_key: vec!["id".into()],
            cursor_field: None,
            schema: entity_schema(e),
            sync: SyncMode::Snapshot,
            supports_day_windows: false,
            max_window_days: None,
            day_partitioned: false,
            default_fields: None,
            aliases: Vec::new(),
            rate_category: Some(crate::config::ENTITIES.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_pivot_names_its_stream() {
        assert_eq!(
            Pivot::parse("CAMPAIGN GROUP").map(Pivot::stream).as_deref(),
            Some("ad_analytics_campaign_group")
        );
        assert_eq!(
            Pivot::parse("creative").map(Pivot::stream).as_deref(),
            Some("ad_analytics_creative")
        );
        assert!(Pivot::parse("MEMBER_COUNTRY_V2").is_some_and(|p| p.demographic));
        assert!(Pivot::parse("DEVICE").is_none());
        assert_eq!(table().len(), 13 + 1 + 4);
        for m in DEFAULT_METRICS {
            assert!(metric(m).is_some(), "{m}");
        }
    }
}
