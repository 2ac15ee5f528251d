//! One tenant's component cannot hurt the host or the other tenants through what the host
//! keeps for it or leaves running: live output waiting for a reader that does not read is
//! bounded in bytes, a refused upload leaves no compiled component behind, and a job's
//! processes die with the server and run as the configured user.

use std::time::Duration;

use serde_json::json;

use crate::peers::manual_job;
use crate::support::{Server, finished, hostile};

/// The bytes one live reader may have waiting (`sandcron::output::FOLLOWER_BUFFER_BYTES`).
const FOLLOWER_BUFFER_BYTES: u64 = sandcron::output::FOLLOWER_BUFFER_BYTES as u64;

/// The value of the metric `name` on `server` (its one series, whatever its labels: the
/// node's).
async fn metric(server: &Server, name: &str) -> u64 {
    let text = server.get("/metrics").await.text;
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name)?;
            let rest = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once('}')?.1,
                None => rest,
            };
            rest.strip_prefix(' ')
        })
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

/// Uploads the hostile component as the default tenant's executor `hostile`.
async fn upload_hostile(server: &Server) {
    let wasm = std::fs::read(hostile()).unwrap();
    let reply = server
        .reply(
            server
                .request(reqwest::Method::PUT, "/v1/executors/hostile")
                .header("Content-Type", "application/wasm")
                .header("Connection", "close")
                .body(wasm),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

#[tokio::test]
async fn a_live_reader_that_does_not_read_is_dropped_and_the_flood_runs_to_its_end() {
    let server = Server::sqlite(&[]);
    upload_hostile(&server).await;
    // 64 MiB in 256 KiB writes: the reader below stops reading after the headers, and
    // the sockets between it and the server hold far less than that.
    let flood = json!({"mode": "flood", "bytes": "67108864", "chunk": "262144"});
    manual_job(&server, "flood", "hostile", flood).await;
    let run = server.call("POST", "/v1/jobs/flood/run", None).await;
    assert_eq!(run.status, 202, "{}", run.text);
    let id = run.json()["id"].as_i64().unwrap();
    let output = format!("/v1/jobs/flood/executions/{id}/output");
    let reader = server
        .request(reqwest::Method::GET, &output)
        .send()
        .await
        .unwrap();
    assert_eq!(reader.status(), 200);

    let mut most_waiting = 0;
    let path = format!("/v1/jobs/flood/executions/{id}");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let execution = loop {
        most_waiting =
            most_waiting.max(metric(&server, "sandcron_live_output_buffered_bytes").await);
        let execution = server.get(&path).await.json();
        if !execution["finished_at"].is_null() {
            break execution;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the flood did not end"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(execution["state"], "succeeded", "{execution}");
    assert!(
        most_waiting <= FOLLOWER_BUFFER_BYTES,
        "{most_waiting} bytes waited for one reader (bound {FOLLOWER_BUFFER_BYTES})"
    );
    assert_eq!(
        metric(&server, "sandcron_live_followers_dropped_total").await,
        1
    );
    assert_eq!(
        metric(&server, "sandcron_live_output_buffered_bytes").await,
        0
    );

    let received = reader.bytes().await.unwrap();
    assert!(
        (received.len() as u64) < 64 << 20,
        "the reader got all {} bytes",
        received.len()
    );
    let text = String::from_utf8_lossy(&received);
    let last_line = text.trim_end().lines().last().unwrap_or_default();
    assert!(
        last_line.contains("this reader was disconnected")
            && last_line.contains(&format!("more than {FOLLOWER_BUFFER_BYTES} bytes")),
        "{last_line}"
    );
    // The stored output is the flood's own tail.
    let done = finished(&server, "flood", id).await;
    assert!(
        done["output"]
            .as_str()
            .unwrap_or_default()
            .ends_with("END-OF-FLOOD\n"),
        "{done}"
    );
}

/// A valid component that is not an executor (it exports nothing): the component header
/// and a custom section named after `seed`, so each seed gives other bytes.
fn empty_component(seed: usize) -> Vec<u8> {
    let name = format!("not-an-executor-{seed}");
    let mut wasm = b"\0asm\x0d\0\x01\0".to_vec();
    wasm.push(0); // custom section
    wasm.push(u8::try_from(name.len() + 1).unwrap());
    wasm.push(u8::try_from(name.len()).unwrap());
    wasm.extend_from_slice(name.as_bytes());
    wasm
}

/// The precompiled artifacts in `dir`.
fn artifacts(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn refused_uploads_leave_no_compiled_component_behind() {
    use sandcron::app::App;
    use sandcron::registry::{RegistryConfig, UploadError};
    use sandcron::runtime::{Runtime, RuntimeConfig};
    use sandcron::scheduler::SchedulerConfig;
    use sandcron::store::DEFAULT_TENANT;

    let data = tempfile::tempdir().unwrap();
    let cache = data.path().join("cache");
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.clone()),
        max_concurrent_executions: 8,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let url = format!("sqlite://{}", data.path().join("sandcron.db").display());
    let store = sandcron::store::open(&url).await.unwrap();
    let config = SchedulerConfig {
        node: "test-node".into(),
        ..SchedulerConfig::default()
    };
    let app = App::start(store, runtime.clone(), config, RegistryConfig::default())
        .await
        .unwrap();
    let (built_ins, _) = runtime.kept_in_memory();
    let on_disk = artifacts(&cache);
    assert!(
        built_ins > 0 && on_disk == built_ins,
        "{built_ins} {on_disk}"
    );

    for seed in 0..40 {
        let refused = app
            .registry
            .upload(
                DEFAULT_TENANT,
                &format!("nope{seed}"),
                empty_component(seed).into(),
            )
            .await;
        assert!(
            matches!(refused, Err(UploadError::NotAnExecutor(_))),
            "{seed}: {refused:?}"
        );
    }
    assert_eq!(
        runtime.kept_in_memory().0,
        built_ins,
        "refused uploads kept in memory"
    );
    assert_eq!(
        artifacts(&cache),
        on_disk,
        "refused uploads left artifacts on disk"
    );

    let wasm = std::fs::read(hostile()).unwrap();
    app.registry
        .upload(DEFAULT_TENANT, "hostile", wasm.into())
        .await
        .unwrap();
    assert_eq!(runtime.kept_in_memory().0, built_ins + 1);
    assert_eq!(artifacts(&cache), on_disk + 1);
    app.scheduler.shutdown(Duration::from_secs(5)).await;
}

/// The living processes whose command line is exactly `sleep SECONDS`.
fn sleepers(seconds: &str) -> Vec<u32> {
    let wanted = format!("sleep\0{seconds}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            (cmdline == wanted.as_bytes()).then_some(pid)
        })
        .collect()
}

/// Creates a job `name` that runs `command` through `/bin/sh` with the built-in shell.
async fn shell_job(server: &Server, name: &str, command: &str) {
    let config = json!({"command": command, "shell": "true"});
    manual_job(server, name, "shell", config).await;
}

/// Kills, by their ids, the `sleep SECONDS` processes still alive when dropped, so that a
/// failing test leaves none behind.
struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in sleepers(&self.0) {
            // SAFETY: kill has no memory effects; the pid is one of this test's sleeps.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

#[tokio::test]
async fn a_shell_jobs_descendants_die_with_a_killed_server() {
    let mut server = Server::sqlite(&[]);
    // A number no other process on the machine sleeps for.
    let seconds = format!("{}.4321", 90_000 + std::process::id() % 9_000);
    // One in the background, one in a new session (out of the process group), one whose
    // parent exits at once (an orphan), and the shell's own.
    let command =
        format!("sleep {seconds} & setsid sleep {seconds} & (sleep {seconds} &) ; sleep {seconds}");
    shell_job(&server, "sleepers", &command).await;
    let _cleanup = KillOnDrop(seconds.clone());
    let run = server.call("POST", "/v1/jobs/sleepers/run", None).await;
    assert_eq!(run.status, 202, "{}", run.text);
    crate::support::eventually("the four sleeps to start", Duration::from_secs(20), || {
        let count = sleepers(&seconds).len();
        async move { (count == 4).then_some(()) }
    })
    .await;

    server.kill();
    crate::support::eventually("the sleeps to die", Duration::from_secs(10), || {
        let left = sleepers(&seconds);
        async move { left.is_empty().then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn granted_programs_run_as_the_configured_user_without_new_privileges() {
    let server = Server::sqlite(&["--process-user", "nobody"]);
    let command = "id -u; grep NoNewPrivs /proc/self/status; ulimit -c";
    shell_job(&server, "whoami", command).await;
    let execution = server.run_to_end("whoami").await;
    assert_eq!(execution["success"], true, "{execution}");
    let output = execution["output"].as_str().unwrap_or_default();
    assert_eq!(output, "65534\nNoNewPrivs:\t1\n0\n", "{execution}");

    let data = tempfile::tempdir().unwrap();
    let data = data.path().to_str().unwrap();
    let refused = crate::support::run(&["serve", "--data-dir", data, "--process-user", "root"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        crate::support::stderr(&refused).contains("is root"),
        "{}",
        crate::support::stderr(&refused)
    );
}
