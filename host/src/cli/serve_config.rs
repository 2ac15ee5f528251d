//! The settings of `sandcron serve`: one clap definition per setting, which is at once a
//! flag (`--keep-executions 50`), an environment variable (`SANDCRON_KEEP_EXECUTIONS`, the
//! flag's name upper-cased behind `SANDCRON_`, added by [`with_env`]) and a key of the
//! configuration file (`keep-executions = 50`, read by `config.rs`). Each value is checked
//! by its parser here, so a bad value is refused the same way from any of the three.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use sandcron_sdk::duration::parse_duration;
use sandcron_sdk::size::parse_size;

use super::serve_http::TlsFiles;
use crate::api::RateLimit;
use crate::capabilities::Grants;
use crate::telemetry::LogFormat;

/// The settings whose values are secret (a secret's value, a password in the database
/// URL): never shown in the help, and redacted by [`redacted`].
const SECRET_SETTINGS: [&str; 3] = ["secret", "database_url", "mail_password"];

/// The prefix of the environment variable of each setting.
pub const ENV_PREFIX: &str = "SANDCRON_";

/// The flags of `sandcron serve` (and of `sandcron config show`, which prints what they
/// add up to).
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// A TOML file of settings, one key per flag of `serve` without its dashes
    /// (`listen = "0.0.0.0:8080"`); a flag or an environment variable wins over the file
    /// [default: <data-dir>/sandcron.toml, when it exists].
    #[arg(long = "config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// The address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// Where the SQLite database and the component cache live; created if missing
    /// [default: $XDG_DATA_HOME/sandcron, else ~/.local/share/sandcron].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The store: sqlite://PATH or postgres://USER@HOST/DATABASE
    /// [default: sqlite://<data-dir>/sandcron.db].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// This node's name, written on every execution it runs; each node sharing a
    /// database needs its own (two on one machine: give both `--node`) [default: the host
    /// name].
    #[arg(long, value_name = "NAME", value_parser = non_empty)]
    pub node: Option<String>,
    /// A tag of this node, KEY=VALUE, which jobs' `tags` select nodes by; repeat (or
    /// separate with commas).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = tag, value_delimiter = ',')]
    pub tag: Vec<(String, String)>,
    /// A node whose heartbeat (every second) is older than this is dead: the others
    /// take over its executions. A duration such as 10s.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = positive_duration)]
    pub dead_after: Duration,
    /// The largest export `POST /v1/restore` takes (the JSON array of jobs, streamed to
    /// a temporary file), a size such as 256M or 2G [default: 1GiB].
    #[arg(long, value_name = "SIZE", value_parser = positive_size)]
    pub max_restore_size: Option<u64>,
    /// Executions kept per job, the newest; 0 keeps them all.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub keep_executions: u32,
    /// Executions older than this are deleted, a duration such as 720h or 30m.
    #[arg(long, value_name = "DURATION", value_parser = positive_duration)]
    pub max_execution_age: Option<Duration>,
    /// Where jobs' executors may send HTTP requests, scheme://host[:port] (`*` and
    /// `*.domain` wildcards, CIDR blocks); repeat (or separate with commas). Loopback,
    /// private and link-local addresses must be named explicitly [default: *://*:*, any
    /// public host].
    #[arg(long = "allow-host", value_name = "PATTERN", value_parser = http_pattern, value_delimiter = ',')]
    pub allow_host: Vec<String>,
    /// Grant jobs' executors one more pattern of a capability, CAPABILITY=PATTERN
    /// (`http=https://*.example.com`, `nats=127.0.0.1:4222/jobs.>`, `kafka=127.0.0.1:9092`,
    /// `process=/usr/bin/pg_dump`, which narrows the built-in shell to the programs named);
    /// repeat (or separate with commas).
    #[arg(long = "allow", value_name = "CAPABILITY=PATTERN", value_parser = capability_pattern, value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Grant jobs' executors a secret, NAME=VALUE, or NAME=@FILE to read the value from a
    /// file; repeat (the environment variable gives one).
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    pub secret: Vec<String>,
    /// A browser origin allowed to call the API (CORS, preflight included):
    /// https://app.example.com, https://*.example.com, or * for any; repeat [default:
    /// none].
    #[arg(long = "cors-origin", value_name = "PATTERN")]
    pub cors_origin: Vec<String>,
    /// Processors' targets and the default notifications.
    #[command(flatten)]
    pub after_run: super::after_run_flags::AfterRunFlags,
    /// The unprivileged user granted programs run as, unless a tenant's grant names one
    /// (`process=user:NAME`) [default: the server's own user].
    #[arg(long, value_name = "USER", value_parser = process_user)]
    pub process_user: Option<String>,
    /// The keys secret values are sealed with in the database, one `<id> <64 hex digits>`
    /// a line, the current last (`sandcron secret rotate-key` adds one); made on the first
    /// start. `$SANDCRON_SECRETS_KEY` may hold the keys themselves instead
    /// [default: <data-dir>/secrets.key].
    #[arg(long, value_name = "FILE")]
    pub secrets_key_file: Option<PathBuf>,
    /// The most compiled components kept, in memory and in the cache directory each (the
    /// least recently used go first), a size such as 512M or 2G [default: 1GiB].
    #[arg(long, value_name = "SIZE", value_parser = size)]
    pub compiled_cache_size: Option<u64>,
    /// The largest executor component an upload may carry, a size such as 64M or 1G; a
    /// tenant's `max_upload_bytes` quota may lower it for that tenant [default: 64M].
    #[arg(long, value_name = "SIZE", value_parser = positive_size)]
    pub max_upload_size: Option<u64>,
    /// The CPU time an upload's compile may take, all its threads together, a duration
    /// such as 30s; past it the upload is refused [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = positive_duration)]
    pub max_compile_time: Option<Duration>,
    /// The memory an upload's compile may take, a size such as 2G; past it the upload is
    /// refused [default: 2GiB].
    #[arg(long, value_name = "SIZE", value_parser = positive_size)]
    pub max_compile_memory: Option<u64>,
    /// Uploads of one tenant compiled at once on this node; one more is refused (429)
    /// until one ends [default: 2].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tenant_compiles: Option<u32>,
    /// Executions running at once on this node; more wait, still `scheduled`, for one
    /// to end.
    #[arg(long, default_value_t = 1000, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_running: u32,
    /// The percent of `--max-running` one tenant other than the default one may hold
    /// when its quotas name no `max_concurrent_executions`: one tenant's backlog leaves
    /// the rest to the others.
    #[arg(long, default_value_t = 25, value_name = "PERCENT",
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub tenant_share: u8,
    /// The percent of `--max-running` only the default tenant's executions may use, so
    /// that the operator's own jobs run however busy the other tenants are.
    #[arg(long, default_value_t = 10, value_name = "PERCENT",
          value_parser = clap::value_parser!(u8).range(0..=90))]
    pub reserved_share: u8,
    /// How log lines are written to stderr: `text` for people, `json` (one object per
    /// line) for a log collector. `$SANDCRON_LOG` filters them (default
    /// `warn,sandcron=info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); read again on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM); read again on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve `/metrics` (and `/health`) without a token on this address too, for a
    /// Prometheus on the operator's network (`127.0.0.1:9464`).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Export traces over OTLP/gRPC to this collector (`http://127.0.0.1:4317`): a span
    /// per API request, claim batch and execution, with `traceparent` sent on HTTP
    /// jobs' requests [default: no traces].
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Requests a second each API token may send; 0 for no limit. Over it the API
    /// answers 429 with Retry-After.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub rate_limit: u32,
    /// Requests each token may send at once (after a pause) under `--rate-limit`
    /// [default: twice the rate].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: Option<u32>,
}

