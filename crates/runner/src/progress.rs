//! A single progress line on a terminal (pages, records, rate); silent elsewhere, where logs
//! carry the same facts.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

pub(crate) struct Progress {
    enabled: bool,
    stream: String,
    started: Instant,
    last: Option<Instant>,
}

impl Progress {
    pub fn new(enabled: bool, stream: &str) -> Self {
        Self {
            enabled,
            stream: stream.to_string(),
            started: Instant::now(),
            last: None,
        }
    }

    fn line(&self, pages: u64, input: u64, output: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        format!(
            "{}: {pages} pages, {input} records in, {output} written, {:.0} records/s",
            self.stream,
            input as f64 / secs
        )
    }

    pub fn update(&mut self, pages: u64, input: u64, output: u64) {
        if !self.enabled
            || self
                .last
                .is_some_and(|l| l.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.last = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{}", self.line(pages, input, output));
        let _ = err.flush();
    }

    pub fn finish(&mut self, pages: u64, input: u64, output: u64) {
        if self.enabled {
            let _ = writeln!(
                std::io::stderr().lock(),
                "\r\x1b[2K{}",
                self.line(pages, input, output)
            );
        }
    }
}
