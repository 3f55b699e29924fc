//! Who may talk to the telephony endpoints.
//!
//! - Webhooks (answer, hangup) carry the provider's signature, keyed with the account's auth token: Plivo
//!   and Vobiz V3 (`X-Plivo-Signature-V3` / `X-Vobiz-Signature-V3` + `-Nonce`, HMAC-SHA256 over the URL, the
//!   sorted parameters and the nonce), Twilio (`X-Twilio-Signature`, HMAC-SHA1 over the URL and the sorted
//!   POST parameters). Each accepted signature is remembered for [`REPLAY_WINDOW`]; the same request again is
//!   a replay and refused.
//! - Media streams are opened by the provider with a URL *we* handed out in the answer document; it carries a
//!   [`StreamTokens`] token bound to the provider, agent and call, valid for a few minutes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

use super::protocol::Provider;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long an accepted webhook signature is remembered (and a stream token stays valid).
pub const REPLAY_WINDOW: Duration = Duration::from_secs(300);
/// Bound on remembered signatures; the oldest are forgotten first.
const REPLAY_CAPACITY: usize = 100_000;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no {0} account is configured ([telephony.{0}] auth_token in voicera.toml)")]
    NotConfigured(&'static str),
    #[error("missing signature header {0}")]
    MissingHeader(&'static str),
    #[error("signature does not match")]
    Mismatch,
    #[error("replayed request (this signature was already used)")]
    Replayed,
}

/// Headers and parameters of a webhook request, as received.
pub struct SignedRequest<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The URL the provider called: our public URL + path + query, exactly as configured with the provider.
    pub url: &'a str,
    /// Form parameters of a POST body, in order of appearance.
    pub form: &'a [(String, String)],
    /// Header lookup (case-insensitive names).
    pub header: &'a dyn Fn(&str) -> Option<String>,
}

/// Checks a webhook's signature with `auth_token` by the provider's scheme.
pub fn verify(provider: Provider, auth_token: &str, request: &SignedRequest<'_>) -> Result<String, SignatureError> {
    match provider {
        Provider::Twilio => {
            let signature =
                (request.header)("x-twilio-signature").ok_or(SignatureError::MissingHeader("X-Twilio-Signature"))?;
            let expected = twilio_signature(auth_token, request.url, request.form);
            candidates_match(&signature, &expected).then_some(signature).ok_or(SignatureError::Mismatch)
        }
        Provider::Plivo | Provider::Vobiz => {
            let (sig_header, nonce_header) = match provider {
                Provider::Vobiz => ("X-Vobiz-Signature-V3", "X-Vobiz-Signature-V3-Nonce"),
                _ => ("X-Plivo-Signature-V3", "X-Plivo-Signature-V3-Nonce"),
            };
            let signature =
                (request.header)(&sig_header.to_ascii_lowercase()).ok_or(SignatureError::MissingHeader(sig_header))?;
            let nonce = (request.header)(&nonce_header.to_ascii_lowercase())
                .ok_or(SignatureError::MissingHeader(nonce_header))?;
            let expected = plivo_v3_signature(auth_token, request.method, request.url, request.form, &nonce);
            candidates_match(&signature, &expected)
                .then(|| format!("{nonce}:{signature}"))
                .ok_or(SignatureError::Mismatch)
        }
        Provider::Exotel => {
            // Exotel authenticates its requests with HTTP Basic credentials (API key : token).
            let auth = (request.header)("authorization").ok_or(SignatureError::MissingHeader("Authorization"))?;
            let given = auth.strip_prefix("Basic ").and_then(|b| B64.decode(b.trim()).ok()).unwrap_or_default();
            let token = given.splitn(2, |&b| b == b':').nth(1).unwrap_or_default();
            constant_time_eq(token, auth_token.as_bytes()).then_some(auth).ok_or(SignatureError::Mismatch)
        }
    }
}

/// Twilio: base64(HMAC-SHA1(token, url + key1 + value1 + key2 + value2 …)) with POST keys sorted.
pub fn twilio_signature(auth_token: &str, url: &str, form: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = form.iter().collect();
    sorted.sort();
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    B64.encode(mac.finalize().into_bytes())
}