impl ServeArgs {
    /// The rate limit of each token, if any.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        let per_second = NonZeroU32::new(self.rate_limit)?;
        let burst = self
            .rate_limit_burst
            .and_then(NonZeroU32::new)
            .unwrap_or(per_second.saturating_mul(NonZeroU32::MIN.saturating_add(1)));
        Some(RateLimit { per_second, burst })
    }

    /// The certificate and key to serve HTTPS with, if both are given.
    pub fn tls_files(&self) -> Option<TlsFiles> {
        Some(TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }
}

/// `command` (the `serve` command, or `config show`) with an environment variable for each
/// of its flags that has none: `SANDCRON_` and the flag's name, upper-cased, dashes as
/// underscores (`--dead-after`: `SANDCRON_DEAD_AFTER`). Secret values are not shown in the
/// help.
pub fn with_env(command: clap::Command) -> clap::Command {
    command.mut_args(|arg| {
        if arg.get_env().is_some() || arg.is_global_set() {
            return arg;
        }
        let Some(long) = arg.get_long().map(env_name) else {
            return arg;
        };
        let secret = SECRET_SETTINGS.contains(&arg.get_id().as_str());
        arg.env(long).hide_env_values(secret)
    })
}

/// The environment variable of the flag `--long`.
pub fn env_name(long: &str) -> String {
    format!("{ENV_PREFIX}{}", long.to_uppercase().replace('-', "_"))
}

