//! The SQL both backends share: row types, and [`sql_store!`], which implements
//! [`Store`](super::Store) for a backend's store type. The SQL text uses `$N` placeholders,
//! bound by number on SQLite and PostgreSQL alike; a backend supplies only
//! `push_metadata_filter` (JSON access differs) and its pool.

use chrono::{DateTime, Utc};

use super::{
    DueJob, ExecutionRecord, ExecutionState, FinishedExecution, Member, StoreError, StoredJob,
    Trigger, from_millis, to_millis,
};
use crate::jobs::JobSpec;

/// Rows per bulk statement: 7 bound values each stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 parameters.
pub(super) const BULK_ROWS: usize = 1000;

/// Parses a job's stored definition.
fn parse_spec(id: i64, json: &str) -> Result<JobSpec, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("job {id}: {e}")))
}

/// Whether other jobs name the row's job as parent: a lookup per row that the partial
/// index `jobs_parent` serves, whatever the planner knows of the table.
macro_rules! has_dependents {
    () => {
        "EXISTS (SELECT 1 FROM jobs AS child \
         WHERE child.tenant_id = jobs.tenant_id AND child.parent_job = jobs.name \
         AND child.parent_job <> '') AS has_dependents"
    };
}

/// A job's id, definition and whether it has dependents, for executions handed over.
pub(super) const SPEC_COLUMNS: &str = concat!("id, tenant_id, spec, ", has_dependents!());

/// What a claim selects of a due job: see [`DueRow`].
pub(super) const DUE_COLUMNS: &str =
    concat!("id, tenant_id, spec, next_run_at, ", has_dependents!());

/// A due job's row: id, tenant_id, spec, next_run_at, has_dependents.
pub(super) type DueRow = (i64, i64, String, i64, bool);

/// Due rows as due jobs.
pub(super) fn due_jobs(rows: Vec<DueRow>) -> Result<Vec<DueJob>, StoreError> {
    rows.into_iter()
        .map(|(id, tenant, spec, at, has_dependents)| {
            Ok(DueJob {
                id,
                tenant,
                spec: parse_spec(id, &spec)?,
                scheduled_at: from_millis(at),
                has_dependents,
            })
        })
        .collect()
}

/// The execution group of a scheduled tick: its instant in nanoseconds, unique per job.
pub(super) fn tick_group(scheduled_at: DateTime<Utc>) -> i64 {
    to_millis(scheduled_at).saturating_mul(1_000_000)
}

/// The stored state of a finished execution.
pub(super) fn finished_state(done: &FinishedExecution) -> &'static str {
    if done.success { "succeeded" } else { "failed" }
}

/// Adds the CTE `v (vid, vok, verr, vlast_ok, vlast_err, vstatus)` to the jobs' counters.
pub(super) const ADD_JOB_TOTALS: &str = "UPDATE job_state SET success_count = success_count + v.vok, \
     error_count = error_count + v.verr, last_success = COALESCE(v.vlast_ok, last_success), \
     last_error = COALESCE(v.vlast_err, last_error), status = v.vstatus \
     FROM v WHERE job_state.job_id = v.vid";

/// A job's definition (`jobs`) beside what the scheduler keeps writing about it
/// (`job_state`: next tick, counters, status), one row each per job. The columns of the two
/// tables have distinct names, except the key (`jobs.id`, `job_state.job_id`).
pub(super) const JOBS_FROM: &str = "jobs JOIN job_state ON job_state.job_id = jobs.id";

/// What a batch of finished executions adds to one job.
pub(super) struct JobTotals {
    pub job_id: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub last_success: Option<i64>,
    pub last_error: Option<i64>,
    pub status: &'static str,
    latest: i64,
}

impl JobTotals {
    /// Sums `finished` per job; the status is the one of the job's latest execution.
    pub(super) fn of(finished: &[FinishedExecution]) -> Vec<JobTotals> {
        let mut totals = std::collections::BTreeMap::<i64, JobTotals>::new();
        for done in finished {
            let at = to_millis(done.finished_at);
            let total = totals.entry(done.job_id).or_insert(JobTotals {
                job_id: done.job_id,
                succeeded: 0,
                failed: 0,
                last_success: None,
                last_error: None,
                status: done.job_status,
                latest: at,
            });
            if done.success {
                total.succeeded += 1;
                total.last_success = total.last_success.max(Some(at));
            } else {
                total.failed += 1;
                total.last_error = total.last_error.max(Some(at));
            }
            if at >= total.latest {
                total.latest = at;
                total.status = done.job_status;
            }
        }
        totals.into_values().collect()
    }
}

/// A `jobs` row, as the queries select it.
#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    pub id: i64,
    pub tenant_id: i64,
    pub spec: String,
    pub status: String,
    pub next_run_at: Option<i64>,
    pub success_count: i64,
    pub error_count: i64,
    pub last_success: Option<i64>,
    pub last_error: Option<i64>,
    pub has_dependents: bool,
}

/// The columns of [`JobRow`].
pub(super) const JOB_COLUMNS: &str = concat!(
    "id, tenant_id, spec, status, next_run_at, success_count, error_count, last_success, last_error, ",
    has_dependents!()
);

impl JobRow {
    pub(super) fn into_job(self, dependent_jobs: Vec<String>) -> Result<StoredJob, StoreError> {
        Ok(StoredJob {
            id: self.id,
            tenant: self.tenant_id,
            spec: parse_spec(self.id, &self.spec)?,
            status: self.status,
            next_run_at: self.next_run_at.map(from_millis),
            success_count: self.success_count,
            error_count: self.error_count,
            last_success: self.last_success.map(from_millis),
            last_error: self.last_error.map(from_millis),
            dependent_jobs,
        })
    }
}

/// An `executors` row without the bytes.
#[derive(sqlx::FromRow)]
pub(super) struct ExecutorRow {
    pub name: String,
    pub version: i32,
    pub sha256: String,
    pub size: i64,
    pub imports: String,
    pub created_at: i64,
}

/// The columns of [`ExecutorRow`].
pub(super) const EXECUTOR_COLUMNS: &str = "name, version, sha256, size, imports, created_at";

impl ExecutorRow {
    pub(super) fn into_executor(self) -> crate::store::StoredExecutor {
        crate::store::StoredExecutor {
            name: self.name,
            version: self.version.max(0) as u32,
            sha256: self.sha256,
            size: self.size.max(0) as u64,
            imports: serde_json::from_str(&self.imports).unwrap_or_default(),
            created_at: from_millis(self.created_at),
        }
    }
}

/// A `tenants` row.
#[derive(sqlx::FromRow)]
pub(super) struct TenantRow {
    pub id: i64,
    pub name: String,
    pub grants: String,
    pub quotas: String,
    pub created_at: i64,
}

