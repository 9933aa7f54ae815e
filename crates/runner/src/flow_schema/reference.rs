//! `docs/flows.md`: how to use the schema in an editor, an annotated example, the engine's
//! keys by table, and each registered connector with its keys.

use sluice_core::settings_doc::{Key, Kind, Rule};
use sluice_core::{Registry, SyncMode};

use super::engine::ENGINE_TABLES;

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

pub(super) fn rule_line(rule: &Rule) -> String {
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

Generated from the key tables (the engine's in `crates/runner/src/flow_schema/engine.rs`, each \
connector's in its `settings_doc.rs`), which also make the flow file's JSON Schema (`sluice \
schema flow`); tests hold the tables to the parsers (`Flow::parse` and each connector's \
settings) and check every flow of `config/flows/` against the schema. Regenerate with \
`SLUICE_BLESS=1 cargo test --test flow_schema`.

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
pub const EXAMPLE: &str = r#"name = "zendesk-users"          # required: letters, digits, - and _; names state and files
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
connect_timeout_seconds = 10    # the longest wait for a connection to open
request_timeout_seconds = 300   # the longest a whole request may take (not streamed exports)
retry_budget_seconds = 900      # the most one request waits across its retries

[source]                        # the seeds' source connection params
streams = ["users"]             # optional: default the connector's choice; ["*"]: every stream
page_size = 1000                # the connector's keys
# lookback_days = 2             # day streams: complete days every run pulls again (the seeds'
                                # "Backfill (days)"); default per stream
# initial_days = 7              # day streams: days a first run pulls, today included

[mapping]                       # optional: default writes every field of the stream schema
file = "../mappings/zendesk-users.json"

[destination]
format = "parquet"              # required: parquet | delta (Delta Lake) | arrow (Arrow IPC) | jsonl
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
  file), which also holds the state database. At each commit the files are uploaded to \
  `_sluice/tmp/` in the store (in 8 MiB parts when large), the state store records their \
  promotion, a snapshot of the state goes to `_sluice/state/<flow>.db` in the store, and the \
  files are copied to their places within the store: an object appears whole or not at all, and \
  a crash anywhere is finished by the next run, as on a local disk. \
  Files a `--force` backfill or a re-pulled Mixpanel day replaces are deleted from the store.
- A machine without the flow's state (a fresh Kubernetes pod, another Airflow worker: an empty \
  `work_dir`) starts from the lake's snapshot, so running the flow there writes each record once \
  (issue #14). The copy leaves out rotated OAuth refresh tokens (a secret has no place in the \
  data bucket): with a vendor that rotates them (Pinterest), give such machines the current token \
  or keep their work dir. Limits of the lake's copy: only one machine may run a flow at a time \
  (its locks are local to a machine); and every machine must use the same `work_dir` path (the \
  state names files by it: set an absolute one in containers). A machine that kept an old work \
  dir while another ran the flow notices (each copy counts a generation) and takes the lake's \
  copy. With `[state] url` (PostgreSQL) none of this applies: every machine shares the one \
  state and its leases, no copy is made, and `--shard K/N` splits a run or a backfill over \
  machines.
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
        let Ok(keys) = registry.settings(name) else {
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
