//! Outgoing calls (UAC) through a SIP trunk, or straight to a URI for a transfer we carry out: INVITE with
//! our SDP offer, digest answers to 401/407 (MD5 or SHA-256, qop=auth), early media from an 18x with SDP
//! (listened to, nothing sent, until the answer), ACK on 2xx, then the call's media runs exactly as for
//! an incoming call. This is what `place_call`, outbound campaigns and transfers build on.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use voicera_sip::auth::{Challenge, DigestClient};
use voicera_sip::dialog::{random_token, Dialog};
use voicera_sip::header::format_host;
use voicera_sip::resolve::{Destination, Target};
use voicera_sip::sdp::{CryptoAttribute, SessionDescription};
use voicera_sip::tls::ClientConfig;
use voicera_sip::{ClientKey, Headers, Method, Peer, Request, Response};

use super::media::{CallCommand, CallKey, CallService};
use super::routes::RouteFor;
use super::{CallEntry, Service, ALLOW, SUPPORTED};
use voicera_conversation::agent::{render_template, CallContext};
use voicera_conversation::amd::{AmdEvent, AmdGate, MachineAction};
use voicera_conversation::engine::Conversation;
use voicera_conversation::journal::WallClock;
use voicera_conversation::live::CallParties;
use voicera_media::amd::AmdParams;
use voicera_media::negotiate::{accept_answer_with, offer_crypto, offer_sdp, secure_offer_sdp, SrtpPolicy};
use voicera_media::ports::PortLease;
use voicera_media::stream::{RtpStream, ENGINE_RATE};

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
    pub agent: Option<std::sync::Arc<voicera_conversation::agent::Agent>>,
    /// Values for the agent's `{{contact.<name>}}` variables on this call (a campaign contact's CSV columns,
    /// by column name). Caller-controlled data: rendering bounds and cleans them.
    pub variables: Vec<(String, String)>,
    /// Answering-machine detection on this call (None: off, the agent starts at the answer).
    pub amd: Option<AmdRequest>,
}

/// Answering-machine detection on a call we place: the agent's start waits for the verdict.
#[derive(Debug, Clone)]
pub struct AmdRequest {
    /// What to do when a machine answers.
    pub on_machine: MachineAction,
    /// The voicemail message for [`MachineAction::LeaveMessage`]; its `{{variables}}` are filled from the
    /// call's context (the contact's columns) as the greeting's are.
    pub message: String,
    /// Where the call's detection events go as they happen (the verdict, then a message left): the dialer
    /// that placed the call. The call record keeps them too.
    pub events: Option<tokio::sync::mpsc::UnboundedSender<AmdEvent>>,
}

/// Why an outgoing call did not connect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceCallError {
    /// The request names no configured trunk.
    #[error("no trunk named {0:?}")]
    UnknownTrunk(String),
    /// DNS has no address for the target's host.
    #[error("cannot resolve trunk address {0:?}")]
    Unresolvable(String),
    /// The target's resolution did not finish within the resolver's timeout (the DNS server is slow or gone).
    #[error("DNS timed out for host {host}")]
    DnsTimedOut {
        /// The host being resolved.
        host: String,
    },
    /// A DNS lookup failed (no name server reachable, malformed name).
    #[error("DNS lookup of {name} failed: {reason}")]
    DnsFailed {
        /// The name queried.
        name: String,
        /// The resolver's message.
        reason: String,
    },
    /// No destination could be reached: the last connection (TCP, or TLS with its handshake) failed.
    #[error("cannot reach {destination}: {reason}")]
    Unreachable {
        /// The address (and, for TLS, the name its certificate had to carry).
        destination: String,
        /// What failed (`connection refused`, `TLS handshake failed: ...`).
        reason: String,
    },
    /// The node is shutting down.
    #[error("node is draining; no new calls")]
    Draining,
    /// The RTP port range is exhausted.
    #[error("no free RTP ports")]
    NoPorts,
    /// The far end answered with a failure status.
    #[error("call rejected: {status} {reason}")]
    Rejected {
        /// The final status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// The trunk kept challenging (401/407, the status) after our answers, or sent no usable challenge.
    #[error("trunk rejected our credentials ({0})")]
    AuthFailed(u16),
    /// The INVITE transaction timed out.
    #[error("no final response from the trunk")]
    Timeout,
    /// Ringing outlasted the ring timeout; the call was cancelled.
    #[error("not answered within the ring timeout (cancelled)")]
    NoAnswer,
    /// The answer's SDP could not be used.
    #[error("unusable SDP answer: {0}")]
    BadAnswer(String),
    /// The SIP service is no longer running.
    #[error("signalling service stopped")]
    ServiceStopped,
}

