//! Delivery and conversions per (ad, day), and the value of every reporting column.
//!
//! An ad-day is a fixed vector of base counts ([`Base`]), drawn from the seed, the ad and the
//! date only: the same day has the same impressions on every request. Campaigns, ad groups and
//! the account sum their ads, so every level agrees. Columns (CTR, CPM, ROAS, …) derive from the
//! summed bases.
//!
//! Conversions are attributed to the day of the ad action (`TIME_OF_AD_ACTION`) and keep arriving
//! for the attribution window after it: the value "as of now" of a day `age` days ago counts the
//! conversions with a lag ≤ min(age, window), following a fixed curve ([`MATURITY`]). A re-pull of
//! a recent day therefore gives larger numbers, one of a day older than the window the same ones.
//! With `TIME_OF_CONVERSION` a day holds the conversions that happened on it, which never change
//! once the day is over. Today holds only the hours already past (UTC).

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{json, Value};

use super::data::Ad;
use crate::rng::Rng;

pub const IMP1: usize = 0;
pub const IMP1_GROSS: usize = 1;
pub const IMP2: usize = 2;
pub const CLK1: usize = 3;
pub const CLK1_GROSS: usize = 4;
pub const CLK2: usize = 5;
pub const OUT1: usize = 6;
pub const OUT2: usize = 7;
pub const SAVE1: usize = 8;
pub const SAVE2: usize = 9;
pub const ENG1: usize = 10;
pub const ENG2: usize = 11;
pub const SPEND: usize = 12;
pub const USERS: usize = 13;
pub const WS1: usize = 14;
pub const WS2: usize = 15;
/// Video counters, paid (`_1`) then earned (`_2`): 3 s views, 15 s unique views, MRC views,
/// p0/p25/p50/p75/p95/p100, watch seconds.
const VIDEO1: usize = 16;
const VIDEO2: usize = 26;
pub const VIDEO_SPEND: usize = 36;
pub const TAG1: usize = 37;
pub const TAG2: usize = 38;
pub const LEADS: usize = 39;
pub const QUIZ_DONE: usize = 40;
pub const QUIZ_OPEN: usize = 41;
const SHOWCASE0: usize = 42;
/// The `SHOWCASE_*` counters, in field order after [`SHOWCASE0`]; then the showcase sessions.
const SHOWCASE: &[&str] = &[
    "PIN_CLICKTHROUGH",
    "SUBPAGE_CLICKTHROUGH",
    "SUBPIN_CLICKTHROUGH",
    "SUBPAGE_IMPRESSION",
    "SUBPIN_IMPRESSION",
    "SUBPAGE_SWIPE_LEFT",
    "SUBPAGE_SWIPE_RIGHT",
    "SUBPIN_SWIPE_LEFT",
    "SUBPIN_SWIPE_RIGHT",
    "SUBPAGE_REPIN",
    "SUBPIN_REPIN",
    "SUBPAGE_CLOSEUP",
    "CARD_THUMBNAIL_SWIPE_FORWARD",
    "CARD_THUMBNAIL_SWIPE_BACKWARD",
];
const SHOWCASE_SESSIONS: usize = SHOWCASE0 + 14;
/// Fields that are delivery (not conversions): split by hour, scaled for today.
pub const DIRECT: usize = SHOWCASE_SESSIONS + 1;

/// Conversion event types; checkouts and app installs are split by channel so the `WEB_`,
/// `INAPP_` and `OFFLINE_` columns sum up.
const CONV_TYPES: &[&str] = &[
    "PAGE_VISIT",
    "SIGNUP",
    "CHECKOUT_WEB",
    "CHECKOUT_INAPP",
    "CHECKOUT_OFFLINE",
    "CUSTOM",
    "ADD_TO_CART",
    "LEAD",
    "SEARCH",
    "WATCH_VIDEO",
    "VIEW_CATEGORY",
    "UNKNOWN",
    "APP_INSTALL",
    "APP_INSTALL_INAPP",
    "ADD_TO_WISHLIST",
    "SUBSCRIBE",
];
/// Conversions per 10,000 clicks of an ad with conversion scale 1000.
const CONV_RATES: &[u64] = &[
    2_500, 150, 300, 60, 20, 80, 600, 90, 200, 100, 400, 30, 20, 15, 120, 40,
];
/// The types that carry a value, and the field each type's value lives at.
const VALUE_TYPES: &[usize] = &[0, 1, 2, 3, 4, 5];
/// The three attribution paths: click, engagement, view.
pub const PATHS: usize = 3;
const CONV0: usize = DIRECT;
const VAL0: usize = CONV0 + 16 * PATHS;
pub const FIELDS: usize = VAL0 + 6 * PATHS;

