//! HTTP Digest authentication for SIP (RFC 3261 §22, RFC 7616 for SHA-256, RFC 8760): parsing challenges,
//! answering them as a client (with nonce reuse and an increasing `nc`), and checking answers as a server
//! ([`DigestVerifier`]: nonce cache, nonce-count replay check, URI and realm checks, per-source back-off).

pub mod backoff;
mod verifier;

pub use backoff::{BackoffConfig, FailureBackoff};
pub use verifier::{DigestRejection, DigestVerifier, VerifierConfig};

use std::fmt::Write as _;

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// Digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5 (RFC 2617): what every SIP UA speaks.
    Md5,
    /// SHA-256 (RFC 7616, RFC 8760).
    Sha256,
}

impl Algorithm {
    fn parse(text: &str) -> Option<Algorithm> {
        match text.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "SHA-256" => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    /// The `algorithm` parameter's token (`MD5`, `SHA-256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    pub(crate) fn hash(self, input: &str) -> String {
        let bytes = match self {
            Algorithm::Md5 => Md5::digest(input.as_bytes()).to_vec(),
            Algorithm::Sha256 => Sha256::digest(input.as_bytes()).to_vec(),
        };
        bytes.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

/// A parsed `WWW-Authenticate`/`Proxy-Authenticate` Digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space; the password hash covers it.
    pub realm: String,
    /// The server's nonce, answered with in every request until it expires.
    pub nonce: String,
    /// Sent back unchanged, when the server gave one.
    pub opaque: Option<String>,
    /// The hash to answer with (MD5 when the challenge names none).
    pub algorithm: Algorithm,
    /// Whether `qop=auth` was offered.
    pub qop_auth: bool,
    /// The credentials were right but the nonce expired: answer again without asking for the password.
    pub stale: bool,
}

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The header is not a Digest challenge (e.g. Basic).
    #[error("not a Digest challenge")]
    NotDigest,
    /// A required parameter is absent (its name).
    #[error("challenge lacks {0}")]
    Missing(&'static str),
    /// An algorithm we cannot answer (e.g. `SHA-512-256`).
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// `qop` offers only `auth-int` or other values we do not implement.
    #[error("challenge offers only qop values other than auth: {0:?}")]
    UnsupportedQop(String),
}

impl Challenge {
    /// Parses a `WWW-Authenticate`/`Proxy-Authenticate` value.
    pub fn parse(header: &str) -> Result<Challenge, AuthError> {
        let rest = header.trim();
        let rest = rest
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case("digest"))
            .map(|_| &rest[6..])
            .ok_or(AuthError::NotDigest)?;
        let params = parse_auth_params(rest);
        let get = |name: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        let algorithm = match get("algorithm") {
            Some(a) => Algorithm::parse(&a).ok_or(AuthError::UnsupportedAlgorithm(a))?,
            None => Algorithm::Md5,
        };
        let qop = get("qop");
        let qop_auth = qop.as_deref().is_some_and(|q| q.split(',').any(|v| v.trim().eq_ignore_ascii_case("auth")));
        if let Some(q) = qop.filter(|_| !qop_auth) {
            return Err(AuthError::UnsupportedQop(q));
        }
        Ok(Challenge {
            realm: get("realm").ok_or(AuthError::Missing("realm"))?,
            nonce: get("nonce").ok_or(AuthError::Missing("nonce"))?,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }
}

/// Client-side credentials and the nonce state that lets later requests authenticate without a new challenge.
/// Its Debug output leaves the password out.
#[derive(Clone)]
pub struct DigestClient {
    /// The username to authenticate as.
    pub username: String,
    /// The password; never logged (see the Debug impl).
    pub password: String,
    /// Configured realm; when empty the challenge's realm is used.
    pub realm: Option<String>,
    challenge: Option<Challenge>,
    nonce_count: u32,
}

impl std::fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestClient")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("realm", &self.realm)
            .field("challenge", &self.challenge)
            .field("nonce_count", &self.nonce_count)
            .finish()
    }
}

impl DigestClient {
    /// Credentials for `username`, with no challenge yet: the first request goes out unauthenticated.
    pub fn new(username: impl Into<String>, password: impl Into<String>, realm: Option<String>) -> Self {
        Self { username: username.into(), password: password.into(), realm, challenge: None, nonce_count: 0 }
    }

    /// Takes a new challenge; the nonce count restarts.
    pub fn set_challenge(&mut self, challenge: Challenge) {
        self.challenge = Some(challenge);
        self.nonce_count = 0;
    }

