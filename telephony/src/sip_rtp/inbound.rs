//! Requests from peers: the UAS policy for new INVITEs (see the module doc of [`super`]), OPTIONS, and
//! in-dialog requests (BYE, re-INVITE/UPDATE, INFO).

use std::net::IpAddr;
use std::time::Duration;

use voicera_sip::dialog::{dialog_id_of_request, random_token, Dialog};
use voicera_sip::header::NameAddr;
use voicera_sip::sdp::SessionDescription;
use voicera_sip::uri::{SipUri, UriError};
use voicera_sip::{Method, Peer, Request, Response, ServerKey, TransportKind};

use super::deadlines::SessionTimer;
use super::media::{CallCommand, CallKey, CallService, RecordingPlan};
use super::{PendingAnswer, Service, ALLOW, MIN_SE, SUPPORTED};
use voicera_conversation::agent::CallContext;
use voicera_conversation::engine::Conversation;
use voicera_conversation::live::CallParties;
use voicera_conversation::routing::Destination;
use voicera_media::metrics::CallResult;
use voicera_media::negotiate::{answer_offer_sdp, answer_sdp, negotiate_with, SrtpPolicy};
use voicera_media::stream::RtpStream;

/// The Warning text of the 403 a stranger's INVITE to an agent gets while `[sip] auth = "none"`: what the
/// operator changes to let such callers in.
const STRANGER_REFUSED: &str =
    "agents answer unauthenticated callers only from sip.agent_sources and trunks; set sip.auth = 'digest' or list the address";

impl Service {
    pub(super) async fn handle_request(&mut self, key: ServerKey, request: Request, peer: Peer) {
        let now = self.now.into_std();
        let in_dialog = request.headers.get("To").and_then(NameAddr::parse).is_some_and(|to| to.tag().is_some());
        if request.method != Method::Ack && request.max_forwards() == Some(0) && !in_dialog {
            return self.reject(&key, &request, 483, "Too Many Hops");
        }
        // RFC 3261 §8.2 order: the Request-URI's scheme (416), the extensions required (420), the body (415).
        if let Err(rejection) = voicera_sip::check::check_request_uri(&request) {
            return self.refuse(&key, &request, rejection);
        }
        if let Some(unsupported) = unsupported_requirements(&request) {
            let mut response = Response::for_request(&request, 420, "Bad Extension");
            response.headers.push("Unsupported", unsupported);
            self.endpoint.respond(&key, response, now);
            return;
        }
        if let Err(rejection) = voicera_sip::check::check_body(&request) {
            return self.refuse(&key, &request, rejection);
        }
        if in_dialog {
            return self.handle_in_dialog(key, request, peer).await;
        }
        match request.method {
            Method::Invite => self.handle_invite(key, request, peer).await,
            Method::Options => {
                if self.draining {
                    return self.reject(&key, &request, 503, "Service Unavailable");
                }
                let mut response = Response::for_request(&request, 200, "OK");
                response.headers.push("Allow", ALLOW);
                response.headers.push("Accept", "application/sdp");
                response.headers.push("Supported", SUPPORTED);
                self.endpoint.respond(&key, response, now);
            }
            Method::Bye | Method::Info | Method::Update => {
                self.reject(&key, &request, 481, "Call/Transaction Does Not Exist")
            }
            Method::Other(_) => self.reject_with_allow(&key, &request, 501, "Not Implemented"),
            _ => self.reject_with_allow(&key, &request, 405, "Method Not Allowed"),
        }
    }

    pub(super) fn reject(&mut self, key: &ServerKey, request: &Request, status: u16, reason: &str) {
        let mut response = Response::for_request(request, status, reason);
        response.ensure_to_tag(&random_token());
        self.endpoint.respond(key, response, self.now.into_std());
    }

