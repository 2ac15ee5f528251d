//! The `docker` capability: run a container from an allowed image on the host's container
//! engine (Docker, or Podman's Docker-compatible API) through bollard, with only the
//! mounts, network and limits the grant allows; its stdout and stderr stream into the
//! output as they come, and it is removed when it ends, times out, or its execution is
//! dropped (deadline or kill).
//!
//! The engine's address comes from `DOCKER_HOST`; the connection is process-wide state
//! ([`Engine`], the unit's shared state). A request outside the policy is refused, and noted
//! in the output, before anything is sent to the engine.

mod container;
mod engine;
mod image;
mod policy;

use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};

use super::unit::{Capability, Holds, Policy, SharedState, settle_tracker};
use crate::bindings::docker::{self as wit, Container, Error, ExitStatus, Finished, Host};
use crate::output::OutputSink;
pub use container::MANAGED_LABEL;
pub use engine::Engine;
pub use image::{ImagePattern, ImageRef};
pub use policy::{DEFAULT_MAX_CPUS, DEFAULT_MAX_MEMORY, DockerPolicy, Refusal};

/// The unit: `sandcron:executor/docker`, granted by images, mounts, networks and limits
/// (`docker=image:localhost/busybox:*`).
pub struct Docker;

impl Capability for Docker {
    const NAME: &'static str = "docker";
    const INTERFACES: &'static [&'static str] = &["sandcron:executor/docker@"];
    type Policy = DockerPolicy;
    type Shared = Engine;
    type State = DockerHost;

    fn new_state(policy: &DockerPolicy, sink: &OutputSink, engine: &Engine) -> DockerHost {
        DockerHost::new(policy.clone(), engine.clone(), sink.clone())
    }

    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<DockerHost>>(linker, <T as Holds<Self>>::state)
    }
}

/// Docker grants (images, mounts, limits) cannot be intersected pattern by pattern: a
/// narrower grant that allows no image denies Docker, any other keeps this grant.
impl Policy for DockerPolicy {
    fn allow_pattern(&mut self, pattern: &str) -> Result<(), String> {
        self.allow(pattern)
    }

    fn narrow_to(&mut self, narrower: &Self) {
        if narrower.allows_no_image() {
            *self = DockerPolicy::default();
        }
    }

    fn denies_all(&self) -> bool {
        self.allows_no_image()
    }
}

/// The engine's clients, and the removals of dropped runs' containers, which `settle`
/// waits for.
impl SharedState for Engine {
    async fn settle(&self, within: Duration) {
        settle_tracker(self.cleanups(), within).await;
    }
}

/// The host side of `sandcron:executor/docker` for one execution.
pub struct DockerHost {
    policy: DockerPolicy,
    engine: Engine,
    sink: OutputSink,
}

impl DockerHost {
    /// Runs what `policy` allows on `engine`, writing output into `sink`.
    pub fn new(policy: DockerPolicy, engine: Engine, sink: OutputSink) -> Self {
        Self {
            policy,
            engine,
            sink,
        }
    }

    /// Checks `request` against the policy and the rules of the engine's API.
    fn check(&self, request: &Container) -> Result<container::Spec, Error> {
        let mounts = request
            .mounts
            .iter()
            .map(|m| (m.host_path.as_str(), m.container_path.as_str(), m.read_only))
            .collect();
        let checked = policy::Request {
            image: &request.image,
            mounts,
            network: request.network.as_deref(),
            memory: request.memory_bytes,
            cpus: request.cpus,
        };
        let allowed = self
            .policy
            .check(&checked)
            .map_err(|refusal| match refusal {
                Refusal::Denied(reason) => {
                    self.sink.host_note(&reason);
                    Error::Denied(reason)
                }
                Refusal::Invalid(reason) => Error::Invalid(reason),
            })?;
        let mut env = Vec::with_capacity(request.env.len());
        for (name, value) in &request.env {
            if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
                return Err(Error::Invalid(format!(
                    "docker: environment variable {name:?} is not valid"
                )));
            }
            env.push(format!("{name}={value}"));
        }
        let text_fields = [("user", &request.user), ("workdir", &request.workdir)];
        for (what, value) in text_fields {
            if value
                .as_deref()
                .is_some_and(|v| v.is_empty() || v.contains('\0'))
            {
                return Err(Error::Invalid(format!("docker: the {what} is not valid")));
            }
        }
        if request.command.iter().any(|arg| arg.contains('\0')) {
            return Err(Error::Invalid(
                "docker: the command holds a NUL byte".into(),
            ));
        }
        Ok(container::Spec {
            allowed,
            command: request.command.clone(),
            env,
            user: request.user.clone(),
            workdir: request.workdir.clone(),
            pull: request.pull,
            remove: request.remove,
            kill_at: request
                .timeout_ms
                .map(|ms| Instant::now() + Duration::from_millis(ms)),
        })
    }
}

impl Host for DockerHost {
    async fn run(&mut self, request: Container) -> Result<Finished, Error> {
        let spec = self.check(&request)?;
        let clients = self.engine.clients().map_err(Error::Engine)?;
        let (id, ended) =
            container::run(&clients, self.engine.cleanups(), spec, &self.sink).await?;
        let status = match ended {
            container::Ended::Exited(code) => ExitStatus::Exited(code),
            container::Ended::OutOfMemory => ExitStatus::OutOfMemory,
            container::Ended::TimedOut => ExitStatus::TimedOut,
        };
        Ok(Finished { id, status })
    }
}
