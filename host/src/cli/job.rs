//! `sandcron job …`: define, list, show, run, toggle and delete jobs on a running server
//! through its API.

use std::io::Read;

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::CliError;
use super::client::{Client, block_on};
use super::table::{Table, cell, time_cell};

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Create or replace jobs from a JSON file: one job, or an array of jobs.
    #[command(group = clap::ArgGroup::new("input").required(true))]
    Apply {
        /// The file; `-` reads standard input.
        #[arg(group = "input", value_name = "FILE")]
        path: Option<String>,
        /// The file, as `-f FILE` (kubectl's spelling).
        #[arg(short = 'f', long = "file", group = "input", value_name = "FILE")]
        file: Option<String>,
    },
    /// List the jobs.
    List,
    /// Print a job as JSON.
    Get {
        /// The job's name.
        name: String,
    },
    /// Start a run of a job now.
    Run {
        /// The job's name.
        name: String,
    },
    /// Disable an enabled job, or enable a disabled one.
    Toggle {
        /// The job's name.
        name: String,
    },
    /// Delete a job and its executions.
    Delete {
        /// The job's name.
        name: String,
    },
}

pub fn run(client: Client, command: JobCommand) -> Result<(), CliError> {
    block_on(async move {
        match command {
            JobCommand::Apply { path, file } => {
                let file = path.or(file).unwrap_or_else(|| "-".to_string());
                apply(&client, &file).await
            }
            JobCommand::List => list(&client).await,
            JobCommand::Get { name } => {
                let job = client
                    .json(Method::GET, job_url(&client, &name, &[]), None)
                    .await?;
                print_json(&job)
            }
            JobCommand::Run { name } => {
                let url = job_url(&client, &name, &["run"]);
                let execution = client.json(Method::POST, url, None).await?;
                println!("execution {} started", cell(execution.get("id")));
                Ok(())
            }
            JobCommand::Toggle { name } => {
                let url = job_url(&client, &name, &["toggle"]);
                let job = client.json(Method::POST, url, None).await?;
                let disabled = job.get("disabled").and_then(Value::as_bool) == Some(true);
                println!(
                    "job {name} {}",
                    if disabled { "disabled" } else { "enabled" }
                );
                Ok(())
            }
            JobCommand::Delete { name } => {
                let url = job_url(&client, &name, &[]);
                client.send(Method::DELETE, url, None).await?;
                println!("job {name} deleted");
                Ok(())
            }
        }
    })
}

/// `/v1/jobs/<name>/<rest…>`.
fn job_url(client: &Client, name: &str, rest: &[&str]) -> reqwest::Url {
    let mut segments = vec!["v1", "jobs", name];
    segments.extend_from_slice(rest);
    client.url(&segments)
}

/// PUTs each job of the file in turn, stopping at the first refusal.
async fn apply(client: &Client, file: &str) -> Result<(), CliError> {
    let text = read_input(file)?;
    let jobs = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(jobs)) => jobs,
        Ok(job @ Value::Object(_)) => vec![job],
        Ok(_) => {
            return Err(CliError::Usage(format!(
                "{file}: expected a job (a JSON object) or an array of jobs"
            )));
        }
        Err(e) => return Err(CliError::Usage(format!("{file}: not valid JSON: {e}"))),
    };
    for (index, job) in jobs.iter().enumerate() {
        let name = job
            .get("name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .ok_or_else(|| CliError::Usage(format!("{file}: job {} has no \"name\"", index + 1)))?;
        client
            .send(Method::PUT, job_url(client, name, &[]), Some(job))
            .await
            .map_err(|error| match error {
                CliError::Error(reason) => CliError::Error(format!("job {name}: {reason}")),
                other => other,
            })?;
        println!("job {name} applied");
    }
    Ok(())
}

fn read_input(file: &str) -> Result<String, CliError> {
    let mut text = String::new();
    let read = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|read| text = read)
    };
    read.map_err(|e| CliError::Usage(format!("cannot read {file}: {e}")))?;
    Ok(text)
}

async fn list(client: &Client) -> Result<(), CliError> {
    let jobs = client
        .json(Method::GET, client.url(&["v1", "jobs"]), None)
        .await?;
    let mut table = Table::new(&["NAME", "SCHEDULE", "STATUS", "NEXT", "SUCCESS", "ERROR"]);
    for job in jobs.as_array().into_iter().flatten() {
        let schedule = match (cell(job.get("schedule")), cell(job.get("parent_job"))) {
            (schedule, parent) if schedule == "-" && parent != "-" => format!("after {parent}"),
            (schedule, _) => schedule,
        };
        let next = if job.get("disabled").and_then(Value::as_bool) == Some(true) {
            "disabled".to_string()
        } else {
            time_cell(job.get("next"))
        };
        table.row(vec![
            cell(job.get("name")),
            schedule,
            cell(job.get("status")),
            next,
            cell(job.get("success_count")),
            cell(job.get("error_count")),
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

/// Prints a JSON answer, indented.
pub(super) fn print_json(value: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Error(format!("cannot print the answer: {e}")))?;
    println!("{text}");
    Ok(())
}
