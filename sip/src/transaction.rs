//! The four RFC 3261 §17 transaction state machines, sans-IO.
//!
//! A machine never touches a socket or a clock: its owner passes `now` into every mutator, sends the bytes the
//! machine says to send, and calls [`Transaction::handle_timeout`] when [`Transaction::next_timeout`] is due.
//! Timer letters follow the RFC (A–K); server INVITE transactions add the RFC 6026 "Accepted" state (timer L),
//! during which they also retransmit the 2xx until the ACK arrives (the UAS core duty of RFC 3261 §13.3.1.4),
//! and client INVITE transactions add timer M.
//! On reliable transports (TCP) retransmission timers are off and the wait timers D, I, J and K are zero.

use std::time::{Duration, Instant};

/// RFC 3261 timer bases. Defaults are the RFC's; operators may shorten T1 on low-latency networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (500 ms).
    pub t1: Duration,
    /// Maximum retransmission interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Maximum time a message stays in the network (5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self { t1: Duration::from_millis(500), t2: Duration::from_secs(4), t4: Duration::from_secs(5) }
    }
}

impl TimerConfig {
    /// 64·T1: the transaction timeout (timers B, F, H, J, L, M).
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// What a fired timer asks of the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerOutcome {
    /// Nothing to do (the timer was stale or only moved the state on).
    Nothing,
    /// Send [`Transaction::last_sent`] again.
    Retransmit,
    /// The peer never answered (B, F) or never acknowledged (H, or the 2xx of an Accepted INVITE).
    TimedOut,
    /// The machine has finished; drop it.
    Terminated,
}

/// Behaviour shared by the four machines.
pub trait Transaction {
    /// When [`Transaction::handle_timeout`] must next be called.
    fn next_timeout(&self) -> Option<Instant>;
    /// Fires every timer due at `now`.
    fn handle_timeout(&mut self, now: Instant) -> TimerOutcome;
    /// The message to resend on retransmission.
    fn last_sent(&self) -> Option<&[u8]>;
    /// Whether the machine has ended and can be dropped.
    fn is_terminated(&self) -> bool;
}

/// Retransmission schedule: next send time and the interval that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    at: Instant,
    interval: Duration,
}

impl Backoff {
    fn start(now: Instant, t1: Duration) -> Self {
        Backoff { at: now + t1, interval: t1 }
    }

    /// Doubles the interval up to `cap` (None: no cap, as for timer A).
    fn advance(&mut self, now: Instant, cap: Option<Duration>) {
        let doubled = self.interval * 2;
        self.interval = cap.map_or(doubled, |cap| doubled.min(cap));
        self.at = now + self.interval;
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Server INVITE (RFC 3261 §17.2.1, RFC 6026)

#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerInviteState {
    Proceeding,
    /// Final non-2xx sent; G retransmits it, H gives up waiting for the ACK.
    Completed {
        g: Option<Backoff>,
        h: Instant,
    },
    /// ACK received; I absorbs ACK retransmissions.
    Confirmed {
        i: Instant,
    },
    /// 2xx sent; retransmit it until ACKed, L ends the absorption of INVITE retransmissions.
    Accepted {
        retransmit: Option<Backoff>,
        l: Instant,
        acked: bool,
    },
    Terminated,
}

/// Server INVITE transaction.
#[derive(Debug, Clone)]
pub struct ServerInvite {
    state: ServerInviteState,
    reliable: bool,
    timers: TimerConfig,
    last_response: Option<Vec<u8>>,
}

impl ServerInvite {
    /// Created as an INVITE arrives; `reliable` (TCP/TLS) turns retransmission timers off.
    pub fn new(reliable: bool, timers: TimerConfig) -> Self {
        Self { state: ServerInviteState::Proceeding, reliable, timers, last_response: None }
    }

    /// A retransmitted INVITE arrived: returns the response to resend, if any (RFC 3261 §17.2.1).
    pub fn on_invite_retransmission(&self) -> Option<&[u8]> {
        match self.state {
            ServerInviteState::Proceeding | ServerInviteState::Completed { .. } => self.last_response.as_deref(),
            _ => None,
        }
    }

