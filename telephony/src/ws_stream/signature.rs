//! Who may talk to the telephony endpoints.
//!
//! - Webhooks (answer, hangup, transfer documents) are authenticated by the provider's scheme, keyed with the
//!   account's auth token: Plivo and Vobiz V3 (`X-Plivo-Signature-V3` / `X-Vobiz-Signature-V3` + `-Nonce`,
//!   HMAC-SHA256 over the URL, the sorted parameters and the nonce), Twilio (`X-Twilio-Signature`, HMAC-SHA1
//!   over the URL and the sorted POST parameters), Exotel (HTTP Basic with the API key and token).
//! - A delivery that was handled successfully is remembered for [`REPLAY_WINDOW`] under its
//!   [`replay_key`], and the same delivery again is a replay. What identifies a delivery differs by provider
//!   (see [`replay_key`]); a delivery we failed (5xx) is not remembered, so the provider's retry goes through.
//! - Media streams are opened by the provider with a URL *we* handed out in the answer document; it carries a
//!   [`StreamTokens`] token bound to the provider, agent and call, valid for [`REPLAY_WINDOW`] and good for
//!   one stream: the first stream of a call spends it. Tokens are signed with a [`TokenKey`] every node of a
//!   deployment derives from the shared master key, so a stream may land on any node; and they are spent in a
//!   record every node shares ([`SpentTokens`], the store), so a token spent on one node is refused on all.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::protocol::Provider;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a handled webhook delivery is remembered (and a stream token stays valid).
pub const REPLAY_WINDOW: Duration = Duration::from_secs(300);
/// Bound on remembered deliveries and spent stream tokens; expired ones are forgotten first.
const REPLAY_CAPACITY: usize = 100_000;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The provider has no account (auth token) configured.
    #[error("no {0} account is configured ([telephony.{0}] auth_token in voicera.toml)")]
    NotConfigured(&'static str),
    /// The request lacks this signature header.
    #[error("missing signature header {0}")]
    MissingHeader(&'static str),
    /// The signature is not the account's.
    #[error("signature does not match")]
    Mismatch,
    /// This delivery has been handled before.
    #[error("replayed request (this delivery was already handled)")]
    Replayed,
    /// The same delivery is being handled now.
    #[error("the same request is being handled; retry")]
    InProgress,
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

impl SignedRequest<'_> {
    /// A parameter of the body or, failing that, of the query.
    fn parameter(&self, names: &[&str]) -> Option<String> {
        let query = self.url.split_once('?').map(|(_, q)| q).unwrap_or("");
        names.iter().find_map(|name| {
            self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| {
                form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
            })
        })
    }

    /// A digest of everything the provider sent that can differ between two deliveries: method, URL with
    /// its query, and the body's parameters in order (each length-prefixed, so no two requests collide by
    /// shifting a boundary).
    fn digest(&self) -> String {
        let mut hash = Sha256::new();
        for part in [self.method, self.url] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        for (k, v) in self.form {
            for part in [k, v] {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part.as_bytes());
            }
        }
        B64URL.encode(&hash.finalize()[..18])
    }
}

/// Checks a webhook's signature (or credentials) with `auth_token` by the provider's scheme.
pub fn verify(provider: Provider, auth_token: &str, request: &SignedRequest<'_>) -> Result<(), SignatureError> {
    match provider {
        Provider::Twilio => {
            let signature =
                (request.header)("x-twilio-signature").ok_or(SignatureError::MissingHeader("X-Twilio-Signature"))?;
            let expected = twilio_signature(auth_token, request.url, request.form);
            candidates_match(&signature, &expected).then_some(()).ok_or(SignatureError::Mismatch)
        }
        Provider::Plivo | Provider::Vobiz => {
            let (sig_header, nonce_header) = v3_headers(provider);
            let signature =
                (request.header)(&sig_header.to_ascii_lowercase()).ok_or(SignatureError::MissingHeader(sig_header))?;
            let nonce = (request.header)(&nonce_header.to_ascii_lowercase())
                .ok_or(SignatureError::MissingHeader(nonce_header))?;
            let expected = plivo_v3_signature(auth_token, request.method, request.url, request.form, &nonce);
            candidates_match(&signature, &expected).then_some(()).ok_or(SignatureError::Mismatch)
        }
        Provider::Exotel => {
            // Exotel authenticates its requests with HTTP Basic credentials (API key : token).
            let auth = (request.header)("authorization").ok_or(SignatureError::MissingHeader("Authorization"))?;
            let given = auth.strip_prefix("Basic ").and_then(|b| B64.decode(b.trim()).ok()).unwrap_or_default();
            let token = given.splitn(2, |&b| b == b':').nth(1).unwrap_or_default();
            constant_time_eq(token, auth_token.as_bytes()).then_some(()).ok_or(SignatureError::Mismatch)
        }
    }
}

