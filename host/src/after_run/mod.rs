//! After an execution ends: its job's processors (`jobs::processors`: where the output
//! goes, and what is stored) and notifications (`jobs::notify`: who hears of it).
//!
//! The dispatcher hands each ended execution of a job that has either to [`AfterRun::submit`],
//! which never waits: the work goes on a bounded queue, served by at most
//! [`MAX_CONCURRENT`] tasks, on the node that ran the execution. A full queue is recorded
//! on the execution (nothing runs for it), never waited for, so a slow processor or a dead
//! notification target never slows the scheduler.
//!
//! * Processors run in order, each bounded in time; a step's failure is recorded and the
//!   output passes on unchanged. A built-in step that does not `forward` replaces the
//!   output with a note saying where it went (Dkron's rule); an uploaded processor returns
//!   the output to pass on.
//! * Notifications fire after the last attempt of a tick (as Dkron's), each delivered with
//!   a few retries and a growing pause ([`notify`]), all of a tick's at once.
//!
//! What happened is written with the execution ([`Report`], through the scheduler's
//! recorder, after the execution's own record): once the processors are done (with the
//! output they left), and again once the notifications are.

mod notify;
mod processors;
mod report;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::task::TaskTracker;

use crate::capabilities::Grants;
use crate::jobs::JobSpec;
use crate::jobs::notify::NotifyRule;
use crate::runtime::{Executable, Runtime};
use crate::store::{AfterRunWrite, ExecutionRecord, ExecutionStore};
pub use notify::{MailPassword, MailRelay, MailTls};
pub use processors::{FluentTarget, SyslogTarget};
pub use report::{DeliveryOutcome, ProcessorOutcome, Report};

/// Ended executions waiting for their processors and notifications, at most.
const QUEUE: usize = 10_000;

/// Ended executions whose processors and notifications run at once, at most.
pub const MAX_CONCURRENT: usize = 32;

/// The server's side of processors and notifications.
#[derive(Clone, Debug, Default)]
pub struct AfterRunConfig {
    /// This node's name: `{{.ReportingNode}}`, the fluent record's `host`.
    pub node: String,
    /// Where the `files` processor writes (`serve --processor-files-dir`); a job's
    /// `log_dir` must lie inside it. `None`: the `files` processor fails.
    pub files_dir: Option<PathBuf>,
    /// Where the `syslog` processor sends.
    pub syslog: SyslogTarget,
    /// Where the `fluent` processor sends.
    pub fluent: FluentTarget,
    /// The SMTP relay mail notifications go through; `None`: they fail.
    pub mail: Option<MailRelay>,
    /// The rules of jobs that have no `notify` of their own.
    pub default_rules: Vec<NotifyRule>,
}

/// An execution that ended, as its processors and notifications see it.
pub struct Ended {
    /// The job's tenant, by name (`{{.Tenant}}`, the `files` processor's subdirectory).
    pub tenant_name: String,
    /// Whether the tenant is the operator's own (`default`).
    pub operators: bool,
    /// The job's id.
    pub job_id: i64,
    /// The job's definition.
    pub spec: Arc<JobSpec>,
    /// The execution as it ended.
    pub record: ExecutionRecord,
    /// The job's status after it.
    pub job_status: &'static str,
    /// Whether no attempt follows it (notifications fire only then).
    pub last_attempt: bool,
    /// What the job's executions may do: uploaded processors run under it, webhooks go
    /// only where its `http` grant allows.
    pub grants: Grants,
    /// The uploaded processors the job names, loaded (or why they could not be).
    pub components: HashMap<String, Result<Arc<Executable>, String>>,
}

/// Where reports are written, and how to wait until everything sent before is.
#[async_trait::async_trait]
pub trait ReportWriter: Send + Sync {
    /// Writes what ran after an execution (after the execution's own record).
    fn write(&self, written: AfterRunWrite);
    /// Resolves once everything sent before is written.
    async fn flush(&self);
}

/// The handle the dispatcher submits ended executions to. Cheap to clone.
#[derive(Clone)]
pub struct AfterRun {
    queue: mpsc::Sender<Ended>,
    shared: Arc<Shared>,
}

