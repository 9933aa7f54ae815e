use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sluice_core::RequestMetricsSnapshot;

/// Counters of one client's traffic. Shared by clones of the client.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    requests_sent: AtomicU64,
    retries: AtomicU64,
    bytes_received: AtomicU64,
    throttled_us: AtomicU64,
    rate_limited_responses: AtomicU64,
}

impl RequestMetrics {
    pub(crate) fn request_sent(&self) {
        self.requests_sent.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn received(&self, bytes: usize) {
        self.bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }
    pub(crate) fn throttled(&self, wait: Duration) {
        self.throttled_us
            .fetch_add(wait.as_micros() as u64, Ordering::Relaxed);
    }
    pub(crate) fn rate_limited(&self) {
        self.rate_limited_responses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> RequestMetricsSnapshot {
        RequestMetricsSnapshot {
            requests_sent: self.requests_sent.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            throttled_ms: self.throttled_us.load(Ordering::Relaxed) / 1000,
            rate_limited_responses: self.rate_limited_responses.load(Ordering::Relaxed),
        }
    }
}
