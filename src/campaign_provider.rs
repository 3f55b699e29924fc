//! The campaign runner's provider arm: a contact called through a provider's REST API (Vobiz, Plivo, Twilio)
//! instead of a `[[trunks]]` entry. The provider calls the number and, once it is answered, fetches this node's
//! answer URL, whose document opens the media stream to the agent (with the contact's variables and, when the
//! campaign asks, answering-machine detection on the stream's audio); its signed status callbacks report the
//! end. The call holds its place among the campaign's live calls from the request until its final status
//! callback or the end of its stream, and a call whose provider goes quiet is given up on after a time-out
//! (hung up through the API, best effort), so no slot leaks.
//!
//! The provider may call back any node of the deployment (a load balancer in front of several): each call is
//! registered in the store (`campaign_dials`, [`voicera_dialer::dials`]) before it is placed, so any node
//! answers its webhook (with the placing org's account and only for its agent), runs its stream and records
//! its status callbacks there; the placing node reads them back and follows the call to its end as if it had
//! heard them itself, holding the contact's lease and the campaign's slot until then. Its reads are fast while
//! it waits for the answer and the stream and back off while the call is up ([`DialFollow`]).
//!
//! When the placing node dies, the call is not left up behind a contact another node may dial again: the node
//! serving the stream watches the dial ([`ServingWatch`], [`DialRegistry::watch`]) and hangs up once the dial
//! lapsed or was settled, and the node that settles the contact `failed(node lost)` first settles the dial
//! and hangs its call up through the provider's API ([`ProviderCalls::end_lost_calls`]). The serving node's
//! heartbeat on the dial lets the placing node give up on a stream whose end notes never came.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use voicera_carrier_rest::{CallRequest, Provider, ProviderAccount, ProviderRest};
use voicera_conversation::amd::{AmdDecision, AmdEvent, GateStep, MachineAction};
use voicera_dialer::campaign::AttemptOutcome;
use voicera_dialer::dial_watch::{DialFollow, FollowStep, ServingWatch, WatchStep, FAST_READ_MS};
use voicera_dialer::dials::{DialAmd, DialDocument, DialNote, NewDial};
use voicera_media::amd::AmdVerdict;
use voicera_store::secret::MasterKey;
use voicera_store::{Collection, Record, Store};
use voicera_telephony::sip_rtp::AmdRequest;
use voicera_telephony::ws_stream::dialled::{follow, DialEvent, DialFuture, DialRegistry, DialledCall, DIAL_PARAM};

/// How long a placed call may go without a word from the provider beyond its ring time-out: no stream and no
/// final status by then, and it is hung up and counted failed.
const SETUP_GRACE: Duration = Duration::from_secs(20);
/// Tries at recording a note when other nodes keep writing the same dial (each try re-reads it).
const NOTE_TRIES: usize = 8;
/// Tries at a heartbeat or a settlement when other nodes keep writing the same dial (each re-reads it).
const BEAT_TRIES: usize = 3;

/// What the provider arm needs from the node. It is also the node's [`DialRegistry`]: the telephony endpoints
/// find dialled calls, and report on them, through it.
pub(crate) struct ProviderCalls {
    /// Where dialled calls are registered (the deployment's store).
    pub(crate) store: Store,
    /// This node's id: the holder named in its dials' leases.
    pub(crate) node_id: String,
    /// A dial's lease length (`[campaigns] lease_ms`), renewed every third of it while the call is followed.
    pub(crate) lease_ms: i64,
    /// This node's public URL: the provider fetches the answer and posts the status here.
    pub(crate) public_url: String,
    /// The node's `[telephony.<provider>]` accounts (the owner's org may dial with them).
    pub(crate) node_accounts: HashMap<Provider, ProviderAccount>,
    /// Opens the orgs' sealed integration keys.
    pub(crate) master_key: MasterKey,
    /// The owner's org (`default`: no owner on this node), once known.
    pub(crate) owner_org: Arc<voicera_records::RecordsOrg>,
}

/// One provider call to place for a campaign contact.
pub(crate) struct ProviderCall {
    /// The campaign's org, batch and the contact's store id (the dial's registry entry names them).
    pub(crate) org_id: String,
    pub(crate) batch_id: String,
    pub(crate) contact: String,
    /// Which attempt of the contact this is (the contact's stored count): the dial's key names it, so that
    /// a node settling this attempt after this node died finds this attempt's dials and no other's.
    pub(crate) attempt: u32,
    pub(crate) provider: Provider,
    pub(crate) agent_id: String,
    /// The number to call, as the dial policy normalised it.
    pub(crate) to: String,
    pub(crate) caller_id: String,
    pub(crate) ring_timeout: Duration,
    pub(crate) variables: Vec<(String, String)>,
    pub(crate) amd: Option<AmdRequest>,
}

