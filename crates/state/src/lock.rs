//! Who may run a flow: one run per (flow, mode) at a time, and a way to tell whether a run is
//! still alive.
//!
//! A lock must die with its process. A `running` row checked against `/proc/<pid>` does not: in a
//! container the restarted process usually gets the same pid (often 1), so one OOM kill would
//! block every later run. [`FileLocks`] holds advisory locks (`flock`) on files beside the state
//! database, which the kernel releases however the process ends; what a lock file contains (the
//! owner) is only for messages. A shared state store needs leases with an expiry instead, which
//! is why callers see the [`Locks`] trait and not the files.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StateError;

/// Who holds a lock, as messages name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOwner {
    pub run_id: String,
    pub pid: u32,
    #[serde(default)]
    pub host: String,
    pub started_at: String,
}

impl LockOwner {
    /// This process, starting `run_id` now.
    pub fn current(run_id: &str, started_at: &str) -> Self {
        Self {
            run_id: run_id.to_string(),
            pid: std::process::id(),
            host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default(),
            started_at: started_at.to_string(),
        }
    }
}

/// How a lock's holder is named in the message of a refused run.
pub(crate) fn describe_holder(h: &LockOwner) -> String {
    let host = if h.host.is_empty() {
        String::new()
    } else {
        format!(" on {}", h.host)
    };
    format!(
        "run {} (process {}{host}, started {})",
        h.run_id, h.pid, h.started_at
    )
}

/// What a lock holds while it is held.
pub trait Held: Send + Sync {
    /// Whether the lock is still this process's: a lease on a server can be lost with its
    /// connection, a file lock cannot.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A held lock; dropping it releases the lock.
pub struct LockGuard {
    held: Box<dyn Held>,
}

impl LockGuard {
    pub fn new(held: impl Held + 'static) -> Self {
        Self {
            held: Box::new(held),
        }
    }

    /// Before a commit: the lock is still held, or the run must stop (another process may
    /// have taken over its tasks and swept its staged files).
    pub fn check(&self, flow: &str) -> Result<(), StateError> {
        self.held.check().map_err(|message| StateError::LeaseLost {
            flow: flow.to_string(),
            message,
        })
    }
}

/// The lock mode of shard `index` of `count` of a run in `mode`.
pub fn shard_mode(mode: &str, index: u32, count: u32) -> String {
    format!("{mode} shard {index}/{count}")
}

/// A lock mode's base and its shard, as [`shard_mode`] spells them.
pub(crate) fn split_shard_mode(mode: &str) -> (&str, Option<(u32, u32)>) {
    let Some((base, shard)) = mode.split_once(" shard ") else {
        return (mode, None);
    };
    let parsed = shard
        .split_once('/')
        .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)));
    match parsed {
        Some(p) => (base, Some(p)),
        None => (mode, None),
    }
}

/// Exclusive locks per (flow, mode), and liveness of runs.
pub trait Locks: Send + Sync {
    /// Take the lock of `flow` in `mode` (`run`, `backfill`, …) for `owner`, or fail with
    /// [`StateError::Locked`] naming the holder. The run's own liveness marker is held with it.
    fn acquire(&self, flow: &str, mode: &str, owner: &LockOwner) -> Result<LockGuard, StateError>;

    /// Whether run `run_id` of `flow` still holds its lock (its process is alive).
    fn is_alive(&self, flow: &str, run_id: &str) -> Result<bool, StateError>;
}

/// Advisory file locks in a directory beside the state database:
/// `<dir>/<flow>.<mode>.lock` per mode and `<dir>/<flow>.runs/<run_id>.lock` per live run.
#[derive(Debug, Clone)]
pub struct FileLocks {
    dir: PathBuf,
}

impl FileLocks {
    /// The locks of the state database at `state_path`.
    pub fn beside(state_path: &Path) -> Self {
        let dir = state_path
            .parent()
            .map_or_else(|| PathBuf::from("locks"), |p| p.join("locks"));
        Self { dir }
    }

    fn mode_file(&self, flow: &str, mode: &str) -> PathBuf {
        self.dir.join(format!("{flow}.{mode}.lock"))
    }

    fn run_file(&self, flow: &str, run_id: &str) -> PathBuf {
        self.dir
            .join(format!("{flow}.runs"))
            .join(format!("{run_id}.lock"))
    }

    fn io(&self, path: &Path, e: std::io::Error) -> StateError {
        StateError::Lock {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }

    fn open(&self, path: &Path) -> Result<File, StateError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| self.io(parent, e))?;
        }
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| self.io(path, e))
    }
}

