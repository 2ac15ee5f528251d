//! Durations written as Go's `time.ParseDuration` writes them: `300ms`, `1.5h`, `2h45m`.
//!
//! Dkron configs carry durations in that grammar (the shell executor's `timeout`), so both
//! the host and the executors parse them here. Negative durations are refused: nothing in a
//! job can wait a negative time.

use std::fmt;
use std::time::Duration;

/// The largest duration Go can represent (`math.MaxInt64` nanoseconds, about 292 years).
/// Longer texts are refused, as Go refuses them.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Nanoseconds in each unit, longest names first so `ms` is not read as `m` then `s`.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),  // U+00B5 MICRO SIGN
    ("\u{3bc}s", 1_000), // U+03BC GREEK SMALL LETTER MU
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3_600 * 1_000_000_000),
];

/// A text that is not a duration. Its `Display` quotes the text and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    text: String,
    reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Reason {
    Empty,
    Negative,
    MissingNumber,
    MissingUnit,
    UnknownUnit(String),
    TooLong,
}

impl DurationError {
    fn new(text: &str, reason: Reason) -> Self {
        Self {
            text: text.to_owned(),
            reason,
        }
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a duration: ", self.text)?;
        match &self.reason {
            Reason::Empty => f.write_str("it is empty (write one like 30s, 5m or 1h30m)"),
            Reason::Negative => f.write_str("it is negative"),
            Reason::MissingNumber => {
                f.write_str("expected a number followed by a unit, like 30s, 5m or 1h30m")
            }
            Reason::MissingUnit => f.write_str("a number needs a unit: ns, us, ms, s, m or h"),
            Reason::UnknownUnit(unit) => {
                write!(f, "unknown unit {unit:?} (use ns, us, ms, s, m or h)")
            }
            Reason::TooLong => f.write_str("it is longer than 292 years"),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a duration in Go's `time.ParseDuration` grammar.
///
/// A duration is a sequence of decimal numbers, each with an optional fraction and a unit
/// suffix: `300ms`, `1.5h`, `2h45m`, `1h30m10s`. The units are `ns`, `us` (or `µs`), `ms`,
/// `s`, `m` and `h`. A bare `0` is accepted; a leading `+` is allowed. Negative durations
/// and numbers without a unit are errors.
///
/// ```
/// use std::time::Duration;
/// use sandcron_sdk::duration::parse_duration;
///
/// assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
/// assert!(parse_duration("10").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let error = |reason| DurationError::new(text, reason);
    let mut rest = text;
    if let Some(stripped) = rest.strip_prefix('-') {
        // Go accepts "-0"; a zero is harmless, anything else is negative.
        return match parse_duration(stripped) {
            Ok(d) if d.is_zero() && !stripped.starts_with(['+', '-']) => Ok(d),
            Ok(_) => Err(error(Reason::Negative)),
            Err(e) => Err(DurationError::new(text, e.reason)),
        };
    }
    rest = rest.strip_prefix('+').unwrap_or(rest);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(error(Reason::Empty));
    }

    let mut total: u128 = 0;
    while !rest.is_empty() {
        // The number: digits, then an optional fraction.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, after_int) = rest.split_at(int_len);
        let (frac_digits, after_number) = match after_int.strip_prefix('.') {
            Some(after_dot) => {
                let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                after_dot.split_at(frac_len)
            }
            None => ("", after_int),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(error(Reason::MissingNumber));
        }

        // The unit: everything up to the next digit or dot.
        let unit_len = after_number
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        if unit.is_empty() {
            return Err(error(Reason::MissingUnit));
        }
        let Some(&(_, unit_nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(error(Reason::UnknownUnit(unit.to_owned())));
        };

        let whole = int_digits
            .bytes()
            .try_fold(0u128, |acc, b| {
                let value = acc * 10 + u128::from(b - b'0');
                (value <= MAX_NANOS).then_some(value)
            })
            .ok_or_else(|| error(Reason::TooLong))?;
        // Eighteen fraction digits are finer than a nanosecond even in hours, and keep the
        // arithmetic below within u128; Go drops the extra digits as well.
        let frac = &frac_digits[..frac_digits.len().min(18)];
        let frac_value = frac
            .bytes()
            .fold(0u128, |acc, b| acc * 10 + u128::from(b - b'0'));
        let frac_nanos = frac_value * unit_nanos / 10u128.pow(frac.len() as u32);
        total = whole
            .checked_mul(unit_nanos)
            .and_then(|n| n.checked_add(frac_nanos))
            .and_then(|n| n.checked_add(total))
            .filter(|n| *n <= MAX_NANOS)
            .ok_or_else(|| error(Reason::TooLong))?;
        rest = after_unit;
    }
    let secs = (total / 1_000_000_000) as u64;
    let nanos = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

/// Formats a duration as short human text that [`parse_duration`] reads back.
///
/// Zero parts are left out: `1h`, `1m30s`, `1h5s`, `250ms`, `1.5s`, `10µs`, `0s`.
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        let (unit, per_unit) = match nanos {
            n if n >= 1_000_000 => ("ms", 1_000_000),
            n if n >= 1_000 => ("\u{b5}s", 1_000),
            _ => ("ns", 1),
        };
        return format!("{}{unit}", decimal(nanos, per_unit));
    }
    let total_secs = duration.as_secs();
    let hours = total_secs / 3600;
    let minutes = total_secs % 3600 / 60;
    let secs_nanos =
        u128::from(total_secs % 60) * 1_000_000_000 + u128::from(duration.subsec_nanos());
    let mut text = String::new();
    if hours > 0 {
        text.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        text.push_str(&format!("{minutes}m"));
    }
    if secs_nanos > 0 {
        text.push_str(&format!("{}s", decimal(secs_nanos, 1_000_000_000)));
    }
    text
}

/// `value / per_unit` as a decimal without trailing zeros: `decimal(1500, 1000)` is `1.5`.
fn decimal(value: u128, per_unit: u128) -> String {
    let whole = value / per_unit;
    let frac = value % per_unit;
    if frac == 0 {
        return whole.to_string();
    }
    let width = per_unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Duration {
        parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_single_units() {
        assert_eq!(ok("300ms"), Duration::from_millis(300));
        assert_eq!(ok("5ns"), Duration::from_nanos(5));
        assert_eq!(ok("10us"), Duration::from_micros(10));
        assert_eq!(ok("10µs"), Duration::from_micros(10));
        assert_eq!(ok("10μs"), Duration::from_micros(10));
        assert_eq!(ok("45s"), Duration::from_secs(45));
        assert_eq!(ok("2m"), Duration::from_secs(120));
        assert_eq!(ok("3h"), Duration::from_secs(3 * 3600));
    }

    #[test]
    fn parses_fractions() {
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("5.s"), Duration::from_secs(5));
        assert_eq!(ok("0.000000001s"), Duration::from_nanos(1));
        assert_eq!(ok("1.0000000000000000000001s"), Duration::from_secs(1));
    }

    #[test]
    fn parses_sequences() {
        assert_eq!(ok("2h45m"), Duration::from_secs(2 * 3600 + 45 * 60));
        assert_eq!(ok("1h30m10s"), Duration::from_secs(5410));
        assert_eq!(ok("1m1.5s"), Duration::from_millis(61_500));
        assert_eq!(ok("1s500ms"), Duration::from_millis(1500));
    }

    #[test]
    fn accepts_zero_and_plus_sign() {
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("+0"), Duration::ZERO);
        assert_eq!(ok("-0"), Duration::ZERO);
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("+5s"), Duration::from_secs(5));
    }

    #[test]
    fn refuses_negative_unitless_and_unknown() {
        for bad in [
            "", "-1s", "10", "1.5", "ten", "1d", "s", ".s", "1h30", "1 h", "1S", "--1s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn refuses_durations_go_cannot_hold() {
        assert!(parse_duration("2562047h").is_ok());
        assert!(parse_duration("2562048h").is_err());
        assert!(parse_duration("99999999999999999999999s").is_err());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let text = |s: &str| parse_duration(s).unwrap_err().to_string();
        assert_eq!(
            text("ten"),
            "\"ten\" is not a duration: expected a number followed by a unit, like 30s, 5m or 1h30m"
        );
        assert_eq!(
            text("10"),
            "\"10\" is not a duration: a number needs a unit: ns, us, ms, s, m or h"
        );
        assert_eq!(
            text("3d"),
            "\"3d\" is not a duration: unknown unit \"d\" (use ns, us, ms, s, m or h)"
        );
        assert_eq!(text("-1s"), "\"-1s\" is not a duration: it is negative");
        assert!(text("").contains("it is empty"));
    }

    #[test]
    fn formats_short_text() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_secs(1)), "1s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(format_duration(Duration::from_secs(3605)), "1h5s");
        assert_eq!(format_duration(Duration::from_secs(5410)), "1h30m10s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_duration(Duration::from_micros(10)), "10µs");
        assert_eq!(format_duration(Duration::from_nanos(5)), "5ns");
    }

    #[test]
    fn formatted_text_parses_back() {
        for d in [
            Duration::from_nanos(1),
            Duration::from_micros(1500),
            Duration::from_millis(61_500),
            Duration::from_secs(86_400 * 3 + 1),
            Duration::new(3725, 1),
        ] {
            assert_eq!(ok(&format_duration(d)), d);
        }
    }
}
