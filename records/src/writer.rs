//! The background writer: a node's writes to a dependency (call logs to the store, later recordings to the
//! blob store) leave the call at once and are delivered by one task, in order, exactly once.
//!
//! ```text
//!  call task ──try_send──▶ bounded channel ──▶ writer task ──deliver (bounded time)──▶ store
//!      │ full / closed                            │ failed, or spool not empty
//!      └──────────── spool (fsync'd files) ◀──────┘
//!                        └── reconciler: oldest first, back-off on failure ──▶ store
//! ```
//!
//! A call never waits for the store: [`RecordWriter::submit`] only queues (or, when the queue is full,
//! writes a spool file from the blocking thread that stores the call's record). The task delivers a fresh
//! item at once while the spool is empty; on a failure or a timeout the item goes to the spool and the
//! spool is retried with exponential back-off ([`Backoff`]); while anything is spooled, new items are
//! spooled behind it, so delivery order is submission order. Deliveries are idempotent upserts
//! ([`crate::item`]): a crash between a delivery and the spool file's delete delivers again, changing
//! nothing. A restart opens the same spool and carries on.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::spool::{Backlog, Spool};
use crate::{unix_ms, RecordsError};

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// The dependency is down or slow: try again later.
    Retry(String),
    /// The item itself is refused: retrying cannot help; it is moved aside.
    Reject(String),
    /// The item waits for something other than the dependency (the org its call is logged in is not known
    /// yet): it stays spooled and is tried again later, while spooled items of other calls
    /// ([`Deliver::order_key`]) go past it. Not a failure of the dependency.
    Hold(String),
}

/// Where items go: the store, the blob store, a test's fake. Must be idempotent per item.
pub trait Deliver<T>: Send + Sync + 'static {
    /// Delivers one item.
    fn deliver(&self, item: &T) -> impl Future<Output = Result<(), DeliveryError>> + Send;

    /// What an item's delivery order is kept within past a [`DeliveryError::Hold`]: items with the same key
    /// (one call's writes) never overtake each other; `None` (the default): the item overtakes nothing and
    /// nothing overtakes it.
    fn order_key(&self, _item: &T) -> Option<String> {
        None
    }

    /// What a spooled item becomes now that what it was held for is known (the org its call is logged in):
    /// the writer keeps this form in the spool before delivering it, so a crash and restart deliver the same
    /// item, never one addressed afresh. `None` (the default): the item stays as it is.
    fn settled(&self, _item: &T) -> Option<T> {
        None
    }
}

/// What a writer's logs and metrics call its dependency and its figures: one writer delivers call logs to
/// the store, another recordings and transcripts to the blob store, each with its own spool and metrics.
#[derive(Debug)]
pub struct WriterNames {
    /// The dependency, in log lines (`store`, `blob store`).
    pub dependency: &'static str,
    /// Gauge: items waiting in the spool.
    pub spool_items: &'static str,
    /// Gauge: their bytes.
    pub spool_bytes: &'static str,
    /// Gauge: the oldest item's age in seconds.
    pub spool_oldest_seconds: &'static str,
    /// Counter: items delivered.
    pub delivered_total: &'static str,
    /// Counter: deliveries that failed or timed out.
    pub failures_total: &'static str,
    /// Counter: items refused and moved to `rejected/`.
    pub rejected_total: &'static str,
    /// Counter: items the spool could not write.
    pub spool_errors_total: &'static str,
    /// Summary: time of successful deliveries.
    pub delivery_seconds: &'static str,
    /// Gauge: spooled items held back by something other than the dependency ([`DeliveryError::Hold`]),
    /// with the items of their calls behind them, as of the writer's last look at its spool.
    pub spool_held_items: &'static str,
}

/// The call logs' writer (to the store): the names `/metrics` has always had.
pub static STORE_NAMES: WriterNames = WriterNames {
    dependency: "store",
    spool_items: "voicera_spool_items",
    spool_bytes: "voicera_spool_bytes",
    spool_oldest_seconds: "voicera_spool_oldest_seconds",
    delivered_total: "voicera_store_writes_total",
    failures_total: "voicera_store_write_failures_total",
    rejected_total: "voicera_spool_rejected_total",
    spool_errors_total: "voicera_spool_write_errors_total",
    delivery_seconds: "voicera_store_write_seconds",
    spool_held_items: "voicera_spool_held_items",
};

