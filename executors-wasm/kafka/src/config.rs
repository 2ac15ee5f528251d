//! The kafka executor's config: Dkron's keys (`brokerAddress`, `topic`, `key`, `message`,
//! `tlsEnable`, `tlsInsecureSkipVerify`, `saslUsername`, `saslPassword`, `saslMechanism`,
//! `debug`) and Sandcron's (`headers`, `timeout`), read and checked before anything is
//! sent.

use std::time::Duration;

use sandcron_sdk::config::{self, flag, non_empty, positive_duration, required};
use sandcron_sdk::kafka::SaslMechanism;
use sandcron_sdk::{Execution, Failure};
use serde::Deserialize;

/// How long producing may take when `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The keys as the job spells them. Empty values mean "not set", as in Dkron.
#[derive(Deserialize)]
struct Raw {
    #[serde(default, rename = "brokerAddress")]
    broker_address: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "tlsEnable")]
    tls_enable: String,
    #[serde(default, rename = "tlsInsecureSkipVerify")]
    tls_insecure_skip_verify: String,
    #[serde(default, rename = "saslUsername")]
    sasl_username: String,
    #[serde(default, rename = "saslPassword")]
    sasl_password: String,
    #[serde(default, rename = "saslMechanism")]
    sasl_mechanism: String,
    #[serde(default)]
    debug: String,
    #[serde(default, deserialize_with = "config::headers")]
    headers: Vec<(String, String)>,
    #[serde(default, deserialize_with = "config::optional_duration")]
    timeout: Option<Duration>,
}

/// A checked config.
#[derive(Debug, PartialEq)]
pub struct KafkaConfig {
    /// The bootstrap brokers, `host:port` each.
    pub brokers: Vec<String>,
    /// The topic.
    pub topic: String,
    /// The record's key; none when `key` is empty.
    pub key: Option<String>,
    /// The record's value.
    pub message: String,
    /// `tlsEnable`.
    pub tls: bool,
    /// `tlsInsecureSkipVerify`.
    pub tls_insecure_skip_verify: bool,
    /// `saslUsername`, `saslPassword` and the mechanism from `saslMechanism`.
    pub sasl: Option<(SaslMechanism, String, String)>,
    /// Record headers.
    pub headers: Vec<(String, String)>,
    /// How long producing may take.
    pub timeout: Duration,
    /// `debug` was set: show the config in the output.
    pub debug: bool,
}

impl KafkaConfig {
    /// Reads and checks the execution's config; every error names its key.
    pub fn from_execution(execution: &Execution) -> Result<Self, Failure> {
        Self::from_raw(execution.config()?)
    }

    fn from_raw(raw: Raw) -> Result<Self, Failure> {
        let brokers: Vec<String> = raw
            .broker_address
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect();
        if brokers.is_empty() {
            return Err(Failure::invalid_config("brokerAddress", "is required"));
        }
        let topic = required("topic", &raw.topic)?;
        let sasl = if raw.sasl_username.is_empty() {
            None
        } else {
            let mechanism = match raw.sasl_mechanism.trim().to_ascii_lowercase().as_str() {
                "sha256" => SaslMechanism::ScramSha256,
                "sha512" => SaslMechanism::ScramSha512,
                "plain" => SaslMechanism::Plain,
                other => {
                    return Err(Failure::invalid_config(
                        "saslMechanism",
                        format_args!(
                            "{other:?} is not a SASL mechanism: use sha256 or sha512 (SCRAM), \
                             or plain"
                        ),
                    ));
                }
            };
            Some((mechanism, raw.sasl_username, raw.sasl_password))
        };
        let timeout = positive_duration("timeout", raw.timeout, DEFAULT_TIMEOUT)?;
        Ok(Self {
            brokers,
            topic: topic.to_owned(),
            key: non_empty(raw.key),
            message: raw.message,
            tls: flag("tlsEnable", &raw.tls_enable, false)?,
            tls_insecure_skip_verify: flag(
                "tlsInsecureSkipVerify",
                &raw.tls_insecure_skip_verify,
                false,
            )?,
            sasl,
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

    fn parse(pairs: &[(&str, &str)]) -> Result<KafkaConfig, Failure> {
        KafkaConfig::from_raw(config::from_map(&config::pairs(pairs))?)
    }

    #[test]
    fn dkron_keys_are_read() {
        let config = parse(&[
            ("brokerAddress", "a:9092, b:9092"),
            ("topic", "jobs"),
            ("key", "k"),
            ("message", "v"),
            ("tlsEnable", "true"),
            ("saslUsername", "u"),
            ("saslPassword", "p"),
            ("saslMechanism", "sha512"),
        ])
        .unwrap();
        assert_eq!(config.brokers, ["a:9092", "b:9092"]);
        assert_eq!(config.key.as_deref(), Some("k"));
        assert!(config.tls);
        assert!(!config.tls_insecure_skip_verify);
        assert_eq!(
            config.sasl,
            Some((SaslMechanism::ScramSha512, "u".into(), "p".into()))
        );
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(
            invalid(parse(&[("topic", "t")])),
            "brokerAddress: is required"
        );
        assert_eq!(
            invalid(parse(&[("brokerAddress", "a:1")])),
            "topic: is required"
        );
        let base = [("brokerAddress", "a:1"), ("topic", "t")];
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = base.to_vec();
            pairs.push(extra);
            pairs
        };
        assert!(invalid(parse(&with(("tlsEnable", "on")))).starts_with("tlsEnable: "));
        let mut sasl = with(("saslUsername", "u"));
        sasl.push(("saslMechanism", "md5"));
        assert!(invalid(parse(&sasl)).starts_with("saslMechanism: "));
        assert!(invalid(parse(&with(("timeout", "x")))).starts_with("timeout: "));
    }
}
