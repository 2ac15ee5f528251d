//! Scheduling: when each job fires, and running it.
//!
//! * The [`Scheduler`] handle: what the API and the CLI use to change jobs, run them now,
//!   follow and kill executions. Behind it run the claim loop (due ticks are claimed from
//!   the store in batches, a transaction at a time, and fired by an in-memory timer), the
//!   dispatcher (one task per execution, retries, chaining, ephemeral jobs), the recorder
//!   (batched writes of started and finished executions), the retention pruner, and the
//!   membership loop (heartbeat, take-over of dead nodes, executions handed to this node).
//!   The claim loop, the recorder and the pruner run on a thread of their own
//!   ([`writer_thread`]), and give way to a burst of ticks starting.
//! * Every job belongs to a tenant: the handle's methods take the caller's [`TenantId`].
//!   The scheduler uses the services beside it through [`Services`]: the executor
//!   [`Registry`] finds the component a job names, [`Tenants`] gives each tenant's grants
//!   and quotas and counts its running executions, and [`Secrets`] fills in the secrets an
//!   execution uses. It administers none of them.

mod active;
mod admin;
mod backoff;
mod called_off;
mod claim;
mod dispatch;
mod history;
mod membership;
mod metrics;
mod placement;
mod recorder;
mod retention;
mod spans;
mod targets;
mod writer_thread;

pub use admin::RestoreBatch;
pub use claim::next_fire;
pub use history::MinuteStats;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::capabilities::Grants;
use crate::capabilities::http::HttpPolicy;
use crate::capabilities::mail::MailPolicy;
use crate::jobs::FieldError;
use crate::registry::{LookupError, Registry, RegistryConfig};
use crate::runtime::Runtime;
use crate::secrets::Secrets;
use crate::store::{
    ExecutionRecord, ExecutionSort, ExecutionState, ExecutionStore, JobQuery, JobStore, Member,
    MemberStore, NodeNameGuard, ReleasedTick, Store, StoreError, StoredJob, TenantId,
};
use crate::tenants::{QuotaExceeded, Tenants};
use active::ActiveExecutions;
use history::History;
use metrics::Metrics;
use recorder::Recorder;
use retention::Retention;

/// How the scheduler runs.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// This node's name, written on every execution it runs; unique among live nodes.
    pub node: String,
    /// Where this node's API listens, as other nodes reach it (`GET /v1/members`).
    pub address: String,
    /// This node's tags, which jobs' `tags` select nodes by.
    pub tags: std::collections::BTreeMap<String, String>,
    /// A member whose heartbeat is older is dead: survivors take its executions over.
    pub dead_after: Duration,
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
    /// Executions running at once; more wait for a slot.
    pub max_running: usize,
    /// How those slots are shared between tenants.
    pub node_share: crate::tenants::NodeShare,
    /// Where processors and notifications send things (`crate::after_run`).
    pub after_run: crate::after_run::AfterRunConfig,
    /// What jobs' executors may do. The default allows HTTP to any public host
    /// (`*://*:*`: no loopback, private or link-local address), mail notifications to
    /// anyone, and nothing else; the built-in `shell` may run any program unless
    /// `grants.process` names some.
    pub grants: Grants,
    /// The user granted programs run as when a tenant's grant names none (`None`: the
    /// server's own user).
    pub process_user: Option<String>,
    /// The keys secret values are sealed with in the store (`serve` always gives them);
    /// `None` stores them as given.
    pub secrets_keys: Option<Arc<crate::secrets_at_rest::SecretsKeys>>,
    /// The largest export `POST /v1/restore` takes, in bytes.
    pub max_restore_bytes: u64,
}

/// The largest export a restore takes unless `--max-restore-size` says otherwise.
pub const DEFAULT_MAX_RESTORE_BYTES: u64 = 1 << 30;

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            node: default_node_name(),
            address: String::new(),
            tags: std::collections::BTreeMap::new(),
            dead_after: DEFAULT_DEAD_AFTER,
            horizon: Duration::from_secs(2),
            claim_batch: 2000,
            keep_last: Some(100),
            max_age: None,
            output_limit: crate::output::DEFAULT_OUTPUT_LIMIT,
            max_running: 1000,
            node_share: crate::tenants::NodeShare::default(),
            after_run: crate::after_run::AfterRunConfig::default(),
            grants: Grants {
                http: HttpPolicy::parse(&["*://*:*"]).unwrap_or_default(),
                mail: MailPolicy::anyone(),
                ..Grants::default()
            },
            process_user: None,
            secrets_keys: None,
            max_restore_bytes: DEFAULT_MAX_RESTORE_BYTES,
        }
    }
}

/// How long a member may miss heartbeats before it is declared dead.
pub const DEFAULT_DEAD_AFTER: Duration = Duration::from_secs(10);

