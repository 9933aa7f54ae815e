//! `sluice schedule`: one long-running process that runs each flow when it is due.
//!
//! - Never two runs of one flow at once: a flow is not started again while its run is in
//!   flight (and the state store's lock also keeps out a second scheduler or a manual run).
//! - Missed fire times (downtime, or a run that overran) become one catch-up run, not a burst.
//! - At most `max_concurrent` runs at a time.
//! - On stop (SIGTERM/SIGINT) no new run starts; running ones are told to stop, commit what is
//!   complete, and the scheduler returns once they have.
//!
//! The loop is generic over a [`Clock`] and a [`FlowRunner`], so tests drive time on tokio's
//! paused clock instead of sleeping.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch, Semaphore};

use crate::flow::Flow;
use crate::report::RunStatus;
use crate::schedule::Schedule;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that follows tokio's (pausable) time from a fixed start: for tests.
pub struct TokioClock {
    base: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.start;
        self.base + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}

/// How a run ended, as the scheduler needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEnd {
    pub status: RunStatus,
    /// A quota ran out: the flow runs again no earlier than this.
    pub resume_at: Option<DateTime<Utc>>,
}

impl From<RunStatus> for RunEnd {
    fn from(status: RunStatus) -> Self {
        Self {
            status,
            resume_at: None,
        }
    }
}

/// What the scheduler asks of the engine.
#[async_trait]
pub trait FlowRunner: Send + Sync + 'static {
    /// Run `flow` once (`None`: it did not start, another run holds its lock). `stop` flips to
    /// `true` when the scheduler shuts down.
    async fn run(&self, flow: &Flow, stop: watch::Receiver<bool>) -> Option<RunEnd>;
    /// When the flow last started a run, from its run history.
    fn last_started(&self, flow: &Flow) -> Option<DateTime<Utc>>;
}

struct Entry {
    flow: Arc<Flow>,
    schedule: Schedule,
    next_due: Option<DateTime<Utc>>,
    running: bool,
    started: Option<DateTime<Utc>>,
}

/// When a flow is first due after the scheduler starts at `now`.
fn first_due(
    schedule: &Schedule,
    last_started: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match last_started {
        // a fire time passed since the last run: one catch-up run now
        Some(last) => schedule.next_after(last),
        None => match schedule {
            // a cron flow never run starts at its next tick
            Schedule::Cron { .. } => schedule.next_after(now),
            // the seeds' schedules start at start_time: if that has passed, run now
            Schedule::Once { .. } | Schedule::Every { .. } => match schedule.last_at_or_before(now)
            {
                Some(_) => Some(now),
                None => schedule.next_after(now),
            },
        },
    }
}

