//! The `kafka` capability: producing records with rdkafka (librdkafka built from its
//! bundled sources), `acks=all`, within the granted brokers and topics ([`KafkaPolicy`]).
//!
//! Producers are kept in [`KafkaPool`], one per bootstrap list and security settings, and
//! reused by later executions; a producer that failed a call is replaced by the next
//! execution. The bootstrap brokers (and the addresses their names resolve to) are
//! checked before a producer is made; before each record, the cluster's metadata is read
//! and every broker it advertises is checked too, because librdkafka connects to those by
//! itself. librdkafka resolves names on its own, so for a broker given by name a DNS
//! answer that changes between the check and librdkafka's lookup is not caught; grant
//! addresses (or names under your control) where that matters.

mod policy;

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, ClientContext};
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::kafka::{self as wit, Cluster, Delivery, Host, Record, SaslMechanism};
use crate::bindings::types::CallError;
use crate::capabilities::call::{CallContext, timeout_from_ms};
use crate::capabilities::net::{self, Endpoint, ResolveError, split_authority};
use crate::capabilities::pool::Pool;
use crate::capabilities::unit::{Capability, Holds};
use crate::output::OutputSink;
pub use policy::{KafkaPolicy, TopicPattern};

/// How long librdkafka keeps trying to deliver a record before it gives up on it. A call
/// whose own timeout is shorter fails first; the record may then still be delivered.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Producers kept across executions.
pub type KafkaPool = Pool<ProducerKey, (KeptProducer, BrokerErrors)>;

/// The unit: `sandcron:executor/kafka`, producing to Kafka brokers and topics (`kafka=127.0.0.1:9092/jobs-*`).
pub struct Kafka;

impl Capability for Kafka {
    const NAME: &'static str = "kafka";
    const INTERFACES: &'static [&'static str] = &["sandcron:executor/kafka@"];
    type Policy = KafkaPolicy;
    type Shared = KafkaPool;
    type State = KafkaHost;

    fn new_state(policy: &KafkaPolicy, sink: &OutputSink, pool: &KafkaPool) -> KafkaHost {
        KafkaHost::new(policy.clone(), pool.clone(), sink.clone())
    }

    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<KafkaHost>>(linker, <T as Holds<Self>>::state)
    }
}

/// A producer whose client reports connection errors to [`BrokerErrors`].
type KeptProducer = FutureProducer<BrokerErrors>;

/// The last error librdkafka reported about a producer's connections (a TLS handshake
/// that failed, say), kept to say why a call failed: librdkafka's own answer to the call
/// is only "broker transport failure". Cheap to clone.
#[derive(Clone, Default)]
pub struct BrokerErrors(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl BrokerErrors {
    /// Takes the last error reported, if any.
    fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut last| last.take())
    }
}

impl ClientContext for BrokerErrors {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!("librdkafka: {error}: {reason}");
        // "All brokers are down" follows the error that says why; keep that one.
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            return;
        }
        if let Ok(mut last) = self.0.lock() {
            *last = Some(reason.to_string());
        }
    }
}

/// What makes two producers interchangeable: the bootstrap brokers and how to talk to
/// them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProducerKey {
    brokers: Vec<(String, u16)>,
    tls: bool,
    tls_insecure_skip_verify: bool,
    sasl: Option<(&'static str, String, String)>,
}

impl ProducerKey {
    fn bootstrap(&self) -> String {
        self.brokers
            .iter()
            .map(|(host, port)| Endpoint { host, port: *port }.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.bootstrap())
            .set("client.id", "sandcron")
            .set("acks", "all")
            .set("enable.idempotence", "false")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            )
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "1000")
            .set("log_level", "3");
        let protocol = match (self.tls, self.sasl.is_some()) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        };
        config.set("security.protocol", protocol);
        if self.tls && self.tls_insecure_skip_verify {
            config
                .set("enable.ssl.certificate.verification", "false")
                .set("ssl.endpoint.identification.algorithm", "none");
        }
        if let Some((mechanism, username, password)) = &self.sasl {
            config
                .set("sasl.mechanisms", *mechanism)
                .set("sasl.username", username)
                .set("sasl.password", password);
        }
        config
    }
}

/// The host side of `sandcron:executor/kafka` for one execution.
pub struct KafkaHost {
    policy: KafkaPolicy,
    pool: KafkaPool,
    call: CallContext,
}

impl KafkaHost {
    /// Produces within `policy`, with producers from `pool`; refusals are noted in `sink`.
    pub fn new(policy: KafkaPolicy, pool: KafkaPool, sink: OutputSink) -> Self {
        Self {
            policy,
            pool,
            call: CallContext::new("kafka", sink),
        }
    }

