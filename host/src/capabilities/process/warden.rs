//! The warden: a small process between the server and a granted program, so that the
//! program and everything it starts die with its execution *and* with the server.
//!
//! The server starts the warden (the `sandcron` binary itself, run as
//! `sandcron-warden`, [`MARKER`]) as the leader of a new process group, handing it the
//! read end of a *lifeline* pipe whose write end only the server holds, and the write end
//! of a *report* pipe. The warden makes itself the child subreaper (orphaned descendants
//! come back to it rather than to init, even those that left the group with `setsid`),
//! starts the program confined ([`super::confine`]) with the server's pipes as its stdio,
//! says on the report pipe whether it started, and watches:
//!
//! - when the lifeline closes — the execution ended (timeout, kill, memory limit) and the
//!   server dropped its end, or the server died, even by `SIGKILL`, and the kernel closed
//!   it — it kills every descendant and exits;
//! - when the program exits, it gives the descendants [`DRAIN_GRACE`] to end by
//!   themselves, kills what remains, and exits with the program's status.
//!
//! The warden runs as the server's user. What escapes it: a descendant that a program
//! running as the server's own user kills the warden first (only with no `user:` in the
//! grant: a program of another user cannot signal it), and a process handed to another
//! service (a daemon started through `systemctl`, `at`, a container engine), which was
//! never its descendant.
//!
//! The binary enables it with [`run_if_asked`] at the top of `main`. A program that links
//! the library without it (tests, embedders) runs programs directly, with the kernel
//! killing the program (not its descendants) when the server thread that started it goes
//! away; [`use_program`] points such a program at a `sandcron` binary to use instead.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::confine::{CHANGED_SINCE_CHECK, Confinement, User};
use super::policy::Program;

/// The first argument that makes the `sandcron` binary a warden.
pub const MARKER: &str = "__sandcron_warden__";
/// The name the warden runs under (its `argv[0]`), as `ps` shows it.
const NAME: &str = "sandcron-warden";
/// How long the program's descendants may go on after it exits (holding its output pipes
/// open, say) before they are killed.
pub const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// What the report pipe says when the program started.
const STARTED: &str = "started";

/// The executable that acts as the warden, once enabled.
static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Runs the warden and exits when this process was started as one; otherwise enables
/// wardens for this process (this executable is one). Call it first thing in `main`.
pub fn run_if_asked() {
    crate::helper_process::run_if_asked(MARKER, NAME, 127, &PROGRAM, |args| {
        Orders::parse(args).map(|orders| orders.run())
    });
}

/// Makes this process use `sandcron` (a path to the binary) as the warden.
pub fn use_program(sandcron: &Path) {
    let _ = PROGRAM.set(sandcron.to_path_buf());
}

/// The executable to start wardens with, if enabled.
pub fn program() -> Option<&'static Path> {
    PROGRAM.get().map(PathBuf::as_path)
}

/// What a warden is asked to do: the program, how to confine it, its arguments and
/// environment, and the two pipes.
pub struct Orders {
    /// The program, as the policy checked it.
    pub program: Program,
    /// The user to run it as.
    pub user: Option<User>,
    /// Its working directory.
    pub cwd: Option<PathBuf>,
    /// Its arguments, without the program name.
    pub args: Vec<String>,
    /// Its whole environment.
    pub env: Vec<(String, String)>,
    /// The warden's end of the lifeline.
    pub lifeline: RawFd,
    /// The warden's end of the report pipe.
    pub report: RawFd,
}

/// A field of the orders that is absent.
const NONE: &str = "-";

impl Orders {
    /// The warden's arguments after [`MARKER`].
    pub fn to_args(&self) -> Vec<OsString> {
        let optional = |value: Option<String>| value.unwrap_or_else(|| NONE.to_string());
        let mut args: Vec<OsString> = vec![
            self.lifeline.to_string().into(),
            self.report.to_string().into(),
            self.program.path.clone().into_os_string(),
            self.program.argv0.clone().into(),
            self.program.file.0.to_string().into(),
            self.program.file.1.to_string().into(),
            optional(self.user.map(|u| u.uid.to_string())).into(),
            optional(self.user.map(|u| u.gid.to_string())).into(),
            self.cwd
                .clone()
                .map_or_else(|| NONE.into(), PathBuf::into_os_string),
            self.args.len().to_string().into(),
        ];
        args.extend(self.args.iter().map(OsString::from));
        args.extend(
            self.env
                .iter()
                .map(|(k, v)| OsString::from(format!("{k}={v}"))),
        );
        args
    }

