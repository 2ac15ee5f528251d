//! The `amqp` capability: declaring queues and publishing with publisher confirms on
//! AMQP 0-9-1 brokers (RabbitMQ) with lapin, within the granted brokers, exchanges and
//! routing keys ([`AmqpPolicy`]).
//!
//! Connections are kept in [`AmqpPool`], one per URL (credentials and virtual host
//! included), and reused by later executions; one found closed, or that failed a call, is
//! replaced by the next execution that needs it. Each call opens a channel of its own and
//! closes it at the end, so a channel error (an unknown exchange, a queue declared with
//! other flags) stays within that call. Plain connections go to the address that was
//! checked against the grant; TLS ones (`amqps://`) go by name, where certificate
//! verification stops a rebound DNS answer.

mod policy;

use std::net::IpAddr;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{BasicProperties, Channel, Confirmation, ConnectionProperties, ErrorKind};
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::amqp::{self as wit, Host, Message, Queue, QueueState};
use crate::bindings::types::CallError;
use crate::capabilities::call::{CallContext, timeout_from_ms};
use crate::capabilities::net::{self, Endpoint, ResolveError};
use crate::capabilities::pool::Pool;
use crate::capabilities::unit::{Capability, Holds};
use crate::output::OutputSink;
pub use policy::{AmqpPolicy, Route, RoutePattern};

/// AMQP connections kept across executions, by URL.
pub type AmqpPool = Pool<String, Connection>;

/// The unit: `sandcron:executor/amqp`, publishing to AMQP brokers, exchanges and routing keys (`amqp=127.0.0.1:5672//jobs-*`).
pub struct Amqp;

impl Capability for Amqp {
    const NAME: &'static str = "amqp";
    const INTERFACES: &'static [&'static str] = &["sandcron:executor/amqp@"];
    type Policy = AmqpPolicy;
    type Shared = AmqpPool;
    type State = AmqpHost;

    fn new_state(policy: &AmqpPolicy, sink: &OutputSink, pool: &AmqpPool) -> AmqpHost {
        AmqpHost::new(policy.clone(), pool.clone(), sink.clone())
    }

    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<AmqpHost>>(linker, <T as Holds<Self>>::state)
    }
}

/// A kept connection and the address it was allowed to use (none for TLS, which goes by
/// name), checked again against the grant of every execution that reuses it.
#[derive(Clone)]
pub struct Connection {
    connection: std::sync::Arc<lapin::Connection>,
    address: Option<IpAddr>,
}

/// The host side of `sandcron:executor/amqp` for one execution.
pub struct AmqpHost {
    policy: AmqpPolicy,
    pool: AmqpPool,
    call: CallContext,
}

/// A parsed broker URL: what the grant checks and what the connection is made with.
struct Broker {
    uri: AMQPUri,
    /// The URL without its password, for messages.
    shown: String,
}

impl Broker {
    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            host: &self.uri.authority.host,
            port: self.uri.authority.port,
        }
    }
}

impl AmqpHost {
    /// Publishes within `policy`, on connections from `pool`; refusals are noted in `sink`.
    pub fn new(policy: AmqpPolicy, pool: AmqpPool, sink: OutputSink) -> Self {
        Self {
            policy,
            pool,
            call: CallContext::new("amqp", sink),
        }
    }

    fn parse(&self, url: &str) -> Result<Broker, CallError> {
        let uri: AMQPUri = url.trim().parse().map_err(|e| {
            self.call
                .invalid(format_args!("url is not an AMQP URI: {e}"))
        })?;
        if uri.authority.host.is_empty() {
            return Err(self.call.invalid("url has no host"));
        }
        let scheme = match uri.scheme {
            AMQPScheme::AMQP => "amqp",
            AMQPScheme::AMQPS => "amqps",
        };
        let shown = format!(
            "{scheme}://{}/{}",
            Endpoint {
                host: &uri.authority.host,
                port: uri.authority.port
            },
            uri.vhost
        );
        Ok(Broker { uri, shown })
    }

