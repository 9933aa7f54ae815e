//! Deterministic account assets beyond the ad tree: audiences, customer lists, keywords, boards
//! with their sections and pins, catalogs with feeds and product groups, and product group
//! promotions. Generated after the ad tree from a generator of their own, so the campaigns, ad
//! groups and ads of a seed are the same with or without them.
//!
//! Sizes are fixed (the seed chooses names, ids and attributes): the main account has 9 audiences
//! (6 OWNED, 3 RECEIVED), 5 customer lists, 6 boards (40 pins, the first with 14), 2 catalogs, 3
//! feeds and 8 product groups; the shared account has 2 audiences (1 and 1), 1 customer list, 1
//! board (3 pins) and no catalog. Keywords: 0 to 6 per ad group, a quarter of the groups none.

use std::collections::HashMap;

use chrono::DateTime;
use serde_json::{json, Value};

use super::data::{Active, Ad, Data, Status, USERNAME};
use crate::rng::Rng;

/// The shared account's owner (boards and pins of that account).
pub const SHARED_USERNAME: &str = "atelier_partage";

pub struct Audience {
    pub id: u64,
    pub account: usize,
    pub owned: bool,
    name: String,
    audience_type: &'static str,
    description: String,
    rule: Value,
    size: u64,
    status: &'static str,
    created: i64,
    updated: i64,
}

pub struct CustomerList {
    pub id: u64,
    pub account: usize,
    name: String,
    batches: u64,
    removed: u64,
    uploaded: u64,
    status: &'static str,
    created: i64,
    updated: i64,
    exceptions: Value,
}

pub struct Keyword {
    pub id: u64,
    pub account: usize,
    pub ad_group: usize,
    pub match_type: &'static str,
    archived: bool,
    bid: Option<u64>,
    value: String,
}

pub struct Board {
    pub id: u64,
    pub account: usize,
    pub privacy: &'static str,
    name: String,
    description: String,
    created: i64,
}

pub struct Section {
    pub id: u64,
    pub board: usize,
    name: String,
}

pub struct Pin {
    pub id: u64,
    pub board: usize,
    /// index into `sections`
    pub section: Option<usize>,
    pub creative_type: &'static str,
    pub promoted: bool,
    created: i64,
    title: String,
    color: &'static str,
}

pub struct Catalog {
    pub id: u64,
    pub account: usize,
    name: String,
    created: i64,
    updated: i64,
}

pub struct Feed {
    pub id: u64,
    pub catalog: usize,
    name: String,
    format: &'static str,
    status: &'static str,
    scheduled: bool,
    created: i64,
    updated: i64,
}

pub struct ProductGroup {
    pub id: u64,
    pub feed: usize,
    name: String,
    product_type: &'static str,
    featured: bool,
    status: &'static str,
    created: i64,
    updated: i64,
}

pub struct Promotion {
    pub id: u64,
    pub ad_group: usize,
    pub product_group: usize,
    pub status: Status,
    bid: Option<u64>,
    included: bool,
    slideshow: bool,
    hero_pin: Option<u64>,
}

#[derive(Default)]
pub struct Assets {
    pub audiences: Vec<Audience>,
    pub customer_lists: Vec<CustomerList>,
    pub keywords: Vec<Keyword>,
    pub boards: Vec<Board>,
    pub sections: Vec<Section>,
    pub pins: Vec<Pin>,
    pub catalogs: Vec<Catalog>,
    pub feeds: Vec<Feed>,
    pub product_groups: Vec<ProductGroup>,
    pub promotions: Vec<Promotion>,
    /// Per product group: the delivery the metrics generator draws for it (keyed by its id),
    /// when promoted.
    pub product_group_ads: Vec<Option<Ad>>,
    /// Every distinct (campaign, pin) an ad promotes, sorted by pin id then campaign.
    pub promoted_pins: Vec<(usize, u64)>,
    pub promoted_index: HashMap<(usize, u64), usize>,
}

