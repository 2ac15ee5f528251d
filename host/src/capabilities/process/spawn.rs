//! Runs one program in its own process group, streams its stdout and stderr into the
//! execution's output as they arrive, and kills it and its descendants on timeout, on a
//! memory limit, when the program exits leaving descendants behind, or when the execution
//! is dropped (deadline or kill).
//!
//! The program starts under a [`warden`](super::warden) when the binary enables one: the
//! warden leads the process group, and when its lifeline (held in [`Stopper`]) closes, as
//! when the server dies, it kills every descendant, those that left the group included.
//! Without one the program leads the group itself, and is killed by the kernel when the
//! server thread that started it goes away. Either way it runs confined
//! ([`super::confine`]).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::confine::{Confinement, User};
use super::policy::Program;
use super::warden::{self, DRAIN_GRACE, Orders};
use crate::output::{OutputSink, Stream};

/// How often the memory of a process group is measured.
const MEMORY_POLL: Duration = Duration::from_millis(250);

/// A program ready to run.
pub struct Spawn {
    /// The program, already checked against the policy.
    pub program: Program,
    /// The user to run it as (else the server's).
    pub user: Option<User>,
    /// Arguments, without the program name.
    pub args: Vec<String>,
    /// The whole environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Bytes for stdin, which is then closed.
    pub stdin: Option<Vec<u8>>,
    /// When to kill the group (the command's timeout).
    pub kill_at: Option<Instant>,
    /// Resident memory (bytes) of the group above which it is killed.
    pub memory_limit: Option<u64>,
}

/// How the program ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Exited with a code.
    Exited(i32),
    /// Ended by a signal Sandcron did not send.
    Signaled(i32),
    /// Killed at `kill_at`.
    TimedOut,
    /// Killed for going over the memory limit.
    MemoryExceeded,
}

/// Ends the program and its descendants when dropped, so no path out of [`run`] leaves
/// one behind: closes the warden's lifeline (the warden kills them all), or, without a
/// warden, kills the process group.
struct Stopper {
    pgid: Option<i32>,
    lifeline: Option<OwnedFd>,
}

