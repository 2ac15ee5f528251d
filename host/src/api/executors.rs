//! The executor routes: upload a component as a new version of a named executor
//! (`PUT /v1/executors/{name}`, `Content-Type: application/wasm`), list the built-in and
//! uploaded executors, read the versions of one, delete one.
//!
//! The body is read up to [`UPLOAD_LIMIT`] and no further; the scheduler checks the
//! component against the `executor` world and compiles it before anything is stored.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::auth::Caller;
use super::error::ApiError;
use super::input::PathParams;
use super::with_location;
use crate::capabilities;
use crate::executors::BUILT_INS;
use crate::registry::{Registry, UploadError};
use crate::store::StoredExecutor;
use crate::tenants::Tenants;

/// The largest component accepted: 20 MiB.
pub const UPLOAD_LIMIT: usize = 20 << 20;

/// An executor as the API shows it.
#[derive(Serialize)]
pub struct ExecutorOut {
    name: String,
    /// Built into Sandcron (shared by everyone), or uploaded.
    builtin: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// What it asks for, read from its imports: `http`, `process`, `secrets`…
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    imports: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<DateTime<Utc>>,
    /// On upload: the requested capabilities that will be denied, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

impl From<StoredExecutor> for ExecutorOut {
    fn from(stored: StoredExecutor) -> Self {
        Self {
            capabilities: Some(capabilities::requested(&stored.imports)),
            name: stored.name,
            builtin: false,
            summary: None,
            version: Some(stored.version),
            sha256: Some(stored.sha256),
            size: Some(stored.size),
            imports: Some(stored.imports),
            created_at: Some(stored.created_at),
            warnings: Vec::new(),
        }
    }
}

/// `PUT /v1/executors/{name}`: 201 with the new version.
pub async fn upload(
    State(registry): State<Registry>,
    State(tenants): State<Tenants>,
    caller: Caller,
    PathParams(name): PathParams<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
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
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::of_field(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body",
                format!(
                    "the component is larger than the limit of {} MiB",
                    UPLOAD_LIMIT >> 20
                ),
            )
        } else {
            ApiError::with_status(rejection.status(), rejection.body_text())
        }
    })?;
    let stored = registry
        .upload(caller.tenant, &name, Arc::from(body.as_ref()))
        .await
        .map_err(|error| match error {
            UploadError::Name(field_error) => field_error.into(),
            UploadError::NotAnExecutor(why) => ApiError::invalid("body", why.to_string()),
            UploadError::Quota(quota) => quota.into(),
            UploadError::Store(store_error) => store_error.into(),
        })?;
    let location = format!("/v1/executors/{}", stored.name);
    let mut answer = ExecutorOut::from(stored);
    answer.warnings = tenants
        .denied_capabilities(caller.tenant, answer.capabilities.as_deref().unwrap_or(&[]))
        .await?;
    let response = (StatusCode::CREATED, Json(answer)).into_response();
    Ok(with_location(response, location))
}

/// `GET /v1/executors`: the built-in executors, then the latest version of each upload.
pub async fn list(
    State(registry): State<Registry>,
    caller: Caller,
) -> Result<Json<Vec<ExecutorOut>>, ApiError> {
    let mut all: Vec<ExecutorOut> = BUILT_INS
        .iter()
        .map(|built_in| ExecutorOut {
            name: built_in.name.to_string(),
            builtin: true,
            summary: Some(built_in.summary),
            version: None,
            sha256: None,
            size: None,
            capabilities: Some(built_in.capabilities.to_vec()),
            imports: None,
            created_at: None,
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
    Ok(Json(all))
}

/// `GET /v1/executors/{name}`: every version of an upload, newest first.
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
