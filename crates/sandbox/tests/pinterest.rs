//! The Pinterest Ads simulator over real HTTP, from a sandbox on port 0: OAuth rotation and
//! expiry, bookmark paging, id caps, date limits, response shapes, the truth routes, conversion
//! restatement, the async report lifecycle, category quotas and the Pinterest faults.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};
use sluice_sandbox::{
    credentials, PinterestConfig, PinterestQuotas, QuotaSpec, Sandbox, SandboxConfig,
};

const ACCOUNT: &str = credentials::PINTEREST_AD_ACCOUNT_ID;

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("a JSON body: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The error body's code, asserting the shape `{"code", "message"}`.
    fn code(&self) -> i64 {
        let v = self.json();
        assert!(v["message"].is_string(), "{v}");
        v["code"].as_i64().unwrap_or_else(|| panic!("a code: {v}"))
    }
}

struct Sb {
    sandbox: Sandbox,
    client: reqwest::Client,
}

async fn start(pinterest: PinterestConfig) -> Sb {
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

/// A sandbox whose universal per-second bucket does not get in the way of a quick test.
async fn roomy() -> Sb {
    start(PinterestConfig {
        quotas: PinterestQuotas {
            universal: QuotaSpec::new("universal", 100_000, 1),
            ads_analytics: QuotaSpec::new("ads_analytics", 100_000, 60),
            ads_read: QuotaSpec::new("ads_read", 100_000, 60),
            ..Default::default()
        },
        ..Default::default()
    })
    .await
}

impl Sb {
    fn url(&self, target: &str) -> String {
        if target.starts_with("http") {
            target.to_string()
        } else {
            format!("{}{target}", self.sandbox.base_url())
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let r = req.send().await.expect("a response");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await.expect("a body").to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get_as(&self, target: &str, token: Option<&str>) -> Reply {
        let mut req = self.client.get(self.url(target));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    async fn get(&self, target: &str) -> Reply {
        self.get_as(target, Some(credentials::PINTEREST_ACCESS_TOKEN))
            .await
    }

    async fn post_json(&self, target: &str, body: &Value) -> Reply {
        let req = self
            .client
            .post(self.url(target))
            .bearer_auth(credentials::PINTEREST_ACCESS_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(req).await
    }

    async fn refresh(&self, refresh_token: &str, client_secret: &str) -> Reply {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{client_secret}",
            credentials::PINTEREST_CLIENT_ID
        ));
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token)
            .append_pair("scope", "ads:read,user_accounts:read")
            .append_pair("continuous_refresh", "true")
            .finish();
        let req = self
            .client
            .post(self.url("/v5/oauth/token"))
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        self.send(req).await
    }

    async fn faults(&self, plan: &str) {
        let r = self
            .send(
                self.client
                    .post(self.url("/_sandbox/faults"))
                    .body(plan.to_string()),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }

    async fn ids(&self, kind: &str) -> Vec<String> {
        let r = self
            .get(&format!(
                "/_sandbox/pinterest/entities?type={kind}&ad_account_id={ACCOUNT}"
            ))
            .await;
        assert_eq!(r.status, 200);
        r.json()
            .as_array()
            .expect("an array")
            .iter()
            .map(|e| e["id"].as_str().expect("an id").to_string())
            .collect()
    }

    fn stats(&self) -> Value {
        self.sandbox.stats_json()["vendors"]["pinterest"].clone()
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn ago(days: i64) -> NaiveDate {
    today() - chrono::Duration::days(days)
}

const COLUMNS: &str = "SPEND_IN_MICRO_DOLLAR,IMPRESSION_1,CLICKTHROUGH_1,CTR,TOTAL_CONVERSIONS,\
TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR,CAMPAIGN_NAME,TOTAL_ENGAGEMENT";

fn analytics(level: &str, ids_key: &str, ids: &[String], from: NaiveDate, to: NaiveDate) -> String {
    format!(
        "/v5/ad_accounts/{ACCOUNT}/{level}analytics?start_date={from}&end_date={to}&granularity=DAY&columns={COLUMNS}&{ids_key}={}",
        ids.join(",")
    )
}

#[tokio::test]
async fn refresh_rotates_tokens_and_the_old_refresh_token_is_refused() {
    let sb = start(PinterestConfig::default()).await;
    let bad = sb
        .refresh(credentials::PINTEREST_REFRESH_TOKEN, "wrong-secret")
        .await;
    assert_eq!(bad.status, 401);
    assert_eq!(
        bad.json(),
        json!({"code": 2, "message": "Authentication failed."})
    );

    let first = sb
        .refresh(
            credentials::PINTEREST_REFRESH_TOKEN,
            credentials::PINTEREST_CLIENT_SECRET,
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let v = first.json();
    let access = v["access_token"].as_str().expect("access_token");
    let refresh = v["refresh_token"].as_str().expect("refresh_token");
    assert!(access.starts_with("pina.") && refresh.starts_with("pinr."));
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "ads:read,user_accounts:read");
    assert_eq!(v["response_type"], "refresh_token");
    assert!(v["refresh_token_expires_in"].as_i64() > Some(5_000_000));
    assert!(v["refresh_token_expires_at"].as_i64() > Some(Utc::now().timestamp()));
    assert_ne!(refresh, credentials::PINTEREST_REFRESH_TOKEN);

    let listed = sb.get_as("/v5/ad_accounts", Some(access)).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    // the token endpoint is org_read and carries the rate-limit headers
    assert!(first.header("x-ratelimit-remaining").is_some());

    let again = sb
        .refresh(
            credentials::PINTEREST_REFRESH_TOKEN,
            credentials::PINTEREST_CLIENT_SECRET,
        )
        .await;
    assert_eq!(again.status, 401);
    assert_eq!(again.code(), 2);
    assert!(again.json()["message"]
        .as_str()
        .is_some_and(|m| m.contains("Authentication failed") && m.contains("refresh token")));

    let next = sb
        .refresh(refresh, credentials::PINTEREST_CLIENT_SECRET)
        .await;
    assert_eq!(next.status, 200);
    assert_ne!(next.json()["refresh_token"], refresh);
    let stats = sb.stats();
    assert_eq!(stats["refreshes"], 2, "{stats}");
    assert_eq!(stats["refreshes_refused"], 2, "{stats}");
}

#[tokio::test]
async fn expired_tokens_answer_1104_and_unknown_ones_code_2() {
    let sb = start(PinterestConfig {
        access_token_ttl: Duration::from_millis(1_200),
        ..Default::default()
    })
    .await;
    assert_eq!(sb.get("/v5/ad_accounts").await.status, 200);
    let none = sb.get_as("/v5/ad_accounts", None).await;
    assert_eq!((none.status, none.code()), (401, 2));
    let unknown = sb.get_as("/v5/ad_accounts", Some("pina.unknown")).await;
    assert_eq!(
        unknown.json(),
        json!({"code": 2, "message": "Authentication failed."})
    );
    tokio::time::sleep(Duration::from_millis(1_400)).await;
    let expired = sb.get("/v5/ad_accounts").await;
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.json(),
        json!({"code": 1104, "message": "The token you provided is not valid or has expired."})
    );
    // a refreshed token works again
    let fresh = sb
        .refresh(
            credentials::PINTEREST_REFRESH_TOKEN,
            credentials::PINTEREST_CLIENT_SECRET,
        )
        .await
        .json();
    let token = fresh["access_token"].as_str().expect("a token");
    assert_eq!(sb.get_as("/v5/ad_accounts", Some(token)).await.status, 200);

    // expire-token: this request's token is expired from now on; status 400 when configured
    let sb = start(PinterestConfig {
        expired_token_status: 400,
        ..Default::default()
    })
    .await;
    sb.faults("expire-token@2").await;
    assert_eq!(sb.get("/v5/ad_accounts").await.status, 200);
    let r = sb.get("/v5/ad_accounts").await;
    assert_eq!((r.status, r.code()), (400, 1104));
    assert_eq!(sb.get("/v5/ad_accounts").await.code(), 1104);
}

#[tokio::test]
async fn bookmarks_page_through_every_ad_and_refuse_garbage() {
    let sb = roomy().await;
    let truth: HashSet<String> = sb.ids("ads").await.into_iter().collect();
    assert_eq!(truth.len(), 650);
    let mut seen = Vec::new();
    let mut bookmark: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut target = format!(
            "/v5/ad_accounts/{ACCOUNT}/ads?page_size=250&entity_statuses=ACTIVE&entity_statuses=PAUSED,ARCHIVED"
        );
        if let Some(b) = &bookmark {
            target.push_str("&bookmark=");
            target
                .push_str(&url::form_urlencoded::byte_serialize(b.as_bytes()).collect::<String>());
        }
        let r = sb.get(&target).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        let items = v["items"].as_array().expect("items");
        for i in items {
            assert!(i["created_time"].is_i64() && i["updated_time"].is_i64());
            assert!(i["ad_group_id"].is_string() && i["campaign_id"].is_string());
            seen.push(i["id"].as_str().expect("an id").to_string());
        }
        pages += 1;
        match v["bookmark"].as_str() {
            Some(b) => bookmark = Some(b.to_string()),
            None => {
                assert!(v["bookmark"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 650);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), truth);
    let mut sorted = seen.clone();
    sorted.sort_by_key(|s| s.parse::<u64>().unwrap_or_default());
    assert_eq!(seen, sorted, "ids ascend");

    // the API's default statuses: ACTIVE and PAUSED only
    let r = sb
        .get(&format!("/v5/ad_accounts/{ACCOUNT}/ads?page_size=250"))
        .await
        .json();
    assert_eq!(r["items"].as_array().map(Vec::len), Some(250));
    assert!(r["items"]
        .as_array()
        .is_some_and(|i| i.iter().all(|a| a["status"] != "ARCHIVED")));

    let garbage = sb
        .get(&format!(
            "/v5/ad_accounts/{ACCOUNT}/ads?bookmark=ZmFrZQ%3D%3D"
        ))
        .await;
    assert_eq!((garbage.status, garbage.code()), (400, 1));
    let big = sb
        .get(&format!(
            "/v5/ad_accounts/{ACCOUNT}/campaigns?page_size=251"
        ))
        .await;
    assert_eq!((big.status, big.code()), (400, 1));
    let nan = sb
        .get(&format!("/v5/ad_accounts/{ACCOUNT}/campaigns?page_size=3e"))
        .await;
    assert!(nan.text().contains("was not numeric (was 3e)"));
    let missing = sb.get("/v5/ad_accounts/123456/campaigns").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        json!({"code": 2, "message": "AdAccount not found."})
    );

    let one = sb.get(&format!("/v5/ad_accounts/{ACCOUNT}")).await.json();
    assert_eq!(one["id"], ACCOUNT);
    assert!(one.get("items").is_none());
    let all = sb.get("/v5/ad_accounts").await.json();
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
    let owned = sb
        .get("/v5/ad_accounts?include_shared_accounts=false")
        .await
        .json();
    assert_eq!(owned["items"].as_array().map(Vec::len), Some(1));
    let campaigns = sb
        .get(&format!("/v5/ad_accounts/{ACCOUNT}/campaigns?entity_statuses=ACTIVE,PAUSED,ARCHIVED&page_size=100"))
        .await
        .json();
    let statuses: HashSet<&str> = campaigns["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["status"].as_str())
        .collect();
    assert_eq!(statuses, HashSet::from(["ACTIVE", "PAUSED", "ARCHIVED"]));
}

#[tokio::test]
async fn id_lists_are_capped_at_250_and_pins_at_100() {
    let sb = roomy().await;
    let many: Vec<String> = (0..251)
        .map(|i| (626_736_000_000u64 + i).to_string())
        .collect();
    let r = sb
        .get(&analytics(
            "campaigns/",
            "campaign_ids",
            &many,
            ago(3),
            ago(1),
        ))
        .await;
    assert_eq!((r.status, r.code()), (400, 1));
    assert!(r.text().contains("campaign_ids"), "{}", r.text());
    assert_eq!(
        sb.get(&analytics(
            "campaigns/",
            "campaign_ids",
            &many[..250],
            ago(3),
            ago(1)
        ))
        .await
        .status,
        200
    );
    let pins: Vec<String> = (0..101)
        .map(|i| (394_205_773_611_545_468u64 + i).to_string())
        .collect();
    let r = sb
        .get(&format!(
            "{}&pin_ids={}",
            analytics("ads/", "campaign_ids", &many[..2], ago(3), ago(1)),
            pins.join(",")
        ))
        .await;
    assert_eq!((r.status, r.code()), (400, 1));
    assert!(r.text().contains("pin_ids"));
    let r = sb
        .get(&format!(
            "/v5/ad_accounts/{ACCOUNT}/ads?ad_ids={}",
            many.join(",")
        ))
        .await;
    assert_eq!((r.status, r.code()), (400, 1));
    let none = sb
        .get(&format!(
            "/v5/ad_accounts/{ACCOUNT}/campaigns/analytics?start_date={}&end_date={}&granularity=DAY&columns=SPEND_IN_DOLLAR",
            ago(2),
            ago(1)
        ))
        .await;
    assert_eq!((none.status, none.code()), (400, 1));
}

#[tokio::test]
async fn date_limits_are_90_days_back_and_90_days_long_or_8_and_3_for_hours() {
    let sb = roomy().await;
    let ids = sb.ids("campaigns").await;
    let ok = sb
        .get(&analytics(
            "campaigns/",
            "campaign_ids",
            &ids,
            ago(90),
            today(),
        ))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let old = sb
        .get(&analytics(
            "campaigns/",
            "campaign_ids",
            &ids,
            ago(91),
            ago(80),
        ))
        .await;
    assert_eq!((old.status, old.code()), (400, 400));
    let m = old.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        m.contains("Invalid ad account campaign analytics parameters.")
            && m.contains("last 90 days"),
        "{m}"
    );
    let long = sb
        .get(&analytics(
            "campaigns/",
            "campaign_ids",
            &ids,
            ago(90),
            ago(90) + chrono::Duration::days(91),
        ))
        .await;
    assert_eq!((long.status, long.code()), (400, 400));
    assert!(
        long.text().contains("maximum time range is 90 days"),
        "{}",
        long.text()
    );
    let hourly = |from: NaiveDate, to: NaiveDate| {
        analytics("campaigns/", "campaign_ids", &ids, from, to)
            .replace("granularity=DAY", "granularity=HOUR")
    };
    assert_eq!(sb.get(&hourly(ago(8), ago(6))).await.status, 200);
    let h = sb.get(&hourly(ago(9), ago(8))).await;
    assert!(
        h.status == 400 && h.text().contains("last 8 days with HOUR"),
        "{}",
        h.text()
    );
    let h = sb.get(&hourly(ago(8), ago(4))).await;
    assert!(
        h.status == 400 && h.text().contains("maximum time range is 3 days"),
        "{}",
        h.text()
    );
    let backwards = sb
        .get(&analytics(
            "campaigns/",
            "campaign_ids",
            &ids,
            ago(2),
            ago(5),
        ))
        .await;
    assert_eq!(backwards.status, 400);
    // HOUR rows carry no conversions
    let rows = sb.get(&hourly(ago(3), ago(2))).await.json();
    let rows = rows.as_array().expect("rows");
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.get("TOTAL_CONVERSIONS").is_none()));
    assert!(rows
        .iter()
        .all(|r| r["DATE"].as_str().is_some_and(|d| d.len() == 19)));
}

#[tokio::test]
async fn sync_rows_are_a_bare_array_and_targeting_is_wrapped() {
    let sb = roomy().await;
    let ids = sb.ids("campaigns").await;
    let r = sb
        .get(&analytics(
            "campaigns/",
            "campaign_ids",
            &ids,
            ago(10),
            ago(1),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("x-ratelimit-limit").is_some());
    let rows = r.json();
    let rows = rows.as_array().expect("a bare array");
    assert!(!rows.is_empty());
    for row in rows {
        assert!(row["CAMPAIGN_ID"].is_string(), "{row}");
        assert!(row["DATE"].is_string());
        assert!(row["CAMPAIGN_NAME"].is_string());
        if let Some(s) = row.get("SPEND_IN_MICRO_DOLLAR") {
            assert!(s.is_u64());
        }
    }
    // zero-valued metrics are left out of some rows and kept in others
    let ads = sb.ids("ads").await;
    let rows = sb
        .get(
            &analytics("ads/", "ad_ids", &ads[ads.len() - 250..], ago(10), ago(1))
                .replace("CTR,", "CTR,LEADS,"),
        )
        .await
        .json();
    let rows = rows.as_array().cloned().unwrap_or_default();
    assert!(rows.len() > 100, "{} rows", rows.len());
    assert!(rows.iter().any(|r| r.get("LEADS") == Some(&json!(0))));
    assert!(rows.iter().any(|r| r.get("LEADS").is_none()));
    assert!(rows.iter().all(|r| r["AD_ID"].is_string()));

    let total = sb
        .get(
            &analytics("campaigns/", "campaign_ids", &ids, ago(10), ago(1)).replace("DAY", "TOTAL"),
        )
        .await
        .json();
    assert!(total
        .as_array()
        .is_some_and(|rows| rows.iter().all(|r| r.get("DATE").is_none())));

    let unknown = sb
        .get(
            &analytics("campaigns/", "campaign_ids", &ids, ago(3), ago(1))
                .replace("CTR,", "CTR,FOO,"),
        )
        .await;
    assert_eq!((unknown.status, unknown.code()), (400, 1));
    assert!(unknown.text().contains("FOO"));
    let date = sb
        .get(
            &analytics("campaigns/", "campaign_ids", &ids, ago(3), ago(1)).replace("CTR,", "DATE,"),
        )
        .await;
    assert_eq!((date.status, date.code()), (400, 1));
    assert!(date.text().contains("DATE"));

    let targeting = |level: &str, key: &str, ids: &[String], types: &str| {
        format!(
            "{}&targeting_types={types}",
            analytics(level, key, ids, ago(5), ago(1))
                .replace("/analytics?", "/targeting_analytics?")
        )
    };
    let t = sb
        .get(&targeting(
            "campaigns/",
            "campaign_ids",
            &ids,
            "GENDER,AGE_BUCKET,CREATIVE_TYPE,LOCATION,KEYWORD,PLACEMENT,COUNTRY",
        ))
        .await;
    assert_eq!(t.status, 200, "{}", t.text());
    let data = t.json();
    let data = data["data"].as_array().expect("{data: [...]}");
    assert!(!data.is_empty());
    for e in data {
        assert!(e["targeting_type"].is_string());
        assert!(e["metrics"]["CAMPAIGN_ID"].is_u64(), "{e}");
        assert!(e["metrics"]["DATE"].is_string());
    }
    assert!(data
        .iter()
        .any(|e| e["targeting_type"] == "LOCATION" && e["targeting_value"].is_number()));
    let account = sb
        .get(&format!(
            "/v5/ad_accounts/{ACCOUNT}/targeting_analytics?start_date={}&end_date={}&granularity=DAY&columns=SPEND_IN_DOLLAR&targeting_types=COUNTRY",
            ago(3),
            ago(1)
        ))
        .await;
    assert_eq!(account.status, 200, "{}", account.text());
    let ads = sb.ids("ads").await;
    let quiz = sb
        .get(&targeting("ads/", "ad_ids", &ads[..200], "QUIZ_RESULT"))
        .await;
    assert_eq!(quiz.status, 200, "{}", quiz.text());
    let refused = sb
        .get(&targeting(
            "campaigns/",
            "campaign_ids",
            &ids,
            "QUIZ_RESULT",
        ))
        .await;
    assert_eq!((refused.status, refused.code()), (400, 1));
}

#[tokio::test]
async fn the_truth_equals_a_complete_sync_pull() {
    let sb = roomy().await;
    let (from, to) = (ago(89), ago(1));
    let truth = |level: &str, extra: &str| {
        format!(
            "/_sandbox/pinterest/analytics?level={level}&start_date={from}&end_date={to}&columns={COLUMNS}{extra}"
        )
    };
    let campaigns = sb.ids("campaigns").await;
    let pulled = sb
        .get(&analytics(
            "campaigns/",
            "campaign_ids",
            &campaigns,
            from,
            to,
        ))
        .await;
    assert_eq!(pulled.status, 200);
    let expected = sb.get(&truth("CAMPAIGN", "")).await;
    assert_eq!(expected.status, 200, "{}", expected.text());
    assert!(expected.json().as_array().is_some_and(|a| a.len() > 100));
    assert_eq!(pulled.json(), expected.json());

    // ads: 650 ids in chunks of 250
    let ads = sb.ids("ads").await;
    let mut rows = Vec::new();
    for chunk in ads.chunks(250) {
        let r = sb.get(&analytics("ads/", "ad_ids", chunk, from, to)).await;
        assert_eq!(r.status, 200);
        rows.extend(r.json().as_array().cloned().unwrap_or_default());
    }
    assert_eq!(Value::Array(rows), sb.get(&truth("AD", "")).await.json());

    let account = sb
        .get(&format!(
            "/v5/ad_accounts/{ACCOUNT}/analytics?start_date={from}&end_date={to}&granularity=WEEK&columns={COLUMNS}&click_window_days=7"
        ))
        .await;
    assert_eq!(
        account.json(),
        sb.get(&truth(
            "ADVERTISER",
            "&granularity=WEEK&click_window_days=7"
        ))
        .await
        .json()
    );

    let groups = sb.ids("ad_groups").await;
    let targeted = sb
        .get(&format!(
            "{}&targeting_types=GENDER,COUNTRY",
            analytics("ad_groups/", "ad_group_ids", &groups, ago(20), to)
                .replace("/analytics?", "/targeting_analytics?")
        ))
        .await;
    assert_eq!(targeted.status, 200);
    let expected = sb
        .get(&format!(
            "/_sandbox/pinterest/analytics?level=AD_GROUP&start_date={}&end_date={to}&columns={COLUMNS}&targeting_types=GENDER,COUNTRY",
            ago(20)
        ))
        .await;
    assert_eq!(targeted.json(), expected.json());
    // older than 90 days: the truth has it, the endpoint refuses it
    let old = sb
        .get(&format!(
            "/_sandbox/pinterest/analytics?level=CAMPAIGN&start_date={}&end_date={}&columns=SPEND_IN_MICRO_DOLLAR",
            ago(300),
            ago(200)
        ))
        .await;
    assert!(old.json().as_array().is_some_and(|a| !a.is_empty()));
}

/// Sum of `TOTAL_CONVERSIONS` over the campaigns' rows of `day`.
async fn conversions(sb: &Sb, ids: &[String], day: NaiveDate) -> u64 {
    let r = sb
        .get(&analytics("campaigns/", "campaign_ids", ids, day, day))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r.get("TOTAL_CONVERSIONS").and_then(Value::as_u64))
        .sum()
}

#[tokio::test]
async fn conversions_restate_for_recent_days_and_not_for_old_ones() {
    let sb = roomy().await;
    let ids = sb.ids("campaigns").await;
    let (recent, old) = (ago(3), ago(60));
    let before = (
        conversions(&sb, &ids, recent).await,
        conversions(&sb, &ids, old).await,
    );
    assert!(before.0 > 0 && before.1 > 0, "{before:?}");
    let r = sb
        .send(
            sb.client
                .post(sb.url("/_sandbox/pinterest/clock"))
                .header("content-type", "application/json")
                .body(json!({"advance_days": 5}).to_string()),
        )
        .await;
    assert_eq!(
        r.json()["today"],
        (today() + chrono::Duration::days(5)).to_string()
    );
    let after = (
        conversions(&sb, &ids, recent).await,
        conversions(&sb, &ids, old).await,
    );
    assert!(after.0 > before.0, "{before:?} → {after:?}");
    assert_eq!(after.1, before.1);
}

fn report_body(level: &str) -> Value {
    json!({
        "start_date": ago(400).to_string(),
        "end_date": ago(220).to_string(),
        "granularity": "DAY",
        "level": level,
        "columns": ["SPEND_IN_MICRO_DOLLAR", "IMPRESSION_1", "TOTAL_CONVERSIONS", "CAMPAIGN_NAME", "CAMPAIGN_STATUS"],
    })
}

async fn create_report(sb: &Sb, body: &Value) -> String {
    let r = sb
        .post_json(&format!("/v5/ad_accounts/{ACCOUNT}/reports"), body)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["report_status"], "IN_PROGRESS");
    assert!(v["message"].is_null());
    v["token"].as_str().expect("a token").to_string()
}

async fn poll(sb: &Sb, token: &str) -> Value {
    // Airbyte sends the token quoted
    let r = sb
        .get(&format!(
            "/v5/ad_accounts/{ACCOUNT}/reports?token='{token}'"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn reports_run_in_progress_then_finished_with_a_presigned_link() {
    let sb = start(PinterestConfig {
        download_ttl: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let token = create_report(&sb, &report_body("CAMPAIGN")).await;
    assert_eq!(poll(&sb, &token).await["report_status"], "IN_PROGRESS");
    assert_eq!(poll(&sb, &token).await["report_status"], "IN_PROGRESS");
    let done = poll(&sb, &token).await;
    assert_eq!(done["report_status"], "FINISHED", "{done}");
    let url = done["url"].as_str().expect("a url").to_string();
    assert!(url.starts_with(&sb.sandbox.base_url()));

    let file = sb.send(sb.client.get(&url)).await;
    assert_eq!(file.status, 200, "{}", file.text());
    assert_eq!(done["size"].as_u64(), Some(file.body.len() as u64));
    let report = file.json();
    let by_id = report.as_object().expect("keyed by entity id");
    assert!(!by_id.is_empty());
    for (id, rows) in by_id {
        for row in rows.as_array().expect("rows") {
            assert_eq!(
                row["CAMPAIGN_ID"]
                    .as_u64()
                    .map(|n| n.to_string())
                    .as_deref(),
                Some(id.as_str())
            );
            assert!(row["DATE"].is_string());
            assert!(row
                .as_object()
                .is_some_and(|o| o.values().all(|v| v != &json!(0))));
        }
    }
    let expected = sb
        .get(&format!(
            "/_sandbox/pinterest/analytics?level=CAMPAIGN&shape=report&start_date={}&end_date={}&columns=SPEND_IN_MICRO_DOLLAR,IMPRESSION_1,TOTAL_CONVERSIONS,CAMPAIGN_NAME,CAMPAIGN_STATUS",
            ago(400),
            ago(220)
        ))
        .await;
    assert_eq!(report, expected.json());

    let with_auth = sb
        .send(
            sb.client
                .get(&url)
                .bearer_auth(credentials::PINTEREST_ACCESS_TOKEN),
        )
        .await;
    assert_eq!(with_auth.status, 400);
    assert!(with_auth.text().contains("Only one auth mechanism allowed"));
    let forged = sb.send(sb.client.get(format!("{url}0"))).await;
    assert_eq!(forged.status, 403);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let late = sb.send(sb.client.get(&url)).await;
    assert_eq!(late.status, 403, "{}", late.text());
    assert!(late.text().contains("Request has expired"));
    // a new poll hands out a fresh link
    let fresh = poll(&sb, &token).await["url"].as_str().map(str::to_string);
    assert_eq!(
        sb.send(sb.client.get(fresh.expect("a url"))).await.status,
        200
    );

    let stats = sb.stats();
    assert_eq!(stats["reports_created"], 1);
    assert_eq!(stats["report_polls"], 4);
    assert_eq!(stats["downloads"], 2);
    assert_eq!(
        stats["categories"]["ads_analytics"]["requests"], 5,
        "{stats}"
    );

    // the body is JSON only, validated
    let q = sb
        .post_json(
            &format!("/v5/ad_accounts/{ACCOUNT}/reports?level=CAMPAIGN"),
            &report_body("CAMPAIGN"),
        )
        .await;
    assert_eq!((q.status, q.code()), (400, 1));
    let mut too_old = report_body("CAMPAIGN");
    too_old["start_date"] = json!(ago(915).to_string());
    too_old["end_date"] = json!(ago(800).to_string());
    assert_eq!(
        sb.post_json(&format!("/v5/ad_accounts/{ACCOUNT}/reports"), &too_old)
            .await
            .status,
        400
    );
    let mut too_long = report_body("CAMPAIGN");
    too_long["start_date"] = json!(ago(400).to_string());
    too_long["end_date"] = json!(ago(213).to_string());
    assert_eq!(
        sb.post_json(&format!("/v5/ad_accounts/{ACCOUNT}/reports"), &too_long)
            .await
            .status,
        400
    );
    let mut statuses = report_body("CAMPAIGN");
    statuses["campaign_statuses"] = json!([
        "RUNNING",
        "PAUSED",
        "NOT_STARTED",
        "COMPLETED",
        "ADVERTISER_DISABLED",
        "ARCHIVED",
        "DRAFT"
    ]);
    assert_eq!(
        sb.post_json(&format!("/v5/ad_accounts/{ACCOUNT}/reports"), &statuses)
            .await
            .status,
        400
    );
    let mut targeting = report_body("CAMPAIGN_TARGETING");
    targeting["targeting_types"] = json!(["GENDER", "COUNTRY"]);
    let t = create_report(&sb, &targeting).await;
    for _ in 0..2 {
        poll(&sb, &t).await;
    }
    let url = poll(&sb, &t).await["url"]
        .as_str()
        .map(str::to_string)
        .expect("a url");
    let rows = sb.send(sb.client.get(url)).await.json();
    assert!(rows
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|r| r[0]["TARGETING_TYPE"].as_str())
        .is_some());
    assert_eq!(poll(&sb, "nope").await["report_status"], "DOES_NOT_EXIST");
}

#[tokio::test]
async fn report_faults_fail_expire_and_spoil_the_link() {
    let sb = start(PinterestConfig {
        report_polls_in_progress: 0,
        ..Default::default()
    })
    .await;
    sb.faults("report-failed@1").await;
    let t = create_report(&sb, &report_body("ADVERTISER")).await;
    assert_eq!(poll(&sb, &t).await["report_status"], "FAILED");
    sb.faults("report-expired@1").await;
    let t = create_report(&sb, &report_body("AD_GROUP")).await;
    assert_eq!(poll(&sb, &t).await["report_status"], "EXPIRED");
    sb.faults("expire-link@2").await;
    let t = create_report(&sb, &report_body("PIN_PROMOTION")).await;
    let done = poll(&sb, &t).await;
    assert_eq!(done["report_status"], "FINISHED");
    let r = sb
        .send(sb.client.get(done["url"].as_str().expect("a url")))
        .await;
    assert_eq!(r.status, 403);

    let sb = start(PinterestConfig {
        report_ttl: Duration::from_millis(800),
        ..Default::default()
    })
    .await;
    let t = create_report(&sb, &report_body("CAMPAIGN")).await;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(poll(&sb, &t).await["report_status"], "EXPIRED");
}

#[tokio::test]
async fn an_analytics_burst_over_300_is_throttled_while_entity_lists_pass() {
    let sb = start(PinterestConfig {
        quotas: PinterestQuotas {
            universal: QuotaSpec::new("universal", 100_000, 1),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let ids = sb.ids("campaigns").await;
    let target = analytics("campaigns/", "campaign_ids", &ids[..1], ago(2), ago(1));
    let replies = futures::future::join_all((0..300).map(|_| sb.get(&target))).await;
    assert!(replies.iter().all(|r| r.status == 200));
    let mut remaining: Vec<u32> = replies
        .iter()
        .filter_map(|r| r.header("x-ratelimit-remaining")?.parse().ok())
        .collect();
    remaining.sort();
    assert_eq!(remaining.first(), Some(&0));
    assert_eq!(remaining.last(), Some(&299));
    assert!(replies
        .iter()
        .all(|r| r.header("x-ratelimit-limit").as_deref() == Some("300")));
    let over = sb.get(&target).await;
    assert_eq!(over.status, 429);
    assert_eq!(
        over.json(),
        json!({"code": 8, "message": "This request exceeded a rate limit. This can happen if the client exceeds one of the published rate limits within a short time window."})
    );
    let reset: u64 = over
        .header("x-ratelimit-reset")
        .and_then(|r| r.parse().ok())
        .expect("a reset");
    assert!((1..=60).contains(&reset));
    // reports share the bucket; entity lists do not
    let report = sb
        .post_json(
            &format!("/v5/ad_accounts/{ACCOUNT}/reports"),
            &report_body("CAMPAIGN"),
        )
        .await;
    assert_eq!(report.status, 429);
    let list = sb
        .get(&format!("/v5/ad_accounts/{ACCOUNT}/campaigns"))
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.header("x-ratelimit-limit").as_deref(), Some("1000"));
    let stats = sb.stats();
    assert_eq!(stats["categories"]["ads_analytics"]["429"], 2, "{stats}");
}

#[tokio::test]
async fn the_universal_bucket_allows_100_a_second_and_quota_replaces_everything() {
    let sb = start(PinterestConfig::default()).await;
    let replies = futures::future::join_all((0..200).map(|_| sb.get("/v5/ad_accounts"))).await;
    let throttled = replies.iter().filter(|r| r.status == 429).count();
    assert!(throttled >= 1, "200 requests at once, none throttled");
    assert!(replies.iter().filter(|r| r.status == 200).count() <= 100);

    let sb = start(PinterestConfig {
        quota: Some(QuotaSpec::new("quota", 3, 60)),
        ..Default::default()
    })
    .await;
    let ids = sb.ids("campaigns").await;
    assert_eq!(sb.get("/v5/ad_accounts").await.status, 200);
    assert_eq!(
        sb.get(&analytics(
            "campaigns/",
            "campaign_ids",
            &ids,
            ago(2),
            ago(1)
        ))
        .await
        .status,
        200
    );
    assert_eq!(
        sb.get(&format!("/v5/ad_accounts/{ACCOUNT}/ads"))
            .await
            .status,
        200
    );
    let r = sb.get("/v5/ad_accounts").await;
    assert_eq!((r.status, r.code()), (429, 8));
    assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("3"));
}

#[tokio::test]
async fn faults_speak_pinterest() {
    let sb = roomy().await;
    sb.faults("daily-quotax2@1,retry-after@3,code12@4,500@5,429@6")
        .await;
    for _ in 0..2 {
        let r = sb.get("/v5/ad_accounts").await;
        assert_eq!((r.status, r.code()), (429, 8));
        assert_eq!(r.header("x-ratelimit-reset").as_deref(), Some("67150"));
    }
    let r = sb.get("/v5/ad_accounts").await;
    assert_eq!((r.status, r.code()), (400, 1));
    assert!(r.text().contains("Retry after 2 seconds"));
    let r = sb.get("/v5/ad_accounts").await;
    assert_eq!((r.status, r.code()), (400, 12));
    assert!(r.text().contains("Something went wrong"));
    assert_eq!(sb.get("/v5/ad_accounts").await.status, 500);
    let r = sb.get("/v5/ad_accounts").await;
    assert_eq!((r.status, r.code()), (429, 8));
    assert_eq!(r.header("x-ratelimit-reset").as_deref(), Some("1"));
    assert_eq!(sb.get("/v5/ad_accounts").await.status, 200);

    sb.faults("expire-cursor@1,misfit@3").await;
    let first = sb
        .get(&format!("/v5/ad_accounts/{ACCOUNT}/ads?page_size=5"))
        .await
        .json();
    let bookmark = first["bookmark"].as_str().expect("a bookmark").to_string();
    let next = sb
        .get(&format!(
            "/v5/ad_accounts/{ACCOUNT}/ads?page_size=5&bookmark={}",
            url::form_urlencoded::byte_serialize(bookmark.as_bytes()).collect::<String>()
        ))
        .await;
    assert_eq!((next.status, next.code()), (400, 1));
    let misfit = sb
        .get(&format!("/v5/ad_accounts/{ACCOUNT}/ads?page_size=5"))
        .await
        .json();
    assert!(misfit["items"][0]["created_time"].is_string());
}
