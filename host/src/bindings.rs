//! Host bindings of the `sandcron:executor` WIT package (`wit/executor.wit`).
//!
//! Generated once here; the runtime calls the `run` export through [`Executor`], and each
//! capability module implements the host side of its own interface. The standard WASI
//! interfaces are not generated again: they come from `wasmtime-wasi` and
//! `wasmtime-wasi-http`.

wasmtime::component::bindgen!({
    world: "sandcron:executor/executor",
    path: "../wit",
    imports: { default: async },
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});

pub use self::sandcron::executor::*;
