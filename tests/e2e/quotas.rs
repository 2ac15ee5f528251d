//! Quotas that hold under races: many requests of one tenant sent at once never take it
//! past `max_jobs`, `max_executors`, `max_executor_bytes` or `max_concurrent_executions`,
//! and each refused one is a 429 naming the quota. Both stores; on PostgreSQL the requests are spread over
//! two nodes on one database, as in a cluster. Then the node's fair share: a tenant
//! without quotas holds at most `--tenant-share` of the node and the default tenant keeps
//! `--reserved-share`; and `min_interval_ms` refuses schedules that fire more often.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::{Reply, Server, finished, fresh_postgres_database, hostile, tenant};

/// A server on SQLite, and two nodes on one fresh PostgreSQL database: every request of
/// a race is sent to one of the servers of its store in turn.
async fn each_store_servers() -> Vec<Vec<Server>> {
    let url = fresh_postgres_database().await;
    // Every upload of a race compiles at once: the quota, not the compile slots
    // (`--max-tenant-compiles`, 2 by default), is what refuses them.
    let compiles = ["--max-tenant-compiles", "16"];
    let first = Server::postgres(&url, &[&["--node", "quota-a"][..], &compiles].concat());
    let second = Server::postgres(&url, &[&["--node", "quota-b"][..], &compiles].concat());
    vec![vec![Server::sqlite(&compiles)], vec![first, second]]
}

/// Creates the tenant `name` (through the first server) with `quotas` and `grants`; its
/// token.
async fn tenant_with(servers: &[Server], name: &str, quotas: Value, grants: Value) -> String {
    let server = &servers[0];
    let token = tenant(server, name).await;
    let set = server
        .put(&format!("/v1/tenants/{name}/quotas"), quotas)
        .await;
    assert_eq!(set.status, 200, "{}: {}", server.backend, set.text);
    let granted = server
        .put(&format!("/v1/tenants/{name}/grants"), grants)
        .await;
    assert_eq!(granted.status, 200, "{}: {}", server.backend, granted.text);
    token
}

/// Uploads `component` as `name` with `token` through `server`; the answer.
async fn upload(server: &Server, token: &str, name: &str, component: &[u8]) -> Reply {
    let request = server
        .request(reqwest::Method::PUT, &format!("/v1/executors/{name}"))
        .bearer_auth(token)
        .header("Content-Type", "application/wasm")
        // A refused upload may end its connection: never reuse one.
        .header("Connection", "close")
        .body(component.to_vec());
    server.reply(request).await
}

/// Uploads `component` `count` times at once with `token`, as `PREFIX0`, `PREFIX1`…, each
/// through the next of `servers`; the answers.
async fn race_uploads(
    servers: &[Server],
    token: &str,
    prefix: &str,
    count: usize,
    component: &[u8],
) -> Vec<Reply> {
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}{i}")).collect();
    let uploads = names
        .iter()
        .enumerate()
        .map(|(i, name)| upload(&servers[i % servers.len()], token, name, component));
    join_all(uploads).await
}

/// Uploads the hostile `component` as `sleeper` with `token`, makes the manual job `slow`
/// that sleeps `seconds` with it, and asks for 30 runs of it at once; the answers.
async fn slow_runs(server: &Server, token: &str, component: &[u8], seconds: u32) -> Vec<Reply> {
    let backend = server.backend;
    let uploaded = upload(server, token, "sleeper", component).await;
    assert_eq!(uploaded.status, 201, "{backend}: {}", uploaded.text);
    let job = json!({"name": "slow", "schedule": "@manually", "executor": "sleeper",
                     "executor_config": {"mode": "sleep", "seconds": seconds.to_string()}});
    let created = server
        .call_as(Some(token), "POST", "/v1/jobs", Some(job))
        .await;
    assert_eq!(created.status, 201, "{backend}: {}", created.text);
    let runs = (0..30).map(|_| server.call_as(Some(token), "POST", "/v1/jobs/slow/run", None));
    join_all(runs).await
}

/// How many answers had each status, and the `field` of every 429.
fn tally(replies: &[Reply], success: u16) -> (usize, Vec<String>) {
    let succeeded = replies.iter().filter(|r| r.status == success).count();
    let refused = replies
        .iter()
        .filter(|r| r.status != success)
        .map(|r| {
            assert_eq!(r.status, 429, "{}", r.text);
            r.field()
        })
        .collect();
    (succeeded, refused)
}