/// Per mille of a day's conversions (with a 60-day window) that have arrived `lag` days after
/// the ad action: 1000·(1 − 0.7·e^(−lag/7)), normalized at 60 days. A table, so every machine
/// rounds alike.
pub const MATURITY: [u64; 61] = [
    300, 393, 474, 544, 605, 657, 703, 743, 777, 807, 832, 855, 874, 891, 905, 918, 929, 938, 947,
    954, 960, 965, 970, 974, 977, 980, 983, 985, 987, 989, 990, 992, 993, 994, 995, 995, 996, 997,
    997, 997, 998, 998, 998, 999, 999, 999, 999, 999, 999, 999, 1000, 1000, 1000, 1000, 1000, 1000,
    1000, 1000, 1000, 1000, 1000,
];

/// Share of a day's delivery in each UTC hour.
pub const HOUR_WEIGHTS: [u64; 24] = [
    2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 7, 7, 6, 6, 6, 7, 8, 9, 9, 8, 6, 4,
];

fn hour_total() -> u64 {
    HOUR_WEIGHTS.iter().sum()
}

/// Weight of the hours before `hour`.
fn hours_before(hour: u32) -> u64 {
    HOUR_WEIGHTS.iter().take(hour as usize).sum()
}

/// The base counts of one ad-day, or of a sum of them.
#[derive(Clone, PartialEq, Eq)]
pub struct Base(pub [u64; FIELDS]);

impl Default for Base {
    fn default() -> Self {
        Self([0; FIELDS])
    }
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Base(imp1={}, spend={})", self.0[IMP1], self.0[SPEND])
    }
}

impl Base {
    pub fn add(&mut self, other: &Base) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }

    /// Every field scaled by `num/den` (floor).
    fn scaled(&self, num: u64, den: u64) -> Base {
        let mut out = Base::default();
        for (o, v) in out.0.iter_mut().zip(self.0.iter()) {
            *o = mul_div(*v, num, den);
        }
        out
    }

    /// The `part`-th share of a split by cumulative weights: `floor(x·upto/total) −
    /// floor(x·before/total)`, so the shares of all parts sum to the whole exactly.
    pub fn share(&self, before: u64, upto: u64, total: u64) -> Base {
        let mut out = Base::default();
        for (o, v) in out.0.iter_mut().zip(self.0.iter()) {
            *o = mul_div(*v, upto, total) - mul_div(*v, before, total);
        }
        out
    }

    /// The delivery of `hour` (UTC) of a day whose first `hours` hours are over (24, or the
    /// current hour for today); conversions stay with the day (HOUR reports none).
    pub fn hour(&self, hour: u32, hours: u32) -> Base {
        let mut out = self.share(
            hours_before(hour),
            hours_before(hour + 1),
            hours_before(hours),
        );
        out.0[DIRECT..].iter_mut().for_each(|v| *v = 0);
        out
    }

    /// The conversion counts that are not zero: (field, count, value field and value, if the
    /// type carries one).
    fn conversions(&self) -> Vec<Conv> {
        (CONV0..VAL0)
            .filter(|i| self.0[*i] > 0)
            .map(|i| {
                let (t, p) = ((i - CONV0) / PATHS, (i - CONV0) % PATHS);
                let value = VALUE_TYPES
                    .iter()
                    .position(|x| *x == t)
                    .map(|k| (VAL0 + k * PATHS + p, self.0[VAL0 + k * PATHS + p]));
                Conv {
                    field: i,
                    path: p,
                    count: self.0[i],
                    value,
                }
            })
            .collect()
    }
}

/// One conversion count of a day and the value that goes with it.
struct Conv {
    field: usize,
    path: usize,
    count: u64,
    value: Option<(usize, u64)>,
}

impl Conv {
    /// Add `arrived` of the final conversions, and their share of the value.
    fn credit(&self, b: &mut Base, arrived: u64) {
        b.0[self.field] += arrived;
        if let Some((f, v)) = self.value {
            b.0[f] += mul_div(v, arrived, self.count);
        }
    }
}

fn mul_div(v: u64, num: u64, den: u64) -> u64 {
    if den == 0 {
        return 0;
    }
    ((v as u128 * num as u128) / den as u128) as u64
}

/// `num/den` rounded at random: the expected value is exact, the result an integer.
fn frac(rng: &mut Rng, num: u64, den: u64) -> u64 {
    if den == 0 {
        return 0;
    }
    num / den + u64::from(rng.below(den) < num % den)
}

/// Which way conversions are counted, and how long after the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribution {
    /// click, engagement, view window in days (each of 0, 1, 7, 14, 30, 60)
    pub windows: [u32; PATHS],
    /// `TIME_OF_CONVERSION` (else `TIME_OF_AD_ACTION`)
    pub at_conversion: bool,
}

impl Default for Attribution {
    /// The API's defaults: click 30, engagement 30, view 1, time of ad action.
    fn default() -> Self {
        Self {
            windows: [30, 30, 1],
            at_conversion: false,
        }
    }
}

