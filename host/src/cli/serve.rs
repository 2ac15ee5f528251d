//! `sandcron serve`: opens the store, starts the scheduler and serves the HTTP API until
//! SIGINT or SIGTERM, then stops taking requests, lets running executions end (up to ten
//! seconds) and flushes what they recorded.
//!
//! Once it listens it prints one line to stderr, `sandcron: listening on http://ADDR
//! (database URL)`, with the address actually bound (so `--listen 127.0.0.1:0` can be
//! read back) and the database URL without its password.
//!
//! Every API request needs a token. `SANDCRON_ADMIN_TOKEN`, when set, is accepted as an
//! admin token. Otherwise, on the first start against a database that has no admin token,
//! one is made and printed once to stderr. Either way the admin token is written to
//! `<data-dir>/admin-token` (mode 0600), where the CLI on the same machine finds it.
//!
//! Secret values are sealed in the store with the keys of `<data-dir>/secrets.key`
//! (`--secrets-key-file`, or `SANDCRON_SECRETS_KEY`), made on the first start. The data
//! directory, the SQLite database and its companions, the admin token, the key file and
//! the component cache are the server's user's alone (`0700` directories, `0600` files).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use sandcron_sdk::duration::parse_duration;
use sandcron_sdk::size::parse_size;

use super::{ADMIN_TOKEN_ENV, ADMIN_TOKEN_FILE, CliError};
use crate::api::AuthConfig;
use crate::app::App;
use crate::capabilities::Grants;
use crate::private_files;
use crate::registry::RegistryConfig;
use crate::runtime::{DEFAULT_CACHE_BYTES, Runtime, RuntimeConfig};
use crate::scheduler::{SchedulerConfig, default_node_name};
use crate::secrets_at_rest::SecretsKeys;
use crate::tenants::Tenants;

/// How long running executions get to end once a stop is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long open HTTP connections (followers of live output, say) get to end after the
/// scheduler has stopped.
const CONNECTIONS_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on; port 0 picks a free one.
    #[arg(
        long,
        env = "SANDCRON_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    listen: String,
    /// Where the SQLite database and the component cache live; created if missing
    /// [default: $XDG_DATA_HOME/sandcron, else ~/.local/share/sandcron].
    #[arg(long, env = "SANDCRON_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The store: sqlite://PATH or postgres://USER@HOST/DATABASE
    /// [default: sqlite://<data-dir>/sandcron.db].
    #[arg(long, env = "SANDCRON_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    /// This node's name, written on every execution it runs; each node sharing a
    /// database needs its own (two on one machine: give both `--node`) [default: the host
    /// name].
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// A tag of this node, KEY=VALUE, which jobs' `tags` select nodes by; repeat.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tag: Vec<String>,
    /// A node whose heartbeat (every second) is older than this is dead: the others
    /// take over its executions. A duration such as 10s.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    dead_after: String,
    /// Executions kept per job, the newest; 0 keeps them all.
    #[arg(long, default_value_t = 100, value_name = "N")]
    keep_executions: u32,
    /// Executions older than this are deleted, a duration such as 720h or 30m.
    #[arg(long, value_name = "DURATION")]
    max_execution_age: Option<String>,
    /// Where jobs' executors may send HTTP requests, scheme://host[:port] (`*` and
    /// `*.domain` wildcards, CIDR blocks); repeat. Loopback, private and link-local
    /// addresses must be named explicitly [default: *://*:*, any public host].
    #[arg(long = "allow-host", value_name = "PATTERN")]
    allow_host: Vec<String>,
    /// Grant jobs' executors one more pattern of a capability, CAPABILITY=PATTERN
    /// (`http=https://*.example.com`, `nats=127.0.0.1:4222/jobs.>`, `kafka=127.0.0.1:9092`,
    /// `process=/usr/bin/pg_dump`, which narrows the built-in shell to the programs named);
    /// repeat.
    #[arg(long = "allow", value_name = "CAPABILITY=PATTERN")]
    allow: Vec<String>,
    /// Grant jobs' executors a secret, NAME=VALUE, or NAME=@FILE to read the value from a
    /// file; repeat.
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    secret: Vec<String>,
    /// The unprivileged user granted programs run as, unless a tenant's grant names one
    /// (`process=user:NAME`) [default: the server's own user].
    #[arg(long, env = "SANDCRON_PROCESS_USER", value_name = "USER")]
    process_user: Option<String>,
    /// The keys secret values are sealed with in the database, one `<id> <64 hex digits>`
    /// a line, the current last (`sandcron secret rotate-key` adds one); made on the first
    /// start. `$SANDCRON_SECRETS_KEY` may hold the keys themselves instead
    /// [default: <data-dir>/secrets.key].
    #[arg(long, env = "SANDCRON_SECRETS_KEY_FILE", value_name = "FILE")]
    secrets_key_file: Option<PathBuf>,
    /// The most compiled components kept, in memory and in the cache directory each (the
    /// least recently used go first), a size such as 512M or 2G [default: 1GiB].
    #[arg(long, env = "SANDCRON_COMPILED_CACHE_SIZE", value_name = "SIZE")]
    compiled_cache_size: Option<String>,
    /// The largest executor component an upload may carry, a size such as 64M or 1G; a
    /// tenant's `max_upload_bytes` quota may lower it for that tenant [default: 64M].
    #[arg(long, value_name = "SIZE")]
    max_upload_size: Option<String>,
}

