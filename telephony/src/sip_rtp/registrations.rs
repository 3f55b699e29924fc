//! Trunk registrations: one [`Registration`] machine per `[[trunks]]` entry with `register = true`, driven
//! by the service loop; status goes to the log and `/metrics`.

use std::net::SocketAddr;

use voicera_sip::registration::{Registration, RegistrationStatus};
use voicera_sip::{ClientKey, Peer, TransportKind};

use super::{resolve, Service};

pub(super) struct TrunkRegistration {
    pub(super) trunk: String,
    pub(super) transport: TransportKind,
    pub(super) machine: Registration,
    pub(super) pending: Option<ClientKey>,
    pub(super) target: Option<SocketAddr>,
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

    pub(super) async fn poll_registrations(&mut self) {
        let now = std::time::Instant::now();
        for index in 0..self.registrations.len() {
            let due = self.registrations[index].pending.is_none()
                && self.registrations[index].machine.next_attempt().is_some_and(|at| at <= now);
            if !due {
                continue;
            }
            let target = match self.registrations[index].target {
                Some(t) => t,
                None => {
                    let registrar = self.registrations[index].machine.config().registrar.clone();
                    match resolve(&registrar).await {
                        Some(addr) => {
                            self.registrations[index].target = Some(addr);
                            addr
                        }
                        None => {
                            self.registrations[index].machine.handle_timeout(now);
                            tracing::warn!(%registrar, "cannot resolve registrar");
                            self.report_registration(index);
                            continue;
                        }
                    }
                }
            };
            let transport = self.registrations[index].transport;
            let local_ip = self.local_ip_toward(target.ip());
            let via = self.via(transport, local_ip);
            let contact = format!(
                "sip:{}@{}:{};transport={}",
                self.registrations[index].machine.config().username,
                voicera_sip::header::format_host(&local_ip.to_string()),
                self.local_addr.port(),
                transport.via_token().to_ascii_lowercase()
            );
            let reg = &mut self.registrations[index];
            reg.machine.set_contact(contact);
            if let Some(request) = reg.machine.poll_request(now, &via) {
                let peer = Peer { transport, addr: target, connection: None };
                match self.endpoint.send_request(request, peer, now) {
                    Ok(key) => reg.pending = Some(key),
                    Err(err) => tracing::error!(%err, "cannot send REGISTER"),
                }
            }
        }
    }
}
