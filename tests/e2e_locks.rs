//! Locks that die with their process (issue #9): a killed run never blocks later runs, even in a
//! container where the restarted process gets the same pid; `state reset` respects the lock.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// Whether this machine can start a process in a fresh pid namespace, as a container does.
fn pid_namespaces() -> bool {
    std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `sluice ARGS`, as pid 1 of a new pid namespace when `container` (killing the returned child
/// kills sluice too).
fn spawn(args: &[&str], cwd: &Path, container: bool) -> tokio::process::Child {
    let bin = env!("CARGO_BIN_EXE_sluice");
    let mut cmd = if container {
        let mut c = tokio::process::Command::new("unshare");
        c.args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child=SIGKILL",
            bin,
        ]);
        c
    } else {
        tokio::process::Command::new(bin)
    };
    cmd.args(args)
        .current_dir(cwd)
        .env("ZENDESK_EMAIL", EMAIL)
        .env("ZENDESK_API_TOKEN", TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn")
}

async fn finish(child: tokio::process::Child) -> Output {
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("finished in time")
        .expect("output");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The lock file of `flow` in `mode`, once a run has written its owner into it.
async fn wait_for_owner(dest: &Path, flow: &str, mode: &str) -> String {
    let path = dest.join(format!("_sluice/locks/{flow}.{mode}.lock"));
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if text.contains("run_id") {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no owner in {}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_run_killed_as_pid_1_of_a_container_does_not_block_later_runs() {
    let container = pid_namespaces();
    if !container {
        eprintln!("note: no pid namespaces here (unshare); the kill is tested without one");
    }
    let h = harness(2_000, "slow=200x100000@1").await;
    let flow = h.flow("users", "page_size = 100", "");
    let path = flow.to_str().expect("path");
    // the backfill first: once incremental runs hold the days, a backfill has nothing to do
    for mode in ["backfill", "run"] {
        let args: Vec<&str> = match mode {
            "run" => vec!["run", path],
            _ => vec![
                "backfill",
                path,
                "--from",
                "2023-01-01",
                "--to",
                "2023-03-31",
            ],
        };
        let requests = || async { h.stats().await["vendors"]["zendesk"]["requests"].as_u64() };
        let before = requests().await;
        let mut killed = spawn(&args, h.dir.path(), container);
        let owner = wait_for_owner(&h.dest(), "users", mode).await;
        if container {
            assert!(owner.contains(r#""pid":1,"#), "{owner}");
        }
        // killed mid-pull: once it has asked the server for something
        for _ in 0..400 {
            if requests().await > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        killed.start_kill().expect("SIGKILL");
        let _ = killed.wait().await;
        // the same pid again, and the first run's lock file still names it
        let again = finish(spawn(&args, h.dir.path(), container)).await;
        assert_ne!(again.code, 4, "{mode}: a dead run blocked: {}", again.all());
        assert!(
            again.code == 0 || again.code == 1,
            "{mode}: {}",
            again.all()
        );
    }
    h.set_faults("").await;
    let last = h.run(&flow, &[]).await;
    assert_eq!(last.code, 0, "{}", last.all());
    let runs = run_binary(&["runs", path], h.dir.path()).await;
    assert_eq!(runs.code, 0, "{}", runs.all());
    assert_eq!(
        runs.stdout.matches(" crashed ").count(),
        2,
        "each killed run shows as crashed: {}",
        runs.stdout
    );
    assert!(!runs.stdout.contains(" running "), "{}", runs.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_state_reset_waits_for_no_run_and_knows_the_streams() {
    let h = harness(1_000, "slow=300x100000@1").await;
    let flow = h.flow("users", "page_size = 100", "");
    let path = flow.to_str().expect("path");
    let running = spawn(&["run", path], h.dir.path(), false);
    wait_for_owner(&h.dest(), "users", "run").await;
    let refused = run_binary(&["state", "reset", path], h.dir.path()).await;
    assert_eq!(refused.code, 4, "{}", refused.all());
    assert!(
        refused.stderr.contains("already running") && refused.stderr.contains("not changed"),
        "{}",
        refused.stderr
    );
    let done = finish(running).await;
    assert_eq!(done.code, 0, "{}", done.all());
    let unknown = run_binary(
        &["state", "reset", path, "--stream", "tickets"],
        h.dir.path(),
    )
    .await;
    assert_eq!(unknown.code, 2, "{}", unknown.all());
    assert!(
        unknown.stderr.contains("tickets") && unknown.stderr.contains("users"),
        "{}",
        unknown.stderr
    );
    let reset = run_binary(&["state", "reset", path, "--stream", "users"], h.dir.path()).await;
    assert_eq!(reset.code, 0, "{}", reset.all());
    assert!(
        reset.stdout.contains("forgot 1 checkpoint"),
        "{}",
        reset.stdout
    );
}

/// Whether this machine can mount a tmpfs in a private mount namespace.
fn mount_namespaces() -> bool {
    std::process::Command::new("unshare")
        .args([
            "--mount",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k tmpfs /mnt",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_a_run_on_a_full_or_read_only_disk_is_not_left_running() {
    if !mount_namespaces() {
        eprintln!("note: cannot mount a tmpfs here (unshare --mount); skipped");
        return;
    }
    let h = harness(20_000, "").await;
    let state = h.dir.path().join("state/state.db");
    let flow = h.flow(
        "users",
        "",
        &format!("[state]\npath = \"{}\"", state.display()),
    );
    let out_dir = h.dest();
    std::fs::create_dir_all(&out_dir).expect("out");
    for (options, says) in [("size=200k", "No space left"), ("size=1m,ro", "Read-only")] {
        let script = format!(
            "mount -t tmpfs -o {options} tmpfs '{}' && exec '{}' run '{}'",
            out_dir.display(),
            env!("CARGO_BIN_EXE_sluice"),
            flow.display()
        );
        let out = tokio::process::Command::new("unshare")
            .args(["--mount", "sh", "-c", &script])
            .current_dir(h.dir.path())
            .env("ZENDESK_EMAIL", EMAIL)
            .env("ZENDESK_API_TOKEN", TOKEN)
            .output()
            .await
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{options}: {stderr}");
        assert!(stderr.contains(says), "{options}: {stderr}");
    }
    let runs = run_binary(
        &["runs", flow.to_str().expect("path"), "--json"],
        h.dir.path(),
    )
    .await;
    let rows: Vec<serde_json::Value> = runs
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(rows.len(), 2, "{}", runs.all());
    for r in &rows {
        assert_eq!(r["status"], "failed", "{r}");
        assert!(
            r["report"]["metrics"]["statusSummary"]["errors"]
                .as_array()
                .is_some_and(|e| !e.is_empty()),
            "the history says why: {r}"
        );
    }
}
