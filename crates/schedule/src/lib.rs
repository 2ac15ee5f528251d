//! Job schedules: parsing a job's `schedule` and `timezone` fields, and computing fire times.
//!
//! This module is pure logic: it does no I/O and never reads the clock. The caller passes the
//! instant to compute from, normally the previous fire time (or "now" for a new job), and gets
//! back the next instant, in UTC, at which the job fires. [`Schedule::describe`] says a
//! schedule in words, for people (`describe.rs`).
//!
//! # Accepted syntax
//!
//! The grammar is Dkron's (robfig/cron v3 with seconds, plus Dkron's extensions):
//!
//! * **Six cron fields** `sec min hour dom month dow`, each a comma-separated list of `*`, `?`,
//!   `N`, `N-M`, `*/S`, `N/S` (meaning `N-max/S`) or `N-M/S`. Months accept `JAN`–`DEC` and
//!   weekdays `SUN`–`SAT`, case-insensitively. Weekdays are numbered `0`–`6` from Sunday, as in
//!   robfig/cron; `7` is also accepted as Sunday (robfig rejects it; Vixie cron accepts it).
//!   `?` means the same as `*` and is accepted in any field, as in robfig/cron.
//! * **Five fields** (classic crontab, minute resolution) are read as `0 <five fields>`. Dkron
//!   rejects them; Sandcron accepts them because they are what most users type.
//! * **Day of month and day of week**: when both are restricted, a day matches if *either*
//!   matches, as in robfig/cron and Vixie cron; when either is `*` or `?` (possibly among other
//!   list items), both must match. A stepped star such as `*/2` counts as restricted, as in
//!   robfig/cron.
//! * **Descriptors** `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`,
//!   `@hourly` and `@minutely`. Unlike Dkron, they are evaluated in the job's time zone.
//! * **`@every <duration>`** with a Go duration (`10s`, `1h30m`, `1.5h`, `500ms`). Sub-second
//!   intervals are kept (robfig rounds them up to one second); zero and negative ones are
//!   rejected. [`Schedule::next_after`] returns `after + interval`: passing the previous fire time
//!   gives a drift-free series.
//! * **`@at <RFC 3339 time>`** fires once, at that instant.
//! * **`@manually`** never fires by itself.
//! * **`~`** in a cron field is replaced by a number derived from the job name, to spread jobs
//!   out (Dkron's `scheduleHash`): with `h` the sum of the Unicode scalar values of the name,
//!   `~` becomes `h % 60` in the seconds and minutes fields, `h % 24` in hours, `h % 28 + 1` in
//!   day of month, `h % 12 + 1` in month and `h % 7` in day of week. A five-field spec gets its
//!   seconds field first, so its first field is the minutes field. `~` is not replaced in `@`
//!   forms.
//! * A spec may start with `TZ=<zone> ` or `CRON_TZ=<zone> ` (robfig/cron); that zone replaces the
//!   job's `timezone`. It also applies to the descriptors, and is ignored by `@every`, `@at`
//!   and `@manually`.
//!
//! Any other input is rejected with a [`ScheduleError`] that names the offending field
//! (`schedule` or `timezone`) and says what is wrong. So is a cron expression that can never fire,
//! such as `0 0 0 30 2 *` (robfig accepts it and never runs the job).
//!
//! # Time zones
//!
//! A zone is an IANA name (`Europe/Berlin`), resolved with the `chrono-tz` database. An empty or
//! missing `timezone` means **UTC**. Dkron uses the server's local time instead; Sandcron does
//! not, so that every node of a cluster computes the same fire times whatever its system
//! settings. For the same reason the name `Local` is rejected.
//!
//! # Daylight saving time
//!
//! A cron expression selects local wall-clock times; they become instants as follows:
//!
//! * A local time that does not exist (the gap when clocks spring forward) is **skipped**: that
//!   occurrence does not run, and the next fire time is the next selected local time that exists.
//!   A daily job at 02:30 in New York does not run on 2026-03-08 and next runs on 2026-03-09.
//! * A local time that occurs twice (the repeated interval when clocks fall back) runs **once, at
//!   its first occurrence** — unless the hour field selects every hour (`*`, as in `@hourly`,
//!   `@minutely` or `0 */15 * * * *`). Such schedules follow real time through the repeated
//!   interval and also fire at the second occurrence, so an hourly job fires at every real hour
//!   of a fall-back night, while `0 30 1 * * *` runs once (at 01:30 EDT in New York). This is
//!   Vixie cron's rule; robfig/cron runs both occurrences in every case.
//!
//! The fire times returned are always the true next instants under these rules: they are strictly
//! increasing when each result is fed back in, and no occurrence is returned twice or skipped.
//! A cron search gives up (returns `None`) when nothing matches within nine years, which only
//! happens at the end of the representable time range.

