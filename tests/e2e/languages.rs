//! Executors in Python and JavaScript, next to Rust: `sandcron executor new` writes each
//! language's template, `sandcron executor build` builds it with the tools `scripts/peers
//! up` installs (componentize-py, componentize-js), and the component runs through
//! `sandcron exec` and through upload, job and run on a server. The Python and JavaScript
//! templates use the SDKs' HTTP client against a loopback server, are denied by policy,
//! read a secret and fail with a config error naming the key, as the Rust one does; the
//! Python and JavaScript examples of docs/sdk.md build and run as written.
//!
//! Each template is built once per test run (a Python build takes several seconds).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde_json::json;

use crate::support::{RecordingServer, Server, exec, exec_args, sandcron, stderr, stdout, tool};

/// The languages of the templates, as `--lang` names them.
const LANGUAGES: [&str; 3] = ["rust", "python", "js"];

/// `PATH` with the folders of the Python and JavaScript build tools first.
fn path_with_tools() -> std::ffi::OsString {
    let mut dirs = vec![
        tool("SANDCRON_TEST_COMPONENTIZE_PY", "componentize-py"),
        tool("SANDCRON_TEST_COMPONENTIZE_JS", "componentize-js"),
    ]
    .into_iter()
    .map(|tool| tool.parent().unwrap().to_path_buf())
    .collect::<Vec<_>>();
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

/// The component of `lang`'s template, made with `sandcron executor new` and built with
/// `sandcron executor build`, once per test process.
pub fn template_component(lang: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, path)) = built.iter().find(|(l, _)| l == lang) {
        return path.clone();
    }
    let artifact = build_project(lang, &format!("hello-{lang}"), None);
    built.push((lang.to_string(), artifact.clone()));
    artifact
}

/// Makes the project `name` with `sandcron executor new`, writes `program` (a file's name
/// and text) over the template's when given, builds it with `sandcron executor build` and
/// returns the component.
fn build_project(lang: &str, name: &str, program: Option<(&str, &str)>) -> PathBuf {
    let parent = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("languages");
    let dir = parent.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&parent).unwrap();
    let new = sandcron()
        .args(["executor", "new", name, "--lang", lang, "--dir"])
        .arg(&parent)
        .output()
        .unwrap();
    assert!(new.status.success(), "executor new: {}", stderr(&new));
    if let Some((file, text)) = program {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let build = sandcron()
        .args(["executor", "build"])
        .arg(&dir)
        .env("PATH", path_with_tools())
        // Rust: the fixtures' target directory, so the SDK's dependencies build once.
        .env(
            "CARGO_TARGET_DIR",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-fixtures"),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "executor build ({name}): {}{}",
        stdout(&build),
        stderr(&build)
    );
    let artifact = stdout(&build)
        .lines()
        .find_map(|line| line.strip_prefix("built "))
        .and_then(|rest| rest.split(" (").next())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no artifact in {:?}", stdout(&build)));
    assert!(artifact.is_file(), "{}", artifact.display());
    artifact
}

/// Runs `sandcron exec` on `lang`'s template with `flags` and `config`.
async fn exec_template(
    lang: &str,
    flags: &[&str],
    config: &[(&str, &str)],
) -> std::process::Output {
    let component = tokio::task::spawn_blocking({
        let lang = lang.to_string();
        move || template_component(&lang)
    })
    .await
    .unwrap();
    exec(exec_args(component.to_str().unwrap(), flags, config)).await
}

/// A recording server answering 200, started off the async threads (it runs a runtime of
/// its own).
async fn recording_server() -> RecordingServer {
    tokio::task::spawn_blocking(|| RecordingServer::start(200, "ok"))
        .await
        .unwrap()
}

/// Stops a recording server off the async threads.
async fn stop(server: RecordingServer) {
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .unwrap();
}

#[tokio::test]
async fn each_template_greets_through_exec() {
    for lang in LANGUAGES {
        let out = exec_template(lang, &[], &[("greeting", "hi"), ("repeat", "2")]).await;
        assert!(out.status.success(), "{lang}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("hi from exec (1/2)\nhi from exec (2/2)\n"),
            "{lang}: {}",
            stdout(&out)
        );
        // Diagnostics go to stderr: the execution's id and the time left.
        assert!(
            stdout(&out).contains("ms left") || stderr(&out).contains("ms left"),
            "{lang}"
        );
    }
}

