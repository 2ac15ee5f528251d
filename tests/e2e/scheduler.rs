//! The scheduler in-process, with real executions of the built-in executors, on SQLite
//! and PostgreSQL: every-second jobs, forbid, retries, chaining, ephemeral jobs, expiry,
//! misfire policies, kill, and closing what a dead process left open.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sandcron::jobs::JobSpec;
use sandcron::runtime::{Runtime, RuntimeConfig};
use sandcron::scheduler::{JobError, Scheduler, SchedulerConfig};
use sandcron::store::{ExecutionRecord, ExecutionState, NewExecution, Store, Trigger};

use crate::support::{cache_dir, each_store};
use sandcron::store::DEFAULT_TENANT;

fn spec(json: &str) -> JobSpec {
    serde_json::from_str(json).unwrap()
}

async fn start(store: Arc<dyn Store>) -> Scheduler {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache_dir()),
        max_concurrent_executions: 50,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let config = SchedulerConfig {
        node: "test-node".into(),
        ..SchedulerConfig::default()
    };
    Scheduler::start(store, runtime, config).await.unwrap()
}

/// The job's executions, oldest first.
async fn executions(store: &Arc<dyn Store>, job: &str) -> Vec<ExecutionRecord> {
    let (mut list, _) = store
        .list_executions(DEFAULT_TENANT, job, 0, None)
        .await
        .unwrap();
    list.reverse();
    list
}

