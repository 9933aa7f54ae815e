//! A connection's `base_url`: scheme, host and port only, so setting it points a flow at any
//! server (the vendor's, a proxy, the sandbox) while the connector keeps adding the API's paths.

use url::Url;

use crate::Quota;

/// Parse a `base_url`; `example` and `api_path` go into the message of a URL that has more
/// than scheme, host and port.
pub fn parse_base_url(text: &str, example: &str, api_path: &str) -> Result<Url, String> {
    let shown = without_password(text);
    if shown != text {
        return Err(format!(
            "[connection] `base_url` = \"{shown}\" carries a password: credentials go in \
             their own keys, as environment references"
        ));
    }
    let url = Url::parse(text)
        .map_err(|e| format!("[connection] `base_url` = \"{text}\" is not a URL: {e}"))?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && (url.path() == "/" || url.path().is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !bare {
        return Err(format!(
            "[connection] `base_url` = \"{text}\" must be scheme, host and port only (e.g. \
             {example}); sluice appends {api_path} itself"
        ));
    }
    Ok(url)
}

/// `text` with the password of a `scheme://user:password@host` masked, whether or not the
/// rest parses as a URL.
fn without_password(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => text.to_string(),
        },
        None => text.to_string(),
    }
}

/// Quotas as plans and reports show them.
pub fn quota_infos(quotas: &[Quota]) -> Vec<sluice_core::QuotaInfo> {
    quotas
        .iter()
        .map(|q| sluice_core::QuotaInfo {
            name: q.name.clone(),
            count: q.count,
            period_s: q.period.as_secs(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scheme_host_and_port() {
        assert!(parse_base_url("http://127.0.0.1:8080", "https://x", "/api").is_ok());
        let err = parse_base_url(
            "https://acme.zendesk.com/api/v2",
            "https://acme.zendesk.com",
            "/api/v2/…",
        )
        .unwrap_err();
        assert!(
            err.contains("scheme, host and port only") && err.contains("/api/v2/…"),
            "{err}"
        );
        let err = parse_base_url("https://u:s3cr3t-pw@x.com", "https://x", "/api").unwrap_err();
        assert!(
            !err.contains("s3cr3t-pw") && err.contains("u:***@x.com"),
            "{err}"
        );
        let err = parse_base_url("https://u:s3 cr3t@x .com/", "https://x", "/api").unwrap_err();
        assert!(!err.contains("s3 cr3t"), "unparsable, still masked: {err}");
        assert!(parse_base_url("https://u@x.com", "https://x", "/api").is_err());
        assert!(parse_base_url("ftp://x.com", "https://x", "/api").is_err());
        assert!(parse_base_url("not a url", "https://x", "/api").is_err());
    }
}
