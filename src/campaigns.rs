//! The campaign runner: a tokio task per running batch, driving the sans-IO [`Campaign`] on real time and
//! placing its calls through a `[[trunks]]` entry with the node's SIP service, or through a provider's REST API
//! ([`crate::campaign_provider`]), as the campaign's route says.
//!
//! The API only changes a batch's `execution_status` (run, pause, stop, schedule); every calling node's
//! supervisor polls the store each second and starts a task for each batch that should be dialling. A task
//! claims each contact in the store before dialling it (a compare-and-set on the contact's `version`, see
//! [`voicera_dialer::lease`]), renews its leases while calls are up, and writes each attempt's outcome and the
//! contact's next step (retry time or disposition) back the same way. So a restart resumes where the store
//! says, and a contact left `dialing` by a node that died is settled as `failed(node lost)` (retried only if
//! the failure policy allows) instead of being dialled again behind the operator's back.
//!
//! The live-call limit holds per campaign, across nodes: before a contact, a task claims one of the campaign's
//! numbered slots in the store (`campaign_slots`, [`voicera_dialer::slots`]), renews it with the contact's lease
//! and frees it when the call ends. A task that loses a lease (another node took the contact or the slot, or
//! the store stayed unreachable until little of the lease was left) hangs the call up (`failed(lease lost)`),
//! so no second node can ever overlap it. A call still ringing then is hung up the moment it is answered (the
//! SIP service settles an INVITE only once it is answered or failed); its ring timeout bounds the wait, and
//! the API keeps it under two thirds of the lease (`ring_timeout_seconds`).
//!
//! Pacing (`calls_per_second`) holds per campaign, across nodes, through the campaign's pacing document
//! (`campaign_pacing`, [`voicera_dialer::pacing`]): the earliest time the next call may start. A task claims
//! nothing while that start is more than a lead away (the contact waits until then); else it takes a slot and
//! the contact's lease, and only then reserves the start (a compare-and-set), so that no start is spent on a
//! contact another node just leased. The call leaves at its reserved start.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use voicera_api::routes::batches::{campaign_event_data, campaign_of, contact_prefix, status, update_batch};
use voicera_conversation::amd::{AmdEvent, MachineAction};
use voicera_conversation::dial_policy::{DialPolicy, NormalizedTarget};
use voicera_conversation::routing::{Destination, Router};
use voicera_dialer::campaign::{
    AttemptOutcome, Campaign, CampaignContact, ContactId, ContactState, DialAction, Disposition, RetryRule, RunState,
};
use voicera_dialer::config::{AmdMode, CampaignRoute};
use voicera_dialer::dial_watch::MAX_CLOCK_SKEW_MS;
use voicera_dialer::lease::{AfterAttempt, ContactDocument, ContactStatus};
use voicera_dialer::pacing::{claim_from, PacingDocument, CLAIM_LEAD_MS};
use voicera_dialer::slots::{plan_claim, HeldLease, SlotClaim, SlotDocument};
use voicera_store::{utc_text, Collection, Record, Store, StoreError};
use voicera_telephony::sip_rtp::{AmdRequest, OutboundRequest, PlaceCallError, SipServiceHandle};
use voicera_webhooks::{events, Webhooks};

/// How often the supervisor looks for batches to run, and a task re-reads its batch (status, pacing).
const POLL: Duration = Duration::from_secs(1);
/// A contact lease's default length (`[campaigns] lease_ms`); renewed every third of it while the call is up.
/// Longer than a poll and a store round trip by far, and than a dead node's call can outlive the node at the
/// carrier (see [`voicera_dialer::lease`]); short enough that a dead node's contacts are settled soon.
pub(crate) const DEFAULT_LEASE_MS: i64 = 60_000;
/// How soon a contact whose stored state changed under a claim is looked at again.
const RECHECK_MS: i64 = 1000;
/// How often a call's end is looked for once it is answered.
const CALL_END_POLL: Duration = Duration::from_millis(200);
/// How soon a contact is looked at again when every live-call slot of the campaign is taken (by any node).
const SLOT_RECHECK_MS: i64 = 100;
/// How long a node that freed a slot waits before it claims one again, on a store several nodes share: a node
/// freeing and re-claiming at once would keep every slot from nodes that look only every [`SLOT_RECHECK_MS`],
/// so it hands the slot over first.
const SLOT_HANDOVER_MS: i64 = 3 * SLOT_RECHECK_MS;
/// Tries at reserving a start when other nodes reserve at the same time (each try re-reads the pacing
/// document; each lost try is another node's start, so a few suffice); past them the call's task tries on.
const PACE_TRIES: usize = 8;
/// How soon a call whose start could not be reserved (the store failing) tries again.
const PACE_RETRY: Duration = Duration::from_millis(100);
/// How often a node sweeps dial registrations left by dead nodes (`campaign_dials`, long lapsed).
const DIAL_SWEEP_MS: i64 = 60_000;
/// The outcome reason of a call hung up because its lease was lost.
pub(crate) const LEASE_LOST: &str = "lease lost";
/// Why an attempt failed when early media carried voice and nobody answered (see [`Call::place`]).
pub(crate) const ANNOUNCEMENT: &str = "announcement";

/// What the runner needs from the node.
pub(crate) struct CampaignRunner {
    /// Contacts, batches and leases.
    pub(crate) store: Store,
    /// This node's id: the holder named in its leases.
    pub(crate) node_id: String,
    /// How long a contact lease lasts unless renewed (`[campaigns] lease_ms`).
    pub(crate) lease_ms: i64,
    /// Places the calls.
    pub(crate) sip: SipServiceHandle,
    /// Finds the agent a batch names.
    pub(crate) router: Arc<dyn Router>,
    /// Where calls may go (`[dial_policy]`).
    pub(crate) policy: Arc<DialPolicy>,
    /// Queues the `campaign.*` webhooks this node's writes decide (see [`CampaignMetrics`] for the figures).
    pub(crate) webhooks: Webhooks,
    /// The campaign figures `/metrics` shows.
    pub(crate) metrics: Arc<CampaignMetrics>,
    /// Places the calls of campaigns whose route is a provider's REST API.
    pub(crate) provider_calls: Arc<crate::campaign_provider::ProviderCalls>,
}

/// Campaign calls on this node for `/metrics`: attempts by outcome, and calls up now.
#[derive(Default)]
pub(crate) struct CampaignMetrics {
    calls: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    live: std::sync::atomic::AtomicI64,
}

impl CampaignMetrics {
    /// An attempt ended as `outcome` (`failed(reason)` counts as `failed`: reasons would make a label per
    /// error text).
    fn ended(&self, outcome: &str) {
        let class = outcome.split('(').next().unwrap_or(outcome).to_string();
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(class).or_default() += 1;
        }
        self.live.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn dialled(&self) {
        self.live.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The Prometheus text of `voicera_campaign_calls_total{disposition}` and `voicera_campaign_live_calls`.
    pub(crate) fn render(&self) -> String {
        let mut text = String::from(
            "# HELP voicera_campaign_calls_total Campaign call attempts this node placed, by outcome.\n\
             # TYPE voicera_campaign_calls_total counter\n",
        );
        if let Ok(calls) = self.calls.lock() {
            for (disposition, count) in calls.iter() {
                text.push_str(&format!("voicera_campaign_calls_total{{disposition=\"{disposition}\"}} {count}\n"));
            }
        }
        let live = self.live.load(std::sync::atomic::Ordering::Relaxed).max(0);
        text.push_str(&format!(
            "# HELP voicera_campaign_live_calls Campaign calls this node has up now.\n\
             # TYPE voicera_campaign_live_calls gauge\nvoicera_campaign_live_calls {live}\n"
        ));
        text
    }
}

/// Unix milliseconds now, signed as the dialer's and the store's times are.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(voicera_records::unix_ms()).unwrap_or(i64::MAX)
}

