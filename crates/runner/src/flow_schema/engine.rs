//! The tables of a flow file the engine reads (`Flow::parse`, `Schedule`): its own keys,
//! beside which each connector declares its `[connection]` and `[source]` keys.

use sluice_core::settings_doc::{choice, key, Key, Kind};

/// A table of a flow file the engine reads.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// `""` for the top level.
    pub name: &'static str,
    pub required: bool,
    pub about: &'static str,
    pub keys: &'static [Key],
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
    key(
        "connect_timeout_seconds",
        Kind::Int { min: 1, max: None },
        "The longest wait for a connection to open. A connection refused before the server \
         ever answered fails at once (a wrong `base_url`), whatever this says.",
    )
    .default("`10`"),
    key(
        "request_timeout_seconds",
        Kind::Int { min: 1, max: None },
        "The longest one whole request may take, body included (streamed exports have no \
         such limit: `read_timeout_seconds` watches them).",
    )
    .default("`300`"),
    key(
        "retry_budget_seconds",
        Kind::Int { min: 0, max: None },
        "The most one request waits across all its retries and quota waits; past it the \
         request fails (a quota wait longer than `max_wait_seconds` stops the run sooner).",
    )
    .default("`900`"),
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
        choice(&[
            "parquet", "delta", "arrow", "ipc", "feather", "jsonl", "ndjson",
        ]),
        "The file format: `parquet`, `delta` (each stream a Delta Lake table of Parquet files, \
         partitioned by `date`), `arrow` (Arrow IPC; also `ipc`, `feather`) or `jsonl` (also \
         `ndjson`).",
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

const STATE: &[Key] = &[
    key(
        "path",
        Kind::Path,
        "A SQLite state database (positions, committed files, run history, a rotated refresh \
         token), for flows run by one machine at a time. Flows of one OAuth authorization \
         (rotating refresh tokens) share one. Not with `url`.",
    )
    .default("without `[state]`: `<destination path or work_dir>/_sluice/state.db`"),
    key(
        "url",
        Kind::Text,
        "A PostgreSQL state store shared by every machine that runs the flow \
         (`postgres://USER@HOST:PORT/DATABASE`, or `${NAME}` for the whole URL): needed by \
         `--shard`; its leases replace the local lock files. No password in the text: use \
         `password`. `?sslmode=require` connects with TLS and verifies the server's \
         certificate (public roots, or `ca_file`); otherwise the connection is in the clear \
         (a private network or a socket). Not with `path`.",
    ),
    key(
        "ca_file",
        Kind::Path,
        "With `url` and `sslmode=require`: a PEM file of the certificate authorities that sign \
         the server's certificate (a private CA, a cloud's database CA bundle), trusted beside \
         the public roots.",
    ),
    key(
        "password",
        Kind::Credential,
        "With `url`: the PostgreSQL password, as `${NAME}`.",
    ),
    key(
        "schema",
        Kind::Text,
        "With `url`: the PostgreSQL schema holding sluice's tables, created on first use \
         (letters, digits and `_`).",
    )
    .default("`sluice`"),
];

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

/// The engine table called `name` (`""`: the top level).
pub(super) fn engine_table(name: &str) -> &'static [Key] {
    ENGINE_TABLES
        .iter()
        .find(|t| t.name == name)
        .map_or(&[], |t| t.keys)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::{Flow, Overrides};

    /// Every variable is set: the flows' references resolve.
    fn any_env(_: &str) -> Option<String> {
        Some("probe@example.com".into())
    }

    fn names(keys: &[Key]) -> BTreeSet<String> {
        keys.iter().map(|k| k.name.to_string()).collect()
    }

    #[test]
    fn engine_connection_and_source_keys_are_those_every_connectors_settings_accept() {
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

    const MINIMAL: &str = "name = \"f\"\n[connection]\nconnector = \"any\"\n[source]\n\
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
                "connector = \"any\"\n",
                "connector = \"any\"\nquota = \"1/1\"\nmax_page_bytes = \"1 MiB\"\n\
                 max_retries = 1\nmax_wait_seconds = 1\nread_timeout_seconds = 1\n\
                 connect_timeout_seconds = 1\nrequest_timeout_seconds = 1\nretry_budget_seconds = 1\n",
            )
            .replace(
                "[source]\n",
                "[source]\nstreams = [\"s\"]\nlookback_days = 1\ninitial_days = 1\n",
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
            .replace("connector = \"any\"\n", "connector = \"any\"\nother = 1\n");
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
}
