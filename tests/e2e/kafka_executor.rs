//! The built-in `kafka` executor against tansu, a Kafka-compatible broker, on loopback:
//! what it produces is read back by an independent consumer at the offset it reports;
//! the grant is enforced before any connection; a broker that goes away fails the run and
//! the next one succeeds once it is back; producers are kept across executions.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use crate::peers::{
    CountingListener, PeerProcess, free_port, manual_job, peer_env, run_job, run_many,
    sockets_on_port,
};
use crate::support::{self, Server, exec, exec_trusting, stderr, stdout};
use crate::tls::{TestCertificates, tls_proxy};

/// A value that is not plain ASCII, to compare byte for byte.
const VALUE: &str = "h\u{e9}llo, Kafka \u{1f41d}\n\ttab";

fn shared_brokers() -> String {
    peer_env("SANDCRON_TEST_KAFKA_BROKERS")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), fastrand::u64(..))
}

fn exec_args(brokers: &str, grant: &str, config: &[(&str, &str)]) -> Vec<String> {
    let brokers = format!("brokerAddress={brokers}");
    support::exec_args("kafka", &["--allow", grant, "--config", &brokers], config)
}

/// Creates `topic` with one partition (tansu creates none by itself).
async fn create_topic(brokers: &str, topic: &str) {
    create_topic_with(client(brokers), topic).await;
}

/// The settings of a plain client of `brokers`.
fn client(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    config
}

/// Creates `topic` with one partition through a client made with `config`.
async fn create_topic_with(config: ClientConfig, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = config.create().unwrap();
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("the broker answers");
    for result in results {
        result.unwrap_or_else(|(name, e)| panic!("creating topic {name}: {e}"));
    }
}

/// Reads the record at `offset` of partition 0 of `topic`, with a consumer of its own.
fn consume_at(brokers: &str, topic: &str, offset: i64) -> rdkafka::message::OwnedMessage {
    consume_at_with(client(brokers), topic, offset)
}

/// [`consume_at`] with a consumer made with `config`.
fn consume_at_with(
    mut config: ClientConfig,
    topic: &str,
    offset: i64,
) -> rdkafka::message::OwnedMessage {
    let consumer: BaseConsumer = config
        .set("group.id", unique("sandcron-test"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(topic, 0, Offset::Offset(offset))
        .unwrap();
    consumer.assign(&partitions).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no record at {offset}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(500)) {
            return message.expect("a record").detach();
        }
    }
}

/// Reads partition 0 of `topic` from the start until `expected` records came (or 30
/// seconds passed) and returns how many it read.
fn count_records(brokers: &str, topic: &str, expected: usize) -> usize {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("sandcron-test"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut read = 0;
    while read < expected && std::time::Instant::now() < deadline {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(500)) {
            read += 1;
        }
    }
    read
}

