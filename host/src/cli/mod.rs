//! The command line: `sandcron <command>`, parsed with clap. Each command (or group of
//! commands) is a module; this one only dispatches and turns results into exit codes
//! (0 success, 1 the work failed, 2 a usage error).
//!
//! * `exec`: one execution, here, without a server.
//! * `serve`: the scheduler and the HTTP API.
//! * `job`, `execution`, `executor`, `secret`, and the admin's `tenant`, `token`, `grant`
//!   and `quota`: clients of a running server's API, through `client` (the HTTP client
//!   they share, with the caller's token) and `table` (their plain-text tables).

mod client;
mod exec;
mod execution;
mod executor;
mod job;
mod scaffold;
mod secret;
mod serve;
mod table;
mod tenant;

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
    /// The API token the client commands send [default: $SANDCRON_ADMIN_TOKEN, else the
    /// admin token `serve` wrote to the data directory].
    #[arg(
        long,
        global = true,
        env = "SANDCRON_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
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
    /// Make and build executor projects; upload, list and delete executor components on a
    /// server.
    #[command(subcommand)]
    Executor(executor::ExecutorCommand),
    /// Set, list and delete secrets on a server.
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Create and list tenants (admin).
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Make a tenant's API token (admin).
    #[command(subcommand)]
    Token(tenant::TokenCommand),
    /// Set a tenant's grants (admin).
    #[command(subcommand)]
    Grant(tenant::GrantCommand),
    /// Set a tenant's quotas (admin).
    #[command(subcommand)]
    Quota(tenant::QuotaCommand),
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
    let client = || client::Client::new(&cli.server, client_token(cli.token.clone()));
    let result = match cli.command {
        Command::Exec(args) => exec::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Job(command) => client().and_then(|c| job::run(c, command)),
        Command::Execution(command) => client().and_then(|c| execution::run(c, command)),
        Command::Executor(command) => client().and_then(|c| executor::run(c, command)),
        Command::Secret(secret::SecretCommand::RotateKey(args)) => secret::rotate_key(&args),
        Command::Secret(command) => client().and_then(|c| secret::run(c, command)),
        Command::Tenant(command) => client().and_then(|c| tenant::run_tenant(c, command)),
        Command::Token(command) => client().and_then(|c| tenant::run_token(c, command)),
        Command::Grant(command) => client().and_then(|c| tenant::run_grant(c, command)),
        Command::Quota(command) => client().and_then(|c| tenant::run_quota(c, command)),
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

/// The environment variable that sets the admin token (for `serve`, and for the CLI).
pub const ADMIN_TOKEN_ENV: &str = "SANDCRON_ADMIN_TOKEN";

/// The file in the data directory that `serve` writes the first admin token to.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// The data directory when none is given: `$SANDCRON_DATA_DIR`, else
/// `$XDG_DATA_HOME/sandcron`, else `~/.local/share/sandcron`.
pub fn default_data_dir() -> Option<PathBuf> {
    let env = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("SANDCRON_DATA_DIR")
        .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("sandcron")))
        .or_else(|| env("HOME").map(|d| d.join(".local").join("share").join("sandcron")))
}

/// The token the API clients send: `--token` (or `$SANDCRON_TOKEN`), else
/// `$SANDCRON_ADMIN_TOKEN`, else the admin token `serve` wrote to the data directory.
fn client_token(given: Option<String>) -> Option<String> {
    given
        .or_else(|| std::env::var(ADMIN_TOKEN_ENV).ok())
        .map(|token| token.trim().to_string())
        .filter(|token| !token.is_empty())
        .or_else(|| {
            let path = default_data_dir()?.join(ADMIN_TOKEN_FILE);
            let token = std::fs::read_to_string(path).ok()?;
            Some(token.trim().to_string()).filter(|token| !token.is_empty())
        })
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
