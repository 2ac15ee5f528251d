//! The embedded default: SQLite in one file, in WAL mode.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, QueryBuilder, Sqlite};

use super::sql::{EXECUTION_COLUMNS, JOB_COLUMNS, sql_store};
use super::{
    ClaimedTick, DueJob, ExecutionRecord, ExecutionState, FinishedExecution, JobQuery,
    NewExecution, PlanNext, ReleasedTick, StoreError, StoredJob, from_millis, to_millis,
};
use crate::jobs::JobSpec;

/// Jobs and executions in a SQLite file.
pub struct SqliteStore {
    pool: Pool<Sqlite>,
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `url` and migrates it.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Appended to the claim's `SELECT`: how due rows are locked.
    const CLAIM_LOCK: &'static str = "";

    /// A transaction that writes.
    async fn begin_write(
        pool: &Pool<Sqlite>,
    ) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    fn push_metadata_filter(builder: &mut QueryBuilder<'_, Sqlite>, key: &str, value: &str) {
        builder
            .push("json_extract(spec, ")
            .push_bind(format!("$.metadata.\"{}\"", key.replace('"', "")))
            .push(") = ")
            .push_bind(value.to_string());
    }
}

sql_store!(SqliteStore, Sqlite);
