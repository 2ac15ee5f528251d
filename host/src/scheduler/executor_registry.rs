//! The executors a job can name: the built-ins, and uploaded components (`name` for the
//! latest version, `name@3` for a pinned one).
//!
//! An upload is checked and compiled before it is stored (off the async threads, by the
//! runtime), so a stored version always loads. Uploads are kept in the store, bytes
//! included, and loaded on first use; the runtime compiles each SHA-256 once and keeps
//! the artifact on disk, so a restart does not compile again. Uploads belong to a tenant
//! (another tenant's are not found); the built-ins are shared by all. An upload being
//! compiled is listed as such (`compiling_executors`) until it is stored or refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{JobError, Scheduler};
use crate::executors::BUILT_INS;
use crate::jobs::{FieldError, check_name};
use crate::runtime::{Executable, LoadError, Runtime};
use crate::store::TenantId;
use crate::store::{Store, StoreError, StoredExecutor};
use crate::tenants::QuotaExceeded;

impl Scheduler {
    /// Whether a job's `executor` names a built-in or an uploaded version. A malformed
    /// `name@version` is `Invalid` naming `executor`.
    pub async fn executor_known(&self, tenant: TenantId, executor: &str) -> Result<bool, JobError> {
        if self.inner.executors.is_built_in(executor) {
            return Ok(true);
        }
        let (name, version) =
            parse_reference(executor).map_err(|e| FieldError::new("executor", e))?;
        let versions = self.inner.store.executor_versions(tenant, name).await?;
        Ok(match version {
            None => !versions.is_empty(),
            Some(version) => versions.iter().any(|v| v.version == version),
        })
    }

    /// Checks, compiles and stores a new version of the tenant's uploaded executor
    /// `name`, within the server's upload limit and the tenant's `max_upload_bytes`,
    /// `max_executors` and `max_executor_bytes`.
    pub async fn upload_executor(
        &self,
        tenant: TenantId,
        name: &str,
        wasm: Arc<[u8]>,
    ) -> Result<StoredExecutor, UploadError> {
        self.check_upload_quotas(tenant, wasm.len() as u64).await?;
        self.inner
            .executors
            .upload(&*self.inner.store, &self.inner.runtime, tenant, name, wasm)
            .await
    }

    async fn check_upload_quotas(&self, tenant: TenantId, size: u64) -> Result<(), UploadError> {
        let policy = self.tenant_policy(tenant).await?;
        let quotas = policy.quotas;
        if size > self.max_upload_bytes() {
            return Err(UploadError::TooLarge {
                size,
                limit: self.max_upload_bytes(),
            });
        }
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
        if quotas.max_executors.is_none() && quotas.max_executor_bytes.is_none() {
            return Ok(());
        }
        let (count, bytes) = self.inner.store.executor_usage(tenant).await?;
        if let Some(max) = quotas.max_executors
            && count >= max
        {
            return Err(QuotaExceeded::new(
                "max_executors",
                max,
                format!("tenant {} has {count} executor versions", policy.name),
            )
            .into());
        }
        if let Some(max) = quotas.max_executor_bytes
            && bytes.saturating_add(size) > max
        {
            return Err(QuotaExceeded::new(
                "max_executor_bytes",
                max,
                format!(
                    "tenant {} has {bytes} bytes of executors and this one has {size}",
                    policy.name
                ),
            )
            .into());
        }
        Ok(())
    }

    /// The capabilities in `requested` that the tenant's grants deny entirely, each with
    /// a line saying so: an upload asking for them is accepted, and its calls will fail.
    pub async fn denied_capabilities(
        &self,
        tenant: TenantId,
        requested: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        let policy = self.tenant_policy(tenant).await?;
        let how = if tenant == crate::store::DEFAULT_TENANT {
            "this server grants none (serve --allow CAPABILITY=…)".to_string()
        } else {
            format!("tenant {} is granted none", policy.name)
        };
        Ok(requested
            .iter()
            .filter(|capability| policy.grants.denies_all(capability))
            .map(|capability| format!("{capability}: {how}; every call will be denied"))
            .collect())
    }

    /// The uploads of the tenant being checked and compiled now: name, size in bytes and
    /// when the upload arrived.
    pub fn compiling_executors(&self, tenant: TenantId) -> Vec<(String, u64, DateTime<Utc>)> {
        self.inner.executors.compiling(tenant)
    }

