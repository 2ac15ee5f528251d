//! The executor registry: the executors a job can name, the built-ins and uploaded
//! components (`name` for the latest version, `name@3` for a pinned one), and the
//! executors' half of the store.
//!
//! An upload is checked and compiled before it is stored (off the async threads, by the
//! runtime), so a stored version always loads; the runtime keeps it compiled only once it
//! is stored, so a refused upload leaves nothing behind. Uploads are kept in the store,
//! bytes included, and loaded on first use; the runtime keeps each SHA-256 compiled (in
//! memory and on disk, bounded), so a restart does not compile again. Uploads belong to a
//! tenant (another tenant's are not found) and count against its quotas; the built-ins are
//! shared by all. An upload being compiled is listed as such ([`Registry::compiling`])
//! until it is stored or refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use sandcron_sdk::size::format_size;

use crate::executors::BUILT_INS;
use crate::jobs::{FieldError, check_name};
use crate::runtime::{Executable, LoadError, Runtime};
use crate::store::{
    ExecutorLimit, ExecutorLimits, ExecutorOverLimit, ExecutorStore, ExecutorUsage, NewExecutor,
    StoreError, StoredExecutor, TenantId,
};
use crate::tenants::{QuotaExceeded, TenantPolicy, Tenants};

/// The largest upload a server takes unless `serve --max-upload-size` says otherwise:
/// 64 MiB, room for a Python or JavaScript component (an interpreter with the program:
/// 13 to 20 MB for the templates, docs/benchmarks.md) and its libraries.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 64 << 20;

/// How many uploads of one tenant a node compiles at once unless `serve
/// --max-tenant-compiles` says otherwise.
pub const DEFAULT_MAX_TENANT_COMPILES: usize = 2;

/// How the registry takes uploads.
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// The largest executor component an upload may carry, in bytes; a tenant's
    /// `max_upload_bytes` quota may lower it.
    pub max_upload_bytes: u64,
    /// How many uploads of one tenant are compiled at once; one more is refused.
    pub max_tenant_compiles: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_tenant_compiles: DEFAULT_MAX_TENANT_COMPILES,
        }
    }
}

/// The handle to the executors this node can run. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ExecutorStore>,
    runtime: Runtime,
    /// Whose quotas bound the uploads.
    tenants: Tenants,
    config: RegistryConfig,
    built_ins: HashMap<&'static str, Arc<Executable>>,
    /// Uploads being checked and compiled, oldest first; one entry per upload.
    compiling: Arc<Mutex<Vec<InProgress>>>,
}

/// An upload being checked and compiled, as [`Registry::compiling`] lists it.
#[derive(Clone, Debug)]
pub struct Compiling {
    /// The executor's name.
    pub name: String,
    /// The component's size in bytes.
    pub size: u64,
    /// When the upload arrived.
    pub since: DateTime<Utc>,
}

/// An entry of the compiling list: the upload, whose it is, and the id its guard
/// removes it by.
struct InProgress {
    id: u64,
    tenant: TenantId,
    upload: Compiling,
}

/// Removes its upload from the compiling list when dropped, however the upload ends.
struct CompilingGuard {
    list: Arc<Mutex<Vec<InProgress>>>,
    id: u64,
}

impl Drop for CompilingGuard {
    fn drop(&mut self) {
        lock(&self.list).retain(|upload| upload.id != self.id);
    }
}

