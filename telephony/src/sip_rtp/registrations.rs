//! Trunk registrations: one [`Registration`] machine per `[[trunks]]` entry with `register = true`, driven
//! by the service loop; status goes to the log and `/metrics`.
//!
//! The registrar is resolved off the signalling task ([`super::routes`]); its destinations are used best first,
//! and one that times out or cannot be connected to is dropped, so the next attempt goes to the next (RFC 3263
//! §4.3). With none left the registrar is resolved again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use voicera_sip::registration::{Registration, RegistrationStatus};
use voicera_sip::resolve::{Destination, ResolveError, Target};
use voicera_sip::tls::ClientConfig;
use voicera_sip::ClientKey;

use super::routes::RouteFor;
use super::Service;

pub(super) struct TrunkRegistration {
    pub(super) trunk: String,
    /// The registrar, as the trunk's configuration names it.
    pub(super) target: Target,
    /// The trunk's own TLS trust (`tls_ca`), if any.
    pub(super) tls: Option<Arc<ClientConfig>>,
    pub(super) machine: Registration,
    pub(super) pending: Option<ClientKey>,
    /// The registrar's destinations still to use, best first; empty: resolve again.
    pub(super) destinations: Vec<Destination>,
    /// A resolution of the registrar is under way.
    pub(super) resolving: bool,
}

/// The registration's own decisions, told the time: when a REGISTER is due and where it goes, and how a failed
/// attempt moves on to the next destination. The [`Registration`] machine inside decides refresh (at 80 % of the
/// granted expiry) and back-off (doubling from 5 s after each failure).
impl TrunkRegistration {
    /// Whether a REGISTER is due at `now` (none outstanding, no resolution under way).
    pub(super) fn is_due(&self, now: Instant) -> bool {
        self.pending.is_none() && !self.resolving && self.machine.next_attempt().is_some_and(|at| at <= now)
    }

    /// No final response to the REGISTER at `now` (or no connection for it): its destination is dropped, so the
    /// retry, after the machine's back-off, goes to the next one (or resolves again with none left).
    pub(super) fn attempt_failed(&mut self, now: Instant) {
        self.pending = None;
        if !self.destinations.is_empty() {
            self.destinations.remove(0);
        }
        self.machine.handle_timeout(now);
    }

    /// The registrar's resolution finished at `now`: the next attempt uses its destinations; a failure counts as
    /// a failed attempt (the machine retries after its back-off, resolving again).
    pub(super) fn resolved(
        &mut self,
        result: Result<Vec<Destination>, ResolveError>,
        now: Instant,
    ) -> Result<(), ResolveError> {
        self.resolving = false;
        match result {
            Ok(destinations) => {
                self.destinations = destinations;
                Ok(())
            }
            Err(err) => {
                self.machine.handle_timeout(now);
                Err(err)
            }
        }
    }
}

impl Service {
    pub(super) fn report_registration(&mut self, index: usize) {
        let now = self.now.into_std();
        let reg = &self.registrations[index];
        let registered = matches!(reg.machine.status(), RegistrationStatus::Registered { .. });
        self.metrics.set_registration(&reg.trunk, registered);
        match reg.machine.status() {
            RegistrationStatus::Registered { expires_at } => {
                let secs = expires_at.saturating_duration_since(now).as_secs();
                tracing::info!(trunk = %reg.trunk, expires_in_s = secs, "trunk registered");
            }
            RegistrationStatus::Failed { reason, retry_at } => {
                let secs = retry_at.saturating_duration_since(now).as_secs();
                tracing::warn!(trunk = %reg.trunk, %reason, retry_in_s = secs, "trunk registration failed");
            }
            _ => {}
        }
    }

