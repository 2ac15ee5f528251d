//! Typed `executor_config`: deserialize the job's string map into a struct with serde.
//!
//! As in Dkron every config value is a string. This module's deserializer reads each value
//! as the field asks: strings as they are, booleans as Go's `strconv.ParseBool` does
//! (`true`, `1`, `t`, `false`, `0`, `f`, ...), numbers parsed from the text, `Option<T>` as
//! `Some` when the key is present, unit enums by variant name, and `Vec<T>` from a comma
//! list (`"200,206"`). Keys the struct does not name are ignored, since Dkron configs carry
//! keys for other executors. Keys with dots work with `#[serde(rename = "queue.name")]`.
//!
//! Every error names the key: `command: is required`,
//! `timeout: "ten" is not a whole number`.
//!
//! ```
//! use serde::Deserialize;
//! use sandcron_sdk::config;
//!
//! #[derive(Deserialize)]
//! struct Config {
//!     command: String,
//!     #[serde(default)]
//!     retries: u32,
//! }
//!
//! let map = vec![("command".to_owned(), "date".to_owned())];
//! let config: Config = config::parse(&map).unwrap();
//! assert_eq!(config.command, "date");
//! assert_eq!(config.retries, 0);
//! ```
//!
//! [`parse`] and [`ConfigError`] are plain Rust and compile without the `bindings` feature;
//! [`from_map`] returns the world's `Failure::InvalidConfig` directly.
//!
//! Checks on single keys after deserializing ([`required`], [`flag`],
//! [`positive_duration`], [`non_empty`]) live in `keys` and are re-exported here.

use std::fmt;
use std::time::Duration;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};

mod keys;
#[cfg(feature = "bindings")]
pub use keys::expect_invalid;
pub use keys::{flag, non_empty, pairs, positive_duration, required};

/// A config that does not fit the struct it is read into. `Display` gives `key: problem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    key: Option<String>,
    message: String,
}

impl ConfigError {
    /// An error about `key`, for checks an executor makes after deserializing.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            message: message.into(),
        }
    }

    /// The key the error is about, when known.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The problem, without the key.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `"<text>" is not <what>`, the shape of every bad-value message.
    fn custom_text(text: &str, what: &str) -> Self {
        de::Error::custom(format_args!("{text:?} is not {what}"))
    }

    fn for_key(mut self, key: &str) -> Self {
        if self.key.is_none() {
            self.key = Some(key.to_owned());
        }
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{key}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl de::Error for ConfigError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            key: None,
            message: msg.to_string(),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Self::new(field, "is required")
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(format_args!(
            "{variant:?} is not one of {}",
            expected.join(", ")
        ))
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::custom(format_args!("{} is not {expected}", describe(unexpected)))
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::custom(format_args!("{} is not {expected}", describe(unexpected)))
    }
}

