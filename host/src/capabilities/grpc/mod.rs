//! The `grpc` capability: unary calls with tonic, the request built from JSON and the
//! response turned back into JSON through the server's reflection service and
//! prost-reflect, within the granted servers and methods ([`GrpcPolicy`]).
//!
//! Connections (one HTTP/2 channel per server and TLS settings) are kept in [`GrpcPool`]
//! and reused by later executions; one that failed a call is replaced by the next
//! execution. Plain connections go to the address that was checked against the grant
//! (the `:authority` keeps the name); TLS ones go by name, where certificate verification
//! stops a rebound DNS answer. The method's descriptors are asked from the server on each
//! call, on the kept connection, so a server that changes its API is read anew.

mod codec;
mod policy;
mod reflection;

use std::net::IpAddr;
use std::time::Duration;

use prost_reflect::DynamicMessage;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint as TonicEndpoint};
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::grpc::{self as wit, Host, Request, Response, Target};
use crate::bindings::types::CallError;
use crate::capabilities::call::{CallContext, timeout_from_ms};
use crate::capabilities::net::{self, Endpoint, ResolveError, split_authority};
use crate::capabilities::pool::Pool;
use crate::capabilities::unit::{Capability, Holds};
use crate::output::OutputSink;
use codec::DynamicCodec;
pub use policy::{GrpcPolicy, MethodPattern};
use reflection::ReflectionError;

/// Channels kept across executions.
pub type GrpcPool = Pool<ChannelKey, Connection>;

/// The unit: `sandcron:executor/grpc`, calling gRPC servers and methods (`grpc=127.0.0.1:50051/pkg.Svc/*`).
pub struct Grpc;

impl Capability for Grpc {
    const NAME: &'static str = "grpc";
    const INTERFACES: &'static [&'static str] = &["sandcron:executor/grpc@"];
    type Policy = GrpcPolicy;
    type Shared = GrpcPool;
    type State = GrpcHost;

    fn new_state(policy: &GrpcPolicy, sink: &OutputSink, pool: &GrpcPool) -> GrpcHost {
        GrpcHost::new(policy.clone(), pool.clone(), sink.clone())
    }

    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<GrpcHost>>(linker, <T as Holds<Self>>::state)
    }
}

/// What makes two channels interchangeable: the server and the TLS settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChannelKey {
    host: String,
    port: u16,
    tls: bool,
    tls_ca: Option<String>,
}

/// A kept channel and the address it was allowed to use (none for TLS, which goes by
/// name), checked again against the grant of every execution that reuses it.
#[derive(Clone)]
pub struct Connection {
    channel: Channel,
    address: Option<IpAddr>,
}

/// One call's arguments, once checked.
struct Invocation<'a> {
    /// `host:port`, for messages.
    address: &'a str,
    /// The service's full name.
    service: &'a str,
    /// The method's name within the service.
    method_name: &'a str,
    request: &'a Request,
    metadata: MetadataMap,
    timeout: Duration,
}

/// The host side of `sandcron:executor/grpc` for one execution.
pub struct GrpcHost {
    policy: GrpcPolicy,
    pool: GrpcPool,
    call: CallContext,
}

impl GrpcHost {
    /// Calls within `policy`, on channels from `pool`; refusals are noted in `sink`.
    pub fn new(policy: GrpcPolicy, pool: GrpcPool, sink: OutputSink) -> Self {
        Self {
            policy,
            pool,
            call: CallContext::new("grpc", sink),
        }
    }

