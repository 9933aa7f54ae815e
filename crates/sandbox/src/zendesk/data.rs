//! Deterministic, realistic Zendesk users: unicode names, optional fields missing, nulls, ties on
//! `created_at` (the export's sort key) and a cluster of users sharing the newest `updated_at`
//! second (the incremental mark), so boundary handling is exercised on every run.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Map, Value};

use crate::rng::Rng;

const FIRST: &[&str] = &[
    "Zoë", "Søren", "Renée", "Li", "Ana", "José", "Émile", "Mário", "Łukasz", "Ayşe", "Björk",
    "Nguyễn", "Aarav", "Fatima", "Olu", "Kenji", "Chloé", "Ingrid", "Dmitri", "Sinéad",
];
const LAST: &[&str] = &[
    "Ångström",
    "Kierkegaard",
    "O'Connor",
    "王",
    "García",
    "Müller",
    "Dvořák",
    "Sørensen",
    "Yılmaz",
    "Nakamura",
    "Ó Briain",
    "Smith",
    "Kowalski",
    "Novák",
    "Thành",
    "Ибрагимов",
    "حداد",
    "Levi",
    "Costa",
    "Haraldsdóttir",
];
const ZONES: &[(&str, &str)] = &[
    ("Kolkata", "Asia/Kolkata"),
    ("Eastern Time (US & Canada)", "America/New_York"),
    ("Berlin", "Europe/Berlin"),
    ("UTC", "Etc/UTC"),
    ("Sydney", "Australia/Sydney"),
    ("Tokyo", "Asia/Tokyo"),
];
const LOCALES: &[(i64, &str)] = &[(1, "en-US"), (8, "de"), (2, "es"), (16, "fr"), (67, "ja")];
const ROLES: &[&str] = &["end-user", "end-user", "end-user", "agent", "admin"];

/// Users are created over three years from 2021-01-01.
const CREATED_FROM: i64 = 1_609_459_200;
const CREATED_SPAN: i64 = 3 * 365 * 86_400;
/// The newest `updated_at` of the generated data (before any touch): 2025-06-01T00:00:00Z.
pub const NEWEST_UPDATE: i64 = 1_748_736_000;

#[derive(Debug, Clone)]
pub struct User {
    pub index: u64,
    pub id: u64,
    pub created: i64,
    pub updated: i64,
    /// Epoch seconds from which search sees the current version (the index lags behind writes);
    /// until then search serves nothing for this user.
    pub indexed_from: i64,
}

pub fn generate(count: u64, seed: u64) -> Vec<User> {
    let mut users = Vec::with_capacity(count as usize);
    let mut rng = Rng::new(seed);
    for i in 0..count {
        // every fourth user shares its creation second with the one before it
        let k = if i % 4 == 3 { i - 1 } else { i };
        let created = CREATED_FROM + (k as i64) * CREATED_SPAN / (count.max(1) as i64);
        let updated = if i % 50 == 7 {
            NEWEST_UPDATE
        } else {
            (created + rng.below(500 * 86_400) as i64).min(NEWEST_UPDATE - 1)
        };
        users.push(User {
            index: i,
            id: 360_000_000_000 + i * 7 + 1,
            created,
            updated,
            indexed_from: 0,
        });
    }
    users
}

