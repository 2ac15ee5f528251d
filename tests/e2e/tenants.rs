//! Tenants: tokens (401 without one, 403 on an admin route), names that another tenant
//! never sees (404 on every route, nothing changed), grants that decide what an
//! execution reaches (a host outside them gets no connection), quotas named in the
//! refusal, and all of it kept across a restart. Both stores.

use serde_json::{Value, json};

use crate::support::{RecordingServer, Server, each_server, hostile, tenant};

/// Uploads `component` as `name` with `token`; the answer.
async fn upload(server: &Server, token: &str, name: &str, component: &[u8]) -> Value {
    let reply = server
        .reply(
            server
                .request(reqwest::Method::PUT, &format!("/v1/executors/{name}"))
                .bearer_auth(token)
                .header("Content-Type", "application/wasm")
                .header("Connection", "close")
                .body(component.to_vec()),
        )
        .await;
    assert_eq!(reply.status, 201, "{}: {}", server.backend, reply.text);
    reply.json()
}

/// Runs `job` as `token` and waits for its execution to end; the execution.
async fn run_as(server: &Server, token: &str, job: &str) -> Value {
    let run = server
        .call_as(Some(token), "POST", &format!("/v1/jobs/{job}/run"), None)
        .await;
    assert_eq!(run.status, 202, "{}: {}", server.backend, run.text);
    let path = format!("/v1/jobs/{job}/executions/{}", run.json()["id"]);
    for _ in 0..200 {
        let execution = server.call_as(Some(token), "GET", &path, None).await.json();
        if execution["finished_at"].is_string() {
            return execution;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{path} did not finish");
}

#[tokio::test]
async fn tokens_are_required_and_one_tenant_never_sees_another_tenants_names() {
    let component = std::fs::read(hostile()).unwrap();
    for server in each_server().await {
        let backend = server.backend;
        // No token, a wrong one, a malformed header: 401 naming Authorization.
        let missing = server.call_as(None, "GET", "/v1/jobs", None).await;
        assert_eq!(missing.status, 401, "{backend}: {}", missing.text);
        assert_eq!(missing.field(), "Authorization");
        assert!(
            missing
                .header("www-authenticate")
                .unwrap()
                .starts_with("Bearer")
        );
        let wrong = server
            .call_as(Some("sct_nope"), "GET", "/v1/jobs", None)
            .await;
        assert_eq!(wrong.status, 401, "{backend}");
        let basic = server
            .reply(
                reqwest::Client::new()
                    .get(server.url("/v1/jobs"))
                    .header("Authorization", "Basic YTpi"),
            )
            .await;
        assert_eq!(basic.status, 401, "{backend}");
        assert_eq!(
            server.call_as(None, "GET", "/health", None).await.status,
            200
        );
        assert_eq!(
            server
                .call_as(None, "GET", "/v1/openapi.json", None)
                .await
                .status,
            200
        );

        let acme = tenant(&server, "acme").await;
        let globex = tenant(&server, "globex").await;
        assert_eq!(
            server
                .post("/v1/tenants", json!({"name": "acme"}))
                .await
                .status,
            409,
            "{backend}"
        );
        let bad = server
            .post("/v1/tenants", json!({"name": "Not A Slug"}))
            .await;
        assert_eq!(
            (bad.status, bad.field()),
            (400, "name".to_string()),
            "{backend}"
        );
        let names: Vec<Value> = server
            .get("/v1/tenants")
            .await
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].clone())
            .collect();
        assert_eq!(
            names,
            [json!("acme"), json!("default"), json!("globex")],
            "{backend}"
        );
        // A tenant's token is not an admin token.
        for (method, path) in [
            ("GET", "/v1/tenants"),
            ("POST", "/v1/tenants/acme/tokens"),
            ("GET", "/metrics"),
        ] {
            let refused = server.call_as(Some(&acme), method, path, None).await;
            assert_eq!(
                refused.status, 403,
                "{backend} {method} {path}: {}",
                refused.text
            );
        }
        let whoami = server.call_as(Some(&acme), "GET", "/v1", None).await.json();
        assert_eq!(whoami["caller"], json!({"tenant": "acme", "admin": false}));

        // acme: a job, an execution, a secret, an upload.
        let job = json!({"name": "nightly", "schedule": "@manually", "executor": "hostile",
                         "executor_config": {"mode": "stdout", "text": "acme"}});
        upload(&server, &acme, "hostile", &component).await;
        let created = server
            .call_as(Some(&acme), "POST", "/v1/jobs", Some(job.clone()))
            .await;
        assert_eq!(created.status, 201, "{backend}: {}", created.text);
        let put = server
            .call_as(
                Some(&acme),
                "PUT",
                "/v1/secrets/api-key",
                Some(json!({"value": "k"})),
            )
            .await;
        assert_eq!(put.status, 201, "{backend}");
        let execution = run_as(&server, &acme, "nightly").await;
        let id = execution["id"].as_i64().unwrap();

        // globex, and the admin (the default tenant), see none of it.
        for token in [globex.as_str(), server.admin_token.as_str()] {
            for (method, path) in [
                ("GET", "/v1/jobs/nightly".to_string()),
                ("DELETE", "/v1/jobs/nightly".to_string()),
                ("POST", "/v1/jobs/nightly".to_string()),
                ("POST", "/v1/jobs/nightly/run".to_string()),
                ("POST", "/v1/jobs/nightly/toggle".to_string()),
                ("GET", "/v1/jobs/nightly/executions".to_string()),
                ("DELETE", "/v1/jobs/nightly/executions".to_string()),
                ("GET", format!("/v1/jobs/nightly/executions/{id}")),
                ("GET", format!("/v1/jobs/nightly/executions/{id}/output")),
                ("POST", format!("/v1/jobs/nightly/executions/{id}/kill")),
                ("GET", "/v1/executors/hostile".to_string()),
                ("DELETE", "/v1/executors/hostile".to_string()),
                ("DELETE", "/v1/secrets/api-key".to_string()),
            ] {
                let reply = server.call_as(Some(token), method, &path, None).await;
                assert_eq!(
                    reply.status, 404,
                    "{backend} {method} {path}: {}",
                    reply.text
                );
            }
            let jobs = server.call_as(Some(token), "GET", "/v1/jobs", None).await;
            assert_eq!(jobs.json(), json!([]), "{backend}");
            assert_eq!(jobs.header("x-total-count"), Some("0"));
            let secrets = server
                .call_as(Some(token), "GET", "/v1/secrets", None)
                .await;
            assert_eq!(secrets.json(), json!([]), "{backend}");
            let executors = server
                .call_as(Some(token), "GET", "/v1/executors", None)
                .await;
            assert!(
                executors
                    .json()
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["builtin"] == true),
                "{backend}: {}",
                executors.text
            );
            // A job naming the other tenant's upload names an unknown executor.
            let borrowed = server
                .call_as(
                    Some(token),
                    "POST",
                    "/v1/jobs",
                    Some(json!({
                    "name": "borrow", "schedule": "@manually", "executor": "hostile"})),
                )
                .await;
            assert_eq!(
                (borrowed.status, borrowed.field()),
                (400, "executor".to_string())
            );
        }
        // The same name in another tenant is another job.
        let same = json!({"name": "nightly", "schedule": "@manually", "executor": "shell",
                          "executor_config": {"command": "true"}});
        assert_eq!(server.post("/v1/jobs", same).await.status, 201, "{backend}");

        // Nothing of acme's changed.
        let mine = server
            .call_as(Some(&acme), "GET", "/v1/jobs/nightly", None)
            .await
            .json();
        assert_eq!(mine["executor"], "hostile", "{backend}");
        assert_eq!(mine["disabled"], false, "{backend}");
        assert_eq!(mine["success_count"], 1, "{backend}: {mine}");
        let executions = server
            .call_as(Some(&acme), "GET", "/v1/jobs/nightly/executions", None)
            .await
            .json();
        assert_eq!(executions.as_array().unwrap().len(), 1, "{backend}");
        let secrets = server
            .call_as(Some(&acme), "GET", "/v1/secrets", None)
            .await
            .json();
        assert_eq!(secrets[0]["name"], "api-key", "{backend}");
        let versions = server
            .call_as(Some(&acme), "GET", "/v1/executors/hostile", None)
            .await;
        assert_eq!(versions.status, 200, "{backend}");
    }
}

