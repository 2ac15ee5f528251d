//! What an execution ends as: success, or a failure with a kind and a reason a user can
//! act on.

use std::fmt;
use std::time::Duration;

use sandcron_sdk::duration::format_duration;
use sandcron_sdk::size::format_size;

use crate::bindings::types::Failure as GuestFailure;
use crate::output::CapturedOutput;

/// How an execution ended, with its output.
#[derive(Debug)]
pub struct ExecutionOutcome {
    /// `Ok` when the executor reported success.
    pub result: Result<(), Failure>,
    /// The output kept (the tail, up to the cap).
    pub output: CapturedOutput,
    /// Wall-clock time from the start of instantiation to the end.
    pub duration: Duration,
}

impl ExecutionOutcome {
    /// Whether the execution succeeded.
    pub fn succeeded(&self) -> bool {
        self.result.is_ok()
    }
}

/// Why an execution failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The reason, for the user.
    pub message: String,
}

/// The kinds of failure: the executor's own four, and those the host imposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The executor found its `executor_config` wrong.
    InvalidConfig,
    /// A capability refused a call.
    Denied,
    /// The work ran and did not succeed.
    Failed,
    /// The work could not be done now; a retry may succeed.
    Unavailable,
    /// The deadline passed.
    TimedOut,
    /// The memory limit was hit.
    MemoryExceeded,
    /// The component trapped (a panic, an abort, an invalid operation).
    Trap,
    /// The component could not be loaded or instantiated, or the host failed.
    Host,
}

impl Failure {
    pub(super) fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(super) fn timed_out(after: Duration) -> Self {
        Self::new(
            FailureKind::TimedOut,
            format!("timed out after {}", format_duration(after)),
        )
    }

    pub(super) fn memory_exceeded(limit: u64) -> Self {
        Self::new(
            FailureKind::MemoryExceeded,
            format!("memory limit of {} exceeded", format_size(limit)),
        )
    }

    pub(super) fn from_guest(failure: GuestFailure) -> Self {
        match failure {
            GuestFailure::InvalidConfig(m) => Self::new(FailureKind::InvalidConfig, m),
            GuestFailure::Denied(m) => Self::new(FailureKind::Denied, m),
            GuestFailure::Failed(m) => Self::new(FailureKind::Failed, m),
            GuestFailure::Unavailable(m) => Self::new(FailureKind::Unavailable, m),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FailureKind::InvalidConfig => write!(f, "invalid executor_config: {}", self.message),
            FailureKind::Denied => write!(f, "denied: {}", self.message),
            FailureKind::Unavailable => write!(f, "unavailable: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Failure {}
