//! The scheduler's metrics, kept with `prometheus-client`: executions started, succeeded,
//! failed and finished (by outcome), ticks skipped and claimed, the lateness of starts
//! (how long after its scheduled instant an execution started), how late the claims are,
//! and, read when scraped, the executions running and the ticks waiting on this node and
//! what live-output followers cost (bytes waiting for them, followers dropped).
//!
//! Every series about executions carries `tenant` (the tenant's name) and `executor`
//! (the job's executor, as the job names it); `finished` also `outcome` (`succeeded`,
//! `failed`, `killed`). The node is a label of the whole exposition, added by
//! [`Metrics::register`]. `started`, `succeeded` and `failed` count as they always have:
//! their sum over the labels is the count of the node.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::output::FollowerStats;

/// Upper bounds of the lateness buckets, in seconds.
const LATENESS_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Whose execution a series counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExecutionLabels {
    /// The tenant's name.
    pub tenant: String,
    /// The executor, as the job names it.
    pub executor: String,
}

/// [`ExecutionLabels`] and how the execution ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    tenant: String,
    executor: String,
    outcome: &'static str,
}

/// How an execution ended, as the `outcome` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded.
    Succeeded,
    /// It failed (the executor's failure, a timeout, no matching node…).
    Failed,
    /// It was killed through the API.
    Killed,
}

impl Outcome {
    /// The label's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Killed => "killed",
        }
    }
}

/// What [`Metrics::register`] reads at the scrape rather than counts.
pub struct ReadNow<'a> {
    /// Executions running on this node.
    pub running: usize,
    /// Ticks on this node waiting for their instant or for a free slot.
    pub queued: usize,
    /// What the live-output followers cost.
    pub followers: &'a FollowerStats,
}

/// The scheduler's series.
#[derive(Debug)]
pub struct Metrics {
    started: Family<ExecutionLabels, Counter>,
    succeeded: Family<ExecutionLabels, Counter>,
    failed: Family<ExecutionLabels, Counter>,
    finished: Family<OutcomeLabels, Counter>,
    skipped: Family<ExecutionLabels, Counter>,
    lateness: Family<ExecutionLabels, Histogram>,
    claimed: Counter,
    claim_lag: Gauge<f64, AtomicU64>,
    running: Gauge,
    queued: Gauge,
    /// Executions started, over every label: what [`Metrics::started_total`] answers.
    started_total: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Family::default(),
            succeeded: Family::default(),
            failed: Family::default(),
            finished: Family::default(),
            skipped: Family::default(),
            lateness: Family::new_with_constructor(|| {
                Histogram::new(LATENESS_BUCKETS.iter().copied())
            }),
            claimed: Counter::default(),
            claim_lag: Gauge::default(),
            running: Gauge::default(),
            queued: Gauge::default(),
            started_total: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// An execution started `lateness` after its scheduled instant.
    pub fn started(&self, labels: &ExecutionLabels, lateness: Duration) {
        self.started.get_or_create(labels).inc();
        self.lateness
            .get_or_create(labels)
            .observe(lateness.as_secs_f64());
        self.started_total.fetch_add(1, Ordering::Relaxed);
    }