/// "Now" as the sandbox sees it: today's date (UTC, maybe moved by the clock control) and the
/// current hour.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub today: NaiveDate,
    pub hour: u32,
}

/// A day's delivery and final (60-day) conversions, before any window or "as of now".
fn raw(seed: u64, ad: &Ad, day: NaiveDate) -> Option<Base> {
    if !ad.active.contains(day) {
        return None;
    }
    let mut rng = Rng::new(
        seed ^ ad.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((day.num_days_from_ce() as u64) << 20),
    );
    // some days an ad does not deliver at all
    if !rng.chance(93) {
        return None;
    }
    let mut b = Base::default();
    let v = &mut b.0;
    let weekday = [100, 104, 102, 98, 96, 110, 115][day.weekday().num_days_from_monday() as usize];
    let imp1 = ad.scale * (60 + rng.below(80)) * weekday / 10_000;
    v[IMP1] = imp1;
    v[IMP1_GROSS] = imp1 + part(&mut rng, imp1, 0, 6, 100);
    let imp2 = part(&mut rng, imp1, 5, 35, 100);
    v[IMP2] = imp2;
    let clk1 = frac(&mut rng, imp1 * ad.ctr_bp, 10_000);
    let clk2 = frac(&mut rng, imp2 * ad.ctr_bp * 8, 100_000);
    v[CLK1] = clk1;
    v[CLK1_GROSS] = clk1 + part(&mut rng, clk1, 0, 8, 100);
    v[CLK2] = clk2;
    v[OUT1] = part(&mut rng, clk1, 40, 40, 100);
    v[OUT2] = part(&mut rng, clk2, 40, 40, 100);
    v[SAVE1] = part(&mut rng, imp1, 2, 13, 1_000);
    v[SAVE2] = part(&mut rng, imp2, 2, 13, 1_000);
    let closeups1 = part(&mut rng, imp1, 5, 15, 1_000);
    let closeups2 = part(&mut rng, imp2, 5, 15, 1_000);
    v[ENG1] = clk1 + v[SAVE1] + closeups1;
    v[ENG2] = clk2 + v[SAVE2] + closeups2;
    v[SPEND] = imp1 * ad.cpm_micro / 1_000;
    v[USERS] = (imp1 + imp2) * rng_pct(&mut rng, 80, 15) / 100;
    v[WS1] = part(&mut rng, v[OUT1], 60, 35, 100);
    v[WS2] = part(&mut rng, v[OUT2], 60, 35, 100);
    if let Some(length) = ad.video_length {
        for (first, imp) in [(VIDEO1, imp1), (VIDEO2, imp2)] {
            let views = part(&mut rng, imp, 20, 20, 100);
            let mut left = views + views / 10;
            v[first + 3] = left; // p0
            for p in 4..9 {
                left = left * rng_pct(&mut rng, 70, 25) / 100;
                v[first + p] = left; // p25 … p100
            }
            v[first] = views;
            v[first + 1] = views * rng_pct(&mut rng, 30, 20) / 100;
            v[first + 2] = views * rng_pct(&mut rng, 60, 20) / 100;
            v[first + 9] = views * (2 + rng.below(length.max(3) - 1));
        }
        v[VIDEO_SPEND] = v[SPEND];
    }
    match ad.creative {
        "IDEA" => {
            v[TAG1] = part(&mut rng, clk1, 20, 40, 100);
            v[TAG2] = part(&mut rng, clk2, 20, 40, 100);
        }
        "QUIZ" => {
            v[QUIZ_OPEN] = part(&mut rng, clk1, 30, 40, 100);
            v[QUIZ_DONE] = part(&mut rng, v[QUIZ_OPEN], 40, 40, 100);
        }
        "SHOWCASE" => {
            for k in 0..SHOWCASE.len() {
                v[SHOWCASE0 + k] = part(&mut rng, clk1, 10, 150, 100);
            }
            v[SHOWCASE_SESSIONS] = clk1;
        }
        _ => {}
    }
    if ad.lead_form {
        v[LEADS] = part(&mut rng, clk1, 5, 15, 100);
    }
    for (t, rate) in CONV_RATES.iter().enumerate() {
        let per = rate * ad.conv_permille;
        v[CONV0 + t * PATHS] = frac(&mut rng, clk1 * per, 10_000_000);
        v[CONV0 + t * PATHS + 1] = frac(&mut rng, v[ENG1].saturating_sub(clk1) * per, 30_000_000);
        v[CONV0 + t * PATHS + 2] = frac(&mut rng, imp1 * per, 500_000_000);
    }
    for (k, t) in VALUE_TYPES.iter().enumerate() {
        let unit = match *t {
            0 => 500_000,
            1 => 5_000_000,
            5 => 20_000_000,
            _ => ad.aov_micro,
        };
        for p in 0..PATHS {
            let n = v[CONV0 + t * PATHS + p];
            v[VAL0 + k * PATHS + p] = n * unit * rng_pct(&mut rng, 80, 40) / 100;
        }
    }
    Some(b)
}

