//! Secrets: set over the API and never shown again, replaced in `executor_config` at
//! execution time and masked in the stored output, and read by an uploaded component
//! through the `secrets` interface only when granted.

use serde_json::json;

use crate::support::{Server, fresh_postgres_database, hostile};

#[tokio::test]
async fn secrets_are_write_only_substituted_masked_and_read_when_granted() {
    let grant = ["--allow", "secrets=db-password"];
    let servers = [
        Server::sqlite(&grant),
        Server::postgres(&fresh_postgres_database().await, &grant),
    ];
    let component = std::fs::read(hostile()).unwrap();
    for server in servers {
        let backend = server.backend;
        let set = server
            .call(
                "PUT",
                "/v1/secrets/db-password",
                Some(json!({"value": "hunter2"})),
            )
            .await;
        assert_eq!(set.status, 201, "{backend}: {}", set.text);
        let again = server
            .call(
                "PUT",
                "/v1/secrets/db-password",
                Some(json!({"value": "hunter2"})),
            )
            .await;
        assert_eq!(again.status, 200, "{backend}: {}", again.text);
        let other = server
            .call("PUT", "/v1/secrets/other", Some(json!({"value": "s3cr3t"})))
            .await;
        assert_eq!(other.status, 201, "{backend}");
        let list = server.get("/v1/secrets").await;
        assert!(!list.text.contains("hunter2"), "{backend}: {}", list.text);
        let names: Vec<String> = list
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["db-password", "other"], "{backend}");
        let bad = server
            .call("PUT", "/v1/secrets/a%20b", Some(json!({"value": "x"})))
            .await;
        assert_eq!(
            (bad.status, bad.field()),
            (400, "name".to_string()),
            "{backend}"
        );
        let empty = server
            .call("PUT", "/v1/secrets/empty", Some(json!({"value": ""})))
            .await;
        assert_eq!(
            (empty.status, empty.field()),
            (400, "value".to_string()),
            "{backend}"
        );

        // Referenced in executor_config: replaced when it runs, masked in what is stored.
        let job = json!({"name": "uses", "schedule": "@manually", "executor": "shell",
                         "executor_config": {"command": "echo pass={{secret:db-password}}"}});
        assert_eq!(server.post("/v1/jobs", job).await.status, 201, "{backend}");
        let execution = server.run_to_end("uses").await;
        assert_eq!(execution["success"], true, "{backend}: {execution}");
        assert_eq!(execution["output"], "pass=***\n", "{backend}: {execution}");
        let job = json!({"name": "missing", "schedule": "@manually", "executor": "shell",
                         "executor_config": {"command": "echo {{secret:nope}}"}});
        assert_eq!(server.post("/v1/jobs", job).await.status, 201, "{backend}");
        let execution = server.run_to_end("missing").await;
        assert_eq!(execution["success"], false, "{backend}: {execution}");
        assert_eq!(
            execution["reason"], "executor_config.command: there is no secret called \"nope\"",
            "{backend}: {execution}"
        );

        // Read through the interface: only the granted one.
        let uploaded = server
            .reply(
                server
                    .http
                    .put(server.url("/v1/executors/reader"))
                    .header("Content-Type", "application/wasm")
                    .header("Connection", "close")
                    .body(component.clone()),
            )
            .await;
        assert_eq!(uploaded.status, 201, "{backend}: {}", uploaded.text);
        for (job, secret, success, text) in [
            ("granted", "db-password", true, "secret of 7 bytes\n"),
            (
                "denied",
                "other",
                false,
                "secrets: secret \"other\" is not granted",
            ),
        ] {
            let spec = json!({"name": job, "schedule": "@manually", "executor": "reader",
                              "executor_config": {"mode": "secret", "name": secret}});
            assert_eq!(server.post("/v1/jobs", spec).await.status, 201, "{backend}");
            let execution = server.run_to_end(job).await;
            assert_eq!(execution["success"], success, "{backend}: {execution}");
            let shown = format!(
                "{}{}",
                execution["output"].as_str().unwrap_or_default(),
                execution["reason"].as_str().unwrap_or_default()
            );
            assert!(shown.contains(text), "{backend} {job}: {execution}");
        }

        let deleted = server.call("DELETE", "/v1/secrets/other", None).await;
        assert_eq!(deleted.status, 204, "{backend}");
        assert_eq!(
            server
                .call("DELETE", "/v1/secrets/other", None)
                .await
                .status,
            404
        );
    }
}

#[tokio::test]
async fn the_cli_sets_lists_and_deletes_secrets_reading_values_from_stdin() {
    use std::io::Write;
    let server = Server::sqlite(&[]);
    let mut set = crate::support::sandcron()
        .args(["--server", &server.base, "--token", &server.admin_token])
        .args(["secret", "set", "api-key"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    set.stdin.take().unwrap().write_all(b"k-123\n").unwrap();
    let set = set.wait_with_output().unwrap();
    assert!(set.status.success(), "{}", crate::support::stderr(&set));
    assert_eq!(crate::support::stdout(&set), "secret api-key set\n");

    let cli = |args: &[&str]| server.cli(args);
    let listed = crate::support::stdout(&cli(&["secret", "list"]));
    assert!(listed.starts_with("NAME"), "{listed}");
    assert!(
        listed.lines().any(|l| l.starts_with("api-key ")),
        "{listed}"
    );
    assert!(!listed.contains("k-123"), "{listed}");

    // The value was taken without its newline: a job sees exactly `k-123`.
    let job = json!({"name": "show", "schedule": "@manually", "executor": "shell",
                     "executor_config": {"command": "echo [{{secret:api-key}}]"}});
    assert_eq!(server.post("/v1/jobs", job).await.status, 201);
    let execution = server.run_to_end("show").await;
    assert_eq!(execution["output"], "[***]\n", "{execution}");

    let deleted = cli(&["secret", "delete", "api-key"]);
    assert_eq!(crate::support::stdout(&deleted), "secret api-key deleted\n");
    let again = cli(&["secret", "delete", "api-key"]);
    assert_eq!(again.status.code(), Some(1));
}
