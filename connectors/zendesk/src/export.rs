//! One incremental export of one object type.
//!
//! - The query is `updated>{mark − overlap − 1s}`: the overlap re-reads records the search
//!   index saw late; records already written (same id and `updated_at`, kept in the state as
//!   `recent`) are dropped, so nothing is written twice and nothing updated in the mark's own
//!   second is lost.
//! - Results come ordered by `created_at` (then id), not by `updated_at`, so the new mark is the
//!   largest `updated_at` of the whole export and is committed only with the export's last page.
//! - Every page's checkpoint records the export's position (the last `created_at` seen and the
//!   ids seen at that second). An expired cursor, or a crash, restarts the query from that
//!   position (`created>…` or `created<…`, whichever way the server sorts) and skips what was
//!   already emitted, so the output holds every record once.

use std::collections::HashSet;
use std::ops::Range;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sluice_core::{json, ConnectorError, Framed, Page, PullContext, Records};
use sluice_http::{HttpClient, HttpError, Request};

use crate::config::SEARCH_EXPORT;

use crate::config::ZendeskSettings;

/// The committed state of one stream.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct StreamState {
    /// Largest `updated_at` (epoch seconds) of the last complete export.
    pub mark: Option<i64>,
    /// (id, updated_at) of records written with `updated_at` within the overlap of the mark.
    pub recent: Vec<(u64, i64)>,
    /// An export in progress, to resume after a crash.
    pub export: Option<Progress>,
    /// When the last complete incremental export started (epoch seconds): it holds every record
    /// updated before then, less the overlap the index may lag by.
    #[serde(default)]
    pub through: Option<i64>,
}

/// Where an export stands.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    /// Lower bound of the export's `updated` filter (epoch seconds, inclusive).
    pub since: i64,
    /// Upper bound (exclusive) for a backfill window; none for an incremental export.
    #[serde(default)]
    pub until: Option<i64>,
    pub first_created: Option<i64>,
    pub last_created: Option<i64>,
    /// Ids already emitted whose `created_at` is `last_created`.
    pub tie_ids: Vec<u64>,
    pub max_updated: Option<i64>,
    /// (id, updated_at) emitted by this export within the overlap of `max_updated`.
    pub recent: Vec<(u64, i64)>,
    /// True once the export was restarted: its query starts at the position.
    pub restarted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ascending,
    Descending,
    Unknown,
}

impl Progress {
    fn direction(&self) -> Direction {
        match (self.first_created, self.last_created) {
            (Some(a), Some(b)) if a < b => Direction::Ascending,
            (Some(a), Some(b)) if a > b => Direction::Descending,
            _ => Direction::Unknown,
        }
    }

    /// Whether a record is on the emitted side of the position: the export is ordered by
    /// `created_at`, so such a record was sent before (after a restart, or by a server that
    /// sends records again).
    fn already_emitted(&self, created: i64, id: u64) -> bool {
        let Some(last) = self.last_created else {
            return false;
        };
        let tie = created == last && self.tie_ids.contains(&id);
        match self.direction() {
            Direction::Ascending => created < last || tie,
            Direction::Descending => created > last || tie,
            Direction::Unknown => tie,
        }
    }

    fn observe(&mut self, created: i64, id: u64, updated: i64, overlap: i64) {
        self.first_created.get_or_insert(created);
        // the position only moves forward: a record out of order leaves it where it is
        let behind = match (self.direction(), self.last_created) {
            (Direction::Ascending, Some(last)) => created < last,
            (Direction::Descending, Some(last)) => created > last,
            _ => false,
        };
        if self.last_created == Some(created) {
            self.tie_ids.push(id);
        } else if !behind {
            self.last_created = Some(created);
            self.tie_ids = vec![id];
        }
        let max = self.max_updated.map_or(updated, |m| m.max(updated));
        self.max_updated = Some(max);
        if updated >= max - overlap {
            self.recent.push((id, updated));
        }
        // prune lazily so the list stays proportional to the overlap window
        if self.recent.len() > 4096 && self.recent.len().is_power_of_two() {
            self.recent.retain(|(_, u)| *u >= max - overlap);
        }
    }

