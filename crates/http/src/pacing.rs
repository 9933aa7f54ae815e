//! Quotas: pacing under each of them, shared by every client of one credential in the process.
//!
//! A vendor counts requests per user (or account) and category, not per flow: two flows of one
//! Pinterest user share the user's 300 analytics requests a minute. So a quota's pacer lives in a
//! process-wide registry keyed by (connection scope, quota), and every client with the same scope
//! takes its turns from the same pacer (`sluice schedule` runs many flows in one process).
//!
//! Quotas of a minute or less are paced evenly at [`PACE`] of their rate (no bursts: vendors
//! count windows strictly); longer ones are budgets (up to [`PACE`] of the count at once, never
//! more within any period), so a small job is not slowed to one request a minute for nothing.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, RateLimiter};
use tokio::time::Instant;

/// Requests are paced at this share of a quota. The margin absorbs arrival jitter, so that a
/// server counting a strict sliding window never sees one request too many, while a long run
/// still uses more than 90 % of what it is allowed.
pub const PACE: f64 = 0.95;

/// The quota this process last waited for, and until when: a progress line shows "waiting
/// for quota" while it lasts (one process runs one flow's progress line at a time).
static WAITING: Mutex<Option<(String, std::time::Instant)>> = Mutex::new(None);

/// A wait of at least this long is said (a log line, the progress line).
pub const SAID_WAIT: Duration = Duration::from_secs(2);

/// Record a wait for `quota` of `wait` (said in the log when long).
pub(crate) fn note_wait(quota: &str, wait: Duration) {
    if wait < SAID_WAIT {
        return;
    }
    if let Ok(mut w) = WAITING.lock() {
        *w = Some((quota.to_string(), std::time::Instant::now() + wait));
    }
}

/// The quota a request of this process is waiting for now, and how much longer.
pub fn quota_wait() -> Option<(String, Duration)> {
    let w = WAITING.lock().ok()?;
    let (quota, until) = w.as_ref()?;
    let left = until.saturating_duration_since(std::time::Instant::now());
    (!left.is_zero()).then(|| (quota.clone(), left))
}

/// Quotas over periods longer than this are budgets, not rates.
pub const BUDGET_PERIOD: Duration = Duration::from_secs(60);

/// A request budget: `count` requests per `period`, for one category or for every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// The vendor's name for it (`search_export`, `ads_analytics`, …), for plans and logs.
    pub name: String,
    pub count: u32,
    pub period: Duration,
    /// The category whose requests it counts; `None` counts every request of the connection.
    pub category: Option<String>,
    /// How long after the pacer starts its first turn comes: a shard's slot, when the quota
    /// is smaller than the number of shards.
    pub delay: Duration,
}

impl Quota {
    /// A quota every request of the connection counts against.
    pub fn new(name: &str, count: u32, period: Duration) -> Self {
        Self {
            name: name.to_string(),
            count,
            period,
            category: None,
            delay: Duration::ZERO,
        }
    }

    /// A quota only requests of `category` count against; it is named after the category.
    pub fn for_category(category: &str, count: u32, period: Duration) -> Self {
        Self {
            category: Some(category.to_string()),
            ..Self::new(category, count, period)
        }
    }

    /// The flow's overrides on top of the connector's `defaults`: one `COUNT/SECONDS` for every
    /// quota (tests, a shared budget) replaces them all with one; per-category values replace
    /// the quota of that name.
    ///
    /// With N shards sharing the credential, each quota is cut to its 1/N share, so the
    /// shards together never exceed it: COUNT/N per period, or, when COUNT is smaller than N,
    /// one request per as many periods as it takes (3 a second over 4 shards: one per 2 s
    /// each), with shard K's first turn K/N of that later, so their turns interleave (two a
    /// second together) instead of coming at once.
    pub fn overridden(overrides: &sluice_core::QuotaOverrides, defaults: Vec<Quota>) -> Vec<Quota> {
        let mut quotas = Self::configured(overrides, defaults);
        let share = overrides.share.max(1);
        for q in &mut quotas {
            if q.count >= share {
                q.count /= share;
            } else {
                q.period *= share.div_ceil(q.count.max(1));
                q.count = 1;
                q.delay = q.period * overrides.share_index.min(share - 1) / share;
            }
        }
        quotas
    }

    fn configured(overrides: &sluice_core::QuotaOverrides, defaults: Vec<Quota>) -> Vec<Quota> {
        if let Some((count, secs)) = overrides.all {
            return vec![Quota::new("quota", count, Duration::from_secs(secs))];
        }
        let mut quotas = defaults;
        for (name, (count, secs)) in &overrides.by_name {
            match quotas.iter_mut().find(|q| &q.name == name) {
                Some(q) => {
                    q.count = *count;
                    q.period = Duration::from_secs(*secs);
                }
                None => quotas.push(Quota::for_category(
                    name,
                    *count,
                    Duration::from_secs(*secs),
                )),
            }
        }
        quotas
    }

