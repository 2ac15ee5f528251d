//! sqlx's warnings about one query, told once per period with a count instead of once
//! per query. sqlx warns each time a query waited longer than the pool's slow threshold
//! for a connection (target `sqlx::pool::acquire`) and each time a statement ran longer
//! than the slow-statement threshold (target `sqlx::query`): a saturated pool at thousands
//! of queries a second would write thousands of identical lines. Those events are counted
//! here ([`CountWarnings`], a layer of the subscriber) and kept out of the log, and
//! [`report_periodically`] writes one warning per kind per period in which there were any.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::{FilterFn, Filtered, LevelFilter, filter_fn};
use tracing_subscriber::layer::{Context, Layer};

/// How long a query may wait for a connection before it counts (sqlx's threshold, set on
/// every pool the store opens).
pub const SLOW_ACQUIRE: Duration = Duration::from_secs(2);

/// How long a statement may run before it counts (sqlx's threshold, set on every
/// connection the store opens).
pub const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// How often each kind is told, at most.
const PERIOD: Duration = Duration::from_secs(10);

/// A warning sqlx writes about one query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlxWarning {
    /// A query waited longer than [`SLOW_ACQUIRE`] for a connection.
    SlowAcquire,
    /// A statement ran longer than [`SLOW_STATEMENT`].
    SlowStatement,
}

/// Warnings of each kind since the process started, in [`SqlxWarning::ALL`]'s order.
static COUNTS: [AtomicU64; SqlxWarning::ALL.len()] =
    [const { AtomicU64::new(0) }; SqlxWarning::ALL.len()];

impl SqlxWarning {
    /// Every kind, each told on its own.
    pub const ALL: [SqlxWarning; 2] = [SqlxWarning::SlowAcquire, SqlxWarning::SlowStatement];

    /// The kind of warning `metadata` describes, if it is one that is counted.
    pub fn of(metadata: &Metadata<'_>) -> Option<SqlxWarning> {
        if *metadata.level() != Level::WARN {
            return None;
        }
        Self::ALL
            .into_iter()
            .find(|kind| metadata.target() == kind.target())
    }

    /// The target sqlx writes this kind of warning to.
    fn target(self) -> &'static str {
        match self {
            SqlxWarning::SlowAcquire => "sqlx::pool::acquire",
            SqlxWarning::SlowStatement => "sqlx::query",
        }
    }

    fn counter(self) -> &'static AtomicU64 {
        &COUNTS[self as usize]
    }

    /// How many warnings of this kind there have been since the process started.
    pub fn count(self) -> u64 {
        self.counter().load(Ordering::Relaxed)
    }

    /// Warns that there were `count` of this kind in the last period.
    fn tell(self, count: u64) {
        match self {
            SqlxWarning::SlowAcquire => tracing::warn!(
                waits = count,
                "the database pool is saturated: {count} queries waited more than \
                 {SLOW_ACQUIRE:?} for a connection in the last {PERIOD:?}"
            ),
            SqlxWarning::SlowStatement => tracing::warn!(
                statements = count,
                "the database is slow: {count} statements ran longer than \
                 {SLOW_STATEMENT:?} in the last {PERIOD:?}"
            ),
        }
    }
}

/// Whether `metadata` is a warning that is counted here (and kept out of the log).
pub fn is_counted(metadata: &Metadata<'_>) -> bool {
    SqlxWarning::of(metadata).is_some()
}

/// Counts sqlx's warnings about one query.
pub struct CountWarnings;

impl<S: Subscriber> Layer<S> for CountWarnings {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        if let Some(kind) = SqlxWarning::of(event.metadata()) {
            kind.counter().fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether an event is one [`CountWarnings`] counts.
type IsCounted = fn(&Metadata<'_>) -> bool;

/// The counting layer, given only the events it counts (so that no other callsite is
/// enabled for it). Its filter says it wants warnings at most: without that hint the
/// subscriber's maximum level is `TRACE`, so that every `log` record of sqlx (a debug
/// line per statement) is built and handed to `tracing` only to be dropped, 2.5 % of the
/// CPU at 24,000 executions a second.
pub fn layer<S>() -> Filtered<CountWarnings, FilterFn<IsCounted>, S>
where
    S: Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    CountWarnings
        .with_filter(filter_fn(is_counted as IsCounted).with_max_level_hint(LevelFilter::WARN))
}

/// Warns, once per period and kind in which there were any, how many warnings of that
/// kind sqlx wrote. Runs until the process ends.
pub fn report_periodically() {
    tokio::spawn(async move {
        let mut told = SqlxWarning::ALL.map(SqlxWarning::count);
        let mut ticks = tokio::time::interval(PERIOD);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            for (kind, told) in SqlxWarning::ALL.into_iter().zip(&mut told) {
                let now = kind.count();
                if now > *told {
                    kind.tell(now - *told);
                }
                *told = now;
            }
        }
    });
}
