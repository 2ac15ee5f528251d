//! The claim loop: as soon as the earliest next tick enters the horizon (within a quarter
//! second to half a horizon of its last claim, or as soon as a job changes), claims the
//! ticks due within the horizon from the store, a batch per transaction, and hands each
//! to the dispatcher, which waits for its instant. The cost of a claim is an index range
//! scan over the due ticks: nothing is proportional to the number of jobs. A claim made
//! ahead of its ticks (after a pause, or after a claim whose ticks were all at least half
//! a horizon away) keeps clear of a burst of ticks: it waits for one about to start
//! ([`HandedOut`]) and gives way to one starting. A claim that is behind does not.
//!
//! Also the rule for a job's next tick ([`plan_next`]) and the misfire policies applied
//! at start-up ([`apply_misfire_policies`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Inner;
use super::dispatch::Run;
use super::writer_thread::GiveWay;
use crate::jobs::{JobSpec, Misfire};
use crate::store::{ClaimShare, DueJob, StoreError, Trigger};
use sandcron_schedule::Schedule;

/// How often a node that shares the jobs looks for ticks other nodes left: several times
/// within the last half horizon before a tick (when that tick is anyone's, see
/// [`Inner::claim_share`]), so that such a tick still fires on time.
const SHARED_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// Ticks due at one instant from which on a claim keeps clear of it: starting them takes
/// both cores of a small machine for milliseconds, and a claim running meanwhile takes
/// CPU from them (docs/benchmarks.md).
const DENSE: usize = 1000;

/// How long before a dense instant a claim is not begun, beyond the last claim's duration.
const CLEARANCE: Duration = Duration::from_millis(20);

/// How long after their instant a burst's ticks are surely queued to start.
const QUEUED_AFTER: Duration = Duration::from_millis(5);

/// The shortest pause of the loop once nothing more is due within its horizon: ticks
/// spread over many instants are claimed a quarter of a second's worth at a time, not one
/// instant at a time.
const SHORTEST_PAUSE: Duration = Duration::from_millis(250);

/// How long after its tick a job counts as having missed it while no node was running.
const MISFIRE_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// The job's schedule, or `None` for a child job or a bad stored schedule.
pub(super) fn schedule_of(spec: &JobSpec) -> Option<Schedule> {
    if !spec.parent_job.is_empty() || spec.schedule.is_empty() {
        return None;
    }
    let timezone = Some(spec.timezone.as_str()).filter(|tz| !tz.is_empty());
    Schedule::parse(&spec.schedule, timezone, &spec.name).ok()
}

/// The first tick of a job after `after`, not before `now`, within its time bounds;
/// `None` when it is disabled, a child, or has no tick left. An `@every` series keeps its
/// phase: a late claim skips ahead by whole intervals instead of firing every missed one.
pub(super) fn plan_next(
    spec: &JobSpec,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if spec.disabled {
        return None;
    }
    let schedule = schedule_of(spec)?;
    let not_before = spec.starts_at.map_or(now, |start| start.max(now));
    schedule.next_within(after, Some(not_before), spec.expires_at)
}

/// When a job fires next, whether or not that tick is claimed yet: what the API shows as
/// `next`. The claim stores a job's tick after the one it claims (up to a horizon before
/// that one fires), so `stored` alone would show the tick after next; the earliest tick of
/// the schedule after `now`, when it is not later than `stored`, is the one about to fire.
/// An `@every` series is stepped back from `stored` by whole intervals (it keeps its
/// phase); an `@at` job still shows its instant once claimed.
pub fn next_fire(
    spec: &JobSpec,
    stored: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if spec.disabled {
        return stored;
    }
    let Some(schedule) = schedule_of(spec) else {
        return stored;
    };
    let pending = match (&schedule, stored) {
        (Schedule::Every(interval), Some(next)) if next > now => {
            let step = interval.num_milliseconds().max(1);
            let steps_back = ((next - now).num_milliseconds() - 1) / step;
            Some(next - chrono::TimeDelta::milliseconds(steps_back * step))
                .filter(|tick| spec.starts_at.is_none_or(|start| *tick >= start))
        }
        (Schedule::Every(_), _) => None,
        _ => schedule.next_within(now, spec.starts_at, spec.expires_at),
    };
    match (pending, stored) {
        (Some(pending), Some(stored)) => Some(pending.min(stored)),
        (pending, None) => pending,
        (None, stored) => stored,
    }
}

