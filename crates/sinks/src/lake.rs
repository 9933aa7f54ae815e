//! Where finished files go: a local directory, or an object store (S3, GCS, Azure Blob, or a
//! `file://` tree through the same code path).
//!
//! Files are always written locally first, under temporary names, and the runner records each
//! promotion in the state store before it happens (see `docs/architecture.md`). Promotion is a
//! rename on a local lake and an upload on an object store: an object appears whole or not at
//! all, so readers never see half a file either way. Both are idempotent, so recovery after a
//! crash can promote again.
//!
//! Targets are paths under [`Lake::root`] whatever the lake: on an object store that root is a
//! local mirror directory that is never written to, and a target's path below it is its key
//! below the URL's prefix. So the state store, reports and partition naming do not care where
//! the lake is.

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use object_store::path::Path as Key;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

use crate::SinkError;

/// Files up to this size are uploaded in one request; larger ones in parts of this size.
const PART_BYTES: usize = 8 * 1024 * 1024;

/// Parts of one upload in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// The destination of a flow's files.
pub struct Lake {
    root: PathBuf,
    remote: Option<Remote>,
}

struct Remote {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: Key,
    /// Object store calls run on this runtime, on a thread of their own, so they can be made
    /// from the blocking writer thread and from async code alike. `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Remote {
    fn drop(&mut self) {
        // a runtime dropped the ordinary way blocks, which panics inside async code
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lake({})", self.describe())
    }
}

/// Whether a destination names an object store (`scheme://…`) rather than a local path.
pub fn is_object_store_url(destination: &str) -> bool {
    url::Url::parse(destination).is_ok_and(|u| {
        matches!(
            u.scheme(),
            "s3" | "s3a" | "gs" | "az" | "adl" | "azure" | "abfs" | "abfss" | "file"
        )
    })
}

impl Lake {
    /// A local directory.
    pub fn local(root: PathBuf) -> Self {
        Lake { root, remote: None }
    }