    /// Reads what [`Orders::to_args`] wrote.
    fn parse(args: Vec<OsString>) -> Result<Self, String> {
        let text = |index: usize| -> Result<String, String> {
            args.get(index)
                .and_then(|arg| arg.to_str())
                .map(str::to_string)
                .ok_or_else(|| format!("argument {index} is missing or not UTF-8"))
        };
        let number = |index: usize| -> Result<u64, String> {
            text(index)?
                .parse()
                .map_err(|_| format!("argument {index} is not a number"))
        };
        let optional = |index: usize| -> Result<Option<u32>, String> {
            match text(index)?.as_str() {
                NONE => Ok(None),
                id => id
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("argument {index} is not an id")),
            }
        };
        let fd = |index: usize| -> Result<RawFd, String> {
            RawFd::try_from(number(index)?).map_err(|_| format!("argument {index}: no fd"))
        };
        let user = match (optional(6)?, optional(7)?) {
            (Some(uid), Some(gid)) => Some(User { uid, gid }),
            _ => None,
        };
        let cwd = args
            .get(8)
            .filter(|cwd| cwd.as_os_str() != NONE)
            .map(PathBuf::from);
        let count = usize::try_from(number(9)?).map_err(|_| "too many arguments")?;
        let rest = args.get(10..).unwrap_or_default();
        if rest.len() < count {
            return Err("fewer arguments than announced".into());
        }
        let strings = |list: &[OsString]| -> Result<Vec<String>, String> {
            list.iter()
                .map(|arg| {
                    arg.to_str()
                        .map(str::to_string)
                        .ok_or("not UTF-8".to_string())
                })
                .collect()
        };
        let env = strings(&rest[count..])?
            .into_iter()
            .map(|entry| match entry.split_once('=') {
                Some((name, value)) => Ok((name.to_string(), value.to_string())),
                None => Err(format!("environment entry {entry:?} has no `=`")),
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            program: Program {
                path: PathBuf::from(args.get(2).ok_or("no program")?),
                argv0: text(3)?,
                file: (number(4)?, number(5)?),
            },
            user,
            cwd,
            args: strings(&rest[..count])?,
            env,
            lifeline: fd(0)?,
            report: fd(1)?,
        })
    }

    /// Starts the program, reports, watches; returns the exit code for the warden (it
    /// mirrors a program killed by a signal by raising the same signal).
    fn run(self) -> i32 {
        // SAFETY: the server handed over these two descriptors for this process alone.
        let (lifeline, mut report) = unsafe {
            (
                OwnedFd::from_raw_fd(self.lifeline),
                std::fs::File::from_raw_fd(self.report),
            )
        };
        for fd in [lifeline.as_raw_fd(), report.as_raw_fd()] {
            // SAFETY: fcntl on descriptors this process owns.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        // SAFETY: plain prctl calls on this process.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0);
        }
        let child = match self.start() {
            Ok(child) => child,
            Err(reason) => {
                let _ = write!(report, "{reason}");
                return 127;
            }
        };
        let _ = report.write_all(STARTED.as_bytes());
        drop(report);
        watch(&lifeline, child)
    }

    fn start(&self) -> Result<std::process::Child, String> {
        let confinement = Confinement::new(&self.program, self.user, true)
            .map_err(|e| format!("{}: {e}", self.program.path.display()))?;
        let mut command = std::process::Command::new(&self.program.path);
        command
            .arg0(&self.program.argv0)
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        if let Some(user) = confinement.user() {
            command.uid(user.uid).gid(user.gid);
        }
        // SAFETY: `apply` is async-signal-safe (see `confine`).
        unsafe { command.pre_exec(move || confinement.apply()) };
        command
            .spawn()
            .map_err(|e| describe_start_error(&self.program, &e))
    }
}

/// What the caller reads when a program cannot start.
pub fn describe_start_error(program: &Program, error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(CHANGED_SINCE_CHECK) => format!(
            "{} changed between the check and the start",
            program.path.display()
        ),
        _ => format!("{}: {error}", program.path.display()),
    }
}

/// Reads the warden's report: `Ok` when the program started, else why not.
pub fn read_report(mut report: impl Read) -> Result<(), String> {
    let mut text = String::new();
    let _ = report.read_to_string(&mut text);
    match text.as_str() {
        STARTED => Ok(()),
        "" => Err("the warden ended before starting the program".into()),
        reason => Err(reason.to_string()),
    }
}