/// Applies each job's misfire policy to ticks missed while no node was running: `skip`
/// moves the job to its next tick from now, `run_once` makes it fire once now.
pub(super) async fn apply_misfire_policies(inner: &Inner) -> Result<u64, StoreError> {
    let now = Utc::now();
    let plan = move |job: &DueJob| match job.spec.misfire {
        Misfire::Skip => plan_next(&job.spec, job.scheduled_at, now),
        Misfire::RunOnce => (!job.spec.disabled).then_some(now),
    };
    inner
        .executions
        .reschedule_overdue(now - MISFIRE_GRACE, &plan)
        .await
}

/// Claims and hands out ticks until the scheduler stops.
pub(super) async fn claim_loop(inner: Arc<Inner>, give_way: GiveWay) {
    let horizon = chrono::Duration::from_std(inner.config.horizon)
        .unwrap_or(chrono::TimeDelta::milliseconds(500));
    let longest_pause = inner.config.horizon / 2;
    // A claim made ahead takes ticks at least half a horizon away: an eighth of it spent
    // giving way leaves them claimed well before their instant.
    let most_given_way = GiveWay::MOST.min(inner.config.horizon / 8);
    let batch = inner.config.claim_batch.max(1);
    let mut ahead = false;
    let mut handed_out = HandedOut::default();
    let mut last_took = Duration::ZERO;
    while !inner.stopping.is_cancelled() {
        handed_out.forget_before(Utc::now());
        if std::mem::take(&mut ahead) {
            if let Some(burst) = handed_out.dense_within(Utc::now(), last_took + CLEARANCE) {
                // Just past the instant, its ticks are queued on the executions' runtime,
                // and giving way waits for them to start.
                let wait = (burst - Utc::now()).to_std().unwrap_or_default() + QUEUED_AFTER;
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = inner.stopping.cancelled() => {}
                }
            }
            give_way.to_executions(most_given_way).await;
        }
        let now = Utc::now();
        let until = now + horizon;
        let soonest = AtomicI64::new(i64::MAX);
        let plan = |job: &DueJob| {
            let next = plan_next(&job.spec, job.scheduled_at, now);
            if let Some(next) = next {
                soonest.fetch_min(next.timestamp_millis(), Ordering::Relaxed);
            }
            next
        };
        let share = inner.claim_share(now, horizon);
        // Before the claim: a job changed while it runs calls its ticks off.
        let claimed_at = std::time::Instant::now();
        match inner
            .executions
            .claim_due(&inner.config.node, until, batch, share, &plan)
            .await
        {
            Ok(ticks) => {
                last_took = claimed_at.elapsed();
                let claim_ended = Utc::now();
                let late_ms = ticks
                    .iter()
                    .map(|tick| (claim_ended - tick.job.scheduled_at).num_milliseconds())
                    .max()
                    .unwrap_or(0);
                tracing::debug!(
                    ticks = ticks.len(),
                    took = ?claimed_at.elapsed(),
                    late_ms,
                    "claimed"
                );
                let late = std::time::Duration::from_millis(late_ms.max(0) as u64);
                inner.metrics.claimed(ticks.len(), late);
                let full = ticks.len() == batch;
                let latest = ticks.iter().map(|tick| tick.job.scheduled_at).max();
                // Each execution's span follows from its claim's.
                let span = match ticks.is_empty() {
                    true => tracing::Span::none(),
                    false => super::spans::claim_batch(
                        ticks.len(),
                        late_ms,
                        claimed_at.elapsed().as_millis(),
                    ),
                };
                let _in_batch = span.enter();
                for tick in ticks {
                    let Some(execution_id) = tick.execution else {
                        inner
                            .metrics
                            .skipped(&inner.labels(tick.job.tenant, &tick.job.spec));
                        continue;
                    };
                    // The tick waits for its instant holding its spec, and so do the
                    // 100,000 others due then: without `metadata`, which only the API
                    // reads (no execution, processor or notification does).
                    let mut spec = tick.job.spec;
                    spec.metadata.clear();
                    let run = Run {
                        tenant: tick.job.tenant,
                        job_id: tick.job.id,
                        spec: Arc::new(spec),
                        execution_id,
                        group: tick.group,
                        attempt: 1,
                        scheduled_at: tick.job.scheduled_at,
                        trigger: Trigger::Schedule,
                        has_dependents: tick.job.has_dependents,
                        registered: None,
                        slot: None,
                        claimed_at,
                    };
                    handed_out.add(run.scheduled_at);
                    if run.spec.tags.is_empty() {
                        inner.spawn_run(run);
                    } else {
                        inner.spawn_placing(run);
                    }
                }
                // More are due now, or a job fires again within the horizon.
                if full || soonest.load(Ordering::Relaxed) <= until.timestamp_millis() {
                    ahead = latest.is_some_and(|latest| latest > Utc::now() + horizon / 2);
                    continue;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "claiming due ticks failed; retrying in a second");
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    _ = inner.stopping.cancelled() => {}
                }
                continue;
            }
        }
        let earliest = match inner.executions.earliest_due().await {
            Ok(earliest) => earliest,
            Err(error) => {
                tracing::debug!(%error, "reading the earliest tick failed");
                None
            }
        };
        let pause = pause_before(earliest, Utc::now(), horizon, longest_pause);
        let pause = if share.is_some() {
            pause.min(SHARED_PAUSE)
        } else {
            pause
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = inner.wake.notified() => {}
            _ = inner.stopping.cancelled() => {}
        }
        ahead = true;
    }
}

