//! The transaction layer of one SIP node, sans-IO: it parses what the transport received, matches it to
//! transactions (absorbing retransmissions), answers what must be answered before any application logic
//! (100 Trying, 200 to CANCEL, 400 for broken requests, 482 for merged requests), routes responses per Via
//! (RFC 3261 §18.2.2 with RFC 3581 `rport`), and tells its user (the TU) what happened.
//!
//! Run loop for the owner: feed input ([`Endpoint::handle_input`], [`Endpoint::respond`],
//! [`Endpoint::send_request`]), then drain [`Endpoint::poll_transmit`] and [`Endpoint::poll_event`], sleep until
//! [`Endpoint::poll_timeout`] and call [`Endpoint::handle_timeout`]. Time is always passed in.
//!
//! Timers live in a min-heap of (deadline, transaction) with lazy deletion: an entry is live only while the
//! transaction still exists and still names that deadline as its scheduled one, so rescheduling and removal
//! never search the heap. A due timer costs O(log n) and [`Endpoint::poll_timeout`] is amortised O(log n), where
//! scanning every transaction on every loop iteration made a flood of unique requests cost O(n²).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use crate::header::{CSeq, NameAddr, Via, BRANCH_COOKIE};
use crate::message::{Message, Method, ParseError, Request, Response};
use crate::rate_limit::{RateLimiter, Verdict};
use crate::transaction::{
    ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite, TimerConfig, TimerOutcome, Transaction,
};

/// The transport a message travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// Datagrams: lost messages are retransmitted by the transaction timers.
    Udp,
    /// A stream connection (TCP or TLS): delivery is reliable, so retransmission timers are off.
    Tcp,
}

impl TransportKind {
    /// Whether the transport delivers reliably (no retransmissions, RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        matches!(self, TransportKind::Tcp)
    }

    /// The transport token in a Via header (`UDP`, `TCP`).
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
        }
    }
}

/// Where a message came from or goes to. TCP peers carry the connection they belong to, because responses must
/// go back on the connection the request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The transport it travels on.
    pub transport: TransportKind,
    /// The peer's address.
    pub addr: SocketAddr,
    /// TCP connection id assigned by the transport driver; `None` for UDP or for "open a connection".
    pub connection: Option<u64>,
}

impl Peer {
    /// A UDP peer at `addr`.
    pub fn udp(addr: SocketAddr) -> Self {
        Peer { transport: TransportKind::Udp, addr, connection: None }
    }
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send them.
    pub peer: Peer,
    /// The serialised message.
    pub bytes: Vec<u8>,
}

/// Identifies a server transaction (RFC 3261 §17.2.3: branch, sent-by and method, with ACK folded into INVITE).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerKey(String);

/// Identifies a client transaction (branch and CSeq method, RFC 3261 §17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey(String);

impl std::fmt::Display for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the endpoint tells its TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointEvent {
    /// A new request (not ACK, not CANCEL) that the TU must answer through [`Endpoint::respond`].
    Request {
        /// The server transaction to answer on.
        key: ServerKey,
        /// The request, parsed and checked (mandatory headers, CSeq method).
        request: Request,
        /// Where it came from.
        peer: Peer,
    },
    /// An ACK for a 2xx (it belongs to the dialog, not to a transaction).
    Ack {
        /// The ACK, for the dialog layer (it may carry the SDP answer to an offerless INVITE).
        request: Request,
        /// Where it came from.
        peer: Peer,
    },
    /// A CANCEL matched a pending INVITE; the endpoint has answered the CANCEL with 200 and the TU should answer
    /// the INVITE with 487.
    Cancelled {
        /// The INVITE's server transaction, to answer with 487.
        invite: ServerKey,
        /// The CANCEL, already answered with 200 (its Reason header, if any, says why the caller gave up).
        request: Request,
    },
    /// A response for a client transaction.
    Response {
        /// The client transaction it answers.
        key: ClientKey,
        /// The response (provisional or final; retransmissions are absorbed).
        response: Response,
    },
    /// A client transaction got no final response in time (timer B or F); treat as 408.
    ClientTimeout {
        /// The client transaction that timed out.
        key: ClientKey,
    },
    /// A 2xx to an INVITE was never acknowledged (RFC 3261 §13.3.1.4): the TU should send BYE.
    AckTimeout {
        /// The INVITE's server transaction.
        key: ServerKey,
        /// The call's Call-ID, to find the dialog.
        call_id: String,
    },
    /// Input was dropped; for logs and metrics.
    Dropped {
        /// Where it came from.
        peer: Peer,
        /// Why it was dropped.
        reason: String,
    },
}

enum ServerTx {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

struct ServerEntry {
    tx: ServerTx,
    peer: Peer,
    /// The deadline of this transaction's live entry in the timer heap.
    scheduled: Option<Instant>,
    /// (Call-ID, CSeq number) of an INVITE, to match the ACK for its 2xx, which has its own branch.
    invite_id: Option<(String, u32)>,
    /// (From tag, Call-ID, CSeq) for merged-request detection (RFC 3261 §8.2.2.2).
    merge_id: Option<String>,
}

impl ServerEntry {
    fn as_transaction(&mut self) -> &mut dyn Transaction {
        match &mut self.tx {
            ServerTx::Invite(t) => t,
            ServerTx::NonInvite(t) => t,
        }
    }
}

enum ClientTx {
    Invite { tx: ClientInvite, request: Request },
    NonInvite(ClientNonInvite),
}

struct ClientEntry {
    tx: ClientTx,
    peer: Peer,
    /// The deadline of this transaction's live entry in the timer heap.
    scheduled: Option<Instant>,
}

impl ClientEntry {
    fn as_transaction(&mut self) -> &mut dyn Transaction {
        match &mut self.tx {
            ClientTx::Invite { tx, .. } => tx,
            ClientTx::NonInvite(t) => t,
        }
    }
}

/// A transaction named in the timer heap.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKey {
    Server(ServerKey),
    Client(ClientKey),
}

