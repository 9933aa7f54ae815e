//! Metric fields, pivots and the deterministic daily delivery of each creative.
//!
//! Every number starts as one vector per (creative, day) with activity; campaign, group and
//! account rows are sums of their creatives', so count metrics add up exactly across pivots.
//! Money is kept in micro units and rendered as a string with up to 6 decimals. The two reach
//! metrics are not additive: they are derived from a row's impressions when it is rendered.
//! Splits (CONVERSION and the demographic pivots) cut a vector into pieces that sum to at most
//! the whole; demographic pieces with fewer than 3 impressions are dropped, and some
//! creative-days have no demographic data at all.

use chrono::{Datelike, NaiveDate, Weekday};

use super::data::{Creative, Data};
use super::hash;
use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Count,
    /// micro units, rendered as a decimal string
    Money,
    /// non-additive, derived from impressions at render time
    Reach,
}

pub const METRICS: &[(&str, Kind)] = &[
    ("impressions", Kind::Count),
    ("clicks", Kind::Count),
    ("costInUsd", Kind::Money),
    ("costInLocalCurrency", Kind::Money),
    ("landingPageClicks", Kind::Count),
    ("likes", Kind::Count),
    ("reactions", Kind::Count),
    ("comments", Kind::Count),
    ("commentLikes", Kind::Count),
    ("shares", Kind::Count),
    ("follows", Kind::Count),
    ("otherEngagements", Kind::Count),
    ("totalEngagements", Kind::Count),
    ("companyPageClicks", Kind::Count),
    ("textUrlClicks", Kind::Count),
    ("actionClicks", Kind::Count),
    ("adUnitClicks", Kind::Count),
    ("cardClicks", Kind::Count),
    ("cardImpressions", Kind::Count),
    ("sends", Kind::Count),
    ("opens", Kind::Count),
    ("videoStarts", Kind::Count),
    ("videoViews", Kind::Count),
    ("videoFirstQuartileCompletions", Kind::Count),
    ("videoMidpointCompletions", Kind::Count),
    ("videoThirdQuartileCompletions", Kind::Count),
    ("videoCompletions", Kind::Count),
    ("fullScreenPlays", Kind::Count),
    ("oneClickLeadFormOpens", Kind::Count),
    ("oneClickLeads", Kind::Count),
    ("leadGenerationMailContactInfoShares", Kind::Count),
    ("validWorkEmailLeads", Kind::Count),
    ("externalWebsiteConversions", Kind::Count),
    ("externalWebsitePostClickConversions", Kind::Count),
    ("externalWebsitePostViewConversions", Kind::Count),
    ("conversionValueInLocalCurrency", Kind::Money),
    ("jobApplications", Kind::Count),
    ("registrations", Kind::Count),
    ("talentLeads", Kind::Count),
    ("viralImpressions", Kind::Count),
    ("viralClicks", Kind::Count),
    ("approximateUniqueImpressions", Kind::Reach),
    ("approximateMemberReach", Kind::Reach),
];

pub const N: usize = METRICS.len();
pub type Vector = [u64; N];

pub fn metric_index(name: &str) -> Option<usize> {
    METRICS.iter().position(|(n, _)| *n == name)
}

fn ix(name: &str) -> usize {
    metric_index(name).unwrap_or(0)
}

