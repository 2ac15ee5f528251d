//! Scheduler throughput: registers N jobs running the built-in `echo` executor
//! `@every <interval>`, their first ticks spread evenly over one interval (as jobs created
//! over time are), runs the real scheduler (claim loop, dispatcher, runtime, batched
//! recorder) against SQLite or PostgreSQL, and reports the sustained executions per
//! second, the start lateness of every tick in the measured window (read back from the
//! executions table: every execution is persisted), the CPU used (by thread name, and by
//! the rest of the machine: on PostgreSQL, its server), and the peak RSS.
//!
//! ```sh
//! cargo bench -p sandcron --bench scheduler -- --jobs 100000 --interval 10s \
//!     --duration 60s --database sqlite
//! cargo bench -p sandcron --bench scheduler -- --jobs 100000 \
//!     --database postgres://postgres@127.0.0.1:5432/postgres
//! ```
//!
//! With PostgreSQL, the URL is an administrative one: the bench creates (and afterwards
//! drops) a database of its own next to it, and analyzes it half-way through the
//! warm-up, as autovacuum would have on a server that has been running. `--capacity`
//! registers the jobs `@every 1h` instead, so nothing fires, and reports the RSS and the
//! time of the job list's queries (the first page, a search by name, a metadata filter,
//! each sort, the last page), measured `--settle` (default 60s) after the load: the "a
//! million jobs on one node" figures. `--burst` gives every job the same first tick (the
//! top of the minute: every job due at one instant, at every interval), instead of
//! spreading them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use sandcron::jobs::JobSpec;
use sandcron::runtime::{Runtime, RuntimeConfig};
use sandcron::scheduler::{Scheduler, SchedulerConfig};
use sandcron::store::{self, DEFAULT_TENANT, JobQuery, JobSort, NewJob, Store};
use sandcron::telemetry::sqlx_warnings::{self, SqlxWarning};
use sandcron_sdk::duration::parse_duration;
use sqlx::Connection;

struct Args {
    jobs: usize,
    interval: Duration,
    warmup: Duration,
    duration: Duration,
    database: String,
    capacity: bool,
    burst: bool,
    settle: Duration,
    horizon: Option<Duration>,
}

