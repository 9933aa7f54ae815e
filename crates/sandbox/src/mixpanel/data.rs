//! Deterministic Mixpanel events: every day has its own, derived from the seed and the date
//! only, so any process serves the same events for the same day. Days carry the raw export's
//! quirks: exact duplicates (same event, distinct_id, time and `$insert_id`, which Mixpanel
//! counts once), one `$insert_id` reused by different events (distinct events, all kept, as in
//! the seed), and custom properties that come and go (`coupon` only on some days).

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use crate::rng::Rng;

const EVENTS: &[&str] = &[
    "Sign in",
    "Sign off",
    "Items purchased",
    "Items sold",
    "Item Purchased",
    "Page view",
];
const ITEMS: &[(&str, &str, &str)] = &[
    ("29066", "charger", "800.00"),
    ("29036", "chair", "5000.00"),
    ("29073", "Watch", "50000.00"),
    ("29074", "Pen", "1000.00"),
    ("29080", "Füller ✒", "4200.50"),
];
const BROWSERS: &[&str] = &["Chrome", "Firefox", "Safari", "Edge"];

/// One generated event and whether it repeats the one before it (an exact duplicate).
pub struct Generated {
    pub line: Value,
    #[cfg_attr(not(test), allow(dead_code))]
    pub duplicate: bool,
}

fn day_seed(seed: u64, day: NaiveDate) -> u64 {
    seed ^ (day.num_days_from_ce() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The events of `day` (in `tz`) in time order; `count` distinct events plus duplicates.
pub struct DayEvents {
    rng: Rng,
    day: NaiveDate,
    start: i64,
    count: u64,
    next: u64,
    pending_duplicate: Option<Value>,
    last_insert_id: String,
}

impl DayEvents {
    pub fn new(seed: u64, day: NaiveDate, tz: Tz, count: u64) -> Self {
        let start = day
            .and_hms_opt(0, 0, 0)
            .and_then(|d| tz.from_local_datetime(&d).earliest())
            .map_or(0, |d| d.timestamp());
        Self {
            rng: Rng::new(day_seed(seed, day)),
            day,
            start,
            count,
            next: 0,
            pending_duplicate: None,
            last_insert_id: String::new(),
        }
    }

    fn event(&mut self, i: u64) -> Value {
        // spread over the day, in order
        let time = self.start + (i as i64 * 86_400) / (self.count.max(1) as i64);
        let name = *self.rng.pick(EVENTS);
        let (item_id, item_name, price) = *self.rng.pick(ITEMS);
        let user = self.rng.below(50);
        // now and then a new event reuses the previous event's $insert_id: distinct events
        let insert_id = if i > 0 && self.rng.chance(5) {
            self.last_insert_id.clone()
        } else {
            format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64())
        };
        self.last_insert_id = insert_id.clone();
        let mut p = Map::new();
        p.insert("time".into(), json!(time));
        p.insert(
            "distinct_id".into(),
            json!(format!("user{user}@example.com")),
        );
        p.insert("$insert_id".into(), json!(insert_id));
        p.insert("$mp_api_endpoint".into(), json!("api.mixpanel.com"));
        p.insert(
            "$mp_api_timestamp_ms".into(),
            json!(time * 1000 + 3_600_000 + self.rng.below(1000) as i64),
        );
        p.insert(
            "mp_processing_time_ms".into(),
            json!(time * 1000 + 3_600_050 + self.rng.below(1000) as i64),
        );
        p.insert("$browser".into(), json!(*self.rng.pick(BROWSERS)));
        p.insert("item_id".into(), json!(item_id));
        p.insert("item_name".into(), json!(item_name));
        p.insert("item_price".into(), json!(price));
        if self.rng.chance(20) {
            p.insert("$import".into(), json!(true));
        }
        // a custom property that exists only on some days
        if self.day.num_days_from_ce() % 3 == 0 && self.rng.chance(30) {
            p.insert(
                "coupon".into(),
                json!(format!("SAVE{}", self.rng.below(50))),
            );
        }
        json!({"event": name, "properties": Value::Object(p)})
    }
}

impl Iterator for DayEvents {
    type Item = Generated;

    fn next(&mut self) -> Option<Generated> {
        if let Some(dup) = self.pending_duplicate.take() {
            return Some(Generated {
                line: dup,
                duplicate: true,
            });
        }
        if self.next >= self.count {
            return None;
        }
        let e = self.event(self.next);
        self.next += 1;
        if self.rng.chance(3) {
            self.pending_duplicate = Some(e.clone());
        }
        Some(Generated {
            line: e,
            duplicate: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_the_same_in_any_process_and_has_duplicates() {
        let d = NaiveDate::from_ymd_opt(2024, 5, 1).expect("date");
        let a: Vec<Value> = DayEvents::new(7, d, Tz::UTC, 300).map(|g| g.line).collect();
        let b: Vec<Value> = DayEvents::new(7, d, Tz::UTC, 300).map(|g| g.line).collect();
        assert_eq!(a, b);
        let dups = DayEvents::new(7, d, Tz::UTC, 300)
            .filter(|g| g.duplicate)
            .count();
        assert!(dups > 0);
        assert_eq!(a.len(), 300 + dups);
        let times: Vec<i64> = a
            .iter()
            .map(|e| e["properties"]["time"].as_i64().expect("time"))
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times
            .iter()
            .all(|t| (1_714_521_600..1_714_608_000).contains(t)));
    }
}
