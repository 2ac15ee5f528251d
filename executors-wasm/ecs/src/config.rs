//! The ecs executor's config: Dkron Pro's keys (`taskdefBody`, `taskdefName`, `region`,
//! `cluster`, `launchType`, `fargate`, `subnet`, `securityGroup`, `env`, `service`,
//! `overrides`, `maxAttempts`, `enableExecuteCommand`, `propagateTags`, `logGroup`) and
//! Sandcron's (`endpoint`, `pollInterval`, and the names of the credential secrets).
//!
//! Credentials are never read from `executor_config`: a key that looks like one is
//! refused, naming the key and the secrets to use instead.

use std::time::Duration;

use sandcron_sdk::config::{self, parse_bool};
use sandcron_sdk::{Execution, Failure};
use serde::Deserialize;
use serde_json::{Value, json};

/// Polls before giving up, as Dkron Pro (2000 × 6 s ≈ 3.3 h).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 2000;
/// The longest wait between two polls, as Dkron Pro's fixed 6 s.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(6);
/// The secret holding the access key id when `accessKeyIdSecret` is unset.
pub const DEFAULT_ACCESS_KEY_SECRET: &str = "aws-access-key-id";
/// The secret holding the secret access key when `secretAccessKeySecret` is unset.
pub const DEFAULT_SECRET_KEY_SECRET: &str = "aws-secret-access-key";

/// Keys that would put credentials in the job's config in plain text.
const CREDENTIAL_KEYS: &[&str] = &[
    "accessKey",
    "accessKeyId",
    "secretKey",
    "secretAccessKey",
    "sessionToken",
    "awsAccessKeyId",
    "awsSecretAccessKey",
    "awsSessionToken",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// The keys as the job writes them. Empty values mean "not set", as in Dkron.
#[derive(Deserialize)]
struct Raw {
    #[serde(default, rename = "taskdefBody")]
    taskdef_body: String,
    #[serde(default, rename = "taskdefName")]
    taskdef_name: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    cluster: String,
    #[serde(default, rename = "launchType")]
    launch_type: String,
    #[serde(default)]
    fargate: String,
    #[serde(default)]
    subnet: String,
    #[serde(default, rename = "securityGroup")]
    security_group: String,
    #[serde(default)]
    env: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    overrides: String,
    #[serde(default, rename = "maxAttempts")]
    max_attempts: String,
    #[serde(default, rename = "enableExecuteCommand")]
    enable_execute_command: String,
    #[serde(default, rename = "propagateTags")]
    propagate_tags: String,
    #[serde(default, rename = "logGroup")]
    log_group: String,
    #[serde(default)]
    endpoint: String,
    #[serde(
        default,
        rename = "pollInterval",
        deserialize_with = "config::optional_duration"
    )]
    poll_interval: Option<Duration>,
    #[serde(default, rename = "accessKeyIdSecret")]
    access_key_id_secret: String,
    #[serde(default, rename = "secretAccessKeySecret")]
    secret_access_key_secret: String,
    #[serde(default, rename = "sessionTokenSecret")]
    session_token_secret: String,
}

/// Where the task definition comes from.
#[derive(Debug, PartialEq)]
pub enum TaskDefinition {
    /// Registered from this body (`taskdefBody`) before the run.
    Body(Value),
    /// An existing `family[:revision]` or ARN (`taskdefName`).
    Name(String),
}

/// A checked config.
#[derive(Debug, PartialEq)]
pub struct EcsConfig {
    /// The task definition to run.
    pub task_definition: TaskDefinition,
    /// The AWS region.
    pub region: String,
    /// The API's base URL.
    pub endpoint: String,
    /// The cluster; the account's `default` cluster when unset.
    pub cluster: Option<String>,
    /// `FARGATE`, `EC2` or `EXTERNAL`; the cluster's default when unset.
    pub launch_type: Option<String>,
    /// Subnets of the awsvpc network configuration.
    pub subnets: Vec<String>,
    /// Security groups of the awsvpc network configuration.
    pub security_groups: Vec<String>,
    /// Environment overrides of the `service` container.
    pub env: Vec<(String, String)>,
    /// Entries of `env` without a `=`.
    pub ignored_env: Vec<String>,
    /// The container that `env` and `overrides` apply to.
    pub service: Option<String>,
    /// The command override of the `service` container.
    pub command: Vec<String>,
    /// Polls before giving up.
    pub max_attempts: u32,
    /// The longest wait between two polls.
    pub poll_interval: Duration,
    /// RunTask's `enableExecuteCommand`.
    pub enable_execute_command: Option<bool>,
    /// RunTask's `propagateTags`.
    pub propagate_tags: Option<String>,
    /// `logGroup` was set; logs are not streamed yet.
    pub log_group: Option<String>,
    /// Secret names of the credentials.
    pub access_key_id_secret: String,
    /// Secret name of the secret access key.
    pub secret_access_key_secret: String,
    /// Secret name of the session token, when temporary credentials are used.
    pub session_token_secret: Option<String>,
}

