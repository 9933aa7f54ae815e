//! Sliding-window request quotas, as strict as a vendor's: a request is refused when the last
//! `period` already holds `limit` accepted requests.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuotaSpec {
    pub name: String,
    pub limit: u32,
    pub period_s: u64,
}

impl QuotaSpec {
    pub fn new(name: &str, limit: u32, period_s: u64) -> Self {
        Self {
            name: name.into(),
            limit,
            period_s,
        }
    }

    /// `COUNT/SECONDS`, as `--quota zendesk=100/60` writes it.
    pub fn parse(name: &str, text: &str) -> Result<Self, String> {
        let (count, secs) = text
            .split_once('/')
            .ok_or_else(|| format!("quota `{text}`: expected COUNT/SECONDS, e.g. 100/60"))?;
        let limit: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("quota `{text}`: COUNT must be a positive integer"))?;
        let period_s: u64 = secs
            .trim()
            .parse()
            .map_err(|_| format!("quota `{text}`: SECONDS must be a positive integer"))?;
        if limit == 0 || period_s == 0 {
            return Err(format!("quota `{text}`: COUNT and SECONDS must be above 0"));
        }
        Ok(Self::new(name, limit, period_s))
    }
}

pub struct Window {
    pub spec: QuotaSpec,
    accepted: Mutex<VecDeque<Instant>>,
}

/// What a window says about one request.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    pub allowed: bool,
    pub remaining: u32,
    /// Seconds until the oldest request leaves the window (at least 1 when refused).
    pub reset_s: u64,
}

impl Window {
    pub fn new(spec: QuotaSpec) -> Self {
        Self {
            spec,
            accepted: Mutex::new(VecDeque::new()),
        }
    }

    fn period(&self) -> Duration {
        Duration::from_secs(self.spec.period_s)
    }

    pub fn check(&self, now: Instant) -> Verdict {
        let period = self.period();
        let mut q = self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        while q.front().is_some_and(|t| now.duration_since(*t) >= period) {
            q.pop_front();
        }
        let used = q.len() as u32;
        let reset_s = q
            .front()
            .map(|t| (period - now.duration_since(*t)).as_secs_f64().ceil() as u64)
            .unwrap_or(0);
        if used >= self.spec.limit {
            Verdict {
                allowed: false,
                remaining: 0,
                reset_s: reset_s.max(1),
            }
        } else {
            Verdict {
                allowed: true,
                remaining: self.spec.limit - used,
                reset_s,
            }
        }
    }

    /// Count an accepted request.
    pub fn accept(&self, now: Instant) {
        self.accepted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_until_the_window_slides() {
        let w = Window::new(QuotaSpec::new("q", 2, 60));
        let t0 = Instant::now();
        assert!(w.check(t0).allowed);
        w.accept(t0);
        assert_eq!(w.check(t0).remaining, 1);
        w.accept(t0);
        let v = w.check(t0 + Duration::from_secs(10));
        assert!(!v.allowed);
        assert_eq!(v.reset_s, 50);
        assert!(w.check(t0 + Duration::from_secs(60)).allowed);
    }

    #[test]
    fn parses_count_per_seconds() {
        assert_eq!(QuotaSpec::parse("z", "100/60").expect("ok").limit, 100);
        assert!(QuotaSpec::parse("z", "0/60").is_err());
        assert!(QuotaSpec::parse("z", "100").is_err());
    }
}
