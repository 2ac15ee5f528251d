//! The web console: the pages under `/ui/`, served by every `sandcron serve` on the API's
//! listener, and `/` redirecting there.
//!
//! The console is hand-written HTML, CSS and JavaScript modules in `host/console/`, with
//! no build step: the files are embedded in the binary as they are (`rust-embed`; a debug
//! build reads them from the source tree, so an edit shows on reload). They hold no data
//! and are served without a token; the pages sign in with a token the user types, kept in
//! the browser's `sessionStorage`, and call the same `/v1` API as any client, with the
//! same permissions.
//!
//! Every asset carries an `ETag` (its SHA-256) and `Cache-Control: no-cache`, so a browser
//! revalidates it (a 304 costs one round trip) and never runs an old console against a
//! newer server; text assets are gzipped when the browser accepts it.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use tower_http::compression::CompressionLayer;

/// Where the console is served.
pub const PREFIX: &str = "/ui/";

/// Only the console's own files run, and only its own server is called: a job's output
/// or name shown on a page can never load or run anything.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The console's files, from `host/console/`.
#[derive(RustEmbed)]
#[folder = "console/"]
struct Assets;

/// The console's routes: `/` and `/ui` redirect to `/ui/`, `/ui/` is the page, and
/// `/ui/PATH` each file. Needs no state and no token.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let assets = Router::new()
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(asset))
        .layer(CompressionLayer::new().gzip(true));
    Router::new()
        .route("/", get(to_console))
        .route("/ui", get(to_console))
        .merge(assets)
}

/// The console's address on a server listening on `address` with `scheme` (`http` or
/// `https`): a listener on every interface is reached at loopback from the same machine.
pub fn url(scheme: &str, address: std::net::SocketAddr) -> String {
    let mut address = address;
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("{scheme}://{address}{PREFIX}")
}

async fn to_console() -> Redirect {
    Redirect::to(PREFIX)
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The file at `path`, or 304 when the browser's copy is current, or 404.
fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no console file {path:?}\n"),
        )
            .into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, "no-cache".to_string()),
    ];
    let current = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    if current {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let mut response = (cache, file.data.into_owned()).into_response();
    let content_type = match file.metadata.mimetype() {
        text if text.starts_with("text/") || text.ends_with("javascript") => {
            format!("{text}; charset=utf-8")
        }
        other => other.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_loads_is_embedded() {
        let index =
            String::from_utf8(Assets::get("index.html").unwrap().data.into_owned()).unwrap();
        assert!(index.contains("js/app.js"), "{index}");
        assert!(Assets::get("js/app.js").is_some());
        assert!(Assets::get("app.css").is_some());
    }

    #[test]
    fn a_listener_on_every_interface_is_reached_at_loopback() {
        assert_eq!(
            url("http", "0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080/ui/"
        );
        assert_eq!(
            url("https", "[::1]:9000".parse().unwrap()),
            "https://[::1]:9000/ui/"
        );
    }
}
