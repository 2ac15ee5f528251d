//! The `ecs` executor: runs one AWS ECS task as Dkron Pro's ecs executor does, through the
//! `http` capability (the host checks the endpoint against the granted hosts), signing
//! each request itself with credentials read from the `secrets` capability.
//!
//! The run: register the task definition (`taskdefBody`) or take `taskdefName`, RunTask,
//! then DescribeTasks with a backoff until the task is STOPPED, and report each
//! container's exit code; the execution succeeds when all are 0. From RunTask on, a signed
//! StopTask is kept armed with `http-cleanup`, refreshed at every poll, so that the host
//! stops the task if the execution is killed, passes its deadline or fails before the
//! task ended. See `docs/executors/ecs.md`.

mod api;
mod config;
mod sigv4;
mod task;

use std::time::Instant;

use sandcron_sdk::{Execution, Executor, Failure, http_cleanup, output, secrets};
use serde_json::{Value, json};

use crate::api::{ApiError, Ecs};
use crate::config::{EcsConfig, TaskDefinition};
use crate::sigv4::Credentials;
use crate::task::Stopped;

/// The `http-cleanup` key of the armed StopTask.
const STOP_KEY: &str = "ecs-stop-task";
/// The reason StopTask records.
const STOP_REASON: &str = "Stopped by Sandcron: the execution ended before the task";

struct EcsExecutor;

impl Executor for EcsExecutor {
    fn run(execution: Execution) -> Result<(), Failure> {
        let deadline = execution.deadline();
        let config = EcsConfig::from_execution(&execution)?;
        for entry in &config.ignored_env {
            output::eprint(&format!(
                "ecs: env entry {entry:?} has no '=' and was ignored\n"
            ));
        }
        if let Some(group) = &config.log_group {
            output::eprint(&format!(
                "ecs: logGroup {group:?} is accepted but CloudWatch logs are not streamed yet\n"
            ));
        }
        let credentials = Credentials {
            access_key_id: secrets::get(&config.access_key_id_secret)?,
            secret_access_key: secrets::get(&config.secret_access_key_secret)?,
            session_token: config
                .session_token_secret
                .as_deref()
                .map(secrets::get)
                .transpose()?,
        };
        let ecs = Ecs::new(&config.endpoint, &config.region, credentials)
            .map_err(|e| Failure::invalid_config("endpoint", e))?;
        let run = Run {
            ecs,
            config,
            deadline,
        };
        let task_definition = run.task_definition()?;
        let task_arn = run.start(&task_definition)?;
        // On an error the StopTask stays armed: the host sends it once `run` returns.
        let stopped = run.wait(&task_arn)?;
        http_cleanup::disarm(STOP_KEY);
        report(&stopped)
    }
}

/// One execution's calls.
struct Run {
    ecs: Ecs,
    config: EcsConfig,
    deadline: Instant,
}

impl Run {
    fn call(&self, operation: &str, body: &Value) -> Result<Value, ApiError> {
        let time_left = self.deadline.saturating_duration_since(Instant::now());
        self.ecs.call(operation, body, time_left)
    }

