//! The parts of Dkron's `/v1` surface a Dkron user found missing or wrong (issue 15):
//! `next` during a claimed tick, `null` for any field, date-picker bounds, the leader,
//! pause and leave routes, CORS, `?pretty`, sorted executions, and the old top-level
//! `command`. Each test failed before its fix.

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Value, json};

use crate::support::{Server, each_server, eventually};

fn shell_job(name: &str, schedule: &str) -> Value {
    json!({
        "name": name,
        "schedule": schedule,
        "executor": "shell",
        "executor_config": {"command": "true"},
    })
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn next_is_the_claimed_tick_about_to_fire() {
    let server = Server::sqlite(&[]);
    // A daily job due a few seconds from now: ticks are claimed two seconds ahead, and
    // the job's stored next tick then moves to tomorrow.
    for round in 0..3 {
        let due = (Utc::now() + chrono::TimeDelta::seconds(5))
            .with_nanosecond(0)
            .unwrap();
        let name = format!("daily-{round}");
        let schedule = format!("{} {} {} * * *", due.second(), due.minute(), due.hour());
        let created = server.post("/v1/jobs", shell_job(&name, &schedule)).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(instant(&created.json()["next"]), due);
        let claimed = eventually(
            "the tick to be claimed",
            Duration::from_secs(10),
            || async {
                let executions = server
                    .get(&format!("/v1/jobs/{name}/executions"))
                    .await
                    .json();
                executions.as_array().unwrap().first().cloned()
            },
        )
        .await;
        let job = server.get(&format!("/v1/jobs/{name}")).await.json();
        if Utc::now() >= due {
            // The machine was too slow to look before the tick fired: try a later one.
            continue;
        }
        assert_eq!(instant(&claimed["scheduled_at"]), due);
        assert_eq!(
            instant(&job["next"]),
            due,
            "next shows the claimed tick, not tomorrow's: {job}"
        );
        return;
    }
    panic!("three ticks fired before the job could be read; the machine is overloaded");
}

#[tokio::test]
async fn null_is_every_writable_field_s_default() {
    for server in each_server().await {
        let backend = server.backend;
        let mut job = shell_job("nulls", "@every 1h");
        for field in [
            "displayname",
            "timezone",
            "owner",
            "owner_email",
            "parent_job",
            "concurrency",
            "disabled",
            "retries",
            "ephemeral",
            "tags",
            "metadata",
            "processors",
            "notify",
            "starts_at",
            "expires_at",
            "timeout",
            "retry_backoff",
            "misfire",
            "grants",
        ] {
            job[field] = Value::Null;
        }
        let created = server.post("/v1/jobs", job).await;
        assert_eq!(created.status, 201, "{backend}: {}", created.text);
        let shown = created.json();
        assert_eq!(shown["displayname"], "", "{backend}");
        assert_eq!(shown["concurrency"], "allow", "{backend}");
        assert_eq!(shown["retries"], 0, "{backend}");
        assert_eq!(shown["retry_backoff"]["initial"], "1s", "{backend}");
        assert_eq!(shown["misfire"], "skip", "{backend}");
    }
}

#[tokio::test]
async fn date_picker_bounds_are_read_in_the_job_s_zone() {
    let server = Server::sqlite(&[]);
    let mut job = shell_job("bounded", "@every 1h");
    job["timezone"] = json!("Europe/Paris");
    job["starts_at"] = json!("2030-07-01T09:30");
    job["expires_at"] = json!("2030-12-01T09:30");
    let created = server.post("/v1/jobs", job).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let shown = created.json();
    assert_eq!(
        instant(&shown["starts_at"]),
        instant(&json!("2030-07-01T07:30:00Z"))
    );
    assert_eq!(
        instant(&shown["expires_at"]),
        instant(&json!("2030-12-01T08:30:00Z"))
    );
    let mut gap = shell_job("gap", "@every 1h");
    gap["timezone"] = json!("America/New_York");
    gap["starts_at"] = json!("2030-03-10T02:30");
    let refused = server.post("/v1/jobs", gap).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.field(), "starts_at");
}

