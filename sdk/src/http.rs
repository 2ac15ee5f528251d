//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! The host checks every request against the hosts the executor was granted before any
//! connection is made; a refused request is [`HttpError::Denied`]. Responses are read whole
//! into memory.
//!
//! ```ignore
//! use std::time::Duration;
//! use sandcron_sdk::http::Request;
//!
//! let response = Request::get("https://example.com/health")
//!     .header("Accept", "application/json")
//!     .timeout(Duration::from_secs(10))
//!     .send()?;
//! if response.status != 200 {
//!     return Err(sandcron_sdk::Failure::Failed(format!("health check: {}", response.status)));
//! }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::Failure;
use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, HeaderError, IncomingBody, IncomingResponse, Method,
    OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::poll::{Pollable, poll};
use crate::bindings::wasi::io::streams::StreamError;

/// Bytes asked for per read of the response body.
const READ_CHUNK: u64 = 64 * 1024;

/// An HTTP request. Build it with [`Request::new`] or [`Request::get`] and the setters, or
/// fill the fields directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, such as `GET` or `POST`. The standard methods are matched without regard
    /// to case and sent in upper case; any other token is sent as written.
    pub method: String,
    /// An absolute `http://` or `https://` URL. `user:password@` in it becomes a Basic
    /// `Authorization` header.
    pub url: String,
    /// Request headers, in order. `Content-Length` is added for a body when absent.
    pub headers: Vec<(String, String)>,
    /// The request body; empty for none.
    pub body: Vec<u8>,
    /// The longest the whole exchange may take, from connecting to the last body byte.
    /// `None` leaves only the host's limits and the execution's deadline.
    pub timeout: Option<Duration>,
}

impl Request {
    /// A request with `method` to `url`, no headers, no body and no timeout.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// A `GET` request to `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the timeout of the whole exchange.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole response; see [`send`].
    pub fn send(&self) -> Result<Response, HttpError> {
        send(self)
    }
}

