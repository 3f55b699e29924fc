//! REGISTER client for one trunk account (RFC 3261 §10), sans-IO: when due it builds a REGISTER, answers
//! digest challenges, refreshes at ~80 % of the granted expiry and retries failures with exponential back-off.

use std::time::{Duration, Instant};

use crate::auth::{Challenge, DigestClient};
use crate::header::{NameAddr, Via};
use crate::message::{Headers, Method, Request, Response};

/// Fixed settings of a registration.
#[derive(Clone)]
pub struct RegistrationConfig {
    /// Registrar `host[:port]`; also the Request-URI host.
    pub registrar: String,
    /// The username to register and authenticate as.
    pub username: String,
    /// The password for digest authentication.
    pub password: String,
    /// Configured realm (None: take the challenge's).
    pub realm: Option<String>,
    /// Expiry requested, seconds.
    pub expires: u32,
    /// Our Contact URI (`sip:user@ip:port;transport=udp`).
    pub contact: String,
}

/// The password never reaches a log line.
impl std::fmt::Debug for RegistrationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationConfig")
            .field("registrar", &self.registrar)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("realm", &self.realm)
            .field("expires", &self.expires)
            .field("contact", &self.contact)
            .finish()
    }
}

/// Where a registration stands; exported to logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationStatus {
    /// Not attempted yet.
    Idle,
    /// A REGISTER is in flight.
    Registering,
    /// Registered until the instant given.
    Registered {
        /// When the binding expires unless refreshed.
        expires_at: Instant,
    },
    /// Last attempt failed; the next try is scheduled.
    Failed {
        /// Why (status and reason phrase, or a timeout).
        reason: String,
        /// When the next attempt goes out.
        retry_at: Instant,
    },
}

/// Shortest retry after a failure; doubled per consecutive failure up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_secs(5);
/// Longest retry delay after repeated failures, so a lost registrar is still retried every few minutes.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Refresh when this share of the granted expiry has passed (RFC 3261 suggests refreshing before expiry; 80 %
/// leaves room for a retransmitted REGISTER and a challenge round trip).
const REFRESH_FRACTION: f64 = 0.8;

/// One account's registration state machine.
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    digest: DigestClient,
    call_id: String,
    from_tag: String,
    cseq: u32,
    status: RegistrationStatus,
    next_attempt: Option<Instant>,
    failures: u32,
    /// Challenges answered for the REGISTER in flight; a second rejection with the same nonce is a failure.
    answered_nonce: Option<String>,
    /// Whether the next REGISTER removes the binding (Expires: 0).
    unregister: bool,
}

impl Registration {
    /// A registration for `config`, due to send its first REGISTER at `now`.
    pub fn new(config: RegistrationConfig, now: Instant) -> Self {
        let digest = DigestClient::new(config.username.clone(), config.password.clone(), config.realm.clone());
        Self {
            config,
            digest,
            call_id: crate::dialog::random_token(),
            from_tag: crate::dialog::random_token(),
            cseq: 0,
            status: RegistrationStatus::Idle,
            next_attempt: Some(now),
            failures: 0,
            answered_nonce: None,
            unregister: false,
        }
    }

    /// Where the registration stands.
    pub fn status(&self) -> &RegistrationStatus {
        &self.status
    }

    /// The settings it was made with.
    pub fn config(&self) -> &RegistrationConfig {
        &self.config
    }

    /// Sets our Contact URI (it depends on the local address toward the registrar, known only at send time).
    pub fn set_contact(&mut self, contact: String) {
        self.config.contact = contact;
    }

    /// When a REGISTER should next be built.
    pub fn next_attempt(&self) -> Option<Instant> {
        self.next_attempt
    }

    /// Asks for a final REGISTER with Expires: 0 (on shutdown).
    pub fn unregister(&mut self, now: Instant) {
        self.unregister = true;
        self.next_attempt = Some(now);
    }

    /// If a REGISTER is due at `now`, builds it with `via` (fresh branch) as its top Via.
    pub fn poll_request(&mut self, now: Instant, via: &Via) -> Option<Request> {
        if self.next_attempt.is_none_or(|at| at > now) {
            return None;
        }
        self.next_attempt = None;
        self.status = RegistrationStatus::Registering;
        self.cseq += 1;
        let uri = format!("sip:{}", self.config.registrar);
        let aor = format!("<sip:{}@{}>", self.config.username, registrar_host(&self.config.registrar));
        let mut headers = Headers::new();
        headers.push("Via", via.to_string());
        headers.push("Max-Forwards", "70");
        headers.push("From", format!("{aor};tag={}", self.from_tag));
        headers.push("To", aor);
        headers.push("Call-ID", self.call_id.clone());
        headers.push("CSeq", format!("{} REGISTER", self.cseq));
        headers.push("Contact", format!("<{}>", self.config.contact));
        headers.push("Expires", if self.unregister { 0 } else { self.config.expires }.to_string());
        if let Some(auth) = self.digest.authorization("REGISTER", &uri) {
            headers.push("Authorization", auth);
        }
        Some(Request { method: Method::Register, uri, headers, body: Vec::new() })
    }