/// `x` times a percentage in `lo..lo+span`, over `den`, rounded at random.
fn part(rng: &mut Rng, x: u64, lo: u64, span: u64, den: u64) -> u64 {
    let p = rng_pct(rng, lo, span);
    frac(rng, x * p, den)
}

/// A percentage in `lo..lo+span`.
fn rng_pct(rng: &mut Rng, lo: u64, span: u64) -> u64 {
    lo + rng.below(span.max(1))
}

fn matured(n: u64, lag: i64) -> u64 {
    if lag < 0 {
        return 0;
    }
    mul_div(n, MATURITY[lag.min(60) as usize], 1_000)
}

/// The ad's days `from..=to` as of `clock`, under `attr`: `None` for a day without delivery or
/// conversions. Days after today have nothing; today only the hours before the current one.
pub fn ad_series(
    seed: u64,
    ad: &Ad,
    from: NaiveDate,
    to: NaiveDate,
    attr: Attribution,
    clock: Clock,
) -> Vec<Option<Base>> {
    let days = (to - from).num_days().max(-1) + 1;
    let mut out = Vec::with_capacity(days as usize);
    if days <= 0 {
        return out;
    }
    let longest = i64::from(*attr.windows.iter().max().unwrap_or(&0));
    // conversions of a day come from actions up to `longest` days before it
    let lead = if attr.at_conversion { longest } else { 0 };
    let raws: Vec<Option<Base>> = (-lead..days)
        .map(|k| raw(seed, ad, from + Duration::days(k)))
        .collect();
    let convs: Vec<Vec<Conv>> = raws
        .iter()
        .map(|r| r.as_ref().map_or_else(Vec::new, Base::conversions))
        .collect();
    for k in 0..days {
        let day = from + Duration::days(k);
        if day > clock.today {
            out.push(None);
            continue;
        }
        let own = &raws[(k + lead) as usize];
        let mut b = own.clone().unwrap_or_default();
        b.0[CONV0..].iter_mut().for_each(|v| *v = 0);
        if attr.at_conversion {
            // the conversions that happened on `day`, from the actions of the days before it
            for lag in 0..=longest.min(k + lead) {
                for c in &convs[(k + lead - lag) as usize] {
                    if lag <= i64::from(attr.windows[c.path]) {
                        c.credit(&mut b, matured(c.count, lag) - matured(c.count, lag - 1));
                    }
                }
            }
        } else {
            let age = (clock.today - day).num_days();
            for c in &convs[(k + lead) as usize] {
                let cap = age.min(i64::from(attr.windows[c.path]));
                c.credit(&mut b, matured(c.count, cap));
            }
        }
        if day == clock.today {
            b = b.scaled(hours_before(clock.hour), hour_total());
        }
        out.push((own.is_some() || !b.is_zero()).then_some(b));
    }
    out
}

/// What a column holds for a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// An entity attribute (name, id, status, budget): the caller knows it.
    Attribute,
    /// A metric without a value here (a ratio over zero, conversions in an HOUR report, a column
    /// this account has no data for): the key is left out.
    Absent,
    Metric(Value),
}

/// Entity columns, answered from the entity rather than from the counts.
pub const ATTRIBUTES: &[&str] = &[
    "CAMPAIGN_NAME",
    "CAMPAIGN_ID",
    "CAMPAIGN_ENTITY_STATUS",
    "CAMPAIGN_STATUS",
    "CAMPAIGN_OBJECTIVE_TYPE",
    "CAMPAIGN_LIFETIME_SPEND_CAP",
    "CAMPAIGN_DAILY_SPEND_CAP",
    "CAMPAIGN_BUDGET_OPTIMIZATION",
    "IS_PREMIERE_CAMPAIGN",
    "AD_GROUP_NAME",
    "AD_GROUP_ID",
    "AD_GROUP_ENTITY_STATUS",
    "AD_GROUP_STATUS",
    "AD_GROUP_BUDGET_TYPE",
    "AD_GROUP_BUDGET_IN_LOCAL_CURRENCY",
    "AD_GROUP_BID_MULTIPLIER",
    "AD_GROUP_OPTIMIZATION",
    "AD_ID",
    "AD_NAME",
    "AD_STATUS",
    "PIN_ID",
    "PIN_PROMOTION_ID",
    "PIN_PROMOTION_NAME",
    "PIN_PROMOTION_STATUS",
    "ADVERTISER_ID",
    "AD_ACCOUNT_ID",
    "VIDEO_LENGTH",
];

/// Columns this sandbox never has a value for (promotions, order lines, product groups, brand
/// labels): the real API leaves such keys out too.
const NEVER: &[&str] = &[
    "PROMO_ID",
    "PROMO_NAME",
    "ORDER_LINE_ID",
    "ORDER_LINE_NAME",
    "PRODUCT_GROUP_AD_IMAGE_TAG",
    "PRODUCT_GROUP_AD_VIDEO_TAG",
    "CAMPAIGN_BRAND_LABEL",
];

