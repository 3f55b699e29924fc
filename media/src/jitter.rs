//! Adaptive jitter buffer, sans-IO.
//!
//! Packets go in as they arrive ([`JitterBuffer::push`]); the call's 20 ms tick takes one frame out
//! ([`JitterBuffer::pop`]), which is either a packet, a loss to conceal, or an underrun. The target depth follows
//! the RFC 3550 interarrival-jitter estimate (twice the jitter plus one frame, clamped to the configured bounds);
//! the buffer starts playing once that much is queued and drops a frame when it holds far more than the target,
//! so a burst does not leave permanent latency. Ordering uses extended sequence numbers, so reordering and
//! wrap-around are handled; late and duplicate packets are dropped and counted. Storage is a fixed ring of
//! slots: no allocation per packet.

use std::time::{Duration, Instant};

/// Ring size. At 20 ms per packet this is 640 ms, three times the largest `max_depth`.
const SLOTS: usize = 32;
/// Ticks (1 s) the buffer may hold more than its target before it drops a frame to catch up.
const STANDING_EXCESS_TICKS: u32 = 50;
/// Largest payload stored (Opus at 510 kbit/s × 20 ms is 1275 B; telephony payloads are far smaller).
pub const MAX_PAYLOAD: usize = 1280;

/// Bounds of the adaptive depth.
#[derive(Debug, Clone, Copy)]
pub struct JitterConfig {
    /// Shortest depth: one packet time absorbs scheduling noise without adding audible delay.
    pub min_depth: Duration,
    /// Longest depth: beyond ~200 ms conversation suffers more from delay than from loss.
    pub max_depth: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self { min_depth: Duration::from_millis(20), max_depth: Duration::from_millis(200) }
    }
}

/// Counters, exported to metrics and RTCP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets pushed, whatever became of them.
    pub received: u64,
    /// Frames played out from a packet.
    pub played: u64,
    /// Sequence numbers never received in time: each is concealed.
    pub lost: u64,
    /// Packets that arrived after their slot was played (dropped).
    pub late: u64,
    /// Packets whose sequence number was already buffered (dropped).
    pub duplicate: u64,
    /// Packets larger than a slot holds (dropped).
    pub oversize: u64,
    /// Frames dropped to shrink the buffer after a burst.
    pub dropped_for_latency: u64,
    /// Ticks that found nothing to play.
    pub underruns: u64,
}

/// What the playout tick gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Playout<'a> {
    /// A buffered packet, due now.
    Packet {
        /// Its payload, borrowed from the buffer's slot.
        payload: &'a [u8],
        /// Its RTP timestamp.
        timestamp: u32,
        /// Its payload type (telephone events share the stream).
        payload_type: u8,
    },
    /// The packet for this slot is missing but later ones exist: conceal one frame.
    Lost,
    /// Nothing buffered (or still filling): play silence/concealment and wait.
    Underrun,
}

#[derive(Clone)]
struct Slot {
    ext_seq: u64,
    filled: bool,
    timestamp: u32,
    payload_type: u8,
    len: usize,
    data: [u8; MAX_PAYLOAD],
}