#[tokio::test]
async fn a_config_error_names_the_key_in_every_language() {
    for lang in LANGUAGES {
        let missing = exec_template(lang, &[], &[("repeat", "2")]).await;
        assert_eq!(
            missing.status.code(),
            Some(1),
            "{lang}: {}",
            stderr(&missing)
        );
        assert!(
            stderr(&missing).contains("invalid executor_config: greeting: is required"),
            "{lang}: {}",
            stderr(&missing)
        );
        let unparsable = exec_template(lang, &[], &[("greeting", "hi"), ("repeat", "two")]).await;
        assert_eq!(unparsable.status.code(), Some(1), "{lang}");
        assert!(
            stderr(&unparsable).contains("repeat: \"two\" is not a whole number"),
            "{lang}: {}",
            stderr(&unparsable)
        );
        let out_of_range =
            exec_template(lang, &[], &[("greeting", "hi"), ("repeat", "1000")]).await;
        assert!(
            stderr(&out_of_range).contains("repeat: 1000 is not between 1 and 100"),
            "{lang}: {}",
            stderr(&out_of_range)
        );
    }
}

#[tokio::test]
async fn python_and_js_call_a_granted_host_and_are_denied_another() {
    let server = recording_server().await;
    let url = server.url("/ping");
    for lang in ["python", "js"] {
        let allow = server.allow();
        let granted = exec_template(
            lang,
            &["--allow-host", &allow],
            &[("greeting", "hi"), ("url", &url)],
        )
        .await;
        assert!(granted.status.success(), "{lang}: {}", stderr(&granted));
        assert!(
            stdout(&granted).contains(&format!("GET {url}: 200")),
            "{lang}: {}",
            stdout(&granted)
        );

        let denied = exec_template(lang, &[], &[("greeting", "hi"), ("url", &url)]).await;
        assert_eq!(denied.status.code(), Some(1), "{lang}: {}", stderr(&denied));
        assert!(
            stderr(&denied).contains(&format!(
                "denied: http: request to {url} denied: not in the allowed hosts"
            )),
            "{lang}: {}",
            stderr(&denied)
        );
    }
    // Two granted requests arrived, one per language; the denied ones never left the host.
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|request| request.path == "/ping"));
    stop(server).await;
}

/// The first code block of `fence` (`python`, `js`) in `guide`.
fn code_block<'a>(guide: &'a str, fence: &str) -> &'a str {
    let start = guide
        .find(&format!("```{fence}\n"))
        .unwrap_or_else(|| panic!("docs/sdk.md has no {fence} example"))
        + fence.len()
        + 4;
    let end = start + guide[start..].find("```").unwrap();
    &guide[start..end]
}

#[tokio::test]
async fn the_guide_s_python_and_js_examples_build_and_post_with_a_secret() {
    let server = recording_server().await;
    let url = server.url("/hook");
    let allow = server.allow();
    let guide = include_str!("../../docs/sdk.md");
    for (lang, fence, file) in [("python", "python", "app.py"), ("js", "js", "index.js")] {
        let program = code_block(guide, fence).to_string();
        let component = tokio::task::spawn_blocking(move || {
            build_project(lang, &format!("guide-{lang}"), Some((file, &program)))
        })
        .await
        .unwrap();
        let out = exec(exec_args(
            component.to_str().unwrap(),
            &[
                "--allow-host",
                &allow,
                "--secret",
                "api-token=t0k",
                "--allow-program",
                "/usr/bin/true",
            ],
            &[("url", &url)],
        ))
        .await;
        assert!(out.status.success(), "{lang}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("exec: ok"),
            "{lang}: {}",
            stdout(&out)
        );
    }
    // Each sent its POST, with the body and the secret in the header.
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for request in &seen {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/hook")
        );
        assert_eq!(request.body, br#"{"ping": true}"#, "{request:?}");
        assert!(
            request
                .headers
                .iter()
                .any(|(name, value)| name == "authorization" && value == "Bearer t0k"),
            "{request:?}"
        );
    }
    stop(server).await;
}

