//! [`ExecutorStore`] on SQL: every version of each upload, bytes included; a version is
//! the next number for its name, and one in use by a job cannot be deleted.

use chrono::Utc;
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use super::rows;
use super::{Column, Dialect, RowsAffected, SqlStore};
use crate::store::{
    ExecutorLimits, ExecutorOverLimit, ExecutorStore, ExecutorUsage, NewExecutor, StoreError,
    StoredExecutor, TenantId, to_millis,
};

#[async_trait::async_trait]
impl<DB: Dialect> ExecutorStore for SqlStore<DB>
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
    async fn put_executor(
        &self,
        tenant: TenantId,
        upload: &NewExecutor<'_>,
        limits: ExecutorLimits,
    ) -> Result<Result<StoredExecutor, ExecutorOverLimit>, StoreError> {
        let NewExecutor {
            name,
            sha256,
            imports,
            processor,
            wasm,
        } = *upload;
        let imports =
            serde_json::to_string(imports).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = DB::begin_write(&self.pool).await?;
        if limits.bound() {
            Self::lock_tenant(&mut tx, tenant).await?;
            let usage = Self::usage_of(&mut *tx, tenant).await?;
            if let Some(limit) = limits.passed_by(usage, wasm.len() as u64) {
                return Ok(Err(ExecutorOverLimit { limit, usage }));
            }
        }
        let (latest,): (Option<i32>,) =
            sqlx::query_as("SELECT MAX(version) FROM executors WHERE tenant_id = $1 AND name = $2")
                .bind(tenant)
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        let row: rows::ExecutorRow = sqlx::query_as(&format!(
            "INSERT INTO executors (tenant_id, name, version, sha256, size, imports, wasm, \
             created_at, kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {}",
            rows::EXECUTOR_COLUMNS
        ))
        .bind(tenant)
        .bind(name)
        .bind(latest.unwrap_or(0) + 1)
        .bind(sha256)
        .bind(wasm.len() as i64)
        .bind(imports)
        .bind(wasm)
        .bind(to_millis(Utc::now()))
        .bind(rows::executor_kind(processor))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!(
                "executor {name} was uploaded twice at the same time; upload again"
            )),
            other => other.into(),
        })?;
        tx.commit().await?;
        Ok(Ok(row.into_executor()))
    }

    async fn list_executors(&self, tenant: TenantId) -> Result<Vec<StoredExecutor>, StoreError> {
        let rows: Vec<rows::ExecutorRow> = sqlx::query_as(&format!(
            "SELECT {} FROM executors AS e WHERE tenant_id = $1 AND version = \
             (SELECT MAX(version) FROM executors \
              WHERE tenant_id = e.tenant_id AND name = e.name) ORDER BY name",
            rows::EXECUTOR_COLUMNS
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(rows::ExecutorRow::into_executor)
            .collect())
    }

    async fn executor_usage(&self, tenant: TenantId) -> Result<ExecutorUsage, StoreError> {
        let mut connection = self.pool.acquire().await?;
        Self::usage_of(&mut connection, tenant).await
    }

    async fn executor_versions(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Vec<StoredExecutor>, StoreError> {
        let rows: Vec<rows::ExecutorRow> = sqlx::query_as(&format!(
            "SELECT {} FROM executors WHERE tenant_id = $1 AND name = $2 ORDER BY version DESC",
            rows::EXECUTOR_COLUMNS
        ))
        .bind(tenant)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(rows::ExecutorRow::into_executor)
            .collect())
    }

    async fn executor_wasm(
        &self,
        tenant: TenantId,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<(StoredExecutor, Vec<u8>)>, StoreError> {
        let row: Option<(rows::ExecutorRow, Vec<u8>)> = {
            let query = format!(
                "SELECT {}, wasm FROM executors WHERE tenant_id = $1 AND name = $2 AND version = {} ",
                rows::EXECUTOR_COLUMNS,
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
                    let executor = <rows::ExecutorRow as sqlx::FromRow<_>>::from_row(&row)?;
                    let wasm: Vec<u8> = row.try_get("wasm")?;
                    Some((executor, wasm))
                }
            }
        };
        Ok(row.map(|(executor, wasm)| (executor.into_executor(), wasm)))
    }

    async fn delete_executor(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let users: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT name FROM jobs WHERE tenant_id = $1 AND ({0} = $2 OR {0} LIKE $3) \
             ORDER BY name LIMIT 6",
            DB::EXECUTOR_OF_SPEC
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
}