/// The buffer for one RTP source.
pub struct JitterBuffer {
    config: JitterConfig,
    slots: Box<[Slot]>,
    /// Next sequence to play; `None` before the first packet.
    next_seq: Option<u64>,
    /// Highest sequence stored.
    highest: Option<u64>,
    playing: bool,
    /// Packet duration, learned from timestamps (default 20 ms).
    frame: Duration,
    clock_rate: u32,
    /// RFC 3550 jitter estimate in seconds.
    jitter: f64,
    last_transit: Option<f64>,
    epoch: Option<Instant>,
    /// Consecutive ticks with more buffered than the target.
    excess_ticks: u32,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer for a stream with this RTP clock rate (jitter is measured in its units).
    pub fn new(config: JitterConfig, clock_rate: u32) -> Self {
        let empty = Slot { ext_seq: 0, filled: false, timestamp: 0, payload_type: 0, len: 0, data: [0; MAX_PAYLOAD] };
        Self {
            config,
            slots: vec![empty; SLOTS].into_boxed_slice(),
            next_seq: None,
            highest: None,
            playing: false,
            frame: Duration::from_millis(20),
            clock_rate: clock_rate.max(1),
            jitter: 0.0,
            last_transit: None,
            epoch: None,
            excess_ticks: 0,
            stats: JitterStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Current jitter estimate.
    pub fn jitter(&self) -> Duration {
        Duration::from_secs_f64(self.jitter)
    }

    /// Depth the buffer aims for now.
    pub fn target_depth(&self) -> Duration {
        let target = Duration::from_secs_f64(2.0 * self.jitter) + self.frame;
        target.clamp(self.config.min_depth, self.config.max_depth)
    }

    /// Frames buffered at a tick (counting the one about to play) that give the target depth. One frame is
    /// a packet that arrived since the last tick, already 0–20 ms old; each further frame adds a packet time.
    /// (Rounding the whole depth up made any measurable jitter, even 0.1 ms of scheduling noise, cost a
    /// standing 20 ms.)
    fn target_frames(&self) -> u64 {
        let extra = self.target_depth().saturating_sub(self.frame);
        1 + (extra.as_secs_f64() / self.frame.as_secs_f64()).round() as u64
    }

    /// After this tick's [`JitterBuffer::pop`]: whether more is left than the target depth needs (a late
    /// packet and its successor arrived together). The target counts the frame a tick plays, so what is
    /// left should be one less. A consumer that need not play in real time, like the conversation engine,
    /// may take the surplus now.
    pub fn has_surplus(&self) -> bool {
        self.playing && self.buffered_frames() >= self.target_frames()
    }

    /// Frames currently queued from the play position to the highest stored.
    pub fn buffered_frames(&self) -> u64 {
        match (self.next_seq, self.highest) {
            (Some(next), Some(high)) if high >= next => high - next + 1,
            _ => 0,
        }
    }

    /// Stores a packet. `ext_seq` comes from a [`crate::rtp::SequenceExtender`].
    pub fn push(&mut self, ext_seq: u64, timestamp: u32, payload_type: u8, payload: &[u8], now: Instant) {
        self.stats.received += 1;
        if payload.len() > MAX_PAYLOAD {
            self.stats.oversize += 1;
            return;
        }
        self.update_jitter(timestamp, now);
        match self.next_seq {
            Some(next) if ext_seq < next => {
                self.stats.late += 1;
                return;
            }
            Some(next) if ext_seq >= next + SLOTS as u64 => {
                // A jump larger than the ring (sender restart, long outage): start over from this packet.
                self.stats.lost += ext_seq - next;
                self.clear_slots();
                self.next_seq = Some(ext_seq);
                self.highest = None;
                self.playing = false;
            }
            None => self.next_seq = Some(ext_seq),
            _ => {}
        }
        // Before playout starts, an earlier packet may still arrive: let it become the start.
        if !self.playing && self.next_seq.is_some_and(|n| ext_seq < n) {
            self.next_seq = Some(ext_seq);
        }
        let slot = &mut self.slots[(ext_seq % SLOTS as u64) as usize];
        if slot.filled && slot.ext_seq == ext_seq {
            self.stats.duplicate += 1;
            return;
        }
        if let Some(prev) = self.highest.filter(|prev| ext_seq == prev + 1) {
            self.learn_frame_duration(prev, timestamp);
        }
        let slot = &mut self.slots[(ext_seq % SLOTS as u64) as usize];
        slot.ext_seq = ext_seq;
        slot.filled = true;
        slot.timestamp = timestamp;
        slot.payload_type = payload_type;
        slot.len = payload.len();
        slot.data[..payload.len()].copy_from_slice(payload);
        self.highest = Some(self.highest.map_or(ext_seq, |h| h.max(ext_seq)));
    }

    /// Takes the frame for this tick.
    pub fn pop(&mut self) -> Playout<'_> {
        let Some(next) = self.next_seq else { return Playout::Underrun };
        if !self.playing {
            if self.buffered_frames() >= self.target_frames() {
                self.playing = true;
            } else {
                return Playout::Underrun;
            }
        }
        if self.buffered_frames() == 0 {
            // Nothing at or after the play position: wait for the sender without moving on, so that packets
            // after a pause are not mistaken for late ones.
            self.playing = false;
            self.stats.underruns += 1;
            return Playout::Underrun;
        }
        // Above target for a whole second (a packet that once came just after its tick leaves every later
        // one waiting a tick longer), or far above it after a burst: skip the oldest frame to bring latency
        // down.
        let excess = self.buffered_frames().saturating_sub(self.target_frames());
        self.excess_ticks = if excess > 0 { self.excess_ticks + 1 } else { 0 };
        let mut next = next;
        if excess > 3 || self.excess_ticks >= STANDING_EXCESS_TICKS {
            self.excess_ticks = 0;
            let slot = &mut self.slots[(next % SLOTS as u64) as usize];
            if slot.filled && slot.ext_seq == next {
                slot.filled = false;
                self.stats.dropped_for_latency += 1;
            } else {
                self.stats.lost += 1;
            }
            next += 1;
        }
        self.next_seq = Some(next + 1);
        let index = (next % SLOTS as u64) as usize;
        if self.slots[index].filled && self.slots[index].ext_seq == next {
            self.slots[index].filled = false;
            self.stats.played += 1;
            let slot = &self.slots[index];
            Playout::Packet {
                payload: &slot.data[..slot.len],
                timestamp: slot.timestamp,
                payload_type: slot.payload_type,
            }
        } else {
            self.stats.lost += 1;
            Playout::Lost
        }
    }

    /// Drops everything (new SSRC).
    pub fn reset(&mut self) {
        self.clear_slots();
        self.next_seq = None;
        self.highest = None;
        self.playing = false;
        self.last_transit = None;
    }

    fn clear_slots(&mut self) {
        for slot in self.slots.iter_mut() {
            slot.filled = false;
        }
    }

    /// Learns the packet duration from two consecutive packets' timestamps.
    fn learn_frame_duration(&mut self, prev_seq: u64, timestamp: u32) {
        let prev = &self.slots[(prev_seq % SLOTS as u64) as usize];
        if !prev.filled || prev.ext_seq != prev_seq {
            return;
        }
        let delta = timestamp.wrapping_sub(prev.timestamp);
        let duration = Duration::from_secs_f64(delta as f64 / self.clock_rate as f64);
        if duration >= Duration::from_millis(10) && duration <= Duration::from_millis(120) {
            self.frame = duration;
        }
    }

    fn update_jitter(&mut self, timestamp: u32, now: Instant) {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = (now - epoch).as_secs_f64();
        let transit = arrival - timestamp as f64 / self.clock_rate as f64;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            // Ignore jumps beyond any jitter worth buffering for (sender pauses, clock resets): averaging them in
            // would hold audio back for seconds after every pause.
            if d < 0.3 {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.last_transit = Some(transit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny seeded generator, so every simulated network is reproducible.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    struct Outcome {
        played: Vec<u64>,
        lost: u64,
        stats: JitterStats,
    }

    /// Sends `count` packets every 20 ms through a network with `loss_pct` loss and up to `jitter_ms` delay,
    /// and ticks the playout every 20 ms, on virtual time.
    fn simulate(seed: u64, count: u64, loss_pct: u64, jitter_ms: u64) -> Outcome {
        let mut rng = Lcg(seed);
        let t0 = Instant::now();
        let mut arrivals: Vec<(Duration, u64)> = Vec::new();
        for seq in 0..count {
            if rng.below(100) >= loss_pct {
                arrivals.push((Duration::from_millis(seq * 20 + rng.below(jitter_ms + 1)), seq));
            }
        }
        arrivals.sort();
        let mut jb = JitterBuffer::new(JitterConfig::default(), 8000);
        let (mut played, mut lost) = (Vec::new(), 0);
        let mut next_arrival = 0;
        for tick in 0..(count + 30) {
            let now = Duration::from_millis(tick * 20);
            while next_arrival < arrivals.len() && arrivals[next_arrival].0 <= now {
                let seq = arrivals[next_arrival].1;
                jb.push(1000 + seq, (seq * 160) as u32, 0, &[seq as u8; 160], t0 + arrivals[next_arrival].0);
                next_arrival += 1;
            }
            match jb.pop() {
                Playout::Packet { timestamp, .. } => played.push(timestamp as u64 / 160),
                Playout::Lost => lost += 1,
                Playout::Underrun => {}
            }
        }
        Outcome { played, lost, stats: jb.stats() }
    }

    #[test]
    fn clean_network_plays_everything_in_order() {
        let out = simulate(1, 200, 0, 0);
        assert_eq!(out.played, (0..200).collect::<Vec<_>>());
        assert_eq!(out.lost, 0);
    }

    #[test]
    fn reordering_within_the_depth_is_repaired() {
        let out = simulate(7, 500, 0, 35);
        assert!(out.played.windows(2).all(|w| w[0] < w[1]), "playout is monotonic");
        let late_or_lost = out.stats.late + out.lost;
        assert!(late_or_lost <= 10, "{late_or_lost} of 500 frames lost to 35 ms jitter: {:?}", out.stats);
    }

    #[test]
    fn losses_are_reported_as_losses_at_their_position() {
        let out = simulate(3, 500, 5, 0);
        let missing = 500 - out.played.len() as u64;
        // Every missing packet becomes one Lost tick; a loss is first taken for lateness (an underrun tick),
        // and the tick of delay that leaves is later won back by skipping a frame.
        assert_eq!(out.lost + out.stats.dropped_for_latency, missing, "{:?}", out.stats);
        assert!(out.lost > 10 && out.lost < 45, "5 % loss gave {}", out.lost);
    }

    #[test]
    fn late_and_duplicate_packets_are_dropped_and_counted() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default(), 8000);
        jb.push(10, 0, 0, b"a", t0);
        jb.push(10, 0, 0, b"a", t0);
        assert_eq!(jb.stats().duplicate, 1);
        assert!(matches!(jb.pop(), Playout::Packet { .. }));
        jb.push(9, 0, 0, b"z", t0);
        assert_eq!(jb.stats().late, 1);
        jb.push(11, 160, 0, &[0u8; MAX_PAYLOAD + 1], t0);
        assert_eq!(jb.stats().oversize, 1);
    }

    #[test]
    fn a_pause_does_not_make_resumed_packets_late() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default(), 8000);
        jb.push(1, 0, 0, b"a", t0);
        assert!(matches!(jb.pop(), Playout::Packet { .. }));
        for _ in 0..50 {
            assert_eq!(jb.pop(), Playout::Underrun);
        }
        jb.push(2, 160, 0, b"b", t0 + Duration::from_secs(1));
        assert!(matches!(jb.pop(), Playout::Packet { payload: b"b", .. }));
        assert_eq!(jb.stats().late, 0);
    }

