//! Shared helpers: running the binary, building fixture components, a recording HTTP server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

/// The `sandcron` binary with a private component cache.
pub fn sandcron() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sandcron"));
    command
        .env("SANDCRON_CACHE_DIR", cache_dir())
        .env_remove("SANDCRON_ADMIN_TOKEN")
        .env_remove("SANDCRON_TOKEN");
    command
}

/// Runs `sandcron` with `args` and returns what it printed.
pub fn run(args: &[&str]) -> Output {
    sandcron().args(args).output().expect("sandcron runs")
}

/// Runs `sandcron` with `args` off the async threads.
pub async fn exec(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    })
    .await
    .unwrap()
}

/// Runs `sandcron` with `args` off the async threads, its trust store (for NATS, AMQP and
/// Kafka TLS) the certificates in `trusted` (through `SSL_CERT_FILE`).
pub async fn exec_trusting(trusted: &std::path::Path, args: Vec<String>) -> Output {
    let trusted = trusted.to_path_buf();
    tokio::task::spawn_blocking(move || {
        sandcron()
            .args(&args)
            .env("SSL_CERT_FILE", trusted)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The arguments of `sandcron exec EXECUTOR`: `flags` (grants and the like) and a
/// `--config KEY=VALUE` for each pair of `config`.
pub fn exec_args(executor: &str, flags: &[&str], config: &[(&str, &str)]) -> Vec<String> {
    let mut args = vec!["exec".to_string(), executor.to_string()];
    args.extend(flags.iter().map(|flag| flag.to_string()));
    for (key, value) in config {
        args.extend(["--config".into(), format!("{key}={value}")]);
    }
    args
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
    let dir = tempfile::tempdir().unwrap().keep();
    let sqlite_url = format!("sqlite://{}", dir.join("sandcron.db").display());
    let sqlite = sandcron::store::open(&sqlite_url).await.unwrap();
    let postgres = sandcron::store::open(&fresh_postgres_database().await)
        .await
        .unwrap();
    vec![("sqlite", sqlite), ("postgres", postgres)]
}

/// The URL of a new, empty database on the test PostgreSQL (`SANDCRON_TEST_POSTGRES_URL`,
/// set by `scripts/test`); panics when there is none, so no test silently skips it.
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
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
    format!("{prefix}/{name}")
}

/// A running `sandcron serve` on a free loopback port, with its own data directory (and,
/// on PostgreSQL, its own database). Killed when dropped.
pub struct Server {
    /// `sqlite` or `postgres`, for assertion messages.
    pub backend: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: std::process::Child,
    log: Arc<Mutex<String>>,
    /// A client that sends the admin token.
    pub http: reqwest::Client,
    /// The admin token the server made on its first start (read from its data directory).
    pub admin_token: String,
    data_dir: Option<tempfile::TempDir>,
    database_url: Option<String>,
    extra: Vec<String>,
    /// Environment variables set for the server's process (kept across restarts).
    env: Vec<(String, String)>,
}

/// One answer of the API.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `field` of a refusal.
    pub fn field(&self) -> String {
        self.json()["field"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A server on SQLite and one on a fresh PostgreSQL database: every API test runs on
/// both. Without PostgreSQL the test fails (it is never skipped).
pub async fn each_server() -> Vec<Server> {
    vec![
        Server::sqlite(&[]),
        Server::postgres(&fresh_postgres_database().await, &[]),
    ]
}

impl Server {
    /// Serves on SQLite in a fresh data directory, with `extra` arguments.
    pub fn sqlite(extra: &[&str]) -> Self {
        Self::spawn("sqlite", None, extra)
    }

    /// Serves on SQLite in a fresh data directory whose `sandcron.toml` holds `config`,
    /// with `extra` arguments.
    pub fn sqlite_with_config(config: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sandcron.toml"), config).unwrap();
        let extra = extra.iter().map(|a| a.to_string()).collect();
        Self::spawn_in(dir, "sqlite", None, extra, Vec::new())
    }

    /// Serves on the PostgreSQL database at `url`, with `extra` arguments.
    pub fn postgres(url: &str, extra: &[&str]) -> Self {
        Self::spawn("postgres", Some(url.to_string()), extra)
    }

    /// Serves on SQLite with `extra` arguments and `env` in the server's environment.
    pub fn sqlite_with_env(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let extra = extra.iter().map(|a| a.to_string()).collect();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::spawn_in(tempfile::tempdir().unwrap(), "sqlite", None, extra, env)
    }

    fn spawn(backend: &'static str, database_url: Option<String>, extra: &[&str]) -> Self {
        let extra = extra.iter().map(|a| a.to_string()).collect();
        Self::spawn_in(
            tempfile::tempdir().unwrap(),
            backend,
            database_url,
            extra,
            Vec::new(),
        )
    }

    /// Kills the server with SIGKILL, as a crash would, and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server with SIGTERM (a clean shutdown) and starts it again on the same
    /// data directory and database.
    pub fn stop_and_restart(mut self) -> Self {
        // SAFETY: `kill` has no memory effects; the pid is our own child's.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.wait_exit(std::time::Duration::from_secs(30));
        self.crash_and_restart()
    }

    /// Kills the server with SIGKILL, as a crash would, and starts it again on the same
    /// data directory and database.
    pub fn crash_and_restart(mut self) -> Self {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let data_dir = self
            .data_dir
            .take()
            .expect("a server keeps its data directory");
        let (database_url, extra) = (self.database_url.clone(), self.extra.clone());
        Self::spawn_in(
            data_dir,
            self.backend,
            database_url,
            extra,
            self.env.clone(),
        )
    }

    fn spawn_in(
        data_dir: tempfile::TempDir,
        backend: &'static str,
        database_url: Option<String>,
        extra: Vec<String>,
        env: Vec<(String, String)>,
    ) -> Self {
        use std::io::BufRead;
        let mut command = sandcron();
        command.envs(env.iter().map(|(k, v)| (k, v)));
        command.args(["serve", "--listen", "127.0.0.1:0"]);
        if !extra.iter().any(|arg| arg == "--node") {
            command.args(["--node", "test-node"]);
        }
        command
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(&extra)
            .env_remove("SANDCRON_DATABASE_URL")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(url) = &database_url {
            command.args(["--database-url", url]);
        }
        let mut child = command.spawn().expect("sandcron serve starts");
        let stderr = child.stderr.take().unwrap();
        let log: Arc<Mutex<String>> = Arc::default();
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        let writer = log.clone();
        // Read stderr to its end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = writer.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
                let _ = lines_tx.send(line);
            }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let base = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("sandcron: listening on ") {
                        let (url, _) = rest.split_once(" (").unwrap_or((rest, ""));
                        break url.to_string();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{backend}: sandcron serve did not start listening:\n{}",
                        log.lock().unwrap()
                    );
                }
            }
        };
        let admin_token = admin_token_of(data_dir.path(), database_url.as_deref())
            .unwrap_or_else(|| panic!("{backend}: no admin token in the data directory"));
        Self {
            backend,
            base,
            child,
            log,
            http: client_with_token(&admin_token),
            admin_token,
            data_dir: Some(data_dir),
            database_url,
            extra,
            env,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        self.data_dir
            .as_ref()
            .expect("a server keeps its data directory")
            .path()
    }

    /// The server's database URL (its SQLite file when it was given none).
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir().join("sandcron.db").display())
        })
    }

    /// What the server printed to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the server to exit, and returns its status.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Runs the job `name` now and waits for its execution to finish; its JSON.
    pub async fn run_to_end(&self, name: &str) -> serde_json::Value {
        let run = self
            .call("POST", &format!("/v1/jobs/{name}/run"), None)
            .await;
        assert_eq!(run.status, 202, "{}", run.text);
        let path = format!("/v1/jobs/{name}/executions/{}", run.json()["id"]);
        for _ in 0..100 {
            let execution = self.get(&path).await.json();
            if execution["finished_at"].is_string() {
                return execution;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{path} did not finish");
    }

    /// Sends `method path` with an optional JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.reply(request).await
    }

    /// Sends a prepared request (a raw body, a multipart form…). A JSON answer must fit
    /// the OpenAPI document (`conformance::check`).
    pub async fn reply(&self, request: reqwest::RequestBuilder) -> Reply {
        let (client, request) = request
            // Generous: a debug build shares two cores with the rest of the suite.
            .timeout(std::time::Duration::from_secs(120))
            .build_split();
        let request = request.unwrap_or_else(|e| panic!("a bad request: {e}"));
        let (method, path) = (request.method().clone(), request.url().path().to_string());
        let response = client
            .execute(request)
            .await
            .unwrap_or_else(|e| panic!("{}: request failed: {e}\n{}", self.backend, self.log()));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        crate::conformance::check(method.as_str(), &path, status, content_type, &text);
        Reply {
            status,
            headers,
            text,
        }
    }

    /// A request builder on this server's client, for what `call` does not cover.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Reply {
        self.call("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> Reply {
        self.call("PUT", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None).await
    }

    /// Sends `method path` with an optional JSON body, with `token` (none: no
    /// `Authorization` header at all).
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let client = match token {
            Some(token) => client_with_token(token),
            None => reqwest::Client::new(),
        };
        let mut request = client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.reply(request).await
    }

    /// Runs the `sandcron` CLI against this server, with the admin token.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(&self.admin_token, args)
    }

    /// Runs the `sandcron` CLI against this server with `token`.
    pub fn cli_as(&self, token: &str, args: &[&str]) -> Output {
        sandcron()
            .env("SANDCRON_SERVER", &self.base)
            .env("SANDCRON_TOKEN", token)
            .args(args)
            .output()
            .expect("sandcron runs")
    }
}

