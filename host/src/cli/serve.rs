//! `sandcron serve`: opens the store, starts the scheduler and serves the HTTP API until
//! SIGINT or SIGTERM, then stops taking requests, lets running executions end (up to ten
//! seconds) and flushes what they recorded.
//!
//! Once it listens it prints one line to stderr, `sandcron: listening on http://ADDR
//! (database URL)`, with the address actually bound (so `--listen 127.0.0.1:0` can be
//! read back) and the database URL without its password, then the web console's
//! address.
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

use super::serve_config::ServeArgs;
use super::serve_http::HttpServer;
use super::{ADMIN_TOKEN_ENV, ADMIN_TOKEN_FILE, CliError};
use crate::api::AuthConfig;
use crate::app::App;
use crate::capabilities::Grants;
use crate::private_files;
use crate::registry::RegistryConfig;
use crate::runtime::{CompileBudget, DEFAULT_CACHE_BYTES, Runtime, RuntimeConfig};
use crate::scheduler::{SchedulerConfig, default_node_name};
use crate::secrets_at_rest::SecretsKeys;
use crate::telemetry::Tracer;
use crate::tenants::{NodeShare, Tenants};

/// The log filter when `$SANDCRON_LOG` is not set: warnings, Sandcron's own information
/// (requests, executions that failed, reloads), and the `log` processor's output
/// (`processor`, shown as Dkron prints it).
const DEFAULT_LOG_FILTER: &str = "warn,sandcron=info,processor=info";

/// How long running executions get to end once a stop is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long open HTTP connections (followers of live output, say) get to end after the
/// scheduler has stopped.
const CONNECTIONS_GRACE: Duration = Duration::from_secs(5);

/// The node's grants: `--allow-host` and `--allow` entries, with HTTP to any public host
/// unless they name some hosts, and mail to anyone unless they name some recipients
/// (`--allow mail=PATTERN`).
fn grants(args: &ServeArgs) -> Result<Grants, CliError> {
    let mut grants = super::grants_from_flags(&args.allow_host, &args.allow)?;
    super::grant_secret_flags(&mut grants, &args.secret)?;
    let defaults = SchedulerConfig::default().grants;
    if grants.http.is_empty() {
        grants.http = defaults.http;
    }
    if grants.denies_all("mail") {
        grants.mail = defaults.mail;
    }
    Ok(grants)
}

/// Runs `sandcron serve` with its settings.
pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let data_dir = data_dir(args.data_dir.clone())?;
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("sandcron.db").display()));
    restrict_sqlite_files(&database_url)?;
    let runtime_config = RuntimeConfig {
        cache_dir: Some(cache_dir(&data_dir)),
        cache_bytes: args.compiled_cache_size.unwrap_or(DEFAULT_CACHE_BYTES),
        // Instances for every running execution, and never fewer than the default pool.
        max_concurrent_executions: args.max_running.max(1000),
        compile_budget: Some(compile_budget(&args)),
        ..RuntimeConfig::default()
    };
    let key_file = super::secret::KeyFileArgs {
        config_file: None,
        secrets_key_file: args.secrets_key_file.clone(),
        data_dir: None,
    }
    .path(Some(&data_dir))?;
    let secrets_keys =
        SecretsKeys::load(&key_file).map_err(|e| CliError::Error(format!("secrets keys: {e}")))?;
    let mut scheduler_config = SchedulerConfig {
        node: args.node.clone().unwrap_or_else(default_node_name),
        tags: args.tag.iter().cloned().collect(),
        dead_after: args.dead_after,
        keep_last: Some(args.keep_executions).filter(|keep| *keep > 0),
        max_age: args.max_execution_age,
        secrets_keys: Some(std::sync::Arc::new(secrets_keys)),
        process_user: args.process_user.clone().filter(|user| !user.is_empty()),
        max_running: args.max_running as usize,
        node_share: NodeShare {
            per_tenant_percent: args.tenant_share,
            reserved_percent: args.reserved_share,
        },
        max_restore_bytes: args
            .max_restore_size
            .unwrap_or(crate::scheduler::DEFAULT_MAX_RESTORE_BYTES),
        ..SchedulerConfig::default()
    };
    scheduler_config.grants = grants(&args)?;
    scheduler_config.after_run = args.after_run.config()?;
    // Checked before anything starts.
    crate::api::cors::check(&args.cors_origin).map_err(CliError::Usage)?;
    let registry_config = registry_config(&args);
    let tokio = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::Error(format!("cannot start the async runtime: {e}")))?;
    tokio.block_on(async move {
        // The OTLP exporter's channel runs on the async runtime.
        let tracer = args
            .otlp_endpoint
            .as_deref()
            .map(|endpoint| Tracer::otlp(endpoint, &scheduler_config.node))
            .transpose()
            .map_err(CliError::Usage)?;
        crate::telemetry::init(args.log_format, DEFAULT_LOG_FILTER, tracer.as_ref());
        let served = start(
            args,
            data_dir,
            database_url,
            runtime_config,
            scheduler_config,
            registry_config,
        )
        .await;
        if let Some(tracer) = tracer {
            let _ = tokio::task::spawn_blocking(move || tracer.shutdown()).await;
        }
        served
    })
}

