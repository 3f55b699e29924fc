//! The signalling loop's own timing decisions, told the time rather than reading the clock: when an unanswered
//! outgoing INVITE is cancelled (and the CANCEL it gets), when a ringing INVITE is answered, when the loop must
//! wake next, when a call's session timer runs out (RFC 4028) and how a refresh moves it, and when "hang up every
//! call" has waited long enough for its BYEs. The loop reads the clock once per turn and passes it in; tests pass
//! instants of their own.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use voicera_sip::{ClientKey, Endpoint};

use super::media::CallKey;

/// How long the loop sleeps when nothing is scheduled (it wakes on every message anyway).
const IDLE_WAKE: Duration = Duration::from_secs(3600);
/// How long a hang-up of every call waits for its BYE transactions to complete.
pub(super) const BYE_GRACE: Duration = Duration::from_secs(2);

/// One deadline per transaction key `K`, earliest first: the ring timeouts of outgoing INVITEs, and the answer
/// delay of incoming ones we ring on.
pub(super) struct Deadlines<K> {
    by_time: BTreeMap<(Instant, K), ()>,
}

impl<K> Default for Deadlines<K> {
    fn default() -> Self {
        Deadlines { by_time: BTreeMap::new() }
    }
}

impl<K: Ord + Clone> Deadlines<K> {
    /// `key` falls due `after` this long from `now` (a key started again keeps only its new deadline).
    pub(super) fn start(&mut self, key: K, after: Duration, now: Instant) {
        self.stop(&key);
        self.by_time.insert((now + after, key), ());
    }

    /// `key` no longer falls due (an INVITE got its final response, or was abandoned).
    pub(super) fn stop(&mut self, key: &K) {
        self.by_time.retain(|(_, k), _| k != key);
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.by_time.first_key_value().map(|((at, _), _)| *at)
    }

    /// The keys whose deadline passed by `now`, earliest first; they are forgotten.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<K> {
        let mut due = Vec::new();
        while let Some(entry) = self.by_time.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, key), _) = entry.remove_entry();
            due.push(key);
        }
        due
    }
}

/// Ring timeouts that passed by `now`: each INVITE still ringing (`still_ringing` says so, and marks it as
/// being cancelled) gets a CANCEL queued on `endpoint` (RFC 3261 §9.1); its transaction then ends with 487.
/// Returns the INVITEs a CANCEL went out for (one already final has nothing to cancel).
pub(super) fn cancel_unanswered(
    rings: &mut Deadlines<ClientKey>,
    endpoint: &mut Endpoint,
    mut still_ringing: impl FnMut(&ClientKey) -> bool,
    now: Instant,
) -> Vec<ClientKey> {
    let mut cancelled = Vec::new();
    for key in rings.take_due(now) {
        if !still_ringing(&key) {
            continue;
        }
        if endpoint.cancel(&key, now.into_std()).is_some() {
            cancelled.push(key);
        } else {
            tracing::debug!(%key, "INVITE already final; nothing to cancel");
        }
    }
    cancelled
}

/// RFC 4028 session timer of a call, refreshed by the peer (we answer `refresher=uac`): the session expires
/// when a whole interval passes without a re-INVITE or UPDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SessionTimer {
    interval: Duration,
    expires_at: Instant,
}

impl SessionTimer {
    /// The session, with `interval` agreed, starts at `now` (our 2xx).
    pub(super) fn start(interval: Duration, now: Instant) -> Self {
        SessionTimer { interval, expires_at: now + interval }
    }

    /// A refresh arrived at `now`: the session runs a whole interval from here, the one the refresh asks for
    /// (`requested`) or else the one agreed before.
    pub(super) fn refresh(&mut self, requested: Option<Duration>, now: Instant) {
        *self = SessionTimer::start(requested.unwrap_or(self.interval), now);
    }

    /// The session interval, for `Session-Expires` in our answers.
    pub(super) fn interval(&self) -> Duration {
        self.interval
    }

    /// When the session expires without a refresh.
    pub(super) fn expires_at(&self) -> Instant {
        self.expires_at
    }
}

/// When the loop must wake: the earliest of `deadlines`, or [`IDLE_WAKE`] after `now` when none is set.
pub(super) fn wake_at(now: Instant, deadlines: impl IntoIterator<Item = Option<Instant>>) -> Instant {
    deadlines.into_iter().flatten().fold(now + IDLE_WAKE, Instant::min)
}

/// RFC 4028: the calls whose session expired by `now` without a refresh (`expires`: when each call's session
/// expires, `None` without a session timer).
pub(super) fn expired_sessions<'a>(
    expires: impl IntoIterator<Item = (&'a CallKey, Option<Instant>)>,
    now: Instant,
) -> Vec<CallKey> {
    expires.into_iter().filter(|(_, at)| at.is_some_and(|at| at <= now)).map(|(key, _)| key.clone()).collect()
}

/// The wait that follows "hang up every call": over once nothing is outstanding (BYEs, calls, media still
/// storing its record), or at the latest [`BYE_GRACE`] after it began.
pub(super) struct HangupGrace {
    deadline: Instant,
}

