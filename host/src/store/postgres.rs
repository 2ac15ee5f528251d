//! PostgreSQL: for production, and for several nodes sharing one database.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Pool, Postgres, QueryBuilder};

use super::sql::{EXECUTION_COLUMNS, JOB_COLUMNS, sql_store};
use super::{
    ClaimedTick, DueJob, ExecutionRecord, ExecutionState, FinishedExecution, JobQuery,
    NewExecution, PlanNext, ReleasedTick, StoreError, StoredJob, from_millis, to_millis,
};
use crate::jobs::JobSpec;

/// Jobs and executions in a PostgreSQL database.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` and migrates the database.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Appended to the claim's `SELECT`: how due rows are locked.
    const CLAIM_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";

    /// A transaction that writes.
    async fn begin_write(
        pool: &Pool<Postgres>,
    ) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }

    fn push_metadata_filter(builder: &mut QueryBuilder<'_, Postgres>, key: &str, value: &str) {
        builder
            .push("(spec::jsonb -> 'metadata' ->> ")
            .push_bind(key.to_string())
            .push(") = ")
            .push_bind(value.to_string());
    }
}

sql_store!(PgStore, Postgres);
