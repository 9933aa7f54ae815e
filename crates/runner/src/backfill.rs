//! `sluice backfill`: a day range split into windows per stream, run with bounded concurrency,
//! resumable. Each window is a task of its own in the state store: completed windows are
//! skipped on a rerun, an interrupted one resumes from its checkpoint, and `--force` pulls
//! windows again and replaces their files once the new pull of each window is complete.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use sluice_core::{DayWindow, QuotaInfo, Registry, Task};

use crate::flow::Flow;
use crate::progress::Counters;
use crate::run::{begin, execute, prepare, RunError, RunOptions, RunOutcome, TaskSpec};

/// Days per window when neither the command line nor the connector says.
const DEFAULT_WINDOW_DAYS: u32 = 7;

/// Requests are paced at this share of the strictest quota (see `sluice_http::PACE`).
const PACE: f64 = 0.95;

#[derive(Debug, Clone)]
pub struct BackfillRequest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Days per window; `None`: the connector's layout with the fewest requests, else 7.
    pub window_days: Option<u32>,
    /// Streams to backfill; `None` means the flow's streams.
    pub streams: Option<Vec<String>>,
    /// Pull completed windows again and replace their files.
    pub force: bool,
    pub concurrency: usize,
}

#[derive(Debug, Clone)]
pub struct PlannedWindow {
    pub stream: String,
    /// The part of the stream's source (an ad account); empty when it has one.
    pub slice: String,
    pub window: DayWindow,
    pub key: String,
    /// Completed by an earlier backfill.
    pub done: bool,
    /// Pulled by this backfill: a new window, one resumed from its checkpoint, or (`--force`)
    /// one pulled again whole.
    pub run: bool,
    /// Started by an earlier backfill (some of it is committed): resumed with its own days.
    pub resumed: bool,
    /// Another shard's (`--shard K/N`): this process does not run it.
    pub elsewhere: bool,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub flow: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Days per window, when the command line said.
    pub window_days: Option<u32>,
    pub windows: Vec<PlannedWindow>,
    pub force: bool,
    pub concurrency: usize,
    /// The fewest requests the windows to run need.
    pub min_requests: u64,
    pub quotas: Vec<QuotaInfo>,
    /// How long `min_requests` take at the paced quota.
    pub min_duration: Duration,
    /// Adjustments the plan made (windows cut to an API's range cap).
    pub notes: Vec<String>,
    /// The connector's last day whose data is final, when the plan was made.
    pub last_complete: NaiveDate,
    /// The shard this process runs (`--shard K/N`).
    pub shard: Option<crate::Shard>,
}

impl Plan {
    pub fn to_run(&self) -> usize {
        self.windows.iter().filter(|w| w.run).count()
    }

    /// The plan as printed before a backfill starts.
    pub fn describe(&self) -> String {
        let mut streams: Vec<&str> = self.windows.iter().map(|w| w.stream.as_str()).collect();
        streams.dedup();
        let done = self
            .windows
            .iter()
            .filter(|w| w.done && !w.run && !w.elsewhere)
            .count();
        let elsewhere = self.windows.iter().filter(|w| w.elsewhere).count();
        let resumed = self.windows.iter().filter(|w| w.resumed && w.run).count();
        let redone = self.windows.iter().filter(|w| w.done && w.run).count();
        let layout = match self.window_days {
            Some(d) => format!("in windows of {d} day{}", if d == 1 { "" } else { "s" }),
            None => "in the windows that take the fewest requests".to_string(),
        };
        let mut out = format!(
            "backfill {}: {}..{} {layout}, stream{} {}\n  {} window{}: {} done, {} to run{}{}\n",
            self.flow,
            self.from,
            self.to,
            if streams.len() == 1 { "" } else { "s" },
            streams.join(", "),
            self.windows.len(),
            if self.windows.len() == 1 { "" } else { "s" },
            done,
            self.to_run(),
            if resumed > 0 {
                format!(" ({resumed} resumed with the days they were started with)")
            } else {
                String::new()
            },
            if redone > 0 {
                format!(" (--force: {redone} done pulled again, their files replaced)")
            } else {
                String::new()
            },
        );
        if let Some(shard) = self.shard {
            out.push_str(&format!(
                "  shard {shard}: {elsewhere} of the windows {} to the other {} shard{} \
                 (each paces at 1/{} of the quota)\n",
                if elsewhere == 1 { "belongs" } else { "belong" },
                shard.count - 1,
                if shard.count == 2 { "" } else { "s" },
                shard.count,
            ));
        }
        let quota = if self.quotas.is_empty() {
            "no quota".to_string()
        } else {
            let each: Vec<String> = self
                .quotas
                .iter()
                .map(|q| format!("{} per {} s ({})", q.count, q.period_s, q.name))
                .collect();
            format!("{}, used up to {:.0} %", each.join(", "), PACE * 100.0)
        };
        out.push_str(&format!(
            "  requests: at least {} (one per window and page); quota: {quota}\n  ETA: at least {} at that pace, with {} window{} at a time\n",
            self.min_requests,
            human_duration(self.min_duration),
            self.concurrency,
            if self.concurrency == 1 { "" } else { "s" },
        ));
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out
    }
}