/// A timer heap entry, ordered by deadline (then key, so the order is total).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scheduled {
    at: Instant,
    key: TimerKey,
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        #[cfg(test)]
        tests::COMPARISONS.with(|c| c.set(c.get() + 1));
        self.at.cmp(&other.at).then_with(|| self.key.cmp(&other.key))
    }
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Why a request cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The request's top Via has no branch, so no transaction can be keyed on it.
    #[error("request has no usable top Via with a branch")]
    NoBranch,
    /// The request does not parse back (it was built wrong).
    #[error("request is malformed: {0}")]
    Malformed(#[from] ParseError),
    /// A client transaction with this key is already running (a reused branch).
    #[error("client transaction {0} already exists")]
    Duplicate(ClientKey),
}

/// The transaction layer.
pub struct Endpoint {
    timers: TimerConfig,
    server: HashMap<ServerKey, ServerEntry>,
    client: HashMap<ClientKey, ClientEntry>,
    /// (Call-ID, CSeq) → INVITE server transaction, for 2xx ACK matching.
    invites: HashMap<(String, u32), ServerKey>,
    merges: HashMap<String, ServerKey>,
    /// Min-heap of transaction deadlines; entries not matching their transaction's `scheduled` are stale.
    timer_heap: BinaryHeap<Reverse<Scheduled>>,
    /// Transactions examined by timer handling, for tests and metrics of the work done.
    timer_visits: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<EndpointEvent>,
    user_agent: String,
    /// Consulted before a new INVITE/REGISTER/OPTIONS transaction is created; `None`: no limits.
    rate_limiter: Option<RateLimiter>,
}

impl Endpoint {
    /// An endpoint with these timers, naming itself `user_agent` in the messages it writes.
    pub fn new(timers: TimerConfig, user_agent: impl Into<String>) -> Self {
        Self {
            timers,
            server: HashMap::new(),
            client: HashMap::new(),
            invites: HashMap::new(),
            merges: HashMap::new(),
            timer_heap: BinaryHeap::new(),
            timer_visits: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            user_agent: user_agent.into(),
            rate_limiter: None,
        }
    }

    /// Limits new INVITE, REGISTER and OPTIONS per source (see [`crate::rate_limit`]): over the
    /// limit, INVITE and REGISTER get a stateless `503` with `Retry-After` (within a per-source budget of 503s)
    /// and everything else is dropped, before any transaction exists or the TU hears of it.
    pub fn set_rate_limiter(&mut self, limiter: Option<RateLimiter>) {
        self.rate_limiter = limiter;
    }

    /// The rate limiter, e.g. to exempt a trunk's address.
    pub fn rate_limiter_mut(&mut self) -> Option<&mut RateLimiter> {
        self.rate_limiter.as_mut()
    }

    /// Number of live transactions (server, client).
    pub fn transaction_counts(&self) -> (usize, usize) {
        (self.server.len(), self.client.len())
    }

    /// Bytes received from `peer`.
    pub fn handle_input(&mut self, bytes: &[u8], peer: Peer, now: Instant) {
        match Message::parse(bytes) {
            Ok(Message::Request(request)) => self.handle_request(request, peer, now),
            Ok(Message::Response(response)) => self.handle_response(response, peer, now),
            Err(ParseError::Empty) => {} // CRLF keep-alive
            Err(ParseError::BadVersion) => self.answer_bad_version(bytes, peer),
            Err(
                err @ (ParseError::BadContentLength
                | ParseError::DuplicateContentLength
                | ParseError::ConflictingContentLength),
            ) => self.answer_bad_content_length(bytes, peer, err),
            Err(err) => self.drop_input(peer, format!("unparseable message: {err}")),
        }
    }

    /// A request in another SIP version (RFC 4475 3.3.15): 505 when the response can be routed.
    fn answer_bad_version(&mut self, bytes: &[u8], peer: Peer) {
        let line_end = bytes.iter().position(|b| *b == b'\n').unwrap_or(bytes.len());
        let line = String::from_utf8_lossy(&bytes[..line_end]);
        let mut parts = line.trim_end().split(' ');
        if let (Some(method), Some(uri), Some(version)) = (parts.next(), parts.next(), parts.next()) {
            // Read the rest as SIP/2.0 only to address the answer.
            let mut as_sip2 = format!("{method} {uri} SIP/2.0").into_bytes();
            as_sip2.extend_from_slice(&bytes[line_end.min(bytes.len())..]);
            if let Ok(Message::Request(request)) = Message::parse(&as_sip2) {
                if request.method != Method::Ack {
                    // Its Via speaks the other version too: answer where the request came from.
                    let response =
                        self.with_server_headers(Response::for_request(&request, 505, "Version Not Supported"));
                    self.transmits.push_back(Transmit { peer, bytes: response.into_message().to_bytes() });
                }
            }
            let version: String = version.chars().take(16).collect();
            return self.drop_input(peer, format!("request in unsupported version {version:?}"));
        }
        self.drop_input(peer, "unparseable message: unsupported SIP version".into())
    }

    /// A request whose Content-Length is negative, malformed, repeated or conflicting: 400 when the response can
    /// be routed (RFC 3261 §21.4.1), else dropped. Stateless: nothing about the request can be trusted enough to
    /// match retransmissions.
    fn answer_bad_content_length(&mut self, bytes: &[u8], peer: Peer, err: ParseError) {
        if let Ok(Message::Request(mut request)) = Message::parse_ignoring_content_length(bytes) {
            if let (Ok(via), false) = (request.top_via(), request.method == Method::Ack) {
                stamp_received(&mut request, &via, peer);
                let response = Response::for_request(&request, 400, &bad_request_reason(&err));
                self.send_stateless(response, &via, peer);
            }
        }
        self.drop_input(peer, format!("unparseable message: {err}"))
    }

    fn drop_input(&mut self, peer: Peer, reason: String) {
        self.events.push_back(EndpointEvent::Dropped { peer, reason });
    }

