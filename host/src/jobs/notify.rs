//! A job's `notify` rules: when to send word of an execution, and where.
//!
//! ```json
//! "notify": [
//!   {"on": ["failure", "recovery"],
//!    "webhook": {"url": "https://hooks.slack.com/services/…",
//!                "body": "{\"text\": \"{{.JobName}} failed: {{.Reason}}\"}"}},
//!   {"on": "always", "email": {"to": ["ops@example.com"]}}
//! ]
//! ```
//!
//! A rule fires after the last attempt of a tick (as Dkron's notifications), on `failure`,
//! `success`, `recovery` (the first success after a failed tick) or `always`. Its target is
//! a `webhook` (URL, method, headers, body template) or an `email` (recipients, subject and
//! body templates). Templates use Dkron's variables (`jobs::template`). A job without
//! `notify` gets the server's default rules (`serve --webhook-endpoint …`); `"notify": []`
//! opts out of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::FieldError;
use super::template::Template;

/// One rule: when, and the one target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyRule {
    /// When it fires; `failure` when not given (one value is accepted as well as a list).
    #[serde(deserialize_with = "one_or_many")]
    pub on: Vec<NotifyOn>,
    /// An HTTP request to send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    /// A mail to send through the server's SMTP relay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
}

/// When a rule fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotifyOn {
    /// The tick failed (after its last attempt).
    Failure,
    /// The tick succeeded.
    Success,
    /// The tick succeeded and the job's previous tick had failed.
    Recovery,
    /// Every tick.
    Always,
}

/// What happened to a tick, as the rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It failed.
    Failure,
    /// It succeeded; `after_failure` when the job's previous tick had failed.
    Success {
        /// Whether the previous tick failed.
        after_failure: bool,
    },
}

impl Outcome {
    /// The event name templates show as `{{.Event}}`.
    pub fn event(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Success {
                after_failure: true,
            } => "recovery",
            Self::Success { .. } => "success",
        }
    }
}

impl NotifyRule {
    /// When the rule fires, `failure` when it says nothing.
    pub fn triggers(&self) -> &[NotifyOn] {
        if self.on.is_empty() {
            &[NotifyOn::Failure]
        } else {
            &self.on
        }
    }

    /// Whether the rule fires for `outcome`.
    pub fn fires(&self, outcome: Outcome) -> bool {
        self.triggers().iter().any(|on| match (on, outcome) {
            (NotifyOn::Always, _) => true,
            (NotifyOn::Failure, Outcome::Failure) => true,
            (NotifyOn::Success, Outcome::Success { .. }) => true,
            (NotifyOn::Recovery, Outcome::Success { after_failure }) => after_failure,
            _ => false,
        })
    }

    /// Whether firing needs to know how the previous tick ended.
    pub fn needs_history(&self) -> bool {
        self.triggers().contains(&NotifyOn::Recovery)
    }

    /// Checks the target and its templates; refusals name the field under `field`
    /// (`notify[0]`).
    pub fn check(&self, field: &str) -> Result<(), FieldError> {
        match (&self.webhook, &self.email) {
            (Some(webhook), None) => webhook.check(&format!("{field}.webhook")),
            (None, Some(email)) => email.check(&format!("{field}.email")),
            _ => Err(FieldError::new(
                field,
                "give exactly one target: \"webhook\" or \"email\"",
            )),
        }
    }
}

/// An HTTP request sent when a rule fires.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Webhook {
    /// Where to: an absolute `http://` or `https://` URL, within the job's HTTP grant.
    pub url: String,
    /// The method; `POST` when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// Extra headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body template; a Slack-compatible `{"text": …}` summary when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// The body of a webhook that gives none: Slack-compatible JSON.
pub const DEFAULT_WEBHOOK_BODY: &str = r#"{"text": "Sandcron job {{.JobName}}: {{.Event}} (execution {{.ExecutionID}} on {{.NodeName}}){{.Reason}}"}"#;

impl Webhook {
    /// The method, `POST` by default.
    pub fn method(&self) -> &str {
        if self.method.is_empty() {
            "POST"
        } else {
            &self.method
        }
    }

    /// The body template, the default one when empty.
    pub fn body(&self) -> &str {
        if self.body.is_empty() {
            DEFAULT_WEBHOOK_BODY
        } else {
            &self.body
        }
    }

