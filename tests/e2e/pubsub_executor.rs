//! The built-in `gcppubsub` executor against Google's Pub/Sub emulator on loopback: what
//! it publishes is pulled back from a subscription and compared byte for byte; the http
//! grant is enforced before any connection; an emulator that goes away fails the run and
//! the next one succeeds once it is back. Google's token endpoint cannot run here, so the
//! service-account exchange is checked against a mock of it (the test's name says so).

use base64::Engine as _;
use serde_json::{Value, json};

use crate::peers::{
    CountingListener, CountingProxy, PeerProcess, free_port, manual_job, peer_env, run_in_a_row,
    run_job,
};
use crate::support::{self, RecordingServer, Server, exec, run, stderr, stdout};

const PROJECT: &str = "sandcron-test";

fn emulator_host() -> String {
    peer_env("PUBSUB_EMULATOR_HOST")
}

/// A topic or subscription name the emulator accepts (it starts with a letter).
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), fastrand::u64(..))
}

fn exec_args(extra: &[&str], config: &[(&str, &str)]) -> Vec<String> {
    support::exec_args("gcppubsub", extra, config)
}

/// The emulator's REST API, as an independent client uses it.
struct Emulator {
    base: String,
    http: reqwest::Client,
}

impl Emulator {
    fn at(host: &str) -> Self {
        Self {
            base: format!("http://{host}/v1/projects/{PROJECT}"),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}/{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("the emulator answers");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// Creates a topic and a subscription to it.
    async fn topic_with_subscription(&self, topic: &str, subscription: &str) {
        self.call(reqwest::Method::PUT, &format!("topics/{topic}"), json!({}))
            .await;
        let topic_path = format!("projects/{PROJECT}/topics/{topic}");
        self.call(
            reqwest::Method::PUT,
            &format!("subscriptions/{subscription}"),
            json!({ "topic": topic_path }),
        )
        .await;
    }

    /// Pulls one message from `subscription`.
    async fn pull_one(&self, subscription: &str) -> Value {
        for _ in 0..20 {
            let pulled = self
                .call(
                    reqwest::Method::POST,
                    &format!("subscriptions/{subscription}:pull"),
                    json!({"maxMessages": 10}),
                )
                .await;
            if let Some(first) = pulled["receivedMessages"].get(0) {
                return first["message"].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("no message on {subscription}");
    }
}

#[tokio::test]
async fn a_message_is_pulled_back_byte_for_byte_with_its_attributes() {
    let host = emulator_host();
    let emulator = Emulator::at(&host);
    let (topic, subscription) = (unique("topic"), unique("sub"));
    emulator
        .topic_with_subscription(&topic, &subscription)
        .await;
    let bytes = b"\x00\xffh\xc3\xa9llo\n".to_vec();
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let out = exec(exec_args(
        &["--allow-host", &format!("http://{host}")],
        &[
            ("project", PROJECT),
            ("topic", &topic),
            ("data", &data),
            ("attributes", r#"{"job": "nightly", "try": "1"}"#),
            ("endpoint", &format!("http://{host}")),
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out);
    let id = id.trim_end();
    assert!(!id.is_empty());

    let message = emulator.pull_one(&subscription).await;
    assert_eq!(message["messageId"], id);
    let pulled = base64::engine::general_purpose::STANDARD
        .decode(message["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(pulled, bytes);
    assert_eq!(message["attributes"], json!({"job": "nightly", "try": "1"}));
}

#[tokio::test]
async fn the_emulator_is_found_through_pubsub_emulator_host() {
    let host = emulator_host();
    let emulator = Emulator::at(&host);
    let (topic, subscription) = (unique("topic"), unique("sub"));
    emulator
        .topic_with_subscription(&topic, &subscription)
        .await;
    let out = exec(exec_args(
        &[
            "--allow-host",
            &format!("http://{host}"),
            "--env",
            &format!("PUBSUB_EMULATOR_HOST={host}"),
        ],
        &[("project", PROJECT), ("topic", &topic), ("data", "aGk=")],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let message = emulator.pull_one(&subscription).await;
    assert_eq!(message["data"], "aGk=");
}

#[tokio::test]
async fn a_missing_topic_fails_with_the_apis_reason() {
    let host = emulator_host();
    let topic = unique("missing");
    let out = exec(exec_args(
        &["--allow-host", &format!("http://{host}")],
        &[
            ("project", PROJECT),
            ("topic", &topic),
            ("data", "aGk="),
            ("endpoint", &format!("http://{host}")),
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
    assert!(stderr(&out).contains(&topic), "{}", stderr(&out));
}

#[tokio::test]
async fn an_endpoint_outside_the_grant_is_denied_without_a_connection() {
    let listener = CountingListener::start();
    let out = exec(exec_args(
        &["--allow-host", &format!("http://{}", emulator_host())],
        &[
            ("project", PROJECT),
            ("topic", "t"),
            ("data", "aGk="),
            ("endpoint", &format!("http://127.0.0.1:{}", listener.port)),
        ],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("denied"), "{}", stderr(&out));
    assert_eq!(listener.accepted(), 0, "a denied call connected");
}

#[tokio::test]
async fn google_without_a_credentials_secret_is_a_config_error() {
    let out = exec(exec_args(
        &[],
        &[("project", PROJECT), ("topic", "t"), ("data", "aGk=")],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("credentialsSecret: "),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_stopped_emulator_fails_the_run_and_the_next_succeeds_once_it_is_back() {
    let port = free_port();
    let command = [
        peer_env("SANDCRON_TEST_PUBSUB_EMULATOR"),
        "--host=127.0.0.1".into(),
        format!("--port={port}"),
    ];
    let mut process = PeerProcess::start("pubsub emulator", &command, &[], port);
    let host = format!("127.0.0.1:{port}");
    let emulator = Emulator::at(&host);
    emulator
        .topic_with_subscription("restart", "restart-sub")
        .await;
    let server = Server::sqlite(&["--allow-host", &format!("http://{host}")]);
    let config = json!({
        "project": PROJECT, "topic": "restart", "data": "aGk=",
        "endpoint": format!("http://{host}"), "timeout": "5s",
    });
    manual_job(&server, "pubsub-restart", "gcppubsub", config).await;

    let first = run_job(&server, "pubsub-restart").await;
    assert_eq!(first["success"], true, "{first}");

    process.stop();
    let down = run_job(&server, "pubsub-restart").await;
    assert_eq!(down["success"], false, "{down}");
    let reason = down["reason"].as_str().unwrap();
    assert!(reason.starts_with("unavailable: http: "), "{reason}");
    assert!(reason.contains(&host), "{reason}");

    // The emulator keeps its topics in memory: make the topic again.
    process.restart();
    emulator
        .topic_with_subscription("restart", "restart-sub")
        .await;
    let back = run_job(&server, "pubsub-restart").await;
    assert_eq!(back["success"], true, "{back}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_runs_in_a_row_reuse_one_pooled_connection() {
    let host = emulator_host();
    let emulator = Emulator::at(&host);
    let (topic, subscription) = (unique("many"), unique("many-sub"));
    emulator
        .topic_with_subscription(&topic, &subscription)
        .await;
    // The emulator counts no connections: a proxy in front of it does.
    let proxy = CountingProxy::start(&host);
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let config = [
        ("project", PROJECT),
        ("topic", topic.as_str()),
        ("data", "aGk="),
        ("endpoint", endpoint.as_str()),
    ];
    let started = std::time::Instant::now();
    run_in_a_row("gcppubsub", &config, &[&format!("http={endpoint}")], 1000).await;
    let connections = proxy.accepted();
    eprintln!(
        "1000 gcppubsub runs in {:?} made {connections} connection(s) to the emulator",
        started.elapsed()
    );
    assert_eq!(
        connections, 1,
        "every run after the first reuses the kept connection"
    );
    assert!(!emulator.pull_one(&subscription).await.is_null());
}

/// A service-account key with a fresh RSA key, pointing at `token_uri`.
fn service_account_key(dir: &std::path::Path, token_uri: &str) -> (String, std::path::PathBuf) {
    let private = dir.join("key.pem");
    let public = dir.join("public.pem");
    let generated = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&private)
        .output()
        .expect("openssl runs");
    assert!(generated.status.success());
    let status = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .status()
        .unwrap();
    assert!(status.success());
    let key = json!({
        "type": "service_account",
        "client_email": "publisher@sandcron-test.iam.gserviceaccount.com",
        "private_key_id": "k1",
        "private_key": std::fs::read_to_string(&private).unwrap(),
        "token_uri": token_uri,
    });
    (key.to_string(), public)
}

#[test]
fn a_service_account_key_is_exchanged_for_a_token_with_a_mock_token_endpoint() {
    let token_server =
        RecordingServer::start(200, r#"{"access_token": "tok-123", "expires_in": 3600}"#);
    let api = RecordingServer::start(200, r#"{"messageIds": ["7"]}"#);
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = service_account_key(dir.path(), &token_server.url("/token"));
    let key_file = dir.path().join("sa.json");
    std::fs::write(&key_file, key).unwrap();

    let args = exec_args(
        &[
            "--allow-host",
            &token_server.allow(),
            "--allow-host",
            &api.allow(),
            "--secret",
            &format!("gcp-key=@{}", key_file.display()),
        ],
        &[
            ("project", PROJECT),
            ("topic", "t"),
            ("data", "aGk="),
            ("endpoint", &api.url("")),
            ("credentialsSecret", "gcp-key"),
        ],
    );
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "7\n");

    // The exchange: a JWT bearer grant whose RS256 signature the public key verifies.
    let token_requests = token_server.requests();
    assert_eq!(token_requests.len(), 1);
    let form = String::from_utf8(token_requests[0].body.clone()).unwrap();
    let assertion = form
        .strip_prefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
        .expect("a JWT bearer grant");
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        claims["iss"],
        "publisher@sandcron-test.iam.gserviceaccount.com"
    );
    assert_eq!(claims["aud"], token_server.url("/token"));
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/pubsub");
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}));
    let signed = dir.path().join("signed");
    let signature = dir.path().join("signature");
    std::fs::write(&signed, format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(&signature, b64.decode(parts[2]).unwrap()).unwrap();
    let verified = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(&signature)
        .arg(&signed)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    // The publish carries the token.
    let published = api.requests();
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].path,
        "/v1/projects/sandcron-test/topics/t:publish"
    );
    assert!(
        published[0]
            .headers
            .contains(&("authorization".into(), "Bearer tok-123".into())),
        "{:?}",
        published[0].headers
    );
}
