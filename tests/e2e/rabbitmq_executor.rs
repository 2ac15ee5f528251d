//! The built-in `rabbitmq` executor against a real RabbitMQ on loopback: what it publishes
//! is read back with a `basic.get` by an independent client; publisher confirms and
//! mandatory routing; the grant is enforced before any connection; a broker that goes
//! away fails the run and the next one succeeds once it is back; connections are kept
//! across executions.

use std::time::Duration;

use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use serde_json::json;

use crate::peers::{
    CountingListener, dedicated_rabbitmq, dedicated_rabbitmq_with, free_port, listening,
    manual_job, peer_env, run_job, run_many, sockets_on_port,
};
use crate::support::{self, Server, eventually, exec, exec_trusting, stderr, stdout};
use crate::tls::TestCertificates;

fn shared_url() -> String {
    peer_env("SANDCRON_TEST_AMQP_URL")
}

/// `amqp=HOST:PORT` for a URL such as `amqp://guest:guest@127.0.0.1:5672/%2f`.
fn grant(url: &str) -> String {
    let authority = url.split('@').nth(1).unwrap().split('/').next().unwrap();
    format!("amqp={authority}")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), fastrand::u64(..))
}

async fn channel(url: &str) -> (Connection, Channel) {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ at the peer URL");
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

fn exec_args(url: &str, grant: &str, config: &[(&str, &str)]) -> Vec<String> {
    let url = format!("url={url}");
    support::exec_args("rabbitmq", &["--allow", grant, "--config", &url], config)
}

#[tokio::test]
async fn a_message_is_confirmed_and_read_back_with_its_properties() {
    let url = shared_url();
    let queue = unique("sandcron-q");
    let body = "h\u{e9}llo, RabbitMQ \u{1f407}\n";
    let out = exec(exec_args(
        &url,
        &grant(&url),
        &[
            ("queue.name", &queue),
            ("queue.create", "true"),
            ("queue.auto_delete", "false"),
            ("message.body", body),
            ("message.content_type", "application/x-test"),
            ("message.delivery_mode", "2"),
            ("message.messageId", "m-42"),
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "declared queue {queue} (messages ready: 0, consumers: 0)\n\
             published {} bytes to the default exchange with routing key {queue}; \
             the broker confirmed it\n",
            body.len()
        )
    );

    let (_connection, channel) = channel(&url).await;
    let got = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the message is in the queue");
    assert_eq!(got.delivery.data, body.as_bytes());
    let properties = &got.delivery.properties;
    assert_eq!(
        properties.content_type().as_ref().map(|s| s.as_str()),
        Some("application/x-test")
    );
    assert_eq!(*properties.delivery_mode(), Some(2));
    assert_eq!(
        properties.message_id().as_ref().map(|s| s.as_str()),
        Some("m-42")
    );
    channel
        .queue_delete(queue.as_str().into(), Default::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_base64_body_arrives_as_its_bytes() {
    let url = shared_url();
    let queue = unique("sandcron-b64");
    let (_connection, channel) = channel(&url).await;
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let out = exec(exec_args(
        &url,
        &grant(&url),
        &[
            ("queue.name", &queue),
            ("message.base64Body", "AP8Kc2FuZGNyb24="),
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let got = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the message is in the queue");
    assert_eq!(got.delivery.data, b"\x00\xff\nsandcron");
    channel
        .queue_delete(queue.as_str().into(), Default::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unroutable_message_fails_unless_mandatory_is_off() {
    let url = shared_url();
    let queue = unique("sandcron-nowhere");
    let out = exec(exec_args(
        &url,
        &grant(&url),
        &[("queue.name", &queue), ("message.body", "x")],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("could not route the message"),
        "{}",
        stderr(&out)
    );
    let out = exec(exec_args(
        &url,
        &grant(&url),
        &[
            ("queue.name", &queue),
            ("message.body", "x"),
            ("message.mandatory", "false"),
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn a_broker_outside_the_grant_is_denied_without_a_connection() {
    let listener = CountingListener::start();
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", listener.port);
    for grant in [grant(&shared_url()), "amqp=*:*".to_string()] {
        let out = exec(exec_args(&url, &grant, &[("queue.name", "q")])).await;
        assert_eq!(out.status.code(), Some(1), "{grant}");
        assert!(stderr(&out).contains("amqp: "), "{}", stderr(&out));
        assert!(stderr(&out).contains("denied"), "{}", stderr(&out));
    }
    assert_eq!(listener.accepted(), 0, "a denied call connected");
}

#[tokio::test]
async fn a_queue_outside_the_grant_is_denied() {
    let url = shared_url();
    let narrow = format!("{}//jobs-*", grant(&url));
    let out = exec(exec_args(
        &url,
        &narrow,
        &[("queue.name", "other"), ("queue.create", "true")],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(r#"route exchange "" with routing key "other""#),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn bad_config_names_the_key() {
    let out = exec(exec_args(
        "amqp://127.0.0.1",
        "amqp=127.0.0.1:5672",
        &[("queue.name", "q"), ("message.delivery_mode", "9")],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("message.delivery_mode: "),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_stopped_broker_fails_the_run_and_the_next_succeeds_once_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut rabbit = dedicated_rabbitmq(dir.path());
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", rabbit.port);
    let server = Server::sqlite(&["--allow", &grant(&url)]);
    let config = json!({
        "url": url, "queue.name": "restart", "queue.create": "true",
        "message.body": "x", "timeout": "5s",
    });
    manual_job(&server, "rabbit-restart", "rabbitmq", config).await;

    let first = run_job(&server, "rabbit-restart").await;
    assert_eq!(first["success"], true, "{first}");

    rabbit.stop();
    let down = run_job(&server, "rabbit-restart").await;
    assert_eq!(down["success"], false, "{down}");
    let reason = down["reason"].as_str().unwrap();
    assert!(reason.starts_with("unavailable: amqp: "), "{reason}");
    assert!(
        reason.contains(&format!("127.0.0.1:{}", rabbit.port)),
        "{reason}"
    );

    rabbit.restart();
    let back = run_job(&server, "rabbit-restart").await;
    assert_eq!(back["success"], true, "{back}");
}

#[tokio::test]
async fn a_thousand_runs_share_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let rabbit = dedicated_rabbitmq(dir.path());
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", rabbit.port);
    let server = Server::sqlite(&["--allow", &grant(&url)]);
    let config = json!({"url": url, "queue.name": "many", "message.body": "m"});
    manual_job(&server, "rabbit-many", "rabbitmq", config).await;
    {
        let (_connection, channel) = channel(&url).await;
        channel
            .queue_declare(
                "many".into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
    }

    let job = run_many(&server, "rabbit-many", 1000).await;
    assert_eq!(job["success_count"], 1000, "{job}");
    // One kept connection (two sockets); the test's own closed one may linger.
    let sockets = sockets_on_port(rabbit.port);
    assert!(sockets <= 6, "{sockets} sockets on the broker's port");
    let (_connection, channel) = channel(&url).await;
    let queue = channel
        .queue_declare(
            "many".into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(queue.message_count(), 1000);
}

#[tokio::test]
async fn an_amqps_url_verifies_the_broker_against_the_hosts_trust_store() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::make(dir.path());
    let tls_port = free_port();
    let config = format!(
        "listeners.ssl.default = 127.0.0.1:{tls_port}\n\
         ssl_options.cacertfile = {}\n\
         ssl_options.certfile = {}\n\
         ssl_options.keyfile = {}\n\
         ssl_options.verify = verify_none\n\
         ssl_options.fail_if_no_peer_cert = false\n",
        certs.authority_file.display(),
        certs.cert_file.display(),
        certs.key_file.display(),
    );
    let rabbit = dedicated_rabbitmq_with(dir.path(), &config);
    eventually("the TLS listener", Duration::from_secs(60), || async {
        listening(tls_port).then_some(())
    })
    .await;
    let plain = format!("amqp://guest:guest@127.0.0.1:{}/%2f", rabbit.port);
    let url = format!("amqps://guest:guest@localhost:{tls_port}/%2f");
    let args = |body: &str| {
        let config = [
            ("queue.name", "tls"),
            ("queue.create", "true"),
            ("message.body", body),
            ("timeout", "10s"),
        ];
        exec_args(&url, &format!("amqp=localhost:{tls_port}"), &config)
    };

    let out = exec_trusting(&certs.authority_file, args("over tls")).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (_connection, channel) = channel(&plain).await;
    let got = channel
        .basic_get("tls".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the message is in the queue");
    assert_eq!(got.delivery.data, b"over tls");

    // Trusting another authority only: the broker's certificate is refused.
    let other = tempfile::tempdir().unwrap();
    let other = TestCertificates::make(other.path());
    let out = exec_trusting(&other.authority_file, args("never")).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let error = stderr(&out);
    assert!(error.contains("amqp: cannot reach amqps://"), "{error}");
    assert!(error.contains("invalid peer certificate"), "{error}");
}
