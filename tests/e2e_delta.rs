//! Delta Lake destinations: the built binary against the Zendesk simulator, and the tables read
//! back by delta-rs's own reader (the PyPI `deltalake` package, with pyarrow), so what counts is
//! what a Delta reader sees, not what sluice believes it wrote.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use serde_json::Value;

/// `python3` with `deltalake` and `pyarrow` importable (pip-installed once if they are not).
fn python() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        assert!(
            python_modules("deltalake, pyarrow", &["deltalake", "pyarrow"]),
            "python3 with deltalake and pyarrow is needed to read the tables back \
             (python3 -m pip install deltalake pyarrow)"
        );
    });
    "python3"
}

/// What delta-rs reads of the table at `table`: its version, rows, user ids, files and columns.
fn read_table(table: &Path) -> Value {
    const SCRIPT: &str = r#"
import json, os, sys
from deltalake import DeltaTable
dt = DeltaTable(sys.argv[1])
t = dt.to_pyarrow_table()
ids = t.column("_extconndev").combine_chunks().field("id").to_pylist() if t.num_rows else []
print(json.dumps({
    "version": dt.version(),
    "rows": t.num_rows,
    "ids": ids,
    "files": sorted(os.path.basename(u) for u in dt.file_uris()),
    "columns": t.column_names,
    "dates": sorted({str(d) for d in t.column("date").to_pylist()}),
    "partitions": dt.metadata().partition_columns,
}))
sys.stdout.flush()
# the reader's runtime threads can abort a normal interpreter exit ("terminate called
# without an active exception"): leave without the teardown
os._exit(0)
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(SCRIPT)
        .arg(table)
        .output()
        .expect("python3 ran");
    assert!(
        out.status.success(),
        "the deltalake reader failed on {}: {}",
        table.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reader output")
}

fn delta_flow(h: &Harness, destination: &str) -> std::path::PathBuf {
    let flow = h.flow_with("users", "", "", destination);
    let text = std::fs::read_to_string(&flow).expect("flow");
    std::fs::write(
        &flow,
        text.replace("format = \"parquet\"", "format = \"delta\""),
    )
    .expect("write flow");
    flow
}

fn ids(table: &Value) -> Vec<i64> {
    table["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|i| i.as_i64().expect("id"))
        .collect()
}

/// Every user of the truth exactly once.
fn assert_each_user_once(table: &Value, truth: &[Value]) {
    let got = ids(table);
    let unique: BTreeSet<i64> = got.iter().copied().collect();
    assert_eq!(unique.len(), got.len(), "a user is in the table twice");
    let want: BTreeSet<i64> = truth
        .iter()
        .map(|u| u["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(unique, want, "the table's users differ from the sandbox's");
}

fn log_versions(table: &Path) -> usize {
    std::fs::read_dir(table.join("_delta_log"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_flow_writes_a_table_that_delta_readers_open_and_grows_it_per_run() {
    let h = harness(2_000, "").await;
    let flow = delta_flow(&h, "file_rows = 500");
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let table_dir = h.dest().join("users");
    let table = read_table(&table_dir);
    assert_each_user_once(&table, &h.truth().await);
    assert_eq!(table["partitions"], serde_json::json!(["date"]));
    let columns: Vec<&str> = table["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        columns.contains(&"_extconndev") && columns.contains(&"date"),
        "{columns:?}"
    );
    // the table holds exactly the files the lake holds: none missing, none extra
    let on_disk: Vec<String> = parquet_files(&table_dir)
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    let mut in_table: Vec<String> = table["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f.as_str().expect("file").to_string())
        .collect();
    in_table.sort();
    assert_eq!(in_table, on_disk);
    assert!(on_disk.len() >= 4, "500 rows a file: {on_disk:?}");
    let first_version = table["version"].as_i64().expect("version");

    // a run with nothing new adds no version; one with updated users adds them
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(read_table(&table_dir)["version"], first_version);
    let touched = h.touch(40).await;
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let grown = read_table(&table_dir);
    assert!(grown["version"].as_i64().expect("version") > first_version);
    assert_eq!(
        grown["rows"].as_u64().expect("rows"),
        2_000 + touched.len() as u64,
        "the updated users are appended once each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_backfill_removes_each_replaced_file_in_the_version_that_adds_its_replacement() {
    let h = harness(3_000, "").await;
    let flow = delta_flow(&h, "");
    let backfill = |force: bool| {
        let mut args = vec![
            "backfill".to_string(),
            flow.to_string_lossy().into_owned(),
            "--from".into(),
            "2023-01-01".into(),
            "--to".into(),
            "2023-06-30".into(),
            "--window".into(),
            "30d".into(),
        ];
        if force {
            args.push("--force".into());
        }
        args
    };
    let run = |args: Vec<String>| {
        let dir = h.dir.path().to_path_buf();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_binary(&args, &dir).await
        }
    };
    let out = run(backfill(false)).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let table_dir = h.dest().join("users");
    let before = read_table(&table_dir);
    let in_range: Vec<Value> = h
        .truth()
        .await
        .into_iter()
        .filter(|u| {
            let t = u["updated_at"].as_str().expect("updated_at");
            ("2023-01-01T00:00:00Z".."2023-07-01T00:00:00Z").contains(&t)
        })
        .collect();
    assert!(in_range.len() > 100, "the range holds users");
    assert_each_user_once(&before, &in_range);

    let out = run(backfill(true)).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let after = read_table(&table_dir);
    assert_each_user_once(&after, &in_range);
    let old: BTreeSet<&str> = before["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let new: BTreeSet<&str> = after["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(old.is_disjoint(&new), "every window's files were replaced");
    // a window's old files leave in the very version that adds its new ones
    let log = table_dir.join("_delta_log");
    let mut replacing = 0;
    for e in std::fs::read_dir(&log).expect("log").flatten() {
        let text = std::fs::read_to_string(e.path()).expect("commit");
        let mut added = BTreeSet::new();
        let mut removed = BTreeSet::new();
        for line in text.lines() {
            let action: Value = serde_json::from_str(line).expect("action");
            for (kind, into) in [("add", &mut added), ("remove", &mut removed)] {
                if let Some(path) = action[kind]["path"].as_str() {
                    into.insert(window_of(path));
                }
            }
        }
        if !removed.is_empty() {
            assert_eq!(
                removed, added,
                "a version retired another window's files: {text}"
            );
            replacing += 1;
        }
    }
    assert!(
        replacing >= 6,
        "one replacing version per window: {replacing}"
    );
    assert_eq!(
        parquet_files(&table_dir).len(),
        new.len(),
        "the retired files are deleted once the table no longer names them"
    );
}

/// The window a data file belongs to, from its name: `part-<run>-<task>-<seq>.parquet`, where a
/// run id is `<time>-<4 hex>`.
fn window_of(path: &str) -> String {
    let name = path.rsplit('/').next().expect("name");
    let rest = name.strip_prefix("part-").expect("a part file");
    let task = rest.splitn(3, '-').nth(2).expect("task and seq");
    task.rsplit_once('-').expect("seq").0.to_string()
}

/// Crash a run at `point` of its first commit, then run again: every user once in the table.
async fn crash_at_then_rerun(point: &str) {
    let h = harness(1_500, "").await;
    let flow = delta_flow(&h, "");
    let crashed = run_binary_with(
        &["run", flow.to_str().expect("path")],
        h.dir.path(),
        &[
            ("ZENDESK_EMAIL", EMAIL),
            ("ZENDESK_API_TOKEN", TOKEN),
            ("SLUICE_TEST_ABORT_AT", point),
        ],
    )
    .await;
    assert_ne!(crashed.code, 0, "the run was to abort: {}", crashed.all());
    assert!(
        crashed.stderr.contains(&format!("aborting at `{point}`")),
        "{}",
        crashed.all()
    );
    let table_dir = h.dest().join("users");
    let promoted = parquet_files(&table_dir).len();
    assert!(promoted >= 1, "the first page's file was promoted");
    let logged = log_versions(&table_dir);
    match point {
        "before-delta-commit" => assert_eq!(logged, 0, "nothing was logged before the crash"),
        _ => assert_eq!(logged, 1, "the first commit was logged before the crash"),
    }
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let table = read_table(&table_dir);
    assert_each_user_once(&table, &h.truth().await);
    assert_eq!(
        table["files"].as_array().expect("files").len(),
        parquet_files(&table_dir).len(),
        "the table names every file the lake holds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_upload_and_delta_commit_leaves_one_copy_of_every_row() {
    crash_at_then_rerun("before-delta-commit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_delta_commit_does_not_log_the_files_twice() {
    crash_at_then_rerun("after-delta-commit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_table_on_an_object_store_is_committed_there() {
    let h = harness(800, "").await;
    let flow = delta_flow(&h, "");
    let lake = to_object_store(&flow, &h.dir.path().join("bucket"));
    let out = h.run(&flow, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let table = read_table(&lake.join("users"));
    assert_each_user_once(&table, &h.truth().await);
    assert!(lake
        .join("users/_delta_log/00000000000000000000.json")
        .exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_column_named_like_the_partition_column_is_refused_before_any_request() {
    let h = harness(50, "").await;
    let mapping: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("config/mappings/zendesk-users.json"))
            .expect("mapping"),
    )
    .expect("mapping json");
    let mut mapping = mapping;
    mapping["mappings"]
        .as_array_mut()
        .expect("entries")
        .push(serde_json::json!({
            "sourceType": "ATTRIBUTE",
            "source": "results.created_at",
            "destination": "Date"
        }));
    let mapping_file = h.dir.path().join("clash.json");
    std::fs::write(&mapping_file, mapping.to_string()).expect("write mapping");
    let flow = delta_flow(&h, "");
    let text = std::fs::read_to_string(&flow).expect("flow");
    let original = repo().join("config/mappings/zendesk-users.json");
    std::fs::write(
        &flow,
        text.replace(
            &original.display().to_string(),
            &mapping_file.display().to_string(),
        ),
    )
    .expect("write flow");
    let out = h.run(&flow, &[]).await;
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.all().contains("`Date` clashes") && out.all().contains("rename it in the mapping set"),
        "{}",
        out.all()
    );
    assert_eq!(
        h.stats().await["vendors"]["zendesk"]["requests"],
        0,
        "refused before a request"
    );
    assert!(!h.dest().join("users/_delta_log").exists());
}
