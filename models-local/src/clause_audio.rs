//! The audio of one clause as a [`TtsStream`]: synthesised whole on the inference pool (espeak-ng and Piper
//! both take a clause at a time), then handed out 40 ms per poll. Dropping the stream before the pool gets to
//! the job cancels it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::sync::Arc;

use voicera_models::{ModelError, TtsStream};

use crate::pool::{InferencePool, Priority};
use crate::Error;

pub(crate) struct ClauseAudio {
    rate: u32,
    audio: Receiver<Result<Vec<i16>, Error>>,
    samples: Vec<i16>,
    at: usize,
    finished: bool,
    cancelled: Arc<AtomicBool>,
    /// Why synthesis failed, once it has.
    failure: Option<ModelError>,
}

impl ClauseAudio {
    /// Runs `synthesize` on `pool`; its `rate` Hz samples become the stream. A full pool is an error the
    /// stream reports (and the clause is skipped), never a wait.
    pub(crate) fn synthesize(
        pool: &InferencePool,
        rate: u32,
        synthesize: impl FnOnce() -> Result<Vec<i16>, Error> + Send + 'static,
    ) -> ClauseAudio {
        let (tx, audio) = channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancelled);
        let submitted = pool.try_submit(Priority::Reply, move || {
            if !stop.load(Ordering::Relaxed) {
                let _ = tx.send(synthesize());
            }
        });
        let audio = match submitted {
            Ok(()) => audio,
            Err(_) => {
                let (tx, rx) = channel();
                let _ = tx.send(Err(Error::Unavailable("text-to-speech overloaded".into())));
                rx
            }
        };
        ClauseAudio { rate, audio, samples: Vec::new(), at: 0, finished: false, cancelled, failure: None }
    }
}

impl ClauseAudio {
    /// Audio already synthesised.
    pub(crate) fn ready(rate: u32, samples: Vec<i16>) -> ClauseAudio {
        let (_, audio) = channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        ClauseAudio { rate, audio, samples, at: 0, finished: true, cancelled, failure: None }
    }
}

impl TtsStream for ClauseAudio {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn failure(&self) -> Option<&ModelError> {
        self.failure.as_ref()
    }

    fn poll_audio(&mut self, out: &mut Vec<i16>) -> bool {
        if !self.finished {
            match self.audio.try_recv() {
                Ok(Ok(samples)) => {
                    self.samples = samples;
                    self.finished = true;
                }
                Ok(Err(e)) => {
                    self.failure = Some(e.into());
                    return false;
                }
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => {
                    // The job ended without an answer: it panicked (the pool survives that).
                    let lost = voicera_models::FailureKind::Engine;
                    self.failure = Some(ModelError::new(lost, "text-to-speech stopped without audio"));
                    return false;
                }
            }
        }
        // 40 ms per poll.
        let end = (self.at + self.rate as usize / 25).min(self.samples.len());
        out.extend_from_slice(&self.samples[self.at..end]);
        self.at = end;
        self.at < self.samples.len()
    }
}

impl Drop for ClauseAudio {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}
