//! Capabilities: everything an executor can reach outside its sandbox, one module each.
//!
//! Each module owns its policy type (what a grant allows), its per-execution state, the
//! host side of its WIT interface, and the one function that adds it to the linker, in the
//! spirit of Spin's factors. The runtime knows only [`Grants`], [`Shared`],
//! [`CapabilityStates`] and [`add_to_linker`]; adding a capability touches its module and
//! the lists below (a field in each struct, an arm in [`Grants::allow`], a line in
//! [`add_to_linker`]).
//!
//! A grant is written as `CAPABILITY=PATTERN` entries (`http=https://*.example.com`,
//! `process=/usr/bin/pg_dump`, `nats=127.0.0.1:4222/jobs.>`, `docker=image:localhost/busybox:*`):
//! the `--allow` flag of `exec` and `serve` takes them, and each capability's policy parses
//! its own patterns.
//!
//! Three modules are not capabilities but what several share: `net` (host and port
//! patterns, the non-public address rule, checked DNS resolution), `pool` (connections
//! kept across executions) and `call` (errors and timeouts of calls to servers).
//!
//! Invariants: a call outside the grant fails with an error that names the capability and
//! the target, and makes no connection and spawns nothing; no capability module imports
//! another; the default [`Grants`] allow nothing.

pub mod amqp;
mod call;
pub mod docker;
pub mod grpc;
pub mod http;
pub mod kafka;
pub mod nats;
pub mod net;
pub mod output;
mod pool;
pub mod process;
pub mod secrets;
pub mod wasi;

use wasmtime::component::Linker;

use crate::output::OutputSink;

/// What one execution may do: one policy per capability. The default grants nothing.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// Outgoing HTTP (`wasi:http/outgoing-handler`).
    pub http: http::HttpPolicy,
    /// Running programs on the host (`sandcron:executor/process`).
    pub process: process::ProcessPolicy,
    /// Reading secrets by name (`sandcron:executor/secrets`).
    pub secrets: secrets::SecretsPolicy,
    /// Running containers on the host's engine (`sandcron:executor/docker`).
    pub docker: docker::DockerPolicy,
    /// Publishing to NATS servers and subjects (`sandcron:executor/nats`).
    pub nats: nats::NatsPolicy,
    /// Publishing to AMQP brokers, exchanges and routing keys (`sandcron:executor/amqp`).
    pub amqp: amqp::AmqpPolicy,
    /// Producing to Kafka brokers and topics (`sandcron:executor/kafka`).
    pub kafka: kafka::KafkaPolicy,
    /// Calling gRPC servers and methods (`sandcron:executor/grpc`).
    pub grpc: grpc::GrpcPolicy,
}

/// The capabilities' names, as `--allow CAPABILITY=PATTERN` spells them.
pub const NAMES: &[&str] = &[
    "http", "process", "secrets", "docker", "nats", "amqp", "kafka", "grpc",
];

/// The capability each imported interface belongs to, by prefix of the import's name.
/// Interfaces not listed (`output`, `types`, WASI clocks, random, I/O, stdio) are given to
/// every execution.
const INTERFACES: &[(&str, &str)] = &[
    ("sandcron:executor/process@", "process"),
    ("sandcron:executor/secrets@", "secrets"),
    ("sandcron:executor/docker@", "docker"),
    ("sandcron:executor/nats@", "nats"),
    ("sandcron:executor/amqp@", "amqp"),
    ("sandcron:executor/kafka@", "kafka"),
    ("sandcron:executor/grpc@", "grpc"),
    ("sandcron:executor/http-cleanup@", "http"),
    ("wasi:http/", "http"),
];

/// The capabilities a component requests, from the names of its imports, sorted.
pub fn requested(imports: &[String]) -> Vec<&'static str> {
    let mut requested: Vec<&'static str> = imports
        .iter()
        .filter_map(|import| {
            INTERFACES
                .iter()
                .find(|(prefix, _)| import.starts_with(prefix))
                .map(|(_, capability)| *capability)
        })
        .collect();
    requested.sort_unstable();
    requested.dedup();
    requested
}

