//! The streams, as data: each is an entity list, an analytics level, or a targeting breakdown of
//! a level. Paths, parents, rate categories, id keys and report levels are here; how to pull
//! them is elsewhere ([`crate::entities`], [`crate::analytics`]).

use sluice_core::{FieldType, SchemaField, StreamSchema, StreamSpec, SyncMode};

use crate::columns::{self, Kind as ColumnKind};
use crate::config::{ADS_READ, CATALOGS_READ, ORG_READ};

/// The objects analytics are pulled for: the four levels of an ad account's tree, the pins
/// its campaigns promote, and the product groups its ad groups promote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    AdAccount,
    Campaign,
    AdGroup,
    Ad,
    Pin,
    ProductGroup,
}

impl Level {
    /// As stream names spell it (`<name>_analytics`).
    pub fn name(self) -> &'static str {
        match self {
            Level::AdAccount => "ad_account",
            Level::Campaign => "campaign",
            Level::AdGroup => "ad_group",
            Level::Ad => "ad",
            Level::Pin => "pin",
            Level::ProductGroup => "product_group_promotion",
        }
    }

    /// The key of a row's object in analytics.
    pub fn id_key(self) -> &'static str {
        match self {
            Level::AdAccount => "AD_ACCOUNT_ID",
            Level::Campaign => "CAMPAIGN_ID",
            Level::AdGroup => "AD_GROUP_ID",
            Level::Ad => "AD_ID",
            Level::Pin => "PIN_ID",
            Level::ProductGroup => "PRODUCT_GROUP_ID",
        }
    }

    /// The query parameter (and report field) that names the objects.
    pub fn ids_param(self) -> Option<&'static str> {
        match self {
            Level::AdAccount => None,
            Level::Campaign => Some("campaign_ids"),
            Level::AdGroup => Some("ad_group_ids"),
            Level::Ad => Some("ad_ids"),
            Level::Pin => Some("pin_ids"),
            Level::ProductGroup => Some("product_group_ids"),
        }
    }

    /// Ids one synchronous request may name (pins: 100, per campaign).
    pub fn sync_ids(self) -> usize {
        match self {
            Level::Pin => 100,
            _ => 250,
        }
    }

    /// The entity stream whose list gives the level's ids.
    pub fn entity(self) -> Option<&'static str> {
        match self {
            Level::Campaign => Some("campaign"),
            Level::AdGroup => Some("ad_group"),
            Level::Ad => Some("ad"),
            _ => None,
        }
    }

    /// `ad_accounts/{account}/…/analytics` (or `targeting_analytics`).
    pub fn analytics_path(self, account: &str, targeting: bool) -> String {
        let leaf = if targeting {
            "targeting_analytics"
        } else {
            "analytics"
        };
        let below = match self {
            Level::AdAccount => return format!("ad_accounts/{account}/{leaf}"),
            Level::Campaign => "campaigns",
            Level::AdGroup => "ad_groups",
            Level::Ad => "ads",
            Level::Pin => "pins",
            Level::ProductGroup => "product_groups",
        };
        format!("ad_accounts/{account}/{below}/{leaf}")
    }

    /// The async report's `level`; pins have none (Pinterest keeps their analytics for 90
    /// days only).
    pub fn report_level(self, targeting: bool) -> Option<&'static str> {
        Some(match (self, targeting) {
            (Level::AdAccount, false) => "ADVERTISER",
            (Level::AdAccount, true) => "ADVERTISER_TARGETING",
            (Level::Campaign, false) => "CAMPAIGN",
            (Level::Campaign, true) => "CAMPAIGN_TARGETING",
            (Level::AdGroup, false) => "AD_GROUP",
            (Level::AdGroup, true) => "AD_GROUP_TARGETING",
            (Level::Ad, false) => "PIN_PROMOTION",
            (Level::Ad, true) => "PIN_PROMOTION_TARGETING",
            (Level::ProductGroup, false) => "PRODUCT_GROUP",
            (Level::ProductGroup, true) => "PRODUCT_GROUP_TARGETING",
            (Level::Pin, _) => return None,
        })
    }

    /// Report rows of an ad's level may name it by its old name.
    pub fn report_id_keys(self) -> &'static [&'static str] {
        match self {
            Level::AdAccount => &["AD_ACCOUNT_ID", "ADVERTISER_ID"],
            Level::Campaign => &["CAMPAIGN_ID"],
            Level::AdGroup => &["AD_GROUP_ID"],
            Level::Ad => &["AD_ID", "PIN_PROMOTION_ID"],
            Level::Pin => &["PIN_ID"],
            Level::ProductGroup => &["PRODUCT_GROUP_ID"],
        }
    }

    /// Columns a row carries beside the metrics, besides `DATE` and the id: a pin's campaign
    /// (the endpoint answers per campaign, and one pin may be promoted by several).
    pub fn scope_key(self) -> Option<&'static str> {
        match self {
            Level::Pin => Some("CAMPAIGN_ID"),
            _ => None,
        }
    }
}