    fn handle_request(&mut self, mut request: Request, peer: Peer, now: Instant) {
        // Broken requests: answer 400 when the response can still be routed (a parseable top Via), else drop.
        let via = match request.top_via() {
            Ok(via) => via,
            Err(err) => return self.drop_input(peer, format!("request without usable Via: {err}")),
        };
        stamp_received(&mut request, &via, peer);
        if let Err(err) = request.validate() {
            if request.method != Method::Ack {
                let response = Response::for_request(&request, 400, &bad_request_reason(&err));
                self.send_stateless(response, &via, peer);
            }
            return self.drop_input(peer, format!("{} rejected: {err}", request.method));
        }
        let Ok(cseq) = request.cseq() else { return };
        let key = server_key(&request, &via, peer);

        match request.method {
            Method::Ack => self.handle_ack(request, key, cseq, peer, now),
            Method::Cancel => self.handle_cancel(request, &via, key, peer, now),
            _ => {
                if let Some(entry) = self.server.get_mut(&key) {
                    // Retransmission: resend the last response, never bother the TU.
                    let resend = match &entry.tx {
                        ServerTx::Invite(tx) => tx.on_invite_retransmission().map(<[u8]>::to_vec),
                        ServerTx::NonInvite(tx) => tx.on_request_retransmission().map(<[u8]>::to_vec),
                    };
                    if let Some(bytes) = resend {
                        self.transmits.push_back(Transmit { peer: entry.peer, bytes });
                    }
                    return;
                }
                let merge_id = merge_id(&request, &cseq);
                if let Some(existing) = merge_id.as_ref().and_then(|m| self.merges.get(m)) {
                    if *existing != key {
                        let response = Response::for_request(&request, 482, "Loop Detected");
                        return self.send_stateless(response, &via, peer);
                    }
                }
                // Every new INVITE/REGISTER/OPTIONS transaction counts, in a dialog or not (a To tag is the
                // sender's to forge), at rates no real dialog reaches; BYE, ACK and CANCEL are never limited.
                if let Some(limiter) = self.rate_limiter.as_mut() {
                    match limiter.check(peer.addr.ip(), &request.method, now) {
                        Verdict::Allow => {}
                        Verdict::Reject { retry_after } => {
                            let mut response = Response::for_request(&request, 503, "Service Unavailable");
                            response.ensure_to_tag(&format!("{:08x}", rand::random::<u32>()));
                            response.headers.push("Retry-After", Verdict::retry_after_secs(retry_after).to_string());
                            self.send_stateless(response, &via, peer);
                            return self.drop_input(peer, format!("{} over the rate limit: 503", request.method));
                        }
                        Verdict::Drop => {
                            return self.drop_input(peer, format!("{} over the rate limit: dropped", request.method));
                        }
                    }
                }
                let reply_peer = response_peer(&via, peer);
                let reliable = peer.transport.is_reliable();
                let (tx, invite_id) = if request.method == Method::Invite {
                    let mut tx = ServerInvite::new(reliable, self.timers);
                    // 100 Trying at once, so the caller's INVITE retransmissions stop (RFC 3261 §17.2.1).
                    let trying = self.with_server_headers(Response::for_request(&request, 100, "Trying"));
                    let bytes = trying.into_message().to_bytes();
                    tx.send_response(100, bytes.clone(), now);
                    self.transmits.push_back(Transmit { peer: reply_peer, bytes });
                    (ServerTx::Invite(tx), Some((request.call_id().to_string(), cseq.seq)))
                } else {
                    (ServerTx::NonInvite(ServerNonInvite::new(reliable, self.timers)), None)
                };
                if let Some(id) = &invite_id {
                    self.invites.insert(id.clone(), key.clone());
                }
                if let Some(m) = &merge_id {
                    self.merges.insert(m.clone(), key.clone());
                }
                self.server
                    .insert(key.clone(), ServerEntry { tx, peer: reply_peer, invite_id, merge_id, scheduled: None });
                self.schedule_server(&key);
                self.events.push_back(EndpointEvent::Request { key, request, peer });
            }
        }
    }

    fn handle_ack(&mut self, request: Request, key: ServerKey, cseq: CSeq, peer: Peer, now: Instant) {
        // ACK for a non-2xx shares the INVITE's branch; it is absorbed by the transaction.
        if let Some(ServerEntry { tx: ServerTx::Invite(tx), .. }) = self.server.get_mut(&key) {
            let completed_with_error = tx.is_answered() && tx.last_sent().is_some_and(|b| !b.starts_with(b"SIP/2.0 2"));
            if completed_with_error {
                tx.on_ack(now);
                self.schedule_server(&key);
                return;
            }
        }
        // ACK for a 2xx: stop the 2xx retransmissions and hand it to the dialog.
        if let Some(invite_key) = self.invites.get(&(request.call_id().to_string(), cseq.seq)).cloned() {
            if let Some(ServerEntry { tx: ServerTx::Invite(tx), .. }) = self.server.get_mut(&invite_key) {
                tx.on_ack(now);
                self.schedule_server(&invite_key);
            }
        }
        self.events.push_back(EndpointEvent::Ack { request, peer });
    }

    fn handle_cancel(&mut self, request: Request, via: &Via, key: ServerKey, peer: Peer, now: Instant) {
        // The CANCEL's own transaction absorbs CANCEL retransmissions.
        if let Some(entry) = self.server.get_mut(&key) {
            if let ServerTx::NonInvite(tx) = &entry.tx {
                if let Some(bytes) = tx.on_request_retransmission() {
                    self.transmits.push_back(Transmit { peer: entry.peer, bytes: bytes.to_vec() });
                }
            }
            return;
        }
        let invite_key = ServerKey(key.0.replacen("CANCEL", "INVITE", 1));
        // RFC 3261 §9.2: a CANCEL matching an INVITE transaction gets 200 even when the INVITE was already
        // answered (it then has no effect); only an unknown transaction gets 481.
        let (exists, pending) = match self.server.get(&invite_key) {
            Some(ServerEntry { tx: ServerTx::Invite(tx), .. }) => (true, !tx.is_answered()),
            _ => (false, false),
        };
        let (status, reason) = if exists { (200, "OK") } else { (481, "Call/Transaction Does Not Exist") };
        let mut tx = ServerNonInvite::new(peer.transport.is_reliable(), self.timers);
        let response = self.with_server_headers(Response::for_request(&request, status, reason));
        let bytes = response.into_message().to_bytes();
        tx.send_response(status, bytes.clone(), now);
        let reply_peer = response_peer(via, peer);
        self.transmits.push_back(Transmit { peer: reply_peer, bytes });
        self.server.insert(
            key.clone(),
            ServerEntry {
                tx: ServerTx::NonInvite(tx),
                peer: reply_peer,
                invite_id: None,
                merge_id: None,
                scheduled: None,
            },
        );
        self.schedule_server(&key);
        if pending {
            self.events.push_back(EndpointEvent::Cancelled { invite: invite_key, request });
        }
    }

