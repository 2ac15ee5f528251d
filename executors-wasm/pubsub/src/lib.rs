//! The `gcppubsub` executor: publishes one message to a Google Pub/Sub topic as Dkron's
//! gcppubsub executor does, over Pub/Sub's REST API through the `http` capability
//! (`POST /v1/projects/P/topics/T:publish`), and writes the message id to the output.
//!
//! Credentials come from the `secrets` capability (an access token, or a service-account
//! key exchanged for one); an emulator (`endpoint`, or `PUBSUB_EMULATOR_HOST` in the
//! job's environment) needs none. Keys: `project` and `topic` (required), `data`
//! (base64), `attributes` (a JSON object), and Sandcron's `endpoint`,
//! `accessTokenSecret`, `credentialsSecret` and `timeout`. See `docs/executors/pubsub.md`.

mod auth;
mod config;

use sandcron_sdk::http::{HttpError, Request};
use sandcron_sdk::{Execution, Executor, Failure, output};
use serde::Deserialize;

use crate::config::PubsubConfig;

struct Pubsub;

impl Executor for Pubsub {
    fn run(execution: Execution) -> Result<(), Failure> {
        let deadline = execution.deadline();
        let config = PubsubConfig::from_execution(&execution)?;
        let authorization =
            auth::authorization(&config.credentials, execution.bound_timeout(config.timeout))?;
        let mut message = serde_json::Map::new();
        if let Some(data) = &config.data {
            message.insert("data".into(), data.clone().into());
        }
        if !config.attributes.is_empty() {
            message.insert("attributes".into(), serde_json::json!(config.attributes));
        }
        let body = serde_json::json!({ "messages": [message] }).to_string();
        let url = format!("{}/v1/{}:publish", config.endpoint, config.topic_path());
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let mut request = Request::new("POST", &url)
            .header("Content-Type", "application/json")
            .body(body)
            .timeout(
                config
                    .timeout
                    .min(left.max(std::time::Duration::from_millis(1))),
            );
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let response = request.send().map_err(|error| match error {
            HttpError::Timeout => Failure::Unavailable(format!(
                "pubsub: publishing to {} at {} timed out",
                config.topic_path(),
                config.endpoint
            )),
            other => Failure::from(other),
        })?;
        if !response.is_success() {
            let text = google_error(&response.body).unwrap_or_else(|| response.text().into_owned());
            let reason = format!(
                "pubsub: publishing to {} at {}: {} {}",
                config.topic_path(),
                config.endpoint,
                response.status,
                text.trim()
            );
            return Err(if response.status == 429 || response.status >= 500 {
                Failure::Unavailable(reason)
            } else {
                Failure::Failed(reason)
            });
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Published {
            message_ids: Vec<String>,
        }
        let published: Published = serde_json::from_slice(&response.body).map_err(|e| {
            Failure::Failed(format!("pubsub: the publish answer has no message id: {e}"))
        })?;
        let id = published.message_ids.first().ok_or_else(|| {
            Failure::Failed("pubsub: the publish answer has no message id".to_owned())
        })?;
        output::print(&format!("{id}\n"));
        Ok(())
    }
}

/// `STATUS: message` from Google's error body, when it is one.
fn google_error(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Body {
        error: Error,
    }
    #[derive(Deserialize)]
    struct Error {
        #[serde(default)]
        status: String,
        #[serde(default)]
        message: String,
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    Some(format!("{}: {}", body.error.status, body.error.message))
}

sandcron_sdk::export_executor!(Pubsub);
