//! The built-in `nats` executor against a real nats-server on loopback: what it publishes
//! is read back by an independent subscriber (core) or from the stream (JetStream); the
//! grant is enforced before any connection; a server that goes away fails the run and
//! the next one succeeds once it is back; connections are kept across executions.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use crate::peers::{
    CountingListener, PeerProcess, free_port, manual_job, peer_env, run_job, run_many,
    sockets_on_port,
};
use crate::support::{Server, exec, exec_args, stderr, stdout};
use crate::tls::TestCertificates;

/// A payload that is not plain ASCII, to compare byte for byte.
const PAYLOAD: &str = "h\u{e9}llo, NATS \u{1f980}\n\ttab";

fn shared_url() -> String {
    peer_env("SANDCRON_TEST_NATS_URL")
}

fn grant(url: &str) -> String {
    format!("nats={}", url.trim_start_matches("nats://"))
}

fn unique(prefix: &str) -> String {
    format!("{prefix}.{}.{}", std::process::id(), fastrand::u64(..))
}

/// A dedicated nats-server with JetStream on a port of its own.
fn dedicated_nats(dir: &std::path::Path) -> PeerProcess {
    let port = free_port();
    let command = [
        "nats-server",
        "-a",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-js",
        "-sd",
        &dir.display().to_string(),
    ]
    .map(String::from);
    PeerProcess::start("nats-server", &command, &[], port)
}

