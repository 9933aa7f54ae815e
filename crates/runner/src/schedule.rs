//! When a flow runs: a cron expression (seconds optional, in a timezone), or the seeds' own
//! `start_time` / `frequency` / `interval`.

use std::str::FromStr;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone)]
pub enum Schedule {
    Cron {
        expression: String,
        schedule: Box<cron::Schedule>,
        timezone: Tz,
    },
    /// The seeds' `frequency = "once"`.
    Once { at: DateTime<Utc> },
    /// The seeds' `frequency` × `interval` from `start_time`.
    Every {
        start: DateTime<Utc>,
        period: Duration,
    },
}

/// The seeds' guard against hammering an API: a `minute` frequency needs an interval of 15 or more.
const MIN_MINUTE_INTERVAL: i64 = 15;

fn int(table: &toml::Table, key: &str) -> Result<Option<i64>, String> {
    match table.get(key) {
        None => Ok(None),
        Some(toml::Value::Integer(i)) => Ok(Some(*i)),
        Some(toml::Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("schedule.{key}: \"{s}\" is not a whole number")),
        Some(other) => Err(format!(
            "schedule.{key}: expected a whole number, found {other}"
        )),
    }
}

impl Schedule {
    pub fn from_table(table: &toml::Table) -> Result<Self, String> {
        for key in table.keys() {
            if !["cron", "timezone", "start_time", "frequency", "interval"].contains(&key.as_str())
            {
                return Err(format!(
                    "schedule.{key}: unknown key; use `cron` (+ `timezone`) or `start_time`, \
                     `frequency` and `interval`"
                ));
            }
        }
        if let Some(cron) = table.get("cron") {
            if table.contains_key("frequency") || table.contains_key("interval") {
                return Err(
                    "schedule: give either `cron` or `frequency`/`interval`, not both".into(),
                );
            }
            let toml::Value::String(expression) = cron else {
                return Err("schedule.cron: expected a cron expression string".into());
            };
            let timezone = match table.get("timezone") {
                None => Tz::UTC,
                Some(toml::Value::String(tz)) => Tz::from_str(tz).map_err(|_| {
                    format!("schedule.timezone: \"{tz}\" is not an IANA timezone such as \"Europe/Berlin\"")
                })?,
                Some(other) => return Err(format!("schedule.timezone: expected a string, found {other}")),
            };
            return Self::cron(expression, timezone);
        }
        if table.contains_key("timezone") {
            return Err("schedule.timezone applies to `cron` only".into());
        }
        let frequency = match table.get("frequency") {
            Some(toml::Value::String(f)) => f.as_str(),
            Some(other) => {
                return Err(format!(
                    "schedule.frequency: expected a string, found {other}"
                ))
            }
            None => {
                return Err(
                    "schedule: needs `cron`, or `frequency` (once, minute, hour, day, week)".into(),
                )
            }
        };
        let start = match int(table, "start_time")? {
            None => None,
            Some(secs) => Some(Utc.timestamp_opt(secs, 0).single().ok_or_else(|| {
                format!("schedule.start_time: {secs} is not an epoch time in seconds")
            })?),
        };
        let interval = int(table, "interval")?;
        let unit = match frequency {
            "once" => {
                if interval.is_some() {
                    return Err("schedule.interval: a `once` schedule takes no interval".into());
                }
                let at = start.ok_or(
                    "schedule.start_time: a `once` schedule needs a start_time (epoch seconds)",
                )?;
                return Ok(Schedule::Once { at });
            }
            "minute" => Duration::minutes(1),
            "hour" => Duration::hours(1),
            "day" => Duration::days(1),
            "week" => Duration::weeks(1),
            other => {
                return Err(format!(
                    "schedule.frequency: \"{other}\" is not one of once, minute, hour, day, week"
                ))
            }
        };
        let interval = interval
            .ok_or_else(|| format!("schedule.interval: required with frequency \"{frequency}\""))?;
        if interval < 1 {
            return Err(format!(
                "schedule.interval: {interval} must be a positive whole number"
            ));
        }
        if frequency == "minute" && interval < MIN_MINUTE_INTERVAL {
            return Err(format!(
                "schedule.interval: {interval} minutes is too often; a `minute` schedule needs an \
                 interval of {MIN_MINUTE_INTERVAL} or more"
            ));
        }
        Ok(Schedule::Every {
            start: start.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            period: unit * interval as i32,
        })
    }