/// How long the claim loop pauses once nothing more is due within its `horizon`: until
/// the `earliest` next tick enters it, so that the claim of an instant begins a whole
/// horizon ahead (100,000 ticks due at once take SQLite more than a second to claim:
/// begun only half a horizon ahead, a burst's last ticks were claimed after their
/// instant), but at least [`SHORTEST_PAUSE`] and at most `longest`.
fn pause_before(
    earliest: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    horizon: chrono::TimeDelta,
    longest: Duration,
) -> Duration {
    let Some(earliest) = earliest else {
        return longest;
    };
    (earliest - horizon - now)
        .to_std()
        .unwrap_or_default()
        .clamp(SHORTEST_PAUSE.min(longest), longest)
}

/// The instants of the ticks the loop handed out that are still to come, with how many
/// are due at each: where the bursts are.
#[derive(Default)]
struct HandedOut {
    due: BTreeMap<DateTime<Utc>, usize>,
}

impl HandedOut {
    fn add(&mut self, at: DateTime<Utc>) {
        *self.due.entry(at).or_default() += 1;
    }

    /// Forgets the instants before `now`, whether or not the loop is ahead.
    fn forget_before(&mut self, now: DateTime<Utc>) {
        self.due = self.due.split_off(&now);
    }

    /// The first instant from `now` to `within` after it at which at least [`DENSE`]
    /// ticks are due.
    fn dense_within(&self, now: DateTime<Utc>, within: Duration) -> Option<DateTime<Utc>> {
        let until = now + chrono::Duration::from_std(within).ok()?;
        self.due
            .range(..=until)
            .find(|(_, due)| **due >= DENSE)
            .map(|(at, _)| *at)
    }
}

