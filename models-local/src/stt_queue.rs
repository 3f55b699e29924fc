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
//! the oldest final first: under load a final never waits behind interim transcripts. A final whose text
//! stops at a pause well before its audio does is completed from that pause (`crate::tail`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::pool::{InferencePool, PoolFull, Priority};
use crate::whisper::{complete_tail, Transcribe};
use crate::Error;

/// Utterances whose lengths differ by more than this factor are not batched (padding would cost more than
/// the shared pass saves).
const LENGTH_RATIO: f32 = 1.5;

/// What to do with a transcription's result.
pub(crate) type Reply = Box<dyn FnOnce(Result<String, Error>) + Send>;

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

struct Queued {
    id: u64,
    request: Request,
}

pub(crate) struct TranscriptionQueue {
    model: Arc<dyn Transcribe>,
    pending: Mutex<VecDeque<Queued>>,
    next_id: AtomicU64,
    max_batch: usize,
}

impl TranscriptionQueue {
    pub(crate) fn new(model: Arc<dyn Transcribe>, max_batch: usize) -> Arc<TranscriptionQueue> {
        Arc::new(TranscriptionQueue {
            model,
            pending: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            max_batch: max_batch.max(1),
        })
    }

    /// Queues `request` and a drain for it; when the pool is full the request is taken back and `Err`
    /// returned (the stream degrades at once, as with any full pool).
    pub(crate) fn submit(self: &Arc<Self>, pool: &InferencePool, request: Request) -> Result<(), PoolFull> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let priority = if request.is_final { Priority::Final } else { Priority::Partial };
        self.lock().push_back(Queued { id, request });
        let queue = Arc::clone(self);
        pool.try_submit(priority, move || queue.drain()).inspect_err(|_| self.lock().retain(|q| q.id != id))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        // A poisoned queue still holds valid requests: a panic inside a reply cannot corrupt a VecDeque.
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs on a pool worker: one batch of waiting requests.
    fn drain(&self) {
        let now = Instant::now();
        let mut expired = Vec::new();
        let batch: Vec<Request> = {
            let mut pending = self.lock();
            // The oldest final leads the batch when there is one; partials of similar length may share its pass.
            if let Some(first_final) = pending.iter().position(|q| q.request.is_final) {
                if let Some(q) = pending.remove(first_final) {
                    pending.push_front(q);
                }
            }
            let mut batch: Vec<Request> = Vec::new();
            let mut i = 0;
            while i < pending.len() && batch.len() < self.max_batch {
                let request = &pending[i].request;
                if request.cancelled.load(Ordering::Relaxed) || request.deadline <= now {
                    if let Some(q) = pending.remove(i) {
                        expired.push(q.request);
                    }
                    continue;
                }
                let fits = batch.first().is_none_or(|first| similar(first.pcm.len(), request.pcm.len()));
                if fits {
                    if let Some(q) = pending.remove(i) {
                        batch.push(q.request);
                    }
                } else {
                    i += 1;
                }
            }
            batch
        };
        for request in expired {
            if !request.cancelled.load(Ordering::Relaxed) {
                (request.reply)(Err(Error::Unavailable("transcription deadline passed (inference overloaded)".into())));
            }
        }
        if batch.is_empty() {
            return;
        }
        if batch.len() > 1 {
            tracing::debug!(utterances = batch.len(), "transcriptions batched");
        }
        let utterances: Vec<(&[f32], &str)> = batch.iter().map(|r| (r.pcm.as_slice(), r.language.as_str())).collect();
        let results = self.model.transcribe_batch(&utterances);
        drop(utterances);
        let mut results = results.into_iter();
        for request in batch {
            let mut result = results.next().unwrap_or_else(|| Err(Error::Format("a batch result is missing".into())));
            if request.is_final {
                // A final may have stopped at a pause inside the utterance: its tail is decoded again here, on
                // the same worker, before the caller's turn is handed over.
                result = result.map(|text| complete_tail(self.model.as_ref(), &request.pcm, &request.language, text));
            }
            (request.reply)(result);
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
        (model.clone(), TranscriptionQueue::new(model, 8))
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
}