fn interval(q: &QuotaInfo) -> Duration {
    Duration::from_secs(q.period_s) / q.count.max(1)
}

/// How long `n` requests take under one quota, as the client paces them: evenly at 95 % for
/// short periods, as a 95 % budget per period for long ones (see `sluice_http::BUDGET_PERIOD`).
pub(crate) fn quota_time(q: &QuotaInfo, n: u64) -> Duration {
    if q.period_s > 60 {
        let budget = ((f64::from(q.count) * PACE).floor() as u64).max(1);
        Duration::from_secs(q.period_s) * (n.saturating_sub(1) / budget) as u32
    } else {
        interval(q).div_f64(PACE) * n.saturating_sub(1) as u32
    }
}

pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Split `from..=to` into windows of `days`.
pub fn windows(from: NaiveDate, to: NaiveDate, days: u32) -> Vec<DayWindow> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = (start + Days::new(u64::from(days.max(1)) - 1)).min(to);
        out.push(DayWindow {
            from: start,
            to: end,
        });
        start = end + Days::new(1);
    }
    out
}

/// Whether two inclusive day ranges share a day.
fn overlaps(a: &DayWindow, from: NaiveDate, to: NaiveDate) -> bool {
    a.from <= to && from <= a.to
}

/// One stream's windows over `from..=to`. Completion is per day, whatever window layout an
/// earlier backfill used: a day inside a done window is done, a window started and not finished
/// is resumed with its own days (its committed part would otherwise be written twice), and only
/// the remaining days get new windows. With `force`, an event stream's days are pulled again
/// in new windows (each day's files are replaced); an entity stream's earlier windows are pulled
/// again whole, because their files hold all their days together.
#[allow(clippy::too_many_arguments)]
fn plan_stream(
    spec: &sluice_core::StreamSpec,
    slice: &str,
    known: &[sluice_state::WindowRecord],
    from: NaiveDate,
    to: NaiveDate,
    cut: &dyn Fn(NaiveDate, NaiveDate) -> Vec<DayWindow>,
    force: bool,
    last: NaiveDate,
    notes: &mut Vec<String>,
) -> Vec<PlannedWindow> {
    let mut out = Vec::new();
    let mut taken: Vec<DayWindow> = Vec::new();
    let redo_whole = force && !spec.day_partitioned;
    for k in known {
        let window = DayWindow {
            from: k.from,
            to: k.to,
        };
        if !overlaps(&window, from, to) {
            continue;
        }
        let run = !k.done || redo_whole;
        if run && k.to > last {
            notes.push(format!(
                "stream `{}`: window {}..{} holds days not complete yet; it runs once they are",
                spec.name, k.from, k.to
            ));
            taken.push(window);
            continue;
        }
        if force && spec.day_partitioned && k.done {
            // its days in range are pulled again by the new windows below
            continue;
        }
        if run && (k.from < from || k.to > to) {
            notes.push(format!(
                "stream `{}`: window {}..{} is {} whole, with the days it was {}",
                spec.name,
                k.from,
                k.to,
                if k.done { "pulled again" } else { "resumed" },
                if k.done {
                    "pulled with"
                } else {
                    "started with"
                }
            ));
        }
        taken.push(window);
        out.push(PlannedWindow {
            stream: spec.name.clone(),
            slice: slice.to_string(),
            window,
            key: k.task.clone(),
            done: k.done,
            run,
            resumed: !k.done,
            elsewhere: false,
        });
    }
    // the days left, in runs of consecutive days, cut into windows
    let free = |d: NaiveDate| !taken.iter().any(|w| w.from <= d && d <= w.to);
    let mut runs: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let mut day = from;
    while day <= to {
        if free(day) {
            match runs.last_mut() {
                Some((_, end)) if *end + Days::new(1) == day => *end = day,
                _ => runs.push((day, day)),
            }
        }
        day = day + Days::new(1);
    }
    for (start, end) in runs {
        for w in cut(start, end) {
            let key = Task {
                stream: spec.name.clone(),
                slice: slice.to_string(),
                window: Some(w),
            }
            .key(true);
            // a window of these very days may be known from an earlier layout
            let done = known.iter().any(|k| k.task == key && k.done);
            out.push(PlannedWindow {
                stream: spec.name.clone(),
                slice: slice.to_string(),
                window: w,
                key,
                done,
                run: true,
                resumed: false,
                elsewhere: false,
            });
        }
    }
    out.sort_by_key(|w| (w.window.from, w.window.to));
    out
}

