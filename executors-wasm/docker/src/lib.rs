//! The `docker` executor: runs a container as Dkron Pro's docker executor does, through
//! the `docker` capability (the host checks the image, the mounts, the network and the
//! limits against the executor's grant).
//!
//! Keys: `image` (required), `command`, `env`, `volumes` (Dkron Pro's), and `pull`,
//! `memory`, `cpus`, `network`, `user`, `workdir`, `remove`, `timeout`. The output is the
//! container's stdout and stderr; the execution succeeds when it exits with 0. See
//! `docs/executors/docker.md`.

mod config;

use sandcron_sdk::docker::{Container, ExitStatus};
use sandcron_sdk::duration::format_duration;
use sandcron_sdk::output;
use sandcron_sdk::size::format_size;
use sandcron_sdk::{Execution, Executor, Failure};

use crate::config::DockerConfig;

/// The exit code of a process ended by SIGKILL, which is how a memory limit usually shows.
const SIGKILL_EXIT: i32 = 128 + 9;

struct Docker;

impl Executor for Docker {
    fn run(execution: Execution) -> Result<(), Failure> {
        let config = DockerConfig::from_execution(&execution)?;
        for entry in &config.ignored_env {
            output::eprint(&format!(
                "docker: env entry {entry:?} has no '=' and was ignored\n"
            ));
        }
        let finished = container(&execution, &config).run()?;
        match finished.status {
            ExitStatus::Exited(0) => Ok(()),
            ExitStatus::Exited(SIGKILL_EXIT) => Err(Failure::Failed(format!(
                "exit status {SIGKILL_EXIT}: the container was killed (SIGKILL), perhaps for \
                 going over its memory limit ({})",
                memory_text(&config)
            ))),
            ExitStatus::Exited(code) => Err(Failure::Failed(format!("exit status {code}"))),
            ExitStatus::OutOfMemory => Err(Failure::Failed(format!(
                "the container went over its memory limit of {} and was killed",
                memory_text(&config)
            ))),
            ExitStatus::TimedOut => Err(Failure::Failed(format!(
                "timed out after {}; the container was stopped and removed",
                config.timeout.map(format_duration).unwrap_or_default()
            ))),
        }
    }
}

/// The container request: the job's environment, then `env` (which wins).
fn container(execution: &Execution, config: &DockerConfig) -> Container {
    let mut container = Container::new(config.image.clone())
        .command(config.command.iter().cloned())
        .pull(config.pull)
        .remove(config.remove);
    for (name, value) in execution.environment.iter().chain(&config.env) {
        container = container.env(name.clone(), value.clone());
    }
    for volume in &config.volumes {
        container = container.mount(
            volume.host.clone(),
            volume.container.clone(),
            volume.read_only,
        );
    }
    if let Some(bytes) = config.memory {
        container = container.memory(bytes);
    }
    if let Some(cpus) = config.cpus {
        container = container.cpus(cpus);
    }
    if let Some(network) = &config.network {
        container = container.network(network.clone());
    }
    if let Some(user) = &config.user {
        container = container.user(user.clone());
    }
    if let Some(dir) = &config.workdir {
        container = container.workdir(dir.clone());
    }
    if let Some(timeout) = config.timeout {
        container = container.timeout(timeout);
    }
    container
}

fn memory_text(config: &DockerConfig) -> String {
    config
        .memory
        .map_or_else(|| "the grant's largest".to_owned(), format_size)
}

sandcron_sdk::export_executor!(Docker);
