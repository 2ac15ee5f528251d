//! The rows the shared SQL reads and writes, the column lists that select them, and
//! their conversions to the store's types.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::{
    DueJob, ExecutionRecord, ExecutionState, FinishedExecution, Member, StoreError, StoredJob,
    Trigger, from_millis, to_millis,
};
use crate::jobs::JobSpec;

/// Rows per bulk statement: 7 bound values each stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 parameters.
pub(in crate::store) const BULK_ROWS: usize = 1000;

/// `rows` in chunks for statements with a `VALUES` list of one row per element, of sizes
/// from a fixed ladder: whole chunks of [`BULK_ROWS`], then the rest as powers of two
/// (345 rows: 256, 64, 16, 8, 1). A statement's text depends on its number of rows, and
/// the connection's cache of prepared statements finds it again only if that number
/// recurs: with a chunk of whatever size a batch left, nearly every claim and every
/// batch of the recorder prepared its statements anew (a tenth of SQLite's thread, most of
/// it parsing the lists), and evicted the others from the cache. A kind of statement now
/// has at most eleven texts, each prepared once per connection.
pub(in crate::store) fn ladder_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = match rest.len() {
            n if n >= BULK_ROWS => BULK_ROWS,
            // The largest power of two that is not more than `n`.
            n => 1 << n.ilog2(),
        };
        let (chunk, after) = rest.split_at(size);
        rest = after;
        Some(chunk)
    })
}

/// Parses a job's stored definition ([`stored_spec`]'s text, or the whole JSON that
/// rows written before it hold: both read the same).
fn parse_spec(id: i64, json: &str) -> Result<JobSpec, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("job {id}: {e}")))
}

/// A job's definition as stored: its JSON without the fields that hold their default,
/// which [`parse_spec`] fills in again (`JobSpec` is `#[serde(default)]`): a typical
/// job's row holds what its author wrote, not twenty empty fields, and each claim, which
/// reads and parses the rows of 2,000 due jobs, reads that much less. What the default
/// is comes from `JobSpec::default()` itself, not from a list of fields.
pub(in crate::store) fn stored_spec(spec: &JobSpec) -> Result<String, StoreError> {
    static DEFAULTS: LazyLock<serde_json::Map<String, Value>> =
        LazyLock::new(|| match serde_json::to_value(JobSpec::default()) {
            Ok(Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        });
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    let mut fields = match serde_json::to_value(spec).map_err(corrupt)? {
        Value::Object(fields) => fields,
        other => {
            return Err(StoreError::Corrupt(format!(
                "a job's JSON is not an object: {other}"
            )));
        }
    };
    fields.retain(|field, value| DEFAULTS.get(field) != Some(value));
    serde_json::to_string(&fields).map_err(corrupt)
}

/// Whether other jobs name the row's job as parent: a lookup per row that the partial
/// index `jobs_parent` serves, whatever the planner knows of the table.
macro_rules! has_dependents {
    () => {
        "EXISTS (SELECT 1 FROM jobs AS child \
         WHERE child.tenant_id = jobs.tenant_id AND child.parent_job = jobs.name \
         AND child.parent_job <> '') AS has_dependents"
    };
}

/// A job's id, definition and whether it has dependents, for executions handed over.
pub(in crate::store) const SPEC_COLUMNS: &str = concat!("id, tenant_id, spec, ", has_dependents!());

/// What a claim selects of a due job: see [`DueRow`].
pub(in crate::store) const DUE_COLUMNS: &str =
    concat!("id, tenant_id, spec, next_run_at, ", has_dependents!());

/// A due job's row: id, tenant_id, spec, next_run_at, has_dependents.
pub(in crate::store) type DueRow = (i64, i64, String, i64, bool);

/// Due rows as due jobs.
pub(in crate::store) fn due_jobs(rows: Vec<DueRow>) -> Result<Vec<DueJob>, StoreError> {
    rows.into_iter()
        .map(|(id, tenant, spec, at, has_dependents)| {
            Ok(DueJob {
                id,
                tenant,
                spec: parse_spec(id, &spec)?,
                scheduled_at: from_millis(at),
                has_dependents,
            })
        })
        .collect()
}

/// The execution group of a scheduled tick: its instant in nanoseconds, unique per job.
pub(in crate::store) fn tick_group(scheduled_at: DateTime<Utc>) -> i64 {
    to_millis(scheduled_at).saturating_mul(1_000_000)
}

/// The stored state of a finished execution.
pub(in crate::store) fn finished_state(done: &FinishedExecution) -> &'static str {
    if done.success { "succeeded" } else { "failed" }
}

