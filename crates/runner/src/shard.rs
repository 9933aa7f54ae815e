//! One shard of a flow's task list: `--shard K/N` on N machines (a Kubernetes Indexed Job, an
//! Airflow task per index) together do the work of one process, each task exactly once.
//!
//! The owner of a task is a stable hash of its key (`stream/slice@from..to`), not its place
//! in a list: a shard that plans later than another (and sees some windows done) still agrees
//! on who owns what, and a shard rerun after a crash finds its own tasks again.

use std::fmt;

/// Shard `index` (0-based, as `JOB_COMPLETION_INDEX` counts) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `K/N`, with K from 0 to N-1.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "--shard {text}: expected K/N, shard K (from 0) of N, such as 0/4 \
                 (Kubernetes: $JOB_COMPLETION_INDEX/N)"
            )
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(format!("--shard {text}: N must be at least 1"));
        }
        if index >= count {
            return Err(format!(
                "--shard {text}: K counts from 0, so shard {index} of {count} does not exist \
                 (the last is {}/{count})",
                count - 1
            ));
        }
        Ok(Self { index, count })
    }

    /// Whether this shard runs the task with `key`.
    pub fn owns(&self, key: &str) -> bool {
        stable_hash(key) % u64::from(self.count) == u64::from(self.index)
    }

    /// The lock a shard's run takes: shards of one flow run at once, each alone.
    pub fn lock_mode(&self, mode: &str) -> String {
        format!("{mode} shard {}/{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a, 64 bits: the same on every machine, build and release (std's hasher is not
/// guaranteed to be).
fn stable_hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_exactly_one_owner_and_the_shares_are_even() {
        let shards: Vec<Shard> = (0..4).map(|i| Shard { index: i, count: 4 }).collect();
        let mut per = [0usize; 4];
        for day in 0..400 {
            let key = format!("campaign_analytics/5490@2024-{:03}..", day);
            let owners: Vec<u32> = shards
                .iter()
                .filter(|s| s.owns(&key))
                .map(|s| s.index)
                .collect();
            assert_eq!(owners.len(), 1, "{key}: {owners:?}");
            per[owners[0] as usize] += 1;
        }
        assert!(per.iter().all(|&n| (70..=130).contains(&n)), "{per:?}");
    }

    #[test]
    fn the_owner_of_a_key_never_changes() {
        // pinned: a release that changed the hash would re-deal a running backfill's windows
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn a_shard_outside_its_count_is_refused_by_name() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert!(Shard::parse("4/4").unwrap_err().contains("last is 3/4"));
        assert!(Shard::parse("1/0").unwrap_err().contains("at least 1"));
        assert!(Shard::parse("x").unwrap_err().contains("expected K/N"));
        assert!(Shard { index: 0, count: 1 }.owns("anything"));
    }
}
