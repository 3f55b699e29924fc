//! How the two nodes around a dialled provider call ([`crate::dials`]) watch each other through the dial's
//! document, with the time passed in:
//!
//! - [`ServingWatch`]: the node running the call's media stream re-reads the dial every third of the lease,
//!   beats ([`crate::dials::Heartbeat`]) and decides when to hang the call up: the dial is gone, settled by
//!   another node, or its placing node stopped renewing it (it died), or the store stayed unreadable for two
//!   thirds of a lease. Otherwise a contact settled `failed(node lost)` after the placing node died could be
//!   dialled again while its first call is still up on this node.
//! - [`DialFollow`]: the placing node's reads of the dial: fast while it waits for the answer and the stream
//!   (and again once the call is ending), backing off while the call is up; and the serving node's heartbeat,
//!   whose silence for a whole lease ends a call whose end notes never came (its slot is not held for ever).
//!
//! **Clock skew.** Each node keeps time on its own clock, and a lease's expiry is written on the placing
//! node's. The decisions here compare as little as possible across clocks: the serving node judges the
//! placing node alive by *seeing its renewals* (the lease's expiry changing) on its own clock, and the placing
//! node judges the serving node alive by seeing the heartbeat's counter change on its own clock; neither
//! reads the other's timestamps as "now". The one absolute check, a serving node's look at the lease's
//! expiry, allows [`MAX_CLOCK_SKEW_MS`] so that a serving node whose clock runs ahead does not hang up a call
//! whose placing node is alive.

use crate::dials::{DialDocument, DialNote, RecordedNote};
use crate::UnixMillis;

/// How far two nodes' clocks may disagree for the absolute lease checks (ms): the serving node's look at a
/// dial's expiry, and a reclaimer's at a contact's. NTP keeps nodes within a few milliseconds; this covers a
/// node whose synchronisation lapsed for a while, and stays below the shortest lease a node accepts (3 s), so
/// a dead node's call still ends soon after its lease.
pub const MAX_CLOCK_SKEW_MS: i64 = 2_000;
/// The placing node's read interval while nothing is up yet or the call is ending (ms): how late it learns the
/// stream started or the call ended, and so frees its slot.
pub const FAST_READ_MS: i64 = 200;
/// The longest read interval while the call is up (ms), whatever the lease: once the call ends, its slot is
/// freed this late at most. (Reads back off to a third of the lease when that is shorter.)
pub const UP_READ_MAX_MS: i64 = 2_000;

/// Why the serving node hangs a dialled call up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HangUpCause {
    /// The dial's document is gone (its placing node finished with it, or it was swept).
    Gone,
    /// Another node settled the dial: its placing node was lost.
    Settled {
        /// The node that settled it.
        by: String,
    },
    /// The placing node stopped renewing the dial's lease (it died).
    Lapsed,
    /// The dial could not be read for two thirds of a lease: a reclaimer may settle the contact once the lease
    /// lapses, so the call must be down by then.
    StoreUnreachable,
}

impl std::fmt::Display for HangUpCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HangUpCause::Gone => f.write_str("the dial is no longer registered"),
            HangUpCause::Settled { by } => write!(f, "node {by:?} settled the dial (its placing node was lost)"),
            HangUpCause::Lapsed => f.write_str("the placing node stopped renewing the dial's lease"),
            HangUpCause::StoreUnreachable => f.write_str("the dial could not be read for two thirds of its lease"),
        }
    }
}

/// What the serving node does after a read of the dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchStep {
    /// The call goes on: beat, and read again at [`ServingWatch::next_check_at`].
    Keep,
    /// Hang the call up (end its stream and hang it up through the provider's API).
    HangUp(HangUpCause),
}

/// The serving node's watch over one dialled call's stream. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingWatch {
    lease_ms: i64,
    /// The lease expiry last seen, and when (this node's clock) it was first seen.
    expiry_seen: Option<(UnixMillis, UnixMillis)>,
    /// The last read that found the dial followed.
    confirmed_at: UnixMillis,
    next_check_at: UnixMillis,
}

