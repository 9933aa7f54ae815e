use std::fs;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde_json::{json, Value};

use super::*;

fn schema(extra: &[(&str, DataType)]) -> Schema {
    let mut fields = vec![
        Field::new("id", DataType::Int64, false),
        Field::new("email", DataType::Utf8, true),
        Field::new(
            "updated_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
            true,
        ),
    ];
    for (n, t) in extra {
        fields.push(Field::new(*n, t.clone(), true));
    }
    Schema::new(fields)
}

fn file(dest: &Path, rel: &str, rows: u64) -> DataFile {
    let path = dest.join(rel);
    fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    fs::write(&path, b"not read").expect("write");
    DataFile {
        path,
        bytes: 8,
        rows: Some(rows),
    }
}

fn change<'a>(adds: &'a [DataFile], removes: &'a [PathBuf], s: &'a Schema) -> DeltaChange<'a> {
    DeltaChange {
        adds,
        removes,
        schema: Some(s),
        app_id: Some("sluice/flow/users"),
        info: json!({"task": "users"}),
    }
}

fn actions(dest: &Path, table: &str, version: u64) -> Vec<Value> {
    let text = fs::read_to_string(
        dest.join(table)
            .join(format!("_delta_log/{version:020}.json")),
    )
    .expect("commit file");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

fn kinds(actions: &[Value]) -> Vec<String> {
    actions
        .iter()
        .map(|a| {
            a.as_object()
                .expect("object")
                .keys()
                .next()
                .expect("key")
                .clone()
        })
        .collect()
}

fn tables(dest: &Path) -> DeltaTables {
    DeltaTables::new(
        Arc::new(Lake::local(dest.to_path_buf())),
        dest.to_path_buf(),
    )
}

#[test]
fn commits_create_grow_and_retire_and_a_replay_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path();
    let t = tables(dest);
    let s = schema(&[]);
    let first = [file(dest, "users/date=2024-01-01/part-a.parquet", 10)];
    assert_eq!(
        t.commit(&change(&first, &[], &s)).expect("commit"),
        vec![("users".to_string(), 0)]
    );
    let v0 = actions(dest, "users", 0);
    assert_eq!(
        kinds(&v0),
        ["protocol", "metaData", "txn", "add", "commitInfo"]
    );
    let schema_string: Value =
        serde_json::from_str(v0[1]["metaData"]["schemaString"].as_str().expect("schema"))
            .expect("schema json");
    let names: Vec<&str> = schema_string["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["id", "email", "updated_at", "date"]);
    assert_eq!(schema_string["fields"][2]["type"], "timestamp");
    assert_eq!(v0[1]["metaData"]["partitionColumns"], json!(["date"]));
    assert_eq!(v0[3]["add"]["path"], "date=2024-01-01/part-a.parquet");
    assert_eq!(
        v0[3]["add"]["partitionValues"],
        json!({"date": "2024-01-01"})
    );
    assert_eq!(v0[3]["add"]["stats"], r#"{"numRecords":10}"#);
    assert_eq!(v0[2]["txn"]["version"], 0);

    // the same change again (a commit replayed after a crash) is recognised
    assert!(t
        .commit(&change(&first, &[], &s))
        .expect("replay")
        .is_empty());
    assert!(!dest
        .join("users/_delta_log/00000000000000000001.json")
        .exists());

    // a new column: the table's schema grows, with the same id
    let grown = schema(&[("plan", DataType::Utf8)]);
    let second = [file(dest, "users/date=2024-01-02/part-b.parquet", 5)];
    assert_eq!(
        t.commit(&change(&second, &[], &grown)).expect("grow")[0].1,
        1
    );
    let v1 = actions(dest, "users", 1);
    assert_eq!(kinds(&v1), ["metaData", "txn", "add", "commitInfo"]);
    assert_eq!(v1[0]["metaData"]["id"], v0[1]["metaData"]["id"]);
    let grown_schema: Value =
        serde_json::from_str(v1[0]["metaData"]["schemaString"].as_str().expect("schema"))
            .expect("schema json");
    let last = grown_schema["fields"]
        .as_array()
        .expect("fields")
        .last()
        .cloned();
    assert_eq!(
        last,
        Some(json!({"name": "plan", "type": "string", "nullable": true, "metadata": {}}))
    );
    assert_eq!(
        v1[1]["txn"]["version"], 1,
        "the task's transactions count up"
    );

    // a re-pulled day: its new file in, the old one out, in one version
    let third = [file(dest, "users/date=2024-01-01/part-c.parquet", 11)];
    let retired = [first[0].path.clone()];
    assert_eq!(
        t.commit(&change(&third, &retired, &grown))
            .expect("replace")[0]
            .1,
        2
    );
    assert_eq!(
        kinds(&actions(dest, "users", 2)),
        ["txn", "add", "remove", "commitInfo"]
    );

    // a fresh process reads the whole log
    let fresh = tables(dest);
    let live = fresh.live_files("users").expect("live");
    let expected: HashSet<PathBuf> = [second[0].path.clone(), third[0].path.clone()].into();
    assert_eq!(live, expected);
    assert!(fresh
        .commit(&change(&third, &retired, &grown))
        .expect("replay")
        .is_empty());
}

#[test]
fn two_writers_never_take_one_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path();
    let (a, b) = (tables(dest), tables(dest));
    let s = schema(&[]);
    let fa = [file(dest, "users/date=2024-01-01/part-a.parquet", 1)];
    let fb = [file(dest, "users/date=2024-01-02/part-b.parquet", 1)];
    // b has read version 0; a commits version 1; b, on its stale view, must take version 2
    let fa2 = [file(dest, "users/date=2024-01-03/part-a2.parquet", 1)];
    assert_eq!(a.commit(&change(&fa, &[], &s)).expect("a")[0].1, 0);
    assert_eq!(b.live_files("users").expect("b").len(), 1);
    assert_eq!(a.commit(&change(&fa2, &[], &s)).expect("a2")[0].1, 1);
    assert_eq!(b.commit(&change(&fb, &[], &s)).expect("b")[0].1, 2);
    let v2 = actions(dest, "users", 2);
    assert_eq!(
        kinds(&v2),
        ["txn", "add", "commitInfo"],
        "no second protocol"
    );
    assert_eq!(
        v2[0]["txn"]["version"], 2,
        "b saw a's transactions before its own"
    );
    assert_eq!(a.live_files("users").expect("a").len(), 3);

    // concurrent writers on threads: every file in, one version each
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let dest = dest.to_path_buf();
            std::thread::spawn(move || {
                let t = tables(&dest);
                let s = schema(&[]);
                for i in 0..5 {
                    let f = [file(
                        &dest,
                        &format!("users/date=2024-02-0{}/part-{w}-{i}.parquet", i + 1),
                        1,
                    )];
                    t.commit(&change(&f, &[], &s)).expect("commit");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    let fresh = tables(dest);
    assert_eq!(fresh.live_files("users").expect("live").len(), 23);
    assert!(dest
        .join("users/_delta_log/00000000000000000022.json")
        .exists());
    assert!(!dest
        .join("users/_delta_log/00000000000000000023.json")
        .exists());
}

#[test]
fn tables_sluice_cannot_write_safely_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path();
    let s = schema(&[]);
    let f = [file(dest, "users/date=2024-01-01/part-a.parquet", 1)];
    let log = dest.join("users/_delta_log");
    fs::create_dir_all(&log).expect("log");
    fs::write(
        log.join("00000000000000000000.json"),
        r#"{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["deletionVectors"]}}"#,
    )
    .expect("write");
    let e = tables(dest)
        .commit(&change(&f, &[], &s))
        .expect_err("features");
    assert!(
        e.to_string().contains("writer version 7") && e.to_string().contains("users"),
        "{e}"
    );

    fs::write(log.join("00000000000000000000.json"), "{\"add\": nope\n").expect("write");
    let e = tables(dest)
        .commit(&change(&f, &[], &s))
        .expect_err("malformed");
    assert!(
        e.to_string().contains("00000000000000000000.json line 1"),
        "{e}"
    );

    fs::remove_file(log.join("00000000000000000000.json")).expect("rm");
    fs::write(log.join("00000000000000000010.checkpoint.parquet"), b"x").expect("write");
    fs::write(log.join("00000000000000000011.json"), "{}\n").expect("write");
    let e = tables(dest)
        .commit(&change(&f, &[], &s))
        .expect_err("checkpointed");
    assert!(e.to_string().contains("version 11"), "{e}");
}

#[test]
fn schemas_that_cannot_be_a_delta_table_are_refused_by_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path();
    let t = tables(dest);
    let f = [file(dest, "users/date=2024-01-01/part-a.parquet", 1)];
    for name in ["date", "Date"] {
        let clash = schema(&[(name, DataType::Utf8)]);
        let e = t.check_schema("users", &clash).expect_err("clash");
        assert!(e.to_string().contains(&format!("`{name}` clashes")), "{e}");
        assert!(t.commit(&change(&f, &[], &clash)).is_err());
    }
    let unsigned = schema(&[("n", DataType::UInt64)]);
    let e = t
        .commit(&change(&f, &[], &unsigned))
        .expect_err("no delta type");
    assert!(e.to_string().contains("column `n`"), "{e}");

    t.commit(&change(&f, &[], &schema(&[]))).expect("create");
    let retyped = Schema::new(vec![Field::new("id", DataType::Utf8, true)]);
    let g = [file(dest, "users/date=2024-01-02/part-b.parquet", 1)];
    let e = t
        .commit(&change(&g, &[], &retyped))
        .expect_err("type change");
    assert!(
        e.to_string()
            .contains("column `id` is long in the table but string"),
        "{e}"
    );
}

#[test]
fn an_object_store_lake_commits_with_a_conditional_put() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    fs::create_dir_all(&store).expect("store");
    let mirror = dir.path().join("mirror");
    let lake = |_: ()| {
        Arc::new(
            Lake::object_store(&format!("file://{}/", store.display()), &[], mirror.clone())
                .expect("lake"),
        )
    };
    let (a, b) = (
        DeltaTables::new(lake(()), mirror.clone()),
        DeltaTables::new(lake(()), mirror.clone()),
    );
    let s = schema(&[]);
    let adds = |name: &str| DataFile {
        path: mirror.join(format!("users/date=2024-01-01/{name}")),
        bytes: 1,
        rows: None,
    };
    assert!(a.live_files("users").expect("a").is_empty());
    assert!(b.live_files("users").expect("b").is_empty());
    a.commit(&change(&[adds("part-a.parquet")], &[], &s))
        .expect("a");
    assert_eq!(
        b.commit(&change(&[adds("part-b.parquet")], &[], &s))
            .expect("b")[0]
            .1,
        1
    );
    assert!(store
        .join("users/_delta_log/00000000000000000001.json")
        .exists());
    assert!(!mirror.exists(), "the mirror is never written");
}

#[test]
fn paths_and_ids_are_spelled_as_delta_readers_expect() {
    assert_eq!(
        partition_values("date=2024-01-01/part-x.parquet"),
        json!({"date": "2024-01-01"})
    );
    assert_eq!(
        utf8_percent_encode("date=2024-01-01/part a:b.parquet", PATH_ESCAPES).to_string(),
        "date=2024-01-01/part%20a%3Ab.parquet"
    );
    assert_eq!(
        decoded_path(&json!({"path": "date=2024-01-01/part%20a%3Ab.parquet"})).as_deref(),
        Some("date=2024-01-01/part a:b.parquet")
    );
    assert_eq!(
        commit_version(Path::new("_delta_log/00000000000000000042.json")),
        Some(42)
    );
    assert_eq!(commit_version(Path::new("_delta_log/42.json")), None);
    let id = new_table_id();
    let parts: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
    assert!(
        id.as_bytes()[14] == b'4' && b"89ab".contains(&id.as_bytes()[19]),
        "{id}"
    );
}

#[test]
fn a_file_once_removed_is_never_added_again_and_settings_survive_a_schema_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path();
    let t = tables(dest);
    let s = schema(&[]);
    let a = [file(dest, "users/date=2024-01-01/part-a.parquet", 1)];
    let b = [file(dest, "users/date=2024-01-01/part-b.parquet", 1)];
    t.commit(&change(&a, &[], &s)).expect("a");
    t.commit(&change(&b, &[a[0].path.clone()], &s))
        .expect("replace");
    // a late commit (a recovery racing the replacement) naming the removed file adds nothing
    assert!(t.commit(&change(&a, &[], &s)).expect("late").is_empty());
    assert!(!tables(dest)
        .live_files("users")
        .expect("live")
        .contains(&a[0].path));

    // another tool set properties: a schema change keeps them, and append-only is honoured
    let log = dest.join("users/_delta_log");
    let mut meta = actions(dest, "users", 0)[1].clone();
    meta["metaData"]["configuration"] = json!({"delta.appendOnly": "true"});
    meta["metaData"]["name"] = json!("users");
    fs::write(log.join("00000000000000000002.json"), format!("{meta}\n")).expect("write");
    let grown = schema(&[("plan", DataType::Utf8)]);
    let c = [file(dest, "users/date=2024-01-02/part-c.parquet", 1)];
    t.commit(&change(&c, &[], &grown)).expect("grow");
    let v3 = actions(dest, "users", 3);
    assert_eq!(
        v3[0]["metaData"]["configuration"],
        json!({"delta.appendOnly": "true"})
    );
    assert_eq!(v3[0]["metaData"]["name"], "users");
    assert_eq!(v3[0]["metaData"]["id"], meta["metaData"]["id"]);
    let d = [file(dest, "users/date=2024-01-02/part-d.parquet", 1)];
    let e = t
        .commit(&change(&d, &[c[0].path.clone()], &grown))
        .expect_err("append-only");
    assert!(e.to_string().contains("delta.appendOnly"), "{e}");
}

