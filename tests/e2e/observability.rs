//! What an operator sees of a running server: JSON log lines with the execution's fields
//! and never a token or a secret value, request lines with status and duration, the
//! labelled `/metrics` on a port of its own without a token, and per-token rate limits.

use serde_json::{Value, json};

use crate::support::{Server, client_with_token};

/// The address `--metrics-listen` bound, read from the server's start lines.
fn metrics_url(server: &Server) -> String {
    server
        .log()
        .lines()
        .find_map(|line| line.strip_prefix("sandcron: metrics on "))
        .unwrap_or_else(|| panic!("no metrics line in\n{}", server.log()))
        .to_string()
}

/// Creates the tenant `name` (two admin requests) and returns a token of it.
async fn tenant_token(server: &Server, name: &str) -> String {
    let created = server.post("/v1/tenants", json!({ "name": name })).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let token = server
        .call("POST", &format!("/v1/tenants/{name}/tokens"), None)
        .await;
    assert_eq!(token.status, 201, "{}", token.text);
    token.json()["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn json_logs_carry_the_execution_fields_and_never_a_token_or_a_secret() {
    let flag_secret = "flag-secret-value-41f0";
    let stored_secret = "stored-secret-value-9c2e";
    let server = Server::sqlite(&[
        "--log-format",
        "json",
        "--allow",
        "secrets=db-password",
        "--secret",
        &format!("api-key={flag_secret}"),
    ]);
    let put = server
        .put("/v1/secrets/db-password", json!({"value": stored_secret}))
        .await;
    assert!((200..300).contains(&put.status), "{}", put.text);
    let team_token = tenant_token(&server, "team-a").await;
    let wrong_token = "sct_not-a-token-but-still-secret-7d1a";
    assert_eq!(
        server
            .call_as(Some(wrong_token), "GET", "/v1/jobs", None)
            .await
            .status,
        401
    );
    assert_eq!(
        server
            .call_as(Some(&team_token), "GET", "/v1/jobs", None)
            .await
            .status,
        200
    );
    // A job that prints both secrets and fails, and one whose failure reason is about a
    // secret.
    let job = json!({"name": "leaky", "schedule": "@manually", "executor": "shell",
        "executor_config": {"command": "echo {{secret:db-password}}; exit 3", "shell": "true"}});
    assert_eq!(server.post("/v1/jobs", job).await.status, 201);
    let execution = server.run_to_end("leaky").await;
    assert_eq!(execution["success"], false, "{execution}");
    assert!(
        !execution["output"]
            .as_str()
            .unwrap()
            .contains(stored_secret)
    );
    let ok = json!({"name": "fine", "schedule": "@manually", "executor": "shell",
        "executor_config": {"command": "echo fine"}});
    assert_eq!(server.post("/v1/jobs", ok).await.status, 201);
    assert_eq!(server.run_to_end("fine").await["success"], true);
    // The log lines of the failed execution are written as it ends.
    let log = crate::support::eventually(
        "the execution's log line",
        std::time::Duration::from_secs(10),
        || async {
            let log = server.log();
            log.contains("execution failed").then_some(log)
        },
    )
    .await;

    let mut lines = Vec::new();
    for line in log.lines() {
        if line.starts_with("sandcron: ") {
            // The start lines (listening, the admin token shown once) are not log lines.
            continue;
        }
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        lines.push(parsed);
    }
    for secret in [
        flag_secret,
        stored_secret,
        &team_token,
        wrong_token,
        &server.admin_token,
    ] {
        assert!(
            !lines.iter().any(|line| line.to_string().contains(secret)),
            "{secret} is in the log:\n{log}"
        );
    }
    // Every line inside an execution says which one.
    let in_execution: Vec<&Value> = lines
        .iter()
        .filter(|line| {
            line["spans"]
                .as_array()
                .is_some_and(|spans| spans.iter().any(|span| span["name"] == "execution"))
        })
        .collect();
    assert!(
        !in_execution.is_empty(),
        "no line about an execution:\n{log}"
    );
    for line in &in_execution {
        let span = line["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|span| span["name"] == "execution")
            .unwrap();
        assert!(span["job"].is_string(), "{line}");
        assert!(span["execution"].is_u64(), "{line}");
        assert_eq!(span["tenant"], "default", "{line}");
        assert_eq!(span["node"], "test-node", "{line}");
    }
    let failed = in_execution
        .iter()
        .find(|line| line["fields"]["message"] == "execution failed")
        .unwrap_or_else(|| panic!("no line saying the execution failed:\n{log}"));
    assert_eq!(failed["span"]["job"], "leaky", "{failed}");
    assert_eq!(failed["span"]["outcome"], "failed", "{failed}");
    assert_eq!(failed["span"]["executor"], "shell", "{failed}");
    assert_eq!(failed["span"]["trigger"], "manual", "{failed}");
    // Requests: method and route, status and duration; 401s included.
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["name"] == "request")
        .collect();
    let refused = requests
        .iter()
        .find(|line| line["fields"]["status"] == 401)
        .unwrap_or_else(|| panic!("no line for the 401:\n{log}"));
    assert_eq!(refused["fields"]["message"], "GET /v1/jobs", "{refused}");
    assert!(refused["fields"]["duration_ms"].is_f64(), "{refused}");
    assert!(
        requests.iter().any(
            |line| line["fields"]["message"] == "POST /v1/jobs/{name}/run"
                && line["fields"]["status"] == 202
        ),
        "{log}"
    );
}

#[tokio::test]
async fn metrics_are_labelled_and_scraped_without_a_token_on_their_own_port() {
    let server = Server::sqlite(&["--metrics-listen", "127.0.0.1:0"]);
    let job = json!({"name": "counted", "schedule": "@manually", "executor": "shell",
        "executor_config": {"command": "echo counted"}});
    assert_eq!(server.post("/v1/jobs", job).await.status, 201);
    assert_eq!(server.run_to_end("counted").await["success"], true);
    let failing = json!({"name": "failing", "schedule": "@manually", "executor": "shell",
        "executor_config": {"command": "exit 1"}});
    assert_eq!(server.post("/v1/jobs", failing).await.status, 201);
    assert_eq!(server.run_to_end("failing").await["success"], false);

    // The API's own /metrics still needs the admin token.
    let anonymous = server.call_as(None, "GET", "/metrics", None).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let scraped = reqwest::get(metrics_url(&server)).await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = scraped.text().await.unwrap();
    for line in [
        "sandcron_executions_started_total{node=\"test-node\",tenant=\"default\",executor=\"shell\"} 2",
        "sandcron_executions_succeeded_total{node=\"test-node\",tenant=\"default\",executor=\"shell\"} 1",
        "sandcron_executions_finished_total{node=\"test-node\",tenant=\"default\",executor=\"shell\",outcome=\"failed\"} 1",
        "sandcron_executions_running{node=\"test-node\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    for prefix in [
        "sandcron_http_requests_total{node=\"test-node\",method=\"POST\",route=\"/v1/jobs\",status=\"201\"} ",
        "sandcron_http_requests_total{node=\"test-node\",method=\"GET\",route=\"/metrics\",status=\"401\"} ",
        "sandcron_http_request_duration_seconds_count{node=\"test-node\",method=\"POST\",route=\"/v1/jobs/{name}/run\",status=\"202\"} ",
        "sandcron_queue_depth{node=\"test-node\"} ",
        "sandcron_claim_lag_seconds{node=\"test-node\"} ",
        "sandcron_start_lateness_seconds_count{node=\"test-node\",tenant=\"default\",executor=\"shell\"} 2",
        "process_resident_memory_bytes{node=\"test-node\"} ",
        "process_cpu_seconds_total{node=\"test-node\"} ",
        "process_open_fds{node=\"test-node\"} ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(prefix)),
            "{prefix} in\n{text}"
        );
    }
    // The metrics port serves nothing else.
    let other = reqwest::get(metrics_url(&server).replace("/metrics", "/v1/jobs"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after_and_others_go_on() {
    let server = Server::sqlite(&["--rate-limit", "1", "--rate-limit-burst", "3"]);
    let calm = tenant_token(&server, "calm").await;
    // The admin token has used 2 of its 3; a burst of 5 more: at most one more passes.
    let admin = client_with_token(&server.admin_token);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let reply = server.reply(admin.get(server.url("/v1/jobs"))).await;
        if reply.status == 429 {
            retry_after = reply.header("retry-after").map(str::to_string);
            assert_eq!(reply.field(), "Authorization", "{}", reply.text);
            assert!(reply.text.contains("too many requests"), "{}", reply.text);
        }
        statuses.push(reply.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let retry_after: u64 = retry_after.unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    // Another token has a bucket of its own; /health needs none and is never limited.
    let other = server.call_as(Some(&calm), "GET", "/v1/jobs", None).await;
    assert_eq!(other.status, 200, "{}", other.text);
    for _ in 0..10 {
        assert_eq!(
            server.call_as(None, "GET", "/health", None).await.status,
            200
        );
    }
}
