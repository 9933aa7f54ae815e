//! Randomised property tests: no input, however broken, makes the expression parser or the
//! record scanner panic. Inputs are seeded mutations of valid ones (deterministic: the same
//! cases run every time; raise ROUNDS locally to search longer).

use sluice_core::{json, Framed, StreamSchema};
use sluice_mapping::{compile, expr, MappingSet};

const ROUNDS: usize = 20_000;

fn mutate(rng: &mut fastrand::Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.usize(1..6) {
        let alphabet = b"{}[]\":,\\.$()'0123456789-+eE tnfrua_\n\xff\xc3";
        match rng.u8(0..4) {
            0 if !v.is_empty() => {
                let i = rng.usize(0..v.len());
                v.remove(i);
            }
            1 => {
                let i = rng.usize(0..=v.len());
                v.insert(i, alphabet[rng.usize(0..alphabet.len())]);
            }
            2 if !v.is_empty() => {
                let i = rng.usize(0..v.len());
                v.truncate(i);
            }
            _ if !v.is_empty() => {
                let i = rng.usize(0..v.len());
                v[i] = alphabet[rng.usize(0..alphabet.len())];
            }
            _ => {}
        }
    }
    v
}

#[test]
fn the_expression_parser_never_panics() {
    let seeds = [
        "iif(results.active && !results.suspended, upper(${First Name}), 'x' + 1)",
        "results.name.equals(\"x\") or 1 + 2 * 3 >= 7",
        "decode(results.role, \"admin\", 1, 0) - -results.id % 3",
        "format(date(\"13/05/2022\", \"dd/MM/yyyy\"), \"yyyy\")",
    ];
    let schema = StreamSchema::infer(
        br#"{"results":{"active":true,"suspended":false,"name":"a","role":"b","id":1}}"#,
    );
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..ROUNDS {
        let bytes = mutate(&mut rng, seeds[i % seeds.len()].as_bytes());
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = expr::parse::parse(&text) {
            // rendering the caret must cope with any span
            let _ = e.render(&text);
        }
        let _ = expr::compile_expression(&text, Some(&schema), &|_| None);
    }
}

#[test]
fn the_scanner_never_panics_and_rejects_what_it_cannot_read() {
    let record = r#"{"results":{"id":6106699702801,"name":"Zoë \"Q\" \u00e9","tags":["a","b"],"ok":true,"n":1.5e3,"o":{"x":[1,{"y":null}]},"t":"2024-01-01T00:00:00Z"}}"#;
    let set = MappingSet::from_json(
        "fuzz",
        r#"{"mappings":[
            {"sourceType":"ATTRIBUTE","source":"results.id","destination":"a.id"},
            {"sourceType":"ATTRIBUTE","source":"results.name","destination":"a.name"},
            {"sourceType":"ATTRIBUTE","source":"results.tags","destination":"a.tags"},
            {"sourceType":"ATTRIBUTE","source":"results.o","destination":"a.o"},
            {"sourceType":"EXPRESSION","source":"concat(upper(results.name), results.n)","destination":"a.e"}]}"#,
    )
    .expect("set");
    let mapping = compile("fuzz", &set, Some(&StreamSchema::infer(record.as_bytes())))
        .expect("compiles")
        .mapping;
    let mut rng = fastrand::Rng::with_seed(11);
    let mut rejected = 0;
    for _ in 0..ROUNDS {
        let line = mutate(&mut rng, record.as_bytes());
        let out = mapping.map_ndjson(&line);
        // every input line is either a row or a reject, never lost
        assert_eq!(out.batch.num_rows() + out.rejects.len(), out.input_records);
        rejected += out.rejects.len();
    }
    assert!(
        rejected > ROUNDS / 10,
        "mutations should break many records: {rejected}"
    );
}

#[test]
fn framed_pages_never_panic_and_every_item_is_a_row_or_a_reject() {
    let page = r#"{"results":[{"id":1,"name":"Zoë \"Q\"","tags":["a","]"],"n":2.5},{"id":2,"name":null,"tags":[]},{"id":3,"name":"c","n":-1e2}],"meta":{"has_more":true,"after_cursor":"k"}}"#;
    let set = MappingSet::from_json(
        "fuzz",
        r#"{"mappings":[
            {"sourceType":"ATTRIBUTE","source":"results.id","destination":"id"},
            {"sourceType":"ATTRIBUTE","source":"results.tags","destination":"tags"},
            {"sourceType":"ATTRIBUTE","source":"meta.after_cursor","destination":"cursor"},
            {"sourceType":"EXPRESSION","source":"concat(results.name, results.n)","destination":"e"}]}"#,
    )
    .expect("set");
    let schema = StreamSchema::infer(
        br#"{"results":{"id":1,"name":"a","tags":["a"],"n":1.5},"meta":{"after_cursor":"k"}}"#,
    );
    let mapping = compile("fuzz", &set, Some(&schema))
        .expect("compiles")
        .mapping;
    let mut rng = fastrand::Rng::with_seed(13);
    let (mut mapped, mut rejected) = (0, 0);
    for _ in 0..ROUNDS {
        let body = mutate(&mut rng, page.as_bytes());
        // delimit the page the way a connector does; a page that does not delimit is the
        // connector's error, not the mapper's
        let mut items = Vec::new();
        let mut meta = None;
        let walked = json::object_members(&body, 0, |key, start| match key {
            b"results" => json::array_items(&body, start, |at| {
                let end = json::value_end(&body, at)?;
                items.push(at..end);
                Ok(end)
            }),
            _ => {
                let end = json::value_end(&body, start)?;
                if key == b"meta" {
                    meta = Some(start..end);
                }
                Ok(end)
            }
        });
        if walked.is_err() {
            continue;
        }
        let framed = Framed {
            body: body.clone().into(),
            items,
            shared: meta.into_iter().map(|r| ("meta".to_string(), r)).collect(),
            key: "results".into(),
        };
        let out = mapping.map_framed(&framed);
        assert_eq!(out.input_records, framed.items.len());
        assert_eq!(out.batch.num_rows() + out.rejects.len(), out.input_records);
        mapped += out.batch.num_rows();
        rejected += out.rejects.len();
    }
    assert!(
        mapped > ROUNDS / 4 && rejected > ROUNDS / 20,
        "{mapped} mapped, {rejected} rejected"
    );
}
