//! Capabilities: everything an executor can reach outside its sandbox, one unit each.
//!
//! A unit owns everything about itself, in the spirit of Spin's factors: its name, the
//! imports it serves, its policy type (what a grant allows, parsed from patterns), its
//! process-wide shared state, its per-execution state, and how it is linked. Each
//! implements [`Capability`] (`unit.rs`), and the declaration below lists them once;
//! `declare.rs` generates from it [`Grants`], [`NAMES`], the interfaces each capability
//! owns, [`Shared`], [`CapabilityStates`] and [`add_to_linker`]. The runtime knows only
//! those. Adding a capability is its folder, its `mod` line and its line in the
//! declaration.
//!
//! Two units are given to every execution and granted nothing: `wasi` (clocks, random,
//! stdio into the output; no files, sockets or environment) and `output`. The others are
//! granted by `CAPABILITY=PATTERN` entries (`http=https://*.example.com`,
//! `process=/usr/bin/pg_dump`, `nats=127.0.0.1:4222/jobs.>`, `docker=image:localhost/busybox:*`):
//! the `--allow` flag of `exec` and `serve` takes them, and each capability's policy parses
//! its own patterns. The heavy ones (`docker`, `nats`, `amqp`, `kafka`, `grpc`) sit behind
//! the cargo feature of their name, on by default: without it the capability is left out,
//! and a component importing it is refused at load.
//!
//! Three modules are not units but plumbing several share: `net` (host and port patterns,
//! the non-public address rule, checked DNS resolution), `pool` (connections kept across
//! executions) and `call` (errors and timeouts of calls to servers).
//!
//! Invariants: a call outside the grant fails with an error that names the capability and
//! the target, and makes no connection and spawns nothing; a unit's module imports only
//! its own submodules, the plumbing and `unit`, never another unit (a test below reads
//! the sources to check it); the default [`Grants`] allow nothing.

pub mod call;
mod declare;
pub mod net;
pub mod pool;
pub mod unit;

pub mod output;
pub mod wasi;

#[cfg(feature = "amqp")]
pub mod amqp;
#[cfg(feature = "docker")]
pub mod docker;
#[cfg(feature = "grpc")]
pub mod grpc;
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "nats")]
pub mod nats;
pub mod process;
pub mod secrets;

use wasmtime::component::Linker;

use crate::output::OutputSink;
pub use unit::{Capability, CapabilityView, Holds, Policy, SharedState};

declare::declare_units! {
    given: {
        wasi: wasi::Wasi,
        output: output::Output,
    }
    granted: {
        http: http::Http,
        process: process::Process,
        secrets: secrets::Secrets,
        #[cfg(feature = "docker")] docker: docker::Docker,
        #[cfg(feature = "nats")] nats: nats::Nats,
        #[cfg(feature = "amqp")] amqp: amqp::Amqp,
        #[cfg(feature = "kafka")] kafka: kafka::Kafka,
        #[cfg(feature = "grpc")] grpc: grpc::Grpc,
    }
}

/// The capabilities a component requests, from the names of its imports, sorted.
/// Imports no capability owns (`output`, `types`, WASI clocks, random, I/O, stdio) are
/// given to every execution.
pub fn requested(imports: &[String]) -> Vec<&'static str> {
    let mut requested: Vec<&'static str> = imports
        .iter()
        .filter_map(|import| {
            INTERFACES
                .iter()
                .find(|(_, prefixes)| prefixes.iter().any(|p| import.starts_with(p)))
                .map(|(capability, _)| *capability)
        })
        .collect();
    requested.sort_unstable();
    requested.dedup();
    requested
}

/// Why a component cannot be linked in this build, when it imports the interface of a
/// capability the build leaves out ([`LEFT_OUT`]).
pub fn left_out(imports: &[String]) -> Option<String> {
    imports.iter().find_map(|import| {
        let name = import
            .strip_prefix("sandcron:executor/")?
            .split('@')
            .next()?;
        LEFT_OUT
            .contains(&name)
            .then(|| format!("`{import}`: {}", left_out_of_build(name)))
    })
}

/// Says that `capability` is left out of this build.
fn left_out_of_build(capability: &str) -> String {
    format!(
        "the {capability} capability is left out of this build of sandcron \
         (built without the cargo feature `{capability}`)"
    )
}

/// The refusal of a capability name that is not in this build; `named` says whether the
/// message must name it (it is the field otherwise).
fn unknown_capability(capability: &str, named: bool) -> String {
    if LEFT_OUT.contains(&capability) {
        left_out_of_build(capability)
    } else if named {
        format!(
            "unknown capability {capability:?} (known: {})",
            NAMES.join(", ")
        )
    } else {
        format!("unknown capability (known: {})", NAMES.join(", "))
    }
}

impl Grants {
    /// Grants from lists of patterns by capability, as tenants' and jobs' JSON give
    /// them (`{"http": ["https://api.example.com"]}`). The error gives the entry
    /// (`http[0]`, or the capability alone when it is unknown) and what is wrong.
    pub fn from_lists<'a, P>(
        lists: impl IntoIterator<Item = (&'a str, P)>,
    ) -> Result<Grants, (String, String)>
    where
        P: IntoIterator<Item = &'a str>,
    {
        let mut grants = Grants::default();
        for (capability, patterns) in lists {
            if !NAMES.contains(&capability) {
                return Err((
                    capability.to_string(),
                    unknown_capability(capability, false),
                ));
            }
            for (index, pattern) in patterns.into_iter().enumerate() {
                grants
                    .allow(capability, pattern)
                    .map_err(|e| (format!("{capability}[{index}]"), e))?;
            }
        }
        Ok(grants)
    }

