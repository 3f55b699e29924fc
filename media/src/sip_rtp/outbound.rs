//! Outgoing calls (UAC) through a SIP trunk: INVITE with our SDP offer to the trunk's proxy, digest answers
//! to 401/407 (MD5 or SHA-256, qop=auth), provisional responses logged, ACK on 2xx, then the call's media
//! task starts exactly as for an incoming call. This is what `place_call`, outbound campaigns and the
//! transfer tool build on.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use voicera_sip::auth::{Challenge, DigestClient};
use voicera_sip::dialog::{random_token, Dialog};
use voicera_sip::header::format_host;
use voicera_sip::sdp::SessionDescription;
use voicera_sip::{ClientKey, Headers, Method, Peer, Request, Response};

use super::{resolve, CallEntry, Service, ALLOW, SUPPORTED};
use crate::call::{CallKey, CallService, CallSetup};
use crate::conversation::engine::{CallContext, Conversation};
use crate::negotiate::{accept_answer, offer_sdp};
use crate::ports::PortLease;
use crate::stream::RtpStream;

/// A call to place.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// Name of the `[[trunks]]` entry to call through.
    pub trunk: String,
    /// Number or user to call (becomes the Request-URI user).
    pub to: String,
    /// Caller id (From user); the trunk's username when absent.
    pub from: Option<String>,
    /// Give up (CANCEL) if not answered within this time; `None` waits for the trunk's own timeout.
    pub ring_timeout: Option<std::time::Duration>,
    /// The agent that talks once the call is answered (None: the echo service, for tests and probes).
    pub agent: Option<std::sync::Arc<crate::conversation::engine::Agent>>,
}

/// Why an outgoing call did not connect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceCallError {
    #[error("no trunk named {0:?}")]
    UnknownTrunk(String),
    #[error("cannot resolve trunk address {0:?}")]
    Unresolvable(String),
    #[error("node is draining; no new calls")]
    Draining,
    #[error("no free RTP ports")]
    NoPorts,
    #[error("call rejected: {status} {reason}")]
    Rejected { status: u16, reason: String },
    #[error("trunk rejected our credentials ({0})")]
    AuthFailed(u16),
    #[error("no final response from the trunk")]
    Timeout,
    #[error("not answered within the ring timeout (cancelled)")]
    NoAnswer,
    #[error("unusable SDP answer: {0}")]
    BadAnswer(String),
    #[error("signalling service stopped")]
    ServiceStopped,
}

/// Challenges answered per call before giving up (a second challenge for a fresh nonce is legitimate; a third
/// means the credentials are wrong).
const MAX_AUTH_ATTEMPTS: u32 = 2;

/// An INVITE in flight.
pub(super) struct OutboundCall {
    reply: oneshot::Sender<Result<CallKey, PlaceCallError>>,
    invite: Request,
    peer: Peer,
    digest: DigestClient,
    auth_attempts: u32,
    lease: PortLease,
    rtp: tokio::net::UdpSocket,
    rtcp: tokio::net::UdpSocket,
    local_ip: std::net::IpAddr,
    session_id: u64,
    ring_timeout: Option<std::time::Duration>,
    /// Set once we sent CANCEL: the 487 that follows is our own doing.
    cancelled: bool,
    agent: Option<std::sync::Arc<crate::conversation::engine::Agent>>,
    /// (caller, called) for the agent's variables and the call record.
    numbers: (String, String),
}

