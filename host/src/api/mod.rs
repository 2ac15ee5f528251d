//! The HTTP API: Dkron's `/v1` routes (jobs, executions, busy, restore) plus live output,
//! kill, health, metrics and an OpenAPI document, served by axum in front of the
//! [`App`]: each handler takes the one service it needs ([`Scheduler`], [`Registry`],
//! [`Tenants`] or [`Secrets`]) as its state, never the store.
//!
//! * `jobs`: the job routes; `executions`: a job's executions, live output and kill;
//!   `executors`: uploading, listing and deleting executor components; `secrets`: setting,
//!   listing (names only) and deleting secrets;
//!   `tenants`: the admin's routes (tenants, their tokens, grants and quotas);
//!   `system`: health, metrics, agent info, busy, members and the OpenAPI
//!   document, which `openapi` generates from the handlers' annotations and the types
//!   (the router is built from the same annotations); `restore`: an export of jobs,
//!   streamed to a temporary file and written in bulk chunks; `console`: what the web console needed (executions of every job, schedule
//!   preview, the last hour's stats); `forward`: passing live output and kill on to the
//!   node that runs the execution.
//! * `auth`: every request but health and the OpenAPI document carries a bearer token;
//!   handlers get the [`auth::Caller`] (the token's tenant) and act within its tenant, so
//!   another tenant's names are not found (404, never 403).
//! * `input`: reading untrusted input (JSON bodies, query strings, path segments), each
//!   refusal naming the field; `error`: every refusal as `{"error", "field"}` JSON with
//!   its status; `dto`: the JSON shapes of jobs and executions.
//! * `cluster`: Dkron's leader, pause and leave routes; `cors`: `serve --cors-origin`;
//!   `pretty`: `?pretty` indents any JSON answer, as Dkron's does.
//!
//! This is the API boundary: the JSON shapes here (`dto.rs` and each route's `…In` and
//! `…Out`) are not the domain's types, which never derive `Serialize` for the API's sake;
//! a change to a domain type does not change the API unless a shape here does.
//!
//! The web console (`crate::console`) is served beside the API, at `/ui/`, without a
//! token. Every response, refusals and unknown routes included, carries `X-Whom: <node
//! name>`, as Dkron's does. `docs/api.md` lists the routes with examples.

mod auth;
mod cluster;
mod console;
pub mod cors;
mod dto;
mod error;
mod executions;
mod executors;
mod forward;
mod input;
mod jobs;
mod observe;
mod openapi;
mod pretty;
mod rate_limit;
mod restore;
mod secrets;
mod system;
mod tenants;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::app::App;
use crate::registry::Registry;
use crate::scheduler::Scheduler;
use crate::secrets::Secrets;
use crate::tenants::Tenants;
pub use auth::AuthConfig;
pub use error::ApiError;
pub use rate_limit::RateLimit;

/// The header naming the node that answered.
const X_WHOM: HeaderName = HeaderName::from_static("x-whom");

/// The header giving how many items match a list request, before paging.
const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// The API's routes, answering with `app`'s services, checking tokens as `auth` says.
pub fn router(app: App, auth: AuthConfig) -> Router {
    let limiter = auth
        .rate_limit
        .map(|limit| Arc::new(rate_limit::RateLimiter::new(limit)));
    let auth_state = (app.tenants.clone(), Arc::new(auth));
    let whom = HeaderValue::from_str(app.scheduler.node())
        .unwrap_or_else(|_| HeaderValue::from_static("sandcron"));
    let (routes, _) = routes().split_for_parts();
    routes
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(move |request, next| {
            let limiter = limiter.clone();
            async move {
                match limiter {
                    Some(limiter) => rate_limit::limit(State(limiter), request, next).await,
                    None => next.run(request).await,
                }
            }
        }))
        .layer(axum::middleware::from_fn_with_state(
            auth_state,
            auth::authenticate,
        ))
        // The console's pages hold no data: served without a token.
        .merge(crate::console::router())
        .layer(axum::middleware::map_response_with_state(whom, add_whom))
        .layer(axum::middleware::from_fn(pretty::indent_when_asked))
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(app)
}

