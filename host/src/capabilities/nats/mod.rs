//! The `nats` capability: publishing to NATS servers with async-nats, core NATS (flushed)
//! or JetStream (acknowledged), within the granted servers and subjects ([`NatsPolicy`]).
//!
//! Connections are kept in [`NatsPool`], one per server list and credentials, and reused by
//! later executions; one found disconnected, or that failed a call, is replaced by the
//! next execution that needs it (async-nats would reconnect by itself, but on its own
//! schedule). Plain connections go to the address that was checked against the grant, so
//! a DNS answer that changes in between cannot redirect them; servers a cluster advertises
//! are ignored. TLS connections (`tls://`) go by name, where certificate verification
//! stops a rebound answer.

mod policy;

use std::net::IpAddr;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{ConnectErrorKind, HeaderMap};
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::nats::{self as wit, Ack, Host, Message, Server};
use crate::bindings::types::CallError;
use crate::capabilities::call::{CallContext, timeout_from_ms};
use crate::capabilities::net::{self, Endpoint, ResolveError, split_authority};
use crate::capabilities::pool::Pool;
use crate::capabilities::unit::{Capability, Holds};
use crate::output::OutputSink;
pub use policy::{NatsPolicy, SubjectPattern};

/// The port of a URL that names none.
const DEFAULT_PORT: u16 = 4222;

/// NATS connections kept across executions.
pub type NatsPool = Pool<ConnectionKey, Connection>;

/// The unit: `sandcron:executor/nats`, publishing to NATS servers and subjects (`nats=127.0.0.1:4222/jobs.>`).
pub struct Nats;

impl Capability for Nats {
    const NAME: &'static str = "nats";
    const INTERFACES: &'static [&'static str] = &["sandcron:executor/nats@"];
    type Policy = NatsPolicy;
    type Shared = NatsPool;
    type State = NatsHost;

    fn new_state(policy: &NatsPolicy, sink: &OutputSink, pool: &NatsPool) -> NatsHost {
        NatsHost::new(policy.clone(), pool.clone(), sink.clone())
    }

    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<NatsHost>>(linker, <T as Holds<Self>>::state)
    }
}

/// What makes two connections interchangeable: the servers, in order, and the
/// credentials.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionKey {
    servers: Vec<ServerUrl>,
    user: Option<String>,
    password: Option<String>,
}

/// A kept connection and the addresses it was allowed to use, checked again against the
/// grant of every execution that reuses it.
#[derive(Clone)]
pub struct Connection {
    client: async_nats::Client,
    addresses: Vec<(ServerUrl, Option<IpAddr>)>,
}

/// One server of a `url` list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerUrl {
    tls: bool,
    host: String,
    port: u16,
}

impl ServerUrl {
    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            host: &self.host,
            port: self.port,
        }
    }
}

/// The host side of `sandcron:executor/nats` for one execution.
pub struct NatsHost {
    policy: NatsPolicy,
    pool: NatsPool,
    call: CallContext,
}

impl NatsHost {
    /// Publishes within `policy`, on connections from `pool`; refusals are noted in `sink`.
    pub fn new(policy: NatsPolicy, pool: NatsPool, sink: OutputSink) -> Self {
        Self {
            policy,
            pool,
            call: CallContext::new("nats", sink),
        }
    }

    /// Checks the call, and gives a connection for it with the key it is kept under.
    async fn connection(
        &self,
        server: &Server,
        subject: &str,
    ) -> Result<(Connection, ConnectionKey), CallError> {
        let ParsedUrl {
            servers,
            user: url_user,
            password: url_password,
        } = parse_servers(&server.url).map_err(|e| self.call.invalid(e))?;
        if !policy::is_publish_subject(subject) {
            return Err(self.call.invalid(format_args!(
                "{subject:?} is not a subject to publish to (dot-separated tokens, no wildcards)"
            )));
        }
        for url in &servers {
            self.policy
                .check(&url.endpoint(), subject)
                .map_err(|reason| self.call.denied(reason))?;
        }
        let key = ConnectionKey {
            servers,
            user: server.user.clone().or(url_user),
            password: server.password.clone().or(url_password),
        };
        let connection = self
            .pool
            .get_or_connect(
                &key,
                |c| c.client.connection_state() == State::Connected,
                || self.connect(&key, subject),
            )
            .await?;
        for (url, ip) in &connection.addresses {
            if let Some(ip) = ip {
                self.policy
                    .check_address(&url.endpoint(), subject, *ip)
                    .map_err(|reason| self.call.denied(reason))?;
            }
        }
        Ok((connection, key))
    }

