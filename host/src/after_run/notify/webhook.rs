//! Webhook notifications: the rule's request, its body template filled in, sent through
//! the `http` capability's checks and pooled client (`capabilities::http::send_from_host`).
//!
//! A body that is JSON (its `Content-Type` says so, or none is given and the template
//! starts with `{` or `[`, which then sets `Content-Type: application/json`) gets each
//! value escaped as the inside of a JSON string, so `"{{.Output}}"` stays valid JSON
//! whatever the output holds (Dkron pastes values as they are). A 2xx answer delivers it;
//! a refusal by the grant, or a 4xx answer other than 408 and 429, is not tried again.

use std::time::Duration;

use bytes::Bytes;

use super::{Failure, Values};
use crate::after_run::Shared;
use crate::capabilities::http::{HostRequestError, HttpPolicy, default_port, send_from_host};
use crate::jobs::notify::Webhook;
use crate::jobs::template::{Template, json_escape};

/// The longest one try may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Sends the webhook once. `operators`: a server default rule, allowed to its own target.
pub(super) async fn send(
    shared: &Shared,
    hook: &Webhook,
    grant: &HttpPolicy,
    operators: bool,
    values: &Values<'_>,
) -> Result<(), Failure> {
    let template = Template::parse(hook.body()).map_err(Failure::Final)?;
    let content_type = hook
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.to_ascii_lowercase());
    let looks_like_json = hook.body().trim_start().starts_with(['{', '[']);
    let json = content_type
        .as_deref()
        .map_or(looks_like_json, |value| value.contains("json"));
    let body = if json {
        template.render(|v| values.get(v), json_escape)
    } else {
        template.render(|v| values.get(v), str::to_string)
    };
    let mut request = http::Request::builder()
        .method(hook.method())
        .uri(&hook.url)
        .header(
            "user-agent",
            concat!("sandcron/", env!("CARGO_PKG_VERSION")),
        );
    if content_type.is_none() && json {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in &hook.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Bytes::from(body))
        .map_err(|e| Failure::Final(format!("the request is not valid: {e}")))?;
    let own;
    let policy = if operators {
        own = own_target(&hook.url).map_err(Failure::Final)?;
        &own
    } else {
        grant
    };
    match send_from_host(policy, &shared.http, request, TIMEOUT).await {
        Ok(status) if status.is_success() => Ok(()),
        Ok(status)
            if status.is_client_error()
                && status != http::StatusCode::REQUEST_TIMEOUT
                && status != http::StatusCode::TOO_MANY_REQUESTS =>
        {
            Err(Failure::Final(format!("{} answered {status}", hook.url)))
        }
        Ok(status) => Err(Failure::Retry(format!("{} answered {status}", hook.url))),
        Err(error @ HostRequestError::Denied { .. }) => Err(Failure::Final(format!(
            "{error} (the job's http grant does not allow it)"
        ))),
        Err(HostRequestError::Failed(error)) => Err(Failure::Retry(error)),
    }
}

/// A grant of exactly the URL's scheme, host and port (the operator named it).
fn own_target(url: &str) -> Result<HttpPolicy, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
    let scheme = uri.scheme_str().unwrap_or("https");
    let host = uri.host().ok_or_else(|| format!("{url:?} names no host"))?;
    let port = uri
        .port_u16()
        .or_else(|| default_port(scheme))
        .ok_or_else(|| format!("{url:?} names no port"))?;
    HttpPolicy::parse(&[format!("{scheme}://{host}:{port}")])
}
