//! The process-wide client of outgoing `wasi:http` requests: HTTP/1.1 connections kept
//! per target and reused across executions (Dkron opens one per execution).
//!
//! A target is the scheme, the checked address the connection goes to, and, for `https`,
//! the server name its certificate is verified for. The caller ([`super::send_checked`])
//! has checked the address against the execution's grant; the connection is made to that
//! address and no other, so a DNS answer that changes after the check cannot redirect it.
//!
//! A connection goes back to the pool when the response body has been read to its end (a
//! body dropped half-read closes its connection), and is taken again only if it is still
//! open, has been idle for less than [`IDLE_TIMEOUT`], and is ready for a request. A
//! request that a kept connection could not even start sending (the server had closed it)
//! is sent again on a new one. Per-request timeouts (connect, first byte, between bytes)
//! are those of wasmtime-wasi-http's default client. This is plumbing, not a policy: it
//! checks nothing.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// How long a connection may stay idle in the pool before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// At most this many idle connections are kept per target.
const MAX_IDLE_PER_TARGET: usize = 32;
/// At most this many targets are kept; past it, a returned connection is closed.
const MAX_TARGETS: usize = 256;
/// How long a kept connection may take to say it is ready for the next request (its
/// previous exchange is being wound up by its task).
const READY_WAIT: Duration = Duration::from_millis(100);
/// The timeouts wasmtime-wasi-http uses when a request gives none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// What a connection is kept for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Target {
    address: SocketAddr,
    /// The name the certificate is verified for; `None` for plain HTTP.
    tls_name: Option<ServerName<'static>>,
}

struct Idle {
    sender: SendRequest<WasiBody>,
    since: Instant,
}

/// The kept connections; cheap to clone (clones share them).
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    idle: Mutex<HashMap<Target, Vec<Idle>>>,
    tls: tokio_rustls::TlsConnector,
    connections_made: std::sync::atomic::AtomicU64,
}

impl Default for HttpClient {
    fn default() -> Self {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let config = rustls::ClientConfig::builder_with_provider(
            rustls::crypto::ring::default_provider().into(),
        )
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
        let config = match config {
            Ok(config) => config,
            // The ring provider supports the default versions; this cannot happen.
            Err(error) => unreachable!("rustls rejects its own defaults: {error}"),
        };
        Self {
            inner: Arc::new(Inner {
                idle: Mutex::new(HashMap::new()),
                tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
                connections_made: Default::default(),
            }),
        }
    }
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("connections_made", &self.connections_made())
            .finish()
    }
}

/// The future that reports errors of the connection after the response head; a kept
/// connection runs on a task of its own, so its errors reach the body instead.
pub type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

impl HttpClient {
    /// How many connections this client has made since it was created.
    pub fn connections_made(&self) -> u64 {
        self.inner
            .connections_made
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends `request` to `address` (checked by the caller), over a kept connection when
    /// one is free. The request's `Host` header must be set; its URI is sent in origin
    /// form.
    pub async fn send(
        &self,
        mut request: http::Request<WasiBody>,
        address: SocketAddr,
        options: Option<RequestOptions>,
    ) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
        let uri = request.uri();
        let tls_name = match uri.scheme_str() {
            Some("https") => {
                let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                Some(ServerName::try_from(host)?.to_owned())
            }
            _ => None,
        };
        let target = Target { address, tls_name };
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        *request.uri_mut() = http::Uri::builder()
            .path_and_query(path)
            .build()
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        let timeout = |t: Option<Duration>| t.unwrap_or(DEFAULT_TIMEOUT);
        let connect_timeout = timeout(options.and_then(|o| o.connect_timeout));
        let first_byte_timeout = timeout(options.and_then(|o| o.first_byte_timeout));
        let between_bytes_timeout = timeout(options.and_then(|o| o.between_bytes_timeout));

        let kept = match self.checkout(&target).await {
            Some(mut kept) => {
                match tokio::time::timeout(first_byte_timeout, kept.try_send_request(request)).await
                {
                    Err(_) => return Err(Error::ConnectionReadTimeout),
                    Ok(Ok(response)) => Ok((kept, response)),
                    // The kept connection closed before the request left: a new one.
                    Ok(Err(mut error)) => match error.take_message() {
                        Some(request) => Err(request),
                        None => return Err(Error::from(error.into_error())),
                    },
                }
            }
            None => Err(request),
        };
        let (sender, response) = match kept {
            Ok(exchanged) => exchanged,
            Err(request) => {
                let mut fresh = self.connect(&target, connect_timeout).await?;
                let response =
                    tokio::time::timeout(first_byte_timeout, fresh.send_request(request))
                        .await
                        .map_err(|_| Error::ConnectionReadTimeout)??;
                (fresh, response)
            }
        };
        let between_bytes_timeout = between_bytes_timeout.max(Duration::from_nanos(1));
        let mut interval = tokio::time::interval(between_bytes_timeout);
        interval.reset();
        let client = self.clone();
        let response = response.map(|incoming| {
            PooledBody {
                incoming,
                timeout: interval,
                finished: false,
                giveback: Some((client, target, sender)),
            }
            .boxed_unsync()
        });
        Ok((response, Box::new(async { Ok(()) }) as IoFuture))
    }

