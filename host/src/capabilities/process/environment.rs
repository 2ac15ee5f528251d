//! Which environment variables a granted program may be given.
//!
//! A grant names a program, and the guest chooses its arguments and environment. Some
//! variables change what code runs in *any* dynamically linked program, whatever it is:
//! the loader preloads, audits or searches libraries they name (`LD_PRELOAD`, `LD_AUDIT`,
//! `LD_LIBRARY_PATH`, …), and the C library loads converters, locales, message catalogues,
//! resolver settings, malloc tracing or tunables from paths they name. Through them, a
//! tenant granted `/bin/echo` could run any library on the machine as the server's user
//! (glibc's `libmemusage.so` writes a file the caller names). They are the variables glibc
//! itself strips when it starts a set-user-ID program (`sysdeps/generic/unsecvars.h`), for
//! the same reason: the caller is less trusted than the program runs.
//!
//! A command that sets one is refused, naming the variable, rather than run without it:
//! a job that silently ran differently from what its author wrote would be harder to
//! understand than one that fails saying why. An administrator who needs such a variable
//! grants a wrapper script that sets it. Under the `*` grant (any program, as the
//! operator's own shell jobs run) nothing is refused but malformed names: a caller who may
//! run any program gains nothing from these variables.

/// Names the C library reads a path or loader-level setting from: glibc's list of
/// variables unsafe across a privilege boundary, without the `LD_` and `MALLOC_` ones,
/// which [`REFUSED_PREFIXES`] cover whole.
const REFUSED_NAMES: &[&str] = &[
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TMPDIR",
    "TZDIR",
];

/// Whole families: every dynamic loader setting (glibc's and musl's `LD_PRELOAD`,
/// `LD_AUDIT`, `LD_LIBRARY_PATH`, `LD_DEBUG_OUTPUT`, `LD_PROFILE`, …, including names a
/// future loader adds) and glibc's malloc settings (`MALLOC_TRACE` writes a file it names;
/// the others tune the allocator of a program the tenant does not own).
const REFUSED_PREFIXES: &[&str] = &["LD_", "MALLOC_"];

/// Whether the loader or the C library would read `name` to load code or files from a
/// path the caller chooses.
pub fn is_loader_variable(name: &str) -> bool {
    REFUSED_NAMES.contains(&name) || REFUSED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Checks a command's environment: every name must be a valid name (not empty, no `=`,
/// no NUL: `LD_PRELOAD=/x` as a *name* would otherwise set `LD_PRELOAD`), no value may hold
/// a NUL, and unless `loader_variables_allowed`, no name may be a loader variable. The
/// error names the variable.
pub fn check(env: &[(String, String)], loader_variables_allowed: bool) -> Result<(), String> {
    for (name, value) in env {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(format!(
                "process: environment variable name {name:?} is not valid \
                 (it must be non-empty, without `=` or NUL)"
            ));
        }
        if value.contains('\0') {
            return Err(format!(
                "process: the value of environment variable {name} holds a NUL byte"
            ));
        }
        if !loader_variables_allowed && is_loader_variable(name) {
            return Err(format!(
                "process: environment variable {name} is refused: it makes the loader or \
                 the C library load code or files from a path the caller chooses \
                 (to use it, an administrator grants a wrapper script that sets it)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn loader_and_c_library_variables_are_refused_by_name() {
        for name in [
            "LD_PRELOAD",
            "LD_AUDIT",
            "LD_LIBRARY_PATH",
            "LD_DEBUG_OUTPUT",
            "LD_PROFILE",
            "LD_SOMETHING_NEW",
            "MALLOC_TRACE",
            "MALLOC_CHECK_",
            "GCONV_PATH",
            "GLIBC_TUNABLES",
            "LOCPATH",
            "NLSPATH",
            "HOSTALIASES",
            "RES_OPTIONS",
            "TMPDIR",
            "TZDIR",
        ] {
            let error = check(&env(&[("PATH", "/bin"), (name, "/x")]), false).unwrap_err();
            assert!(
                error.contains(&format!("variable {name} is refused")),
                "{error}"
            );
        }
    }

    #[test]
    fn ordinary_variables_pass() {
        let ordinary = env(&[
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/root"),
            ("LANG", "C.UTF-8"),
            ("TZ", "Europe/Paris"),
            ("MEMUSAGE_OUTPUT", "/tmp/x"),
            ("ld_preload", "/x"),
            ("OLD_PRELOAD", "/x"),
        ]);
        assert_eq!(check(&ordinary, false), Ok(()));
    }

    #[test]
    fn a_name_holding_an_equals_sign_cannot_smuggle_a_variable() {
        let error = check(&env(&[("LD_PRELOAD=/lib/x.so:", "")]), true).unwrap_err();
        assert!(error.contains("is not valid"), "{error}");
        assert!(check(&env(&[("", "x")]), true).is_err());
        assert!(check(&env(&[("A", "x\0y")]), true).is_err());
    }

    #[test]
    fn any_program_may_be_given_loader_variables() {
        let env = env(&[("LD_LIBRARY_PATH", "/opt/oracle/lib")]);
        assert_eq!(check(&env, true), Ok(()));
    }
}