    /// The task definition to run: registered from `taskdefBody`, or `taskdefName`.
    fn task_definition(&self) -> Result<String, Failure> {
        let body = match &self.config.task_definition {
            TaskDefinition::Name(name) => return Ok(name.clone()),
            TaskDefinition::Body(body) => body,
        };
        let answer = self
            .call("RegisterTaskDefinition", body)
            .map_err(|e| e.into_failure("RegisterTaskDefinition"))?;
        let arn = answer["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .ok_or_else(|| {
                Failure::Failed(
                    "ecs: RegisterTaskDefinition answered without a taskDefinitionArn".into(),
                )
            })?;
        output::print(&format!("ecs: registered task definition {arn}\n"));
        Ok(arn.to_owned())
    }

    /// Runs the task and arms its StopTask; returns its ARN.
    fn start(&self, task_definition: &str) -> Result<String, Failure> {
        let answer = self
            .call("RunTask", &self.config.run_task_request(task_definition))
            .map_err(|e| e.into_failure("RunTask"))?;
        let Some(arn) = answer["tasks"][0]["taskArn"].as_str() else {
            let failures: Vec<String> = answer["failures"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|f| {
                    format!(
                        "{} {}",
                        f["reason"].as_str().unwrap_or("unknown reason"),
                        f["detail"].as_str().unwrap_or("")
                    )
                    .trim()
                    .to_owned()
                })
                .collect();
            return Err(Failure::Failed(format!(
                "ecs: RunTask started no task: {}",
                if failures.is_empty() {
                    "no reason given".to_owned()
                } else {
                    failures.join("; ")
                }
            )));
        };
        self.arm_stop(arn)?;
        output::print(&format!(
            "ecs: started task {arn} on cluster {}\n",
            self.config.cluster.as_deref().unwrap_or("default")
        ));
        Ok(arn.to_owned())
    }

    /// Arms (or refreshes: the signature expires) the StopTask of `task_arn`.
    fn arm_stop(&self, task_arn: &str) -> Result<(), Failure> {
        let mut body = json!({ "task": task_arn, "reason": STOP_REASON });
        if let Some(cluster) = &self.config.cluster {
            body["cluster"] = json!(cluster);
        }
        http_cleanup::arm(STOP_KEY, &self.ecs.request("StopTask", &body))
    }

    /// Polls until the task is STOPPED.
    fn wait(&self, task_arn: &str) -> Result<Stopped, Failure> {
        let mut describe = json!({ "tasks": [task_arn] });
        if let Some(cluster) = &self.config.cluster {
            describe["cluster"] = json!(cluster);
        }
        let mut last_status = String::new();
        for attempt in 0..self.config.max_attempts {
            std::thread::sleep(task::backoff(attempt, self.config.poll_interval));
            let answer = match self.call("DescribeTasks", &describe) {
                Ok(answer) => answer,
                Err(error) if error.is_transient() => {
                    output::eprint(&format!("ecs: DescribeTasks failed, will retry: {error}\n"));
                    continue;
                }
                Err(error) => return Err(error.into_failure("DescribeTasks")),
            };
            self.arm_stop(task_arn)?;
            let task = &answer["tasks"][0];
            let status = task["lastStatus"].as_str().unwrap_or("UNKNOWN");
            if status != last_status {
                output::print(&format!("ecs: task is {status}\n"));
                last_status = status.to_owned();
            }
            if status == "STOPPED" {
                return Ok(Stopped::from_task(task));
            }
        }
        self.stop(task_arn);
        Err(Failure::Failed(format!(
            "ecs: the task was still {last_status} after {} polls (maxAttempts); it was stopped",
            self.config.max_attempts
        )))
    }

    /// Stops the task now, best effort.
    fn stop(&self, task_arn: &str) {
        let mut body = json!({ "task": task_arn, "reason": STOP_REASON });
        if let Some(cluster) = &self.config.cluster {
            body["cluster"] = json!(cluster);
        }
        match self.call("StopTask", &body) {
            Ok(_) => {
                http_cleanup::disarm(STOP_KEY);
                output::eprint(&format!("ecs: stopped task {task_arn}\n"));
            }
            // Still armed: the host tries again once `run` returns.
            Err(error) => output::eprint(&format!("ecs: StopTask failed: {error}\n")),
        }
    }
}

/// Writes each container's ending and gives the execution's verdict.
fn report(stopped: &Stopped) -> Result<(), Failure> {
    for container in &stopped.containers {
        let ending = match container.exit_code {
            Some(code) => format!("exited with {code}"),
            None => "has no exit code".to_owned(),
        };
        let reason = container
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        output::print(&format!(
            "ecs: container {} {ending}{reason}\n",
            container.name
        ));
    }
    stopped
        .verdict()
        .map_err(|reason| Failure::Failed(format!("ecs: {reason}")))
}

sandcron_sdk::export_executor!(EcsExecutor);
