//! The built binary against the Pinterest simulator: seed 000's flows, the synchronous and
//! asynchronous routes and their request counts, id chunks, token refresh, the API's transient
//! errors, a daily quota that runs out, and one quota shared by two flows.

mod common;

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
    let flows = [
        ("pinterest-campaign-analytics.toml", "campaign_analytics"),
        ("pinterest-ad-group-analytics.toml", "ad_group_analytics"),
        ("pinterest-ad-analytics.toml", "ad_analytics"),
        ("pinterest-account-analytics.toml", "ad_account_analytics"),
        ("pinterest-entities.toml", "campaign"),
    ];
    for (file, stream) in flows {
        let flow = copied_flow(dir.path(), file);
        let out = common::run_binary_with(
            &["run", flow.to_str().expect("path"), "--sandbox"],
            dir.path(),
            &[],
        )
        .await;
        assert_eq!(out.code, 0, "{file}: {}", out.all());
        assert!(
            !parquet_files(&dir.path().join("out").join(stream)).is_empty(),
            "{file} wrote {stream}"
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
