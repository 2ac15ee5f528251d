//! End-to-end tests: the `sandcron` binary and the runtime against real processes, a real
//! HTTP server on loopback, the real brokers `scripts/peers up` starts (NATS, RabbitMQ,
//! tansu, the Pub/Sub emulator), a real container engine (podman) and AWS fake (moto), a
//! gRPC server in the test process, and real components (the built-ins, the SDK templates
//! in Rust, Python and JavaScript built with the tools `scripts/peers up` installs, and the
//! hostile fixtures in `tests/fixtures/hostile`).

mod after_run;
mod api;
mod api_tls;
mod burst;
mod config_file;
mod conformance;
mod deployment;
mod dkron_api;
mod docker;
mod ecs;
mod exec_cli;
mod grants_hold;
mod greeter;
mod grpc_executor;
mod hostile_compile;
mod hostile_load;
mod http_executor;
mod kafka_executor;
mod languages;
mod nats_executor;
mod observability;
mod peers;
mod prometheus;
mod pubsub_executor;
mod quotas;
mod rabbitmq_executor;
mod runtime_limits;
mod scheduler;
mod schemathesis;
mod sdk_template;
mod secrets;
mod store;
// Shared with the `cluster` test binary; each binary uses a part of it.
#[allow(dead_code)]
mod support;
mod tenants;
mod tls;
mod traces;
mod uploads;