impl Inner {
    /// This node's share of the jobs, among the members whose heartbeat is fresh (by name);
    /// `None` when it is alone, or not among them yet. Each node claims its share a whole
    /// horizon ahead, so a tick still unclaimed half a horizon before its instant belongs
    /// to a node that is slow, dead, or not yet seen to be gone: it is anyone's, and still
    /// fires on time.
    fn claim_share(&self, now: DateTime<Utc>, horizon: chrono::TimeDelta) -> Option<ClaimShare> {
        let mut names: Vec<String> = self
            .fresh_members()
            .into_iter()
            .map(|member| member.name)
            .collect();
        if names.len() < 2 {
            return None;
        }
        names.sort_unstable();
        let index = names.iter().position(|name| *name == self.config.node)?;
        Some(ClaimShare {
            of: u32::try_from(names.len()).ok()?,
            index: u32::try_from(index).ok()?,
            anyones_after: now + horizon / 2,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> JobSpec {
        serde_json::from_str(json).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_late_every_series_skips_ahead_and_keeps_its_phase() {
        let job = spec(r#"{"name": "j", "schedule": "@every 10s"}"#);
        let next = plan_next(&job, at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:35Z"));
        assert_eq!(next, Some(at("2026-01-01T00:00:40Z")));
    }

    #[test]
    fn an_early_claim_gives_the_following_tick() {
        let job = spec(r#"{"name": "j", "schedule": "@every 10s"}"#);
        let next = plan_next(
            &job,
            at("2026-01-01T00:00:10Z"),
            at("2026-01-01T00:00:09.6Z"),
        );
        assert_eq!(next, Some(at("2026-01-01T00:00:20Z")));
    }

    #[test]
    fn disabled_children_and_expired_jobs_have_no_next_tick() {
        let now = at("2026-01-01T00:00:00Z");
        for json in [
            r#"{"name": "j", "schedule": "@every 1s", "disabled": true}"#,
            r#"{"name": "j", "schedule": "@every 1s", "parent_job": "p"}"#,
            r#"{"name": "j", "schedule": "@every 1s", "expires_at": "2025-12-31T00:00:00Z"}"#,
        ] {
            assert_eq!(plan_next(&spec(json), now, now), None, "{json}");
        }
    }

    #[test]
    fn next_is_the_claimed_tick_about_to_fire() {
        let now = at("2026-01-01T07:08:12.700Z");
        let daily = spec(r#"{"name": "j", "schedule": "14 8 7 * * *"}"#);
        // The claim took today's 07:08:14 and stored tomorrow's.
        let stored = Some(at("2026-01-02T07:08:14Z"));
        assert_eq!(
            next_fire(&daily, stored, now),
            Some(at("2026-01-01T07:08:14Z"))
        );
        let every_second = spec(r#"{"name": "j", "schedule": "* * * * * *"}"#);
        let stored = Some(at("2026-01-01T07:08:14Z"));
        assert_eq!(
            next_fire(&every_second, stored, now),
            Some(at("2026-01-01T07:08:13Z"))
        );
        // An unclaimed tick is the stored one.
        assert_eq!(
            next_fire(&daily, Some(at("2026-01-01T07:08:14Z")), now),
            Some(at("2026-01-01T07:08:14Z"))
        );
    }

    #[test]
    fn next_of_an_every_series_and_an_at_job_once_claimed() {
        let now = at("2026-01-01T00:00:00.300Z");
        let every = spec(r#"{"name": "j", "schedule": "@every 500ms"}"#);
        // Claimed 00.500 and 01.000, stored 01.500.
        let stored = Some(at("2026-01-01T00:00:01.500Z"));
        assert_eq!(
            next_fire(&every, stored, now),
            Some(at("2026-01-01T00:00:00.500Z"))
        );
        let once = spec(r#"{"name": "j", "schedule": "@at 2026-01-01T00:00:01Z"}"#);
        assert_eq!(
            next_fire(&once, None, now),
            Some(at("2026-01-01T00:00:01Z"))
        );
        let disabled = spec(r#"{"name": "j", "schedule": "@every 1s", "disabled": true}"#);
        assert_eq!(next_fire(&disabled, None, now), None);
    }

    #[test]
    fn a_claim_keeps_clear_of_a_dense_instant_about_to_come() {
        let now = at("2026-01-01T00:00:00.900Z");
        let mut handed_out = HandedOut::default();
        for _ in 0..DENSE - 1 {
            handed_out.add(at("2026-01-01T00:00:00.950Z"));
        }
        for _ in 0..DENSE {
            handed_out.add(at("2026-01-01T00:00:00.500Z"));
            handed_out.add(at("2026-01-01T00:00:01Z"));
            handed_out.add(at("2026-01-01T00:00:02Z"));
        }
        let soon = Duration::from_millis(150);
        handed_out.forget_before(now);
        // The past burst is forgotten, the smaller instant passed over.
        assert_eq!(
            handed_out.dense_within(now, soon),
            Some(at("2026-01-01T00:00:01Z"))
        );
        assert_eq!(
            handed_out.dense_within(now, Duration::from_millis(50)),
            None
        );
        assert_eq!(handed_out.due.len(), 3);
    }

    #[test]
    fn the_loop_wakes_as_the_earliest_tick_enters_its_horizon() {
        let now = at("2026-01-01T00:00:00Z");
        let horizon = chrono::TimeDelta::seconds(2);
        let longest = Duration::from_secs(1);
        let pause = |earliest: &str| pause_before(Some(at(earliest)), now, horizon, longest);
        // Enters the horizon in 600 ms: the claim begins then, two seconds ahead.
        assert_eq!(
            pause("2026-01-01T00:00:02.600Z"),
            Duration::from_millis(600)
        );
        // Far away, or no tick at all: the longest pause.
        assert_eq!(pause("2026-01-01T00:00:09Z"), longest);
        assert_eq!(pause_before(None, now, horizon, longest), longest);
        // Already within it (a tick spread just after the last claim): the shortest.
        assert_eq!(pause("2026-01-01T00:00:02.010Z"), SHORTEST_PAUSE);
        assert_eq!(pause("2026-01-01T00:00:01Z"), SHORTEST_PAUSE);
    }

    #[test]
    fn starts_at_holds_the_first_tick_back() {
        let job = spec(
            r#"{"name": "j", "schedule": "0 0 * * * *", "starts_at": "2026-01-01T05:30:00Z"}"#,
        );
        let now = at("2026-01-01T00:00:00Z");
        assert_eq!(plan_next(&job, now, now), Some(at("2026-01-01T06:00:00Z")));
    }
}
