//! The admin routes: create and list tenants, make a tenant's API token (shown once), and
//! set a tenant's grants and quotas. Every route needs an admin token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Admin;
use super::error::ApiError;
use super::input::{JsonObject, PathParams};
use super::with_location;
use crate::store::Tenant;
use crate::tenants::Tenants;

/// The body of `POST /v1/tenants`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantIn {
    name: String,
}

/// A tenant as the API shows it.
#[derive(Serialize)]
pub struct TenantOut {
    name: String,
    grants: serde_json::Value,
    quotas: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl From<Tenant> for TenantOut {
    fn from(tenant: Tenant) -> Self {
        Self {
            name: tenant.name,
            grants: tenant.grants,
            quotas: tenant.quotas,
            created_at: tenant.created_at,
        }
    }
}

/// The answer of `POST /v1/tenants/{name}/tokens`.
#[derive(Serialize)]
pub struct TokenOut {
    tenant: String,
    token: String,
}

/// `POST /v1/tenants`: 201 with the new tenant; 409 when the name is taken.
pub async fn create(
    State(tenants): State<Tenants>,
    _admin: Admin,
    JsonObject(tenant): JsonObject<TenantIn>,
) -> Result<Response, ApiError> {
    let tenant = tenants.create(&tenant.name).await?;
    let location = format!("/v1/tenants/{}", tenant.name);
    let response = (StatusCode::CREATED, Json(TenantOut::from(tenant))).into_response();
    Ok(with_location(response, location))
}

/// `GET /v1/tenants`: every tenant, by name.
pub async fn list(
    State(tenants): State<Tenants>,
    _admin: Admin,
) -> Result<Json<Vec<TenantOut>>, ApiError> {
    Ok(Json(
        tenants
            .list()
            .await?
            .into_iter()
            .map(TenantOut::from)
            .collect(),
    ))
}

/// `POST /v1/tenants/{name}/tokens`: 201 with `{"tenant", "token"}`; the token is never
/// shown again.
pub async fn create_token(
    State(tenants): State<Tenants>,
    _admin: Admin,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    let token = tenants.create_token(&name).await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenOut {
            tenant: name,
            token,
        }),
    )
        .into_response())
}

/// `PUT /v1/tenants/{name}/grants`: `{"CAPABILITY": ["PATTERN", …]}` replaces the
/// tenant's grants; 200 with the tenant.
pub async fn put_grants(
    State(tenants): State<Tenants>,
    _admin: Admin,
    PathParams(name): PathParams<String>,
    JsonObject(grants): JsonObject<serde_json::Value>,
) -> Result<Json<TenantOut>, ApiError> {
    Ok(Json(tenants.set_grants(&name, &grants).await?.into()))
}

/// `PUT /v1/tenants/{name}/quotas`: `{"max_jobs": N, …}` replaces the tenant's quotas;
/// 200 with the tenant.
pub async fn put_quotas(
    State(tenants): State<Tenants>,
    _admin: Admin,
    PathParams(name): PathParams<String>,
    JsonObject(quotas): JsonObject<serde_json::Value>,
) -> Result<Json<TenantOut>, ApiError> {
    Ok(Json(tenants.set_quotas(&name, &quotas).await?.into()))
}