    /// A final response to our REGISTER arrived.
    pub fn handle_response(&mut self, response: &Response, now: Instant) {
        match response.status {
            100..=199 => {}
            200..=299 => {
                self.failures = 0;
                self.answered_nonce = None;
                if self.unregister {
                    self.status = RegistrationStatus::Idle;
                    return;
                }
                let granted = granted_expiry(response, &self.config.contact).unwrap_or(self.config.expires).max(1);
                let refresh = Duration::from_secs_f64(granted as f64 * REFRESH_FRACTION);
                self.status = RegistrationStatus::Registered { expires_at: now + Duration::from_secs(granted.into()) };
                self.next_attempt = Some(now + refresh);
            }
            401 | 407 => {
                let header = if response.status == 401 { "WWW-Authenticate" } else { "Proxy-Authenticate" };
                let challenge = response.headers.get_all(header).find_map(|h| Challenge::parse(h).ok());
                match challenge {
                    Some(c) if self.answered_nonce.as_deref() != Some(c.nonce.as_str()) || c.stale => {
                        self.answered_nonce = Some(c.nonce.clone());
                        self.digest.set_challenge(c);
                        self.next_attempt = Some(now);
                    }
                    Some(_) => self.fail("credentials rejected by registrar".into(), now),
                    None => self.fail(format!("{} without a usable Digest challenge", response.status), now),
                }
            }
            423 => {
                // Interval Too Brief: use the registrar's Min-Expires.
                if let Some(min) = response.headers.get("Min-Expires").and_then(|v| v.trim().parse().ok()) {
                    self.config.expires = min;
                    self.next_attempt = Some(now);
                } else {
                    self.fail("423 without Min-Expires".into(), now);
                }
            }
            status => self.fail(format!("{status} {}", response.reason), now),
        }
    }

    /// The REGISTER got no response (transaction timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fail("no response from registrar".into(), now);
    }

    fn fail(&mut self, reason: String, now: Instant) {
        self.failures += 1;
        self.answered_nonce = None;
        let backoff = MIN_BACKOFF.saturating_mul(1 << (self.failures - 1).min(8)).min(MAX_BACKOFF);
        let retry_at = now + backoff;
        self.status = RegistrationStatus::Failed { reason, retry_at };
        self.next_attempt = Some(retry_at);
    }
}

/// The host part of `host[:port]`, as it appears in the address-of-record.
fn registrar_host(registrar: &str) -> String {
    crate::header::split_host_port(registrar)
        .map(|(host, _)| crate::header::format_host(&host))
        .unwrap_or_else(|| registrar.to_string())
}

/// Expiry the registrar granted to our contact: its Contact `expires` param, else the Expires header.
fn granted_expiry(response: &Response, our_contact: &str) -> Option<u32> {
    let from_contact = response
        .headers
        .get_all("Contact")
        .flat_map(crate::message::split_list)
        .filter_map(NameAddr::parse)
        .find(|c| c.uri == our_contact)
        .and_then(|c| c.params.get("expires").and_then(|e| e.parse().ok()));
    from_contact.or_else(|| response.headers.get("Expires").and_then(|e| e.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn config() -> RegistrationConfig {
        RegistrationConfig {
            registrar: "127.0.0.1:5099".into(),
            username: "1001".into(),
            password: "secret".into(),
            realm: None,
            expires: 300,
            contact: "sip:1001@127.0.0.1:5060".into(),
        }
    }

    fn via() -> Via {
        Via::parse("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtest").unwrap()
    }

    fn response(text: &str) -> Response {
        match Message::parse(text.as_bytes()) {
            Ok(Message::Response(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn challenge_then_success_then_refresh_at_80_percent() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config(), t0);
        let first = reg.poll_request(t0, &via()).unwrap();
        assert!(first.headers.get("Authorization").is_none());
        assert_eq!(first.uri, "sip:127.0.0.1:5099");
        assert_eq!(first.headers.get("To"), Some("<sip:1001@127.0.0.1>"));
        reg.handle_response(
            &response("SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"\r\nContent-Length: 0\r\n\r\n"),
            t0,
        );
        let second = reg.poll_request(t0, &via()).unwrap();
        let auth = second.headers.get("Authorization").unwrap();
        assert!(auth.contains("nonce=\"n1\"") && auth.contains("nc=00000001"));
        assert_eq!(second.cseq().unwrap().seq, 2);
        reg.handle_response(
            &response("SIP/2.0 200 OK\r\nContact: <sip:1001@127.0.0.1:5060>;expires=100\r\nContent-Length: 0\r\n\r\n"),
            t0,
        );
        assert!(matches!(reg.status(), RegistrationStatus::Registered { .. }));
        assert_eq!(reg.next_attempt(), Some(t0 + Duration::from_secs(80)));
        let refresh = reg.poll_request(t0 + Duration::from_secs(80), &via()).unwrap();
        assert!(refresh.headers.get("Authorization").unwrap().contains("nc=00000002"), "nonce reused");
    }

    #[test]
    fn repeated_rejection_backs_off_exponentially() {
        let t0 = Instant::now();
        let mut reg = Registration::new(config(), t0);
        let challenge = response(
            "SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n1\"\r\nContent-Length: 0\r\n\r\n",
        );
        reg.poll_request(t0, &via()).unwrap();
        reg.handle_response(&challenge, t0);
        reg.poll_request(t0, &via()).unwrap();
        reg.handle_response(&challenge, t0);
        assert!(matches!(reg.status(), RegistrationStatus::Failed { reason, .. } if reason.contains("rejected")));
        assert_eq!(reg.next_attempt(), Some(t0 + MIN_BACKOFF));
        reg.poll_request(t0 + MIN_BACKOFF, &via()).unwrap();
        reg.handle_timeout(t0 + MIN_BACKOFF);
        assert_eq!(reg.next_attempt(), Some(t0 + MIN_BACKOFF + MIN_BACKOFF * 2));
    }
}