const AUDIENCE_TYPES: &[&str] = &["CUSTOMER_LIST", "VISITOR", "ENGAGEMENT", "ACTALIKE"];
const AUDIENCE_STATUSES: &[&str] = &["READY", "READY", "READY", "TOO_SMALL", "UPDATING"];
const AUDIENCE_NAMES: &[&str] = &[
    "Käufer 180 Tage",
    "Site visitors – checkout",
    "Engagers · Été",
    "Actalike 1% US",
    "Newsletter abonnés",
    "Cart abandoners 🛒",
    "Pinners who saved décor",
    "顧客リスト",
    "Lookalike Ñandú",
];
const LIST_STATUSES: &[&str] = &["READY", "READY", "PROCESSING", "TOO_SMALL", "UPLOADING"];
pub const MATCH_TYPES: &[&str] = &[
    "BROAD",
    "PHRASE",
    "EXACT",
    "EXACT_NEGATIVE",
    "PHRASE_NEGATIVE",
];
const KEYWORDS: &[&str] = &[
    "déco salon",
    "küche ideen",
    "café table",
    "wohnzimmer",
    "balcony garden",
    "décoration noël",
    "北欧 インテリア",
    "rattan basket",
    "jardín vertical",
    "łazienka",
    "velvet sofa",
    "herb planter",
];
const BOARD_NAMES: &[&str] = &[
    "Maison Ünïcode – Lookbook",
    "Küche & Esszimmer",
    "Secret launch 🤫",
    "Jardín y terraza",
    "Protected: partners only",
    "年末セール inspiration",
    "Atelier Partagé",
];
/// Pins per main board (the first, lowest id, has enough for several small pages), then the
/// shared board.
const PINS_PER_BOARD: &[usize] = &[14, 8, 6, 0, 7, 5, 3];
const SECTIONS_PER_BOARD: &[usize] = &[2, 1, 0, 3, 1, 0, 1];
const PRIVACY: &[&str] = &[
    "PUBLIC",
    "PUBLIC",
    "SECRET",
    "PUBLIC",
    "PROTECTED",
    "PUBLIC",
    "PUBLIC",
];
const SECTION_NAMES: &[&str] = &["Salon", "Küche", "Été 2024", "Détails", "Outdoor 🌿"];
const PIN_CREATIVES: &[&str] = &["REGULAR", "REGULAR", "SHOPPING", "CAROUSEL", "IDEA"];
const COLORS: &[&str] = &["#e4d8c8", "#2b3a4a", "#c0392b", "#f1c40f", "#6d8b74"];
const PRODUCT_TYPES: &[&str] = &[
    "home décor",
    "furniture",
    "kitchen",
    "garden",
    "lighting",
    "textiles",
    "bath",
    "storage",
];