    /// An object store at `url`, configured by `options` (the object_store crate's keys, such
    /// as `region`, `endpoint` or `allow_http`) on top of the standard environment (`AWS_*`,
    /// `GOOGLE_*`, `AZURE_*`). `mirror` is the local root targets are named under.
    pub fn object_store(
        url: &str,
        options: &[(String, String)],
        mirror: PathBuf,
    ) -> Result<Self, SinkError> {
        let err = |message: String| SinkError::Store {
            url: url.to_string(),
            message,
        };
        let parsed = url::Url::parse(url).map_err(|e| err(format!("not a URL: {e}")))?;
        let unknown = |key: &str| {
            err(format!(
                "`{key}` is not an option of this store (see the object_store crate's \
                 configuration keys for {})",
                parsed.scheme()
            ))
        };
        // a builder from the environment, the URL, then the flow's options
        macro_rules! configured {
            ($builder:expr) => {{
                let mut b = $builder.with_url(url);
                for (k, v) in options {
                    b = b.with_config(k.parse().map_err(|_| unknown(k))?, v);
                }
                Arc::new(b.build().map_err(|e| err(e.to_string()))?) as Arc<dyn ObjectStore>
            }};
        }
        let store = match parsed.scheme() {
            "s3" | "s3a" => configured!(object_store::aws::AmazonS3Builder::from_env()),
            "gs" => configured!(object_store::gcp::GoogleCloudStorageBuilder::from_env()),
            "az" | "adl" | "azure" | "abfs" | "abfss" => {
                configured!(object_store::azure::MicrosoftAzureBuilder::from_env())
            }
            "file" => {
                if let Some((k, _)) = options.first() {
                    return Err(unknown(k));
                }
                Arc::new(object_store::local::LocalFileSystem::new()) as Arc<dyn ObjectStore>
            }
            other => {
                return Err(err(format!(
                    "`{other}://` is not a supported object store: use s3://, gs://, az:// \
                     (or abfss://) or file://"
                )))
            }
        };
        // the bucket or container is the URL's host; the prefix is its path
        let prefix = Key::parse(parsed.path().trim_matches('/'))
            .map_err(|e| err(format!("bad path in the URL: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(format!("cannot start the upload runtime: {e}")))?;
        Ok(Lake {
            root: mirror,
            remote: Some(Remote {
                url: url.trim_end_matches('/').to_string(),
                store,
                prefix,
                runtime: Some(runtime),
            }),
        })
    }

    /// The local root targets are named under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The lake as a user names it: its directory or its URL.
    pub fn describe(&self) -> String {
        match &self.remote {
            Some(r) => r.url.clone(),
            None => self.root.display().to_string(),
        }
    }

    /// Upload the staged file `temp` (below the root) to its own key in the store, before a
    /// commit names it: the commit then survives the machine (a pod's disk), and a later
    /// promotion, here or on a fresh machine, copies it within the store. A local lake's
    /// staged file is already durable.
    pub fn stage(&self, temp: &Path) -> Result<(), SinkError> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let key = self.key(remote, temp)?;
        remote.upload(temp, &key)
    }

    /// Move the staged file `temp` to `target`. Idempotent: if `temp` is gone and `target`
    /// exists, the promotion already happened. On an object store a staged copy in the store
    /// (see [`Lake::stage`]) is copied to its target there, whether or not `temp` is still on
    /// this machine.
    pub fn promote(&self, temp: &Path, target: &Path) -> Result<(), SinkError> {
        let Some(remote) = &self.remote else {
            return crate::atomic::promote(temp, target);
        };
        let key = self.key(remote, target)?;
        if let Ok(staged) = self.key(remote, temp) {
            match remote.call(remote.store.copy(&staged, &key)) {
                Ok(()) => {
                    match remote.call(remote.store.delete(&staged)) {
                        Ok(()) => {}
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => return Err(remote.error(&staged, e)),
                    }
                    return match fs::remove_file(temp) {
                        Ok(()) => Ok(()),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                        Err(e) => Err(SinkError::io(temp, e)),
                    };
                }
                // not staged in the store (or already moved): as below
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(remote.error(&staged, e)),
            }
        }
        if !temp.exists() {
            return match remote.call(remote.store.head(&key)) {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => {
                    Err(SinkError::io(temp, "the staged file is missing"))
                }
                Err(e) => Err(remote.error(&key, e)),
            };
        }
        remote.upload(temp, &key)?;
        fs::remove_file(temp).map_err(|e| SinkError::io(temp, e))?;
        Ok(())
    }

    /// Copy the local file at `path` (under the root) to the same place in an object store,
    /// keeping the local file (run reports). A local lake already holds it.
    pub fn publish(&self, path: &Path) -> Result<(), SinkError> {
        match &self.remote {
            None => Ok(()),
            Some(remote) => {
                let key = self.key(remote, path)?;
                remote.upload(path, &key)
            }
        }
    }

    /// Keep a copy of the local file `local` as `_sluice/<name>` in an object store (the
    /// state's snapshot: a fresh machine running the flow starts from it). A local lake
    /// already holds its state.
    pub fn put_meta(&self, local: &Path, name: &str) -> Result<(), SinkError> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        remote.upload(local, &meta_key(remote, name))
    }

    /// Fetch `_sluice/<name>` from an object store into `local` (its directory is made);
    /// `false` when the store has none (or the lake is local).
    pub fn get_meta(&self, name: &str, local: &Path) -> Result<bool, SinkError> {
        let Some(remote) = &self.remote else {
            return Ok(false);
        };
        let key = meta_key(remote, name);
        let bytes = match remote.call(async { remote.store.get(&key).await?.bytes().await }) {
            Ok(b) => b,
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => return Err(remote.error(&key, e)),
        };
        if let Some(dir) = local.parent() {
            fs::create_dir_all(dir).map_err(|e| SinkError::io(dir, e))?;
        }
        // whole or not at all: a crash mid-write must not leave half a database
        let partial = local.with_extension(format!("part-{}", std::process::id()));
        fs::write(&partial, &bytes).map_err(|e| SinkError::io(&partial, e))?;
        crate::atomic::promote(&partial, local)?;
        Ok(true)
    }

    /// Every file below `dir` (a path under the root), as paths under the root: what the lake
    /// really holds, to compare with what the state says it committed.
    pub fn list_files(&self, dir: &Path) -> Result<Vec<PathBuf>, SinkError> {
        let Some(remote) = &self.remote else {
            let mut out = Vec::new();
            walk(dir, &mut out)?;
            return Ok(out);
        };
        use futures::TryStreamExt;
        let prefix = self.key(remote, dir)?;
        let listed: Vec<object_store::ObjectMeta> = remote
            .call(remote.store.list(Some(&prefix)).try_collect())
            .map_err(|e| remote.error(&prefix, e))?;
        Ok(listed
            .iter()
            .map(|m| {
                let mut path = self.root.clone();
                for part in relative(&remote.prefix, &m.location).split('/') {
                    path.push(part);
                }
                path
            })
            .collect())
    }

    /// Whether the lake holds `target` now (a second look at one file a listing missed: another
    /// process may have promoted or retired it since).
    pub fn exists(&self, target: &Path) -> Result<bool, SinkError> {
        let Some(remote) = &self.remote else {
            return match fs::metadata(target) {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(SinkError::io(target, e)),
            };
        };
        let key = self.key(remote, target)?;
        match remote.call(remote.store.head(&key)) {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(remote.error(&key, e)),
        }
    }

    /// The bytes of `path` (below the root), or `None` when the lake has no such file.
    pub fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, SinkError> {
        let Some(remote) = &self.remote else {
            return match fs::read(path) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(SinkError::io(path, e)),
            };
        };
        let key = self.key(remote, path)?;
        match remote.call(async { remote.store.get(&key).await?.bytes().await }) {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(remote.error(&key, e)),
        }
    }

