//! One harness for the end-to-end tests: a sandbox on port 0 in the test's runtime, a temp dir,
//! flow files written for them, and the built `sluice` binary run as a real process.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, StructArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use sluice_sandbox::{ExportOrder, FaultPlan, Sandbox, SandboxConfig};

pub const EMAIL: &str = "agent@example.com";
pub const TOKEN: &str = "tok-9f8e7d6c5b4a-DO-NOT-LEAK";

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// One output row, as the seed's mapping set writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: i64,
    pub updated_at: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub role: Option<String>,
}

pub async fn harness(users: u64, faults: &str) -> Harness {
    harness_with(users, faults, ExportOrder::Ascending).await
}

pub async fn harness_with(users: u64, faults: &str, order: ExportOrder) -> Harness {
    let mut config = SandboxConfig::default();
    config.zendesk.users = users;
    config.zendesk.order = order;
    config.faults = FaultPlan::parse(faults).expect("valid faults");
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), config)
        .await
        .expect("sandbox starts");
    Harness {
        dir: tempfile::tempdir().expect("tempdir"),
        sandbox,
        http: reqwest::Client::new(),
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Harness {
    pub fn dest(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Write a flow named `name` for this sandbox. `source` and `extra` are TOML lines added to
    /// the `[source]` table and the top level.
    pub fn flow(&self, name: &str, source: &str, top: &str) -> PathBuf {
        self.flow_with(name, source, top, "")
    }

    /// As [`Harness::flow`], with extra lines for the `[destination]` table.
    pub fn flow_with(&self, name: &str, source: &str, top: &str, destination: &str) -> PathBuf {
        let mapping = repo().join("config/mappings/zendesk-users.json");
        let text = format!(
            r#"name = "{name}"
{top}
[connection]
connector = "zendesk"
base_url = "{base}"
email = "${{ZENDESK_EMAIL}}"
api_token = "${{ZENDESK_API_TOKEN}}"
quota = "6000/60"

[source]
streams = ["users"]
{source}

[mapping]
file = "{mapping}"

[destination]
format = "parquet"
path = "out"
{destination}
"#,
            base = self.sandbox.base_url(),
            mapping = mapping.display(),
            source = if source.contains("page_size") {
                source.to_string()
            } else {
                format!("page_size = 500\n{source}")
            },
        );
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("write flow");
        path
    }

    pub async fn set_faults(&self, faults: &str) {
        let r = self
            .http
            .post(format!("{}/_sandbox/faults", self.sandbox.base_url()))
            .body(faults.to_string())
            .send()
            .await
            .expect("faults request");
        assert!(r.status().is_success(), "faults rejected: {}", r.status());
    }

    pub async fn touch(&self, count: u64) -> Vec<u64> {
        self.touch_with(serde_json::json!({"count": count})).await
    }

    /// Touch users with a raw request body (`ids`, `count`, `index_lag_s`).
    pub async fn touch_with(&self, body: Value) -> Vec<u64> {
        let v: Value = self
            .http
            .post(format!(
                "{}/_sandbox/zendesk/touch",
                self.sandbox.base_url()
            ))
            .json(&body)
            .send()
            .await
            .expect("touch")
            .json()
            .await
            .expect("touch json");
        v["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|i| i.as_u64().expect("id"))
            .collect()
    }

    /// Every user the sandbox holds now, as the export returns them.
    pub async fn truth(&self) -> Vec<Value> {
        let url = format!("{}/_sandbox/zendesk/users", self.sandbox.base_url());
        get_ndjson(&self.http, &url).await
    }

    pub async fn stats(&self) -> Value {
        get_json(
            &self.http,
            &format!("{}/_sandbox/stats", self.sandbox.base_url()),
        )
        .await
    }

    pub async fn run(&self, flow: &Path, args: &[&str]) -> Output {
        run_binary(
            &[&["run", flow.to_str().expect("utf8 path")], args].concat(),
            self.dir.path(),
        )
        .await
    }
}

/// Run the built binary with the Zendesk test credentials in its environment.
/// A JSON body from the sandbox's inspection endpoints.
pub async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let response = http.get(url).send().await.expect(url);
    response.json().await.expect(url)
}

/// A newline-delimited JSON body from the sandbox's inspection endpoints, one value per line.
pub async fn get_ndjson(http: &reqwest::Client, url: &str) -> Vec<Value> {
    let response = http.get(url).send().await.expect(url);
    let text = response.text().await.expect(url);
    text.lines()
        .map(|l| serde_json::from_str(l).expect(url))
        .collect()
}

pub async fn run_binary(args: &[&str], cwd: &Path) -> Output {
    run_binary_with(
        args,
        cwd,
        &[("ZENDESK_EMAIL", EMAIL), ("ZENDESK_API_TOKEN", TOKEN)],
    )
    .await
}

/// Run the built binary with `env` (info-level logs), within two minutes.
pub async fn run_binary_with(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(args)
            .current_dir(cwd)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .output(),
    )
    .await
    .expect("sluice finished in time")
    .expect("sluice ran");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !name.starts_with('_') {
                out.extend(parquet_files(&p));
            }
        } else if name.ends_with(".parquet") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn string_field(s: &StructArray, name: &str, i: usize) -> Option<String> {
    let col = s.column_by_name(name).expect("field present");
    let col = col.as_string::<i32>();
    (!col.is_null(i)).then(|| col.value(i).to_string())
}

/// Every row under `dest/users`, in file order.
pub fn read_rows(dest: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for f in parquet_files(&dest.join("users")) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&f).expect("open"))
            .expect("parquet")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let s = batch
                .column_by_name("_extconndev")
                .expect("_extconndev column")
                .as_struct();
            let ids = s
                .column_by_name("id")
                .expect("id")
                .as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                rows.push(Row {
                    id: ids.value(i),
                    updated_at: string_field(s, "updated_at", i),
                    name: string_field(s, "name", i),
                    phone: string_field(s, "phone", i),
                    external_id: string_field(s, "external_id", i),
                    role: string_field(s, "role", i),
                });
            }
        }
    }
    rows
}