/// Whether a column is a conversion metric (dropped from HOUR rows, grows with the window).
#[cfg(test)]
fn is_conversion(col: &str) -> bool {
    conversion(col).is_some()
}

fn int(v: u64) -> Cell {
    Cell::Metric(json!(v))
}

fn float(v: f64) -> Cell {
    match serde_json::Number::from_f64(v) {
        Some(n) => Cell::Metric(Value::Number(n)),
        None => Cell::Absent,
    }
}

/// `num·mul/den/div`: `div` 1e6 turns micro dollars into dollars without float residue.
fn ratio(num: u64, den: u64, mul: f64, div: f64) -> Cell {
    if den == 0 {
        Cell::Absent
    } else {
        float(num as f64 * mul / den as f64 / div)
    }
}

/// The value of column `col` for counts `b`; `hour` for an HOUR row (no conversions).
pub fn cell(col: &str, b: &Base, hour: bool) -> Cell {
    if ATTRIBUTES.contains(&col) {
        return Cell::Attribute;
    }
    if NEVER.contains(&col) {
        return Cell::Absent;
    }
    let v = &b.0;
    let clicks = v[CLK1] + v[CLK2];
    let imps = v[IMP1] + v[IMP2];
    let outbound = v[OUT1] + v[OUT2];
    match col {
        "SPEND_IN_MICRO_DOLLAR" => return int(v[SPEND]),
        "SPEND_IN_DOLLAR" => return float(v[SPEND] as f64 / 1e6),
        "PAID_IMPRESSION" | "IMPRESSION_1" => return int(v[IMP1]),
        "IMPRESSION_1_GROSS" => return int(v[IMP1_GROSS]),
        "IMPRESSION_2" => return int(v[IMP2]),
        "TOTAL_IMPRESSION" => return int(imps),
        "CLICKTHROUGH_1" => return int(v[CLK1]),
        "CLICKTHROUGH_1_GROSS" => return int(v[CLK1_GROSS]),
        "CLICKTHROUGH_2" => return int(v[CLK2]),
        "TOTAL_CLICKTHROUGH" => return int(clicks),
        "OUTBOUND_CLICK_1" => return int(v[OUT1]),
        "OUTBOUND_CLICK_2" => return int(v[OUT2]),
        "REPIN_1" => return int(v[SAVE1]),
        "REPIN_2" => return int(v[SAVE2]),
        "ENGAGEMENT_1" => return int(v[ENG1]),
        "ENGAGEMENT_2" => return int(v[ENG2]),
        "TOTAL_ENGAGEMENT" => return int(v[ENG1] + v[ENG2]),
        "TOTAL_IMPRESSION_USER" => return int(v[USERS]),
        "TOTAL_IMPRESSION_FREQUENCY" => return ratio(imps, v[USERS], 1.0, 1.0),
        "CPC_IN_MICRO_DOLLAR" => return ratio(v[SPEND], v[CLK1], 1.0, 1.0),
        "ECPC_IN_MICRO_DOLLAR" => return ratio(v[SPEND], clicks, 1.0, 1.0),
        "ECPC_IN_DOLLAR" => return ratio(v[SPEND], clicks, 1.0, 1e6),
        "CTR" => return ratio(v[CLK1], v[IMP1], 1.0, 1.0),
        "ECTR" => return ratio(clicks, imps, 1.0, 1.0),
        "CTR_2" => return ratio(v[CLK2], v[IMP2], 1.0, 1.0),
        "OUTBOUND_CTR_1" => return ratio(v[OUT1], v[IMP1], 1.0, 1.0),
        "OUTBOUND_CTR" => return ratio(outbound, imps, 1.0, 1.0),
        "ECPE_IN_DOLLAR" => return ratio(v[SPEND], v[ENG1] + v[ENG2], 1.0, 1e6),
        "ENGAGEMENT_RATE" => return ratio(v[ENG1] + v[ENG2], imps, 1.0, 1.0),
        "EENGAGEMENT_RATE" => return ratio(v[ENG1], v[IMP1], 1.0, 1.0),
        "ECPM_IN_MICRO_DOLLAR" => return ratio(v[SPEND], imps, 1_000.0, 1.0),
        "CPM_IN_MICRO_DOLLAR" => return ratio(v[SPEND], v[IMP1], 1_000.0, 1.0),
        "CPM_IN_DOLLAR" => return ratio(v[SPEND], v[IMP1], 1_000.0, 1e6),
        "REPIN_RATE" => return ratio(v[SAVE1], v[IMP1], 1.0, 1.0),
        "TOTAL_REPIN_RATE" => return ratio(v[SAVE1] + v[SAVE2], imps, 1.0, 1.0),
        "COST_PER_OUTBOUND_CLICK_IN_DOLLAR" => return ratio(v[SPEND], outbound, 1.0, 1e6),
        "COST_PER_OUTBOUND_CLICK_IN_DOLLAR_1" => return ratio(v[SPEND], v[OUT1], 1.0, 1e6),
        "COST_PER_OUTBOUND_CLICK" => return ratio(v[SPEND], outbound, 1.0, 1.0),
        "TOTAL_WEB_SESSIONS" => return int(v[WS1] + v[WS2]),
        "WEB_SESSIONS_1" => return int(v[WS1]),
        "WEB_SESSIONS_2" => return int(v[WS2]),
        "PAID_VIDEO_VIEWABLE_RATE" => return ratio(v[VIDEO1 + 2], v[IMP1], 1.0, 1.0),
        "VIDEO_SPEND_IN_DOLLAR" => return float(v[VIDEO_SPEND] as f64 / 1e6),
        "ECPV_IN_DOLLAR" => return ratio(v[VIDEO_SPEND], v[VIDEO1], 1.0, 1e6),
        "CPV_IN_MICRO_DOLLAR" => return ratio(v[VIDEO_SPEND], v[VIDEO1], 1.0, 1.0),
        "ECPCV_IN_DOLLAR" => return ratio(v[VIDEO_SPEND], v[VIDEO1 + 8], 1.0, 1e6),
        "CPCV_IN_MICRO_DOLLAR" => return ratio(v[VIDEO_SPEND], v[VIDEO1 + 8], 1.0, 1.0),
        "ECPCV_P95_IN_DOLLAR" => return ratio(v[VIDEO_SPEND], v[VIDEO1 + 7], 1.0, 1e6),
        "CPCV_P95_IN_MICRO_DOLLAR" => return ratio(v[VIDEO_SPEND], v[VIDEO1 + 7], 1.0, 1.0),
        "TOTAL_VIDEO_AVG_WATCHTIME_IN_SECOND" => {
            return ratio(
                v[VIDEO1 + 9] + v[VIDEO2 + 9],
                v[VIDEO1] + v[VIDEO2],
                1.0,
                1.0,
            )
        }
        "VIDEO_AVG_WATCHTIME_IN_SECOND_1" => return ratio(v[VIDEO1 + 9], v[VIDEO1], 1.0, 1.0),
        "VIDEO_AVG_WATCHTIME_IN_SECOND_2" => return ratio(v[VIDEO2 + 9], v[VIDEO2], 1.0, 1.0),
        "IDEA_PIN_PRODUCT_TAG_VISIT_1" => return int(v[TAG1]),
        "IDEA_PIN_PRODUCT_TAG_VISIT_2" => return int(v[TAG2]),
        "TOTAL_IDEA_PIN_PRODUCT_TAG_VISIT" => return int(v[TAG1] + v[TAG2]),
        "LEADS" => return int(v[LEADS]),
        "COST_PER_LEAD" => return ratio(v[SPEND], v[LEADS], 1.0, 1e6),
        "QUIZ_COMPLETED" => return int(v[QUIZ_DONE]),
        "QUIZ_PIN_RESULT_OPEN" => return int(v[QUIZ_OPEN]),
        "QUIZ_COMPLETION_RATE" => return ratio(v[QUIZ_DONE], v[QUIZ_OPEN], 1.0, 1.0),
        "SHOWCASE_AVERAGE_SUBPAGE_CLOSEUP_PER_SESSION" => {
            return ratio(v[SHOWCASE0 + 11], v[SHOWCASE_SESSIONS], 1.0, 1.0)
        }
        _ => {}
    }
    if let Some(k) = col
        .strip_prefix("SHOWCASE_")
        .and_then(|s| SHOWCASE.iter().position(|n| *n == s))
    {
        return int(v[SHOWCASE0 + k]);
    }
    if let Some(c) = video(col, v) {
        return c;
    }
    match conversion(col) {
        Some(_) if hour => Cell::Absent,
        Some(c) => c.value(v),
        None => Cell::Absent,
    }
}

