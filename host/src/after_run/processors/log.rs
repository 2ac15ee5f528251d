//! The `log` processor: the output in the node's log, framed as Dkron frames it
//! (`----- BEGIN OUTPUT job=… execution=… -----` … `----- END OUTPUT -----`), one event
//! with target `processor`: `info` for a success, `warn` for a failure (Dkron: stdout and
//! stderr). `serve` shows these events by default.

use super::Ended;

/// What the stored output becomes without `forward`.
pub const NOTE: &str = "Output in the sandcron log";

/// Logs the output.
pub fn write(ended: &Ended, output: &[u8]) {
    let text = format!(
        "----- BEGIN OUTPUT job={} execution={} -----\n{}\n----- END OUTPUT -----",
        ended.spec.name,
        ended.record.id,
        String::from_utf8_lossy(output).trim_end_matches('\n')
    );
    let (job, execution) = (&ended.spec.name, ended.record.id);
    if ended.record.state == crate::store::ExecutionState::Succeeded {
        tracing::info!(target: "processor", %job, execution, success = true, "{text}");
    } else {
        tracing::warn!(target: "processor", %job, execution, success = false, "{text}");
    }
}
