//! The server side of Digest (RFC 3261 §22.4, RFC 7616, RFC 8760), sans-IO: issues nonces, checks answers.
//!
//! What a captured `Authorization` header is worth to an attacker is what this module limits:
//! - nonces are random, bound to the source they were issued to, kept in a bounded cache, and expire
//!   (`nonce_lifetime`); an expired nonce with the right password is answered `stale=true` so the client retries
//!   without asking its user;
//! - with `qop=auth` every request must carry a nonce count above the highest seen for that nonce, so a replayed
//!   header (same or lower `nc`) is refused; without `qop` a nonce is good for one request;
//! - the `uri` must be the Request-URI and the `realm` ours, so a header captured on another request or server
//!   is useless;
//! - a source failing repeatedly is blocked for a growing period ([`FailureBackoff`]), refused with 403 before
//!   any hashing.
//!
//! Out-of-order requests sharing a nonce (rare: SIP UAs send one request at a time per nonce) are refused like
//! replays and simply get a fresh challenge.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::backoff::{BackoffConfig, FailureBackoff};
use super::{constant_time_eq, Algorithm, Credentials, CredentialsError};
use crate::message::{Request, Response};
use crate::source::SourceKey;

/// Settings of a [`DigestVerifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// Our realm; answers for any other realm are refused.
    pub realm: String,
    /// Algorithms offered, most preferred first (one `WWW-Authenticate` each, RFC 8760 §2.4). Answers in any of
    /// them are accepted.
    pub algorithms: Vec<Algorithm>,
    /// How long a nonce may be used.
    pub nonce_lifetime: Duration,
    /// Nonces remembered at most; when full the oldest is forgotten (its next use is answered `stale=true`).
    pub max_nonces: usize,
    /// Per-source back-off after failed attempts (password guessing).
    pub backoff: BackoffConfig,
}

impl VerifierConfig {
    /// Defaults for `realm`: MD5 (what every SIP UA speaks), five-minute nonces, 65,536 of them.
    pub fn new(realm: impl Into<String>) -> Self {
        Self {
            realm: realm.into(),
            algorithms: vec![Algorithm::Md5],
            nonce_lifetime: Duration::from_secs(300),
            max_nonces: 65_536,
            backoff: BackoffConfig::default(),
        }
    }
}

/// Why a request was not authenticated. Every variant but [`DigestRejection::Blocked`] is answered with a new
/// challenge (401); see [`DigestVerifier::rejection_response`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestRejection {
    /// No `Authorization` header: the first request, answered with a challenge.
    #[error("no Authorization header")]
    Missing,
    /// The header does not parse as a Digest answer.
    #[error("malformed credentials: {0}")]
    Malformed(#[from] CredentialsError),
    /// Credentials for another realm.
    #[error("credentials for realm {0:?}, not ours")]
    WrongRealm(String),
    /// The digest answers for another URI than the request's (a replay onto another request).
    #[error("digest uri {digest_uri:?} is not the Request-URI")]
    UriMismatch {
        /// The `uri` parameter of the credentials.
        digest_uri: String,
    },
    /// The nonce was not issued by us to this source, or was forgotten.
    #[error("nonce not issued by us to this source")]
    UnknownNonce,
    /// Unknown user or wrong password (the two are not told apart).
    #[error("unknown user or wrong password")]
    BadCredentials,
    /// The nonce has expired: the client retries with the new one (`stale=true`).
    #[error("nonce expired")]
    StaleNonce,
    /// The nonce count did not increase: these credentials were seen before.
    #[error("replayed credentials (nonce count {nc} not above {highest})")]
    Replayed {
        /// The nonce count presented.
        nc: u32,
        /// The highest nonce count already accepted for the nonce.
        highest: u32,
    },
    /// The source failed too often and is blocked; answered 403 without a challenge.
    #[error("source blocked after repeated failures")]
    Blocked {
        /// When the block ends.
        until: Instant,
    },
}

impl DigestRejection {
    /// 403 for a blocked source, 401 (with a challenge) otherwise.
    pub fn status(&self) -> u16 {
        match self {
            DigestRejection::Blocked { .. } => 403,
            _ => 401,
        }
    }

