//! Running a job's processors in order over an ended execution's output.
//!
//! Built-ins: `log` (the node's log), `files` (a file per execution), `syslog` (RFC 5424
//! over UDP or TCP) and `fluent` (Fluentd's forward protocol). Each takes Dkron's
//! `forward`: without it, the output passed on (and stored) becomes a note saying where
//! the output went. Any other name is an uploaded processor component (`component`),
//! which returns the output to pass on.
//!
//! Every step is bounded by [`STEP_TIMEOUT`] (an uploaded one by its own limits); a step
//! that fails is recorded and the output passes on unchanged.

mod component;
mod files;
mod fluent;
mod log;
mod syslog;

use std::time::Duration;

pub use fluent::FluentTarget;
pub use syslog::SyslogTarget;

use super::{Ended, ProcessorOutcome, Shared};
use crate::jobs::processors::ProcessorStep;

/// The longest a built-in step may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The output after every step, and how each went.
pub(super) async fn run(shared: &Shared, ended: &Ended) -> (Vec<u8>, Vec<ProcessorOutcome>) {
    let mut output = ended.record.output.clone();
    let mut outcomes = Vec::new();
    for step in &ended.spec.processors.steps {
        let result = if step.is_built_in() {
            tokio::time::timeout(STEP_TIMEOUT, built_in(shared, ended, step, &output))
                .await
                .unwrap_or_else(|_| Err(format!("took longer than {STEP_TIMEOUT:?}")))
                .map(|note| match note {
                    Some(note) if !step.forwards() => note.into_bytes(),
                    _ => output.clone(),
                })
        } else {
            component::process(shared, ended, step, &output).await
        };
        match result {
            Ok(passed_on) => {
                output = passed_on;
                outcomes.push(ProcessorOutcome {
                    name: step.name.clone(),
                    ok: true,
                    error: None,
                });
            }
            Err(error) => {
                tracing::warn!(
                    job = %ended.spec.name,
                    execution = ended.record.id,
                    processor = %step.name,
                    "processor failed: {error}"
                );
                outcomes.push(ProcessorOutcome {
                    name: step.name.clone(),
                    ok: false,
                    error: Some(error),
                });
            }
        }
    }
    (output, outcomes)
}

/// Runs a built-in step; gives the note that replaces the output unless it forwards.
async fn built_in(
    shared: &Shared,
    ended: &Ended,
    step: &ProcessorStep,
    output: &[u8],
) -> Result<Option<String>, String> {
    match step.name.as_str() {
        "log" => {
            log::write(ended, output);
            Ok(Some(log::NOTE.to_string()))
        }
        "files" => files::write(&shared.config, ended, step, output)
            .await
            .map(Some),
        "syslog" => syslog::send(&shared.config.syslog, &shared.config.node, ended, output)
            .await
            .map(|()| Some(syslog::NOTE.to_string())),
        "fluent" => fluent::send(&shared.config.fluent, &shared.config.node, ended, output)
            .await
            .map(|()| Some(fluent::NOTE.to_string())),
        other => Err(format!("{other:?} is not a built-in processor")),
    }
}

/// Dkron's name of an execution, `<started_at in Unix nanoseconds>-<node>`, which the
/// `log` and `files` processors use.
fn dkron_key(ended: &Ended) -> String {
    let started = ended
        .record
        .started_at
        .unwrap_or(ended.record.scheduled_at)
        .timestamp_nanos_opt()
        .unwrap_or_default();
    format!("{started}-{}", ended.record.node)
}
