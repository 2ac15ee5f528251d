//! The nats executor's config: Dkron's keys (`url`, `subject`, `message`, `userName`,
//! `password`, `debug`) and Sandcron's (`jetstream`, `headers`, `timeout`), read and
//! checked before anything is sent.

use std::time::Duration;

use sandcron_sdk::config::{self, flag, non_empty, positive_duration, required};
use sandcron_sdk::{Execution, Failure};
use serde::Deserialize;

/// How long a publish may take when `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The keys as the job spells them. Empty values mean "not set", as in Dkron.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    url: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "userName")]
    user_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    debug: String,
    #[serde(default)]
    jetstream: String,
    #[serde(default, deserialize_with = "config::headers")]
    headers: Vec<(String, String)>,
    #[serde(default, deserialize_with = "config::optional_duration")]
    timeout: Option<Duration>,
}

/// A checked config.
#[derive(Debug, PartialEq, Eq)]
pub struct NatsConfig {
    /// The server URL (or comma list) as written.
    pub url: String,
    /// The subject to publish to.
    pub subject: String,
    /// The payload.
    pub message: String,
    /// `userName`, when set.
    pub user: Option<String>,
    /// `password`, when set.
    pub password: Option<String>,
    /// Publish through JetStream and wait for the stream's acknowledgement.
    pub jetstream: bool,
    /// NATS headers.
    pub headers: Vec<(String, String)>,
    /// How long the publish may take.
    pub timeout: Duration,
    /// `debug` was set: show the config in the output.
    pub debug: bool,
}

impl NatsConfig {
    /// Reads and checks the execution's config; every error names its key.
    pub fn from_execution(execution: &Execution) -> Result<Self, Failure> {
        Self::from_raw(execution.config()?)
    }

    fn from_raw(raw: Raw) -> Result<Self, Failure> {
        let url = required("url", &raw.url)?;
        let subject = required("subject", &raw.subject)?;
        let jetstream = flag("jetstream", &raw.jetstream, false)?;
        let timeout = positive_duration("timeout", raw.timeout, DEFAULT_TIMEOUT)?;
        Ok(Self {
            url: url.to_owned(),
            subject: subject.to_owned(),
            message: raw.message,
            user: non_empty(raw.user_name),
            password: non_empty(raw.password),
            jetstream,
            headers: raw.headers,
            timeout,
            debug: !raw.debug.is_empty(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandcron_sdk::config::expect_invalid as invalid;

    fn parse(pairs: &[(&str, &str)]) -> Result<NatsConfig, Failure> {
        NatsConfig::from_raw(config::from_map(&config::pairs(pairs))?)
    }

    #[test]
    fn dkron_keys_are_read() {
        let config = parse(&[
            ("url", "nats://127.0.0.1:4222"),
            ("subject", "jobs.done"),
            ("message", "hello"),
            ("userName", "u"),
            ("password", "p"),
        ])
        .unwrap();
        assert_eq!(config.url, "nats://127.0.0.1:4222");
        assert_eq!(config.subject, "jobs.done");
        assert_eq!(config.message, "hello");
        assert_eq!(config.user.as_deref(), Some("u"));
        assert_eq!(config.password.as_deref(), Some("p"));
        assert!(!config.jetstream);
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn url_and_subject_are_required() {
        assert_eq!(invalid(parse(&[("subject", "a")])), "url: is required");
        assert_eq!(invalid(parse(&[("url", "x")])), "subject: is required");
    }

    #[test]
    fn sandcron_keys_are_checked() {
        let base = [("url", "x"), ("subject", "a")];
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = base.to_vec();
            pairs.push(extra);
            parse(&pairs)
        };
        assert!(with(("jetstream", "true")).unwrap().jetstream);
        assert!(invalid(with(("jetstream", "yes"))).starts_with("jetstream: "));
        assert!(invalid(with(("timeout", "soon"))).starts_with("timeout: "));
        assert!(invalid(with(("timeout", "0s"))).starts_with("timeout: "));
        assert!(invalid(with(("headers", "X: 1"))).starts_with("headers: "));
        assert_eq!(
            with(("headers", r#"["X-A: 1"]"#)).unwrap().headers,
            [("X-A".to_owned(), "1".to_owned())]
        );
    }
}
