//! Query parameters as the API reads them. Arrays come both ways, since clients differ: the
//! OpenAPI default of repeated keys (`campaign_ids=1&campaign_ids=2`) and comma-joined values
//! (`entity_statuses=ACTIVE,PAUSED`, as Airbyte sends). Every refusal is a message for a 400
//! with code 1, naming the parameter.

use chrono::NaiveDate;

pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: &str) -> Self {
        Self(
            url::form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Every value of `name`, repeated keys and comma lists alike, trimmed, empties dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("Missing required parameter '{name}'"))
    }
}

/// An id: a string of digits, at most 18 long.
pub fn id(name: &str, text: &str) -> Result<u64, String> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "Parameter '{name}' has an invalid value '{text}' (ids are strings of at most 18 digits)"
        ));
    }
    text.parse()
        .map_err(|_| format!("Parameter '{name}' has an invalid value '{text}'"))
}

/// A list of ids of at most `max` items; empty when the parameter is absent.
pub fn ids(p: &Params, name: &str, max: usize) -> Result<Vec<u64>, String> {
    let values = p.list(name);
    if values.len() > max {
        return Err(format!(
            "Parameter '{name}' may have at most {max} items (had {})",
            values.len()
        ));
    }
    values.iter().map(|v| id(name, v)).collect()
}

/// Values of an enum parameter, each one of `allowed`, at most `max`.
pub fn enums(p: &Params, name: &str, allowed: &[&str], max: usize) -> Result<Vec<String>, String> {
    let values = p.list(name);
    check_enums(name, &values, allowed, max)?;
    Ok(values)
}

pub fn check_enums(
    name: &str,
    values: &[String],
    allowed: &[&str],
    max: usize,
) -> Result<(), String> {
    if values.len() > max {
        return Err(format!(
            "Parameter '{name}' may have at most {max} items (had {})",
            values.len()
        ));
    }
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(bad) => Err(format!(
            "Parameter '{name}' has an invalid value '{bad}'; expected one of {}",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

/// One value of an enum parameter, or `default` when absent.
pub fn one_of<'a>(
    p: &'a Params,
    name: &str,
    allowed: &[&str],
    default: &'a str,
) -> Result<&'a str, String> {
    match p.get(name) {
        None => Ok(default),
        Some(v) if allowed.contains(&v) => Ok(v),
        Some(v) => Err(format!(
            "Parameter '{name}' has an invalid value '{v}'; expected one of {}",
            allowed.join(", ")
        )),
    }
}

pub fn page_size(p: &Params) -> Result<usize, String> {
    let Some(text) = p.get("page_size") else {
        return Ok(25);
    };
    let n: i64 = text
        .parse()
        .map_err(|_| format!("Parameter 'page_size' was not numeric (was {text})"))?;
    if !(1..=250).contains(&n) {
        return Err(format!(
            "Parameter 'page_size' must be between 1 and 250 (was {n})"
        ));
    }
    Ok(n as usize)
}

pub fn boolean(p: &Params, name: &str, default: bool) -> Result<bool, String> {
    match p.get(name) {
        None => Ok(default),
        Some("true" | "True" | "TRUE" | "1") => Ok(true),
        Some("false" | "False" | "FALSE" | "0") => Ok(false),
        Some(v) => Err(format!("Parameter '{name}' was not a boolean (was {v})")),
    }
}

/// `YYYY-MM-DD`.
pub fn date(name: &str, text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        format!("Parameter '{name}' must be a date in the format YYYY-MM-DD (was {text})")
    })
}

/// An attribution window: one of 0, 1, 7, 14, 30, 60 days.
pub fn window(name: &str, value: Option<&str>, default: u32) -> Result<u32, String> {
    let Some(text) = value else {
        return Ok(default);
    };
    match text.parse::<u32>() {
        Ok(n) if [0, 1, 7, 14, 30, 60].contains(&n) => Ok(n),
        _ => Err(format!(
            "Parameter '{name}' has an invalid value '{text}'; expected one of 0, 1, 7, 14, 30, 60"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_accept_repeated_keys_and_commas() {
        let p = Params::parse("entity_statuses=ACTIVE,PAUSED&entity_statuses=ARCHIVED&x=");
        assert_eq!(p.list("entity_statuses"), ["ACTIVE", "PAUSED", "ARCHIVED"]);
        assert!(p.list("x").is_empty());
        let p = Params::parse("campaign_ids=1&campaign_ids=2%2C3");
        assert_eq!(ids(&p, "campaign_ids", 250).expect("ids"), [1, 2, 3]);
        assert!(ids(&p, "campaign_ids", 2).is_err());
        assert!(ids(&Params::parse("ad_ids=12a"), "ad_ids", 250).is_err());
    }

    #[test]
    fn page_size_is_1_to_250() {
        assert_eq!(page_size(&Params::parse("")).expect("default"), 25);
        assert!(page_size(&Params::parse("page_size=3e"))
            .expect_err("not numeric")
            .contains("was not numeric (was 3e)"));
        assert!(page_size(&Params::parse("page_size=251")).is_err());
        assert!(page_size(&Params::parse("page_size=0")).is_err());
    }
}
