//! Tenants: who owns jobs, executor uploads and secrets, what their executions may do and
//! how much they may use.
//!
//! [`Tenants`] is the service that owns the tenants' half of the store: tenants, their
//! tokens, grants and quotas, each tenant's policy as this node applies it, and the count
//! of its executions running here. The API checks tokens through it and the scheduler and
//! the executor registry apply grants and quotas through it.
//!
//! * `service`: the [`Tenants`] handle and [`TenantError`].
//! * `policy`: a tenant's grants and quotas as executions apply them, kept a few seconds.
//! * `running`: each tenant's executions running on this node, which
//!   `max_concurrent_executions` bounds.
//! * `tokens`: making API tokens and the hash they are stored by.
//! * `quotas`: a tenant's limits, as JSON, and the refusal that names one.
//! * [`grants_from_json`]: a tenant's grants, `{"CAPABILITY": ["PATTERN", …]}`, checked
//!   pattern by pattern with the syntax `--allow` uses.

mod policy;
mod quotas;
mod running;
mod service;
mod tokens;

pub use policy::TenantPolicy;
pub use quotas::{QUOTA_NAMES, QuotaExceeded, Quotas};
pub use running::{NodeShare, TenantSlot};
pub use service::{TenantError, Tenants};
pub use tokens::{TokenKind, hash_token, new_token};

use crate::capabilities::Grants;
use crate::jobs::FieldError;

/// The name of the operator's own tenant (id [`crate::store::DEFAULT_TENANT`]).
pub const DEFAULT_TENANT_NAME: &str = "default";

/// Checks a tenant name: a slug (lower-case letters, digits, `_`, `-`), at most 64 bytes.
pub fn check_tenant_name(name: &str) -> Result<(), FieldError> {
    crate::jobs::check_name(name)?;
    if name.len() > 64 {
        return Err(FieldError::new("name", "is longer than 64 bytes"));
    }
    Ok(())
}

/// A tenant's grants from their JSON form, `{"http": ["https://api.example.com"], …}`:
/// every key a capability (see [`crate::capabilities::NAMES`]), every value a list of that
/// capability's patterns. The error names the field (`grants.http[0]`).
pub fn grants_from_json(json: &serde_json::Value) -> Result<Grants, FieldError> {
    let object = json
        .as_object()
        .ok_or_else(|| FieldError::new("grants", "expected an object of CAPABILITY: [PATTERN]"))?;
    let mut lists = Vec::with_capacity(object.len());
    for (capability, patterns) in object {
        let field = format!("grants.{capability}");
        let patterns = patterns
            .as_array()
            .ok_or_else(|| FieldError::new(&field, "expected a list of patterns"))?;
        let patterns = patterns
            .iter()
            .enumerate()
            .map(|(index, pattern)| {
                pattern.as_str().ok_or_else(|| {
                    FieldError::new(format!("{field}[{index}]"), "expected a string")
                })
            })
            .collect::<Result<Vec<&str>, _>>()?;
        lists.push((capability.as_str(), patterns));
    }
    Grants::from_lists(lists)
        .map_err(|(entry, message)| FieldError::new(format!("grants.{entry}"), message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grants_parse_per_capability_and_errors_name_the_pattern() {
        let grants = grants_from_json(&json!({
            "http": ["http://127.0.0.1:*"],
            "secrets": ["TOKEN"],
        }))
        .unwrap();
        assert!(!grants.http.is_empty());
        assert!(grants.secrets.allows("TOKEN"));
        assert!(grants.denies_all("process"));

        let error = grants_from_json(&json!({"http": ["https://ok.example.com", 3]})).unwrap_err();
        assert_eq!(error.field, "grants.http[1]");
        let error = grants_from_json(&json!({"teleport": []})).unwrap_err();
        assert_eq!(error.field, "grants.teleport");
        assert!(grants_from_json(&json!(["http"])).is_err());
    }

    #[test]
    fn tenant_names_are_slugs() {
        assert!(check_tenant_name("acme-2").is_ok());
        assert!(check_tenant_name("Acme").is_err());
        assert!(check_tenant_name(&"a".repeat(65)).is_err());
    }
}
