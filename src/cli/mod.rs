//! Command-line interface. Exit codes (stable, for cron and Kubernetes):
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success, including a run with nothing new, or a run stopped by a signal after committing |
//! | 1 | the run failed (API, network, disk); committed progress is kept |
//! | 2 | invalid command line, flow file or mapping set, or a state that disagrees with the lake; nothing was run |
//! | 3 | more records failed mapping than the flow's `error_threshold` allows |
//! | 4 | another run of the same flow (in the same mode: run or backfill) is in progress |
//! | 5 | a vendor's daily quota ran out; committed progress is kept, the next run continues |

mod catalog;
mod commands;
mod init;
mod map;
mod output;
mod sandbox;
mod summary;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_INVALID: u8 = 2;
pub const EXIT_THRESHOLD: u8 = 3;
pub const EXIT_LOCKED: u8 = 4;
pub const EXIT_QUOTA: u8 = 5;
/// A backfill stopped by SIGINT/SIGTERM before every window was done: what was complete is
/// committed, and the same command finishes it. Not 0, so a Kubernetes Job or an Airflow task
/// whose pod was drained is run again instead of counted done.
pub const EXIT_INTERRUPTED: u8 = 6;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Pull ad, support and product-analytics APIs into Parquet, on a schedule or as backfills"
)]
struct Cli {
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Only warnings and errors in the log (RUST_LOG overrides).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a flow once: pull what changed, map it, write it, commit state, report.
    ///
    /// Example: sluice run config/flows/zendesk-users.toml --sandbox
    Run {
        /// The flow file (TOML).
        flow: PathBuf,
        /// One JSON summary on stdout instead of the human line (`sluice schema summary`).
        #[arg(long)]
        json: bool,
        /// Print what the run would request (streams, slices, where each starts, requests
        /// and the quota time they take) and stop: no request, no lock, no write.
        #[arg(long)]
        dry_run: bool,
        /// Start the built-in API simulator and point the flow at it with sandbox credentials.
        #[arg(long)]
        sandbox: bool,
        /// Replace the connection's request quota, COUNT/SECONDS (with --sandbox, the
        /// simulator's too).
        #[arg(long, value_name = "COUNT/SECONDS")]
        quota: Option<String>,
        /// Run shard K of N (K from 0; Kubernetes: $JOB_COMPLETION_INDEX/N): each task (a
        /// stream and slice, or a window) belongs to one shard by a stable hash of its key, and
        /// each shard paces at 1/N of the quota. Needs a shared [state] url (PostgreSQL).
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
    },
    /// Load a day range in windows, resumably: completed windows are skipped on a rerun.
    ///
    /// Example: sluice backfill config/flows/pinterest-campaign-analytics.toml --from 2026-01-01 --to 2026-03-31 --dry-run
    Backfill {
        /// The flow file (TOML).
        flow: PathBuf,
        /// First day (YYYY-MM-DD, UTC), inclusive.
        #[arg(long)]
        from: String,
        /// Last day, inclusive.
        #[arg(long)]
        to: String,
        /// Window size: 7d, 2w, or days (default: the connector's layout that takes the fewest
        /// requests, else 7d).
        #[arg(long)]
        window: Option<String>,
        /// Streams to backfill (default: the flow's).
        #[arg(long, value_delimiter = ',')]
        streams: Option<Vec<String>>,
        /// Pull completed windows again and replace their files.
        #[arg(long)]
        force: bool,
        /// Windows at a time.
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Print the plan and stop.
        #[arg(long)]
        dry_run: bool,
        /// One JSON summary on stdout instead of the plan and the human line.
        #[arg(long)]
        json: bool,
        /// Start the built-in API simulator and point the flow at it with sandbox credentials.
        #[arg(long)]
        sandbox: bool,
        /// Replace the connection's request quota, COUNT/SECONDS (with --sandbox, the
        /// simulator's too).
        #[arg(long, value_name = "COUNT/SECONDS")]
        quota: Option<String>,
        /// Run shard K of N (K from 0; Kubernetes: $JOB_COMPLETION_INDEX/N): each task (a
        /// stream and slice, or a window) belongs to one shard by a stable hash of its key, and
        /// each shard paces at 1/N of the quota. Needs a shared [state] url (PostgreSQL).
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
    },
    /// Run flows on their schedules until SIGINT/SIGTERM (one process, bounded concurrency).
    /// Flows without a [schedule] are skipped with a note; invalid ones are all reported.
    ///
    /// Example: sluice schedule config/flows/ --max-concurrent 2
    Schedule {
        /// Flow files, or directories of them.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Runs at a time, across all flows.
        #[arg(long, default_value_t = 2)]
        max_concurrent: usize,
        /// Start the built-in API simulator and point every flow at it.
        #[arg(long)]
        sandbox: bool,
        /// Replace every connection's request quota, COUNT/SECONDS.
        #[arg(long, value_name = "COUNT/SECONDS")]
        quota: Option<String>,
    },
    /// List the connectors sluice has, with what each pulls.
    ///
    /// Example: sluice connectors --json
    Connectors {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List a connector's streams: key, sync mode, backfill, partitioning, rate category and
    /// columns with their types. No flow file, credentials or network needed.
    ///
    /// Example: sluice streams pinterest --stream campaign_analytics
    Streams {
        /// A connector (`sluice connectors` lists them).
        connector: String,
        /// Only this stream.
        #[arg(long)]
        stream: Option<String>,
        /// One JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a JSON Schema: `summary` (what `--json` prints) or `flow` (flow files, for
    /// editors such as Taplo and VS Code).
    ///
    /// Example: sluice schema flow > flow.schema.json
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        what: SchemaKind,
    },
    /// Write a commented starter flow for a connector (`./CONNECTOR.toml`) and the seed's
    /// mapping set (`./mappings/CONNECTOR.json`); it runs with `--sandbox` as written.
    ///
    /// Example: sluice init pinterest --destination s3://lake/raw/pinterest
    Init {
        /// A connector (`sluice connectors` lists them).
        connector: String,
        /// Streams to pull (default: the seed flow's, with its mapping set; others are
        /// written with every field).
        #[arg(long, value_delimiter = ',')]
        streams: Option<Vec<String>>,
        /// Where files go: a directory or an object store URL (default: out/CONNECTOR).
        #[arg(long)]
        destination: Option<String>,
        /// Replace files that exist.
        #[arg(long)]
        force: bool,
    },
    /// Validate a flow and its mapping set without any network access, before its secrets
    /// exist: every environment variable a run needs and that is unset is listed.
    ///
    /// Example: sluice check config/flows/zendesk-users.toml
    Check {
        /// The flow file (TOML).
        flow: PathBuf,
        /// Check it as `run --sandbox` would run it (the simulator's URL and credentials).
        #[arg(long)]
        sandbox: bool,
        /// One JSON summary on stdout instead of the listing.
        #[arg(long)]
        json: bool,
    },
    /// Show a stream's schema and a preview of its records (like the seeds' explore call).
    ///
    /// Example: sluice discover config/flows/mixpanel-events.toml --sandbox --limit 3
    Discover {
        /// The flow file (TOML).
        flow: PathBuf,
        /// Stream to preview (default: the flow's first).
        #[arg(long)]
        stream: Option<String>,
        /// Records to show.
        #[arg(long, default_value_t = 5)]
        limit: usize,
        /// Ask the built-in API simulator instead of the vendor.
        #[arg(long)]
        sandbox: bool,
    },
    /// Show flows' run history (runs and backfills), newest first. Reads only.
    ///
    /// Example: sluice runs config/flows/ --limit 5
    Runs {
        /// Flow files, or directories of them.
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Runs to show per flow.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// One JSON report per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Inspect or reset a flow's stored state.
    ///
    /// Example: sluice state show config/flows/zendesk-users.toml
    State {
        #[command(subcommand)]
        action: StateAction,
    },
    /// Map a file of JSON lines with a mapping set into Parquet, Arrow IPC or JSON lines.
    ///
    /// Example: sluice map --mapping config/mappings/zendesk-users.json --input users.jsonl --output users.parquet
    Map(map::MapArgs),
    /// Measure a mapping set on a file: records/s, MB/s, peak memory, where the time goes.
    ///
    /// Example: sluice bench --mapping config/mappings/zendesk-users.json --input users.jsonl
    Bench(map::BenchArgs),
    /// Serve the API simulators (Zendesk, Mixpanel, Pinterest, LinkedIn) for tests, benchmarks
    /// and demos.
    ///
    /// Example: sluice sandbox --port 8900 --faults 429x3@2
    Sandbox(sandbox::SandboxArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaKind {
    /// Flow files (TOML), for editors.
    Flow,
    /// What `run|backfill|check --json` prints.
    Summary,
}

#[derive(Subcommand)]
enum StateAction {
    /// Print a flow's stored positions (times in ISO-8601) and backfilled days as JSON.
    /// Reads only.
    Show {
        /// The flow file (TOML).
        flow: PathBuf,
    },
    /// Forget a flow's incremental positions (all streams, or one) so the next run starts
    /// afresh; backfill windows keep theirs.
    Reset {
        /// The flow file (TOML).
        flow: PathBuf,
        /// Only this stream.
        #[arg(long)]
        stream: Option<String>,
    },
    /// Accept that the lake lost committed files (deleted by hand, expired by a lifecycle
    /// rule): the state forgets them, and runs stop refusing to start.
    ForgetMissing {
        /// The flow file (TOML).
        flow: PathBuf,
    },
}

/// An error line on stderr, with every secret masked (vendors echo what they were sent).
pub fn print_error(message: &str) {
    let masked = sluice_core::redact(message);
    summary::remember_error(&masked);
    if LOG_JSON.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::error!("{masked}");
    } else {
        let mut err = std::io::stderr().lock();
        sluice_runner::clear_for_log(&mut err);
        let _ = writeln!(err, "error: {masked}");
    }
}

/// A warning or note of a command (not a log event), as `print_error` does errors.
pub fn print_notice(kind: &str, message: &str) {
    let masked = sluice_core::redact(message);
    if LOG_JSON.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(kind, "{masked}");
    } else {
        let mut err = std::io::stderr().lock();
        sluice_runner::clear_for_log(&mut err);
        let _ = writeln!(err, "{kind}: {masked}");
    }
}

/// `--log-format json`: every stderr line is JSON, the command's own error lines too.
static LOG_JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Stderr for log lines, each masked before it is written: a log line may quote a vendor's
/// body. The formatter writes one event per call, so no secret is split between writes.
struct RedactedStderr;

impl std::io::Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut err = std::io::stderr().lock();
        // a drawn progress line is cleared first: the log line must not glue onto it
        sluice_runner::clear_for_log(&mut err);
        err.write_all(sluice_core::redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn init_logging(format: LogFormat, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // a panic's message may hold a vendor's text too
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if sluice_core::redact(message) != message {
            eprintln!("sluice panicked: {}", sluice_core::redact(message));
        } else {
            report(info);
        }
    }));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactedStderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => {
            LOG_JSON.store(true, std::sync::atomic::Ordering::Relaxed);
            builder.json().init()
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::cli::print_error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Run {
                flow,
                json,
                dry_run,
                sandbox,
                quota,
                shard,
            } => {
                commands::run(
                    &flow,
                    sandbox,
                    quota.as_deref(),
                    shard.as_deref(),
                    json,
                    dry_run,
                )
                .await
            }
            Command::Backfill {
                flow,
                from,
                to,
                window,
                streams,
                force,
                concurrency,
                dry_run,
                json,
                sandbox,
                quota,
                shard,
            } => {
                commands::backfill(commands::BackfillArgs {
                    flow: &flow,
                    from: &from,
                    to: &to,
                    window: window.as_deref(),
                    streams,
                    force,
                    concurrency,
                    sandbox,
                    quota: quota.as_deref(),
                    shard: shard.as_deref(),
                    dry_run,
                    json,
                })
                .await
            }
            Command::Check {
                flow,
                sandbox,
                json,
            } => commands::check(&flow, sandbox, json).await,
            Command::Connectors { json } => catalog::connectors(json),
            Command::Schema { what } => match what {
                SchemaKind::Summary => output::print_json(&summary::schema()),
                SchemaKind::Flow => {
                    output::print_json(&sluice_runner::flow_schema(&commands::registry()))
                }
            },
            Command::Init {
                connector,
                streams,
                destination,
                force,
            } => init::init(init::InitArgs {
                connector: &connector,
                streams,
                destination: destination.as_deref(),
                force,
            }),
            Command::Streams {
                connector,
                stream,
                json,
            } => catalog::streams(&connector, stream.as_deref(), json),
            Command::Schedule {
                flows,
                max_concurrent,
                sandbox,
                quota,
            } => commands::schedule(&flows, sandbox, max_concurrent, quota.as_deref()).await,
            Command::Discover {
                flow,
                stream,
                limit,
                sandbox,
            } => commands::discover(&flow, stream.as_deref(), limit, sandbox).await,
            Command::Runs { flows, limit, json } => commands::runs(&flows, limit, json),
            Command::State { action } => match action {
                StateAction::Show { flow } => commands::state_show(&flow),
                StateAction::Reset { flow, stream } => {
                    commands::state_reset(&flow, stream.as_deref())
                }
                StateAction::ForgetMissing { flow } => commands::state_forget_missing(&flow),
            },
            Command::Sandbox(args) => sandbox::serve(args).await,
            Command::Map(args) => tokio::task::block_in_place(|| map::map(args)),
            Command::Bench(args) => tokio::task::block_in_place(|| map::bench(args)),
        }
    });
    ExitCode::from(code)
}
