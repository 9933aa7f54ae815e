//! The Pinterest asset lists (audiences, customer lists, keywords, product group promotions,
//! boards, sections, pins, catalogs), pin and product group analytics, PRODUCT_GROUP reports and
//! the `delete-board` fault, over real HTTP against a sandbox on port 0.

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use sluice_sandbox::{
    credentials, PinterestConfig, PinterestQuotas, QuotaSpec, Sandbox, SandboxConfig,
};

const ACCOUNT: &str = credentials::PINTEREST_AD_ACCOUNT_ID;
const SHARED: &str = credentials::PINTEREST_SHARED_AD_ACCOUNT_ID;

struct Sb {
    sandbox: Sandbox,
    client: reqwest::Client,
}

async fn start() -> Sb {
    let pinterest = PinterestConfig {
        quotas: PinterestQuotas {
            universal: QuotaSpec::new("universal", 100_000, 1),
            ads_analytics: QuotaSpec::new("ads_analytics", 100_000, 60),
            ads_read: QuotaSpec::new("ads_read", 100_000, 60),
            org_read: QuotaSpec::new("org_read", 100_000, 60),
            catalogs_read: QuotaSpec::new("catalogs_read", 100_000, 60),
            ..Default::default()
        },
        ..Default::default()
    };
    let config = SandboxConfig {
        pinterest,
        ..Default::default()
    };
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into(), config)
        .await
        .expect("sandbox starts");
    Sb {
        sandbox,
        client: reqwest::Client::new(),
    }
}

impl Sb {
    /// (status, JSON body)
    async fn get(&self, target: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{target}", self.sandbox.base_url()))
            .bearer_auth(credentials::PINTEREST_ACCESS_TOKEN)
            .send()
            .await
            .expect("a response");
        let status = r.status().as_u16();
        let text = r.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    async fn ok(&self, target: &str) -> Value {
        let (status, body) = self.get(target).await;
        assert_eq!(status, 200, "{target}: {body}");
        body
    }

    /// Every item of a list, page by page.
    async fn all_pages(&self, target: &str) -> (Vec<Value>, usize) {
        let sep = if target.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut pages = 0;
        let mut bookmark: Option<String> = None;
        loop {
            let url = match &bookmark {
                None => target.to_string(),
                Some(b) => format!(
                    "{target}{sep}bookmark={}",
                    url::form_urlencoded::byte_serialize(b.as_bytes()).collect::<String>()
                ),
            };
            let page = self.ok(&url).await;
            pages += 1;
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["bookmark"].as_str() {
                Some(b) => bookmark = Some(b.to_string()),
                None => break,
            }
            assert!(pages < 100, "paging ends");
        }
        (items, pages)
    }

    async fn truth(&self, kind: &str, account: &str) -> Vec<Value> {
        let body = self
            .ok(&format!(
                "/_sandbox/pinterest/entities?type={kind}&ad_account_id={account}"
            ))
            .await;
        body.as_array().expect("an array").clone()
    }

    async fn faults(&self, plan: &str) {
        let r = self
            .client
            .post(format!("{}/_sandbox/faults", self.sandbox.base_url()))
            .body(plan.to_string())
            .send()
            .await
            .expect("a response");
        assert_eq!(r.status().as_u16(), 204);
    }

    fn categories(&self) -> Value {
        self.sandbox.stats_json()["vendors"]["pinterest"]["categories"].clone()
    }
}

fn code(body: &Value) -> i64 {
    assert!(body["message"].is_string(), "{body}");
    body["code"].as_i64().expect("a code")
}

fn without(items: &[Value], keys: &[&str]) -> Vec<Value> {
    items
        .iter()
        .map(|v| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                for k in keys {
                    o.remove(*k);
                }
            }
            v
        })
        .collect()
}

