//! What the API tells its operator about each request: a `request` span (method, route;
//! the parent of every log line and trace span the request causes), one log line when
//! it is answered (status, duration), and the HTTP series of `/metrics`
//! (`sandcron_http_requests_total` and `sandcron_http_request_duration_seconds`, by
//! method, route and status).
//!
//! Requests are known by their route (`/v1/jobs/{name}`), never by their path, query,
//! headers or body: a log line or a label never holds a token, a secret or a name.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use tracing::Instrument;

/// The route of a request no route matched.
const UNMATCHED: &str = "unmatched";

/// A request's series labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// The HTTP series, for the whole process.
#[derive(Debug)]
struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RequestLabels, Histogram>,
}

fn http_metrics() -> &'static HttpMetrics {
    static METRICS: OnceLock<HttpMetrics> = OnceLock::new();
    METRICS.get_or_init(|| HttpMetrics {
        requests: Family::default(),
        // 1 ms to about 16 s.
        duration: Family::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        }),
    })
}

/// Adds the HTTP series to `registry`.
pub fn register_metrics(registry: &mut Registry) {
    let metrics = http_metrics();
    let registry = registry.sub_registry_with_prefix("sandcron");
    registry.register(
        "http_requests",
        "HTTP requests answered, by method, route and status.",
        metrics.requests.clone(),
    );
    registry.register_with_unit(
        "http_request_duration",
        "How long HTTP requests took to answer (to the response's head).",
        Unit::Seconds,
        metrics.duration.clone(),
    );
}

/// The middleware: runs the request in its span, then logs and counts the answer.
pub async fn observe(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_string();
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    crate::telemetry::traces::continue_trace(&span, request.headers());
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "{method} {route}"
        );
    });
    let labels = RequestLabels {
        method,
        route,
        status,
    };
    let metrics = http_metrics();
    metrics.requests.get_or_create(&labels).inc();
    metrics
        .duration
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    response
}
