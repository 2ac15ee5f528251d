//! Each tenant's policy as executions apply it: its grants and quotas, read from the store
//! and kept for a few seconds (a change made through this node applies at once, one made
//! through another node within [`POLICY_TTL`]). One task at a time reads a tenant's policy
//! again; the others keep using the one last read meanwhile (or wait for the first read),
//! so that a hundred thousand executions starting at once read it once, not each.
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
    /// Held by the task reading a tenant's policy from the store.
    readers: Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
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
        let cached = self.fresh_or_last(tenant);
        let last = match cached {
            Ok(fresh) => return Ok(fresh),
            Err(last) => last,
        };
        let reader = self
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant)
            .or_default()
            .clone();
        let _reading = match (reader.try_lock(), last) {
            (Ok(reading), _) => reading,
            // Another task is reading it: the policy last read serves meanwhile.
            (Err(_), Some(last)) => return Ok(last),
            (Err(_), None) => {
                let reading = reader.lock().await;
                if let Ok(fresh) = self.fresh_or_last(tenant) {
                    return Ok(fresh);
                }
                reading
            }
        };
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

    /// The policy of `tenant` if it was read within [`POLICY_TTL`]; else the one last
    /// read, if any.
    fn fresh_or_last(
        &self,
        tenant: TenantId,
    ) -> Result<Arc<TenantPolicy>, Option<Arc<TenantPolicy>>> {
        match self.lock().get(&tenant) {
            Some((read_at, policy)) if read_at.elapsed() < POLICY_TTL => Ok(policy.clone()),
            Some((_, policy)) => Err(Some(policy.clone())),
            None => Err(None),
        }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::store::{Tenant, TokenOwner};

    /// A store of one tenant that counts the reads of it, each slow.
    struct Counting {
        reads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl TenantStore for Counting {
        async fn create_tenant(&self, _: &str) -> Result<Tenant, StoreError> {
            unimplemented!("not used")
        }
        async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
            unimplemented!("not used")
        }
        async fn get_tenant(&self, _: &str) -> Result<Option<Tenant>, StoreError> {
            unimplemented!("not used")
        }
        async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(Some(Tenant {
                id,
                name: "acme".into(),
                grants: serde_json::json!({}),
                quotas: serde_json::json!({}),
                created_at: chrono::Utc::now(),
                paused: false,
            }))
        }
        async fn set_tenant_paused(&self, _: TenantId, _: bool) -> Result<(), StoreError> {
            unimplemented!("not used")
        }
        async fn set_tenant_grants(
            &self,
            _: &str,
            _: &serde_json::Value,
        ) -> Result<Option<Tenant>, StoreError> {
            unimplemented!("not used")
        }
        async fn set_tenant_quotas(
            &self,
            _: &str,
            _: &serde_json::Value,
        ) -> Result<Option<Tenant>, StoreError> {
            unimplemented!("not used")
        }
        async fn add_token(&self, _: TenantId, _: &str, _: bool) -> Result<(), StoreError> {
            unimplemented!("not used")
        }
        async fn token_owner(&self, _: &str) -> Result<Option<TokenOwner>, StoreError> {
            unimplemented!("not used")
        }
        async fn has_admin_token(&self) -> Result<bool, StoreError> {
            unimplemented!("not used")
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn executions_starting_together_read_their_tenant_s_policy_once() {
        let store = Arc::new(Counting {
            reads: AtomicUsize::new(0),
        });
        let cache = Arc::new(PolicyCache::default());
        let together = |count: usize| {
            let handles: Vec<_> = (0..count)
                .map(|_| {
                    let (store, cache) = (store.clone(), cache.clone());
                    tokio::spawn(async move {
                        cache
                            .policy(&*store, 7, &Grants::default())
                            .await
                            .map(|policy| policy.name.clone())
                    })
                })
                .collect();
            futures::future::join_all(handles)
        };
        for name in together(1000).await {
            assert_eq!(name.unwrap().unwrap(), "acme");
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1, "the first reading");
        // Once stale: one task reads it again, the others keep the last one meanwhile.
        tokio::time::sleep(POLICY_TTL).await;
        for name in together(1000).await {
            assert_eq!(name.unwrap().unwrap(), "acme");
        }
        assert_eq!(
            store.reads.load(Ordering::SeqCst),
            2,
            "once more after the TTL"
        );
    }
}
