//! Who is calling, and what they may do. Credentials are checked here and nowhere else:
//! - passwords ([`password`]: argon2id; bcrypt hashes imported from the original still verify, once),
//! - access tokens ([`token`]: short-lived HS256 JWTs signed with a key derived from the master key),
//! - refresh tokens ([`refresh`]: one rotating family per login, stored hashed, reuse revokes the family),
//! - API keys ([`api_key`]: `vk_…`, per org, stored hashed, revocable),
//! - login attempts ([`limiter`]: per email and source, sans-IO),
//!
//! - the console's cookie session and its CSRF token ([`session`]),
//!
//! and [`Caller`] turns `Authorization: Bearer <access token | API key>`, or the session cookie, into (user,
//! org, role); [`authenticate_header`] does the same for routes outside the API.

pub mod api_key;
pub mod caller;
pub mod limiter;
pub mod password;
pub mod refresh;
pub mod session;
pub mod token;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use caller::{authenticate, authenticate_header, client_source, Caller, Credential};

use crate::error::ApiError;

/// A member's role in their org, weakest first: each can do what the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything of the org, changes nothing.
    Viewer,
    /// Also creates and changes agents, numbers, documents.
    Member,
    /// Also manages API keys and members.
    Admin,
    /// Also transfers ownership; there is one per org.
    Owner,
}

impl Role {
    /// The role's name as stored and as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// The role a stored or requested name means; `None` for anything else.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// `bytes` random bytes from the OS, as URL-safe base64 text.
pub(crate) fn random_text(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.try_fill_bytes(&mut buf).map_err(|e| ApiError::internal("OS randomness", e))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// `bytes` random bytes from the OS, as lower-case hex.
pub(crate) fn random_hex(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.try_fill_bytes(&mut buf).map_err(|e| ApiError::internal("OS randomness", e))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// How a high-entropy secret (refresh token, API key) is stored: SHA-256, hex. A slow hash adds nothing for
/// 256 random bits, and lookups stay cheap.
pub(crate) fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal text, compared in constant time.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}
