//! The job definition, as stored and as the API accepts it: Dkron's fields with their JSON
//! names, plus Sandcron's `timeout`, `retry_backoff`, `misfire`, `grants` and `notify`.
//! `null` is accepted for every field and means its default, as in Dkron (whose UI and
//! exports send it).
//!
//! Read-only fields of Dkron's job JSON (`status`, `next`, counters, `dependent_jobs`) are
//! not part of the definition; the API reports them beside it and ignores them on input,
//! so a Dkron export is accepted as it is.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::notify::NotifyRule;
use super::processors::Processors;

/// What a user defines: everything about a job except what running it changes.
///
/// Read-only fields of a shown job (id, status, next, counters, dependent_jobs) are
/// ignored on input, so a Dkron export is accepted as it is; `null` is any field's
/// default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct JobSpec {
    /// Unique key: lower-case letters, digits, `_` and `-` (Dkron's slug rule).
    #[serde(deserialize_with = "null_as_default")]
    #[schema(example = "backup-db")]
    pub name: String,
    /// A name to show instead of `name`.
    #[serde(deserialize_with = "null_as_default")]
    pub displayname: String,
    /// When it runs: cron (5 or 6 fields), `@every`, `@at`, `@manually`, descriptors (the
    /// `sandcron-schedule` crate); empty only for a child job.
    #[serde(deserialize_with = "null_as_default")]
    #[schema(example = "@every 10s")]
    pub schedule: String,
    /// IANA time zone the schedule is read in; empty means UTC.
    #[serde(deserialize_with = "null_as_default")]
    pub timezone: String,
    /// Free text.
    #[serde(deserialize_with = "null_as_default")]
    pub owner: String,
    /// Free text.
    #[serde(deserialize_with = "null_as_default")]
    pub owner_email: String,
    /// A disabled job is not scheduled (it can still be run by hand).
    #[serde(deserialize_with = "null_as_default")]
    pub disabled: bool,
    /// Node-targeting tags (`"key": "value[:count]"`).
    #[serde(deserialize_with = "null_as_default")]
    pub tags: BTreeMap<String, String>,
    /// Free labels; the job list filters on them. A claimed tick does not keep them
    /// (`scheduler::claim`): nothing that runs or reports a run reads them.
    #[serde(deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, String>,
    /// Extra attempts after a failure.
    #[serde(deserialize_with = "null_as_default")]
    pub retries: u32,
    /// Delay between attempts.
    #[serde(deserialize_with = "null_as_default")]
    pub retry_backoff: RetryBackoff,
    /// The parent whose success triggers this job; empty for none.
    #[serde(deserialize_with = "null_as_default")]
    pub parent_job: String,
    /// What the output goes through after each execution, in order
    /// (docs/processors.md).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Processors::is_empty"
    )]
    pub processors: Processors,
    /// When to send word of an execution, and where (docs/processors.md);
    /// absent or `null`: the server's default rules, `[]`: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<Vec<NotifyRule>>,
    /// Whether runs may overlap.
    #[serde(deserialize_with = "null_as_default")]
    pub concurrency: Concurrency,
    /// The executor: a built-in name (`shell`, `http`, `echo`) or an uploaded component.
    #[serde(deserialize_with = "null_as_default")]
    #[schema(example = "shell")]
    pub executor: String,
    /// The executor's config. Strings as Dkron; numbers and booleans are accepted and kept
    /// as their text (Dkron refuses them, issue #986).
    #[serde(deserialize_with = "string_map")]
    #[schema(schema_with = executor_config_schema, example = json!({"command": "echo hello"}))]
    pub executor_config: BTreeMap<String, String>,
    /// Delete the job after its first successful run.
    #[serde(deserialize_with = "null_as_default")]
    pub ephemeral: bool,
    /// Do not run before this instant.
    pub starts_at: Option<DateTime<Utc>>,
    /// Do not run after this instant (the job stays, it is just not run).
    pub expires_at: Option<DateTime<Utc>>,
    /// Deadline of each execution, a Go duration (`30s`, `1h30m`); empty means one hour.
    #[serde(deserialize_with = "null_as_default")]
    #[schema(example = "30s")]
    pub timeout: String,
    /// What to do with ticks missed while no node was running.
    #[serde(deserialize_with = "null_as_default")]
    pub misfire: Misfire,
    /// What this job's executions may do, within its tenant's grants (Sandcron's key):
    /// `{"http": ["https://api.example.com"]}`, a capability left out is denied. Absent
    /// or `null`: the tenant's grants as they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<BTreeMap<String, Vec<String>>>,
}

/// Whether executions of one job may overlap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Concurrency {
    /// They may (Dkron's default; `""` means this too, as in Dkron).
    #[default]
    #[serde(alias = "")]
    Allow,
    /// A tick is skipped while an execution of the job is running.
    Forbid,
}

/// What happens to ticks missed while no node was running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// Drop them; the job next runs at its next tick from now.
    #[default]
    Skip,
    /// Run once at start-up for all of them, then resume the schedule.
    RunOnce,
}

