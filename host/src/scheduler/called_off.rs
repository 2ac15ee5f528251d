//! Jobs whose waiting ticks were called off: when a job is changed, disabled or deleted,
//! the ticks already claimed for it must not run with what the job no longer says. The
//! admin side records the instant just before it writes the change; a tick claimed before
//! that instant is dropped when it wakes, with its `scheduled` record. Costs a lookup in a
//! map that is almost always empty per tick, nothing more.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a call-off is remembered: longer than any claim horizon or retry wait that a
/// tick claimed before it could still be in.
const REMEMBER: Duration = Duration::from_secs(3600);

/// When each recently changed job was changed.
#[derive(Default)]
pub struct CalledOff {
    jobs: Mutex<HashMap<i64, Instant>>,
}

impl CalledOff {
    /// Calls off every tick of `job_id` claimed before now.
    pub fn call_off(&self, job_id: i64) {
        self.call_off_all([job_id]);
    }

    /// Calls off the claimed ticks of every job of `job_ids`, as [`Self::call_off`].
    pub fn call_off_all(&self, job_ids: impl IntoIterator<Item = i64>) {
        let now = Instant::now();
        let mut jobs = self.lock();
        jobs.retain(|_, at| now.duration_since(*at) < REMEMBER);
        jobs.extend(job_ids.into_iter().map(|id| (id, now)));
    }

    /// Whether a tick of `job_id` claimed at `claimed_at` was called off.
    pub fn is_called_off(&self, job_id: i64, claimed_at: Instant) -> bool {
        let jobs = self.lock();
        !jobs.is_empty() && jobs.get(&job_id).is_some_and(|at| *at >= claimed_at)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Instant>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ticks_claimed_before_the_change_of_that_job_are_called_off() {
        let called_off = CalledOff::default();
        let before = Instant::now();
        called_off.call_off(1);
        let after = Instant::now() + Duration::from_millis(1);
        assert!(called_off.is_called_off(1, before));
        assert!(!called_off.is_called_off(1, after));
        assert!(!called_off.is_called_off(2, before));
    }
}