    /// Whether a challenge is held, so requests can carry credentials up front.
    pub fn has_challenge(&self) -> bool {
        self.challenge.is_some()
    }

    /// The `Authorization` value for `method` on `uri`, reusing the current nonce with the next `nc`.
    pub fn authorization(&mut self, method: &str, uri: &str) -> Option<String> {
        let challenge = self.challenge.as_ref()?;
        self.nonce_count += 1;
        let cnonce = format!("{:016x}", rand::random::<u64>());
        Some(authorization_value(self, challenge, method, uri, self.nonce_count, &cnonce))
    }
}

fn authorization_value(
    client: &DigestClient,
    challenge: &Challenge,
    method: &str,
    uri: &str,
    nc: u32,
    cnonce: &str,
) -> String {
    let realm = client.realm.as_deref().filter(|r| !r.is_empty()).unwrap_or(&challenge.realm);
    let alg = challenge.algorithm;
    let ha1 = alg.hash(&format!("{}:{}:{}", client.username, realm, client.password));
    let ha2 = alg.hash(&format!("{method}:{uri}"));
    let mut value = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", algorithm={}",
        client.username,
        realm,
        challenge.nonce,
        uri,
        alg.as_str()
    );
    let response = if challenge.qop_auth {
        let nc = format!("{nc:08x}");
        let _ = write!(value, ", qop=auth, nc={nc}, cnonce=\"{cnonce}\"");
        alg.hash(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", challenge.nonce))
    } else {
        alg.hash(&format!("{ha1}:{}:{ha2}", challenge.nonce))
    };
    let _ = write!(value, ", response=\"{response}\"");
    if let Some(opaque) = &challenge.opaque {
        let _ = write!(value, ", opaque=\"{opaque}\"");
    }
    value
}

/// A parsed `Authorization`/`Proxy-Authorization` Digest answer (RFC 7616 §3.4). Parsing checks syntax only;
/// [`DigestVerifier`] checks it against the request, the nonce cache and the password. Its Debug output leaves
/// the response out (with the nonce it allows an offline password search).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Who the client says it is.
    pub username: String,
    /// The realm the client answered for; must be ours.
    pub realm: String,
    /// The nonce answered; must be one we issued and still fresh.
    pub nonce: String,
    /// The `uri` parameter (digest-uri), which must equal the Request-URI.
    pub uri: String,
    /// The hash the client computed (hex), compared against our own in constant time.
    pub response: String,
    /// The algorithm the client used (MD5 when it names none).
    pub algorithm: Algorithm,
    /// `Some` when the client answered with `qop=auth` (then `nc` and `cnonce` are present).
    pub qop_auth: Option<QopAuth>,
    /// The challenge's `opaque`, echoed.
    pub opaque: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("nonce", &self.nonce)
            .field("uri", &self.uri)
            .field("response", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("qop_auth", &self.qop_auth)
            .finish_non_exhaustive()
    }
}

/// The `nc` and `cnonce` of a `qop=auth` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QopAuth {
    /// Nonce count: how many requests the client has sent with this nonce, including this one.
    pub nc: u32,
    /// `nc` exactly as sent (8 hex digits), because the response hash covers the text.
    pub nc_text: String,
    /// The client's nonce, mixed into the hash so a server cannot choose everything hashed.
    pub cnonce: String,
}

/// Why an `Authorization` value is not a usable Digest answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// The header is not a Digest answer.
    #[error("not Digest credentials")]
    NotDigest,
    /// A required parameter is absent (its name).
    #[error("credentials lack {0}")]
    Missing(&'static str),
    /// An algorithm we do not verify.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A `qop` other than `auth`.
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    /// `nc` is not 8 hex digits.
    #[error("malformed nonce count {0:?}")]
    BadNonceCount(String),
}

/// Longest parameter value accepted in credentials; real values are well below (a SHA-256 response is 64 hex
/// digits, URIs a few hundred bytes), and hashing attacker-sized input for every guess is work we refuse.
const MAX_PARAM_LEN: usize = 1024;

