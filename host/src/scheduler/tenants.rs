//! Tenants as the scheduler applies them: each tenant's grants and quotas, read from the
//! store and kept for a few seconds (a change made through this node applies at once,
//! one made through another node within [`POLICY_TTL`]), and the count of each tenant's
//! executions running on this node, which `max_concurrent_executions` bounds.
//!
//! The default tenant's grants are the node's own (`serve --allow`); every other tenant
//! has exactly what the admin granted it, nothing by default.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::capabilities::Grants;
use crate::store::{DEFAULT_TENANT, Store, StoreError, TenantId};
use crate::tenants::{Quotas, grants_from_json};

/// How long a tenant's grants and quotas are kept before they are read again.
const POLICY_TTL: Duration = Duration::from_secs(2);

/// What one tenant's executions may do and use.
#[derive(Debug)]
pub(super) struct TenantPolicy {
    /// The tenant's name.
    pub name: String,
    /// What its executions may do.
    pub grants: Grants,
    /// Its limits.
    pub quotas: Quotas,
}

/// The tenants' policies and running counts on this node.
#[derive(Default)]
pub(super) struct Tenants {
    policies: Mutex<HashMap<TenantId, (Instant, Arc<TenantPolicy>)>>,
    running: Mutex<HashMap<TenantId, u64>>,
    /// Signalled whenever an execution of any tenant ends.
    freed: Notify,
}

impl Tenants {
    /// The policy of `tenant`; the default tenant gets `node_grants`. A stored grant that
    /// no longer parses grants nothing (and is logged).
    pub async fn policy(
        &self,
        store: &dyn Store,
        tenant: TenantId,
        node_grants: &Grants,
    ) -> Result<Arc<TenantPolicy>, StoreError> {
        if let Some((read_at, policy)) = self.lock_policies().get(&tenant)
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
        self.lock_policies()
            .insert(tenant, (Instant::now(), policy.clone()));
        Ok(policy)
    }

    /// The name of `tenant` as last read, else `#ID` (for the metrics' labels: never a
    /// read of the store).
    pub fn name(&self, tenant: TenantId) -> String {
        self.lock_policies()
            .get(&tenant)
            .map_or_else(|| format!("#{tenant}"), |(_, policy)| policy.name.clone())
    }

    /// Forgets what was read of `tenant`, after a change through this node.
    pub fn forget(&self, tenant: TenantId) {
        self.lock_policies().remove(&tenant);
    }

    /// Counts one more running execution of `tenant` unless `max` are running.
    pub fn try_start(self: &Arc<Self>, tenant: TenantId, max: Option<u64>) -> Option<TenantSlot> {
        let mut running = self.lock_running();
        let count = running.entry(tenant).or_default();
        if max.is_some_and(|max| *count >= max) {
            return None;
        }
        *count += 1;
        Some(TenantSlot {
            tenants: self.clone(),
            tenant,
        })
    }

    /// Counts one more running execution of `tenant`, waiting while `max` are running.
    pub async fn start(self: &Arc<Self>, tenant: TenantId, max: Option<u64>) -> TenantSlot {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(slot) = self.try_start(tenant, max) {
                return slot;
            }
            freed.await;
        }
    }

    /// How many executions of `tenant` run on this node.
    pub fn running(&self, tenant: TenantId) -> u64 {
        self.lock_running().get(&tenant).copied().unwrap_or(0)
    }

    fn lock_policies(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<TenantId, (Instant, Arc<TenantPolicy>)>> {
        self.policies.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, u64>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One running execution of a tenant, counted until dropped.
pub(super) struct TenantSlot {
    tenants: Arc<Tenants>,
    tenant: TenantId,
}

impl Drop for TenantSlot {
    fn drop(&mut self) {
        if let Some(count) = self.tenants.lock_running().get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
        }
        self.tenants.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_concurrency_quota_counts_per_tenant_and_waiters_wake() {
        let tenants = Arc::new(Tenants::default());
        let first = tenants.try_start(2, Some(1)).unwrap();
        assert!(tenants.try_start(2, Some(1)).is_none());
        let other = tenants.try_start(3, Some(1));
        assert!(other.is_some());
        assert_eq!(tenants.running(2), 1);
        let waiter = tokio::spawn({
            let tenants = tenants.clone();
            async move { tenants.start(2, Some(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tenants.running(2), 1);
        drop(second);
        assert_eq!(tenants.running(2), 0);
        assert!(tenants.try_start(2, None).is_some());
    }
}
