//! The docker executor's config: Dkron Pro's keys (`image`, `command`, `env`, `volumes`)
//! and Sandcron's (`pull`, `memory`, `cpus`, `network`, `user`, `workdir`, `remove`,
//! `timeout`), read and checked before anything is sent to the host.

use std::time::Duration;

use sandcron_sdk::config::{self, parse_bool};
use sandcron_sdk::docker::PullPolicy;
use sandcron_sdk::{Execution, Failure};
use serde::Deserialize;

/// The keys as the job writes them. Empty values mean "not set", as in Dkron.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    image: String,
    #[serde(default)]
    command: String,
    #[serde(default)]
    env: String,
    #[serde(default)]
    volumes: String,
    #[serde(default)]
    pull: String,
    #[serde(default, deserialize_with = "config::optional_size")]
    memory: Option<u64>,
    #[serde(default)]
    cpus: String,
    #[serde(default)]
    network: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    workdir: String,
    #[serde(default)]
    remove: String,
    #[serde(default, deserialize_with = "config::optional_duration")]
    timeout: Option<Duration>,
}

/// One `host:container[:ro|:rw]` entry of `volumes`.
#[derive(Debug, PartialEq, Eq)]
pub struct Volume {
    /// The host path.
    pub host: String,
    /// The path in the container.
    pub container: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// A checked config.
#[derive(Debug, PartialEq)]
pub struct DockerConfig {
    /// The image reference as written.
    pub image: String,
    /// The command split into words; empty runs the image's own.
    pub command: Vec<String>,
    /// `K=v` pairs from `env`, in order.
    pub env: Vec<(String, String)>,
    /// Entries of `env` without a `=`.
    pub ignored_env: Vec<String>,
    /// Bind mounts.
    pub volumes: Vec<Volume>,
    /// When to pull the image.
    pub pull: PullPolicy,
    /// Memory limit in bytes; the grant's largest when unset.
    pub memory: Option<u64>,
    /// CPU limit; the grant's largest when unset.
    pub cpus: Option<f64>,
    /// The network; `none` when unset.
    pub network: Option<String>,
    /// User to run as.
    pub user: Option<String>,
    /// Working directory in the container.
    pub workdir: Option<String>,
    /// Remove the container once it ended.
    pub remove: bool,
    /// Stop and remove the container after this long.
    pub timeout: Option<Duration>,
}

impl DockerConfig {
    /// Reads and checks the execution's config; every error names its key.
    pub fn from_execution(execution: &Execution) -> Result<Self, Failure> {
        Self::from_raw(execution.config()?)
    }

    #[cfg(test)]
    fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, Failure> {
        let map: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::from_raw(config::from_map(&map)?)
    }

    fn from_raw(raw: Raw) -> Result<Self, Failure> {
        let image = raw.image.trim();
        if image.is_empty() {
            return Err(Failure::invalid_config("image", "is required"));
        }
        let command = shell_words::split(&raw.command).map_err(|e| {
            Failure::invalid_config("command", format_args!("cannot split into words: {e}"))
        })?;
        let (env, ignored_env) = config::parse_env_list(&raw.env);
        let volumes = raw
            .volumes
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_volume)
            .collect::<Result<_, _>>()?;
        let pull = match raw.pull.trim() {
            "" | "missing" => PullPolicy::Missing,
            "always" => PullPolicy::Always,
            "never" => PullPolicy::Never,
            other => {
                return Err(Failure::invalid_config(
                    "pull",
                    format_args!("{other:?} is not one of missing, always, never"),
                ));
            }
        };
        let cpus = match raw.cpus.trim() {
            "" => None,
            text => match text.parse::<f64>() {
                Ok(cpus) if cpus.is_finite() && cpus > 0.0 => Some(cpus),
                _ => {
                    return Err(Failure::invalid_config(
                        "cpus",
                        format_args!("{text:?} is not a CPU count (such as 0.5 or 2)"),
                    ));
                }
            },
        };
        let remove = match raw.remove.trim() {
            "" => true,
            text => parse_bool(text).ok_or_else(|| {
                Failure::invalid_config(
                    "remove",
                    format_args!("{text:?} is not a boolean (true or false)"),
                )
            })?,
        };
        let text = |value: String| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        Ok(DockerConfig {
            image: image.to_owned(),
            command,
            env,
            ignored_env,
            volumes,
            pull,
            memory: raw.memory.filter(|bytes| *bytes > 0),
            cpus,
            network: text(raw.network),
            user: text(raw.user),
            workdir: text(raw.workdir),
            remove,
            timeout: raw.timeout.filter(|t| !t.is_zero()),
        })
    }
}

