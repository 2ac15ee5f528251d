//! Tenants and their API tokens in the store (tokens kept as hashes only).

use chrono::{DateTime, Utc};

use super::{StoreError, TenantId};

/// A tenant as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Tenant {
    /// Internal id.
    pub id: TenantId,
    /// Its name (a slug), unique.
    pub name: String,
    /// What its executions may do: `{"CAPABILITY": ["PATTERN", …]}`.
    pub grants: serde_json::Value,
    /// Its limits: `{"max_jobs": N, …}`.
    pub quotas: serde_json::Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Whom an API token stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenOwner {
    /// The tenant it acts as.
    pub tenant: Tenant,
    /// Whether it may also manage tenants.
    pub admin: bool,
}

/// Tenants, their grants and quotas (as JSON), and their tokens' hashes.
#[async_trait::async_trait]
pub trait TenantStore: Send + Sync + 'static {
    /// Creates the tenant `name`, with no grants and no quotas;
    /// [`StoreError::Conflict`] when it exists.
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError>;

    /// Every tenant, by name.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// The tenant called `name`.
    async fn get_tenant(&self, name: &str) -> Result<Option<Tenant>, StoreError>;

    /// The tenant with this id.
    async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, StoreError>;

    /// Replaces a tenant's grants; `None` when there is no such tenant.
    async fn set_tenant_grants(
        &self,
        name: &str,
        grants: &serde_json::Value,
    ) -> Result<Option<Tenant>, StoreError>;

    /// Replaces a tenant's quotas; `None` when there is no such tenant.
    async fn set_tenant_quotas(
        &self,
        name: &str,
        quotas: &serde_json::Value,
    ) -> Result<Option<Tenant>, StoreError>;

    /// Stores a token by its hash for `tenant` (an admin token when `admin`).
    async fn add_token(&self, tenant: TenantId, hash: &str, admin: bool) -> Result<(), StoreError>;

    /// Whom the token with this hash stands for.
    async fn token_owner(&self, hash: &str) -> Result<Option<TokenOwner>, StoreError>;

    /// Whether any admin token is stored.
    async fn has_admin_token(&self) -> Result<bool, StoreError>;
}
