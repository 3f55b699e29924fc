//! Password hashes. New hashes are argon2id (PHC string); bcrypt hashes imported from the original
//! (`voicera migrate`) still verify and are replaced by argon2id at the next successful login. Hashing is
//! deliberately slow: callers run it on the blocking pool.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::ApiError;

/// How expensive a new hash is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordCost {
    /// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane (~50 ms on a server core in a release build).
    #[default]
    Standard,
    /// 8 KiB, 1 pass: for tests only (a debug build takes seconds per standard hash).
    Minimal,
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password is the one hashed.
    pub matches: bool,
    /// The hash is of an older scheme (bcrypt): store a new one now that the password is known.
    pub rehash: bool,
}

/// An argon2id hash of `password`.
pub fn hash(password: &str, cost: PasswordCost) -> Result<String, ApiError> {
    let params = match cost {
        PasswordCost::Standard => Params::new(19 * 1024, 2, 1, None),
        PasswordCost::Minimal => Params::new(8, 1, 1, None),
    }
    .map_err(|e| ApiError::internal("argon2 parameters", e))?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal("password hashing", e))
}

/// Checks `password` against `stored` (argon2 PHC string or bcrypt `$2a$`/`$2b$`/`$2y$`). Anything else
/// never matches.
pub fn verify(password: &str, stored: &str) -> Verified {
    if stored.starts_with("$argon2") {
        let matches = PasswordHash::new(stored)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        Verified { matches, rehash: false }
    } else if stored.starts_with("$2") {
        Verified { matches: bcrypt::verify(password, stored).unwrap_or(false), rehash: true }
    } else {
        Verified { matches: false, rehash: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_only_their_password() {
        let stored = hash("correct horse", PasswordCost::Minimal).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"), "{stored}");
        assert_eq!(verify("correct horse", &stored), Verified { matches: true, rehash: false });
        assert!(!verify("correct horse ", &stored).matches);
        // A fresh salt each time.
        assert_ne!(stored, hash("correct horse", PasswordCost::Minimal).unwrap());
    }

    #[test]
    fn bcrypt_hashes_from_the_original_verify_and_ask_for_a_rehash() {
        let stored = bcrypt::hash("legacy pass", 4).unwrap();
        assert_eq!(verify("legacy pass", &stored), Verified { matches: true, rehash: true });
        assert!(!verify("legacy pas", &stored).matches);
    }

    #[test]
    fn unknown_or_empty_hashes_never_match() {
        for stored in ["", "legacy pass", "$argon2id$broken", "$2b$04$short"] {
            assert!(!verify("legacy pass", stored).matches, "{stored}");
        }
    }
}