struct Shared {
    config: AfterRunConfig,
    store: Arc<dyn ExecutionStore>,
    writer: Arc<dyn ReportWriter>,
    runtime: Runtime,
    http: crate::capabilities::http::HttpClient,
    slots: Arc<Semaphore>,
    tasks: TaskTracker,
}

impl AfterRun {
    /// Starts the task that serves the queue.
    pub fn start(
        config: AfterRunConfig,
        store: Arc<dyn ExecutionStore>,
        writer: Arc<dyn ReportWriter>,
        runtime: Runtime,
    ) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared {
            config,
            store,
            writer,
            runtime,
            http: Default::default(),
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT)),
            tasks: TaskTracker::new(),
        });
        tokio::spawn(serve(receiver, shared.clone()));
        Self { queue, shared }
    }

    /// Whether an execution of `spec` has anything to run after it: processors, or
    /// notification rules (its own, or the server's).
    pub fn has_work(&self, spec: &JobSpec) -> bool {
        !spec.processors.is_empty() || !self.shared.rules(spec).is_empty()
    }

    /// The uploaded processors `spec` names (each once), to be loaded before submitting.
    pub fn components(spec: &JobSpec) -> Vec<String> {
        let mut names: Vec<String> = spec
            .processors
            .steps
            .iter()
            .filter(|step| !step.is_built_in())
            .map(|step| step.name.clone())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Queues `ended`'s processors and notifications; never waits. When the queue is
    /// full, that is recorded on the execution instead.
    pub fn submit(&self, ended: Ended) {
        if let Err(mpsc::error::TrySendError::Full(ended)) = self.queue.try_send(ended) {
            let error = format!(
                "not run: {QUEUE} ended executions were already waiting for their \
                 processors and notifications on node {}",
                self.shared.config.node
            );
            tracing::warn!(job = %ended.spec.name, execution = ended.record.id, "{error}");
            let report = Report {
                processors: ended
                    .spec
                    .processors
                    .steps
                    .iter()
                    .map(|step| ProcessorOutcome {
                        name: step.name.clone(),
                        ok: false,
                        error: Some(error.clone()),
                    })
                    .collect(),
                notifications: Vec::new(),
            };
            self.shared.writer.write(AfterRunWrite {
                id: ended.record.id,
                output: None,
                report: report.to_json(),
            });
        }
    }

    /// Waits up to `within` for the work under way (at shutdown, before the last writes).
    pub async fn settle(&self, within: Duration) {
        self.shared.tasks.close();
        let _ = tokio::time::timeout(within, self.shared.tasks.wait()).await;
        self.shared.tasks.reopen();
    }
}

/// Takes ended executions off the queue, each in a task of its own once a slot is free.
async fn serve(mut receiver: mpsc::Receiver<Ended>, shared: Arc<Shared>) {
    while let Some(ended) = receiver.recv().await {
        let Ok(slot) = shared.slots.clone().acquire_owned().await else {
            return;
        };
        let work = shared.clone();
        shared.tasks.spawn(async move {
            work.handle(ended).await;
            drop(slot);
        });
    }
}

impl Shared {
    /// The rules that apply to `spec`: its own, or the server's.
    fn rules<'a>(&'a self, spec: &'a JobSpec) -> &'a [NotifyRule] {
        spec.notify.as_deref().unwrap_or(&self.config.default_rules)
    }

    async fn handle(&self, ended: Ended) {
        let mut report = Report::default();
        let mut output = None;
        if !ended.spec.processors.is_empty() {
            let (processed, outcomes) = processors::run(self, &ended).await;
            report.processors = outcomes;
            if processed != ended.record.output {
                output = Some(processed);
            }
        }
        let deliveries = if ended.last_attempt {
            notify::due(self, &ended).await
        } else {
            Vec::new()
        };
        if !report.processors.is_empty() || !deliveries.is_empty() {
            report.notifications = deliveries.iter().map(notify::Delivery::pending).collect();
            self.writer.write(AfterRunWrite {
                id: ended.record.id,
                output: output.clone(),
                report: report.to_json(),
            });
        }
        if deliveries.is_empty() {
            return;
        }
        let shown_output = output.as_deref().unwrap_or(&ended.record.output);
        report.notifications = notify::deliver(self, &ended, shown_output, deliveries).await;
        self.writer.write(AfterRunWrite {
            id: ended.record.id,
            output: None,
            report: report.to_json(),
        });
    }
}
