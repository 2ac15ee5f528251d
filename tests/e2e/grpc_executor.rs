//! The built-in `grpc` executor against a tonic server with server reflection running in
//! the test process: the JSON body reaches the handler as the protobuf bytes it stands
//! for, the response comes back as JSON, statuses meet `expectCode`; the grant is
//! enforced before any connection; a server that goes away fails the run and the next
//! one succeeds once it is back; the connection is kept across executions.
//!
//! The server is `greeter.rs` (no protoc: hand-built descriptors, `prost` derives).

use std::net::SocketAddr;

use prost::Message;
use serde_json::json;

use crate::greeter::{HelloRequest, Inner, SERVICE, Seen};
use crate::peers::{CountingListener, manual_job, run_job, run_many, sockets_on_port};
use crate::support::{self, Server, exec, stderr, stdout};
use crate::tls::TestCertificates;

/// The test's gRPC server, on its own runtime: dropping it (or [`GrpcServer::stop`])
/// ends every connection at once, as a server that goes away would.
struct GrpcServer {
    addr: SocketAddr,
    seen: Seen,
    tls: Option<(String, String)>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl GrpcServer {
    fn start() -> Self {
        Self::start_with(None)
    }

    /// With TLS: `tls` is a PEM certificate chain and key.
    fn start_with(tls: Option<(String, String)>) -> Self {
        let mut server = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            seen: Seen::default(),
            tls,
            runtime: None,
        };
        server.restart();
        server
    }

    /// Starts serving (again) on the same address.
    fn restart(&mut self) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind(self.addr).unwrap();
        self.addr = listener.local_addr().unwrap();
        let (seen, tls) = (self.seen.clone(), self.tls.clone());
        runtime.spawn(async move { crate::greeter::serve(listener, seen, tls).await.unwrap() });
        self.runtime = Some(runtime);
    }

    fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        // Let the kernel close the sockets before a run tries them.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    fn grant(&self) -> String {
        format!("grpc={}", self.addr)
    }

    fn url(&self, method: &str) -> String {
        format!("{}/{SERVICE}/{method}", self.addr)
    }

    fn seen(&self) -> Vec<(Vec<u8>, Option<String>)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn exec_args(grant: &str, url: &str, config: &[(&str, &str)]) -> Vec<String> {
    let url = format!("url={url}");
    support::exec_args("grpc", &["--allow", grant, "--config", &url], config)
}

