//! Write Sandcron executors as WebAssembly components.
//!
//! An executor is a component that implements the `sandcron:executor/executor` world: the
//! host calls [`Executor::run`] once per execution, in a fresh instance, and the component
//! reaches the outside world only through what it imports (output, processes, outgoing
//! HTTP, secrets, containers, NATS, AMQP, Kafka, gRPC), each a capability the host grants or
//! refuses.
//!
//! ```ignore
//! use sandcron_sdk::{Execution, Executor, Failure, output};
//!
//! struct Hello;
//!
//! impl Executor for Hello {
//!     fn run(execution: Execution) -> Result<(), Failure> {
//!         output::print(&format!("hello from {}\n", execution.job_name));
//!         Ok(())
//!     }
//! }
//!
//! sandcron_sdk::export_executor!(Hello);
//! ```
//!
//! With `default-features = false` only the plain helpers compile ([`duration`], [`size`]
//! and the string-map deserializer in [`config`]); the host uses the crate that way so both
//! sides parse durations and sizes alike.

#![warn(missing_docs)]

#[cfg(feature = "bindings")]
pub mod amqp;
pub mod config;
pub mod duration;
pub mod size;

#[cfg(feature = "bindings")]
#[allow(missing_docs)] // generated; the WIT's own comments are carried over where it has them
pub mod bindings;
#[cfg(feature = "bindings")]
pub mod docker;
#[cfg(feature = "bindings")]
mod execution;
#[cfg(feature = "bindings")]
pub mod grpc;
#[cfg(feature = "bindings")]
pub mod http;
#[cfg(feature = "bindings")]
pub mod http_cleanup;
#[cfg(feature = "bindings")]
pub mod kafka;
#[cfg(feature = "bindings")]
pub mod nats;
#[cfg(feature = "bindings")]
pub mod output;
#[cfg(feature = "bindings")]
pub mod process;
#[cfg(feature = "bindings")]
pub mod secrets;

/// One execution of a job, as the host hands it to [`Executor::run`].
///
/// Besides its fields it has helpers: [`Execution::config`] for typed config,
/// [`Execution::config_value`], [`Execution::time_left`] and [`Execution::scheduled_at`].
#[cfg(feature = "bindings")]
pub use bindings::Execution;
/// Why an execution failed; the text is shown to the user as the failure reason.
#[cfg(feature = "bindings")]
pub use bindings::Failure;
/// The trait an executor implements: one function, `run`, called once per execution.
///
/// Implement it on a unit struct and export that struct with [`export_executor!`].
#[cfg(feature = "bindings")]
pub use bindings::Guest as Executor;
/// Why a call to a capability that talks to a server (`nats`, `amqp`, `kafka`, `grpc`)
/// failed: `Denied`, `Invalid`, `Unavailable` or `Rejected`, each with a text naming the
/// capability and the target. `?` turns it into the [`Failure`] of the same kind.
#[cfg(feature = "bindings")]
pub use bindings::sandcron::executor::types::CallError;

/// A timeout as the whole milliseconds the host interfaces take, saturating.
#[cfg(feature = "bindings")]
fn timeout_ms(timeout: std::time::Duration) -> u64 {
    u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)
}

/// Exports a type implementing [`Executor`] as the component's `run` function.
///
/// Call it once, at the root of the executor crate (a `cdylib`):
///
/// ```ignore
/// struct MyExec;
/// impl sandcron_sdk::Executor for MyExec {
///     fn run(execution: sandcron_sdk::Execution) -> Result<(), sandcron_sdk::Failure> {
///         Ok(())
///     }
/// }
/// sandcron_sdk::export_executor!(MyExec);
/// ```
#[cfg(feature = "bindings")]
#[macro_export]
macro_rules! export_executor {
    ($executor:ident) => {
        $crate::bindings::export_executor_world!($executor with_types_in $crate::bindings);
    };
}