/// A due time as a log shows it: ISO-8601 to the second, or `never`.
fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(
        || "never".into(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// Runs `flows` on their schedules until `stop` flips (or nothing is left to schedule).
/// Returns the number of runs started.
pub async fn run_scheduler<R: FlowRunner, C: Clock>(
    flows: Vec<Flow>,
    runner: Arc<R>,
    clock: Arc<C>,
    max_concurrent: usize,
    mut stop: watch::Receiver<bool>,
) -> usize {
    let now = clock.now();
    let mut entries: Vec<Entry> = flows
        .into_iter()
        .filter_map(|f| {
            let schedule = f.schedule.clone()?;
            let next_due = first_due(&schedule, runner.last_started(&f), now);
            tracing::info!(flow = %f.name, schedule = %schedule.describe(), next = %when(next_due), "scheduled");
            Some(Entry {
                flow: Arc::new(f),
                schedule,
                next_due,
                running: false,
                started: None,
            })
        })
        .collect();
    let permits = Arc::new(Semaphore::new(max_concurrent.max(1)));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(usize, Option<RunEnd>)>();
    let mut started_runs = 0;
    let mut in_flight = 0usize;

    loop {
        if *stop.borrow() {
            break;
        }
        let now = clock.now();
        // start what is due, earliest first, while permits last
        let mut due: Vec<usize> = (0..entries.len())
            .filter(|&i| !entries[i].running && entries[i].next_due.is_some_and(|d| d <= now))
            .collect();
        due.sort_by_key(|&i| entries[i].next_due);
        for i in due {
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                break;
            };
            let e = &mut entries[i];
            e.running = true;
            e.started = Some(now);
            in_flight += 1;
            started_runs += 1;
            let (flow, runner, done, stop) = (
                e.flow.clone(),
                runner.clone(),
                done_tx.clone(),
                stop.clone(),
            );
            tracing::info!(flow = %flow.name, "starting scheduled run");
            tokio::spawn(async move {
                let status = runner.run(&flow, stop).await;
                drop(permit);
                let _ = done.send((i, status));
            });
        }
        if in_flight == 0 && entries.iter().all(|e| e.next_due.is_none()) {
            tracing::info!("nothing left to schedule");
            break;
        }
        // sleep until the next idle flow is due, a run finishes, or we are told to stop
        let wake = entries
            .iter()
            .filter(|e| !e.running)
            .filter_map(|e| e.next_due)
            .min()
            .filter(|_| permits.available_permits() > 0);
        let sleep = async {
            match wake {
                Some(w) => tokio::time::sleep((w - clock.now()).to_std().unwrap_or_default()).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            Some((i, end)) = done_rx.recv() => {
                in_flight -= 1;
                let e = &mut entries[i];
                e.running = false;
                // the next fire after this run's start: if the run overran fire times, that is
                // one catch-up run right away
                e.next_due = e.started.and_then(|s| e.schedule.next_after(s));
                // a spent quota defers the flow until it is back, not for a fire or two
                if let Some(resume) = end.and_then(|r| r.resume_at) {
                    e.next_due = match e.next_due {
                        Some(next) if next >= resume => Some(next),
                        Some(_) => e.schedule.next_after(resume - chrono::Duration::seconds(1)).or(Some(resume)),
                        None => None,
                    };
                    tracing::warn!(flow = %e.flow.name, resume_at = %resume.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), next = %when(e.next_due), "quota spent: the flow waits until it is back");
                }
                tracing::info!(flow = %e.flow.name, status = end.map_or("not run", |r| r.status.as_str()), next = %when(e.next_due), "scheduled run finished");
            }
            _ = stop.changed() => {}
        }
    }
    tracing::info!(
        running = in_flight,
        "scheduler stopping: no new runs; waiting for running ones to commit"
    );
    while in_flight > 0 {
        if done_rx.recv().await.is_none() {
            break;
        }
        in_flight -= 1;
    }
    started_runs
}

/// The production runner: each run is a full [`crate::run_flow`] with the flow's own state lock.
pub struct EngineRunner {
    registry: sluice_core::Registry,
}

impl EngineRunner {
    pub fn new(registry: sluice_core::Registry) -> Self {
        Self { registry }
    }
}

#[async_trait]
impl FlowRunner for EngineRunner {
    async fn run(&self, flow: &Flow, stop: watch::Receiver<bool>) -> Option<RunEnd> {
        let options = crate::RunOptions {
            progress: false,
            stop: Some(stop),
        };
        match crate::run_flow(flow, &self.registry, options).await {
            Ok(outcome) => Some(RunEnd {
                status: outcome.status,
                resume_at: outcome.exhausted.map(|e| e.resume_at),
            }),
            Err(crate::RunError::Locked(e)) => {
                tracing::warn!(flow = %flow.name, "skipped: {e}");
                None
            }
            Err(e) => {
                tracing::error!(flow = %flow.name, "run failed before it started: {e}");
                Some(RunStatus::Failed.into())
            }
        }
    }

    fn last_started(&self, flow: &Flow) -> Option<DateTime<Utc>> {
        if !flow.state.exists() {
            return None;
        }
        let store = flow.state.open().ok()?;
        let last = store.runs(Some(&flow.name), 1).ok()?.into_iter().next()?;
        DateTime::parse_from_rfc3339(&last.started_at)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }
}
