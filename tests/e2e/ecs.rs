//! The `ecs` executor against moto's ECS API on loopback (`SANDCRON_TEST_MOTO_URL`, started
//! by `scripts/peers up`): register, run, poll to STOPPED, exit codes, the API's errors,
//! and the task stopped when the execution is killed or passes its deadline.
//!
//! moto runs nothing: a task's `lastStatus` moves one step per DescribeTasks (RUNNING,
//! DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED) and every exit code is 0, unless a
//! test pins tasks at RUNNING through moto's state manager. That setting is global to the
//! server, so the tests here take turns ([`MOTO`]).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, run};

/// One test at a time on moto: its state manager is global.
static MOTO: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What StopTask records when the host stops a task for an execution that ended early.
const STOP_REASON: &str = "Stopped by Sandcron: the execution ended before the task";

/// moto's base URL; fails, saying what to do, when there is none.
async fn moto() -> String {
    let url = std::env::var("SANDCRON_TEST_MOTO_URL").expect(
        "SANDCRON_TEST_MOTO_URL is not set: run the suite with scripts/test, or \
         `scripts/peers up` and `eval \"$(scripts/peers env)\"` (it starts moto)",
    );
    reqwest::get(format!("{url}/moto-api/"))
        .await
        .unwrap_or_else(|e| panic!("moto does not answer at {url} ({e}): run scripts/peers up"));
    url
}

/// Calls the ECS API on moto directly (moto checks no signature, only its shape).
async fn ecs(url: &str, operation: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{url}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            format!("AmazonEC2ContainerServiceV20141113.{operation}"),
        )
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/ecs/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let json: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{operation}: {status} {json}");
    json
}

/// Pins every task at RUNNING (`true`) or lets DescribeTasks move it on (`false`).
async fn pin_tasks_running(url: &str, pinned: bool) {
    let client = reqwest::Client::new();
    let request = if pinned {
        client
            .post(format!("{url}/moto-api/state-manager/set-transition"))
            .body(
                json!({"model_name": "ecs::task",
                       "transition": {"progression": "manual", "times": 1_000_000}})
                .to_string(),
            )
    } else {
        client
            .post(format!("{url}/moto-api/state-manager/unset-transition"))
            .body(json!({"model_name": "ecs::task"}).to_string())
    };
    let status = request.send().await.unwrap().status();
    assert!(
        status.is_success(),
        "moto's state manager answered {status}"
    );
}

/// A cluster of its own for one test.
async fn cluster(url: &str, test: &str) -> String {
    let name = format!("{test}-{}-{}", std::process::id(), fastrand::u32(..));
    ecs(url, "CreateCluster", json!({ "clusterName": name })).await;
    name
}

/// A task definition body moto accepts (FARGATE, default network mode, container memory).
fn body(family: &str) -> String {
    json!({
        "family": family,
        "containerDefinitions": [{"name": "main", "image": "busybox", "memory": 64,
                                  "command": ["true"]}],
    })
    .to_string()
}

/// The flags every run needs: the endpoint's host and the credentials as secrets.
fn grants(url: &str) -> Vec<String> {
    vec![
        "--allow-host".into(),
        url.into(),
        "--secret".into(),
        "aws-access-key-id=AKIDTEST".into(),
        "--secret".into(),
        "aws-secret-access-key=not-checked-by-moto".into(),
    ]
}

