//! What the capabilities that talk to servers (`nats`, `amqp`, `kafka`, `grpc`) do alike
//! around a call: turn a refusal into a `denied` error noted in the output, bound the call
//! by its timeout, and name the capability in every error text.
//!
//! This is not a capability: it owns no interface and no policy.

use std::future::Future;
use std::time::Duration;

use sandcron_sdk::duration::format_duration;

use crate::bindings::types::CallError;
use crate::output::OutputSink;

/// The capability a call belongs to, and where its refusals are noted.
#[derive(Clone)]
pub struct CallContext {
    capability: &'static str,
    sink: OutputSink,
}

impl CallContext {
    /// Calls of `capability`, noting refusals in `sink`.
    pub fn new(capability: &'static str, sink: OutputSink) -> Self {
        Self { capability, sink }
    }

    /// A refusal by the policy: noted in the output (the guest may not print it) and
    /// returned as `denied`.
    pub fn denied(&self, reason: impl std::fmt::Display) -> CallError {
        let text = format!("{}: {reason}", self.capability);
        self.sink.host_note(&text);
        CallError::Denied(text)
    }

    /// Wrong arguments.
    pub fn invalid(&self, reason: impl std::fmt::Display) -> CallError {
        CallError::Invalid(format!("{}: {reason}", self.capability))
    }

    /// The server could not be reached or did not answer.
    pub fn unavailable(&self, reason: impl std::fmt::Display) -> CallError {
        CallError::Unavailable(format!("{}: {reason}", self.capability))
    }

    /// The server refused.
    pub fn rejected(&self, reason: impl std::fmt::Display) -> CallError {
        CallError::Rejected(format!("{}: {reason}", self.capability))
    }

    /// Runs `call` for at most `timeout`; past it the call is dropped and the error,
    /// `unavailable`, says that `what` timed out.
    pub async fn within<T>(
        &self,
        timeout: Duration,
        what: impl std::fmt::Display,
        call: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(self.unavailable(format_args!(
                "{what} timed out after {}",
                format_duration(timeout)
            ))),
        }
    }
}

/// A timeout in milliseconds from the guest, as a duration; 0 is taken as "at once" and
/// made 1 ms so that the call fails with a timeout rather than never starting.
pub fn timeout_from_ms(ms: u64) -> Duration {
    Duration::from_millis(ms.max(1))
}