/// The columns of [`TenantRow`].
pub(super) const TENANT_COLUMNS: &str =
    "tenants.id, tenants.name, tenants.grants, tenants.quotas, tenants.created_at";

impl TenantRow {
    pub(super) fn into_tenant(self) -> Result<crate::store::Tenant, StoreError> {
        let json = |text: &str, what: &str| {
            serde_json::from_str(text)
                .map_err(|e| StoreError::Corrupt(format!("tenant {} {what}: {e}", self.name)))
        };
        Ok(crate::store::Tenant {
            id: self.id,
            grants: json(&self.grants, "grants")?,
            quotas: json(&self.quotas, "quotas")?,
            name: self.name,
            created_at: from_millis(self.created_at),
        })
    }
}

/// An `executions` row.
#[derive(sqlx::FromRow)]
pub(super) struct ExecutionRow {
    pub id: i64,
    pub job_name: String,
    pub group_id: i64,
    pub attempt: i32,
    pub scheduled_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub state: String,
    pub output: Vec<u8>,
    pub output_truncated: bool,
    pub reason: String,
    pub node: String,
    pub trigger_kind: String,
}

/// The columns of [`ExecutionRow`].
pub(super) const EXECUTION_COLUMNS: &str = "id, job_name, group_id, attempt, scheduled_at, \
     started_at, finished_at, state, output, output_truncated, reason, node, trigger_kind";

impl From<ExecutionRow> for ExecutionRecord {
    fn from(row: ExecutionRow) -> Self {
        Self {
            id: row.id,
            job_name: row.job_name,
            group: row.group_id,
            attempt: row.attempt.max(1) as u32,
            scheduled_at: from_millis(row.scheduled_at),
            started_at: row.started_at.map(from_millis),
            finished_at: row.finished_at.map(from_millis),
            state: ExecutionState::parse(&row.state),
            output: row.output,
            output_truncated: row.output_truncated,
            reason: row.reason,
            node: row.node,
            trigger: Trigger::parse(&row.trigger_kind),
        }
    }
}

/// A `members` row: name, address, tags, started_at, heartbeat_at.
pub(super) type MemberRow = (String, String, String, i64, i64);

/// A members row as a member; unreadable tags read as none.
pub(super) fn member(row: MemberRow) -> Member {
    let (name, address, tags, started_at, heartbeat_at) = row;
    Member {
        name,
        address,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        started_at: from_millis(started_at),
        heartbeat_at: from_millis(heartbeat_at),
    }
}

/// Closing records of executions that `reason` ended (a crash, a lost node).
pub(super) fn closing(open: &[ExecutionRecord], reason: &str) -> Vec<FinishedExecution> {
    let now = Utc::now();
    open.iter()
        .map(|record| FinishedExecution {
            id: record.id,
            job_id: 0,
            started_at: record.started_at.unwrap_or(now),
            finished_at: now,
            success: false,
            output: Vec::new(),
            output_truncated: false,
            reason: reason.to_string(),
            job_status: "failed",
        })
        .collect()
}

