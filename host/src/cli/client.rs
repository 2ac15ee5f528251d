//! The HTTP client the `job` and `execution` commands share: builds URLs under the
//! server's, sends JSON, and turns every failure into a [`CliError`] a person can act on:
//! the server's own `error` text when it refused, or "cannot reach the server" with the
//! cause when nothing answered. Every request carries the caller's token
//! (`Authorization: Bearer …`) when one was found.

use std::path::Path;

use reqwest::{Certificate, Method, Response, Url};
use serde_json::Value;

use super::CliError;

/// A client of one server's API.
pub struct Client {
    base: Url,
    http: reqwest::Client,
    token: Option<String>,
}

impl Client {
    /// A client of the server at `server` (`http://HOST:PORT` or `https://…`, maybe with
    /// a path prefix), sending `token`; an https server's certificate is checked against
    /// the system's roots and `ca_cert` (a PEM file of the authorities of a private CA).
    pub fn new(
        server: &str,
        token: Option<String>,
        ca_cert: Option<&Path>,
    ) -> Result<Self, CliError> {
        let base =
            Url::parse(server).map_err(|e| CliError::Usage(format!("--server {server:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(CliError::Usage(format!(
                "--server {server:?}: expected http:// or https://"
            )));
        }
        if base.cannot_be_a_base() {
            return Err(CliError::Usage(format!(
                "--server {server:?}: expected http://HOST:PORT or https://HOST:PORT"
            )));
        }
        let mut builder = reqwest::Client::builder();
        if let Some(path) = ca_cert {
            let usage = |e: &dyn std::fmt::Display| {
                CliError::Usage(format!("--ca-cert {}: {e}", path.display()))
            };
            let pem = std::fs::read(path).map_err(|e| usage(&e))?;
            let authorities = Certificate::from_pem_bundle(&pem).map_err(|e| usage(&e))?;
            if authorities.is_empty() {
                return Err(usage(&"no PEM certificate in the file"));
            }
            for authority in authorities {
                builder = builder.add_root_certificate(authority);
            }
        }
        let http = builder
            .build()
            .map_err(|e| CliError::Error(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { base, http, token })
    }

    /// The URL of the API path made of `segments`, each escaped (`["v1", "jobs", name]`).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            // Checked in `new`: an http URL can be a base.
            let Ok(mut path) = url.path_segments_mut() else {
                return url;
            };
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends a request and returns the response if its status is a success.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Response, CliError> {
        let mut request = self.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.answer(request).await
    }

    /// Sends `bytes` as the body, of type `content_type`, and returns the JSON answer.
    pub async fn send_bytes(
        &self,
        method: Method,
        url: Url,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, CliError> {
        let request = self
            .request(method, url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
        let response = self.answer(request).await?;
        response
            .json()
            .await
            .map_err(|e| CliError::Error(format!("the server's answer is not JSON: {e}")))
    }

    /// A request with the caller's token.
    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a prepared request; the response if its status is a success.
    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<Response, CliError> {
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(refusal(response).await)
        }
    }

    /// Sends a request and returns its JSON answer.
    pub async fn json(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let response = self.send(method, url, body).await?;
        response
            .json()
            .await
            .map_err(|e| CliError::Error(format!("the server's answer is not JSON: {e}")))
    }

    fn unreachable(&self, error: &reqwest::Error) -> CliError {
        // The innermost cause says what happened ("Connection refused (os error 111)").
        let mut cause: &dyn std::error::Error = error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        CliError::Error(format!(
            "cannot reach the server at {}: {cause} (is `sandcron serve` running?)",
            self.base.as_str().trim_end_matches('/')
        ))
    }
}

/// The server's refusal: its JSON `error`, else its status and text.
async fn refusal(response: Response) -> CliError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let error = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|body| body.get("error")?.as_str().map(str::to_string));
    CliError::Error(match error {
        Some(error) => error,
        None if text.trim().is_empty() => format!("the server answered {status}"),
        None => format!("the server answered {status}: {}", text.trim()),
    })
}

/// Runs `work` on a fresh single-threaded runtime, as every client command does.
pub fn block_on<T>(
    work: impl std::future::Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Error(format!("cannot start the async runtime: {e}")))?
        .block_on(work)
}