fn parse_args() -> anyhow::Result<Args> {
    let argv: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        argv.iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    let duration = |flag: &str, default: &str| -> anyhow::Result<Duration> {
        let text = value(flag).unwrap_or_else(|| default.to_string());
        parse_duration(&text).map_err(|e| anyhow::anyhow!("{flag} {text:?}: {e}"))
    };
    Ok(Args {
        jobs: value("--jobs").map_or(Ok(100_000), |n| n.parse())?,
        interval: duration("--interval", "10s")?,
        warmup: duration("--warmup", "10s")?,
        duration: duration("--duration", "60s")?,
        database: value("--database").unwrap_or_else(|| "sqlite".into()),
        capacity: argv.iter().any(|a| a == "--capacity"),
        burst: argv.iter().any(|a| a == "--burst"),
        settle: duration("--settle", "60s")?,
        horizon: value("--horizon")
            .map(|text| parse_duration(&text).map_err(|e| anyhow::anyhow!("--horizon: {e}")))
            .transpose()?,
    })
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    sandcron::cli::init_logging();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let (url, drop_database) = database_url(&args.database, scratch.path()).await?;
    let backend = if url.starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    };
    let store = store::open(&url).await?;
    let schedule = if args.capacity {
        "@every 1h".to_string()
    } else {
        format!(
            "@every {}",
            sandcron_sdk::duration::format_duration(args.interval)
        )
    };
    println!(
        "backend {backend}, {} jobs `{schedule}` (echo){}, warm-up {:?}, measured {:?}, \
         claim horizon {:?}",
        args.jobs,
        if args.burst { ", all due at once" } else { "" },
        args.warmup,
        args.duration,
        args.horizon.unwrap_or(SchedulerConfig::default().horizon)
    );

    let registering = Instant::now();
    // First ticks spread over one interval, starting once registration is surely over.
    let margin = Duration::from_secs(3) + Duration::from_micros(args.jobs as u64 * 40);
    let (margin, interval) = if args.capacity {
        // Nothing fires while the capacity figures are taken.
        (Duration::from_secs(3600), Duration::from_secs(3600))
    } else {
        (margin, args.interval)
    };
    let first_tick = Utc::now() + TimeDelta::from_std(margin)?;
    let spread = TimeDelta::from_std(interval)?;
    // Built and written ten thousand at a time, so the bench's own memory stays small.
    let job = |i: usize| {
        let spec: JobSpec = serde_json::from_value(serde_json::json!({
            "name": format!("bench-{i:07}"),
            "displayname": format!("Bench job {i}"),
            "schedule": schedule,
            "executor": "echo",
            "executor_config": {"message": "tick"},
            "metadata": {"bench": "throughput", "team": format!("t{}", i % 1000)},
        }))
        .expect("a valid job");
        let offset = if args.burst {
            TimeDelta::zero()
        } else {
            spread * (i as i32) / (args.jobs.max(1) as i32)
        };
        NewJob::new(spec, Some(first_tick + offset)).expect("a job to write")
    };
    for first in (0..args.jobs).step_by(10_000) {
        let chunk: Vec<NewJob> = (first..(first + 10_000).min(args.jobs)).map(job).collect();
        store.put_jobs(DEFAULT_TENANT, &chunk).await?;
    }
    let took = registering.elapsed();
    println!(
        "registered {} jobs in {:.1?} ({:.0} jobs/s)",
        args.jobs,
        took,
        args.jobs as f64 / took.as_secs_f64()
    );

    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(scratch.path().join("cache")),
        max_concurrent_executions: 1000,
        ..RuntimeConfig::default()
    })?;
    let mut config = SchedulerConfig {
        node: "bench".into(),
        ..SchedulerConfig::default()
    };
    if let Some(horizon) = args.horizon {
        config.horizon = horizon;
    }
    let scheduler = Scheduler::start(store.clone(), runtime, config).await?;

    if args.capacity {
        // Let the database finish what a million-row load sets off (autovacuum, analyze).
        tokio::time::sleep(args.settle).await;
        report_capacity(&store, args.jobs).await?;
        println!(
            "RSS with the scheduler running: {} MiB",
            rss_kib("VmRSS:") / 1024
        );
        scheduler.shutdown(Duration::from_secs(10)).await;
    } else {
        if backend == "postgres" {
            // A server that has run for a minute has its tables analyzed by PostgreSQL's
            // autovacuum; the bench's database is seconds old, and without statistics
            // the claim's and the membership loop's plans go astray (docs/benchmarks.md).
            // Analyzed half-way through the warm-up, once executions exist, the window
            // measures the plans of a server that has been running.
            sleep_until(first_tick + TimeDelta::from_std(args.warmup / 2)?).await;
            let mut connection = sqlx::PgConnection::connect(&url).await?;
            sqlx::Executor::execute(&mut connection, "ANALYZE").await?;
            println!(
                "analyzed the database {:?} into the warm-up",
                args.warmup / 2
            );
        }
        let start_at = first_tick + TimeDelta::from_std(args.warmup)?;
        // A burst's count starts just before its instant (this task may wake late, once
        // some of the burst already started); a steady load's at the window's start.
        let count_from = match args.burst {
            true => start_at - TimeDelta::milliseconds(200),
            false => start_at,
        };
        sleep_until(count_from).await;
        let started_before = scheduler.executions_started();
        sleep_until(start_at).await;
        let cpu_before = CpuUse::now();
        let window_start = Utc::now();
        if args.burst {
            // The window opens on a burst: how long until all of it started, at what CPU.
            let burst = time_burst(&scheduler, started_before, args.jobs, args.interval).await;
            println!("{burst}");
        }
        sleep_until(start_at + TimeDelta::from_std(args.duration)?).await;
        let window_end = Utc::now();
        let cpu = CpuUse::now().since(&cpu_before);
        let started = scheduler.executions_started() - started_before;
        let seconds = (window_end - window_start).as_seconds_f64();
        scheduler.shutdown(Duration::from_secs(10)).await;
        println!(
            "started {started} executions in {seconds:.1} s: {:.0} executions/s (expected {:.0}/s)",
            started as f64 / seconds,
            args.jobs as f64 / args.interval.as_secs_f64()
        );
        println!(
            "CPU in the window: {}; RSS at its end {} MiB",
            cpu.describe(seconds, started),
            rss_kib("VmRSS:") / 1024
        );
        // The ticks of the window are those due from its first instant (the burst it opens
        // on, due at `start_at` exactly) to before its last, whatever the timer's slack.
        let (ticks_from, ticks_to) = (start_at, start_at + TimeDelta::from_std(args.duration)?);
        report_lateness(&url, ticks_from, ticks_to, args.jobs, args.interval).await?;
    }
    println!("peak RSS {} MiB", rss_kib("VmHWM:") / 1024);
    println!(
        "queries that waited more than {:?} for a database connection: {}",
        sqlx_warnings::SLOW_ACQUIRE,
        SqlxWarning::SlowAcquire.count()
    );
    println!(
        "statements that ran longer than {:?}: {}",
        sqlx_warnings::SLOW_STATEMENT,
        SqlxWarning::SlowStatement.count()
    );
    drop(store);
    if let Some(drop_database) = drop_database {
        drop_database.await?;
    }
    Ok(())
}

