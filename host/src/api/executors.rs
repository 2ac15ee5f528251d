//! The executor routes: upload a component as a new version of a named executor
//! (`PUT /v1/executors/{name}`, `Content-Type: application/wasm`), list the built-in and
//! uploaded executors, read the versions of one, delete one.
//!
//! The body is kept up to the server's upload limit (`serve --max-upload-size`) and no
//! further; the registry checks the tenant's `max_upload_bytes`, then checks the
//! component against the `executor` world and compiles it (off the async threads, so
//! other requests are served meanwhile) before anything is stored.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use bytes::BytesMut;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;

use super::auth::Caller;
use super::dto::one_of;
use super::error::ApiError;
use super::input::PathParams;
use super::openapi as doc;
use super::with_location;
use crate::capabilities;
use crate::executor_keys::ConfigKey;
use crate::executors::BUILT_INS;
use crate::registry::{Registry, UploadError};
use crate::runtime::{CompileError, LoadError};
use crate::store::{StoredExecutor, TenantId};
use crate::tenants::Tenants;
use sandcron_sdk::size::format_size;

/// The state of an executor that can run.
const READY: &str = "ready";

/// An executor as the API shows it: a built-in executor (`builtin: true`, with `summary`)
/// or one version of an uploaded component.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Executor)]
pub struct ExecutorOut {
    /// Its name (an upload's is a slug).
    name: String,
    /// Built into Sandcron (shared by everyone), or uploaded.
    builtin: bool,
    /// `executor`, or `processor` for a processor component (`wit/processor.wit`).
    #[schema(schema_with = executor_kinds)]
    kind: &'static str,
    /// `ready` (it can run), or `compiling` (an upload being checked and compiled; it is
    /// stored once that ends, or refused).
    #[schema(schema_with = executor_states)]
    state: &'static str,
    /// A built-in's one-line summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    summary: Option<&'static str>,
    /// An upload's version, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    version: Option<u32>,
    /// The SHA-256 of an upload's component, in hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    /// An upload's size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// What it asks for, read from its imports: `http`, `process`, `secrets`…
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    capabilities: Option<Vec<&'static str>>,
    /// An upload's imports, as WIT names them.
    #[serde(skip_serializing_if = "Option::is_none")]
    imports: Option<Vec<String>>,
    /// When an upload was stored (or, while compiling, received).
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<DateTime<Utc>>,
    /// A built-in's config keys, from its documentation.
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<Vec<ConfigKey>>,
    /// The requested capabilities that will be denied, and why (on upload and in the
    /// list, built-ins included).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

impl ExecutorOut {
    /// Fills in `warnings`: the capabilities it asks for that `tenant` is denied.
    async fn add_warnings(&mut self, tenants: &Tenants, tenant: TenantId) -> Result<(), ApiError> {
        self.warnings = tenants
            .denied_capabilities(
                tenant,
                &self.name,
                self.capabilities.as_deref().unwrap_or(&[]),
            )
            .await?;
        Ok(())
    }
}

impl From<StoredExecutor> for ExecutorOut {
    fn from(stored: StoredExecutor) -> Self {
        Self {
            capabilities: Some(capabilities::requested(&stored.imports)),
            name: stored.name,
            builtin: false,
            kind: if stored.processor {
                "processor"
            } else {
                "executor"
            },
            state: READY,
            summary: None,
            version: Some(stored.version),
            sha256: Some(stored.sha256),
            size: Some(stored.size),
            imports: Some(stored.imports),
            created_at: Some(stored.created_at),
            keys: None,
            warnings: Vec::new(),
        }
    }
}

/// `PUT /v1/executors/{name}`: 201 with the new version.
#[utoipa::path(
    put,
    path = "/v1/executors/{name}",
    operation_id = "uploadExecutor",
    summary = "Upload a component as the next version of `name`",
    description = "The component is checked against the `executor` (or `processor`) world and compiled before it is stored; up to the server's `--max-upload-size` and the tenant's `max_upload_bytes`. The compile runs in a confined child process within `--max-compile-time` and `--max-compile-memory`; at most `--max-tenant-compiles` run at once per tenant (429, `max_tenant_compiles`).",
    params(doc::ExecutorPath),
    request_body(
        description = "The component's bytes.",
        content(
            (doc::Binary = "application/wasm"),
            (doc::Binary = "application/octet-stream")
        ),
    ),
    responses(
        (status = 201, description = "The new version.", body = ExecutorOut,
            headers(("Location" = String, description = "The path of the executor."))),
        (status = 400, response = doc::BadRequest),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::TooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 503, description = "The server began to stop while the component compiled; upload it again.",
            body = crate::api::error::ErrorBody),
    )
)]
pub async fn upload(
    State(registry): State<Registry>,
    State(tenants): State<Tenants>,
    caller: Caller,
    PathParams(name): PathParams<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !matches!(
        content_type,
        "application/wasm" | "application/octet-stream"
    ) {
        return Err(ApiError::of_field(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type",
            format!("{content_type:?}: send the component as application/wasm"),
        ));
    }
    let body = read_component(&headers, body, registry.max_upload_bytes()).await?;
    let stored = registry
        .upload(caller.tenant, &name, Arc::from(body.as_ref()))
        .await
        .map_err(|error| match error {
            UploadError::Name(field_error) => field_error.into(),
            too_large_error @ UploadError::TooLarge { .. } => {
                too_large(too_large_error.to_string())
            }
            busy @ UploadError::CompilesBusy { .. } => ApiError::of_field(
                StatusCode::TOO_MANY_REQUESTS,
                "max_tenant_compiles",
                busy.to_string(),
            ),
            UploadError::NotAnExecutor(LoadError::Compile(CompileError::Stopped)) => {
                ApiError::with_status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    CompileError::Stopped.to_string(),
                )
            }
            UploadError::NotAnExecutor(why) => ApiError::invalid("body", why.to_string()),
            UploadError::Quota(quota) => quota.into(),
            UploadError::Store(store_error) => store_error.into(),
        })?;
    let location = format!("/v1/executors/{}", stored.name);
    let mut answer = ExecutorOut::from(stored);
    answer.add_warnings(&tenants, caller.tenant).await?;
    let response = (StatusCode::CREATED, Json(answer)).into_response();
    Ok(with_location(response, location))
}