/// Plivo/Vobiz V3: base64(HMAC-SHA256(token, base + "." + nonce)), where base is the URL without query, then
/// `?` and the sorted query `k=v&…` (GET), and for a POST with parameters a `.` (when there was a query) and
/// the sorted parameters as `kv` with no separators — as plivo's SDKs build it.
pub fn plivo_v3_signature(auth_token: &str, method: &str, url: &str, form: &[(String, String)], nonce: &str) -> String {
    let (origin_path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut query_params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        query_params.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    let query_string = sorted_pairs(&query_params, "=", "&");
    let is_post = method.eq_ignore_ascii_case("POST");
    let has_post_params = is_post && !form.is_empty();
    let mut base = origin_path.to_string();
    if !query_string.is_empty() || has_post_params {
        base.push('?');
        base.push_str(&query_string);
        if !query_string.is_empty() && has_post_params {
            base.push('.');
        }
    }
    if has_post_params {
        let mut post: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form {
            post.entry(k.clone()).or_default().push(v.clone());
        }
        base.push_str(&sorted_pairs(&post, "", ""));
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(base.as_bytes());
    mac.update(b".");
    mac.update(nonce.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

fn sorted_pairs(params: &BTreeMap<String, Vec<String>>, kv: &str, sep: &str) -> String {
    let mut parts = Vec::new();
    for (k, values) in params {
        let mut values = values.clone();
        values.sort();
        for v in values {
            parts.push(format!("{k}{kv}{v}"));
        }
    }
    parts.join(sep)
}

/// Providers with several active tokens send a comma-separated list; any match passes.
fn candidates_match(given: &str, expected: &str) -> bool {
    given.split(',').map(str::trim).any(|c| constant_time_eq(c.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Remembers accepted signatures so that a captured request cannot be replayed.
#[derive(Default)]
pub struct ReplayGuard {
    seen: HashMap<String, u64>,
}

impl ReplayGuard {
    /// Records `key` at `now_secs`; false if it was already seen within the window.
    pub fn first_use(&mut self, key: &str, now_secs: u64) -> bool {
        let window = REPLAY_WINDOW.as_secs();
        if self.seen.len() >= REPLAY_CAPACITY {
            self.seen.retain(|_, at| now_secs.saturating_sub(*at) < window);
        }
        match self.seen.get(key) {
            Some(at) if now_secs.saturating_sub(*at) < window => false,
            _ => {
                if self.seen.len() < REPLAY_CAPACITY {
                    self.seen.insert(key.to_string(), now_secs);
                }
                true
            }
        }
    }
}

/// Issues and checks the tokens in the stream URLs we hand to providers.
#[derive(Clone)]
pub struct StreamTokens {
    key: [u8; 32],
}

impl StreamTokens {
    pub fn new(key: [u8; 32]) -> StreamTokens {
        StreamTokens { key }
    }

    /// A fresh random key (tokens then live as long as the process).
    pub fn random() -> StreamTokens {
        StreamTokens { key: rand::random() }
    }

    fn mac(&self, scope: &str, agent: &str, call_id: &str, expires: u64) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("{scope}\n{agent}\n{call_id}\n{expires}").as_bytes());
        B64URL.encode(mac.finalize().into_bytes())
    }

    /// A token for `agent` on `call_id` over one transport (`scope`: a provider's name, `browser`, `webrtc`),
    /// valid until `now_secs` + [`REPLAY_WINDOW`].
    pub fn issue(&self, scope: &str, agent: &str, call_id: &str, now_secs: u64) -> String {
        let expires = now_secs + REPLAY_WINDOW.as_secs();
        format!("{expires}.{}", self.mac(scope, agent, call_id, expires))
    }

    /// Whether `token` was issued for this transport, agent and call and has not expired.
    pub fn check(&self, token: &str, scope: &str, agent: &str, call_id: &str, now_secs: u64) -> bool {
        let Some((expires, mac)) = token.split_once('.') else { return false };
        let Ok(expires) = expires.parse::<u64>() else { return false };
        expires >= now_secs && constant_time_eq(mac.as_bytes(), self.mac(scope, agent, call_id, expires).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn twilio_signature_matches_the_documented_example() {
        // The example of twilio.com/docs/usage/webhooks/webhooks-security: this URL, these parameters and
        // token 12345 sign as "0/KCTR6DLpKmkAf8muzZqo1nDgQ=" (also what Python's hmac computes).
        let params = form(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        let sig = twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", &params);
        assert_eq!(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    }

    #[test]
    fn plivo_v3_base_string_follows_the_sdk() {
        // Built by hand from the SDK's rules: base + "?" + sorted kv (POST, no query) + "." + nonce.
        let params = form(&[("To", "+9122"), ("From", "+9111"), ("CallUUID", "u1")]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"tok").unwrap();
        mac.update(b"https://h/answer?CallUUIDu1From+9111To+9122.n1");
        let expected = B64.encode(mac.finalize().into_bytes());
        assert_eq!(plivo_v3_signature("tok", "POST", "https://h/answer", &params, "n1"), expected);
        // With a query: sorted `k=v&…`, then "." before the POST parameters.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"tok").unwrap();
        mac.update(b"https://h/answer?a=1&agent_id=demo.CallUUIDu1.n1");
        let expected = B64.encode(mac.finalize().into_bytes());
        let sig =
            plivo_v3_signature("tok", "POST", "https://h/answer?agent_id=demo&a=1", &form(&[("CallUUID", "u1")]), "n1");
        assert_eq!(sig, expected);
    }

    #[test]
    fn verification_accepts_valid_and_rejects_tampered_or_unsigned() {
        let params = form(&[("CallUUID", "u1"), ("From", "+9111")]);
        let sig = plivo_v3_signature("tok", "POST", "https://h/a", &params, "n1");
        let headers = move |name: &str| match name {
            "x-vobiz-signature-v3" => Some(format!("old, {sig}")),
            "x-vobiz-signature-v3-nonce" => Some("n1".to_string()),
            _ => None,
        };
        let request = SignedRequest { method: "POST", url: "https://h/a", form: &params, header: &headers };
        assert!(verify(Provider::Vobiz, "tok", &request).is_ok());
        assert_eq!(verify(Provider::Vobiz, "other", &request), Err(SignatureError::Mismatch));
        let tampered = form(&[("CallUUID", "u2"), ("From", "+9111")]);
        let request = SignedRequest { method: "POST", url: "https://h/a", form: &tampered, header: &headers };
        assert_eq!(verify(Provider::Vobiz, "tok", &request), Err(SignatureError::Mismatch));
        let none = |_: &str| None;
        let request = SignedRequest { method: "POST", url: "https://h/a", form: &params, header: &none };
        assert_eq!(
            verify(Provider::Plivo, "tok", &request),
            Err(SignatureError::MissingHeader("X-Plivo-Signature-V3"))
        );
    }

    #[test]
    fn replays_within_the_window_are_refused() {
        let mut guard = ReplayGuard::default();
        assert!(guard.first_use("n1:sig", 1000));
        assert!(!guard.first_use("n1:sig", 1010));
        assert!(guard.first_use("n2:sig", 1010));
    }

    #[test]
    fn stream_tokens_are_bound_to_provider_agent_call_and_time() {
        let tokens = StreamTokens::new([7; 32]);
        let token = tokens.issue("vobiz", "demo", "call-1", 1000);
        assert!(tokens.check(&token, "vobiz", "demo", "call-1", 1200));
        assert!(!tokens.check(&token, "vobiz", "demo", "call-1", 1000 + 301));
        assert!(!tokens.check(&token, "vobiz", "bench", "call-1", 1200));
        assert!(!tokens.check(&token, "plivo", "demo", "call-1", 1200));
        assert!(!tokens.check(&token, "vobiz", "demo", "call-2", 1200));
        assert!(!StreamTokens::new([8; 32]).check(&token, "vobiz", "demo", "call-1", 1200));
        assert!(!tokens.check("garbage", "vobiz", "demo", "call-1", 1200));
    }
}