fn v3_headers(provider: Provider) -> (&'static str, &'static str) {
    match provider {
        Provider::Vobiz => ("X-Vobiz-Signature-V3", "X-Vobiz-Signature-V3-Nonce"),
        _ => ("X-Plivo-Signature-V3", "X-Plivo-Signature-V3-Nonce"),
    }
}

/// What identifies one delivery of a verified webhook, for [`ReplayGuard`]; `None` when the provider's
/// requests cannot be told apart from its own retries.
///
/// - Plivo/Vobiz V3: the nonce and the signature. Each request carries a fresh nonce that the signature
///   covers, so the pair names exactly one request; a captured one sent again is a replay.
/// - Twilio: none. `X-Twilio-Signature` covers only the URL and the parameters, with no nonce or timestamp,
///   and Twilio documents retrying the very same request after connect and read timeouts and, when asked,
///   after 5xx (its webhook connection overrides `rc`/`rp`) — a retry of a request we did handle (our answer
///   was lost or late) is byte-for-byte a "replay". Refusing it would fail real calls, so Twilio deliveries
///   are not remembered; what makes a repeat harmless is that the handlers are idempotent (a report stored
///   again, the same dial document) and that the stream an answer points to admits one stream per call.
/// - Exotel: the call, its status or event, and a digest of the whole request. The Basic credentials are the
///   same on every request of an account, so they name no delivery; the answer, status callbacks and hangup
///   of one call differ in their parameters.
pub fn replay_key(provider: Provider, request: &SignedRequest<'_>) -> Option<String> {
    match provider {
        Provider::Twilio => None,
        Provider::Plivo | Provider::Vobiz => {
            let (sig_header, nonce_header) = v3_headers(provider);
            let signature = (request.header)(&sig_header.to_ascii_lowercase())?;
            let nonce = (request.header)(&nonce_header.to_ascii_lowercase())?;
            Some(format!("{}:{nonce}:{signature}", provider.as_str()))
        }
        Provider::Exotel => {
            let call = request.parameter(&["CallSid", "call_sid"]).unwrap_or_default();
            let status =
                request.parameter(&["EventType", "Status", "CallStatus", "Event", "event"]).unwrap_or_default();
            Some(format!("exotel:{call}:{status}:{}", request.digest()))
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

/// What [`ReplayGuard::begin`] says about a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Not seen (or only failed) before: handle it, then [`ReplayGuard::finish`] it.
    Fresh,
    /// The same delivery is being handled right now (a provider retrying while we work on the first).
    InProgress,
    /// Already handled successfully within the window.
    Replayed,
}

#[derive(Debug, Clone, Copy)]
enum Seen {
    InProgress,
    Handled { at: u64 },
}

/// Remembers handled webhook deliveries so that a captured request cannot be replayed, without refusing the
/// provider's retry of a delivery we failed: a delivery counts as used only once its handler succeeded.
#[derive(Default)]
pub struct ReplayGuard {
    seen: HashMap<String, Seen>,
}

impl ReplayGuard {
    /// Claims the delivery `key` at `now_secs` for handling.
    pub fn begin(&mut self, key: &str, now_secs: u64) -> Delivery {
        let window = REPLAY_WINDOW.as_secs();
        if self.seen.len() >= REPLAY_CAPACITY {
            self.seen.retain(|_, seen| match seen {
                Seen::InProgress => true,
                Seen::Handled { at } => now_secs.saturating_sub(*at) < window,
            });
        }
        match self.seen.get(key) {
            Some(Seen::InProgress) => Delivery::InProgress,
            Some(Seen::Handled { at }) if now_secs.saturating_sub(*at) < window => Delivery::Replayed,
            _ => {
                // At capacity with every entry live, a delivery is handled unremembered rather than refused:
                // refusing would let a flood of signed requests stop real calls.
                if self.seen.len() < REPLAY_CAPACITY || self.seen.contains_key(key) {
                    self.seen.insert(key.to_string(), Seen::InProgress);
                }
                Delivery::Fresh
            }
        }
    }

    /// Ends the handling of `key`: remembered as used when `handled`, else forgotten so a retry is fresh.
    pub fn finish(&mut self, key: &str, handled: bool, now_secs: u64) {
        if handled {
            if let Some(seen) = self.seen.get_mut(key) {
                *seen = Seen::Handled { at: now_secs };
            }
        } else if matches!(self.seen.get(key), Some(Seen::InProgress)) {
            self.seen.remove(key);
        }
    }
}

/// The key stream tokens are signed with. Every node of a deployment must hold the same one (derive it from
/// the shared master key), so that a stream may land on another node than the answer webhook. Debug shows
/// nothing of it.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    /// The key from its 32 bytes.
    pub fn new(key: [u8; 32]) -> TokenKey {
        TokenKey(key)
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(…)")
    }
}

/// Why a stream token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The stream URL carries no token.
    #[error("no stream token")]
    Missing,
    /// The token was not signed by us, or for another agent, call or transport.
    #[error("invalid stream token (not ours, or for another agent, call or transport)")]
    Invalid,
    /// The token's lifetime has passed.
    #[error("expired stream token")]
    Expired,
    /// The call's token has already opened a stream.
    #[error("stream token already used (one stream per call)")]
    Used,
    /// Too many spent tokens are remembered to take another.
    #[error("too many live stream tokens on this node")]
    Full,
}

