//! Secrets at rest. Provider keys, auth tokens and trunk passwords are sealed with the node's master key
//! (ChaCha20-Poly1305, a fresh 96-bit nonce per seal) before they reach the store, and shown masked in
//! responses. A sealed value is bound to where it is stored (`context`, e.g. `integrations/org1/OpenAI`), so
//! one copied into another record does not open.
//!
//! Sealed text: `v1:<key fingerprint>:<base64(nonce ‖ ciphertext ‖ tag)>`. The fingerprint lets a node with the
//! wrong `VOICERA_MASTER_KEY` say so instead of reporting a bare authentication failure.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::TryRngCore;
use sha2::{Digest, Sha256};

use crate::{hex, Result, StoreError};

/// The key file generated in the data dir when `VOICERA_MASTER_KEY` is unset.
pub const KEY_FILE: &str = "master.key";
const PREFIX: &str = "v1";
const NONCE_LEN: usize = 12;
const SHAPE: &str = "a master key is 32 bytes, written as 64 hex digits or in base64";

/// The 256-bit key that seals stored secrets.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
    fingerprint: String,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.fingerprint)
    }
}

/// Where a node's master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `VOICERA_MASTER_KEY`.
    Environment,
    /// The data dir's key file.
    File(PathBuf),
    /// Just generated into the data dir's key file: whoever can read the data dir can open the secrets, so
    /// production deployments set `VOICERA_MASTER_KEY` from a secret manager instead.
    Generated(PathBuf),
}

impl MasterKey {
    /// The key from its 32 raw bytes, with the fingerprint that logs show instead of the key.
    pub fn from_bytes(key: [u8; 32]) -> MasterKey {
        let digest = Sha256::new().chain_update(b"voicera master key\0").chain_update(key).finalize();
        let fingerprint = hex(&digest[..4]);
        MasterKey { key, fingerprint }
    }

    /// A key written as 64 hex digits or as base64 of 32 bytes.
    pub fn from_text(text: &str) -> Result<MasterKey> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0)).collect()
        } else {
            BASE64.decode(text).map_err(|_| StoreError::Key(format!("{SHAPE}; this is neither")))?
        };
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| StoreError::Key(format!("{SHAPE}; this one is {} bytes", b.len())))?;
        Ok(MasterKey::from_bytes(key))
    }

    /// A new random key.
    pub fn generate() -> Result<MasterKey> {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.try_fill_bytes(&mut key).map_err(|e| StoreError::Key(format!("no OS randomness: {e}")))?;
        Ok(MasterKey::from_bytes(key))
    }

    /// The node's key: `env_value` (`VOICERA_MASTER_KEY`) when given, else `<data_dir>/master.key`, created
    /// (owner-only permissions) when missing.
    pub fn load_or_create(data_dir: &Path, env_value: Option<&str>) -> Result<(MasterKey, KeySource)> {
        if let Some(text) = env_value.filter(|t| !t.trim().is_empty()) {
            let key = MasterKey::from_text(text).map_err(|e| StoreError::Key(format!("VOICERA_MASTER_KEY: {e}")))?;
            return Ok((key, KeySource::Environment));
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key =
                    MasterKey::from_text(&text).map_err(|e| StoreError::Key(format!("{}: {e}", path.display())))?;
                Ok((key, KeySource::File(path)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = MasterKey::generate()?;
                write_new_key_file(&path, &key).map_err(|e| StoreError::Key(format!("{}: {e}", path.display())))?;
                Ok((key, KeySource::Generated(path)))
            }
            Err(e) => Err(StoreError::Key(format!("{}: {e}", path.display()))),
        }
    }

    /// A 256-bit key for one `purpose` (e.g. signing the API's access tokens), derived from the master key:
    /// nodes sharing the master key share it, restarts keep it, and it opens no sealed secret.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        Sha256::new()
            .chain_update(b"voicera derived key\0")
            .chain_update(purpose.as_bytes())
            .chain_update([0u8])
            .chain_update(self.key)
            .finalize()
            .into()
    }

    /// Short public name of the key (first 4 bytes of a hash of it).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.key))
    }

    /// Seals `plaintext` for the record named by `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.try_fill_bytes(&mut nonce).map_err(|e| StoreError::Seal(format!("no OS randomness: {e}")))?;
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: context.as_bytes() })
            .map_err(|_| StoreError::Seal("encryption failed".into()))?;
        let mut body = Vec::with_capacity(NONCE_LEN + sealed.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}:{}:{}", self.fingerprint, BASE64.encode(body)))
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String> {
        let mut parts = sealed.splitn(3, ':');
        let (Some(PREFIX), Some(fingerprint), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(StoreError::Seal(format!("{context}: not a sealed value")));
        };
        if fingerprint != self.fingerprint {
            return Err(StoreError::Seal(format!(
                "{context}: sealed with master key {fingerprint}, this node's key is {} (set VOICERA_MASTER_KEY to the key it was sealed with)",
                self.fingerprint
            )));
        }
        let body = BASE64.decode(body).map_err(|_| StoreError::Seal(format!("{context}: damaged (not base64)")))?;
        if body.len() < NONCE_LEN + 16 {
            return Err(StoreError::Seal(format!("{context}: damaged (too short)")));
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        let plain = self
            .cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| {
                StoreError::Seal(format!("{context}: does not open (altered, or sealed for another record)"))
            })?;
        String::from_utf8(plain).map_err(|_| StoreError::Seal(format!("{context}: not text")))
    }
}

