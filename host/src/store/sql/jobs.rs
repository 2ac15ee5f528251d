//! [`JobStore`] on SQL: a job is a row in each of `jobs` (its definition), `job_state`
//! (its next tick) and `job_totals` (what its executions added up to), and a row per
//! metadata pair in `job_metadata`, written together; the list filters, sorts and pages
//! in the database, each through an index.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, QueryBuilder, Type};

use super::rows::{self, JOB_COLUMNS, JOBS_WITH_TOTALS_FROM};
use super::{Column, Dialect, SqlStore};
use crate::jobs::JobSpec;
use crate::store::{
    JobOverLimit, JobQuery, JobStore, NewJob, StoreError, StoredJob, TenantId, to_millis,
};

#[async_trait::async_trait]
impl<DB: Dialect> JobStore for SqlStore<DB>
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
    async fn put_job(
        &self,
        tenant: TenantId,
        spec: &JobSpec,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<StoredJob, StoreError> {
        self.put_jobs(tenant, &[NewJob::new(spec.clone(), next_run_at)?])
            .await?;
        let vanished = || StoreError::Corrupt(format!("job {} vanished after writing", spec.name));
        self.get_job(tenant, &spec.name).await?.ok_or_else(vanished)
    }

    async fn put_jobs_within(
        &self,
        tenant: TenantId,
        jobs: &[NewJob],
        max_jobs: Option<u64>,
    ) -> Result<Vec<JobOverLimit>, StoreError> {
        let now = to_millis(Utc::now());
        let mut tx = DB::begin_write(&self.pool).await?;
        let refused = match max_jobs {
            Some(max) => Self::jobs_past(&mut tx, tenant, jobs, max).await?,
            None => Vec::new(),
        };
        let refused_names: HashSet<&str> = refused
            .iter()
            .map(|over| jobs[over.index].spec.name.as_str())
            .collect();
        // One statement may not touch a row twice: keep each name's last definition.
        let last: HashMap<&str, usize> = jobs
            .iter()
            .enumerate()
            .map(|(i, job)| (job.spec.name.as_str(), i))
            .collect();
        let jobs: Vec<&NewJob> = jobs
            .iter()
            .enumerate()
            .filter(|(i, job)| {
                let name = job.spec.name.as_str();
                last[name] == *i && !refused_names.contains(name)
            })
            .map(|(_, job)| job)
            .collect();
        for chunk in jobs.chunks(rows::BULK_ROWS) {
            Self::write_job_rows(&mut tx, tenant, now, chunk).await?;
        }
        tx.commit().await?;
        Ok(refused)
    }

    async fn get_job(&self, tenant: TenantId, name: &str) -> Result<Option<StoredJob>, StoreError> {
        let row: Option<rows::JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM {JOBS_WITH_TOTALS_FROM} \
             WHERE jobs.tenant_id = $1 AND name = $2"
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
        let row: Option<rows::JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM {JOBS_WITH_TOTALS_FROM} WHERE jobs.id = $1"
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
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        Self::ids_of(&mut *connection, tenant, names).await
    }

    async fn count_jobs(&self, tenant: TenantId) -> Result<u64, StoreError> {
        let mut connection = self.pool.acquire().await?;
        Self::job_count(&mut *connection, tenant).await
    }

    async fn refresh_job_statistics(&self) -> Result<(), StoreError> {
        if let Some(refresh) = DB::REFRESH_JOB_STATISTICS {
            sqlx::query(refresh).execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn list_jobs(
        &self,
        tenant: TenantId,
        query: &JobQuery,
    ) -> Result<(Vec<StoredJob>, u64), StoreError> {
        let unfiltered = query.q.is_none()
            && query.status.is_none()
            && query.disabled.is_none()
            && query.metadata.is_empty()
            && query.executor.is_none();
        let total = if unfiltered {
            self.count_jobs(tenant).await?
        } else {
            let mut count =
                QueryBuilder::<DB>::new(format!("SELECT COUNT(*) FROM {}", query.sort.tables()));
            Self::push_job_filters(&mut count, tenant, query);
            let (total,): (i64,) = DB::build_as(&mut count).fetch_one(&self.pool).await?;
            total.max(0) as u64
        };

        // Paging is by offset (Dkron's `_start`/`_end`), and an offset costs a walk of
        // the index up to it: a page in the second half of the list is read from the end,
        // in the reverse order, and turned round, so the last page is as quick as the
        // first. Ties are broken by the row's id, so the reverse order is exact.
        let end = query.end.unwrap_or(u64::MAX).min(total);
        let start = query.start.min(end);
        let from_the_end = query.end.is_some() && start > total / 2;
        let (descending, offset) = if from_the_end {
            (!query.descending, total - end)
        } else {
            (query.descending, start)
        };
        let mut select =
            QueryBuilder::<DB>::new(format!("SELECT {JOB_COLUMNS} FROM {}", query.sort.tables()));
        Self::push_job_filters(&mut select, tenant, query);
        let order = if descending { "DESC" } else { "ASC" };
        select.push(format!(
            " ORDER BY {} {order}{}, {} {order}",
            query.sort.column(),
            query.sort.nulls(descending),
            query.sort.tiebreak()
        ));
        let limit = match query.end {
            Some(_) if from_the_end => (end - start) as i64,
            Some(asked) => asked.saturating_sub(query.start).min(i64::MAX as u64) as i64,
            None => i64::MAX,
        };
        // Literal numbers, not parameters: a generic plan of a prepared statement
        // does not know the page is small and may sort every row.
        select.push(format!(
            " LIMIT {limit} OFFSET {}",
            offset.min(i64::MAX as u64)
        ));
        let mut rows: Vec<rows::JobRow> = DB::build_as(&mut select).fetch_all(&self.pool).await?;
        if from_the_end {
            rows.reverse();
        }
        Ok((self.with_dependents(rows).await?, total))
    }

    async fn delete_job(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<StoredJob>, StoreError> {
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
        sqlx::query("DELETE FROM executions WHERE job_id = $1")
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
        for table in ["job_state", "job_totals", "job_metadata"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE job_id = $1"))
                .bind(job.id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM jobs WHERE id = $1")
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
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
        let json = rows::stored_spec(&job.spec)?;
        let mut tx = DB::begin_write(&self.pool).await?;
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
}