    /// A cron expression: 6 or 7 fields with seconds first, or the classic 5 fields (a `0`
    /// seconds field is added).
    pub fn cron(expression: &str, timezone: Tz) -> Result<Self, String> {
        let fields = expression.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {expression}"),
            6 | 7 => expression.to_string(),
            _ => {
                return Err(format!(
                "schedule.cron: \"{expression}\" has {fields} fields; use 5 (min hour day month \
                     weekday) or 6 with seconds first"
            ))
            }
        };
        let schedule = cron::Schedule::from_str(&full)
            .map_err(|e| format!("schedule.cron: \"{expression}\": {e}"))?;
        Ok(Schedule::Cron {
            expression: expression.to_string(),
            schedule: Box::new(schedule),
            timezone,
        })
    }

    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron {
                schedule, timezone, ..
            } => schedule
                .after(&t.with_timezone(timezone))
                .next()
                .map(|d| d.with_timezone(&Utc)),
            Schedule::Once { at } => (*at > t).then_some(*at),
            Schedule::Every { start, period } => {
                if t < *start {
                    return Some(*start);
                }
                let periods =
                    (t - *start).num_milliseconds() / period.num_milliseconds().max(1) + 1;
                Some(*start + *period * periods as i32)
            }
        }
    }

    /// The latest fire time at or before `t`, if any.
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron {
                schedule, timezone, ..
            } => {
                let local = t.with_timezone(timezone);
                if schedule.includes(local) {
                    return Some(t);
                }
                schedule
                    .after(&local)
                    .next_back()
                    .map(|d| d.with_timezone(&Utc))
            }
            Schedule::Once { at } => (*at <= t).then_some(*at),
            Schedule::Every { start, period } => {
                if t < *start {
                    return None;
                }
                let periods = (t - *start).num_milliseconds() / period.num_milliseconds().max(1);
                Some(*start + *period * periods as i32)
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Schedule::Cron {
                expression,
                timezone,
                ..
            } => format!("cron \"{expression}\" ({timezone})"),
            Schedule::Once { at } => format!("once at {at}"),
            Schedule::Every { start, period } => {
                format!("every {}s from {start}", period.num_seconds())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("toml")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn cron_with_optional_seconds_and_a_timezone() {
        let s = Schedule::from_table(&table(
            "cron = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"",
        ))
        .expect("ok");
        // 02:30 in Berlin (UTC+1 in January) is 01:30 UTC
        assert_eq!(
            s.next_after(at("2026-01-10T00:00:00Z")),
            Some(at("2026-01-10T01:30:00Z"))
        );
        let s = Schedule::from_table(&table("cron = \"0 0 * * * *\"")).expect("ok");
        assert_eq!(
            s.next_after(at("2026-01-10T00:00:00Z")),
            Some(at("2026-01-10T01:00:00Z"))
        );
        assert_eq!(
            s.last_at_or_before(at("2026-01-10T05:59:59Z")),
            Some(at("2026-01-10T05:00:00Z"))
        );
        assert_eq!(
            s.last_at_or_before(at("2026-01-10T05:00:00Z")),
            Some(at("2026-01-10T05:00:00Z"))
        );
    }

    #[test]
    fn the_seeds_frequency_and_interval() {
        let s = Schedule::from_table(&table(
            "start_time = 1625040887\nfrequency = \"minute\"\ninterval = 15",
        ))
        .expect("ok");
        let start = Utc.timestamp_opt(1_625_040_887, 0).single().expect("t");
        assert_eq!(s.next_after(start - Duration::hours(1)), Some(start));
        assert_eq!(s.next_after(start), Some(start + Duration::minutes(15)));
        assert_eq!(
            s.last_at_or_before(start + Duration::minutes(31)),
            Some(start + Duration::minutes(30))
        );
        let once = Schedule::from_table(&table("start_time = 1625040887\nfrequency = \"once\""))
            .expect("ok");
        assert_eq!(once.next_after(start), None);
    }

    #[test]
    fn invalid_schedules_say_why() {
        let cases = [
            ("frequency = \"minute\"\ninterval = 5", "15 or more"),
            ("frequency = \"hour\"", "interval: required"),
            ("frequency = \"hour\"\ninterval = 0", "positive"),
            ("frequency = \"fortnight\"\ninterval = 1", "not one of"),
            ("frequency = \"once\"", "needs a start_time"),
            ("cron = \"61 * * * *\"", "schedule.cron"),
            ("cron = \"* * *\"", "3 fields"),
            ("cron = \"0 * * * *\"\ntimezone = \"Mars/Olympus\"", "IANA"),
            ("cron = \"0 * * * *\"\nfrequency = \"hour\"", "not both"),
            ("every = \"1h\"", "unknown key"),
        ];
        for (text, needle) in cases {
            let err = Schedule::from_table(&table(text)).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
