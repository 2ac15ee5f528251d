//! The gcppubsub executor's config: Dkron's keys (`project`, `topic`, `data`,
//! `attributes`) and Sandcron's (`endpoint`, `accessTokenSecret`, `credentialsSecret`,
//! `timeout`), read and checked before anything is sent.
//!
//! Where it publishes: `endpoint` when set; else the emulator named by
//! `PUBSUB_EMULATOR_HOST` in the job's environment (as Google's clients do); else
//! `https://pubsub.googleapis.com`, which needs credentials from a secret.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use sandcron_sdk::config;
use sandcron_sdk::{Execution, Failure};
use serde::Deserialize;

/// The request timeout when `timeout` is not set, as in Dkron.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Google's Pub/Sub endpoint.
pub const GOOGLE_ENDPOINT: &str = "https://pubsub.googleapis.com";

/// The keys as the job spells them. Empty values mean "not set", as in Dkron.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    project: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    data: String,
    #[serde(default)]
    attributes: String,
    #[serde(default)]
    endpoint: String,
    #[serde(default, rename = "accessTokenSecret")]
    access_token_secret: String,
    #[serde(default, rename = "credentialsSecret")]
    credentials_secret: String,
    #[serde(default, deserialize_with = "config::optional_duration")]
    timeout: Option<Duration>,
}

/// How to authenticate.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    /// None: an emulator, which takes no credentials.
    None,
    /// An OAuth2 access token, read from this secret.
    AccessToken(String),
    /// A service-account key (JSON), read from this secret, signed into a JWT and
    /// exchanged for an access token.
    ServiceAccount(String),
}

/// A checked config.
#[derive(Debug, PartialEq, Eq)]
pub struct PubsubConfig {
    /// The project id.
    pub project: String,
    /// The topic id.
    pub topic: String,
    /// `data`, decoded, then encoded again as the API wants it (standard base64).
    pub data: Option<String>,
    /// `attributes`.
    pub attributes: BTreeMap<String, String>,
    /// The API's base URL, without a trailing `/`.
    pub endpoint: String,
    /// How to authenticate.
    pub credentials: Credentials,
    /// How long the publish may take.
    pub timeout: Duration,
}

impl PubsubConfig {
    /// Reads and checks the execution's config; every error names its key.
    pub fn from_execution(execution: &Execution) -> Result<Self, Failure> {
        Self::from_raw(
            execution.config()?,
            execution.env_value("PUBSUB_EMULATOR_HOST"),
        )
    }

    fn from_raw(raw: Raw, emulator_host: Option<&str>) -> Result<Self, Failure> {
        let project = config::required("project", &raw.project)?;
        let topic = config::required("topic", &raw.topic)?;
        let data = match raw.data.trim() {
            "" => None,
            text => {
                let standard = base64::engine::general_purpose::STANDARD;
                let bytes = standard
                    .decode(text)
                    .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
                    .map_err(|e| {
                        Failure::invalid_config("data", format_args!("not base64: {e}"))
                    })?;
                Some(standard.encode(bytes))
            }
        };
        let attributes = match raw.attributes.trim() {
            "" => BTreeMap::new(),
            text => serde_json::from_str::<BTreeMap<String, String>>(text).map_err(|e| {
                Failure::invalid_config(
                    "attributes",
                    format_args!("not a JSON object of strings: {e}"),
                )
            })?,
        };
        if data.is_none() && attributes.is_empty() {
            return Err(Failure::invalid_config(
                "data",
                "is required unless attributes are given (a message needs one or the other)",
            ));
        }
        let endpoint = match (raw.endpoint.trim(), emulator_host.map(str::trim)) {
            ("", Some(host)) if !host.is_empty() => format!("http://{host}"),
            ("", _) => GOOGLE_ENDPOINT.to_owned(),
            (url, _) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_owned()
            }
            (url, _) => {
                return Err(Failure::invalid_config(
                    "endpoint",
                    format_args!("{url:?} is not an http:// or https:// URL"),
                ));
            }
        };
        let credentials = match (
            raw.access_token_secret.trim(),
            raw.credentials_secret.trim(),
        ) {
            ("", "") if endpoint == GOOGLE_ENDPOINT => {
                return Err(Failure::invalid_config(
                    "credentialsSecret",
                    "Google's endpoint needs credentials: name the secret holding a \
                     service-account key (credentialsSecret) or an access token \
                     (accessTokenSecret); an executor cannot read the host's default \
                     credentials",
                ));
            }
            ("", "") => Credentials::None,
            (token, "") => Credentials::AccessToken(token.to_owned()),
            ("", key) => Credentials::ServiceAccount(key.to_owned()),
            _ => {
                return Err(Failure::invalid_config(
                    "accessTokenSecret",
                    "give accessTokenSecret or credentialsSecret, not both",
                ));
            }
        };
        let timeout = config::positive_duration("timeout", raw.timeout, DEFAULT_TIMEOUT)?;
        Ok(Self {
            project: project.to_owned(),
            topic: topic.to_owned(),
            data,
            attributes,
            endpoint,
            credentials,
            timeout,
        })
    }

    /// `projects/P/topics/T`.
    pub fn topic_path(&self) -> String {
        format!("projects/{}/topics/{}", self.project, self.topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandcron_sdk::config::expect_invalid as invalid;

    fn parse(pairs: &[(&str, &str)], emulator: Option<&str>) -> Result<PubsubConfig, Failure> {
        PubsubConfig::from_raw(config::from_map(&config::pairs(pairs))?, emulator)
    }

    const BASE: [(&str, &str); 3] = [("project", "p"), ("topic", "t"), ("data", "aGk=")];

    #[test]
    fn the_emulator_host_needs_no_credentials() {
        let config = parse(&BASE, Some("127.0.0.1:8085")).unwrap();
        assert_eq!(config.endpoint, "http://127.0.0.1:8085");
        assert_eq!(config.credentials, Credentials::None);
        assert_eq!(config.data.as_deref(), Some("aGk="));
        assert_eq!(config.topic_path(), "projects/p/topics/t");
        assert_eq!(config.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn google_needs_a_credentials_secret() {
        assert!(invalid(parse(&BASE, None)).starts_with("credentialsSecret: "));
        let mut pairs = BASE.to_vec();
        pairs.push(("credentialsSecret", "gcp-key"));
        let config = parse(&pairs, None).unwrap();
        assert_eq!(config.endpoint, GOOGLE_ENDPOINT);
        assert_eq!(
            config.credentials,
            Credentials::ServiceAccount("gcp-key".into())
        );
    }

    #[test]
    fn errors_name_the_key() {
        let emulator = Some("127.0.0.1:8085");
        assert_eq!(
            invalid(parse(&[("topic", "t")], emulator)),
            "project: is required"
        );
        assert!(
            invalid(parse(&[("project", "p"), ("topic", "t")], emulator)).starts_with("data: ")
        );
        assert!(
            invalid(parse(
                &[("project", "p"), ("topic", "t"), ("data", "%%")],
                emulator
            ))
            .starts_with("data: ")
        );
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = BASE.to_vec();
            pairs.push(extra);
            parse(&pairs, emulator)
        };
        assert!(invalid(with(("attributes", "[1]"))).starts_with("attributes: "));
        assert!(invalid(with(("endpoint", "ftp://x"))).starts_with("endpoint: "));
        assert_eq!(
            with(("attributes", r#"{"a": "1"}"#)).unwrap().attributes["a"],
            "1"
        );
    }
}