/// How a provider call ended: the outcome (the provider's machine detection included; the runner adds its
/// own detection's verdict) and the provider's call id once known.
pub(crate) struct ProviderCallEnd {
    pub(crate) outcome: AttemptOutcome,
    pub(crate) call_id: Option<String>,
}

impl ProviderCalls {
    /// The account `org_id` dials with on `provider`: its own integrations (`VobizAuthId`/`VobizAuthToken`,
    /// `PlivoAuthId`/`PlivoAuthToken`, `TwilioAccountSid`/`TwilioAuthToken`), else the node's for the owner's
    /// org, as the API's number proxies choose. Requests go to the node's `api_base` for the provider if set.
    pub(crate) async fn account(
        &self,
        store: &Store,
        org_id: &str,
        provider: Provider,
    ) -> Result<Option<ProviderAccount>, voicera_store::StoreError> {
        let node = self.node_accounts.get(&provider);
        let (id_name, token_name) = provider.integration_names();
        let records = store.list(Collection::Integrations, org_id).await?;
        let normal = |name: &str| name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
        let open = |name: &str| {
            let record = records.iter().find(|r| normal(&r.id) == normal(name))?;
            let sealed = record.doc.get("api_key").and_then(serde_json::Value::as_str)?;
            let context = format!("{}/{}/{}", Collection::Integrations.name(), record.org_id, record.id);
            match self.master_key.open(sealed, &context) {
                Ok(key) if !key.is_empty() => Some(key),
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(%org_id, integration = %record.id, %error, "an org's provider key does not open");
                    None
                }
            }
        };
        if let (Some(auth_id), Some(auth_token)) = (open(id_name), open(token_name)) {
            return Ok(Some(ProviderAccount { auth_id, auth_token, api_base: node.and_then(|a| a.api_base.clone()) }));
        }
        Ok(node.filter(|_| self.owner_org.get() == Some(org_id)).cloned())
    }

    /// Places `call` with `account` and follows it to its end.
    /// `lost` is cancelled when this node loses the contact's lease: the call is hung up through the API (another
    /// node may take the contact), as a SIP campaign call is.
    pub(crate) async fn place(
        &self,
        account: ProviderAccount,
        call: ProviderCall,
        lost: &tokio_util::sync::CancellationToken,
    ) -> ProviderCallEnd {
        let provider = call.provider;
        let dial_id = voicera_dialer::dials::dial_key(&call.contact, call.attempt, rand::random());
        let base = self.public_url.trim_end_matches('/');
        let agent: String = form_urlencoded::byte_serialize(call.agent_id.as_bytes()).collect();
        // The key holds the contact's store id (`:`): encoded in the callback URLs.
        let dial: String = form_urlencoded::byte_serialize(dial_id.as_bytes()).collect();
        let name = provider.as_str();
        let answer_url =
            format!("{base}/telephony/{name}/answer?agent_id={agent}&direction=outbound&{DIAL_PARAM}={dial}");
        let status_url = format!("{base}/telephony/{name}/hangup?{DIAL_PARAM}={dial}");
        let ring_secs = u32::try_from(call.ring_timeout.as_secs()).unwrap_or(u32::MAX);
        let request = CallRequest {
            ring_timeout_secs: Some(ring_secs),
            progress_events: true,
            // With the campaign's AMD on, the provider's own detection too; its verdict comes to the status URL
            // and counts where ours has none (see `Call::through_provider`).
            machine_detection_url: call.amd.is_some().then(|| status_url.clone()),
            ..CallRequest::new(&call.caller_id, &call.to, &answer_url, &status_url)
        };
        let rest = ProviderRest::new(provider, account.api_base.as_deref(), &account.auth_id, &account.auth_token);
        // Registered before it is placed: the provider may answer before its reply to the request reaches us.
        let dial = NewDial {
            batch_id: call.batch_id.clone(),
            contact: call.contact.clone(),
            agent: call.agent_id.clone(),
            provider: name.to_string(),
            auth_id: account.auth_id.clone(),
            variables: call.variables,
            amd: call
                .amd
                .as_ref()
                .map(|amd| DialAmd { on_machine: amd.on_machine.as_str().to_string(), message: amd.message.clone() }),
        };
        let doc = DialDocument::placed(dial, &self.node_id, crate::campaigns::now_ms(), self.lease_ms);
        let record = Record { org_id: call.org_id.clone(), id: dial_id.clone(), doc: doc.to_json() };
        match self.store.insert_if_absent(Collection::CampaignDials, &record).await {
            Ok(true) => {}
            Ok(false) => {
                return ProviderCallEnd { outcome: AttemptOutcome::Failed("dial id taken".into()), call_id: None };
            }
            Err(error) => {
                return ProviderCallEnd {
                    outcome: AttemptOutcome::Failed(format!("registering the call: {error}")),
                    call_id: None,
                };
            }
        }
        let (events, mut heard) = mpsc::unbounded_channel();
        let registration_lost = Arc::new(AtomicBool::new(false));
        let reader = DialReader {
            store: self.store.clone(),
            org_id: call.org_id.clone(),
            dial_id: dial_id.clone(),
            node_id: self.node_id.clone(),
            lease_ms: self.lease_ms,
            events,
            amd_events: call.amd.and_then(|amd| amd.events),
            registration_lost: registration_lost.clone(),
        };
        // Whatever ends this call's following (its end, or this future dropped), the reader stops and the dial
        // leaves the registry: no task renews the lease of a call nobody follows.
        let reading = FollowedDial {
            reader: tokio::spawn(reader.run()),
            store: self.store.clone(),
            org_id: call.org_id.clone(),
            dial_id: dial_id.clone(),
            removed: false,
        };
        let placing = rest.clone();
        let placed = tokio::task::spawn_blocking(move || placing.place_call(&request)).await;
        let placed = match placed {
            Ok(Ok(placed)) => placed,
            Ok(Err(error)) => {
                reading.unregister().await;
                tracing::warn!(%error, to = %call.to, "campaign: the provider refused the call");
                return ProviderCallEnd { outcome: AttemptOutcome::Failed(error.to_string()), call_id: None };
            }
            Err(error) => {
                reading.unregister().await;
                return ProviderCallEnd {
                    outcome: AttemptOutcome::Failed(format!("dial task: {error}")),
                    call_id: None,
                };
            }
        };
        tracing::debug!(provider = name, call_id = %placed.call_id, %dial_id, "campaign: provider call placed");
        // Recorded so that a node settling the dial after this one died can hang the call up by it, even while
        // it still rings or if its stream never starts.
        self.record_placed(&call.org_id, &dial_id, &placed.call_id).await;
        let setup_limit = call.ring_timeout + SETUP_GRACE;
        let followed = tokio::select! {
            followed = follow(&mut heard, setup_limit) => followed,
            _ = lost.cancelled() => {
                reading.unregister().await;
                let id = placed.call_id.clone();
                let hung_up = tokio::task::spawn_blocking(move || rest.hang_up(&id)).await;
                tracing::warn!(call_id = %placed.call_id, ok = matches!(hung_up, Ok(Ok(_))), "campaign: hung up a provider call whose lease was lost");
                return ProviderCallEnd {
                    outcome: AttemptOutcome::Failed(crate::campaigns::LEASE_LOST.into()),
                    call_id: Some(placed.call_id),
                };
            }
        };
        reading.unregister().await;
        let call_id = followed.call_id.clone().unwrap_or(placed.call_id);
        // A lost registration (the entry gone or unreadable) is no word on the call's end: it may be up.
        if followed.hang_up || registration_lost.load(Ordering::Relaxed) {
            // The provider went quiet: make sure the call is down before its slot is given back.
            let id = call_id.clone();
            let hung_up = tokio::task::spawn_blocking(move || rest.hang_up(&id)).await;
            if let Ok(Err(error)) = hung_up {
                tracing::warn!(%error, %call_id, "campaign: cannot hang up a call whose provider went quiet");
            }
        }
        let outcome = match &followed.end {
            // Our own detection's verdict is added by the runner (it reads the stream's detection events).
            Some(end) => AttemptOutcome::from_provider_end(end, false),
            None => AttemptOutcome::Failed(format!(
                "no answer or status from the provider within {} s",
                setup_limit.as_secs()
            )),
        };
        ProviderCallEnd { outcome, call_id: Some(call_id) }
    }

    /// The dial registered as `dial_id`, if it is still followed: its org and document.
    async fn followed_dial(&self, dial_id: &str) -> Option<(Record, DialDocument)> {
        let records = match self.store.find_id(Collection::CampaignDials, dial_id).await {
            Ok(records) => records,
            Err(error) => {
                tracing::warn!(%error, %dial_id, "dialled call: cannot read the registry");
                return None;
            }
        };
        let record = records.into_iter().next()?;
        let doc = DialDocument::from_json(&record.doc).ok()?;
        // Judged on this node's clock with room for skew: it may serve a call its placing node still follows.
        doc.followed_from_afar(crate::campaigns::now_ms()).then_some((record, doc))
    }
}

