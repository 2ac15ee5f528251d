//! The SQL both backends share: [`SqlStore`] implements every concern's trait once
//! (`jobs.rs`, `executions.rs`, `members.rs`, `tenants.rs`, `secrets.rs`,
//! `executors.rs`), generic over the sqlx database, and [`Dialect`] is what a backend
//! supplies where the dialects differ: row locks, JSON access, how a write transaction
//! begins, how a node holds its name, and the bulk statements of the hot path. The SQL
//! text uses `$N` placeholders, bound by number on SQLite and PostgreSQL alike; `rows.rs`
//! holds the rows it reads and their column lists.
//!
//! Each generic `impl` states the same bounds (the database's executor, arguments, column
//! indexes and the value types the SQL binds and reads): Rust does not carry such bounds
//! from a trait to its users, so they cannot be named once.

mod executions;
mod executors;
mod jobs;
mod members;
pub(in crate::store) mod rows;
mod secrets;
mod tenants;

use std::collections::{HashMap, HashSet};

use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::query::{Query, QueryAs};
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, FromRow, IntoArguments, Pool, QueryBuilder,
    Transaction, Type,
};

use super::{
    DueJob, ExecutionRecord, ExecutionState, ExecutorUsage, FinishedExecution, JobOverLimit,
    JobQuery, NewJob, NodeNameGuard, ReleasedTick, StoreError, StoredJob, Tenant, TenantId,
    TenantStore, to_millis,
};
use crate::jobs::JobSpec;
use rows::{EXECUTION_COLUMNS, JobTotals};

/// The store on one sqlx database.
pub(in crate::store) struct SqlStore<DB: Database> {
    pub(in crate::store) pool: Pool<DB>,
}

/// A value the shared SQL binds and reads on `DB`.
pub(in crate::store) trait Column<DB: Database>:
    Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>
{
}

impl<DB: Database, T> Column<DB> for T where
    T: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB>
{
}

/// How many rows a statement changed, whatever the database.
pub(in crate::store) trait RowsAffected {
    /// The rows the statement inserted, updated or deleted.
    fn rows_affected(&self) -> u64;
}

/// What differs between the backends; the rest of the SQL is shared.
pub(in crate::store) trait Dialect: Database<QueryResult: RowsAffected> {
    /// Whether the process of the member row's node is gone, as an SQL condition over
    /// `members`.
    const PROCESS_GONE: &'static str;

    /// Appended to the claim's `SELECT`: how due rows are locked.
    const CLAIM_LOCK: &'static str;

    /// Appended to a `SELECT` of rows that must not change until the transaction ends.
    const SHARE_LOCK: &'static str;

    /// Appended to a `SELECT` of one row that a transaction must hold until it ends.
    const ROW_LOCK: &'static str;

    /// The `executor` of a job's spec, as an SQL expression over `jobs`.
    const EXECUTOR_OF_SPEC: &'static str;

    /// Written before a column to keep the planner from walking an index of it, so
    /// that a selective `IN` list of ids drives the query instead (a search, a metadata
    /// pair).
    const NOT_BY_INDEX: &'static str;

    /// What refreshes the planner's statistics of the jobs' tables after a bulk write,
    /// if the backend keeps any.
    const REFRESH_JOB_STATISTICS: Option<&'static str>;

    /// A transaction that writes.
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send;

    /// Holds the node name `name` for this process (see
    /// [`MemberStore::hold_node_name`](super::MemberStore::hold_node_name)).
    fn hold_name(
        pool: &Pool<Self>,
        name: &str,
    ) -> impl Future<Output = Result<NodeNameGuard, StoreError>> + Send;

    /// Appends a `SELECT` of the ids of the jobs whose name or display name has `q` as a
    /// substring, ignoring case, through the backend's trigram index.
    fn push_search_filter(builder: &mut QueryBuilder<'_, Self>, q: &str);

    /// The statement `builder` made, to execute. The builder's arguments live as long as
    /// the borrow of the builder, which a generic caller cannot say itself.
    fn build<'q, 'a: 'q>(
        builder: &'q mut QueryBuilder<'a, Self>,
    ) -> Query<'q, Self, Self::Arguments<'q>>;

