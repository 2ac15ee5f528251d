//! One container's life on the engine: pull if asked, create, start, stream the logs into
//! the output as they come, wait, read the exit code, remove.
//!
//! Removal does not depend on this future being polled to its end: from the moment the
//! create request is sent, a [`Removal`] guard holds the container's name, and dropping it
//! (the execution's deadline, a kill) starts a forced removal in the background, tracked
//! by the engine handle so that `sandcron exec` can wait for it before exiting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as EngineError;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions, WaitContainerOptions,
};
use futures::StreamExt;
use tokio_util::task::TaskTracker;

use super::engine::Clients;
use super::image::ImageRef;
use super::policy::Allowed;
use crate::bindings::docker::{Error, PullPolicy};
use crate::output::{OutputSink, Stream};

/// The label every container Sandcron creates carries.
pub const MANAGED_LABEL: &str = "io.sandcron.managed";
/// How long logs are still read after the container exited.
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// How long a background removal keeps trying (a create still in flight at the engine
/// when the run was dropped makes the container appear late).
const REMOVAL_ATTEMPTS: u32 = 10;
const REMOVAL_PAUSE: Duration = Duration::from_millis(500);

/// A container to run, already allowed by the policy.
pub struct Spec {
    /// Image, mounts, network and limits.
    pub allowed: Allowed,
    /// The command; the image's when empty.
    pub command: Vec<String>,
    /// `NAME=value` entries.
    pub env: Vec<String>,
    /// User to run as.
    pub user: Option<String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// When to pull.
    pub pull: PullPolicy,
    /// Remove the container once it ended.
    pub remove: bool,
    /// Stop and remove it at this instant.
    pub kill_at: Option<Instant>,
}

/// How the container ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Exited with a code.
    Exited(i32),
    /// Killed by the engine for going over its memory limit.
    OutOfMemory,
    /// Stopped by the host at `kill_at`.
    TimedOut,
}

/// Runs `spec` to its end, writing its output into `sink`. Returns the container's id.
pub async fn run(
    clients: &Clients,
    cleanups: &TaskTracker,
    spec: Spec,
    sink: &OutputSink,
) -> Result<(String, Ended), Error> {
    let docker = &clients.control;
    let image = &spec.allowed.image;
    ensure_image(docker, image, spec.pull, sink).await?;

    let name = format!("sandcron-{:016x}", fastrand::u64(..));
    let mut removal = Removal {
        docker: docker.clone(),
        name: name.clone(),
        cleanups: cleanups.clone(),
        armed: true,
    };
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body(&spec),
        )
        .await
        .map_err(|e| engine_error("creating the container", e))?;
    let id = created.id;
    if let Err(e) = docker
        .start_container(&name, None::<StartContainerOptions>)
        .await
    {
        removal.now().await;
        return Err(engine_error("starting the container", e));
    }

    let Some(waited) = follow(&clients.streams, &name, spec.kill_at, sink).await else {
        sink.host_note(&format!(
            "docker: container {} ran past its timeout; it was stopped and removed",
            short(&id)
        ));
        removal.now().await;
        return Ok((id, Ended::TimedOut));
    };
    // The state says whether the engine killed it for memory; the wait's answer is the
    // fallback for the exit code (Podman reports states bollard does not know).
    let state = docker
        .inspect_container(&name, None)
        .await
        .ok()
        .and_then(|inspect| inspect.state);
    let oom_killed = state.as_ref().and_then(|s| s.oom_killed) == Some(true);
    let code = state.and_then(|s| s.exit_code).or(waited);
    let ended = match code {
        _ if oom_killed => Ended::OutOfMemory,
        Some(code) => Ended::Exited(i32::try_from(code).unwrap_or(-1)),
        None => {
            removal.now().await;
            return Err(Error::Engine(
                "docker: the engine did not say how the container ended".into(),
            ));
        }
    };
    if spec.remove {
        removal.now().await;
    } else {
        removal.armed = false;
        sink.host_note(&format!(
            "docker: container {name} ({}) was left on the engine (remove=false)",
            short(&id)
        ));
    }
    Ok((id, ended))
}