/// Reads `host:container[:ro|:rw]`.
fn parse_volume(entry: &str) -> Result<Volume, Failure> {
    let bad = || {
        Failure::invalid_config(
            "volumes",
            format_args!("{entry:?} is not host-path:container-path[:ro]"),
        )
    };
    let parts: Vec<&str> = entry.split(':').collect();
    let (host, container, read_only) = match parts.as_slice() {
        [host, container] => (host, container, false),
        [host, container, "ro"] => (host, container, true),
        [host, container, "rw"] => (host, container, false),
        _ => return Err(bad()),
    };
    if host.is_empty() || container.is_empty() {
        return Err(bad());
    }
    Ok(Volume {
        host: (*host).to_owned(),
        container: (*container).to_owned(),
        read_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(failure: Failure) -> String {
        match failure {
            Failure::InvalidConfig(text) => text,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn image_is_required() {
        let error = DockerConfig::from_pairs(&[("command", "true")]).unwrap_err();
        assert_eq!(message(error), "image: is required");
    }

    #[test]
    fn defaults_remove_and_pull_when_missing_and_no_network() {
        let config = DockerConfig::from_pairs(&[("image", "busybox")]).unwrap();
        assert!(config.remove);
        assert_eq!(config.pull, PullPolicy::Missing);
        assert_eq!(config.network, None);
        assert!(config.command.is_empty());
    }

    #[test]
    fn command_is_split_into_words() {
        let config = DockerConfig::from_pairs(&[
            ("image", "busybox"),
            ("command", "sh -c 'echo a; echo b'"),
        ])
        .unwrap();
        assert_eq!(config.command, ["sh", "-c", "echo a; echo b"]);
    }

    #[test]
    fn volumes_are_a_comma_list_of_host_container_pairs() {
        let config = DockerConfig::from_pairs(&[
            ("image", "busybox"),
            ("volumes", "/srv/a:/a, /srv/b:/b:ro"),
        ])
        .unwrap();
        assert_eq!(
            config.volumes,
            [
                Volume {
                    host: "/srv/a".into(),
                    container: "/a".into(),
                    read_only: false
                },
                Volume {
                    host: "/srv/b".into(),
                    container: "/b".into(),
                    read_only: true
                },
            ]
        );
        let error = DockerConfig::from_pairs(&[("image", "busybox"), ("volumes", "/only-one")])
            .unwrap_err();
        assert!(message(error).starts_with("volumes: \"/only-one\""));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            ("pull", "sometimes"),
            ("memory", "lots"),
            ("cpus", "many"),
            ("remove", "perhaps"),
            ("timeout", "soon"),
            ("command", "echo 'open"),
        ] {
            let error =
                DockerConfig::from_pairs(&[("image", "busybox"), (key, value)]).unwrap_err();
            let text = message(error);
            assert!(text.starts_with(&format!("{key}: ")), "{text}");
        }
    }

    #[test]
    fn limits_and_options_are_read() {
        let config = DockerConfig::from_pairs(&[
            ("image", "busybox"),
            ("memory", "64M"),
            ("cpus", "0.5"),
            ("network", "host"),
            ("user", "1000:1000"),
            ("workdir", "/tmp"),
            ("remove", "false"),
            ("timeout", "30s"),
            ("env", "A=1,B=2"),
        ])
        .unwrap();
        assert_eq!(config.memory, Some(64 << 20));
        assert_eq!(config.cpus, Some(0.5));
        assert_eq!(config.network.as_deref(), Some("host"));
        assert_eq!(config.user.as_deref(), Some("1000:1000"));
        assert_eq!(config.workdir.as_deref(), Some("/tmp"));
        assert!(!config.remove);
        assert_eq!(config.timeout, Some(Duration::from_secs(30)));
        assert_eq!(config.env.len(), 2);
    }
}
