//! A tenant's component cannot reach past what it was granted: hostile components (the
//! `run` and `cleanup` modes of `tests/fixtures/hostile`) try to turn a granted program
//! into another one, and to smuggle what a grant never allows.

use std::path::Path;

use sandcron::capabilities::Grants;
use sandcron::capabilities::process::ProcessPolicy;
use sandcron::runtime::{ExecutionOutcome, FailureKind, Limits};

use crate::runtime_limits::{run_hostile, runtime};
use crate::support::{RecordingServer, hostile, run, stderr};

/// Runs `program` through the hostile component's `run` mode, granted only `granted`,
/// with `config` added (`args`, `env.NAME`).
async fn run_granted(granted: &[&str], program: &str, config: &[(&str, &str)]) -> ExecutionOutcome {
    let grants = Grants {
        process: ProcessPolicy::only(granted).unwrap(),
        ..Grants::default()
    };
    let mut config = config.to_vec();
    config.extend([("mode", "run"), ("program", program)]);
    run_hostile(&runtime(None), &config, grants, Limits::default()).await
}

fn text(outcome: &ExecutionOutcome) -> String {
    String::from_utf8_lossy(&outcome.output.bytes).into_owned()
}

/// glibc's memory profiler: preloaded, its constructor creates the file named by
/// `MEMUSAGE_OUTPUT`, as whatever user the program runs as.
const LIBMEMUSAGE: &str = "/usr/lib/x86_64-linux-gnu/libmemusage.so";

/// Runs a granted `/bin/echo` with the config key `key` set to `value` and
/// `MEMUSAGE_OUTPUT` naming a file, and checks that the file was not written (the library
/// was not preloaded).
async fn echo_preloading(key: &str, value: &str) -> ExecutionOutcome {
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("written-by-the-loader");
    let config = [
        ("args", "hello"),
        (key, value),
        ("env.MEMUSAGE_OUTPUT", written.to_str().unwrap()),
    ];
    let outcome = run_granted(&["/bin/echo"], "/bin/echo", &config).await;
    assert!(
        !written.exists(),
        "the preloaded library ran: {}",
        text(&outcome)
    );
    outcome
}

#[tokio::test]
async fn a_granted_program_cannot_be_given_a_preloaded_library() {
    assert!(
        Path::new(LIBMEMUSAGE).exists(),
        "{LIBMEMUSAGE} is missing: install Debian's libc-dev-bin / libc6 (it ships with glibc)"
    );
    let outcome = echo_preloading("env.LD_PRELOAD", LIBMEMUSAGE).await;
    let output = text(&outcome);
    assert!(
        output.contains("environment variable LD_PRELOAD is refused"),
        "{output}"
    );
    let failure = outcome.result.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Denied, "{failure}");
    assert!(failure.to_string().contains("LD_PRELOAD"), "{failure}");
}

#[tokio::test]
async fn a_variable_name_holding_an_equals_sign_is_refused() {
    let name = format!("env.LD_PRELOAD={LIBMEMUSAGE}:");
    let outcome = echo_preloading(&name, "").await;
    assert_eq!(outcome.result.unwrap_err().kind, FailureKind::Denied);
}

/// `data.xz`, compressed from `hello from xz\n` with the machine's own `xz`.
fn compressed_file(dir: &Path) -> std::path::PathBuf {
    let plain = dir.join("data");
    std::fs::write(&plain, "hello from xz\n").unwrap();
    let status = std::process::Command::new("xz").arg(&plain).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "xz is needed (Debian's xz-utils)"
    );
    dir.join("data.xz")
}

