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

/// Host bindings of the `sandcron:executor/processor` world (`wit/processor.wit`): only
/// its export and the `processing` types are generated here; every import is the one
/// generated above, so the capabilities serve both worlds through one linker.
pub mod processor {
    wasmtime::component::bindgen!({
        world: "sandcron:executor/processor",
        path: "../wit",
        imports: { default: async },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "sandcron:executor/types": super::types,
            "sandcron:executor/output": super::output,
            "sandcron:executor/process": super::process,
            "sandcron:executor/secrets": super::secrets,
            "sandcron:executor/docker": super::docker,
            "sandcron:executor/nats": super::nats,
            "sandcron:executor/amqp": super::amqp,
            "sandcron:executor/kafka": super::kafka,
            "sandcron:executor/grpc": super::grpc,
            "sandcron:executor/http-cleanup": super::http_cleanup,
        },
    });

    pub use self::sandcron::executor::processing;
}
