//! Secret values encrypted at rest, with a key the database does not hold.
//!
//! Each value is sealed with XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`: a random
//! 192-bit nonce per value, so random nonces never repeat in practice) under the current
//! key, and stored as `sandcron-aead-v1:<key id>:<hex of nonce and ciphertext>`. The
//! tenant and the secret's name are authenticated with it, so a sealed value copied onto
//! another secret's row does not open.
//!
//! The keys live in a file (`<data-dir>/secrets.key` by default, `--secrets-key-file`), or
//! in `SANDCRON_SECRETS_KEY`, one key a line, `<id> <64 hex digits>`; the last line is the
//! current key, the others are kept to open what they sealed. The file is created `0600`
//! with one key when missing. [`rotate`] adds a new current key; every node of a cluster
//! needs the same keys.
//!
//! A stored value without the prefix is a plaintext value written before encryption
//! existed: it is read as it is, and sealed at start-up
//! ([`crate::secrets::Secrets::seal_stored`]), as is a value sealed under an older key.

use std::fmt;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// What starts every sealed value.
const PREFIX: &str = "sandcron-aead-v1:";
/// Bytes of a key.
const KEY_BYTES: usize = 32;
/// Bytes of a nonce.
const NONCE_BYTES: usize = 24;
/// The environment variable that may hold the keys instead of a file.
pub const KEY_ENV: &str = "SANDCRON_SECRETS_KEY";
/// The key file's name in the data directory.
pub const KEY_FILE: &str = "secrets.key";

/// One key and its id.
#[derive(Clone)]
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The keys secrets are sealed and opened with.
#[derive(Clone)]
pub struct SecretsKeys {
    /// Every key, the current one last.
    keys: Vec<Key>,
}

impl fmt::Debug for SecretsKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|key| key.id.as_str()).collect();
        f.debug_struct("SecretsKeys").field("ids", &ids).finish()
    }
}

/// Why a stored value does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Sealed with a key id the keys do not hold.
    #[error("it was sealed with key {0}, which the secrets keys do not hold")]
    UnknownKey(String),
    /// Malformed, altered, or sealed for another secret.
    #[error("it does not open with key {0} (altered, or sealed for another secret)")]
    Corrupt(String),
}

impl SecretsKeys {
    /// Parses keys from the key file's text: one key a line, `<id> <64 hex digits>`,
    /// blank lines and `#` comments ignored; the last is the current one. Entries may
    /// also be separated by `,` (for the environment variable).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (index, entry) in text
            .split(['\n', ','])
            .map(str::trim)
            .enumerate()
            .filter(|(_, entry)| !entry.is_empty() && !entry.starts_with('#'))
        {
            let number = index + 1;
            let (id, hex_key) = entry
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("entry {number}: expected `<id> <64 hex digits>`"))?;
            let id = id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!(
                    "entry {number}: the key id {id:?} must be letters, digits and `-`"
                ));
            }
            if keys.iter().any(|key: &Key| key.id == id) {
                return Err(format!("entry {number}: the key id {id} is given twice"));
            }
            let bytes = hex::decode(hex_key.trim())
                .ok()
                .filter(|bytes| bytes.len() == KEY_BYTES)
                .ok_or_else(|| {
                    format!("entry {number} (key {id}): the key must be {KEY_BYTES} bytes in hex")
                })?;
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
                .map_err(|_| format!("entry {number} (key {id}): not a usable key"))?;
            keys.push(Key {
                id: id.to_string(),
                cipher,
            });
        }
        if keys.is_empty() {
            return Err("no key: expected lines of `<id> <64 hex digits>`".into());
        }
        Ok(Self { keys })
    }

    /// The keys from `$SANDCRON_SECRETS_KEY` when set, else from `file`, which is created
    /// (`0600`, one new key) when it does not exist.
    pub fn load(file: &Path) -> Result<Self, String> {
        if let Some(text) = std::env::var(KEY_ENV).ok().filter(|t| !t.trim().is_empty()) {
            return Self::parse(&text).map_err(|e| format!("${KEY_ENV}: {e}"));
        }
        if !file.exists() {
            crate::private_files::write(file, new_key_line()?.as_bytes())
                .map_err(|e| format!("cannot create {}: {e}", file.display()))?;
        }
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", file.display()))
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> &str {
        &self.current().id
    }

    /// Seals `value`, the secret `name` of tenant `tenant`, under the current key.
    pub fn seal(&self, tenant: i64, name: &str, value: &str) -> String {
        let key = self.current();
        let mut nonce = [0u8; NONCE_BYTES];
        // The OS's random source failing is not something to go on from.
        getrandom::getrandom(&mut nonce).expect("the OS gives random bytes");
        let aad = associated_data(tenant, name);
        let sealed = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("sealing a value that fits in memory cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", key.id, hex::encode(bytes))
    }

    /// The value of a stored secret: opened when sealed, as it is when it is a plaintext
    /// value from before encryption.
    pub fn open(&self, tenant: i64, name: &str, stored: &str) -> Result<String, OpenError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, hex_bytes) = rest.split_once(':').unwrap_or((rest, ""));
        let key = self
            .keys
            .iter()
            .find(|key| key.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_string()))?;
        let corrupt = || OpenError::Corrupt(id.to_string());
        let bytes = hex::decode(hex_bytes).map_err(|_| corrupt())?;
        if bytes.len() < NONCE_BYTES {
            return Err(corrupt());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| corrupt())?;
        let aad = associated_data(tenant, name);
        let plain = key
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }

    /// Whether a stored value should be sealed again: it is plaintext, or sealed under a
    /// key that is not the current one.
    pub fn needs_sealing(&self, stored: &str) -> bool {
        match stored.strip_prefix(PREFIX) {
            None => true,
            Some(rest) => !rest.starts_with(&format!("{}:", self.current_id())),
        }
    }

    fn current(&self) -> &Key {
        self.keys.last().expect("parse keeps at least one key")
    }
}

