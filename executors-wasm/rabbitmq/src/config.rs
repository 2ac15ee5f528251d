//! The rabbitmq executor's config: Dkron's keys (`url`, `exchange`, `queue.*`,
//! `message.*`) and Sandcron's (`message.mandatory`, `timeout`), read and checked before
//! anything is sent.

use std::time::Duration;

use base64::Engine as _;
use sandcron_sdk::config::{self, flag, non_empty, positive_duration, required};
use sandcron_sdk::{Execution, Failure};
use serde::Deserialize;

/// How long each broker call may take when `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The keys as the job spells them. Empty values mean "not set", as in Dkron.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    url: String,
    #[serde(default)]
    exchange: String,
    #[serde(default, rename = "queue.name")]
    queue_name: String,
    #[serde(default, rename = "queue.create")]
    queue_create: String,
    #[serde(default, rename = "queue.durable")]
    queue_durable: String,
    #[serde(default, rename = "queue.auto_delete")]
    queue_auto_delete: String,
    #[serde(default, rename = "queue.exclusive")]
    queue_exclusive: String,
    #[serde(default, rename = "message.body")]
    body: String,
    #[serde(default, rename = "message.base64Body")]
    base64_body: String,
    #[serde(default, rename = "message.content_type")]
    content_type: String,
    #[serde(default, rename = "message.delivery_mode")]
    delivery_mode: String,
    #[serde(default, rename = "message.messageId")]
    message_id: String,
    #[serde(default, rename = "message.mandatory")]
    mandatory: String,
    #[serde(default, deserialize_with = "config::optional_duration")]
    timeout: Option<Duration>,
}

/// A checked config.
#[derive(Debug, PartialEq, Eq)]
pub struct RabbitConfig {
    /// The broker URL as written.
    pub url: String,
    /// The exchange; empty for the default one.
    pub exchange: String,
    /// The queue: the routing key, and what to declare.
    pub queue: String,
    /// Declare the queue first, with these flags.
    pub declare: Option<QueueFlags>,
    /// The body, decoded.
    pub body: Vec<u8>,
    /// `message.content_type`, `text/plain` by default as in Dkron.
    pub content_type: String,
    /// `message.delivery_mode`: none for 0 (the broker's default), else 1 or 2.
    pub delivery_mode: Option<u8>,
    /// `message.messageId`.
    pub message_id: Option<String>,
    /// Fail when no queue takes the message (Sandcron's default; Dkron's broker drops it).
    pub mandatory: bool,
    /// How long each broker call may take.
    pub timeout: Duration,
}

/// The flags of a queue to declare.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct QueueFlags {
    /// `queue.durable`.
    pub durable: bool,
    /// `queue.auto_delete`.
    pub auto_delete: bool,
    /// `queue.exclusive`.
    pub exclusive: bool,
}

impl RabbitConfig {
    /// Reads and checks the execution's config; every error names its key.
    pub fn from_execution(execution: &Execution) -> Result<Self, Failure> {
        Self::from_raw(execution.config()?)
    }

    fn from_raw(raw: Raw) -> Result<Self, Failure> {
        let url = required("url", &raw.url)?;
        let queue = required("queue.name", &raw.queue_name)?;
        let declare = flag("queue.create", &raw.queue_create, false)?.then_some(QueueFlags {
            durable: flag("queue.durable", &raw.queue_durable, false)?,
            auto_delete: flag("queue.auto_delete", &raw.queue_auto_delete, false)?,
            exclusive: flag("queue.exclusive", &raw.queue_exclusive, false)?,
        });
        let base64 = raw.base64_body.trim();
        let body = if base64.is_empty() {
            raw.body.into_bytes()
        } else if !raw.body.is_empty() {
            return Err(Failure::invalid_config(
                "message.base64Body",
                "cannot be set together with message.body",
            ));
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(base64)
                .map_err(|e| {
                    Failure::invalid_config("message.base64Body", format_args!("not base64: {e}"))
                })?
        };
        let delivery_mode = match raw.delivery_mode.trim() {
            "" | "0" => None,
            "1" => Some(1),
            "2" => Some(2),
            other => {
                return Err(Failure::invalid_config(
                    "message.delivery_mode",
                    format_args!("{other:?} is not 0, 1 (transient) or 2 (persistent)"),
                ));
            }
        };
        let content_type = match raw.content_type.trim() {
            "" => "text/plain".to_owned(),
            text => text.to_owned(),
        };
        let timeout = positive_duration("timeout", raw.timeout, DEFAULT_TIMEOUT)?;
        Ok(Self {
            url: url.to_owned(),
            exchange: raw.exchange.trim().to_owned(),
            queue: queue.to_owned(),
            declare,
            body,
            content_type,
            delivery_mode,
            message_id: non_empty(raw.message_id),
            mandatory: flag("message.mandatory", &raw.mandatory, true)?,
            timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandcron_sdk::config::expect_invalid as invalid;

    fn parse(pairs: &[(&str, &str)]) -> Result<RabbitConfig, Failure> {
        RabbitConfig::from_raw(config::from_map(&config::pairs(pairs))?)
    }

    const BASE: [(&str, &str); 2] = [("url", "amqp://localhost"), ("queue.name", "jobs")];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<RabbitConfig, Failure> {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        parse(&pairs)
    }

    #[test]
    fn dkron_defaults() {
        let config = with(&[("message.body", "hi")]).unwrap();
        assert_eq!(config.exchange, "");
        assert_eq!(config.declare, None);
        assert_eq!(config.body, b"hi");
        assert_eq!(config.content_type, "text/plain");
        assert_eq!(config.delivery_mode, None);
        assert!(config.mandatory);
    }

    #[test]
    fn queue_flags_and_properties() {
        let config = with(&[
            ("queue.create", "true"),
            ("queue.durable", "true"),
            ("queue.auto_delete", "false"),
            ("message.base64Body", "aGVsbG8="),
            ("message.content_type", "application/json"),
            ("message.delivery_mode", "2"),
            ("message.messageId", "m-1"),
            ("message.mandatory", "false"),
        ])
        .unwrap();
        assert_eq!(
            config.declare,
            Some(QueueFlags {
                durable: true,
                auto_delete: false,
                exclusive: false
            })
        );
        assert_eq!(config.body, b"hello");
        assert_eq!(config.delivery_mode, Some(2));
        assert_eq!(config.message_id.as_deref(), Some("m-1"));
        assert!(!config.mandatory);
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(invalid(parse(&[("url", "x")])), "queue.name: is required");
        assert_eq!(invalid(parse(&[("queue.name", "q")])), "url: is required");
        assert!(
            invalid(with(&[
                ("message.body", "a"),
                ("message.base64Body", "YQ==")
            ]))
            .starts_with("message.base64Body: ")
        );
        assert!(
            invalid(with(&[("message.base64Body", "%%%")])).starts_with("message.base64Body: ")
        );
        assert!(
            invalid(with(&[("message.delivery_mode", "3")])).starts_with("message.delivery_mode: ")
        );
        assert!(invalid(with(&[("queue.create", "yes")])).starts_with("queue.create: "));
    }
}
