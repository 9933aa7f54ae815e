use std::fs;
use std::path::{Path, PathBuf};

use crate::SinkError;

/// A complete file waiting under its temporary name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    pub temp: PathBuf,
    pub target: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

/// Move a staged file to its final name. Idempotent, so recovery after a crash can call it again:
/// if the temporary file is gone and the target exists, the move already happened.
pub fn promote(temp: &Path, target: &Path) -> Result<(), SinkError> {
    if !temp.exists() {
        return if target.exists() {
            Ok(())
        } else {
            Err(SinkError::io(temp, "the staged file is missing"))
        };
    }
    let parent = target
        .parent()
        .ok_or_else(|| SinkError::io(target, "has no parent directory"))?;
    fs::create_dir_all(parent).map_err(|e| SinkError::io(parent, e))?;
    fs::rename(temp, target).map_err(|e| SinkError::io(target, e))?;
    // make the rename itself durable
    if let Ok(dir) = fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promote_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let temp = dir.path().join("t.tmp");
        let target = dir.path().join("a/b/part.parquet");
        fs::write(&temp, b"x").expect("write");
        promote(&temp, &target).expect("first promote");
        promote(&temp, &target).expect("second promote is a no-op");
        assert_eq!(fs::read(&target).expect("read"), b"x");
        assert!(promote(&dir.path().join("none"), &dir.path().join("none2")).is_err());
    }
}