    /// The even spacing this quota allows between two requests.
    pub fn interval(&self) -> Duration {
        self.period / self.count.max(1)
    }

    /// Whether a request of `category` counts against this quota.
    pub fn applies_to(&self, category: Option<&str>) -> bool {
        match &self.category {
            None => true,
            Some(c) => category == Some(c.as_str()),
        }
    }
}

/// A client-side sliding window: the send times of the last `budget` requests.
struct Budget {
    budget: usize,
    period: Duration,
    sent: Mutex<std::collections::VecDeque<Instant>>,
}

impl Budget {
    /// How long until one more request fits; records it when it does (`Duration::ZERO`).
    fn reserve(&self, max_wait: Duration) -> Result<Duration, Duration> {
        let now = Instant::now();
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.period)
        {
            sent.pop_front();
        }
        if sent.len() < self.budget {
            sent.push_back(now);
            return Ok(Duration::ZERO);
        }
        let wait = sent
            .front()
            .map_or(Duration::ZERO, |t| {
                (*t + self.period).saturating_duration_since(now)
            })
            .max(Duration::from_millis(1));
        if wait > max_wait {
            Err(wait)
        } else {
            Ok(wait)
        }
    }
}

enum Kind {
    Rate(DefaultDirectRateLimiter),
    Budget(Budget),
}

/// One quota's pacer.
pub(crate) struct Pacer {
    pub quota: Quota,
    kind: Kind,
    /// No turn before this (the quota's `delay` after the pacer was made).
    not_before: std::time::Instant,
}

/// A quota that cannot give a turn within the wait budget.
#[derive(Debug, Clone)]
pub(crate) struct Exhausted {
    pub quota: String,
    pub wait: Duration,
}

impl Pacer {
    fn new(quota: &Quota) -> Result<Self, String> {
        if quota.count == 0 {
            return Err(format!("quota `{}` needs a count above 0", quota.name));
        }
        let kind = if quota.period > BUDGET_PERIOD {
            Kind::Budget(Budget {
                budget: ((f64::from(quota.count) * PACE).floor() as usize).max(1),
                period: quota.period,
                sent: Mutex::new(std::collections::VecDeque::new()),
            })
        } else {
            let interval = quota.interval().div_f64(PACE);
            let g = governor::Quota::with_period(interval)
                .ok_or_else(|| format!("quota `{}` needs a period above 0", quota.name))?
                .allow_burst(NonZeroU32::MIN);
            Kind::Rate(RateLimiter::direct(g))
        };
        Ok(Self {
            quota: quota.clone(),
            kind,
            not_before: std::time::Instant::now() + quota.delay,
        })
    }

    /// Wait for a turn, unless the wait would be longer than `max_wait`.
    pub async fn turn(&self, max_wait: Duration) -> Result<(), Exhausted> {
        let slot = self
            .not_before
            .saturating_duration_since(std::time::Instant::now());
        if !slot.is_zero() {
            if slot > max_wait {
                return Err(Exhausted {
                    quota: self.quota.name.clone(),
                    wait: slot,
                });
            }
            note_wait(&self.quota.name, slot);
            tokio::time::sleep(slot).await;
        }
        match &self.kind {
            Kind::Rate(limiter) => loop {
                match limiter.check() {
                    Ok(()) => return Ok(()),
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(DefaultClock::default().now());
                        if wait > max_wait {
                            return Err(Exhausted {
                                quota: self.quota.name.clone(),
                                wait,
                            });
                        }
                        // a run that stands still says why
                        note_wait(&self.quota.name, wait);
                        if wait >= SAID_WAIT {
                            tracing::info!(
                                quota = %self.quota.name,
                                wait_s = wait.as_secs(),
                                "waiting for quota `{}` ({} per {} s)",
                                self.quota.name,
                                self.quota.count,
                                self.quota.period.as_secs()
                            );
                        }
                        tokio::time::sleep(wait).await;
                    }
                }
            },
            Kind::Budget(budget) => loop {
                match budget.reserve(max_wait) {
                    Ok(wait) if wait.is_zero() => return Ok(()),
                    Ok(wait) => {
                        note_wait(&self.quota.name, wait);
                        tracing::info!(
                            quota = %self.quota.name,
                            wait_s = wait.as_secs(),
                            "request budget spent; waiting for the window to move"
                        );
                        tokio::time::sleep(wait).await;
                    }
                    Err(wait) => {
                        return Err(Exhausted {
                            quota: self.quota.name.clone(),
                            wait,
                        })
                    }
                }
            },
        }
    }
}

type Registry = Mutex<HashMap<(String, String, u32, Duration), Arc<Pacer>>>;