impl Service {
    pub(super) async fn place_call(
        &mut self,
        request: OutboundRequest,
        reply: oneshot::Sender<Result<CallKey, PlaceCallError>>,
    ) {
        if self.draining {
            let _ = reply.send(Err(PlaceCallError::Draining));
            return;
        }
        let Some(trunk) = self.config.trunks.iter().find(|t| t.name == request.trunk).cloned() else {
            let _ = reply.send(Err(PlaceCallError::UnknownTrunk(request.trunk)));
            return;
        };
        let Some(target) = resolve(&trunk.registrar).await else {
            let _ = reply.send(Err(PlaceCallError::Unresolvable(trunk.registrar)));
            return;
        };
        let Ok((lease, rtp, rtcp)) = self.ports.allocate().await else {
            let _ = reply.send(Err(PlaceCallError::NoPorts));
            return;
        };
        let local_ip = self.local_ip_toward(target.ip());
        let session_id = rand::random::<u32>() as u64;
        let offer = offer_sdp(&self.config.codecs, local_ip, lease.port(), session_id);
        let host = voicera_sip::header::split_host_port(&trunk.registrar)
            .map(|(h, _)| format_host(&h))
            .unwrap_or_else(|| trunk.registrar.clone());
        let from_user = request.from.clone().unwrap_or_else(|| {
            if trunk.username.is_empty() {
                "voicera".to_string()
            } else {
                trunk.username.clone()
            }
        });
        let via = self.via(trunk.transport, local_ip);
        let mut headers = Headers::new();
        headers.push("Via", via.to_string());
        headers.push("Max-Forwards", "70");
        headers.push("From", format!("<sip:{from_user}@{host}>;tag={}", random_token()));
        headers.push("To", format!("<sip:{}@{host}>", request.to));
        headers.push("Call-ID", format!("{}@{}", random_token(), local_ip));
        headers.push("CSeq", "1 INVITE");
        headers.push(
            "Contact",
            format!("<sip:{from_user}@{}:{}>", format_host(&local_ip.to_string()), self.local_addr.port()),
        );
        headers.push("Allow", ALLOW);
        headers.push("Supported", SUPPORTED);
        headers.push("Content-Type", "application/sdp");
        let invite = Request {
            method: Method::Invite,
            uri: format!("sip:{}@{host}", request.to),
            headers,
            body: offer.to_bytes(),
        };
        let peer = Peer { transport: trunk.transport, addr: target, connection: None };
        let digest = DigestClient::new(trunk.username.clone(), trunk.password.clone(), trunk.realm.clone());
        tracing::info!(trunk = %trunk.name, to = %request.to, call_id = invite.call_id(), "placing outbound call");
        let call = OutboundCall {
            reply,
            invite,
            peer,
            digest,
            auth_attempts: 0,
            lease,
            rtp,
            rtcp,
            local_ip,
            session_id,
            ring_timeout: request.ring_timeout,
            cancelled: false,
            agent: request.agent.clone(),
            numbers: (from_user.clone(), request.to.clone()),
        };
        self.send_invite(call);
    }

    fn send_invite(&mut self, call: OutboundCall) {
        match self.endpoint.send_request(call.invite.clone(), call.peer, std::time::Instant::now()) {
            Ok(key) => {
                if let Some(timeout) = call.ring_timeout {
                    self.outbound_deadlines.insert((tokio::time::Instant::now() + timeout, key.clone()), ());
                }
                self.outbound.insert(key, call);
            }
            Err(err) => {
                tracing::error!(%err, "cannot send INVITE");
                let _ = call.reply.send(Err(PlaceCallError::ServiceStopped));
            }
        }
    }

    /// A response to one of our INVITEs. Returns false if `key` is not an outbound INVITE.
    pub(super) fn handle_outbound_response(&mut self, key: &ClientKey, response: Response) -> bool {
        if !self.outbound.contains_key(key) {
            return false;
        }
        if response.status < 200 {
            tracing::info!(status = response.status, reason = %response.reason, "outbound call progress");
            return true;
        }
        let Some(call) = self.outbound.remove(key) else { return true };
        self.outbound_deadlines.retain(|(_, k), _| k != key);
        match response.status {
            200..=299 => self.outbound_answered(call, response),
            401 | 407 => self.answer_challenge(call, &response),
            487 if call.cancelled => {
                tracing::info!(call_id = call.invite.call_id(), "outbound call not answered in time: cancelled");
                let _ = call.reply.send(Err(PlaceCallError::NoAnswer));
            }
            status => {
                tracing::info!(status, reason = %response.reason, "outbound call failed");
                let _ = call.reply.send(Err(PlaceCallError::Rejected { status, reason: response.reason }));
            }
        }
        true
    }

