//! Authentication schemes of the four vendors.

use base64::Engine;
use sluice_core::Secret;

#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// HTTP Basic `user:password`.
    Basic {
        user: String,
        password: Secret,
    },
    /// Basic with only a user part (Mixpanel's project secret, sent as `secret:`).
    BasicSecretOnly {
        secret: Secret,
    },
    Bearer {
        token: Secret,
    },
    /// An access token renewed with an OAuth2 refresh-token grant when it expires.
    OAuthRefresh(crate::oauth::OAuthRefresh),
}

impl Auth {
    /// Zendesk's API-token form: Basic `{email}/token:{token}`.
    pub fn zendesk_token(email: &str, token: Secret) -> Self {
        Auth::Basic {
            user: format!("{email}/token"),
            password: token,
        }
    }

    /// The `Authorization` header value; the result is secret too.
    /// The encodings are remembered as secret too, so a server that echoes the header is
    /// masked wherever sluice relays it.
    pub(crate) fn header_value(&self) -> Option<Secret> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let basic = |credentials: String| {
            let encoded = b64.encode(&credentials);
            remember_base64(&credentials);
            Secret::new(format!("Basic {encoded}"))
        };
        match self {
            Auth::None => None,
            Auth::Basic { user, password } => Some(basic(format!("{user}:{}", password.expose()))),
            Auth::BasicSecretOnly { secret } => Some(basic(format!("{}:", secret.expose()))),
            Auth::Bearer { token } => Some(Secret::new(format!("Bearer {}", token.expose()))),
            Auth::OAuthRefresh(_) => None,
        }
    }
}

/// Remember the base64 forms a server may echo a credential in: standard and URL-safe, padded
/// or not, of the whole `user:password` and of its secret part alone.
fn remember_base64(credentials: &str) {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    // the password, or for a secret sent as the user (Mixpanel's `secret:`) the user
    let secret_part = match credentials.split_once(':') {
        Some((user, "")) => user,
        Some((_, password)) => password,
        None => credentials,
    };
    for text in [credentials, secret_part] {
        if text.is_empty() {
            continue;
        }
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            sluice_core::secret::remember(&engine.encode(text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zendesk_token_is_basic_email_slash_token() {
        let auth = Auth::zendesk_token("a@b.c", Secret::new("T0K"));
        let header = auth.header_value().expect("basic has a header");
        let encoded = header
            .expose()
            .strip_prefix("Basic ")
            .expect("basic prefix");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64");
        assert_eq!(decoded, b"a@b.c/token:T0K");
        assert!(!format!("{auth:?}").contains("T0K"));
    }
}
