//! Blind transfer by REFER (RFC 3515), both ways.
//!
//! As transferor: we ask the caller's side to call the target, follow its progress in the NOTIFYs it sends
//! (`message/sipfrag` bodies, RFC 3420), and hang up once the target answered. A failed transfer leaves the
//! call up, so the agent can tell the caller.
//!
//! As transferee: a trusted peer (`[sip.refer] trusted_peers`) sends us REFER to an allowed target
//! (`allowed_targets`), one at a time per dialog; anyone else gets 403 ([`super::policy::ReferPolicy`]). We
//! accept it (202), report `100 Trying` by NOTIFY, call the Refer-To URI directly (with a trunk's credentials
//! only when it points at a trunk that allows it: `refer_credentials`), and report the final status the same way. On success the agent (or echo) runs on the new call and we leave the
//! referring one; on failure it stays up. Attended transfer (`Replaces` in Refer-To) is declined with 501.

use tokio::sync::oneshot;
use voicera_sip::auth::DigestClient;
use voicera_sip::header::format_host;
use voicera_sip::header::NameAddr;
use voicera_sip::resolve::Target;
use voicera_sip::uri::SipUri;
use voicera_sip::{ClientKey, Method, Request, Response, ServerKey};

use super::media::CallKey;
use super::outbound::{Dialing, Leg, Requester};
use super::routes::RouteFor;
use super::Service;
use voicera_media::metrics::CallResult;

/// Why a transfer could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The call is not (or no longer) up.
    #[error("no call {0}")]
    NoSuchCall(CallKey),
    /// The target is neither a SIP URI nor a phone number.
    #[error("transfer target {0:?} is neither a SIP URI nor a phone number")]
    BadTarget(String),
    /// The peer answered the REFER with a failure.
    #[error("peer refused the transfer: {status} {reason}")]
    Refused {
        /// The final status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// The REFER got no final response.
    #[error("peer did not answer the REFER")]
    Timeout,
    /// The SIP service is no longer running.
    #[error("signalling service stopped")]
    ServiceStopped,
    /// The dial policy refused the target (its reason).
    #[error("transfer target not allowed: {0}")]
    NotAllowed(String),
}

/// A REFER in flight.
pub(super) struct PendingRefer {
    call: CallKey,
    reply: oneshot::Sender<Result<(), TransferError>>,
}

impl Service {
    /// Sends REFER for `call` to `target` (a SIP URI, or a number dialled through the caller's side).
    pub(super) fn transfer(
        &mut self,
        call_key: CallKey,
        target: String,
        reply: oneshot::Sender<Result<(), TransferError>>,
    ) {
        let target = match self.config.dial_policy.check(&target) {
            Ok(allowed) => allowed.dial_string().to_string(),
            Err(err) => {
                tracing::warn!(call = %call_key, %err, "transfer refused by the dial policy");
                let refusal = if err.is_malformed() {
                    TransferError::BadTarget(target)
                } else {
                    TransferError::NotAllowed(err.to_string())
                };
                let _ = reply.send(Err(refusal));
                return;
            }
        };
        let Some(call) = self.calls.get_mut(&call_key) else {
            let _ = reply.send(Err(TransferError::NoSuchCall(call_key)));
            return;
        };
        let refer_to = if target.starts_with("sip:") || target.starts_with("sips:") {
            match SipUri::parse(&target) {
                Ok(uri) => uri.to_string(),
                Err(_) => {
                    let _ = reply.send(Err(TransferError::BadTarget(target)));
                    return;
                }
            }
        } else if !target.is_empty() && target.trim_start_matches('+').chars().all(|c| c.is_ascii_digit()) {
            // A number: the caller's side (trunk or PBX) routes it, so address it at that side's host.
            let host = SipUri::parse(&call.dialog.remote_target)
                .map(|u| format_host(&u.host))
                .unwrap_or_else(|_| call.dialog.peer.addr.ip().to_string());
            format!("sip:{target}@{host}")
        } else {
            let _ = reply.send(Err(TransferError::BadTarget(target)));
            return;
        };
        let (local_ip, peer) = (call.local_ip, call.dialog.peer);
        let via = self.via_to(&peer, local_ip);
        let Some(call) = self.calls.get_mut(&call_key) else { return };
        let mut refer = call.dialog.request(Method::Refer, &via);
        refer.headers.push("Refer-To", format!("<{refer_to}>"));
        refer.headers.push("Referred-By", call.dialog.local.split(";tag=").next().unwrap_or_default().to_string());
        tracing::info!(call = %call_key, %refer_to, "transferring call (REFER)");
        match self.endpoint.send_request(refer, peer, self.now.into_std()) {
            Ok(key) => {
                self.refers.insert(key, PendingRefer { call: call_key, reply });
            }
            Err(err) => {
                tracing::error!(%err, "cannot send REFER");
                let _ = reply.send(Err(TransferError::ServiceStopped));
            }
        }
    }