/// Every route of the API with its OpenAPI description, both from the handlers'
/// `#[utoipa::path]` annotations: one `routes!` per path, so nothing is routed that is not
/// documented, nor documented that is not routed.
fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(system::health))
        .routes(routes!(system::metrics))
        .routes(routes!(system::agent))
        .routes(routes!(system::agent_slash))
        .routes(routes!(system::openapi))
        .routes(routes!(system::busy))
        .routes(routes!(console::executions))
        .routes(routes!(console::schedule_preview))
        .routes(routes!(console::stats))
        .routes(routes!(system::members))
        .routes(routes!(cluster::get_leader))
        .routes(routes!(cluster::is_leader))
        .routes(routes!(cluster::get_pause, cluster::pause))
        .routes(routes!(cluster::unpause))
        .routes(routes!(cluster::leave))
        .routes(routes!(tenants::list, tenants::create))
        .routes(routes!(tenants::create_token))
        .routes(routes!(tenants::put_grants))
        .routes(routes!(tenants::put_quotas))
        .routes(routes!(secrets::list))
        .routes(routes!(secrets::put, secrets::delete))
        .routes(routes!(executors::list))
        .routes(routes!(
            executors::versions,
            executors::upload,
            executors::delete
        ))
        // The restore counts its own bytes, up to `--max-restore-size`.
        .routes(routes!(restore::restore).layer(DefaultBodyLimit::disable()))
        .routes(routes!(jobs::list, jobs::create, jobs::patch))
        .routes(routes!(
            jobs::get,
            jobs::replace,
            jobs::delete,
            jobs::run_short
        ))
        .routes(routes!(jobs::run))
        .routes(routes!(jobs::toggle))
        .routes(routes!(executions::list, executions::delete_all))
        .routes(routes!(executions::get))
        .routes(routes!(executions::output))
        .routes(routes!(executions::kill))
}

/// The OpenAPI document of the API, as `GET /v1/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(routes().into_openapi())
}

/// The routes of `--metrics-listen`: `/metrics` for anyone who reaches the port (a
/// Prometheus on the operator's network), and `/health`.
pub fn metrics_router(scheduler: Scheduler) -> Router {
    Router::new()
        .route("/metrics", get(system::exposition))
        .route("/health", get(system::health))
        .with_state(scheduler)
}

impl FromRef<App> for Scheduler {
    fn from_ref(app: &App) -> Self {
        app.scheduler.clone()
    }
}

impl FromRef<App> for Registry {
    fn from_ref(app: &App) -> Self {
        app.registry.clone()
    }
}

impl FromRef<App> for Tenants {
    fn from_ref(app: &App) -> Self {
        app.tenants.clone()
    }
}

impl FromRef<App> for Secrets {
    fn from_ref(app: &App) -> Self {
        app.secrets.clone()
    }
}

async fn add_whom(State(whom): State<HeaderValue>, mut response: Response) -> Response {
    response.headers_mut().insert(X_WHOM, whom);
    response
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::with_status(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} is not allowed on {}", uri.path()),
    )
}

/// A page of a list, with `X-Total-Count` giving how many match in all.
fn page<T: Serialize>(total: u64, items: Vec<T>) -> Response {
    ([(X_TOTAL_COUNT, total.to_string())], Json(items)).into_response()
}

/// Dkron's `_order` (`ASC` or `DESC`, any case): whether it is descending, `default`
/// when not given.
fn descending(query: &input::QueryPairs, default: bool) -> Result<bool, ApiError> {
    match query.get("_order") {
        None => Ok(default),
        Some(order) if order.eq_ignore_ascii_case("asc") => Ok(false),
        Some(order) if order.eq_ignore_ascii_case("desc") => Ok(true),
        Some(order) => Err(ApiError::invalid(
            "_order",
            format!("{order:?} is not ASC or DESC"),
        )),
    }
}

/// `/v1/jobs/<name>`, for `Location` (names are slugs; anything else is escaped).
fn job_location(name: &str) -> String {
    let escaped: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/v1/jobs/{escaped}")
}

/// `response` with a `Location` header (escaped ASCII, so always a valid value).
fn with_location(mut response: Response, location: String) -> Response {
    if let Ok(value) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
