//! Six-field cron expressions: parsing the fields into bit sets, and searching local
//! wall-clock times for the next match in a time zone, with the daylight-saving rules
//! described in the parent module.

use super::*;

/// A cron expression with its time zone, ready for fast evaluation.
///
/// The fields are stored as bit sets, so computing a fire time allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronSchedule {
    /// Bit `n` set: second `n` (0–59) is selected.
    pub(super) seconds: u64,
    /// Bit `n` set: minute `n` (0–59) is selected.
    pub(super) minutes: u64,
    /// Bit `n` set: hour `n` (0–23) is selected.
    pub(super) hours: u32,
    /// Bit `n` set: day of month `n` (1–31) is selected.
    pub(super) days_of_month: u32,
    /// Bit `n` set: month `n` (1–12) is selected.
    pub(super) months: u16,
    /// Bit `n` of every group of seven set: weekday `n` (0 = Sunday) is selected. Six groups,
    /// so that shifting by the weekday of a month's first day still covers 31 days.
    pub(super) weekday_pattern: u64,
    /// The day-of-month field was `*` or `?` (robfig's "star bit").
    pub(super) dom_star: bool,
    /// The day-of-week field was `*` or `?`.
    pub(super) dow_star: bool,
    /// The zone the expression is evaluated in.
    pub(super) tz: Tz,
    /// `tz` is UTC under another name: no conversion is needed.
    pub(super) is_utc: bool,
}

/// One cron field's name, bounds and names.
struct FieldKind {
    name: &'static str,
    min: u32,
    /// The largest value, also the end of `*` and of `N/S`.
    max: u32,
    /// The largest value accepted when written explicitly (7 = Sunday for weekdays).
    max_explicit: u32,
    /// The `~` replacement for a name hash `h`: `h % modulus + base`.
    hash_modulus: u64,
    hash_base: u64,
    names: &'static [&'static str],
}

const MONTH_NAMES: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAY_NAMES: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [FieldKind; 6] = [
    FieldKind {
        name: "seconds",
        min: 0,
        max: 59,
        max_explicit: 59,
        hash_modulus: 60,
        hash_base: 0,
        names: &[],
    },
    FieldKind {
        name: "minutes",
        min: 0,
        max: 59,
        max_explicit: 59,
        hash_modulus: 60,
        hash_base: 0,
        names: &[],
    },
    FieldKind {
        name: "hours",
        min: 0,
        max: 23,
        max_explicit: 23,
        hash_modulus: 24,
        hash_base: 0,
        names: &[],
    },
    FieldKind {
        name: "day-of-month",
        min: 1,
        max: 31,
        max_explicit: 31,
        hash_modulus: 28,
        hash_base: 1,
        names: &[],
    },
    FieldKind {
        name: "month",
        min: 1,
        max: 12,
        max_explicit: 12,
        hash_modulus: 12,
        hash_base: 1,
        names: MONTH_NAMES,
    },
    FieldKind {
        name: "day-of-week",
        min: 0,
        max: 6,
        max_explicit: 7,
        hash_modulus: 7,
        hash_base: 0,
        names: WEEKDAY_NAMES,
    },
];

pub(super) const ALL_HOURS: u32 = (1 << 24) - 1;

/// Parses a five- or six-field cron expression.
pub(super) fn parse_cron(
    spec: &str,
    body: &str,
    tz: Tz,
    job_name: &str,
) -> Result<CronSchedule, ScheduleError> {
    let mut fields: [&str; 6] = ["0"; 6];
    let mut count = 0;
    for field in body.split_whitespace() {
        if count < 6 {
            fields[count] = field;
        }
        count += 1;
    }
    match count {
        6 => {}
        5 => fields.rotate_right(1), // the seconds field (still "0") moves to the front
        _ => {
            return Err(ScheduleError::schedule(
                spec,
                format_args!("expected 5 or 6 fields, found {count}"),
            ));
        }
    }

    let hash: u64 = job_name.chars().map(|c| u64::from(u32::from(c))).sum();
    let mut bits = [0u64; 6];
    let mut stars = [false; 6];
    for (index, (kind, text)) in FIELDS.iter().zip(fields).enumerate() {
        let hashed;
        let text = if text.contains('~') {
            let value = hash % kind.hash_modulus + kind.hash_base;
            hashed = text.replace('~', &value.to_string());
            hashed.as_str()
        } else {
            text
        };
        let (field_bits, star) = parse_field(text, kind).map_err(|why| {
            ScheduleError::schedule(
                spec,
                format_args!("{} field {}: {why}", kind.name, quoted(text)),
            )
        })?;
        bits[index] = field_bits;
        stars[index] = star;
    }

    let weekdays = bits[5] & 0x7F;
    let mut weekday_pattern = 0u64;
    for week in 0..6 {
        weekday_pattern |= weekdays << (7 * week);
    }
    // Each field's bits lie within its bounds, so the narrowing casts below are lossless.
    let cron = CronSchedule {
        seconds: bits[0],
        minutes: bits[1],
        hours: bits[2] as u32,
        days_of_month: bits[3] as u32,
        months: bits[4] as u16,
        weekday_pattern,
        dom_star: stars[3],
        dow_star: stars[5],
        tz,
        is_utc: is_utc_zone(tz),
    };
    if !cron.can_fire() {
        return Err(ScheduleError::schedule(
            spec,
            "never fires: none of the selected months has the selected days of the month",
        ));
    }
    Ok(cron)
}