impl Credentials {
    /// Parses an `Authorization`/`Proxy-Authorization` value (syntax only, see [`DigestVerifier`]).
    pub fn parse(header: &str) -> Result<Credentials, CredentialsError> {
        let rest = header.trim();
        let rest = rest
            .get(..6)
            .filter(|s| s.eq_ignore_ascii_case("digest"))
            .and_then(|_| rest.get(6..))
            .ok_or(CredentialsError::NotDigest)?;
        let params = parse_auth_params(rest);
        let get = |name: &'static str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .filter(|v| v.len() <= MAX_PARAM_LEN)
        };
        let need = |name: &'static str| get(name).ok_or(CredentialsError::Missing(name));
        let algorithm = match get("algorithm") {
            Some(a) => Algorithm::parse(&a).ok_or(CredentialsError::UnsupportedAlgorithm(a))?,
            None => Algorithm::Md5,
        };
        let qop_auth = match get("qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc_text = need("nc")?;
                let nc = (nc_text.len() == 8)
                    .then(|| u32::from_str_radix(&nc_text, 16).ok())
                    .flatten()
                    .ok_or_else(|| CredentialsError::BadNonceCount(nc_text.clone()))?;
                Some(QopAuth { nc, nc_text, cnonce: need("cnonce")? })
            }
            Some(q) => return Err(CredentialsError::UnsupportedQop(q)),
        };
        Ok(Credentials {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response: need("response")?,
            algorithm,
            qop_auth,
            opaque: get("opaque"),
        })
    }

    /// The response a client knowing `password` would have sent for `method` (RFC 7616 §3.4.1).
    pub fn expected_response(&self, method: &str, password: &str) -> String {
        let alg = self.algorithm;
        let ha1 = alg.hash(&format!("{}:{}:{password}", self.username, self.realm));
        let ha2 = alg.hash(&format!("{method}:{}", self.uri));
        match &self.qop_auth {
            Some(q) => alg.hash(&format!("{ha1}:{}:{}:{}:auth:{ha2}", self.nonce, q.nc_text, q.cnonce)),
            None => alg.hash(&format!("{ha1}:{}:{ha2}", self.nonce)),
        }
    }

    /// Whether the response proves knowledge of `password`, compared in constant time.
    pub fn proves(&self, method: &str, password: &str) -> bool {
        constant_time_eq(
            self.expected_response(method, password).as_bytes(),
            self.response.to_ascii_lowercase().as_bytes(),
        )
    }
}

/// Compares without an early exit, so timing does not reveal how many leading bytes of a guess were right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Server side, stateless: checks an `Authorization` header against a password for `method`. It checks neither
/// the nonce, nor replays, nor the URI or realm: use [`DigestVerifier`], which does.
pub fn verify(authorization: &str, method: &str, password: &str) -> Option<VerifiedUser> {
    let credentials = Credentials::parse(authorization).ok()?;
    let proven = credentials.proves(method, password);
    proven.then_some(VerifiedUser { username: credentials.username, nonce: credentials.nonce })
}

/// Issues and checks server nonces without storing them (no replay protection; superseded by
/// [`DigestVerifier`], kept for callers not yet moved): a nonce is `<issued-at hex>.<keyed hash>`, so any
/// nonce we issued within `lifetime` verifies, and forged or expired ones do not (RFC 7616 §3.3 leaves the
/// nonce format to the server). Time is passed in as seconds since the Unix epoch.
#[derive(Clone)]
pub struct NonceIssuer {
    secret: [u8; 32],
    lifetime_secs: u64,
}

impl std::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceIssuer").field("lifetime_secs", &self.lifetime_secs).finish_non_exhaustive()
    }
}

impl NonceIssuer {
    /// An issuer with a random secret whose nonces stay valid for `lifetime_secs`.
    pub fn new(lifetime_secs: u64) -> Self {
        Self { secret: rand::random(), lifetime_secs }
    }

    fn tag(&self, issued: u64) -> String {
        let mut input = self.secret.to_vec();
        input.extend_from_slice(&issued.to_be_bytes());
        let digest = Sha256::digest(&input);
        digest[..12].iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// A nonce issued at `now_secs`: the time and a keyed hash of it, so no state is kept to check it later.
    pub fn issue(&self, now_secs: u64) -> String {
        format!("{now_secs:x}.{}", self.tag(now_secs))
    }

    /// Whether `nonce` is ours and still fresh.
    pub fn is_valid(&self, nonce: &str, now_secs: u64) -> bool {
        let Some((issued, tag)) = nonce.split_once('.') else { return false };
        let Ok(issued) = u64::from_str_radix(issued, 16) else { return false };
        issued <= now_secs && now_secs - issued <= self.lifetime_secs && tag == self.tag(issued)
    }

    /// A `WWW-Authenticate` value with a fresh nonce; `stale` tells the client its credentials were right
    /// but the nonce expired (RFC 7616 §3.3), so it retries without asking the user.
    pub fn challenge(&self, realm: &str, now_secs: u64, stale: bool) -> String {
        let stale = if stale { ", stale=true" } else { "" };
        format!("Digest realm=\"{realm}\", nonce=\"{}\", qop=\"auth\", algorithm=MD5{stale}", self.issue(now_secs))
    }
}

/// Who passed [`verify`], and with which nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedUser {
    /// The authenticated username.
    pub username: String,
    /// The nonce the credentials used (its nonce count is tracked against replays).
    pub nonce: String,
}

