//! `sandcron:executor/http-cleanup`: requests the host sends for an execution that ended
//! while they were armed (killed, past its deadline, trapped, or returned without
//! disarming them), such as the call that stops a cloud task the execution started.
//!
//! The requests live in the execution's state; dropping that state (which every ending of
//! an execution does, the runtime dropping the store) sends what is still armed, in the
//! background, through the same checks as the guest's own requests. The sends are tracked
//! by one process-wide [`TaskTracker`] (the unit's shared state), so that `sandcron exec`
//! and `serve` can wait for them before exiting. The server's log names a request by
//! `scheme://host:port/path` only: its query and user info, where a secret may be, stay
//! in the execution's output, which masks the secrets it used. Headers follow `wasi:http`'s rule ([`super::headers`]): a request
//! setting `Host`, `Transfer-Encoding`, `Connection` and the like is refused when armed,
//! and `Host` is written from the URL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio_util::task::TaskTracker;
use wasmtime::component::{HasSelf, Linker};

use super::{HttpClient, HttpPolicy, Target, default_port, headers};
use crate::bindings::http_cleanup::{self as wit, Host, Request};
use crate::output::OutputSink;

/// How many requests one execution may keep armed.
const MAX_ARMED: usize = 16;
/// The largest body of an armed request.
const MAX_BODY: usize = 1 << 20;
/// The longest a cleanup request may take, connection included.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the body of a cleanup request's answer is read.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The host side of `sandcron:executor/http-cleanup` for one execution.
pub struct CleanupHost {
    policy: Arc<HttpPolicy>,
    sink: OutputSink,
    /// The cleanup requests being sent, process-wide.
    background: TaskTracker,
    client: HttpClient,
    armed: BTreeMap<String, Armed>,
}

/// A request that passed the checks, ready to send.
struct Armed {
    method: http::Method,
    url: String,
    /// The URL as the server's log shows it: `scheme://host:port/path`.
    logged_url: String,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl CleanupHost {
    /// Keeps requests `policy` allows, noting refusals and sends in `sink`; sends them
    /// through `client`, tracked by `background`.
    pub fn new(
        policy: HttpPolicy,
        sink: OutputSink,
        background: TaskTracker,
        client: HttpClient,
    ) -> Self {
        Self {
            policy: Arc::new(policy),
            sink,
            background,
            client,
            armed: BTreeMap::new(),
        }
    }

    /// Checks a request before it is armed: a well-formed URL in the granted hosts, a
    /// valid method, headers by `wasi:http`'s rule.
    fn check(&self, request: Request) -> Result<Armed, String> {
        let uri: http::Uri = request
            .url
            .parse()
            .map_err(|e| format!("http-cleanup: url {:?} is not valid: {e}", request.url))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        let (Some(host), Some(port)) =
            (uri.host(), uri.port_u16().or_else(|| default_port(scheme)))
        else {
            return Err(format!(
                "http-cleanup: url {:?} must be an absolute http:// or https:// URL",
                request.url
            ));
        };
        if !matches!(scheme, "http" | "https") {
            return Err(format!(
                "http-cleanup: url {:?} must be an absolute http:// or https:// URL",
                request.url
            ));
        }
        let method = http::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("http-cleanup: {:?} is not a valid method", request.method))?;
        if request.body.len() > MAX_BODY {
            return Err(format!(
                "http-cleanup: the body is larger than {MAX_BODY} bytes"
            ));
        }
        let authority = uri.authority().map_or("", |a| a.as_str());
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let headers = headers::guest_headers(&request.headers, request.body.len(), authority)
            .map_err(|reason| {
                let text = format!("http-cleanup: request to {} refused: {reason}", request.url);
                self.sink.host_note(&text);
                text
            })?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.policy
            .check_target(&Target { scheme, host, port })
            .map_err(|reason| {
                let text = format!("http-cleanup: request to {} denied: {reason}", request.url);
                self.sink.host_note(&text);
                text
            })?;
        Ok(Armed {
            method,
            logged_url: logged_url(&uri, port),
            url: request.url,
            headers,
            body: request.body,
        })
    }
}