fn text(doc: &Value, field: &str) -> String {
    doc.get(field).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Starts the supervisor: it runs until `shutdown`.
pub(crate) fn spawn(runner: CampaignRunner, shutdown: CancellationToken) {
    tokio::spawn(supervise(Arc::new(runner), shutdown));
}

async fn supervise(runner: Arc<CampaignRunner>, shutdown: CancellationToken) {
    let mut tasks: HashMap<(String, String), tokio::task::JoinHandle<()>> = HashMap::new();
    let mut swept_at = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
        if now_ms() - swept_at >= DIAL_SWEEP_MS {
            swept_at = now_ms();
            let now_secs = u64::try_from(swept_at / 1000).unwrap_or(0);
            if let Err(error) = runner.store.delete_expired(Collection::CampaignDials, now_secs).await {
                tracing::warn!(%error, "campaigns: cannot sweep lapsed dial registrations");
            }
        }
        tasks.retain(|_, task| !task.is_finished());
        let batches = match runner.store.list_all(Collection::Batches).await {
            Ok(batches) => batches,
            Err(error) => {
                tracing::warn!(%error, "campaigns: cannot list batches");
                continue;
            }
        };
        for batch in batches {
            let mut execution = text(&batch.doc, "execution_status");
            if execution == status::SCHEDULED {
                let due = batch.doc.get("scheduled_at_ms").and_then(Value::as_i64).is_some_and(|at| at <= now_ms());
                if !due {
                    continue;
                }
                match start_scheduled(&runner, &batch).await {
                    Ok(true) => execution = status::RUNNING.to_string(),
                    Ok(false) => continue,
                    Err(error) => {
                        tracing::warn!(%error, batch = %batch.id, "campaigns: cannot start a scheduled batch");
                        continue;
                    }
                }
            }
            let active = [status::RUNNING, status::PAUSED, status::STOPPING].contains(&execution.as_str());
            let key = (batch.org_id.clone(), batch.id.clone());
            if active && !tasks.contains_key(&key) {
                tracing::info!(batch = %batch.id, org = %batch.org_id, "campaign: starting");
                let task = tokio::spawn(run(Arc::clone(&runner), batch.org_id, batch.id, shutdown.clone()));
                tasks.insert(key, task);
            }
        }
    }
}

/// A due scheduled batch becomes running (once, whichever node gets there first: that node emits
/// `campaign.started`).
async fn start_scheduled(runner: &CampaignRunner, batch: &Record) -> Result<bool, StoreError> {
    let mut started = false;
    let written = update_batch(&runner.store, &batch.org_id, &batch.id, |doc| {
        started = doc.get("execution_status").and_then(Value::as_str) == Some(status::SCHEDULED);
        if started {
            doc.insert("execution_status".into(), json!(status::RUNNING));
            doc.insert("scheduled_status".into(), json!("triggered"));
            doc.insert("status".into(), json!("processing"));
            doc.insert("started_at".into(), json!(utc_text(now_ms())));
        }
        Ok::<(), StoreError>(())
    })
    .await?;
    if let Some(record) = written.filter(|_| started) {
        runner.webhooks.emit(&record.org_id, events::CAMPAIGN_STARTED, campaign_event_data(&record)).await;
    }
    Ok(started)
}

/// Why a campaign task ended early.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Settings(String),
    #[error(transparent)]
    Dialer(#[from] voicera_dialer::DialerError),
    #[error("other nodes took every start this node read {0} times in a row")]
    Contended(usize),
}

async fn run(runner: Arc<CampaignRunner>, org_id: String, batch_id: String, shutdown: CancellationToken) {
    if let Err(error) = drive(&runner, &org_id, &batch_id, &shutdown).await {
        tracing::warn!(%error, batch = %batch_id, "campaign: failed");
        let message = error.to_string();
        let written = update_batch(&runner.store, &org_id, &batch_id, |doc| {
            doc.insert("execution_status".into(), json!(status::FAILED));
            doc.insert("status".into(), json!("failed"));
            doc.insert("error_message".into(), json!(message));
            Ok::<(), StoreError>(())
        })
        .await;
        if let Err(error) = written {
            tracing::warn!(%error, batch = %batch_id, "campaign: cannot record the failure");
        }
    }
}

/// One contact of the running campaign: its store id and number.
struct Slot {
    store_id: String,
    number: String,
}

/// Counters not yet written to the batch document.
#[derive(Default)]
struct Deltas {
    attempted: u64,
    successful: u64,
    failed: u64,
}

impl Deltas {
    fn is_empty(&self) -> bool {
        self.attempted == 0 && self.successful == 0 && self.failed == 0
    }
}

/// A finished call: the contact, how it ended, the SIP call key when it was answered, and what answering-machine
/// detection decided (JSON for the contact's `last_amd`).
type Ended = (ContactId, AttemptOutcome, Option<String>, Option<Value>);

