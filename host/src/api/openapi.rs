//! The OpenAPI document of the API, generated: each handler's `#[utoipa::path]` says its
//! route, parameters, body and answers; the JSON shapes derive `ToSchema`; the router is
//! built from the same annotations (`utoipa_axum::routes!` in `api::routes`), so a route
//! cannot be served undocumented nor documented unserved. This module holds what every
//! route shares: the document's header, the bearer scheme, the refusals every secured
//! route may answer (401, 429), and the path parameters several routes name.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToResponse, ToSchema};

pub use super::error::responses::{
    BadRequest, Conflict, Forbidden, NotFound, Paused, TooLarge, TooManyRequests, Unauthorized,
    UnsupportedMediaType,
};

/// The security scheme every route but the public ones names.
const BEARER: &str = "bearer";

/// The document's header and the components routes refer to by name.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sandcron API",
        description = "Sandcron's HTTP API: Dkron's /v1 job and execution routes, plus live \
            output, kill, executors, secrets, tenants, health, metrics and this document. \
            Every response carries the header X-Whom with the answering node's name. Every \
            refusal is JSON: {\"error\": \"<field>: <message>\", \"field\": \"<field>\"} \
            (field only when one field of the input is to blame)."
    ),
    servers((url = "http://127.0.0.1:8080")),
    security(("bearer" = [])),
    modifiers(&BearerToken),
    components(
        schemas(super::error::ErrorBody),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            TooLarge,
            UnsupportedMediaType,
            TooManyRequests,
            Paused
        )
    )
)]
pub struct ApiDoc;

/// Adds the bearer scheme.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, document: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API token: the admin token (`serve` prints it once and keeps it in \
                 `<data-dir>/admin-token`, or `SANDCRON_ADMIN_TOKEN`), or a tenant's token \
                 from `POST /v1/tenants/{name}/tokens`. Every route but `/health` and \
                 `/v1/openapi.json` needs one; without a valid one the answer is 401.",
            ))
            .build();
        document
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The finished document: `routed` (the header and the routes' paths) with the refusals
/// of the authentication and rate-limit layers added to every route that needs a token.
pub fn finish(mut routed: Document) -> Document {
    let needs_token = |operation: &utoipa::openapi::path::Operation| operation.security.is_none();
    for item in routed.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if needs_token(operation) {
                for (status, name) in [
                    ("401", Unauthorized::response().0),
                    ("429", TooManyRequests::response().0),
                ] {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
        }
    }
    routed
}

/// The refusals of a job write (create, replace, restore).
#[derive(IntoResponses)]
#[allow(dead_code, reason = "the document's list of a job write's refusals")]
pub enum JobWriteRefused {
    /// The definition is refused; `field` names the culprit.
    #[response(status = 400)]
    BadRequest(#[ref_response] BadRequest),
    /// It conflicts with the current state.
    #[response(status = 409)]
    Conflict(#[ref_response] Conflict),
    /// The body is too large.
    #[response(status = 413)]
    TooLarge(#[ref_response] TooLarge),
    /// The tenant is paused.
    #[response(status = 503)]
    Paused(#[ref_response] Paused),
}

/// `?runoncreate` of a job write.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "read by the document only")]
pub struct RunOnCreate {
    /// Present (any value, or none: `?runoncreate`): also start a run once the job is
    /// saved.
    runoncreate: Option<String>,
}

/// Raw bytes: an uploaded component.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code, reason = "the document's name for a binary body")]
pub struct Binary(Vec<u8>);

/// `{name}`: a job.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "read by the document only")]
pub struct JobPath {
    /// The job's name.
    name: String,
}

/// `{name}` and `{id}`: one execution of a job.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "read by the document only")]
pub struct ExecutionPath {
    /// The job's name.
    name: String,
    /// The execution's id.
    id: i64,
}

/// `{name}`: an executor.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "read by the document only")]
pub struct ExecutorPath {
    /// The executor's name (a slug).
    name: String,
}

/// `{name}`: a secret.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "read by the document only")]
pub struct SecretPath {
    /// The secret's name: letters, digits, `-`, `_` and `.`.
    name: String,
}

/// `{name}`: a tenant.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "read by the document only")]
pub struct TenantPath {
    /// The tenant's name.
    name: String,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn the_routes_without_a_token_are_the_ones_the_document_makes_public() {
        let document = serde_json::to_value(super::super::openapi()).unwrap();
        let public: Vec<&str> = document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, item)| {
                item.as_object()
                    .unwrap()
                    .values()
                    .any(|operation| operation["security"] == serde_json::json!([{}]))
            })
            .map(|(path, _)| path.as_str())
            .collect();
        assert_eq!(public, super::super::auth::PUBLIC_PATHS);
    }

    #[test]
    fn every_secured_operation_answers_401_and_429() {
        let document = serde_json::to_value(super::super::openapi()).unwrap();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = &operation["responses"];
                let secured = operation["security"] == Value::Null;
                assert_eq!(
                    responses["401"].is_object(),
                    secured,
                    "{method} {path}: {responses}"
                );
                assert_eq!(responses["429"].is_object(), secured, "{method} {path}");
            }
        }
    }
}
