//! OAuth: `POST /v5/oauth/token` (refresh and client-credentials grants) and the bearer tokens
//! it issues. Tokens belong to an owner (the user behind the app), which is what rate limits
//! count, since tokens rotate. Access tokens expire `access_token_ttl` after issue (the initial
//! one after the sandbox starts); refresh tokens rotate on use when configured, and a rotated one
//! is refused from then on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap};
use base64::Engine;
use serde_json::{json, Value};

use super::data::USER_ID;
use crate::credentials;

/// The scopes a sandbox token carries unless the request names others.
pub const DEFAULT_SCOPE: &str = "ads:read,boards:read,catalogs:read,pins:read,user_accounts:read";

struct AccessToken {
    owner: &'static str,
    expires: Instant,
}

struct RefreshToken {
    owner: &'static str,
    expires: Instant,
    expires_at_unix: i64,
    valid: bool,
}

struct State {
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    issued: u64,
}

pub struct Tokens {
    state: Mutex<State>,
    salt: u64,
    access_ttl: Duration,
    refresh_ttl: Duration,
    rotate: bool,
}

/// What a bearer token is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bearer {
    Unknown,
    Expired(&'static str),
    Valid(&'static str),
}

/// Why a token request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400 code 1: the form is malformed.
    BadRequest(String),
    /// 401: the refresh token is unknown, rotated away or expired.
    RefreshToken,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Whether `Authorization: Basic` carries the sandbox's client id and secret.
pub fn client_authorized(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!(
        "{}:{}",
        credentials::PINTEREST_CLIENT_ID,
        credentials::PINTEREST_CLIENT_SECRET
    );
    decoded == expected.as_bytes()
}

/// The token of `Authorization: Bearer <token>`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty()).then_some(token)
}

