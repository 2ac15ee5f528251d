//! `sandcron execution …`: list a job's executions, print or follow one's output, kill a
//! running one, on a running server through its API.

use std::io::Write;

use clap::Subcommand;
use futures::StreamExt;
use reqwest::Method;
use serde_json::Value;

use super::CliError;
use super::client::{Client, block_on};
use super::table::{Table, cell, time_cell};

#[derive(Debug, Subcommand)]
pub enum ExecutionCommand {
    /// List a job's executions, newest first.
    List {
        /// The job's name.
        job: String,
    },
    /// Print an execution's output.
    Logs {
        /// The job's name.
        job: String,
        /// The execution's id.
        id: i64,
        /// Print the output as it is written, until the execution ends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Kill a running execution.
    Kill {
        /// The job's name.
        job: String,
        /// The execution's id.
        id: i64,
    },
}

pub fn run(client: Client, command: ExecutionCommand) -> Result<(), CliError> {
    block_on(async move {
        match command {
            ExecutionCommand::List { job } => list(&client, &job).await,
            ExecutionCommand::Logs { job, id, follow } => {
                if follow {
                    follow_output(&client, &job, id).await
                } else {
                    let url = execution_url(&client, &job, id, None);
                    let execution = client.json(Method::GET, url, None).await?;
                    let output = execution.get("output").and_then(Value::as_str);
                    write_out(output.unwrap_or_default().as_bytes())
                }
            }
            ExecutionCommand::Kill { job, id } => {
                let url = execution_url(&client, &job, id, Some("kill"));
                client.send(Method::POST, url, None).await?;
                println!("execution {id} killed");
                Ok(())
            }
        }
    })
}

/// `/v1/jobs/<job>/executions/<id>[/<action>]`.
fn execution_url(client: &Client, job: &str, id: i64, action: Option<&str>) -> reqwest::Url {
    let id = id.to_string();
    let mut segments = vec!["v1", "jobs", job, "executions", &id];
    segments.extend(action);
    client.url(&segments)
}

async fn list(client: &Client, job: &str) -> Result<(), CliError> {
    let mut url = client.url(&["v1", "jobs", job, "executions"]);
    // The table shows no output: do not fetch it.
    url.set_query(Some("output_size_limit=0"));
    let executions = client.json(Method::GET, url, None).await?;
    let mut table = Table::new(&["ID", "STATE", "STARTED", "FINISHED", "ATTEMPT", "REASON"]);
    for execution in executions.as_array().into_iter().flatten() {
        table.row(vec![
            cell(execution.get("id")),
            cell(execution.get("state")),
            time_cell(execution.get("started_at")),
            time_cell(execution.get("finished_at")),
            cell(execution.get("attempt")),
            cell(execution.get("reason")),
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

/// Streams the live output to stdout, each chunk as it arrives, until it ends.
async fn follow_output(client: &Client, job: &str, id: i64) -> Result<(), CliError> {
    let url = execution_url(client, job, id, Some("output"));
    let response = client.send(Method::GET, url, None).await?;
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk =
            chunk.map_err(|e| CliError::Error(format!("the output stream broke off: {e}")))?;
        write_out(&chunk)?;
    }
    Ok(())
}

fn write_out(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::Error(format!("cannot write the output: {e}")))
}
