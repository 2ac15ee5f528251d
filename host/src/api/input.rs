//! Reading untrusted input: JSON bodies (a refusal names the field, as
//! `concurrency` or `jobs[2].schedule`), query strings with dynamic keys
//! (`metadata[team]=ops`), and path segments. Every refusal is an [`ApiError`], so no
//! extractor answers with axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use crate::jobs::JobSpec;

/// The field blamed when the body is not the JSON expected at all.
pub const BODY_FIELD: &str = "body";

/// Parses `bytes` as one JSON value; text that is not JSON is refused by the field
/// `body`.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::invalid(BODY_FIELD, format!("not valid JSON: {error}")))
}

/// Reads a JSON object found at `field` (`""` for the whole body) into `T`. A refusal
/// names the field by its path below `field` (`concurrency`, `jobs[2].schedule`).
pub fn object_into<T: DeserializeOwned>(value: Value, field: &str) -> Result<T, ApiError> {
    let blamed = |path: &str| match (path, field) {
        ("", "") => BODY_FIELD.to_string(),
        (path, "") => path.to_string(),
        ("", field) => field.to_string(),
        (path, field) => format!("{field}.{path}"),
    };
    if !value.is_object() {
        return Err(ApiError::invalid(
            blamed(""),
            format!("expected a JSON object, found {}", kind(&value)),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { "" } else { path.as_str() };
        ApiError::invalid(blamed(path), error.into_inner().to_string())
    })
}

/// Reads a job's JSON found at `field` (`""` for the whole body): Dkron's input forms
/// that depend on other fields first (`jobs::normalize_input`: date-picker bounds, an old
/// top-level `command`), then the fields. A refusal names the field under `field`.
pub fn job_from(mut value: Value, field: &str) -> Result<JobSpec, ApiError> {
    crate::jobs::normalize_input(&mut value).map_err(|error| {
        let blamed = if field.is_empty() {
            error.field
        } else {
            format!("{field}.{}", error.field)
        };
        ApiError::invalid(blamed, error.message)
    })?;
    object_into(value, field)
}

/// A request body holding one job, read by [`job_from`].
pub struct JobBody(pub JobSpec);

impl<S: Send + Sync> FromRequest<S> for JobBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        job_from(parse_json(&bytes)?, "").map(Self)
    }
}

/// What a JSON value is, for a refusal.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads the whole request body, refusing it by the field `body`.
pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            ApiError::of_field(rejection.status(), BODY_FIELD, rejection.body_text())
        })
}

/// A request body holding one JSON object, read into `T` (whatever the content type, as
/// Dkron's API).
pub struct JsonObject<T>(pub T);

impl<S, T> FromRequest<S> for JsonObject<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        object_into(parse_json(&bytes)?, "").map(Self)
    }
}

/// The query string as decoded pairs, in order; keys may repeat.
pub struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    /// Decodes a raw query string (`a=1&b=%20`).
    pub fn parse(raw: &str) -> Self {
        Self(
            form_urlencoded::parse(raw.as_bytes())
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs()
            .filter(|(key, _)| *key == name)
            .map(|(_, value)| value)
            .last()
    }

    /// Whether `name` is present, with or without a value (`?runoncreate`).
    pub fn has(&self, name: &str) -> bool {
        self.pairs().any(|(key, _)| key == name)
    }

    /// `name` as a non-negative integer, if given.
    pub fn non_negative(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|text| {
                text.trim().parse::<u64>().map_err(|_| {
                    ApiError::invalid(name, format!("{text:?} is not a non-negative integer"))
                })
            })
            .transpose()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    /// Refuses a parameter holding a NUL character, naming it: no stored name or text can
    /// hold one (PostgreSQL's text cannot), and SQLite's full-text search would read the
    /// search only up to it.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = Self::parse(parts.uri.query().unwrap_or(""));
        let with_nul = query
            .pairs()
            .find(|(key, value)| key.contains('\0') || value.contains('\0'))
            .map(|(key, _)| key.replace('\0', "\\0"));
        match with_nul {
            Some(key) => Err(ApiError::invalid(key, "must not contain a NUL character")),
            None => Ok(query),
        }
    }
}

/// The path's parameters (`{name}`, `{id}`), refused as JSON like everything else.
pub struct PathParams<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| ApiError::with_status(rejection.status(), rejection.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(json: &str, field: &str) -> String {
        let parsed = parse_json(json.as_bytes()).and_then(|v| object_into::<JobSpec>(v, field));
        match parsed {
            Ok(_) => panic!("{json} was accepted"),
            Err(error) => error.text(),
        }
    }

    #[test]
    fn a_bad_value_names_its_field() {
        let text = refusal(r#"{"concurrency": "sometimes"}"#, "");
        assert!(text.starts_with("concurrency: unknown variant"), "{text}");
        let text = refusal(r#"{"retry_backoff": {"jitter": "x"}}"#, "");
        assert!(text.starts_with("retry_backoff.jitter: "), "{text}");
        let text = refusal(r#"{"schedule": 5}"#, "jobs[2]");
        assert!(text.starts_with("jobs[2].schedule: "), "{text}");
    }

    #[test]
    fn what_is_not_a_json_object_blames_the_body() {
        assert!(refusal("hello", "").starts_with("body: not valid JSON"));
        assert!(refusal("[1]", "").starts_with("body: expected a JSON object"));
        assert!(refusal("{} {}", "").starts_with("body: "));
        assert!(refusal("7", "jobs[1]").starts_with("jobs[1]: expected a JSON object"));
    }

    #[test]
    fn query_pairs_are_decoded_and_the_last_wins() {
        let query = QueryPairs::parse("metadata%5Bteam%5D=a%20b&_start=1&_start=2&flag");
        assert_eq!(query.get("metadata[team]"), Some("a b"));
        assert_eq!(query.non_negative("_start").unwrap(), Some(2));
        assert!(query.has("flag"));
        assert!(QueryPairs::parse("_end=-1").non_negative("_end").is_err());
    }
}