    /// The TU sends a response with this status; returns false when the state forbids it (already final).
    pub fn send_response(&mut self, status: u16, bytes: Vec<u8>, now: Instant) -> bool {
        if self.state != ServerInviteState::Proceeding {
            return false;
        }
        let t = self.timers;
        self.state = match status {
            100..=199 => ServerInviteState::Proceeding,
            200..=299 => ServerInviteState::Accepted {
                retransmit: (!self.reliable).then(|| Backoff::start(now, t.t1)),
                l: now + t.timeout(),
                acked: false,
            },
            _ => ServerInviteState::Completed {
                g: (!self.reliable).then(|| Backoff::start(now, t.t1)),
                h: now + t.timeout(),
            },
        };
        self.last_response = Some(bytes);
        true
    }

    /// An ACK arrived for this INVITE (for a non-2xx, the same branch; for a 2xx, matched by dialog).
    pub fn on_ack(&mut self, now: Instant) {
        match &mut self.state {
            ServerInviteState::Completed { .. } => {
                let wait = if self.reliable { Duration::ZERO } else { self.timers.t4 };
                self.state = ServerInviteState::Confirmed { i: now + wait };
            }
            ServerInviteState::Accepted { retransmit, acked, .. } => {
                *retransmit = None;
                *acked = true;
            }
            _ => {}
        }
    }

    /// Whether a final response has been sent.
    pub fn is_answered(&self) -> bool {
        self.state != ServerInviteState::Proceeding
    }
}

impl Transaction for ServerInvite {
    fn next_timeout(&self) -> Option<Instant> {
        match &self.state {
            ServerInviteState::Proceeding | ServerInviteState::Terminated => None,
            ServerInviteState::Completed { g, h } => earliest(g.map(|g| g.at), Some(*h)),
            ServerInviteState::Confirmed { i } => Some(*i),
            ServerInviteState::Accepted { retransmit, l, .. } => earliest(retransmit.map(|r| r.at), Some(*l)),
        }
    }

    fn handle_timeout(&mut self, now: Instant) -> TimerOutcome {
        let t2 = self.timers.t2;
        match &mut self.state {
            ServerInviteState::Completed { h, .. } if now >= *h => {
                self.state = ServerInviteState::Terminated;
                TimerOutcome::TimedOut
            }
            ServerInviteState::Completed { g: Some(g), .. } if now >= g.at => {
                g.advance(now, Some(t2));
                TimerOutcome::Retransmit
            }
            ServerInviteState::Confirmed { i } if now >= *i => {
                self.state = ServerInviteState::Terminated;
                TimerOutcome::Terminated
            }
            ServerInviteState::Accepted { l, acked, .. } if now >= *l => {
                let acked = *acked;
                self.state = ServerInviteState::Terminated;
                if acked {
                    TimerOutcome::Terminated
                } else {
                    TimerOutcome::TimedOut
                }
            }
            ServerInviteState::Accepted { retransmit: Some(r), .. } if now >= r.at => {
                r.advance(now, Some(t2));
                TimerOutcome::Retransmit
            }
            _ => TimerOutcome::Nothing,
        }
    }

    fn last_sent(&self) -> Option<&[u8]> {
        self.last_response.as_deref()
    }

    fn is_terminated(&self) -> bool {
        self.state == ServerInviteState::Terminated
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Server non-INVITE (RFC 3261 §17.2.2)

#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerNonInviteState {
    Trying,
    Proceeding,
    Completed { j: Instant },
    Terminated,
}

/// Server non-INVITE transaction.
#[derive(Debug, Clone)]
pub struct ServerNonInvite {
    state: ServerNonInviteState,
    reliable: bool,
    timers: TimerConfig,
    last_response: Option<Vec<u8>>,
}

impl ServerNonInvite {
    /// Created as a non-INVITE request arrives; `reliable` (TCP/TLS) turns retransmission timers off.
    pub fn new(reliable: bool, timers: TimerConfig) -> Self {
        Self { state: ServerNonInviteState::Trying, reliable, timers, last_response: None }
    }

