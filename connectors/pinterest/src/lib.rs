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
pub mod reference;
mod reports;
mod rows;
mod settings_doc;
mod streams;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use sluice_core::{
    Connector, ConnectorConfig, ConnectorError, DayWindow, PullContext, QuotaInfo, Registry,
    RequestMetricsSnapshot, StreamSpec, Task,
};
use sluice_http::HttpClient;
use tokio::sync::OnceCell;

use analytics::IdGroup;
pub use config::PinterestSettings;
use entities::{Binding, ListError, Listing};
use streams::{EntityStream, Kind, Level, Parent};

pub const NAME: &str = "pinterest";

pub fn register(registry: &mut Registry) {
    registry.register(
        NAME,
        "Pinterest Ads: the 44 streams of seed 004 (analytics, targeting analytics, entities)",
        build,
        all_streams,
        &settings_doc::SETTINGS,
    );
}

fn build(config: &ConnectorConfig) -> Result<Arc<dyn Connector>, ConnectorError> {
    let settings = PinterestSettings::from_config(config)?;
    let http = HttpClient::new(settings.auth.clone(), settings.http_config())
        .map_err(|e| ConnectorError::Config(e.to_string()))?;
    Ok(Arc::new(PinterestConnector {
        settings,
        http,
        listed: std::sync::Mutex::new(HashMap::new()),
    }))
}

fn default_columns() -> Vec<String> {
    columns::DEFAULT_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// The streams with the default columns (for listings without a flow).
pub fn all_streams() -> Vec<StreamSpec> {
    let defaults = default_columns();
    streams::table()
        .into_iter()
        .map(|(name, kind)| streams::spec(&name, kind, &defaults, false))
        .collect()
}

/// A list's items (some of their fields), listed once per run however many tasks need them.
type Listed = Arc<OnceCell<(Vec<Vec<String>>, Vec<String>)>>;

pub struct PinterestConnector {
    settings: PinterestSettings,
    http: HttpClient,
    /// Per (ad account, list and fields): the fields of the items, and notes about the listing.
    listed: std::sync::Mutex<HashMap<(String, String), Listed>>,
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
            default_columns()
        };
        // every row names its object
        if !cols.iter().any(|c| c == level.id_key()) && columns::kind(level.id_key()).is_some() {
            cols.push(level.id_key().to_string());
        }
        cols
    }

    /// The flow names the objects of this level (`object_type` and `object_ids`).
    fn configured(&self, level: Level) -> bool {
        self.settings
            .object_type
            .is_some_and(|t| streams::kind_of(t.stream()).is_some_and(|k| k.is_analytics_of(level)))
            && !self.settings.object_ids.is_empty()
    }

    /// Some fields of every item of a list, listed once per run: windows pulled at once wait
    /// for one listing.
    async fn listed<F, Fut>(
        &self,
        account: &str,
        what: String,
        list: F,
    ) -> Result<(Vec<Vec<String>>, Vec<String>), ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(Vec<Vec<String>>, Vec<String>), ConnectorError>>,
    {
        let cell = {
            let mut known = self.listed.lock().map_err(|_| ConnectorError::Stopped)?;
            known
                .entry((account.to_string(), what))
                .or_default()
                .clone()
        };
        cell.get_or_try_init(list).await.cloned()
    }

    /// Fields of the items of an entity stream's top-level list.
    async fn list_fields(
        &self,
        account: &str,
        stream: &'static str,
        fields: &'static [&'static str],
    ) -> Result<Vec<Vec<String>>, ConnectorError> {
        let Some(e) = streams::entity(stream) else {
            return Err(ConnectorError::UnknownStream(stream.into()));
        };
        let (items, _) = self
            .listed(account, format!("{stream}{fields:?}"), || async move {
                let listing = Listing::new(&self.settings, e, account, &Binding::default());
                let items = entities::collect(&self.settings, &self.http, &listing, fields)
                    .await
                    .map_err(|err| err.into_error(&listing.what))?;
                tracing::info!(what = %listing.what, objects = items.len(), "listed");
                Ok((items, Vec::new()))
            })
            .await?;
        Ok(items)
    }

    /// The ids of a level's objects (the flow's `object_ids` where it names them).
    async fn ids(&self, account: &str, level: Level) -> Result<Vec<String>, ConnectorError> {
        if self.configured(level) {
            return Ok(self.settings.object_ids.clone());
        }
        let Some(stream) = level.entity() else {
            return Ok(Vec::new());
        };
        let items = self.list_fields(account, stream, &["id"]).await?;
        Ok(items.into_iter().filter_map(|mut f| f.pop()).collect())
    }

    /// The objects an analytics pull asks for, grouped as its endpoint wants them: pins by the
    /// campaign that promotes them (the ads say which), product groups as the account's ad
    /// groups promote them.
    async fn groups(&self, account: &str, level: Level) -> Result<Vec<IdGroup>, ConnectorError> {
        match level {
            Level::AdAccount => Ok(Vec::new()),
            Level::Campaign | Level::AdGroup | Level::Ad => Ok(vec![IdGroup {
                scope: None,
                ids: self.ids(account, level).await?,
            }]),
            Level::Pin => {
                let ads = self
                    .list_fields(account, "ad", &["campaign_id", "pin_id"])
                    .await?;
                let mut by_campaign: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for ad in ads {
                    if let [campaign, pin] = ad.as_slice() {
                        if campaign.is_empty() || pin.is_empty() {
                            continue;
                        }
                        let pins = by_campaign.entry(campaign.clone()).or_default();
                        if !pins.contains(pin) {
                            pins.push(pin.clone());
                        }
                    }
                }
                Ok(by_campaign
                    .into_iter()
                    .map(|(campaign, ids)| IdGroup {
                        scope: Some(("campaign_id", campaign)),
                        ids,
                    })
                    .collect())
            }
            Level::ProductGroup => {
                if self.configured(level) {
                    return Ok(vec![IdGroup {
                        scope: None,
                        ids: self.settings.object_ids.clone(),
                    }]);
                }
                let Some(e) = streams::entity("product_group_promotion") else {
                    return Ok(Vec::new());
                };
                let (promotions, notes) = self
                    .children(account, e, &["catalog_product_group_id"])
                    .await?;
                for n in notes {
                    tracing::warn!("{n}");
                }
                let mut ids: Vec<String> = Vec::new();
                for p in promotions.into_iter().filter_map(|mut f| f.pop()) {
                    if !p.is_empty() && !ids.contains(&p) {
                        ids.push(p);
                    }
                }
                Ok(vec![IdGroup { scope: None, ids }])
            }
        }
    }

    /// Fields of the items of a child list under every parent, listed once per run.
    async fn children(
        &self,
        account: &str,
        stream: &'static EntityStream,
        fields: &'static [&'static str],
    ) -> Result<(Vec<Vec<String>>, Vec<String>), ConnectorError> {
        self.listed(
            account,
            format!("{}{fields:?}", stream.name),
            || async move {
                let (parents, mut notes) = self.parents(account, stream).await?;
                let mut out = Vec::new();
                for binding in &parents {
                    let listing = Listing::new(&self.settings, stream, account, binding);
                    match entities::collect(&self.settings, &self.http, &listing, fields).await {
                        Ok(items) => out.extend(items),
                        Err(ListError::Gone) if stream.parent.is_object() => notes.push(format!(
                            "{}: not found (deleted after it was listed): skipped",
                            listing.what
                        )),
                        Err(e) => return Err(e.into_error(&listing.what)),
                    }
                }
                Ok((out, notes))
            },
        )
        .await
    }

    /// What a stream's list is listed under, and notes about parents that went away.
    async fn parents(
        &self,
        account: &str,
        stream: &EntityStream,
    ) -> Result<(Vec<Binding>, Vec<String>), ConnectorError> {
        let one = |columns: &[(&'static str, String)]| Binding {
            vars: Vec::new(),
            query: columns.to_vec(),
            columns: columns.to_vec(),
        };
        Ok(match stream.parent {
            Parent::None => (vec![Binding::default()], Vec::new()),
            Parent::Ownership => (
                self.settings
                    .ownership_types
                    .iter()
                    .map(|t| one(&[("ownership_type", t.clone())]))
                    .collect(),
                Vec::new(),
            ),
            Parent::AdGroup => (
                self.ids(account, Level::AdGroup)
                    .await?
                    .into_iter()
                    .map(|g| one(&[("ad_group_id", g)]))
                    .collect(),
                Vec::new(),
            ),
            Parent::Board => (
                self.list_fields(account, "board", &["id"])
                    .await?
                    .into_iter()
                    .filter_map(|mut f| f.pop())
                    .map(|b| Binding {
                        vars: vec![("board", b.clone())],
                        query: Vec::new(),
                        columns: vec![("board_id", b)],
                    })
                    .collect(),
                Vec::new(),
            ),
            Parent::BoardSection => {
                let Some(sections) = streams::entity("board_section") else {
                    return Ok((Vec::new(), Vec::new()));
                };
                let (items, notes) =
                    Box::pin(self.children(account, sections, &["board_id", "id"])).await?;
                (
                    items
                        .into_iter()
                        .filter_map(|f| match f.as_slice() {
                            [board, section] => Some(Binding {
                                vars: vec![("board", board.clone()), ("section", section.clone())],
                                query: Vec::new(),
                                columns: vec![
                                    ("board_id", board.clone()),
                                    ("board_section_id", section.clone()),
                                ],
                            }),
                            _ => None,
                        })
                        .collect(),
                    notes,
                )
            }
        })
    }
}