    /// Checks a broker (bootstrap or advertised) and the addresses its name resolves to.
    async fn check_broker(&self, host: &str, port: u16, topic: &str) -> Result<(), CallError> {
        let endpoint = Endpoint { host, port };
        self.policy
            .check(&endpoint, topic)
            .map_err(|reason| self.call.denied(reason))?;
        net::resolve_checked(&endpoint, |ip| {
            self.policy.check_address(&endpoint, topic, ip)
        })
        .await
        .map_err(|e| match e {
            ResolveError::Denied(reason) => self.call.denied(reason),
            ResolveError::Failed(reason) => self.call.unavailable(reason),
        })?;
        Ok(())
    }

    /// Reads the cluster's metadata for `topic`, checks every advertised broker, and
    /// makes sure the topic exists.
    async fn check_cluster(
        &self,
        (producer, errors): &(KeptProducer, BrokerErrors),
        topic: &str,
        bootstrap: &str,
        timeout: Duration,
    ) -> Result<(), CallError> {
        let client = producer.clone();
        let wanted = topic.to_string();
        let metadata = tokio::task::spawn_blocking(move || {
            client.client().fetch_metadata(Some(&wanted), timeout)
        })
        .await
        .map_err(|e| self.call.unavailable(format_args!("reading metadata: {e}")))?
        .map_err(|e| {
            let why = errors
                .take()
                .map(|reason| format!(" (librdkafka: {reason})"))
                .unwrap_or_default();
            self.call.unavailable(format_args!(
                "cannot read the cluster's metadata from {bootstrap}: {}{why}",
                describe(&e)
            ))
        })?;
        errors.take();
        let advertised: Vec<(String, u16)> = metadata
            .brokers()
            .iter()
            .map(|b| (b.host().to_string(), u16::try_from(b.port()).unwrap_or(0)))
            .collect();
        for (host, port) in &advertised {
            self.check_broker(host, *port, topic)
                .await
                .map_err(|error| match error {
                    CallError::Denied(reason) => CallError::Denied(format!(
                        "{reason} (a broker the cluster at {bootstrap} advertises)"
                    )),
                    other => other,
                })?;
        }
        let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Err(self
                .call
                .rejected(format_args!("topic {topic} does not exist on {bootstrap}")));
        };
        if let Some(error) = found.error() {
            let code = RDKafkaErrorCode::from(error);
            return Err(match code {
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                    self.call.rejected(format_args!(
                        "topic {topic} does not exist on {bootstrap} (create it first)"
                    ))
                }
                other => self
                    .call
                    .rejected(format_args!("topic {topic} on {bootstrap}: {other}")),
            });
        }
        Ok(())
    }
}

impl Host for KafkaHost {
    async fn produce(
        &mut self,
        cluster: Cluster,
        record: Record,
        timeout_ms: u64,
    ) -> Result<Delivery, CallError> {
        let topic = record.topic.clone();
        if !policy::is_topic_name(&topic) {
            return Err(self.call.invalid(format_args!(
                "{topic:?} is not a topic name (1 to 249 of letters, digits, `.`, `_`, `-`)"
            )));
        }
        let key = producer_key(&cluster).map_err(|e| self.call.invalid(e))?;
        for (host, port) in &key.brokers {
            self.check_broker(host, *port, &topic).await?;
        }
        let bootstrap = key.bootstrap();
        let timeout = timeout_from_ms(timeout_ms);
        let result =
            self.call
                .within(
                    timeout,
                    format!("producing to topic {topic} on {bootstrap}"),
                    async {
                        let producer = self
                            .pool
                            .get_or_connect(
                                &key,
                                |_| true,
                                || async {
                                    let errors = BrokerErrors::default();
                                    key.client_config()
                                        .create_with_context::<_, KeptProducer>(errors.clone())
                                        .map(|producer| (producer, errors))
                                        .map_err(|e| self.call.invalid(format_args!("{e}")))
                                },
                            )
                            .await?;
                        // Shorter than the call's own timeout, so that librdkafka's reason for
                        // an unreachable cluster is the one reported.
                        self.check_cluster(&producer, &topic, &bootstrap, timeout * 3 / 4)
                            .await?;
                        let mut headers = OwnedHeaders::new();
                        for (name, value) in &record.headers {
                            headers = headers.insert(Header {
                                key: name,
                                value: Some(value),
                            });
                        }
                        let mut message = FutureRecord::<[u8], [u8]>::to(&topic).headers(headers);
                        if let Some(key) = &record.key {
                            message = message.key(key.as_slice());
                        }
                        if let Some(value) = &record.value {
                            message = message.payload(value.as_slice());
                        }
                        let delivered =
                            producer.0.send(message, Duration::ZERO).await.map_err(
                                |(error, _)| self.produce_error(&error, &topic, &bootstrap),
                            )?;
                        Ok(Delivery {
                            partition: delivered.partition,
                            offset: delivered.offset,
                        })
                    },
                )
                .await;
        if let Err(CallError::Unavailable(_)) = &result {
            self.pool.discard(&key);
        }
        result
    }
}

