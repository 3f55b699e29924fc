//! The thin tokio task that drives deliveries: every poll (or at once when this node emitted something) it
//! claims the due queue entries, hands them to the [`Deliveries`] scheduler, POSTs each signed body with
//! ureq on the blocking pool (a timeout per attempt, no redirects), feeds the outcome back and writes the
//! attempt and the next step to the store ([`crate::outbox`]).

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use voicera_store::secret::MasterKey;
use voicera_store::{Collection, Store};

use crate::metrics::WebhookMetrics;
use crate::outbox::{self, Attempt, Claim, Loaded, RESPONSE_SNIPPET_BYTES};
use crate::schedule::{Deliveries, Next, Outcome, RetryPolicy};
use crate::signing::{signature_header, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER};
use crate::unix_ms;

/// How a node delivers webhooks.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// When to retry and when to give up.
    pub policy: RetryPolicy,
    /// How long one attempt may take in all (connect, send, answer).
    pub attempt_timeout: Duration,
    /// How often the queue is read for due attempts (other nodes' events, retries).
    pub poll_interval: Duration,
    /// This node's id, in leases and attempts.
    pub node_id: String,
    /// Attempts claimed per poll (each runs on the blocking pool).
    pub max_claims: usize,
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            policy: RetryPolicy::default(),
            attempt_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(2),
            node_id: "node".into(),
            max_claims: 32,
        }
    }
}

/// Emits events and wakes the worker. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    store: Store,
    wake: Arc<Notify>,
    metrics: Arc<WebhookMetrics>,
}

impl Webhooks {
    /// Emits `event` to `org_id`'s subscribed endpoints ([`outbox::emit`]) and wakes the worker; errors are
    /// logged (a store that is down loses the event's webhooks, never the call).
    pub async fn emit(&self, org_id: &str, event: &str, data: Value) {
        match outbox::emit(&self.store, org_id, event, data, unix_ms()).await {
            Ok(ids) if !ids.is_empty() => self.wake.notify_one(),
            Ok(_) => {}
            Err(err) => tracing::error!(%err, %org_id, %event, "cannot queue webhook deliveries"),
        }
    }

