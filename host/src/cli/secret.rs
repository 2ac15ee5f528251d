//! `sandcron secret …`: set, list and delete secrets on a running server through its API.
//! A value is read from standard input or a file, never from the command line, so it
//! does not end up in the shell's history or the process list. `rotate-key` works on the
//! server machine's key file instead, without a server.

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::json;

use super::CliError;
use super::client::{Client, block_on};
use super::table::{Table, time_cell};

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Set a secret; its value is read from standard input (one trailing newline dropped)
    /// or from --from-file.
    Set {
        /// The secret's name: letters, digits, `-`, `_` and `.`.
        name: String,
        /// Read the value from this file instead of standard input (taken as it is).
        #[arg(long = "from-file", value_name = "FILE")]
        from_file: Option<String>,
    },
    /// List the secrets' names and dates (never their values).
    List,
    /// Delete a secret.
    Delete {
        /// The secret's name.
        name: String,
    },
    /// Add a new current key to the secrets key file, keeping the old ones so what they
    /// sealed still opens; each server seals every value under it when it next starts
    /// (give every node the new file, then restart them). Works on the file, offline.
    RotateKey(KeyFileArgs),
}

/// Where the secrets key file is: the `serve` settings that say so, from the same flags,
/// environment variables (`serve_config::with_env`) and configuration file.
#[derive(Debug, clap::Args)]
pub struct KeyFileArgs {
    /// The configuration file of `serve`, whose `secrets-key-file` and `data-dir` say
    /// where the key file is [default: <data-dir>/sandcron.toml, when it exists].
    #[arg(long = "config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// The key file [default: <data-dir>/secrets.key].
    #[arg(long, value_name = "FILE")]
    pub secrets_key_file: Option<PathBuf>,
    /// The server's data directory, where the key file is by default
    /// [default: $XDG_DATA_HOME/sandcron, else ~/.local/share/sandcron].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl KeyFileArgs {
    /// The key file: `--secrets-key-file`, else `secrets.key` in the data directory.
    pub fn path(&self, data_dir: Option<&std::path::Path>) -> Result<PathBuf, CliError> {
        if let Some(file) = &self.secrets_key_file {
            return Ok(file.clone());
        }
        data_dir
            .map(std::path::Path::to_path_buf)
            .or_else(|| self.data_dir.clone())
            .or_else(super::default_data_dir)
            .map(|dir| dir.join(crate::secrets_at_rest::KEY_FILE))
            .ok_or_else(|| {
                CliError::Usage("no data directory: give --data-dir or --secrets-key-file".into())
            })
    }
}

/// `sandcron secret rotate-key`.
pub fn rotate_key(args: &KeyFileArgs) -> Result<(), CliError> {
    let path = args.path(None)?;
    let id = crate::secrets_at_rest::rotate(&path).map_err(CliError::Error)?;
    println!(
        "new current key {id} in {}: give this file to every node and restart them",
        path.display()
    );
    Ok(())
}

pub fn run(client: Client, command: SecretCommand) -> Result<(), CliError> {
    block_on(async move {
        match command {
            SecretCommand::Set { name, from_file } => {
                let value = read_value(from_file.as_deref())?;
                let url = client.url(&["v1", "secrets", &name]);
                client
                    .send(Method::PUT, url, Some(&json!({ "value": value })))
                    .await?;
                println!("secret {name} set");
                Ok(())
            }
            SecretCommand::List => {
                let secrets = client
                    .json(Method::GET, client.url(&["v1", "secrets"]), None)
                    .await?;
                let mut table = Table::new(&["NAME", "CREATED", "UPDATED"]);
                for secret in secrets.as_array().into_iter().flatten() {
                    table.row(vec![
                        super::table::cell(secret.get("name")),
                        time_cell(secret.get("created_at")),
                        time_cell(secret.get("updated_at")),
                    ]);
                }
                print!("{}", table.render());
                Ok(())
            }
            SecretCommand::Delete { name } => {
                let url = client.url(&["v1", "secrets", &name]);
                client.send(Method::DELETE, url, None).await?;
                println!("secret {name} deleted");
                Ok(())
            }
            SecretCommand::RotateKey(args) => rotate_key(&args),
        }
    })
}

fn read_value(file: Option<&str>) -> Result<String, CliError> {
    match file {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| CliError::Usage(format!("cannot read {file}: {e}"))),
        None => {
            let mut value = String::new();
            std::io::stdin()
                .read_to_string(&mut value)
                .map_err(|e| CliError::Usage(format!("cannot read standard input: {e}")))?;
            if value.ends_with('\n') {
                value.pop();
                if value.ends_with('\r') {
                    value.pop();
                }
            }
            Ok(value)
        }
    }
}
