//! Changing jobs through the scheduler: create or replace (validated, parent checked,
//! next tick computed), toggle, delete, restore, run now, and clear executions. Every
//! change wakes the claim loop, so a job due within the horizon is not missed. Every
//! method acts within one tenant: another tenant's jobs are not found.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;

use super::claim::{plan_next, schedule_of};
use super::dispatch::StartNow;
use super::{JobError, Scheduler};
use crate::jobs::{FieldError, JobSpec, validate};
use crate::store::{ExecutionRecord, JobOverLimit, StoredJob, TenantId};
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
        let now = Utc::now();
        check_interval(&policy, &spec, now)?;
        let existing = self.inner.jobs.get_job(tenant, &spec.name).await?;
        // An `@every` job starts its series now; `starts_at` and the rest via plan_next.
        let next = schedule_of(&spec).and_then(|_| plan_next(&spec, now, now));
        if let Some(job) = existing {
            // Before the write: see `call_off`.
            self.inner.called_off.call_off(job.id);
        }
        let max_jobs = policy.quotas.max_jobs;
        let refused = self
            .inner
            .jobs
            .put_jobs_within(tenant, &[(spec.clone(), next)], max_jobs)
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

    /// Creates or replaces every job, parents before children (Dkron's restore). One
    /// result per job, in the input's order. The jobs without a parent are checked in
    /// memory and written together ([`Self::put_roots`]); the children follow one by one,
    /// each once its parent is stored.
    pub async fn restore(
        &self,
        tenant: TenantId,
        specs: Vec<JobSpec>,
    ) -> Vec<(String, Result<(), JobError>)> {
        let mut results: Vec<Option<Result<(), JobError>>> = specs.iter().map(|_| None).collect();
        let roots: Vec<usize> = (0..specs.len())
            .filter(|&index| specs[index].parent_job.is_empty())
            .collect();
        self.put_roots(tenant, &specs, &roots, &mut results).await;
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
            .into_iter()
            .zip(results)
            .map(|(spec, result)| {
                let result = result.unwrap_or_else(|| {
                    Err(FieldError::new(
                        "parent_job",
                        format!("{:?} is part of a cycle of parents", spec.parent_job),
                    )
                    .into())
                });
                (spec.name, result)
            })
            .collect()
    }

    /// Puts the jobs at `roots` (none has a parent) as [`Self::put_job`] would, but in
    /// one bulk write: each is validated in memory, the ones that exist already are found
    /// in one query, and the new ones count against `max_jobs` in order. Should the bulk
    /// write fail, each job is put alone, so that each gets its own reason.
    async fn put_roots(
        &self,
        tenant: TenantId,
        specs: &[JobSpec],
        roots: &[usize],
        results: &mut [Option<Result<(), JobError>>],
    ) {
        let Ok(policy) = self.inner.tenants.policy(tenant).await else {
            // Each job alone, so that each gets the store's reason.
            for &index in roots {
                let result = self.put_job(tenant, specs[index].clone()).await.map(|_| ());
                results[index] = Some(result);
            }
            return;
        };
        let now = Utc::now();
        let mut known: HashMap<&str, bool> = HashMap::new();
        let mut valid = Vec::new();
        for &index in roots {
            let spec = &specs[index];
            let executor_known = match known.get(spec.executor.as_str()) {
                Some(&known) => Ok(known),
                None => self
                    .inner
                    .registry
                    .knows(tenant, &spec.executor)
                    .await
                    .map_err(JobError::from),
            };
            let checked = executor_known.and_then(|executor_known| {
                known.insert(spec.executor.as_str(), executor_known);
                validate(spec, |_| executor_known)?;
                Ok(check_interval(&policy, spec, now)?)
            });
            match checked {
                Ok(_) => valid.push(index),
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        if valid.is_empty() {
            return;
        }
        let written = match self
            .put_checked_roots(tenant, &policy, specs, &valid, results)
            .await
        {
            Ok(written) => written,
            Err(error) => {
                tracing::warn!(%error, "restoring jobs in bulk failed; putting them one by one");
                for &index in &valid {
                    let result = self.put_job(tenant, specs[index].clone()).await.map(|_| ());
                    results[index] = Some(result);
                }
                return;
            }
        };
        for index in written {
            results[index] = Some(Ok(()));
        }
    }

    /// The bulk write of [`Self::put_roots`], for jobs already validated under the
    /// tenant's `policy`: the indexes it wrote. The ones past `max_jobs` get their refusal
    /// in `results`.
    async fn put_checked_roots(
        &self,
        tenant: TenantId,
        policy: &TenantPolicy,
        specs: &[JobSpec],
        valid: &[usize],
        results: &mut [Option<Result<(), JobError>>],
    ) -> Result<Vec<usize>, JobError> {
        let names: Vec<&str> = valid.iter().map(|&i| specs[i].name.as_str()).collect();
        let existing = self.inner.jobs.job_ids(tenant, &names).await?;
        let now = Utc::now();
        let jobs: Vec<(JobSpec, Option<chrono::DateTime<Utc>>)> = valid
            .iter()
            .map(|&index| {
                let spec = &specs[index];
                let next = schedule_of(spec).and_then(|_| plan_next(spec, now, now));
                (spec.clone(), next)
            })
            .collect();
        // Before the write: see `call_off`.
        self.inner
            .called_off
            .call_off_all(existing.values().copied());
        let refused = self
            .inner
            .jobs
            .put_jobs_within(tenant, &jobs, policy.quotas.max_jobs)
            .await?;
        self.inner.wake.notify_one();
        let mut refused_at = HashSet::with_capacity(refused.len());
        for over in &refused {
            let index = valid[over.index];
            results[index] = Some(Err(jobs_quota(policy, over).into()));
            refused_at.insert(index);
        }
        Ok(valid
            .iter()
            .copied()
            .filter(|index| !refused_at.contains(index))
            .collect())
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
