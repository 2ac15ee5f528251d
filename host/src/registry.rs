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
//! shared by all.

use std::collections::HashMap;
use std::sync::Arc;

use crate::executors::BUILT_INS;
use crate::jobs::{FieldError, check_name};
use crate::runtime::{Executable, LoadError, Runtime};
use crate::store::{ExecutorStore, StoreError, StoredExecutor, TenantId};
use crate::tenants::{QuotaExceeded, Tenants};

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
    built_ins: HashMap<&'static str, Arc<Executable>>,
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
    /// `store` and loaded in `runtime`, within the quotas `tenants` keep.
    pub async fn load(
        store: Arc<dyn ExecutorStore>,
        runtime: Runtime,
        tenants: Tenants,
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
                built_ins,
            }),
        })
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
            None => !versions.is_empty(),
            Some(version) => versions.iter().any(|v| v.version == version),
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

    /// Checks, compiles and stores a new version of the tenant's uploaded executor
    /// `name`, within the tenant's `max_executors` and `max_executor_bytes`.
    pub async fn upload(
        &self,
        tenant: TenantId,
        name: &str,
        wasm: Arc<[u8]>,
    ) -> Result<StoredExecutor, UploadError> {
        self.check_upload_quotas(tenant, wasm.len() as u64).await?;
        check_name(name).map_err(UploadError::Name)?;
        if self.is_built_in(name) {
            return Err(UploadError::Name(FieldError::new(
                "name",
                format!("{name:?} is a built-in executor; choose another name"),
            )));
        }
        let loaded = self
            .inner
            .runtime
            .check(wasm.clone())
            .await
            .map_err(UploadError::NotAnExecutor)?;
        let stored = self
            .inner
            .store
            .put_executor(tenant, name, &loaded.sha256, &loaded.imports, &wasm)
            .await?;
        let runtime = self.inner.runtime.clone();
        // Writing the artifact is file IO: off the async threads.
        let _ = tokio::task::spawn_blocking(move || runtime.keep(loaded)).await;
        Ok(stored)
    }

    async fn check_upload_quotas(&self, tenant: TenantId, size: u64) -> Result<(), UploadError> {
        let policy = self.inner.tenants.policy(tenant).await?;
        let quotas = policy.quotas;
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
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// A bad name (HTTP 400, field `name`).
    #[error("{0}")]
    Name(FieldError),
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