impl PlaceCallError {
    /// The SIP status that stands for this outcome in a `message/sipfrag` NOTIFY to a referrer.
    fn sip_status(&self) -> (u16, String) {
        match self {
            PlaceCallError::Rejected { status, reason } => (*status, reason.clone()),
            PlaceCallError::AuthFailed(status) => (*status, "Unauthorized".into()),
            PlaceCallError::Timeout => (408, "Request Timeout".into()),
            PlaceCallError::NoAnswer => (487, "Request Terminated".into()),
            PlaceCallError::BadAnswer(_) => (488, "Not Acceptable Here".into()),
            PlaceCallError::Unresolvable(_) => (404, "Not Found".into()),
            PlaceCallError::DnsTimedOut { .. } => (504, "Server Time-out".into()),
            _ => (503, "Service Unavailable".into()),
        }
    }
}

/// Challenges answered per call before giving up (a second challenge for a fresh nonce is legitimate; a third
/// means the credentials are wrong).
const MAX_AUTH_ATTEMPTS: u32 = 2;

/// Who waits for an outgoing INVITE's outcome: the `place_call` caller, and, when the INVITE carries out a REFER
/// we received, the referring call (told by NOTIFY, RFC 3515 §2.4.5).
pub(super) struct Requester {
    pub(super) reply: oneshot::Sender<Result<CallKey, PlaceCallError>>,
    pub(super) referral: Option<CallKey>,
}

/// Where an INVITE goes and as whom.
pub(super) struct Leg {
    /// Where to send, best first (RFC 3263): the INVITE goes to the first, and on a transport error, 503 or
    /// timeout to the next. Empty until the target is resolved.
    pub(super) destinations: Vec<Destination>,
    /// The trust TLS destinations are verified with (a trunk's `tls_ca`); `None`: the node's default roots.
    pub(super) tls: Option<Arc<ClientConfig>>,
    /// Request-URI and To URI.
    pub(super) uri: String,
    pub(super) from_user: String,
    /// Host part of the From URI.
    pub(super) from_host: String,
    pub(super) digest: DigestClient,
}

/// What runs on the call once it is answered.
pub(super) struct Dialing {
    pub(super) requester: Requester,
    pub(super) ring_timeout: Option<std::time::Duration>,
    pub(super) agent: Option<std::sync::Arc<voicera_conversation::agent::Agent>>,
    /// (caller, called) for the agent's variables and the call record.
    pub(super) numbers: (String, String),
    /// The agent's `{{contact.<name>}}` values ([`OutboundRequest::variables`]).
    pub(super) variables: Vec<(String, String)>,
    /// Whether the offer is RTP/SAVP (the trunk's `srtp`, else [`SrtpPolicy::for_calls_we_place`]).
    pub(super) srtp: SrtpPolicy,
    /// Answering-machine detection ([`OutboundRequest::amd`]).
    pub(super) amd: Option<AmdRequest>,
}