/// Watches the program until it exits or the lifeline closes; returns the warden's exit
/// code.
fn watch(lifeline: &OwnedFd, mut child: std::process::Child) -> i32 {
    // SAFETY: pidfd_open on our own child's pid.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id(), 0) } as RawFd;
    // Without a pidfd (an old kernel), the exit is noticed by polling.
    let poll_every = (pidfd < 0).then_some(Duration::from_millis(20));
    let status = loop {
        reap_orphans(child.id());
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        match wait_readable(lifeline.as_raw_fd(), pidfd, poll_every) {
            Readable::Lifeline => {
                kill_descendants();
                return 128 + libc::SIGKILL;
            }
            Readable::Pid | Readable::Neither => {}
        }
    };
    let deadline = Instant::now() + DRAIN_GRACE;
    while !descendants().is_empty() && Instant::now() < deadline {
        reap_orphans(0);
        let left = deadline.saturating_duration_since(Instant::now());
        if let Readable::Lifeline = wait_readable(
            lifeline.as_raw_fd(),
            -1,
            Some(left.min(Duration::from_millis(20))),
        ) {
            break;
        }
    }
    kill_descendants();
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => {
            // SAFETY: default disposition, then the same signal to ourselves.
            unsafe {
                libc::signal(signal, libc::SIG_DFL);
                libc::raise(signal);
            }
            128 + signal
        }
        (None, None) => 1,
    }
}

enum Readable {
    Lifeline,
    Pid,
    Neither,
}

/// Waits until the lifeline (closed or written) or the pidfd (`-1`: none) is readable, or
/// `timeout` passes.
fn wait_readable(lifeline: RawFd, pidfd: RawFd, timeout: Option<Duration>) -> Readable {
    let mut fds = [
        libc::pollfd {
            fd: lifeline,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: pidfd,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let timeout = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
    // SAFETY: `fds` is a valid array of two pollfd; a negative fd is ignored by poll.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
    if ready > 0 && fds[0].revents != 0 {
        Readable::Lifeline
    } else if ready > 0 && fds[1].revents != 0 {
        Readable::Pid
    } else {
        Readable::Neither
    }
}

/// Reaps every exited child but `keep` (orphans that came back to this subreaper).
fn reap_orphans(keep: u32) {
    for pid in descendants_where(|_, ppid, state| ppid == std::process::id() && state == 'Z') {
        if pid != keep {
            let mut status = 0;
            // SAFETY: waitpid on a zombie child of ours.
            unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        }
    }
}

/// Kills every descendant, again until none is left (a descendant may fork meanwhile;
/// what it forks comes back to this subreaper).
fn kill_descendants() {
    for _ in 0..1000 {
        reap_orphans(0);
        let alive = descendants();
        if alive.is_empty() {
            return;
        }
        for pid in alive {
            // SAFETY: kill has no memory effects.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// This process's living descendants.
fn descendants() -> Vec<u32> {
    let me = std::process::id();
    let table = process_table();
    let mut found = vec![me];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            table
                .iter()
                .filter(|(_, ppid, _)| *ppid == parent)
                .map(|(pid, _, _)| *pid),
        );
        index += 1;
    }
    let alive = |pid: &u32| {
        table
            .iter()
            .any(|(p, _, state)| p == pid && !matches!(state, 'Z' | 'X'))
    };
    found.into_iter().skip(1).filter(alive).collect()
}

/// The processes of the machine matching `keep(pid, ppid, state)`.
fn descendants_where(keep: impl Fn(u32, u32, char) -> bool) -> Vec<u32> {
    process_table()
        .into_iter()
        .filter(|(pid, ppid, state)| keep(*pid, *ppid, *state))
        .map(|(pid, _, _)| pid)
        .collect()
}

/// Every process: pid, parent pid and state, from `/proc`.
fn process_table() -> Vec<(u32, u32, char)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read(entry.path().join("stat")).ok()?;
            // Fields after the command name, which is in parentheses and may hold spaces.
            let close = stat.iter().rposition(|b| *b == b')')?;
            let rest = std::str::from_utf8(stat.get(close + 2..)?).ok()?;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?.chars().next()?;
            let ppid = fields.next()?.parse().ok()?;
            Some((pid, ppid, state))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_survive_the_command_line() {
        let orders = Orders {
            program: Program {
                path: "/usr/bin/xzcat".into(),
                argv0: "xzcat".into(),
                file: (7, 42),
            },
            user: Some(User {
                uid: 65534,
                gid: 65534,
            }),
            cwd: None,
            args: vec!["a b".into(), String::new(), "-".into()],
            env: vec![("PATH".into(), "/bin".into()), ("X".into(), "a=b".into())],
            lifeline: 5,
            report: 9,
        };
        let parsed = Orders::parse(orders.to_args()).unwrap();
        assert_eq!(parsed.program, orders.program);
        assert_eq!(parsed.user, orders.user);
        assert_eq!(parsed.cwd, None);
        assert_eq!(parsed.args, orders.args);
        assert_eq!(parsed.env, orders.env);
        assert_eq!((parsed.lifeline, parsed.report), (5, 9));
    }

    #[test]
    fn a_report_says_started_or_why_not() {
        assert_eq!(read_report(STARTED.as_bytes()), Ok(()));
        assert_eq!(read_report(&b"/x: denied"[..]), Err("/x: denied".into()));
        assert!(read_report(&b""[..]).is_err());
    }
}
