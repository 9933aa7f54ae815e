//! The LinkedIn Marketing API simulator over real HTTP, from a sandbox on port 0: Rest.li
//! encodings, field limits, tunneling, URL length, versions, the silent element cap, totals
//! across pivots, daily and data-volume throttles, the refresh grant, faults and entity paging.

use chrono::{Datelike, Duration, Utc};
use serde_json::Value;
use sluice_sandbox::{credentials, LinkedInConfig, Sandbox, SandboxConfig};

const VERSION: &str = "202601";

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("a JSON body: {}", String::from_utf8_lossy(&self.body)))
    }

    fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

struct Sb {
    sandbox: Sandbox,
    client: reqwest::Client,
}

fn config() -> LinkedInConfig {
    LinkedInConfig {
        latest_version: Some("202612".into()),
        ..Default::default()
    }
}

async fn start(linkedin: LinkedInConfig) -> Sb {
    let sandbox = Sandbox::start(
        ([127, 0, 0, 1], 0).into(),
        SandboxConfig {
            linkedin,
            ..Default::default()
        },
    )
    .await
    .expect("sandbox starts");
    Sb {
        sandbox,
        client: reqwest::Client::new(),
    }
}

impl Sb {
    fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.sandbox.base_url())
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let body = r.bytes().await.expect("body").to_vec();
        Reply { status, body }
    }

    fn rest(&self, path_and_query: &str) -> reqwest::RequestBuilder {
        self.client
            .get(self.url(path_and_query))
            .bearer_auth(credentials::LINKEDIN_ACCESS_TOKEN)
            .header("LinkedIn-Version", VERSION)
            .header("X-Restli-Protocol-Version", "2.0.0")
    }

    async fn get(&self, path_and_query: &str) -> Reply {
        self.send(self.rest(path_and_query)).await
    }

    async fn truth(&self, path_and_query: &str) -> Value {
        let r = self.send(self.client.get(self.url(path_and_query))).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    async fn stats(&self) -> Value {
        self.sandbox.stats_json()["vendors"]["linkedin"].clone()
    }
}

fn account() -> &'static str {
    credentials::LINKEDIN_ACCOUNT_IDS[0]
}

/// A year back to today, as a Rest.li 2.0 dateRange, and as the truth's start/end.
fn range() -> (String, String, String) {
    let end = Utc::now().date_naive();
    let start = end - Duration::days(400);
    (
        format!(
            "(start:(year:{},month:{},day:{}),end:(year:{},month:{},day:{}))",
            start.year(),
            start.month(),
            start.day(),
            end.year(),
            end.month(),
            end.day()
        ),
        start.to_string(),
        end.to_string(),
    )
}

async fn campaign_ids(sb: &Sb) -> Vec<u64> {
    let t = sb
        .truth(&format!(
            "/_sandbox/linkedin/entities?type=campaigns&account={}",
            account()
        ))
        .await;
    t["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .filter_map(|c| c["id"].as_u64())
        .collect()
}

fn campaigns_list(ids: &[u64], encode: &str) -> String {
    let items: Vec<String> = ids
        .iter()
        .map(|id| format!("urn{encode}li{encode}sponsoredCampaign{encode}{id}"))
        .collect();
    format!("List({})", items.join(","))
}

#[tokio::test]
async fn restli_two_with_encoded_urns_answers_rows_and_double_encoding_is_refused() {
    let sb = start(config()).await;
    let ids = campaign_ids(&sb).await;
    let (range, start, end) = range();
    let q = format!(
        "/rest/adAnalytics?q=analytics&pivot=(value:CAMPAIGN)&timeGranularity=(value:DAILY)&dateRange={range}&campaigns={}&fields=dateRange,pivotValues,impressions,clicks,costInUsd",
        campaigns_list(&ids, "%3A")
    );
    let r = sb.get(&q).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    let elements = v["elements"].as_array().expect("elements");
    assert!(!elements.is_empty());
    assert_eq!(v["paging"]["start"], 0);
    let e = &elements[0];
    assert!(e["pivotValues"][0]
        .as_str()
        .is_some_and(|s| s.starts_with("urn:li:sponsoredCampaign:")));
    assert!(
        e["costInUsd"].is_string() && e["impressions"].is_u64(),
        "{e}"
    );
    let keys: Vec<&String> = e.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 5, "only the requested fields: {keys:?}");
    let truth = sb
        .truth(&format!(
            "/_sandbox/linkedin/analytics?pivots=CAMPAIGN&granularity=DAILY&start={start}&end={end}&fields=dateRange,pivotValues,impressions,clicks,costInUsd&campaigns={}",
            ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
        ))
        .await;
    assert_eq!(truth["elements"], v["elements"]);

    // double-encoded URNs decode to `urn%3Ali…`, which is not a URN
    let double = q.replace(&campaigns_list(&ids, "%3A"), &campaigns_list(&ids, "%253A"));
    let r = sb.get(&double).await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("URN"), "{}", r.message());
    // literal colons inside a List are a syntax error in 2.0
    let literal = q.replace(&campaigns_list(&ids, "%3A"), &campaigns_list(&ids, ":"));
    assert_eq!(sb.get(&literal).await.status, 400);
    // unbalanced parentheses
    assert_eq!(
        sb.get(&q.replace("(value:DAILY)", "(value:DAILY"))
            .await
            .status,
        400
    );

    // Rest.li 1.0 without the protocol header reads the dotted form
    let today = Utc::now().date_naive();
    let first = today - Duration::days(400);
    let v1 = format!(
        "/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange.start.year={}&dateRange.start.month={}&dateRange.start.day={}&dateRange.end.year={}&dateRange.end.month={}&dateRange.end.day={}&{}&fields=dateRange,pivotValues,impressions,clicks,costInUsd",
        first.year(), first.month(), first.day(), today.year(), today.month(), today.day(),
        ids.iter().enumerate().map(|(i, id)| format!("campaigns[{i}]=urn:li:sponsoredCampaign:{id}")).collect::<Vec<_>>().join("&")
    );
    let r = sb
        .send(
            sb.client
                .get(sb.url(&v1))
                .bearer_auth(credentials::LINKEDIN_ACCESS_TOKEN)
                .header("LinkedIn-Version", VERSION),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["elements"], v["elements"]);
}

