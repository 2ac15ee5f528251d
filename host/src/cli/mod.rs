//! The command line: `sandcron <command>`, parsed with clap. Each command is a module;
//! this one only dispatches and turns results into exit codes (0 success, 1 the work
//! failed, 2 a usage error).

mod exec;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sandcron: a job scheduler whose executors are sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "sandcron", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one execution of an executor and print its output as it streams.
    Exec(exec::ExecArgs),
}

/// How a command ended, short of success.
#[derive(Debug)]
pub enum CliError {
    /// The command line or its input was wrong (exit 2).
    Usage(String),
    /// The work ran and failed (exit 1).
    Failed(String),
}

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SANDCRON_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Exec(args) => exec::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Failed(reason)) => {
            eprintln!("sandcron: execution failed: {reason}");
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
