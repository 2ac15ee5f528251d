//! Jobs in the store: their definitions (`jobs`), what the scheduler keeps writing
//! about them (`job_state`: the next tick; `job_totals`: counters, last times, status),
//! and the job list's filters, order and paging, each served by an index (the search's
//! trigrams, `job_metadata`'s pairs, a per-tenant index per sort key).

use chrono::{DateTime, Utc};

use super::{StoreError, TenantId};
use crate::jobs::JobSpec;

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

/// A job made ready to be written: its definition, its next tick, and the definition as
/// the store keeps it, serialized when this is made ([`NewJob::new`]) rather than inside
/// the writing transaction, so that a bulk write holds the write lock only for its
/// statements and its callers can prepare the next batch while one is being written.
#[derive(Clone, Debug)]
pub struct NewJob {
    /// The definition.
    pub spec: JobSpec,
    /// When it fires next; `None` when it never fires by itself.
    pub next_run_at: Option<DateTime<Utc>>,
    /// `spec` as stored.
    pub(super) stored: String,
}

impl NewJob {
    /// `spec`, to be written with `next_run_at` as its next tick.
    pub fn new(spec: JobSpec, next_run_at: Option<DateTime<Utc>>) -> Result<Self, StoreError> {
        let stored = super::sql::rows::stored_spec(&spec)?;
        Ok(Self {
            spec,
            next_run_at,
            stored,
        })
    }
}

/// A new job [`JobStore::put_jobs_within`] did not write, as the tenant had its
/// `max_jobs` already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobOverLimit {
    /// Its place in the jobs given.
    pub index: usize,
    /// How many jobs the tenant had, with those written before it.
    pub jobs: u64,
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

    /// The key a tie on [`Self::column`] is broken by: the id of the table that holds the
    /// column, so that one index (`(tenant_id, column, id)`) serves the whole order.
    pub(super) fn tiebreak(self) -> &'static str {
        match self {
            Self::Name | Self::Displayname | Self::Schedule => "jobs.id",
            Self::Next => "job_state.job_id",
            _ => "job_totals.job_id",
        }
    }

    /// The three tables of the list, the one that holds the sort key first: SQLite keeps
    /// the order of a `CROSS JOIN`, so the first page of a list sorted by a counter walks
    /// that counter's index and stops, instead of sorting every job of the tenant. The
    /// join conditions are in the filters ([`crate::store::sql`]'s `push_job_filters`).
    pub(super) fn tables(self) -> &'static str {
        match self {
            Self::Name | Self::Displayname | Self::Schedule => {
                "jobs CROSS JOIN job_state CROSS JOIN job_totals"
            }
            Self::Next => "job_state CROSS JOIN jobs CROSS JOIN job_totals",
            _ => "job_totals CROSS JOIN jobs CROSS JOIN job_state",
        }
    }

    /// The tenant column the list filters on: that of the table the walk starts from,
    /// whose sort index begins with it.
    pub(super) fn tenant_column(self) -> &'static str {
        match self {
            Self::Name | Self::Displayname | Self::Schedule | Self::Next => "jobs.tenant_id",
            _ => "job_totals.tenant_id",
        }
    }

    /// Where jobs without the sort key (never succeeded, never failed) go: first in
    /// ascending order, last in descending, on both backends (SQLite's own order;
    /// PostgreSQL's indexes on these columns are built `NULLS FIRST` for it).
    pub(super) fn nulls(self, descending: bool) -> &'static str {
        match (self, descending) {
            (Self::LastSuccess | Self::LastError, false) => " NULLS FIRST",
            (Self::LastSuccess | Self::LastError, true) => " NULLS LAST",
            _ => "",
        }
    }

    pub(super) fn column(self) -> &'static str {
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

/// Jobs: written by the scheduler when the API changes one, read by both.
#[async_trait::async_trait]
pub trait JobStore: Send + Sync + 'static {
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
    async fn put_jobs(&self, tenant: TenantId, jobs: &[NewJob]) -> Result<(), StoreError> {
        self.put_jobs_within(tenant, jobs, None).await.map(|_| ())
    }

    /// As [`Self::put_jobs`], but with `max_jobs`, the jobs that would be new to the
    /// tenant once it has `max_jobs` are not written: the tenant's jobs are counted in the
    /// writing transaction, under a lock on the tenant that every such write takes, so
    /// writes racing on any node never take it past `max_jobs`. New jobs count in the
    /// input's order; the refused ones are returned.
    async fn put_jobs_within(
        &self,
        tenant: TenantId,
        jobs: &[NewJob],
        max_jobs: Option<u64>,
    ) -> Result<Vec<JobOverLimit>, StoreError>;

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

    /// Brings the planner's statistics of the jobs' tables up to date, after a bulk write
    /// (a restore) changed them much; nothing on a backend that keeps none.
    async fn refresh_job_statistics(&self) -> Result<(), StoreError>;

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
}
