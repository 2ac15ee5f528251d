//! The ECS API (AWS JSON 1.1 over HTTPS, or the overridden endpoint) through the `http`
//! capability, every request signed with Signature Version 4.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sandcron_sdk::Failure;
use sandcron_sdk::http::{HttpError, Request};
use serde_json::Value;

use crate::sigv4::{self, Credentials, Unsigned};

/// The JSON protocol's target prefix of the ECS API.
const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";
/// The longest one API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one region's ECS API.
pub struct Ecs {
    endpoint: String,
    host: String,
    region: String,
    credentials: Credentials,
}

/// Why an API call failed.
#[derive(Debug)]
pub enum ApiError {
    /// The API answered with an error: its status, type and message.
    Api {
        status: u16,
        kind: String,
        message: String,
    },
    /// No answer (the `http` capability's error).
    Http(HttpError),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Api {
                status,
                kind,
                message,
            } => write!(f, "{kind}: {message} (HTTP {status})"),
            ApiError::Http(error) => write!(f, "{error}"),
        }
    }
}

impl ApiError {
    /// Whether trying again later may succeed: no answer, throttling, a server error.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Http(HttpError::Denied(_) | HttpError::InvalidRequest(_)) => false,
            ApiError::Http(_) => true,
            ApiError::Api { status, kind, .. } => {
                *status >= 500 || kind.contains("Throttling") || kind.contains("TooManyRequests")
            }
        }
    }

    /// The failure of an execution that this error ends, for `operation`.
    pub fn into_failure(self, operation: &str) -> Failure {
        match self {
            ApiError::Http(HttpError::Denied(url)) => Failure::Denied(format!(
                "ecs: {operation}: the request to {url} was denied: grant the endpoint's host \
                 to the http capability"
            )),
            error if error.is_transient() => {
                Failure::Unavailable(format!("ecs: {operation} failed: {error}"))
            }
            error => Failure::Failed(format!("ecs: {operation} failed: {error}")),
        }
    }
}

impl Ecs {
    /// A client of `endpoint` (`https://ecs.REGION.amazonaws.com` or an override) for
    /// `region`. Fails when the endpoint is not an `http(s)://host[:port]` URL.
    pub fn new(endpoint: &str, region: &str, credentials: Credentials) -> Result<Self, String> {
        let endpoint = endpoint.trim().trim_end_matches('/');
        let host = endpoint
            .strip_prefix("https://")
            .or_else(|| endpoint.strip_prefix("http://"))
            .filter(|host| !host.is_empty() && !host.contains(['/', '?', '#', '@']))
            .ok_or_else(|| format!("{endpoint:?} is not an http(s)://host[:port] URL"))?;
        Ok(Self {
            host: host.to_owned(),
            endpoint: endpoint.to_owned(),
            region: region.to_owned(),
            credentials,
        })
    }

    /// The signed request of `operation` with `body`, valid for a few minutes.
    pub fn request(&self, operation: &str, body: &Value) -> Request {
        let body = body.to_string().into_bytes();
        let target = format!("{TARGET_PREFIX}.{operation}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let amz_date = sigv4::amz_date(now);
        let signed = sigv4::sign(
            &Unsigned {
                method: "POST",
                host: &self.host,
                path: "/",
                query: "",
                headers: &headers,
                body: &body,
                region: &self.region,
                service: "ecs",
                amz_date: &amz_date,
            },
            &self.credentials,
        );
        let mut request = Request::new("POST", format!("{}/", self.endpoint)).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        for (name, value) in signed {
            request = request.header(name, value);
        }
        request
    }

    /// Calls `operation` with `body`, within `time_left`, and returns the answer's JSON.
    pub fn call(
        &self,
        operation: &str,
        body: &Value,
        time_left: Duration,
    ) -> Result<Value, ApiError> {
        let timeout = CALL_TIMEOUT.min(time_left).max(Duration::from_millis(1));
        let response = self
            .request(operation, body)
            .timeout(timeout)
            .send()
            .map_err(ApiError::Http)?;
        let json: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if response.is_success() {
            return Ok(json);
        }
        let kind = json["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| format!("HTTP {}", response.status));
        let message = json["message"]
            .as_str()
            .or_else(|| json["Message"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| first_line(&response.text()));
        Err(ApiError::Api {
            status: response.status,
            kind,
            message,
        })
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.chars().take(300).collect()
}
