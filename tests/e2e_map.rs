//! `sluice map`: the mapping engine on files, checked value by value against the input.

mod common;

use std::fs::File;
use std::io::Write;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch, StructArray};
use common::run_binary;
use serde_json::{json, Value};

/// Zendesk-shaped records (the seed's explore `data[]` items) from the simulator's users.
async fn records(n: u64) -> (tempfile::TempDir, Vec<Value>) {
    let h = common::harness(n, "").await;
    let users = h.truth().await;
    let recs = users
        .into_iter()
        .map(|u| json!({"meta": {"has_more": true, "after_cursor": "abc"}, "links": {"next": null}, "results": u}))
        .collect();
    (h.dir, recs)
}

fn write_jsonl(path: &Path, recs: &[Value]) {
    let mut f = std::io::BufWriter::new(File::create(path).expect("create"));
    for r in recs {
        serde_json::to_writer(&mut f, r).expect("write");
        f.write_all(b"\n").expect("newline");
    }
}

/// id, name, phone and verified of one output row.
type Row = (i64, Option<String>, Option<String>, Option<bool>);

fn mapping() -> String {
    common::repo()
        .join("config/mappings/zendesk-users.json")
        .display()
        .to_string()
}

/// `sluice map` with the seed mapping from `input` to `output`, plus `extra` arguments.
async fn map_with_seed_mapping(
    cwd: &Path,
    input: &Path,
    output: &Path,
    extra: &[&str],
) -> common::Output {
    run_map(cwd, Path::new(&mapping()), input, output, extra).await
}

/// `sluice map --mapping M --input I --output O`, plus `extra` arguments.
async fn run_map(
    cwd: &Path,
    mapping: &Path,
    input: &Path,
    output: &Path,
    extra: &[&str],
) -> common::Output {
    let args = [
        "map",
        "--mapping",
        mapping.to_str().expect("utf8 path"),
        "--input",
        input.to_str().expect("utf8 path"),
        "--output",
        output.to_str().expect("utf8 path"),
    ];
    run_binary(&[&args[..], extra].concat(), cwd).await
}

fn struct_rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let s: &StructArray = b.column_by_name("_extconndev").expect("struct").as_struct();
        let ids = s
            .column_by_name("id")
            .expect("id")
            .as_primitive::<Int64Type>();
        let name = s.column_by_name("name").expect("name").as_string::<i32>();
        let phone = s.column_by_name("phone").expect("phone").as_string::<i32>();
        let verified = s.column_by_name("verified").expect("verified").as_boolean();
        for i in 0..b.num_rows() {
            out.push((
                ids.value(i),
                (!name.is_null(i)).then(|| name.value(i).to_string()),
                (!phone.is_null(i)).then(|| phone.value(i).to_string()),
                (!verified.is_null(i)).then(|| verified.value(i)),
            ));
        }
    }
    out
}

fn expected(recs: &[Value]) -> Vec<Row> {
    recs.iter()
        .map(|r| {
            let u = &r["results"];
            (
                u["id"].as_i64().expect("id"),
                u["name"].as_str().map(str::to_string),
                u["phone"].as_str().map(str::to_string),
                u["verified"].as_bool(),
            )
        })
        .collect()
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        File::open(path).expect("open"),
    )
    .expect("parquet")
    .build()
    .expect("reader")
    .map(|b| b.expect("batch"))
    .collect()
}