    /// A final response to one of our REFERs. Returns false when `key` is not a REFER.
    pub(super) fn handle_refer_response(&mut self, key: &ClientKey, response: &Response) -> bool {
        if response.status < 200 {
            return self.refers.contains_key(key);
        }
        let Some(pending) = self.refers.remove(key) else { return false };
        let result = if response.status < 300 {
            tracing::info!(call = %pending.call, "transfer accepted; waiting for its outcome");
            Ok(())
        } else {
            Err(TransferError::Refused { status: response.status, reason: response.reason.clone() })
        };
        let _ = pending.reply.send(result);
        true
    }

    pub(super) fn handle_refer_timeout(&mut self, key: &ClientKey) -> bool {
        match self.refers.remove(key) {
            Some(pending) => {
                let _ = pending.reply.send(Err(TransferError::Timeout));
                true
            }
            None => false,
        }
    }

    /// An in-dialog NOTIFY: for `Event: refer`, the sipfrag body reports the transfer's progress.
    pub(super) fn handle_notify(&mut self, key: ServerKey, request: Request, call_key: CallKey) {
        let now = self.now.into_std();
        let is_refer = request.headers.get("Event").is_some_and(|e| e.trim().to_ascii_lowercase().starts_with("refer"));
        if !is_refer {
            let response = Response::for_request(&request, 489, "Bad Event");
            self.endpoint.respond(&key, response, now);
            return;
        }
        self.endpoint.respond(&key, Response::for_request(&request, 200, "OK"), now);
        let Some(status) = sipfrag_status(&request.body) else { return };
        match status {
            100..=199 => tracing::info!(call = %call_key, status, "transfer in progress"),
            200..=299 => {
                tracing::info!(call = %call_key, "transfer target answered: leaving the call");
                self.hang_up(&call_key, CallResult::Completed);
            }
            _ => tracing::warn!(call = %call_key, status, "transfer failed; the call stays up"),
        }
    }
}

/// How long the target of a REFER we carry out may ring.
const REFER_RING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Service {
    /// An in-dialog REFER: the peer asks us to call someone else (we are the transferee).
    pub(super) async fn handle_refer(&mut self, key: ServerKey, request: Request, call_key: CallKey) {
        let now = self.now.into_std();
        let target = match refer_target(&request) {
            Ok(target) => target,
            Err((status, reason)) => {
                tracing::info!(call = %call_key, status, reason, "REFER declined");
                self.endpoint.respond(&key, Response::for_request(&request, status, reason), now);
                return;
            }
        };
        if self.draining {
            self.endpoint.respond(&key, Response::for_request(&request, 503, "Service Unavailable"), now);
            return;
        }
        let Some(call) = self.calls.get(&call_key) else { return };
        let source = call.dialog.peer.addr.ip();
        if let Err(refusal) = self.config.refer.decide(source, &target, self.referring.contains(&call_key)) {
            tracing::warn!(call = %call_key, from = %source, %target, status = refusal.status, reason = refusal.reason, "REFER refused");
            self.endpoint.respond(&key, Response::for_request(&request, refusal.status, refusal.reason), now);
            return;
        }
        if let Err(err) = self.config.dial_policy.check(&target.to_string()) {
            tracing::warn!(call = %call_key, from = %source, %target, %err, "REFER refused by the dial policy");
            let forbidden = "Forbidden (transfer target refused by the dial policy)";
            self.endpoint.respond(&key, Response::for_request(&request, 403, forbidden), now);
            return;
        }
        // We call as the user the referring call reached (the agent's number or id).
        let from_user = NameAddr::parse(&call.dialog.local)
            .and_then(|n| SipUri::parse(&n.uri).ok())
            .and_then(|u| u.user)
            .unwrap_or_else(|| "voicera".into());
        let (agent, local_ip) = (call.agent.clone(), call.local_ip);
        let mut accepted = Response::for_request(&request, 202, "Accepted");
        accepted.headers.push("Contact", call.dialog.local_contact.clone());
        self.endpoint.respond(&key, accepted, now);
        self.notify_referrer_progress(&call_key, 100, "Trying", false);

        let (reply, _) = tokio::sync::oneshot::channel();
        let requester = Requester { reply, referral: Some(call_key.clone()) };
        self.referring.insert(call_key.clone());
        let numbers = (from_user.clone(), target.user.clone().unwrap_or_default());
        tracing::info!(call = %call_key, target = %target, "carrying out REFER");
        // Credentials and TLS trust of a trunk the target turns out to be behind are chosen once it resolved
        // (`RouteFor::Refer`); until then, none.
        let leg = Leg {
            destinations: Vec::new(),
            tls: None,
            uri: target.to_string(),
            from_user,
            from_host: format_host(&local_ip.to_string()),
            digest: DigestClient::new(String::new(), String::new(), None),
        };
        let dialing = Dialing {
            requester,
            ring_timeout: Some(REFER_RING_TIMEOUT),
            agent,
            numbers,
            // The transfer target is no campaign contact.
            variables: Vec::new(),
            amd: None,
            srtp: self.config.srtp.for_calls_we_place(),
        };
        self.resolve_for(Target::from_uri(&target), RouteFor::Refer(Box::new((leg, dialing)))).await;
    }

    /// Tells the referrer of `call_key` the final outcome of the REFER we carried out.
    pub(super) fn notify_referrer(&mut self, call_key: &CallKey, status: u16, reason: &str) {
        self.referring.remove(call_key);
        self.notify_referrer_progress(call_key, status, reason, true);
    }

    /// NOTIFY in the referring dialog with a `message/sipfrag` status line (RFC 3515 §2.4.5).
    fn notify_referrer_progress(&mut self, call_key: &CallKey, status: u16, reason: &str, last: bool) {
        let Some(call) = self.calls.get(call_key) else { return };
        let (local_ip, peer) = (call.local_ip, call.dialog.peer);
        let via = self.via_to(&peer, local_ip);
        let Some(call) = self.calls.get_mut(call_key) else { return };
        let mut notify = call.dialog.request(Method::Notify, &via);
        notify.headers.push("Event", "refer");
        let state = if last { "terminated;reason=noresource".to_string() } else { "active;expires=60".to_string() };
        notify.headers.push("Subscription-State", state);
        notify.headers.push("Content-Type", "message/sipfrag;version=2.0");
        notify.body = format!("SIP/2.0 {status} {reason}\r\n").into_bytes();
        if let Err(err) = self.endpoint.send_request(notify, peer, self.now.into_std()) {
            tracing::warn!(%err, call = %call_key, "cannot send NOTIFY");
        }
    }
}

