//! Managing tenants through the scheduler: creating them, their API tokens (made here,
//! shown once, stored hashed), their grants and quotas (checked before they are stored),
//! and finding whom a token stands for.

use std::sync::Arc;

use super::Scheduler;
use super::tenants::TenantPolicy;
use crate::jobs::FieldError;
use crate::store::{DEFAULT_TENANT, StoreError, Tenant, TenantId, TokenOwner};
use crate::tenants::{
    DEFAULT_TENANT_NAME, Quotas, TokenKind, check_tenant_name, grants_from_json, hash_token,
    new_token,
};

/// Why a request about a tenant was refused.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// Bad input (HTTP 400): names the field.
    #[error("{0}")]
    Invalid(#[from] FieldError),
    /// No such tenant (HTTP 404).
    #[error("tenant {0:?} not found")]
    NotFound(String),
    /// The request conflicts with what is stored (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The store failed (HTTP 500).
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for TenantError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => Self::Conflict(message),
            other => Self::Store(other),
        }
    }
}

impl Scheduler {
    /// Creates a tenant with no grants and no quotas.
    pub async fn create_tenant(&self, name: &str) -> Result<Tenant, TenantError> {
        check_tenant_name(name)?;
        Ok(self.inner.store.create_tenant(name).await?)
    }

    /// Every tenant, by name.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, TenantError> {
        Ok(self.inner.store.list_tenants().await?)
    }

    /// Makes a new API token for the tenant `name`; the token is returned once and only
    /// its hash is kept.
    pub async fn create_token(&self, name: &str) -> Result<String, TenantError> {
        let tenant = self.tenant_named(name).await?;
        let token = new_token(TokenKind::Tenant)
            .map_err(|e| TenantError::Conflict(format!("cannot make a token: {e}")))?;
        self.inner
            .store
            .add_token(tenant.id, &hash_token(&token), false)
            .await?;
        Ok(token)
    }

    /// Replaces the grants of the tenant `name` (`{"CAPABILITY": ["PATTERN"]}`), after
    /// checking every pattern. The default tenant's grants are the server's flags.
    pub async fn set_tenant_grants(
        &self,
        name: &str,
        grants: &serde_json::Value,
    ) -> Result<Tenant, TenantError> {
        grants_from_json(grants)?;
        if name == DEFAULT_TENANT_NAME {
            return Err(TenantError::Conflict(
                "the default tenant's grants are the server's --allow and --allow-host flags"
                    .to_string(),
            ));
        }
        let tenant = self
            .inner
            .store
            .set_tenant_grants(name, grants)
            .await?
            .ok_or_else(|| TenantError::NotFound(name.to_string()))?;
        self.inner.tenants.forget(tenant.id);
        Ok(tenant)
    }

    /// Replaces the quotas of the tenant `name`, after checking them.
    pub async fn set_tenant_quotas(
        &self,
        name: &str,
        quotas: &serde_json::Value,
    ) -> Result<Tenant, TenantError> {
        let quotas = Quotas::from_json(quotas)?;
        let tenant = self
            .inner
            .store
            .set_tenant_quotas(name, &quotas.to_json())
            .await?
            .ok_or_else(|| TenantError::NotFound(name.to_string()))?;
        self.inner.tenants.forget(tenant.id);
        Ok(tenant)
    }

    /// Whom `token` stands for; `None` for a token that is not stored.
    pub async fn token_owner(&self, token: &str) -> Result<Option<TokenOwner>, StoreError> {
        self.inner.store.token_owner(&hash_token(token)).await
    }

    /// The default tenant, as an admin token acts as it.
    pub async fn default_tenant(&self) -> Result<Tenant, StoreError> {
        self.inner
            .store
            .tenant_by_id(DEFAULT_TENANT)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the default tenant is missing".to_string()))
    }

    /// Makes the first admin token when the store has none and returns it (to be shown
    /// once); `None` when one exists.
    pub async fn first_admin_token(&self) -> Result<Option<String>, StoreError> {
        if self.inner.store.has_admin_token().await? {
            return Ok(None);
        }
        let token = new_token(TokenKind::Admin)
            .map_err(|e| StoreError::Corrupt(format!("cannot make a token: {e}")))?;
        self.inner
            .store
            .add_token(DEFAULT_TENANT, &hash_token(&token), true)
            .await?;
        Ok(Some(token))
    }

    /// The grants and quotas of `tenant`, as executions apply them.
    pub(super) async fn tenant_policy(
        &self,
        tenant: TenantId,
    ) -> Result<Arc<TenantPolicy>, StoreError> {
        self.inner.tenant_policy(tenant).await
    }

    async fn tenant_named(&self, name: &str) -> Result<Tenant, TenantError> {
        self.inner
            .store
            .get_tenant(name)
            .await?
            .ok_or_else(|| TenantError::NotFound(name.to_string()))
    }
}

impl super::Inner {
    /// The grants and quotas of `tenant`, as executions apply them.
    pub(super) async fn tenant_policy(
        &self,
        tenant: TenantId,
    ) -> Result<Arc<TenantPolicy>, StoreError> {
        self.tenants
            .policy(&*self.store, tenant, &self.config.grants)
            .await
    }
}
