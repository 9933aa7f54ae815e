//! `sluice map` and `sluice bench`: the mapping engine on a file, outside any flow.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use sluice_core::StreamSchema;
use sluice_mapping::{closest, compile, ColumnSource, CompiledMapping, MappingSet};
use sluice_runner::mapfile::{map_file, peak_rss_bytes, Input, MapJob, MapStats};
use sluice_sinks::{Format, ParquetOptions};

use super::output::out;
use super::{EXIT_FAILED, EXIT_INVALID};

/// Bytes of input read to infer a schema when none is given.
const INFER_BYTES: usize = 1 << 20;

#[derive(Args)]
pub struct MapArgs {
    /// The mapping set (the seeds' mapping-set JSON).
    #[arg(long)]
    mapping: PathBuf,
    /// JSON lines to map (gzip accepted), or `-` for standard input.
    #[arg(long)]
    input: String,
    /// Where to write: .parquet, .arrow or .jsonl (or give --format).
    #[arg(long)]
    output: PathBuf,
    /// The records' JSON Schema (the seeds' explore response works); inferred from the first
    /// megabyte of input when absent.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Output format, when the extension does not say.
    #[arg(long)]
    format: Option<String>,
    /// Write rejected records here (JSON lines with reasons).
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Mapping threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

#[derive(Args)]
pub struct BenchArgs {
    /// The mapping set (the seeds' mapping-set JSON).
    #[arg(long)]
    mapping: PathBuf,
    /// JSON lines to map (gzip accepted).
    #[arg(long)]
    input: PathBuf,
    /// The records' JSON Schema; inferred from the first megabyte of input when absent.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Output format for the timed run.
    #[arg(long, default_value = "parquet")]
    format: String,
    /// Mapping threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Records of the sample the per-entry costs are measured on.
    #[arg(long, default_value_t = 20_000)]
    sample: usize,
}

fn input_of(s: &str) -> Input {
    if s == "-" {
        Input::Stdin
    } else {
        Input::File(PathBuf::from(s))
    }
}

/// The schema: from `--schema`, or inferred from `head` (then `Some` of how many records it saw).
fn schema_for(path: Option<&Path>, head: &[u8]) -> Result<(StreamSchema, Option<usize>), String> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not JSON: {e}", p.display()))?;
            let schema =
                StreamSchema::from_json_schema(&v).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok((schema, None))
        }
        None => {
            // the last line of the head may be cut: leave it out
            let end = memchr_last_newline(head).unwrap_or(head.len());
            let sample = &head[..end];
            let records = sample
                .split(|b| *b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                .count();
            Ok((StreamSchema::infer(sample), Some(records)))
        }
    }
}

fn memchr_last_newline(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|c| *c == b'\n')
}

/// Compile the mapping set at `path` against `schema`. With a schema inferred from a `sample`
/// (how many records, and what they showed), `schema` is the opened sample: a source the
/// sample did not show is read as text with a warning, not refused, because a field can be
/// absent from every record of a head and still come later.
fn compile_mapping(
    path: &Path,
    schema: &StreamSchema,
    sample: Option<(usize, &StreamSchema)>,
) -> Result<(MappingSet, CompiledMapping), String> {
    let set = MappingSet::from_file(path).map_err(|e| e.to_string())?;
    let out =
        compile(&path.display().to_string(), &set, Some(schema)).map_err(|e| e.to_string())?;
    for w in &out.warnings {
        super::print_notice("warning", &format!("{}: {w}", path.display()));
    }
    if let Some((records, seen)) = sample {
        let known = seen.leaf_paths();
        for unseen in unseen_sources(&out.mapping, seen) {
            let hint = closest(&unseen, known.iter().map(String::as_str))
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            super::print_notice(
                "warning",
                &format!(
                    "{}: source `{unseen}` is not in the first {records} records, which the \
                     schema was inferred from: it is read as text (null where absent). Give \
                     --schema to type it{hint}",
                    path.display()
                ),
            );
        }
    }
    Ok((set, out.mapping))
}

/// Sources a compiled mapping reads (columns and expression inputs) that `schema` does not
/// declare, each once.
fn unseen_sources(mapping: &CompiledMapping, schema: &StreamSchema) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in mapping.columns() {
        if let ColumnSource::Attribute(path) = &c.source {
            let refs: Vec<&str> = path.iter().map(String::as_str).collect();
            let joined = path.join(".");
            if schema.lookup_declared(&refs).is_none() && !out.contains(&joined) {
                out.push(joined);
            }
        }
    }
    out
}