async fn drive(
    runner: &Arc<CampaignRunner>,
    org_id: &str,
    batch_id: &str,
    shutdown: &CancellationToken,
) -> Result<(), RunError> {
    let store = &runner.store;
    let Some(batch) = store.get(Collection::Batches, org_id, batch_id).await? else {
        return Ok(());
    };
    let mut config = campaign_of(&batch.doc).map_err(RunError::Settings)?;
    let settings = config.settings().map_err(|p| RunError::Settings(format!("{}: {}", p.field, p.message)))?;
    let agent_id = text(&batch.doc, "agent_id");
    let mut records = store.list_prefix(Collection::BatchContacts, org_id, &contact_prefix(batch_id)).await?;
    records.sort_by_key(|r| r.doc.get("row_number").and_then(Value::as_u64).unwrap_or(0));
    let now = now_ms();
    let mut slots = Vec::with_capacity(records.len());
    let mut contacts = Vec::with_capacity(records.len());
    for record in records {
        let mut doc = ContactDocument::from_json(&record.doc)?;
        if doc.status == ContactStatus::Dialing {
            doc = settle_dialing(runner, &record, doc, now, settings.retry.failed).await?;
        }
        let state = match doc.status {
            ContactStatus::Queued => ContactState::Pending { not_before: doc.next_attempt_at },
            // Another node's live lease: look again when it lapses.
            ContactStatus::Dialing => {
                ContactState::Pending { not_before: doc.lease.as_ref().map_or(now, |l| l.expires_at) }
            }
            ContactStatus::Done => ContactState::Done(
                doc.disposition
                    .as_deref()
                    .unwrap_or("failed(unknown)")
                    .parse()
                    .unwrap_or(Disposition::Attempted(AttemptOutcome::Failed("unknown".into()))),
            ),
        };
        // Dialing contacts of another node keep their count; the claim adds this node's attempt.
        let attempts = if doc.status == ContactStatus::Dialing { doc.attempts.saturating_sub(1) } else { doc.attempts };
        contacts.push(CampaignContact { number: doc.contact_number.clone(), state, attempts });
        slots.push(Slot { store_id: record.id, number: doc.contact_number });
    }
    free_own_slots(runner, org_id, batch_id).await?;
    let mut campaign = Campaign::restore(settings, contacts)?;
    // Contacts are claimed up to a lead before the campaign-wide start they get (see `voicera_dialer::pacing`).
    campaign.set_claim_lead(CLAIM_LEAD_MS);
    let mut execution = text(&batch.doc, "execution_status");
    follow_status(&mut campaign, &execution);

    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel::<Ended>();
    let mut calls = JoinSet::new();
    let mut live: HashSet<ContactId> = HashSet::new();
    // What this node holds for each live call: its slot, its lease as last renewed, and how to hang it up.
    let mut held: HashMap<ContactId, LiveLease> = HashMap::new();
    let mut max_live = campaign_limit(&config);
    // No slot claimed before this time (see SLOT_HANDOVER_MS).
    let mut claim_after = i64::MIN;
    let mut deltas = Deltas::default();
    let (mut last_check, mut last_renew) = (now_ms(), now_ms());
    let mut deleted = false;
    loop {
        let now = now_ms();
        if now - last_check >= POLL.as_millis() as i64 {
            last_check = now;
            match sync_batch(store, org_id, batch_id, &mut deltas, live.len()).await? {
                None => {
                    deleted = true;
                    campaign.stop();
                }
                Some(doc) => {
                    execution = text(&doc, "execution_status");
                    follow_status(&mut campaign, &execution);
                    if let Ok(latest) = campaign_of(&doc) {
                        if latest != config {
                            if let Ok(s) = latest.settings() {
                                campaign.set_pacing(s.pacing)?;
                                max_live = s.pacing.max_live_calls;
                            }
                            config = latest;
                        }
                    }
                }
            }
        }
        if now - last_renew >= runner.lease_ms / 3 {
            last_renew = now;
            for contact in &live {
                if let Some(lease) = held.get_mut(contact) {
                    keep_lease(runner, org_id, batch_id, &slots[*contact].store_id, lease, now).await;
                }
            }
        }
        // Every slot taken (by any node): the rest of this turn's contacts wait too, without a store read each.
        let mut slots_full = now < claim_after;
        // Campaign-wide pacing said no claim before this: likewise.
        let mut paced_until = None;
        for DialAction::Dial { contact, .. } in campaign.poll(now) {
            if let Some(at) = paced_until {
                campaign.release(contact, at)?;
                continue;
            }
            // The next start more than a lead away: claim nothing yet (no start is reserved before the contact
            // and a slot are this node's, see `voicera_dialer::pacing`).
            if !slots_full {
                if let Some(at) = pacing_claim_from(runner, org_id, batch_id, now).await? {
                    paced_until = Some(at);
                    campaign.release(contact, at)?;
                    continue;
                }
            }
            let store_id = &slots[contact].store_id;
            let slot =
                if slots_full { None } else { claim_slot(runner, org_id, batch_id, store_id, max_live, now).await? };
            let Some(slot) = slot else {
                slots_full = true;
                campaign.release(contact, (now + SLOT_RECHECK_MS).max(claim_after))?;
                continue;
            };
            let failed_rule = campaign.retry_rule(&AttemptOutcome::Failed(String::new()));
            let claimed = claim(runner, org_id, store_id, now, failed_rule).await;
            if !matches!(claimed, Ok(Claimed::Yes { .. })) {
                release_slot(runner, org_id, batch_id, slot, store_id).await;
            }
            match claimed? {
                Claimed::Yes { variables, attempt } => {
                    campaign.count_attempt_as(contact, attempt)?;
                    // The contact and its slot are ours: reserve the start (a store that fails leaves it to the
                    // call's task, which holds them meanwhile).
                    let rate = campaign_rate(&config);
                    let start_at = match reserve_start(runner, org_id, batch_id, rate).await {
                        Ok(at) => {
                            campaign.start_reserved(contact, at)?;
                            Some(at)
                        }
                        Err(error) => {
                            tracing::warn!(%error, %batch_id, "campaign: cannot reserve a start yet (the call tries on)");
                            None
                        }
                    };
                    live.insert(contact);
                    let lost = CancellationToken::new();
                    let lease = HeldLease::taken(now, runner.lease_ms);
                    held.insert(contact, LiveLease { slot, lease, lost: lost.clone() });
                    runner.metrics.dialled();
                    deltas.attempted += 1;
                    tracing::debug!(batch = %batch_id, contact = %slots[contact].number, attempt, "campaign: dialling");
                    let call = Call {
                        runner: Arc::clone(runner),
                        org_id: org_id.to_string(),
                        batch_id: batch_id.to_string(),
                        contact_id: store_id.clone(),
                        attempt,
                        agent_id: agent_id.clone(),
                        route: config.route(),
                        number: slots[contact].number.clone(),
                        caller_id: config.caller_id.clone(),
                        ring_timeout: Duration::from_secs(u64::from(config.ring_timeout_seconds)),
                        variables,
                        amd: config.amd,
                        voicemail_message: config.voicemail_message.clone(),
                        lost,
                        calls_per_second: rate,
                        start_at,
                    };
                    let ended = ended_tx.clone();
                    calls.spawn(async move {
                        let (outcome, key, amd) = match call.wait_for_start().await {
                            Ok(()) => call.place().await,
                            Err(outcome) => (outcome, None, None),
                        };
                        let _ = ended.send((contact, outcome, key, amd));
                    });
                }
                Claimed::DoneElsewhere(disposition) => {
                    campaign.release(contact, now)?;
                    campaign.finished_elsewhere(contact, disposition)?;
                }
                Claimed::NotNow(retry_at) => campaign.release(contact, retry_at)?,
            }
        }
        if campaign.live_calls() == 0 {
            let finished = match campaign.run_state() {
                RunState::Finished => Some(status::COMPLETED),
                RunState::Stopped => Some(status::STOPPED),
                RunState::Running | RunState::Paused => None,
            };
            if let Some(final_status) = finished {
                close_outside_window(runner, org_id, &slots, &campaign).await?;
                if !deleted {
                    let finished = finish_batch(store, org_id, batch_id, &mut deltas, final_status).await?;
                    if let Some(batch) = finished.filter(|_| final_status == status::COMPLETED) {
                        emit_completed(runner, &batch).await?;
                    }
                }
                tracing::info!(batch = %batch_id, status = final_status, progress = ?campaign.progress(), "campaign: ended");
                return Ok(());
            }
        }
        let wake = campaign
            .next_wakeup(now)
            .map_or(POLL.as_millis() as i64, |at| (at - now).clamp(0, POLL.as_millis() as i64));
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            ended = ended_rx.recv() => {
                let mut next = ended;
                while let Some((contact, outcome, key, amd)) = next {
                    live.remove(&contact);
                    let call = (outcome, key, amd);
                    record_outcome(runner, org_id, &slots[contact], &mut campaign, contact, call, &mut deltas).await?;
                    if let Some(lease) = held.remove(&contact) {
                        release_slot(runner, org_id, batch_id, lease.slot, &slots[contact].store_id).await;
                        // One node on SQLite has nobody to hand over to.
                        if matches!(runner.store, Store::Mongo(_)) {
                            claim_after = now_ms() + SLOT_HANDOVER_MS;
                        }
                    }
                    next = ended_rx.try_recv().ok();
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(wake as u64)) => {}
        }
    }
}

/// Pause, resume and stop as the batch's status says.
fn follow_status(campaign: &mut Campaign, execution: &str) {
    match execution {
        status::RUNNING => campaign.resume(),
        status::PAUSED => campaign.pause(),
        _ => campaign.stop(),
    }
}

