//! The grpc executor's config: Dkron's keys (`url`, `body`, `headers`, `timeout`,
//! `expectCode`) and Sandcron's (`tls`, `tlsCa`), read and checked before anything is
//! sent.

use std::time::Duration;

use sandcron_sdk::config::{self, flag, required};
use sandcron_sdk::duration::parse_duration;
use sandcron_sdk::{Execution, Failure};
use serde::Deserialize;

/// The call's deadline when `timeout` is not set, as in Dkron.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The keys as the job spells them. Empty values mean "not set", as in Dkron.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    url: String,
    #[serde(default)]
    body: String,
    #[serde(default, deserialize_with = "config::headers")]
    headers: Vec<(String, String)>,
    #[serde(default)]
    timeout: String,
    #[serde(default, rename = "expectCode")]
    expect_code: String,
    #[serde(default)]
    tls: String,
    #[serde(default, rename = "tlsCa")]
    tls_ca: String,
}

/// A checked config.
#[derive(Debug, PartialEq, Eq)]
pub struct GrpcConfig {
    /// `host:port`.
    pub address: String,
    /// `package.Service/Method`.
    pub method: String,
    /// The JSON request.
    pub body: String,
    /// Request metadata.
    pub headers: Vec<(String, String)>,
    /// The call's deadline.
    pub timeout: Duration,
    /// The status code that counts as success (0, OK, by default).
    pub expect_code: u32,
    /// Connect with TLS.
    pub tls: bool,
    /// More authorities to trust, PEM.
    pub tls_ca: Option<String>,
}

impl GrpcConfig {
    /// Reads and checks the execution's config; every error names its key.
    pub fn from_execution(execution: &Execution) -> Result<Self, Failure> {
        Self::from_raw(execution.config()?)
    }

    fn from_raw(raw: Raw) -> Result<Self, Failure> {
        let url = required("url", &raw.url)?;
        let url = url
            .strip_prefix("grpc://")
            .or_else(|| url.strip_prefix("http://"))
            .unwrap_or(url);
        let Some((address, method)) = url.split_once('/') else {
            return Err(Failure::invalid_config(
                "url",
                format_args!("{url:?} is not host:port/package.Service/Method"),
            ));
        };
        if address.is_empty() || !method.contains('/') {
            return Err(Failure::invalid_config(
                "url",
                format_args!("{url:?} is not host:port/package.Service/Method"),
            ));
        }
        let timeout = match raw.timeout.trim() {
            "" => DEFAULT_TIMEOUT,
            text => match text.parse::<u64>() {
                Ok(seconds) => Duration::from_secs(seconds),
                Err(_) => parse_duration(text).map_err(|e| {
                    Failure::invalid_config(
                        "timeout",
                        format_args!("{text:?} is neither whole seconds nor a duration: {e}"),
                    )
                })?,
            },
        };
        if timeout.is_zero() {
            return Err(Failure::invalid_config("timeout", "must be more than 0"));
        }
        let expect_code = match raw.expect_code.trim() {
            "" => 0,
            text => text
                .parse::<u32>()
                .ok()
                .filter(|c| *c <= 16)
                .ok_or_else(|| {
                    Failure::invalid_config(
                        "expectCode",
                        format_args!("{text:?} is not a gRPC status code (0 to 16)"),
                    )
                })?,
        };
        let tls = flag("tls", &raw.tls, false)?;
        Ok(Self {
            address: address.to_owned(),
            method: method.to_owned(),
            body: raw.body,
            headers: raw.headers,
            timeout,
            expect_code,
            tls,
            tls_ca: Some(raw.tls_ca).filter(|pem| !pem.trim().is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandcron_sdk::config::expect_invalid as invalid;

    fn parse(pairs: &[(&str, &str)]) -> Result<GrpcConfig, Failure> {
        GrpcConfig::from_raw(config::from_map(&config::pairs(pairs))?)
    }

    #[test]
    fn dkron_keys_are_read() {
        let config = parse(&[
            ("url", "127.0.0.1:50051/helloworld.Greeter/SayHello"),
            ("body", r#"{"name": "x"}"#),
            ("headers", r#"["x-a: 1"]"#),
            ("timeout", "5"),
            ("expectCode", "5"),
        ])
        .unwrap();
        assert_eq!(config.address, "127.0.0.1:50051");
        assert_eq!(config.method, "helloworld.Greeter/SayHello");
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.expect_code, 5);
        assert_eq!(config.headers, [("x-a".to_owned(), "1".to_owned())]);
        assert!(!config.tls);
        let config = parse(&[("url", "h:1/p.S/M"), ("timeout", "1m")]).unwrap();
        assert_eq!(config.timeout, Duration::from_secs(60));
        assert_eq!(config.expect_code, 0);
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(invalid(parse(&[])), "url: is required");
        assert!(invalid(parse(&[("url", "h:1")])).starts_with("url: "));
        assert!(invalid(parse(&[("url", "h:1/p.S")])).starts_with("url: "));
        let base = ("url", "h:1/p.S/M");
        assert!(invalid(parse(&[base, ("timeout", "soon")])).starts_with("timeout: "));
        assert!(invalid(parse(&[base, ("expectCode", "OK")])).starts_with("expectCode: "));
        assert!(invalid(parse(&[base, ("headers", "x")])).starts_with("headers: "));
    }
}