/// The node's grants: `--allow-host` and `--allow` entries, with HTTP to any public host
/// unless they name some hosts.
fn grants(args: &ServeArgs) -> Result<Grants, CliError> {
    let mut grants = super::grants_from_flags(&args.allow_host, &args.allow)?;
    super::grant_secret_flags(&mut grants, &args.secret)?;
    if grants.http.is_empty() {
        grants.http = SchedulerConfig::default().grants.http;
    }
    Ok(grants)
}

/// The `--process-user` flag, checked: an existing user other than root.
fn process_user(flag: Option<&str>) -> Result<Option<String>, CliError> {
    let Some(user) = flag.filter(|user| !user.trim().is_empty()) else {
        return Ok(None);
    };
    crate::capabilities::process::ProcessPolicy::default()
        .run_as(user)
        .map_err(|e| CliError::Usage(format!("--process-user: {e}")))?;
    Ok(Some(user.to_string()))
}

/// The `--tag KEY=VALUE` flags as a map; a repeated key keeps its last value.
fn tags(flags: &[String]) -> Result<std::collections::BTreeMap<String, String>, CliError> {
    flags
        .iter()
        .map(|flag| match flag.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok((key.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(CliError::Usage(format!(
                "--tag {flag:?}: expected KEY=VALUE with a non-empty key"
            ))),
        })
        .collect()
}

pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let max_age = args
        .max_execution_age
        .as_deref()
        .map(|text| {
            parse_duration(text)
                .map_err(|e| CliError::Usage(format!("--max-execution-age {text:?}: {e}")))
        })
        .transpose()?;
    let process_user = process_user(args.process_user.as_deref())?;
    let data_dir = data_dir(args.data_dir.clone())?;
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("sandcron.db").display()));
    restrict_sqlite_files(&database_url)?;
    let cache_bytes = match &args.compiled_cache_size {
        Some(text) => {
            parse_size(text).map_err(|e| CliError::Usage(format!("--compiled-cache-size: {e}")))?
        }
        None => DEFAULT_CACHE_BYTES,
    };
    let runtime_config = RuntimeConfig {
        cache_dir: Some(cache_dir(&data_dir)),
        cache_bytes,
        max_concurrent_executions: 1000,
        ..RuntimeConfig::default()
    };
    let key_file = super::secret::KeyFileArgs {
        secrets_key_file: args.secrets_key_file.clone(),
        data_dir: None,
    }
    .path(Some(&data_dir))?;
    let secrets_keys =
        SecretsKeys::load(&key_file).map_err(|e| CliError::Error(format!("secrets keys: {e}")))?;
    let dead_after = parse_duration(&args.dead_after)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--dead-after {:?}: expected a positive duration such as 10s",
                args.dead_after
            ))
        })?;
    let node = args.node.clone().unwrap_or_else(default_node_name);
    if node.trim().is_empty() {
        return Err(CliError::Usage("--node: the node name is empty".into()));
    }
    let mut scheduler_config = SchedulerConfig {
        node,
        tags: tags(&args.tag)?,
        dead_after,
        keep_last: Some(args.keep_executions).filter(|keep| *keep > 0),
        max_age,
        secrets_keys: Some(std::sync::Arc::new(secrets_keys)),
        process_user,
        ..SchedulerConfig::default()
    };
    scheduler_config.grants = grants(&args)?;
    let registry_config = registry_config(&args)?;
    let tokio = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::Error(format!("cannot start the async runtime: {e}")))?;
    tokio.block_on(async move {
        let store = crate::store::open(&database_url).await.map_err(|e| {
            CliError::Error(format!(
                "cannot open the database {}: {e:#}",
                redact_password(&database_url)
            ))
        })?;
        restrict_sqlite_files(&database_url)?;
        let runtime = Runtime::new(runtime_config)
            .map_err(|e| CliError::Error(format!("cannot start the WebAssembly runtime: {e:#}")))?;
        // Bound first: the member row tells the other nodes where the API answers.
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| CliError::Error(format!("cannot listen on {}: {e}", args.listen)))?;
        let address = listener
            .local_addr()
            .map_err(|e| CliError::Error(format!("cannot listen on {}: {e}", args.listen)))?;
        scheduler_config.address = address.to_string();
        let app = App::start(store, runtime.clone(), scheduler_config, registry_config)
            .await
            .map_err(|e| CliError::Error(format!("cannot start the scheduler: {e:#}")))?;
        let auth = admin_token(&app.tenants, &data_dir).await?;
        eprintln!(
            "sandcron: listening on http://{address} (database {})",
            redact_password(&database_url)
        );
        serve(listener, app, runtime, auth).await
    })
}

