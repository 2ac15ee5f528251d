//! Links `echo` with a 64 KiB stack instead of Rust's default 1 MiB: it needs a few hundred
//! bytes, and a small stack keeps the pages an execution touches within the part of linear
//! memory the runtime keeps resident between executions (no page faults, no `madvise`).

fn main() {
    println!("cargo:rustc-link-arg-cdylib=-zstack-size=65536");
}
