//! The thread the scheduler's writers run on: the claim loop and the recorder, the two
//! tasks that take the store's write lock for every tick, each on a single-threaded
//! runtime of its own scheduler.
//!
//! On SQLite one write transaction at a time holds the lock, and each of its statements
//! is a round trip to SQLite's worker thread; on a runtime shared with thousands of
//! executions, the transaction's task waited for a busy worker after every statement,
//! with the lock held. On a thread of their own the writers are polled as soon as a
//! statement returns: on the two-core machine, offered 33,000 ticks a second, SQLite's
//! saturation rose by about a quarter and a burst of 100,000 ticks starts sooner; a
//! burst of 10,000 starts no sooner, the writers now taking CPU that the executions'
//! workers had while it starts (`docs/benchmarks.md`).
//!
//! While the executions' runtime has ticks queued and not yet polled — a burst of ticks
//! due at one instant, starting — the writers give way ([`GiveWay`]): a write started
//! then takes CPU from the executions on a machine with few cores (SQLite's thread, the
//! database server), and the same write a moment later costs no start any lateness.
//! They wait at most [`GiveWay::MOST`], so a burst that never ends (a saturated node)
//! delays each write by that much, no more.
//!
//! The thread lives as long as the runtime that started the scheduler: a task on that
//! runtime holds the thread's end, so when the runtime is dropped (the process ends, a
//! test ends) the thread's runtime and every task on it are dropped too.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// A single-threaded runtime on a thread of its own, for one scheduler's writers.
pub(super) struct WriterThread {
    handle: Handle,
    give_way: GiveWay,
}

impl WriterThread {
    /// Starts the thread; it ends when the runtime this is called on is dropped.
    pub(super) fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (keep, dropped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("sandcron-writer".into())
            .spawn(move || {
                runtime.block_on(async {
                    // Never sent: resolves when the starting runtime drops `keep`.
                    let _ = dropped.await;
                });
            })?;
        tokio::spawn(async move {
            let _keep = keep;
            std::future::pending::<()>().await;
        });
        Ok(Self {
            handle,
            give_way: GiveWay {
                executions: Handle::current(),
            },
        })
    }

    /// What tells the writers when to give way to the executions' runtime (the one this
    /// thread was started from).
    pub(super) fn give_way(&self) -> GiveWay {
        self.give_way.clone()
    }

    /// Runs `task` on the thread.
    pub(super) fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(task)
    }
}

/// Lets a writer wait while the executions' runtime has tasks queued and not yet polled.
#[derive(Clone)]
pub(super) struct GiveWay {
    executions: Handle,
}

impl GiveWay {
    /// The longest a writer waits.
    pub(super) const MOST: Duration = Duration::from_millis(250);

    /// How often a waiting writer looks again.
    const LOOK_EVERY: Duration = Duration::from_millis(2);

    /// Waits until the executions' runtime has no task queued in its shared queue (where
    /// the tasks of a burst wait, beyond the few hundred each worker keeps), or `most`
    /// has passed.
    pub(super) async fn to_executions(&self, most: Duration) {
        let until = tokio::time::Instant::now() + most;
        while self.executions.metrics().global_queue_depth() > 0
            && tokio::time::Instant::now() < until
        {
            tokio::time::sleep(Self::LOOK_EVERY).await;
        }
    }
}
