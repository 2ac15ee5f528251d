//! Uploaded executors: a component built from the SDK template is uploaded, run by a job,
//! kept across a restart without compiling again, and deleted; malformed uploads are
//! refused with the reason.

use serde_json::json;

use crate::support::{Server, build_component, each_server};

/// Uploads `wasm` as `name`.
pub(crate) async fn upload(
    server: &Server,
    name: &str,
    wasm: Vec<u8>,
    content_type: &str,
) -> crate::support::Reply {
    server
        .reply(
            server
                .http
                .put(server.url(&format!("/v1/executors/{name}")))
                .header("Content-Type", content_type)
                // A refused upload may end its connection: never reuse one.
                .header("Connection", "close")
                .body(wasm),
        )
        .await
}

#[tokio::test]
async fn an_uploaded_template_runs_from_a_job_and_is_kept_across_a_restart() {
    let wasm = std::fs::read(build_component("sdk/template", "my_executor")).unwrap();
    for server in each_server().await {
        let backend = server.backend;
        let first = upload(&server, "greeter", wasm.clone(), "application/wasm").await;
        assert_eq!(first.status, 201, "{backend}: {}", first.text);
        let first = first.json();
        assert_eq!(first["version"], 1, "{backend}");
        assert_eq!(first["size"], wasm.len(), "{backend}");
        assert_eq!(first["sha256"].as_str().unwrap().len(), 64, "{backend}");
        assert_eq!(first["capabilities"], json!(["http"]), "{backend}: {first}");
        let second = upload(&server, "greeter", wasm.clone(), "application/wasm").await;
        assert_eq!(second.json()["version"], 2, "{backend}");

        let list = server.get("/v1/executors").await.json();
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"shell") && names.contains(&"greeter"),
            "{list}"
        );
        let versions = server.get("/v1/executors/greeter").await.json();
        assert_eq!(versions[0]["version"], 2, "{backend}: {versions}");
        assert_eq!(versions.as_array().unwrap().len(), 2, "{backend}");

        let job = json!({"name": "greet", "schedule": "@manually", "executor": "greeter@1",
                         "executor_config": {"greeting": "hi", "repeat": "2"}});
        let created = server.post("/v1/jobs", job).await;
        assert_eq!(created.status, 201, "{backend}: {}", created.text);
        let execution = server.run_to_end("greet").await;
        assert_eq!(execution["success"], true, "{backend}: {execution}");
        assert!(
            execution["output"]
                .as_str()
                .unwrap()
                .contains("hi from greet (2/2)"),
            "{backend}: {execution}"
        );
        for missing in ["nope", "greeter@9", "greeter@x"] {
            let refused = server
                .post(
                    "/v1/jobs",
                    json!({"name": "other", "schedule": "@manually", "executor": missing}),
                )
                .await;
            assert_eq!(refused.status, 400, "{backend} {missing}: {}", refused.text);
            assert_eq!(refused.field(), "executor", "{backend} {missing}");
        }
        let in_use = server.call("DELETE", "/v1/executors/greeter", None).await;
        assert_eq!(in_use.status, 409, "{backend}: {}", in_use.text);
        assert!(in_use.text.contains("greet"), "{backend}: {}", in_use.text);

        // Compiled once at upload and kept on disk: the restart loads the artifact
        // instead of compiling again (which would write it anew).
        let sha256 = first["sha256"].as_str().unwrap().to_string();
        let artifact = || {
            std::fs::read_dir(crate::support::cache_dir())
                .unwrap()
                .filter_map(Result::ok)
                .find(|entry| entry.file_name().to_string_lossy().starts_with(&sha256))
                .map(|entry| entry.metadata().unwrap().modified().unwrap())
        };
        let compiled_at = artifact().expect("a compiled artifact on disk");
        let server = server.crash_and_restart();
        assert_eq!(
            server
                .get("/v1/executors/greeter")
                .await
                .json()
                .as_array()
                .unwrap()
                .len(),
            2,
            "{backend}"
        );
        let again = server.run_to_end("greet").await;
        assert_eq!(again["success"], true, "{backend}: {again}");
        assert_eq!(artifact(), Some(compiled_at), "{backend}: compiled again");

        assert_eq!(
            server.call("DELETE", "/v1/jobs/greet", None).await.status,
            200
        );
        let deleted = server.call("DELETE", "/v1/executors/greeter", None).await;
        assert_eq!(deleted.status, 204, "{backend}: {}", deleted.text);
        assert_eq!(server.get("/v1/executors/greeter").await.status, 404);
    }
}

