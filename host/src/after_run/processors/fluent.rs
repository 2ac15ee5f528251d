//! The `fluent` processor: one event per execution to a Fluentd or Fluent Bit `forward`
//! input (`serve --fluent 127.0.0.1:24224`, the default; `--fluent-tag`, default
//! `sandcron`), over TCP: a MessagePack array `[tag, time, record]` (the forward
//! protocol's message mode) whose record is Dkron's `{host, job_name, message}` plus
//! `execution` and `success`.

use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::Ended;
use crate::store::ExecutionState;

/// What the stored output becomes without `forward`.
pub const NOTE: &str = "Output sent to Fluent";

/// Where fluent events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FluentTarget {
    /// `HOST:PORT` of a forward input.
    pub address: String,
    /// The events' tag.
    pub tag: String,
}

impl Default for FluentTarget {
    fn default() -> Self {
        Self {
            address: "127.0.0.1:24224".into(),
            tag: "sandcron".into(),
        }
    }
}

#[derive(Serialize)]
struct Record<'a> {
    host: &'a str,
    job_name: &'a str,
    message: String,
    execution: i64,
    success: bool,
}

/// Sends the execution's event.
pub async fn send(
    target: &FluentTarget,
    node: &str,
    ended: &Ended,
    output: &[u8],
) -> Result<(), String> {
    let record = Record {
        host: node,
        job_name: &ended.spec.name,
        message: String::from_utf8_lossy(output).into_owned(),
        execution: ended.record.id,
        success: ended.record.state == ExecutionState::Succeeded,
    };
    let event = (&target.tag, chrono::Utc::now().timestamp(), record);
    let bytes = rmp_serde::to_vec_named(&event).map_err(|e| format!("fluent: {e}"))?;
    let failed = |e: std::io::Error| format!("fluent {}: {e}", target.address);
    let mut stream = tokio::net::TcpStream::connect(&target.address)
        .await
        .map_err(failed)?;
    stream.write_all(&bytes).await.map_err(failed)?;
    stream.shutdown().await.map_err(failed)
}