/// The create request's body.
fn body(spec: &Spec) -> ContainerCreateBody {
    let allowed = &spec.allowed;
    let memory = i64::try_from(allowed.memory).unwrap_or(i64::MAX);
    ContainerCreateBody {
        image: Some(allowed.image.to_string()),
        cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
        env: Some(spec.env.clone()),
        user: spec.user.clone(),
        working_dir: spec.workdir.clone(),
        labels: Some(HashMap::from([(
            MANAGED_LABEL.to_string(),
            "true".to_string(),
        )])),
        host_config: Some(HostConfig {
            binds: (!allowed.binds.is_empty()).then(|| allowed.binds.clone()),
            network_mode: Some(allowed.network.clone()),
            memory: Some(memory),
            // No swap beyond the memory limit: the limit is the limit.
            memory_swap: Some(memory),
            nano_cpus: Some(i64::try_from(allowed.nano_cpus).unwrap_or(i64::MAX)),
            privileged: Some(false),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    }
}

/// Makes sure the engine has `image`, pulling it as `pull` says.
async fn ensure_image(
    docker: &Docker,
    image: &ImageRef,
    pull: PullPolicy,
    sink: &OutputSink,
) -> Result<(), Error> {
    if pull != PullPolicy::Always {
        match docker.inspect_image(&image.to_string()).await {
            Ok(_) => return Ok(()),
            Err(EngineError::DockerResponseServerError {
                status_code: 404, ..
            }) if pull == PullPolicy::Never => {
                return Err(Error::ImageNotFound(format!(
                    "docker: image {image} is not on the engine, and pull is never"
                )));
            }
            Err(EngineError::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(engine_error("looking up the image", e)),
        }
    }
    sink.host_note(&format!("docker: pulling {image}"));
    let options = CreateImageOptionsBuilder::default()
        .from_image(&image.to_string())
        .build();
    let mut progress = Box::pin(docker.create_image(Some(options), None, None));
    while let Some(step) = progress.next().await {
        if let Err(e) = step {
            return Err(Error::ImageNotFound(format!(
                "docker: cannot pull {image}: {}",
                engine_text(&e)
            )));
        }
    }
    Ok(())
}

/// Streams the container's logs into `sink` until it exited and its logs are read (or a
/// short grace has passed). Returns the exit code the wait answered, if it did, or `None`
/// when `kill_at` came first.
async fn follow(
    docker: &Docker,
    name: &str,
    kill_at: Option<Instant>,
    sink: &OutputSink,
) -> Option<Option<i64>> {
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = Box::pin(docker.logs(name, Some(options)));
    let mut wait = Box::pin(docker.wait_container(name, None::<WaitContainerOptions>));
    let kill_at = kill_at.map(tokio::time::Instant::from_std);
    let (mut logs_done, mut exited) = (false, false);
    let mut code = None;
    let mut drain_until = None;
    while !(logs_done && exited) {
        tokio::select! {
            item = logs.next(), if !logs_done => match item {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                    sink.write(Stream::Stdout, &message);
                }
                Some(Ok(LogOutput::StdErr { message })) => sink.write(Stream::Stderr, &message),
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => {
                    sink.host_note(&format!("docker: reading the logs failed: {}", engine_text(&e)));
                    logs_done = true;
                }
                None => logs_done = true,
            },
            // A non-zero exit arrives as an error; either way the container has stopped,
            // and its state is read afterwards.
            waited = wait.next(), if !exited => {
                code = match waited {
                    Some(Ok(response)) => Some(response.status_code),
                    Some(Err(EngineError::DockerContainerWaitError { code, .. })) => Some(code),
                    _ => None,
                };
                exited = true;
                drain_until = Some(tokio::time::Instant::now() + DRAIN_GRACE);
            }
            _ = sleep_until(drain_until) => break,
            _ = sleep_until(kill_at) => return None,
        }
    }
    Some(code)
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Removes a container when dropped armed, so that no way out of [`run`] leaves it on the
/// engine.
struct Removal {
    docker: Docker,
    name: String,
    cleanups: TaskTracker,
    armed: bool,
}

impl Removal {
    /// Removes the container now, once.
    async fn now(mut self) {
        self.armed = false;
        if let Err(e) = remove(&self.docker, &self.name).await {
            tracing::warn!(container = %self.name, error = %e, "docker: removing a container failed");
        }
    }
}

impl Drop for Removal {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (docker, name) = (self.docker.clone(), self.name.clone());
        let removal = async move { remove_until_gone(docker, name).await };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(self.cleanups.track_future(removal));
            }
            // Not on a runtime (a test dropping it by hand): a thread of its own.
            Err(_) => {
                std::thread::spawn(move || {
                    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        runtime.block_on(removal);
                    }
                });
            }
        }
    }
}

async fn remove(docker: &Docker, name: &str) -> Result<(), EngineError> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    docker.remove_container(name, Some(options)).await
}

/// Removes a container whose run was dropped, trying again while it is not there yet.
async fn remove_until_gone(docker: Docker, name: String) {
    for _ in 0..REMOVAL_ATTEMPTS {
        match remove(&docker, &name).await {
            Ok(()) => {
                tracing::debug!(container = %name, "docker: removed the container of a dropped run");
                return;
            }
            Err(e) => {
                tracing::debug!(container = %name, error = %e, "docker: removal will be tried again")
            }
        }
        tokio::time::sleep(REMOVAL_PAUSE).await;
    }
}

/// An answered refusal (4xx, or a 500 about the request) is `refused`; no answer at all is
/// `engine`.
fn engine_error(doing: &str, error: EngineError) -> Error {
    let text = format!("docker: {doing} failed: {}", engine_text(&error));
    match error {
        EngineError::DockerResponseServerError { status_code, .. }
            if status_code < 500 || !is_engine_side(&text) =>
        {
            Error::Refused(text)
        }
        _ => Error::Engine(text),
    }
}

/// Whether a 5xx answer is about the engine itself rather than the request.
fn is_engine_side(text: &str) -> bool {
    [
        "no space left",
        "connection refused",
        "timeout",
        "timed out",
    ]
    .iter()
    .any(|sign| text.contains(sign))
}

/// The engine's own message when it answered, else the client's.
fn engine_text(error: &EngineError) -> String {
    match error {
        EngineError::DockerResponseServerError {
            status_code,
            message,
        } => format!("{message} (HTTP {status_code})"),
        other => other.to_string(),
    }
}

/// The first 12 characters of an engine id, as `docker ps` shows it.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