/// An INVITE in flight.
pub(super) struct OutboundCall {
    requester: Requester,
    invite: Request,
    peer: Peer,
    /// The destinations not tried yet, best first (RFC 3263 §4.3).
    alternatives: Vec<Destination>,
    /// The server name of the destination in use, for errors.
    server_name: String,
    /// The From user, also our Contact's.
    from_user: String,
    tls: Option<Arc<ClientConfig>>,
    /// Whether the current destination answered anything (a 100 Trying will do): then it is reachable, and a
    /// later failure is the call's, not the route's.
    responded: bool,
    digest: DigestClient,
    auth_attempts: u32,
    /// The call's RTP port and sockets until its media starts (at the answer, or with early media).
    media: Option<(PortLease, tokio::net::UdpSocket, tokio::net::UdpSocket)>,
    /// The call key of the early media started by an 18x with SDP, if any.
    early: Option<CallKey>,
    local_ip: std::net::IpAddr,
    session_id: u64,
    ring_timeout: Option<std::time::Duration>,
    /// Set once we sent CANCEL: the 487 that follows is our own doing.
    pub(super) cancelled: bool,
    agent: Option<std::sync::Arc<voicera_conversation::agent::Agent>>,
    numbers: (String, String),
    variables: Vec<(String, String)>,
    /// SRTP: the policy, and the `a=crypto` lines we offered (empty: a plain RTP/AVP offer).
    srtp: SrtpPolicy,
    crypto: Vec<CryptoAttribute>,
    /// Answering-machine detection, handed to the call's media at the answer (or with its early media).
    amd: Option<AmdRequest>,
}

impl OutboundCall {
    /// Whether `call` is this INVITE's early media.
    pub(super) fn is_early(&self, call: &CallKey) -> bool {
        self.early.as_ref() == Some(call)
    }
}

impl Service {
    pub(super) async fn place_call(
        &mut self,
        request: OutboundRequest,
        reply: oneshot::Sender<Result<CallKey, PlaceCallError>>,
    ) {
        let requester = Requester { reply, referral: None };
        let Some(trunk) = self.config.trunks.iter().find(|t| t.name == request.trunk).cloned() else {
            return self.settle(requester, Err(PlaceCallError::UnknownTrunk(request.trunk)));
        };
        let Some(target) = Target::from_host_port(&trunk.registrar, trunk.transport) else {
            return self.settle(requester, Err(PlaceCallError::Unresolvable(trunk.registrar)));
        };
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
        tracing::info!(trunk = %trunk.name, to = %request.to, "placing outbound call");
        let leg = Leg {
            destinations: Vec::new(),
            tls: self.trunk_tls.get(&trunk.name).cloned(),
            uri: format!("sip:{}@{host}", request.to),
            from_user: from_user.clone(),
            from_host: host,
            digest: DigestClient::new(trunk.username.clone(), trunk.password.clone(), trunk.realm.clone()),
        };
        let dialing = Dialing {
            requester,
            ring_timeout: request.ring_timeout,
            agent: request.agent,
            numbers: (from_user, request.to),
            variables: request.variables,
            srtp: trunk.srtp.unwrap_or(self.config.srtp.for_calls_we_place()),
            amd: request.amd,
        };
        self.resolve_for(target, RouteFor::Dial(Box::new((leg, dialing)))).await;
    }

