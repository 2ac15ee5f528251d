//! OpenTelemetry traces: the `tracing` spans of the process (a request, a claim batch, an
//! execution) exported over OTLP/gRPC to `--otlp-endpoint` (a collector), and the W3C
//! trace context (`traceparent`) read from API requests and written into the requests
//! HTTP jobs send, so a caller's trace and a downstream service's join the execution's.
//! Off unless an endpoint is given: then no span leaves the process and no header is
//! written.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The exporter of a process that traces; flushes what is left when shut down.
pub struct Tracer {
    provider: SdkTracerProvider,
}

impl Tracer {
    /// Exports to the OTLP/gRPC `endpoint` (`http://127.0.0.1:4317`), as the service
    /// `sandcron` of this `node`. Needs a tokio runtime (the gRPC channel runs on it).
    pub fn otlp(endpoint: &str, node: &str) -> Result<Self, String> {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| format!("--otlp-endpoint {endpoint}: {e}"))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name("sandcron")
            .with_attributes([
                opentelemetry::KeyValue::new("service.version", crate::cli::VERSION),
                opentelemetry::KeyValue::new("service.instance.id", node.to_string()),
            ])
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        Ok(Self { provider })
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans.
    pub fn layer(
        &self,
    ) -> tracing_opentelemetry::OpenTelemetryLayer<
        tracing_subscriber::Registry,
        opentelemetry_sdk::trace::SdkTracer,
    > {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("sandcron"))
    }

    /// Exports the spans not yet sent and stops the exporter (blocking: call it off the
    /// async threads).
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "exporting the last spans failed");
        }
    }
}

/// Makes `span` (a request's) a child of the caller's trace, when the request carries
/// a `traceparent` header.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    if headers.contains_key("traceparent") {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(headers))
        });
        let _ = span.set_parent(parent);
    }
}

/// Writes the current span's trace context (`traceparent`, `tracestate`) into the headers
/// of an outgoing request; nothing when tracing is off.
pub fn inject_context(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers))
    });
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.to_str().ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
