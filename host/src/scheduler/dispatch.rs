//! The dispatcher: one task per tick (or manual run), which waits for its instant, runs
//! the executor in the runtime, and carries the tick through its retries. After the last
//! attempt it applies what the result means for the job: an ephemeral job that succeeded
//! is deleted, and a success triggers the dependent jobs.
//!
//! An attempt runs under its tenant's policy: the tenant's grants, its memory and output
//! quotas, and its `max_concurrent_executions` (or its share of the node), for which it
//! waits, still `scheduled`
//! (or, for a job that forbids overlapping runs, is recorded as failed, never dropped
//! silently); a manual run comes with its place already taken (`Run::slot`).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use sandcron_sdk::duration::parse_duration;
use tokio::sync::{AcquireError, SemaphorePermit};
use tracing::Instrument;

use super::Inner;
use super::active::ActiveGuard;
use super::backoff::retry_delay;
use super::metrics::{ExecutionLabels, Outcome};
use super::spans;
use crate::capabilities::Grants;
use crate::jobs::{Concurrency, JobSpec, job_grants};
use crate::runtime::{DEFAULT_TIMEOUT, Executable, ExecutionInfo, ExecutionRequest, Limits};
use crate::secrets::UsedSecrets;
use crate::store::{
    DEFAULT_TENANT, ExecutionRecord, ExecutionState, FinishedExecution, NewExecution, ReleasedTick,
    TenantId, Trigger, group_status,
};
use crate::tenants::{QuotaExceeded, TenantPolicy, TenantSlot};

/// One attempt to run, with its execution record already written.
pub(super) struct Run {
    pub tenant: TenantId,
    pub job_id: i64,
    pub spec: Arc<JobSpec>,
    pub execution_id: i64,
    pub group: i64,
    pub attempt: u32,
    pub scheduled_at: DateTime<Utc>,
    /// Why it runs.
    pub trigger: Trigger,
    /// Whether dependent jobs may need triggering after a success.
    pub has_dependents: bool,
    /// Registered as running before the run was handed out (a manual run, so that the
    /// API can follow or kill it as soon as it answers).
    pub registered: Option<ActiveGuard>,
    /// Its place among the tenant's `max_concurrent_executions` on this node, taken
    /// before the run was handed out (a manual run, answered as running); the first
    /// attempt uses it instead of waiting for one.
    pub slot: Option<TenantSlot>,
    /// When the tick (or the retry) was claimed: a change of the job after it calls it off.
    pub claimed_at: Instant,
}

/// Why a run starts now ([`Inner::start_now`]), which says how it is recorded.
pub(super) enum StartNow {
    /// Asked for through the API: recorded `running` and registered at once, with its
    /// place among the tenant's executions on this node when it was given one.
    Manual(Option<TenantSlot>),
    /// Its parent succeeded: recorded `scheduled`, it waits for its place as a tick does.
    Parent,
}

/// An attempt let in: its tenant's policy as read when it was, and its places (its
/// tenant's, the shared, the node's), held until it ends.
struct Admitted<'a> {
    policy: Result<Arc<TenantPolicy>, crate::store::StoreError>,
    _places: (
        Option<TenantSlot>,
        Option<SemaphorePermit<'a>>,
        Result<SemaphorePermit<'a>, AcquireError>,
    ),
}

/// How one attempt ended.
struct Attempt {
    success: bool,
    /// Killed, or skipped over the tenant's concurrency quota: no retry.
    final_: bool,
    /// For a job with processors or notifications: its record, its tenant's name and
    /// what its executions may do. Boxed: a tick's task holds an `Attempt` between its
    /// awaits, and this is most of its size.
    ended: Option<Box<AfterRunParts>>,
}

/// What the processors and notifications of an ended attempt are given: its record, its
/// tenant's name and what its executions may do.
type AfterRunParts = (FinishedExecution, String, Grants);

impl Inner {
    /// Runs `run` (and its retries) in a task of its own.
    /// Its attempts' spans follow from the current span (a claim batch, a request).
    pub(super) fn spawn_run(self: &Arc<Self>, run: Run) {
        let inner = self.clone();
        let cause = tracing::Span::current();
        self.spawn_task(async move { inner.run_tick(run, cause).await });
    }