impl ServingWatch {
    /// A watch over a stream that started at `now` on a dial leased for `lease_ms`: its first read (and beat)
    /// is due at once.
    pub fn new(lease_ms: i64, now: UnixMillis) -> ServingWatch {
        ServingWatch { lease_ms, expiry_seen: None, confirmed_at: now, next_check_at: now }
    }

    /// A third of the lease: the placing node renews at that pace, and the serving node reads and beats at it.
    pub fn check_every(&self) -> i64 {
        (self.lease_ms / 3).max(1)
    }

    /// When the next read is due.
    pub fn next_check_at(&self) -> UnixMillis {
        self.next_check_at
    }

    /// The dial as read at `now` (None: its document is gone).
    pub fn on_read(&mut self, doc: Option<&DialDocument>, now: UnixMillis) -> WatchStep {
        self.next_check_at = now.saturating_add(self.check_every());
        let Some(doc) = doc else { return WatchStep::HangUp(HangUpCause::Gone) };
        // The dial's own lease length, whatever this node's `lease_ms` says (nodes may be configured apart).
        if doc.lease_ms > 0 {
            self.lease_ms = doc.lease_ms;
            self.next_check_at = now.saturating_add(self.check_every());
        }
        if let Some(by) = &doc.settled_by {
            return WatchStep::HangUp(HangUpCause::Settled { by: by.clone() });
        }
        let expiry = doc.lease.expires_at;
        let seen_at = match self.expiry_seen {
            Some((seen, at)) if seen == expiry => at,
            _ => {
                self.expiry_seen = Some((expiry, now));
                now
            }
        };
        // No renewal seen for a whole lease on this node's clock (the placing node renews every third of it):
        // it is gone, whatever its clock said the expiry was. The absolute check, with room for skew, catches a
        // lease that lapsed before this watch began.
        let unrenewed = now.saturating_sub(seen_at) >= self.lease_ms;
        let expired = expiry.saturating_add(MAX_CLOCK_SKEW_MS) <= now;
        if unrenewed || expired {
            return WatchStep::HangUp(HangUpCause::Lapsed);
        }
        self.confirmed_at = now;
        WatchStep::Keep
    }

    /// The read at `now` found the dial followed but its heartbeat lost every compare-and-set to other
    /// writers: the next read, and beat, comes [`FAST_READ_MS`] later rather than a third of a lease, so that
    /// the placing node sees a beat within its silence limit ([`DialFollow::silence_limit`]).
    pub fn on_beat_skipped(&mut self, now: UnixMillis) {
        self.next_check_at = self.next_check_at.min(now.saturating_add(FAST_READ_MS));
    }

    /// A read at `now` that failed (the store did not answer). The call goes on until two thirds of a lease
    /// passed since the last good read, as the placing node's own rule for its renewals
    /// ([`crate::slots::HeldLease::must_hang_up`]): the BYE must leave before a reclaimer could act.
    pub fn on_read_failed(&mut self, now: UnixMillis) -> WatchStep {
        self.next_check_at = now.saturating_add(self.check_every());
        if now.saturating_sub(self.confirmed_at) >= self.lease_ms.saturating_sub(self.check_every()) {
            return WatchStep::HangUp(HangUpCause::StoreUnreachable);
        }
        WatchStep::Keep
    }
}

/// Where a followed call is, as the placing node reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowPhase {
    /// Placed: waiting for the answer and the stream (or a final status).
    Setup,
    /// Its stream runs on some node.
    Up,
    /// Its stream ended or a final status came: the rest of its end is due at once.
    Ending,
}

/// What the placing node does after a read of the dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowStep {
    /// Go on following.
    Continue,
    /// The serving node's heartbeat stopped for [`DialFollow::silence_limit`] (over a lease) while the stream
    /// was up, after beating at least once: the call is taken as
    /// ended (and hung up through the API in case it is still up), so its slot is freed. Given once.
    ServingLost,
}