/// `VIDEO_*_1/2` and `TOTAL_VIDEO_*` counters.
fn video(col: &str, v: &[u64; FIELDS]) -> Option<Cell> {
    const NAMES: &[&str] = &[
        "3SEC_VIEWS",
        "15SEC_UNIQUE_VIEWS",
        "MRC_VIEWS",
        "P0_COMBINED",
        "P25_COMBINED",
        "P50_COMBINED",
        "P75_COMBINED",
        "P95_COMBINED",
        "P100_COMPLETE",
    ];
    let find = |s: &str| NAMES.iter().position(|n| *n == s);
    if let Some(k) = col.strip_prefix("TOTAL_VIDEO_").and_then(find) {
        return Some(int(v[VIDEO1 + k] + v[VIDEO2 + k]));
    }
    let rest = col.strip_prefix("VIDEO_")?;
    let (name, first) = match (rest.strip_suffix("_1"), rest.strip_suffix("_2")) {
        (Some(n), _) => (n, VIDEO1),
        (_, Some(n)) => (n, VIDEO2),
        _ => return None,
    };
    find(name).map(|k| int(v[first + k]))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConvKind {
    Count,
    Value,
    CostPerAction,
    Roas,
    Rate,
}

/// A conversion column: what it measures over which types and paths.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Conversion {
    kind: ConvKind,
    types: Vec<usize>,
    paths: [bool; PATHS],
}

