//! The `process` capability: run a program from the granted allow-list, with arguments,
//! only the environment passed in (no loader variable for an allow-listed program:
//! [`environment`]), a working directory, stdin, a timeout that kills the whole process
//! group and a memory limit; stdout and stderr stream into the output. The program runs
//! confined ([`confine`]: the grant's user, `no_new_privs`, resource limits), under a
//! [`warden`] that kills what it leaves when its execution ends or the server dies.

mod confine;
mod environment;
mod policy;
mod spawn;
pub mod warden;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};

use super::unit::{Capability, Holds, Policy};
use crate::bindings::process::{self as wit, Command, Error, ExitStatus, Host};
use crate::output::OutputSink;
pub use policy::{ProcessPolicy, Program, Refusal};

/// The unit: `sandcron:executor/process`, granted by programs (`process=/usr/bin/pg_dump`,
/// `process=*`).
pub struct Process;

impl Capability for Process {
    const NAME: &'static str = "process";
    const INTERFACES: &'static [&'static str] = &["sandcron:executor/process@"];
    type Policy = ProcessPolicy;
    type Shared = ();
    type State = ProcessHost;

    fn new_state(policy: &ProcessPolicy, sink: &OutputSink, _: &()) -> ProcessHost {
        ProcessHost::new(policy.clone(), sink.clone())
    }

    fn add_to_linker<T: Holds<Self>>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<ProcessHost>>(linker, <T as Holds<Self>>::state)
    }
}

/// Program sets are intersected exactly; the user stays the wider grant's (a job's grant
/// never picks who its programs run as).
impl Policy for ProcessPolicy {
    fn allow_pattern(&mut self, pattern: &str) -> Result<(), String> {
        self.allow(pattern)
    }

    fn narrow_to(&mut self, narrower: &Self) {
        *self = self.intersect(narrower);
    }

    fn denies_all(&self) -> bool {
        self.allows_nothing()
    }
}

/// The host side of `sandcron:executor/process` for one execution.
///
/// The execution's deadline needs no handling here: when it passes, the runtime drops the
/// call in progress, and dropping a running program kills its process group.
pub struct ProcessHost {
    policy: ProcessPolicy,
    sink: OutputSink,
}

impl ProcessHost {
    /// Runs what `policy` allows, writing output into `sink`.
    pub fn new(policy: ProcessPolicy, sink: OutputSink) -> Self {
        Self { policy, sink }
    }
}

impl Host for ProcessHost {
    async fn run(&mut self, command: Command) -> Result<ExitStatus, Error> {
        let cwd = command.cwd.map(PathBuf::from);
        let program = match self.policy.check(&command.program, cwd.as_deref()) {
            Ok(program) => program,
            Err(Refusal::Denied(reason)) => {
                self.sink.host_note(&reason);
                return Err(Error::Denied(reason));
            }
            Err(Refusal::NotFound(reason)) => return Err(Error::NotFound(reason)),
        };
        if let Err(reason) = environment::check(&command.env, self.policy.allows_any()) {
            self.sink.host_note(&reason);
            return Err(Error::Denied(reason));
        }
        let user = match self.policy.user().map(confine::User::lookup).transpose() {
            Ok(user) => user,
            Err(reason) => return Err(Error::SpawnFailed(format!("process: {reason}"))),
        };
        let kill_at = command
            .timeout_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let spawn = spawn::Spawn {
            program,
            user,
            args: command.args,
            env: command.env,
            cwd,
            stdin: command.stdin,
            kill_at,
            memory_limit: command.memory_limit_bytes,
        };
        match spawn::run(spawn, &self.sink).await {
            Ok(spawn::Ended::Exited(code)) => Ok(ExitStatus::Exited(code)),
            Ok(spawn::Ended::Signaled(signal)) => Ok(ExitStatus::Signaled(signal)),
            Ok(spawn::Ended::TimedOut) => Ok(ExitStatus::TimedOut),
            Ok(spawn::Ended::MemoryExceeded) => Ok(ExitStatus::MemoryExceeded),
            Err(e) => Err(Error::SpawnFailed(format!("process: {e}"))),
        }
    }
}
