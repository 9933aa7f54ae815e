//! Entity lists below an ad account: cursor paging (`pageSize`, `pageToken` →
//! `metadata.nextPageToken`), or one object. Each is a snapshot every run.

use std::collections::HashSet;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_core::{ConnectorError, Page, PullContext, Records};
use sluice_http::{HttpClient, Request};

use crate::config::{LinkedInSettings, ENTITIES};
use crate::errors::connector_error;
use crate::restli;
use crate::streams::EntityStream;

#[derive(Deserialize)]
struct Metadata {
    #[serde(default, rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ListPage<'a> {
    #[serde(borrow, default)]
    elements: Vec<&'a RawValue>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

struct Listed {
    items: Vec<Bytes>,
    next: Option<String>,
}

fn parse(body: Bytes) -> Result<Listed, String> {
    let page: ListPage<'_> =
        serde_json::from_slice(&body).map_err(|e| format!("not a list page: {e}"))?;
    Ok(Listed {
        items: page
            .elements
            .iter()
            .map(|r| Bytes::copy_from_slice(r.get().as_bytes()))
            .collect(),
        next: page
            .metadata
            .and_then(|m| m.next_page_token)
            .filter(|t| !t.is_empty()),
    })
}

fn page_of(items: &[Bytes], bytes: usize) -> Page {
    let mut lines = Vec::new();
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
    ctx.send(page).await
}

fn request(settings: &LinkedInSettings, stream: &EntityStream, url: url::Url) -> Request {
    let mut r = Request::get(url)
        .header("linkedin-version", &settings.version)
        .header("x-restli-protocol-version", "2.0.0")
        .category(ENTITIES);
    if let Some(m) = stream.method_header {
        r = r.header("x-restli-method", m);
    }
    r
}

/// Every item of an entity stream of one ad account (the task's slice, a URN).
pub async fn pull(
    settings: &LinkedInSettings,
    http: &HttpClient,
    stream: &EntityStream,
    ctx: &PullContext,
) -> Result<(), ConnectorError> {
    let account = LinkedInSettings::account_id(&ctx.task.slice);
    let path = stream.path.replace("{account}", account);
    let what = format!("{} of ad account {account}", stream.name);
    let fail = |e| connector_error(&settings.flow, &settings.version, e);
    if stream.single {
        let (body, bytes) = http
            .send_parsed(
                &request(settings, stream, settings.url(&path)),
                |b: Bytes| {
                    serde_json::from_slice::<&RawValue>(&b)
                        .map(|_| b.clone())
                        .map_err(|e| format!("not a JSON object: {e}"))
                },
            )
            .await
            .map_err(fail)?;
        send(ctx, page_of(&[body], bytes)).await?;
    } else {
        let mut token: Option<String> = None;
        let mut seen = HashSet::new();
        loop {
            let mut url = settings.url(&path);
            let mut query = format!("{}&pageSize={}", stream.finder, stream.page_size);
            if let Some(t) = &token {
                query.push_str(&format!("&pageToken={}", restli::atom(t)));
            }
            url.set_query(Some(&query));
            let (page, bytes) = http
                .send_parsed(&request(settings, stream, url), parse)
                .await
                .map_err(fail)?;
            send(ctx, page_of(&page.items, bytes)).await?;
            match page.next {
                None => break,
                Some(t) if !seen.insert(t.clone()) => {
                    return Err(ConnectorError::Protocol {
                        endpoint: what,
                        message: "the server handed back a page token it had already given: \
                                  following it would loop"
                            .into(),
                    })
                }
                Some(t) => token = Some(t),
            }
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
