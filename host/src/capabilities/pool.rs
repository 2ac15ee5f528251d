//! Connections kept across executions, one per target, shared by the capabilities that
//! talk to brokers and servers (`nats`, `amqp`, `kafka`, `grpc`).
//!
//! Dkron opens a connection per execution; Sandcron keeps one per distinct target (the
//! server, the credentials, the TLS settings: whatever the capability puts in its key) in
//! the process-wide state of the capability (its [`SharedState`](super::unit::SharedState)). A connection is made by the first
//! execution that needs it, while the others asking for the same key wait for it rather
//! than connecting too; a connection found broken is replaced by the next execution that
//! asks. This is not a capability: it owns no interface and no policy.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// At most this many targets are kept; past it, the least recently used is dropped (its
/// connection closes once no execution holds it).
const MAX_TARGETS: usize = 256;

/// Connections of type `C`, one per key `K`. Cheap to clone: clones share the pool.
pub struct Pool<K, C> {
    slots: Arc<Mutex<Slots<K, C>>>,
}

struct Slots<K, C> {
    by_key: HashMap<K, Slot<C>>,
    clock: u64,
}

type Slot<C> = (Arc<tokio::sync::Mutex<Option<C>>>, u64);

impl<K, C> Clone for Pool<K, C> {
    fn clone(&self) -> Self {
        Self {
            slots: self.slots.clone(),
        }
    }
}

impl<K, C> Default for Pool<K, C> {
    fn default() -> Self {
        Self {
            slots: Arc::new(Mutex::new(Slots {
                by_key: HashMap::new(),
                clock: 0,
            })),
        }
    }
}

/// A pool is the whole process-wide state of the capabilities that keep connections.
impl<K: Send + 'static, C: Send + 'static> super::unit::SharedState for Pool<K, C> {}

impl<K, C> fmt::Debug for Pool<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let targets = self.slots.lock().map_or(0, |s| s.by_key.len());
        f.debug_struct("Pool").field("targets", &targets).finish()
    }
}

impl<K: Clone + Eq + Hash, C: Clone> Pool<K, C> {
    /// The connection kept for `key` when `usable` says it still works; otherwise a new
    /// one from `connect`, kept for the next callers. A failed connect keeps nothing.
    pub async fn get_or_connect<E, F, Fut>(
        &self,
        key: &K,
        usable: impl Fn(&C) -> bool,
        connect: F,
    ) -> Result<C, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<C, E>>,
    {
        let slot = self.slot(key);
        let mut guard = slot.lock().await;
        if let Some(connection) = guard.as_ref().filter(|c| usable(c)) {
            return Ok(connection.clone());
        }
        *guard = None;
        let connection = connect().await?;
        *guard = Some(connection.clone());
        Ok(connection)
    }

    /// Drops the connection kept for `key`, so that the next caller connects anew. Call it
    /// when a call on the connection failed in a way that says the connection is broken.
    pub fn discard(&self, key: &K) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.by_key.remove(key);
        }
    }

    /// How many targets have a slot.
    pub fn len(&self) -> usize {
        self.slots.lock().map_or(0, |s| s.by_key.len())
    }

    /// Whether no target has a slot.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slot(&self, key: &K) -> Arc<tokio::sync::Mutex<Option<C>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.clock += 1;
        let now = slots.clock;
        if let Some((slot, used)) = slots.by_key.get_mut(key) {
            *used = now;
            return slot.clone();
        }
        if slots.by_key.len() >= MAX_TARGETS
            && let Some(oldest) = slots
                .by_key
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
        {
            slots.by_key.remove(&oldest);
        }
        let slot = Arc::new(tokio::sync::Mutex::new(None));
        slots.by_key.insert(key.clone(), (slot.clone(), now));
        slot
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn one_connection_per_key_and_a_broken_one_is_replaced() {
        let pool: Pool<String, u32> = Pool::default();
        let made = AtomicU32::new(0);
        let connect = || async { Ok::<_, ()>(made.fetch_add(1, Ordering::SeqCst)) };
        let key = "a".to_string();
        assert_eq!(pool.get_or_connect(&key, |_| true, connect).await, Ok(0));
        assert_eq!(pool.get_or_connect(&key, |_| true, connect).await, Ok(0));
        assert_eq!(pool.get_or_connect(&key, |_| false, connect).await, Ok(1));
        pool.discard(&key);
        assert_eq!(pool.get_or_connect(&key, |_| true, connect).await, Ok(2));
        let other = "b".to_string();
        assert_eq!(pool.get_or_connect(&other, |_| true, connect).await, Ok(3));
        assert_eq!(pool.len(), 2);
    }

    #[tokio::test]
    async fn a_failed_connect_keeps_nothing() {
        let pool: Pool<u8, u8> = Pool::default();
        let failed = pool
            .get_or_connect(&1, |_| true, || async { Err::<u8, _>("down") })
            .await;
        assert_eq!(failed, Err("down"));
        let ok = pool
            .get_or_connect(&1, |_| true, || async { Ok::<_, &str>(7) })
            .await;
        assert_eq!(ok, Ok(7));
    }
}