/// The URI a REFER asks us to call, or the response that declines it.
fn refer_target(request: &Request) -> Result<SipUri, (u16, &'static str)> {
    let mut values = request.headers.get_all("Refer-To");
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err((400, "Bad Request (exactly one Refer-To)"));
    };
    let uri = NameAddr::parse(value).ok_or((400, "Bad Request (unreadable Refer-To)"))?.uri;
    let (uri, headers) = uri.split_once('?').unwrap_or((&uri, ""));
    if headers.to_ascii_lowercase().contains("replaces=") {
        return Err((501, "Not Implemented (attended transfer with Replaces)"));
    }
    match SipUri::parse(uri) {
        // `sips:` targets are called over TLS (RFC 3263 §4.1 with `secure`).
        Ok(target) => Ok(target),
        Err(voicera_sip::uri::UriError::UnsupportedScheme(_)) => Err((416, "Unsupported URI Scheme")),
        Err(_) => Err((400, "Bad Request (unreadable Refer-To URI)")),
    }
}

/// Status code of a `message/sipfrag` body such as `SIP/2.0 200 OK`.
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    text.lines().next()?.trim().strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{refer_target, sipfrag_status};
    use voicera_sip::{Headers, Method, Request};

    fn refer(refer_to: &[&str]) -> Request {
        let mut headers = Headers::new();
        for value in refer_to {
            headers.push("Refer-To", *value);
        }
        Request { method: Method::Refer, uri: "sip:echo@127.0.0.1".into(), headers, body: Vec::new() }
    }

    #[test]
    fn refer_targets_are_read_or_declined_with_the_reason() {
        let target = refer_target(&refer(&["Bob <sip:+15550001111@10.0.0.7:5070;transport=tcp>;x=1"])).unwrap();
        assert_eq!(
            (target.user.as_deref(), target.host.as_str(), target.port),
            (Some("+15550001111"), "10.0.0.7", Some(5070))
        );
        assert_eq!(target.params.get("transport"), Some("tcp"));
        assert_eq!(refer_target(&refer(&["sip:bob@example.com"])).unwrap().host, "example.com");
        let declined = |values: &[&str]| refer_target(&refer(values)).unwrap_err().0;
        assert_eq!(declined(&["<sip:bob@h?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>"]), 501);
        assert_eq!(declined(&["<tel:+15550001111>"]), 416);
        assert!(refer_target(&refer(&["<sips:bob@h>"])).unwrap().secure, "sips: is called over TLS");
        assert_eq!(declined(&[]), 400);
        assert_eq!(declined(&["<sip:a@h>", "<sip:b@h>"]), 400);
        assert_eq!(declined(&["<sip:>"]), 400);
        assert_eq!(declined(&["garbage <"]), 400);
    }

    #[test]
    fn sipfrag_status_lines() {
        assert_eq!(sipfrag_status(b"SIP/2.0 100 Trying\r\n"), Some(100));
        assert_eq!(sipfrag_status(b"SIP/2.0 486 Busy Here"), Some(486));
        assert_eq!(sipfrag_status(b"garbage"), None);
    }
}
