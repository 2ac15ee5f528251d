//! The secret routes: set a secret (`PUT /v1/secrets/{name}` with `{"value": "…"}`),
//! list names and dates, delete one. No route ever answers a value.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::ApiError;
use super::input::{JsonObject, PathParams};
use super::openapi as doc;
use crate::secrets::Secrets;
use crate::store::SecretInfo;

/// The body of `PUT /v1/secrets/{name}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretIn {
    /// The value (write-only: no route shows it).
    value: String,
}

/// A secret's name and dates; the value is never shown.
#[derive(Serialize, ToSchema)]
#[schema(as = Secret)]
pub struct SecretOut {
    /// Its name.
    name: String,
    /// When it was first set.
    created_at: DateTime<Utc>,
    /// When it was last set.
    updated_at: DateTime<Utc>,
}

impl From<SecretInfo> for SecretOut {
    fn from(info: SecretInfo) -> Self {
        Self {
            name: info.name,
            created_at: info.created_at,
            updated_at: info.updated_at,
        }
    }
}

/// `PUT /v1/secrets/{name}`: 201 when new, 200 when replaced, with the name and dates.
#[utoipa::path(
    put,
    path = "/v1/secrets/{name}",
    operation_id = "putSecret",
    summary = "Set a secret (write-only)",
    params(doc::SecretPath),
    request_body = SecretIn,
    responses(
        (status = 200, description = "Replaced.", body = SecretOut),
        (status = 201, description = "Created.", body = SecretOut),
        (status = 400, response = doc::BadRequest),
        (status = 413, response = doc::TooLarge),
    )
)]
pub async fn put(
    State(secrets): State<Secrets>,
    caller: Caller,
    PathParams(name): PathParams<String>,
    JsonObject(secret): JsonObject<SecretIn>,
) -> Result<Response, ApiError> {
    let created = secrets.put(caller.tenant, &name, &secret.value).await?;
    let info = secrets
        .list(caller.tenant)
        .await?
        .into_iter()
        .find(|info| info.name == name)
        .ok_or_else(|| ApiError::internal(format!("secret {name} vanished after writing")))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(SecretOut::from(info))).into_response())
}

/// `GET /v1/secrets`: every secret's name and dates, by name.
#[utoipa::path(
    get,
    path = "/v1/secrets",
    operation_id = "listSecrets",
    summary = "Every secret's name and dates",
    responses((status = 200, description = "Secrets, by name.", body = [SecretOut]))
)]
pub async fn list(
    State(secrets): State<Secrets>,
    caller: Caller,
) -> Result<Json<Vec<SecretOut>>, ApiError> {
    Ok(Json(
        secrets
            .list(caller.tenant)
            .await?
            .into_iter()
            .map(SecretOut::from)
            .collect(),
    ))
}

/// `DELETE /v1/secrets/{name}`: 204, or 404.
#[utoipa::path(
    delete,
    path = "/v1/secrets/{name}",
    operation_id = "deleteSecret",
    summary = "Delete a secret",
    params(doc::SecretPath),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = doc::BadRequest),
        (status = 404, response = doc::NotFound),
    )
)]
pub async fn delete(
    State(secrets): State<Secrets>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    if secrets.delete(caller.tenant, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("secret {name:?} not found")))
    }
}