#[tokio::test]
async fn a_record_is_consumed_back_at_the_reported_offset() {
    let brokers = shared_brokers();
    let topic = unique("sandcron-kafka");
    create_topic(&brokers, &topic).await;
    let out = exec(exec_args(
        &brokers,
        &format!("kafka={brokers}"),
        &[
            ("topic", &topic),
            ("key", "job-42"),
            ("message", VALUE),
            ("headers", r#"["X-Job: nightly"]"#),
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let expected_prefix = format!(
        "produced {} bytes to topic {topic} on {brokers}: partition 0, offset ",
        VALUE.len()
    );
    let offset: i64 = printed
        .strip_prefix(&expected_prefix)
        .and_then(|rest| rest.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {printed:?}"));

    let record = tokio::task::spawn_blocking({
        let (brokers, topic) = (brokers.clone(), topic.clone());
        move || consume_at(&brokers, &topic, offset)
    })
    .await
    .unwrap();
    assert_eq!(record.payload(), Some(VALUE.as_bytes()));
    assert_eq!(record.key(), Some(b"job-42".as_slice()));
    let headers = record.headers().expect("headers");
    let header = headers.get(0);
    assert_eq!(header.key, "X-Job");
    assert_eq!(header.value, Some(b"nightly".as_slice()));
}

#[tokio::test]
async fn a_missing_topic_fails_with_a_clear_reason() {
    let brokers = shared_brokers();
    let topic = unique("sandcron-missing");
    let out = exec(exec_args(
        &brokers,
        &format!("kafka={brokers}"),
        &[("topic", &topic), ("message", "x"), ("timeout", "10s")],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("topic {topic} does not exist")),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_broker_outside_the_grant_is_denied_without_a_connection() {
    let listener = CountingListener::start();
    let brokers = format!("127.0.0.1:{}", listener.port);
    for grant in [format!("kafka={}", shared_brokers()), "kafka=*:*".into()] {
        let out = exec(exec_args(&brokers, &grant, &[("topic", "jobs")])).await;
        assert_eq!(out.status.code(), Some(1), "{grant}");
        assert!(stderr(&out).contains("kafka: "), "{}", stderr(&out));
        assert!(stderr(&out).contains("denied"), "{}", stderr(&out));
    }
    assert_eq!(listener.accepted(), 0, "a denied call connected");
}

#[tokio::test]
async fn a_topic_outside_the_grant_is_denied() {
    let brokers = shared_brokers();
    let out = exec(exec_args(
        &brokers,
        &format!("kafka={brokers}/jobs-*"),
        &[("topic", "other")],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("topic other on {brokers} is not in the grant")),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn bad_config_names_the_key() {
    let out = exec(exec_args(
        "127.0.0.1:9092",
        "kafka=127.0.0.1:9092",
        &[
            ("topic", "t"),
            ("saslUsername", "u"),
            ("saslMechanism", "md5"),
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("saslMechanism: "), "{}", stderr(&out));
}

/// A tansu broker of the test's own, in memory, on a free port.
fn dedicated_tansu() -> PeerProcess {
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let command = [
        peer_env("SANDCRON_TEST_TANSU"),
        "broker".into(),
        "--listener-url".into(),
        url.clone(),
        "--advertised-listener-url".into(),
        url,
        "--storage-engine".into(),
        "memory://tansu/".into(),
    ];
    PeerProcess::start("tansu", &command, &[], port)
}

#[tokio::test]
async fn a_stopped_broker_fails_the_run_and_the_next_succeeds_once_it_is_back() {
    let mut tansu = dedicated_tansu();
    let brokers = format!("127.0.0.1:{}", tansu.port);
    create_topic(&brokers, "restart").await;
    let server = Server::sqlite(&["--allow", &format!("kafka={brokers}")]);
    let config = json!({
        "brokerAddress": brokers, "topic": "restart", "message": "x", "timeout": "5s",
    });
    manual_job(&server, "kafka-restart", "kafka", config).await;

    let first = run_job(&server, "kafka-restart").await;
    assert_eq!(first["success"], true, "{first}");

    tansu.stop();
    let down = run_job(&server, "kafka-restart").await;
    assert_eq!(down["success"], false, "{down}");
    let reason = down["reason"].as_str().unwrap();
    assert!(reason.starts_with("unavailable: kafka: "), "{reason}");
    assert!(reason.contains(&brokers), "{reason}");

    // In memory, the broker lost its topics with its process.
    tansu.restart();
    create_topic(&brokers, "restart").await;
    let back = run_job(&server, "kafka-restart").await;
    assert_eq!(back["success"], true, "{back}");
}

#[tokio::test]
async fn a_thousand_runs_share_one_producer() {
    let tansu = dedicated_tansu();
    let brokers = format!("127.0.0.1:{}", tansu.port);
    create_topic(&brokers, "many").await;
    let server = Server::sqlite(&[
        "--allow",
        &format!("kafka={brokers}"),
        "--keep-executions",
        "0",
    ]);
    let config = json!({"brokerAddress": brokers, "topic": "many", "message": "m"});
    manual_job(&server, "kafka-many", "kafka", config).await;

    let job = run_many(&server, "kafka-many", 1000).await;
    assert_eq!(job["success_count"], 1000, "{job}");
    // One producer: its bootstrap and broker connections (both ends each); the test's
    // admin client has closed its own.
    let sockets = sockets_on_port(tansu.port);
    assert!(sockets <= 12, "{sockets} sockets on the broker's port");
    // Each run reported where the broker stored its record: 1000 distinct offsets.
    let executions = server
        .get("/v1/jobs/kafka-many/executions?_start=0&_end=1000")
        .await
        .json();
    let offsets: std::collections::HashSet<i64> = executions
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let output = e["output"].as_str().unwrap();
            output
                .rsplit("offset ")
                .next()
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(offsets.len(), 1000);
    // And an independent consumer reads them all.
    let read = tokio::task::spawn_blocking(move || count_records(&brokers, "many", 1000))
        .await
        .unwrap();
    assert_eq!(read, 1000);
}

#[tokio::test]
async fn tls_enable_verifies_the_brokers_against_the_hosts_trust_store() {
    // tansu serves no TLS: a TLS-terminating proxy stands in front of it, and tansu
    // advertises the proxy, so that every connection librdkafka makes goes through TLS.
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::make(dir.path());
    let (port, tls_port) = (free_port(), free_port());
    let command = [
        peer_env("SANDCRON_TEST_TANSU"),
        "broker".into(),
        "--listener-url".into(),
        format!("tcp://127.0.0.1:{port}"),
        "--advertised-listener-url".into(),
        format!("tcp://localhost:{tls_port}"),
        "--storage-engine".into(),
        "memory://tansu/".into(),
    ];
    let _tansu = PeerProcess::start("tansu behind TLS", &command, &[], port);
    tls_proxy(&certs, tls_port, format!("127.0.0.1:{port}"));
    let brokers = format!("localhost:{tls_port}");
    let tls_client = || {
        let mut config = client(&brokers);
        config.set("security.protocol", "ssl").set(
            "ssl.ca.location",
            certs.authority_file.display().to_string(),
        );
        config
    };
    create_topic_with(tls_client(), "tls").await;
    let grant = format!("kafka={brokers}");
    let args = |message: &str| {
        let config = [
            ("topic", "tls"),
            ("message", message),
            ("tlsEnable", "true"),
            ("timeout", "10s"),
        ];
        exec_args(&brokers, &grant, &config)
    };

    let out = exec_trusting(&certs.authority_file, args(VALUE)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with("partition 0, offset 0\n"),
        "{}",
        stdout(&out)
    );
    let config = tls_client();
    let record = tokio::task::spawn_blocking(move || consume_at_with(config, "tls", 0))
        .await
        .unwrap();
    assert_eq!(record.payload(), Some(VALUE.as_bytes()));

    // Trusting another authority only: the brokers' certificate is refused.
    let other = tempfile::tempdir().unwrap();
    let other = TestCertificates::make(other.path());
    let out = exec_trusting(&other.authority_file, args("never")).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let error = stderr(&out);
    let reason = error.lines().last().unwrap_or_default();
    assert!(
        reason.contains("kafka: cannot read the cluster's metadata"),
        "{error}"
    );
    assert!(reason.contains("certificate verify failed"), "{error}");
}
