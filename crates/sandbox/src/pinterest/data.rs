//! Deterministic ad accounts, campaigns, ad groups and ads. Times are relative to the day the
//! sandbox started (the anchor), so "ran in the past" and "active now" hold whatever the date:
//! the same seed started on the same day gives the same data.
//!
//! Statuses are mixed the way a real account ages: ARCHIVED campaigns ran and ended 100–320 days
//! ago (inside a report's 914 days, outside the 90 days of sync analytics), PAUSED ones stopped
//! in the last 120 days, children inherit or narrow their parent's window. Names carry unicode;
//! some ads share an `updated_time` second, so incremental boundaries are exercised.

use chrono::{Duration, NaiveDate};
use serde_json::{json, Value};

use crate::credentials;
use crate::rng::Rng;

/// The second account: shared through Business Access, small, and (for catalogs later) without a
/// catalog.
pub const SHARED_ACCOUNT_ID: &str = credentials::PINTEREST_SHARED_AD_ACCOUNT_ID;
/// The id of the user every sandbox token belongs to (the ad accounts' owner).
pub const USER_ID: &str = "1037320489845871235";
pub const USERNAME: &str = "sluice_sandbox";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Paused,
    Archived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Paused => "PAUSED",
            Status::Archived => "ARCHIVED",
        }
    }

    /// `CampaignSummaryStatus` / `AdGroupSummaryStatus` of an entity with this status.
    pub fn summary(self) -> &'static str {
        match self {
            Status::Active => "RUNNING",
            Status::Paused => "PAUSED",
            Status::Archived => "ARCHIVED",
        }
    }

    /// `PinPromotionSummaryStatus` of an ad with this status.
    pub fn ad_summary(self) -> &'static str {
        match self {
            Status::Active => "APPROVED",
            Status::Paused => "PAUSED",
            Status::Archived => "ARCHIVED",
        }
    }
}

/// The days an entity delivered on, inclusive; `to: None` runs through today.
#[derive(Debug, Clone, Copy)]
pub struct Active {
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

impl Active {
    pub fn contains(&self, d: NaiveDate) -> bool {
        d >= self.from && self.to.is_none_or(|t| d <= t)
    }

