//! The admin's commands, clients of a running server's API: `tenant create|list`,
//! `token create TENANT`, `grant set TENANT -f grants.json` and
//! `quota set TENANT -f quotas.json`. They need an admin token (see `client_token`).

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::CliError;
use super::client::{Client, block_on};
use super::job::print_json;
use super::table::{Table, cell, time_cell};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant, with no grants and no quotas.
    Create {
        /// The tenant's name: lower-case letters, digits, `_` and `-`.
        name: String,
    },
    /// List the tenants.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token for a tenant and print it (it is shown only this once).
    Create {
        /// The tenant's name.
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Replace a tenant's grants with a JSON file: {"http": ["https://api.example.com"], …}.
    Set {
        /// The tenant's name.
        tenant: String,
        /// The grants, as JSON (`-` for standard input).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuotaCommand {
    /// Replace a tenant's quotas with a JSON file: {"max_jobs": 100, …}.
    Set {
        /// The tenant's name.
        tenant: String,
        /// The quotas, as JSON (`-` for standard input).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: String,
    },
}

pub fn run_tenant(client: Client, command: TenantCommand) -> Result<(), CliError> {
    block_on(async move {
        match command {
            TenantCommand::Create { name } => {
                let url = client.url(&["v1", "tenants"]);
                client
                    .send(Method::POST, url, Some(&json!({ "name": name })))
                    .await?;
                println!("tenant {name} created");
            }
            TenantCommand::List => {
                let tenants = client
                    .json(Method::GET, client.url(&["v1", "tenants"]), None)
                    .await?;
                let mut table = Table::new(&["NAME", "GRANTS", "QUOTAS", "CREATED"]);
                for tenant in tenants.as_array().into_iter().flatten() {
                    table.row(vec![
                        cell(tenant.get("name")),
                        compact(tenant.get("grants")),
                        compact(tenant.get("quotas")),
                        time_cell(tenant.get("created_at")),
                    ]);
                }
                print!("{}", table.render());
            }
        }
        Ok(())
    })
}

pub fn run_token(client: Client, command: TokenCommand) -> Result<(), CliError> {
    let TokenCommand::Create { tenant } = command;
    block_on(async move {
        let url = client.url(&["v1", "tenants", &tenant, "tokens"]);
        let answer = client.json(Method::POST, url, None).await?;
        println!("{}", cell(answer.get("token")));
        Ok(())
    })
}

pub fn run_grant(client: Client, command: GrantCommand) -> Result<(), CliError> {
    let GrantCommand::Set { tenant, file } = command;
    put_settings(client, tenant, "grants", &file)
}

pub fn run_quota(client: Client, command: QuotaCommand) -> Result<(), CliError> {
    let QuotaCommand::Set { tenant, file } = command;
    put_settings(client, tenant, "quotas", &file)
}

/// `PUT /v1/tenants/TENANT/WHAT` with the JSON of `file`, then prints the tenant.
fn put_settings(client: Client, tenant: String, what: &str, file: &str) -> Result<(), CliError> {
    let body = read_json(file)?;
    block_on(async move {
        let url = client.url(&["v1", "tenants", &tenant, what]);
        let answer = client.json(Method::PUT, url, Some(&body)).await?;
        print_json(&answer)
    })
}

/// The JSON in `file` (`-`: standard input).
fn read_json(file: &str) -> Result<Value, CliError> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::Usage(format!("cannot read standard input: {e}")))?
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| CliError::Usage(format!("cannot read {file}: {e}")))?
    };
    serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("{file}: not JSON: {e}")))
}

/// A JSON value on one line, `-` when empty.
fn compact(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::Object(map)) if map.is_empty() => "-".to_string(),
        Some(other) => other.to_string(),
    }
}
