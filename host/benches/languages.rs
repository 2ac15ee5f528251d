//! Python and JavaScript executors next to Rust: for each language's template (made with
//! `sandcron executor new`, built with `sandcron executor build`), the component's size,
//! the time from upload to ready on a real `sandcron serve` (compile included), a cached
//! reload of the compiled artifact (a restart), the per-execution overhead (instantiate +
//! call of the hello run, warm), and the memory of concurrent executions (RSS of this
//! process with N executions held open in a host call, over the RSS before).
//!
//! Run (after `scripts/peers up componentize-py componentize-js`):
//!   `eval "$(scripts/peers env)"; cargo bench -p sandcron --bench languages`
//! (add `-- --iterations N --concurrent N`). Results go in docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandcron::capabilities::Grants;
use sandcron::runtime::{
    DEFAULT_MEMORY_LIMIT, Executable, ExecutionInfo, ExecutionRequest, Limits, Runtime,
    RuntimeConfig,
};

const LANGUAGES: [&str; 3] = ["rust", "python", "js"];

fn main() -> anyhow::Result<()> {
    let arg = |name: &str, default: usize| {
        std::env::args()
            .skip_while(|a| a != name)
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let iterations = arg("--iterations", 200);
    let concurrent = arg("--concurrent", 100);
    let work = tempfile::tempdir()?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    println!(
        "{:<8} {:>10} {:>15} {:>14} {:>12} {:>12} {:>18}",
        "language",
        "size",
        "upload→ready",
        "cached reload",
        "exec median",
        "exec p99",
        "RSS per execution"
    );
    for lang in LANGUAGES {
        let component = build_template(work.path(), lang)?;
        let wasm = std::fs::read(&component)?;
        let ready = tokio.block_on(upload_to_ready(work.path(), lang, &wasm))?;
        let (reload, executable, runtime) = cached_reload(work.path(), lang, &wasm, concurrent)?;
        let runs = tokio.block_on(execute_many(&runtime, &executable, iterations))?;
        let per_execution =
            tokio.block_on(memory_per_execution(&runtime, &executable, concurrent))?;
        println!(
            "{:<8} {:>9.1}M {:>15} {:>14} {:>12} {:>12} {:>17.1}M",
            lang,
            wasm.len() as f64 / 1e6,
            format!("{ready:.2?}"),
            format!("{reload:.1?}"),
            format!("{:.2?}", percentile(&runs, 50)),
            format!("{:.2?}", percentile(&runs, 99)),
            per_execution as f64 / 1e6,
        );
    }
    println!(
        "({iterations} executions each after 10 warm-up runs; {concurrent} concurrent executions \
         for the memory figure, all of which succeeded)"
    );
    Ok(())
}

/// `sandcron executor new` + `build` of `lang`'s template under `dir`; the component.
fn build_template(dir: &Path, lang: &str) -> anyhow::Result<PathBuf> {
    let name = format!("bench-{lang}");
    let sandcron = env!("CARGO_BIN_EXE_sandcron");
    let mut path =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect::<Vec<_>>();
    for tool in [
        "SANDCRON_TEST_COMPONENTIZE_PY",
        "SANDCRON_TEST_COMPONENTIZE_JS",
    ] {
        let tool = std::env::var_os(tool).map(PathBuf::from).ok_or_else(|| {
            anyhow::anyhow!(
                "{tool} is not set: run `scripts/peers up` and `eval \"$(scripts/peers env)\"`"
            )
        })?;
        path.insert(0, tool.parent().unwrap().to_path_buf());
    }
    let new = Command::new(sandcron)
        .args(["executor", "new", &name, "--lang", lang, "--dir"])
        .arg(dir)
        .status()?;
    anyhow::ensure!(new.success(), "executor new {lang}");
    let out = Command::new(sandcron)
        .args(["executor", "build"])
        .arg(dir.join(&name))
        .env("PATH", std::env::join_paths(path)?)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "executor build {lang}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout)?;
    let artifact = stdout
        .lines()
        .find_map(|line| line.strip_prefix("built "))
        .and_then(|rest| rest.split(" (").next())
        .ok_or_else(|| anyhow::anyhow!("no artifact in {stdout:?}"))?;
    Ok(PathBuf::from(artifact))
}

/// The time a `PUT /v1/executors/NAME` of `wasm` takes on a fresh `sandcron serve` (its
/// own data directory and component cache, so the component is compiled).
async fn upload_to_ready(dir: &Path, lang: &str, wasm: &[u8]) -> anyhow::Result<Duration> {
    use std::io::BufRead;
    let data = dir.join(format!("serve-{lang}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_sandcron"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("SANDCRON_CACHE_DIR", data.join("cache"))
        .env_remove("SANDCRON_ADMIN_TOKEN")
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let base = loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("serve ended"))??;
        if let Some(rest) = line.strip_prefix("sandcron: listening on ") {
            break rest.split(" (").next().unwrap_or(rest).to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let token = std::fs::read_to_string(data.join("admin-token"))?;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let response = client
        .put(format!("{base}/v1/executors/bench-{lang}"))
        .bearer_auth(token.trim())
        .header("Content-Type", "application/wasm")
        .body(wasm.to_vec())
        .send()
        .await?;
    let elapsed = started.elapsed();
    let status = response.status();
    let _ = child.kill();
    let _ = child.wait();
    anyhow::ensure!(status.as_u16() == 201, "upload {lang}: {status}");
    Ok(elapsed)
}

/// Compiles `wasm` into a fresh disk cache, then loads it in a new runtime (a restart):
/// the time of that load, and the loaded executable on a runtime sized for `concurrent`.
fn cached_reload(
    dir: &Path,
    lang: &str,
    wasm: &[u8],
    concurrent: usize,
) -> anyhow::Result<(Duration, Arc<Executable>, Runtime)> {
    let config = RuntimeConfig {
        cache_dir: Some(dir.join(format!("cache-{lang}"))),
        max_concurrent_executions: u32::try_from(concurrent)? + 4,
        ..RuntimeConfig::default()
    };
    Runtime::new(config.clone())?.load_blocking(wasm)?;
    let restarted = Runtime::new(config)?;
    let started = Instant::now();
    let executable = restarted.load_blocking(wasm)?;
    Ok((started.elapsed(), executable, restarted))
}

fn request(config: &[(&str, &str)]) -> ExecutionRequest {
    let mut grants = Grants::default();
    grants
        .allow("http", "http://127.0.0.1:*")
        .expect("a valid pattern");
    ExecutionRequest {
        info: ExecutionInfo {
            job_name: "bench".into(),
            execution_id: "1".into(),
            attempt: 1,
            executor_config: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ExecutionInfo::default()
        },
        grants,
        limits: Limits {
            memory_bytes: DEFAULT_MEMORY_LIMIT,
            ..Limits::default()
        },
        listener: None,
    }
}

/// Runs the hello execution `iterations` times, one at a time; each one's duration.
async fn execute_many(
    runtime: &Runtime,
    executable: &Arc<Executable>,
    iterations: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut runs = Vec::with_capacity(iterations);
    for i in 0..iterations + 10 {
        let started = Instant::now();
        let outcome = runtime
            .execute(executable, request(&[("greeting", "hi")]))
            .await;
        anyhow::ensure!(outcome.succeeded(), "hello failed: {outcome:?}");
        if i >= 10 {
            runs.push(started.elapsed());
        }
    }
    runs.sort();
    Ok(runs)
}

/// Holds `concurrent` executions open at once (each waits for a loopback server that
/// answers after two seconds) and returns the growth of this process's RSS per execution.
async fn memory_per_execution(
    runtime: &Runtime,
    executable: &Arc<Executable>,
    concurrent: usize,
) -> anyhow::Result<u64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/slow", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            "ok"
        });
        axum::serve(listener, app).await
    });
    let before = rss_bytes()?;
    let mut runs = Vec::new();
    for _ in 0..concurrent {
        let (runtime, executable, url) = (runtime.clone(), executable.clone(), url.clone());
        runs.push(tokio::spawn(async move {
            runtime
                .execute(&executable, request(&[("greeting", "hi"), ("url", &url)]))
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = rss_bytes()?;
    for run in runs {
        let outcome = run.await?;
        anyhow::ensure!(
            outcome.succeeded(),
            "a concurrent execution failed: {outcome:?}"
        );
    }
    server.abort();
    Ok(during.saturating_sub(before) / concurrent as u64)
}

/// This process's resident memory, from `/proc/self/statm`.
fn rss_bytes() -> anyhow::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("statm"))?
        .parse()?;
    Ok(pages * 4096)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}
