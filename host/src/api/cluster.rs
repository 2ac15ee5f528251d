//! Dkron's cluster routes in a cluster without a leader, and its pause switch.
//!
//! * `GET /v1/leader`, `GET /v1/isleader`: every Sandcron node schedules (there is no
//!   Raft leader). So that a Dkron script that runs something "on the leader only" still
//!   finds exactly one node, the live member first by name is called the leader: `GET
//!   /v1/leader` shows it (404 when no member is alive), `GET /v1/isleader` answers 200
//!   `"I am a leader"` on it and 404 `"I am a follower"` on the others. Nothing in
//!   Sandcron depends on it.
//! * `POST /v1/pause`, `POST /v1/unpause`, `GET /v1/pause`: while the caller's tenant is
//!   paused, its job writes (create, replace, restore) answer 503 and so nothing new is
//!   scheduled; jobs already there keep running (as in Dkron). The flag is the tenant's
//!   (the admin token's is the default tenant's), stored, so it holds on every node and
//!   across restarts (Dkron: per node, in memory).
//! * `POST /v1/leave` (admin): this node leaves the cluster gracefully: it stops
//!   claiming, hands its unstarted ticks back (the other nodes take its share of the
//!   jobs), lets its running executions end (up to `serve`'s grace period), leaves the
//!   members, and its process exits.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{Admin, Caller};
use super::dto::MemberOut;
use super::error::ApiError;
use super::openapi as doc;
use crate::scheduler::Scheduler;
use crate::tenants::Tenants;

/// The message of a job write refused while paused (Dkron's).
const PAUSED: &str = "New job submissions are currently paused";

/// Whether the caller's tenant is paused.
#[derive(Serialize, ToSchema)]
pub struct PauseState {
    /// While `true`, the tenant's job writes answer 503.
    paused: bool,
}

/// What `POST /v1/leave` answers.
#[derive(Serialize, ToSchema)]
pub struct Leaving {
    /// The node that leaves.
    leaving: String,
}

/// The live member first by name, if any.
async fn leader(scheduler: &Scheduler) -> Result<Option<MemberOut>, ApiError> {
    Ok(scheduler
        .members()
        .await?
        .into_iter()
        .filter(|status| status.alive)
        .min_by(|a, b| a.member.name.cmp(&b.member.name))
        .map(MemberOut::from))
}

/// `GET /v1/leader`.
#[utoipa::path(
    get,
    path = "/v1/leader",
    operation_id = "leader",
    summary = "The node called the leader",
    description = "Sandcron has no leader: every node schedules. So that Dkron scripts find exactly one node, the live member first by name is called the leader. 404 when no member is alive.",
    responses(
        (status = 200, description = "That member.", body = MemberOut),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn get_leader(State(scheduler): State<Scheduler>) -> Result<Json<MemberOut>, ApiError> {
    leader(&scheduler)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no member of the cluster is alive"))
}

/// `GET /v1/isleader`.
#[utoipa::path(
    get,
    path = "/v1/isleader",
    operation_id = "isLeader",
    summary = "Whether this node is the one called the leader",
    description = "200 `\"I am a leader\"` on the live member first by name, 404 `\"I am a follower\"` on the others (Dkron's answers).",
    responses(
        (status = 200, description = "This node is the leader.", body = String, content_type = "application/json"),
        (status = 404, description = "This node is a follower.", body = String, content_type = "application/json"),
    )
)]
pub async fn is_leader(State(scheduler): State<Scheduler>) -> Result<Response, ApiError> {
    let leads = leader(&scheduler)
        .await?
        .is_some_and(|member| member.name == scheduler.node());
    Ok(if leads {
        (StatusCode::OK, Json("I am a leader")).into_response()
    } else {
        (StatusCode::NOT_FOUND, Json("I am a follower")).into_response()
    })
}

/// `GET /v1/pause`: `{"paused": bool}` for the caller's tenant.
#[utoipa::path(
    get,
    path = "/v1/pause",
    operation_id = "getPause",
    summary = "Whether the caller's tenant is paused",
    description = "While paused, the tenant's job writes (create, replace, restore) answer 503; jobs already there keep running. Stored: it holds on every node.",
    responses((status = 200, description = "The flag.", body = PauseState))
)]
pub async fn get_pause(
    State(tenants): State<Tenants>,
    caller: Caller,
) -> Result<Json<PauseState>, ApiError> {
    let paused = tenants.is_paused(caller.tenant).await?;
    Ok(Json(PauseState { paused }))
}

/// `POST /v1/pause`.
#[utoipa::path(
    post,
    path = "/v1/pause",
    operation_id = "pause",
    summary = "Pause the caller's tenant's job writes",
    description = "Job writes answer 503 \"New job submissions are currently paused\" until `POST /v1/unpause`, on every node.",
    responses((status = 200, description = "Paused.", body = PauseState))
)]
pub async fn pause(
    State(tenants): State<Tenants>,
    caller: Caller,
) -> Result<Json<PauseState>, ApiError> {
    set_paused(&tenants, &caller, true).await
}

/// `POST /v1/unpause`.
#[utoipa::path(
    post,
    path = "/v1/unpause",
    operation_id = "unpause",
    summary = "Resume the caller's tenant's job writes",
    description = "Ends `POST /v1/pause`.",
    responses((status = 200, description = "Not paused.", body = PauseState))
)]
pub async fn unpause(
    State(tenants): State<Tenants>,
    caller: Caller,
) -> Result<Json<PauseState>, ApiError> {
    set_paused(&tenants, &caller, false).await
}

async fn set_paused(
    tenants: &Tenants,
    caller: &Caller,
    paused: bool,
) -> Result<Json<PauseState>, ApiError> {
    tenants.set_paused(caller.tenant, paused).await?;
    Ok(Json(PauseState { paused }))
}

/// Refuses a job write (503) while the caller's tenant is paused.
pub async fn refuse_if_paused(tenants: &Tenants, caller: &Caller) -> Result<(), ApiError> {
    if tenants.is_paused(caller.tenant).await? {
        return Err(ApiError::with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            PAUSED.to_string(),
        ));
    }
    Ok(())
}

/// `POST /v1/leave` (admin): 200 `{"leaving": NODE}`, then the node stops.
#[utoipa::path(
    post,
    path = "/v1/leave",
    operation_id = "leave",
    summary = "This node leaves the cluster (admin)",
    description = "The node stops claiming, hands its unstarted ticks back to the others, lets its running executions end (up to the serve grace period), leaves the members, and exits.",
    responses(
        (status = 200, description = "Leaving.", body = Leaving),
        (status = 403, response = doc::Forbidden),
    )
)]
pub async fn leave(State(scheduler): State<Scheduler>, _admin: Admin) -> Json<Leaving> {
    scheduler.request_leave();
    Json(Leaving {
        leaving: scheduler.node().to_string(),
    })
}