/// Serves until a stop signal, then winds down: no new connections, the scheduler's
/// executions end (which ends the streams that follow them), open connections get a
/// last moment to finish.
async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    runtime: Runtime,
    auth: AuthConfig,
) -> Result<(), CliError> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let router = crate::api::router(app.clone(), auth);
    let mut server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    tokio::select! {
        signal = stop_signal() => signal?,
        ended = &mut server => {
            return Err(CliError::Error(match ended {
                Ok(Ok(())) => "the HTTP server stopped".to_string(),
                Ok(Err(e)) => format!("the HTTP server failed: {e}"),
                Err(e) => format!("the HTTP server failed: {e}"),
            }));
        }
    }
    eprintln!("sandcron: stopping");
    let _ = stop_tx.send(());
    // A second signal stops at once.
    tokio::spawn(async {
        if stop_signal().await.is_ok() {
            eprintln!("sandcron: stopped before running executions ended");
            std::process::exit(130);
        }
    });
    app.scheduler.shutdown(SHUTDOWN_GRACE).await;
    // Containers of executions the shutdown ended are being removed.
    runtime.settle(SHUTDOWN_GRACE).await;
    if tokio::time::timeout(CONNECTIONS_GRACE, &mut server)
        .await
        .is_err()
    {
        server.abort();
    }
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
async fn stop_signal() -> Result<(), CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind| {
        signal(kind).map_err(|e| CliError::Error(format!("cannot listen for signals: {e}")))
    };
    let mut interrupt = listen(SignalKind::interrupt())?;
    let mut terminate = listen(SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}

/// For a SQLite database: its file, created `0600` if missing (else made so), and its
/// `-wal` and `-shm` files made `0600` if present (SQLite gives them the database file's
/// mode when it creates them). Safe while SQLite has the database open: nothing is
/// opened but a missing file.
fn restrict_sqlite_files(database_url: &str) -> Result<(), CliError> {
    let Some(path) = database_url.strip_prefix("sqlite://") else {
        return Ok(());
    };
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') {
        return Ok(());
    }
    let restricted = private_files::create_or_restrict(Path::new(path)).and_then(|()| {
        ["-wal", "-shm"].iter().try_for_each(|suffix| {
            private_files::restrict_if_present(Path::new(&format!("{path}{suffix}")))
        })
    });
    restricted.map_err(|e| CliError::Error(format!("cannot make {path} private: {e}")))
}

