//! `sandcron health`: asks the server's `/health` (no token needed) and exits 0 when it
//! answers healthy, 1 otherwise: the container image's `HEALTHCHECK`, and a probe for any
//! supervisor.

use reqwest::Method;

use super::CliError;
use super::client::{Client, block_on};

/// Checks the server `client` talks to.
pub fn run(client: Client) -> Result<(), CliError> {
    block_on(async {
        let answer = client
            .json(Method::GET, client.url(&["health"]), None)
            .await?;
        match answer["status"].as_str() {
            Some("healthy") => {
                println!("healthy");
                Ok(())
            }
            _ => Err(CliError::Error(format!(
                "the server is not healthy: {answer}"
            ))),
        }
    })
}