    /// Answers with a rejection the sip crate's request checks decided (its status, reason and headers).
    fn refuse(&mut self, key: &ServerKey, request: &Request, rejection: voicera_sip::check::Rejection) {
        tracing::info!(call_id = request.call_id(), status = rejection.status, reason = %rejection.reason, "request refused");
        let mut response = rejection.response(request);
        response.ensure_to_tag(&random_token());
        self.endpoint.respond(key, response, self.now.into_std());
    }

    fn reject_with_allow(&mut self, key: &ServerKey, request: &Request, status: u16, reason: &str) {
        let mut response = Response::for_request(request, status, reason);
        response.ensure_to_tag(&random_token());
        response.headers.push("Allow", ALLOW);
        self.endpoint.respond(key, response, self.now.into_std());
    }

    async fn handle_invite(&mut self, key: ServerKey, request: Request, peer: Peer) {
        let reject = |this: &mut Self, status, reason| {
            this.metrics.count_result(CallResult::Rejected);
            this.reject(&key, &request, status, reason);
        };
        if self.draining {
            return reject(self, 503, "Service Unavailable");
        }
        if !self.authenticate(&key, &request, peer) {
            return;
        }
        let user = match SipUri::parse(&request.uri) {
            Ok(uri) => uri.user.unwrap_or_default(),
            Err(UriError::UnsupportedScheme(_)) => return reject(self, 416, "Unsupported URI Scheme"),
            Err(UriError::Malformed) => return reject(self, 400, "Bad Request-URI"),
        };
        // A trunk may put its own account in the Request-URI and the dialled number only in To.
        let routed = match self.router.route(&user) {
            Some(destination) => Some((user.clone(), destination)),
            None => called_number(&request).and_then(|to| self.router.route(&to).map(|d| (to, d))),
        };
        // Whoever may not reach agents gets one answer whatever it dialled (echo aside, open to all): a 404 for
        // unknown names, or a 503 naming why an agent is still loading, would let a scanner list the agents.
        if !matches!(routed, Some((_, Destination::Echo))) && !self.may_reach_agents(peer) {
            tracing::info!(%user, from = %peer.addr, "INVITE refused: unauthenticated caller outside sip.agent_sources");
            self.metrics.count_result(CallResult::Rejected);
            let mut response = Response::for_request(&request, 403, "Forbidden");
            response.ensure_to_tag(&random_token());
            response.headers.push("Warning", format!("399 voicera \"{STRANGER_REFUSED}\""));
            self.endpoint.respond(&key, response, self.now.into_std());
            return;
        }
        let Some((user, destination)) = routed else {
            tracing::info!(%user, "INVITE for unknown user");
            return reject(self, 404, "Not Found");
        };
        let source = peer.addr.ip();
        let (total, from_source) = self.calls_up(source);
        if let Err(why) = self.config.caps.admit(total, from_source) {
            tracing::warn!(%user, from = %peer.addr, total, from_source, why, "INVITE refused with 503");
            self.metrics.count_result(CallResult::Rejected);
            let mut response = Response::for_request(&request, 503, "Service Unavailable");
            response.ensure_to_tag(&random_token());
            response.headers.push("Retry-After", self.config.caps.retry_after_secs.to_string());
            response.headers.push("Warning", format!("399 voicera \"{why}\""));
            self.endpoint.respond(&key, response, self.now.into_std());
            return;
        }
        if let Destination::Unavailable { reason, retry_after_secs } = &destination {
            tracing::warn!(%user, %reason, "agent unavailable; INVITE refused with 503");
            self.metrics.count_result(CallResult::Rejected);
            let mut response = Response::for_request(&request, 503, "Service Unavailable");
            response.ensure_to_tag(&random_token());
            response.headers.push("Retry-After", retry_after_secs.to_string());
            response.headers.push("Warning", format!("399 voicera \"{}\"", reason.replace('"', "'")));
            self.endpoint.respond(&key, response, self.now.into_std());
            return;
        }
        let session_timer = match requested_session_interval(&request) {
            Ok(timer) => timer,
            Err(()) => {
                self.metrics.count_result(CallResult::Rejected);
                let mut response = Response::for_request(&request, 422, "Session Interval Too Small");
                response.headers.push("Min-SE", MIN_SE.to_string());
                self.endpoint.respond(&key, response, self.now.into_std());
                return;
            }
        };
        let is_sdp = request
            .headers
            .get("Content-Type")
            .is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("application/sdp"));
        if request.body.is_empty() || !is_sdp {
            // Late offer (offer in our 200, answer in ACK) is not supported yet.
            return self.not_acceptable(&key, &request, "INVITE carries no SDP offer (late offer unsupported)");
        }
        let offer = match SessionDescription::parse(&request.body) {
            Ok(offer) => offer,
            Err(err) => return self.not_acceptable(&key, &request, &err.to_string()),
        };
        let plan = match negotiate_with(&offer, &self.config.codecs, self.config.srtp, None) {
            Ok(plan) => plan,
            Err(err) => return self.not_acceptable(&key, &request, &err.to_string()),
        };
        let (lease, rtp, rtcp) = match self.ports.allocate().await {
            Ok(ports) => ports,
            Err(err) => {
                tracing::error!(%err, "cannot allocate RTP ports");
                return reject(self, 503, "Service Unavailable");
            }
        };
        let stream = match RtpStream::new(plan.clone(), self.config.jitter) {
            Ok(stream) => stream,
            Err(err) => {
                tracing::error!(%err, "cannot create codec");
                return reject(self, 500, "Server Internal Error");
            }
        };
        let local_ip = self.local_ip_toward(peer.addr.ip());
        let session_id = rand::random::<u32>() as u64;
        let answer = answer_offer_sdp(&offer, &plan, local_ip, lease.port(), session_id, 1);
        let local_tag = random_token();
        let mut recording = None;
        let caller = request.headers.get("From").and_then(NameAddr::parse).map(|f| f.uri).unwrap_or_default();
        // The user part of the caller's URI is the number (sip:+9198…@carrier).
        let caller_number = caller
            .split(['@', ';'])
            .next()
            .unwrap_or("")
            .trim_start_matches("sip:")
            .trim_start_matches("sips:")
            .trim_start_matches("tel:")
            .to_string();
        // Who is on the call, for the live view, whatever runs on it and whether or not it is recorded.
        let parties = CallParties { caller: caller_number.clone(), called: user.clone(), outbound: false };
        let clock = self.call_clock();
        let service = match destination {
            Destination::Echo => CallService::Echo,
            // Answered with 503 above; unreachable here, but refusing again is the safe outcome.
            Destination::Unavailable { .. } => return reject(self, 503, "Service Unavailable"),
            Destination::Agent(agent) => {
                tracing::info!(agent = %agent.id, "routing to agent");
                let context = CallContext {
                    call_id: request.call_id().to_string(),
                    caller_number,
                    called_number: user.clone(),
                    extra: Vec::new(),
                    started_at_ms: clock.anchor_unix_ms(),
                };
                // Every agent call has a log; its agent decides whether a transcript and recording come with it.
                recording = self.config.recordings.clone().map(|sink| RecordingPlan {
                    sink,
                    caller,
                    called: user.clone(),
                    outbound: false,
                });
                CallService::Agent(Box::new(Conversation::for_call(agent, &context)))
            }
        };
        let mut setup = self.call_setup((service, stream), (lease, rtp, rtcp), recording, false, clock);
        setup.parties = parties;
        let srtp = plan.srtp.as_ref().map_or("none", |k| k.suite().name());
        tracing::info!(%user, call_id = request.call_id(), from = %peer.addr, codec = ?plan.codec, srtp, "INVITE accepted");
        let pending = PendingAnswer { request, peer, local_tag, setup, local_ip, answer, session_timer };
        if self.config.answer_delay.is_zero() {
            self.answer(key, pending);
        } else {
            let mut ringing = Response::for_request(&pending.request, 180, "Ringing");
            ringing.ensure_to_tag(&pending.local_tag);
            ringing.headers.push("Contact", self.contact(&pending.request, pending.local_ip, &peer));
            self.endpoint.respond(&key, ringing, self.now.into_std());
            self.answer_timers.start(key.clone(), self.config.answer_delay, self.now);
            self.pending_answers.insert(key, pending);
        }
    }

    /// Whether a caller at `peer` may reach an agent: with digest authentication on it has passed it by now;
    /// without, it must be in `[sip] agent_sources` (loopback and private networks by default) or a trunk's
    /// registrar trusted by address under the same rule as [`Self::authenticate`]: over TCP/TLS, or over UDP
    /// only with `trust_registrars_over_udp` (a UDP source address can be forged, so a trunk's address alone
    /// would let a spoofer in).
    fn may_reach_agents(&self, peer: Peer) -> bool {
        self.digest.is_some() || self.trusted_by_address(peer) || self.config.agent_sources.admits(peer.addr.ip())
    }

    /// Whether `peer` is a trunk's registrar that is trusted by its address on the transport it came over.
    fn trusted_by_address(&self, peer: Peer) -> bool {
        let by_address = peer.transport != TransportKind::Udp || self.config.trust_registrars_over_udp;
        // Trunk addresses are kept canonical (routes.rs); an IPv4 peer on a dual-stack socket arrives mapped.
        by_address && self.trusted_sources.contains(&peer.addr.ip().to_canonical())
    }

    /// Calls up now (ringing and answered, both directions) in total and from `source` (compared canonically:
    /// `::ffff:a.b.c.d` on a dual-stack socket is the IPv4 caller a.b.c.d).
    fn calls_up(&self, source: IpAddr) -> (usize, usize) {
        let source = source.to_canonical();
        let answered = self.calls.values().map(|c| c.dialog.peer.addr.ip());
        let ringing = self.pending_answers.values().map(|p| p.peer.addr.ip());
        let total = self.calls.len() + self.pending_answers.len() + self.outbound.len();
        (total, answered.chain(ringing).filter(|ip| ip.to_canonical() == source).count())
    }

    /// Digest authentication of an INVITE (RFC 3261 §22.2) when `[sip] auth = "digest"`: nonces we issued,
    /// their counts (a replayed Authorization is refused), the Request-URI and realm checked, and a back-off
    /// for sources that keep failing. A trunk's registrar is trusted by address over TCP/TLS (or over UDP when
    /// configured: a UDP source can be forged). Returns true when the request may proceed; otherwise it has
    /// been answered (401 with a fresh challenge, or 403 while the source is blocked).
    fn authenticate(&mut self, key: &ServerKey, request: &Request, peer: Peer) -> bool {
        if self.digest.is_none() || self.trusted_by_address(peer) {
            return true;
        }
        let Some(digest) = self.digest.as_mut() else { return true };
        let now = self.now.into_std();
        let rejection = match digest.verify(request, peer.addr.ip(), now) {
            Ok(user) => {
                tracing::debug!(%user, from = %peer.addr, "INVITE authenticated");
                return true;
            }
            Err(rejection) => rejection,
        };
        if request.headers.get("Authorization").is_some() {
            tracing::warn!(from = %peer.addr, %rejection, "INVITE digest refused");
        }
        let mut response = digest.rejection_response(request, &rejection, peer.addr.ip(), now);
        response.ensure_to_tag(&random_token());
        self.metrics.count_result(CallResult::Rejected);
        self.endpoint.respond(key, response, now);
        false
    }

    fn not_acceptable(&mut self, key: &ServerKey, request: &Request, why: &str) {
        tracing::info!(call_id = request.call_id(), %why, "488 Not Acceptable Here");
        self.metrics.count_result(CallResult::Rejected);
        let mut response = Response::for_request(request, 488, "Not Acceptable Here");
        response.ensure_to_tag(&random_token());
        let host = self.local_addr.ip();
        response.headers.push("Warning", format!("305 {host} \"{}\"", why.replace('"', "'")));
        self.endpoint.respond(key, response, self.now.into_std());
    }

    /// Sends 200 OK with our SDP, creates the dialog and starts the call's media.
    pub(super) fn answer(&mut self, key: ServerKey, pending: PendingAnswer) {
        let PendingAnswer { request, peer, local_tag, setup, local_ip, answer, session_timer } = pending;
        if !self.endpoint.is_pending(&key) {
            return; // cancelled or timed out meanwhile; the port lease drops with `setup`
        }
        let contact = self.contact(&request, local_ip, &peer);
        let Some(dialog) = Dialog::uas(&request, &local_tag, contact.clone(), peer) else {
            return self.reject(&key, &request, 400, "Bad Request (no usable Contact or From tag)");
        };
        let mut response = Response::for_request(&request, 200, "OK");
        response.ensure_to_tag(&local_tag);
        response.headers.push("Contact", contact);
        response.headers.push("Allow", ALLOW);
        response.headers.push("Supported", SUPPORTED);
        if let Some(interval) = session_timer {
            response.headers.push("Session-Expires", format!("{};refresher=uac", interval.as_secs()));
            response.headers.push("Require", "timer");
        }
        response.headers.push("Content-Type", "application/sdp");
        response.body = answer.to_bytes();
        let session_id = answer.session_id;
        self.endpoint.respond(&key, response, self.now.into_std());
        let session = session_timer.map(|interval| SessionTimer::start(interval, self.now));
        self.start_call(setup, dialog, local_ip, session_id, session);
    }

    async fn handle_in_dialog(&mut self, key: ServerKey, request: Request, _peer: Peer) {
        let now = self.now.into_std();
        let Some(call_key) = dialog_id_of_request(&request).map(|id| CallKey::from(&id)) else {
            return self.reject(&key, &request, 481, "Call/Transaction Does Not Exist");
        };
        let Some(call) = self.calls.get_mut(&call_key) else {
            return self.reject(&key, &request, 481, "Call/Transaction Does Not Exist");
        };
        if !call.dialog.accept_remote_seq(&request) {
            let response = Response::for_request(&request, 500, "Server Internal Error (CSeq out of order)");
            self.endpoint.respond(&key, response, now);
            return;
        }
        match request.method {
            Method::Bye => {
                self.endpoint.respond(&key, Response::for_request(&request, 200, "OK"), now);
                if let Some(call) = self.calls.remove(&call_key) {
                    let _ = call.commands.try_send(CallCommand::Stop);
                    self.metrics.call_ended(CallResult::Completed);
                    tracing::info!(call = %call_key, "caller hung up");
                }
            }
            Method::Invite | Method::Update => self.handle_refresh(key, request, call_key),
            Method::Info => {
                let digit = dtmf_relay_digit(&request);
                let ok = Response::for_request(&request, 200, "OK");
                self.endpoint.respond(&key, ok, now);
                if let (Some(digit), Some(call)) = (digit, self.calls.get(&call_key)) {
                    self.metrics.dtmf_received();
                    let _ = call.commands.try_send(CallCommand::DtmfReceived(digit));
                }
            }
            Method::Options => {
                let mut response = Response::for_request(&request, 200, "OK");
                response.headers.push("Allow", ALLOW);
                self.endpoint.respond(&key, response, now);
            }
            Method::Notify => self.handle_notify(key, request, call_key),
            Method::Refer => self.handle_refer(key, request, call_key).await,
            Method::Other(_) => self.reject_with_allow(&key, &request, 501, "Not Implemented"),
            _ => self.reject_with_allow(&key, &request, 405, "Method Not Allowed"),
        }
    }

    /// re-INVITE or UPDATE: hold/unhold, codec or address change, session refresh.
    fn handle_refresh(&mut self, key: ServerKey, request: Request, call_key: CallKey) {
        let now = self.now.into_std();
        let codecs = self.config.codecs.clone();
        let srtp = self.config.srtp;
        let Some(call) = self.calls.get_mut(&call_key) else { return };
        call.dialog.refresh_target(&request);
        if let Some(timer) = call.session_expires.as_mut() {
            timer.refresh(requested_session_interval(&request).ok().flatten(), self.now);
        }
        let mut re_offer = None;
        if !request.body.is_empty() {
            // An SRTP call stays SRTP: a re-offer in the clear is refused, whatever `[sip] srtp` says.
            let srtp = if call.plan.srtp.is_some() { SrtpPolicy::Required } else { srtp };
            let plan = SessionDescription::parse(&request.body).map_err(|e| e.to_string()).and_then(|offer| {
                let plan = negotiate_with(&offer, &codecs, srtp, call.plan.srtp.as_ref()).map_err(|e| e.to_string());
                re_offer = Some(offer);
                plan
            });
            match plan {
                Ok(plan) => {
                    if plan != call.plan {
                        call.session_version += 1;
                        call.plan = plan.clone();
                        let _ = call.commands.try_send(CallCommand::UpdatePlan(Box::new(plan)));
                    }
                }
                Err(why) => {
                    let mut response = Response::for_request(&request, 488, "Not Acceptable Here");
                    response.headers.push("Warning", format!("305 {} \"{why}\"", call.local_ip));
                    self.endpoint.respond(&key, response, now);
                    return;
                }
            }
        }
        let mut response = Response::for_request(&request, 200, "OK");
        response.headers.push("Contact", call.dialog.local_contact.clone());
        if let Some(timer) = call.session_expires {
            response.headers.push("Session-Expires", format!("{};refresher=uac", timer.interval().as_secs()));
            response.headers.push("Require", "timer");
        }
        response.headers.push("Content-Type", "application/sdp");
        // An answer to the re-offer keeps its m= lines; without one, our SDP is an offer of the call's stream.
        let sdp = match &re_offer {
            Some(offer) => {
                answer_offer_sdp(offer, &call.plan, call.local_ip, call.rtp_port, call.session_id, call.session_version)
            }
            None => answer_sdp(&call.plan, call.local_ip, call.rtp_port, call.session_id, call.session_version),
        };
        response.body = sdp.to_bytes();
        self.endpoint.respond(&key, response, now);
    }
}