/// Shows a value the way the user wrote it: strings quoted, other values plain.
fn describe(unexpected: de::Unexpected<'_>) -> String {
    match unexpected {
        de::Unexpected::Str(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

#[cfg(feature = "bindings")]
impl From<ConfigError> for crate::Failure {
    fn from(error: ConfigError) -> Self {
        crate::Failure::InvalidConfig(error.to_string())
    }
}

/// Deserializes `T` from an `executor_config` string map, borrowing from it.
///
/// Use this where the `bindings` feature is off (the host validating a config); executors
/// usually call [`from_map`] or `execution.config::<T>()`.
pub fn parse<'de, T: de::Deserialize<'de>>(map: &'de [(String, String)]) -> Result<T, ConfigError> {
    T::deserialize(MapDeserializer { map })
}

/// Deserializes `T` from an `executor_config` string map, or fails with
/// `Failure::InvalidConfig` naming the key that is missing or wrong.
#[cfg(feature = "bindings")]
pub fn from_map<T: de::DeserializeOwned>(map: &[(String, String)]) -> Result<T, crate::Failure> {
    Ok(parse(map)?)
}

/// Reads a boolean as Go's `strconv.ParseBool` does: `1`, `t`, `T`, `TRUE`, `true`, `True`
/// are true; `0`, `f`, `F`, `FALSE`, `false`, `False` are false; anything else is `None`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Splits a Dkron `env` value, `K1=v1,K2=v2`, on `,` and then on each entry's first `=`
/// (names trimmed, values kept as written). Returns the pairs and the non-empty entries
/// that have no `=` or no name, for the executor to report.
///
/// ```
/// let (pairs, ignored) = sandcron_sdk::config::parse_env_list("A=1,B=x=y,oops");
/// assert_eq!(pairs, [("A".to_owned(), "1".to_owned()), ("B".to_owned(), "x=y".to_owned())]);
/// assert_eq!(ignored, ["oops"]);
/// ```
pub fn parse_env_list(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut pairs = Vec::new();
    let mut ignored = Vec::new();
    for entry in text.split(',').filter(|entry| !entry.trim().is_empty()) {
        match entry.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                pairs.push((name.trim().to_owned(), value.to_owned()));
            }
            _ => ignored.push(entry.to_owned()),
        }
    }
    (pairs, ignored)
}

/// A `deserialize_with` helper reading a Go duration (`30s`, `1h30m`) into a
/// [`Duration`](std::time::Duration).
///
/// ```
/// # use std::time::Duration;
/// #[derive(serde::Deserialize)]
/// struct Config {
///     #[serde(deserialize_with = "sandcron_sdk::config::duration")]
///     every: Duration,
/// }
/// ```
pub fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = <std::borrow::Cow<'de, str> as de::Deserialize>::deserialize(deserializer)?;
    crate::duration::parse_duration(&text).map_err(de::Error::custom)
}

/// Like [`duration`](fn@duration) for an `Option<Duration>` field; pair it with
/// `#[serde(default)]` so a missing key is `None`. An empty value is `None` too, as in Dkron.
pub fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let text = <std::borrow::Cow<'de, str> as de::Deserialize>::deserialize(deserializer)?;
    if text.is_empty() {
        return Ok(None);
    }
    crate::duration::parse_duration(&text)
        .map(Some)
        .map_err(de::Error::custom)
}

/// A `deserialize_with` helper reading a byte size (`512M`, `1G`, `1048576`) into a `u64`.
pub fn size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let text = <std::borrow::Cow<'de, str> as de::Deserialize>::deserialize(deserializer)?;
    crate::size::parse_size(&text).map_err(de::Error::custom)
}

/// Like [`size`](fn@size) for an `Option<u64>` field; pair it with `#[serde(default)]`.
/// An empty value is `None`, as in Dkron.
pub fn optional_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let text = <std::borrow::Cow<'de, str> as de::Deserialize>::deserialize(deserializer)?;
    if text.is_empty() {
        return Ok(None);
    }
    crate::size::parse_size(&text)
        .map(Some)
        .map_err(de::Error::custom)
}

/// A `deserialize_with` helper reading headers: a JSON array of `"Name: value"` strings
/// (Dkron's form, each split on its first `:`, both sides trimmed) or a JSON object of
/// names to values (then in name order). An array keeps its order and a name may repeat.
/// An empty value is no headers; pair it with `#[serde(default)]`.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Config {
///     #[serde(default, deserialize_with = "sandcron_sdk::config::headers")]
///     headers: Vec<(String, String)>,
/// }
/// let map = vec![("headers".to_owned(), r#"["X-Job: nightly", "X-Try: 1"]"#.to_owned())];
/// let config: Config = sandcron_sdk::config::parse(&map).unwrap();
/// assert_eq!(config.headers[0], ("X-Job".to_owned(), "nightly".to_owned()));
/// ```
pub fn headers<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, String)>, D::Error> {
    let text = <std::borrow::Cow<'de, str> as de::Deserialize>::deserialize(deserializer)?;
    parse_headers(&text).map_err(de::Error::custom)
}

