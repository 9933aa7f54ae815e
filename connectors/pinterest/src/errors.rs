//! What Pinterest's error answers mean (api-contracts §1.4, §1.9): the transient 400s it
//! sends, the expired-token code, and the rest left to the default rule.

use std::time::Duration;

use sluice_http::{Decision, HttpError, ResponseInfo};

/// The `{code, message}` of an error body.
#[derive(serde::Deserialize, Default)]
pub struct ApiError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
}

impl ApiError {
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }
}

/// "… Retry after 3 seconds …" → 3 s.
fn retry_after_in(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find("retry after")?;
    let rest = &lower[at + "retry after".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok().map(Duration::from_secs)
}

/// Pinterest's own rules, before the default one:
/// - an expired or invalid token (`code` 1104, on a 400 or a 401) is refreshed;
/// - a 400 saying "Retry after N seconds" waits N seconds;
/// - a 400 with `code` 12 or "something went wrong", or the intermittent "you can only get data
///   from the last 90 days", is transient.
pub fn classify(info: &ResponseInfo<'_>) -> Option<Decision> {
    if !matches!(info.status, 400 | 401) {
        return None;
    }
    let e = ApiError::parse(info.body);
    if e.code == Some(1104) {
        return Some(Decision::Refresh);
    }
    if info.status != 400 {
        return None;
    }
    let message = e.message.unwrap_or_default();
    if let Some(after) = retry_after_in(&message) {
        return Some(Decision::Retry { after: Some(after) });
    }
    let lower = message.to_ascii_lowercase();
    if e.code == Some(12) || lower.contains("something went wrong") {
        return Some(Decision::Retry { after: None });
    }
    if lower.contains("last 90 days") {
        return Some(Decision::Retry {
            after: Some(Duration::from_secs(1)),
        });
    }
    None
}

/// The connector error for a failed request.
pub fn connector_error(flow: &str, e: HttpError) -> sluice_core::ConnectorError {
    e.into_connector_error(
        &format!("pinterest connection of flow `{flow}`"),
        "Check the tokens the flow's environment references point at, and that the user may read \
         the ad account",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_http::HeaderMap;

    fn decide(status: u16, body: &str) -> Option<Decision> {
        let headers = HeaderMap::new();
        classify(&ResponseInfo {
            status,
            headers: &headers,
            body: body.as_bytes(),
        })
    }

    #[test]
    fn pinterests_transient_answers_are_retried_and_an_expiry_refreshed() {
        assert_eq!(
            decide(
                400,
                r#"{"code":1,"message":"Too many requests. Retry after 3 seconds."}"#
            ),
            Some(Decision::Retry {
                after: Some(Duration::from_secs(3))
            })
        );
        assert_eq!(
            decide(
                400,
                r#"{"code":12,"message":"Something went wrong on our end."}"#
            ),
            Some(Decision::Retry { after: None })
        );
        assert_eq!(
            decide(
                401,
                r#"{"code":1104,"message":"The token you provided is not valid or has expired."}"#
            ),
            Some(Decision::Refresh)
        );
        assert_eq!(
            decide(400, r#"{"code":1104,"message":"expired"}"#),
            Some(Decision::Refresh)
        );
        assert_eq!(
            decide(400, r#"{"code":400,"message":"Invalid parameters."}"#),
            None
        );
        assert_eq!(
            decide(404, r#"{"code":2,"message":"AdAccount not found."}"#),
            None
        );
    }
}
