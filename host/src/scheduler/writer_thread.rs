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
//! The thread lives as long as the runtime that started the scheduler: a task on that
//! runtime holds the thread's end, so when the runtime is dropped (the process ends, a
//! test ends) the thread's runtime and every task on it are dropped too.

use std::future::Future;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// A single-threaded runtime on a thread of its own, for one scheduler's writers.
pub(super) struct WriterThread {
    handle: Handle,
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
        Ok(Self { handle })
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
