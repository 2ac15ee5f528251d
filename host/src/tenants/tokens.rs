//! API tokens: 32 random bytes from the operating system, hex, behind a prefix that says
//! what the token is (`sca_` admin, `sct_` tenant), so a leaked one is recognisable. Only
//! the SHA-256 of a token is stored; a token is high-entropy, so a fast hash is enough.

use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Manages tenants, and acts as the default tenant.
    Admin,
    /// Acts as one tenant.
    Tenant,
}

/// A new token of `kind`.
pub fn new_token(kind: TokenKind) -> std::io::Result<String> {
    let mut bytes = [0_u8; 32];
    getrandom::getrandom(&mut bytes).map_err(std::io::Error::other)?;
    let prefix = match kind {
        TokenKind::Admin => "sca_",
        TokenKind::Tenant => "sct_",
    };
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// The hash a token is stored and looked up by.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let a = new_token(TokenKind::Tenant).unwrap();
        let b = new_token(TokenKind::Tenant).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("sct_") && a.len() == 68);
        assert!(new_token(TokenKind::Admin).unwrap().starts_with("sca_"));
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_eq!(hash_token(&a).len(), 64);
    }
}
