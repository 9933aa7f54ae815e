//! `sluice map`: a file (or stdin, gzip or not) of JSON lines through a compiled mapping into
//! Parquet, Arrow IPC or JSON lines.
//!
//! Three stages on their own threads, so both cores work and memory stays bounded by chunk
//! and row-group sizes, never by the input: a reader cuts the input into newline-aligned
//! chunks, `workers` threads map chunks into record batches, and the writer writes them in input
//! order (the output is the same whatever the thread timing).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_mapping::{CompiledMapping, MapOutput};
use sluice_sinks::{Format, ParquetOptions, PartFile};

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

pub enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "standard input".into(),
        }
    }

    /// The first `n` bytes (decompressed), and a reader that still yields the whole input.
    pub fn open_with_head(&self, n: usize) -> Result<(Vec<u8>, Box<dyn Read + Send>), MapError> {
        let mut reader = self.open()?;
        let mut head = Vec::with_capacity(n);
        (&mut reader)
            .take(n as u64)
            .read_to_end(&mut head)
            .map_err(|e| MapError::Read {
                path: self.name(),
                message: e.to_string(),
            })?;
        let replay = std::io::Cursor::new(head.clone());
        Ok((head, Box::new(replay.chain(reader))))
    }

    /// The input, decompressed when it starts with gzip's magic bytes.
    pub fn open(&self) -> Result<Box<dyn Read + Send>, MapError> {
        let err = |e: std::io::Error| MapError::Read {
            path: self.name(),
            message: e.to_string(),
        };
        let raw: Box<dyn Read + Send> = match self {
            Input::File(p) => Box::new(File::open(p).map_err(err)?),
            Input::Stdin => Box::new(std::io::stdin()),
        };
        let mut buffered = BufReader::with_capacity(1 << 20, raw);
        let gz = buffered.fill_buf().map_err(err)?.starts_with(&[0x1f, 0x8b]);
        Ok(if gz {
            Box::new(flate2::read::MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        })
    }
}

pub struct MapJob {
    pub mapping: Arc<CompiledMapping>,
    pub input: Box<dyn Read + Send>,
    /// Names the input in messages.
    pub input_name: String,
    pub output: PathBuf,
    pub format: Format,
    pub rejects: Option<PathBuf>,
    pub workers: usize,
    pub chunk_bytes: usize,
    pub parquet: ParquetOptions,
    /// Split the mapping time into decoding and evaluating (a few percent slower: `bench`).
    pub timed: bool,
}

/// What a map did, and where the time went.
#[derive(Debug, Default, Clone)]
pub struct MapStats {
    pub records_in: u64,
    pub records_out: u64,
    pub rejected: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub wall: Duration,
    /// Reading and cutting the input (the reader thread).
    pub read: Duration,
    /// Decoding and evaluating, summed over the workers.
    pub map: Duration,
    /// Of `map`, when timed: evaluating (expressions, and values into Arrow columns); the rest
    /// is decoding the JSON.
    pub evaluate: Duration,
    /// Encoding and writing the output (the writer, on its own thread of control).
    pub write: Duration,
    /// Of `write`: the file's writes and its sync; the rest is encoding.
    pub io: Duration,
}

impl MapStats {
    pub fn decode(&self) -> Duration {
        self.map.saturating_sub(self.evaluate)
    }

    pub fn encode(&self) -> Duration {
        self.write.saturating_sub(self.io)
    }
}

type Chunk = (u64, Vec<u8>);

/// A mapped chunk: its sequence number, bytes, lines, output and mapping time.
type Mapped = (u64, usize, usize, MapOutput, Duration, Duration);

/// Cut `reader` into chunks of about `size` bytes that end at a newline.
fn read_chunks(
    mut reader: Box<dyn Read + Send>,
    size: usize,
    out: std::sync::mpsc::SyncSender<Chunk>,
    name: String,
) -> Result<Duration, MapError> {
    let started = Instant::now();
    let mut waited = Duration::ZERO;
    let mut carry: Vec<u8> = Vec::new();
    let mut seq = 0;
    loop {
        let mut buf = std::mem::take(&mut carry);
        buf.reserve_exact(size);
        // into the buffer's spare capacity, which is never zeroed first
        let read = (&mut reader)
            .take(size as u64)
            .read_to_end(&mut buf)
            .map_err(|e| MapError::Read {
                path: name.clone(),
                message: e.to_string(),
            })?;
        let eof = read < size;
        if !eof {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => carry = buf.split_off(i + 1),
                // a single line longer than a chunk: keep reading it
                None => {
                    carry = buf;
                    continue;
                }
            }
        }
        if !buf.is_empty() {
            let t = Instant::now();
            if out.send((seq, buf)).is_err() {
                break;
            }
            waited += t.elapsed();
            seq += 1;
        }
        if eof {
            break;
        }
    }
    Ok(started.elapsed().saturating_sub(waited))
}

