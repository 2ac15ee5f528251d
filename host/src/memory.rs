//! Where the process's memory comes from, and memory a burst freed, given back.
//!
//! Rust's allocations go to mimalloc ([`ALLOCATOR`], declared here for every binary that
//! links the library: the server, the benches, the tests), built without transparent huge
//! pages (each touched 2 MiB page stayed resident: 80 MiB idle instead of 50). Against
//! glibc's allocator, saturation ran about 12 % more executions a second, a burst of
//! 10,000 started a fifth sooner at p99, and the RSS at the end of a run was 150–230 MiB
//! where glibc's arenas kept 370–740 (docs/benchmarks.md, "mimalloc"): glibc keeps an
//! arena per thread that allocated, and a tick claimed on the writers' thread is freed on
//! a worker's.
//!
//! What C libraries allocate (SQLite's page cache, its statements) still comes from
//! glibc, which keeps what a burst freed — a restore of a million jobs — in its arenas, so
//! the server's RSS stayed where the burst took it. Every [`EVERY`], when the arenas hold
//! at least [`THRESHOLD`] more or less free than at the last look, `malloc_trim(0)`
//! returns their free pages (glibc releases whole free pages inside every arena, not only
//! the top of the heap). Other C libraries return memory by themselves: there the task
//! does nothing.

use std::time::Duration;

/// The allocator of Rust's allocations (see the module's doc).
#[global_allocator]
pub static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How often the arenas are looked at.
pub const EVERY: Duration = Duration::from_secs(10);

/// The change in free bytes that is worth a trim.
pub const THRESHOLD: usize = 32 << 20;

/// Starts the task that gives freed memory back, on the current async runtime; it runs
/// until the runtime ends.
pub fn give_back_periodically() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::spawn(async {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_free = 0;
        loop {
            ticks.tick().await;
            // Both calls walk every arena under its lock: off the async threads.
            match tokio::task::spawn_blocking(move || give_back(last_free)).await {
                Ok(free) => last_free = free,
                Err(_) => return,
            }
        }
    });
}

/// Trims the allocator's arenas when they hold `THRESHOLD` more or less free than
/// `last_free`; the free bytes it saw.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back(last_free: usize) -> usize {
    // SAFETY: glibc functions that take no pointers.
    let free = unsafe { libc::mallinfo2() }.fordblks;
    if free.abs_diff(last_free) < THRESHOLD {
        return last_free;
    }
    // SAFETY: as above.
    unsafe { libc::malloc_trim(0) };
    tracing::debug!(free_bytes = free, "gave the memory freed by a burst back");
    free
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    #[test]
    fn a_freed_burst_is_trimmed_once() {
        // 128 MiB from glibc (as a C library allocates: Rust's own go to mimalloc) in
        // blocks below the mmap threshold, every other one freed: holes the allocator's
        // own trimming of the heap's top cannot return.
        // SAFETY: each block is written within its size and freed once, below.
        let burst: Vec<*mut libc::c_void> = (0..2048)
            .map(|_| unsafe {
                let block = libc::malloc(64 << 10);
                assert!(!block.is_null());
                libc::memset(block, 1, 64 << 10);
                block
            })
            .collect();
        burst
            .iter()
            .step_by(2)
            .for_each(|block| unsafe { libc::free(*block) });
        let seen = give_back(0);
        assert!(seen >= THRESHOLD, "{seen}");
        // Nothing new freed since: no second trim.
        assert_eq!(give_back(seen), seen);
        burst
            .iter()
            .skip(1)
            .step_by(2)
            .for_each(|block| unsafe { libc::free(*block) });
    }
}