#[test]
fn grants_decide_what_a_tenant_reaches_and_survive_a_restart() {
    // The recording servers keep runtimes of their own, made and dropped outside the test's.
    let allowed = RecordingServer::start(200, "allowed");
    let forbidden = RecordingServer::start(200, "forbidden");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(grants_scenario(&allowed, &forbidden));
}

async fn grants_scenario(allowed: &RecordingServer, forbidden: &RecordingServer) {
    let component = std::fs::read(hostile()).unwrap();
    let server = Server::sqlite(&[]);
    let acme = tenant(&server, "acme").await;

    // An upload asking for what the tenant lacks is accepted, with a warning.
    let uploaded = upload(&server, &acme, "hostile", &component).await;
    let warnings = uploaded["warnings"].to_string();
    assert!(
        warnings.contains("tenant acme is granted none"),
        "{uploaded}"
    );

    // Hosted tenants start with nothing: no HTTP, no programs, no secrets.
    for (name, config) in [
        (
            "fetch-allowed",
            json!({"mode": "http", "url": allowed.url("/ok")}),
        ),
        (
            "fetch-forbidden",
            json!({"mode": "http", "url": forbidden.url("/no")}),
        ),
        ("read-granted", json!({"mode": "secret", "name": "granted"})),
        ("read-other", json!({"mode": "secret", "name": "other"})),
    ] {
        let job = json!({"name": name, "schedule": "@manually", "executor": "hostile",
                         "executor_config": config});
        let created = server
            .call_as(Some(&acme), "POST", "/v1/jobs", Some(job))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let shell = json!({"name": "shell", "schedule": "@manually", "executor": "shell",
                       "executor_config": {"command": "echo hi"}});
    assert_eq!(
        server
            .call_as(Some(&acme), "POST", "/v1/jobs", Some(shell))
            .await
            .status,
        201
    );
    for name in ["granted", "other"] {
        let put = server
            .call_as(
                Some(&acme),
                "PUT",
                &format!("/v1/secrets/{name}"),
                Some(json!({"value": "v4lue"})),
            )
            .await;
        assert_eq!(put.status, 201);
    }
    let before = run_as(&server, &acme, "fetch-allowed").await;
    assert_eq!(before["success"], false, "{before}");
    assert!(
        before["reason"].as_str().unwrap().contains("http"),
        "{before}"
    );
    let shell = run_as(&server, &acme, "shell").await;
    assert_eq!(shell["success"], false, "{shell}");
    assert!(
        shell["reason"].as_str().unwrap().contains("process"),
        "{shell}"
    );
    assert!(allowed.requests().is_empty());

    // The admin grants one host and one secret; bad grants are refused naming the pattern.
    let bad = server
        .put(
            "/v1/tenants/acme/grants",
            json!({"http": ["not a pattern"]}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.field()),
        (400, "grants.http[0]".to_string()),
        "{}",
        bad.text
    );
    let unknown = server.put("/v1/tenants/nobody/grants", json!({})).await;
    assert_eq!(unknown.status, 404);
    let default = server.put("/v1/tenants/default/grants", json!({})).await;
    assert_eq!(default.status, 409);
    let set = server
        .put(
            "/v1/tenants/acme/grants",
            json!({"http": [allowed.allow()], "secrets": ["granted"]}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json()["grants"]["secrets"], json!(["granted"]));

    check_grants(&server, &acme, forbidden).await;
    assert_eq!(allowed.requests().len(), 1);
    assert!(
        forbidden.requests().is_empty(),
        "the forbidden host got a connection"
    );

    // A job's own grants narrow its tenant's: the intersection, never more.
    for (grants, field) in [
        (json!({"http": ["not a pattern"]}), "grants.http[0]"),
        (json!({"docker": ["image:busybox"]}), "grants.docker"),
    ] {
        let job = json!({"name": "bad-grants", "schedule": "@manually", "executor": "hostile",
                         "grants": grants});
        let refused = server
            .call_as(Some(&acme), "POST", "/v1/jobs", Some(job))
            .await;
        assert_eq!(
            (refused.status, refused.field()),
            (400, field.to_string()),
            "{}",
            refused.text
        );
    }
    for (name, config, grants, success) in [
        (
            "narrow-same",
            json!({"mode": "http", "url": allowed.url("/narrow")}),
            json!({"http": [allowed.allow()]}),
            true,
        ),
        (
            "narrow-other",
            json!({"mode": "http", "url": allowed.url("/narrow")}),
            json!({"http": [forbidden.allow()]}),
            false,
        ),
        (
            "narrow-wider",
            json!({"mode": "http", "url": forbidden.url("/wider")}),
            json!({"http": [forbidden.allow()]}),
            false,
        ),
        (
            "narrow-secret",
            json!({"mode": "secret", "name": "granted"}),
            json!({"http": [allowed.allow()]}),
            false,
        ),
    ] {
        let job = json!({"name": name, "schedule": "@manually", "executor": "hostile",
                         "executor_config": config, "grants": grants});
        let created = server
            .call_as(Some(&acme), "POST", "/v1/jobs", Some(job))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.json()["grants"], grants, "{}", created.text);
        let execution = run_as(&server, &acme, name).await;
        assert_eq!(execution["success"], success, "{name}: {execution}");
    }
    assert_eq!(allowed.requests().len(), 2);
    assert!(
        forbidden.requests().is_empty(),
        "the forbidden host got a connection"
    );

    // A restart keeps the tenant, its token, grants, secrets and upload.
    let server = server.crash_and_restart();
    check_grants(&server, &acme, forbidden).await;
    assert_eq!(allowed.requests().len(), 3);
    assert!(forbidden.requests().is_empty());
}

/// As `acme`, with `http` granted to one host and `secrets` to `granted`: the allowed host
/// answers, the forbidden one is denied naming it, the granted secret is read and the
/// other is not.
async fn check_grants(server: &Server, acme: &str, forbidden: &RecordingServer) {
    let ok = run_as(server, acme, "fetch-allowed").await;
    assert_eq!(ok["success"], true, "{ok}");
    assert!(ok["output"].as_str().unwrap().contains("allowed"), "{ok}");
    let denied = run_as(server, acme, "fetch-forbidden").await;
    assert_eq!(denied["success"], false, "{denied}");
    let shown = format!("{}{}", denied["output"], denied["reason"]);
    assert!(
        shown.contains("http") && shown.contains(&forbidden.addr.to_string()),
        "{denied}"
    );
    let read = run_as(server, acme, "read-granted").await;
    assert_eq!(read["success"], true, "{read}");
    assert!(
        read["output"]
            .as_str()
            .unwrap()
            .contains("secret of 5 bytes"),
        "{read}"
    );
    let other = run_as(server, acme, "read-other").await;
    assert_eq!(other["success"], false, "{other}");
    let shown = format!("{}{}", other["output"], other["reason"]);
    assert!(
        shown.contains("secret \\\"other\\\" is not granted"),
        "{other}"
    );
}

#[tokio::test]
async fn quotas_are_named_when_reached_and_the_concurrency_quota_waits_or_skips() {
    let component = std::fs::read(hostile()).unwrap();
    let server = Server::sqlite(&[]);
    let acme = tenant(&server, "acme").await;
    let bad = server
        .put("/v1/tenants/acme/quotas", json!({"max_jobz": 1}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("max_jobz"), "{}", bad.text);
    let negative = server
        .put("/v1/tenants/acme/quotas", json!({"max_jobs": -1}))
        .await;
    assert_eq!(
        (negative.status, negative.field()),
        (400, "quotas.max_jobs".to_string())
    );
    let set = server
        .put(
            "/v1/tenants/acme/quotas",
            json!({"max_jobs": 3, "max_concurrent_executions": 1, "max_executors": 1}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.text);

    let granted = server
        .put("/v1/tenants/acme/grants", json!({"process": ["sleep"]}))
        .await;
    assert_eq!(granted.status, 200, "{}", granted.text);
    upload(&server, &acme, "sleeper", &component).await;
    let again = server
        .reply(
            server
                .request(reqwest::Method::PUT, "/v1/executors/sleeper")
                .bearer_auth(&acme)
                .header("Content-Type", "application/wasm")
                .header("Connection", "close")
                .body(component.clone()),
        )
        .await;
    assert_eq!(
        (again.status, again.field()),
        (429, "max_executors".to_string()),
        "{}",
        again.text
    );

    let job = |name: &str, seconds: u32, concurrency: &str| {
        json!({"name": name, "schedule": "@manually", "executor": "sleeper",
               "concurrency": concurrency,
               "executor_config": {"mode": "sleep", "seconds": seconds.to_string()}})
    };
    for spec in [
        job("slow", 3, "allow"),
        job("waits", 0, "allow"),
        job("skips", 0, "forbid"),
    ] {
        let created = server
            .call_as(Some(&acme), "POST", "/v1/jobs", Some(spec))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let fourth = server
        .call_as(
            Some(&acme),
            "POST",
            "/v1/jobs",
            Some(job("fourth", 0, "allow")),
        )
        .await;
    assert_eq!(
        (fourth.status, fourth.field()),
        (429, "max_jobs".to_string()),
        "{}",
        fourth.text
    );
    // Replacing a job is not a new one.
    let replaced = server
        .call_as(
            Some(&acme),
            "PUT",
            "/v1/jobs/waits",
            Some(job("waits", 0, "allow")),
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    // A restore replaces jobs freely and refuses, by name, each new one past the quota.
    let restored = server
        .call_as(
            Some(&acme),
            "POST",
            "/v1/restore",
            Some(json!([job("waits", 0, "allow"), job("fifth", 0, "allow")])),
        )
        .await;
    assert_eq!(restored.status, 200, "{}", restored.text);
    let lines = restored.json();
    assert_eq!(lines[0], "success create waits", "{lines}");
    let refusal = lines[1].as_str().unwrap();
    assert!(
        refusal.starts_with("fail create fifth: ") && refusal.contains("quota is 3"),
        "{lines}"
    );

    let slow = server
        .call_as(Some(&acme), "POST", "/v1/jobs/slow/run", None)
        .await;
    assert_eq!(slow.status, 202, "{}", slow.text);
    let busy = server
        .call_as(Some(&acme), "POST", "/v1/jobs/waits/run", None)
        .await;
    assert_eq!(
        (busy.status, busy.field()),
        (429, "max_concurrent_executions".to_string()),
        "{}",
        busy.text
    );
    // Other tenants are not held back by acme's quota.
    let mine = json!({"name": "mine", "schedule": "@manually", "executor": "shell",
                      "executor_config": {"command": "true"}});
    assert_eq!(server.post("/v1/jobs", mine).await.status, 201);
    assert_eq!(server.run_to_end("mine").await["success"], true);

    // Scheduled while `slow` runs: `waits` (allow) waits for the slot, `skips` (forbid)
    // is recorded as failed, naming the quota.
    for name in ["waits", "skips"] {
        let mut spec = job(name, 0, if name == "skips" { "forbid" } else { "allow" });
        spec["schedule"] = json!("@every 1s");
        let put = server
            .call_as(Some(&acme), "PUT", &format!("/v1/jobs/{name}"), Some(spec))
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
    }
    let slow_id = slow.json()["id"].as_i64().unwrap();
    let skipped = first_execution(&server, &acme, "skips", |e| e["finished_at"].is_string()).await;
    assert_eq!(skipped["success"], false, "{skipped}");
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap()
            .starts_with("skipped: quota max_concurrent_executions"),
        "{skipped}"
    );
    let slow_done = first_execution(&server, &acme, "slow", |e| {
        e["id"] == slow_id && e["finished_at"].is_string()
    })
    .await;
    let waited = first_execution(&server, &acme, "waits", |e| e["success"] == true).await;
    // No execution of `waits` ran beside `slow`.
    let list = server
        .call_as(Some(&acme), "GET", "/v1/jobs/waits/executions", None)
        .await
        .json();
    for execution in list.as_array().unwrap() {
        if let Some(started) = execution["started_at"].as_str() {
            assert!(
                started >= slow_done["finished_at"].as_str().unwrap(),
                "{execution} started while slow ran: {slow_done}"
            );
        }
    }
    assert_eq!(waited["success"], true);
}

/// Waits up to 15 s for an execution of `job` (as `token`) that `wanted` picks; it.
async fn first_execution(
    server: &Server,
    token: &str,
    job: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/v1/jobs/{job}/executions");
    let wanted = &wanted;
    crate::support::eventually(&path.clone(), std::time::Duration::from_secs(15), || {
        let path = path.clone();
        async move {
            let list = server.call_as(Some(token), "GET", &path, None).await.json();
            list.as_array()?.iter().find(|e| wanted(e)).cloned()
        }
    })
    .await
}

#[tokio::test]
async fn the_admin_cli_creates_tenants_tokens_grants_and_quotas() {
    let server = Server::sqlite(&[]);
    let ok = |args: &[&str]| {
        let output = server.cli(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            crate::support::stderr(&output)
        );
        crate::support::stdout(&output)
    };
    assert_eq!(ok(&["tenant", "create", "acme"]), "tenant acme created\n");
    let token = ok(&["token", "create", "acme"]).trim().to_string();
    assert!(token.starts_with("sct_"), "{token}");
    let dir = tempfile::tempdir().unwrap();
    let grants = dir.path().join("grants.json");
    std::fs::write(&grants, r#"{"http": ["https://api.example.com"]}"#).unwrap();
    let shown = ok(&["grant", "set", "acme", "-f", grants.to_str().unwrap()]);
    assert!(shown.contains("https://api.example.com"), "{shown}");
    let quotas = dir.path().join("quotas.json");
    std::fs::write(&quotas, r#"{"max_jobs": 5}"#).unwrap();
    let shown = ok(&["quota", "set", "acme", "-f", quotas.to_str().unwrap()]);
    assert!(shown.contains("\"max_jobs\": 5"), "{shown}");
    let list = ok(&["tenant", "list"]);
    assert!(list.contains("acme") && list.contains("default"), "{list}");
    assert!(list.contains("max_jobs"), "{list}");

    // The tenant's token works with the client commands, and is refused the admin's.
    let as_acme = server.cli_as(&token, &["job", "list"]);
    assert!(
        as_acme.status.success(),
        "{}",
        crate::support::stderr(&as_acme)
    );
    let refused = server.cli_as(&token, &["tenant", "list"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        crate::support::stderr(&refused).contains("admin token"),
        "{}",
        crate::support::stderr(&refused)
    );
    let bad = std::fs::write(&grants, r#"{"http": ["not a pattern"]}"#);
    bad.unwrap();
    let refused = server.cli(&["grant", "set", "acme", "-f", grants.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        crate::support::stderr(&refused).contains("grants.http[0]"),
        "{}",
        crate::support::stderr(&refused)
    );
}

#[test]
fn a_server_given_the_admin_token_in_its_environment_leaves_it_for_the_cli() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let mut serve = crate::support::sandcron()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--node",
            "env-token",
            "--data-dir",
        ])
        .arg(data.path())
        .env("SANDCRON_ADMIN_TOKEN", "sca_from-the-environment")
        .env_remove("SANDCRON_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(serve.stderr.take().unwrap()).lines();
    let base = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let rest = line.strip_prefix("sandcron: listening on ")?;
            Some(rest.split(" (").next().unwrap_or(rest).to_string())
        })
        .expect("the server listens");
    std::thread::spawn(move || lines.for_each(drop));

    let file = data.path().join("admin-token");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        "sca_from-the-environment"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The author's CLI, without the variable, finds the token in the data directory.
    let list = crate::support::sandcron()
        .args(["job", "list"])
        .env("SANDCRON_SERVER", &base)
        .env("SANDCRON_DATA_DIR", data.path())
        .output()
        .unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
}
