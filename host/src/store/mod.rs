//! The store: tenants and their tokens, jobs, executions, members, uploaded executors and
//! secrets, on SQLite (the embedded default) or PostgreSQL. This module is the only one
//! that speaks SQL.
//!
//! One trait per concern, each held by the service that owns that half of the store:
//! [`JobStore`], [`ExecutionStore`] (executions and the claims that create them) and
//! [`MemberStore`] by the scheduler, [`TenantStore`] by the tenants, [`SecretStore`] by the
//! secrets and [`ExecutorStore`] by the executor registry. [`Store`] is all of them, what
//! [`open`] gives.
//!
//! Both backends share one implementation (`sql/`), generic over the sqlx database: the
//! SQL text is written once with `$N` placeholders, which sqlx binds by number on both.
//! Each backend module (`sqlite.rs`, `postgres.rs`) holds only what differs: connecting,
//! migrations (`host/migrations/<backend>/`), row locks, JSON access and the bulk
//! statements of the hot path. Times are stored as milliseconds since the Unix epoch.
//!
//! Several nodes may share one PostgreSQL database: the claim locks the rows it takes
//! (`SKIP LOCKED`), each node keeps a `members` row fresh, and a dead node's open
//! executions are taken over by exactly one survivor ([`MemberStore::take_over`]).

mod executions;
mod executors;
mod jobs;
mod members;
mod postgres;
mod secrets;
mod sql;
mod sqlite;
mod tenants;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use executions::{
    AfterRunWrite, ClaimShare, ClaimedTick, DueJob, ExecutionRecord, ExecutionSort,
    ExecutionSortKey, ExecutionState, ExecutionStore, FinishedExecution, NewExecution, PlanNext,
    ReleasedTick, Trigger, group_status,
};
pub use executors::{
    ExecutorLimit, ExecutorLimits, ExecutorOverLimit, ExecutorStore, ExecutorUsage, NewExecutor,
    StoredExecutor,
};
pub use jobs::{JobOverLimit, JobQuery, JobSort, JobStore, NewJob, StoredJob};
pub use members::{DeadRule, HandedExecution, Member, MemberStore, NodeNameGuard, TakenOver};
pub use secrets::{SecretInfo, SecretStore};
pub use tenants::{Tenant, TenantStore, TokenOwner};

/// Which tenant owns a job, an executor upload or a secret. Every lookup by name carries
/// one: names are unique per tenant, and another tenant's are never found.
pub type TenantId = i64;

/// The operator's own tenant, `default`: it owns what was written before tenants existed,
/// and admin tokens act as it.
pub const DEFAULT_TENANT: TenantId = 1;

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

/// The whole store: every concern's operations, on one database.
pub trait Store:
    JobStore + ExecutionStore + MemberStore + TenantStore + SecretStore + ExecutorStore
{
}

impl<T> Store for T where
    T: JobStore + ExecutionStore + MemberStore + TenantStore + SecretStore + ExecutorStore + ?Sized
{
}

/// Opens the store at `url`: `sqlite://PATH` (created when missing) or `postgres://…`,
/// and brings its schema up to date.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::connect(url).await?))
    } else {
        anyhow::bail!("database url {url:?}: expected sqlite://PATH or postgres://…")
    }
}

fn to_millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// `text` for a `LIKE` pattern that finds it as it is: `%`, `_` and the escape
/// character `\` escaped by `\`.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
