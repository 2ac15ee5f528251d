//! A starting point for a Sandcron executor.
//!
//! The host calls `run` once per execution, in a fresh instance. Everything the executor
//! needs arrives in the `Execution`: the job's name, its `executor_config` (all strings, as
//! in Dkron), its environment, and the time left before the host stops it. The executor
//! returns `Ok(())` or a `Failure` whose text is shown to the user.
//!
//! Try it: `sandcron exec target/wasm32-wasip2/release/my_executor.wasm --config greeting=hi`

use std::io::Write;

use sandcron_sdk::http::Request;
use sandcron_sdk::output::{self, Output};
use sandcron_sdk::{Execution, Executor, Failure};
use serde::Deserialize;

/// The `executor_config` this executor reads. Each field is a key; a missing required key
/// or a value that does not parse fails the execution with `Failure::InvalidConfig` naming
/// the key (`greeting: is required`, `repeat: "two" is not a whole number ...`). Keys not
/// named here are ignored.
#[derive(Deserialize)]
struct Config {
    /// What to say. Required.
    greeting: String,
    /// How many times to say it; 1 when absent.
    #[serde(default)]
    repeat: Option<u32>,
    /// A URL to fetch after greeting, optional. The host sends the request only if the
    /// job's grants allow the host (`http`); otherwise the execution fails as denied.
    #[serde(default)]
    url: Option<String>,
}

/// The most lines one execution may write.
const MAX_REPEAT: u32 = 100;

struct MyExecutor;

impl Executor for MyExecutor {
    fn run(execution: Execution) -> Result<(), Failure> {
        // Typed config: serde does the parsing, the SDK names the key on errors.
        let config: Config = execution.config()?;

        // Checks serde cannot express are yours; return InvalidConfig naming the key.
        if config.greeting.trim().is_empty() {
            return Err(Failure::invalid_config("greeting", "is empty"));
        }
        let repeat = config.repeat.unwrap_or(1);
        if !(1..=MAX_REPEAT).contains(&repeat) {
            return Err(Failure::invalid_config(
                "repeat",
                format_args!("{repeat} is not between 1 and {MAX_REPEAT}"),
            ));
        }

        // Output: plain text through `output::print`, or any `std::io::Write` user through
        // `Output::stdout()`. Diagnostics go to `output::eprint` / `Output::stderr()`.
        output::eprint(&format!(
            "{} (attempt {}), {} ms left\n",
            execution.execution_id,
            execution.attempt,
            execution.time_left().as_millis()
        ));
        let mut out = Output::stdout();
        for i in 1..=repeat {
            writeln!(
                out,
                "{} from {} ({i}/{repeat})",
                config.greeting, execution.job_name
            )
            .map_err(|e| Failure::Failed(format!("writing output: {e}")))?;
        }

        // Capabilities: an HTTP request goes through the host, which checks it against
        // the grants; a denied one comes back as `Failure::Denied` naming the host.
        if let Some(url) = config.url.as_deref().filter(|url| !url.is_empty()) {
            let response = Request::get(url).send()?;
            output::print(&format!("GET {url}: {}\n", response.status));
        }
        Ok(())
    }
}

// Exports `MyExecutor` as the component's `run`. Exactly once per crate.
sandcron_sdk::export_executor!(MyExecutor);
