//! A PostgreSQL server for tests, from the distribution's packages (`apt-get install
//! postgresql`; `.ci/run` installs it): one per test process, on a free port, each test in a
//! schema of its own. A watchdog stops the server and removes its files when the test process
//! ends, however it ends. Set `SLUICE_PG_BIN` to the directory of `initdb` and `postgres` if
//! they are elsewhere.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct PgServer {
    pub port: u16,
    pub dir: PathBuf,
}

static SERVER: OnceLock<PgServer> = OnceLock::new();
static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SLUICE_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.retain(|p| p.join("initdb").exists());
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL's server programs are not installed (no /usr/lib/postgresql/*/bin/initdb): \
             `apt-get install postgresql`, or set SLUICE_PG_BIN"
        )
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// `sh -c script`, as the `postgres` user when this process is root (initdb refuses root).
fn shell(script: &str) -> Command {
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    };
    c.stdin(Stdio::null());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

// the watchdog is never waited for: it outlives this process on purpose
#[allow(clippy::zombie_processes)]
fn start() -> PgServer {
    let bin = bin_dir();
    let dir = std::env::temp_dir().join(format!("sluice-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the server's directory");
    if is_root() {
        let ok = Command::new("chown")
            .args(["postgres", &dir.to_string_lossy()])
            .status()
            .expect("chown")
            .success();
        assert!(ok, "chown postgres {}", dir.display());
    }
    let data = dir.join("data");
    let q = |p: &Path| format!("'{}'", p.display());
    let init = shell(&format!(
        "{} -D {} -U postgres --auth=trust -E UTF8 --no-sync >{} 2>&1",
        q(&bin.join("initdb")),
        q(&data),
        q(&dir.join("initdb.log"))
    ))
    .status()
    .expect("initdb");
    assert!(
        init.success(),
        "initdb failed: {}",
        std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default()
    );
    // TLS for the tests of sslmode=require: a CA of the test's own signs the server's
    // certificate (for 127.0.0.1); plain connections are served too
    let certs = shell(&format!(
        "(cd {dir} && \
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
           -keyout ca.key -out ca.crt -days 2 -subj '/CN=sluice test CA' \
           -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign && \
         openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
           -keyout server.key -out server.csr -subj '/CN=127.0.0.1' && \
         printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > server.ext && \
         openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
           -out server.crt -days 2 -extfile server.ext && chmod 600 server.key) \
         >{log} 2>&1",
        dir = q(&dir),
        log = q(&dir.join("openssl.log")),
    ))
    .status()
    .expect("openssl");
    assert!(
        certs.success(),
        "openssl could not make the test certificates: {}",
        std::fs::read_to_string(dir.join("openssl.log")).unwrap_or_default()
    );
    let port = free_port();
    // the watchdog outlives nothing: when this test process is gone, it stops the server
    // (fast shutdown) and removes its files
    let script = format!(
        "{postgres} -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off \
           -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
           -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key \
           >{log} 2>&1 & pg=$!
         while [ -d /proc/{me} ] && kill -0 $pg 2>/dev/null; do sleep 0.5; done
         kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
        postgres = q(&bin.join("postgres")),
        data = q(&data),
        dir = q(&dir),
        log = q(&dir.join("server.log")),
        me = std::process::id(),
    );
    shell(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postgres");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "postgres did not start within 60 s: {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    PgServer { port, dir }
}

/// The test process's server, started on first use.
pub fn server() -> &'static PgServer {
    SERVER.get_or_init(start)
}

/// A connection URL to the server's `postgres` database.
pub fn url() -> String {
    format!("postgres://postgres@127.0.0.1:{}/postgres", server().port)
}

/// The certificate authority that signed the server's certificate.
pub fn ca_file() -> PathBuf {
    server().dir.join("ca.crt")
}

/// A schema name no other test of this process uses.
pub fn fresh_schema(tag: &str) -> String {
    let n = SCHEMAS.fetch_add(1, Ordering::SeqCst);
    let tag: String = tag
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    format!("t{}_{n}_{tag}", std::process::id())
}
