//! Where a paced sender's frames fall on wall time: the RTP timestamp of the frame a tick sends is the grid
//! slot the tick fired in, not a count of the ticks that fired.
//!
//! A tick loop that skips missed ticks (a stalled task must not burst its backlog out) sends fewer frames than
//! wall time holds. Counting frames sent puts every frame after a stall that much later than its timestamp
//! says: the browser's jitter buffer (NetEq) reads the stall as network delay, raises its playout delay, and
//! keeps it raised for seconds; every later barge-in is heard that much later. Stamped by slot, a stall is a
//! gap in the timeline (concealed once, like a lost packet) and every frame after it is on time again.
//! Sans-IO: the tick's instant is passed in.

use std::time::{Duration, Instant};

/// Frames of `ptime` on a grid that starts at `origin` (a tick instant); each tick's frame takes the slot it
/// fired in, and never one before or equal to the last frame's.
#[derive(Debug, Clone)]
pub struct FrameClock {
    ptime: Duration,
    origin: Option<Instant>,
    last: Option<u64>,
    /// Grid slots no frame was sent in (ticks the task missed).
    skipped: u64,
    /// The latest a tick fired after its slot began (this clock's life).
    latest: Duration,
}

impl FrameClock {
    /// A clock for frames of `ptime` on a grid through `origin`; with `None`, the first tick's instant is the
    /// grid's origin.
    pub fn new(ptime: Duration, origin: Option<Instant>) -> Self {
        Self { ptime, origin, last: None, skipped: 0, latest: Duration::ZERO }
    }

    /// The slot of the frame a tick firing at `now` sends: the grid slot `now` falls in, or the one after
    /// the last frame's if that is later (a tick fired early, before the grid point it was meant for).
    pub fn slot(&mut self, now: Instant) -> u64 {
        let origin = *self.origin.get_or_insert(now);
        let elapsed = now.saturating_duration_since(origin);
        let step = self.ptime.as_nanos().max(1);
        let on_grid = (elapsed.as_nanos() / step) as u64;
        let late = Duration::from_nanos((elapsed.as_nanos() % step) as u64);
        let slot = match self.last {
            Some(last) if on_grid <= last => last + 1,
            Some(last) => {
                self.skipped += on_grid - last - 1;
                self.latest = self.latest.max(late);
                on_grid
            }
            None => on_grid,
        };
        self.last = Some(slot);
        slot
    }

    /// Grid slots in which no frame was sent, so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The latest a tick has fired into its slot (0 to one ptime): how much a frame's send trails its stamp.
    pub fn latest_in_slot(&self) -> Duration {
        self.latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTIME: Duration = Duration::from_millis(20);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ticks_on_time_take_consecutive_slots() {
        let origin = Instant::now();
        let mut clock = FrameClock::new(PTIME, Some(origin));
        // Timer wake-ups come a little after the grid point, by a varying amount.
        let slots: Vec<u64> = [0, 21, 40, 62, 81].iter().map(|&t| clock.slot(origin + ms(t))).collect();
        assert_eq!(slots, [0, 1, 2, 3, 4]);
        assert_eq!(clock.skipped(), 0);
        assert_eq!(clock.latest_in_slot(), ms(2));
    }

    #[test]
    fn a_stall_is_a_gap_and_the_frames_after_it_are_on_time() {
        let origin = Instant::now();
        let mut clock = FrameClock::new(PTIME, Some(origin));
        assert_eq!(clock.slot(origin), 0);
        assert_eq!(clock.slot(origin + ms(20)), 1);
        // The task stalls 95 ms: the tick due at 40 ms fires at 115 ms (a skipping interval then fires at the
        // next grid point, 120 ms). Its frame is stamped where it is sent, not after the last frame sent.
        assert_eq!(clock.slot(origin + ms(115)), 5);
        assert_eq!(clock.skipped(), 3, "slots 2, 3 and 4 had no frame");
        assert_eq!(clock.slot(origin + ms(120)), 6);
        assert_eq!(clock.slot(origin + ms(141)), 7);
        assert_eq!(clock.skipped(), 3);
        assert_eq!(clock.latest_in_slot(), ms(15));
    }

    #[test]
    fn slots_never_repeat_or_go_back() {
        let origin = Instant::now();
        let mut clock = FrameClock::new(PTIME, None);
        // The first tick sets the grid; a tick that comes early (before its grid point) still gets a new slot.
        assert_eq!(clock.slot(origin), 0);
        assert_eq!(clock.slot(origin + ms(19)), 1);
        assert_eq!(clock.slot(origin + ms(20)), 2);
        assert_eq!(clock.slot(origin + ms(60)), 3);
        assert_eq!(clock.slot(origin + ms(80)), 4);
        // An instant before the origin (a clock that went nowhere) is slot 0 on the grid: still a new slot.
        assert_eq!(clock.slot(origin), 5);
    }
}