    /// Emits an event whose id is fixed ([`outbox::emit_once`]: emitting it again makes nothing more) and
    /// wakes the worker; the store's error is the caller's, who keeps the event to emit again (the call
    /// records' spool does).
    pub async fn emit_once(
        &self,
        org_id: &str,
        event: &str,
        event_id: &str,
        data: Value,
        at_ms: u64,
    ) -> Result<(), crate::WebhookError> {
        let made = outbox::emit_once(&self.store, org_id, event, event_id, data, at_ms).await?;
        if !made.is_empty() {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Wakes the worker (after the API queued a test or a replay on this node).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// This node's webhook figures (for `/metrics`, and the delivery-log sweeper's count).
    pub fn metrics(&self) -> &Arc<WebhookMetrics> {
        &self.metrics
    }
}

/// Starts the worker; the handle emits events, the task ends at shutdown.
pub fn spawn(
    store: Store,
    master_key: MasterKey,
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> (Webhooks, tokio::task::JoinHandle<()>) {
    let wake = Arc::new(Notify::new());
    let metrics = Arc::new(WebhookMetrics::default());
    let handle = Webhooks { store: store.clone(), wake: Arc::clone(&wake), metrics: Arc::clone(&metrics) };
    let task = tokio::spawn(run(store, master_key, config, wake, metrics, shutdown));
    (handle, task)
}

async fn run(
    store: Store,
    master_key: MasterKey,
    config: WorkerConfig,
    wake: Arc<Notify>,
    metrics: Arc<WebhookMetrics>,
    shutdown: CancellationToken,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(config.attempt_timeout))
        .user_agent("VoiceERA-Webhooks/1")
        .build()
        .into();
    let mut deliveries = Deliveries::new(config.policy);
    // A lease outlives the attempt's timeout with room for the store writes after it.
    let lease_ms = config.attempt_timeout.as_millis() as u64 * 2 + 30_000;
    loop {
        let now = unix_ms();
        match outbox::claim_due(&store, &config.node_id, now, lease_ms, config.max_claims).await {
            Ok(claims) => {
                let mut attempts = tokio::task::JoinSet::new();
                for claim in claims {
                    deliveries.enqueue(claim.pending.clone());
                    let (store, key, agent, node) =
                        (store.clone(), master_key.clone(), agent.clone(), config.node_id.clone());
                    attempts.spawn(async move {
                        let result = attempt(&store, &key, &agent, &claim).await;
                        (claim, node, result)
                    });
                }
                // Everything claimed is due now: the scheduler counts it as being attempted.
                deliveries.due(now);
                while let Some(joined) = attempts.join_next().await {
                    let Ok((claim, node, result)) = joined else { continue };
                    let id = claim.pending.id.clone();
                    match result {
                        Ok(Some((made, outcome))) => {
                            let ended = made.started_ms + made.latency_ms;
                            if let Some(next) = deliveries.outcome(&id, outcome, ended) {
                                metrics.attempt(next, made.latency_ms);
                                log_attempt(&claim, &made, next);
                                if let Err(err) = outbox::record_attempt(&store, &claim, &node, &made, next).await {
                                    tracing::error!(%err, delivery = %id, "cannot record a webhook attempt");
                                }
                            }
                        }
                        Ok(None) => metrics.cancelled(),
                        Err(err) => tracing::error!(%err, delivery = %id, "webhook delivery failed to load"),
                    }
                    // The store holds the retry; any node may take it.
                    deliveries.forget(&id);
                }
            }
            Err(err) => tracing::warn!(%err, "cannot read the webhook queue"),
        }
        // What still waits (retries, other nodes' claims), for the pending gauge.
        if let Ok(entries) = store.count(Collection::WebhookQueue).await {
            metrics.set_pending(entries);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.poll_interval) => {}
        }
    }
}

fn log_attempt(claim: &Claim, made: &Attempt, next: Next) {
    let (id, org) = (&claim.pending.id, &claim.org_id);
    match next {
        Next::Delivered => tracing::debug!(delivery = %id, %org, status = ?made.status, "webhook delivered"),
        Next::RetryAt(at) => tracing::info!(delivery = %id, %org, status = ?made.status, error = ?made.error,
            retry_in_ms = at.saturating_sub(made.started_ms + made.latency_ms), "webhook attempt failed; retrying"),
        Next::DeadLetter => tracing::warn!(delivery = %id, %org, "webhook delivery failed for 24 h: dead-lettered"),
        Next::EndpointGone => tracing::warn!(delivery = %id, %org, endpoint = %claim.endpoint_id,
            "webhook endpoint answered 410 Gone: disabled"),
    }
}

/// Loads and sends one claimed delivery; `None` when it was dropped (endpoint deleted or disabled).
async fn attempt(
    store: &Store,
    master_key: &MasterKey,
    agent: &ureq::Agent,
    claim: &Claim,
) -> Result<Option<(Attempt, Outcome)>, crate::WebhookError> {
    let started_ms = unix_ms();
    let Loaded::Send { endpoint, event, body } = outbox::load(store, claim, started_ms).await? else {
        return Ok(None);
    };
    let secret = match endpoint.secret(master_key) {
        Ok(secret) => secret,
        Err(err) => {
            // Sent unsigned it would be refused anyway; the log says why, and retries follow (a key fixed
            // within the day still delivers).
            let made = Attempt {
                started_ms,
                latency_ms: 0,
                status: None,
                response: String::new(),
                error: Some(err.to_string()),
            };
            return Ok(Some((made, Outcome::Failed)));
        }
    };
    let (agent, id) = (agent.clone(), claim.pending.id.clone());
    let sent = tokio::task::spawn_blocking(move || post(&agent, &endpoint.url, &secret, &event, &id, body.as_bytes()))
        .await
        .map_err(|e| crate::WebhookError::Task(e.to_string()))?;
    Ok(Some(sent.into_attempt(started_ms)))
}

/// What one POST came to.
struct Sent {
    latency_ms: u64,
    status: Option<u16>,
    response: String,
    error: Option<String>,
}

impl Sent {
    fn into_attempt(self, started_ms: u64) -> (Attempt, Outcome) {
        let outcome = match self.status {
            Some(200..=299) => Outcome::Delivered,
            Some(410) => Outcome::Gone,
            _ => Outcome::Failed,
        };
        let made = Attempt {
            started_ms,
            latency_ms: self.latency_ms,
            status: self.status,
            response: self.response,
            error: self.error,
        };
        (made, outcome)
    }
}

/// POSTs a signed body (blocking).
fn post(agent: &ureq::Agent, url: &str, secret: &str, event: &str, delivery_id: &str, body: &[u8]) -> Sent {
    let started = Instant::now();
    let header = signature_header(secret, unix_ms() / 1000, body);
    let sent = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, &header)
        .header(EVENT_HEADER, event)
        .header(DELIVERY_HEADER, delivery_id)
        .send(body);
    let elapsed = |started: Instant| started.elapsed().as_millis() as u64;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let mut snippet = Vec::with_capacity(RESPONSE_SNIPPET_BYTES);
            let mut body = response.into_body();
            let read = body.as_reader().take(RESPONSE_SNIPPET_BYTES as u64).read_to_end(&mut snippet);
            let response = String::from_utf8_lossy(&snippet).into_owned();
            // The status decides; a body cut short by a timeout is noted, not a failure.
            let error = read.err().map(|e| format!("reading the answer: {e}"));
            Sent { latency_ms: elapsed(started), status: Some(status), response, error }
        }
        Err(err) => {
            Sent { latency_ms: elapsed(started), status: None, response: String::new(), error: Some(err.to_string()) }
        }
    }
}