/// What a sealed value is bound to: its tenant and its name.
fn associated_data(tenant: i64, name: &str) -> String {
    format!("sandcron secret {tenant}/{name}")
}

/// A line of a key file with a new random key and id.
fn new_key_line() -> Result<String, String> {
    let mut id = [0u8; 4];
    let mut key = [0u8; KEY_BYTES];
    getrandom::getrandom(&mut id)
        .and_then(|()| getrandom::getrandom(&mut key))
        .map_err(|e| format!("the OS gives no random bytes: {e}"))?;
    Ok(format!("k{} {}\n", hex::encode(id), hex::encode(key)))
}

/// Adds a new current key to the key file `file` (created `0600` when missing), keeping
/// the others so that what they sealed still opens; returns the new key's id. The
/// servers seal every value under the new key when they next start.
pub fn rotate(file: &Path) -> Result<String, String> {
    let mut text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    if !text.trim().is_empty() {
        SecretsKeys::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    text.push_str(&new_key_line()?);
    let keys = SecretsKeys::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let temporary = file.with_extension("key.new");
    crate::private_files::write(&temporary, text.as_bytes())
        .and_then(|()| std::fs::rename(&temporary, file))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(keys.current_id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> SecretsKeys {
        SecretsKeys::parse(text).unwrap()
    }

    const ONE: &str = "k1 0000000000000000000000000000000000000000000000000000000000000001";
    const TWO: &str = "k2 0000000000000000000000000000000000000000000000000000000000000002";

    #[test]
    fn a_value_is_sealed_and_opens_only_for_its_own_secret() {
        let keys = keys(ONE);
        let sealed = keys.seal(7, "db-password", "hunter2");
        assert!(sealed.starts_with("sandcron-aead-v1:k1:"), "{sealed}");
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            keys.seal(7, "db-password", "hunter2"),
            "nonces repeat"
        );
        assert_eq!(keys.open(7, "db-password", &sealed).unwrap(), "hunter2");
        assert!(matches!(
            keys.open(8, "db-password", &sealed),
            Err(OpenError::Corrupt(_))
        ));
        assert!(matches!(
            keys.open(7, "other", &sealed),
            Err(OpenError::Corrupt(_))
        ));
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('0') { '1' } else { '0' });
        assert!(matches!(
            keys.open(7, "db-password", &altered),
            Err(OpenError::Corrupt(_))
        ));
    }

    #[test]
    fn plaintext_from_before_is_read_and_marked_for_sealing() {
        let keys = keys(ONE);
        assert_eq!(keys.open(1, "old", "plain value").unwrap(), "plain value");
        assert!(keys.needs_sealing("plain value"));
        assert!(!keys.needs_sealing(&keys.seal(1, "old", "plain value")));
    }

    #[test]
    fn after_a_rotation_old_values_open_and_are_marked_for_sealing() {
        let before = keys(ONE);
        let sealed = before.seal(1, "s", "v");
        let after = keys(&format!("{ONE}\n{TWO}\n"));
        assert_eq!(after.current_id(), "k2");
        assert_eq!(after.open(1, "s", &sealed).unwrap(), "v");
        assert!(after.needs_sealing(&sealed));
        let resealed = after.seal(1, "s", "v");
        assert!(!after.needs_sealing(&resealed));
        assert_eq!(
            keys(TWO).open(1, "s", &sealed),
            Err(OpenError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn bad_key_files_name_the_entry() {
        for (text, expected) in [
            ("", "no key"),
            ("k1", "entry 1"),
            ("k1 abcd", "32 bytes"),
            (
                "k/1 0000000000000000000000000000000000000000000000000000000000000001",
                "key id",
            ),
            (&format!("{ONE}\n{ONE}") as &str, "given twice"),
        ] {
            let error = SecretsKeys::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        assert_eq!(
            keys(&format!("# comment\n\n{ONE},{TWO}")).current_id(),
            "k2"
        );
    }

    #[test]
    fn the_key_file_is_created_private_and_rotated_in_place() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(KEY_FILE);
        let first = new_key_line().unwrap();
        crate::private_files::write(&file, first.as_bytes()).unwrap();
        let sealed = keys(&first).seal(1, "s", "v");
        let id = rotate(&file).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        let rotated = SecretsKeys::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(rotated.current_id(), id);
        assert_eq!(rotated.open(1, "s", &sealed).unwrap(), "v");
    }
}
