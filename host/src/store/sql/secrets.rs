//! [`SecretStore`] on SQL: each tenant's secrets, by name.

use chrono::Utc;
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, QueryBuilder, Type};

use super::rows;
use super::{Column, Dialect, RowsAffected, SqlStore};
use crate::store::{SecretInfo, SecretStore, StoreError, TenantId, from_millis, to_millis};

#[async_trait::async_trait]
impl<DB: Dialect> SecretStore for SqlStore<DB>
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
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    async fn put_secret(
        &self,
        tenant: TenantId,
        name: &str,
        value: &str,
    ) -> Result<bool, StoreError> {
        let now = to_millis(Utc::now());
        let mut tx = DB::begin_write(&self.pool).await?;
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

    async fn list_secrets(&self, tenant: TenantId) -> Result<Vec<SecretInfo>, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT name, created_at, updated_at FROM secrets WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, created, updated)| SecretInfo {
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
        for chunk in names.chunks(rows::BULK_ROWS) {
            let mut select =
                QueryBuilder::<DB>::new("SELECT name, value FROM secrets WHERE tenant_id = ");
            select.push_bind(tenant).push(" AND name IN (");
            let mut list = select.separated(", ");
            for name in chunk {
                list.push_bind(name.clone());
            }
            select.push(")");
            values.extend(
                DB::build_as::<(String, String)>(&mut select)
                    .fetch_all(&self.pool)
                    .await?,
            );
        }
        Ok(values)
    }

    async fn replace_secret_value(
        &self,
        tenant: TenantId,
        name: &str,
        expected: &str,
        value: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE secrets SET value = $4 WHERE tenant_id = $1 AND name = $2 AND value = $3",
        )
        .bind(tenant)
        .bind(name)
        .bind(expected)
        .bind(value)
        .execute(&self.pool)
        .await?
        .rows_affected()
            > 0)
    }

    async fn delete_secret(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM secrets WHERE tenant_id = $1 AND name = $2")
                .bind(tenant)
                .bind(name)
                .execute(&self.pool)
                .await?
                .rows_affected()
                > 0,
        )
    }
}
