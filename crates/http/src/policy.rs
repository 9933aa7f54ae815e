//! What to do with a response: accept it, retry it (after how long), or fail. A separate value
//! from the client so each rule is testable without a server.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// The parts of a response a policy may look at.
pub struct ResponseInfo<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Success,
    /// Retry; wait at least this long if the server said so.
    Retry {
        after: Option<Duration>,
    },
    Fail,
    /// The credentials expired: refresh them (once) and send the request again.
    Refresh,
}

/// A connector's extra rule, consulted before the default one. `None` defers to the default.
/// A closure, so a rule can carry the connection's settings (a configured wait).
#[derive(Clone)]
pub struct Classifier(std::sync::Arc<ClassifierFn>);

type ClassifierFn = dyn Fn(&ResponseInfo<'_>) -> Option<Decision> + Send + Sync;

impl Classifier {
    pub fn new(
        rule: impl Fn(&ResponseInfo<'_>) -> Option<Decision> + Send + Sync + 'static,
    ) -> Self {
        Self(std::sync::Arc::new(rule))
    }

    pub fn decide(&self, info: &ResponseInfo<'_>) -> Option<Decision> {
        (self.0)(info)
    }
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Classifier")
    }
}

/// The default rule: 2xx succeed; 408, 425, 429 and 5xx are retried (honouring `Retry-After`, or
/// `X-RateLimit-Reset` / `ratelimit-reset` on a 429); every other status fails at once.
pub fn default_decision(info: &ResponseInfo<'_>) -> Decision {
    match info.status {
        200..=299 => Decision::Success,
        408 | 425 | 429 | 500..=599 => {
            let mut after = header_str(info.headers, "retry-after").and_then(parse_retry_after);
            if after.is_none() && info.status == 429 {
                after = reset_seconds(info.headers);
            }
            Decision::Retry { after }
        }
        _ => Decision::Fail,
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Seconds until a rate-limit window resets, from the vendors' reset headers.
pub(crate) fn reset_seconds(headers: &HeaderMap) -> Option<Duration> {
    ["ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset"]
        .iter()
        .find_map(|name| header_str(headers, name))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 7.0 * 86400.0)
        .map(Duration::from_secs_f64)
}

/// The budgets a response reports: (remaining, limit when the vendor names it). Zendesk's
/// account budget (`X-Rate-Limit`) and endpoint budget (`ratelimit-*`) are told apart.
pub(crate) fn budgets(headers: &HeaderMap) -> Vec<(u64, Option<u64>)> {
    let number = |name: &str| header_str(headers, name).and_then(|v| v.trim().parse::<u64>().ok());
    [
        ("x-rate-limit-remaining", "x-rate-limit"),
        ("ratelimit-remaining", "ratelimit-limit"),
        ("x-ratelimit-remaining", "x-ratelimit-limit"),
    ]
    .iter()
    .filter_map(|(remaining, limit)| Some((number(remaining)?, number(limit))))
    .collect()
}

/// `Retry-After` as delay-seconds or as an HTTP date (RFC 9110 §10.2.3). A date in the past is
/// zero; the caller applies its own floor so zero never becomes a hot loop.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs));
        }
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {

    #[test]
    fn each_spent_budget_is_told_with_its_own_limit() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-rate-limit", "700"),
            ("x-rate-limit-remaining", "12"),
            ("ratelimit-limit", "10"),
            ("ratelimit-remaining", "0"),
        ] {
            h.insert(k, v.parse().expect("header"));
        }
        assert_eq!(budgets(&h), vec![(12, Some(700)), (0, Some(10))]);
        let mut bare = HeaderMap::new();
        bare.insert("x-ratelimit-remaining", "0".parse().expect("header"));
        assert_eq!(
            budgets(&bare),
            vec![(0, None)],
            "a limit not named: the reset is waited"
        );
        assert!(budgets(&HeaderMap::new()).is_empty());
    }

    use super::*;
    use reqwest::header::HeaderValue;

    fn decide(status: u16, headers: &[(&'static str, &str)]) -> Decision {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        default_decision(&ResponseInfo {
            status,
            headers: &map,
            body: b"",
        })
    }

    #[test]
    fn classifies_statuses() {
        assert_eq!(decide(200, &[]), Decision::Success);
        assert_eq!(decide(401, &[]), Decision::Fail);
        assert_eq!(decide(400, &[]), Decision::Fail);
        assert_eq!(decide(503, &[]), Decision::Retry { after: None });
        assert_eq!(
            decide(429, &[("retry-after", "7")]),
            Decision::Retry {
                after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            decide(429, &[("x-ratelimit-reset", "3")]),
            Decision::Retry {
                after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(" 12 "), Some(Duration::from_secs(12)));
        let future = SystemTime::now() + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(future)).expect("date");
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-5"), None);
    }
}