#[tokio::test]
async fn python_and_js_read_a_granted_secret_and_are_denied_another() {
    for lang in ["python", "js"] {
        let read = exec_template(
            lang,
            &["--secret", "api-key=s3cr3t-value"],
            &[("greeting", "hi"), ("secret", "api-key")],
        )
        .await;
        assert!(read.status.success(), "{lang}: {}", stderr(&read));
        assert!(
            stdout(&read).contains("secret api-key: 12 characters"),
            "{lang}: {}",
            stdout(&read)
        );
        assert!(!stdout(&read).contains("s3cr3t-value"), "{lang}");

        let denied = exec_template(
            lang,
            &["--secret", "api-key=s3cr3t-value"],
            &[("greeting", "hi"), ("secret", "db-password")],
        )
        .await;
        assert_eq!(denied.status.code(), Some(1), "{lang}: {}", stderr(&denied));
        assert!(
            stderr(&denied).contains("denied: ") && stderr(&denied).contains("db-password"),
            "{lang}: {}",
            stderr(&denied)
        );
    }
}

/// Writes `job` to a file and applies it with `sandcron job apply FILE` (no `-f`).
fn apply(server: &Server, dir: &Path, job: serde_json::Value) {
    let file = dir.join(format!("{}.json", job["name"].as_str().unwrap()));
    std::fs::write(&file, job.to_string()).unwrap();
    let out = server.cli(&["job", "apply", file.to_str().unwrap()]);
    assert!(out.status.success(), "job apply: {}", stderr(&out));
}

#[tokio::test]
async fn each_template_is_uploaded_and_runs_from_a_job_on_a_server() {
    let recording = recording_server().await;
    let allow = recording.allow();
    let server = Server::sqlite(&["--allow-host", &allow, "--secret", "api-key=abc"]);
    let jobs = tempfile::tempdir().unwrap();
    for lang in LANGUAGES {
        let component = tokio::task::spawn_blocking(move || template_component(lang))
            .await
            .unwrap();
        let name = format!("hello-{lang}");
        let upload = server.cli(&["executor", "upload", &name, component.to_str().unwrap()]);
        assert!(upload.status.success(), "{lang}: {}", stderr(&upload));
        assert!(
            stdout(&upload).contains("version 1"),
            "{lang}: {}",
            stdout(&upload)
        );
        // What each asks for: the Rust template imports only what it calls; the Python and
        // JavaScript ones the `portable-executor` world, which every build serves.
        let capabilities = if lang == "rust" {
            "capabilities: http)"
        } else {
            "capabilities: http, process, secrets)"
        };
        assert!(
            stdout(&upload).contains(capabilities),
            "{lang}: {}",
            stdout(&upload)
        );

        let job = format!("greet-{lang}");
        apply(
            &server,
            jobs.path(),
            json!({"name": job, "schedule": "@manually", "executor": name,
                   "executor_config": {"greeting": "hello", "url": recording.url("/job"),
                                       "secret": "api-key"}}),
        );
        let execution = server.run_to_end(&job).await;
        assert_eq!(execution["success"], true, "{lang}: {execution}");
        let logs = server.cli(&["execution", "logs", &job, &execution["id"].to_string()]);
        assert!(logs.status.success(), "{lang}: {}", stderr(&logs));
        let text = stdout(&logs);
        assert!(
            text.contains(&format!("hello from {job} (1/1)")),
            "{lang}: {text}"
        );
        // The Python and JavaScript templates also read the secret `secret` names.
        if lang != "rust" {
            assert!(
                text.contains("secret api-key: 3 characters"),
                "{lang}: {text}"
            );
        }
        assert!(text.contains(": 200"), "{lang}: {text}");
    }
    stop(recording).await;
}

#[tokio::test]
async fn an_upload_over_the_server_limit_or_the_tenant_quota_is_refused_naming_it() {
    let component = tokio::task::spawn_blocking(|| template_component("python"))
        .await
        .unwrap();
    let wasm = std::fs::read(&component).unwrap();
    let server = Server::sqlite(&["--max-upload-size", "1M"]);
    let refused = server
        .reply(
            server
                .request(reqwest::Method::PUT, "/v1/executors/too-big")
                .header("Content-Type", "application/wasm")
                .header("Connection", "close")
                .body(wasm.clone()),
        )
        .await;
    assert_eq!(refused.status, 413, "{}", refused.text);
    assert_eq!(refused.field(), "body");
    assert!(refused.text.contains("limit of 1 MiB"), "{}", refused.text);

    let server = Server::sqlite(&[]);
    let tenant = server.post("/v1/tenants", json!({"name": "team"})).await;
    assert_eq!(tenant.status, 201, "{}", tenant.text);
    let quota = server
        .put(
            "/v1/tenants/team/quotas",
            json!({"max_upload_bytes": 1 << 20}),
        )
        .await;
    assert!(quota.status < 300, "{}", quota.text);
    let token = server
        .post("/v1/tenants/team/tokens", json!({}))
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = server
        .reply(
            crate::support::client_with_token(&token)
                .put(server.url("/v1/executors/too-big"))
                .header("Content-Type", "application/wasm")
                .body(wasm),
        )
        .await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(
        refused.text.contains("max_upload_bytes"),
        "{}",
        refused.text
    );
}

