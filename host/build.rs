//! Builds the built-in executor components (`executors-wasm/`) for `wasm32-wasip2`, so that
//! a clean clone builds with plain cargo, and tells the crate where they are.
//!
//! It also makes a change under `host/migrations/` rebuild the crate, which embeds them,
//! and tells the crate which commit it is built from (`SANDCRON_GIT_COMMIT`, shown by
//! `sandcron --version`): `$SANDCRON_GIT_COMMIT` when set (a build from a tarball, or a
//! container build without `.git`), else `git rev-parse`, else `unknown`.
//!
//! The components are built by a nested cargo in a target directory of their own (a
//! nested build in the outer one would wait forever on its lock).

use std::path::{Path, PathBuf};
use std::process::Command;

const EXECUTORS: [&str; 10] = [
    "executor_echo",
    "executor_shell",
    "executor_http",
    "executor_docker",
    "executor_ecs",
    "executor_nats",
    "executor_rabbitmq",
    "executor_kafka",
    "executor_grpc",
    "executor_pubsub",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().expect("host/ sits in the repository");
    // `host/migrations` is embedded by `sqlx::migrate!`: a new migration must rebuild.
    for watched in [
        "executors-wasm",
        "sdk/src",
        "sdk/Cargo.toml",
        "wit",
        "host/migrations",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let target_dir = wasm_target_dir(&out_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root.join("executors-wasm"))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--quiet",
            "--manifest-path",
        ])
        .arg(root.join("executors-wasm").join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_MAKEFLAGS")
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building executors-wasm for wasm32-wasip2 failed; is the target installed? \
         (`rustup target add wasm32-wasip2`; rust-toolchain.toml asks rustup for it)"
    );
    let built = target_dir.join("wasm32-wasip2").join("release");
    for name in EXECUTORS {
        let file = built.join(format!("{name}.wasm"));
        assert!(file.exists(), "{} was not built", file.display());
    }
    println!("cargo:rustc-env=SANDCRON_EXECUTORS_DIR={}", built.display());
    println!("cargo:rustc-env=SANDCRON_GIT_COMMIT={}", git_commit(root));
}

/// The commit the sources are at (12 hex digits), for `--version`; rebuilt when HEAD moves.
fn git_commit(root: &Path) -> String {
    println!("cargo:rerun-if-env-changed=SANDCRON_GIT_COMMIT");
    if let Some(given) = std::env::var("SANDCRON_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
    {
        return given.trim().to_string();
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|text| !text.is_empty())
    };
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".into();
    };
    // HEAD names a branch whose ref file (or packed-refs) moves on each commit.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        // A missing file would make cargo run this script on every build.
        if let Some(path) = git(&["rev-parse", "--git-path", &name]).map(|p| root.join(p))
            && path.exists()
        {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    commit
}

/// `<target>/wasm-executors`, beside the outer build's profile directories.
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    // OUT_DIR is <target>/[<triple>/]<profile>/build/<package>-<hash>/out.
    out_dir.ancestors().nth(4).map_or_else(
        || out_dir.join("wasm-executors"),
        |t| t.join("wasm-executors"),
    )
}