/// Polls until `done` holds for the job's executions, or fails after `limit`.
async fn wait_for(
    store: &Arc<dyn Store>,
    job: &str,
    limit: Duration,
    done: impl Fn(&[ExecutionRecord]) -> bool,
) -> Vec<ExecutionRecord> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let list = executions(store, job).await;
        if done(&list) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{job}: condition not reached in {limit:?}; executions: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn finished(list: &[ExecutionRecord]) -> Vec<&ExecutionRecord> {
    list.iter()
        .filter(|e| matches!(e.state, ExecutionState::Succeeded | ExecutionState::Failed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_every_second_shell_job_runs_every_second_with_its_output() {
    for (backend, store) in each_store().await {
        let scheduler = start(store.clone()).await;
        let job = scheduler
            .put_job(
                DEFAULT_TENANT,
                spec(
                    r#"{"name": "hello", "schedule": "@every 1s", "executor": "shell",
                    "executor_config": {"command": "echo hello"}}"#,
                ),
            )
            .await
            .unwrap();
        assert!(job.next_run_at.is_some(), "{backend}");
        let list = wait_for(&store, "hello", Duration::from_secs(10), |l| {
            finished(l).len() >= 3
        })
        .await;
        for execution in finished(&list) {
            assert_eq!(
                execution.state,
                ExecutionState::Succeeded,
                "{backend}: {execution:?}"
            );
            assert_eq!(execution.output, b"hello\n", "{backend}");
            let lateness = execution.started_at.unwrap() - execution.scheduled_at;
            assert!(
                lateness >= chrono::TimeDelta::zero(),
                "{backend}: started early"
            );
        }
        // One second apart, on the series' phase.
        let ticks: Vec<_> = list.iter().map(|e| e.scheduled_at).collect();
        for pair in ticks.windows(2).take(2) {
            assert_eq!(
                pair[1] - pair[0],
                chrono::TimeDelta::seconds(1),
                "{backend}"
            );
        }
        let job = store
            .get_job(DEFAULT_TENANT, "hello")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.status, "success", "{backend}");
        assert!(job.success_count >= 3, "{backend}");
        let metrics = scheduler.metrics_text();
        assert!(
            metrics.contains("sandcron_executions_succeeded_total"),
            "{metrics}"
        );
        scheduler.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbid_skips_ticks_while_a_run_is_open_and_a_manual_run_gets_a_conflict() {
    for (backend, store) in each_store().await {
        let scheduler = start(store.clone()).await;
        scheduler
            .put_job(
                DEFAULT_TENANT,
                spec(
                    r#"{"name": "slow", "schedule": "@every 1s", "executor": "shell",
                    "concurrency": "forbid", "executor_config": {"command": "sleep 3"}}"#,
                ),
            )
            .await
            .unwrap();
        let list = wait_for(&store, "slow", Duration::from_secs(10), |l| {
            l.iter().any(|e| e.state == ExecutionState::Running)
        })
        .await;
        assert_eq!(list.len(), 1, "{backend}");
        let conflict = scheduler.run_job(DEFAULT_TENANT, "slow").await.unwrap_err();
        assert!(
            matches!(conflict, JobError::Conflict(_)),
            "{backend}: {conflict:?}"
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // Ticks came every second; none overlapped the running execution.
        let list = executions(&store, "slow").await;
        let open = list
            .iter()
            .filter(|e| matches!(e.state, ExecutionState::Running | ExecutionState::Scheduled))
            .count();
        assert!(open <= 1, "{backend}: {list:#?}");
        assert!(list.len() <= 2, "{backend}: {list:#?}");
        assert!(
            scheduler
                .metrics_text()
                .contains("sandcron_ticks_skipped_total")
        );
        scheduler.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_runs_of_a_forbid_job_sent_at_once_start_exactly_one() {
    for (backend, store) in each_store().await {
        let scheduler = start(store.clone()).await;
        scheduler
            .put_job(
                DEFAULT_TENANT,
                spec(
                    r#"{"name": "once", "schedule": "@manually", "executor": "shell",
                    "concurrency": "forbid", "executor_config": {"command": "sleep 2"}}"#,
                ),
            )
            .await
            .unwrap();
        let runs = (0..8).map(|_| {
            let scheduler = scheduler.clone();
            tokio::spawn(async move { scheduler.run_job(DEFAULT_TENANT, "once").await })
        });
        let mut started = 0;
        for run in runs {
            match run.await.unwrap() {
                Ok(_) => started += 1,
                Err(JobError::Conflict(message)) => {
                    assert!(message.contains("forbids overlapping runs"), "{message}")
                }
                Err(other) => panic!("{backend}: {other:?}"),
            }
        }
        assert_eq!(started, 1, "{backend}");
        assert_eq!(executions(&store, "once").await.len(), 1, "{backend}");
        scheduler.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_is_retried_with_backoff_in_one_group() {
    for (backend, store) in each_store().await {
        let scheduler = start(store.clone()).await;
        scheduler
            .put_job(
                DEFAULT_TENANT,
                spec(
                    r#"{"name": "flaky", "schedule": "@manually", "executor": "shell", "retries": 2,
                    "retry_backoff": {"initial": "200ms", "max": "1s", "jitter": 0},
                    "executor_config": {"command": "echo attempt; exit 3", "shell": true}}"#,
                ),
            )
            .await
            .unwrap();
        let first = scheduler.run_job(DEFAULT_TENANT, "flaky").await.unwrap();
        assert_eq!(first.state, ExecutionState::Running, "{backend}");
        let list = wait_for(&store, "flaky", Duration::from_secs(10), |l| {
            finished(l).len() == 3
        })
        .await;
        let attempts: Vec<u32> = list.iter().map(|e| e.attempt).collect();
        assert_eq!(attempts, [1, 2, 3], "{backend}");
        assert!(list.iter().all(|e| e.group == first.group), "{backend}");
        assert!(
            list.iter().all(|e| e.state == ExecutionState::Failed),
            "{backend}"
        );
        assert!(
            list[0].reason.contains('3'),
            "{backend}: {}",
            list[0].reason
        );
        // The second attempt waited for the backoff.
        let gap = list[1].started_at.unwrap() - list[0].finished_at.unwrap();
        assert!(
            gap >= chrono::TimeDelta::milliseconds(150),
            "{backend}: {gap}"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            executions(&store, "flaky").await.len(),
            3,
            "{backend}: no 4th attempt"
        );
        let job = store
            .get_job(DEFAULT_TENANT, "flaky")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (job.status.as_str(), job.error_count),
            ("failed", 3),
            "{backend}"
        );
        scheduler.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_runs_when_its_parent_succeeds_and_not_when_it_fails() {
    for (backend, store) in each_store().await {
        let scheduler = start(store.clone()).await;
        for json in [
            r#"{"name": "parent", "schedule": "@manually", "executor": "echo",
                "executor_config": {"message": "parent"}}"#,
            r#"{"name": "child", "parent_job": "parent", "executor": "echo",
                "executor_config": {"message": "child"}}"#,
            r#"{"name": "bad-parent", "schedule": "@manually", "executor": "shell",
                "executor_config": {"command": "exit 1"}}"#,
            r#"{"name": "orphan", "parent_job": "bad-parent", "executor": "echo"}"#,
        ] {
            scheduler.put_job(DEFAULT_TENANT, spec(json)).await.unwrap();
        }
        let child = store
            .get_job(DEFAULT_TENANT, "child")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            child.next_run_at, None,
            "{backend}: children are not scheduled"
        );
        scheduler.run_job(DEFAULT_TENANT, "parent").await.unwrap();
        scheduler
            .run_job(DEFAULT_TENANT, "bad-parent")
            .await
            .unwrap();
        let list = wait_for(&store, "child", Duration::from_secs(10), |l| {
            finished(l).len() == 1
        })
        .await;
        assert_eq!(list[0].output, b"child\n", "{backend}");
        wait_for(&store, "bad-parent", Duration::from_secs(10), |l| {
            finished(l).len() == 1
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(executions(&store, "orphan").await.is_empty(), "{backend}");
        // A cycle is refused, naming the field.
        let error = scheduler
            .put_job(
                DEFAULT_TENANT,
                spec(
                    r#"{"name": "parent", "schedule": "@manually", "executor": "echo",
                    "parent_job": "child"}"#,
                ),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&error, JobError::Invalid(e) if e.field == "parent_job"),
            "{backend}: {error:?}"
        );
        let error = scheduler
            .put_job(
                DEFAULT_TENANT,
                spec(r#"{"name": "x", "parent_job": "nope", "executor": "echo"}"#),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&error, JobError::Invalid(e) if e.field == "parent_job"),
            "{backend}: {error:?}"
        );
        scheduler.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ephemeral_job_is_deleted_after_its_first_success() {
    for (backend, store) in each_store().await {
        let scheduler = start(store.clone()).await;
        scheduler
            .put_job(DEFAULT_TENANT, spec(
                r#"{"name": "once", "schedule": "@every 1s", "executor": "echo", "ephemeral": true}"#,
            ))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store
            .get_job(DEFAULT_TENANT, "once")
            .await
            .unwrap()
            .is_some()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{backend}: not deleted"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        scheduler.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stops_at_expires_at_and_waits_for_starts_at() {
    for (backend, store) in each_store().await {
        let scheduler = start(store.clone()).await;
        let now = Utc::now();
        let expires = (now + chrono::TimeDelta::milliseconds(2500)).to_rfc3339();
        let starts = (now + chrono::TimeDelta::hours(1)).to_rfc3339();
        scheduler
            .put_job(
                DEFAULT_TENANT,
                spec(&format!(
                    r#"{{"name": "brief", "schedule": "@every 1s", "executor": "echo",
                    "expires_at": "{expires}"}}"#
                )),
            )
            .await
            .unwrap();
        let later = scheduler
            .put_job(
                DEFAULT_TENANT,
                spec(&format!(
                    r#"{{"name": "later", "schedule": "@every 1s", "executor": "echo",
                    "starts_at": "{starts}"}}"#
                )),
            )
            .await
            .unwrap();
        assert!(
            later.next_run_at.unwrap() >= now + chrono::TimeDelta::hours(1),
            "{backend}"
        );
        tokio::time::sleep(Duration::from_secs(4)).await;
        let list = executions(&store, "brief").await;
        assert_eq!(list.len(), 2, "{backend}: {list:#?}");
        let job = store
            .get_job(DEFAULT_TENANT, "brief")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.next_run_at, None, "{backend}");
        assert!(executions(&store, "later").await.is_empty(), "{backend}");
        scheduler.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misfire_policies_apply_to_ticks_missed_while_stopped() {
    for (backend, store) in each_store().await {
        let hour_ago = Utc::now() - chrono::TimeDelta::hours(1);
        for json in [
            r#"{"name": "catch-up", "schedule": "0 0 0 1 1 *", "executor": "echo", "misfire": "run_once"}"#,
            r#"{"name": "skipper", "schedule": "0 0 0 1 1 *", "executor": "echo", "misfire": "skip"}"#,
        ] {
            store
                .put_job(DEFAULT_TENANT, &spec(json), Some(hour_ago))
                .await
                .unwrap();
        }
        let scheduler = start(store.clone()).await;
        let list = wait_for(&store, "catch-up", Duration::from_secs(5), |l| {
            finished(l).len() == 1
        })
        .await;
        assert_eq!(list[0].state, ExecutionState::Succeeded, "{backend}");
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            executions(&store, "catch-up").await.len(),
            1,
            "{backend}: ran once"
        );
        assert!(executions(&store, "skipper").await.is_empty(), "{backend}");
        let skipper = store
            .get_job(DEFAULT_TENANT, "skipper")
            .await
            .unwrap()
            .unwrap();
        assert!(skipper.next_run_at.unwrap() > Utc::now(), "{backend}");
        scheduler.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_execution_can_be_followed_and_killed() {
    for (backend, store) in each_store().await {
        let scheduler = start(store.clone()).await;
        scheduler
            .put_job(
                DEFAULT_TENANT,
                spec(
                    r#"{"name": "long", "schedule": "@manually", "executor": "shell", "retries": 3,
                    "executor_config": {"command": "echo started; sleep 30", "shell": true}}"#,
                ),
            )
            .await
            .unwrap();
        let record = scheduler.run_job(DEFAULT_TENANT, "long").await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut follower = loop {
            if let Some(follower) = scheduler.follow(record.id)
                && !follower.backlog.is_empty()
            {
                break follower;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{backend}: no output"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(follower.backlog, b"started\n", "{backend}");
        assert_eq!(scheduler.busy(DEFAULT_TENANT).len(), 1, "{backend}");
        assert!(scheduler.kill(record.id), "{backend}");
        // The stream ends with the execution.
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while follower.chunks.next().await.is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "{backend}: the follower did not end");
        let list = wait_for(&store, "long", Duration::from_secs(5), |l| {
            finished(l).len() == 1
        })
        .await;
        assert_eq!(list[0].reason, "killed", "{backend}");
        assert_eq!(list[0].output, b"started\n", "{backend}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            executions(&store, "long").await.len(),
            1,
            "{backend}: a kill is not retried"
        );
        assert!(scheduler.busy(DEFAULT_TENANT).is_empty(), "{backend}");
        assert!(!scheduler.kill(record.id), "{backend}");
        scheduler.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_closes_what_a_dead_process_left_running() {
    for (backend, store) in each_store().await {
        store
            .put_job(
                DEFAULT_TENANT,
                &spec(r#"{"name": "crashed", "schedule": "@manually", "executor": "echo"}"#),
                None,
            )
            .await
            .unwrap();
        let orphan = store
            .start_execution(&NewExecution {
                tenant: DEFAULT_TENANT,
                exclusive: false,
                job_name: "crashed".into(),
                group: None,
                attempt: 1,
                scheduled_at: Utc::now(),
                state: ExecutionState::Running,
                node: "test-node".into(),
                trigger: Trigger::Manual,
                handed_over: false,
            })
            .await
            .unwrap();
        let scheduler = start(store.clone()).await;
        let closed = store
            .get_execution(DEFAULT_TENANT, "crashed", orphan.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(closed.state, ExecutionState::Failed, "{backend}");
        assert_eq!(closed.reason, "host restarted", "{backend}");
        scheduler.shutdown(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_shutdown_hands_unstarted_ticks_back() {
    for (backend, store) in each_store().await {
        let scheduler = start(store.clone()).await;
        // Due in a second: within the claim horizon, so claimed at once.
        scheduler
            .put_job(
                DEFAULT_TENANT,
                spec(r#"{"name": "soon", "schedule": "@every 1s", "executor": "echo"}"#),
            )
            .await
            .unwrap();
        // The claim loop takes the ticks within its horizon; wait until they are written.
        // The first of them is the one to follow.
        let claimed = wait_for(&store, "soon", Duration::from_secs(5), |l| !l.is_empty()).await;
        let tick = claimed.iter().map(|e| e.scheduled_at).min().unwrap();
        scheduler.shutdown(Duration::from_secs(5)).await;
        let list = executions(&store, "soon").await;
        assert!(
            list.iter().all(|e| e.state != ExecutionState::Scheduled),
            "{backend}: an unstarted tick was left behind: {list:#?}"
        );
        let job = store
            .get_job(DEFAULT_TENANT, "soon")
            .await
            .unwrap()
            .unwrap();
        let next = job.next_run_at.unwrap();
        // Either the tick ran before the stop, or it is due again.
        let ran = list.iter().any(|e| e.scheduled_at == tick);
        assert!(
            ran || next == tick,
            "{backend}: tick {tick} lost; next {next}"
        );
    }
}