/// The database to use, and for PostgreSQL what drops it afterwards.
async fn database_url(
    database: &str,
    scratch: &std::path::Path,
) -> anyhow::Result<(
    String,
    Option<std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>>>>>,
)> {
    if database == "sqlite" {
        return Ok((
            format!("sqlite://{}", scratch.join("bench.db").display()),
            None,
        ));
    }
    let name = format!("sandcron_bench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(database).await?;
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str()).await?;
    let (prefix, _) = database
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("--database: expected postgres://…/DBNAME"))?;
    let admin_url = database.to_string();
    let url = format!("{prefix}/{name}");
    let drop_it = async move {
        let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
        sqlx::Executor::execute(
            &mut admin,
            format!("DROP DATABASE {name} WITH (FORCE)").as_str(),
        )
        .await?;
        Ok(())
    };
    Ok((url, Some(Box::pin(drop_it))))
}

/// Lateness of every tick scheduled in the window, from the executions table.
async fn report_lateness(
    url: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    jobs: usize,
    interval: Duration,
) -> anyhow::Result<()> {
    const SQL: &str = "SELECT started_at - scheduled_at, state, scheduled_at FROM executions \
                       WHERE scheduled_at >= $1 AND scheduled_at < $2";
    macro_rules! fetch {
        ($connection:expr) => {
            sqlx::query_as::<_, (Option<i64>, String, i64)>(SQL)
                .bind(from.timestamp_millis())
                .bind(to.timestamp_millis())
                .fetch_all(&mut $connection)
                .await?
        };
    }
    let rows = if url.starts_with("sqlite") {
        fetch!(sqlx::SqliteConnection::connect(url).await?)
    } else {
        fetch!(sqlx::PgConnection::connect(url).await?)
    };
    let expected = (to - from).as_seconds_f64() * jobs as f64 / interval.as_secs_f64();
    let succeeded = rows.iter().filter(|(_, s, _)| s == "succeeded").count();
    let mut lateness: Vec<i64> = rows.iter().filter_map(|(l, _, _)| *l).collect();
    lateness.sort_unstable();
    let pct = |p: f64| {
        lateness
            .get(((lateness.len() as f64 * p) as usize).min(lateness.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "ticks in the window: {} recorded (expected {expected:.0}), {succeeded} succeeded, \
         {} other",
        rows.len(),
        rows.len() - succeeded
    );
    println!(
        "start lateness (ms): p50 {} p90 {} p99 {} max {}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        lateness.last().copied().unwrap_or(0)
    );
    let bounds = [10, 50, 100, 200, 500, 1_000, 2_000, 5_000, i64::MAX];
    let histogram: Vec<String> = bounds
        .iter()
        .scan(0, |below, &bound| {
            let upto = lateness.partition_point(|&l| l <= bound);
            let count = upto - *below;
            *below = upto;
            let label = if bound == i64::MAX {
                "more".to_string()
            } else {
                format!("<={bound}")
            };
            Some(format!("{label}: {count}"))
        })
        .collect();
    println!("lateness histogram (ms): {}", histogram.join(", "));
    // Each instant's last start, in order: whether some instants are late and others not
    // (a burst that meets a claim or a write) or every one alike (the starts' own cost).
    let mut last_start = std::collections::BTreeMap::<i64, i64>::new();
    for (late, _, instant) in &rows {
        let last = last_start.entry(*instant).or_default();
        *last = (*last).max(late.unwrap_or(0));
    }
    if last_start.len() <= 100 {
        let each: Vec<String> = last_start.values().map(i64::to_string).collect();
        println!("each instant's last start (ms): {}", each.join(" "));
    }
    Ok(())
}

/// The job list's queries, each timed as `GET /v1/jobs` asks it (a page of 25, and the
/// count of what matches): the median and the largest of 20.
async fn report_capacity(store: &Arc<dyn Store>, jobs: usize) -> anyhow::Result<()> {
    let page = |start: u64| JobQuery {
        start,
        end: Some(start + 25),
        ..JobQuery::default()
    };
    let sorted = |sort: &str| JobQuery {
        sort: JobSort::parse(sort).expect("a sort key"),
        descending: true,
        ..page(0)
    };
    let needle = format!("{:07}", jobs / 2);
    let queries = [
        ("first page".to_string(), page(0)),
        (
            format!("q={needle} (name or display name)"),
            JobQuery {
                q: Some(needle.clone()),
                ..page(0)
            },
        ),
        (
            "metadata[team]=t42".to_string(),
            JobQuery {
                metadata: vec![("team".into(), "t42".into())],
                ..page(0)
            },
        ),
        (
            "status=failed".to_string(),
            JobQuery {
                status: Some("failed".into()),
                ..page(0)
            },
        ),
        (
            "executor=echo".to_string(),
            JobQuery {
                executor: Some("echo".into()),
                ..page(0)
            },
        ),
        ("_sort=success_count DESC".into(), sorted("success_count")),
        ("_sort=error_count DESC".into(), sorted("error_count")),
        ("_sort=last_success DESC".into(), sorted("last_success")),
        ("_sort=last_error DESC".into(), sorted("last_error")),
        ("_sort=next DESC".into(), sorted("next")),
        ("_sort=displayname DESC".into(), sorted("displayname")),
        (
            format!("last page (_start={})", jobs.saturating_sub(25)),
            page(jobs.saturating_sub(25) as u64),
        ),
    ];
    for (label, query) in queries {
        let mut times = Vec::new();
        let mut total = 0;
        for _ in 0..20 {
            let started = Instant::now();
            let (rows, count) = store.list_jobs(DEFAULT_TENANT, &query).await?;
            times.push(started.elapsed());
            total = count;
            assert_eq!(
                rows.len() as u64,
                25.min(count.saturating_sub(query.start)),
                "{label}"
            );
        }
        times.sort();
        println!(
            "list_jobs {label}: {total} match, median {:.1?}, max {:.1?}",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    Ok(())
}

/// From a burst's instant (now): the time until `jobs` more executions than
/// `started_before` have started (or one `interval` passed), and the CPU used meanwhile.
async fn time_burst(
    scheduler: &Scheduler,
    started_before: u64,
    jobs: usize,
    interval: Duration,
) -> String {
    let (at, cpu_at) = (Instant::now(), CpuUse::now());
    let mut started = 0;
    while at.elapsed() < interval {
        started = scheduler.executions_started() - started_before;
        if started >= jobs as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (took, cpu) = (at.elapsed().as_secs_f64(), CpuUse::now().since(&cpu_at));
    format!(
        "burst: {started} of {jobs} started {took:.2} s after their instant ({:.0}/s); \
         CPU meanwhile: {}",
        started as f64 / took,
        cpu.describe(took, started)
    )
}

/// CPU time used so far, user and system, in seconds: by this process (from
/// /proc/self/stat) and by the whole machine (from /proc/stat), so that a window shows
/// what the rest of the machine (on PostgreSQL, the database's server) took beside it.
struct CpuUse {
    own: f64,
    machine: f64,
    /// This process's time by thread name (the tokio workers, SQLite's connection
    /// threads, the writers' thread, ...), summed over the threads of each name.
    threads: std::collections::BTreeMap<String, f64>,
}

/// Clock ticks per second of /proc's CPU times (`USER_HZ` on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// The name and the user and system time (in clock ticks) of a process's or a thread's
/// `stat` line: `PID (NAME) STATE ...`, where the name may hold spaces but not `)`.
fn name_and_time(stat: &str) -> Option<(&str, f64)> {
    let (before, after) = stat.rsplit_once(')')?;
    let (_, name) = before.split_once('(')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((name, user + system))
}

impl CpuUse {
    fn now() -> Self {
        let own = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| name_and_time(&stat).map(|(_, time)| time))
            .unwrap_or(0.0);
        // The first line of /proc/stat: `cpu user nice system idle iowait irq softirq
        // steal ...`; everything but idle and iowait is busy.
        let machine = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| {
                let times: Vec<f64> = stat
                    .lines()
                    .next()?
                    .split_whitespace()
                    .skip(1)
                    .take(8)
                    .map(|n| n.parse().unwrap_or(0.0))
                    .collect();
                Some(times.iter().sum::<f64>() - times.get(3)? - times.get(4)?)
            })
            .unwrap_or(0.0);
        let mut threads = std::collections::BTreeMap::new();
        for task in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            if let Some((name, time)) = name_and_time(&stat) {
                *threads.entry(name.to_string()).or_insert(0.0) += time / TICKS_PER_SECOND;
            }
        }
        CpuUse {
            own: own / TICKS_PER_SECOND,
            machine: machine / TICKS_PER_SECOND,
            threads,
        }
    }

    /// The use from `before` to this one. A thread that ended in between is not counted
    /// in its name's share (the process's total still holds it).
    fn since(&self, before: &CpuUse) -> CpuUse {
        CpuUse {
            own: self.own - before.own,
            machine: self.machine - before.machine,
            threads: self
                .threads
                .iter()
                .map(|(name, now)| {
                    let then = before.threads.get(name).copied().unwrap_or(0.0);
                    (name.clone(), (now - then).max(0.0))
                })
                .collect(),
        }
    }

    /// This use over `seconds` in which `executions` started, as cores and per 10,000.
    fn describe(&self, seconds: f64, executions: u64) -> String {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_10k = |cpu: f64| cpu / (executions.max(1) as f64) * 10_000.0;
        let others = (self.machine - self.own).max(0.0);
        let mut threads: Vec<(&String, &f64)> = self
            .threads
            .iter()
            .filter(|(_, cpu)| **cpu >= 0.01)
            .collect();
        threads.sort_by(|a, b| b.1.total_cmp(a.1));
        let threads: Vec<String> = threads
            .iter()
            .map(|(name, cpu)| format!("{name} {:.2}", per_10k(**cpu)))
            .collect();
        format!(
            "this process {:.2} s ({:.2} of {cores} cores, {:.2} s per 10,000 executions: \
             {}); the rest of the machine {others:.2} s ({:.2} cores, {:.2} s per 10,000); \
             idle {:.2} of {cores} cores",
            self.own,
            self.own / seconds,
            per_10k(self.own),
            threads.join(", "),
            others / seconds,
            per_10k(others),
            (cores as f64 - self.machine / seconds).max(0.0),
        )
    }
}

async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

/// A memory figure of this process from /proc/self/status (`VmRSS:` now, `VmHWM:` the
/// peak), in KiB.
fn rss_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}
