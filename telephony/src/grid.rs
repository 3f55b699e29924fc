//! The process-wide tick grid: every call's 20 ms tick lands on a shared grid of instants, so a media worker
//! wakes once per grid slot for all its calls, and `TickPhase` moves each call's tick to the slot just after
//! its caller's packets arrive.

use std::time::Duration;

use tokio::time::Instant;

fn grid_epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The next instant on a process-wide grid of `ptime` steps.
pub(crate) fn aligned_start(ptime: Duration) -> Instant {
    next_on_grid(ptime, Duration::ZERO, Instant::now())
}

/// The first instant after `now` that lies `offset` past a point of the process-wide `ptime` grid.
pub(crate) fn next_on_grid(ptime: Duration, offset: Duration, now: Instant) -> Instant {
    let epoch = grid_epoch();
    let step = ptime.as_nanos().max(1);
    let elapsed = now.saturating_duration_since(epoch).as_nanos();
    let offset = offset.as_nanos() % step;
    let mut next = elapsed / step * step + offset;
    if next <= elapsed {
        next += step;
    }
    epoch + Duration::from_nanos(next.min(u64::MAX as u128) as u64)
}

/// Where `at` falls within the process-wide `ptime` grid.
pub(crate) fn grid_phase(ptime: Duration, at: Instant) -> Duration {
    let step = ptime.as_nanos().max(1);
    Duration::from_nanos((at.saturating_duration_since(grid_epoch()).as_nanos() % step) as u64)
}

/// Puts a call's tick just after its caller's packets arrive, on one of [`TICK_SLOTS`] phases of the grid.
///
/// An RTP call reads its socket once per tick, so a packet waits for the next tick: up to a whole ptime
/// (0–20 ms, 10 on average) added to every turn if the tick's phase is left to chance. Here the tick moves to
/// the first slot after the packets' measured arrival phase plus a margin that grows with jitter. Slots keep
/// the wake-ups coalesced (calls share four instants per ptime, not one each), so the grid's saving in
/// scheduling is mostly kept. Sans-IO: the loop measures, this decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TickPhase {
    ptime: Duration,
    /// The tick's current offset from the grid.
    offset: Duration,
}

/// Phases per ptime a call's tick may take (every 5 ms at 20 ms).
const TICK_SLOTS: u32 = 4;
/// Least time between a packet's arrival and the tick that reads it.
const ARRIVAL_MARGIN: Duration = Duration::from_millis(1);

impl TickPhase {
    pub(crate) fn new(ptime: Duration) -> Self {
        Self { ptime, offset: Duration::ZERO }
    }

    /// A packet arrived at `phase` into the grid period; `jitter` is the stream's estimate. Returns the new
    /// offset if the tick should move.
    pub(crate) fn on_arrival(&mut self, phase: Duration, jitter: Duration) -> Option<Duration> {
        let slot = self.ptime / TICK_SLOTS;
        let margin = (ARRIVAL_MARGIN + jitter * 3).min(self.ptime / 2);
        let wanted = phase + margin;
        let slots = wanted.as_nanos().div_ceil(slot.as_nanos().max(1)) as u32 % TICK_SLOTS;
        let offset = slot * slots;
        (offset != self.offset).then(|| {
            self.offset = offset;
            offset
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTIME: Duration = Duration::from_millis(20);

    #[test]
    fn the_tick_moves_to_the_first_slot_after_arrival_plus_margin() {
        let mut phase = TickPhase::new(PTIME);
        let ms = Duration::from_millis;
        // Packets arrive 3 ms into the period: 3 + 1 ms margin → the 5 ms slot.
        assert_eq!(phase.on_arrival(ms(3), Duration::ZERO), Some(ms(5)));
        assert_eq!(phase.on_arrival(ms(3), Duration::ZERO), None, "already there");
        // More jitter, more margin: 3 + 1 + 3 × 2 ms = 10 ms → the 10 ms slot.
        assert_eq!(phase.on_arrival(ms(3), ms(2)), Some(ms(10)));
        // Arrivals late in the period wrap to the next period's first slot.
        assert_eq!(phase.on_arrival(ms(19), Duration::ZERO), Some(ms(0)));
        // The margin never exceeds half a ptime, however bad the jitter.
        assert_eq!(phase.on_arrival(ms(1), ms(100)), Some(ms(15)));
    }

    #[test]
    fn grid_instants_have_the_asked_phase_and_lie_ahead() {
        grid_epoch();
        let now = Instant::now();
        for offset in [0, 5, 10, 15] {
            let offset = Duration::from_millis(offset);
            let next = next_on_grid(PTIME, offset, now);
            assert!(next > now && next <= now + PTIME, "{offset:?}");
            assert_eq!(grid_phase(PTIME, next), offset);
        }
    }
}
