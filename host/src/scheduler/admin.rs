//! Changing jobs through the scheduler: create or replace (validated, parent checked,
//! next tick computed), toggle, delete, restore, run now, and clear executions. Every
//! change wakes the claim loop, so a job due within the horizon is not missed. Every
//! method acts within one tenant: another tenant's jobs are not found.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;

use super::claim::{plan_next, schedule_of};
use super::dispatch::StartNow;
use super::{JobError, Scheduler};
use crate::jobs::{FieldError, JobSpec, validate};
use crate::store::{ExecutionRecord, JobOverLimit, NewJob, StoredJob, TenantId};
use crate::tenants::{QuotaExceeded, TenantPolicy};

/// How deep a chain of parents may be.
const MAX_CHAIN_DEPTH: usize = 1000;

impl Scheduler {
    /// Validates and creates or replaces a job (Dkron's create-or-replace), and
    /// schedules it. A missing parent or a job that would be its own ancestor is
    /// `Invalid` naming `parent_job`.
    /// A new job past the tenant's `max_jobs` is `Quota`.
    pub async fn put_job(&self, tenant: TenantId, spec: JobSpec) -> Result<StoredJob, JobError> {
        let known = self.inner.registry.knows(tenant, &spec.executor).await?;
        validate(&spec, |_| known)?;
        self.check_parent(tenant, &spec).await?;
        let policy = self.inner.tenants.policy(tenant).await?;
        let job = ready_to_write(&spec, &policy, Utc::now())?;
        let existing = self.inner.jobs.get_job(tenant, &spec.name).await?;
        if let Some(job) = existing {
            // Before the write: see `call_off`.
            self.inner.called_off.call_off(job.id);
        }
        let max_jobs = policy.quotas.max_jobs;
        let refused = self
            .inner
            .jobs
            .put_jobs_within(tenant, &[job], max_jobs)
            .await?;
        if let Some(over) = refused.first() {
            return Err(jobs_quota(&policy, over).into());
        }
        self.inner.wake.notify_one();
        self.get(tenant, &spec.name).await
    }

    async fn check_parent(&self, tenant: TenantId, spec: &JobSpec) -> Result<(), JobError> {
        if spec.parent_job.is_empty() {
            return Ok(());
        }
        let mut ancestor = spec.parent_job.clone();
        for _ in 0..MAX_CHAIN_DEPTH {
            let Some(job) = self.inner.jobs.get_job(tenant, &ancestor).await? else {
                return Err(FieldError::new(
                    "parent_job",
                    format!("job {ancestor:?} does not exist; create the parent first"),
                )
                .into());
            };
            if job.spec.parent_job.is_empty() {
                return Ok(());
            }
            if job.spec.parent_job == spec.name {
                return Err(FieldError::new(
                    "parent_job",
                    format!(
                        "{:?} would be its own ancestor (through {:?})",
                        spec.name, job.spec.name
                    ),
                )
                .into());
            }
            ancestor = job.spec.parent_job;
        }
        Err(FieldError::new("parent_job", "the chain of parents is too deep").into())
    }

    /// Flips `disabled`.
    pub async fn toggle_job(&self, tenant: TenantId, name: &str) -> Result<StoredJob, JobError> {
        let job = self.get(tenant, name).await?;
        let disabled = !job.spec.disabled;
        let mut spec = job.spec;
        spec.disabled = disabled;
        let now = Utc::now();
        let next = plan_next(&spec, now, now);
        // Before the write, as in `call_off`; the job is already read.
        self.inner.called_off.call_off(job.id);
        let job = self
            .inner
            .jobs
            .set_disabled(tenant, name, disabled, next)
            .await?
            .ok_or_else(|| JobError::NotFound(name.to_string()))?;
        self.inner.wake.notify_one();
        Ok(job)
    }

    /// Deletes a job and its executions; `Conflict` while it has dependent jobs.
    pub async fn delete_job(&self, tenant: TenantId, name: &str) -> Result<StoredJob, JobError> {
        self.call_off(tenant, name).await?;
        let job = self
            .inner
            .jobs
            .delete_job(tenant, name)
            .await?
            .ok_or_else(|| JobError::NotFound(name.to_string()))?;
        Ok(job)
    }