/// The budget of an upload's compile: `--max-compile-time` and `--max-compile-memory`.
fn compile_budget(args: &ServeArgs) -> CompileBudget {
    let default = CompileBudget::default();
    CompileBudget {
        cpu: args.max_compile_time.unwrap_or(default.cpu),
        memory_bytes: args.max_compile_memory.unwrap_or(default.memory_bytes),
    }
}

/// Opens the store, starts the [`App`], and serves until a stop signal.
async fn start(
    args: ServeArgs,
    data_dir: PathBuf,
    database_url: String,
    runtime_config: RuntimeConfig,
    mut scheduler_config: SchedulerConfig,
    registry_config: RegistryConfig,
) -> Result<(), CliError> {
    let store = crate::store::open(&database_url).await.map_err(|e| {
        CliError::Error(format!(
            "cannot open the database {}: {e:#}",
            redact_password(&database_url)
        ))
    })?;
    restrict_sqlite_files(&database_url)?;
    let runtime = Runtime::new(runtime_config)
        .map_err(|e| CliError::Error(format!("cannot start the WebAssembly runtime: {e:#}")))?;
    let signals = StopSignals::listen()?;
    // Bound first: the member row tells the other nodes where the API answers.
    let server = HttpServer::bind(&args.listen, args.tls_files()).await?;
    let address = server.local_addr()?;
    let metrics_server = match &args.metrics_listen {
        Some(listen) => Some(HttpServer::bind(listen, None).await?),
        None => None,
    };
    scheduler_config.address = address.to_string();
    let app = App::start(store, runtime.clone(), scheduler_config, registry_config)
        .await
        .map_err(|e| CliError::Error(format!("cannot start the scheduler: {e:#}")))?;
    crate::memory::give_back_periodically();
    crate::telemetry::sqlx_warnings::report_periodically();
    let mut stoppers: Vec<Box<dyn FnOnce(Duration) + Send>> = Vec::new();
    let mut auth = admin_token(&app.tenants, &data_dir).await?;
    auth.rate_limit = args.rate_limit();
    if let Some(metrics_server) = metrics_server {
        eprintln!(
            "sandcron: metrics on http://{}/metrics",
            metrics_server.local_addr()?
        );
        let stop = metrics_server.stopper();
        let router = crate::api::metrics_router(app.scheduler.clone());
        tokio::spawn(async move {
            if let Err(error) = metrics_server.serve(router).await {
                tracing::error!(%error, "the metrics listener failed");
            }
        });
        stoppers.push(Box::new(stop));
    }
    eprintln!(
        "sandcron: listening on {}://{address} (database {})",
        server.scheme(),
        redact_password(&database_url)
    );
    eprintln!(
        "sandcron: web console on {} (sign in with an API token)",
        crate::console::url(server.scheme(), address)
    );
    let router = crate::api::cors::allow(crate::api::router(app.clone(), auth), &args.cors_origin)
        .map_err(CliError::Usage)?;
    serve(server, signals, app, runtime, router, stoppers).await
}

/// Serves until a stop signal, then winds down: no new connections, the scheduler's
/// executions end (which ends the streams that follow them), open connections get a
/// last moment to finish.
async fn serve(
    server: HttpServer,
    mut signals: StopSignals,
    app: App,
    runtime: Runtime,
    router: axum::Router,
    mut stoppers: Vec<Box<dyn FnOnce(Duration) + Send>>,
) -> Result<(), CliError> {
    stoppers.push(Box::new(server.stopper()));
    let mut server = tokio::spawn(server.serve(router));
    tokio::select! {
        () = signals.next() => {}
        () = app.scheduler.leave_requested() => eprintln!("sandcron: asked to leave the cluster"),
        ended = &mut server => {
            return Err(CliError::Error(match ended {
                Ok(Ok(())) => "the HTTP server stopped".to_string(),
                Ok(Err(e)) => format!("the HTTP server failed: {e}"),
                Err(e) => format!("the HTTP server failed: {e}"),
            }));
        }
    }
    eprintln!("sandcron: stopping");
    // Uploads being compiled are refused now rather than waited for.
    runtime.stop_compiles();
    // Open connections (followers of live output) end with the executions they follow.
    for stop in stoppers {
        stop(SHUTDOWN_GRACE + CONNECTIONS_GRACE);
    }
    // A second signal stops at once.
    tokio::spawn(async move {
        signals.next().await;
        eprintln!("sandcron: stopped before running executions ended");
        std::process::exit(130);
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

/// SIGINT and SIGTERM, listened for from the moment they are made: made before the
/// listener is bound, so a signal sent once the API answers is never the default action
/// (an exit by signal, without the wind-down).
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> Result<Self, CliError> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind| {
            signal(kind).map_err(|e| CliError::Error(format!("cannot listen for signals: {e}")))
        };
        Ok(Self {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
        })
    }

    /// Waits for the next SIGINT or SIGTERM.
    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
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
pub(super) fn redact_password(url: &str) -> String {
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
fn registry_config(args: &ServeArgs) -> RegistryConfig {
    let mut config = RegistryConfig::default();
    if let Some(bytes) = args.max_upload_size {
        config.max_upload_bytes = bytes;
    }
    if let Some(compiles) = args.max_tenant_compiles {
        config.max_tenant_compiles = compiles as usize;
    }
    config
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