impl Stopper {
    fn stop(&mut self) {
        if self.lifeline.take().is_some() {
            return;
        }
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: killpg has no memory-safety preconditions; a group that is already
            // gone only makes it return ESRCH.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Stopper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A started program: the child Sandcron waits for (the warden, or the program itself),
/// what stops it, and the process group to measure.
struct Started {
    child: Child,
    stopper: Stopper,
    /// Whether the group's leader is a warden, whose own memory is not the program's.
    warden_leads: bool,
}

/// Starts `spawn`'s program, under a warden when one is enabled.
async fn start(spawn: &Spawn) -> std::io::Result<Started> {
    let mut command = match warden::program() {
        Some(warden) => Command::new(warden),
        None => Command::new(&spawn.program.path),
    };
    command
        .env_clear()
        .stdin(if spawn.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let Some(_) = warden::program() else {
        let confinement = Confinement::new(&spawn.program, spawn.user, true)?;
        command
            .arg0(&spawn.program.argv0)
            .args(&spawn.args)
            .envs(spawn.env.iter().map(|(k, v)| (k, v)))
            .kill_on_drop(true);
        if let Some(cwd) = &spawn.cwd {
            command.current_dir(cwd);
        }
        if let Some(user) = confinement.user() {
            command.uid(user.uid).gid(user.gid);
        }
        // SAFETY: `apply` is async-signal-safe (see `confine`).
        unsafe { command.pre_exec(move || confinement.apply()) };
        let child = command
            .spawn()
            .map_err(|e| std::io::Error::other(warden::describe_start_error(&spawn.program, &e)))?;
        let pgid = child.id().map(|pid| pid as i32);
        return Ok(Started {
            child,
            stopper: Stopper {
                pgid,
                lifeline: None,
            },
            warden_leads: false,
        });
    };
    let (lifeline_read, lifeline_write) = std::io::pipe()?;
    let (report_read, report_write) = std::io::pipe()?;
    let handed = [lifeline_read.as_raw_fd(), report_write.as_raw_fd()];
    let orders = Orders {
        program: spawn.program.clone(),
        user: spawn.user,
        cwd: spawn.cwd.clone(),
        args: spawn.args.clone(),
        env: spawn.env.clone(),
        lifeline: handed[0],
        report: handed[1],
    };
    command
        .arg0("sandcron-warden")
        .arg(warden::MARKER)
        .args(orders.to_args());
    // SAFETY: only fcntl on two descriptors this process holds open until after the
    // spawn; it clears their close-on-exec flag in the child alone.
    unsafe {
        command.pre_exec(move || {
            for fd in handed {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    drop((lifeline_read, report_write));
    let pgid = child.id().map(|pid| pid as i32);
    let stopper = Stopper {
        pgid,
        lifeline: Some(OwnedFd::from(lifeline_write)),
    };
    let report = tokio::task::spawn_blocking(move || warden::read_report(report_read))
        .await
        .unwrap_or_else(|e| Err(format!("reading the warden's report failed: {e}")));
    if let Err(reason) = report {
        let _ = child.wait().await;
        return Err(std::io::Error::other(reason));
    }
    Ok(Started {
        child,
        stopper,
        warden_leads: true,
    })
}

/// Runs `spawn` to its end, writing its output into `sink`.
pub async fn run(spawn: Spawn, sink: &OutputSink) -> std::io::Result<Ended> {
    let Started {
        mut child,
        stopper: mut group,
        warden_leads,
    } = start(&spawn).await?;
    let pgid = child.id().map(|pid| pid as i32);

    if let (Some(bytes), Some(mut stdin)) = (spawn.stdin, child.stdin.take()) {
        tokio::spawn(async move {
            // A program that does not read its stdin closes the pipe; that is its choice.
            let _ = stdin.write_all(&bytes).await;
        });
    }
    let mut stdout = child.stdout.take().map(|s| Box::new(s) as Pipe);
    let mut stderr = child.stderr.take().map(|s| Box::new(s) as Pipe);
    let mut out_buf = vec![0u8; 16 * 1024];
    let mut err_buf = vec![0u8; 16 * 1024];
    let kill_at = spawn.kill_at.map(tokio::time::Instant::from_std);
    let mut memory_poll = tokio::time::interval(MEMORY_POLL);
    let mut status = None;
    let mut drain_until = None;

    let ended = loop {
        if stdout.is_none() && stderr.is_none() && status.is_some() {
            break None;
        }
        tokio::select! {
            read = read_some(&mut stdout, &mut out_buf) => {
                forward(read, &mut stdout, &out_buf, Stream::Stdout, sink);
            }
            read = read_some(&mut stderr, &mut err_buf) => {
                forward(read, &mut stderr, &err_buf, Stream::Stderr, sink);
            }
            exit = child.wait(), if status.is_none() => {
                status = Some(exit?);
                drain_until = Some(tokio::time::Instant::now() + DRAIN_GRACE);
            }
            _ = sleep_until(drain_until) => break None,
            _ = sleep_until(kill_at) => break Some(Ended::TimedOut),
            _ = memory_poll.tick(), if spawn.memory_limit.is_some() && status.is_none() => {
                let limit = spawn.memory_limit.unwrap_or(u64::MAX);
                if pgid.is_some_and(|pgid| group_rss(pgid, warden_leads) > limit) {
                    break Some(Ended::MemoryExceeded);
                }
            }
        }
    };
    group.stop();
    if let Some(ended) = ended {
        let _ = child.wait().await;
        return Ok(ended);
    }
    let status = status.expect("the loop ends without a verdict only after the exit");
    use std::os::unix::process::ExitStatusExt;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => Ended::Exited(code),
        (None, Some(signal)) => Ended::Signaled(signal),
        (None, None) => Ended::Exited(-1),
    })
}

type Pipe = Box<dyn AsyncRead + Unpin + Send>;

/// Reads from a pipe that is still open; pends forever once it is closed.
async fn read_some(pipe: &mut Option<Pipe>, buf: &mut [u8]) -> std::io::Result<usize> {
    match pipe {
        Some(pipe) => pipe.read(buf).await,
        None => std::future::pending().await,
    }
}

fn forward(
    read: std::io::Result<usize>,
    pipe: &mut Option<Pipe>,
    buf: &[u8],
    stream: Stream,
    sink: &OutputSink,
) {
    match read {
        Ok(0) | Err(_) => *pipe = None,
        Ok(n) => sink.write(stream, &buf[..n]),
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resident memory in bytes of every process in group `pgid`, read from `/proc`; without
/// the leader's own when `without_leader` (a warden).
fn group_rss(pgid: i32, without_leader: bool) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|entry| !(without_leader && entry.file_name().to_str() == Some(&pgid.to_string())))
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter_map(|stat| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let process_group: i32 = fields.get(2)?.parse().ok()?;
            let rss_pages: u64 = fields.get(21)?.parse().ok()?;
            (process_group == pgid).then_some(rss_pages * page_size)
        })
        .sum()
}
