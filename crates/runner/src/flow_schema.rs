//! The flow file's JSON Schema (draft-07, for Taplo and VS Code: completion, hover text and
//! validation while a flow is edited) and `docs/flows.md`, both rendered from one set of key
//! tables, so the editor and the reference say the same thing.
//!
//! The tables are data written here, not derived from the parsers: `flow.rs` reads its tables by
//! hand, and each connector's settings structs are private to its crate. So the tests hold the
//! tables to the real parsers instead: the keys each connector's settings accept (read from
//! the error an unknown key gets), the keys `Flow::parse` takes out before a connector sees
//! them, the values a choice accepts, the keys a connector cannot do without, and every flow
//! in `config/flows/` against the schema. A key added to a parser and not here fails a test.

use serde_json::{json, Map, Value};
use sluice_core::{Registry, SyncMode};

/// Where the schema says it lives (`$id`).
pub const SCHEMA_ID: &str = "https://sluice.dev/schemas/flow.json";

/// An environment reference, as credentials must be written. `Flow::parse` also accepts a
/// name that starts with a digit; no shell can export one, so the schema does not.
pub const ENV_REFERENCE_PATTERN: &str = r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$";

/// Text that holds no `${` at all: `Flow::parse` refuses a reference with text around it (the
/// text may be a pasted secret), so a `[connection]` value is a whole reference or none.
const NO_REFERENCE_PATTERN: &str = r"\$\{";

/// What `number_or_digits`, the days keys and the schedule's numbers accept as text.
const DIGITS_PATTERN: &str = r"^\s*[0-9]+\s*$";

/// `parse_quota`: `COUNT/SECONDS`, both above 0.
const QUOTA_PATTERN: &str = r"^\s*0*[1-9][0-9]*\s*/\s*0*[1-9][0-9]*\s*$";

/// `parse_size` as text: a number and an optional unit.
const SIZE_PATTERN: &str = r"^\s*[0-9]*\.?[0-9]+\s*([bB]|[kKmMgG][iI]?[bB])?\s*$";

/// Digits of 15 or more: a `minute` schedule's interval as text.
const MINUTE_INTERVAL_PATTERN: &str = r"^\s*0*(?:1[5-9]|[2-9][0-9]|[1-9][0-9]{2,})\s*$";

/// The URL schemes `is_object_store_url` takes for an object store.
const OBJECT_STORE_SCHEMES: &[&str] = &[
    "s3", "s3a", "gs", "az", "adl", "azure", "abfs", "abfss", "file",
];

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

const fn key(name: &'static str, kind: Kind, meaning: &'static str) -> Key {
    Key {
        name,
        kind,
        required: false,
        default: None,
        meaning,
    }
}

impl Key {
    const fn required(self) -> Self {
        Key {
            required: true,
            ..self
        }
    }

    const fn default(self, default: &'static str) -> Self {
        Key {
            default: Some(default),
            ..self
        }
    }
}

const fn choice(values: &'static [&'static str]) -> Kind {
    Kind::Choice {
        values,
        any_case: false,
        loose: false,
        empty: false,
    }
}

const fn choice_any_case(values: &'static [&'static str]) -> Kind {
    Kind::Choice {
        values,
        any_case: true,
        loose: false,
        empty: false,
    }
}

/// A table of a flow file the engine reads.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// `""` for the top level.
    pub name: &'static str,
    pub required: bool,
    pub about: &'static str,
    pub keys: &'static [Key],
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

/// The `[connection]` and `[source]` keys of one connector, beside the engine's.
#[derive(Debug, Clone, Copy)]
pub struct ConnectorKeys {
    pub connector: &'static str,
    pub connection: &'static [Key],
    pub source: &'static [Key],
    pub rules: &'static [Rule],
}

const TOP: &[Key] = &[
    key(
        "name",
        Kind::Name,
        "The flow's name. It names the flow's state, files and run reports: renaming a flow \
         starts it afresh.",
    )
    .required(),
    key(
        "description",
        Kind::Text,
        "Free text for people; sluice does not read it.",
    ),
    key(
        "error_threshold",
        Kind::Fraction,
        "The share of input records that may fail (a value of the wrong type, a line that is \
         not a record, a value too large) before the run fails with exit code 3; nothing past \
         the last commit is written then, and the rejects file holds them all.",
    )
    .default("`0.05`"),
    key(
        "schema_policy",
        choice(&["evolve", "ignore", "fail"]),
        "Without a mapping set: what a field the stream has not seen before does: `evolve` (a \
         new column), `ignore` (dropped, listed in the report) or `fail` (the run stops before \
         writing it).",
    )
    .default("`evolve`"),
    key(
        "max_value_bytes",
        Kind::Size,
        "The largest value a column takes; a record with a larger one goes to the rejects \
         file.",
    )
    .default("`\"16 MiB\"`"),
];

const CONNECTION: &[Key] = &[
    key(
        "connector",
        Kind::Connector,
        "Which connector reads the source. The other keys of `[connection]` and `[source]` are \
         the engine's (this table) and that connector's (its section below).",
    )
    .required(),
    key(
        "quota",
        Kind::Quota,
        "Replaces the connector's request quotas: `\"COUNT/SECONDS\"` replaces all of them with \
         one, a table by quota name (`{ ads_analytics = \"300/60\" }`) the ones it names (a name \
         the connector does not have becomes a quota on the requests of that rate category).",
    )
    .default("the connector's quotas"),
    key(
        "max_page_bytes",
        Kind::Size,
        "The most of one response held in memory (a page; a line of a streamed export). A \
         larger one is not read.",
    )
    .default("`\"64 MiB\"`"),
    key(
        "max_retries",
        Kind::Int {
            min: 0,
            max: Some(100),
        },
        "Retries of a failed request (5xx, a cut body); waits for a quota are not retries.",
    )
    .default("`8`"),
    key(
        "max_wait_seconds",
        Kind::Int { min: 0, max: None },
        "The longest wait for a quota (a reset header, `Retry-After`, a budget spent for the \
         hour or the day). A longer one is not slept through: the run commits what is complete \
         and stops with exit code 5, saying when to resume.",
    )
    .default("`300` (LinkedIn: `600`)"),
    key(
        "read_timeout_seconds",
        Kind::Int { min: 1, max: None },
        "The longest wait for the next bytes of a response (on a streamed export: for the next \
         whole record).",
    )
    .default("`60` (Mixpanel: `120`)"),
];

const SOURCE: &[Key] = &[
    key(
        "streams",
        Kind::Streams,
        "The streams to pull; `[\"*\"]` pulls every stream of the connector.",
    )
    .default("the connector's choice: every stream, or those its settings name"),
    key(
        "lookback_days",
        Kind::WholeOrDigits {
            min: 0,
            max: Some(365),
        },
        "Day streams: complete days every run pulls again (the seeds' \"Backfill (days)\"), \
         for late events and restated metrics.",
    )
    .default("the stream's"),
    key(
        "initial_days",
        Kind::WholeOrDigits {
            min: 1,
            max: Some(3650),
        },
        "Day streams: the days a first run pulls, today included.",
    )
    .default("the stream's"),
];

const MAPPING: &[Key] = &[key(
    "file",
    Kind::Path,
    "The mapping set (the seeds' JSON, Data Prep expressions included).",
)
.required()];

const DESTINATION: &[Key] = &[
    key(
        "format",
        choice(&["parquet", "arrow", "ipc", "feather", "jsonl", "ndjson"]),
        "The file format: `parquet`, `arrow` (Arrow IPC; also `ipc`, `feather`) or `jsonl` \
         (also `ndjson`).",
    )
    .required(),
    key(
        "path",
        Kind::Path,
        "The lake: a directory, or an object store URL (`s3://bucket/prefix`, `s3a://`, \
         `gs://`, `az://`, `abfss://container@account.dfs.core.windows.net/prefix`, \
         `file:///abs/dir`). Below it: `<stream>/date=YYYY-MM-DD/part-….parquet` and `_runs/`.",
    )
    .required(),
    key(
        "work_dir",
        Kind::Path,
        "Object stores only: the local directory for the state database, files staged before \
         their upload, and copies of run reports.",
    )
    .default("`.sluice/<name>` beside the flow file"),
    key(
        "options",
        Kind::StoreOptions,
        "Object stores only: the store's configuration keys (the object_store crate's: \
         `region`, `endpoint`, `allow_http`, `access_key_id`, `secret_access_key`, \
         `service_account_path`, …); a value may be an environment reference, read as a \
         secret. The standard environment (`AWS_REGION`, …) applies too.",
    ),
    key(
        "file_rows",
        Kind::Int { min: 1, max: None },
        "Rows per file before the next file starts (and progress is committed).",
    )
    .default("`500000`"),
    key(
        "row_group_rows",
        Kind::Int { min: 1, max: None },
        "Parquet: the most rows of a row group.",
    )
    .default("`32768`"),
    key(
        "row_group_bytes",
        Kind::Int { min: 1, max: None },
        "Parquet: the most bytes of a row group.",
    )
    .default("`33554432` (32 MiB)"),
];

