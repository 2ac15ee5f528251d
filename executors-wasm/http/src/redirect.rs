//! Following redirects as Go's `http.Client` (and so Dkron) does: up to 10 hops, `301`,
//! `302` and `303` turn a request other than `GET`/`HEAD` into a body-less `GET`, `307`
//! and `308` repeat it as it was, and credentials are not sent to another host. Each hop
//! goes through the host's allowed-hosts check again.

/// The most redirects followed before giving up, as Go's default client.
pub const MAX_REDIRECTS: usize = 10;

/// Whether `status` is a redirect to follow.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Whether a redirect with `status` turns `method` into a body-less `GET`.
pub fn becomes_get(status: u16, method: &str) -> bool {
    matches!(status, 301..=303)
        && !method.eq_ignore_ascii_case("GET")
        && !method.eq_ignore_ascii_case("HEAD")
}

/// Resolves a `Location` header against the URL that answered with it.
pub fn resolve(base: &str, location: &str) -> String {
    let location = location.trim();
    if location.contains("://") {
        return location.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(scheme_relative) = location.strip_prefix("//") {
        return format!("{scheme}://{scheme_relative}");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let directory = match path.rfind('/') {
        Some(slash) => &path[..=slash],
        None => "/",
    };
    if location.starts_with('?') {
        return format!("{scheme}://{authority}{path}{location}");
    }
    format!("{scheme}://{authority}{directory}{location}")
}

/// The host (with port) of an absolute URL, lower-cased, for comparing hops.
pub fn host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    host.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_absolute_relative_and_scheme_relative_locations() {
        let base = "https://a.test/x/y?q=1";
        assert_eq!(resolve(base, "http://b.test/z"), "http://b.test/z");
        assert_eq!(resolve(base, "//c.test/z"), "https://c.test/z");
        assert_eq!(resolve(base, "/root"), "https://a.test/root");
        assert_eq!(resolve(base, "sibling"), "https://a.test/x/sibling");
        assert_eq!(resolve(base, "?page=2"), "https://a.test/x/y?page=2");
        assert_eq!(resolve("https://a.test", "next"), "https://a.test/next");
    }

    #[test]
    fn only_301_to_303_turn_other_methods_into_get() {
        assert!(becomes_get(302, "POST"));
        assert!(becomes_get(303, "put"));
        assert!(!becomes_get(302, "GET"));
        assert!(!becomes_get(307, "POST"));
        assert!(!becomes_get(308, "POST"));
    }

    #[test]
    fn hosts_compare_without_case_or_credentials() {
        assert_eq!(host("https://User:pw@A.test:8443/x"), "a.test:8443");
        assert_eq!(host("http://a.test?x"), "a.test");
    }

    #[test]
    fn redirect_statuses() {
        for status in [301, 302, 303, 307, 308] {
            assert!(is_redirect(status));
        }
        for status in [200, 304, 305, 300, 404] {
            assert!(!is_redirect(status));
        }
    }
}