/// The metrics a CONVERSION row carries (the others are 0 there).
const CONVERSION_METRICS: &[&str] = &[
    "externalWebsiteConversions",
    "externalWebsitePostClickConversions",
    "externalWebsitePostViewConversions",
    "conversionValueInLocalCurrency",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pivot {
    Account,
    CampaignGroup,
    Campaign,
    Creative,
    Share,
    Conversion,
    Demographic(Demo),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demo {
    Company,
    CompanySize,
    Industry,
    Seniority,
    JobTitle,
    JobFunction,
    Country,
    Region,
}

impl Pivot {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "ACCOUNT" => Pivot::Account,
            "CAMPAIGN_GROUP" => Pivot::CampaignGroup,
            "CAMPAIGN" => Pivot::Campaign,
            "CREATIVE" => Pivot::Creative,
            "SHARE" => Pivot::Share,
            "CONVERSION" => Pivot::Conversion,
            "MEMBER_COMPANY" => Pivot::Demographic(Demo::Company),
            "MEMBER_COMPANY_SIZE" => Pivot::Demographic(Demo::CompanySize),
            "MEMBER_INDUSTRY" => Pivot::Demographic(Demo::Industry),
            "MEMBER_SENIORITY" => Pivot::Demographic(Demo::Seniority),
            "MEMBER_JOB_TITLE" => Pivot::Demographic(Demo::JobTitle),
            "MEMBER_JOB_FUNCTION" => Pivot::Demographic(Demo::JobFunction),
            "MEMBER_COUNTRY_V2" => Pivot::Demographic(Demo::Country),
            "MEMBER_REGION_V2" => Pivot::Demographic(Demo::Region),
            _ => return None,
        })
    }

    /// The pivot value of an entity pivot for `creative`; `None` for splits.
    pub fn entity_value(self, data: &Data, creative: &Creative) -> Option<String> {
        let campaign = data.campaigns.get(creative.campaign)?;
        Some(match self {
            Pivot::Account => format!(
                "urn:li:sponsoredAccount:{}",
                data.accounts.get(creative.account)?.id
            ),
            Pivot::CampaignGroup => format!(
                "urn:li:sponsoredCampaignGroup:{}",
                data.groups.get(campaign.group)?.id
            ),
            Pivot::Campaign => format!("urn:li:sponsoredCampaign:{}", campaign.id),
            Pivot::Creative => format!("urn:li:sponsoredCreative:{}", creative.id),
            Pivot::Share => format!("urn:li:share:{}", creative.share),
            Pivot::Conversion | Pivot::Demographic(_) => return None,
        })
    }
}

const COUNTRIES: &[u64] = &[
    103_644_278,
    101_165_590,
    101_282_230,
    105_015_875,
    101_174_742,
    102_713_980,
    105_646_813,
    101_452_733,
    102_890_719,
    106_693_272,
];
const REGIONS: &[u64] = &[
    90_000_084, 90_000_097, 90_009_496, 90_000_070, 90_009_551, 90_000_049, 90_009_659, 90_000_031,
    90_009_540, 90_010_409,
];
const INDUSTRIES: &[u64] = &[4, 6, 43, 47, 80, 96, 104, 116, 137, 1594, 1810, 2458];
pub const COMPANY_SIZES: &[&str] = &[
    "SIZE_1",
    "SIZE_2_TO_10",
    "SIZE_11_TO_50",
    "SIZE_51_TO_200",
    "SIZE_201_TO_500",
    "SIZE_501_TO_1000",
    "SIZE_1001_TO_5000",
    "SIZE_5001_TO_10000",
    "SIZE_10001_OR_MORE",
];

impl Demo {
    fn values(self) -> Vec<String> {
        match self {
            Demo::Company => (0..40)
                .map(|k| format!("urn:li:organization:{}", 1_003 + k * 3_701))
                .collect(),
            Demo::CompanySize => COMPANY_SIZES.iter().map(|s| s.to_string()).collect(),
            Demo::Industry => INDUSTRIES
                .iter()
                .map(|n| format!("urn:li:industry:{n}"))
                .collect(),
            Demo::Seniority => (1..=10).map(|n| format!("urn:li:seniority:{n}")).collect(),
            Demo::JobTitle => (0..30)
                .map(|k| format!("urn:li:title:{}", 9 + k * 113))
                .collect(),
            Demo::JobFunction => (1..=26).map(|n| format!("urn:li:function:{n}")).collect(),
            Demo::Country => COUNTRIES
                .iter()
                .map(|n| format!("urn:li:geo:{n}"))
                .collect(),
            Demo::Region => REGIONS.iter().map(|n| format!("urn:li:geo:{n}")).collect(),
        }
    }

    fn salt(self) -> u64 {
        self as u64 + 1
    }
}

fn day_key(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce())
}

/// `n · permille / 1000`, with a deterministic ±25 % wobble.
fn part(rng: &mut Rng, n: u64, permille: u64) -> u64 {
    let wobble = 75 + rng.below(51);
    n * permille * wobble / 100_000
}

