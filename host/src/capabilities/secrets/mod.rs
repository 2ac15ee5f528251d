//! The `secrets` capability: an execution reads the secrets it was granted, by name.
//!
//! The grant carries the names allowed (exact names, or `*` for every secret the caller
//! provides) and the values, resolved before the execution starts by whoever builds the
//! grant (the CLI's `--secret`, the store for a tenant's secrets). Values are never
//! printed: [`SecretsPolicy`]'s `Debug` shows names only. `sign` (in `sign.rs`) signs with
//! a key held in a granted secret, on the host.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

mod sign;

use wasmtime::component::{HasSelf, Linker};

use super::unit::{Capability, Holds, Policy};
use crate::bindings::secrets::{self as wit, Error, Host, SignError, SignatureAlgorithm};
use crate::output::OutputSink;

/// The unit: `sandcron:executor/secrets`, granted by names (`secrets=db-password`,
/// `secrets=*`).
pub struct Secrets;

impl Capability for Secrets {
    const NAME: &'static str = "secrets";
    const INTERFACES: &'static [&'static str] = &["sandcron:executor/secrets@"];
    type Policy = SecretsPolicy;
    type Shared = ();
    type State = SecretsHost;

    fn new_state(policy: &SecretsPolicy, sink: &OutputSink, _: &()) -> SecretsHost {
        SecretsHost::new(policy.clone(), sink.clone())
    }

    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<SecretsHost>>(linker, <T as Holds<Self>>::state)
    }
}

/// Name sets are intersected exactly.
impl Policy for SecretsPolicy {
    fn allow_pattern(&mut self, pattern: &str) -> Result<(), String> {
        self.allow(pattern)
    }

    fn narrow_to(&mut self, narrower: &Self) {
        self.narrow(narrower);
    }

    fn denies_all(&self) -> bool {
        self.is_empty()
    }
}

/// Which secrets an execution may read, and their values. The default allows none.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretsPolicy {
    allowed: Vec<String>,
    values: Arc<BTreeMap<String, String>>,
}

impl SecretsPolicy {
    /// Allows one more secret name; `*` allows every secret that has a value.
    pub fn allow(&mut self, name: &str) -> Result<(), String> {
        if name != "*" && !is_secret_name(name) {
            return Err(format!(
                "secret name {name:?}: use letters, digits, `-`, `_` and `.` (or `*` for all)"
            ));
        }
        self.allowed.push(name.to_string());
        Ok(())
    }

    /// Gives the value of `name`. A value alone grants nothing: the name must be allowed.
    pub fn provide(&mut self, name: &str, value: String) {
        Arc::make_mut(&mut self.values).insert(name.to_string(), value);
    }

    /// The names allowed (`*` for every secret).
    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    /// Narrows the names allowed to those `other` allows too.
    pub fn narrow(&mut self, other: &SecretsPolicy) {
        if other.allowed.iter().any(|name| name == "*") {
            return;
        }
        if self.allowed.iter().any(|name| name == "*") {
            self.allowed.clone_from(&other.allowed);
        } else {
            self.allowed.retain(|name| other.allowed.contains(name));
        }
    }

    /// Whether no secret at all may be read.
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    /// Whether `name` may be read.
    pub fn allows(&self, name: &str) -> bool {
        self.allowed.iter().any(|a| a == "*" || a == name)
    }

    /// The value of `name`, when it is allowed and has one.
    pub fn get(&self, name: &str) -> Result<&str, Error> {
        if !self.allows(name) {
            return Err(Error::Denied(format!(
                "secrets: secret {name:?} is not granted"
            )));
        }
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| Error::NotFound(format!("secrets: no secret called {name:?}")))
    }

    /// The values of every allowed secret, for masking them in output.
    pub fn granted_values(&self) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(|(name, _)| self.allows(name))
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for SecretsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsPolicy")
            .field("allowed", &self.allowed)
            .field("provided", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Whether `name` is a valid secret name.
pub fn is_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The host side of `sandcron:executor/secrets` for one execution.
pub struct SecretsHost {
    policy: SecretsPolicy,
    sink: OutputSink,
}

impl SecretsHost {
    /// Serves what `policy` allows; refusals are noted in `sink`.
    pub fn new(policy: SecretsPolicy, sink: OutputSink) -> Self {
        Self { policy, sink }
    }
}

impl SecretsHost {
    /// The value of `name`; a refusal is noted in the output.
    fn read(&self, name: &str) -> Result<&str, Error> {
        self.policy.get(name).inspect_err(|error| {
            if let Error::Denied(reason) = error {
                self.sink.host_note(reason);
            }
        })
    }
}

impl Host for SecretsHost {
    async fn get(&mut self, name: String) -> Result<String, Error> {
        self.read(&name).map(str::to_string)
    }

    async fn sign(
        &mut self,
        name: String,
        algorithm: SignatureAlgorithm,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, SignError> {
        let secret = self.read(&name).map_err(SignError::Secret)?.to_string();
        // A few milliseconds of CPU per signature: off the runtime's worker threads.
        tokio::task::spawn_blocking(move || sign::sign(&secret, algorithm, &data))
            .await
            .map_err(|e| SignError::InvalidKey(format!("secrets: signing stopped: {e}")))?
            .map_err(|why| SignError::InvalidKey(format!("secrets: secret {name:?}: {why}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_names_with_values_are_read() {
        let mut policy = SecretsPolicy::default();
        policy.provide("db-password", "hunter2".into());
        policy.provide("other", "x".into());
        assert!(matches!(policy.get("db-password"), Err(Error::Denied(_))));
        policy.allow("db-password").unwrap();
        assert_eq!(policy.get("db-password").unwrap(), "hunter2");
        assert!(matches!(policy.get("other"), Err(Error::Denied(_))));
        policy.allow("missing").unwrap();
        assert!(matches!(policy.get("missing"), Err(Error::NotFound(_))));
        assert_eq!(policy.granted_values().collect::<Vec<_>>(), ["hunter2"]);
    }

    #[tokio::test]
    async fn sign_is_held_to_the_same_grant_as_get() {
        let mut policy = SecretsPolicy::default();
        policy.provide("gcp-key", "not a key".into());
        policy.provide("other", "x".into());
        policy.allow("gcp-key").unwrap();
        policy.allow("missing").unwrap();
        let mut host = SecretsHost::new(policy, OutputSink::new(1024, None));
        let denied = host
            .sign("other".into(), SignatureAlgorithm::Rs256, b"x".to_vec())
            .await;
        assert!(
            matches!(denied, Err(SignError::Secret(Error::Denied(_)))),
            "{denied:?}"
        );
        let missing = host
            .sign("missing".into(), SignatureAlgorithm::Rs256, b"x".to_vec())
            .await;
        assert!(
            matches!(missing, Err(SignError::Secret(Error::NotFound(_)))),
            "{missing:?}"
        );
        let invalid = host
            .sign("gcp-key".into(), SignatureAlgorithm::Rs256, b"x".to_vec())
            .await;
        assert!(
            matches!(&invalid, Err(SignError::InvalidKey(t)) if !t.contains("not a key")),
            "{invalid:?}"
        );
    }

    #[test]
    fn debug_never_shows_values() {
        let mut policy = SecretsPolicy::default();
        policy.provide("token", "s3cr3t".into());
        assert!(!format!("{policy:?}").contains("s3cr3t"));
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(SecretsPolicy::default().allow("a b").is_err());
        assert!(SecretsPolicy::default().allow("*").is_ok());
    }
}
