//! Publishing to AMQP 0-9-1 brokers (RabbitMQ), through the world's `amqp` interface.
//!
//! The host checks the broker, the exchange and the routing key against the executor's
//! grant before any connection is made, keeps connections across executions, and
//! publishes with publisher confirms: `Ok` means the broker took the message. Errors are
//! [`CallError`](crate::CallError)s, which `?` turns into a [`Failure`](crate::Failure).
//!
//! ```ignore
//! use std::time::Duration;
//! use sandcron_sdk::amqp::{self, Message};
//!
//! let url = "amqp://guest:guest@127.0.0.1:5672/%2f";
//! let message = Message {
//!     exchange: String::new(),
//!     routing_key: "jobs".into(),
//!     body: b"hello".to_vec(),
//!     content_type: Some("text/plain".into()),
//!     delivery_mode: Some(2),
//!     message_id: None,
//!     headers: vec![],
//!     mandatory: true,
//! };
//! amqp::publish(url, &message, Duration::from_secs(10))?;
//! ```

use std::time::Duration;

use crate::CallError;
use crate::bindings::sandcron::executor::amqp as wit;

/// A message and where it goes (exchange, routing key), with its properties.
pub use wit::Message;
/// A queue to declare: name and flags.
pub use wit::Queue;
/// A declared queue's message and consumer counts.
pub use wit::QueueState;

/// Declares `queue` on the broker at `url`, taking at most `timeout`.
pub fn declare_queue(url: &str, queue: &Queue, timeout: Duration) -> Result<QueueState, CallError> {
    wit::declare_queue(url, queue, crate::timeout_ms(timeout))
}

/// Publishes `message` on the broker at `url` and waits, at most `timeout`, for its
/// confirm.
pub fn publish(url: &str, message: &Message, timeout: Duration) -> Result<(), CallError> {
    wit::publish(url, message, crate::timeout_ms(timeout))
}
