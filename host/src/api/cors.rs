//! `serve --cors-origin PATTERN`: which browser origins may call the API (none by
//! default; Dkron allows any). A pattern is an origin (`https://app.example.com`), an
//! origin with a wildcard host part (`https://*.example.com`), or `*` for any origin.
//! Preflight requests are answered before authentication (a browser sends them without
//! the token); the answers allow the API's methods, the `Authorization` and
//! `Content-Type` headers, and expose `X-Total-Count`, `X-Whom` and `Location`.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Checks the patterns; the error names a bad one.
pub fn check(patterns: &[String]) -> Result<(), String> {
    parse_all(patterns).map(|_| ())
}

fn parse_all(patterns: &[String]) -> Result<Vec<Pattern>, String> {
    patterns.iter().map(|text| Pattern::parse(text)).collect()
}

/// `router` answering CORS for `patterns`; the error names a bad pattern.
pub fn allow(router: Router, patterns: &[String]) -> Result<Router, String> {
    if patterns.is_empty() {
        return Ok(router);
    }
    let patterns = parse_all(patterns)?;
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin
                .to_str()
                .is_ok_and(|origin| patterns.iter().any(|pattern| pattern.matches(origin)))
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([
            HeaderName::from_static("x-total-count"),
            HeaderName::from_static("x-whom"),
            header::LOCATION,
        ]);
    Ok(router.layer(layer))
}

/// One `--cors-origin` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Any,
    /// `scheme://` and the host's suffix after `*` (`.example.com`), and the port part.
    Wildcard {
        scheme: String,
        suffix: String,
    },
    Exact(String),
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, String> {
        if text == "*" {
            return Ok(Self::Any);
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!(
                "--cors-origin {text:?}: expected *, or an origin such as https://app.example.com"
            ));
        };
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "--cors-origin {text:?}: an origin has no path (https://app.example.com)"
            ));
        }
        match rest.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') && !suffix.contains('*') => {
                Ok(Self::Wildcard {
                    scheme: scheme.to_ascii_lowercase(),
                    suffix: suffix.to_ascii_lowercase(),
                })
            }
            Some(_) => Err(format!(
                "--cors-origin {text:?}: a wildcard stands for the first parts of the host (https://*.example.com)"
            )),
            None if rest.contains('*') => Err(format!(
                "--cors-origin {text:?}: a wildcard stands for the first parts of the host (https://*.example.com)"
            )),
            None => Ok(Self::Exact(text.to_ascii_lowercase())),
        }
    }

    fn matches(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        match self {
            Self::Any => true,
            Self::Exact(exact) => origin == *exact,
            Self::Wildcard { scheme, suffix } => origin
                .strip_prefix(scheme.as_str())
                .and_then(|rest| rest.strip_prefix("://"))
                .is_some_and(|host| host.ends_with(suffix.as_str()) && host.len() > suffix.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_their_patterns() {
        let exact = Pattern::parse("https://app.example.com").unwrap();
        assert!(exact.matches("https://app.example.com"));
        assert!(!exact.matches("https://evil.example.com"));
        let wild = Pattern::parse("https://*.example.com").unwrap();
        assert!(wild.matches("https://app.example.com"));
        assert!(!wild.matches("https://example.com"));
        assert!(!wild.matches("http://app.example.com"));
        assert!(!wild.matches("https://app.example.com.evil.net"));
        assert!(Pattern::parse("*").unwrap().matches("http://anything:1"));
        for bad in ["example.com", "https://a.com/path", "https://a*.com", ""] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
