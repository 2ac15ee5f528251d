//! The runtime: one wasmtime engine, compiled components cached by SHA-256, and the
//! execution of one job run inside a fresh, limited instance.
//!
//! Every execution gets a memory cap, a wall-clock deadline and an output cap. The
//! deadline is enforced twice: epoch interruption stops a guest that is computing, and a
//! timer around the whole call stops one that is waiting in a host call (a process, a
//! request). A trap, a timeout or a limit ends only that execution.

mod cache;
pub mod compiler;
mod engine;
mod outcome;
mod preflight;
mod state;

use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use crate::bindings::processor::{ProcessorPre, processing};
use crate::bindings::{ExecutorPre, types};
use crate::capabilities::{self, Grants};
use crate::output::{DEFAULT_OUTPUT_LIMIT, OutputListener, OutputSink};
pub use cache::DEFAULT_CACHE_BYTES;
pub use compiler::{CompileBudget, CompileError};
pub use outcome::{ExecutionOutcome, Failure, FailureKind};
pub use preflight::{Shape, ShapeExceeded, ShapeLimits};
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
    /// What a component may hold before it is compiled (checked before every compile).
    pub shape_limits: ShapeLimits,
    /// When set, every compile runs in a child process within this budget (when the
    /// binary enabled it: `compiler::run_if_asked`); otherwise in this process.
    pub compile_budget: Option<CompileBudget>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            cache_bytes: DEFAULT_CACHE_BYTES,
            max_concurrent_executions: 1000,
            max_memory_bytes: 4 << 30,
            shape_limits: ShapeLimits::default(),
            compile_budget: None,
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

/// A component ready to run: compiled, linked, and checked against the `executor` world
/// or the `processor` world.
pub struct Executable {
    /// SHA-256 of the component's bytes.
    pub sha256: String,
    /// The interfaces it imports (`sandcron:executor/process@0.1.0`, `wasi:http/…`).
    pub imports: Vec<String>,
    entry: Entry,
    component: Component,
}

/// The world a component implements, with its linked export.
enum Entry {
    Executor(ExecutorPre<ExecutionState>),
    Processor(ProcessorPre<ExecutionState>),
}

impl Executable {
    /// Whether it is a processor (the `processor` world) rather than an executor.
    pub fn is_processor(&self) -> bool {
        matches!(self.entry, Entry::Processor(_))
    }

    /// `executor` or `processor`: the world it implements.
    pub fn kind(&self) -> &'static str {
        if self.is_processor() {
            "processor"
        } else {
            "executor"
        }
    }
}

/// An ended execution handed to a processor component, with its output.
#[derive(Clone, Debug)]
pub struct ProcessorInput {
    /// The execution, as `sandcron:executor/processing` describes it (`time-left-ms`
    /// is set by the runtime).
    pub execution: processing::EndedExecution,
    /// Its output, as the steps before left it.
    pub output: Vec<u8>,
}

/// What a processor component gave back.
#[derive(Debug)]
pub struct ProcessorOutcome {
    /// The output to pass on, or why it failed.
    pub result: Result<Vec<u8>, Failure>,
    /// What the processor wrote itself (its log).
    pub log: crate::output::CapturedOutput,
}

/// What the runtime calls in an instance.
enum Call<'a> {
    /// An executor's `run`.
    Run(&'a ExecutionInfo),
    /// A processor's `process-output`.
    Process(&'a ProcessorInput),
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
    /// Past a limit of what a component may hold, checked before it is compiled.
    #[error("refused before compiling: {0}")]
    TooComplex(ShapeExceeded),
    /// Its compile went past its budget, or was stopped.
    #[error("{0}")]
    Compile(CompileError),
    /// Invalid or unsupported component bytes.
    #[error("not a valid component: {0}")]
    Invalid(String),
    /// It imports something the host does not provide.
    #[error("it imports an interface the host does not provide: {0}")]
    UnknownImport(String),
    /// It implements neither the `executor` world nor the `processor` world.
    #[error(
        "it does not implement the sandcron:executor/executor world (a `run` export), nor \
         the sandcron:executor/processor world (a `process-output` export): {0}"
    )]
    NotAnExecutor(String),
}

