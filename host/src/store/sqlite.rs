//! The embedded default: SQLite in one file, in WAL mode.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::query::{Query, QueryAs};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, FromRow, Pool, QueryBuilder, Sqlite, Transaction};

use super::sql::rows::{JobTotals, finished_state, ladder_chunks, tick_group};
use super::sql::{Dialect, RowsAffected, SqlStore};
use super::{DueJob, FinishedExecution, NodeNameGuard, StoreError, to_millis};
use crate::telemetry::sqlx_warnings;

/// Opens (creating when missing) the SQLite database at `url` and migrates it.
pub(super) async fn connect(url: &str) -> anyhow::Result<SqlStore<Sqlite>> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(false)
        .log_slow_statements(log::LevelFilter::Warn, sqlx_warnings::SLOW_STATEMENT);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_slow_threshold(sqlx_warnings::SLOW_ACQUIRE)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(SqlStore { pool })
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl Dialect for Sqlite {
    /// Whether the process of the member row's node is gone: SQLite cannot tell, so only
    /// the heartbeat counts (one node per SQLite file anyway).
    const PROCESS_GONE: &'static str = "FALSE";

    /// A SQLite file serves one node: the name needs no guard.
    async fn hold_name(_pool: &Pool<Sqlite>, _name: &str) -> Result<NodeNameGuard, StoreError> {
        Ok(Box::new(()))
    }

    /// Appended to the claim's `SELECT`: how due rows are locked.
    const CLAIM_LOCK: &'static str = "";

    /// Appended to a `SELECT` of rows that must not change until the transaction ends.
    const SHARE_LOCK: &'static str = "";

    /// Appended to a `SELECT` of one row that a transaction must hold until it ends:
    /// nothing, as a write transaction (`BEGIN IMMEDIATE`) already excludes every other.
    const ROW_LOCK: &'static str = "";

    /// The `executor` of a job's spec, as an SQL expression over `jobs`.
    const EXECUTOR_OF_SPEC: &'static str = "json_extract(spec, '$.executor')";

    /// SQLite's unary `+`: the column's indexes are not considered.
    const NOT_BY_INDEX: &'static str = "+";

    /// None: SQLite keeps statistics only once `ANALYZE` has run, and its plans here were
    /// chosen without them.
    const REFRESH_JOB_STATISTICS: Option<&'static str> = None;

    /// A write transaction excludes every other (`BEGIN IMMEDIATE`), so that it never fails
    /// to upgrade a read lock half-way.
    async fn begin_write(
        pool: &Pool<Sqlite>,
    ) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Stores each job's next tick: a `VALUES` list per thousand jobs (see [`ladder_chunks`]).
    async fn store_next_runs(
        tx: &mut Transaction<'_, Sqlite>,
        next: &[(i64, Option<i64>)],
    ) -> Result<(), StoreError> {
        for chunk in ladder_chunks(next) {
            let mut update = QueryBuilder::<Sqlite>::new("WITH v (vid, vnext) AS (");
            update.push_values(chunk, |mut row, (id, next)| {
                row.push_bind(*id).push_bind(*next);
            });
            update.push(
                ") UPDATE job_state SET next_run_at = v.vnext FROM v WHERE job_state.job_id = v.vid",
            );
            update.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Writes the executions of claimed ticks; returns `(id, job_id)` pairs.
    async fn insert_tick_executions(
        tx: &mut Transaction<'_, Sqlite>,
        node: &str,
        jobs: &[&DueJob],
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut ids = Vec::with_capacity(jobs.len());
        for chunk in ladder_chunks(jobs) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO executions (job_id, job_name, group_id, attempt, scheduled_at, \
                 state, node) ",
            );
            insert.push_values(chunk, |mut row, job| {
                row.push_bind(job.id)
                    .push_bind(job.spec.name.clone())
                    .push_bind(tick_group(job.scheduled_at))
                    .push_bind(1_i32)
                    .push_bind(to_millis(job.scheduled_at))
                    .push_bind("scheduled")
                    .push_bind(node.to_string());
            });
            insert.push(" RETURNING id, job_id");
            ids.extend(
                insert
                    .build_query_as::<(i64, i64)>()
                    .fetch_all(&mut **tx)
                    .await?,
            );
        }
        Ok(ids)
    }

    /// Marks executions as running.
    async fn write_running(
        pool: &Pool<Sqlite>,
        started: &[(i64, DateTime<Utc>)],
    ) -> Result<(), StoreError> {
        for chunk in ladder_chunks(started) {
            let mut update = QueryBuilder::<Sqlite>::new("WITH v (vid, vat) AS (");
            update.push_values(chunk, |mut row, (id, at)| {
                row.push_bind(*id).push_bind(to_millis(*at));
            });
            update.push(
                ") UPDATE executions SET state = 'running', started_at = v.vat FROM v \
                 WHERE executions.id = v.vid AND executions.state = 'scheduled'",
            );
            update.build().execute(pool).await?;
        }
        Ok(())
    }

    /// Completes executions.
    async fn write_finished(
        tx: &mut Transaction<'_, Sqlite>,
        finished: &[FinishedExecution],
    ) -> Result<(), StoreError> {
        for chunk in ladder_chunks(finished) {
            let mut update = QueryBuilder::<Sqlite>::new(
                "WITH v (vid, vstate, vstart, vend, vout, vtrunc, vreason) AS (",
            );
            update.push_values(chunk, |mut row, done| {
                row.push_bind(done.id)
                    .push_bind(finished_state(done))
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
            update.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Adds finished executions to their jobs' counters and status.
    async fn add_job_totals(
        tx: &mut Transaction<'_, Sqlite>,
        totals: &[JobTotals],
        update: &'static str,
    ) -> Result<(), StoreError> {
        for chunk in ladder_chunks(totals) {
            let mut values = QueryBuilder::<Sqlite>::new(
                "WITH v (vid, vok, verr, vlast_ok, vlast_err, vstatus) AS (",
            );
            values.push_values(chunk, |mut row, total| {
                row.push_bind(total.job_id)
                    .push_bind(total.succeeded)
                    .push_bind(total.failed)
                    .push_bind(total.last_success)
                    .push_bind(total.last_error)
                    .push_bind(total.status);
            });
            values.push(format!(") {update}"));
            values.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    fn build<'q, 'a: 'q>(
        builder: &'q mut QueryBuilder<'a, Sqlite>,
    ) -> Query<'q, Sqlite, Self::Arguments<'q>> {
        builder.build()
    }

    fn build_as<'q, 'a: 'q, T: for<'r> FromRow<'r, Self::Row>>(
        builder: &'q mut QueryBuilder<'a, Sqlite>,
    ) -> QueryAs<'q, Sqlite, T, Self::Arguments<'q>> {
        builder.build_query_as()
    }

    /// FTS5's trigram index (`job_search`) answers a phrase of three characters or more;
    /// a shorter `q` has no trigram and is looked for row by row.
    fn push_search_filter(builder: &mut QueryBuilder<'_, Sqlite>, q: &str) {
        if q.chars().count() >= 3 {
            builder
                .push("SELECT rowid FROM job_search WHERE job_search MATCH ")
                .push_bind(format!("\"{}\"", q.replace('"', "\"\"")));
        } else {
            let pattern = format!("%{}%", super::escape_like(q));
            builder
                .push("SELECT id FROM jobs WHERE name LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR displayname LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
    }
}