/// Writes the counters gathered since the last write (and the live calls) to the batch; its document.
async fn sync_batch(
    store: &Store,
    org_id: &str,
    batch_id: &str,
    deltas: &mut Deltas,
    live: usize,
) -> Result<Option<Value>, StoreError> {
    let Some(current) = store.get(Collection::Batches, org_id, batch_id).await? else {
        return Ok(None);
    };
    let live_changed = current.doc.get("live_calls").and_then(Value::as_u64) != Some(live as u64);
    if deltas.is_empty() && !live_changed {
        return Ok(Some(current.doc));
    }
    let written = update_batch(store, org_id, batch_id, |doc| {
        add_counts(doc, deltas);
        doc.insert("live_calls".into(), json!(live));
        Ok::<(), StoreError>(())
    })
    .await?;
    *deltas = Deltas::default();
    Ok(written.map(|r| r.doc))
}

fn add_counts(doc: &mut serde_json::Map<String, Value>, deltas: &Deltas) {
    for (field, delta) in [
        ("attempted_calls", deltas.attempted),
        ("successful_calls", deltas.successful),
        ("failed_calls", deltas.failed),
    ] {
        let current = doc.get(field).and_then(Value::as_u64).unwrap_or(0);
        doc.insert(field.into(), json!(current + delta));
    }
}

/// Writes the last counters and `final_status`; the batch when this write ended its run (a compare-and-set:
/// one node's, once), so that node alone emits `campaign.completed`.
async fn finish_batch(
    store: &Store,
    org_id: &str,
    batch_id: &str,
    deltas: &mut Deltas,
    final_status: &str,
) -> Result<Option<Record>, StoreError> {
    let mut ended = false;
    let written = update_batch(store, org_id, batch_id, |doc| {
        add_counts(doc, deltas);
        doc.insert("live_calls".into(), json!(0));
        let current = doc.get("execution_status").and_then(Value::as_str).unwrap_or_default();
        // A batch run again or rescheduled meanwhile keeps its new status.
        ended = [status::RUNNING, status::PAUSED, status::STOPPING].contains(&current);
        if ended {
            doc.insert("execution_status".into(), json!(final_status));
            doc.insert("status".into(), json!("completed"));
            doc.insert("finished_at".into(), json!(utc_text(now_ms())));
        }
        Ok::<(), StoreError>(())
    })
    .await?;
    *deltas = Deltas::default();
    Ok(written.filter(|_| ended))
}

/// `campaign.completed`: the batch and its contacts' count per disposition (as the store has them).
async fn emit_completed(runner: &CampaignRunner, batch: &Record) -> Result<(), RunError> {
    let contacts =
        runner.store.list_prefix(Collection::BatchContacts, &batch.org_id, &contact_prefix(&batch.id)).await?;
    let mut counts = serde_json::Map::new();
    for contact in &contacts {
        let disposition = text(&contact.doc, "disposition");
        let key = if disposition.is_empty() { "none".to_string() } else { disposition };
        let count = counts.get(&key).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(key, json!(count + 1));
    }
    let mut data = campaign_event_data(batch);
    if let Some(map) = data.as_object_mut() {
        map.insert("total_contacts".into(), json!(contacts.len()));
        map.insert("dispositions".into(), Value::Object(counts));
        for field in ["attempted_calls", "successful_calls", "failed_calls", "finished_at"] {
            map.insert(field.into(), batch.doc.get(field).cloned().unwrap_or(Value::Null));
        }
    }
    runner.webhooks.emit(&batch.org_id, events::CAMPAIGN_COMPLETED, data).await;
    Ok(())
}

/// `campaign.contact_finished` for a contact whose final disposition this node just wrote (a
/// compare-and-set on the contact: once, whichever node wrote it).
async fn emit_contact_finished(runner: &CampaignRunner, record: &Record, doc: &ContactDocument) {
    let data = json!({
        "batch_id": doc.batch_id,
        "contact_id": record.id,
        "row_number": doc.row_number,
        "contact_number": doc.contact_number,
        "disposition": doc.disposition,
        "attempts": doc.attempts,
        "last_call_id": record.doc.get("last_call_id").cloned().unwrap_or(Value::Null),
    });
    runner.webhooks.emit(&record.org_id, events::CAMPAIGN_CONTACT_FINISHED, data).await;
}

/// The outcome of a claim.
enum Claimed {
    /// This node holds the lease: dial.
    Yes {
        /// The contact's other CSV columns, for `{{contact.<column>}}`.
        variables: Vec<(String, String)>,
        /// Which attempt the store counts this one as (other nodes' attempts included).
        attempt: u32,
    },
    /// Another node finished the contact, or it is on the org's do-not-call list now (`dnc-skipped`).
    DoneElsewhere(Disposition),
    /// Another node holds it, or the store changed under us: look again then.
    NotNow(i64),
}

async fn claim(
    runner: &CampaignRunner,
    org_id: &str,
    store_id: &str,
    now: i64,
    failed_rule: RetryRule,
) -> Result<Claimed, RunError> {
    let Some(mut record) = runner.store.get(Collection::BatchContacts, org_id, store_id).await? else {
        return Ok(Claimed::DoneElsewhere(Disposition::Attempted(AttemptOutcome::Failed("contact deleted".into()))));
    };
    let mut doc = ContactDocument::from_json(&record.doc)?;
    // Lapsed by more than two clocks may disagree (`MAX_CLOCK_SKEW_MS`): a node whose clock runs ahead must not
    // take a live node's contact; within the margin the contact is looked at again shortly.
    if doc.lost(now.saturating_sub(MAX_CLOCK_SKEW_MS)) {
        // Left dialling by a node whose lease lapsed: its call died with it, or (a provider call served by
        // another node) is ended now, before the attempt is settled and anyone may call again.
        let all_down = match end_lost_calls(runner, org_id, store_id, &doc).await {
            Ok(all_down) => all_down,
            Err(error) => {
                tracing::warn!(%error, contact = %store_id, "campaign: cannot list the dials of a lost attempt; settled later");
                return Ok(Claimed::NotNow(now + RECHECK_MS));
            }
        };
        // The attempt counts under the failure rule before anyone may call again (see `voicera_dialer::lease`).
        let settled = settled_lost(runner, &doc, now, failed_rule, all_down)?;
        if !write_contact(&runner.store, &record, &settled, doc.version).await? {
            return Ok(Claimed::NotNow(now + RECHECK_MS));
        }
        tracing::warn!(contact = %record.id, next = ?settled.status, "campaign: an attempt lost with its node recorded as failed(node lost)");
        record = with_contact(&record, &settled);
        if settled.status == ContactStatus::Done {
            emit_contact_finished(runner, &record, &settled).await;
        }
        doc = settled;
    }
    if doc.status == ContactStatus::Done {
        let disposition = doc.disposition.as_deref().unwrap_or("failed(unknown)").parse()?;
        return Ok(Claimed::DoneElsewhere(disposition));
    }
    let claimed = match doc.claim(&runner.node_id, now, runner.lease_ms) {
        Ok(claimed) => claimed,
        Err(voicera_dialer::DialerError::Leased { expires_at, .. }) => return Ok(Claimed::NotNow(expires_at)),
        Err(_) => return Ok(Claimed::NotNow(doc.next_attempt_at.max(now + RECHECK_MS))),
    };
    // Listed after the upload (or since the last attempt): skipped, never dialled. Checked once the lease is
    // ours to take, so a contact another node is calling right now keeps that node's outcome.
    if voicera_api::routes::dnc::is_listed(&runner.store, org_id, &doc.contact_number).await? {
        let mut next = doc.clone();
        next.status = ContactStatus::Done;
        next.disposition = Some(Disposition::DncSkipped.to_string());
        next.lease = None;
        next.version += 1;
        if !write_contact(&runner.store, &record, &next, doc.version).await? {
            return Ok(Claimed::NotNow(now + RECHECK_MS));
        }
        tracing::info!(contact = %doc.contact_number, "campaign: on the do-not-call list; skipped");
        emit_contact_finished(runner, &record, &next).await;
        return Ok(Claimed::DoneElsewhere(Disposition::DncSkipped));
    }
    if write_contact(&runner.store, &record, &claimed, doc.version).await? {
        Ok(Claimed::Yes { attempt: claimed.attempts, variables: claimed.dynamic_fields.into_iter().collect() })
    } else {
        Ok(Claimed::NotNow(now + RECHECK_MS))
    }
}