/// Reads headers as [`headers`](fn@headers) does, from the text of a config value.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let expected = "a JSON array of \"Name: value\" strings or a JSON object";
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(entries)) => entries
            .iter()
            .map(|entry| {
                let entry = entry
                    .as_str()
                    .ok_or_else(|| format!("{entry} is not a \"Name: value\" string"))?;
                let (name, value) = entry
                    .split_once(':')
                    .ok_or_else(|| format!("header {entry:?} has no ':'"))?;
                let name = name.trim();
                if name.is_empty() {
                    return Err(format!("header {entry:?} has no name"));
                }
                Ok((name.to_owned(), value.trim().to_owned()))
            })
            .collect(),
        Ok(serde_json::Value::Object(entries)) => {
            let mut headers: Vec<(String, String)> = entries
                .into_iter()
                .map(|(name, value)| match value {
                    serde_json::Value::String(value) => (name, value),
                    other => (name, other.to_string()),
                })
                .collect();
            // In name order whichever map serde_json was built with (a build that
            // enables its `preserve_order` keeps the order of the text).
            headers.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(headers)
        }
        _ => Err(format!("{text:?} is not {expected}")),
    }
}

/// The whole map: a struct or a map of strings.
struct MapDeserializer<'de> {
    map: &'de [(String, String)],
}

