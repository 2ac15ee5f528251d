//! The scheduler's metrics, kept in atomics and rendered in Prometheus' text format:
//! executions started, succeeded and failed, a histogram of start lateness (how long
//! after its scheduled instant an execution started), and what live-output followers
//! cost (bytes waiting for them, followers dropped).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::output::FollowerStats;

/// Upper bounds of the lateness buckets, in seconds.
const LATENESS_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counters and the lateness histogram.
#[derive(Default)]
pub struct Metrics {
    started: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    lateness_buckets: [AtomicU64; LATENESS_BUCKETS.len()],
    lateness_count: AtomicU64,
    lateness_sum_micros: AtomicU64,
}

impl Metrics {
    /// An execution started `lateness` after its scheduled instant.
    pub fn started(&self, lateness: Duration) {
        self.started.fetch_add(1, Ordering::Relaxed);
        let seconds = lateness.as_secs_f64();
        for (bound, bucket) in LATENESS_BUCKETS.iter().zip(&self.lateness_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.lateness_count.fetch_add(1, Ordering::Relaxed);
        self.lateness_sum_micros
            .fetch_add(lateness.as_micros() as u64, Ordering::Relaxed);
    }

    /// An execution ended.
    pub fn finished(&self, success: bool) {
        let counter = if success {
            &self.succeeded
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A tick was skipped because the job forbids overlapping runs.
    pub fn skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    /// Executions started so far.
    pub fn started_total(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self, running: usize, followers: &FollowerStats) -> String {
        let mut out = String::new();
        let counters = [
            (
                "sandcron_executions_started_total",
                "Executions started.",
                &self.started,
            ),
            (
                "sandcron_executions_succeeded_total",
                "Executions that ended with success.",
                &self.succeeded,
            ),
            (
                "sandcron_executions_failed_total",
                "Executions that ended with a failure.",
                &self.failed,
            ),
            (
                "sandcron_ticks_skipped_total",
                "Ticks skipped because the job forbids overlapping runs.",
                &self.skipped,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP sandcron_executions_running Executions running on this node.\n\
             # TYPE sandcron_executions_running gauge\nsandcron_executions_running {running}"
        );
        let _ = writeln!(
            out,
            "# HELP sandcron_live_output_buffered_bytes Output bytes waiting for live followers.\n\
             # TYPE sandcron_live_output_buffered_bytes gauge\n\
             sandcron_live_output_buffered_bytes {}\n\
             # HELP sandcron_live_followers_dropped_total Live followers dropped for falling \
             behind.\n\
             # TYPE sandcron_live_followers_dropped_total counter\n\
             sandcron_live_followers_dropped_total {}",
            followers.buffered_bytes(),
            followers.dropped()
        );
        let name = "sandcron_start_lateness_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} How long after its scheduled instant an execution started.\n\
             # TYPE {name} histogram"
        );
        for (bound, bucket) in LATENESS_BUCKETS.iter().zip(&self.lateness_buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.lateness_count.load(Ordering::Relaxed);
        let sum = self.lateness_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative() {
        let metrics = Metrics::default();
        metrics.started(Duration::from_millis(3));
        metrics.started(Duration::from_millis(300));
        metrics.finished(true);
        let text = metrics.render(1, &FollowerStats::default());
        assert!(
            text.contains("sandcron_executions_started_total 2"),
            "{text}"
        );
        assert!(text.contains("sandcron_executions_succeeded_total 1"));
        assert!(text.contains("sandcron_start_lateness_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("sandcron_start_lateness_seconds_bucket{le=\"0.5\"} 2"));
        assert!(text.contains("sandcron_start_lateness_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("sandcron_executions_running 1"));
    }
}
