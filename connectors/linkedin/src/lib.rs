//! LinkedIn Marketing API (versioned REST): `adAnalytics` for every pivot, and the ad
//! accounts, campaign groups, campaigns and creatives its pivot values name.
//!
//! Streams are data ([`streams`]); the API's quirks are code: Rest.li 2.0 encoding
//! ([`restli`]), the 20-field limit and the silent 15,000-element cap ([`analytics`]), cursor
//! lists ([`entities`]), and the 429s that mean "tomorrow" or "in five minutes" ([`errors`]).

mod analytics;
mod config;
mod entities;
mod errors;
mod restli;
mod settings_doc;
mod streams;

use std::sync::Arc;

use async_trait::async_trait;
use sluice_core::{
    Connector, ConnectorConfig, ConnectorError, PullContext, QuotaInfo, Registry,
    RequestMetricsSnapshot, StreamSpec, Task,
};
use sluice_http::HttpClient;

use analytics::Finder;
pub use config::LinkedInSettings;
use streams::Kind;

pub const NAME: &str = "linkedin";

/// Days every run pulls again: clicks and conversions are restated for days after the fact.
const LOOKBACK_DAYS: u32 = 7;

pub fn register(registry: &mut Registry) {
    registry.register(
        NAME,
        "LinkedIn Ads: adAnalytics by pivot (or up to three together), ad accounts, campaign groups, campaigns, creatives",
        build,
        all_streams,
        &settings_doc::SETTINGS,
    );
}

fn build(config: &ConnectorConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
    let settings = LinkedInSettings::from_config(config)?;
    let http = HttpClient::new(settings.auth.clone(), settings.http_config())
        .map_err(|e| ConnectorError::Config(e.to_string()))?;
    Ok(Arc::new(LinkedInConnector { settings, http }))
}

fn default_metrics() -> Vec<String> {
    streams::DEFAULT_METRICS
        .iter()
        .map(|m| m.to_string())
        .collect()
}

pub fn all_streams() -> Vec<StreamSpec> {
    let metrics = default_metrics();
    streams::table()
        .into_iter()
        .map(|(name, kind)| streams::spec(&name, kind, &metrics, LOOKBACK_DAYS))
        .collect()
}

pub struct LinkedInConnector {
    settings: LinkedInSettings,
    http: HttpClient,
}

impl LinkedInConnector {
    /// The metrics to ask for: those the mapping reads (`element.<metric>…`), else the flow's
    /// `fields`, else seed 001's.
    fn metrics(&self, fields: &[String]) -> Vec<String> {
        let mut from_mapping: Vec<String> = Vec::new();
        for f in fields {
            let Some(rest) = f.strip_prefix("element.") else {
                continue;
            };
            let name = rest.split('.').next().unwrap_or(rest);
            if streams::metric(name).is_some() && !from_mapping.iter().any(|m| m == name) {
                from_mapping.push(name.to_string());
            }
        }
        if !from_mapping.is_empty() {
            from_mapping
        } else if let Some(f) = &self.settings.fields {
            f.clone()
        } else {
            default_metrics()
        }
    }
}

impl LinkedInConnector {
    async fn analytics(&self, finder: Finder, ctx: &PullContext) -> Result<(), ConnectorError> {
        analytics::Pull {
            settings: &self.settings,
            http: &self.http,
            finder,
            metrics: self.metrics(&ctx.fields),
        }
        .run(ctx)
        .await
    }
}

#[async_trait]
impl Connector for LinkedInConnector {
    fn streams(&self) -> Vec<StreamSpec> {
        let metrics = self.settings.fields.clone().unwrap_or_else(default_metrics);
        streams::table()
            .into_iter()
            .map(|(name, kind)| streams::spec(&name, kind, &metrics, LOOKBACK_DAYS))
            .collect()
    }

    /// Seed 001's `pivot` picks its stream, `pivots` the `ad_statistics` stream; a flow with
    /// neither pulls every stream it can (`ad_statistics` needs `pivots`).
    fn default_streams(&self) -> Vec<String> {
        let mut chosen: Vec<String> = self.settings.pivot.iter().map(|p| p.stream()).collect();
        if !self.settings.pivots.is_empty() {
            chosen.push(streams::STATISTICS_STREAM.to_string());
        }
        if chosen.is_empty() {
            chosen = streams::table()
                .into_iter()
                .filter(|(_, k)| !matches!(k, Kind::Statistics))
                .map(|(n, _)| n)
                .collect();
        }
        chosen
    }

    async fn pull(&self, ctx: PullContext) -> Result<(), ConnectorError> {
        match streams::kind_of(&ctx.task.stream)
            .ok_or_else(|| ConnectorError::UnknownStream(ctx.task.stream.clone()))?
        {
            Kind::Entity(e) => entities::pull(&self.settings, &self.http, e, &ctx).await,
            Kind::Analytics(pivot) => self.analytics(Finder::Analytics(pivot), &ctx).await,
            Kind::Statistics => {
                if self.settings.pivots.is_empty() {
                    return Err(ConnectorError::Config(format!(
                        "flow `{}`: the `{}` stream is by the pivots in [source] `pivots` \
                         (one to three, such as \"CAMPAIGN, MEMBER_COUNTRY_V2\"); set them",
                        self.settings.flow,
                        streams::STATISTICS_STREAM
                    )));
                }
                self.analytics(Finder::Statistics(self.settings.pivots.clone()), &ctx)
                    .await
            }
        }
    }

    fn request_metrics(&self) -> RequestMetricsSnapshot {
        self.http.metrics().snapshot()
    }

    fn quotas(&self) -> Vec<QuotaInfo> {
        sluice_http::quota_infos(&self.settings.quotas)
    }

    /// Entity lists are per ad account; analytics ask for the flow's facet list together.
    fn slices(&self, stream: &StreamSpec) -> Vec<String> {
        match streams::kind_of(&stream.name) {
            Some(Kind::Entity(_)) => self.settings.accounts.clone(),
            _ => vec![String::new()],
        }
    }

    /// One request per metric chunk for a window (the cap may split it further).
    fn min_requests(&self, task: &Task, fields: &[String]) -> u64 {
        match streams::kind_of(&task.stream) {
            Some(Kind::Analytics(_) | Kind::Statistics) => {
                analytics::chunks(&self.metrics(fields)).len() as u64
            }
            _ => 1,
        }
    }
}
