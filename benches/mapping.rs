//! Mapping throughput: the decoder on its own (and the candidates it beat), the seed's whole
//! Zendesk mapping over lines and over framed pages, each function family, and the sinks. Run with `cargo bench --bench mapping`; `sluice bench` gives the same view of
//! a real file, with stage times and the costliest mapping entries.

use std::hint::black_box;
use std::sync::Arc;

use arrow_array::RecordBatch;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_core::{Framed, StreamSchema};
use sluice_mapping::{compile, CompiledMapping, MappingSet};
use sluice_sinks::{Format, ParquetOptions, PartFile};

/// Records shaped like `../shared/bench/gen_zendesk_users.py` writes them (the seed's explore
/// items), so numbers here and from `sluice bench` on that file are comparable.
fn zendesk_records(n: usize) -> Vec<u8> {
    let zones = [
        "Asia/Kolkata",
        "America/New_York",
        "Europe/Berlin",
        "UTC",
        "Australia/Sydney",
    ];
    let roles = ["end-user", "agent", "admin"];
    let mut out = Vec::new();
    for i in 0..n {
        let id = 6_106_699_702_801u64 + i as u64;
        let rec = serde_json::json!({
            "meta": {"has_more": true, "after_cursor": "eyJmaWVsZCI6ImNyZWF0ZWRfYXQiLCJkZXNjIjp0cnVlfQ=="},
            "links": {"next": "https://acme.zendesk.com/api/v2/search/export.json?filter%5Btype%5D=user&page%5Bafter%5D=eyJ9"},
            "results": {
                "id": id, "url": format!("https://acme.zendesk.com/api/v2/users/{id}.json"),
                "name": format!("user {i}"), "email": format!("user{i}@example.org"),
                "created_at": format!("2022-05-{:02}T08:04:{:02}Z", 1 + i % 28, i % 60),
                "updated_at": format!("2023-01-{:02}T10:00:{:02}Z", 1 + i % 28, i % 60),
                "time_zone": zones[i % 5], "iana_time_zone": zones[i % 5],
                "phone": if i % 3 == 0 { serde_json::json!(format!("+1555{i:07}")) } else { serde_json::Value::Null },
                "shared_phone_number": if i % 3 == 0 { serde_json::json!(false) } else { serde_json::Value::Null },
                "photo": null, "locale_id": 1, "locale": "en-US",
                "organization_id": if i % 4 == 0 { serde_json::json!(360_000_000_000u64 + (i % 100) as u64) } else { serde_json::Value::Null },
                "role": roles[i % 3], "verified": i % 2 == 0, "external_id": null,
                "tags": if i % 10 == 0 { vec!["vip"] } else { vec![] }, "alias": "", "active": true,
                "shared": false, "shared_agent": false,
                "last_login_at": if i % 2 == 0 { serde_json::json!("2023-02-01T00:00:00Z") } else { serde_json::Value::Null },
                "two_factor_auth_enabled": false, "signature": null, "details": "", "notes": "",
                "role_type": null, "custom_role_id": null, "moderator": false,
                "ticket_restriction": "requested", "only_private_comments": false,
                "restricted_agent": true, "suspended": false, "default_group_id": null,
                "report_csv": false, "user_fields": {"plan": "pro"}, "result_type": "user"
            }
        });
        serde_json::to_writer(&mut out, &rec).expect("serialize");
        out.push(b'\n');
    }
    out
}

/// The records of `lines` as search-export pages of `per_page` items, the way the Zendesk
/// connector hands them over.
fn zendesk_pages(lines: &[u8], per_page: usize) -> Vec<Framed> {
    let records: Vec<serde_json::Value> = lines
        .split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("record"))
        .collect();
    records
        .chunks(per_page)
        .map(|chunk| {
            let mut body = br#"{"results":["#.to_vec();
            let mut items = Vec::new();
            for (i, r) in chunk.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                let start = body.len();
                serde_json::to_writer(&mut body, &r["results"]).expect("item");
                items.push(start..body.len());
            }
            body.extend_from_slice(b"],\"meta\":");
            let meta = body.len();
            serde_json::to_writer(&mut body, &chunk[0]["meta"]).expect("meta");
            let meta = meta..body.len();
            body.extend_from_slice(b",\"links\":");
            let links = body.len();
            serde_json::to_writer(&mut body, &chunk[0]["links"]).expect("links");
            let links = links..body.len();
            body.push(b'}');
            Framed {
                body: body.into(),
                items,
                shared: vec![("meta".into(), meta), ("links".into(), links)],
                key: "results".into(),
            }
        })
        .collect()
}

fn seed_mapping(input: &[u8]) -> CompiledMapping {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/mappings/zendesk-users.json"
    );
    let set = MappingSet::from_file(std::path::Path::new(path)).expect("seed mapping");
    let schema = StreamSchema::infer(input);
    compile(path, &set, Some(&schema))
        .expect("compiles")
        .mapping
}

