//! The Prometheus exposition of the node: a fresh `prometheus-client` registry per scrape,
//! labelled `node`, into which the scheduler, the API and the process add their series.
//! The process's own series are the standard ones (`process_resident_memory_bytes`,
//! `process_cpu_seconds_total`, `process_open_fds`, …), read from `/proc` when scraped.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`exposition`]'s text (OpenMetrics, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The text exposition of the series `add` registers, plus the process's, every one
/// labelled `node="<node>"`.
pub fn exposition(node: &str, add: impl FnOnce(&mut Registry)) -> String {
    let mut registry =
        Registry::with_labels([("node".into(), node.to_string().into())].into_iter());
    add(&mut registry);
    registry.register_collector(Box::new(ProcessCollector));
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

/// The process's resources, read from `/proc/self` at each scrape.
#[derive(Debug)]
struct ProcessCollector;

/// What `/proc/self/stat` says of the process.
struct ProcStat {
    cpu_seconds: f64,
    start_time_seconds: f64,
    virtual_bytes: u64,
    resident_bytes: u64,
    threads: u64,
}

impl ProcStat {
    fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name may hold spaces and parentheses: fields follow the last ')'.
        let (_, rest) = stat.rsplit_once(") ")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state): field N is fields[N - 3].
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        // SAFETY: sysconf only reads a system constant.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK).max(1) as f64,
                libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64,
            )
        };
        let boot_time = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|line| line.strip_prefix("btime ")?.trim().parse::<u64>().ok())?;
        Some(Self {
            cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
            start_time_seconds: boot_time as f64 + field(22)? as f64 / ticks,
            virtual_bytes: field(23)?,
            resident_bytes: field(24)? * page,
            threads: field(20)?,
        })
    }
}

/// The open file descriptors, and the soft limit on them.
fn file_descriptors() -> (Option<u64>, Option<u64>) {
    let open = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|entries| entries.count() as u64);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    let max = (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0)
        .then_some(limit.rlim_cur);
    (open, max)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        fn gauge(
            encoder: &mut DescriptorEncoder,
            name: &str,
            help: &str,
            unit: Option<&Unit>,
            value: impl Into<f64>,
        ) -> Result<(), std::fmt::Error> {
            let gauge = ConstGauge::new(value.into());
            gauge.encode(encoder.encode_descriptor(name, help, unit, gauge.metric_type())?)
        }
        if let Some(stat) = ProcStat::read() {
            let counter = ConstCounter::new(stat.cpu_seconds);
            counter.encode(encoder.encode_descriptor(
                "process_cpu",
                "User and system CPU time spent.",
                Some(&Unit::Seconds),
                counter.metric_type(),
            )?)?;
            gauge(
                &mut encoder,
                "process_resident_memory",
                "Resident memory size.",
                Some(&Unit::Bytes),
                stat.resident_bytes as f64,
            )?;
            gauge(
                &mut encoder,
                "process_virtual_memory",
                "Virtual memory size.",
                Some(&Unit::Bytes),
                stat.virtual_bytes as f64,
            )?;
            gauge(
                &mut encoder,
                "process_start_time",
                "Start time of the process since the Unix epoch.",
                Some(&Unit::Seconds),
                stat.start_time_seconds,
            )?;
            gauge(
                &mut encoder,
                "process_threads",
                "Threads of the process.",
                None,
                stat.threads as f64,
            )?;
        }
        let (open, max) = file_descriptors();
        if let Some(open) = open {
            gauge(
                &mut encoder,
                "process_open_fds",
                "Open file descriptors.",
                None,
                open as f64,
            )?;
        }
        if let Some(max) = max {
            gauge(
                &mut encoder,
                "process_max_fds",
                "The limit on open file descriptors.",
                None,
                max as f64,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_series_are_read_from_proc() {
        let text = exposition("node-1", |_| {});
        let value = |name: &str| -> f64 {
            let line = text
                .lines()
                .find(|line| line.starts_with(&format!("{name}{{node=\"node-1\"}} ")))
                .unwrap_or_else(|| panic!("{name} in\n{text}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert!(value("process_resident_memory_bytes") > 1e6);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_cpu_seconds_total") >= 0.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 86_400.0,
            "{started}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
