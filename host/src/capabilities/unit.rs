//! What a capability is to the rest of the host: the [`Capability`] trait every unit in
//! the declaration implements, and the two parts of it that have behaviour of their own,
//! [`Policy`] (what a grant allows) and [`SharedState`] (what executions share).
//!
//! A unit owns everything about itself: its name, the imports it serves, its policy, its
//! process-wide state, its per-execution state and how it is linked. The declaration in
//! `capabilities/mod.rs` lists the units once and generates the rest (`Grants`, `Shared`,
//! `CapabilityStates`, `add_to_linker`) from these items, so nothing outside a unit's
//! folder names its types.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use tokio_util::task::TaskTracker;
use wasmtime::component::Linker;

use super::CapabilityStates;
use crate::output::OutputSink;

/// One unit of what an executor can reach: a grantable capability (`http`, `process`…),
/// or a unit given to every execution (`wasi`, `output`), whose [`Capability::Policy`] is
/// `()`.
pub trait Capability: Sized + 'static {
    /// Its name, as `--allow NAME=PATTERN` and grants' JSON spell it; the same as its
    /// module and its field in the declaration (checked when the declaration compiles).
    const NAME: &'static str;
    /// The imports it serves, by prefix of the import's name (`sandcron:executor/process@`,
    /// `wasi:http/`): a component importing one of them asks for this capability.
    const INTERFACES: &'static [&'static str];
    /// What a grant of it allows; the default allows nothing.
    type Policy: Policy;
    /// What every execution of the process shares: clients, connection pools, work left
    /// running in the background. `()` when there is none.
    type Shared: SharedState;
    /// The host side of its interfaces for one execution.
    type State: Send + 'static;

    /// The state of one execution that may do what `policy` allows, noting refusals and
    /// writing output into `sink`, reusing the process-wide `shared` state.
    fn new_state(policy: &Self::Policy, sink: &OutputSink, shared: &Self::Shared) -> Self::State;

    /// Adds its interfaces to `linker`; bindings reach its state with
    /// `<T as Holds<Self>>::state`.
    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()>;
}

/// What one capability's grant allows, parsed from patterns in the capability's own syntax.
pub trait Policy: Clone + Debug + Default + Send + Sync + 'static {
    /// Widens the grant by one pattern; the error says what is wrong with it.
    fn allow_pattern(&mut self, pattern: &str) -> Result<(), String>;

    /// Narrows the grant so that a call must pass `narrower` too (a job's grant within
    /// its tenant's).
    fn narrow_to(&mut self, narrower: &Self);

    /// Whether every call will be denied.
    fn denies_all(&self) -> bool;
}

/// The policy of a unit given to every execution: there is nothing to grant, and nothing
/// is denied.
impl Policy for () {
    fn allow_pattern(&mut self, _pattern: &str) -> Result<(), String> {
        Err("is given to every execution; there is nothing to grant".to_string())
    }

    fn narrow_to(&mut self, _narrower: &Self) {}

    fn denies_all(&self) -> bool {
        false
    }
}

/// A capability's process-wide state: built once per process (by `Default`), cloned into
/// each execution's state (clones share it).
pub trait SharedState: Clone + Debug + Default + Send + Sync + 'static {
    /// Waits up to `within` for the work left running in the background after
    /// executions ended. Nothing by default.
    fn settle(&self, within: Duration) -> impl Future<Output = ()> + Send {
        let _ = within;
        async {}
    }
}

impl SharedState for () {}

/// Waits up to `within` for the tasks of `tracker`, then lets it take new ones: the
/// `settle` of a unit whose background work is tracked by a [`TaskTracker`].
pub async fn settle_tracker(tracker: &TaskTracker, within: Duration) {
    tracker.close();
    let _ = tokio::time::timeout(within, tracker.wait()).await;
    tracker.reopen();
}

/// What a store's data must offer for the units to be linked: the views wasmtime's WASI
/// and `wasi:http` linkers ask for (built by [`CapabilityStates`]), and the states.
pub trait CapabilityView:
    wasmtime_wasi::WasiView + wasmtime_wasi_http::WasiHttpView + 'static
{
    /// The per-execution states of every unit.
    fn capabilities(&mut self) -> &mut CapabilityStates;
}

/// A store's data that holds the per-execution state of `C`. The declaration implements
/// it for every [`CapabilityView`] and every unit; a unit's `add_to_linker` hands
/// `<T as Holds<Self>>::state` to its bindings as their getter.
pub trait Holds<C: Capability>: CapabilityView {
    /// The state of `C` in this execution.
    fn state(&mut self) -> &mut C::State;
}

/// Whether two names are the same, at compile time (for the declaration's checks).
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