/// What [`Runtime::check`] finds of a component before compiling it.
enum Found {
    /// Kept compiled in memory, linked.
    Kept(Arc<Executable>),
    /// Precompiled on disk (its SHA-256, the loaded component).
    Precompiled(String, Component),
    /// To compile (its SHA-256).
    Uncompiled(String),
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
    /// Cancelled when the process stops: compiles in children end at once.
    stopping: CancellationToken,
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
                stopping: CancellationToken::new(),
            }),
        })
    }

    /// Compiles (or finds compiled) and links a component, off the async threads, and
    /// keeps it compiled.
    pub async fn load(&self, wasm: Arc<[u8]>) -> Result<Arc<Executable>, LoadError> {
        let executable = self.check(wasm).await?;
        let runtime = self.clone();
        let kept = executable.clone();
        // Writing the artifact is file IO: off the async threads.
        let _ = tokio::task::spawn_blocking(move || runtime.keep(kept)).await;
        Ok(executable)
    }

    /// [`Runtime::load`], blocking the calling thread, which must not be in an async
    /// runtime (it runs one of its own for the call).
    pub fn load_blocking(&self, wasm: &[u8]) -> Result<Arc<Executable>, LoadError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LoadError::Invalid(format!("cannot start an async runtime: {e}")))?
            .block_on(self.load(Arc::from(wasm)))
    }

    /// Compiles (or finds compiled) and links a component, keeping nothing: for an
    /// upload, which is kept ([`Runtime::keep`]) only once accepted. The cheap checks
    /// (`preflight.rs`) come first; the compile runs within the budget when there is one.
    pub async fn check(&self, wasm: Arc<[u8]>) -> Result<Arc<Executable>, LoadError> {
        let runtime = self.clone();
        let bytes = wasm.clone();
        let found = self
            .blocking(move || runtime.find(&bytes))
            .await
            .and_then(|found| found)?;
        let (sha256, component) = match found {
            Found::Kept(executable) => return Ok(executable),
            Found::Precompiled(sha256, component) => (sha256, component),
            Found::Uncompiled(sha256) => (sha256, self.compile(wasm).await?),
        };
        let runtime = self.clone();
        self.blocking(move || runtime.link(sha256, component))
            .await
            .and_then(|linked| linked)
    }

    /// Ends the compiles running in child processes now, and refuses those to come: the
    /// process is stopping.
    pub fn stop_compiles(&self) {
        self.inner.stopping.cancel();
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

    /// Runs `work` off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LoadError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| LoadError::Invalid(format!("compilation panicked: {e}")))
    }

    /// What there is of `wasm` already, after the header and the cheap checks.
    fn find(&self, wasm: &[u8]) -> Result<Found, LoadError> {
        check_header(wasm)?;
        let sha256 = hex::encode(Sha256::digest(wasm));
        if let Some(kept) = self.inner.cache.lookup(&sha256) {
            return Ok(Found::Kept(kept));
        }
        Shape::of(wasm)
            .check(&self.inner.config.shape_limits)
            .map_err(LoadError::TooComplex)?;
        Ok(match self.inner.cache.precompiled(&sha256) {
            Some(component) => Found::Precompiled(sha256, component),
            None => Found::Uncompiled(sha256),
        })
    }

    /// Compiles `wasm`: in a child process within the budget when there is one and the
    /// binary enabled it, else here.
    async fn compile(&self, wasm: Arc<[u8]>) -> Result<Component, LoadError> {
        let config = &self.inner.config;
        if let (Some(budget), Some(program)) = (config.compile_budget, compiler::program()) {
            let scratch = config.cache_dir.clone().unwrap_or_else(std::env::temp_dir);
            return compiler::compile_in_child(
                program,
                &self.inner.engine,
                wasm,
                budget,
                &scratch,
                &self.inner.stopping,
            )
            .await
            .map_err(|error| match error {
                CompileError::Invalid(why) => LoadError::Invalid(why),
                other => LoadError::Compile(other),
            });
        }
        let engine = self.inner.engine.clone();
        self.blocking(move || Component::new(&engine, &wasm))
            .await?
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))
    }

    /// Links a compiled component and checks it against the two worlds.
    fn link(&self, sha256: String, component: Component) -> Result<Arc<Executable>, LoadError> {
        let imports = import_names(&self.inner.engine, &component);
        if let Some(why) = capabilities::left_out(&imports) {
            return Err(LoadError::UnknownImport(why));
        }
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnknownImport(format!("{e:#}")))?;
        let entry = match ExecutorPre::new(pre.clone()) {
            Ok(executor) => Entry::Executor(executor),
            Err(not_executor) => match ProcessorPre::new(pre) {
                Ok(processor) => Entry::Processor(processor),
                Err(_) => return Err(LoadError::NotAnExecutor(format!("{not_executor:#}"))),
            },
        };
        Ok(Arc::new(Executable {
            sha256,
            imports,
            entry,
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
        let sink = OutputSink::new(request.limits.output_bytes, request.listener);
        let result = self
            .call(
                executable,
                Call::Run(&request.info),
                &request.grants,
                request.limits,
                &sink,
            )
            .await
            .map(|_| ());
        ExecutionOutcome {
            result,
            output: sink.captured(),
            duration: started.elapsed(),
        }
    }

    /// Runs a processor component over an ended execution, in a sandbox like an
    /// execution's, under `grants` and `limits`. Never panics on the guest's account.
    pub async fn process(
        &self,
        executable: &Executable,
        input: &ProcessorInput,
        grants: &Grants,
        limits: Limits,
    ) -> ProcessorOutcome {
        let sink = OutputSink::new(limits.output_bytes, None);
        let result = self
            .call(executable, Call::Process(input), grants, limits, &sink)
            .await
            .map(|output| output.unwrap_or_default());
        ProcessorOutcome {
            result,
            log: sink.captured(),
        }
    }

    /// Instantiates `executable` in a fresh, limited store and makes `call`; gives what a
    /// processor returned (`None` for an executor).
    async fn call(
        &self,
        executable: &Executable,
        call: Call<'_>,
        grants: &Grants,
        limits: Limits,
        sink: &OutputSink,
    ) -> Result<Option<Vec<u8>>, Failure> {
        let started = Instant::now();
        let memory_bytes = limits.memory_bytes.min(self.inner.config.max_memory_bytes);
        let deadline = started + limits.timeout;
        let mut store = Store::new(
            &self.inner.engine,
            ExecutionState::new(grants, sink, &self.inner.shared, memory_bytes),
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
        let time_left = || deadline.saturating_duration_since(Instant::now());
        let work = async {
            match (&executable.entry, call) {
                (Entry::Executor(pre), Call::Run(info)) => {
                    let execution = to_wit(info, time_left());
                    let instance = pre.instantiate_async(&mut store).await?;
                    instance
                        .call_run(&mut store, &execution)
                        .await
                        .map(|result| result.map(|()| None))
                }
                (Entry::Processor(pre), Call::Process(input)) => {
                    let mut execution = input.execution.clone();
                    execution.time_left_ms = time_left().as_millis() as u64;
                    let instance = pre.instantiate_async(&mut store).await?;
                    instance
                        .call_process_output(&mut store, &execution, &input.output)
                        .await
                        .map(|result| result.map(Some))
                }
                (_, _) => Err(wasmtime::Error::msg(format!(
                    "the component is a {}, called as the other kind",
                    executable.kind()
                ))),
            }
        };
        let result = match tokio::time::timeout_at(deadline.into(), work).await {
            Err(_elapsed) => Err(Failure::timed_out(limits.timeout)),
            Ok(Ok(Ok(returned))) => Ok(returned),
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
        result
    }
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
