//! A tenant's quotas: how many jobs, executions at once, executor uploads and bytes of
//! them it may have, how large one upload may be, the memory and output each of its
//! executions may use, and how often one of its jobs may fire. Stored as JSON (`{"max_jobs": 100, …}`); a quota left out is
//! unlimited (the node's own limits still apply to uploads, memory and output), except
//! `max_concurrent_executions`: a tenant other than the default one that has none holds
//! at most the node's share per tenant (`serve --tenant-share`).

use serde::{Deserialize, Serialize};

use crate::jobs::FieldError;

/// A tenant's limits. A quota left out is unlimited (but see `max_concurrent_executions`);
/// past one the API answers 429 naming
/// it in `field`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Jobs it may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_jobs: Option<u64>,
    /// Its executions running at once on one node; left out, the node's share per tenant
    /// (`serve --tenant-share`), or no limit for the default tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_executions: Option<u64>,
    /// Bytes of one uploaded component (the server's `--max-upload-size` applies too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_upload_bytes: Option<u64>,
    /// Executor versions it may have uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_executors: Option<u64>,
    /// Total size of its uploaded executor versions, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_executor_bytes: Option<u64>,
    /// Linear memory of one execution, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_bytes: Option<u64>,
    /// Output kept of one execution, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<u64>,
    /// The shortest time between two ticks of one of its jobs, in milliseconds: a job
    /// whose schedule fires more often is refused (400 naming `schedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval_ms: Option<u64>,
}

/// The names of the quotas, as their JSON spells them.
pub const QUOTA_NAMES: &[&str] = &[
    "max_jobs",
    "max_concurrent_executions",
    "max_upload_bytes",
    "max_executors",
    "max_executor_bytes",
    "max_memory_bytes",
    "max_output_bytes",
    "min_interval_ms",
];

impl Quotas {
    /// Quotas from their JSON form; the error names the field (`quotas.max_jobs`).
    pub fn from_json(json: &serde_json::Value) -> Result<Self, FieldError> {
        serde_path_to_error::deserialize(json).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "quotas".to_string()
            } else {
                format!("quotas.{path}")
            };
            let message = e.into_inner().to_string();
            FieldError::new(field, message)
        })
    }

    /// The JSON form.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A request refused because it would take the tenant past a quota (HTTP 429).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("quota {quota}: {message}")]
pub struct QuotaExceeded {
    /// Which quota (`max_jobs`, …).
    pub quota: &'static str,
    /// What the tenant has and may have.
    pub message: String,
}

impl QuotaExceeded {
    /// Refuses `quota`, whose limit is `limit`, with what it would come to.
    pub fn new(quota: &'static str, limit: u64, what: impl std::fmt::Display) -> Self {
        Self {
            quota,
            message: format!("{what}; the tenant's quota is {limit}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotas_read_from_json_and_unknown_keys_are_named() {
        let quotas = Quotas::from_json(&json!({"max_jobs": 3, "max_output_bytes": 1024})).unwrap();
        assert_eq!(quotas.max_jobs, Some(3));
        assert_eq!(quotas.max_concurrent_executions, None);
        assert_eq!(
            quotas.to_json(),
            json!({"max_jobs": 3, "max_output_bytes": 1024})
        );

        let error = Quotas::from_json(&json!({"max_jobz": 3})).unwrap_err();
        assert!(error.message.contains("max_jobz"), "{error:?}");
        let error = Quotas::from_json(&json!({"max_jobs": -1})).unwrap_err();
        assert_eq!(error.field, "quotas.max_jobs");
        for name in QUOTA_NAMES {
            assert!(Quotas::from_json(&json!({ *name: 1 })).is_ok(), "{name}");
        }
    }
}
