//! One queue of transcriptions per speech-to-text model, shared by every call that uses it.
//!
//! A stream puts its utterance here and asks the [`InferencePool`] for a drain. The pool worker that runs a
//! drain takes the oldest live request and every other waiting one of similar length (up to `max_batch`), and
//! transcribes them together ([`Transcribe::transcribe_batch`]: one encoder pass for all). When the pool keeps
//! up, a drain finds one request and nothing waits for a batch to fill; under load, utterances that arrived
//! while the workers were busy share a pass. Each request has a deadline: a partial transcript that waited too
//! long is dropped (newer audio has come), a final past its deadline reports an error rather than arriving
//! when the caller has moved on. Requests of ended calls are skipped.
//!
//! A final's drain runs at [`Priority::Final`] and a partial's at [`Priority::Partial`], and every drain takes
//! the oldest final first: under load a final never waits behind interim transcripts.
//!
//! A final whose text stops at a pause well before its audio does (`crate::tail`) is not answered with the
//! rest of its batch: the decode of its tail becomes a job of its own in this queue, at the head of it, with
//! the final's deadline and priority (and a batch of its own length: it may share a pass with other calls'
//! utterances). The other replies of the batch go out at once; the final is answered once, completed, when its
//! tail job has run. A tail job that can no longer run in time (deadline passed, pool full) answers with the
//! first decode's text; one of an ended call answers nothing. Each tail job's outcome is counted
//! ([`TailRedecodes`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::pool::{InferencePool, PoolFull, Priority};
use crate::whisper::Transcribe;
use crate::Error;

/// Utterances whose lengths differ by more than this factor are not batched (padding would cost more than
/// the shared pass saves).
const LENGTH_RATIO: f32 = 1.5;

/// What to do with a transcription's result.
pub(crate) type Reply = Box<dyn FnOnce(Result<String, Error>) + Send>;

/// Where the queue reads the time (deadlines): the system's monotonic clock, or a test's virtual one.
pub(crate) type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

pub(crate) struct Request {
    pub pcm: Vec<f32>,
    pub language: String,
    pub deadline: Instant,
    /// A final transcript (an utterance ended) rather than an interim one.
    pub is_final: bool,
    /// Set when the call ends: the request is dropped unanswered.
    pub cancelled: Arc<AtomicBool>,
    pub reply: Reply,
}

/// How the tail decodes of finals ended, since the start (`/metrics`:
/// `voicera_stt_tail_redecodes_total{outcome}`).
#[derive(Debug, Default)]
pub struct TailRedecodes {
    joined: AtomicU64,
    unchanged: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// A reading of [`TailRedecodes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TailRedecodeCounts {
    /// The tail's words were joined onto the final (it had stopped at a pause).
    pub joined: u64,
    /// The tail was decoded again and added nothing (the final had not stopped there after all).
    pub unchanged: u64,
    /// Decoding the tail failed: the final went out as first decoded.
    pub failed: u64,
    /// The tail job never ran: its deadline passed or the pool was full (the final went out as first
    /// decoded), or the call had ended (nothing went out).
    pub dropped: u64,
}

