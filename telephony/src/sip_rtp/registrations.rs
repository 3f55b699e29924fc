//! Trunk registrations: one [`Registration`] machine per `[[trunks]]` entry with `register = true`, driven
//! by the service loop; status goes to the log and `/metrics`.
//!
//! The registrar is resolved off the signalling task ([`super::routes`]); its destinations are used best first,
//! and one that times out or cannot be connected to is dropped, so the next attempt goes to the next (RFC 3263
//! §4.3). With none left the registrar is resolved again.

use std::net::SocketAddr;
use std::sync::Arc;

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

impl Service {
    pub(super) fn report_registration(&mut self, index: usize) {
        let reg = &self.registrations[index];
        let registered = matches!(reg.machine.status(), RegistrationStatus::Registered { .. });
        self.metrics.set_registration(&reg.trunk, registered);
        match reg.machine.status() {
            RegistrationStatus::Registered { expires_at } => {
                let secs = expires_at.saturating_duration_since(std::time::Instant::now()).as_secs();
                tracing::info!(trunk = %reg.trunk, expires_in_s = secs, "trunk registered");
            }
            RegistrationStatus::Failed { reason, retry_at } => {
                let secs = retry_at.saturating_duration_since(std::time::Instant::now()).as_secs();
                tracing::warn!(trunk = %reg.trunk, %reason, retry_in_s = secs, "trunk registration failed");
            }
            _ => {}
        }
    }

    /// Sends the REGISTERs that are due, to each registrar's current destination; a registrar without one is
    /// resolved first (in the background: the REGISTER goes out when the answer arrives).
    pub(super) async fn poll_registrations(&mut self) {
        let now = std::time::Instant::now();
        for index in 0..self.registrations.len() {
            let reg = &self.registrations[index];
            let due = reg.pending.is_none() && !reg.resolving && reg.machine.next_attempt().is_some_and(|at| at <= now);
            if !due {
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
        let Some(reg) = self.registrations.get_mut(index) else { return };
        reg.resolving = false;
        match result {
            Ok(destinations) => reg.destinations = destinations,
            Err(err) => {
                tracing::warn!(trunk = %reg.trunk, %err, "cannot resolve registrar");
                reg.machine.handle_timeout(std::time::Instant::now());
                self.report_registration(index);
            }
        }
    }

    /// No final response to a REGISTER (or no connection for it): its destination is dropped, so the retry goes
    /// to the next one.
    pub(super) fn registrar_timed_out(&mut self, index: usize) {
        let Some(reg) = self.registrations.get_mut(index) else { return };
        reg.pending = None;
        if !reg.destinations.is_empty() {
            reg.destinations.remove(0);
        }
        reg.machine.handle_timeout(std::time::Instant::now());
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
