//! `sandcron executor …`: make and build executor projects here (`new`, `build`, in
//! `scaffold`), and upload, list, show and delete executor components on a running server
//! through its API.

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use std::path::PathBuf;

use super::CliError;
use super::client::{Client, block_on};
use super::job::print_json;
use super::scaffold::{Lang, Project, new_project, sdk_checkout};
use super::table::{Table, cell};

#[derive(Debug, Subcommand)]
pub enum ExecutorCommand {
    /// Write a new executor project NAME (a folder of that name) from a template.
    New {
        /// The executor's name, which jobs give as `executor`: lower-case letters, digits,
        /// `-` and `_`.
        name: String,
        /// The language to write it in.
        #[arg(long, value_enum, default_value = "rust")]
        lang: Lang,
        /// The folder to create the project in.
        #[arg(long, default_value = ".", value_name = "DIR")]
        dir: PathBuf,
    },
    /// Build the executor project in DIR (its language told by its files) into a component.
    Build {
        /// The project's folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Upload a component (.wasm) as the next version of the executor NAME. Without FILE,
    /// the component of the project in the current folder (built first if missing);
    /// without NAME, that project's name.
    Upload {
        /// The executor's name, which jobs give as `executor`.
        name: Option<String>,
        /// The component: a .wasm file.
        file: Option<PathBuf>,
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
            ExecutorCommand::New { name, lang, dir } => {
                let dir = dir.join(&name);
                new_project(&dir, &name, lang, sdk_checkout().as_deref())?;
                println!(
                    "executor project {name} ({lang:?}) written to {}\n\
                     next: cd {}; sandcron executor build; sandcron exec {}",
                    dir.display(),
                    dir.display(),
                    Project::find(&dir)?.artifact().display()
                );
                Ok(())
            }
            ExecutorCommand::Build { dir } => {
                let artifact = Project::find(&dir)?.build()?;
                let size = std::fs::metadata(&artifact).map(|m| m.len()).unwrap_or(0);
                println!("built {} ({size} bytes)", artifact.display());
                Ok(())
            }
            ExecutorCommand::Upload { name, file } => {
                let (name, file) = upload_target(name, file)?;
                let bytes = std::fs::read(&file)
                    .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
                eprintln!(
                    "sandcron: uploading {} ({} bytes); the server compiles it before answering",
                    file.display(),
                    bytes.len()
                );
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

/// The name and file an upload sends: as given, or taken from the project in the current
/// folder (built first when its component is missing).
fn upload_target(
    name: Option<String>,
    file: Option<PathBuf>,
) -> Result<(String, PathBuf), CliError> {
    if let (Some(name), Some(file)) = (&name, &file) {
        return Ok((name.clone(), file.clone()));
    }
    let project = Project::find(std::path::Path::new("."))?;
    let file = match file {
        Some(file) => file,
        None if project.artifact().is_file() => project.artifact(),
        None => project.build()?,
    };
    Ok((name.unwrap_or(project.name), file))
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