fn registry() -> &'static Registry {
    static PACERS: OnceLock<Registry> = OnceLock::new();
    PACERS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The pacers of `quotas` for a connection of `scope`: shared with every other client of the
/// same scope in the process (an empty scope shares nothing).
pub(crate) fn pacers(scope: &str, quotas: &[Quota]) -> Result<Vec<Arc<Pacer>>, String> {
    let mut out = Vec::with_capacity(quotas.len());
    let mut shared = registry().lock().unwrap_or_else(|p| p.into_inner());
    for q in quotas {
        if scope.is_empty() {
            out.push(Arc::new(Pacer::new(q)?));
            continue;
        }
        let key = (scope.to_string(), q.name.clone(), q.count, q.period);
        let pacer = match shared.get(&key) {
            Some(p) => p.clone(),
            None => {
                let p = Arc::new(Pacer::new(q)?);
                shared.insert(key, p.clone());
                p
            }
        };
        out.push(pacer);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_category_quota_counts_only_its_requests() {
        let q = Quota::for_category("ads_analytics", 300, Duration::from_secs(60));
        assert!(q.applies_to(Some("ads_analytics")));
        assert!(!q.applies_to(Some("ads_read")));
        assert!(!q.applies_to(None));
        assert!(Quota::new("per_user", 100, Duration::from_secs(1)).applies_to(Some("ads_read")));
    }

    #[test]
    fn overrides_replace_all_or_by_name() {
        let defaults = vec![
            Quota::new("per_user", 100, Duration::from_secs(1)),
            Quota::for_category("ads_analytics", 300, Duration::from_secs(60)),
        ];
        let all = sluice_core::QuotaOverrides {
            all: Some((5, 1)),
            ..Default::default()
        };
        assert_eq!(Quota::overridden(&all, defaults.clone()).len(), 1);
        let mut by_name = sluice_core::QuotaOverrides::default();
        by_name.by_name.insert("ads_analytics".into(), (100, 60));
        let q = Quota::overridden(&by_name, defaults);
        assert_eq!(q[1].count, 100);
        assert_eq!(q[1].category.as_deref(), Some("ads_analytics"));
    }

    #[test]
    fn shards_of_one_credential_pace_at_their_share() {
        let defaults = vec![
            Quota::new("per_user", 100, Duration::from_secs(1)),
            Quota::for_category("daily", 3, Duration::from_secs(86_400)),
        ];
        let four = sluice_core::QuotaOverrides {
            share: 4,
            ..Default::default()
        };
        let q = Quota::overridden(&four, defaults.clone());
        assert_eq!((q[0].count, q[0].period), (25, Duration::from_secs(1)));
        assert_eq!(
            (q[1].count, q[1].period),
            (1, Duration::from_secs(2 * 86_400)),
            "3 a day over 4 shards: one every 2 days each"
        );
        assert_eq!(q[1].delay, Duration::ZERO, "shard 0's slot is first");
        let third = sluice_core::QuotaOverrides {
            share: 4,
            share_index: 3,
            ..Default::default()
        };
        let q = Quota::overridden(&third, defaults.clone());
        assert_eq!(
            q[1].delay,
            Duration::from_secs(3 * 86_400 / 2),
            "shard 3's slot is a day and a half in: 2 a day together"
        );
        assert_eq!(q[0].delay, Duration::ZERO, "100 a second splits evenly");
        let all = sluice_core::QuotaOverrides {
            all: Some((40, 2)),
            share: 4,
            ..Default::default()
        };
        assert_eq!(Quota::overridden(&all, defaults)[0].count, 10);
    }

    #[test]
    fn clients_of_one_scope_share_a_pacer() {
        let q = [Quota::new("q", 10, Duration::from_secs(1))];
        let a = pacers("user-1", &q).expect("pacers");
        let b = pacers("user-1", &q).expect("pacers");
        let c = pacers("user-2", &q).expect("pacers");
        let d = pacers("", &q).expect("pacers");
        let e = pacers("", &q).expect("pacers");
        assert!(Arc::ptr_eq(&a[0], &b[0]));
        assert!(!Arc::ptr_eq(&a[0], &c[0]));
        assert!(!Arc::ptr_eq(&d[0], &e[0]));
    }

    #[tokio::test]
    async fn a_turn_beyond_the_wait_budget_is_exhaustion_not_a_sleep() {
        let q = Quota::new("daily", 1, Duration::from_secs(86_400));
        let pacer = Pacer::new(&q).expect("pacer");
        pacer
            .turn(Duration::from_secs(300))
            .await
            .expect("the first fits");
        let err = pacer
            .turn(Duration::from_secs(300))
            .await
            .expect_err("the second waits a day");
        assert_eq!(err.quota, "daily");
        assert!(err.wait > Duration::from_secs(86_000));
    }
}
