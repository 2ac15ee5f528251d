//! Notifications: which of a job's rules (or the server's) fire for an ended tick, their
//! templates filled in, and their delivery, each with up to [`ATTEMPTS`] tries and a
//! pause that doubles from one second between them. All of a tick's deliveries run at
//! once.
//!
//! A job's webhooks go only where its executions' `http` grant lets them (the tenant's,
//! narrowed by the job's `grants`), checked as a `wasi:http` request is; the server's
//! default webhook is the operator's and goes where it says. Mail goes through the
//! server's SMTP relay (`email`), only to recipients the job's `mail` grant allows, the
//! server's default mail (to the job's `owner_email`) included.

mod email;
mod webhook;

use std::time::Duration;

pub use email::{MailPassword, MailRelay, MailTls};

use super::{DeliveryOutcome, Ended, Shared};
use crate::jobs::notify::{NotifyRule, Outcome};
use crate::jobs::template::Variable;
use crate::store::{ExecutionState, Trigger};

/// Tries per delivery, at most.
pub const ATTEMPTS: u32 = 4;

/// The pause after the first failed try; it doubles after each.
const FIRST_PAUSE: Duration = Duration::from_secs(1);

/// A rule that fired for a tick.
pub(super) struct Delivery {
    rule: NotifyRule,
    outcome: Outcome,
    /// From the server's default rules (the operator's): not held to the job's grant.
    operators: bool,
}

impl Delivery {
    /// Where it goes, as the report shows it.
    fn target(&self) -> String {
        match (&self.rule.webhook, &self.rule.email) {
            (Some(webhook), _) => format!("webhook {} {}", webhook.method(), webhook.url),
            (_, Some(email)) if !email.to.is_empty() => format!("email {}", email.to.join(", ")),
            _ => "email (the job's owner_email)".to_string(),
        }
    }

    /// The report's entry before it is tried.
    pub(super) fn pending(&self) -> DeliveryOutcome {
        DeliveryOutcome {
            target: self.target(),
            event: self.outcome.event().to_string(),
            ok: None,
            attempts: 0,
            error: None,
        }
    }
}

/// The rules that fire for `ended` (its last attempt). Reads how the job's previous tick
/// ended only when a rule asks for `recovery`.
pub(super) async fn due(shared: &Shared, ended: &Ended) -> Vec<Delivery> {
    let rules = shared.rules(&ended.spec);
    if rules.is_empty() {
        return Vec::new();
    }
    let operators = ended.spec.notify.is_none();
    let outcome = if ended.record.state == ExecutionState::Succeeded {
        let after_failure = if rules.iter().any(NotifyRule::needs_history) {
            // The previous tick's record may still be on its way to the store.
            shared.writer.flush().await;
            match shared
                .store
                .previous_outcome(ended.job_id, ended.record.group)
                .await
            {
                Ok(previous) => previous == Some(false),
                Err(error) => {
                    tracing::warn!(%error, job = %ended.spec.name, "cannot read the previous tick for recovery notifications");
                    false
                }
            }
        } else {
            false
        };
        Outcome::Success { after_failure }
    } else {
        Outcome::Failure
    };
    rules
        .iter()
        .filter(|rule| rule.fires(outcome))
        .map(|rule| Delivery {
            rule: rule.clone(),
            outcome,
            operators,
        })
        .collect()
}

/// Delivers each, at once; gives how each went.
pub(super) async fn deliver(
    shared: &Shared,
    ended: &Ended,
    output: &[u8],
    deliveries: Vec<Delivery>,
) -> Vec<DeliveryOutcome> {
    futures::future::join_all(
        deliveries
            .iter()
            .map(|delivery| deliver_one(shared, ended, output, delivery)),
    )
    .await
}