/// `record` with `next`'s fields written over it (the API's extra fields kept).
fn with_contact(record: &Record, next: &ContactDocument) -> Record {
    let mut doc = record.doc.clone();
    if let (Some(map), Value::Object(fields)) = (doc.as_object_mut(), next.to_json()) {
        map.extend(fields);
    }
    Record { org_id: record.org_id.clone(), id: record.id.clone(), doc }
}

/// Writes `next` over `record` (keeping the API's extra fields) if the stored version is still `expected`.
async fn write_contact(
    store: &Store,
    record: &Record,
    next: &ContactDocument,
    expected: u64,
) -> Result<bool, StoreError> {
    store.put_if_version(Collection::BatchContacts, &with_contact(record, next), Some(expected)).await
}

/// What this node holds for one of its live calls.
struct LiveLease {
    /// The campaign slot the call counts in.
    slot: u32,
    /// The contact's lease (and the slot's: renewed together) as last renewed.
    lease: HeldLease,
    /// Cancelled to hang the call up: its lease is lost.
    lost: CancellationToken,
}

/// The campaign's call rate as configured (1 a second if the settings do not parse: the task refuses those).
fn campaign_rate(config: &voicera_dialer::config::CampaignConfig) -> u32 {
    config.settings().map_or(1, |s| s.pacing.max_new_calls_per_second)
}

/// Whether this node may claim a contact (and a slot) of the campaign for its next start at `now` (see
/// [`voicera_dialer::pacing::claim_from`]): `None` when it may, else when to look again. A read only.
async fn pacing_claim_from(
    runner: &CampaignRunner,
    org_id: &str,
    batch_id: &str,
    now: i64,
) -> Result<Option<i64>, RunError> {
    match runner.store.get(Collection::CampaignPacing, org_id, batch_id).await {
        Ok(stored) => {
            let stored = stored.map(|r| PacingDocument::from_json(&r.doc)).transpose()?;
            Ok(claim_from(stored.as_ref(), now))
        }
        // A store that fails is no fault of the campaign's: its next claim is tried again shortly.
        Err(error) => {
            tracing::warn!(%error, %batch_id, "campaign: cannot read the pacing (trying again shortly)");
            Ok(Some(now.saturating_add(SLOT_RECHECK_MS)))
        }
    }
}

/// Reserves the campaign's next start at `calls_per_second` for a call whose contact and slot this node holds
/// (see [`voicera_dialer::pacing::reserve_start`]): when the call may start (Unix ms; now, or a little later).
async fn reserve_start(
    runner: &CampaignRunner,
    org_id: &str,
    batch_id: &str,
    calls_per_second: u32,
) -> Result<i64, RunError> {
    for _ in 0..PACE_TRIES {
        let stored = runner.store.get(Collection::CampaignPacing, org_id, batch_id).await?;
        let stored = stored.map(|r| PacingDocument::from_json(&r.doc)).transpose()?;
        let reservation = voicera_dialer::pacing::reserve_start(batch_id, stored.as_ref(), calls_per_second, now_ms())?;
        let doc = reservation.claim.document().to_json();
        let record = Record { org_id: org_id.to_string(), id: batch_id.to_string(), doc };
        if runner
            .store
            .put_if_version(Collection::CampaignPacing, &record, reservation.claim.expected_version())
            .await?
        {
            return Ok(reservation.start_at);
        }
    }
    Err(RunError::Contended(PACE_TRIES))
}

/// The campaign's live-call limit as configured (1 if the settings do not parse: the task refuses those).
fn campaign_limit(config: &voicera_dialer::config::CampaignConfig) -> u32 {
    config.settings().map_or(1, |s| s.pacing.max_live_calls)
}

/// Claims a free live-call slot of the campaign for the call to `contact` (see [`voicera_dialer::slots`]):
/// its number, or `None` when `limit` calls are up across the nodes (or every free slot went to another node
/// first).
async fn claim_slot(
    runner: &CampaignRunner,
    org_id: &str,
    batch_id: &str,
    contact: &str,
    limit: u32,
    now: i64,
) -> Result<Option<u32>, RunError> {
    let records = runner.store.list_prefix(Collection::CampaignSlots, org_id, &SlotDocument::prefix(batch_id)).await?;
    let stored: Vec<SlotDocument> = records.iter().filter_map(|r| SlotDocument::from_json(&r.doc).ok()).collect();
    for claim in plan_claim(batch_id, &stored, limit, &runner.node_id, contact, now, runner.lease_ms) {
        let slot = claim.document();
        let record = Record { org_id: org_id.to_string(), id: slot.store_id(), doc: slot.to_json() };
        let expected = match &claim {
            SlotClaim::Insert(_) => None,
            SlotClaim::Replace { expected_version, .. } => Some(*expected_version),
        };
        if runner.store.put_if_version(Collection::CampaignSlots, &record, expected).await? {
            return Ok(Some(slot.slot));
        }
    }
    Ok(None)
}

/// Frees the campaign's slots this node's previous process left held (a restart): its calls died with it, as
/// [`settle_dialing`] settles their contacts.
async fn free_own_slots(runner: &CampaignRunner, org_id: &str, batch_id: &str) -> Result<(), RunError> {
    let records = runner.store.list_prefix(Collection::CampaignSlots, org_id, &SlotDocument::prefix(batch_id)).await?;
    for record in records {
        let Ok(doc) = SlotDocument::from_json(&record.doc) else { continue };
        if let Some(next) = doc.free_own(&runner.node_id) {
            let freed = Record { org_id: org_id.to_string(), id: record.id.clone(), doc: next.to_json() };
            runner.store.put_if_version(Collection::CampaignSlots, &freed, Some(doc.version)).await?;
        }
    }
    Ok(())
}

/// Frees the slot the call to `contact` held (logged, not fatal: a slot left held lapses with its lease).
async fn release_slot(runner: &CampaignRunner, org_id: &str, batch_id: &str, slot: u32, contact: &str) {
    let result: Result<(), RunError> = async {
        let id = SlotDocument::store_id_of(batch_id, slot);
        let Some(record) = runner.store.get(Collection::CampaignSlots, org_id, &id).await? else {
            return Ok(());
        };
        let doc = SlotDocument::from_json(&record.doc)?;
        let next = doc.release(&runner.node_id, contact)?;
        let record = Record { org_id: org_id.to_string(), id, doc: next.to_json() };
        runner.store.put_if_version(Collection::CampaignSlots, &record, Some(doc.version)).await?;
        Ok(())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, contact, slot, "campaign: cannot free a live-call slot (it lapses with its lease)");
    }
}

