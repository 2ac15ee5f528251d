//! What a described task says: its status while it runs, and once it stopped, whether
//! every container exited with 0. Pure, so it is tested without an API.

use std::time::Duration;

use serde_json::Value;

/// How one container of a stopped task ended.
#[derive(Debug, PartialEq, Eq)]
pub struct ContainerEnd {
    /// The container's name.
    pub name: String,
    /// Its exit code, when it ran.
    pub exit_code: Option<i64>,
    /// ECS's reason, when it gives one.
    pub reason: Option<String>,
}

/// A stopped task's verdict.
#[derive(Debug, PartialEq, Eq)]
pub struct Stopped {
    /// Every container, in the order ECS lists them.
    pub containers: Vec<ContainerEnd>,
    /// The task's `stoppedReason`.
    pub reason: Option<String>,
}

impl Stopped {
    /// Reads a stopped task from DescribeTasks' `tasks[i]`.
    pub fn from_task(task: &Value) -> Self {
        let text = |value: &Value| value.as_str().map(str::to_owned).filter(|s| !s.is_empty());
        let containers = task["containers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|container| ContainerEnd {
                name: text(&container["name"]).unwrap_or_else(|| "?".to_owned()),
                exit_code: container["exitCode"].as_i64(),
                reason: text(&container["reason"]),
            })
            .collect();
        Self {
            containers,
            reason: text(&task["stoppedReason"]),
        }
    }

    /// `Ok` when there is at least one container and every one exited with 0; else the
    /// reason, naming the containers that did not.
    pub fn verdict(&self) -> Result<(), String> {
        if self.containers.is_empty() {
            return Err(format!(
                "the task stopped without running a container{}",
                self.reason_suffix()
            ));
        }
        let failed: Vec<String> = self
            .containers
            .iter()
            .filter(|c| c.exit_code != Some(0))
            .map(|c| match c.exit_code {
                Some(code) => format!("{} exited with {code}", c.name),
                None => format!("{} has no exit code", c.name),
            })
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(format!("{}{}", failed.join(", "), self.reason_suffix()))
        }
    }

    fn reason_suffix(&self) -> String {
        self.reason
            .as_deref()
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default()
    }
}

/// The wait before poll number `attempt` (from 0): one second, doubling, at most `max`.
pub fn backoff(attempt: u32, max: Duration) -> Duration {
    let exponent = attempt.min(16);
    Duration::from_secs(1u64 << exponent).min(max)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn success_when_every_container_exited_with_zero() {
        let task = json!({"containers": [
            {"name": "a", "exitCode": 0},
            {"name": "b", "exitCode": 0},
        ]});
        assert_eq!(Stopped::from_task(&task).verdict(), Ok(()));
    }

    #[test]
    fn failure_names_the_containers_and_the_reason() {
        let task = json!({
            "stoppedReason": "Essential container in task exited",
            "containers": [
                {"name": "a", "exitCode": 0},
                {"name": "b", "exitCode": 3},
                {"name": "c", "reason": "CannotPullContainerError"},
            ]
        });
        assert_eq!(
            Stopped::from_task(&task).verdict(),
            Err("b exited with 3, c has no exit code (Essential container in task exited)".into())
        );
        let empty = json!({"stoppedReason": "TaskFailedToStart"});
        assert!(Stopped::from_task(&empty).verdict().is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_interval() {
        let max = Duration::from_secs(6);
        let waits: Vec<u64> = (0..5).map(|n| backoff(n, max).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 6, 6]);
        assert_eq!(
            backoff(0, Duration::from_millis(200)),
            Duration::from_millis(200)
        );
        assert_eq!(backoff(u32::MAX, max), max);
    }
}
