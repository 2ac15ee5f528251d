//! The built-in `grpc` executor against a tonic server with server reflection running in
//! the test process: the JSON body reaches the handler as the protobuf bytes it stands
//! for, the response comes back as JSON, statuses meet `expectCode`; the grant is
//! enforced before any connection; a server that goes away fails the run and the next
//! one succeeds once it is back; the connection is kept across executions.
//!
//! No protoc on this machine: the service's descriptors are built by hand below, and its
//! messages are `prost` derives that match them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    MethodDescriptorProto, ServiceDescriptorProto,
};
use serde_json::json;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::peers::{CountingListener, manual_job, run_job, run_many, sockets_on_port};
use crate::support::{Server, run, stderr, stdout};

#[derive(Clone, PartialEq, Message)]
struct HelloRequest {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int32, tag = "2")]
    times: i32,
    #[prost(string, repeated, tag = "3")]
    tags: Vec<String>,
    #[prost(message, optional, tag = "4")]
    inner: Option<Inner>,
}

#[derive(Clone, PartialEq, Message)]
struct Inner {
    #[prost(bool, tag = "1")]
    flag: bool,
}

#[derive(Clone, PartialEq, Message)]
struct HelloReply {
    #[prost(string, tag = "1")]
    message: String,
    #[prost(int32, tag = "2")]
    count: i32,
}

const SERVICE: &str = "sandcron.test.Greeter";

fn field(
    name: &str,
    number: i32,
    kind: Type,
    label: Label,
    type_name: Option<&str>,
) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(label as i32),
        r#type: Some(kind as i32),
        type_name: type_name.map(String::from),
        json_name: Some(name.into()),
        ..Default::default()
    }
}

/// The descriptors of `sandcron_test.proto`, as protoc would write them.
fn descriptor_set() -> Vec<u8> {
    let message = |name: &str, fields: Vec<FieldDescriptorProto>| DescriptorProto {
        name: Some(name.into()),
        field: fields,
        ..Default::default()
    };
    let method = |name: &str, input: &str, output: &str| MethodDescriptorProto {
        name: Some(name.into()),
        input_type: Some(format!(".sandcron.test.{input}")),
        output_type: Some(format!(".sandcron.test.{output}")),
        ..Default::default()
    };
    let file = FileDescriptorProto {
        name: Some("sandcron_test.proto".into()),
        package: Some("sandcron.test".into()),
        syntax: Some("proto3".into()),
        message_type: vec![
            message(
                "HelloRequest",
                vec![
                    field("name", 1, Type::String, Label::Optional, None),
                    field("times", 2, Type::Int32, Label::Optional, None),
                    field("tags", 3, Type::String, Label::Repeated, None),
                    field(
                        "inner",
                        4,
                        Type::Message,
                        Label::Optional,
                        Some(".sandcron.test.Inner"),
                    ),
                ],
            ),
            message(
                "Inner",
                vec![field("flag", 1, Type::Bool, Label::Optional, None)],
            ),
            message(
                "HelloReply",
                vec![
                    field("message", 1, Type::String, Label::Optional, None),
                    field("count", 2, Type::Int32, Label::Optional, None),
                ],
            ),
        ],
        service: vec![ServiceDescriptorProto {
            name: Some("Greeter".into()),
            method: vec![
                method("SayHello", "HelloRequest", "HelloReply"),
                method("Fail", "HelloRequest", "HelloReply"),
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    FileDescriptorSet { file: vec![file] }.encode_to_vec()
}

/// Requests as the handler received them: the raw bytes and the `x-job` metadata.
type Seen = Arc<Mutex<Vec<(Vec<u8>, Option<String>)>>>;

/// Passes message bytes through as they are, so the handler sees what was sent.
#[derive(Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let remaining = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, remaining).to_vec()))
    }
}

/// One method's handler.
#[derive(Clone)]
struct Handler {
    fail: bool,
    seen: Seen,
}

impl UnaryService<Vec<u8>> for Handler {
    type Response = Vec<u8>;
    type Future = BoxFuture<Response<Vec<u8>>, Status>;

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        let (fail, seen) = (self.fail, self.seen.clone());
        Box::pin(async move {
            let job = request
                .metadata()
                .get("x-job")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let bytes = request.into_inner();
            seen.lock().unwrap().push((bytes.clone(), job));
            if fail {
                return Err(Status::not_found("no such greeting"));
            }
            let hello = HelloRequest::decode(bytes.as_slice())
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            let reply = HelloReply {
                message: format!("hello {}", hello.name),
                count: hello.times,
            };
            Ok(Response::new(reply.encode_to_vec()))
        })
    }
}

/// `sandcron.test.Greeter`, written as tonic's generated code would be.
#[derive(Clone)]
struct Greeter {
    seen: Seen,
}

impl NamedService for Greeter {
    const NAME: &'static str = SERVICE;
}

impl Service<http::Request<tonic::body::Body>> for Greeter {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let fail = match request.uri().path() {
            "/sandcron.test.Greeter/SayHello" => false,
            "/sandcron.test.Greeter/Fail" => true,
            _ => {
                return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
            }
        };
        let handler = Handler {
            fail,
            seen: self.seen.clone(),
        };
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            Ok(grpc.unary(handler, request).await)
        })
    }
}

/// The test's gRPC server, on its own runtime: dropping it (or [`GrpcServer::stop`])
/// ends every connection at once, as a server that goes away would.
struct GrpcServer {
    addr: SocketAddr,
    seen: Seen,
    runtime: Option<tokio::runtime::Runtime>,
}

impl GrpcServer {
    fn start() -> Self {
        let mut server = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            seen: Seen::default(),
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
        listener.set_nonblocking(true).unwrap();
        self.addr = listener.local_addr().unwrap();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(Box::leak(descriptor_set().into_boxed_slice()))
            .build_v1()
            .unwrap();
        let greeter = Greeter {
            seen: self.seen.clone(),
        };
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            tonic::transport::Server::builder()
                .add_service(reflection)
                .add_service(greeter)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
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

async fn exec(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    })
    .await
    .unwrap()
}

fn exec_args(grant: &str, url: &str, config: &[(&str, &str)]) -> Vec<String> {
    let mut args = vec!["exec".into(), "grpc".into(), "--allow".into(), grant.into()];
    args.extend(["--config".into(), format!("url={url}")]);
    for (key, value) in config {
        args.extend(["--config".into(), format!("{key}={value}")]);
    }
    args
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
        stderr(&out).contains("the body does not fit sandcron.test.HelloRequest"),
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