impl HangupGrace {
    /// The hang-up began at `now`.
    pub(super) fn begin(now: Instant) -> Self {
        HangupGrace { deadline: now + BYE_GRACE }
    }

    /// Whether the wait is over at `now` with `outstanding` things still running.
    pub(super) fn is_over(&self, outstanding: usize, now: Instant) -> bool {
        outstanding == 0 || now >= self.deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(branch: &str) -> String {
        branch.to_string()
    }

    #[test]
    fn ring_timeouts_fall_due_in_order_and_only_once() {
        let t0 = Instant::now();
        let mut rings = Deadlines::default();
        rings.start(key("late"), Duration::from_secs(30), t0);
        rings.start(key("early"), Duration::from_secs(10), t0);
        rings.start(key("answered"), Duration::from_secs(5), t0);
        rings.stop(&key("answered"));
        assert_eq!(rings.next(), Some(t0 + Duration::from_secs(10)));
        assert!(rings.take_due(t0 + Duration::from_secs(9)).is_empty());
        assert_eq!(rings.take_due(t0 + Duration::from_secs(10)), vec![key("early")]);
        assert!(rings.take_due(t0 + Duration::from_secs(10)).is_empty(), "taken once");
        // A challenged INVITE is re-sent under a new key; restarting one key keeps a single deadline.
        rings.start(key("late"), Duration::from_secs(60), t0 + Duration::from_secs(20));
        assert_eq!(rings.take_due(t0 + Duration::from_secs(79)), Vec::<String>::new());
        assert_eq!(rings.take_due(t0 + Duration::from_secs(80)), vec![key("late")]);
        assert_eq!(rings.next(), None);
    }

    #[test]
    fn the_loop_wakes_at_the_earliest_deadline_or_after_an_idle_hour() {
        let t0 = Instant::now();
        let at = |secs| Some(t0 + Duration::from_secs(secs));
        assert_eq!(wake_at(t0, [None, at(40), at(7), None]), t0 + Duration::from_secs(7));
        assert_eq!(wake_at(t0, [None, None]), t0 + IDLE_WAKE);
        assert_eq!(wake_at(t0, [at(7200)]), t0 + IDLE_WAKE, "never later than the idle wake");
    }

    #[test]
    fn only_sessions_past_their_expiry_end() {
        let t0 = Instant::now();
        let (refreshed, lapsed, untimed) = (CallKey::from("a"), CallKey::from("b"), CallKey::from("c"));
        let expires = [
            (&refreshed, Some(t0 + Duration::from_secs(90))),
            (&lapsed, Some(t0 + Duration::from_secs(30))),
            (&untimed, None),
        ];
        assert!(expired_sessions(expires, t0 + Duration::from_secs(29)).is_empty());
        assert_eq!(expired_sessions(expires, t0 + Duration::from_secs(30)), vec![lapsed.clone()]);
        assert_eq!(expired_sessions(expires, t0 + Duration::from_secs(90)).len(), 2);
    }

    #[test]
    fn a_hang_up_waits_for_what_is_outstanding_but_not_past_the_grace() {
        let t0 = Instant::now();
        let grace = HangupGrace::begin(t0);
        assert!(!grace.is_over(3, t0 + Duration::from_millis(1999)));
        assert!(grace.is_over(0, t0 + Duration::from_millis(1)), "everything done early");
        assert!(grace.is_over(3, t0 + BYE_GRACE), "stragglers are not waited for");
    }

    /// Our INVITE towards a trunk, as `outbound` sends it.
    fn outgoing_invite() -> voicera_sip::Request {
        let text = "INVITE sip:+15550100@192.0.2.20 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-ring;rport\r\n\
                    Max-Forwards: 70\r\nFrom: <sip:agent@192.0.2.1>;tag=ours\r\nTo: <sip:+15550100@192.0.2.20>\r\n\
                    Call-ID: ring-1\r\nCSeq: 1 INVITE\r\nContact: <sip:agent@192.0.2.1:5060>\r\nContent-Length: 0\r\n\r\n";
        match voicera_sip::Message::parse(text.as_bytes()) {
            Ok(voicera_sip::Message::Request(request)) => request,
            other => panic!("test INVITE does not parse: {other:?}"),
        }
    }

    /// The trunk's response with `status` to [`outgoing_invite`].
    fn trunk_response(status: &str) -> Vec<u8> {
        format!(
            "SIP/2.0 {status}\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-ring;rport\r\n\
             From: <sip:agent@192.0.2.1>;tag=ours\r\nTo: <sip:+15550100@192.0.2.20>;tag=theirs\r\n\
             Call-ID: ring-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn sent(endpoint: &mut Endpoint) -> Vec<String> {
        std::iter::from_fn(|| endpoint.poll_transmit())
            .map(|t| String::from_utf8_lossy(&t.bytes).into_owned())
            .collect()
    }

    /// [`outgoing_invite`] sent to the trunk at `t0`, with a 30 s ring timeout.
    struct Ringing {
        t0: Instant,
        trunk: voicera_sip::Peer,
        endpoint: Endpoint,
        invite: ClientKey,
        rings: Deadlines<ClientKey>,
    }

    fn ringing() -> Ringing {
        let t0 = Instant::now();
        let trunk = voicera_sip::Peer::udp("192.0.2.20:5060".parse().unwrap());
        let mut endpoint = Endpoint::new(voicera_sip::transaction::TimerConfig::default(), "test");
        let invite = endpoint.send_request(outgoing_invite(), trunk, t0.into_std()).unwrap();
        let mut rings = Deadlines::default();
        rings.start(invite.clone(), Duration::from_secs(30), t0);
        Ringing { t0, trunk, endpoint, invite, rings }
    }

    impl Ringing {
        /// The trunk answers with `status` `after` the INVITE; what the endpoint sends in return is dropped.
        fn trunk_answers(&mut self, status: &str, after: Duration) {
            let at = (self.t0 + after).into_std();
            self.endpoint.handle_input(&trunk_response(status), self.trunk, at);
            sent(&mut self.endpoint);
        }
    }

    #[test]
    fn a_ringing_invite_is_cancelled_at_its_ring_timeout_and_not_before() {
        let mut call = ringing();
        call.trunk_answers("180 Ringing", Duration::from_secs(1));
        let Ringing { t0, mut endpoint, invite, mut rings, .. } = call;
        let mut marked = Vec::new();
        let mut ringing = |key: &ClientKey| {
            marked.push(key.clone());
            true
        };
        let early = t0 + Duration::from_millis(29_999);
        assert!(cancel_unanswered(&mut rings, &mut endpoint, &mut ringing, early).is_empty());
        assert!(sent(&mut endpoint).iter().all(|m| !m.starts_with("CANCEL")), "nothing cancelled before the timeout");
        let due = t0 + Duration::from_secs(30);
        assert_eq!(cancel_unanswered(&mut rings, &mut endpoint, &mut ringing, due), vec![invite.clone()]);
        let cancels: Vec<String> = sent(&mut endpoint).into_iter().filter(|m| m.starts_with("CANCEL")).collect();
        assert_eq!(cancels.len(), 1, "one CANCEL");
        assert!(cancels[0].starts_with("CANCEL sip:+15550100@192.0.2.20 SIP/2.0"));
        assert!(cancels[0].contains("branch=z9hG4bK-ring"), "same branch as the INVITE (RFC 3261 §9.1)");
        assert!(cancels[0].contains("CSeq: 1 CANCEL"));
        assert_eq!(marked, vec![invite], "the call is marked as being cancelled");
        assert!(cancel_unanswered(&mut rings, &mut endpoint, |_| true, due + Duration::from_secs(60)).is_empty());
    }

    #[test]
    fn an_invite_already_answered_or_abandoned_gets_no_cancel() {
        let mut call = ringing();
        // Busy before the timeout: the transaction is final, so there is nothing left to cancel.
        call.trunk_answers("486 Busy Here", Duration::from_secs(5));
        let Ringing { t0, trunk, mut endpoint, mut rings, .. } = call;
        assert!(cancel_unanswered(&mut rings, &mut endpoint, |_| true, t0 + Duration::from_secs(30)).is_empty());
        assert!(sent(&mut endpoint).iter().all(|m| !m.starts_with("CANCEL")));
        // An INVITE still pending that the service no longer tracks as ringing is not cancelled either.
        let mut second = outgoing_invite();
        second.headers.set("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-second;rport");
        second.headers.set("Call-ID", "ring-2");
        let second = endpoint.send_request(second, trunk, t0.into_std()).unwrap();
        rings.start(second, Duration::from_secs(30), t0);
        assert!(cancel_unanswered(&mut rings, &mut endpoint, |_| false, t0 + Duration::from_secs(30)).is_empty());
        assert!(sent(&mut endpoint).iter().all(|m| !m.starts_with("CANCEL")));
    }

    #[test]
    fn a_session_expires_one_interval_after_its_last_refresh() {
        let t0 = Instant::now();
        let key = CallKey::from("timed");
        let mut timer = SessionTimer::start(Duration::from_secs(90), t0);
        assert_eq!(timer.expires_at(), t0 + Duration::from_secs(90));
        // The peer refreshes at half the interval (RFC 4028 §10): the session runs a whole interval from there.
        timer.refresh(None, t0 + Duration::from_secs(45));
        assert_eq!(timer.interval(), Duration::from_secs(90));
        let expiry = |timer: &SessionTimer, at| expired_sessions([(&key, Some(timer.expires_at()))], at);
        assert!(expiry(&timer, t0 + Duration::from_secs(134)).is_empty(), "the refresh moved the expiry");
        assert_eq!(expiry(&timer, t0 + Duration::from_secs(135)), vec![key.clone()]);
        // A refresh may ask for another interval; later answers carry it.
        timer.refresh(Some(Duration::from_secs(1800)), t0 + Duration::from_secs(100));
        assert_eq!(timer.interval(), Duration::from_secs(1800));
        assert_eq!(timer.expires_at(), t0 + Duration::from_secs(1900));
        assert!(expiry(&timer, t0 + Duration::from_secs(1899)).is_empty());
    }
}
