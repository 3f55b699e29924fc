//! The inference pool: a fixed set of OS threads that run model work, fed by bounded queues, one per
//! [`Priority`].
//!
//! Model inference never runs on the reactor threads that drive calls. Streams submit jobs without blocking;
//! when a queue is full the submit fails at once (back-pressure) and the stream degrades — a partial
//! transcript is skipped, a final or a reply reports the overload — instead of stalling a call loop.
//!
//! A free worker takes the oldest job of the most urgent non-empty queue. Under load the pool fills with
//! interim transcripts (one every few hundred milliseconds per talking caller); in one FIFO queue a reply's
//! LLM and TTS jobs waited behind them, and at 50 calls replies starved while partials that nobody would
//! read were computed. Partials are the work that may wait (and be dropped stale by the STT queue).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// How urgent a job is: a caller waits on the first two, nobody waits on a partial transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// The agent's reply: LLM generation and the synthesis of its clauses. A caller is listening.
    Reply,
    /// A final transcript: an utterance ended and its reply cannot start before it.
    Final,
    /// An interim transcript: useful for barge-in confirmation and early replies, stale within a second.
    Partial,
}

impl Priority {
    /// Most urgent first: the order workers look in.
    const ORDER: [Priority; 3] = [Priority::Reply, Priority::Final, Priority::Partial];

    fn index(self) -> usize {
        match self {
            Priority::Reply => 0,
            Priority::Final => 1,
            Priority::Partial => 2,
        }
    }
}

/// The queues the workers share.
struct Queues {
    jobs: [VecDeque<Job>; 3],
    /// Set when every [`InferencePool`] handle is gone: workers finish what is queued and exit.
    closed: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        // Jobs run outside the lock, so a poisoned lock still guards consistent queues.
        self.queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Blocks until a job is queued (most urgent first) or the pool is closed and drained.
    fn next_job(&self) -> Option<Job> {
        let mut queues = self.lock();
        loop {
            for priority in Priority::ORDER {
                if let Some(job) = queues.jobs[priority.index()].pop_front() {
                    return Some(job);
                }
            }
            if queues.closed {
                return None;
            }
            queues = self.ready.wait(queues).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// Closes the queues when the last pool handle is dropped.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_all();
    }
}

/// A bounded pool of inference threads; cheap to clone.
#[derive(Clone)]
pub struct InferencePool {
    handle: Arc<Handle>,
    threads: usize,
}

/// The pool's queue for this priority is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("inference queue full")]
pub struct PoolFull;

impl InferencePool {
    /// `threads` workers (0 = one per CPU core) sharing queues of `capacity` jobs per priority.
    pub fn new(threads: usize, capacity: usize) -> InferencePool {
        let threads =
            if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues { jobs: Default::default(), closed: false }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        });
        for i in 0..threads {
            let shared = Arc::clone(&shared);
            let spawned = std::thread::Builder::new().name(format!("voicera-infer-{i}")).spawn(move || {
                while let Some(job) = shared.next_job() {
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                        tracing::error!("inference job panicked; the worker continues");
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start an inference thread");
            }
        }
        InferencePool { handle: Arc::new(Handle(shared)), threads }
    }

    /// Queues `job` at `priority`, or fails at once when that priority's queue is full.
    pub fn try_submit(&self, priority: Priority, job: impl FnOnce() + Send + 'static) -> Result<(), PoolFull> {
        let shared = &self.handle.0;
        {
            let mut queues = shared.lock();
            let queue = &mut queues.jobs[priority.index()];
            if queue.len() >= shared.capacity {
                return Err(PoolFull);
            }
            queue.push_back(Box::new(job));
        }
        shared.ready.notify_one();
        Ok(())
    }

    /// Jobs waiting at `priority` (not counting running ones).
    pub fn queued(&self, priority: Priority) -> usize {
        self.handle.0.lock().jobs[priority.index()].len()
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

impl Default for InferencePool {
    /// One thread per core, 256 queued jobs per priority.
    fn default() -> Self {
        InferencePool::new(0, 256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    /// Blocks the pool's only worker until the returned sender is used (or dropped); returns once the worker
    /// holds the job, so the queues are empty.
    fn hold_worker(pool: &InferencePool) -> std::sync::mpsc::Sender<()> {
        let (gate_tx, gate_rx) = channel::<()>();
        let (started_tx, started_rx) = channel::<()>();
        pool.try_submit(Priority::Reply, move || {
            let _ = started_tx.send(());
            let _ = gate_rx.recv();
        })
        .unwrap();
        started_rx.recv().unwrap();
        gate_tx
    }

    #[test]
    fn runs_jobs_survives_panics_and_rejects_when_full() {
        let pool = InferencePool::new(1, 1);
        let gate = hold_worker(&pool);
        pool.try_submit(Priority::Final, || panic!("a model bug")).unwrap();
        assert_eq!(pool.try_submit(Priority::Final, || {}), Err(PoolFull), "queue of one is full");
        assert_eq!(pool.queued(Priority::Final), 1);
        let (tx, rx) = channel();
        pool.try_submit(Priority::Partial, move || tx.send(7).unwrap()).unwrap();
        drop(gate);
        // After the panic the worker still runs jobs.
        assert_eq!(rx.recv().unwrap(), 7);
    }

    #[test]
    fn the_most_urgent_queue_runs_first_and_each_queue_in_order() {
        let pool = InferencePool::new(1, 8);
        let gate = hold_worker(&pool);
        let (tx, rx) = channel();
        for (priority, name) in [
            (Priority::Partial, "partial 1"),
            (Priority::Partial, "partial 2"),
            (Priority::Final, "final"),
            (Priority::Reply, "reply 1"),
            (Priority::Reply, "reply 2"),
        ] {
            let tx = tx.clone();
            pool.try_submit(priority, move || tx.send(name).unwrap()).unwrap();
        }
        drop(tx);
        drop(gate);
        let order: Vec<&str> = rx.iter().collect();
        assert_eq!(order, ["reply 1", "reply 2", "final", "partial 1", "partial 2"]);
    }

    #[test]
    fn a_full_partial_queue_does_not_refuse_a_reply() {
        let pool = InferencePool::new(1, 2);
        let gate = hold_worker(&pool);
        pool.try_submit(Priority::Partial, || {}).unwrap();
        pool.try_submit(Priority::Partial, || {}).unwrap();
        assert_eq!(pool.try_submit(Priority::Partial, || {}), Err(PoolFull));
        let (tx, rx) = channel();
        pool.try_submit(Priority::Reply, move || tx.send("reply").unwrap()).unwrap();
        drop(gate);
        assert_eq!(rx.recv().unwrap(), "reply");
    }

    #[test]
    fn workers_finish_queued_jobs_and_exit_when_the_pool_is_dropped() {
        let pool = InferencePool::new(1, 4);
        let gate = hold_worker(&pool);
        let (tx, rx) = channel();
        pool.try_submit(Priority::Final, move || tx.send("queued before the drop").unwrap()).unwrap();
        drop(pool);
        drop(gate);
        assert_eq!(rx.recv().unwrap(), "queued before the drop");
        assert!(rx.recv().is_err(), "the job and its sender are gone");
    }
}