/// The admin token of a server: the one it wrote to its data directory on the first start
/// against its database, or, for another node of the same database (which makes none),
/// the one the first node wrote.
fn admin_token_of(data_dir: &std::path::Path, database_url: Option<&str>) -> Option<String> {
    static BY_DATABASE: OnceLock<Mutex<std::collections::HashMap<String, String>>> =
        OnceLock::new();
    let known = BY_DATABASE.get_or_init(Mutex::default);
    let written = std::fs::read_to_string(data_dir.join("admin-token"))
        .ok()
        .map(|token| token.trim().to_string());
    let mut known = known.lock().unwrap();
    match (written, database_url) {
        (Some(token), Some(url)) => {
            known.insert(url.to_string(), token.clone());
            Some(token)
        }
        (Some(token), None) => Some(token),
        (None, Some(url)) => known.get(url).cloned(),
        (None, None) => None,
    }
}

/// A client that sends `Authorization: Bearer TOKEN` with every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .expect("a token is a header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("the client builds")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` every 100 ms until it gives a value, for up to `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits for execution `id` of `job` to finish, and returns it.
pub async fn finished(server: &Server, job: &str, id: i64) -> serde_json::Value {
    let path = format!("/v1/jobs/{job}/executions/{id}");
    eventually(
        "the execution to finish",
        std::time::Duration::from_secs(30),
        || async {
            let execution = server.get(&path).await.json();
            (!execution["finished_at"].is_null()).then_some(execution)
        },
    )
    .await
}

/// Where a tool is, from `scripts/peers env`; the test fails, saying what to run, when it
/// is missing.
pub fn tool(variable: &str, peer: &str) -> PathBuf {
    let path = std::env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{variable} is not set: run `scripts/peers up {peer}` and `eval \"$(scripts/peers env)\"`")
    });
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/peers up {peer}`",
        path.display()
    );
    path
}

/// Creates the tenant `name` and returns a token of it.
pub async fn tenant(server: &Server, name: &str) -> String {
    let created = server
        .post("/v1/tenants", serde_json::json!({ "name": name }))
        .await;
    assert_eq!(created.status, 201, "{}: {}", server.backend, created.text);
    let token = server
        .call("POST", &format!("/v1/tenants/{name}/tokens"), None)
        .await;
    assert_eq!(token.status, 201, "{}: {}", server.backend, token.text);
    let token = token.json()["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("sct_"), "{token}");
    token
}
