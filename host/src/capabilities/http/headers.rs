//! The header rules of every outgoing request a guest makes, in one place: exactly
//! `wasi:http`'s. The headers that frame or route a message (`Host`, `Connection`,
//! `Keep-Alive`, `Transfer-Encoding`, `Upgrade`, `Proxy-Authorization`, …: wasmtime's
//! [`DEFAULT_FORBIDDEN_HEADERS`]) are the host's to write; a guest that sets one is
//! refused, as `wasi:http` refuses it with `forbidden`. `Host` is written from the URL's
//! authority, and a `Content-Length` must match the body.
//!
//! `wasi:http` applies the rule through [`super::HttpHooks`]; requests the host builds from
//! guest data outside `wasi:http` (`http-cleanup`) go through [`guest_headers`].

use std::sync::Arc;

use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderName, HeaderValue};
use wasmtime_wasi_http::{DEFAULT_FORBIDDEN_HEADERS, ForbiddenHeaderFilter};

/// Whether a guest may not set header `name`.
pub fn is_forbidden(name: &HeaderName) -> bool {
    DEFAULT_FORBIDDEN_HEADERS.contains(name)
}

/// [`is_forbidden`] as the filter `wasi:http` takes.
pub fn forbidden_filter() -> ForbiddenHeaderFilter {
    Arc::new(is_forbidden)
}

/// The headers of a request built from guest data: each name and value valid, none
/// forbidden, at most one `Content-Length` and equal to `body_len`; then `Host` set to
/// `authority`, as `wasi:http` sets it. The error names the header.
pub fn guest_headers(
    headers: &[(String, String)],
    body_len: usize,
    authority: &str,
) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header name {name:?} is not valid"))?;
        if is_forbidden(&name) {
            return Err(format!(
                "header {name} is forbidden: the host writes it (as wasi:http does)"
            ));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header {name} is not valid"))?;
        if name == CONTENT_LENGTH {
            if map.contains_key(&CONTENT_LENGTH) {
                return Err("header content-length is given twice".into());
            }
            let declared = value
                .to_str()
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
            if declared != Some(body_len.to_string().as_str()) {
                return Err(format!(
                    "header content-length is {value:?} but the body has {body_len} bytes"
                ));
            }
        }
        map.append(name, value);
    }
    let host = HeaderValue::from_str(authority)
        .map_err(|_| format!("the URL's authority {authority:?} is not a valid Host"))?;
    map.insert(HOST, host);
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn framing_and_routing_headers_are_refused_by_name() {
        for name in [
            "Host",
            "transfer-encoding",
            "Connection",
            "Keep-Alive",
            "Upgrade",
            "Proxy-Authorization",
            "Proxy-Authenticate",
            "Proxy-Connection",
            "HTTP2-Settings",
        ] {
            let error = guest_headers(&headers(&[(name, "x")]), 0, "a.example").unwrap_err();
            assert!(error.contains("is forbidden"), "{name}: {error}");
            assert!(is_forbidden(
                &HeaderName::from_bytes(name.as_bytes()).unwrap()
            ));
        }
    }

    #[test]
    fn host_is_the_urls_authority_and_other_headers_pass() {
        let map = guest_headers(
            &headers(&[("Authorization", "Bearer t"), ("X-Trace", "1")]),
            0,
            "127.0.0.1:8080",
        )
        .unwrap();
        assert_eq!(map[HOST], "127.0.0.1:8080");
        assert_eq!(map["authorization"], "Bearer t");
        assert_eq!(map["x-trace"], "1");
    }

    #[test]
    fn content_length_must_match_the_body() {
        assert!(guest_headers(&headers(&[("Content-Length", "3")]), 3, "h").is_ok());
        for bad in ["4", "+3", " 3", "", "3, 3"] {
            let error = guest_headers(&headers(&[("Content-Length", bad)]), 3, "h");
            assert!(error.is_err(), "{bad:?}");
        }
        let twice = headers(&[("Content-Length", "3"), ("content-length", "3")]);
        assert!(guest_headers(&twice, 3, "h").is_err());
    }

    #[test]
    fn malformed_names_and_values_are_refused() {
        assert!(guest_headers(&headers(&[("bad name", "x")]), 0, "h").is_err());
        assert!(guest_headers(&headers(&[("x", "a\r\nHost: evil")]), 0, "h").is_err());
    }
}