    /// Whether the challenge should say `stale=true` (right password, old nonce).
    pub fn is_stale(&self) -> bool {
        matches!(self, DigestRejection::StaleNonce)
    }

    /// Whether the attempt counts towards the source's back-off. An absent header is the normal first step and
    /// a stale nonce carried the right password; everything else is a failed or hostile attempt.
    fn is_failure(&self) -> bool {
        !matches!(self, DigestRejection::Missing | DigestRejection::StaleNonce | DigestRejection::Blocked { .. })
    }
}

#[derive(Debug, Clone)]
struct NonceState {
    expires: Instant,
    /// Highest nonce count accepted so far (0: none yet).
    highest_nc: u32,
    /// A `qop`-less answer used this nonce (it is then spent).
    spent: bool,
}

/// Digest verifier with a nonce cache and per-source back-off. One per realm; the user agent calls
/// [`DigestVerifier::verify`] for each request that needs authentication and answers failures with
/// [`DigestVerifier::rejection_response`]. Its Debug output shows neither passwords nor the nonce key.
pub struct DigestVerifier {
    config: VerifierConfig,
    /// username → password.
    users: HashMap<String, String>,
    secret: [u8; 32],
    nonces: HashMap<String, NonceState>,
    /// Nonces in issue order, which is also expiry order (one lifetime for all).
    issued: VecDeque<(Instant, String)>,
    backoff: FailureBackoff,
}

impl std::fmt::Debug for DigestVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestVerifier")
            .field("config", &self.config)
            .field("users", &self.users.len())
            .field("cached_nonces", &self.nonces.len())
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// Random bytes in a nonce, and bytes of its keyed tag.
const NONCE_RANDOM_BYTES: usize = 16;
const NONCE_TAG_BYTES: usize = 8;

impl DigestVerifier {
    /// A verifier for `users` (username, password).
    pub fn new(config: VerifierConfig, users: impl IntoIterator<Item = (String, String)>) -> Self {
        let backoff = FailureBackoff::new(config.backoff);
        Self {
            config,
            users: users.into_iter().collect(),
            secret: rand::random(),
            nonces: HashMap::new(),
            issued: VecDeque::new(),
            backoff,
        }
    }

    /// Our realm, as challenges name it.
    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// Replaces the accounts (e.g. after a configuration reload); nonces and back-off state stay.
    pub fn set_users(&mut self, users: impl IntoIterator<Item = (String, String)>) {
        self.users = users.into_iter().collect();
    }

    /// A `WWW-Authenticate` value with a fresh nonce for `source`, in the most preferred algorithm.
    pub fn challenge(&mut self, source: IpAddr, now: Instant) -> String {
        self.challenges(source, now, false).into_iter().next().unwrap_or_default()
    }