    #[test]
    fn one_late_packet_does_not_leave_a_standing_delay() {
        // Packets arrive 5 ms before their tick, except one that comes 5 ms after it.
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default(), 8000);
        let mut lag = Vec::new();
        for tick in 0..200u64 {
            let seqs: &[u64] = match tick {
                10 => &[],
                11 => &[10, 11],
                _ => &[tick],
            };
            for &seq in seqs {
                let late = if seq == 10 { 25 } else { 15 };
                jb.push(seq, (seq * 160) as u32, 0, b"x", t0 + Duration::from_millis(seq * 20 + late));
            }
            if let Playout::Packet { timestamp, .. } = jb.pop() {
                lag.push(tick - timestamp as u64 / 160);
            }
        }
        assert_eq!(lag[..10], [0; 10]);
        assert_eq!(lag[10], 1, "the late packet costs a tick at first");
        assert!(lag[100..].iter().all(|l| *l == 0), "and not for the rest of the call: {lag:?}");
        assert_eq!(jb.stats().dropped_for_latency, 1);
    }

    #[test]
    fn depth_adapts_to_measured_jitter() {
        let calm = JitterBuffer::new(JitterConfig::default(), 8000).target_depth();
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(JitterConfig::default(), 8000);
        let mut rng = Lcg(11);
        for seq in 0..300u64 {
            let at = t0 + Duration::from_millis(seq * 20 + rng.below(60));
            jb.push(seq, (seq * 160) as u32, 0, b"x", at);
            let _ = jb.pop();
        }
        assert!(jb.target_depth() > calm, "{:?} vs {:?}", jb.target_depth(), calm);
        assert!(jb.target_depth() <= Duration::from_millis(200));
    }
}
