//! The scheduler on tokio's paused clock: due times, missed runs, no overlap, concurrency and
//! shutdown, with a fake runner that records what it was asked to do.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sluice_runner::scheduler::{run_scheduler, Clock, FlowRunner, RunEnd, TokioClock};
use sluice_runner::{Flow, Overrides, RunStatus};
use tokio::sync::watch;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn flow(name: &str, schedule: &str) -> Flow {
    let text = format!(
        "name = \"{name}\"\n[connection]\nconnector = \"fake\"\n[destination]\nformat = \"parquet\"\npath = \"out\"\n[schedule]\n{schedule}\n"
    );
    Flow::parse(
        Path::new("/flows/f.toml"),
        &text,
        &Overrides::default(),
        &|_| None,
    )
    .expect("flow")
}

#[derive(Default)]
struct Log {
    /// (flow, start, end) of every run
    runs: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)>,
    running: HashMap<String, usize>,
    max_parallel_per_flow: usize,
    parallel: usize,
    max_parallel: usize,
    stopped_runs: usize,
}

struct FakeRunner {
    clock: Arc<TokioClock>,
    log: Mutex<Log>,
    durations: HashMap<String, Duration>,
    last: HashMap<String, DateTime<Utc>>,
    /// Flows whose runs end with a spent quota, back at this time.
    exhausted_until: HashMap<String, DateTime<Utc>>,
}

impl FakeRunner {
    fn new(clock: Arc<TokioClock>) -> Self {
        Self {
            clock,
            log: Mutex::default(),
            durations: HashMap::new(),
            last: HashMap::new(),
            exhausted_until: HashMap::new(),
        }
    }

    fn starts(&self, name: &str) -> Vec<DateTime<Utc>> {
        self.log
            .lock()
            .expect("log")
            .runs
            .iter()
            .filter(|r| r.0 == name)
            .map(|r| r.1)
            .collect()
    }
}

