//! What LinkedIn's error answers mean (api-contracts §2.7, §2.8): a daily quota that is spent
//! until midnight UTC, the five-minute data-volume throttle, a retired version.

use std::time::Duration;

use chrono::{Days, Utc};
use sluice_http::{Decision, HttpError, ResponseInfo};

#[derive(serde::Deserialize, Default)]
struct ApiError {
    #[serde(default)]
    message: Option<String>,
}

/// How long the data-volume throttle's window is, with a margin (Airbyte waits 330 s too).
pub const DATA_VOLUME_WAIT: Duration = Duration::from_secs(330);

/// The time until the next 00:00 UTC, when LinkedIn's daily counters reset.
fn until_midnight() -> Duration {
    let now = Utc::now();
    let next = now
        .date_naive()
        .checked_add_days(Days::new(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    next.and_then(|n| (n - now).to_std().ok())
        .unwrap_or(Duration::from_secs(86_400))
}

/// LinkedIn's own rules, before the default one. A 429 has no `Retry-After`; its message says
/// which limit it is:
/// - "… DAY limit …": the app's or member's daily quota. Retrying only burns what is left, so
///   the wait is until midnight UTC, which is longer than a run waits: the run stops cleanly
///   with the time to resume (exit 5).
/// - "The data request limit has been exceeded …": 45 million metric values per five minutes;
///   the window passes, so wait it out (`data_volume_wait`) and retry.
pub fn classify(info: &ResponseInfo<'_>, data_volume_wait: Duration) -> Option<Decision> {
    if info.status != 429 {
        return None;
    }
    let message = serde_json::from_slice::<ApiError>(info.body)
        .unwrap_or_default()
        .message
        .unwrap_or_default();
    if message.contains("DAY limit") {
        return Some(Decision::Retry {
            after: Some(until_midnight()),
        });
    }
    if message.contains("data request limit") || message.contains("metric values") {
        return Some(Decision::Retry {
            after: Some(data_volume_wait),
        });
    }
    None
}

/// The connector error for a failed request; a retired version says what to set.
pub fn connector_error(flow: &str, version: &str, e: HttpError) -> sluice_core::ConnectorError {
    if e.status() == Some(426) {
        return sluice_core::ConnectorError::Config(format!(
            "LinkedIn no longer serves version {version} of its API (HTTP 426: versions are \
             retired 12 months after release): set [connection] `linkedin_version` of flow \
             `{flow}` to a recent month (YYYYMM), or remove it to use last month's"
        ));
    }
    e.into_connector_error(
        &format!("linkedin connection of flow `{flow}`"),
        "Check the tokens the flow's environment references point at (access tokens last 60 \
         days, refresh tokens 12 months from the authorization), and that the member may read \
         the ad accounts (r_ads_reporting)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_http::HeaderMap;

    fn decide(status: u16, body: &str) -> Option<Decision> {
        let headers = HeaderMap::new();
        classify(
            &ResponseInfo {
                status,
                headers: &headers,
                body: body.as_bytes(),
            },
            DATA_VOLUME_WAIT,
        )
    }

    #[test]
    fn a_daily_quota_waits_for_midnight_and_the_data_volume_throttle_for_its_window() {
        let day = decide(
            429,
            r#"{"status":429,"serviceErrorCode":101,"code":"TOO_MANY_REQUESTS","message":"Resource level throttle APPLICATION_AND_MEMBER DAY limit for calls to this resource is reached."}"#,
        );
        match day {
            Some(Decision::Retry { after: Some(a) }) => {
                assert!(a > Duration::ZERO && a <= Duration::from_secs(86_400))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decide(
                429,
                r#"{"status":429,"message":"The data request limit has been exceeded. More than 45 million metric values were requested in a 5-minute window."}"#
            ),
            Some(Decision::Retry {
                after: Some(DATA_VOLUME_WAIT)
            })
        );
        assert_eq!(decide(429, "{}"), None);
        assert_eq!(decide(400, r#"{"message":"DAY limit"}"#), None);
    }
}
