//! The secret routes: set a secret (`PUT /v1/secrets/{name}` with `{"value": "…"}`),
//! list names and dates, delete one. No route ever answers a value.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::ApiError;
use super::input::{JsonObject, PathParams};
use crate::secrets::Secrets;
use crate::store::SecretInfo;

/// The body of `PUT /v1/secrets/{name}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretIn {
    value: String,
}

/// A secret as the API shows it: never its value.
#[derive(Serialize)]
pub struct SecretOut {
    name: String,
    created_at: DateTime<Utc>,
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
