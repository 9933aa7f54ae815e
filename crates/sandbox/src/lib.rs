//! Local simulators of the vendors' APIs, faithful to their public contracts (paths, auth,
//! paging, rate limits, error bodies), with switchable faults. Tests, benchmarks and a newcomer's
//! first run all drive the same server: `sluice sandbox`, or [`Sandbox::start`] in-process.
//!
//! Control routes live under `/_sandbox/`: `GET stats`, `POST faults` (a fault list, as text),
//! and per vendor helpers such as `POST zendesk/touch`, `GET zendesk/users` and
//! `GET pinterest/analytics`, `GET linkedin/analytics`.

mod faults;
mod limiter;
mod linkedin;
mod mixpanel;
mod pinterest;
mod rng;
mod stats;
mod zendesk;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

pub use faults::{FaultKind, FaultPlan, FaultSpec};
pub use limiter::QuotaSpec;
pub use linkedin::LinkedInConfig;
pub use mixpanel::MixpanelConfig;
pub use pinterest::{
    Category as PinterestCategory, PinterestConfig, PinterestQuotas, RateLimitHeaders,
    RefreshRefusal,
};
pub use stats::Stats;
pub use zendesk::{ExportOrder, ZendeskConfig};

/// Credentials the sandbox accepts and `--sandbox` runs use: of the right form, and fake.
pub mod credentials {
    pub const ZENDESK_EMAIL: &str = "sandbox@example.com";
    pub const ZENDESK_API_TOKEN: &str = "sandbox-api-token";
    pub const MIXPANEL_USERNAME: &str = "sandbox.service-account";
    pub const MIXPANEL_SECRET: &str = "sandbox-service-account-secret";
    pub const MIXPANEL_PROJECT_ID: u64 = 2_526_451;
    /// The app's id and secret (HTTP Basic on `POST /v5/oauth/token`).
    pub const PINTEREST_CLIENT_ID: &str = "1484362";
    pub const PINTEREST_CLIENT_SECRET: &str = "5a4db0c0ffee5a4db0c0ffee5a4db0c0ffee5a4d";
    /// Accepted until it expires, `access_token_ttl` after the sandbox starts.
    pub const PINTEREST_ACCESS_TOKEN: &str = "pina.sandbox-initial-access-token";
    /// Works until it is rotated once (each refresh retires the refresh token it used).
    pub const PINTEREST_REFRESH_TOKEN: &str = "pinr.sandbox-initial-refresh-token";
    /// The main ad account (about 12 campaigns, 60 ad groups, `--size pinterest=N` ads).
    pub const PINTEREST_AD_ACCOUNT_ID: &str = "549755885175";
    /// The second ad account, shared through Business Access: small, and without a catalog
    /// (`GET /v5/catalogs/product_groups` answers 409 code 4182 for it).
    pub const PINTEREST_SHARED_AD_ACCOUNT_ID: &str = "549764106778";
    /// LinkedIn's initial access token, accepted until `access_token_ttl` after the start.
    pub const LINKEDIN_ACCESS_TOKEN: &str = "AQVsandbox-linkedin-initial-access-token";
    /// The refresh token: never rotates (LinkedIn keeps it 12 months); every refresh returns it.
    pub const LINKEDIN_REFRESH_TOKEN: &str = "AQXsandbox-linkedin-refresh-token";
    /// Sent in the form body of `POST /oauth/v2/accessToken`, not as Basic auth.
    pub const LINKEDIN_CLIENT_ID: &str = "86sbxl1nk3d1n";
    pub const LINKEDIN_CLIENT_SECRET: &str = "sandboxLinkedInClientSecret0123";
    /// The ids of the ad accounts of the default config (2 accounts), in order. With
    /// `LinkedInConfig.accounts` above 2, the others are in `/_sandbox/linkedin/entities`.
    pub const LINKEDIN_ACCOUNT_IDS: &[&str] = &["507404993", "508116022"];
}

#[derive(Debug, Clone, Default)]
pub struct SandboxConfig {
    pub zendesk: ZendeskConfig,
    pub mixpanel: MixpanelConfig,
    pub pinterest: PinterestConfig,
    pub linkedin: LinkedInConfig,
    pub faults: FaultPlan,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox: cannot listen on {addr}: {message}")]
    Bind { addr: String, message: String },
    #[error("sandbox: {0}")]
    Config(String),
}

pub(crate) struct Shared {
    pub zendesk: zendesk::ZendeskSim,
    pub mixpanel: mixpanel::MixpanelSim,
    pub pinterest: pinterest::PinterestSim,
    pub linkedin: linkedin::LinkedInSim,
    pub faults: faults::FaultState,
    pub stats: Stats,
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Sandbox {
    /// Bind `addr` (port 0 picks a free port) and serve in the background.
    pub async fn start(addr: SocketAddr, config: SandboxConfig) -> Result<Self, SandboxError> {
        let listener =
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| SandboxError::Bind {
                    addr: addr.to_string(),
                    message: e.to_string(),
                })?;
        let addr = listener.local_addr().map_err(|e| SandboxError::Bind {
            addr: addr.to_string(),
            message: e.to_string(),
        })?;
        let shared = Arc::new(Shared {
            zendesk: zendesk::ZendeskSim::new(config.zendesk),
            mixpanel: mixpanel::MixpanelSim::new(config.mixpanel),
            pinterest: pinterest::PinterestSim::new(config.pinterest),
            linkedin: linkedin::LinkedInSim::new(config.linkedin),
            faults: faults::FaultState::new(config.faults),
            stats: Stats::default(),
        });
        let app = router(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            shared,
            shutdown: Some(tx),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: what a flow's `base_url` points at.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats_json(&self) -> serde_json::Value {
        self.shared.stats.to_json(&self.shared)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/stats", get(stats_route))
        .route("/_sandbox/faults", post(set_faults))
        .merge(zendesk::routes())
        .merge(mixpanel::routes())
        .merge(pinterest::routes())
        .merge(linkedin::routes())
        .with_state(shared)
}

async fn stats_route(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(shared.stats.to_json(&shared))
}

async fn set_faults(State(shared): State<Arc<Shared>>, body: String) -> Response {
    match FaultPlan::parse(body.trim()) {
        Ok(plan) => {
            shared.faults.replace(plan);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}
