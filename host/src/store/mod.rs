//! The store: tenants and their tokens, jobs, executions, uploaded executors and secrets, on SQLite (the embedded default) or PostgreSQL, behind
//! one trait. This module is the only one that speaks SQL.
//!
//! Both backends share one implementation (`sql.rs`): the SQL text is written once with
//! `$N` placeholders, which sqlx binds by number on both. Each backend module holds only
//! what differs: connecting, migrations (`host/migrations/<backend>/`), and the few
//! statements whose dialects differ. Times are stored as milliseconds since the Unix epoch.
//!
//! Several nodes may share one PostgreSQL database: the claim locks the rows it takes
//! (`SKIP LOCKED`), each node keeps a `members` row fresh, and a dead node's open
//! executions are taken over by exactly one survivor ([`Store::take_over`]).

mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::jobs::JobSpec;

/// Which tenant owns a job, an executor upload or a secret. Every lookup by name carries
/// one: names are unique per tenant, and another tenant's are never found.
pub type TenantId = i64;

/// The operator's own tenant, `default`: it owns what was written before tenants existed,
/// and admin tokens act as it.
pub const DEFAULT_TENANT: TenantId = 1;

/// A tenant as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Tenant {
    /// Internal id.
    pub id: TenantId,
    /// Its name (a slug), unique.
    pub name: String,
    /// What its executions may do: `{"CAPABILITY": ["PATTERN", …]}`.
    pub grants: serde_json::Value,
    /// Its limits: `{"max_jobs": N, …}`.
    pub quotas: serde_json::Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Whom an API token stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenOwner {
    /// The tenant it acts as.
    pub tenant: Tenant,
    /// Whether it may also manage tenants.
    pub admin: bool,
}

/// One version of an uploaded executor component, without its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredExecutor {
    /// The name jobs use in `executor`.
    pub name: String,
    /// 1 for the first upload of the name; each upload adds one.
    pub version: u32,
    /// SHA-256 of the component's bytes, hex.
    pub sha256: String,
    /// Size of the component in bytes.
    pub size: u64,
    /// The interfaces the component imports.
    pub imports: Vec<String>,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
}

/// A secret as listed: its name and dates, never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretInfo {
    /// The name jobs and executors use.
    pub name: String,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When its value was last set.
    pub updated_at: DateTime<Utc>,
}

/// A job as stored: its definition and what running it has changed.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredJob {
    /// Internal id.
    pub id: i64,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// The definition.
    pub spec: JobSpec,
    /// `""` (never run), `success`, `failed` or `partially_failed`.
    pub status: String,
    /// When it fires next; `None` when it never fires by itself.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Successful executions.
    pub success_count: i64,
    /// Failed executions.
    pub error_count: i64,
    /// When the last successful execution finished.
    pub last_success: Option<DateTime<Utc>>,
    /// When the last failed execution finished.
    pub last_error: Option<DateTime<Utc>>,
    /// The jobs whose `parent_job` is this one.
    pub dependent_jobs: Vec<String>,
}

/// Where an execution is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutionState {
    /// Claimed for a tick, not started yet.
    Scheduled,
    /// The executor is running.
    Running,
    /// It ended with success.
    Succeeded,
    /// It ended with a failure.
    Failed,
}

impl ExecutionState {
    /// Every state, in the order of an execution's life.
    pub const ALL: [Self; 4] = [
        Self::Scheduled,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "scheduled" => Self::Scheduled,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            _ => Self::Failed,
        }
    }
}

/// Why an execution exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A tick of the job's schedule.
    Schedule,
    /// Asked for over the API or the CLI.
    Manual,
    /// A later attempt of a failed execution.
    Retry,
    /// The job's parent succeeded.
    Parent,
}

impl Trigger {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Manual => "manual",
            Self::Retry => "retry",
            Self::Parent => "parent",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "manual" => Self::Manual,
            "retry" => Self::Retry,
            "parent" => Self::Parent,
            _ => Self::Schedule,
        }
    }
}