/// The `serve` command alone, as `config.rs` checks a file's settings against it.
pub fn serve_command() -> clap::Command {
    use clap::Args as _;
    with_env(ServeArgs::augment_args(clap::Command::new("serve")))
}

/// `value` as it may be shown (by `config show`): a secret's value or a database
/// password becomes `***`.
pub fn redacted(id: &str, value: &str) -> String {
    match id {
        "secret" => match value.split_once('=') {
            Some((name, file)) if file.starts_with('@') => format!("{name}={file}"),
            Some((name, _)) => format!("{name}=***"),
            None => "***".into(),
        },
        "database_url" => super::serve::redact_password(value),
        "mail_password" => "***".into(),
        _ => value.to_string(),
    }
}

fn non_empty(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty".into());
    }
    Ok(trimmed.to_string())
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| "expected a positive duration such as 10s, 30m or 720h".into())
}

fn tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.trim().to_string()))
        }
        _ => Err("expected KEY=VALUE with a non-empty key".into()),
    }
}

/// An existing user other than root (`--process-user`); empty stands for none given.
fn process_user(text: &str) -> Result<String, String> {
    let user = text.trim();
    if !user.is_empty() {
        crate::capabilities::process::ProcessPolicy::default().run_as(user)?;
    }
    Ok(user.to_string())
}

fn size(text: &str) -> Result<u64, String> {
    parse_size(text).map_err(|e| e.to_string())
}

fn positive_size(text: &str) -> Result<u64, String> {
    match size(text)? {
        0 => Err("expected a positive size such as 64M or 1G".to_string()),
        size => Ok(size),
    }
}

fn http_pattern(text: &str) -> Result<String, String> {
    Grants::default().allow("http", text)?;
    Ok(text.to_string())
}

fn capability_pattern(text: &str) -> Result<String, String> {
    Grants::default().allow_all(&[text])?;
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_an_environment_variable_named_after_it() {
        let command = serve_command();
        for arg in command.get_arguments().filter(|a| a.get_long().is_some()) {
            let long = arg.get_long().unwrap();
            if long == "help" {
                continue;
            }
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(env_name(long).as_str()),
                "--{long}"
            );
        }
        assert_eq!(env_name("dead-after"), "SANDCRON_DEAD_AFTER");
    }

    #[test]
    fn secrets_and_passwords_are_redacted() {
        assert_eq!(redacted("secret", "TOKEN=abc"), "TOKEN=***");
        assert_eq!(redacted("secret", "TOKEN=@/run/token"), "TOKEN=@/run/token");
        assert_eq!(
            redacted("database_url", "postgres://a:pw@db/x"),
            "postgres://a:***@db/x"
        );
        assert_eq!(redacted("listen", "0.0.0.0:80"), "0.0.0.0:80");
    }
}
