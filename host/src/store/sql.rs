//! The SQL both backends share: row types, and [`sql_store!`], which implements
//! [`Store`](super::Store) for a backend's store type. The SQL text uses `$N` placeholders,
//! bound by number on SQLite and PostgreSQL alike; a backend supplies only
//! `push_metadata_filter` (JSON access differs) and its pool.

use super::{ExecutionRecord, ExecutionState, StoreError, StoredJob, from_millis};
use crate::jobs::JobSpec;

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
        let spec: JobSpec = serde_json::from_str(&self.spec)
            .map_err(|e| StoreError::Corrupt(format!("job {}: {e}", self.id)))?;
        Ok(StoredJob {
            id: self.id,
            spec,
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

/// The job status after an execution of `group` ended: Dkron's rule over the group's
/// finished executions.
pub(super) fn group_status(succeeded: i64, failed: i64) -> &'static str {
    match (succeeded > 0, failed > 0) {
        (true, true) => "partially_failed",
        (false, true) => "failed",
        _ => "success",
    }
}

/// Implements `Store` for `$store`, whose field `pool` is a `sqlx::Pool<$db>` and which
/// has `fn push_metadata_filter(&mut QueryBuilder<$db>, &str, &str)`.
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

            async fn start_execution(&self, new: &NewExecution) -> Result<ExecutionRecord, StoreError> {
                let now = Utc::now();
                let group = new
                    .group
                    .unwrap_or_else(|| now.timestamp_nanos_opt().unwrap_or_default());
                let row: $crate::store::sql::ExecutionRow = sqlx::query_as(&format!(
                    "INSERT INTO executions (job_id, job_name, group_id, attempt, scheduled_at, \
                     started_at, state, node) SELECT id, name, $1, $2, $3, $4, 'running', $5 \
                     FROM jobs WHERE name = $6 RETURNING {EXECUTION_COLUMNS}"
                ))
                .bind(group)
                .bind(new.attempt as i32)
                .bind(to_millis(new.scheduled_at))
                .bind(to_millis(now))
                .bind(&new.node)
                .bind(&new.job_name)
                .fetch_one(&self.pool)
                .await?;
                Ok(row.into())
            }

            async fn finish_executions(&self, finished: &[FinishedExecution]) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                for done in finished {
                    let state = if done.success { "succeeded" } else { "failed" };
                    let row: Option<(i64, i64)> = sqlx::query_as(
                        "UPDATE executions SET state = $1, started_at = $2, finished_at = $3, \
                         output = $4, output_truncated = $5, reason = $6 WHERE id = $7 \
                         RETURNING job_id, group_id",
                    )
                    .bind(state)
                    .bind(to_millis(done.started_at))
                    .bind(to_millis(done.finished_at))
                    .bind(&done.output)
                    .bind(done.output_truncated)
                    .bind(&done.reason)
                    .bind(done.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((job_id, group)) = row else { continue };
                    let (succeeded, failed): (i64, i64) = sqlx::query_as(
                        "SELECT COALESCE(SUM(CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END), 0), \
                         COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) \
                         FROM executions WHERE group_id = $1 AND job_id = $2",
                    )
                    .bind(group)
                    .bind(job_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    let counters = if done.success {
                        "success_count = success_count + 1, last_success = $1"
                    } else {
                        "error_count = error_count + 1, last_error = $1"
                    };
                    sqlx::query(&format!("UPDATE jobs SET {counters}, status = $2 WHERE id = $3"))
                        .bind(to_millis(done.finished_at))
                        .bind($crate::store::sql::group_status(succeeded, failed))
                        .bind(job_id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
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
                let open: Vec<(i64, Option<i64>)> = sqlx::query_as(
                    "SELECT id, started_at FROM executions \
                     WHERE node = $1 AND state IN ('scheduled', 'running')",
                )
                .bind(node)
                .fetch_all(&self.pool)
                .await?;
                let now = Utc::now();
                let finished: Vec<FinishedExecution> = open
                    .iter()
                    .map(|(id, started_at)| FinishedExecution {
                        id: *id,
                        started_at: started_at.map_or(now, from_millis),
                        finished_at: now,
                        success: false,
                        output: Vec::new(),
                        output_truncated: false,
                        reason: reason.to_string(),
                    })
                    .collect();
                self.finish_executions(&finished).await?;
                Ok(finished.len() as u64)
            }
        }
    };
}

pub(super) use sql_store;