/// `2024-05-01T10:20:30`: how boards, pins and catalogs write times.
pub fn rfc3339(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

fn pick(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    items[rng.below(items.len() as u64) as usize]
}

fn bump(rng: &mut Rng, id: &mut u64) -> u64 {
    *id += 1 + rng.below(9_000);
    *id
}

/// A second between `from_days` and `to_days` days before the anchor.
fn past(rng: &mut Rng, anchor_ts: i64, from_days: u64, to_days: u64) -> i64 {
    let span = from_days.saturating_sub(to_days).max(1);
    anchor_ts - ((to_days + rng.below(span)) as i64) * 86_400 - rng.below(86_400) as i64
}

pub fn generate(seed: u64, data: &Data, anchor_ts: i64) -> Assets {
    let mut rng = Rng::new(seed ^ 0x4153_5345_5453);
    let mut a = Assets::default();
    audiences(&mut a, &mut rng, anchor_ts);
    customer_lists(&mut a, &mut rng, anchor_ts);
    keywords(&mut a, data, &mut rng);
    boards(&mut a, data, &mut rng, anchor_ts);
    catalogs(&mut a, &mut rng, anchor_ts);
    promotions(&mut a, data, &mut rng);
    product_group_ads(&mut a, data, seed);
    promoted_pins(&mut a, data);
    a
}

fn audiences(a: &mut Assets, rng: &mut Rng, anchor_ts: i64) {
    let mut id = 2_542_620_905_473;
    // (account, owned)
    let plan = (0..9)
        .map(|k| (0, k % 3 != 2))
        .chain([(1, true), (1, false)]);
    for (k, (account, owned)) in plan.enumerate() {
        let audience_type = AUDIENCE_TYPES[k % AUDIENCE_TYPES.len()];
        let created = past(rng, anchor_ts, 700, 60);
        let rule = match audience_type {
            "VISITOR" => {
                json!({"visitor_source_id": "2613287505795", "retention_days": 30, "event": "checkout"})
            }
            "ENGAGEMENT" => {
                json!({"engagement_domain": ["shop.example.com"], "engagement_type": "click", "retention_days": 60})
            }
            "ACTALIKE" => {
                json!({"seed": ["2542620905473"], "percentage": 1 + k % 10, "country": "US"})
            }
            _ => json!({"customer_list_id": "2542621000001"}),
        };
        a.audiences.push(Audience {
            id: bump(rng, &mut id),
            account,
            owned,
            name: AUDIENCE_NAMES[k % AUDIENCE_NAMES.len()].to_string(),
            audience_type,
            description: format!("Audience {} · généré", k + 1),
            rule,
            size: 1_000 * (1 + rng.below(900)),
            status: pick(rng, AUDIENCE_STATUSES),
            created,
            updated: created + rng.below(50 * 86_400) as i64,
        });
    }
}

fn customer_lists(a: &mut Assets, rng: &mut Rng, anchor_ts: i64) {
    let mut id = 2_542_621_000_000;
    for (k, account) in [0, 0, 0, 0, 0, 1].into_iter().enumerate() {
        let created = past(rng, anchor_ts, 600, 30);
        let uploaded = 500 + rng.below(90_000);
        let status = LIST_STATUSES[k % LIST_STATUSES.len()];
        a.customer_lists.push(CustomerList {
            id: bump(rng, &mut id),
            account,
            name: format!(
                "{} – liste {}",
                ["CRM", "Newsletter", "Käufer"][k % 3],
                k + 1
            ),
            batches: 1 + rng.below(6),
            removed: rng.below(uploaded / 10 + 1),
            uploaded,
            status,
            created,
            updated: created + rng.below(20 * 86_400) as i64,
            exceptions: if status == "TOO_SMALL" {
                json!({"code": 2, "message": "Too few matched users."})
            } else {
                json!({})
            },
        });
    }
}

fn keywords(a: &mut Assets, data: &Data, rng: &mut Rng) {
    let mut id = 2_886_364_308_655;
    for (g, group) in data.ad_groups.iter().enumerate() {
        let n = if rng.chance(25) { 0 } else { 1 + rng.below(6) };
        for _ in 0..n {
            a.keywords.push(Keyword {
                id: bump(rng, &mut id),
                account: group.account,
                ad_group: g,
                match_type: pick(rng, MATCH_TYPES),
                archived: rng.chance(15),
                bid: rng.chance(60).then(|| (1 + rng.below(30)) * 100_000),
                value: rng.pick(KEYWORDS).to_string(),
            });
        }
    }
}

fn boards(a: &mut Assets, data: &Data, rng: &mut Rng, anchor_ts: i64) {
    let mut board_id = 549_755_885_175_000;
    let mut section_id = 5_128_377_000_000_000;
    let mut pin_id = 394_205_773_700_000_000;
    // the main account's ads lend some pins their ids, so promoted pins exist on boards
    let mut promoted: Vec<u64> = data
        .ads
        .iter()
        .filter(|ad| ad.account == 0)
        .step_by(50)
        .take(12)
        .map(|ad| ad.pin_id)
        .collect();
    promoted.reverse();
    for (b, name) in BOARD_NAMES.iter().enumerate() {
        let account = usize::from(b + 1 == BOARD_NAMES.len());
        let created = past(rng, anchor_ts, 800, 200);
        a.boards.push(Board {
            id: bump(rng, &mut board_id),
            account,
            privacy: PRIVACY[b],
            name: name.to_string(),
            description: format!("Idées et inspirations – {name}"),
            created,
        });
        let first_section = a.sections.len();
        for s in 0..SECTIONS_PER_BOARD[b] {
            a.sections.push(Section {
                id: bump(rng, &mut section_id),
                board: b,
                name: SECTION_NAMES[(b + s) % SECTION_NAMES.len()].to_string(),
            });
        }
        let sections = SECTIONS_PER_BOARD[b];
        for k in 0..PINS_PER_BOARD[b] {
            let lent = if account == 0 && k % 2 == 0 {
                promoted.pop()
            } else {
                None
            };
            let slot = k % (sections + 1);
            a.pins.push(Pin {
                id: lent.unwrap_or_else(|| bump(rng, &mut pin_id)),
                board: b,
                section: (slot < sections).then_some(first_section + slot),
                creative_type: pick(rng, PIN_CREATIVES),
                promoted: lent.is_some(),
                created: created + rng.below(150 * 86_400) as i64,
                title: format!(
                    "{} – idée {}",
                    SECTION_NAMES[k % SECTION_NAMES.len()],
                    k + 1
                ),
                color: pick(rng, COLORS),
            });
        }
    }
}

fn catalogs(a: &mut Assets, rng: &mut Rng, anchor_ts: i64) {
    let mut catalog_id = 2_680_059_592_705;
    let mut feed_id = 2_680_059_600_000;
    let mut group_id = 4_651_520_000_000;
    for (k, name) in ["Maison Ünïcode – Catalogue", "Outlet & Archive"]
        .iter()
        .enumerate()
    {
        let created = past(rng, anchor_ts, 700, 300) + k as i64;
        a.catalogs.push(Catalog {
            id: bump(rng, &mut catalog_id),
            account: 0,
            name: name.to_string(),
            created,
            updated: created + rng.below(200 * 86_400) as i64,
        });
    }
    for (k, (catalog, format)) in [(0, "TSV"), (0, "XML"), (1, "CSV")].into_iter().enumerate() {
        let created = a.catalogs[catalog].created + 3_600 * (k as i64 + 1);
        a.feeds.push(Feed {
            id: bump(rng, &mut feed_id),
            catalog,
            name: format!("Feed {} – {format}", k + 1),
            format,
            status: if k == 2 { "INACTIVE" } else { "ACTIVE" },
            scheduled: k != 1,
            created,
            updated: created + rng.below(100 * 86_400) as i64,
        });
    }
    for (k, product_type) in PRODUCT_TYPES.iter().enumerate() {
        let feed = k % a.feeds.len();
        let created = a.feeds[feed].created + 86_400 * (k as i64 + 1);
        a.product_groups.push(ProductGroup {
            id: bump(rng, &mut group_id),
            feed,
            name: format!("Produits · {product_type}"),
            product_type,
            featured: k < 2,
            status: if k == 7 { "INACTIVE" } else { "ACTIVE" },
            created,
            updated: created + rng.below(90 * 86_400) as i64,
        });
    }
}

fn promotions(a: &mut Assets, data: &Data, rng: &mut Rng) {
    let mine: Vec<usize> = (0..data.ad_groups.len())
        .filter(|g| data.ad_groups[*g].account == 0)
        .collect();
    let mut groups: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|g| data.campaigns[data.ad_groups[*g].campaign].objective == "CATALOG_SALES")
        .collect();
    for g in mine.iter().take(2) {
        if groups.len() < 2 && !groups.contains(g) {
            groups.push(*g);
        }
    }
    groups.sort_unstable();
    let mut id = 2_680_068_500_000;
    let count = a.product_groups.len() as u64;
    for g in groups {
        let n = 1 + rng.below(3);
        let first = rng.below(count);
        for k in 0..n {
            let status = match data.ad_groups[g].status {
                Status::Archived => Status::Archived,
                _ if rng.chance(70) => Status::Active,
                _ if rng.chance(60) => Status::Paused,
                _ => Status::Archived,
            };
            a.promotions.push(Promotion {
                id: bump(rng, &mut id),
                ad_group: g,
                product_group: ((first + k) % count) as usize,
                status,
                bid: rng.chance(70).then(|| (2 + rng.below(40)) * 100_000),
                included: !rng.chance(15),
                slideshow: rng.chance(30),
                hero_pin: None,
            });
        }
    }
    let hero = a.pins.iter().find(|p| p.promoted).map(|p| p.id);
    if let Some(p) = a.promotions.first_mut() {
        p.hero_pin = hero;
    }
}

