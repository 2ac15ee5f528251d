//! Waits for a database connection, told once per period with a count instead of once
//! per query. sqlx warns (target `sqlx::pool::acquire`) each time a query waited longer
//! than the pool's slow threshold for a connection: a saturated pool at thousands of
//! queries a second would write thousands of identical lines. Those events are counted
//! here ([`CountWaits`], a layer of the subscriber) and kept out of the log, and
//! [`report_periodically`] writes one warning per period in which there were any.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::{FilterFn, Filtered, filter_fn};
use tracing_subscriber::layer::{Context, Layer};

/// The target of sqlx's warning about a slow acquire.
const SQLX_ACQUIRE: &str = "sqlx::pool::acquire";

/// How long a query may wait for a connection before it counts (sqlx's threshold, set on
/// every pool the store opens).
pub const SLOW_ACQUIRE: Duration = Duration::from_secs(2);

/// How often a saturated pool is told, at most.
const PERIOD: Duration = Duration::from_secs(10);

/// Slow acquires since the process started.
static WAITS: AtomicU64 = AtomicU64::new(0);

/// Whether `metadata` is sqlx's warning about one slow acquire (kept out of the log).
pub fn is_slow_acquire(metadata: &Metadata<'_>) -> bool {
    metadata.target() == SQLX_ACQUIRE && *metadata.level() == Level::WARN
}

/// Counts sqlx's slow-acquire warnings.
pub struct CountWaits;

impl<S: Subscriber> Layer<S> for CountWaits {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        if is_slow_acquire(event.metadata()) {
            WAITS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether an event is one [`CountWaits`] counts.
type IsSlowAcquire = fn(&Metadata<'_>) -> bool;

/// The counting layer, given only the events it counts (so that no other callsite is
/// enabled for it).
pub fn layer<S>() -> Filtered<CountWaits, FilterFn<IsSlowAcquire>, S>
where
    S: Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    CountWaits.with_filter(filter_fn(is_slow_acquire as IsSlowAcquire))
}

/// How many queries have waited longer than [`SLOW_ACQUIRE`] for a connection since the
/// process started.
pub fn slow_acquires() -> u64 {
    WAITS.load(Ordering::Relaxed)
}

/// Warns, once per period in which queries waited longer than [`SLOW_ACQUIRE`] for a
/// database connection, how many did. Runs until the process ends.
pub fn report_periodically() {
    tokio::spawn(async move {
        let mut told = slow_acquires();
        let mut ticks = tokio::time::interval(PERIOD);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = slow_acquires();
            if now > told {
                tracing::warn!(
                    waits = now - told,
                    "the database pool is saturated: {} queries waited more than {:?} for \
                     a connection in the last {:?}",
                    now - told,
                    SLOW_ACQUIRE,
                    PERIOD
                );
            }
            told = now;
        }
    });
}