/// Parses one comma-separated cron field into a bit set and robfig's "star bit".
fn parse_field(text: &str, kind: &FieldKind) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (part_bits, part_star) = parse_range(part, kind)?;
        bits |= part_bits;
        star |= part_star;
    }
    Ok((bits, star))
}

/// Parses `*`, `?`, `N`, `N-M`, each optionally followed by `/step` (robfig's `getRange`).
fn parse_range(part: &str, kind: &FieldKind) -> Result<(u64, bool), String> {
    if part.is_empty() {
        return Err("empty list item".to_owned());
    }
    let mut slash = part.split('/');
    let range = slash.next().unwrap_or_default();
    let step = slash.next();
    if slash.next().is_some() {
        return Err(format!("too many slashes in {}", quoted(part)));
    }
    let mut hyphen = range.split('-');
    let low = hyphen.next().unwrap_or_default();
    let high = hyphen.next();
    if hyphen.next().is_some() {
        return Err(format!("too many hyphens in {}", quoted(part)));
    }

    let (start, mut end, mut star) = if low == "*" || low == "?" {
        if high.is_some() {
            return Err(format!("{low} cannot start a range"));
        }
        (kind.min, kind.max, true)
    } else {
        let start = value(low, kind)?;
        let end = match high {
            Some(high) => value(high, kind)?,
            None => start,
        };
        (start, end, false)
    };
    let step = match step {
        None => 1,
        Some(step) => {
            let step = number(step).map_err(|why| format!("step {why}"))?;
            if high.is_none() && !star {
                end = kind.max; // "N/S" means "N-max/S"
            }
            if step > 1 {
                star = false;
            }
            step
        }
    };

    if start < kind.min || start > kind.max_explicit {
        return Err(format!(
            "{start} is out of range {}-{}",
            kind.min, kind.max_explicit
        ));
    }
    if end > kind.max_explicit {
        return Err(format!(
            "{end} is out of range {}-{}",
            kind.min, kind.max_explicit
        ));
    }
    if start > end {
        return Err(format!("range {start}-{end} ends before it starts"));
    }
    if step == 0 {
        return Err("step must be a positive number".to_owned());
    }

    let mut bits = 0u64;
    let mut current = start;
    while current <= end {
        bits |= 1 << current;
        current = match current.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    if kind.max_explicit > kind.max && bits & (1 << kind.max_explicit) != 0 {
        bits = (bits & !(1 << kind.max_explicit)) | 1; // 7 is Sunday, like 0
    }
    Ok((bits, star))
}

/// A field value: a number, or a month or weekday name where the field has names.
fn value(text: &str, kind: &FieldKind) -> Result<u32, String> {
    if let Some(index) = kind
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        return Ok(index as u32 + kind.min);
    }
    number(text).map_err(|why| {
        if kind.names.is_empty() {
            why
        } else {
            format!("{why} or a {} name", kind.name)
        }
    })
}

/// A non-negative decimal number.
fn number(text: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{} is not a number", quoted(text)));
    }
    text.parse()
        .map_err(|_| format!("{} is too large", quoted(text)))
}

/// The bit of `mask` at or after `from`, if any.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = mask >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// How far ahead of its start a search for a matching local time gives up. Any satisfiable
/// expression matches within eight years (29 February can be eight years apart).
const SEARCH_YEARS: i32 = 9;

/// How many skipped candidates (nonexistent or already-passed repeated local times) a search
/// goes through before giving up. Each skip jumps past a whole DST transition.
const MAX_SKIPS: usize = 64;