    /// Hands `run` (a job with `tags`) to the nodes its tags select, in a task of its own.
    pub(super) fn spawn_placing(self: &Arc<Self>, run: Run) {
        let inner = self.clone();
        self.spawn_task(async move { inner.place(run).await });
    }

    /// Runs `task` as one of the ticks' tasks: tracked (shutdown waits for it) and on the
    /// executions' runtime, wherever it is started from.
    fn spawn_task(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn_on(task, &self.tasks_runtime);
    }

    async fn run_tick(self: Arc<Self>, mut run: Run, cause: tracing::Span) {
        // A tick ends at its first success, so only failures come before an attempt.
        let mut failed = 0;
        loop {
            if !self.wait_for(&run).await {
                return;
            }
            let span = spans::execution(&run, &self.config.node, &cause);
            // What follows the wait is boxed: a task's future is as large as its largest
            // state, and an attempt's is kilobytes. Boxed, a tick waiting for its instant
            // holds only this loop's few words, which 100,000 ticks due at once multiply;
            // and the attempt's box is made only once it has its places, so ticks waiting
            // for a slot hold only the admission's few hundred bytes.
            let admission = Box::pin(self.admit(&mut run, failed).instrument(span.clone())).await;
            let attempt = match admission {
                Ok(admitted) => {
                    Box::pin(
                        self.run_attempt(&mut run, failed, admitted)
                            .instrument(span),
                    )
                    .await
                }
                Err(refused) => refused,
            };
            let last = attempt.success
                || attempt.final_
                || run.attempt > run.spec.retries
                || self.stopping.is_cancelled();
            if let Some(ended) = attempt.ended {
                Box::pin(self.submit_after_run(&run, ended, last)).await;
            }
            if attempt.success {
                Box::pin(self.after_success(&run)).await;
                return;
            }
            failed += 1;
            if attempt.final_ || run.attempt > run.spec.retries || self.stopping.is_cancelled() {
                return;
            }
            match Box::pin(self.schedule_retry(&run)).await {
                Some(retry) => run = retry,
                None => return,
            }
        }
    }

