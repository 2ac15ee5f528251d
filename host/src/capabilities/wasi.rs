//! The base WASI a Rust component needs: clocks, random, environment, exit and stdio.
//!
//! The guest's stdout and stderr go into the execution's output. It gets no environment
//! variables, no arguments, no preopened directories, empty stdin, and no sockets or name
//! lookups (wasmtime-wasi denies those unless enabled), so the filesystem and socket
//! interfaces it may import are linked but reach nothing.

use wasmtime::component::Linker;
use wasmtime_wasi::{WasiCtx, WasiView};

use crate::capabilities::output::GuestStdio;
use crate::output::{OutputSink, Stream};

/// Adds the WASI p2 interfaces to `linker`.
pub fn add_to_linker<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)
}

/// The WASI context of one execution: stdio into `sink`, nothing else.
pub fn context(sink: &OutputSink) -> WasiCtx {
    WasiCtx::builder()
        .stdout(GuestStdio::new(sink.clone(), Stream::Stdout))
        .stderr(GuestStdio::new(sink.clone(), Stream::Stderr))
        .build()
}
