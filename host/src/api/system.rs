//! The routes about the server rather than one job: health, Prometheus metrics, the
//! agent's name and version, the executions running now, the members of the cluster,
//! and the OpenAPI document (generated: `api::openapi`). Restoring an export of jobs is
//! `api::restore`.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Json, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{Admin, Caller};
use super::dto::{ExecutionOut, MemberOut};
use super::error::ApiError;
use super::openapi as doc;
use super::page;
use crate::scheduler::Scheduler;

/// The OpenAPI document, as JSON, made once.
static OPENAPI: LazyLock<String> = LazyLock::new(|| {
    super::openapi()
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"the OpenAPI document: {error}\"}}"))
});

/// What `GET /health` answers.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `healthy`: the server answers.
    #[schema(example = "healthy")]
    status: &'static str,
}

/// `GET /health`.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    summary = "Liveness",
    security(()),
    responses((status = 200, description = "The server answers.", body = Health))
)]
pub async fn health() -> Json<Health> {
    Json(Health { status: "healthy" })
}

/// `GET /metrics` on the API: the Prometheus exposition of the whole node (admin only;
/// `--metrics-listen` serves it without a token on a port of its own).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    summary = "Prometheus metrics (admin)",
    description = "`serve --metrics-listen` serves the same without a token on a port of its own.",
    responses(
        (status = 200, description = "The node's series in the OpenMetrics text format (version 1.0.0), which Prometheus reads.",
            body = String, content_type = "application/openmetrics-text"),
        (status = 403, response = doc::Forbidden),
    )
)]
pub async fn metrics(scheduler: State<Scheduler>, _admin: Admin) -> Response {
    exposition(scheduler).await
}

/// The Prometheus exposition of the node: the scheduler's, the API's and the process's
/// series, labelled with the node's name.
pub async fn exposition(State(scheduler): State<Scheduler>) -> Response {
    let text = crate::telemetry::metrics::exposition(scheduler.node(), |registry| {
        scheduler.register_metrics(registry);
        super::observe::register_metrics(registry);
    });
    (
        [(
            header::CONTENT_TYPE,
            crate::telemetry::metrics::CONTENT_TYPE,
        )],
        text,
    )
        .into_response()
}

/// `GET /v1` and `GET /v1/`: which node this is, which version it runs, and whom the
/// caller's token stands for.
#[utoipa::path(
    get,
    path = "/v1",
    operation_id = "agent",
    summary = "This node",
    responses((status = 200, description = "Its name and version, and whom the token stands for.", body = Agent))
)]
pub async fn agent(State(scheduler): State<Scheduler>, caller: Caller) -> Json<Agent> {
    Json(Agent {
        agent: AgentInfo {
            name: scheduler.node().to_string(),
            version: env!("CARGO_PKG_VERSION"),
        },
        caller: CallerInfo {
            tenant: caller.tenant_name,
            admin: caller.admin,
        },
    })
}

/// `GET /v1/`: as `GET /v1`.
#[utoipa::path(
    get,
    path = "/v1/",
    operation_id = "agentSlash",
    summary = "This node (with a trailing slash)",
    responses((status = 200, description = "Its name and version, and whom the token stands for.", body = Agent))
)]
pub async fn agent_slash(scheduler: State<Scheduler>, caller: Caller) -> Json<Agent> {
    agent(scheduler, caller).await
}

/// What `GET /v1` answers.
#[derive(Serialize, ToSchema)]
pub struct Agent {
    /// The node that answered.
    agent: AgentInfo,
    /// Whom the caller's token stands for.
    caller: CallerInfo,
}

/// A node's name and version.
#[derive(Serialize, ToSchema)]
pub struct AgentInfo {
    /// The node's name.
    name: String,
    /// The version of Sandcron it runs.
    version: &'static str,
}

/// Whom a token stands for.
#[derive(Serialize, ToSchema)]
pub struct CallerInfo {
    /// The tenant it acts as.
    tenant: String,
    /// Whether it is an admin token.
    admin: bool,
}

/// `GET /v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi",
    summary = "This document",
    security(()),
    responses((status = 200, description = "The OpenAPI document, generated from the server's types and routes.", body = Object))
)]
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI.as_str(),
    )
        .into_response()
}

/// `GET /v1/busy`: the caller's executions running on this node, oldest first.
#[utoipa::path(
    get,
    path = "/v1/busy",
    operation_id = "busy",
    summary = "Executions running on this node",
    responses((status = 200, description = "The caller's running executions, oldest first.", body = [ExecutionOut],
        headers(("X-Total-Count" = u64, description = "How many items match, before paging."))))
)]
pub async fn busy(State(scheduler): State<Scheduler>, caller: Caller) -> Response {
    let running: Vec<ExecutionOut> = scheduler
        .busy(caller.tenant)
        .into_iter()
        .map(Into::into)
        .collect();
    page(running.len() as u64, running)
}

/// `GET /v1/members`: every node that joined the cluster, by name, alive or dead.
#[utoipa::path(
    get,
    path = "/v1/members",
    operation_id = "members",
    summary = "The nodes of the cluster",
    description = "Every node that joined (a `members` row in the shared database), by name. A node whose last heartbeat is older than its `--dead-after` is `dead`; its executions are taken over by a survivor.",
    responses((status = 200, description = "Members, by name.", body = [MemberOut],
        headers(("X-Total-Count" = u64, description = "How many items match, before paging."))))
)]
pub async fn members(State(scheduler): State<Scheduler>) -> Result<Response, ApiError> {
    let members: Vec<MemberOut> = scheduler
        .members()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(page(members.len() as u64, members))
}