/// Whether `text` is a value [`MasterKey::seal`] produced.
pub fn is_sealed(text: &str) -> bool {
    text.strip_prefix(PREFIX).is_some_and(|rest| rest.starts_with(':')) && text.splitn(3, ':').count() == 3
}

/// A secret as responses and logs show it: its last four characters when it is long enough that they give
/// nothing away, else nothing.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 12 {
        format!("••••{}", chars[chars.len() - 4..].iter().collect::<String>())
    } else {
        "••••".to_string()
    }
}

fn write_new_key_file(path: &Path, key: &MasterKey) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{}", hex(&key.key))?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let key = MasterKey::generate().unwrap();
        let sealed = key.seal("sk-test-1234567890", "integrations/org1/OpenAI").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("sk-test"));
        assert_eq!(key.open(&sealed, "integrations/org1/OpenAI").unwrap(), "sk-test-1234567890");
        // Two seals of one secret differ (fresh nonce).
        assert_ne!(sealed, key.seal("sk-test-1234567890", "integrations/org1/OpenAI").unwrap());

        let moved = key.open(&sealed, "integrations/org2/OpenAI").unwrap_err().to_string();
        assert!(moved.contains("sealed for another record"), "{moved}");
        let other = MasterKey::generate().unwrap();
        let wrong = other.open(&sealed, "integrations/org1/OpenAI").unwrap_err().to_string();
        assert!(wrong.contains(&format!("sealed with master key {}", key.fingerprint())), "{wrong}");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(key.open(&tampered, "integrations/org1/OpenAI").is_err());
        assert!(key.open("plain", "x").unwrap_err().to_string().contains("not a sealed value"));
        assert!(key
            .open(&format!("v1:{}:AAAA", key.fingerprint()), "x")
            .unwrap_err()
            .to_string()
            .contains("too short"));
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_master_key_and_are_stable() {
        let key = MasterKey::from_bytes([7; 32]);
        assert_eq!(key.derive("api-tokens"), MasterKey::from_bytes([7; 32]).derive("api-tokens"));
        assert_ne!(key.derive("api-tokens"), key.derive("api-tokens2"));
        assert_ne!(key.derive("api-tokens"), MasterKey::from_bytes([8; 32]).derive("api-tokens"));
        assert_ne!(key.derive("api-tokens"), [7; 32]);
    }

    #[test]
    fn keys_are_read_as_hex_or_base64_and_bad_ones_are_named() {
        let hex = "00".repeat(31) + "ff";
        let from_hex = MasterKey::from_text(&hex).unwrap();
        let mut bytes = [0u8; 32];
        bytes[31] = 0xff;
        assert_eq!(from_hex.fingerprint(), MasterKey::from_bytes(bytes).fingerprint());
        let from_b64 = MasterKey::from_text(&BASE64.encode(bytes)).unwrap();
        assert_eq!(from_b64.fingerprint(), from_hex.fingerprint());
        assert!(MasterKey::from_text("not a key!").unwrap_err().to_string().ends_with("this is neither"));
        assert!(MasterKey::from_text("abcd").unwrap_err().to_string().ends_with("this one is 3 bytes"));
        assert!(MasterKey::from_text(&BASE64.encode([1u8; 16]))
            .unwrap_err()
            .to_string()
            .ends_with("this one is 16 bytes"));
        assert!(!format!("{from_hex:?}").contains("ff"), "Debug shows only the fingerprint");
    }

    #[test]
    fn the_data_dir_key_is_generated_once_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = MasterKey::load_or_create(dir.path(), None).unwrap();
        let path = dir.path().join(KEY_FILE);
        assert_eq!(source, KeySource::Generated(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let (again, source) = MasterKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(source, KeySource::File(path));
        assert_eq!(again.fingerprint(), first.fingerprint());
        let (env, source) = MasterKey::load_or_create(dir.path(), Some(&"11".repeat(32))).unwrap();
        assert_eq!(source, KeySource::Environment);
        assert_ne!(env.fingerprint(), first.fingerprint());
        let err = MasterKey::load_or_create(dir.path(), Some("short")).unwrap_err().to_string();
        assert!(err.starts_with("master key: VOICERA_MASTER_KEY:"), "{err}");
    }

    #[test]
    fn masks_keep_only_a_short_tail() {
        assert_eq!(mask("sk-abcdefghijkl7890"), "••••7890");
        assert_eq!(mask("short"), "••••");
        assert_eq!(mask(""), "••••");
    }
}