    fn check(&self, field: &str) -> Result<(), FieldError> {
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e| FieldError::new(format!("{field}.url"), format!("not a URL: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(FieldError::new(
                format!("{field}.url"),
                format!("{:?} is not an absolute http:// or https:// URL", self.url),
            ));
        }
        http::Method::from_bytes(self.method().as_bytes()).map_err(|_| {
            FieldError::new(
                format!("{field}.method"),
                format!("{:?} is not an HTTP method", self.method),
            )
        })?;
        for (name, value) in &self.headers {
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                FieldError::new(
                    format!("{field}.headers"),
                    format!("{name:?} is not a header name"),
                )
            })?;
            http::HeaderValue::from_str(value).map_err(|_| {
                FieldError::new(
                    format!("{field}.headers.{name}"),
                    "is not a valid header value",
                )
            })?;
        }
        template(&format!("{field}.body"), self.body())
    }
}

/// A mail sent when a rule fires, through the server's SMTP relay (`serve --mail-host`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Email {
    /// Recipients; the job's `owner_email` when empty (as Dkron); one address is accepted
    /// as well as a list.
    #[serde(
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub to: Vec<String>,
    /// The subject template; Dkron's `[Sandcron] Success|Failed JOB execution report` when
    /// empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// The body template; `{{.Report}}` when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
}

impl Email {
    fn check(&self, field: &str) -> Result<(), FieldError> {
        for (index, address) in self.to.iter().enumerate() {
            address.parse::<lettre::Address>().map_err(|e| {
                FieldError::new(
                    format!("{field}.to[{index}]"),
                    format!("{address:?} is not a mail address: {e}"),
                )
            })?;
        }
        template(&format!("{field}.subject"), &self.subject)?;
        template(&format!("{field}.body"), &self.body)
    }
}

fn template(field: &str, text: &str) -> Result<(), FieldError> {
    Template::parse(text)
        .map(|_| ())
        .map_err(|message| FieldError::new(field, message))
}

/// Checks a job's rules; refusals name the rule (`notify[1].webhook.url`).
pub fn check_rules(rules: &[NotifyRule]) -> Result<(), FieldError> {
    rules
        .iter()
        .enumerate()
        .try_for_each(|(index, rule)| rule.check(&format!("notify[{index}]")))
}

/// One value or a list of them (`"on": "failure"` or `"on": ["failure", "recovery"]`).
fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        One(T),
        Many(Vec<T>),
    }
    Ok(match Option::<OneOrMany<T>>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(OneOrMany::One(one)) => vec![one],
        Some(OneOrMany::Many(many)) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Vec<NotifyRule> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rules_fire_on_what_they_name() {
        let rules = rules(
            r#"[{"webhook": {"url": "http://h/"}},
                {"on": "recovery", "webhook": {"url": "http://h/"}},
                {"on": ["success", "failure"], "email": {"to": "a@example.com"}},
                {"on": "always", "email": {}}]"#,
        );
        let fired = |outcome| -> Vec<usize> {
            (0..rules.len())
                .filter(|i| rules[*i].fires(outcome))
                .collect()
        };
        assert_eq!(fired(Outcome::Failure), [0, 2, 3]);
        assert_eq!(
            fired(Outcome::Success {
                after_failure: false
            }),
            [2, 3]
        );
        assert_eq!(
            fired(Outcome::Success {
                after_failure: true
            }),
            [1, 2, 3]
        );
        assert!(rules[1].needs_history() && !rules[0].needs_history());
        check_rules(&rules).unwrap();
    }

    #[test]
    fn bad_rules_are_named() {
        let cases = [
            (r#"[{"on": "failure"}]"#, "notify[0]"),
            (
                r#"[{"webhook": {"url": "ftp://h/"}}]"#,
                "notify[0].webhook.url",
            ),
            (
                r#"[{"webhook": {"url": "http://h/", "method": "NO PE"}}]"#,
                "notify[0].webhook.method",
            ),
            (
                r#"[{"webhook": {"url": "http://h/", "body": "{{.Nope}}"}}]"#,
                "notify[0].webhook.body",
            ),
            (
                r#"[{"email": {"to": ["nobody"]}}]"#,
                "notify[0].email.to[0]",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(
                check_rules(&rules(json)).unwrap_err().field,
                field,
                "{json}"
            );
        }
        assert!(serde_json::from_str::<Vec<NotifyRule>>(r#"[{"on": "sometimes"}]"#).is_err());
        assert!(serde_json::from_str::<Vec<NotifyRule>>(r#"[{"slack": {}}]"#).is_err());
    }
}
