//! Compiling a component in a child process, under a budget of CPU time, memory and
//! wall-clock time that the server's shutdown and a dropped request can cut short.
//!
//! An upload is the tenant's code, and compiling it is work the tenant chooses: its cost
//! grows with the square of a function's size ([`super::preflight`] bounds what it can
//! see cheaply; this bounds the rest). The server re-runs its own executable as
//! `sandcron-compile` ([`MARKER`], set up by [`run_if_asked`] at the top of `main`, as the
//! process capability's warden is), hands it the component on its stdin and the path of
//! an artifact file in a private temporary directory. The child lowers its own limits
//! (`RLIMIT_CPU`, `RLIMIT_DATA`, no core file), builds an engine with the server's
//! compiler settings ([`super::engine::compiler_config`], so that its artifact loads in
//! the server's engine), precompiles the component and writes the artifact; the server
//! then loads it (`Component::deserialize_file`).
//!
//! The child dies with what waits for it: the upload's request dropped, the wall-clock
//! timeout, or [`Runtime::stop_compiles`](super::Runtime::stop_compiles) at shutdown kill
//! it (`kill_on_drop`), and the kernel kills it when the server dies
//! (`PR_SET_PDEATHSIG`). A program that links the library without calling
//! [`run_if_asked`] (the tests, an embedder) compiles in its own process.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sandcron_sdk::size::format_size;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::helper_process::lower_limits;

/// The first argument that makes the `sandcron` binary a compiler child.
pub const MARKER: &str = "__sandcron_compile__";
/// The name the child runs under (its `argv[0]`), as `ps` shows it.
const NAME: &str = "sandcron-compile";
/// The child's exit code when the component is not valid (its stderr says why).
const INVALID: i32 = 1;
/// The child's exit code when an allocation failed within its memory limit.
const OUT_OF_MEMORY: i32 = 2;
/// The child's exit code when it was started wrongly.
const USAGE: i32 = 127;
/// The most of the child's stderr kept for an error message.
const MAX_MESSAGE_BYTES: usize = 4096;

/// The executable to re-run as a compiler, once enabled.
static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// The budget of one compile in a child process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileBudget {
    /// CPU time, all the compiler's threads together (`RLIMIT_CPU`).
    pub cpu: Duration,
    /// Writable memory (`RLIMIT_DATA`: heap, anonymous mappings, thread stacks).
    pub memory_bytes: u64,
}

impl Default for CompileBudget {
    /// 30 s of CPU and 2 GiB. The templates' components, the largest real ones, compile
    /// in a debug build (`sandcron __sandcron_compile__` under `time`) in 16 s of CPU and
    /// 410 MiB (JavaScript, 13.5 MB) and 13 s and 370 MiB (Python, 18.8 MB); a release
    /// build takes a third of the time. A function of 80,000 nested blocks (560 KB) takes
    /// 33 s.
    fn default() -> Self {
        Self {
            cpu: Duration::from_secs(30),
            memory_bytes: 2 << 30,
        }
    }
}

impl CompileBudget {
    /// The wall-clock time a compile may take: its CPU time on one thread, and room for a
    /// loaded machine. A child that outlives it (stopped, or waiting on something) is
    /// killed.
    pub fn wall_clock(&self) -> Duration {
        self.cpu * 2 + Duration::from_secs(10)
    }
}

/// Why a compile in a child process failed.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The component is not valid; wasmtime's reason.
    #[error("{0}")]
    Invalid(String),
    /// It took all the CPU time of its budget.
    #[error("compile exceeded {} s of CPU", .0.as_secs())]
    Cpu(Duration),
    /// It needed more memory than its budget.
    #[error("compile exceeded {} of memory", format_size(*.0))]
    Memory(u64),
    /// It took longer than [`CompileBudget::wall_clock`].
    #[error("compile exceeded {} s of wall-clock time", .0.as_secs())]
    WallClock(Duration),
    /// The server is stopping.
    #[error("the server is stopping; upload the component again once it is back")]
    Stopped,
    /// The child could not be started or ended otherwise.
    #[error("the compiler process failed: {0}")]
    Child(String),
}

/// Runs the compiler and exits when this process was started as one; otherwise enables
/// compiling in a child for this process (this executable is one). Call it first thing in
/// `main`.
pub fn run_if_asked() {
    crate::helper_process::run_if_asked(MARKER, NAME, USAGE, &PROGRAM, |args| {
        Orders::parse(args).map(|orders| orders.run())
    });
}

