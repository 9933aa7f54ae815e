//! The built binary against the LinkedIn simulator: seed 001's flow and the pivot families,
//! metric chunks merged into what one request gives, answers at the element cap split until
//! complete, tunnelled queries, a sunset version, and a daily quota that stops a run.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use chrono::{Days, NaiveDate, Utc};
use common::{get_json, parquet_files, reports, Output};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use sluice_sandbox::{credentials, FaultPlan, LinkedInConfig, Sandbox, SandboxConfig};

const ENV: [(&str, &str); 3] = [
    (
        "LINKEDIN_REFRESH_TOKEN",
        credentials::LINKEDIN_REFRESH_TOKEN,
    ),
    ("LINKEDIN_CLIENT_ID", credentials::LINKEDIN_CLIENT_ID),
    (
        "LINKEDIN_CLIENT_SECRET",
        credentials::LINKEDIN_CLIENT_SECRET,
    ),
];

struct Li {
    dir: tempfile::TempDir,
    sandbox: Sandbox,
    http: reqwest::Client,
}

async fn linkedin(config: LinkedInConfig, faults: &str) -> Li {
    let sandbox = Sandbox::start(
        ([127, 0, 0, 1], 0).into(),
        SandboxConfig {
            linkedin: config,
            faults: FaultPlan::parse(faults).expect("faults"),
            ..SandboxConfig::default()
        },
    )
    .await
    .expect("sandbox");
    Li {
        dir: tempfile::tempdir().expect("tempdir"),
        sandbox,
        http: reqwest::Client::new(),
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

impl Li {
    fn dest(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn flow(&self, name: &str, source: &str, connection: &str) -> PathBuf {
        let base = self.sandbox.base_url();
        let text = format!(
            "name = \"{name}\"\n[connection]\nconnector = \"linkedin\"\nbase_url = \"{base}\"\n\
             token_url = \"{base}/oauth/v2/accessToken\"\n\
             refresh_token = \"${{LINKEDIN_REFRESH_TOKEN}}\"\nclient_id = \"${{LINKEDIN_CLIENT_ID}}\"\n\
             client_secret = \"${{LINKEDIN_CLIENT_SECRET}}\"\n{connection}\n\
             [source]\naccountIds = \"{}\"\n{source}\n\
             [destination]\nformat = \"parquet\"\npath = \"out\"\n",
            credentials::LINKEDIN_ACCOUNT_IDS[0],
        );
        let path = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("flow");
        path
    }

    async fn sluice(&self, args: &[&str]) -> Output {
        common::run_binary_with(args, self.dir.path(), &ENV).await
    }

    async fn stats(&self) -> Value {
        get_json(
            &self.http,
            &format!("{}/_sandbox/stats", self.sandbox.base_url()),
        )
        .await["vendors"]["linkedin"]
            .clone()
    }

    /// The uncapped answer: (pivot value, day) → element.
    async fn truth(
        &self,
        pivot: &str,
        from: NaiveDate,
        to: NaiveDate,
        fields: &str,
    ) -> BTreeMap<(String, String), Value> {
        let url = format!(
            "{}/_sandbox/linkedin/analytics?pivots={pivot}&granularity=DAILY&start={from}&end={to}&fields={fields}&accounts={}",
            self.sandbox.base_url(),
            credentials::LINKEDIN_ACCOUNT_IDS[0]
        );
        let body = get_json(&self.http, &url).await;
        body["elements"]
            .as_array()
            .unwrap_or_else(|| panic!("{url}: {body}"))
            .iter()
            .map(|e| ((pivot_values(e), start_day(e)), e.clone()))
            .collect()
    }
}

/// Every pivot value of an element, `|`-joined (one per pivot of a q=statistics row).
fn pivot_values(e: &Value) -> String {
    e["pivotValues"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("|")
        })
        .unwrap_or_default()
}

fn start_day(e: &Value) -> String {
    let s = &e["dateRange"]["start"];
    format!(
        "{:04}-{:02}-{:02}",
        s["year"].as_u64().unwrap_or(0),
        s["month"].as_u64().unwrap_or(0),
        s["day"].as_u64().unwrap_or(0)
    )
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

/// (pivot value, day) → (impressions, costInUsd, the last metric) of every written element,
/// and how often each key was written.
fn written(
    dest: &Path,
    stream: &str,
    last: &str,
) -> BTreeMap<(String, String), (i64, String, i64, usize)> {
    let mut out = BTreeMap::new();
    for batch in batches(&dest.join(stream)) {
        let e = batch
            .column_by_name("element")
            .expect("element")
            .as_struct();
        let pvs = e.column_by_name("pivotValues").expect("pivotValues");
        let pvs = pvs.as_list::<i32>();
        let first = e.column_by_name("pivotValue").expect("pivotValue");
        let first = first.as_string::<i32>();
        let cost = e.column_by_name("costInUsd").expect("costInUsd");
        let cost = cost.as_string::<i32>();
        let int = |name: &str| {
            e.column_by_name(name)
                .unwrap_or_else(|| panic!("{name}"))
                .as_primitive::<arrow_array::types::Int64Type>()
                .clone()
        };
        let (imps, last_col) = (int("impressions"), int(last));
        let start = e
            .column_by_name("dateRange")
            .expect("dateRange")
            .as_struct()
            .column_by_name("start")
            .expect("start")
            .as_struct()
            .clone();
        let part = |n: &str| {
            start
                .column_by_name(n)
                .expect(n)
                .as_primitive::<arrow_array::types::Int64Type>()
                .clone()
        };
        let (y, m, d) = (part("year"), part("month"), part("day"));
        for i in 0..batch.num_rows() {
            let values = pvs.value(i);
            let values: Vec<&str> = values.as_string::<i32>().iter().flatten().collect();
            assert_eq!(
                Some(first.value(i)),
                values.first().copied(),
                "pivotValue is the first"
            );
            let key = (
                values.join("|"),
                format!("{:04}-{:02}-{:02}", y.value(i), m.value(i), d.value(i)),
            );
            let entry = out.entry(key).or_insert((
                imps.value(i),
                if cost.is_null(i) {
                    String::new()
                } else {
                    cost.value(i).to_string()
                },
                if last_col.is_null(i) {
                    0
                } else {
                    last_col.value(i)
                },
                0,
            ));
            entry.3 += 1;
        }
    }
    out
}

/// Every truth element written once, with the truth's values.
fn assert_complete(
    written: BTreeMap<(String, String), (i64, String, i64, usize)>,
    truth: &BTreeMap<(String, String), Value>,
    last: &str,
) {
    assert!(!truth.is_empty());
    let doubled: Vec<_> = written.iter().filter(|(_, v)| v.3 > 1).take(3).collect();
    assert!(doubled.is_empty(), "written twice: {doubled:?}");
    let missing: Vec<_> = truth
        .keys()
        .filter(|k| !written.contains_key(*k))
        .take(3)
        .collect();
    let extra: Vec<_> = written
        .keys()
        .filter(|k| !truth.contains_key(*k))
        .take(3)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} written, {} in the truth; missing {missing:?}, extra {extra:?}",
        written.len(),
        truth.len()
    );
    for (k, (imps, cost, last_value, _)) in &written {
        let t = &truth[k];
        assert_eq!(Some(*imps), t["impressions"].as_i64(), "{k:?}");
        assert_eq!(
            cost.as_str(),
            t["costInUsd"].as_str().unwrap_or(""),
            "{k:?}"
        );
        assert_eq!(*last_value, t[last].as_i64().unwrap_or(0), "{k:?} {last}");
    }
}

/// 25 metrics: two chunks of a request (18 + 7).
const METRICS: &str = "impressions,clicks,costInUsd,costInLocalCurrency,externalWebsiteConversions,landingPageClicks,likes,comments,shares,follows,totalEngagements,videoViews,videoCompletions,oneClickLeads,reactions,sends,opens,actionClicks,adUnitClicks,companyPageClicks,otherEngagements,textUrlClicks,cardClicks,cardImpressions,registrations";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_merge_into_one_record_and_capped_answers_are_split_until_complete() {
    // the server cuts answers at 10 elements without saying so; URLs over 400 bytes are 414s
    let li = linkedin(
        LinkedInConfig {
            elements_cap: 10,
            max_url_bytes: 400,
            ..LinkedInConfig::default()
        },
        "",
    )
    .await;
    let fields: Vec<String> = METRICS.split(',').map(|m| format!("\"{m}\"")).collect();
    let flow = li.flow(
        "creatives",
        &format!(
            "streams = [\"ad_analytics_creative\"]\nfields = [{}]",
            fields.join(",")
        ),
        "elements_cap = 10\nmax_url_bytes = 100000",
    );
    let (from, to) = (today() - Days::new(20), today() - Days::new(1));
    let (f, t) = (from.to_string(), to.to_string());
    let dry = li
        .sluice(&[
            "backfill",
            flow.to_str().expect("path"),
            "--from",
            &f,
            "--to",
            &t,
            "--dry-run",
        ])
        .await;
    assert_eq!(dry.code, 0, "{}", dry.all());
    // 20 days in three 7-day windows, two metric chunks each
    assert!(dry.all().contains("at least 6 "), "{}", dry.all());
    let out = li
        .sluice(&[
            "backfill",
            flow.to_str().expect("path"),
            "--from",
            &f,
            "--to",
            &t,
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = li.stats().await;
    assert!(stats["truncated_responses"].as_u64() > Some(0), "{stats}");
    assert!(stats["rejected_414"].as_u64() > Some(0), "{stats}");
    assert!(stats["tunneled"].as_u64() > Some(0), "{stats}");
    let truth = li
        .truth(
            "CREATIVE",
            from,
            to,
            &format!("dateRange,pivotValues,{METRICS}"),
        )
        .await;
    assert!(
        truth.len() > 40,
        "{} elements: more than one answer holds",
        truth.len()
    );
    assert_complete(
        written(&li.dest(), "ad_analytics_creative", "registrations"),
        &truth,
        "registrations",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_linkedin_flows_run_in_the_sandbox_and_the_seed_mapping_writes_a_nested_date_range() {
    let dir = tempfile::tempdir().expect("dir");
    let mut flows: Vec<String> = std::fs::read_dir(common::repo().join("config/flows"))
        .expect("flows")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("linkedin-") && n.ends_with(".toml"))
        .collect();
    flows.sort();
    assert!(flows.len() >= 5, "{flows:?}");
    for file in &flows {
        let text = std::fs::read_to_string(common::repo().join("config/flows").join(file))
            .expect("flow")
            .replace("path = \"../../out/linkedin\"", "path = \"out\"")
            .replace(
                "file = \"../mappings/",
                &format!("file = \"{}/config/mappings/", common::repo().display()),
            );
        let path = dir.path().join(file);
        std::fs::write(&path, text).expect("flow");
        let out = common::run_binary_with(
            &["run", path.to_str().expect("path"), "--sandbox"],
            dir.path(),
            &[],
        )
        .await;
        assert_eq!(out.code, 0, "{file}: {}", out.all());
    }
    let streams: Vec<String> = reports(&dir.path().join("out"))
        .iter()
        .flat_map(|r| r["streams"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s["stream"].as_str().map(str::to_string))
        .collect();
    for s in [
        "ad_analytics_campaign",
        "ad_analytics_creative",
        "ad_analytics_member_country_v2",
        "ad_statistics",
        "creative",
    ] {
        assert!(streams.iter().any(|x| x == s), "{s}: {streams:?}");
        assert!(
            !parquet_files(&dir.path().join("out").join(s)).is_empty(),
            "{s}"
        );
    }
    // the seed's mapping: `_extconndev.dateRange.start.year` is a nested struct
    let b = batches(&dir.path().join("out/ad_analytics_campaign"));
    let rows: usize = b.iter().map(RecordBatch::num_rows).sum();
    assert!(rows > 0);
    let ext = b[0]
        .column_by_name("_extconndev")
        .expect("_extconndev")
        .as_struct();
    let year = ext
        .column_by_name("dateRange")
        .expect("dateRange")
        .as_struct()
        .column_by_name("start")
        .expect("start")
        .as_struct()
        .column_by_name("year")
        .expect("year")
        .as_primitive::<arrow_array::types::Int64Type>()
        .value(0);
    assert!(year >= 2025, "{year}");
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
        "import duckdb\nprint(duckdb.sql(\"SELECT count(*), min(_extconndev.dateRange.start.year) FROM read_parquet('{}/out/ad_analytics_campaign/**/*.parquet')\").fetchall()[0][0])",
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
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        rows.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sunset_version_says_what_to_set() {
    let li = linkedin(LinkedInConfig::default(), "").await;
    let flow = li.flow(
        "old",
        "pivot = \"CAMPAIGN\"",
        "linkedin_version = \"202001\"",
    );
    let out = li.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("linkedin_version"), "{}", out.all());
    assert!(li.stats().await["rejected_426"].as_u64() > Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_quota_stops_the_run_until_midnight_and_the_next_run_completes_it() {
    // the second analytics request meets the day's quota
    let li = linkedin(LinkedInConfig::default(), "linkedin-daily-quotax1@2").await;
    let flow = li.flow(
        "quota",
        &format!(
            "pivot = \"CAMPAIGN\"\nfields = [{}]",
            METRICS
                .split(',')
                .map(|m| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(",")
        ),
        "",
    );
    let first = li
        .sluice(&["run", flow.to_str().expect("path"), "--json"])
        .await;
    assert_eq!(first.code, 5, "{}", first.all());
    // the machine's view: one summary, with the time to resume in ISO-8601
    let summary: Value = serde_json::from_str(first.stdout.trim()).expect("summary");
    assert_eq!(summary["status"], "quota_exhausted", "{summary}");
    assert_eq!(summary["exit_code"], 5);
    assert_eq!(
        summary["resume_at"].as_str(),
        Some(format!("{}T00:00:00Z", today() + Days::new(1)).as_str()),
        "{summary}"
    );
    let report = reports(&li.dest()).pop().expect("report");
    let resume = report.to_string();
    let midnight = format!("{}T00:00", today() + Days::new(1));
    assert!(resume.contains(&midnight), "resume at {midnight}: {report}");
    let again = li.sluice(&["run", flow.to_str().expect("path")]).await;
    assert_eq!(again.code, 0, "{}", again.all());
    let truth = li
        .truth(
            "CAMPAIGN",
            today() - Days::new(29),
            today(),
            &format!("dateRange,pivotValues,{METRICS}"),
        )
        .await;
    assert_complete(
        written(&li.dest(), "ad_analytics_campaign", "registrations"),
        &truth,
        "registrations",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_by_two_pivots_write_one_row_per_pair_and_day_even_through_the_cap() {
    // rows by campaign × country: about 20 a day, so a 25-element cap cuts every longer range
    let li = linkedin(
        LinkedInConfig {
            elements_cap: 25,
            ..LinkedInConfig::default()
        },
        "",
    )
    .await;
    let fields: Vec<String> = METRICS.split(',').map(|m| format!("\"{m}\"")).collect();
    let flow = li.flow(
        "stats",
        &format!(
            "pivots = \"CAMPAIGN, MEMBER COUNTRY V2\"\nfields = [{}]",
            fields.join(",")
        ),
        "elements_cap = 25",
    );
    let (from, to) = (today() - Days::new(14), today() - Days::new(1));
    let (f, t) = (from.to_string(), to.to_string());
    let out = li
        .sluice(&[
            "backfill",
            flow.to_str().expect("path"),
            "--from",
            &f,
            "--to",
            &t,
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(li.stats().await["truncated_responses"].as_u64() > Some(0));
    let truth = li
        .truth(
            "CAMPAIGN,MEMBER_COUNTRY_V2",
            from,
            to,
            &format!("dateRange,pivotValues,{METRICS}"),
        )
        .await;
    assert!(
        truth.keys().all(|(pv, _)| pv.matches('|').count() == 1),
        "two pivot values a row"
    );
    assert_complete(
        written(&li.dest(), "ad_statistics", "registrations"),
        &truth,
        "registrations",
    );
    // without `pivots` the stream says what to set
    let bare = li.flow("bare", "streams = [\"ad_statistics\"]", "");
    let text = std::fs::read_to_string(&bare).expect("flow");
    std::fs::write(&bare, text.replace("path = \"out\"", "path = \"bare-out\"")).expect("flow");
    let out = li.sluice(&["run", bare.to_str().expect("path")]).await;
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.all().contains("`pivots`"), "{}", out.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_and_the_data_volume_throttle_is_waited_out_mid_run() {
    // the third request finds its token expired; the fifth and sixth meet the data-volume 429
    let li = linkedin(
        LinkedInConfig::default(),
        "linkedin-expire-token@3,linkedin-data-volumex2@5",
    )
    .await;
    let flow = li.flow(
        "throttled",
        &format!(
            "pivot = \"CAMPAIGN\"\nfields = [{}]",
            METRICS
                .split(',')
                .map(|m| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(",")
        ),
        "data_volume_wait_seconds = 1",
    );
    // a day a window: two requests (metric chunks) a day
    let (from, to) = (today() - Days::new(6), today() - Days::new(1));
    let out = li
        .sluice(&[
            "backfill",
            flow.to_str().expect("path"),
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
            "--window",
            "1",
            "--concurrency",
            "1",
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = li.stats().await;
    assert_eq!(stats["data_volume_429"].as_u64(), Some(2), "{stats}");
    // one refresh to start (the flow has no access token), one after the expiry
    assert!(stats["refreshes"].as_u64() >= Some(2), "{stats}");
    let report = reports(&li.dest()).pop().expect("report");
    let retries = report["requests"]["retries"].as_u64();
    assert!(retries >= Some(2), "{report}");
    assert!(
        !out.all().contains(credentials::LINKEDIN_REFRESH_TOKEN),
        "the refresh token stays out of the output"
    );
    let truth = li
        .truth(
            "CAMPAIGN",
            from,
            to,
            &format!("dateRange,pivotValues,{METRICS}"),
        )
        .await;
    assert_complete(
        written(&li.dest(), "ad_analytics_campaign", "registrations"),
        &truth,
        "registrations",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_cuts_below_the_expected_cap_but_counts_the_total_is_split_too() {
    // the flow expects LinkedIn's 15,000; this server cuts at 10 and says so in paging.total
    let li = linkedin(
        LinkedInConfig {
            elements_cap: 10,
            expose_total: true,
            ..LinkedInConfig::default()
        },
        "",
    )
    .await;
    let flow = li.flow(
        "totals",
        "streams = [\"ad_analytics_creative\"]\nfields = [\"impressions\", \"costInUsd\", \"clicks\"]",
        "",
    );
    let (from, to) = (today() - Days::new(10), today() - Days::new(1));
    let out = li
        .sluice(&[
            "backfill",
            flow.to_str().expect("path"),
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
        ])
        .await;
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(li.stats().await["truncated_responses"].as_u64() > Some(0));
    let truth = li
        .truth(
            "CREATIVE",
            from,
            to,
            "dateRange,pivotValues,impressions,costInUsd,clicks",
        )
        .await;
    assert_complete(
        written(&li.dest(), "ad_analytics_creative", "clicks"),
        &truth,
        "clicks",
    );
}