impl DialRegistry for ProviderCalls {
    fn find<'a>(&'a self, dial_id: &'a str, provider: Provider) -> DialFuture<'a, Option<DialledCall>> {
        Box::pin(async move {
            let (record, doc) = self.followed_dial(dial_id).await?;
            if Provider::parse(&doc.provider) != Some(provider) {
                return None;
            }
            // The account is the org's as this node resolves it: it must be the one that placed the call.
            let account = match self.account(&self.store, &record.org_id, provider).await {
                Ok(Some(account)) if account.auth_id == doc.auth_id => account,
                Ok(_) => {
                    tracing::warn!(%dial_id, org = %record.org_id, "dialled call: this node has not the account that placed it");
                    return None;
                }
                Err(error) => {
                    tracing::warn!(%error, %dial_id, "dialled call: cannot read the org's account");
                    return None;
                }
            };
            let amd = match doc.amd {
                Some(amd) => {
                    let on_machine = [MachineAction::HangUp, MachineAction::LeaveMessage, MachineAction::Connect]
                        .into_iter()
                        .find(|action| action.as_str() == amd.on_machine)?;
                    Some(AmdRequest { on_machine, message: amd.message, events: None })
                }
                None => None,
            };
            Some(DialledCall { provider, account, agent: doc.agent, variables: doc.variables, amd })
        })
    }