    /// Sends an INVITE with our SDP offer along `leg`; its responses arrive in [`Self::handle_outbound_response`].
    pub(super) async fn dial(&mut self, leg: Leg, dialing: Dialing) {
        let Dialing { requester, ring_timeout, agent, numbers, variables, srtp, amd } = dialing;
        if self.draining {
            return self.settle(requester, Err(PlaceCallError::Draining));
        }
        let mut alternatives = leg.destinations;
        if alternatives.is_empty() {
            return self.settle(requester, Err(PlaceCallError::Unresolvable(leg.uri)));
        }
        let first = alternatives.remove(0);
        let peer = match self.peer_for(&first, leg.tls.clone()) {
            Ok(peer) => peer,
            Err(err) => {
                let destination = first.server_name.clone();
                return self
                    .settle(requester, Err(PlaceCallError::Unreachable { destination, reason: err.to_string() }));
            }
        };
        let Ok((lease, rtp, rtcp)) = self.ports.allocate().await else {
            return self.settle(requester, Err(PlaceCallError::NoPorts));
        };
        let local_ip = self.local_ip_toward(first.addr.ip());
        let session_id = rand::random::<u32>() as u64;
        let crypto = if srtp.offers_srtp() { offer_crypto() } else { Vec::new() };
        let offer = if crypto.is_empty() {
            offer_sdp(&self.config.codecs, local_ip, lease.port(), session_id)
        } else {
            secure_offer_sdp(&self.config.codecs, local_ip, lease.port(), session_id, &crypto)
        };
        let via = self.via_to(&peer, local_ip);
        let mut headers = Headers::new();
        headers.push("Via", via.to_string());
        headers.push("Max-Forwards", "70");
        headers.push("From", format!("<sip:{}@{}>;tag={}", leg.from_user, leg.from_host, random_token()));
        headers.push("To", format!("<{}>", leg.uri));
        headers.push("Call-ID", format!("{}@{}", random_token(), local_ip));
        headers.push("CSeq", "1 INVITE");
        headers.push("Contact", self.contact_for(&leg.from_user, local_ip, self.transport.protocol(&peer)));
        headers.push("Allow", ALLOW);
        headers.push("Supported", SUPPORTED);
        headers.push("Content-Type", "application/sdp");
        let invite = Request { method: Method::Invite, uri: leg.uri, headers, body: offer.to_bytes() };
        tracing::info!(call_id = invite.call_id(), uri = %invite.uri, "sending INVITE");
        let call = OutboundCall {
            requester,
            invite,
            peer,
            alternatives,
            server_name: first.server_name,
            from_user: leg.from_user,
            tls: leg.tls,
            responded: false,
            digest: leg.digest,
            auth_attempts: 0,
            media: Some((lease, rtp, rtcp)),
            early: None,
            local_ip,
            session_id,
            ring_timeout,
            cancelled: false,
            agent,
            numbers,
            variables,
            srtp,
            crypto,
            amd,
        };
        self.send_invite(call);
    }

    /// Tells whoever waits how an outgoing INVITE ended.
    pub(super) fn settle(&mut self, requester: Requester, result: Result<CallKey, PlaceCallError>) {
        if let Some(referring) = &requester.referral {
            let (status, reason) = match &result {
                Ok(_) => (200, "OK".to_string()),
                Err(err) => err.sip_status(),
            };
            self.notify_referrer(referring, status, &reason);
        }
        let _ = requester.reply.send(result);
    }

    fn send_invite(&mut self, call: OutboundCall) {
        let now = self.now;
        match self.endpoint.send_request(call.invite.clone(), call.peer, now.into_std()) {
            Ok(key) => {
                if let Some(timeout) = call.ring_timeout {
                    self.ring_deadlines.start(key.clone(), timeout, now);
                }
                self.outbound.insert(key, call);
            }
            Err(err) => {
                tracing::error!(%err, "cannot send INVITE");
                self.settle(call.requester, Err(PlaceCallError::ServiceStopped));
            }
        }
    }

    /// A response to one of our INVITEs. Returns false if `key` is not an outbound INVITE.
    pub(super) fn handle_outbound_response(&mut self, key: &ClientKey, response: Response) -> bool {
        let Some(call) = self.outbound.get_mut(key) else { return false };
        call.responded = true;
        if response.status < 200 {
            tracing::info!(status = response.status, reason = %response.reason, "outbound call progress");
            if response.status > 100 && !response.body.is_empty() {
                self.start_early_media(key, &response);
            }
            return true;
        }
        let Some(call) = self.outbound.remove(key) else { return true };
        self.ring_deadlines.stop(key);
        if !(200..=299).contains(&response.status) {
            self.end_early_media(call.early.as_ref());
        }
        match response.status {
            200..=299 => self.outbound_answered(call, response),
            401 | 407 => self.answer_challenge(call, &response),
            488 if call.srtp == SrtpPolicy::Offer && !call.crypto.is_empty() && call.media.is_some() => {
                self.offer_plain_rtp(call)
            }
            487 if call.cancelled => {
                tracing::info!(call_id = call.invite.call_id(), "outbound call not answered in time: cancelled");
                self.settle(call.requester, Err(PlaceCallError::NoAnswer));
            }
            503 => {
                let rejected = PlaceCallError::Rejected { status: 503, reason: response.reason.clone() };
                self.fail_over(call, "503 Service Unavailable", rejected);
            }
            status => {
                tracing::info!(status, reason = %response.reason, "outbound call failed");
                self.settle(call.requester, Err(PlaceCallError::Rejected { status, reason: response.reason }));
            }
        }
        true
    }

