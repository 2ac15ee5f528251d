//! The shell executor's config: Dkron's keys, read and checked before anything runs.

use std::time::Duration;

use base64::Engine as _;
use sandcron_sdk::config::{self, parse_bool};
use sandcron_sdk::{Execution, Failure};
use serde::Deserialize;

/// The keys as Dkron spells them. Empty values mean "not set", as in Dkron.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    command: String,
    #[serde(default)]
    shell: String,
    #[serde(default)]
    env: String,
    #[serde(default)]
    cwd: String,
    #[serde(default, deserialize_with = "config::optional_duration")]
    timeout: Option<Duration>,
    #[serde(default, deserialize_with = "config::optional_size")]
    mem_limit: Option<u64>,
    #[serde(default)]
    payload: String,
    #[serde(default)]
    su: String,
}

/// A checked config, ready to become a process command.
#[derive(Debug, PartialEq, Eq)]
pub struct ShellConfig {
    /// The command as the job wrote it, for messages.
    pub command: String,
    /// The program to run and its arguments.
    pub argv: Vec<String>,
    /// `K=v` pairs from the `env` key, in order.
    pub env: Vec<(String, String)>,
    /// Entries of `env` without a `=`, which Dkron passes through and the host cannot.
    pub ignored_env: Vec<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Kill the process after this long; none when unset or zero.
    pub timeout: Option<Duration>,
    /// Kill the process above this many resident bytes; none when unset or zero.
    pub mem_limit: Option<u64>,
    /// Bytes for the process's stdin, decoded from base64.
    pub stdin: Option<Vec<u8>>,
    /// The `su` key was set; it is not supported.
    pub su_requested: bool,
}

impl ShellConfig {
    /// Reads and checks the execution's config; every error names its key.
    pub fn from_execution(execution: &Execution) -> Result<Self, Failure> {
        let raw: Raw = execution.config()?;
        Self::from_raw(raw)
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
        if raw.command.trim().is_empty() {
            return Err(Failure::invalid_config("command", "is required"));
        }
        // Go's strconv.ParseBool; anything it cannot read counts as false, as in Dkron.
        let use_shell = parse_bool(&raw.shell).unwrap_or(false);
        let argv = if use_shell {
            vec!["/bin/sh".to_owned(), "-c".to_owned(), raw.command.clone()]
        } else {
            let words = shell_words::split(&raw.command).map_err(|e| {
                Failure::invalid_config("command", format_args!("cannot split into words: {e}"))
            })?;
            if words.is_empty() {
                return Err(Failure::invalid_config("command", "is required"));
            }
            words
        };
        let (env, ignored_env) = config::parse_env_list(&raw.env);
        let stdin = if raw.payload.is_empty() {
            None
        } else {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw.payload.trim())
                .map_err(|e| {
                    Failure::invalid_config("payload", format_args!("is not valid base64: {e}"))
                })?;
            Some(bytes)
        };
        Ok(ShellConfig {
            command: raw.command,
            argv,
            env,
            ignored_env,
            cwd: Some(raw.cwd).filter(|cwd| !cwd.is_empty()),
            timeout: raw.timeout.filter(|t| !t.is_zero()),
            mem_limit: raw.mem_limit.filter(|bytes| *bytes > 0),
            stdin,
            su_requested: !raw.su.is_empty(),
        })
    }
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
    fn command_is_required_and_not_blank() {
        let missing = ShellConfig::from_pairs(&[("shell", "true")]).unwrap_err();
        assert_eq!(message(missing), "command: is required");
        let blank = ShellConfig::from_pairs(&[("command", "  ")]).unwrap_err();
        assert_eq!(message(blank), "command: is required");
    }

    #[test]
    fn without_shell_the_command_is_split_into_words() {
        let config = ShellConfig::from_pairs(&[("command", "echo 'hello world' \"a b\"")]).unwrap();
        assert_eq!(config.argv, ["echo", "hello world", "a b"]);
    }

    #[test]
    fn unbalanced_quotes_are_a_config_error() {
        let error = ShellConfig::from_pairs(&[("command", "echo 'oops")]).unwrap_err();
        assert!(message(error).starts_with("command: cannot split into words"));
    }

    #[test]
    fn shell_follows_go_parse_bool_and_defaults_to_false() {
        for (value, shell) in [
            ("true", true),
            ("T", true),
            ("1", true),
            ("yes", false),
            ("", false),
        ] {
            let config =
                ShellConfig::from_pairs(&[("command", "echo $HOME"), ("shell", value)]).unwrap();
            let expected: Vec<String> = if shell {
                vec!["/bin/sh".into(), "-c".into(), "echo $HOME".into()]
            } else {
                vec!["echo".into(), "$HOME".into()]
            };
            assert_eq!(config.argv, expected, "shell={value}");
        }
    }

    #[test]
    fn env_splits_on_commas_then_the_first_equals() {
        let (pairs, ignored) = config::parse_env_list("K1=v1,K2=a=b,, K3 =,NOEQUALS");
        assert_eq!(
            pairs,
            [
                ("K1".to_owned(), "v1".to_owned()),
                ("K2".to_owned(), "a=b".to_owned()),
                ("K3".to_owned(), String::new()),
            ]
        );
        assert_eq!(ignored, ["NOEQUALS"]);
    }

    #[test]
    fn timeout_and_mem_limit_are_checked() {
        let config = ShellConfig::from_pairs(&[
            ("command", "x"),
            ("timeout", "1m30s"),
            ("mem_limit", "64M"),
        ])
        .unwrap();
        assert_eq!(config.timeout, Some(Duration::from_secs(90)));
        assert_eq!(config.mem_limit, Some(64 << 20));

        let bad = ShellConfig::from_pairs(&[("command", "x"), ("timeout", "ten")]).unwrap_err();
        assert!(message(bad).starts_with("timeout: \"ten\" is not a duration"));
        let bad = ShellConfig::from_pairs(&[("command", "x"), ("mem_limit", "lots")]).unwrap_err();
        assert!(message(bad).starts_with("mem_limit: \"lots\" is not a size"));

        let unset =
            ShellConfig::from_pairs(&[("command", "x"), ("timeout", ""), ("mem_limit", "0")])
                .unwrap();
        assert_eq!((unset.timeout, unset.mem_limit), (None, None));
    }

    #[test]
    fn payload_is_base64_for_stdin() {
        let config =
            ShellConfig::from_pairs(&[("command", "cat"), ("payload", "aGVsbG8=")]).unwrap();
        assert_eq!(config.stdin.as_deref(), Some(&b"hello"[..]));
        let bad =
            ShellConfig::from_pairs(&[("command", "cat"), ("payload", "not base64!")]).unwrap_err();
        assert!(message(bad).starts_with("payload: is not valid base64"));
    }

    #[test]
    fn su_is_noted_and_unknown_keys_are_ignored() {
        let config =
            ShellConfig::from_pairs(&[("command", "x"), ("su", "nobody"), ("other", "1")]).unwrap();
        assert!(config.su_requested);
    }
}