    /// Ring timeouts that have passed: CANCEL those INVITEs (RFC 3261 §9.1). The INVITE transaction then ends
    /// with 487, reported as [`PlaceCallError::NoAnswer`].
    pub(super) fn cancel_unanswered(&mut self, now: tokio::time::Instant) {
        while let Some(entry) = self.outbound_deadlines.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, key), _) = entry.remove_entry();
            if let Some(call) = self.outbound.get_mut(&key) {
                call.cancelled = true;
                if self.endpoint.cancel(&key, now.into_std()).is_none() {
                    tracing::debug!(%key, "INVITE already final; nothing to cancel");
                }
            }
        }
    }

    /// The INVITE got no final response (timer B).
    pub(super) fn handle_outbound_timeout(&mut self, key: &ClientKey) -> bool {
        match self.outbound.remove(key) {
            Some(call) => {
                let _ = call.reply.send(Err(PlaceCallError::Timeout));
                true
            }
            None => false,
        }
    }

    fn answer_challenge(&mut self, mut call: OutboundCall, response: &Response) {
        let (challenge_header, answer_header) = if response.status == 401 {
            ("WWW-Authenticate", "Authorization")
        } else {
            ("Proxy-Authenticate", "Proxy-Authorization")
        };
        let challenge = response.headers.get_all(challenge_header).find_map(|h| Challenge::parse(h).ok());
        let (Some(challenge), true) = (challenge, call.auth_attempts < MAX_AUTH_ATTEMPTS) else {
            let _ = call.reply.send(Err(PlaceCallError::AuthFailed(response.status)));
            return;
        };
        call.auth_attempts += 1;
        call.digest.set_challenge(challenge);
        let Some(authorization) = call.digest.authorization("INVITE", &call.invite.uri) else { return };
        // Same dialog identifiers, next CSeq, fresh branch (RFC 3261 §22.2).
        let seq = call.invite.cseq().map(|c| c.seq).unwrap_or(1) + 1;
        call.invite.headers.set("CSeq", format!("{seq} INVITE"));
        call.invite.headers.set("Via", self.via(call.peer.transport, call.local_ip).to_string());
        call.invite.headers.remove("Authorization");
        call.invite.headers.remove("Proxy-Authorization");
        call.invite.headers.push(answer_header, authorization);
        self.send_invite(call);
    }

    fn outbound_answered(&mut self, call: OutboundCall, response: Response) {
        let OutboundCall { reply, invite, peer, lease, rtp, rtcp, local_ip, session_id, agent, numbers, .. } = call;
        let Some(dialog) = Dialog::uac(&invite, &response, peer) else {
            let _ = reply.send(Err(PlaceCallError::BadAnswer("2xx without To tag or Contact".into())));
            return;
        };
        // ACK for the 2xx: a new transaction-less request in the dialog, with the INVITE's credentials.
        let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
        let mut ack = dialog.ack(&self.via(peer.transport, local_ip), seq);
        for name in ["Authorization", "Proxy-Authorization"] {
            if let Some(value) = invite.headers.get(name) {
                ack.headers.push(name, value);
            }
        }
        self.endpoint.send_raw(ack.into_message(), dialog.peer);
        let plan = SessionDescription::parse(&response.body)
            .map_err(|e| e.to_string())
            .and_then(|answer| accept_answer(&answer, &self.config.codecs).map_err(|e| e.to_string()));
        let key = dialog.id.to_string();
        let stream = plan.clone().map_err(PlaceCallError::BadAnswer).and_then(|plan| {
            RtpStream::new(plan, self.config.jitter).map_err(|e| PlaceCallError::BadAnswer(e.to_string()))
        });
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                // Connected but unusable: hang up at once.
                self.calls_insert_for_hangup(dialog, local_ip, lease.port(), session_id);
                self.hang_up(&key, crate::metrics::CallResult::Failed);
                let _ = reply.send(Err(err));
                return;
            }
        };
        tracing::info!(call = %key, codec = ?stream.plan().codec, "outbound call answered");
        let (service, recording) = match agent {
            Some(agent) => {
                let (caller, called) = numbers;
                let context = CallContext {
                    call_id: invite.call_id().to_string(),
                    caller_number: caller.clone(),
                    called_number: called.clone(),
                    extra: Vec::new(),
                };
                let recording = if agent.record_transcript {
                    self.config.recordings.clone().map(|sink| crate::call::RecordingPlan { sink, caller, called })
                } else {
                    None
                };
                (CallService::Agent(Box::new(Conversation::for_call(agent, &context))), recording)
            }
            None => (CallService::Echo, None),
        };
        let setup = CallSetup {
            key: key.clone(),
            service,
            stream,
            rtp,
            rtcp,
            lease,
            metrics: self.metrics.clone(),
            rtp_timeout: self.config.rtp_timeout,
            recording,
        };
        self.start_call(setup, dialog, local_ip, session_id, None);
        let _ = reply.send(Ok(key));
    }

    /// Registers a connected-but-unusable call just long enough to send its BYE.
    fn calls_insert_for_hangup(&mut self, dialog: Dialog, local_ip: std::net::IpAddr, rtp_port: u16, session_id: u64) {
        let (commands, _) = tokio::sync::mpsc::channel(1);
        self.metrics.call_started();
        let plan = crate::negotiate::MediaPlan {
            codec: crate::codec::CodecKind::Pcmu,
            payload_type: 0,
            dtmf_payload_type: None,
            remote_rtp: SocketAddr::new(local_ip, 9),
            remote_rtcp: SocketAddr::new(local_ip, 9),
            direction: voicera_sip::sdp::Direction::Inactive,
            ptime: 20,
        };
        let key = dialog.id.to_string();
        self.calls.insert(
            key,
            CallEntry {
                dialog,
                commands,
                local_ip,
                rtp_port,
                session_id,
                session_version: 1,
                plan,
                session_expires: None,
            },
        );
    }
}
