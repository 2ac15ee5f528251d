//! The `shell` executor: runs a command as Dkron's shell executor does, through the
//! `process` capability.
//!
//! Keys: `command` (required), `shell`, `env`, `cwd`, `timeout`, `mem_limit`, `payload`;
//! `su` is accepted and ignored. See `docs/executors/shell.md`.

mod config;

use sandcron_sdk::duration::format_duration;
use sandcron_sdk::output;
use sandcron_sdk::process::{Command, ExitStatus};
use sandcron_sdk::size::format_size;
use sandcron_sdk::{Execution, Executor, Failure};

use crate::config::ShellConfig;

/// The `PATH` a command gets when neither the job nor `env` sets one; the host passes no
/// environment of its own.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct Shell;

impl Executor for Shell {
    fn run(execution: Execution) -> Result<(), Failure> {
        let config = ShellConfig::from_execution(&execution)?;
        if config.su_requested {
            output::eprint("shell: the \"su\" key is not supported and was ignored\n");
        }
        for entry in &config.ignored_env {
            output::eprint(&format!(
                "shell: env entry {entry:?} has no '=' and was ignored\n"
            ));
        }

        let status = command(&execution, &config).run()?;
        match status {
            ExitStatus::Exited(0) => Ok(()),
            ExitStatus::Exited(code) => Err(Failure::Failed(format!("exit status {code}"))),
            ExitStatus::Signaled(signal) => {
                Err(Failure::Failed(format!("killed by signal {signal}")))
            }
            ExitStatus::TimedOut => {
                let limit = config.timeout.map(format_duration).unwrap_or_default();
                output::eprint(&format!(
                    "shell: Job '{}' execution time exceeding defined timeout {limit}. Job was killed\n",
                    config.command
                ));
                Err(Failure::Failed(format!("timed out after {limit}")))
            }
            ExitStatus::MemoryExceeded => {
                let limit = config.mem_limit.map(format_size).unwrap_or_default();
                output::eprint(&format!(
                    "shell: Job '{}' exceeded the memory limit of {limit}. Job was killed\n",
                    config.command
                ));
                Err(Failure::Failed(format!("memory limit of {limit} exceeded")))
            }
        }
    }
}

/// Builds the process command: the job's environment, then `env` (which wins), then
/// `ENV_JOB_NAME` as Dkron adds it, then a default `PATH` when none was given.
fn command(execution: &Execution, config: &ShellConfig) -> Command {
    let (program, args) = config
        .argv
        .split_first()
        .expect("a checked config has a program");
    let mut command = Command::new(program.clone())
        .args(args.iter().cloned())
        .envs(execution.environment.iter().cloned())
        .envs(config.env.iter().cloned())
        .env("ENV_JOB_NAME", execution.job_name.clone());
    if !command.environment().iter().any(|(name, _)| name == "PATH") {
        command = command.env("PATH", DEFAULT_PATH);
    }
    if let Some(cwd) = &config.cwd {
        command = command.cwd(cwd.clone());
    }
    if let Some(timeout) = config.timeout {
        command = command.timeout(timeout);
    }
    if let Some(bytes) = config.mem_limit {
        command = command.memory_limit(bytes);
    }
    if let Some(stdin) = &config.stdin {
        command = command.stdin(stdin.clone());
    }
    command
}

sandcron_sdk::export_executor!(Shell);
