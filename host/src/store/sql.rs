//! The SQL both backends share: row types, and [`sql_store!`], which implements
//! [`Store`](super::Store) for a backend's store type. The SQL text uses `$N` placeholders,
//! bound by number on SQLite and PostgreSQL alike; a backend supplies only
//! `push_metadata_filter` (JSON access differs) and its pool.

use chrono::{DateTime, Utc};

use super::{
    DueJob, ExecutionRecord, ExecutionState, FinishedExecution, StoreError, StoredJob, from_millis,
    to_millis,
};
use crate::jobs::JobSpec;

/// Rows per bulk statement: 7 bound values each stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 parameters.
pub(super) const BULK_ROWS: usize = 1000;

/// Parses a job's stored definition.
fn parse_spec(id: i64, json: &str) -> Result<JobSpec, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("job {id}: {e}")))
}

/// `(id, spec, next_run_at)` rows as due jobs.
pub(super) fn due_jobs(rows: Vec<(i64, String, i64)>) -> Result<Vec<DueJob>, StoreError> {
    rows.into_iter()
        .map(|(id, spec, at)| {
            Ok(DueJob {
                id,
                spec: parse_spec(id, &spec)?,
                scheduled_at: from_millis(at),
            })
        })
        .collect()
}

/// The execution group of a scheduled tick: its instant in nanoseconds, unique per job.
pub(super) fn tick_group(scheduled_at: DateTime<Utc>) -> i64 {
    to_millis(scheduled_at).saturating_mul(1_000_000)
}

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
    pub spec: String,
    pub status: String,
    pub next_run_at: Option<i64>,
    pub success_count: i64,
    pub error_count: i64,
    pub last_success: Option<i64>,
    pub last_error: Option<i64>,
}

/// The columns of [`JobRow`].
pub(super) const JOB_COLUMNS: &str =
    "id, spec, status, next_run_at, success_count, error_count, last_success, last_error";

impl JobRow {
    pub(super) fn into_job(self, dependent_jobs: Vec<String>) -> Result<StoredJob, StoreError> {
        Ok(StoredJob {
            id: self.id,
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
}

/// The columns of [`ExecutionRow`].
pub(super) const EXECUTION_COLUMNS: &str = "id, job_name, group_id, attempt, scheduled_at, \
     started_at, finished_at, state, output, output_truncated, reason, node";

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
        }
    }
}

