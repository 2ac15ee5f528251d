//! The tenants service: creating tenants, their API tokens (made here, shown once, stored
//! hashed), their grants and quotas (checked before they are stored), finding whom a
//! token stands for, and applying each tenant's policy on this node (see `policy` and
//! `running`).

use std::sync::Arc;

use super::policy::{PolicyCache, TenantPolicy};
use super::running::{RunningCounts, TenantSlot};
use super::{
    DEFAULT_TENANT_NAME, QuotaExceeded, Quotas, TokenKind, check_tenant_name, grants_from_json,
    hash_token, new_token,
};
use crate::capabilities::Grants;
use crate::jobs::FieldError;
use crate::store::{DEFAULT_TENANT, StoreError, Tenant, TenantId, TenantStore, TokenOwner};

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

/// The handle to the tenants: their half of the store, their policies as this node
/// applies them, and their running counts here. Cheap to clone.
#[derive(Clone)]
pub struct Tenants {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn TenantStore>,
    /// The default tenant's grants: the node's own (`serve --allow`).
    node_grants: Grants,
    policies: PolicyCache,
    running: Arc<RunningCounts>,
    /// The most executions a tenant other than the default one runs at once on this node
    /// when its quotas name no `max_concurrent_executions` (`serve --tenant-share`).
    share_per_tenant: u64,
}

impl Tenants {
    /// The tenants kept in `store`; the default tenant is granted `node_grants`, and each
    /// other one without a `max_concurrent_executions` runs at most `share_per_tenant`
    /// executions at once on this node.
    pub fn new(store: Arc<dyn TenantStore>, node_grants: Grants, share_per_tenant: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                node_grants,
                policies: PolicyCache::default(),
                running: Arc::default(),
                share_per_tenant,
            }),
        }
    }

    /// Creates a tenant with no grants and no quotas.
    pub async fn create(&self, name: &str) -> Result<Tenant, TenantError> {
        check_tenant_name(name)?;
        Ok(self.inner.store.create_tenant(name).await?)
    }

    /// Every tenant, by name.
    pub async fn list(&self) -> Result<Vec<Tenant>, TenantError> {
        Ok(self.inner.store.list_tenants().await?)
    }

    /// Makes a new API token for the tenant `name`; the token is returned once and only
    /// its hash is kept.
    pub async fn create_token(&self, name: &str) -> Result<String, TenantError> {
        let tenant = self.named(name).await?;
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
    pub async fn set_grants(
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
        self.inner.policies.forget(tenant.id);
        Ok(tenant)
    }

    /// Replaces the quotas of the tenant `name`, after checking them.
    pub async fn set_quotas(
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
        self.inner.policies.forget(tenant.id);
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

    /// Pauses (or resumes) the job writes of `tenant` (`POST /v1/pause`): stored, so it
    /// holds on every node and across restarts.
    pub async fn set_paused(&self, tenant: TenantId, paused: bool) -> Result<(), StoreError> {
        self.inner.store.set_tenant_paused(tenant, paused).await
    }

    /// Whether the job writes of `tenant` are paused, as stored now (never cached: a
    /// pause on one node holds on the next request to any other).
    pub async fn is_paused(&self, tenant: TenantId) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .store
            .tenant_by_id(tenant)
            .await?
            .is_some_and(|tenant| tenant.paused))
    }

    /// The grants and quotas of `tenant`, as executions apply them.
    pub async fn policy(&self, tenant: TenantId) -> Result<Arc<TenantPolicy>, StoreError> {
        let inner = &self.inner;
        inner
            .policies
            .policy(&*inner.store, tenant, &inner.node_grants)
            .await
    }

    /// The name of `tenant` as last read, else `#ID` (for the metrics' labels: never a
    /// read of the store).
    pub fn name(&self, tenant: TenantId) -> String {
        self.inner.policies.name(tenant)
    }

    /// The capabilities in `requested` by `executor` that the tenant's grants deny it
    /// entirely, each with a line saying so: an upload asking for them is accepted, and
    /// its calls will fail.
    pub async fn denied_capabilities(
        &self,
        tenant: TenantId,
        executor: &str,
        requested: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        let policy = self.policy(tenant).await?;
        let grants = policy.grants_for(tenant, executor);
        let how = if tenant == DEFAULT_TENANT {
            "this server grants none (serve --allow CAPABILITY=…)".to_string()
        } else {
            format!("tenant {} is granted none", policy.name)
        };
        Ok(requested
            .iter()
            .filter(|capability| grants.denies_all(capability))
            .map(|capability| format!("{capability}: {how}; every call will be denied"))
            .collect())
    }

    /// The most executions `tenant` runs at once on this node: its
    /// `max_concurrent_executions`, else the node's share per tenant (none for the default
    /// tenant).
    pub fn max_running(&self, tenant: TenantId, policy: &TenantPolicy) -> Option<u64> {
        let share = (tenant != DEFAULT_TENANT).then_some(self.inner.share_per_tenant);
        policy.quotas.max_concurrent_executions.or(share)
    }

    /// Counts one more running execution of `tenant` on this node, or refuses it (naming
    /// `max_concurrent_executions`) when [`Self::max_running`] run already.
    pub fn try_start(
        &self,
        tenant: TenantId,
        policy: &TenantPolicy,
    ) -> Result<TenantSlot, QuotaExceeded> {
        let max = self.max_running(tenant, policy);
        self.inner.running.try_start(tenant, max).ok_or_else(|| {
            let running = format!(
                "tenant {} has {} executions running",
                policy.name,
                self.running(tenant)
            );
            match policy.quotas.max_concurrent_executions {
                Some(quota) => QuotaExceeded::new("max_concurrent_executions", quota, running),
                None => QuotaExceeded {
                    quota: "max_concurrent_executions",
                    message: format!(
                        "{running}; without a quota of its own a tenant runs at most the \
                         node's share, {} (serve --tenant-share)",
                        max.unwrap_or_default()
                    ),
                },
            }
        })
    }

    /// Counts one more running execution of `tenant` on this node, waiting while
    /// [`Self::max_running`] run.
    pub async fn start(&self, tenant: TenantId, policy: &TenantPolicy) -> TenantSlot {
        let max = self.max_running(tenant, policy);
        self.inner.running.start(tenant, max).await
    }

    /// How many executions of `tenant` run on this node.
    pub fn running(&self, tenant: TenantId) -> u64 {
        self.inner.running.running(tenant)
    }

    async fn named(&self, name: &str) -> Result<Tenant, TenantError> {
        self.inner
            .store
            .get_tenant(name)
            .await?
            .ok_or_else(|| TenantError::NotFound(name.to_string()))
    }
}