impl EcsConfig {
    /// Reads and checks the execution's config; every error names its key.
    pub fn from_execution(execution: &Execution) -> Result<Self, Failure> {
        Self::from_map(&execution.executor_config)
    }

    /// Reads and checks a config map.
    pub fn from_map(map: &[(String, String)]) -> Result<Self, Failure> {
        if let Some((key, _)) = map
            .iter()
            .find(|(key, _)| CREDENTIAL_KEYS.contains(&key.as_str()))
        {
            return Err(Failure::invalid_config(
                key,
                "credentials are never read from executor_config: grant them as secrets \
                 (accessKeyIdSecret and secretAccessKeySecret name them; by default \
                 aws-access-key-id and aws-secret-access-key)",
            ));
        }
        Self::from_raw(config::from_map(map)?)
    }

    fn from_raw(raw: Raw) -> Result<Self, Failure> {
        let task_definition = match (raw.taskdef_body.trim(), raw.taskdef_name.trim()) {
            ("", "") => {
                return Err(Failure::invalid_config(
                    "taskdefBody",
                    "taskdefBody or taskdefName is required",
                ));
            }
            (body, "") => {
                let value: Value = serde_json::from_str(body).map_err(|e| {
                    Failure::invalid_config("taskdefBody", format_args!("is not valid JSON: {e}"))
                })?;
                if !value.is_object() {
                    return Err(Failure::invalid_config(
                        "taskdefBody",
                        "must be a JSON object (a RegisterTaskDefinition request)",
                    ));
                }
                TaskDefinition::Body(value)
            }
            ("", name) => TaskDefinition::Name(name.to_owned()),
            _ => {
                return Err(Failure::invalid_config(
                    "taskdefName",
                    "give taskdefBody or taskdefName, not both",
                ));
            }
        };
        let region = raw.region.trim().to_owned();
        if region.is_empty() {
            return Err(Failure::invalid_config("region", "is required"));
        }
        if !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Failure::invalid_config(
                "region",
                format_args!("{region:?} is not a region name such as us-east-1"),
            ));
        }
        let endpoint = match raw.endpoint.trim() {
            "" => format!("https://ecs.{region}.amazonaws.com"),
            url if url.starts_with("https://") || url.starts_with("http://") => url.to_owned(),
            url => {
                return Err(Failure::invalid_config(
                    "endpoint",
                    format_args!("{url:?} is not an http(s):// URL"),
                ));
            }
        };
        let launch_type = launch_type(&raw.launch_type, &raw.fargate)?;
        let max_attempts = match raw.max_attempts.trim() {
            "" => DEFAULT_MAX_ATTEMPTS,
            text => match text.parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(Failure::invalid_config(
                        "maxAttempts",
                        format_args!("{text:?} is not a whole number above 0"),
                    ));
                }
            },
        };
        let enable_execute_command = match raw.enable_execute_command.trim() {
            "" => None,
            text => Some(parse_bool(text).ok_or_else(|| {
                Failure::invalid_config(
                    "enableExecuteCommand",
                    format_args!("{text:?} is not a boolean (true or false)"),
                )
            })?),
        };
        let propagate_tags = match raw.propagate_tags.trim() {
            "" => None,
            text => {
                let upper = text.to_ascii_uppercase();
                if !matches!(upper.as_str(), "TASK_DEFINITION" | "SERVICE" | "NONE") {
                    return Err(Failure::invalid_config(
                        "propagateTags",
                        format_args!("{text:?} is not one of TASK_DEFINITION, SERVICE, NONE"),
                    ));
                }
                Some(upper)
            }
        };
        let (env, ignored_env) = config::parse_env_list(&raw.env);
        let command = list(&raw.overrides);
        let service = Some(raw.service.trim().to_owned())
            .filter(|s| !s.is_empty())
            .or_else(|| single_container(&task_definition));
        if service.is_none() && (!env.is_empty() || !command.is_empty()) {
            return Err(Failure::invalid_config(
                "service",
                "is required with env or overrides (the name of the container they apply to) \
                 unless the task definition body has a single container",
            ));
        }
        let poll_interval = raw
            .poll_interval
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_POLL_INTERVAL);
        let secret = |value: String, default: &str| {
            Some(value.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Ok(EcsConfig {
            task_definition,
            region,
            endpoint,
            cluster: Some(raw.cluster.trim().to_owned()).filter(|c| !c.is_empty()),
            launch_type,
            subnets: list(&raw.subnet),
            security_groups: list(&raw.security_group),
            env,
            ignored_env,
            service,
            command,
            max_attempts,
            poll_interval,
            enable_execute_command,
            propagate_tags,
            log_group: Some(raw.log_group.trim().to_owned()).filter(|g| !g.is_empty()),
            access_key_id_secret: secret(raw.access_key_id_secret, DEFAULT_ACCESS_KEY_SECRET),
            secret_access_key_secret: secret(
                raw.secret_access_key_secret,
                DEFAULT_SECRET_KEY_SECRET,
            ),
            session_token_secret: Some(raw.session_token_secret.trim().to_owned())
                .filter(|s| !s.is_empty()),
        })
    }

    /// The RunTask request for `task_definition` (a name or an ARN).
    pub fn run_task_request(&self, task_definition: &str) -> Value {
        let mut request = json!({
            "taskDefinition": task_definition,
            "count": 1,
            "startedBy": "sandcron",
        });
        if let Some(cluster) = &self.cluster {
            request["cluster"] = json!(cluster);
        }
        if let Some(launch_type) = &self.launch_type {
            request["launchType"] = json!(launch_type);
        }
        if !self.subnets.is_empty() || !self.security_groups.is_empty() {
            request["networkConfiguration"] = json!({"awsvpcConfiguration": {
                "subnets": self.subnets,
                "securityGroups": self.security_groups,
            }});
        }
        if let Some(service) = &self.service
            && (!self.env.is_empty() || !self.command.is_empty())
        {
            let mut container = json!({ "name": service });
            if !self.command.is_empty() {
                container["command"] = json!(self.command);
            }
            if !self.env.is_empty() {
                container["environment"] = self
                    .env
                    .iter()
                    .map(|(name, value)| json!({"name": name, "value": value}))
                    .collect();
            }
            request["overrides"] = json!({ "containerOverrides": [container] });
        }
        if let Some(enable) = self.enable_execute_command {
            request["enableExecuteCommand"] = json!(enable);
        }
        if let Some(tags) = &self.propagate_tags {
            request["propagateTags"] = json!(tags);
        }
        request
    }
}