const STATE: &[Key] = &[key(
    "path",
    Kind::Path,
    "The state database (positions, committed files, a rotated refresh token). Flows of one \
     OAuth authorization (rotating refresh tokens) share one.",
)
.required()
.default("without `[state]`: `<destination path or work_dir>/_sluice/state.db`")];

const SCHEDULE: &[Key] = &[
    key(
        "cron",
        Kind::Text,
        "A cron expression: 5 fields (minute hour day month weekday), or 6 or 7 with seconds \
         first. Not with `frequency` or `interval`.",
    ),
    key(
        "timezone",
        Kind::Text,
        "The IANA timezone `cron` is read in, such as `Europe/Berlin`; with `cron` only.",
    )
    .default("`UTC`"),
    key(
        "start_time",
        Kind::WholeOrDigits { min: 0, max: None },
        "The seeds' schedule: when it starts, in epoch seconds; required with `frequency = \
         \"once\"`. A start that has passed runs as soon as the scheduler starts.",
    )
    .default("`0` (1970-01-01)"),
    key(
        "frequency",
        choice(&["once", "minute", "hour", "day", "week"]),
        "The seeds' schedule: the unit of `interval`, or `once`.",
    ),
    key(
        "interval",
        Kind::WholeOrDigits { min: 1, max: None },
        "The seeds' schedule: a run every `interval` × `frequency`; required unless \
         `frequency = \"once\"`, which takes none. A `minute` schedule needs 15 or more.",
    ),
];

/// The tables `Flow::parse` reads, top level first.
pub const ENGINE_TABLES: &[Table] = &[
    Table {
        name: "",
        required: true,
        about: "The flow itself.",
        keys: TOP,
    },
    Table {
        name: "connection",
        required: true,
        about: "The seeds' base connection: which connector, the engine's request limits, and \
                the connector's own keys (host, credentials).",
        keys: CONNECTION,
    },
    Table {
        name: "source",
        required: false,
        about: "The seeds' source connection params: which streams, how many days, and the \
                connector's own keys.",
        keys: SOURCE,
    },
    Table {
        name: "mapping",
        required: false,
        about: "The mapping set. Without it, every field of the stream's schema is written as \
                the API names it.",
        keys: MAPPING,
    },
    Table {
        name: "destination",
        required: true,
        about: "Where the files go.",
        keys: DESTINATION,
    },
    Table {
        name: "state",
        required: false,
        about: "Where the flow's state is kept.",
        keys: STATE,
    },
    Table {
        name: "schedule",
        required: false,
        about: "When `sluice schedule` runs the flow (`sluice check` validates it): `cron` \
                (with `timezone`), or the seeds' `start_time`, `frequency` and `interval`.",
        keys: SCHEDULE,
    },
];

const ZENDESK: ConnectorKeys = ConnectorKeys {
    connector: "zendesk",
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

const MIXPANEL: ConnectorKeys = ConnectorKeys {
    connector: "mixpanel",
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

const PINTEREST: ConnectorKeys = ConnectorKeys {
    connector: "pinterest",
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

/// LinkedIn's `adAnalytics` pivots, as `pivot` and `pivots` take them.
const LINKEDIN_PIVOTS: &[&str] = &[
    "ACCOUNT",
    "CAMPAIGN_GROUP",
    "CAMPAIGN",
    "CREATIVE",
    "CONVERSION",
    "MEMBER_COMPANY",
    "MEMBER_COMPANY_SIZE",
    "MEMBER_INDUSTRY",
    "MEMBER_SENIORITY",
    "MEMBER_JOB_TITLE",
    "MEMBER_JOB_FUNCTION",
    "MEMBER_COUNTRY_V2",
    "MEMBER_REGION_V2",
];

const LINKEDIN: ConnectorKeys = ConnectorKeys {
    connector: "linkedin",
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
                values: LINKEDIN_PIVOTS,
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
                values: LINKEDIN_PIVOTS,
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

/// Every connector's key table.
pub const CONNECTORS: &[ConnectorKeys] = &[LINKEDIN, MIXPANEL, PINTEREST, ZENDESK];

/// The key table of `connector`, if there is one.
pub fn connector_keys(connector: &str) -> Option<&'static ConnectorKeys> {
    CONNECTORS.iter().find(|c| c.connector == connector)
}

/// The engine table called `name` (`""`: the top level).
fn engine_table(name: &str) -> &'static [Key] {
    ENGINE_TABLES
        .iter()
        .find(|t| t.name == name)
        .map_or(&[], |t| t.keys)
}

/// A regex that matches `values` as a parser that upper-cases (and, when `loose`, trims and
/// reads spaces and `-` as `_`) reads them: JSON Schema has no case-insensitive flag.
fn any_case_pattern(values: &[&str], loose: bool) -> String {
    let alternatives: Vec<String> = values
        .iter()
        .map(|v| {
            v.chars()
                .map(|c| match c {
                    '_' if loose => "[ _-]".to_string(),
                    c if c.is_ascii_alphabetic() => {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    }
                    c if c.is_ascii_alphanumeric() => c.to_string(),
                    c => format!("\\{c}"),
                })
                .collect()
        })
        .collect();
    let space = if loose { r"\s*" } else { "" };
    format!("^{space}(?:{}){space}$", alternatives.join("|"))
}

fn env_reference() -> Value {
    json!({"type": "string", "pattern": ENV_REFERENCE_PATTERN})
}

/// Text as `[connection]` takes it: literal text with no `${` in it, or a whole reference.
fn text_or_reference() -> Value {
    json!({
        "type": "string",
        "anyOf": [
            {"pattern": ENV_REFERENCE_PATTERN},
            {"not": {"pattern": NO_REFERENCE_PATTERN}}
        ]
    })
}

fn choice_schema(values: &[&str], any_case: bool, loose: bool, empty: bool) -> Value {
    let mut values: Vec<&str> = values.to_vec();
    if empty {
        values.push("");
    }
    if any_case || loose {
        json!({
            "type": "string",
            "anyOf": [
                {"enum": values},
                {"pattern": any_case_pattern(&values, loose)}
            ]
        })
    } else {
        json!({"type": "string", "enum": values})
    }
}

/// What the schema of a key needs beyond the key: where it is and what the registry holds.
struct Context<'a> {
    /// A `[connection]` key of a connector: `Flow::parse` resolves `${NAME}` in its text.
    references: bool,
    connectors: &'a [&'static str],
}

