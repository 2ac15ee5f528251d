//! Which programs an execution may run.

use std::path::{Path, PathBuf};

/// The programs a grant allows, compared as canonical paths once resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProcessPolicy {
    /// No program at all (the default).
    #[default]
    Nothing,
    /// Any program the host can find: how `sandcron exec` runs the built-in `shell`, as the
    /// machine's operator.
    Any,
    /// Only these programs (canonical paths).
    Only(Vec<PathBuf>),
}

impl ProcessPolicy {
    /// A policy allowing exactly `programs`: absolute paths, or names looked up in the
    /// host's `PATH`. Fails, naming the entry, when one cannot be found.
    pub fn only<S: AsRef<str>>(programs: &[S]) -> Result<Self, String> {
        let mut policy = Self::Only(Vec::with_capacity(programs.len()));
        for program in programs {
            policy.allow(program.as_ref())?;
        }
        Ok(policy)
    }

    /// Allows one more program (a path, or a name looked up in the host's `PATH`); `*`
    /// allows any program.
    pub fn allow(&mut self, program: &str) -> Result<(), String> {
        if program == "*" {
            *self = Self::Any;
            return Ok(());
        }
        let resolved =
            resolve(program, None).map_err(|e| format!("allowed program {program:?}: {e}"))?;
        match self {
            Self::Any => {}
            Self::Only(allowed) => allowed.push(resolved),
            Self::Nothing => *self = Self::Only(vec![resolved]),
        }
        Ok(())
    }

    /// What both policies allow: the programs in each.
    pub fn intersect(&self, other: &ProcessPolicy) -> ProcessPolicy {
        match (self, other) {
            (Self::Nothing, _) | (_, Self::Nothing) => Self::Nothing,
            (Self::Any, narrower) | (narrower, Self::Any) => narrower.clone(),
            (Self::Only(mine), Self::Only(theirs)) => {
                let both: Vec<PathBuf> = mine
                    .iter()
                    .filter(|program| theirs.contains(program))
                    .cloned()
                    .collect();
                if both.is_empty() {
                    Self::Nothing
                } else {
                    Self::Only(both)
                }
            }
        }
    }

    /// Resolves `program` (run from `cwd`) and checks it against the policy. Returns the
    /// path to execute, or the reason for refusing it.
    pub fn check(&self, program: &str, cwd: Option<&Path>) -> Result<PathBuf, Refusal> {
        if let Self::Nothing = self {
            return Err(Refusal::Denied(format!(
                "process: running {program} is not allowed: no program is granted"
            )));
        }
        let resolved = resolve(program, cwd).map_err(Refusal::NotFound)?;
        match self {
            Self::Any => Ok(resolved),
            Self::Only(allowed) if allowed.contains(&resolved) => Ok(resolved),
            _ => Err(Refusal::Denied(format!(
                "process: program {} is not allowed (resolved from {program:?})",
                resolved.display()
            ))),
        }
    }
}

/// Why a program may not run.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It is outside the policy.
    Denied(String),
    /// It does not exist or is not executable.
    NotFound(String),
}

/// Resolves a program name to its canonical path: a path containing `/` is taken relative
/// to `cwd`, a bare name is looked up in the host's `PATH`.
fn resolve(program: &str, cwd: Option<&Path>) -> Result<PathBuf, String> {
    if program.is_empty() {
        return Err("the program name is empty".into());
    }
    let found = if program.contains('/') {
        let path = Path::new(program);
        match cwd {
            Some(cwd) if path.is_relative() => cwd.join(path),
            _ => path.to_path_buf(),
        }
    } else {
        which::which(program).map_err(|_| format!("{program}: not found in PATH"))?
    };
    let canonical = found
        .canonicalize()
        .map_err(|e| format!("{}: {e}", found.display()))?;
    if !canonical.is_file() {
        return Err(format!("{}: not a file", canonical.display()));
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_granted_by_default() {
        let refusal = ProcessPolicy::default().check("sh", None).unwrap_err();
        assert!(matches!(refusal, Refusal::Denied(m) if m.contains("no program is granted")));
    }

    #[test]
    fn any_resolves_names_in_path() {
        let path = ProcessPolicy::Any.check("sh", None).unwrap();
        assert!(path.is_absolute());
    }

    #[test]
    fn only_allows_the_listed_programs_by_canonical_path() {
        let policy = ProcessPolicy::only(&["/bin/sh"]).unwrap();
        assert!(policy.check("sh", None).is_ok());
        let refusal = policy.check("true", None).unwrap_err();
        assert!(matches!(refusal, Refusal::Denied(m) if m.contains("is not allowed")));
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let refusal = ProcessPolicy::Any
            .check("no-such-program-anywhere", None)
            .unwrap_err();
        assert!(matches!(refusal, Refusal::NotFound(_)));
        assert!(ProcessPolicy::only(&["no-such-program-anywhere"]).is_err());
    }
}