    fn handle_response(&mut self, response: Response, peer: Peer, now: Instant) {
        let (Ok(via), Ok(cseq)) = (response.top_via(), response.cseq()) else {
            return self.drop_input(peer, "response without usable Via/CSeq".into());
        };
        let Some(branch) = via.branch() else {
            return self.drop_input(peer, "response without branch".into());
        };
        let key = ClientKey(format!("{branch}|{}", cseq.method));
        let Some(entry) = self.client.get_mut(&key) else {
            return self.drop_input(peer, format!("stray {} response for {key}", response.status));
        };
        let outcome = match &mut entry.tx {
            ClientTx::Invite { tx, .. } => tx.on_response(response.status, now),
            ClientTx::NonInvite(tx) => tx.on_response(response.status, now),
        };
        if outcome.send_ack {
            if let ClientTx::Invite { request, .. } = &entry.tx {
                let ack = ack_for_error(request, &response);
                self.transmits.push_back(Transmit { peer: entry.peer, bytes: ack.into_message().to_bytes() });
            }
        }
        self.schedule_client(&key);
        if outcome.deliver {
            self.events.push_back(EndpointEvent::Response { key, response });
        }
    }

    /// The TU answers a server transaction. Unknown or finished transactions are ignored (returns false).
    pub fn respond(&mut self, key: &ServerKey, response: Response, now: Instant) -> bool {
        let response = self.with_server_headers(response);
        let Some(entry) = self.server.get_mut(key) else { return false };
        let status = response.status;
        let bytes = response.into_message().to_bytes();
        let accepted = match &mut entry.tx {
            ServerTx::Invite(tx) => tx.send_response(status, bytes.clone(), now),
            ServerTx::NonInvite(tx) => tx.send_response(status, bytes.clone(), now),
        };
        if accepted {
            self.transmits.push_back(Transmit { peer: entry.peer, bytes });
            self.schedule_server(key);
        }
        accepted
    }

    /// Whether a server transaction still awaits a final response.
    pub fn is_pending(&self, key: &ServerKey) -> bool {
        match self.server.get(key) {
            Some(ServerEntry { tx: ServerTx::Invite(tx), .. }) => !tx.is_answered(),
            Some(ServerEntry { tx: ServerTx::NonInvite(tx), .. }) => !tx.is_answered(),
            None => false,
        }
    }

    /// Starts a client transaction for `request`, whose top Via must carry a fresh branch.
    pub fn send_request(&mut self, request: Request, peer: Peer, now: Instant) -> Result<ClientKey, SendError> {
        let via = request.top_via()?;
        let branch = via.branch().filter(|b| b.starts_with(BRANCH_COOKIE)).ok_or(SendError::NoBranch)?;
        let cseq = request.cseq()?;
        let key = ClientKey(format!("{branch}|{}", cseq.method));
        if self.client.contains_key(&key) {
            return Err(SendError::Duplicate(key));
        }
        let mut request = request;
        if request.headers.get("User-Agent").is_none() {
            request.headers.push("User-Agent", self.user_agent.clone());
        }
        let bytes = request.clone().into_message().to_bytes();
        let reliable = peer.transport.is_reliable();
        let tx = if request.method == Method::Invite {
            ClientTx::Invite { tx: ClientInvite::new(bytes.clone(), reliable, self.timers, now), request }
        } else {
            ClientTx::NonInvite(ClientNonInvite::new(bytes.clone(), reliable, self.timers, now))
        };
        self.client.insert(key.clone(), ClientEntry { tx, peer, scheduled: None });
        self.schedule_client(&key);
        self.transmits.push_back(Transmit { peer, bytes });
        Ok(key)
    }

    /// Sends a CANCEL for a pending client INVITE (RFC 3261 §9.1). Returns the CANCEL's key.
    pub fn cancel(&mut self, invite: &ClientKey, now: Instant) -> Option<ClientKey> {
        let entry = self.client.get(invite)?;
        let ClientTx::Invite { tx, request } = &entry.tx else { return None };
        if tx.is_final() {
            return None;
        }
        let mut cancel =
            Request { method: Method::Cancel, uri: request.uri.clone(), headers: Default::default(), body: Vec::new() };
        for name in ["Via", "From", "To", "Call-ID", "Route", "Max-Forwards"] {
            for value in request.headers.get_all(name) {
                cancel.headers.push(name, value);
                if name == "Via" {
                    break; // only the top Via
                }
            }
        }
        let seq = request.cseq().ok()?.seq;
        cancel.headers.push("CSeq", format!("{seq} CANCEL"));
        let peer = entry.peer;
        self.send_request(cancel, peer, now).ok()
    }

    /// Sends a message outside any transaction (ACK for 2xx, stateless replies).
    pub fn send_raw(&mut self, message: Message, peer: Peer) {
        self.transmits.push_back(Transmit { peer, bytes: message.to_bytes() });
    }

    fn send_stateless(&mut self, response: Response, via: &Via, peer: Peer) {
        let response = self.with_server_headers(response);
        self.transmits
            .push_back(Transmit { peer: response_peer(via, peer), bytes: response.into_message().to_bytes() });
    }

    fn with_server_headers(&self, mut response: Response) -> Response {
        if response.headers.get("Server").is_none() {
            response.headers.push("Server", self.user_agent.clone());
        }
        response
    }