pub fn truth_rows(truth: &[Value]) -> BTreeMap<i64, Row> {
    let s = |v: &Value| v.as_str().map(str::to_string);
    truth
        .iter()
        .map(|u| {
            let id = u["id"].as_i64().expect("id");
            (
                id,
                Row {
                    id,
                    updated_at: s(&u["updated_at"]),
                    name: s(&u["name"]),
                    phone: s(&u["phone"]),
                    external_id: s(&u["external_id"]),
                    role: s(&u["role"]),
                },
            )
        })
        .collect()
}

/// The output holds every user of the truth exactly once, with its values intact.
pub fn assert_equals_truth(rows: &[Row], truth: &[Value]) {
    let expected = truth_rows(truth);
    let mut seen = BTreeMap::new();
    for r in rows {
        assert!(
            seen.insert(r.id, r.clone()).is_none(),
            "user {} written twice",
            r.id
        );
    }
    assert_eq!(
        seen.len(),
        expected.len(),
        "row count differs from the sandbox's users"
    );
    for (id, want) in &expected {
        let got = seen
            .get(id)
            .unwrap_or_else(|| panic!("user {id} missing from the output"));
        assert_eq!(got, want, "user {id} differs");
    }
}

pub fn reports(dest: &Path) -> Vec<Value> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dest.join("_runs"))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.ends_with(".json") && !n.starts_with("rejects-")
                })
                .map(|e| {
                    let text = std::fs::read_to_string(e.path()).expect("report");
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        serde_json::from_str(&text).expect("report json"),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}

/// Point `flow`'s destination at an object store: a `file://` URL on `lake`, which goes through
/// the object store code path (uploads, deletes, no renames). Returns the lake directory.
pub fn to_object_store(flow: &Path, lake: &Path) -> PathBuf {
    std::fs::create_dir_all(lake).expect("lake dir");
    let text = std::fs::read_to_string(flow).expect("flow");
    assert!(text.contains("path = \"out\""), "{text}");
    let text = text.replace(
        "path = \"out\"",
        &format!("path = \"file://{}/\"", lake.display()),
    );
    std::fs::write(flow, text).expect("write flow");
    lake.to_path_buf()
}

/// Whether `python3` imports `modules` (a comma-separated list), after pip-installing
/// `packages` if it did not: the readers outside sluice that tests check its output with.
pub fn python_modules(modules: &str, packages: &[&str]) -> bool {
    let ready = || {
        std::process::Command::new("python3")
            .args(["-c", &format!("import {modules}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !ready() {
        let _ = std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages)
            .status();
    }
    ready()
}