/// Adds the CTE `v (vid, vok, verr, vlast_ok, vlast_err, vstatus)` to the jobs' counters.
pub(in crate::store) const ADD_JOB_TOTALS: &str = "UPDATE job_totals SET success_count = success_count + v.vok, \
     error_count = error_count + v.verr, last_success = COALESCE(v.vlast_ok, last_success), \
     last_error = COALESCE(v.vlast_err, last_error), status = v.vstatus \
     FROM v WHERE job_totals.job_id = v.vid";

/// [`ADD_JOB_TOTALS`] for jobs without failures in `v`: the failure counters and their
/// indexes are not touched.
pub(in crate::store) const ADD_JOB_SUCCESSES: &str = "UPDATE job_totals SET success_count = success_count + v.vok, \
     last_success = COALESCE(v.vlast_ok, last_success), status = v.vstatus \
     FROM v WHERE job_totals.job_id = v.vid";

/// A job's definition (`jobs`) beside what the claim rewrites at every tick (`job_state`:
/// the next tick), one row each per job. The columns of the two tables have distinct
/// names, except the key (`jobs.id`, `job_state.job_id`).
pub(in crate::store) const JOBS_FROM: &str = "jobs JOIN job_state ON job_state.job_id = jobs.id";

/// [`JOBS_FROM`] and what finished executions add up to (`job_totals`: counters, last
/// times, status), for the job as the API shows it.
pub(in crate::store) const JOBS_WITH_TOTALS_FROM: &str = "jobs JOIN job_state ON job_state.job_id = jobs.id \
     JOIN job_totals ON job_totals.job_id = jobs.id";

/// What a batch of finished executions adds to one job.
pub(in crate::store) struct JobTotals {
    pub job_id: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub last_success: Option<i64>,
    pub last_error: Option<i64>,
    pub status: &'static str,
    latest: i64,
}

impl JobTotals {
    /// Sums `finished` per job; the status is the one of the job's latest execution.
    pub(in crate::store) fn of(finished: &[FinishedExecution]) -> Vec<JobTotals> {
        let mut totals = std::collections::BTreeMap::<i64, JobTotals>::new();
        for done in finished {
            let at = to_millis(done.finished_at);
            let total = totals.entry(done.job_id).or_insert(JobTotals {
                job_id: done.job_id,
                succeeded: 0,
                failed: 0,
                last_success: None,
                last_error: None,
                status: done.job_status,
                latest: at,
            });
            if done.success {
                total.succeeded += 1;
                total.last_success = total.last_success.max(Some(at));
            } else {
                total.failed += 1;
                total.last_error = total.last_error.max(Some(at));
            }
            if at >= total.latest {
                total.latest = at;
                total.status = done.job_status;
            }
        }
        totals.into_values().collect()
    }
}

/// A `jobs` row, as the queries select it.
#[derive(sqlx::FromRow)]
pub(in crate::store) struct JobRow {
    pub id: i64,
    pub tenant_id: i64,
    pub spec: String,
    pub status: String,
    pub next_run_at: Option<i64>,
    pub success_count: i64,
    pub error_count: i64,
    pub last_success: Option<i64>,
    pub last_error: Option<i64>,
    pub has_dependents: bool,
}

/// The columns of [`JobRow`].
pub(in crate::store) const JOB_COLUMNS: &str = concat!(
    "jobs.id AS id, jobs.tenant_id AS tenant_id, spec, status, next_run_at, success_count, \
     error_count, last_success, last_error, ",
    has_dependents!()
);

