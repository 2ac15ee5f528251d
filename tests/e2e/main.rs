//! End-to-end tests: the `sandcron` binary and the runtime against real processes, a real
//! HTTP server on loopback, a real container engine (podman) and AWS fake (moto), and real
//! components (the built-ins, the SDK template, and the hostile fixtures in
//! `tests/fixtures/hostile`).

mod api;
mod docker;
mod ecs;
mod exec_cli;
mod http_executor;
mod runtime_limits;
mod scheduler;
mod sdk_template;
mod secrets;
mod store;
mod support;
mod uploads;