    /// An execution ended.
    pub fn finished(&self, labels: &ExecutionLabels, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Succeeded => &self.succeeded,
            Outcome::Failed | Outcome::Killed => &self.failed,
        };
        counter.get_or_create(labels).inc();
        self.finished
            .get_or_create(&OutcomeLabels {
                tenant: labels.tenant.clone(),
                executor: labels.executor.clone(),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// A tick was skipped because the job forbids overlapping runs.
    pub fn skipped(&self, labels: &ExecutionLabels) {
        self.skipped.get_or_create(labels).inc();
    }

    /// A claim took `ticks` ticks, the most overdue of them `late` after its instant
    /// (zero when all were claimed ahead of time).
    pub fn claimed(&self, ticks: usize, late: Duration) {
        self.claimed.inc_by(ticks as u64);
        self.claim_lag.set(late.as_secs_f64());
    }

    /// Executions started so far.
    pub fn started_total(&self) -> u64 {
        self.started_total.load(Ordering::Relaxed)
    }

    /// Adds the series to `registry`, with what is read now: the executions running, the
    /// ticks queued (claimed or handed here, not started yet) and the live followers'
    /// costs.
    pub fn register(&self, registry: &mut Registry, now: ReadNow<'_>) {
        self.running.set(now.running as i64);
        self.queued.set(now.queued as i64);
        let registry = registry.sub_registry_with_prefix("sandcron");
        registry.register_with_unit(
            "live_output_buffered",
            "Output bytes waiting for live followers.",
            Unit::Bytes,
            ConstGauge::new(now.followers.buffered_bytes() as i64),
        );
        registry.register(
            "live_followers_dropped",
            "Live followers dropped for falling behind.",
            ConstCounter::new(now.followers.dropped()),
        );
        registry.register(
            "executions_started",
            "Executions started.",
            self.started.clone(),
        );
        registry.register(
            "executions_succeeded",
            "Executions that ended with success.",
            self.succeeded.clone(),
        );
        registry.register(
            "executions_failed",
            "Executions that ended with a failure (killed ones included).",
            self.failed.clone(),
        );
        registry.register(
            "executions_finished",
            "Executions that ended, by outcome: succeeded, failed or killed.",
            self.finished.clone(),
        );
        registry.register(
            "ticks_skipped",
            "Ticks skipped because the job forbids overlapping runs.",
            self.skipped.clone(),
        );
        registry.register(
            "ticks_claimed",
            "Ticks this node claimed from the store.",
            self.claimed.clone(),
        );
        registry.register_with_unit(
            "claim_lag",
            "How long after its instant the most overdue tick of the last claim was claimed \
             (0 when the claim ran ahead of its ticks).",
            Unit::Seconds,
            self.claim_lag.clone(),
        );
        registry.register(
            "executions_running",
            "Executions running on this node.",
            self.running.clone(),
        );
        registry.register(
            "queue_depth",
            "Ticks on this node waiting for their instant or for a free slot.",
            self.queued.clone(),
        );
        registry.register_with_unit(
            "start_lateness",
            "How long after its scheduled instant an execution started.",
            Unit::Seconds,
            self.lateness.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(metrics: &Metrics) -> String {
        let mut registry = Registry::default();
        let followers = FollowerStats::default();
        let now = ReadNow {
            running: 1,
            queued: 3,
            followers: &followers,
        };
        metrics.register(&mut registry, now);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn executions_are_counted_per_tenant_executor_and_outcome() {
        let metrics = Metrics::default();
        let shell = ExecutionLabels {
            tenant: "default".into(),
            executor: "shell".into(),
        };
        let http = ExecutionLabels {
            tenant: "team-a".into(),
            executor: "http".into(),
        };
        metrics.started(&shell, Duration::from_millis(3));
        metrics.started(&http, Duration::from_millis(300));
        metrics.finished(&shell, Outcome::Succeeded);
        metrics.finished(&http, Outcome::Killed);
        assert_eq!(metrics.started_total(), 2);
        let text = render(&metrics);
        for line in [
            "sandcron_executions_started_total{tenant=\"default\",executor=\"shell\"} 1",
            "sandcron_executions_succeeded_total{tenant=\"default\",executor=\"shell\"} 1",
            "sandcron_executions_failed_total{tenant=\"team-a\",executor=\"http\"} 1",
            "sandcron_executions_finished_total{tenant=\"team-a\",executor=\"http\",outcome=\"killed\"} 1",
            "sandcron_executions_running 1",
            "sandcron_queue_depth 3",
            "sandcron_live_output_buffered_bytes 0",
            "sandcron_live_followers_dropped_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn the_histogram_is_cumulative() {
        let metrics = Metrics::default();
        let labels = ExecutionLabels {
            tenant: "default".into(),
            executor: "shell".into(),
        };
        metrics.started(&labels, Duration::from_millis(3));
        metrics.started(&labels, Duration::from_millis(300));
        let text = render(&metrics);
        let bucket = |le: &str| {
            format!(
                "sandcron_start_lateness_seconds_bucket{{le=\"{le}\",tenant=\"default\",executor=\"shell\"}}"
            )
        };
        assert!(text.contains(&format!("{} 1", bucket("0.005"))), "{text}");
        assert!(text.contains(&format!("{} 2", bucket("0.5"))), "{text}");
        assert!(text.contains(&format!("{} 2", bucket("+Inf"))), "{text}");
    }
}