impl CronSchedule {
    /// The time zone the expression is evaluated in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first fire time strictly after `after`, or `None` if there is none within the next
    /// nine years (which only happens near the end of the representable time range, or in a zone
    /// that skips every selected local time).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let after_naive = after.naive_utc();
        if self.is_utc {
            return self
                .next_local_match(floor_second(after_naive))
                .map(|next| next.and_utc());
        }
        let offset = self.tz.offset_from_utc_datetime(&after_naive).fix();
        let local = floor_second(after_naive.checked_add_offset(offset)?);
        let forward = self.scan_forward(local, after);
        if self.hours != ALL_HOURS {
            return forward;
        }
        match (forward, self.second_pass(local, after)) {
            (Some(a), Some(b)) => Some(min(a, b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether some day can ever match (checked once, when parsing).
    fn can_fire(&self) -> bool {
        if !self.dow_star || self.dom_star {
            // Any weekday restriction on its own, or every day of the month.
            return true;
        }
        (1..=12u32).any(|month| {
            self.months & (1 << month) != 0
                && self.days_of_month & ((1u64 << (days_in_month(2000, month) + 1)) - 2) as u32 != 0
        })
    }

    /// The days of `month` in `year` that match, as bits 1–31.
    pub(super) fn day_mask(&self, year: i32, month: u32) -> Option<u32> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let shift = first.weekday().num_days_from_sunday();
        let in_month = ((1u64 << (days_in_month(year, month) + 1)) - 2) as u32;
        let by_weekday = ((self.weekday_pattern >> shift) << 1) as u32 & in_month;
        let by_date = self.days_of_month & in_month;
        Some(if self.dom_star || self.dow_star {
            by_date & by_weekday
        } else {
            by_date | by_weekday
        })
    }

    /// The first time of day at or after `h:m:s` that matches, if any is left in the day.
    fn time_at_or_after(&self, (h, m, s): (u32, u32, u32)) -> Option<(u32, u32, u32)> {
        let first_minute = self.minutes.trailing_zeros();
        let first_second = self.seconds.trailing_zeros();
        let hour = next_bit(u64::from(self.hours), h)?;
        if hour > h {
            return Some((hour, first_minute, first_second));
        }
        if let Some(minute) = next_bit(self.minutes, m) {
            if minute > m {
                return Some((hour, minute, first_second));
            }
            if let Some(second) = next_bit(self.seconds, s) {
                return Some((hour, minute, second));
            }
            if let Some(minute) = next_bit(self.minutes, m + 1) {
                return Some((hour, minute, first_second));
            }
        }
        let hour = next_bit(u64::from(self.hours), h + 1)?;
        Some((hour, first_minute, first_second))
    }

    /// The first local wall-clock time strictly after `after` (a whole second) that the
    /// expression selects, ignoring time zones.
    fn next_local_match(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = after.checked_add_signed(TimeDelta::seconds(1))?;
        let (mut year, mut month, mut day) = (start.year(), start.month(), start.day());
        let mut time = (start.hour(), start.minute(), start.second());
        let horizon = year.checked_add(SEARCH_YEARS)?;
        let first_month = u32::from(self.months).trailing_zeros();
        while year <= horizon {
            if self.months & (1 << month) != 0 {
                let days = self.day_mask(year, month)?;
                let mut candidate = next_bit(u64::from(days), day);
                while let Some(matching_day) = candidate {
                    if matching_day != day {
                        time = (0, 0, 0);
                    }
                    if let Some((h, m, s)) = self.time_at_or_after(time) {
                        return NaiveDate::from_ymd_opt(year, month, matching_day)?
                            .and_hms_opt(h, m, s);
                    }
                    time = (0, 0, 0);
                    candidate = next_bit(u64::from(days), matching_day + 1);
                }
            }
            time = (0, 0, 0);
            day = 1;
            match next_bit(u64::from(self.months), month + 1) {
                Some(next) => month = next,
                None => {
                    year += 1;
                    month = first_month;
                }
            }
        }
        None
    }

    /// Walks selected local times after `local` (the wall-clock time of `after`, floored to the
    /// second) and returns the first one that maps to a fire instant after `after`.
    fn scan_forward(&self, local: NaiveDateTime, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut from = local;
        for _ in 0..MAX_SKIPS {
            let candidate = self.next_local_match(from)?;
            match self.tz.offset_from_local_datetime(&candidate) {
                MappedLocalTime::Single(offset) => {
                    let instant = to_utc(candidate, offset.fix())?;
                    if instant > after {
                        return Some(instant);
                    }
                    from = candidate;
                }
                MappedLocalTime::Ambiguous(a, b) => {
                    let (x, y) = (to_utc(candidate, a.fix())?, to_utc(candidate, b.fix())?);
                    let (first, second) = (min(x, y), x.max(y));
                    if first > after {
                        return Some(first);
                    }
                    if self.hours == ALL_HOURS && second > after {
                        return Some(second);
                    }
                    // `after` lies in the second pass through a repeated interval and the
                    // repeated times only run once: go to the end of the interval.
                    let end = self.overlap_end(candidate, second - first);
                    from = end.checked_sub_signed(TimeDelta::seconds(1))?;
                }
                MappedLocalTime::None => {
                    let end = self.gap_end(candidate)?;
                    from = end.checked_sub_signed(TimeDelta::seconds(1))?;
                }
            }
        }
        None
    }

    /// For an every-hour expression, when `after` is in the first pass through a repeated
    /// interval: the first selected time of the second pass (which begins at the transition and
    /// may precede every later local time).
    fn second_pass(&self, local: NaiveDateTime, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let MappedLocalTime::Ambiguous(a, b) = self.tz.offset_from_local_datetime(&local) else {
            return None;
        };
        let (x, y) = (to_utc(local, a.fix())?, to_utc(local, b.fix())?);
        let (first, second) = (min(x, y), x.max(y));
        if after >= second {
            return None; // already in the second pass: scan_forward covers it
        }
        let later_offset = if x > y { a.fix() } else { b.fix() };
        let length = second - first;
        let start = self.overlap_start(local, length)?;
        let candidate = self.next_local_match(start.checked_sub_signed(TimeDelta::seconds(1))?)?;
        if candidate >= start.checked_add_signed(length)? {
            return None;
        }
        to_utc(candidate, later_offset).filter(|&instant| instant > after)
    }

    fn is_ambiguous(&self, local: NaiveDateTime) -> bool {
        matches!(
            self.tz.offset_from_local_datetime(&local),
            MappedLocalTime::Ambiguous(..)
        )
    }

    fn exists(&self, local: NaiveDateTime) -> bool {
        !matches!(
            self.tz.offset_from_local_datetime(&local),
            MappedLocalTime::None
        )
    }

    /// The first local time after the repeated interval of `length` that contains `local`.
    fn overlap_end(&self, local: NaiveDateTime, length: TimeDelta) -> NaiveDateTime {
        match local.checked_add_signed(length) {
            Some(limit) => bisect(local, limit, |t| !self.is_ambiguous(t)),
            None => NaiveDateTime::MAX,
        }
    }

    /// The first local time of the repeated interval of `length` that contains `local`.
    fn overlap_start(&self, local: NaiveDateTime, length: TimeDelta) -> Option<NaiveDateTime> {
        let before = local.checked_sub_signed(length)?;
        Some(bisect(before, local, |t| self.is_ambiguous(t)))
    }

    /// The first existing local time after the gap that contains `local` (which does not exist).
    fn gap_end(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut low = local;
        let mut step = TimeDelta::hours(1);
        // Gaps last an hour or less, except for the rare day-long calendar changes.
        for _ in 0..7 {
            let high = local.checked_add_signed(step)?;
            if self.exists(high) {
                return Some(bisect(low, high, |t| self.exists(t)));
            }
            low = high;
            step = step * 2;
        }
        Some(low)
    }
}

/// The earliest whole-second time in `(low, high]` for which `pred` holds, given that it fails
/// at `low`, holds at `high` and changes only once in between. Returns `high` at worst.
fn bisect(
    mut low: NaiveDateTime,
    mut high: NaiveDateTime,
    pred: impl Fn(NaiveDateTime) -> bool,
) -> NaiveDateTime {
    loop {
        let span = (high - low).num_seconds();
        if span <= 1 {
            return high;
        }
        let middle = low + TimeDelta::seconds(span / 2);
        if pred(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
}

fn floor_second(time: NaiveDateTime) -> NaiveDateTime {
    time.with_nanosecond(0).unwrap_or(time)
}

fn to_utc(local: NaiveDateTime, offset: FixedOffset) -> Option<DateTime<Utc>> {
    local.checked_sub_offset(offset).map(|utc| utc.and_utc())
}