/// `launchType` (`EC2`, `FARGATE`, `EXTERNAL`) or Dkron Pro's `fargate` flag.
fn launch_type(launch_type: &str, fargate: &str) -> Result<Option<String>, Failure> {
    let fargate = match fargate.trim() {
        "" => None,
        text => Some(parse_bool(text).ok_or_else(|| {
            Failure::invalid_config(
                "fargate",
                format_args!("{text:?} is not a boolean (true or false)"),
            )
        })?),
    };
    let named = match launch_type.trim().to_ascii_uppercase().as_str() {
        "" => None,
        kind @ ("EC2" | "FARGATE" | "EXTERNAL") => Some(kind.to_owned()),
        _ => {
            return Err(Failure::invalid_config(
                "launchType",
                format_args!("{launch_type:?} is not one of EC2, FARGATE, EXTERNAL"),
            ));
        }
    };
    match (named, fargate) {
        (Some(kind), Some(true)) if kind != "FARGATE" => Err(Failure::invalid_config(
            "launchType",
            format_args!("{kind} contradicts fargate=true"),
        )),
        (Some(kind), _) => Ok(Some(kind)),
        (None, Some(true)) => Ok(Some("FARGATE".to_owned())),
        (None, _) => Ok(None),
    }
}

/// The name of the only container of a task definition body.
fn single_container(task_definition: &TaskDefinition) -> Option<String> {
    let TaskDefinition::Body(body) = task_definition else {
        return None;
    };
    match body["containerDefinitions"].as_array()?.as_slice() {
        [only] => only["name"].as_str().map(str::to_owned),
        _ => None,
    }
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<EcsConfig, Failure> {
        let map: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EcsConfig::from_map(&map)
    }

    fn message(result: Result<EcsConfig, Failure>) -> String {
        match result {
            Err(Failure::InvalidConfig(text)) => text,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    const BODY: &str = r#"{"family":"job","containerDefinitions":[{"name":"main","image":"busybox","memory":64}]}"#;

    #[test]
    fn a_task_definition_and_a_region_are_required() {
        assert!(message(parse(&[("region", "us-east-1")])).starts_with("taskdefBody: "));
        assert_eq!(
            message(parse(&[("taskdefName", "job:1")])),
            "region: is required"
        );
        assert!(
            message(parse(&[
                ("taskdefName", "job"),
                ("taskdefBody", BODY),
                ("region", "us-east-1")
            ]))
            .starts_with("taskdefName: give taskdefBody or taskdefName, not both")
        );
        assert!(
            message(parse(&[("taskdefBody", "{oops"), ("region", "us-east-1")]))
                .starts_with("taskdefBody: is not valid JSON")
        );
    }

    #[test]
    fn credentials_in_the_config_are_refused() {
        let text = message(parse(&[
            ("taskdefName", "job"),
            ("region", "us-east-1"),
            ("secretAccessKey", "plain text"),
        ]));
        assert!(
            text.starts_with("secretAccessKey: credentials are never read"),
            "{text}"
        );
    }

    #[test]
    fn defaults_follow_dkron_pro() {
        let config = parse(&[("taskdefName", "job:3"), ("region", "eu-west-1")]).unwrap();
        assert_eq!(config.endpoint, "https://ecs.eu-west-1.amazonaws.com");
        assert_eq!(config.max_attempts, 2000);
        assert_eq!(config.poll_interval, Duration::from_secs(6));
        assert_eq!(config.launch_type, None);
        assert_eq!(config.access_key_id_secret, "aws-access-key-id");
        assert_eq!(
            config.run_task_request("job:3"),
            json!({"taskDefinition": "job:3", "count": 1, "startedBy": "sandcron"})
        );
    }

    #[test]
    fn the_run_task_request_carries_every_key() {
        let config = parse(&[
            ("taskdefBody", BODY),
            ("region", "us-east-1"),
            ("cluster", "jobs"),
            ("fargate", "true"),
            ("subnet", "subnet-1, subnet-2"),
            ("securityGroup", "sg-1"),
            ("env", "A=1,B=two"),
            ("overrides", "sh,-c,echo hi"),
            ("enableExecuteCommand", "true"),
            ("propagateTags", "task_definition"),
        ])
        .unwrap();
        assert_eq!(config.service.as_deref(), Some("main"));
        assert_eq!(
            config.run_task_request("arn:td"),
            json!({
                "taskDefinition": "arn:td",
                "count": 1,
                "startedBy": "sandcron",
                "cluster": "jobs",
                "launchType": "FARGATE",
                "networkConfiguration": {"awsvpcConfiguration": {
                    "subnets": ["subnet-1", "subnet-2"],
                    "securityGroups": ["sg-1"],
                }},
                "overrides": {"containerOverrides": [{
                    "name": "main",
                    "command": ["sh", "-c", "echo hi"],
                    "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "two"}],
                }]},
                "enableExecuteCommand": true,
                "propagateTags": "TASK_DEFINITION",
            })
        );
    }

    #[test]
    fn overrides_need_a_container_name() {
        let text = message(parse(&[
            ("taskdefName", "job"),
            ("region", "us-east-1"),
            ("env", "A=1"),
        ]));
        assert!(text.starts_with("service: is required"), "{text}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            ("launchType", "MOON"),
            ("fargate", "maybe"),
            ("maxAttempts", "0"),
            ("pollInterval", "often"),
            ("endpoint", "ftp://x"),
            ("region", "US East"),
            ("propagateTags", "ALL"),
        ] {
            let mut pairs = vec![("taskdefName", "job"), ("region", "us-east-1")];
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            let text = message(parse(&pairs));
            assert!(text.starts_with(&format!("{key}: ")), "{text}");
        }
        let text = message(parse(&[
            ("taskdefName", "job"),
            ("region", "us-east-1"),
            ("launchType", "EC2"),
            ("fargate", "true"),
        ]));
        assert!(text.contains("contradicts fargate=true"), "{text}");
    }
}
