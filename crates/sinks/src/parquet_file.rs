use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::atomic::StagedFile;
use crate::dictionary::mostly_distinct_columns;
use crate::SinkError;

/// Row groups are bounded by rows and by bytes, so memory stays bounded by these, whatever the
/// size of the export.
#[derive(Debug, Clone, Copy)]
pub struct ParquetOptions {
    pub row_group_rows: usize,
    pub row_group_bytes: usize,
    pub zstd_level: i32,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            row_group_rows: 32 * 1024,
            row_group_bytes: 32 * 1024 * 1024,
            zstd_level: 1,
        }
    }
}

/// Output file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    /// Arrow IPC file format (Feather v2).
    Arrow,
    /// JSON lines: one JSON object per row.
    Jsonl,
}

impl Format {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "parquet" => Some(Format::Parquet),
            "arrow" | "ipc" | "feather" => Some(Format::Arrow),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// From an output file's extension.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        Self::parse(path.extension()?.to_str()?)
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Arrow => "arrow",
            Format::Jsonl => "jsonl",
        }
    }
}

enum Writer {
    /// A Parquet file before its first batch: which columns get a dictionary is decided from it.
    ParquetFirst {
        out: BufWriter<TimedFile>,
        schema: SchemaRef,
        options: ParquetOptions,
    },
    Parquet(ArrowWriter<BufWriter<TimedFile>>),
    /// A writer whose start failed: the file is abandoned.
    Broken,
    Arrow(arrow_ipc::writer::FileWriter<BufWriter<TimedFile>>),
    Jsonl(arrow_json::LineDelimitedWriter<BufWriter<TimedFile>>),
}

/// The output file, counting the time its writes take: what `sluice bench` reports as the
/// write stage, apart from encoding. One clock read per buffer flush (64 KiB), so always on.
struct TimedFile {
    file: File,
    io: Arc<AtomicU64>,
}

impl TimedFile {
    fn timed<T>(&mut self, f: impl FnOnce(&mut File) -> T) -> T {
        let t = Instant::now();
        let out = f(&mut self.file);
        self.io
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        out
    }
}

