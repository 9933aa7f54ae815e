//! The state store's contract, run against both stores: the embedded SQLite file and a
//! PostgreSQL server started for the test process (see `support/pg.rs`).

mod support;

use std::path::PathBuf;

use chrono::NaiveDate;
use serde_json::json;
use sluice_state::{
    Commit, LockOwner, NewFile, PendingFile, PgTarget, StateError, StateLocation, StateStore,
    WindowRecord,
};

/// Where one test's store is; its SQLite directory lives as long as the fixture.
pub struct Fixture {
    location: StateLocation,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self {
            location: StateLocation::Sqlite(dir.path().join("_sluice/state.db")),
            _dir: Some(dir),
        }
    }

    fn postgres(test: &str) -> Self {
        let target =
            PgTarget::parse(&support::pg::url(), &support::pg::fresh_schema(test)).expect("target");
        Self {
            location: StateLocation::Postgres(Box::new(target)),
            _dir: None,
        }
    }

    /// A new connection to the test's store (a second machine, or the same after a restart).
    fn open(&self) -> StateStore {
        self.location.open().expect("open the store")
    }
}

fn owner(run: &str) -> LockOwner {
    LockOwner {
        run_id: run.into(),
        pid: 7,
        host: "pod-a".into(),
        started_at: "2024-01-01T00:00:00Z".into(),
    }
}

/// Each case as a test of the SQLite store and one of the PostgreSQL store.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $case() { super::cases::$case(&super::Fixture::sqlite()) } )*
        }
        mod postgres {
            $( #[test] fn $case() { super::cases::$case(&super::Fixture::postgres(stringify!($case))) } )*
        }
    };
}

on_both_stores!(
    checkpoints_and_pending_files_commit_together,
    a_row_left_running_is_marked_crashed_whatever_its_pid,
    a_completing_commit_marks_the_task_and_dooms_what_it_replaces,
    a_whole_partition_replaces_its_earlier_files_from_any_task,
    windows_are_known_by_their_days_and_a_forced_one_is_open_again,
    the_manifest_keeps_commit_order_and_names_each_file_days,
    a_second_connection_sees_every_commit_and_reads_the_history,
    a_lock_is_held_once_names_its_holder_and_frees_on_release,
);

mod cases {
    use super::*;

    pub fn checkpoints_and_pending_files_commit_together(fx: &Fixture) {
        let mut s = fx.open();
        assert_eq!(s.checkpoint("f", "users").expect("read"), None);
        let file = PendingFile {
            temp: "/t/a.tmp".into(),
            target: "/o/a.parquet".into(),
            run_id: "r1".into(),
        };
        let new = NewFile {
            temp: file.temp.clone(),
            target: file.target.clone(),
            partition: "2024-01-01".into(),
            days: None,
        };
        s.commit(Commit {
            run_id: "r1",
            flow: "f",
            task: "users",
            stream: "users",
            slice: "",
            window: None,
            checkpoint: Some(&json!({"mark": 5})),
            files: std::slice::from_ref(&new),
            completes: false,
            replaces: &[],
            replace_partitions: &[],
        })
        .expect("commit");
        assert_eq!(
            s.checkpoint("f", "users").expect("read"),
            Some(json!({"mark": 5}))
        );
        assert_eq!(s.pending_files("f").expect("pending"), vec![file.clone()]);
        s.forget_pending(&file.temp).expect("forget");
        assert!(s.pending_files("f").expect("pending").is_empty());
        // survives reopening
        drop(s);
        let s = fx.open();
        assert_eq!(
            s.checkpoint("f", "users").expect("read"),
            Some(json!({"mark": 5}))
        );
        assert_eq!(s.reset("f", &["other"]).expect("reset"), 0);
        assert_eq!(s.reset("f", &["users"]).expect("reset"), 1);
        assert_eq!(s.checkpoint("f", "users").expect("read"), None);
    }

