//! Retention: keeps the newest N executions per job and/or drops those older than a
//! maximum age, in the background. A job is pruned once it has gained a tenth of N
//! executions since it was last pruned, so each job is pruned every N/10 executions
//! rather than after each, and the jobs due are pruned together, 512 to a statement. It
//! runs on the writers' thread and gives way to a burst of ticks starting, as the other
//! writers do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::writer_thread::GiveWay;
use crate::store::ExecutionStore;

/// How often the pruner looks for work.
const PRUNE_EVERY: Duration = Duration::from_secs(5);
/// How often executions past the maximum age are deleted.
const AGE_PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Jobs pruned per transaction: a power of two, so that the store prunes them in one
/// statement (its bulk statements come in sizes of powers of two).
const JOBS_PER_PRUNE: usize = 512;

/// What to keep, and which jobs gained executions.
pub struct Retention {
    keep_last: Option<u32>,
    max_age: Option<Duration>,
    gained: Mutex<HashMap<i64, u32>>,
}

impl Retention {
    /// Keeps the newest `keep_last` per job and nothing older than `max_age`.
    pub fn new(keep_last: Option<u32>, max_age: Option<Duration>) -> Self {
        Self {
            keep_last: keep_last.map(|n| n.max(1)),
            max_age,
            gained: Mutex::new(HashMap::new()),
        }
    }

    /// Counts finished executions per job.
    pub fn note_finished(&self, job_ids: impl Iterator<Item = i64>) {
        if self.keep_last.is_none() {
            return;
        }
        let mut gained = self.gained.lock().unwrap_or_else(|p| p.into_inner());
        for id in job_ids {
            *gained.entry(id).or_default() += 1;
        }
    }

    /// The jobs due for pruning, forgotten as they are returned.
    fn take_due(&self, threshold: u32) -> Vec<i64> {
        let mut gained = self.gained.lock().unwrap_or_else(|p| p.into_inner());
        let due: Vec<i64> = gained
            .iter()
            .filter(|(_, count)| **count >= threshold)
            .map(|(id, _)| *id)
            .collect();
        for id in &due {
            gained.remove(id);
        }
        due
    }

    /// Prunes until `stop` is cancelled.
    pub(super) async fn run(
        self: Arc<Self>,
        store: Arc<dyn ExecutionStore>,
        stop: CancellationToken,
        give_way: GiveWay,
    ) {
        let mut since_age_prune = Duration::ZERO;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(PRUNE_EVERY) => {}
                _ = stop.cancelled() => return,
            }
            if let Some(keep) = self.keep_last {
                let due = self.take_due((keep / 10).max(1));
                for chunk in due.chunks(JOBS_PER_PRUNE) {
                    give_way.to_executions(GiveWay::MOST).await;
                    if let Err(error) = store.prune_executions(chunk, keep).await {
                        tracing::warn!(%error, "pruning executions failed");
                    }
                }
            }
            since_age_prune += PRUNE_EVERY;
            if let Some(max_age) = self.max_age
                && since_age_prune >= AGE_PRUNE_EVERY
            {
                since_age_prune = Duration::ZERO;
                give_way.to_executions(GiveWay::MOST).await;
                let before = Utc::now() - chrono::Duration::from_std(max_age).unwrap_or_default();
                if let Err(error) = store.prune_finished_before(before).await {
                    tracing::warn!(%error, "pruning old executions failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_due_after_gaining_the_threshold() {
        let retention = Retention::new(Some(100), None);
        retention.note_finished([1, 1, 2].into_iter());
        assert_eq!(retention.take_due(2), vec![1]);
        assert!(retention.take_due(2).is_empty());
        retention.note_finished([2].into_iter());
        assert_eq!(retention.take_due(2), vec![2]);
    }
}
