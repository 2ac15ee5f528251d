//! Runs one program in its own process group, streams its stdout and stderr into the
//! execution's output as they arrive, and kills the whole group on timeout, on a memory
//! limit, when the program exits leaving descendants behind, or when the execution is
//! dropped (deadline or kill).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::output::{OutputSink, Stream};

/// How often the memory of a process group is measured.
const MEMORY_POLL: Duration = Duration::from_millis(250);
/// How long output is still read after the program exits, for descendants that hold the
/// pipes open, before the group is killed.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// A program ready to run.
pub struct Spawn {
    /// Canonical path of the program, already checked against the policy.
    pub program: PathBuf,
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

/// Kills a process group when dropped, so no path out of [`run`] leaves an orphan.
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // SAFETY: killpg has no memory-safety preconditions; a group that is already
            // gone only makes it return ESRCH.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `spawn` to its end, writing its output into `sink`.
pub async fn run(spawn: Spawn, sink: &OutputSink) -> std::io::Result<Ended> {
    let mut command = Command::new(&spawn.program);
    command
        .args(&spawn.args)
        .env_clear()
        .envs(spawn.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spawn.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spawn.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn()?;
    let mut group = GroupGuard(child.id().map(|pid| pid as i32));
    let pgid = group.0;

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
                if pgid.is_some_and(|pgid| group_rss(pgid) > limit) {
                    break Some(Ended::MemoryExceeded);
                }
            }
        }
    };
    group.kill();
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

/// Resident memory in bytes of every process in group `pgid`, read from `/proc`.
fn group_rss(pgid: i32) -> u64 {
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
