//! The count of each tenant's executions running on this node, which
//! `max_concurrent_executions` bounds (or, when a tenant other than the default one has
//! none, its share of the node, [`NodeShare`]): a slot is taken before an execution runs
//! (at once, or waiting for one to end) and given back when it is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::store::TenantId;

/// How a node's execution slots are shared between tenants (`serve --tenant-share` and
/// `--reserved-share`), so that one tenant's backlog cannot take the node: a tenant other
/// than the default one holds at most `per_tenant_percent` of the slots unless its
/// `max_concurrent_executions` says otherwise, and `reserved_percent` of them only the
/// default tenant (the operator's own jobs) may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeShare {
    /// The part of the node's slots one tenant may hold by default, in percent.
    pub per_tenant_percent: u8,
    /// The part of the node's slots kept for the default tenant, in percent.
    pub reserved_percent: u8,
}

impl Default for NodeShare {
    fn default() -> Self {
        Self {
            per_tenant_percent: 25,
            reserved_percent: 10,
        }
    }
}

impl NodeShare {
    /// How many of `slots` one tenant may hold by default (at least one).
    pub fn per_tenant(self, slots: usize) -> u64 {
        let share = slots * usize::from(self.per_tenant_percent.min(100)) / 100;
        u64::try_from(share.max(1)).unwrap_or(u64::MAX)
    }

    /// How many of `slots` the tenants other than the default one share (at least one).
    pub fn shared(self, slots: usize) -> usize {
        let reserved = slots * usize::from(self.reserved_percent.min(100)) / 100;
        slots.saturating_sub(reserved).max(1)
    }
}

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

    #[test]
    fn a_share_is_a_part_of_the_slots_never_none() {
        let share = NodeShare::default();
        assert_eq!(share.per_tenant(1000), 250);
        assert_eq!(share.shared(1000), 900);
        assert_eq!(share.per_tenant(2), 1);
        assert_eq!(share.shared(1), 1);
        let all = NodeShare {
            per_tenant_percent: 100,
            reserved_percent: 0,
        };
        assert_eq!((all.per_tenant(20), all.shared(20)), (20, 20));
    }
}