/// What `map` and `bench` both need: the input (its head read for inference, then replayed),
/// the schema and the compiled mapping.
struct Prepared {
    head: Vec<u8>,
    reader: Box<dyn std::io::Read + Send>,
    schema: StreamSchema,
    set: MappingSet,
    mapping: CompiledMapping,
}

fn prepare(input: &Input, schema: Option<&Path>, mapping: &Path) -> Result<Prepared, String> {
    let (head, reader) = input
        .open_with_head(INFER_BYTES)
        .map_err(|e| e.to_string())?;
    let (given, sampled) = schema_for(schema, &head)?;
    // an inferred schema is a sample: its objects may hold fields the sample did not show
    let (schema, sample) = match sampled {
        Some(records) => (given.opened(), Some((records, given))),
        None => (given, None),
    };
    let (set, mapping) = compile_mapping(mapping, &schema, sample.as_ref().map(|(n, s)| (*n, s)))?;
    Ok(Prepared {
        head,
        reader,
        schema,
        set,
        mapping,
    })
}

fn mib(b: u64) -> f64 {
    b as f64 / 1_048_576.0
}

pub fn map(args: MapArgs) -> u8 {
    let format = match args
        .format
        .as_deref()
        .map(Format::parse)
        .unwrap_or_else(|| Format::from_path(&args.output))
    {
        Some(f) => f,
        None => {
            crate::cli::print_error(&format!("--output {}: say the format with the extension (.parquet, .arrow, .jsonl) or --format", args.output.display()));
            return EXIT_INVALID;
        }
    };
    let Prepared {
        reader, mapping, ..
    } = match prepare(
        &input_of(&args.input),
        args.schema.as_deref(),
        &args.mapping,
    ) {
        Ok(p) => p,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return EXIT_INVALID;
        }
    };
    let job = MapJob {
        mapping: Arc::new(mapping),
        input: reader,
        input_name: args.input.clone(),
        output: args.output.clone(),
        format,
        rejects: args.rejects.clone(),
        workers: args.workers,
        chunk_bytes: 1 << 20,
        parquet: ParquetOptions::default(),
        timed: false,
    };
    match map_file(job) {
        Ok(s) => {
            out!(
                "{} → {}: {} records in, {} written, {} rejected{}; {:.1} MiB in {:.2} s ({:.0} records/s)",
                args.input,
                args.output.display(),
                s.records_in,
                s.records_out,
                s.rejected,
                match (&args.rejects, s.rejected) {
                    (Some(p), n) if n > 0 => format!(" (see {})", p.display()),
                    (None, n) if n > 0 => " (give --rejects FILE to keep them)".to_string(),
                    _ => String::new(),
                },
                mib(s.bytes_in),
                s.wall.as_secs_f64(),
                s.records_in as f64 / s.wall.as_secs_f64().max(1e-9),
            );
            0
        }
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            EXIT_FAILED
        }
    }
}

/// The fastest of `runs` timings of `f`.
fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