    /// The statement `builder` made, to fetch rows of `T` with (see [`Self::build`]).
    fn build_as<'q, 'a: 'q, T: for<'r> FromRow<'r, Self::Row>>(
        builder: &'q mut QueryBuilder<'a, Self>,
    ) -> QueryAs<'q, Self, T, Self::Arguments<'q>>;

    /// Stores each job's next tick.
    fn store_next_runs(
        tx: &mut Transaction<'_, Self>,
        next: &[(i64, Option<i64>)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes the executions of claimed ticks; returns `(id, job_id)` pairs.
    fn insert_tick_executions(
        tx: &mut Transaction<'_, Self>,
        node: &str,
        jobs: &[&DueJob],
    ) -> impl Future<Output = Result<Vec<(i64, i64)>, StoreError>> + Send;

    /// Marks executions as running.
    fn write_running(
        pool: &Pool<Self>,
        started: &[(i64, DateTime<Utc>)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Completes executions.
    fn write_finished(
        tx: &mut Transaction<'_, Self>,
        finished: &[FinishedExecution],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds finished executions to their jobs' counters and status with `update`
    /// ([`rows::ADD_JOB_TOTALS`] or [`rows::ADD_JOB_SUCCESSES`]) over the CTE
    /// `v (vid, vok, verr, vlast_ok, vlast_err, vstatus)` of `totals`.
    fn add_job_totals(
        tx: &mut Transaction<'_, Self>,
        totals: &[JobTotals],
        update: &'static str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Queries that several operations share.
impl<DB: Dialect> SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
    i64: Column<DB>,
    i32: Column<DB>,
    bool: Column<DB>,
    String: Column<DB>,
    Vec<u8>: Column<DB>,
    Option<i64>: Column<DB>,
    Option<String>: Column<DB>,
    Option<Vec<u8>>: Column<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    /// Rows as jobs, with their dependent jobs: a lookup per parent only.
    async fn with_dependents(&self, rows: Vec<rows::JobRow>) -> Result<Vec<StoredJob>, StoreError> {
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            let has_dependents = row.has_dependents;
            let mut job = row.into_job(Vec::new())?;
            if has_dependents {
                job.dependent_jobs = self.dependents_of(job.tenant, &job.spec.name).await?;
            }
            jobs.push(job);
        }
        Ok(jobs)
    }

    /// The names of the jobs whose parent is `parent`.
    async fn dependents_of(
        &self,
        tenant: TenantId,
        parent: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM jobs WHERE tenant_id = $1 AND parent_job = $2 \
             AND parent_job <> '' ORDER BY name",
        )
        .bind(tenant)
        .bind(parent)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(name,)| name).collect())
    }

    /// Which of `job_ids` have an execution that is scheduled or running.
    async fn jobs_with_open_executions(
        tx: &mut Transaction<'_, DB>,
        job_ids: &[i64],
    ) -> Result<HashSet<i64>, StoreError> {
        let mut open = HashSet::new();
        for chunk in job_ids.chunks(rows::BULK_ROWS) {
            let mut select = QueryBuilder::<DB>::new(
                "SELECT DISTINCT job_id FROM executions \
                 WHERE state IN ('scheduled', 'running') AND job_id IN (",
            );
            let mut ids = select.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            select.push(")");
            let rows: Vec<(i64,)> = DB::build_as(&mut select).fetch_all(&mut **tx).await?;
            open.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(open)
    }

    /// The executions of `node` in one of `states` (an SQL list), with their job ids.
    async fn open_executions(
        tx: &mut Transaction<'_, DB>,
        node: &str,
        states: &str,
    ) -> Result<Vec<(i64, ExecutionRecord)>, StoreError> {
        use sqlx::Row;
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS}, job_id FROM executions \
             WHERE node = $1 AND state IN {states}"
        ))
        .bind(node)
        .fetch_all(&mut **tx)
        .await?;
        rows.iter()
            .map(|row| {
                let record = <rows::ExecutionRow as sqlx::FromRow<_>>::from_row(row)?;
                Ok((row.try_get::<i64, _>("job_id")?, record.into()))
            })
            .collect()
    }

    /// Of ticks being handed back, those whose job another node has claimed a later
    /// tick of since: moving such a job back would fire that later tick twice, so
    /// their executions are kept, flagged as handed over, for whichever node takes
    /// this one over (or for its next process). Returns the others, which can be
    /// handed back. Locks the jobs' state rows first, so a claim in flight is seen.
    async fn keep_overtaken(
        tx: &mut Transaction<'_, DB>,
        ticks: &[ReleasedTick],
    ) -> Result<Vec<ReleasedTick>, StoreError> {
        let mut job_ids: Vec<i64> = ticks.iter().map(|t| t.job_id).collect();
        job_ids.sort_unstable();
        job_ids.dedup();
        let released: HashSet<i64> = ticks.iter().map(|t| t.execution_id).collect();
        let since = ticks
            .iter()
            .map(|t| to_millis(t.scheduled_at))
            .min()
            .unwrap_or(0);
        let mut later = Vec::new();
        for chunk in job_ids.chunks(rows::BULK_ROWS) {
            let mut lock =
                QueryBuilder::<DB>::new("SELECT job_id FROM job_state WHERE job_id IN (");
            let mut ids = lock.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            lock.push(format!(") ORDER BY job_id{}", DB::ROW_LOCK));
            DB::build(&mut lock).execute(&mut **tx).await?;
            let mut select = QueryBuilder::<DB>::new(
                "SELECT id, job_id, scheduled_at FROM executions \
                 WHERE trigger_kind = 'schedule' AND attempt = 1 AND scheduled_at >= ",
            );
            select.push_bind(since).push(" AND job_id IN (");
            let mut ids = select.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            select.push(")");
            let rows: Vec<(i64, i64, i64)> = DB::build_as(&mut select).fetch_all(&mut **tx).await?;
            later.extend(rows.into_iter().filter(|(id, _, _)| !released.contains(id)));
        }
        let overtaken = |tick: &ReleasedTick| {
            let at = to_millis(tick.scheduled_at);
            later
                .iter()
                .any(|(_, job, other)| *job == tick.job_id && *other > at)
        };
        let (kept, free): (Vec<ReleasedTick>, Vec<ReleasedTick>) =
            ticks.iter().copied().partition(|tick| overtaken(tick));
        for chunk in kept.chunks(rows::BULK_ROWS) {
            let mut flag = QueryBuilder::<DB>::new(
                "UPDATE executions SET handed_over = TRUE WHERE state = 'scheduled' AND id IN (",
            );
            let mut ids = flag.separated(", ");
            for tick in chunk {
                ids.push_bind(tick.execution_id);
            }
            flag.push(")");
            DB::build(&mut flag).execute(&mut **tx).await?;
        }
        Ok(free)
    }

    /// The ids of those of `names` that are the tenant's jobs, by name.
    async fn ids_of(
        connection: &mut DB::Connection,
        tenant: TenantId,
        names: &[&str],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut ids = HashMap::new();
        for chunk in names.chunks(rows::BULK_ROWS) {
            let mut select =
                QueryBuilder::<DB>::new("SELECT name, id FROM jobs WHERE tenant_id = ");
            select.push_bind(tenant).push(" AND name IN (");
            let mut list = select.separated(", ");
            for name in chunk {
                list.push_bind(name.to_string());
            }
            select.push(")");
            let rows: Vec<(String, i64)> = DB::build_as(&mut select)
                .fetch_all(&mut *connection)
                .await?;
            ids.extend(rows);
        }
        Ok(ids)
    }

    /// How many jobs the tenant has.
    async fn job_count(
        connection: &mut DB::Connection,
        tenant: TenantId,
    ) -> Result<u64, StoreError> {
        // Kept by triggers (migrations 0002 and tenants): no count over every row.
        let count: Option<(i64,)> =
            sqlx::query_as("SELECT n FROM tenant_job_count WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_optional(&mut *connection)
                .await?;
        Ok(count.map_or(0, |(n,)| n.max(0) as u64))
    }

    /// Of `jobs`, in order, the new ones past `max` jobs of the tenant, counted in `tx`
    /// once it holds the tenant ([`Self::lock_tenant`]). A name already stored, or new
    /// earlier in `jobs` and written, replaces and counts nothing.
    async fn jobs_past(
        tx: &mut Transaction<'_, DB>,
        tenant: TenantId,
        jobs: &[NewJob],
        max: u64,
    ) -> Result<Vec<JobOverLimit>, StoreError> {
        Self::lock_tenant(tx, tenant).await?;
        let had = Self::job_count(&mut **tx, tenant).await?;
        let names: Vec<&str> = jobs.iter().map(|job| job.spec.name.as_str()).collect();
        let existing = Self::ids_of(&mut **tx, tenant, &names).await?;
        let mut new: HashSet<&str> = HashSet::new();
        let mut refused = Vec::new();
        for (index, name) in names.into_iter().enumerate() {
            if existing.contains_key(name) || new.contains(name) {
                continue;
            }
            let jobs = had + new.len() as u64;
            if jobs < max {
                new.insert(name);
            } else {
                refused.push(JobOverLimit { index, jobs });
            }
        }
        Ok(refused)
    }

    /// The `INSERT INTO jobs` of `chunk`: each job's definition, inserted or replacing
    /// the one of the same name, returning `(id, name)`.
    fn jobs_insert<'a>(tenant: TenantId, now: i64, chunk: &[&'a NewJob]) -> QueryBuilder<'a, DB> {
        let mut insert = QueryBuilder::<DB>::new(
            "INSERT INTO jobs (tenant_id, name, spec, displayname, schedule, disabled, \
             parent_job, created_at, updated_at) ",
        );
        insert.push_values(chunk, |mut row, NewJob { spec, stored, .. }| {
            row.push_bind(tenant)
                .push_bind(spec.name.as_str())
                .push_bind(stored.as_str())
                .push_bind(spec.displayname.as_str())
                .push_bind(spec.schedule.as_str())
                .push_bind(spec.disabled)
                .push_bind(spec.parent_job.as_str())
                .push_bind(now)
                .push_bind(now);
        });
        insert.push(
            " ON CONFLICT (tenant_id, name) DO UPDATE SET spec = excluded.spec, \
             displayname = excluded.displayname, schedule = excluded.schedule, \
             disabled = excluded.disabled, parent_job = excluded.parent_job, \
             updated_at = excluded.updated_at RETURNING id, name",
        );
        insert
    }

    /// Writes `chunk`'s rows in `jobs`, `job_state`, `job_totals` and `job_metadata`,
    /// `now` being their time of writing.
    async fn write_job_rows(
        tx: &mut Transaction<'_, DB>,
        tenant: TenantId,
        now: i64,
        chunk: &[&NewJob],
    ) -> Result<(), StoreError> {
        let next_by_name: HashMap<&str, Option<i64>> = chunk
            .iter()
            .map(|job| (job.spec.name.as_str(), job.next_run_at.map(to_millis)))
            .collect();
        let mut insert = Self::jobs_insert(tenant, now, chunk);
        let written: Vec<(i64, String)> = DB::build_as(&mut insert).fetch_all(&mut **tx).await?;
        let mut state = QueryBuilder::<DB>::new("INSERT INTO job_state (job_id, next_run_at) ");
        state.push_values(&written, |mut row, (id, name)| {
            row.push_bind(*id)
                .push_bind(next_by_name.get(name.as_str()).copied().flatten());
        });
        state.push(" ON CONFLICT (job_id) DO UPDATE SET next_run_at = excluded.next_run_at");
        DB::build(&mut state).execute(&mut **tx).await?;
        let mut totals = QueryBuilder::<DB>::new("INSERT INTO job_totals (job_id, tenant_id) ");
        totals.push_values(&written, |mut row, (id, _)| {
            row.push_bind(*id).push_bind(tenant);
        });
        totals.push(" ON CONFLICT (job_id) DO NOTHING");
        DB::build(&mut totals).execute(&mut **tx).await?;
        Self::write_metadata(tx, tenant, chunk, &written).await
    }

    /// Replaces the metadata pairs of the jobs just `written` (id and name) with those
    /// of their definitions in `jobs`.
    async fn write_metadata(
        tx: &mut Transaction<'_, DB>,
        tenant: TenantId,
        jobs: &[&NewJob],
        written: &[(i64, String)],
    ) -> Result<(), StoreError> {
        let mut forget = QueryBuilder::<DB>::new("DELETE FROM job_metadata WHERE job_id IN (");
        let mut ids = forget.separated(", ");
        for (id, _) in written {
            ids.push_bind(*id);
        }
        forget.push(")");
        DB::build(&mut forget).execute(&mut **tx).await?;
        let by_name: HashMap<&str, &JobSpec> = jobs
            .iter()
            .map(|job| (job.spec.name.as_str(), &job.spec))
            .collect();
        let pairs: Vec<(i64, &str, &str)> = written
            .iter()
            .filter_map(|(id, name)| by_name.get(name.as_str()).map(|spec| (*id, *spec)))
            .flat_map(|(id, spec)| {
                spec.metadata
                    .iter()
                    .map(move |(key, value)| (id, key.as_str(), value.as_str()))
            })
            .collect();
        for chunk in pairs.chunks(rows::BULK_ROWS) {
            let mut insert = QueryBuilder::<DB>::new(
                "INSERT INTO job_metadata (job_id, tenant_id, key, value) ",
            );
            insert.push_values(chunk, |mut row, (id, key, value)| {
                row.push_bind(*id)
                    .push_bind(tenant)
                    .push_bind(key.to_string())
                    .push_bind(value.to_string());
            });
            DB::build(&mut insert).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// What the tenant's uploads take, read on `connection` (a transaction's, or one of
    /// the pool's).
    async fn usage_of(
        connection: &mut DB::Connection,
        tenant: TenantId,
    ) -> Result<ExecutorUsage, StoreError> {
        let (count, bytes): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(size) AS BIGINT) FROM executors WHERE tenant_id = $1",
        )
        .bind(tenant)
        .fetch_one(&mut *connection)
        .await?;
        Ok(ExecutorUsage {
            versions: count.max(0) as u64,
            bytes: bytes.unwrap_or(0).max(0) as u64,
        })
    }

    /// Holds the tenant's row until `tx` ends. Every write that counts something of the
    /// tenant against a quota takes it before counting, so such writes, from any node,
    /// count one after another and each sees what the one before it committed. On SQLite
    /// ([`Dialect::ROW_LOCK`] empty) the write transaction already excludes every other
    /// writer.
    async fn lock_tenant(tx: &mut Transaction<'_, DB>, tenant: TenantId) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "SELECT id FROM tenants WHERE id = $1{}",
            DB::ROW_LOCK
        ))
        .bind(tenant)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Adds finished executions to their jobs' totals. The jobs whose executions all
    /// succeeded take the statement that leaves the failure columns alone, so that only
    /// the indexes of what changed are rewritten.
    async fn add_totals(
        tx: &mut Transaction<'_, DB>,
        finished: &[FinishedExecution],
    ) -> Result<(), StoreError> {
        let (successes, mixed): (Vec<_>, Vec<_>) = rows::JobTotals::of(finished)
            .into_iter()
            .partition(|total| total.failed == 0);
        if !successes.is_empty() {
            DB::add_job_totals(tx, &successes, rows::ADD_JOB_SUCCESSES).await?;
        }
        if !mixed.is_empty() {
            DB::add_job_totals(tx, &mixed, rows::ADD_JOB_TOTALS).await?;
        }
        Ok(())
    }

    /// Closes `open` executions (with their job ids) as failed with `reason`,
    /// counting them on their jobs; returns them as closed.
    async fn close_in(
        tx: &mut Transaction<'_, DB>,
        open: Vec<(i64, ExecutionRecord)>,
        reason: &str,
    ) -> Result<Vec<(i64, ExecutionRecord)>, StoreError> {
        if open.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<ExecutionRecord> = open.iter().map(|(_, r)| r.clone()).collect();
        let mut finished = rows::closing(&records, reason);
        for (done, (job_id, _)) in finished.iter_mut().zip(&open) {
            done.job_id = *job_id;
        }
        DB::write_finished(tx, &finished).await?;
        Self::add_totals(tx, &finished).await?;
        Ok(records
            .into_iter()
            .zip(&finished)
            .map(|(mut record, done)| {
                record.state = ExecutionState::Failed;
                record.finished_at = Some(done.finished_at);
                record.reason = done.reason.clone();
                (done.job_id, record)
            })
            .collect())
    }

    /// Sets a tenant's JSON `column` (`grants` or `quotas`, never input) and reads the
    /// tenant back; `None` when there is no such tenant.
    async fn set_tenant_json(
        &self,
        name: &str,
        column: &'static str,
        value: &serde_json::Value,
    ) -> Result<Option<Tenant>, StoreError> {
        sqlx::query(&format!("UPDATE tenants SET {column} = $1 WHERE name = $2"))
            .bind(value.to_string())
            .bind(name)
            .execute(&self.pool)
            .await?;
        TenantStore::get_tenant(self, name).await
    }

    /// Appends the job list's `WHERE`: the join of the two tables, the tenant, and
    /// `query`'s filters.
    fn push_job_filters(builder: &mut QueryBuilder<'_, DB>, tenant: TenantId, query: &JobQuery) {
        // A search or a metadata pair names few jobs: their ids drive the query, not
        // the walk of the tenant's jobs in the sort order.
        let by_ids = query.q.is_some() || !query.metadata.is_empty();
        builder
            .push(format!(
                " WHERE job_state.job_id = jobs.id AND job_totals.job_id = jobs.id AND {}{} = ",
                if by_ids { DB::NOT_BY_INDEX } else { "" },
                query.sort.tenant_column()
            ))
            .push_bind(tenant);
        let id_column = query.sort.tiebreak();
        if let Some(q) = &query.q {
            builder.push(format!(" AND {id_column} IN ("));
            DB::push_search_filter(builder, q);
            builder.push(")");
        }
        if let Some(status) = &query.status {
            let status = if status == "untriggered" {
                String::new()
            } else {
                status.clone()
            };
            builder.push(" AND job_totals.status = ").push_bind(status);
        }
        if let Some(disabled) = query.disabled {
            builder.push(" AND disabled = ").push_bind(disabled);
        }
        if let Some(executor) = &query.executor {
            builder
                .push(format!(" AND {} = ", DB::EXECUTOR_OF_SPEC))
                .push_bind(executor.clone());
        }
        for (key, value) in &query.metadata {
            builder
                .push(format!(
                    " AND {id_column} IN (SELECT job_id FROM job_metadata \
                     WHERE job_metadata.tenant_id = "
                ))
                .push_bind(tenant)
                .push(" AND key = ")
                .push_bind(key.clone())
                .push(" AND value = ")
                .push_bind(value.clone())
                .push(")");
        }
    }
}