#[tokio::test]
async fn board_pins_page_through_to_the_truth_and_sections_nest() {
    let sb = start().await;
    let boards = sb.truth("boards", ACCOUNT).await;
    assert_eq!(boards.len(), 6);
    let first = boards[0]["id"].as_str().expect("an id").to_string();
    let (pins, pages) = sb
        .all_pages(&format!("/v5/boards/{first}/pins?page_size=5"))
        .await;
    assert!(pages >= 3, "{pages} pages");
    let truth: Vec<Value> = sb
        .truth("board_pins", ACCOUNT)
        .await
        .into_iter()
        .filter(|p| p["board_id"] == json!(first))
        .collect();
    assert_eq!(pins, truth);
    assert_eq!(boards[0]["pin_count"], json!(pins.len()));
    assert!(pins.iter().any(|p| p["board_section_id"].is_null()));
    assert!(pins.iter().any(|p| p["board_section_id"].is_string()));

    // sections and their pins
    let (sections, _) = sb
        .all_pages(&format!("/v5/boards/{first}/sections?page_size=1"))
        .await;
    let truth: Vec<Value> = sb
        .truth("board_sections", ACCOUNT)
        .await
        .into_iter()
        .filter(|s| s["board_id"] == json!(first))
        .collect();
    assert_eq!(sections, without(&truth, &["board_id"]));
    let section = sections[0]["id"].as_str().expect("an id");
    let (in_section, _) = sb
        .all_pages(&format!(
            "/v5/boards/{first}/sections/{section}/pins?page_size=2"
        ))
        .await;
    assert!(!in_section.is_empty());
    assert!(in_section
        .iter()
        .all(|p| p["board_section_id"] == json!(section)));

    // unknown board and section; a bookmark of another board
    let (status, body) = sb.get("/v5/boards/123/pins").await;
    assert_eq!((status, code(&body)), (404, 40));
    assert_eq!(body["message"], "Board not found.");
    let (status, body) = sb.get(&format!("/v5/boards/{first}/sections/1/pins")).await;
    assert_eq!((status, code(&body)), (404, 40));
    assert_eq!(body["message"], "Board section not found.");
    let page = sb.ok(&format!("/v5/boards/{first}/pins?page_size=5")).await;
    let bookmark = page["bookmark"].as_str().expect("a bookmark");
    let other = boards[1]["id"].as_str().expect("an id");
    let (status, body) = sb
        .get(&format!(
            "/v5/boards/{other}/pins?page_size=5&bookmark={}",
            url::form_urlencoded::byte_serialize(bookmark.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!((status, code(&body)), (400, 1));
    let (status, body) = sb
        .get(&format!("/v5/boards/{first}/pins?page_size=251"))
        .await;
    assert_eq!((status, code(&body)), (400, 1));

    // boards: privacy filters; /pins against its truth
    let (all, _) = sb.all_pages("/v5/boards?privacy=ALL&page_size=2").await;
    assert_eq!(all, boards);
    let (default, _) = sb.all_pages("/v5/boards").await;
    assert!(default.iter().all(|b| b["privacy"] != "PROTECTED"));
    assert_eq!(default.len(), 5);
    let (pins, _) = sb.all_pages("/v5/pins?page_size=7").await;
    assert_eq!(pins, sb.truth("pins", ACCOUNT).await);
    let (shared, _) = sb
        .all_pages(&format!("/v5/boards?ad_account_id={SHARED}"))
        .await;
    assert_eq!(shared.len(), 1);
    let (status, body) = sb.get("/v5/boards?ad_account_id=1234").await;
    assert_eq!((status, code(&body)), (404, 2));
}

#[tokio::test]
async fn delete_board_hides_the_first_boards_children_but_not_the_board() {
    let sb = start().await;
    let boards = sb.truth("boards", ACCOUNT).await;
    let first = boards[0]["id"].as_str().expect("an id").to_string();
    let second = boards[1]["id"].as_str().expect("an id").to_string();
    sb.faults("delete-boardx5@1").await;
    let listed = sb.ok("/v5/boards?privacy=ALL").await;
    assert_eq!(listed["items"][0]["id"], json!(first));
    for path in ["pins", "sections", "sections/1/pins"] {
        let (status, body) = sb.get(&format!("/v5/boards/{first}/{path}")).await;
        assert_eq!((status, code(&body)), (404, 40), "{path}");
        assert_eq!(body["message"], "Board not found.");
    }
    sb.ok(&format!("/v5/boards/{second}/pins")).await;
    // the fault is over: the board is back
    sb.ok(&format!("/v5/boards/{first}/pins")).await;
}

#[tokio::test]
async fn ads_read_lists_validate_and_match_the_truth() {
    let sb = start().await;
    let (status, body) = sb.get(&format!("/v5/ad_accounts/{ACCOUNT}/keywords")).await;
    assert_eq!((status, code(&body)), (400, 1));
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains("campaign_id") && message.contains("ad_group_ids"));

    let keywords = sb.truth("keywords", ACCOUNT).await;
    let group = keywords[0]["parent_id"]
        .as_str()
        .expect("a parent")
        .to_string();
    let (items, pages) = sb
        .all_pages(&format!(
            "/v5/ad_accounts/{ACCOUNT}/keywords?ad_group_id={group}&page_size=1"
        ))
        .await;
    let expected: Vec<Value> = keywords
        .iter()
        .filter(|k| k["parent_id"] == json!(group))
        .cloned()
        .collect();
    assert_eq!(items, expected);
    assert_eq!(pages, expected.len());
    let groups: Vec<String> = sb
        .truth("ad_groups", ACCOUNT)
        .await
        .iter()
        .map(|g| g["id"].as_str().expect("an id").to_string())
        .collect();
    let (every, _) = sb
        .all_pages(&format!(
            "/v5/ad_accounts/{ACCOUNT}/keywords?ad_group_ids={}&page_size=1000",
            groups.join(",")
        ))
        .await;
    assert_eq!(every, keywords);
    let (none, _) = sb
        .all_pages(&format!(
            "/v5/ad_accounts/{ACCOUNT}/keywords?ad_group_id=999"
        ))
        .await;
    assert!(none.is_empty());

    // audiences: OWNED by default, RECEIVED on request, together the truth
    let (owned, _) = sb
        .all_pages(&format!("/v5/ad_accounts/{ACCOUNT}/audiences?page_size=2"))
        .await;
    let (received, _) = sb
        .all_pages(&format!(
            "/v5/ad_accounts/{ACCOUNT}/audiences?ownership_type=RECEIVED"
        ))
        .await;
    assert_eq!((owned.len(), received.len()), (6, 3));
    let mut both = [owned, received].concat();
    both.sort_by_key(|a| a["id"].as_str().map(str::to_string));
    assert_eq!(both, sb.truth("audiences", ACCOUNT).await);
    let (lists, _) = sb
        .all_pages(&format!(
            "/v5/ad_accounts/{ACCOUNT}/customer_lists?page_size=2&order=DESCENDING"
        ))
        .await;
    let mut truth = sb.truth("customer_lists", ACCOUNT).await;
    truth.reverse();
    assert_eq!(lists, truth);

    // product group promotions: a parent is required; statuses default to ACTIVE, PAUSED
    let (status, body) = sb
        .get(&format!(
            "/v5/ad_accounts/{ACCOUNT}/product_group_promotions"
        ))
        .await;
    assert_eq!((status, code(&body)), (400, 1));
    let promotions = sb.truth("product_group_promotions", ACCOUNT).await;
    let group = promotions[0]["ad_group_id"].as_str().expect("a group");
    let (items, _) = sb
        .all_pages(&format!(
            "/v5/ad_accounts/{ACCOUNT}/product_group_promotions?ad_group_id={group}&entity_statuses=ACTIVE,PAUSED,ARCHIVED"
        ))
        .await;
    let expected: Vec<Value> = promotions
        .iter()
        .filter(|p| p["ad_group_id"] == json!(group))
        .cloned()
        .collect();
    assert_eq!(items, expected);
}

#[tokio::test]
async fn catalogs_exist_for_the_main_account_only() {
    let sb = start().await;
    let (status, body) = sb
        .get(&format!(
            "/v5/catalogs/product_groups?ad_account_id={SHARED}"
        ))
        .await;
    assert_eq!((status, code(&body)), (409, 4182));
    assert_eq!(
        body["message"],
        "Can't access this feature without an existing catalog."
    );
    for path in ["catalogs", "catalogs/feeds"] {
        let page = sb.ok(&format!("/v5/{path}?ad_account_id={SHARED}")).await;
        assert_eq!(page, json!({"items": [], "bookmark": null}));
    }
    let (catalogs, _) = sb.all_pages("/v5/catalogs").await;
    assert_eq!(catalogs.len(), 2);
    assert_eq!(catalogs, sb.truth("catalogs", ACCOUNT).await);
    let (feeds, _) = sb.all_pages("/v5/catalogs/feeds?page_size=1").await;
    assert_eq!(feeds, sb.truth("feeds", ACCOUNT).await);
    let (groups, _) = sb
        .all_pages(&format!(
            "/v5/catalogs/product_groups?ad_account_id={ACCOUNT}&page_size=3"
        ))
        .await;
    assert_eq!(groups.len(), 8);
    assert_eq!(groups, sb.truth("product_groups", ACCOUNT).await);
    let feed = feeds[0]["id"].as_str().expect("an id");
    let (of_feed, _) = sb
        .all_pages(&format!("/v5/catalogs/product_groups?feed_id={feed}"))
        .await;
    assert!(!of_feed.is_empty() && of_feed.iter().all(|g| g["feed_id"] == json!(feed)));
}

fn range() -> (String, String) {
    let today = Utc::now().date_naive();
    ((today - Duration::days(30)).to_string(), today.to_string())
}

#[tokio::test]
async fn pin_analytics_validate_and_equal_the_truth() {
    let sb = start().await;
    let (start_date, end_date) = range();
    let dates = format!(
        "start_date={start_date}&end_date={end_date}&granularity=DAY&columns=SPEND_IN_MICRO_DOLLAR,IMPRESSION_1,CLICKTHROUGH_1"
    );
    let path = format!("/v5/ad_accounts/{ACCOUNT}/pins/analytics");
    let many: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    let (status, body) = sb
        .get(&format!(
            "{path}?campaign_id=1&pin_ids={}&{dates}",
            many.join(",")
        ))
        .await;
    assert_eq!((status, code(&body)), (400, 1));
    assert!(body["message"].as_str().expect("a message").contains("100"));
    let (status, body) = sb.get(&format!("{path}?pin_ids=1&{dates}")).await;
    assert_eq!((status, code(&body)), (400, 1));
    assert!(body["message"]
        .as_str()
        .expect("a message")
        .contains("campaign_id"));

    let ads = sb.truth("ads", ACCOUNT).await;
    let ad = ads
        .iter()
        .find(|a| a["status"] == "ACTIVE")
        .expect("an active ad");
    let campaign = ad["campaign_id"].as_str().expect("a campaign");
    let pins: Vec<&str> = ads
        .iter()
        .filter(|a| a["campaign_id"] == json!(campaign))
        .filter_map(|a| a["pin_id"].as_str())
        .take(5)
        .collect();
    let query = format!("campaign_id={campaign}&pin_ids={}&{dates}", pins.join(","));
    let rows = sb.ok(&format!("{path}?{query}")).await;
    let rows = rows.as_array().expect("a bare array").clone();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["PIN_ID"].is_string()
        && r["DATE"].is_string()
        && r.get("CAMPAIGN_ID").is_none()));
    let truth = sb
        .ok(&format!("/_sandbox/pinterest/analytics?level=PIN&{query}"))
        .await;
    assert_eq!(Value::Array(rows), truth);
    // a pin the campaign does not promote has no rows
    let none = sb
        .ok(&format!("{path}?campaign_id={campaign}&pin_ids=7&{dates}"))
        .await;
    assert_eq!(none, json!([]));
}