impl Write for TimedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.timed(|f| f.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.timed(|f| f.write_all(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.timed(|f| f.flush())
    }
}

const BROKEN: &str = "an earlier write to this file failed; it is abandoned";

/// Start the Parquet writer of a file waiting for its first batch.
fn start_parquet(
    writer: Writer,
    target: &std::path::Path,
    first: Option<&RecordBatch>,
) -> Result<Writer, SinkError> {
    match writer {
        Writer::ParquetFirst {
            out,
            schema,
            options,
        } => Ok(Writer::Parquet(PartFile::parquet_writer(
            out, schema, options, target, first,
        )?)),
        other => Ok(other),
    }
}

fn zstd_level(options: ParquetOptions, target: &std::path::Path) -> Result<ZstdLevel, SinkError> {
    ZstdLevel::try_new(options.zstd_level).map_err(|e| SinkError::Parquet {
        path: target.display().to_string(),
        message: e.to_string(),
    })
}

/// Each file's write buffer.
const WRITE_BUFFER: usize = 64 << 10;

/// One output file being written under its temporary name.
pub struct PartFile {
    writer: Writer,
    temp: PathBuf,
    target: PathBuf,
    rows: u64,
    io: Arc<AtomicU64>,
}

impl PartFile {
    pub fn create(
        temp: PathBuf,
        target: PathBuf,
        schema: SchemaRef,
        options: ParquetOptions,
    ) -> Result<Self, SinkError> {
        Self::create_as(Format::Parquet, temp, target, schema, options)
    }

    pub fn create_as(
        format: Format,
        temp: PathBuf,
        target: PathBuf,
        schema: SchemaRef,
        options: ParquetOptions,
    ) -> Result<Self, SinkError> {
        if let Some(parent) = temp.parent() {
            fs::create_dir_all(parent).map_err(|e| SinkError::io(parent, e))?;
        }
        let file = File::create(&temp).map_err(|e| SinkError::io(&temp, e))?;
        let io = Arc::new(AtomicU64::new(0));
        let out = BufWriter::with_capacity(
            WRITE_BUFFER,
            TimedFile {
                file,
                io: io.clone(),
            },
        );
        let encode_err = |e: &dyn std::fmt::Display| SinkError::Parquet {
            path: target.display().to_string(),
            message: e.to_string(),
        };
        let writer = match format {
            Format::Arrow => Writer::Arrow(
                arrow_ipc::writer::FileWriter::try_new(out, &schema).map_err(|e| encode_err(&e))?,
            ),
            Format::Jsonl => Writer::Jsonl(arrow_json::LineDelimitedWriter::new(out)),
            Format::Parquet => {
                // fail on bad options now, not at the first batch
                zstd_level(options, &target)?;
                Writer::ParquetFirst {
                    out,
                    schema,
                    options,
                }
            }
        };
        Ok(Self {
            writer,
            temp,
            target,
            rows: 0,
            io,
        })
    }

    /// The Parquet writer, with plain encoding for the columns `first` shows to be mostly
    /// distinct.
    fn parquet_writer(
        out: BufWriter<TimedFile>,
        schema: SchemaRef,
        options: ParquetOptions,
        target: &std::path::Path,
        first: Option<&RecordBatch>,
    ) -> Result<ArrowWriter<BufWriter<TimedFile>>, SinkError> {
        let level = zstd_level(options, target)?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(options.row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(options.row_group_bytes.max(1)))
            // min/max per column chunk is what readers prune on; per-page statistics cost
            // encoding time for little gain at these row-group sizes
            .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Chunk)
            .set_created_by(concat!("sluice ", env!("CARGO_PKG_VERSION")).to_string());
        for column in first.map(mostly_distinct_columns).unwrap_or_default() {
            props = props.set_column_dictionary_enabled(column, false);
        }
        let props = props.build();
        ArrowWriter::try_new(out, schema, Some(props)).map_err(|e| SinkError::Parquet {
            path: target.display().to_string(),
            message: e.to_string(),
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        let err = |m: String| SinkError::Parquet {
            path: self.target.display().to_string(),
            message: m,
        };
        if let Writer::ParquetFirst { .. } = self.writer {
            self.writer = start_parquet(
                std::mem::replace(&mut self.writer, Writer::Broken),
                &self.target,
                Some(batch),
            )?;
        }
        match &mut self.writer {
            Writer::ParquetFirst { .. } | Writer::Broken => return Err(err(BROKEN.into())),
            Writer::Parquet(w) => w.write(batch).map_err(|e| err(e.to_string()))?,
            Writer::Arrow(w) => w.write(batch).map_err(|e| err(e.to_string()))?,
            Writer::Jsonl(w) => w.write(batch).map_err(|e| err(e.to_string()))?,
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The counter of time spent in the file's writes (its durable sync included, once
    /// finished): read it after [`PartFile::finish`] to tell writing from encoding.
    pub fn io_timer(&self) -> IoTimer {
        IoTimer(self.io.clone())
    }

    /// Roughly how much memory the file holds until it is finished: the row group in progress
    /// as buffered (encoded pages and values still unencoded, such as dictionary keys: more
    /// than its encoded size) and the write buffer.
    pub fn memory_bytes(&self) -> usize {
        let in_progress = match &self.writer {
            Writer::Parquet(w) => w.memory_size(),
            _ => 0,
        };
        in_progress + WRITE_BUFFER
    }

    /// Finish the footer and make the bytes durable; the file is still under its temporary name.
    pub fn finish(self) -> Result<StagedFile, SinkError> {
        let target = self.target.display().to_string();
        let err = |m: String| SinkError::Parquet {
            path: target.clone(),
            message: m,
        };
        let buffered = match start_parquet(self.writer, &self.target, None)? {
            Writer::ParquetFirst { .. } | Writer::Broken => return Err(err(BROKEN.into())),
            Writer::Parquet(w) => w.into_inner().map_err(|e| err(e.to_string()))?,
            Writer::Arrow(mut w) => {
                w.finish().map_err(|e| err(e.to_string()))?;
                w.into_inner().map_err(|e| err(e.to_string()))?
            }
            Writer::Jsonl(mut w) => {
                w.finish().map_err(|e| err(e.to_string()))?;
                w.into_inner()
            }
        };
        let mut file = buffered.into_inner().map_err(|e| SinkError::Io {
            path: target.clone(),
            message: e.to_string(),
        })?;
        file.timed(|f| f.sync_all())
            .map_err(|e| SinkError::io(&self.temp, e))?;
        let file = file.file;
        let bytes = file
            .metadata()
            .map_err(|e| SinkError::io(&self.temp, e))?
            .len();
        Ok(StagedFile {
            temp: self.temp,
            target: self.target,
            rows: self.rows,
            bytes,
        })
    }
}

/// Time a [`PartFile`] spent writing (not encoding).
#[derive(Debug, Clone)]
pub struct IoTimer(Arc<AtomicU64>);

impl IoTimer {
    pub fn spent(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    #[test]
    fn writes_a_readable_file_only_at_its_temp_name_until_promoted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let temp = dir.path().join("tmp/x.parquet.tmp");
        let target = dir.path().join("s/date=2024-01-01/part-1.parquet");
        let options = ParquetOptions {
            row_group_rows: 2,
            ..ParquetOptions::default()
        };
        let mut f = PartFile::create(temp.clone(), target.clone(), schema.clone(), options)
            .expect("create");
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("ç")])),
            ],
        )
        .expect("batch");
        f.write(&batch).expect("write");
        let staged = f.finish().expect("finish");
        assert_eq!(staged.rows, 3);
        assert!(!target.exists());
        crate::promote(&staged.temp, &staged.target).expect("promote");
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&target).expect("open"))
            .expect("reader");
        assert_eq!(
            reader.metadata().num_row_groups(),
            2,
            "row groups bounded by rows"
        );
        let rows: usize = reader
            .build()
            .expect("build")
            .map(|b| b.expect("batch").num_rows())
            .sum();
        assert_eq!(rows, 3);
    }

    #[test]
    fn distinct_columns_are_written_plain_and_repeating_ones_with_a_dictionary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let schema = Arc::new(Schema::new(vec![
            Field::new("email", DataType::Utf8, true),
            Field::new("role", DataType::Utf8, true),
        ]));
        let target = dir.path().join("d.parquet");
        let mut f = PartFile::create(
            dir.path().join("d.tmp"),
            target.clone(),
            schema.clone(),
            ParquetOptions::default(),
        )
        .expect("create");
        let n = 500;
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("u{i}@example.com")),
                )),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| ["agent", "admin"][i % 2]),
                )),
            ],
        )
        .expect("batch");
        f.write(&batch).expect("write");
        let staged = f.finish().expect("finish");
        crate::promote(&staged.temp, &staged.target).expect("promote");
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&target).expect("open"))
            .expect("reader");
        let group = reader.metadata().row_group(0);
        let dictionary = |i: usize| group.column(i).dictionary_page_offset().is_some();
        assert!(!dictionary(0), "unique emails are written plain");
        assert!(dictionary(1), "two roles get a dictionary");
        let read: usize = reader
            .build()
            .expect("build")
            .map(|b| b.expect("batch").num_rows())
            .sum();
        assert_eq!(read, n);
    }

    #[test]
    fn a_file_without_batches_is_still_a_valid_parquet_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let target = dir.path().join("e.parquet");
        let f = PartFile::create(
            dir.path().join("e.tmp"),
            target.clone(),
            schema,
            ParquetOptions::default(),
        )
        .expect("create");
        let staged = f.finish().expect("finish");
        crate::promote(&staged.temp, &staged.target).expect("promote");
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&target).expect("open"))
            .expect("reader");
        assert_eq!(reader.schema().field(0).name(), "id");
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
    }
}
