//! The http executor's config: Dkron's keys, read and checked before the request is sent.
//!
//! Dkron is lenient in two places and so is this: `headers` that are not a JSON array of
//! strings are dropped with a line in the output, and a `timeout` that is not a whole number
//! of seconds falls back to 30 with a warning. Both problems are reported in `notes`.

use std::time::Duration;

use regex_lite::Regex;
use sandcron_sdk::config::parse_bool;
use sandcron_sdk::{Execution, Failure};
use serde::Deserialize;

/// The request timeout when `timeout` is unset or unreadable, as in Dkron.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The keys as Dkron spells them. Empty values mean "not set", as in Dkron.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    method: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    headers: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    timeout: String,
    #[serde(default, rename = "expectCode")]
    expect_code: String,
    #[serde(default, rename = "expectBody")]
    expect_body: String,
    #[serde(default)]
    debug: String,
    #[serde(default, rename = "tlsNoVerifyPeer")]
    tls_no_verify_peer: String,
    #[serde(default, rename = "tlsCertificateFile")]
    tls_certificate_file: String,
    #[serde(default, rename = "tlsCertificateKeyFile")]
    tls_certificate_key_file: String,
    #[serde(default, rename = "tlsRootCAsFile")]
    tls_root_cas_file: String,
}

/// A checked config.
#[derive(Debug)]
pub struct HttpConfig {
    /// The method as written.
    pub method: String,
    /// The URL as written.
    pub url: String,
    /// Headers from `headers`, each `Name: value` split on its first `:`.
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: String,
    /// The request's timeout; `None` for `timeout: "0"` (no timeout of its own).
    pub timeout: Option<Duration>,
    /// Accepted status codes as written (`expectCode`); empty accepts any.
    pub expect_code: Vec<String>,
    /// `expectBody`, compiled.
    pub expect_body: Option<Regex>,
    /// `debug` was set: show the config, request and response head in the output.
    pub debug: bool,
    /// Lines for the output about keys that were not used as written.
    pub notes: Vec<String>,
    /// Diagnostics for stderr: Dkron keys that are accepted but not supported.
    pub unsupported: Vec<String>,
}

impl HttpConfig {
    /// Reads and checks the execution's config.
    pub fn from_execution(execution: &Execution) -> Result<Self, Failure> {
        Self::from_raw(execution.config()?)
    }

    #[cfg(test)]
    fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, Failure> {
        let map: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::from_raw(sandcron_sdk::config::from_map(&map)?)
    }

    fn from_raw(raw: Raw) -> Result<Self, Failure> {
        if raw.method.trim().is_empty() {
            return Err(Failure::invalid_config("method", "is required"));
        }
        if raw.url.trim().is_empty() {
            return Err(Failure::invalid_config("url", "is required"));
        }
        let mut notes = Vec::new();

        let headers = if raw.headers.trim().is_empty() {
            Vec::new()
        } else {
            match serde_json::from_str::<Vec<String>>(&raw.headers) {
                Ok(entries) => parse_headers(&entries, &mut notes),
                Err(_) => {
                    notes.push("Error: parsing headers failed".to_owned());
                    Vec::new()
                }
            }
        };

        let timeout = match raw.timeout.trim() {
            "" => Some(DEFAULT_TIMEOUT),
            text => match text.parse::<u64>() {
                Ok(0) => None,
                Ok(secs) => Some(Duration::from_secs(secs)),
                Err(_) => {
                    notes.push(format!(
                        "Warning: timeout {:?} is not a whole number of seconds, using {}",
                        raw.timeout,
                        DEFAULT_TIMEOUT.as_secs()
                    ));
                    Some(DEFAULT_TIMEOUT)
                }
            },
        };

        let expect_code = raw
            .expect_code
            .split(',')
            .map(str::trim)
            .filter(|code| !code.is_empty())
            .map(str::to_owned)
            .collect();

        let expect_body = if raw.expect_body.is_empty() {
            None
        } else {
            let regex = Regex::new(&raw.expect_body).map_err(|e| {
                Failure::invalid_config(
                    "expectBody",
                    format_args!(
                        "{:?} is not a valid regular expression: {e}",
                        raw.expect_body
                    ),
                )
            })?;
            Some(regex)
        };

        let mut unsupported = Vec::new();
        if parse_bool(raw.tls_no_verify_peer.trim()) == Some(true) {
            unsupported.push("tlsNoVerifyPeer");
        }
        for (key, value) in [
            ("tlsCertificateFile", &raw.tls_certificate_file),
            ("tlsCertificateKeyFile", &raw.tls_certificate_key_file),
            ("tlsRootCAsFile", &raw.tls_root_cas_file),
        ] {
            if !value.trim().is_empty() {
                unsupported.push(key);
            }
        }
        let unsupported = unsupported
            .into_iter()
            .map(|key| format!("http: {key} is not supported yet and was ignored"))
            .collect();

        Ok(HttpConfig {
            method: raw.method.trim().to_owned(),
            url: raw.url.trim().to_owned(),
            headers,
            body: raw.body,
            timeout,
            expect_code,
            expect_body,
            debug: !raw.debug.is_empty(),
            notes,
            unsupported,
        })
    }