    /// The bytes `range` of `path` (a Parquet footer, without fetching the file).
    pub fn read_range(
        &self,
        path: &Path,
        range: std::ops::Range<u64>,
    ) -> Result<Vec<u8>, SinkError> {
        let Some(remote) = &self.remote else {
            use std::io::{Seek, SeekFrom};
            let mut f = fs::File::open(path).map_err(|e| SinkError::io(path, e))?;
            f.seek(SeekFrom::Start(range.start))
                .map_err(|e| SinkError::io(path, e))?;
            let mut buf = vec![0u8; (range.end - range.start) as usize];
            f.read_exact(&mut buf).map_err(|e| SinkError::io(path, e))?;
            return Ok(buf);
        };
        let key = self.key(remote, path)?;
        remote
            .call(remote.store.get_range(&key, range))
            .map(|b| b.to_vec())
            .map_err(|e| remote.error(&key, e))
    }

    /// The size of `path` in bytes, or `None` when the lake has no such file.
    pub fn size(&self, path: &Path) -> Result<Option<u64>, SinkError> {
        let Some(remote) = &self.remote else {
            return match fs::metadata(path) {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(SinkError::io(path, e)),
            };
        };
        let key = self.key(remote, path)?;
        match remote.call(remote.store.head(&key)) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(remote.error(&key, e)),
        }
    }

    /// Write `bytes` as `path` only if no file has that name yet, in one atomic step: `false`
    /// when another writer got there first. Table logs (Delta) commit this way, so two writers
    /// never both take a version. On an object store this is a conditional put
    /// (`If-None-Match: *` on S3, GCS and Azure); on a local lake a hard link, which refuses
    /// an existing name and never shows a half-written file.
    pub fn put_new(&self, path: &Path, bytes: Vec<u8>) -> Result<bool, SinkError> {
        let Some(remote) = &self.remote else {
            let dir = path
                .parent()
                .ok_or_else(|| SinkError::io(path, "has no directory"))?;
            fs::create_dir_all(dir).map_err(|e| SinkError::io(dir, e))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            // unique per writer: two threads of one process may race for the same name
            let temp = dir.join(format!(
                ".{name}.{}-{:016x}.tmp",
                std::process::id(),
                fastrand::u64(..)
            ));
            // durable before it is linked: an empty version after a power cut would end the table
            let written = fs::File::create(&temp).and_then(|mut f| {
                std::io::Write::write_all(&mut f, &bytes)?;
                f.sync_all()
            });
            if let Err(e) = written {
                let _ = fs::remove_file(&temp);
                return Err(SinkError::io(&temp, e));
            }
            let linked = fs::hard_link(&temp, path);
            let _ = fs::remove_file(&temp);
            return match linked {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(SinkError::io(path, e)),
            };
        };
        let key = self.key(remote, path)?;
        let opts = object_store::PutOptions {
            mode: object_store::PutMode::Create,
            ..Default::default()
        };
        match remote.call(remote.store.put_opts(&key, PutPayload::from(bytes), opts)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(remote.error(&key, e)),
        }
    }

    /// Delete `target`; one already gone is fine.
    pub fn remove(&self, target: &Path) -> Result<(), SinkError> {
        let Some(remote) = &self.remote else {
            return match fs::remove_file(target) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(SinkError::io(target, e)),
            };
        };
        let key = self.key(remote, target)?;
        match remote.call(remote.store.delete(&key)) {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(remote.error(&key, e)),
        }
    }

    /// The object key of `target`: its path below the root, below the URL's prefix.
    fn key(&self, remote: &Remote, target: &Path) -> Result<Key, SinkError> {
        let below = target.strip_prefix(&self.root).map_err(|_| {
            SinkError::io(
                target,
                format!("is not below the lake's root {}", self.root.display()),
            )
        })?;
        let mut key = remote.prefix.clone();
        for part in below.components() {
            match part {
                Component::Normal(p) => key = key.child(p.to_string_lossy().as_ref()),
                _ => return Err(SinkError::io(target, "is not a plain path below the lake")),
            }
        }
        Ok(key)
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SinkError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(SinkError::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| SinkError::io(dir, e))?;
        let path = entry.path();
        if entry
            .file_type()
            .map_err(|e| SinkError::io(&path, e))?
            .is_dir()
        {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn relative(prefix: &Key, key: &Key) -> String {
    match key.prefix_match(prefix) {
        Some(parts) => parts
            .map(|p| p.as_ref().to_string())
            .collect::<Vec<_>>()
            .join("/"),
        None => key.to_string(),
    }
}

/// `<prefix>/_sluice/<name>`.
fn meta_key(remote: &Remote, name: &str) -> Key {
    let mut key = remote.prefix.clone().child("_sluice");
    for part in name.split('/').filter(|p| !p.is_empty()) {
        key = key.child(part);
    }
    key
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

impl Remote {
    /// Run one object store call to completion from any thread.
    fn call<T: Send>(
        &self,
        fut: impl std::future::Future<Output = Result<T, object_store::Error>> + Send,
    ) -> Result<T, object_store::Error> {
        let failed = |why: &str| object_store::Error::Generic {
            store: "sluice",
            source: why.to_string().into(),
        };
        let Some(runtime) = &self.runtime else {
            return Err(failed("the lake is closing"));
        };
        std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(fut))
                .join()
                .unwrap_or_else(|_| Err(failed("the upload thread panicked")))
        })
    }

    fn error(&self, key: &Key, e: object_store::Error) -> SinkError {
        SinkError::Store {
            url: format!("{}/{}", self.url, relative(&self.prefix, key)),
            message: e.to_string(),
        }
    }

    /// Upload a local file: in one request when small, else in parts, never holding more than
    /// a few parts in memory.
    fn upload(&self, local: &Path, key: &Key) -> Result<(), SinkError> {
        let mut file = fs::File::open(local).map_err(|e| SinkError::io(local, e))?;
        let size = file.metadata().map_err(|e| SinkError::io(local, e))?.len();
        if size <= PART_BYTES as u64 {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes)
                .map_err(|e| SinkError::io(local, e))?;
            return self
                .call(self.store.put(key, PutPayload::from(bytes)))
                .map(|_| ())
                .map_err(|e| self.error(key, e));
        }
        let upload = async {
            let mut writer = WriteMultipart::new_with_chunk_size(
                self.store.put_multipart(key).await?,
                PART_BYTES,
            );
            let mut buf = vec![0u8; PART_BYTES];
            loop {
                let n = file
                    .read(&mut buf)
                    .map_err(|e| object_store::Error::Generic {
                        store: "sluice",
                        source: format!("reading {}: {e}", local.display()).into(),
                    })?;
                if n == 0 {
                    break;
                }
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                writer.write(&buf[..n]);
            }
            writer.finish().await.map(|_| ())
        };
        self.call(upload).map_err(|e| self.error(key, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_lake(dir: &Path) -> (Lake, PathBuf) {
        let store_dir = dir.join("store");
        fs::create_dir_all(&store_dir).expect("store dir");
        let url = format!("file://{}/lake/", store_dir.display());
        let lake = Lake::object_store(&url, &[], dir.join("mirror")).expect("lake");
        (lake, store_dir.join("lake"))
    }

    #[test]
    fn promotion_uploads_once_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (lake, store) = file_lake(dir.path());
        assert!(lake.is_remote());
        let temp = dir.path().join("t.tmp");
        fs::write(&temp, b"parquet bytes").expect("write");
        let target = lake.root().join("users/date=2024-01-01/part-1.parquet");
        lake.promote(&temp, &target).expect("promote");
        let uploaded = store.join("users/date=2024-01-01/part-1.parquet");
        assert_eq!(fs::read(&uploaded).expect("uploaded"), b"parquet bytes");
        assert!(!temp.exists(), "the staged file is gone once uploaded");
        assert!(!target.exists(), "the mirror is never written");
        lake.promote(&temp, &target)
            .expect("a second promotion is a no-op");
        let missing = lake.root().join("users/none.parquet");
        assert!(lake
            .promote(&dir.path().join("none.tmp"), &missing)
            .is_err());
        lake.remove(&target).expect("remove");
        assert!(!uploaded.exists());
        lake.remove(&target).expect("removing twice is fine");
        assert!(lake.promote(&temp, Path::new("/elsewhere/x")).is_err());
    }

    #[test]
    fn a_staged_file_is_promoted_from_the_store_after_its_machine_is_gone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (lake, store) = file_lake(dir.path());
        let temp = lake.root().join("_sluice/tmp/f/run-1/a.parquet");
        fs::create_dir_all(temp.parent().expect("parent")).expect("tmp dir");
        fs::write(&temp, b"rows").expect("write");
        lake.stage(&temp).expect("stage");
        assert_eq!(
            fs::read(store.join("_sluice/tmp/f/run-1/a.parquet")).expect("staged"),
            b"rows"
        );
        // the machine is lost: its disk with the staged file goes
        fs::remove_dir_all(lake.root()).expect("gone");
        let (fresh, _) = file_lake(dir.path());
        let target = fresh.root().join("s/date=2024-01-01/a.parquet");
        fresh
            .promote(&temp, &target)
            .expect("promote from the store");
        assert_eq!(
            fs::read(store.join("s/date=2024-01-01/a.parquet")).expect("target"),
            b"rows"
        );
        assert!(
            !store.join("_sluice/tmp/f/run-1/a.parquet").exists(),
            "staging swept"
        );
        fresh.promote(&temp, &target).expect("again: already done");
        // the state's copy goes beside the data and comes back whole
        let state = dir.path().join("state.db");
        fs::write(&state, b"sqlite").expect("state");
        fresh.put_meta(&state, "state/f.db").expect("put");
        let back = dir.path().join("elsewhere/state.db");
        assert!(fresh.get_meta("state/f.db", &back).expect("get"));
        assert_eq!(fs::read(&back).expect("read"), b"sqlite");
        assert!(!fresh.get_meta("state/none.db", &back).expect("get"));
    }

    #[test]
    fn large_files_go_up_in_parts_and_reports_are_copied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (lake, store) = file_lake(dir.path());
        let temp = dir.path().join("big.tmp");
        let body: Vec<u8> = (0..PART_BYTES * 2 + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        fs::write(&temp, &body).expect("write");
        let target = lake.root().join("s/big.parquet");
        lake.promote(&temp, &target).expect("promote");
        assert_eq!(fs::read(store.join("s/big.parquet")).expect("read"), body);
        let report = lake.root().join("_runs/r.json");
        fs::create_dir_all(report.parent().expect("parent")).expect("runs dir");
        fs::write(&report, b"{}").expect("report");
        lake.publish(&report).expect("publish");
        assert!(report.exists(), "the local report stays");
        assert_eq!(fs::read(store.join("_runs/r.json")).expect("read"), b"{}");
    }

    #[test]
    fn urls_and_options_are_checked_with_clear_errors() {
        assert!(is_object_store_url("s3://bucket/prefix"));
        assert!(is_object_store_url("file:///tmp/lake"));
        assert!(!is_object_store_url("/tmp/lake"));
        assert!(!is_object_store_url("out/zendesk"));
        let mirror = PathBuf::from("/tmp/m");
        let e = Lake::object_store(
            "s3://bucket/p",
            &[("no_such_option".into(), "x".into())],
            mirror.clone(),
        )
        .expect_err("unknown option");
        assert!(e.to_string().contains("`no_such_option`"), "{e}");
        let e = Lake::object_store("ftp://host/p", &[], mirror.clone()).expect_err("scheme");
        assert!(e.to_string().contains("ftp://"), "{e}");
        let lake = Lake::object_store(
            "s3://bucket/some/prefix/",
            &[
                ("region".into(), "eu-west-1".into()),
                ("access_key_id".into(), "AKIDEXAMPLE".into()),
                ("secret_access_key".into(), "very-secret".into()),
            ],
            mirror,
        )
        .expect("s3 lake");
        assert_eq!(lake.describe(), "s3://bucket/some/prefix");
        assert!(!format!("{lake:?}").contains("very-secret"));
    }
}