#[async_trait]
impl Connector for PinterestConnector {
    fn streams(&self) -> Vec<StreamSpec> {
        let cols = self
            .settings
            .columns
            .clone()
            .unwrap_or_else(default_columns);
        streams::table()
            .into_iter()
            .map(|(name, kind)| streams::spec(&name, kind, &cols, self.settings.changed_only))
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
        let account = ctx.task.slice.clone();
        match kind {
            Kind::Entity(e) => {
                let (parents, notes) = self.parents(&account, e).await?;
                entities::pull(&self.settings, &self.http, e, parents, notes, &ctx).await
            }
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
                    groups: self.groups(&account, level).await?,
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
    fn min_requests(&self, task: &Task, _fields: &[String]) -> u64 {
        let Some(kind) = streams::kind_of(&task.stream) else {
            return 1;
        };
        let (Kind::Analytics(level) | Kind::Targeting(level, _)) = kind else {
            return 1;
        };
        let Some(window) = task.window else { return 1 };
        let today = chrono::Utc::now().date_naive();
        let Ok(ranges) = analytics::ranges(window, today, self.settings.granularity, level) else {
            return 1;
        };
        let objects = if level.ids_param().is_none() {
            1
        } else if self.configured(level) {
            self.settings.object_ids.len()
        } else {
            // unknown until listed: at least one chunk
            1
        };
        ranges
            .iter()
            .map(|r| match r.route {
                analytics::Route::Sync => objects.div_ceil(level.sync_ids()) as u64,
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
