//! Shared helpers: running the binary, building fixture components, a recording HTTP server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

/// The `sandcron` binary with a private component cache.
pub fn sandcron() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sandcron"));
    command.env("SANDCRON_CACHE_DIR", cache_dir());
    command
}

/// Runs `sandcron` with `args` and returns what it printed.
pub fn run(args: &[&str]) -> Output {
    sandcron().args(args).output().expect("sandcron runs")
}

/// The directory the tests keep precompiled components in.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Builds the component crate in `dir` (relative to the repository) for wasm32-wasip2 and
/// returns the path of `artifact`.wasm. Built once per test process.
pub fn build_component(dir: &str, artifact: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(Vec::new()));
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, path)) = built.iter().find(|(d, _)| d == dir) {
        return path.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-fixtures");
    let status = Command::new(env!("CARGO"))
        .current_dir(root.join(dir))
        .args(["build", "--release", "--target", "wasm32-wasip2", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {dir} for wasm32-wasip2 failed");
    let path = target
        .join("wasm32-wasip2/release")
        .join(format!("{artifact}.wasm"));
    assert!(path.exists(), "{} was not built", path.display());
    built.push((dir.to_string(), path.clone()));
    path
}

/// The hostile test component.
pub fn hostile() -> PathBuf {
    build_component("tests/fixtures/hostile", "hostile")
}

/// One request as the recording server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A real HTTP server on loopback that records every request and answers with a fixed
/// status and body.
pub struct RecordingServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: tokio::runtime::Runtime,
}

impl RecordingServer {
    pub fn start(status: u16, reply: &'static str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let recorder = seen.clone();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: axum::http::HeaderMap,
                  body: axum::body::Bytes| {
                let recorder = recorder.clone();
                async move {
                    recorder.lock().unwrap().push(Seen {
                        method: method.to_string(),
                        path: uri.to_string(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect(),
                        body: body.to_vec(),
                    });
                    (axum::http::StatusCode::from_u16(status).unwrap(), reply)
                }
            },
        );
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            seen,
            _runtime: runtime,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn allow(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Whether process `pid` is still alive, waiting up to two seconds for a killed one to
/// go: SIGKILL is delivered asynchronously, and an orphan killed with its group stays a
/// zombie (which counts as dead here) until its new parent reaps it.
pub fn process_alive(pid: i32) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next()))
            .flatten();
        let alive = matches!(state, Some(s) if s != 'Z' && s != 'X');
        if !alive || std::time::Instant::now() >= deadline {
            return alive;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A fresh store on each backend: SQLite in a temporary directory, and a new database on
/// the PostgreSQL that `scripts/peers up` starts (`SANDCRON_TEST_POSTGRES_URL`). Without
/// PostgreSQL the test fails: it is never skipped.
pub async fn each_store() -> Vec<(&'static str, std::sync::Arc<dyn sandcron::store::Store>)> {
    use sqlx::Connection;
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = tempfile::tempdir().unwrap().keep();
    let sqlite_url = format!("sqlite://{}", dir.join("sandcron.db").display());
    let sqlite = sandcron::store::open(&sqlite_url).await.unwrap();

    let base = std::env::var("SANDCRON_TEST_POSTGRES_URL").expect(
        "SANDCRON_TEST_POSTGRES_URL is not set: run the suite with scripts/test, \
         which starts PostgreSQL (scripts/peers up)",
    );
    let name = format!(
        "sandcron_t{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("PostgreSQL answers at SANDCRON_TEST_POSTGRES_URL");
    sqlx::Executor::execute(
        &mut admin,
        format!("DROP DATABASE IF EXISTS {name}").as_str(),
    )
    .await
    .unwrap();
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let postgres = sandcron::store::open(&format!("{prefix}/{name}"))
        .await
        .unwrap();
    vec![("sqlite", sqlite), ("postgres", postgres)]
}