/// Renews a live call's contact lease and slot. A lease another node holds now (or that lapsed) hangs the
/// call up at once; a store that does not answer hangs it up once too little of the lease is left
/// ([`HeldLease::must_hang_up`]), before another node could take the contact over.
async fn keep_lease(
    runner: &CampaignRunner,
    org_id: &str,
    batch_id: &str,
    contact: &str,
    live: &mut LiveLease,
    now: i64,
) {
    if live.lost.is_cancelled() {
        return;
    }
    // A store that hangs must not hold the loop past the hang-up time: give each renewal part of an interval.
    let budget = Duration::from_millis(u64::try_from(live.lease.renew_every() / 2).unwrap_or(1).max(1));
    let renewal = tokio::time::timeout(budget, renew(runner, org_id, batch_id, contact, live.slot, now)).await;
    let why = match renewal {
        Ok(Ok(())) => {
            live.lease.renewed(now);
            return;
        }
        Ok(Err(RunError::Dialer(voicera_dialer::DialerError::LeaseLost { .. }))) => "the lease is another's",
        Ok(Err(error)) => {
            tracing::warn!(%error, contact, "campaign: cannot renew a lease");
            if !live.lease.must_hang_up(now) {
                return;
            }
            "the store did not answer for two thirds of the lease"
        }
        Err(_) => {
            tracing::warn!(contact, "campaign: renewing a lease timed out");
            if !live.lease.must_hang_up(now) {
                return;
            }
            "the store did not answer for two thirds of the lease"
        }
    };
    tracing::warn!(contact, why, "campaign: lease lost; hanging the call up");
    live.lost.cancel();
}

/// Renews the contact's lease, then its slot's.
async fn renew(
    runner: &CampaignRunner,
    org_id: &str,
    batch_id: &str,
    store_id: &str,
    slot: u32,
    now: i64,
) -> Result<(), RunError> {
    let Some(record) = runner.store.get(Collection::BatchContacts, org_id, store_id).await? else {
        return Ok(());
    };
    let doc = ContactDocument::from_json(&record.doc)?;
    let renewed = doc.renew(&runner.node_id, now, runner.lease_ms)?;
    if !write_contact(&runner.store, &record, &renewed, doc.version).await? {
        return Err(voicera_dialer::DialerError::LeaseLost { node: runner.node_id.clone() }.into());
    }
    let id = SlotDocument::store_id_of(batch_id, slot);
    let Some(record) = runner.store.get(Collection::CampaignSlots, org_id, &id).await? else {
        return Err(voicera_dialer::DialerError::LeaseLost { node: runner.node_id.clone() }.into());
    };
    let doc = SlotDocument::from_json(&record.doc)?;
    let next = doc.renew(&runner.node_id, store_id, now, runner.lease_ms)?;
    let record = Record { org_id: org_id.to_string(), id, doc: next.to_json() };
    if !runner.store.put_if_version(Collection::CampaignSlots, &record, Some(doc.version)).await? {
        return Err(voicera_dialer::DialerError::LeaseLost { node: runner.node_id.clone() }.into());
    }
    Ok(())
}

/// Ends the provider calls of `doc`'s lost attempt (see [`ProviderCalls::end_lost_calls`]): whether every
/// one is down (an error: its dials could not be listed, and the contact must not be settled yet).
///
/// [`ProviderCalls::end_lost_calls`]: crate::campaign_provider::ProviderCalls::end_lost_calls
async fn end_lost_calls(
    runner: &CampaignRunner,
    org_id: &str,
    store_id: &str,
    doc: &ContactDocument,
) -> Result<bool, StoreError> {
    let lost_node = doc.lease.as_ref().map(|lease| lease.node.as_str());
    runner.provider_calls.end_lost_calls(org_id, store_id, doc.attempts, lost_node).await
}

/// `doc`'s lost attempt settled at `now` under `failed_rule`. A call of it that may still be up
/// (`all_down` false: its dial marked settled, its hang-up through the API not confirmed) holds the retry
/// back until the serving node has seen the settlement and hung up
/// ([`settled_dial_grace_ms`](crate::campaign_provider::ProviderCalls::settled_dial_grace_ms)).
fn settled_lost(
    runner: &CampaignRunner,
    doc: &ContactDocument,
    now: i64,
    failed_rule: RetryRule,
    all_down: bool,
) -> Result<ContactDocument, RunError> {
    let mut settled = doc.settle_lost(now, failed_rule)?;
    if !all_down && settled.status != ContactStatus::Done {
        let not_before = now.saturating_add(runner.provider_calls.settled_dial_grace_ms());
        settled.next_attempt_at = settled.next_attempt_at.max(not_before);
    }
    Ok(settled)
}

/// A contact stored as dialling when the campaign (re)starts. Its call died with the node that placed it
/// when that node is this one (a restart) or its lease lapsed (a provider call another node still serves is
/// hung up first): the attempt ends as `failed(node lost)`, and the contact is retried only if the failure
/// rule has attempts left (after its spacing). A live lease of another node is left.
async fn settle_dialing(
    runner: &CampaignRunner,
    record: &Record,
    doc: ContactDocument,
    now: i64,
    failed_rule: RetryRule,
) -> Result<ContactDocument, RunError> {
    // Another node's lease is taken as live until it lapsed by more than two clocks may disagree.
    let lease_live = doc.lease.as_ref().is_some_and(|l| l.expires_at > now.saturating_sub(MAX_CLOCK_SKEW_MS));
    let mine = doc.lease.as_ref().is_some_and(|l| l.node == runner.node_id);
    if lease_live && !mine {
        return Ok(doc);
    }
    // A provider call of the lost attempt may still be up, served by another node: it is settled and hung up
    // through the provider's API before the contact may be called again.
    // Its dials unreadable, the store fails as it would for the contact's own write.
    let all_down = end_lost_calls(runner, &record.org_id, &record.id, &doc).await?;
    // This node's own lease, from before its restart, is not waited out: nothing of that process is calling.
    let lapsed = ContactDocument { lease: None, ..doc.clone() };
    let next = settled_lost(runner, &lapsed, now, failed_rule, all_down)?;
    if write_contact(&runner.store, record, &next, doc.version).await? {
        tracing::warn!(contact = %record.id, "campaign: an attempt lost with its node recorded as failed(node lost)");
        if next.status == ContactStatus::Done {
            emit_contact_finished(runner, record, &next).await;
        }
        Ok(next)
    } else {
        // Someone else settled it first: take what is stored now.
        let stored = runner.store.get(Collection::BatchContacts, &record.org_id, &record.id).await?;
        match stored {
            Some(r) => Ok(ContactDocument::from_json(&r.doc)?),
            None => Ok(next),
        }
    }
}

async fn record_outcome(
    runner: &CampaignRunner,
    org_id: &str,
    slot: &Slot,
    campaign: &mut Campaign,
    contact: ContactId,
    (outcome, call_key, amd): (AttemptOutcome, Option<String>, Option<Value>),
    deltas: &mut Deltas,
) -> Result<(), RunError> {
    let now = now_ms();
    match outcome {
        AttemptOutcome::AnsweredHuman | AttemptOutcome::AnsweredMachine | AttemptOutcome::MessageLeft => {
            deltas.successful += 1
        }
        _ => deltas.failed += 1,
    }
    let outcome_text = Disposition::Attempted(outcome.clone()).to_string();
    runner.metrics.ended(&outcome_text);
    campaign.on_outcome(contact, outcome, now)?;
    let after = match &campaign.contact(contact).map(|c| c.state.clone()) {
        Some(ContactState::Pending { not_before }) => AfterAttempt::RetryAt(*not_before),
        Some(ContactState::Done(disposition)) => AfterAttempt::Done(disposition.to_string()),
        Some(ContactState::Dialing { .. }) | None => AfterAttempt::Done(outcome_text.clone()),
    };
    tracing::info!(contact = %slot.number, outcome = %outcome_text, next = ?after, "campaign: attempt ended");
    for _ in 0..5 {
        let Some(record) = runner.store.get(Collection::BatchContacts, org_id, &slot.store_id).await? else {
            return Ok(());
        };
        let doc = ContactDocument::from_json(&record.doc)?;
        let next = match doc.finish(&runner.node_id, &outcome_text, after.clone(), now) {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(%error, contact = %slot.number, "campaign: the outcome came after the lease was lost");
                return Ok(());
            }
        };
        let mut record = record;
        if let (Some(map), Some(key)) = (record.doc.as_object_mut(), &call_key) {
            map.insert("last_call_id".into(), json!(key));
        }
        if let (Some(map), Some(amd)) = (record.doc.as_object_mut(), &amd) {
            map.insert("last_amd".into(), amd.clone());
        }
        if write_contact(&runner.store, &record, &next, doc.version).await? {
            if next.status == ContactStatus::Done {
                emit_contact_finished(runner, &record, &next).await;
            }
            return Ok(());
        }
    }
    tracing::warn!(contact = %slot.number, "campaign: the outcome could not be stored (the contact kept changing)");
    Ok(())
}

