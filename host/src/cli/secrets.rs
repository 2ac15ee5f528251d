//! The `--secret NAME=VALUE` flag of `exec` and `serve`: a secret granted to the
//! executions by name, its value given inline or, as `NAME=@FILE`, read from a file so it
//! stays out of the process list and the shell history.

use super::CliError;
use crate::capabilities::Grants;

/// Grants each `NAME=VALUE` (or `NAME=@FILE`) entry as a secret.
pub fn grant(grants: &mut Grants, entries: &[String]) -> Result<(), CliError> {
    for entry in entries {
        let Some((name, value)) = entry.split_once('=').filter(|(name, _)| !name.is_empty()) else {
            return Err(CliError::Usage(format!(
                "--secret {:?}: expected NAME=VALUE or NAME=@FILE",
                entry
                    .split_once('=')
                    .map_or(entry.as_str(), |(name, _)| name)
            )));
        };
        let value = match value.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                CliError::Usage(format!("--secret {name}: cannot read {path}: {e}"))
            })?,
            None => value.to_string(),
        };
        grants
            .secrets
            .allow(name)
            .map_err(|e| CliError::Usage(format!("--secret: {e}")))?;
        grants.secrets.provide(name, value);
    }
    Ok(())
}