    /// Sends the REGISTERs that are due, to each registrar's current destination; a registrar without one is
    /// resolved first (in the background: the REGISTER goes out when the answer arrives).
    pub(super) async fn poll_registrations(&mut self) {
        let now = self.now.into_std();
        for index in 0..self.registrations.len() {
            let reg = &self.registrations[index];
            if !reg.is_due(now) {
                continue;
            }
            let Some(destination) = reg.destinations.first().cloned() else {
                let target = reg.target.clone();
                self.registrations[index].resolving = true;
                self.resolve_for(target, RouteFor::Register(index)).await;
                continue;
            };
            let peer = match self.peer_for(&destination, reg.tls.clone()) {
                Ok(peer) => peer,
                Err(err) => {
                    tracing::warn!(trunk = %reg.trunk, %err, "registrar cannot be reached over TLS");
                    self.registrar_timed_out(index);
                    continue;
                }
            };
            let local_ip = self.local_ip_toward(destination.addr.ip());
            let via = self.via_to(&peer, local_ip);
            let protocol = self.transport.protocol(&peer);
            let contact = self.contact_uri(&reg.machine.config().username, local_ip, protocol);
            let reg = &mut self.registrations[index];
            reg.machine.set_contact(contact);
            if let Some(request) = reg.machine.poll_request(now, &via) {
                match self.endpoint.send_request(request, peer, now) {
                    Ok(key) => reg.pending = Some(key),
                    Err(err) => tracing::error!(%err, "cannot send REGISTER"),
                }
            }
        }
    }

    /// The registrar's resolution finished: the next due attempt uses its destinations; a failure counts as a
    /// failed attempt (the machine retries later, resolving again).
    pub(super) fn registrar_resolved(&mut self, index: usize, result: Result<Vec<Destination>, ResolveError>) {
        let now = self.now.into_std();
        let Some(reg) = self.registrations.get_mut(index) else { return };
        if let Err(err) = reg.resolved(result, now) {
            tracing::warn!(trunk = %reg.trunk, %err, "cannot resolve registrar");
            self.report_registration(index);
        }
    }

    /// No final response to a REGISTER (or no connection for it): its destination is dropped, so the retry goes
    /// to the next one.
    pub(super) fn registrar_timed_out(&mut self, index: usize) {
        let now = self.now.into_std();
        let Some(reg) = self.registrations.get_mut(index) else { return };
        reg.attempt_failed(now);
        self.report_registration(index);
    }