    /// Connects to the server of `key` at an address the grant allows for `method`.
    async fn connect(
        &self,
        key: &ChannelKey,
        method: &str,
        timeout: Duration,
    ) -> Result<Connection, CallError> {
        let endpoint = Endpoint {
            host: &key.host,
            port: key.port,
        };
        let resolved = net::resolve_checked(&endpoint, |ip| {
            self.policy.check_address(&endpoint, method, ip)
        })
        .await
        .map_err(|e| match e {
            ResolveError::Denied(reason) => self.call.denied(reason),
            ResolveError::Failed(reason) => self.call.unavailable(reason),
        })?;
        let invalid =
            |e: tonic::transport::Error| self.call.invalid(format_args!("{endpoint}: {e}"));
        let (uri, address) = if key.tls {
            (format!("https://{endpoint}"), None)
        } else {
            let address = resolved[0];
            (format!("http://{address}"), Some(address.ip()))
        };
        let mut tonic_endpoint = TonicEndpoint::from_shared(uri)
            .map_err(invalid)?
            .connect_timeout(timeout)
            .tcp_nodelay(true);
        if key.tls {
            let mut tls = ClientTlsConfig::new()
                .with_webpki_roots()
                .domain_name(key.host.clone());
            if let Some(pem) = &key.tls_ca {
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            tonic_endpoint = tonic_endpoint.tls_config(tls).map_err(invalid)?;
        } else {
            let origin = format!("http://{endpoint}")
                .parse()
                .map_err(|e| self.call.invalid(format_args!("{endpoint}: {e}")))?;
            tonic_endpoint = tonic_endpoint.origin(origin);
        }
        let channel = tonic_endpoint.connect().await.map_err(|e| {
            self.call.unavailable(format_args!(
                "cannot connect to {endpoint}: {}",
                error_chain(&e)
            ))
        })?;
        Ok(Connection { channel, address })
    }

    /// The call itself, on a kept channel: descriptors, request, response.
    async fn invoke_on(
        &self,
        connection: &Connection,
        call: Invocation<'_>,
    ) -> Result<Response, CallError> {
        let Invocation {
            address,
            service,
            method_name,
            request,
            metadata,
            timeout,
        } = call;
        let full = format!("{service}/{method_name}");
        let pool = reflection::service_pool(connection.channel.clone(), service)
            .await
            .map_err(|e| match e {
                ReflectionError::Unsupported => self.call.rejected(format_args!(
                    "{address} offers no server reflection, which is needed to read the \
                     types of {full}"
                )),
                ReflectionError::UnknownService => self
                    .call
                    .invalid(format_args!("{address} has no service {service}")),
                ReflectionError::Call(status) => self.status_error(address, &status),
                ReflectionError::Invalid(text) => self
                    .call
                    .rejected(format_args!("{address} sent unusable descriptors: {text}")),
            })?;
        let method = pool
            .get_service_by_name(service)
            .ok_or_else(|| {
                self.call
                    .invalid(format_args!("{address} has no service {service}"))
            })?
            .methods()
            .find(|m| m.name() == method_name)
            .ok_or_else(|| {
                self.call.invalid(format_args!(
                    "service {service} has no method {method_name}"
                ))
            })?;
        if method.is_client_streaming() || method.is_server_streaming() {
            return Err(self.call.invalid(format_args!(
                "{full} is a streaming method; only unary methods can be called"
            )));
        }
        let input = method.input();
        let message = if request.body_json.trim().is_empty() {
            DynamicMessage::new(input.clone())
        } else {
            let mut deserializer = serde_json::Deserializer::from_str(&request.body_json);
            DynamicMessage::deserialize(input.clone(), &mut deserializer)
                .and_then(|m| deserializer.end().map(|()| m))
                .map_err(|e| {
                    self.call.invalid(format_args!(
                        "the body does not fit {}: {e}",
                        input.full_name()
                    ))
                })?
        };
        let mut grpc = tonic::client::Grpc::new(connection.channel.clone());
        grpc.ready().await.map_err(|e| {
            self.call
                .unavailable(format_args!("{address} is not ready: {}", error_chain(&e)))
        })?;
        let mut call = tonic::Request::new(message);
        *call.metadata_mut() = metadata;
        call.set_timeout(timeout);
        let path = format!("/{full}")
            .parse()
            .map_err(|e| self.call.invalid(format_args!("method {full}: {e}")))?;
        match grpc
            .unary(call, path, DynamicCodec::new(method.output()))
            .await
        {
            Ok(response) => {
                let json = serde_json::to_string(response.get_ref()).map_err(|e| {
                    self.call
                        .rejected(format_args!("the response of {full} is not JSON: {e}"))
                })?;
                Ok(Response {
                    code: 0,
                    message: String::new(),
                    body_json: Some(json),
                })
            }
            // A status made by the client from a transport failure carries its cause.
            Err(status) if std::error::Error::source(&status).is_some() => {
                Err(self.status_error(address, &status))
            }
            Err(status) => Ok(Response {
                code: status.code() as u32,
                message: status.message().to_string(),
                body_json: None,
            }),
        }
    }

    /// A failed call that is not an answer of the method: the connection or the deadline.
    fn status_error(&self, address: &str, status: &tonic::Status) -> CallError {
        let text = format!("calling {address}: {}", error_chain(status));
        match status.code() {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                self.call.unavailable(text)
            }
            _ => self.call.rejected(text),
        }
    }
}

