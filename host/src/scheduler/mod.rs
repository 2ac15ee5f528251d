//! Scheduling: when each job fires, and running it.
//!
//! * [`schedule`]: the pure part, parsing a job's `schedule` and `timezone` and computing
//!   its fire times.
//! * The [`Scheduler`] handle: what the API and the CLI use to change jobs, run them now,
//!   follow and kill executions. Behind it run the claim loop (due ticks are claimed from
//!   the store in batches, a transaction at a time, and fired by an in-memory timer), the
//!   dispatcher (one task per execution, retries, chaining, ephemeral jobs), the recorder
//!   (batched writes of started and finished executions) and the retention pruner.

pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::jobs::{FieldError, JobSpec};
use crate::runtime::Runtime;
use crate::store::{ExecutionRecord, Store, StoreError, StoredJob};

/// How the scheduler runs.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// This node's name, written on every execution it runs.
    pub node: String,
    /// How far ahead due ticks are claimed from the store.
    pub horizon: Duration,
    /// The most ticks claimed in one transaction.
    pub claim_batch: usize,
    /// Executions kept per job (the newest); `None` keeps all.
    pub keep_last: Option<u32>,
    /// Executions older than this are deleted; `None` keeps them.
    pub max_age: Option<Duration>,
    /// Output bytes kept per execution (the tail).
    pub output_limit: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            node: default_node_name(),
            horizon: Duration::from_millis(500),
            claim_batch: 2000,
            keep_last: Some(100),
            max_age: None,
            output_limit: crate::output::DEFAULT_OUTPUT_LIMIT,
        }
    }
}

/// The host name, or `sandcron` when it cannot be read.
pub fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "sandcron".to_string())
}

/// Why a request about a job was refused.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Bad input (HTTP 400): names the field.
    #[error("{0}")]
    Invalid(#[from] FieldError),
    /// No such job (HTTP 404).
    #[error("job {0:?} not found")]
    NotFound(String),
    /// The request conflicts with what is stored or running (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The store failed (HTTP 500).
    #[error(transparent)]
    Store(StoreError),
}

/// The output of a running execution: what was written so far, then each chunk as it is
/// written. The receiver ends (`RecvError::Closed`) when the execution ends.
pub struct OutputFollower {
    /// The output kept so far (the tail).
    pub backlog: Vec<u8>,
    /// Every later chunk, in order.
    pub chunks: broadcast::Receiver<Bytes>,
}

/// The handle to a running scheduler. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    #[allow(dead_code)]
    runtime: Runtime,
    config: SchedulerConfig,
}

impl Scheduler {
    /// Closes what a previous process left running, applies the misfire policies, and
    /// starts the claim loop, the recorder and the pruner.
    pub async fn start(
        store: Arc<dyn Store>,
        runtime: Runtime,
        config: SchedulerConfig,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                runtime,
                config,
            }),
        })
    }

    /// The store jobs and executions are kept in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.inner.config.node
    }

    /// Validates and creates or replaces a job (Dkron's create-or-replace), and
    /// schedules it. A missing parent or a job that would be its own ancestor is
    /// `Invalid` naming `parent_job`.
    pub async fn put_job(&self, spec: JobSpec) -> Result<StoredJob, JobError> {
        let _ = spec;
        todo!()
    }

    /// Flips `disabled`.
    pub async fn toggle_job(&self, name: &str) -> Result<StoredJob, JobError> {
        let _ = name;
        todo!()
    }

    /// Deletes a job and its executions; `Conflict` while it has dependent jobs.
    pub async fn delete_job(&self, name: &str) -> Result<StoredJob, JobError> {
        let _ = name;
        todo!()
    }

    /// Creates or replaces every job, parents before children (Dkron's restore). One
    /// result per job, in the input's order.
    pub async fn restore(&self, specs: Vec<JobSpec>) -> Vec<(String, Result<StoredJob, JobError>)> {
        let _ = specs;
        todo!()
    }

    /// Starts a run now and returns its execution record (state `running`) without
    /// waiting for it. Ignores `disabled` and the time bounds as Dkron does, but honours
    /// `forbid`: `Conflict` while an execution of the job is running.
    pub async fn run_job(&self, name: &str) -> Result<ExecutionRecord, JobError> {
        let _ = name;
        todo!()
    }

    /// Deletes a job's executions and resets its counters.
    pub async fn delete_executions(&self, name: &str) -> Result<StoredJob, JobError> {
        let _ = name;
        todo!()
    }

    /// The executions running on this node now, oldest first.
    pub fn busy(&self) -> Vec<ExecutionRecord> {
        todo!()
    }

    /// Follows the output of a running execution; `None` when it is not running here.
    pub fn follow(&self, execution_id: i64) -> Option<OutputFollower> {
        let _ = execution_id;
        todo!()
    }

    /// Kills a running execution; it ends as failed with the reason `killed`. Returns
    /// whether it was running here.
    pub fn kill(&self, execution_id: i64) -> bool {
        let _ = execution_id;
        todo!()
    }

    /// The Prometheus text exposition of the scheduler's metrics.
    pub fn metrics_text(&self) -> String {
        todo!()
    }

    /// Stops claiming, lets running executions end (up to `grace`), and flushes the
    /// recorder.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = grace;
        todo!()
    }
}
