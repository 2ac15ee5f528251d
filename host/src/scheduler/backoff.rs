//! The delay before a retry: exponential from the job's `retry_backoff.initial`, doubled
//! per attempt up to `retry_backoff.max`, plus up to `jitter` of it at random so that many
//! jobs failing together do not retry together.

use std::time::Duration;

use sandcron_sdk::duration::parse_duration;

use crate::jobs::RetryBackoff;

/// The delay before attempt `next_attempt` (2 for the first retry). `random` is a number
/// in `[0, 1)`.
pub fn retry_delay(backoff: &RetryBackoff, next_attempt: u32, random: f64) -> Duration {
    let defaults = RetryBackoff::default();
    let initial = parse_duration(&backoff.initial)
        .or_else(|_| parse_duration(&defaults.initial))
        .unwrap_or(Duration::from_secs(1));
    let max = parse_duration(&backoff.max)
        .unwrap_or(Duration::from_secs(300))
        .max(initial);
    let doublings = next_attempt.saturating_sub(2).min(32);
    let base = initial.saturating_mul(1 << doublings.min(31)).min(max);
    let jitter = backoff.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0);
    base.mul_f64(1.0 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(initial: &str, max: &str, jitter: f64) -> RetryBackoff {
        RetryBackoff {
            initial: initial.into(),
            max: max.into(),
            jitter,
        }
    }

    #[test]
    fn doubles_up_to_the_maximum() {
        let b = backoff("1s", "5s", 0.0);
        let delays: Vec<u64> = (2..7).map(|a| retry_delay(&b, a, 0.5).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
    }

    #[test]
    fn jitter_adds_at_most_its_fraction() {
        let b = backoff("10s", "1m", 0.5);
        assert_eq!(retry_delay(&b, 2, 0.0), Duration::from_secs(10));
        assert_eq!(retry_delay(&b, 2, 0.999).as_millis(), 14_995);
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let b = backoff("1s", "1h", 0.1);
        assert!(retry_delay(&b, u32::MAX, 0.9) <= Duration::from_secs(3960));
    }
}
