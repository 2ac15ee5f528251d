//! Membership and take-over: this node's `members` row (written when it starts, its
//! heartbeat refreshed every second), the members as last read (what tags target), and
//! what happens to a node that dies.
//!
//! Every [`TICK`] the membership loop picks up the scheduled executions other nodes handed
//! to this one (a dead node's unstarted ticks, a tick whose job's tags chose this node)
//! and dispatches them. Every second it also beats, reads the members, and tries to take
//! over each member that looks dead: the store's conditional update lets exactly one
//! survivor win; the winner closes the dead node's running executions as failed
//! (`node lost`), retries them per the job's `retries`, and gets its unstarted ticks.
//! The ticks the dead node would have claimed later are still due in `job_state`, where
//! every other node's claim finds them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::Inner;
use super::dispatch::Run;
use crate::store::{DeadRule, ExecutionRecord, Member, StoreError};

/// How often handed executions are picked up.
pub(super) const TICK: Duration = Duration::from_millis(250);

/// Ticks per heartbeat (one a second).
const TICKS_PER_BEAT: u32 = 4;

/// A member is only targeted by tags, and given a share of the jobs, while its heartbeat
/// is younger than this.
const GONE_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(3);

/// A member that missed a heartbeat (one a second) and whose process is certainly gone
/// (its session's advisory lock is free) is dead before `dead_after`: the ticks it had
/// claimed are handed to a survivor this soon after a crash, plus up to a beat.
const CRASHED_AFTER: chrono::TimeDelta = chrono::TimeDelta::milliseconds(1500);

/// A member that died and was taken over is forgotten (its row deleted, so that
/// `GET /v1/members` does not list it for ever) this long after its last heartbeat. Its
/// executions keep its name.
const FORGOTTEN_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Beats between two looks for members to forget.
const BEATS_PER_FORGET: u32 = 60;

/// The reason of an execution that was running on a node that died.
pub(super) const NODE_LOST: &str = "node lost";

/// The reason of an execution that was running when this node's previous process died.
pub(super) const HOST_RESTARTED: &str = "host restarted";

/// The members as one reading of the store found them.
#[derive(Default)]
pub(super) struct MemberView {
    /// When the reading began: a heartbeat is judged fresh against this instant.
    read_at: DateTime<Utc>,
    members: Vec<Member>,
}

impl Inner {
    /// This node's member row as it starts.
    pub(super) fn member(&self) -> Member {
        let now = Utc::now();
        Member {
            name: self.config.node.clone(),
            address: self.config.address.clone(),
            tags: self.config.tags.clone(),
            started_at: now,
            heartbeat_at: now,
        }
    }

    /// Whether a member's heartbeat is recent enough to count it alive.
    pub(super) fn is_alive(&self, member: &Member) -> bool {
        let dead_after =
            chrono::Duration::from_std(self.config.dead_after).unwrap_or(chrono::TimeDelta::MAX);
        Utc::now() - member.heartbeat_at <= dead_after
    }

    /// The members whose heartbeat was fresh when last read: what tags can target and
    /// what the jobs are shared out among. Freshness is judged at the reading, not now, so
    /// a node whose own reading is late (a busy process) keeps its last view of the others
    /// instead of believing itself alone and claiming every job.
    pub(super) fn fresh_members(&self) -> Vec<Member> {
        let view = self.members.read().unwrap_or_else(|p| p.into_inner());
        view.members
            .iter()
            .filter(|member| view.read_at - member.heartbeat_at <= GONE_AFTER)
            .cloned()
            .collect()
    }

    /// Keeps `members`, read at `read_at`, as this node's view of the cluster, unless a
    /// later reading is kept already.
    fn remember(&self, read_at: DateTime<Utc>, members: Vec<Member>) {
        let mut view = self.members.write().unwrap_or_else(|p| p.into_inner());
        if read_at >= view.read_at {
            *view = MemberView { read_at, members };
        }
    }

    /// Takes over what this node's previous process left open: running executions are
    /// closed (`host restarted`) and retried per `retries`; unstarted ticks run now.
    pub(super) async fn take_over_own(self: &Arc<Self>) -> Result<(), StoreError> {
        let node = &self.config.node;
        if let Some(taken) = self
            .cluster
            .take_over(node, None, HOST_RESTARTED, node)
            .await?
        {
            if !taken.closed.is_empty() || taken.handed > 0 {
                tracing::warn!(
                    closed = taken.closed.len(),
                    unstarted = taken.handed,
                    "took over what a previous process of this node left open"
                );
            }
            self.retry_closed(taken.closed).await;
        }
        Ok(())
    }

