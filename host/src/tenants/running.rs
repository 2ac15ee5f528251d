//! The count of each tenant's executions running on this node, which
//! `max_concurrent_executions` bounds: a slot is taken before an execution runs (at once,
//! or waiting for one to end) and given back when it is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::store::TenantId;

/// The tenants' running counts on this node.
#[derive(Default)]
pub(super) struct RunningCounts {
    running: Mutex<HashMap<TenantId, u64>>,
    /// Signalled whenever an execution of any tenant ends.
    freed: Notify,
}

impl RunningCounts {
    /// Counts one more running execution of `tenant` unless `max` are running.
    pub(super) fn try_start(
        self: &Arc<Self>,
        tenant: TenantId,
        max: Option<u64>,
    ) -> Option<TenantSlot> {
        let mut running = self.lock();
        let count = running.entry(tenant).or_default();
        if max.is_some_and(|max| *count >= max) {
            return None;
        }
        *count += 1;
        Some(TenantSlot {
            counts: self.clone(),
            tenant,
        })
    }

    /// Counts one more running execution of `tenant`, waiting while `max` are running.
    pub(super) async fn start(self: &Arc<Self>, tenant: TenantId, max: Option<u64>) -> TenantSlot {
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
    pub(super) fn running(&self, tenant: TenantId) -> u64 {
        self.lock().get(&tenant).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, u64>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One running execution of a tenant, counted until dropped.
pub struct TenantSlot {
    counts: Arc<RunningCounts>,
    tenant: TenantId,
}

impl Drop for TenantSlot {
    fn drop(&mut self) {
        if let Some(count) = self.counts.lock().get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
        }
        self.counts.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_concurrency_quota_counts_per_tenant_and_waiters_wake() {
        let tenants = Arc::new(RunningCounts::default());
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
