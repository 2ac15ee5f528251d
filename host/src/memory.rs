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
//! mimalloc returns the pages a burst freed a second after they are freed, but only
//! while some thread allocates: a server that fell idle after a restore of a million
//! jobs kept 270 MiB of them resident. What C libraries allocate (SQLite's page cache,
//! its statements) comes from glibc, which keeps what a burst freed in its arenas. Every
//! [`EVERY`], mimalloc's freed pages are given back whatever their age, and when glibc's
//! arenas hold at least [`THRESHOLD`] more or less free than at the last look,
//! `malloc_trim(0)` returns their free pages (glibc releases whole free pages inside
//! every arena, not only the top of the heap); [`give_back_now`] does both at once, at
//! the end of a bulk operation (a restore).

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
    tokio::spawn(async {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_free = 0;
        loop {
            ticks.tick().await;
            // Both allocators walk their arenas under locks: off the async threads.
            match tokio::task::spawn_blocking(move || give_back(last_free)).await {
                Ok(free) => last_free = free,
                Err(_) => return,
            }
        }
    });
}

/// Gives back at once what both allocators hold free: for the end of a bulk operation
/// that freed much (a restore), on a thread that may block.
pub fn give_back_now() {
    purge_freed_pages();
    trim_glibc_now();
}

/// Returns the pages mimalloc holds freed, without waiting for their delay to pass.
fn purge_freed_pages() {
    // SAFETY: takes no pointers; safe from any thread.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Gives back mimalloc's freed pages, and trims glibc's arenas when they hold
/// `THRESHOLD` more or less free than `last_free`; the free bytes it saw.
fn give_back(last_free: usize) -> usize {
    purge_freed_pages();
    trim_glibc(last_free)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_glibc(last_free: usize) -> usize {
    // SAFETY: a glibc function that takes no pointers.
    let free = unsafe { libc::mallinfo2() }.fordblks;
    if free.abs_diff(last_free) < THRESHOLD {
        return last_free;
    }
    trim_glibc_now();
    tracing::debug!(free_bytes = free, "gave the memory freed by a burst back");
    free
}

/// Other C libraries return memory by themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_glibc(last_free: usize) -> usize {
    last_free
}

/// Returns the free pages of every glibc arena (`malloc_trim(0)`); nothing elsewhere.
fn trim_glibc_now() {
    // SAFETY: a glibc function that takes no pointers.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0)
    };
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

    /// The process's resident bytes (`/proc/self/statm`).
    fn resident() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        // SAFETY: takes no pointers.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        pages * usize::try_from(page).unwrap()
    }

    #[test]
    fn what_rust_freed_is_given_back_at_once() {
        // 96 MiB through mimalloc, written, then freed: its pages wait for their delay
        // until something allocates again, unless given back.
        let burst: Vec<Vec<u8>> = (0..96).map(|_| vec![1u8; 1 << 20]).collect();
        let held = resident();
        drop(std::hint::black_box(burst));
        give_back_now();
        let after = resident();
        assert!(after + (64 << 20) <= held, "held {held}, after {after}");
    }
}