    pub fn a_row_left_running_is_marked_crashed_whatever_its_pid(fx: &Fixture) {
        let mut s = fx.open();
        // pid 1 is alive in every container: a pid check would take this row for a live run
        s.begin_run("r1", "f", "run", "2024-01-01T00:00:00Z", 1)
            .expect("first run");
        s.begin_run("b1", "f", "backfill", "2024-01-01T00:00:01Z", 1)
            .expect("a backfill row");
        s.begin_run("r2", "f", "run", "2024-01-01T00:00:02Z", 1)
            .expect("the caller holds the lock, so r1 is dead");
        s.finish_run(
            "r2",
            "success",
            "2024-01-01T00:00:05Z",
            &json!({"ok": true}),
        )
        .expect("finish");
        let runs = s.runs(Some("f"), 10).expect("runs");
        let statuses: Vec<(&str, &str)> = runs
            .iter()
            .map(|r| (r.run_id.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(
            statuses,
            [("r2", "success"), ("b1", "running"), ("r1", "crashed")],
            "a backfill row is another mode's"
        );
        assert_eq!(runs[0].report, Some(json!({"ok": true})));
    }

    pub fn a_completing_commit_marks_the_task_and_dooms_what_it_replaces(fx: &Fixture) {
        let mut s = fx.open();
        let file = |t: &str, p: &str| NewFile {
            temp: t.into(),
            target: p.into(),
            partition: "2026-01-01".into(),
            days: None,
        };
        let old = file("/t/1", "/o/old.parquet");
        let new = file("/t/2", "/o/new.parquet");
        let task = "users@2024-01-01..2024-01-07";
        let commit = |files, completes, replaces| Commit {
            run_id: "r",
            flow: "f",
            task,
            stream: "users",
            slice: "",
            window: None,
            checkpoint: None,
            files,
            completes,
            replaces,
            replace_partitions: &[],
        };
        s.commit(commit(std::slice::from_ref(&old), true, &[]))
            .expect("first pull");
        assert!(s.task_done("f", task).expect("done"));
        s.restart_task("f", task).expect("restart");
        assert!(!s.task_done("f", task).expect("not done"));
        let previous = s.task_files("f", task).expect("files");
        assert_eq!(previous, vec![old.target.clone()]);
        s.commit(commit(std::slice::from_ref(&new), false, &previous))
            .expect("progress");
        assert!(
            s.doomed_files("f").expect("doomed").is_empty(),
            "old files stay until completion"
        );
        s.commit(commit(&[], true, &previous)).expect("completion");
        assert_eq!(
            s.doomed_files("f").expect("doomed"),
            vec![old.target.clone()]
        );
        assert_eq!(
            s.task_files("f", task).expect("files"),
            vec![new.target.clone()]
        );
    }

    pub fn a_whole_partition_replaces_its_earlier_files_from_any_task(fx: &Fixture) {
        let mut s = fx.open();
        let file = |p: &str, day: &str| NewFile {
            temp: format!("/t/{p}").into(),
            target: format!("/o/{p}").into(),
            partition: day.into(),
            days: None,
        };
        let base = Commit {
            run_id: "r",
            flow: "f",
            task: "events@2024-05-01..2024-05-07",
            stream: "events",
            slice: "",
            window: None,
            checkpoint: None,
            files: &[],
            completes: true,
            replaces: &[],
            replace_partitions: &[],
        };
        let first = [file("a1", "2024-05-01"), file("b1", "2024-05-02")];
        let days = ["2024-05-01".to_string(), "2024-05-02".to_string()];
        s.commit(Commit {
            files: &first,
            replace_partitions: &days,
            ..base
        })
        .expect("backfill");
        assert!(s.doomed_files("f").expect("doomed").is_empty());
        // an incremental pull re-reads 2024-05-02 whole
        let again = [file("b2", "2024-05-02")];
        let day2 = ["2024-05-02".to_string()];
        s.commit(Commit {
            task: "events",
            files: &again,
            replace_partitions: &day2,
            ..base
        })
        .expect("lookback");
        assert_eq!(
            s.doomed_files("f").expect("doomed"),
            vec![PathBuf::from("/o/b1")]
        );
        assert_eq!(
            s.task_files("f", "events").expect("files"),
            vec![PathBuf::from("/o/b2")]
        );
        assert_eq!(
            s.task_files("f", "events@2024-05-01..2024-05-07")
                .expect("files"),
            vec![PathBuf::from("/o/a1")],
            "the other day is untouched"
        );
    }

    pub fn windows_are_known_by_their_days_and_a_forced_one_is_open_again(fx: &Fixture) {
        let mut s = fx.open();
        let d = |t: &str| NaiveDate::parse_from_str(t, "%Y-%m-%d").expect("day");
        let task = "users@2024-01-01..2024-01-07";
        let commit = |completes| Commit {
            run_id: "r",
            flow: "f",
            task,
            stream: "users",
            slice: "",
            window: Some((d("2024-01-01"), d("2024-01-07"))),
            checkpoint: None,
            files: &[],
            completes,
            replaces: &[],
            replace_partitions: &[],
        };
        s.commit(commit(false)).expect("progress");
        let open = s.windows("f", "users", "").expect("windows");
        assert_eq!(
            open,
            [WindowRecord {
                task: task.into(),
                from: d("2024-01-01"),
                to: d("2024-01-07"),
                done: false
            }]
        );
        s.commit(commit(true)).expect("done");
        s.commit(commit(false))
            .expect("a later commit does not undo completion");
        assert!(s.windows("f", "users", "").expect("windows")[0].done);
        s.restart_task("f", task).expect("force");
        assert!(!s.windows("f", "users", "").expect("windows")[0].done);
        assert!(s.windows("f", "other", "").expect("windows").is_empty());
    }

    pub fn the_manifest_keeps_commit_order_and_names_each_file_days(fx: &Fixture) {
        let mut s = fx.open();
        let d = |t: &str| NaiveDate::parse_from_str(t, "%Y-%m-%d").expect("day");
        let file = |name: &str, days| NewFile {
            temp: format!("/t/{name}").into(),
            target: format!("/o/{name}").into(),
            partition: "2024-03-01".into(),
            days,
        };
        let commit = |files: &'static [NewFile]| Commit {
            run_id: "r",
            flow: "f",
            task: "ads",
            stream: "ads",
            slice: "acct-1",
            window: None,
            checkpoint: None,
            files,
            completes: false,
            replaces: &[],
            replace_partitions: &[],
        };
        let first: &'static [NewFile] = Box::leak(Box::new([
            file("b", Some((d("2024-03-01"), d("2024-03-02")))),
            file("a", None),
        ]));
        let again: &'static [NewFile] = Box::leak(Box::new([file("b", None)]));
        s.commit(commit(first)).expect("first");
        s.commit(commit(again)).expect("b again");
        let m = s.manifest("f").expect("manifest");
        let names: Vec<_> = m.iter().map(|f| f.path.display().to_string()).collect();
        assert_eq!(names, ["/o/a", "/o/b"], "a file committed again moves last");
        assert_eq!(m[0].slice, "acct-1");
        assert_eq!(m[1].days, None, "the second commit of b knew no days");
        assert!(s.stream_has_files("f", "ads").expect("has"));
        assert!(!s.stream_has_files("f", "other").expect("has"));
        assert_eq!(
            s.forget_files("f", &[PathBuf::from("/o/a"), PathBuf::from("/o/zz")])
                .expect("forget"),
            1
        );
        assert_eq!(s.manifest("f").expect("manifest").len(), 1);
        assert!(s.knows("f").expect("knows"));
        assert!(!s.knows("g").expect("knows"));
    }

    pub fn a_second_connection_sees_every_commit_and_reads_the_history(fx: &Fixture) {
        let mut one = fx.open();
        let two = fx.open();
        one.begin_run("r1", "f", "backfill", "2024-01-01T00:00:00Z", 9)
            .expect("begin");
        one.put_value("f", "token", &json!({"t": "x"}))
            .expect("put");
        assert_eq!(
            two.checkpoint("f", "token").expect("read"),
            Some(json!({"t": "x"}))
        );
        let runs = two.runs(None, 5).expect("runs");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].mode, "backfill");
        assert_eq!(runs[0].finished_at, None);
        one.finish_run("r1", "success", "2024-01-01T00:01:00Z", &json!({"rows": 3}))
            .expect("finish");
        let runs = two.runs(Some("f"), 5).expect("runs");
        assert_eq!(runs[0].status, "success");
        assert_eq!(runs[0].report, Some(json!({"rows": 3})));
        assert!(two.runs(Some("other"), 5).expect("runs").is_empty());
        let cps = two.checkpoints("f").expect("checkpoints");
        assert_eq!(cps.len(), 1);
        assert_eq!(cps[0].0, "token");
        assert!(cps[0].2.ends_with('Z'), "ISO-8601 UTC: {}", cps[0].2);
    }

    pub fn a_lock_is_held_once_names_its_holder_and_frees_on_release(fx: &Fixture) {
        let locks = fx.location.locks();
        let held = locks.acquire("f", "backfill", &owner("r1")).expect("first");
        assert!(locks.is_alive("f", "r1").expect("alive"));
        match locks.acquire("f", "backfill", &owner("r2")) {
            Err(StateError::Locked { holder, .. }) => {
                assert!(
                    holder.contains("r1") && holder.contains("pod-a"),
                    "{holder}"
                )
            }
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("a held lock was taken twice"),
        }
        let other = fx.location.locks();
        let run = other
            .acquire("f", "run", &owner("r3"))
            .expect("another mode is another lock");
        drop(held);
        assert!(!other.is_alive("f", "r1").expect("alive"));
        assert!(other.is_alive("f", "r3").expect("alive"));
        let again = other
            .acquire("f", "backfill", &owner("r4"))
            .expect("released");
        drop((run, again));
    }
}

