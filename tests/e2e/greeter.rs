//! `sandcron.demo.Greeter`, a gRPC service with server reflection, written without protoc:
//! its descriptors are built by hand and its messages are `prost` derives that match them.
//! The handler records each request's raw bytes, so a test can compare them with what the
//! JSON body stands for.
//!
//! Shared by the grpc executor's tests (`tests/e2e/grpc_executor.rs`) and by the demo
//! server `scripts/peers up` starts for the docs (`host/examples/grpc_greeter.rs`).
//!
//! Methods: `SayHello` answers `{"message": "hello <name>", "count": <times>}`; `Fail`
//! answers NOT_FOUND.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    MethodDescriptorProto, ServiceDescriptorProto,
};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

/// The request: what a JSON body such as `{"name": "x", "times": 2}` becomes.
#[derive(Clone, PartialEq, Message)]
pub struct HelloRequest {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int32, tag = "2")]
    pub times: i32,
    #[prost(string, repeated, tag = "3")]
    pub tags: Vec<String>,
    #[prost(message, optional, tag = "4")]
    pub inner: Option<Inner>,
}

/// A nested message.
#[derive(Clone, PartialEq, Message)]
pub struct Inner {
    #[prost(bool, tag = "1")]
    pub flag: bool,
}

/// The reply: `hello <name>`, and `times` as `count`.
#[derive(Clone, PartialEq, Message)]
pub struct HelloReply {
    #[prost(string, tag = "1")]
    pub message: String,
    #[prost(int32, tag = "2")]
    pub count: i32,
}

/// The service's full name.
pub const SERVICE: &str = "sandcron.demo.Greeter";

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

/// The descriptors of `sandcron_demo.proto`, as protoc would write them.
fn descriptor_set() -> Vec<u8> {
    let message = |name: &str, fields: Vec<FieldDescriptorProto>| DescriptorProto {
        name: Some(name.into()),
        field: fields,
        ..Default::default()
    };
    let method = |name: &str, input: &str, output: &str| MethodDescriptorProto {
        name: Some(name.into()),
        input_type: Some(format!(".sandcron.demo.{input}")),
        output_type: Some(format!(".sandcron.demo.{output}")),
        ..Default::default()
    };
    let file = FileDescriptorProto {
        name: Some("sandcron_demo.proto".into()),
        package: Some("sandcron.demo".into()),
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
                        Some(".sandcron.demo.Inner"),
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
pub type Seen = Arc<Mutex<Vec<(Vec<u8>, Option<String>)>>>;

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

/// `sandcron.demo.Greeter`, written as tonic's generated code would be.
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
            "/sandcron.demo.Greeter/SayHello" => false,
            "/sandcron.demo.Greeter/Fail" => true,
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

/// Serves the Greeter and reflection on `listener` until the runtime ends, recording
/// requests in `seen`; with TLS when `tls` gives a PEM certificate chain and key.
pub async fn serve(
    listener: std::net::TcpListener,
    seen: Seen,
    tls: Option<(String, String)>,
) -> Result<(), String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(Box::leak(descriptor_set().into_boxed_slice()))
        .build_v1()
        .map_err(|e| e.to_string())?;
    let mut builder = tonic::transport::Server::builder();
    if let Some((cert, key)) = tls {
        let identity = tonic::transport::Identity::from_pem(cert, key);
        builder = builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .map_err(|e| e.to_string())?;
    }
    builder
        .add_service(reflection)
        .add_service(Greeter { seen })
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
        .await
        .map_err(|e| e.to_string())
}