#[tokio::test]
async fn a_top_level_command_says_what_to_write() {
    let server = Server::sqlite(&[]);
    let refused = server
        .post(
            "/v1/jobs",
            json!({"name": "old", "schedule": "@every 1m", "command": "echo hi"}),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.field(), "command");
    let error = refused.json()["error"].as_str().unwrap().to_string();
    assert!(
        error.contains(r#""executor":"shell""#) && error.contains(r#""command":"echo hi""#),
        "{error}"
    );
}

#[tokio::test]
async fn the_leader_is_the_first_live_member_by_name() {
    let server = Server::sqlite(&[]);
    let leader = server.get("/v1/leader").await;
    assert_eq!(leader.status, 200, "{}", leader.text);
    assert_eq!(leader.json()["name"], "test-node");
    let is_leader = server.get("/v1/isleader").await;
    assert_eq!(is_leader.status, 200);
    assert_eq!(is_leader.json(), json!("I am a leader"));
}

#[tokio::test]
async fn a_paused_tenant_s_job_writes_answer_503_until_unpaused() {
    for server in each_server().await {
        let backend = server.backend;
        assert_eq!(
            server.get("/v1/pause").await.json(),
            json!({"paused": false})
        );
        let paused = server.post("/v1/pause", json!({})).await;
        assert_eq!(paused.status, 200, "{backend}: {}", paused.text);
        assert_eq!(
            server.get("/v1/pause").await.json(),
            json!({"paused": true})
        );
        let refused = server
            .post("/v1/jobs", shell_job("late", "@every 1h"))
            .await;
        assert_eq!(refused.status, 503, "{backend}: {}", refused.text);
        assert!(refused.text.contains("paused"), "{backend}");
        let resumed = server.post("/v1/unpause", json!({})).await;
        assert_eq!(resumed.json(), json!({"paused": false}), "{backend}");
        let created = server
            .post("/v1/jobs", shell_job("late", "@every 1h"))
            .await;
        assert_eq!(created.status, 201, "{backend}: {}", created.text);
    }
}

#[tokio::test]
async fn leave_stops_the_node_gracefully() {
    let mut server = Server::sqlite(&[]);
    let left = server.post("/v1/leave", json!({})).await;
    assert_eq!(left.status, 200, "{}", left.text);
    assert_eq!(left.json(), json!({"leaving": "test-node"}));
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("the node exits after leaving");
    assert!(status.success(), "{status:?}: {}", server.log());
    assert!(server.log().contains("asked to leave"), "{}", server.log());
}

#[tokio::test]
async fn cors_preflight_is_answered_for_allowed_origins_only() {
    let server = Server::sqlite(&["--cors-origin", "https://*.example.com"]);
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, server.url("/v1/jobs"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.test").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let listed = server
        .reply(
            server
                .request(reqwest::Method::GET, "/v1/jobs")
                .header("Origin", "https://app.example.com"),
        )
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

#[tokio::test]
async fn pretty_indents_any_json_answer() {
    let server = Server::sqlite(&[]);
    let plain = server.get("/v1/pause").await;
    assert_eq!(plain.text, r#"{"paused":false}"#);
    let pretty = server.get("/v1/pause?pretty").await;
    assert_eq!(pretty.text, "{\n  \"paused\": false\n}");
    let refusal = server.get("/v1/jobs/nope?pretty=1").await;
    assert_eq!(refusal.status, 404);
    assert!(refusal.text.contains("\n  \"error\""), "{}", refusal.text);
}

#[tokio::test]
async fn executions_are_sorted_as_asked() {
    for server in each_server().await {
        let backend = server.backend;
        let created = server
            .post(
                "/v1/jobs",
                json!({"name": "sorted", "schedule": "@manually", "executor": "shell",
                       "executor_config": {"command": "true"}}),
            )
            .await;
        assert_eq!(created.status, 201, "{backend}: {}", created.text);
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(server.run_to_end("sorted").await["id"].as_i64().unwrap());
        }
        let order = |query: &'static str| {
            let server = &server;
            async move {
                server
                    .get(&format!("/v1/jobs/sorted/executions?{query}"))
                    .await
                    .json()
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|execution| execution["id"].as_i64().unwrap())
                    .collect::<Vec<_>>()
            }
        };
        let newest_first: Vec<i64> = ids.iter().rev().copied().collect();
        assert_eq!(order("").await, newest_first, "{backend}");
        assert_eq!(order("_sort=started_at&_order=ASC").await, ids, "{backend}");
        assert_eq!(order("_sort=id&_order=asc").await, ids, "{backend}");
        assert_eq!(order("_sort=finished_at").await, newest_first, "{backend}");
        let refused = server.get("/v1/jobs/sorted/executions?_sort=output").await;
        assert_eq!(refused.status, 400, "{backend}");
        assert_eq!(refused.field(), "_sort", "{backend}");
    }
}
