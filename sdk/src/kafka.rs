//! Producing to Kafka, through the world's `kafka` interface.
//!
//! The host checks the bootstrap brokers, every broker the cluster advertises and the
//! topic against the executor's grant, keeps producers across executions, and produces
//! with `acks=all`. Errors are [`CallError`](crate::CallError)s, which `?` turns into a
//! [`Failure`](crate::Failure).
//!
//! ```ignore
//! use std::time::Duration;
//! use sandcron_sdk::kafka::{self, Cluster, Record};
//!
//! let cluster = Cluster {
//!     brokers: vec!["127.0.0.1:9092".into()],
//!     tls: false,
//!     tls_insecure_skip_verify: false,
//!     sasl: None,
//! };
//! let record = Record {
//!     topic: "jobs".into(),
//!     key: Some(b"nightly".to_vec()),
//!     value: Some(b"done".to_vec()),
//!     headers: vec![],
//! };
//! let delivery = kafka::produce(&cluster, &record, Duration::from_secs(30))?;
//! sandcron_sdk::output::print(&format!("offset {}\n", delivery.offset));
//! ```

use std::time::Duration;

use crate::CallError;
use crate::bindings::sandcron::executor::kafka as wit;

/// The bootstrap brokers and how to reach them (TLS, SASL).
pub use wit::Cluster;
/// Where a record was stored: partition and offset.
pub use wit::Delivery;
/// One record: topic, key, value, headers.
pub use wit::Record;
/// SASL credentials.
pub use wit::Sasl;
/// `Plain`, `ScramSha256` or `ScramSha512`.
pub use wit::SaslMechanism;

/// Produces `record` and waits, at most `timeout`, until the cluster has it.
pub fn produce(
    cluster: &Cluster,
    record: &Record,
    timeout: Duration,
) -> Result<Delivery, CallError> {
    wit::produce(cluster, record, crate::timeout_ms(timeout))
}