use std::cmp::min;
use std::fmt;
use std::str::FromStr;

use chrono::offset::MappedLocalTime;
use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone,
    Timelike, Utc,
};
use sandcron_sdk::duration::parse_duration;

/// How many fire times of a cron expression [`Schedule::shortest_gap`] looks at.
pub const GAP_SAMPLES: usize = 2_000;

/// A parsed job schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// A cron expression or a calendar descriptor (`@daily`, …), evaluated in a time zone.
    Cron(CronSchedule),
    /// `@every <duration>`: fires every interval after the previous fire time. Parsing only
    /// produces positive intervals; a non-positive one never fires.
    Every(TimeDelta),
    /// `@at <time>`: fires once, at this instant.
    At(DateTime<Utc>),
    /// `@manually`: never fires by itself; the job runs only when triggered.
    Manually,
}

/// Why a job's `schedule` or `timezone` was rejected.
///
/// Its `Display` form names the field first, e.g.
/// `schedule: "* * * *": expected 5 or 6 fields, found 4` or
/// `timezone: unknown time zone "Mars/Base"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    field: &'static str,
    message: String,
}

impl ScheduleError {
    /// The job field that holds the error: `"schedule"` or `"timezone"`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What is wrong, without the field name.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn schedule(spec: &str, what: impl fmt::Display) -> Self {
        ScheduleError {
            field: "schedule",
            message: format!("{}: {what}", quoted(spec)),
        }
    }

    fn timezone(message: String) -> Self {
        ScheduleError {
            field: "timezone",
            message,
        }
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ScheduleError {}

/// Quotes user input for an error message, escaping control characters and cutting it short.
fn quoted(text: &str) -> String {
    const MAX_CHARS: usize = 80;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

impl Schedule {
    /// Parses a job's `schedule` with its `timezone` (`None` or `""` means UTC) and name (used
    /// for `~`).
    ///
    /// # Errors
    ///
    /// A [`ScheduleError`] naming the `schedule` or `timezone` field if either is invalid, or if
    /// the cron expression can never fire.
    pub fn parse(
        spec: &str,
        timezone: Option<&str>,
        job_name: &str,
    ) -> Result<Schedule, ScheduleError> {
        let mut body = spec.trim();
        if body.is_empty() {
            return Err(ScheduleError {
                field: "schedule",
                message: "must not be empty (use \"@manually\" for a job that only runs when \
                          triggered)"
                    .to_owned(),
            });
        }

        // A zone in the spec itself wins over the job's `timezone` field.
        let mut prefix_zone = None;
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = body.strip_prefix(prefix) {
                let (name, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let tz = lookup_zone(name).map_err(|why| {
                    ScheduleError::schedule(spec, format_args!("{why} in the {prefix} prefix"))
                })?;
                prefix_zone = Some(tz);
                body = after.trim_start();
                if body.is_empty() {
                    return Err(ScheduleError::schedule(
                        spec,
                        format_args!("nothing follows the {prefix} prefix"),
                    ));
                }
                break;
            }
        }
        let tz = match prefix_zone {
            Some(tz) => tz,
            None => match timezone {
                None | Some("") => Tz::UTC,
                Some(name) => lookup_zone(name).map_err(ScheduleError::timezone)?,
            },
        };

        if body.starts_with('@') {
            parse_descriptor(spec, body, tz)
        } else {
            parse_cron(spec, body, tz, job_name).map(Schedule::Cron)
        }
    }

    /// The first fire time strictly after `after`, or `None` if the schedule never fires again.
    ///
    /// For `@every`, this is `after + interval`: pass the previous fire time to keep a steady
    /// rhythm. For `@at`, it is the fixed instant while that is after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron(cron) => cron.next_after(after),
            Schedule::Every(interval) if *interval > TimeDelta::zero() => {
                after.checked_add_signed(*interval)
            }
            Schedule::Every(_) => None,
            Schedule::At(at) => (*at > after).then_some(*at),
            Schedule::Manually => None,
        }
    }

    /// The first fire time strictly after `after` that falls within a job's `starts_at` and
    /// `expires_at` bounds (both inclusive; `None` means unbounded), or `None` if there is none.
    ///
    /// For `@every`, the series keeps its phase: the result is `after + k * interval` for the
    /// smallest `k >= 1` that reaches `starts_at`.
    pub fn next_within(
        &self,
        after: DateTime<Utc>,
        starts_at: Option<DateTime<Utc>>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let next = match (self, starts_at) {
            (Schedule::Every(interval), Some(start))
                if start > after && *interval > TimeDelta::zero() =>
            {
                let step = i128::from(interval.num_nanoseconds()?);
                let gap = i128::from((start - after).num_nanoseconds()?);
                let steps = (gap + step - 1) / step;
                let offset = i64::try_from(steps.checked_mul(step)?).ok()?;
                after.checked_add_signed(TimeDelta::nanoseconds(offset))?
            }
            (_, Some(start)) if start > after => {
                // The first fire time at or after `start`.
                self.next_after(start.checked_sub_signed(TimeDelta::nanoseconds(1))?)?
            }
            _ => self.next_after(after)?,
        };
        match expires_at {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// The shortest time between two fire times after `from`: exact for `@every`; for a
    /// cron expression, the shortest of the gaps between its next [`GAP_SAMPLES`] fire
    /// times, or one second (a cron's finest step) as soon as it is seen. A cron's fields
    /// repeat within each day that fires, so the samples cover the shortest gap of every
    /// schedule that fires fewer than 2,000 times a day, and any that fires more often has
    /// it within its first 2,000 ticks. `None` for a schedule that fires at most once more
    /// (`@at`, `@manually`, an expired cron).
    pub fn shortest_gap(&self, from: DateTime<Utc>) -> Option<TimeDelta> {
        match self {
            Schedule::Every(interval) => Some(*interval),
            Schedule::At(_) | Schedule::Manually => None,
            Schedule::Cron(cron) => {
                let mut previous = cron.next_after(from)?;
                let mut shortest: Option<TimeDelta> = None;
                for _ in 1..GAP_SAMPLES {
                    let Some(next) = cron.next_after(previous) else {
                        break;
                    };
                    let gap = next - previous;
                    let shortest_yet = shortest.map_or(gap, |known| min(known, gap));
                    shortest = Some(shortest_yet);
                    if shortest_yet <= TimeDelta::seconds(1) {
                        break;
                    }
                    previous = next;
                }
                shortest
            }
        }
    }

    /// Whether this schedule ever fires by itself (`false` only for `@manually`).
    pub fn is_scheduled(&self) -> bool {
        !matches!(self, Schedule::Manually)
    }
}

/// The instant at which the wall clock of `timezone` (an IANA name; UTC when empty) shows
/// `local`: a time the zone skips (clocks springing forward) is refused, one it repeats is
/// its first occurrence. The error says what is wrong.
pub fn wall_clock_instant(local: NaiveDateTime, timezone: &str) -> Result<DateTime<Utc>, String> {
    if timezone.is_empty() {
        return Ok(local.and_utc());
    }
    let zone = lookup_zone(timezone)
        .map_err(|why| format!("{local} is a wall-clock time and the timezone: {why}"))?;
    zone.from_local_datetime(&local)
        .earliest()
        .map(|instant| instant.with_timezone(&Utc))
        .ok_or_else(|| format!("{local} does not exist in {timezone} (the clocks skip it)"))
}

/// Resolves an IANA zone name; the error message says what is wrong with it.
fn lookup_zone(name: &str) -> Result<Tz, String> {
    if name == "Local" {
        return Err(
            "\"Local\" is not accepted: every node must compute the same fire times, so \
                    name an IANA zone such as \"Europe/Berlin\" (empty means UTC)"
                .to_owned(),
        );
    }
    Tz::from_str(name).map_err(|_| format!("unknown time zone {}", quoted(name)))
}

/// Whether a zone is UTC under one of its names (no offset, ever).
fn is_utc_zone(tz: Tz) -> bool {
    matches!(
        tz,
        Tz::UTC
            | Tz::Etc__UTC
            | Tz::Etc__UCT
            | Tz::UCT
            | Tz::Etc__Universal
            | Tz::Universal
            | Tz::Etc__Zulu
            | Tz::Zulu
            | Tz::Etc__GMT
            | Tz::GMT
            | Tz::Etc__GMT0
            | Tz::GMT0
            | Tz::Etc__GMTPlus0
            | Tz::Etc__GMTMinus0
            | Tz::GMTPlus0
            | Tz::GMTMinus0
            | Tz::Etc__Greenwich
            | Tz::Greenwich
    )
}

/// Parses the `@` forms.
fn parse_descriptor(spec: &str, body: &str, tz: Tz) -> Result<Schedule, ScheduleError> {
    let (keyword, argument) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    let argument = argument.trim();
    let calendar = match keyword.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 0 1 1 *",
        "@monthly" => "0 0 0 1 * *",
        "@weekly" => "0 0 0 * * 0",
        "@daily" | "@midnight" => "0 0 0 * * *",
        "@hourly" => "0 0 * * * *",
        "@minutely" => "0 * * * * *",
        "@manually" => {
            no_argument(spec, keyword, argument)?;
            return Ok(Schedule::Manually);
        }
        "@every" => {
            let interval = parse_duration(argument).map_err(|why| {
                ScheduleError::schedule(spec, format_args!("@every needs a duration: {why}"))
            })?;
            let interval = TimeDelta::from_std(interval)
                .ok()
                .filter(|interval| *interval > TimeDelta::zero())
                .ok_or_else(|| {
                    ScheduleError::schedule(spec, "the @every interval must be positive")
                })?;
            return Ok(Schedule::Every(interval));
        }
        "@at" => {
            let at = DateTime::parse_from_rfc3339(argument).map_err(|why| {
                ScheduleError::schedule(
                    spec,
                    format_args!(
                        "@at needs an RFC 3339 time such as 2026-03-08T02:30:00Z, not {} ({why})",
                        quoted(argument)
                    ),
                )
            })?;
            return Ok(Schedule::At(at.to_utc()));
        }
        _ => {
            return Err(ScheduleError::schedule(
                spec,
                format_args!(
                    "unknown descriptor {} (expected @yearly, @annually, @monthly, @weekly, \
                     @daily, @midnight, @hourly, @minutely, @every <duration>, @at <RFC 3339 \
                     time> or @manually)",
                    quoted(keyword)
                ),
            ));
        }
    };
    no_argument(spec, keyword, argument)?;
    parse_cron(spec, calendar, tz, "").map(Schedule::Cron)
}

fn no_argument(spec: &str, keyword: &str, argument: &str) -> Result<(), ScheduleError> {
    if argument.is_empty() {
        Ok(())
    } else {
        Err(ScheduleError::schedule(
            spec,
            format_args!("{keyword} takes no argument"),
        ))
    }
}

mod cron;
mod describe;
#[cfg(test)]
mod tests;

/// A time zone schedules are read in (chrono-tz's IANA database), as
/// [`CronSchedule::timezone`] gives it.
pub use chrono_tz::Tz;
pub use cron::CronSchedule;
use cron::parse_cron;
