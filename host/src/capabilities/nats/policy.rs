//! Which NATS servers and subjects an execution may publish to.
//!
//! A grant entry is `HOST:PORT[/SUBJECT]` (see [`net`](crate::capabilities::net) for the
//! host and port parts). The subject part uses NATS's own wildcards: `*` stands for one
//! token, `>` for one or more tokens at the end (`jobs.*.done`, `jobs.>`); without it
//! every subject is allowed. Examples: `127.0.0.1:4222`, `nats.example.com:4222/jobs.>`,
//! `*.example.com:*/alerts.*`.

use crate::capabilities::net::{EndpointPolicy, Resource};

/// The NATS grant: servers and subjects.
pub type NatsPolicy = EndpointPolicy<SubjectPattern>;

/// A subject pattern with NATS wildcards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectPattern {
    tokens: Vec<String>,
}

impl Resource for SubjectPattern {
    type Target = str;
    const NOUN: &'static str = "subject";

    fn parse(text: Option<&str>) -> Result<Self, String> {
        let text = text.unwrap_or(">");
        let tokens: Vec<String> = text.split('.').map(str::to_string).collect();
        for (i, token) in tokens.iter().enumerate() {
            if token.is_empty() || token.chars().any(char::is_whitespace) {
                return Err(format!(
                    "subject pattern {text:?} has an empty token or a space"
                ));
            }
            if token == ">" && i + 1 != tokens.len() {
                return Err(format!(
                    "subject pattern {text:?}: `>` may only be the last token"
                ));
            }
            if token.len() > 1 && (token.contains('*') || token.contains('>')) {
                return Err(format!(
                    "subject pattern {text:?}: `*` and `>` must be whole tokens"
                ));
            }
        }
        Ok(Self { tokens })
    }

    fn matches(&self, subject: &str) -> bool {
        let mut subject = subject.split('.');
        for token in &self.tokens {
            match (token.as_str(), subject.next()) {
                (">", Some(_)) => return true,
                ("*", Some(_)) => {}
                (literal, Some(actual)) if literal == actual => {}
                _ => return false,
            }
        }
        subject.next().is_none()
    }
}

/// Whether `subject` is one a message can be published to: tokens separated by dots,
/// none empty, no wildcard, no whitespace.
pub fn is_publish_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject.split('.').all(|token| {
            !token.is_empty()
                && token != "*"
                && token != ">"
                && !token.chars().any(char::is_whitespace)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> SubjectPattern {
        SubjectPattern::parse(Some(text)).unwrap()
    }

    #[test]
    fn wildcards_match_tokens() {
        assert!(pattern("jobs.>").matches("jobs.a"));
        assert!(pattern("jobs.>").matches("jobs.a.b"));
        assert!(!pattern("jobs.>").matches("jobs"));
        assert!(pattern("jobs.*.done").matches("jobs.x.done"));
        assert!(!pattern("jobs.*.done").matches("jobs.x.y.done"));
        assert!(!pattern("jobs.*").matches("jobs.x.y"));
        assert!(pattern("jobs").matches("jobs"));
        assert!(!pattern("jobs").matches("jobs.a"));
        assert!(SubjectPattern::parse(None).unwrap().matches("any.thing"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["a..b", "a.>.b", "a.b*", "", "a b"] {
            assert!(SubjectPattern::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn publish_subjects_have_no_wildcards() {
        assert!(is_publish_subject("jobs.a"));
        assert!(!is_publish_subject("jobs.*"));
        assert!(!is_publish_subject("jobs.>"));
        assert!(!is_publish_subject("jobs..a"));
        assert!(!is_publish_subject(""));
    }

    #[test]
    fn the_grant_checks_server_and_subject() {
        let mut policy = NatsPolicy::default();
        policy.allow("127.0.0.1:4222/jobs.>").unwrap();
        let server = crate::capabilities::net::Endpoint {
            host: "127.0.0.1",
            port: 4222,
        };
        assert!(policy.check(&server, "jobs.a").is_ok());
        let err = policy.check(&server, "other").unwrap_err();
        assert!(err.contains("subject other"), "{err}");
    }
}