#[tokio::test]
async fn a_core_message_reaches_a_subscriber_byte_for_byte() {
    let url = shared_url();
    let client = async_nats::connect(&url)
        .await
        .expect("NATS at the peer URL");
    let subject = unique("sandcron.core");
    let mut subscription = client.subscribe(subject.clone()).await.unwrap();
    client.flush().await.unwrap();

    let out = exec(exec_args(
        "nats",
        &["--allow", &grant(&url)],
        &[
            ("url", &url),
            ("subject", &subject),
            ("message", PAYLOAD),
            ("headers", r#"["X-Job: nightly", "X-Try: 1"]"#),
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "published {} bytes to subject {subject} on {url}\n",
            PAYLOAD.len()
        )
    );

    let message = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("the message arrives")
        .unwrap();
    assert_eq!(message.payload.as_ref(), PAYLOAD.as_bytes());
    let headers = message.headers.expect("headers");
    assert_eq!(headers.get("X-Job").map(|v| v.as_str()), Some("nightly"));
    assert_eq!(headers.get("X-Try").map(|v| v.as_str()), Some("1"));
}

#[tokio::test]
async fn a_jetstream_message_is_acknowledged_and_stored() {
    let url = shared_url();
    let client = async_nats::connect(&url)
        .await
        .expect("NATS at the peer URL");
    let jetstream = async_nats::jetstream::new(client);
    let stream_name = format!("SANDCRON_{}_{}", std::process::id(), fastrand::u32(..));
    let subject = unique("sandcron.js");
    let mut stream = jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: stream_name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await
        .unwrap();

    let out = exec(exec_args(
        "nats",
        &["--allow", &grant(&url)],
        &[
            ("url", &url),
            ("subject", &subject),
            ("message", PAYLOAD),
            ("jetstream", "true"),
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with(&format!(": stream {stream_name}, sequence 1\n")),
        "{}",
        stdout(&out)
    );
    let stored = stream.get_raw_message(1).await.unwrap();
    assert_eq!(stored.payload.as_ref(), PAYLOAD.as_bytes());
    assert_eq!(stored.subject.as_str(), subject);
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    jetstream.delete_stream(&stream_name).await.unwrap();
}

#[tokio::test]
async fn jetstream_without_a_stream_for_the_subject_fails() {
    let url = shared_url();
    let subject = unique("sandcron.nostream");
    let out = exec(exec_args(
        "nats",
        &["--allow", &grant(&url)],
        &[("url", &url), ("subject", &subject), ("jetstream", "true")],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("captures subject {subject}")),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_server_outside_the_grant_is_denied_without_a_connection() {
    let listener = CountingListener::start();
    let url = format!("nats://127.0.0.1:{}", listener.port);
    // Granted: the shared server only; and a wildcard, which never reaches loopback.
    for grant in [grant(&shared_url()), "nats=*:*".to_string()] {
        let out = exec(exec_args(
            "nats",
            &["--allow", &grant],
            &[("url", &url), ("subject", "jobs.a")],
        ))
        .await;
        assert_eq!(out.status.code(), Some(1), "{grant}");
        let printed = stderr(&out);
        assert!(printed.contains("nats: "), "{printed}");
        assert!(printed.contains("denied"), "{printed}");
    }
    assert_eq!(listener.accepted(), 0, "a denied call connected");
}

#[tokio::test]
async fn a_subject_outside_the_grant_is_denied() {
    let url = shared_url();
    let server = url.trim_start_matches("nats://");
    let out = exec(exec_args(
        "nats",
        &["--allow", &format!("nats={server}/jobs.>")],
        &[("url", &url), ("subject", "other.a")],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("subject other.a on {server} is not in the grant")),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn bad_config_names_the_key() {
    let out = exec(exec_args("nats", &[], &[("url", "nats://127.0.0.1:4222")])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("subject: is required"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_stopped_server_fails_the_run_and_the_next_succeeds_once_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut nats = dedicated_nats(dir.path());
    let url = format!("nats://127.0.0.1:{}", nats.port);
    let server = Server::sqlite(&["--allow", &grant(&url)]);
    let config = json!({"url": url, "subject": "jobs.restart", "message": "x", "timeout": "3s"});
    manual_job(&server, "nats-restart", "nats", config).await;

    let first = run_job(&server, "nats-restart").await;
    assert_eq!(first["success"], true, "{first}");

    nats.stop();
    let down = run_job(&server, "nats-restart").await;
    assert_eq!(down["success"], false, "{down}");
    let reason = down["reason"].as_str().unwrap();
    assert!(reason.starts_with("unavailable: nats: "), "{reason}");
    assert!(reason.contains(&url), "{reason}");

    nats.restart();
    let back = run_job(&server, "nats-restart").await;
    assert_eq!(back["success"], true, "{back}");
}

#[tokio::test]
async fn a_thousand_runs_share_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let nats = dedicated_nats(dir.path());
    let url = format!("nats://127.0.0.1:{}", nats.port);
    let subscriber = async_nats::connect(&url).await.unwrap();
    let mut subscription = subscriber.subscribe("jobs.many").await.unwrap();
    subscriber.flush().await.unwrap();
    let server = Server::sqlite(&["--allow", &grant(&url)]);
    manual_job(
        &server,
        "nats-many",
        "nats",
        json!({"url": url, "subject": "jobs.many", "message": "m"}),
    )
    .await;

    let job = run_many(&server, "nats-many", 1000).await;
    assert_eq!(job["success_count"], 1000, "{job}");
    let mut received = 0;
    while received < 1000 {
        tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .expect("every message arrives")
            .unwrap();
        received += 1;
    }
    // The subscriber's connection and the server's: two connections, four sockets.
    let sockets = sockets_on_port(nats.port);
    assert!(sockets <= 6, "{sockets} sockets on the server's port");
}

/// `sandcron exec nats` publishing `message` to `subject` at `url`, trusting the
/// authorities in `trusted`.
async fn exec_trusting(
    trusted: &std::path::Path,
    url: &str,
    subject: &str,
    message: &str,
) -> std::process::Output {
    let grant = format!("nats={}", url.trim_start_matches("tls://"));
    let config = [
        ("url", url),
        ("subject", subject),
        ("message", message),
        ("timeout", "5s"),
    ];
    let args = exec_args("nats", &["--allow", &grant], &config);
    crate::support::exec_trusting(trusted, args).await
}

#[tokio::test]
async fn a_tls_url_verifies_the_server_against_the_hosts_trust_store() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::make(dir.path());
    let port = free_port();
    let command = [
        "nats-server".to_string(),
        "-a".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        "--tls".into(),
        "--tlscert".into(),
        certs.cert_file.display().to_string(),
        "--tlskey".into(),
        certs.key_file.display().to_string(),
    ];
    let _nats = PeerProcess::start("nats-server with TLS", &command, &[], port);
    let url = format!("tls://localhost:{port}");
    let subscriber = async_nats::ConnectOptions::new()
        .add_root_certificates(certs.authority_file.clone())
        .require_tls(true)
        .connect(&url)
        .await
        .expect("the test's subscriber connects with TLS");
    let mut subscription = subscriber.subscribe("jobs.tls").await.unwrap();
    subscriber.flush().await.unwrap();

    let out = exec_trusting(&certs.authority_file, &url, "jobs.tls", PAYLOAD).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let message = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("the message arrives")
        .unwrap();
    assert_eq!(message.payload.as_ref(), PAYLOAD.as_bytes());

    // Trusting another authority only: the server's certificate is refused.
    let other = tempfile::tempdir().unwrap();
    let other = TestCertificates::make(other.path());
    let out = exec_trusting(&other.authority_file, &url, "jobs.tls", "never").await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let error = stderr(&out);
    assert!(error.contains("nats: cannot connect to tls://"), "{error}");
    assert!(error.contains("invalid peer certificate"), "{error}");
}
