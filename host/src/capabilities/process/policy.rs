//! Which programs an execution may run, and what exactly runs.
//!
//! A program is known by its *path*: the directory it is in, with every symbolic link in
//! the directory part resolved, and its own file name as written. The file name is not
//! followed: on Debian `xzcat` and `unxz` are links to `xz`, and a multi-call program such
//! as `xz`, `busybox` or `hostname` acts on the name it is started under. So a grant of
//! `xzcat` allows `xzcat` (which runs `xz` as `xzcat`) and neither `xz` nor `unxz`; a link
//! the guest points at a granted program (`/tmp/x -> /usr/bin/xz`) is a different path and
//! is refused. The program then runs under exactly the name checked: the path checked is
//! the one executed, and its first argument is the name the caller wrote.
//!
//! What a path leads to is checked again when the program starts: the file executed must
//! be the one the check saw (same device and inode), so swapping a link or a file between
//! the check and the start makes the start fail rather than run something else.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a `process` grant allows: which programs, and which user they run as.
///
/// Written as `process=PROGRAM` entries (a path, a name looked up in the host's `PATH`, or
/// `*` for any program) and at most one `process=user:NAME`, the unprivileged user the
/// programs run as (see [`super::confine`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessPolicy {
    programs: Programs,
    user: Option<String>,
}

/// Which programs may run, compared by path (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Programs {
    /// No program at all (the default).
    #[default]
    Nothing,
    /// Any program the host can find.
    Any,
    /// Only these programs (paths with their directory resolved and their own name kept).
    Only(Vec<PathBuf>),
}

/// How a grant names the user programs run as: `process=user:NAME`.
const USER_PREFIX: &str = "user:";

impl ProcessPolicy {
    /// Any program the host can find: how `sandcron exec` runs the built-in `shell`, as the
    /// machine's operator.
    pub fn any() -> Self {
        Self {
            programs: Programs::Any,
            user: None,
        }
    }

    /// A policy allowing exactly `programs`: absolute paths, or names looked up in the
    /// host's `PATH`. Fails, naming the entry, when one cannot be found.
    pub fn only<S: AsRef<str>>(programs: &[S]) -> Result<Self, String> {
        let mut policy = Self::default();
        for program in programs {
            policy.allow(program.as_ref())?;
        }
        Ok(policy)
    }

    /// Allows one more program (a path, or a name looked up in the host's `PATH`); `*`
    /// allows any program; `user:NAME` makes the programs run as the user `NAME`.
    pub fn allow(&mut self, program: &str) -> Result<(), String> {
        if let Some(user) = program.strip_prefix(USER_PREFIX) {
            return self.run_as(user);
        }
        if program == "*" {
            self.programs = Programs::Any;
            return Ok(());
        }
        let resolved =
            resolve(program, None).map_err(|e| format!("allowed program {program:?}: {e}"))?;
        match &mut self.programs {
            Programs::Any => {}
            Programs::Only(allowed) => allowed.push(resolved.path),
            Programs::Nothing => self.programs = Programs::Only(vec![resolved.path]),
        }
        Ok(())
    }

    /// Makes the programs run as the user `name`, who must exist on this machine.
    pub fn run_as(&mut self, name: &str) -> Result<(), String> {
        super::confine::User::lookup(name)?;
        match &self.user {
            Some(other) if other != name => Err(format!(
                "{USER_PREFIX}{name}: programs already run as {other}; a grant names one user"
            )),
            _ => {
                self.user = Some(name.to_string());
                Ok(())
            }
        }
    }

    /// Makes the programs run as `name` unless the grant names a user itself: the
    /// server-wide setting under each tenant's own.
    pub fn run_as_by_default(&mut self, name: &str) {
        self.user.get_or_insert_with(|| name.to_string());
    }

    /// The user programs run as, if the grant names one (else the server's own).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Whether no program may run.
    pub fn allows_nothing(&self) -> bool {
        self.programs == Programs::Nothing
    }

    /// Whether any program may run (the `*` grant).
    pub fn allows_any(&self) -> bool {
        self.programs == Programs::Any
    }

    /// Widens the grant to any program, keeping its user.
    pub fn allow_any_program(&mut self) {
        self.programs = Programs::Any;
    }

    /// What both policies allow: the programs in each, run as this policy's user (a
    /// narrower grant, written by a tenant for its job, never picks the user).
    pub fn intersect(&self, other: &ProcessPolicy) -> ProcessPolicy {
        let programs = match (&self.programs, &other.programs) {
            (Programs::Nothing, _) | (_, Programs::Nothing) => Programs::Nothing,
            (Programs::Any, narrower) | (narrower, Programs::Any) => narrower.clone(),
            (Programs::Only(mine), Programs::Only(theirs)) => {
                let both: Vec<PathBuf> = mine
                    .iter()
                    .filter(|program| theirs.contains(program))
                    .cloned()
                    .collect();
                if both.is_empty() {
                    Programs::Nothing
                } else {
                    Programs::Only(both)
                }
            }
        };
        ProcessPolicy {
            programs,
            user: self.user.clone(),
        }
    }

    /// Resolves `program` (run from `cwd`) and checks it against the policy. Returns what
    /// to execute, or the reason for refusing it.
    pub fn check(&self, program: &str, cwd: Option<&Path>) -> Result<Program, Refusal> {
        if self.allows_nothing() {
            return Err(Refusal::Denied(format!(
                "process: running {program} is not allowed: no program is granted"
            )));
        }
        let resolved = resolve(program, cwd).map_err(Refusal::NotFound)?;
        match &self.programs {
            Programs::Only(allowed) if !allowed.contains(&resolved.path) => {
                Err(Refusal::Denied(format!(
                    "process: program {} is not allowed (resolved from {program:?})",
                    resolved.path.display()
                )))
            }
            _ => Ok(resolved),
        }
    }
}

