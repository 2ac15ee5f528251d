//! Uploaded processors: components of the `sandcron:executor/processor` world
//! (`wit/processor.wit`), each run in a fresh sandbox like an execution, under the job's
//! grants (the tenant's, narrowed by the job's `grants`), with the job's memory limit
//! and a deadline of [`TIMEOUT`]. What the component writes itself goes to the node's log.

use std::time::Duration;

use super::Ended;
use crate::after_run::Shared;
use crate::bindings::processor::processing::EndedExecution;
use crate::jobs::processors::ProcessorStep;
use crate::runtime::{Limits, ProcessorInput};
use crate::store::ExecutionState;

/// The longest an uploaded processor may run.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the uploaded processor of `step`; gives the output it passes on.
pub async fn process(
    shared: &Shared,
    ended: &Ended,
    step: &ProcessorStep,
    output: &[u8],
) -> Result<Vec<u8>, String> {
    let executable = match ended.components.get(&step.name) {
        Some(Ok(executable)) => executable.clone(),
        Some(Err(error)) => return Err(error.clone()),
        None => return Err(format!("the processor {:?} was not loaded", step.name)),
    };
    let record = &ended.record;
    let millis = |at: chrono::DateTime<chrono::Utc>| at.timestamp_millis().max(0) as u64;
    let input = ProcessorInput {
        execution: EndedExecution {
            job_name: ended.spec.name.clone(),
            execution_id: record.id.to_string(),
            attempt: record.attempt,
            scheduled_at_ms: millis(record.scheduled_at),
            started_at_ms: record.started_at.map_or(0, millis),
            finished_at_ms: record.finished_at.map_or(0, millis),
            success: record.state == ExecutionState::Succeeded,
            reason: record.reason.clone(),
            node: record.node.clone(),
            trigger: record.trigger.as_str().to_string(),
            config: step
                .config
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            time_left_ms: 0,
        },
        output: output.to_vec(),
    };
    let limits = Limits {
        timeout: TIMEOUT,
        ..Limits::default()
    };
    let outcome = shared
        .runtime
        .process(&executable, &input, &ended.grants, limits)
        .await;
    if !outcome.log.bytes.is_empty() {
        tracing::info!(
            target: "processor",
            job = %ended.spec.name,
            execution = record.id,
            processor = %step.name,
            "{}",
            String::from_utf8_lossy(&outcome.log.bytes)
        );
    }
    outcome.result.map_err(|failure| failure.to_string())
}
