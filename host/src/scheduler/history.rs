//! The last hour of this node's executions, minute by minute and tenant by tenant: how
//! many started, succeeded and failed, and how late they started. What the console's
//! overview charts (`GET /v1/stats`); Prometheus' counters (`metrics.rs`) are for
//! scrapers, which keep their own history.
//!
//! Each tenant has a ring of sixty one-minute slots, reused as the minutes go by, so the
//! cost per execution is a lock and a few additions, whatever the rate. Lateness is kept
//! as a histogram with buckets a half power of two apart (1 ms, 1.4 ms, 2 ms, … 17
//! minutes), so a percentile is known to within 41%.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::store::TenantId;

/// Minutes kept.
pub const MINUTES: usize = 60;

/// Lateness buckets: bucket `i` holds what is at most 2^(i/2) ms late; the last also
/// holds anything later.
const BUCKETS: usize = 41;

/// One minute of one tenant's executions on this node.
#[derive(Clone, Copy)]
struct Slot {
    /// Minutes since the Unix epoch; a slot of another minute is stale.
    minute: i64,
    started: u64,
    succeeded: u64,
    failed: u64,
    lateness: [u64; BUCKETS],
}

impl Slot {
    const fn empty(minute: i64) -> Self {
        Self {
            minute,
            started: 0,
            succeeded: 0,
            failed: 0,
            lateness: [0; BUCKETS],
        }
    }

    fn add(&mut self, other: &Slot) {
        self.started += other.started;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        for (mine, theirs) in self.lateness.iter_mut().zip(&other.lateness) {
            *mine += theirs;
        }
    }

    /// The 99th percentile of the lateness, as the upper bound of its bucket.
    fn lateness_p99(&self) -> Option<Duration> {
        let count: u64 = self.lateness.iter().sum();
        if count == 0 {
            return None;
        }
        let rank = count - count / 100;
        let mut seen = 0;
        let bucket = self
            .lateness
            .iter()
            .position(|n| {
                seen += n;
                seen >= rank
            })
            .unwrap_or(BUCKETS - 1);
        Some(Duration::from_secs_f64(bucket_bound_ms(bucket) / 1e3))
    }
}

fn bucket_bound_ms(bucket: usize) -> f64 {
    2f64.powf(bucket as f64 / 2.0)
}

fn bucket_of(lateness: Duration) -> usize {
    let millis = lateness.as_secs_f64() * 1e3;
    if millis <= 1.0 {
        return 0;
    }
    ((2.0 * millis.log2()).ceil() as usize).min(BUCKETS - 1)
}

/// One minute as the stats show it.
#[derive(Clone, Debug, PartialEq)]
pub struct MinuteStats {
    /// The minute's first instant.
    pub minute: DateTime<Utc>,
    /// Executions started in it.
    pub started: u64,
    /// Executions that ended with success in it.
    pub succeeded: u64,
    /// Executions that ended with a failure in it.
    pub failed: u64,
    /// The 99th percentile of start lateness in it; `None` when nothing started.
    pub lateness_p99: Option<Duration>,
}

/// The rings of every tenant that ran something here in the last hour.
#[derive(Default)]
pub struct History {
    rings: Mutex<HashMap<TenantId, Box<[Slot; MINUTES]>>>,
}

impl History {
    /// An execution of `tenant` started at `now`, `lateness` after its scheduled instant.
    pub fn started(&self, tenant: TenantId, now: DateTime<Utc>, lateness: Duration) {
        self.with_slot(tenant, now, |slot| {
            slot.started += 1;
            slot.lateness[bucket_of(lateness)] += 1;
        });
    }

    /// An execution of `tenant` ended at `now`.
    pub fn finished(&self, tenant: TenantId, now: DateTime<Utc>, success: bool) {
        self.with_slot(tenant, now, |slot| match success {
            true => slot.succeeded += 1,
            false => slot.failed += 1,
        });
    }

    fn with_slot(&self, tenant: TenantId, now: DateTime<Utc>, change: impl FnOnce(&mut Slot)) {
        let minute = minute_of(now);
        let mut rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        let ring = rings
            .entry(tenant)
            .or_insert_with(|| Box::new([Slot::empty(i64::MIN); MINUTES]));
        let slot = &mut ring[minute.rem_euclid(MINUTES as i64) as usize];
        if slot.minute != minute {
            *slot = Slot::empty(minute);
        }
        change(slot);
    }

