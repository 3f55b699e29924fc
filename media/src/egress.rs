//! Outgoing audio queue for the paced sender: PCM at the engine rate goes in as it is produced; the call's
//! ptime tick takes exactly one frame out, or silence when the queue runs dry. Barge-in: `set_paused` stops
//! playback at once and keeps the queue (the caller may only have coughed), `flush` empties it (and ends a
//! pause). A fixed ring: no allocation after construction, bounded in audio time.

/// Bounded FIFO of PCM samples.
pub struct EgressQueue {
    ring: Box<[i16]>,
    head: usize,
    len: usize,
    /// Samples dropped because the queue was full (the producer outran real time by more than the capacity).
    pub overflowed: u64,
    /// Ticks that found less than a frame and padded with silence.
    pub underruns: u64,
    /// Playback paused: frames come out silent and the queue keeps its audio.
    paused: bool,
}

impl EgressQueue {
    /// A queue holding up to `capacity` samples.
    pub fn new(capacity: usize) -> Self {
        Self {
            ring: vec![0; capacity.max(1)].into_boxed_slice(),
            head: 0,
            len: 0,
            overflowed: 0,
            underruns: 0,
            paused: false,
        }
    }

    /// Samples queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued (the agent is silent).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends samples; what does not fit is dropped and counted.
    pub fn push(&mut self, samples: &[i16]) {
        let cap = self.ring.len();
        let room = cap - self.len;
        let take = samples.len().min(room);
        self.overflowed += (samples.len() - take) as u64;
        // At most two contiguous runs (up to the ring's end, then from its start): whole-slice copies, not
        // an index wrap per sample (a division each: two thirds of an echo call's media work, measured).
        let tail = (self.head + self.len) % cap;
        let first = take.min(cap - tail);
        self.ring[tail..tail + first].copy_from_slice(&samples[..first]);
        self.ring[..take - first].copy_from_slice(&samples[first..take]);
        self.len += take;
    }

    /// Pauses or resumes playback; a paused queue plays silence and keeps (and still takes) audio.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Whether playback is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Fills `frame` from the queue, padding with silence; returns how many samples were real audio (none
    /// while paused).
    pub fn pop_frame(&mut self, frame: &mut [i16]) -> usize {
        if self.paused {
            frame.fill(0);
            return 0;
        }
        let cap = self.ring.len();
        let take = frame.len().min(self.len);
        let first = take.min(cap - self.head);
        frame[..first].copy_from_slice(&self.ring[self.head..self.head + first]);
        frame[first..take].copy_from_slice(&self.ring[..take - first]);
        frame[take..].fill(0);
        self.head = (self.head + take) % cap;
        self.len -= take;
        if take < frame.len() && take > 0 {
            self.underruns += 1;
        }
        take
    }

    /// Drops everything queued; returns how many samples were discarded.
    pub fn flush(&mut self) -> usize {
        let dropped = self.len;
        self.head = 0;
        self.len = 0;
        self.paused = false;
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_plays_silence_and_resumes_without_skipping() {
        let mut q = EgressQueue::new(16);
        q.push(&[1, 2, 3, 4, 5, 6]);
        let mut frame = [9i16; 2];
        q.pop_frame(&mut frame);
        q.set_paused(true);
        assert_eq!(q.pop_frame(&mut frame), 0);
        assert_eq!(frame, [0, 0]);
        q.push(&[7]);
        assert_eq!(q.len(), 5, "a paused queue keeps and takes audio");
        q.set_paused(false);
        q.pop_frame(&mut frame);
        assert_eq!(frame, [3, 4], "playback goes on where it paused");
        q.set_paused(true);
        assert_eq!(q.flush(), 3);
        assert!(!q.is_paused(), "a flush ends the pause");
    }

    #[test]
    fn frames_come_out_in_order_with_silence_padding() {
        let mut q = EgressQueue::new(8);
        q.push(&[1, 2, 3]);
        let mut frame = [9i16; 2];
        assert_eq!(q.pop_frame(&mut frame), 2);
        assert_eq!(frame, [1, 2]);
        assert_eq!(q.pop_frame(&mut frame), 1);
        assert_eq!(frame, [3, 0]);
        assert_eq!(q.pop_frame(&mut frame), 0);
        assert_eq!(frame, [0, 0]);
    }

    #[test]
    fn overflow_is_bounded_and_flush_empties() {
        let mut q = EgressQueue::new(4);
        q.push(&[1, 2, 3, 4, 5, 6]);
        assert_eq!((q.len(), q.overflowed), (4, 2));
        assert_eq!(q.flush(), 4);
        assert!(q.is_empty());
        q.push(&[7]);
        let mut frame = [0i16; 1];
        q.pop_frame(&mut frame);
        assert_eq!(frame, [7]);
    }

    #[test]
    fn wrapping_pushes_and_pops_match_a_plain_fifo() {
        use std::collections::VecDeque;
        let mut q = EgressQueue::new(37);
        let mut model: VecDeque<i16> = VecDeque::new();
        let mut next = 1i16;
        let mut seed = 0x2545_f491u32;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let n = (seed % 23) as usize;
            if seed & 0x100 == 0 {
                let samples: Vec<i16> = (0..n)
                    .map(|_| {
                        next = next.wrapping_add(1);
                        next
                    })
                    .collect();
                q.push(&samples);
                let room = 37 - model.len();
                model.extend(samples.iter().take(room));
            } else {
                let mut frame = vec![-1i16; n];
                let real = q.pop_frame(&mut frame);
                let expected: Vec<i16> = (0..n).map(|i| if i < model.len() { model[i] } else { 0 }).collect();
                assert_eq!(real, n.min(model.len()));
                model.drain(..real);
                assert_eq!(frame, expected);
            }
            assert_eq!(q.len(), model.len());
        }
    }
}
