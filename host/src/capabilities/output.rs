//! The `output` interface, and the guest's WASI stdout and stderr, both written into the
//! execution's [`OutputSink`]. Always granted.

use bytes::Bytes;
use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::bindings::output::{self as wit, Host};
use crate::output::{OutputSink, Stream};

/// The host side of `sandcron:executor/output` for one execution.
pub struct OutputHost {
    sink: OutputSink,
}

impl OutputHost {
    /// Writes into `sink`.
    pub fn new(sink: OutputSink) -> Self {
        Self { sink }
    }
}

impl Host for OutputHost {
    async fn write(&mut self, channel: wit::Channel, chunk: Vec<u8>) {
        let stream = match channel {
            wit::Channel::Stdout => Stream::Stdout,
            wit::Channel::Stderr => Stream::Stderr,
        };
        self.sink.write(stream, &chunk);
    }
}

/// Adds `sandcron:executor/output` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut OutputHost,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasSelf<OutputHost>>(linker, get)
}

/// The guest's WASI stdout or stderr: every write goes into the sink at once.
#[derive(Clone)]
pub struct GuestStdio {
    sink: OutputSink,
    stream: Stream,
}

impl GuestStdio {
    /// A stdio stream writing into `sink` as `stream`.
    pub fn new(sink: OutputSink, stream: Stream) -> Self {
        Self { sink, stream }
    }
}

impl IsTerminal for GuestStdio {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStdio {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestStdio {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.sink.write(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestStdio {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for GuestStdio {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.sink.write(self.stream, buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