fn read_arrow(path: &Path) -> Vec<RecordBatch> {
    arrow_ipc::reader::FileReader::try_new(File::open(path).expect("open"), None)
        .expect("arrow ipc")
        .map(|b| b.expect("batch"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maps_to_every_format_in_input_order() {
    // ~4,000 records: several chunks, so two workers race and the writer must reorder
    let (dir, recs) = records(4_000).await;
    let mut big = Vec::new();
    for _ in 0..2 {
        big.extend(recs.iter().cloned());
    }
    let input = dir.path().join("in.jsonl");
    write_jsonl(&input, &big);
    let want = expected(&big);
    for ext in ["parquet", "arrow", "jsonl"] {
        let out = dir.path().join(format!("out.{ext}"));
        let r = map_with_seed_mapping(dir.path(), &input, &out, &[]).await;
        assert_eq!(r.code, 0, "{ext}: {}", r.all());
        assert!(
            r.stdout
                .contains("8000 records in, 8000 written, 0 rejected"),
            "{}",
            r.stdout
        );
        assert!(
            r.stderr.contains("mappings[34]: repeats mappings[7]"),
            "the seed's slip is still handled: {}",
            r.stderr
        );
        match ext {
            "parquet" => assert_eq!(struct_rows(&read_parquet(&out)), want),
            "arrow" => assert_eq!(struct_rows(&read_arrow(&out)), want),
            _ => {
                let lines: Vec<Value> = std::fs::read_to_string(&out)
                    .expect("jsonl")
                    .lines()
                    .map(|l| serde_json::from_str(l).expect("json"))
                    .collect();
                assert_eq!(lines.len(), big.len());
                for (l, r) in lines.iter().zip(&big) {
                    assert_eq!(l["_extconndev"]["id"], r["results"]["id"]);
                    assert_eq!(l["_extconndev"]["name"], r["results"]["name"]);
                }
            }
        }
    }
    assert!(!dir.path().join("out.parquet.tmp").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_stdin_give_the_same_rows() {
    let (dir, recs) = records(300).await;
    let plain = dir.path().join("in.jsonl");
    write_jsonl(&plain, &recs);
    let gz = dir.path().join("in.jsonl.gz");
    let mut enc =
        flate2::write::GzEncoder::new(File::create(&gz).expect("gz"), flate2::Compression::fast());
    enc.write_all(&std::fs::read(&plain).expect("read"))
        .expect("compress");
    enc.finish().expect("finish");
    let out = dir.path().join("gz.parquet");
    let r = map_with_seed_mapping(dir.path(), &gz, &out, &[]).await;
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(struct_rows(&read_parquet(&out)), expected(&recs));

    let out = dir.path().join("stdin.parquet");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "map",
            "--mapping",
            &mapping(),
            "--input",
            "-",
            "--output",
            out.to_str().expect("p"),
        ])
        .stdin(File::open(&plain).expect("open"))
        .output()
        .expect("run");
    assert!(
        child.status.success(),
        "{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert_eq!(struct_rows(&read_parquet(&out)), expected(&recs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_go_to_the_rejects_file_with_their_line_and_reason() {
    let (dir, mut recs) = records(50).await;
    recs[10]["results"]["locale_id"] = json!("en");
    let input = dir.path().join("in.jsonl");
    write_jsonl(&input, &recs);
    // a broken line between good ones
    let mut text = std::fs::read_to_string(&input).expect("read");
    text.push_str("{\"results\": {\"id\": 1,\n");
    std::fs::write(&input, text).expect("write");
    let out = dir.path().join("out.parquet");
    let rejects = dir.path().join("rejects.jsonl");
    // the stream's declared schema, in the explore shape `sluice discover` prints: with an
    // inferred one, a field seen as both number and string would just be a string column
    let schema = dir.path().join("schema.json");
    let declared = sluice_zendesk::streams().remove(0).schema.to_json_schema();
    std::fs::write(
        &schema,
        json!({"format": "hierarchical", "schema": declared}).to_string(),
    )
    .expect("schema");
    let extra = [
        "--rejects",
        rejects.to_str().expect("p"),
        "--schema",
        schema.to_str().expect("p"),
    ];
    let r = map_with_seed_mapping(dir.path(), &input, &out, &extra).await;
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("51 records in, 49 written, 2 rejected"),
        "{}",
        r.stdout
    );
    let lines: Vec<Value> = std::fs::read_to_string(&rejects)
        .expect("rejects")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line"], 11);
    assert!(lines[0]["reason"]
        .as_str()
        .expect("reason")
        .contains("field `results.locale_id`: expected integer, found a string (\"en\")"));
    assert_eq!(lines[1]["line"], 51);
    assert!(lines[1]["reason"]
        .as_str()
        .expect("reason")
        .starts_with("malformed JSON"));
    assert_eq!(
        read_parquet(&out)
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        49
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_file_sets_the_types_and_bad_arguments_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"a\":{\"n\":\"12\",\"t\":1700000000}}\n{\"a\":{\"n\":7,\"t\":\"2024-01-02T03:04:05Z\"}}\n").expect("write");
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, r#"{"type":"object","properties":{"a":{"type":"object","properties":{"n":{"type":"string"},"t":{"type":"integer"}}}}}"#).expect("schema");
    let mapping = dir.path().join("m.json");
    std::fs::write(&mapping, r#"{"mappings":[{"sourceType":"ATTRIBUTE","source":"a.n","destination":"x.n"},{"sourceType":"ATTRIBUTE","source":"a.t","destination":"x.t"}]}"#).expect("m");
    let out = dir.path().join("out.jsonl");
    let args = |extra: &[&str]| {
        let mut v = vec![
            "map",
            "--mapping",
            mapping.to_str().expect("p"),
            "--input",
            input.to_str().expect("p"),
            "--output",
            out.to_str().expect("p"),
        ];
        v.extend_from_slice(extra);
        v.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let a = args(&["--schema", schema.to_str().expect("p")]);
    let r = run_binary(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        dir.path(),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.all());
    // n is a string by the schema (7 widens to "7"); t is an integer, so the RFC 3339 string misfits
    assert!(
        r.stdout.contains("2 records in, 1 written, 1 rejected"),
        "{}",
        r.stdout
    );
    let row: Value =
        serde_json::from_str(std::fs::read_to_string(&out).expect("out").trim()).expect("json");
    assert_eq!(row, json!({"x": {"n": "12", "t": 1700000000}}));

    let a = args(&["--format", "xlsx"]);
    let r = run_binary(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        dir.path(),
    )
    .await;
    assert_eq!(r.code, 2);
    let r = run_map(
        dir.path(),
        Path::new("/nonexistent.json"),
        &input,
        &out,
        &[],
    )
    .await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent.json"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_the_inferred_sample_missed_is_read_as_text_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.jsonl");
    // over 1 MiB without the field, so the schema is inferred without it; then it comes
    let padding = "p".repeat(200);
    let early = 6_000;
    let mut recs: Vec<Value> = (0..early)
        .map(|i| json!({"results": {"id": i, "name": padding}}))
        .collect();
    recs.extend((early..early + 3).map(
        |i| json!({"results": {"id": i, "name": "x", "approximateUniqueImpressions": i * 10}}),
    ));
    write_jsonl(&input, &recs);
    assert!(std::fs::metadata(&input).expect("meta").len() > 1 << 20);
    let mapping = dir.path().join("m.json");
    std::fs::write(
        &mapping,
        r#"{"mappings":[
        {"sourceType":"ATTRIBUTE","source":"results.id","destination":"id"},
        {"sourceType":"ATTRIBUTE","source":"results.approximateUniqueImpressions","destination":"reach"},
        {"sourceType":"ATTRIBUTE","source":"results.nmae","destination":"n"}]}"#,
    )
    .expect("mapping");
    let out = dir.path().join("out.parquet");
    let r = run_map(dir.path(), &mapping, &input, &out, &[]).await;
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr
            .contains("source `results.approximateUniqueImpressions` is not in the first")
            && r.stderr.contains("--schema"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("source `results.nmae`")
            && r.stderr.contains("did you mean `results.name`"),
        "a likely typo is named: {}",
        r.stderr
    );
    let batches = read_parquet(&out);
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, early as usize + 3, "no record is lost");
    let reach: Vec<Option<String>> = batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("reach").expect("reach").as_string::<i32>();
            (0..b.num_rows())
                .map(|i| (!c.is_null(i)).then(|| c.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(reach[..early as usize].iter().all(Option::is_none));
    assert_eq!(
        reach[early as usize..],
        [
            Some("60000".into()),
            Some("60010".into()),
            Some("60020".into())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_times_four_stages_and_names_the_one_that_bounds_the_run() {
    let (dir, recs) = records(3_000).await;
    let input = dir.path().join("users.jsonl");
    write_jsonl(&input, &recs);
    let expr_mapping = dir.path().join("expr.json");
    std::fs::write(
        &expr_mapping,
        json!({"mappings": [
            {"sourceType": "ATTRIBUTE", "source": "results.id", "destination": "_x.id"},
            {"sourceType": "EXPRESSION", "source": "sha256(lower(results.email))", "destination": "_x.email_key"},
            {"sourceType": "EXPRESSION", "source": "concat(upper(results.name), \" \", format(date(results.created_at), \"yyyy-MM-dd\"))", "destination": "_x.label"}
        ]})
        .to_string(),
    )
    .expect("mapping");
    let seconds = |out: &str, stage: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.starts_with("stages"))
            .unwrap_or_else(|| panic!("no stages line: {out}"));
        let at = line
            .find(&format!("{stage} "))
            .unwrap_or_else(|| panic!("no {stage} in {line}"));
        line[at + stage.len() + 1..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no seconds for {stage} in {line}"))
    };
    for m in [Path::new(&mapping()).to_path_buf(), expr_mapping] {
        let out = run_binary(
            &[
                "bench",
                "--mapping",
                m.to_str().expect("path"),
                "--input",
                input.to_str().expect("path"),
            ],
            dir.path(),
        )
        .await;
        assert_eq!(out.code, 0, "{}", out.all());
        for stage in ["decode", "evaluate", "encode", "write", "read"] {
            assert!(seconds(&out.stdout, stage) >= 0.0);
        }
        assert!(seconds(&out.stdout, "decode") > 0.0, "{}", out.stdout);
        assert!(seconds(&out.stdout, "encode") > 0.0, "{}", out.stdout);
        let bound = out
            .stdout
            .lines()
            .find(|l| l.starts_with("bound"))
            .unwrap_or_else(|| panic!("no bound line: {}", out.stdout));
        assert!(
            ["decode", "evaluate", "encode", "write", "read"]
                .iter()
                .any(|s| bound.starts_with(&format!("bound     {s} "))),
            "{bound}"
        );
    }
}