    fn report<'a>(&'a self, dial_id: &'a str, call: &'a DialledCall, event: DialEvent) -> DialFuture<'a, bool> {
        Box::pin(async move {
            let node = self.node_id.clone();
            let note = match event {
                DialEvent::StreamStarted { call_id } => DialNote::StreamStarted { call_id, node },
                DialEvent::StreamEnded => DialNote::StreamEnded { node },
                DialEvent::Status(fields) => DialNote::Status { fields, node },
                DialEvent::Amd(AmdEvent::Decided { decision, step }) => DialNote::AmdDecided {
                    verdict: decision.verdict.as_str().to_string(),
                    decided_after_ms: decision.decided_after_ms,
                    step: format!("{step:?}"),
                },
                DialEvent::Amd(AmdEvent::MessageLeft) => DialNote::AmdMessageLeft,
                // A tone after the provider's answer: the placing node's outcome is `failed(announcement)`.
                DialEvent::Amd(AmdEvent::SpecialInformationTone) => DialNote::SpecialInformationTone,
                // A provider's stream starts at the answer: it has no early media, so no early voice.
                DialEvent::Amd(AmdEvent::EarlyVoice) => return true,
            };
            for _ in 0..NOTE_TRIES {
                let Some((record, doc)) = self.followed_dial(dial_id).await else { return false };
                // Only what was heard of this dial's own call (its provider, signed by its placing account).
                if Provider::parse(&doc.provider) != Some(call.provider) || doc.auth_id != call.account.auth_id {
                    tracing::warn!(%dial_id, "dialled call: a report for another provider or account refused");
                    return false;
                }
                let Ok(next) = doc.with_note(note.clone(), crate::campaigns::now_ms()) else { return false };
                if next.version == doc.version {
                    return true;
                }
                let written = Record { org_id: record.org_id, id: record.id, doc: next.to_json() };
                match self.store.put_if_version(Collection::CampaignDials, &written, Some(doc.version)).await {
                    Ok(true) => return true,
                    Ok(false) => continue,
                    Err(error) => {
                        tracing::warn!(%error, %dial_id, "dialled call: cannot record what was heard");
                        return false;
                    }
                }
            }
            tracing::warn!(%dial_id, "dialled call: the registry entry kept changing; a note was not recorded");
            false
        })
    }

    fn watch<'a>(&'a self, dial_id: &'a str, call: &'a DialledCall, call_id: &'a str) -> DialFuture<'a, String> {
        Box::pin(async move {
            let mut watch = ServingWatch::new(self.lease_ms, crate::campaigns::now_ms());
            loop {
                let wait = watch.next_check_at().saturating_sub(crate::campaigns::now_ms()).max(0);
                tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))).await;
                let now = crate::campaigns::now_ms();
                // A store that hangs counts as one that fails: the decision to hang up must not wait on it.
                let budget = Duration::from_millis(u64::try_from(watch.check_every() / 2).unwrap_or(1).max(1));
                let step = match tokio::time::timeout(budget, self.beat(dial_id, call_id, now)).await {
                    Ok(Ok((doc, beaten))) => {
                        let step = watch.on_read(doc.as_ref(), now);
                        if !beaten {
                            watch.on_beat_skipped(now);
                        }
                        step
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%error, %dial_id, "dialled call: cannot read the dial it streams for");
                        watch.on_read_failed(now)
                    }
                    Err(_) => {
                        tracing::warn!(%dial_id, "dialled call: reading the dial it streams for timed out");
                        watch.on_read_failed(now)
                    }
                };
                let WatchStep::HangUp(cause) = step else { continue };
                tracing::warn!(%dial_id, %call_id, %cause, "dialled call: hanging up a call nobody follows any more");
                let rest = ProviderRest::new(
                    call.provider,
                    call.account.api_base.as_deref(),
                    &call.account.auth_id,
                    &call.account.auth_token,
                );
                let _ = hang_up_provider_call(rest, call_id.to_string()).await;
                return cause.to_string();
            }
        })
    }
}