/// A boxed future that can cross tasks, as [`SpentTokens::spend`] returns.
pub type SpendFuture = Pin<Box<dyn Future<Output = Result<bool, String>> + Send>>;

/// The record of spent one-use tokens that every node of a deployment shares (the store's one-use ids), so a
/// token spent on one node is refused on every other. Each node's memory ([`StreamTokens`]) stays the fast
/// path in front of it. Any `Fn(id, expires, now) -> future` is one.
pub trait SpentTokens: Send + Sync {
    /// Records `id` as spent until `expires` (unix seconds) at `now`: `Ok(true)` for its first spend anywhere,
    /// `Ok(false)` while an earlier spend (on any node) has not expired, `Err` when the record is unreachable.
    fn spend(&self, id: String, expires: u64, now: u64) -> SpendFuture;
}

impl<F, Fut> SpentTokens for F
where
    F: Fn(String, u64, u64) -> Fut + Send + Sync,
    Fut: Future<Output = Result<bool, String>> + Send + 'static,
{
    fn spend(&self, id: String, expires: u64, now: u64) -> SpendFuture {
        Box::pin(self(id, expires, now))
    }
}

impl fmt::Debug for dyn SpentTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpentTokens")
    }
}

/// Issues and redeems the tokens in the stream URLs we hand to providers (and to browsers).
pub struct StreamTokens {
    key: TokenKey,
    /// Calls whose token has been spent, until the token's expiry: `scope\nagent\ncall` → expiry.
    spent: HashMap<String, u64>,
}

impl StreamTokens {
    /// Issues and redeems tokens signed with `key`.
    pub fn new(key: TokenKey) -> StreamTokens {
        StreamTokens { key, spent: HashMap::new() }
    }

