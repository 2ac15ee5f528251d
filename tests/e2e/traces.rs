//! OpenTelemetry traces: `serve --otlp-endpoint` exports a span per API request, per
//! claim batch and per execution, continues a caller's `traceparent`, and sends the
//! execution's trace context on an HTTP job's request, so the downstream service joins
//! the trace.
//!
//! The receiver is a stand-in for an OpenTelemetry Collector (none installs from the
//! registries this machine reaches): an OTLP/gRPC `TraceService` in the test process,
//! built on the OTLP protobuf definitions of `opentelemetry-proto`, that decodes every
//! export it gets.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::json;

use crate::support::{RecordingServer, Server, eventually};

/// Every span exported to the receiver, with its service's name.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, Span)>>>);

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| text(kv.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                received.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn text(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(text) => Some(text.clone()),
        AnyValue::IntValue(n) => Some(n.to_string()),
        AnyValue::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The value of a span's attribute, as text.
fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(kv.value.as_ref()?.value.as_ref()?))
}

/// Starts the receiver on a free loopback port; its `http://ADDR` and what it gets.
async fn receiver() -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let received = Received::default();
    let service = TraceServiceServer::new(received.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream_of(listener))
            .await
            .unwrap()
    });
    (format!("http://{address}"), received)
}

/// The accepted connections of `listener`, as tonic takes them.
fn tokio_stream_of(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn requests_claims_and_executions_are_traced_and_http_jobs_carry_the_trace_downstream() {
    // The recording server keeps a runtime of its own, made and dropped outside the test's.
    let downstream = RecordingServer::start(200, "ok");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(traced(&downstream));
}

async fn traced(downstream: &RecordingServer) {
    let (endpoint, received) = receiver().await;
    let server = Server::sqlite(&[
        "--otlp-endpoint",
        &endpoint,
        "--allow-host",
        &downstream.allow(),
    ]);
    // A caller's trace: the request's span continues it.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let job = json!({"name": "ping", "schedule": "@every 1s", "executor": "http",
        "executor_config": {"method": "GET", "url": downstream.url("/downstream")}});
    let created = server
        .reply(
            server
                .request(reqwest::Method::POST, "/v1/jobs")
                .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
                .json(&job),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    // The downstream service gets the execution's trace context.
    let traceparent = eventually(
        "a request downstream",
        std::time::Duration::from_secs(20),
        || async {
            downstream.requests().into_iter().find_map(|seen| {
                seen.headers
                    .iter()
                    .find(|(name, _)| name == "traceparent")
                    .map(|(_, value)| value.clone())
            })
        },
    )
    .await;
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    let (trace_id, parent_id) = (parts[1].to_string(), parts[2].to_string());

    // The exporter sends in batches (every 5 s by default).
    let spans = eventually(
        "the execution's span at the receiver",
        std::time::Duration::from_secs(30),
        || async {
            let spans = received.0.lock().unwrap().clone();
            spans
                .iter()
                .any(|(_, s)| s.name == "execution ping" && hex(&s.trace_id) == trace_id)
                .then_some(spans)
        },
    )
    .await;
    assert!(spans.iter().all(|(service, _)| service == "sandcron"));
    let execution = &spans
        .iter()
        .find(|(_, s)| s.name == "execution ping" && hex(&s.trace_id) == trace_id)
        .unwrap()
        .1;
    // The downstream request's parent is the execution itself.
    assert_eq!(hex(&execution.span_id), parent_id);
    assert!(
        execution.parent_span_id.is_empty(),
        "an execution starts its trace"
    );
    for (key, value) in [
        ("job", Some("ping")),
        ("tenant", Some("default")),
        ("node", Some("test-node")),
        ("executor", Some("http")),
        ("trigger", Some("schedule")),
        ("outcome", Some("succeeded")),
        ("scheduled_at", None),
        ("started_at", None),
        ("execution", None),
    ] {
        let found = attribute(execution, key);
        assert!(found.is_some(), "{key} on {execution:?}");
        if let Some(value) = value {
            assert_eq!(found.as_deref(), Some(value), "{key}");
        }
    }
    // It links to the claim batch that took its tick.
    let claim = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| execution.links.iter().any(|link| link.span_id == s.span_id))
        .unwrap_or_else(|| panic!("no claim span linked from {execution:?}"));
    assert_eq!(claim.name, "claim");
    assert!(attribute(claim, "ticks").is_some(), "{claim:?}");

    // The API request continued the caller's trace.
    let request = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.name == "POST /v1/jobs")
        .unwrap_or_else(|| panic!("no request span in {spans:?}"));
    assert_eq!(hex(&request.trace_id), caller_trace);
    assert_eq!(hex(&request.parent_span_id), caller_span);
    assert_eq!(
        attribute(request, "http.response.status_code").as_deref(),
        Some("201")
    );
}