/// Parses `a="x", b=y` auth-params, honouring quoted commas.
fn parse_auth_params(text: &str) -> Vec<(String, String)> {
    crate::message::split_list(text)
        .into_iter()
        .filter_map(|part| {
            let (k, v) = part.split_once('=')?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2617_example_response_matches() {
        // The worked example of RFC 2617 §3.5 (HTTP, but the digest is identical).
        let challenge = Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let client = DigestClient::new("Mufasa", "Circle Of Life", None);
        let value = authorization_value(&client, &challenge, "GET", "/dir/index.html", 1, "0a4f113b");
        assert!(value.contains(r#"response="6629fae49393a05397450978507c4ef1""#), "{value}");
        assert_eq!(verify(&value, "GET", "Circle Of Life").map(|u| u.username), Some("Mufasa".into()));
        assert_eq!(verify(&value, "GET", "wrong"), None);
    }

    #[test]
    fn sha256_round_trips_and_nonce_count_increases() {
        let challenge =
            Challenge::parse(r#"Digest realm="sip.example", nonce="abc", algorithm=SHA-256, qop="auth""#).unwrap();
        let mut client = DigestClient::new("1001", "secret", None);
        client.set_challenge(challenge);
        let first = client.authorization("REGISTER", "sip:sip.example").unwrap();
        let second = client.authorization("REGISTER", "sip:sip.example").unwrap();
        assert!(first.contains("nc=00000001") && second.contains("nc=00000002"));
        assert!(verify(&second, "REGISTER", "secret").is_some());
    }

    #[test]
    fn nonces_verify_until_they_expire_and_cannot_be_forged() {
        let issuer = NonceIssuer::new(300);
        let nonce = issuer.issue(1_000);
        assert!(issuer.is_valid(&nonce, 1_200));
        assert!(!issuer.is_valid(&nonce, 1_301));
        assert!(!issuer.is_valid(&nonce.replace('.', ".0"), 1_000));
        assert!(!NonceIssuer::new(300).is_valid(&nonce, 1_000), "another server's secret");
        let challenge = Challenge::parse(&issuer.challenge("voicera", 1_000, true)).unwrap();
        assert!(challenge.stale && challenge.qop_auth);
    }

    #[test]
    fn unsupported_challenges_are_named() {
        assert_eq!(Challenge::parse("Basic realm=x"), Err(AuthError::NotDigest));
        assert!(matches!(
            Challenge::parse(r#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_header_values_never_panic(value in "[ -~]{0,300}") {
            let _ = Challenge::parse(&value);
            let _ = verify(&value, "INVITE", "secret");
            if let Ok(credentials) = Credentials::parse(&value) {
                let _ = credentials.proves("INVITE", "secret");
            }
        }

        #[test]
        fn answers_to_well_formed_challenges_parse_back_and_prove_the_password(
            realm in "[a-z0-9.]{1,20}", nonce in "[A-Za-z0-9+/=]{1,64}", sha256 in proptest::bool::ANY,
        ) {
            let algorithm = if sha256 { "SHA-256" } else { "MD5" };
            let header = format!(r#"Digest realm="{realm}", nonce="{nonce}", algorithm={algorithm}, qop="auth""#);
            let mut client = DigestClient::new("1001", "secret", None);
            client.set_challenge(Challenge::parse(&header).unwrap());
            let answer = client.authorization("INVITE", "sip:demo@h").unwrap();
            let credentials = Credentials::parse(&answer).unwrap();
            proptest::prop_assert_eq!(&credentials.realm, &realm);
            proptest::prop_assert!(credentials.proves("INVITE", "secret"));
            proptest::prop_assert!(!credentials.proves("INVITE", "other"));
        }
    }

    #[test]
    fn debug_output_never_shows_passwords_secrets_or_responses() {
        let client = DigestClient::new("1001", "hunter2", None);
        assert!(!format!("{client:?}").contains("hunter2"));
        let credentials = Credentials::parse(
            r#"Digest username="u", realm="r", nonce="n", uri="sip:x", response="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert!(!format!("{credentials:?}").contains("5ccc069c"));
    }
}