    fn mac(&self, scope: &str, agent: &str, call_id: &str, expires: u64) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key.0).expect("HMAC takes any key length");
        mac.update(format!("{scope}\n{agent}\n{call_id}\n{expires}").as_bytes());
        B64URL.encode(mac.finalize().into_bytes())
    }

    /// A token for `agent` on `call_id` over one transport (`scope`: a provider's name, `browser`), valid
    /// until `now_secs` + [`REPLAY_WINDOW`].
    pub fn issue(&self, scope: &str, agent: &str, call_id: &str, now_secs: u64) -> String {
        let expires = now_secs + REPLAY_WINDOW.as_secs();
        format!("{expires}.{}", self.mac(scope, agent, call_id, expires))
    }

    /// The token's expiry, if it was issued (by any node with this key) for this transport, agent and call
    /// and has not expired. Does not spend it.
    pub fn check(
        &self,
        token: &str,
        scope: &str,
        agent: &str,
        call_id: &str,
        now_secs: u64,
    ) -> Result<u64, TokenError> {
        let (expires, mac) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let expires = expires.parse::<u64>().map_err(|_| TokenError::Invalid)?;
        if !constant_time_eq(mac.as_bytes(), self.mac(scope, agent, call_id, expires).as_bytes()) {
            return Err(TokenError::Invalid);
        }
        if expires < now_secs {
            return Err(TokenError::Expired);
        }
        Ok(expires)
    }

    /// Checks `token` and spends it: the call's first stream gets in, any later one (with this token or
    /// another issued for the same call) is refused while the token could still be valid.
    pub fn redeem(
        &mut self,
        token: &str,
        scope: &str,
        agent: &str,
        call_id: &str,
        now_secs: u64,
    ) -> Result<(), TokenError> {
        let expires = self.check(token, scope, agent, call_id, now_secs)?;
        self.spend_here(scope, agent, call_id, expires, now_secs).map(drop)
    }

    /// Spends, on this node, the token of the call (`scope`, `agent`, `call_id`) that expires at `expires` (from
    /// [`StreamTokens::check`]): refused when this node has spent it already. Returns the id the spend is
    /// recorded under for the whole deployment ([`SpentTokens`]): a digest of the call, so its length is fixed
    /// whatever the call id.
    pub fn spend_here(
        &mut self,
        scope: &str,
        agent: &str,
        call_id: &str,
        expires: u64,
        now_secs: u64,
    ) -> Result<String, TokenError> {
        let call = format!("{scope}\n{agent}\n{call_id}");
        if self.spent.get(&call).is_some_and(|until| *until >= now_secs) {
            return Err(TokenError::Used);
        }
        if self.spent.len() >= REPLAY_CAPACITY {
            self.spent.retain(|_, until| *until >= now_secs);
            if self.spent.len() >= REPLAY_CAPACITY {
                // Only tokens we issued for signed webhooks get here; refusing keeps the one-use promise.
                return Err(TokenError::Full);
            }
        }
        let until = self.spent.get(&call).map_or(expires, |previous| expires.max(*previous));
        let shared_id = format!("stream:{}", B64URL.encode(Sha256::digest(call.as_bytes())));
        self.spent.insert(call, until);
        Ok(shared_id)
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
    fn replay_keys_name_one_delivery_per_provider() {
        let basic = |_: &str| Some(format!("Basic {}", B64.encode("key:tok")));
        let exotel = |params: &[(&str, &str)], url: &str| {
            let form = form(params);
            let request = SignedRequest { method: "POST", url, form: &form, header: &basic };
            assert_eq!(verify(Provider::Exotel, "tok", &request), Ok(()));
            replay_key(Provider::Exotel, &request).unwrap()
        };
        // One call's answer, status callback and hangup: same credentials, three deliveries.
        let answer = exotel(&[("CallSid", "c1"), ("From", "0800")], "https://h/telephony/exotel/answer");
        let status = exotel(&[("CallSid", "c1"), ("Status", "in-progress")], "https://h/telephony/exotel/hangup");
        let hangup = exotel(&[("CallSid", "c1"), ("Status", "completed")], "https://h/telephony/exotel/hangup");
        assert!(answer != status && status != hangup && answer != hangup, "{answer} {status} {hangup}");
        assert!(hangup.starts_with("exotel:c1:completed:"), "{hangup}");
        // The same delivery twice has one key; the query counts (GET passthru puts the fields there).
        assert_eq!(hangup, exotel(&[("CallSid", "c1"), ("Status", "completed")], "https://h/telephony/exotel/hangup"));
        let get_a = exotel(&[], "https://h/telephony/exotel/answer?CallSid=c2&CurrentTime=1");
        let get_b = exotel(&[], "https://h/telephony/exotel/answer?CallSid=c2&CurrentTime=2");
        assert!(get_a.starts_with("exotel:c2::") && get_a != get_b, "{get_a} {get_b}");
        // Boundaries cannot be shifted to collide.
        assert_ne!(exotel(&[("ab", "c")], "https://h/x"), exotel(&[("a", "bc")], "https://h/x"));

        // V3: the nonce and the signature; Twilio: no key (see `replay_key`).
        let headers = |name: &str| match name {
            "x-plivo-signature-v3" => Some("sig".to_string()),
            "x-plivo-signature-v3-nonce" => Some("n9".to_string()),
            _ => None,
        };
        let request = SignedRequest { method: "POST", url: "https://h/a", form: &[], header: &headers };
        assert_eq!(replay_key(Provider::Plivo, &request).as_deref(), Some("plivo:n9:sig"));
        assert_eq!(replay_key(Provider::Twilio, &request), None);
    }

    #[test]
    fn a_delivery_is_used_only_once_handled() {
        let mut guard = ReplayGuard::default();
        assert_eq!(guard.begin("d1", 1000), Delivery::Fresh);
        // A retry while the first is being handled waits.
        assert_eq!(guard.begin("d1", 1000), Delivery::InProgress);
        // Failed (our 503): the retry is fresh.
        guard.finish("d1", false, 1001);
        assert_eq!(guard.begin("d1", 1002), Delivery::Fresh);
        guard.finish("d1", true, 1002);
        assert_eq!(guard.begin("d1", 1010), Delivery::Replayed);
        // A late failure report does not unmark a handled delivery.
        guard.finish("d1", false, 1011);
        assert_eq!(guard.begin("d1", 1012), Delivery::Replayed);
        assert_eq!(guard.begin("d2", 1010), Delivery::Fresh);
        // After the window the delivery is forgotten.
        assert_eq!(guard.begin("d1", 1002 + REPLAY_WINDOW.as_secs()), Delivery::Fresh);
    }

    #[test]
    fn stream_tokens_are_bound_to_provider_agent_call_and_time() {
        let tokens = StreamTokens::new(TokenKey::new([7; 32]));
        let token = tokens.issue("vobiz", "demo", "call-1", 1000);
        assert_eq!(tokens.check(&token, "vobiz", "demo", "call-1", 1200), Ok(1300));
        assert_eq!(tokens.check(&token, "vobiz", "demo", "call-1", 1000 + 301), Err(TokenError::Expired));
        assert_eq!(tokens.check(&token, "vobiz", "bench", "call-1", 1200), Err(TokenError::Invalid));
        assert_eq!(tokens.check(&token, "plivo", "demo", "call-1", 1200), Err(TokenError::Invalid));
        assert_eq!(tokens.check(&token, "vobiz", "demo", "call-2", 1200), Err(TokenError::Invalid));
        let other = StreamTokens::new(TokenKey::new([8; 32]));
        assert_eq!(other.check(&token, "vobiz", "demo", "call-1", 1200), Err(TokenError::Invalid));
        assert_eq!(tokens.check("garbage", "vobiz", "demo", "call-1", 1200), Err(TokenError::Invalid));
        // A forged expiry does not match the MAC.
        let (_, mac) = token.split_once('.').unwrap();
        assert_eq!(tokens.check(&format!("9999.{mac}"), "vobiz", "demo", "call-1", 1200), Err(TokenError::Invalid));
        assert!(!format!("{:?}", TokenKey::new([7; 32])).contains('7'), "Debug shows no key");
    }

    #[test]
    fn nodes_with_one_key_accept_each_others_tokens_once() {
        // Two nodes deriving the key from the same master key: one answers the webhook, the other gets the
        // stream.
        let answering = StreamTokens::new(TokenKey::new([3; 32]));
        let mut streaming = StreamTokens::new(TokenKey::new([3; 32]));
        let token = answering.issue("twilio", "demo", "CA1", 1000);
        assert_eq!(streaming.redeem(&token, "twilio", "demo", "CA1", 1001), Ok(()));
        // The same URL again: refused, and so is a second token for the same call (a replayed answer).
        assert_eq!(streaming.redeem(&token, "twilio", "demo", "CA1", 1002), Err(TokenError::Used));
        let again = answering.issue("twilio", "demo", "CA1", 1005);
        assert_eq!(streaming.redeem(&again, "twilio", "demo", "CA1", 1006), Err(TokenError::Used));
        // Expired tokens are refused as such, spent or not.
        let late = answering.issue("twilio", "demo", "CA2", 1000);
        assert_eq!(streaming.redeem(&late, "twilio", "demo", "CA2", 1000 + 301), Err(TokenError::Expired));
        assert_eq!(streaming.redeem(&token, "twilio", "demo", "CA1", 1000 + 301), Err(TokenError::Expired));
        // Another call is unaffected.
        let next = answering.issue("twilio", "demo", "CA3", 1000);
        assert_eq!(streaming.redeem(&next, "twilio", "demo", "CA3", 1010), Ok(()));
    }
}
