//! Where requests go (RFC 3263), without the signalling task ever waiting on DNS.
//!
//! A target that is an IP address is routed at once. Any other is resolved by a spawned
//! [`voicera_sip::resolve::SharedResolver`] future (bounded by its timeout); the request that needs it waits here,
//! in [`Service::pending_routes`], while the loop keeps serving every other call, and the answer comes back as a
//! [`RouteAnswer`] message. What waits ([`RouteFor`]) decides what the answer is used for.
//!
//! Failover (RFC 3263 §4.3): the destinations come best first; a request that meets a transport error (the
//! transport's [`StreamFailure`] report), a 503 or a transaction timeout moves on to the next (see
//! `outbound.rs` and `registrations.rs`).

use std::sync::Arc;

use voicera_sip::resolve::{plan, Destination, Plan, ResolveError, Target};
use voicera_sip::tls::ClientConfig;
use voicera_sip::transport::StreamFailure;
use voicera_sip::Peer;

use super::outbound::{Dialing, Leg, PlaceCallError};
use super::Service;

/// What waits for a resolution.
pub(super) enum RouteFor {
    /// An outgoing INVITE (a call we place through a trunk).
    Dial(Box<(Leg, Dialing)>),
    /// The INVITE that carries out a REFER we received: credentials and TLS trust are chosen once the target's
    /// address is known (a target behind one of our trunks).
    Refer(Box<(Leg, Dialing)>),
    /// The REGISTER of `registrations[index]`.
    Register(usize),
    /// A trunk's addresses: INVITEs from them are trusted, and REFER targets matched against them.
    Trunk(String),
}

/// A resolution's outcome, sent back to the signalling loop.
pub(super) struct RouteAnswer {
    id: u64,
    result: Result<Vec<Destination>, ResolveError>,
}

impl PlaceCallError {
    /// What the caller of an outbound call is told when its target did not resolve.
    fn from_resolve(err: ResolveError) -> PlaceCallError {
        match err {
            ResolveError::TimedOut { host } => PlaceCallError::DnsTimedOut { host },
            ResolveError::NotFound { host } => PlaceCallError::Unresolvable(host),
            ResolveError::Lookup { name, reason } => PlaceCallError::DnsFailed { name, reason },
            other => PlaceCallError::DnsFailed { name: String::new(), reason: other.to_string() },
        }
    }
}

impl Service {
    /// Finds the destinations of `target` for `purpose`: at once for an IP address, else by a spawned
    /// resolution whose answer arrives in [`Service::handle_route_answer`].
    pub(super) async fn resolve_for(&mut self, target: Target, purpose: RouteFor) {
        if let Plan::Literal(destination) = plan(&target) {
            return self.routed(purpose, Ok(vec![destination])).await;
        }
        let id = self.next_route;
        self.next_route += 1;
        self.pending_routes.insert(id, purpose);
        let resolution = self.resolver.resolve(target);
        let answers = self.route_answers.clone();
        tokio::spawn(async move {
            let result = resolution.await;
            // The service may have stopped meanwhile; then nobody waits for the answer.
            let _ = answers.send(RouteAnswer { id, result }).await;
        });
    }

    /// A spawned resolution finished.
    pub(super) async fn handle_route_answer(&mut self, answer: RouteAnswer) {
        if let Some(purpose) = self.pending_routes.remove(&answer.id) {
            self.routed(purpose, answer.result).await;
        }
    }

    async fn routed(&mut self, purpose: RouteFor, result: Result<Vec<Destination>, ResolveError>) {
        match purpose {
            RouteFor::Dial(waiting) => {
                let (mut leg, dialing) = *waiting;
                match result {
                    Ok(destinations) => {
                        leg.destinations = destinations;
                        self.dial(leg, dialing).await;
                    }
                    Err(err) => {
                        tracing::warn!(%err, uri = %leg.uri, "outbound call: target does not resolve");
                        self.settle(dialing.requester, Err(PlaceCallError::from_resolve(err)));
                    }
                }
            }
            RouteFor::Refer(waiting) => {
                let (mut leg, dialing) = *waiting;
                match result {
                    Ok(destinations) => {
                        self.lend_trunk_identity(&mut leg, &destinations);
                        leg.destinations = destinations;
                        self.dial(leg, dialing).await;
                    }
                    Err(err) => {
                        tracing::warn!(%err, uri = %leg.uri, "REFER target does not resolve");
                        self.settle(dialing.requester, Err(PlaceCallError::from_resolve(err)));
                    }
                }
            }
            RouteFor::Register(index) => self.registrar_resolved(index, result),
            RouteFor::Trunk(name) => match result {
                Ok(destinations) => self.learn_trunk_addresses(name, &destinations),
                Err(err) => tracing::warn!(trunk = %name, %err, "cannot resolve trunk registrar"),
            },
        }
    }

    /// A trunk's addresses are known: INVITEs from them skip digest authentication and rate limits (a trunk
    /// sends every call from one address: its calls are limited by the call caps, not by rate).
    fn learn_trunk_addresses(&mut self, trunk: String, destinations: &[Destination]) {
        for destination in destinations {
            // Canonical, as the sources they are compared with are.
            let ip = destination.addr.ip().to_canonical();
            if !self.trusted_sources.contains(&ip) {
                self.trusted_sources.push(ip);
                if let Some(limiter) = self.endpoint.rate_limiter_mut() {
                    limiter.exempt(ip);
                }
            }
        }
        tracing::debug!(%trunk, addresses = destinations.len(), "trunk registrar resolved");
        self.trunk_addresses.insert(trunk, destinations.iter().map(|d| d.addr).collect());
    }

    /// A REFER target behind one of our trunks is verified with that trunk's TLS trust, and gets its
    /// credentials if it challenges only when the trunk allows it (`refer_credentials`): else a trusted peer's
    /// REFER could spend them anywhere.
    fn lend_trunk_identity(&self, leg: &mut Leg, destinations: &[Destination]) {
        let Some(first) = destinations.first() else { return };
        let behind = |name: &str| self.trunk_addresses.get(name).is_some_and(|addrs| addrs.contains(&first.addr));
        for trunk in self.config.trunks.iter().filter(|t| behind(&t.name)) {
            if leg.tls.is_none() {
                leg.tls = self.trunk_tls.get(&trunk.name).cloned();
            }
            if trunk.refer_credentials {
                leg.digest = voicera_sip::auth::DigestClient::new(
                    trunk.username.clone(),
                    trunk.password.clone(),
                    trunk.realm.clone(),
                );
                break;
            }
        }
    }

    /// The peer to hand the endpoint for `destination`; TLS destinations are verified against `tls` (a trunk's
    /// own trust) or the node's default roots.
    pub(super) fn peer_for(
        &self,
        destination: &Destination,
        tls: Option<Arc<ClientConfig>>,
    ) -> Result<Peer, voicera_sip::tls::TlsError> {
        self.transport.route_with(destination.protocol, destination.addr, &destination.server_name, tls)
    }

    /// An outgoing connection could not be opened: requests that were waiting on it move on to their next
    /// destination, or fail with the reason.
    pub(super) fn handle_stream_failure(&mut self, failure: StreamFailure) {
        tracing::info!(peer = %failure.addr, reason = %failure.reason, "SIP connection to a destination failed");
        self.outbound_unreachable(failure.addr, &failure.reason);
        self.registrar_unreachable(failure.addr);
    }
}
