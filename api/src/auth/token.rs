//! Access tokens: compact JWTs (HS256 only; any other `alg`, `none` included, is refused), short-lived, signed
//! with a 256-bit key the binary derives from the master key (so every API node verifies every other's). The
//! claims keep the original's (`sub` = email, `org_id`, `email`, `is_member`) and add `role` and `typ`.
//! Sans-IO: the time is an argument.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Role;

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user's email.
    pub sub: String,
    /// The member's email (the original's clients read it from here).
    pub email: String,
    /// The member's org.
    pub org_id: String,
    /// The member's role when the token was issued.
    pub role: Role,
    /// The original's flag: not the owner.
    pub is_member: bool,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Always `access`: a token of another kind signed with the same key is refused.
    pub typ: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("the token is not a JWT")]
    Malformed,
    /// The header names another algorithm (`none` included).
    #[error("the token's algorithm is not HS256")]
    Algorithm,
    /// Signed with another key, or altered.
    #[error("the token's signature does not match")]
    Signature,
    /// Past its `exp`.
    #[error("the token has expired")]
    Expired,
    /// Not an access token (`typ` is something else).
    #[error("the token is not an access token")]
    Kind,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The signing key (kept as its keyed HMAC state).
#[derive(Clone)]
pub struct TokenKey(Hmac<Sha256>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// The key from 32 secret bytes, shared by every API node so any of them verifies any token.
    pub fn new(key: [u8; 32]) -> TokenKey {
        match <Hmac<Sha256> as Mac>::new_from_slice(&key) {
            Ok(mac) => TokenKey(mac),
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        }
    }

    fn mac(&self, signed: &str) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(signed.as_bytes());
        mac
    }

    /// The token for `claims`: an HS256 JWT.
    pub fn sign(&self, claims: &AccessClaims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(HEADER), URL_SAFE_NO_PAD.encode(payload));
        let signature = self.mac(&signed).finalize().into_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A keyed tag of `data` for `purpose` (base64url HMAC-SHA256): the CSRF token of a cookie session is the
    /// tag of its family id, so it needs no storage and cannot be made without the key.
    pub fn tag(&self, purpose: &str, data: &str) -> String {
        let tagged = self.mac(&format!("{purpose}\0{data}")).finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(tagged)
    }

    /// The claims of a token signed with this key, unexpired at `now_secs`.
    pub fn verify(&self, token: &str, now_secs: i64) -> Result<AccessClaims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or(TokenError::Malformed)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err(TokenError::Algorithm);
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
        let signed_len = token.len() - signature_len(token);
        self.mac(&token[..signed_len]).verify_slice(&signature).map_err(|_| TokenError::Signature)?;
        let claims: AccessClaims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.typ != "access" {
            return Err(TokenError::Kind);
        }
        if claims.exp <= now_secs {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Length of `.signature` at the end of a three-part token.
fn signature_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |dot| token.len() - dot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: "a@x.io".into(),
            email: "a@x.io".into(),
            org_id: "org1".into(),
            role: Role::Admin,
            is_member: true,
            iat: 1000,
            exp,
            typ: "access".into(),
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let key = TokenKey::new([1; 32]);
        let token = key.sign(&claims(1900));
        assert_eq!(key.verify(&token, 1899), Ok(claims(1900)));
        assert_eq!(key.verify(&token, 1900), Err(TokenError::Expired));
    }

    #[test]
    fn another_key_a_changed_payload_or_another_algorithm_is_refused() {
        let key = TokenKey::new([1; 32]);
        let token = key.sign(&claims(1900));
        assert_eq!(TokenKey::new([2; 32]).verify(&token, 1000), Err(TokenError::Signature));
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims(1900);
        forged.role = Role::Owner;
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(key.verify(&tampered, 1000), Err(TokenError::Signature));
        let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), forged_payload);
        assert_eq!(key.verify(&none, 1000), Err(TokenError::Algorithm));
        for garbage in ["", "a.b", "a.b.c.d", "vk_123_abc", "...."] {
            assert!(key.verify(garbage, 1000).is_err(), "{garbage}");
        }
    }

    #[test]
    fn a_token_of_another_kind_is_refused() {
        let key = TokenKey::new([1; 32]);
        let mut other = claims(1900);
        other.typ = "refresh".into();
        assert_eq!(key.verify(&key.sign(&other), 1000), Err(TokenError::Kind));
    }
}
