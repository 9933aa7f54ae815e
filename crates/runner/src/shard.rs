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
        sluice_state::shard_mode(mode, self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a, 64 bits, then MurmurHash3's 64-bit finalizer: the same on every machine, build and
/// release (std's hasher is not guaranteed to be). FNV-1a alone is no good modulo a small N:
/// its low bit is the parity of the key's bytes, so the keys of one-day windows
/// (`…@2026-11-20..2026-11-20`, the date twice) would all land on one of two shards.
fn stable_hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_exactly_one_owner_and_the_shares_are_even() {
        // one-day windows name their day twice: the case that defeats FNV-1a's low bits
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("day");
        for count in [2u32, 3, 4, 8] {
            let shards: Vec<Shard> = (0..count).map(|i| Shard { index: i, count }).collect();
            let mut per = vec![0usize; count as usize];
            for n in 0..400 {
                let day = start + chrono::Days::new(n);
                let key = format!("campaign_analytics/5490@{day}..{day}");
                let owners: Vec<u32> = shards
                    .iter()
                    .filter(|s| s.owns(&key))
                    .map(|s| s.index)
                    .collect();
                assert_eq!(owners.len(), 1, "{key}: {owners:?}");
                per[owners[0] as usize] += 1;
            }
            let even = 400 / count as usize;
            assert!(
                per.iter()
                    .all(|&n| n * 10 >= even * 7 && n * 10 <= even * 13),
                "{count} shards: {per:?}"
            );
        }
    }

    const PINNED_EMPTY: u64 = 0xefd0_1f60_ba99_2926;
    const PINNED_A: u64 = 0x82a2_a958_a9be_ce5b;

    #[test]
    fn the_owner_of_a_key_never_changes() {
        // pinned: a release that changed the hash would re-deal a running backfill's windows
        assert_eq!(stable_hash(""), PINNED_EMPTY);
        assert_eq!(stable_hash("a"), PINNED_A);
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