    /// Widens the grant by `CAPABILITY=PATTERN` entries, as the `--allow` flag gives them.
    pub fn allow_all<S: AsRef<str>>(&mut self, entries: &[S]) -> Result<(), String> {
        for entry in entries {
            let entry = entry.as_ref();
            let (capability, pattern) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?}: expected CAPABILITY=PATTERN"))?;
            self.allow(capability.trim(), pattern.trim())
                .map_err(|e| format!("{capability}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::http::Target;
    #[cfg(feature = "nats")]
    use super::net::Endpoint;
    use super::*;

    fn grants(lists: &[(&str, &[&str])]) -> Grants {
        Grants::from_lists(lists.iter().map(|(c, p)| (*c, p.iter().copied()))).unwrap()
    }

    #[test]
    fn from_lists_names_the_entry_that_is_wrong() {
        let error = Grants::from_lists([("http", ["https://ok.example.com", "not a pattern"])])
            .unwrap_err();
        assert_eq!(error.0, "http[1]");
        let error = Grants::from_lists([("teleport", Vec::<&str>::new())]).unwrap_err();
        assert_eq!(error.0, "teleport");
    }

    #[test]
    fn narrowing_allows_only_what_both_grants_allow() {
        let mut tenant = grants(&[
            ("http", &["https://*.example.com"]),
            ("secrets", &["*"]),
            ("process", &["*"]),
            #[cfg(feature = "nats")]
            ("nats", &["127.0.0.1:4222/jobs.>"]),
        ]);
        let job = grants(&[
            (
                "http",
                &["https://api.example.com", "https://elsewhere.org"],
            ),
            ("secrets", &["token"]),
            #[cfg(feature = "nats")]
            ("nats", &["127.0.0.1:4222/jobs.a"]),
        ]);
        tenant.narrow(&job);
        let target = |host| Target {
            scheme: "https",
            host,
            port: 443,
        };
        assert!(tenant.http.check_target(&target("api.example.com")).is_ok());
        assert!(
            tenant
                .http
                .check_target(&target("www.example.com"))
                .is_err()
        );
        assert!(tenant.http.check_target(&target("elsewhere.org")).is_err());
        assert!(tenant.secrets.allows("token"));
        assert!(!tenant.secrets.allows("other"));
        assert!(tenant.process.allows_nothing());
        assert!(tenant.denies_all("docker"));
        #[cfg(feature = "nats")]
        {
            let endpoint = Endpoint {
                host: "127.0.0.1",
                port: 4222,
            };
            assert!(tenant.nats.check(&endpoint, "jobs.a").is_ok());
            assert!(tenant.nats.check(&endpoint, "jobs.b").is_err());
        }

        let mut narrow_tenant = grants(&[("secrets", &["a", "b"])]);
        narrow_tenant.narrow(&grants(&[("secrets", &["*"])]));
        assert!(narrow_tenant.secrets.allows("a") && !narrow_tenant.secrets.allows("c"));
        let mut nothing = grants(&[("http", &["https://api.example.com"])]);
        nothing.narrow(&Grants::default());
        assert!(nothing.denies_all("http"));
    }

    #[test]
    fn left_out_capabilities_are_refused_by_name() {
        for name in LEFT_OUT {
            let why = Grants::default().allow(name, "x").unwrap_err();
            assert!(why.contains("left out of this build"), "{why}");
            let import = format!("sandcron:executor/{name}@0.1.0");
            assert!(left_out(&[import]).is_some());
        }
        let imports = ["sandcron:executor/process@0.1.0".to_string()];
        assert_eq!(left_out(&imports), None);
        assert_eq!(requested(&imports), ["process"]);
    }

    /// A unit's source (its file, or every file of its folder), by unit name.
    fn unit_sources(root: &std::path::Path, name: &str) -> Vec<(std::path::PathBuf, String)> {
        let file = root.join(format!("{name}.rs"));
        let mut files = if file.exists() {
            vec![file]
        } else {
            Vec::new()
        };
        let mut folders = vec![root.join(name)];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        assert!(!files.is_empty(), "no source found for the unit {name}");
        files
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path).unwrap();
                (path, text)
            })
            .collect()
    }

    #[test]
    fn no_unit_imports_another() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capabilities");
        let units: Vec<&str> = UNITS.iter().chain(LEFT_OUT).copied().collect();
        for unit in &units {
            for (path, text) in unit_sources(&root, unit) {
                // The path from this file's module up to `capabilities`: `super::` from
                // `x.rs` and `x/mod.rs`, `super::super::` from `x/y.rs`.
                let relative = path.strip_prefix(&root).unwrap();
                let mut depth = relative.components().count();
                if relative.ends_with("mod.rs") {
                    depth -= 1;
                }
                let parent = "super::".repeat(depth);
                for other in units.iter().filter(|other| *other != unit) {
                    for prefix in ["capabilities::", parent.as_str()] {
                        let path_to_other = format!("{prefix}{other}");
                        let imports_it = text.match_indices(&path_to_other).any(|(at, _)| {
                            !text[at + path_to_other.len()..]
                                .starts_with(|c: char| c.is_alphanumeric() || c == '_')
                        });
                        let in_group = text.match_indices(&format!("{prefix}{{")).any(|(at, m)| {
                            let group = &text[at + m.len()..];
                            let group = &group[..group.find('}').unwrap_or(group.len())];
                            group
                                .split(',')
                                .any(|item| item.trim().split("::").next() == Some(other))
                        });
                        assert!(
                            !imports_it && !in_group,
                            "{} (unit {unit}) imports the unit {other}: move what they share \
                             into the plumbing (net, pool, call)",
                            path.display()
                        );
                    }
                }
            }
        }
    }
}