#[tokio::test]
async fn max_jobs_holds_when_50_creates_race() {
    for servers in each_store_servers().await {
        let backend = servers[0].backend;
        let token = tenant_with(&servers, "acme", json!({"max_jobs": 5}), json!({})).await;
        let creates = (0..50).map(|i| {
            let server = &servers[i % servers.len()];
            let job = json!({"name": format!("job{i}"), "schedule": "@manually",
                             "executor": "echo", "executor_config": {"message": "hi"}});
            server.call_as(Some(&token), "POST", "/v1/jobs", Some(job))
        });
        let replies = join_all(creates).await;
        let (created, refused) = tally(&replies, 201);
        assert_eq!(created, 5, "{backend}: {replies:?}");
        assert_eq!(refused, vec!["max_jobs".to_string(); 45], "{backend}");
        let listed = servers[0]
            .call_as(Some(&token), "GET", "/v1/jobs", None)
            .await;
        assert_eq!(listed.json().as_array().unwrap().len(), 5, "{backend}");
        assert_eq!(listed.header("X-Total-Count"), Some("5"), "{backend}");

        // A restore racing creates stays within the quota too, refusing by name.
        let first = listed.json()[0]["name"].as_str().unwrap().to_string();
        let deleted = servers[0]
            .call_as(Some(&token), "DELETE", &format!("/v1/jobs/{first}"), None)
            .await;
        assert_eq!(deleted.status, 200, "{backend}: {}", deleted.text);
        let restores = (0..10).map(|i| {
            let server = &servers[i % servers.len()];
            let jobs = json!([{"name": format!("restored{i}"), "schedule": "@manually",
                               "executor": "echo"}]);
            server.call_as(Some(&token), "POST", "/v1/restore", Some(jobs))
        });
        let lines: Vec<Value> = join_all(restores).await.iter().map(Reply::json).collect();
        let successes = lines
            .iter()
            .filter(|l| l[0].as_str().unwrap().starts_with("success"))
            .count();
        assert_eq!(successes, 1, "{backend}: {lines:?}");
        let total = servers[0]
            .call_as(Some(&token), "GET", "/v1/jobs", None)
            .await;
        assert_eq!(total.header("X-Total-Count"), Some("5"), "{backend}");
    }
}

#[tokio::test]
async fn max_executors_holds_when_12_uploads_race() {
    let component = std::fs::read(hostile()).unwrap();
    for servers in each_store_servers().await {
        let backend = servers[0].backend;
        let token = tenant_with(&servers, "acme", json!({"max_executors": 3}), json!({})).await;
        let replies = race_uploads(&servers, &token, "up", 12, &component).await;
        let (stored, refused) = tally(&replies, 201);
        assert_eq!(stored, 3, "{backend}: {replies:?}");
        assert_eq!(refused, vec!["max_executors".to_string(); 9], "{backend}");
        let listed = servers[0]
            .call_as(Some(&token), "GET", "/v1/executors", None)
            .await
            .json();
        let uploaded = listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"].as_str().unwrap().starts_with("up"))
            .count();
        assert_eq!(uploaded, 3, "{backend}: {listed}");

        // The byte quota holds the same way: room for two of this size.
        let size = component.len();
        let quotas = json!({"max_executor_bytes": size * 2 + size / 2});
        let token = tenant_with(&servers, "bytes", quotas, json!({})).await;
        let replies = race_uploads(&servers, &token, "big", 6, &component).await;
        let (stored, refused) = tally(&replies, 201);
        assert_eq!(stored, 2, "{backend}: {replies:?}");
        assert_eq!(
            refused,
            vec!["max_executor_bytes".to_string(); 4],
            "{backend}"
        );
    }
}

#[tokio::test]
async fn max_concurrent_executions_refuses_manual_runs_past_it_and_records_none() {
    let component = std::fs::read(hostile()).unwrap();
    for servers in each_store_servers().await {
        // The count is per node: one node takes every run.
        let server = &servers[0];
        let backend = server.backend;
        let token = tenant_with(
            &servers,
            "acme",
            json!({"max_concurrent_executions": 3}),
            json!({"process": ["sleep"]}),
        )
        .await;
        let replies = slow_runs(server, &token, &component, 30).await;
        let (started, refused) = tally(&replies, 202);
        assert_eq!(started, 3, "{backend}: {replies:?}");
        assert_eq!(
            refused,
            vec!["max_concurrent_executions".to_string(); 27],
            "{backend}"
        );
        for reply in replies.iter().filter(|r| r.status == 202) {
            assert_eq!(
                reply.json()["state"],
                "running",
                "{backend}: {}",
                reply.text
            );
        }
        // Only the three runs answered 202 are recorded, and each runs.
        let executions = server
            .call_as(Some(&token), "GET", "/v1/jobs/slow/executions", None)
            .await
            .json();
        let executions = executions.as_array().unwrap();
        assert_eq!(executions.len(), 3, "{backend}: {executions:?}");
        let busy = server.call_as(Some(&token), "GET", "/v1/busy", None).await;
        assert_eq!(
            busy.json().as_array().unwrap().len(),
            3,
            "{backend}: {}",
            busy.text
        );
    }
}