    fn narrow(self, from: NaiveDate, to: Option<NaiveDate>) -> Self {
        let to = match (self.to, to) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Self {
            from: self.from.max(from),
            to,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// Owned by the sandbox user (else shared with it through Business Access).
    pub owned: bool,
    pub currency: &'static str,
    pub country: &'static str,
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: u64,
    pub account: usize,
    pub name: String,
    pub status: Status,
    pub objective: &'static str,
    pub created: i64,
    pub updated: i64,
    pub start: i64,
    pub end: Option<i64>,
    pub daily_cap: Option<u64>,
    pub lifetime_cap: Option<u64>,
    pub cbo: bool,
    pub active: Active,
}

#[derive(Debug, Clone)]
pub struct AdGroup {
    pub id: u64,
    pub account: usize,
    pub campaign: usize,
    pub name: String,
    pub status: Status,
    pub created: i64,
    pub updated: i64,
    pub start: i64,
    pub end: Option<i64>,
    pub budget_type: &'static str,
    pub budget_micro: Option<u64>,
    pub bid_micro: Option<u64>,
    pub bid_multiplier: Option<f64>,
    pub billable_event: &'static str,
    pub active: Active,
}

#[derive(Debug, Clone)]
pub struct Ad {
    pub id: u64,
    pub account: usize,
    pub campaign: usize,
    pub ad_group: usize,
    pub pin_id: u64,
    pub name: String,
    pub status: Status,
    pub creative: &'static str,
    pub created: i64,
    pub updated: i64,
    pub active: Active,
    /// Delivery shape, fixed per ad: paid impressions on an ordinary day, click-through rate in
    /// basis points, CPM in micro dollars, average order value, conversion scale (per mille).
    pub scale: u64,
    pub ctr_bp: u64,
    pub cpm_micro: u64,
    pub aov_micro: u64,
    pub conv_permille: u64,
    pub video_length: Option<u64>,
    pub lead_form: bool,
}

pub struct Data {
    pub anchor: NaiveDate,
    pub accounts: Vec<Account>,
    pub campaigns: Vec<Campaign>,
    pub ad_groups: Vec<AdGroup>,
    pub ads: Vec<Ad>,
    /// Audiences, keywords, boards, catalogs and the rest (`assets.rs`).
    pub assets: super::assets::Assets,
}

const CAMPAIGN_THEMES: &[&str] = &[
    "Spring Décor Launch",
    "Été Sale – Ünïcode",
    "Holiday Gifts 🎁",
    "Küchen & Bad",
    "Back to School",
    "年末セール",
    "Rentrée des classes",
    "Always-on Retargeting",
    "Muebles de Jardín",
    "Wedding Season 💍",
    "Black Friday",
    "Summer Grill",
    "Zuhause im Herbst",
    "Łazienka Nowa",
];
const AUDIENCES: &[&str] = &[
    "Women 25–34",
    "Men 35–44",
    "Home décor lovers",
    "Gärtner & Balkon",
    "Lookalike 1%",
    "Retargeting 30d",
    "Broad",
    "Köche",
];
const PLACEMENTS: &[&str] = &["Browse", "Search", "All"];
const PRODUCTS: &[&str] = &[
    "Oak side table",
    "Linen throw",
    "Ceramic vase",
    "Café chair",
    "Ästhetik lamp",
    "Rattan basket",
    "Velvet sofa",
    "Herb planter",
    "Açaí bowl set",
    "Wool rug",
];
const OBJECTIVES: &[&str] = &[
    "AWARENESS",
    "CONSIDERATION",
    "WEB_CONVERSION",
    "CATALOG_SALES",
    "VIDEO_COMPLETION",
];
/// Creative types and their weight out of 100.
const CREATIVES: &[(&str, u64)] = &[
    ("REGULAR", 45),
    ("VIDEO", 14),
    ("SHOPPING", 10),
    ("CAROUSEL", 8),
    ("COLLECTION", 5),
    ("MAX_VIDEO", 5),
    ("IDEA", 5),
    ("QUIZ", 4),
    ("SHOWCASE", 4),
];

struct Sizes {
    campaigns: u64,
    ad_groups: u64,
    ads: u64,
}

/// Ids grow with creation, as Pinterest's do: each kind from its own realistic base.
struct Ids {
    campaign: u64,
    ad_group: u64,
    ad: u64,
    pin: u64,
}

impl Ids {
    fn bump(rng: &mut Rng, id: &mut u64) -> u64 {
        *id += 1 + rng.below(9_000);
        *id
    }
}

pub fn generate(seed: u64, anchor: NaiveDate, campaigns: u64, ad_groups: u64, ads: u64) -> Data {
    let anchor_ts = anchor
        .and_hms_opt(0, 0, 0)
        .map_or(0, |d| d.and_utc().timestamp());
    let mut data = Data {
        anchor,
        accounts: vec![
            Account {
                id: credentials::PINTEREST_AD_ACCOUNT_ID.to_string(),
                name: "Sluice Sandbox Ads – Maison Ünïcode".into(),
                owned: true,
                currency: "USD",
                country: "US",
                created: anchor_ts - 900 * 86_400 + 3_611,
                updated: anchor_ts - 40 * 86_400 + 7_202,
            },
            Account {
                id: SHARED_ACCOUNT_ID.to_string(),
                name: "Atelier Partagé (shared)".into(),
                owned: false,
                currency: "EUR",
                country: "FR",
                created: anchor_ts - 500 * 86_400 + 123,
                updated: anchor_ts - 200 * 86_400 + 456,
            },
        ],
        campaigns: Vec::new(),
        ad_groups: Vec::new(),
        ads: Vec::new(),
        assets: Default::default(),
    };
    let mut rng = Rng::new(seed ^ 0x5049_4E54);
    let mut ids = Ids {
        campaign: 626_736_533_506,
        ad_group: 2_680_060_704_746,
        ad: 687_195_134_316,
        pin: 394_205_773_611_545_468,
    };
    let main = Sizes {
        campaigns: campaigns.max(1),
        ad_groups: ad_groups.max(1),
        ads,
    };
    generate_account(&mut data, 0, &main, &mut rng, &mut ids, anchor_ts);
    let shared = Sizes {
        campaigns: 2,
        ad_groups: 4,
        ads: 8,
    };
    generate_account(&mut data, 1, &shared, &mut rng, &mut ids, anchor_ts);
    data.assets = super::assets::generate(seed, &data, anchor_ts);
    data
}

fn uniform(rng: &mut Rng, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        return lo;
    }
    lo + rng.below((hi - lo) as u64) as i64
}

fn day(anchor: NaiveDate, offset: i64) -> NaiveDate {
    anchor + Duration::days(offset)
}

/// A second of the day `offset` days from the anchor.
fn at(rng: &mut Rng, anchor_ts: i64, offset: i64) -> i64 {
    anchor_ts + offset * 86_400 + rng.below(86_400) as i64
}

/// The status of a child of a parent with `parent` status.
fn child_status(rng: &mut Rng, parent: Status) -> Status {
    let r = rng.below(100);
    match parent {
        Status::Archived => Status::Archived,
        Status::Paused if r < 90 => Status::Paused,
        Status::Paused => Status::Archived,
        Status::Active if r < 84 => Status::Active,
        Status::Active if r < 92 => Status::Paused,
        Status::Active => Status::Archived,
    }
}

/// Day offsets (relative to the anchor) of a child created after `parent_from`, ending no later
/// than `parent_to`: (created, own end). A child that stops on its own stops between its creation
/// and its parent's end.
fn child_days(
    rng: &mut Rng,
    status: Status,
    parent_status: Status,
    parent_from: i64,
    parent_to: Option<i64>,
) -> (i64, Option<i64>) {
    let latest = parent_to.unwrap_or(0).min(0);
    let created = uniform(
        rng,
        parent_from,
        (parent_from + 25).min(latest.max(parent_from)),
    );
    let end = if status == parent_status {
        parent_to
    } else {
        Some(uniform(rng, (created + 7).min(latest), latest))
    };
    (created, end)
}

fn updated_after(rng: &mut Rng, anchor_ts: i64, created: i64, end: Option<i64>) -> i64 {
    let off = match end {
        Some(e) => uniform(rng, e, (e + 10).min(0)),
        None => uniform(rng, (created - anchor_ts) / 86_400, 1),
    };
    at(rng, anchor_ts, off.min(0)).max(created + 60)
}

fn generate_account(
    data: &mut Data,
    account: usize,
    sizes: &Sizes,
    rng: &mut Rng,
    ids: &mut Ids,
    anchor_ts: i64,
) {
    let anchor = data.anchor;
    // campaigns: status, then days, then ids in creation order
    let mut campaigns = Vec::new();
    for k in 0..sizes.campaigns {
        // half active, a quarter each paused and archived, whatever the seed
        let status = match k % 4 {
            0 | 2 => Status::Active,
            1 => Status::Paused,
            _ => Status::Archived,
        };
        let (created, end) = match status {
            Status::Archived => {
                let c = -uniform(rng, 420, 800);
                (c, Some((-uniform(rng, 100, 320)).max(c + 25)))
            }
            Status::Paused => (-uniform(rng, 150, 600), Some(-uniform(rng, 0, 120))),
            Status::Active => (-uniform(rng, 30, 500), None),
        };
        let salt = rng.next_u64();
        let created_ts = at(&mut Rng::new(salt ^ 1), anchor_ts, created);
        campaigns.push((status, created, end, salt, created_ts));
    }
    campaigns.sort_by_key(|c| (c.4, c.3));
    let first_campaign = data.campaigns.len();
    for (n, (status, created, end, salt, created_ts)) in campaigns.into_iter().enumerate() {
        let mut r = Rng::new(salt);
        let start = created + uniform(&mut r, 0, 3);
        let objective = *r.pick(OBJECTIVES);
        let cbo = r.chance(25);
        let theme = CAMPAIGN_THEMES[(salt % CAMPAIGN_THEMES.len() as u64) as usize];
        data.campaigns.push(Campaign {
            id: Ids::bump(rng, &mut ids.campaign),
            account,
            name: format!("{theme} #{}", n + 1),
            status,
            objective,
            created: created_ts,
            updated: updated_after(&mut r, anchor_ts, created_ts, end),
            start: anchor_ts + start * 86_400,
            // a paused campaign has no end scheduled; an archived one ended
            end: end
                .filter(|_| status == Status::Archived)
                .map(|e| anchor_ts + (e + 1) * 86_400 - 1),
            daily_cap: cbo.then(|| (50 + r.below(950)) * 1_000_000),
            lifetime_cap: (!cbo && r.chance(30)).then(|| (5_000 + r.below(45_000)) * 1_000_000),
            cbo,
            active: Active {
                from: day(anchor, start),
                to: end.map(|e| day(anchor, e)),
            },
        });
    }
    let campaign_count = data.campaigns.len() - first_campaign;

    // ad groups: spread over the campaigns, every campaign gets at least one
    let first_group = data.ad_groups.len();
    let mut groups = Vec::new();
    for j in 0..sizes.ad_groups {
        let c = if (j as usize) < campaign_count {
            first_campaign + j as usize
        } else {
            first_campaign + rng.below(campaign_count as u64) as usize
        };
        let parent = &data.campaigns[c];
        let status = child_status(rng, parent.status);
        let parent_from = (parent.start - anchor_ts) / 86_400;
        let parent_to = parent.active.to.map(|t| (t - anchor).num_days());
        let (created, end) = child_days(rng, status, parent.status, parent_from, parent_to);
        let salt = rng.next_u64();
        let created_ts = at(&mut Rng::new(salt ^ 1), anchor_ts, created).max(parent.created + 60);
        groups.push((c, status, created, end, salt, created_ts));
    }
    groups.sort_by_key(|g| (g.5, g.4));
    for (c, status, created, end, salt, created_ts) in groups {
        let mut r = Rng::new(salt);
        let parent = &data.campaigns[c];
        let budget_type = if parent.cbo {
            "CBO_ADGROUP"
        } else if r.chance(70) {
            "DAILY"
        } else {
            "LIFETIME"
        };
        let billable_event = match parent.objective {
            "AWARENESS" => "IMPRESSION",
            "VIDEO_COMPLETION" => "VIDEO_V_50_MRC",
            _ => "CLICKTHROUGH",
        };
        let active = parent
            .active
            .narrow(day(anchor, created), end.map(|e| day(anchor, e)));
        let group = AdGroup {
            id: Ids::bump(rng, &mut ids.ad_group),
            account,
            campaign: c,
            name: format!(
                "{} · {}",
                AUDIENCES[(salt % AUDIENCES.len() as u64) as usize],
                PLACEMENTS[((salt >> 8) % PLACEMENTS.len() as u64) as usize]
            ),
            status,
            created: created_ts,
            updated: updated_after(&mut r, anchor_ts, created_ts, end),
            start: created_ts,
            end: end
                .filter(|_| status == Status::Archived)
                .map(|e| anchor_ts + (e + 1) * 86_400 - 1),
            budget_type,
            budget_micro: (!parent.cbo).then(|| (10 + r.below(490)) * 1_000_000),
            bid_micro: r.chance(60).then(|| (1 + r.below(40)) * 100_000),
            bid_multiplier: r.chance(20).then(|| (5 + r.below(20)) as f64 / 10.0),
            billable_event,
            active,
        };
        data.ad_groups.push(group);
    }
    let group_count = data.ad_groups.len() - first_group;

    // ads: spread over the ad groups, every group gets one while there are enough
    let mut ads = Vec::new();
    for i in 0..sizes.ads {
        let g = if (i as usize) < group_count {
            first_group + i as usize
        } else {
            first_group + rng.below(group_count as u64) as usize
        };
        let parent = &data.ad_groups[g];
        let status = child_status(rng, parent.status);
        let parent_from = (parent.start - anchor_ts) / 86_400;
        let parent_to = parent.active.to.map(|t| (t - anchor).num_days());
        let (created, end) = child_days(rng, status, parent.status, parent_from, parent_to);
        let salt = rng.next_u64();
        let created_ts = at(&mut Rng::new(salt ^ 1), anchor_ts, created).max(parent.created + 60);
        ads.push((g, status, created, end, salt, created_ts));
    }
    ads.sort_by_key(|a| (a.5, a.4));
    let mut previous_updated = None;
    for (n, (g, status, created, end, salt, created_ts)) in ads.into_iter().enumerate() {
        let mut r = Rng::new(salt);
        let parent = &data.ad_groups[g];
        let mut updated = updated_after(&mut r, anchor_ts, created_ts, end);
        // every 17th ad shares its updated_time second with the one before it
        if let Some(prev) = previous_updated.filter(|p| n % 17 == 16 && *p >= created_ts) {
            updated = prev;
        }
        previous_updated = Some(updated);
        let creative = {
            let mut roll = r.below(100);
            CREATIVES
                .iter()
                .find(|(_, w)| {
                    if roll < *w {
                        true
                    } else {
                        roll -= w;
                        false
                    }
                })
                .map_or("REGULAR", |(c, _)| *c)
        };
        let objective = data.campaigns[parent.campaign].objective;
        let conv_permille = match objective {
            "WEB_CONVERSION" | "CATALOG_SALES" => 1_000,
            "CONSIDERATION" => 400,
            _ => 150,
        };
        let active = parent
            .active
            .narrow(day(anchor, created), end.map(|e| day(anchor, e)));
        let ad = Ad {
            id: Ids::bump(rng, &mut ids.ad),
            account,
            campaign: parent.campaign,
            ad_group: g,
            pin_id: Ids::bump(rng, &mut ids.pin),
            name: format!(
                "{} – Pin {}",
                PRODUCTS[(salt % PRODUCTS.len() as u64) as usize],
                n + 1
            ),
            status,
            creative,
            created: created_ts,
            updated,
            active,
            scale: (20 << r.below(8)) + r.below(20),
            ctr_bp: 30 + r.below(270),
            cpm_micro: 2_000_000 + r.below(10_000_000),
            aov_micro: (15 + r.below(165)) * 1_000_000,
            conv_permille,
            video_length: matches!(creative, "VIDEO" | "MAX_VIDEO").then(|| 6 + r.below(55)),
            lead_form: objective == "CONSIDERATION" && r.chance(25),
        };
        data.ads.push(ad);
    }
}

fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map_or(Value::Null, Into::into)
}

impl Data {
    pub fn account_index(&self, id: &str) -> Option<usize> {
        self.accounts.iter().position(|a| a.id == id)
    }