/// A response, read to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, such as 200.
    pub status: u16,
    /// Response headers as received; names in lower case as the host gives them, values
    /// decoded as UTF-8 with invalid bytes replaced.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name`, matched without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text, with invalid UTF-8 replaced.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host refused the request: the URL (carried here) is not in the executor's
    /// allowed hosts.
    Denied(String),
    /// The request's timeout ran out before the response was read whole.
    Timeout,
    /// No connection could be made or kept (DNS failure, connection refused or reset, TLS
    /// handshake failure). A retry may succeed.
    Connect(String),
    /// The peer answered with something that is not valid HTTP, or the exchange broke in a
    /// way a retry will not fix.
    Protocol(String),
    /// The request itself is wrong (a bad URL, method or header); nothing was sent.
    InvalidRequest(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Denied(url) => {
                write!(f, "request to {url} denied: not in the allowed hosts")
            }
            HttpError::Timeout => f.write_str("the request timed out"),
            HttpError::Connect(text) | HttpError::Protocol(text) => f.write_str(text),
            HttpError::InvalidRequest(text) => write!(f, "invalid request: {text}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for Failure {
    /// `Denied` → `Failure::Denied`; `Connect` and `Timeout` → `Failure::Unavailable` (a
    /// retry may succeed); `Protocol` and `InvalidRequest` → `Failure::Failed`. The text is
    /// prefixed with `http: `, naming the capability.
    fn from(error: HttpError) -> Self {
        let text = format!("http: {error}");
        match error {
            HttpError::Denied(_) => Failure::Denied(text),
            HttpError::Timeout | HttpError::Connect(_) => Failure::Unavailable(text),
            HttpError::Protocol(_) | HttpError::InvalidRequest(_) => Failure::Failed(text),
        }
    }
}

/// Sends `request` and blocks until the whole response is read, the timeout runs out, or
/// the request fails.
pub fn send(request: &Request) -> Result<Response, HttpError> {
    let url = Url::parse(&request.url)?;
    let method = method(&request.method)?;
    let deadline = request.timeout.map(|timeout| {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        monotonic_clock::now().saturating_add(nanos)
    });

    let headers = Fields::new();
    for (name, value) in &request.headers {
        headers
            .append(name, value.as_bytes())
            .map_err(|e| header_error(name, e))?;
    }
    let has = |name: &str| {
        request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let sends_body =
        !request.body.is_empty() || matches!(method, Method::Post | Method::Put | Method::Patch);
    if sends_body && !has("content-length") {
        let length = request.body.len().to_string();
        headers
            .append("content-length", length.as_bytes())
            .map_err(|e| header_error("content-length", e))?;
    }
    if let Some(userinfo) = &url.userinfo
        && !has("authorization")
    {
        let value = format!("Basic {}", base64(&percent_decode(userinfo)));
        headers
            .append("authorization", value.as_bytes())
            .map_err(|e| header_error("authorization", e))?;
    }

    let outgoing = OutgoingRequest::new(headers);
    let invalid = |what: String| move |()| HttpError::InvalidRequest(what);
    outgoing.set_method(&method).map_err(invalid(format!(
        "{:?} is not a valid method",
        request.method
    )))?;
    outgoing
        .set_scheme(Some(&url.scheme))
        .map_err(invalid(format!("{:?} has an invalid scheme", request.url)))?;
    outgoing
        .set_authority(Some(&url.authority))
        .map_err(invalid(format!("{:?} has an invalid host", request.url)))?;
    outgoing
        .set_path_with_query(Some(&url.path_with_query))
        .map_err(invalid(format!("{:?} has an invalid path", request.url)))?;
    let body = outgoing
        .body()
        .map_err(|()| HttpError::Protocol("the request body was already taken".into()))?;

    let options = request.timeout.map(|timeout| {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let options = RequestOptions::new();
        // A host may not support some of these; the deadline below applies regardless.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        options
    });

    let context = ErrorContext {
        url: &request.url,
        host: &url.authority,
    };
    let future = outgoing_handler::handle(outgoing, options).map_err(|code| context.error(code))?;
    // When the body cannot be sent, the exchange has failed and the response future says
    // why, which is the better error. A server may also answer before reading the whole body
    // (a 413, say): then the answer is what counts, as in Go. So the response decides.
    let _ = write_body(body, &request.body, deadline, &context);
    let response = wait_for_response(&future, deadline, &context)?;
    read_response(response, deadline, &context)
}

/// Writes `data` through the request's body stream, respecting `check-write`, then
/// finishes the body.
fn write_body(
    body: OutgoingBody,
    data: &[u8],
    deadline: Option<u64>,
    context: &ErrorContext<'_>,
) -> Result<(), HttpError> {
    if !data.is_empty() {
        let stream = body.write().map_err(|()| {
            HttpError::Protocol("the request body stream was already taken".into())
        })?;
        let mut rest = data;
        while !rest.is_empty() {
            let permitted = stream.check_write().map_err(|e| context.stream_error(e))?;
            if permitted == 0 {
                wait(&stream.subscribe(), deadline)?;
                continue;
            }
            let n = rest
                .len()
                .min(usize::try_from(permitted).unwrap_or(usize::MAX));
            stream
                .write(&rest[..n])
                .map_err(|e| context.stream_error(e))?;
            rest = &rest[n..];
        }
        // The peer may close the body as soon as it has all of it (a known Content-Length):
        // `Closed` once everything is written is success.
        let done = |result: Result<_, StreamError>| match result {
            Ok(_) | Err(StreamError::Closed) => Ok(()),
            Err(error) => Err(context.stream_error(error)),
        };
        done(stream.flush())?;
        wait(&stream.subscribe(), deadline)?;
        done(stream.check_write().map(drop))?;
    }
    OutgoingBody::finish(body, None).map_err(|code| context.error(code))
}

/// Blocks until the response head arrives.
fn wait_for_response(
    future: &FutureIncomingResponse,
    deadline: Option<u64>,
    context: &ErrorContext<'_>,
) -> Result<IncomingResponse, HttpError> {
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(context.error(code)),
            Some(Err(())) => {
                return Err(HttpError::Protocol("the response was already taken".into()));
            }
            None => wait(&future.subscribe(), deadline)?,
        }
    }
}

