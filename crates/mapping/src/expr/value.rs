//! The values expressions compute with.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, SecondsFormat};

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Dv {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Dv>),
    Map(BTreeMap<String, Dv>),
    /// Data Prep's ZonedDateTime.
    Time(DateTime<FixedOffset>),
}

impl Dv {
    pub fn is_null(&self) -> bool {
        matches!(self, Dv::Null)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Dv::Null => "null",
            Dv::Bool(_) => "a boolean",
            Dv::Int(_) | Dv::Float(_) => "a number",
            Dv::Str(_) => "a string",
            Dv::List(_) => "an array",
            Dv::Map(_) => "an object",
            Dv::Time(_) => "a date",
        }
    }

    /// Text as Data Prep shows values: strings as they are, dates in ISO-8601, containers as JSON.
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Dv::Null => return None,
            Dv::Bool(b) => b.to_string(),
            Dv::Int(i) => i.to_string(),
            Dv::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    format!("{f:.1}")
                } else {
                    f.to_string()
                }
            }
            Dv::Str(s) => s.clone(),
            Dv::Time(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            Dv::List(_) | Dv::Map(_) => self.to_json().to_string(),
        })
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Dv::Int(i) => Some(*i as f64),
            Dv::Float(f) => Some(*f),
            Dv::Str(s) => s.trim().parse().ok(),
            Dv::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Dv::Int(i) => Some(*i),
            Dv::Float(f) if f.is_finite() => Some(f.trunc() as i64),
            Dv::Str(s) => s
                .trim()
                .parse::<i64>()
                .ok()
                .or_else(|| s.trim().parse::<f64>().ok().map(|f| f.trunc() as i64)),
            Dv::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    pub fn truthy(&self) -> bool {
        match self {
            Dv::Null => false,
            Dv::Bool(b) => *b,
            Dv::Int(i) => *i != 0,
            Dv::Float(f) => *f != 0.0,
            Dv::Str(s) => !s.is_empty() && s != "false",
            Dv::List(l) => !l.is_empty(),
            Dv::Map(m) => !m.is_empty(),
            Dv::Time(_) => true,
        }
    }

    pub fn from_json(v: &serde_json::Value) -> Self {
        use serde_json::Value;
        match v {
            Value::Null => Dv::Null,
            Value::Bool(b) => Dv::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map_or_else(|| Dv::Float(n.as_f64().unwrap_or(f64::NAN)), Dv::Int),
            Value::String(s) => Dv::Str(s.clone()),
            Value::Array(a) => Dv::List(a.iter().map(Dv::from_json).collect()),
            Value::Object(o) => Dv::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Dv::from_json(v)))
                    .collect(),
            ),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Value};
        match self {
            Dv::Null => Value::Null,
            Dv::Bool(b) => json!(b),
            Dv::Int(i) => json!(i),
            Dv::Float(f) => json!(f),
            Dv::Str(s) => json!(s),
            Dv::Time(t) => json!(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Dv::List(l) => Value::Array(l.iter().map(Dv::to_json).collect()),
            Dv::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// A map: itself, or a string holding a JSON object.
    pub fn as_map(&self) -> Option<BTreeMap<String, Dv>> {
        match self {
            Dv::Map(m) => Some(m.clone()),
            Dv::Str(s) => match serde_json::from_str::<serde_json::Value>(s).ok()? {
                v @ serde_json::Value::Object(_) => match Dv::from_json(&v) {
                    Dv::Map(m) => Some(m),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    /// A list: itself, or a string holding a JSON array.
    pub fn as_list(&self) -> Option<Vec<Dv>> {
        match self {
            Dv::List(l) => Some(l.clone()),
            Dv::Str(s) if s.trim_start().starts_with('[') => {
                match Dv::from_json(&serde_json::from_str(s).ok()?) {
                    Dv::List(l) => Some(l),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}