/// A field's type in the stream table (`FieldType` cannot be built in a constant).
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Str,
    Int,
    Bool,
    /// Unix seconds or ISO-8601 text, written as a UTC timestamp.
    Time,
    /// An object whose shape varies (rules, filters): kept as JSON text.
    Json,
    Strs,
    Obj(&'static [(&'static str, Ty)]),
}

impl Ty {
    fn field_type(self) -> FieldType {
        match self {
            Ty::Str => FieldType::String,
            Ty::Int => FieldType::Integer,
            Ty::Bool => FieldType::Boolean,
            Ty::Time => FieldType::Timestamp,
            Ty::Json => FieldType::Json,
            Ty::Strs => FieldType::Array {
                items: Box::new(FieldType::String),
            },
            Ty::Obj(fields) => FieldType::Object {
                fields: fields.iter().map(|(n, t)| f(n, t.field_type())).collect(),
            },
        }
    }

    /// As the stream docs spell it.
    pub fn label(self) -> String {
        match self {
            Ty::Str => "text".into(),
            Ty::Int => "integer".into(),
            Ty::Bool => "boolean".into(),
            Ty::Time => "timestamp".into(),
            Ty::Json => "JSON text".into(),
            Ty::Strs => "list of text".into(),
            Ty::Obj(fields) => format!(
                "struct({})",
                fields
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// What a list is listed for, once per item: each gives a child row its parent's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// Listed once per ad account.
    None,
    /// Once per ad group (`ad_group_id`).
    AdGroup,
    /// Once per board (`board_id`).
    Board,
    /// Once per section of each board (`board_id`, `board_section_id`).
    BoardSection,
    /// Once per audience ownership the flow asks for (`ownership_type`).
    Ownership,
}

impl Parent {
    /// The parent is an object that may be deleted while its children are listed.
    pub fn is_object(self) -> bool {
        matches!(self, Parent::AdGroup | Parent::Board | Parent::BoardSection)
    }

    /// The columns a child row gets from its parent.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Parent::None => &[],
            Parent::AdGroup => &["ad_group_id"],
            Parent::Board => &["board_id"],
            Parent::BoardSection => &["board_id", "board_section_id"],
            Parent::Ownership => &["ownership_type"],
        }
    }
}

/// Whose objects a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The ad account's (`ad_accounts/{account}/…`).
    AdAccount,
    /// The ad account owner's (boards, pins, catalogs): listed with `ad_account_id`, and each
    /// row names the ad account it was listed through.
    AccountOwner,
}

