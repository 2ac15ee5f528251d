//! [`ExecutionStore`] on SQL: the claim of due ticks (a batch per transaction, the
//! jobs' state rows locked), ticks called off or handed back, the recorder's batched
//! writes, retention, and the reads of the API.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, QueryBuilder, Type};

use super::rows::{self, EXECUTION_COLUMNS};
use super::{Column, Dialect, RowsAffected, SqlStore};
use crate::store::{
    AfterRunWrite, ClaimShare, ClaimedTick, DueJob, ExecutionRecord, ExecutionSort, ExecutionState,
    ExecutionStore, FinishedExecution, JobStore, NewExecution, PlanNext, ReleasedTick, StoreError,
    StoredJob, TenantId, from_millis, to_millis,
};

#[async_trait::async_trait]
impl<DB: Dialect> ExecutionStore for SqlStore<DB>
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
    async fn claim_due(
        &self,
        node: &str,
        until: DateTime<Utc>,
        limit: usize,
        share: Option<ClaimShare>,
        plan: PlanNext<'_>,
    ) -> Result<Vec<ClaimedTick>, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let query = format!(
            "SELECT {} FROM {} \
             WHERE next_run_at IS NOT NULL AND next_run_at <= $1{} \
             ORDER BY next_run_at LIMIT $2{}",
            rows::DUE_COLUMNS,
            rows::JOBS_FROM,
            if share.is_some() {
                " AND (job_state.job_id % $3 = $4 OR next_run_at <= $5)"
            } else {
                ""
            },
            DB::CLAIM_LOCK
        );
        let mut select = sqlx::query_as(&query)
            .bind(to_millis(until))
            .bind(limit as i64);
        if let Some(share) = share {
            select = select
                .bind(i64::from(share.of.max(1)))
                .bind(i64::from(share.index))
                .bind(to_millis(share.anyones_after));
        }
        let rows: Vec<rows::DueRow> = select.fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let due = rows::due_jobs(rows)?;
        let forbidding: Vec<i64> = due
            .iter()
            .filter(|job| job.spec.concurrency == crate::jobs::Concurrency::Forbid)
            .map(|job| job.id)
            .collect();
        let busy = Self::jobs_with_open_executions(&mut tx, &forbidding).await?;
        let next: Vec<(i64, Option<i64>)> = due
            .iter()
            .map(|job| (job.id, plan(job).map(to_millis)))
            .collect();
        DB::store_next_runs(&mut tx, &next).await?;

        let runnable: Vec<&DueJob> = due.iter().filter(|job| !busy.contains(&job.id)).collect();
        let executions: HashMap<i64, i64> = DB::insert_tick_executions(&mut tx, node, &runnable)
            .await?
            .into_iter()
            .map(|(id, job_id)| (job_id, id))
            .collect();
        tx.commit().await?;
        Ok(due
            .into_iter()
            .map(|job| ClaimedTick {
                execution: executions.get(&job.id).copied(),
                group: rows::tick_group(job.scheduled_at),
                job,
            })
            .collect())
    }

    async fn earliest_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        // The claim's index (`job_state_next`) gives it at once.
        let (earliest,): (Option<i64>,) = sqlx::query_as("SELECT MIN(next_run_at) FROM job_state")
            .fetch_one(&self.pool)
            .await?;
        Ok(earliest.map(from_millis))
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
        let mut tx = DB::begin_write(&self.pool).await?;
        let ticks = Self::keep_overtaken(&mut tx, ticks).await?;
        // Only the ticks whose execution this call deletes move their job back, so
        // handing a tick back twice is harmless.
        let mut earliest = BTreeMap::<i64, i64>::new();
        for chunk in ticks.chunks(rows::BULK_ROWS) {
            let mut delete = QueryBuilder::<DB>::new(
                "DELETE FROM executions WHERE state = 'scheduled' AND id IN (",
            );
            let mut ids = delete.separated(", ");
            for tick in chunk {
                ids.push_bind(tick.execution_id);
            }
            delete.push(") RETURNING job_id, scheduled_at");
            let deleted: Vec<(i64, i64)> = DB::build_as(&mut delete).fetch_all(&mut *tx).await?;
            for (job_id, at) in deleted {
                earliest
                    .entry(job_id)
                    .and_modify(|e| *e = (*e).min(at))
                    .or_insert(at);
            }
        }
        let earliest: Vec<(i64, i64)> = earliest.into_iter().collect();
        for chunk in earliest.chunks(rows::BULK_ROWS) {
            let mut update = QueryBuilder::<DB>::new("WITH v (vid, vat) AS (");
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
            DB::build(&mut update).execute(&mut *tx).await?;
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
            let mut tx = DB::begin_write(&self.pool).await?;
            let rows: Vec<rows::DueRow> = sqlx::query_as(&format!(
                "SELECT {} FROM {} \
                 WHERE next_run_at IS NOT NULL AND next_run_at < $1 AND id > $2 \
                 ORDER BY id LIMIT $3{}",
                rows::DUE_COLUMNS,
                rows::JOBS_FROM,
                DB::CLAIM_LOCK
            ))
            .bind(to_millis(before))
            .bind(after_id)
            .bind(rows::BULK_ROWS as i64)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last() else { break };
            after_id = last.0;
            let due = rows::due_jobs(rows)?;
            let next: Vec<(i64, Option<i64>)> = due
                .iter()
                .map(|job| (job.id, plan(job).map(to_millis)))
                .collect();
            DB::store_next_runs(&mut tx, &next).await?;
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
        let mut tx = DB::begin_write(&self.pool).await?;
        if new.exclusive {
            sqlx::query(&format!(
                "SELECT job_id FROM job_state \
                 WHERE job_id = (SELECT id FROM jobs WHERE tenant_id = $1 AND name = $2){}",
                DB::ROW_LOCK
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
        let row: rows::ExecutionRow = sqlx::query_as(&format!(
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
        DB::write_running(&self.pool, started).await
    }

    async fn finish_executions(&self, finished: &[FinishedExecution]) -> Result<(), StoreError> {
        if finished.is_empty() {
            return Ok(());
        }
        let mut tx = DB::begin_write(&self.pool).await?;
        DB::write_finished(&mut tx, finished).await?;
        Self::add_totals(&mut tx, finished).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_after_run(&self, written: &[AfterRunWrite]) -> Result<(), StoreError> {
        if written.is_empty() {
            return Ok(());
        }
        // Rare (only jobs with processors or notifications), so a statement each.
        let mut tx = DB::begin_write(&self.pool).await?;
        for write in written {
            sqlx::query(
                "UPDATE executions SET after_run = $2, output = COALESCE($3, output) \
                 WHERE id = $1",
            )
            .bind(write.id)
            .bind(write.report.to_string())
            .bind(write.output.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn previous_outcome(&self, job_id: i64, group: i64) -> Result<Option<bool>, StoreError> {
        let last: Option<(String,)> = sqlx::query_as(
            "SELECT state FROM executions WHERE job_id = $1 AND group_id <> $2 \
             AND state IN ('succeeded', 'failed') ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(job_id)
        .bind(group)
        .fetch_optional(&self.pool)
        .await?;
        Ok(last.map(|(state,)| state == ExecutionState::Succeeded.as_str()))
    }

    async fn delete_executions(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<StoredJob>, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
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
            "UPDATE job_totals SET success_count = 0, error_count = 0, last_success = NULL, \
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
        let mut tx = DB::begin_write(&self.pool).await?;
        // One statement for many jobs: each job's oldest kept execution is found once
        // (`kept`), then every finished one below it is deleted; the `(job_id, id)` index
        // serves both. A statement per job made pruning 10,000 jobs 10,000 round trips,
        // each polled by the executions' workers, with the write lock held throughout.
        // (SQLite itself deletes about half as fast this way, through a list of ids, than
        // through a job's statement: less than the round trips cost.)
        for chunk in rows::ladder_chunks(job_ids) {
            let mut delete = QueryBuilder::<DB>::new("WITH pruned (job_id) AS (");
            delete.push_values(chunk, |mut row, job_id| {
                row.push_bind(*job_id);
            });
            delete.push(
                "), kept (job_id, oldest) AS MATERIALIZED (SELECT job_id, (SELECT id \
                 FROM executions WHERE executions.job_id = pruned.job_id \
                 ORDER BY id DESC LIMIT 1 OFFSET ",
            );
            delete.push_bind(keep - 1);
            delete.push(
                ") FROM pruned) DELETE FROM executions WHERE id IN (SELECT e.id FROM kept \
                 JOIN executions e ON e.job_id = kept.job_id AND e.id < kept.oldest \
                 WHERE e.state IN ('succeeded', 'failed'))",
            );
            deleted += DB::build(&mut delete)
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

    async fn list_executions_sorted(
        &self,
        tenant: TenantId,
        job_name: &str,
        sort: ExecutionSort,
        start: u64,
        end: Option<u64>,
    ) -> Result<(Vec<ExecutionRecord>, u64), StoreError> {
        let limit = end.map_or(i64::MAX, |end| end.saturating_sub(start) as i64);
        let column = sort.key.column();
        let direction = if sort.descending { "DESC" } else { "ASC" };
        let rows: Vec<rows::ExecutionRow> = sqlx::query_as(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions \
             WHERE job_id = (SELECT id FROM jobs WHERE tenant_id = $1 AND name = $2) \
             ORDER BY ({column} IS NULL), {column} {direction}, id {direction} \
             LIMIT $3 OFFSET $4"
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
        // Walks the executions newest first and stops at the page's end: the tenant is
        // checked per row through the jobs' primary key.
        let mut select = QueryBuilder::<DB>::new(format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE EXISTS \
             (SELECT 1 FROM jobs WHERE jobs.id = executions.job_id AND jobs.tenant_id = "
        ));
        select.push_bind(tenant).push(")");
        if let Some(state) = state {
            select.push(" AND state = ").push_bind(state.as_str());
        }
        // Literal numbers, not parameters, as the job list's (a generic plan does not
        // know the page is small).
        select.push(format!(
            " ORDER BY id DESC LIMIT {} OFFSET {}",
            end.saturating_sub(start).min(i64::MAX as u64),
            start.min(i64::MAX as u64)
        ));
        let rows: Vec<rows::ExecutionRow> = DB::build_as(&mut select).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn get_execution(
        &self,
        tenant: TenantId,
        job_name: &str,
        id: i64,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        let row: Option<rows::ExecutionRow> = sqlx::query_as(&format!(
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
        let mut tx = DB::begin_write(&self.pool).await?;
        let open = Self::open_executions(&mut tx, node, "('scheduled', 'running')").await?;
        let closed = Self::close_in(&mut tx, open, reason).await?;
        tx.commit().await?;
        Ok(closed.len() as u64)
    }
}