/// Exponential backoff between attempts: `initial`, doubled each time up to `max`, with up
/// to `jitter` (a fraction, 0 to 1) added at random.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(from = "RetryBackoffInput")]
pub struct RetryBackoff {
    /// First delay, a Go duration.
    #[schema(default = "1s")]
    pub initial: String,
    /// Largest delay, a Go duration.
    #[schema(default = "5m")]
    pub max: String,
    /// Random extra, as a fraction of the delay.
    #[schema(default = 0.1, minimum = 0.0, maximum = 1.0)]
    pub jitter: f64,
}

impl Default for RetryBackoff {
    fn default() -> Self {
        Self {
            initial: "1s".into(),
            max: "5m".into(),
            jitter: 0.1,
        }
    }
}

/// [`RetryBackoff`] as written: a field left out or `null` takes its default.
#[derive(Default, Deserialize)]
#[serde(default)]
struct RetryBackoffInput {
    initial: Option<String>,
    max: Option<String>,
    jitter: Option<f64>,
}

impl From<RetryBackoffInput> for RetryBackoff {
    fn from(input: RetryBackoffInput) -> Self {
        let default = Self::default();
        Self {
            initial: input.initial.unwrap_or(default.initial),
            max: input.max.unwrap_or(default.max),
            jitter: input.jitter.unwrap_or(default.jitter),
        }
    }
}

/// The schema of `executor_config`: strings, numbers and booleans are accepted (and shown
/// back as strings).
fn executor_config_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{Object, SchemaType, Type};
    let value = SchemaType::from_iter([Type::String, Type::Number, Type::Boolean]);
    Object::builder()
        .schema_type(Type::Object)
        .additional_properties(Some(Object::builder().schema_type(value)))
        .build()
}

/// `null` read as the field's default, as Dkron (Go's zero values) reads it.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A map whose values may be strings, numbers or booleans; each is kept as its text.
fn string_map<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    let raw = Option::<BTreeMap<String, serde_json::Value>>::deserialize(deserializer)?;
    raw.unwrap_or_default()
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => String::new(),
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "executor_config.{key}: expected a string, number or boolean, found {other}"
                    )));
                }
            };
            Ok((key, text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dkron_job_is_accepted_as_it_is() {
        let dkron = r#"{
            "name": "job1", "displayname": "", "schedule": "@every 10s", "timezone": "",
            "owner": "ops", "owner_email": "ops@example.com", "success_count": 3,
            "error_count": 0, "last_success": "2026-01-01T00:00:00Z", "last_error": null,
            "disabled": false, "tags": {"role": "web:1"}, "metadata": null, "retries": 2,
            "dependent_jobs": null, "parent_job": "", "processors": {}, "concurrency": "forbid",
            "executor": "shell", "executor_config": {"command": "echo hi", "shell": "true"},
            "status": "success", "next": "2026-01-01T00:00:10Z", "ephemeral": false,
            "expires_at": null
        }"#;
        let spec: JobSpec = serde_json::from_str(dkron).unwrap();
        assert_eq!(spec.name, "job1");
        assert_eq!(spec.concurrency, Concurrency::Forbid);
        assert_eq!(spec.executor_config["command"], "echo hi");
        assert_eq!(spec.tags["role"], "web:1");
        assert!(spec.metadata.is_empty());
    }

    #[test]
    fn null_means_the_default_for_every_field() {
        let fields = [
            "displayname",
            "schedule",
            "timezone",
            "owner",
            "owner_email",
            "disabled",
            "tags",
            "metadata",
            "retries",
            "retry_backoff",
            "parent_job",
            "processors",
            "notify",
            "concurrency",
            "executor",
            "executor_config",
            "ephemeral",
            "starts_at",
            "expires_at",
            "timeout",
            "misfire",
            "grants",
        ];
        for field in fields {
            let json = format!(r#"{{"name": "j", "{field}": null}}"#);
            let spec: JobSpec =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(
                spec,
                JobSpec {
                    name: "j".into(),
                    ..JobSpec::default()
                },
                "{json}"
            );
        }
        let spec: JobSpec = serde_json::from_str(
            r#"{"retry_backoff": {"initial": null, "max": "1m", "jitter": null}}"#,
        )
        .unwrap();
        assert_eq!(spec.retry_backoff.initial, "1s");
        assert_eq!(spec.retry_backoff.max, "1m");
    }

    #[test]
    fn an_empty_concurrency_means_allow_as_in_dkron() {
        let spec: JobSpec = serde_json::from_str(r#"{"name": "j", "concurrency": ""}"#).unwrap();
        assert_eq!(spec.concurrency, Concurrency::Allow);
        assert!(serde_json::from_str::<JobSpec>(r#"{"concurrency": "sometimes"}"#).is_err());
    }

    #[test]
    fn executor_config_accepts_numbers_and_booleans() {
        let spec: JobSpec = serde_json::from_str(
            r#"{"name": "j", "executor_config": {"timeout": 30, "shell": true, "ratio": 0.5}}"#,
        )
        .unwrap();
        assert_eq!(spec.executor_config["timeout"], "30");
        assert_eq!(spec.executor_config["shell"], "true");
        assert_eq!(spec.executor_config["ratio"], "0.5");
    }

    #[test]
    fn nested_executor_config_values_are_refused_by_key() {
        let err = serde_json::from_str::<JobSpec>(
            r#"{"name": "j", "executor_config": {"headers": ["a"]}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("executor_config.headers"), "{err}");
    }
}