/// The schema of a value of `kind`, without its description.
fn kind_schema(kind: Kind, cx: &Context) -> Value {
    let schema = match kind {
        Kind::Text if cx.references => return text_or_reference(),
        Kind::Text => json!({"type": "string"}),
        Kind::Path => json!({"type": "string", "minLength": 1}),
        Kind::Name => json!({"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}),
        Kind::Credential => return env_reference(),
        Kind::Choice {
            values,
            any_case,
            loose,
            empty,
        } => choice_schema(values, any_case, loose, empty),
        Kind::Count => json!({"anyOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "pattern": DIGITS_PATTERN}
        ]}),
        Kind::CountIn(values) => {
            let alternatives: Vec<String> = values.iter().map(u64::to_string).collect();
            json!({"anyOf": [
                {"type": "integer", "enum": values},
                {"type": "string", "pattern": format!(r"^\s*0*(?:{})\s*$", alternatives.join("|"))}
            ]})
        }
        Kind::List => json!({"anyOf": [
            {"type": "array", "items": {"type": ["string", "number"]}},
            {"type": ["string", "number"]}
        ]}),
        Kind::ListOf { values, any_case } => json!({"anyOf": [
            {"type": "array", "items": choice_schema(values, any_case, false, false)},
            {"type": "string"}
        ]}),
        Kind::Strings => json!({"type": "array", "items": {"type": "string"}}),
        Kind::Int { min, max } => {
            let mut s = json!({"type": "integer", "minimum": min});
            if let (Some(max), Some(o)) = (max, s.as_object_mut()) {
                o.insert("maximum".into(), Value::from(max));
            }
            s
        }
        Kind::WholeOrDigits { min, max } => {
            let mut number = json!({"type": "integer", "minimum": min});
            if let (Some(max), Some(o)) = (max, number.as_object_mut()) {
                o.insert("maximum".into(), Value::from(max));
            }
            json!({"anyOf": [number, {"type": "string", "pattern": DIGITS_PATTERN}]})
        }
        Kind::Fraction => json!({"type": "number", "minimum": 0, "maximum": 1}),
        Kind::Size => json!({"anyOf": [
            {"type": "integer", "minimum": 1},
            {"type": "string", "pattern": SIZE_PATTERN}
        ]}),
        Kind::Quota => json!({"anyOf": [
            {"type": "string", "pattern": QUOTA_PATTERN},
            {"type": "object", "additionalProperties": {"type": "string", "pattern": QUOTA_PATTERN}}
        ]}),
        Kind::Streams => json!({"type": "array", "minItems": 1, "items": {"type": "string"}}),
        Kind::Connector => json!({"type": "string", "enum": cx.connectors}),
        Kind::StoreOptions => json!({
            "type": "object",
            "additionalProperties": {"anyOf": [
                text_or_reference(),
                {"type": ["number", "boolean"]}
            ]}
        }),
    };
    if cx.references {
        // a reference is text: whatever a connector key's type, its value may come from the
        // environment (the connector reads the resolved text)
        json!({"anyOf": [schema, env_reference()]})
    } else {
        schema
    }
}

/// The hover text of a key: its meaning, its default, and how to write it when that is not
/// obvious from its type.
fn description(key: &Key, references: bool) -> String {
    let mut text = key.meaning.to_string();
    if let Some(d) = key.default {
        text.push_str(&format!(" Default: {}.", d.trim_end_matches('.')));
    }
    match key.kind {
        Kind::Credential => text.push_str(
            " A credential: only ever an environment reference, exactly \"${NAME}\" (a literal \
             value is refused, --sandbox too).",
        ),
        Kind::List | Kind::ListOf { .. } => {
            text.push_str(" A list: an array, comma-separated text or a number.")
        }
        Kind::Count | Kind::CountIn(_) => text.push_str(" A whole number, or its digits as text."),
        Kind::Path => text.push_str(" Relative paths resolve against the flow file's directory."),
        _ => {}
    }
    if references && key.kind != Kind::Credential {
        text.push_str(" May be an environment reference, exactly \"${NAME}\".");
    }
    text
}

fn key_schema(key: &Key, cx: &Context) -> Value {
    let mut schema = kind_schema(key.kind, cx);
    if let Some(o) = schema.as_object_mut() {
        o.insert(
            "description".into(),
            Value::String(description(key, cx.references)),
        );
    }
    schema
}

fn properties(keys: &[Key], cx: &Context) -> Map<String, Value> {
    keys.iter()
        .map(|k| (k.name.to_string(), key_schema(k, cx)))
        .collect()
}

fn required(keys: &[Key]) -> Vec<&'static str> {
    keys.iter().filter(|k| k.required).map(|k| k.name).collect()
}

fn any_of_required(groups: &[&[&str]]) -> Value {
    Value::Array(groups.iter().map(|g| json!({"required": g})).collect())
}

/// `[schedule]`: `cron` or `frequency`; `timezone` with `cron` only; `once` needs a start and
/// takes no interval; the others need an interval, 15 or more for `minute`.
fn schedule_rules() -> Value {
    json!({
        "anyOf": [{"required": ["cron"]}, {"required": ["frequency"]}],
        "dependencies": {"timezone": ["cron"]},
        "allOf": [
            {
                "if": {"required": ["cron"]},
                "then": {"not": {"anyOf": [
                    {"required": ["frequency"]},
                    {"required": ["interval"]}
                ]}}
            },
            {
                "if": {"properties": {"frequency": {"const": "once"}}, "required": ["frequency"]},
                "then": {"required": ["start_time"], "not": {"required": ["interval"]}}
            },
            {
                "if": {
                    "properties": {"frequency": {"enum": ["minute", "hour", "day", "week"]}},
                    "required": ["frequency"]
                },
                "then": {"required": ["interval"]}
            },
            {
                "if": {"properties": {"frequency": {"const": "minute"}}, "required": ["frequency"]},
                "then": {"properties": {"interval": {
                    "description": "A `minute` schedule needs an interval of 15 or more.",
                    "anyOf": [
                        {"type": "integer", "minimum": 15},
                        {"type": "string", "pattern": MINUTE_INTERVAL_PATTERN}
                    ]
                }}}
            }
        ]
    })
}

/// `[destination]`: `work_dir` and `options` apply to object stores only.
fn destination_rules() -> Value {
    let schemes = any_case_pattern(OBJECT_STORE_SCHEMES, false);
    let url = format!("{}://", schemes.trim_end_matches('$'));
    json!({
        "allOf": [{
            "if": {"properties": {"path": {"not": {"pattern": url}}}, "required": ["path"]},
            "then": {"not": {"anyOf": [{"required": ["work_dir"]}, {"required": ["options"]}]}}
        }]
    })
}

fn table_schema(table: &Table, cx: &Context) -> Value {
    let mut schema = json!({
        "type": "object",
        "description": table.about,
        "properties": properties(table.keys, cx),
    });
    if let Some(o) = schema.as_object_mut() {
        let req = required(table.keys);
        if !req.is_empty() {
            o.insert("required".into(), json!(req));
        }
        // `[connection]` and `[source]` take the connector's keys too: closed per connector
        if !matches!(table.name, "connection" | "source") {
            o.insert("additionalProperties".into(), Value::Bool(false));
        }
        let extra = match table.name {
            "schedule" => schedule_rules(),
            "destination" => destination_rules(),
            _ => Value::Null,
        };
        if let Value::Object(extra) = extra {
            o.extend(extra);
        }
    }
    schema
}

