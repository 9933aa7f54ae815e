//! The state and the lake must agree, or a run says so before it writes anything.
//!
//! Two ways they drift apart, both seen in operators' trials:
//! - the state store was deleted or emptied while the lake kept its files: pulling "from the
//!   start" would write every record a second time;
//! - a committed file was deleted by hand: its records are gone, and no later run would notice.
//!
//! The manifest of committed files (with the days each file was pulled for) is what the lake is
//! compared with.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sluice_core::StreamSpec;
use sluice_sinks::Lake;
use sluice_state::{ManifestFile, StateStore};

use crate::flow::Flow;
use crate::run::RunError;

/// Whether `path` is a data file sluice wrote (not a temporary, not a stray file of the user).
fn is_part_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("part-") && !n.ends_with(".tmp"))
}

/// Compare the state with the lake for `streams`: the committed files the lake lost. A store
/// that knows nothing of the flow beside a lake holding its files is an error.
pub(crate) fn lost_files(
    flow: &Flow,
    store: &StateStore,
    lake: &Lake,
    streams: &[StreamSpec],
) -> Result<Vec<ManifestFile>, RunError> {
    let dest = &flow.destination.path;
    let listing_error = |e: sluice_sinks::SinkError| {
        RunError::Io(format!(
            "cannot list {} to compare it with the state: {e}",
            lake.describe()
        ))
    };
    let mut present: HashSet<PathBuf> = HashSet::new();
    for s in streams {
        present.extend(
            lake.list_files(&dest.join(&s.name))
                .map_err(listing_error)?
                .into_iter()
                .filter(|p| is_part_file(p)),
        );
    }
    if !store.knows(&flow.name)? {
        if let Some(example) = present.iter().min() {
            return Err(RunError::Disagrees(format!(
                "{lake} already holds {n} file{s} of flow `{flow}` (such as {example}), but its \
                 state store {state} knows none of them: it was deleted or emptied. Pulling \
                 again would write every record a second time. Restore {state} from a backup, \
                 or move the flow's files out of {lake} to pull everything afresh",
                lake = lake.describe(),
                n = present.len(),
                s = if present.len() == 1 { "" } else { "s" },
                flow = flow.name,
                example = relative(dest, example),
                state = flow.state.display(),
            )));
        }
        return Ok(Vec::new());
    }
    let names: HashSet<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    let manifest = store.manifest(&flow.name)?;
    // files the lake holds that the state never committed (or retired and is deleting): a state
    // older than the lake (restored from a backup) would pull their records a second time
    let known: HashSet<&Path> = manifest.iter().map(|f| f.path.as_path()).collect();
    let retiring = store.doomed_files(&flow.name)?;
    let mut unknown: Vec<&PathBuf> = Vec::new();
    for p in present
        .iter()
        .filter(|p| !known.contains(p.as_path()) && !retiring.contains(p))
    {
        // another shard may have retired it (and left the manifest) since the listing
        if lake.exists(p).map_err(listing_error)? {
            unknown.push(p);
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        let listed: Vec<String> = unknown
            .iter()
            .take(5)
            .map(|p| format!("  {}", relative(dest, p)))
            .collect();
        return Err(RunError::Disagrees(format!(
            "{lake} holds {n} file{s} of flow `{flow}` that its state store {state} did not \
             commit:\n{files}{more}\nThe state is older than the lake (restored from a backup?), \
             or another flow writes to the same place; pulling again would write their records \
             a second time. Restore the state that wrote them, or move those files out of the \
             lake (their records are pulled again)",
            lake = lake.describe(),
            n = unknown.len(),
            s = if unknown.len() == 1 { "" } else { "s" },
            flow = flow.name,
            state = flow.state.display(),
            files = listed.join("\n"),
            more = if unknown.len() > 5 {
                format!("\n  … and {} more", unknown.len() - 5)
            } else {
                String::new()
            },
        )));
    }
    let candidates: Vec<ManifestFile> = manifest
        .into_iter()
        .filter(|f| names.contains(f.stream.as_str()) && !present.contains(&f.path))
        // with shards, each checks its own tasks' files: another's are its to restore
        .filter(|f| flow.shard.is_none_or(|s| s.owns(&f.task)))
        .collect();
    if candidates.is_empty() {
        return Ok(candidates);
    }
    // a second look, for runs of other shards that commit beside this one: a file committed
    // but not yet promoted is no loss, nor one promoted or retired since the listing
    let promoting: HashSet<PathBuf> = store
        .pending_files(&flow.name)?
        .into_iter()
        .map(|p| p.target)
        .collect();
    let still: HashSet<PathBuf> = store
        .manifest(&flow.name)?
        .into_iter()
        .map(|f| f.path)
        .collect();
    let mut lost = Vec::new();
    for f in candidates {
        if promoting.contains(&f.path) || !still.contains(&f.path) {
            continue;
        }
        if !lake.exists(&f.path).map_err(listing_error)? {
            lost.push(f);
        }
    }
    Ok(lost)
}

fn relative(dest: &Path, p: &Path) -> String {
    p.strip_prefix(dest).unwrap_or(p).display().to_string()
}

/// The error for files the lake lost, with the commands that pull them again.
pub(crate) fn lost_error(
    flow: &Flow,
    lost: &[ManifestFile],
    last_complete: chrono::NaiveDate,
) -> RunError {
    let dest = &flow.destination.path;
    let mut listed: Vec<String> = lost
        .iter()
        .take(5)
        .map(|f| format!("  {}", relative(dest, &f.path)))
        .collect();
    if lost.len() > 5 {
        listed.push(format!("  … and {} more", lost.len() - 5));
    }
    let mut commands: Vec<String> = Vec::new();
    let mut unfinished = false;
    for f in lost {
        let Some((from, to)) = f.days else { continue };
        if from > last_complete {
            unfinished = true;
            continue;
        }
        if to > last_complete {
            unfinished = true;
        }
        let to = to.min(last_complete);
        let command = format!(
            "  sluice backfill {} --streams {} --from {from} --to {to} --window {}d --force",
            flow.file.display(),
            f.stream,
            (to - from).num_days() + 1
        );
        if !commands.contains(&command) {
            commands.push(command);
        }
    }
    if unfinished {
        commands.push(format!(
            "  (records of days after {last_complete}, not over yet, can be pulled again once \
             they are)"
        ));
    }
    let restore = if commands.is_empty() {
        String::new()
    } else {
        format!(
            "Pull their days again (this replaces what is left of them):\n{}\n",
            commands.join("\n")
        )
    };
    RunError::Disagrees(format!(
        "{lake} lost {n} file{s} that flow `{name}` committed (deleted by hand, or by a lifecycle \
         rule?):\n{files}\n{restore}Or accept the loss: `sluice state forget-missing {file}`",
        lake = flow.destination.describe(),
        n = lost.len(),
        s = if lost.len() == 1 { "" } else { "s" },
        name = flow.name,
        files = listed.join("\n"),
        file = flow.file.display(),
    ))
}

/// Whether a pull of `window` brings all of a lost file's records again (of the days that are
/// over: later ones cannot be pulled yet).
/// The days of a lost file that can be pulled again: those that are over.
pub(crate) fn restores(
    f: &ManifestFile,
    stream: &str,
    slice: &str,
    window: sluice_core::DayWindow,
    last_complete: chrono::NaiveDate,
) -> bool {
    f.stream == stream
        && f.slice == slice
        && f.days.is_some_and(|(a, b)| {
            let b = b.min(last_complete).max(a);
            window.from <= a && b <= window.to
        })
}

/// `sluice state forget-missing`: accept that the lake lost files; the manifest forgets them.
/// Holds both locks, so no run commits meanwhile. Returns the files forgotten.
pub fn forget_missing(
    flow: &Flow,
    registry: &sluice_core::Registry,
) -> Result<Vec<PathBuf>, RunError> {
    use sluice_state::LockOwner;
    let streams = registry.streams(&flow.connector)?;
    let streams: Vec<StreamSpec> = match &flow.streams {
        Some(names) => streams
            .into_iter()
            .filter(|s| names.contains(&s.name))
            .collect(),
        None => streams,
    };
    let locks = flow.state.locks();
    let now = chrono::Utc::now().to_rfc3339();
    let _held = ["run", "backfill"]
        .into_iter()
        .map(|mode| {
            locks.acquire(
                &flow.name,
                mode,
                &LockOwner::current(&format!("forget-missing-{mode}"), &now),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let store = flow.state.open()?;
    let lake = flow
        .destination
        .lake()
        .map_err(|e| RunError::Config(format!("{}: destination: {e}", flow.file.display())))?;
    let lost: Vec<PathBuf> = lost_files(flow, &store, &lake, &streams)?
        .into_iter()
        .map(|f| f.path)
        .collect();
    if flow.destination.delta && !lost.is_empty() {
        // the tables stop naming them first: a reader would fail on every one
        let tables = sluice_sinks::DeltaTables::new(
            std::sync::Arc::new(lake),
            flow.destination.path.clone(),
        );
        tables
            .commit(&sluice_sinks::DeltaChange {
                adds: &[],
                removes: &lost,
                schema: None,
                app_id: None,
                info: serde_json::json!({"flow": flow.name, "forgetMissing": true}),
            })
            .map_err(|e| RunError::Io(e.to_string()))?;
    }
    store.forget_files(&flow.name, &lost)?;
    Ok(lost)
}