/// The delivery of `creative` on `day`, or `None` for a day without activity.
pub fn daily(data: &Data, seed: u64, ci: usize, day: NaiveDate) -> Option<Vector> {
    let creative = data.creatives.get(ci)?;
    let campaign = data.campaigns.get(creative.campaign)?;
    let (from, to) = campaign.active?;
    if day < from || to.is_some_and(|t| day > t) || day > data.anchor || creative.status == "DRAFT"
    {
        return None;
    }
    let mut rng = Rng::new(hash(seed ^ creative.id, &format!("day:{}", day_key(day))));
    // about one day in eight without any activity
    if rng.chance(12) {
        return None;
    }
    let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    let base = creative.scale * if weekend { 45 } else { 100 } / 100;
    let impressions = base * (60 + rng.below(81)) / 100;
    if impressions == 0 {
        return None;
    }
    let mut v = [0u64; N];
    let clicks = (impressions * creative.ctr_bp / 10_000 + rng.below(3)).min(impressions);
    v[ix("impressions")] = impressions;
    v[ix("clicks")] = clicks;
    let cost = impressions * creative.cpm_micro / 1_000 + rng.below(1_000_000);
    v[ix("costInUsd")] = cost;
    let rate = data
        .accounts
        .get(creative.account)
        .map_or(1_000_000, |a| a.rate_micro);
    v[ix("costInLocalCurrency")] = cost * rate / 1_000_000;
    v[ix("landingPageClicks")] = clicks * (60 + rng.below(35)) / 100;
    let likes = part(&mut rng, impressions, 4);
    v[ix("likes")] = likes;
    v[ix("reactions")] = likes + part(&mut rng, impressions, 1);
    let comments = part(&mut rng, impressions, 1);
    v[ix("comments")] = comments;
    v[ix("commentLikes")] = comments / 2;
    let shares = part(&mut rng, impressions, 1);
    v[ix("shares")] = shares;
    let follows = part(&mut rng, impressions, 1);
    v[ix("follows")] = follows;
    let other = part(&mut rng, impressions, 2);
    v[ix("otherEngagements")] = other;
    v[ix("totalEngagements")] = clicks + likes + comments + shares + follows + other;
    v[ix("companyPageClicks")] = part(&mut rng, clicks, 80);
    v[ix("textUrlClicks")] = part(&mut rng, clicks, 50);
    v[ix("actionClicks")] = part(&mut rng, clicks, 30);
    v[ix("adUnitClicks")] = part(&mut rng, clicks, 40);
    let card_impressions = part(&mut rng, impressions, 150);
    v[ix("cardImpressions")] = card_impressions;
    v[ix("cardClicks")] = part(&mut rng, clicks, 60);
    if campaign.kind == "SPONSORED_INMAILS" {
        let sends = impressions / 3;
        v[ix("sends")] = sends;
        v[ix("opens")] = part(&mut rng, sends, 450);
    }
    if creative.video {
        let starts = part(&mut rng, impressions, 400);
        v[ix("videoStarts")] = starts;
        let views = part(&mut rng, starts, 600);
        v[ix("videoViews")] = views;
        let q1 = views * 80 / 100;
        let mid = q1 * 75 / 100;
        let q3 = mid * 75 / 100;
        v[ix("videoFirstQuartileCompletions")] = q1;
        v[ix("videoMidpointCompletions")] = mid;
        v[ix("videoThirdQuartileCompletions")] = q3;
        v[ix("videoCompletions")] = q3 * 80 / 100;
        v[ix("fullScreenPlays")] = part(&mut rng, views, 50);
    }
    let opens = part(&mut rng, clicks, 100);
    v[ix("oneClickLeadFormOpens")] = opens;
    let leads = part(&mut rng, opens, 300);
    v[ix("oneClickLeads")] = leads;
    v[ix("leadGenerationMailContactInfoShares")] = leads / 2;
    v[ix("validWorkEmailLeads")] = leads * 2 / 3;
    let post_click = part(&mut rng, clicks, 40);
    let post_view = part(&mut rng, impressions, 1);
    v[ix("externalWebsitePostClickConversions")] = post_click;
    v[ix("externalWebsitePostViewConversions")] = post_view;
    v[ix("externalWebsiteConversions")] = post_click + post_view;
    v[ix("conversionValueInLocalCurrency")] =
        (post_click + post_view) * (20 + rng.below(180)) * 1_000_000 + rng.below(1_000_000);
    v[ix("jobApplications")] = part(&mut rng, clicks, 10);
    v[ix("registrations")] = part(&mut rng, clicks, 15);
    v[ix("talentLeads")] = part(&mut rng, clicks, 5);
    v[ix("viralImpressions")] = part(&mut rng, impressions, 30);
    v[ix("viralClicks")] = part(&mut rng, clicks, 20);
    Some(v)
}