/// The placing node's reads of one dial. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialFollow {
    lease_ms: i64,
    phase: FollowPhase,
    read_in: i64,
    /// The heartbeat's counter last seen, and when (this node's clock) it last changed or the stream started.
    beats_seen: Option<u64>,
    beat_changed_at: UnixMillis,
}

impl DialFollow {
    /// Following a dial leased for `lease_ms`, placed at `now`.
    pub fn new(lease_ms: i64, now: UnixMillis) -> DialFollow {
        DialFollow {
            lease_ms,
            phase: FollowPhase::Setup,
            read_in: FAST_READ_MS,
            beats_seen: None,
            beat_changed_at: now,
        }
    }

    /// Where the call is.
    pub fn phase(&self) -> FollowPhase {
        self.phase
    }

    /// How long to wait before the next read (ms).
    pub fn read_in(&self) -> i64 {
        self.read_in
    }

    /// The longest wait while the call is up: a third of the lease (the renewal pace), at most
    /// [`UP_READ_MAX_MS`].
    fn up_read_max(&self) -> i64 {
        (self.lease_ms / 3).clamp(FAST_READ_MS, UP_READ_MAX_MS)
    }

    /// How long the heartbeat may stay unchanged, as this node reads it, before the serving node is taken as
    /// lost: a lease (three beats, one every third of it), plus this node's own read interval (a beat is seen
    /// up to one read late) and the serving node's read budget (half its interval, a sixth of the lease: a
    /// beat that lost its compare-and-sets is retried within it). Two skipped beats never cut a live call.
    pub fn silence_limit(&self) -> i64 {
        self.lease_ms.saturating_add(self.up_read_max()).saturating_add(self.lease_ms / 6)
    }