    /// Ring timeouts that have passed: CANCEL those INVITEs (RFC 3261 §9.1). The INVITE transaction then ends
    /// with 487, reported as [`PlaceCallError::NoAnswer`].
    pub(super) fn cancel_unanswered(&mut self, now: tokio::time::Instant) {
        let outbound = &mut self.outbound;
        let ringing = |key: &ClientKey| match outbound.get_mut(key) {
            Some(call) => {
                call.cancelled = true;
                true
            }
            None => false,
        };
        super::deadlines::cancel_unanswered(&mut self.ring_deadlines, &mut self.endpoint, ringing, now);
    }

    /// The INVITE got no final response (timer B).
    pub(super) fn handle_outbound_timeout(&mut self, key: &ClientKey) -> bool {
        match self.outbound.remove(key) {
            Some(call) => {
                self.ring_deadlines.stop(key);
                self.end_early_media(call.early.as_ref());
                self.fail_over(call, "no response", PlaceCallError::Timeout);
                true
            }
            None => false,
        }
    }

    /// `srtp = "offer"` and the far end refused our RTP/SAVP offer (488): the same INVITE again, next CSeq,
    /// with a plain RTP/AVP offer.
    fn offer_plain_rtp(&mut self, mut call: OutboundCall) {
        let Some(port) = call.media.as_ref().map(|(lease, _, _)| lease.port()) else { return };
        tracing::info!(call_id = call.invite.call_id(), "RTP/SAVP offer refused (488); offering RTP/AVP");
        call.crypto.clear();
        call.invite.body = offer_sdp(&self.config.codecs, call.local_ip, port, call.session_id).to_bytes();
        let seq = call.invite.cseq().map(|c| c.seq).unwrap_or(1) + 1;
        call.invite.headers.set("CSeq", format!("{seq} INVITE"));
        call.invite.headers.set("Via", self.via_to(&call.peer, call.local_ip).to_string());
        self.send_invite(call);
    }

    /// Outgoing INVITEs whose connection to `addr` could not be opened, and that heard nothing yet: they move
    /// on to their next destination, or fail with the connection's reason.
    pub(super) fn outbound_unreachable(&mut self, addr: SocketAddr, reason: &str) {
        let stuck: Vec<ClientKey> = self
            .outbound
            .iter()
            .filter(|(_, call)| !call.responded && call.peer.addr == addr)
            .map(|(key, _)| key.clone())
            .collect();
        for key in stuck {
            let Some(call) = self.outbound.remove(&key) else { continue };
            self.ring_deadlines.stop(&key);
            // The abandoned transaction ends by its own timer; its key is no longer ours to act on.
            let destination = format!("{} ({addr})", call.server_name);
            let err = PlaceCallError::Unreachable { destination, reason: reason.to_string() };
            self.fail_over(call, reason, err);
        }
    }

    /// RFC 3263 §4.3: after a transport error, a 503 or a timeout the same INVITE (new branch, new Via for the
    /// next destination's transport) goes to the next destination; with none left, or once the call is being
    /// cancelled or its media started early, `err` settles it.
    fn fail_over(&mut self, mut call: OutboundCall, why: &str, err: PlaceCallError) {
        if call.cancelled || call.media.is_none() || call.alternatives.is_empty() {
            tracing::info!(%err, "outbound call failed");
            return self.settle(call.requester, Err(err));
        }
        let next = call.alternatives.remove(0);
        let peer = match self.peer_for(&next, call.tls.clone()) {
            Ok(peer) => peer,
            Err(tls) => {
                let destination = next.server_name.clone();
                let err = PlaceCallError::Unreachable { destination, reason: tls.to_string() };
                return self.fail_over(call, why, err);
            }
        };
        tracing::info!(from = %call.peer.addr, to = %next.addr, protocol = ?next.protocol, why, "trying the next destination");
        let protocol = self.transport.protocol(&peer);
        call.invite.headers.set("Via", self.via_to(&peer, call.local_ip).to_string());
        call.invite.headers.set("Contact", self.contact_for(&call.from_user, call.local_ip, protocol));
        call.peer = peer;
        call.server_name = next.server_name;
        call.responded = false;
        self.send_invite(call);
    }