impl Tokens {
    pub fn new(seed: u64, access_ttl: Duration, refresh_ttl: Duration, rotate: bool) -> Self {
        let now = Instant::now();
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let mut access = HashMap::new();
        access.insert(
            credentials::PINTEREST_ACCESS_TOKEN.to_string(),
            AccessToken {
                owner: USER_ID,
                expires: now + access_ttl,
            },
        );
        let mut refresh = HashMap::new();
        refresh.insert(
            credentials::PINTEREST_REFRESH_TOKEN.to_string(),
            RefreshToken {
                owner: USER_ID,
                expires: now + refresh_ttl,
                expires_at_unix: unix_now() + refresh_ttl.as_secs() as i64,
                valid: true,
            },
        );
        Self {
            state: Mutex::new(State {
                access,
                refresh,
                issued: 0,
            }),
            // tokens of an earlier sandbox never match this one's
            salt: seed ^ started,
            access_ttl,
            refresh_ttl,
            rotate,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn check(&self, token: &str) -> Bearer {
        match self.lock().access.get(token) {
            None => Bearer::Unknown,
            Some(t) if Instant::now() >= t.expires => Bearer::Expired(t.owner),
            Some(t) => Bearer::Valid(t.owner),
        }
    }

    /// `expire-token`: the token is treated as expired from now on.
    pub fn expire(&self, token: &str) {
        if let Some(t) = self.lock().access.get_mut(token) {
            t.expires = Instant::now();
        }
    }

    fn mint(&self, state: &mut State, prefix: &str) -> String {
        state.issued += 1;
        let mut rng = crate::rng::Rng::new(self.salt ^ state.issued.wrapping_mul(0x2545_F491));
        format!(
            "{prefix}.{:016x}{:016x}{:08x}",
            rng.next_u64(),
            rng.next_u64(),
            state.issued
        )
    }

    /// Answer a token request whose form is `form`, from an authorized client.
    pub fn grant(&self, form: &str) -> Result<Value, Refusal> {
        let mut grant_type = None;
        let mut refresh = None;
        let mut scope = None;
        for (k, v) in url::form_urlencoded::parse(form.as_bytes()) {
            match k.as_ref() {
                "grant_type" => grant_type = Some(v.into_owned()),
                "refresh_token" => refresh = Some(v.into_owned()),
                "scope" => scope = Some(v.into_owned()),
                // `continuous_refresh=true` (apps from before 2025-09-25): accepted, the
                // sandbox's refresh tokens are continuous anyway
                _ => {}
            }
        }
        let scope = scope
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SCOPE.to_string());
        let now = Instant::now();
        let mut state = self.lock();
        match grant_type.as_deref() {
            Some("refresh_token") => {
                let sent = refresh.filter(|r| !r.is_empty()).ok_or_else(|| {
                    Refusal::BadRequest("Missing required parameter 'refresh_token'".into())
                })?;
                let owner = match state.refresh.get(&sent) {
                    Some(r) if r.valid && now < r.expires => r.owner,
                    _ => return Err(Refusal::RefreshToken),
                };
                let access = self.mint(&mut state, "pina");
                state.access.insert(
                    access.clone(),
                    AccessToken {
                        owner,
                        expires: now + self.access_ttl,
                    },
                );
                let (refresh_token, expires_at) = if self.rotate {
                    if let Some(old) = state.refresh.get_mut(&sent) {
                        old.valid = false;
                    }
                    let fresh = self.mint(&mut state, "pinr");
                    let at = unix_now() + self.refresh_ttl.as_secs() as i64;
                    state.refresh.insert(
                        fresh.clone(),
                        RefreshToken {
                            owner,
                            expires: now + self.refresh_ttl,
                            expires_at_unix: at,
                            valid: true,
                        },
                    );
                    (fresh, at)
                } else {
                    let at = state.refresh.get(&sent).map_or(0, |r| r.expires_at_unix);
                    (sent, at)
                };
                Ok(json!({
                    "access_token": access,
                    "token_type": "bearer",
                    "expires_in": self.access_ttl.as_secs(),
                    "scope": scope,
                    "refresh_token": refresh_token,
                    "refresh_token_expires_in": (expires_at - unix_now()).max(0),
                    "refresh_token_expires_at": expires_at,
                    "response_type": "refresh_token",
                }))
            }
            Some("client_credentials") => {
                let access = self.mint(&mut state, "pina");
                state.access.insert(
                    access.clone(),
                    AccessToken {
                        owner: USER_ID,
                        expires: now + self.access_ttl,
                    },
                );
                Ok(json!({
                    "access_token": access,
                    "token_type": "bearer",
                    "expires_in": self.access_ttl.as_secs(),
                    "scope": scope,
                    "response_type": "client_credentials",
                }))
            }
            Some(other) => Err(Refusal::BadRequest(format!(
                "Parameter 'grant_type' has an unsupported value '{other}' (the sandbox grants refresh_token and client_credentials)"
            ))),
            None => Err(Refusal::BadRequest(
                "Missing required parameter 'grant_type'".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(refresh: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh)
            .finish()
    }

    #[test]
    fn rotation_refuses_the_old_refresh_token() {
        let t = Tokens::new(1, Duration::from_secs(60), Duration::from_secs(600), true);
        let first = t
            .grant(&form(credentials::PINTEREST_REFRESH_TOKEN))
            .expect("refreshes");
        let next = first["refresh_token"].as_str().expect("a refresh token");
        assert!(next.starts_with("pinr.") && next != credentials::PINTEREST_REFRESH_TOKEN);
        assert_eq!(
            t.grant(&form(credentials::PINTEREST_REFRESH_TOKEN)),
            Err(Refusal::RefreshToken)
        );
        let access = first["access_token"].as_str().expect("an access token");
        assert_eq!(t.check(access), Bearer::Valid(USER_ID));
        assert!(t.grant(&form(next)).is_ok());
        t.expire(access);
        assert_eq!(t.check(access), Bearer::Expired(USER_ID));
        assert_eq!(t.check("pina.nope"), Bearer::Unknown);
    }

    #[test]
    fn without_rotation_the_same_refresh_token_keeps_working() {
        let t = Tokens::new(1, Duration::from_secs(60), Duration::from_secs(600), false);
        for _ in 0..3 {
            let r = t
                .grant(&form(credentials::PINTEREST_REFRESH_TOKEN))
                .expect("refreshes");
            assert_eq!(r["refresh_token"], credentials::PINTEREST_REFRESH_TOKEN);
        }
    }
}