pub fn map_file(job: MapJob) -> Result<MapStats, MapError> {
    let started = Instant::now();
    let workers = job.workers.max(1);
    let reader = job.input;
    let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(workers);
    let (out_tx, out_rx) = sync_channel::<Mapped>(workers);
    let name = job.input_name.clone();
    let chunk_bytes = job.chunk_bytes.max(64 * 1024);
    let reader_thread =
        std::thread::spawn(move || read_chunks(reader, chunk_bytes, chunk_tx, name));
    let shared_rx: Arc<Mutex<Receiver<Chunk>>> = Arc::new(Mutex::new(chunk_rx));
    let timed = job.timed;
    let mut handles = Vec::new();
    for _ in 0..workers {
        let rx = shared_rx.clone();
        let tx = out_tx.clone();
        let mapping = job.mapping.clone();
        handles.push(std::thread::spawn(move || loop {
            let next = rx.lock().ok().and_then(|r| r.recv().ok());
            let Some((seq, chunk)) = next else { break };
            let t = Instant::now();
            let (out, evaluating) = if timed {
                mapping.map_ndjson_timed(&chunk)
            } else {
                (mapping.map_ndjson(&chunk), Duration::ZERO)
            };
            let took = t.elapsed();
            // line numbers matter only for rejects: count them only then
            let lines = if out.rejects.is_empty() {
                0
            } else {
                memchr::memchr_iter(b'\n', &chunk).count() + usize::from(!chunk.ends_with(b"\n"))
            };
            if tx
                .send((seq, chunk.len(), lines, out, took, evaluating))
                .is_err()
            {
                break;
            }
        }));
    }
    drop(out_tx);

    let temp = job
        .output
        .with_extension(format!("{}.tmp", job.format.extension()));
    let write_err = |p: &Path, m: String| MapError::Write {
        path: p.display().to_string(),
        message: m,
    };
    let mut file = PartFile::create_as(
        job.format,
        temp.clone(),
        job.output.clone(),
        job.mapping.schema(),
        job.parquet,
    )
    .map_err(|e| write_err(&job.output, e.to_string()))?;
    let mut rejects = match &job.rejects {
        Some(p) => Some(BufWriter::new(
            File::create(p).map_err(|e| write_err(p, e.to_string()))?,
        )),
        None => None,
    };
    let mut stats = MapStats::default();
    let mut pending: BTreeMap<u64, (usize, usize, MapOutput)> = BTreeMap::new();
    let mut next = 0u64;
    let mut line_base = 0usize;
    let io = file.io_timer();
    for (seq, bytes, lines, out, took, evaluating) in out_rx {
        stats.map += took;
        stats.evaluate += evaluating;
        pending.insert(seq, (bytes, lines, out));
        while let Some((bytes, lines, out)) = pending.remove(&next) {
            let t = Instant::now();
            stats.bytes_in += bytes as u64;
            stats.records_in += out.input_records as u64;
            stats.records_out += out.batch.num_rows() as u64;
            stats.rejected += out.rejects.len() as u64;
            if out.batch.num_rows() > 0 {
                file.write(&out.batch)
                    .map_err(|e| write_err(&job.output, e.to_string()))?;
            }
            if let Some(w) = rejects.as_mut() {
                for r in &out.rejects {
                    let line = serde_json::json!({"line": line_base + r.line, "reason": r.reason, "record": r.record});
                    writeln!(w, "{line}")
                        .map_err(|e| write_err(Path::new("rejects"), e.to_string()))?;
                }
            }
            // lines of a chunk are numbered from 1 within it; a chunk without rejects says 0,
            // so number lines by records then (blank lines are rare in exports)
            line_base += if lines == 0 { out.input_records } else { lines };
            stats.write += t.elapsed();
            next += 1;
        }
    }
    for h in handles {
        let _ = h.join();
    }
    stats.read = match reader_thread.join() {
        Ok(r) => r?,
        Err(_) => {
            return Err(MapError::Read {
                path: job.input_name.clone(),
                message: "the reader thread panicked".into(),
            })
        }
    };
    let t = Instant::now();
    let staged = file
        .finish()
        .map_err(|e| write_err(&job.output, e.to_string()))?;
    sluice_sinks::promote(&staged.temp, &staged.target)
        .map_err(|e| write_err(&job.output, e.to_string()))?;
    if let Some(mut w) = rejects {
        w.flush()
            .map_err(|e| write_err(Path::new("rejects"), e.to_string()))?;
    }
    stats.write += t.elapsed();
    stats.io = io.spent();
    stats.bytes_out = staged.bytes;
    stats.wall = started.elapsed();
    Ok(stats)
}

/// Peak resident memory of this process so far, in bytes (Linux; `None` elsewhere).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}
