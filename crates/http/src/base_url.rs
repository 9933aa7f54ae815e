//! A connection's `base_url`: scheme, host and port only, so setting it points a flow at any
//! server (the vendor's, a proxy, the sandbox) while the connector keeps adding the API's paths.

use url::Url;

use crate::Quota;

/// Parse a `base_url`; `example` and `api_path` go into the message of a URL that has more
/// than scheme, host and port.
pub fn parse_base_url(text: &str, example: &str, api_path: &str) -> Result<Url, String> {
    let shown = without_credentials(text);
    if shown != text {
        return Err(format!(
            "[connection] `base_url` = \"{shown}\" carries credentials (a user, a password or \
             query values): give scheme, host and port only, and credentials in their own keys, \
             as environment references"
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

/// `text` with whatever may be a credential masked: the user info of `scheme://user:pw@host`
/// (a secret may be written as the user), and query values. Works whether or not the rest
/// parses as a URL.
fn without_credentials(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, _)) => format!("{path}?***"),
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
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
            !err.contains("s3cr3t-pw") && err.contains("***@x.com"),
            "{err}"
        );
        for leaky in [
            "http://Hunter2SecretPw@host:1",
            "http://host/?api_token=Hunter2SecretPw",
        ] {
            let err = parse_base_url(leaky, "https://x", "/api").unwrap_err();
            assert!(!err.contains("Hunter2SecretPw"), "{err}");
        }
        let err = parse_base_url("https://u:s3 cr3t@x .com/", "https://x", "/api").unwrap_err();
        assert!(!err.contains("s3 cr3t"), "unparsable, still masked: {err}");
        assert!(parse_base_url("https://u@x.com", "https://x", "/api").is_err());
        assert!(parse_base_url("ftp://x.com", "https://x", "/api").is_err());
        assert!(parse_base_url("not a url", "https://x", "/api").is_err());
    }
}
