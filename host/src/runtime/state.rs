//! What one execution's [`wasmtime::Store`] holds: every capability's state (the WASI and
//! HTTP contexts among them, and the resource table they share) and the memory limiter.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

use crate::capabilities::{CapabilityStates, CapabilityView, Grants, Shared};
use crate::output::OutputSink;

/// How many resources (streams, requests, pollables) a guest may hold at once.
const MAX_RESOURCES: usize = 10_000;
/// How many table elements a guest may have in all.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

/// The data of one execution's store.
pub struct ExecutionState {
    capabilities: CapabilityStates,
    pub(super) limiter: MemoryLimiter,
}

impl ExecutionState {
    /// State for one execution under `grants`, writing output into `sink`, reusing the
    /// process-wide `shared` state, with at most `memory_bytes` of linear memory in all.
    pub fn new(grants: &Grants, sink: &OutputSink, shared: &Shared, memory_bytes: u64) -> Self {
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Self {
            capabilities: CapabilityStates::new(grants, sink, shared, table),
            limiter: MemoryLimiter::new(memory_bytes),
        }
    }
}

// wasmtime's WASI and `wasi:http` linkers ask the store's data for these views; the
// capabilities build them.
impl WasiView for ExecutionState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.capabilities.ctx()
    }
}

impl WasiHttpView for ExecutionState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.capabilities.http()
    }
}

impl CapabilityView for ExecutionState {
    fn capabilities(&mut self) -> &mut CapabilityStates {
        &mut self.capabilities
    }
}

/// Caps the linear memory of all of an execution's memories together, and remembers
/// whether the cap was hit, so that the trap that usually follows is reported as what it
/// is.
pub struct MemoryLimiter {
    limit: usize,
    in_use: usize,
    /// Whether a growth was refused for going over the limit.
    pub exceeded: bool,
}

impl MemoryLimiter {
    fn new(limit: u64) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            in_use: 0,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let after = self.in_use - current.min(self.in_use) + desired;
        if after > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        self.in_use = after;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
