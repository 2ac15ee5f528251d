//! The process-wide connection to the container engine, and the removals still running
//! in the background.
//!
//! The engine's address is `DOCKER_HOST` (`unix:///path`, `tcp://host:port`), else the
//! default socket `unix:///var/run/docker.sock`. The clients are made on first use and
//! kept; a failure to connect is not kept, so an engine that starts after Sandcron is
//! found on the next run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use tokio_util::task::TaskTracker;

/// Where the engine is when `DOCKER_HOST` is not set.
const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";
/// The longest an ordinary request (create, start, inspect, remove) may wait for the
/// engine's answer.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(120);
/// Streams (logs, wait) last as long as the container: the execution's deadline bounds
/// them, not the client.
const STREAM_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// The shared engine handle; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    clients: Mutex<Option<Clients>>,
    cleanups: TaskTracker,
}

/// Clients of one engine.
#[derive(Clone, Debug)]
pub struct Clients {
    /// For requests answered at once.
    pub control: Docker,
    /// For the logs and wait streams.
    pub streams: Docker,
    /// The engine's address, for messages.
    pub address: String,
}

impl Engine {
    /// The engine's clients, connecting on first use. The error says where the engine
    /// was looked for.
    pub fn clients(&self) -> Result<Clients, String> {
        let mut clients = self
            .inner
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(clients) = clients.as_ref() {
            return Ok(clients.clone());
        }
        let address =
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_DOCKER_HOST.to_string());
        let docker = Docker::connect_with_host(&address).map_err(|e| {
            format!("docker: cannot reach the engine at {address} (set DOCKER_HOST): {e}")
        })?;
        let connected = Clients {
            control: docker.clone().with_timeout(CONTROL_TIMEOUT),
            streams: docker.with_timeout(STREAM_TIMEOUT),
            address,
        };
        *clients = Some(connected.clone());
        Ok(connected)
    }

    /// The tracker of removals started when a run was dropped (deadline, kill).
    pub fn cleanups(&self) -> &TaskTracker {
        &self.inner.cleanups
    }
}
