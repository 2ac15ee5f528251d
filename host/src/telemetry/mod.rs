//! What the process tells its operator besides the API: log lines on stderr (text or
//! JSON, filtered by `$SANDCRON_LOG`) with the fields of the spans they are in (an
//! execution's `job`, `execution`, `tenant` and `node`; a request's method, route, status
//! and duration); traces exported over OTLP (`traces`); and the Prometheus exposition
//! (`metrics`). A saturated database pool and slow statements are told once per period
//! with a count (`sqlx_warnings`), not once per query.
//!
//! No log line carries a token or a secret value: requests are logged by method, route
//! and status, never by path, header or body, and secrets are masked before anything
//! about an execution's output or failure is written.

pub mod metrics;
pub mod sqlx_warnings;
pub mod traces;

use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};
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
    let filter = log_filter(
        EnvFilter::try_from_env(LOG_FILTER_ENV).unwrap_or_else(|_| default_filter.into()),
    );
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
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> =
        vec![logs, sqlx_warnings::layer().boxed()];
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

/// What goes into the log: what `filter` lets through, but for the warnings that
/// `sqlx_warnings` counts and tells once per period.
fn log_filter<S>(filter: EnvFilter) -> impl tracing_subscriber::layer::Filter<S> + Send + Sync {
    // The hint lets `filter`'s own maximum level stand (`and` keeps the lower of two
    // hints, and no hint at all would be taken as `TRACE`).
    filter.and(
        filter_fn(|metadata| !sqlx_warnings::is_counted(metadata))
            .with_max_level_hint(LevelFilter::TRACE),
    )
}

/// Sends log lines to stderr as text, filtered by `$SANDCRON_LOG`, else by
/// `default_filter`.
pub fn init_logs(default_filter: &str) {
    init(LogFormat::Text, default_filter, None);
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::{EnvFilter, Layer};

    use super::log_filter;
    use super::sqlx_warnings::{self, SqlxWarning};

    /// What the log layer writes, kept.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// No filter asks for more than the log shows: otherwise every `log` record of a
    /// dependency (sqlx's line per statement) is built and bridged only to be dropped.
    #[test]
    fn the_filters_ask_for_no_more_than_the_log_shows() {
        use tracing_subscriber::Registry;
        use tracing_subscriber::filter::LevelFilter;
        use tracing_subscriber::layer::Filter;

        let logs = log_filter::<Registry>(EnvFilter::new("warn,sandcron=info"));
        assert_eq!(
            Filter::<Registry>::max_level_hint(&logs),
            Some(LevelFilter::INFO)
        );
        let counting = sqlx_warnings::layer::<Registry>();
        assert_eq!(
            Layer::<Registry>::max_level_hint(&counting),
            Some(LevelFilter::WARN)
        );
    }

    #[test]
    fn slow_waits_and_statements_are_counted_not_written_one_by_one() {
        let kept = Kept::default();
        let writer = kept.clone();
        let logs = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_filter(log_filter(EnvFilter::new("warn")));
        let subscriber = tracing_subscriber::registry()
            .with(logs)
            .with(sqlx_warnings::layer());
        let before = SqlxWarning::ALL.map(SqlxWarning::count);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..1000 {
                tracing::warn!(
                    target: "sqlx::pool::acquire",
                    "acquired connection, but time to acquire exceeded slow threshold"
                );
                tracing::warn!(
                    target: "sqlx::query",
                    "slow statement: execution time exceeded alert threshold"
                );
                tracing::debug!(target: "sqlx::query", "a statement, not slow");
            }
            tracing::warn!(target: "sandcron::scheduler", "a warning for a person");
        });
        for (kind, before) in SqlxWarning::ALL.into_iter().zip(before) {
            assert!(kind.count() - before >= 1000, "{kind:?}");
        }
        let written = String::from_utf8(kept.0.lock().unwrap().clone()).unwrap();
        assert_eq!(written.lines().count(), 1, "{written}");
        assert!(written.contains("a warning for a person"), "{written}");
    }
}