    /// Connects to the servers of `key`, each at an address the grant allows.
    async fn connect(&self, key: &ConnectionKey, subject: &str) -> Result<Connection, CallError> {
        let mut addresses = Vec::new();
        let mut server_addrs = Vec::new();
        for url in &key.servers {
            let endpoint = url.endpoint();
            let resolved = net::resolve_checked(&endpoint, |ip| {
                self.policy.check_address(&endpoint, subject, ip)
            })
            .await
            .map_err(|e| match e {
                ResolveError::Denied(reason) => self.call.denied(reason),
                ResolveError::Failed(reason) => self.call.unavailable(reason),
            })?;
            if url.tls {
                server_addrs.push(format!("tls://{endpoint}"));
                addresses.push((url.clone(), None));
            } else {
                let address = resolved[0];
                server_addrs.push(format!("nats://{address}"));
                addresses.push((url.clone(), Some(address.ip())));
            }
        }
        let mut options = async_nats::ConnectOptions::new()
            .name("sandcron")
            .ignore_discovered_servers()
            .retain_servers_order()
            .connection_timeout(Duration::from_secs(10));
        if let (Some(user), Some(password)) = (&key.user, &key.password) {
            options = options.user_and_password(user.clone(), password.clone());
        } else if let Some(user) = &key.user {
            options = options.user_and_password(user.clone(), String::new());
        }
        let names = display_servers(&key.servers);
        let client = options
            .connect(server_addrs)
            .await
            .map_err(|e| match e.kind() {
                ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => self
                    .call
                    .rejected(format_args!("{names} refused the credentials: {e}")),
                _ => self
                    .call
                    .unavailable(format_args!("cannot connect to {names}: {e}")),
            })?;
        Ok(Connection { client, addresses })
    }

    /// Runs `publish` on a connection for the call, within the timeout; a connection that
    /// failed or timed out is dropped from the pool.
    async fn with_connection<T, F, Fut>(
        &self,
        server: &Server,
        subject: &str,
        timeout_ms: u64,
        publish: F,
    ) -> Result<T, CallError>
    where
        F: FnOnce(async_nats::Client) -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let timeout = timeout_from_ms(timeout_ms);
        let mut key = None;
        let what = format_args!("publishing to {subject} on {}", server.url).to_string();
        let result = self
            .call
            .within(timeout, &what, async {
                let (connection, k) = self.connection(server, subject).await?;
                key = Some(k);
                publish(connection.client).await
            })
            .await;
        if let (Err(CallError::Unavailable(_)), Some(key)) = (&result, &key) {
            self.pool.discard(key);
        }
        result
    }
}

impl Host for NatsHost {
    async fn publish(
        &mut self,
        server: Server,
        message: Message,
        timeout_ms: u64,
    ) -> Result<(), CallError> {
        let call = self.call.clone();
        let subject = message.subject.clone();
        let url = server.url.clone();
        self.with_connection(
            &server,
            &message.subject.clone(),
            timeout_ms,
            |client| async move {
                let headers = header_map(&message.headers).map_err(|e| call.invalid(e))?;
                client
                    .publish_with_headers(message.subject, headers, message.payload.into())
                    .await
                    .map_err(|e| match e.kind() {
                        async_nats::client::PublishErrorKind::InvalidSubject => {
                            call.invalid(format_args!("invalid subject {subject:?}"))
                        }
                        async_nats::client::PublishErrorKind::MaxPayloadExceeded => call.rejected(
                            format_args!("the message is larger than {url} accepts: {e}"),
                        ),
                        async_nats::client::PublishErrorKind::Send => {
                            call.unavailable(format_args!("sending to {url} failed: {e}"))
                        }
                    })?;
                client
                    .flush()
                    .await
                    .map_err(|e| call.unavailable(format_args!("flushing to {url} failed: {e}")))
            },
        )
        .await
    }