/// An entity stream: a list (or one object) and the shape of its items.
#[derive(Debug)]
pub struct EntityStream {
    pub name: &'static str,
    /// Below `/v5`, with `{account}`, `{board}` and `{section}` filled in.
    pub path: &'static str,
    /// The path answers one object, not a page of items.
    pub single: bool,
    pub owner: Owner,
    pub parent: Parent,
    pub category: &'static str,
    /// Sends the flow's `entity_statuses` (the API's default leaves out archived objects).
    pub statuses: bool,
    /// The column of an item's last change, for `entities = "changed"`.
    pub cursor: Option<&'static str>,
    /// The account may lack the feature (409 `code` 4182, no catalog): an empty stream.
    pub needs_catalog: bool,
    /// Item fields never kept (a feed's `credentials`: its file server's password).
    pub dropped: &'static [&'static str],
    /// Sends the flow's `board_privacy`.
    pub board_privacy: bool,
    pub fields: &'static [(&'static str, Ty)],
}

impl EntityStream {
    /// The row's columns: the item's fields and the ids the connector adds (parent, account).
    pub fn columns(&self) -> Vec<(&'static str, Ty)> {
        let mut out: Vec<(&'static str, Ty)> = self.fields.to_vec();
        let mut add = |name: &'static str| {
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, Ty::Str));
            }
        };
        for c in self.parent.columns() {
            add(c);
        }
        if self.owner == Owner::AccountOwner {
            add("ad_account_id");
        }
        out
    }
}

use Ty::*;

const USER: Ty = Obj(&[("username", Str)]);

const PIN_FIELDS: &[(&str, Ty)] = &[
    ("id", Str),
    ("created_at", Time),
    ("link", Str),
    ("title", Str),
    ("description", Str),
    ("alt_text", Str),
    ("board_id", Str),
    ("board_section_id", Str),
    ("board_owner", USER),
    ("creative_type", Str),
    ("dominant_color", Str),
    ("is_owner", Bool),
    ("is_standard", Bool),
    ("has_been_promoted", Bool),
    ("note", Str),
    ("parent_pin_id", Str),
    ("media", Json),
];

const fn list(name: &'static str, path: &'static str) -> EntityStream {
    EntityStream {
        name,
        path,
        single: false,
        owner: Owner::AdAccount,
        parent: Parent::None,
        category: ADS_READ,
        statuses: false,
        cursor: None,
        needs_catalog: false,
        dropped: &[],
        board_privacy: false,
        fields: &[],
    }
}

const fn organic(name: &'static str, path: &'static str, parent: Parent) -> EntityStream {
    EntityStream {
        owner: Owner::AccountOwner,
        parent,
        category: ORG_READ,
        ..list(name, path)
    }
}

const fn catalog(name: &'static str, path: &'static str) -> EntityStream {
    EntityStream {
        owner: Owner::AccountOwner,
        category: CATALOGS_READ,
        needs_catalog: true,
        cursor: Some("updated_at"),
        ..list(name, path)
    }
}

