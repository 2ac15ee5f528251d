//! `sandcron exec`: one execution of a built-in executor or a component file, with its
//! output printed as it streams.
//!
//! It runs as the machine's operator, as Dkron's shell does: the built-in `shell` may run
//! any program unless `--allow-program` narrows it. No network is granted unless
//! `--allow-host` says so, and a component given by path gets only what the flags grant.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use sandcron_sdk::duration::parse_duration;
use sandcron_sdk::size::parse_size;

use super::CliError;
use crate::capabilities::Grants;
use crate::executors;
use crate::output::{OutputListener, Stream};
use crate::runtime::{ExecutionInfo, ExecutionRequest, Limits, Runtime, RuntimeConfig};

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A built-in executor (`sandcron exec --help` lists them) or the path of a
    /// component (.wasm).
    #[arg(long_help = executors::help())]
    executor: String,
    /// An executor_config entry, KEY=VALUE; repeat for more.
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// A job environment variable handed to the executor, KEY=VALUE; repeat for more.
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Allow outgoing HTTP to scheme://host[:port] (`*` and `*.domain` wildcards); repeat.
    #[arg(long = "allow-host", value_name = "PATTERN")]
    allow_host: Vec<String>,
    /// Allow running this program (a path or a name in PATH); repeat. Narrows the
    /// built-in shell, which otherwise may run anything.
    #[arg(long = "allow-program", value_name = "PATH")]
    allow_program: Vec<String>,
    /// Grant a capability one more pattern, CAPABILITY=PATTERN (`http=https://*.example.com`,
    /// `process=/usr/bin/pg_dump`, `nats=127.0.0.1:4222/jobs.>`); repeat.
    #[arg(long = "allow", value_name = "CAPABILITY=PATTERN")]
    allow: Vec<String>,
    /// Grant a secret, NAME=VALUE, or NAME=@FILE to read the value from a file; repeat.
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    secret: Vec<String>,
    /// Deadline of the execution, a duration such as 30s or 1h30m [default: 1h].
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Memory limit of the component, such as 64MB or 1G [default: 64 MiB].
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// The job name the executor is told.
    #[arg(long, default_value = "exec", value_name = "NAME")]
    job_name: String,
    /// Directory for precompiled components [default: ~/.cache/sandcron].
    #[arg(long, env = "SANDCRON_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// How long `exec` waits, after the execution ended, for capabilities' background cleanup
/// (the removal of a container whose run passed its deadline).
const CLEANUP_GRACE: Duration = Duration::from_secs(10);

/// Prints each chunk as it arrives, stdout to stdout and stderr to stderr.
struct PrintLive;

impl OutputListener for PrintLive {
    fn on_chunk(&self, stream: Stream, chunk: &[u8]) {
        // A closed terminal is no reason to stop the execution.
        let _ = match stream {
            Stream::Stdout => std::io::stdout().lock().write_all(chunk),
            Stream::Stderr => std::io::stderr().lock().write_all(chunk),
        };
    }
}

pub fn run(args: ExecArgs) -> Result<(), CliError> {
    let (wasm, built_in_shell) = component_bytes(&args.executor)?;
    let limits = limits(&args)?;
    let grants = grants(&args, built_in_shell)?;
    let info = ExecutionInfo {
        job_name: args.job_name.clone(),
        execution_id: format!("exec-{}", std::process::id()),
        attempt: 1,
        scheduled_at: None,
        executor_config: pairs("--config", &args.config)?,
        environment: pairs("--env", &args.env)?,
    };
    let config = RuntimeConfig {
        cache_dir: args.cache_dir.clone().or_else(super::default_cache_dir),
        max_concurrent_executions: 4,
        ..RuntimeConfig::default()
    };
    let tokio = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    tokio.block_on(async move {
        let runtime = Runtime::new(config).map_err(|e| {
            CliError::Failed(format!("cannot start the WebAssembly runtime: {e:#}"))
        })?;
        let executable = runtime.load(wasm).await.map_err(|e| {
            CliError::Usage(format!(
                "{} is not an executor component: {e}",
                args.executor
            ))
        })?;
        let request = ExecutionRequest {
            info,
            grants,
            limits,
            listener: Some(Arc::new(PrintLive)),
        };
        let outcome = runtime.execute(&executable, request).await;
        // A container left by a run that passed its deadline is being removed.
        runtime.settle(CLEANUP_GRACE).await;
        let _ = std::io::stdout().flush();
        outcome
            .result
            .map_err(|failure| CliError::Failed(failure.to_string()))
    })
}

/// The component's bytes, and whether it is the built-in shell.
fn component_bytes(executor: &str) -> Result<(Arc<[u8]>, bool), CliError> {
    if let Some(built_in) = executors::built_in(executor) {
        return Ok((Arc::from(built_in.wasm), built_in.name == "shell"));
    }
    let path = Path::new(executor);
    if executor.ends_with(".wasm") || executor.contains('/') || path.exists() {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::Usage(format!("cannot read {executor}: {e}")))?;
        return Ok((Arc::from(bytes), false));
    }
    if let Some(why) = executors::left_out(executor) {
        return Err(CliError::Usage(why));
    }
    Err(CliError::Usage(format!(
        "unknown executor {executor:?}: expected one of {} or the path of a .wasm component",
        executors::names().join(", ")
    )))
}

fn limits(args: &ExecArgs) -> Result<Limits, CliError> {
    let mut limits = Limits::default();
    if let Some(timeout) = &args.timeout {
        limits.timeout = parse_duration(timeout)
            .map_err(|e| CliError::Usage(format!("--timeout {timeout:?}: {e}")))?;
        if limits.timeout == Duration::ZERO {
            return Err(CliError::Usage("--timeout must be more than 0".into()));
        }
    }
    if let Some(memory) = &args.memory {
        limits.memory_bytes =
            parse_size(memory).map_err(|e| CliError::Usage(format!("--memory {memory:?}: {e}")))?;
    }
    Ok(limits)
}

fn grants(args: &ExecArgs, built_in_shell: bool) -> Result<Grants, CliError> {
    let mut grants = super::grants_from_flags(&args.allow_host, &args.allow)?;
    for program in &args.allow_program {
        grants
            .allow("process", program)
            .map_err(|e| CliError::Usage(format!("--allow-program: {e}")))?;
    }
    super::grant_secret_flags(&mut grants, &args.secret)?;
    if built_in_shell && grants.process.allows_nothing() {
        grants.process.allow_any_program();
    }
    Ok(grants)
}

fn pairs(flag: &str, entries: &[String]) -> Result<Vec<(String, String)>, CliError> {
    entries
        .iter()
        .map(|entry| match entry.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(CliError::Usage(format!(
                "{flag} {entry:?}: expected KEY=VALUE"
            ))),
        })
        .collect()
}
