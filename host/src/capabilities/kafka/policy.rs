//! Which Kafka brokers and topics an execution may produce to.
//!
//! A grant entry is `HOST:PORT[/TOPIC]` (see [`net`](crate::capabilities::net) for the host
//! and port parts). The topic is a glob where `*` stands for any run of characters
//! (`jobs-*`); without it every topic is allowed. The entry must cover the bootstrap
//! brokers of the job and every broker the cluster advertises in its metadata.
//! Examples: `127.0.0.1:9092`, `kafka-*.example.com:9093/jobs-*`.

use crate::capabilities::net::{EndpointPolicy, Resource, glob_matches};

/// The Kafka grant: brokers and topics.
pub type KafkaPolicy = EndpointPolicy<TopicPattern>;

/// A topic glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicPattern(String);

impl Resource for TopicPattern {
    type Target = str;
    const NOUN: &'static str = "topic";

    fn parse(text: Option<&str>) -> Result<Self, String> {
        let text = text.unwrap_or("*");
        if text.is_empty() {
            return Err("the topic pattern is empty (leave out the /TOPIC part for any)".into());
        }
        Ok(Self(text.to_string()))
    }

    fn matches(&self, topic: &str) -> bool {
        glob_matches(&self.0, topic)
    }
}

/// Whether `topic` is a legal Kafka topic name: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or
/// `..`.
pub fn is_topic_name(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::net::Endpoint;

    #[test]
    fn topics_are_globs() {
        let mut policy = KafkaPolicy::default();
        policy.allow("127.0.0.1:9092/jobs-*").unwrap();
        let broker = Endpoint {
            host: "127.0.0.1",
            port: 9092,
        };
        assert!(policy.check(&broker, "jobs-1").is_ok());
        let err = policy.check(&broker, "other").unwrap_err();
        assert!(err.contains("topic other on 127.0.0.1:9092"), "{err}");
    }

    #[test]
    fn topic_names() {
        assert!(is_topic_name("jobs.v1_a-b"));
        assert!(!is_topic_name("a b"));
        assert!(!is_topic_name(".."));
        assert!(!is_topic_name(""));
        assert!(!is_topic_name(&"x".repeat(250)));
    }
}