/// The executable to compile in, if enabled.
pub fn program() -> Option<&'static Path> {
    PROGRAM.get().map(PathBuf::as_path)
}

/// What a child is asked to do: its budget and where to write the artifact.
struct Orders {
    budget: CompileBudget,
    artifact: PathBuf,
}

impl Orders {
    fn to_args(&self) -> Vec<OsString> {
        vec![
            self.budget.cpu.as_secs().to_string().into(),
            self.budget.memory_bytes.to_string().into(),
            self.artifact.clone().into_os_string(),
        ]
    }

    fn parse(args: Vec<OsString>) -> Result<Self, String> {
        let [cpu, memory, artifact] = <[OsString; 3]>::try_from(args)
            .map_err(|args| format!("expected 3 arguments, got {}", args.len()))?;
        let number = |value: OsString, what: &str| {
            value
                .to_str()
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or_else(|| format!("{what}: {value:?} is not a whole number"))
        };
        Ok(Self {
            budget: CompileBudget {
                cpu: Duration::from_secs(number(cpu, "cpu")?),
                memory_bytes: number(memory, "memory")?,
            },
            artifact: PathBuf::from(artifact),
        })
    }

    /// The child's work: limits, the component from stdin, the artifact to its file.
    fn run(self) -> i32 {
        exit_on_unhandled_out_of_memory();
        if let Err(error) = self.limit() {
            eprintln!("{NAME}: cannot set its limits: {error}");
            return USAGE;
        }
        let mut wasm = Vec::new();
        if let Err(error) = std::io::stdin().read_to_end(&mut wasm) {
            eprintln!("{NAME}: cannot read the component: {error}");
            return USAGE;
        }
        let compiled = Engine::new(&super::engine::compiler_config())
            .and_then(|engine| engine.precompile_component(&wasm));
        match compiled {
            Ok(artifact) => match std::fs::write(&self.artifact, artifact) {
                Ok(()) => 0,
                Err(error) => {
                    eprintln!("cannot write the artifact: {error}");
                    USAGE
                }
            },
            Err(error) => {
                eprintln!("{error:#}");
                let out_of_memory = error.chain().any(|cause| {
                    cause
                        .downcast_ref::<std::io::Error>()
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::OutOfMemory)
                });
                if out_of_memory {
                    OUT_OF_MEMORY
                } else {
                    INVALID
                }
            }
        }
    }

    /// Lowers this process's limits to the budget: the CPU time (`SIGXCPU` at the soft
    /// limit, `SIGKILL` a second later), writable memory, and no core file.
    fn limit(&self) -> std::io::Result<()> {
        let cpu = self.budget.cpu.as_secs().max(1);
        let memory = self.budget.memory_bytes;
        // SAFETY: system calls on local memory only.
        unsafe {
            lower_limits(libc::RLIMIT_CPU, cpu, cpu + 1)?;
            lower_limits(libc::RLIMIT_DATA, memory, memory)?;
            lower_limits(libc::RLIMIT_CORE, 0, 0)
        }
    }
}