/// What the metrics generator draws for a product group: the days of the ad groups promoting it,
/// a delivery shape from its id.
fn product_group_ads(a: &mut Assets, data: &Data, seed: u64) {
    for pg in 0..a.product_groups.len() {
        let groups: Vec<usize> = a
            .promotions
            .iter()
            .filter(|p| p.product_group == pg)
            .map(|p| p.ad_group)
            .collect();
        let Some(&first) = groups.first() else {
            a.product_group_ads.push(None);
            continue;
        };
        let windows: Vec<Active> = groups.iter().map(|g| data.ad_groups[*g].active).collect();
        let active = Active {
            from: windows.iter().map(|w| w.from).min().unwrap_or(data.anchor),
            to: if windows.iter().any(|w| w.to.is_none()) {
                None
            } else {
                windows.iter().filter_map(|w| w.to).max()
            },
        };
        let id = a.product_groups[pg].id;
        let mut r = Rng::new(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let group = &data.ad_groups[first];
        a.product_group_ads.push(Some(Ad {
            id,
            account: group.account,
            campaign: group.campaign,
            ad_group: first,
            pin_id: 0,
            name: a.product_groups[pg].name.clone(),
            status: Status::Active,
            creative: "SHOPPING",
            created: a.product_groups[pg].created,
            updated: a.product_groups[pg].updated,
            active,
            scale: (40 << r.below(6)) + r.below(20),
            ctr_bp: 40 + r.below(200),
            cpm_micro: 2_000_000 + r.below(8_000_000),
            aov_micro: (20 + r.below(150)) * 1_000_000,
            conv_permille: 1_000,
            video_length: None,
            lead_form: false,
        }));
    }
}

fn promoted_pins(a: &mut Assets, data: &Data) {
    let mut pairs: Vec<(usize, u64)> = data.ads.iter().map(|ad| (ad.campaign, ad.pin_id)).collect();
    pairs.sort_by_key(|(c, p)| (*p, data.campaigns[*c].id));
    pairs.dedup();
    a.promoted_index = pairs.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    a.promoted_pins = pairs;
}

fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map_or(Value::Null, Into::into)
}

