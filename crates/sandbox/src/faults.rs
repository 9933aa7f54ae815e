//! Switchable faults. A fault list is comma-separated `KIND[xCOUNT][@START]`: COUNT consecutive
//! requests (default 1) starting at the START-th API request of a vendor (1-based, default 2, so
//! the first page of a run is clean). Kinds:
//!
//! | kind | effect |
//! | --- | --- |
//! | `429` | 429 with `Retry-After: 1` and the vendor's rate-limit body |
//! | `429ra0` | 429 with `Retry-After: 0` (a client must not hot-loop) |
//! | `500`, `503` | server errors (503 carries `Retry-After: 1`) |
//! | `truncate` | status 200, then the connection drops halfway through the body |
//! | `cut-json` | status 200 with a complete HTTP body that is half of the JSON |
//! | `slow=MS` | the response is delayed by MS milliseconds |
//! | `expire-cursor` | the paging cursor handed out by this response is already expired |
//! | `401` | 401 as if the credentials had been revoked |
//! | `terminated-early` | (streams) status 200, then the body ends with a `terminated early` line halfway |
//! | `split-record` | (streams) one record is split across two lines |
//! | `misfit` | one record of the page carries a value of the wrong type (`locale_id: "en"`) |
//!
//! Example: `429x5@3,503@9,truncate@12,expire-cursor@4`.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    TooManyRequests,
    TooManyRequestsZeroWait,
    Internal,
    Unavailable,
    Truncate,
    CutJson,
    Slow { ms: u64 },
    ExpireCursor,
    Unauthorized,
    Misfit,
    TerminatedEarly,
    SplitRecord,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub count: u64,
    pub start: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    pub specs: Vec<FaultSpec>,
}

impl FaultPlan {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut specs = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (rest, start) = match item.split_once('@') {
                Some((r, s)) => (
                    r,
                    s.parse::<u64>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("fault `{item}`: START must be a number ≥ 1"))?,
                ),
                None => (item, 2),
            };
            let (kind_text, count) = match rest.rsplit_once('x') {
                Some((k, c))
                    if !k.is_empty()
                        && c.chars().all(|ch| ch.is_ascii_digit())
                        && !c.is_empty() =>
                {
                    (
                        k,
                        c.parse::<u64>()
                            .map_err(|_| format!("fault `{item}`: bad COUNT"))?,
                    )
                }
                _ => (rest, 1),
            };
            let kind = match kind_text {
                "429" => FaultKind::TooManyRequests,
                "429ra0" => FaultKind::TooManyRequestsZeroWait,
                "500" => FaultKind::Internal,
                "503" => FaultKind::Unavailable,
                "truncate" => FaultKind::Truncate,
                "cut-json" => FaultKind::CutJson,
                "expire-cursor" => FaultKind::ExpireCursor,
                "401" => FaultKind::Unauthorized,
                "misfit" => FaultKind::Misfit,
                "terminated-early" => FaultKind::TerminatedEarly,
                "split-record" => FaultKind::SplitRecord,
                other => match other.strip_prefix("slow=") {
                    Some(ms) => FaultKind::Slow {
                        ms: ms
                            .trim_end_matches("ms")
                            .parse()
                            .map_err(|_| format!("fault `{item}`: slow=MS needs milliseconds"))?,
                    },
                    None => {
                        return Err(format!(
                            "unknown fault `{other}`; known: 429, 429ra0, 500, 503, truncate, \
                             cut-json, slow=MS, expire-cursor, 401, misfit, terminated-early, split-record"
                        ))
                    }
                },
            };
            specs.push(FaultSpec { kind, count, start });
        }
        Ok(Self { specs })
    }
}

/// The plan in force and each vendor's request counter (reset when the plan is replaced).
pub struct FaultState {
    inner: Mutex<(FaultPlan, HashMap<&'static str, u64>)>,
}

impl FaultState {
    pub fn new(plan: FaultPlan) -> Self {
        Self {
            inner: Mutex::new((plan, HashMap::new())),
        }
    }

    pub fn replace(&self, plan: FaultPlan) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *g = (plan, HashMap::new());
    }

    /// Count one API request of `vendor` and return the faults that apply to it.
    pub fn next(&self, vendor: &'static str) -> Vec<FaultKind> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let n = {
            let c = g.1.entry(vendor).or_insert(0);
            *c += 1;
            *c
        };
        g.0.specs
            .iter()
            .filter(|s| n >= s.start && n < s.start + s.count)
            .map(|s| s.kind)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_counts_and_starts() {
        let p = FaultPlan::parse("429x5@3, 503, slow=250ms@1,expire-cursor@4").expect("parses");
        assert_eq!(
            p.specs,
            vec![
                FaultSpec {
                    kind: FaultKind::TooManyRequests,
                    count: 5,
                    start: 3
                },
                FaultSpec {
                    kind: FaultKind::Unavailable,
                    count: 1,
                    start: 2
                },
                FaultSpec {
                    kind: FaultKind::Slow { ms: 250 },
                    count: 1,
                    start: 1
                },
                FaultSpec {
                    kind: FaultKind::ExpireCursor,
                    count: 1,
                    start: 4
                },
            ]
        );
        assert!(FaultPlan::parse("boom").is_err());
        assert!(FaultPlan::parse("500@0").is_err());
    }

    #[test]
    fn applies_to_the_requests_in_range() {
        let s = FaultState::new(FaultPlan::parse("500x2@2").expect("parses"));
        let hits: Vec<bool> = (0..4).map(|_| !s.next("zendesk").is_empty()).collect();
        assert_eq!(hits, [false, true, true, false]);
    }
}