impl KafkaHost {
    fn produce_error(&self, error: &KafkaError, topic: &str, bootstrap: &str) -> CallError {
        let text = format!(
            "producing to topic {topic} on {bootstrap}: {}",
            describe(error)
        );
        match error.rdkafka_error_code() {
            Some(
                RDKafkaErrorCode::MessageTimedOut
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::QueueFull,
            ) => self.call.unavailable(text),
            _ => self.call.rejected(text),
        }
    }
}

/// An error as a user reads it: librdkafka's description of its code.
fn describe(error: &KafkaError) -> String {
    match error.rdkafka_error_code() {
        Some(code) => code.to_string(),
        None => error.to_string(),
    }
}

/// Reads the cluster settings the guest gave.
fn producer_key(cluster: &Cluster) -> Result<ProducerKey, String> {
    let mut brokers = Vec::new();
    for broker in &cluster.brokers {
        let broker = broker.trim();
        if broker.is_empty() {
            continue;
        }
        let (host, port) = split_authority(broker).map_err(|e| format!("broker {e}"))?;
        let port = port.ok_or_else(|| format!("broker {broker:?} has no port (host:port)"))?;
        brokers.push((host.to_ascii_lowercase(), port));
    }
    if brokers.is_empty() {
        return Err("no broker given".into());
    }
    let sasl = cluster.sasl.as_ref().map(|sasl| {
        let mechanism = match sasl.mechanism {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        };
        (mechanism, sasl.username.clone(), sasl.password.clone())
    });
    Ok(ProducerKey {
        brokers,
        tls: cluster.tls,
        tls_insecure_skip_verify: cluster.tls_insecure_skip_verify,
        sasl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(brokers: &[&str]) -> Cluster {
        Cluster {
            brokers: brokers.iter().map(|b| b.to_string()).collect(),
            tls: false,
            tls_insecure_skip_verify: false,
            sasl: None,
        }
    }

    #[test]
    fn brokers_need_a_port() {
        let key = producer_key(&cluster(&["Kafka-1:9092", " 127.0.0.1:9093 "])).unwrap();
        assert_eq!(
            key.brokers,
            [
                ("kafka-1".to_string(), 9092),
                ("127.0.0.1".to_string(), 9093)
            ]
        );
        assert_eq!(key.bootstrap(), "kafka-1:9092,127.0.0.1:9093");
        assert!(producer_key(&cluster(&["kafka-1"])).is_err());
        assert!(producer_key(&cluster(&[])).is_err());
    }

    /// No TLS or SASL broker can run here (tansu serves neither), so the settings given to
    /// librdkafka are pinned instead.
    #[test]
    fn tls_and_sasl_become_librdkafkas_security_settings() {
        let settings = |cluster: Cluster| producer_key(&cluster).unwrap().client_config();
        let plain = settings(cluster(&["k:9092"]));
        assert_eq!(plain.get("security.protocol"), Some("plaintext"));
        assert_eq!(plain.get("sasl.mechanisms"), None);

        let tls = settings(Cluster {
            tls: true,
            ..cluster(&["k:9093"])
        });
        assert_eq!(tls.get("security.protocol"), Some("ssl"));
        assert_eq!(tls.get("enable.ssl.certificate.verification"), None);

        let insecure = settings(Cluster {
            tls: true,
            tls_insecure_skip_verify: true,
            ..cluster(&["k:9093"])
        });
        assert_eq!(
            insecure.get("enable.ssl.certificate.verification"),
            Some("false")
        );
        assert_eq!(
            insecure.get("ssl.endpoint.identification.algorithm"),
            Some("none")
        );

        let sasl = |mechanism, tls| {
            settings(Cluster {
                tls,
                sasl: Some(wit::Sasl {
                    mechanism,
                    username: "u".into(),
                    password: "p".into(),
                }),
                ..cluster(&["k:9093"])
            })
        };
        let scram = sasl(SaslMechanism::ScramSha512, true);
        assert_eq!(scram.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(scram.get("sasl.mechanisms"), Some("SCRAM-SHA-512"));
        assert_eq!(scram.get("sasl.username"), Some("u"));
        assert_eq!(scram.get("sasl.password"), Some("p"));
        let plain = sasl(SaslMechanism::Plain, false);
        assert_eq!(plain.get("security.protocol"), Some("sasl_plaintext"));
        assert_eq!(plain.get("sasl.mechanisms"), Some("PLAIN"));
        let sha256 = sasl(SaslMechanism::ScramSha256, true);
        assert_eq!(sha256.get("sasl.mechanisms"), Some("SCRAM-SHA-256"));
    }
}
