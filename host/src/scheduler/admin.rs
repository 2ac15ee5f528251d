//! Changing jobs through the scheduler: create or replace (validated, parent checked,
//! next tick computed), toggle, delete, restore, run now, and clear executions. Every
//! change wakes the claim loop, so a job due within the horizon is not missed. Every
//! method acts within one tenant: another tenant's jobs are not found.

use std::sync::Arc;

use chrono::Utc;

use super::claim::{plan_next, schedule_of};
use super::{JobError, Scheduler};
use crate::jobs::{FieldError, JobSpec, validate};
use crate::store::{ExecutionRecord, ExecutionState, StoredJob, TenantId};
use crate::tenants::QuotaExceeded;

/// How deep a chain of parents may be.
const MAX_CHAIN_DEPTH: usize = 1000;

impl Scheduler {
    /// Validates and creates or replaces a job (Dkron's create-or-replace), and
    /// schedules it. A missing parent or a job that would be its own ancestor is
    /// `Invalid` naming `parent_job`.
    /// A new job past the tenant's `max_jobs` is `Quota`.
    pub async fn put_job(&self, tenant: TenantId, spec: JobSpec) -> Result<StoredJob, JobError> {
        let known = self.executor_known(tenant, &spec.executor).await?;
        validate(&spec, |_| known)?;
        self.check_parent(tenant, &spec).await?;
        let existing = self.inner.store.get_job(tenant, &spec.name).await?;
        if existing.is_none() {
            self.check_job_quota(tenant).await?;
        }
        let now = Utc::now();
        // An `@every` job starts its series now; `starts_at` and the rest via plan_next.
        let next = schedule_of(&spec).and_then(|_| plan_next(&spec, now, now));
        if let Some(job) = existing {
            // Before the write: see `call_off`.
            self.inner.called_off.call_off(job.id);
        }
        let job = self.inner.store.put_job(tenant, &spec, next).await?;
        self.inner.wake.notify_one();
        Ok(job)
    }

    async fn check_job_quota(&self, tenant: TenantId) -> Result<(), JobError> {
        let policy = self.tenant_policy(tenant).await?;
        if let Some(max) = policy.quotas.max_jobs {
            let jobs = self.inner.store.count_jobs(tenant).await?;
            if jobs >= max {
                return Err(QuotaExceeded::new(
                    "max_jobs",
                    max,
                    format!("tenant {} has {jobs} jobs", policy.name),
                )
                .into());
            }
        }
        Ok(())
    }

    async fn check_parent(&self, tenant: TenantId, spec: &JobSpec) -> Result<(), JobError> {
        if spec.parent_job.is_empty() {
            return Ok(());
        }
        let mut ancestor = spec.parent_job.clone();
        for _ in 0..MAX_CHAIN_DEPTH {
            let Some(job) = self.inner.store.get_job(tenant, &ancestor).await? else {
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
            .store
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
            .store
            .delete_job(tenant, name)
            .await?
            .ok_or_else(|| JobError::NotFound(name.to_string()))?;
        Ok(job)
    }

    /// Creates or replaces every job, parents before children (Dkron's restore). One
    /// result per job, in the input's order.
    pub async fn restore(
        &self,
        tenant: TenantId,
        specs: Vec<JobSpec>,
    ) -> Vec<(String, Result<StoredJob, JobError>)> {
        let mut results: Vec<Option<Result<StoredJob, JobError>>> =
            specs.iter().map(|_| None).collect();
        // Pass after pass, put the jobs whose parent is already there.
        loop {
            let mut progressed = false;
            for (index, spec) in specs.iter().enumerate() {
                if results[index].is_some() {
                    continue;
                }
                let parent_waiting = !spec.parent_job.is_empty()
                    && specs.iter().enumerate().any(|(other, candidate)| {
                        candidate.name == spec.parent_job
                            && results[other].is_none()
                            && other != index
                    });
                if parent_waiting {
                    continue;
                }
                results[index] = Some(self.put_job(tenant, spec.clone()).await);
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

    /// Starts a run now and returns its execution record (state `running`) without
    /// waiting for it. Ignores `disabled` and the time bounds as Dkron does, but honours
    /// `forbid`: `Conflict` while an execution of the job is open. `Quota` while the
    /// tenant has `max_concurrent_executions` running on this node.
    pub async fn run_job(&self, tenant: TenantId, name: &str) -> Result<ExecutionRecord, JobError> {
        let job = self.get(tenant, name).await?;
        let policy = self.tenant_policy(tenant).await?;
        if let Some(max) = policy.quotas.max_concurrent_executions {
            let running = self.inner.tenants.running(tenant);
            if running >= max {
                return Err(QuotaExceeded::new(
                    "max_concurrent_executions",
                    max,
                    format!("tenant {} has {running} executions running", policy.name),
                )
                .into());
            }
        }
        let has_dependents = !job.dependent_jobs.is_empty();
        Ok(self
            .inner
            .start_now(
                tenant,
                job.id,
                Arc::new(job.spec),
                has_dependents,
                ExecutionState::Running,
                crate::store::Trigger::Manual,
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
            .store
            .delete_executions(tenant, name)
            .await?
            .ok_or_else(|| JobError::NotFound(name.to_string()))
    }

    /// Calls off the ticks of `name` claimed so far: they carry what the job says before
    /// the change about to be written. Called before the write, so a tick claimed after
    /// it is never dropped (at worst it runs once more with the old definition).
    async fn call_off(&self, tenant: TenantId, name: &str) -> Result<(), JobError> {
        if let Some(job) = self.inner.store.get_job(tenant, name).await? {
            self.inner.called_off.call_off(job.id);
        }
        Ok(())
    }

    async fn get(&self, tenant: TenantId, name: &str) -> Result<StoredJob, JobError> {
        self.inner
            .store
            .get_job(tenant, name)
            .await?
            .ok_or_else(|| JobError::NotFound(name.to_string()))
    }
}
