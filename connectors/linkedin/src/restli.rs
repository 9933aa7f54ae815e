//! Rest.li 2.0 query encoding, which a standard URL encoder breaks: the structural characters
//! `( ) , :` stay literal, and only the atoms inside them (a URN's colons, a space) are
//! percent-encoded, once. `List(urn%3Ali%3AsponsoredCampaign%3A1,…)`, `(start:(year:2024,…))`.

use chrono::{Datelike, NaiveDate};

/// Percent-encode an atom: everything but unreserved characters (RFC 3986), so `:` `,` `(` `)`
/// inside a value can never be read as structure.
pub fn atom(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `List(a,b)` of atoms.
pub fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(atom).collect();
    format!("List({})", items.join(","))
}

fn date(d: NaiveDate) -> String {
    format!("(year:{},month:{},day:{})", d.year(), d.month(), d.day())
}

/// `(start:(year:Y,month:M,day:D),end:(…))`, both days included.
pub fn date_range(from: NaiveDate, to: NaiveDate) -> String {
    format!("(start:{},end:{})", date(from), date(to))
}

/// A query string from already-encoded values (keys are plain ASCII names).
pub fn query(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_are_encoded_inside_lists_and_structure_stays_literal() {
        assert_eq!(
            list(["urn:li:sponsoredCampaign:1", "urn:li:sponsoredCampaign:2"]),
            "List(urn%3Ali%3AsponsoredCampaign%3A1,urn%3Ali%3AsponsoredCampaign%3A2)"
        );
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day");
        assert_eq!(
            date_range(d("2024-01-01"), d("2024-01-31")),
            "(start:(year:2024,month:1,day:1),end:(year:2024,month:1,day:31))"
        );
        // a percent sign is encoded once: `%` becomes `%25`, never `%2525`
        assert_eq!(atom("a%3Ab"), "a%253Ab");
        assert_eq!(atom("urn:li:x:1"), "urn%3Ali%3Ax%3A1");
        assert_eq!(atom("a (b), c"), "a%20%28b%29%2C%20c");
        assert_eq!(
            query(&[("q", "analytics".into()), ("pivot", "CAMPAIGN".into())]),
            "q=analytics&pivot=CAMPAIGN"
        );
    }
}