/// The `then` of a connector: `[connection]` and `[source]` closed to the engine's keys and
/// the connector's, with the connector's requirements.
fn connector_then(keys: &ConnectorKeys, registry: &Registry) -> Value {
    let mut streams: Vec<String> = registry
        .streams(keys.connector)
        .map(|s| s.into_iter().map(|s| s.name).collect())
        .unwrap_or_default();
    streams.push("*".into());
    let connectors = registry.names();
    let own = Context {
        references: true,
        connectors: &connectors,
    };
    // `[source]` values are never resolved from the environment
    let own_source = Context {
        references: false,
        ..own
    };
    let mut root_required = Vec::new();
    let mut root_all_of = Vec::new();
    let mut tables = Map::new();
    for side in [Side::Connection, Side::Source] {
        let (engine_keys, own_keys) = match side {
            Side::Connection => (engine_table("connection"), keys.connection),
            Side::Source => (engine_table("source"), keys.source),
        };
        let own_cx = match side {
            Side::Connection => &own,
            Side::Source => &own_source,
        };
        // the engine's keys are typed by the table's own schema already: here they only need
        // to be named (the table is closed), with their text, and `streams` its stream names
        let mut props: Map<String, Value> = engine_keys
            .iter()
            .map(|k| {
                let mut schema = json!({"description": description(k, false)});
                if let (Kind::Streams, Some(o)) = (k.kind, schema.as_object_mut()) {
                    o.insert("items".into(), json!({"enum": streams}));
                }
                (k.name.to_string(), schema)
            })
            .collect();
        props.extend(properties(own_keys, own_cx));
        let req = required(own_keys);
        let about = ENGINE_TABLES
            .iter()
            .find(|t| t.name == side.name())
            .map_or("", |t| t.about);
        let mut table = json!({
            "type": "object",
            "description": format!(
                "{about} With connector = \"{}\": the engine's keys and the connector's.",
                keys.connector
            ),
            "properties": props,
            "additionalProperties": false,
        });
        let Some(t) = table.as_object_mut() else {
            continue;
        };
        let mut all_of = Vec::new();
        for rule in keys.rules {
            match *rule {
                Rule::AnyOf { side: s, groups } if s == side => {
                    all_of.push(json!({"anyOf": any_of_required(groups)}));
                }
                Rule::Needs {
                    side: s,
                    keys: given,
                    needs_side,
                    needs,
                } if s == side && needs_side == side => {
                    all_of.push(json!({
                        "if": {"required": given},
                        "then": {"required": needs}
                    }));
                }
                Rule::Needs {
                    side: s,
                    keys: given,
                    needs_side,
                    needs,
                } if s == side => {
                    root_all_of.push(json!({
                        "if": {
                            "properties": {side.name(): {"required": given}},
                            "required": [side.name()]
                        },
                        "then": {
                            "properties": {needs_side.name(): {
                                "description": rule_line(rule).trim_start_matches("- ").trim_end(),
                                "required": needs
                            }},
                            "required": [needs_side.name()]
                        }
                    }));
                }
                _ => {}
            }
        }
        let needed = !req.is_empty() || !all_of.is_empty();
        if !req.is_empty() {
            t.insert("required".into(), json!(req));
        }
        if !all_of.is_empty() {
            t.insert("allOf".into(), Value::Array(all_of));
        }
        if needed && side == Side::Source {
            root_required.push(side.name());
        }
        tables.insert(side.name().to_string(), table);
    }
    let mut then = json!({"properties": tables});
    if let Some(o) = then.as_object_mut() {
        if !root_required.is_empty() {
            o.insert("required".into(), json!(root_required));
        }
        if !root_all_of.is_empty() {
            o.insert("allOf".into(), Value::Array(root_all_of));
        }
    }
    then
}

/// The JSON Schema (draft-07) of a flow file as [`crate::Flow::parse`] reads it, with each
/// connector of `registry` that has a key table closing `[connection]` and `[source]` to its
/// keys (an `if` on `connection.connector`, then its keys). Point Taplo at it with a
/// `#:schema ./flow.schema.json` line at the top of a flow file.
pub fn flow_schema(registry: &Registry) -> Value {
    let connectors = registry.names();
    let cx = Context {
        references: false,
        connectors: &connectors,
    };
    let mut props = properties(TOP, &cx);
    let mut root_required = required(TOP);
    for table in ENGINE_TABLES.iter().filter(|t| !t.name.is_empty()) {
        props.insert(table.name.to_string(), table_schema(table, &cx));
        if table.required {
            root_required.push(table.name);
        }
    }
    let all_of: Vec<Value> = connectors
        .iter()
        .filter_map(|name| connector_keys(name))
        .map(|keys| {
            json!({
                "if": {
                    "properties": {"connection": {
                        "properties": {"connector": {"const": keys.connector}},
                        "required": ["connector"]
                    }},
                    "required": ["connection"]
                },
                "then": connector_then(keys, registry)
            })
        })
        .collect();
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "sluice flow",
        "description": "A sluice flow file: one connection, its source, a mapping set and a \
                        destination. Unknown keys are errors. Credentials are only ever \
                        environment references, exactly \"${NAME}\". Reference: docs/flows.md.",
        "type": "object",
        "properties": props,
        "required": root_required,
        "additionalProperties": false,
        "allOf": all_of,
    })
}

/// A key's type, as the reference shows it.
fn type_label(kind: Kind, references: bool) -> String {
    let codes = |values: &[&str]| {
        values
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let label = match kind {
        Kind::Text => "text".to_string(),
        Kind::Path => "path".to_string(),
        Kind::Name => "name: letters, digits, `-`, `_`".to_string(),
        Kind::Credential => return "`\"${NAME}\"` only".to_string(),
        Kind::Choice {
            values,
            any_case,
            loose,
            empty,
        } => {
            let mut s = format!("one of {}", codes(values));
            if loose {
                s.push_str(" (any case; spaces or `-` for `_`)");
            } else if any_case {
                s.push_str(" (any case)");
            }
            if empty {
                s.push_str(", or `\"\"` for none");
            }
            s
        }
        Kind::Count => "whole number (or its digits as text)".to_string(),
        Kind::CountIn(values) => format!(
            "one of {} (or as text)",
            values
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Kind::List => "list".to_string(),
        Kind::ListOf { values, any_case } => format!(
            "list of {}{}",
            codes(values),
            if any_case { " (any case)" } else { "" }
        ),
        Kind::Strings => "array of text".to_string(),
        Kind::Int { min, max: None } => format!("whole number ≥ {min}"),
        Kind::Int {
            min,
            max: Some(max),
        } => format!("whole number {min} to {max}"),
        Kind::WholeOrDigits { min, max } => {
            let range = match max {
                None => format!("≥ {min}"),
                Some(max) => format!("{min} to {max}"),
            };
            format!("whole number {range} (or its digits as text)")
        }
        Kind::Fraction => "number 0 to 1".to_string(),
        Kind::Size => "size: bytes, or text such as `\"64 MiB\"`".to_string(),
        Kind::Quota => "`\"COUNT/SECONDS\"`, or a table of them by quota name".to_string(),
        Kind::Streams => "array of stream names".to_string(),
        Kind::Connector => "connector name".to_string(),
        Kind::StoreOptions => "table of text, numbers, booleans".to_string(),
    };
    if references {
        format!("{label}, or `\"${{NAME}}\"`")
    } else {
        label
    }
}

/// A Markdown table cell: a `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn key_table(keys: &[Key], references: bool) -> String {
    let mut out = String::from(
        "| key | type | required | default | meaning |\n| --- | --- | --- | --- | --- |\n",
    );
    for k in keys {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            k.name,
            cell(&type_label(k.kind, references)),
            if k.required { "yes" } else { "" },
            cell(k.default.unwrap_or("")),
            cell(k.meaning),
        ));
    }
    out
}

fn codes(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn rule_line(rule: &Rule) -> String {
    match rule {
        Rule::AnyOf { side, groups } => format!(
            "- `[{}]` needs {}.\n",
            side.name(),
            groups
                .iter()
                .map(|g| codes(g))
                .collect::<Vec<_>>()
                .join(", or ")
        ),
        Rule::Needs {
            side,
            keys,
            needs_side,
            needs,
        } => format!(
            "- With {} in `[{}]`, `[{}]` also needs {}.\n",
            codes(keys),
            side.name(),
            needs_side.name(),
            codes(needs)
        ),
    }
}

/// The days a connector's day streams pull again and first, as the stream table says.
fn day_defaults(registry: &Registry, connector: &str) -> Option<String> {
    let mut seen: Vec<(u32, u32)> = Vec::new();
    for spec in registry.streams(connector).unwrap_or_default() {
        if let SyncMode::Days {
            lookback_days,
            initial_days,
        } = spec.sync
        {
            if !seen.contains(&(lookback_days, initial_days)) {
                seen.push((lookback_days, initial_days));
            }
        }
    }
    if seen.is_empty() {
        return None;
    }
    let list = seen
        .iter()
        .map(|(l, i)| format!("`lookback_days` {l}, `initial_days` {i}"))
        .collect::<Vec<_>>()
        .join("; ");
    Some(format!("- Day streams' defaults: {list}.\n"))
}

const INTRO: &str = "\
# Flow file reference

Generated from the key tables of `crates/runner/src/flow_schema.rs`, which also make the flow \
file's JSON Schema; tests hold the tables to the parsers (`Flow::parse` and each connector's \
settings) and check every flow of `config/flows/` against the schema. Regenerate with \
`SLUICE_BLESS=1 cargo test -p sluice-runner flow_schema`.

A flow is one TOML file. Unknown keys are errors (a typo never silently does nothing): every \
unknown or misplaced key of a flow is reported at once, with the key that was probably meant or \
the table it belongs in, by `sluice check` as by any run. Relative paths resolve against the \
**directory of the flow file**.

## Editor support

