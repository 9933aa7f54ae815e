//! Progress for people and for logs. On a terminal one line is redrawn in place, always
//! within the terminal's width (a wrapped line cannot be redrawn: every update would leave
//! one behind), and a log line first clears it so the two never glue together. Off a terminal
//! the same facts go to the log every [`LOG_EVERY`].

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::backfill::human_duration;

/// How often a progress line is logged when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// How often a terminal line is redrawn.
const REDRAW_EVERY: Duration = Duration::from_millis(250);

/// A progress line is on the terminal now (not ended by a newline).
static DRAWN: AtomicBool = AtomicBool::new(false);

/// Clear a drawn progress line before another line is written to stderr (a log line): the
/// next update draws it again below.
pub fn clear_for_log(err: &mut impl Write) {
    if DRAWN.swap(false, Ordering::Relaxed) {
        let _ = err.write_all(b"\r\x1b[2K");
    }
}

/// The terminal's width in columns: the terminal's own, else `COLUMNS`, else 80.
fn width() -> usize {
    terminal_size::terminal_size_of(std::io::stderr())
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .filter(|w| *w > 0)
        .unwrap_or(80)
}

/// `line` cut to fit `width` columns, with room for the cursor (a line as wide as the
/// terminal wraps on some terminals).
fn fit(line: &str, width: usize) -> String {
    let room = width.saturating_sub(1).max(1);
    if line.chars().count() <= room {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(room.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `, waiting for quota `x` (12s)` while a request waits for one.
pub(crate) fn waiting() -> String {
    sluice_http::quota_wait()
        .map(|(quota, left)| {
            // whole seconds, rounded up: a wait that is on never reads "0s"
            let up = Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0));
            format!(", waiting for quota `{quota}` ({})", human_duration(up))
        })
        .unwrap_or_default()
}

/// Draw `line` in place on stderr, fitted to the terminal.
pub(crate) fn draw(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{}", fit(line, width()));
    let _ = err.flush();
    DRAWN.store(true, Ordering::Relaxed);
}

/// End a drawn line with a newline, so what follows starts below it.
pub(crate) fn end_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\r\x1b[2K{}", fit(line, width()));
    DRAWN.store(false, Ordering::Relaxed);
}

/// End a drawn line (a report's stdout line comes next), if one is drawn.
pub(crate) fn end_drawn() {
    if DRAWN.swap(false, Ordering::Relaxed) {
        let _ = writeln!(std::io::stderr().lock());
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Counters shared by the tasks of a backfill, read by its progress reporter.
#[derive(Debug, Default)]
pub struct Counters {
    records: AtomicU64,
    windows_done: AtomicU64,
}

impl Counters {
    pub fn add_records(&self, n: u64) {
        self.records.fetch_add(n, Ordering::Relaxed);
    }
    pub fn window_done(&self) {
        self.windows_done.fetch_add(1, Ordering::Relaxed);
    }
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }
    pub fn windows_done(&self) -> u64 {
        self.windows_done.load(Ordering::Relaxed)
    }
}

/// One task's progress: pages, records in and written, rate, elapsed.
pub(crate) struct Progress {
    terminal: bool,
    task: String,
    started: Instant,
    last_draw: Option<Instant>,
    last_log: Instant,
}

impl Progress {
    pub fn new(terminal: bool, task: &str) -> Self {
        Self {
            terminal,
            task: task.to_string(),
            started: Instant::now(),
            last_draw: None,
            last_log: Instant::now(),
        }
    }

    fn line(&self, pages: u64, input: u64, output: u64) -> String {
        let elapsed = self.started.elapsed();
        let secs = elapsed.as_secs_f64().max(0.001);
        format!(
            "{}: {}, {} in, {} written, {:.0} records/s, {}{}",
            self.task,
            plural(pages, "page", "pages"),
            plural(input, "record", "records"),
            output,
            input as f64 / secs,
            human_duration(elapsed),
            waiting()
        )
    }

    pub fn update(&mut self, pages: u64, input: u64, output: u64) {
        if self.terminal {
            if self.last_draw.is_some_and(|l| l.elapsed() < REDRAW_EVERY) {
                return;
            }
            self.last_draw = Some(Instant::now());
            draw(&self.line(pages, input, output));
        } else if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            tracing::info!("progress: {}", self.line(pages, input, output));
        }
    }

    pub fn finish(&mut self, pages: u64, input: u64, output: u64) {
        if self.terminal {
            end_line(&self.line(pages, input, output));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_never_outgrows_the_terminal() {
        let line = "users: 12 pages, 12000 records in, 11990 written, 5300 records/s, 3s";
        assert_eq!(fit(line, 120), line);
        let cut = fit(line, 40);
        assert_eq!(cut.chars().count(), 39);
        assert!(cut.ends_with('…'));
        assert_eq!(fit(line, 1).chars().count(), 1);
        assert_eq!(plural(1, "page", "pages"), "1 page");
    }
}