/// The writer's timing and queue.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Items queued for the task before [`RecordWriter::submit`] spools directly.
    pub queue: usize,
    /// Longest a delivery may take before it counts as failed (a slow store is a down store).
    pub attempt_timeout: Duration,
    /// First retry delay after a failure.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How logs and metrics name the dependency and figures.
    pub names: &'static WriterNames,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue: 1024,
            attempt_timeout: Duration::from_secs(3),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            names: &STORE_NAMES,
        }
    }
}

/// The writer's counters, for `/metrics`.
#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    failures: AtomicU64,
    rejected: AtomicU64,
    write_micros: AtomicU64,
    writes_timed: AtomicU64,
    spool_errors: AtomicU64,
}

struct Shared<T> {
    names: &'static WriterNames,
    spool: Mutex<Spool<T>>,
    counters: Counters,
    /// The last delivery attempt failed (cleared by a success).
    failing: AtomicBool,
    /// Spooled items held back ([`DeliveryError::Hold`]) or waiting behind a held item of their call, as of
    /// the task's last full look at the spool: they do not make the writer degraded.
    held_items: AtomicU64,
    /// Asks the task to retry the spool now rather than when its back-off says ([`RecordWriter::retry_now`]).
    retry: tokio::sync::Notify,
}

impl<T> Shared<T> {
    fn spool(&self) -> MutexGuard<'_, Spool<T>> {
        // Spool operations leave its index consistent at every step; a panic elsewhere does not poison it.
        self.spool.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The handle calls submit through; cheap to clone.
pub struct RecordWriter<T> {
    tx: mpsc::Sender<T>,
    shared: Arc<Shared<T>>,
}

impl<T> Clone for RecordWriter<T> {
    fn clone(&self) -> Self {
        RecordWriter { tx: self.tx.clone(), shared: Arc::clone(&self.shared) }
    }
}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> RecordWriter<T> {
    /// Starts the writer task on `spool`, delivering through `deliver` until `shutdown`; items still queued
    /// then get one attempt's time to be delivered, and are spooled for the next start after it. Await the
    /// handle to let it finish.
    pub fn spawn<D: Deliver<T>>(
        config: WriterConfig,
        spool: Spool<T>,
        deliver: D,
        shutdown: CancellationToken,
    ) -> (RecordWriter<T>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let shared = Arc::new(Shared {
            names: config.names,
            spool: Mutex::new(spool),
            counters: Counters::default(),
            failing: AtomicBool::new(false),
            held_items: AtomicU64::new(0),
            retry: tokio::sync::Notify::new(),
        });
        let task = Task {
            rx,
            shared: Arc::clone(&shared),
            deliver,
            config,
            backoff: Backoff::new(config.backoff_initial.as_millis() as u64, config.backoff_max.as_millis() as u64),
            held: HashMap::new(),
            hold_backoff: Backoff::new(
                config.backoff_initial.as_millis() as u64,
                config.backoff_max.as_millis() as u64,
            ),
            all_held: false,
            holding: false,
            epoch: Instant::now(),
        };
        let handle = tokio::spawn(task.run(shutdown));
        (RecordWriter { tx, shared }, handle)
    }

    /// Hands `item` to the writer without waiting. When the queue is full (the store is slow and calls keep
    /// ending) or the writer has stopped, the item is spooled here: this blocks on a file write, so call it
    /// from a blocking thread, never a call's task (that is what [`RecordWriter::try_submit`] is for).
    pub fn submit(&self, item: T) {
        if let Err(err) = self.tx.try_send(item) {
            let item = match err {
                mpsc::error::TrySendError::Full(item) | mpsc::error::TrySendError::Closed(item) => item,
            };
            let pushed = self.shared.spool().push(&item, unix_ms());
            if let Err(err) = pushed {
                self.shared.counters.spool_errors.fetch_add(1, Relaxed);
                tracing::error!(%err, "cannot spool a record: the queue is full and the spool cannot write");
            }
        }
    }

    /// The spool is retried now, not when the back-off next says: what held it back has changed (the org its
    /// items wait for is known).
    pub fn retry_now(&self) {
        self.shared.retry.notify_one();
    }

    /// Hands `item` to the writer if the queue has room; never blocks. False: it was not taken.
    pub fn try_submit(&self, item: T) -> bool {
        self.tx.try_send(item).is_ok()
    }

    /// Counts a delivery its caller made itself, outside the writer (a recording uploaded before its call is
    /// reported stored): `Some(time taken)` when it succeeded, `None` when it failed (the caller then
    /// submits the item).
    pub fn count_direct(&self, delivered_in: Option<Duration>) {
        let c = &self.shared.counters;
        match delivered_in {
            Some(took) => {
                c.delivered.fetch_add(1, Relaxed);
                c.write_micros.fetch_add(took.as_micros() as u64, Relaxed);
                c.writes_timed.fetch_add(1, Relaxed);
            }
            None => {
                c.failures.fetch_add(1, Relaxed);
            }
        }
    }

    /// Every item waiting in the spool, oldest first (unreadable ones skipped): a start-up's look at what
    /// the last run left, e.g. which recordings' files are already queued. Blocking (reads the files).
    pub fn spooled(&self) -> Vec<T> {
        let spool = self.shared.spool();
        spool.entries().filter_map(|entry| spool.read(entry.seq).ok()).collect()
    }

    /// The spool's backlog.
    pub fn backlog(&self) -> Backlog {
        self.shared.spool().backlog()
    }

    /// Whether records are not reaching the dependency right now: something is spooled (other than items held
    /// back by something else, [`DeliveryError::Hold`]), or the last attempt failed. Calls still work;
    /// `/health` says `degraded`.
    pub fn degraded(&self) -> bool {
        self.shared.failing.load(Relaxed) || self.shared.spool().backlog().items > self.shared.held_items.load(Relaxed)
    }

    /// Prometheus text: the spool's backlog and the dependency's write latency and failures, under the
    /// writer's [`WriterNames`].
    pub fn render_metrics(&self, now_ms: u64) -> String {
        let backlog = self.backlog();
        let c = &self.shared.counters;
        let n = self.shared.names;
        let what = n.dependency;
        let oldest = backlog.oldest_ms.map_or(0.0, |t| now_ms.saturating_sub(t) as f64 / 1000.0);
        let mut out = String::with_capacity(1024);
        let mut metric = |name: &str, kind: &str, help: String, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{value}");
        };
        metric(
            n.spool_items,
            "gauge",
            format!("Items waiting in the spool for the {what}."),
            format!(" {}", backlog.items),
        );
        metric(
            n.spool_bytes,
            "gauge",
            format!("Bytes of the items spooled for the {what}."),
            format!(" {}", backlog.bytes),
        );
        metric(
            n.spool_oldest_seconds,
            "gauge",
            format!("Age of the oldest item spooled for the {what} (0 when none)."),
            format!(" {oldest:.3}"),
        );
        metric(
            n.delivered_total,
            "counter",
            format!("Items delivered to the {what}."),
            format!(" {}", c.delivered.load(Relaxed)),
        );
        metric(
            n.failures_total,
            "counter",
            format!("Deliveries to the {what} that failed or timed out (each retried later)."),
            format!(" {}", c.failures.load(Relaxed)),
        );
        metric(
            n.rejected_total,
            "counter",
            format!("Items the {what} refused as invalid, moved to the spool's rejected/."),
            format!(" {}", c.rejected.load(Relaxed)),
        );
        metric(
            n.spool_errors_total,
            "counter",
            format!("Items for the {what} the spool could not write (disk full or unwritable): only in the log."),
            format!(" {}", c.spool_errors.load(Relaxed)),
        );
        metric(
            n.spool_held_items,
            "gauge",
            format!(
                "Items spooled for the {what} held back by something else (the org their call is logged in is not known yet), with their calls' later items."
            ),
            format!(" {}", self.shared.held_items.load(Relaxed).min(backlog.items)),
        );
        metric(
            n.delivery_seconds,
            "summary",
            format!("Time of successful deliveries to the {what}."),
            format!(
                "_sum {:.6}\n{}_count {}",
                c.write_micros.load(Relaxed) as f64 / 1e6,
                n.delivery_seconds,
                c.writes_timed.load(Relaxed)
            ),
        );
        out
    }
}