    fn answer_challenge(&mut self, mut call: OutboundCall, response: &Response) {
        let (challenge_header, answer_header) = if response.status == 401 {
            ("WWW-Authenticate", "Authorization")
        } else {
            ("Proxy-Authenticate", "Proxy-Authorization")
        };
        let challenge = response.headers.get_all(challenge_header).find_map(|h| Challenge::parse(h).ok());
        // A call with no credentials (a transfer to a trunk that does not lend them, a call to a bare address)
        // has nothing to answer a challenge with: it fails rather than send an empty username.
        let has_credentials = !call.digest.username.is_empty();
        let (Some(challenge), true) =
            (challenge, has_credentials && call.auth_attempts < MAX_AUTH_ATTEMPTS && call.media.is_some())
        else {
            return self.settle(call.requester, Err(PlaceCallError::AuthFailed(response.status)));
        };
        call.auth_attempts += 1;
        call.digest.set_challenge(challenge);
        let Some(authorization) = call.digest.authorization("INVITE", &call.invite.uri) else { return };
        // Same dialog identifiers, next CSeq, fresh branch (RFC 3261 §22.2).
        let seq = call.invite.cseq().map(|c| c.seq).unwrap_or(1) + 1;
        call.invite.headers.set("CSeq", format!("{seq} INVITE"));
        call.invite.headers.set("Via", self.via_to(&call.peer, call.local_ip).to_string());
        call.invite.headers.remove("Authorization");
        call.invite.headers.remove("Proxy-Authorization");
        call.invite.headers.push(answer_header, authorization);
        self.send_invite(call);
    }

    /// A provisional response with SDP (RFC 3960 early media: ringback, announcements): the call's media
    /// starts listening now, so that nothing is clipped when the answer comes. A second early dialog (another
    /// fork) is not listened to; a 2xx from any fork takes over that media.
    fn start_early_media(&mut self, key: &ClientKey, response: &Response) {
        let Some(call) = self.outbound.get(key) else { return };
        if call.early.is_some() || call.media.is_none() {
            return;
        }
        let Some(dialog) = Dialog::uac(&call.invite, response, call.peer) else { return };
        let stream = self
            .answer_plan(&response.body, (&call.crypto, call.srtp))
            .and_then(|plan| RtpStream::new(plan, self.config.jitter).map_err(|e| e.to_string()));
        let stream = match stream {
            Ok(stream) => stream,
            Err(why) => {
                tracing::info!(%why, "unusable early-media SDP; waiting for the answer");
                return;
            }
        };
        let Some(call) = self.outbound.get_mut(key) else { return };
        let Some((lease, rtp, rtcp)) = call.media.take() else { return };
        let early_key = CallKey::from(&dialog.id);
        call.early = Some(early_key.clone());
        let (local_ip, session_id) = (call.local_ip, call.session_id);
        let (agent, call_id, numbers) = (call.agent.clone(), call.invite.call_id().to_string(), call.numbers.clone());
        let variables = call.variables.clone();
        let parties = CallParties { caller: numbers.0.clone(), called: numbers.1.clone(), outbound: true };
        let amd = call.amd.take();
        let clock = self.call_clock();
        let (service, recording, amd) = self.service_for(agent, &call_id, (numbers, variables), amd, &clock);
        tracing::info!(call = %early_key, codec = ?stream.plan().codec, "early media: listening until the answer");
        let mut setup = self.call_setup((service, stream), (lease, rtp, rtcp), recording, true, clock);
        setup.amd = amd;
        setup.parties = parties;
        self.start_call(setup, dialog, local_ip, session_id, None);
    }