pub fn iso(ts: i64) -> String {
    Utc.timestamp_opt(ts, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The user as the API returns it inside `results[]`. Field values derive from the index and
/// seed only, so a user looks the same on every request.
pub fn to_json(u: &User, seed: u64, host: &str) -> Value {
    let mut rng = Rng::new(seed ^ u.index.wrapping_mul(0x9E37_79B9));
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let (zone, iana) = *rng.pick(ZONES);
    let (locale_id, locale) = *rng.pick(LOCALES);
    let role = *rng.pick(ROLES);
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert(
        "url".into(),
        json!(format!("{host}/api/v2/users/{}.json", u.id)),
    );
    m.insert("name".into(), json!(format!("{first} {last}")));
    m.insert(
        "email".into(),
        json!(format!("user{}@example.org", u.index)),
    );
    m.insert("created_at".into(), json!(iso(u.created)));
    m.insert("updated_at".into(), json!(iso(u.updated)));
    m.insert("time_zone".into(), json!(zone));
    m.insert("iana_time_zone".into(), json!(iana));
    // optional fields: sometimes absent altogether, sometimes null
    match rng.below(3) {
        0 => {}
        1 => {
            m.insert("phone".into(), Value::Null);
            m.insert("shared_phone_number".into(), Value::Null);
        }
        _ => {
            m.insert(
                "phone".into(),
                json!(format!("+1555{:07}", u.index % 10_000_000)),
            );
            m.insert("shared_phone_number".into(), json!(rng.chance(20)));
        }
    }
    m.insert("photo".into(), Value::Null);
    m.insert("locale_id".into(), json!(locale_id));
    m.insert("locale".into(), json!(locale));
    m.insert(
        "organization_id".into(),
        if rng.chance(60) {
            json!(360_100_000_000u64 + rng.below(500))
        } else {
            Value::Null
        },
    );
    m.insert("role".into(), json!(role));
    m.insert("verified".into(), json!(rng.chance(70)));
    m.insert(
        "external_id".into(),
        if rng.chance(30) {
            json!(format!("crm-{:08x}", rng.next_u64() as u32))
        } else {
            Value::Null
        },
    );
    let tags: Vec<&str> = ["vip", "trial", "beta", "churn-risk"]
        .into_iter()
        .filter(|_| rng.chance(15))
        .collect();
    m.insert("tags".into(), json!(tags));
    m.insert(
        "alias".into(),
        json!(if rng.chance(10) { "🙂 alias" } else { "" }),
    );
    m.insert("active".into(), json!(!rng.chance(3)));
    m.insert("shared".into(), json!(false));
    m.insert("shared_agent".into(), json!(false));
    m.insert(
        "last_login_at".into(),
        if rng.chance(50) {
            json!(iso(u.updated - rng.below(86_400) as i64))
        } else {
            Value::Null
        },
    );
    m.insert(
        "two_factor_auth_enabled".into(),
        json!(role != "end-user" && rng.chance(50)),
    );
    if rng.chance(80) {
        m.insert(
            "signature".into(),
            if role == "end-user" {
                Value::Null
            } else {
                json!(format!("— {first}\nSupport"))
            },
        );
    }
    m.insert("details".into(), json!(""));
    m.insert(
        "notes".into(),
        json!(if rng.chance(5) {
            "Line one\nline \"two\""
        } else {
            ""
        }),
    );
    m.insert(
        "role_type".into(),
        if role == "agent" {
            json!(rng.below(5))
        } else {
            Value::Null
        },
    );
    m.insert("custom_role_id".into(), Value::Null);
    m.insert("moderator".into(), json!(role == "admin"));
    m.insert(
        "ticket_restriction".into(),
        json!(if role == "end-user" {
            "requested"
        } else {
            "assigned"
        }),
    );
    m.insert("only_private_comments".into(), json!(false));
    m.insert("restricted_agent".into(), json!(role == "end-user"));
    m.insert("suspended".into(), json!(rng.chance(1)));
    m.insert(
        "default_group_id".into(),
        if role == "end-user" {
            Value::Null
        } else {
            json!(360_200_000_000u64 + rng.below(20))
        },
    );
    m.insert("report_csv".into(), json!(role == "admin"));
    m.insert(
        "user_fields".into(),
        json!({"plan": *rng.pick(&["free", "pro", "enterprise"]), "nps": if rng.chance(50) { json!(rng.below(11)) } else { Value::Null }}),
    );
    m.insert("result_type".into(), json!("user"));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_users() {
        let a = generate(100, 7);
        let b = generate(100, 7);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(to_json(x, 7, "h"), to_json(y, 7, "h"));
        }
        assert_ne!(
            to_json(&a[1], 7, "h"),
            to_json(&generate(100, 8)[1], 8, "h")
        );
    }

    #[test]
    fn data_has_ties_and_a_shared_newest_update() {
        let users = generate(400, 1);
        assert!(users.windows(2).any(|w| w[0].created == w[1].created));
        let at_newest = users.iter().filter(|u| u.updated == NEWEST_UPDATE).count();
        assert!(at_newest >= 5, "{at_newest}");
        assert!(users
            .iter()
            .all(|u| u.updated >= u.created || u.updated == NEWEST_UPDATE - 1));
    }
}
