//! What the sandbox served, per vendor: `GET /_sandbox/stats`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::Shared;

#[derive(Default)]
struct VendorStats {
    requests: u64,
    by_status: BTreeMap<String, u64>,
    by_route: BTreeMap<String, BTreeMap<String, u64>>,
    first_request_s: Option<f64>,
    last_request_s: Option<f64>,
}

#[derive(Default)]
pub struct Stats {
    vendors: Mutex<BTreeMap<&'static str, VendorStats>>,
}

impl Stats {
    pub fn record(&self, vendor: &'static str, route: &str, status: u16) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let mut g = self.vendors.lock().unwrap_or_else(|p| p.into_inner());
        let v = g.entry(vendor).or_default();
        v.requests += 1;
        *v.by_status.entry(status.to_string()).or_default() += 1;
        *v.by_route
            .entry(route.to_string())
            .or_default()
            .entry(status.to_string())
            .or_default() += 1;
        v.first_request_s.get_or_insert(now);
        v.last_request_s = Some(now);
    }

    pub(crate) fn to_json(&self, shared: &Shared) -> Value {
        let g = self.vendors.lock().unwrap_or_else(|p| p.into_inner());
        let mut vendors = serde_json::Map::new();
        let quotas = [
            ("zendesk", shared.zendesk.quota_specs(), None),
            ("mixpanel", shared.mixpanel.quota_specs(), None),
            (
                "pinterest",
                shared.pinterest.quota_specs(),
                Some(shared.pinterest.stats_json()),
            ),
            (
                "linkedin",
                shared.linkedin.quota_specs(),
                Some(shared.linkedin.stats_json()),
            ),
        ];
        for (vendor, specs, extra) in quotas {
            let v = g.get(vendor);
            let mut entry = json!({
                    "quotas": specs,
                    "requests": v.map_or(0, |v| v.requests),
                    "by_status": v.map(|v| v.by_status.clone()).unwrap_or_default(),
                    "by_route": v.map(|v| v.by_route.clone()).unwrap_or_default(),
                    "first_request_s": v.and_then(|v| v.first_request_s),
                    "last_request_s": v.and_then(|v| v.last_request_s),
            });
            if let (Value::Object(e), Some(Value::Object(x))) = (&mut entry, extra) {
                e.extend(x);
            }
            vendors.insert(vendor.to_string(), entry);
        }
        json!({ "vendors": vendors })
    }
}