    /// The INVITE of a call with early media failed: its listening task stops (the early dialog ended with the
    /// final response, so there is nothing to BYE).
    fn end_early_media(&mut self, early: Option<&CallKey>) {
        if let Some(entry) = early.and_then(|key| self.calls.remove(key)) {
            let _ = entry.commands.try_send(CallCommand::Stop);
        }
    }

    /// Our offer's media plan from the SDP answer in `body`, or why it is unusable.
    fn answer_plan(
        &self,
        body: &[u8],
        (crypto, srtp): (&[CryptoAttribute], SrtpPolicy),
    ) -> Result<voicera_media::negotiate::MediaPlan, String> {
        let answer = SessionDescription::parse(body).map_err(|e| e.to_string())?;
        accept_answer_with(&answer, &self.config.codecs, crypto, srtp).map_err(|e| e.to_string())
    }

    /// A 2xx we cannot carry (no usable media): the dialog is registered just long enough to BYE it, and the
    /// requester learns why.
    fn abandon_answered(
        &mut self,
        requester: Requester,
        dialog: Dialog,
        (local_ip, rtp_port, session_id): (std::net::IpAddr, u16, u64),
        err: PlaceCallError,
    ) {
        let key = CallKey::from(&dialog.id);
        self.calls_insert_for_hangup(dialog, local_ip, rtp_port, session_id);
        self.hang_up(&key, voicera_media::metrics::CallResult::Failed);
        self.settle(requester, Err(err));
    }

    /// What runs on a call we placed once it is answered, its record, and its answering-machine detection; the
    /// call began at `clock`'s anchor.
    fn service_for(
        &self,
        agent: Option<std::sync::Arc<voicera_conversation::agent::Agent>>,
        call_id: &str,
        ((caller, called), variables): ((String, String), Vec<(String, String)>),
        amd: Option<AmdRequest>,
        clock: &WallClock,
    ) -> (CallService, Option<super::media::RecordingPlan>, Option<super::media::AmdSetup>) {
        let context = CallContext {
            call_id: call_id.to_string(),
            caller_number: caller.clone(),
            called_number: called.clone(),
            extra: variables,
            started_at_ms: clock.anchor_unix_ms(),
        };
        let amd = amd.map(|request| {
            let message = match &agent {
                Some(agent) => render_template(&request.message, agent, &context, context.started_at_ms / 1000),
                None => String::new(),
            };
            let gate = AmdGate::new(ENGINE_RATE, request.on_machine, AmdParams::default());
            super::media::AmdSetup { gate, message, events: request.events }
        });
        let Some(agent) = agent else { return (CallService::Echo, None, amd) };
        // Every agent call has a log; its agent decides whether a transcript and recording come with it.
        let recording = self.config.recordings.clone().map(|sink| super::media::RecordingPlan {
            sink,
            caller,
            called,
            outbound: true,
        });
        (CallService::Agent(Box::new(Conversation::for_call(agent, &context))), recording, amd)
    }