/// Reads the status, the headers and the whole body.
fn read_response(
    response: IncomingResponse,
    deadline: Option<u64>,
    context: &ErrorContext<'_>,
) -> Result<Response, HttpError> {
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let incoming = response
        .consume()
        .map_err(|()| HttpError::Protocol("the response body was already taken".into()))?;
    let stream = incoming
        .stream()
        .map_err(|()| HttpError::Protocol("the response body stream was already taken".into()))?;
    let mut body = Vec::new();
    loop {
        match stream.read(READ_CHUNK) {
            Ok(chunk) if chunk.is_empty() => wait(&stream.subscribe(), deadline)?,
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(error) => return Err(context.stream_error(error)),
        }
    }
    // Children before parents: the stream, then the body, then the response.
    drop(stream);
    drop(IncomingBody::finish(incoming));
    drop(response);
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Blocks until `pollable` is ready, or fails with `Timeout` when `deadline` (a monotonic
/// clock instant) comes first.
fn wait(pollable: &Pollable, deadline: Option<u64>) -> Result<(), HttpError> {
    let Some(deadline) = deadline else {
        pollable.block();
        return Ok(());
    };
    let timer = monotonic_clock::subscribe_instant(deadline);
    let ready = poll(&[pollable, &timer]);
    if ready.contains(&0) {
        Ok(())
    } else {
        Err(HttpError::Timeout)
    }
}

/// What an error message needs to name.
struct ErrorContext<'a> {
    url: &'a str,
    host: &'a str,
}

impl ErrorContext<'_> {
    /// Turns a `wasi:http` error code into an error a user can act on.
    fn error(&self, code: ErrorCode) -> HttpError {
        let host = self.host;
        let connect = |text: String| HttpError::Connect(text);
        let invalid = |text: &str| HttpError::InvalidRequest(text.to_owned());
        let protocol = |text: String| HttpError::Protocol(text);
        match code {
            ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
                HttpError::Denied(self.url.to_owned())
            }
            ErrorCode::DnsTimeout
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => HttpError::Timeout,
            ErrorCode::DnsError(payload) => connect(match payload.rcode {
                Some(rcode) => format!("cannot resolve {host}: {rcode}"),
                None => format!("cannot resolve {host}"),
            }),
            ErrorCode::DestinationNotFound => connect(format!("cannot resolve {host}")),
            ErrorCode::DestinationUnavailable => connect(format!("{host} is unavailable")),
            ErrorCode::DestinationIpUnroutable => connect(format!("{host} is unreachable")),
            ErrorCode::ConnectionRefused => connect(format!("connection to {host} refused")),
            ErrorCode::ConnectionTerminated => {
                connect(format!("connection to {host} closed unexpectedly"))
            }
            ErrorCode::ConnectionLimitReached => connect(format!("too many connections to {host}")),
            ErrorCode::TlsProtocolError => connect(format!("TLS handshake with {host} failed")),
            ErrorCode::TlsAlertReceived(alert) => connect(format!(
                "TLS alert from {host}: {}",
                alert.alert_message.as_deref().unwrap_or("no message")
            )),
            ErrorCode::TlsCertificateError => {
                protocol(format!("the TLS certificate of {host} was rejected"))
            }
            ErrorCode::HttpRequestLengthRequired => invalid("the server requires a Content-Length"),
            ErrorCode::HttpRequestBodySize(_) => {
                invalid("the body does not match its Content-Length")
            }
            ErrorCode::HttpRequestMethodInvalid => invalid("the method is not valid"),
            ErrorCode::HttpRequestUriInvalid => invalid("the URL is not valid"),
            ErrorCode::HttpRequestUriTooLong => invalid("the URL is too long"),
            ErrorCode::HttpRequestHeaderSectionSize(_) | ErrorCode::HttpRequestHeaderSize(_) => {
                invalid("the headers are too large")
            }
            ErrorCode::HttpRequestTrailerSectionSize(_) | ErrorCode::HttpRequestTrailerSize(_) => {
                invalid("the trailers are too large")
            }
            ErrorCode::HttpResponseIncomplete => {
                protocol(format!("the response from {host} was incomplete"))
            }
            ErrorCode::HttpResponseHeaderSectionSize(_) | ErrorCode::HttpResponseHeaderSize(_) => {
                protocol(format!("the response headers from {host} are too large"))
            }
            ErrorCode::HttpResponseBodySize(_) => {
                protocol(format!("the response body from {host} is too large"))
            }
            ErrorCode::HttpResponseTrailerSectionSize(_)
            | ErrorCode::HttpResponseTrailerSize(_) => {
                protocol(format!("the response trailers from {host} are too large"))
            }
            ErrorCode::HttpResponseTransferCoding(coding)
            | ErrorCode::HttpResponseContentCoding(coding) => protocol(format!(
                "the response from {host} has an unsupported coding {}",
                coding.as_deref().unwrap_or("")
            )),
            ErrorCode::HttpUpgradeFailed => protocol(format!("upgrade with {host} failed")),
            ErrorCode::HttpProtocolError => {
                protocol(format!("{host} did not answer with valid HTTP"))
            }
            ErrorCode::LoopDetected => protocol(format!("request loop detected at {host}")),
            ErrorCode::ConfigurationError => {
                protocol("the host's HTTP client is misconfigured".to_owned())
            }
            ErrorCode::InternalError(text) => protocol(format!(
                "request to {host} failed: {}",
                text.as_deref().unwrap_or("internal error")
            )),
        }
    }

    /// Turns a body stream error into an error, using the HTTP error code behind it if any.
    fn stream_error(&self, error: StreamError) -> HttpError {
        match error {
            StreamError::Closed => HttpError::Connect(format!(
                "connection to {} closed during the exchange",
                self.host
            )),
            StreamError::LastOperationFailed(error) => {
                match crate::bindings::wasi::http::types::http_error_code(&error) {
                    Some(code) => self.error(code),
                    None => HttpError::Connect(format!(
                        "connection to {} failed: {}",
                        self.host,
                        error.to_debug_string()
                    )),
                }
            }
        }
    }
}