impl<'de> Deserializer<'de> for MapDeserializer<'de> {
    type Error = ConfigError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_map(MapAccess {
            entries: self.map.iter(),
            current: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct MapAccess<'de> {
    entries: std::slice::Iter<'de, (String, String)>,
    current: Option<&'de (String, String)>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de> {
    type Error = ConfigError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ConfigError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some(entry);
        seed.deserialize(de::value::BorrowedStrDeserializer::new(&entry.0))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ConfigError> {
        let (key, value) = self
            .current
            .take()
            .expect("next_value_seed is called after next_key_seed");
        seed.deserialize(ValueDeserializer { text: value })
            .map_err(|e| e.for_key(key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// One value: a string read as the field's type asks.
struct ValueDeserializer<'de> {
    text: &'de str,
}

impl<'de> ValueDeserializer<'de> {
    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, ConfigError> {
        self.text
            .trim()
            .parse()
            .map_err(|_| ConfigError::custom_text(self.text, what))
    }
}

macro_rules! deserialize_number {
    ($($method:ident => $visit:ident, $what:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
                visitor.$visit(self.parse($what)?)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for ValueDeserializer<'de> {
    type Error = ConfigError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_borrowed_str(self.text)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        match parse_bool(self.text.trim()) {
            Some(value) => visitor.visit_bool(value),
            None => Err(ConfigError::custom_text(
                self.text,
                "a boolean (true or false)",
            )),
        }
    }

    deserialize_number! {
        deserialize_i8 => visit_i8, "a whole number";
        deserialize_i16 => visit_i16, "a whole number";
        deserialize_i32 => visit_i32, "a whole number";
        deserialize_i64 => visit_i64, "a whole number";
        deserialize_i128 => visit_i128, "a whole number";
        deserialize_u8 => visit_u8, "a whole number from 0 to 255";
        deserialize_u16 => visit_u16, "a whole number from 0 to 65535";
        deserialize_u32 => visit_u32, "a whole number from 0 to 4294967295";
        deserialize_u64 => visit_u64, "a whole number";
        deserialize_u128 => visit_u128, "a whole number";
        deserialize_f32 => visit_f32, "a number";
        deserialize_f64 => visit_f64, "a number";
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        let mut chars = self.text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(ConfigError::custom_text(self.text, "a single character")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_borrowed_str(self.text)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_borrowed_str(self.text)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_borrowed_bytes(self.text.as_bytes())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_borrowed_bytes(self.text.as_bytes())
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        if self.text.is_empty() {
            visitor.visit_unit()
        } else {
            Err(ConfigError::custom_text(self.text, "empty"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        let items = self
            .text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|text| ValueDeserializer { text });
        visitor.visit_seq(de::value::SeqDeserializer::new(items))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ConfigError> {
        Err(ConfigError::custom_text(
            self.text,
            "a map (a config value is one string)",
        ))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ConfigError> {
        visitor.visit_enum(self.text.trim().into_deserializer())
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_borrowed_str(self.text)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ConfigError> {
        visitor.visit_unit()
    }
}

impl<'de> IntoDeserializer<'de, ConfigError> for ValueDeserializer<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn error<T: for<'de> Deserialize<'de> + fmt::Debug>(pairs: &[(&str, &str)]) -> String {
        let m = map(pairs);
        parse::<T>(&m).unwrap_err().to_string()
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Shell {
        command: String,
        #[serde(default)]
        shell: bool,
        timeout: Option<u64>,
        #[serde(default)]
        ratio: f64,
    }

    #[test]
    fn reads_strings_bools_numbers_and_options() {
        let m = map(&[
            ("command", "echo hi"),
            ("shell", "true"),
            ("timeout", "30"),
            ("ratio", "0.5"),
        ]);
        let shell: Shell = parse(&m).unwrap();
        assert_eq!(
            shell,
            Shell {
                command: "echo hi".into(),
                shell: true,
                timeout: Some(30),
                ratio: 0.5,
            }
        );
    }

    #[test]
    fn missing_optional_keys_take_their_defaults() {
        let m = map(&[("command", "date")]);
        let shell: Shell = parse(&m).unwrap();
        assert!(!shell.shell);
        assert_eq!(shell.timeout, None);
    }

    #[test]
    fn booleans_follow_go_parse_bool() {
        #[derive(Deserialize)]
        struct B {
            b: bool,
        }
        for (text, value) in [
            ("1", true),
            ("t", true),
            ("T", true),
            ("TRUE", true),
            ("True", true),
            ("0", false),
            ("f", false),
            ("FALSE", false),
            ("False", false),
        ] {
            let m = map(&[("b", text)]);
            assert_eq!(parse::<B>(&m).unwrap().b, value, "{text}");
        }
        let m = map(&[("b", "yes")]);
        assert_eq!(
            parse::<B>(&m).err().unwrap().to_string(),
            "b: \"yes\" is not a boolean (true or false)"
        );
    }

    #[test]
    fn missing_required_key_is_named() {
        assert_eq!(error::<Shell>(&[("shell", "true")]), "command: is required");
    }

    #[test]
    fn bad_value_names_the_key_and_quotes_the_text() {
        assert_eq!(
            error::<Shell>(&[("command", "x"), ("timeout", "ten")]),
            "timeout: \"ten\" is not a whole number"
        );
        assert_eq!(
            error::<Shell>(&[("command", "x"), ("ratio", "half")]),
            "ratio: \"half\" is not a number"
        );
    }

    #[test]
    fn out_of_range_numbers_are_refused() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Port {
            port: u16,
        }
        assert_eq!(
            error::<Port>(&[("port", "70000")]),
            "port: \"70000\" is not a whole number from 0 to 65535"
        );
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let m = map(&[("command", "date"), ("su", "nobody"), ("other.key", "x")]);
        assert_eq!(parse::<Shell>(&m).unwrap().command, "date");
    }

    #[test]
    fn dotted_keys_work_with_rename() {
        #[derive(Deserialize)]
        struct Rabbit {
            #[serde(rename = "queue.name")]
            queue_name: String,
            #[serde(rename = "queue.durable", default)]
            durable: bool,
        }
        let m = map(&[("queue.name", "jobs"), ("queue.durable", "t")]);
        let rabbit: Rabbit = parse(&m).unwrap();
        assert_eq!(rabbit.queue_name, "jobs");
        assert!(rabbit.durable);
    }

    #[test]
    fn unit_enums_are_read_by_name() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(rename_all = "lowercase")]
        enum Mode {
            Fast,
            Slow,
        }
        #[derive(Debug, Deserialize)]
        struct C {
            mode: Mode,
        }
        let m = map(&[("mode", "slow")]);
        assert_eq!(parse::<C>(&m).unwrap().mode, Mode::Slow);
        assert_eq!(
            error::<C>(&[("mode", "medium")]),
            "mode: \"medium\" is not one of fast, slow"
        );
    }

    #[test]
    fn lists_are_read_from_comma_separated_text() {
        #[derive(Debug, Deserialize)]
        struct Http {
            #[serde(rename = "expectCode")]
            expect_code: Vec<u16>,
        }
        let m = map(&[("expectCode", "200, 206,")]);
        assert_eq!(parse::<Http>(&m).unwrap().expect_code, vec![200, 206]);
        assert_eq!(
            error::<Http>(&[("expectCode", "200,ok")]),
            "expectCode: \"ok\" is not a whole number from 0 to 65535"
        );
    }

    #[test]
    fn fields_can_borrow_from_the_map() {
        #[derive(Deserialize)]
        struct Borrowed<'a> {
            message: &'a str,
        }
        let m = map(&[("message", "hi")]);
        let borrowed: Borrowed<'_> = parse(&m).unwrap();
        assert_eq!(borrowed.message, "hi");
    }

    #[test]
    fn the_whole_map_can_be_read_as_a_hash_map() {
        let m = map(&[("a", "1"), ("b", "2")]);
        let all: HashMap<String, String> = parse(&m).unwrap();
        assert_eq!(all["b"], "2");
    }

    #[test]
    fn duration_and_size_helpers_name_the_key() {
        #[derive(Debug, Deserialize)]
        struct Limits {
            #[serde(default, deserialize_with = "optional_duration")]
            timeout: Option<Duration>,
            #[serde(default, deserialize_with = "optional_size")]
            mem_limit: Option<u64>,
            #[serde(deserialize_with = "duration")]
            every: Duration,
            #[serde(deserialize_with = "size", default)]
            buffer: u64,
        }
        let m = map(&[("timeout", "1m30s"), ("mem_limit", "64M"), ("every", "5s")]);
        let limits: Limits = parse(&m).unwrap();
        assert_eq!(limits.timeout, Some(Duration::from_secs(90)));
        assert_eq!(limits.mem_limit, Some(64 << 20));
        assert_eq!(limits.every, Duration::from_secs(5));
        assert_eq!(limits.buffer, 0);

        let m = map(&[("timeout", ""), ("mem_limit", ""), ("every", "1s")]);
        let limits: Limits = parse(&m).unwrap();
        assert_eq!((limits.timeout, limits.mem_limit), (None, None));

        let timeout = error::<Limits>(&[("timeout", "ten"), ("every", "1s")]);
        assert!(
            timeout.starts_with("timeout: \"ten\" is not a duration"),
            "{timeout}"
        );
        let mem = error::<Limits>(&[("mem_limit", "lots"), ("every", "1s")]);
        assert!(
            mem.starts_with("mem_limit: \"lots\" is not a size"),
            "{mem}"
        );
        assert_eq!(error::<Limits>(&[]), "every: is required");
    }

    #[test]
    fn option_of_a_present_key_is_some_even_when_empty() {
        #[derive(Deserialize)]
        struct C {
            note: Option<String>,
        }
        let m = map(&[("note", "")]);
        assert_eq!(parse::<C>(&m).unwrap().note.as_deref(), Some(""));
    }

    #[test]
    fn headers_are_an_array_of_name_value_strings_or_an_object() {
        assert_eq!(
            parse_headers(r#"["A: 1", "B:2:3", "A: 4"]"#).unwrap(),
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "2:3".to_owned()),
                ("A".to_owned(), "4".to_owned()),
            ]
        );
        assert_eq!(
            parse_headers(r#"{"B": "x", "A": 1}"#).unwrap(),
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "x".to_owned())
            ]
        );
        assert!(parse_headers("").unwrap().is_empty());
        assert!(parse_headers(r#"["no colon"]"#).is_err());
        assert!(parse_headers("A: 1").is_err());
        #[derive(Deserialize, Debug)]
        struct C {
            #[serde(default, deserialize_with = "super::headers")]
            #[allow(dead_code)]
            headers: Vec<(String, String)>,
        }
        let error = parse::<C>(&map(&[("headers", "[1]")])).unwrap_err();
        assert!(error.to_string().starts_with("headers: "), "{error}");
    }
}
