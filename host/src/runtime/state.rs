//! What one execution's [`wasmtime::Store`] holds: WASI and HTTP contexts, the resource
//! table they share, every capability's state, and the memory limiter.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capabilities::{self, CapabilityStates, CapabilityView, Grants, Shared};
use crate::output::OutputSink;

/// How many resources (streams, requests, pollables) a guest may hold at once.
const MAX_RESOURCES: usize = 10_000;
/// How many table elements a guest may have in all.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

/// The data of one execution's store.
pub struct ExecutionState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
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
            table,
            wasi: capabilities::wasi::context(sink),
            http: capabilities::http::context(),
            capabilities: CapabilityStates::new(grants, sink, shared),
            limiter: MemoryLimiter::new(memory_bytes),
        }
    }
}

impl WasiView for ExecutionState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ExecutionState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.capabilities.http,
        }
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