fn header_error(name: &str, error: HeaderError) -> HttpError {
    HttpError::InvalidRequest(match error {
        HeaderError::InvalidSyntax => format!("header {name:?} is not a valid header"),
        HeaderError::Forbidden => format!("header {name:?} cannot be set by an executor"),
        HeaderError::Immutable => format!("header {name:?} cannot be changed"),
    })
}

/// Maps a method name to the `wasi:http` method, matching standard names without regard to
/// case.
fn method(name: &str) -> Result<Method, HttpError> {
    let valid_token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid_token {
        return Err(HttpError::InvalidRequest(format!(
            "{name:?} is not a valid method"
        )));
    }
    Ok(match name.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        _ => Method::Other(name.to_owned()),
    })
}

/// The parts of a URL that `wasi:http` takes separately.
#[derive(Debug)]
struct Url {
    scheme: Scheme,
    authority: String,
    path_with_query: String,
    userinfo: Option<String>,
}

impl Url {
    fn parse(text: &str) -> Result<Url, HttpError> {
        let invalid = |why: &str| HttpError::InvalidRequest(format!("url {text:?} {why}"));
        let trimmed = text.trim();
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| invalid("is not absolute: write it like https://example.com/path"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(invalid("must start with http:// or https://")),
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo.to_owned()), host),
            None => (None, authority),
        };
        if host.is_empty() || host.starts_with(':') {
            return Err(invalid("has no host"));
        }
        if host.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(invalid("has an invalid host"));
        }
        let without_fragment = rest.split('#').next().unwrap_or_default();
        let path_with_query = match without_fragment {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{}", escape(p)),
            p => escape(p),
        };
        Ok(Url {
            scheme,
            authority: host.to_owned(),
            path_with_query,
            userinfo,
        })
    }
}

