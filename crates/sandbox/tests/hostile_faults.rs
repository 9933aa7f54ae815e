//! The faults that model a hostile or broken server (`repeat-cursor`, `replay`, `huge-value`,
//! `echo-auth`, `bad-lines`, `huge-line`), requested over real HTTP from a sandbox on port 0.

use std::collections::HashSet;
use std::net::SocketAddr;

use base64::Engine;
use serde_json::Value;
use sluice_sandbox::{credentials, MixpanelConfig, QuotaSpec, Sandbox, SandboxConfig};

const MIB: usize = 1024 * 1024;
const EXPORT: &str = "/api/v2/search/export.json?query=updated%3E%3D2000-01-01&filter%5Btype%5D=user&page%5Bsize%5D=10";
const MIXPANEL: &str = "/api/2.0/export?from_date=2024-05-01&to_date=2024-05-02&project_id=2526451";
/// 2024-05-01T00:00:00Z and 2024-05-03T00:00:00Z: the Mixpanel range above.
const RANGE: std::ops::Range<i64> = 1_714_521_600..1_714_694_400;

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn lines(&self) -> Vec<&[u8]> {
        self.body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// One request to the sandbox, body read to the end.
async fn request(addr: SocketAddr, method: &str, target: &str, auth: &str, body: &str) -> Reply {
    let url = format!("http://{addr}{target}");
    let client = reqwest::Client::new();
    let mut req = match method {
        "POST" => client.post(&url).body(body.to_string()),
        _ => client.get(&url),
    };
    if !auth.is_empty() {
        req = req.header("authorization", auth);
    }
    let response = req.send().await.expect("a response");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("a body").to_vec();
    Reply { status, body }
}

fn basic(text: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

fn zendesk_auth() -> String {
    basic(&format!(
        "{}/token:{}",
        credentials::ZENDESK_EMAIL,
        credentials::ZENDESK_API_TOKEN
    ))
}

fn mixpanel_auth() -> String {
    basic(&format!(
        "{}:{}",
        credentials::MIXPANEL_USERNAME,
        credentials::MIXPANEL_SECRET
    ))
}

async fn sandbox() -> Sandbox {
    let config = SandboxConfig {
        zendesk: sluice_sandbox::ZendeskConfig {
            users: 60,
            ..Default::default()
        },
        mixpanel: MixpanelConfig {
            events_per_day: 40,
            quota: Some(QuotaSpec::new("test", 1000, 1)),
            ..Default::default()
        },
        ..Default::default()
    };
    Sandbox::start(([127, 0, 0, 1], 0).into(), config)
        .await
        .expect("sandbox starts")
}

/// Replace the fault plan; the next request of each vendor is the first again.
async fn set_faults(sb: &Sandbox, plan: &str) {
    let r = request(sb.addr(), "POST", "/_sandbox/faults", "", plan).await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
}

/// A Zendesk page: its ids, `after_cursor`, `has_more` and `links.next`.
struct Page {
    ids: Vec<u64>,
    cursor: Option<String>,
    has_more: bool,
    next: Option<String>,
}

async fn zendesk_page(sb: &Sandbox, after: Option<&str>) -> Page {
    let target = match after {
        None => EXPORT.to_string(),
        Some(c) => format!(
            "{EXPORT}&{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("page[after]", c)
                .finish()
        ),
    };
    let r = request(sb.addr(), "GET", &target, &zendesk_auth(), "").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    Page {
        ids: v["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|u| u["id"].as_u64().expect("id"))
            .collect(),
        cursor: v["meta"]["after_cursor"].as_str().map(String::from),
        has_more: v["meta"]["has_more"].as_bool().expect("has_more"),
        next: v["links"]["next"].as_str().map(String::from),
    }
}

/// `page[after]` of a `links.next` URL.
fn after_of(next: &str) -> String {
    let url = url::Url::parse(next).expect("a URL");
    url.query_pairs()
        .find(|(k, _)| k == "page[after]")
        .map(|(_, v)| v.into_owned())
        .expect("page[after]")
}

#[tokio::test]
async fn repeat_cursor_hands_back_the_cursor_the_request_sent() {
    let sb = sandbox().await;
    let first = zendesk_page(&sb, None).await;
    let a = first.cursor.clone().expect("a cursor");
    let second = zendesk_page(&sb, Some(&a)).await;

    set_faults(&sb, "repeat-cursor@1").await;
    let repeated = zendesk_page(&sb, Some(&a)).await;
    assert_eq!(repeated.ids, second.ids, "the page asked for");
    assert_eq!(repeated.cursor.as_deref(), Some(a.as_str()));
    assert_eq!(after_of(&repeated.next.expect("links.next")), a);
    assert!(repeated.has_more);

    // on a first page, the cursor leads to the first page again
    set_faults(&sb, "repeat-cursor@1").await;
    let again = zendesk_page(&sb, None).await;
    assert_eq!(again.ids, first.ids);
    assert!(again.has_more);
    let c = again.cursor.expect("a cursor");
    assert_eq!(after_of(&again.next.expect("links.next")), c);
    assert_eq!(zendesk_page(&sb, Some(&c)).await.ids, first.ids);
}

#[tokio::test]
async fn replay_serves_the_first_page_behind_a_fresh_cursor() {
    let sb = sandbox().await;
    let first = zendesk_page(&sb, None).await;
    let a = first.cursor.clone().expect("a cursor");
    let second = zendesk_page(&sb, Some(&a)).await;
    let third = zendesk_page(&sb, second.cursor.as_deref()).await;

    set_faults(&sb, "replayx2@1").await;
    let replayed = zendesk_page(&sb, Some(&a)).await;
    assert_eq!(replayed.ids, first.ids, "the first page's records");
    assert!(replayed.has_more);
    let b = replayed.cursor.expect("a cursor");
    assert_ne!(b, a);
    let replayed_again = zendesk_page(&sb, Some(&b)).await;
    assert_eq!(replayed_again.ids, first.ids);
    let c = replayed_again.cursor.expect("a cursor");
    assert!(c != a && c != b, "a fresh cursor each time");
    // behind the scenes the position advanced: the fault over, the export goes on from page 4
    let fourth = zendesk_page(&sb, third.cursor.as_deref()).await;
    assert_eq!(zendesk_page(&sb, Some(&c)).await.ids, fourth.ids);
}

#[tokio::test]
async fn huge_value_makes_a_valid_page_larger_than_its_megabytes() {
    let sb = sandbox().await;
    set_faults(&sb, "huge-value=1@1").await;
    let r = request(sb.addr(), "GET", EXPORT, &zendesk_auth(), "").await;
    assert_eq!(r.status, 200);
    assert!(r.body.len() > MIB);
    let v = r.json();
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 10);
    let notes = results[0]["notes"].as_str().expect("a notes string");
    assert_eq!(notes.len(), MIB);
    assert!(notes.bytes().all(|b| b == b'x'));
    assert!(results[1..]
        .iter()
        .all(|u| u["notes"].as_str().is_some_and(|n| n.len() < 100)));
    // users carry `notes` already: the fault replaces its value, the key stays single
    let body = String::from_utf8_lossy(&r.body);
    let first = &body[..body.find("\"notes\":\"xxx").expect("the huge notes") + 9 + MIB];
    assert_eq!(first.matches("\"notes\"").count(), 1);
    assert!(results[0]["id"].is_u64(), "the record is otherwise intact");
    assert_eq!(v["meta"]["has_more"], true);
}

#[tokio::test]
async fn echo_auth_puts_the_credentials_in_the_error_body() {
    let sb = sandbox().await;
    set_faults(&sb, "echo-auth@1").await;
    let auth = zendesk_auth();
    let r = request(sb.addr(), "GET", EXPORT, &auth, "").await;
    assert_eq!(r.status, 500);
    let v = r.json();
    assert_eq!(v["error"], "InternalError");
    assert_eq!(v["description"], "upstream failed");
    assert_eq!(v["request"]["headers"]["authorization"], auth.as_str());
    assert_eq!(v["request"]["headers"]["host"], sb.addr().to_string());

    let auth = mixpanel_auth();
    let r = request(sb.addr(), "GET", MIXPANEL, &auth, "").await;
    assert_eq!(r.status, 500);
    let v = r.json();
    assert!(v["request"]
        .as_str()
        .expect("request")
        .starts_with("/api/2.0/export?"));
    assert!(v["error"].as_str().expect("error").contains(&auth));
    assert_eq!(v["headers"]["authorization"], auth.as_str());
}

/// The Mixpanel export with the plan's first request faulted, and the same export clean.
async fn mixpanel_faulted_and_clean(sb: &Sandbox, fault: &str) -> (Reply, Reply) {
    set_faults(sb, &format!("{fault}@1")).await;
    let faulted = request(sb.addr(), "GET", MIXPANEL, &mixpanel_auth(), "").await;
    let clean = request(sb.addr(), "GET", MIXPANEL, &mixpanel_auth(), "").await;
    assert_eq!(faulted.status, 200);
    assert_eq!(clean.status, 200);
    (faulted, clean)
}

/// The lines of `faulted` that `clean` lacks, checking they sit together between two events.
fn added_lines<'a>(faulted: &[&'a [u8]], clean: &[&[u8]]) -> Vec<&'a [u8]> {
    let at = faulted
        .iter()
        .zip(clean)
        .position(|(f, c)| f != c)
        .expect("extra lines");
    let extra = faulted.len() - clean.len();
    assert!(
        at > 0 && at < clean.len(),
        "in the middle: {at} of {}",
        clean.len()
    );
    assert_eq!(&faulted[..at], &clean[..at]);
    assert_eq!(&faulted[at + extra..], &clean[at..], "the events go on");
    faulted[at..at + extra].to_vec()
}

