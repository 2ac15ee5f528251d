//! `secrets.sign`: signatures by a private key held in a secret, made on the host.
//!
//! Executors that authenticate with a key (Google's service-account JWT exchange, for one)
//! need an RSA signature. Made in the guest, that took a pure-Rust RSA whose private-key
//! operations leak timing (RUSTSEC-2023-0071, which lists no fixed version). ring signs
//! in constant time with blinding, and the key's private operations never run in a
//! component at all.

use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

use crate::bindings::secrets::SignatureAlgorithm;

/// The signature of `data` by the key in `secret` (PEM, or JSON with `private_key`), or
/// why there is none. The text never quotes the secret.
pub fn sign(secret: &str, algorithm: SignatureAlgorithm, data: &[u8]) -> Result<Vec<u8>, String> {
    let pem = private_key_pem(secret)?;
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("the secret holds no private key in PEM: {e}"))?;
    match algorithm {
        SignatureAlgorithm::Rs256 => {
            let key = match &der {
                PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
                PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
                _ => return Err("rs256 needs an RSA key (PKCS #8 or PKCS #1)".into()),
            }
            .map_err(|e| format!("the secret's key is not an RSA key ring accepts: {e}"))?;
            let mut signature = vec![0; key.public().modulus_len()];
            key.sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                data,
                &mut signature,
            )
            .map_err(|_| "the key could not sign".to_string())?;
            Ok(signature)
        }
    }
}

/// The PEM text in `secret`: the secret itself, or the `private_key` field of a JSON
/// object (the key file Google gives for a service account).
fn private_key_pem(secret: &str) -> Result<String, String> {
    let trimmed = secret.trim_start();
    if !trimmed.starts_with('{') {
        return Ok(secret.to_string());
    }
    let value: serde_json::Value = serde_json::from_str(trimmed)
        .map_err(|e| format!("the secret is neither PEM nor JSON: {e}"))?;
    value
        .get("private_key")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "the secret's JSON has no `private_key` string".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2048-bit RSA key made for the tests only (ring cannot make RSA keys).
    fn key_pem() -> String {
        include_str!("../../../../tests/fixtures/rsa-2048-test-only.pem").to_string()
    }

    /// Whether `signature` is `pem`'s RS256 signature of `data`.
    fn verifies(pem: &str, data: &[u8], signature: &[u8]) -> bool {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap();
        let PrivateKeyDer::Pkcs8(der) = der else {
            panic!("openssl genpkey writes PKCS #8")
        };
        let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            key.public().as_ref(),
        )
        .verify(data, signature)
        .is_ok()
    }

    #[test]
    fn a_key_in_pem_or_in_a_service_account_json_signs_and_verifies() {
        let pem = key_pem();
        let json = serde_json::json!({"client_email": "a@b", "private_key": pem}).to_string();
        for secret in [pem.as_str(), json.as_str()] {
            let signature = sign(secret, SignatureAlgorithm::Rs256, b"header.claims").unwrap();
            assert_eq!(signature.len(), 256);
            assert!(verifies(&pem, b"header.claims", &signature));
            assert!(!verifies(&pem, b"header.claimz", &signature));
        }
    }

    #[test]
    fn what_is_not_an_rsa_key_is_refused_without_quoting_the_secret() {
        for secret in [
            "hunter2",
            r#"{"private_key": "hunter2"}"#,
            r#"{"other": 1}"#,
            "{",
        ] {
            let error = sign(secret, SignatureAlgorithm::Rs256, b"x").unwrap_err();
            assert!(!error.contains("hunter2"), "{error}");
        }
        let ec = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let error = sign(&ec, SignatureAlgorithm::Rs256, b"x").unwrap_err();
        assert!(error.contains("RSA"), "{error}");
    }
}
