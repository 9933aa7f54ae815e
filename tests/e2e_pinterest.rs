//! The built binary against the Pinterest simulator: seed 000's flows, the synchronous and
//! asynchronous routes and their request counts, id chunks, token refresh, the API's transient
//! errors, a daily quota that runs out, and one quota shared by two flows.

mod common;
#[path = "../crates/state/tests/support/pg.rs"]
mod pg;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use chrono::{Days, NaiveDate, Utc};
use common::{get_json, parquet_files, reports, Output};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use sluice_sandbox::{credentials, FaultPlan, PinterestConfig, QuotaSpec, Sandbox, SandboxConfig};

struct Pin {
    dir: tempfile::TempDir,
    sandbox: Sandbox,
    http: reqwest::Client,
}

async fn pinterest(config: PinterestConfig, faults: &str) -> Pin {
    let sandbox = Sandbox::start(
        ([127, 0, 0, 1], 0).into(),
        SandboxConfig {
            pinterest: config,
            faults: FaultPlan::parse(faults).expect("faults"),
            ..SandboxConfig::default()
        },
    )
    .await
    .expect("sandbox");
    Pin {
        dir: tempfile::tempdir().expect("tempdir"),
        sandbox,
        http: reqwest::Client::new(),
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

const ENV: [(&str, &str); 3] = [
    (
        "PINTEREST_REFRESH_TOKEN",
        credentials::PINTEREST_REFRESH_TOKEN,
    ),
    ("PINTEREST_CLIENT_ID", credentials::PINTEREST_CLIENT_ID),
    (
        "PINTEREST_CLIENT_SECRET",
        credentials::PINTEREST_CLIENT_SECRET,
    ),
];

impl Pin {
    fn dest(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// A flow named `name` with the seed's mapping set; `source` and `connection` add lines.
    fn flow(&self, name: &str, source: &str, connection: &str) -> PathBuf {
        let mapping = common::repo().join("config/mappings/pinterest-analytics.json");
        let text = format!(
            "name = \"{name}\"\n[connection]\nconnector = \"pinterest\"\nbase_url = \"{}\"\n\
             refresh_token = \"${{PINTEREST_REFRESH_TOKEN}}\"\nclient_id = \"${{PINTEREST_CLIENT_ID}}\"\n\
             client_secret = \"${{PINTEREST_CLIENT_SECRET}}\"\n{connection}\n\
             [source]\nad_account_id = \"{}\"\n{source}\n\
             [mapping]\nfile = \"{}\"\n[destination]\nformat = \"parquet\"\npath = \"out\"\n",
            self.sandbox.base_url(),
            credentials::PINTEREST_AD_ACCOUNT_ID,
            mapping.display()
        );
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("flow");
        path
    }

    async fn sluice(&self, args: &[&str]) -> Output {
        common::run_binary_with(args, self.dir.path(), &ENV).await
    }

    async fn backfill(
        &self,
        flow: &Path,
        from: NaiveDate,
        to: NaiveDate,
        extra: &[&str],
    ) -> Output {
        let (f, t) = (from.to_string(), to.to_string());
        let args = [
            &[
                "backfill",
                flow.to_str().expect("path"),
                "--from",
                &f,
                "--to",
                &t,
            ][..],
            extra,
        ]
        .concat();
        self.sluice(&args).await
    }

    async fn stats(&self) -> Value {
        get_json(
            &self.http,
            &format!("{}/_sandbox/stats", self.sandbox.base_url()),
        )
        .await["vendors"]["pinterest"]
            .clone()
    }

    /// What a complete pull of `level` over the days must hold: (id, day, IMPRESSION_1_GROSS).
    async fn truth(
        &self,
        level: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> BTreeSet<(String, String, Option<i64>)> {
        let url = format!(
            "{}/_sandbox/pinterest/analytics?level={level}&start_date={from}&end_date={to}&columns=IMPRESSION_1_GROSS,TOTAL_ENGAGEMENT",
            self.sandbox.base_url()
        );
        let rows: Vec<Value> = get_json(&self.http, &url)
            .await
            .as_array()
            .cloned()
            .expect("rows");
        let key = match level {
            "CAMPAIGN" => "CAMPAIGN_ID",
            "AD_GROUP" => "AD_GROUP_ID",
            "AD" => "AD_ID",
            _ => "AD_ACCOUNT_ID",
        };
        rows.iter()
            .map(|r| {
                let id = match &r[key] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (
                    id,
                    r["DATE"].as_str().expect("DATE").to_string(),
                    r["IMPRESSION_1_GROSS"].as_i64(),
                )
            })
            .collect()
    }
}

fn batches(dir: &Path) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for f in parquet_files(dir) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&f).expect("open"))
            .expect("parquet")
            .build()
            .expect("reader");
        out.extend(reader.map(|b| b.expect("batch")));
    }
    out
}

/// (id, day, IMPRESSION_1_GROSS) of every row the seed's mapping wrote for `stream`; the id is
/// the mapping's destination of `id_column`.
fn written(dest: &Path, stream: &str, id_column: &str) -> Vec<(String, String, Option<i64>)> {
    let mut out = Vec::new();
    for batch in batches(&dest.join(stream)) {
        let s = batch
            .column_by_name("_extconndev")
            .expect("_extconndev")
            .as_struct();
        let text = |name: &str, i: usize| {
            let col = s.column_by_name(name).expect(name);
            let col = col.as_string::<i32>();
            (!col.is_null(i)).then(|| col.value(i).to_string())
        };
        let imps = s
            .column_by_name("IMPRESSION_1_GROSS")
            .expect("impressions")
            .as_primitive::<arrow_array::types::Int64Type>();
        for i in 0..batch.num_rows() {
            out.push((
                text(id_column, i).expect("id"),
                text("DATE", i).expect("DATE"),
                (!imps.is_null(i)).then(|| imps.value(i)),
            ));
        }
    }
    out
}

