//! The routes about the server rather than one job: health, Prometheus metrics, the
//! agent's name and version, the executions running now, the members of the cluster,
//! restoring an export of jobs, and the OpenAPI document.

use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::auth::{Admin, Caller};
use super::dto::{ExecutionOut, MemberOut};
use super::error::ApiError;
use super::input::{BODY_FIELD, job_from, kind, parse_json, read_body};
use super::page;
use crate::scheduler::Scheduler;
use crate::tenants::Tenants;

/// The OpenAPI 3.0 description of every route.
const OPENAPI: &str = include_str!("openapi.json");

/// The multipart field Dkron's `restore` sends the export in.
const RESTORE_FIELD: &str = "file";

/// `GET /health`.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "healthy" }))
}

/// `GET /metrics` on the API: the Prometheus exposition of the whole node (admin only;
/// `--metrics-listen` serves it without a token on a port of its own).
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
pub async fn agent(State(scheduler): State<Scheduler>, caller: Caller) -> Json<Value> {
    Json(json!({
        "agent": { "name": scheduler.node(), "version": env!("CARGO_PKG_VERSION") },
        "caller": { "tenant": caller.tenant_name, "admin": caller.admin },
    }))
}

/// `GET /v1/openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /v1/busy`: the caller's executions running on this node, oldest first.
pub async fn busy(State(scheduler): State<Scheduler>, caller: Caller) -> Response {
    let running: Vec<ExecutionOut> = scheduler
        .busy(caller.tenant)
        .into_iter()
        .map(Into::into)
        .collect();
    page(running.len() as u64, running)
}

/// `GET /v1/members`: every node that joined the cluster, by name, alive or dead.
pub async fn members(State(scheduler): State<Scheduler>) -> Result<Response, ApiError> {
    let members: Vec<MemberOut> = scheduler
        .members()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(page(members.len() as u64, members))
}

/// `POST /v1/restore`: creates or replaces every job of an export, parents first. The
/// export is a JSON array of jobs, sent as Dkron's CLI does (multipart field `file`) or
/// as the body. Answers one line per job, as Dkron: `success create NAME` or
/// `fail create NAME: REASON`.
pub async fn restore(
    State(scheduler): State<Scheduler>,
    State(tenants): State<Tenants>,
    caller: Caller,
    request: Request,
) -> Result<Json<Vec<String>>, ApiError> {
    super::cluster::refuse_if_paused(&tenants, &caller).await?;
    let export = if is_multipart(request.headers()) {
        multipart_file(request).await?
    } else {
        read_body(request, &()).await?.to_vec()
    };
    let items = match parse_json(&export)? {
        Value::Array(items) => items,
        other => {
            return Err(ApiError::invalid(
                BODY_FIELD,
                format!("expected a JSON array of jobs, found {}", kind(&other)),
            ));
        }
    };
    let specs = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| job_from(item, &format!("jobs[{index}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let lines = scheduler
        .restore(caller.tenant, specs)
        .await
        .into_iter()
        .map(|(name, result)| match result {
            Ok(_) => format!("success create {name}"),
            Err(error) => format!("fail create {name}: {}", ApiError::from(error).text()),
        })
        .collect();
    Ok(Json(lines))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"))
}

/// The bytes of the multipart field `file`.
async fn multipart_file(request: Request) -> Result<Vec<u8>, ApiError> {
    let refused =
        |status: StatusCode, message: String| ApiError::of_field(status, RESTORE_FIELD, message);
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|rejection| refused(rejection.status(), rejection.body_text()))?;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|error| refused(error.status(), error.body_text()))?
    {
        if field.name() == Some(RESTORE_FIELD) {
            let bytes = field
                .bytes()
                .await
                .map_err(|error| refused(error.status(), error.body_text()))?;
            return Ok(bytes.to_vec());
        }
    }
    Err(refused(
        StatusCode::BAD_REQUEST,
        "missing: send the export in the multipart field \"file\"".into(),
    ))
}