#[async_trait]
impl FlowRunner for FakeRunner {
    async fn run(&self, flow: &Flow, mut stop: watch::Receiver<bool>) -> Option<RunEnd> {
        let index = {
            let mut log = self.log.lock().expect("log");
            log.runs.push((flow.name.clone(), self.clock.now(), None));
            let n = log.running.entry(flow.name.clone()).or_default();
            *n += 1;
            let n = *n;
            log.max_parallel_per_flow = log.max_parallel_per_flow.max(n);
            log.parallel += 1;
            log.max_parallel = log.max_parallel.max(log.parallel);
            log.runs.len() - 1
        };
        let took = self
            .durations
            .get(&flow.name)
            .copied()
            .unwrap_or(Duration::from_secs(5));
        let stopped = tokio::select! {
            _ = tokio::time::sleep(took) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        let mut log = self.log.lock().expect("log");
        log.runs[index].2 = Some(self.clock.now());
        *log.running.entry(flow.name.clone()).or_default() -= 1;
        log.parallel -= 1;
        if stopped {
            log.stopped_runs += 1;
        }
        if let Some(resume) = self.exhausted_until.get(&flow.name) {
            return Some(RunEnd {
                status: RunStatus::QuotaExhausted,
                resume_at: Some(*resume),
            });
        }
        Some(
            if stopped {
                RunStatus::Interrupted
            } else {
                RunStatus::Success
            }
            .into(),
        )
    }

    fn last_started(&self, flow: &Flow) -> Option<DateTime<Utc>> {
        self.last.get(&flow.name).copied()
    }
}

async fn drive(
    runner: Arc<FakeRunner>,
    clock: Arc<TokioClock>,
    flows: Vec<Flow>,
    max: usize,
    for_how_long: Duration,
) -> usize {
    let (tx, rx) = watch::channel(false);
    let handle = tokio::spawn(run_scheduler(flows, runner, clock, max, rx));
    tokio::time::sleep(for_how_long).await;
    let _ = tx.send(true);
    handle.await.expect("scheduler")
}

#[tokio::test(start_paused = true)]
async fn runs_at_each_cron_tick() {
    let clock = Arc::new(TokioClock::starting_at(at("2026-01-01T00:03:00Z")));
    let runner = Arc::new(FakeRunner::new(clock.clone()));
    drive(
        runner.clone(),
        clock,
        vec![flow("a", "cron = \"*/10 * * * *\"")],
        2,
        Duration::from_secs(35 * 60),
    )
    .await;
    assert_eq!(
        runner.starts("a"),
        [
            at("2026-01-01T00:10:00Z"),
            at("2026-01-01T00:20:00Z"),
            at("2026-01-01T00:30:00Z")
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn missed_runs_after_downtime_become_one_catch_up_run() {
    let clock = Arc::new(TokioClock::starting_at(at("2026-01-01T05:20:00Z")));
    let mut runner = FakeRunner::new(clock.clone());
    // last ran at midnight: the 01:00 … 05:00 ticks were missed while the scheduler was down
    runner
        .last
        .insert("hourly".into(), at("2026-01-01T00:00:00Z"));
    let runner = Arc::new(runner);
    drive(
        runner.clone(),
        clock,
        vec![flow("hourly", "cron = \"0 * * * *\"")],
        2,
        Duration::from_secs(50 * 60),
    )
    .await;
    assert_eq!(
        runner.starts("hourly"),
        [at("2026-01-01T05:20:00Z"), at("2026-01-01T06:00:00Z")]
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_never_overlaps_itself_and_an_overrun_is_caught_up_once() {
    let clock = Arc::new(TokioClock::starting_at(at("2026-01-01T00:00:00Z")));
    let mut runner = FakeRunner::new(clock.clone());
    runner
        .durations
        .insert("slow".into(), Duration::from_secs(40 * 60));
    let runner = Arc::new(runner);
    let f = flow(
        "slow",
        "start_time = 1767225600\nfrequency = \"minute\"\ninterval = 15",
    );
    drive(
        runner.clone(),
        clock,
        vec![f],
        4,
        Duration::from_secs(100 * 60),
    )
    .await;
    let log = runner.log.lock().expect("log");
    assert_eq!(
        log.max_parallel_per_flow, 1,
        "two runs of one flow overlapped"
    );
    // 00:00 runs to 00:40 (missing 00:15 and 00:30): one catch-up at 00:40, then 01:20
    let starts: Vec<_> = log.runs.iter().map(|r| r.1).collect();
    assert_eq!(
        starts,
        [
            at("2026-01-01T00:00:00Z"),
            at("2026-01-01T00:40:00Z"),
            at("2026-01-01T01:20:00Z")
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded() {
    let clock = Arc::new(TokioClock::starting_at(at("2026-01-01T00:00:30Z")));
    let runner = Arc::new(FakeRunner::new(clock.clone()));
    let flows = vec![
        flow("a", "cron = \"0 * * * * *\""),
        flow("b", "cron = \"0 * * * * *\""),
        flow("c", "cron = \"0 * * * * *\""),
    ];
    drive(runner.clone(), clock, flows, 2, Duration::from_secs(150)).await;
    let log = runner.log.lock().expect("log");
    assert_eq!(log.max_parallel, 2);
    assert!(
        log.runs.len() >= 4,
        "all flows still get their runs: {}",
        log.runs.len()
    );
    for name in ["a", "b", "c"] {
        assert!(log.runs.iter().any(|r| r.0 == name), "{name} never ran");
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_starts_nothing_new_and_waits_for_running_ones() {
    let clock = Arc::new(TokioClock::starting_at(at("2026-01-01T00:00:00Z")));
    let mut runner = FakeRunner::new(clock.clone());
    runner
        .durations
        .insert("long".into(), Duration::from_secs(3600));
    let runner = Arc::new(runner);
    let flows = vec![
        flow(
            "long",
            "start_time = 1767225600\nfrequency = \"hour\"\ninterval = 1",
        ),
        flow("later", "cron = \"0 0 1 * * *\""),
    ];
    let started = drive(
        runner.clone(),
        clock.clone(),
        flows,
        2,
        Duration::from_secs(600),
    )
    .await;
    assert_eq!(started, 1);
    let log = runner.log.lock().expect("log");
    assert_eq!(log.stopped_runs, 1, "the running run was told to stop");
    assert_eq!(
        log.runs[0].2,
        Some(at("2026-01-01T00:10:00Z")),
        "and finished before the scheduler returned"
    );
    assert_eq!(log.parallel, 0);
}

#[tokio::test(start_paused = true)]
async fn a_once_schedule_runs_once_and_the_scheduler_ends() {
    let clock = Arc::new(TokioClock::starting_at(at("2026-01-01T00:00:00Z")));
    let runner = Arc::new(FakeRunner::new(clock.clone()));
    // 2026-01-01T00:05:00Z
    let f = flow("one", "start_time = 1767225900\nfrequency = \"once\"");
    let (_tx, rx) = watch::channel(false);
    let started = run_scheduler(vec![f], runner.clone(), clock, 1, rx).await;
    assert_eq!(started, 1);
    assert_eq!(runner.starts("one"), [at("2026-01-01T00:05:00Z")]);
}

#[tokio::test(start_paused = true)]
async fn a_flow_whose_quota_ran_out_waits_until_it_is_back() {
    let clock = Arc::new(TokioClock::starting_at(at("2026-01-01T00:03:00Z")));
    let mut runner = FakeRunner::new(clock.clone());
    runner
        .exhausted_until
        .insert("spent".into(), at("2026-01-01T00:45:00Z"));
    let runner = Arc::new(runner);
    drive(
        runner.clone(),
        clock,
        vec![
            flow("spent", "cron = \"*/10 * * * *\""),
            flow("other", "cron = \"*/10 * * * *\""),
        ],
        2,
        Duration::from_secs(62 * 60),
    )
    .await;
    assert_eq!(
        runner.starts("spent"),
        [
            at("2026-01-01T00:10:00Z"),
            at("2026-01-01T00:50:00Z"),
            at("2026-01-01T01:00:00Z")
        ],
        "the 00:20, 00:30 and 00:40 ticks fall while the quota is spent"
    );
    assert_eq!(
        runner.starts("other").len(),
        6,
        "another flow is not held back"
    );
}
