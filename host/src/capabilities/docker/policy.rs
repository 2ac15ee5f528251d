//! What a `docker` grant allows, and the check of one container request against it.
//!
//! Grants are written `KIND:VALUE`, one per `--allow docker=…` entry:
//!
//! - `image:PATTERN`: images that may run (see [`super::image`] for the pattern syntax);
//!   none by default.
//! - `mount:/host/path` (or `mount:/host/path:ro`, read-only mounts only): a host
//!   directory or file that may be bind-mounted, with everything below it; none by default.
//! - `network:NAME` (`host`, `bridge`, a named network) or `network:*`: networks a
//!   container may join; by default only `none`.
//! - `memory:SIZE` (`512M`, `2G`): the most memory a container may have; 512 MiB by
//!   default. A job that asks for no limit gets this one.
//! - `cpus:N` (`0.5`, `2`): the most CPUs a container may use; 1 by default. A job that asks
//!   for no limit gets this one.
//!
//! The check is pure apart from resolving mount paths on the file system.

use std::path::{Component, Path, PathBuf};

use sandcron_sdk::size::{format_size, parse_size};

use super::image::{ImagePattern, ImageRef};

/// The memory cap of a container when the grant names none: 512 MiB.
pub const DEFAULT_MAX_MEMORY: u64 = 512 << 20;
/// The CPU cap of a container when the grant names none.
pub const DEFAULT_MAX_CPUS: f64 = 1.0;

/// The containers a grant allows. The default allows no image at all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DockerPolicy {
    images: Vec<ImagePattern>,
    mounts: Vec<MountGrant>,
    networks: Vec<String>,
    max_memory: Option<u64>,
    max_cpus: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MountGrant {
    /// Canonical path.
    path: PathBuf,
    read_only: bool,
}

/// A container request as the policy sees it.
#[derive(Clone, Debug, Default)]
pub struct Request<'a> {
    /// The image reference as written.
    pub image: &'a str,
    /// Bind mounts: host path, container path, read-only.
    pub mounts: Vec<(&'a str, &'a str, bool)>,
    /// The network; `none` when absent.
    pub network: Option<&'a str>,
    /// Memory limit in bytes; the policy's largest when absent.
    pub memory: Option<u64>,
    /// CPU limit; the policy's largest when absent.
    pub cpus: Option<f64>,
}

/// A request the policy allows, with everything resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Allowed {
    /// The normalized image reference.
    pub image: ImageRef,
    /// Bind mounts in the engine's `host:container[:ro]` form, host paths canonical.
    pub binds: Vec<String>,
    /// The network mode.
    pub network: String,
    /// Memory limit in bytes.
    pub memory: u64,
    /// CPU limit in billionths of a CPU.
    pub nano_cpus: u64,
}

/// Why a request may not run.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Outside the policy.
    Denied(String),
    /// Malformed.
    Invalid(String),
}

impl DockerPolicy {
    /// Whether no image at all may be run.
    pub fn allows_no_image(&self) -> bool {
        self.images.is_empty()
    }

    /// Widens the grant by one `KIND:VALUE` entry; the error says what is wrong with it.
    pub fn allow(&mut self, entry: &str) -> Result<(), String> {
        let (kind, value) = entry.split_once(':').ok_or_else(|| {
            format!(
                "{entry:?}: expected image:PATTERN, mount:PATH[:ro], network:NAME, \
                 memory:SIZE or cpus:N"
            )
        })?;
        let value = value.trim();
        match kind.trim() {
            "image" => self.images.push(ImagePattern::parse(value)?),
            "mount" => self.mounts.push(MountGrant::parse(value)?),
            "network" => {
                if value.is_empty() || value.contains(char::is_whitespace) {
                    return Err(format!("network {value:?}: expected a network name or *"));
                }
                self.networks.push(value.to_string());
            }
            "memory" => {
                let bytes = parse_size(value).map_err(|e| format!("memory {value:?}: {e}"))?;
                if bytes == 0 {
                    return Err("memory: must be more than 0".into());
                }
                self.max_memory = Some(bytes);
            }
            "cpus" => self.max_cpus = Some(parse_cpus(value).map_err(|e| format!("cpus: {e}"))?),
            other => {
                return Err(format!(
                    "{other:?} is not a docker grant: use image, mount, network, memory or cpus"
                ));
            }
        }
        Ok(())
    }

    /// The most memory a container may have.
    pub fn max_memory(&self) -> u64 {
        self.max_memory.unwrap_or(DEFAULT_MAX_MEMORY)
    }

    /// The most CPUs a container may use.
    pub fn max_cpus(&self) -> f64 {
        self.max_cpus.unwrap_or(DEFAULT_MAX_CPUS)
    }