/// `wasm` with a custom section `tag` appended: the same component under another
/// SHA-256, so a server compiles it afresh rather than finding it cached.
fn unique_copy(wasm: &[u8], tag: &str) -> Vec<u8> {
    fn leb128(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"sandcron-test";
    let mut payload = Vec::new();
    leb128(name.len(), &mut payload);
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    let mut copy = wasm.to_vec();
    copy.push(0); // custom section
    leb128(payload.len(), &mut copy);
    copy.extend_from_slice(&payload);
    copy
}

#[tokio::test]
async fn the_api_answers_while_a_python_component_compiles() {
    let component = tokio::task::spawn_blocking(|| template_component("python"))
        .await
        .unwrap();
    let tag = format!("{:?}", std::time::SystemTime::now());
    let wasm = unique_copy(&std::fs::read(&component).unwrap(), &tag);
    let server = Server::sqlite(&[]);
    let upload = server.reply(
        server
            .request(reqwest::Method::PUT, "/v1/executors/compiling")
            .header("Content-Type", "application/wasm")
            .body(wasm),
    );
    tokio::pin!(upload);
    // While the upload compiles, the list shows it as compiling and other requests answer.
    let compiling = loop {
        tokio::select! {
            reply = &mut upload => panic!("the upload finished before it was seen compiling: {}", reply.text),
            list = server.get("/v1/executors") => {
                let list = list.json();
                if let Some(entry) = list.as_array().unwrap().iter().find(|e| e["name"] == "compiling") {
                    break entry.clone();
                }
            }
        }
    };
    assert_eq!(compiling["state"], "compiling", "{compiling}");
    let jobs = server.get("/v1/jobs").await;
    assert_eq!(jobs.status, 200, "{}", jobs.text);
    let health = server.get("/health").await;
    assert_eq!(health.status, 200);
    let done = upload.await;
    assert_eq!(done.status, 201, "{}", done.text);
    assert_eq!(done.json()["state"], "ready", "{}", done.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_python_executions_run_at_once_within_the_default_limits() {
    use sandcron::capabilities::Grants;
    use sandcron::runtime::{ExecutionInfo, ExecutionRequest, Limits, Runtime, RuntimeConfig};

    let component = tokio::task::spawn_blocking(|| template_component("python"))
        .await
        .unwrap();
    // A loopback server that answers after a second, so that all the executions are in
    // their HTTP call at the same time.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let slow = axum::Router::new().fallback(|| async {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        "ok"
    });
    let server = tokio::spawn(async move { axum::serve(listener, slow).await });
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(crate::support::cache_dir()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let executable = runtime
        .load(std::fs::read(&component).unwrap().into())
        .await
        .unwrap();
    let url = format!("http://{address}/slow");
    let mut runs = Vec::new();
    for i in 0..100 {
        let (runtime, executable, url) = (runtime.clone(), executable.clone(), url.clone());
        runs.push(tokio::spawn(async move {
            let mut grants = Grants::default();
            grants.allow("http", &format!("http://{address}")).unwrap();
            let request = ExecutionRequest {
                info: ExecutionInfo {
                    job_name: "crowd".into(),
                    execution_id: i.to_string(),
                    attempt: 1,
                    executor_config: vec![("greeting".into(), "hi".into()), ("url".into(), url)],
                    ..ExecutionInfo::default()
                },
                grants,
                // The default limits: 64 MiB of memory each.
                limits: Limits::default(),
                listener: None,
            };
            runtime.execute(&executable, request).await
        }));
    }
    for run in runs {
        let outcome = run.await.unwrap();
        assert!(outcome.succeeded(), "{outcome:?}");
    }
    server.abort();
}