#[tokio::test]
async fn the_json_body_reaches_the_handler_as_its_protobuf_bytes() {
    let server = GrpcServer::start();
    let body =
        r#"{"name": "sandcron \u00e9", "times": 3, "tags": ["a", "b"], "inner": {"flag": true}}"#;
    let out = exec(exec_args(
        &server.grant(),
        &server.url("SayHello"),
        &[("body", body), ("headers", r#"["x-job: nightly"]"#)],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "{\"message\":\"hello sandcron \u{e9}\",\"count\":3}\n"
    );

    let expected = HelloRequest {
        name: "sandcron \u{e9}".into(),
        times: 3,
        tags: vec!["a".into(), "b".into()],
        inner: Some(Inner { flag: true }),
    };
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, expected.encode_to_vec());
    assert_eq!(seen[0].1.as_deref(), Some("nightly"));
}

#[tokio::test]
async fn a_status_other_than_ok_fails_unless_expect_code_names_it() {
    let server = GrpcServer::start();
    let out = exec(exec_args(&server.grant(), &server.url("Fail"), &[])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("answered NOT_FOUND (5), expected OK (0): no such greeting"),
        "{}",
        stderr(&out)
    );
    let out = exec(exec_args(
        &server.grant(),
        &server.url("Fail"),
        &[("expectCode", "5")],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "status NOT_FOUND (5): no such greeting\n");
}

#[tokio::test]
async fn a_body_that_does_not_fit_the_request_type_names_it() {
    let server = GrpcServer::start();
    let out = exec(exec_args(
        &server.grant(),
        &server.url("SayHello"),
        &[("body", r#"{"nmae": "typo"}"#)],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the body does not fit sandcron.demo.HelloRequest"),
        "{}",
        stderr(&out)
    );
    assert!(server.seen().is_empty());
    let out = exec(exec_args(&server.grant(), &server.url("Nope"), &[])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has no method Nope"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_server_outside_the_grant_is_denied_without_a_connection() {
    let server = GrpcServer::start();
    let listener = CountingListener::start();
    let url = format!("127.0.0.1:{}/{SERVICE}/SayHello", listener.port);
    for grant in [server.grant(), "grpc=*:*".into()] {
        let out = exec(exec_args(&grant, &url, &[])).await;
        assert_eq!(out.status.code(), Some(1), "{grant}");
        assert!(stderr(&out).contains("grpc: "), "{}", stderr(&out));
        assert!(stderr(&out).contains("denied"), "{}", stderr(&out));
    }
    assert_eq!(listener.accepted(), 0, "a denied call connected");
}

#[tokio::test]
async fn a_method_outside_the_grant_is_denied() {
    let server = GrpcServer::start();
    let narrow = format!("{}/{SERVICE}/Fail", server.grant());
    let out = exec(exec_args(&narrow, &server.url("SayHello"), &[])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "method {SERVICE}/SayHello on {} is not in the grant",
            server.addr
        )),
        "{}",
        stderr(&out)
    );
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn a_stopped_server_fails_the_run_and_the_next_succeeds_once_it_is_back() {
    let mut grpc = GrpcServer::start();
    let server = Server::sqlite(&["--allow", &grpc.grant()]);
    let config = json!({"url": grpc.url("SayHello"), "body": r#"{"name": "x"}"#, "timeout": "5"});
    manual_job(&server, "grpc-restart", "grpc", config).await;

    let first = run_job(&server, "grpc-restart").await;
    assert_eq!(first["success"], true, "{first}");

    grpc.stop();
    let down = run_job(&server, "grpc-restart").await;
    assert_eq!(down["success"], false, "{down}");
    let reason = down["reason"].as_str().unwrap();
    assert!(reason.starts_with("unavailable: grpc: "), "{reason}");
    assert!(reason.contains(&grpc.addr.to_string()), "{reason}");

    grpc.restart();
    let back = run_job(&server, "grpc-restart").await;
    assert_eq!(back["success"], true, "{back}");
    assert_eq!(back["output"], "{\"message\":\"hello x\"}\n");
}

#[tokio::test]
async fn a_thousand_runs_share_one_connection() {
    let grpc = GrpcServer::start();
    let server = Server::sqlite(&["--allow", &grpc.grant()]);
    let config = json!({"url": grpc.url("SayHello"), "body": r#"{"name": "m"}"#});
    manual_job(&server, "grpc-many", "grpc", config).await;

    let job = run_many(&server, "grpc-many", 1000).await;
    assert_eq!(job["success_count"], 1000, "{job}");
    assert_eq!(grpc.seen().len(), 1000);
    let sockets = sockets_on_port(grpc.addr.port());
    assert!(sockets <= 6, "{sockets} sockets on the server's port");
}

#[tokio::test]
async fn tls_verifies_the_server_against_the_given_authority() {
    let dir = tempfile::tempdir().unwrap();
    let TestCertificates {
        authority,
        cert,
        key,
        ..
    } = TestCertificates::make(dir.path());
    let server = GrpcServer::start_with(Some((cert, key)));
    let port = server.addr.port();
    let url = format!("localhost:{port}/{SERVICE}/SayHello");
    let grant = format!("grpc=localhost:{port}");
    let out = exec(exec_args(
        &grant,
        &url,
        &[
            ("tls", "true"),
            ("tlsCa", &authority),
            ("body", r#"{"name": "tls"}"#),
        ],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"message\":\"hello tls\"}\n");

    // Without the authority, the certificate is refused.
    let out = exec(exec_args(&grant, &url, &[("tls", "true")])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("grpc: "), "{}", stderr(&out));
    assert_eq!(server.seen().len(), 1);
}
