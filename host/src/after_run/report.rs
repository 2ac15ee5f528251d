//! What ran after an execution, as it is stored with the execution and shown by the API:
//! `{"processors": [{"name", "ok", "error"?}], "notifications": [{"target", "event",
//! "ok", "attempts", "error"?}]}`.

use serde::Serialize;

/// The after-run record of one execution.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Each processor step, in the order it ran.
    pub processors: Vec<ProcessorOutcome>,
    /// Each notification that fired.
    pub notifications: Vec<DeliveryOutcome>,
}

/// How one processor step went.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProcessorOutcome {
    /// The processor (`files`, or an upload's name).
    pub name: String,
    /// Whether it did its work.
    pub ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How one notification went.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryOutcome {
    /// Where it went: `webhook POST https://…` or `email ops@example.com`.
    pub target: String,
    /// What it said: `failure`, `success` or `recovery`.
    pub event: String,
    /// Whether it was delivered; `null` while it is being tried.
    pub ok: Option<bool>,
    /// How many tries it took (or were made).
    pub attempts: u32,
    /// Why the last try failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Report {
    /// The report as stored.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
