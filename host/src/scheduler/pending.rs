//! Ticks claimed and waiting for their instant, by job: when a job is changed, disabled
//! or deleted, its waiting ticks are called off at once (their executions are discarded)
//! instead of running with what the job no longer says. An entry lives only while the
//! job has a waiting tick.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;

/// The waiting ticks of every job.
#[derive(Default)]
pub struct PendingTicks {
    jobs: Mutex<HashMap<i64, Waiting>>,
    generations: std::sync::atomic::AtomicU64,
}

/// One job's waiting ticks: the token that calls them off, and how many there are.
struct Waiting {
    generation: u64,
    token: CancellationToken,
    count: usize,
}

/// What a waiting tick holds: which generation of its job's entry it counts in.
pub struct Ticket {
    job_id: i64,
    generation: u64,
    /// Cancelled when the job changes.
    pub called_off: CancellationToken,
}

impl PendingTicks {
    /// A tick of `job_id` starts waiting.
    pub fn add(&self, job_id: i64) -> Ticket {
        let mut jobs = self.lock();
        let waiting = jobs.entry(job_id).or_insert_with(|| Waiting {
            generation: self
                .generations
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            token: CancellationToken::new(),
            count: 0,
        });
        waiting.count += 1;
        Ticket {
            job_id,
            generation: waiting.generation,
            called_off: waiting.token.clone(),
        }
    }

    /// A tick stopped waiting (it is due, or was called off).
    pub fn remove(&self, ticket: Ticket) {
        let mut jobs = self.lock();
        if let Some(waiting) = jobs.get_mut(&ticket.job_id)
            && waiting.generation == ticket.generation
        {
            waiting.count -= 1;
            if waiting.count == 0 {
                jobs.remove(&ticket.job_id);
            }
        }
    }

    /// Calls off every waiting tick of `job_id`.
    pub fn call_off(&self, job_id: i64) {
        if let Some(waiting) = self.lock().remove(&job_id) {
            waiting.token.cancel();
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Waiting>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calling_off_cancels_the_waiting_ticks_of_that_job_only() {
        let pending = PendingTicks::default();
        let a = pending.add(1);
        let b = pending.add(2);
        pending.call_off(1);
        assert!(a.called_off.is_cancelled());
        assert!(!b.called_off.is_cancelled());
        // A tick of the new generation is not miscounted by one of the old.
        let c = pending.add(1);
        pending.remove(a);
        assert_eq!(pending.lock()[&1].count, 1);
        pending.remove(c);
        pending.remove(b);
        assert!(pending.lock().is_empty());
    }
}