/// Cut `v` by a split pivot into `(pivot value, piece)`, the pieces summing to at most `v`.
pub fn split(
    data: &Data,
    seed: u64,
    pivot: Pivot,
    ci: usize,
    day: NaiveDate,
    v: &Vector,
) -> Vec<(String, Vector)> {
    let Some(creative) = data.creatives.get(ci) else {
        return Vec::new();
    };
    let key = format!("split:{pivot:?}:{}", day_key(day));
    let mut rng = Rng::new(hash(seed ^ creative.id, &key));
    match pivot {
        Pivot::Conversion => {
            let convs: Vec<u64> = data
                .conversions
                .iter()
                .filter(|c| c.account == creative.account)
                .map(|c| c.id)
                .collect();
            let weights: Vec<u64> = convs.iter().map(|_| 1 + rng.below(10)).collect();
            let total: u64 = weights.iter().sum::<u64>().max(1);
            let mut out = Vec::new();
            for (id, w) in convs.iter().zip(&weights) {
                let mut piece = [0u64; N];
                for name in CONVERSION_METRICS {
                    let i = ix(name);
                    piece[i] = v[i] * w / total;
                }
                if piece[ix("externalWebsiteConversions")] > 0 {
                    out.push((format!("urn:li:llaPartnerConversion:{id}"), piece));
                }
            }
            out
        }
        Pivot::Demographic(demo) => {
            // demographic data is missing for some creative-days
            if rng.chance(15) {
                return Vec::new();
            }
            let mut pool = demo.values();
            let salt = hash(
                seed ^ demo.salt(),
                &format!("{}:{}", creative.id, day_key(day)),
            );
            let mut shuffle = Rng::new(salt);
            for i in (1..pool.len()).rev() {
                let j = shuffle.below(i as u64 + 1) as usize;
                pool.swap(i, j);
            }
            let top = (3 + rng.below(6) as usize).min(pool.len());
            let weights: Vec<u64> = (0..top).map(|_| 1 + rng.below(100)).collect();
            let total: u64 = weights.iter().sum::<u64>().max(1);
            let mut out = Vec::new();
            for (value, w) in pool.into_iter().zip(&weights) {
                // the top values hold 85 % of the delivery; the tail is not reported
                let share = w * 850 / total;
                let mut piece = [0u64; N];
                for (i, x) in v.iter().enumerate() {
                    piece[i] = x * share / 1_000;
                }
                if piece[ix("impressions")] >= 3 {
                    out.push((value, piece));
                }
            }
            out
        }
        _ => vec![(String::new(), *v)],
    }
}

/// A money value in micro units as LinkedIn writes it: `"209.449012"`, `"12.5"`, `"0"`.
pub fn money(micros: u64) -> String {
    let whole = micros / 1_000_000;
    let frac = micros % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The value of metric `i` in a row whose sums are `v`.
pub fn render(i: usize, v: &Vector) -> serde_json::Value {
    match METRICS[i].1 {
        Kind::Count => serde_json::Value::from(v[i]),
        Kind::Money => serde_json::Value::from(money(v[i])),
        Kind::Reach => serde_json::Value::from(v[ix("impressions")] * 7 / 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_up_to_six_decimals() {
        assert_eq!(money(209_449_012), "209.449012");
        assert_eq!(money(12_500_000), "12.5");
        assert_eq!(money(0), "0");
        assert_eq!(money(5), "0.000005");
    }

    #[test]
    fn there_are_enough_metrics_for_three_chunks() {
        const { assert!(N >= 36) };
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), N);
    }
}