    /// The dial as read at `now`, with the notes not read before (`unread`, in order).
    pub fn on_read(&mut self, doc: &DialDocument, unread: &[&RecordedNote], now: UnixMillis) -> FollowStep {
        for note in unread {
            match &note.note {
                DialNote::StreamStarted { .. } if self.phase == FollowPhase::Setup => {
                    self.phase = FollowPhase::Up;
                    // The heartbeat's silence counts from the stream's start.
                    self.beat_changed_at = now;
                }
                DialNote::StreamEnded { .. } => self.phase = FollowPhase::Ending,
                DialNote::Status { .. } if doc.final_status.as_ref().is_some_and(|end| end.seq == note.seq) => {
                    self.phase = FollowPhase::Ending
                }
                _ => {}
            }
        }
        let beats = doc.served.as_ref().map(|beat| beat.beats);
        if beats.is_some() && beats != self.beats_seen {
            self.beats_seen = beats;
            self.beat_changed_at = now;
        }
        // Fast while something is due (the answer, the rest of the end) or news just came; while the call is
        // up and quiet, each read waits twice the last, up to the cap.
        self.read_in = match self.phase {
            FollowPhase::Up if unread.is_empty() => self.read_in.saturating_mul(2).min(self.up_read_max()),
            _ => FAST_READ_MS,
        };
        // Judged only once a beat was seen: a serving node of an older release never beats, and its calls are
        // not cut for it (their end notes still come). Past a silence of `silence_limit`, three beats and more
        // were missed.
        let silent = now.saturating_sub(self.beat_changed_at) >= self.silence_limit();
        if self.phase == FollowPhase::Up && self.beats_seen.is_some() && silent {
            self.phase = FollowPhase::Ending;
            self.read_in = FAST_READ_MS;
            return FollowStep::ServingLost;
        }
        FollowStep::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dials::{DialDocument, NewDial};

    const LEASE: i64 = 9_000;

    fn dial(at: UnixMillis) -> DialDocument {
        dial_leased(at, LEASE)
    }

    /// A dial whose lease outlasts the test (the placing node's renewals are not what a follow test is about).
    fn long_dial() -> DialDocument {
        dial_leased(0, 1_000_000)
    }

    fn dial_leased(at: UnixMillis, ttl: i64) -> DialDocument {
        let new = NewDial {
            batch_id: "b1".into(),
            contact: "b1:1".into(),
            agent: "caller".into(),
            provider: "vobiz".into(),
            auth_id: "MA_VOBIZ".into(),
            variables: Vec::new(),
            amd: None,
        };
        DialDocument::placed(new, "node-a", at, ttl)
    }

    fn started() -> DialNote {
        DialNote::StreamStarted { call_id: "CA1".into(), node: "node-b".into() }
    }

    /// The serving node's reads on a virtual clock, the placing node renewing every third of the lease until
    /// `dies_at`: the time of the hang-up and its cause.
    fn serve(dies_at: UnixMillis, skew_ms: i64) -> (UnixMillis, HangUpCause) {
        let mut doc = dial(0);
        let mut watch = ServingWatch::new(LEASE, skew_ms);
        // The placing node's clock is the virtual clock; the serving node's runs `skew_ms` ahead.
        let mut now = 0;
        let mut renewed_at = 0;
        while now < 120_000 {
            if now < dies_at && now - renewed_at >= LEASE / 3 {
                doc = doc.renew("node-a", now, LEASE).unwrap();
                renewed_at = now;
            }
            if now + skew_ms >= watch.next_check_at() {
                if let WatchStep::HangUp(cause) = watch.on_read(Some(&doc), now + skew_ms) {
                    return (now, cause);
                }
            }
            now += 100;
        }
        panic!("never hung up");
    }

    #[test]
    fn the_serving_node_keeps_a_renewed_call_and_hangs_up_once_renewals_stop() {
        let (at, cause) = serve(30_000, 0);
        assert_eq!(cause, HangUpCause::Lapsed);
        // The last renewal was at 27 s (lease until 36 s): a whole lease without a renewal seen, so hung up at
        // the lapse, never before it, and within a third of a lease (one read) after it.
        assert!((36_000..=36_000 + LEASE / 3).contains(&at), "{at}");
    }

    #[test]
    fn clock_skew_within_the_margin_never_hangs_up_a_live_call_nor_keeps_a_dead_one() {
        for skew in [-MAX_CLOCK_SKEW_MS, -500, 0, 500, MAX_CLOCK_SKEW_MS - 1] {
            let (at, _) = serve(60_000, skew);
            assert!(at >= 60_000, "skew {skew}: a live call hung up at {at}");
            // Dead at 60 s (last renewal at 57 s, lease until 66 s): down within a lease and a read of the
            // last renewal on the serving node's own clock, whatever the placing node's said.
            assert!(at <= 57_000 + LEASE + LEASE / 3, "skew {skew}: hung up only at {at}");
        }
        // A clock far ahead still hangs up no later than it sees renewals stop: only earlier than it should
        // (by the skew beyond the margin), never later.
        let (at, _) = serve(60_000, 30_000);
        assert!(at < 60_000 + LEASE, "{at}");
    }

    #[test]
    fn a_settled_or_removed_dial_is_hung_up_at_the_next_read() {
        let mut watch = ServingWatch::new(LEASE, 0);
        let doc = dial(0);
        assert_eq!(watch.on_read(Some(&doc), 0), WatchStep::Keep);
        assert_eq!(watch.next_check_at(), LEASE / 3);
        let settled = doc.settled("node-c", 2_000).unwrap().unwrap();
        let cause = HangUpCause::Settled { by: "node-c".into() };
        assert_eq!(watch.on_read(Some(&settled), 3_000), WatchStep::HangUp(cause));
        assert_eq!(watch.on_read(None, 6_000), WatchStep::HangUp(HangUpCause::Gone));
    }

    #[test]
    fn a_beat_lost_to_other_writers_is_tried_again_soon() {
        let mut watch = ServingWatch::new(LEASE, 0);
        assert_eq!(watch.on_read(Some(&dial(0)), 1_000), WatchStep::Keep);
        assert_eq!(watch.next_check_at(), 1_000 + LEASE / 3);
        watch.on_beat_skipped(1_000);
        assert_eq!(watch.next_check_at(), 1_000 + FAST_READ_MS);
    }

    #[test]
    fn a_store_that_does_not_answer_hangs_the_call_up_before_its_lease_could_lapse() {
        let mut watch = ServingWatch::new(LEASE, 0);
        assert_eq!(watch.on_read(Some(&dial(0)), 0), WatchStep::Keep);
        assert_eq!(watch.on_read_failed(3_000), WatchStep::Keep);
        assert_eq!(watch.on_read_failed(5_999), WatchStep::Keep);
        // Two thirds of the lease since the last good read: down 3 s before the lease (9 s) lapses.
        assert_eq!(watch.on_read_failed(6_000), WatchStep::HangUp(HangUpCause::StoreUnreachable));
        // A good read in between starts the count again.
        let mut watch = ServingWatch::new(LEASE, 0);
        let doc = dial(0).renew("node-a", 4_000, LEASE).unwrap();
        assert_eq!(watch.on_read_failed(3_000), WatchStep::Keep);
        assert_eq!(watch.on_read(Some(&doc), 4_000), WatchStep::Keep);
        assert_eq!(watch.on_read_failed(9_999), WatchStep::Keep);
        assert_eq!(watch.on_read_failed(10_000), WatchStep::HangUp(HangUpCause::StoreUnreachable));
    }

    /// Follows a dial on a virtual clock as the placing node's reader does: (read times, the step at each).
    fn follow_reads(doc_at: impl Fn(UnixMillis) -> DialDocument, until: UnixMillis) -> Vec<(UnixMillis, FollowStep)> {
        let mut follow = DialFollow::new(LEASE, 0);
        let mut last_seq = 0;
        let mut now = 0;
        let mut out = Vec::new();
        while now <= until {
            now += follow.read_in();
            let doc = doc_at(now);
            let unread: Vec<&RecordedNote> = doc.unread(last_seq);
            if let Some(last) = unread.last() {
                last_seq = last.seq;
            }
            out.push((now, follow.on_read(&doc, &unread, now)));
        }
        out
    }

    #[test]
    fn reads_are_fast_until_the_stream_starts_back_off_while_it_runs_and_are_fast_again_at_its_end() {
        // Answered at 1 s, the stream beats every 3 s, ends at 60 s.
        let script = |now: UnixMillis| {
            let mut doc = long_dial();
            if now >= 1_000 {
                doc = doc.with_note(started(), 1_000).unwrap();
                for beat in (1_000..=now.min(60_000)).step_by(3_000) {
                    doc = doc.with_heartbeat("node-b", "CA1", beat).unwrap();
                }
            }
            if now >= 60_000 {
                doc = doc.with_note(DialNote::StreamEnded { node: "node-b".into() }, 60_000).unwrap();
            }
            doc
        };
        let reads = follow_reads(script, 61_000);
        assert!(reads.iter().all(|(_, step)| *step == FollowStep::Continue), "the heartbeat kept it live");
        let gaps: Vec<(UnixMillis, i64)> = reads.windows(2).map(|w| (w[1].0, w[1].0 - w[0].0)).collect();
        // Five reads a second before the answer.
        assert!(gaps.iter().filter(|(at, _)| *at <= 1_000).all(|(_, gap)| *gap == FAST_READ_MS), "{gaps:?}");
        // While up: backing off to the cap (a third of the lease, at most 2 s), so about one read per 2 s.
        let up: Vec<i64> = gaps.iter().filter(|(at, _)| (10_000..60_000).contains(at)).map(|g| g.1).collect();
        assert!(up.iter().all(|gap| *gap == UP_READ_MAX_MS), "{up:?}");
        let up_reads = reads.iter().filter(|(at, _)| (1_000..60_000).contains(at)).count();
        assert!(up_reads <= 35, "{up_reads} reads in a 59 s call (5 a second would be 295)");
        // The end is learnt within one capped interval, and the reads after it are fast.
        let first_after_end = reads.iter().find(|(at, _)| *at >= 60_000).unwrap().0;
        assert!(first_after_end - 60_000 <= UP_READ_MAX_MS);
        assert!(gaps.iter().filter(|(at, _)| *at > first_after_end).all(|(_, gap)| *gap == FAST_READ_MS));
    }

    #[test]
    fn a_stream_whose_heartbeat_stops_for_a_lease_is_given_up_once() {
        // The serving node beats at 1, 4 and 7 s, then nothing (it died, or cannot write): the call's end notes
        // never come.
        let script = |now: UnixMillis| {
            let mut doc = long_dial();
            if now >= 1_000 {
                doc = doc.with_note(started(), 1_000).unwrap();
                for beat in (1_000..=now.min(7_000)).step_by(3_000) {
                    doc = doc.with_heartbeat("node-b", "CA1", beat).unwrap();
                }
            }
            doc
        };
        let reads = follow_reads(script, 40_000);
        let lost: Vec<UnixMillis> =
            reads.iter().filter(|(_, step)| *step == FollowStep::ServingLost).map(|(at, _)| *at).collect();
        assert_eq!(lost.len(), 1, "given once: {reads:?}");
        // The last beat was seen at the first read after 7 s; given up past the silence limit (a lease, a read
        // interval and the serving node's read budget), within one read.
        let limit = DialFollow::new(LEASE, 0).silence_limit();
        assert_eq!(limit, LEASE + UP_READ_MAX_MS + LEASE / 6);
        assert!((7_000 + limit..=7_000 + limit + 2 * UP_READ_MAX_MS).contains(&lost[0]), "{lost:?}");
        // A stream that never beat at all (a serving node of an older release, during a rolling upgrade) is not
        // judged by a heartbeat it never sends: followed until its end notes come.
        let silent = |now: UnixMillis| {
            let doc = long_dial();
            if now >= 1_000 {
                doc.with_note(started(), 1_000).unwrap()
            } else {
                doc
            }
        };
        let reads = follow_reads(silent, 60_000);
        assert!(reads.iter().all(|(_, step)| *step == FollowStep::Continue), "{reads:?}");
    }

    #[test]
    fn two_skipped_beats_never_cut_a_live_call() {
        // Beats at 1 s, then two skipped (lost compare-and-sets, a slow store), the next one late by the
        // serving node's read budget: 1 + 3 * 3 + 1.5 = 11.5 s, then on schedule.
        let script = |now: UnixMillis| {
            let mut doc = long_dial();
            if now >= 1_000 {
                doc = doc.with_note(started(), 1_000).unwrap();
                doc = doc.with_heartbeat("node-b", "CA1", 1_000).unwrap();
                for beat in (11_500..=now).step_by(3_000) {
                    doc = doc.with_heartbeat("node-b", "CA1", beat).unwrap();
                }
            }
            doc
        };
        let reads = follow_reads(script, 40_000);
        assert!(reads.iter().all(|(_, step)| *step == FollowStep::Continue), "{reads:?}");
    }

    #[test]
    fn a_call_that_never_streams_is_read_fast_and_never_given_up_by_the_heartbeat() {
        // Ringing, then busy at 8 s: no stream, so no heartbeat is expected (the set-up limit bounds it).
        let script = |now: UnixMillis| {
            let doc = long_dial();
            if now >= 8_000 {
                let busy =
                    DialNote::Status { fields: vec![("CallStatus".into(), "busy".into())], node: "node-b".into() };
                doc.with_note(busy, 8_000).unwrap()
            } else {
                doc
            }
        };
        let reads = follow_reads(script, 20_000);
        assert!(reads.iter().all(|(_, step)| *step == FollowStep::Continue));
        assert!(reads.windows(2).all(|w| w[1].0 - w[0].0 == FAST_READ_MS));
    }
}