    /// The sixty minutes up to and including the one of `now`, oldest first, of `tenant`
    /// (or of every tenant together when `None`).
    pub fn last_hour(&self, tenant: Option<TenantId>, now: DateTime<Utc>) -> Vec<MinuteStats> {
        let current = minute_of(now);
        let first = current - MINUTES as i64 + 1;
        let mut sums: Vec<Slot> = (first..=current).map(Slot::empty).collect();
        let mut rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        // A tenant silent for an hour has nothing left to show.
        rings.retain(|_, ring| ring.iter().any(|slot| slot.minute >= first));
        for (owner, ring) in rings.iter() {
            if tenant.is_some_and(|wanted| wanted != *owner) {
                continue;
            }
            for slot in ring.iter().filter(|slot| slot.minute >= first) {
                if let Some(sum) = sums.get_mut((slot.minute - first) as usize) {
                    sum.add(slot);
                }
            }
        }
        drop(rings);
        sums.iter()
            .map(|slot| MinuteStats {
                minute: DateTime::UNIX_EPOCH + TimeDelta::minutes(slot.minute),
                started: slot.started,
                succeeded: slot.succeeded,
                failed: slot.failed,
                lateness_p99: slot.lateness_p99(),
            })
            .collect()
    }
}

fn minute_of(time: DateTime<Utc>) -> i64 {
    time.timestamp().div_euclid(60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64, second: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::minutes(minute) + TimeDelta::seconds(second)
    }

    #[test]
    fn each_minute_counts_its_own_executions_per_tenant() {
        let history = History::default();
        let (a, b): (TenantId, TenantId) = (1, 2);
        history.started(a, at(1000, 5), Duration::from_millis(3));
        history.finished(a, at(1000, 6), true);
        history.started(a, at(1001, 0), Duration::from_millis(3));
        history.finished(a, at(1001, 1), false);
        history.started(b, at(1001, 2), Duration::from_millis(3));

        let hour = history.last_hour(Some(a), at(1001, 30));
        assert_eq!(hour.len(), MINUTES);
        assert_eq!(hour[MINUTES - 1].minute, at(1001, 0));
        assert_eq!(
            (hour[MINUTES - 2].started, hour[MINUTES - 2].succeeded),
            (1, 1)
        );
        assert_eq!(
            (hour[MINUTES - 1].started, hour[MINUTES - 1].failed),
            (1, 1)
        );
        assert_eq!(
            history.last_hour(None, at(1001, 30))[MINUTES - 1].started,
            2
        );
        assert_eq!(
            history.last_hour(Some(b), at(1001, 30))[MINUTES - 2].started,
            0
        );
    }

    #[test]
    fn a_slot_an_hour_old_is_reused_not_added_to() {
        let history = History::default();
        let tenant: TenantId = 1;
        history.started(tenant, at(1000, 0), Duration::ZERO);
        history.started(tenant, at(1000 + MINUTES as i64, 0), Duration::ZERO);
        let hour = history.last_hour(Some(tenant), at(1000 + MINUTES as i64, 0));
        assert_eq!(hour.iter().map(|m| m.started).sum::<u64>(), 1);
    }

    #[test]
    fn the_p99_is_the_bound_of_the_bucket_it_falls_in() {
        let history = History::default();
        let tenant: TenantId = 1;
        for _ in 0..99 {
            history.started(tenant, at(5, 0), Duration::from_millis(1));
        }
        history.started(tenant, at(5, 0), Duration::from_secs(3));
        let p99 = history.last_hour(Some(tenant), at(5, 0))[MINUTES - 1].lateness_p99;
        assert_eq!(p99, Some(Duration::from_millis(1)));
        history.started(tenant, at(5, 0), Duration::from_secs(3));
        let p99 = history.last_hour(Some(tenant), at(5, 0))[MINUTES - 1]
            .lateness_p99
            .unwrap();
        assert!(
            p99 >= Duration::from_secs(3) && p99 < Duration::from_secs(5),
            "{p99:?}"
        );
    }
}
