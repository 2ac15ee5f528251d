//! The members of the cluster in the store: each node's `members` row (heartbeat, tags,
//! address), the hold on its name, the take-over of a dead node's open executions, and
//! the executions handed from one node to another.

use chrono::{DateTime, Utc};

use super::{ExecutionRecord, StoreError, TenantId};
use crate::jobs::JobSpec;

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

/// When a member counts as dead, for [`MemberStore::take_over`].
#[derive(Clone, Copy, Debug)]
pub struct DeadRule {
    /// A member whose last heartbeat is older is dead.
    pub heartbeat_before: DateTime<Utc>,
    /// A member whose last heartbeat is older, and whose process is certainly gone (on
    /// PostgreSQL: its session, which holds its name's advisory lock, has ended), is dead
    /// too: a crash is noticed in seconds rather than after the whole `heartbeat_before`.
    pub gone_before: DateTime<Utc>,
}

/// What [`MemberStore::take_over`] did with a node's open executions.
#[derive(Clone, Debug, Default)]
pub struct TakenOver {
    /// The executions that were running, with their jobs' ids: now closed as failed with
    /// the reason given.
    pub closed: Vec<(i64, ExecutionRecord)>,
    /// How many scheduled (unstarted) executions were handed to the new owner.
    pub handed: u64,
}

/// A scheduled execution handed to this node by another (see [`MemberStore::pick_handed`]).
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

/// The cluster's members and what passes between them.
#[async_trait::async_trait]
pub trait MemberStore: Send + Sync + 'static {
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
}