    fn outbound_answered(&mut self, call: OutboundCall, response: Response) {
        let OutboundCall {
            requester,
            invite,
            peer,
            media,
            early,
            local_ip,
            session_id,
            agent,
            numbers,
            variables,
            srtp,
            crypto,
            amd,
            ..
        } = call;
        let Some(dialog) = Dialog::uac(&invite, &response, peer) else {
            self.end_early_media(early.as_ref());
            return self.settle(requester, Err(PlaceCallError::BadAnswer("2xx without To tag or Contact".into())));
        };
        // ACK for the 2xx: a new transaction-less request in the dialog, with the INVITE's credentials.
        let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
        let mut ack = dialog.ack(&self.via_to(&peer, local_ip), seq);
        for name in ["Authorization", "Proxy-Authorization"] {
            if let Some(value) = invite.headers.get(name) {
                ack.headers.push(name, value);
            }
        }
        self.endpoint.send_raw(ack.into_message(), dialog.peer);
        let key = CallKey::from(&dialog.id);
        // The answer's SDP; after early media it may be absent (the 18x's stands, RFC 3261 §13.2.1).
        let plan = if response.body.is_empty() && early.is_some() {
            None
        } else {
            Some(self.answer_plan(&response.body, (&crypto, srtp)))
        };
        if let Some(mut entry) = early.and_then(|early_key| self.calls.remove(&early_key)) {
            match plan {
                Some(Err(err)) => {
                    let _ = entry.commands.try_send(CallCommand::Stop);
                    let media = (local_ip, entry.rtp_port, session_id);
                    return self.abandon_answered(requester, dialog, media, PlaceCallError::BadAnswer(err));
                }
                Some(Ok(plan)) if plan != entry.plan => {
                    let _ = entry.commands.try_send(CallCommand::UpdatePlan(Box::new(plan.clone())));
                    entry.plan = plan;
                }
                _ => {}
            }
            tracing::info!(call = %key, codec = ?entry.plan.codec, "outbound call answered (after early media)");
            entry.dialog = dialog;
            let _ = entry.commands.try_send(CallCommand::Answered { key: key.clone() });
            self.metrics.call_started();
            self.calls.insert(key.clone(), entry);
            return self.connected(requester, key);
        }
        let Some((lease, rtp, rtcp)) = media else {
            // The early media ended before the answer (its media failed): nothing can carry the call.
            let err = PlaceCallError::BadAnswer("media ended before the answer".into());
            return self.abandon_answered(requester, dialog, (local_ip, 9, session_id), err);
        };
        let stream =
            plan.unwrap_or_else(|| Err("2xx without SDP".into())).map_err(PlaceCallError::BadAnswer).and_then(|plan| {
                RtpStream::new(plan, self.config.jitter).map_err(|e| PlaceCallError::BadAnswer(e.to_string()))
            });
        let stream = match stream {
            Ok(stream) => stream,
            // Connected but unusable: hang up at once.
            Err(err) => return self.abandon_answered(requester, dialog, (local_ip, lease.port(), session_id), err),
        };
        tracing::info!(call = %key, codec = ?stream.plan().codec, "outbound call answered");
        let parties = CallParties { caller: numbers.0.clone(), called: numbers.1.clone(), outbound: true };
        let clock = self.call_clock();
        let (service, recording, amd) = self.service_for(agent, invite.call_id(), (numbers, variables), amd, &clock);
        let mut setup = self.call_setup((service, stream), (lease, rtp, rtcp), recording, false, clock);
        setup.amd = amd;
        setup.parties = parties;
        self.start_call(setup, dialog, local_ip, session_id, None);
        self.connected(requester, key);
    }

    /// A call we placed is connected: its requester learns the key, and a transfer we carried out for a
    /// referring call ends that call (as pjsua and most phones do), rather than leave the agent on two calls.
    fn connected(&mut self, requester: Requester, key: CallKey) {
        let referral = requester.referral.clone();
        self.settle(requester, Ok(key));
        if let Some(referring) = referral {
            self.hang_up(&referring, voicera_media::metrics::CallResult::Completed);
        }
    }

    /// Registers a connected-but-unusable call just long enough to send its BYE.
    fn calls_insert_for_hangup(&mut self, dialog: Dialog, local_ip: std::net::IpAddr, rtp_port: u16, session_id: u64) {
        let (commands, _) = tokio::sync::mpsc::channel(1);
        self.metrics.call_started();
        let plan = voicera_media::negotiate::MediaPlan {
            codec: voicera_media::codec::CodecKind::Pcmu,
            payload_type: 0,
            dtmf_payload_type: None,
            remote_rtp: SocketAddr::new(local_ip, 9),
            remote_rtcp: SocketAddr::new(local_ip, 9),
            direction: voicera_sip::sdp::Direction::Inactive,
            ptime: 20,
            srtp: None,
            feedback: false,
        };
        let key = CallKey::from(&dialog.id);
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
                agent: None,
            },
        );
    }
}
