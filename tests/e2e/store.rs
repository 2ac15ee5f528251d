//! The store, against SQLite and a real PostgreSQL: every test runs on both.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use sandcron::jobs::JobSpec;
use sandcron::store::{
    DueJob, ExecutionState, FinishedExecution, JobQuery, JobSort, NewExecution, NewJob,
    ReleasedTick, Store, StoreError, Trigger,
};

use crate::support::each_store;
use sandcron::store::{DEFAULT_TENANT, DeadRule, Member};

fn spec(json: &str) -> JobSpec {
    serde_json::from_str(json).unwrap()
}

fn job(name: &str) -> JobSpec {
    spec(&format!(
        r#"{{"name": "{name}", "schedule": "@every 10s", "executor": "echo", "metadata": {{"team": "a"}}}}"#
    ))
}

#[tokio::test]
async fn put_get_replace_and_delete_a_job() {
    for (backend, store) in each_store().await {
        let next = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 10).unwrap();
        let created = store
            .put_job(DEFAULT_TENANT, &job("backup"), Some(next))
            .await
            .unwrap();
        assert_eq!(created.spec.name, "backup", "{backend}");
        assert_eq!(created.next_run_at, Some(next), "{backend}");
        assert_eq!(created.status, "", "{backend}");

        let mut changed = job("backup");
        changed.displayname = "Nightly backup".into();
        let replaced = store.put_job(DEFAULT_TENANT, &changed, None).await.unwrap();
        assert_eq!(
            replaced.id, created.id,
            "{backend}: replacing keeps the job"
        );
        assert_eq!(replaced.spec.displayname, "Nightly backup", "{backend}");
        assert_eq!(replaced.next_run_at, None, "{backend}");

        let deleted = store
            .delete_job(DEFAULT_TENANT, "backup")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(deleted.spec.displayname, "Nightly backup", "{backend}");
        assert!(
            store
                .get_job(DEFAULT_TENANT, "backup")
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        assert!(
            store
                .delete_job(DEFAULT_TENANT, "backup")
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_parent_lists_its_children_and_cannot_be_deleted_before_them() {
    for (backend, store) in each_store().await {
        store
            .put_job(DEFAULT_TENANT, &job("parent"), None)
            .await
            .unwrap();
        let mut child = job("child");
        child.schedule.clear();
        child.parent_job = "parent".into();
        store.put_job(DEFAULT_TENANT, &child, None).await.unwrap();
        let parent = store
            .get_job(DEFAULT_TENANT, "parent")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            parent.dependent_jobs,
            vec!["child".to_string()],
            "{backend}"
        );
        let refused = store
            .delete_job(DEFAULT_TENANT, "parent")
            .await
            .unwrap_err();
        assert!(
            matches!(refused, StoreError::Conflict(m) if m.contains("child")),
            "{backend}"
        );
        store.delete_job(DEFAULT_TENANT, "child").await.unwrap();
        store.delete_job(DEFAULT_TENANT, "parent").await.unwrap();
    }
}

#[tokio::test]
async fn the_list_filters_sorts_and_pages_in_the_database() {
    for (backend, store) in each_store().await {
        for name in ["alpha", "bravo", "charlie", "delta"] {
            let mut spec = job(name);
            if name == "bravo" {
                spec.metadata.insert("team".into(), "b".into());
                spec.displayname = "The B job".into();
            }
            if name == "delta" {
                spec.disabled = true;
            }
            if name == "charlie" {
                spec.executor = "shell".into();
            }
            store.put_job(DEFAULT_TENANT, &spec, None).await.unwrap();
        }
        let page = |query: JobQuery| {
            let store = store.clone();
            async move {
                let (jobs, total) = store.list_jobs(DEFAULT_TENANT, &query).await.unwrap();
                (
                    jobs.into_iter().map(|j| j.spec.name).collect::<Vec<_>>(),
                    total,
                )
            }
        };
        assert_eq!(
            page(JobQuery {
                start: 1,
                end: Some(3),
                ..JobQuery::default()
            })
            .await,
            (vec!["bravo".into(), "charlie".into()], 4),
            "{backend}"
        );
        assert_eq!(
            page(JobQuery {
                sort: JobSort::Name,
                descending: true,
                end: Some(1),
                ..JobQuery::default()
            })
            .await,
            (vec!["delta".into()], 4),
            "{backend}"
        );
        assert_eq!(
            page(JobQuery {
                metadata: vec![("team".into(), "b".into())],
                ..JobQuery::default()
            })
            .await,
            (vec!["bravo".into()], 1),
            "{backend}"
        );
        assert_eq!(
            page(JobQuery {
                q: Some("B job".into()),
                ..JobQuery::default()
            })
            .await,
            (vec!["bravo".into()], 1),
            "{backend}"
        );
        assert_eq!(
            page(JobQuery {
                disabled: Some(true),
                ..JobQuery::default()
            })
            .await,
            (vec!["delta".into()], 1),
            "{backend}"
        );
        assert_eq!(
            page(JobQuery {
                executor: Some("shell".into()),
                ..JobQuery::default()
            })
            .await,
            (vec!["charlie".into()], 1),
            "{backend}: the executor filter"
        );
        assert_eq!(
            page(JobQuery {
                executor: Some("echo".into()),
                descending: true,
                ..JobQuery::default()
            })
            .await,
            (vec!["delta".into(), "bravo".into(), "alpha".into()], 3),
            "{backend}: the executor filter, sorted"
        );
        assert_eq!(
            page(JobQuery {
                executor: Some("ech".into()),
                ..JobQuery::default()
            })
            .await,
            (Vec::<String>::new(), 0),
            "{backend}: the executor filter matches the whole name"
        );
        assert_eq!(
            page(JobQuery {
                status: Some("untriggered".into()),
                ..JobQuery::default()
            })
            .await
            .1,
            4,
            "{backend}"
        );
    }
}

/// A manual execution of the job `name`, running now on `node-a`.
fn run_now(name: &str) -> NewExecution {
    NewExecution {
        tenant: DEFAULT_TENANT,
        exclusive: false,
        job_name: name.into(),
        group: None,
        attempt: 1,
        scheduled_at: Utc::now(),
        state: ExecutionState::Running,
        node: "node-a".into(),
        trigger: Trigger::Manual,
        handed_over: false,
    }
}

/// Finishes one execution of the job `name` as a success or a failure.
async fn run_once(store: &Arc<dyn Store>, name: &str, success: bool) {
    let job_id = store
        .get_job(DEFAULT_TENANT, name)
        .await
        .unwrap()
        .unwrap()
        .id;
    let started = store.start_execution(&run_now(name)).await.unwrap();
    store
        .finish_executions(&[FinishedExecution {
            id: started.id,
            job_id,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            success,
            output: Vec::new(),
            output_truncated: false,
            reason: String::new(),
            job_status: if success { "success" } else { "failed" },
        }])
        .await
        .unwrap();
}

#[tokio::test]
async fn the_list_searches_filters_sorts_and_pages_from_either_end() {
    for (backend, store) in each_store().await {
        let jobs: Vec<_> = (0..30)
            .map(|i| {
                let mut spec = job(&format!("job-{i:02}"));
                spec.metadata.insert("team".into(), format!("t{}", i % 3));
                if i == 7 {
                    spec.displayname = "Nightly 100% \"full\"".into();
                }
                NewJob::new(spec, None).unwrap()
            })
            .collect();
        store.put_jobs(DEFAULT_TENANT, &jobs).await.unwrap();
        let names = |query: JobQuery| {
            let store = store.clone();
            async move {
                let (jobs, total) = store.list_jobs(DEFAULT_TENANT, &query).await.unwrap();
                (
                    jobs.into_iter().map(|j| j.spec.name).collect::<Vec<_>>(),
                    total,
                )
            }
        };
        let search = |q: &str| JobQuery {
            q: Some(q.into()),
            ..JobQuery::default()
        };
        let team = |t: &str| JobQuery {
            metadata: vec![("team".into(), t.into())],
            ..JobQuery::default()
        };

        // A substring of the name or the display name, whatever its case and length.
        assert_eq!(names(search("JOB-1")).await.1, 10, "{backend}");
        assert_eq!(names(search("b-2")).await.1, 10, "{backend}");
        assert_eq!(
            names(search("7")).await,
            (vec!["job-07".into(), "job-17".into(), "job-27".into()], 3),
            "{backend}: shorter than a trigram"
        );
        for literal in ["100%", "%", "\"full\"", "_"] {
            let expected: Vec<String> = if literal == "_" {
                Vec::new()
            } else {
                vec!["job-07".into()]
            };
            let found = names(search(literal)).await;
            assert_eq!(found.0, expected, "{backend}: {literal} as it is");
        }

        // Metadata pairs follow the definition: replaced with it, gone with the job.
        assert_eq!(names(team("t1")).await.1, 10, "{backend}");
        let mut moved = job("job-01");
        moved.metadata.insert("team".into(), "t2".into());
        store.put_job(DEFAULT_TENANT, &moved, None).await.unwrap();
        store.delete_job(DEFAULT_TENANT, "job-04").await.unwrap();
        let (in_t1, count) = names(team("t1")).await;
        assert_eq!(count, 8, "{backend}: {in_t1:?}");
        assert!(!in_t1.contains(&"job-01".to_string()), "{backend}");
        assert_eq!(names(team("t2")).await.1, 11, "{backend}");
        assert_eq!(names(search("job-04")).await.1, 0, "{backend}");
        store
            .put_job(DEFAULT_TENANT, &job("job-04"), None)
            .await
            .unwrap();
        assert_eq!(names(search("job-04")).await.1, 1, "{backend}");

        // The counters, kept apart from the claimed row, sort the list.
        for _ in 0..3 {
            run_once(&store, "job-05", true).await;
        }
        run_once(&store, "job-12", false).await;
        let first = |sort: JobSort| JobQuery {
            sort,
            descending: true,
            end: Some(1),
            ..JobQuery::default()
        };
        assert_eq!(
            names(first(JobSort::SuccessCount)).await.0,
            vec!["job-05".to_string()],
            "{backend}"
        );
        assert_eq!(
            names(first(JobSort::ErrorCount)).await.0,
            vec!["job-12".to_string()],
            "{backend}"
        );
        assert_eq!(
            names(first(JobSort::LastError)).await.0,
            vec!["job-12".to_string()],
            "{backend}: a job that never failed sorts after one that did"
        );
        assert_eq!(
            names(JobQuery {
                status: Some("failed".into()),
                ..JobQuery::default()
            })
            .await
            .0,
            vec!["job-12".to_string()],
            "{backend}"
        );

        // Pages in the second half are read from the end: the same rows, in order.
        for sort in [JobSort::Name, JobSort::SuccessCount, JobSort::LastSuccess] {
            for descending in [false, true] {
                let all = JobQuery {
                    sort,
                    descending,
                    ..JobQuery::default()
                };
                let (whole, total) = names(all.clone()).await;
                assert_eq!(total, 30, "{backend}");
                let mut paged = Vec::new();
                for start in (0..32).step_by(7) {
                    let (page, _) = names(JobQuery {
                        start,
                        end: Some(start + 7),
                        ..all.clone()
                    })
                    .await;
                    paged.extend(page);
                }
                assert_eq!(paged, whole, "{backend}: {sort:?} descending {descending}");
            }
        }
    }
}

#[tokio::test]
async fn executions_are_written_before_and_completed_after() {
    for (backend, store) in each_store().await {
        store
            .put_job(DEFAULT_TENANT, &job("report"), None)
            .await
            .unwrap();
        let scheduled_at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let new = NewExecution {
            tenant: DEFAULT_TENANT,
            exclusive: false,
            job_name: "report".into(),
            group: None,
            attempt: 1,
            scheduled_at,
            state: ExecutionState::Running,
            node: "node-a".into(),
            trigger: Trigger::Manual,
            handed_over: false,
        };
        let running = store.start_execution(&new).await.unwrap();
        assert_eq!(running.state, ExecutionState::Running, "{backend}");
        let job_id = store
            .get_job(DEFAULT_TENANT, "report")
            .await
            .unwrap()
            .unwrap()
            .id;
        let finished = FinishedExecution {
            id: running.id,
            job_id,
            started_at: running.started_at.unwrap(),
            finished_at: Utc::now(),
            success: false,
            output: b"boom\n".to_vec(),
            output_truncated: false,
            reason: "exit status 1".into(),
            job_status: "failed",
        };
        store.finish_executions(&[finished]).await.unwrap();

        let retry = NewExecution {
            tenant: DEFAULT_TENANT,
            exclusive: false,
            group: Some(running.group),
            attempt: 2,
            ..new
        };
        let second = store.start_execution(&retry).await.unwrap();
        store
            .finish_executions(&[FinishedExecution {
                id: second.id,
                job_id,
                started_at: Utc::now(),
                finished_at: Utc::now(),
                success: true,
                output: b"ok\n".to_vec(),
                output_truncated: false,
                reason: String::new(),
                job_status: "partially_failed",
            }])
            .await
            .unwrap();

        let job = store
            .get_job(DEFAULT_TENANT, "report")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((job.success_count, job.error_count), (1, 1), "{backend}");
        assert_eq!(job.status, "partially_failed", "{backend}");
        assert!(
            job.last_success.is_some() && job.last_error.is_some(),
            "{backend}"
        );

        let (list, total) = store
            .list_executions(DEFAULT_TENANT, "report", 0, None)
            .await
            .unwrap();
        assert_eq!(total, 2, "{backend}");
        assert_eq!(list[0].id, second.id, "{backend}: newest first");
        assert_eq!(list[1].output, b"boom\n", "{backend}");
        assert_eq!(list[1].reason, "exit status 1", "{backend}");
        assert_eq!(list[1].state, ExecutionState::Failed, "{backend}");
        let one = store
            .get_execution(DEFAULT_TENANT, "report", second.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(one.attempt, 2, "{backend}");
        assert!(
            store
                .get_execution(DEFAULT_TENANT, "other", second.id)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_tenant_s_executions_of_every_job_list_newest_first_by_state_and_page() {
    for (backend, store) in each_store().await {
        let other = store.create_tenant("other").await.unwrap().id;
        store
            .put_job(DEFAULT_TENANT, &job("first"), None)
            .await
            .unwrap();
        store
            .put_job(DEFAULT_TENANT, &job("second"), None)
            .await
            .unwrap();
        store.put_job(other, &job("first"), None).await.unwrap();
        let start = |tenant, job_name: &str| {
            let store = store.clone();
            let new = NewExecution {
                tenant,
                exclusive: false,
                job_name: job_name.into(),
                group: None,
                attempt: 1,
                scheduled_at: Utc::now(),
                state: ExecutionState::Running,
                node: "node-a".into(),
                trigger: Trigger::Manual,
                handed_over: false,
            };
            async move { store.start_execution(&new).await.unwrap() }
        };
        // Oldest first: first (fails), second (runs on), the other tenant's, first again.
        let failed = start(DEFAULT_TENANT, "first").await;
        let running = start(DEFAULT_TENANT, "second").await;
        let foreign = start(other, "first").await;
        let newest = start(DEFAULT_TENANT, "first").await;
        let first_id = store
            .get_job(DEFAULT_TENANT, "first")
            .await
            .unwrap()
            .unwrap()
            .id;
        store
            .finish_executions(&[FinishedExecution {
                id: failed.id,
                job_id: first_id,
                started_at: failed.started_at.unwrap(),
                finished_at: Utc::now(),
                success: false,
                output: b"boom\n".to_vec(),
                output_truncated: false,
                reason: "exit status 1".into(),
                job_status: "failed",
            }])
            .await
            .unwrap();

        let ids = |tenant, state, start, end| {
            let store = store.clone();
            async move {
                store
                    .list_tenant_executions(tenant, state, start, end)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|execution| (execution.id, execution.job_name))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            ids(DEFAULT_TENANT, None, 0, 50).await,
            [
                (newest.id, "first".to_string()),
                (running.id, "second".to_string()),
                (failed.id, "first".to_string()),
            ],
            "{backend}: every job's, newest first, none of the other tenant's"
        );
        assert_eq!(
            ids(DEFAULT_TENANT, None, 1, 2).await,
            [(running.id, "second".to_string())],
            "{backend}: a page"
        );
        assert_eq!(
            ids(DEFAULT_TENANT, Some(ExecutionState::Failed), 0, 50).await,
            [(failed.id, "first".to_string())],
            "{backend}: by state"
        );
        assert_eq!(
            ids(DEFAULT_TENANT, Some(ExecutionState::Running), 0, 50).await,
            [
                (newest.id, "first".to_string()),
                (running.id, "second".to_string()),
            ],
            "{backend}: by state"
        );
        assert!(
            ids(DEFAULT_TENANT, Some(ExecutionState::Scheduled), 0, 50)
                .await
                .is_empty(),
            "{backend}"
        );
        assert_eq!(
            ids(other, None, 0, 50).await,
            [(foreign.id, "first".to_string())],
            "{backend}: the other tenant sees its own"
        );
        assert!(
            ids(DEFAULT_TENANT, None, 3, 50).await.is_empty(),
            "{backend}: past the end"
        );
    }
}

#[tokio::test]
async fn executions_left_running_by_a_dead_process_are_closed_as_failed() {
    for (backend, store) in each_store().await {
        store
            .put_job(DEFAULT_TENANT, &job("long"), None)
            .await
            .unwrap();
        let new = NewExecution {
            tenant: DEFAULT_TENANT,
            exclusive: false,
            job_name: "long".into(),
            group: None,
            attempt: 1,
            scheduled_at: Utc::now(),
            state: ExecutionState::Running,
            node: "node-a".into(),
            trigger: Trigger::Manual,
            handed_over: false,
        };
        let orphan = store.start_execution(&new).await.unwrap();
        let elsewhere = store
            .start_execution(&NewExecution {
                tenant: DEFAULT_TENANT,
                exclusive: false,
                node: "node-b".into(),
                ..new
            })
            .await
            .unwrap();
        assert_eq!(
            store
                .close_unfinished("node-a", "host restarted")
                .await
                .unwrap(),
            1,
            "{backend}"
        );
        let closed = store
            .get_execution(DEFAULT_TENANT, "long", orphan.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(closed.state, ExecutionState::Failed, "{backend}");
        assert_eq!(closed.reason, "host restarted", "{backend}");
        let untouched = store
            .get_execution(DEFAULT_TENANT, "long", elsewhere.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(untouched.state, ExecutionState::Running, "{backend}");
    }
}

#[tokio::test]
async fn a_claim_writes_executions_advances_jobs_and_skips_forbidden_overlaps() {
    for (backend, store) in each_store().await {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let second = chrono::TimeDelta::seconds(1);
        store
            .put_job(DEFAULT_TENANT, &job("a"), Some(t0))
            .await
            .unwrap();
        store
            .put_job(DEFAULT_TENANT, &job("b"), Some(t0 + second))
            .await
            .unwrap();
        store
            .put_job(DEFAULT_TENANT, &job("later"), Some(t0 + second * 60))
            .await
            .unwrap();
        let mut forbid = job("f");
        forbid.concurrency = sandcron::jobs::Concurrency::Forbid;
        store
            .put_job(DEFAULT_TENANT, &forbid, Some(t0))
            .await
            .unwrap();
        // `f` already has an open execution.
        store
            .start_execution(&NewExecution {
                tenant: DEFAULT_TENANT,
                exclusive: false,
                job_name: "f".into(),
                group: None,
                attempt: 1,
                scheduled_at: t0,
                state: ExecutionState::Running,
                node: "n".into(),
                trigger: Trigger::Manual,
                handed_over: false,
            })
            .await
            .unwrap();

        assert_eq!(store.earliest_due().await.unwrap(), Some(t0), "{backend}");
        let plan = |due: &DueJob| Some(due.scheduled_at + second * 10);
        let ticks = store
            .claim_due("n", t0 + second, 10, None, &plan)
            .await
            .unwrap();
        // The earliest tick left is the one the claim planned (`later` comes after it).
        assert_eq!(
            store.earliest_due().await.unwrap(),
            Some(t0 + second * 10),
            "{backend}"
        );
        let mut claimed: Vec<(&str, bool)> = ticks
            .iter()
            .map(|t| (t.job.spec.name.as_str(), t.execution.is_some()))
            .collect();
        claimed.sort();
        assert_eq!(
            claimed,
            [("a", true), ("b", true), ("f", false)],
            "{backend}"
        );
        let a = store.get_job(DEFAULT_TENANT, "a").await.unwrap().unwrap();
        assert_eq!(a.next_run_at, Some(t0 + second * 10), "{backend}");
        let tick = ticks.iter().find(|t| t.job.spec.name == "a").unwrap();
        let record = store
            .get_execution(DEFAULT_TENANT, "a", tick.execution.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.state, ExecutionState::Scheduled, "{backend}");
        assert_eq!(record.scheduled_at, t0, "{backend}");
        // Nothing is claimed twice.
        assert!(
            store
                .claim_due("n", t0 + second, 10, None, &plan)
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );

        // Marked running, then handed back at shutdown: only unstarted ticks go back.
        store.mark_running(&[(record.id, t0)]).await.unwrap();
        let b_tick = ticks.iter().find(|t| t.job.spec.name == "b").unwrap();
        store
            .release_ticks(&[ReleasedTick {
                execution_id: b_tick.execution.unwrap(),
                job_id: b_tick.job.id,
                scheduled_at: b_tick.job.scheduled_at,
            }])
            .await
            .unwrap();
        let b = store.get_job(DEFAULT_TENANT, "b").await.unwrap().unwrap();
        assert_eq!(b.next_run_at, Some(t0 + second), "{backend}");
        assert_eq!(
            store
                .list_executions(DEFAULT_TENANT, "b", 0, None)
                .await
                .unwrap()
                .1,
            0,
            "{backend}"
        );
        let a_record = store
            .get_execution(DEFAULT_TENANT, "a", record.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a_record.state, ExecutionState::Running, "{backend}");
    }
}

#[tokio::test]
async fn overdue_jobs_are_rescheduled_at_start_up() {
    for (backend, store) in each_store().await {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        for name in ["x", "y"] {
            store
                .put_job(DEFAULT_TENANT, &job(name), Some(t0))
                .await
                .unwrap();
        }
        store
            .put_job(
                DEFAULT_TENANT,
                &job("future"),
                Some(t0 + chrono::TimeDelta::days(1)),
            )
            .await
            .unwrap();
        let later = t0 + chrono::TimeDelta::hours(1);
        let changed = store
            .reschedule_overdue(t0 + chrono::TimeDelta::seconds(1), &|_| Some(later))
            .await
            .unwrap();
        assert_eq!(changed, 2, "{backend}");
        let x = store.get_job(DEFAULT_TENANT, "x").await.unwrap().unwrap();
        assert_eq!(x.next_run_at, Some(later), "{backend}");
    }
}

#[tokio::test]
async fn pruning_keeps_the_newest_executions_of_each_job() {
    /// `runs` executions of job `name`, the first `finished` of them ended; their ids.
    async fn executions(
        store: &Arc<dyn Store>,
        name: &str,
        runs: usize,
        finished: usize,
    ) -> Vec<i64> {
        let job_id = store
            .get_job(DEFAULT_TENANT, name)
            .await
            .unwrap()
            .unwrap()
            .id;
        let mut ids = Vec::new();
        for _ in 0..runs {
            let record = store
                .start_execution(&NewExecution {
                    tenant: DEFAULT_TENANT,
                    exclusive: false,
                    job_name: name.into(),
                    group: None,
                    attempt: 1,
                    scheduled_at: Utc::now(),
                    state: ExecutionState::Running,
                    node: "n".into(),
                    trigger: Trigger::Manual,
                    handed_over: false,
                })
                .await
                .unwrap();
            ids.push(record.id);
        }
        let ended: Vec<FinishedExecution> = ids[..finished]
            .iter()
            .map(|id| FinishedExecution {
                id: *id,
                job_id,
                started_at: Utc::now(),
                finished_at: Utc::now(),
                success: true,
                output: Vec::new(),
                output_truncated: false,
                reason: String::new(),
                job_status: "success",
            })
            .collect();
        store.finish_executions(&ended).await.unwrap();
        ids
    }

    for (backend, store) in each_store().await {
        let mut job_ids = Vec::new();
        for name in ["p", "q", "r"] {
            job_ids.push(
                store
                    .put_job(DEFAULT_TENANT, &job(name), None)
                    .await
                    .unwrap()
                    .id,
            );
        }
        let ids = executions(&store, "p", 5, 4).await;
        let q_ids = executions(&store, "q", 3, 3).await;
        let job = store.get_job(DEFAULT_TENANT, "p").await.unwrap().unwrap();
        assert_eq!(
            (job.success_count, job.status.as_str()),
            (4, "success"),
            "{backend}"
        );
        // Keep 2 of each job, pruned together: of `p` the open one is never pruned, and
        // counts among the newest (3 deleted); of `q` the oldest goes; `r` has none.
        let deleted = store.prune_executions(&job_ids, 2).await.unwrap();
        assert_eq!(deleted, 3 + 1, "{backend}");
        let (q_left, _) = store
            .list_executions(DEFAULT_TENANT, "q", 0, None)
            .await
            .unwrap();
        let mut q_left: Vec<i64> = q_left.iter().map(|record| record.id).collect();
        q_left.sort_unstable();
        assert_eq!(q_left, q_ids[1..], "{backend}");
        let (left, total) = store
            .list_executions(DEFAULT_TENANT, "p", 0, None)
            .await
            .unwrap();
        assert_eq!(total, 2, "{backend}");
        assert_eq!(left[0].id, ids[4], "{backend}");
        assert_eq!(left[1].id, ids[3], "{backend}");

        let cleared = store
            .delete_executions(DEFAULT_TENANT, "p")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (cleared.success_count, cleared.status.as_str()),
            (0, ""),
            "{backend}"
        );
        assert_eq!(
            store
                .list_executions(DEFAULT_TENANT, "p", 0, None)
                .await
                .unwrap()
                .1,
            1,
            "{backend}: the open one stays"
        );
    }
}

#[allow(dead_code)]
fn assert_store_is_object_safe(_: Arc<dyn Store>) {}

#[tokio::test]
async fn members_taken_over_long_ago_are_forgotten_and_a_forgotten_node_can_join_again() {
    for (backend, store) in each_store().await {
        let long_ago = Utc::now() - chrono::TimeDelta::days(2);
        let member = |name: &str| Member {
            name: name.into(),
            address: "127.0.0.1:1".into(),
            tags: Default::default(),
            started_at: long_ago,
            heartbeat_at: long_ago,
        };
        for name in ["taken", "not-taken", "recent"] {
            store.join(&member(name)).await.unwrap();
        }
        assert!(store.heartbeat("recent", Utc::now()).await.unwrap());
        let dead = DeadRule {
            heartbeat_before: Utc::now() - chrono::TimeDelta::seconds(10),
            gone_before: Utc::now() - chrono::TimeDelta::seconds(3),
        };
        let taken = store
            .take_over("taken", Some(dead), "node lost", "recent")
            .await
            .unwrap();
        assert!(taken.is_some(), "{backend}");

        let forgotten = store
            .forget_members(Utc::now() - chrono::TimeDelta::days(1))
            .await
            .unwrap();
        assert_eq!(forgotten, vec!["taken".to_string()], "{backend}");
        let names: Vec<String> = store
            .list_members()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["not-taken", "recent"], "{backend}");
        // A forgotten node's heartbeat says so, and it joins again.
        assert!(
            !store.heartbeat("taken", Utc::now()).await.unwrap(),
            "{backend}"
        );
        store.join(&member("taken")).await.unwrap();
        assert!(
            store.heartbeat("taken", Utc::now()).await.unwrap(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn what_ran_after_an_execution_is_kept_with_it_and_the_history_read_back() {
    for (backend, store) in each_store().await {
        store
            .put_job(DEFAULT_TENANT, &job("after"), None)
            .await
            .unwrap();
        let job_id = store
            .get_job(DEFAULT_TENANT, "after")
            .await
            .unwrap()
            .unwrap()
            .id;
        let mut ids = Vec::new();
        for (success, output) in [(false, "one"), (true, "two")] {
            let running = store.start_execution(&run_now("after")).await.unwrap();
            assert_eq!(
                store.previous_outcome(job_id, running.group).await.unwrap(),
                ids.first().map(|_| false),
                "{backend}: the tick before"
            );
            store
                .finish_executions(&[FinishedExecution {
                    id: running.id,
                    job_id,
                    started_at: running.started_at.unwrap(),
                    finished_at: Utc::now(),
                    success,
                    output: output.as_bytes().to_vec(),
                    output_truncated: false,
                    reason: String::new(),
                    job_status: if success { "success" } else { "failed" },
                }])
                .await
                .unwrap();
            ids.push(running.id);
            // Distinct finish instants, so "the last finished" is well defined.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let report = serde_json::json!({"processors": [{"name": "log", "ok": true}]});
        store
            .record_after_run(&[sandcron::store::AfterRunWrite {
                id: ids[1],
                output: Some(b"Output in the sandcron log".to_vec()),
                report: report.clone(),
            }])
            .await
            .unwrap();
        // A later report without output keeps the output the processors left.
        store
            .record_after_run(&[sandcron::store::AfterRunWrite {
                id: ids[1],
                output: None,
                report: report.clone(),
            }])
            .await
            .unwrap();
        let kept = store
            .get_execution(DEFAULT_TENANT, "after", ids[1])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.output, b"Output in the sandcron log", "{backend}");
        assert_eq!(kept.after_run, Some(report), "{backend}");
        let untouched = store
            .get_execution(DEFAULT_TENANT, "after", ids[0])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (untouched.output, untouched.after_run),
            (b"one".to_vec(), None)
        );
        assert_eq!(
            store.previous_outcome(job_id, -1).await.unwrap(),
            Some(true),
            "{backend}: the last finished execution succeeded"
        );
        let ascending = store
            .list_executions_sorted(
                DEFAULT_TENANT,
                "after",
                sandcron::store::ExecutionSort {
                    key: sandcron::store::ExecutionSortKey::FinishedAt,
                    descending: false,
                },
                0,
                None,
            )
            .await
            .unwrap()
            .0;
        let order: Vec<i64> = ascending.iter().map(|e| e.id).collect();
        assert_eq!(order, ids, "{backend}");
        store.set_tenant_paused(DEFAULT_TENANT, true).await.unwrap();
        let tenant = store.tenant_by_id(DEFAULT_TENANT).await.unwrap().unwrap();
        assert!(tenant.paused, "{backend}");
    }
}

#[tokio::test]
async fn a_job_quota_counts_new_jobs_in_order_in_the_write_even_when_writes_race() {
    for (backend, store) in each_store().await {
        let tenant = store.create_tenant("quota").await.unwrap().id;
        store.put_job(tenant, &job("kept"), None).await.unwrap();
        // `kept` replaces and counts nothing; `a` and `b` fill the quota of 3; `c` and
        // the second `c` are past it; the second `a` replaces the first.
        let batch: Vec<NewJob> = ["kept", "a", "b", "c", "a", "c"]
            .into_iter()
            .map(|name| NewJob::new(job(name), None).unwrap())
            .collect();
        let refused = store
            .put_jobs_within(tenant, &batch, Some(3))
            .await
            .unwrap();
        let refused: Vec<(usize, u64)> = refused.iter().map(|r| (r.index, r.jobs)).collect();
        assert_eq!(refused, vec![(3, 3), (5, 3)], "{backend}");
        assert_eq!(store.count_jobs(tenant).await.unwrap(), 3, "{backend}");
        assert!(
            store.get_job(tenant, "c").await.unwrap().is_none(),
            "{backend}"
        );

        // Twenty writers at once, each one new job, with room for two more.
        let writes: Vec<_> = (0..20)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .put_jobs_within(
                            tenant,
                            &[NewJob::new(job(&format!("race{i}")), None).unwrap()],
                            Some(5),
                        )
                        .await
                        .unwrap()
                        .is_empty()
                })
            })
            .collect();
        let mut written = 0;
        for write in writes {
            written += usize::from(write.await.unwrap());
        }
        assert_eq!(written, 2, "{backend}");
        assert_eq!(store.count_jobs(tenant).await.unwrap(), 5, "{backend}");
    }
}