impl Grants {
    /// Widens the grant of `capability` by one pattern, in that capability's syntax. The
    /// error names the capability and what is wrong with the pattern.
    pub fn allow(&mut self, capability: &str, pattern: &str) -> Result<(), String> {
        match capability {
            "http" => self.http.allow(pattern),
            "process" => self.process.allow(pattern),
            "secrets" => self.secrets.allow(pattern),
            "docker" => self.docker.allow(pattern),
            "nats" => self.nats.allow(pattern),
            "amqp" => self.amqp.allow(pattern),
            "kafka" => self.kafka.allow(pattern),
            "grpc" => self.grpc.allow(pattern),
            _ => Err(format!(
                "unknown capability {capability:?} (known: {})",
                NAMES.join(", ")
            )),
        }
    }

    /// Whether the grant allows nothing at all of `capability` (every call will be denied).
    pub fn denies_all(&self, capability: &str) -> bool {
        match capability {
            "http" => self.http.is_empty(),
            "process" => self.process.allows_nothing(),
            "secrets" => self.secrets.is_empty(),
            "docker" => self.docker.allows_no_image(),
            "nats" => self.nats.is_empty(),
            "amqp" => self.amqp.is_empty(),
            "kafka" => self.kafka.is_empty(),
            "grpc" => self.grpc.is_empty(),
            _ => true,
        }
    }

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
                    format!("unknown capability (known: {})", NAMES.join(", ")),
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