/// Plan a backfill without running anything (no network).
pub fn plan_backfill(
    flow: &Flow,
    registry: &Registry,
    req: &BackfillRequest,
) -> Result<Plan, RunError> {
    if req.from > req.to {
        return Err(RunError::Config(format!(
            "--from {} is after --to {}",
            req.from, req.to
        )));
    }
    if req.window_days == Some(0) {
        return Err(RunError::Config("--window must be at least 1 day".into()));
    }
    let prepared = prepare(flow, registry)?;
    let selected: Vec<_> = match &req.streams {
        None => prepared.streams.iter().collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                prepared
                    .streams
                    .iter()
                    .find(|(s, _)| &s.name == n)
                    .ok_or_else(|| {
                        RunError::Config(format!(
                            "--streams: `{n}` is not a stream of flow `{}` (it pulls: {})",
                            flow.name,
                            prepared
                                .streams
                                .iter()
                                .map(|(s, _)| s.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    // a fresh machine plans from the lake's copy of the state, not from nothing
    crate::lake_state::ensure_state(flow)?;
    let store = if flow.state.exists() {
        Some(flow.state.open()?)
    } else {
        None
    };
    // a day is final only once it has ended: nothing later is ever recorded done
    let last = prepared.connector.last_complete_day(chrono::Utc::now());
    if req.from > last {
        return Err(RunError::Config(format!(
            "--from {} is after {last}, the last complete day of connector `{}`: its data is \
             not final yet (incremental runs pull the days in progress)",
            req.from, flow.connector
        )));
    }
    let mut notes = Vec::new();
    if let Some(shard) = flow.shard.filter(|_| req.to > last) {
        // the window layout is cut from the range: shards that cut it at another last day
        // (started either side of midnight, or one rerun the next day) would own other windows
        return Err(RunError::Config(format!(
            "--shard {shard}: --to {} is after {last}, the last complete day: every shard must \
             plan the same windows, so give a --to no later than {last}",
            req.to
        )));
    }
    let to = if req.to > last {
        let note = format!(
            "--to {} is after {last}, the last complete day: the backfill stops at {last}",
            req.to
        );
        tracing::warn!("{note}");
        notes.push(note);
        last
    } else {
        req.to
    };
    let mut planned = Vec::new();
    let mut min_requests = 0;
    for (spec, mapping) in selected {
        let fields = mapping.source_paths();
        if !spec.supports_day_windows {
            return Err(RunError::Config(format!(
                "stream `{}` of connector `{}` has no notion of a day range, so it cannot be \
                 backfilled by day; pull it with `sluice run`",
                spec.name, flow.connector
            )));
        }
        let asked = req.window_days.unwrap_or(DEFAULT_WINDOW_DAYS);
        let days = match spec.max_window_days {
            Some(max) if max < asked => {
                notes.push(format!(
                    "stream `{}`: windows cut to {max} days, the longest range its API serves",
                    spec.name
                ));
                max
            }
            _ => asked,
        };
        let connector = &prepared.connector;
        // the connector's own layout when the command line names none
        let cut = |from: NaiveDate, to: NaiveDate| match req.window_days {
            None => connector
                .windows(spec, from, to)
                .unwrap_or_else(|| windows(from, to, days)),
            Some(_) => windows(from, to, days),
        };
        for slice in prepared.connector.slices(spec) {
            let mut known = match &store {
                Some(s) => s.windows(&flow.name, &spec.name, &slice)?,
                None => Vec::new(),
            };
            // an entity stream's incremental runs hold every record updated on their days:
            // those days are done, unless `--force` asks for them again
            let incremental_key = Task {
                stream: spec.name.clone(),
                slice: slice.clone(),
                window: None,
            }
            .key(false);
            let incremental = match (&store, spec.day_partitioned) {
                (Some(s), false) => s
                    .checkpoint(&flow.name, &incremental_key)?
                    .and_then(|cp| prepared.connector.incremental_days(spec, &cp)),
                _ => None,
            };
            if let Some(held) = incremental.filter(|w| w.from <= to && req.from <= w.to) {
                if req.force {
                    notes.push(format!(
                        "stream `{}`: its incremental runs already hold the days {}..{}; --force \
                         pulls them again, and their records are then written a second time",
                        spec.name, held.from, held.to
                    ));
                } else {
                    notes.push(format!(
                        "stream `{}`: the days {}..{} are done: its incremental runs hold every \
                         record updated on them (--force pulls them again)",
                        spec.name,
                        held.from.max(req.from),
                        held.to.min(to)
                    ));
                    known.push(sluice_state::WindowRecord {
                        task: incremental_key.clone(),
                        from: held.from.max(req.from),
                        to: held.to.min(to),
                        done: true,
                    });
                }
            }
            let mut windows = plan_stream(
                spec, &slice, &known, req.from, to, &cut, req.force, last, &mut notes,
            );
            if let Some(shard) = flow.shard {
                for w in windows.iter_mut().filter(|w| !shard.owns(&w.key)) {
                    w.run = false;
                    w.elsewhere = true;
                }
            }
            for w in &windows {
                if w.run {
                    min_requests += prepared.connector.min_requests(
                        &Task {
                            stream: spec.name.clone(),
                            slice: slice.clone(),
                            window: Some(w.window),
                        },
                        &fields,
                    );
                }
            }
            planned.extend(windows);
        }
    }
    let quotas = prepared.connector.quotas();
    let min_duration = quotas
        .iter()
        .map(|q| quota_time(q, min_requests))
        .max()
        .unwrap_or_default();
    Ok(Plan {
        flow: flow.name.clone(),
        from: req.from,
        to,
        window_days: req.window_days,
        windows: planned,
        force: req.force,
        concurrency: req.concurrency.max(1),
        min_requests,
        min_duration,
        quotas,
        notes,
        last_complete: last,
        shard: flow.shard,
    })
}

/// Run a planned backfill. Returns `None` when every window is already done (and the lake
/// holds every file the state committed).
pub async fn run_backfill(
    flow: &Flow,
    registry: &Registry,
    plan: &Plan,
    options: RunOptions,
) -> Result<Option<RunOutcome>, RunError> {
    let prepared = prepare(flow, registry)?;
    let specs: Vec<sluice_core::StreamSpec> =
        prepared.streams.iter().map(|(s, _)| s.clone()).collect();
    let begun = begin(flow, prepared.connector.clone(), "backfill", false, &specs)?;
    let (mut ctx, store, errors) = (begun.ctx, begun.store, begun.errors);
    // a lost file is restored by a window that pulls all of its days again
    let pulls = |w: &&PlannedWindow| w.run && !w.resumed;
    let restores = |f: &sluice_state::ManifestFile, w: &PlannedWindow| {
        crate::agreement::restores(f, &w.stream, &w.slice, w.window, plan.last_complete)
    };
    let (restored, lost): (Vec<_>, Vec<_>) = begun
        .lost
        .into_iter()
        .partition(|f| plan.windows.iter().filter(pulls).any(|w| restores(f, w)));
    let mut warnings = prepared.warnings.clone();
    if !lost.is_empty() {
        // other lost files are other days': this backfill does what it can, and says so
        let e = crate::agreement::lost_error(flow, &lost, plan.last_complete);
        tracing::warn!("{e}");
        warnings.push(e.to_string());
    }
    if plan.to_run() == 0 {
        return Ok(None);
    }
    let mut tasks = Vec::new();
    for w in plan.windows.iter().filter(|w| w.run) {
        let Some((spec, mapping)) = prepared.streams.iter().find(|(s, _)| s.name == w.stream)
        else {
            continue;
        };
        let mut replaces = if plan.force && !w.resumed {
            // under the lock now: forget the window's progress, keep its files until the new
            // pull of the window completes
            store.restart_task(&flow.name, &w.key)?;
            store.task_files(&flow.name, &w.key)?
        } else {
            Vec::new()
        };
        if !w.resumed {
            // the lost files this window pulls again leave the manifest when it completes
            replaces.extend(
                restored
                    .iter()
                    .filter(|f| restores(f, w))
                    .map(|f| f.path.clone()),
            );
        }
        tasks.push(TaskSpec {
            stream: spec.clone(),
            mapping: mapping.clone(),
            task: Task {
                stream: spec.name.clone(),
                slice: w.slice.clone(),
                window: Some(w.window),
            },
            key: w.key.clone(),
            replaces,
            backfill: true,
            final_checkpoint: None,
        });
    }
    let counters = Arc::new(Counters::default());
    ctx.counters = Some(counters.clone());
    let total = tasks.len() as u64;
    let reporter = tokio::spawn(report_progress(
        counters,
        total,
        options.progress,
        plan.min_duration,
    ));
    let outcome = execute(
        ctx,
        store,
        errors,
        tasks,
        plan.concurrency,
        options.stop,
        warnings,
    )
    .await;
    reporter.abort();
    crate::progress::end_drawn();
    outcome.map(Some)
}

/// Windows done/total, records, rate, elapsed and ETA: redrawn on a terminal (within its
/// width), a plain log line every 10 s elsewhere.
async fn report_progress(counters: Arc<Counters>, total: u64, terminal: bool, planned: Duration) {
    let started = Instant::now();
    let every = if terminal {
        Duration::from_millis(250)
    } else {
        crate::progress::LOG_EVERY
    };
    loop {
        tokio::time::sleep(every).await;
        let done = counters.windows_done();
        let records = counters.records();
        let elapsed = started.elapsed();
        let rate = records as f64 / elapsed.as_secs_f64().max(0.001);
        let eta = if done > 0 {
            elapsed.mul_f64((total - done.min(total)) as f64 / done as f64)
        } else {
            planned.saturating_sub(elapsed)
        };
        // the facts first: a narrow terminal cuts the line from the end
        let width = 24u64;
        let filled = (done * width).checked_div(total).unwrap_or(0) as usize;
        let line = format!(
            "{done}/{total} windows, {records} records, {rate:.0} records/s, {} elapsed, ETA {}{} [{}{}]",
            human_duration(elapsed),
            human_duration(eta),
            crate::progress::waiting(),
            "#".repeat(filled),
            "-".repeat(width as usize - filled),
        );
        if terminal {
            crate::progress::draw(&line);
        } else {
            tracing::info!("backfill progress: {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn eta_follows_rates_and_budgets() {
        let per_second = QuotaInfo {
            name: "s".into(),
            count: 3,
            period_s: 1,
        };
        let per_hour = QuotaInfo {
            name: "h".into(),
            count: 60,
            period_s: 3600,
        };
        assert_eq!(
            quota_time(&per_hour, 57),
            Duration::ZERO,
            "57 fit in one hour's budget"
        );
        assert_eq!(quota_time(&per_hour, 58), Duration::from_secs(3600));
        let t = quota_time(&per_second, 10);
        assert!(
            t > Duration::from_millis(3100) && t < Duration::from_millis(3200),
            "{t:?}"
        );
    }

    #[test]
    fn windows_cover_the_range_once() {
        let w = windows(d("2024-01-01"), d("2024-06-30"), 7);
        assert_eq!(w.len(), 26);
        assert_eq!(
            w[0],
            DayWindow {
                from: d("2024-01-01"),
                to: d("2024-01-07")
            }
        );
        assert_eq!(
            w[25],
            DayWindow {
                from: d("2024-06-24"),
                to: d("2024-06-30")
            }
        );
        for pair in w.windows(2) {
            assert_eq!(
                pair[0].to + Days::new(1),
                pair[1].from,
                "no gap, no overlap"
            );
        }
        assert_eq!(windows(d("2024-01-01"), d("2024-01-01"), 30).len(), 1);
        assert_eq!(
            windows(d("2024-01-01"), d("2024-01-10"), 3)
                .last()
                .map(|w| w.to),
            Some(d("2024-01-10"))
        );
    }

    fn spec(day_partitioned: bool) -> sluice_core::StreamSpec {
        sluice_core::StreamSpec {
            name: "s".into(),
            primary_key: Vec::new(),
            cursor_field: None,
            schema: sluice_core::StreamSchema::default(),
            sync: sluice_core::SyncMode::Incremental,
            supports_day_windows: true,
            max_window_days: None,
            day_partitioned,
            default_fields: None,
            aliases: Vec::new(),
            rate_category: None,
        }
    }

    fn known(from: &str, to: &str, done: bool) -> sluice_state::WindowRecord {
        sluice_state::WindowRecord {
            task: format!("s@{from}..{to}"),
            from: d(from),
            to: d(to),
            done,
        }
    }

    /// (from, to, run, resumed) of each planned window.
    fn plan(
        day_partitioned: bool,
        k: &[sluice_state::WindowRecord],
        range: (&str, &str),
        days: u32,
        force: bool,
    ) -> Vec<(String, String, bool, bool)> {
        let mut notes = Vec::new();
        plan_stream(
            &spec(day_partitioned),
            "",
            k,
            d(range.0),
            d(range.1),
            &|a, b| windows(a, b, days),
            force,
            d("2099-01-01"),
            &mut notes,
        )
        .into_iter()
        .map(|w| {
            (
                w.window.from.to_string(),
                w.window.to.to_string(),
                w.run,
                w.resumed,
            )
        })
        .collect()
    }

    fn w(from: &str, to: &str, run: bool, resumed: bool) -> (String, String, bool, bool) {
        (from.into(), to.into(), run, resumed)
    }

    #[test]
    fn issue9_completion_is_per_day_whatever_the_window_layout() {
        let weeks = [
            known("2024-01-01", "2024-01-07", true),
            known("2024-01-08", "2024-01-14", true),
        ];
        // the same days in another layout: nothing to pull
        assert_eq!(
            plan(false, &weeks, ("2024-01-01", "2024-01-14"), 14, false),
            [
                w("2024-01-01", "2024-01-07", false, false),
                w("2024-01-08", "2024-01-14", false, false)
            ]
        );
        // a longer range: only the new days
        assert_eq!(
            plan(false, &weeks, ("2024-01-03", "2024-01-31"), 14, false),
            [
                w("2024-01-01", "2024-01-07", false, false),
                w("2024-01-08", "2024-01-14", false, false),
                w("2024-01-15", "2024-01-28", true, false),
                w("2024-01-29", "2024-01-31", true, false)
            ]
        );
    }

    #[test]
    fn a_started_window_resumes_with_its_own_days() {
        let k = [known("2024-01-01", "2024-01-14", false)];
        assert_eq!(
            plan(false, &k, ("2024-01-08", "2024-01-20"), 7, false),
            [
                w("2024-01-01", "2024-01-14", true, true),
                w("2024-01-15", "2024-01-20", true, false)
            ]
        );
    }

    #[test]
    fn force_redoes_entity_windows_whole_and_event_days_in_new_windows() {
        let k = [known("2024-01-01", "2024-01-14", true)];
        assert_eq!(
            plan(false, &k, ("2024-01-10", "2024-01-20"), 7, true),
            [
                w("2024-01-01", "2024-01-14", true, false),
                w("2024-01-15", "2024-01-20", true, false)
            ],
            "an entity window's files hold all its days: it is pulled again whole"
        );
        assert_eq!(
            plan(true, &k, ("2024-01-10", "2024-01-20"), 7, true),
            [
                w("2024-01-10", "2024-01-16", true, false),
                w("2024-01-17", "2024-01-20", true, false)
            ],
            "an event stream's days are replaced day by day"
        );
    }
}
