//! Every refusal the API gives, as one type: an HTTP status and a JSON body
//! `{"error": "<field>: <message>", "field": "<field>"}` (`field` only when one field is to
//! blame), so a client can always read the reason the same way.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::jobs::FieldError;
use crate::scheduler::JobError;
use crate::secrets::SecretError;
use crate::store::StoreError;
use crate::tenants::{QuotaExceeded, TenantError};

/// A refused request: its status, and the field to blame if there is one.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    field: Option<String>,
    message: String,
}

/// Every refusal's body: `field` only when one field of the input is to blame.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// The field, if any, then what is wrong with it.
    #[schema(example = "schedule: expected 5 or 6 fields")]
    error: String,
    /// The field to blame: `schedule`, `jobs[2].timezone`, `body`, `_sort`, `Authorization`…
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "schedule")]
    field: Option<String>,
}

/// The refusals the OpenAPI document names, each a response of [`ErrorBody`]: every
/// route's `responses` refers to them by name.
#[allow(
    dead_code,
    reason = "each names a response of the document; the body is `ErrorBody`"
)]
pub mod responses {
    use utoipa::ToResponse;

    use super::ErrorBody;

    /// The input was refused; `field` names the culprit (`schedule`, `jobs[2].timezone`,
    /// `body`, `_sort`, ...).
    #[derive(ToResponse)]
    pub struct BadRequest(ErrorBody);

    /// No token, or an unknown one (`WWW-Authenticate: Bearer`).
    #[derive(ToResponse)]
    pub struct Unauthorized(ErrorBody);

    /// The route needs an admin token.
    #[derive(ToResponse)]
    pub struct Forbidden(ErrorBody);

    /// No such job, execution, executor, secret or tenant (another tenant's names are
    /// not found either).
    #[derive(ToResponse)]
    pub struct NotFound(ErrorBody);

    /// The request conflicts with the current state (a parent with children, a forbid
    /// job already running, an execution not running, a name taken, an executor in use).
    #[derive(ToResponse)]
    pub struct Conflict(ErrorBody);

    /// The body is larger than the server accepts; `field` is `body`.
    #[derive(ToResponse)]
    pub struct TooLarge(ErrorBody);

    /// The body is not of a media type the route reads; `field` is `Content-Type`.
    #[derive(ToResponse)]
    pub struct UnsupportedMediaType(ErrorBody);

    /// Past a quota of the tenant, which `field` names (`max_jobs`,
    /// `max_concurrent_executions`, `max_upload_bytes`, `max_executors`,
    /// `max_executor_bytes`, `max_tenant_compiles`; counted as the change is written, so
    /// requests racing never pass it together), or past the token's rate limit
    /// (`serve --rate-limit`).
    #[derive(ToResponse)]
    pub struct TooManyRequests(ErrorBody);

    /// The caller's tenant is paused (`POST /v1/pause`): job writes are refused.
    #[derive(ToResponse)]
    pub struct Paused(ErrorBody);
}

impl ApiError {
    /// A refusal of one field of the input (400).
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::of_field(StatusCode::BAD_REQUEST, field, message)
    }

    /// A refusal of one field of the input with another status (413 for a body too
    /// large, say).
    pub fn of_field(
        status: StatusCode,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// Something that does not exist (404).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::with_status(StatusCode::NOT_FOUND, message)
    }

    /// A request that conflicts with the current state (409).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::with_status(StatusCode::CONFLICT, message)
    }

    /// A failure of the server itself (500); the cause is logged.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!("api: {message}");
        Self::with_status(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Any other status, blaming no field.
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            field: None,
            message: message.into(),
        }
    }

    /// The status this refusal is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `error` text: the field, if any, then the message.
    pub fn text(&self) -> String {
        match &self.field {
            Some(field) => format!("{field}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::invalid(error.field, error.message)
    }
}

impl From<JobError> for ApiError {
    fn from(error: JobError) -> Self {
        match error {
            JobError::Invalid(field_error) => field_error.into(),
            JobError::NotFound(_) => Self::not_found(error.to_string()),
            JobError::Conflict(message) => Self::conflict(message),
            JobError::Quota(quota) => quota.into(),
            JobError::Store(store_error) => store_error.into(),
        }
    }
}

impl From<QuotaExceeded> for ApiError {
    fn from(error: QuotaExceeded) -> Self {
        Self::of_field(StatusCode::TOO_MANY_REQUESTS, error.quota, error.message)
    }
}

impl From<TenantError> for ApiError {
    fn from(error: TenantError) -> Self {
        match error {
            TenantError::Invalid(field_error) => field_error.into(),
            TenantError::NotFound(_) => Self::not_found(error.to_string()),
            TenantError::Conflict(message) => Self::conflict(message),
            TenantError::Store(store_error) => store_error.into(),
        }
    }
}

impl From<SecretError> for ApiError {
    fn from(error: SecretError) -> Self {
        match error {
            SecretError::Invalid(field_error) => field_error.into(),
            SecretError::Store(store_error) => store_error.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => Self::conflict(message),
            other => Self::internal(format!("store: {other}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.text(),
            field: self.field,
        };
        (self.status, Json(body)).into_response()
    }
}
