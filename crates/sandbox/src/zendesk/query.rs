//! The slice of Zendesk's search syntax an export needs: `created` and `updated` compared with
//! `>`, `>=`, `<`, `<=` or `:` against a date (`2024-05-01`) or a time (`2024-05-01T10:00:00Z`).
//! Other terms are free text, which the simulator does not filter on; `type:` is refused, as the
//! real API refuses it.

use chrono::{DateTime, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Created,
    Updated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub field: Field,
    pub op: Op,
    /// Epoch seconds. A bare date means its first second; `:` on a date means the whole day.
    pub at: i64,
    pub whole_day: bool,
}

pub fn parse(query: &str) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    for word in query.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("type:") {
            return Err(
                "Searches with type in the query string are not supported by the export \
                        endpoint; use filter[type] instead"
                    .into(),
            );
        }
        let (field, rest) = if let Some(r) = lower.strip_prefix("created") {
            (Field::Created, r)
        } else if let Some(r) = lower.strip_prefix("updated") {
            (Field::Updated, r)
        } else {
            continue;
        };
        let (op, value) = if let Some(v) = rest.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = rest.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (Op::Gt, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Op::Lt, v)
        } else if let Some(v) = rest.strip_prefix(':') {
            (Op::Eq, v)
        } else {
            continue;
        };
        let original_value = &word[word.len() - value.len()..];
        let (at, is_date) = parse_time(original_value)
            .ok_or_else(|| format!("invalid date in search term `{word}`"))?;
        terms.push(Term {
            field,
            op,
            at,
            whole_day: is_date && op == Op::Eq,
        });
    }
    Ok(terms)
}

fn parse_time(v: &str) -> Option<(i64, bool)> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some((t.timestamp(), false));
    }
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
    Some((d.and_hms_opt(0, 0, 0)?.and_utc().timestamp(), true))
}

pub fn matches(terms: &[Term], created: i64, updated: i64) -> bool {
    terms.iter().all(|t| {
        let v = match t.field {
            Field::Created => created,
            Field::Updated => updated,
        };
        match t.op {
            Op::Gt => v > t.at,
            Op::Ge => v >= t.at,
            Op::Lt => v < t.at,
            Op::Le => v <= t.at,
            Op::Eq if t.whole_day => v >= t.at && v < t.at + 86_400,
            Op::Eq => v == t.at,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comparisons_and_refuses_type() {
        let t = parse("updated>=2024-05-01T10:00:00Z created<2024-06-01 status:open").expect("ok");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].op, Op::Ge);
        assert_eq!(t[1].field, Field::Created);
        assert!(parse("type:user updated>2024-01-01").is_err());
        assert!(parse("updated>yesterday").is_err());
        let at = t[0].at;
        assert!(matches(&t[..1], 0, at));
        assert!(!matches(&t[..1], 0, at - 1));
    }
}