    /// The next datagram or stream write to send, if any: the driver drains these after every input.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the TU, if any.
    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    /// The earliest instant at which [`Endpoint::handle_timeout`] has work. Amortised O(log n): stale heap
    /// entries on top are dropped on the way.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse(top)) = self.timer_heap.peek() {
            if self.is_live(top) {
                return Some(top.at);
            }
            self.timer_heap.pop();
        }
        None
    }

    /// Fires every transaction timer due at `now`: O(log n) per due timer, nothing for the others.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Each transaction fires at most once per call (as when every transaction was visited once): a deadline
        // that is still due after firing is put back only after the loop.
        let mut again = Vec::new();
        while self.timer_heap.peek().is_some_and(|Reverse(top)| top.at <= now) {
            let Some(Reverse(due)) = self.timer_heap.pop() else { break };
            if !self.is_live(&due) {
                continue;
            }
            self.timer_visits += 1;
            let next = match due.key {
                TimerKey::Server(key) => self.fire_server(key, now),
                TimerKey::Client(key) => self.fire_client(key, now),
            };
            again.extend(next);
        }
        for scheduled in again {
            self.timer_heap.push(Reverse(scheduled));
        }
        self.compact_timer_heap();
    }

    /// Transactions examined by timer handling since the endpoint was created (work done, for tests and
    /// metrics); with the heap this grows with the number of due timers, not with the number of transactions.
    pub fn timer_visits(&self) -> u64 {
        self.timer_visits
    }

    /// Whether a heap entry is still its transaction's scheduled deadline.
    fn is_live(&self, scheduled: &Scheduled) -> bool {
        let current = match &scheduled.key {
            TimerKey::Server(key) => self.server.get(key).and_then(|e| e.scheduled),
            TimerKey::Client(key) => self.client.get(key).and_then(|e| e.scheduled),
        };
        current == Some(scheduled.at)
    }

    /// Fires a server transaction's due timers; returns its next heap entry, if it lives on.
    fn fire_server(&mut self, key: ServerKey, now: Instant) -> Option<Scheduled> {
        let entry = self.server.get_mut(&key)?;
        entry.scheduled = None;
        let peer = entry.peer;
        let timed_out = fire_timers(entry.as_transaction(), peer, now, &mut self.transmits);
        if timed_out {
            // Only an unacknowledged 2xx concerns the TU (it must send BYE); an unacknowledged error response
            // just ends its transaction.
            if let (Some((call_id, _)), true) = (&entry.invite_id, entry_last_is_2xx(&mut entry.tx)) {
                self.events.push_back(EndpointEvent::AckTimeout { key: key.clone(), call_id: call_id.clone() });
            }
        }
        if entry.as_transaction().is_terminated() {
            if let Some(entry) = self.server.remove(&key) {
                if let Some(id) = entry.invite_id {
                    self.invites.remove(&id);
                }
                if let Some(m) = entry.merge_id {
                    self.merges.remove(&m);
                }
            }
            return None;
        }
        let at = entry.as_transaction().next_timeout()?;
        entry.scheduled = Some(at);
        Some(Scheduled { at, key: TimerKey::Server(key) })
    }

    /// Fires a client transaction's due timers; returns its next heap entry, if it lives on.
    fn fire_client(&mut self, key: ClientKey, now: Instant) -> Option<Scheduled> {
        let entry = self.client.get_mut(&key)?;
        entry.scheduled = None;
        let peer = entry.peer;
        let tx = entry.as_transaction();
        if fire_timers(tx, peer, now, &mut self.transmits) {
            self.events.push_back(EndpointEvent::ClientTimeout { key: key.clone() });
        }
        if tx.is_terminated() {
            self.client.remove(&key);
            return None;
        }
        let at = tx.next_timeout()?;
        entry.scheduled = Some(at);
        Some(Scheduled { at, key: TimerKey::Client(key) })
    }

    /// Puts a server transaction's next deadline in the heap if it changed (after any input that may move it).
    fn schedule_server(&mut self, key: &ServerKey) {
        let Some(entry) = self.server.get_mut(key) else { return };
        let next = entry.as_transaction().next_timeout();
        if next != entry.scheduled {
            entry.scheduled = next;
            if let Some(at) = next {
                self.timer_heap.push(Reverse(Scheduled { at, key: TimerKey::Server(key.clone()) }));
            }
        }
    }

    /// Puts a client transaction's next deadline in the heap if it changed.
    fn schedule_client(&mut self, key: &ClientKey) {
        let Some(entry) = self.client.get_mut(key) else { return };
        let next = entry.as_transaction().next_timeout();
        if next != entry.scheduled {
            entry.scheduled = next;
            if let Some(at) = next {
                self.timer_heap.push(Reverse(Scheduled { at, key: TimerKey::Client(key.clone()) }));
            }
        }
    }

    /// Rebuilds the heap from live entries when stale ones dominate, so memory stays proportional to the live
    /// transactions; O(n), at most once per n reschedules.
    fn compact_timer_heap(&mut self) {
        let live = self.server.len() + self.client.len();
        if self.timer_heap.len() <= 2 * live + 64 {
            return;
        }
        let server = self.server.iter().filter_map(|(k, e)| Some((e.scheduled?, TimerKey::Server(k.clone()))));
        let client = self.client.iter().filter_map(|(k, e)| Some((e.scheduled?, TimerKey::Client(k.clone()))));
        self.timer_heap = server.chain(client).map(|(at, key)| Reverse(Scheduled { at, key })).collect();
    }
}

/// Fires one transaction's due timers, queueing retransmissions. Returns true if it timed out.
fn fire_timers(tx: &mut dyn Transaction, peer: Peer, now: Instant, transmits: &mut VecDeque<Transmit>) -> bool {
    while tx.next_timeout().is_some_and(|t| t <= now) {
        match tx.handle_timeout(now) {
            TimerOutcome::Retransmit => {
                if let Some(bytes) = tx.last_sent() {
                    transmits.push_back(Transmit { peer, bytes: bytes.to_vec() });
                }
            }
            TimerOutcome::TimedOut => return true,
            TimerOutcome::Terminated | TimerOutcome::Nothing => return false,
        }
    }
    false
}

