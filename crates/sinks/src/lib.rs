//! Writers for mapped batches. A file is written under a temporary name and only promoted
//! (renamed into its partition) once complete, so no reader ever sees half a file; the runner
//! decides *when* to promote, after recording the promotion in the state store.

mod atomic;
mod delta;
mod dictionary;
mod lake;
mod parquet_file;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use atomic::{promote, StagedFile};
pub use delta::{DataFile, DeltaChange, DeltaTables};
pub use lake::{is_object_store_url, Lake};
pub use parquet_file::{Format, IoTimer, ParquetOptions, PartFile};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write {path}: {message}")]
    Io { path: String, message: String },
    #[error("cannot encode Parquet for {path}: {message}")]
    Parquet { path: String, message: String },
    #[error("Delta table {table}: {message}")]
    Delta { table: String, message: String },
    #[error("object store {url}: {message}")]
    Store { url: String, message: String },
}

impl SinkError {
    pub(crate) fn io(path: &Path, e: impl std::fmt::Display) -> Self {
        SinkError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// `<root>/<stream>/date=YYYY-MM-DD`: Hive-style, so DuckDB, Spark, Trino, Polars and pyarrow
/// read the partition column with no options.
pub fn partition_dir(root: &Path, stream: &str, date: NaiveDate) -> PathBuf {
    root.join(stream)
        .join(format!("date={}", date.format("%Y-%m-%d")))
}