fn type_index(name: &str) -> Option<usize> {
    CONV_TYPES.iter().position(|t| *t == name)
}

/// The stored types a column's (channel, type) covers: `CHECKOUT` is web + in-app + offline,
/// `WEB_CHECKOUT` only web; other types have no channel split.
fn types_of(channel: Option<&str>, name: &str) -> Option<Vec<usize>> {
    let t = |n: &str| type_index(n);
    match (channel, name) {
        (None, "CHECKOUT") => Some(vec![
            t("CHECKOUT_WEB")?,
            t("CHECKOUT_INAPP")?,
            t("CHECKOUT_OFFLINE")?,
        ]),
        (Some(ch), "CHECKOUT") => Some(vec![t(&format!("CHECKOUT_{ch}"))?]),
        (None, "APP_INSTALL") => Some(vec![t("APP_INSTALL")?, t("APP_INSTALL_INAPP")?]),
        (Some("INAPP"), "APP_INSTALL") => Some(vec![t("APP_INSTALL_INAPP")?]),
        (None, n) if !n.contains("CHECKOUT") && !n.starts_with("APP_INSTALL") => Some(vec![t(n)?]),
        _ => None,
    }
}

/// Split `WEB_`, `INAPP_` or `OFFLINE_` off a name.
fn channel(name: &str) -> (Option<&'static str>, &str) {
    for ch in ["WEB", "INAPP", "OFFLINE"] {
        if let Some(rest) = name.strip_prefix(ch).and_then(|r| r.strip_prefix('_')) {
            return (Some(ch), rest);
        }
    }
    (None, name)
}

fn conversion(col: &str) -> Option<Conversion> {
    const ALL: [bool; PATHS] = [true; PATHS];
    if col == "TOTAL_CONVERSIONS" || col == "TOTAL_CONVERSIONS_QUANTITY" {
        return Some(Conversion {
            kind: ConvKind::Count,
            types: (0..CONV_TYPES.len()).collect(),
            paths: ALL,
        });
    }
    let simple = |kind, prefix: &str| {
        let (ch, name) = channel(prefix);
        types_of(ch, name).map(|types| Conversion {
            kind,
            types,
            paths: ALL,
        })
    };
    if let Some(p) = col
        .strip_prefix("TOTAL_")
        .and_then(|c| c.strip_suffix("_CONVERSION_RATE"))
    {
        return simple(ConvKind::Rate, p);
    }
    if let Some(p) = col.strip_suffix("_COST_PER_ACTION") {
        return simple(ConvKind::CostPerAction, p);
    }
    if let Some(p) = col.strip_suffix("_ROAS") {
        return simple(ConvKind::Roas, p);
    }
    let rest = col.strip_prefix("TOTAL_")?;
    let (kind, rest) = match rest.strip_suffix("_VALUE_IN_MICRO_DOLLAR") {
        Some(r) => (ConvKind::Value, r),
        None => (
            ConvKind::Count,
            rest.strip_suffix("_QUANTITY").unwrap_or(rest),
        ),
    };
    let (ch, rest) = channel(rest);
    if let Some(types) = types_of(ch, rest) {
        return Some(Conversion {
            kind,
            types,
            paths: ALL,
        });
    }
    for (p, name) in ["CLICK", "ENGAGEMENT", "VIEW"].iter().enumerate() {
        if let Some(t) = rest.strip_prefix(name).and_then(|r| r.strip_prefix('_')) {
            let mut paths = [false; PATHS];
            paths[p] = true;
            return types_of(ch, t).map(|types| Conversion { kind, types, paths });
        }
    }
    None
}

impl Conversion {
    fn count(&self, v: &[u64; FIELDS]) -> u64 {
        self.sum(v, CONV0, Some)
    }

    /// Summed value in micro dollars, or `None` when a type carries no value.
    fn money(&self, v: &[u64; FIELDS]) -> Option<u64> {
        if self.types.iter().any(|t| !VALUE_TYPES.contains(t)) {
            return None;
        }
        Some(self.sum(v, VAL0, |t| VALUE_TYPES.iter().position(|x| *x == t)))
    }

