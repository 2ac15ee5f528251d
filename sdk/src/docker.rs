//! Running containers on the host's container engine, through the world's `docker`
//! interface.
//!
//! The image, the mounts, the network and the limits must be within what the executor was
//! granted, or the call fails with [`DockerError::Denied`] before anything exists on the
//! engine. The container's stdout and stderr go straight into the execution's output as
//! they come, and the host removes the container when it ends (unless
//! [`Container::remove`] says otherwise), when it times out, and when the execution is
//! killed or passes its deadline.
//!
//! ```ignore
//! use std::time::Duration;
//! use sandcron_sdk::docker::Container;
//!
//! let finished = Container::new("localhost/busybox:test")
//!     .command(["sh", "-c", "echo hello from $WHO"])
//!     .env("WHO", "a container")
//!     .memory(64 << 20)
//!     .timeout(Duration::from_secs(60))
//!     .run()?;
//! if !finished.status.success() {
//!     return Err(sandcron_sdk::Failure::Failed(format!("container: {}", finished.status)));
//! }
//! ```

use std::fmt;
use std::time::Duration;

use crate::Failure;
use crate::bindings::sandcron::executor::docker as wit;

/// How a container ended: `Exited(code)`, `OutOfMemory` or `TimedOut`.
pub use wit::ExitStatus;
/// A container that ran: its engine id and how it ended.
pub use wit::Finished;
/// When to pull the image: `Missing` (the default), `Always` or `Never`.
pub use wit::PullPolicy;

impl ExitStatus {
    /// Whether the container's main process exited with code 0.
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Exited(0))
    }
}

impl fmt::Display for ExitStatus {
    /// `exit status 3`, `killed for going over its memory limit`, `timed out`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exit status {code}"),
            ExitStatus::OutOfMemory => f.write_str("killed for going over its memory limit"),
            ExitStatus::TimedOut => f.write_str("timed out"),
        }
    }
}

/// A container to run, built up step by step and run with [`Container::run`].
#[derive(Debug, Clone)]
pub struct Container {
    inner: wit::Container,
}

impl Container {
    /// A container of `image` running the image's own command, with no extra environment,
    /// no mounts, no network, the granted limits, pulled only when missing, removed when
    /// it ends.
    pub fn new(image: impl Into<String>) -> Self {
        Self {
            inner: wit::Container {
                image: image.into(),
                command: Vec::new(),
                env: Vec::new(),
                mounts: Vec::new(),
                pull: PullPolicy::Missing,
                memory_bytes: None,
                cpus: None,
                network: None,
                user: None,
                workdir: None,
                remove: true,
                timeout_ms: None,
            },
        }
    }

    /// Runs `command` (the program and its arguments) instead of the image's command.
    pub fn command<I, S>(mut self, command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.command = command.into_iter().map(Into::into).collect();
        self
    }

    /// Sets one environment variable, replacing an earlier value of the same name.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        match self.inner.env.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.inner.env.push((name, value)),
        }
        self
    }

    /// Bind-mounts `host_path` at `container_path`.
    pub fn mount(
        mut self,
        host_path: impl Into<String>,
        container_path: impl Into<String>,
        read_only: bool,
    ) -> Self {
        self.inner.mounts.push(wit::Mount {
            host_path: host_path.into(),
            container_path: container_path.into(),
            read_only,
        });
        self
    }

    /// Sets when the image is pulled.
    pub fn pull(mut self, pull: PullPolicy) -> Self {
        self.inner.pull = pull;
        self
    }

    /// Limits the container's memory to `bytes`.
    pub fn memory(mut self, bytes: u64) -> Self {
        self.inner.memory_bytes = Some(bytes);
        self
    }

    /// Limits the container to `cpus` CPUs (`0.5`, `2.0`).
    pub fn cpus(mut self, cpus: f64) -> Self {
        self.inner.cpus = Some(cpus);
        self
    }

    /// Attaches the container to `network` instead of none.
    pub fn network(mut self, network: impl Into<String>) -> Self {
        self.inner.network = Some(network.into());
        self
    }

    /// Runs as `user` (`uid[:gid]` or a name).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.inner.user = Some(user.into());
        self
    }

    /// Runs in `dir` inside the container.
    pub fn workdir(mut self, dir: impl Into<String>) -> Self {
        self.inner.workdir = Some(dir.into());
        self
    }

    /// Whether to remove the container once it ended (the default); a container is
    /// removed after a timeout, a deadline or a kill in any case.
    pub fn remove(mut self, remove: bool) -> Self {
        self.inner.remove = remove;
        self
    }

    /// Stops and removes the container after `timeout` (rounded up to a millisecond).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        let millis = timeout.as_nanos().div_ceil(1_000_000);
        self.inner.timeout_ms = Some(u64::try_from(millis).unwrap_or(u64::MAX));
        self
    }

    /// The request as it will be sent.
    pub fn request(&self) -> &wit::Container {
        &self.inner
    }

    /// Runs the container to its end and reports how it ended. A non-zero exit is an
    /// `Ok` [`Finished`]; an `Err` means the container never ran.
    pub fn run(&self) -> Result<Finished, DockerError> {
        wit::run(&self.inner).map_err(DockerError::from)
    }
}

/// Why a container could not be run. Each carries the host's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerError {
    /// Outside the executor's grant: the image, a mount, the network or a limit.
    Denied(String),
    /// The image is not on the engine and could not be pulled.
    ImageNotFound(String),
    /// The request is malformed.
    Invalid(String),
    /// The engine answered and refused the request (an unknown user, a command the image
    /// does not have).
    Refused(String),
    /// The engine could not be reached, or failed on its side.
    Engine(String),
}

impl From<wit::Error> for DockerError {
    fn from(error: wit::Error) -> Self {
        match error {
            wit::Error::Denied(text) => DockerError::Denied(text),
            wit::Error::ImageNotFound(text) => DockerError::ImageNotFound(text),
            wit::Error::Invalid(text) => DockerError::Invalid(text),
            wit::Error::Refused(text) => DockerError::Refused(text),
            wit::Error::Engine(text) => DockerError::Engine(text),
        }
    }
}

impl fmt::Display for DockerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerError::Denied(text)
            | DockerError::ImageNotFound(text)
            | DockerError::Invalid(text)
            | DockerError::Refused(text)
            | DockerError::Engine(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for DockerError {}

impl From<DockerError> for Failure {
    /// `Denied` stays `Failure::Denied`; a missing image, a malformed or refused request
    /// is `Failure::Failed`; an engine that cannot be reached is `Failure::Unavailable`.
    fn from(error: DockerError) -> Self {
        match error {
            DockerError::Denied(text) => Failure::Denied(text),
            DockerError::ImageNotFound(text)
            | DockerError::Invalid(text)
            | DockerError::Refused(text) => Failure::Failed(text),
            DockerError::Engine(text) => Failure::Unavailable(text),
        }
    }
}
