//! The inference pool: a fixed set of OS threads that run model work, fed by a bounded queue.
//!
//! Model inference never runs on the reactor threads that drive calls. Streams submit jobs without blocking;
//! when the queue is full the submit fails at once (back-pressure) and the stream degrades — a partial
//! transcript is skipped, a final or a reply reports the overload — instead of stalling a call loop.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A bounded pool of inference threads; cheap to clone.
#[derive(Clone)]
pub struct InferencePool {
    queue: SyncSender<Job>,
    threads: usize,
}

/// The pool's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("inference queue full")]
pub struct PoolFull;

impl InferencePool {
    /// `threads` workers (0 = one per CPU core) sharing a queue of `capacity` jobs.
    pub fn new(threads: usize, capacity: usize) -> InferencePool {
        let threads =
            if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
        let (queue, jobs) = sync_channel::<Job>(capacity.max(1));
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads {
            let jobs = Arc::clone(&jobs);
            let spawned = std::thread::Builder::new().name(format!("voicera-infer-{i}")).spawn(move || loop {
                // The lock is held only while waiting for the next job, never while running one.
                let job = match jobs.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => {
                        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                            tracing::error!("inference job panicked; the worker continues");
                        }
                    }
                    Err(_) => return, // every sender dropped
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start an inference thread");
            }
        }
        InferencePool { queue, threads }
    }

    /// Queues `job`, or fails at once when the queue is full.
    pub fn try_submit(&self, job: impl FnOnce() + Send + 'static) -> Result<(), PoolFull> {
        match self.queue.try_send(Box::new(job)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(PoolFull),
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }
}

impl Default for InferencePool {
    /// One thread per core, 256 queued jobs.
    fn default() -> Self {
        InferencePool::new(0, 256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn runs_jobs_survives_panics_and_rejects_when_full() {
        let pool = InferencePool::new(1, 1);
        let (tx, rx) = channel();
        let (gate_tx, gate_rx) = channel::<()>();
        pool.try_submit(move || {
            let _ = gate_rx.recv(); // hold the only worker
        })
        .unwrap();
        // Wait until the worker took the first job, so exactly one slot is free.
        // (Bounded by time, not by a count of yields: on a loaded machine the worker may not run for a while.)
        let mut queued = false;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if pool.try_submit(|| panic!("a model bug")).is_ok() {
                queued = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(queued);
        assert_eq!(pool.try_submit(|| {}), Err(PoolFull), "queue of one is full");
        gate_tx.send(()).unwrap();
        // After the panic the worker still runs jobs.
        let mut done = false;
        for _ in 0..10_000 {
            let tx = tx.clone();
            if pool.try_submit(move || tx.send(7).unwrap()).is_ok() {
                done = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(done);
        assert_eq!(rx.recv().unwrap(), 7);
    }
}