    /// A connection to `addr` could not be opened: registrations waiting on it fail over.
    pub(super) fn registrar_unreachable(&mut self, addr: SocketAddr) {
        for index in 0..self.registrations.len() {
            let reg = &self.registrations[index];
            if reg.pending.is_some() && reg.destinations.first().is_some_and(|d| d.addr == addr) {
                self.registrar_timed_out(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use voicera_sip::header::Via;
    use voicera_sip::registration::{RegistrationConfig, MAX_BACKOFF, MIN_BACKOFF};
    use voicera_sip::transport::SipProtocol;

    use super::*;

    fn destination(addr: &str) -> Destination {
        Destination { protocol: SipProtocol::Udp, addr: addr.parse().unwrap(), server_name: "pbx.example.net".into() }
    }

    fn trunk(now: Instant) -> TrunkRegistration {
        let config = RegistrationConfig {
            registrar: "pbx.example.net".into(),
            username: "1001".into(),
            password: "secret".into(),
            realm: None,
            expires: 600,
            contact: "sip:1001@192.0.2.1:5060".into(),
        };
        TrunkRegistration {
            trunk: "pbx".into(),
            target: Target::from_host_port("pbx.example.net", None).unwrap(),
            tls: None,
            machine: Registration::new(config, now),
            pending: None,
            destinations: Vec::new(),
            resolving: false,
        }
    }

    fn via() -> Via {
        Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-reg").unwrap()
    }

    /// Sends the due REGISTER at `now` as the service does: through a transaction layer, to the first
    /// destination, remembering its transaction.
    fn send(reg: &mut TrunkRegistration, now: Instant) -> voicera_sip::Request {
        assert!(reg.is_due(now), "a REGISTER is due");
        let request = reg.machine.poll_request(now, &via()).unwrap();
        let peer = voicera_sip::Peer::udp(reg.destinations[0].addr);
        let mut endpoint = voicera_sip::Endpoint::new(voicera_sip::transaction::TimerConfig::default(), "test");
        reg.pending = Some(endpoint.send_request(request.clone(), peer, now).unwrap());
        request
    }

    fn ok(request: &voicera_sip::Request, expires: u32) -> voicera_sip::Response {
        let mut response = voicera_sip::Response::for_request(request, 200, "OK");
        response.headers.push("Contact", format!("<sip:1001@192.0.2.1:5060>;expires={expires}"));
        response
    }

    #[test]
    fn a_registration_is_refreshed_at_80_percent_of_the_granted_expiry() {
        let t0 = Instant::now();
        let mut reg = trunk(t0);
        reg.destinations = vec![destination("192.0.2.30:5060")];
        let first = send(&mut reg, t0);
        assert!(!reg.is_due(t0), "one REGISTER at a time");
        reg.pending = None;
        reg.machine.handle_response(&ok(&first, 600), t0 + Duration::from_millis(40));
        assert!(matches!(reg.machine.status(), RegistrationStatus::Registered { .. }));
        let refresh_at = t0 + Duration::from_millis(40) + Duration::from_secs(480);
        assert!(!reg.is_due(refresh_at - Duration::from_millis(1)));
        assert!(reg.is_due(refresh_at), "refreshed at expires - 20 %");
        let refresh = send(&mut reg, refresh_at);
        assert_eq!(refresh.cseq().unwrap().seq, 2);
        // A registrar granting less than asked is refreshed sooner.
        reg.pending = None;
        reg.machine.handle_response(&ok(&refresh, 100), refresh_at);
        assert!(reg.is_due(refresh_at + Duration::from_secs(80)));
        assert!(!reg.is_due(refresh_at + Duration::from_secs(79)));
    }

    #[test]
    fn failed_attempts_back_off_and_move_on_to_the_next_destination() {
        let t0 = Instant::now();
        let mut reg = trunk(t0);
        reg.destinations = vec![destination("192.0.2.30:5060"), destination("192.0.2.31:5060")];
        send(&mut reg, t0);
        // The first registrar never answers: the retry waits the shortest back-off and goes to the second.
        reg.attempt_failed(t0 + Duration::from_secs(32));
        let t1 = t0 + Duration::from_secs(32);
        assert_eq!(reg.destinations, vec![destination("192.0.2.31:5060")]);
        assert!(!reg.is_due(t1 + MIN_BACKOFF - Duration::from_millis(1)));
        assert!(reg.is_due(t1 + MIN_BACKOFF));
        send(&mut reg, t1 + MIN_BACKOFF);
        // The second fails too: none left, so the next attempt resolves again, after twice the back-off.
        let t2 = t1 + MIN_BACKOFF + Duration::from_secs(32);
        reg.attempt_failed(t2);
        assert!(reg.destinations.is_empty());
        assert!(!reg.is_due(t2 + MIN_BACKOFF * 2 - Duration::from_millis(1)));
        assert!(reg.is_due(t2 + MIN_BACKOFF * 2));
        // The resolution is under way: nothing else is sent meanwhile; a failed resolution backs off further.
        reg.resolving = true;
        assert!(!reg.is_due(t2 + MIN_BACKOFF * 2));
        let t3 = t2 + MIN_BACKOFF * 2;
        let failed = reg.resolved(Err(ResolveError::NotFound { host: "pbx.example.net".into() }), t3);
        assert!(failed.is_err());
        assert!(!reg.is_due(t3 + MIN_BACKOFF * 4 - Duration::from_millis(1)));
        assert!(reg.is_due(t3 + MIN_BACKOFF * 4));
        // Back-off is capped, so a lost registrar is still tried every few minutes.
        let mut t = t3;
        for _ in 0..12 {
            t += MAX_BACKOFF;
            reg.attempt_failed(t);
        }
        assert!(reg.is_due(t + MAX_BACKOFF));
        assert!(!reg.is_due(t + MAX_BACKOFF - Duration::from_millis(1)));
        // A good answer restores the destinations and the next REGISTER goes to the first.
        reg.resolved(Ok(vec![destination("192.0.2.30:5060")]), t).unwrap();
        assert_eq!(reg.destinations.first().map(|d| d.addr.port()), Some(5060));
    }
}