/// The data directory, created (`0700`) if missing, made absolute.
fn data_dir(given: Option<PathBuf>) -> Result<PathBuf, CliError> {
    let dir = given
        .filter(|dir| !dir.as_os_str().is_empty())
        .or_else(super::default_data_dir)
        .ok_or_else(|| {
            CliError::Usage("no data directory: give --data-dir (HOME is not set)".into())
        })?;
    private_files::create_dir(&dir).map_err(|e| {
        CliError::Error(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })?;
    std::path::absolute(&dir).map_err(|e| {
        CliError::Error(format!(
            "cannot resolve the data directory {}: {e}",
            dir.display()
        ))
    })
}

/// `$SANDCRON_CACHE_DIR` when set, else `<data-dir>/cache`.
fn cache_dir(data_dir: &Path) -> PathBuf {
    std::env::var_os("SANDCRON_CACHE_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir.join("cache"))
}

/// `url` with any password replaced by `***`: in the user info
/// (`postgres://user:secret@host`) and in a `password=` parameter.
fn redact_password(url: &str) -> String {
    let mut redacted = url.to_string();
    if let Some(scheme_end) = redacted.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = redacted[authority_start..]
            .find(['/', '?', '#'])
            .map_or(redacted.len(), |end| authority_start + end);
        if let Some(at) = redacted[authority_start..authority_end].rfind('@')
            && let Some(colon) = redacted[authority_start..authority_start + at].find(':')
        {
            redacted.replace_range(authority_start + colon + 1..authority_start + at, "***");
        }
    }
    if let Some(query_start) = redacted.find('?') {
        let (base, query) = redacted.split_at(query_start + 1);
        let query = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&");
        redacted = format!("{base}{query}");
    }
    redacted
}

/// How the registry takes uploads: `--max-upload-size`, or the default.
fn registry_config(args: &ServeArgs) -> Result<RegistryConfig, CliError> {
    let mut config = RegistryConfig::default();
    if let Some(text) = &args.max_upload_size {
        config.max_upload_bytes =
            parse_size(text)
                .ok()
                .filter(|size| *size > 0)
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "--max-upload-size {text:?}: expected a positive size such as 64M or 1G"
                    ))
                })?;
    }
    Ok(config)
}

/// How the API checks admin tokens: `SANDCRON_ADMIN_TOKEN` when set; otherwise the stored
/// ones, the first of which is made now when there is none (printed once). The admin token
/// in use, from the environment or just made, is written to `<data-dir>/admin-token`
/// for the CLI, which has no other way to learn a token set in the server's environment.
async fn admin_token(tenants: &Tenants, data_dir: &Path) -> Result<AuthConfig, CliError> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let write = |token: &str| {
        private_files::write(&path, format!("{token}\n").as_bytes())
            .map_err(|e| CliError::Error(format!("cannot write {}: {e}", path.display())))
    };
    if let Some(token) = std::env::var(ADMIN_TOKEN_ENV)
        .ok()
        .filter(|token| !token.trim().is_empty())
    {
        let token = token.trim();
        if std::fs::read_to_string(&path)
            .ok()
            .as_deref()
            .map(str::trim)
            != Some(token)
        {
            write(token)?;
        }
        return Ok(AuthConfig::with_admin_token(token));
    }
    let first = tenants
        .first_admin_token()
        .await
        .map_err(|e| CliError::Error(format!("cannot store the admin token: {e}")))?;
    match first {
        Some(token) => {
            write(&token)?;
            eprintln!(
                "sandcron: admin token (shown once; kept in {}): {token}",
                path.display()
            );
        }
        None if path.exists() => {
            eprintln!("sandcron: the admin token is in {}", path.display());
        }
        None => {}
    }
    Ok(AuthConfig::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_printed() {
        assert_eq!(
            redact_password("postgres://app:s3cr%40t@db.local:5432/jobs"),
            "postgres://app:***@db.local:5432/jobs"
        );
        assert_eq!(
            redact_password("postgres://app@127.0.0.1/jobs?sslmode=disable&password=x"),
            "postgres://app@127.0.0.1/jobs?sslmode=disable&password=***"
        );
        assert_eq!(
            redact_password("sqlite:///var/lib/sandcron/sandcron.db"),
            "sqlite:///var/lib/sandcron/sandcron.db"
        );
        assert_eq!(
            redact_password("postgres://a:b:c@h@host/db"),
            "postgres://a:***@host/db"
        );
    }
}