impl Host for CleanupHost {
    async fn arm(&mut self, key: String, request: Request) -> Result<(), String> {
        let request = self.check(request)?;
        if self.armed.len() >= MAX_ARMED && !self.armed.contains_key(&key) {
            return Err(format!(
                "http-cleanup: at most {MAX_ARMED} requests may be armed at once"
            ));
        }
        self.armed.insert(key, request);
        Ok(())
    }

    async fn disarm(&mut self, key: String) {
        self.armed.remove(&key);
    }
}

impl Drop for CleanupHost {
    fn drop(&mut self) {
        for (key, request) in std::mem::take(&mut self.armed) {
            self.sink.host_note(&format!(
                "http-cleanup: the execution ended with {key:?} armed: sending {} {}",
                request.method, request.url
            ));
            let (policy, sink) = (self.policy.clone(), self.sink.clone());
            let client = self.client.clone();
            let send = async move { send(&policy, &sink, &client, &key, request).await };
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(self.background.track_future(send));
                }
                Err(_) => tracing::warn!("http-cleanup: no async runtime to send a request on"),
            }
        }
    }
}

/// Sends one armed request and notes its status.
async fn send(
    policy: &HttpPolicy,
    sink: &OutputSink,
    client: &HttpClient,
    key: &str,
    request: Armed,
) {
    let url = request.url.clone();
    let logged_url = request.logged_url.clone();
    let sent = tokio::time::timeout(SEND_TIMEOUT, async {
        let body = Full::new(Bytes::from(request.body))
            .map_err(|never| match never {})
            .boxed_unsync();
        let mut built = http::Request::builder()
            .method(request.method)
            .uri(&request.url)
            .body(body)
            .map_err(|e| format!("the request is not valid: {e}"))?;
        *built.headers_mut() = request.headers;
        let request = built;
        let options = wasmtime_wasi_http::RequestOptions {
            connect_timeout: Some(SEND_TIMEOUT),
            first_byte_timeout: Some(SEND_TIMEOUT),
            between_bytes_timeout: Some(SEND_TIMEOUT),
        };
        let (response, io) = super::send_checked(policy, sink, client, request, Some(options))
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        // Read the body to its end, driving the connection meanwhile, so that it finishes
        // cleanly; the status is the answer either way.
        let drain = async { tokio::join!(response.into_body().collect(), Box::into_pin(io)) };
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
        Ok::<_, String>(status)
    })
    .await;
    let outcome = match sent {
        Ok(Ok(status)) => format!("answered {status}"),
        Ok(Err(e)) => format!("failed: {e}"),
        Err(_) => format!("got no answer within {}s", SEND_TIMEOUT.as_secs()),
    };
    tracing::info!(key, url = logged_url, outcome, "http-cleanup request sent");
    sink.host_note(&format!("http-cleanup: {key:?} to {url} {outcome}"));
}

/// `uri` as the server's log shows it, `scheme://host:port/path`: without its query or
/// user info, where a secret may be.
fn logged_url(uri: &http::Uri, port: u16) -> String {
    format!(
        "{}://{}:{port}{}",
        uri.scheme_str().unwrap_or_default(),
        uri.host().unwrap_or_default(),
        uri.path()
    )
}

/// Adds `sandcron:executor/http-cleanup` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut CleanupHost,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasSelf<CleanupHost>>(linker, get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_shows_no_query_nor_user_info() {
        for (url, port, logged) in [
            (
                "https://ann:hunter2@api.example.com/v1/stop?token=s3cret&x=1",
                443,
                "https://api.example.com:443/v1/stop",
            ),
            (
                "http://[::1]:8080/tasks/7?key=s3cret",
                8080,
                "http://[::1]:8080/tasks/7",
            ),
            ("http://127.0.0.1", 80, "http://127.0.0.1:80/"),
        ] {
            let uri: http::Uri = url.parse().unwrap();
            assert_eq!(logged_url(&uri, port), logged, "{url}");
        }
    }
}
