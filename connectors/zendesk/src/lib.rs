//! Zendesk Support through the Search Export API (`GET /api/v2/search/export.json`).
//!
//! Streams are data ([`streams`]); the export's quirks are code ([`export`]): results ordered by
//! `created_at` rather than `updated_at`, cursors that expire after an hour, and a search index
//! that lags behind writes.

mod config;
mod export;
mod schema;
mod settings_doc;

use std::sync::Arc;

use async_trait::async_trait;
use sluice_core::{
    Connector, ConnectorConfig, ConnectorError, PullContext, QuotaInfo, Registry,
    RequestMetricsSnapshot, StreamSpec, SyncMode,
};
use sluice_http::HttpClient;

pub use config::ZendeskSettings;

pub const NAME: &str = "zendesk";

/// Add this connector to a registry.
pub fn register(registry: &mut Registry) {
    registry.register(
        NAME,
        "Zendesk Support: users through the search export API, incremental by updated_at",
        build,
        streams,
        &settings_doc::SETTINGS,
    );
}

fn build(config: &ConnectorConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
    let settings = ZendeskSettings::from_config(config)?;
    let http = HttpClient::new(settings.auth.clone(), settings.http_config())
        .map_err(|e| ConnectorError::Config(e.to_string()))?;
    Ok(Arc::new(ZendeskConnector { settings, http }))
}

pub struct ZendeskConnector {
    settings: ZendeskSettings,
    http: HttpClient,
}

/// The streams: one per `filter[type]` the export serves with a known record schema.
pub fn streams() -> Vec<StreamSpec> {
    vec![StreamSpec {
        name: "users".into(),
        primary_key: vec!["results.id".into()],
        cursor_field: Some("results.updated_at".into()),
        schema: schema::users(),
        sync: SyncMode::Incremental,
        supports_day_windows: true,
        max_window_days: None,
        day_partitioned: false,
        default_fields: None,
        aliases: Vec::new(),
        rate_category: Some(config::SEARCH_EXPORT.to_string()),
    }]
}

fn filter_type(stream: &str) -> Option<&'static str> {
    match stream {
        "users" => Some("user"),
        _ => None,
    }
}

#[async_trait]
impl Connector for ZendeskConnector {
    fn streams(&self) -> Vec<StreamSpec> {
        streams()
    }

    async fn pull(&self, ctx: PullContext) -> Result<(), ConnectorError> {
        let filter = filter_type(&ctx.task.stream)
            .ok_or_else(|| ConnectorError::UnknownStream(ctx.task.stream.clone()))?;
        export::run(&self.settings, &self.http, filter, ctx).await
    }

    /// An incremental export pulls every record updated since `start`, up to its mark.
    fn incremental_days(
        &self,
        _stream: &StreamSpec,
        checkpoint: &serde_json::Value,
    ) -> Option<sluice_core::DayWindow> {
        let state: export::StreamState = serde_json::from_value(checkpoint.clone()).ok()?;
        // the last whole day before the export started (less the index lag)
        let through = chrono::DateTime::from_timestamp(state.through?, 0)?.date_naive();
        Some(sluice_core::DayWindow {
            from: self.settings.start.date_naive(),
            to: through.pred_opt()?,
        })
    }

    fn request_metrics(&self) -> RequestMetricsSnapshot {
        self.http.metrics().snapshot()
    }

    fn quotas(&self) -> Vec<QuotaInfo> {
        sluice_http::quota_infos(&self.settings.quotas)
    }
}