#[tokio::test]
async fn a_tenant_without_quotas_holds_its_share_and_the_default_tenant_still_runs() {
    // 20 slots: 10 (50%) per tenant by default, 18 shared by the tenants, 2 kept for the
    // default tenant.
    let server = Server::sqlite(&[
        "--max-running",
        "20",
        "--tenant-share",
        "50",
        "--reserved-share",
        "10",
    ]);
    let servers = [server];
    let server = &servers[0];
    let component = std::fs::read(hostile()).unwrap();
    let mut accepted = Vec::new();
    for name in ["greedy-a", "greedy-b"] {
        let token = tenant_with(&servers, name, json!({}), json!({"process": ["sleep"]})).await;
        let replies = slow_runs(server, &token, &component, 90).await;
        let (started, refused) = tally(&replies, 202);
        accepted.push(started);
        assert_eq!(
            refused,
            vec!["max_concurrent_executions".to_string(); 30 - started],
            "{name}"
        );
        let refusal = replies.iter().find(|r| r.status == 429).unwrap();
        assert!(refusal.text.contains("--tenant-share"), "{}", refusal.text);
    }
    // Each holds its share, no more; together they fill the 18 shared slots (two of
    // greedy-b's runs wait for one).
    assert_eq!(accepted, [10, 10]);

    // The operator's own job starts at once, in the slots kept for the default tenant.
    let job = json!({"name": "ping", "schedule": "@manually", "executor": "echo",
                     "executor_config": {"message": "still here"}});
    assert_eq!(server.post("/v1/jobs", job).await.status, 201);
    let run = server.call("POST", "/v1/jobs/ping/run", None).await;
    assert_eq!(run.status, 202, "{}", run.text);
    let id = run.json()["id"].as_i64().unwrap();
    let execution = finished(server, "ping", id).await;
    assert_eq!(execution["state"], "succeeded", "{execution}");
}

#[tokio::test]
async fn min_interval_ms_refuses_schedules_that_fire_more_often() {
    let servers = [Server::sqlite(&[])];
    let server = &servers[0];
    let token = tenant_with(
        &servers,
        "ticker",
        json!({"min_interval_ms": 60_000}),
        json!({}),
    )
    .await;
    let job = |name: &str, schedule: &str| {
        json!({"name": name, "schedule": schedule, "executor": "echo",
               "executor_config": {"message": "tick"}})
    };
    for (schedule, accepted) in [
        ("@every 1ms", false),
        ("* * * * * *", false),
        ("0,30 * * * * *", false),
        ("@every 59s", false),
        ("@every 1m", true),
        ("*/5 * * * *", true),
        ("@hourly", true),
        ("@manually", true),
    ] {
        let created = server
            .call_as(
                Some(&token),
                "POST",
                "/v1/jobs",
                Some(job("tick", schedule)),
            )
            .await;
        if accepted {
            assert_eq!(created.status, 201, "{schedule}: {}", created.text);
        } else {
            assert_eq!(created.status, 400, "{schedule}: {}", created.text);
            assert_eq!(created.field(), "schedule", "{schedule}");
            assert!(created.text.contains("min_interval_ms"), "{}", created.text);
        }
    }
    // A restore refuses the same jobs by name, and keeps the others.
    let jobs = json!([job("fast", "@every 1s"), job("slow", "@every 2m")]);
    let restored = server
        .call_as(Some(&token), "POST", "/v1/restore", Some(jobs))
        .await
        .json();
    let lines: Vec<&str> = restored
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    assert!(lines[0].contains("min_interval_ms"), "{lines:?}");
    assert!(lines[1].starts_with("success"), "{lines:?}");
    // The default tenant has no such quota.
    assert_eq!(
        server
            .post("/v1/jobs", job("fast", "@every 1ms"))
            .await
            .status,
        201
    );
}
