//! `?pretty`: any JSON answer indented, as Dkron's API does for a request that has a
//! `pretty` parameter (with or without a value).

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

/// The largest answer re-indented; a larger one is sent as it is.
const MAX_INDENTED: usize = 64 << 20;

/// Indents the JSON answer of a request that asks for it.
pub async fn indent_when_asked(request: Request, next: Next) -> Response {
    let asked = request
        .uri()
        .query()
        .is_some_and(|query| super::input::QueryPairs::parse(query).has("pretty"));
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !asked || !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_INDENTED).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let indented = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|value| serde_json::to_vec_pretty(&value).ok())
        .unwrap_or_else(|| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(indented))
}
