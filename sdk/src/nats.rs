//! Publishing to NATS, through the world's `nats` interface.
//!
//! The host checks the servers and the subject against the executor's grant before any
//! connection is made, and keeps connections across executions. Errors are
//! [`CallError`](crate::CallError)s, which `?` turns into a [`Failure`](crate::Failure) of
//! the same kind.
//!
//! ```ignore
//! use std::time::Duration;
//! use sandcron_sdk::nats::{self, Message, Server};
//!
//! let server = Server { url: "nats://127.0.0.1:4222".into(), user: None, password: None };
//! let message = Message { subject: "jobs.done".into(), payload: b"ok".to_vec(), headers: vec![] };
//! nats::publish(&server, &message, Duration::from_secs(10))?;
//! let ack = nats::publish_jetstream(&server, &message, Duration::from_secs(10))?;
//! sandcron_sdk::output::print(&format!("stored as {} #{}\n", ack.stream_name, ack.sequence));
//! ```

use std::time::Duration;

use crate::CallError;
use crate::bindings::sandcron::executor::nats as wit;

/// How JetStream acknowledged a message: its stream, sequence, and whether it was a
/// duplicate.
pub use wit::Ack;
/// One message: subject, payload and headers.
pub use wit::Message;
/// The server (`nats://host:port`, `tls://host:port`, or a comma list) and credentials.
pub use wit::Server;

/// Publishes `message` with core NATS and waits, at most `timeout`, until the server has
/// it.
pub fn publish(server: &Server, message: &Message, timeout: Duration) -> Result<(), CallError> {
    wit::publish(server, message, crate::timeout_ms(timeout))
}

/// Publishes `message` to the JetStream stream that captures its subject and waits, at
/// most `timeout`, for the acknowledgement.
pub fn publish_jetstream(
    server: &Server,
    message: &Message,
    timeout: Duration,
) -> Result<Ack, CallError> {
    wit::publish_jetstream(server, message, crate::timeout_ms(timeout))
}