    pub fn account_json(&self, a: &Account) -> Value {
        json!({
            "id": a.id,
            "name": a.name,
            "owner": {"id": USER_ID, "username": USERNAME},
            "country": a.country,
            "currency": a.currency,
            "permissions": if a.owned { json!(["OWNER"]) } else { json!(["ADMIN", "ANALYST"]) },
            "created_time": a.created,
            "updated_time": a.updated,
        })
    }

    pub fn campaign_json(&self, c: &Campaign) -> Value {
        json!({
            "id": c.id.to_string(),
            "ad_account_id": self.accounts[c.account].id,
            "name": c.name,
            "status": c.status.as_str(),
            "lifetime_spend_cap": opt(c.lifetime_cap),
            "daily_spend_cap": opt(c.daily_cap),
            "order_line_id": null,
            "tracking_urls": null,
            "start_time": c.start,
            "end_time": opt(c.end),
            "summary_status": c.status.summary(),
            "is_campaign_budget_optimization": c.cbo,
            "is_flexible_daily_budgets": false,
            "is_automated_campaign": false,
            "objective_type": c.objective,
            "created_time": c.created,
            "updated_time": c.updated,
            "type": "campaign",
        })
    }

    pub fn ad_group_json(&self, g: &AdGroup) -> Value {
        json!({
            "id": g.id.to_string(),
            "ad_account_id": self.accounts[g.account].id,
            "campaign_id": self.campaigns[g.campaign].id.to_string(),
            "name": g.name,
            "status": g.status.as_str(),
            "budget_in_micro_currency": opt(g.budget_micro),
            "bid_in_micro_currency": opt(g.bid_micro),
            "bid_multiplier": opt(g.bid_multiplier),
            "budget_type": g.budget_type,
            "start_time": g.start,
            "end_time": opt(g.end),
            "targeting_spec": {"GENDER": ["female", "male"], "LOCATION": ["US"], "APPTYPE": ["web", "iphone", "android_mobile"]},
            "lifetime_frequency_cap": -1,
            "tracking_urls": null,
            "auto_targeting_enabled": true,
            "placement_group": "ALL",
            "pacing_delivery_type": "STANDARD",
            "conversion_learning_mode_type": null,
            "summary_status": g.status.summary(),
            "feed_profile_id": "0",
            "billable_event": g.billable_event,
            "bid_strategy_type": if g.bid_micro.is_some() { "MAX_BID" } else { "AUTOMATIC_BID" },
            "created_time": g.created,
            "updated_time": g.updated,
            "type": "adgroup",
        })
    }

