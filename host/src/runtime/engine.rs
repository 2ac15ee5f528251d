//! The one wasmtime [`Engine`] of a process: pooling allocator, epoch interruption, and the
//! ticker thread that advances the epoch.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of deadlines, and how often a busy guest
/// yields its thread to other executions.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes at the start of each linear memory that are zeroed rather than unmapped between
/// executions. A component linked with a small stack (the built-in `echo`: 64 KiB) has
/// its stack and data within this, so a run takes no page fault and no `madvise`
/// (docs/benchmarks.md: 46.6 µs → 25.4 µs per `echo` execution).
pub const KEEP_RESIDENT: usize = 192 * 1024;

/// Core instances the pool keeps per execution slot: a Python component's 14 and room.
const CORE_INSTANCES_PER_EXECUTION: u32 = 16;

/// Builds the engine. `max_instances` bounds the executions that may run at once;
/// `max_memory_bytes` is the largest memory limit an execution may be given.
pub fn build(max_instances: u32, max_memory_bytes: u64) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    // A Rust component holds 3 core instances (program, WASI adapter, shims), a
    // JavaScript one 4, a Python one 14 (componentize-py links libc, libpython and the
    // runtime as modules of their own), each with one memory (docs/benchmarks.md). Slots
    // are address space until used: room for every execution to be a Python one with
    // libraries of its own.
    pool.total_component_instances(max_instances)
        .total_core_instances(max_instances * CORE_INSTANCES_PER_EXECUTION)
        .total_memories(max_instances * 2)
        .total_tables(max_instances * 8)
        .total_stacks(max_instances)
        .max_core_instances_per_component(2 * CORE_INSTANCES_PER_EXECUTION)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_memory_size(usize::try_from(max_memory_bytes)?)
        // Keep the start of each memory resident between uses: zeroing it is cheaper
        // than unmapping it and faulting it back in on the next execution.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(16 * 1024);
    let mut config = compiler_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// The settings that shape compiled code, and nothing else: the server's engine and a
/// compiler child (`compiler.rs`) build from it, so that what one compiles the other
/// loads. How instances are allocated does not enter the compatibility check.
pub fn compiler_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] until the engine is dropped.
pub fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("sandcron-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("the epoch thread starts");
}

#[cfg(test)]
mod tests {
    use std::hash::{DefaultHasher, Hash, Hasher};

    use super::*;

    fn compatibility(engine: &Engine) -> u64 {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn a_compiler_child_compiles_what_the_server_loads() {
        let server = build(4, 64 << 20).unwrap();
        let child = Engine::new(&compiler_config()).unwrap();
        assert_eq!(compatibility(&server), compatibility(&child));
        let component = b"\0asm\x0d\0\x01\0";
        let artifact = child.precompile_component(component).unwrap();
        // SAFETY: compiled just now by this test.
        unsafe { wasmtime::component::Component::deserialize(&server, &artifact) }.unwrap();
    }
}
