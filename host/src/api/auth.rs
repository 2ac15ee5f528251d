//! Who is calling. Every request but `GET /health` and `GET /v1/openapi.json` carries
//! `Authorization: Bearer TOKEN`; the token's SHA-256 is looked up in the store (or
//! compared with `SANDCRON_ADMIN_TOKEN`'s), and the request runs as the token's tenant:
//! handlers take a [`Caller`], and every name they look up is the caller's tenant's.
//! Admin tokens act as the default tenant and may also manage tenants ([`Admin`]).
//! A missing or unknown token is 401, with `WWW-Authenticate: Bearer`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::store::TenantId;
use crate::tenants::{Tenants, hash_token};

/// The routes anyone may call.
pub(super) const PUBLIC_PATHS: &[&str] = &["/health", "/v1/openapi.json"];

/// How the server checks tokens beyond the stored ones.
#[derive(Clone, Debug, Default)]
pub struct AuthConfig {
    /// The SHA-256 of `SANDCRON_ADMIN_TOKEN`, accepted as an admin token.
    pub admin_token_hash: Option<String>,
    /// The rate each token may send requests at (`None`: no limit).
    pub rate_limit: Option<super::rate_limit::RateLimit>,
}

impl AuthConfig {
    /// Accepts `token` as an admin token besides the stored ones.
    pub fn with_admin_token(token: &str) -> Self {
        Self {
            admin_token_hash: Some(hash_token(token)),
            rate_limit: None,
        }
    }
}

/// The tenant a request acts as.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The tenant's id.
    pub tenant: TenantId,
    /// The tenant's name.
    pub tenant_name: String,
    /// Whether the token is an admin token.
    pub admin: bool,
}

/// A caller with an admin token; 403 for any other.
#[derive(Clone, Debug)]
pub struct Admin(#[allow(dead_code)] pub Caller);

/// Finds the caller of every request but the public ones, or answers 401.
pub async fn authenticate(
    State((tenants, config)): State<(Tenants, Arc<AuthConfig>)>,
    mut request: Request,
    next: Next,
) -> Response {
    if PUBLIC_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    match caller(
        &tenants,
        &config,
        request.headers().get(header::AUTHORIZATION),
    )
    .await
    {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(error) => {
            let mut response = error.into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"sandcron\""),
                );
            }
            response
        }
    }
}

async fn caller(
    tenants: &Tenants,
    config: &AuthConfig,
    authorization: Option<&HeaderValue>,
) -> Result<Caller, ApiError> {
    let unauthorized = |message: &str| {
        ApiError::of_field(
            StatusCode::UNAUTHORIZED,
            "Authorization",
            message.to_string(),
        )
    };
    let value = authorization
        .ok_or_else(|| unauthorized("missing; send Authorization: Bearer TOKEN"))?
        .to_str()
        .map_err(|_| unauthorized("not a Bearer token"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| unauthorized("not a Bearer token"))?;
    if config
        .admin_token_hash
        .as_deref()
        .is_some_and(|hash| hash == hash_token(token))
    {
        let tenant = tenants.default_tenant().await?;
        return Ok(Caller {
            tenant: tenant.id,
            tenant_name: tenant.name,
            admin: true,
        });
    }
    let owner = tenants
        .token_owner(token)
        .await?
        .ok_or_else(|| unauthorized("unknown token"))?;
    Ok(Caller {
        tenant: owner.tenant.id,
        tenant_name: owner.tenant.name,
        admin: owner.admin,
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::of_field(StatusCode::UNAUTHORIZED, "Authorization", "missing"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.admin {
            return Err(ApiError::of_field(
                StatusCode::FORBIDDEN,
                "Authorization",
                "this route needs an admin token",
            ));
        }
        Ok(Admin(caller))
    }
}
