//! The application `serve` runs: the scheduler and the services beside it, started
//! together over one store, and what the HTTP API answers with.
//!
//! Each service owns its half of the store: the [`Scheduler`] jobs, executions and
//! members; the [`Registry`] uploaded executors; [`Tenants`] tenants, tokens, grants and
//! quotas; [`Secrets`] secret values. The scheduler uses the other three through the
//! same handles the API holds, so a change made through one (a tenant's new grants, say)
//! is seen by the other at once.

use std::sync::Arc;

use crate::registry::{Registry, RegistryConfig};
use crate::runtime::Runtime;
use crate::scheduler::{Scheduler, SchedulerConfig, Services};
use crate::secrets::Secrets;
use crate::store::Store;
use crate::tenants::Tenants;

/// The running application. Cheap to clone.
#[derive(Clone)]
pub struct App {
    /// Jobs, their runs, and the cluster's members.
    pub scheduler: Scheduler,
    /// The executors jobs name: built-ins and uploads.
    pub registry: Registry,
    /// Tenants, tokens, grants and quotas.
    pub tenants: Tenants,
    /// The tenants' secrets.
    pub secrets: Secrets,
}

impl App {
    /// Opens the services over `store`, the registry as `registry_config` says, and starts
    /// the scheduler with them (see [`Scheduler::start`]).
    pub async fn start(
        store: Arc<dyn Store>,
        runtime: Runtime,
        config: SchedulerConfig,
        registry_config: RegistryConfig,
    ) -> anyhow::Result<Self> {
        let services = Services::open(&store, &runtime, &config, registry_config).await?;
        let scheduler = Scheduler::start_with(store, runtime, config, services.clone()).await?;
        Ok(Self {
            scheduler,
            registry: services.registry,
            tenants: services.tenants,
            secrets: services.secrets,
        })
    }
}
