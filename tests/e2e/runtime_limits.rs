//! The sandbox holds against hostile components: each ends as a failed execution with a
//! reason, and the same runtime keeps serving.

use std::sync::Arc;
use std::time::Duration;

use sandcron::capabilities::Grants;
use sandcron::capabilities::process::ProcessPolicy;
use sandcron::runtime::{
    ExecutionInfo, ExecutionOutcome, ExecutionRequest, FailureKind, Limits, LoadError, Runtime,
    RuntimeConfig,
};

use crate::support::hostile;

/// A runtime for up to eight executions, keeping compiled components in `cache_dir`; its
/// programs start under the `sandcron` binary's warden, as the server's do.
pub(crate) fn runtime(cache_dir: Option<std::path::PathBuf>) -> Runtime {
    sandcron::capabilities::process::warden::use_program(std::path::Path::new(env!(
        "CARGO_BIN_EXE_sandcron"
    )));
    Runtime::new(RuntimeConfig {
        cache_dir,
        max_concurrent_executions: 8,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

/// Runs the hostile component with `config`, `grants` and `limits`.
pub(crate) async fn run_hostile(
    runtime: &Runtime,
    config: &[(&str, &str)],
    grants: Grants,
    limits: Limits,
) -> ExecutionOutcome {
    let wasm: Arc<[u8]> = std::fs::read(hostile()).unwrap().into();
    let executable = runtime.load(wasm).await.unwrap();
    let info = ExecutionInfo {
        job_name: "hostile".into(),
        execution_id: "e1".into(),
        attempt: 1,
        executor_config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ExecutionInfo::default()
    };
    runtime
        .execute(
            &executable,
            ExecutionRequest {
                info,
                grants,
                limits,
                listener: None,
            },
        )
        .await
}

fn one_second() -> Limits {
    Limits {
        timeout: Duration::from_secs(1),
        ..Limits::default()
    }
}

#[tokio::test]
async fn an_infinite_loop_ends_at_its_deadline_and_the_host_keeps_serving() {
    let runtime = runtime(None);
    let outcome = run_hostile(
        &runtime,
        &[("mode", "loop")],
        Grants::default(),
        one_second(),
    )
    .await;
    let failure = outcome.result.unwrap_err();
    assert_eq!(failure.kind, FailureKind::TimedOut);
    assert_eq!(failure.to_string(), "timed out after 1s");

    let outcome = run_hostile(&runtime, &[("mode", "ok")], Grants::default(), one_second()).await;
    assert!(outcome.succeeded(), "{:?}", outcome.result);
    assert_eq!(outcome.output.bytes, b"ok\n");
}

#[tokio::test]
async fn a_1_gib_allocation_hits_the_memory_cap() {
    let runtime = runtime(None);
    let outcome = run_hostile(
        &runtime,
        &[("mode", "alloc")],
        Grants::default(),
        Limits::default(),
    )
    .await;
    let failure = outcome.result.unwrap_err();
    assert_eq!(failure.kind, FailureKind::MemoryExceeded);
    assert_eq!(failure.to_string(), "memory limit of 64 MiB exceeded");
}

#[tokio::test]
async fn a_20_mb_flood_keeps_the_tail_and_flags_truncation() {
    let runtime = runtime(None);
    let outcome = run_hostile(
        &runtime,
        &[("mode", "flood")],
        Grants::default(),
        Limits::default(),
    )
    .await;
    assert!(outcome.succeeded(), "{:?}", outcome.result);
    assert!(outcome.output.truncated);
    assert_eq!(outcome.output.bytes.len(), 256_000);
    assert!(outcome.output.total_bytes >= 20_000_000);
    assert!(outcome.output.bytes.ends_with(b"END-OF-FLOOD\n"));
}

#[tokio::test]
async fn a_trap_and_a_panic_are_reported() {
    let runtime = runtime(None);
    for mode in ["trap", "panic"] {
        let outcome = run_hostile(
            &runtime,
            &[("mode", mode)],
            Grants::default(),
            Limits::default(),
        )
        .await;
        let failure = outcome.result.unwrap_err();
        assert_eq!(failure.kind, FailureKind::Trap, "{mode}");
        assert!(
            failure.to_string().starts_with("trap: "),
            "{mode}: {failure}"
        );
    }
}

#[tokio::test]
async fn the_deadline_covers_a_host_call_and_kills_the_process() {
    let runtime = runtime(None);
    let grants = Grants {
        process: ProcessPolicy::any(),
        ..Grants::default()
    };
    let started = std::time::Instant::now();
    let outcome = run_hostile(
        &runtime,
        &[("mode", "sleep"), ("seconds", "30")],
        grants,
        one_second(),
    )
    .await;
    assert_eq!(outcome.result.unwrap_err().kind, FailureKind::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn guest_stdout_and_stderr_go_into_the_output() {
    let runtime = runtime(None);
    let outcome = run_hostile(
        &runtime,
        &[("mode", "stdout")],
        Grants::default(),
        Limits::default(),
    )
    .await;
    assert!(outcome.succeeded());
    let text = String::from_utf8(outcome.output.bytes).unwrap();
    assert!(text.contains("hello from stdout"), "{text}");
    assert!(text.contains("hello from stderr"), "{text}");
}

#[tokio::test]
async fn not_a_component_is_refused() {
    let runtime = runtime(None);
    let core = runtime.load(Arc::from(&b"\0asm\x01\0\0\0"[..])).await;
    assert!(matches!(core, Err(LoadError::CoreModule)));
    let text = runtime.load(Arc::from(&b"#!/bin/sh\necho hi\n"[..])).await;
    assert!(matches!(text, Err(LoadError::NotWasm)));
    let garbage = runtime
        .load(Arc::from(&b"\0asm\x0d\0\x01\0garbage"[..]))
        .await;
    assert!(matches!(garbage, Err(LoadError::Invalid(_))));
}

#[tokio::test]
async fn a_compiled_component_is_kept_on_disk_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let wasm: Arc<[u8]> = std::fs::read(hostile()).unwrap().into();
    let first = runtime(Some(dir.path().to_path_buf()))
        .load(wasm.clone())
        .await
        .unwrap();
    let artifacts: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(artifacts.len(), 1);
    let name = artifacts[0].file_name().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&first.sha256) && name.ends_with(".cwasm"),
        "{name}"
    );
    let modified = artifacts[0].metadata().unwrap().modified().unwrap();

    let again = runtime(Some(dir.path().to_path_buf()))
        .load(wasm)
        .await
        .unwrap();
    assert_eq!(again.sha256, first.sha256);
    let after = std::fs::metadata(artifacts[0].path())
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        modified, after,
        "the artifact was written again instead of reused"
    );
}

#[tokio::test]
async fn the_compiled_cache_keeps_the_most_recently_used_within_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        cache_bytes: 1,
        max_concurrent_executions: 8,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let first = runtime
        .load(std::fs::read(hostile()).unwrap().into())
        .await
        .unwrap();
    let echo = sandcron::executors::BUILT_INS
        .iter()
        .find(|built_in| built_in.name == "echo")
        .unwrap();
    let second = runtime.load(Arc::from(echo.wasm)).await.unwrap();
    assert_eq!(runtime.kept_in_memory().0, 1);
    assert!(runtime.cached(&first.sha256).is_none());
    assert!(runtime.cached(&second.sha256).is_some());
    let artifacts: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert!(artifacts[0].starts_with(&second.sha256), "{artifacts:?}");
}