/// A node of the cluster, as its `members` row says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The node's name (`--node`), unique among live nodes.
    pub name: String,
    /// Where its API listens.
    pub address: String,
    /// Its tags (`--tag key=value`).
    pub tags: std::collections::BTreeMap<String, String>,
    /// When this process of the node started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
}

/// When a member counts as dead, for [`Store::take_over`].
#[derive(Clone, Copy, Debug)]
pub struct DeadRule {
    /// A member whose last heartbeat is older is dead.
    pub heartbeat_before: DateTime<Utc>,
    /// A member whose last heartbeat is older, and whose process is certainly gone (on
    /// PostgreSQL: its session, which holds its name's advisory lock, has ended), is dead
    /// too: a crash is noticed in seconds rather than after the whole `heartbeat_before`.
    pub gone_before: DateTime<Utc>,
}

/// What [`Store::take_over`] did with a node's open executions.
#[derive(Clone, Debug, Default)]
pub struct TakenOver {
    /// The executions that were running, with their jobs' ids: now closed as failed with
    /// the reason given.
    pub closed: Vec<(i64, ExecutionRecord)>,
    /// How many scheduled (unstarted) executions were handed to the new owner.
    pub handed: u64,
}

/// A scheduled execution handed to this node by another (see [`Store::pick_handed`]).
#[derive(Clone, Debug)]
pub struct HandedExecution {
    /// Its job's tenant.
    pub tenant: TenantId,
    /// The execution, state `scheduled`.
    pub record: ExecutionRecord,
    /// Its job's id.
    pub job_id: i64,
    /// Its job's definition.
    pub spec: JobSpec,
    /// Whether other jobs name it as their parent.
    pub has_dependents: bool,
}

/// Held for as long as a node runs: its name cannot be taken by another process meanwhile.
pub type NodeNameGuard = Box<dyn std::any::Any + Send>;

/// One execution of a job.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionRecord {
    /// Unique id.
    pub id: i64,
    /// The job's name.
    pub job_name: String,
    /// Shared by every attempt of one tick.
    pub group: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The tick it belongs to.
    pub scheduled_at: DateTime<Utc>,
    /// When the executor started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it is.
    pub state: ExecutionState,
    /// The output kept (the tail).
    pub output: Vec<u8>,
    /// Whether older output was dropped.
    pub output_truncated: bool,
    /// Why it failed; empty otherwise.
    pub reason: String,
    /// The node that runs or ran it.
    pub node: String,
    /// Why it exists.
    pub trigger: Trigger,
}

/// A new execution, written before the executor starts.
#[derive(Clone, Debug)]
pub struct NewExecution {
    /// The tenant of the job.
    pub tenant: TenantId,
    /// The job's name.
    pub job_name: String,
    /// Shared by every attempt of one tick; `None` starts a new group.
    pub group: Option<i64>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The tick it belongs to (for a retry: when it is due).
    pub scheduled_at: DateTime<Utc>,
    /// `Running` when the executor starts now, `Scheduled` when it waits for its time.
    pub state: ExecutionState,
    /// The node that runs it.
    pub node: String,
    /// Why it exists.
    pub trigger: Trigger,
    /// Given to `node` by another node: `node` picks it up with [`Store::pick_handed`].
    pub handed_over: bool,
    /// Write it only when no execution of the job is scheduled or running (the job's
    /// `forbid`): the check and the write are one transaction holding the job's state
    /// row, so two requests at once, or a request and a claim, cannot both pass.
    /// [`StoreError::Conflict`] when one is open.
    pub exclusive: bool,
}

/// How an execution ended.
#[derive(Clone, Debug)]
pub struct FinishedExecution {
    /// Which execution.
    pub id: i64,
    /// Its job.
    pub job_id: i64,
    /// When the executor started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Whether it succeeded.
    pub success: bool,
    /// The output kept.
    pub output: Vec<u8>,
    /// Whether older output was dropped.
    pub output_truncated: bool,
    /// Why it failed; empty on success.
    pub reason: String,
    /// The job's status after it (see [`group_status`]).
    pub job_status: &'static str,
}