`sluice schema flow > flow.schema.json` writes the flow file's JSON Schema (draft-07). Editors \
that use [Taplo](https://taplo.tamasfe.dev) (VS Code's *Even Better TOML*, Zed, Helix…) then \
complete keys and values, show each key's meaning on hover, and mark unknown keys, wrong types \
and missing credentials as you type. Either name the schema at the top of a flow file (a path \
relative to the flow file, or a URL):

```toml
#:schema ./flow.schema.json
name = \"zendesk-users\"
```

or associate it with every flow once, in a `.taplo.toml` at the root of the repository:

```toml
[[rule]]
include = [\"config/flows/*.toml\"]

[rule.schema]
path = \"./flow.schema.json\"
```

The connector's own keys are checked once `connection.connector` names it. The schema checks \
shapes, not everything: a subdomain's spelling, a timezone's name or a cron expression are \
checked by `sluice check`.

## An example

```toml
";

/// The annotated example of the reference (a valid flow: a test parses it).
const EXAMPLE: &str = r#"name = "zendesk-users"          # required: letters, digits, - and _; names state and files
error_threshold = 0.05          # share of input records that may fail (default 0.05)
schema_policy = "evolve"        # without a mapping set: what a new field does (evolve | ignore | fail)
max_value_bytes = "16 MiB"      # the largest value a column takes; a record with a larger one is rejected

[connection]                    # the seeds' base connection
connector = "zendesk"           # required: which connector
subdomain = "acme"              # the connector's keys (see Connectors below)
email = "${ZENDESK_EMAIL}"      # any [connection] text may be an environment reference
api_token = "${ZENDESK_API_TOKEN}"   # credentials must be one
quota = "100/60"                # optional: COUNT/SECONDS for every quota of the connection, or
# quota = { search_export = "100/60", account = "700/60" }   # per quota name
max_page_bytes = "64 MiB"       # the most of one response held in memory (a page; a streamed line)
max_retries = 8                 # retries of a failed request (5xx, cut bodies), 0 to 100
max_wait_seconds = 300          # the longest wait for a quota; longer: the run stops, exit 5
read_timeout_seconds = 60       # the longest wait for bytes (streamed exports: for a whole record)

[source]                        # the seeds' source connection params
streams = ["users"]             # optional: default the connector's choice; ["*"]: every stream
page_size = 1000                # the connector's keys
# lookback_days = 2             # day streams: complete days every run pulls again (the seeds'
                                # "Backfill (days)"); default per stream
# initial_days = 7              # day streams: days a first run pulls, today included

[mapping]                       # optional: default writes every field of the stream schema
file = "../mappings/zendesk-users.json"

[destination]
format = "parquet"              # required: parquet | arrow (Arrow IPC) | jsonl
path = "../../out/zendesk"      # required: output directory, or an object store URL (below)
file_rows = 500000              # rows per file before the next file starts (and progress commits)
row_group_rows = 32768          # Parquet row group bound, rows
row_group_bytes = 33554432      # Parquet row group bound, bytes
# work_dir = "/var/lib/sluice/zendesk"   # object stores only: local state, staging, report copies

# [destination.options]         # object stores only: the store's configuration keys
# region = "eu-west-1"

[state]                         # optional
path = "/var/lib/sluice/zendesk.db"   # default: <destination.path or work_dir>/_sluice/state.db
                                      # flows of one OAuth authorization (rotating tokens) share one

[schedule]                      # read by `sluice schedule`; validated by `sluice check`
cron = "0 0 * * * *"            # 5 fields, or 6 with seconds first
timezone = "UTC"                # IANA name; cron only
# or: start_time = 1625040887 (epoch s), frequency = "once|minute|hour|day|week", interval = N
"#;

const PROSE: &str = "\
## Object store destinations

`path` may be an object store URL: `s3://bucket/prefix` (or `s3a://`), `gs://bucket/prefix`, \
`az://container/prefix` or `abfss://container@account.dfs.core.windows.net/prefix`, or \
`file:///abs/dir` (a directory written through the same code path). The layout below the prefix \
is the same as in a directory: `<stream>/date=YYYY-MM-DD/part-….parquet` and `_runs/`.

- Files are written locally first, in `work_dir` (default: `.sluice/<flow name>` beside the flow \
  file), which also holds the state database. At each commit the files are uploaded (in 8 MiB \
  parts when large) after the state store has recorded the promotion, so an object appears whole \
  or not at all, and a crash between the two is finished by the next run, as on a local disk. \
  Files a `--force` backfill or a re-pulled Mixpanel day replaces are deleted from the store.
- Run reports and rejects files are written in `work_dir/_runs/` (what `sluice runs` reads) and \
  copied to the lake's `_runs/`.
- Credentials and settings come from the standard environment (`AWS_ACCESS_KEY_ID`, \
  `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`, `GOOGLE_SERVICE_ACCOUNT`, \
  `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, …) and from \
  `[destination.options]`. Its keys are the \
  [object_store](https://docs.rs/object_store/0.12.5/object_store/) crate's configuration keys \
  for that store (`region`, `endpoint`, `allow_http`, `access_key_id`, `secret_access_key`, \
  `service_account_path`, …). A value may be a `\"${NAME}\"` reference, which is a secret. An \
  unknown key is an error that names it. `sluice check` opens the store without a request.

## Quotas, waits and a quota that runs out

A connector declares its quotas, each counting every request of the connection or only those of \
one category (Pinterest's `ads_analytics`, Zendesk's `search_export`). Requests are paced under \
all that apply to them. Clients with the same credentials share their quotas inside one process \
(`sluice schedule` with several flows of one account never adds up to more than the account's). \
`quota = \"C/S\"` replaces all of them with one; a table sets them by name.

A wait for a quota longer than `max_wait_seconds` (a reset header, `Retry-After`, a budget spent \
for the hour or the day) is not slept through: the run commits what is complete and stops with \
exit code 5; the summary line, the report (`statusSummary.exhaustedQuota`, `resumeAt`) and the \
history say which quota and when to resume, and `sluice schedule` runs the flow again no earlier.

## Day streams

Streams whose days stay open after the fact (Mixpanel events arrive late; ad metrics are restated \
within their attribution window) are pulled by day: each run pulls the days since the last \
complete one, plus the last `lookback_days` again, through today, and each day pulled replaces \
that day's earlier files (of the same slice). The engine keeps the position (the last day that \
was over when it was pulled).

## Limits: what a server sends never decides how much memory a run takes

- `max_page_bytes` (`[connection]`, default 64 MiB, bytes or `\"64 MiB\"`): a response larger than \
  this is not read. A Zendesk page that large fails the run at once, without asking for it again \
  (asking would bring the same), and the error says to lower `page_size`. A Mixpanel line (one \
  event) that long is rejected unread: its first 4 KiB go to the rejects file with the reason, and \
  the export goes on.
- `max_value_bytes` (top level, default 16 MiB): a record with a value larger than this goes to the \
  rejects file instead of the output.
- Error bodies are read up to 64 KiB, and shown up to 300 characters, secrets masked.

Records that fail, for whatever reason (a value of the wrong type, a line that is not an event, \
a value too large), go to `_runs/rejects-<run>.jsonl` with their reason and count against \
`error_threshold`. When the threshold trips, nothing past the last commit is written, the error \
and the report carry the real counts, and the rejects file holds every rejected record of the \
attempt.

## Credentials

A credential is only ever an environment reference, exactly `\"${NAME}\"`; a literal value for a \
credential key is refused. Any `[connection]` value of a connector may be a reference (a \
subdomain, say); the engine's `[connection]` keys and `[source]` values are read as written. A \
missing variable fails the flow before anything runs, naming the key and the variable. A literal \
credential is refused with `--sandbox` too (where the sandbox's credentials replace it), so a flow \
that runs in the sandbox never fails in production for it.

Secrets never appear in logs, errors, reports or files: they are held in a type that prints `***`, \
and every text sluice relays (a vendor's error body, which may echo the request's headers; log \
lines; panics; reports and the run history) is masked for each secret's value and the encodings \
sluice sends it in (the Basic header's base64, URL and JSON escapes). A `base_url` carrying a \
password is refused without echoing it.
";