    /// A kept connection to `target` that is open and ready, if there is one.
    async fn checkout(&self, target: &Target) -> Option<SendRequest<WasiBody>> {
        loop {
            let idle = {
                let mut kept = self.inner.idle.lock().ok()?;
                let list = kept.get_mut(target)?;
                let idle = list.pop();
                if list.is_empty() {
                    kept.remove(target);
                }
                idle?
            };
            let Idle { mut sender, since } = idle;
            if sender.is_closed() || since.elapsed() > IDLE_TIMEOUT {
                continue;
            }
            if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, sender.ready()).await {
                return Some(sender);
            }
        }
    }

    /// Keeps `sender` for the next request to `target`, if there is room.
    fn give_back(&self, target: Target, sender: SendRequest<WasiBody>) {
        if sender.is_closed() {
            return;
        }
        let Ok(mut kept) = self.inner.idle.lock() else {
            return;
        };
        if !kept.contains_key(&target) && kept.len() >= MAX_TARGETS {
            kept.retain(|_, list| {
                list.retain(|idle| !idle.sender.is_closed() && idle.since.elapsed() < IDLE_TIMEOUT);
                !list.is_empty()
            });
            if kept.len() >= MAX_TARGETS {
                return;
            }
        }
        let list = kept.entry(target).or_default();
        list.retain(|idle| !idle.sender.is_closed() && idle.since.elapsed() < IDLE_TIMEOUT);
        if list.len() < MAX_IDLE_PER_TARGET {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// A new connection to `target`, its I/O driven by a task of its own.
    async fn connect(
        &self,
        target: &Target,
        connect_timeout: Duration,
    ) -> Result<SendRequest<WasiBody>, Error> {
        let connect = async {
            let stream = TcpStream::connect(target.address)
                .await
                .map_err(Error::Connect)?;
            let _ = stream.set_nodelay(true);
            let stream: Box<dyn Stream> = match &target.tls_name {
                Some(name) => Box::new(
                    self.inner
                        .tls
                        .connect(name.clone(), stream)
                        .await
                        .map_err(Error::Tls)?,
                ),
                None => Box::new(stream),
            };
            let (sender, connection) = hyper::client::conn::http1::Builder::new()
                .handshake(TokioIo::new(stream))
                .await?;
            Ok::<_, Error>((sender, connection))
        };
        let (sender, connection) = tokio::time::timeout(connect_timeout, connect)
            .await
            .map_err(|_| Error::ConnectionTimeout)??;
        self.inner
            .connections_made
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "http: a kept connection ended with an error");
            }
        });
        Ok(sender)
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A response body that applies the between-bytes timeout and gives its connection back
/// to the pool once read to the end.
struct PooledBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
    finished: bool,
    giveback: Option<(HttpClient, Target, SendRequest<WasiBody>)>,
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(None) => {
                this.finished = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => {
                this.giveback = None;
                Poll::Ready(Some(Err(if error.is_timeout() {
                    Error::HttpResponseTimeout
                } else {
                    Error::from(error)
                })))
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(this.timeout.poll_tick(cx));
                this.giveback = None;
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        if (self.finished || self.incoming.is_end_stream())
            && let Some((client, target, sender)) = self.giveback.take()
        {
            client.give_back(target, sender);
        }
    }
}
