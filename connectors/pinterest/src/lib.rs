//! Pinterest Ads API v5: the ad account's entities, their analytics and targeting analytics.
//!
//! Streams are data ([`streams`]); the API's quirks are code: bookmark paging ([`entities`]),
//! the 90-day synchronous range and the asynchronous reports beyond it ([`analytics`],
//! [`reports`]), id lists of at most 250 (500 in a report), rate-limit categories, and the
//! error answers that mean "retry" or "refresh the token" ([`errors`]).

mod analytics;
mod columns;
mod config;
mod entities;
mod errors;
mod reports;
mod streams;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use sluice_core::{
    Connector, ConnectorConfig, ConnectorError, DayWindow, PullContext, QuotaInfo, Registry,
    RequestMetricsSnapshot, StreamSpec, Task,
};
use sluice_http::HttpClient;
use tokio::sync::Mutex;

pub use config::PinterestSettings;
use streams::{Kind, Level};

pub const NAME: &str = "pinterest";

pub fn register(registry: &mut Registry) {
    registry.register(NAME, build, all_streams);
}

fn build(config: &ConnectorConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
    let settings = PinterestSettings::from_config(config)?;
    let http = HttpClient::new(settings.auth.clone(), settings.http_config())
        .map_err(|e| ConnectorError::Config(e.to_string()))?;
    Ok(Arc::new(PinterestConnector {
        settings,
        http,
        ids: Mutex::new(HashMap::new()),
    }))
}

/// The streams with the default columns (for listings without a flow).
pub fn all_streams() -> Vec<StreamSpec> {
    let defaults: Vec<String> = columns::DEFAULT_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .collect();
    streams::table()
        .into_iter()
        .map(|(name, kind)| streams::spec(&name, kind, &defaults))
        .collect()
}

pub struct PinterestConnector {
    settings: PinterestSettings,
    http: HttpClient,
    /// Object ids per (ad account, level), listed once per run.
    ids: Mutex<HashMap<(String, &'static str), Vec<String>>>,
}

impl PinterestConnector {
    /// The columns to ask for: those the mapping reads (of the API's enum), else the flow's
    /// `columns`, else the defaults.
    fn columns(&self, fields: &[String], level: Level) -> Vec<String> {
        let from_mapping: Vec<String> = fields
            .iter()
            .filter(|f| columns::kind(f).is_some())
            .cloned()
            .collect();
        let mut cols = if !from_mapping.is_empty() {
            from_mapping
        } else if let Some(c) = &self.settings.columns {
            c.clone()
        } else {
            columns::DEFAULT_COLUMNS
                .iter()
                .map(|c| c.to_string())
                .collect()
        };
        // every row names its object
        if !cols.iter().any(|c| c == level.id_key()) {
            cols.push(level.id_key().to_string());
        }
        cols
    }

    /// The objects of `level` to pull analytics of: the flow's `object_ids` for its
    /// `object_type`, else every object of the account (archived and paused ones too).
    async fn ids(&self, account: &str, level: Level) -> Result<Vec<String>, ConnectorError> {
        if level.ids_param().is_none() {
            return Ok(Vec::new());
        }
        let configured = self
            .settings
            .object_type
            .is_some_and(|t| streams::kind_of(t.stream()) == Some(Kind::Analytics(level)));
        if configured && !self.settings.object_ids.is_empty() {
            return Ok(self.settings.object_ids.clone());
        }
        let key = (account.to_string(), level.name());
        // held while listing: windows pulled at once wait for one listing
        let mut known = self.ids.lock().await;
        if let Some(ids) = known.get(&key) {
            return Ok(ids.clone());
        }
        let ids = entities::ids(&self.settings, &self.http, account, level).await?;
        tracing::info!(
            level = level.name(),
            objects = ids.len(),
            "listed the objects to pull analytics of"
        );
        known.insert(key, ids.clone());
        Ok(ids)
    }
}

#[async_trait]
impl Connector for PinterestConnector {
    fn streams(&self) -> Vec<StreamSpec> {
        let cols = self.settings.columns.clone().unwrap_or_else(|| {
            columns::DEFAULT_COLUMNS
                .iter()
                .map(|c| c.to_string())
                .collect()
        });
        streams::table()
            .into_iter()
            .map(|(name, kind)| streams::spec(&name, kind, &cols))
            .collect()
    }

    /// Seed 000's `object_type` picks its analytics stream.
    fn default_streams(&self) -> Vec<String> {
        match self.settings.object_type {
            Some(t) => vec![t.stream().to_string()],
            None => streams::table().into_iter().map(|(n, _)| n).collect(),
        }
    }

    async fn pull(&self, ctx: PullContext) -> Result<(), ConnectorError> {
        let kind = streams::kind_of(&ctx.task.stream)
            .ok_or_else(|| ConnectorError::UnknownStream(ctx.task.stream.clone()))?;
        match kind {
            Kind::Entity(level) => entities::pull(&self.settings, &self.http, level, &ctx).await,
            Kind::Analytics(level) | Kind::Targeting(level, _) => {
                let targeting = match kind {
                    Kind::Targeting(_, t) => Some(t),
                    _ => None,
                };
                let pull = analytics::Pull {
                    settings: &self.settings,
                    http: &self.http,
                    level,
                    targeting,
                    columns: self.columns(&ctx.fields, level),
                    ids: self.ids(&ctx.task.slice, level).await?,
                };
                pull.run(&ctx).await
            }
        }
    }

    fn request_metrics(&self) -> RequestMetricsSnapshot {
        self.http.metrics().snapshot()
    }

    fn quotas(&self) -> Vec<QuotaInfo> {
        sluice_http::quota_infos(&self.settings.quotas)
    }

    /// Each ad account is a slice of every stream.
    fn slices(&self, _stream: &StreamSpec) -> Vec<String> {
        self.settings.ad_accounts.clone()
    }

    /// A synchronous request per 250 objects and 90 days, a report per 500 objects and 186
    /// days (its polls and download apart); objects not named in the flow are listed first.
    fn min_requests(&self, task: &Task) -> u64 {
        let Some(kind) = streams::kind_of(&task.stream) else {
            return 1;
        };
        let (Kind::Analytics(level) | Kind::Targeting(level, _)) = kind else {
            return 1;
        };
        let Some(window) = task.window else { return 1 };
        let today = chrono::Utc::now().date_naive();
        let Ok(ranges) = analytics::ranges(window, today, self.settings.granularity) else {
            return 1;
        };
        let objects = if level.ids_param().is_none() {
            1
        } else if self
            .settings
            .object_type
            .is_some_and(|t| streams::kind_of(t.stream()) == Some(Kind::Analytics(level)))
            && !self.settings.object_ids.is_empty()
        {
            self.settings.object_ids.len()
        } else {
            // unknown until listed: at least one chunk
            1
        };
        ranges
            .iter()
            .map(|r| match r.route {
                analytics::Route::Sync => objects.div_ceil(analytics::SYNC_IDS) as u64,
                analytics::Route::Report => objects.div_ceil(analytics::REPORT_IDS) as u64,
            })
            .sum::<u64>()
            .max(1)
    }

    fn windows(
        &self,
        stream: &StreamSpec,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Option<Vec<DayWindow>> {
        match streams::kind_of(&stream.name)? {
            Kind::Entity(_) => None,
            _ => Some(analytics::windows(
                from,
                to,
                chrono::Utc::now().date_naive(),
            )),
        }
    }
}