/// The Markdown of `docs/flows.md`: how to use the schema in an editor, an annotated example,
/// the engine's keys by table, how the engine treats some of them, and each connector of
/// `registry` with its `[connection]` and `[source]` keys.
pub fn flows_reference(registry: &Registry) -> String {
    let mut out = String::from(INTRO);
    out.push_str(EXAMPLE);
    out.push_str(
        "```\n\nA `minute` frequency needs an `interval` of 15 or more (the seeds' guard); \
         `interval` is required unless `frequency = \"once\"`, which needs a `start_time`. A flow \
         with a seeds'-style schedule whose `start_time` has passed runs as soon as the \
         scheduler starts; a cron flow waits for its next tick.\n\n## The engine's keys\n",
    );
    for table in ENGINE_TABLES {
        let heading = if table.name.is_empty() {
            "Top level".to_string()
        } else {
            format!("`[{}]`", table.name)
        };
        let required = if table.required && !table.name.is_empty() {
            " Required."
        } else {
            ""
        };
        out.push_str(&format!(
            "\n### {heading}\n\n{}{required}\n\n{}",
            table.about,
            key_table(table.keys, false)
        ));
    }
    out.push('\n');
    out.push_str(PROSE);
    out.push_str(
        "\n## Connectors\n\nEach connector's keys, beside the engine's, in `[connection]` and \
         `[source]`. A `[connection]` value of a connector may be an environment reference \
         (`\"${NAME}\"`) whatever its type; a credential must be one. A list is an array, \
         comma-separated text or a number.\n",
    );
    for name in registry.names() {
        out.push_str(&format!("\n### `{name}`\n\n"));
        if let Ok(about) = registry.about(name) {
            out.push_str(&format!("{about}.\n\n"));
        }
        let streams = registry.streams(name).unwrap_or_default();
        out.push_str(&format!(
            "- Streams ({}): {}.\n",
            streams.len(),
            streams
                .iter()
                .map(|s| format!("`{}`", s.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut categories: Vec<&str> = streams
            .iter()
            .filter_map(|s| s.rate_category.as_deref())
            .collect();
        categories.sort_unstable();
        categories.dedup();
        if !categories.is_empty() {
            out.push_str(&format!(
                "- Rate categories of its streams: {}.\n",
                categories
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(days) = day_defaults(registry, name) {
            out.push_str(&days);
        }
        out.push_str(&format!(
            "- More: [connectors/{name}.md](connectors/{name}.md).\n"
        ));
        let Some(keys) = connector_keys(name) else {
            out.push_str("\nNo key table: its keys are not described here.\n");
            continue;
        };
        out.push_str(&format!(
            "\n`[connection]`:\n\n{}\n`[source]`:\n\n{}",
            key_table(keys.connection, true),
            key_table(keys.source, false)
        ));
        if !keys.rules.is_empty() {
            out.push_str("\nRequired together:\n\n");
            for rule in keys.rules {
                out.push_str(&rule_line(rule));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use sluice_core::{ConnectorConfig, Param, Secret};

    use crate::{Flow, Overrides};

    fn registry() -> Registry {
        let mut r = Registry::default();
        sluice_zendesk::register(&mut r);
        sluice_mixpanel::register(&mut r);
        sluice_pinterest::register(&mut r);
        sluice_linkedin::register(&mut r);
        r
    }

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// Every variable is set: the flows' references resolve.
    fn any_env(_: &str) -> Option<String> {
        // email-shaped: Zendesk's `email` is a reference in the repository's flow
        Some("probe@example.com".into())
    }

    fn toml_json(v: &toml::Value) -> Value {
        match v {
            toml::Value::String(s) => Value::String(s.clone()),
            toml::Value::Integer(i) => Value::from(*i),
            toml::Value::Float(f) => Value::from(*f),
            toml::Value::Boolean(b) => Value::Bool(*b),
            toml::Value::Datetime(d) => Value::String(d.to_string()),
            toml::Value::Array(a) => Value::Array(a.iter().map(toml_json).collect()),
            toml::Value::Table(t) => {
                Value::Object(t.iter().map(|(k, v)| (k.clone(), toml_json(v))).collect())
            }
        }
    }

    fn is_type(value: &Value, ty: &str) -> bool {
        match ty {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "null" => value.is_null(),
            _ => false,
        }
    }

    /// A small validator for the keywords the flow schema uses: `type`, `enum`, `const`,
    /// `minimum`, `maximum`, `minItems`, `properties`, `additionalProperties`, `required`,
    /// `dependencies`, `items`, `allOf`, `anyOf`, `if`/`then`/`else`. `pattern` and `not` are
    /// left to real validators (no regex crate here): they only narrow text.
    fn check(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(s) = schema.as_object() else {
            if schema == &Value::Bool(false) {
                errors.push(format!("{at}: not allowed"));
            }
            return;
        };
        if let Some(ty) = s.get("type") {
            let ok = match ty {
                Value::String(t) => is_type(value, t),
                Value::Array(ts) => ts
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|t| is_type(value, t)),
                _ => true,
            };
            if !ok {
                errors.push(format!("{at}: {value} is not of type {ty}"));
                return;
            }
        }
        if let Some(Value::Array(values)) = s.get("enum") {
            if !values.contains(value) {
                errors.push(format!("{at}: {value} is not one of {values:?}"));
            }
        }
        if let Some(c) = s.get("const") {
            if c != value {
                errors.push(format!("{at}: {value} is not {c}"));
            }
        }
        if let (Some(n), Some(min)) = (value.as_f64(), s.get("minimum").and_then(Value::as_f64)) {
            if n < min {
                errors.push(format!("{at}: {n} is below {min}"));
            }
        }
        if let (Some(n), Some(max)) = (value.as_f64(), s.get("maximum").and_then(Value::as_f64)) {
            if n > max {
                errors.push(format!("{at}: {n} is above {max}"));
            }
        }
        if let Some(items) = value.as_array() {
            if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    errors.push(format!("{at}: fewer than {min} items"));
                }
            }
            if let Some(item) = s.get("items") {
                for (i, v) in items.iter().enumerate() {
                    check(item, v, &format!("{at}[{i}]"), errors);
                }
            }
        }
        if let Some(object) = value.as_object() {
            let props = s.get("properties").and_then(Value::as_object);
            for (k, v) in object {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                    (Some(sub), _) => check(sub, v, &path, errors),
                    (None, Some(Value::Bool(false))) => {
                        errors.push(format!("{path}: not a key the schema declares"))
                    }
                    (None, Some(extra)) => check(extra, v, &path, errors),
                    (None, None) => {}
                }
            }
            for r in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !object.contains_key(r) {
                    errors.push(format!("{at}: `{r}` is required"));
                }
            }
            for (k, needs) in s
                .get("dependencies")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if object.contains_key(k) {
                    for n in needs
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !object.contains_key(n) {
                            errors.push(format!("{at}: `{k}` needs `{n}`"));
                        }
                    }
                }
            }
        }
        for sub in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            check(sub, value, at, errors);
        }
        if let Some(branches) = s.get("anyOf").and_then(Value::as_array) {
            let mut failures = Vec::new();
            let any = branches.iter().any(|b| {
                let mut e = Vec::new();
                check(b, value, at, &mut e);
                failures.extend(e.iter().cloned());
                e.is_empty()
            });
            if !any {
                errors.push(format!("{at}: none of the alternatives: {failures:?}"));
            }
        }
        if let Some(condition) = s.get("if") {
            let mut e = Vec::new();
            check(condition, value, at, &mut e);
            let branch = if e.is_empty() {
                s.get("then")
            } else {
                s.get("else")
            };
            if let Some(b) = branch {
                check(b, value, at, errors);
            }
        }
    }

    fn validate(schema: &Value, text: &str) -> Vec<String> {
        let table: toml::Table = toml::from_str(text).expect("TOML");
        let mut errors = Vec::new();
        check(
            schema,
            &toml_json(&toml::Value::Table(table)),
            "",
            &mut errors,
        );
        errors
    }

    fn repo_flows() -> Vec<(PathBuf, String)> {
        let dir = repo().join("config/flows");
        let mut flows: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
            .expect("config/flows")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("read");
                (p, text)
            })
            .collect();
        flows.sort();
        assert!(flows.len() >= 4, "the repository's flows: {dir:?}");
        flows
    }

    fn all_descriptions(schema: &Value, at: &str, missing: &mut Vec<String>) {
        match schema {
            Value::Object(o) => {
                if let Some(Value::Object(props)) = o.get("properties") {
                    for (k, sub) in props {
                        let path = format!("{at}.{k}");
                        // the `if` of a connector only names `connector`
                        let in_condition = at.contains(".if");
                        if !in_condition && sub.get("description").and_then(Value::as_str).is_none()
                        {
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

        let blocks = schema["allOf"].as_array().expect("allOf");
        let named: Vec<&str> = blocks
            .iter()
            .filter_map(|b| {
                b["if"]["properties"]["connection"]["properties"]["connector"]["const"].as_str()
            })
            .collect();
        assert_eq!(named, r.names(), "one if/then per connector");
        let tables: BTreeSet<&str> = CONNECTORS.iter().map(|c| c.connector).collect();
        let registered: BTreeSet<&str> = r.names().into_iter().collect();
        assert_eq!(tables, registered, "a key table per registered connector");

        // the streams a connector block offers are the registry's, and `*`
        let zendesk = &blocks[named.iter().position(|n| *n == "zendesk").expect("zendesk")];
        assert_eq!(
            zendesk["then"]["properties"]["source"]["properties"]["streams"]["items"]["enum"],
            json!(["users", "*"])
        );
        // a credential is a reference, and the schema says so
        let token = &zendesk["then"]["properties"]["connection"]["properties"]["api_token"];
        assert_eq!(token["pattern"], Value::from(ENV_REFERENCE_PATTERN));
        assert!(
            token["description"]
                .as_str()
                .is_some_and(|d| d.contains("${NAME}")),
            "{token}"
        );
    }

    /// The keys a connector's settings take, as its error for an unknown key lists them
    /// (`sluice_core::settings`: "the keys are: …", its struct's fields and the engine's).
    fn accepted_keys(r: &Registry, connector: &str, side: Side) -> BTreeSet<String> {
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
        let message = match r.build(connector, &config) {
            Ok(_) => panic!("{connector}: an unknown [{}] key was accepted", side.name()),
            Err(e) => e.to_string(),
        };
        let want = format!(
            "[{}] `{probe}` is not a setting here; the keys are: ",
            side.name()
        );
        let list = message
            .strip_prefix(&want)
            .unwrap_or_else(|| panic!("{connector}: unexpected message: {message}"));
        list.split(", ").map(|k| k.trim().to_string()).collect()
    }

    fn names(keys: &[Key]) -> BTreeSet<String> {
        keys.iter().map(|k| k.name.to_string()).collect()
    }

    #[test]
    fn connector_tables_declare_exactly_the_keys_each_connector_accepts() {
        let r = registry();
        // the engine's keys every connector's settings also accept are the engine tables'
        assert_eq!(
            names(engine_table("connection")),
            sluice_core::settings::ENGINE_CONNECTION_KEYS
                .iter()
                .map(|k| k.to_string())
                .collect()
        );
        assert_eq!(
            names(engine_table("source")),
            sluice_core::settings::ENGINE_SOURCE_KEYS
                .iter()
                .map(|k| k.to_string())
                .collect()
        );
        for name in r.names() {
            let keys = connector_keys(name).unwrap_or_else(|| panic!("no key table for {name}"));
            for side in [Side::Connection, Side::Source] {
                let (engine, own) = match side {
                    Side::Connection => (engine_table("connection"), keys.connection),
                    Side::Source => (engine_table("source"), keys.source),
                };
                let mut declared = names(own);
                declared.extend(names(engine));
                let accepted = accepted_keys(&r, name, side);
                assert_eq!(
                    declared,
                    accepted,
                    "{name} [{}]: declared (left) and accepted (right) differ",
                    side.name()
                );
                // a connector key never shadows an engine key
                assert!(names(own).is_disjoint(&names(engine)), "{name}");
            }
        }
    }

    /// The keys serde lists in "unknown field `x`, expected one of `a`, `b`" for a table of
    /// `FlowFile` with an unknown key.
    fn serde_keys(flow: &str, table: &str) -> BTreeSet<String> {
        let probe = "qqqq_probe";
        let text = if table.is_empty() {
            format!("{probe} = 1\n{flow}")
        } else {
            flow.replace(
                &format!("[{table}]\n"),
                &format!("[{table}]\n{probe} = 1\n"),
            )
        };
        let message = match Flow::parse(
            Path::new("/x/f.toml"),
            &text,
            &Overrides::default(),
            &any_env,
        ) {
            Ok(_) => panic!("[{table}]: an unknown key was accepted"),
            Err(e) => e.to_string(),
        };
        let list = message
            .split_once(&format!("unknown field `{probe}`, expected "))
            .map(|(_, l)| l.strip_prefix("one of ").unwrap_or(l))
            .unwrap_or_else(|| panic!("[{table}]: unexpected message: {message}"));
        list.lines()
            .next()
            .unwrap_or_default()
            .split(", ")
            .map(|k| k.trim().trim_matches('`').to_string())
            .collect()
    }

    const MINIMAL: &str = "name = \"f\"\n[connection]\nconnector = \"zendesk\"\n[source]\n\
        [mapping]\nfile = \"m.json\"\n[destination]\nformat = \"parquet\"\npath = \"out\"\n\
        [state]\npath = \"s.db\"\n";

    #[test]
    fn engine_tables_are_what_flow_parse_reads() {
        // serde's list of the top level, [mapping], [destination] and [state]
        let mut top = names(TOP);
        top.extend(
            ENGINE_TABLES
                .iter()
                .filter(|t| !t.name.is_empty())
                .map(|t| t.name.to_string()),
        );
        assert_eq!(serde_keys(MINIMAL, ""), top, "top level");
        for table in ["mapping", "destination", "state"] {
            assert_eq!(
                serde_keys(MINIMAL, table),
                names(engine_table(table)),
                "[{table}]"
            );
        }

        // the engine's [connection] and [source] keys are taken out before the connector
        // sees them
        let text = MINIMAL
            .replace(
                "connector = \"zendesk\"\n",
                "connector = \"zendesk\"\nquota = \"1/1\"\nmax_page_bytes = \"1 MiB\"\n\
                 max_retries = 1\nmax_wait_seconds = 1\nread_timeout_seconds = 1\n",
            )
            .replace(
                "[source]\n",
                "[source]\nstreams = [\"users\"]\nlookback_days = 1\ninitial_days = 1\n",
            );
        let flow = Flow::parse(
            Path::new("/x/f.toml"),
            &text,
            &Overrides::default(),
            &any_env,
        )
        .expect("parses");
        let toml: toml::Table = toml::from_str(&text).expect("toml");
        for (side, engine) in [("connection", CONNECTION), ("source", SOURCE)] {
            let written: BTreeSet<String> = toml[side]
                .as_table()
                .expect("table")
                .keys()
                .cloned()
                .collect();
            assert_eq!(written, names(engine), "the test writes every engine key");
        }
        for k in CONNECTION {
            assert!(
                !flow.connector_config.connection.contains_key(k.name),
                "{}",
                k.name
            );
        }
        for k in SOURCE {
            assert!(
                !flow.connector_config.source.contains_key(k.name),
                "{}",
                k.name
            );
        }
        // …and anything else is the connector's
        let text = text
            .replace("[source]\n", "[source]\nanything = 1\n")
            .replace(
                "connector = \"zendesk\"\n",
                "connector = \"zendesk\"\nother = 1\n",
            );
        let flow = Flow::parse(
            Path::new("/x/f.toml"),
            &text,
            &Overrides::default(),
            &any_env,
        )
        .expect("parses");
        assert!(flow.connector_config.connection.contains_key("other"));
        assert!(flow.connector_config.source.contains_key("anything"));

        // [schedule]: every declared key is known to Schedule, and an unknown key is not
        for k in SCHEDULE {
            let table: toml::Table = toml::from_str(&format!("{} = \"x\"", k.name)).expect("toml");
            let e = crate::Schedule::from_table(&table)
                .err()
                .unwrap_or_default();
            assert!(!e.contains("unknown key"), "{}: {e}", k.name);
        }
        let table: toml::Table = toml::from_str("qqqq = 1").expect("toml");
        let e = crate::Schedule::from_table(&table)
            .err()
            .unwrap_or_default();
        assert!(e.contains("unknown key"), "{e}");
    }

    /// A valid configuration of `connector`: the first of the repository's flows that uses
    /// it, resolved.
    fn base_config(connector: &str) -> ConnectorConfig {
        let (path, text) = repo_flows()
            .into_iter()
            .find(|(p, _)| Flow::peek_connector(p).as_deref() == Some(connector))
            .unwrap_or_else(|| panic!("no flow of {connector} in config/flows"));
        let flow = Flow::parse(&path, &text, &Overrides::default(), &any_env).expect("parses");
        flow.connector_config
    }

    /// Set `key` to a value it accepts: the base configuration may not have it.
    fn set(config: &mut ConnectorConfig, side: Side, key: &Key) {
        let text = match key.name {
            "base_url" => "http://127.0.0.1:9",
            "subdomain" => "acme",
            "email" => "agent@acme.com",
            "username" => "service-account",
            "accountIds" | "campaignGroupIds" | "campaignIds" | "project_id" | "ad_account_id" => {
                "12345"
            }
            _ => "probe",
        };
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

    fn find(keys: &ConnectorKeys, side: Side, name: &str) -> Key {
        let list = match side {
            Side::Connection => keys.connection,
            Side::Source => keys.source,
        };
        *list
            .iter()
            .find(|k| k.name == name)
            .unwrap_or_else(|| panic!("{}: no key {name}", keys.connector))
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

    fn builds(r: &Registry, connector: &str, config: &ConnectorConfig) -> Result<(), String> {
        r.build(connector, config)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn choices_requirements_and_alternatives_hold_in_the_connectors() {
        let r = registry();
        for keys in CONNECTORS {
            let name = keys.connector;
            let base = base_config(name);
            builds(&r, name, &base).unwrap_or_else(|e| panic!("{name}: base flow: {e}"));

            for (side, list) in [
                (Side::Connection, keys.connection),
                (Side::Source, keys.source),
            ] {
                for k in list {
                    // every value a choice declares is accepted, and another one is not
                    let values: Vec<Value> = match k.kind {
                        Kind::Choice { values, empty, .. } => values
                            .iter()
                            .chain(empty.then_some(&""))
                            .map(|v| Value::from(*v))
                            .collect(),
                        Kind::ListOf { values, .. } => {
                            values.iter().map(|v| Value::from(*v)).collect()
                        }
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
                        builds(&r, name, &with(v.clone()))
                            .unwrap_or_else(|e| panic!("{name} {} = {v}: {e}", k.name));
                    }
                    let bogus = match k.kind {
                        Kind::CountIn(_) => Value::from(2),
                        _ => Value::from("NOT_A_VALUE"),
                    };
                    let e = builds(&r, name, &with(bogus)).err().unwrap_or_default();
                    assert!(
                        e.contains(k.name),
                        "{name} {}: a bogus value: {e:?}",
                        k.name
                    );
                }
                // a required key cannot be left out
                for k in list.iter().filter(|k| k.required) {
                    let mut c = base.clone();
                    remove(&mut c, side, k.name);
                    assert!(
                        builds(&r, name, &c).is_err(),
                        "{name}: {} is required",
                        k.name
                    );
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
                        assert!(
                            builds(&r, name, &without).is_err(),
                            "{name}: none of {groups:?} was accepted"
                        );
                        for g in groups {
                            let mut c = without.clone();
                            for k in *g {
                                set(&mut c, side, &find(keys, side, k));
                            }
                            // with what the group's keys need themselves (a service account
                            // needs its project)
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
                                            set(&mut c, needs_side, &find(keys, needs_side, n));
                                        }
                                    }
                                }
                            }
                            builds(&r, name, &c)
                                .unwrap_or_else(|e| panic!("{name}: {g:?} alone: {e}"));
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
                            set(&mut c, side, &find(keys, side, k));
                        }
                        for n in needs {
                            set(&mut c, needs_side, &find(keys, needs_side, n));
                        }
                        builds(&r, name, &c)
                            .unwrap_or_else(|e| panic!("{name}: {given:?} with {needs:?}: {e}"));
                        for n in needs {
                            let mut lacking = c.clone();
                            remove(&mut lacking, needs_side, n);
                            assert!(
                                builds(&r, name, &lacking).is_err(),
                                "{name}: {given:?} without {n} was accepted"
                            );
                        }
                    }
                }
            }
        }
        // LinkedIn's pivots are its analytics streams'
        let streams: BTreeSet<String> = r
            .streams("linkedin")
            .expect("linkedin")
            .into_iter()
            .filter_map(|s| s.name.strip_prefix("ad_analytics_").map(str::to_uppercase))
            .collect();
        let pivots: BTreeSet<String> = LINKEDIN_PIVOTS.iter().map(|p| p.to_string()).collect();
        assert_eq!(streams, pivots);
    }

    #[test]
    fn every_flow_of_the_repository_is_valid_under_the_schema() {
        let r = registry();
        let schema = flow_schema(&r);
        for (path, text) in repo_flows() {
            let errors = validate(&schema, &text);
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        }

        // the walker sees what is wrong: an unknown key, one in the wrong connector, a missing
        // credential, a missing required table, a literal credential's type
        let (_, zendesk) = repo_flows()
            .into_iter()
            .find(|(p, _)| p.ends_with("zendesk-users.toml"))
            .expect("zendesk-users.toml");
        for (broken, says) in [
            (
                zendesk.replace("[source]\n", "[source]\npage_sise = 5\n"),
                "source.page_sise",
            ),
            (
                zendesk.replace("[source]\n", "[source]\nad_account_id = \"1\"\n"),
                "source.ad_account_id",
            ),
            (
                zendesk.replace("api_token = \"${ZENDESK_API_TOKEN}\"\n", ""),
                "none of the alternatives",
            ),
            (
                zendesk.replace("[destination]\n", "[destinaton]\n"),
                "destinaton",
            ),
            (
                zendesk.replace("name = \"zendesk-users\"\n", ""),
                "`name` is required",
            ),
            (
                zendesk.replace("overlap_seconds = 300", "overlap_seconds = true"),
                "source.overlap_seconds",
            ),
            (
                zendesk.replace("[schedule]\n", "[schedule]\nfrequency = \"hour\"\n"),
                "schedule",
            ),
            (
                zendesk.replace("streams = [\"users\"]", "streams = [\"events\"]"),
                "source.streams[0]",
            ),
        ] {
            let errors = validate(&schema, &broken);
            assert!(
                errors.iter().any(|e| e.contains(says)),
                "{says}: {errors:#?}"
            );
        }
    }

    #[test]
    fn the_reference_example_is_a_valid_flow() {
        let r = registry();
        let errors = validate(&flow_schema(&r), EXAMPLE);
        assert!(errors.is_empty(), "{errors:#?}");
        let flow = Flow::parse(
            Path::new("/repo/config/flows/example.toml"),
            EXAMPLE,
            &Overrides::default(),
            &any_env,
        )
        .expect("the example parses");
        builds(&r, &flow.connector, &flow.connector_config).expect("and builds");
    }

    #[test]
    fn docs_flows_md_is_the_generated_reference() {
        let r = registry();
        let path = repo().join("docs/flows.md");
        let want = flows_reference(&r);
        if std::env::var_os("SLUICE_BLESS").is_some() {
            std::fs::write(&path, &want).expect("bless");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/flows.md is out of date: run SLUICE_BLESS=1 cargo test -p sluice-runner \
             flow_schema"
        );
        for table in ENGINE_TABLES {
            for k in table.keys {
                assert!(have.contains(&format!("| `{}` |", k.name)), "{}", k.name);
            }
        }
        for c in CONNECTORS {
            assert!(have.contains(&format!("### `{}`", c.connector)));
            assert!(
                repo()
                    .join(format!("docs/connectors/{}.md", c.connector))
                    .exists(),
                "the reference links docs/connectors/{}.md",
                c.connector
            );
        }
        // README links here by these headings
        assert!(have.contains("\n## Object store destinations\n"));
    }
}
