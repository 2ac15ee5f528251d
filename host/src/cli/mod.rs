//! The command line: `sandcron <command>`, parsed with clap. Each command (or group of
//! commands) is a module; this one only dispatches and turns results into exit codes
//! (0 success, 1 the work failed, 2 a usage error).
//!
//! * `exec`: one execution, here, without a server.
//! * `serve`: the scheduler and the HTTP API.
//! * `job`, `execution`, `executor`, `secret`: clients of a running server's API, through `client` (the HTTP
//!   client they share) and `table` (their plain-text tables).

mod client;
mod exec;
mod execution;
mod executor;
mod job;
mod secret;
mod serve;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::capabilities::Grants;

/// Sandcron: a job scheduler whose executors are sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "sandcron", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The server the `job` and `execution` commands talk to.
    #[arg(
        long,
        global = true,
        env = "SANDCRON_SERVER",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    server: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one execution of an executor and print its output as it streams.
    Exec(exec::ExecArgs),
    /// Run the scheduler and serve the HTTP API.
    Serve(serve::ServeArgs),
    /// Define, list, run and remove jobs on a server.
    #[command(subcommand)]
    Job(job::JobCommand),
    /// List, read, follow and kill a job's executions on a server.
    #[command(subcommand)]
    Execution(execution::ExecutionCommand),
    /// Upload, list and delete executor components on a server.
    #[command(subcommand)]
    Executor(executor::ExecutorCommand),
    /// Set, list and delete secrets on a server.
    #[command(subcommand)]
    Secret(secret::SecretCommand),
}

/// The grants given by `--allow-host PATTERN` (HTTP) and `--allow CAPABILITY=PATTERN`
/// flags, as `exec` and `serve` take them.
fn grants_from_flags(allow_host: &[String], allow: &[String]) -> Result<Grants, CliError> {
    let mut grants = Grants::default();
    for host in allow_host {
        grants
            .allow("http", host)
            .map_err(|e| CliError::Usage(format!("--allow-host: {e}")))?;
    }
    grants
        .allow_all(allow)
        .map_err(|e| CliError::Usage(format!("--allow {e}")))?;
    Ok(grants)
}

/// Grants each `--secret NAME=VALUE` (or `NAME=@FILE`, read from a file so the value stays
/// out of the process list and the shell history) entry as a secret, with its value.
fn grant_secret_flags(grants: &mut Grants, entries: &[String]) -> Result<(), CliError> {
    for entry in entries {
        let Some((name, value)) = entry.split_once('=').filter(|(name, _)| !name.is_empty()) else {
            return Err(CliError::Usage(format!(
                "--secret {:?}: expected NAME=VALUE or NAME=@FILE",
                entry
                    .split_once('=')
                    .map_or(entry.as_str(), |(name, _)| name)
            )));
        };
        let value = match value.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                CliError::Usage(format!("--secret {name}: cannot read {path}: {e}"))
            })?,
            None => value.to_string(),
        };
        grants
            .secrets
            .allow(name)
            .map_err(|e| CliError::Usage(format!("--secret: {e}")))?;
        grants.secrets.provide(name, value);
    }
    Ok(())
}

/// How a command ended, short of success.
#[derive(Debug)]
pub enum CliError {
    /// The command line or its input was wrong (exit 2).
    Usage(String),
    /// The execution ran and failed (exit 1).
    Failed(String),
    /// The command could not do its work: the server refused or could not be reached,
    /// the database could not be opened… (exit 1).
    Error(String),
}

/// Sends logs to stderr, filtered by `$SANDCRON_LOG` (default `warn`; e.g.
/// `SANDCRON_LOG=sandcron=debug`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SANDCRON_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Exec(args) => exec::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Job(command) => job::run(&cli.server, command),
        Command::Execution(command) => execution::run(&cli.server, command),
        Command::Executor(command) => executor::run(&cli.server, command),
        Command::Secret(command) => secret::run(&cli.server, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Failed(reason)) => {
            eprintln!("sandcron: execution failed: {reason}");
            ExitCode::from(1)
        }
        Err(CliError::Error(reason)) => {
            eprintln!("sandcron: {reason}");
            ExitCode::from(1)
        }
        Err(CliError::Usage(reason)) => {
            eprintln!("sandcron: {reason}");
            ExitCode::from(2)
        }
    }
}

/// Where precompiled components are kept: `$SANDCRON_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/sandcron`, else `~/.cache/sandcron`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let env = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("SANDCRON_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("sandcron")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("sandcron")))
}