    /// A retransmitted request arrived: the response to resend, if any.
    pub fn on_request_retransmission(&self) -> Option<&[u8]> {
        match self.state {
            ServerNonInviteState::Proceeding | ServerNonInviteState::Completed { .. } => self.last_response.as_deref(),
            _ => None,
        }
    }

    /// Returns false when a final response was already sent.
    pub fn send_response(&mut self, status: u16, bytes: Vec<u8>, now: Instant) -> bool {
        if matches!(self.state, ServerNonInviteState::Completed { .. } | ServerNonInviteState::Terminated) {
            return false;
        }
        self.state = if status < 200 {
            ServerNonInviteState::Proceeding
        } else {
            let wait = if self.reliable { Duration::ZERO } else { self.timers.timeout() };
            ServerNonInviteState::Completed { j: now + wait }
        };
        self.last_response = Some(bytes);
        true
    }

    /// Whether a final response has been sent (retransmissions of the request are then answered with it).
    pub fn is_answered(&self) -> bool {
        matches!(self.state, ServerNonInviteState::Completed { .. } | ServerNonInviteState::Terminated)
    }
}

impl Transaction for ServerNonInvite {
    fn next_timeout(&self) -> Option<Instant> {
        match self.state {
            ServerNonInviteState::Completed { j } => Some(j),
            _ => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) -> TimerOutcome {
        match self.state {
            ServerNonInviteState::Completed { j } if now >= j => {
                self.state = ServerNonInviteState::Terminated;
                TimerOutcome::Terminated
            }
            _ => TimerOutcome::Nothing,
        }
    }

    fn last_sent(&self) -> Option<&[u8]> {
        self.last_response.as_deref()
    }

    fn is_terminated(&self) -> bool {
        self.state == ServerNonInviteState::Terminated
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Client INVITE (RFC 3261 §17.1.1, RFC 6026)

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientInviteState {
    Calling {
        a: Option<Backoff>,
        b: Instant,
    },
    Proceeding,
    /// Non-2xx final received and ACKed; D absorbs its retransmissions.
    Completed {
        d: Instant,
    },
    /// 2xx received; M lets further 2xx (from forking) reach the TU.
    Accepted {
        m: Instant,
    },
    Terminated,
}

/// What the owner does with a response given to a client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientResponseOutcome {
    /// Pass the response to the TU.
    pub deliver: bool,
    /// Send an ACK for this non-2xx final response (same branch, RFC 3261 §17.1.1.3).
    pub send_ack: bool,
}

/// Client INVITE transaction.
#[derive(Debug, Clone)]
pub struct ClientInvite {
    state: ClientInviteState,
    reliable: bool,
    timers: TimerConfig,
    request: Vec<u8>,
}

impl ClientInvite {
    /// Created as the INVITE is sent for the first time.
    pub fn new(request: Vec<u8>, reliable: bool, timers: TimerConfig, now: Instant) -> Self {
        let a = (!reliable).then(|| Backoff::start(now, timers.t1));
        Self { state: ClientInviteState::Calling { a, b: now + timers.timeout() }, reliable, timers, request }
    }

    /// Takes a response's status: whether to pass it to the TU and whether to send an ACK (non-2xx finals).
    pub fn on_response(&mut self, status: u16, now: Instant) -> ClientResponseOutcome {
        let deliver_only = ClientResponseOutcome { deliver: true, send_ack: false };
        match (&self.state, status) {
            (ClientInviteState::Calling { .. } | ClientInviteState::Proceeding, 100..=199) => {
                self.state = ClientInviteState::Proceeding;
                deliver_only
            }
            (ClientInviteState::Calling { .. } | ClientInviteState::Proceeding, 200..=299) => {
                self.state = ClientInviteState::Accepted { m: now + self.timers.timeout() };
                deliver_only
            }
            (ClientInviteState::Calling { .. } | ClientInviteState::Proceeding, _) => {
                let wait = if self.reliable { Duration::ZERO } else { Duration::from_secs(32) };
                self.state = ClientInviteState::Completed { d: now + wait };
                ClientResponseOutcome { deliver: true, send_ack: true }
            }
            (ClientInviteState::Completed { .. }, 300..) => ClientResponseOutcome { deliver: false, send_ack: true },
            (ClientInviteState::Accepted { .. }, 200..=299) => deliver_only,
            _ => ClientResponseOutcome { deliver: false, send_ack: false },
        }
    }

    /// Whether a final response has arrived (CANCEL is pointless afterwards).
    pub fn is_final(&self) -> bool {
        !matches!(self.state, ClientInviteState::Calling { .. } | ClientInviteState::Proceeding)
    }

    /// Whether a provisional response has arrived (RFC 3261 §9.1: CANCEL only after one).
    pub fn is_proceeding(&self) -> bool {
        self.state == ClientInviteState::Proceeding
    }
}

impl Transaction for ClientInvite {
    fn next_timeout(&self) -> Option<Instant> {
        match &self.state {
            ClientInviteState::Calling { a, b } => earliest(a.map(|a| a.at), Some(*b)),
            ClientInviteState::Completed { d } => Some(*d),
            ClientInviteState::Accepted { m } => Some(*m),
            _ => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) -> TimerOutcome {
        match &mut self.state {
            ClientInviteState::Calling { b, .. } if now >= *b => {
                self.state = ClientInviteState::Terminated;
                TimerOutcome::TimedOut
            }
            ClientInviteState::Calling { a: Some(a), .. } if now >= a.at => {
                a.advance(now, None);
                TimerOutcome::Retransmit
            }
            ClientInviteState::Completed { d } if now >= *d => {
                self.state = ClientInviteState::Terminated;
                TimerOutcome::Terminated
            }
            ClientInviteState::Accepted { m } if now >= *m => {
                self.state = ClientInviteState::Terminated;
                TimerOutcome::Terminated
            }
            _ => TimerOutcome::Nothing,
        }
    }

    fn last_sent(&self) -> Option<&[u8]> {
        Some(&self.request)
    }

    fn is_terminated(&self) -> bool {
        self.state == ClientInviteState::Terminated
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Client non-INVITE (RFC 3261 §17.1.2)

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientNonInviteState {
    Trying { e: Option<Backoff>, f: Instant },
    Proceeding { e: Option<Backoff>, f: Instant },
    Completed { k: Instant },
    Terminated,
}

/// Client non-INVITE transaction.
#[derive(Debug, Clone)]
pub struct ClientNonInvite {
    state: ClientNonInviteState,
    reliable: bool,
    timers: TimerConfig,
    request: Vec<u8>,
}

impl ClientNonInvite {
    /// Created as the request is sent for the first time.
    pub fn new(request: Vec<u8>, reliable: bool, timers: TimerConfig, now: Instant) -> Self {
        let e = (!reliable).then(|| Backoff::start(now, timers.t1));
        Self { state: ClientNonInviteState::Trying { e, f: now + timers.timeout() }, reliable, timers, request }
    }

    /// Takes a response's status: whether to pass it to the TU (retransmitted finals are absorbed).
    pub fn on_response(&mut self, status: u16, now: Instant) -> ClientResponseOutcome {
        let deliver = ClientResponseOutcome { deliver: true, send_ack: false };
        match (&self.state, status) {
            (ClientNonInviteState::Trying { e, f } | ClientNonInviteState::Proceeding { e, f }, 100..=199) => {
                // In Proceeding, E fires every T2 (RFC 3261 §17.1.2.2).
                let e = e.map(|mut e| {
                    e.interval = self.timers.t2;
                    e.at = e.at.min(now + self.timers.t2);
                    e
                });
                self.state = ClientNonInviteState::Proceeding { e, f: *f };
                deliver
            }
            (ClientNonInviteState::Trying { .. } | ClientNonInviteState::Proceeding { .. }, _) => {
                let wait = if self.reliable { Duration::ZERO } else { self.timers.t4 };
                self.state = ClientNonInviteState::Completed { k: now + wait };
                deliver
            }
            _ => ClientResponseOutcome { deliver: false, send_ack: false },
        }
    }
}

impl Transaction for ClientNonInvite {
    fn next_timeout(&self) -> Option<Instant> {
        match &self.state {
            ClientNonInviteState::Trying { e, f } | ClientNonInviteState::Proceeding { e, f } => {
                earliest(e.map(|e| e.at), Some(*f))
            }
            ClientNonInviteState::Completed { k } => Some(*k),
            ClientNonInviteState::Terminated => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) -> TimerOutcome {
        let t2 = self.timers.t2;
        match &mut self.state {
            ClientNonInviteState::Trying { f, .. } | ClientNonInviteState::Proceeding { f, .. } if now >= *f => {
                self.state = ClientNonInviteState::Terminated;
                TimerOutcome::TimedOut
            }
            ClientNonInviteState::Trying { e: Some(e), .. } if now >= e.at => {
                e.advance(now, Some(t2));
                TimerOutcome::Retransmit
            }
            ClientNonInviteState::Proceeding { e: Some(e), .. } if now >= e.at => {
                e.interval = t2;
                e.at = now + t2;
                TimerOutcome::Retransmit
            }
            ClientNonInviteState::Completed { k } if now >= *k => {
                self.state = ClientNonInviteState::Terminated;
                TimerOutcome::Terminated
            }
            _ => TimerOutcome::Nothing,
        }
    }

    fn last_sent(&self) -> Option<&[u8]> {
        Some(&self.request)
    }

    fn is_terminated(&self) -> bool {
        self.state == ClientNonInviteState::Terminated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a machine on virtual time until `end`, recording when each outcome happened (ms from start).
    fn run_until(tx: &mut dyn Transaction, start: Instant, end: Duration) -> Vec<(u64, TimerOutcome)> {
        let mut seen = Vec::new();
        while let Some(at) = tx.next_timeout() {
            if at > start + end {
                break;
            }
            let outcome = tx.handle_timeout(at);
            seen.push(((at - start).as_millis() as u64, outcome));
            if tx.is_terminated() {
                break;
            }
        }
        seen
    }

    #[test]
    fn client_invite_over_udp_retransmits_on_timer_a_then_times_out_at_b() {
        let t0 = Instant::now();
        let mut tx = ClientInvite::new(b"INVITE".to_vec(), false, TimerConfig::default(), t0);
        let seen = run_until(&mut tx, t0, Duration::from_secs(60));
        let retransmits: Vec<u64> =
            seen.iter().filter(|(_, o)| *o == TimerOutcome::Retransmit).map(|(t, _)| *t).collect();
        assert_eq!(retransmits, vec![500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(seen.last(), Some(&(32000, TimerOutcome::TimedOut)));
    }

    #[test]
    fn client_invite_stops_retransmitting_once_provisional_arrives() {
        let t0 = Instant::now();
        let mut tx = ClientInvite::new(b"INVITE".to_vec(), false, TimerConfig::default(), t0);
        assert!(tx.on_response(180, t0 + Duration::from_millis(100)).deliver);
        assert_eq!(tx.next_timeout(), None);
        let outcome = tx.on_response(486, t0 + Duration::from_secs(1));
        assert_eq!(outcome, ClientResponseOutcome { deliver: true, send_ack: true });
        // A retransmitted final is ACKed again but not delivered twice.
        assert_eq!(
            tx.on_response(486, t0 + Duration::from_secs(2)),
            ClientResponseOutcome { deliver: false, send_ack: true }
        );
        assert_eq!(run_until(&mut tx, t0, Duration::from_secs(40)), vec![(33000, TimerOutcome::Terminated)]);
    }

    #[test]
    fn client_non_invite_caps_timer_e_at_t2() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(b"BYE".to_vec(), false, TimerConfig::default(), t0);
        let seen = run_until(&mut tx, t0, Duration::from_secs(60));
        let retransmits: Vec<u64> =
            seen.iter().filter(|(_, o)| *o == TimerOutcome::Retransmit).map(|(t, _)| *t).collect();
        assert_eq!(&retransmits[..6], &[500, 1500, 3500, 7500, 11500, 15500]);
        assert_eq!(seen.last(), Some(&(32000, TimerOutcome::TimedOut)));
    }

    #[test]
    fn server_invite_retransmits_error_until_ack_then_absorbs_for_t4() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, TimerConfig::default());
        assert!(tx.send_response(486, b"486".to_vec(), t0));
        assert!(!tx.send_response(200, b"200".to_vec(), t0), "a second final response is refused");
        assert_eq!(tx.handle_timeout(t0 + Duration::from_millis(500)), TimerOutcome::Retransmit);
        assert_eq!(tx.handle_timeout(t0 + Duration::from_millis(1500)), TimerOutcome::Retransmit);
        tx.on_ack(t0 + Duration::from_millis(1600));
        assert_eq!(tx.next_timeout(), Some(t0 + Duration::from_millis(6600)));
        assert_eq!(tx.handle_timeout(t0 + Duration::from_millis(6600)), TimerOutcome::Terminated);
    }

    #[test]
    fn server_invite_without_ack_times_out_at_h() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, TimerConfig::default());
        tx.send_response(404, b"404".to_vec(), t0);
        let seen = run_until(&mut tx, t0, Duration::from_secs(60));
        assert_eq!(seen.last(), Some(&(32000, TimerOutcome::TimedOut)));
        // G doubles up to T2: 0.5, 1.5, 3.5, 7.5, 11.5 ... s.
        assert_eq!(seen[..5].iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![500, 1500, 3500, 7500, 11500]);
    }

    #[test]
    fn server_invite_2xx_is_retransmitted_until_acked() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, TimerConfig::default());
        tx.send_response(200, b"200".to_vec(), t0);
        assert_eq!(tx.handle_timeout(t0 + Duration::from_millis(500)), TimerOutcome::Retransmit);
        tx.on_ack(t0 + Duration::from_millis(700));
        assert_eq!(tx.next_timeout(), Some(t0 + Duration::from_secs(32)));
        assert_eq!(tx.handle_timeout(t0 + Duration::from_secs(32)), TimerOutcome::Terminated);
    }

    #[test]
    fn server_invite_2xx_never_acked_times_out() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(false, TimerConfig::default());
        tx.send_response(200, b"200".to_vec(), t0);
        let seen = run_until(&mut tx, t0, Duration::from_secs(60));
        assert_eq!(seen.last(), Some(&(32000, TimerOutcome::TimedOut)));
    }

    #[test]
    fn reliable_transports_skip_retransmissions_and_waits() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(true, TimerConfig::default());
        tx.send_response(200, b"200".to_vec(), t0);
        assert_eq!(tx.next_timeout(), Some(t0));
        assert_eq!(tx.handle_timeout(t0), TimerOutcome::Terminated);
        let client = ClientInvite::new(b"INVITE".to_vec(), true, TimerConfig::default(), t0);
        assert_eq!(client.next_timeout(), Some(t0 + Duration::from_secs(32)));
    }

    #[test]
    fn server_non_invite_resends_final_on_retransmitted_request() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(false, TimerConfig::default());
        assert_eq!(tx.on_request_retransmission(), None, "Trying absorbs silently");
        tx.send_response(200, b"200".to_vec(), t0);
        assert_eq!(tx.on_request_retransmission(), Some(&b"200"[..]));
        assert_eq!(tx.handle_timeout(t0 + Duration::from_secs(32)), TimerOutcome::Terminated);
    }
}