/// A lock file held by this process; the run's liveness file is removed when it is released.
struct HeldFiles {
    _mode: File,
    run: File,
    run_path: PathBuf,
}

impl Held for HeldFiles {}

impl Drop for HeldFiles {
    fn drop(&mut self) {
        // remove before unlocking, so a prober never deletes a file another run just locked
        let _ = std::fs::remove_file(&self.run_path);
        let _ = self.run.unlock();
    }
}

fn write_owner(file: &mut File, owner: &LockOwner) -> std::io::Result<()> {
    let text = serde_json::to_vec(owner).map_err(std::io::Error::other)?;
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&text)?;
    file.flush()
}

impl FileLocks {
    /// Liveness markers of killed runs are left behind; drop those no process holds.
    fn prune_dead_runs(&self, flow: &str) {
        let Ok(entries) = std::fs::read_dir(self.dir.join(format!("{flow}.runs"))) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(run) = name.strip_suffix(".lock") {
                let _ = self.is_alive(flow, run);
            }
        }
    }
}

impl Locks for FileLocks {
    fn acquire(&self, flow: &str, mode: &str, owner: &LockOwner) -> Result<LockGuard, StateError> {
        let path = self.mode_file(flow, mode);
        let mut file = self.open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let holder = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| serde_json::from_str::<LockOwner>(&text).ok());
                return Err(StateError::Locked {
                    flow: flow.to_string(),
                    mode: mode.to_string(),
                    holder: holder
                        .map_or_else(|| "another process".to_string(), |h| describe_holder(&h)),
                });
            }
            Err(TryLockError::Error(e)) => return Err(self.io(&path, e)),
        }
        write_owner(&mut file, owner).map_err(|e| self.io(&path, e))?;
        self.prune_dead_runs(flow);
        let run_path = self.run_file(flow, &owner.run_id);
        let mut run = self.open(&run_path)?;
        run.try_lock().map_err(|e| {
            self.io(
                &run_path,
                match e {
                    TryLockError::WouldBlock => std::io::Error::other("already held"),
                    TryLockError::Error(e) => e,
                },
            )
        })?;
        write_owner(&mut run, owner).map_err(|e| self.io(&run_path, e))?;
        Ok(LockGuard::new(HeldFiles {
            _mode: file,
            run,
            run_path,
        }))
    }

    fn is_alive(&self, flow: &str, run_id: &str) -> Result<bool, StateError> {
        let path = self.run_file(flow, run_id);
        let file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(self.io(&path, e)),
        };
        match file.try_lock() {
            Ok(()) => {
                // its process is gone: the marker is litter
                let _ = std::fs::remove_file(&path);
                Ok(false)
            }
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(e)) => Err(self.io(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(run: &str) -> LockOwner {
        LockOwner::current(run, "2026-01-01T00:00:00Z")
    }

    #[test]
    fn one_holder_per_flow_and_mode_until_it_is_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let locks = FileLocks::beside(&dir.path().join("state.db"));
        let held = locks.acquire("f", "run", &owner("r1")).expect("free");
        let err = locks
            .acquire("f", "run", &owner("r2"))
            .err()
            .expect("second holder refused");
        let text = err.to_string();
        assert!(
            text.contains("run r1") && text.contains(&std::process::id().to_string()),
            "{text}"
        );
        assert!(locks.is_alive("f", "r1").expect("probe"));
        let _backfill = locks
            .acquire("f", "backfill", &owner("b1"))
            .expect("another mode is another lock");
        let _other = locks
            .acquire("g", "run", &owner("g1"))
            .expect("another flow");
        drop(held);
        assert!(!locks.is_alive("f", "r1").expect("probe"));
        locks
            .acquire("f", "run", &owner("r3"))
            .expect("free once released");
    }

    #[test]
    fn a_lock_file_left_by_a_dead_process_does_not_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        let locks = FileLocks::beside(&dir.path().join("state.db"));
        // what a killed run leaves: its files with its owner, and no lock on them
        for path in [locks.mode_file("f", "run"), locks.run_file("f", "dead")] {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
            std::fs::write(&path, br#"{"run_id":"dead","pid":1,"started_at":"x"}"#)
                .expect("litter");
        }
        locks
            .acquire("f", "run", &owner("r1"))
            .expect("a dead holder does not block, even with pid 1 alive");
        assert!(
            !locks.run_file("f", "dead").exists(),
            "a dead run's marker is pruned"
        );
        assert!(!locks.is_alive("f", "dead").expect("probe"));
    }
}