/// A job whose tick is due, as a claim sees it.
#[derive(Clone, Debug)]
pub struct DueJob {
    /// Internal id.
    pub id: i64,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// The definition.
    pub spec: JobSpec,
    /// The tick.
    pub scheduled_at: DateTime<Utc>,
    /// Whether other jobs name it as their parent.
    pub has_dependents: bool,
}

/// A node's share of the ticks while several nodes claim, so that the work is spread even
/// when one node could claim it all: the jobs whose id modulo `of` is `index`, and any
/// tick due by `anyones_after` (its node did not claim it in time: it may be dead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimShare {
    /// How many nodes share the jobs.
    pub of: u32,
    /// This node's place among them.
    pub index: u32,
    /// Ticks due by then are claimed by whichever node comes first.
    pub anyones_after: DateTime<Utc>,
}

/// Decides when a due job fires after the tick it is claimed for (`None`: never again).
pub type PlanNext<'a> = &'a (dyn Fn(&DueJob) -> Option<DateTime<Utc>> + Send + Sync);

/// A tick claimed by this node: its execution is written (state `scheduled`), and the
/// job's next tick is already stored.
#[derive(Clone, Debug)]
pub struct ClaimedTick {
    /// The job and the tick.
    pub job: DueJob,
    /// The execution written for it, or `None` when the tick was skipped because the job
    /// forbids overlapping runs and one is still open.
    pub execution: Option<i64>,
    /// The execution group (every attempt of the tick shares it).
    pub group: i64,
}

/// A claimed tick handed back unstarted (at shutdown): its execution is deleted and the
/// job's next tick set back to it.
#[derive(Clone, Copy, Debug)]
pub struct ReleasedTick {
    /// The execution written for it.
    pub execution_id: i64,
    /// Its job.
    pub job_id: i64,
    /// The tick.
    pub scheduled_at: DateTime<Utc>,
}

/// Which jobs to list, in which order, which slice.
#[derive(Clone, Debug, Default)]
pub struct JobQuery {
    /// Substring of the name or the display name.
    pub q: Option<String>,
    /// `success`, `failed`, `partially_failed` or `untriggered`.
    pub status: Option<String>,
    /// Only disabled (`true`) or enabled (`false`) jobs.
    pub disabled: Option<bool>,
    /// Every pair must match the job's metadata.
    pub metadata: Vec<(String, String)>,
    /// Only jobs whose `executor` is this.
    pub executor: Option<String>,
    /// The sort key.
    pub sort: JobSort,
    /// Descending order.
    pub descending: bool,
    /// First index of the slice (Dkron's `_start`).
    pub start: u64,
    /// End of the slice, exclusive (Dkron's `_end`); `None` for all.
    pub end: Option<u64>,
}

/// What the job list can be sorted by (Dkron's indexes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JobSort {
    /// By name (also Dkron's `id`).
    #[default]
    Name,
    /// By display name.
    Displayname,
    /// By schedule text.
    Schedule,
    /// By successful executions.
    SuccessCount,
    /// By failed executions.
    ErrorCount,
    /// By last success.
    LastSuccess,
    /// By last failure.
    LastError,
    /// By next fire time.
    Next,
}

