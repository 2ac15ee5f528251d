//! The executions running on this node: what `GET /v1/busy` lists, what live output is
//! followed from, and what a kill reaches. An entry lives exactly as long as its
//! [`ActiveGuard`]; dropping the guard ends every follower's stream. A follower has at
//! most [`FOLLOWER_BUFFER_BYTES`] waiting for it; one that falls further behind is dropped
//! and told so, and the execution never waits for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::OutputFollower;
use crate::output::{
    FOLLOWER_BUFFER_BYTES, FollowerStats, LiveFollowers, OutputListener, Stream, TailBuffer,
};
use crate::store::{ExecutionRecord, TenantId};

/// The running executions, by id.
#[derive(Default)]
pub struct ActiveExecutions {
    entries: Mutex<HashMap<i64, Entry>>,
    follower_stats: Arc<FollowerStats>,
}

struct Entry {
    tenant: TenantId,
    record: ExecutionRecord,
    live: Arc<LiveOutput>,
    kill: Arc<Notify>,
}

impl ActiveExecutions {
    /// Registers a running execution; it is listed until the guard is dropped.
    pub fn register(
        self: &Arc<Self>,
        tenant: TenantId,
        record: ExecutionRecord,
        output_limit: usize,
    ) -> ActiveGuard {
        let id = record.id;
        let live = Arc::new(LiveOutput::new(output_limit, self.follower_stats.clone()));
        let kill = Arc::new(Notify::new());
        self.lock().insert(
            id,
            Entry {
                tenant,
                record,
                live: live.clone(),
                kill: kill.clone(),
            },
        );
        ActiveGuard {
            registry: self.clone(),
            id,
            live,
            kill,
        }
    }

    /// The running executions of `tenant`, oldest first.
    pub fn records(&self, tenant: TenantId) -> Vec<ExecutionRecord> {
        let mut records: Vec<ExecutionRecord> = self
            .lock()
            .values()
            .filter(|e| e.tenant == tenant)
            .map(|e| e.record.clone())
            .collect();
        records.sort_by_key(|r| (r.started_at, r.id));
        records
    }

    /// How many are running.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// What the followers of live output cost: bytes waiting for them, how many were
    /// dropped.
    pub fn follower_stats(&self) -> &FollowerStats {
        &self.follower_stats
    }

    /// Follows one execution's output.
    pub fn follow(&self, id: i64) -> Option<OutputFollower> {
        let live = self.lock().get(&id)?.live.clone();
        Some(live.subscribe())
    }

    /// Asks one execution to stop; returns whether it is running here.
    pub fn kill(&self, id: i64) -> bool {
        match self.lock().get(&id) {
            Some(entry) => {
                entry.kill.notify_one();
                true
            }
            None => false,
        }
    }

    /// Asks every execution to stop.
    pub fn kill_all(&self) {
        for entry in self.lock().values() {
            entry.kill.notify_one();
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Keeps one execution listed; removes it when dropped.
pub struct ActiveGuard {
    registry: Arc<ActiveExecutions>,
    id: i64,
    live: Arc<LiveOutput>,
    kill: Arc<Notify>,
}

impl ActiveGuard {
    /// The listener to hand the runtime, so followers see the output.
    pub fn listener(&self) -> Arc<dyn OutputListener> {
        self.live.clone()
    }

    /// The output written so far (the tail), for an execution stopped before its end.
    pub fn output_so_far(&self) -> (Vec<u8>, bool) {
        let captured = self.live.lock().captured();
        (captured.bytes, captured.truncated)
    }

    /// Resolves when a kill is asked for.
    pub async fn killed(&self) {
        self.kill.notified().await;
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// The live side of an execution's output: a tail for late followers and the followers
/// the chunks that come after are handed to.
struct LiveOutput {
    tail: Mutex<TailBuffer>,
    followers: LiveFollowers,
}

impl LiveOutput {
    fn new(limit: usize, stats: Arc<FollowerStats>) -> Self {
        Self {
            tail: Mutex::new(TailBuffer::new(limit)),
            followers: LiveFollowers::new(FOLLOWER_BUFFER_BYTES, stats),
        }
    }

    /// The tail so far and every later chunk: taken under one lock, so nothing is seen
    /// twice or missed.
    fn subscribe(&self) -> OutputFollower {
        let tail = self.lock();
        OutputFollower {
            backlog: tail.captured().bytes,
            chunks: self.followers.follow(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, TailBuffer> {
        self.tail.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl OutputListener for LiveOutput {
    fn on_chunk(&self, _stream: Stream, chunk: &[u8]) {
        let mut tail = self.lock();
        tail.push(chunk);
        // Sent under the lock, so a new follower's backlog and stream line up.
        self.followers.send(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ExecutionState;

    fn record(id: i64) -> ExecutionRecord {
        ExecutionRecord {
            id,
            job_name: "j".into(),
            group: 1,
            attempt: 1,
            scheduled_at: chrono::Utc::now(),
            started_at: Some(chrono::Utc::now()),
            finished_at: None,
            state: ExecutionState::Running,
            output: Vec::new(),
            output_truncated: false,
            reason: String::new(),
            node: "n".into(),
            trigger: crate::store::Trigger::Schedule,
        }
    }

    #[tokio::test]
    async fn a_follower_gets_the_backlog_then_the_chunks_then_the_end() {
        let registry = Arc::new(ActiveExecutions::default());
        let guard = registry.register(1, record(7), 1000);
        guard.listener().on_chunk(Stream::Stdout, b"one ");
        let mut follower = registry.follow(7).unwrap();
        assert_eq!(follower.backlog, b"one ");
        guard.listener().on_chunk(Stream::Stdout, b"two");
        assert_eq!(follower.chunks.next().await.unwrap().as_ref(), b"two");
        assert_eq!(registry.records(1).len(), 1);
        assert!(registry.records(2).is_empty());
        drop(guard);
        assert!(follower.chunks.next().await.is_none());
        assert!(registry.follow(7).is_none());
        assert!(!registry.kill(7));
    }

    #[test]
    fn the_tail_is_capped() {
        let registry = Arc::new(ActiveExecutions::default());
        let guard = registry.register(1, record(1), 4);
        guard.listener().on_chunk(Stream::Stdout, b"abc");
        guard.listener().on_chunk(Stream::Stdout, b"defgh");
        assert_eq!(guard.output_so_far(), (b"efgh".to_vec(), true));
    }
}
