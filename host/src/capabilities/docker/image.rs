//! Image references and image patterns, both read the way `docker run` reads a name.
//!
//! A reference is normalized before any check: a first component that holds a `.` or a
//! `:`, or is `localhost`, is a registry, otherwise the registry is `docker.io`; a Docker
//! Hub name of one component gets `library/`; a name without a tag or digest gets
//! `:latest`. So `busybox` is `docker.io/library/busybox:latest`, and a grant written for
//! `busybox:*` cannot be dodged by writing the image another way.
//!
//! A pattern is normalized the same way (without the `:latest`): `*` matches any run of
//! characters except `/` in the repository, and anything in the tag; a pattern without a
//! tag or digest allows every tag and digest of the repositories it matches; the pattern
//! `*` alone allows every image.

use std::fmt;

/// A normalized image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// `registry/path`, such as `docker.io/library/busybox`.
    pub repository: String,
    /// `:tag`, `@digest` or `:tag@digest`.
    pub suffix: String,
}

impl ImageRef {
    /// Reads and normalizes a reference; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (repository, tag, digest) = split(text, false)?;
        let suffix = match (tag, digest) {
            (None, None) => ":latest".to_string(),
            (Some(tag), None) => format!(":{tag}"),
            (None, Some(digest)) => format!("@{digest}"),
            (Some(tag), Some(digest)) => format!(":{tag}@{digest}"),
        };
        Ok(Self { repository, suffix })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.repository, self.suffix)
    }
}

/// One `image:` grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImagePattern {
    text: String,
    /// `None` for the pattern `*`, every image.
    repository: Option<String>,
    /// `:tag` or `@digest` glob; `None` allows every tag and digest.
    suffix: Option<String>,
}

impl ImagePattern {
    /// Reads a pattern; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(Self {
                text: text.to_string(),
                repository: None,
                suffix: None,
            });
        }
        let (repository, tag, digest) = split(text, true)?;
        let suffix = match (tag, digest) {
            (None, None) => None,
            (Some(tag), None) => Some(format!(":{tag}")),
            (None, Some(digest)) => Some(format!("@{digest}")),
            (Some(tag), Some(digest)) => Some(format!(":{tag}@{digest}")),
        };
        Ok(Self {
            text: text.to_string(),
            repository: Some(repository),
            suffix,
        })
    }

    /// Whether `image` is one this pattern allows.
    pub fn matches(&self, image: &ImageRef) -> bool {
        let Some(repository) = &self.repository else {
            return true;
        };
        glob(repository, &image.repository, false)
            && self
                .suffix
                .as_ref()
                .is_none_or(|suffix| glob(suffix, &image.suffix, true))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Splits a reference (or, with `wildcards`, a pattern) into its normalized repository,
/// its tag and its digest.
fn split(text: &str, wildcards: bool) -> Result<(String, Option<String>, Option<String>), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the image name is empty".into());
    }
    let (name, digest) = match text.split_once('@') {
        Some((name, digest)) => {
            if digest.is_empty()
                || !digest
                    .bytes()
                    .all(|b| is_tag_byte(b, wildcards) || b == b':')
            {
                return Err(format!("{text:?}: the digest after @ is not valid"));
            }
            (name, Some(digest.to_string()))
        }
        None => (text, None),
    };
    // A tag follows the last `:` that comes after the last `/` (a registry port comes
    // before a `/`).
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name[last_slash..].rfind(':') {
        Some(i) => {
            let tag = &name[last_slash + i + 1..];
            if tag.is_empty() || tag.len() > 128 || !tag.bytes().all(|b| is_tag_byte(b, wildcards))
            {
                return Err(format!("{text:?}: the tag is not valid"));
            }
            (&name[..last_slash + i], Some(tag.to_string()))
        }
        None => (name, None),
    };
    let mut components: Vec<&str> = name.split('/').collect();
    let registry = match components.first() {
        Some(first)
            if components.len() > 1
                && (first.contains('.') || first.contains(':') || *first == "localhost") =>
        {
            let registry = components.remove(0);
            if !registry.bytes().all(|b| {
                b.is_ascii_alphanumeric() || b".-:[]".contains(&b) || (wildcards && b == b'*')
            }) {
                return Err(format!("{text:?}: the registry {registry:?} is not valid"));
            }
            registry.to_ascii_lowercase()
        }
        _ => "docker.io".to_string(),
    };
    if components.iter().any(|c| c.is_empty()) {
        return Err(format!("{text:?}: a path component is empty"));
    }
    for component in &components {
        if !component.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b"._-".contains(&b)
                || (wildcards && b == b'*')
        }) {
            return Err(format!(
                "{text:?}: {component:?} is not valid in an image name (use lower-case \
                 letters, digits, `.`, `_` and `-`)"
            ));
        }
    }
    if registry == "docker.io" && components.len() == 1 {
        components.insert(0, "library");
    }
    Ok((format!("{registry}/{}", components.join("/")), tag, digest))
}

fn is_tag_byte(b: u8, wildcards: bool) -> bool {
    b.is_ascii_alphanumeric() || b"_.-".contains(&b) || (wildcards && b == b'*')
}

/// Matches `text` against `pattern`, where `*` matches any run of characters (not `/`
/// unless `across_slash`).
fn glob(pattern: &str, text: &str, across_slash: bool) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((star_p, star_t)) = star {
            if !across_slash && t[star_t] == b'/' {
                return false;
            }
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> String {
        ImageRef::parse(text).unwrap().to_string()
    }

    fn allows(pattern: &str, text: &str) -> bool {
        ImagePattern::parse(pattern)
            .unwrap()
            .matches(&ImageRef::parse(text).unwrap())
    }

    #[test]
    fn references_are_normalized_as_docker_reads_them() {
        assert_eq!(image("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(image("team/app:1.2"), "docker.io/team/app:1.2");
        assert_eq!(image("localhost/busybox:test"), "localhost/busybox:test");
        assert_eq!(
            image("registry.example.com:5000/a/b"),
            "registry.example.com:5000/a/b:latest"
        );
        assert_eq!(image("quay.io/x/y@sha256:abc"), "quay.io/x/y@sha256:abc");
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in [
            "", "Busybox", "a//b", "busybox:", "busybox@", "x:y:z/", "bus box",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn patterns_match_normalized_references() {
        assert!(allows("busybox", "docker.io/library/busybox:1"));
        assert!(allows("busybox:*", "busybox"));
        assert!(allows("localhost/busybox:*", "localhost/busybox:test"));
        assert!(!allows(
            "localhost/busybox:*",
            "localhost/busybox@sha256:abc"
        ));
        assert!(allows("localhost/busybox", "localhost/busybox@sha256:abc"));
        assert!(!allows("localhost/busybox:test", "localhost/busybox:other"));
        assert!(!allows("busybox", "localhost/busybox:test"));
        assert!(allows("*", "anything.example.com/at/all:v"));
    }

    #[test]
    fn a_star_stays_within_one_path_component() {
        assert!(allows("localhost/*", "localhost/app:1"));
        assert!(!allows("localhost/*", "localhost/team/app:1"));
        assert!(allows(
            "*.example.com/team/*:*",
            "registry.example.com/team/app:2"
        ));
        assert!(!allows(
            "*.example.com/team/*",
            "evil.com/registry.example.com/team/app"
        ));
    }
}
