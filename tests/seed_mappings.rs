//! Each seed's own mapping set over its own explore records (`tests/golden/seeds/`), compared
//! with a golden output. The seeds' slips are part of the test: spaces in destinations
//! (Pinterest), a repeated mapping (Zendesk), `data.*` paths resolved through the stream's
//! aliases (Mixpanel). `SLUICE_BLESS=1` regenerates the expected outputs.
//!
//! The Pinterest fixture quotes one id the seed wrote as `000123456789` (not JSON); Pinterest
//! returns ids as digit strings.

use std::path::{Path, PathBuf};

use sluice_core::{StreamSchema, StreamSpec};
use sluice_mapping::{compile_with_aliases, MappingSet};

fn golden(dir: &Path, name: &str, spec: Option<StreamSpec>) -> Vec<String> {
    let input = std::fs::read(dir.join(format!("{name}.jsonl"))).expect("input");
    let mapping =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("config/mappings/{name}.json"));
    let set = MappingSet::from_file(&mapping).expect("mapping set");
    // a connector's stream, else the seed's explore schema, else inferred from the records
    let schema_file = dir.join(format!("{name}.schema.json"));
    let (schema, aliases) = match spec {
        Some(s) => (s.schema, s.aliases),
        None if schema_file.exists() => {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&schema_file).expect("schema"))
                    .expect("json");
            (
                StreamSchema::from_json_schema(&v).expect("schema"),
                Vec::new(),
            )
        }
        None => (StreamSchema::infer(&input), Vec::new()),
    };
    let out = compile_with_aliases(name, &set, Some(&schema), &aliases)
        .expect("the seed's mapping compiles");
    let mut lines: Vec<String> = out
        .warnings
        .iter()
        .map(|w| format!("# warning: {w}"))
        .collect();
    lines.extend(out.notes.iter().map(|n| format!("# note: {n}")));
    let mapped = out.mapping.map_ndjson(&input);
    for r in &mapped.rejects {
        lines.push(format!("# rejected line {}: {}", r.line, r.reason));
    }
    let mut writer = arrow_json::LineDelimitedWriter::new(Vec::new());
    writer.write(&mapped.batch).expect("json");
    writer.finish().expect("finish");
    lines.extend(
        String::from_utf8(writer.into_inner())
            .expect("utf8")
            .lines()
            .map(str::to_string),
    );
    lines
}

#[test]
fn each_seed_mapping_set_gives_its_golden_output() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/seeds");
    let bless = std::env::var_os("SLUICE_BLESS").is_some();
    let cases: [(&str, Option<StreamSpec>); 4] = [
        ("pinterest-analytics", None),
        ("linkedin-ads-analytics", None),
        (
            "zendesk-users",
            sluice_zendesk::streams().into_iter().next(),
        ),
        (
            "mixpanel-events",
            sluice_mixpanel::streams().into_iter().next(),
        ),
    ];
    let mut failures = Vec::new();
    for (name, spec) in cases {
        let got = golden(&dir, name, spec);
        let path = dir.join(format!("{name}.expected"));
        if bless {
            std::fs::write(&path, got.join("\n") + "\n").expect("bless");
            continue;
        }
        let want: Vec<String> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        if got != want {
            failures.push(format!("{name}:\n  expected {want:#?}\n  got {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
