//! Secrets at execution time: `{{secret:NAME}}` in a job's `executor_config` replaced by
//! the value, the secrets an executor was granted handed to its `secrets` capability, and
//! every value used masked as `***` in the output that is stored.
//!
//! A job may reference any secret in its own `executor_config`; an executor reads one
//! through the `secrets` interface only when the grants name it. Values are read from the
//! store when an execution needs some, never for one that does not.

use std::collections::BTreeSet;

use super::{JobError, Scheduler};
use crate::capabilities::secrets::is_secret_name;
use crate::jobs::FieldError;
use crate::store::{SecretInfo, StoreError, TenantId};

/// How a reference starts and ends.
const OPEN: &str = "{{secret:";
const CLOSE: &str = "}}";

/// What masks a secret's value in stored output.
const MASK: &[u8] = b"***";

impl Scheduler {
    /// Sets a secret; `true` when it is new.
    pub async fn put_secret(
        &self,
        tenant: TenantId,
        name: &str,
        value: &str,
    ) -> Result<bool, JobError> {
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
        let stored = match &self.inner.config.secrets_keys {
            Some(keys) => keys.seal(tenant, name, value),
            None => value.to_string(),
        };
        Ok(self.inner.store.put_secret(tenant, name, &stored).await?)
    }

    /// Every secret's name and dates.
    pub async fn list_secrets(&self, tenant: TenantId) -> Result<Vec<SecretInfo>, StoreError> {
        self.inner.store.list_secrets(tenant).await
    }

    /// Deletes a secret; `false` when there was none.
    pub async fn delete_secret(&self, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
        self.inner.store.delete_secret(tenant, name).await
    }
}

/// The names `{{secret:NAME}}` references in `config`'s values, or the first malformed
/// reference, naming its key.
pub(super) fn references<'a>(
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
pub(super) fn substitute(
    key: &str,
    value: &str,
    values: &[(String, String)],
) -> Result<String, String> {
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
pub(super) fn mask(output: Vec<u8>, values: &[(String, String)]) -> Vec<u8> {
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
