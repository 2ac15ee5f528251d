//! Each tenant's policy as executions apply it: its grants and quotas, read from the store
//! and kept for a few seconds (a change made through this node applies at once, one made
//! through another node within [`POLICY_TTL`]).
//!
//! The default tenant's grants are the node's own (`serve --allow`); every other tenant
//! has exactly what the admin granted it, nothing by default.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Quotas, grants_from_json};
use crate::capabilities::Grants;
use crate::store::{DEFAULT_TENANT, StoreError, TenantId, TenantStore};

/// How long a tenant's grants and quotas are kept before they are read again.
const POLICY_TTL: Duration = Duration::from_secs(2);

/// What one tenant's executions may do and use.
#[derive(Debug)]
pub struct TenantPolicy {
    /// The tenant's name.
    pub name: String,
    /// What its executions may do.
    pub grants: Grants,
    /// Its limits.
    pub quotas: Quotas,
}

impl TenantPolicy {
    /// What an execution of `executor` by `tenant` may do, before a job's own `grants`
    /// narrow it: the tenant's grants, and for the default tenant's built-in shell any
    /// program unless the node's grants name some (as Dkron's shell executor, which runs
    /// as the node's user); another tenant's shell runs only the programs granted to it.
    pub fn grants_for(&self, tenant: TenantId, executor: &str) -> Grants {
        let mut grants = self.grants.clone();
        if tenant == DEFAULT_TENANT && executor == NODE_SHELL && grants.process.allows_nothing() {
            grants.process.allow_any_program();
        }
        grants
    }
}

/// The built-in executor that runs programs as the node's user by default.
const NODE_SHELL: &str = "shell";

/// The tenants' policies as last read, each with the instant of the reading.
#[derive(Default)]
pub(super) struct PolicyCache {
    policies: Mutex<HashMap<TenantId, (Instant, Arc<TenantPolicy>)>>,
}

impl PolicyCache {
    /// The policy of `tenant`; the default tenant gets `node_grants`. A stored grant that
    /// no longer parses grants nothing (and is logged).
    pub(super) async fn policy(
        &self,
        store: &dyn TenantStore,
        tenant: TenantId,
        node_grants: &Grants,
    ) -> Result<Arc<TenantPolicy>, StoreError> {
        if let Some((read_at, policy)) = self.lock().get(&tenant)
            && read_at.elapsed() < POLICY_TTL
        {
            return Ok(policy.clone());
        }
        let stored = store.tenant_by_id(tenant).await?;
        let policy = Arc::new(match stored {
            None => TenantPolicy {
                name: format!("#{tenant}"),
                grants: Grants::default(),
                quotas: Quotas::default(),
            },
            Some(stored) => {
                let grants = if tenant == DEFAULT_TENANT {
                    node_grants.clone()
                } else {
                    grants_from_json(&stored.grants).unwrap_or_else(|error| {
                        tracing::warn!(tenant = %stored.name, %error, "stored grants do not parse");
                        Grants::default()
                    })
                };
                let quotas = Quotas::from_json(&stored.quotas).unwrap_or_else(|error| {
                    tracing::warn!(tenant = %stored.name, %error, "stored quotas do not parse");
                    Quotas::default()
                });
                TenantPolicy {
                    name: stored.name,
                    grants,
                    quotas,
                }
            }
        });
        self.lock().insert(tenant, (Instant::now(), policy.clone()));
        Ok(policy)
    }

    /// The name of `tenant` as last read, else `#ID` (never a read of the store).
    pub(super) fn name(&self, tenant: TenantId) -> String {
        self.lock()
            .get(&tenant)
            .map_or_else(|| format!("#{tenant}"), |(_, policy)| policy.name.clone())
    }

    /// Forgets what was read of `tenant`, after a change through this node.
    pub(super) fn forget(&self, tenant: TenantId) {
        self.lock().remove(&tenant);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, (Instant, Arc<TenantPolicy>)>> {
        self.policies.lock().unwrap_or_else(|p| p.into_inner())
    }
}
