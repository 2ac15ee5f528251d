//! Executions in the store, and the claims that create them: the claim of due ticks (an
//! execution row written per tick under the job's state row lock), ticks called off or
//! handed back, the recorder's batched writes, retention, and what the API reads.

use chrono::{DateTime, Utc};

use super::{StoreError, StoredJob, TenantId};
use crate::jobs::JobSpec;

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

    pub(super) fn parse(text: &str) -> Self {
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

    pub(super) fn parse(text: &str) -> Self {
        match text {
            "manual" => Self::Manual,
            "retry" => Self::Retry,
            "parent" => Self::Parent,
            _ => Self::Schedule,
        }
    }
}

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
    /// What ran after it ended (`crate::after_run`): `{"processors": […],
    /// "notifications": […]}`; `None` while nothing did.
    pub after_run: Option<serde_json::Value>,
}

/// What ran after an execution ended, written once it is done.
#[derive(Clone, Debug)]
pub struct AfterRunWrite {
    /// Which execution.
    pub id: i64,
    /// The output the processors left, replacing the stored one; `None` keeps it.
    pub output: Option<Vec<u8>>,
    /// The report: `{"processors": […], "notifications": […]}`.
    pub report: serde_json::Value,
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
    /// Given to `node` by another node: `node` picks it up with
    /// [`MemberStore::pick_handed`](super::MemberStore::pick_handed).
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

/// The job status after an execution of a group ended: Dkron's rule over the group's
/// finished executions.
pub fn group_status(succeeded: usize, failed: usize) -> &'static str {
    match (succeeded > 0, failed > 0) {
        (true, true) => "partially_failed",
        (false, true) => "failed",
        _ => "success",
    }
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

/// The order of a job's executions (Dkron's `_sort` and `_order`): by a key, then by id
/// the same way; executions without the key (not started, not finished) come last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecutionSort {
    /// The key.
    pub key: ExecutionSortKey,
    /// Descending (Dkron's default).
    pub descending: bool,
}

impl Default for ExecutionSort {
    fn default() -> Self {
        Self {
            key: ExecutionSortKey::Id,
            descending: true,
        }
    }
}

/// What a job's executions can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutionSortKey {
    /// Creation order (also Dkron's `id`).
    Id,
    /// When it was due.
    ScheduledAt,
    /// When it started.
    StartedAt,
    /// When it finished.
    FinishedAt,
    /// The attempt number.
    Attempt,
}

impl ExecutionSortKey {
    /// The names `_sort` accepts, with their keys.
    pub const NAMES: &[(&str, Self)] = &[
        ("id", Self::Id),
        ("scheduled_at", Self::ScheduledAt),
        ("started_at", Self::StartedAt),
        ("finished_at", Self::FinishedAt),
        ("attempt", Self::Attempt),
    ];

    /// Parses a `_sort` value.
    pub fn parse(text: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, key)| *key)
    }

    /// The column it sorts by: its name, which is also the column's.
    pub(super) fn column(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, key)| *key == self)
            .map_or("id", |(name, _)| name)
    }
}

/// Executions and the claims of due ticks: the scheduler's hot path.
#[async_trait::async_trait]
pub trait ExecutionStore: Send + Sync + 'static {
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

    /// The earliest next tick of any job, `None` when no job has one: when the claim loop,
    /// with nothing due within its horizon, next has something to claim.
    async fn earliest_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

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

    /// Writes what ran after executions ended: each one's report, and its output when the
    /// processors changed it.
    async fn record_after_run(&self, written: &[AfterRunWrite]) -> Result<(), StoreError>;

    /// Whether the job's last finished execution outside `group` succeeded; `None` when
    /// it has none (the job's history before this tick, for `recovery` notifications).
    async fn previous_outcome(&self, job_id: i64, group: i64) -> Result<Option<bool>, StoreError>;

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
    ) -> Result<(Vec<ExecutionRecord>, u64), StoreError> {
        self.list_executions_sorted(tenant, job_name, ExecutionSort::default(), start, end)
            .await
    }

    /// A slice of a job's executions in the order `sort` says, and how many it has.
    async fn list_executions_sorted(
        &self,
        tenant: TenantId,
        job_name: &str,
        sort: ExecutionSort,
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
}