impl ProviderCalls {
    /// The serving node's read of dial `dial_id` at `now`, with its heartbeat written while the dial is
    /// followed: the dial as read (None: gone) and whether the beat was written (or was not due: the dial no
    /// longer followed). A heartbeat that loses to other writers is skipped (the watch reads and beats again
    /// soon); a store that fails, or a dial document that no longer parses, is an error (the watch's
    /// unreadable-store rule applies, not a hang-up as if the dial were gone).
    async fn beat(
        &self,
        dial_id: &str,
        call_id: &str,
        now: i64,
    ) -> Result<(Option<DialDocument>, bool), voicera_store::StoreError> {
        let parse = |record: &Record| {
            DialDocument::from_json(&record.doc)
                .map_err(|error| voicera_store::StoreError::Invalid(format!("dial {dial_id} does not parse: {error}")))
        };
        for _ in 0..BEAT_TRIES {
            let Some(record) = self.store.find_id(Collection::CampaignDials, dial_id).await?.into_iter().next() else {
                return Ok((None, true));
            };
            let doc = parse(&record)?;
            let Ok(next) = doc.with_heartbeat(&self.node_id, call_id, now) else { return Ok((Some(doc), true)) };
            let written = Record { org_id: record.org_id, id: record.id, doc: next.to_json() };
            if self.store.put_if_version(Collection::CampaignDials, &written, Some(doc.version)).await? {
                return Ok((Some(next), true));
            }
        }
        // Others kept writing (notes, renewals): the dial is there and changing, which is what the watch reads.
        match self.store.find_id(Collection::CampaignDials, dial_id).await?.into_iter().next() {
            Some(record) => Ok((Some(parse(&record)?), false)),
            None => Ok((None, true)),
        }
    }

    /// Records the provider's id of the call from its reply to the request in dial `dial_id` (best effort: a
    /// dial that cannot be written keeps the stream's call id as the one to hang up by).
    async fn record_placed(&self, org_id: &str, dial_id: &str, call_id: &str) {
        for _ in 0..NOTE_TRIES {
            let record = match self.store.get(Collection::CampaignDials, org_id, dial_id).await {
                Ok(Some(record)) => record,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, %dial_id, "campaign: cannot record a placed call's id");
                    return;
                }
            };
            let Ok(doc) = DialDocument::from_json(&record.doc) else { return };
            let Ok(next) = doc.with_placed_call_id(&self.node_id, call_id, crate::campaigns::now_ms()) else { return };
            let written = Record { org_id: record.org_id, id: record.id, doc: next.to_json() };
            match self.store.put_if_version(Collection::CampaignDials, &written, Some(doc.version)).await {
                Ok(false) => continue,
                Ok(true) => return,
                Err(error) => {
                    tracing::warn!(%error, %dial_id, "campaign: cannot record a placed call's id");
                    return;
                }
            }
        }
    }

    /// Ends the calls still registered for attempt `attempt` of `contact` of `org_id`, whose placing node
    /// `lost_node` (the contact lease's holder; None: the contact had no lease) was lost: what the node that
    /// settles the contact `failed(node lost)` does first, so that its retry never overlaps them. Only that
    /// attempt's dials are read (by their key's prefix, [`voicera_dialer::dials::attempt_prefix`]), and only
    /// those the lost node placed whose own lease lapsed past the clock skew margin (or this node's own from
    /// before a restart) are touched ([`DialDocument::reclaimable_by`]): a live call, such as a retry
    /// another node placed meanwhile, is never hung up. Each is marked settled by this node (its serving
    /// node then ends its stream, and a late answer finds no call to serve), and its provider call is hung
    /// up through the provider's API with the account that placed it (resolved once per provider), by the id
    /// its stream or the provider's reply gave (a dial with neither was never placed, or its node died before
    /// the reply: its ring time-out, under two thirds of the lease, ended it before the lease lapsed).
    ///
    /// `Ok(true)`: every lost call is down (or has none). `Ok(false)`: one may still be up (a dial still
    /// leased, unreadable or not marked settled, its account gone, the hang-up refused): the caller must not
    /// let the contact be dialled again before the serving node saw the settlement
    /// ([`ProviderCalls::settled_dial_grace_ms`]). `Err`: the attempt's dials could not be listed.
    pub(crate) async fn end_lost_calls(
        &self,
        org_id: &str,
        contact: &str,
        attempt: u32,
        lost_node: Option<&str>,
    ) -> Result<bool, voicera_store::StoreError> {
        let prefix = voicera_dialer::dials::attempt_prefix(contact, attempt);
        let records = self.store.list_prefix(Collection::CampaignDials, org_id, &prefix).await?;
        let now = crate::campaigns::now_ms();
        let mut all_down = true;
        let mut accounts: HashMap<Provider, Option<ProviderAccount>> = HashMap::new();
        for record in records {
            let Ok(doc) = DialDocument::from_json(&record.doc) else {
                tracing::warn!(%contact, dial = %record.id, "campaign: a lost attempt's dial is unreadable; its call may be up");
                all_down = false;
                continue;
            };
            if doc.contact != contact {
                continue;
            }
            if !doc.reclaimable_by(&self.node_id, lost_node, now) {
                tracing::warn!(%contact, dial = %record.id, holder = %doc.lease.node, "campaign: a lost attempt's dial is another node's or still leased; left to its node");
                all_down = false;
                continue;
            }
            let doc = self.settle_dial(record, doc).await;
            if doc.settled_by.is_none() {
                all_down = false;
            }
            let Some(call_id) = doc.provider_call_id() else { continue };
            let Some(provider) = Provider::parse(&doc.provider) else {
                tracing::warn!(%contact, %call_id, provider = %doc.provider, "campaign: cannot hang up a lost call: unknown provider");
                all_down = false;
                continue;
            };
            let account = match accounts.get(&provider) {
                Some(account) => account.clone(),
                None => match self.account(&self.store, org_id, provider).await {
                    Ok(account) => {
                        accounts.insert(provider, account.clone());
                        account
                    }
                    Err(error) => {
                        tracing::warn!(%error, %contact, "campaign: cannot read the account of a lost call");
                        all_down = false;
                        continue;
                    }
                },
            };
            let Some(account) = account.filter(|account| account.auth_id == doc.auth_id) else {
                tracing::warn!(%contact, %call_id, "campaign: cannot hang up a lost call: the org's account that placed it is gone");
                all_down = false;
                continue;
            };
            let rest = ProviderRest::new(provider, account.api_base.as_deref(), &account.auth_id, &account.auth_token);
            tracing::warn!(%contact, %call_id, "campaign: hanging up a call whose placing node was lost");
            if !hang_up_provider_call(rest, call_id.to_string()).await {
                all_down = false;
            }
        }
        Ok(all_down)
    }

    /// How long after settling a lost attempt whose call may still be up (its dial marked settled, its
    /// hang-up through the API failed) the contact waits before another attempt: the serving node reads the
    /// dial every third of its lease, sees it settled and hangs up, with room for clock skew.
    pub(crate) fn settled_dial_grace_ms(&self) -> i64 {
        self.lease_ms / 3 + voicera_dialer::dial_watch::MAX_CLOCK_SKEW_MS
    }

    /// Marks a lost dial settled by this node (a compare-and-set, re-read when another write won): the
    /// document as it stands after.
    async fn settle_dial(&self, mut record: Record, mut doc: DialDocument) -> DialDocument {
        for _ in 0..BEAT_TRIES {
            let next = match doc.settled(&self.node_id, crate::campaigns::now_ms()) {
                Ok(Some(next)) => next,
                Ok(None) | Err(_) => return doc,
            };
            let written = Record { org_id: record.org_id.clone(), id: record.id.clone(), doc: next.to_json() };
            match self.store.put_if_version(Collection::CampaignDials, &written, Some(doc.version)).await {
                Ok(true) => return next,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, dial = %record.id, "campaign: cannot settle a lost dial");
                    return doc;
                }
            }
            match self.store.get(Collection::CampaignDials, &record.org_id, &record.id).await {
                Ok(Some(stored)) => match DialDocument::from_json(&stored.doc) {
                    Ok(stored_doc) => (record, doc) = (stored, stored_doc),
                    Err(_) => return doc,
                },
                Ok(None) | Err(_) => return doc,
            }
        }
        doc
    }
}