/// Implements `Store` for `$store`, whose field `pool` is a `sqlx::Pool<$db>` and which
/// has `fn push_metadata_filter(&mut QueryBuilder<$db>, &str, &str)`, `const CLAIM_LOCK`
/// and `async fn begin_write(&Pool<$db>)`.
macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn dependents(&self, names: &[&str]) -> Result<Vec<(String, String)>, StoreError> {
                if names.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT parent_job, name FROM jobs WHERE parent_job IN (",
                );
                let mut list = query.separated(", ");
                for name in names {
                    list.push_bind(name.to_string());
                }
                query.push(") ORDER BY name");
                let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows)
            }

            /// Stores each job's next tick, in bulk.
            async fn store_next_runs(
                tx: &mut sqlx::Transaction<'_, $db>,
                next: &[(i64, Option<i64>)],
            ) -> Result<(), StoreError> {
                for chunk in next.chunks($crate::store::sql::BULK_ROWS) {
                    let mut update = sqlx::QueryBuilder::<$db>::new("WITH v (vid, vnext) AS (");
                    update.push_values(chunk, |mut row, (id, next)| {
                        row.push_bind(*id).push_bind(*next);
                    });
                    update.push(") UPDATE jobs SET next_run_at = v.vnext FROM v WHERE jobs.id = v.vid");
                    update.build().execute(&mut **tx).await?;
                }
                Ok(())
            }

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

            async fn with_dependents(&self, rows: Vec<$crate::store::sql::JobRow>) -> Result<Vec<StoredJob>, StoreError> {
                let mut jobs = rows
                    .into_iter()
                    .map(|row| row.into_job(Vec::new()))
                    .collect::<Result<Vec<_>, _>>()?;
                let names: Vec<&str> = jobs.iter().map(|job| job.spec.name.as_str()).collect();
                let dependents = self.dependents(&names).await?;
                for job in &mut jobs {
                    job.dependent_jobs = dependents
                        .iter()
                        .filter(|(parent, _)| *parent == job.spec.name)
                        .map(|(_, child)| child.clone())
                        .collect();
                }
                Ok(jobs)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn put_job(
                &self,
                spec: &JobSpec,
                next_run_at: Option<DateTime<Utc>>,
            ) -> Result<StoredJob, StoreError> {
                let now = to_millis(Utc::now());
                let json = serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO jobs (name, spec, displayname, schedule, disabled, parent_job, \
                     next_run_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                     ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, \
                     displayname = excluded.displayname, schedule = excluded.schedule, \
                     disabled = excluded.disabled, parent_job = excluded.parent_job, \
                     next_run_at = excluded.next_run_at, updated_at = excluded.updated_at",
                )
                .bind(&spec.name)
                .bind(json)
                .bind(&spec.displayname)
                .bind(&spec.schedule)
                .bind(spec.disabled)
                .bind(&spec.parent_job)
                .bind(next_run_at.map(to_millis))
                .bind(now)
                .execute(&self.pool)
                .await?;
                self.get_job(&spec.name)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("job {} vanished after writing", spec.name)))
            }

            async fn get_job(&self, name: &str) -> Result<Option<StoredJob>, StoreError> {
                let row: Option<$crate::store::sql::JobRow> =
                    sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE name = $1"))
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                match row {
                    Some(row) => Ok(self.with_dependents(vec![row]).await?.pop()),
                    None => Ok(None),
                }
            }

            async fn list_jobs(&self, query: &JobQuery) -> Result<(Vec<StoredJob>, u64), StoreError> {
                fn filters(builder: &mut sqlx::QueryBuilder<'_, $db>, query: &JobQuery) {
                    builder.push(" WHERE 1 = 1");
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
                    for (key, value) in &query.metadata {
                        builder.push(" AND ");
                        <$store>::push_metadata_filter(builder, key, value);
                    }
                }
                let mut count = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM jobs");
                filters(&mut count, query);
                let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;

                let mut select = sqlx::QueryBuilder::<$db>::new(format!("SELECT {JOB_COLUMNS} FROM jobs"));
                filters(&mut select, query);
                let order = if query.descending { "DESC" } else { "ASC" };
                select.push(format!(" ORDER BY {} {order}, id {order}", query.sort.column()));
                let limit = query.end.map_or(i64::MAX, |end| end.saturating_sub(query.start) as i64);
                select.push(" LIMIT ").push_bind(limit);
                select.push(" OFFSET ").push_bind(query.start as i64);
                let rows = select.build_query_as().fetch_all(&self.pool).await?;
                Ok((self.with_dependents(rows).await?, total as u64))
            }

            async fn delete_job(&self, name: &str) -> Result<Option<StoredJob>, StoreError> {
                let Some(job) = self.get_job(name).await? else {
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
                sqlx::query("DELETE FROM jobs WHERE id = $1").bind(job.id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(Some(job))
            }

            async fn set_disabled(
                &self,
                name: &str,
                disabled: bool,
                next_run_at: Option<DateTime<Utc>>,
            ) -> Result<Option<StoredJob>, StoreError> {
                let Some(mut job) = self.get_job(name).await? else {
                    return Ok(None);
                };
                job.spec.disabled = disabled;
                let json = serde_json::to_string(&job.spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query("UPDATE jobs SET spec = $1, disabled = $2, next_run_at = $3, updated_at = $4 WHERE id = $5")
                    .bind(json)
                    .bind(disabled)
                    .bind(next_run_at.map(to_millis))
                    .bind(to_millis(Utc::now()))
                    .bind(job.id)
                    .execute(&self.pool)
                    .await?;
                self.get_job(name).await
            }

            async fn claim_due(
                &self,
                node: &str,
                until: DateTime<Utc>,
                limit: usize,
                plan: PlanNext<'_>,
            ) -> Result<Vec<ClaimedTick>, StoreError> {
                let mut tx = <$store>::begin_write(&self.pool).await?;
                let rows: Vec<(i64, String, i64)> = sqlx::query_as(&format!(
                    "SELECT id, spec, next_run_at FROM jobs \
                     WHERE next_run_at IS NOT NULL AND next_run_at <= $1 \
                     ORDER BY next_run_at LIMIT $2{}",
                    <$store>::CLAIM_LOCK
                ))
                .bind(to_millis(until))
                .bind(limit as i64)
                .fetch_all(&mut *tx)
                .await?;
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
                Self::store_next_runs(&mut tx, &next).await?;

                let runnable: Vec<&DueJob> = due.iter().filter(|job| !busy.contains(&job.id)).collect();
                let mut executions = std::collections::HashMap::new();
                for chunk in runnable.chunks($crate::store::sql::BULK_ROWS) {
                    let mut insert = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO executions (job_id, job_name, group_id, attempt, scheduled_at, \
                         state, node) ",
                    );
                    insert.push_values(chunk, |mut row, job| {
                        row.push_bind(job.id)
                            .push_bind(job.spec.name.clone())
                            .push_bind($crate::store::sql::tick_group(job.scheduled_at))
                            .push_bind(1_i32)
                            .push_bind(to_millis(job.scheduled_at))
                            .push_bind("scheduled")
                            .push_bind(node.to_string());
                    });
                    insert.push(" RETURNING id, job_id");
                    let ids: Vec<(i64, i64)> = insert.build_query_as().fetch_all(&mut *tx).await?;
                    executions.extend(ids.into_iter().map(|(id, job_id)| (job_id, id)));
                }
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

            async fn release_ticks(&self, ticks: &[ReleasedTick]) -> Result<(), StoreError> {
                if ticks.is_empty() {
                    return Ok(());
                }
                let mut earliest = std::collections::BTreeMap::<i64, i64>::new();
                for tick in ticks {
                    let at = to_millis(tick.scheduled_at);
                    earliest.entry(tick.job_id).and_modify(|e| *e = (*e).min(at)).or_insert(at);
                }
                let mut tx = <$store>::begin_write(&self.pool).await?;
                for chunk in ticks.chunks($crate::store::sql::BULK_ROWS) {
                    let mut delete = sqlx::QueryBuilder::<$db>::new(
                        "DELETE FROM executions WHERE state = 'scheduled' AND id IN (",
                    );
                    let mut ids = delete.separated(", ");
                    for tick in chunk {
                        ids.push_bind(tick.execution_id);
                    }
                    delete.push(")");
                    delete.build().execute(&mut *tx).await?;
                }
                let earliest: Vec<(i64, i64)> = earliest.into_iter().collect();
                for chunk in earliest.chunks($crate::store::sql::BULK_ROWS) {
                    let mut update = sqlx::QueryBuilder::<$db>::new("WITH v (vid, vat) AS (");
                    update.push_values(chunk, |mut row, (id, at)| {
                        row.push_bind(*id).push_bind(*at);
                    });
                    update.push(
                        ") UPDATE jobs SET next_run_at = v.vat FROM v WHERE jobs.id = v.vid \
                         AND jobs.disabled = FALSE \
                         AND (jobs.next_run_at IS NULL OR jobs.next_run_at > v.vat)",
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
                    let rows: Vec<(i64, String, i64)> = sqlx::query_as(&format!(
                        "SELECT id, spec, next_run_at FROM jobs \
                         WHERE next_run_at IS NOT NULL AND next_run_at < $1 AND id > $2 \
                         ORDER BY id LIMIT $3{}",
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
                    Self::store_next_runs(&mut tx, &next).await?;
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
                let row: $crate::store::sql::ExecutionRow = sqlx::query_as(&format!(
                    "INSERT INTO executions (job_id, job_name, group_id, attempt, scheduled_at, \
                     started_at, state, node) SELECT id, name, $1, $2, $3, $4, $5, $6 \
                     FROM jobs WHERE name = $7 RETURNING {EXECUTION_COLUMNS}"
                ))
                .bind(group)
                .bind(new.attempt as i32)
                .bind(to_millis(new.scheduled_at))
                .bind(started_at)
                .bind(new.state.as_str())
                .bind(&new.node)
                .bind(&new.job_name)
                .fetch_one(&self.pool)
                .await?;
                Ok(row.into())
            }

            async fn has_open_execution(&self, job_id: i64) -> Result<bool, StoreError> {
                let open: Option<(i32,)> = sqlx::query_as(
                    "SELECT 1 FROM executions WHERE job_id = $1 \
                     AND state IN ('scheduled', 'running') LIMIT 1",
                )
                .bind(job_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(open.is_some())
            }

            async fn mark_running(&self, started: &[(i64, DateTime<Utc>)]) -> Result<(), StoreError> {
                for chunk in started.chunks($crate::store::sql::BULK_ROWS) {
                    let mut update = sqlx::QueryBuilder::<$db>::new("WITH v (vid, vat) AS (");
                    update.push_values(chunk, |mut row, (id, at)| {
                        row.push_bind(*id).push_bind(to_millis(*at));
                    });
                    update.push(
                        ") UPDATE executions SET state = 'running', started_at = v.vat FROM v \
                         WHERE executions.id = v.vid AND executions.state = 'scheduled'",
                    );
                    update.build().execute(&self.pool).await?;
                }
                Ok(())
            }

            async fn finish_executions(&self, finished: &[FinishedExecution]) -> Result<(), StoreError> {
                if finished.is_empty() {
                    return Ok(());
                }
                let mut tx = <$store>::begin_write(&self.pool).await?;
                for chunk in finished.chunks($crate::store::sql::BULK_ROWS) {
                    let mut update = sqlx::QueryBuilder::<$db>::new(
                        "WITH v (vid, vstate, vstart, vend, vout, vtrunc, vreason) AS (",
                    );
                    update.push_values(chunk, |mut row, done| {
                        row.push_bind(done.id)
                            .push_bind(if done.success { "succeeded" } else { "failed" })
                            .push_bind(to_millis(done.started_at))
                            .push_bind(to_millis(done.finished_at))
                            .push_bind(done.output.clone())
                            .push_bind(done.output_truncated)
                            .push_bind(done.reason.clone());
                    });
                    update.push(
                        ") UPDATE executions SET state = v.vstate, started_at = v.vstart, \
                         finished_at = v.vend, output = v.vout, output_truncated = v.vtrunc, \
                         reason = v.vreason FROM v WHERE executions.id = v.vid",
                    );
                    update.build().execute(&mut *tx).await?;
                }
                let totals = $crate::store::sql::JobTotals::of(finished);
                for chunk in totals.chunks($crate::store::sql::BULK_ROWS) {
                    let mut update = sqlx::QueryBuilder::<$db>::new(
                        "WITH v (vid, vok, verr, vlast_ok, vlast_err, vstatus) AS (",
                    );
                    update.push_values(chunk, |mut row, total| {
                        row.push_bind(total.job_id)
                            .push_bind(total.succeeded)
                            .push_bind(total.failed)
                            .push_bind(total.last_success)
                            .push_bind(total.last_error)
                            .push_bind(total.status);
                    });
                    update.push(
                        ") UPDATE jobs SET success_count = success_count + v.vok, \
                         error_count = error_count + v.verr, \
                         last_success = COALESCE(v.vlast_ok, last_success), \
                         last_error = COALESCE(v.vlast_err, last_error), status = v.vstatus \
                         FROM v WHERE jobs.id = v.vid",
                    );
                    update.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn delete_executions(&self, name: &str) -> Result<Option<StoredJob>, StoreError> {
                let mut tx = <$store>::begin_write(&self.pool).await?;
                sqlx::query(
                    "DELETE FROM executions WHERE job_id = (SELECT id FROM jobs WHERE name = $1) \
                     AND state IN ('succeeded', 'failed')",
                )
                .bind(name)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE jobs SET success_count = 0, error_count = 0, last_success = NULL, \
                     last_error = NULL, status = '' WHERE name = $1",
                )
                .bind(name)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.get_job(name).await
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
                job_name: &str,
                start: u64,
                end: Option<u64>,
            ) -> Result<(Vec<ExecutionRecord>, u64), StoreError> {
                let (total,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM executions WHERE job_id = (SELECT id FROM jobs WHERE name = $1)",
                )
                .bind(job_name)
                .fetch_one(&self.pool)
                .await?;
                let limit = end.map_or(i64::MAX, |end| end.saturating_sub(start) as i64);
                let rows: Vec<$crate::store::sql::ExecutionRow> = sqlx::query_as(&format!(
                    "SELECT {EXECUTION_COLUMNS} FROM executions \
                     WHERE job_id = (SELECT id FROM jobs WHERE name = $1) \
                     ORDER BY id DESC LIMIT $2 OFFSET $3"
                ))
                .bind(job_name)
                .bind(limit)
                .bind(start as i64)
                .fetch_all(&self.pool)
                .await?;
                Ok((rows.into_iter().map(Into::into).collect(), total as u64))
            }

            async fn get_execution(&self, job_name: &str, id: i64) -> Result<Option<ExecutionRecord>, StoreError> {
                let row: Option<$crate::store::sql::ExecutionRow> = sqlx::query_as(&format!(
                    "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1 AND job_name = $2"
                ))
                .bind(id)
                .bind(job_name)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn close_unfinished(&self, node: &str, reason: &str) -> Result<u64, StoreError> {
                let open: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT id, job_id, started_at FROM executions \
                     WHERE node = $1 AND state IN ('scheduled', 'running')",
                )
                .bind(node)
                .fetch_all(&self.pool)
                .await?;
                let now = Utc::now();
                let finished: Vec<FinishedExecution> = open
                    .iter()
                    .map(|(id, job_id, started_at)| FinishedExecution {
                        id: *id,
                        job_id: *job_id,
                        started_at: started_at.map_or(now, from_millis),
                        finished_at: now,
                        success: false,
                        output: Vec::new(),
                        output_truncated: false,
                        reason: reason.to_string(),
                        job_status: "failed",
                    })
                    .collect();
                self.finish_executions(&finished).await?;
                Ok(finished.len() as u64)
            }
        }
    };
}

pub(super) use sql_store;