    pub fn ad_json(&self, a: &Ad) -> Value {
        json!({
            "id": a.id.to_string(),
            "ad_group_id": self.ad_groups[a.ad_group].id.to_string(),
            "campaign_id": self.campaigns[a.campaign].id.to_string(),
            "ad_account_id": self.accounts[a.account].id,
            "pin_id": a.pin_id.to_string(),
            "name": a.name,
            "status": a.status.as_str(),
            "creative_type": a.creative,
            "destination_url": format!("https://shop.example.com/p/{}", a.pin_id),
            "click_tracking_url": null,
            "view_tracking_url": null,
            "android_deep_link": null,
            "ios_deep_link": null,
            "carousel_android_deep_links": null,
            "carousel_destination_urls": null,
            "carousel_ios_deep_links": null,
            "tracking_urls": null,
            "is_pin_deleted": false,
            "is_removable": false,
            "collection_items_destination_url_template": null,
            "lead_form_id": if a.lead_form { json!(format!("{}", a.id + 7)) } else { Value::Null },
            "grid_click_type": "DIRECT_TO_DESTINATION",
            "customizable_cta_type": null,
            "quiz_pin_data": null,
            "review_status": "APPROVED",
            "rejected_reasons": [],
            "rejection_labels": [],
            "summary_status": a.status.ad_summary(),
            "created_time": a.created,
            "updated_time": a.updated,
            "type": "pinpromotion",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).expect("date")
    }

    #[test]
    fn same_seed_same_data_and_ids_grow_with_creation() {
        let a = generate(7, anchor(), 12, 60, 650);
        let b = generate(7, anchor(), 12, 60, 650);
        assert_eq!(a.ads.len(), 650 + 8);
        assert_eq!(
            a.ads.iter().map(|x| x.id).collect::<Vec<_>>(),
            b.ads.iter().map(|x| x.id).collect::<Vec<_>>()
        );
        for w in a.ads.windows(2).filter(|w| w[0].account == w[1].account) {
            assert!(w[0].id < w[1].id && w[0].created <= w[1].created);
        }
        assert!(a.ads.iter().all(|x| x.updated >= x.created));
    }

    #[test]
    fn statuses_are_mixed_and_archived_campaigns_ran_in_the_past() {
        let d = generate(42, anchor(), 12, 60, 650);
        for s in [Status::Active, Status::Paused, Status::Archived] {
            assert!(d.ads.iter().any(|a| a.status == s), "{s:?}");
            assert!(d.campaigns.iter().any(|c| c.status == s), "{s:?}");
        }
        for c in d.campaigns.iter().filter(|c| c.status == Status::Archived) {
            let to = c.active.to.expect("archived campaigns ended");
            assert!((anchor() - to).num_days() >= 100);
        }
        // children never deliver outside their parent's window
        for a in &d.ads {
            let g = &d.ad_groups[a.ad_group];
            assert!(a.active.from >= g.active.from);
            if let Some(gt) = g.active.to {
                assert!(a.active.to.is_some_and(|t| t <= gt));
            }
        }
    }
}