/// Compiles `wasm` in a child process of `program` within `budget`, for `engine` (built
/// from [`super::engine::compiler_config`]); the artifact goes through a private
/// temporary directory in `scratch`. Ends early, killing the child, when `stopping` is
/// cancelled or the returned future is dropped.
pub async fn compile_in_child(
    program: &Path,
    engine: &Engine,
    wasm: Arc<[u8]>,
    budget: CompileBudget,
    scratch: &Path,
    stopping: &CancellationToken,
) -> Result<Component, CompileError> {
    crate::private_files::create_dir(scratch)
        .map_err(|e| CompileError::Child(format!("{}: {e}", scratch.display())))?;
    let dir = tempfile::Builder::new()
        .prefix("compile-")
        .tempdir_in(scratch)
        .map_err(|e| CompileError::Child(format!("a temporary directory: {e}")))?;
    let orders = Orders {
        budget,
        artifact: dir.path().join("component.cwasm"),
    };
    let mut command = tokio::process::Command::new(program);
    command
        .arg0(NAME)
        .arg(MARKER)
        .args(orders.to_args())
        .env_clear()
        // mimalloc (the process's allocator, `memory.rs`) commits its 1 GiB arenas at
        // once where the system overcommits; under `RLIMIT_DATA` that would count the
        // whole arena. Committed as used, the limit counts what the compile takes.
        .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: one `prctl` system call on integers, async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            let signal = libc::SIGKILL as libc::c_ulong;
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| CompileError::Child(format!("{}: {e}", program.display())))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let feed = async move {
        // A child that ends early closes the pipe; its status says why.
        let _ = stdin.write_all(&wasm).await;
    };
    let ended = async {
        let ((), output) = tokio::join!(feed, child.wait_with_output());
        output
    };
    let wall_clock = budget.wall_clock();
    // Dropping `ended` drops the child, which kills it.
    let output = tokio::select! {
        ended = tokio::time::timeout(wall_clock, ended) => match ended {
            Err(_elapsed) => return Err(CompileError::WallClock(wall_clock)),
            Ok(output) => output.map_err(|e| CompileError::Child(e.to_string()))?,
        },
        () = stopping.cancelled() => return Err(CompileError::Stopped),
    };
    verdict(output.status, &output.stderr, budget)?;
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || {
        // SAFETY: the artifact was written just now by this executable, compiled with
        // this engine's compiler settings, into a directory only this process's user can
        // reach (`tempdir` creates it 0700); nothing from outside is deserialized.
        let loaded = unsafe { Component::deserialize_file(&engine, &orders.artifact) };
        drop(dir);
        loaded.map_err(|e| CompileError::Child(format!("loading its artifact: {e:#}")))
    })
    .await
    .map_err(|e| CompileError::Child(e.to_string()))?
}

/// How wasmtime's compiler panics when an allocation it cannot hand back as an error
/// fails (`wasmtime-internal-core`'s `PanicOnOom`).
const UNHANDLED_OUT_OF_MEMORY: &str = "unhandled out-of-memory error";

/// Makes the child exit with [`OUT_OF_MEMORY`] when the compiler panics for want of
/// memory, on whichever of the compile's threads: under its memory limit that is the
/// budget reached, like an allocation that aborts. Other panics are reported as before.
fn exit_on_unhandled_out_of_memory() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info
            .payload_as_str()
            .is_some_and(|message| message.starts_with(UNHANDLED_OUT_OF_MEMORY))
        {
            std::process::exit(OUT_OF_MEMORY);
        }
        report(info);
    }));
}

/// What the child's exit means.
fn verdict(status: ExitStatus, stderr: &[u8], budget: CompileBudget) -> Result<(), CompileError> {
    let message = || {
        let end = stderr.len().min(MAX_MESSAGE_BYTES);
        String::from_utf8_lossy(&stderr[..end]).trim().to_string()
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(INVALID), _) => Err(CompileError::Invalid(message())),
        (Some(OUT_OF_MEMORY), _) => Err(CompileError::Memory(budget.memory_bytes)),
        // The soft CPU limit's signal, or the hard limit's kill a second after it.
        (_, Some(libc::SIGXCPU | libc::SIGKILL)) => Err(CompileError::Cpu(budget.cpu)),
        // Rust aborts when an allocation fails.
        (_, Some(libc::SIGABRT)) => Err(CompileError::Memory(budget.memory_bytes)),
        _ => Err(CompileError::Child(format!("{status}: {}", message()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_round_trip_through_the_arguments() {
        let orders = Orders {
            budget: CompileBudget {
                cpu: Duration::from_secs(7),
                memory_bytes: 1 << 30,
            },
            artifact: PathBuf::from("/tmp/x/component.cwasm"),
        };
        let parsed = Orders::parse(orders.to_args()).unwrap();
        assert_eq!(parsed.budget, orders.budget);
        assert_eq!(parsed.artifact, orders.artifact);
        assert!(Orders::parse(vec!["x".into()]).is_err());
    }

    #[test]
    fn the_exit_names_the_limit_hit() {
        let budget = CompileBudget::default();
        let signalled = |signal| ExitStatus::from_raw(signal);
        let exited = |code: i32| ExitStatus::from_raw(code << 8);
        assert_eq!(
            verdict(signalled(libc::SIGXCPU), b"", budget)
                .unwrap_err()
                .to_string(),
            "compile exceeded 30 s of CPU"
        );
        assert!(matches!(
            verdict(exited(OUT_OF_MEMORY), b"", budget),
            Err(CompileError::Memory(_))
        ));
        assert_eq!(
            verdict(exited(INVALID), b"bad magic\n", budget)
                .unwrap_err()
                .to_string(),
            "bad magic"
        );
        assert!(verdict(exited(0), b"", budget).is_ok());
    }
}