fn executor_kinds() -> utoipa::openapi::schema::Object {
    one_of(["executor", "processor"])
}

fn executor_states() -> utoipa::openapi::schema::Object {
    one_of([READY, "compiling"])
}

/// How much of a component past the server's limit is read and thrown away before the
/// 413 is sent. A server that answers and closes while the client is still sending resets
/// the connection, and the client may then report the reset instead of the answer.
const DRAIN_LIMIT: u64 = 256 << 20;

/// The upload's body, up to `limit` bytes. A larger one is refused with 413 once the rest
/// of it is read and dropped (up to [`DRAIN_LIMIT`] past the limit; one that says it is
/// larger still is refused at once), so that the client reads the refusal.
async fn read_component(headers: &HeaderMap, body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let refusal = || {
        too_large(format!(
            "the component is larger than this server's limit of {}",
            format_size(limit)
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit.saturating_add(DRAIN_LIMIT)) {
        return Err(refusal());
    }
    let mut chunks = body.into_data_stream();
    let mut component = BytesMut::new();
    let mut received: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::invalid("body", format!("cannot read the component: {e}")))?;
        received = received.saturating_add(chunk.len() as u64);
        if received > limit.saturating_add(DRAIN_LIMIT) {
            break;
        }
        if received <= limit {
            component.extend_from_slice(&chunk);
        }
    }
    if received > limit {
        return Err(refusal());
    }
    Ok(component.freeze())
}

/// A 413 about the body.
fn too_large(message: String) -> ApiError {
    ApiError::of_field(StatusCode::PAYLOAD_TOO_LARGE, "body", message)
}

/// `GET /v1/executors`: the built-in executors (with their documented keys), then the
/// latest version of each upload; each with the capabilities it asks for that the
/// caller's tenant is denied.
#[utoipa::path(
    get,
    path = "/v1/executors",
    operation_id = "listExecutors",
    summary = "The built-in executors, then the latest version of each upload",
    responses((status = 200, description = "Executors.", body = [ExecutorOut]))
)]
pub async fn list(
    State(registry): State<Registry>,
    State(tenants): State<Tenants>,
    caller: Caller,
) -> Result<Json<Vec<ExecutorOut>>, ApiError> {
    let mut all: Vec<ExecutorOut> = BUILT_INS
        .iter()
        .map(|built_in| ExecutorOut {
            name: built_in.name.to_string(),
            builtin: true,
            kind: "executor",
            state: READY,
            summary: Some(built_in.summary),
            version: None,
            sha256: None,
            size: None,
            capabilities: Some(built_in.capabilities.to_vec()),
            imports: None,
            created_at: None,
            keys: Some(built_in.keys()),
            warnings: Vec::new(),
        })
        .collect();
    all.extend(
        registry
            .list(caller.tenant)
            .await?
            .into_iter()
            .map(ExecutorOut::from),
    );
    all.extend(
        registry
            .compiling(caller.tenant)
            .into_iter()
            .map(|upload| ExecutorOut {
                name: upload.name,
                builtin: false,
                kind: "executor",
                state: "compiling",
                summary: None,
                version: None,
                sha256: None,
                size: Some(upload.size),
                capabilities: None,
                imports: None,
                created_at: Some(upload.since),
                keys: None,
                warnings: Vec::new(),
            }),
    );
    for executor in &mut all {
        executor.add_warnings(&tenants, caller.tenant).await?;
    }
    Ok(Json(all))
}

/// `GET /v1/executors/{name}`: every version of an upload, newest first.
#[utoipa::path(
    get,
    path = "/v1/executors/{name}",
    operation_id = "getExecutorVersions",
    summary = "Every version of an uploaded executor, newest first",
    params(doc::ExecutorPath),
    responses(
        (status = 200, description = "Versions.", body = [ExecutorOut]),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn versions(
    State(registry): State<Registry>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<Json<Vec<ExecutorOut>>, ApiError> {
    let versions = registry.versions(caller.tenant, &name).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("executor {name:?} not found")));
    }
    Ok(Json(versions.into_iter().map(ExecutorOut::from).collect()))
}

/// `DELETE /v1/executors/{name}`: 204; 409 while a job uses it.
#[utoipa::path(
    delete,
    path = "/v1/executors/{name}",
    operation_id = "deleteExecutor",
    summary = "Delete every version of an uploaded executor",
    params(doc::ExecutorPath),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
    )
)]
pub async fn delete(
    State(registry): State<Registry>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    if registry.delete(caller.tenant, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("executor {name:?} not found")))
    }
}