/// The writer task's state.
struct Task<T, D> {
    rx: mpsc::Receiver<T>,
    shared: Arc<Shared<T>>,
    deliver: D,
    config: WriterConfig,
    backoff: Backoff,
    /// Spooled items whose delivery was held ([`DeliveryError::Hold`]) since the holds were last looked at
    /// again, by seq, with their [`Deliver::order_key`].
    held: HashMap<u64, Option<String>>,
    /// When held items are tried again (a hold that outlasts it is looked at less often).
    hold_backoff: Backoff,
    /// The last look at the spool found nothing deliverable: every item held or behind a held one.
    all_held: bool,
    /// Some record is held back (logged once until none is).
    holding: bool,
    /// The back-off's clock starts here (tokio time: virtual in tests).
    epoch: Instant,
}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static, D: Deliver<T>> Task<T, D> {
    async fn run(mut self, shutdown: CancellationToken) {
        loop {
            let spooled = !self.shared.spool().is_empty();
            let now_ms = self.now_ms();
            if self.hold_backoff.due_ms().is_some_and(|due| now_ms >= due) && !self.held.is_empty() {
                self.look_at_holds_again();
            }
            let due = self.backoff.due_ms();
            let dependency_ready = due.is_none_or(|due| now_ms >= due);
            if spooled && dependency_ready && !self.all_held {
                if self.deliver_spooled().await {
                    continue;
                }
                // Everything spooled waits for a hold: until the holds are looked at again, a new item, or
                // retry_now.
                self.all_held = true;
            }
            let wake_ms = if dependency_ready { self.hold_backoff.due_ms() } else { due };
            let wake = self.epoch + Duration::from_millis(wake_ms.unwrap_or(0));
            let timed = spooled && wake_ms.is_some();
            tokio::select! {
                // Shutdown first: a stopping node flushes its queue (below) rather than retry the spool.
                biased;
                _ = shutdown.cancelled() => break,
                item = self.rx.recv() => match item {
                    Some(item) => {
                        self.all_held = false;
                        self.on_item(item).await
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(wake), if timed => {}
                _ = self.shared.retry.notified(), if spooled => {
                    self.backoff.succeeded();
                    self.hold_backoff.succeeded();
                    self.look_at_holds_again();
                }
            }
        }
        // Stopping: what is queued is delivered for one attempt's time (a stopping node's last calls reach the
        // store, not only its spool), then spooled; later submissions spool directly.
        self.rx.close();
        let deadline = Instant::now() + self.config.attempt_timeout;
        while let Ok(item) = self.rx.try_recv() {
            if Instant::now() < deadline {
                self.on_item(item).await;
            } else {
                self.spool(item).await;
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A fresh item: delivered now when nothing is spooled ahead of it, else spooled behind the rest.
    async fn on_item(&mut self, item: T) {
        if !self.shared.spool().is_empty() {
            self.spool(item).await;
            return;
        }
        match self.attempt(&item).await {
            Ok(()) => {}
            Err(DeliveryError::Retry(_) | DeliveryError::Hold(_)) => self.spool(item).await,
            Err(DeliveryError::Reject(reason)) => {
                self.shared.counters.rejected.fetch_add(1, Relaxed);
                // The record is in the log, as content, so it is not lost without a trace.
                let json = serde_json::to_string(&item).unwrap_or_default();
                tracing::error!(%reason, dependency = self.shared.names.dependency, "a record was refused");
                voicera_conversation::content_event!(record = %json, "the refused record");
            }
        }
    }

    /// Held items are tried again: the next look at the spool starts from its oldest item.
    fn look_at_holds_again(&mut self) {
        self.held.clear();
        self.all_held = false;
        self.shared.held_items.store(0, Relaxed);
    }

    /// The oldest spooled item not held back ([`DeliveryError::Hold`], or behind a held item of its call):
    /// delivered and deleted, or kept for the next try. False: every spooled item is held back.
    async fn deliver_spooled(&mut self) -> bool {
        let entries: Vec<_> = self.shared.spool().entries().collect();
        // The calls (order keys) with a held item ahead; `None` among them: an item that orders against all.
        let mut blocked: HashSet<Option<String>> = HashSet::new();
        let mut waiting = 0u64;
        for entry in entries {
            let key = match self.held.get(&entry.seq) {
                Some(key) => key.clone(),
                None => {
                    let read = {
                        let shared = Arc::clone(&self.shared);
                        let seq = entry.seq;
                        blocking(move || shared.spool().read(seq)).await
                    };
                    let item = match read {
                        Ok(item) => item,
                        Err(err) => {
                            tracing::error!(%err, seq = entry.seq, "unreadable spool item: moved aside");
                            self.set_aside(entry.seq).await;
                            return true;
                        }
                    };
                    let item = match self.deliver.settled(&item) {
                        Some(settled) => {
                            let (shared, seq, kept) = (Arc::clone(&self.shared), entry.seq, settled);
                            match blocking(move || shared.spool().replace(seq, &kept).map(|()| kept)).await {
                                Ok(settled) => settled,
                                Err(err) => {
                                    tracing::error!(%err, seq = entry.seq, "cannot keep a settled spool item; retrying later");
                                    self.backoff.failed(self.now_ms());
                                    return true;
                                }
                            }
                        }
                        None => item,
                    };
                    let key = self.deliver.order_key(&item);
                    let behind_a_hold =
                        blocked.contains(&None) || (key.is_none() && !blocked.is_empty()) || blocked.contains(&key);
                    if !behind_a_hold {
                        match self.attempt(&item).await {
                            Ok(()) => {
                                let shared = Arc::clone(&self.shared);
                                let removed = blocking(move || shared.spool().remove(entry.seq)).await;
                                if let Err(err) = removed {
                                    // Delivered but still spooled: delivered again (idempotently) on the next pass.
                                    tracing::error!(%err, seq = entry.seq, "cannot delete a delivered spool item");
                                    self.backoff.failed(self.now_ms());
                                }
                                return true;
                            }
                            Err(DeliveryError::Retry(_)) => return true,
                            Err(DeliveryError::Reject(reason)) => {
                                self.shared.counters.rejected.fetch_add(1, Relaxed);
                                tracing::error!(%reason, seq = entry.seq, dependency = self.shared.names.dependency, "a spooled record was refused: moved to rejected/");
                                self.set_aside(entry.seq).await;
                                return true;
                            }
                            Err(DeliveryError::Hold(_)) => {
                                self.held.insert(entry.seq, key.clone());
                            }
                        }
                    }
                    key
                }
            };
            waiting += 1;
            blocked.insert(key);
        }
        if self.held.is_empty() {
            self.hold_backoff.succeeded();
            if std::mem::take(&mut self.holding) {
                tracing::info!(dependency = self.shared.names.dependency, "no record is held back any more");
            }
        } else if self.hold_backoff.due_ms().is_none_or(|due| self.now_ms() >= due) {
            self.hold_backoff.failed(self.now_ms());
        }
        self.shared.held_items.store(waiting, Relaxed);
        false
    }

    async fn set_aside(&mut self, seq: u64) {
        let shared = Arc::clone(&self.shared);
        let moved = blocking(move || shared.spool().reject(seq)).await;
        if let Err(err) = moved {
            tracing::error!(%err, "cannot move a spool item aside; retrying later");
            self.backoff.failed(self.now_ms());
        }
    }

    /// One delivery, bounded in time; counts and back-off follow its outcome.
    async fn attempt(&mut self, item: &T) -> Result<(), DeliveryError> {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(self.config.attempt_timeout, self.deliver.deliver(item)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(DeliveryError::Retry(format!("no answer within {:?}", self.config.attempt_timeout))),
        };
        let c = &self.shared.counters;
        match &outcome {
            Ok(()) => {
                c.delivered.fetch_add(1, Relaxed);
                c.write_micros.fetch_add(started.elapsed().as_micros() as u64, Relaxed);
                c.writes_timed.fetch_add(1, Relaxed);
                if self.shared.failing.swap(false, Relaxed) {
                    tracing::info!(dependency = self.shared.names.dependency, "records are delivered again");
                }
                self.backoff.succeeded();
            }
            Err(DeliveryError::Retry(reason)) => {
                c.failures.fetch_add(1, Relaxed);
                let retry_in = self.backoff.failed(self.now_ms()).saturating_sub(self.now_ms());
                if !self.shared.failing.swap(true, Relaxed) {
                    let dependency = self.shared.names.dependency;
                    tracing::warn!(%reason, dependency, "the {dependency} does not take records: spooling them");
                }
                tracing::debug!(%reason, retry_in_ms = retry_in, failures = self.backoff.failures(), "record delivery failed");
            }
            // The dependency answered; the item was wrong.
            Err(DeliveryError::Reject(_)) => self.backoff.succeeded(),
            Err(DeliveryError::Hold(reason)) => {
                if !std::mem::replace(&mut self.holding, true) {
                    tracing::warn!(%reason, dependency = self.shared.names.dependency, "a record is held back; records of other calls go past it");
                }
            }
        }
        outcome
    }

    async fn spool(&mut self, item: T) {
        let shared = Arc::clone(&self.shared);
        let pushed = blocking(move || shared.spool().push(&item, unix_ms())).await;
        if let Err(err) = pushed {
            self.shared.counters.spool_errors.fetch_add(1, Relaxed);
            tracing::error!(%err, "cannot spool a record");
        }
    }
}

/// Runs spool file I/O off the runtime's workers.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, RecordsError> + Send + 'static,
) -> Result<R, RecordsError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(RecordsError::Task(e.to_string())))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// One item: a key and a version, upserted by key like the store's documents.
    type Item = (String, u32);

    /// A dependency that is down until told otherwise; reports each attempt with its (virtual) time.
    #[derive(Clone)]
    struct Fake {
        up: Arc<AtomicBool>,
        stored: Arc<Mutex<BTreeMap<String, u32>>>,
        delivered: Arc<Mutex<Vec<String>>>,
        attempts: mpsc::UnboundedSender<(Instant, String, bool)>,
    }

    impl Fake {
        fn new(up: bool) -> (Fake, mpsc::UnboundedReceiver<(Instant, String, bool)>) {
            let (attempts, rx) = mpsc::unbounded_channel();
            let fake =
                Fake { up: Arc::new(AtomicBool::new(up)), stored: Arc::default(), delivered: Arc::default(), attempts };
            (fake, rx)
        }
    }

    impl Deliver<Item> for Fake {
        async fn deliver(&self, (key, version): &Item) -> Result<(), DeliveryError> {
            let up = self.up.load(Relaxed);
            let _ = self.attempts.send((Instant::now(), key.clone(), up));
            if !up {
                return Err(DeliveryError::Retry("down".into()));
            }
            if key == "poison" {
                return Err(DeliveryError::Reject("invalid".into()));
            }
            self.stored.lock().unwrap().insert(key.clone(), *version);
            self.delivered.lock().unwrap().push(key.clone());
            Ok(())
        }
    }

    fn config() -> WriterConfig {
        WriterConfig {
            queue: 16,
            attempt_timeout: Duration::from_secs(1),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(800),
            names: &STORE_NAMES,
        }
    }

    fn item(key: &str) -> Item {
        (key.to_string(), 1)
    }

    #[tokio::test(start_paused = true)]
    async fn retries_back_off_on_the_clock_and_deliver_in_order_once_the_store_is_back() {
        let dir = tempfile::tempdir().unwrap();
        let (fake, mut attempts) = Fake::new(false);
        let shutdown = CancellationToken::new();
        let spool = Spool::open(dir.path()).unwrap();
        let (writer, task) = RecordWriter::spawn(config(), spool, fake.clone(), shutdown.clone());
        for key in ["a", "b", "c"] {
            assert!(writer.try_submit(item(key)));
        }
        let mut times = Vec::new();
        for _ in 0..6 {
            let (at, key, ok) = attempts.recv().await.unwrap();
            assert_eq!((key.as_str(), ok), ("a", false), "the oldest is retried; the rest wait behind it");
            times.push(at);
        }
        let gaps: Vec<u128> = times.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
        assert_eq!(gaps, [100, 200, 400, 800, 800], "doubling, capped");
        assert!(writer.degraded());
        assert!(writer.render_metrics(unix_ms()).contains("voicera_store_write_failures_total 6"));

        fake.up.store(true, Relaxed);
        let back = Instant::now();
        let order: Vec<String> =
            [attempts.recv().await.unwrap(), attempts.recv().await.unwrap(), attempts.recv().await.unwrap()]
                .into_iter()
                .map(|(_, key, ok)| {
                    assert!(ok);
                    key
                })
                .collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert!(Instant::now() - back <= Duration::from_millis(800), "within one capped back-off");
        // A fresh item after recovery goes straight through.
        assert!(writer.try_submit(item("d")));
        assert_eq!(attempts.recv().await.unwrap().1, "d");
        shutdown.cancel();
        task.await.unwrap();
        assert_eq!(writer.backlog().items, 0);
        assert!(!writer.degraded());
        assert_eq!(*fake.delivered.lock().unwrap(), ["a", "b", "c", "d"]);
        let metrics = writer.render_metrics(unix_ms());
        assert!(metrics.contains("voicera_spool_items 0"), "{metrics}");
        assert!(metrics.contains("voicera_store_writes_total 4"), "{metrics}");
        assert!(metrics.contains("voicera_store_write_seconds_count 4"), "{metrics}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_resumes_the_spool_and_a_redelivery_after_a_crash_stores_once() {
        let dir = tempfile::tempdir().unwrap();
        // First run: the store is down; two records are spooled, then the node stops.
        let (down, mut attempts) = Fake::new(false);
        let shutdown = CancellationToken::new();
        let (writer, task) =
            RecordWriter::spawn(config(), Spool::open(dir.path()).unwrap(), down.clone(), shutdown.clone());
        assert!(writer.try_submit(("k1".into(), 1)));
        assert!(writer.try_submit(("k2".into(), 2)));
        attempts.recv().await.unwrap();
        shutdown.cancel();
        task.await.unwrap();
        let backlog = Spool::<Item>::open(dir.path()).unwrap().backlog();
        assert_eq!(backlog.items, 2, "both wait in the spool");
        assert!(backlog.bytes > 0);

        // The crash this test simulates: k1 reached the store, and the process died before deleting its file.
        let (up, _attempts) = Fake::new(true);
        up.stored.lock().unwrap().insert("k1".into(), 1);

        // Second run on the same spool: nothing is submitted, the backlog is delivered in order.
        let shutdown = CancellationToken::new();
        let spool = Spool::open(dir.path()).unwrap();
        let (writer, task) = RecordWriter::spawn(config(), spool, up.clone(), shutdown.clone());
        while up.delivered.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        shutdown.cancel();
        task.await.unwrap();
        assert_eq!(*up.delivered.lock().unwrap(), ["k1", "k2"], "in order");
        assert_eq!(
            *up.stored.lock().unwrap(),
            BTreeMap::from([("k1".to_string(), 1), ("k2".to_string(), 2)]),
            "one document each"
        );
        assert_eq!(writer.backlog().items, 0);
        assert!(Spool::<Item>::open(dir.path()).unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_item_is_set_aside_and_the_rest_flows() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path()).unwrap();
        for key in ["x", "poison", "y"] {
            spool.push(&item(key), 0).unwrap();
        }
        let (fake, _attempts) = Fake::new(true);
        let shutdown = CancellationToken::new();
        let (writer, task) = RecordWriter::spawn(config(), spool, fake.clone(), shutdown.clone());
        while fake.delivered.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        shutdown.cancel();
        task.await.unwrap();
        assert_eq!(*fake.delivered.lock().unwrap(), ["x", "y"]);
        assert!(writer.render_metrics(unix_ms()).contains("voicera_spool_rejected_total 1"));
        assert_eq!(std::fs::read_dir(dir.path().join("rejected")).unwrap().count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_spools_directly_and_a_stopped_writer_leaves_items_in_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        let (fake, mut attempts) = Fake::new(false);
        let shutdown = CancellationToken::new();
        let tiny = WriterConfig { queue: 1, ..config() };
        let (writer, task) = RecordWriter::spawn(tiny, Spool::open(dir.path()).unwrap(), fake, shutdown.clone());
        writer.submit(item("first"));
        attempts.recv().await.unwrap();
        shutdown.cancel();
        task.await.unwrap();
        // The writer is gone: submitting spools at once, nothing is lost.
        writer.submit(item("late"));
        let spool = Spool::<Item>::open(dir.path()).unwrap();
        let keys: Vec<String> = spool.entries().map(|e| spool.read(e.seq).unwrap().0).collect();
        assert_eq!(keys, ["first", "late"]);
    }

    /// A dependency that is up, but holds the items of calls named `pending/...` until told their org is
    /// known. An item's key is `call/part`; its order key the call.
    #[derive(Clone)]
    struct Holding {
        known: Arc<AtomicBool>,
        delivered: Arc<Mutex<Vec<String>>>,
        held: Arc<AtomicU64>,
    }

    impl Deliver<Item> for Holding {
        async fn deliver(&self, (key, version): &Item) -> Result<(), DeliveryError> {
            if key.starts_with("pending") && !self.known.load(Relaxed) {
                self.held.fetch_add(1, Relaxed);
                return Err(DeliveryError::Hold("org unknown".into()));
            }
            if key.starts_with("pending") && *version != 2 {
                return Err(DeliveryError::Reject("delivered as it was held, not as settled".into()));
            }
            self.delivered.lock().unwrap().push(key.clone());
            Ok(())
        }

        fn order_key(&self, (key, _): &Item) -> Option<String> {
            key.split('/').next().map(str::to_string)
        }

        /// A held item, once its org is known, is version 2.
        fn settled(&self, (key, version): &Item) -> Option<Item> {
            (key.starts_with("pending") && self.known.load(Relaxed) && *version == 1).then(|| (key.clone(), 2))
        }
    }

    /// A held item does not block the spool: another call's records go past it (in order), its own call's
    /// later items wait behind it, the hold is neither a failure nor `degraded`, and once what it waits for
    /// is there (`retry_now`) the held call's items go in their order, each as settled.
    #[tokio::test(start_paused = true)]
    async fn a_held_item_lets_other_calls_records_through_and_keeps_its_calls_order() {
        let dir = tempfile::tempdir().unwrap();
        let holding = Holding { known: Arc::default(), delivered: Arc::default(), held: Arc::default() };
        let shutdown = CancellationToken::new();
        let (writer, task) =
            RecordWriter::spawn(config(), Spool::open(dir.path()).unwrap(), holding.clone(), shutdown.clone());
        for key in ["pending/start", "other/start", "pending/end", "other/end"] {
            assert!(writer.try_submit(item(key)));
        }
        while holding.delivered.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*holding.delivered.lock().unwrap(), ["other/start", "other/end"]);
        // Held items are looked at again now and then (backing off), never delivered while held.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let attempts = holding.held.load(Relaxed);
        assert!((2..=10).contains(&attempts), "{attempts} attempts in 5 s: backing off, not spinning");
        assert_eq!(*holding.delivered.lock().unwrap(), ["other/start", "other/end"]);
        let metrics = writer.render_metrics(unix_ms());
        assert!(metrics.contains("voicera_store_write_failures_total 0"), "{metrics}");
        assert!(metrics.contains("voicera_spool_items 2"), "{metrics}");
        assert!(metrics.contains("voicera_spool_held_items 2"), "{metrics}");
        assert!(!writer.degraded(), "the store takes records; only held ones wait");

        holding.known.store(true, Relaxed);
        writer.retry_now();
        while holding.delivered.lock().unwrap().len() < 4 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(*holding.delivered.lock().unwrap(), ["other/start", "other/end", "pending/start", "pending/end"]);
        assert!(writer.spooled().is_empty());
        assert!(writer.render_metrics(unix_ms()).contains("voicera_spool_held_items 0"));
        shutdown.cancel();
        task.await.unwrap();
    }
}
