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
}

/// Each tenant's uploaded executors, version by version.
#[async_trait::async_trait]
pub trait ExecutorStore: Send + Sync + 'static {
    /// Stores a new version of the executor `name` (the first is 1) with its bytes.
    async fn put_executor(
        &self,
        tenant: TenantId,
        name: &str,
        sha256: &str,
        imports: &[String],
        wasm: &[u8],
    ) -> Result<StoredExecutor, StoreError>;

    /// The latest version of every uploaded executor, by name.
    async fn list_executors(&self, tenant: TenantId) -> Result<Vec<StoredExecutor>, StoreError>;

    /// How many executor versions the tenant has uploaded, and their total size in bytes.
    async fn executor_usage(&self, tenant: TenantId) -> Result<(u64, u64), StoreError>;

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