#[tokio::test]
async fn product_group_analytics_and_reports_equal_the_truth() {
    let sb = start().await;
    let (start_date, end_date) = range();
    let groups: Vec<String> = sb
        .truth("product_groups", ACCOUNT)
        .await
        .iter()
        .map(|g| g["id"].as_str().expect("an id").to_string())
        .collect();
    let columns = "SPEND_IN_MICRO_DOLLAR,IMPRESSION_1,TOTAL_CONVERSIONS";
    let query = format!(
        "product_group_ids={}&start_date={start_date}&end_date={end_date}&granularity=DAY&columns={columns}",
        groups.join(",")
    );
    let path = format!("/v5/ad_accounts/{ACCOUNT}/product_groups/analytics");
    let (status, body) = sb
        .get(&format!(
            "{path}?start_date={start_date}&end_date={end_date}&granularity=DAY&columns={columns}"
        ))
        .await;
    assert_eq!((status, code(&body)), (400, 1));
    let rows = sb.ok(&format!("{path}?{query}")).await;
    assert!(rows
        .as_array()
        .is_some_and(|r| !r.is_empty() && r.iter().all(|x| x["PRODUCT_GROUP_ID"].is_string())));
    let truth = sb
        .ok(&format!(
            "/_sandbox/pinterest/analytics?level=PRODUCT_GROUP&{query}"
        ))
        .await;
    assert_eq!(rows, truth);
    let shared = sb
        .ok(&format!(
            "/v5/ad_accounts/{SHARED}/product_groups/analytics?{query}"
        ))
        .await;
    assert_eq!(shared, json!([]));

    // a PRODUCT_GROUP report
    let body = json!({
        "start_date": start_date, "end_date": end_date, "granularity": "DAY",
        "columns": columns.split(',').collect::<Vec<_>>(), "level": "PRODUCT_GROUP",
        "product_group_ids": groups,
    });
    let r = sb
        .client
        .post(format!(
            "{}/v5/ad_accounts/{ACCOUNT}/reports",
            sb.sandbox.base_url()
        ))
        .bearer_auth(credentials::PINTEREST_ACCESS_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("a response");
    assert_eq!(r.status().as_u16(), 200);
    let created: Value = serde_json::from_str(&r.text().await.expect("a body")).expect("json");
    let token = created["token"].as_str().expect("a token").to_string();
    let url = loop {
        let poll = sb
            .ok(&format!("/v5/ad_accounts/{ACCOUNT}/reports?token={token}"))
            .await;
        if poll["report_status"] == "FINISHED" {
            break poll["url"].as_str().expect("a url").to_string();
        }
    };
    let file = sb
        .client
        .get(url)
        .send()
        .await
        .expect("a download")
        .text()
        .await
        .expect("a body");
    let file: Value = serde_json::from_str(&file).expect("json");
    let truth = sb
        .ok(&format!(
            "/_sandbox/pinterest/analytics?level=PRODUCT_GROUP&shape=report&{query}"
        ))
        .await;
    assert_eq!(file, truth);
    let obj = file.as_object().expect("keyed by id");
    assert!(!obj.is_empty());
    assert!(obj
        .values()
        .flat_map(|rows| rows.as_array().expect("rows"))
        .all(|r| r["PRODUCT_GROUP_ID"].is_number()));
}

#[tokio::test]
async fn org_read_and_catalogs_read_are_counted_in_their_own_categories() {
    let sb = start().await;
    let before = sb.categories();
    sb.ok("/v5/boards").await;
    sb.ok("/v5/pins").await;
    sb.ok("/v5/catalogs").await;
    let after = sb.categories();
    let delta = |cat: &str| {
        after[cat]["requests"].as_u64().expect("a count")
            - before[cat]["requests"].as_u64().expect("a count")
    };
    assert_eq!(delta("org_read"), 2);
    assert_eq!(delta("catalogs_read"), 1);
    assert_eq!(delta("ads_analytics"), 0);
    assert_eq!(delta("ads_read"), 0);
}
