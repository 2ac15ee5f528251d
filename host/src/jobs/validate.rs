//! Checks a [`JobSpec`] before it is accepted; every refusal names the field.
//!
//! What needs other jobs (does the parent exist, would the job be its own ancestor) is
//! checked where the jobs are: by the caller, against the store.

use std::fmt;
use std::time::Duration;

use sandcron_sdk::duration::parse_duration;

use super::JobSpec;
use crate::capabilities::Grants;
use sandcron_schedule::Schedule;

/// A refusal of one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as it is named in the job's JSON (`schedule`, `retry_backoff.max`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A refusal of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Checks `spec` on its own; `executor_exists` says whether an executor name is known.
/// Returns the parsed schedule (`None` for a child job without one).
pub fn validate(
    spec: &JobSpec,
    executor_exists: impl Fn(&str) -> bool,
) -> Result<Option<Schedule>, FieldError> {
    check_name(&spec.name)?;
    if spec.executor.is_empty() {
        return Err(FieldError::new("executor", "is required"));
    }
    if !executor_exists(&spec.executor) {
        return Err(FieldError::new(
            "executor",
            format!("unknown executor {:?}", spec.executor),
        ));
    }
    if spec.parent_job == spec.name {
        return Err(FieldError::new(
            "parent_job",
            "a job cannot be its own parent",
        ));
    }
    if !spec.timeout.is_empty() {
        positive_duration("timeout", &spec.timeout)?;
    }
    let initial = positive_duration("retry_backoff.initial", &spec.retry_backoff.initial)?;
    let max = positive_duration("retry_backoff.max", &spec.retry_backoff.max)?;
    if max < initial {
        return Err(FieldError::new(
            "retry_backoff.max",
            "must not be shorter than retry_backoff.initial",
        ));
    }
    if !(0.0..=1.0).contains(&spec.retry_backoff.jitter) {
        return Err(FieldError::new(
            "retry_backoff.jitter",
            "must be between 0 and 1",
        ));
    }
    if let (Some(starts), Some(expires)) = (spec.starts_at, spec.expires_at)
        && expires < starts
    {
        return Err(FieldError::new("expires_at", "is before starts_at"));
    }
    job_grants(spec)?;
    if spec.schedule.is_empty() {
        if spec.parent_job.is_empty() {
            return Err(FieldError::new(
                "schedule",
                "is required (unless parent_job is set)",
            ));
        }
        return Ok(None);
    }
    let timezone = Some(spec.timezone.as_str()).filter(|tz| !tz.is_empty());
    Schedule::parse(&spec.schedule, timezone, &spec.name)
        .map(Some)
        .map_err(|e| FieldError::new(e.field(), e.message()))
}

/// The job's own `grants`, parsed: `None` when it has none. The error names the pattern
/// (`grants.http[0]`). Docker grants cannot be narrowed per job: a job that lists
/// `docker` patterns is refused (leaving `docker` out denies it).
pub fn job_grants(spec: &JobSpec) -> Result<Option<Grants>, FieldError> {
    let Some(lists) = &spec.grants else {
        return Ok(None);
    };
    if lists
        .get("docker")
        .is_some_and(|patterns| !patterns.is_empty())
    {
        return Err(FieldError::new(
            "grants.docker",
            "a job cannot narrow its tenant's docker grant; leave docker out to deny it, \
             or give the job no grants to use its tenant's",
        ));
    }
    Grants::from_lists(
        lists.iter().map(|(capability, patterns)| {
            (capability.as_str(), patterns.iter().map(String::as_str))
        }),
    )
    .map(Some)
    .map_err(|(entry, message)| FieldError::new(format!("grants.{entry}"), message))
}

/// Dkron's slug rule for names (jobs, uploaded executors): only lower-case letters,
/// digits, `_` and `-`.
pub fn check_name(name: &str) -> Result<(), FieldError> {
    if name.is_empty() {
        return Err(FieldError::new("name", "is required"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return Err(FieldError::new(
            "name",
            format!("{name:?} is not a slug: {bad:?} is not a lower-case letter, digit, _ or -"),
        ));
    }
    if name.len() > 200 {
        return Err(FieldError::new("name", "is longer than 200 bytes"));
    }
    Ok(())
}

fn positive_duration(field: &str, text: &str) -> Result<Duration, FieldError> {
    let duration = parse_duration(text).map_err(|e| FieldError::new(field, e.to_string()))?;
    if duration.is_zero() {
        return Err(FieldError::new(field, "must be more than 0"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(json: &str) -> JobSpec {
        serde_json::from_str(json).unwrap()
    }

    fn refused(json: &str) -> FieldError {
        validate(&job(json), |e| e == "shell").unwrap_err()
    }

    #[test]
    fn a_valid_job_gives_its_schedule() {
        let spec = job(r#"{"name": "backup-db", "schedule": "@every 10s", "executor": "shell"}"#);
        assert!(validate(&spec, |e| e == "shell").unwrap().is_some());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (r#"{"schedule": "@daily", "executor": "shell"}"#, "name"),
            (
                r#"{"name": "Backup", "schedule": "@daily", "executor": "shell"}"#,
                "name",
            ),
            (
                r#"{"name": "a b", "schedule": "@daily", "executor": "shell"}"#,
                "name",
            ),
            (
                r#"{"name": "j", "schedule": "* * *", "executor": "shell"}"#,
                "schedule",
            ),
            (r#"{"name": "j", "executor": "shell"}"#, "schedule"),
            (
                r#"{"name": "j", "schedule": "@daily", "timezone": "Mars/Base", "executor": "shell"}"#,
                "timezone",
            ),
            (
                r#"{"name": "j", "schedule": "@daily", "executor": "nope"}"#,
                "executor",
            ),
            (r#"{"name": "j", "schedule": "@daily"}"#, "executor"),
            (
                r#"{"name": "j", "schedule": "@daily", "executor": "shell", "parent_job": "j"}"#,
                "parent_job",
            ),
            (
                r#"{"name": "j", "schedule": "@daily", "executor": "shell", "timeout": "soon"}"#,
                "timeout",
            ),
            (
                r#"{"name": "j", "schedule": "@daily", "executor": "shell", "retry_backoff": {"initial": "1m", "max": "1s"}}"#,
                "retry_backoff.max",
            ),
            (
                r#"{"name": "j", "schedule": "@daily", "executor": "shell", "retry_backoff": {"jitter": 2}}"#,
                "retry_backoff.jitter",
            ),
            (
                r#"{"name": "j", "schedule": "@daily", "executor": "shell", "starts_at": "2026-02-01T00:00:00Z", "expires_at": "2026-01-01T00:00:00Z"}"#,
                "expires_at",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(refused(json).field, field, "{json}");
        }
    }

    #[test]
    fn a_child_job_needs_no_schedule() {
        let spec = job(r#"{"name": "child", "parent_job": "parent", "executor": "shell"}"#);
        assert_eq!(validate(&spec, |_| true).unwrap(), None);
    }

    #[test]
    fn unicode_lower_case_names_are_slugs_as_in_dkron() {
        let spec = job(r#"{"name": "café_1", "schedule": "@daily", "executor": "shell"}"#);
        assert!(validate(&spec, |_| true).is_ok());
    }
}
