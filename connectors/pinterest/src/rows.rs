//! Analytics rows kept as the JSON text the API sent: a row is probed for its `DATE` and the
//! keys the connector may add, never built into a `serde_json::Value` (whose maps take ten
//! times the bytes of the text), so an answer in memory costs about its own size twice.

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDate;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A key, borrowed where the text has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// What a row's keys say: its day, how many keys it has, and the raw values of the keys asked
/// about.
pub struct Probe<'a> {
    pub date: Option<NaiveDate>,
    pub keys: usize,
    pub found: Vec<Option<&'a RawValue>>,
}

struct ProbeSeed<'w> {
    wanted: &'w [&'w str],
}

impl<'de> DeserializeSeed<'de> for ProbeSeed<'_> {
    type Value = Probe<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Probe<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ProbeSeed<'_> {
    type Value = Probe<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe<'de>, A::Error> {
        let mut probe = Probe {
            date: None,
            keys: 0,
            found: vec![None; self.wanted.len()],
        };
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            probe.keys += 1;
            if key == "DATE" {
                let text: Cow<'de, str> = map.next_value::<CowStr<'de>>()?.0;
                probe.date = text
                    .get(..10)
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            } else if let Some(i) = self.wanted.iter().position(|w| *w == key) {
                probe.found[i] = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(probe)
    }
}

/// A `DATE` value: text (borrowed where it can be); anything else reads as no day.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a date")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed("")))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed("")))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed("")))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed("")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed("")))
            }
        }
        d.deserialize_any(V)
    }
}

/// Probe a row object for its day and the `wanted` keys.
pub fn probe<'a>(row: &'a RawValue, wanted: &[&str]) -> Result<Probe<'a>, String> {
    let mut d = serde_json::Deserializer::from_str(row.get());
    ProbeSeed { wanted }
        .deserialize(&mut d)
        .map_err(|e| format!("a row that is not an object: {e}"))
}

/// The row's text with `add` (key, JSON text) appended: the row's own keys are untouched.
pub fn line(row: &RawValue, keys: usize, add: &[(&str, String)]) -> Vec<u8> {
    let text = row.get().trim_end();
    let body = text.strip_suffix('}').unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() + 1 + add.len() * 32);
    out.extend_from_slice(body.as_bytes());
    let mut first = keys == 0;
    for (k, v) in add {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(
            serde_json::Value::String((*k).to_string())
                .to_string()
                .as_bytes(),
        );
        out.push(b':');
        out.extend_from_slice(v.as_bytes());
    }
    out.push(b'}');
    out
}

/// A text value as JSON text.
pub fn json_text(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).expect("raw")
    }

    #[test]
    fn a_row_is_probed_without_building_it_and_added_keys_keep_it_valid_json() {
        let r = raw(r#"{"DATE":"2024-05-01","AD_ID":"7","SPEND":1.5,"N":{"x":[1,2]}}"#);
        let p = probe(&r, &["AD_ID", "PIN_ID"]).expect("probe");
        assert_eq!(p.date, NaiveDate::from_ymd_opt(2024, 5, 1));
        assert_eq!(p.keys, 4);
        assert_eq!(p.found[0].map(|v| v.get()), Some(r#""7""#));
        assert!(p.found[1].is_none());
        let l = line(&r, p.keys, &[("PIN_ID", json_text("9"))]);
        let v: serde_json::Value = serde_json::from_slice(&l).expect("json");
        assert_eq!(v["PIN_ID"], "9");
        assert_eq!(v["N"]["x"][1], 2);
        let empty = raw("{ }");
        let p = probe(&empty, &[]).expect("probe");
        let l = line(&empty, p.keys, &[("A", json_text("b"))]);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&l).expect("json")["A"],
            "b"
        );
        // escaped keys and an hourly DATE read too; a non-object is an error
        let r = raw(r#"{"DA\u0054E":"2024-05-01 13:00:00"}"#);
        assert_eq!(
            probe(&r, &[]).expect("probe").date,
            NaiveDate::from_ymd_opt(2024, 5, 1)
        );
        assert!(probe(&raw("[1]"), &[]).is_err());
    }
}
