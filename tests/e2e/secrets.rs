//! Secrets: set over the API and never shown again, replaced in `executor_config` at
//! execution time and masked in the stored output, and read by an uploaded component
//! through the `secrets` interface only when granted; sealed at rest, sealed again after a
//! key rotation; the data directory private to the server's user.

use serde_json::json;

use crate::support::{Server, fresh_postgres_database, hostile};

/// Sets the default tenant's secret `name` to `value` over the API; the answer's status.
async fn put_secret(server: &Server, name: &str, value: &str) -> u16 {
    let path = format!("/v1/secrets/{name}");
    let reply = server
        .call("PUT", &path, Some(json!({"value": value})))
        .await;
    assert!(reply.status < 300, "{}: {}", server.backend, reply.text);
    reply.status
}

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
        assert_eq!(put_secret(&server, "db-password", "hunter2").await, 201);
        assert_eq!(put_secret(&server, "db-password", "hunter2").await, 200);
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

/// Runs `sql` with `binds` on the server's own database, bypassing the server, and
/// returns the first column of each row as text.
async fn raw_sql(server: &Server, sql: &str, binds: &[&str]) -> Vec<String> {
    use sqlx::Connection;
    let url = server.database_url();
    macro_rules! run_on {
        ($connection:ty) => {{
            let mut connection = <$connection>::connect(&url).await.unwrap();
            let mut query = sqlx::query_scalar::<_, String>(sql);
            for bind in binds {
                query = query.bind(*bind);
            }
            query.fetch_all(&mut connection).await.unwrap()
        }};
    }
    if url.starts_with("sqlite:") {
        run_on!(sqlx::SqliteConnection)
    } else {
        run_on!(sqlx::PgConnection)
    }
}

/// The value of the default tenant's secret `name` as the database holds it.
async fn stored_value(server: &Server, name: &str) -> String {
    let rows = raw_sql(
        server,
        "SELECT value FROM secrets WHERE tenant_id = 1 AND name = $1",
        &[name],
    )
    .await;
    rows.into_iter().next().expect("the secret is stored")
}

#[tokio::test]
async fn secret_values_are_sealed_at_rest_and_sealed_again_after_a_key_rotation() {
    for server in crate::support::each_server().await {
        let backend = server.backend;
        assert_eq!(put_secret(&server, "db-password", "hunter2").await, 201);
        let stored = stored_value(&server, "db-password").await;
        assert!(
            stored.starts_with("sandcron-aead-v1:") && !stored.contains("hunter2"),
            "{backend}: {stored}"
        );
        // A value written in plain text before encryption existed.
        raw_sql(
            &server,
            "INSERT INTO secrets (tenant_id, name, value, created_at, updated_at) \
             VALUES (1, $1, $2, 0, 0) RETURNING name",
            &["legacy", "plain-old-value"],
        )
        .await;
        let job = json!({"name": "uses", "schedule": "@manually", "executor": "shell",
                         "executor_config": {"command":
                             "echo {{secret:db-password}} {{secret:legacy}}"}});
        assert_eq!(server.post("/v1/jobs", job).await.status, 201, "{backend}");
        let execution = server.run_to_end("uses").await;
        assert_eq!(execution["success"], true, "{backend}: {execution}");
        assert_eq!(execution["output"], "*** ***\n", "{backend}: {execution}");

        let rotated = crate::support::run(&[
            "secret",
            "rotate-key",
            "--data-dir",
            server.data_dir().to_str().unwrap(),
        ]);
        assert!(
            rotated.status.success(),
            "{}",
            crate::support::stderr(&rotated)
        );
        let key_id = crate::support::stdout(&rotated)
            .split_whitespace()
            .nth(3)
            .unwrap()
            .to_string();
        let server = server.stop_and_restart();
        for name in ["db-password", "legacy"] {
            let stored = stored_value(&server, name).await;
            assert!(
                stored.starts_with(&format!("sandcron-aead-v1:{key_id}:")),
                "{backend}: {name} is not sealed under the new key {key_id}: {stored}"
            );
        }
        let execution = server.run_to_end("uses").await;
        assert_eq!(execution["success"], true, "{backend}: {execution}");
        assert_eq!(execution["output"], "*** ***\n", "{backend}: {execution}");
    }
}

#[tokio::test]
async fn the_data_directory_and_its_files_are_the_servers_users_alone() {
    use std::os::unix::fs::MetadataExt;
    let server = Server::sqlite(&[]);
    let set = server
        .call("PUT", "/v1/secrets/s", Some(json!({"value": "v"})))
        .await;
    assert_eq!(set.status, 201, "{}", set.text);
    let dir = server.data_dir();
    let mode = |name: &str| {
        let path = dir.join(name);
        std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .mode()
            & 0o777
    };
    for file in [
        "sandcron.db",
        "sandcron.db-wal",
        "sandcron.db-shm",
        "admin-token",
        "secrets.key",
    ] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    // The tests keep precompiled components in a shared directory (SANDCRON_CACHE_DIR):
    // a server given none makes <data-dir>/cache, checked here with a fresh one.
    let fresh = tempfile::tempdir().unwrap();
    let data = fresh.path().join("data");
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_sandcron"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env_remove("SANDCRON_CACHE_DIR")
        .env_remove("SANDCRON_ADMIN_TOKEN")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = serve.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let listening = lines.any(|line| line.is_ok_and(|l| l.contains("listening on")));
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(listening, "the fresh server did not start");
    for (path, expected) in [
        (data.clone(), 0o700),
        (data.join("cache"), 0o700),
        (data.join("sandcron.db"), 0o600),
        (data.join("secrets.key"), 0o600),
        (data.join("admin-token"), 0o600),
    ] {
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, expected, "{}", path.display());
    }
    let artifacts: Vec<_> = std::fs::read_dir(data.join("cache"))
        .unwrap()
        .flatten()
        .collect();
    assert!(!artifacts.is_empty());
    for artifact in artifacts {
        assert_eq!(artifact.metadata().unwrap().mode() & 0o777, 0o600);
    }
}
