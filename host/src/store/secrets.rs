//! Secrets in the store: each tenant's named values.

use chrono::{DateTime, Utc};

use super::{StoreError, TenantId};

/// A secret as listed: its name and dates, never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretInfo {
    /// The name jobs and executors use.
    pub name: String,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When its value was last set.
    pub updated_at: DateTime<Utc>,
}

/// Each tenant's secrets: values written and read by name, listed without them.
#[async_trait::async_trait]
pub trait SecretStore: Send + Sync + 'static {
    /// Sets the secret `name` to `value`; `true` when it is new.
    async fn put_secret(
        &self,
        tenant: TenantId,
        name: &str,
        value: &str,
    ) -> Result<bool, StoreError>;

    /// Every secret's name and dates, by name.
    async fn list_secrets(&self, tenant: TenantId) -> Result<Vec<SecretInfo>, StoreError>;

    /// The values of those of `names` that exist.
    async fn secret_values(
        &self,
        tenant: TenantId,
        names: &[String],
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Replaces the stored value of secret `name` by `value` only if it still is
    /// `expected`, leaving its dates (sealing a value again changes no secret); `false`
    /// when it changed or is gone.
    async fn replace_secret_value(
        &self,
        tenant: TenantId,
        name: &str,
        expected: &str,
        value: &str,
    ) -> Result<bool, StoreError>;

    /// Deletes the secret `name`; `false` when there was none.
    async fn delete_secret(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError>;
}
