//! Deterministic ad accounts, campaign groups, campaigns, creatives and conversions. Ids are
//! fixed by position (so `credentials::LINKEDIN_ACCOUNT_IDS` is a constant); names, statuses,
//! schedules and delivery shapes come from the seed. Dates are relative to the day the sandbox
//! started (the anchor): the same seed started on the same day gives the same data.

use chrono::{Duration, NaiveDate, NaiveTime};

use crate::rng::Rng;

/// Account ids by position; accounts beyond the table get `520000000 + 7919·i`.
const ACCOUNT_IDS: &[u64] = &[507_404_993, 508_116_022];

pub fn account_id(i: usize) -> u64 {
    ACCOUNT_IDS
        .get(i)
        .copied()
        .unwrap_or(520_000_000 + 7_919 * i as u64)
}

pub struct Account {
    pub id: u64,
    pub name: String,
    pub currency: &'static str,
    /// micro local-currency units per USD
    pub rate_micro: u64,
    pub status: &'static str,
    pub test: bool,
    pub created: i64,
    pub modified: i64,
}

pub struct Group {
    pub id: u64,
    pub account: usize,
    pub name: String,
    pub status: &'static str,
    pub start: i64,
    pub end: Option<i64>,
    pub budget_micro: u64,
    pub created: i64,
    pub modified: i64,
}

pub struct Campaign {
    pub id: u64,
    pub account: usize,
    pub group: usize,
    pub name: String,
    pub status: &'static str,
    pub kind: &'static str,
    pub cost_type: &'static str,
    pub daily_budget_micro: u64,
    pub start: i64,
    pub end: Option<i64>,
    pub created: i64,
    pub modified: i64,
    /// Days with delivery, inclusive (`None`: never delivered, a draft).
    pub active: Option<(NaiveDate, Option<NaiveDate>)>,
    pub version: u64,
}

pub struct Creative {
    pub id: u64,
    pub account: usize,
    pub campaign: usize,
    pub status: &'static str,
    pub serving: bool,
    pub created: i64,
    pub modified: i64,
    /// impressions on an ordinary day
    pub scale: u64,
    /// click-through rate, basis points
    pub ctr_bp: u64,
    /// cost per mille, micro USD
    pub cpm_micro: u64,
    pub video: bool,
    pub share: u64,
}

pub struct Conversion {
    pub id: u64,
    pub account: usize,
}

pub struct Data {
    pub anchor: NaiveDate,
    pub accounts: Vec<Account>,
    pub groups: Vec<Group>,
    pub campaigns: Vec<Campaign>,
    pub creatives: Vec<Creative>,
    pub conversions: Vec<Conversion>,
}

pub const GROUP_STATUSES: &[&str] = &[
    "ACTIVE",
    "ACTIVE",
    "PAUSED",
    "ARCHIVED",
    "CANCELED",
    "DRAFT",
    "PENDING_DELETION",
    "REMOVED",
];
pub const CAMPAIGN_STATUSES: &[&str] = &[
    "ACTIVE",
    "ACTIVE",
    "ACTIVE",
    "PAUSED",
    "ARCHIVED",
    "COMPLETED",
    "CANCELED",
    "DRAFT",
    "PENDING_DELETION",
    "REMOVED",
];
/// Statuses a `q=search` without a status filter leaves out. [UNVERIFIED] (contract §2.6)
pub const HIDDEN_BY_DEFAULT: &[&str] = &["PENDING_DELETION", "REMOVED"];

const NAMES: &[&str] = &[
    "Brand Awareness – Q1",
    "Lead Gen DACH",
    "Retargeting Website Visitors",
    "Événement Paris 2025",
    "Thought Leadership 🎯",
    "Hiring Engineers",
    "Webinar Series",
    "製品ローンチ",
    "ABM Top 500",
    "Conversación España",
];
const CURRENCIES: &[(&str, u64)] = &[
    ("USD", 1_000_000),
    ("EUR", 920_000),
    ("GBP", 790_000),
    ("USD", 1_000_000),
];