    /// The search query that continues this export.
    fn query(&self) -> String {
        let mut q = format!("updated>{}", iso(self.since - 1));
        if let Some(until) = self.until {
            q.push_str(&format!(" updated<{}", iso(until)));
        }
        if self.restarted {
            if let Some(last) = self.last_created {
                match self.direction() {
                    Direction::Ascending => q.push_str(&format!(" created>{}", iso(last - 1))),
                    Direction::Descending => q.push_str(&format!(" created<{}", iso(last + 1))),
                    Direction::Unknown => {}
                }
            }
        }
        q
    }
}

fn iso(ts: i64) -> String {
    Utc.timestamp_opt(ts, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn parse_time(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp())
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    after_cursor: Option<String>,
}

#[derive(Deserialize, Default)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

/// id, `created_at` and `updated_at` of one result from its raw top-level values. A record
/// whose keys do not read (a malformed id, say) is the mapper's to reject, not a broken page:
/// `None`.
fn record_keys([id, created, updated]: [Option<&[u8]>; 3]) -> Option<RecordKeys> {
    let id = std::str::from_utf8(id?).ok()?.parse::<u64>().ok()?;
    let time = |v: Option<&[u8]>| {
        let v = v?;
        let text = std::str::from_utf8(v.strip_prefix(b"\"")?.strip_suffix(b"\"")?).ok()?;
        parse_time(text)
    };
    Some((id, time(created)?, time(updated)?))
}

/// id, `created_at` and `updated_at` (epoch seconds) of one result.
type RecordKeys = (u64, i64, i64);

/// A page, read in one pass: where each result is in the body (the body is kept; results are
/// never copied) and the keys the export tracks. Results are delimited, not fully parsed: the
/// mapper reads each once, for its columns, and rejects one it cannot read.
struct ParsedPage {
    body: Bytes,
    /// Each result's bytes in `body`, and its keys when the result carries them.
    results: Vec<(Range<usize>, Option<RecordKeys>)>,
    /// `meta` and `links`, which the explore shape repeats in every record.
    shared: Vec<(String, Range<usize>)>,
    has_more: bool,
    next_cursor: Option<String>,
}

fn parse_page(body: Bytes) -> Result<ParsedPage, String> {
    let buf = &body[..];
    let mut results = Vec::new();
    let mut saw_results = false;
    let mut meta = None;
    let mut links = None;
    let end = json::object_members(buf, 0, |key, start| {
        let raw = |slot: &mut Option<Range<usize>>| {
            let end = json::value_end(buf, start)?;
            *slot = Some(start..end);
            Ok(end)
        };
        match key {
            // a second `results` would send its items twice
            b"results" if saw_results => Err(start),
            b"results" => {
                saw_results = true;
                json::array_items(buf, start, |at| {
                    if buf.get(at) == Some(&b'{') {
                        let (fields, end) =
                            json::top_level_fields(buf, at, [b"id", b"created_at", b"updated_at"])?;
                        results.push((at..end, record_keys(fields)));
                        Ok(end)
                    } else {
                        let end = json::value_end(buf, at)?;
                        results.push((at..end, None));
                        Ok(end)
                    }
                })
            }
            b"meta" => raw(&mut meta),
            b"links" => raw(&mut links),
            _ => json::value_end(buf, start),
        }
    })
    .map_err(|at| format!("malformed export page at byte {at} of {}", buf.len()))?;
    if json::skip_ws(buf, end) != buf.len() {
        return Err(format!(
            "malformed export page: trailing characters at byte {end} of {}",
            buf.len()
        ));
    }
    if !saw_results {
        return Err("malformed export page: no `results` array".into());
    }
    let read = |range: &Option<Range<usize>>| range.clone().map_or(&b"null"[..], |r| &buf[r]);
    let meta_fields: Meta = serde_json::from_slice::<Option<Meta>>(read(&meta))
        .map_err(|e| format!("malformed `meta`: {e}"))?
        .unwrap_or_default();
    let links_fields: Links = serde_json::from_slice::<Option<Links>>(read(&links))
        .map_err(|e| format!("malformed `links`: {e}"))?
        .unwrap_or_default();
    let next_cursor = meta_fields
        .after_cursor
        .filter(|c| !c.is_empty())
        .or_else(|| {
            links_fields.next.as_deref().and_then(|n| {
                url::Url::parse(n).ok().and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == "page[after]")
                        .map(|(_, v)| v.into_owned())
                })
            })
        });
    let shared = [("meta", meta), ("links", links)]
        .into_iter()
        .filter_map(|(k, r)| Some((k.to_string(), r?)))
        .collect();
    Ok(ParsedPage {
        body,
        results,
        shared,
        has_more: meta_fields.has_more,
        next_cursor,
    })
}