impl TailRedecodes {
    /// The counts so far.
    pub fn counts(&self) -> TailRedecodeCounts {
        TailRedecodeCounts {
            joined: self.joined.load(Ordering::Relaxed),
            unchanged: self.unchanged.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a queued job decodes.
enum Stage {
    /// The request's whole audio.
    Whole,
    /// A final's audio from sample `from` on (its tail), to complete `text`, the first decode's transcript.
    Tail { text: String, from: usize },
}

struct Queued {
    id: u64,
    request: Request,
    stage: Stage,
}

impl Queued {
    /// The audio this job decodes.
    fn audio(&self) -> &[f32] {
        match &self.stage {
            Stage::Whole => &self.request.pcm,
            Stage::Tail { from, .. } => self.request.pcm.get(*from..).unwrap_or_default(),
        }
    }
}

pub(crate) struct TranscriptionQueue {
    model: Arc<dyn Transcribe>,
    pending: Mutex<VecDeque<Queued>>,
    next_id: AtomicU64,
    max_batch: usize,
    tails: Arc<TailRedecodes>,
    clock: Clock,
}

impl TranscriptionQueue {
    pub(crate) fn new(model: Arc<dyn Transcribe>, max_batch: usize, tails: Arc<TailRedecodes>) -> Arc<Self> {
        TranscriptionQueue::with_clock(model, max_batch, tails, Arc::new(Instant::now))
    }

    pub(crate) fn with_clock(
        model: Arc<dyn Transcribe>,
        max_batch: usize,
        tails: Arc<TailRedecodes>,
        clock: Clock,
    ) -> Arc<TranscriptionQueue> {
        Arc::new(TranscriptionQueue {
            model,
            pending: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            max_batch: max_batch.max(1),
            tails,
            clock,
        })
    }

    /// The model this queue transcribes with.
    pub(crate) fn model(&self) -> &Arc<dyn Transcribe> {
        &self.model
    }

    /// The counters of this queue's tail decodes.
    pub(crate) fn tails(&self) -> &Arc<TailRedecodes> {
        &self.tails
    }

    /// Queues `request` and a drain for it; when the pool is full the request is taken back and `Err`
    /// returned (the stream degrades at once, as with any full pool).
    pub(crate) fn submit(self: &Arc<Self>, pool: &InferencePool, request: Request) -> Result<(), PoolFull> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let priority = if request.is_final { Priority::Final } else { Priority::Partial };
        self.lock().push_back(Queued { id, request, stage: Stage::Whole });
        self.submit_drain(pool, priority).inspect_err(|_| self.lock().retain(|q| q.id != id))
    }

    fn submit_drain(self: &Arc<Self>, pool: &InferencePool, priority: Priority) -> Result<(), PoolFull> {
        let queue = Arc::clone(self);
        let drains_on = pool.clone();
        pool.try_submit(priority, move || queue.drain(&drains_on))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        // A poisoned queue still holds valid requests: a panic inside a reply cannot corrupt a VecDeque.
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the next batch off the queue, and the jobs that can no longer run (cancelled, past deadline).
    fn take_batch(&self, now: Instant) -> (Vec<Queued>, Vec<Queued>) {
        let mut pending = self.lock();
        // The oldest final leads the batch when there is one; partials of similar length may share its pass.
        if let Some(first_final) = pending.iter().position(|q| q.request.is_final) {
            if let Some(q) = pending.remove(first_final) {
                pending.push_front(q);
            }
        }
        let mut batch: Vec<Queued> = Vec::new();
        let mut expired = Vec::new();
        let mut i = 0;
        while i < pending.len() && batch.len() < self.max_batch {
            let job = &pending[i];
            if job.request.cancelled.load(Ordering::Relaxed) || job.request.deadline <= now {
                if let Some(q) = pending.remove(i) {
                    expired.push(q);
                }
                continue;
            }
            let fits = batch.first().is_none_or(|first| similar(first.audio().len(), job.audio().len()));
            if fits {
                if let Some(q) = pending.remove(i) {
                    batch.push(q);
                }
            } else {
                i += 1;
            }
        }
        (batch, expired)
    }

    /// Answers a job that will not run: an ended call's with nothing, a late request's with an error, a late
    /// tail job's with the first decode's text (it is a valid transcript, only perhaps short).
    fn give_up(&self, job: Queued) {
        let cancelled = job.request.cancelled.load(Ordering::Relaxed);
        match job.stage {
            Stage::Tail { text, .. } => {
                TailRedecodes::count(&self.tails.dropped);
                if !cancelled {
                    (job.request.reply)(Ok(text));
                }
            }
            Stage::Whole if cancelled => {}
            Stage::Whole => {
                (job.request.reply)(Err(Error::Unavailable(
                    "transcription deadline passed (inference overloaded)".into(),
                )));
            }
        }
    }

    /// Runs on a pool worker: one batch of waiting jobs.
    fn drain(self: &Arc<Self>, pool: &InferencePool) {
        let (batch, expired) = self.take_batch((self.clock)());
        for job in expired {
            self.give_up(job);
        }
        if batch.is_empty() {
            return;
        }
        if batch.len() > 1 {
            tracing::debug!(utterances = batch.len(), "transcriptions batched");
        }
        let utterances: Vec<(&[f32], &str)> = batch.iter().map(|q| (q.audio(), q.request.language.as_str())).collect();
        let results = self.model.transcribe_batch(&utterances);
        drop(utterances);
        let mut results = results.into_iter();
        for job in batch {
            let result = results.next().unwrap_or_else(|| Err(Error::Format("a batch result is missing".into())));
            match job.stage {
                Stage::Whole if job.request.is_final => match result {
                    Ok(text) => match crate::tail::lost_tail(&job.request.pcm, &text) {
                        // Stopped at a pause: its tail is decoded in a job of its own, and the rest of this
                        // batch is answered now rather than after that decode.
                        Some(from) => self.queue_tail(pool, job.request, text, from),
                        None => (job.request.reply)(Ok(text)),
                    },
                    Err(e) => (job.request.reply)(Err(e)),
                },
                Stage::Whole => (job.request.reply)(result),
                Stage::Tail { text, from } => {
                    let completed = match result {
                        Ok(tail) => match crate::tail::join(&text, &tail) {
                            Some(whole) => {
                                tracing::debug!(from_ms = from / 16, "whisper: the words after a pause decoded again");
                                TailRedecodes::count(&self.tails.joined);
                                whole
                            }
                            None => {
                                TailRedecodes::count(&self.tails.unchanged);
                                text
                            }
                        },
                        Err(e) => {
                            tracing::debug!(error = %e, "whisper: decoding the tail again failed");
                            TailRedecodes::count(&self.tails.failed);
                            text
                        }
                    };
                    (job.request.reply)(Ok(completed));
                }
            }
        }
    }

    /// Queues the decode of `request`'s audio from `from` on, to complete `text`. It goes to the head of the
    /// queue: its final was waited for before anything queued now.
    fn queue_tail(self: &Arc<Self>, pool: &InferencePool, request: Request, text: String, from: usize) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push_front(Queued { id, request, stage: Stage::Tail { text, from } });
        if self.submit_drain(pool, Priority::Final).is_err() {
            // No room for its drain: answered with the first decode's text, unless another drain already took it.
            let taken_back = {
                let mut pending = self.lock();
                pending.iter().position(|q| q.id == id).and_then(|i| pending.remove(i))
            };
            if let Some(job) = taken_back {
                self.give_up(job);
            }
        }
    }
}

fn similar(a: usize, b: usize) -> bool {
    let (short, long) = (a.min(b).max(1) as f32, a.max(b) as f32);
    long / short <= LENGTH_RATIO
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// Records the sizes of the batches it is given; "transcribes" to the utterance's length.
    struct Recorder {
        batches: Mutex<Vec<usize>>,
        gate: Mutex<()>,
    }

    impl Transcribe for Recorder {
        fn transcribe(&self, pcm: &[f32], _: &str) -> Result<String, Error> {
            Ok(pcm.len().to_string())
        }
        fn is_multilingual(&self) -> bool {
            false
        }
        fn transcribe_batch(&self, utterances: &[(&[f32], &str)]) -> Vec<Result<String, Error>> {
            let _held = self.gate.lock();
            self.batches.lock().unwrap().push(utterances.len());
            utterances.iter().map(|(pcm, _)| Ok(pcm.len().to_string())).collect()
        }
    }

    fn recorder_queue() -> (Arc<Recorder>, Arc<TranscriptionQueue>) {
        let model = Arc::new(Recorder { batches: Mutex::new(Vec::new()), gate: Mutex::new(()) });
        (model.clone(), TranscriptionQueue::new(model, 8, Arc::default()))
    }

    /// Waits until a drain has taken every queued request (and is held at the model's gate).
    fn taken(queue: &TranscriptionQueue) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !queue.lock().is_empty() {
            assert!(Instant::now() < deadline, "no drain took the request");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn request(len: usize, deadline: Instant, tx: &std::sync::mpsc::Sender<Result<String, Error>>) -> Request {
        let tx = tx.clone();
        Request {
            pcm: vec![0.0; len],
            language: "en".into(),
            deadline,
            is_final: false,
            cancelled: Arc::new(AtomicBool::new(false)),
            reply: Box::new(move |r| {
                let _ = tx.send(r);
            }),
        }
    }

    #[test]
    fn waiting_utterances_of_similar_length_share_a_pass_and_others_wait_their_turn() {
        let (model, queue) = recorder_queue();
        let pool = InferencePool::new(1, 16);
        let (tx, rx) = channel();
        let later = Instant::now() + Duration::from_secs(60);
        // Hold the model so that everything below queues up behind the first utterance.
        let held = model.gate.lock().unwrap();
        queue.submit(&pool, request(16000, later, &tx)).unwrap();
        taken(&queue);
        for len in [16000, 20000, 64000, 17000] {
            queue.submit(&pool, request(len, later, &tx)).unwrap();
        }
        drop(held);
        let mut answers: Vec<String> =
            (0..5).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap()).collect();
        answers.sort();
        assert_eq!(answers, ["16000", "16000", "17000", "20000", "64000"]);
        // The first alone; then the three of about one second together; the four-second one on its own.
        assert_eq!(*model.batches.lock().unwrap(), vec![1, 3, 1]);
    }

    #[test]
    fn a_final_is_transcribed_before_partials_that_waited_longer() {
        let (model, queue) = recorder_queue();
        let pool = InferencePool::new(1, 16);
        let (tx, rx) = channel();
        let later = Instant::now() + Duration::from_secs(60);
        let held = model.gate.lock().unwrap();
        queue.submit(&pool, request(30000, later, &tx)).unwrap();
        taken(&queue);
        queue.submit(&pool, request(64000, later, &tx)).unwrap();
        queue.submit(&pool, request(100000, later, &tx)).unwrap();
        queue.submit(&pool, Request { is_final: true, ..request(16000, later, &tx) }).unwrap();
        drop(held);
        let answers: Vec<String> = (0..4).map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap()).collect();
        assert_eq!(answers, ["30000", "16000", "64000", "100000"], "the final went ahead of the waiting partials");
    }

    #[test]
    fn a_request_past_its_deadline_is_answered_with_an_error_and_a_cancelled_one_not_at_all() {
        let (model, queue) = recorder_queue();
        let pool = InferencePool::new(1, 16);
        let (tx, rx) = channel();
        let cancelled = request(16000, Instant::now() + Duration::from_secs(60), &tx);
        cancelled.cancelled.store(true, Ordering::Relaxed);
        queue.submit(&pool, cancelled).unwrap();
        queue.submit(&pool, request(16000, Instant::now(), &tx)).unwrap();
        let answer = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(answer.unwrap_err().to_string().contains("deadline"));
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "nothing for the cancelled request");
        assert!(model.batches.lock().unwrap().is_empty(), "neither reached the model");
    }

