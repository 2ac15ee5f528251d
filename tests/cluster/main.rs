//! Several `sandcron serve` processes on one PostgreSQL database: membership, tags that
//! target nodes, and exactly one execution per tick while nodes are killed with SIGKILL and
//! restarted, or restarted one after the other. PostgreSQL only (a SQLite file serves one
//! node); without `SANDCRON_TEST_POSTGRES_URL` the tests fail.
//!
//! A test binary of its own (cargo runs test binaries one after another), so that the
//! thousand-job tests, which measure start lateness, do not share the machine with the
//! rest of the suite; within it they run alone too (see [`alone`]).

// Shared with the `e2e` test binary; each binary uses a part of it.
#[path = "../e2e/support.rs"]
#[allow(dead_code)]
mod support;

// The check of every JSON answer against the OpenAPI document, as in the e2e tests.
#[path = "../e2e/conformance.rs"]
#[allow(dead_code)]
mod conformance;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::support::{Server, eventually, fresh_postgres_database};

/// Held shared by the light tests and exclusively by each thousand-job test.
static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Waits until no thousand-job test runs; light tests run beside one another.
async fn beside_others() -> tokio::sync::RwLockReadGuard<'static, ()> {
    MACHINE.read().await
}

/// Waits until no other test of this binary runs, and keeps them waiting.
async fn alone() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    MACHINE.write().await
}

/// A node on `url` called `name`, with `extra` arguments.
fn node(url: &str, name: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--node", name, "--keep-executions", "0"];
    args.extend_from_slice(extra);
    Server::postgres(url, &args)
}

/// `n` jobs named `{prefix}{i}`, each `@every 1s` with the `echo` executor.
fn every_second_jobs(prefix: &str, n: usize, tags: Value) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({
                    "name": format!("{prefix}{i}"),
                    "schedule": "@every 1s",
                    "executor": "echo",
                    "tags": tags,
                })
            })
            .collect(),
    )
}

/// Creates the jobs of an export through `server`'s restore route.
async fn restore(server: &Server, jobs: Value) {
    let reply = server.post("/v1/restore", jobs).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let lines = reply.json();
    let failed: Vec<&Value> = lines
        .as_array()
        .unwrap()
        .iter()
        .filter(|line| !line.as_str().unwrap_or_default().starts_with("success"))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}

/// One stored execution, as the checks read it from the database.
#[derive(Debug, sqlx::FromRow)]
struct Row {
    job_name: String,
    group_id: i64,
    attempt: i32,
    scheduled_at: i64,
    started_at: Option<i64>,
    state: String,
    reason: String,
    node: String,
}

/// Every execution of a tick (or a retry of one) in the database at `url`.
async fn rows(url: &str) -> Vec<Row> {
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_as(
        "SELECT job_name, group_id, attempt, scheduled_at, started_at, state, reason, node \
         FROM executions WHERE trigger_kind IN ('schedule', 'retry')",
    )
    .fetch_all(&mut db)
    .await
    .unwrap()
}