/// The loose match the issue asks for: the wording of an expired cursor is undocumented.
fn is_expired_cursor(e: &HttpError) -> bool {
    matches!(e.status(), Some(400 | 404 | 410 | 422))
        && e.body().is_some_and(|b| {
            let b = b.to_ascii_lowercase();
            b.contains("expire") && (b.contains("cursor") || b.contains("pagination"))
        })
}

fn connector_error(settings: &ZendeskSettings, e: HttpError) -> ConnectorError {
    e.into_connector_error(
        &format!("zendesk connection of flow `{}`", settings.flow),
        "Check `email` and the token the flow's environment reference points at",
    )
}

/// The days an incremental export selects records by (updated since its lower bound, up to
/// the run): what a backfill pulls to restore its files.
fn covers(ctx: &PullContext, progress: &Progress) -> Option<sluice_core::DayWindow> {
    if ctx.task.window.is_some() {
        return None;
    }
    let from = DateTime::<Utc>::from_timestamp(progress.since, 0)?.date_naive();
    Some(sluice_core::DayWindow {
        from,
        to: ctx.run_started.date_naive().max(from),
    })
}

/// Pages in a row that bring nothing new before an export is taken for a loop. A sound server
/// never sends one (an export is ordered by `created_at`); a few allow for empty pages.
const MAX_PAGES_WITHOUT_NEWS: u32 = 5;

fn hash_of(value: &impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(value)
}

/// Consecutive restarts without a single page in between before the export gives up.
const MAX_RESTARTS_WITHOUT_PROGRESS: u32 = 3;