/// `(component (import "sandcron:executor/nope@0.1.0" (instance (export "f" (func)))))`,
/// as `wasm-tools parse` writes it: a component importing an interface no host provides.
const UNKNOWN_IMPORT: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x07, 0x0e, 0x01, 0x42, 0x02, 0x01, 0x40, 0x00,
    0x01, 0x00, 0x04, 0x00, 0x01, 0x66, 0x01, 0x00, 0x0a, 0x21, 0x01, 0x00, 0x1c, 0x73, 0x61, 0x6e,
    0x64, 0x63, 0x72, 0x6f, 0x6e, 0x3a, 0x65, 0x78, 0x65, 0x63, 0x75, 0x74, 0x6f, 0x72, 0x2f, 0x6e,
    0x6f, 0x70, 0x65, 0x40, 0x30, 0x2e, 0x31, 0x2e, 0x30, 0x05, 0x00,
];

/// One refused upload: name, bytes, content type, status, field, part of the message.
type Refusal = (
    &'static str,
    Vec<u8>,
    &'static str,
    u16,
    &'static str,
    &'static str,
);

#[tokio::test]
async fn malformed_uploads_are_refused_with_the_reason() {
    let server = Server::sqlite(&[]);
    // An empty component: valid, but it exports no `run`.
    let empty = b"\0asm\x0d\0\x01\0".to_vec();
    let wasm = "application/wasm";
    let cases: Vec<Refusal> = vec![
        (
            "junk",
            b"hello".to_vec(),
            wasm,
            400,
            "body",
            "not a WebAssembly file",
        ),
        (
            "core",
            b"\0asm\x01\0\0\0".to_vec(),
            wasm,
            400,
            "body",
            "core WebAssembly module",
        ),
        (
            "empty",
            empty.clone(),
            wasm,
            400,
            "body",
            "does not implement",
        ),
        (
            "unknown-import",
            UNKNOWN_IMPORT.to_vec(),
            wasm,
            400,
            "body",
            "imports an interface the host does not provide",
        ),
        (
            "text",
            empty.clone(),
            "text/plain",
            415,
            "Content-Type",
            "application/wasm",
        ),
        ("Bad", empty.clone(), wasm, 400, "name", "not a slug"),
        (
            "shell",
            empty.clone(),
            wasm,
            400,
            "name",
            "is a built-in executor",
        ),
        (
            "big",
            // Past the default `--max-upload-size` (64 MiB).
            vec![0; 65 << 20],
            wasm,
            413,
            "body",
            "larger than this server's limit of 64 MiB",
        ),
    ];
    for (name, bytes, content_type, status, field, message) in cases {
        let refused = upload(&server, name, bytes, content_type).await;
        assert_eq!(refused.status, status, "{name}: {}", refused.text);
        assert_eq!(refused.field(), field, "{name}: {}", refused.text);
        assert!(refused.text.contains(message), "{name}: {}", refused.text);
    }
    // Nothing was stored.
    let list = server.get("/v1/executors").await.json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|e| e["builtin"] == true),
        "{list}"
    );
}

#[tokio::test]
async fn the_cli_uploads_lists_and_deletes_an_executor() {
    let component = build_component("sdk/template", "my_executor");
    let server = Server::sqlite(&[]);
    let cli = |args: &[&str]| server.cli(args);
    let uploaded = cli(&["executor", "upload", "greeter", component.to_str().unwrap()]);
    assert!(
        uploaded.status.success(),
        "{}",
        crate::support::stderr(&uploaded)
    );
    let printed = crate::support::stdout(&uploaded);
    assert!(
        printed.starts_with("executor greeter version 1 uploaded (sha256 "),
        "{printed}"
    );

    let listed = crate::support::stdout(&cli(&["executor", "list"]));
    assert!(
        listed.lines().any(|l| l.starts_with("greeter ")),
        "{listed}"
    );
    assert!(listed.lines().any(|l| l.starts_with("shell ")), "{listed}");

    let refused = cli(&["executor", "upload", "other", "Cargo.toml"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        crate::support::stderr(&refused).contains("body: not a WebAssembly file"),
        "{}",
        crate::support::stderr(&refused)
    );

    let deleted = cli(&["executor", "delete", "greeter"]);
    assert!(
        deleted.status.success(),
        "{}",
        crate::support::stderr(&deleted)
    );
    assert_eq!(
        crate::support::stdout(&deleted),
        "executor greeter deleted\n"
    );
    assert_eq!(server.get("/v1/executors/greeter").await.status, 404);
}

#[tokio::test]
async fn an_upload_asking_for_what_the_server_denies_is_accepted_with_warnings() {
    let wasm = std::fs::read(crate::support::hostile()).unwrap();
    let server = Server::sqlite(&[]);
    let uploaded = upload(&server, "hostile", wasm, "application/wasm").await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.text);
    let uploaded = uploaded.json();
    assert_eq!(
        uploaded["capabilities"],
        json!(["http", "process", "secrets"]),
        "{uploaded}"
    );
    // The default grants allow HTTP to public hosts, and no program and no secret.
    let warnings: Vec<&str> = uploaded["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 2, "{uploaded}");
    assert!(
        warnings[0].starts_with("process: this server grants none"),
        "{uploaded}"
    );
    assert!(
        warnings[1].starts_with("secrets: this server grants none"),
        "{uploaded}"
    );
}
