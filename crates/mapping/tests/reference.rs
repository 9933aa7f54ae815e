//! `docs/functions.md` is rendered from the function table: this test fails when they drift.
//! `SLUICE_BLESS=1` rewrites the page.

use std::path::Path;

use sluice_mapping::expr::funcs::{Ret, FUNCTIONS};

fn family(name: &str) -> &'static str {
    match name {
        "extract_regex" | "matches_regex" => "Regex",
        "sha1" | "sha256" | "sha512" | "md5" | "crc32" => "Hashing",
        n if n.starts_with("get_url_") => "URL",
        "now" | "timestamp" | "format" | "dformat" | "date" | "date_part" | "set_date_part"
        | "make_date_time" | "make_timestamp" | "zone_date_to_utc" | "zone_date_to_zone" => {
            "Date and time"
        }
        "is_empty" | "to_object" | "object_to_map" | "str_to_object" | "get" | "contains_key"
        | "nullify" | "get_keys" | "get_values" | "map_get_values" | "map_has_keys"
        | "add_to_map" => "Objects and maps",
        "coalesce" | "first" | "last" | "add_to_array" | "join_arrays" | "to_array" | "size_of" => {
            "Arrays"
        }
        "decode" | "iif" | "min" | "max" => "Logic and aggregation",
        "to_bigint" | "to_integer" | "to_decimal" | "to_float" => "Type conversion",
        "json_to_object" | "uuid" | "guid" => "JSON and special",
        _ => "String",
    }
}

fn ret(r: Ret) -> &'static str {
    match r {
        Ret::Str => "string",
        Ret::Int => "integer",
        Ret::Float => "double",
        Ret::Bool => "boolean",
        Ret::Time => "timestamp",
        Ret::ListStr => "array of strings",
        Ret::Json => "JSON text",
        Ret::Args { .. } => "the arguments' type",
    }
}

fn render() -> String {
    let mut out = String::from(
        "# Expression functions\n\n\
         Mapping entries with `\"sourceType\": \"EXPRESSION\"` use Adobe Data Prep's expression language: field\n\
         references (`results.name`, `${First Name}`), string, number, boolean and null literals, function calls\n\
         (and `value.equals(…)`-style methods), comparison (`==` `!=` `<` `<=` `>` `>=`, also `eq` `ne` `lt` `le`\n\
         `gt` `ge`), boolean (`&&` `||` `!`, also `and` `or` `not`) and arithmetic (`+` `-` `*` `/` `%`; `+` joins\n\
         strings) operators. A function whose required argument is null returns null unless its note says\n\
         otherwise. The column type comes from the function's result; objects and arrays of anything are kept\n\
         as JSON text. Every function below has a golden case in\n\
         `crates/mapping/tests/golden/functions.txt`, which shows its exact output.\n\n\
         Expressions are evaluated per record over the fields they read (decoded by the same projection\n\
         scanner as plain attributes). Not yet supported: Analytics and User agent functions, and the\n\
         destination-only array functions (`filterArray`, `transformArray`, `flattenArray`, `array_to_string`,\n\
         `upsert_array_*`).\n",
    );
    let mut families: Vec<&str> = FUNCTIONS.iter().map(|f| family(f.name)).collect();
    families.dedup();
    let mut seen = Vec::new();
    for fam in families {
        if seen.contains(&fam) {
            continue;
        }
        seen.push(fam);
        out.push_str(&format!(
            "\n## {fam}\n\n| function | returns | example | notes |\n| --- | --- | --- | --- |\n"
        ));
        for f in FUNCTIONS.iter().filter(|f| family(f.name) == fam) {
            out.push_str(&format!(
                "| `{}` | {} | `{}` | {} |\n",
                f.name,
                ret(f.ret),
                f.example.replace('|', "\\|"),
                f.note.replace('|', "\\|")
            ));
        }
    }
    out
}

#[test]
fn the_reference_page_lists_every_function() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/functions.md");
    let want = render();
    if std::env::var_os("SLUICE_BLESS").is_some() {
        std::fs::write(&path, &want).expect("bless");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "docs/functions.md is out of date: run SLUICE_BLESS=1 cargo test -p sluice-mapping --test reference");
}