/// A member of the cluster and whether its heartbeat is recent.
#[derive(Clone, Debug)]
pub struct MemberStatus {
    /// The member's row.
    pub member: Member,
    /// Whether its last heartbeat is within `dead_after`.
    pub alive: bool,
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
    /// The request would take the tenant past a quota (HTTP 429).
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// The store failed (HTTP 500).
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for JobError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => Self::Conflict(message),
            other => Self::Store(other),
        }
    }
}

impl From<LookupError> for JobError {
    fn from(error: LookupError) -> Self {
        match error {
            LookupError::Invalid(field_error) => Self::Invalid(field_error),
            LookupError::Store(store_error) => store_error.into(),
        }
    }
}

/// The services beside the scheduler that it uses, each through its handle: it resolves
/// executors in the registry, applies tenants' policies and fills in secrets, and
/// administers none of them.
#[derive(Clone)]
pub struct Services {
    /// The executors jobs name.
    pub registry: Registry,
    /// The tenants' policies and running counts.
    pub tenants: Tenants,
    /// The tenants' secrets.
    pub secrets: Secrets,
}

impl Services {
    /// The services over `store` as `config` says (the default tenant granted its
    /// `grants`, secret values sealed with its `secrets_keys`), uploads taken as
    /// `registry_config` says; compiles (or finds compiled) the built-in executors, and
    /// seals the stored secret values that are plaintext or sealed under an older key
    /// ([`Secrets::seal_stored`]).
    pub async fn open(
        store: &Arc<dyn Store>,
        runtime: &Runtime,
        config: &SchedulerConfig,
        registry_config: RegistryConfig,
    ) -> anyhow::Result<Self> {
        let tenants = Tenants::new(
            store.clone(),
            config.grants.clone(),
            config.node_share.per_tenant(config.max_running),
        );
        let registry = Registry::load(
            store.clone(),
            runtime.clone(),
            tenants.clone(),
            registry_config,
        )
        .await?;
        let secrets = Secrets::new(store.clone(), config.secrets_keys.clone());
        let tenant_ids: Vec<TenantId> = tenants.list().await?.iter().map(|t| t.id).collect();
        secrets.seal_stored(&tenant_ids).await?;
        Ok(Self {
            registry,
            tenants,
            secrets,
        })
    }
}

/// The output of a running execution: what was written so far, then each chunk as it is
/// written. The chunks end when the execution ends.
pub struct OutputFollower {
    /// The output kept so far (the tail).
    pub backlog: Vec<u8>,
    /// Every later chunk, in order, while the follower keeps up (see
    /// [`crate::output::LiveFollowers`]).
    pub chunks: crate::output::LiveChunks,
}

/// The handle to a running scheduler. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

