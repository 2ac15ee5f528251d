//! The runtime: one wasmtime engine, compiled components cached by SHA-256, and the
//! execution of one job run inside a fresh, limited instance.
//!
//! Every execution gets a memory cap, a wall-clock deadline and an output cap. The
//! deadline is enforced twice: epoch interruption stops a guest that is computing, and a
//! timer around the whole call stops one that is waiting in a host call (a process, a
//! request). A trap, a timeout or a limit ends only that execution.

mod cache;
mod engine;
mod outcome;
mod state;

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use crate::bindings::{Executor, ExecutorPre, types};
use crate::capabilities::{self, Grants};
use crate::output::{DEFAULT_OUTPUT_LIMIT, OutputListener, OutputSink};
pub use cache::DEFAULT_CACHE_BYTES;
pub use outcome::{ExecutionOutcome, Failure, FailureKind};
use state::ExecutionState;

/// Default memory cap of an execution: 64 MiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 64 << 20;
/// Default deadline of an execution: one hour.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// How a [`Runtime`] is set up.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Where precompiled components are kept across restarts; in memory only when `None`.
    pub cache_dir: Option<PathBuf>,
    /// The most compiled code kept, in bytes, in memory and in `cache_dir` each; the least
    /// recently used goes first.
    pub cache_bytes: u64,
    /// How many executions may run at once (the size of the instance pool).
    pub max_concurrent_executions: u32,
    /// The largest memory limit an execution may be given.
    pub max_memory_bytes: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            cache_bytes: DEFAULT_CACHE_BYTES,
            max_concurrent_executions: 1000,
            max_memory_bytes: 4 << 30,
        }
    }
}

/// The limits of one execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory of all the component's memories together, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time from the start, host calls included.
    pub timeout: Duration,
    /// Output bytes kept (the tail).
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: DEFAULT_MEMORY_LIMIT,
            timeout: DEFAULT_TIMEOUT,
            output_bytes: DEFAULT_OUTPUT_LIMIT,
        }
    }
}

/// What the executor is told about the execution.
#[derive(Clone, Debug, Default)]
pub struct ExecutionInfo {
    /// The job's name.
    pub job_name: String,
    /// The execution's id.
    pub execution_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the execution was scheduled for.
    pub scheduled_at: Option<SystemTime>,
    /// The job's `executor_config`.
    pub executor_config: Vec<(String, String)>,
    /// The job's environment.
    pub environment: Vec<(String, String)>,
}

/// One execution to run.
pub struct ExecutionRequest {
    /// What the executor is told.
    pub info: ExecutionInfo,
    /// What it may do.
    pub grants: Grants,
    /// Its limits.
    pub limits: Limits,
    /// Who follows its output live, if anyone.
    pub listener: Option<Arc<dyn OutputListener>>,
}

/// A component ready to run: compiled, linked, and checked against the `executor` world.
pub struct Executable {
    /// SHA-256 of the component's bytes.
    pub sha256: String,
    /// The interfaces it imports (`sandcron:executor/process@0.1.0`, `wasi:http/…`).
    pub imports: Vec<String>,
    pre: ExecutorPre<ExecutionState>,
    component: Component,
}

/// Why a component cannot be used as an executor.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not WebAssembly at all.
    #[error("not a WebAssembly file (it does not start with the \\0asm header)")]
    NotWasm,
    /// A core module instead of a component.
    #[error(
        "a core WebAssembly module, not a component: build it with \
         `cargo build --target wasm32-wasip2` (see docs/sdk.md)"
    )]
    CoreModule,
    /// Invalid or unsupported component bytes.
    #[error("not a valid component: {0}")]
    Invalid(String),
    /// It imports something the host does not provide.
    #[error("it imports an interface the host does not provide: {0}")]
    UnknownImport(String),
    /// It does not export the world's `run` function.
    #[error(
        "it does not implement the sandcron:executor/executor world \
         (no `run` export of the right type): {0}"
    )]
    NotAnExecutor(String),
}

/// Runs executor components. Cheap to clone; one per process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<ExecutionState>,
    cache: cache::ComponentCache,
    shared: capabilities::Shared,
    config: RuntimeConfig,
}

