//! Golden cases for every expression function (`tests/golden/functions.txt`): each expression
//! is compiled as an EXPRESSION mapping, run on the file's record, and its output compared with
//! the expected JSON. `SLUICE_BLESS=1` rewrites the expectations from what the code does now.

use std::path::Path;

use sluice_core::StreamSchema;
use sluice_mapping::{compile, MappingSet};

fn output(expr: &str, input: &str) -> Result<serde_json::Value, String> {
    let schema = StreamSchema::infer(input.as_bytes());
    let set = MappingSet::from_json(
        "golden",
        &serde_json::json!({"mappings": [{"sourceType": "EXPRESSION", "source": expr, "destination": "out"}]}).to_string(),
    )
    .map_err(|e| e.to_string())?;
    let mapping = compile("golden", &set, Some(&schema))
        .map_err(|e| e.to_string())?
        .mapping;
    let out = mapping.map_ndjson(input.as_bytes());
    if let Some(r) = out.rejects.first() {
        return Err(format!("rejected: {}", r.reason));
    }
    let mut writer = arrow_json::ArrayWriter::new(Vec::new());
    writer.write(&out.batch).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    let rows: serde_json::Value =
        serde_json::from_slice(&writer.into_inner()).map_err(|e| e.to_string())?;
    Ok(rows[0]
        .get("out")
        .cloned()
        .unwrap_or(serde_json::Value::Null))
}

#[test]
fn every_function_matches_its_golden_output() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/functions.txt");
    let text = std::fs::read_to_string(&path).expect("golden file");
    let bless = std::env::var_os("SLUICE_BLESS").is_some();
    let mut input = String::new();
    let mut rewritten = Vec::new();
    let mut failures = Vec::new();
    let mut cases = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("input: ") {
            input = rest.to_string();
            rewritten.push(line.to_string());
            continue;
        }
        let Some((expr, expected)) = line.split_once(" => ").filter(|_| !line.starts_with('#'))
        else {
            rewritten.push(line.to_string());
            continue;
        };
        cases += 1;
        let got = output(expr, &input);
        match (&got, serde_json::from_str::<serde_json::Value>(expected)) {
            (Ok(g), Ok(want)) if *g == want => rewritten.push(line.to_string()),
            (Ok(g), _) if bless => rewritten.push(format!("{expr} => {g}")),
            (got, want) => {
                failures.push(format!(
                    "{expr}\n    expected {want:?}\n    got      {got:?}"
                ));
                rewritten.push(line.to_string());
            }
        }
    }
    if bless {
        std::fs::write(&path, rewritten.join("\n") + "\n").expect("bless");
    }
    assert!(cases >= 100, "the golden file holds {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} golden cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_documented_function_has_a_golden_case() {
    let golden = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/functions.txt"),
    )
    .expect("golden");
    let missing: Vec<&str> = sluice_mapping::expr::funcs::FUNCTIONS
        .iter()
        .map(|f| f.name)
        .filter(|n| !golden.contains(&format!("{n}(")) && !golden.contains(&format!(".{n}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "functions without a golden case: {missing:?}"
    );
    assert!(sluice_mapping::expr::funcs::FUNCTIONS.len() >= 45);
}