/// What the loops and tasks share.
struct Inner {
    /// The scheduler's half of the store: jobs, executions and the claims that make
    /// them, and the cluster's members.
    jobs: Arc<dyn JobStore>,
    executions: Arc<dyn ExecutionStore>,
    cluster: Arc<dyn MemberStore>,
    runtime: Runtime,
    config: SchedulerConfig,
    registry: Registry,
    tenants: Tenants,
    secrets: Secrets,
    active: Arc<ActiveExecutions>,
    recorder: Recorder,
    /// Runs processors and notifications after executions end.
    after_run: crate::after_run::AfterRun,
    metrics: Metrics,
    /// This node's last hour of executions per tenant, for the console's charts.
    history: History,
    /// Wakes the claim loop when a job changed.
    wake: Notify,
    stopping: CancellationToken,
    /// Cancelled when this node is asked to leave the cluster (`POST /v1/leave`).
    leave: CancellationToken,
    /// Every tick's task, so shutdown can wait for them.
    tasks: TaskTracker,
    /// The runtime the scheduler was started on, where every tick's task runs (the
    /// claim loop, which starts most of them, runs on [`writer_thread`]'s).
    tasks_runtime: tokio::runtime::Handle,
    /// Bounds the executions running at once.
    slots: Semaphore,
    /// Bounds those of the tenants other than the default one: the rest of `slots` is
    /// kept for the default tenant (`NodeShare::reserved_percent`).
    shared_slots: Semaphore,
    /// Jobs changed since some of their ticks were claimed.
    called_off: called_off::CalledOff,
    /// The claim loop, awaited at shutdown so that no tick is handed out after it.
    claim_loop: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Ticks claimed but not started when the scheduler stopped.
    released: std::sync::Mutex<Vec<ReleasedTick>>,
    /// The members as last read (every second), with the instant of the reading.
    members: std::sync::RwLock<membership::MemberView>,
    /// Held while the members are read on demand, so that one run reads for all.
    members_reading: tokio::sync::Mutex<()>,
    /// Keeps this node's name from being used by another live process.
    _name: std::sync::Mutex<NodeNameGuard>,
    /// The membership loop, awaited at shutdown before the node leaves.
    membership_loop: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Scheduler {
    /// Holds the node's name, joins the members, takes over what a previous process of
    /// this node left open (running executions closed as failed and retried, unstarted
    /// ticks run), applies the misfire policies (only when no other node is alive), and
    /// starts the claim loop, the recorder, the pruner and the membership loop.
    /// The services it uses are its own, opened over `store` ([`Services::open`]).
    pub async fn start(
        store: Arc<dyn Store>,
        runtime: Runtime,
        config: SchedulerConfig,
    ) -> anyhow::Result<Self> {
        let services = Services::open(&store, &runtime, &config, RegistryConfig::default()).await?;
        Self::start_with(store, runtime, config, services).await
    }

    /// Starts as [`Self::start`] does, using `services`, which the caller shares.
    pub async fn start_with(
        store: Arc<dyn Store>,
        runtime: Runtime,
        config: SchedulerConfig,
        services: Services,
    ) -> anyhow::Result<Self> {
        let name = store.hold_node_name(&config.node).await?;
        let retention = Arc::new(Retention::new(config.keep_last, config.max_age));
        let stopping = CancellationToken::new();
        let writer = writer_thread::WriterThread::start()?;
        let recorder = Recorder::start(&writer, store.clone(), retention.clone());
        let mut after_run_config = config.after_run.clone();
        after_run_config.node.clone_from(&config.node);
        let after_run = crate::after_run::AfterRun::start(
            after_run_config,
            store.clone(),
            Arc::new(recorder.clone()),
            runtime.clone(),
        );
        let inner = Arc::new(Inner {
            recorder,
            after_run,
            jobs: store.clone(),
            executions: store.clone(),
            slots: Semaphore::new(config.max_running.max(1)),
            shared_slots: Semaphore::new(config.node_share.shared(config.max_running.max(1))),
            cluster: store,
            runtime,
            config,
            registry: services.registry,
            tenants: services.tenants,
            secrets: services.secrets,
            active: Arc::new(ActiveExecutions::default()),
            metrics: Metrics::default(),
            history: History::default(),
            wake: Notify::new(),
            stopping: stopping.clone(),
            leave: CancellationToken::new(),
            tasks: TaskTracker::new(),
            tasks_runtime: tokio::runtime::Handle::current(),
            released: std::sync::Mutex::default(),
            called_off: called_off::CalledOff::default(),
            claim_loop: std::sync::Mutex::default(),
            members: std::sync::RwLock::default(),
            members_reading: tokio::sync::Mutex::default(),
            _name: std::sync::Mutex::new(name),
            membership_loop: std::sync::Mutex::default(),
        });
        inner.cluster.join(&inner.member()).await?;
        inner.take_over_own().await?;
        // Ticks are only missed while no node runs: with another node alive, an overdue
        // tick is one being claimed late, which must still fire.
        let others_alive = inner
            .cluster
            .list_members()
            .await?
            .iter()
            .any(|member| member.name != inner.config.node && inner.is_alive(member));
        let rescheduled = match others_alive {
            true => 0,
            false => claim::apply_misfire_policies(&inner).await?,
        };
        if rescheduled > 0 {
            tracing::info!(
                rescheduled,
                "applied misfire policies to ticks missed while stopped"
            );
        }
        writer.spawn(retention.run(inner.executions.clone(), stopping, writer.give_way()));
        let claim_loop = writer.spawn(claim::claim_loop(inner.clone(), writer.give_way()));
        *inner.claim_loop.lock().unwrap_or_else(|p| p.into_inner()) = Some(claim_loop);
        let membership_loop = tokio::spawn(membership::membership_loop(inner.clone()));
        *inner
            .membership_loop
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(membership_loop);
        Ok(Self { inner })
    }

    /// The largest export a restore takes, in bytes (`--max-restore-size`).
    pub fn max_restore_bytes(&self) -> u64 {
        self.inner.config.max_restore_bytes
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.inner.config.node
    }

    /// Every member of the cluster, by name, with whether it is alive.
    pub async fn members(&self) -> Result<Vec<MemberStatus>, StoreError> {
        Ok(self
            .inner
            .cluster
            .list_members()
            .await?
            .into_iter()
            .map(|member| MemberStatus {
                alive: self.inner.is_alive(&member),
                member,
            })
            .collect())
    }

    /// The job called `name`.
    pub async fn get_job(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<StoredJob>, StoreError> {
        self.inner.jobs.get_job(tenant, name).await
    }

    /// A slice of the jobs matching `query`, and how many match in all.
    pub async fn list_jobs(
        &self,
        tenant: TenantId,
        query: &JobQuery,
    ) -> Result<(Vec<StoredJob>, u64), StoreError> {
        self.inner.jobs.list_jobs(tenant, query).await
    }

    /// A slice of a job's executions in the order `sort` says, and how many it has.
    pub async fn list_executions(
        &self,
        tenant: TenantId,
        job_name: &str,
        sort: ExecutionSort,
        start: u64,
        end: Option<u64>,
    ) -> Result<(Vec<ExecutionRecord>, u64), StoreError> {
        self.inner
            .executions
            .list_executions_sorted(tenant, job_name, sort, start, end)
            .await
    }

    /// A slice of the executions of every job of `tenant`, newest first, only those in
    /// `state` when given.
    pub async fn list_tenant_executions(
        &self,
        tenant: TenantId,
        state: Option<ExecutionState>,
        start: u64,
        end: u64,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.inner
            .executions
            .list_tenant_executions(tenant, state, start, end)
            .await
    }

    /// One execution of a job, running or finished.
    pub async fn get_execution(
        &self,
        tenant: TenantId,
        job_name: &str,
        id: i64,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        self.inner
            .executions
            .get_execution(tenant, job_name, id)
            .await
    }

    /// The executions of `tenant` running on this node now, oldest first.
    pub fn busy(&self, tenant: TenantId) -> Vec<ExecutionRecord> {
        self.inner.active.records(tenant)
    }

    /// Follows the output of a running execution; `None` when it is not running here.
    pub fn follow(&self, execution_id: i64) -> Option<OutputFollower> {
        self.inner.active.follow(execution_id)
    }

    /// Kills a running execution; it ends as failed with the reason `killed`. Returns
    /// whether it was running here.
    pub fn kill(&self, execution_id: i64) -> bool {
        self.inner.active.kill(execution_id)
    }

    /// Asks this node to leave the cluster: whoever serves it (`serve`) then stops as on
    /// SIGTERM (no new claims, unstarted ticks handed back to the others, running
    /// executions given the grace period, the member row left).
    pub fn request_leave(&self) {
        self.inner.leave.cancel();
    }

    /// Resolves once [`Scheduler::request_leave`] was called.
    pub async fn leave_requested(&self) {
        self.inner.leave.cancelled().await;
    }

    /// Adds the scheduler's series to `registry` (the running and waiting counts read
    /// now).
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        let running = self.inner.active.len();
        // Every tick's task, less those running: the ticks waiting for their instant or
        // a slot (and placements being decided).
        let queued = self.inner.tasks.len().saturating_sub(running);
        let now = metrics::ReadNow {
            running,
            queued,
            followers: self.inner.active.follower_stats(),
        };
        self.inner.metrics.register(registry, now);
    }

    /// The Prometheus text exposition of the scheduler's metrics alone, labelled with
    /// the node's name.
    pub fn metrics_text(&self) -> String {
        crate::telemetry::metrics::exposition(self.node(), |registry| {
            self.register_metrics(registry)
        })
    }

    /// This node's last hour of executions, minute by minute, of `tenant` (of every
    /// tenant when `None`).
    pub fn last_hour(&self, tenant: Option<TenantId>) -> Vec<MinuteStats> {
        self.inner.history.last_hour(tenant, chrono::Utc::now())
    }

    /// Executions started since this process began.
    pub fn executions_started(&self) -> u64 {
        self.inner.metrics.started_total()
    }

    /// Stops claiming, hands unstarted ticks back, lets running executions end (up to
    /// `grace`, then kills them), and writes every record.
    pub async fn shutdown(&self, grace: Duration) {
        let inner = &self.inner;
        inner.stopping.cancel();
        join_loop(&inner.claim_loop).await;
        join_loop(&inner.membership_loop).await;
        inner.tasks.close();
        if tokio::time::timeout(grace, inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = inner.active.len(),
                "executions still running after the grace period; killing them"
            );
            inner.active.kill_all();
            let _ = tokio::time::timeout(Duration::from_secs(5), inner.tasks.wait()).await;
        }
        let released =
            std::mem::take(&mut *inner.released.lock().unwrap_or_else(|p| p.into_inner()));
        if let Err(error) = inner.executions.release_ticks(&released).await {
            tracing::warn!(%error, ticks = released.len(), "handing back unstarted ticks failed");
        }
        inner.after_run.settle(grace).await;
        inner.recorder.flush().await;
        inner.leave().await;
    }
}

/// Waits for the loop whose handle is in `slot` to end (it was told to stop), once.
async fn join_loop(slot: &std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>) {
    let handle = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(handle) = handle {
        let _ = handle.await;
    }
}