impl Host for GrpcHost {
    async fn invoke(
        &mut self,
        target: Target,
        request: Request,
        timeout_ms: u64,
    ) -> Result<Response, CallError> {
        let address = target.address.trim().to_string();
        let (host, port) = split_authority(&address).map_err(|e| self.call.invalid(e))?;
        let port = port.ok_or_else(|| {
            self.call
                .invalid(format_args!("{address:?} has no port (host:port)"))
        })?;
        let (service, method_name) = policy::split_method(&request.method).ok_or_else(|| {
            self.call.invalid(format_args!(
                "{:?} is not a method name (package.Service/Method)",
                request.method
            ))
        })?;
        let full = format!("{service}/{method_name}");
        let endpoint = Endpoint { host, port };
        self.policy
            .check(&endpoint, &full)
            .map_err(|reason| self.call.denied(reason))?;
        let metadata = metadata_map(&request.metadata).map_err(|e| self.call.invalid(e))?;
        let key = ChannelKey {
            host: host.to_ascii_lowercase(),
            port,
            tls: target.tls,
            tls_ca: target.tls_ca.clone(),
        };
        let timeout = timeout_from_ms(timeout_ms);
        let result = self
            .call
            .within(timeout, format!("calling {full} on {address}"), async {
                let connection = self
                    .pool
                    .get_or_connect(&key, |_| true, || self.connect(&key, &full, timeout))
                    .await?;
                if let Some(ip) = connection.address {
                    self.policy
                        .check_address(&endpoint, &full, ip)
                        .map_err(|reason| self.call.denied(reason))?;
                }
                let call = Invocation {
                    address: &address,
                    service,
                    method_name,
                    request: &request,
                    metadata,
                    timeout,
                };
                self.invoke_on(&connection, call).await
            })
            .await;
        if let Err(CallError::Unavailable(_)) = &result {
            self.pool.discard(&key);
        }
        result
    }
}

/// Request metadata from `name: value` pairs; binary (`-bin`) entries are refused.
fn metadata_map(entries: &[(String, String)]) -> Result<MetadataMap, String> {
    let mut map = MetadataMap::new();
    for (name, value) in entries {
        let name = name.to_ascii_lowercase();
        if name.ends_with("-bin") {
            return Err(format!("header {name:?}: binary metadata is not supported"));
        }
        let key = MetadataKey::from_bytes(name.as_bytes())
            .map_err(|_| format!("header {name:?} is not a valid metadata name"))?;
        let value = Some(value.as_str())
            .filter(|v| v.is_ascii())
            .and_then(|v| MetadataValue::try_from(v).ok())
            .ok_or_else(|| format!("header {name:?} has a value that is not printable ASCII"))?;
        map.append(key, value);
    }
    Ok(map)
}

/// An error with its causes, as one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_and_values_are_checked() {
        let ok = metadata_map(&[("X-Job".into(), "nightly".into())]).unwrap();
        assert_eq!(ok.get("x-job").unwrap(), "nightly");
        assert!(metadata_map(&[("x-data-bin".into(), "AA==".into())]).is_err());
        assert!(metadata_map(&[("bad name".into(), "x".into())]).is_err());
        assert!(metadata_map(&[("x".into(), "caf\u{e9}".into())]).is_err());
    }
}