/// Hangs a provider's call up through its REST API (a call already over is no error), logging a failure:
/// whether the provider took the hang-up.
async fn hang_up_provider_call(rest: ProviderRest, call_id: String) -> bool {
    let id = call_id.clone();
    match tokio::task::spawn_blocking(move || rest.hang_up(&id)).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, %call_id, "campaign: the provider did not hang the call up");
            false
        }
        Err(error) => {
            tracing::warn!(%error, %call_id, "campaign: the hang-up task failed");
            false
        }
    }
}

/// A dial this node follows: its reader task and its registry entry, both ended when it is dropped (the
/// entry's removal then spawned, best effort) unless [`FollowedDial::unregister`] did so first.
struct FollowedDial {
    reader: tokio::task::JoinHandle<()>,
    store: Store,
    org_id: String,
    dial_id: String,
    removed: bool,
}

impl FollowedDial {
    /// Stops following the dial: its reader ends, and its registry entry goes (a late callback then finds no
    /// call, as for a call never ours). A store that fails here leaves the entry to lapse with its lease.
    async fn unregister(mut self) {
        self.reader.abort();
        self.removed = true;
        remove_dial(&self.store, &self.org_id, &self.dial_id).await;
    }
}

impl Drop for FollowedDial {
    fn drop(&mut self) {
        self.reader.abort();
        if self.removed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, org_id, dial_id) = (self.store.clone(), self.org_id.clone(), self.dial_id.clone());
            runtime.spawn(async move { remove_dial(&store, &org_id, &dial_id).await });
        }
    }
}

async fn remove_dial(store: &Store, org_id: &str, dial_id: &str) {
    if let Err(error) = store.delete(Collection::CampaignDials, org_id, dial_id).await {
        tracing::warn!(%error, %dial_id, "campaign: cannot remove a finished dial (it lapses with its lease)");
    }
}

