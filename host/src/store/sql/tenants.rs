//! [`TenantStore`] on SQL: tenants, their grants and quotas as JSON text, and their
//! tokens' hashes.

use chrono::Utc;
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use super::rows;
use super::{Column, Dialect, SqlStore};
use crate::store::{StoreError, Tenant, TenantId, TenantStore, TokenOwner, to_millis};

#[async_trait::async_trait]
impl<DB: Dialect> TenantStore for SqlStore<DB>
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
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        let row: rows::TenantRow = sqlx::query_as(&format!(
            "INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING {}",
            rows::TENANT_COLUMNS
        ))
        .bind(name)
        .bind(to_millis(Utc::now()))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("tenant {name} exists"))
            }
            other => other.into(),
        })?;
        row.into_tenant()
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows: Vec<rows::TenantRow> = sqlx::query_as(&format!(
            "SELECT {} FROM tenants ORDER BY name",
            rows::TENANT_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(rows::TenantRow::into_tenant).collect()
    }

    async fn get_tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        let row: Option<rows::TenantRow> = sqlx::query_as(&format!(
            "SELECT {} FROM tenants WHERE name = $1",
            rows::TENANT_COLUMNS
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(rows::TenantRow::into_tenant).transpose()
    }

    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        let row: Option<rows::TenantRow> = sqlx::query_as(&format!(
            "SELECT {} FROM tenants WHERE id = $1",
            rows::TENANT_COLUMNS
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(rows::TenantRow::into_tenant).transpose()
    }

    async fn set_tenant_grants(
        &self,
        name: &str,
        grants: &serde_json::Value,
    ) -> Result<Option<Tenant>, StoreError> {
        self.set_tenant_json(name, "grants", grants).await
    }

    async fn set_tenant_quotas(
        &self,
        name: &str,
        quotas: &serde_json::Value,
    ) -> Result<Option<Tenant>, StoreError> {
        self.set_tenant_json(name, "quotas", quotas).await
    }

    async fn add_token(&self, tenant: TenantId, hash: &str, admin: bool) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (hash, tenant_id, admin, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(tenant)
        .bind(admin)
        .bind(to_millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn token_owner(&self, hash: &str) -> Result<Option<TokenOwner>, StoreError> {
        // One statement: it runs on every API request.
        let row = sqlx::query(&format!(
            "SELECT {}, tokens.admin FROM tokens \
             JOIN tenants ON tenants.id = tokens.tenant_id WHERE tokens.hash = $1",
            rows::TENANT_COLUMNS
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        use sqlx::Row;
        let admin: bool = row.try_get("admin")?;
        let tenant = <rows::TenantRow as sqlx::FromRow<_>>::from_row(&row)?;
        Ok(Some(TokenOwner {
            tenant: tenant.into_tenant()?,
            admin,
        }))
    }

    async fn has_admin_token(&self) -> Result<bool, StoreError> {
        let row: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM tokens WHERE admin LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}