#[tokio::test]
async fn a_symlinked_multi_call_program_runs_under_the_granted_name() {
    let target = std::fs::read_link("/usr/bin/xzcat");
    assert!(
        target.is_ok_and(|t| t == Path::new("xz")),
        "this test needs Debian's /usr/bin/xzcat -> xz (xz-utils)"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = compressed_file(dir.path());
    let outcome = run_granted(&["xzcat"], "xzcat", &[("args", file.to_str().unwrap())]).await;
    assert!(
        outcome.succeeded(),
        "{:?}: {}",
        outcome.result,
        text(&outcome)
    );
    assert!(
        text(&outcome).contains("hello from xz"),
        "{}",
        text(&outcome)
    );
    assert!(
        text(&outcome).contains("xzcat ended: exit status 0"),
        "{}",
        text(&outcome)
    );
    assert!(
        file.exists(),
        "xzcat changed the file it was asked to print"
    );
}

#[tokio::test]
async fn a_granted_alias_allows_neither_its_target_nor_its_siblings() {
    let dir = tempfile::tempdir().unwrap();
    let file = compressed_file(dir.path());
    for other in ["unxz", "xz", "/usr/bin/unxz", "/bin/xz"] {
        let outcome = run_granted(&["xzcat"], other, &[("args", file.to_str().unwrap())]).await;
        let failure = outcome.result.unwrap_err();
        assert_eq!(failure.kind, FailureKind::Denied, "{other}: {failure}");
        assert!(file.exists(), "{other} ran");
    }
}

#[tokio::test]
async fn a_link_the_guest_names_to_a_granted_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = compressed_file(dir.path());
    let link = dir.path().join("my-xz");
    std::os::unix::fs::symlink("/usr/bin/xz", &link).unwrap();
    let outcome = run_granted(
        &["/usr/bin/xz"],
        link.to_str().unwrap(),
        &[("args", file.to_str().unwrap())],
    )
    .await;
    assert_eq!(outcome.result.unwrap_err().kind, FailureKind::Denied);
}

/// Runs the hostile component's `cleanup` mode through `sandcron exec`, granted the
/// server, arming a POST to `/stop` with `headers` and a body that smuggles a second
/// request for a server that would take `Transfer-Encoding` from the guest.
fn arm_cleanup(server: &RecordingServer, headers: &[(&str, &str)]) -> std::process::Output {
    let component = hostile();
    let mut args = vec![
        "exec".to_string(),
        component.to_str().unwrap().to_string(),
        "--allow-host".to_string(),
        server.allow(),
    ];
    let mut config = vec![
        "mode=cleanup".to_string(),
        format!("url={}", server.url("/stop")),
        "body=0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
    ];
    config.extend(
        headers
            .iter()
            .map(|(name, value)| format!("header.{name}={value}")),
    );
    for entry in config {
        args.extend(["--config".to_string(), entry]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args)
}

#[test]
fn a_cleanup_request_cannot_carry_framing_routing_or_proxy_headers() {
    let server = RecordingServer::start(200, "stopped");
    let forbidden = [
        ("Host", "internal.example"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Proxy-Authorization", "Basic c3RlYWw6bWU="),
        ("Keep-Alive", "timeout=600"),
    ];
    let out = arm_cleanup(&server, &forbidden);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is forbidden"), "{}", stderr(&out));
    for (name, value) in forbidden {
        let out = arm_cleanup(&server, &[(name, value)]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        let refusal = format!("header {} is forbidden", name.to_ascii_lowercase());
        assert!(stderr(&out).contains(&refusal), "{name}: {}", stderr(&out));
    }
    assert!(
        server.requests().is_empty(),
        "a refused cleanup request was sent: {:?}",
        server.requests()
    );

    let out = arm_cleanup(
        &server,
        &[("X-Reason", "deadline"), ("Content-Length", "40")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = server.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let header = |name: &str| {
        seen[0]
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(header("host"), [server.addr.to_string()]);
    assert_eq!(header("x-reason"), ["deadline"]);
    for (name, _) in forbidden.iter().skip(1) {
        assert!(
            header(&name.to_ascii_lowercase()).is_empty(),
            "{name}: {seen:?}"
        );
    }
    assert_eq!(seen[0].path, "/stop");
}
