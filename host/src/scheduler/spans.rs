//! The scheduler's `tracing` spans: one per claim batch and one per execution attempt.
//! Every log line inside an attempt carries its fields (`job`, `execution`, `tenant`,
//! `node`, …) and, when traces are exported, each span becomes an OpenTelemetry span
//! (an execution is the root of its own trace, linked to the claim batch or the request
//! that caused it).

use tracing::Span;
use tracing::field::Empty;

use super::dispatch::Run;
use super::metrics::Outcome;

/// The span of a batch of `ticks` claimed, the most overdue `late_ms` after its instant,
/// the claim having taken `took_ms`.
pub(super) fn claim_batch(ticks: usize, late_ms: i64, took_ms: u128) -> Span {
    tracing::info_span!("claim", ticks, late_ms, took_ms = took_ms as u64)
}

/// The span of one attempt of `run` on `node`, following from `cause` (the claim batch,
/// or the API request of a manual run). Its `tenant`, `started_at` and `outcome` are
/// filled in as the attempt goes ([`started`], [`ended`]).
pub(super) fn execution(run: &Run, node: &str, cause: &Span) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "execution",
        otel.name = %format!("execution {}", run.spec.name),
        otel.status_code = Empty,
        job = %run.spec.name,
        execution = run.execution_id,
        tenant = Empty,
        node = %node,
        executor = %run.spec.executor,
        trigger = run.trigger.as_str(),
        attempt = run.attempt,
        scheduled_at = %run.scheduled_at.to_rfc3339(),
        started_at = Empty,
        outcome = Empty,
    );
    span.follows_from(cause);
    span
}

/// The attempt of the current span started, for `tenant`.
pub(super) fn started(tenant: &str, started_at: chrono::DateTime<chrono::Utc>) {
    let span = Span::current();
    span.record("tenant", tenant);
    span.record("started_at", started_at.to_rfc3339());
}

/// The attempt of the current span ended; a failure's `reason` (secrets masked) is
/// logged.
pub(super) fn ended(outcome: Outcome, reason: Option<&str>) {
    let span = Span::current();
    span.record("outcome", outcome.as_str());
    match reason {
        None => tracing::debug!("execution succeeded"),
        Some(reason) => {
            span.record("otel.status_code", "ERROR");
            tracing::info!(reason, "execution {}", outcome.as_str());
        }
    }
}
