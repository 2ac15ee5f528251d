//! What a granted program runs under: the user the grant names (else the server's own),
//! `no_new_privs`, resource limits, and a last check that the file executed is the one
//! the policy checked.
//!
//! All of it is applied in the child between `fork` and `exec` ([`Confinement::apply`]),
//! where only async-signal-safe calls are allowed: everything it needs is prepared before
//! the fork, and it allocates nothing.
//!
//! - **User.** With a user, the program runs with that user's id and primary group and no
//!   supplementary group (the standard library's `uid`/`gid`, which drop the groups).
//! - **`no_new_privs`.** A set-user-ID or file-capability program gains nothing when the
//!   program executes it: a tenant granted a shell cannot reach `sudo`'s or `su`'s powers.
//! - **Limits.** No core dumps (a crash must not write the program's memory, secrets
//!   included, to disk); at most [`MAX_OPEN_FILES`] open files; with a user, at most
//!   [`MAX_PROCESSES`] processes of that user (a fork bomb stops there; the limit counts
//!   the user's processes, so it is set only for a user of the grant's own, never for the
//!   server's, whose threads it would count).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use super::policy::Program;
use crate::helper_process::lower_limits;

/// The most files a program may have open.
pub const MAX_OPEN_FILES: u64 = 8192;
/// The most processes the user programs run as may have, when the grant names one.
pub const MAX_PROCESSES: u64 = 4096;
/// The error the child reports when the program's path no longer leads to the checked
/// file.
pub const CHANGED_SINCE_CHECK: i32 = libc::ESTALE;

/// A user programs run as, looked up by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
}

impl User {
    /// Looks `name` up in the system's user database; the error names the user.
    pub fn lookup(name: &str) -> Result<Self, String> {
        let c_name =
            CString::new(name).map_err(|_| format!("user {name:?}: not a valid user name"))?;
        let mut buffer = vec![0u8; 16 * 1024];
        let mut entry = std::mem::MaybeUninit::<libc::passwd>::uninit();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is to memory owned here and large enough (the buffer's
        // length is passed); `found` is set to `entry` or null.
        let status = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                entry.as_mut_ptr(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                &mut found,
            )
        };
        if status != 0 {
            let error = std::io::Error::from_raw_os_error(status);
            return Err(format!("user {name:?}: cannot be looked up: {error}"));
        }
        if found.is_null() {
            return Err(format!("user {name:?}: no such user on this machine"));
        }
        // SAFETY: `getpwnam_r` succeeded and filled `entry`.
        let entry = unsafe { entry.assume_init() };
        if entry.pw_uid == 0 {
            return Err(format!(
                "user {name:?}: is root; programs run as an unprivileged user"
            ));
        }
        Ok(Self {
            uid: entry.pw_uid,
            gid: entry.pw_gid,
        })
    }
}

/// Everything the child applies before it executes the program, prepared in the parent.
#[derive(Debug)]
pub struct Confinement {
    path: CString,
    file: (u64, u64),
    user: Option<User>,
    die_with_parent: bool,
}

impl Confinement {
    /// The confinement of `program`, run as `user` when given; `die_with_parent` makes the
    /// kernel kill it when the thread that started it goes away.
    pub fn new(
        program: &Program,
        user: Option<User>,
        die_with_parent: bool,
    ) -> std::io::Result<Self> {
        Ok(Self {
            path: CString::new(program.path.as_os_str().as_bytes())?,
            file: program.file,
            user,
            die_with_parent,
        })
    }

    /// The user to switch to, if any (the caller gives it to the command's `uid`/`gid`,
    /// which also drops supplementary groups).
    pub fn user(&self) -> Option<User> {
        self.user
    }

    /// Applies the confinement in the child, after the user switch and before `exec`.
    /// Async-signal-safe: system calls on memory prepared before the fork.
    pub fn apply(&self) -> std::io::Result<()> {
        // SAFETY: each call is a plain system call on integers or on `self.path`, a valid
        // NUL-terminated string, and `stat`, written before it is read.
        unsafe {
            let signal = libc::SIGKILL as libc::c_ulong;
            if self.die_with_parent && libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let (on, none) = (1 as libc::c_ulong, 0 as libc::c_ulong);
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, on, none, none, none) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            lower_limits(libc::RLIMIT_CORE, 0, 0)?;
            lower_limits(libc::RLIMIT_NOFILE, MAX_OPEN_FILES, MAX_OPEN_FILES)?;
            if self.user.is_some() {
                lower_limits(libc::RLIMIT_NPROC, MAX_PROCESSES, MAX_PROCESSES)?;
            }
            let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
            if libc::stat(self.path.as_ptr(), stat.as_mut_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let stat = stat.assume_init();
            if (stat.st_dev, stat.st_ino) != self.file {
                return Err(std::io::Error::from_raw_os_error(CHANGED_SINCE_CHECK));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_looked_up_and_root_is_refused() {
        let nobody = User::lookup("nobody").unwrap();
        assert_ne!(nobody.uid, 0);
        assert!(User::lookup("root").unwrap_err().contains("is root"));
        assert!(
            User::lookup("no-such-user-here")
                .unwrap_err()
                .contains("no such user")
        );
        assert!(User::lookup("a\0b").is_err());
    }
}
