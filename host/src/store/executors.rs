//! Uploaded executor components in the store: every version of each, bytes included.

use chrono::{DateTime, Utc};

use super::{StoreError, TenantId};

/// One version of an uploaded executor component, without its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredExecutor {
    /// The name jobs use in `executor`.
    pub name: String,
    /// 1 for the first upload of the name; each upload adds one.
    pub version: u32,
    /// SHA-256 of the component's bytes, hex.
    pub sha256: String,
    /// Size of the component in bytes.
    pub size: u64,
    /// The interfaces the component imports.
    pub imports: Vec<String>,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
    /// A processor component (the `processor` world) rather than an executor.
    pub processor: bool,
}

/// One version of an upload to store, checked and compiled already.
#[derive(Clone, Copy, Debug)]
pub struct NewExecutor<'a> {
    /// The name jobs use in `executor`.
    pub name: &'a str,
    /// SHA-256 of `wasm`, hex.
    pub sha256: &'a str,
    /// The interfaces the component imports.
    pub imports: &'a [String],
    /// A processor component (the `processor` world) rather than an executor.
    pub processor: bool,
    /// The component's bytes.
    pub wasm: &'a [u8],
}

/// What a tenant's uploads take in the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutorUsage {
    /// How many versions, of every name.
    pub versions: u64,
    /// Their bytes in all.
    pub bytes: u64,
}

/// The bounds a tenant's uploads are stored within (its `max_executors` and
/// `max_executor_bytes` quotas); `None` bounds nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutorLimits {
    /// The most versions.
    pub versions: Option<u64>,
    /// The most bytes.
    pub bytes: Option<u64>,
}

/// Which of [`ExecutorLimits`] an upload would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorLimit {
    /// [`ExecutorLimits::versions`].
    Versions,
    /// [`ExecutorLimits::bytes`].
    Bytes,
}

/// An upload the store did not keep: the limit it would pass, and what the tenant's
/// uploads took then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecutorOverLimit {
    /// The limit.
    pub limit: ExecutorLimit,
    /// What was stored.
    pub usage: ExecutorUsage,
}

impl ExecutorLimits {
    /// Whether these bound anything.
    pub fn bound(self) -> bool {
        self.versions.is_some() || self.bytes.is_some()
    }

    /// The limit one more upload of `size` bytes would pass with `usage` stored.
    pub fn passed_by(self, usage: ExecutorUsage, size: u64) -> Option<ExecutorLimit> {
        if self.versions.is_some_and(|max| usage.versions >= max) {
            Some(ExecutorLimit::Versions)
        } else if self
            .bytes
            .is_some_and(|max| usage.bytes.saturating_add(size) > max)
        {
            Some(ExecutorLimit::Bytes)
        } else {
            None
        }
    }
}

/// Each tenant's uploaded executors, version by version.
#[async_trait::async_trait]
pub trait ExecutorStore: Send + Sync + 'static {
    /// Stores a new version of the upload (the first of its name is 1) with its bytes,
    /// unless it would
    /// take the tenant past `limits`. The tenant's uploads are measured in the writing
    /// transaction, under a lock on the tenant that every bounded upload takes, so uploads
    /// racing on any node never pass a limit together.
    async fn put_executor(
        &self,
        tenant: TenantId,
        upload: &NewExecutor<'_>,
        limits: ExecutorLimits,
    ) -> Result<Result<StoredExecutor, ExecutorOverLimit>, StoreError>;

    /// The latest version of every uploaded executor, by name.
    async fn list_executors(&self, tenant: TenantId) -> Result<Vec<StoredExecutor>, StoreError>;

    /// How many executor versions the tenant has uploaded, and their total size in bytes.
    async fn executor_usage(&self, tenant: TenantId) -> Result<ExecutorUsage, StoreError>;

    /// Every version of the executor `name`, newest first; empty when there is none.
    async fn executor_versions(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Vec<StoredExecutor>, StoreError>;

    /// One version of `name` (the latest when `version` is `None`) with its bytes.
    async fn executor_wasm(
        &self,
        tenant: TenantId,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<(StoredExecutor, Vec<u8>)>, StoreError>;

    /// Deletes every version of `name`; [`StoreError::Conflict`] naming the jobs when some
    /// use it. `false` when there was none.
    async fn delete_executor(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_passes_the_version_limit_at_it_and_the_byte_limit_beyond_it() {
        let limits = ExecutorLimits {
            versions: Some(3),
            bytes: Some(100),
        };
        let usage = |versions, bytes| ExecutorUsage { versions, bytes };
        assert_eq!(limits.passed_by(usage(2, 60), 40), None);
        assert_eq!(
            limits.passed_by(usage(3, 0), 1),
            Some(ExecutorLimit::Versions)
        );
        assert_eq!(
            limits.passed_by(usage(2, 60), 41),
            Some(ExecutorLimit::Bytes)
        );
        assert!(!ExecutorLimits::default().bound());
        assert_eq!(ExecutorLimits::default().passed_by(usage(9, 9), 9), None);
    }
}