    /// Checks `route` against the grant and runs `work` on a fresh channel of a kept
    /// connection, within the timeout. A connection that failed is dropped from the pool.
    async fn on_channel<T, F, Fut>(
        &self,
        url: &str,
        route: &Route,
        timeout_ms: u64,
        what: &str,
        work: F,
    ) -> Result<T, CallError>
    where
        F: FnOnce(Channel, String) -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let broker = self.parse(url)?;
        self.policy
            .check(&broker.endpoint(), route)
            .map_err(|reason| self.call.denied(reason))?;
        let key = url.trim().to_string();
        let shown = broker.shown.clone();
        let result = self
            .call
            .within(
                timeout_from_ms(timeout_ms),
                format!("{what} on {shown}"),
                async {
                    let connection = self
                        .pool
                        .get_or_connect(
                            &key,
                            |c| c.connection.status().connected(),
                            || self.connect(&broker, route),
                        )
                        .await?;
                    if let Some(ip) = connection.address {
                        self.policy
                            .check_address(&broker.endpoint(), route, ip)
                            .map_err(|reason| self.call.denied(reason))?;
                    }
                    let channel = connection
                        .connection
                        .create_channel()
                        .await
                        .map_err(|e| self.error(&shown, e))?;
                    let result = work(channel.clone(), shown.clone()).await;
                    if channel.status().connected() {
                        let _ = channel.close(200, "done".into()).await;
                    }
                    result
                },
            )
            .await;
        if let Err(CallError::Unavailable(_)) = &result {
            self.pool.discard(&key);
        }
        result
    }

    /// Connects to `broker` at an address the grant allows for `route`.
    async fn connect(&self, broker: &Broker, route: &Route) -> Result<Connection, CallError> {
        let endpoint = broker.endpoint();
        let resolved = net::resolve_checked(&endpoint, |ip| {
            self.policy.check_address(&endpoint, route, ip)
        })
        .await
        .map_err(|e| match e {
            ResolveError::Denied(reason) => self.call.denied(reason),
            ResolveError::Failed(reason) => self.call.unavailable(reason),
        })?;
        let mut uri = broker.uri.clone();
        let address = match uri.scheme {
            AMQPScheme::AMQP => {
                let ip = resolved[0].ip();
                uri.authority.host = ip.to_string();
                Some(ip)
            }
            AMQPScheme::AMQPS => None,
        };
        let properties =
            ConnectionProperties::default().with_connection_name(LongString::from("sandcron"));
        let connection = lapin::Connection::connect_uri(uri, properties)
            .await
            .map_err(|e| self.error(&broker.shown, e))?;
        Ok(Connection {
            connection: std::sync::Arc::new(connection),
            address,
        })
    }

    /// Maps a lapin error: the broker's refusals are `rejected`, the rest `unavailable`.
    fn error(&self, shown: &str, error: lapin::Error) -> CallError {
        match error.kind() {
            ErrorKind::ProtocolError(amqp) => {
                self.call.rejected(format_args!("{shown} refused: {amqp}"))
            }
            ErrorKind::IOError(io) => self
                .call
                .unavailable(format_args!("cannot reach {shown}: {io}")),
            _ => self.call.unavailable(format_args!("{shown}: {error}")),
        }
    }
}

impl Host for AmqpHost {
    async fn declare_queue(
        &mut self,
        url: String,
        queue: Queue,
        timeout_ms: u64,
    ) -> Result<QueueState, CallError> {
        if queue.name.is_empty() {
            return Err(self.call.invalid("a queue to declare needs a name"));
        }
        let route = Route {
            exchange: String::new(),
            routing_key: queue.name.clone(),
        };
        let this = &*self;
        let what = format!("declaring queue {:?}", queue.name);
        self.on_channel(
            &url,
            &route,
            timeout_ms,
            &what,
            |channel, shown| async move {
                let options = QueueDeclareOptions {
                    durable: queue.durable,
                    auto_delete: queue.auto_delete,
                    exclusive: queue.exclusive,
                    ..QueueDeclareOptions::default()
                };
                let declared = channel
                    .queue_declare(queue.name.as_str().into(), options, FieldTable::default())
                    .await
                    .map_err(|e| this.error(&shown, e))?;
                Ok(QueueState {
                    message_count: declared.message_count(),
                    consumer_count: declared.consumer_count(),
                })
            },
        )
        .await
    }

    async fn publish(
        &mut self,
        url: String,
        message: Message,
        timeout_ms: u64,
    ) -> Result<(), CallError> {
        let route = Route {
            exchange: message.exchange.clone(),
            routing_key: message.routing_key.clone(),
        };
        let properties = properties(&message).map_err(|e| self.call.invalid(e))?;
        let this = &*self;
        let what = format!("publishing to {route}");
        let shown_route = route.to_string();
        self.on_channel(&url, &route, timeout_ms, &what, |channel, shown| async move {
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| this.error(&shown, e))?;
            let options = BasicPublishOptions {
                mandatory: message.mandatory,
                ..BasicPublishOptions::default()
            };
            let confirmation = channel
                .basic_publish(
                    message.exchange.as_str().into(),
                    message.routing_key.as_str().into(),
                    options,
                    &message.body,
                    properties,
                )
                .await
                .map_err(|e| this.error(&shown, e))?
                .await
                .map_err(|e| this.error(&shown, e))?;
            match confirmation {
                Confirmation::Ack(None) => Ok(()),
                Confirmation::Ack(Some(returned)) => Err(this.call.rejected(format_args!(
                    "{shown} could not route the message ({} {}): no queue is bound to {shown_route}",
                    returned.reply_code, returned.reply_text
                ))),
                Confirmation::Nack(_) => Err(this.call.rejected(format_args!(
                    "{shown} did not accept the message (negative acknowledgement)"
                ))),
                Confirmation::NotRequested => Err(this.call.unavailable(format_args!(
                    "{shown} did not confirm the message"
                ))),
            }
        })
        .await
    }
}

/// The message's properties, from what the guest set.
fn properties(message: &Message) -> Result<BasicProperties, String> {
    let mut properties = BasicProperties::default();
    if let Some(content_type) = &message.content_type {
        properties = properties.with_content_type(short(content_type, "content-type")?);
    }
    if let Some(mode) = message.delivery_mode {
        properties = properties.with_delivery_mode(mode);
    }
    if let Some(id) = &message.message_id {
        properties = properties.with_message_id(short(id, "message-id")?);
    }
    if !message.headers.is_empty() {
        let mut table = FieldTable::default();
        for (name, value) in &message.headers {
            table.insert(
                short(name, "a header name")?,
                AMQPValue::LongString(value.as_str().into()),
            );
        }
        properties = properties.with_headers(table);
    }
    Ok(properties)
}

/// An AMQP short string (at most 255 bytes).
fn short(text: &str, what: &str) -> Result<ShortString, String> {
    if text.len() > 255 {
        return Err(format!("{what} is longer than 255 bytes"));
    }
    Ok(text.into())
}