fn exec_ecs(url: &str, config: &[(&str, &str)], extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = vec!["exec".into(), "ecs".into()];
    args.extend(grants(url));
    for (key, value) in [
        ("endpoint", url),
        ("region", "us-east-1"),
        ("pollInterval", "100ms"),
    ]
    .iter()
    .chain(config)
    {
        args.extend(["--config".into(), format!("{key}={value}")]);
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits up to `timeout` for the task to be stopped by Sandcron; returns it as described.
async fn stopped_by_sandcron(url: &str, cluster: &str, task: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let described = ecs(
            url,
            "DescribeTasks",
            json!({"cluster": cluster, "tasks": [task]}),
        )
        .await;
        let task = described["tasks"][0].clone();
        if task["stoppedReason"] == STOP_REASON || Instant::now() >= deadline {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The ARN of the one task of `cluster`, once there is one.
async fn the_task(url: &str, cluster: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let listed = ecs(url, "ListTasks", json!({ "cluster": cluster })).await;
        if let Some(arn) = listed["taskArns"][0].as_str() {
            return arn.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no task was started on {cluster}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn registers_runs_and_polls_the_task_to_stopped() {
    let url = moto().await;
    let _turn = MOTO.lock().await;
    pin_tasks_running(&url, false).await;
    let cluster = cluster(&url, "run").await;
    let family = format!("{cluster}-family");
    let out = exec_ecs(
        &url,
        &[
            ("taskdefBody", &body(&family)),
            ("cluster", &cluster),
            ("fargate", "true"),
        ],
        &[],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "ecs: registered task definition arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:1"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("ecs: started task arn:aws:ecs:"),
        "{stdout}"
    );
    assert!(stdout.contains("ecs: task is STOPPED"), "{stdout}");
    assert!(
        stdout.contains("ecs: container main exited with 0"),
        "{stdout}"
    );
    // Nothing was left to stop.
    assert!(!stderr.contains("http-cleanup"), "{stderr}");

    let task = the_task(&url, &cluster, Duration::from_secs(1)).await;
    let described = ecs(
        &url,
        "DescribeTasks",
        json!({"cluster": cluster, "tasks": [task]}),
    )
    .await;
    assert_eq!(described["tasks"][0]["lastStatus"], "STOPPED");
    assert_eq!(described["tasks"][0]["launchType"], "FARGATE");
}

#[tokio::test]
async fn a_named_task_definition_runs_with_overrides() {
    let url = moto().await;
    let _turn = MOTO.lock().await;
    pin_tasks_running(&url, false).await;
    let cluster = cluster(&url, "named").await;
    let family = format!("{cluster}-family");
    let registered: Value = serde_json::from_str(&body(&family)).unwrap();
    ecs(&url, "RegisterTaskDefinition", registered).await;
    let out = exec_ecs(
        &url,
        &[
            ("taskdefName", &family),
            ("cluster", &cluster),
            ("launchType", "FARGATE"),
            ("service", "main"),
            ("env", "GREETING=hello"),
            ("overrides", "echo,overridden"),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let task = the_task(&url, &cluster, Duration::from_secs(1)).await;
    let described = ecs(
        &url,
        "DescribeTasks",
        json!({"cluster": cluster, "tasks": [task]}),
    )
    .await;
    assert_eq!(
        described["tasks"][0]["overrides"]["containerOverrides"][0],
        json!({"name": "main", "command": ["echo", "overridden"],
               "environment": [{"name": "GREETING", "value": "hello"}]})
    );
}

#[tokio::test]
async fn a_bad_task_definition_fails_with_the_api_error() {
    let url = moto().await;
    let _turn = MOTO.lock().await;
    let bad = json!({"family": "bad", "containerDefinitions": [{"name": "main"}]}).to_string();
    let out = exec_ecs(&url, &[("taskdefBody", &bad)], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "ecs: RegisterTaskDefinition failed: ClientException: Container.image should not \
             be null or empty. (HTTP 400)"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn credentials_come_only_from_secrets() {
    let url = moto().await;
    let plain = exec_ecs(
        &url,
        &[("taskdefName", "job"), ("secretAccessKey", "plain-text")],
        &[],
    );
    assert_eq!(plain.status.code(), Some(1));
    assert!(
        text(&plain.stderr)
            .contains("secretAccessKey: credentials are never read from executor_config"),
        "{}",
        text(&plain.stderr)
    );
    let missing = run(&[
        "exec",
        "ecs",
        "--allow-host",
        &url,
        "--config",
        "taskdefName=job",
        "--config",
        "region=us-east-1",
        "--config",
        &format!("endpoint={url}"),
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("secret \"aws-access-key-id\" is not granted"),
        "{}",
        text(&missing.stderr)
    );
}

#[tokio::test]
async fn the_task_is_stopped_when_the_execution_passes_its_deadline() {
    let url = moto().await;
    let _turn = MOTO.lock().await;
    pin_tasks_running(&url, true).await;
    let cluster = cluster(&url, "deadline").await;
    let out = exec_ecs(
        &url,
        &[
            ("taskdefBody", &body(&format!("{cluster}-family"))),
            ("cluster", &cluster),
            ("fargate", "true"),
        ],
        &["--timeout", "3s"],
    );
    pin_tasks_running(&url, false).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(
        stderr.contains("http-cleanup: \"ecs-stop-task\" to") && stderr.contains("answered 200"),
        "{stderr}"
    );
    let task = the_task(&url, &cluster, Duration::from_secs(1)).await;
    let stopped = stopped_by_sandcron(&url, &cluster, &task, Duration::from_secs(1)).await;
    assert_eq!(stopped["stoppedReason"], STOP_REASON, "{stopped}");
    assert_eq!(stopped["desiredStatus"], "STOPPED", "{stopped}");
}

#[tokio::test]
async fn the_task_is_stopped_when_the_execution_is_killed() {
    let url = moto().await;
    let _turn = MOTO.lock().await;
    pin_tasks_running(&url, true).await;
    let cluster = cluster(&url, "kill").await;
    let args = grants(&url);
    let server = Server::sqlite(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let job = json!({
        "name": "ecs-task",
        "schedule": "@manually",
        "executor": "ecs",
        "executor_config": {
            "taskdefBody": body(&format!("{cluster}-family")),
            "region": "us-east-1",
            "cluster": cluster,
            "fargate": "true",
            "endpoint": url,
            "pollInterval": "200ms",
        },
    });
    let created = server.post("/v1/jobs", job).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let started = server.call("POST", "/v1/jobs/ecs-task/run", None).await;
    assert_eq!(started.status, 202, "{}", started.text);
    let id = started.json()["id"].as_i64().unwrap();

    let task = the_task(&url, &cluster, Duration::from_secs(30)).await;
    // Let the executor poll a few times, so it is waiting when the kill comes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let kill = server
        .call(
            "POST",
            &format!("/v1/jobs/ecs-task/executions/{id}/kill"),
            None,
        )
        .await;
    assert_eq!(kill.status, 202, "{}", kill.text);
    let stopped = stopped_by_sandcron(&url, &cluster, &task, Duration::from_secs(15)).await;
    pin_tasks_running(&url, false).await;
    assert_eq!(
        stopped["stoppedReason"],
        STOP_REASON,
        "the killed execution's task was not stopped: {stopped}\n{}",
        server.log()
    );
}