impl Data {
    fn owner_of(&self, account: usize) -> &'static str {
        if account == 0 {
            USERNAME
        } else {
            SHARED_USERNAME
        }
    }

    pub fn audience_json(&self, x: &Audience) -> Value {
        json!({
            "id": x.id.to_string(),
            "ad_account_id": self.accounts[x.account].id,
            "name": x.name,
            "audience_type": x.audience_type,
            "description": x.description,
            "rule": x.rule,
            "size": x.size,
            "status": x.status,
            "type": "audience",
            "created_timestamp": x.created,
            "updated_timestamp": x.updated,
        })
    }

    pub fn customer_list_json(&self, x: &CustomerList) -> Value {
        json!({
            "id": x.id.to_string(),
            "ad_account_id": self.accounts[x.account].id,
            "name": x.name,
            "num_batches": x.batches,
            "num_removed_user_records": x.removed,
            "num_uploaded_user_records": x.uploaded,
            "status": x.status,
            "type": "customerlist",
            "created_time": x.created,
            "updated_time": x.updated,
            "exceptions": x.exceptions,
        })
    }

    pub fn keyword_json(&self, x: &Keyword) -> Value {
        json!({
            "id": x.id.to_string(),
            "archived": x.archived,
            "parent_id": self.ad_groups[x.ad_group].id.to_string(),
            "parent_type": "ad_group",
            "type": "keyword",
            "bid": opt(x.bid),
            "match_type": x.match_type,
            "value": x.value,
        })
    }

    fn pin_image(&self, p: &Pin) -> String {
        format!("https://i.pinimg.com/236x/{:x}.jpg", p.id)
    }

    pub fn board_json(&self, b: usize) -> Value {
        let x = &self.assets.boards[b];
        let pins: Vec<&Pin> = self.assets.pins.iter().filter(|p| p.board == b).collect();
        let modified = pins.iter().map(|p| p.created).max().unwrap_or(x.created);
        let thumbs: Vec<String> = pins.iter().take(5).map(|p| self.pin_image(p)).collect();
        json!({
            "id": x.id.to_string(),
            "name": x.name,
            "description": x.description,
            "created_at": rfc3339(x.created),
            "board_pins_modified_at": rfc3339(modified),
            "collaborator_count": b % 3,
            "pin_count": pins.len(),
            "follower_count": 10 + (x.id % 5_000),
            "privacy": x.privacy,
            "owner": {"username": self.owner_of(x.account)},
            "media": {
                "image_cover_url": opt(thumbs.first().cloned()),
                "pin_thumbnail_urls": thumbs,
            },
        })
    }

    pub fn section_json(&self, s: &Section) -> Value {
        json!({"id": s.id.to_string(), "name": s.name})
    }

    pub fn pin_json(&self, p: &Pin) -> Value {
        let board = &self.assets.boards[p.board];
        json!({
            "id": p.id.to_string(),
            "created_at": rfc3339(p.created),
            "link": format!("https://shop.example.com/p/{}", p.id),
            "title": p.title,
            "description": format!("{} · Maison Ünïcode", p.title),
            "alt_text": format!("Photo: {}", p.title),
            "board_id": board.id.to_string(),
            "board_section_id": opt(p.section.map(|s| self.assets.sections[s].id.to_string())),
            "board_owner": {"username": self.owner_of(board.account)},
            "creative_type": p.creative_type,
            "dominant_color": p.color,
            "is_owner": true,
            "is_standard": true,
            "has_been_promoted": p.promoted,
            "note": "",
            "parent_pin_id": null,
            "media": {"media_type": "image"},
        })
    }

    pub fn catalog_json(&self, c: &Catalog) -> Value {
        json!({
            "id": c.id.to_string(),
            "name": c.name,
            "catalog_type": "RETAIL",
            "created_at": rfc3339(c.created),
            "updated_at": rfc3339(c.updated),
        })
    }

    pub fn feed_json(&self, f: &Feed) -> Value {
        let schedule = f
            .scheduled
            .then(|| json!({"time": "02:00", "timezone": "Europe/Paris"}));
        json!({
            "id": f.id.to_string(),
            "name": f.name,
            "catalog_id": self.assets.catalogs[f.catalog].id.to_string(),
            "catalog_type": "RETAIL",
            "format": f.format,
            "location": format!("https://feeds.example.com/{}.{}", f.id, f.format.to_lowercase()),
            "status": f.status,
            "default_currency": "USD",
            "default_locale": "en-US",
            "default_country": "US",
            "default_availability": "IN_STOCK",
            "preferred_processing_schedule": opt(schedule),
            "credentials": null,
            "created_at": rfc3339(f.created),
            "updated_at": rfc3339(f.updated),
        })
    }

    /// The catalog (index) a product group belongs to.
    pub fn product_group_catalog(&self, g: &ProductGroup) -> usize {
        self.assets.feeds[g.feed].catalog
    }

    pub fn product_group_json(&self, g: &ProductGroup) -> Value {
        let catalog = &self.assets.catalogs[self.product_group_catalog(g)];
        json!({
            "id": g.id.to_string(),
            "name": g.name,
            "description": format!("Tous les produits « {} »", g.product_type),
            "filters": {"any_of": [{"PRODUCT_TYPE_0": {"values": [g.product_type], "negated": false}}]},
            "catalog_id": catalog.id.to_string(),
            "feed_id": self.assets.feeds[g.feed].id.to_string(),
            "is_featured": g.featured,
            "type": "CUSTOM",
            "status": g.status,
            "country": "US",
            "locale": "en-US",
            "created_at": g.created,
            "updated_at": g.updated,
        })
    }

    pub fn promotion_json(&self, p: &Promotion) -> Value {
        let g = &self.assets.product_groups[p.product_group];
        let definition = format!("product_type_0='{}'", g.product_type);
        json!({
            "id": p.id.to_string(),
            "ad_group_id": self.ad_groups[p.ad_group].id.to_string(),
            "catalog_product_group_id": g.id.to_string(),
            "catalog_product_group_name": g.name,
            "bid_in_micro_currency": opt(p.bid),
            "included": p.included,
            "definition": format!("*/{definition}"),
            "relative_definition": definition,
            "parent_id": null,
            "slideshow_collections_title": opt(p.slideshow.then(|| format!("Sélection {}", g.product_type))),
            "slideshow_collections_description": opt(p.slideshow.then_some("Nos favoris de la saison")),
            "is_mdl": false,
            "status": p.status.as_str(),
            "tracking_url": opt(p.included.then(|| format!("https://track.example.com/pg/{}", p.id))),
            "collections_hero_pin_id": opt(p.hero_pin.map(|h| h.to_string())),
            "collections_hero_destination_url": opt(p.hero_pin.map(|h| format!("https://shop.example.com/p/{h}"))),
            "grid_click_type": "DIRECT_TO_DESTINATION",
            "creative_type": "SHOPPING",
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::super::data::generate;

    #[test]
    fn sizes_and_links_hold() {
        let anchor = NaiveDate::from_ymd_opt(2025, 6, 1).expect("date");
        let d = generate(42, anchor, 12, 60, 650);
        let a = &d.assets;
        let main = |acc: usize| a.audiences.iter().filter(|x| x.account == acc).count();
        assert_eq!((main(0), main(1)), (9, 2));
        assert_eq!(a.customer_lists.len(), 6);
        assert_eq!(a.boards.iter().filter(|b| b.account == 0).count(), 6);
        assert_eq!(
            a.pins
                .iter()
                .filter(|p| a.boards[p.board].account == 0)
                .count(),
            40
        );
        assert_eq!(
            (a.catalogs.len(), a.feeds.len(), a.product_groups.len()),
            (2, 3, 8)
        );
        let promoted_groups: std::collections::HashSet<usize> =
            a.promotions.iter().map(|p| p.ad_group).collect();
        assert!(promoted_groups.len() >= 2);
        assert!(a.pins.iter().any(|p| p.promoted));
        assert!(a.pins.iter().any(|p| p.section.is_some()));
        assert!(a.pins.iter().any(|p| p.section.is_none()));
        let ads_pins: std::collections::HashSet<u64> = d.ads.iter().map(|x| x.pin_id).collect();
        for p in a.pins.iter().filter(|p| p.promoted) {
            assert!(ads_pins.contains(&p.id));
        }
        let again = generate(42, anchor, 12, 60, 650);
        let ids = |d: &super::Data| d.assets.keywords.iter().map(|k| k.id).collect::<Vec<_>>();
        assert_eq!(ids(&d), ids(&again));
    }
}