pub async fn run(
    settings: &ZendeskSettings,
    http: &HttpClient,
    filter_type: &str,
    ctx: PullContext,
) -> Result<(), ConnectorError> {
    let state: StreamState = match &ctx.checkpoint {
        None => StreamState::default(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            ConnectorError::Config(format!(
                "the stored state of stream `{}` is unreadable ({e}); reset it with \
                 `sluice state reset`",
                ctx.task.stream
            ))
        })?,
    };
    let overlap = settings.overlap.as_secs() as i64;
    let written: HashSet<(u64, i64)> = state.recent.iter().copied().collect();
    let mut progress = match state.export.clone() {
        Some(mut p) => {
            tracing::info!(stream = %ctx.task.stream, "resuming an interrupted export");
            p.restarted = true;
            p
        }
        None => match ctx.task.window {
            // a backfill window: records updated on its days, whatever the incremental mark
            Some(w) => Progress {
                since: w
                    .from
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc()
                    .timestamp(),
                until: Some(
                    (w.to + chrono::Days::new(1))
                        .and_time(chrono::NaiveTime::MIN)
                        .and_utc()
                        .timestamp(),
                ),
                ..Progress::default()
            },
            None => Progress {
                since: state
                    .mark
                    .map_or(settings.start.timestamp(), |m| m - overlap),
                ..Progress::default()
            },
        },
    };
    let mut failed_restarts = 0;
    // every record version (id, updated_at) this export sent, as a 64-bit hash (8 bytes and a
    // control byte each): a record the server sends again is dropped whatever the order it
    // comes in, so nothing is written twice and a record out of order is never lost
    let mut sent: HashSet<u64> = HashSet::new();
    // a server that hands back a cursor it gave before (in one query), or pages with nothing
    // this export had not sent (across restarts too), would be paged forever: both stop it
    let mut pages_without_news = 0u32;
    'export: loop {
        let query = progress.query();
        let mut cursor: Option<String> = None;
        let mut followed: HashSet<u64> = HashSet::new();
        loop {
            let mut url = settings.base_url.clone();
            url.set_path("/api/v2/search/export.json");
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("query", &query)
                    .append_pair("filter[type]", filter_type)
                    .append_pair("page[size]", &settings.page_size.to_string());
                if let Some(c) = &cursor {
                    q.append_pair("page[after]", c);
                }
            }
            let request = Request::get(url).category(SEARCH_EXPORT);
            let (page, bytes) = match http.send_parsed(&request, parse_page).await {
                Ok(ok) => ok,
                Err(e) if cursor.is_some() && is_expired_cursor(&e) => {
                    failed_restarts += 1;
                    if failed_restarts > MAX_RESTARTS_WITHOUT_PROGRESS
                        || pages_without_news >= MAX_PAGES_WITHOUT_NEWS
                    {
                        return Err(ConnectorError::Api {
                            status: e.status(),
                            message: format!("the export cursor keeps expiring: {e}"),
                        });
                    }
                    tracing::warn!(stream = %ctx.task.stream, "export cursor expired; restarting from the last position");
                    progress.restarted = true;
                    continue 'export;
                }
                Err(e) => return Err(connector_error(settings, e)),
            };
            let mut items = Vec::with_capacity(page.results.len());
            let (mut news, mut resent, mut skipped) = (0u64, 0u64, 0u64);
            let mut repeats = 0u64;
            for (range, keys) in &page.results {
                if let Some((id, created, updated)) = *keys {
                    // after a restart (or a crash) the position says what was sent before
                    if progress.restarted && progress.already_emitted(created, id) {
                        resent += 1;
                        continue;
                    }
                    if !sent.insert(hash_of(&(id, updated))) {
                        resent += 1;
                        repeats += 1;
                        continue;
                    }
                    news += 1;
                    progress.observe(created, id, updated, overlap);
                    if written.contains(&(id, updated)) {
                        skipped += 1;
                        continue;
                    }
                } else {
                    tracing::warn!(stream = %ctx.task.stream, "a result without id, created_at or updated_at; written as is");
                }
                items.push(range.clone());
            }
            if repeats > 0 {
                tracing::warn!(stream = %ctx.task.stream, records = repeats, "the server sent records of this export again; they are skipped");
            }
            let done = !page.has_more;
            let next_state = if done {
                let mark = match (state.mark, progress.max_updated) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                let floor = mark.map_or(i64::MIN, |m| m - overlap);
                let mut recent: Vec<(u64, i64)> = state
                    .recent
                    .iter()
                    .chain(&progress.recent)
                    .filter(|(_, u)| *u >= floor)
                    .copied()
                    .collect();
                recent.sort_unstable();
                recent.dedup();
                StreamState {
                    mark,
                    recent,
                    export: None,
                    through: match ctx.task.window {
                        None => Some(ctx.run_started.timestamp() - overlap),
                        Some(_) => state.through,
                    },
                }
            } else {
                StreamState {
                    export: Some(progress.clone()),
                    ..state.clone()
                }
            };
            if news > 0 {
                failed_restarts = 0;
            }
            if news == 0 && !done {
                pages_without_news += 1;
                if pages_without_news >= MAX_PAGES_WITHOUT_NEWS {
                    return Err(ConnectorError::Protocol {
                        endpoint: "search/export".into(),
                        message: format!(
                            "{MAX_PAGES_WITHOUT_NEWS} pages in a row brought no record this \
                             export had not sent already, yet the server says there are more: \
                             it is looping. Stopped before writing anything twice; what came \
                             before is committed and the next run resumes from there"
                        ),
                    });
                }
            } else {
                pages_without_news = 0;
            }
            let checkpoint = serde_json::to_value(&next_state)
                .map_err(|e| ConnectorError::Config(format!("cannot encode state: {e}")))?;
            ctx.send(Page {
                skipped: skipped + resent,
                covers: covers(&ctx, &progress),
                record_count: items.len(),
                records: Records::Framed(Framed {
                    body: page.body.clone(),
                    items,
                    shared: page.shared.clone(),
                    key: "results".into(),
                }),
                input_bytes: bytes as u64,
                partition: None,
                checkpoint: Some(checkpoint),
                completes_task: done,
                ..Page::default()
            })
            .await?;
            if done {
                return Ok(());
            }
            match page.next_cursor {
                Some(c) => {
                    if !followed.insert(hash_of(&c.as_str())) {
                        return Err(ConnectorError::Protocol {
                            endpoint: "search/export".into(),
                            message: "the server handed back a cursor it had already given \
                                      (the export does not advance): following it would loop. \
                                      Stopped; what came before is committed"
                                .into(),
                        });
                    }
                    cursor = Some(c)
                }
                None => {
                    return Err(ConnectorError::Protocol {
                        endpoint: "search/export".into(),
                        message: "`meta.has_more` is true but neither `meta.after_cursor` nor \
                                  `links.next` carries a cursor"
                            .into(),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ascending_export_skips_what_it_emitted_and_restarts_after_it() {
        let mut p = Progress::default();
        p.observe(100, 1, 500, 300);
        p.observe(200, 2, 500, 300);
        p.observe(200, 3, 500, 300);
        assert_eq!(p.direction(), Direction::Ascending);
        assert!(
            !p.query().contains("created"),
            "the query moves only at a restart"
        );
        p.restarted = true;
        assert!(p.already_emitted(150, 9));
        assert!(p.already_emitted(200, 3));
        assert!(!p.already_emitted(200, 4));
        assert!(!p.already_emitted(201, 5));
        assert!(
            p.query().ends_with("created>1970-01-01T00:03:19Z"),
            "{}",
            p.query()
        );
    }

    #[test]
    fn a_restarted_descending_export_bounds_the_other_way() {
        let mut p = Progress {
            restarted: true,
            ..Progress::default()
        };
        p.observe(300, 1, 0, 0);
        p.observe(200, 2, 0, 0);
        assert_eq!(p.direction(), Direction::Descending);
        assert!(p.already_emitted(250, 7));
        assert!(!p.already_emitted(199, 7));
        assert!(
            p.query().contains("created<1970-01-01T00:03:21Z"),
            "{}",
            p.query()
        );
    }

    #[test]
    fn a_window_bounds_the_query_on_both_sides() {
        let p = Progress {
            since: 1_704_067_200,
            until: Some(1_704_672_000),
            ..Progress::default()
        };
        assert_eq!(
            p.query(),
            "updated>2023-12-31T23:59:59Z updated<2024-01-08T00:00:00Z"
        );
    }

    #[test]
    fn records_keep_the_explore_shape() {
        let body = r#"{"results":[{"id":1,"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-02T00:00:00Z","name":"Zoë"}],
            "facets":null,"meta":{"has_more":true,"after_cursor":"abc","before_cursor":null},"links":{"prev":null,"next":null}}"#;
        let page = parse_page(Bytes::from_static(body.as_bytes())).expect("parses");
        assert!(page.has_more);
        assert_eq!(page.next_cursor.as_deref(), Some("abc"));
        assert_eq!(page.results[0].1, Some((1, 1_704_067_200, 1_704_153_600)));
        let framed = Framed {
            body: page.body.clone(),
            items: page.results.iter().map(|(r, _)| r.clone()).collect(),
            shared: page.shared.clone(),
            key: "results".into(),
        };
        let v: serde_json::Value = serde_json::from_slice(&framed.line(0)).expect("json line");
        assert_eq!(v["results"]["name"], "Zoë");
        assert_eq!(v["meta"]["after_cursor"], "abc");
        assert_eq!(v["links"]["next"], serde_json::Value::Null);
        assert_eq!(
            v.as_object().map(|o| o.len()),
            Some(3),
            "facets is not part of a record"
        );
    }

    #[test]
    fn a_cut_page_is_an_error_not_an_empty_page() {
        for cut in [
            &br#"{"results":[{"id":1},"#[..],
            br#"{"results":[{"id":1}]"#,
            br#"{"results":[{"id":1,"name":"ab"#,
            br#"{"meta":{"has_more":false}}"#,
            br#"{"results":[]} x"#,
            br#"{"results":[{"id":1}],"results":[{"id":1}]}"#,
        ] {
            assert!(
                parse_page(Bytes::from_static(cut)).is_err(),
                "{}",
                String::from_utf8_lossy(cut)
            );
        }
    }

    #[test]
    fn a_pretty_printed_page_in_any_key_order_reads_the_same() {
        let page = serde_json::json!({
            "links": {"prev": null, "next": null},
            "meta": {"has_more": false, "after_cursor": null, "before_cursor": null},
            "facets": null,
            "results": [
                {"name": "a", "updated_at": "2024-01-02T00:00:00Z", "id": 7, "created_at": "2024-01-01T00:00:00Z"},
                {"id": 8, "created_at": "2024-01-01T00:00:01Z", "updated_at": "2024-01-02T00:00:00Z", "tags": ["x", "}"]}
            ]
        });
        let body = serde_json::to_vec_pretty(&page).expect("pretty");
        let parsed = parse_page(Bytes::from(body.clone())).expect("parses");
        assert!(!parsed.has_more);
        let keys: Vec<_> = parsed.results.iter().map(|(_, k)| *k).collect();
        assert_eq!(
            keys,
            [
                Some((7, 1_704_067_200, 1_704_153_600)),
                Some((8, 1_704_067_201, 1_704_153_600))
            ]
        );
        let second: serde_json::Value =
            serde_json::from_slice(&body[parsed.results[1].0.clone()]).expect("item");
        assert_eq!(second, page["results"][1]);
        let shared: Vec<&str> = parsed.shared.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            shared,
            ["meta", "links"],
            "the record shape's order, not the page's"
        );
    }

    #[test]
    fn a_result_without_keys_is_kept_for_the_mapper_to_judge() {
        let body = br#"{"results":[{"id":"x1","created_at":"2024-01-01T00:00:00Z"}, 7, {"id":2,"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"}],"meta":{"has_more":false}}"#;
        let page = parse_page(Bytes::from_static(body)).expect("parses");
        let keys: Vec<_> = page.results.iter().map(|(_, k)| *k).collect();
        assert_eq!(keys, [None, None, Some((2, 1_704_067_200, 1_704_067_200))]);
        assert_eq!(&body[page.results[1].0.clone()], b"7");
    }

    #[test]
    fn the_cursor_falls_back_to_links_next() {
        let body = br#"{"results":[],"meta":{"has_more":true},"links":{"next":"https://x.zendesk.com/api/v2/search/export.json?filter%5Btype%5D=user&page%5Bafter%5D=xyz%3D"}}"#;
        assert_eq!(
            parse_page(Bytes::from_static(body))
                .expect("parses")
                .next_cursor
                .as_deref(),
            Some("xyz=")
        );
    }

    #[test]
    fn a_broken_page_is_an_error_or_well_delimited_never_a_panic() {
        let page = br#"{"results":[{"id":1,"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-02T00:00:00Z","name":"Zo\u00eb \"Q\"","tags":["a","]"],"o":{"x":[1,{"y":null}]}},{"id":2,"created_at":"2024-01-01T00:00:01Z","updated_at":"2024-01-02T00:00:00Z"}],"facets":null,"meta":{"has_more":true,"after_cursor":"abc"},"links":{"next":null}}"#;
        let alphabet = b"{}[]\":,\\0123456789 tnfrue\xff";
        let mut rng = fastrand::Rng::with_seed(5);
        let mut broken = 0;
        for _ in 0..20_000 {
            let mut body = page.to_vec();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(0..body.len());
                match rng.u8(0..3) {
                    0 => body[i] = alphabet[rng.usize(0..alphabet.len())],
                    1 => drop(body.remove(i)),
                    _ => body.truncate(i),
                }
                if body.is_empty() {
                    break;
                }
            }
            match parse_page(Bytes::from(body.clone())) {
                Err(_) => broken += 1,
                Ok(p) => {
                    // items are in order, inside the body, and do not overlap
                    let mut at = 0;
                    for (r, _) in &p.results {
                        assert!(at <= r.start && r.start < r.end && r.end <= body.len());
                        at = r.end;
                    }
                    for (_, r) in &p.shared {
                        assert!(r.start < r.end && r.end <= body.len());
                    }
                }
            }
        }
        assert!(
            broken > 5_000,
            "mutations should break many pages: {broken}"
        );
    }
}