    /// The latest version of every executor the tenant uploaded.
    pub async fn list_executors(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<StoredExecutor>, StoreError> {
        self.inner.store.list_executors(tenant).await
    }

    /// Every version of the tenant's uploaded executor `name`, newest first.
    pub async fn executor_versions(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Vec<StoredExecutor>, StoreError> {
        self.inner.store.executor_versions(tenant, name).await
    }

    /// Deletes every version of the tenant's uploaded executor `name`: `false` when there
    /// is none, [`StoreError::Conflict`] while a job uses it.
    pub async fn delete_executor(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
        self.inner.store.delete_executor(tenant, name).await
    }
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// A bad name (HTTP 400, field `name`).
    #[error("{0}")]
    Name(FieldError),
    /// The component is larger than the server takes (HTTP 413, field `body`).
    #[error("the component has {size} bytes, more than this server's limit of {limit}")]
    TooLarge {
        /// The component's size in bytes.
        size: u64,
        /// The server's limit (`serve --max-upload-size`).
        limit: u64,
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

/// The executors this node can run.
pub(super) struct Executors {
    built_ins: HashMap<&'static str, Arc<Executable>>,
    /// Uploads loaded so far, by SHA-256.
    uploads: Mutex<HashMap<String, Arc<Executable>>>,
    /// Uploads being compiled, with their size and arrival; one entry per upload.
    compiling: Arc<Mutex<Vec<InProgress>>>,
}

/// An upload being checked and compiled.
struct InProgress {
    id: u64,
    tenant: TenantId,
    name: String,
    size: u64,
    since: DateTime<Utc>,
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Executors {
    /// Compiles (or finds compiled) every built-in executor.
    pub(super) async fn load(runtime: &Runtime) -> anyhow::Result<Self> {
        let mut built_ins = HashMap::new();
        for built_in in BUILT_INS {
            let executable = runtime
                .load(Arc::from(built_in.wasm))
                .await
                .map_err(|e| anyhow::anyhow!("built-in executor {}: {e}", built_in.name))?;
            built_ins.insert(built_in.name, executable);
        }
        Ok(Self {
            built_ins,
            uploads: Mutex::default(),
            compiling: Arc::default(),
        })
    }

    /// Whether `name` is a built-in executor.
    pub(super) fn is_built_in(&self, name: &str) -> bool {
        self.built_ins.contains_key(name)
    }

    /// The component a job's `executor` names, loaded; `None` when it names nothing.
    pub(super) async fn resolve(
        &self,
        store: &dyn Store,
        runtime: &Runtime,
        tenant: TenantId,
        executor: &str,
    ) -> Result<Option<Arc<Executable>>, String> {
        if let Some(built_in) = self.built_ins.get(executor) {
            return Ok(Some(built_in.clone()));
        }
        let Ok((name, version)) = parse_reference(executor) else {
            return Ok(None);
        };
        let Some((stored, wasm)) = store
            .executor_wasm(tenant, name, version)
            .await
            .map_err(|e| format!("cannot read executor {executor}: {e}"))?
        else {
            return Ok(None);
        };
        if let Some(loaded) = self.cached(&stored.sha256) {
            return Ok(Some(loaded));
        }
        let loaded = runtime
            .load(Arc::from(wasm))
            .await
            .map_err(|e| format!("executor {executor} cannot be loaded: {e}"))?;
        self.remember(loaded.clone());
        Ok(Some(loaded))
    }

    /// Checks, compiles and stores a new version of the upload `name`.
    pub(super) async fn upload(
        &self,
        store: &dyn Store,
        runtime: &Runtime,
        tenant: TenantId,
        name: &str,
        wasm: Arc<[u8]>,
    ) -> Result<StoredExecutor, UploadError> {
        check_name(name).map_err(UploadError::Name)?;
        if self.is_built_in(name) {
            return Err(UploadError::Name(FieldError::new(
                "name",
                format!("{name:?} is a built-in executor; choose another name"),
            )));
        }
        let _compiling = self.start_compiling(tenant, name, wasm.len() as u64);
        let loaded = runtime
            .load(wasm.clone())
            .await
            .map_err(UploadError::NotAnExecutor)?;
        let stored = store
            .put_executor(tenant, name, &loaded.sha256, &loaded.imports, &wasm)
            .await?;
        self.remember(loaded);
        Ok(stored)
    }

    /// Lists an upload as compiling until the guard is dropped.
    fn start_compiling(&self, tenant: TenantId, name: &str, size: u64) -> CompilingGuard {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.compiling).push(InProgress {
            id,
            tenant,
            name: name.to_string(),
            size,
            since: Utc::now(),
        });
        CompilingGuard {
            list: self.compiling.clone(),
            id,
        }
    }

    /// The tenant's uploads being compiled: name, size and arrival.
    fn compiling(&self, tenant: TenantId) -> Vec<(String, u64, DateTime<Utc>)> {
        lock(&self.compiling)
            .iter()
            .filter(|upload| upload.tenant == tenant)
            .map(|upload| (upload.name.clone(), upload.size, upload.since))
            .collect()
    }

    fn cached(&self, sha256: &str) -> Option<Arc<Executable>> {
        self.uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sha256)
            .cloned()
    }

    fn remember(&self, executable: Arc<Executable>) {
        self.uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(executable.sha256.clone(), executable);
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
