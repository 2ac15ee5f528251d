//! Byte sizes as Dkron's shell executor writes its `mem_limit`: `512M`, `1GB`, `1048576`.
//!
//! Units are 1024-based and case-insensitive: `B`, `K`/`KB`, `M`/`MB`, `G`/`GB`, `T`/`TB`.
//! The IEC spellings `KiB`, `MiB`, `GiB`, `TiB` that [`format_size`] writes are read too.

use std::fmt;

/// Suffixes, longest first within each unit so `MB` is not read as `B`.
const UNITS: &[(&str, u64)] = &[
    ("KIB", 1 << 10),
    ("MIB", 1 << 20),
    ("GIB", 1 << 30),
    ("TIB", 1 << 40),
    ("KB", 1 << 10),
    ("MB", 1 << 20),
    ("GB", 1 << 30),
    ("TB", 1 << 40),
    ("K", 1 << 10),
    ("M", 1 << 20),
    ("G", 1 << 30),
    ("T", 1 << 40),
    ("B", 1),
];

/// A text that is not a byte size. Its `Display` quotes the text and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeError {
    text: String,
    reason: &'static str,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a size: {}", self.text, self.reason)
    }
}

impl std::error::Error for SizeError {}

/// Parses a byte size: a plain number of bytes, or a number with a 1024-based unit.
///
/// The unit is one of `B`, `K`/`KB`/`KiB`, `M`/`MB`/`MiB`, `G`/`GB`/`GiB`, `T`/`TB`/`TiB`
/// in any case, optionally after a space. The number may have a fraction (`1.5G`); the
/// result is rounded down to a whole byte.
///
/// ```
/// use sandcron_sdk::size::parse_size;
///
/// assert_eq!(parse_size("512M").unwrap(), 512 * 1024 * 1024);
/// assert_eq!(parse_size("100").unwrap(), 100);
/// ```
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let error = |reason| SizeError {
        text: text.to_owned(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(error("it is empty (write one like 512M or 1G)"));
    }
    let upper = trimmed.to_ascii_uppercase();
    let (number, multiplier) = UNITS
        .iter()
        .find_map(|(suffix, multiplier)| {
            upper
                .strip_suffix(suffix)
                .map(|number| (number.trim_end(), *multiplier))
        })
        .unwrap_or((upper.as_str(), 1));

    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
        return Err(error(
            "expected a number of bytes, optionally followed by B, K, M, G or T",
        ));
    }
    let too_large = || error("it is larger than 16 EiB");
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    // Nineteen fraction digits are finer than a byte for any unit up to T.
    let frac = &frac[..frac.len().min(19)];
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| too_large())?
    };
    let bytes = whole
        .checked_mul(u128::from(multiplier))
        .map(|b| b + frac_value * u128::from(multiplier) / 10u128.pow(frac.len() as u32))
        .ok_or_else(too_large)?;
    u64::try_from(bytes).map_err(|_| too_large())
}

/// Formats a byte size with the largest 1024-based unit that keeps the number at least 1:
/// `100 B`, `512 KiB`, `64 MiB`, `1 GiB`, `1.5 GiB`. Fractions keep up to two decimals.
pub fn format_size(bytes: u64) -> String {
    const NAMES: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 1024u64;
    let mut name = NAMES[0];
    for (i, next) in NAMES.iter().enumerate().skip(1) {
        let next_unit = 1u64 << (10 * (i + 1));
        if bytes < next_unit {
            break;
        }
        unit = next_unit;
        name = next;
    }
    // Hundredths, rounded down so a limit is never shown larger than it is.
    let hundredths = u128::from(bytes) * 100 / u128::from(unit);
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    match frac {
        0 => format!("{whole} {name}"),
        f if f % 10 == 0 => format!("{whole}.{} {name}", f / 10),
        f => format!("{whole}.{f:02} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    const GIB: u64 = 1024 * MIB;

    fn ok(text: &str) -> u64 {
        parse_size(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn plain_numbers_are_bytes() {
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("100"), 100);
        assert_eq!(ok("1048576"), MIB);
    }

    #[test]
    fn units_are_1024_based_and_case_insensitive() {
        assert_eq!(ok("100B"), 100);
        assert_eq!(ok("100b"), 100);
        assert_eq!(ok("512K"), 512 * KIB);
        assert_eq!(ok("512kb"), 512 * KIB);
        assert_eq!(ok("64M"), 64 * MIB);
        assert_eq!(ok("64MB"), 64 * MIB);
        assert_eq!(ok("64mb"), 64 * MIB);
        assert_eq!(ok("1G"), GIB);
        assert_eq!(ok("1gB"), GIB);
        assert_eq!(ok("2T"), 2 * 1024 * GIB);
        assert_eq!(ok("2TB"), 2 * 1024 * GIB);
    }

    #[test]
    fn reads_iec_spellings_spaces_and_fractions() {
        assert_eq!(ok("64 MiB"), 64 * MIB);
        assert_eq!(ok("1GiB"), GIB);
        assert_eq!(ok(" 512 K "), 512 * KIB);
        assert_eq!(ok("1.5G"), GIB + GIB / 2);
        assert_eq!(ok(".5K"), 512);
    }

    #[test]
    fn refuses_what_is_not_a_size() {
        for bad in [
            "", " ", "M", "ten", "-1M", "1.2.3M", "1X", "1 M B", "1e6", "+5",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_size("16777216T").is_err());
        assert!(parse_size("99999999999999999999999").is_err());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            parse_size("lots").unwrap_err().to_string(),
            "\"lots\" is not a size: expected a number of bytes, optionally followed by B, K, M, G or T"
        );
    }

    #[test]
    fn formats_with_the_largest_whole_unit() {
        assert_eq!(format_size(100), "100 B");
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(512 * KIB), "512 KiB");
        assert_eq!(format_size(64 * MIB), "64 MiB");
        assert_eq!(format_size(GIB), "1 GiB");
        assert_eq!(format_size(GIB + GIB / 2), "1.5 GiB");
        assert_eq!(format_size(1000 * 1000), "976.56 KiB");
        assert_eq!(format_size(u64::MAX), "16383.99 PiB");
    }

    #[test]
    fn formatted_whole_units_parse_back() {
        for bytes in [100, 512 * KIB, 64 * MIB, GIB, 3 * 1024 * GIB] {
            assert_eq!(ok(&format_size(bytes)), bytes);
        }
    }
}