impl JobRow {
    pub(in crate::store) fn into_job(
        self,
        dependent_jobs: Vec<String>,
    ) -> Result<StoredJob, StoreError> {
        Ok(StoredJob {
            id: self.id,
            tenant: self.tenant_id,
            spec: parse_spec(self.id, &self.spec)?,
            status: self.status,
            next_run_at: self.next_run_at.map(from_millis),
            success_count: self.success_count,
            error_count: self.error_count,
            last_success: self.last_success.map(from_millis),
            last_error: self.last_error.map(from_millis),
            dependent_jobs,
        })
    }
}

/// An `executors` row without the bytes.
#[derive(sqlx::FromRow)]
pub(in crate::store) struct ExecutorRow {
    pub name: String,
    pub version: i32,
    pub sha256: String,
    pub size: i64,
    pub imports: String,
    pub created_at: i64,
    pub kind: String,
}

/// The columns of [`ExecutorRow`].
pub(in crate::store) const EXECUTOR_COLUMNS: &str =
    "name, version, sha256, size, imports, created_at, kind";

impl ExecutorRow {
    pub(in crate::store) fn into_executor(self) -> crate::store::StoredExecutor {
        crate::store::StoredExecutor {
            name: self.name,
            version: self.version.max(0) as u32,
            sha256: self.sha256,
            size: self.size.max(0) as u64,
            imports: serde_json::from_str(&self.imports).unwrap_or_default(),
            created_at: from_millis(self.created_at),
            processor: self.kind == EXECUTOR_KIND_PROCESSOR,
        }
    }
}

/// The `kind` stored for a processor component (`executor` for an executor component).
pub(in crate::store) const EXECUTOR_KIND_PROCESSOR: &str = "processor";

/// The `kind` stored for an upload: `processor` or `executor`.
pub(in crate::store) fn executor_kind(processor: bool) -> &'static str {
    if processor {
        EXECUTOR_KIND_PROCESSOR
    } else {
        "executor"
    }
}

/// A `tenants` row.
#[derive(sqlx::FromRow)]
pub(in crate::store) struct TenantRow {
    pub id: i64,
    pub name: String,
    pub grants: String,
    pub quotas: String,
    pub created_at: i64,
    pub paused: bool,
}

/// The columns of [`TenantRow`].
pub(in crate::store) const TENANT_COLUMNS: &str = "tenants.id, tenants.name, tenants.grants, \
     tenants.quotas, tenants.created_at, tenants.paused";

impl TenantRow {
    pub(in crate::store) fn into_tenant(self) -> Result<crate::store::Tenant, StoreError> {
        let json = |text: &str, what: &str| {
            serde_json::from_str(text)
                .map_err(|e| StoreError::Corrupt(format!("tenant {} {what}: {e}", self.name)))
        };
        Ok(crate::store::Tenant {
            id: self.id,
            grants: json(&self.grants, "grants")?,
            quotas: json(&self.quotas, "quotas")?,
            name: self.name,
            created_at: from_millis(self.created_at),
            paused: self.paused,
        })
    }
}

/// An `executions` row.
#[derive(sqlx::FromRow)]
pub(in crate::store) struct ExecutionRow {
    pub id: i64,
    pub job_name: String,
    pub group_id: i64,
    pub attempt: i32,
    pub scheduled_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub state: String,
    pub output: Vec<u8>,
    pub output_truncated: bool,
    pub reason: String,
    pub node: String,
    pub trigger_kind: String,
    pub after_run: Option<String>,
}

/// The columns of [`ExecutionRow`].
pub(in crate::store) const EXECUTION_COLUMNS: &str = "id, job_name, group_id, attempt, scheduled_at, \
     started_at, finished_at, state, output, output_truncated, reason, node, trigger_kind, \
     after_run";

