//! Capabilities: everything an executor can reach outside its sandbox, one module each.
//!
//! Each module owns its policy type (what a grant allows), its per-execution state, the
//! host side of its WIT interface, and the one function that adds it to the linker, in the
//! spirit of Spin's factors. The runtime knows only [`Grants`], [`CapabilityStates`] and
//! [`add_to_linker`]; adding a capability touches its module and the lists below.
//!
//! Invariants: a call outside the grant fails with an error that names the capability and
//! the target, and makes no connection and spawns nothing; no capability module imports
//! another; the default [`Grants`] allow nothing.

pub mod http;
pub mod output;
pub mod process;
pub mod wasi;

use wasmtime::component::Linker;

use crate::output::OutputSink;

/// What one execution may do: one policy per capability. The default grants nothing.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// Outgoing HTTP (`wasi:http/outgoing-handler`).
    pub http: http::HttpPolicy,
    /// Running programs on the host (`sandcron:executor/process`).
    pub process: process::ProcessPolicy,
}

/// The per-execution state of every capability.
pub struct CapabilityStates {
    /// The `output` interface.
    pub output: output::OutputHost,
    /// The `process` interface.
    pub process: process::ProcessHost,
    /// The checks run on every outgoing HTTP request.
    pub http: http::HttpHooks,
}

impl CapabilityStates {
    /// Fresh state for one execution that may do what `grants` allow.
    pub fn new(grants: &Grants, sink: &OutputSink) -> Self {
        Self {
            output: output::OutputHost::new(sink.clone()),
            process: process::ProcessHost::new(grants.process.clone(), sink.clone()),
            http: http::HttpHooks::new(grants.http.clone(), sink.clone()),
        }
    }
}

/// What a store's data must offer for the capabilities to be linked.
pub trait CapabilityView:
    wasmtime_wasi::WasiView + wasmtime_wasi_http::WasiHttpView + 'static
{
    /// The per-execution capability states.
    fn capabilities(&mut self) -> &mut CapabilityStates;
}

/// Adds every capability's interfaces to `linker`.
pub fn add_to_linker<T: CapabilityView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasi::add_to_linker(linker)?;
    output::add_to_linker(linker, |t: &mut T| &mut t.capabilities().output)?;
    process::add_to_linker(linker, |t: &mut T| &mut t.capabilities().process)?;
    http::add_to_linker(linker)?;
    Ok(())
}