/// The placing node's side of a dial: reads what any node recorded of the call, in order, into the channel
/// [`follow`] reads (and detection events into the runner's), and renews the dial's lease.
struct DialReader {
    store: Store,
    org_id: String,
    dial_id: String,
    node_id: String,
    lease_ms: i64,
    events: mpsc::UnboundedSender<DialEvent>,
    amd_events: Option<mpsc::UnboundedSender<AmdEvent>>,
    /// Set when the dial's registration is lost: the call is then hung up through the API.
    registration_lost: Arc<AtomicBool>,
}

impl DialReader {
    async fn run(self) {
        let mut last_seq = 0;
        let mut renewed_at = crate::campaigns::now_ms();
        let mut reads = DialFollow::new(self.lease_ms, renewed_at);
        loop {
            // The next read comes at the follow's pace, but no later than the lease's renewal is due (the node
            // serving the stream takes a dial it sees unrenewed for a whole lease as its placing node's death),
            // and no sooner than a fast read while a renewal keeps failing.
            let renewal_due = renewed_at.saturating_add(self.lease_ms / 3).saturating_sub(crate::campaigns::now_ms());
            let wait = reads.read_in().min(renewal_due.max(FAST_READ_MS));
            let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                // Nobody follows the call any more.
                _ = self.events.closed() => return,
            }
            let record = match self.store.get(Collection::CampaignDials, &self.org_id, &self.dial_id).await {
                Ok(Some(record)) => record,
                Ok(None) => return self.registration_lost("it is gone").await,
                Err(error) => {
                    tracing::warn!(%error, dial_id = %self.dial_id, "campaign: cannot read a dial's progress");
                    continue;
                }
            };
            let doc = match DialDocument::from_json(&record.doc) {
                Ok(doc) => doc,
                Err(error) => return self.registration_lost(&error.to_string()).await,
            };
            if let Some(by) = &doc.settled_by {
                // Another node took this node for dead (its clock far ahead, or this node's store writes lost):
                // the call is no longer this node's to follow; it is hung up.
                return self.registration_lost(&format!("node {by} settled it")).await;
            }
            let unread = doc.unread(last_seq);
            for note in &unread {
                self.deliver(&note.note);
                last_seq = note.seq;
            }
            let now = crate::campaigns::now_ms();
            if reads.on_read(&doc, &unread, now) == FollowStep::ServingLost {
                // The stream's node stopped beating for a whole lease: it died, or cannot write the call's end.
                // The stream's end stands for the call's ([`follow`] then waits briefly for a final status and
                // asks for the call to be hung up through the API in case it is still up): the slot is freed.
                tracing::warn!(dial_id = %self.dial_id, "campaign: the node serving a dialled call stopped its heartbeat");
                let _ = self.events.send(DialEvent::StreamEnded);
            }
            if now.saturating_sub(renewed_at) >= self.lease_ms / 3 {
                if let Ok(next) = doc.renew(&self.node_id, now, self.lease_ms) {
                    let renewed = Record { org_id: record.org_id, id: record.id, doc: next.to_json() };
                    // A note or heartbeat written meanwhile wins; the renewal is tried again at the next read,
                    // a fast one (it is due).
                    if let Ok(true) =
                        self.store.put_if_version(Collection::CampaignDials, &renewed, Some(doc.version)).await
                    {
                        renewed_at = now;
                    }
                }
            }
        }
    }

    /// Nothing more can be heard of the call: it ends as failed (not as answered, which is what a closed
    /// channel means to [`follow`]), and is hung up through the API; the reader waits for the channel to close.
    async fn registration_lost(&self, why: &str) {
        self.registration_lost.store(true, Ordering::Relaxed);
        tracing::warn!(dial_id = %self.dial_id, %why, "campaign: a dial's registration is lost");
        let lost = vec![
            ("CallStatus".to_string(), "failed".to_string()),
            ("HangupCause".to_string(), "dial registration lost".to_string()),
        ];
        let _ = self.events.send(DialEvent::Status(lost));
        self.events.closed().await;
    }

    fn deliver(&self, note: &DialNote) {
        let event = match note {
            DialNote::StreamStarted { call_id, .. } => DialEvent::StreamStarted { call_id: call_id.clone() },
            DialNote::StreamEnded { .. } => DialEvent::StreamEnded,
            DialNote::Status { fields, .. } => DialEvent::Status(fields.clone()),
            DialNote::AmdDecided { verdict, decided_after_ms, step } => {
                let verdicts = [AmdVerdict::Undecided, AmdVerdict::Human, AmdVerdict::Machine, AmdVerdict::MachineBeep];
                let steps = [GateStep::Hold, GateStep::StartAgent, GateStep::HangUp, GateStep::LeaveMessage];
                let verdict = verdicts.into_iter().find(|v| v.as_str() == verdict.as_str());
                let step = steps.into_iter().find(|s| format!("{s:?}") == *step);
                if let (Some(verdict), Some(step), Some(amd)) = (verdict, step, &self.amd_events) {
                    let decision = AmdDecision { verdict, decided_after_ms: *decided_after_ms };
                    let _ = amd.send(AmdEvent::Decided { decision, step });
                }
                return;
            }
            DialNote::AmdMessageLeft => {
                if let Some(amd) = &self.amd_events {
                    let _ = amd.send(AmdEvent::MessageLeft);
                }
                return;
            }
            DialNote::SpecialInformationTone => {
                if let Some(amd) = &self.amd_events {
                    let _ = amd.send(AmdEvent::SpecialInformationTone);
                }
                return;
            }
        };
        let _ = self.events.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voicera_dialer::dials::dial_key;

    const LEASE: i64 = 9_000;

    fn new_dial(contact: &str) -> NewDial {
        NewDial {
            batch_id: "b1".into(),
            contact: contact.into(),
            agent: "caller".into(),
            provider: "vobiz".into(),
            auth_id: "MA_VOBIZ".into(),
            variables: Vec::new(),
            amd: None,
        }
    }

    async fn stored(store: &Store, id: &str) -> DialDocument {
        let record = store.get(Collection::CampaignDials, "org1", id).await.unwrap().unwrap();
        DialDocument::from_json(&record.doc).unwrap()
    }

    /// The reclaimer of a lost attempt touches that attempt's dials of the lost node only, once their lease
    /// lapsed past the skew margin, and says whether every call of it is down.
    #[tokio::test]
    async fn a_lost_attempt_ends_only_its_own_lapsed_dials_and_says_when_a_call_may_still_be_up() {
        let dir = crate::test_support::fresh_dir("lost-dials");
        let path = dir.join(voicera_store::sqlite::FILE_NAME);
        let store = Store::Sqlite(voicera_store::sqlite::SqliteStore::open(&path).await.unwrap());
        let calls = ProviderCalls {
            store: store.clone(),
            node_id: "node-b".into(),
            lease_ms: LEASE,
            public_url: "http://127.0.0.1:9".into(),
            node_accounts: HashMap::new(),
            master_key: MasterKey::from_bytes([9; 32]),
            owner_org: Arc::new(voicera_records::RecordsOrg::pending("default")),
        };
        let now = crate::campaigns::now_ms();
        let put = |id: &str, doc: &DialDocument| {
            let record = Record { org_id: "org1".into(), id: id.to_string(), doc: doc.to_json() };
            let store = store.clone();
            async move { assert!(store.insert_if_absent(Collection::CampaignDials, &record).await.unwrap()) }
        };
        // Attempt 1 of b1:3, placed by node-a (dead: its lease lapsed 20 s ago), never answered; attempt 2, the
        // retry node-c placed meanwhile, is up; b1:31's attempt 1 is another contact's.
        let lapsed = DialDocument::placed(new_dial("b1:3"), "node-a", now - 30_000, LEASE);
        let retry = DialDocument::placed(new_dial("b1:3"), "node-c", now, LEASE);
        let other = DialDocument::placed(new_dial("b1:31"), "node-a", now - 30_000, LEASE);
        let (lost_id, retry_id, other_id) = (dial_key("b1:3", 1, 1), dial_key("b1:3", 2, 2), dial_key("b1:31", 1, 3));
        put(&lost_id, &lapsed).await;
        put(&retry_id, &retry).await;
        put(&other_id, &other).await;
        assert!(calls.end_lost_calls("org1", "b1:3", 1, Some("node-a")).await.unwrap(), "nothing placed is up");
        assert_eq!(stored(&store, &lost_id).await.settled_by.as_deref(), Some("node-b"));
        assert_eq!(stored(&store, &retry_id).await, retry, "the retry is never touched");
        assert_eq!(stored(&store, &other_id).await, other, "nor another contact's dial");
        // Even asked about the retry's attempt as if node-a had placed it: node-c's live dial is left alone.
        assert!(!calls.end_lost_calls("org1", "b1:3", 2, None).await.unwrap(), "a leased dial may be up");
        assert!(!calls.end_lost_calls("org1", "b1:3", 2, Some("node-a")).await.unwrap(), "not node-a's");
        assert_eq!(stored(&store, &retry_id).await, retry);

        // A lost call that was placed (the provider's id known), whose org's account is gone: settled (its
        // serving node hangs up at its next read), but not known to be down.
        let placed = DialDocument::placed(new_dial("b1:4"), "node-a", now - 30_000, LEASE)
            .with_placed_call_id("node-a", "CA9", now - 29_000)
            .unwrap();
        let placed_id = dial_key("b1:4", 1, 4);
        put(&placed_id, &placed).await;
        assert!(!calls.end_lost_calls("org1", "b1:4", 1, Some("node-a")).await.unwrap());
        assert_eq!(stored(&store, &placed_id).await.settled_by.as_deref(), Some("node-b"));
        assert_eq!(calls.settled_dial_grace_ms(), LEASE / 3 + voicera_dialer::dial_watch::MAX_CLOCK_SKEW_MS);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