impl Runtime {
    /// Builds the engine and the linker, and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Self> {
        let engine = engine::build(config.max_concurrent_executions, config.max_memory_bytes)?;
        engine::start_ticker(&engine);
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker)?;
        let cache = cache::ComponentCache::new(
            engine.clone(),
            config.cache_dir.clone(),
            config.cache_bytes,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                shared: capabilities::Shared::default(),
                config,
            }),
        })
    }

    /// Compiles (or finds compiled) and links a component, off the async threads, and
    /// keeps it compiled.
    pub async fn load(&self, wasm: Arc<[u8]>) -> Result<Arc<Executable>, LoadError> {
        let runtime = self.clone();
        tokio::task::spawn_blocking(move || runtime.load_blocking(&wasm))
            .await
            .unwrap_or_else(|e| Err(LoadError::Invalid(format!("compilation panicked: {e}"))))
    }

    /// [`Runtime::load`], blocking the calling thread.
    pub fn load_blocking(&self, wasm: &[u8]) -> Result<Arc<Executable>, LoadError> {
        let executable = self.check_blocking(wasm)?;
        self.keep(executable.clone());
        Ok(executable)
    }

    /// Compiles (or finds compiled) and links a component, off the async threads, keeping
    /// nothing: for an upload, which is kept ([`Runtime::keep`]) only once accepted.
    pub async fn check(&self, wasm: Arc<[u8]>) -> Result<Arc<Executable>, LoadError> {
        let runtime = self.clone();
        tokio::task::spawn_blocking(move || runtime.check_blocking(&wasm))
            .await
            .unwrap_or_else(|e| Err(LoadError::Invalid(format!("compilation panicked: {e}"))))
    }

    /// Keeps a checked component compiled, in memory and on disk, for [`Runtime::cached`]
    /// and later starts. Blocking (it may write the artifact).
    pub fn keep(&self, executable: Arc<Executable>) {
        self.inner.cache.keep(executable);
    }

    /// The component kept compiled under `sha256`, if it still is.
    pub fn cached(&self, sha256: &str) -> Option<Arc<Executable>> {
        self.inner.cache.lookup(sha256)
    }

    /// How many components are kept compiled in memory, and their compiled bytes.
    pub fn kept_in_memory(&self) -> (usize, u64) {
        self.inner.cache.kept_in_memory()
    }

    fn check_blocking(&self, wasm: &[u8]) -> Result<Arc<Executable>, LoadError> {
        check_header(wasm)?;
        let sha256 = hex::encode(Sha256::digest(wasm));
        if let Some(kept) = self.inner.cache.lookup(&sha256) {
            return Ok(kept);
        }
        let component = self
            .inner
            .cache
            .compile(&sha256, wasm)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let imports = import_names(&self.inner.engine, &component);
        if let Some(why) = capabilities::left_out(&imports) {
            return Err(LoadError::UnknownImport(why));
        }
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnknownImport(format!("{e:#}")))?;
        let pre = ExecutorPre::new(pre).map_err(|e| LoadError::NotAnExecutor(format!("{e:#}")))?;
        Ok(Arc::new(Executable {
            sha256,
            imports,
            pre,
            component,
        }))
    }

    /// Waits up to `within` for what capabilities left running in the background after
    /// executions ended (the removal of a dropped run's container). Call it before the
    /// process exits.
    pub async fn settle(&self, within: Duration) {
        self.inner.shared.settle(within).await;
    }

    /// Runs one execution to its end. Never panics on the guest's account: every trap,
    /// timeout and limit comes back as a failed outcome.
    pub async fn execute(
        &self,
        executable: &Executable,
        request: ExecutionRequest,
    ) -> ExecutionOutcome {
        let started = Instant::now();
        let limits = request.limits;
        let memory_bytes = limits.memory_bytes.min(self.inner.config.max_memory_bytes);
        let sink = OutputSink::new(limits.output_bytes, request.listener);
        let deadline = started + limits.timeout;
        let mut store = Store::new(
            &self.inner.engine,
            ExecutionState::new(&request.grants, &sink, &self.inner.shared, memory_bytes),
        );
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        let execution = to_wit(
            &request.info,
            deadline.saturating_duration_since(Instant::now()),
        );
        let call = async {
            let instance = executable.pre.instantiate_async(&mut store).await?;
            run(&instance, &mut store, &execution).await
        };
        let result = match tokio::time::timeout_at(deadline.into(), call).await {
            Err(_elapsed) => Err(Failure::timed_out(limits.timeout)),
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(failure))) => Err(Failure::from_guest(failure)),
            Ok(Err(error)) => Err(classify_error(
                &error,
                store.data().limiter.exceeded,
                limits.timeout,
                memory_bytes,
            )),
        };
        if let Err(failure) = &result
            && !matches!(
                failure.kind,
                FailureKind::InvalidConfig
                    | FailureKind::Denied
                    | FailureKind::Failed
                    | FailureKind::Unavailable
            )
        {
            tracing::debug!(reason = %failure, "execution ended by the host");
        }
        drop(store);
        ExecutionOutcome {
            result,
            output: sink.captured(),
            duration: started.elapsed(),
        }
    }
}

async fn run(
    instance: &Executor,
    store: &mut Store<ExecutionState>,
    execution: &types::Execution,
) -> wasmtime::Result<Result<(), types::Failure>> {
    instance.call_run(store, execution).await
}

/// Maps an error from instantiation or the call to what the user should read.
fn classify_error(
    error: &wasmtime::Error,
    memory_exceeded: bool,
    timeout: Duration,
    memory_bytes: u64,
) -> Failure {
    if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
        return Failure::timed_out(timeout);
    }
    if memory_exceeded {
        return Failure::memory_exceeded(memory_bytes);
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return Failure::new(FailureKind::Trap, format!("trap: {trap}"));
    }
    let text = format!("{error:#}");
    if text.contains("concurrent") || text.contains("pooling") {
        return Failure::new(
            FailureKind::Host,
            format!("no room for another execution right now: {text}"),
        );
    }
    Failure::new(FailureKind::Trap, format!("trap: {text}"))
}

fn to_wit(info: &ExecutionInfo, time_left: Duration) -> types::Execution {
    let scheduled_at = info.scheduled_at.unwrap_or_else(SystemTime::now);
    types::Execution {
        job_name: info.job_name.clone(),
        execution_id: info.execution_id.clone(),
        attempt: info.attempt.max(1),
        scheduled_at_ms: scheduled_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        time_left_ms: time_left.as_millis() as u64,
        executor_config: info.executor_config.clone(),
        environment: info.environment.clone(),
    }
}

fn check_header(wasm: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_VERSION: &[u8] = &[1, 0, 0, 0];
    if wasm.len() < 8 || &wasm[..4] != MAGIC {
        return Err(LoadError::NotWasm);
    }
    if &wasm[4..8] == CORE_VERSION {
        return Err(LoadError::CoreModule);
    }
    Ok(())
}

fn import_names(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}