/// Locks `mutex`, taking it over from a thread that panicked holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a job's `executor` could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// A malformed `name@version` (HTTP 400, field `executor`).
    #[error("{0}")]
    Invalid(FieldError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Registry {
    /// Compiles (or finds compiled) every built-in executor; uploads are read from
    /// `store` and loaded in `runtime`, within `config`'s limit and the quotas `tenants`
    /// keep.
    pub async fn load(
        store: Arc<dyn ExecutorStore>,
        runtime: Runtime,
        tenants: Tenants,
        config: RegistryConfig,
    ) -> anyhow::Result<Self> {
        let mut built_ins = HashMap::new();
        for built_in in BUILT_INS {
            let executable = runtime
                .load(Arc::from(built_in.wasm))
                .await
                .map_err(|e| anyhow::anyhow!("built-in executor {}: {e}", built_in.name))?;
            built_ins.insert(built_in.name, executable);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                runtime,
                tenants,
                config,
                built_ins,
                compiling: Arc::default(),
            }),
        })
    }

    /// The largest executor upload this server takes, in bytes (before tenant quotas).
    pub fn max_upload_bytes(&self) -> u64 {
        self.inner.config.max_upload_bytes
    }

    /// Whether `name` is a built-in executor.
    pub fn is_built_in(&self, name: &str) -> bool {
        self.inner.built_ins.contains_key(name)
    }

    /// Whether a job's `executor` names a built-in or an uploaded version. A malformed
    /// `name@version` is `Invalid` naming `executor`.
    pub async fn knows(&self, tenant: TenantId, executor: &str) -> Result<bool, LookupError> {
        if self.is_built_in(executor) {
            return Ok(true);
        }
        let (name, version) = parse_reference(executor)
            .map_err(|e| LookupError::Invalid(FieldError::new("executor", e)))?;
        let versions = self.inner.store.executor_versions(tenant, name).await?;
        Ok(match version {
            None => versions.first().is_some_and(|latest| !latest.processor),
            Some(version) => versions
                .iter()
                .any(|v| v.version == version && !v.processor),
        })
    }

    /// The component a job's `executor` names, loaded; `None` when it names nothing.
    pub async fn resolve(
        &self,
        tenant: TenantId,
        executor: &str,
    ) -> Result<Option<Arc<Executable>>, String> {
        if let Some(built_in) = self.inner.built_ins.get(executor) {
            return Ok(Some(built_in.clone()));
        }
        let Ok((name, version)) = parse_reference(executor) else {
            return Ok(None);
        };
        let Some((stored, wasm)) = self
            .inner
            .store
            .executor_wasm(tenant, name, version)
            .await
            .map_err(|e| format!("cannot read executor {executor}: {e}"))?
        else {
            return Ok(None);
        };
        if let Some(loaded) = self.inner.runtime.cached(&stored.sha256) {
            return Ok(Some(loaded));
        }
        let loaded = self
            .inner
            .runtime
            .load(Arc::from(wasm))
            .await
            .map_err(|e| format!("executor {executor} cannot be loaded: {e}"))?;
        Ok(Some(loaded))
    }

    /// The uploaded processor a job's `processors` names, loaded; the error says why
    /// there is none.
    pub async fn resolve_processor(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Arc<Executable>, String> {
        match self.resolve(tenant, name).await? {
            None => Err(format!("there is no uploaded processor {name:?}")),
            Some(executable) if !executable.is_processor() => Err(format!(
                "{name:?} is an executor component, not a processor"
            )),
            Some(executable) => Ok(executable),
        }
    }

    /// Checks, compiles and stores a new version of the tenant's upload `name` (an
    /// executor or, by the world it implements, a processor component), within the
    /// server's upload limit and the tenant's `max_upload_bytes`, `max_executors` and
    /// `max_executor_bytes`. The last two are checked before compiling, so that a tenant
    /// at its quota costs no compile, and again by the store as it writes, so that
    /// uploads racing (on any node) never pass them together.
    pub async fn upload(
        &self,
        tenant: TenantId,
        name: &str,
        wasm: Arc<[u8]>,
    ) -> Result<StoredExecutor, UploadError> {
        let size = wasm.len() as u64;
        let policy = self.inner.tenants.policy(tenant).await?;
        let limits = self.check_upload_quotas(tenant, &policy, size).await?;
        check_name(name).map_err(UploadError::Name)?;
        if self.is_built_in(name) {
            return Err(UploadError::Name(FieldError::new(
                "name",
                format!("{name:?} is a built-in executor; choose another name"),
            )));
        }
        let _compiling = self.start_compiling(tenant, name, size)?;
        let loaded = self
            .inner
            .runtime
            .check(wasm.clone())
            .await
            .map_err(UploadError::NotAnExecutor)?;
        let stored = self
            .inner
            .store
            .put_executor(
                tenant,
                &NewExecutor {
                    name,
                    sha256: &loaded.sha256,
                    imports: &loaded.imports,
                    processor: loaded.is_processor(),
                    wasm: &wasm,
                },
                limits,
            )
            .await?
            .map_err(|over| executors_quota(&policy, limits, over, size))?;
        let runtime = self.inner.runtime.clone();
        // Writing the artifact is file IO: off the async threads.
        let _ = tokio::task::spawn_blocking(move || runtime.keep(loaded)).await;
        Ok(stored)
    }

    /// Refuses an upload of `size` bytes past the server's limit or a quota of the
    /// tenant's, as far as what is stored now tells; the limits the store keeps it
    /// within.
    async fn check_upload_quotas(
        &self,
        tenant: TenantId,
        policy: &TenantPolicy,
        size: u64,
    ) -> Result<ExecutorLimits, UploadError> {
        if size > self.max_upload_bytes() {
            return Err(UploadError::TooLarge {
                size,
                limit: self.max_upload_bytes(),
            });
        }
        let quotas = policy.quotas;
        if let Some(max) = quotas.max_upload_bytes
            && size > max
        {
            return Err(QuotaExceeded::new(
                "max_upload_bytes",
                max,
                format!("this component has {size} bytes"),
            )
            .into());
        }
        let limits = ExecutorLimits {
            versions: quotas.max_executors,
            bytes: quotas.max_executor_bytes,
        };
        if !limits.bound() {
            return Ok(limits);
        }
        let usage = self.inner.store.executor_usage(tenant).await?;
        if let Some(limit) = limits.passed_by(usage, size) {
            let over = ExecutorOverLimit { limit, usage };
            return Err(executors_quota(policy, limits, over, size).into());
        }
        Ok(limits)
    }

    /// The uploads of the tenant being checked and compiled now, oldest first.
    pub fn compiling(&self, tenant: TenantId) -> Vec<Compiling> {
        lock(&self.inner.compiling)
            .iter()
            .filter(|upload| upload.tenant == tenant)
            .map(|upload| upload.upload.clone())
            .collect()
    }

    /// The latest version of every executor the tenant uploaded.
    pub async fn list(&self, tenant: TenantId) -> Result<Vec<StoredExecutor>, StoreError> {
        self.inner.store.list_executors(tenant).await
    }

    /// Every version of the tenant's uploaded executor `name`, newest first.
    pub async fn versions(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Vec<StoredExecutor>, StoreError> {
        self.inner.store.executor_versions(tenant, name).await
    }

    /// Deletes every version of the tenant's uploaded executor `name`: `false` when there
    /// is none, [`StoreError::Conflict`] while a job uses it.
    pub async fn delete(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
        self.inner.store.delete_executor(tenant, name).await
    }

    /// Lists an upload as compiling until the guard is dropped; refuses it when the
    /// tenant has `max_tenant_compiles` compiling already (counted and added under one
    /// lock, so racing uploads cannot pass it together).
    fn start_compiling(
        &self,
        tenant: TenantId,
        name: &str,
        size: u64,
    ) -> Result<CompilingGuard, UploadError> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let mut compiling = lock(&self.inner.compiling);
        let limit = self.inner.config.max_tenant_compiles;
        if compiling
            .iter()
            .filter(|upload| upload.tenant == tenant)
            .count()
            >= limit
        {
            return Err(UploadError::CompilesBusy { limit });
        }
        compiling.push(InProgress {
            id,
            tenant,
            upload: Compiling {
                name: name.to_string(),
                size,
                since: Utc::now(),
            },
        });
        Ok(CompilingGuard {
            list: self.inner.compiling.clone(),
            id,
        })
    }
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// A bad name (HTTP 400, field `name`).
    #[error("{0}")]
    Name(FieldError),
    /// The component is larger than the server takes (HTTP 413, field `body`).
    #[error(
        "the component has {size} bytes, more than this server's limit of {}",
        format_size(*limit)
    )]
    TooLarge {
        /// The component's size in bytes.
        size: u64,
        /// The server's limit (`serve --max-upload-size`).
        limit: u64,
    },
    /// The tenant has as many uploads compiling as a node compiles at once (HTTP 429,
    /// field `max_tenant_compiles`).
    #[error(
        "this tenant has {limit} uploads compiling already, as many as this server compiles \
         at once for one tenant; upload again when one has ended"
    )]
    CompilesBusy {
        /// The server's limit (`serve --max-tenant-compiles`).
        limit: usize,
    },
    /// The bytes are not an executor component (HTTP 400, field `body`).
    #[error("{0}")]
    NotAnExecutor(LoadError),
    /// The upload would take the tenant past a quota (HTTP 429).
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// The store failed or refused (HTTP 409 or 500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The refusal of an upload of `size` bytes that would take the tenant past `over`'s
/// limit, one of `limits`.
fn executors_quota(
    policy: &TenantPolicy,
    limits: ExecutorLimits,
    over: ExecutorOverLimit,
    size: u64,
) -> QuotaExceeded {
    let ExecutorUsage { versions, bytes } = over.usage;
    match over.limit {
        ExecutorLimit::Versions => QuotaExceeded::new(
            "max_executors",
            limits.versions.unwrap_or_default(),
            format!("tenant {} has {versions} executor versions", policy.name),
        ),
        ExecutorLimit::Bytes => QuotaExceeded::new(
            "max_executor_bytes",
            limits.bytes.unwrap_or_default(),
            format!(
                "tenant {} has {bytes} bytes of executors and this one has {size}",
                policy.name
            ),
        ),
    }
}

/// Splits `name` or `name@version`.
pub fn parse_reference(executor: &str) -> Result<(&str, Option<u32>), String> {
    match executor.split_once('@') {
        None => Ok((executor, None)),
        Some((name, version)) => match version.parse::<u32>() {
            Ok(version) if version > 0 => Ok((name, Some(version))),
            _ => Err(format!(
                "{executor:?}: the version after `@` must be a whole number from 1"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::parse_reference;

    #[test]
    fn references_name_a_version_or_the_latest() {
        assert_eq!(parse_reference("backup"), Ok(("backup", None)));
        assert_eq!(parse_reference("backup@3"), Ok(("backup", Some(3))));
        assert!(parse_reference("backup@0").is_err());
        assert!(parse_reference("backup@latest").is_err());
    }
}