    /// Narrows the grant to what `narrower` allows too, capability by capability: a call
    /// must pass both. Docker grants cannot be intersected pattern by pattern: a
    /// `narrower` that allows no image denies Docker, any other keeps this grant's.
    pub fn narrow(&mut self, narrower: &Grants) {
        self.http.narrow(narrower.http.clone());
        self.process = self.process.intersect(&narrower.process);
        self.secrets.narrow(&narrower.secrets);
        if narrower.docker.allows_no_image() {
            self.docker = docker::DockerPolicy::default();
        }
        self.nats.narrow(narrower.nats.clone());
        self.amqp.narrow(narrower.amqp.clone());
        self.kafka.narrow(narrower.kafka.clone());
        self.grpc.narrow(narrower.grpc.clone());
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

/// State shared by every execution of a process: connection pools and clients that
/// capabilities reuse across executions, one field per capability that keeps any. Built
/// once by the runtime.
#[derive(Clone, Debug, Default)]
pub struct Shared {
    /// The container engine's clients, and the removals running in the background.
    pub docker: docker::Engine,
    /// The `http-cleanup` requests being sent in the background.
    pub http_cleanup: http::cleanup::Background,
    /// Outgoing HTTP connections, kept per target (scheme, checked address, TLS name).
    http: http::HttpClient,
    /// NATS connections, one per server list and credentials.
    nats: nats::NatsPool,
    /// AMQP connections, one per broker URL.
    amqp: amqp::AmqpPool,
    /// Kafka producers, one per bootstrap list and security settings.
    kafka: kafka::KafkaPool,
    /// gRPC channels, one per server and TLS settings.
    grpc: grpc::GrpcPool,
}

impl Shared {
    /// Waits up to `within` for the work capabilities left running in the background
    /// (removing the container of a run that was dropped, sending `http-cleanup`
    /// requests). Call it before the process exits.
    pub async fn settle(&self, within: std::time::Duration) {
        tokio::join!(self.docker.settle(within), self.http_cleanup.settle(within));
    }
}

/// The per-execution state of every capability.
pub struct CapabilityStates {
    /// The `output` interface.
    pub output: output::OutputHost,
    /// The `process` interface.
    pub process: process::ProcessHost,
    /// The `secrets` interface.
    pub secrets: secrets::SecretsHost,
    /// The `docker` interface.
    pub docker: docker::DockerHost,
    /// The checks run on every outgoing HTTP request.
    pub http: http::HttpHooks,
    /// The `http-cleanup` interface.
    pub http_cleanup: http::cleanup::CleanupHost,
    /// The `nats` interface.
    pub nats: nats::NatsHost,
    /// The `amqp` interface.
    pub amqp: amqp::AmqpHost,
    /// The `kafka` interface.
    pub kafka: kafka::KafkaHost,
    /// The `grpc` interface.
    pub grpc: grpc::GrpcHost,
}

impl CapabilityStates {
    /// Fresh state for one execution that may do what `grants` allow, reusing the
    /// process-wide `shared` state.
    pub fn new(grants: &Grants, sink: &OutputSink, shared: &Shared) -> Self {
        Self {
            output: output::OutputHost::new(sink.clone()),
            process: process::ProcessHost::new(grants.process.clone(), sink.clone()),
            secrets: secrets::SecretsHost::new(grants.secrets.clone(), sink.clone()),
            docker: docker::DockerHost::new(
                grants.docker.clone(),
                shared.docker.clone(),
                sink.clone(),
            ),
            http: http::HttpHooks::new(grants.http.clone(), sink.clone(), shared.http.clone()),
            http_cleanup: http::cleanup::CleanupHost::new(
                grants.http.clone(),
                sink.clone(),
                shared.http_cleanup.clone(),
                shared.http.clone(),
            ),
            nats: nats::NatsHost::new(grants.nats.clone(), shared.nats.clone(), sink.clone()),
            amqp: amqp::AmqpHost::new(grants.amqp.clone(), shared.amqp.clone(), sink.clone()),
            kafka: kafka::KafkaHost::new(grants.kafka.clone(), shared.kafka.clone(), sink.clone()),
            grpc: grpc::GrpcHost::new(grants.grpc.clone(), shared.grpc.clone(), sink.clone()),
        }
    }
}

/// What a store's data must offer for the capabilities to be linked.
pub trait CapabilityView:
    wasmtime_wasi::WasiView + wasmtime_wasi_http::WasiHttpView + 'static
{
    /// The per-execution capability states.
    fn capabilities(&mut self) -> &mut CapabilityStates;
}

/// Adds every capability's interfaces to `linker`.
pub fn add_to_linker<T: CapabilityView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasi::add_to_linker(linker)?;
    output::add_to_linker(linker, |t: &mut T| &mut t.capabilities().output)?;
    process::add_to_linker(linker, |t: &mut T| &mut t.capabilities().process)?;
    secrets::add_to_linker(linker, |t: &mut T| &mut t.capabilities().secrets)?;
    docker::add_to_linker(linker, |t: &mut T| &mut t.capabilities().docker)?;
    http::add_to_linker(linker)?;
    http::cleanup::add_to_linker(linker, |t: &mut T| &mut t.capabilities().http_cleanup)?;
    nats::add_to_linker(linker, |t: &mut T| &mut t.capabilities().nats)?;
    amqp::add_to_linker(linker, |t: &mut T| &mut t.capabilities().amqp)?;
    kafka::add_to_linker(linker, |t: &mut T| &mut t.capabilities().kafka)?;
    grpc::add_to_linker(linker, |t: &mut T| &mut t.capabilities().grpc)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::http::Target;
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
            ("nats", &["127.0.0.1:4222/jobs.>"]),
        ]);
        let job = grants(&[
            (
                "http",
                &["https://api.example.com", "https://elsewhere.org"],
            ),
            ("secrets", &["token"]),
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
        let endpoint = Endpoint {
            host: "127.0.0.1",
            port: 4222,
        };
        assert!(tenant.nats.check(&endpoint, "jobs.a").is_ok());
        assert!(tenant.nats.check(&endpoint, "jobs.b").is_err());

        let mut narrow_tenant = grants(&[("secrets", &["a", "b"])]);
        narrow_tenant.narrow(&grants(&[("secrets", &["*"])]));
        assert!(narrow_tenant.secrets.allows("a") && !narrow_tenant.secrets.allows("c"));
        let mut nothing = grants(&[("http", &["https://api.example.com"])]);
        nothing.narrow(&Grants::default());
        assert!(nothing.denies_all("http"));
    }
}
