//! Running programs on the host machine, through the world's `process` interface.
//!
//! The program must be on the allow-list the executor was granted, or the call fails with
//! [`ProcessError::Denied`] without starting anything. Its stdout and stderr go straight into
//! the execution's output as they arrive. Nothing of the host's environment is inherited:
//! the [`Command`] carries the process's whole environment.
//!
//! ```ignore
//! use std::time::Duration;
//! use sandcron_sdk::process::Command;
//!
//! let status = Command::new("pg_dump")
//!     .args(["--format=custom", "mydb"])
//!     .env("PATH", "/usr/bin:/bin")
//!     .timeout(Duration::from_secs(600))
//!     .run()?;
//! if !status.success() {
//!     return Err(sandcron_sdk::Failure::Failed(format!("pg_dump: {status}")));
//! }
//! ```

use std::fmt;
use std::time::Duration;

use crate::Failure;
use crate::bindings::sandcron::executor::process as wit;

/// How a process ended: `Exited(code)`, `Signaled(signal)`, `TimedOut` or `MemoryExceeded`.
pub use wit::ExitStatus;

impl ExitStatus {
    /// Whether the process exited by itself with code 0.
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Exited(0))
    }
}

impl fmt::Display for ExitStatus {
    /// `exit status 3`, `killed by signal 9`, `timed out`, `memory limit exceeded`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exit status {code}"),
            ExitStatus::Signaled(signal) => write!(f, "killed by signal {signal}"),
            ExitStatus::TimedOut => f.write_str("timed out"),
            ExitStatus::MemoryExceeded => f.write_str("memory limit exceeded"),
        }
    }
}

/// A program to run, built up step by step and run with [`Command::run`] or [`run`].
#[derive(Debug, Clone)]
pub struct Command {
    inner: wit::Command,
}

impl Command {
    /// A command running `program`: an absolute path, or a name the host looks up in its
    /// `PATH`. No arguments, an empty environment, no stdin, no timeout of its own.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            inner: wit::Command {
                program: program.into(),
                args: Vec::new(),
                env: Vec::new(),
                cwd: None,
                stdin: None,
                timeout_ms: None,
                memory_limit_bytes: None,
            },
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.inner.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets one environment variable, replacing an earlier value of the same name.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        match self.inner.env.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.inner.env.push((name, value)),
        }
        self
    }

    /// Sets environment variables, each replacing an earlier value of the same name.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        for (name, value) in vars {
            self = self.env(name, value);
        }
        self
    }

    /// Runs the process in `dir` instead of the host's current directory.
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.inner.cwd = Some(dir.into());
        self
    }

    /// Writes `bytes` to the process's stdin, then closes it.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.inner.stdin = Some(bytes.into());
        self
    }

    /// Kills the process and all it started after `timeout` (rounded up to a millisecond).
    /// The execution's own deadline applies in any case.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        let millis = timeout.as_nanos().div_ceil(1_000_000);
        self.inner.timeout_ms = Some(u64::try_from(millis).unwrap_or(u64::MAX));
        self
    }

    /// Kills the process group when its resident memory goes over `bytes`.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.inner.memory_limit_bytes = Some(bytes);
        self
    }

    /// The program as given to [`Command::new`].
    pub fn program(&self) -> &str {
        &self.inner.program
    }

    /// The arguments, without the program.
    pub fn arguments(&self) -> &[String] {
        &self.inner.args
    }

    /// The environment the process will get, in the order it was set.
    pub fn environment(&self) -> &[(String, String)] {
        &self.inner.env
    }

    /// Runs the command to its end; see [`run`].
    pub fn run(&self) -> Result<ExitStatus, ProcessError> {
        run(self)
    }
}

/// Runs `command` to its end and reports how it ended.
///
/// A non-zero exit is an `Ok` [`ExitStatus`]; an `Err` means the process never started.
pub fn run(command: &Command) -> Result<ExitStatus, ProcessError> {
    wit::run(&command.inner).map_err(ProcessError::from)
}

/// Why a process could not be started. Each carries the host's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessError {
    /// The program is not on the executor's allow-list.
    Denied(String),
    /// The program does not exist or is not executable.
    NotFound(String),
    /// The host could not start it (bad working directory, out of resources...).
    SpawnFailed(String),
}

impl From<wit::Error> for ProcessError {
    fn from(error: wit::Error) -> Self {
        match error {
            wit::Error::Denied(text) => ProcessError::Denied(text),
            wit::Error::NotFound(text) => ProcessError::NotFound(text),
            wit::Error::SpawnFailed(text) => ProcessError::SpawnFailed(text),
        }
    }
}

impl fmt::Display for ProcessError {
    /// The host's text, which names the program (`process: program /usr/bin/curl is not
    /// allowed`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::Denied(text)
            | ProcessError::NotFound(text)
            | ProcessError::SpawnFailed(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for ProcessError {}

impl From<ProcessError> for Failure {
    /// `Denied` stays `Failure::Denied`; a program that is missing or cannot start is
    /// `Failure::Failed`, since retrying will not make it appear.
    fn from(error: ProcessError) -> Self {
        match error {
            ProcessError::Denied(text) => Failure::Denied(text),
            ProcessError::NotFound(text) | ProcessError::SpawnFailed(text) => Failure::Failed(text),
        }
    }
}