    /// Sleeps until the run's instant. Returns `false` when the tick must not run: on
    /// shutdown (it is set aside to be handed back unstarted), or when its job changed
    /// since it was claimed.
    async fn wait_for(&self, run: &Run) -> bool {
        let wait = (run.scheduled_at - Utc::now()).to_std().unwrap_or_default();
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stopping.cancelled() => {
                    // Handed back in one batch by `Scheduler::shutdown`.
                    self.released.lock().unwrap_or_else(|p| p.into_inner()).push(ReleasedTick {
                        execution_id: run.execution_id,
                        job_id: run.job_id,
                        scheduled_at: run.scheduled_at,
                    });
                    return false;
                }
            }
        }
        if self.called_off.is_called_off(run.job_id, run.claimed_at) {
            // The job changed after the tick was claimed: drop the tick and its record.
            if let Err(error) = self.executions.discard_tick(run.execution_id).await {
                tracing::warn!(%error, "discarding a called-off tick failed");
            }
            return false;
        }
        true
    }

    /// Waits for the attempt's places: among its tenant's executions on this node, then
    /// among the node's. Refused (the attempt recorded as skipped, final) when the job
    /// forbids overlapping runs and its tenant has none free.
    async fn admit(&self, run: &mut Run, failed_before: usize) -> Result<Admitted<'_>, Attempt> {
        let policy = self.tenants.policy(run.tenant).await;
        let tenant_slot = match (run.slot.take(), &policy) {
            (Some(taken), _) => Some(taken),
            (None, Ok(policy)) => match self.tenant_slot(run, policy).await {
                Ok(slot) => Some(slot),
                Err(skipped) => {
                    let reason = format!("skipped: {skipped}");
                    self.metrics.skipped(&self.labels(run.tenant, &run.spec));
                    let finished =
                        self.record_unstarted(run, reason, group_status(0, failed_before + 1));
                    return Err(Attempt {
                        success: false,
                        final_: true,
                        ended: self.after_run_parts(run, Some(policy), finished),
                    });
                }
            },
            (None, Err(_)) => None,
        };
        // A tenant other than the default one takes a slot it shares with the others
        // first, so that the reserved rest stays free for the default tenant.
        let shared_permit = match run.tenant {
            DEFAULT_TENANT => None,
            _ => self.shared_slots.acquire().await.ok(),
        };
        let permit = self.slots.acquire().await;
        Ok(Admitted {
            policy,
            _places: (tenant_slot, shared_permit, permit),
        })
    }

    /// Runs one admitted attempt; `failed_before` attempts of the tick failed before it.
    async fn run_attempt(
        &self,
        run: &mut Run,
        failed_before: usize,
        admitted: Admitted<'_>,
    ) -> Attempt {
        let Admitted { policy, _places } = admitted;
        let started_at = Utc::now();
        let lateness = (started_at - run.scheduled_at).to_std().unwrap_or_default();
        let labels = self.labels(run.tenant, &run.spec);
        self.metrics.started(&labels, lateness);
        spans::started(&labels.tenant, started_at);
        self.history.started(run.tenant, started_at, lateness);
        self.recorder.started(run.execution_id, started_at);
        let active = match run.registered.take() {
            Some(active) => active,
            None => self.register(run, started_at),
        };

        let mut used_secrets = UsedSecrets::default();
        let prepared =
            match &policy {
                Err(error) => Err(format!("cannot read the tenant's grants: {error}")),
                Ok(policy) => match self
                    .registry
                    .resolve(run.tenant, &run.spec.executor)
                    .await
                    .and_then(|found| {
                        found.ok_or_else(|| format!("unknown executor {:?}", run.spec.executor))
                    }) {
                    Err(reason) => Err(reason),
                    Ok(executable) => self.prepare(run, policy, &executable).await.map(
                        |(info, grants, secrets)| {
                            used_secrets = secrets;
                            (executable, info, grants, self.limits(&run.spec, policy))
                        },
                    ),
                },
            };
        let (result, output, output_truncated, killed) = match prepared {
            Err(reason) => (Err(reason), Vec::new(), false, false),
            Ok((executable, info, grants, limits)) => {
                let request = ExecutionRequest {
                    info,
                    grants,
                    limits,
                    listener: Some(active.listener()),
                };
                tokio::select! {
                    outcome = self.runtime.execute(&executable, request) => (
                        outcome.result.map_err(|failure| failure.to_string()),
                        outcome.output.bytes,
                        outcome.output.truncated,
                        false,
                    ),
                    _ = active.killed() => {
                        let (output, truncated) = active.output_so_far();
                        (Err("killed".to_string()), output, truncated, true)
                    }
                }
            }
        };
        let output = used_secrets.mask(output);
        let result = result.map_err(|reason| {
            let masked = used_secrets.mask(reason.into_bytes());
            String::from_utf8_lossy(&masked).into_owned()
        });
        let success = result.is_ok();
        let (succeeded, failed) = if success {
            (1, failed_before)
        } else {
            (0, failed_before + 1)
        };
        let outcome = match (success, killed) {
            (true, _) => Outcome::Succeeded,
            (false, true) => Outcome::Killed,
            (false, false) => Outcome::Failed,
        };
        self.metrics.finished(&labels, outcome);
        spans::ended(outcome, result.as_ref().err().map(String::as_str));
        self.history.finished(run.tenant, Utc::now(), success);
        let finished = FinishedExecution {
            id: run.execution_id,
            job_id: run.job_id,
            started_at,
            finished_at: Utc::now(),
            success,
            output,
            output_truncated,
            reason: result.err().unwrap_or_default(),
            job_status: group_status(succeeded, failed),
        };
        let ended = self.after_run_parts(run, policy.as_deref().ok(), finished.clone());
        self.recorder.finished(finished);
        drop(active);
        Attempt {
            success,
            final_: killed,
            ended,
        }
    }

    /// What the processors and notifications of a job that has any need of an ended
    /// attempt; `None` (and nothing cloned) for every other job.
    fn after_run_parts(
        &self,
        run: &Run,
        policy: Option<&TenantPolicy>,
        finished: FinishedExecution,
    ) -> Option<Box<AfterRunParts>> {
        if !self.after_run.has_work(&run.spec) {
            return None;
        }
        let (tenant, grants) = match policy {
            Some(policy) => (
                policy.name.clone(),
                after_run_grants(run, policy, self.config.process_user.as_deref())
                    .unwrap_or_default(),
            ),
            None => (String::new(), Grants::default()),
        };
        Some(Box::new((finished, tenant, grants)))
    }

    /// Hands an ended attempt to its job's processors and notifications (loading the
    /// uploaded processors it names first); `last` when no attempt follows.
    async fn submit_after_run(&self, run: &Run, ended: Box<AfterRunParts>, last: bool) {
        let (finished, tenant_name, grants) = *ended;
        let mut components = std::collections::HashMap::new();
        for name in crate::after_run::AfterRun::components(&run.spec) {
            let loaded = self.registry.resolve_processor(run.tenant, &name).await;
            components.insert(name, loaded);
        }
        let record = ExecutionRecord {
            id: run.execution_id,
            job_name: run.spec.name.clone(),
            group: run.group,
            attempt: run.attempt,
            scheduled_at: run.scheduled_at,
            started_at: Some(finished.started_at),
            finished_at: Some(finished.finished_at),
            state: if finished.success {
                ExecutionState::Succeeded
            } else {
                ExecutionState::Failed
            },
            output: finished.output,
            output_truncated: finished.output_truncated,
            reason: finished.reason,
            node: self.config.node.clone(),
            trigger: run.trigger,
            after_run: None,
        };
        self.after_run.submit(crate::after_run::Ended {
            tenant_name,
            operators: run.tenant == DEFAULT_TENANT,
            job_id: run.job_id,
            spec: run.spec.clone(),
            record,
            job_status: finished.job_status,
            last_attempt: last,
            grants,
            components,
        });
    }

    /// The metrics' labels of a run of `spec`, a job of `tenant`.
    pub(super) fn labels(&self, tenant: TenantId, spec: &JobSpec) -> ExecutionLabels {
        ExecutionLabels {
            tenant: self.tenants.name(tenant),
            executor: spec.executor.clone(),
        }
    }

    /// Counts the run against its tenant's `max_concurrent_executions` on this node:
    /// waits for a slot, or, for a job that forbids overlapping runs, refuses at once.
    async fn tenant_slot(
        &self,
        run: &Run,
        policy: &TenantPolicy,
    ) -> Result<TenantSlot, QuotaExceeded> {
        if run.spec.concurrency != Concurrency::Forbid {
            return Ok(self.tenants.start(run.tenant, policy).await);
        }
        self.tenants.try_start(run.tenant, policy)
    }

    /// Records an attempt that failed before it started, with `reason`, the job's status
    /// becoming `job_status`, and gives the record. The caller counts it in the metrics.
    pub(super) fn record_unstarted(
        &self,
        run: &Run,
        reason: String,
        job_status: &'static str,
    ) -> FinishedExecution {
        let now = Utc::now();
        let finished = FinishedExecution {
            id: run.execution_id,
            job_id: run.job_id,
            started_at: now,
            finished_at: now,
            success: false,
            output: Vec::new(),
            output_truncated: false,
            reason,
            job_status,
        };
        self.recorder.finished(finished.clone());
        finished
    }

    /// The limits of one execution: the job's timeout, the node's output limit and the
    /// runtime's memory limit, each lowered to the tenant's quota.
    fn limits(&self, spec: &JobSpec, policy: &TenantPolicy) -> Limits {
        let defaults = Limits::default();
        let quotas = policy.quotas;
        Limits {
            timeout: job_timeout(spec),
            output_bytes: quotas
                .max_output_bytes
                .map_or(self.config.output_limit, |max| {
                    self.config
                        .output_limit
                        .min(usize::try_from(max).unwrap_or(usize::MAX))
                }),
            memory_bytes: quotas
                .max_memory_bytes
                .map_or(defaults.memory_bytes, |max| defaults.memory_bytes.min(max)),
        }
    }

    /// Lists the run as running on this node.
    fn register(&self, run: &Run, started_at: DateTime<Utc>) -> ActiveGuard {
        self.active.register(
            run.tenant,
            ExecutionRecord {
                id: run.execution_id,
                job_name: run.spec.name.clone(),
                group: run.group,
                attempt: run.attempt,
                scheduled_at: run.scheduled_at,
                started_at: Some(started_at),
                finished_at: None,
                state: ExecutionState::Running,
                output: Vec::new(),
                output_truncated: false,
                reason: String::new(),
                node: self.config.node.clone(),
                trigger: run.trigger,
                after_run: None,
            },
            self.config.output_limit,
        )
    }

    /// Writes the next attempt's record, due after the backoff.
    pub(super) async fn schedule_retry(&self, run: &Run) -> Option<Run> {
        let delay = retry_delay(&run.spec.retry_backoff, run.attempt + 1, fastrand::f64());
        let due = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let new = NewExecution {
            tenant: run.tenant,
            exclusive: false,
            job_name: run.spec.name.clone(),
            group: Some(run.group),
            attempt: run.attempt + 1,
            scheduled_at: due,
            state: ExecutionState::Scheduled,
            node: self.config.node.clone(),
            trigger: Trigger::Retry,
            handed_over: false,
        };
        match self.executions.start_execution(&new).await {
            Ok(record) => Some(Run {
                tenant: run.tenant,
                job_id: run.job_id,
                spec: run.spec.clone(),
                execution_id: record.id,
                group: run.group,
                attempt: record.attempt,
                scheduled_at: due,
                trigger: Trigger::Retry,
                has_dependents: run.has_dependents,
                registered: None,
                slot: None,
                claimed_at: Instant::now(),
            }),
            Err(error) => {
                tracing::warn!(%error, job = %run.spec.name, "cannot write the retry");
                None
            }
        }
    }

    /// Triggers the dependent jobs; deletes an ephemeral job. Costs no query for a job
    /// that is neither a parent nor ephemeral: the hot path stays free of per-job reads.
    async fn after_success(self: &Arc<Self>, run: &Run) {
        if run.has_dependents {
            match self.jobs.get_job(run.tenant, &run.spec.name).await {
                Ok(Some(job)) => {
                    for child in &job.dependent_jobs {
                        if let Err(error) = self.trigger_child(run.tenant, child).await {
                            tracing::warn!(%error, job = %child, "cannot trigger the dependent job");
                        }
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, job = %run.spec.name, "cannot read the dependent jobs");
                }
            }
        }
        if run.spec.ephemeral {
            // The tick's record must be written before the job and its executions go.
            self.recorder.flush().await;
            if let Err(error) = self.jobs.delete_job(run.tenant, &run.spec.name).await {
                tracing::warn!(%error, job = %run.spec.name, "cannot delete the ephemeral job");
            }
            self.wake.notify_one();
        }
    }

    /// Runs a dependent job now, unless it is disabled, outside its time bounds, or
    /// forbids overlapping runs while one is open (Dkron's run gating).
    async fn trigger_child(
        self: &Arc<Self>,
        tenant: TenantId,
        name: &str,
    ) -> Result<(), crate::store::StoreError> {
        let Some(child) = self.jobs.get_job(tenant, name).await? else {
            return Ok(());
        };
        let now = Utc::now();
        let spec = &child.spec;
        if spec.disabled
            || spec.starts_at.is_some_and(|start| now < start)
            || spec.expires_at.is_some_and(|end| now > end)
        {
            return Ok(());
        }
        let has_dependents = !child.dependent_jobs.is_empty();
        let labels = self.labels(tenant, spec);
        match self
            .start_now(
                tenant,
                child.id,
                Arc::new(child.spec),
                has_dependents,
                StartNow::Parent,
            )
            .await
        {
            // A child that forbids overlapping runs and is still running skips this one.
            Err(crate::store::StoreError::Conflict(_)) => {
                self.metrics.skipped(&labels);
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    /// Writes an execution due now and starts it, or, for a job with tags, places it on
    /// the nodes they select (the record answered is then `scheduled`, for this node until
    /// it is handed over); a job that forbids overlapping runs gets
    /// [`crate::store::StoreError::Conflict`] while one of its executions is open.
    pub(super) async fn start_now(
        self: &Arc<Self>,
        tenant: TenantId,
        job_id: i64,
        spec: Arc<JobSpec>,
        has_dependents: bool,
        why: StartNow,
    ) -> Result<ExecutionRecord, crate::store::StoreError> {
        let (state, trigger, slot) = match why {
            StartNow::Manual(slot) => (ExecutionState::Running, Trigger::Manual, slot),
            StartNow::Parent => (ExecutionState::Scheduled, Trigger::Parent, None),
        };
        // A job with tags runs where they say: written as scheduled, then placed.
        let targeted = !spec.tags.is_empty();
        let state = if targeted {
            ExecutionState::Scheduled
        } else {
            state
        };
        let record = self
            .executions
            .start_execution(&NewExecution {
                tenant,
                exclusive: spec.concurrency == Concurrency::Forbid,
                job_name: spec.name.clone(),
                group: None,
                attempt: 1,
                scheduled_at: Utc::now(),
                state,
                node: self.config.node.clone(),
                trigger,
                handed_over: false,
            })
            .await?;
        let mut run = Run {
            tenant,
            job_id,
            spec,
            execution_id: record.id,
            group: record.group,
            attempt: 1,
            scheduled_at: record.scheduled_at,
            trigger,
            has_dependents,
            registered: None,
            slot,
            claimed_at: Instant::now(),
        };
        if targeted {
            self.spawn_placing(run);
            return Ok(record);
        }
        if state == ExecutionState::Running {
            let started_at = record.started_at.unwrap_or(record.scheduled_at);
            run.registered = Some(self.register(&run, started_at));
        }
        self.spawn_run(run);
        Ok(record)
    }

    fn execution_info(&self, run: &Run) -> ExecutionInfo {
        ExecutionInfo {
            job_name: run.spec.name.clone(),
            execution_id: run.execution_id.to_string(),
            attempt: run.attempt,
            scheduled_at: Some(SystemTime::from(run.scheduled_at)),
            executor_config: run
                .spec
                .executor_config
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            environment: Vec::new(),
        }
    }

    /// What the executor is told and may do, with the job's secrets filled in (see
    /// [`crate::secrets::Secrets::fill`]), and every secret value used, to be masked in
    /// the stored output.
    async fn prepare(
        &self,
        run: &Run,
        policy: &TenantPolicy,
        executable: &Executable,
    ) -> Result<(ExecutionInfo, Grants, UsedSecrets), String> {
        let mut info = self.execution_info(run);
        let mut grants = grants_for(run, policy, self.config.process_user.as_deref())?;
        let used = self
            .secrets
            .fill(
                run.tenant,
                &mut info.executor_config,
                &mut grants.secrets,
                &executable.imports,
            )
            .await?;
        Ok((info, grants, used))
    }
}

/// What a run's executor may do: its tenant's grants for that executor (see
/// [`TenantPolicy::grants_for`]), narrowed by the job's own `grants`. Programs run as the
/// user the tenant's grant names, else as the node's `process_user`.
fn grants_for(
    run: &Run,
    policy: &TenantPolicy,
    process_user: Option<&str>,
) -> Result<Grants, String> {
    let grants = policy.grants_for(run.tenant, &run.spec.executor);
    narrowed_by_job(run, grants, process_user)
}

/// What a job's processors and notifications may do: its tenant's grants narrowed by the
/// job's own `grants`, without the built-in shell's allowance (that is the executor's).
fn after_run_grants(
    run: &Run,
    policy: &TenantPolicy,
    process_user: Option<&str>,
) -> Result<Grants, String> {
    narrowed_by_job(run, policy.grants.clone(), process_user)
}

/// `grants` narrowed by the job's own `grants`, programs running as `process_user`
/// unless the grant names a user.
fn narrowed_by_job(
    run: &Run,
    mut grants: Grants,
    process_user: Option<&str>,
) -> Result<Grants, String> {
    if let Some(narrower) = job_grants(&run.spec).map_err(|e| e.to_string())? {
        grants.narrow(&narrower);
    }
    if let Some(user) = process_user {
        grants.process.run_as_by_default(user);
    }
    Ok(grants)
}

/// The job's `timeout`, or the default of one hour.
fn job_timeout(spec: &JobSpec) -> Duration {
    parse_duration(&spec.timeout)
        .ok()
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future an `fn(A, B, C)` returns.
    fn future_size<A, B, C, F>(_: fn(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// 100,000 ticks due at once each wait in a task of their own: what an attempt needs
    /// is boxed once it runs, so the waiting task stays small (1,904 bytes before
    /// `Attempt` boxed its after-run parts; 776 in a test build, smaller in a release).
    #[test]
    fn a_waiting_tick_holds_less_than_a_kilobyte() {
        let size = future_size(Inner::run_tick);
        assert!(size < 1024, "a tick's task future is {size} bytes");
    }
}