fn entry_last_is_2xx(tx: &mut ServerTx) -> bool {
    match tx {
        ServerTx::Invite(tx) => tx.last_sent().is_some_and(|b| b.starts_with(b"SIP/2.0 2")),
        ServerTx::NonInvite(_) => false,
    }
}

/// RFC 3261 §18.2.1 and RFC 3581: note where the request really came from in the top Via, so responses find
/// their way back through NAT.
fn stamp_received(request: &mut Request, via: &Via, peer: Peer) {
    let source_ip = peer.addr.ip().to_string();
    let wants_rport = via.params.has("rport");
    if via.host == source_ip && !wants_rport {
        return;
    }
    let mut stamped = via.clone();
    if via.host != source_ip {
        stamped.params.set("received", Some(source_ip));
    }
    if wants_rport {
        stamped.params.set("rport", Some(peer.addr.port().to_string()));
    }
    if let Some(first_line) = request.headers.get_mut("Via") {
        let rest = crate::message::split_list(first_line).into_iter().skip(1).collect::<Vec<_>>().join(", ");
        *first_line = if rest.is_empty() { stamped.to_string() } else { format!("{stamped}, {rest}") };
    }
}

/// Where responses to a request from `peer` go (RFC 3261 §18.2.2, RFC 3581 §4).
fn response_peer(via: &Via, peer: Peer) -> Peer {
    match peer.transport {
        TransportKind::Tcp => peer,
        TransportKind::Udp if via.params.has("rport") => peer,
        TransportKind::Udp => Peer::udp(SocketAddr::new(peer.addr.ip(), via.port.unwrap_or(5060))),
    }
}

fn server_key(request: &Request, via: &Via, peer: Peer) -> ServerKey {
    let method = match request.method {
        Method::Ack => "INVITE".to_string(),
        ref m => m.to_string(),
    };
    match via.branch() {
        Some(branch) if branch.starts_with(BRANCH_COOKIE) => ServerKey(format!("{branch}|{}|{method}", via.sent_by())),
        // RFC 2543 peers: fall back to the request's identity (RFC 3261 §17.2.3).
        _ => {
            let from_tag = from_tag(request).unwrap_or_default();
            let seq = request.cseq().map(|c| c.seq).unwrap_or_default();
            ServerKey(format!("2543|{}|{from_tag}|{seq}|{}|{}|{method}", request.call_id(), via.sent_by(), peer.addr))
        }
    }
}

fn from_tag(request: &Request) -> Option<String> {
    request.headers.get("From").and_then(NameAddr::parse).and_then(|n| n.tag().map(str::to_string))
}

/// Identity of an initial request for merged-request detection; `None` for in-dialog requests (To has a tag).
fn merge_id(request: &Request, cseq: &CSeq) -> Option<String> {
    let to = request.headers.get("To").and_then(NameAddr::parse)?;
    if to.tag().is_some() {
        return None;
    }
    Some(format!("{}|{}|{} {}", from_tag(request)?, request.call_id(), cseq.seq, cseq.method))
}