    /// Checks a request; nothing has been sent to the engine yet.
    pub fn check(&self, request: &Request) -> Result<Allowed, Refusal> {
        let image = ImageRef::parse(request.image)
            .map_err(|e| Refusal::Invalid(format!("docker: image {e}")))?;
        if self.images.is_empty() {
            return Err(Refusal::Denied(format!(
                "docker: image {image} is not allowed: no image is granted"
            )));
        }
        if !self.images.iter().any(|p| p.matches(&image)) {
            return Err(Refusal::Denied(format!(
                "docker: image {image} is not allowed (granted: {})",
                self.images
                    .iter()
                    .map(ImagePattern::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let binds = request
            .mounts
            .iter()
            .map(|&(host, container, read_only)| self.check_mount(host, container, read_only))
            .collect::<Result<_, _>>()?;
        let network = request.network.unwrap_or("none").trim();
        if network.is_empty() {
            return Err(Refusal::Invalid("docker: the network name is empty".into()));
        }
        if network != "none" && !self.networks.iter().any(|n| n == "*" || n == network) {
            return Err(Refusal::Denied(format!(
                "docker: network {network:?} is not allowed (only \"none\" unless granted)"
            )));
        }
        let memory = request.memory.unwrap_or(self.max_memory());
        if memory == 0 {
            return Err(Refusal::Invalid(
                "docker: the memory limit must be more than 0".into(),
            ));
        }
        if memory > self.max_memory() {
            return Err(Refusal::Denied(format!(
                "docker: memory {} is more than the {} granted",
                format_size(memory),
                format_size(self.max_memory())
            )));
        }
        let cpus = request.cpus.unwrap_or(self.max_cpus());
        if !cpus.is_finite() || cpus <= 0.0 {
            return Err(Refusal::Invalid(format!(
                "docker: the CPU limit {cpus} must be more than 0"
            )));
        }
        if cpus > self.max_cpus() {
            return Err(Refusal::Denied(format!(
                "docker: {cpus} CPUs is more than the {} granted",
                self.max_cpus()
            )));
        }
        Ok(Allowed {
            image,
            binds,
            network: network.to_string(),
            memory,
            nano_cpus: (cpus * 1e9).round() as u64,
        })
    }

    fn check_mount(&self, host: &str, container: &str, read_only: bool) -> Result<String, Refusal> {
        let container_path = Path::new(container);
        if !container_path.is_absolute() || container.contains([':', ',']) {
            return Err(Refusal::Invalid(format!(
                "docker: mount target {container:?} must be an absolute path without `:` or `,`"
            )));
        }
        let host_path = Path::new(host);
        if !host_path.is_absolute() {
            return Err(Refusal::Invalid(format!(
                "docker: mount source {host:?} must be an absolute host path (named volumes \
                 are not supported)"
            )));
        }
        if self.mounts.is_empty() {
            return Err(Refusal::Denied(format!(
                "docker: mounting {host} is not allowed: no host path is granted"
            )));
        }
        let canonical = host_path
            .canonicalize()
            .map_err(|e| Refusal::Denied(format!("docker: mounting {host} is not allowed: {e}")))?;
        let Some(path) = canonical.to_str().filter(|p| !p.contains([':', ','])) else {
            return Err(Refusal::Invalid(format!(
                "docker: mount source {} cannot hold `:` or `,`",
                canonical.display()
            )));
        };
        let granted = self
            .mounts
            .iter()
            .filter(|grant| canonical.starts_with(&grant.path))
            .any(|grant| read_only || !grant.read_only);
        if !granted {
            let resolved = if canonical == host_path {
                String::new()
            } else {
                format!(" (resolved to {})", canonical.display())
            };
            let mode = if read_only { "" } else { " read-write" };
            return Err(Refusal::Denied(format!(
                "docker: mounting {host}{resolved}{mode} is not allowed"
            )));
        }
        Ok(format!(
            "{path}:{container}{}",
            if read_only { ":ro" } else { "" }
        ))
    }
}

impl MountGrant {
    fn parse(value: &str) -> Result<Self, String> {
        let (path, read_only) = match value.strip_suffix(":ro") {
            Some(path) => (path, true),
            None => (value.strip_suffix(":rw").unwrap_or(value), false),
        };
        let path = Path::new(path);
        if !path.is_absolute() || path.components().any(|c| c == Component::ParentDir) {
            return Err(format!(
                "mount {value:?}: expected an absolute host path, optionally followed by :ro"
            ));
        }
        let path = path
            .canonicalize()
            .map_err(|e| format!("mount {}: {e}", path.display()))?;
        Ok(Self { path, read_only })
    }
}

/// Reads a CPU count such as `0.5` or `2`.
pub fn parse_cpus(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(cpus) if cpus.is_finite() && cpus > 0.0 && cpus <= 1024.0 => Ok(cpus),
        _ => Err(format!("{text:?} is not a CPU count (such as 0.5 or 2)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> DockerPolicy {
        let mut policy = DockerPolicy::default();
        for entry in entries {
            policy.allow(entry).unwrap();
        }
        policy
    }

    fn request(image: &str) -> Request<'_> {
        Request {
            image,
            ..Request::default()
        }
    }

    fn denied(result: Result<Allowed, Refusal>) -> String {
        match result {
            Err(Refusal::Denied(text)) => text,
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let text = denied(DockerPolicy::default().check(&request("busybox")));
        assert!(text.contains("no image is granted"), "{text}");
    }

    #[test]
    fn images_outside_the_patterns_are_denied() {
        let policy = policy(&["image:localhost/busybox:*"]);
        assert!(policy.check(&request("localhost/busybox:test")).is_ok());
        let text = denied(policy.check(&request("busybox")));
        assert!(
            text.contains("docker.io/library/busybox:latest is not allowed"),
            "{text}"
        );
    }

    #[test]
    fn limits_default_to_the_grant_and_may_not_exceed_it() {
        let policy = policy(&["image:*", "memory:256M", "cpus:2"]);
        let allowed = policy.check(&request("busybox")).unwrap();
        assert_eq!(allowed.memory, 256 << 20);
        assert_eq!(allowed.nano_cpus, 2_000_000_000);
        assert_eq!(allowed.network, "none");
        let too_much = Request {
            memory: Some(1 << 30),
            ..request("busybox")
        };
        assert!(denied(policy.check(&too_much)).contains("more than the 256 MiB granted"));
        let too_many = Request {
            cpus: Some(4.0),
            ..request("busybox")
        };
        assert!(denied(policy.check(&too_many)).contains("4 CPUs"));
        let defaults = self::policy(&["image:*"]).check(&request("x")).unwrap();
        assert_eq!(defaults.memory, DEFAULT_MAX_MEMORY);
    }

    #[test]
    fn networks_other_than_none_need_a_grant() {
        let none = policy(&["image:*"]);
        let host = Request {
            network: Some("host"),
            ..request("busybox")
        };
        assert!(denied(none.check(&host)).contains("network \"host\""));
        assert!(policy(&["image:*", "network:host"]).check(&host).is_ok());
        assert!(policy(&["image:*", "network:*"]).check(&host).is_ok());
    }

    #[test]
    fn mounts_need_a_granted_path_and_respect_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("data");
        std::fs::create_dir(&inside).unwrap();
        let (dir_text, inside_text) = (
            dir.path().to_str().unwrap().to_string(),
            inside.to_str().unwrap().to_string(),
        );
        let canonical = inside.canonicalize().unwrap();
        let rw = Request {
            mounts: vec![(&inside_text, "/data", false)],
            ..request("busybox")
        };
        let ro = Request {
            mounts: vec![(&inside_text, "/data", true)],
            ..request("busybox")
        };
        assert!(denied(policy(&["image:*"]).check(&rw)).contains("no host path is granted"));
        let granted = policy(&["image:*", &format!("mount:{dir_text}")]);
        assert_eq!(
            granted.check(&rw).unwrap().binds,
            [format!("{}:/data", canonical.display())]
        );
        let read_only = policy(&["image:*", &format!("mount:{dir_text}:ro")]);
        assert!(denied(read_only.check(&rw)).contains("read-write is not allowed"));
        assert_eq!(
            read_only.check(&ro).unwrap().binds,
            [format!("{}:/data:ro", canonical.display())]
        );
        let outside = Request {
            mounts: vec![("/etc", "/data", true)],
            ..request("busybox")
        };
        assert!(denied(granted.check(&outside)).contains("mounting /etc"));
    }

    #[test]
    fn a_symlink_out_of_a_granted_path_is_denied() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("escape");
        std::os::unix::fs::symlink("/etc", &link).unwrap();
        let link_text = link.to_str().unwrap().to_string();
        let policy = policy(&["image:*", &format!("mount:{}", dir.path().display())]);
        let request = Request {
            mounts: vec![(&link_text, "/data", true)],
            ..request("busybox")
        };
        assert!(denied(policy.check(&request)).contains("resolved to /etc"));
    }

    #[test]
    fn malformed_grants_and_requests_are_refused() {
        let mut policy = DockerPolicy::default();
        for bad in [
            "busybox",
            "image:Bad",
            "mount:relative",
            "memory:lots",
            "cpus:-1",
            "x:y",
        ] {
            assert!(policy.allow(bad).is_err(), "{bad}");
        }
        let policy = self::policy(&["image:*"]);
        let relative = Request {
            mounts: vec![("data", "/data", false)],
            ..request("busybox")
        };
        assert!(matches!(policy.check(&relative), Err(Refusal::Invalid(_))));
        assert!(matches!(
            policy.check(&request("")),
            Err(Refusal::Invalid(_))
        ));
    }
}
