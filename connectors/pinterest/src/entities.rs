//! Entity lists: `{"items": […], "bookmark": …}`, the next page asked for with the bookmark
//! until it is null. A list may be listed once per parent (the pins of each board); its items
//! then get the parent's ids, so child rows join their parents. Analytics need ids from the
//! same lists ([`collect`]).

use std::collections::HashSet;

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sluice_core::{ConnectorError, Page, PullContext, Records};
use sluice_http::{HttpClient, HttpError, Request};

use crate::config::PinterestSettings;
use crate::errors::{connector_error, ApiError};
use crate::streams::{EntityStream, Owner};

#[derive(Deserialize)]
struct ListPage<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
    #[serde(default)]
    bookmark: Option<String>,
}

/// One page: its items (raw JSON) and the bookmark of the next.
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

/// What one listing is for: the parent it is listed under (path variables, query, and the
/// columns its items get).
#[derive(Debug, Clone, Default)]
pub struct Binding {
    pub vars: Vec<(&'static str, String)>,
    pub query: Vec<(&'static str, String)>,
    pub columns: Vec<(&'static str, String)>,
}

/// One list to page through.
pub struct Listing {
    path: String,
    query: Vec<(&'static str, String)>,
    columns: Vec<(&'static str, String)>,
    category: &'static str,
    single: bool,
    dropped: &'static [&'static str],
    /// "pins of board 123 (ad account 549755885175)", for messages.
    pub what: String,
}

impl Listing {
    pub fn new(
        settings: &PinterestSettings,
        stream: &EntityStream,
        account: &str,
        binding: &Binding,
    ) -> Self {
        let mut path = stream.path.replace("{account}", account);
        for (var, value) in &binding.vars {
            path = path.replace(&format!("{{{var}}}"), value);
        }
        let mut query = binding.query.clone();
        let mut columns = binding.columns.clone();
        if stream.owner == Owner::AccountOwner {
            query.push(("ad_account_id", account.to_string()));
            columns.push(("ad_account_id", account.to_string()));
        }
        if stream.statuses {
            query.push(("entity_statuses", settings.entity_statuses.join(",")));
            query.push(("order", "ASCENDING".into()));
        }
        if stream.board_privacy {
            if let Some(p) = &settings.board_privacy {
                query.push(("privacy", p.clone()));
            }
        }
        let parents: Vec<String> = binding
            .columns
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let what = if parents.is_empty() {
            format!("{} of ad account {account}", stream.name)
        } else {
            format!(
                "{} of {} (ad account {account})",
                stream.name,
                parents.join(", ")
            )
        };
        Self {
            path,
            query,
            columns,
            category: stream.category,
            single: stream.single,
            dropped: stream.dropped,
            what,
        }
    }
}

/// Why a listing stopped early without failing the run.
pub enum ListError {
    /// 404: the parent was deleted after it was listed.
    Gone,
    /// 409 `code` 4182: the account has no catalog.
    NoCatalog,
    Failed(ConnectorError),
}

impl From<ConnectorError> for ListError {
    fn from(e: ConnectorError) -> Self {
        ListError::Failed(e)
    }
}

impl ListError {
    /// The failure as a run error: a 404 or 409 where the caller cannot take it.
    pub fn into_error(self, what: &str) -> ConnectorError {
        match self {
            ListError::Failed(e) => e,
            ListError::Gone => ConnectorError::Protocol {
                endpoint: what.to_string(),
                message: "404: not found (check the ad account id and the user's access)".into(),
            },
            ListError::NoCatalog => ConnectorError::Protocol {
                endpoint: what.to_string(),
                message: "409: the account has no catalog".into(),
            },
        }
    }
}

fn list_error(settings: &PinterestSettings, e: HttpError) -> ListError {
    if let HttpError::Status { status, body, .. } = &e {
        match *status {
            404 => return ListError::Gone,
            409 if ApiError::parse(body.as_bytes()).code == Some(4182) => {
                return ListError::NoCatalog
            }
            _ => {}
        }
    }
    ListError::Failed(connector_error(&settings.flow, e))
}

/// The pages of one listing, one at a time.
struct Lister<'a> {
    settings: &'a PinterestSettings,
    http: &'a HttpClient,
    listing: &'a Listing,
    bookmark: Option<String>,
    /// Bookmarks followed: one handed back again would loop.
    seen: HashSet<String>,
    done: bool,
}

impl<'a> Lister<'a> {
    fn new(settings: &'a PinterestSettings, http: &'a HttpClient, listing: &'a Listing) -> Self {
        Self {
            settings,
            http,
            listing,
            bookmark: None,
            seen: HashSet::new(),
            done: false,
        }
    }

    async fn next(&mut self) -> Result<Option<(Vec<Bytes>, usize)>, ListError> {
        if self.done {
            return Ok(None);
        }
        let mut url = self.settings.url(&self.listing.path);
        if self.listing.single {
            self.done = true;
            let request = Request::get(url).category(self.listing.category);
            let (body, bytes) = self
                .http
                .send_parsed(&request, |b: Bytes| {
                    serde_json::from_slice::<&RawValue>(&b)
                        .map(|_| b.clone())
                        .map_err(|e| format!("not a JSON object: {e}"))
                })
                .await
                .map_err(|e| list_error(self.settings, e))?;
            return Ok(Some((vec![body], bytes)));
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("page_size", &self.settings.page_size.to_string());
            for (k, v) in &self.listing.query {
                q.append_pair(k, v);
            }
            if let Some(b) = &self.bookmark {
                q.append_pair("bookmark", b);
            }
        }
        let request = Request::get(url).category(self.listing.category);
        let (page, bytes) = self
            .http
            .send_parsed(&request, parse_list)
            .await
            .map_err(|e| list_error(self.settings, e))?;
        match page.bookmark {
            None => self.done = true,
            Some(b) => {
                if !self.seen.insert(b.clone()) {
                    return Err(ListError::Failed(ConnectorError::Protocol {
                        endpoint: self.listing.what.clone(),
                        message: "the server handed back a bookmark it had already given: \
                                  following it would loop"
                            .into(),
                    }));
                }
                self.bookmark = Some(b);
            }
        }
        Ok(Some((page.items, bytes)))
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The given fields of every item of a listing (as text; a missing field is empty), for ids.
pub async fn collect(
    settings: &PinterestSettings,
    http: &HttpClient,
    listing: &Listing,
    fields: &[&str],
) -> Result<Vec<Vec<String>>, ListError> {
    let mut out = Vec::new();
    let mut lister = Lister::new(settings, http, listing);
    while let Some((items, _)) = lister.next().await? {
        for item in items {
            let item: Map<String, Value> =
                serde_json::from_slice(&item).map_err(|e| ConnectorError::Protocol {
                    endpoint: listing.what.clone(),
                    message: format!("an item that is not an object: {e}"),
                })?;
            out.push(
                fields
                    .iter()
                    .map(|f| {
                        item.get(*f)
                            .and_then(text)
                            .or_else(|| {
                                // the parent's ids, as the rows get them
                                listing
                                    .columns
                                    .iter()
                                    .find(|(k, _)| k == f)
                                    .map(|(_, v)| v.clone())
                            })
                            .unwrap_or_default()
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// When an item last changed, in Unix seconds: a number, or ISO-8601 text (UTC without a zone).
fn changed_at(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp())
            .ok()
            .or_else(|| {
                ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                    .iter()
                    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                    .map(|t| t.and_utc().timestamp())
            }),
        _ => None,
    }
}

/// The position of `entities = "changed"`: items changed after this second were not written.
#[derive(Debug, Default, serde::Serialize, Deserialize)]
struct Changed {
    changed_after: Option<i64>,
}

/// Items of one page as JSON lines: the listing's columns added where an item lacks them,
/// dropped fields removed, and (changed mode) items not changed since the mark left out.
struct PageBuilder<'a> {
    listing: &'a Listing,
    cursor: Option<&'a str>,
    mark: Option<i64>,
    newest: Option<i64>,
}

impl PageBuilder<'_> {
    fn page(&mut self, items: &[Bytes], bytes: usize) -> Page {
        let mut lines = Vec::new();
        let mut count = 0;
        let mut skipped = 0;
        let mut rejected = Vec::new();
        for raw in items {
            let mut item: Map<String, Value> = match serde_json::from_slice(raw) {
                Ok(i) => i,
                Err(e) => {
                    rejected.push(sluice_core::RejectedRecord {
                        record: raw.to_vec(),
                        reason: format!(
                            "{}: an item that is not an object: {e}",
                            self.listing.what
                        ),
                    });
                    continue;
                }
            };
            if let Some(cursor) = self.cursor {
                let at = item.get(cursor).and_then(changed_at);
                if let Some(at) = at {
                    self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
                }
                if let (Some(mark), Some(at)) = (self.mark, at) {
                    if at <= mark {
                        skipped += 1;
                        continue;
                    }
                }
            }
            for f in self.listing.dropped {
                item.remove(*f);
            }
            for (k, v) in &self.listing.columns {
                item.entry(k.to_string())
                    .or_insert_with(|| Value::String(v.clone()));
            }
            if serde_json::to_writer(&mut lines, &item).is_ok() {
                lines.push(b'\n');
                count += 1;
            }
        }
        Page {
            record_count: count,
            records: Records::Lines(lines),
            input_bytes: bytes as u64,
            skipped,
            rejected,
            ..Page::default()
        }
    }
}

async fn send(ctx: &PullContext, page: Page) -> Result<(), ConnectorError> {
    ctx.send(page).await
}

/// An entity stream of one ad account: its list under every parent. A parent deleted between
/// its listing and its children's (a 404) is skipped with a note; an account without a
/// catalog (409, `code` 4182) has empty catalog streams, with a note. The snapshot, or the
/// changes, are committed with the last page.
pub async fn pull(
    settings: &PinterestSettings,
    http: &HttpClient,
    stream: &EntityStream,
    parents: Vec<Binding>,
    mut notes: Vec<String>,
    ctx: &PullContext,
) -> Result<(), ConnectorError> {
    let account = ctx.task.slice.as_str();
    let changed_only = settings.changed_only && stream.cursor.is_some();
    let mark = if changed_only {
        ctx.checkpoint
            .as_ref()
            .and_then(|v| serde_json::from_value::<Changed>(v.clone()).ok())
            .and_then(|c| c.changed_after)
    } else {
        None
    };
    let mut newest = None;
    for binding in &parents {
        let listing = Listing::new(settings, stream, account, binding);
        let mut builder = PageBuilder {
            listing: &listing,
            cursor: if changed_only { stream.cursor } else { None },
            mark,
            newest,
        };
        let mut lister = Lister::new(settings, http, &listing);
        loop {
            match lister.next().await {
                Ok(Some((items, bytes))) => send(ctx, builder.page(&items, bytes)).await?,
                Ok(None) => break,
                Err(ListError::Gone) if stream.parent.is_object() => {
                    let note = format!(
                        "{}: not found (deleted after it was listed): skipped",
                        listing.what
                    );
                    tracing::warn!("{note}");
                    notes.push(note);
                    break;
                }
                Err(ListError::NoCatalog) if stream.needs_catalog => {
                    notes.push(format!(
                        "ad account {account} has no catalog (Pinterest's 409, code 4182): \
                         `{}` is empty",
                        stream.name
                    ));
                    break;
                }
                Err(e) => return Err(e.into_error(&listing.what)),
            }
        }
        newest = builder.newest;
    }
    let checkpoint = if changed_only {
        // an item changed during this run may have been listed before it changed: the mark
        // stays below the run's start, so the next run takes it again
        let started = ctx.run_started.timestamp() - 1;
        let after = match (newest, mark) {
            (Some(n), _) => Some(n.min(started)),
            (None, m) => m,
        };
        serde_json::to_value(Changed {
            changed_after: after.max(mark),
        })
        .unwrap_or_default()
    } else {
        serde_json::json!({})
    };
    send(
        ctx,
        Page {
            checkpoint: Some(checkpoint),
            completes_task: true,
            notes,
            ..Page::default()
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_times_read_as_numbers_or_iso_text() {
        assert_eq!(
            changed_at(&serde_json::json!(1_700_000_000)),
            Some(1_700_000_000)
        );
        assert_eq!(
            changed_at(&serde_json::json!("2024-05-01T10:20:30")),
            Some(1_714_558_830)
        );
        assert_eq!(
            changed_at(&serde_json::json!("2024-05-01T12:20:30+02:00")),
            Some(1_714_558_830)
        );
        assert_eq!(changed_at(&serde_json::json!("soon")), None);
    }

    fn listing() -> Listing {
        Listing {
            path: "catalogs/feeds".into(),
            query: Vec::new(),
            columns: vec![("ad_account_id", "549755885175".into())],
            category: "catalogs_read",
            single: false,
            dropped: &["credentials"],
            what: "feed of ad account 549755885175".into(),
        }
    }

    fn lines(page: &Page) -> Vec<Value> {
        match &page.records {
            Records::Lines(l) => l
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).expect("json"))
                .collect(),
            _ => panic!("lines"),
        }
    }

    #[test]
    fn items_get_their_columns_lose_secrets_and_bad_ones_are_rejected_with_the_list_named() {
        let l = listing();
        let mut b = PageBuilder {
            listing: &l,
            cursor: None,
            mark: None,
            newest: None,
        };
        let items = [
            Bytes::from_static(br#"{"id":"1","credentials":{"password":"hunter2"}}"#),
            Bytes::from_static(br#"{"id":"2","ad_account_id":"7"}"#),
            Bytes::from_static(b"[1,2]"),
        ];
        let page = b.page(&items, 100);
        let rows = lines(&page);
        assert_eq!(page.record_count, 2);
        assert_eq!(rows[0]["ad_account_id"], "549755885175");
        assert!(rows[0].get("credentials").is_none());
        assert!(!String::from_utf8_lossy(match &page.records {
            Records::Lines(l) => l,
            _ => &[][..],
        })
        .contains("hunter2"));
        // the item's own value wins
        assert_eq!(rows[1]["ad_account_id"], "7");
        assert_eq!(page.rejected.len(), 1);
        assert!(page.rejected[0].reason.contains("feed of ad account"));
    }

    #[test]
    fn changed_mode_skips_items_not_newer_than_the_mark_and_tracks_the_newest() {
        let l = listing();
        let mut b = PageBuilder {
            listing: &l,
            cursor: Some("updated_at"),
            mark: Some(1_700_000_000),
            newest: None,
        };
        let items = [
            Bytes::from_static(br#"{"id":"1","updated_at":1700000000}"#),
            Bytes::from_static(br#"{"id":"2","updated_at":"2024-05-01T10:20:30"}"#),
            Bytes::from_static(br#"{"id":"3"}"#),
        ];
        let page = b.page(&items, 10);
        let ids: Vec<Value> = lines(&page).iter().map(|r| r["id"].clone()).collect();
        // 1 is at the mark: written before; 3 says nothing: kept
        assert_eq!(ids, [Value::from("2"), Value::from("3")]);
        assert_eq!(page.skipped, 1);
        assert_eq!(b.newest, Some(1_714_558_830));
    }
}