    async fn publish_jetstream(
        &mut self,
        server: Server,
        message: Message,
        timeout_ms: u64,
    ) -> Result<Ack, CallError> {
        use async_nats::jetstream::context::PublishErrorKind as Kind;
        let call = self.call.clone();
        let subject = message.subject.clone();
        let url = server.url.clone();
        self.with_connection(
            &server,
            &message.subject.clone(),
            timeout_ms,
            |client| async move {
                let headers = header_map(&message.headers).map_err(|e| call.invalid(e))?;
                let jetstream = async_nats::jetstream::context::ContextBuilder::new()
                    .timeout(timeout_from_ms(timeout_ms))
                    .build(client);
                let failed = |e: async_nats::jetstream::context::PublishError| match e.kind() {
                    Kind::StreamNotFound => call.rejected(format_args!(
                        "no JetStream stream on {url} captures subject {subject} \
                     (is JetStream enabled, and a stream created for it?)"
                    )),
                    Kind::TimedOut | Kind::BrokenPipe => call.unavailable(format_args!(
                        "no acknowledgement from JetStream on {url}: {e}"
                    )),
                    _ => call.rejected(format_args!("JetStream on {url} refused the message: {e}")),
                };
                let ack = jetstream
                    .publish_with_headers(message.subject, headers, message.payload.into())
                    .await
                    .map_err(failed)?
                    .await
                    .map_err(failed)?;
                Ok(Ack {
                    stream_name: ack.stream,
                    sequence: ack.sequence,
                    duplicate: ack.duplicate,
                })
            },
        )
        .await
    }
}

/// Parses `url`: a comma list of `[nats://|tls://][user[:password]@]host[:port]`. Returns
/// the servers and the credentials the URLs carry (the first given).
fn parse_servers(url: &str) -> Result<ParsedUrl, String> {
    let mut servers = Vec::new();
    let (mut user, mut password) = (None, None);
    for part in url.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (tls, rest) = match part.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "nats" => (false, rest),
                "tls" => (true, rest),
                other => {
                    return Err(format!(
                        "url {part:?}: scheme {other:?} is not supported (use nats:// or tls://)"
                    ));
                }
            },
            None => (false, part),
        };
        let rest = rest.trim_end_matches('/');
        let authority = match rest.rsplit_once('@') {
            Some((userinfo, authority)) => {
                let (u, p) = match userinfo.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (userinfo, None),
                };
                user.get_or_insert_with(|| u.to_string());
                if let Some(p) = p {
                    password.get_or_insert_with(|| p.to_string());
                }
                authority
            }
            None => rest,
        };
        if authority.contains('/') {
            return Err(format!("url {part:?}: a NATS URL has no path"));
        }
        let (host, port) = split_authority(authority).map_err(|e| format!("url {e}"))?;
        servers.push(ServerUrl {
            tls,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(DEFAULT_PORT),
        });
    }
    if servers.is_empty() {
        return Err("url is empty".into());
    }
    Ok(ParsedUrl {
        servers,
        user,
        password,
    })
}

/// A `url` key, read.
#[derive(Debug)]
struct ParsedUrl {
    servers: Vec<ServerUrl>,
    /// The first user name a URL carries.
    user: Option<String>,
    /// The first password a URL carries.
    password: Option<String>,
}

fn display_servers(servers: &[ServerUrl]) -> String {
    servers
        .iter()
        .map(|s| format!("{}://{}", if s.tls { "tls" } else { "nats" }, s.endpoint()))
        .collect::<Vec<_>>()
        .join(",")
}

fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let valid_name =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !valid_name || value.contains(['\r', '\n']) {
            return Err(format!("header {name:?} is not a valid NATS header"));
        }
        map.append(name.as_str(), value.as_str());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_into_servers_and_credentials() {
        let ParsedUrl {
            servers,
            user,
            password,
        } = parse_servers("nats://u:p@127.0.0.1:4222, tls://Nats.Example.com").unwrap();
        assert_eq!(
            servers,
            vec![
                ServerUrl {
                    tls: false,
                    host: "127.0.0.1".into(),
                    port: 4222
                },
                ServerUrl {
                    tls: true,
                    host: "nats.example.com".into(),
                    port: 4222
                },
            ]
        );
        assert_eq!(user.as_deref(), Some("u"));
        assert_eq!(password.as_deref(), Some("p"));
        let parsed = parse_servers("localhost:1234").unwrap();
        assert_eq!(parsed.servers[0].port, 1234);
    }

    #[test]
    fn bad_urls_are_refused() {
        for bad in [
            "",
            "http://x:1",
            "nats://x:port",
            "nats://x:1/path",
            "nats://:1",
        ] {
            assert!(parse_servers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_are_checked() {
        assert!(header_map(&[("X-A".into(), "1".into())]).is_ok());
        assert!(header_map(&[("X A".into(), "1".into())]).is_err());
        assert!(header_map(&[("X-A".into(), "1\r\n2".into())]).is_err());
    }
}