fn one_column_mapping(input: &[u8]) -> CompiledMapping {
    let set = MappingSet::from_json(
        "decode",
        r#"{"mappings":[{"sourceType":"ATTRIBUTE","source":"results.id","destination":"id"}]}"#,
    )
    .expect("set");
    compile("decode", &set, Some(&StreamSchema::infer(input)))
        .expect("compiles")
        .mapping
}

fn bench_mapping(c: &mut Criterion) {
    let input = zendesk_records(5_000);
    let mut group = c.benchmark_group("map_ndjson");
    group.throughput(Throughput::Bytes(input.len() as u64));
    // the decoder's floor: scan every record, read one field
    let one = one_column_mapping(&input);
    group.bench_function(BenchmarkId::new("decode", "1 column"), |b| {
        b.iter(|| black_box(one.map_ndjson(black_box(&input))))
    });
    // the candidate it replaced: a serde_json::Value tree per record (no columns built)
    group.bench_function(BenchmarkId::new("serde_json_value", "parse only"), |b| {
        b.iter(|| {
            let mut n = 0usize;
            for line in input.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_slice(line).expect("json");
                n += v.as_object().map_or(0, |o| o.len());
            }
            black_box(n)
        })
    });
    // the tape-decoder candidate: arrow-json into the records' own schema (every field of
    // every record: a tape decoder tokenizes all of a record whatever is read)
    let arrow_schema = Arc::new(
        arrow_json::reader::infer_json_schema(std::io::Cursor::new(&input), None)
            .expect("infer")
            .0,
    );
    group.bench_function(BenchmarkId::new("arrow_json_tape", "all fields"), |b| {
        b.iter(|| {
            let mut decoder = arrow_json::ReaderBuilder::new(arrow_schema.clone())
                .with_batch_size(8192)
                .build_decoder()
                .expect("decoder");
            let mut rows = 0;
            let mut rest = &input[..];
            while !rest.is_empty() {
                let used = decoder.decode(rest).expect("decode");
                rest = &rest[used..];
                if let Some(batch) = decoder.flush().expect("flush") {
                    rows += batch.num_rows();
                }
            }
            black_box(rows)
        })
    });
    let seed = seed_mapping(&input);
    group.bench_function(BenchmarkId::new("zendesk_seed", "34 columns"), |b| {
        b.iter(|| black_box(seed.map_ndjson(black_box(&input))))
    });
    // the same records as a flow gets them: pages of 1,000 items, read in place
    let pages = zendesk_pages(&input, 1_000);
    let framed_rows: usize = pages
        .iter()
        .map(|p| seed.map_framed(p).batch.num_rows())
        .sum();
    assert_eq!(framed_rows, 5_000, "every framed item maps");
    group.bench_function(BenchmarkId::new("zendesk_seed", "framed pages"), |b| {
        b.iter(|| {
            for page in &pages {
                black_box(seed.map_framed(black_box(page)));
            }
        })
    });
    group.finish();

    // one expression column per function family, over the same records
    let families = [
        (
            "string",
            "concat(upper(results.name), \" <\", lower(results.email), \">\")",
        ),
        (
            "regex",
            "matches_regex(results.email, \"@example\\\\.org$\")",
        ),
        ("hashing", "sha256(results.email)"),
        ("url", "get_url_host(results.url)"),
        ("date", "format(date(results.created_at), \"yyyy-MM-dd\")"),
        ("objects", "map_get_values(results.user_fields, \"plan\")"),
        ("arrays", "size_of(results.tags)"),
        (
            "logic",
            "iif(results.verified, decode(results.role, \"admin\", 1, 2), 0)",
        ),
        ("conversion", "to_integer(results.locale_id) + 1"),
    ];
    let schema = StreamSchema::infer(&input);
    let mut group = c.benchmark_group("functions");
    group.throughput(Throughput::Elements(5_000));
    for (family, expr) in families {
        let set = MappingSet::from_json(
            family,
            &serde_json::json!({"mappings": [{"sourceType": "EXPRESSION", "source": expr, "destination": "out"}]}).to_string(),
        )
        .expect("set");
        let mapping = compile(family, &set, Some(&schema))
            .expect("compiles")
            .mapping;
        assert!(mapping.map_ndjson(&input).rejects.is_empty(), "{family}");
        group.bench_function(family, |b| {
            b.iter(|| black_box(mapping.map_ndjson(black_box(&input))))
        });
    }
    group.finish();

    let batch: RecordBatch = seed.map_ndjson(&input).batch;
    let mut group = c.benchmark_group("sink");
    group.throughput(Throughput::Elements(batch.num_rows() as u64));
    let dir = tempfile::tempdir().expect("tempdir");
    for format in [Format::Parquet, Format::Arrow, Format::Jsonl] {
        group.bench_function(format.extension(), |b| {
            b.iter(|| {
                let path = dir.path().join(format!("b.{}", format.extension()));
                let mut f = PartFile::create_as(
                    format,
                    path.with_extension("tmp"),
                    path,
                    Arc::clone(&batch.schema()),
                    ParquetOptions::default(),
                )
                .expect("create");
                f.write(&batch).expect("write");
                black_box(f.finish().expect("finish"))
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_mapping
}
criterion_main!(benches);