/// A program that passed the check: what to execute, under which name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The path checked, its directory resolved and its own name kept: the one executed.
    pub path: PathBuf,
    /// The first argument it gets: the name the caller wrote (`xzcat`, `/usr/bin/xzcat`).
    pub argv0: String,
    /// Device and inode of the file the path led to when it was checked.
    pub file: (u64, u64),
}

/// Why a program may not run.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It is outside the policy.
    Denied(String),
    /// It does not exist or is not executable.
    NotFound(String),
}

/// Resolves a program name to its path (see the module doc): a name containing `/` is
/// taken relative to `cwd`, a bare name is looked up in the host's `PATH`; the directory
/// part is canonicalised, the file name kept.
fn resolve(program: &str, cwd: Option<&Path>) -> Result<Program, String> {
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
    let name = found
        .file_name()
        .filter(|_| !program.ends_with('/'))
        .ok_or_else(|| format!("{}: not a file", found.display()))?;
    let directory = match found.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let directory = directory
        .canonicalize()
        .map_err(|e| format!("{}: {e}", directory.display()))?;
    let path = directory.join(name);
    let metadata = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("{}: not a file", path.display()));
    }
    Ok(Program {
        path,
        argv0: program.to_string(),
        file: (metadata.dev(), metadata.ino()),
    })
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
        let program = ProcessPolicy::any().check("sh", None).unwrap();
        assert!(program.path.is_absolute());
    }

    #[test]
    fn only_allows_the_listed_programs_by_path() {
        let policy = ProcessPolicy::only(&["/bin/sh"]).unwrap();
        let sh = policy.check("sh", None).unwrap();
        assert_eq!(sh.argv0, "sh");
        let refusal = policy.check("true", None).unwrap_err();
        assert!(matches!(refusal, Refusal::Denied(m) if m.contains("is not allowed")));
    }

    /// A directory with `real` (a file) and `alias -> real`, as Debian's `xzcat -> xz`.
    fn program_and_alias() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real"), "#!/bin/sh\n").unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("alias")).unwrap();
        dir
    }

    #[test]
    fn a_granted_alias_runs_under_its_own_name_and_allows_neither_its_target_nor_siblings() {
        let dir = program_and_alias();
        let alias = dir.path().join("alias");
        let policy = ProcessPolicy::only(&[alias.to_str().unwrap()]).unwrap();
        let program = policy.check(alias.to_str().unwrap(), None).unwrap();
        assert_eq!(program.path.file_name().unwrap(), "alias");
        assert_eq!(program.argv0, alias.to_str().unwrap());
        let real = dir.path().join("real");
        let refusal = policy.check(real.to_str().unwrap(), None).unwrap_err();
        assert!(matches!(refusal, Refusal::Denied(_)), "{refusal:?}");
    }

    #[test]
    fn a_link_to_a_granted_program_is_another_program() {
        let dir = program_and_alias();
        let real = dir.path().join("real");
        let policy = ProcessPolicy::only(&[real.to_str().unwrap()]).unwrap();
        let alias = dir.path().join("alias");
        let refusal = policy.check(alias.to_str().unwrap(), None).unwrap_err();
        assert!(matches!(refusal, Refusal::Denied(_)), "{refusal:?}");
    }

    #[test]
    fn links_in_the_directory_part_are_resolved() {
        let dir = program_and_alias();
        let linked_dir = dir.path().join("linked");
        std::os::unix::fs::symlink(dir.path(), &linked_dir).unwrap();
        let policy = ProcessPolicy::only(&[dir.path().join("alias").to_str().unwrap()]).unwrap();
        let through_link = linked_dir.join("alias");
        let program = policy.check(through_link.to_str().unwrap(), None).unwrap();
        assert_eq!(
            program.path,
            dir.path().canonicalize().unwrap().join("alias")
        );
        let relative = policy.check("./alias", Some(dir.path())).unwrap();
        assert_eq!(relative.path, program.path);
        assert_eq!(relative.argv0, "./alias");
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let refusal = ProcessPolicy::any()
            .check("no-such-program-anywhere", None)
            .unwrap_err();
        assert!(matches!(refusal, Refusal::NotFound(_)));
        assert!(ProcessPolicy::only(&["no-such-program-anywhere"]).is_err());
    }

    #[test]
    fn a_grant_names_one_user_and_a_narrower_grant_never_picks_it() {
        let mut tenant = ProcessPolicy::only(&["/bin/sh", "user:nobody"]).unwrap();
        assert_eq!(tenant.user(), Some("nobody"));
        assert!(
            tenant
                .allow("user:daemon")
                .unwrap_err()
                .contains("one user")
        );
        assert!(tenant.allow("user:no-such-user-here").is_err());
        let job = ProcessPolicy::only(&["/bin/sh", "user:daemon"]).unwrap();
        assert_eq!(tenant.intersect(&job).user(), Some("nobody"));
        let mut unset = ProcessPolicy::only(&["/bin/sh"]).unwrap();
        unset.run_as_by_default("nobody");
        assert_eq!(unset.user(), Some("nobody"));
        tenant.run_as_by_default("daemon");
        assert_eq!(tenant.user(), Some("nobody"), "the tenant's own user wins");
    }
}