/// Percent-encodes the bytes that may not appear in a request target (spaces, controls,
/// non-ASCII and a few punctuation marks), leaving existing escapes alone.
fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b <= b' ' || b >= 0x7f || b"\"<>\\^`{|}".contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// Decodes `%XX` escapes; anything malformed is kept as written.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(value)) => {
                out.push(value);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Standard base64 with padding, for the Basic `Authorization` header.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn splits_a_url_into_scheme_authority_and_path() {
        let u = url("https://example.com:8443/a/b?x=1&y=2#frag");
        assert!(matches!(u.scheme, Scheme::Https));
        assert_eq!(u.authority, "example.com:8443");
        assert_eq!(u.path_with_query, "/a/b?x=1&y=2");
        assert_eq!(u.userinfo, None);
    }

    #[test]
    fn an_empty_path_is_the_root() {
        assert_eq!(url("http://example.com").path_with_query, "/");
        assert_eq!(url("http://example.com?q=1").path_with_query, "/?q=1");
        assert_eq!(url("HTTP://[::1]:8080").authority, "[::1]:8080");
    }

    #[test]
    fn userinfo_is_taken_out_of_the_authority() {
        let u = url("http://user:p%40ss@example.com/");
        assert_eq!(u.authority, "example.com");
        assert_eq!(u.userinfo.as_deref(), Some("user:p%40ss"));
        assert_eq!(base64(&percent_decode("user:p%40ss")), "dXNlcjpwQHNz");
    }

    #[test]
    fn spaces_in_the_path_are_escaped() {
        assert_eq!(url("http://h/a b?c=d e").path_with_query, "/a%20b?c=d%20e");
        assert_eq!(url("http://h/caf\u{e9}").path_with_query, "/caf%C3%A9");
    }

    #[test]
    fn refuses_urls_it_cannot_send() {
        for bad in [
            "example.com",
            "ftp://example.com/",
            "http://",
            "http:///path",
            "http://:80/",
        ] {
            let error = Url::parse(bad).unwrap_err();
            assert!(
                matches!(error, HttpError::InvalidRequest(_)),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn standard_methods_match_without_case() {
        assert!(matches!(method("get").unwrap(), Method::Get));
        assert!(matches!(method("Patch").unwrap(), Method::Patch));
        assert!(matches!(method("PURGE").unwrap(), Method::Other(m) if m == "PURGE"));
        assert!(method("").is_err());
        assert!(method("GET /").is_err());
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn errors_convert_to_failures_by_kind() {
        let denied: Failure = HttpError::Denied("https://x.test/".into()).into();
        assert!(
            matches!(&denied, Failure::Denied(t) if t == "http: request to https://x.test/ denied: not in the allowed hosts")
        );
        assert!(matches!(
            Failure::from(HttpError::Timeout),
            Failure::Unavailable(_)
        ));
        assert!(matches!(
            Failure::from(HttpError::Connect("refused".into())),
            Failure::Unavailable(_)
        ));
        assert!(matches!(
            Failure::from(HttpError::Protocol("bad".into())),
            Failure::Failed(_)
        ));
        assert!(matches!(
            Failure::from(HttpError::InvalidRequest("bad".into())),
            Failure::Failed(_)
        ));
    }
}
