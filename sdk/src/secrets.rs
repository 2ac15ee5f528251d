//! Reading the secrets the execution was granted, and signing with a key one of them
//! holds, through the world's `secrets` interface.
//!
//! ```ignore
//! let password = sandcron_sdk::secrets::get("db-password")?;
//! let signature = sandcron_sdk::secrets::sign_rs256("gcp-key", b"header.claims")?;
//! ```

use crate::Failure;
use crate::bindings::sandcron::executor::secrets as wit;

/// The value of the secret called `name`. A secret that was not granted fails with
/// [`Failure::Denied`], one that does not exist with [`Failure::InvalidConfig`]; both texts
/// name the secret, so `?` gives the user a reason to act on.
pub fn get(name: &str) -> Result<String, Failure> {
    wit::get(name).map_err(unreadable)
}

/// The RS256 signature (RSASSA-PKCS1-v1_5 with SHA-256) of `data` by the private key in the
/// secret called `name`: PEM, or a JSON object whose `private_key` holds it (a Google
/// service-account key). The host signs, in constant time; the key's private operations
/// never run in the component. A secret that holds no RSA key fails with
/// [`Failure::InvalidConfig`], other refusals as for [`get`].
pub fn sign_rs256(name: &str, data: &[u8]) -> Result<Vec<u8>, Failure> {
    wit::sign(name, wit::SignatureAlgorithm::Rs256, data).map_err(|error| match error {
        wit::SignError::Secret(error) => unreadable(error),
        wit::SignError::InvalidKey(text) => Failure::InvalidConfig(text),
    })
}

/// The failure for a secret that cannot be read.
fn unreadable(error: wit::Error) -> Failure {
    match error {
        wit::Error::Denied(text) => Failure::Denied(text),
        wit::Error::NotFound(text) => Failure::InvalidConfig(text),
    }
}