    /// Retries executions closed by a take-over, per their jobs' `retries`.
    async fn retry_closed(self: &Arc<Self>, closed: Vec<(i64, ExecutionRecord)>) {
        for (job_id, record) in closed {
            let job = match self.jobs.get_job_by_id(job_id).await {
                Ok(Some(job)) => job,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%error, job = %record.job_name, "cannot read the job to retry");
                    continue;
                }
            };
            if record.attempt > job.spec.retries {
                continue;
            }
            let run = Run {
                tenant: job.tenant,
                job_id: job.id,
                has_dependents: !job.dependent_jobs.is_empty(),
                spec: Arc::new(job.spec),
                execution_id: record.id,
                group: record.group,
                attempt: record.attempt,
                scheduled_at: record.scheduled_at,
                trigger: record.trigger,
                registered: None,
                slot: None,
                claimed_at: Instant::now(),
            };
            if let Some(retry) = self.schedule_retry(&run).await {
                self.spawn_run(retry);
            }
        }
    }

    /// Beats, reads the members, and takes over those that died.
    async fn beat(self: &Arc<Self>) -> Result<(), StoreError> {
        let now = Utc::now();
        if !self.cluster.heartbeat(&self.config.node, now).await? {
            tracing::warn!("this node's member row was gone; joining again");
            self.cluster.join(&self.member()).await?;
        }
        let read_at = Utc::now();
        let members = self.cluster.list_members().await?;
        let dead = DeadRule {
            heartbeat_before: now
                - chrono::Duration::from_std(self.config.dead_after)
                    .unwrap_or(chrono::TimeDelta::MAX),
            gone_before: now - CRASHED_AFTER,
        };
        for member in &members {
            if member.name == self.config.node || member.heartbeat_at >= dead.gone_before {
                continue;
            }
            let taken = self
                .cluster
                .take_over(&member.name, Some(dead), NODE_LOST, &self.config.node)
                .await?;
            if let Some(taken) = taken {
                tracing::warn!(
                    node = %member.name,
                    closed = taken.closed.len(),
                    unstarted = taken.handed,
                    "took over a dead node's executions"
                );
                self.retry_closed(taken.closed).await;
            }
        }
        self.remember(read_at, members);
        Ok(())
    }

    /// Reads the members again, unless another run read them since this one asked:
    /// however many runs ask at once (a thousand tagged ticks due at the same instant),
    /// one reads for all of them, and each gets a reading made after it asked.
    pub(super) async fn refresh_members(&self) -> Result<(), StoreError> {
        let asked = Utc::now();
        let _one_reader = self.members_reading.lock().await;
        let last = self
            .members
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .read_at;
        if last >= asked {
            return Ok(());
        }
        let read_at = Utc::now();
        let members = self.cluster.list_members().await?;
        self.remember(read_at, members);
        Ok(())
    }

    /// Dispatches the scheduled executions handed to this node.
    async fn pick_handed(self: &Arc<Self>) -> Result<(), StoreError> {
        for handed in self.cluster.pick_handed(&self.config.node).await? {
            let record = handed.record;
            self.spawn_run(Run {
                tenant: handed.tenant,
                job_id: handed.job_id,
                spec: Arc::new(handed.spec),
                execution_id: record.id,
                group: record.group,
                attempt: record.attempt,
                scheduled_at: record.scheduled_at,
                trigger: record.trigger,
                has_dependents: handed.has_dependents,
                registered: None,
                slot: None,
                claimed_at: Instant::now(),
            });
        }
        Ok(())
    }

    /// Marks this node as gone at a clean shutdown, so survivors pick up at once what
    /// was handed to it and not yet picked.
    pub(super) async fn leave(&self) {
        let dead_after =
            chrono::Duration::from_std(self.config.dead_after).unwrap_or(chrono::TimeDelta::MAX);
        let gone = Utc::now() - dead_after - chrono::TimeDelta::seconds(1);
        if let Err(error) = self.cluster.heartbeat(&self.config.node, gone).await {
            tracing::warn!(%error, "cannot mark this node as gone");
        }
    }
}

/// Picks up handed executions, beats and takes over dead nodes until the scheduler stops.
pub(super) async fn membership_loop(inner: Arc<Inner>) {
    let mut ticks = 0_u32;
    while !inner.stopping.is_cancelled() {
        if ticks.is_multiple_of(TICKS_PER_BEAT)
            && let Err(error) = inner.beat().await
        {
            tracing::warn!(%error, "heartbeat or take-over failed; retrying in a second");
        }
        if ticks.is_multiple_of(TICKS_PER_BEAT * BEATS_PER_FORGET) {
            match inner
                .cluster
                .forget_members(Utc::now() - FORGOTTEN_AFTER)
                .await
            {
                Ok(names) if !names.is_empty() => {
                    tracing::info!(?names, "forgot members dead for a day");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot forget dead members"),
            }
        }
        if let Err(error) = inner.pick_handed().await {
            tracing::warn!(%error, "picking up handed executions failed");
        }
        ticks = ticks.wrapping_add(1);
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = inner.stopping.cancelled() => {}
        }
    }
}
