//! `sandcron executor …`: upload, list, show and delete executor components on a running
//! server through its API.

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::CliError;
use super::client::{Client, block_on};
use super::job::print_json;
use super::table::{Table, cell};

#[derive(Debug, Subcommand)]
pub enum ExecutorCommand {
    /// Upload a component (.wasm) as the next version of the executor NAME.
    Upload {
        /// The executor's name, which jobs give as `executor`.
        name: String,
        /// The component, built with `cargo build --target wasm32-wasip2 --release`.
        file: String,
    },
    /// List the built-in executors and the latest version of each upload.
    List,
    /// Print every version of an uploaded executor as JSON.
    Get {
        /// The executor's name.
        name: String,
    },
    /// Delete every version of an uploaded executor (refused while a job uses it).
    Delete {
        /// The executor's name.
        name: String,
    },
}

pub fn run(client: Client, command: ExecutorCommand) -> Result<(), CliError> {
    block_on(async move {
        match command {
            ExecutorCommand::Upload { name, file } => {
                let bytes = std::fs::read(&file)
                    .map_err(|e| CliError::Usage(format!("cannot read {file}: {e}")))?;
                let url = client.url(&["v1", "executors", &name]);
                let stored = client
                    .send_bytes(Method::PUT, url, "application/wasm", bytes)
                    .await?;
                println!(
                    "executor {name} version {} uploaded (sha256 {}, capabilities: {})",
                    cell(stored.get("version")),
                    cell(stored.get("sha256")),
                    capabilities(&stored)
                );
                Ok(())
            }
            ExecutorCommand::List => {
                let all = client
                    .json(Method::GET, client.url(&["v1", "executors"]), None)
                    .await?;
                let mut table = Table::new(&["NAME", "VERSION", "CAPABILITIES", "ABOUT"]);
                for executor in all.as_array().into_iter().flatten() {
                    let builtin = executor.get("builtin").and_then(Value::as_bool) == Some(true);
                    table.row(vec![
                        cell(executor.get("name")),
                        if builtin {
                            "built-in".to_string()
                        } else {
                            cell(executor.get("version"))
                        },
                        capabilities(executor),
                        if builtin {
                            cell(executor.get("summary"))
                        } else {
                            format!("{} bytes", cell(executor.get("size")))
                        },
                    ]);
                }
                print!("{}", table.render());
                Ok(())
            }
            ExecutorCommand::Get { name } => {
                let url = client.url(&["v1", "executors", &name]);
                print_json(&client.json(Method::GET, url, None).await?)
            }
            ExecutorCommand::Delete { name } => {
                let url = client.url(&["v1", "executors", &name]);
                client.send(Method::DELETE, url, None).await?;
                println!("executor {name} deleted");
                Ok(())
            }
        }
    })
}

/// `http, secrets`, or `-`.
fn capabilities(executor: &Value) -> String {
    let names: Vec<&str> = executor
        .get("capabilities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if names.is_empty() {
        "-".to_string()
    } else {
        names.join(", ")
    }
}
