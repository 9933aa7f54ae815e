//! An object-store flow's state, kept in its lake too, so a machine with an empty work dir (a
//! fresh Kubernetes pod, another Airflow worker) continues where the last one stopped instead
//! of pulling everything again.
//!
//! The protocol keeps every record exactly once across machines:
//! 1. a commit's files are staged in the store first ([`Lake::stage`]);
//! 2. the state store commits them as pending promotions, with the new checkpoint;
//! 3. a snapshot of the state goes to the lake (`_sluice/state/<flow>.db`);
//! 4. the staged objects are copied to their targets within the store.
//!
//! A machine lost before 3 leaves the last snapshot, which names none of the commit's files
//! (its staged objects are never promoted, and the records are pulled again from the older
//! checkpoint); lost after 3, the snapshot names pending promotions whose staged objects are in
//! the store, and the next machine's recovery finishes them. Snapshots are taken and uploaded
//! one at a time in this process, so the lake's copy never goes back in time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use sluice_sinks::Lake;
use sluice_state::StateStore;

use crate::consume::ConsumeError;
use crate::flow::Flow;
use crate::run::RunError;

/// One snapshot and upload at a time: a later snapshot never lands before an earlier one.
static PUBLISHING: Mutex<()> = Mutex::new(());

fn meta_name(flow: &str) -> String {
    format!("state/{flow}.db")
}

/// Upload a snapshot of `store` to the lake (object stores only).
pub(crate) fn publish(store: &StateStore, lake: &Lake, flow: &str) -> Result<(), ConsumeError> {
    if !lake.is_remote() {
        return Ok(());
    }
    let _one_at_a_time = PUBLISHING.lock().unwrap_or_else(|p| p.into_inner());
    let snapshot = unique_beside(&store.path(), "snapshot");
    store.snapshot(&snapshot, crate::run::SHARED_VALUES)?;
    let uploaded = lake.put_meta(&snapshot, &meta_name(flow));
    let _ = std::fs::remove_file(&snapshot);
    uploaded?;
    Ok(())
}

/// A file name beside `path` no other process or call uses at once.
fn unique_beside(path: &Path, what: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_extension(format!("{what}-{}-{n}", std::process::id()))
}

/// Before any command reads or changes a flow's state on this machine: a fresh machine
/// takes the lake's copy first (an empty state there would look like a lost one).
pub fn ensure_state(flow: &Flow) -> Result<(), RunError> {
    if flow.destination.url.is_none() || flow.state_path.exists() {
        return Ok(());
    }
    let lake = flow
        .destination
        .lake()
        .map_err(|e| RunError::Config(format!("{}: destination: {e}", flow.file.display())))?;
    match restore(&lake, &flow.state_path, &flow.name) {
        Ok(true) => tracing::info!(
            state = %flow.state_path.display(),
            "restored the flow's state from the lake (this machine had none)"
        ),
        Ok(false) => {}
        Err(e) => {
            return Err(RunError::Io(format!(
                "cannot read the flow's state from {}: {e}",
                lake.describe()
            )))
        }
    }
    Ok(())
}

/// After a command changed a flow's state outside a run (`state reset`, `state
/// forget-missing`): the lake's copy follows, or a fresh machine would undo the change.
pub fn publish_flow_state(flow: &Flow) -> Result<(), RunError> {
    if flow.destination.url.is_none() {
        return Ok(());
    }
    let lake = flow
        .destination
        .lake()
        .map_err(|e| RunError::Config(format!("{}: destination: {e}", flow.file.display())))?;
    let store = StateStore::open(&flow.state_path)?;
    publish(&store, &lake, &flow.name).map_err(|e| RunError::Io(e.to_string()))
}

/// On a machine without the flow's state, fetch the lake's copy; `true` when one was restored.
pub(crate) fn restore(
    lake: &Lake,
    state_path: &Path,
    flow: &str,
) -> Result<bool, sluice_sinks::SinkError> {
    if !lake.is_remote() || state_path.exists() {
        return Ok(false);
    }
    lake.get_meta(&meta_name(flow), state_path)
}