/// Implements `Store` for `$store`, whose field `pool` is a `sqlx::Pool<$db>` and which
/// has what differs between the dialects: `fn push_metadata_filter`, `const CLAIM_LOCK`,
/// `async fn begin_write`, and the bulk statements of the hot path (`store_next_runs`,
/// `insert_tick_executions`, `write_running`, `write_finished`, `add_job_totals`).
macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Which of `job_ids` have an execution that is scheduled or running.
            async fn jobs_with_open_executions(
                tx: &mut sqlx::Transaction<'_, $db>,
                job_ids: &[i64],
            ) -> Result<std::collections::HashSet<i64>, StoreError> {
                let mut open = std::collections::HashSet::new();
                for chunk in job_ids.chunks($crate::store::sql::BULK_ROWS) {
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT DISTINCT job_id FROM executions \
                         WHERE state IN ('scheduled', 'running') AND job_id IN (",
                    );
                    let mut ids = select.separated(", ");
                    for id in chunk {
                        ids.push_bind(*id);
                    }
                    select.push(")");
                    let rows: Vec<(i64,)> = select.build_query_as().fetch_all(&mut **tx).await?;
                    open.extend(rows.into_iter().map(|(id,)| id));
                }
                Ok(open)
            }

            /// The executions of `node` in one of `states` (an SQL list), with their job ids.
            async fn open_executions(
                tx: &mut sqlx::Transaction<'_, $db>,
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
                        let record = <$crate::store::sql::ExecutionRow as sqlx::FromRow<_>>::from_row(row)?;
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
                tx: &mut sqlx::Transaction<'_, $db>,
                ticks: &[ReleasedTick],
            ) -> Result<Vec<ReleasedTick>, StoreError> {
                let mut job_ids: Vec<i64> = ticks.iter().map(|t| t.job_id).collect();
                job_ids.sort_unstable();
                job_ids.dedup();
                let released: std::collections::HashSet<i64> =
                    ticks.iter().map(|t| t.execution_id).collect();
                let since = ticks.iter().map(|t| to_millis(t.scheduled_at)).min().unwrap_or(0);
                let mut later = Vec::new();
                for chunk in job_ids.chunks($crate::store::sql::BULK_ROWS) {
                    let mut lock = sqlx::QueryBuilder::<$db>::new("SELECT job_id FROM job_state WHERE job_id IN (");
                    let mut ids = lock.separated(", ");
                    for id in chunk {
                        ids.push_bind(*id);
                    }
                    lock.push(format!(") ORDER BY job_id{}", <$store>::ROW_LOCK));
                    lock.build().execute(&mut **tx).await?;
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT id, job_id, scheduled_at FROM executions \
                         WHERE trigger_kind = 'schedule' AND attempt = 1 AND scheduled_at >= ",
                    );
                    select.push_bind(since).push(" AND job_id IN (");
                    let mut ids = select.separated(", ");
                    for id in chunk {
                        ids.push_bind(*id);
                    }
                    select.push(")");
                    let rows: Vec<(i64, i64, i64)> = select.build_query_as().fetch_all(&mut **tx).await?;
                    later.extend(rows.into_iter().filter(|(id, _, _)| !released.contains(id)));
                }
                let overtaken = |tick: &ReleasedTick| {
                    let at = to_millis(tick.scheduled_at);
                    later.iter().any(|(_, job, other)| *job == tick.job_id && *other > at)
                };
                let (kept, free): (Vec<ReleasedTick>, Vec<ReleasedTick>) =
                    ticks.iter().copied().partition(|tick| overtaken(tick));
                for chunk in kept.chunks($crate::store::sql::BULK_ROWS) {
                    let mut flag = sqlx::QueryBuilder::<$db>::new(
                        "UPDATE executions SET handed_over = TRUE WHERE state = 'scheduled' AND id IN (",
                    );
                    let mut ids = flag.separated(", ");
                    for tick in chunk {
                        ids.push_bind(tick.execution_id);
                    }
                    flag.push(")");
                    flag.build().execute(&mut **tx).await?;
                }
                Ok(free)
            }

            /// Closes `open` executions (with their job ids) as failed with `reason`,
            /// counting them on their jobs; returns them as closed.
            async fn close_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                open: Vec<(i64, ExecutionRecord)>,
                reason: &str,
            ) -> Result<Vec<(i64, ExecutionRecord)>, StoreError> {
                if open.is_empty() {
                    return Ok(Vec::new());
                }
                let records: Vec<ExecutionRecord> = open.iter().map(|(_, r)| r.clone()).collect();
                let mut finished = $crate::store::sql::closing(&records, reason);
                for (done, (job_id, _)) in finished.iter_mut().zip(&open) {
                    done.job_id = *job_id;
                }
                <$store>::write_finished(tx, &finished).await?;
                let totals = $crate::store::sql::JobTotals::of(&finished);
                <$store>::add_job_totals(tx, &totals).await?;
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

            /// The names of the jobs whose parent is `parent`.
            async fn dependents_of(&self, tenant: TenantId, parent: &str) -> Result<Vec<String>, StoreError> {
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

            /// Sets a tenant's JSON `column` (`grants` or `quotas`, never input) and reads the
            /// tenant back; `None` when there is no such tenant.
            async fn set_tenant_json(
                &self,
                name: &str,
                column: &'static str,
                value: &serde_json::Value,
            ) -> Result<Option<$crate::store::Tenant>, StoreError> {
                sqlx::query(&format!("UPDATE tenants SET {column} = $1 WHERE name = $2"))
                    .bind(value.to_string())
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                $crate::store::Store::get_tenant(self, name).await
            }

            /// Rows as jobs, with their dependent jobs: a lookup per parent only.
            async fn with_dependents(&self, rows: Vec<$crate::store::sql::JobRow>) -> Result<Vec<StoredJob>, StoreError> {
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
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn put_job(
                &self,
                tenant: TenantId,
                spec: &JobSpec,
                next_run_at: Option<DateTime<Utc>>,
            ) -> Result<StoredJob, StoreError> {
                self.put_jobs(tenant, &[(spec.clone(), next_run_at)]).await?;
                self.get_job(tenant, &spec.name)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("job {} vanished after writing", spec.name)))
            }

            async fn put_jobs(
                &self,
                tenant: TenantId,
                jobs: &[(JobSpec, Option<DateTime<Utc>>)],
            ) -> Result<(), StoreError> {
                let now = to_millis(Utc::now());
                // One statement may not touch a row twice: keep each name's last definition.
                let last: std::collections::HashMap<&str, usize> =
                    jobs.iter().enumerate().map(|(i, (spec, _))| (spec.name.as_str(), i)).collect();
                let jobs: Vec<&(JobSpec, Option<DateTime<Utc>>)> = jobs
                    .iter()
                    .enumerate()
                    .filter(|(i, (spec, _))| last[spec.name.as_str()] == *i)
                    .map(|(_, job)| job)
                    .collect();
                let mut tx = <$store>::begin_write(&self.pool).await?;
                for chunk in jobs.chunks($crate::store::sql::BULK_ROWS) {
                    let rows = chunk
                        .iter()
                        .map(|(spec, next)| {
                            serde_json::to_string(spec)
                                .map(|json| (spec, json, next.map(to_millis)))
                                .map_err(|e| StoreError::Corrupt(e.to_string()))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let next_by_name: std::collections::HashMap<&str, Option<i64>> =
                        rows.iter().map(|(spec, _, next)| (spec.name.as_str(), *next)).collect();
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO jobs (tenant_id, name, spec, displayname, schedule, disabled, \
                         parent_job, created_at, updated_at) ",
                    );
                    insert.push_values(&rows, |mut row, (spec, json, _)| {
                        row.push_bind(tenant)
                            .push_bind(spec.name.clone())
                            .push_bind(json.clone())
                            .push_bind(spec.displayname.clone())
                            .push_bind(spec.schedule.clone())
                            .push_bind(spec.disabled)
                            .push_bind(spec.parent_job.clone())
                            .push_bind(now)
                            .push_bind(now);
                    });
                    insert.push(
                        " ON CONFLICT (tenant_id, name) DO UPDATE SET spec = excluded.spec, \
                         displayname = excluded.displayname, schedule = excluded.schedule, \
                         disabled = excluded.disabled, parent_job = excluded.parent_job, \
                         updated_at = excluded.updated_at RETURNING id, name",
                    );
                    let written: Vec<(i64, String)> =
                        insert.build_query_as().fetch_all(&mut *tx).await?;
                    let mut state = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO job_state (job_id, next_run_at) ",
                    );
                    state.push_values(&written, |mut row, (id, name)| {
                        row.push_bind(*id).push_bind(next_by_name.get(name.as_str()).copied().flatten());
                    });
                    state.push(" ON CONFLICT (job_id) DO UPDATE SET next_run_at = excluded.next_run_at");
                    state.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_job(&self, tenant: TenantId, name: &str) -> Result<Option<StoredJob>, StoreError> {
                let row: Option<$crate::store::sql::JobRow> = sqlx::query_as(&format!(
                    "SELECT {JOB_COLUMNS} FROM {JOBS_FROM} WHERE tenant_id = $1 AND name = $2"
                ))
                        .bind(tenant)
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                match row {
                    Some(row) => Ok(self.with_dependents(vec![row]).await?.pop()),
                    None => Ok(None),
                }
            }

            async fn get_job_by_id(&self, id: i64) -> Result<Option<StoredJob>, StoreError> {
                let row: Option<$crate::store::sql::JobRow> = sqlx::query_as(&format!(
                    "SELECT {JOB_COLUMNS} FROM {JOBS_FROM} WHERE jobs.id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(row) => Ok(self.with_dependents(vec![row]).await?.pop()),
                    None => Ok(None),
                }
            }

            async fn job_ids(
                &self,
                tenant: TenantId,
                names: &[&str],
            ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
                let mut ids = std::collections::HashMap::new();
                for chunk in names.chunks($crate::store::sql::BULK_ROWS) {
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT name, id FROM jobs WHERE tenant_id = ",
                    );
                    select.push_bind(tenant).push(" AND name IN (");
                    let mut list = select.separated(", ");
                    for name in chunk {
                        list.push_bind(name.to_string());
                    }
                    select.push(")");
                    let rows: Vec<(String, i64)> = select.build_query_as().fetch_all(&self.pool).await?;
                    ids.extend(rows);
                }
                Ok(ids)
            }

            async fn count_jobs(&self, tenant: TenantId) -> Result<u64, StoreError> {
                // Kept by triggers (migrations 0002 and tenants): no count over every row.
                let count: Option<(i64,)> =
                    sqlx::query_as("SELECT n FROM tenant_job_count WHERE tenant_id = $1")
                        .bind(tenant)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(count.map_or(0, |(n,)| n.max(0) as u64))
            }

            async fn list_jobs(
                &self,
                tenant: TenantId,
                query: &JobQuery,
            ) -> Result<(Vec<StoredJob>, u64), StoreError> {
                fn filters(builder: &mut sqlx::QueryBuilder<'_, $db>, tenant: TenantId, query: &JobQuery) {
                    builder
                        .push(" WHERE job_state.job_id = jobs.id AND tenant_id = ")
                        .push_bind(tenant);
                    if let Some(q) = &query.q {
                        let pattern = format!("%{q}%");
                        builder.push(" AND (name LIKE ").push_bind(pattern.clone());
                        builder.push(" OR displayname LIKE ").push_bind(pattern).push(")");
                    }
                    if let Some(status) = &query.status {
                        let status = if status == "untriggered" { String::new() } else { status.clone() };
                        builder.push(" AND status = ").push_bind(status);
                    }
                    if let Some(disabled) = query.disabled {
                        builder.push(" AND disabled = ").push_bind(disabled);
                    }
                    if let Some(executor) = &query.executor {
                        builder.push(" AND ");
                        <$store>::push_spec_filter(builder, "executor", executor);
                    }
                    for (key, value) in &query.metadata {
                        builder.push(" AND ");
                        <$store>::push_metadata_filter(builder, key, value);
                    }
                }
                let unfiltered = query.q.is_none()
                    && query.status.is_none()
                    && query.disabled.is_none()
                    && query.metadata.is_empty()
                    && query.executor.is_none();
                let total = if unfiltered {
                    self.count_jobs(tenant).await?
                } else {
                    let mut count = sqlx::QueryBuilder::<$db>::new(format!(
                        "SELECT COUNT(*) FROM {}",
                        query.sort.tables()
                    ));
                    filters(&mut count, tenant, query);
                    let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;
                    total.max(0) as u64
                };

                let mut select = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {JOB_COLUMNS} FROM {}",
                    query.sort.tables()
                ));
                filters(&mut select, tenant, query);
                let order = if query.descending { "DESC" } else { "ASC" };
                select.push(format!(
                    " ORDER BY {} {order}, {} {order}",
                    query.sort.column(),
                    query.sort.tiebreak()
                ));
                let limit = query.end.map_or(i64::MAX, |end| end.saturating_sub(query.start) as i64);
                // Literal numbers, not parameters: a generic plan of a prepared statement
                // does not know the page is small and may sort every row.
                select.push(format!(" LIMIT {limit} OFFSET {}", query.start.min(i64::MAX as u64)));
                let rows = select.build_query_as().fetch_all(&self.pool).await?;
                Ok((self.with_dependents(rows).await?, total))
            }

            async fn delete_job(&self, tenant: TenantId, name: &str) -> Result<Option<StoredJob>, StoreError> {
                let Some(job) = self.get_job(tenant, name).await? else {
                    return Ok(None);
                };
                if !job.dependent_jobs.is_empty() {
                    return Err(StoreError::Conflict(format!(
                        "job {name} has dependent jobs ({}); delete them first",
                        job.dependent_jobs.join(", ")
                    )));
                }
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM executions WHERE job_id = $1").bind(job.id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM job_state WHERE job_id = $1").bind(job.id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM jobs WHERE id = $1").bind(job.id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(Some(job))
            }

            async fn set_disabled(
                &self,
                tenant: TenantId,
                name: &str,
                disabled: bool,
                next_run_at: Option<DateTime<Utc>>,
            ) -> Result<Option<StoredJob>, StoreError> {
                let Some(mut job) = self.get_job(tenant, name).await? else {
                    return Ok(None);
                };
                job.spec.disabled = disabled;
                let json = serde_json::to_string(&job.spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let mut tx = <$store>::begin_write(&self.pool).await?;
                sqlx::query("UPDATE jobs SET spec = $1, disabled = $2, updated_at = $3 WHERE id = $4")
                    .bind(json)
                    .bind(disabled)
                    .bind(to_millis(Utc::now()))
                    .bind(job.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE job_state SET next_run_at = $1 WHERE job_id = $2")
                    .bind(next_run_at.map(to_millis))
                    .bind(job.id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.get_job(tenant, name).await
            }

            async fn claim_due(
                &self,
                node: &str,
                until: DateTime<Utc>,
                limit: usize,
                share: Option<$crate::store::ClaimShare>,
                plan: PlanNext<'_>,
            ) -> Result<Vec<ClaimedTick>, StoreError> {
                let mut tx = <$store>::begin_write(&self.pool).await?;
                let query = format!(
                    "SELECT {} FROM {} \
                     WHERE next_run_at IS NOT NULL AND next_run_at <= $1{} \
                     ORDER BY next_run_at LIMIT $2{}",
                    $crate::store::sql::DUE_COLUMNS,
                    $crate::store::sql::JOBS_FROM,
                    if share.is_some() {
                        " AND (job_state.job_id % $3 = $4 OR next_run_at <= $5)"
                    } else {
                        ""
                    },
                    <$store>::CLAIM_LOCK
                );
                let mut select = sqlx::query_as(&query).bind(to_millis(until)).bind(limit as i64);
                if let Some(share) = share {
                    select = select
                        .bind(i64::from(share.of.max(1)))
                        .bind(i64::from(share.index))
                        .bind(to_millis(share.anyones_after));
                }
                let rows: Vec<$crate::store::sql::DueRow> = select.fetch_all(&mut *tx).await?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let due = $crate::store::sql::due_jobs(rows)?;
                let forbidding: Vec<i64> = due
                    .iter()
                    .filter(|job| job.spec.concurrency == $crate::jobs::Concurrency::Forbid)
                    .map(|job| job.id)
                    .collect();
                let busy = Self::jobs_with_open_executions(&mut tx, &forbidding).await?;
                let next: Vec<(i64, Option<i64>)> =
                    due.iter().map(|job| (job.id, plan(job).map(to_millis))).collect();
                <$store>::store_next_runs(&mut tx, &next).await?;

                let runnable: Vec<&DueJob> = due.iter().filter(|job| !busy.contains(&job.id)).collect();
                let executions: std::collections::HashMap<i64, i64> =
                    <$store>::insert_tick_executions(&mut tx, node, &runnable)
                        .await?
                        .into_iter()
                        .map(|(id, job_id)| (job_id, id))
                        .collect();
                tx.commit().await?;
                Ok(due
                    .into_iter()
                    .map(|job| ClaimedTick {
                        execution: executions.get(&job.id).copied(),
                        group: $crate::store::sql::tick_group(job.scheduled_at),
                        job,
                    })
                    .collect())
            }

            async fn discard_tick(&self, execution_id: i64) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM executions WHERE id = $1 AND state = 'scheduled'")
                    .bind(execution_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn release_ticks(&self, ticks: &[ReleasedTick]) -> Result<(), StoreError> {
                if ticks.is_empty() {
                    return Ok(());
                }
                let mut tx = <$store>::begin_write(&self.pool).await?;
                let ticks = Self::keep_overtaken(&mut tx, ticks).await?;
                // Only the ticks whose execution this call deletes move their job back, so
                // handing a tick back twice is harmless.
                let mut earliest = std::collections::BTreeMap::<i64, i64>::new();
                for chunk in ticks.chunks($crate::store::sql::BULK_ROWS) {
                    let mut delete = sqlx::QueryBuilder::<$db>::new(
                        "DELETE FROM executions WHERE state = 'scheduled' AND id IN (",
                    );
                    let mut ids = delete.separated(", ");
                    for tick in chunk {
                        ids.push_bind(tick.execution_id);
                    }
                    delete.push(") RETURNING job_id, scheduled_at");
                    let deleted: Vec<(i64, i64)> = delete.build_query_as().fetch_all(&mut *tx).await?;
                    for (job_id, at) in deleted {
                        earliest.entry(job_id).and_modify(|e| *e = (*e).min(at)).or_insert(at);
                    }
                }
                let earliest: Vec<(i64, i64)> = earliest.into_iter().collect();
                for chunk in earliest.chunks($crate::store::sql::BULK_ROWS) {
                    let mut update = sqlx::QueryBuilder::<$db>::new("WITH v (vid, vat) AS (");
                    update.push_values(chunk, |mut row, (id, at)| {
                        row.push_bind(*id).push_bind(*at);
                    });
                    update.push(
                        ") UPDATE job_state SET next_run_at = v.vat FROM v \
                         WHERE job_state.job_id = v.vid \
                         AND (job_state.next_run_at IS NULL OR job_state.next_run_at > v.vat) \
                         AND EXISTS (SELECT 1 FROM jobs WHERE jobs.id = job_state.job_id \
                         AND jobs.disabled = FALSE)",
                    );
                    update.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn reschedule_overdue(
                &self,
                before: DateTime<Utc>,
                plan: PlanNext<'_>,
            ) -> Result<u64, StoreError> {
                let mut changed = 0;
                let mut after_id = 0_i64;
                loop {
                    let mut tx = <$store>::begin_write(&self.pool).await?;
                    let rows: Vec<$crate::store::sql::DueRow> = sqlx::query_as(&format!(
                        "SELECT {} FROM {} \
                         WHERE next_run_at IS NOT NULL AND next_run_at < $1 AND id > $2 \
                         ORDER BY id LIMIT $3{}",
                        $crate::store::sql::DUE_COLUMNS,
                        $crate::store::sql::JOBS_FROM,
                        <$store>::CLAIM_LOCK
                    ))
                    .bind(to_millis(before))
                    .bind(after_id)
                    .bind($crate::store::sql::BULK_ROWS as i64)
                    .fetch_all(&mut *tx)
                    .await?;
                    let Some(last) = rows.last() else { break };
                    after_id = last.0;
                    let due = $crate::store::sql::due_jobs(rows)?;
                    let next: Vec<(i64, Option<i64>)> =
                        due.iter().map(|job| (job.id, plan(job).map(to_millis))).collect();
                    <$store>::store_next_runs(&mut tx, &next).await?;
                    tx.commit().await?;
                    changed += next.len() as u64;
                }
                Ok(changed)
            }

            async fn start_execution(&self, new: &NewExecution) -> Result<ExecutionRecord, StoreError> {
                let now = Utc::now();
                let group = new
                    .group
                    .unwrap_or_else(|| now.timestamp_nanos_opt().unwrap_or_default());
                let started_at = (new.state == ExecutionState::Running).then(|| to_millis(now));
                let mut tx = <$store>::begin_write(&self.pool).await?;
                if new.exclusive {
                    sqlx::query(&format!(
                        "SELECT job_id FROM job_state \
                         WHERE job_id = (SELECT id FROM jobs WHERE tenant_id = $1 AND name = $2){}",
                        <$store>::ROW_LOCK
                    ))
                    .bind(new.tenant)
                    .bind(&new.job_name)
                    .execute(&mut *tx)
                    .await?;
                    let open: Option<(i32,)> = sqlx::query_as(
                        "SELECT 1 FROM executions \
                         WHERE job_id = (SELECT id FROM jobs WHERE tenant_id = $1 AND name = $2) \
                         AND state IN ('scheduled', 'running') LIMIT 1",
                    )
                    .bind(new.tenant)
                    .bind(&new.job_name)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if open.is_some() {
                        return Err(StoreError::Conflict(format!(
                            "job {:?} forbids overlapping runs and an execution of it is \
                             scheduled or running",
                            new.job_name
                        )));
                    }
                }
                let row: $crate::store::sql::ExecutionRow = sqlx::query_as(&format!(
                    "INSERT INTO executions (job_id, job_name, group_id, attempt, scheduled_at, \
                     started_at, state, node, trigger_kind, handed_over) \
                     SELECT id, name, $1, $2, $3, $4, $5, $6, $9, $10 \
                     FROM jobs WHERE tenant_id = $7 AND name = $8 RETURNING {EXECUTION_COLUMNS}"
                ))
                .bind(group)
                .bind(new.attempt as i32)
                .bind(to_millis(new.scheduled_at))
                .bind(started_at)
                .bind(new.state.as_str())
                .bind(&new.node)
                .bind(new.tenant)
                .bind(&new.job_name)
                .bind(new.trigger.as_str())
                .bind(new.handed_over)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(row.into())
            }

            async fn mark_running(&self, started: &[(i64, DateTime<Utc>)]) -> Result<(), StoreError> {
                if started.is_empty() {
                    return Ok(());
                }
                <$store>::write_running(&self.pool, started).await
            }

            async fn finish_executions(&self, finished: &[FinishedExecution]) -> Result<(), StoreError> {
                if finished.is_empty() {
                    return Ok(());
                }
                let mut tx = <$store>::begin_write(&self.pool).await?;
                <$store>::write_finished(&mut tx, finished).await?;
                let totals = $crate::store::sql::JobTotals::of(finished);
                <$store>::add_job_totals(&mut tx, &totals).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_executions(
                &self,
                tenant: TenantId,
                name: &str,
            ) -> Result<Option<StoredJob>, StoreError> {
                let mut tx = <$store>::begin_write(&self.pool).await?;
                sqlx::query(
                    "DELETE FROM executions \
                     WHERE job_id = (SELECT id FROM jobs WHERE tenant_id = $1 AND name = $2) \
                     AND state IN ('succeeded', 'failed')",
                )
                .bind(tenant)
                .bind(name)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE job_state SET success_count = 0, error_count = 0, last_success = NULL, \
                     last_error = NULL, status = '' \
                     WHERE job_id = (SELECT id FROM jobs WHERE tenant_id = $1 AND name = $2)",
                )
                .bind(tenant)
                .bind(name)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.get_job(tenant, name).await
            }

            async fn prune_executions(&self, job_ids: &[i64], keep: u32) -> Result<u64, StoreError> {
                let keep = i64::from(keep.max(1));
                let mut deleted = 0;
                let mut tx = <$store>::begin_write(&self.pool).await?;
                for job_id in job_ids {
                    deleted += sqlx::query(
                        "DELETE FROM executions WHERE job_id = $1 \
                         AND state IN ('succeeded', 'failed') AND id < (SELECT id FROM executions \
                         WHERE job_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                    )
                    .bind(job_id)
                    .bind(keep - 1)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(deleted)
            }

            async fn prune_finished_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "DELETE FROM executions WHERE finished_at < $1 AND state IN ('succeeded', 'failed')",
                )
                .bind(to_millis(before))
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn list_executions(
                &self,
                tenant: TenantId,
                job_name: &str,
                start: u64,
                end: Option<u64>,
            ) -> Result<(Vec<ExecutionRecord>, u64), StoreError> {
                let limit = end.map_or(i64::MAX, |end| end.saturating_sub(start) as i64);
                let rows: Vec<$crate::store::sql::ExecutionRow> = sqlx::query_as(&format!(
                    "SELECT {EXECUTION_COLUMNS} FROM executions \
                     WHERE job_id = (SELECT id FROM jobs WHERE tenant_id = $1 AND name = $2) \
                     ORDER BY id DESC LIMIT $3 OFFSET $4"
                ))
                .bind(tenant)
                .bind(job_name)
                .bind(limit)
                .bind(start as i64)
                .fetch_all(&self.pool)
                .await?;
                // Counted after the page, so the total covers every row the page shows
                // even while executions are being written.
                let (total,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM executions \
                     WHERE job_id = (SELECT id FROM jobs WHERE tenant_id = $1 AND name = $2)",
                )
                .bind(tenant)
                .bind(job_name)
                .fetch_one(&self.pool)
                .await?;
                Ok((rows.into_iter().map(Into::into).collect(), total as u64))
            }

            async fn list_tenant_executions(
                &self,
                tenant: TenantId,
                state: Option<ExecutionState>,
                start: u64,
                end: u64,
            ) -> Result<Vec<ExecutionRecord>, StoreError> {
                // Walks the executions newest first and stops at the page's end: the
                // tenant is checked per row through the jobs' primary key.
                let mut select = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {EXECUTION_COLUMNS} FROM executions WHERE EXISTS \
                     (SELECT 1 FROM jobs WHERE jobs.id = executions.job_id AND jobs.tenant_id = "
                ));
                select.push_bind(tenant).push(")");
                if let Some(state) = state {
                    select.push(" AND state = ").push_bind(state.as_str());
                }
                let limit = end.saturating_sub(start).min(i64::MAX as u64);
                select.push(format!(
                    " ORDER BY id DESC LIMIT {limit} OFFSET {}",
                    start.min(i64::MAX as u64)
                ));
                let rows: Vec<$crate::store::sql::ExecutionRow> =
                    select.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn get_execution(
                &self,
                tenant: TenantId,
                job_name: &str,
                id: i64,
            ) -> Result<Option<ExecutionRecord>, StoreError> {
                let row: Option<$crate::store::sql::ExecutionRow> = sqlx::query_as(&format!(
                    "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1 \
                     AND job_id = (SELECT id FROM jobs WHERE tenant_id = $2 AND name = $3)"
                ))
                .bind(id)
                .bind(tenant)
                .bind(job_name)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn close_unfinished(&self, node: &str, reason: &str) -> Result<u64, StoreError> {
                let mut tx = <$store>::begin_write(&self.pool).await?;
                let open = Self::open_executions(&mut tx, node, "('scheduled', 'running')").await?;
                let closed = Self::close_in(&mut tx, open, reason).await?;
                tx.commit().await?;
                Ok(closed.len() as u64)
            }

            async fn join(&self, member: &$crate::store::Member) -> Result<(), StoreError> {
                let tags = serde_json::to_string(&member.tags).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO members (name, address, tags, started_at, heartbeat_at, taken_over) \
                     VALUES ($1, $2, $3, $4, $5, FALSE) ON CONFLICT (name) DO UPDATE SET \
                     address = excluded.address, tags = excluded.tags, started_at = excluded.started_at, \
                     heartbeat_at = excluded.heartbeat_at, taken_over = FALSE",
                )
                .bind(&member.name)
                .bind(&member.address)
                .bind(tags)
                .bind(to_millis(member.started_at))
                .bind(to_millis(member.heartbeat_at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn heartbeat(&self, name: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE members SET heartbeat_at = $2 WHERE name = $1")
                    .bind(name)
                    .bind(to_millis(at))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn forget_members(&self, dead_before: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
                let names: Vec<(String,)> = sqlx::query_as(
                    "DELETE FROM members WHERE taken_over AND heartbeat_at < $1 RETURNING name",
                )
                .bind(to_millis(dead_before))
                .fetch_all(&self.pool)
                .await?;
                Ok(names.into_iter().map(|(name,)| name).collect())
            }

            async fn list_members(&self) -> Result<Vec<$crate::store::Member>, StoreError> {
                let rows: Vec<$crate::store::sql::MemberRow> = sqlx::query_as(
                    "SELECT name, address, tags, started_at, heartbeat_at FROM members ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map($crate::store::sql::member).collect())
            }

            async fn take_over(
                &self,
                from: &str,
                dead: Option<$crate::store::DeadRule>,
                reason: &str,
                to: &str,
            ) -> Result<Option<$crate::store::TakenOver>, StoreError> {
                let mut tx = <$store>::begin_write(&self.pool).await?;
                if let Some(dead) = dead {
                    let won = sqlx::query(&format!(
                        "UPDATE members SET taken_over = TRUE WHERE name = $1 AND taken_over = FALSE \
                         AND (heartbeat_at < $2 OR (heartbeat_at < $3 AND {}))",
                        <$store>::PROCESS_GONE
                    ))
                    .bind(from)
                    .bind(to_millis(dead.heartbeat_before))
                    .bind(to_millis(dead.gone_before))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if won == 0 {
                        return Ok(None);
                    }
                }
                let running = Self::open_executions(&mut tx, from, "('running')").await?;
                let closed = Self::close_in(&mut tx, running, reason).await?;
                let handed = sqlx::query(
                    "UPDATE executions SET node = $2, handed_over = TRUE \
                     WHERE node = $1 AND state = 'scheduled'",
                )
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(Some($crate::store::TakenOver { closed, handed }))
            }

            async fn pick_handed(&self, node: &str) -> Result<Vec<$crate::store::HandedExecution>, StoreError> {
                let mut tx = <$store>::begin_write(&self.pool).await?;
                let rows = sqlx::query(&format!(
                    "UPDATE executions SET handed_over = FALSE \
                     WHERE node = $1 AND handed_over AND state = 'scheduled' \
                     RETURNING {EXECUTION_COLUMNS}, job_id"
                ))
                .bind(node)
                .fetch_all(&mut *tx)
                .await?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let mut picked = Vec::with_capacity(rows.len());
                for row in &rows {
                    use sqlx::Row;
                    let record: ExecutionRecord =
                        <$crate::store::sql::ExecutionRow as sqlx::FromRow<_>>::from_row(row)?.into();
                    picked.push((row.try_get::<i64, _>("job_id")?, record));
                }
                let mut job_ids: Vec<i64> = picked.iter().map(|(id, _)| *id).collect();
                job_ids.sort_unstable();
                job_ids.dedup();
                let mut specs = std::collections::HashMap::new();
                for chunk in job_ids.chunks($crate::store::sql::BULK_ROWS) {
                    let mut select = sqlx::QueryBuilder::<$db>::new(format!(
                        "SELECT {} FROM jobs WHERE id IN (",
                        $crate::store::sql::SPEC_COLUMNS
                    ));
                    let mut ids = select.separated(", ");
                    for id in chunk {
                        ids.push_bind(*id);
                    }
                    select.push(")");
                    let rows: Vec<(i64, i64, String, bool)> = select.build_query_as().fetch_all(&mut *tx).await?;
                    for (id, tenant, spec, has_dependents) in rows {
                        specs.insert(id, (tenant, spec, has_dependents));
                    }
                }
                tx.commit().await?;
                let mut handed = Vec::with_capacity(picked.len());
                for (job_id, record) in picked {
                    // A job deleted meanwhile took its executions with it.
                    let Some((tenant, spec, has_dependents)) = specs.get(&job_id) else { continue };
                    handed.push($crate::store::HandedExecution {
                        tenant: *tenant,
                        record,
                        job_id,
                        spec: serde_json::from_str(spec)
                            .map_err(|e| StoreError::Corrupt(format!("job {job_id}: {e}")))?,
                        has_dependents: *has_dependents,
                    });
                }
                Ok(handed)
            }

            async fn hand_to(&self, execution_id: i64, node: &str) -> Result<bool, StoreError> {
                let mut tx = <$store>::begin_write(&self.pool).await?;
                // Held until the end: a take-over of `node` waits, or has already won.
                let member: Option<(String,)> = sqlx::query_as(&format!(
                    "SELECT name FROM members WHERE name = $1 AND taken_over = FALSE{}",
                    <$store>::SHARE_LOCK
                ))
                .bind(node)
                .fetch_optional(&mut *tx)
                .await?;
                if member.is_none() {
                    return Ok(false);
                }
                sqlx::query(
                    "UPDATE executions SET node = $2, handed_over = TRUE \
                     WHERE id = $1 AND state = 'scheduled'",
                )
                .bind(execution_id)
                .bind(node)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn hold_node_name(&self, name: &str) -> Result<$crate::store::NodeNameGuard, StoreError> {
                self.hold_name(name).await
            }

            async fn put_executor(
                &self,
                tenant: TenantId,
                name: &str,
                sha256: &str,
                imports: &[String],
                wasm: &[u8],
            ) -> Result<$crate::store::StoredExecutor, StoreError> {
                let imports = serde_json::to_string(imports).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let mut tx = <$store>::begin_write(&self.pool).await?;
                let (latest,): (Option<i32>,) =
                    sqlx::query_as("SELECT MAX(version) FROM executors WHERE tenant_id = $1 AND name = $2")
                        .bind(tenant)
                        .bind(name)
                        .fetch_one(&mut *tx)
                        .await?;
                let row: $crate::store::sql::ExecutorRow = sqlx::query_as(&format!(
                    "INSERT INTO executors (tenant_id, name, version, sha256, size, imports, wasm, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {}",
                    $crate::store::sql::EXECUTOR_COLUMNS
                ))
                .bind(tenant)
                .bind(name)
                .bind(latest.unwrap_or(0) + 1)
                .bind(sha256)
                .bind(wasm.len() as i64)
                .bind(imports)
                .bind(wasm)
                .bind(to_millis(Utc::now()))
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!(
                        "executor {name} was uploaded twice at the same time; upload again"
                    )),
                    other => other.into(),
                })?;
                tx.commit().await?;
                Ok(row.into_executor())
            }

            async fn list_executors(&self, tenant: TenantId) -> Result<Vec<$crate::store::StoredExecutor>, StoreError> {
                let rows: Vec<$crate::store::sql::ExecutorRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM executors AS e WHERE tenant_id = $1 AND version = \
                     (SELECT MAX(version) FROM executors \
                      WHERE tenant_id = e.tenant_id AND name = e.name) ORDER BY name",
                    $crate::store::sql::EXECUTOR_COLUMNS
                ))
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map($crate::store::sql::ExecutorRow::into_executor).collect())
            }

            async fn executor_usage(&self, tenant: TenantId) -> Result<(u64, u64), StoreError> {
                let (count, bytes): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), CAST(SUM(size) AS BIGINT) FROM executors WHERE tenant_id = $1",
                )
                .bind(tenant)
                .fetch_one(&self.pool)
                .await?;
                Ok((count.max(0) as u64, bytes.unwrap_or(0).max(0) as u64))
            }

            async fn executor_versions(
                &self,
                tenant: TenantId,
                name: &str,
            ) -> Result<Vec<$crate::store::StoredExecutor>, StoreError> {
                let rows: Vec<$crate::store::sql::ExecutorRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM executors WHERE tenant_id = $1 AND name = $2 ORDER BY version DESC",
                    $crate::store::sql::EXECUTOR_COLUMNS
                ))
                .bind(tenant)
                .bind(name)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map($crate::store::sql::ExecutorRow::into_executor).collect())
            }

            async fn executor_wasm(
                &self,
                tenant: TenantId,
                name: &str,
                version: Option<u32>,
            ) -> Result<Option<($crate::store::StoredExecutor, Vec<u8>)>, StoreError> {
                let row: Option<($crate::store::sql::ExecutorRow, Vec<u8>)> = {
                    let query = format!(
                        "SELECT {}, wasm FROM executors WHERE tenant_id = $1 AND name = $2 AND version = {} ",
                        $crate::store::sql::EXECUTOR_COLUMNS,
                        if version.is_some() {
                            "$3"
                        } else {
                            "(SELECT MAX(version) FROM executors WHERE tenant_id = $1 AND name = $2)"
                        }
                    );
                    let mut query = sqlx::query(&query).bind(tenant).bind(name);
                    if let Some(version) = version {
                        query = query.bind(version as i32);
                    }
                    match query.fetch_optional(&self.pool).await? {
                        None => None,
                        Some(row) => {
                            use sqlx::Row;
                            let executor = <$crate::store::sql::ExecutorRow as sqlx::FromRow<_>>::from_row(&row)?;
                            let wasm: Vec<u8> = row.try_get("wasm")?;
                            Some((executor, wasm))
                        }
                    }
                };
                Ok(row.map(|(executor, wasm)| (executor.into_executor(), wasm)))
            }

            async fn put_secret(&self, tenant: TenantId, name: &str, value: &str) -> Result<bool, StoreError> {
                let now = to_millis(Utc::now());
                let mut tx = <$store>::begin_write(&self.pool).await?;
                let existed: Option<(i64,)> =
                    sqlx::query_as("SELECT created_at FROM secrets WHERE tenant_id = $1 AND name = $2")
                        .bind(tenant)
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await?;
                sqlx::query(
                    "INSERT INTO secrets (tenant_id, name, value, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (tenant_id, name) \
                     DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(tenant)
                .bind(name)
                .bind(value)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(existed.is_none())
            }

            async fn list_secrets(&self, tenant: TenantId) -> Result<Vec<$crate::store::SecretInfo>, StoreError> {
                let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT name, created_at, updated_at FROM secrets WHERE tenant_id = $1 ORDER BY name",
                )
                        .bind(tenant)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(|(name, created, updated)| $crate::store::SecretInfo {
                        name,
                        created_at: from_millis(created),
                        updated_at: from_millis(updated),
                    })
                    .collect())
            }

            async fn secret_values(
                &self,
                tenant: TenantId,
                names: &[String],
            ) -> Result<Vec<(String, String)>, StoreError> {
                let mut values = Vec::with_capacity(names.len());
                for chunk in names.chunks($crate::store::sql::BULK_ROWS) {
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT name, value FROM secrets WHERE tenant_id = ",
                    );
                    select.push_bind(tenant).push(" AND name IN (");
                    let mut list = select.separated(", ");
                    for name in chunk {
                        list.push_bind(name.clone());
                    }
                    select.push(")");
                    values.extend(select.build_query_as::<(String, String)>().fetch_all(&self.pool).await?);
                }
                Ok(values)
            }

            async fn delete_secret(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
                Ok(sqlx::query("DELETE FROM secrets WHERE tenant_id = $1 AND name = $2")
                    .bind(tenant)
                    .bind(name)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                    > 0)
            }

            async fn delete_executor(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
                let mut tx = <$store>::begin_write(&self.pool).await?;
                let users: Vec<(String,)> = sqlx::query_as(&format!(
                    "SELECT name FROM jobs WHERE tenant_id = $1 AND ({0} = $2 OR {0} LIKE $3) \
                     ORDER BY name LIMIT 6",
                    <$store>::EXECUTOR_OF_SPEC
                ))
                .bind(tenant)
                .bind(name)
                .bind(format!("{name}@%"))
                .fetch_all(&mut *tx)
                .await?;
                if !users.is_empty() {
                    let names: Vec<String> = users.into_iter().map(|(n,)| n).collect();
                    return Err(StoreError::Conflict(format!(
                        "executor {name} is used by jobs {}{}; change or delete them first",
                        names.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                        if names.len() > 5 { ", …" } else { "" }
                    )));
                }
                let deleted = sqlx::query("DELETE FROM executors WHERE tenant_id = $1 AND name = $2")
                    .bind(tenant)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(deleted > 0)
            }

            async fn create_tenant(&self, name: &str) -> Result<$crate::store::Tenant, StoreError> {
                let row: $crate::store::sql::TenantRow = sqlx::query_as(&format!(
                    "INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING {}",
                    $crate::store::sql::TENANT_COLUMNS
                ))
                .bind(name)
                .bind(to_millis(Utc::now()))
                .fetch_one(&self.pool)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(db) if db.is_unique_violation() => {
                        StoreError::Conflict(format!("tenant {name} exists"))
                    }
                    other => other.into(),
                })?;
                row.into_tenant()
            }

            async fn list_tenants(&self) -> Result<Vec<$crate::store::Tenant>, StoreError> {
                let rows: Vec<$crate::store::sql::TenantRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM tenants ORDER BY name",
                    $crate::store::sql::TENANT_COLUMNS
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::store::sql::TenantRow::into_tenant).collect()
            }

            async fn get_tenant(&self, name: &str) -> Result<Option<$crate::store::Tenant>, StoreError> {
                let row: Option<$crate::store::sql::TenantRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM tenants WHERE name = $1",
                    $crate::store::sql::TENANT_COLUMNS
                ))
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::store::sql::TenantRow::into_tenant).transpose()
            }

            async fn tenant_by_id(&self, id: TenantId) -> Result<Option<$crate::store::Tenant>, StoreError> {
                let row: Option<$crate::store::sql::TenantRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM tenants WHERE id = $1",
                    $crate::store::sql::TENANT_COLUMNS
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.map($crate::store::sql::TenantRow::into_tenant).transpose()
            }

            async fn set_tenant_grants(
                &self,
                name: &str,
                grants: &serde_json::Value,
            ) -> Result<Option<$crate::store::Tenant>, StoreError> {
                self.set_tenant_json(name, "grants", grants).await
            }

            async fn set_tenant_quotas(
                &self,
                name: &str,
                quotas: &serde_json::Value,
            ) -> Result<Option<$crate::store::Tenant>, StoreError> {
                self.set_tenant_json(name, "quotas", quotas).await
            }

            async fn add_token(&self, tenant: TenantId, hash: &str, admin: bool) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO tokens (hash, tenant_id, admin, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(hash)
                    .bind(tenant)
                    .bind(admin)
                    .bind(to_millis(Utc::now()))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn token_owner(&self, hash: &str) -> Result<Option<$crate::store::TokenOwner>, StoreError> {
                // One statement: it runs on every API request.
                let row = sqlx::query(&format!(
                    "SELECT {}, tokens.admin FROM tokens \
                     JOIN tenants ON tenants.id = tokens.tenant_id WHERE tokens.hash = $1",
                    $crate::store::sql::TENANT_COLUMNS
                ))
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                use sqlx::Row;
                let admin: bool = row.try_get("admin")?;
                let tenant = <$crate::store::sql::TenantRow as sqlx::FromRow<_>>::from_row(&row)?;
                Ok(Some($crate::store::TokenOwner {
                    tenant: tenant.into_tenant()?,
                    admin,
                }))
            }

            async fn has_admin_token(&self) -> Result<bool, StoreError> {
                let row: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM tokens WHERE admin LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.is_some())
            }
        }
    };
}

pub(super) use sql_store;
