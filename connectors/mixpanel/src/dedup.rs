//! Mixpanel's own deduplication: events with the same `event`, `distinct_id`, `time` and
//! `$insert_id` are one event. The index keeps a 128-bit keyed hash per event (two independent
//! SipHash-1-3 keys): 64 bits would make a collision, and so a dropped real event, plausible
//! over billions of events; 128 bits make it negligible. It is the only state that grows with a
//! day, and it lives only while the day is being pulled.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};

pub struct DayDedup {
    keys: [RandomState; 2],
    seen: HashSet<u128>,
}

impl Default for DayDedup {
    fn default() -> Self {
        Self {
            keys: [RandomState::new(), RandomState::new()],
            seen: HashSet::new(),
        }
    }
}

impl DayDedup {
    fn hash(&self, event: &str, distinct_id: &str, time: &str, insert_id: &str) -> u128 {
        let half = |k: &RandomState| {
            let mut h = k.build_hasher();
            // each part is length-delimited by `str`'s Hash, so parts cannot run together
            event.hash(&mut h);
            distinct_id.hash(&mut h);
            time.hash(&mut h);
            insert_id.hash(&mut h);
            h.finish()
        };
        (u128::from(half(&self.keys[0])) << 64) | u128::from(half(&self.keys[1]))
    }

    /// True the first time an event is seen.
    pub fn first_time(
        &mut self,
        event: &str,
        distinct_id: &str,
        time: &str,
        insert_id: &str,
    ) -> bool {
        let h = self.hash(event, distinct_id, time, insert_id);
        self.seen.insert(h)
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Bytes the index holds now (capacity, not just length).
    pub fn memory_bytes(&self) -> usize {
        // hashbrown: one 16-byte slot plus one control byte per bucket
        self.seen.capacity() * 17
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_fields_make_the_key() {
        let mut d = DayDedup::default();
        assert!(d.first_time("Sign in", "u1", "1648140614", "abc"));
        assert!(
            !d.first_time("Sign in", "u1", "1648140614", "abc"),
            "an exact repeat is one event"
        );
        // the seed reuses one $insert_id across different events and times: all distinct
        assert!(d.first_time("Sign off", "u1", "1648140614", "abc"));
        assert!(d.first_time("Sign in", "u1", "1648140615", "abc"));
        assert!(d.first_time("Sign in", "u2", "1648140614", "abc"));
        // parts cannot run together
        assert!(d.first_time("Sign ", "inu1", "1648140614", "abc"));
        assert_eq!(d.len(), 5);
    }

    #[test]
    fn a_million_events_cost_tens_of_megabytes() {
        let mut d = DayDedup::default();
        for i in 0..1_000_000u32 {
            d.first_time("e", "u", &i.to_string(), "x");
        }
        let mb = d.memory_bytes() as f64 / 1_048_576.0;
        assert!(
            (16.0..=40.0).contains(&mb),
            "{mb:.1} MiB per million events"
        );
    }
}