fn time_of(line: &Value) -> i64 {
    line["properties"]["time"]
        .as_i64()
        .expect("an integer time")
}

#[tokio::test]
async fn bad_lines_adds_six_malformed_lines_the_truth_does_not_hold() {
    let sb = sandbox().await;
    let (faulted, clean) = mixpanel_faulted_and_clean(&sb, "bad-lines").await;
    let (faulted_lines, clean_lines) = (faulted.lines(), clean.lines());
    let bad = added_lines(&faulted_lines, &clean_lines);
    assert_eq!(bad.len(), 6);
    let parsed: Vec<Option<Value>> = bad.iter().map(|l| serde_json::from_slice(l).ok()).collect();
    let event = |i: usize| parsed[i].as_ref().expect("JSON");
    let string_time: i64 = event(0)["properties"]["time"]
        .as_str()
        .expect("time a string")
        .parse()
        .expect("digits");
    assert!(RANGE.contains(&string_time));
    assert!(event(1)["properties"].is_object() && event(1)["properties"].get("time").is_none());
    assert!(event(2)["event"].is_string() && event(2).get("properties").is_none());
    assert_eq!(event(3)["event"], 42);
    assert!(RANGE.contains(&time_of(event(3))));
    assert_eq!(event(4), &serde_json::json!([1, 2, 3]));
    assert!(parsed[5].is_none(), "not JSON");
    assert_eq!(bad[5], b"this is not json");

    // the same request faulted again gives the same lines
    let (again, _) = mixpanel_faulted_and_clean(&sb, "bad-lines").await;
    assert_eq!(again.body, faulted.body);

    let truth = request(
        sb.addr(),
        "GET",
        "/_sandbox/mixpanel/events?from_date=2024-05-01&to_date=2024-05-02",
        "",
        "",
    )
    .await;
    let served: HashSet<&[u8]> = clean_lines.iter().copied().collect();
    let truth_lines = truth.lines();
    assert!(!truth_lines.is_empty());
    assert!(truth_lines.iter().all(|l| served.contains(l)));
    assert!(truth_lines.iter().all(|l| !bad.contains(l)));
    assert_eq!(truth_lines.len(), served.len(), "each clean event once");
}

#[tokio::test]
async fn huge_line_adds_one_line_longer_than_its_megabytes() {
    let sb = sandbox().await;
    let (faulted, clean) = mixpanel_faulted_and_clean(&sb, "huge-line=1").await;
    let extra = added_lines(&faulted.lines(), &clean.lines());
    assert_eq!(extra.len(), 1);
    assert!(extra[0].len() >= MIB);
    assert!(serde_json::from_slice::<Value>(extra[0]).is_err());
}

#[tokio::test]
async fn huge_value_adds_one_valid_event_with_a_huge_blob() {
    let sb = sandbox().await;
    let (faulted, clean) = mixpanel_faulted_and_clean(&sb, "huge-value=1").await;
    let extra = added_lines(&faulted.lines(), &clean.lines());
    assert_eq!(extra.len(), 1);
    let event: Value = serde_json::from_slice(extra[0]).expect("valid JSON");
    assert_eq!(
        event["properties"]["blob"].as_str().map(str::len),
        Some(MIB)
    );
    assert!(RANGE.contains(&time_of(&event)));
}
