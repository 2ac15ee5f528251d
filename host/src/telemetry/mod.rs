//! What the process tells its operator besides the API: log lines on stderr (text or
//! JSON, filtered by `$SANDCRON_LOG`) with the fields of the spans they are in (an
//! execution's `job`, `execution`, `tenant` and `node`; a request's method, route, status
//! and duration); traces exported over OTLP (`traces`); and the Prometheus exposition
//! (`metrics`).
//!
//! No log line carries a token or a secret value: requests are logged by method, route
//! and status, never by path, header or body, and secrets are masked before anything
//! about an execution's output or failure is written.

pub mod metrics;
pub mod traces;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

pub use traces::Tracer;

/// The variable that filters log lines (`SANDCRON_LOG=sandcron=debug`).
pub const LOG_FILTER_ENV: &str = "SANDCRON_LOG";

/// Which spans are exported as traces: Sandcron's own, from `info` up.
const TRACE_FILTER: &str = "sandcron=info";

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, for people.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`, and `span` and
    /// `spans` with the fields of the spans the event is in.
    Json,
}

/// Sends log lines to stderr in `format`, filtered by `$SANDCRON_LOG`, else by
/// `default_filter`, and spans to `tracer` when there is one. Does nothing if this was
/// done already.
pub fn init(format: LogFormat, default_filter: &str, tracer: Option<&Tracer>) {
    let filter = EnvFilter::try_from_env(LOG_FILTER_ENV).unwrap_or_else(|_| default_filter.into());
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => logs.with_filter(filter).boxed(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_filter(filter)
            .boxed(),
    };
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![logs];
    if let Some(tracer) = tracer {
        layers.push(
            tracer
                .layer()
                .with_filter(EnvFilter::new(TRACE_FILTER))
                .boxed(),
        );
    }
    let _ = tracing_subscriber::registry().with(layers).try_init();
}

/// Sends log lines to stderr as text, filtered by `$SANDCRON_LOG`, else by
/// `default_filter`.
pub fn init_logs(default_filter: &str) {
    init(LogFormat::Text, default_filter, None);
}
