//! Blind transfer by REFER (RFC 3515): we ask the caller's side to call the target, follow its progress in the
//! NOTIFYs it sends (`message/sipfrag` bodies, RFC 3420), and hang up once the target answered. A failed
//! transfer leaves the call up, so the agent can tell the caller.

use tokio::sync::oneshot;
use voicera_sip::header::format_host;
use voicera_sip::uri::SipUri;
use voicera_sip::{ClientKey, Method, Request, Response, ServerKey};

use super::Service;
use crate::call::CallKey;
use crate::metrics::CallResult;

/// Why a transfer could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("no call {0}")]
    NoSuchCall(CallKey),
    #[error("transfer target {0:?} is neither a SIP URI nor a phone number")]
    BadTarget(String),
    #[error("peer refused the transfer: {status} {reason}")]
    Refused { status: u16, reason: String },
    #[error("peer did not answer the REFER")]
    Timeout,
    #[error("signalling service stopped")]
    ServiceStopped,
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
        let (transport, local_ip, peer) = (call.dialog.peer.transport, call.local_ip, call.dialog.peer);
        let via = self.via(transport, local_ip);
        let Some(call) = self.calls.get_mut(&call_key) else { return };
        let mut refer = call.dialog.request(Method::Refer, &via);
        refer.headers.push("Refer-To", format!("<{refer_to}>"));
        refer.headers.push("Referred-By", call.dialog.local.split(";tag=").next().unwrap_or_default().to_string());
        tracing::info!(call = %call_key, %refer_to, "transferring call (REFER)");
        match self.endpoint.send_request(refer, peer, std::time::Instant::now()) {
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
        let now = std::time::Instant::now();
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

/// Status code of a `message/sipfrag` body such as `SIP/2.0 200 OK`.
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    text.lines().next()?.trim().strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::sipfrag_status;

    #[test]
    fn sipfrag_status_lines() {
        assert_eq!(sipfrag_status(b"SIP/2.0 100 Trying\r\n"), Some(100));
        assert_eq!(sipfrag_status(b"SIP/2.0 486 Busy Here"), Some(486));
        assert_eq!(sipfrag_status(b"garbage"), None);
    }
}