#[tokio::test]
async fn fields_limit_unknown_fields_and_default_fields() {
    let sb = start(config()).await;
    let (range, _, _) = range();
    let base = format!(
        "/rest/adAnalytics?q=analytics&pivot=ACCOUNT&timeGranularity=ALL&dateRange={range}&accounts=List(urn%3Ali%3AsponsoredAccount%3A{})",
        account()
    );
    let metrics = [
        "impressions",
        "clicks",
        "costInUsd",
        "costInLocalCurrency",
        "likes",
        "comments",
        "shares",
        "follows",
        "totalEngagements",
        "videoViews",
        "videoCompletions",
        "oneClickLeads",
        "opens",
        "sends",
        "reactions",
        "actionClicks",
        "adUnitClicks",
        "cardClicks",
        "cardImpressions",
    ];
    let twenty_one = format!("{base}&fields=dateRange,pivotValues,{}", metrics.join(","));
    let r = sb.get(&twenty_one).await;
    assert_eq!(r.status, 400);
    assert!(
        r.message().contains("fields") && r.message().contains("20"),
        "{}",
        r.message()
    );
    let twenty = format!(
        "{base}&fields=dateRange,pivotValues,{}",
        metrics[..18].join(",")
    );
    assert_eq!(sb.get(&twenty).await.status, 200);
    let r = sb
        .get(&format!("{base}&fields=impressions,bogusMetric"))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("bogusMetric"));
    let r = sb.get(&base).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let e = &v["elements"][0];
    let mut keys: Vec<&str> = e
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["clicks", "dateRange", "impressions", "pivotValues"]);
    // a range over all of time is answered (and fast): only delivery days are walked
    let wide = base.replace(
        &range,
        "(start:(year:1,month:1,day:1),end:(year:9999,month:12,day:31))",
    );
    let r = sb.get(&wide).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["elements"].as_array().map(Vec::len), Some(1));
    // hostile Rest.li is a 400, not a dropped connection
    for bad in ["List(", "((((", "(a:List(b)", "List(a,,b)", "%zz"] {
        let r = sb.get(&format!("{base}&campaigns={bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
    }
    // no facet
    let r = sb
        .get(&format!(
            "/rest/adAnalytics?q=analytics&pivot=ACCOUNT&timeGranularity=ALL&dateRange={range}"
        ))
        .await;
    assert_eq!(r.status, 400);
    // four pivots
    let r = sb
        .get(&base.replace(
            "q=analytics&pivot=ACCOUNT",
            "q=statistics&pivots=List(ACCOUNT,CAMPAIGN,CREATIVE,CAMPAIGN_GROUP)",
        ))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn tunneled_post_answers_what_the_get_answers() {
    let sb = start(config()).await;
    let (range, _, _) = range();
    let query = format!(
        "q=statistics&pivots=List(CAMPAIGN,CREATIVE)&timeGranularity=MONTHLY&dateRange={range}&accounts=List(urn%3Ali%3AsponsoredAccount%3A{})&fields=dateRange,pivotValues,impressions,costInLocalCurrency",
        account()
    );
    let get = sb.get(&format!("/rest/adAnalytics?{query}")).await;
    assert_eq!(get.status, 200);
    let post = sb
        .send(
            sb.client
                .post(sb.url("/rest/adAnalytics"))
                .bearer_auth(credentials::LINKEDIN_ACCESS_TOKEN)
                .header("LinkedIn-Version", VERSION)
                .header("X-Restli-Protocol-Version", "2.0.0")
                .header("X-HTTP-Method-Override", "GET")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(query.clone()),
        )
        .await;
    assert_eq!(post.status, 200, "{}", String::from_utf8_lossy(&post.body));
    assert_eq!(post.json()["elements"], get.json()["elements"]);
    assert_eq!(
        get.json()["elements"][0]["pivotValues"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let no_override = sb
        .send(
            sb.client
                .post(sb.url("/rest/adAnalytics"))
                .bearer_auth(credentials::LINKEDIN_ACCESS_TOKEN)
                .header("LinkedIn-Version", VERSION)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(query),
        )
        .await;
    assert_eq!(no_override.status, 405);
    assert_eq!(sb.stats().await["tunneled"], 1);
}

#[tokio::test]
async fn long_urls_old_versions_and_missing_headers() {
    let sb = start(LinkedInConfig {
        max_url_bytes: 600,
        ..config()
    })
    .await;
    let (range, _, _) = range();
    let ids: Vec<u64> = (0..40).map(|i| 731_000_101 + i).collect();
    let q = format!(
        "/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange={range}&campaigns={}",
        campaigns_list(&ids, "%3A")
    );
    assert!(q.len() > 600);
    assert_eq!(sb.get(&q).await.status, 414);
    let short = format!(
        "/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange={range}&campaigns={}",
        campaigns_list(&ids[..2], "%3A")
    );
    assert_eq!(sb.get(&short).await.status, 200);

    let with_version = |v: &str| {
        sb.client
            .get(sb.url(&short))
            .bearer_auth(credentials::LINKEDIN_ACCESS_TOKEN)
            .header("LinkedIn-Version", v)
            .header("X-Restli-Protocol-Version", "2.0.0")
    };
    let old = sb.send(with_version("202411")).await;
    assert_eq!(old.status, 426);
    assert!(old.message().contains("202411"), "{}", old.message());
    assert_eq!(sb.send(with_version("202511")).await.status, 426);
    assert_eq!(sb.send(with_version("202512")).await.status, 200);
    let future = sb.send(with_version("202701")).await;
    assert_eq!(future.status, 400);
    assert!(future.message().contains("202701"));
    let missing = sb
        .send(
            sb.client
                .get(sb.url(&short))
                .bearer_auth(credentials::LINKEDIN_ACCESS_TOKEN),
        )
        .await;
    assert_eq!(missing.status, 400);
    assert!(missing.message().contains("LinkedIn-Version"));
    let unknown = sb
        .send(
            sb.client
                .get(sb.url(&short))
                .bearer_auth("AQVnope")
                .header("LinkedIn-Version", VERSION),
        )
        .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["serviceErrorCode"], 65601);
    let s = sb.stats().await;
    assert_eq!(s["rejected_414"], 1);
    assert_eq!(s["rejected_426"], 2);
    assert!(s["by_route"]["/rest/adAnalytics"]["200"].as_u64() >= Some(2));
}

#[tokio::test]
async fn elements_beyond_the_cap_are_dropped_silently() {
    let sb = start(LinkedInConfig {
        elements_cap: 50,
        ..config()
    })
    .await;
    let (range, start, end) = range();
    let r = sb
        .get(&format!(
            "/rest/adAnalytics?q=analytics&pivot=CREATIVE&timeGranularity=DAILY&dateRange={range}&accounts=List(urn%3Ali%3AsponsoredAccount%3A{})",
            account()
        ))
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let got = v["elements"].as_array().expect("elements").len();
    assert_eq!(got, 50);
    assert_eq!(
        v["paging"],
        serde_json::json!({"start": 0, "count": 10, "links": []})
    );
    let truth = sb
        .truth(&format!(
            "/_sandbox/linkedin/analytics?pivots=CREATIVE&granularity=DAILY&start={start}&end={end}&accounts={}",
            account()
        ))
        .await;
    assert!(truth["elements"].as_array().expect("elements").len() > 50);
    assert_eq!(sb.stats().await["truncated_responses"], 1);
}

#[tokio::test]
async fn account_totals_equal_the_sum_of_campaign_rows() {
    let sb = start(config()).await;
    let (range, _, _) = range();
    let total = |v: &Value| -> u64 {
        v["elements"]
            .as_array()
            .expect("elements")
            .iter()
            .filter_map(|e| e["impressions"].as_u64())
            .sum()
    };
    let facet = format!("accounts=List(urn%3Ali%3AsponsoredAccount%3A{})", account());
    let by_account = sb
        .get(&format!("/rest/adAnalytics?q=analytics&pivot=ACCOUNT&timeGranularity=ALL&dateRange={range}&{facet}"))
        .await
        .json();
    let by_campaign = sb
        .get(&format!("/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange={range}&{facet}"))
        .await
        .json();
    let by_seniority = sb
        .get(&format!("/rest/adAnalytics?q=analytics&pivot=MEMBER_SENIORITY&timeGranularity=ALL&dateRange={range}&{facet}"))
        .await
        .json();
    assert_eq!(by_account["elements"].as_array().map(Vec::len), Some(1));
    assert!(total(&by_account) > 0);
    assert_eq!(total(&by_account), total(&by_campaign));
    assert!(total(&by_seniority) <= total(&by_account));
    assert!(by_seniority["elements"][0]["pivotValues"][0]
        .as_str()
        .is_some_and(|s| s.starts_with("urn:li:seniority:")));
}

#[tokio::test]
async fn daily_quota_and_data_volume_answer_429() {
    let sb = start(LinkedInConfig {
        member_daily_limit: Some(2),
        ..config()
    })
    .await;
    let (range, _, _) = range();
    let q = format!(
        "/rest/adAnalytics?q=analytics&pivot=ACCOUNT&timeGranularity=ALL&dateRange={range}&accounts=List(urn%3Ali%3AsponsoredAccount%3A{})",
        account()
    );
    assert_eq!(sb.get(&q).await.status, 200);
    assert_eq!(sb.get(&q).await.status, 200);
    let r = sb.send(sb.rest(&q)).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        serde_json::json!({"status": 429, "serviceErrorCode": 101, "code": "TOO_MANY_REQUESTS",
            "message": "Resource level throttle APPLICATION_AND_MEMBER DAY limit for calls to this resource is reached."})
    );
    let raw = sb.rest(&q).send().await.expect("request");
    assert!(raw.headers().get("retry-after").is_none());
    // entity routes are not counted
    assert_eq!(sb.get("/rest/adAccounts?q=search").await.status, 200);

    let sb = start(LinkedInConfig {
        data_volume_limit: Some(3),
        ..config()
    })
    .await;
    assert_eq!(sb.get(&q).await.status, 200); // 1 element × 2 metrics
    let r = sb.get(&q).await;
    assert_eq!(r.status, 429);
    assert!(r.message().contains("45 million metric values"));

    let sb = start(config()).await;
    let set = sb
        .client
        .post(sb.url("/_sandbox/faults"))
        .body("linkedin-daily-quota@1,linkedin-data-volume@2")
        .send()
        .await
        .expect("faults");
    assert_eq!(set.status().as_u16(), 204);
    let r = sb.get(&q).await;
    assert_eq!(r.status, 429);
    assert!(r.message().contains("APPLICATION_AND_MEMBER DAY"));
    let r = sb.get(&q).await;
    assert!(r.message().contains("data request limit"));
    assert_eq!(sb.get(&q).await.status, 200);
}

#[tokio::test]
async fn refresh_grant_returns_a_working_token_and_expiry_is_reported() {
    let sb = start(config()).await;
    let form = |refresh: &str, secret: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh)
            .append_pair("client_id", credentials::LINKEDIN_CLIENT_ID)
            .append_pair("client_secret", secret)
            .finish()
    };
    let token = |body: String| {
        sb.client
            .post(sb.url("/oauth/v2/accessToken"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let bad = sb
        .send(token(form("nope", credentials::LINKEDIN_CLIENT_SECRET)))
        .await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["error"], "invalid_request");
    let bad = sb
        .send(token(form(credentials::LINKEDIN_REFRESH_TOKEN, "wrong")))
        .await;
    assert_eq!(bad.status, 401);

    // the initial token expires (fault), then a refreshed one works
    let set = sb
        .client
        .post(sb.url("/_sandbox/faults"))
        .body("linkedin-expire-token@1")
        .send()
        .await
        .expect("faults");
    assert_eq!(set.status().as_u16(), 204);
    let r = sb.get("/rest/adAccounts?q=search").await;
    assert_eq!(r.status, 401);
    assert!(r.message().contains("Expired access token"));
    let ok = sb
        .send(token(form(
            credentials::LINKEDIN_REFRESH_TOKEN,
            credentials::LINKEDIN_CLIENT_SECRET,
        )))
        .await;
    assert_eq!(ok.status, 200);
    let v = ok.json();
    assert_eq!(v["refresh_token"], credentials::LINKEDIN_REFRESH_TOKEN);
    assert_eq!(v["scope"], "r_ads,r_ads_reporting");
    assert_eq!(v["expires_in"], 3600);
    let fresh = v["access_token"].as_str().expect("access token");
    let r = sb
        .send(
            sb.client
                .get(sb.url(&format!("/rest/adAccounts/{}", account())))
                .bearer_auth(fresh)
                .header("LinkedIn-Version", VERSION),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"].as_u64(), account().parse().ok());
    let s = sb.stats().await;
    assert_eq!(s["refreshes"], 1);
    assert!(s["by_route"]["/oauth/v2/accessToken"]["401"].as_u64() == Some(2));
}

#[tokio::test]
async fn entity_paging_by_page_token_equals_the_truth() {
    let sb = start(LinkedInConfig {
        campaign_groups_per_account: 5,
        ..config()
    })
    .await;
    let all = "search=(status:(values:List(ACTIVE,PAUSED,ARCHIVED,COMPLETED,CANCELED,DRAFT,PENDING_DELETION,REMOVED)))";
    let mut got = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = format!(
            "/rest/adAccounts/{}/adCampaigns?q=search&{all}&pageSize=3",
            account()
        );
        if let Some(t) = &token {
            q.push_str(&format!("&pageToken={t}"));
        }
        let r = sb.get(&q).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        got.extend(v["elements"].as_array().expect("elements").iter().cloned());
        pages += 1;
        match v["metadata"]["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
        assert!(pages < 100);
    }
    assert!(pages >= 3);
    let truth = sb
        .truth(&format!(
            "/_sandbox/linkedin/entities?type=campaigns&account={}",
            account()
        ))
        .await;
    assert_eq!(Value::Array(got), truth["elements"]);

    // without a status filter, REMOVED and PENDING_DELETION are left out
    let r = sb
        .get(&format!(
            "/rest/adAccounts/{}/adCampaigns?q=search&pageSize=1000",
            account()
        ))
        .await;
    let shown = r.json()["elements"].as_array().expect("elements").clone();
    assert!(shown
        .iter()
        .all(|c| c["status"] != "REMOVED" && c["status"] != "PENDING_DELETION"));
    assert!(shown.len() < truth["elements"].as_array().map_or(0, Vec::len));

    let bad = sb
        .get(&format!(
            "/rest/adAccounts/{}/adCampaigns?q=search&pageToken=garbage",
            account()
        ))
        .await;
    assert_eq!(bad.status, 400);
    let big = sb
        .get(&format!(
            "/rest/adAccounts/{}/adCampaigns?q=search&pageSize=1001",
            account()
        ))
        .await;
    assert_eq!(big.status, 400);
    let missing = sb.get("/rest/adAccounts/999").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "NOT_FOUND");

    // creatives need the FINDER header and filter by campaign
    let campaign = truth["elements"][0]["id"].as_u64().expect("id");
    let creatives = format!(
        "/rest/adAccounts/{}/creatives?q=criteria&campaigns=List(urn%3Ali%3AsponsoredCampaign%3A{campaign})",
        account()
    );
    assert_eq!(sb.get(&creatives).await.status, 400);
    let r = sb
        .send(sb.rest(&creatives).header("X-RestLi-Method", "FINDER"))
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let elements = v["elements"].as_array().expect("elements");
    assert_eq!(elements.len(), 3);
    assert!(elements.iter().all(|c| c["campaign"]
        == format!("urn:li:sponsoredCampaign:{campaign}").as_str()
        && c["id"]
            .as_str()
            .is_some_and(|s| s.starts_with("urn:li:sponsoredCreative:"))));
    let groups = sb
        .get(&format!(
            "/rest/adAccounts/{}/adCampaignGroups?q=search",
            account()
        ))
        .await;
    assert_eq!(groups.status, 200);
    let g = &groups.json()["elements"][0];
    assert!(g["runSchedule"]["start"].is_i64() && g["totalBudget"]["amount"].is_string());
}
