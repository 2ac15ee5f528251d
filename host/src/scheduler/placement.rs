//! Placement: where a run of a job with `tags` goes. The live members its tags select
//! ([`super::targets::select`], on the members as last read) each get an execution of
//! the run's group; this node runs its own, and hands the others over through the store
//! (each node's membership loop picks up what was handed to it). A run whose tags match no
//! live node is recorded as failed with the reason `no matching node`.

use std::sync::Arc;

use chrono::Utc;

use super::Inner;
use super::dispatch::Run;
use crate::store::{ExecutionState, NewExecution};

impl Inner {
    /// Places a run of a job with tags (a claimed tick, a manual run, a child's run) on
    /// the live nodes its tags select: this node runs it if selected, the others get an
    /// execution of the run's group each, handed to them. No matching node: the run is
    /// recorded as failed.
    pub(super) async fn place(self: Arc<Self>, run: Run) {
        let mut targets = self.targets(&run, false).await;
        if targets.is_empty() {
            // Decided at the tick, on members read then: a node may be joining.
            let wait = (run.scheduled_at - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stopping.cancelled() => {}
            }
            targets = self.targets(&run, true).await;
        }
        let Some((first, others)) = targets.split_first() else {
            let labels = self.labels(run.tenant, &run.spec);
            self.metrics
                .finished(&labels, super::metrics::Outcome::Failed);
            self.history.finished(run.tenant, chrono::Utc::now(), false);
            let reason = super::targets::NO_MATCHING_NODE.to_string();
            self.record_unstarted(&run, reason, "failed");
            return;
        };
        for node in others {
            let new = NewExecution {
                tenant: run.tenant,
                job_name: run.spec.name.clone(),
                group: Some(run.group),
                attempt: 1,
                scheduled_at: run.scheduled_at,
                state: ExecutionState::Scheduled,
                node: self.config.node.clone(),
                trigger: run.trigger,
                handed_over: false,
                exclusive: false,
            };
            match self.executions.start_execution(&new).await {
                Ok(record) => {
                    let copy = Run {
                        tenant: run.tenant,
                        job_id: run.job_id,
                        spec: run.spec.clone(),
                        execution_id: record.id,
                        group: run.group,
                        attempt: 1,
                        scheduled_at: run.scheduled_at,
                        trigger: run.trigger,
                        has_dependents: run.has_dependents,
                        registered: None,
                        slot: None,
                        claimed_at: run.claimed_at,
                    };
                    self.hand(copy, node).await;
                }
                Err(error) => {
                    tracing::warn!(%error, job = %run.spec.name, %node, "cannot write a targeted execution");
                }
            }
        }
        self.hand(run, first).await;
    }

    /// The nodes `run`'s tags select among the live members, as last read; read again
    /// (one reading for all the runs that ask at once, see `refresh_members`) when
    /// `fresh`, or when that reading gives fewer nodes than the tags ask for (none, or
    /// short of their count: a node may have joined since).
    async fn targets(&self, run: &Run, fresh: bool) -> Vec<String> {
        let pick = |alive: &[crate::store::Member]| {
            super::targets::select(&run.spec.tags, alive, &mut |n| fastrand::usize(..n))
        };
        if !fresh {
            let targets = pick(&self.fresh_members());
            let short = super::targets::wanted_count(&run.spec.tags)
                .is_some_and(|wanted| targets.len() < wanted);
            if !targets.is_empty() && !short {
                return targets;
            }
        }
        if let Err(error) = self.refresh_members().await {
            tracing::warn!(%error, "cannot read the members");
        }
        pick(&self.fresh_members())
    }

    /// Hands `run` (its execution written for this node) to `node`, or runs it here when
    /// `node` is this one or was taken over meanwhile.
    async fn hand(self: &Arc<Self>, run: Run, node: &str) {
        if node != self.config.node {
            match self.cluster.hand_to(run.execution_id, node).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, %node, "cannot hand an execution over; running it here")
                }
            }
        }
        self.spawn_run(run);
    }
}
