//! Per-execution sandbox overhead of the `echo` executor (store + instantiate + call +
//! drop, warm), beside a bare wasmtime instantiate + call of the same component in the same
//! harness, and the compile time of the built-in components.
//!
//! Run: `cargo bench -p sandcron --bench exec_overhead` (add `-- --iterations N`).
//! Results go in docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sandcron::bindings::{Executor, ExecutorPre, output, types};
use sandcron::executors;
use sandcron::runtime::{ExecutionInfo, ExecutionRequest, Limits, Runtime, RuntimeConfig};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

fn main() -> anyhow::Result<()> {
    let iterations = std::env::args()
        .skip_while(|a| a != "--iterations")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000usize);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let echo = executors::built_in("echo").expect("echo is built in").wasm;

    let sandcron = tokio.block_on(sandcron_runs(echo, iterations))?;
    let bare = tokio.block_on(bare_runs(echo, iterations))?;
    println!(
        "executions measured: {iterations} each, after {} warm-up runs",
        iterations / 10
    );
    println!("{:<34} {:>10} {:>10} {:>10}", "", "median", "p99", "mean");
    report("sandcron Runtime::execute (echo)", &sandcron);
    report("bare wasmtime instantiate + call", &bare);
    println!(
        "overhead ratio (median): {:.2}x",
        median(&sandcron).as_secs_f64() / median(&bare).as_secs_f64()
    );

    println!();
    println!(
        "{:<34} {:>10} {:>10}",
        "compile (Component::new)", "size", "time"
    );
    let engine = Engine::default();
    for built_in in executors::BUILT_INS {
        let started = Instant::now();
        Component::new(&engine, built_in.wasm)?;
        println!(
            "{:<34} {:>9}K {:>10}",
            built_in.name,
            built_in.wasm.len() / 1024,
            format!("{:.1?}", started.elapsed())
        );
    }
    let dir = tempfile_dir()?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.clone()),
        max_concurrent_executions: 4,
        ..RuntimeConfig::default()
    })?;
    runtime.load_blocking(echo)?;
    let restarted = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.clone()),
        max_concurrent_executions: 4,
        ..RuntimeConfig::default()
    })?;
    let started = Instant::now();
    restarted.load_blocking(echo)?;
    println!(
        "{:<34} {:>10} {:>10}",
        "echo from the disk cache (restart)",
        "",
        format!("{:.1?}", started.elapsed())
    );
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

async fn sandcron_runs(wasm: &[u8], iterations: usize) -> anyhow::Result<Vec<Duration>> {
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_executions: 16,
        ..RuntimeConfig::default()
    })?;
    let executable = runtime.load(Arc::from(wasm)).await?;
    let info = ExecutionInfo {
        job_name: "bench".into(),
        execution_id: "bench-1".into(),
        attempt: 1,
        executor_config: vec![("message".into(), "hi".into())],
        ..ExecutionInfo::default()
    };
    let mut times = Vec::with_capacity(iterations);
    for round in 0..iterations + iterations / 10 {
        let request = ExecutionRequest {
            info: info.clone(),
            grants: Default::default(),
            limits: Limits::default(),
            listener: None,
        };
        let started = Instant::now();
        let outcome = runtime.execute(&executable, request).await;
        let elapsed = started.elapsed();
        assert!(outcome.succeeded(), "{:?}", outcome.result);
        if round >= iterations / 10 {
            times.push(elapsed);
        }
    }
    Ok(times)
}

/// The least a host can do: a store with WASI and a no-op `output`, no limits, no deadline.
struct Bare {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl output::Host for Bare {
    async fn write(&mut self, _channel: output::Channel, _chunk: Vec<u8>) {}
}

async fn bare_runs(wasm: &[u8], iterations: usize) -> anyhow::Result<Vec<Duration>> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(16)
        .total_core_instances(128)
        .total_memories(32)
        .total_tables(128)
        .total_stacks(16);
    let mut config = Config::new();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config)?;
    let component = Component::new(&engine, wasm)?;
    let mut linker: Linker<Bare> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    output::add_to_linker::<_, HasSelf<Bare>>(&mut linker, |s| s)?;
    let pre = ExecutorPre::new(linker.instantiate_pre(&component)?)?;
    let execution = types::Execution {
        job_name: "bench".into(),
        execution_id: "bench-1".into(),
        attempt: 1,
        scheduled_at_ms: 0,
        time_left_ms: 3_600_000,
        executor_config: vec![("message".into(), "hi".into())],
        environment: vec![],
    };
    let mut times = Vec::with_capacity(iterations);
    for round in 0..iterations + iterations / 10 {
        let started = Instant::now();
        let mut store = Store::new(
            &engine,
            Bare {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
            },
        );
        let instance: Executor = pre.instantiate_async(&mut store).await?;
        instance
            .call_run(&mut store, &execution)
            .await?
            .expect("echo succeeds");
        drop(store);
        let elapsed = started.elapsed();
        if round >= iterations / 10 {
            times.push(elapsed);
        }
    }
    Ok(times)
}

fn median(times: &[Duration]) -> Duration {
    percentile(times, 0.5)
}

fn percentile(times: &[Duration], p: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, times: &[Duration]) {
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "{:<34} {:>10} {:>10} {:>10}",
        name,
        format!("{:.1?}", median(times)),
        format!("{:.1?}", percentile(times, 0.99)),
        format!("{mean:.1?}")
    );
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("sandcron-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
