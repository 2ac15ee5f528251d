//! The `http` capability: the guest's `wasi:http/outgoing-handler` requests, each checked
//! against the granted [`HttpPolicy`] before any connection is made, and checked again on
//! the addresses its host name resolves to.
//!
//! Requests are then sent to the checked address itself (the `Host` header, and for
//! `https` the name the certificate is verified for, keep the name), so a DNS answer that
//! changes between check and connect (rebinding) cannot reach an address that was not
//! checked. They go through [`HttpClient`] ([`client`]), which keeps connections per target
//! across executions. A refusal is written into the execution's output and reaches the
//! guest as `HTTP-request-denied`. When traces are exported, each request carries the
//! execution's trace context (`traceparent`), unless the component set its own.
//!
//! The capability also serves `sandcron:executor/http-cleanup` ([`cleanup`]): requests
//! the host sends, through the same checks, when an execution ends while they are armed.
//! Both follow one header rule, `wasi:http`'s ([`headers`]).

pub mod cleanup;
mod client;
mod headers;
mod policy;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime_wasi_http::{
    Error, ForbiddenHeaderFilter, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView,
    WasiHttpHooks, WasiHttpView,
};

use tokio_util::task::TaskTracker;

use super::CapabilityStates;
use super::unit::{Capability, Holds, Policy, SharedState, settle_tracker};
use crate::output::OutputSink;
pub use client::HttpClient;
use client::IoFuture;
pub use policy::{HostPattern, HttpPolicy, Target, default_port};

/// The unit: `wasi:http` (types and outgoing-handler) and
/// `sandcron:executor/http-cleanup`, granted by `scheme://host[:port]` patterns
/// (`http=https://*.example.com`).
pub struct Http;

impl Capability for Http {
    const NAME: &'static str = "http";
    const INTERFACES: &'static [&'static str] = &["wasi:http/", "sandcron:executor/http-cleanup@"];
    type Policy = HttpPolicy;
    type Shared = HttpShared;
    type State = HttpState;

    fn new_state(policy: &HttpPolicy, sink: &OutputSink, shared: &HttpShared) -> HttpState {
        HttpState {
            ctx: WasiHttpCtx::new(),
            hooks: HttpHooks::new(policy.clone(), sink.clone(), shared.client.clone()),
            cleanup: cleanup::CleanupHost::new(
                policy.clone(),
                sink.clone(),
                shared.cleanups.clone(),
                shared.client.clone(),
            ),
        }
    }

    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
        cleanup::add_to_linker(linker, |t: &mut T| {
            &mut <T as Holds<Self>>::state(t).cleanup
        })
    }
}

/// A narrower grant is kept beside this one and a request must pass both.
impl Policy for HttpPolicy {
    fn allow_pattern(&mut self, pattern: &str) -> Result<(), String> {
        self.allow(pattern)
    }

    fn narrow_to(&mut self, narrower: &Self) {
        self.narrow(narrower.clone());
    }

    fn denies_all(&self) -> bool {
        self.is_empty()
    }
}

/// What every execution's requests share: the connections, and the cleanup requests
/// being sent in the background.
#[derive(Clone, Debug, Default)]
pub struct HttpShared {
    /// Outgoing HTTP connections, kept per target (scheme, checked address, TLS name).
    client: HttpClient,
    /// The `http-cleanup` requests being sent in the background.
    cleanups: TaskTracker,
}

impl SharedState for HttpShared {
    async fn settle(&self, within: Duration) {
        settle_tracker(&self.cleanups, within).await;
    }
}

/// One execution's `wasi:http` context, the checks run on its requests, and its armed
/// cleanup requests.
pub struct HttpState {
    ctx: WasiHttpCtx,
    hooks: HttpHooks,
    cleanup: cleanup::CleanupHost,
}

/// wasmtime-wasi-http's linker reaches the context, the resource table and the checks
/// through this view of the store's data.
impl WasiHttpView for CapabilityStates {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http.ctx,
            table: &mut self.table,
            hooks: &mut self.http.hooks,
        }
    }
}

/// The checks run on every outgoing request of one execution.
pub struct HttpHooks {
    policy: Arc<HttpPolicy>,
    sink: OutputSink,
    client: HttpClient,
}

impl HttpHooks {
    /// Checks against `policy`, noting refusals in `sink`; sends through `client`.
    pub fn new(policy: HttpPolicy, sink: OutputSink, client: HttpClient) -> Self {
        Self {
            policy: Arc::new(policy),
            sink,
            client,
        }
    }
}

/// The W3C trace context header.
const TRACEPARENT: &str = "traceparent";

type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

impl WasiHttpHooks for HttpHooks {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        headers::forbidden_filter()
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: IoFuture,
    ) -> SendFuture {
        // Called in the execution's span: a traced execution's trace goes on downstream,
        // unless the component sent a trace context of its own.
        if !request.headers().contains_key(TRACEPARENT) {
            crate::telemetry::traces::inject_context(request.headers_mut());
        }
        let (policy, sink, client) = (self.policy.clone(), self.sink.clone(), self.client.clone());
        Box::new(async move { send_checked(&policy, &sink, &client, request, options).await })
    }
}

/// Sends `request` through `client` to the checked address if `policy` allows its target;
/// a refusal is noted in `sink`.
async fn send_checked(
    policy: &HttpPolicy,
    sink: &OutputSink,
    client: &HttpClient,
    request: http::Request<WasiBody>,
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
    client.send(request, address, options).await
}

/// Why a request the host sends itself did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum HostRequestError {
    /// The grant refuses the target; nothing was sent.
    #[error("request to {url} denied: {reason}")]
    Denied {
        /// The request's URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// It could not be sent, or got no answer in time.
    #[error("{0}")]
    Failed(String),
}

/// Sends a request the host makes itself (the `http-cleanup` requests, notifications'
/// webhooks), checked against `policy` exactly as a guest's request is, through `client`.
/// Gives the answer's status once its body is read to its end. The whole exchange is
/// bounded by `timeout`.
pub async fn send_from_host(
    policy: &HttpPolicy,
    client: &HttpClient,
    request: http::Request<bytes::Bytes>,
    timeout: std::time::Duration,
) -> Result<http::StatusCode, HostRequestError> {
    use http_body_util::{BodyExt, Full};
    let url = request.uri().to_string();
    let failed = |error: Error| HostRequestError::Failed(error.to_string());
    let exchange = async {
        let address = match checked_address(policy, request.uri()).await {
            Ok(address) => address,
            Err(Refusal::Denied(reason)) => {
                return Err(HostRequestError::Denied {
                    url: url.clone(),
                    reason,
                });
            }
            Err(Refusal::Failed(error)) => return Err(failed(error)),
        };
        let request = request.map(|body| {
            Full::new(body)
                .map_err(|never| match never {})
                .boxed_unsync()
        });
        let options = RequestOptions {
            connect_timeout: Some(timeout),
            first_byte_timeout: Some(timeout),
            between_bytes_timeout: Some(timeout),
        };
        let (response, io) = client
            .send(request, address, Some(options))
            .await
            .map_err(failed)?;
        let status = response.status();
        // Read the body to its end, driving the connection meanwhile, so that it finishes
        // cleanly (and is kept); the status is the answer either way.
        let _ = tokio::join!(response.into_body().collect(), Box::into_pin(io));
        Ok(status)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(HostRequestError::Failed(format!(
                "no answer from {url} within {timeout:?}"
            )))
        })
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