    /// The first half of a restore (Dkron's: every job created or replaced, parents
    /// before children), which writes nothing: the jobs without a parent are
    /// checked as [`Self::put_job`] would check them and made ready for one bulk write
    /// (next tick computed, definition serialized), on a thread that may block, so that
    /// a caller can prepare one batch while the one before is written.
    pub async fn prepare_restore(&self, tenant: TenantId, specs: Vec<JobSpec>) -> RestoreBatch {
        let specs = Arc::new(specs);
        let mut batch = RestoreBatch {
            tenant,
            results: specs.iter().map(|_| None).collect(),
            specs: specs.clone(),
            policy: None,
            ready: Vec::new(),
            alone: Vec::new(),
        };
        let roots = || (0..specs.len()).filter(|&index| specs[index].parent_job.is_empty());
        let Ok(policy) = self.inner.tenants.policy(tenant).await else {
            // Each job alone, so that each gets the store's reason.
            batch.alone = roots().collect();
            return batch;
        };
        // Whether each executor the roots name is known, asked once per name; a root
        // whose executor could not be looked up is put alone, for the store's reason.
        let mut known: HashMap<String, bool> = HashMap::new();
        for index in roots() {
            let executor = &specs[index].executor;
            if !known.contains_key(executor)
                && let Ok(answer) = self.inner.registry.knows(tenant, executor).await
            {
                known.insert(executor.clone(), answer);
            }
        }
        let checking = {
            let (specs, policy) = (specs.clone(), policy.clone());
            tokio::task::spawn_blocking(move || check_roots(&specs, &known, &policy))
        };
        match checking.await {
            Ok(checked) => {
                for (index, refused) in checked.refused {
                    batch.results[index] = Some(Err(refused));
                }
                batch.alone = checked.alone;
                batch.ready = checked.ready;
                batch.policy = Some(policy);
            }
            Err(error) => {
                tracing::warn!(%error, "checking restored jobs failed; putting them one by one");
                batch.alone = roots().collect();
            }
        }
        batch
    }

    /// After the last batch of a restore: the store's statistics of the jobs' tables are
    /// refreshed in the background (the answer does not wait for them), so that the
    /// claim's plans fit the jobs just written rather than the tables before them.
    pub fn end_restore(&self) {
        let jobs = self.inner.jobs.clone();
        tokio::spawn(async move {
            if let Err(error) = jobs.refresh_job_statistics().await {
                tracing::warn!(%error, "refreshing the jobs' statistics after a restore failed");
            }
        });
    }