impl From<ExecutionRow> for ExecutionRecord {
    fn from(row: ExecutionRow) -> Self {
        Self {
            id: row.id,
            job_name: row.job_name,
            group: row.group_id,
            attempt: row.attempt.max(1) as u32,
            scheduled_at: from_millis(row.scheduled_at),
            started_at: row.started_at.map(from_millis),
            finished_at: row.finished_at.map(from_millis),
            state: ExecutionState::parse(&row.state),
            output: row.output,
            output_truncated: row.output_truncated,
            reason: row.reason,
            node: row.node,
            trigger: Trigger::parse(&row.trigger_kind),
            after_run: row
                .after_run
                .and_then(|json| serde_json::from_str(&json).ok()),
        }
    }
}

/// A `members` row: name, address, tags, started_at, heartbeat_at.
pub(in crate::store) type MemberRow = (String, String, String, i64, i64);

/// A members row as a member; unreadable tags read as none.
pub(in crate::store) fn member(row: MemberRow) -> Member {
    let (name, address, tags, started_at, heartbeat_at) = row;
    Member {
        name,
        address,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        started_at: from_millis(started_at),
        heartbeat_at: from_millis(heartbeat_at),
    }
}

/// Closing records of executions that `reason` ended (a crash, a lost node).
pub(in crate::store) fn closing(open: &[ExecutionRecord], reason: &str) -> Vec<FinishedExecution> {
    let now = Utc::now();
    open.iter()
        .map(|record| FinishedExecution {
            id: record.id,
            job_id: 0,
            started_at: record.started_at.unwrap_or(now),
            finished_at: now,
            success: false,
            output: Vec::new(),
            output_truncated: false,
            reason: reason.to_string(),
            job_status: "failed",
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_statements_come_in_a_few_sizes_and_cover_every_row_once_in_order() {
        for count in [0, 1, 2, 3, 345, 999, 1000, 1001, 2345, 5000] {
            let rows: Vec<usize> = (0..count).collect();
            let chunks: Vec<&[usize]> = ladder_chunks(&rows).collect();
            assert_eq!(chunks.concat(), rows, "{count} rows");
            for chunk in &chunks {
                assert!(
                    chunk.len() == BULK_ROWS || chunk.len().is_power_of_two(),
                    "{count} rows: a chunk of {}",
                    chunk.len()
                );
            }
        }
        let sizes = |count: usize| -> Vec<usize> {
            let rows = vec![(); count];
            ladder_chunks(&rows).map(<[()]>::len).collect()
        };
        assert_eq!(sizes(345), [256, 64, 16, 8, 1]);
        assert_eq!(sizes(2345), [1000, 1000, 256, 64, 16, 8, 1]);
    }

    fn spec(json: &str) -> JobSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_stored_definition_reads_back_as_it_was_written() {
        let every_field = spec(
            r#"{"name": "backup-db", "displayname": "Backup", "schedule": "0 0 * * * *",
                "timezone": "Europe/Paris", "owner": "ops", "owner_email": "ops@example.com",
                "disabled": true, "tags": {"role": "db:1"}, "metadata": {"team": "t1"},
                "retries": 3, "retry_backoff": {"initial": "2s", "max": "1m"},
                "parent_job": "dump", "processors": {"log": {}}, "notify": [],
                "concurrency": "forbid", "executor": "shell",
                "executor_config": {"command": "pg_dump"}, "ephemeral": true,
                "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z",
                "timeout": "30s", "misfire": "run_once", "grants": {"process": ["pg_dump"]}}"#,
        );
        let typical = spec(r#"{"name": "a", "schedule": "@every 1s", "executor": "echo"}"#);
        for written in [every_field, typical, JobSpec::default()] {
            let stored = stored_spec(&written).unwrap();
            assert_eq!(parse_spec(1, &stored).unwrap(), written, "{stored}");
        }
    }

    #[test]
    fn fields_that_hold_their_default_are_not_stored() {
        let typical = spec(r#"{"name": "a", "schedule": "@every 1s", "executor": "echo"}"#);
        assert_eq!(
            stored_spec(&typical).unwrap(),
            r#"{"name":"a","schedule":"@every 1s","executor":"echo"}"#
        );
    }
}
