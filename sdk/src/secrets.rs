//! Reading the secrets the execution was granted, through the world's `secrets` interface.
//!
//! ```ignore
//! let password = sandcron_sdk::secrets::get("db-password")?;
//! ```

use crate::Failure;
use crate::bindings::sandcron::executor::secrets as wit;

/// The value of the secret called `name`. A secret that was not granted fails with
/// [`Failure::Denied`], one that does not exist with [`Failure::InvalidConfig`]; both texts
/// name the secret, so `?` gives the user a reason to act on.
pub fn get(name: &str) -> Result<String, Failure> {
    wit::get(name).map_err(|error| match error {
        wit::Error::Denied(text) => Failure::Denied(text),
        wit::Error::NotFound(text) => Failure::InvalidConfig(text),
    })
}