/// The ACK a client INVITE transaction sends for a non-2xx final (RFC 3261 §17.1.1.3).
fn ack_for_error(invite: &Request, response: &Response) -> Request {
    let mut ack =
        Request { method: Method::Ack, uri: invite.uri.clone(), headers: Default::default(), body: Vec::new() };
    if let Some(via) = invite.headers.get("Via") {
        ack.headers.push("Via", crate::message::split_list(via).first().copied().unwrap_or(via));
    }
    for name in ["Route", "From", "Call-ID", "Max-Forwards"] {
        for value in invite.headers.get_all(name) {
            ack.headers.push(name, value);
        }
    }
    if let Some(to) = response.headers.get("To") {
        ack.headers.push("To", to);
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or_default();
    ack.headers.push("CSeq", format!("{seq} ACK"));
    ack
}

fn bad_request_reason(err: &ParseError) -> String {
    // Reason phrases are single-line text; the error's Display is.
    let mut reason = format!("Bad Request ({err})");
    reason.retain(|c| c != '\r' && c != '\n');
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    thread_local! {
        /// Comparisons made by the timer heap on this thread (each test runs on its own thread).
        pub(super) static COMPARISONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    fn peer() -> Peer {
        Peer::udp("192.0.2.10:5062".parse().unwrap())
    }

    fn invite(branch: &str) -> Vec<u8> {
        format!(
            "INVITE sip:echo@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@10.0.0.1>;tag=abc\r\nTo: <sip:echo@192.0.2.1>\r\n\
             Call-ID: call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.1:5062>\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn drain(ep: &mut Endpoint) -> Vec<Transmit> {
        std::iter::from_fn(|| ep.poll_transmit()).collect()
    }

    #[test]
    fn invite_gets_100_trying_with_rport_and_received_then_retransmissions_are_absorbed() {
        let mut ep = Endpoint::new(TimerConfig::default(), "test");
        let t0 = Instant::now();
        ep.handle_input(&invite("z9hG4bK1"), peer(), t0);
        let sent = drain(&mut ep);
        assert_eq!(sent.len(), 1);
        let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
        assert!(text.starts_with("SIP/2.0 100 Trying"));
        assert!(text.contains("rport=5062;received=192.0.2.10"), "{text}");
        assert_eq!(sent[0].peer, peer());
        assert!(matches!(ep.poll_event(), Some(EndpointEvent::Request { .. })));
        ep.handle_input(&invite("z9hG4bK1"), peer(), t0 + Duration::from_millis(500));
        assert_eq!(drain(&mut ep).len(), 1, "the retransmission gets the 100 again");
        assert_eq!(ep.poll_event(), None, "and the TU never sees it");
    }

    #[test]
    fn same_request_on_a_new_branch_is_a_merged_request() {
        let mut ep = Endpoint::new(TimerConfig::default(), "test");
        let t0 = Instant::now();
        ep.handle_input(&invite("z9hG4bK1"), peer(), t0);
        drain(&mut ep);
        ep.handle_input(&invite("z9hG4bK2"), peer(), t0);
        let sent = drain(&mut ep);
        assert!(String::from_utf8_lossy(&sent[0].bytes).starts_with("SIP/2.0 482"));
    }

    #[test]
    fn cancel_gets_200_and_tells_the_tu() {
        let mut ep = Endpoint::new(TimerConfig::default(), "test");
        let t0 = Instant::now();
        ep.handle_input(&invite("z9hG4bK1"), peer(), t0);
        drain(&mut ep);
        let Some(EndpointEvent::Request { key, .. }) = ep.poll_event() else { panic!() };
        let cancel = String::from_utf8(invite("z9hG4bK1")).unwrap().replace("INVITE", "CANCEL");
        ep.handle_input(cancel.as_bytes(), peer(), t0);
        let sent = drain(&mut ep);
        assert!(String::from_utf8_lossy(&sent[0].bytes).starts_with("SIP/2.0 200"));
        assert_eq!(
            ep.poll_event().map(|e| matches!(e, EndpointEvent::Cancelled { invite, .. } if invite == key)),
            Some(true)
        );
    }

    #[test]
    fn unacknowledged_2xx_is_reported_after_64_t1() {
        let mut ep = Endpoint::new(TimerConfig::default(), "test");
        let t0 = Instant::now();
        ep.handle_input(&invite("z9hG4bK1"), peer(), t0);
        let Some(EndpointEvent::Request { key, request, .. }) = ep.poll_event() else { panic!() };
        ep.respond(&key, Response::for_request(&request, 200, "OK"), t0);
        drain(&mut ep);
        let mut now = t0;
        let mut retransmits = 0;
        while let Some(at) = ep.poll_timeout() {
            now = at;
            ep.handle_timeout(now);
            retransmits += drain(&mut ep).len();
        }
        assert_eq!(now - t0, Duration::from_secs(32));
        assert!(retransmits >= 9, "2xx retransmitted {retransmits} times");
        assert!(matches!(ep.poll_event(), Some(EndpointEvent::AckTimeout { .. })));
    }

    #[test]
    fn another_sip_version_gets_505() {
        // RFC 4475 3.3.15 (trimmed): a request in SIP/7.0.
        let text = "OPTIONS sip:t.watson@example.com SIP/7.0\r\nVia: SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\r\n\
            Max-Forwards: 70\r\nFrom: A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\r\n\
            To: T. Watson <sip:t.watson@example.com>\r\nCall-ID: 7-0@example.com\r\nCSeq: 1 OPTIONS\r\n\
            Content-Length: 0\r\n\r\n";
        let mut ep = Endpoint::new(TimerConfig::default(), "test");
        ep.handle_input(text.as_bytes(), peer(), Instant::now());
        let sent = drain(&mut ep);
        let reply = String::from_utf8_lossy(&sent[0].bytes);
        assert!(reply.starts_with("SIP/2.0 505 Version Not Supported"), "{reply}");
        assert!(reply.contains("Call-ID: 7-0@example.com"), "{reply}");
    }

    #[test]
    fn missing_call_id_gets_400_naming_it() {
        let mut ep = Endpoint::new(TimerConfig::default(), "test");
        let bad = String::from_utf8(invite("z9hG4bK1")).unwrap().replace("Call-ID: call-1\r\n", "");
        ep.handle_input(bad.as_bytes(), peer(), Instant::now());
        let sent = drain(&mut ep);
        let text = String::from_utf8_lossy(&sent[0].bytes);
        assert!(text.starts_with("SIP/2.0 400 Bad Request (missing mandatory header Call-ID)"), "{text}");
    }

    fn options(branch: &str) -> Vec<u8> {
        format!(
            "OPTIONS sip:echo@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@10.0.0.1>;tag={branch}\r\nTo: <sip:echo@192.0.2.1>\r\n\
             Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    /// One iteration of an owner's run loop: answer what the TU got, fire what is due.
    fn run_loop_iteration(ep: &mut Endpoint, now: Instant) {
        while let Some(event) = ep.poll_event() {
            if let EndpointEvent::Request { key, request, .. } = event {
                ep.respond(&key, Response::for_request(&request, 200, "OK"), now);
            }
        }
        drain(ep);
        if ep.poll_timeout().is_some_and(|at| at <= now) {
            ep.handle_timeout(now);
        }
    }

    #[test]
    fn a_flood_of_unique_options_costs_n_log_n_timer_work() {
        const N: u64 = 50_000;
        COMPARISONS.with(|c| c.set(0));
        let mut ep = Endpoint::new(TimerConfig::default(), "test");
        let t0 = Instant::now();
        let mut now = t0;
        let mut peak = 0;
        for i in 0..N {
            // 1,000 requests a second for 50 s: up to 32,000 live transactions (timer J is 64·T1 = 32 s).
            now = t0 + Duration::from_millis(i);
            ep.handle_input(&options(&format!("z9hG4bKflood{i}")), peer(), now);
            run_loop_iteration(&mut ep, now);
            peak = peak.max(ep.transaction_counts().0);
        }
        while let Some(at) = ep.poll_timeout() {
            now = now.max(at);
            run_loop_iteration(&mut ep, now);
        }
        assert!(peak > 30_000, "peak {peak} live transactions");
        assert_eq!(ep.transaction_counts(), (0, 0), "every transaction ended at timer J");
        assert_eq!(ep.timer_visits(), N, "each transaction examined once, when its timer J fired");
        let comparisons = COMPARISONS.with(|c| c.get());
        let bound = 4 * N * u64::from(N.ilog2() + 1);
        assert!(comparisons <= bound, "{comparisons} heap comparisons for {N} transactions (bound {bound})");
        // What scanning every live transaction on every iteration would have cost: far above the bound.
        assert!(peak as u64 * N / 2 > 10 * bound);
    }

    #[test]
    fn a_response_reschedules_a_client_transaction_and_the_old_deadline_is_skipped() {
        let mut ep = Endpoint::new(TimerConfig::default(), "test");
        let t0 = Instant::now();
        let Ok(Message::Request(request)) = Message::parse(&options("z9hG4bKclient")) else { panic!() };
        let key = ep.send_request(request, peer(), t0).unwrap();
        drain(&mut ep);
        assert_eq!(ep.poll_timeout(), Some(t0 + Duration::from_millis(500)), "timer E");
        let ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKclient\r\nFrom: <sip:a@h>;tag=1\r\n\
                  To: <sip:b@h>;tag=2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        ep.handle_input(ok.as_bytes(), peer(), t0 + Duration::from_millis(100));
        assert!(matches!(ep.poll_event(), Some(EndpointEvent::Response { key: k, .. }) if k == key));
        // Timer E is gone (no retransmission at 500 ms); timer K (T4 = 5 s) ends the transaction.
        assert_eq!(ep.poll_timeout(), Some(t0 + Duration::from_millis(5100)));
        ep.handle_timeout(t0 + Duration::from_millis(5100));
        assert!(drain(&mut ep).is_empty());
        assert_eq!(ep.transaction_counts(), (0, 0));
        assert_eq!(ep.poll_timeout(), None);
    }

    #[test]
    fn a_client_transaction_without_answer_retransmits_then_times_out() {
        let mut ep = Endpoint::new(TimerConfig::default(), "test");
        let t0 = Instant::now();
        let Ok(Message::Request(request)) = Message::parse(&options("z9hG4bKlost")) else { panic!() };
        ep.send_request(request, peer(), t0).unwrap();
        drain(&mut ep);
        let (mut sends, mut last) = (0, t0);
        while let Some(at) = ep.poll_timeout() {
            last = at;
            ep.handle_timeout(at);
            sends += drain(&mut ep).len();
        }
        assert_eq!(last - t0, Duration::from_secs(32), "timer F");
        assert_eq!(sends, 10, "E at 0.5, 1.5, 3.5, 7.5, then every 4 s until 32 s");
        assert!(matches!(ep.poll_event(), Some(EndpointEvent::ClientTimeout { .. })));
    }

    #[test]
    fn negative_duplicated_or_conflicting_content_length_gets_400() {
        let base = String::from_utf8(options("z9hG4bKcl")).unwrap();
        for (lines, reason) in [
            ("Content-Length: -5\r\n", "Bad Request (malformed Content-Length)"),
            ("Content-Length: 0\r\nContent-Length: 0\r\n", "Bad Request (Content-Length given more than once)"),
            ("Content-Length: 0\r\nl: 3\r\n", "Bad Request (conflicting Content-Length values)"),
        ] {
            let mut ep = Endpoint::new(TimerConfig::default(), "test");
            let text = base.replace("Content-Length: 0\r\n", lines);
            ep.handle_input(text.as_bytes(), peer(), Instant::now());
            let sent = drain(&mut ep);
            let reply = String::from_utf8_lossy(&sent[0].bytes);
            assert!(reply.starts_with(&format!("SIP/2.0 400 {reason}\r\n")), "{reply}");
            assert!(reply.contains("rport=5062;received=192.0.2.10"), "{reply}");
            assert!(matches!(ep.poll_event(), Some(EndpointEvent::Dropped { .. })));
            assert_eq!(ep.transaction_counts(), (0, 0));
        }
    }

    #[test]
    fn an_invite_flood_gets_503_then_silence_before_any_transaction_and_others_still_get_through() {
        use crate::rate_limit::{Rate, RateLimitConfig};
        let mut ep = Endpoint::new(TimerConfig::default(), "test");
        let config = RateLimitConfig {
            invite: Rate::per_second(1, 2),
            rejections: Rate::per_second(1, 2),
            ..RateLimitConfig::default()
        };
        ep.set_rate_limiter(Some(RateLimiter::new(config)));
        let t0 = Instant::now();
        let flood = |i: u32| {
            String::from_utf8(invite(&format!("z9hG4bKf{i}"))).unwrap().replace("call-1", &format!("call-{i}"))
        };
        let mut statuses = Vec::new();
        for i in 0..6 {
            ep.handle_input(flood(i).as_bytes(), peer(), t0);
            let sent = drain(&mut ep);
            statuses.push(sent.first().map(|t| String::from_utf8_lossy(&t.bytes)[8..11].to_string()));
            if let Some(t) = sent.first().filter(|t| t.bytes.starts_with(b"SIP/2.0 503")) {
                let text = String::from_utf8_lossy(&t.bytes);
                assert!(text.contains("Retry-After: 1\r\n") && text.contains(";tag="), "{text}");
            }
        }
        let s = |code: &str| Some(code.to_string());
        assert_eq!(statuses, vec![s("100"), s("100"), s("503"), s("503"), None, None]);
        assert_eq!(ep.transaction_counts(), (2, 0), "no transaction for refused requests");
        // A retransmission of an admitted INVITE is absorbed, not limited; another source is not affected.
        ep.handle_input(flood(0).as_bytes(), peer(), t0);
        assert!(drain(&mut ep)[0].bytes.starts_with(b"SIP/2.0 100"));
        ep.handle_input(flood(9).as_bytes(), Peer::udp("203.0.113.5:5060".parse().unwrap()), t0);
        assert!(drain(&mut ep)[0].bytes.starts_with(b"SIP/2.0 100"));
        // BYE is never limited.
        let bye = String::from_utf8(invite("z9hG4bKbye"))
            .unwrap()
            .replace("INVITE", "BYE")
            .replace("To: <sip:echo@192.0.2.1>", "To: <sip:echo@192.0.2.1>;tag=ours");
        ep.handle_input(bye.as_bytes(), peer(), t0);
        let events: Vec<_> = std::iter::from_fn(|| ep.poll_event()).collect();
        assert!(events
            .iter()
            .any(|e| matches!(e, EndpointEvent::Request { request, .. } if request.method == Method::Bye)));
    }
}
