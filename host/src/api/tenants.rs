//! The admin routes: create and list tenants, make a tenant's API token (shown once), and
//! set a tenant's grants and quotas. Every route needs an admin token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::auth::Admin;
use super::error::ApiError;
use super::input::{JsonObject, PathParams};
use super::openapi as doc;
use super::with_location;
use crate::store::Tenant;
use crate::tenants::{Quotas, Tenants};

/// The body of `POST /v1/tenants`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantIn {
    /// The new tenant's name (a slug).
    name: String,
}

/// A tenant as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = Tenant)]
pub struct TenantOut {
    /// Its name.
    name: String,
    /// `CAPABILITY: [PATTERN]`, as `--allow CAPABILITY=PATTERN` spells them.
    #[schema(value_type = Grants)]
    grants: serde_json::Value,
    /// Its quotas.
    #[schema(value_type = Quotas)]
    quotas: serde_json::Value,
    /// When it was created.
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

/// A tenant's grants: `{"CAPABILITY": ["PATTERN", …]}`.
#[derive(ToSchema)]
#[schema(example = json!({"http": ["https://api.example.com"], "secrets": ["API_KEY"]}))]
#[allow(dead_code, reason = "the document's name for the grants' JSON")]
pub struct Grants(BTreeMap<String, Vec<String>>);

/// The answer of `POST /v1/tenants/{name}/tokens`.
#[derive(Serialize, ToSchema)]
#[schema(as = Token)]
pub struct TokenOut {
    /// The tenant's name.
    tenant: String,
    /// The token: shown once, never again.
    token: String,
}

/// `POST /v1/tenants`: 201 with the new tenant; 409 when the name is taken.
#[utoipa::path(
    post,
    path = "/v1/tenants",
    operation_id = "createTenant",
    summary = "Create a tenant (admin)",
    request_body = TenantIn,
    responses(
        (status = 201, description = "Created, with no grants and no quotas.", body = TenantOut,
            headers(("Location" = String, description = "The path of the tenant."))),
        (status = 400, response = doc::BadRequest),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
        (status = 413, response = doc::TooLarge),
    )
)]
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
#[utoipa::path(
    get,
    path = "/v1/tenants",
    operation_id = "listTenants",
    summary = "List the tenants (admin)",
    responses(
        (status = 200, description = "Every tenant, by name.", body = [TenantOut]),
        (status = 403, response = doc::Forbidden),
    )
)]
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
#[utoipa::path(
    post,
    path = "/v1/tenants/{name}/tokens",
    operation_id = "createToken",
    summary = "Make an API token for a tenant (admin); shown once",
    params(doc::TenantPath),
    responses(
        (status = 201, description = "The token.", body = TokenOut),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
    )
)]
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
#[utoipa::path(
    put,
    path = "/v1/tenants/{name}/grants",
    operation_id = "putGrants",
    summary = "Replace a tenant's grants (admin)",
    params(doc::TenantPath),
    request_body = Grants,
    responses(
        (status = 200, description = "The tenant.", body = TenantOut),
        (status = 400, response = doc::BadRequest),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, description = "The default tenant's grants are the server's flags.", body = super::error::ErrorBody),
        (status = 413, response = doc::TooLarge),
    )
)]
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
#[utoipa::path(
    put,
    path = "/v1/tenants/{name}/quotas",
    operation_id = "putQuotas",
    summary = "Replace a tenant's quotas (admin)",
    params(doc::TenantPath),
    request_body = Quotas,
    responses(
        (status = 200, description = "The tenant.", body = TenantOut),
        (status = 400, response = doc::BadRequest),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 413, response = doc::TooLarge),
    )
)]
pub async fn put_quotas(
    State(tenants): State<Tenants>,
    _admin: Admin,
    PathParams(name): PathParams<String>,
    JsonObject(quotas): JsonObject<serde_json::Value>,
) -> Result<Json<TenantOut>, ApiError> {
    Ok(Json(tenants.set_quotas(&name, &quotas).await?.into()))
}
