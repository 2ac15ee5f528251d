//! Credentials for Google's API, from the `secrets` capability: an access token used as
//! it is, or a service-account key (the JSON file Google gives) signed into a JWT and
//! exchanged for an access token at the key's `token_uri` (the OAuth 2.0 JWT bearer grant,
//! RFC 7523), as Google's own client libraries do. The host signs the JWT with the key in
//! the secret (`secrets::sign_rs256`, constant-time), so no RSA code is built in here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sandcron_sdk::http::Request;
use sandcron_sdk::{Failure, secrets};
use serde::Deserialize;

use crate::config::Credentials;

/// The scope a token needs to publish.
const SCOPE: &str = "https://www.googleapis.com/auth/pubsub";
/// Where Google exchanges assertions for tokens, when the key names no `token_uri`.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The fields of a service-account key that the exchange needs (its `private_key` is
/// used by the host, which signs).
#[derive(Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    #[serde(default)]
    private_key_id: String,
    #[serde(default)]
    token_uri: String,
}

/// The `Authorization` header value for `credentials`, if any.
pub fn authorization(
    credentials: &Credentials,
    timeout: Duration,
) -> Result<Option<String>, Failure> {
    match credentials {
        Credentials::None => Ok(None),
        Credentials::AccessToken(secret) => {
            let token = secrets::get(secret)?;
            Ok(Some(format!("Bearer {}", token.trim())))
        }
        Credentials::ServiceAccount(secret) => {
            let key = secrets::get(secret)?;
            let token = exchange(secret, &key, timeout)?;
            Ok(Some(format!("Bearer {token}")))
        }
    }
}

/// Signs a JWT with the service-account key (`key_json`, held in the secret `secret`) and
/// exchanges it for an access token.
fn exchange(secret: &str, key_json: &str, timeout: Duration) -> Result<String, Failure> {
    let invalid = |why: String| Failure::invalid_config("credentialsSecret", why);
    let key: ServiceAccountKey = serde_json::from_str(key_json).map_err(|e| {
        invalid(format!(
            "the secret is not a service-account key (JSON): {e}"
        ))
    })?;
    let token_uri = if key.token_uri.is_empty() {
        GOOGLE_TOKEN_URI
    } else {
        key.token_uri.as_str()
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let assertion = sign_jwt(secret, &key, token_uri, now).map_err(|failure| match failure {
        Failure::InvalidConfig(why) => invalid(why),
        other => other,
    })?;
    let body = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
    );
    let response = Request::new("POST", token_uri)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .timeout(timeout)
        .send()?;
    if !response.is_success() {
        return Err(Failure::Failed(format!(
            "pubsub: {token_uri} refused the service-account key of {}: {} {}",
            key.client_email,
            response.status,
            response.text().trim()
        )));
    }
    #[derive(Deserialize)]
    struct TokenResponse {
        access_token: String,
    }
    let token: TokenResponse = serde_json::from_slice(&response.body).map_err(|e| {
        Failure::Failed(format!(
            "pubsub: {token_uri} answered without an access token: {e}"
        ))
    })?;
    Ok(token.access_token)
}

/// The signed assertion: `header.claims.signature`, each base64url without padding.
fn sign_jwt(
    secret: &str,
    key: &ServiceAccountKey,
    audience: &str,
    now: u64,
) -> Result<String, Failure> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signing_input = format!(
        "{}.{}",
        b64.encode(jwt_header(key).to_string()),
        b64.encode(jwt_claims(key, audience, now).to_string())
    );
    let signature = secrets::sign_rs256(secret, signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64.encode(signature)))
}

/// The JWT's header: RS256, with the key's id when it has one.
fn jwt_header(key: &ServiceAccountKey) -> serde_json::Value {
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if !key.private_key_id.is_empty() {
        header["kid"] = key.private_key_id.clone().into();
    }
    header
}

/// The JWT's claims: who asks, for what scope, at which audience, for an hour.
fn jwt_claims(key: &ServiceAccountKey, audience: &str, now: u64) -> serde_json::Value {
    serde_json::json!({
        "iss": key.client_email,
        "scope": SCOPE,
        "aud": audience,
        "iat": now,
        "exp": now + 3600,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_key_names_the_secret_key() {
        for key in ["not json", r#"{"private_key": "no client_email"}"#] {
            let error = exchange("gcp-key", key, Duration::from_secs(1)).unwrap_err();
            assert!(
                matches!(&error, Failure::InvalidConfig(t) if t.starts_with("credentialsSecret: ")),
                "{error:?}"
            );
        }
    }
}
