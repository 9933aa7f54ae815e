//! The flow file's schema and `docs/flows.md` with every connector this binary ships: every
//! flow of `config/flows/` is valid under the schema (and parses and builds), the reference's
//! example is a flow, and `docs/flows.md` is the generated reference. Each connector's own
//! table is held to its settings in its crate.

use std::path::{Path, PathBuf};

use sluice_core::Registry;
use sluice_runner::flow_schema::{schema_errors, ENGINE_TABLES, EXAMPLE};
use sluice_runner::{flow_schema, flows_reference, Flow, Overrides};

/// As `src/cli/commands.rs`'s `registry()`: every connector this binary ships.
fn registry() -> Registry {
    let mut r = Registry::default();
    sluice_zendesk::register(&mut r);
    sluice_mixpanel::register(&mut r);
    sluice_pinterest::register(&mut r);
    sluice_linkedin::register(&mut r);
    r
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every variable is set: the flows' references resolve.
fn any_env(_: &str) -> Option<String> {
    // email-shaped: Zendesk's `email` is a reference in the repository's flow
    Some("probe@example.com".into())
}

fn validate(schema: &serde_json::Value, text: &str) -> Vec<String> {
    schema_errors(schema, text).expect("TOML")
}

fn repo_flows() -> Vec<(PathBuf, String)> {
    let dir = repo().join("config/flows");
    let mut flows: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .expect("config/flows")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read");
            (p, text)
        })
        .collect();
    flows.sort();
    assert!(flows.len() >= 4, "the repository's flows: {dir:?}");
    flows
}

#[test]
fn every_flow_of_the_repository_is_valid_under_the_schema() {
    let r = registry();
    let schema = flow_schema(&r);
    for (path, text) in repo_flows() {
        let errors = validate(&schema, &text);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        // …and is a flow its connector takes
        let flow = Flow::parse(&path, &text, &Overrides::default(), &any_env)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(e) = r.build(&flow.connector, &flow.connector_config) {
            panic!("{}: {e}", path.display());
        }
    }

    // the walker sees what is wrong: an unknown key, one in the wrong connector, a missing
    // credential, a missing required table, a literal credential's type
    let (_, zendesk) = repo_flows()
        .into_iter()
        .find(|(p, _)| p.ends_with("zendesk-users.toml"))
        .expect("zendesk-users.toml");
    for (broken, says) in [
        (
            zendesk.replace("[source]\n", "[source]\npage_sise = 5\n"),
            "source.page_sise",
        ),
        (
            zendesk.replace("[source]\n", "[source]\nad_account_id = \"1\"\n"),
            "source.ad_account_id",
        ),
        (
            zendesk.replace("api_token = \"${ZENDESK_API_TOKEN}\"\n", ""),
            "none of the alternatives",
        ),
        (
            zendesk.replace("[destination]\n", "[destinaton]\n"),
            "destinaton",
        ),
        (
            zendesk.replace("name = \"zendesk-users\"\n", ""),
            "`name` is required",
        ),
        (
            zendesk.replace("overlap_seconds = 300", "overlap_seconds = true"),
            "source.overlap_seconds",
        ),
        (
            zendesk.replace("[schedule]\n", "[schedule]\nfrequency = \"hour\"\n"),
            "schedule",
        ),
        (
            zendesk.replace("streams = [\"users\"]", "streams = [\"events\"]"),
            "source.streams[0]",
        ),
    ] {
        let errors = validate(&schema, &broken);
        assert!(
            errors.iter().any(|e| e.contains(says)),
            "{says}: {errors:#?}"
        );
    }
}

#[test]
fn the_reference_example_is_a_valid_flow() {
    let r = registry();
    let errors = validate(&flow_schema(&r), EXAMPLE);
    assert!(errors.is_empty(), "{errors:#?}");
    let flow = Flow::parse(
        Path::new("/repo/config/flows/example.toml"),
        EXAMPLE,
        &Overrides::default(),
        &any_env,
    )
    .expect("the example parses");
    r.build(&flow.connector, &flow.connector_config)
        .map(|_| ())
        .expect("and builds");
}

#[test]
fn docs_flows_md_is_the_generated_reference() {
    let r = registry();
    let path = repo().join("docs/flows.md");
    let want = flows_reference(&r);
    if std::env::var_os("SLUICE_BLESS").is_some() {
        std::fs::write(&path, &want).expect("bless");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/flows.md is out of date: run SLUICE_BLESS=1 cargo test --test flow_schema"
    );
    for table in ENGINE_TABLES {
        for k in table.keys {
            assert!(have.contains(&format!("| `{}` |", k.name)), "{}", k.name);
        }
    }
    for name in r.names() {
        assert!(have.contains(&format!("### `{name}`")));
        assert!(
            repo().join(format!("docs/connectors/{name}.md")).exists(),
            "the reference links docs/connectors/{name}.md"
        );
    }
    // README links here by these headings
    assert!(have.contains("\n## Object store destinations\n"));
}