/// Contacts the campaign's end closed as outside-window, still queued in the store.
async fn close_outside_window(
    runner: &CampaignRunner,
    org_id: &str,
    slots: &[Slot],
    campaign: &Campaign,
) -> Result<(), RunError> {
    for (id, slot) in slots.iter().enumerate() {
        let Some(ContactState::Done(Disposition::OutsideWindow)) = campaign.contact(id).map(|c| &c.state) else {
            continue;
        };
        let Some(record) = runner.store.get(Collection::BatchContacts, org_id, &slot.store_id).await? else {
            continue;
        };
        let doc = ContactDocument::from_json(&record.doc)?;
        if doc.status != ContactStatus::Queued {
            continue;
        }
        let mut next = doc.clone();
        next.status = ContactStatus::Done;
        next.disposition = Some(Disposition::OutsideWindow.to_string());
        next.version += 1;
        if write_contact(&runner.store, &record, &next, doc.version).await? {
            emit_contact_finished(runner, &record, &next).await;
        }
    }
    Ok(())
}

/// One call to place.
struct Call {
    runner: Arc<CampaignRunner>,
    /// The campaign's org (a provider route dials with its account).
    org_id: String,
    /// The campaign, and the contact's store id (a provider call's registration names them).
    batch_id: String,
    contact_id: String,
    /// Which attempt of the contact this call is (the store's count).
    attempt: u32,
    agent_id: String,
    /// A `[[trunks]]` entry or a provider's REST API (None: the campaign names neither).
    route: Option<CampaignRoute>,
    number: String,
    caller_id: Option<String>,
    ring_timeout: Duration,
    /// The contact's other CSV columns, by header name: the agent's `{{contact.<column>}}`.
    variables: Vec<(String, String)>,
    /// Answering-machine detection, and what a machine gets.
    amd: AmdMode,
    /// The campaign's voicemail message (else the agent's greeting).
    voicemail_message: Option<String>,
    /// Cancelled when this node lost the call's lease: the call is hung up.
    lost: CancellationToken,
    /// The campaign's call rate, for a start still to reserve.
    calls_per_second: u32,
    /// The call's reserved start (Unix ms); None: still to reserve (the store failed when the contact was
    /// claimed).
    start_at: Option<i64>,
}

/// What answering-machine detection reported on one call.
#[derive(Debug, Default)]
struct AmdHeard {
    /// The verdict (`human`, `machine`, `machine-beep`, `undecided`), when one came.
    verdict: Option<&'static str>,
    decided_after_ms: u64,
    /// What the call did with it.
    action: &'static str,
    message_left: bool,
    /// Voice (an announcement, a greeting, a caller tune) was heard in early media, before any answer.
    early_voice: bool,
    /// A special information tone was heard (before or after the answer): the network announced a failure.
    sit: bool,
}

impl AmdHeard {
    /// Takes in the events a call sent.
    fn read(events: &mut mpsc::UnboundedReceiver<AmdEvent>) -> AmdHeard {
        let mut heard = AmdHeard { action: "none", ..AmdHeard::default() };
        while let Ok(event) = events.try_recv() {
            match event {
                AmdEvent::Decided { decision, step } => {
                    heard.verdict = Some(decision.verdict.as_str());
                    heard.decided_after_ms = decision.decided_after_ms;
                    heard.action = step.action(decision.verdict);
                }
                AmdEvent::MessageLeft => heard.message_left = true,
                AmdEvent::EarlyVoice => heard.early_voice = true,
                AmdEvent::SpecialInformationTone => heard.sit = true,
            }
        }
        heard
    }

    /// A machine answered (a call with no verdict counts as a person's: the agent was started).
    fn machine(&self) -> bool {
        matches!(self.verdict, Some("machine" | "machine-beep"))
    }

    fn to_json(&self) -> Value {
        json!({
            "verdict": self.verdict.unwrap_or("undecided"),
            "decided_after_ms": self.decided_after_ms,
            "action": self.action,
            "message_left": self.message_left,
            "early_voice": self.early_voice,
            "sit": self.sit,
        })
    }
}

impl Call {
    /// Waits for the call's reserved start, reserving it first if that is still to do (trying until the store
    /// answers). A lease lost meanwhile ends the attempt before any call (`failed(lease lost)`), as does a
    /// pacing document that cannot be read.
    async fn wait_for_start(&self) -> Result<(), AttemptOutcome> {
        let start_at = match self.start_at {
            Some(at) => at,
            None => loop {
                let reserved = reserve_start(&self.runner, &self.org_id, &self.batch_id, self.calls_per_second);
                match reserved.await {
                    Ok(at) => break at,
                    Err(RunError::Dialer(error)) => return Err(AttemptOutcome::Failed(format!("pacing: {error}"))),
                    Err(error) => tracing::warn!(%error, batch_id = %self.batch_id, "campaign: cannot reserve a start"),
                }
                tokio::select! {
                    _ = self.lost.cancelled() => return Err(AttemptOutcome::Failed(LEASE_LOST.into())),
                    _ = tokio::time::sleep(PACE_RETRY) => {}
                }
            },
        };
        let wait = Duration::from_millis(u64::try_from(start_at.saturating_sub(now_ms())).unwrap_or(0));
        tokio::select! {
            _ = self.lost.cancelled() => Err(AttemptOutcome::Failed(LEASE_LOST.into())),
            _ = tokio::time::sleep(wait) => Ok(()),
        }
    }

