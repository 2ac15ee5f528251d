//! Secrets: each tenant's named values, and the secrets' half of the store.
//!
//! Values are write-only: they can be set, listed by name and deleted, never read back
//! over the API. At execution time, `{{secret:NAME}}` in a job's `executor_config` is
//! replaced by the value, the secrets an executor was granted are handed to its `secrets`
//! capability, and every value used is masked as `***` in the output that is stored.
//!
//! A job may reference any secret in its own `executor_config`; an executor reads one
//! through the `secrets` interface only when the grants name it. Values are read from the
//! store when an execution needs some, never for one that does not.
//!
//! Values are stored sealed with the [`SecretsKeys`] the service is given (`serve` always
//! gives them; see [`crate::secrets_at_rest`]) and opened when an execution reads them.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::capabilities::secrets::{SecretsPolicy, is_secret_name};
use crate::jobs::FieldError;
use crate::secrets_at_rest::SecretsKeys;
use crate::store::{SecretInfo, SecretStore, StoreError, TenantId};

/// How a reference starts and ends.
const OPEN: &str = "{{secret:";
const CLOSE: &str = "}}";

/// What masks a secret's value in stored output.
const MASK: &[u8] = b"***";

/// The WIT interface an executor reads granted secrets through (any version).
const SECRETS_INTERFACE: &str = "sandcron:executor/secrets@";

/// The handle to the tenants' secrets. Cheap to clone.
#[derive(Clone)]
pub struct Secrets {
    store: Arc<dyn SecretStore>,
    /// What values are sealed with in the store; `None` stores them as given.
    keys: Option<Arc<SecretsKeys>>,
}