    fn sum(&self, v: &[u64; FIELDS], base: usize, slot: impl Fn(usize) -> Option<usize>) -> u64 {
        let mut total = 0;
        for t in &self.types {
            let Some(s) = slot(*t) else { continue };
            for p in (0..PATHS).filter(|p| self.paths[*p]) {
                total += v[base + s * PATHS + p];
            }
        }
        total
    }

    fn value(&self, v: &[u64; FIELDS]) -> Cell {
        match self.kind {
            ConvKind::Count => int(self.count(v)),
            ConvKind::Value => self.money(v).map_or(Cell::Absent, int),
            ConvKind::CostPerAction => ratio(v[SPEND], self.count(v), 1.0, 1e6),
            ConvKind::Roas => match self.money(v) {
                Some(m) => ratio(m, v[SPEND], 1.0, 1.0),
                None => Cell::Absent,
            },
            ConvKind::Rate => ratio(self.count(v), v[CLK1] + v[CLK2], 1.0, 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::columns::SYNC_COLUMNS;
    use super::super::data;
    use super::*;

    fn some_ad() -> (data::Data, NaiveDate) {
        let anchor = NaiveDate::from_ymd_opt(2025, 6, 1).expect("date");
        (data::generate(42, anchor, 12, 60, 650), anchor)
    }

    #[test]
    fn every_sync_column_is_understood() {
        let mut b = Base::default();
        b.0.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = 10 + i as u64);
        for col in SYNC_COLUMNS {
            let known = ATTRIBUTES.contains(col)
                || NEVER.contains(col)
                || matches!(cell(col, &b, false), Cell::Metric(_));
            assert!(known, "{col} has no meaning");
        }
        assert!(is_conversion(
            "TOTAL_WEB_CLICK_CHECKOUT_VALUE_IN_MICRO_DOLLAR"
        ));
        assert!(is_conversion("TOTAL_VIEW_CATEGORY"));
        assert!(!is_conversion("TOTAL_WEB_SESSIONS"));
        assert_eq!(cell("TOTAL_CONVERSIONS", &b, true), Cell::Absent);
    }

    #[test]
    fn channels_and_paths_add_up() {
        let (d, anchor) = some_ad();
        let clock = Clock {
            today: anchor,
            hour: 12,
        };
        let mut sum = Base::default();
        for ad in &d.ads {
            for b in ad_series(
                42,
                ad,
                anchor - Duration::days(40),
                anchor,
                Attribution::default(),
                clock,
            )
            .into_iter()
            .flatten()
            {
                sum.add(&b);
            }
        }
        let n = |c: &str| match cell(c, &sum, false) {
            Cell::Metric(v) => v.as_u64().unwrap_or(0),
            other => panic!("{c}: {other:?}"),
        };
        assert!(n("TOTAL_CONVERSIONS") > 0);
        assert_eq!(
            n("TOTAL_CHECKOUT"),
            n("TOTAL_WEB_CHECKOUT") + n("TOTAL_OFFLINE_CHECKOUT") + {
                let t = conversion("TOTAL_INAPP_CHECKOUT").expect("parses");
                t.count(&sum.0)
            }
        );
        assert_eq!(
            n("TOTAL_WEB_CHECKOUT"),
            n("TOTAL_WEB_CLICK_CHECKOUT")
                + n("TOTAL_WEB_ENGAGEMENT_CHECKOUT")
                + n("TOTAL_WEB_VIEW_CHECKOUT")
        );
    }

    #[test]
    fn conversions_of_recent_days_grow_and_old_days_stay() {
        let (d, anchor) = some_ad();
        let busy: Vec<&data::Ad> = d.ads.iter().filter(|a| a.active.to.is_none()).collect();
        let total = |day: NaiveDate, today: NaiveDate| {
            let clock = Clock { today, hour: 23 };
            let mut s = Base::default();
            for ad in &busy {
                for b in ad_series(42, ad, day, day, Attribution::default(), clock)
                    .into_iter()
                    .flatten()
                {
                    s.add(&b);
                }
            }
            conversion("TOTAL_CONVERSIONS").expect("parses").count(&s.0)
        };
        let recent = anchor - Duration::days(3);
        let old = anchor - Duration::days(45);
        let later = anchor + Duration::days(5);
        assert!(total(recent, later) > total(recent, anchor));
        assert_eq!(total(old, later), total(old, anchor));
    }

    #[test]
    fn hours_sum_to_the_day() {
        let (d, anchor) = some_ad();
        let clock = Clock {
            today: anchor + Duration::days(1),
            hour: 0,
        };
        let ad = d
            .ads
            .iter()
            .find(|a| a.active.to.is_none())
            .expect("an active ad");
        let day = ad_series(42, ad, anchor, anchor, Attribution::default(), clock)
            .pop()
            .flatten()
            .unwrap_or_default();
        let mut hours = Base::default();
        (0..24).for_each(|h| hours.add(&day.hour(h, 24)));
        assert_eq!(hours.0[..DIRECT], day.0[..DIRECT]);
    }
}
