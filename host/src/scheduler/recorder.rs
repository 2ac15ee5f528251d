//! The recorder: writes "started", "finished" and what ran after (processors and
//! notifications, `crate::after_run`) to the store in batches, off the executions' path.
//! What ran after an execution is always written after its "finished", which was sent
//! first. Each batch is a few bulk statements whatever its size; a batch holds
//! whatever arrived while the previous one was being written, and waits first while a
//! burst of ticks is starting ([`GiveWay`]) unless the recorder is catching up. A failed
//! write is retried, so an accepted record is not dropped while the database is briefly
//! away.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::retention::Retention;
use super::writer_thread::{GiveWay, WriterThread};
use crate::store::{AfterRunWrite, ExecutionStore, FinishedExecution};

/// The most events written in one batch.
const MAX_BATCH: usize = 5000;
/// Attempts at writing one batch before it is given up (and logged).
const MAX_ATTEMPTS: u32 = 20;

enum Event {
    Started(i64, DateTime<Utc>),
    Finished(FinishedExecution),
    AfterRun(AfterRunWrite),
    Flush(oneshot::Sender<()>),
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    events: mpsc::UnboundedSender<Event>,
}

impl Recorder {
    /// Starts the writer task on the `writer` thread.
    pub(super) fn start(
        writer: &WriterThread,
        store: Arc<dyn ExecutionStore>,
        retention: Arc<Retention>,
    ) -> Self {
        let (events, receiver) = mpsc::unbounded_channel();
        writer.spawn(write_loop(store, retention, receiver, writer.give_way()));
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

    /// What ran after an execution ended.
    pub fn after_run(&self, written: AfterRunWrite) {
        let _ = self.events.send(Event::AfterRun(written));
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
    give_way: GiveWay,
) {
    let mut catching_up = false;
    while let Some(first) = receiver.recv().await {
        if !catching_up {
            give_way.to_executions(GiveWay::MOST).await;
        }
        let mut started = Vec::new();
        let mut finished = Vec::new();
        let mut after_run = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        let mut count = 0;
        while let Some(event) = next.take() {
            match event {
                Event::Started(id, at) => started.push((id, at)),
                Event::Finished(done) => finished.push(done),
                Event::AfterRun(written) => after_run.push(written),
                Event::Flush(done) => flushes.push(done),
            }
            count += 1;
            if count < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        catching_up = count >= MAX_BATCH;
        let ended: HashSet<i64> = finished.iter().map(|done| done.id).collect();
        started.retain(|(id, _)| !ended.contains(id));
        let writing = std::time::Instant::now();
        write_batch(&*store, &started, &finished, &after_run).await;
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
    after_run: &[AfterRunWrite],
) {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=MAX_ATTEMPTS {
        let result = async {
            if !started.is_empty() {
                store.mark_running(started).await?;
            }
            store.finish_executions(finished).await?;
            store.record_after_run(after_run).await
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

#[async_trait::async_trait]
impl crate::after_run::ReportWriter for Recorder {
    fn write(&self, written: AfterRunWrite) {
        self.after_run(written);
    }

    async fn flush(&self) {
        Recorder::flush(self).await;
    }
}
