//! Checks on one key after the config was deserialized (and two aids for an executor's
//! config tests, [`pairs`] and [`expect_invalid`]), for the keys Dkron reads as plain
//! strings where an empty value means "not set": a required value, a boolean flag with a
//! default, a duration that must be more than zero, an optional text. Each error names
//! the key, in the same words as the deserializer's (`url: is required`,
//! `tlsEnable: "on" is not a boolean (true or false)`), and turns into
//! `Failure::InvalidConfig` with `?`.
//!
//! ```
//! use std::time::Duration;
//! use sandcron_sdk::config::{self, ConfigError};
//!
//! #[derive(serde::Deserialize)]
//! struct Raw {
//!     #[serde(default)]
//!     url: String,
//!     #[serde(default)]
//!     jetstream: String,
//!     #[serde(default, deserialize_with = "config::optional_duration")]
//!     timeout: Option<Duration>,
//! }
//!
//! let map = config::pairs(&[("url", " nats://127.0.0.1:4222 "), ("jetstream", "t")]);
//! let raw: Raw = config::parse(&map).unwrap();
//! assert_eq!(config::required("url", &raw.url)?, "nats://127.0.0.1:4222");
//! assert!(config::flag("jetstream", &raw.jetstream, false)?);
//! let timeout = config::positive_duration("timeout", raw.timeout, Duration::from_secs(30))?;
//! assert_eq!(timeout, Duration::from_secs(30));
//! # Ok::<(), ConfigError>(())
//! ```

use std::time::Duration;

use super::{ConfigError, parse_bool};

/// The value of a required key, trimmed; `key: is required` when it is empty or blank.
pub fn required<'a>(key: &str, text: &'a str) -> Result<&'a str, ConfigError> {
    match text.trim() {
        "" => Err(ConfigError::new(key, "is required")),
        text => Ok(text),
    }
}

/// A boolean key as Dkron reads one: empty (or blank) is `default`, otherwise Go's
/// `strconv.ParseBool` spellings ([`parse_bool`]).
pub fn flag(key: &str, text: &str, default: bool) -> Result<bool, ConfigError> {
    match text.trim() {
        "" => Ok(default),
        text => parse_bool(text).ok_or_else(|| {
            ConfigError::new(key, format!("{text:?} is not a boolean (true or false)"))
        }),
    }
}

/// A duration key read with [`optional_duration`](super::optional_duration): `default`
/// when unset, and `key: must be more than 0` when it is zero.
pub fn positive_duration(
    key: &str,
    value: Option<Duration>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let value = value.unwrap_or(default);
    if value.is_zero() {
        return Err(ConfigError::new(key, "must be more than 0"));
    }
    Ok(value)
}

/// An optional text key: `None` when it is empty, the text as written otherwise.
pub fn non_empty(text: String) -> Option<String> {
    Some(text).filter(|text| !text.is_empty())
}

/// An `executor_config` map from literal pairs, for tests and examples.
pub fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// For tests: the text of the `Failure::InvalidConfig` that `result` should be; panics,
/// naming what it got, when it is anything else.
///
/// ```
/// use sandcron_sdk::Failure;
/// let result: Result<(), Failure> = Err(Failure::invalid_config("url", "is required"));
/// assert_eq!(sandcron_sdk::config::expect_invalid(result), "url: is required");
/// ```
#[cfg(feature = "bindings")]
pub fn expect_invalid<T: std::fmt::Debug>(result: Result<T, crate::Failure>) -> String {
    match result {
        Err(crate::Failure::InvalidConfig(text)) => text,
        other => panic!("expected invalid-config, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_trims_and_names_the_key() {
        assert_eq!(required("url", "  x ").unwrap(), "x");
        assert_eq!(
            required("url", " ").unwrap_err().to_string(),
            "url: is required"
        );
    }

    #[test]
    fn flags_read_go_booleans_and_default_when_empty() {
        assert!(flag("tls", "", true).unwrap());
        assert!(!flag("tls", " ", false).unwrap());
        assert!(flag("tls", "T", false).unwrap());
        assert!(!flag("tls", "0", true).unwrap());
        assert_eq!(
            flag("tlsEnable", "on", false).unwrap_err().to_string(),
            r#"tlsEnable: "on" is not a boolean (true or false)"#
        );
    }

    #[test]
    fn durations_default_and_must_be_positive() {
        let default = Duration::from_secs(30);
        assert_eq!(
            positive_duration("timeout", None, default).unwrap(),
            default
        );
        let five = Some(Duration::from_secs(5));
        assert_eq!(
            positive_duration("timeout", five, default).unwrap(),
            Duration::from_secs(5)
        );
        assert_eq!(
            positive_duration("timeout", Some(Duration::ZERO), default)
                .unwrap_err()
                .to_string(),
            "timeout: must be more than 0"
        );
    }

    #[test]
    fn empty_text_is_none() {
        assert_eq!(non_empty(String::new()), None);
        assert_eq!(non_empty(" x".into()).as_deref(), Some(" x"));
    }

    #[test]
    fn pairs_become_a_map() {
        assert_eq!(pairs(&[("a", "1")]), [("a".to_owned(), "1".to_owned())]);
    }
}
