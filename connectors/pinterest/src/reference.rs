//! The stream reference (`docs/connectors/pinterest-streams.md`), rendered from the stream
//! table so the docs cannot drift from what the connector pulls: a test compares them.

use crate::columns::{self, Kind as ColumnKind};
use crate::config::ADS_ANALYTICS;
use crate::streams::{self, EntityStream, Kind, Level, Owner, Parent};

fn endpoint(e: &EntityStream) -> String {
    let path = e
        .path
        .replace("{account}", "{ad_account_id}")
        .replace("{board}", "{board_id}")
        .replace("{section}", "{section_id}");
    let mut query = Vec::new();
    if e.owner == Owner::AccountOwner {
        query.push("ad_account_id");
    }
    match e.parent {
        Parent::AdGroup => query.push("ad_group_id"),
        Parent::Ownership => query.push("ownership_type"),
        _ => {}
    }
    if e.statuses {
        query.push("entity_statuses");
    }
    if e.board_privacy {
        query.push("privacy");
    }
    if query.is_empty() {
        format!("`GET /v5/{path}`")
    } else {
        format!("`GET /v5/{path}?{}`", query.join("&"))
    }
}

fn parent(p: Parent) -> &'static str {
    match p {
        Parent::None => "",
        Parent::AdGroup => "each ad group",
        Parent::Board => "each board",
        Parent::BoardSection => "each section of each board",
        Parent::Ownership => "each `ownership_type`",
    }
}

fn analytics_endpoint(level: Level, targeting: bool) -> String {
    let mut path = format!(
        "`GET /v5/{}",
        level.analytics_path("{ad_account_id}", targeting)
    );
    let mut query = vec!["start_date", "end_date", "columns", "granularity"];
    if let Some(p) = level.ids_param() {
        query.push(p);
    }
    if level == Level::Pin {
        query.push("campaign_id");
    }
    if targeting {
        query.push("targeting_types");
    }
    path.push('?');
    path.push_str(&query.join("&"));
    path.push('`');
    path
}

/// The Markdown page.
pub fn render() -> String {
    let mut out = String::from(
        "# Pinterest streams\n\n\
         Generated from the connector's stream table (`connectors/pinterest/src/streams.rs`); a \
         test fails when this page and the table differ. Regenerate with \
         `SLUICE_BLESS=1 cargo test -p sluice-pinterest reference`.\n\n\
         Every stream is pulled per ad account (`ad_account_id`, a slice). Entity streams are \
         snapshots (every item each run) unless `entities = \"changed\"` and the stream has a \
         change column; analytics streams are day streams (`DATE`, replaced when pulled \
         again).\n\n\
         | stream | endpoint | listed for | key | sync | rate category |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for (name, kind) in streams::table() {
        let spec = streams::spec(&name, kind, &[], false);
        let key = spec
            .primary_key
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = match kind {
            Kind::Entity(e) => {
                let sync = match e.cursor {
                    Some(c) => format!("snapshot, or changed by `{c}`"),
                    None => "snapshot".into(),
                };
                format!(
                    "| `{name}` | {} | {} | {key} | {sync} | `{}` |\n",
                    endpoint(e),
                    parent(e.parent),
                    e.category
                )
            }
            Kind::Analytics(level) | Kind::Targeting(level, _) => {
                let targeting = matches!(kind, Kind::Targeting(..));
                let days = if level.report_level(targeting).is_some() {
                    "days (90 synchronous, 914 by report)"
                } else {
                    "days (90, synchronous only)"
                };
                let listed = match level {
                    Level::Pin => "each campaign's promoted pins",
                    Level::ProductGroup => "the promoted product groups",
                    Level::AdAccount => "",
                    _ => "the level's objects",
                };
                format!(
                    "| `{name}` | {} | {listed} | {key} | {days} | `{ADS_ANALYTICS}` |\n",
                    analytics_endpoint(level, targeting)
                )
            }
        };
        out.push_str(&row);
    }
    out.push_str("\n## Entity columns\n");
    for (name, kind) in streams::table() {
        let Kind::Entity(e) = kind else { continue };
        out.push_str(&format!(
            "\n### `{name}`\n\n| column | type |\n| --- | --- |\n"
        ));
        for (column, ty) in e.columns() {
            out.push_str(&format!("| `{column}` | {} |\n", ty.label()));
        }
    }
    out.push_str(
        "\n## Analytics columns\n\n\
         Every analytics row has `DATE` (text, `YYYY-MM-DD`), its object's id (`AD_ACCOUNT_ID`, \
         `CAMPAIGN_ID`, `AD_GROUP_ID`, `AD_ID`, `PIN_ID` with its `CAMPAIGN_ID`, or \
         `PRODUCT_GROUP_ID`), for a targeting stream `TARGETING_TYPE` and `TARGETING_VALUE` \
         (text), and the columns asked for, of these (counts are integers, amounts and ratios \
         numbers):\n\n| column | type |\n| --- | --- |\n",
    );
    for (column, kind) in columns::COLUMNS {
        let ty = match kind {
            ColumnKind::Count => "integer",
            ColumnKind::Amount => "number",
            ColumnKind::Text => "text",
        };
        out.push_str(&format!("| `{column}` | {ty} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn reference_page_matches_the_stream_table() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/connectors/pinterest-streams.md");
        let want = super::render();
        if std::env::var_os("SLUICE_BLESS").is_some() {
            std::fs::write(&path, &want).expect("bless");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/connectors/pinterest-streams.md is out of date: run SLUICE_BLESS=1 cargo \
             test -p sluice-pinterest reference"
        );
        for (name, _) in crate::streams::table() {
            assert!(have.contains(&format!("| `{name}` |")), "{name}");
        }
    }
}
