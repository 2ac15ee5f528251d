//! The base WASI a Rust component needs: clocks, random, environment, exit and stdio.
//! Given to every execution.
//!
//! The guest's stdout and stderr go into the execution's output ([`GuestStdio`]). It gets
//! no environment variables, no arguments, no preopened directories, empty stdin, and no
//! sockets or name lookups (wasmtime-wasi denies those unless enabled), so the filesystem
//! and socket interfaces it may import are linked but reach nothing.

use bytes::Bytes;
use wasmtime::component::Linker;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::CapabilityStates;
use super::unit::{Capability, Holds};
use crate::output::{OutputSink, Stream};

/// The unit: WASI p2 (but `wasi:http`, which is the `http` capability's).
pub struct Wasi;

impl Capability for Wasi {
    const NAME: &'static str = "wasi";
    const INTERFACES: &'static [&'static str] = &[
        "wasi:cli/",
        "wasi:clocks/",
        "wasi:filesystem/",
        "wasi:io/",
        "wasi:random/",
        "wasi:sockets/",
    ];
    type Policy = ();
    type Shared = ();
    type State = WasiCtx;

    /// The WASI context of one execution: stdio into `sink`, nothing else.
    fn new_state(_: &(), sink: &OutputSink, _: &()) -> WasiCtx {
        WasiCtx::builder()
            .stdout(GuestStdio::new(sink.clone(), Stream::Stdout))
            .stderr(GuestStdio::new(sink.clone(), Stream::Stderr))
            .build()
    }

    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wasmtime_wasi::p2::add_to_linker_async(linker)
    }
}

/// wasmtime-wasi's linker reaches the WASI context and the resource table through this
/// view of the store's data.
impl WasiView for CapabilityStates {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
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
