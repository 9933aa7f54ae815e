//! OAuth2 refresh-token grant: a connection whose access token expires gets a new one from the
//! vendor's token endpoint, once, however many requests notice the expiry at the same time.
//!
//! Vendors rotate refresh tokens: the response to a refresh carries a new one and the old one may
//! stop working. The new one is handed to a [`TokenStore`] (the flow's state store) before it is
//! used, so the next run starts from it; the environment's token is used again only when the
//! operator changes it (a new authorization).

use std::sync::Arc;

use serde::Deserialize;
use sha2::Digest;
use sluice_core::Secret;
use tokio::sync::{Mutex, RwLock};
use url::Url;

use crate::error::HttpError;

/// Where a rotated refresh token is kept between runs (the flow's state store). Keys are the
/// client's own.
pub use sluice_core::KeyValueStore as TokenStore;

/// How a connection gets and renews its access token.
#[derive(Clone)]
pub struct OAuthRefresh {
    pub token_url: Url,
    pub client_id: Secret,
    pub client_secret: Secret,
    pub refresh_token: Secret,
    /// A token to start with (it may have expired: then the first request refreshes).
    pub access_token: Option<Secret>,
    /// Extra form fields of the refresh request (`scope`, `continuous_refresh`).
    pub extra_fields: Vec<(String, String)>,
    /// How the app proves itself to the token endpoint.
    pub client_auth: ClientAuth,
    pub store: Option<Arc<dyn TokenStore>>,
}

/// The OAuth keys of a flow's `[connection]`: an app's refresh grant (`refresh_token`,
/// `client_id`, `client_secret`, and optionally a first `access_token`), or a bare
/// `access_token`. Every OAuth connector reads them the same way.
#[derive(Debug, Default)]
pub struct OAuthKeys {
    pub refresh_token: Option<Secret>,
    pub client_id: Option<Secret>,
    pub client_secret: Option<Secret>,
    pub access_token: Option<Secret>,
}

impl OAuthKeys {
    /// Who the vendor counts requests of (its quotas are per grant): the refresh token, else
    /// the access token. Hashed by [`crate::quota_scope`], never shown.
    pub fn identity(&self) -> String {
        self.refresh_token
            .as_ref()
            .or(self.access_token.as_ref())
            .map(|s| s.expose().to_string())
            .unwrap_or_default()
    }

    /// The connection's auth; the error names the keys to set. `lifetime` says what the
    /// refresh renews (`the 60-day access token`), for that message.
    pub fn into_auth(
        self,
        token_url: Url,
        client_auth: ClientAuth,
        store: Option<Arc<dyn TokenStore>>,
        lifetime: &str,
    ) -> Result<crate::Auth, String> {
        match (
            self.refresh_token,
            self.client_id,
            self.client_secret,
            self.access_token,
        ) {
            (Some(refresh_token), Some(client_id), Some(client_secret), access_token) => {
                Ok(crate::Auth::OAuthRefresh(OAuthRefresh {
                    token_url,
                    client_id,
                    client_secret,
                    refresh_token,
                    access_token,
                    extra_fields: Vec::new(),
                    client_auth,
                    store,
                }))
            }
            (Some(_), _, _, _) => Err("[connection] `refresh_token` needs `client_id` and \
                 `client_secret` (the app's credentials the token endpoint checks)"
                .into()),
            (None, _, _, Some(token)) => Ok(crate::Auth::Bearer { token }),
            (None, _, _, None) => Err(format!(
                "[connection] needs credentials: `refresh_token`, `client_id` and \
                 `client_secret` (renewed as {lifetime} expires), or an `access_token`, each as \
                 \"${{ENV}}\""
            )),
        }
    }
}

/// Where a refresh request carries the app's id and secret (RFC 6749 §2.3.1 allows both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(id:secret)` (Pinterest).
    #[default]
    Basic,
    /// `client_id` and `client_secret` form fields (LinkedIn).
    Body,
}

impl std::fmt::Debug for OAuthRefresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthRefresh")
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// What the store keeps: the rotated token, and which token of the environment it replaced.
#[derive(serde::Serialize, Deserialize)]
struct Stored {
    refresh_token: String,
    replaces: String,
}

