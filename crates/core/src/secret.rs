//! Credentials that cannot leak.
//!
//! A [`Secret`] prints `***` through `Debug` and `Display`, so a secret inside any config,
//! error or log line is masked by construction. That is not enough on its own: vendors echo
//! what they were sent (a proxy's error page with the request's headers, a debugging body), and
//! sluice relays those texts in errors, logs, reports and the run history. So every secret's
//! value, and each encoding sluice itself sends it in (the Basic header's base64, URL and JSON
//! escapes), is remembered for the life of the process, and [`redact`] masks all of them in any
//! text before it is logged, stored or reported.

use std::borrow::Cow;
use std::fmt;
use std::sync::{OnceLock, RwLock};

/// A secret value (token, password). Read it only with [`Secret::expose`], at the point where it
/// goes on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        remember(&value);
        Self(value)
    }

    /// The plain value, for building an `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Shorter values are not masked: they would mask ordinary words (and no credential is that
/// short).
const MIN_MASKED: usize = 4;

fn known() -> &'static RwLock<Vec<String>> {
    static KNOWN: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| RwLock::new(Vec::new()))
}

/// Remember `value` as secret text, with the escaped forms it may come back in: URL encoding
/// (a query or form body) and JSON string escaping (a body that quotes it). Use it for the
/// encodings sluice derives from secrets (a Basic header's base64).
pub fn remember(value: &str) {
    if value.len() < MIN_MASKED {
        return;
    }
    let mut forms = vec![value.to_string()];
    let url: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    forms.push(lowercase_escapes(&url));
    forms.push(url);
    forms.push(value.replace(' ', "+"));
    if let Ok(json) = serde_json::to_string(value) {
        forms.push(json.trim_matches('"').to_string());
    }
    forms.push(value.replace('/', "\\/"));
    let mut known = known().write().unwrap_or_else(|p| p.into_inner());
    for f in forms {
        if f.len() >= MIN_MASKED && !known.contains(&f) {
            known.push(f);
        }
    }
    // longest first, so a value is masked whole before any shorter secret inside it
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// `%2F` → `%2f`: percent-escapes are case-insensitive, and servers echo either.
fn lowercase_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}

/// `text` with every remembered secret (in any of its forms) replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let known = known().read().unwrap_or_else(|p| p.into_inner());
    let mut out = Cow::Borrowed(text);
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), "***"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn a_secret_is_masked_in_any_text_in_the_forms_it_travels_in() {
        let _ = Secret::new("p@ss/w0rd+x y");
        remember("YWdlbnQ6cEBzcy93MHJkK3ggeQ==");
        for leaked in [
            "error: p@ss/w0rd+x y was rejected",
            "query token=p%40ss%2Fw0rd%2Bx%20y&x=1",
            "query token=p%40ss%2fw0rd%2bx%20y",
            r#"{"echo":"p@ss\/w0rd+x y"}"#,
            r#"{"headers":{"authorization":"Basic YWdlbnQ6cEBzcy93MHJkK3ggeQ=="}}"#,
        ] {
            let clean = redact(leaked);
            assert!(clean.contains("***"), "{clean}");
            for part in ["w0rd", "YWdlbnQ6cEBzcy93MHJk"] {
                assert!(!clean.contains(part), "{leaked} → {clean}");
            }
        }
        assert_eq!(redact("nothing secret here"), "nothing secret here");
        let _ = Secret::new("abc");
        assert_eq!(
            redact("abc"),
            "abc",
            "too short to mask without masking words"
        );
    }
}
