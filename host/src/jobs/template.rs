//! Notification templates: text with `{{.Name}}` placeholders, Dkron's syntax.
//!
//! Dkron renders its webhook and mail payloads with Go's `text/template`. Only its
//! variable form, `{{.Name}}` (spaces allowed inside the braces), is supported here: it is
//! all Dkron's documented payloads use, and a Go template engine would bring conditionals
//! and loops whose errors show up only when a notification is sent. Anything else between
//! `{{` and `}}`, and an unknown name, is refused when the job is saved.
//!
//! The names are Dkron's ([`Variable::JobName`] …) plus Sandcron's own
//! ([`Variable::ExecutionId`] …); [`VARIABLES`] lists them with what each holds.

use std::fmt::Write as _;

/// A value a template can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variable {
    /// Dkron: the job's name.
    JobName,
    /// Dkron: `true` or `false`.
    Success,
    /// Dkron: the execution's output (after the processors).
    Output,
    /// Dkron: a multi-line summary of the execution.
    Report,
    /// Dkron: the node that sends the notification.
    ReportingNode,
    /// Dkron: when the execution started (RFC 3339).
    StartTime,
    /// Dkron: when it finished (RFC 3339).
    FinishedAt,
    /// Dkron: the node that ran it.
    NodeName,
    /// Sandcron: the execution's id.
    ExecutionId,
    /// Sandcron: 1 for the first attempt.
    Attempt,
    /// Sandcron: the execution group (shared by the attempts of one tick).
    Group,
    /// Sandcron: why it ran: `schedule`, `manual`, `retry` or `parent`.
    Trigger,
    /// Sandcron: the job's tenant.
    Tenant,
    /// Sandcron: why it failed; empty on success.
    Reason,
    /// Sandcron: the instant it was scheduled for (RFC 3339; empty for a manual run).
    ScheduledAt,
    /// Sandcron: the job's status after it: `success`, `failed`, `partially_failed`.
    Status,
    /// Sandcron: the rule that matched: `failure`, `success` or `recovery`.
    Event,
    /// Sandcron: the job's display name (its name when it has none).
    Displayname,
}

/// Every name a template may use, with the variable and what it holds.
pub const VARIABLES: &[(&str, Variable, &str)] = &[
    ("JobName", Variable::JobName, "the job's name"),
    ("Success", Variable::Success, "`true` or `false`"),
    (
        "Output",
        Variable::Output,
        "the output, as the processors left it",
    ),
    ("Report", Variable::Report, "a multi-line summary"),
    (
        "ReportingNode",
        Variable::ReportingNode,
        "the node sending the notification",
    ),
    ("StartTime", Variable::StartTime, "when it started"),
    ("FinishedAt", Variable::FinishedAt, "when it finished"),
    ("NodeName", Variable::NodeName, "the node that ran it"),
    ("ExecutionID", Variable::ExecutionId, "the execution's id"),
    ("Attempt", Variable::Attempt, "1 for the first attempt"),
    ("Group", Variable::Group, "the execution group"),
    (
        "Trigger",
        Variable::Trigger,
        "schedule, manual, retry or parent",
    ),
    ("Tenant", Variable::Tenant, "the job's tenant"),
    ("Reason", Variable::Reason, "why it failed"),
    (
        "ScheduledAt",
        Variable::ScheduledAt,
        "the instant it was due",
    ),
    ("Status", Variable::Status, "the job's status after it"),
    ("Event", Variable::Event, "failure, success or recovery"),
    (
        "Displayname",
        Variable::Displayname,
        "the display name (or the name)",
    ),
];

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Variable),
}

impl Template {
    /// Parses `text`; the error says which placeholder is wrong and why.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!(
                    "{{{{ at byte {} is never closed",
                    text.len() - rest.len() + open
                )
            })?;
            let inside = after[..close].trim();
            let name = inside
                .strip_prefix('.')
                .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()));
            let variable = name
                .and_then(|name| {
                    VARIABLES
                        .iter()
                        .find(|(known, _, _)| *known == name)
                        .map(|(_, variable, _)| *variable)
                })
                .ok_or_else(|| {
                    format!(
                        "{{{{{inside}}}}} is not a known variable: only {{{{.Name}}}} is \
                         supported, with Name one of {}",
                        VARIABLES
                            .iter()
                            .map(|(name, _, _)| *name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            parts.push(Part::Value(variable));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Self { parts })
    }

    /// The text with each variable replaced by `value(variable)`, passed through `escape`
    /// (for a JSON body, the inside of a JSON string).
    pub fn render(
        &self,
        value: impl Fn(Variable) -> String,
        escape: impl Fn(&str) -> String,
    ) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value(variable) => {
                    let _ = write!(out, "{}", escape(&value(*variable)));
                }
            }
        }
        out
    }
}

/// `text` as the inside of a JSON string (quotes, backslashes and control characters
/// escaped), so that `"{{.Output}}"` in a JSON body stays valid JSON whatever the output.
pub fn json_escape(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(variable: Variable) -> String {
        match variable {
            Variable::JobName => "backup".into(),
            Variable::Output => "line \"one\"\n".into(),
            _ => "x".into(),
        }
    }

    #[test]
    fn dkron_s_placeholders_are_filled() {
        let template = Template::parse("Job {{.JobName}} said {{ .Output }}.").unwrap();
        assert_eq!(
            template.render(values, str::to_string),
            "Job backup said line \"one\"\n."
        );
    }

    #[test]
    fn a_json_body_stays_json() {
        let template = Template::parse(r#"{"text": "{{.JobName}}: {{.Output}}"}"#).unwrap();
        let body = template.render(values, json_escape);
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["text"], "backup: line \"one\"\n");
    }

    #[test]
    fn anything_but_a_known_variable_is_refused() {
        for bad in [
            "{{.Nope}}",
            "{{if .Success}}ok{{end}}",
            "{{.JobName",
            "{{JobName}}",
            "{{.Job.Name}}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        assert!(Template::parse("no placeholders at all").is_ok());
    }
}
