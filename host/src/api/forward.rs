//! Forwarding to the node that runs an execution: live output and kill reach an
//! execution only where it runs, so a node that receives such a request for an execution
//! another live member runs passes it on to that member's address (from `members`) and
//! relays the answer, with the caller's `Authorization` (the other node checks the token
//! and the tenant again). A forwarded request carries [`FORWARDED`] and is never
//! forwarded again.

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::stream::{BoxStream, StreamExt};

use super::error::ApiError;
use crate::scheduler::Scheduler;
use crate::store::ExecutionRecord;

/// The header a forwarded request carries.
pub const FORWARDED: &str = "x-sandcron-forwarded";

/// How long a forwarded kill may take.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

/// The API address of the live member that runs `record`, when it is another node and
/// the request was not forwarded already.
pub async fn owner(
    scheduler: &Scheduler,
    record: &ExecutionRecord,
    headers: &HeaderMap,
) -> Result<Option<String>, ApiError> {
    if record.node == scheduler.node() || headers.contains_key(FORWARDED) {
        return Ok(None);
    }
    Ok(scheduler
        .members()
        .await?
        .into_iter()
        .find(|status| status.alive && status.member.name == record.node)
        .map(|status| status.member.address))
}

/// The URL of `path` (percent-encoded already) on the node at `address`.
fn url(address: &str, path: &str) -> String {
    format!("http://{address}{path}")
}

/// A request to `path` on the node at `address`, marked as forwarded, with the caller's
/// token.
fn forwarded(
    method: reqwest::Method,
    address: &str,
    path: &str,
    headers: &HeaderMap,
) -> reqwest::RequestBuilder {
    let request = client()
        .request(method, url(address, path))
        .header(FORWARDED, "1");
    match headers.get(header::AUTHORIZATION) {
        Some(authorization) => request.header(header::AUTHORIZATION, authorization),
        None => request,
    }
}

/// Sends the kill to the node at `address` and relays its answer.
pub async fn kill(address: &str, path: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let reply = forwarded(reqwest::Method::POST, address, path, headers)
        .timeout(KILL_TIMEOUT)
        .send()
        .await
        .map_err(|e| unreachable(address, e))?;
    let status = StatusCode::from_u16(reply.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = reply.bytes().await.map_err(|e| unreachable(address, e))?;
    Ok((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The live output from the node at `address`, or `None` when it cannot be reached.
pub async fn output(
    address: &str,
    path: &str,
    headers: &HeaderMap,
) -> Option<BoxStream<'static, Bytes>> {
    let reply = forwarded(reqwest::Method::GET, address, path, headers)
        .send()
        .await
        .ok()
        .filter(|reply| reply.status().is_success())?;
    Some(
        reply
            .bytes_stream()
            .take_while(|chunk| std::future::ready(chunk.is_ok()))
            .filter_map(|chunk| std::future::ready(chunk.ok()))
            .boxed(),
    )
}

fn unreachable(address: &str, error: reqwest::Error) -> ApiError {
    ApiError::of_field(
        StatusCode::BAD_GATEWAY,
        "node",
        format!("cannot reach the node that runs the execution at {address}: {error}"),
    )
}