/// The first `Require` option tag we do not support.
fn unsupported_requirements(request: &Request) -> Option<String> {
    let unsupported: Vec<&str> = request
        .headers
        .get_all("Require")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty() && !SUPPORTED.split(", ").any(|s| s.eq_ignore_ascii_case(tag)))
        .collect();
    (!unsupported.is_empty()).then(|| unsupported.join(", "))
}

/// RFC 4028: the session interval the caller asks for. `Err` when below our Min-SE (answer 422).
fn requested_session_interval(request: &Request) -> Result<Option<Duration>, ()> {
    let Some(value) = request.headers.get("Session-Expires") else { return Ok(None) };
    let secs: u32 = value.split(';').next().and_then(|v| v.trim().parse().ok()).ok_or(())?;
    if secs < MIN_SE {
        return Err(());
    }
    Ok(Some(Duration::from_secs(secs.into())))
}

/// `Signal=5` from an `application/dtmf-relay` INFO body.
fn dtmf_relay_digit(request: &Request) -> Option<char> {
    let content_type = request.headers.get("Content-Type")?.to_ascii_lowercase();
    if !content_type.contains("dtmf-relay") && !content_type.contains("application/dtmf") {
        return None;
    }
    let body = std::str::from_utf8(&request.body).ok()?;
    let signal = body
        .lines()
        .find_map(|l| l.trim().strip_prefix("Signal=").or_else(|| l.trim().strip_prefix("signal=")))
        .map(str::trim)
        .unwrap_or(body.trim());
    signal.chars().next().filter(|c| voicera_media::rtp::digit_to_event(*c).is_some())
}

/// The user part of an INVITE's To URI: the number the caller dialled, as a trunk reports it.
fn called_number(request: &Request) -> Option<String> {
    let to = NameAddr::parse(request.headers.get("To")?)?;
    SipUri::parse(&to.uri).ok()?.user.filter(|user| !user.is_empty())
}