    #[test]
    fn a_full_pool_takes_the_request_back() {
        let (model, queue) = recorder_queue();
        let pool = InferencePool::new(1, 1);
        let (tx, _rx) = channel();
        let held = model.gate.lock().unwrap();
        let later = Instant::now() + Duration::from_secs(60);
        queue.submit(&pool, request(16000, later, &tx)).unwrap(); // running (blocked on the gate)
        taken(&queue);
        queue.submit(&pool, request(16000, later, &tx)).unwrap(); // queued drain
        assert!(queue.submit(&pool, request(16000, later, &tx)).is_err(), "pool full");
        assert_eq!(queue.lock().len(), 1, "only the queued one is left waiting");
        drop(held);
    }
    /// A clock the test moves: the model's passes advance it by their cost.
    struct VirtualClock {
        base: Instant,
        ms: AtomicU64,
    }

    impl VirtualClock {
        fn at(&self, ms: u64) -> Instant {
            self.base + Duration::from_millis(ms)
        }
        fn ms(&self) -> u64 {
            self.ms.load(Ordering::SeqCst)
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Event {
        /// A pass of the model over utterances of these lengths.
        Pass(Vec<usize>),
        /// A call's transcript went out (call, virtual ms, text or error).
        Reply(&'static str, u64, String),
    }

    /// A model whose passes cost `pass_ms` of virtual time each; it hears the text scripted for an audio
    /// length (else the length).
    struct Scripted {
        clock: Arc<VirtualClock>,
        pass_ms: u64,
        texts: Vec<(usize, &'static str)>,
        log: Arc<Mutex<Vec<Event>>>,
    }

    impl Transcribe for Scripted {
        fn transcribe(&self, pcm: &[f32], language: &str) -> Result<String, Error> {
            self.transcribe_batch(&[(pcm, language)]).remove(0)
        }
        fn is_multilingual(&self) -> bool {
            false
        }
        fn transcribe_batch(&self, utterances: &[(&[f32], &str)]) -> Vec<Result<String, Error>> {
            self.log.lock().unwrap().push(Event::Pass(utterances.iter().map(|(pcm, _)| pcm.len()).collect()));
            self.clock.ms.fetch_add(self.pass_ms, Ordering::SeqCst);
            utterances
                .iter()
                .map(|(pcm, _)| {
                    let scripted = self.texts.iter().find(|(len, _)| *len == pcm.len());
                    Ok(scripted.map_or_else(|| pcm.len().to_string(), |(_, text)| text.to_string()))
                })
                .collect()
        }
    }

    /// 16 kHz audio: a 200 Hz tone (voiced) for each `(true, seconds)`, silence for `(false, seconds)`.
    fn speech(parts: &[(bool, f32)]) -> Vec<f32> {
        let mut pcm = Vec::new();
        for &(voiced, seconds) in parts {
            let n = (seconds * 16000.0) as usize;
            let start = pcm.len();
            pcm.extend((0..n).map(|i| {
                let phase = (start + i) as f32 * 2.0 * std::f32::consts::PI * 200.0 / 16000.0;
                if voiced {
                    0.3 * phase.sin()
                } else {
                    0.0
                }
            }));
        }
        pcm
    }

    /// "How many days are in a week? [pause] And how many in a month?": 4.4 s, the pause ends at 2.4 s.
    fn question_with_a_pause() -> Vec<f32> {
        speech(&[(false, 0.3), (true, 1.6), (false, 0.5), (true, 1.4), (false, 0.6)])
    }

    fn question_len() -> usize {
        question_with_a_pause().len()
    }

    /// The tail is decoded again from 200 ms before the pause's end (`tail::lost_tail`).
    fn tail_len() -> usize {
        question_len() - (38400 - 3200)
    }

    struct Bench {
        clock: Arc<VirtualClock>,
        log: Arc<Mutex<Vec<Event>>>,
        queue: Arc<TranscriptionQueue>,
        pool: InferencePool,
        replies: std::sync::mpsc::Receiver<()>,
        replied: std::sync::mpsc::Sender<()>,
    }

    impl Bench {
        /// One pool worker, a model of `pass_ms` a pass hearing the question's first half and `tail` in its tail.
        fn new(pass_ms: u64, tail: &'static str) -> Bench {
            let clock = Arc::new(VirtualClock { base: Instant::now(), ms: AtomicU64::new(0) });
            let log = Arc::new(Mutex::new(Vec::new()));
            let model = Scripted {
                clock: Arc::clone(&clock),
                pass_ms,
                texts: vec![(question_len(), "How many days are in a week?"), (tail_len(), tail)],
                log: Arc::clone(&log),
            };
            let now = Arc::clone(&clock);
            let queue =
                TranscriptionQueue::with_clock(Arc::new(model), 8, Arc::default(), Arc::new(move || now.at(now.ms())));
            let (replied, replies) = channel();
            Bench { clock, log, queue, pool: InferencePool::new(1, 16), replies, replied }
        }

        /// A final of `call` with `pcm`, due `deadline_ms` after the start of virtual time.
        fn final_of(&self, call: &'static str, pcm: Vec<f32>, deadline_ms: u64) -> Request {
            let (log, clock, replied) = (Arc::clone(&self.log), Arc::clone(&self.clock), self.replied.clone());
            Request {
                pcm,
                language: "en".into(),
                deadline: self.clock.at(deadline_ms),
                is_final: true,
                cancelled: Arc::new(AtomicBool::new(false)),
                reply: Box::new(move |result| {
                    let text = result.unwrap_or_else(|e| format!("error: {e}"));
                    log.lock().unwrap().push(Event::Reply(call, clock.ms(), text));
                    let _ = replied.send(());
                }),
            }
        }

        /// Blocks the pool's worker until the returned sender is dropped, so that submissions queue up.
        fn hold_worker(&self) -> std::sync::mpsc::Sender<()> {
            let (gate_tx, gate_rx) = channel::<()>();
            let (started_tx, started_rx) = channel::<()>();
            self.pool
                .try_submit(Priority::Reply, move || {
                    let _ = started_tx.send(());
                    let _ = gate_rx.recv();
                })
                .unwrap();
            started_rx.recv().unwrap();
            gate_tx
        }

        /// The log once `n` replies have gone out and the queue is idle.
        fn after_replies(&self, n: usize) -> Vec<Event> {
            for _ in 0..n {
                self.replies.recv_timeout(Duration::from_secs(5)).expect("a reply");
            }
            // Whatever the remaining drains do, they do it before a job queued after them.
            let (tx, rx) = channel();
            self.pool.try_submit(Priority::Partial, move || tx.send(()).unwrap()).unwrap();
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
            assert!(self.replies.try_recv().is_err(), "a transcript went out twice: {:?}", self.log.lock().unwrap());
            self.log.lock().unwrap().clone()
        }
    }

    #[test]
    fn a_tail_decode_is_a_job_of_its_own_and_delays_no_other_call() {
        let bench = Bench::new(300, "And how many in a month?");
        let held = bench.hold_worker();
        // Three finals of similar length share a pass; the first stopped at its pause.
        bench.queue.submit(&bench.pool, bench.final_of("a", question_with_a_pause(), 10_000)).unwrap();
        bench.queue.submit(&bench.pool, bench.final_of("b", vec![0.0; 64000], 10_000)).unwrap();
        bench.queue.submit(&bench.pool, bench.final_of("c", vec![0.0; 72000], 10_000)).unwrap();
        drop(held);
        let log = bench.after_replies(3);
        use Event::*;
        assert_eq!(
            log,
            [
                Pass(vec![question_len(), 64000, 72000]),
                // The other calls' finals go out when their pass ends, not after the tail's decode.
                Reply("b", 300, "64000".into()),
                Reply("c", 300, "72000".into()),
                Pass(vec![tail_len()]),
                // The first call's final, once, completed.
                Reply("a", 600, "How many days are in a week? And how many in a month?".into()),
            ]
        );
        assert_eq!(bench.queue.tails().counts(), TailRedecodeCounts { joined: 1, ..Default::default() });
    }

    #[test]
    fn a_tail_job_shares_a_pass_with_another_call_and_one_that_adds_nothing_leaves_the_final_as_it_was() {
        let bench = Bench::new(300, "in a week");
        let held = bench.hold_worker();
        // Too short to share the question's pass; about as long as its tail.
        bench.queue.submit(&bench.pool, bench.final_of("a", question_with_a_pause(), 10_000)).unwrap();
        bench.queue.submit(&bench.pool, bench.final_of("b", vec![0.0; 30000], 10_000)).unwrap();
        drop(held);
        let log = bench.after_replies(2);
        use Event::*;
        assert_eq!(
            log,
            [
                Pass(vec![question_len()]),
                Pass(vec![tail_len(), 30000]),
                Reply("a", 600, "How many days are in a week?".into()),
                Reply("b", 600, "30000".into()),
            ]
        );
        assert_eq!(bench.queue.tails().counts(), TailRedecodeCounts { unchanged: 1, ..Default::default() });
    }

    #[test]
    fn a_tail_job_past_the_deadline_answers_with_the_first_decode_and_one_of_an_ended_call_with_nothing() {
        let bench = Bench::new(400, "And how many in a month?");
        let held = bench.hold_worker();
        // Due 300 ms in: the first pass ends at 400 ms, so the tail job is stale before it runs.
        bench.queue.submit(&bench.pool, bench.final_of("late", question_with_a_pause(), 300)).unwrap();
        let ended = bench.final_of("ended", question_with_a_pause(), 10_000);
        let hang_up = Arc::clone(&ended.cancelled);
        bench.queue.submit(&bench.pool, ended).unwrap();
        // The call hangs up as the other call's final goes out (after the pass, before the tail jobs run).
        let mut hanging_up = bench.final_of("other", vec![0.0; 64000], 10_000);
        let reply = hanging_up.reply;
        hanging_up.reply = Box::new(move |result| {
            hang_up.store(true, Ordering::SeqCst);
            reply(result)
        });
        bench.queue.submit(&bench.pool, hanging_up).unwrap();
        drop(held);
        let log = bench.after_replies(2);
        use Event::*;
        assert_eq!(
            log,
            [
                Pass(vec![question_len(), question_len(), 64000]),
                Reply("other", 400, "64000".into()),
                Reply("late", 400, "How many days are in a week?".into()),
            ],
            "no second pass; nothing for the ended call"
        );
        assert_eq!(bench.queue.tails().counts(), TailRedecodeCounts { dropped: 2, ..Default::default() });
    }
}