/// PostgreSQL only: what a fleet of machines sharing one store relies on.
mod postgres_store {
    use super::*;

    #[test]
    fn a_lease_whose_session_died_is_free_at_once_and_its_run_reads_dead() {
        let fx = Fixture::postgres("lease_dies");
        let locks = fx.location.locks();
        let _held = locks.acquire("f", "backfill", &owner("r1")).expect("take");
        // what the server sees when a pod is SIGKILLed: its session ends
        let admin = fx.open();
        kill_lease_sessions(&fx);
        drop(admin);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let again = loop {
            match locks.acquire("f", "backfill", &owner("r2")) {
                Ok(g) => break g,
                Err(StateError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                Err(e) => panic!("the dead session's lease was not freed: {e}"),
            }
        };
        assert!(!locks.is_alive("f", "r1").expect("alive"));
        assert!(locks.is_alive("f", "r2").expect("alive"));
        drop(again);
    }

    fn kill_lease_sessions(fx: &Fixture) {
        let StateLocation::Postgres(t) = &fx.location else {
            unreachable!()
        };
        let status = std::process::Command::new("psql")
            .args([
                &support::pg::url(),
                "-qAt",
                "-c",
                &format!(
                    "SELECT pg_terminate_backend(backend_pid) FROM \"{}\".leases",
                    schema_of(t)
                ),
            ])
            .status()
            .expect("psql");
        assert!(status.success());
    }

    fn schema_of(t: &PgTarget) -> String {
        let d = t.display();
        d.rsplit_once("(schema ")
            .and_then(|(_, s)| s.strip_suffix(')'))
            .expect("schema in the display")
            .to_string()
    }

    #[test]
    fn shards_run_together_but_never_beside_an_unsharded_run_or_another_count() {
        use sluice_state::shard_mode;
        let fx = Fixture::postgres("shard_modes");
        let locks = fx.location.locks();
        let zero = locks
            .acquire("f", &shard_mode("backfill", 0, 4), &owner("s0"))
            .expect("shard 0");
        let one = locks
            .acquire("f", &shard_mode("backfill", 1, 4), &owner("s1"))
            .expect("shards of one count run at once");
        let refused = |mode: &str, run: &str| match locks.acquire("f", mode, &owner(run)) {
            Err(StateError::Locked { holder, .. }) => holder,
            Err(e) => panic!("{mode}: wrong error: {e}"),
            Ok(_) => panic!("{mode} was let in beside the shards"),
        };
        assert!(refused(&shard_mode("backfill", 1, 4), "again").contains("s1"));
        refused("backfill", "whole");
        let other = refused(&shard_mode("backfill", 0, 2), "half");
        assert!(other.contains("same N"), "{other}");
        let run = locks
            .acquire("f", "run", &owner("r"))
            .expect("a run is another mode");
        drop((zero, one));
        let whole = locks
            .acquire("f", "backfill", &owner("whole"))
            .expect("the shards are done");
        drop((whole, run));
    }

    #[test]
    fn a_lease_lost_with_its_connection_stops_the_next_commit() {
        let fx = Fixture::postgres("lease_lost");
        let locks = fx.location.locks();
        let held = locks.acquire("f", "backfill", &owner("r1")).expect("take");
        held.check("f").expect("held");
        kill_lease_sessions(&fx);
        let err = held.check("f").expect_err("the lease is gone").to_string();
        assert!(err.contains("lease is lost"), "{err}");
        assert!(!locks.is_alive("f", "r1").expect("alive"));
    }

    #[test]
    fn commits_that_retire_one_day_one_after_another_lose_no_file() {
        // a backfill window and a run's lookback re-pulling the same day, at once
        let fx = Fixture::postgres("same_day");
        let handles: Vec<_> = (0..3)
            .map(|writer| {
                let location = fx.location.clone();
                std::thread::spawn(move || {
                    let mut s = location.open().expect("open");
                    for i in 0..20 {
                        let files = [NewFile {
                            temp: format!("/t/{writer}-{i}").into(),
                            target: format!("/o/{writer}-{i}").into(),
                            partition: "2024-05-01".into(),
                            days: None,
                        }];
                        s.commit(Commit {
                            run_id: "r",
                            flow: "f",
                            task: &format!("events-{writer}"),
                            stream: "events",
                            slice: "",
                            window: None,
                            checkpoint: None,
                            files: &files,
                            completes: false,
                            replaces: &[],
                            replace_partitions: &["2024-05-01".to_string()],
                        })
                        .expect("commit");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        let s = fx.open();
        let live = s.manifest("f").expect("manifest");
        let doomed = s.doomed_files("f").expect("doomed");
        assert_eq!(live.len(), 1, "one pull of the day is the day: {live:?}");
        assert_eq!(
            live.len() + doomed.len(),
            60,
            "every file is the day's or retired"
        );
    }

    #[test]
    fn machines_connecting_at_once_migrate_the_schema_once() {
        let fx = Fixture::postgres("migrate_once");
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let location = fx.location.clone();
                std::thread::spawn(move || location.open().map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join()
                .expect("thread")
                .expect("every connection migrates or finds it done");
        }
        let mut s = fx.open();
        s.commit(Commit {
            run_id: "r",
            flow: "f",
            task: "t",
            stream: "t",
            slice: "",
            window: None,
            checkpoint: Some(&json!(1)),
            files: &[],
            completes: true,
            replaces: &[],
            replace_partitions: &[],
        })
        .expect("usable");
    }

    #[test]
    fn concurrent_commits_of_two_machines_all_land() {
        let fx = Fixture::postgres("concurrent");
        let handles: Vec<_> = (0..4)
            .map(|shard| {
                let location = fx.location.clone();
                std::thread::spawn(move || {
                    let mut s = location.open().expect("open");
                    for i in 0..25 {
                        let task = format!("s@2024-01-{:02}..2024-01-{:02}", i + 1, i + 1);
                        let files = [NewFile {
                            temp: format!("/t/{shard}-{i}").into(),
                            target: format!("/o/{shard}-{i}").into(),
                            partition: format!("p{shard}-{i}"),
                            days: None,
                        }];
                        s.commit(Commit {
                            run_id: "r",
                            flow: "f",
                            task: &task,
                            stream: "s",
                            slice: &shard.to_string(),
                            window: None,
                            checkpoint: Some(&json!(i)),
                            files: &files,
                            completes: true,
                            replaces: &[],
                            replace_partitions: &[format!("p{shard}-{i}")],
                        })
                        .expect("commit");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        let s = fx.open();
        assert_eq!(s.manifest("f").expect("manifest").len(), 100);
        assert_eq!(s.pending_files("f").expect("pending").len(), 100);
        assert!(s.doomed_files("f").expect("doomed").is_empty());
    }

    #[test]
    fn a_store_from_a_newer_sluice_is_refused_by_name() {
        let fx = Fixture::postgres("newer");
        let StateLocation::Postgres(t) = &fx.location else {
            unreachable!()
        };
        drop(fx.open());
        let status = std::process::Command::new("psql")
            .args([
                &support::pg::url(),
                "-qAt",
                "-c",
                &format!(
                    "UPDATE \"{}\".schema_version SET version = 99",
                    schema_of(t)
                ),
            ])
            .status()
            .expect("psql");
        assert!(status.success());
        let err = fx.location.open().err().expect("refused").to_string();
        assert!(
            err.contains("version 99") && err.contains("newer sluice"),
            "{err}"
        );
    }

    #[test]
    fn sslmode_require_connects_with_tls_and_verifies_the_server() {
        let url = format!("{}?sslmode=require", support::pg::url());
        let schema = support::pg::fresh_schema("tls");
        // the server's certificate is signed by the test's own CA: not a public root
        let untrusted = PgTarget::parse(&url, &schema).expect("target");
        assert!(untrusted.uses_tls());
        let err = StateLocation::Postgres(Box::new(untrusted))
            .open()
            .err()
            .expect("an unknown issuer is refused")
            .to_string();
        assert!(
            err.contains("certificate") && err.contains("ca_file"),
            "{err}"
        );
        let trusted = PgTarget::parse(&url, &schema)
            .and_then(|t| t.with_ca_file(&support::pg::ca_file()))
            .expect("target");
        let location = StateLocation::Postgres(Box::new(trusted));
        let store = location.open().expect("TLS with the CA");
        store.put_value("f", "k", &json!(1)).expect("usable");
        // the server says this very session is encrypted
        let out = std::process::Command::new("psql")
            .args([
                &support::pg::url(),
                "-qAt",
                "-c",
                "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
                 WHERE ssl AND application_name = 'sluice'",
            ])
            .output()
            .expect("psql");
        let n: u32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a count");
        assert!(n >= 1, "no TLS session of sluice's");
        drop(store);
        let not_pem = std::env::temp_dir().join(format!("not-pem-{}", std::process::id()));
        std::fs::write(&not_pem, "hello").expect("write");
        let bad = PgTarget::parse(&url, &schema)
            .expect("target")
            .with_ca_file(&not_pem)
            .expect_err("no certificate in it");
        assert!(bad.contains("no PEM certificate"), "{bad}");
        let _ = std::fs::remove_file(&not_pem);
    }

    #[test]
    fn no_message_carries_the_password() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            l.local_addr().expect("addr").port()
        };
        // nothing listens there: the connection is refused
        let url =
            format!("postgres://sluice:hunter2secret@127.0.0.1:{port}/lake?connect_timeout=2");
        let t = PgTarget::parse(&url, "sluice").expect("parse");
        assert!(!format!("{t:?}").contains("hunter2"));
        let err = StateLocation::Postgres(Box::new(t))
            .open()
            .err()
            .expect("refused")
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            err.contains(&format!("postgres://sluice@127.0.0.1:{port}/lake")),
            "{err}"
        );
        let bad = PgTarget::parse("postgres://u:hunter2secret@host:notaport/db", "s")
            .expect_err("bad url");
        assert!(!bad.contains("hunter2"), "{bad}");
        let schema = PgTarget::parse(&url, "x; DROP TABLE y").expect_err("bad schema");
        assert!(schema.contains("schema"), "{schema}");
    }
}
