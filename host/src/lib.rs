//! Sandcron: a job scheduler whose executors are sandboxed WebAssembly components.
//!
//! The data path of an execution runs one way: the caller (the CLI's `exec` today, the
//! scheduler later) builds an [`runtime::ExecutionRequest`], the [`runtime::Runtime`] runs
//! the executor component with the [`capabilities::Grants`] it was given, every byte of
//! output goes through an [`output::OutputSink`], and the caller gets an
//! [`runtime::ExecutionOutcome`] back. See `docs/architecture.md` for the map.

pub mod after_run;
pub mod api;
pub mod app;
pub mod bindings;
pub mod capabilities;
pub mod cli;
pub mod console;
pub mod executor_keys;
pub mod executors;
pub mod helper_process;
pub mod jobs;
pub mod memory;
pub mod output;
pub mod private_files;
pub mod registry;
pub mod runtime;
pub mod scheduler;
pub mod secrets;
pub mod secrets_at_rest;
pub mod store;
pub mod telemetry;
pub mod tenants;