async fn deliver_one(
    shared: &Shared,
    ended: &Ended,
    output: &[u8],
    delivery: &Delivery,
) -> DeliveryOutcome {
    let values = Values {
        ended,
        output: String::from_utf8_lossy(output).into_owned(),
        event: delivery.outcome.event(),
        reporting_node: &shared.config.node,
    };
    let mut outcome = delivery.pending();
    let mut pause = FIRST_PAUSE;
    for attempt in 1..=ATTEMPTS {
        outcome.attempts = attempt;
        let sent = match (&delivery.rule.webhook, &delivery.rule.email) {
            (Some(hook), _) => {
                webhook::send(
                    shared,
                    hook,
                    &ended.grants.http,
                    delivery.operators,
                    &values,
                )
                .await
            }
            (_, Some(mail)) => {
                email::send(
                    shared.config.mail.as_ref(),
                    mail,
                    &ended.grants.mail,
                    &values,
                )
                .await
            }
            _ => Err(Failure::Final("the rule has no target".to_string())),
        };
        match sent {
            Ok(()) => {
                outcome.ok = Some(true);
                outcome.error = None;
                return outcome;
            }
            Err(Failure::Final(error)) => {
                outcome.error = Some(error);
                break;
            }
            Err(Failure::Retry(error)) => {
                outcome.error = Some(error);
                if attempt < ATTEMPTS {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
    }
    tracing::warn!(
        job = %ended.spec.name,
        execution = ended.record.id,
        target = %outcome.target,
        error = outcome.error.as_deref().unwrap_or_default(),
        "notification not delivered"
    );
    outcome.ok = Some(false);
    outcome
}

/// Why a try failed.
pub(super) enum Failure {
    /// Another try may work (the target is down, answered 5xx).
    Retry(String),
    /// It never will (refused by the grant, a bad address, no relay configured).
    Final(String),
}

impl From<String> for Failure {
    fn from(error: String) -> Self {
        Self::Retry(error)
    }
}

/// The values templates show.
pub(super) struct Values<'a> {
    ended: &'a Ended,
    output: String,
    event: &'static str,
    reporting_node: &'a str,
}

impl Values<'_> {
    /// The text of `variable`.
    pub(super) fn get(&self, variable: Variable) -> String {
        let record = &self.ended.record;
        let spec = &self.ended.spec;
        let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
            at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default()
        };
        match variable {
            Variable::JobName => spec.name.clone(),
            Variable::Success => self.success().to_string(),
            Variable::Output => self.output.clone(),
            Variable::Report => self.report(),
            Variable::ReportingNode => self.reporting_node.to_string(),
            Variable::StartTime => time(record.started_at),
            Variable::FinishedAt => time(record.finished_at),
            Variable::NodeName => record.node.clone(),
            Variable::ExecutionId => record.id.to_string(),
            Variable::Attempt => record.attempt.to_string(),
            Variable::Group => record.group.to_string(),
            Variable::Trigger => record.trigger.as_str().to_string(),
            Variable::Tenant => self.ended.tenant_name.clone(),
            Variable::Reason => record.reason.clone(),
            Variable::ScheduledAt => {
                time((record.trigger != Trigger::Manual).then_some(record.scheduled_at))
            }
            Variable::Status => self.ended.job_status.to_string(),
            Variable::Event => self.event.to_string(),
            Variable::Displayname => {
                if spec.displayname.is_empty() {
                    spec.name.clone()
                } else {
                    spec.displayname.clone()
                }
            }
        }
    }

    fn success(&self) -> bool {
        self.ended.record.state == ExecutionState::Succeeded
    }

    /// Dkron's `{{.Report}}`: a summary of the execution, a line per fact.
    fn report(&self) -> String {
        let record = &self.ended.record;
        let mut report = format!(
            "Job: {}\nExecution: {} (attempt {}, {})\nNode: {}\nSuccess: {}\nStatus: {}\n\
             Started: {}\nFinished: {}\n",
            self.ended.spec.name,
            record.id,
            record.attempt,
            record.trigger.as_str(),
            record.node,
            self.success(),
            self.ended.job_status,
            self.get(Variable::StartTime),
            self.get(Variable::FinishedAt),
        );
        if !record.reason.is_empty() {
            report.push_str(&format!("Reason: {}\n", record.reason));
        }
        report
    }
}
