//! The `echo` executor: writes `executor_config.message` and a newline to the output, and
//! succeeds.
//!
//! It exists for heartbeats, tests and benchmarks, so it does as little as possible: no
//! serde, no allocation beyond the one line.

use sandcron_sdk::output::{self, Channel};
use sandcron_sdk::{Execution, Executor, Failure};

struct Echo;

impl Executor for Echo {
    fn run(execution: Execution) -> Result<(), Failure> {
        let message = execution.config_value("message").unwrap_or_default();
        let mut line = Vec::with_capacity(message.len() + 1);
        line.extend_from_slice(message.as_bytes());
        line.push(b'\n');
        output::write(Channel::Stdout, &line);
        Ok(())
    }
}

sandcron_sdk::export_executor!(Echo);