#[test]
fn a_commit_retiring_another_streams_file_leaves_that_tables_schema_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path();
    let t = tables(dest);
    let tickets = Schema::new(vec![Field::new("subject", DataType::Utf8, true)]);
    let old = [file(dest, "tickets/date=2024-01-01/part-t.parquet", 1)];
    t.commit(&change(&old, &[], &tickets)).expect("tickets");
    let users = [file(dest, "users/date=2024-01-01/part-u.parquet", 1)];
    let written = t
        .commit(&change(&users, &[old[0].path.clone()], &schema(&[])))
        .expect("users, retiring a tickets file");
    assert_eq!(
        written,
        vec![("tickets".to_string(), 1), ("users".to_string(), 0)]
    );
    assert_eq!(
        kinds(&actions(dest, "tickets", 1)),
        ["txn", "remove", "commitInfo"],
        "no users columns in the tickets table"
    );
    let remove = &actions(dest, "tickets", 1)[1]["remove"];
    assert!(remove.get("extendedFileMetadata").is_none(), "{remove}");
}

#[test]
fn recovery_reads_each_files_schema_from_its_footer_and_leaves_out_what_is_not_parquet() {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path();
    let write = |rel: &str, with_plan: bool| {
        let path = dest.join(rel);
        fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        let mut cols: Vec<(&str, ArrayRef)> = vec![("id", Arc::new(Int64Array::from(vec![1, 2])))];
        if with_plan {
            cols.push(("plan", Arc::new(StringArray::from(vec!["a", "b"]))));
        }
        let batch = RecordBatch::try_from_iter(cols).expect("batch");
        let f = fs::File::create(&path).expect("create");
        let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        DataFile {
            bytes: fs::metadata(&path).expect("meta").len(),
            path,
            rows: None,
        }
    };
    let files = [
        write("users/date=2024-01-01/part-a.parquet", false),
        write("users/date=2024-01-02/part-b.parquet", true),
        file(dest, "users/date=2024-01-03/part-c.parquet", 1),
    ];
    let t = tables(dest);
    let written = t
        .commit(&DeltaChange {
            adds: &files,
            removes: &[],
            schema: None,
            app_id: None,
            info: json!({"recovery": true}),
        })
        .expect("recovery commit");
    assert_eq!(written.len(), 1);
    let v0 = actions(dest, "users", 0);
    let schema: Value =
        serde_json::from_str(v0[1]["metaData"]["schemaString"].as_str().expect("schema"))
            .expect("schema json");
    let names: Vec<&str> = schema["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["id", "date", "plan"]);
    let live = t.live_files("users").expect("live");
    assert_eq!(
        live.len(),
        2,
        "the file that is not Parquet stays out: {live:?}"
    );
    assert!(!live.contains(&files[2].path));
}