/// Each truth row written exactly once.
fn assert_exactly(
    written: Vec<(String, String, Option<i64>)>,
    truth: &BTreeSet<(String, String, Option<i64>)>,
) {
    let mut seen = BTreeMap::new();
    for row in &written {
        *seen.entry((row.0.clone(), row.1.clone())).or_insert(0) += 1;
    }
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(3).collect();
    assert!(doubled.is_empty(), "written twice: {doubled:?}");
    let got: BTreeSet<_> = written.into_iter().collect();
    let missing: Vec<_> = truth.difference(&got).take(3).collect();
    let extra: Vec<_> = got.difference(truth).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} rows written, {} in the truth; missing {missing:?}, extra {extra:?}",
        got.len(),
        truth.len()
    );
}

fn route(stats: &Value, path: &str) -> u64 {
    stats["by_route"][path]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_day_backfill_uses_reports_then_sync_requests_as_few_as_the_limits_allow() {
    let p = pinterest(PinterestConfig::default(), "").await;
    let flow = p.flow("campaigns", "object_type = \"campaigns\"", "");
    let (from, to) = (today() - Days::new(200), today() - Days::new(1));
    let dry = p.backfill(&flow, from, to, &["--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        dry.stdout.contains("2 windows: 0 done, 2 to run"),
        "{}",
        dry.stdout
    );
    let out = p.backfill(&flow, from, to, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = p.stats().await;
    // 12 campaigns: one chunk. 111 old days: one report; 89 recent days: one sync request
    assert_eq!(
        route(
            &stats,
            "/v5/ad_accounts/{ad_account_id}/campaigns/analytics"
        ),
        1,
        "{stats}"
    );
    assert_eq!(stats["reports_created"], 1, "{stats}");
    assert_eq!(stats["downloads"], 1, "{stats}");
    assert_exactly(
        written(&p.dest(), "campaign_analytics", "ID_CAMPAIGN"),
        &p.truth("CAMPAIGN", from, to).await,
    );
    // every day has its partition, an empty day too
    let days = std::fs::read_dir(p.dest().join("campaign_analytics"))
        .expect("dir")
        .count();
    assert!(days > 100, "{days} day partitions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ads_are_pulled_in_chunks_of_250_and_a_rerun_replaces_the_days_it_pulls_again() {
    let p = pinterest(PinterestConfig::default(), "").await;
    let flow = p.flow(
        "ads",
        "object_type = \"ads\"\nlookback_days = 5\ninitial_days = 10",
        "",
    );
    let out = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = p.stats().await;
    // 650 ads (archived and paused ones included): 3 chunks, one 10-day range
    assert_eq!(
        route(&stats, "/v5/ad_accounts/{ad_account_id}/ads/analytics"),
        3,
        "{stats}"
    );
    let (from, to) = (today() - Days::new(9), today());
    assert_exactly(
        written(&p.dest(), "ad_analytics", "AD_ID"),
        &p.truth("AD", from, to).await,
    );
    // the rerun pulls the last 5 days again: they replace their earlier files, so the output
    // still holds each (ad, day) once
    let again = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_exactly(
        written(&p.dest(), "ad_analytics", "AD_ID"),
        &p.truth("AD", from, to).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_report_and_an_expired_link_are_asked_for_again() {
    // the first report fails at its first poll; the second's first link has expired
    let p = pinterest(
        PinterestConfig::default(),
        "report-failed@3,expire-linkx3@6",
    )
    .await;
    let flow = p.flow("campaigns", "object_type = \"campaigns\"", "");
    let (from, to) = (today() - Days::new(150), today() - Days::new(100));
    let out = p.backfill(&flow, from, to, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = p.stats().await;
    assert_eq!(stats["reports_created"], 2, "{stats}");
    assert!(
        stats["downloads_refused"].as_u64().expect("n") >= 1,
        "{stats}"
    );
    assert_exactly(
        written(&p.dest(), "campaign_analytics", "ID_CAMPAIGN"),
        &p.truth("CAMPAIGN", from, to).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once_and_the_rotated_one_serves_the_next_run() {
    let p = pinterest(PinterestConfig::default(), "").await;
    // ad group targeting of 5 types, pulled at once: all see the expired token together
    let flow = p.flow(
        "targeting",
        "streams = [\"ad_group_targeting_analytics_age_bucket\", \"ad_group_targeting_analytics_country\", \
         \"ad_group_targeting_analytics_gender\", \"ad_group_targeting_analytics_keyword\", \
         \"ad_group_targeting_analytics_placement\"]\ninitial_days = 3",
        "",
    );
    let first = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(
        p.stats().await["refreshes"],
        1,
        "no access token given: one refresh"
    );
    // the sandbox rotated the refresh token; the environment still has the first one
    let second = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(second.code, 0, "{}", second.all());
    let stats = p.stats().await;
    assert_eq!(stats["refreshes"], 2, "{stats}");
    assert_eq!(
        stats["refreshes_refused"], 0,
        "the kept token was used: {stats}"
    );
    for dir in [
        "ad_group_targeting_analytics_age_bucket",
        "ad_group_targeting_analytics_placement",
    ] {
        assert!(!batches(&p.dest().join(dir)).is_empty(), "{dir} written");
    }
    let all = first.all() + &second.all();
    assert!(
        !all.contains(credentials::PINTEREST_REFRESH_TOKEN),
        "no token in the logs"
    );
    assert!(!all.contains("pinr."), "no rotated token in the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apis_transient_errors_are_retried() {
    let p = pinterest(
        PinterestConfig::default(),
        "retry-after=1@3,code12@4,500@5,429@6",
    )
    .await;
    let flow = p.flow(
        "campaigns",
        "object_type = \"campaigns\"\ninitial_days = 95",
        "",
    );
    let out = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let (from, to) = (today() - Days::new(94), today());
    assert_exactly(
        written(&p.dest(), "campaign_analytics", "ID_CAMPAIGN"),
        &p.truth("CAMPAIGN", from, to).await,
    );
    let report = reports(&p.dest()).remove(0);
    assert!(
        report["requests"]["retries"].as_u64().expect("n") >= 4,
        "{}",
        report["requests"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_quota_that_runs_out_mid_backfill_stops_cleanly_and_a_later_run_finishes() {
    // the third request meets a spent daily budget (reset in 18 hours)
    let p = pinterest(PinterestConfig::default(), "daily-quotax1000@4").await;
    let flow = p.flow("campaigns", "object_type = \"campaigns\"", "");
    let (from, to) = (today() - Days::new(400), today() - Days::new(1));
    let out = p.backfill(&flow, from, to, &["--concurrency", "1"]).await;
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(out.stderr.contains("Run again after"), "{}", out.stderr);
    let report = reports(&p.dest()).remove(0);
    assert_eq!(
        report["metrics"]["statusSummary"]["status"],
        "quota_exhausted"
    );
    // the budget is back: the backfill goes on from where it stopped
    let reset = p
        .http
        .post(format!("{}/_sandbox/faults", p.sandbox.base_url()))
        .body("")
        .send()
        .await
        .expect("faults");
    assert!(reset.status().is_success());
    let again = p.backfill(&flow, from, to, &[]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_exactly(
        written(&p.dest(), "campaign_analytics", "ID_CAMPAIGN"),
        &p.truth("CAMPAIGN", from, to).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_flows_of_one_user_share_its_analytics_quota() {
    // the user's quota at the server; each flow is told a little less, so two flows that did
    // not share it would send nearly twice what the server takes
    let config = PinterestConfig {
        quota: Some(QuotaSpec::new("all", 16, 2)),
        ..PinterestConfig::default()
    };
    let p = pinterest(config, "").await;
    let streams =
        "streams = [\"ad_targeting_analytics_age_bucket\", \"ad_targeting_analytics_gender\", \
                   \"ad_targeting_analytics_country\"]\ninitial_days = 3";
    let quota = "quota = \"14/2\"";
    let a = p.flow("a", streams, quota);
    let b = p.flow("b", streams, quota);
    let text = std::fs::read_to_string(&b)
        .expect("flow")
        .replace("path = \"out\"", "path = \"out-b\"");
    std::fs::write(&b, text).expect("flow");
    for f in [&a, &b] {
        let text = std::fs::read_to_string(f).expect("flow")
            + "[schedule]\nstart_time = 1\nfrequency = \"once\"\n";
        std::fs::write(f, text).expect("flow");
    }
    let out = p
        .sluice(&[
            "schedule",
            a.to_str().expect("path"),
            b.to_str().expect("path"),
            "--max-concurrent",
            "2",
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = p.stats().await;
    let limited: u64 = stats["categories"]
        .as_object()
        .expect("categories")
        .values()
        .filter_map(|c| c["429"].as_u64())
        .sum();
    assert_eq!(
        limited,
        0,
        "the two flows together stayed within the user's quota: {stats}\n{}",
        out.all()
    );
    // each flow: 3 streams × 3 chunks of ads, plus the listing
    assert!(stats["requests"].as_u64().expect("n") >= 20, "{stats}");
    for out in ["out", "out-b"] {
        let r = reports(&p.dir.path().join(out));
        assert_eq!(r.len(), 1, "{out}");
        assert_eq!(
            r[0]["metrics"]["statusSummary"]["status"], "success",
            "{out}"
        );
    }
}

/// A config flow copied beside `dir`, writing to `dir/out`, its mapping set named absolutely.
fn copied_flow(dir: &Path, name: &str) -> PathBuf {
    let src = common::repo().join("config/flows").join(name);
    let text = std::fs::read_to_string(&src)
        .expect("flow")
        .replace("path = \"../../out/pinterest\"", "path = \"out\"")
        .replace(
            "file = \"../mappings/",
            &format!("file = \"{}/config/mappings/", common::repo().display()),
        );
    let path = dir.join(name);
    std::fs::write(&path, text).expect("flow");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pinterest_flows_run_in_the_sandbox_and_duckdb_reads_them() {
    let dir = tempfile::tempdir().expect("dir");
    let mut flows: Vec<String> = std::fs::read_dir(common::repo().join("config/flows"))
        .expect("config/flows")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("pinterest-") && n.ends_with(".toml"))
        .collect();
    flows.sort();
    assert!(flows.len() >= 9, "{flows:?}");
    for file in &flows {
        let flow = copied_flow(dir.path(), file);
        let out = common::run_binary_with(
            &["run", flow.to_str().expect("path"), "--sandbox"],
            dir.path(),
            &[],
        )
        .await;
        assert_eq!(out.code, 0, "{file}: {}", out.all());
    }
    // together the flows write every stream of seed 004, an empty one its schema
    let written: BTreeSet<String> = reports(&dir.path().join("out"))
        .iter()
        .flat_map(|r| r["streams"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s["stream"].as_str().map(str::to_string))
        .collect();
    assert_eq!(written.len(), 44, "{written:?}");
    for stream in &written {
        assert!(
            !parquet_files(&dir.path().join("out").join(stream)).is_empty(),
            "no file for {stream}"
        );
    }
    let rows: usize = batches(&dir.path().join("out/campaign_analytics"))
        .iter()
        .map(RecordBatch::num_rows)
        .sum();
    let duckdb = std::process::Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !duckdb {
        eprintln!(
            "note: no duckdb for python here (.ci/run installs it): the DuckDB read is skipped"
        );
        return;
    }
    let script = format!(
        "import duckdb\n\
         r = duckdb.sql(\"SELECT count(*), count(DISTINCT _extconndev.ID_CAMPAIGN), count(DISTINCT date), \
         sum(_extconndev.IMPRESSION_1_GROSS) > 0 FROM read_parquet('{}/out/campaign_analytics/**/*.parquet', hive_partitioning = true)\").fetchall()[0]\n\
         print(r[0], r[1], r[2], r[3])",
        dir.path().display()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        fields.first().copied(),
        Some(rows.to_string().as_str()),
        "{text}"
    );
    assert!(
        fields
            .get(1)
            .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n > 1)),
        "{text}"
    );
    assert!(
        fields
            .get(2)
            .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 28)),
        "{text}"
    );
    assert_eq!(fields.get(3).copied(), Some("True"), "{text}");
}

/// A flow of campaign analytics written without a mapping set, to `out-<name>`.
fn unmapped_flow(p: &Pin, name: &str, policy: &str) -> PathBuf {
    let text = format!(
        "name = \"{name}\"\nschema_policy = \"{policy}\"\n[connection]\nconnector = \"pinterest\"\n\
         base_url = \"{}\"\nrefresh_token = \"${{PINTEREST_REFRESH_TOKEN}}\"\n\
         client_id = \"${{PINTEREST_CLIENT_ID}}\"\nclient_secret = \"${{PINTEREST_CLIENT_SECRET}}\"\n\
         [source]\nad_account_id = \"{}\"\nobject_type = \"campaigns\"\ninitial_days = 3\n\
         lookback_days = 3\n[destination]\nformat = \"parquet\"\npath = \"out-{name}\"\n\
         [state]\npath = \"shared-state.db\"\n",
        p.sandbox.base_url(),
        credentials::PINTEREST_AD_ACCOUNT_ID,
    );
    let path = p.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("flow");
    path
}

fn has_column(dir: &Path, column: &str) -> bool {
    batches(dir)
        .iter()
        .any(|b| b.schema().column_with_name(column).is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_the_api_starts_sending_follows_the_schema_policy_and_a_mapped_flow_lists_it() {
    const NEW: &str = "NEW_METRIC_SANDBOX";
    let p = pinterest(PinterestConfig::default(), "").await;
    let flows: Vec<(&str, PathBuf)> = ["evolve", "ignore", "fail"]
        .into_iter()
        .map(|policy| (policy, unmapped_flow(&p, policy, policy)))
        .collect();
    let mapped = p.flow(
        "mapped",
        "object_type = \"campaigns\"\ninitial_days = 3",
        "",
    );
    // the flows share one authorization, whose refresh token rotates: they share its state
    let text =
        std::fs::read_to_string(&mapped).expect("flow") + "[state]\npath = \"shared-state.db\"\n";
    std::fs::write(&mapped, text).expect("flow");
    // the first runs see the columns as they are
    for (policy, flow) in &flows {
        let out = p.sluice(&["run", flow.to_str().expect("path")]).await;
        assert_eq!(out.code, 0, "{policy}: {}", out.all());
        let dir = p
            .dir
            .path()
            .join(format!("out-{policy}/campaign_analytics"));
        assert!(
            has_column(&dir, "SPEND_IN_MICRO_DOLLAR"),
            "{policy}: default columns"
        );
        assert!(!has_column(&dir, NEW), "{policy}: no new column yet");
    }
    let out = p.sluice(&["run", mapped.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    // then the API starts sending a column nobody asked for
    let set = p
        .http
        .post(format!("{}/_sandbox/faults", p.sandbox.base_url()))
        .body("new-columnx100000@1")
        .send()
        .await
        .expect("faults");
    assert!(set.status().is_success());
    for (policy, flow) in &flows {
        let out = p.sluice(&["run", flow.to_str().expect("path")]).await;
        let dest = p.dir.path().join(format!("out-{policy}"));
        let dir = dest.join("campaign_analytics");
        let report = reports(&dest).pop().expect("report");
        let stream = &report["streams"][0];
        match *policy {
            "evolve" => {
                assert_eq!(out.code, 0, "{}", out.all());
                assert!(has_column(&dir, NEW), "evolve adds the column");
                assert_eq!(stream["addedFields"], serde_json::json!([NEW]), "{report}");
            }
            "ignore" => {
                assert_eq!(out.code, 0, "{}", out.all());
                assert!(!has_column(&dir, NEW), "ignore drops the column");
                assert_eq!(
                    stream["ignoredFields"],
                    serde_json::json!([NEW]),
                    "{report}"
                );
            }
            _ => {
                assert_ne!(out.code, 0, "fail stops: {}", out.all());
                assert!(
                    out.all().contains(NEW) && out.all().contains("schema_policy"),
                    "{}",
                    out.all()
                );
                assert!(!has_column(&dir, NEW), "nothing of it is written");
            }
        }
    }
    let out = p.sluice(&["run", mapped.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let report = reports(&p.dest()).pop().expect("report");
    assert_eq!(
        report["streams"][0]["unmappedFields"],
        serde_json::json!([NEW]),
        "{report}"
    );
    assert!(
        report["warnings"].as_array().is_some_and(|w| w
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains(NEW)))),
        "{report}"
    );
}

impl Pin {
    /// A flow of entity (or unmapped) streams, without a mapping set, writing to `out`.
    fn list_flow(&self, name: &str, source: &str) -> PathBuf {
        let text = format!(
            "name = \"{name}\"\n[connection]\nconnector = \"pinterest\"\nbase_url = \"{}\"\n\
             refresh_token = \"${{PINTEREST_REFRESH_TOKEN}}\"\nclient_id = \"${{PINTEREST_CLIENT_ID}}\"\n\
             client_secret = \"${{PINTEREST_CLIENT_SECRET}}\"\n\
             [source]\n{source}\n\
             [destination]\nformat = \"parquet\"\npath = \"out\"\n",
            self.sandbox.base_url(),
        );
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("flow");
        path
    }

    /// The truth of an entity list: `fields` of each item, as text.
    async fn entity_truth(&self, query: &str, fields: &[&str]) -> BTreeSet<Vec<String>> {
        let url = format!(
            "{}/_sandbox/pinterest/entities?{query}",
            self.sandbox.base_url()
        );
        let items = get_json(&self.http, &url).await;
        items
            .as_array()
            .unwrap_or_else(|| panic!("{url}: {items}"))
            .iter()
            .map(|item| {
                fields
                    .iter()
                    .map(|f| match &item[*f] {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect()
    }
}

/// Text columns of every row written for `stream` (a null is empty), and how often each
/// row was written.
fn text_rows(dest: &Path, stream: &str, columns: &[&str]) -> BTreeMap<Vec<String>, usize> {
    let mut out = BTreeMap::new();
    for batch in batches(&dest.join(stream)) {
        let cols: Vec<_> = columns
            .iter()
            .map(|c| {
                batch
                    .column_by_name(c)
                    .unwrap_or_else(|| panic!("{stream} has no column {c}"))
                    .clone()
            })
            .collect();
        for i in 0..batch.num_rows() {
            let row: Vec<String> = cols
                .iter()
                .map(|c| {
                    let c = c.as_string::<i32>();
                    if c.is_null(i) {
                        String::new()
                    } else {
                        c.value(i).to_string()
                    }
                })
                .collect();
            *out.entry(row).or_insert(0) += 1;
        }
    }
    out
}

/// Each truth row written exactly once.
fn assert_rows(stream: &str, written: BTreeMap<Vec<String>, usize>, truth: &BTreeSet<Vec<String>>) {
    let doubled: Vec<_> = written.iter().filter(|(_, n)| **n > 1).take(3).collect();
    assert!(doubled.is_empty(), "{stream}: written twice: {doubled:?}");
    let got: BTreeSet<Vec<String>> = written.into_keys().collect();
    let missing: Vec<_> = truth.difference(&got).take(3).collect();
    let extra: Vec<_> = got.difference(truth).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && !truth.is_empty(),
        "{stream}: {} rows written, {} in the truth; missing {missing:?}, extra {extra:?}",
        got.len(),
        truth.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_lists_iterate_their_parents_over_pages_and_rows_carry_the_parents_ids() {
    let p = pinterest(PinterestConfig::default(), "").await;
    // 5 a page: a board's 14 pins take three pages
    let flow = p.list_flow(
        "children",
        &format!(
            "streams = [\"board\", \"board_section\", \"pin_on_board\", \"pin_on_board_section\", \
             \"keyword\", \"audience\"]\nad_account_id = \"{}\"\npage_size = 5",
            credentials::PINTEREST_AD_ACCOUNT_ID
        ),
    );
    let out = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let account = credentials::PINTEREST_AD_ACCOUNT_ID;
    let q = |t: &str| format!("type={t}&ad_account_id={account}");
    assert_rows(
        "board",
        text_rows(&p.dest(), "board", &["id", "ad_account_id"]),
        &p.entity_truth(&q("boards"), &["id"])
            .await
            .into_iter()
            .map(|mut r| {
                r.push(account.to_string());
                r
            })
            .collect(),
    );
    assert_rows(
        "board_section",
        text_rows(&p.dest(), "board_section", &["id", "board_id"]),
        &p.entity_truth(&q("board_sections"), &["id", "board_id"])
            .await,
    );
    assert_rows(
        "pin_on_board",
        text_rows(&p.dest(), "pin_on_board", &["id", "board_id"]),
        &p.entity_truth(&q("board_pins"), &["id", "board_id"]).await,
    );
    assert_rows(
        "pin_on_board_section",
        text_rows(
            &p.dest(),
            "pin_on_board_section",
            &["id", "board_id", "board_section_id"],
        ),
        &p.entity_truth(
            &q("board_section_pins"),
            &["id", "board_id", "board_section_id"],
        )
        .await,
    );
    // keywords are listed per ad group, every status of ad group the flow lists
    assert_rows(
        "keyword",
        text_rows(&p.dest(), "keyword", &["id", "ad_group_id"]),
        &p.entity_truth(&q("keywords"), &["id", "parent_id"]).await,
    );
    // owned and received audiences, each with its ownership
    let owned = p
        .entity_truth(&format!("{}&ownership_type=OWNED", q("audiences")), &["id"])
        .await;
    let received = p
        .entity_truth(
            &format!("{}&ownership_type=RECEIVED", q("audiences")),
            &["id"],
        )
        .await;
    let audiences: BTreeSet<Vec<String>> = owned
        .into_iter()
        .map(|mut r| {
            r.push("OWNED".into());
            r
        })
        .chain(received.into_iter().map(|mut r| {
            r.push("RECEIVED".into());
            r
        }))
        .collect();
    assert_rows(
        "audience",
        text_rows(&p.dest(), "audience", &["id", "ownership_type"]),
        &audiences,
    );
    // organic lists go at their own category, never the analytics one
    let stats = p.stats().await;
    assert_eq!(
        stats["categories"]["ads_analytics"]["requests"], 0,
        "{stats}"
    );
    assert!(
        stats["categories"]["org_read"]["requests"]
            .as_u64()
            .is_some_and(|n| n > 10),
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_deleted_while_its_pins_are_listed_is_skipped_with_a_note_not_a_failure() {
    let p = pinterest(PinterestConfig::default(), "delete-boardx1000").await;
    let flow = p.list_flow(
        "deleted",
        &format!(
            "streams = [\"pin_on_board\"]\nad_account_id = \"{}\"",
            credentials::PINTEREST_AD_ACCOUNT_ID
        ),
    );
    let out = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("WARN"), "{}", out.all());
    let report = reports(&p.dest()).pop().expect("report");
    let notes = report["streams"][0]["notes"].to_string();
    assert!(notes.contains("deleted after it was listed"), "{report}");
    // the other boards' pins are all there
    let account = credentials::PINTEREST_AD_ACCOUNT_ID;
    let boards = p
        .entity_truth(&format!("type=boards&ad_account_id={account}"), &["id"])
        .await;
    let gone = boards.iter().next().expect("a board")[0].clone();
    assert!(notes.contains(&gone), "{notes} names board {gone}");
    let truth: BTreeSet<Vec<String>> = p
        .entity_truth(
            &format!("type=board_pins&ad_account_id={account}"),
            &["id", "board_id"],
        )
        .await
        .into_iter()
        .filter(|r| r[1] != gone)
        .collect();
    assert_rows(
        "pin_on_board",
        text_rows(&p.dest(), "pin_on_board", &["id", "board_id"]),
        &truth,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_a_catalog_has_empty_catalog_streams_with_a_note() {
    let p = pinterest(PinterestConfig::default(), "").await;
    let shared = credentials::PINTEREST_SHARED_AD_ACCOUNT_ID;
    // the account without a catalog alone: its streams still write their schemas
    let flow = p.list_flow(
        "no-catalog",
        &format!(
            "streams = [\"catalog\", \"feed\", \"product_group\"]\nad_account_id = \"{shared}\""
        ),
    );
    let out = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let report = reports(&p.dest()).pop().expect("report");
    let streams = report["streams"].as_array().expect("streams");
    let product_groups = streams
        .iter()
        .find(|s| s["stream"] == "product_group")
        .expect("product_group");
    assert!(
        product_groups["notes"].to_string().contains("no catalog"),
        "{report}"
    );
    for s in streams {
        assert!(
            s["notes"]
                .to_string()
                .contains("empty file with the stream's schema"),
            "{s}"
        );
        let dir = p.dest().join(s["stream"].as_str().expect("name"));
        let files = parquet_files(&dir);
        assert_eq!(files.len(), 1, "{s}");
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&files[0]).expect("f"))
            .expect("parquet");
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
        assert!(reader.schema().field_with_name("updated_at").is_ok(), "{s}");
    }
    // a second empty run adds no file
    let again = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(parquet_files(&p.dest().join("product_group")).len(), 1);
    // the same flow with the main account too: its product groups are all there
    let main = credentials::PINTEREST_AD_ACCOUNT_ID;
    let both = p.list_flow(
        "no-catalog",
        &format!("streams = [\"product_group\"]\nad_account_id = \"{main},{shared}\""),
    );
    let out = p.sluice(&["run", both.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_rows(
        "product_group",
        text_rows(&p.dest(), "product_group", &["id", "catalog_id"]),
        &p.entity_truth(
            &format!("type=product_groups&ad_account_id={main}"),
            &["id", "catalog_id"],
        )
        .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_analytics_ask_for_100_pins_a_request_per_campaign_and_equal_the_truth() {
    // 2 campaigns of 1,300 ads: about 650 promoted pins each
    let p = pinterest(
        PinterestConfig {
            ads: 1_300,
            campaigns: 2,
            ad_groups: 6,
            ..PinterestConfig::default()
        },
        "",
    )
    .await;
    let flow = p.list_flow(
        "pins",
        &format!(
            "streams = [\"pin_analytics\"]\nad_account_id = \"{}\"\ninitial_days = 3\n\
             columns = [\"IMPRESSION_1_GROSS\", \"TOTAL_ENGAGEMENT\"]",
            credentials::PINTEREST_AD_ACCOUNT_ID
        ),
    );
    let out = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let account = credentials::PINTEREST_AD_ACCOUNT_ID;
    let ads = p
        .entity_truth(
            &format!("type=ads&ad_account_id={account}"),
            &["campaign_id", "pin_id"],
        )
        .await;
    let mut pins: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ad in &ads {
        pins.entry(ad[0].clone()).or_default().insert(ad[1].clone());
    }
    let chunks: usize = pins.values().map(|p| p.len().div_ceil(100)).sum();
    assert!(chunks >= 2 * 6, "{chunks} chunks: campaigns need several");
    let stats = p.stats().await;
    assert_eq!(
        route(&stats, "/v5/ad_accounts/{ad_account_id}/pins/analytics") as usize,
        chunks,
        "one request per 100 pins of each campaign, within one range"
    );
    let (from, to) = (today() - Days::new(2), today());
    let mut truth = BTreeSet::new();
    for (campaign, ids) in &pins {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let url = format!(
            "{}/_sandbox/pinterest/analytics?level=PIN&campaign_id={campaign}&pin_ids={}&start_date={from}&end_date={to}&columns=IMPRESSION_1_GROSS",
            p.sandbox.base_url(),
            ids.join(",")
        );
        for r in get_json(&p.http, &url).await.as_array().expect("rows") {
            let pin = match &r["PIN_ID"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            truth.insert(vec![
                pin,
                campaign.clone(),
                r["DATE"].as_str().expect("DATE").to_string(),
            ]);
        }
    }
    assert_rows(
        "pin_analytics",
        text_rows(
            &p.dest(),
            "pin_analytics",
            &["PIN_ID", "CAMPAIGN_ID", "DATE"],
        ),
        &truth,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_44_streams_in_one_run_never_list_entities_at_the_analytics_rate() {
    let p = pinterest(PinterestConfig::default(), "").await;
    let flow = p.list_flow(
        "everything",
        &format!(
            "streams = [\"*\"]\nad_account_id = \"{}\"\ninitial_days = 2",
            credentials::PINTEREST_AD_ACCOUNT_ID
        ),
    );
    let out = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let report = reports(&p.dest()).pop().expect("report");
    let streams: BTreeSet<&str> = report["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .filter_map(|s| s["stream"].as_str())
        .collect();
    assert_eq!(streams.len(), 44, "{streams:?}");
    for s in &streams {
        assert!(
            !parquet_files(&p.dest().join(s)).is_empty(),
            "{s} wrote no file"
        );
    }
    // streams listing the same objects for different fields (ads' ids, ads' pins) each get
    // theirs
    let (from, to) = (today() - Days::new(1), today());
    let ad_truth: BTreeSet<Vec<String>> = p
        .truth("AD", from, to)
        .await
        .into_iter()
        .map(|(id, day, _)| vec![id, day])
        .collect();
    assert_rows(
        "ad_analytics",
        text_rows(&p.dest(), "ad_analytics", &["AD_ID", "DATE"]),
        &ad_truth,
    );
    let promoted: BTreeSet<String> = p
        .entity_truth(
            &format!(
                "type=ads&ad_account_id={}",
                credentials::PINTEREST_AD_ACCOUNT_ID
            ),
            &["pin_id"],
        )
        .await
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect();
    let pins = text_rows(&p.dest(), "pin_analytics", &["PIN_ID"]);
    assert!(!pins.is_empty());
    assert!(pins.keys().all(|k| promoted.contains(&k[0])), "{pins:?}");
    let stats = p.stats().await;
    let analytics: u64 = stats["by_route"]
        .as_object()
        .expect("routes")
        .iter()
        .filter(|(path, _)| path.ends_with("analytics") || path.ends_with("/reports"))
        .map(|(path, _)| route(&stats, path))
        .sum();
    assert!(analytics > 30, "{stats}");
    assert_eq!(
        stats["categories"]["ads_analytics"]["requests"].as_u64(),
        Some(analytics),
        "only analytics requests spend the analytics quota: {stats}"
    );
    for c in ["ads_read", "org_read", "catalogs_read"] {
        assert!(
            stats["categories"][c]["requests"]
                .as_u64()
                .is_some_and(|n| n > 0),
            "{c}: {stats}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_changed_writes_only_what_changed_since_the_last_run() {
    let p = pinterest(PinterestConfig::default(), "").await;
    let flow = p.list_flow(
        "changed",
        &format!(
            "streams = [\"campaign\", \"customer_list\", \"keyword\"]\nad_account_id = \"{}\"\n\
             entities = \"changed\"",
            credentials::PINTEREST_AD_ACCOUNT_ID
        ),
    );
    let first = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(first.code, 0, "{}", first.all());
    let campaigns = text_rows(&p.dest(), "campaign", &["id"]);
    assert!(campaigns.len() >= 12, "{campaigns:?}");
    let again = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    let report = reports(&p.dest()).pop().expect("report");
    for s in report["streams"].as_array().expect("streams") {
        let summary = &s["recordSummary"];
        match s["stream"].as_str() {
            // nothing changed in between: every item is read and skipped
            Some("campaign" | "customer_list") => {
                assert_eq!(summary["outputRecordCount"], 0, "{s}");
                assert!(summary["skippedRecordCount"].as_u64() > Some(0), "{s}");
            }
            // keywords say nothing about changes: the whole list again
            Some("keyword") => assert!(summary["outputRecordCount"].as_u64() > Some(0), "{s}"),
            other => panic!("{other:?}"),
        }
    }
    // each campaign once, over both runs
    assert_eq!(text_rows(&p.dest(), "campaign", &["id"]), campaigns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_group_analytics_backfill_through_reports_and_pin_days_past_90_are_refused() {
    let p = pinterest(PinterestConfig::default(), "").await;
    let account = credentials::PINTEREST_AD_ACCOUNT_ID;
    let flow = p.list_flow(
        "groups",
        &format!(
            "streams = [\"product_group_promotion_analytics\"]\nad_account_id = \"{account}\"\n\
             columns = [\"IMPRESSION_1_GROSS\"]"
        ),
    );
    // 100 days: 11 by report, 89 by the synchronous endpoint
    let (from, to) = (today() - Days::new(100), today() - Days::new(1));
    let out = p.backfill(&flow, from, to, &[]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = p.stats().await;
    assert_eq!(stats["reports_created"], 1, "{stats}");
    let promoted: BTreeSet<String> = p
        .entity_truth(
            &format!("type=product_group_promotions&ad_account_id={account}"),
            &["catalog_product_group_id"],
        )
        .await
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect();
    assert!(!promoted.is_empty());
    let url = format!(
        "{}/_sandbox/pinterest/analytics?level=PRODUCT_GROUP&product_group_ids={}&start_date={from}&end_date={to}&columns=IMPRESSION_1_GROSS",
        p.sandbox.base_url(),
        promoted.iter().cloned().collect::<Vec<_>>().join(",")
    );
    let truth: BTreeSet<Vec<String>> = get_json(&p.http, &url)
        .await
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let id = match &r["PRODUCT_GROUP_ID"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            vec![id, r["DATE"].as_str().expect("DATE").to_string()]
        })
        .collect();
    assert_rows(
        "product_group_promotion_analytics",
        text_rows(
            &p.dest(),
            "product_group_promotion_analytics",
            &["PRODUCT_GROUP_ID", "DATE"],
        ),
        &truth,
    );
    // no report has a pin level: older pin days are refused, and the message says why
    let pins = p.list_flow(
        "old-pins",
        &format!("streams = [\"pin_analytics\"]\nad_account_id = \"{account}\""),
    );
    let out = p.backfill(&pins, from, to, &[]).await;
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.all().contains("no asynchronous report has a pin level"),
        "{}",
        out.all()
    );
}

/// Issue #14: the lake's copy of the state carries the flow to a fresh machine, but never the
/// rotated refresh token the local state keeps (the data bucket is no place for a secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lakes_copy_of_the_state_holds_no_token() {
    let p = pinterest(PinterestConfig::default(), "").await;
    let flow = p.flow(
        "tokens",
        "streams = [\"ad_group_targeting_analytics_gender\"]\ninitial_days = 2",
        "",
    );
    let lake = common::to_object_store(&flow, &p.dir.path().join("lake"));
    let out = p.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(p.stats().await["refreshes"], 1);
    let bytes_under = |dir: &Path| -> Vec<u8> {
        let mut all = Vec::new();
        for e in std::fs::read_dir(dir).expect("dir").flatten() {
            if e.path().is_file() {
                all.extend(std::fs::read(e.path()).expect("read"));
            }
        }
        all
    };
    let has_token = |b: &[u8]| b.windows(5).any(|w| w == b"pinr.");
    let local = bytes_under(&p.dir.path().join(".sluice/tokens/_sluice"));
    assert!(has_token(&local), "the local state keeps the rotated token");
    let copy = std::fs::read(lake.join("_sluice/state/tokens.db")).expect("the lake's copy");
    assert!(!has_token(&copy), "the lake's copy holds a token");
    assert!(copy.len() > 4096, "the copy holds the state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_refreshing_at_once_share_the_rotated_refresh_token_through_the_state() {
    // every refresh retires the refresh token it was sent, and access tokens last 2 s:
    // each shard refreshes again and again, and the token it holds was rotated away by the
    // other in between, unless it takes the one the other kept in the shared state
    let config = PinterestConfig {
        access_token_ttl: std::time::Duration::from_secs(2),
        quota: Some(QuotaSpec::new("all", 6, 1)),
        ..PinterestConfig::default()
    };
    let p = pinterest(config, "").await;
    let flow = p.flow(
        "campaigns",
        "object_type = \"campaigns\"",
        "quota = \"6/1\"",
    );
    let text = std::fs::read_to_string(&flow).expect("flow")
        + &format!(
            "[state]\nurl = \"{}\"\nschema = \"{}\"\n",
            pg::url(),
            pg::fresh_schema("pinterest_shards")
        );
    std::fs::write(&flow, text).expect("flow");
    let (from, to) = (today() - Days::new(16), today() - Days::new(1));
    let (f, t) = (from.to_string(), to.to_string());
    let shard = |k: &'static str| {
        let args: Vec<String> = [
            "backfill",
            flow.to_str().expect("path"),
            "--from",
            &f,
            "--to",
            &t,
            "--window",
            "1d",
            "--shard",
            k,
        ]
        .map(String::from)
        .to_vec();
        let dir = p.dir.path().to_path_buf();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common::run_binary_with(&args, &dir, &ENV).await
        }
    };
    let (a, b) = tokio::join!(shard("0/2"), shard("1/2"));
    assert_eq!(a.code, 0, "shard 0: {}", a.all());
    assert_eq!(b.code, 0, "shard 1: {}", b.all());
    // every refresh rotated the token: each shard's later refreshes used one the other had
    // rotated in (read from the shared state first, or taken after a refusal)
    let tokens = &p.stats().await["by_route"]["/v5/oauth/token"];
    let refreshed = tokens["200"].as_u64().unwrap_or(0);
    assert!(refreshed >= 3, "refreshes by both shards: {tokens}");
    assert_exactly(
        written(&p.dest(), "campaign_analytics", "ID_CAMPAIGN"),
        &p.truth("CAMPAIGN", from, to).await,
    );
    // a later run of either shard starts from the token the state keeps
    let again = p
        .backfill(
            &flow,
            from,
            to,
            &["--window", "1d", "--shard", "1/2", "--force"],
        )
        .await;
    assert_eq!(again.code, 0, "{}", again.all());
}