/// Why a secret was not set.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A bad name or value (HTTP 400): names the field.
    #[error("{0}")]
    Invalid(#[from] FieldError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The secret values one execution used, to be masked in what it leaves behind.
#[derive(Debug, Default)]
pub struct UsedSecrets {
    values: Vec<(String, String)>,
}

impl UsedSecrets {
    /// `output` with every occurrence of each value used replaced by `***`.
    pub fn mask(&self, output: Vec<u8>) -> Vec<u8> {
        mask(output, &self.values)
    }
}

impl Secrets {
    /// The secrets kept in `store`, sealed with `keys` (`None`: stored as given).
    pub fn new(store: Arc<dyn SecretStore>, keys: Option<Arc<SecretsKeys>>) -> Self {
        Self { store, keys }
    }

    /// Sets a secret; `true` when it is new.
    pub async fn put(
        &self,
        tenant: TenantId,
        name: &str,
        value: &str,
    ) -> Result<bool, SecretError> {
        if !is_secret_name(name) {
            return Err(FieldError::new(
                "name",
                format!("{name:?}: use letters, digits, `-`, `_` and `.` (at most 128)"),
            )
            .into());
        }
        if value.is_empty() {
            return Err(FieldError::new("value", "is empty").into());
        }
        let stored = match &self.keys {
            Some(keys) => keys.seal(tenant, name, value),
            None => value.to_string(),
        };
        Ok(self.store.put_secret(tenant, name, &stored).await?)
    }

    /// Every secret's name and dates.
    pub async fn list(&self, tenant: TenantId) -> Result<Vec<SecretInfo>, StoreError> {
        self.store.list_secrets(tenant).await
    }

    /// Deletes a secret; `false` when there was none.
    pub async fn delete(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
        self.store.delete_secret(tenant, name).await
    }

    /// Fills in the secrets of one execution of `tenant`: each `{{secret:NAME}}` in
    /// `executor_config` replaced by its value, and the secrets `granted` allows given
    /// their values when the component (importing `imports`) reads secrets. Returns every
    /// value used, to be masked; the error says which reference is malformed or missing.
    /// The store is read only when secrets are used.
    pub async fn fill(
        &self,
        tenant: TenantId,
        executor_config: &mut [(String, String)],
        granted: &mut SecretsPolicy,
        imports: &[String],
    ) -> Result<UsedSecrets, String> {
        let referenced = references(executor_config.iter().map(|(k, v)| (k, v)))?;
        let reads_secrets = !granted.is_empty()
            && imports
                .iter()
                .any(|import| import.starts_with(SECRETS_INTERFACE));
        if referenced.is_empty() && !reads_secrets {
            return Ok(UsedSecrets::default());
        }
        let mut wanted: Vec<String> = referenced.into_iter().collect();
        if reads_secrets {
            if granted.allowed().iter().any(|name| name == "*") {
                let all = self.store.list_secrets(tenant).await;
                wanted.extend(
                    all.map_err(|e| format!("cannot read secrets: {e}"))?
                        .into_iter()
                        .map(|s| s.name),
                );
            } else {
                wanted.extend(granted.allowed().iter().cloned());
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        let mut values = self
            .store
            .secret_values(tenant, &wanted)
            .await
            .map_err(|e| format!("cannot read secrets: {e}"))?;
        if let Some(keys) = &self.keys {
            for (name, value) in &mut values {
                *value = keys
                    .open(tenant, name, value)
                    .map_err(|e| format!("cannot read secret {name}: {e}"))?;
            }
        }
        for (key, value) in executor_config.iter_mut() {
            if value.contains(OPEN) {
                *value = substitute(key, value, &values)?;
            }
        }
        for (name, value) in &values {
            granted.provide(name, value.clone());
        }
        Ok(UsedSecrets { values })
    }

    /// Seals again every stored value of `tenants` that is plaintext or sealed under an
    /// older key, each with a compare-and-set (a value changed meanwhile is left to its
    /// writer); returns how many were sealed. A value that does not open is logged and
    /// left as it is. Nothing without keys.
    pub async fn seal_stored(&self, tenants: &[TenantId]) -> Result<usize, StoreError> {
        let Some(keys) = &self.keys else {
            return Ok(0);
        };
        let mut sealed = 0;
        for &tenant in tenants {
            let names: Vec<String> = self
                .store
                .list_secrets(tenant)
                .await?
                .into_iter()
                .map(|secret| secret.name)
                .collect();
            for (name, stored) in self.store.secret_values(tenant, &names).await? {
                if !keys.needs_sealing(&stored) {
                    continue;
                }
                let value = match keys.open(tenant, &name, &stored) {
                    Ok(value) => value,
                    Err(error) => {
                        tracing::warn!(tenant, name, %error, "a secret cannot be sealed again");
                        continue;
                    }
                };
                let resealed = keys.seal(tenant, &name, &value);
                if self
                    .store
                    .replace_secret_value(tenant, &name, &stored, &resealed)
                    .await?
                {
                    sealed += 1;
                }
            }
        }
        if sealed > 0 {
            tracing::info!(sealed, key = keys.current_id(), "sealed secret values");
        }
        Ok(sealed)
    }
}

/// The names `{{secret:NAME}}` references in `config`'s values, or the first malformed
/// reference, naming its key.
fn references<'a>(
    config: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    for (key, value) in config {
        let mut rest = value.as_str();
        while let Some(start) = rest.find(OPEN) {
            let after = &rest[start + OPEN.len()..];
            let Some(end) = after.find(CLOSE) else {
                return Err(format!("executor_config.{key}: `{OPEN}` without `{CLOSE}`"));
            };
            let name = &after[..end];
            if !is_secret_name(name) {
                return Err(format!(
                    "executor_config.{key}: {name:?} is not a secret name"
                ));
            }
            names.insert(name.to_string());
            rest = &after[end + CLOSE.len()..];
        }
    }
    Ok(names)
}

/// `value` with each `{{secret:NAME}}` replaced from `values`; the error names the first
/// secret that has none.
fn substitute(key: &str, value: &str, values: &[(String, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after.find(CLOSE).unwrap_or(after.len());
        let name = &after[..end];
        let secret = values
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| format!("executor_config.{key}: there is no secret called {name:?}"))?;
        out.push_str(&secret.1);
        rest = after.get(end + CLOSE.len()..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

/// `output` with every occurrence of each value replaced by `***`.
fn mask(output: Vec<u8>, values: &[(String, String)]) -> Vec<u8> {
    let mut output = output;
    for (_, value) in values {
        let needle = value.as_bytes();
        if needle.is_empty() || output.len() < needle.len() {
            continue;
        }
        let mut masked = Vec::with_capacity(output.len());
        let mut i = 0;
        while i < output.len() {
            if output[i..].starts_with(needle) {
                masked.extend_from_slice(MASK);
                i += needle.len();
            } else {
                masked.push(output[i]);
                i += 1;
            }
        }
        output = masked;
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn references_are_found_substituted_and_masked() {
        let config = config(&[
            ("url", "https://{{secret:user}}:{{secret:pass}}@db"),
            ("x", "plain"),
        ]);
        let names = references(config.iter().map(|(k, v)| (k, v))).unwrap();
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["pass", "user"]);
        let values = vec![
            ("user".to_string(), "ann".to_string()),
            ("pass".to_string(), "hunter2".to_string()),
        ];
        assert_eq!(
            substitute("url", &config[0].1, &values).unwrap(),
            "https://ann:hunter2@db"
        );
        assert_eq!(
            mask(b"login ann with hunter2, hunter2!".to_vec(), &values),
            b"login *** with ***, ***!"
        );
    }

    #[test]
    fn bad_and_missing_references_name_the_key() {
        let bad = config(&[("cmd", "echo {{secret:oops")]);
        assert!(
            references(bad.iter().map(|(k, v)| (k, v)))
                .unwrap_err()
                .starts_with("executor_config.cmd:")
        );
        let missing = substitute("cmd", "echo {{secret:nope}}", &[]).unwrap_err();
        assert_eq!(
            missing,
            "executor_config.cmd: there is no secret called \"nope\""
        );
    }
}
