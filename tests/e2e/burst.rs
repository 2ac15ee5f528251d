//! A burst cut by a crash: thousands of jobs due at one instant, the server killed with
//! SIGKILL while it starts them, and started again. Every tick of the burst must end with
//! exactly one execution (the unstarted ones run after the restart, the cut ones are
//! closed as `host restarted`), on both stores.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::support::{Server, each_server, eventually};

/// Jobs in the burst.
const JOBS: usize = 2000;

/// One first attempt of a tick: its state, and when it started.
struct Attempt {
    state: String,
    started_at: Option<DateTime<Utc>>,
}

/// Every job's first attempts at each tick, `(job, tick) → attempts`, read through the API.
async fn first_attempts(server: &Server) -> BTreeMap<(String, DateTime<Utc>), Vec<Attempt>> {
    let mut ticks: BTreeMap<(String, DateTime<Utc>), Vec<Attempt>> = BTreeMap::new();
    let instant = |value: &Value| {
        value.as_str().map(|text| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        })
    };
    for start in (0..).step_by(500) {
        let path = format!("/v1/executions?_start={start}&_end={}", start + 500);
        let reply = server.get(&path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        let page = reply.json();
        let page = page.as_array().unwrap();
        for execution in page {
            if execution["attempt"] != 1 || execution["trigger"] != "schedule" {
                continue;
            }
            let tick = instant(&execution["scheduled_at"]).unwrap();
            let job = execution["job_name"].as_str().unwrap().to_string();
            ticks.entry((job, tick)).or_default().push(Attempt {
                state: execution["state"].as_str().unwrap().to_string(),
                started_at: instant(&execution["started_at"]),
            });
        }
        if page.len() < 500 {
            return ticks;
        }
    }
    unreachable!()
}

#[tokio::test]
async fn every_tick_of_a_burst_cut_by_kill_9_has_exactly_one_execution() {
    for server in each_server().await {
        let backend = server.backend;
        // The burst at least four seconds away, so that it is claimed in full, and the
        // last tick: the list read below does not move while it is read.
        let five = TimeDelta::seconds(5);
        let burst = (Utc::now() + TimeDelta::seconds(4))
            .duration_trunc(five)
            .unwrap()
            + five;
        let jobs: Vec<Value> = (0..JOBS)
            .map(|i| {
                json!({
                    "name": format!("burst-{i}"),
                    "schedule": "*/5 * * * * *",
                    "expires_at": (burst + TimeDelta::seconds(1)).to_rfc3339(),
                    "executor": "echo",
                    "executor_config": {"message": "tick"},
                })
            })
            .collect();
        let restored = server.post("/v1/restore", Value::Array(jobs)).await;
        assert_eq!(restored.status, 200, "{backend}: {}", restored.text);

        // Killed as soon as the burst is seen running: asked without a pause, as 2,000
        // `echo` runs may all be over within `eventually`'s 100 ms between two looks.
        tokio::time::sleep((burst - Utc::now()).to_std().unwrap_or_default()).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while server
            .get("/v1/busy")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{backend}: timed out waiting for the burst to start"
            );
        }
        let server = server.crash_and_restart();
        let restarted = Utc::now();

        let ticks = eventually(
            "every tick of the burst to end",
            Duration::from_secs(60),
            || async {
                let ticks = first_attempts(&server).await;
                let of_burst: Vec<&Vec<Attempt>> = ticks
                    .iter()
                    .filter(|((_, tick), _)| *tick == burst)
                    .map(|(_, attempts)| attempts)
                    .collect();
                let ended = of_burst
                    .iter()
                    .flat_map(|attempts| attempts.iter())
                    .all(|attempt| attempt.state != "scheduled" && attempt.state != "running");
                (of_burst.len() == JOBS && ended).then_some(ticks)
            },
        )
        .await;
        let twice: Vec<_> = ticks
            .iter()
            .filter(|(_, attempts)| attempts.len() > 1)
            .map(|(tick, _)| tick)
            .collect();
        assert!(
            twice.is_empty(),
            "{backend}: {} ticks have more than one execution, e.g. {:?}",
            twice.len(),
            twice.first()
        );
        let of_burst = || {
            ticks
                .iter()
                .filter(|((_, tick), _)| *tick == burst)
                .map(|(_, attempts)| &attempts[0])
        };
        let cut_short = of_burst().filter(|a| a.state == "failed").count();
        let after_restart = of_burst()
            .filter(|a| a.started_at.is_some_and(|at| at >= restarted))
            .count();
        eprintln!(
            "{backend}: {JOBS} ticks of the burst at {burst}, one execution each: {} ran \
             before the crash, {cut_short} were cut short by it, {after_restart} ran after \
             the restart",
            JOBS - cut_short - after_restart
        );
        assert!(
            after_restart > 0,
            "{backend}: the crash came after the burst"
        );
    }
}