    /// The second half of a restore: writes the batch's ready jobs in one bulk write (one
    /// by one, each with its own reason, should that fail), then the jobs with a parent,
    /// one by one, each once its parent is stored. One result per job of the batch, in
    /// its order.
    pub async fn write_restore(&self, batch: RestoreBatch) -> Vec<(String, Result<(), JobError>)> {
        let RestoreBatch {
            tenant,
            specs,
            mut results,
            policy,
            ready,
            mut alone,
        } = batch;
        if let Some(policy) = policy
            && !ready.is_empty()
        {
            let (indexes, jobs): (Vec<usize>, Vec<NewJob>) = ready.into_iter().unzip();
            if let Err(error) = self
                .write_ready_roots(tenant, &policy, &indexes, &jobs, &mut results)
                .await
            {
                tracing::warn!(%error, "restoring jobs in bulk failed; putting them one by one");
                alone.extend(indexes);
            }
        }
        for index in alone {
            let result = self.put_job(tenant, specs[index].clone()).await.map(|_| ());
            results[index] = Some(result);
        }
        // How many definitions of each name are still to be put.
        let mut waiting: HashMap<&str, usize> = HashMap::new();
        for (spec, result) in specs.iter().zip(&results) {
            if result.is_none() {
                *waiting.entry(spec.name.as_str()).or_default() += 1;
            }
        }
        // Pass after pass, put the jobs whose parent is already there.
        loop {
            let mut progressed = false;
            for (index, spec) in specs.iter().enumerate() {
                if results[index].is_some() {
                    continue;
                }
                let own = usize::from(spec.parent_job == spec.name);
                if waiting.get(spec.parent_job.as_str()).copied().unwrap_or(0) > own {
                    continue;
                }
                let result = self.put_job(tenant, spec.clone()).await.map(|_| ());
                results[index] = Some(result);
                if let Some(count) = waiting.get_mut(spec.name.as_str()) {
                    *count -= 1;
                }
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        specs
            .iter()
            .zip(results)
            .map(|(spec, result)| {
                let result = result.unwrap_or_else(|| {
                    Err(FieldError::new(
                        "parent_job",
                        format!("{:?} is part of a cycle of parents", spec.parent_job),
                    )
                    .into())
                });
                (spec.name.clone(), result)
            })
            .collect()
    }

    /// Writes `jobs` (at `indexes` of a restore's batch, none with a parent, checked
    /// under the tenant's `policy`) in one bulk write: the ones that exist already are
    /// found in one query and called off, and the new ones count against `max_jobs` in
    /// order. Their results go to `results`: written, or refused past `max_jobs`.
    async fn write_ready_roots(
        &self,
        tenant: TenantId,
        policy: &TenantPolicy,
        indexes: &[usize],
        jobs: &[NewJob],
        results: &mut [Option<Result<(), JobError>>],
    ) -> Result<(), JobError> {
        let names: Vec<&str> = jobs.iter().map(|job| job.spec.name.as_str()).collect();
        let existing = self.inner.jobs.job_ids(tenant, &names).await?;
        // Before the write: see `call_off`.
        self.inner
            .called_off
            .call_off_all(existing.values().copied());
        let refused = self
            .inner
            .jobs
            .put_jobs_within(tenant, jobs, policy.quotas.max_jobs)
            .await?;
        self.inner.wake.notify_one();
        for &index in indexes {
            results[index] = Some(Ok(()));
        }
        for over in &refused {
            results[indexes[over.index]] = Some(Err(jobs_quota(policy, over).into()));
        }
        Ok(())
    }

    /// Starts a run now and returns its execution record (state `running`) without
    /// waiting for it. Ignores `disabled` and the time bounds as Dkron does, but honours
    /// `forbid`: `Conflict` while an execution of the job is open. `Quota` while the
    /// tenant has `max_concurrent_executions` running on this node: the run takes its
    /// place among them before it is written, so a run answered is never one that waits.
    pub async fn run_job(&self, tenant: TenantId, name: &str) -> Result<ExecutionRecord, JobError> {
        let job = self.get(tenant, name).await?;
        let policy = self.inner.tenants.policy(tenant).await?;
        // A job with tags runs where they say, and is counted there (it waits for its
        // place as `scheduled`).
        let slot = if job.spec.tags.is_empty() {
            Some(self.inner.tenants.try_start(tenant, &policy)?)
        } else {
            None
        };
        let has_dependents = !job.dependent_jobs.is_empty();
        Ok(self
            .inner
            .start_now(
                tenant,
                job.id,
                Arc::new(job.spec),
                has_dependents,
                StartNow::Manual(slot),
            )
            .await?)
    }

    /// Deletes a job's finished executions and resets its counters.
    pub async fn delete_executions(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<StoredJob, JobError> {
        self.inner
            .executions
            .delete_executions(tenant, name)
            .await?
            .ok_or_else(|| JobError::NotFound(name.to_string()))
    }

    /// Calls off the ticks of `name` claimed so far: they carry what the job says before
    /// the change about to be written. Called before the write, so a tick claimed after
    /// it is never dropped (at worst it runs once more with the old definition).
    async fn call_off(&self, tenant: TenantId, name: &str) -> Result<(), JobError> {
        if let Some(job) = self.inner.jobs.get_job(tenant, name).await? {
            self.inner.called_off.call_off(job.id);
        }
        Ok(())
    }

    async fn get(&self, tenant: TenantId, name: &str) -> Result<StoredJob, JobError> {
        self.inner
            .jobs
            .get_job(tenant, name)
            .await?
            .ok_or_else(|| JobError::NotFound(name.to_string()))
    }
}

/// The refusal of a new job past the tenant's `max_jobs`.
/// Refuses a job whose schedule fires more often than its tenant's `min_interval_ms`
/// (naming `schedule`).
fn check_interval(
    policy: &TenantPolicy,
    spec: &JobSpec,
    now: chrono::DateTime<Utc>,
) -> Result<(), FieldError> {
    let Some(min_ms) = policy.quotas.min_interval_ms else {
        return Ok(());
    };
    let Some(gap) = schedule_of(spec).and_then(|schedule| schedule.shortest_gap(now)) else {
        return Ok(());
    };
    let gap_ms = gap.num_milliseconds();
    if u64::try_from(gap_ms).is_ok_and(|gap_ms| gap_ms >= min_ms) {
        return Ok(());
    }
    Err(FieldError::new(
        "schedule",
        format!(
            "{:?} fires {gap_ms} ms apart at the shortest; tenant {}'s quota \
             min_interval_ms is {min_ms}",
            spec.schedule, policy.name
        ),
    ))
}

fn jobs_quota(policy: &TenantPolicy, over: &JobOverLimit) -> QuotaExceeded {
    QuotaExceeded::new(
        "max_jobs",
        policy.quotas.max_jobs.unwrap_or_default(),
        format!("tenant {} has {} jobs", policy.name, over.jobs),
    )
}

/// `spec` (validated), checked against its tenant's `policy` and made ready to write
/// with its next tick: an `@every` job starts its series `now`; `starts_at` and the rest
/// via `plan_next`.
fn ready_to_write(
    spec: &JobSpec,
    policy: &TenantPolicy,
    now: chrono::DateTime<Utc>,
) -> Result<NewJob, JobError> {
    check_interval(policy, spec, now)?;
    let next = schedule_of(spec).and_then(|_| plan_next(spec, now, now));
    Ok(NewJob::new(spec.clone(), next)?)
}

/// A batch of a restore, checked and made ready ([`Scheduler::prepare_restore`]) but not
/// yet written ([`Scheduler::write_restore`]).
pub struct RestoreBatch {
    tenant: TenantId,
    specs: Arc<Vec<JobSpec>>,
    /// Each job's result, once known: refused by the checks, or written.
    results: Vec<Option<Result<(), JobError>>>,
    /// The tenant's policy the jobs were checked under, if it could be read.
    policy: Option<Arc<TenantPolicy>>,
    /// The jobs without a parent that passed the checks, each with its place in `specs`.
    ready: Vec<(usize, NewJob)>,
    /// Places of jobs without a parent to be put one by one, each for its own reason.
    alone: Vec<usize>,
}

/// What [`check_roots`] made of a batch's jobs without a parent.
struct CheckedRoots {
    ready: Vec<(usize, NewJob)>,
    refused: Vec<(usize, JobError)>,
    alone: Vec<usize>,
}

/// Checks each job of `specs` without a parent as [`Scheduler::put_job`] would (whether
/// its executor is `known`, the tenant's `policy`) and makes it ready to write. CPU only.
fn check_roots(
    specs: &[JobSpec],
    known: &HashMap<String, bool>,
    policy: &TenantPolicy,
) -> CheckedRoots {
    let now = Utc::now();
    let mut checked = CheckedRoots {
        ready: Vec::new(),
        refused: Vec::new(),
        alone: Vec::new(),
    };
    for (index, spec) in specs.iter().enumerate() {
        if !spec.parent_job.is_empty() {
            continue;
        }
        let Some(&executor_known) = known.get(&spec.executor) else {
            checked.alone.push(index);
            continue;
        };
        let ready = validate(spec, |_| executor_known)
            .map_err(JobError::from)
            .and_then(|_| ready_to_write(spec, policy, now));
        match ready {
            Ok(job) => checked.ready.push((index, job)),
            Err(error) => checked.refused.push((index, error)),
        }
    }
    checked
}