pub fn bench(args: BenchArgs) -> u8 {
    let Some(format) = Format::parse(&args.format) else {
        crate::cli::print_error(&format!(
            "--format {}: use parquet, arrow or jsonl",
            args.format
        ));
        return EXIT_INVALID;
    };
    let Prepared {
        head,
        reader,
        schema,
        set,
        mapping,
    } = match prepare(
        &Input::File(args.input.clone()),
        args.schema.as_deref(),
        &args.mapping,
    ) {
        Ok(p) => p,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return EXIT_INVALID;
        }
    };
    let dir = match tempfile_dir() {
        Ok(d) => d,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return EXIT_FAILED;
        }
    };
    let output = dir.join(format!("bench.{}", format.extension()));
    let job = MapJob {
        mapping: Arc::new(mapping.clone()),
        input: reader,
        input_name: args.input.display().to_string(),
        output: output.clone(),
        format,
        rejects: None,
        workers: args.workers,
        chunk_bytes: 1 << 20,
        parquet: ParquetOptions::default(),
        timed: true,
    };
    let stats: MapStats = match map_file(job) {
        Ok(s) => s,
        Err(e) => {
            crate::cli::print_error(&e.to_string());
            return EXIT_FAILED;
        }
    };
    let peak = peak_rss_bytes();
    let secs = stats.wall.as_secs_f64().max(1e-9);
    out!(
        "input     {:.1} MiB, {} records ({} rejected)",
        mib(stats.bytes_in),
        stats.records_in,
        stats.rejected
    );
    out!(
        "output    {}, {:.1} MiB",
        format.extension(),
        mib(stats.bytes_out)
    );
    out!(
        "wall      {:.3} s: {:.0} records/s, {:.0} MiB/s",
        secs,
        stats.records_in as f64 / secs,
        mib(stats.bytes_in) / secs
    );
    match peak {
        Some(p) => out!("peak RSS  {:.1} MiB", mib(p)),
        None => out!("peak RSS  (not measurable on this system)"),
    };
    let workers = args.workers.max(1);
    out!(
        "stages    decode {:.3} s · evaluate {:.3} s (summed over {workers} worker{}) · encode {:.3} s \
         · write {:.3} s (the writer) · read {:.3} s (the reader)",
        stats.decode().as_secs_f64(),
        stats.evaluate.as_secs_f64(),
        if workers == 1 { "" } else { "s" },
        stats.encode().as_secs_f64(),
        stats.io.as_secs_f64(),
        stats.read.as_secs_f64(),
    );
    out!("bound     {}", bound(&stats, workers));

    // where the mapping time goes: each entry's share, by leaving it out on a sample
    let end = head
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(args.sample.saturating_sub(1))
        .map_or_else(
            || memchr_last_newline(&head).unwrap_or(head.len()),
            |(i, _)| i + 1,
        );
    let sample = &head[..end];
    let time_full = || {
        best_of(3, || {
            let _ = mapping.map_ndjson(sample);
        })
    };
    // the whole mapping is timed again between variants and its fastest run
    // kept, so a cold first measurement or drift does not show up as cost
    let mut full = time_full();
    let mut variants = Vec::new();
    for i in 0..set.mappings.len() {
        let mut without = set.clone();
        let entry = without.mappings.remove(i);
        let Ok(out) = compile("ablation", &without, Some(&schema)) else {
            continue;
        };
        full = full.min(time_full());
        let t = best_of(3, || {
            let _ = out.mapping.map_ndjson(sample);
        });
        variants.push((t, i, entry));
    }
    let mut costs: Vec<_> = variants
        .into_iter()
        .map(|(t, i, entry)| (full.saturating_sub(t), i, entry))
        .filter(|(cost, ..)| !cost.is_zero())
        .collect();
    costs.sort_by_key(|c| std::cmp::Reverse(c.0));
    let records = sample.iter().filter(|b| **b == b'\n').count();
    out!(
        "costliest mapping entries (each left out in turn, on a {records}-record sample; whole mapping {:.1} ms):",
        full.as_secs_f64() * 1000.0
    );
    if costs.is_empty() {
        out!("  none stands out: leaving any one out saves less than the timing noise");
    }
    for (cost, i, entry) in costs.iter().take(5) {
        out!(
            "  mappings[{i}] {} → {}: {:.1} % ({:.2} ms)",
            entry.source,
            entry.destination,
            100.0 * cost.as_secs_f64() / full.as_secs_f64().max(1e-9),
            cost.as_secs_f64() * 1000.0
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    0
}

/// Which stage bounds a `map`: the reader, the mapping workers and the writer run side by side,
/// so the busiest lane sets the pace, unless together they keep every core busy.
fn bound(stats: &MapStats, workers: usize) -> String {
    let s = |d: std::time::Duration| d.as_secs_f64();
    let per_worker = s(stats.map) / workers as f64;
    let plural = if workers == 1 { "" } else { "s" };
    let lanes = [
        (
            per_worker,
            if stats.decode() >= stats.evaluate {
                "decode"
            } else {
                "evaluate"
            },
            format!("the {workers} mapping worker{plural} {per_worker:.3} s each"),
        ),
        (
            s(stats.write),
            if stats.encode() >= stats.io {
                "encode"
            } else {
                "write"
            },
            format!("the writer {:.3} s", s(stats.write)),
        ),
        (
            s(stats.read),
            "read",
            format!("the reader {:.3} s", s(stats.read)),
        ),
    ];
    let busiest = lanes
        .iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or("decode", |l| l.1);
    let busy = s(stats.map) + s(stats.write) + s(stats.read);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wall = s(stats.wall).max(1e-9);
    let detail: Vec<&str> = lanes.iter().map(|l| l.2.as_str()).collect();
    let verdict = if busy / wall >= 0.9 * cores as f64 {
        format!("every one of the {cores} cores was busy: the run is CPU-bound, so less work in {busiest} is what makes it faster")
    } else {
        format!("the cores were not all busy, so {busiest}'s lane sets the pace")
    };
    format!(
        "{busiest} (busy: {}; {busy:.3} s in all, {:.1}× the wall time): {verdict}",
        detail.join(", "),
        busy / wall
    )
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("sluice-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}