    /// One `WWW-Authenticate` value per configured algorithm, sharing one fresh nonce; `stale` tells the client
    /// its password was right but the nonce expired (RFC 7616 §3.3).
    pub fn challenges(&mut self, source: IpAddr, now: Instant, stale: bool) -> Vec<String> {
        let nonce = self.issue_nonce(source, now);
        let stale = if stale { ", stale=true" } else { "" };
        let algorithms =
            if self.config.algorithms.is_empty() { &[Algorithm::Md5][..] } else { &self.config.algorithms };
        algorithms
            .iter()
            .map(|alg| {
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
                    self.config.realm,
                    alg.as_str()
                )
            })
            .collect()
    }

    /// Checks the `Authorization` of `request`, received from `source`. Returns the authenticated username.
    pub fn verify(&mut self, request: &Request, source: IpAddr, now: Instant) -> Result<String, DigestRejection> {
        self.expire_nonces(now);
        if let Some(until) = self.backoff.blocked_until(source, now) {
            return Err(DigestRejection::Blocked { until });
        }
        let result = self.check(request, source, now);
        match &result {
            Ok(_) => self.backoff.record_success(source),
            Err(rejection) if rejection.is_failure() => {
                if let Some(until) = self.backoff.record_failure(source, now) {
                    tracing::warn!(source = %SourceKey::of(source), ?until, "digest failures: source blocked");
                }
            }
            Err(_) => {}
        }
        result
    }

    fn check(&mut self, request: &Request, source: IpAddr, now: Instant) -> Result<String, DigestRejection> {
        // Several Authorization lines may be present (one per realm); ours is the one that counts.
        let mut headers = request.headers.get_all("Authorization").peekable();
        headers.peek().ok_or(DigestRejection::Missing)?;
        let mut parsed = headers.map(Credentials::parse).collect::<Vec<_>>();
        let position = parsed.iter().position(|c| c.as_ref().is_ok_and(|c| c.realm == self.config.realm));
        let credentials = match position {
            Some(i) => parsed.swap_remove(i)?,
            None => {
                let first = parsed.swap_remove(0)?;
                return Err(DigestRejection::WrongRealm(first.realm));
            }
        };
        if !digest_uri_matches(&credentials.uri, request.uri.trim()) {
            return Err(DigestRejection::UriMismatch { digest_uri: credentials.uri });
        }
        if !self.nonce_is_ours(&credentials.nonce, source) {
            return Err(DigestRejection::UnknownNonce);
        }
        // Hash even for unknown users, so timing does not tell which usernames exist.
        let (password, known) = match self.users.get(&credentials.username) {
            Some(password) => (password.as_str(), true),
            None => ("", false),
        };
        if !credentials.proves(request.method.as_str(), password) || !known {
            return Err(DigestRejection::BadCredentials);
        }
        let state = self.nonces.get_mut(&credentials.nonce).filter(|s| s.expires > now);
        let Some(state) = state else { return Err(DigestRejection::StaleNonce) };
        match &credentials.qop_auth {
            Some(qop) => {
                if qop.nc <= state.highest_nc {
                    return Err(DigestRejection::Replayed { nc: qop.nc, highest: state.highest_nc });
                }
                state.highest_nc = qop.nc;
            }
            None => {
                if state.spent {
                    return Err(DigestRejection::Replayed { nc: 1, highest: 1 });
                }
                state.spent = true;
            }
        }
        Ok(credentials.username)
    }

    /// The response to a request refused with `rejection`: 403 for a blocked source, else 401 with fresh
    /// challenges. The caller adds the To tag.
    pub fn rejection_response(
        &mut self,
        request: &Request,
        rejection: &DigestRejection,
        source: IpAddr,
        now: Instant,
    ) -> Response {
        if rejection.status() == 403 {
            return Response::for_request(request, 403, "Forbidden");
        }
        let mut response = Response::for_request(request, 401, "Unauthorized");
        for challenge in self.challenges(source, now, rejection.is_stale()) {
            response.headers.push("WWW-Authenticate", challenge);
        }
        response
    }

    /// Nonces currently cached.
    pub fn cached_nonces(&self) -> usize {
        self.nonces.len()
    }

    fn issue_nonce(&mut self, source: IpAddr, now: Instant) -> String {
        self.expire_nonces(now);
        while self.nonces.len() >= self.config.max_nonces.max(1) {
            let Some((_, oldest)) = self.issued.pop_front() else { break };
            self.nonces.remove(&oldest);
        }
        let random: [u8; NONCE_RANDOM_BYTES] = rand::random();
        let mut nonce = hex(&random);
        nonce.push_str(&hex(&self.tag(&random, source)));
        let expires = now + self.config.nonce_lifetime;
        self.nonces.insert(nonce.clone(), NonceState { expires, highest_nc: 0, spent: false });
        self.issued.push_back((expires, nonce.clone()));
        nonce
    }

    fn expire_nonces(&mut self, now: Instant) {
        while self.issued.front().is_some_and(|(expires, _)| *expires <= now) {
            if let Some((_, nonce)) = self.issued.pop_front() {
                self.nonces.remove(&nonce);
            }
        }
    }

    /// The keyed tag that makes a nonce recognisable as ours (for `source`) even after the cache forgot it.
    fn tag(&self, random: &[u8], source: IpAddr) -> [u8; NONCE_TAG_BYTES] {
        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        hasher.update(random);
        hasher.update(SourceKey::of(source).to_string().as_bytes());
        let digest = hasher.finalize();
        let mut tag = [0u8; NONCE_TAG_BYTES];
        tag.copy_from_slice(&digest[..NONCE_TAG_BYTES]);
        tag
    }

    fn nonce_is_ours(&self, nonce: &str, source: IpAddr) -> bool {
        if nonce.len() != 2 * (NONCE_RANDOM_BYTES + NONCE_TAG_BYTES) || !nonce.is_ascii() {
            return false;
        }
        let (random, tag) = nonce.split_at(2 * NONCE_RANDOM_BYTES);
        let Some(random) = unhex(random) else { return false };
        constant_time_eq(hex(&self.tag(&random, source)).as_bytes(), tag.to_ascii_lowercase().as_bytes())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Whether the Authorization's `uri` names the Request-URI (RFC 3261 §22.4): the same text, or the same
/// scheme, host and port without a user part (sipp and some PBXs send the host only). A different user,
/// host or port never matches, so an answer cannot be moved to another target.
fn digest_uri_matches(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    let (Ok(digest), Ok(request)) = (crate::uri::SipUri::parse(digest_uri), crate::uri::SipUri::parse(request_uri))
    else {
        return false;
    };
    digest.user.is_none()
        && digest.secure == request.secure
        && digest.host.eq_ignore_ascii_case(&request.host)
        && digest.port == request.port
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Challenge, DigestClient};
    use crate::message::Message;

    const URI: &str = "sip:demo@192.0.2.1";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn verifier() -> DigestVerifier {
        let config =
            VerifierConfig { algorithms: vec![Algorithm::Sha256, Algorithm::Md5], ..VerifierConfig::new("voicera") };
        DigestVerifier::new(config, [("1001".to_string(), "secret".to_string())])
    }

    fn invite(uri: &str, authorization: Option<&str>) -> Request {
        let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
        let text = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK1\r\nFrom: <sip:1001@x>;tag=a\r\n\
             To: <{uri}>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{auth}Content-Length: 0\r\n\r\n"
        );
        match Message::parse(text.as_bytes()) {
            Ok(Message::Request(request)) => request,
            other => panic!("{other:?}"),
        }
    }

    /// A client that took `challenge` and knows `password`.
    fn client(challenge: &str, password: &str) -> DigestClient {
        let mut client = DigestClient::new("1001", password, None);
        client.set_challenge(Challenge::parse(challenge).unwrap());
        client
    }

    #[test]
    fn a_correct_answer_passes_and_its_replay_is_refused_with_a_new_challenge() {
        let mut v = verifier();
        let (source, t0) = (ip("198.51.100.7"), Instant::now());
        assert_eq!(v.verify(&invite(URI, None), source, t0), Err(DigestRejection::Missing));
        let challenge = v.challenge(source, t0);
        assert!(challenge.contains("algorithm=SHA-256") && challenge.contains("qop=\"auth\""), "{challenge}");
        let mut alice = client(&challenge, "secret");
        let first = alice.authorization("INVITE", URI).unwrap();
        assert_eq!(v.verify(&invite(URI, Some(&first)), source, t0), Ok("1001".into()));
        // The same header again (a captured INVITE replayed): refused, and answered with a fresh 401.
        let replay = v.verify(&invite(URI, Some(&first)), source, t0);
        assert_eq!(replay, Err(DigestRejection::Replayed { nc: 1, highest: 1 }));
        let response = v.rejection_response(&invite(URI, None), &replay.unwrap_err(), source, t0);
        assert_eq!(response.status, 401);
        assert_eq!(response.headers.get_all("WWW-Authenticate").count(), 2, "SHA-256 and MD5");
        // The client's next request on the same nonce (nc=2) passes; going back to an older count does not.
        let second = alice.authorization("INVITE", URI).unwrap();
        let third = alice.authorization("INVITE", URI).unwrap();
        assert_eq!(v.verify(&invite(URI, Some(&third)), source, t0), Ok("1001".into()));
        assert_eq!(
            v.verify(&invite(URI, Some(&second)), source, t0),
            Err(DigestRejection::Replayed { nc: 2, highest: 3 })
        );
    }

    #[test]
    fn a_digest_uri_without_the_user_part_names_the_same_request_uri() {
        // sipp and some PBXs put the host only in the digest uri.
        assert!(digest_uri_matches("sip:127.0.0.1:5060", "sip:echo@127.0.0.1:5060"));
        assert!(digest_uri_matches("sip:echo@127.0.0.1:5060", "sip:echo@127.0.0.1:5060"));
        assert!(!digest_uri_matches("sip:other@127.0.0.1:5060", "sip:echo@127.0.0.1:5060"));
        assert!(!digest_uri_matches("sip:127.0.0.1:5061", "sip:echo@127.0.0.1:5060"));
        assert!(!digest_uri_matches("sip:192.0.2.1", "sip:echo@127.0.0.1"));
    }

    #[test]
    fn uri_and_realm_must_be_ours() {
        let mut v = verifier();
        let (source, t0) = (ip("198.51.100.7"), Instant::now());
        let challenge = v.challenge(source, t0);
        let header = client(&challenge, "secret").authorization("INVITE", "sip:premium@192.0.2.1").unwrap();
        assert_eq!(
            v.verify(&invite(URI, Some(&header)), source, t0),
            Err(DigestRejection::UriMismatch { digest_uri: "sip:premium@192.0.2.1".into() })
        );
        let mut other_realm = DigestClient::new("1001", "secret", Some("elsewhere".into()));
        other_realm.set_challenge(Challenge::parse(&challenge).unwrap());
        let header = other_realm.authorization("INVITE", URI).unwrap();
        assert_eq!(
            v.verify(&invite(URI, Some(&header)), source, t0),
            Err(DigestRejection::WrongRealm("elsewhere".into()))
        );
    }

    #[test]
    fn expired_nonce_with_the_right_password_is_stale_and_the_new_challenge_says_so() {
        let mut v = verifier();
        let (source, t0) = (ip("198.51.100.7"), Instant::now());
        let challenge = v.challenge(source, t0);
        let header = client(&challenge, "secret").authorization("INVITE", URI).unwrap();
        let later = t0 + Duration::from_secs(301);
        let rejection = v.verify(&invite(URI, Some(&header)), source, later).unwrap_err();
        assert_eq!(rejection, DigestRejection::StaleNonce);
        assert_eq!(v.cached_nonces(), 0, "expired nonces are dropped from the cache");
        let response = v.rejection_response(&invite(URI, None), &rejection, source, later);
        let fresh = response.headers.get("WWW-Authenticate").unwrap();
        assert!(Challenge::parse(fresh).unwrap().stale, "{fresh}");
        // The same stale header with a wrong password is not stale, just wrong.
        let wrong = client(&challenge, "guess").authorization("INVITE", URI).unwrap();
        assert_eq!(v.verify(&invite(URI, Some(&wrong)), source, later), Err(DigestRejection::BadCredentials));
    }

    #[test]
    fn forged_nonces_and_nonces_issued_to_another_source_are_unknown() {
        let mut v = verifier();
        let t0 = Instant::now();
        let challenge = v.challenge(ip("198.51.100.7"), t0);
        let header = client(&challenge, "secret").authorization("INVITE", URI).unwrap();
        assert_eq!(v.verify(&invite(URI, Some(&header)), ip("203.0.113.9"), t0), Err(DigestRejection::UnknownNonce));
        let nonce = Challenge::parse(&challenge).unwrap().nonce;
        let last = if nonce.ends_with('0') { '1' } else { '0' };
        let forged = challenge.replace(&nonce, &format!("{}{last}", &nonce[..nonce.len() - 1]));
        let header = client(&forged, "secret").authorization("INVITE", URI).unwrap();
        assert_eq!(v.verify(&invite(URI, Some(&header)), ip("198.51.100.7"), t0), Err(DigestRejection::UnknownNonce));
    }

    #[test]
    fn repeated_failures_block_the_source_with_403_then_it_recovers() {
        let mut v = verifier();
        let (source, t0) = (ip("198.51.100.7"), Instant::now());
        for attempt in 0..5u64 {
            let now = t0 + Duration::from_secs(attempt);
            let challenge = v.challenge(source, now);
            let guess = client(&challenge, &format!("guess{attempt}")).authorization("INVITE", URI).unwrap();
            assert_eq!(v.verify(&invite(URI, Some(&guess)), source, now), Err(DigestRejection::BadCredentials));
        }
        let now = t0 + Duration::from_secs(5);
        let challenge = v.challenge(source, now);
        let right = client(&challenge, "secret").authorization("INVITE", URI).unwrap();
        let blocked = v.verify(&invite(URI, Some(&right)), source, now).unwrap_err();
        assert!(matches!(blocked, DigestRejection::Blocked { .. }), "{blocked:?}");
        assert_eq!(v.rejection_response(&invite(URI, None), &blocked, source, now).status, 403);
        // Another source is not affected; the blocked one passes once the block (30 s) is over.
        let other = ip("203.0.113.9");
        let other_header = client(&v.challenge(other, now), "secret").authorization("INVITE", URI).unwrap();
        assert_eq!(v.verify(&invite(URI, Some(&other_header)), other, now), Ok("1001".into()));
        let after = t0 + Duration::from_secs(40);
        let right = client(&v.challenge(source, after), "secret").authorization("INVITE", URI).unwrap();
        assert_eq!(v.verify(&invite(URI, Some(&right)), source, after), Ok("1001".into()));
    }

    #[test]
    fn unknown_users_are_refused_like_wrong_passwords() {
        let mut v = verifier();
        let (source, t0) = (ip("198.51.100.7"), Instant::now());
        let mut mallory = DigestClient::new("mallory", "", None);
        mallory.set_challenge(Challenge::parse(&v.challenge(source, t0)).unwrap());
        let header = mallory.authorization("INVITE", URI).unwrap();
        assert_eq!(v.verify(&invite(URI, Some(&header)), source, t0), Err(DigestRejection::BadCredentials));
    }

    #[test]
    fn answers_without_qop_use_a_nonce_once() {
        let mut v = verifier();
        let (source, t0) = (ip("198.51.100.7"), Instant::now());
        let challenge = v.challenge(source, t0).replace(", qop=\"auth\"", "");
        let header = client(&challenge, "secret").authorization("INVITE", URI).unwrap();
        assert!(!header.contains("qop"), "{header}");
        assert_eq!(v.verify(&invite(URI, Some(&header)), source, t0), Ok("1001".into()));
        assert!(matches!(v.verify(&invite(URI, Some(&header)), source, t0), Err(DigestRejection::Replayed { .. })));
    }

    #[test]
    fn the_nonce_cache_is_bounded_and_a_forgotten_nonce_is_stale() {
        let config = VerifierConfig { max_nonces: 8, ..VerifierConfig::new("voicera") };
        let mut v = DigestVerifier::new(config, [("1001".to_string(), "secret".to_string())]);
        let (source, t0) = (ip("198.51.100.7"), Instant::now());
        let first = v.challenge(source, t0);
        for _ in 0..100 {
            v.challenge(source, t0);
        }
        assert_eq!(v.cached_nonces(), 8);
        let header = client(&first, "secret").authorization("INVITE", URI).unwrap();
        assert_eq!(v.verify(&invite(URI, Some(&header)), source, t0), Err(DigestRejection::StaleNonce));
    }

    #[test]
    fn malformed_credentials_are_named() {
        let mut v = verifier();
        let (source, t0) = (ip("198.51.100.7"), Instant::now());
        let bad =
            invite(URI, Some("Digest username=\"1001\", realm=\"voicera\", nonce=\"x\", uri=\"sip:demo@192.0.2.1\""));
        assert_eq!(v.verify(&bad, source, t0), Err(DigestRejection::Malformed(CredentialsError::Missing("response"))));
        let basic = invite(URI, Some("Basic MTAwMTpzZWNyZXQ="));
        assert_eq!(v.verify(&basic, source, t0), Err(DigestRejection::Malformed(CredentialsError::NotDigest)));
    }

    #[test]
    fn debug_output_hides_passwords() {
        assert!(!format!("{:?}", verifier()).contains("secret"));
    }
}
