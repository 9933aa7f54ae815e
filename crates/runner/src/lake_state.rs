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
use sluice_state::{StateLocation, StateStore};

use crate::consume::ConsumeError;
use crate::flow::Flow;
use crate::run::RunError;

/// One snapshot and upload at a time: a later snapshot never lands before an earlier one.
static PUBLISHING: Mutex<()> = Mutex::new(());

fn meta_name(flow: &str) -> String {
    format!("state/{flow}.db")
}

/// The pseudo-flow and key of a store's generation: counted up at each upload to the lake, so
/// a machine can tell whether its own state is older than the lake's copy (another machine
/// ran the flow since).
const LAKE_VALUES: &str = ":lake";
const GENERATION: &str = "generation";

fn generation(store: &StateStore) -> Result<u64, sluice_state::StateError> {
    Ok(store
        .checkpoint(LAKE_VALUES, GENERATION)?
        .and_then(|v| v.as_u64())
        .unwrap_or(0))
}

/// Remove a database file and its WAL companions.
fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Upload a snapshot of `store` to the lake (object stores only).
pub(crate) fn publish(store: &StateStore, lake: &Lake, flow: &str) -> Result<(), ConsumeError> {
    if !lake.is_remote() {
        return Ok(());
    }
    // a shared store (PostgreSQL) outlives every machine already: no copy travels
    let Some(path) = store.path() else {
        return Ok(());
    };
    let _one_at_a_time = PUBLISHING.lock().unwrap_or_else(|p| p.into_inner());
    store.put_value(LAKE_VALUES, GENERATION, &(generation(store)? + 1).into())?;
    let snapshot = unique_beside(path, "snapshot");
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
/// takes the lake's copy first (an empty state there would look like a lost one), and a
/// machine whose state is older than the lake's (another ran the flow since) replaces it.
pub fn ensure_state(flow: &Flow) -> Result<(), RunError> {
    if flow.destination.url.is_none() {
        return Ok(());
    }
    let lake = flow
        .destination
        .lake()
        .map_err(|e| RunError::Config(format!("{}: destination: {e}", flow.file.display())))?;
    sync_from_lake(&lake, &flow.state, &flow.name)
}

/// Take the lake's copy of the state when this machine has none, or an older one.
pub(crate) fn sync_from_lake(
    lake: &Lake,
    state: &StateLocation,
    flow: &str,
) -> Result<(), RunError> {
    let Some(state_path) = state.local_path() else {
        return Ok(());
    };
    if !lake.is_remote() {
        return Ok(());
    }
    let unreadable = |e: &dyn std::fmt::Display| {
        RunError::Io(format!(
            "cannot read the flow's state from {}: {e}",
            lake.describe()
        ))
    };
    let fetched = unique_beside(state_path, "fetched");
    if !lake
        .get_meta(&meta_name(flow), &fetched)
        .map_err(|e| unreadable(&e))?
    {
        return Ok(());
    }
    if !state_path.exists() {
        std::fs::rename(&fetched, state_path).map_err(|e| unreadable(&e))?;
        tracing::info!(
            state = %state_path.display(),
            "restored the flow's state from the lake (this machine had none)"
        );
        return Ok(());
    }
    let (theirs, ours) = {
        let theirs = generation(&StateStore::open(&fetched)?)?;
        let ours = generation(&StateStore::open(state_path)?)?;
        (theirs, ours)
    };
    if theirs > ours {
        remove_db(state_path);
        std::fs::rename(&fetched, state_path).map_err(|e| unreadable(&e))?;
        remove_db(&fetched);
        tracing::warn!(
            state = %state_path.display(),
            this_machine = ours,
            lake = theirs,
            "this machine's state is older than the lake's copy (the flow ran elsewhere since): \
             it is replaced by that copy"
        );
    } else {
        remove_db(&fetched);
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
    let store = flow.state.open()?;
    publish(&store, &lake, &flow.name).map_err(|e| RunError::Io(e.to_string()))
}
