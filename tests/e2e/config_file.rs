//! The command line as an operator meets it: `serve`'s settings from a TOML file, the
//! environment and flags (in that order of strength), `config check` and `config show`,
//! `--version` with the commit, the shell completions and the manual page; the security
//! settings (`secrets-key-file`, `process-user`, `compiled-cache-size`) from the file, for
//! `serve` and for `secret rotate-key`.

use crate::support::{Server, run, sandcron, stderr, stdout};

#[test]
fn flags_beat_the_environment_which_beats_the_file_which_beats_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sandcron.toml");
    std::fs::write(
        &file,
        "# an operator's file\nlisten = \"127.0.0.1:9001\"\nnode = \"from-file\"\n\
         keep-executions = 7\nallow-host = [\"https://*.example.com\"]\n\
         secret = [\"db=hunter2\"]\n\
         database-url = \"postgres://app:pw@127.0.0.1/jobs\"\n",
    )
    .unwrap();
    let show = sandcron()
        .args(["config", "show", "--config"])
        .arg(&file)
        .args(["--listen", "127.0.0.1:9003"])
        .env("SANDCRON_LISTEN", "127.0.0.1:9002")
        .env("SANDCRON_NODE", "from-env")
        .output()
        .unwrap();
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    for line in [
        "listen = \"127.0.0.1:9003\"  # --listen",
        "node = \"from-env\"  # $SANDCRON_NODE",
        "keep-executions = 7  # file, line 4",
        "allow-host = [\"https://*.example.com\"]  # file, line 5",
        "dead-after = \"10s\"  # default",
        // Secrets and passwords are never shown.
        "secret = [\"db=***\"]  # file, line 6",
        "database-url = \"postgres://app:***@127.0.0.1/jobs\"  # file, line 7",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(
        !text.contains("hunter2") && !text.contains(":pw@"),
        "{text}"
    );
    // What `show` prints is a file `check` accepts.
    let shown = dir.path().join("shown.toml");
    std::fs::write(&shown, &text).unwrap();
    let check = run(&["config", "check", shown.to_str().unwrap()]);
    assert!(check.status.success(), "{}\n{text}", stderr(&check));
}

#[test]
fn an_unknown_key_or_a_bad_value_names_the_file_the_line_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\n\nlisten_addr = \"x\"\n").unwrap();
    let checked = run(&["config", "check", file.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(2));
    assert!(
        stderr(&checked).contains(&format!(
            "{}:3: unknown key \"listen_addr\"",
            file.display()
        )),
        "{}",
        stderr(&checked)
    );
    std::fs::write(&file, "dead-after = \"0s\"\n").unwrap();
    // `serve` refuses it the same way, before it opens anything.
    let served = sandcron()
        .args(["serve", "--config"])
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(served.status.code(), Some(2));
    assert!(
        stderr(&served).contains(&format!("{}:1: dead-after: ", file.display())),
        "{}",
        stderr(&served)
    );
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "keep-executions = 5\ntag = [\"role=worker\"]\n").unwrap();
    let checked = run(&["config", "check", good.to_str().unwrap()]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    assert!(stdout(&checked).contains("2 settings, all valid"));
}

#[tokio::test]
async fn serve_reads_sandcron_toml_in_its_data_directory() {
    // `Server` gives `--node test-node`: the file's node loses, its tags count.
    let server = Server::sqlite_with_config(
        "node = \"from-file\"\ntag = [\"role=from-file\"]\nkeep-executions = 3\n",
        &[],
    );
    let members = server.get("/v1/members").await.json();
    assert_eq!(members[0]["name"], "test-node", "{members}");
    assert_eq!(members[0]["tags"]["role"], "from-file", "{members}");
}

#[tokio::test]
async fn the_security_settings_come_from_the_file_for_serve_and_for_rotate_key() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("sealing.key");
    let config = format!(
        "secrets-key-file = {:?}\ncompiled-cache-size = \"64M\"\nprocess-user = \"\"\n",
        key_file.display().to_string()
    );
    let server = Server::sqlite_with_config(&config, &[]);
    // `serve` made the key file the file names, not the one in its data directory.
    let first = std::fs::read_to_string(&key_file).expect("serve made the named key file");
    assert_eq!(first.lines().count(), 1, "{first}");
    assert!(!server.data_dir().join("secrets.key").exists());
    let file = server.data_dir().join("sandcron.toml");

    let show = run(&["config", "show", "--config", file.to_str().unwrap()]);
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    for line in [
        format!(
            "secrets-key-file = {:?}  # file, line 1",
            key_file.display().to_string()
        ),
        "compiled-cache-size = \"64M\"  # file, line 2".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }

    // `rotate-key` finds the key file through the same file (other keys of `serve`'s
    // are not its business and are left alone).
    let rotated = run(&["secret", "rotate-key", "--config", file.to_str().unwrap()]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(stdout(&rotated).contains(&key_file.display().to_string()));
    let second = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(second.lines().count(), 2, "{second}");
    assert!(second.starts_with(&first), "the old key is kept");

    // Bad values are refused with their line and key.
    let bad = keys.path().join("bad.toml");
    for (text, refusal) in [
        (
            "compiled-cache-size = \"lots\"\n",
            "1: compiled-cache-size: ",
        ),
        (
            "\nprocess-user = \"no-such-user-here\"\n",
            "2: process-user: ",
        ),
    ] {
        std::fs::write(&bad, text).unwrap();
        let checked = run(&["config", "check", bad.to_str().unwrap()]);
        assert_eq!(checked.status.code(), Some(2));
        assert!(
            stderr(&checked).contains(&format!("{}:{refusal}", bad.display())),
            "{}",
            stderr(&checked)
        );
    }
}

#[test]
fn version_completions_and_manual_page_come_from_the_same_definitions() {
    let version = run(&["--version"]);
    let text = stdout(&version);
    assert!(
        text.starts_with(&format!("sandcron {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let commit = text
        .trim()
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap();
    assert!(
        commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{text}"
    );
    let bash = run(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = stdout(&bash);
    for word in ["serve", "--metrics-listen", "--tls-cert", "completions"] {
        assert!(script.contains(word), "{word} in the bash completions");
    }
    for shell in ["zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success() && stdout(&out).contains("log-format"));
    }
    let man = run(&["man"]);
    let page = stdout(&man);
    assert!(
        page.starts_with(".ie") || page.contains(".TH sandcron"),
        "{page}"
    );
    assert!(page.contains(".TH sandcron-serve"), "a page per command");
    assert!(page.contains("SANDCRON_KEEP_EXECUTIONS"), "{page}");
}
