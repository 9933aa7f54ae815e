//! Entity lists: `{"items": […], "bookmark": …}`, the next page asked for with the bookmark
//! until it is null. Analytics need the ids; the entity streams write the items.

use std::collections::HashSet;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_core::{ConnectorError, Page, PullContext, Records};
use sluice_http::{HttpClient, Request};

use crate::config::{PinterestSettings, ADS_READ};
use crate::errors::connector_error;
use crate::streams::Level;

#[derive(Deserialize)]
struct ListPage<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
    #[serde(default)]
    bookmark: Option<String>,
}

/// One page: its items (raw JSON), its size, and the bookmark of the next.
struct Listed {
    items: Vec<Bytes>,
    bookmark: Option<String>,
}

fn parse_list(body: Bytes) -> Result<Listed, String> {
    let page: ListPage<'_> =
        serde_json::from_slice(&body).map_err(|e| format!("not an entity page: {e}"))?;
    Ok(Listed {
        items: page
            .items
            .iter()
            .map(|r| Bytes::copy_from_slice(r.get().as_bytes()))
            .collect(),
        bookmark: page.bookmark.filter(|b| !b.is_empty()),
    })
}

/// The pages of one list, one at a time.
struct Lister<'a> {
    settings: &'a PinterestSettings,
    http: &'a HttpClient,
    account: &'a str,
    path: &'static str,
    bookmark: Option<String>,
    /// Bookmarks followed: one handed back again would loop.
    seen: HashSet<String>,
    done: bool,
}

impl<'a> Lister<'a> {
    fn new(
        settings: &'a PinterestSettings,
        http: &'a HttpClient,
        account: &'a str,
        level: Level,
    ) -> Self {
        Self {
            settings,
            http,
            account,
            path: level.list_path().unwrap_or("campaigns"),
            bookmark: None,
            seen: HashSet::new(),
            done: level.list_path().is_none(),
        }
    }

    async fn next(&mut self) -> Result<Option<(Vec<Bytes>, usize)>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        let mut url = self
            .settings
            .url(&format!("ad_accounts/{}/{}", self.account, self.path));
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("page_size", &self.settings.page_size.to_string())
                .append_pair("entity_statuses", &self.settings.entity_statuses.join(","))
                .append_pair("order", "ASCENDING");
            if let Some(b) = &self.bookmark {
                q.append_pair("bookmark", b);
            }
        }
        let request = Request::get(url).category(ADS_READ);
        let (page, bytes) = self
            .http
            .send_parsed(&request, parse_list)
            .await
            .map_err(|e| connector_error(&self.settings.flow, e))?;
        match page.bookmark {
            None => self.done = true,
            Some(b) => {
                if !self.seen.insert(b.clone()) {
                    return Err(ConnectorError::Protocol {
                        endpoint: format!("{} of ad account {}", self.path, self.account),
                        message: "the server handed back a bookmark it had already given: \
                                  following it would loop"
                            .into(),
                    });
                }
                self.bookmark = Some(b);
            }
        }
        Ok(Some((page.items, bytes)))
    }
}

#[derive(Deserialize)]
struct Id {
    id: serde_json::Value,
}

/// The ids of every object of `level` in `account` with the flow's entity statuses.
pub async fn ids(
    settings: &PinterestSettings,
    http: &HttpClient,
    account: &str,
    level: Level,
) -> Result<Vec<String>, ConnectorError> {
    let mut out = Vec::new();
    let mut lister = Lister::new(settings, http, account, level);
    while let Some((items, _)) = lister.next().await? {
        for item in items {
            let id: Id = serde_json::from_slice(&item).map_err(|e| ConnectorError::Protocol {
                endpoint: format!("{} of ad account {account}", level.name()),
                message: format!("an item without an id: {e}"),
            })?;
            out.push(match id.id {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
        }
    }
    Ok(out)
}

fn page_of(items: &[Bytes], bytes: usize) -> Page {
    let mut lines = Vec::with_capacity(items.iter().map(|i| i.len() + 1).sum());
    for i in items {
        lines.extend_from_slice(i);
        lines.push(b'\n');
    }
    Page {
        record_count: items.len(),
        records: Records::Lines(lines),
        input_bytes: bytes as u64,
        ..Page::default()
    }
}

async fn send(ctx: &PullContext, page: Page) -> Result<(), ConnectorError> {
    ctx.pages
        .send(page)
        .await
        .map_err(|_| ConnectorError::Stopped)
}

/// An entity stream: every object of the level (or the ad account itself). The snapshot is
/// complete, and committed, with its last page.
pub async fn pull(
    settings: &PinterestSettings,
    http: &HttpClient,
    level: Level,
    ctx: &PullContext,
) -> Result<(), ConnectorError> {
    let account = ctx.task.slice.as_str();
    if level == Level::AdAccount {
        let request =
            Request::get(settings.url(&format!("ad_accounts/{account}"))).category(ADS_READ);
        let (body, bytes) = http
            .send_parsed(&request, |b: Bytes| {
                serde_json::from_slice::<&RawValue>(&b)
                    .map(|_| b.clone())
                    .map_err(|e| format!("not an ad account: {e}"))
            })
            .await
            .map_err(|e| connector_error(&settings.flow, e))?;
        send(ctx, page_of(&[body], bytes)).await?;
    } else {
        let mut lister = Lister::new(settings, http, account, level);
        while let Some((items, bytes)) = lister.next().await? {
            send(ctx, page_of(&items, bytes)).await?;
        }
    }
    send(
        ctx,
        Page {
            checkpoint: Some(serde_json::json!({})),
            completes_task: true,
            ..Page::default()
        },
    )
    .await
}