/// Checks that every job `{prefix}{i}` has exactly one first attempt for every whole
/// second from `from` to `to`, that none of them is left open, and gives the start
/// lateness of those that started, in milliseconds, sorted.
fn exactly_once(
    rows: &[Row],
    prefix: &str,
    jobs: usize,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<i64> {
    let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
    let mut ticks: BTreeMap<(&str, i64), usize> = BTreeMap::new();
    let mut open = Vec::new();
    let mut lateness = Vec::new();
    for row in rows {
        if !row.job_name.starts_with(prefix) {
            continue;
        }
        let tick = row.group_id / 1_000_000;
        if tick < from || tick > to {
            continue;
        }
        if row.state == "scheduled" || row.state == "running" {
            open.push(row);
        }
        if row.attempt == 1 {
            *ticks.entry((row.job_name.as_str(), tick)).or_default() += 1;
            if let Some(started) = row.started_at {
                lateness.push(started - row.scheduled_at);
            }
        }
    }
    assert!(
        open.is_empty(),
        "executions left open: {:#?}",
        &open[..open.len().min(5)]
    );
    let doubled: Vec<_> = ticks.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "{} ticks ran more than once, e.g. {:?}",
        doubled.len(),
        &doubled[..doubled.len().min(5)]
    );
    // Every job's series keeps its phase: each job fires once in every second.
    let mut lost = Vec::new();
    let seconds = ((to - from) / 1000) as usize;
    for i in 0..jobs {
        let name = format!("{prefix}{i}");
        let fired = ticks
            .range((name.as_str(), from)..=(name.as_str(), to))
            .count();
        if fired < seconds {
            lost.push((name, seconds - fired));
        }
    }
    assert!(
        lost.is_empty(),
        "{} jobs lost ticks, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    lateness.sort_unstable();
    lateness
}

/// The `p`-th percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Waits until no execution of the database at `url` is scheduled or running.
async fn settled(url: &str, timeout: Duration) {
    eventually("every execution to end", timeout, || async {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        let (open,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM executions WHERE state IN ('scheduled', 'running')",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        (open == 0).then_some(())
    })
    .await;
}

/// Stops every job from firing (disabled), so the nodes can be stopped without ticks
/// being handed back mid-check.
async fn disable_all(server: &Server, prefix: &str, jobs: usize) {
    for i in 0..jobs {
        let path = format!("/v1/jobs/{prefix}{i}/toggle");
        let reply = server.call("POST", &path, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_listed_with_their_tags_and_a_killed_node_is_declared_dead() {
    let _turn = beside_others().await;
    let url = fresh_postgres_database().await;
    let a = node(
        &url,
        "node-a",
        &["--tag", "role=worker", "--dead-after", "3s"],
    );
    let mut b = node(&url, "node-b", &["--tag", "role=web", "--dead-after", "3s"]);
    let members = eventually("both members", Duration::from_secs(10), || async {
        let list = b.get("/v1/members").await.json();
        (list.as_array().map(Vec::len) == Some(2)).then_some(list)
    })
    .await;
    let by_name: BTreeMap<&str, &Value> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m))
        .collect();
    assert_eq!(by_name["node-a"]["tags"], json!({"role": "worker"}));
    assert_eq!(by_name["node-b"]["tags"], json!({"role": "web"}));
    assert_eq!(by_name["node-a"]["status"], "alive");
    assert_eq!(
        format!("http://{}", by_name["node-a"]["address"].as_str().unwrap()),
        a.base
    );
    let heartbeat: DateTime<Utc> = by_name["node-a"]["last_heartbeat"]
        .as_str()
        .unwrap()
        .parse()
        .expect("last_heartbeat is RFC 3339");
    assert!(Utc::now() - heartbeat < chrono::TimeDelta::seconds(5));

    // A second live process may not take a name in use.
    let twin = crate::support::sandcron()
        .args(["serve", "--listen", "127.0.0.1:0", "--node", "node-a"])
        .args(["--database-url", &url])
        .arg("--data-dir")
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert_eq!(twin.status.code(), Some(1), "{twin:?}");
    assert!(
        String::from_utf8_lossy(&twin.stderr).contains("used by another running node"),
        "{}",
        String::from_utf8_lossy(&twin.stderr)
    );

    b.kill();
    eventually("node-b declared dead", Duration::from_secs(10), || async {
        let list = a.get("/v1/members").await.json();
        list.as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "node-b" && m["status"] == "dead")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_with_a_count_pick_that_many_distinct_matching_nodes() {
    let _turn = beside_others().await;
    let url = fresh_postgres_database().await;
    let nodes = [
        node(&url, "worker-1", &["--tag", "role=worker"]),
        node(&url, "worker-2", &["--tag", "role=worker"]),
        node(&url, "web-1", &["--tag", "role=web"]),
    ];
    eventually("three members", Duration::from_secs(10), || async {
        let list = nodes[0].get("/v1/members").await.json();
        (list.as_array().map(Vec::len) == Some(3)).then_some(())
    })
    .await;
    let start = Utc::now() + chrono::TimeDelta::seconds(2);
    restore(
        &nodes[2],
        every_second_jobs("two-workers-", 3, json!({"role": "worker:2"})),
    )
    .await;
    restore(
        &nodes[1],
        every_second_jobs("one-web-", 3, json!({"role": "web:1"})),
    )
    .await;
    restore(&nodes[0], every_second_jobs("untagged-", 3, json!({}))).await;
    restore(
        &nodes[0],
        every_second_jobs("nowhere-", 1, json!({"role": "db"})),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let end = Utc::now() - chrono::TimeDelta::seconds(2);
    for prefix in ["two-workers-", "one-web-", "untagged-", "nowhere-"] {
        let jobs = if prefix == "nowhere-" { 1 } else { 3 };
        disable_all(&nodes[0], prefix, jobs).await;
    }
    settled(&url, Duration::from_secs(20)).await;

    let rows = rows(&url).await;
    let (from, to) = (start.timestamp_millis(), end.timestamp_millis());
    let mut groups: BTreeMap<(&str, i64), Vec<&Row>> = BTreeMap::new();
    for row in &rows {
        let tick = row.group_id / 1_000_000;
        if tick >= from && tick <= to {
            groups
                .entry((row.job_name.as_str(), row.group_id))
                .or_default()
                .push(row);
        }
    }
    assert!(groups.len() >= 10 * 4, "too few ticks: {}", groups.len());
    for ((job, group), executions) in &groups {
        let nodes: BTreeSet<&str> = executions.iter().map(|e| e.node.as_str()).collect();
        let context = format!("{job} tick {group}: {executions:#?}");
        if job.starts_with("two-workers-") {
            assert_eq!(executions.len(), 2, "{context}");
            assert_eq!(nodes, BTreeSet::from(["worker-1", "worker-2"]), "{context}");
            assert!(
                executions.iter().all(|e| e.state == "succeeded"),
                "{context}"
            );
        } else if job.starts_with("one-web-") {
            assert_eq!(executions.len(), 1, "{context}");
            assert_eq!(nodes, BTreeSet::from(["web-1"]), "{context}");
            assert!(
                executions.iter().all(|e| e.state == "succeeded"),
                "{context}"
            );
        } else if job.starts_with("untagged-") {
            assert_eq!(executions.len(), 1, "{context}");
            assert_eq!(executions[0].state, "succeeded", "{context}");
        } else {
            assert_eq!(executions.len(), 1, "{context}");
            assert_eq!(executions[0].state, "failed", "{context}");
            assert_eq!(executions[0].reason, "no matching node", "{context}");
        }
    }
    // The untagged jobs' work is spread: more than one node ran some.
    let untagged_nodes: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.job_name.starts_with("untagged-"))
        .map(|r| r.node.as_str())
        .collect();
    assert!(untagged_nodes.len() >= 2, "{untagged_nodes:?}");

    // A manual run goes where the tags say too, whichever node is asked.
    for (job, runs_on) in [
        ("one-web-0", vec!["web-1"]),
        ("two-workers-0", vec!["worker-1", "worker-2"]),
        ("nowhere-0", vec![]),
    ] {
        let run = nodes[0]
            .call("POST", &format!("/v1/jobs/{job}/run"), None)
            .await;
        assert_eq!(run.status, 202, "{job}: {}", run.text);
        let path = format!("/v1/jobs/{job}/executions");
        let manual = eventually(
            "the manual runs to end",
            Duration::from_secs(20),
            || async {
                let list = nodes[0].get(&path).await.json();
                let manual: Vec<Value> = list
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["trigger"] == "manual")
                    .cloned()
                    .collect();
                let ended = manual
                    .iter()
                    .all(|e| e["state"] == "succeeded" || e["state"] == "failed");
                (manual.len() == runs_on.len().max(1) && ended).then_some(manual)
            },
        )
        .await;
        if runs_on.is_empty() {
            assert_eq!(manual[0]["reason"], "no matching node", "{job}: {manual:?}");
            continue;
        }
        let ran_on: BTreeSet<&str> = manual
            .iter()
            .map(|e| e["node_name"].as_str().unwrap())
            .collect();
        assert_eq!(ran_on, runs_on.into_iter().collect(), "{job}: {manual:?}");
        assert!(
            manual.iter().all(|e| e["state"] == "succeeded"),
            "{job}: {manual:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_name_their_tick_trigger_and_node_and_any_node_serves_the_api() {
    let _turn = beside_others().await;
    let url = fresh_postgres_database().await;
    let a = node(&url, "api-a", &[]);
    let b = node(&url, "api-b", &[]);
    let created = a
        .post(
            "/v1/jobs",
            json!({"name": "manual", "schedule": "@manually", "executor": "echo"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    // A write on one node is read on the other.
    let job = b.get("/v1/jobs/manual").await;
    assert_eq!(job.status, 200, "{}", job.text);
    let execution = b.run_to_end("manual").await;
    assert_eq!(execution["trigger"], "manual", "{execution}");
    assert!(execution["scheduled_at"].is_null(), "{execution}");
    assert!(execution["started_at"].is_string(), "{execution}");
    assert_eq!(execution["node_name"], "api-b", "{execution}");

    restore(&a, every_second_jobs("ticking-", 1, json!({}))).await;
    let execution = eventually("a scheduled execution", Duration::from_secs(10), || async {
        let list = b.get("/v1/jobs/ticking-0/executions").await.json();
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["state"] == "succeeded")
            .cloned()
    })
    .await;
    assert_eq!(execution["trigger"], "schedule", "{execution}");
    let scheduled: DateTime<Utc> = execution["scheduled_at"].as_str().unwrap().parse().unwrap();
    let started: DateTime<Utc> = execution["started_at"].as_str().unwrap().parse().unwrap();
    assert!(started >= scheduled, "{execution}");
    assert!(
        ["api-a", "api-b"].contains(&execution["node_name"].as_str().unwrap()),
        "{execution}"
    );
}

/// Jobs in the long tests.
const JOBS: usize = 1000;

/// How long the long tests fire their jobs.
const RUN_FOR: Duration = Duration::from_secs(120);

/// Kills in the kill test.
const KILLS: u32 = 10;

/// Runs `JOBS` jobs every second on three nodes for `RUN_FOR` while `disturb` is called
/// `rounds` times at even intervals with a random node, then checks exactly-once.
async fn three_nodes_under<F>(prefix: &str, rounds: u32, mut disturb: F)
where
    F: FnMut(Server) -> Server,
{
    let _turn = alone().await;
    let url = fresh_postgres_database().await;
    let mut nodes: Vec<Option<Server>> = (1..=3)
        .map(|i| {
            Some(node(
                &url,
                &format!("{prefix}{i}"),
                &["--dead-after", "10s"],
            ))
        })
        .collect();
    let first = nodes[0].as_ref().unwrap();
    restore(first, every_second_jobs(prefix, JOBS, json!({}))).await;
    let start = Utc::now() + chrono::TimeDelta::seconds(3);
    let pause = RUN_FOR / rounds;
    for round in 0..rounds {
        tokio::time::sleep(pause).await;
        let index = if prefix.starts_with("rolling") {
            (round % 3) as usize
        } else {
            fastrand::usize(..3)
        };
        let server = nodes[index].take().unwrap();
        nodes[index] = Some(tokio::task::block_in_place(|| disturb(server)));
    }
    let end = Utc::now() - chrono::TimeDelta::seconds(3);
    let first = nodes[0].as_ref().unwrap();
    disable_all(first, prefix, JOBS).await;
    settled(&url, Duration::from_secs(60)).await;
    let rows = rows(&url).await;
    let lateness = exactly_once(&rows, prefix, JOBS, start, end);
    let p99 = percentile(&lateness, 0.99);
    eprintln!(
        "{prefix}: {} executions checked; start lateness p50 {} ms, p99 {p99} ms, max {} ms",
        lateness.len(),
        percentile(&lateness, 0.5),
        percentile(&lateness, 1.0)
    );
    assert!(p99 < 1000, "p99 start lateness {p99} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_jobs_every_second_fire_exactly_once_while_nodes_are_killed() {
    three_nodes_under("killed", KILLS, Server::crash_and_restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_jobs_every_second_fire_exactly_once_through_a_rolling_restart() {
    three_nodes_under("rolling", 3, Server::stop_and_restart).await;
}

/// A job that prints a line and then sleeps, run only when asked.
fn sleeper(name: &str, retries: u32) -> Value {
    json!({
        "name": name,
        "schedule": "@manually",
        "executor": "shell",
        "executor_config": {"command": "echo begun; sleep 60", "shell": "true"},
        "retries": retries,
    })
}

/// Runs `job` on `server` and waits until its execution runs; its id.
async fn running(server: &Server, job: &str) -> i64 {
    let run = server
        .call("POST", &format!("/v1/jobs/{job}/run"), None)
        .await;
    assert_eq!(run.status, 202, "{}", run.text);
    let id = run.json()["id"].as_i64().unwrap();
    let path = format!("/v1/jobs/{job}/executions/{id}");
    eventually("the execution to run", Duration::from_secs(10), || async {
        (server.get(&path).await.json()["state"] == "running").then_some(())
    })
    .await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_output_and_kill_work_through_any_node() {
    let _turn = beside_others().await;
    let url = fresh_postgres_database().await;
    let a = node(&url, "front", &[]);
    let b = node(&url, "back", &[]);
    let created = a.post("/v1/jobs", sleeper("long", 0)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = running(&b, "long").await;

    let output = format!("/v1/jobs/long/executions/{id}/output");
    let mut stream = a.http.get(a.url(&output)).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut seen = String::new();
    while !seen.contains("begun") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("live output relayed in time")
            .unwrap()
            .expect("the stream goes on while the execution runs");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }

    let kill = a
        .call("POST", &format!("/v1/jobs/long/executions/{id}/kill"), None)
        .await;
    assert_eq!(kill.status, 202, "{}", kill.text);
    let ended = crate::support::finished(&a, "long", id).await;
    assert_eq!(ended["reason"], "killed", "{ended}");
    assert_eq!(ended["node_name"], "back", "{ended}");
    // The relayed stream ends with the execution.
    let rest = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(rest.is_ok(), "the relayed output ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_running_execution_is_closed_as_node_lost_and_retried_by_a_survivor() {
    let _turn = beside_others().await;
    let url = fresh_postgres_database().await;
    // `--dead-after` is long: the survivor notices the crash sooner, from the dead
    // process's ended database session.
    let a = node(&url, "survivor", &["--dead-after", "60s"]);
    let mut b = node(&url, "victim", &["--dead-after", "60s"]);
    let created = a.post("/v1/jobs", sleeper("long", 1)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = running(&b, "long").await;

    let killed_at = std::time::Instant::now();
    b.kill();
    let path = format!("/v1/jobs/long/executions/{id}");
    let lost = eventually(
        "the execution closed as node lost",
        Duration::from_secs(20),
        || async {
            let execution = a.get(&path).await.json();
            (execution["state"] == "failed").then_some(execution)
        },
    )
    .await;
    assert_eq!(lost["reason"], "node lost", "{lost}");
    assert!(killed_at.elapsed() < Duration::from_secs(20));
    let retry = eventually(
        "the retry to run on the survivor",
        Duration::from_secs(20),
        || async {
            let list = a.get("/v1/jobs/long/executions").await.json();
            list.as_array()
                .unwrap()
                .iter()
                .find(|e| e["attempt"] == 2 && e["state"] == "running")
                .cloned()
        },
    )
    .await;
    assert_eq!(retry["trigger"], "retry", "{retry}");
    assert_eq!(retry["node_name"], "survivor", "{retry}");
    assert_eq!(retry["group"], lost["group"], "{retry}");
    let members = a.get("/v1/members").await.json();
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "victim"),
        "{members}"
    );
    let retry_id = retry["id"].as_i64().unwrap();
    let kill = a
        .call(
            "POST",
            &format!("/v1/jobs/long/executions/{retry_id}/kill"),
            None,
        )
        .await;
    assert_eq!(kill.status, 202, "{}", kill.text);
}

/// The executions of the job `exclusive`, newest first.
async fn executions_of(server: &Server) -> Vec<Value> {
    let list = server.get("/v1/jobs/exclusive/executions").await.json();
    list.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbid_holds_across_the_loss_of_the_node_that_runs_the_job() {
    let _turn = beside_others().await;
    let url = fresh_postgres_database().await;
    let mut nodes = [
        Some(node(&url, "forbid-1", &["--dead-after", "60s"])),
        Some(node(&url, "forbid-2", &["--dead-after", "60s"])),
    ];
    let first = nodes[0].as_ref().unwrap();
    let created = first
        .post(
            "/v1/jobs",
            json!({
                "name": "exclusive", "schedule": "@every 1s", "concurrency": "forbid",
                "executor": "shell", "executor_config": {"command": "sleep 60", "shell": "true"},
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let running = eventually("a running execution", Duration::from_secs(10), || async {
        executions_of(first)
            .await
            .into_iter()
            .find(|e| e["state"] == "running")
    })
    .await;
    let owner = running["node_name"].as_str().unwrap().to_string();
    let index = if owner == "forbid-1" { 0 } else { 1 };
    let survivor = nodes[1 - index].take().unwrap();
    nodes[index].as_mut().unwrap().kill();
    let next = eventually("a run on the survivor", Duration::from_secs(20), || async {
        executions_of(&survivor)
            .await
            .into_iter()
            .find(|e| e["state"] == "running" && e["node_name"] != owner.as_str())
    })
    .await;
    let executions = executions_of(&survivor).await;
    let lost = executions
        .iter()
        .find(|e| e["id"] == running["id"])
        .unwrap();
    assert_eq!(lost["reason"], "node lost", "{lost}");
    let closed: DateTime<Utc> = lost["finished_at"].as_str().unwrap().parse().unwrap();
    let started: DateTime<Utc> = next["started_at"].as_str().unwrap().parse().unwrap();
    assert!(
        started >= closed,
        "the next run started before the lost one was closed"
    );
    let open = executions
        .iter()
        .filter(|e| e["state"] == "running" || e["state"] == "scheduled")
        .count();
    assert_eq!(open, 1, "{executions:#?}");
}