/// Every entity stream (in the seed's order where it lists them).
pub static ENTITIES: &[EntityStream] = &[
    EntityStream {
        single: true,
        cursor: Some("updated_time"),
        fields: &[
            ("id", Str),
            ("name", Str),
            ("status", Str),
            ("created_time", Time),
            ("updated_time", Time),
            ("country", Str),
            ("currency", Str),
            ("owner", Json),
            ("permissions", Strs),
        ],
        ..list("ad_account", "ad_accounts/{account}")
    },
    EntityStream {
        statuses: true,
        cursor: Some("updated_time"),
        fields: &[
            ("id", Str),
            ("name", Str),
            ("status", Str),
            ("created_time", Time),
            ("updated_time", Time),
            ("ad_account_id", Str),
            ("objective_type", Str),
            ("daily_spend_cap", Int),
            ("lifetime_spend_cap", Int),
            ("start_time", Time),
            ("end_time", Time),
            ("summary_status", Str),
            ("type", Str),
        ],
        ..list("campaign", "ad_accounts/{account}/campaigns")
    },
    EntityStream {
        statuses: true,
        cursor: Some("updated_time"),
        fields: &[
            ("id", Str),
            ("name", Str),
            ("status", Str),
            ("created_time", Time),
            ("updated_time", Time),
            ("ad_account_id", Str),
            ("campaign_id", Str),
            ("budget_in_micro_currency", Int),
            ("bid_in_micro_currency", Int),
            ("budget_type", Str),
            ("billable_event", Str),
            ("start_time", Time),
            ("end_time", Time),
            ("summary_status", Str),
            ("type", Str),
        ],
        ..list("ad_group", "ad_accounts/{account}/ad_groups")
    },
    EntityStream {
        statuses: true,
        cursor: Some("updated_time"),
        fields: &[
            ("id", Str),
            ("name", Str),
            ("status", Str),
            ("created_time", Time),
            ("updated_time", Time),
            ("ad_account_id", Str),
            ("campaign_id", Str),
            ("ad_group_id", Str),
            ("pin_id", Str),
            ("creative_type", Str),
            ("destination_url", Str),
            ("review_status", Str),
            ("summary_status", Str),
            ("type", Str),
        ],
        ..list("ad", "ad_accounts/{account}/ads")
    },
    EntityStream {
        parent: Parent::Ownership,
        cursor: Some("updated_timestamp"),
        fields: &[
            ("id", Str),
            ("ad_account_id", Str),
            ("name", Str),
            ("audience_type", Str),
            ("description", Str),
            ("rule", Json),
            ("size", Int),
            ("status", Str),
            ("type", Str),
            ("created_timestamp", Time),
            ("updated_timestamp", Time),
        ],
        ..list("audience", "ad_accounts/{account}/audiences")
    },
    EntityStream {
        board_privacy: true,
        fields: &[
            ("id", Str),
            ("name", Str),
            ("description", Str),
            ("created_at", Time),
            ("board_pins_modified_at", Time),
            ("collaborator_count", Int),
            ("pin_count", Int),
            ("follower_count", Int),
            ("privacy", Str),
            ("owner", USER),
            (
                "media",
                Obj(&[("image_cover_url", Str), ("pin_thumbnail_urls", Strs)]),
            ),
        ],
        ..organic("board", "boards", Parent::None)
    },
    EntityStream {
        fields: &[("id", Str), ("name", Str)],
        ..organic("board_section", "boards/{board}/sections", Parent::Board)
    },
    EntityStream {
        fields: &[
            ("id", Str),
            ("name", Str),
            ("catalog_type", Str),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        ..catalog("catalog", "catalogs")
    },
    EntityStream {
        cursor: Some("updated_time"),
        fields: &[
            ("id", Str),
            ("ad_account_id", Str),
            ("name", Str),
            ("num_batches", Int),
            ("num_removed_user_records", Int),
            ("num_uploaded_user_records", Int),
            ("status", Str),
            ("type", Str),
            ("created_time", Time),
            ("updated_time", Time),
            ("exceptions", Json),
        ],
        ..list("customer_list", "ad_accounts/{account}/customer_lists")
    },
    EntityStream {
        dropped: &["credentials"],
        fields: &[
            ("id", Str),
            ("name", Str),
            ("catalog_id", Str),
            ("catalog_type", Str),
            ("format", Str),
            ("location", Str),
            ("status", Str),
            ("default_currency", Str),
            ("default_locale", Str),
            ("default_country", Str),
            ("default_availability", Str),
            ("preferred_processing_schedule", Json),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        ..catalog("feed", "catalogs/feeds")
    },
    EntityStream {
        parent: Parent::AdGroup,
        fields: &[
            ("id", Str),
            ("archived", Bool),
            ("parent_id", Str),
            ("parent_type", Str),
            ("type", Str),
            ("bid", Int),
            ("match_type", Str),
            ("value", Str),
        ],
        ..list("keyword", "ad_accounts/{account}/keywords")
    },
    EntityStream {
        fields: PIN_FIELDS,
        ..organic("pin", "pins", Parent::None)
    },
    EntityStream {
        fields: PIN_FIELDS,
        ..organic("pin_on_board", "boards/{board}/pins", Parent::Board)
    },
    EntityStream {
        fields: PIN_FIELDS,
        ..organic(
            "pin_on_board_section",
            "boards/{board}/sections/{section}/pins",
            Parent::BoardSection,
        )
    },
    EntityStream {
        fields: &[
            ("id", Str),
            ("name", Str),
            ("description", Str),
            ("filters", Json),
            ("catalog_id", Str),
            ("feed_id", Str),
            ("is_featured", Bool),
            ("type", Str),
            ("status", Str),
            ("country", Str),
            ("locale", Str),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        ..catalog("product_group", "catalogs/product_groups")
    },
    EntityStream {
        parent: Parent::AdGroup,
        statuses: true,
        fields: &[
            ("id", Str),
            ("ad_group_id", Str),
            ("catalog_product_group_id", Str),
            ("catalog_product_group_name", Str),
            ("bid_in_micro_currency", Int),
            ("included", Bool),
            ("definition", Str),
            ("relative_definition", Str),
            ("parent_id", Str),
            ("slideshow_collections_title", Str),
            ("slideshow_collections_description", Str),
            ("is_mdl", Bool),
            ("status", Str),
            ("tracking_url", Str),
            ("collections_hero_pin_id", Str),
            ("collections_hero_destination_url", Str),
            ("grid_click_type", Str),
            ("creative_type", Str),
        ],
        ..list(
            "product_group_promotion",
            "ad_accounts/{account}/product_group_promotions",
        )
    },
];

pub fn entity(name: &str) -> Option<&'static EntityStream> {
    ENTITIES.iter().find(|e| e.name == name)
}

/// What a stream is.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A list of objects (a snapshot each run, or the changed ones).
    Entity(&'static EntityStream),
    /// Daily metrics per object of a level.
    Analytics(Level),
    /// Daily metrics per object and value of one targeting type (`AGE_BUCKET`, …).
    Targeting(Level, &'static str),
}

impl Kind {
    pub fn is_analytics_of(self, level: Level) -> bool {
        matches!(self, Kind::Analytics(l) if l == level)
    }
}

/// Every stream's name and kind, in the seed's order: the ad account's tree with its
/// analytics, then the audience, organic and catalog streams.
pub fn table() -> Vec<(String, Kind)> {
    let mut out = Vec::new();
    // the seed's order: alphabetical
    for level in [Level::AdAccount, Level::AdGroup, Level::Ad, Level::Campaign] {
        if let Some(e) = entity(level.name()) {
            out.push((e.name.to_string(), Kind::Entity(e)));
        }
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
    for name in [
        "audience",
        "board",
        "board_section",
        "catalog",
        "customer_list",
        "feed",
        "keyword",
        "pin",
        "pin_analytics",
        "pin_on_board",
        "pin_on_board_section",
        "product_group",
        "product_group_promotion_analytics",
        "product_group_promotion",
    ] {
        let kind = match name {
            "pin_analytics" => Kind::Analytics(Level::Pin),
            "product_group_promotion_analytics" => Kind::Analytics(Level::ProductGroup),
            _ => match entity(name) {
                Some(e) => Kind::Entity(e),
                None => continue,
            },
        };
        out.push((name.to_string(), kind));
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
    for key in [Some(level.id_key()), level.scope_key()]
        .into_iter()
        .flatten()
    {
        if columns::kind(key).is_none() {
            fields.push(f(key, FieldType::String));
        }
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

fn entity_schema(e: &EntityStream) -> StreamSchema {
    StreamSchema {
        fields: e
            .columns()
            .into_iter()
            .map(|(n, t)| f(n, t.field_type()))
            .collect(),
        open: false,
    }
}

/// How an entity stream syncs: the whole list each run, or (`entities = "changed"`) the items
/// changed since the last run, where the items say when they changed.
pub fn entity_sync(e: &EntityStream, changed_only: bool) -> SyncMode {
    if changed_only && e.cursor.is_some() {
        SyncMode::Incremental
    } else {
        SyncMode::Snapshot
    }
}

/// A stream's spec; `columns` are the analytics columns a flow without a mapping set writes.
pub fn spec(name: &str, kind: Kind, columns: &[String], changed_only: bool) -> StreamSpec {
    match kind {
        Kind::Entity(e) => StreamSpec {
            name: name.to_string(),
            primary_key: vec!["id".into()],
            cursor_field: e.cursor.map(str::to_string),
            schema: entity_schema(e),
            sync: entity_sync(e, changed_only),
            supports_day_windows: false,
            max_window_days: None,
            day_partitioned: false,
            default_fields: None,
            aliases: Vec::new(),
            rate_category: Some(e.category.to_string()),
        },
        Kind::Analytics(level) | Kind::Targeting(level, _) => {
            let targeting = matches!(kind, Kind::Targeting(..));
            let mut key = vec![level.id_key().to_string()];
            key.extend(level.scope_key().map(str::to_string));
            key.push("DATE".into());
            if targeting {
                key.push("TARGETING_TYPE".into());
                key.push("TARGETING_VALUE".into());
            }
            let mut defaults = vec!["DATE".to_string()];
            if targeting {
                defaults.push("TARGETING_TYPE".into());
                defaults.push("TARGETING_VALUE".into());
            }
            defaults.push(level.id_key().to_string());
            defaults.extend(level.scope_key().map(str::to_string));
            for c in columns {
                if !defaults.contains(c) {
                    defaults.push(c.clone());
                }
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
                rate_category: Some(crate::config::ADS_ANALYTICS.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 004's "Data Streams", in its order.
    const SEED_004: [&str; 44] = [
        "ad_account",
        "ad_account_analytics",
        "ad_account_targeting_analytics_age_bucket",
        "ad_account_targeting_analytics_country",
        "ad_account_targeting_analytics_gender",
        "ad_account_targeting_analytics_keyword",
        "ad_account_targeting_analytics_placement",
        "ad_group",
        "ad_group_analytics",
        "ad_group_targeting_analytics_age_bucket",
        "ad_group_targeting_analytics_country",
        "ad_group_targeting_analytics_gender",
        "ad_group_targeting_analytics_keyword",
        "ad_group_targeting_analytics_placement",
        "ad",
        "ad_analytics",
        "ad_targeting_analytics_age_bucket",
        "ad_targeting_analytics_country",
        "ad_targeting_analytics_gender",
        "ad_targeting_analytics_keyword",
        "ad_targeting_analytics_placement",
        "ad_targeting_analytics_quiz_result",
        "campaign",
        "campaign_analytics",
        "campaign_targeting_analytics_age_bucket",
        "campaign_targeting_analytics_country",
        "campaign_targeting_analytics_creative_type",
        "campaign_targeting_analytics_gender",
        "campaign_targeting_analytics_keyword",
        "campaign_targeting_analytics_placement",
        "audience",
        "board",
        "board_section",
        "catalog",
        "customer_list",
        "feed",
        "keyword",
        "pin",
        "pin_analytics",
        "pin_on_board",
        "pin_on_board_section",
        "product_group",
        "product_group_promotion_analytics",
        "product_group_promotion",
    ];

    #[test]
    fn every_stream_of_seed_004_is_here_in_its_order() {
        let names: Vec<String> = table().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, SEED_004);
        let targeting = table()
            .into_iter()
            .filter(|(_, k)| matches!(k, Kind::Targeting(..)))
            .count();
        assert_eq!(targeting, 22);
    }

    #[test]
    fn child_rows_carry_their_parents_ids() {
        let section_pins = entity("pin_on_board_section").expect("stream");
        let cols: Vec<&str> = section_pins.columns().iter().map(|(n, _)| *n).collect();
        for c in ["board_id", "board_section_id", "ad_account_id"] {
            assert!(cols.contains(&c), "{c}: {cols:?}");
        }
        let keyword = entity("keyword").expect("stream");
        assert!(keyword.columns().iter().any(|(n, _)| *n == "ad_group_id"));
        // each column once, though the item may carry it too
        let mut seen = std::collections::HashSet::new();
        for e in ENTITIES {
            seen.clear();
            for (n, _) in e.columns() {
                assert!(seen.insert(n), "{}: {n} twice", e.name);
            }
        }
    }
}