impl JobSort {
    /// Parses Dkron's `_sort` values.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "name" | "id" => Self::Name,
            "displayname" => Self::Displayname,
            "schedule" => Self::Schedule,
            "success_count" => Self::SuccessCount,
            "error_count" => Self::ErrorCount,
            "last_success" => Self::LastSuccess,
            "last_error" => Self::LastError,
            "next" => Self::Next,
            _ => return None,
        })
    }

    /// The key a tie on [`Sort::column`] is broken by: the id of the table that holds the
    /// column, so that one index (`(column, id)`) serves the whole order.
    fn tiebreak(self) -> &'static str {
        match self {
            Self::Name | Self::Displayname | Self::Schedule => "jobs.id",
            _ => "job_state.job_id",
        }
    }

    /// The two tables of the list, the one that holds the sort key first: SQLite keeps
    /// the order of a `CROSS JOIN`, so the first page of a list sorted by `next` walks
    /// `job_state_next` and stops, instead of sorting every job of the tenant. The join
    /// condition is in the filters ([`crate::store::sql`]'s `list_jobs`).
    fn tables(self) -> &'static str {
        match self {
            Self::Name | Self::Displayname | Self::Schedule => "jobs CROSS JOIN job_state",
            _ => "job_state CROSS JOIN jobs",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Displayname => "displayname",
            Self::Schedule => "schedule",
            Self::SuccessCount => "success_count",
            Self::ErrorCount => "error_count",
            Self::LastSuccess => "last_success",
            Self::LastError => "last_error",
            Self::Next => "next_run_at",
        }
    }
}

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request conflicts with what is stored (a parent with children, say).
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Stored data could not be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// The store's operations; one implementation per backend.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a job, or replaces the definition of the one with the same name, keeping
    /// its counters. `next_run_at` is when it fires next.
    async fn put_job(
        &self,
        tenant: TenantId,
        spec: &JobSpec,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<StoredJob, StoreError>;

    /// Creates or replaces many jobs in one transaction, a bulk statement per thousand;
    /// a job that appears twice keeps its last definition.
    async fn put_jobs(
        &self,
        tenant: TenantId,
        jobs: &[(JobSpec, Option<DateTime<Utc>>)],
    ) -> Result<(), StoreError>;

    /// The job called `name`.
    async fn get_job(&self, tenant: TenantId, name: &str) -> Result<Option<StoredJob>, StoreError>;

    /// The job with this internal id, whatever its tenant (for work the scheduler finds
    /// by execution, such as a take-over's retries).
    async fn get_job_by_id(&self, id: i64) -> Result<Option<StoredJob>, StoreError>;

    /// The ids of those of `names` that are the tenant's jobs, by name.
    async fn job_ids(
        &self,
        tenant: TenantId,
        names: &[&str],
    ) -> Result<std::collections::HashMap<String, i64>, StoreError>;

    /// How many jobs the tenant has.
    async fn count_jobs(&self, tenant: TenantId) -> Result<u64, StoreError>;

    /// A slice of the jobs matching `query`, and how many match in all.
    async fn list_jobs(
        &self,
        tenant: TenantId,
        query: &JobQuery,
    ) -> Result<(Vec<StoredJob>, u64), StoreError>;

    /// Deletes a job and its executions; refused while other jobs name it as parent.
    async fn delete_job(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<StoredJob>, StoreError>;

    /// Sets `disabled` and the next fire time.
    async fn set_disabled(
        &self,
        tenant: TenantId,
        name: &str,
        disabled: bool,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<Option<StoredJob>, StoreError>;

    /// Claims up to `limit` ticks due by `until`, oldest first, in one transaction: writes
    /// an execution (state `scheduled`) for each, except for a `forbid` job with an open
    /// execution, and stores each job's next tick as `plan` gives it. On PostgreSQL the
    /// rows are locked with `SKIP LOCKED`, so two nodes never claim the same tick. With a
    /// `share`, only the node's share of the jobs, and any tick due soon.
    async fn claim_due(
        &self,
        node: &str,
        until: DateTime<Utc>,
        limit: usize,
        share: Option<ClaimShare>,
        plan: PlanNext<'_>,
    ) -> Result<Vec<ClaimedTick>, StoreError>;

    /// Deletes the execution of a claimed tick that was called off before it started.
    async fn discard_tick(&self, execution_id: i64) -> Result<(), StoreError>;

    /// Gives unstarted claimed ticks back; a tick whose execution is already gone (handed
    /// back before) changes nothing: deletes their executions and sets each job's
    /// next tick back to the earliest of them.
    async fn release_ticks(&self, ticks: &[ReleasedTick]) -> Result<(), StoreError>;

    /// Sets the next tick, as `plan` gives it, of every job whose tick is before `before`:
    /// the misfire policies, applied at start-up. Returns how many jobs it changed.
    async fn reschedule_overdue(
        &self,
        before: DateTime<Utc>,
        plan: PlanNext<'_>,
    ) -> Result<u64, StoreError>;

    /// Writes a new execution, before its executor starts.
    async fn start_execution(&self, new: &NewExecution) -> Result<ExecutionRecord, StoreError>;

    /// Marks executions as running since the given instants.
    async fn mark_running(&self, started: &[(i64, DateTime<Utc>)]) -> Result<(), StoreError>;

    /// Completes executions and updates their jobs' counters and status, in one
    /// transaction, with a few statements whatever the number of executions.
    async fn finish_executions(&self, finished: &[FinishedExecution]) -> Result<(), StoreError>;

    /// Deletes a job's executions and resets its counters and status.
    async fn delete_executions(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<StoredJob>, StoreError>;

    /// Deletes the finished executions of these jobs beyond the newest `keep` of each.
    async fn prune_executions(&self, job_ids: &[i64], keep: u32) -> Result<u64, StoreError>;

    /// Deletes finished executions that ended before `before`.
    async fn prune_finished_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// A slice of a job's executions, newest first, and how many it has.
    async fn list_executions(
        &self,
        tenant: TenantId,
        job_name: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<(Vec<ExecutionRecord>, u64), StoreError>;

    /// A slice of the executions of every job of `tenant`, newest first, only those in
    /// `state` when given. No total: counting every execution of a tenant is a scan.
    async fn list_tenant_executions(
        &self,
        tenant: TenantId,
        state: Option<ExecutionState>,
        start: u64,
        end: u64,
    ) -> Result<Vec<ExecutionRecord>, StoreError>;

    /// One execution of a job.
    async fn get_execution(
        &self,
        tenant: TenantId,
        job_name: &str,
        id: i64,
    ) -> Result<Option<ExecutionRecord>, StoreError>;

    /// Closes as failed, with `reason`, every execution `node` left scheduled or running:
    /// run at start-up, so a crash never leaves a phantom "running" behind.
    async fn close_unfinished(&self, node: &str, reason: &str) -> Result<u64, StoreError>;

    /// Creates or refreshes the member row of `member.name` (a node joining, or joining
    /// again after a restart).
    async fn join(&self, member: &Member) -> Result<(), StoreError>;

    /// Sets the last heartbeat of the member `name`; `false` when it has no member row
    /// (it was forgotten: it must join again).
    async fn heartbeat(&self, name: &str, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Deletes the members that were taken over and whose last heartbeat is before
    /// `dead_before`; their names.
    async fn forget_members(&self, dead_before: DateTime<Utc>) -> Result<Vec<String>, StoreError>;

    /// Every member, by name.
    async fn list_members(&self) -> Result<Vec<Member>, StoreError>;

    /// Takes the open executions of node `from` over for node `to`, in one transaction:
    /// running ones are closed as failed with `reason`, scheduled ones are handed to `to`.
    /// With `dead`, only when `from` is dead by that rule and no other node took it over
    /// since its last join (a conditional update of its member row: of several survivors
    /// trying at once, exactly one gets `Some`).
    async fn take_over(
        &self,
        from: &str,
        dead: Option<DeadRule>,
        reason: &str,
        to: &str,
    ) -> Result<Option<TakenOver>, StoreError>;

    /// The scheduled executions handed to `node` since it last looked, with their jobs;
    /// each is returned once.
    async fn pick_handed(&self, node: &str) -> Result<Vec<HandedExecution>, StoreError>;

    /// Gives the scheduled execution `execution_id` to `node` (a job's tags chose it);
    /// `false`, changing nothing, when `node` was taken over since it last joined (it
    /// would never pick the execution up).
    async fn hand_to(&self, execution_id: i64, node: &str) -> Result<bool, StoreError>;

    /// Holds the node name `name` for this process: on PostgreSQL a session advisory lock
    /// on a connection of its own, so that two live processes cannot use one name (a
    /// crashed process's session ends with it). [`StoreError::Conflict`] when another
    /// process holds it.
    async fn hold_node_name(&self, name: &str) -> Result<NodeNameGuard, StoreError>;

    /// Stores a new version of the executor `name` (the first is 1) with its bytes.
    async fn put_executor(
        &self,
        tenant: TenantId,
        name: &str,
        sha256: &str,
        imports: &[String],
        wasm: &[u8],
    ) -> Result<StoredExecutor, StoreError>;

    /// The latest version of every uploaded executor, by name.
    async fn list_executors(&self, tenant: TenantId) -> Result<Vec<StoredExecutor>, StoreError>;

    /// How many executor versions the tenant has uploaded, and their total size in bytes.
    async fn executor_usage(&self, tenant: TenantId) -> Result<(u64, u64), StoreError>;

    /// Every version of the executor `name`, newest first; empty when there is none.
    async fn executor_versions(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Vec<StoredExecutor>, StoreError>;

    /// One version of `name` (the latest when `version` is `None`) with its bytes.
    async fn executor_wasm(
        &self,
        tenant: TenantId,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<(StoredExecutor, Vec<u8>)>, StoreError>;

    /// Deletes every version of `name`; [`StoreError::Conflict`] naming the jobs when some
    /// use it. `false` when there was none.
    async fn delete_executor(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError>;

    /// Sets the secret `name` to `value`; `true` when it is new.
    async fn put_secret(
        &self,
        tenant: TenantId,
        name: &str,
        value: &str,
    ) -> Result<bool, StoreError>;

    /// Every secret's name and dates, by name.
    async fn list_secrets(&self, tenant: TenantId) -> Result<Vec<SecretInfo>, StoreError>;

    /// The values of those of `names` that exist.
    async fn secret_values(
        &self,
        tenant: TenantId,
        names: &[String],
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Deletes the secret `name`; `false` when there was none.
    async fn delete_secret(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError>;

    /// Creates the tenant `name`, with no grants and no quotas;
    /// [`StoreError::Conflict`] when it exists.
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError>;

    /// Every tenant, by name.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// The tenant called `name`.
    async fn get_tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError>;

    /// The tenant with this id.
    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, StoreError>;

    /// Replaces a tenant's grants; `None` when there is no such tenant.
    async fn set_tenant_grants(
        &self,
        name: &str,
        grants: &serde_json::Value,
    ) -> Result<Option<Tenant>, StoreError>;

    /// Replaces a tenant's quotas; `None` when there is no such tenant.
    async fn set_tenant_quotas(
        &self,
        name: &str,
        quotas: &serde_json::Value,
    ) -> Result<Option<Tenant>, StoreError>;

    /// Stores a token by its hash for `tenant` (an admin token when `admin`).
    async fn add_token(&self, tenant: TenantId, hash: &str, admin: bool) -> Result<(), StoreError>;

    /// Whom the token with this hash stands for.
    async fn token_owner(&self, hash: &str) -> Result<Option<TokenOwner>, StoreError>;

    /// Whether any admin token is stored.
    async fn has_admin_token(&self) -> Result<bool, StoreError>;
}

/// Opens the store at `url`: `sqlite://PATH` (created when missing) or `postgres://…`,
/// and brings its schema up to date.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        anyhow::bail!("database url {url:?}: expected sqlite://PATH or postgres://…")
    }
}

/// The job status after an execution of a group ended: Dkron's rule over the group's
/// finished executions.
pub fn group_status(succeeded: usize, failed: usize) -> &'static str {
    match (succeeded > 0, failed > 0) {
        (true, true) => "partially_failed",
        (false, true) => "failed",
        _ => "success",
    }
}

fn to_millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