fn ms(d: NaiveDate) -> i64 {
    d.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

pub fn generate(
    seed: u64,
    anchor: NaiveDate,
    accounts: usize,
    groups_per_account: usize,
    campaigns_per_group: usize,
    creatives_per_campaign: usize,
) -> Data {
    let mut rng = Rng::new(seed ^ 0x0011_ed1a);
    let mut data = Data {
        anchor,
        accounts: Vec::new(),
        groups: Vec::new(),
        campaigns: Vec::new(),
        creatives: Vec::new(),
        conversions: Vec::new(),
    };
    let mut conversion_id = 12_001;
    for a in 0..accounts {
        let (currency, rate_micro) = CURRENCIES[a % CURRENCIES.len()];
        let created = anchor - Duration::days(700 + rng.below(300) as i64);
        data.accounts.push(Account {
            id: account_id(a),
            name: format!("Sluice Sandbox Account {} – {}", a + 1, currency),
            currency,
            rate_micro,
            // the first accounts are the ones a run syncs; later ones vary
            status: match a {
                0 | 1 => "ACTIVE",
                _ => ["ACTIVE", "CANCELED", "ACTIVE", "DRAFT"][a % 4],
            },
            test: a == 1,
            created: ms(created),
            modified: ms(anchor - Duration::days(rng.below(30) as i64)),
        });
        for _ in 0..3 {
            data.conversions.push(Conversion {
                id: conversion_id,
                account: a,
            });
            conversion_id += 1;
        }
        for g in 0..groups_per_account {
            let group_index = data.groups.len();
            let status = GROUP_STATUSES[(a * 3 + g) % GROUP_STATUSES.len()];
            let g_start = anchor - Duration::days(60 + rng.below(360) as i64);
            let g_end = match status {
                "ACTIVE" if rng.chance(50) => None,
                "ACTIVE" => Some(anchor + Duration::days(30 + rng.below(90) as i64)),
                _ => Some(g_start + Duration::days(40 + rng.below(120) as i64)),
            };
            data.groups.push(Group {
                id: 612_345_001 + group_index as u64,
                account: a,
                name: format!("{} – group {}", rng.pick(NAMES), g + 1),
                status,
                start: ms(g_start),
                end: g_end.map(ms),
                budget_micro: (5_000 + rng.below(45_000)) * 1_000_000,
                created: ms(g_start - Duration::days(3)),
                modified: ms(g_start + Duration::days(rng.below(30) as i64)),
            });
            for c in 0..campaigns_per_group {
                let campaign_index = data.campaigns.len();
                let status = if status == "DRAFT" {
                    "DRAFT"
                } else {
                    CAMPAIGN_STATUSES[(group_index * 7 + c * 3) % CAMPAIGN_STATUSES.len()]
                };
                let c_start = g_start + Duration::days(rng.below(20) as i64);
                let c_end = match status {
                    "ACTIVE" => g_end.filter(|_| rng.chance(40)),
                    _ => {
                        let len = 14 + rng.below(100) as i64;
                        Some((c_start + Duration::days(len)).min(anchor - Duration::days(1)))
                    }
                };
                let delivered_to = c_end.map(|e| e.min(anchor));
                let active = match status {
                    "DRAFT" => None,
                    _ => Some((c_start, delivered_to)),
                };
                let kind = [
                    "SPONSORED_UPDATES",
                    "TEXT_AD",
                    "SPONSORED_INMAILS",
                    "DYNAMIC",
                ][rng.below(4) as usize];
                let cost_type = ["CPM", "CPC", "CPV"][rng.below(3) as usize];
                data.campaigns.push(Campaign {
                    id: 731_000_101 + campaign_index as u64,
                    account: a,
                    group: group_index,
                    name: format!("{} #{}", rng.pick(NAMES), campaign_index + 1),
                    status,
                    kind,
                    cost_type,
                    daily_budget_micro: (50 + rng.below(450)) * 1_000_000,
                    start: ms(c_start),
                    end: c_end.map(ms),
                    created: ms(c_start - Duration::days(2)),
                    modified: ms(c_start + Duration::days(rng.below(40) as i64)),
                    active,
                    version: 1 + rng.below(9),
                });
                for _ in 0..creatives_per_campaign {
                    let creative_index = data.creatives.len();
                    let cr_status = match status {
                        "DRAFT" => "DRAFT",
                        "ACTIVE" => ["ACTIVE", "ACTIVE", "PAUSED"][rng.below(3) as usize],
                        "PAUSED" => "PAUSED",
                        "CANCELED" => "CANCELED",
                        _ => "ARCHIVED",
                    };
                    data.creatives.push(Creative {
                        id: 845_000_001 + creative_index as u64,
                        account: a,
                        campaign: campaign_index,
                        status: cr_status,
                        serving: cr_status == "ACTIVE",
                        created: ms(c_start - Duration::days(1)),
                        modified: ms(c_start + Duration::days(rng.below(60) as i64)),
                        scale: 200 + rng.below(3_000),
                        ctr_bp: 20 + rng.below(120),
                        cpm_micro: 8_000_000 + rng.below(40_000_000),
                        video: kind == "SPONSORED_UPDATES" && rng.chance(40),
                        share: 7_100_000_000_000_000_000 + rng.below(1_000_000_000),
                    });
                }
            }
        }
    }
    data
}

impl Data {
    pub fn account_index(&self, id: u64) -> Option<usize> {
        self.accounts.iter().position(|a| a.id == id)
    }
}