fn fingerprint(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The live credentials of one OAuth grant, shared by every client of it in the process:
/// two flows of one user (`sluice schedule`) must not each spend the refresh token, because a
/// vendor that rotates it retires the one sent.
pub(crate) fn shared(config: OAuthRefresh) -> Arc<OAuthState> {
    type Registry = std::sync::Mutex<std::collections::HashMap<String, Arc<OAuthState>>>;
    static GRANTS: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    let key = fingerprint(&format!(
        "{}|{}|{}",
        config.token_url,
        config.client_id.expose(),
        config.refresh_token.expose()
    ));
    let mut grants = GRANTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(state) = grants.get(&key) {
        if let (Some(store), Ok(mut stores)) = (&config.store, state.stores.lock()) {
            stores.push(store.clone());
        }
        return state.clone();
    }
    let state = Arc::new(OAuthState::new(config));
    grants.insert(key, state.clone());
    state
}

/// The live credentials of an OAuth connection.
pub(crate) struct OAuthState {
    config: OAuthRefresh,
    /// Every store of the flows sharing the grant: a rotated token is kept in each.
    stores: std::sync::Mutex<Vec<Arc<dyn TokenStore>>>,
    /// The access header and its generation: a request that saw generation `g` fail asks for a
    /// refresh of `g`, and only the first such request refreshes.
    current: RwLock<(u64, Option<Secret>)>,
    refresh_token: RwLock<Secret>,
    refreshing: Mutex<()>,
    store_key: String,
    env_fingerprint: String,
}

impl OAuthState {
    pub(crate) fn new(config: OAuthRefresh) -> Self {
        let env_fingerprint = fingerprint(config.refresh_token.expose());
        // one grant (app and authorization) per key: flows of other users of the app sharing the
        // store keep their own tokens
        let store_key = format!(
            "oauth:{}",
            fingerprint(&format!(
                "{}|{}|{env_fingerprint}",
                config.token_url,
                config.client_id.expose()
            ))
        );
        // a token rotated by an earlier run wins, unless the environment's token changed since
        let refresh_token = config
            .store
            .as_ref()
            .and_then(|s| s.load(&store_key))
            .and_then(|text| serde_json::from_str::<Stored>(&text).ok())
            .filter(|stored| stored.replaces == env_fingerprint)
            .map_or_else(
                || config.refresh_token.clone(),
                |s| Secret::new(s.refresh_token),
            );
        let header = config
            .access_token
            .as_ref()
            .map(|t| Secret::new(format!("Bearer {}", t.expose())));
        Self {
            stores: std::sync::Mutex::new(config.store.iter().cloned().collect()),
            current: RwLock::new((0, header)),
            refresh_token: RwLock::new(refresh_token),
            refreshing: Mutex::new(()),
            store_key,
            env_fingerprint,
            config,
        }
    }

    pub(crate) fn token_url(&self) -> &Url {
        &self.config.token_url
    }

    /// The header to send and its generation; `None` until a first refresh.
    pub(crate) async fn header(&self) -> (u64, Option<Secret>) {
        self.current.read().await.clone()
    }

    /// Get a new access token, unless a newer one than generation `seen` exists already.
    ///
    /// A refused refresh may mean another process sharing the grant (a shard of the same flow,
    /// on a shared state store) rotated the token a moment ago: the refresh is retried with the
    /// token the store holds now, if it is another one.
    pub(crate) async fn refresh(
        &self,
        client: &reqwest::Client,
        seen: u64,
    ) -> Result<(), HttpError> {
        let _one_at_a_time = self.refreshing.lock().await;
        if self.current.read().await.0 != seen {
            return Ok(());
        }
        // never send a token another process already rotated away: some vendors revoke the
        // whole grant when a used refresh token comes back
        if let Some(stored) = self.stored_token() {
            if stored.expose() != self.refresh_token.read().await.expose() {
                *self.refresh_token.write().await = stored;
            }
        }
        let mut refused = match self.refresh_once(client).await {
            Err(e @ HttpError::Refresh { .. }) => e,
            other => return other,
        };
        // the other process saves what it received right after: give it a moment
        for pause in [0, 250, 1000] {
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            let Some(stored) = self.stored_token() else {
                continue;
            };
            if stored.expose() == self.refresh_token.read().await.expose() {
                continue;
            }
            tracing::info!(
                "the refresh token was rotated by another process sharing it; using the new one"
            );
            *self.refresh_token.write().await = stored;
            match self.refresh_once(client).await {
                Err(e @ HttpError::Refresh { .. }) => refused = e,
                other => return other,
            }
        }
        Err(refused)
    }

    /// The refresh token the stores hold now for this grant, if one replaces the environment's.
    fn stored_token(&self) -> Option<Secret> {
        let stores: Vec<Arc<dyn TokenStore>> =
            self.stores.lock().map(|s| s.clone()).unwrap_or_default();
        stores
            .iter()
            .filter_map(|s| s.load(&self.store_key))
            .filter_map(|text| serde_json::from_str::<Stored>(&text).ok())
            .find(|stored| stored.replaces == self.env_fingerprint)
            .map(|s| Secret::new(s.refresh_token))
    }

    async fn refresh_once(&self, client: &reqwest::Client) -> Result<(), HttpError> {
        let refresh_token = self.refresh_token.read().await.clone();
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        form.extend(
            self.config
                .extra_fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let url = crate::client::redact(&self.config.token_url);
        let mut post = client.post(self.config.token_url.clone());
        match self.config.client_auth {
            ClientAuth::Basic => {
                post = post.basic_auth(
                    self.config.client_id.expose(),
                    Some(self.config.client_secret.expose()),
                );
            }
            ClientAuth::Body => {
                form.push(("client_id", self.config.client_id.expose()));
                form.push(("client_secret", self.config.client_secret.expose()));
            }
        }
        let response = post
            .form(&form)
            .send()
            .await
            .map_err(|e| HttpError::Transport {
                url: url.clone(),
                message: crate::client::describe(&e),
            })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| HttpError::Body {
            url: url.clone(),
            message: crate::client::describe(&e),
        })?;
        if !(200..300).contains(&status) {
            return Err(HttpError::Refresh {
                url,
                status,
                body: crate::client::snippet(&body),
            });
        }
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|e| HttpError::Body {
            url: url.clone(),
            message: format!("the token endpoint's answer is not a token response: {e}"),
        })?;
        let access = Secret::new(token.access_token);
        if let Some(rotated) = token.refresh_token.filter(|t| !t.is_empty()) {
            let rotated = Secret::new(rotated);
            let stored = Stored {
                refresh_token: rotated.expose().to_string(),
                replaces: self.env_fingerprint.clone(),
            };
            let text = serde_json::to_string(&stored).unwrap_or_default();
            let stores: Vec<Arc<dyn TokenStore>> =
                self.stores.lock().map(|s| s.clone()).unwrap_or_default();
            for store in stores {
                store
                    .save(&self.store_key, &text)
                    .map_err(|e| HttpError::Refresh {
                        url: url.clone(),
                        status,
                        body: format!("the rotated refresh token could not be kept: {e}"),
                    })?;
            }
            *self.refresh_token.write().await = rotated;
        }
        let mut current = self.current.write().await;
        *current = (
            current.0 + 1,
            Some(Secret::new(format!("Bearer {}", access.expose()))),
        );
        tracing::info!(endpoint = %url, "access token refreshed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_keys_make_a_refresh_grant_a_bearer_or_a_message_naming_the_keys() {
        let url = Url::parse("https://example.com/token").expect("url");
        let grant = OAuthKeys {
            refresh_token: Some(Secret::new("r")),
            client_id: Some(Secret::new("i")),
            client_secret: Some(Secret::new("s")),
            access_token: None,
        };
        assert_eq!(grant.identity(), "r");
        assert!(matches!(
            grant.into_auth(url.clone(), ClientAuth::Body, None, "it"),
            Ok(crate::Auth::OAuthRefresh(o)) if o.client_auth == ClientAuth::Body
        ));
        let bearer = OAuthKeys {
            access_token: Some(Secret::new("a")),
            ..OAuthKeys::default()
        };
        assert_eq!(bearer.identity(), "a");
        assert!(matches!(
            bearer.into_auth(url.clone(), ClientAuth::Basic, None, "it"),
            Ok(crate::Auth::Bearer { .. })
        ));
        let half = OAuthKeys {
            refresh_token: Some(Secret::new("r")),
            ..OAuthKeys::default()
        };
        let err = half.into_auth(url.clone(), ClientAuth::Basic, None, "it");
        assert!(err.is_err_and(|e| e.contains("`client_id` and `client_secret`")));
        let none = OAuthKeys::default().into_auth(url, ClientAuth::Basic, None, "the token");
        assert!(none.is_err_and(|e| e.contains("renewed as the token expires")));
    }
}
