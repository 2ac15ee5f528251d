//! The command line: `sandcron <command>`, parsed with clap. Each command (or group of
//! commands) is a module; this one only dispatches and turns results into exit codes
//! (0 success, 1 the work failed, 2 a usage error).
//!
//! * `exec`: one execution, here, without a server.
//! * `serve`: the scheduler and the HTTP API; its settings are `serve_config` (flags,
//!   each with its `SANDCRON_*` variable) and `config` (the TOML file, `config check`
//!   and `config show`).
//! * `completions` and `man` (`shell`): the shell completions and the manual page, from
//!   the same definitions.
//! * `health`: asks a server's `/health`, for container health checks.
//! * `job`, `execution`, `executor`, `secret`, and the admin's `tenant`, `token`, `grant`
//!   and `quota`: clients of a running server's API, through `client` (the HTTP client
//!   they share, with the caller's token) and `table` (their plain-text tables).

mod after_run_flags;
mod client;
mod config;
mod exec;
mod execution;
mod executor;
mod health;
mod job;
mod scaffold;
mod secret;
mod serve;
mod serve_config;
mod serve_http;
mod shell;
mod table;
mod tenant;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::capabilities::Grants;

/// The version `--version` and `/v1` show: the crate's, and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SANDCRON_GIT_COMMIT"),
    ")"
);

/// Sandcron: a job scheduler whose executors are sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "sandcron", version = VERSION, about, propagate_version = true)]
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
    /// A PEM file of the authorities that sign an https server's certificate, trusted
    /// besides the system's (a private CA).
    #[arg(long, global = true, env = "SANDCRON_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one execution of an executor and print its output as it streams.
    Exec(Box<exec::ExecArgs>),
    /// Run the scheduler and serve the HTTP API.
    Serve(Box<serve_config::ServeArgs>),
    /// Check a configuration file, or show the configuration `serve` would run with.
    #[command(subcommand)]
    Config(config::ConfigCommand),
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
    /// Check that the server answers healthy (exit 0), as a container's HEALTHCHECK does.
    Health,
    /// Print a shell completion script: `source <(sandcron completions bash)`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `sandcron man | man -l -`.
    Man,
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

/// Sends the logs of a command other than `serve` to stderr as text, filtered by
/// `$SANDCRON_LOG` (default `warn`; e.g. `SANDCRON_LOG=sandcron=debug`).
pub fn init_logging() {
    crate::telemetry::init_logs("warn");
}

/// The whole command line: [`Cli`], with an environment variable for each flag of `serve`
/// (and of `config show`, which takes the same, and of `secret rotate-key`, which takes
/// those that say where the secrets key file is).
pub fn command() -> clap::Command {
    Cli::command()
        .mut_subcommand("serve", serve_config::with_env)
        .mut_subcommand("config", |config| {
            config.mut_subcommand("show", serve_config::with_env)
        })
        .mut_subcommand("secret", |secret| {
            secret.mut_subcommand("rotate-key", serve_config::with_env)
        })
}

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    let result = config::resolve(command(), std::env::args_os().collect()).and_then(|resolved| {
        let cli = Cli::from_arg_matches(&resolved.matches).unwrap_or_else(|e| e.exit());
        run(cli, &resolved)
    });
    exit_code(result)
}

/// Runs one parsed command line.
fn run(cli: Cli, resolved: &config::Resolved) -> Result<(), CliError> {
    match &cli.command {
        Command::Serve(_) => {} // after its settings are checked, in `serve::run`
        _ => init_logging(),
    }
    let client = || {
        client::Client::new(
            &cli.server,
            client_token(cli.token.clone()),
            cli.ca_cert.as_deref(),
        )
    };
    match cli.command {
        Command::Exec(args) => exec::run(*args),
        Command::Serve(args) => serve::run(*args),
        Command::Config(command) => config::run(command, resolved),
        Command::Job(command) => client().and_then(|c| job::run(c, command)),
        Command::Execution(command) => client().and_then(|c| execution::run(c, command)),
        Command::Executor(command) => client().and_then(|c| executor::run(c, command)),
        Command::Secret(secret::SecretCommand::RotateKey(args)) => secret::rotate_key(&args),
        Command::Secret(command) => client().and_then(|c| secret::run(c, command)),
        Command::Tenant(command) => client().and_then(|c| tenant::run_tenant(c, command)),
        Command::Token(command) => client().and_then(|c| tenant::run_token(c, command)),
        Command::Grant(command) => client().and_then(|c| tenant::run_grant(c, command)),
        Command::Quota(command) => client().and_then(|c| tenant::run_quota(c, command)),
        Command::Health => client().and_then(health::run),
        Command::Completions { shell } => shell::completions(shell),
        Command::Man => shell::man(),
    }
}

/// The exit code of a command's result, its error printed.
fn exit_code(result: Result<(), CliError>) -> ExitCode {
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
