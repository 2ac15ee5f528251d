//! The `http` capability: the guest's `wasi:http/outgoing-handler` requests, each checked
//! against the granted [`HttpPolicy`] before any connection is made, and checked again on
//! the addresses its host name resolves to.
//!
//! Plain `http` requests are then sent to the checked address itself (the `Host` header
//! keeps the name), so a DNS answer that changes between check and connect (rebinding)
//! cannot reach an address that was not checked. `https` requests are sent by
//! wasmtime-wasi-http's default client, which resolves again: a rebound answer there fails
//! certificate verification for the checked name. A refusal is written into the
//! execution's output and reaches the guest as `HTTP-request-denied`.
//!
//! The capability also serves `sandcron:executor/http-cleanup` ([`cleanup`]): requests
//! the host sends, through the same checks, when an execution ends while they are armed.

pub mod cleanup;
mod policy;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http_body_util::BodyExt;
use wasmtime::component::Linker;
use wasmtime_wasi_http::{
    Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpHooks, WasiHttpView,
};

use crate::output::OutputSink;
pub use policy::{HostPattern, HttpPolicy, Target, default_port};

/// Adds `wasi:http` (types and outgoing-handler) to `linker`.
pub fn add_to_linker<T: WasiHttpView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

/// A fresh `wasi:http` context for one execution.
pub fn context() -> WasiHttpCtx {
    WasiHttpCtx::new()
}

/// The checks run on every outgoing request of one execution.
pub struct HttpHooks {
    policy: Arc<HttpPolicy>,
    sink: OutputSink,
}

impl HttpHooks {
    /// Checks against `policy`, noting refusals in `sink`.
    pub fn new(policy: HttpPolicy, sink: OutputSink) -> Self {
        Self {
            policy: Arc::new(policy),
            sink,
        }
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: IoFuture,
    ) -> SendFuture {
        let policy = self.policy.clone();
        let sink = self.sink.clone();
        Box::new(async move { send_checked(&policy, &sink, request, options).await })
    }
}

/// Sends `request` if `policy` allows its target, pinned to the checked address when it
/// is plain HTTP; a refusal is noted in `sink`.
async fn send_checked(
    policy: &HttpPolicy,
    sink: &OutputSink,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let url = request.uri().to_string();
    let address = match checked_address(policy, request.uri()).await {
        Ok(address) => address,
        Err(Refusal::Denied(reason)) => {
            sink.host_note(&format!("http: request to {url} denied: {reason}"));
            return Err(Error::HttpRequestDenied);
        }
        Err(Refusal::Failed(error)) => return Err(error),
    };
    if request.uri().scheme_str() == Some("http") {
        pin_to_address(&mut request, address)?;
    }
    let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
    Ok((
        response.map(BodyExt::boxed_unsync),
        Box::new(io) as IoFuture,
    ))
}

enum Refusal {
    Denied(String),
    Failed(Error),
}

/// Checks the request's target and returns the first resolved address the policy allows.
async fn checked_address(policy: &HttpPolicy, uri: &http::Uri) -> Result<SocketAddr, Refusal> {
    let scheme = uri.scheme_str().unwrap_or("https");
    let host = uri
        .host()
        .ok_or(Refusal::Failed(Error::HttpRequestUriInvalid))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri
        .port_u16()
        .or_else(|| default_port(scheme))
        .ok_or(Refusal::Failed(Error::HttpRequestUriInvalid))?;
    let target = Target { scheme, host, port };
    policy.check_target(&target).map_err(Refusal::Denied)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let resolved = tokio::net::lookup_host((host, port)).await.map_err(|e| {
        Refusal::Failed(Error::DnsError {
            rcode: Some(e.to_string()),
            info_code: None,
        })
    })?;
    let mut first_refusal = None;
    for address in resolved {
        match policy.check_address(&target, address.ip()) {
            Ok(()) => return Ok(address),
            Err(reason) => {
                first_refusal.get_or_insert(reason);
            }
        }
    }
    Err(match first_refusal {
        Some(reason) => Refusal::Denied(reason),
        None => Refusal::Failed(Error::DestinationNotFound),
    })
}

/// Points a plain-HTTP request at the checked address; its `Host` header keeps the name.
fn pin_to_address(request: &mut http::Request<WasiBody>, address: SocketAddr) -> Result<(), Error> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *request.uri_mut() = http::Uri::builder()
        .scheme("http")
        .authority(address.to_string())
        .path_and_query(path)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    Ok(())
}
