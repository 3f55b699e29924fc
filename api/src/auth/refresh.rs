//! Refresh tokens. A login starts a family (one stored document, `RefreshTokens/<org>/<family id>`); each
//! refresh rotates it: the presented token is spent and a new one issued. Presenting a spent token again means
//! two parties hold the family's tokens (one stole it), so the whole family is revoked and both must log in
//! again (OAuth 2.0 Security BCP §4.14). Tokens are stored as hashes; the text is `rt_<family>.<secret>`.
//! [`Family::rotate`] is the pure decision; the route does the store I/O.

use serde::{Deserialize, Serialize};

use super::{same, secret_hash};

/// Spent secrets remembered per family, to tell a replay (revoke) from a guess (just refuse).
const SPENT_KEPT: usize = 32;

/// One login session's refresh-token family, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// The member the session belongs to.
    pub email: String,
    /// The member's org (also the record's tenant).
    pub org_id: String,
    /// Hash of the one live token.
    pub current: String,
    /// Hashes of spent tokens, newest last.
    #[serde(default)]
    pub spent: Vec<String>,
    /// When the session started (Unix ms).
    pub created_at: i64,
    /// Unix ms after which no token of the family refreshes (the session's absolute lifetime).
    pub expires_at: i64,
    /// Ended by logout or by a spent token presented again (a stolen token): no token of it works.
    #[serde(default)]
    pub revoked: bool,
    /// Hash of the console's session-cookie secret, when the session is a cookie one ([`super::session`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The live token: it is spent and `next` is now live.
    Rotated,
    /// A spent token: the family is now revoked.
    Reused,
    /// The family was revoked or has expired.
    Ended,
    /// Not a token of this family.
    Unknown,
}

/// A refresh token's text split into family id and secret.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let (family, secret) = token.strip_prefix("rt_")?.split_once('.')?;
    (!family.is_empty() && !secret.is_empty()).then_some((family, secret))
}

/// A refresh token's text from its family id and secret (`rt_<family>.<secret>`).
pub fn text(family: &str, secret: &str) -> String {
    format!("rt_{family}.{secret}")
}

impl Family {
    /// A new family whose live token is `secret`, ending `lifetime_ms` after `now`.
    pub fn new(email: &str, org_id: &str, secret: &str, now: i64, lifetime_ms: i64) -> Family {
        Family {
            email: email.into(),
            org_id: org_id.into(),
            current: secret_hash(secret),
            spent: Vec::new(),
            created_at: now,
            expires_at: now.saturating_add(lifetime_ms),
            revoked: false,
            cookie: None,
        }
    }

    /// Whether the family still authenticates at `now` (not revoked, within its lifetime).
    pub fn live(&self, now: i64) -> bool {
        !self.revoked && now < self.expires_at
    }

    /// Presents `secret`; on [`Rotation::Rotated`], `next_secret` is the family's new live token.
    pub fn rotate(&mut self, secret: &str, next_secret: &str, now: i64) -> Rotation {
        let presented = secret_hash(secret);
        if self.spent.iter().any(|s| same(s, &presented)) {
            self.revoked = true;
            return Rotation::Reused;
        }
        if !same(&self.current, &presented) {
            return Rotation::Unknown;
        }
        if self.revoked || now >= self.expires_at {
            return Rotation::Ended;
        }
        let spent = std::mem::replace(&mut self.current, secret_hash(next_secret));
        self.spent.push(spent);
        if self.spent.len() > SPENT_KEPT {
            self.spent.remove(0);
        }
        Rotation::Rotated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_token_refreshes_once_and_a_replay_revokes_the_family() {
        let mut family = Family::new("a@x.io", "org1", "s0", 0, 1000);
        assert_eq!(family.rotate("s0", "s1", 10), Rotation::Rotated);
        assert_eq!(family.rotate("s1", "s2", 20), Rotation::Rotated);
        // The thief (or the victim) presents s1 again: everyone is logged out, s2 included.
        assert_eq!(family.rotate("s1", "s3", 30), Rotation::Reused);
        assert!(family.revoked);
        assert_eq!(family.rotate("s2", "s3", 40), Rotation::Ended);
    }

    #[test]
    fn a_guess_is_refused_without_revoking_and_the_lifetime_is_absolute() {
        let mut family = Family::new("a@x.io", "org1", "s0", 0, 1000);
        assert_eq!(family.rotate("guess", "s1", 10), Rotation::Unknown);
        assert!(!family.revoked);
        assert_eq!(family.rotate("s0", "s1", 999), Rotation::Rotated);
        assert_eq!(family.rotate("s1", "s2", 1000), Rotation::Ended);
    }

    #[test]
    fn token_text_round_trips_and_other_text_is_not_a_token() {
        assert_eq!(parse(&text("fam", "sec.ret")), Some(("fam", "sec.ret")));
        for bad in ["", "rt_", "rt_.x", "rt_fam.", "fam.sec", "vk_fam_sec"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