    /// The timeout to give the request: the configured one, never past the execution's
    /// time left (when the host gave one).
    pub fn effective_timeout(&self, time_left: Duration) -> Option<Duration> {
        match (self.timeout, time_left.is_zero()) {
            (Some(timeout), false) => Some(timeout.min(time_left)),
            (None, false) => Some(time_left),
            (timeout, true) => timeout,
        }
    }
}

/// Splits each `Name: value` entry on its first `:`. A later entry with the same name
/// replaces an earlier one, as Go's `Header.Set` does; entries without `:` are noted.
fn parse_headers(entries: &[String], notes: &mut Vec<String>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for entry in entries.iter().filter(|entry| !entry.trim().is_empty()) {
        let Some((name, value)) = entry.split_once(':') else {
            notes.push(format!("Error: header {entry:?} has no ':', ignored"));
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        headers.push((name.to_owned(), value.to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(failure: Failure) -> String {
        match failure {
            Failure::InvalidConfig(text) => text,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    const BASE: [(&str, &str); 2] = [("method", "GET"), ("url", "http://example.com/")];

    fn with(extra: &[(&'static str, &'static str)]) -> HttpConfig {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        HttpConfig::from_pairs(&pairs).unwrap()
    }

    #[test]
    fn method_and_url_are_required() {
        let error = HttpConfig::from_pairs(&[("url", "http://x/")]).unwrap_err();
        assert_eq!(invalid(error), "method: is required");
        let error = HttpConfig::from_pairs(&[("method", "GET"), ("url", "")]).unwrap_err();
        assert_eq!(invalid(error), "url: is required");
    }

    #[test]
    fn headers_are_a_json_array_of_name_value_strings() {
        let config = with(&[(
            "headers",
            r#"["Content-Type: application/json", "Authorization: Bearer a:b", "x-a: 1", "X-A: 2"]"#,
        )]);
        assert_eq!(
            config.headers,
            [
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("Authorization".to_owned(), "Bearer a:b".to_owned()),
                ("X-A".to_owned(), "2".to_owned()),
            ]
        );
        assert!(config.notes.is_empty());
    }

    #[test]
    fn unparseable_headers_are_dropped_with_dkrons_message() {
        let config = with(&[("headers", "Content-Type: text/plain")]);
        assert!(config.headers.is_empty());
        assert_eq!(config.notes, ["Error: parsing headers failed"]);
    }

    #[test]
    fn timeout_is_whole_seconds_defaulting_to_30() {
        assert_eq!(with(&[]).timeout, Some(DEFAULT_TIMEOUT));
        assert_eq!(
            with(&[("timeout", "5")]).timeout,
            Some(Duration::from_secs(5))
        );
        assert_eq!(with(&[("timeout", "0")]).timeout, None);
        let bad = with(&[("timeout", "5s")]);
        assert_eq!(bad.timeout, Some(DEFAULT_TIMEOUT));
        assert!(bad.notes[0].starts_with("Warning: timeout \"5s\""));
    }

    #[test]
    fn timeout_never_outlasts_the_execution() {
        let config = with(&[("timeout", "60")]);
        assert_eq!(
            config.effective_timeout(Duration::from_secs(10)),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            config.effective_timeout(Duration::ZERO),
            Some(Duration::from_secs(60))
        );
        let none = with(&[("timeout", "0")]);
        assert_eq!(
            none.effective_timeout(Duration::from_secs(10)),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn expect_code_is_a_comma_list() {
        assert_eq!(
            with(&[("expectCode", "200, 206")]).expect_code,
            ["200", "206"]
        );
        assert!(with(&[]).expect_code.is_empty());
    }

    #[test]
    fn expect_body_must_be_a_valid_regex() {
        assert!(with(&[("expectBody", "^ok")]).expect_body.is_some());
        let mut pairs = BASE.to_vec();
        pairs.push(("expectBody", "(unclosed"));
        let error = HttpConfig::from_pairs(&pairs).unwrap_err();
        assert!(
            invalid(error)
                .starts_with("expectBody: \"(unclosed\" is not a valid regular expression")
        );
    }

    #[test]
    fn tls_keys_are_accepted_and_noted() {
        let config = with(&[
            ("tlsNoVerifyPeer", "true"),
            ("tlsRootCAsFile", "/etc/ca.pem"),
        ]);
        assert_eq!(config.unsupported.len(), 2);
        assert!(with(&[("tlsNoVerifyPeer", "false")]).unsupported.is_empty());
    }

    #[test]
    fn debug_is_any_non_empty_value() {
        assert!(with(&[("debug", "no")]).debug);
        assert!(!with(&[]).debug);
    }
}
