//! This executable started again as a helper process of its own — the process
//! capability's warden (`capabilities::process::warden`), the upload compiler
//! (`runtime::compiler`): the first argument that selects the role, and the resource
//! limits a helper lowers on itself or on what it runs.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::OnceLock;

/// When this process was started as the helper whose first argument is `marker`, runs
/// `run` with the arguments after it and exits with the code it gives, or, when it
/// refuses them, prints `name: reason` and exits with `refused_code`. Otherwise records
/// this executable in `program` (which enables starting such helpers) and returns.
pub fn run_if_asked(
    marker: &str,
    name: &str,
    refused_code: i32,
    program: &OnceLock<PathBuf>,
    run: impl FnOnce(Vec<OsString>) -> Result<i32, String>,
) {
    let mut args = std::env::args_os();
    if args.nth(1).as_deref() != Some(OsStr::new(marker)) {
        let _ = program.set(PathBuf::from("/proc/self/exe"));
        return;
    }
    let code = run(args.collect()).unwrap_or_else(|reason| {
        eprintln!("{name}: {reason}");
        refused_code
    });
    std::process::exit(code);
}

/// Lowers the soft and hard limits of `resource` to `soft` and `hard`, each left as it is
/// when it is lower already.
///
/// # Safety
/// Only system calls on local memory: async-signal-safe, so it may run between `fork`
/// and `exec`.
pub unsafe fn lower_limits(
    resource: libc::__rlimit_resource_t,
    soft: u64,
    hard: u64,
) -> std::io::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit to write and read.
    unsafe {
        if libc::getrlimit(resource, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let lowered = libc::rlimit {
            rlim_cur: limit.rlim_cur.min(soft),
            rlim_max: limit.rlim_max.min(hard),
        };
        if libc::setrlimit(resource, &lowered) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