    /// Places the call and waits for its end: the outcome, the call's key when it was answered, and what
    /// answering-machine detection reported (when it was on and the call was answered).
    async fn place(self) -> (AttemptOutcome, Option<String>, Option<Value>) {
        let failed = |reason: String| (AttemptOutcome::Failed(reason), None, None);
        let to = match self.runner.policy.check(&self.number) {
            Ok(NormalizedTarget::Sip(_)) => return failed(format!("{} is not a phone number", self.number)),
            Ok(target) => target.dial_string().to_string(),
            Err(refused) => return failed(format!("dial policy: {refused}")),
        };
        let agent = match self.runner.router.route(&self.agent_id) {
            Some(Destination::Agent(agent)) => Some(agent),
            Some(Destination::Echo) => None,
            Some(Destination::Unavailable { reason, .. }) => return failed(format!("agent unavailable: {reason}")),
            None => return failed(format!("no agent {:?}", self.agent_id)),
        };
        let on_machine = match self.amd {
            AmdMode::Off => None,
            AmdMode::Hangup => Some(MachineAction::HangUp),
            AmdMode::LeaveMessage => Some(MachineAction::LeaveMessage),
            AmdMode::Connect => Some(MachineAction::Connect),
        };
        let (amd, mut amd_events) = match on_machine {
            Some(on_machine) => {
                let (events, heard) = mpsc::unbounded_channel();
                let message = self
                    .voicemail_message
                    .clone()
                    .or_else(|| agent.as_ref().map(|a| a.greeting.clone()))
                    .unwrap_or_default();
                (Some(AmdRequest { on_machine, message, events: Some(events) }), Some(heard))
            }
            None => (None, None),
        };
        let trunk = match self.route.clone() {
            Some(CampaignRoute::Trunk(trunk)) => trunk,
            Some(CampaignRoute::Provider(provider)) => {
                let heard = self.through_provider(&provider, to, agent.is_some(), amd, amd_events.as_mut()).await;
                return heard;
            }
            None => return failed("the campaign names no trunk or provider".into()),
        };
        let request = OutboundRequest {
            trunk,
            to,
            from: self.caller_id.clone(),
            ring_timeout: Some(self.ring_timeout),
            agent,
            variables: self.variables,
            amd,
        };
        match self.runner.sip.place_call(request).await {
            Ok(key) => {
                // Answered: the call is live until the SIP service no longer lists it (a BYE either way), or
                // until this node loses its lease (then it hangs up: another node may take the contact).
                loop {
                    tokio::select! {
                        _ = self.lost.cancelled() => {
                            let hung_up = self.runner.sip.hangup(key.clone()).await;
                            tracing::warn!(call = %key, hung_up, "campaign: hung up a call whose lease was lost");
                            return (AttemptOutcome::Failed(LEASE_LOST.into()), Some(key.as_str().to_string()), None);
                        }
                        _ = tokio::time::sleep(CALL_END_POLL) => {}
                    }
                    if !self.runner.sip.calls().await.contains(&key) {
                        break;
                    }
                }
                let heard = amd_events.as_mut().map(AmdHeard::read);
                let outcome = match &heard {
                    // A special information tone on the answered line: the network's announcement answered.
                    Some(heard) if heard.sit && !heard.message_left => AttemptOutcome::Failed(ANNOUNCEMENT.into()),
                    // A message left is final: a retry would leave a second one.
                    Some(heard) if heard.machine() && heard.message_left => AttemptOutcome::MessageLeft,
                    Some(heard) if heard.machine() => AttemptOutcome::AnsweredMachine,
                    _ => AttemptOutcome::AnsweredHuman,
                };
                (outcome, Some(key.as_str().to_string()), heard.map(|h| h.to_json()))
            }
            Err(err) => {
                // Whether the final status says nothing precise of the callee (480, 404, 5xx, our CANCEL at
                // the ring timeout, 408): then voice in early media is what tells what happened. Busy and
                // declined (486/600/603) always stand.
                let err_status = match &err {
                    PlaceCallError::Rejected { status, .. } => Some(*status),
                    _ => None,
                };
                let (outcome, unspecific) = match err {
                    PlaceCallError::Rejected { status, .. } => {
                        (AttemptOutcome::from_sip_status(status), matches!(status, 404 | 480 | 500..=599))
                    }
                    PlaceCallError::NoAnswer => (AttemptOutcome::NoAnswer, true),
                    PlaceCallError::Timeout => (AttemptOutcome::from_sip_status(408), true),
                    other => return failed(other.to_string()),
                };
                // Voice in early media and no answer: with a final status that says nothing precise, the
                // network played an announcement ("the number you are calling is switched off") over the
                // ringing: `failed(announcement)`, retried under `retry.failed`. A precise status (486/600/603
                // busy or declined) stands, with the early voice noted in the attempt's `amd`.
                let heard = amd_events.as_mut().map(AmdHeard::read).filter(|heard| heard.early_voice || heard.sit);
                let precise_busy = matches!(err_status, Some(486 | 600 | 603));
                match heard {
                    Some(heard) if !precise_busy && (heard.sit || unspecific) => {
                        tracing::info!(ended = ?outcome, "campaign: an announcement in early media, no answer");
                        failed(ANNOUNCEMENT.into())
                    }
                    Some(heard) => (outcome, None, Some(heard.to_json())),
                    None => (outcome, None, None),
                }
            }
        }
    }
}

impl Call {
    /// The provider arm of [`Call::place`]: the call goes out through `provider`'s REST API with the org's
    /// account and is followed to its end; the outcome takes our own detection's verdict on the stream.
    async fn through_provider(
        &self,
        provider: &str,
        to: String,
        has_agent: bool,
        amd: Option<AmdRequest>,
        amd_events: Option<&mut mpsc::UnboundedReceiver<AmdEvent>>,
    ) -> (AttemptOutcome, Option<String>, Option<Value>) {
        let failed = |reason: String| (AttemptOutcome::Failed(reason), None, None);
        let Some(provider) = voicera_carrier_rest::Provider::parse(provider).filter(|p| p.places_calls()) else {
            return failed(format!("{provider} places no calls"));
        };
        if !has_agent {
            return failed("provider calls need an agent".into());
        }
        let Some(caller_id) = self.caller_id.clone() else {
            return failed(format!("calls through {} need a caller id", provider.as_str()));
        };
        let calls = &self.runner.provider_calls;
        let account = match calls.account(&self.runner.store, &self.org_id, provider).await {
            Ok(Some(account)) => account,
            Ok(None) => return failed(format!("the org has no {} account", provider.as_str())),
            Err(error) => return failed(format!("reading the org's {} account: {error}", provider.as_str())),
        };
        let call = crate::campaign_provider::ProviderCall {
            org_id: self.org_id.clone(),
            batch_id: self.batch_id.clone(),
            contact: self.contact_id.clone(),
            attempt: self.attempt,
            provider,
            agent_id: self.agent_id.clone(),
            to,
            caller_id,
            ring_timeout: self.ring_timeout,
            variables: self.variables.clone(),
            amd,
        };
        let ended = calls.place(account, call, &self.lost).await;
        let heard = amd_events.map(AmdHeard::read);
        let outcome = match (&ended.outcome, &heard) {
            // A special information tone on the answered stream (heard on whichever node ran it): the
            // network's announcement answered, as on SIP.
            (AttemptOutcome::AnsweredHuman | AttemptOutcome::AnsweredMachine, Some(heard))
                if heard.sit && !heard.message_left =>
            {
                AttemptOutcome::Failed(ANNOUNCEMENT.into())
            }
            // A message was left (after our detection's or the provider's machine verdict): final, as on SIP,
            // so no machine gets a second message.
            (AttemptOutcome::AnsweredHuman | AttemptOutcome::AnsweredMachine, Some(heard))
                if heard.machine() && heard.message_left =>
            {
                AttemptOutcome::MessageLeft
            }
            // Ours wins where both decided: it heard the stream the agent talks on, and it is what gated the
            // agent (a person it connected was talked to as one). The provider's counts where ours has no
            // verdict (`undecided`, or detection ended by a hang-up before it decided).
            (AttemptOutcome::AnsweredHuman, Some(heard)) if heard.machine() => AttemptOutcome::AnsweredMachine,
            (AttemptOutcome::AnsweredMachine, Some(heard)) if heard.verdict == Some("human") => {
                AttemptOutcome::AnsweredHuman
            }
            (outcome, _) => outcome.clone(),
        };
        let answered = matches!(
            outcome,
            AttemptOutcome::AnsweredHuman | AttemptOutcome::AnsweredMachine | AttemptOutcome::MessageLeft
        );
        let amd = heard.filter(|h| answered || h.sit).map(|h| h.to_json());
        (outcome, ended.call_id, amd)
    }
}
