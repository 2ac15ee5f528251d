//! The JSON shapes the API answers with: a job as Dkron shows it (the definition plus
//! `id`, `status`, `next` and the counters), and an execution.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::after_run::{DeliveryOutcome, ProcessorOutcome};
use crate::jobs::JobSpec;
use crate::scheduler::MemberStatus;
use crate::store::{ExecutionRecord, ExecutionState, StoredJob, Trigger};

/// A job as the API shows it: every field of the definition, and what running it changed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Job)]
pub struct JobOut {
    /// A copy of `name`, as in Dkron.
    pub id: String,
    /// The definition.
    #[serde(flatten)]
    pub spec: JobSpec,
    /// `""` (never run), `success`, `failed` or `partially_failed`.
    #[schema(schema_with = job_statuses)]
    pub status: String,
    /// When it fires next, claimed or not; `null` when it will not.
    pub next: Option<DateTime<Utc>>,
    /// Successful executions.
    pub success_count: i64,
    /// Failed executions.
    pub error_count: i64,
    /// When the last successful execution finished.
    pub last_success: Option<DateTime<Utc>>,
    /// When the last failed execution finished.
    pub last_error: Option<DateTime<Utc>>,
    /// The jobs whose `parent_job` is this one.
    pub dependent_jobs: Vec<String>,
}

impl From<StoredJob> for JobOut {
    fn from(job: StoredJob) -> Self {
        Self {
            id: job.spec.name.clone(),
            next: crate::scheduler::next_fire(&job.spec, job.next_run_at, Utc::now()),
            spec: job.spec,
            status: job.status,
            success_count: job.success_count,
            error_count: job.error_count,
            last_success: job.last_success,
            last_error: job.last_error,
            dependent_jobs: job.dependent_jobs,
        }
    }
}

/// One execution as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Execution)]
pub struct ExecutionOut {
    /// Unique id.
    pub id: i64,
    /// The job's name.
    pub job_name: String,
    /// Shared by every attempt of one tick.
    pub group: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The instant the schedule said (for a retry: when it was due); `null` for a
    /// manual run.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// When the executor started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended; `null` while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// `scheduled`, `running`, `succeeded` or `failed`.
    #[schema(schema_with = execution_states)]
    pub state: &'static str,
    /// Whether it ended with success.
    pub success: bool,
    /// The output kept, as UTF-8 (invalid bytes replaced).
    pub output: String,
    /// Whether older output was dropped, when it ran or by `output_size_limit`.
    pub output_truncated: bool,
    /// Why it failed (`killed`, `timed out after 1h`, ...); empty otherwise.
    pub reason: String,
    /// The node that runs or ran it.
    pub node_name: String,
    /// Why it exists: `schedule`, `manual`, `retry` or `parent`.
    #[schema(schema_with = triggers)]
    pub trigger: &'static str,
    /// How each of the job's processors went (`[{"name", "ok", "error"}]`), once they ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<ProcessorOutcome>>)]
    pub processors: Option<serde_json::Value>,
    /// How each notification went (`[{"target", "event", "ok", "attempts", "error"}]`;
    /// `ok` is `null` while it is being tried), once any fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<DeliveryOutcome>>)]
    pub notifications: Option<serde_json::Value>,
}

impl ExecutionOut {
    /// The execution with at most the last `output_limit` bytes of its output (all of it
    /// when `None`).
    pub fn new(record: ExecutionRecord, output_limit: Option<usize>) -> Self {
        let (output, cut) = match output_limit {
            Some(limit) => tail(&record.output, limit),
            None => (record.output.as_slice(), false),
        };
        let after_run = |key: &str| {
            record
                .after_run
                .as_ref()
                .and_then(|report| report.get(key))
                .filter(|steps| steps.as_array().is_some_and(|steps| !steps.is_empty()))
                .cloned()
        };
        Self {
            processors: after_run("processors"),
            notifications: after_run("notifications"),
            id: record.id,
            output: String::from_utf8_lossy(output).into_owned(),
            output_truncated: record.output_truncated || cut,
            job_name: record.job_name,
            group: record.group,
            attempt: record.attempt,
            scheduled_at: (record.trigger != Trigger::Manual).then_some(record.scheduled_at),
            trigger: record.trigger.as_str(),
            started_at: record.started_at,
            finished_at: record.finished_at,
            state: record.state.as_str(),
            success: record.state == ExecutionState::Succeeded,
            reason: record.reason,
            node_name: record.node,
        }
    }
}

/// A member of the cluster as `GET /v1/members` shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Member)]
pub struct MemberOut {
    /// The node's name.
    pub name: String,
    /// Where its API listens (`HOST:PORT`).
    pub address: String,
    /// Its tags.
    pub tags: std::collections::BTreeMap<String, String>,
    /// `alive`, or `dead` when its heartbeat is older than `--dead-after`.
    #[schema(schema_with = member_statuses)]
    pub status: &'static str,
    /// Its last heartbeat.
    pub last_heartbeat: DateTime<Utc>,
    /// When its process started.
    pub started_at: DateTime<Utc>,
}

impl From<MemberStatus> for MemberOut {
    fn from(status: MemberStatus) -> Self {
        let member = status.member;
        Self {
            name: member.name,
            address: member.address,
            tags: member.tags,
            status: if status.alive { "alive" } else { "dead" },
            last_heartbeat: member.heartbeat_at,
            started_at: member.started_at,
        }
    }
}

impl From<ExecutionRecord> for ExecutionOut {
    fn from(record: ExecutionRecord) -> Self {
        Self::new(record, None)
    }
}

/// The schema of a string that is one of `values`.
pub fn one_of<'a>(values: impl IntoIterator<Item = &'a str>) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{Object, Type};
    Object::builder()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

/// The schema of an execution's `state`: one of [`ExecutionState::ALL`].
pub fn execution_states() -> utoipa::openapi::schema::Object {
    one_of(ExecutionState::ALL.map(ExecutionState::as_str))
}

fn job_statuses() -> utoipa::openapi::schema::Object {
    one_of(["", "success", "failed", "partially_failed"])
}

fn triggers() -> utoipa::openapi::schema::Object {
    one_of(["schedule", "manual", "retry", "parent"])
}

fn member_statuses() -> utoipa::openapi::schema::Object {
    one_of(["alive", "dead"])
}

/// The last `limit` bytes of `output` (fewer if the cut would split a UTF-8 character),
/// and whether anything was dropped.
fn tail(output: &[u8], limit: usize) -> (&[u8], bool) {
    if output.len() <= limit {
        return (output, false);
    }
    let start = output.len() - limit;
    // A character cut in two leaves up to three continuation bytes (10xxxxxx): skip them.
    let partial = output[start..]
        .iter()
        .take(3)
        .take_while(|byte| *byte & 0xC0 == 0x80)
        .count();
    (&output[start + partial..], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_bytes_and_whole_characters() {
        assert_eq!(tail(b"hello", 10), (&b"hello"[..], false));
        assert_eq!(tail(b"hello", 3), (&b"llo"[..], true));
        assert_eq!(tail(b"hello", 0), (&b""[..], true));
        let text = "aé".as_bytes(); // 'é' is two bytes
        assert_eq!(tail(text, 1), (&b""[..], true));
        assert_eq!(tail(text, 2), ("é".as_bytes(), true));
    }
}
