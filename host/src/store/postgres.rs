//! PostgreSQL: for production, and for several nodes sharing one database.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::query::{Query, QueryAs};
use sqlx::{ConnectOptions, FromRow, PgPool, Pool, Postgres, QueryBuilder, Transaction};

use super::sql::rows::{JobTotals, finished_state, tick_group};
use super::sql::{Dialect, RowsAffected, SqlStore};
use super::{DueJob, FinishedExecution, NodeNameGuard, StoreError, to_millis};
use crate::telemetry::sqlx_warnings;

/// Connects to the PostgreSQL database at `url` and migrates it.
pub(super) async fn connect(url: &str) -> anyhow::Result<SqlStore<Postgres>> {
    // Every statement is planned for its own values: a generic plan of a prepared
    // statement cannot see that a page is small or a filter selective, and may scan a
    // million rows (seen with the job list's dependents lookup before statistics).
    let options = PgConnectOptions::from_str(url)?
        .options([("plan_cache_mode", "force_custom_plan")])
        .log_slow_statements(log::LevelFilter::Warn, sqlx_warnings::SLOW_STATEMENT);
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_slow_threshold(sqlx_warnings::SLOW_ACQUIRE)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(SqlStore { pool })
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

impl Dialect for Postgres {
    /// Whether the process of the member row's node is gone, as an SQL condition over
    /// `members`: its session held the advisory lock of its name, so a lock this
    /// transaction can take (and drops at its end) means the session ended.
    const PROCESS_GONE: &'static str =
        "pg_try_advisory_xact_lock(hashtext('sandcron-node:' || name))";

    /// Holds the advisory lock of the node name `name` on a connection of its own (made
    /// with the pool's options), for as long as the returned guard lives. A lock a
    /// previous process of the node held is free once PostgreSQL notices that its session
    /// ended, or while a survivor checks it: tried for a few seconds.
    async fn hold_name(pool: &PgPool, name: &str) -> Result<NodeNameGuard, StoreError> {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect_with(&pool.connect_options()).await?;
        for _ in 0..20 {
            let (held,): (bool,) =
                sqlx::query_as("SELECT pg_try_advisory_lock(hashtext('sandcron-node:' || $1))")
                    .bind(name)
                    .fetch_one(&mut connection)
                    .await?;
            if held {
                return Ok(Box::new(connection));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        Err(StoreError::Conflict(format!(
            "node name {name:?} is used by another running node (its session holds the \
             name's advisory lock); give each node its own --node"
        )))
    }

    /// Appended to the claim's `SELECT`: how due rows are locked.
    const CLAIM_LOCK: &'static str = " FOR UPDATE OF job_state SKIP LOCKED";

    /// Appended to a `SELECT` of rows that must not change until the transaction ends.
    const SHARE_LOCK: &'static str = " FOR SHARE";

    /// Appended to a `SELECT` of one row that a transaction must hold until it ends.
    const ROW_LOCK: &'static str = " FOR UPDATE";

    /// The `executor` of a job's spec, as an SQL expression over `jobs`.
    const EXECUTOR_OF_SPEC: &'static str = "(spec::jsonb ->> 'executor')";

    /// Nothing: PostgreSQL chooses by its statistics.
    const NOT_BY_INDEX: &'static str = "";

    /// Until autovacuum's next analyze (up to a minute after a large write), the planner
    /// judges the tables by what they held before: right after a restore of a million
    /// jobs into a new database, the claim's `has_dependents` became a sequential scan of
    /// every job, once per claim (docs/benchmarks.md, "Every row in one command").
    const REFRESH_JOB_STATISTICS: Option<&'static str> =
        Some("ANALYZE jobs, job_state, job_totals, job_metadata");

    /// A transaction that writes.
    async fn begin_write(
        pool: &Pool<Postgres>,
    ) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }

    /// Stores each job's next tick: one statement over arrays, whatever the count.
    async fn store_next_runs(
        tx: &mut Transaction<'_, Postgres>,
        next: &[(i64, Option<i64>)],
    ) -> Result<(), StoreError> {
        let (ids, nexts): (Vec<i64>, Vec<Option<i64>>) = next.iter().copied().unzip();
        sqlx::query(
            "UPDATE job_state SET next_run_at = v.next \
             FROM UNNEST($1::int8[], $2::int8[]) AS v (id, next) WHERE job_state.job_id = v.id",
        )
        .bind(ids)
        .bind(nexts)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Writes the executions of claimed ticks; returns `(id, job_id)` pairs.
    async fn insert_tick_executions(
        tx: &mut Transaction<'_, Postgres>,
        node: &str,
        jobs: &[&DueJob],
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let ids: Vec<i64> = jobs.iter().map(|job| job.id).collect();
        let names: Vec<&str> = jobs.iter().map(|job| job.spec.name.as_str()).collect();
        let groups: Vec<i64> = jobs
            .iter()
            .map(|job| tick_group(job.scheduled_at))
            .collect();
        let ticks: Vec<i64> = jobs.iter().map(|job| to_millis(job.scheduled_at)).collect();
        Ok(sqlx::query_as(
            "INSERT INTO executions (job_id, job_name, group_id, attempt, scheduled_at, state, \
             node) SELECT v.job_id, v.name, v.grp, 1, v.tick, 'scheduled', $5 \
             FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[]) AS v (job_id, name, grp, tick) \
             RETURNING id, job_id",
        )
        .bind(ids)
        .bind(names)
        .bind(groups)
        .bind(ticks)
        .bind(node)
        .fetch_all(&mut **tx)
        .await?)
    }

    /// Marks executions as running.
    async fn write_running(
        pool: &PgPool,
        started: &[(i64, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        let ids: Vec<i64> = started.iter().map(|(id, _)| *id).collect();
        let ats: Vec<i64> = started.iter().map(|(_, at)| to_millis(*at)).collect();
        sqlx::query(
            "UPDATE executions SET state = 'running', started_at = v.at \
             FROM UNNEST($1::int8[], $2::int8[]) AS v (id, at) \
             WHERE executions.id = v.id AND executions.state = 'scheduled'",
        )
        .bind(ids)
        .bind(ats)
        .execute(pool)
        .await?;
        Ok(())
    }

    /// Completes executions.
    async fn write_finished(
        tx: &mut Transaction<'_, Postgres>,
        finished: &[FinishedExecution],
    ) -> Result<(), StoreError> {
        let ids: Vec<i64> = finished.iter().map(|done| done.id).collect();
        let states: Vec<&str> = finished.iter().map(finished_state).collect();
        let starts: Vec<i64> = finished.iter().map(|d| to_millis(d.started_at)).collect();
        let ends: Vec<i64> = finished.iter().map(|d| to_millis(d.finished_at)).collect();
        let outputs: Vec<&[u8]> = finished.iter().map(|d| d.output.as_slice()).collect();
        let truncated: Vec<bool> = finished.iter().map(|d| d.output_truncated).collect();
        let reasons: Vec<&str> = finished.iter().map(|d| d.reason.as_str()).collect();
        sqlx::query(
            "UPDATE executions SET state = v.state, started_at = v.started, \
             finished_at = v.finished, output = v.output, output_truncated = v.truncated, \
             reason = v.reason \
             FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::bytea[], \
             $6::bool[], $7::text[]) AS v (id, state, started, finished, output, truncated, reason) \
             WHERE executions.id = v.id",
        )
        .bind(ids)
        .bind(states)
        .bind(starts)
        .bind(ends)
        .bind(outputs)
        .bind(truncated)
        .bind(reasons)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Adds finished executions to their jobs' counters and status.
    async fn add_job_totals(
        tx: &mut Transaction<'_, Postgres>,
        totals: &[JobTotals],
        update: &'static str,
    ) -> Result<(), StoreError> {
        let ids: Vec<i64> = totals.iter().map(|t| t.job_id).collect();
        let ok: Vec<i64> = totals.iter().map(|t| t.succeeded).collect();
        let err: Vec<i64> = totals.iter().map(|t| t.failed).collect();
        let last_ok: Vec<Option<i64>> = totals.iter().map(|t| t.last_success).collect();
        let last_err: Vec<Option<i64>> = totals.iter().map(|t| t.last_error).collect();
        let status: Vec<&str> = totals.iter().map(|t| t.status).collect();
        sqlx::query(&format!(
            "WITH v (vid, vok, verr, vlast_ok, vlast_err, vstatus) AS (SELECT * FROM \
             UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::text[])) \
             {update}"
        ))
        .bind(ids)
        .bind(ok)
        .bind(err)
        .bind(last_ok)
        .bind(last_err)
        .bind(status)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    fn build<'q, 'a: 'q>(
        builder: &'q mut QueryBuilder<'a, Postgres>,
    ) -> Query<'q, Postgres, Self::Arguments<'q>> {
        builder.build()
    }

    fn build_as<'q, 'a: 'q, T: for<'r> FromRow<'r, Self::Row>>(
        builder: &'q mut QueryBuilder<'a, Postgres>,
    ) -> QueryAs<'q, Postgres, T, Self::Arguments<'q>> {
        builder.build_query_as()
    }

    /// pg_trgm's GIN indexes on `name` and `displayname` answer `ILIKE '%q%'`.
    fn push_search_filter(builder: &mut QueryBuilder<'_, Postgres>, q: &str) {
        let pattern = format!("%{}%", super::escape_like(q));
        builder
            .push("SELECT id FROM jobs WHERE name ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR displayname ILIKE ")
            .push_bind(pattern);
    }
}
