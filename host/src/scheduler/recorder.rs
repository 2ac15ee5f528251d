//! The recorder: writes "started" and "finished" to the store in batches, off the
//! executions' path. Each batch is a few bulk statements whatever its size; a batch holds
//! whatever arrived while the previous one was being written. A failed write is retried,
//! so an accepted record is not dropped while the database is briefly away.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::retention::Retention;
use crate::store::{ExecutionStore, FinishedExecution};

/// The most events written in one batch.
const MAX_BATCH: usize = 5000;
/// Attempts at writing one batch before it is given up (and logged).
const MAX_ATTEMPTS: u32 = 20;

enum Event {
    Started(i64, DateTime<Utc>),
    Finished(FinishedExecution),
    Flush(oneshot::Sender<()>),
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    events: mpsc::UnboundedSender<Event>,
}

impl Recorder {
    /// Starts the writer task.
    pub fn start(store: Arc<dyn ExecutionStore>, retention: Arc<Retention>) -> Self {
        let (events, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store, retention, receiver));
        Self { events }
    }

    /// An execution started.
    pub fn started(&self, id: i64, at: DateTime<Utc>) {
        let _ = self.events.send(Event::Started(id, at));
    }

    /// An execution ended.
    pub fn finished(&self, done: FinishedExecution) {
        let _ = self.events.send(Event::Finished(done));
    }

    /// Resolves once everything sent before is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.events.send(Event::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_loop(
    store: Arc<dyn ExecutionStore>,
    retention: Arc<Retention>,
    mut receiver: mpsc::UnboundedReceiver<Event>,
) {
    while let Some(first) = receiver.recv().await {
        let mut started = Vec::new();
        let mut finished = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        let mut count = 0;
        while let Some(event) = next.take() {
            match event {
                Event::Started(id, at) => started.push((id, at)),
                Event::Finished(done) => finished.push(done),
                Event::Flush(done) => flushes.push(done),
            }
            count += 1;
            if count < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        let ended: HashSet<i64> = finished.iter().map(|done| done.id).collect();
        started.retain(|(id, _)| !ended.contains(id));
        let writing = std::time::Instant::now();
        write_batch(&*store, &started, &finished).await;
        tracing::debug!(
            started = started.len(),
            finished = finished.len(),
            took = ?writing.elapsed(),
            "recorded"
        );
        retention.note_finished(finished.iter().map(|done| done.job_id));
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn write_batch(
    store: &dyn ExecutionStore,
    started: &[(i64, DateTime<Utc>)],
    finished: &[FinishedExecution],
) {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=MAX_ATTEMPTS {
        let result = async {
            if !started.is_empty() {
                store.mark_running(started).await?;
            }
            store.finish_executions(finished).await
        }
        .await;
        match result {
            Ok(()) => return,
            Err(error) if attempt < MAX_ATTEMPTS => {
                tracing::warn!(%error, attempt, "writing executions failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    started = started.len(),
                    finished = finished.len(),
                    "writing executions failed for good; these records stay open until \
                     the next start-up closes them"
                );
            }
        }
    }
}
