//! `sandcron exec` as a user runs it: built-in executors, exit codes, the shell executor's
//! keys, and the process capability's limits.

use std::time::{Duration, Instant};

use crate::support::{process_alive, run, stderr, stdout};

#[test]
fn echo_prints_its_message() {
    let out = run(&["exec", "echo", "--config", "message=hi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
}

#[test]
fn shell_prints_the_command_output() {
    let out = run(&["exec", "shell", "--config", "command=echo hello"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\n");
}

#[test]
fn shell_passes_env_cwd_and_stdin_and_nothing_of_the_host_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let out = crate::support::sandcron()
        .env("HOST_SECRET", "must-not-leak")
        .args([
            "exec",
            "shell",
            "--config",
            "shell=true",
            "--config",
            "command=echo \"foo=$FOO job=$ENV_JOB_NAME secret=$HOST_SECRET\"; pwd; cat",
            "--config",
            "env=FOO=bar,OTHER=x",
            "--config",
        ])
        .arg(format!("cwd={}", cwd.display()))
        .args([
            "--config",
            "payload=ZnJvbSBzdGRpbg==",
            "--job-name",
            "my-job",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("foo=bar job=my-job secret=\n{}\nfrom stdin", cwd.display())
    );
}

#[test]
fn shell_splits_words_without_a_shell() {
    let out = run(&["exec", "shell", "--config", "command=printf '%s|' 'a b' c"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "a b|c|");
}

#[test]
fn a_non_zero_exit_fails_with_exit_code_1_and_the_reason() {
    let out = run(&[
        "exec",
        "shell",
        "--config",
        "shell=true",
        "--config",
        "command=echo out; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).contains("exit status 3"), "{}", stderr(&out));
}

#[test]
fn stderr_of_the_command_streams_to_stderr() {
    let out = run(&[
        "exec",
        "shell",
        "--config",
        "shell=true",
        "--config",
        "command=echo oops >&2",
    ]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("oops"), "{}", stderr(&out));
}

#[test]
fn the_shell_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let command = format!(
        "command=sleep 30 & echo $! > {}; sleep 30",
        pidfile.display()
    );
    let started = Instant::now();
    let out = run(&[
        "exec",
        "shell",
        "--config",
        "shell=true",
        "--config",
        &command,
        "--config",
        "timeout=1s",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        stderr(&out).contains("timed out after 1s"),
        "{}",
        stderr(&out)
    );
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        printed.contains("execution time exceeding defined timeout"),
        "{printed}"
    );
    let background: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !process_alive(background),
        "the background sleep {background} was left running"
    );
}

#[test]
fn the_execution_deadline_covers_time_spent_in_host_calls() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let command = format!("command=echo $$ > {}; exec sleep 30", pidfile.display());
    let started = Instant::now();
    let out = run(&[
        "exec",
        "shell",
        "--timeout",
        "1s",
        "--config",
        "shell=true",
        "--config",
        &command,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        stderr(&out).contains("timed out after 1s"),
        "{}",
        stderr(&out)
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!process_alive(pid), "the sleep {pid} was left running");
}

#[test]
fn mem_limit_kills_a_process_that_grows_past_it() {
    // `tail /dev/zero` buffers an endless line: its memory only grows.
    let out = run(&[
        "exec",
        "shell",
        "--config",
        "command=tail /dev/zero",
        "--config",
        "mem_limit=32MB",
        "--config",
        "timeout=20s",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("memory limit of 32 MiB exceeded"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_config_names_the_key() {
    let out = run(&["exec", "shell"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("command"), "{}", stderr(&out));

    let out = run(&[
        "exec",
        "shell",
        "--config",
        "command=true",
        "--config",
        "timeout=ten",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("timeout"), "{}", stderr(&out));
}

#[test]
fn allow_program_narrows_the_shell() {
    let out = run(&[
        "exec",
        "shell",
        "--allow-program",
        "/bin/true",
        "--config",
        "command=echo hi",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not allowed"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");

    let out = run(&[
        "exec",
        "shell",
        "--allow-program",
        "true",
        "--config",
        "command=true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [
        &["exec", "no-such-executor"][..],
        &["exec", "echo", "--config", "novalue"],
        &["exec", "echo", "--timeout", "soon"],
        &["exec", "echo", "--memory", "lots"],
        &["exec", "http", "--allow-host", "example.com"],
        &["exec"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty());
    }
}

#[test]
fn a_file_that_is_not_a_component_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    // The smallest core module: header and version 1.
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let out = run(&["exec", core.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("core WebAssembly module, not a component"),
        "{}",
        stderr(&out)
    );

    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "hello").unwrap();
    let out = run(&["exec", text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a WebAssembly file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_component_reads_the_secrets_it_was_granted_and_no_other() {
    let component = crate::support::hostile();
    let component = component.to_str().unwrap();
    let granted = run(&[
        "exec",
        component,
        "--config",
        "mode=secret",
        "--config",
        "name=db-password",
        "--secret",
        "db-password=hunter2",
    ]);
    assert!(granted.status.success(), "{}", stderr(&granted));
    assert_eq!(stdout(&granted), "secret of 7 bytes\n");

    let other = run(&[
        "exec",
        component,
        "--config",
        "mode=secret",
        "--config",
        "name=api-key",
        "--secret",
        "db-password=hunter2",
    ]);
    assert_eq!(other.status.code(), Some(1));
    assert!(
        stderr(&other).contains("secrets: secret \"api-key\" is not granted"),
        "{}",
        stderr(&other)
    );
}
