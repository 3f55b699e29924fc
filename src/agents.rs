//! The node's agent directory: what a SIP Request-URI user, a provider's `agent_id` or a called number leads
//! to. Built-in services (`echo`, the `bench` agent), the `demo` agent, `[[agents]]` from voicera.toml, and the
//! agents and numbers of every org in the store. Agents become callable once their models are loaded in the
//! background (until then a call gets 503 with Retry-After, never a silent wait).
//!
//! Calls never wait on the store: stored agents are compiled (the `[[agents]]` compile step) into an immutable
//! snapshot that [`Router::route`] reads. [`sync_store`] keeps it current: at once when this node's API
//! writes agents or numbers ([`ApiAgents`] → [`Directory::refreshed`]), and within [`POLL_INTERVAL`] of a
//! write by another node, by polling the store's revision counters (one small read per node per interval,
//! however many agents or nodes there are). A stored agent that does not compile or load here routes as
//! unavailable, with the reason.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use voicera_conversation::agent::Agent;
use voicera_conversation::routing::{Destination, Listing, Router};
use voicera_store::secret::MasterKey;
use voicera_store::{Collection, Record, Store, RESERVED_AGENT_IDS};

use crate::config::{normalize_number, AgentCompiler, AgentConfig, LlmChoice, SttChoice, TtsChoice};
use crate::local::{self, LocalModels};
use crate::provider_keys::OrgKeys;

/// How often a node checks the store's revisions for other nodes' changes.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How long an API write waits for this node's routing to follow it: a compiled agent's build takes well under
/// a second once its models are loaded; a new agent whose models load for longer answers 503 with Retry-After
/// meanwhile, and an updated one keeps its previous version until the new one is ready.
pub(crate) const CHANGE_WAIT: Duration = Duration::from_secs(8);

/// An agent as routing sees it while its models load.
#[derive(Clone)]
pub(crate) enum Slot {
    Loading,
    Ready(Arc<Agent>),
    Failed(String),
}

impl Slot {
    fn status(&self) -> String {
        match self {
            Slot::Ready(_) => "ready".into(),
            Slot::Loading => "loading".into(),
            Slot::Failed(reason) => format!("failed: {reason}"),
        }
    }
}

/// A stored agent in the snapshot.
#[derive(Clone)]
struct StoredAgent {
    org_id: String,
    /// Its name (`agent_type`), what its calls' logs show.
    name: Option<String>,
    /// What it was compiled from (its `agent_config` as text): a change means a rebuild.
    source: String,
    slot: Slot,
}

/// The store's agents and attached numbers, all orgs, as of one refresh. Immutable once published.
#[derive(Clone, Default)]
struct Stored {
    agents: HashMap<String, StoredAgent>,
    /// Digits → agent id.
    numbers: HashMap<String, String>,
}

/// Refresh requests from this node's API, and how far the refresher has served them.
struct Refresh {
    requested: AtomicU64,
    wake: tokio::sync::Notify,
    done: tokio::sync::watch::Sender<u64>,
}

/// Agents by id, and attached numbers.
pub(crate) struct Directory {
    bench: Arc<Agent>,
    slots: RwLock<HashMap<String, Slot>>,
    /// Normalised number → configured agent id.
    numbers: HashMap<String, String>,
    stored: RwLock<Arc<Stored>>,
    refresh: Refresh,
}

impl Directory {
    /// A directory with the built-ins, `demo` (when enabled) and `agents`, all loading.
    pub(crate) fn new(bench: Agent, demo: bool, agents: &[AgentConfig]) -> Directory {
        let mut slots = HashMap::new();
        slots.insert(
            "demo".to_string(),
            if demo { Slot::Loading } else { Slot::Failed("disabled by configuration ([models] demo_agent)".into()) },
        );
        let mut numbers = HashMap::new();
        for agent in agents {
            slots.insert(agent.id.clone(), Slot::Loading);
            for n in &agent.numbers {
                numbers.insert(n.clone(), agent.id.clone());
            }
        }
        Directory {
            bench: Arc::new(bench),
            slots: RwLock::new(slots),
            numbers,
            stored: RwLock::new(Arc::new(Stored::default())),
            refresh: Refresh {
                requested: AtomicU64::new(0),
                wake: tokio::sync::Notify::new(),
                done: tokio::sync::watch::Sender::new(0),
            },
        }
    }

    fn set(&self, id: &str, slot: Slot) {
        if let Ok(mut slots) = self.slots.write() {
            slots.insert(id.to_string(), slot);
        }
    }

    fn slot(&self, id: &str) -> Option<Slot> {
        self.slots.read().ok().and_then(|s| s.get(id).cloned())
    }

    fn stored(&self) -> Arc<Stored> {
        self.stored.read().map(|s| Arc::clone(&s)).unwrap_or_default()
    }

    fn publish(&self, stored: Stored) {
        if let Ok(mut slot) = self.stored.write() {
            *slot = Arc::new(stored);
        }
    }

    /// Whether `id` is a built-in or configured agent (a stored agent cannot take it).
    fn is_configured(&self, id: &str) -> bool {
        RESERVED_AGENT_IDS.contains(&id) || self.slots.read().is_ok_and(|s| s.contains_key(id))
    }

    /// The org of the stored agent a call with `agent` belongs to; `None` for built-in and configured agents
    /// (they belong to the node's owner).
    pub(crate) fn org_of(&self, agent: &str) -> Option<String> {
        if self.is_configured(agent) {
            return None;
        }
        self.stored().agents.get(agent).map(|a| a.org_id.clone())
    }

    /// The name (`agent_type`) of the stored agent `agent`; `None` for built-in and configured agents (their
    /// id is their name).
    pub(crate) fn name_of(&self, agent: &str) -> Option<String> {
        if self.is_configured(agent) {
            return None;
        }
        self.stored().agents.get(agent).and_then(|a| a.name.clone())
    }

    /// Asks [`sync_store`] to reload the store now and waits (at most `bound`) until it has.
    pub(crate) async fn refreshed(&self, bound: Duration) {
        let target = self.refresh.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut done = self.refresh.done.subscribe();
        self.refresh.wake.notify_one();
        if tokio::time::timeout(bound, done.wait_for(|served| *served >= target)).await.is_err() {
            tracing::warn!(wait = ?bound, "agent routing is still loading a change; calls get 503 until it is ready");
        }
    }
}

fn destination(user: &str, slot: Slot) -> Destination {
    match slot {
        Slot::Ready(agent) => Destination::Agent(agent),
        Slot::Loading => Destination::Unavailable {
            reason: format!("agent {user:?} is still loading its local models"),
            retry_after_secs: 10,
        },
        Slot::Failed(reason) => Destination::Unavailable {
            reason: format!("agent {user:?} failed to load: {reason}"),
            retry_after_secs: 60,
        },
    }
}

impl Router for Directory {
    fn route(&self, user: &str) -> Option<Destination> {
        match user {
            "echo" => return Some(Destination::Echo),
            "bench" => return Some(Destination::Agent(Arc::clone(&self.bench))),
            _ => {}
        }
        if let Some(slot) = self.slot(user) {
            return Some(destination(user, slot));
        }
        let stored = self.stored();
        if let Some(agent) = stored.agents.get(user) {
            return Some(destination(user, agent.slot.clone()));
        }
        let number = normalize_number(user);
        if number.is_empty() {
            return None;
        }
        if let Some(id) = self.numbers.get(&number) {
            return self.slot(id).map(|slot| destination(user, slot));
        }
        let id = stored.numbers.get(&number)?;
        stored.agents.get(id).map(|agent| destination(user, agent.slot.clone()))
    }

    fn list(&self) -> Vec<Listing> {
        let ready = |id: &str| Listing { id: id.to_string(), status: "ready".into() };
        let mut listing = vec![ready("bench"), ready("echo")];
        if let Ok(slots) = self.slots.read() {
            listing.extend(slots.iter().map(|(id, slot)| Listing { id: id.clone(), status: slot.status() }));
        }
        let stored = self.stored();
        listing.extend(stored.agents.iter().map(|(id, a)| Listing { id: id.clone(), status: a.slot.status() }));
        listing.sort_by(|a, b| a.id.cmp(&b.id));
        listing.dedup_by(|a, b| a.id == b.id);
        listing
    }
}

/// The node's local models, made on first use (their inference threads cost nothing until an agent needs
/// them) and shared by every agent.
pub(crate) struct SharedModels {
    models: OnceLock<Arc<LocalModels>>,
    make: Box<dyn Fn() -> LocalModels + Send + Sync>,
}

impl SharedModels {
    pub(crate) fn new(make: impl Fn() -> LocalModels + Send + Sync + 'static) -> SharedModels {
        SharedModels { models: OnceLock::new(), make: Box::new(make) }
    }

    pub(crate) fn get(&self) -> Arc<LocalModels> {
        Arc::clone(self.models.get_or_init(|| Arc::new((self.make)())))
    }

    /// The models if something has loaded them (`/metrics` must not load them).
    pub(crate) fn loaded(&self) -> Option<Arc<LocalModels>> {
        self.models.get().cloned()
    }
}

/// Loads the demo agent and the configured agents on a blocking thread, one after the other (models shared).
pub(crate) fn spawn_loader(directory: Arc<Directory>, models: Arc<LocalModels>, demo: bool, agents: Vec<AgentConfig>) {
    tokio::task::spawn_blocking(move || {
        if demo {
            load(&directory, "demo", || local::demo_agent(&models));
        }
        for config in &agents {
            // The file's agents call with the node's keys (`[providers]`, environment).
            load(&directory, &config.id, || local::configured_agent(&models, config, &OrgKeys::none()));
        }
    });
}

fn load(directory: &Directory, id: &str, build: impl FnOnce() -> anyhow::Result<Agent>) {
    directory.set(id, built(id, build));
}

fn built(id: &str, build: impl FnOnce() -> anyhow::Result<Agent>) -> Slot {
    let started = std::time::Instant::now();
    match build() {
        Ok(agent) => {
            tracing::info!(agent = id, took = ?started.elapsed(), "agent ready (local models)");
            Slot::Ready(Arc::new(agent))
        }
        Err(e) => {
            tracing::error!(agent = id, error = %format!("{e:#}"), "agent unavailable");
            Slot::Failed(format!("{e:#}"))
        }
    }
}

/// What a stored agent is compiled from: its `agent_config`, with the original's top-level
/// `greeting_message` when the config has none (the original's voice server flattened it in).
fn compile_input(doc: &Value) -> Value {
    let mut config = doc.get("agent_config").cloned().unwrap_or(Value::Null);
    if let (Some(map), Some(greeting)) = (config.as_object_mut(), doc.get("greeting_message").filter(|g| g.is_string()))
    {
        map.entry("greeting_message").or_insert_with(|| greeting.clone());
    }
    config
}

/// Keeps `directory`'s stored agents and numbers current: reloads when this node asks
/// ([`Directory::refreshed`]) or when the store's revisions of agents, numbers or integrations move (another
/// node wrote); each org's provider keys are opened with `master_key` once per change of the integrations and
/// its agents call with them (an agent is rebuilt when its org's keys change);
/// compiles new and changed agents and loads their models, keeping an updated agent's previous version
/// callable until the new one is ready. Runs until `shutdown`.
pub(crate) async fn sync_store(
    directory: Arc<Directory>,
    store: Store,
    compiler: AgentCompiler,
    models: Arc<SharedModels>,
    master_key: MasterKey,
    shutdown: CancellationToken,
) {
    let mut sync = StoreSync {
        directory,
        store,
        compiler,
        models,
        master_key,
        org_keys: None,
        applied: None,
        served: 0,
        store_down: false,
    };
    loop {
        sync.step().await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = sync.directory.refresh.wake.notified() => {}
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// [`sync_store`]'s state between polls.
struct StoreSync {
    directory: Arc<Directory>,
    store: Store,
    compiler: AgentCompiler,
    models: Arc<SharedModels>,
    master_key: MasterKey,
    /// Each org's opened provider keys, and the integrations revision they were read at.
    org_keys: Option<(Option<u64>, Arc<KeysByOrg>)>,
    /// The revisions of agents, numbers and integrations the snapshot was read at.
    applied: Option<(u64, u64, u64)>,
    /// The last refresh request served.
    served: u64,
    store_down: bool,
}

impl StoreSync {
    /// One poll: reloads when this node asked or the store's revisions moved; whether it reloaded.
    async fn step(&mut self) -> bool {
        let asked = self.directory.refresh.requested.load(Ordering::SeqCst);
        // Read before the documents: a write landing after this read moves the revision again.
        let revision = match revisions(&self.store).await {
            Ok(revision) => {
                if self.store_down {
                    tracing::info!("agent routing: the store answers again");
                }
                self.store_down = false;
                Some(revision)
            }
            Err(e) => {
                if !self.store_down {
                    tracing::error!(error = %e, "agent routing: cannot read the store's revisions; routing as before");
                }
                self.store_down = true;
                None
            }
        };
        if asked <= self.served && (revision.is_none() || revision == self.applied) {
            return false;
        }
        let keys_revision = revision.map(|(_, _, integrations)| integrations);
        let org_keys = match &self.org_keys {
            Some((read_at, keys)) if read_at.is_some() && *read_at == keys_revision => Ok(Arc::clone(keys)),
            _ => open_org_keys(&self.store, &self.master_key).await,
        };
        let org_keys = match org_keys {
            Ok(keys) => {
                self.org_keys = Some((keys_revision, Arc::clone(&keys)));
                keys
            }
            Err(e) => {
                // Read again at the next poll; meanwhile the keys last read (or the node's) serve.
                tracing::error!(error = %e, "agent routing: cannot read the orgs' provider keys");
                let last = self.org_keys.take().map(|(_, keys)| keys).unwrap_or_default();
                self.org_keys = Some((None, Arc::clone(&last)));
                last
            }
        };
        match reload(&self.directory, &self.store, &self.compiler, &self.models, &org_keys).await {
            Ok(()) => self.applied = revision,
            Err(e) => {
                tracing::error!(error = %e, "agent routing: cannot read agents from the store; routing as before")
            }
        }
        self.served = asked;
        self.directory.refresh.done.send_replace(asked);
        true
    }
}

async fn revisions(store: &Store) -> voicera_store::Result<(u64, u64, u64)> {
    Ok((
        store.revision(Collection::Agents).await?,
        store.revision(Collection::PhoneNumbers).await?,
        store.revision(Collection::Integrations).await?,
    ))
}

/// Each org's opened provider keys, by org id.
type KeysByOrg = HashMap<String, Arc<OrgKeys>>;

/// Every org's provider keys (its `integrations`), opened.
async fn open_org_keys(store: &Store, master_key: &MasterKey) -> voicera_store::Result<Arc<KeysByOrg>> {
    let records = store.list_all(Collection::Integrations).await?;
    let mut by_org: HashMap<&str, Vec<&Record>> = HashMap::new();
    for record in &records {
        by_org.entry(record.org_id.as_str()).or_default().push(record);
    }
    Ok(Arc::new(
        by_org
            .into_iter()
            .map(|(org, records)| (org.to_string(), Arc::new(OrgKeys::open(&records, master_key))))
            .collect(),
    ))
}

/// One reload: publishes the new snapshot at once (new agents loading, changed ones still on their previous
/// version), then again once the new and changed agents are built.
async fn reload(
    directory: &Arc<Directory>,
    store: &Store,
    compiler: &AgentCompiler,
    models: &Arc<SharedModels>,
    org_keys: &KeysByOrg,
) -> voicera_store::Result<()> {
    let agents = store.list_all(Collection::Agents).await?;
    let numbers = store.list_all(Collection::PhoneNumbers).await?;
    let (next, to_build) = snapshot(directory, &directory.stored(), compiler, &agents, &numbers, org_keys);
    directory.publish(next);
    if to_build.is_empty() {
        return Ok(());
    }
    let models = Arc::clone(models);
    let built = tokio::task::spawn_blocking(move || {
        let models = models.get();
        to_build
            .into_iter()
            .map(|(config, keys)| {
                let slot = built(&config.id, || local::configured_agent(&models, &config, &keys));
                (config.id, slot)
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| voicera_store::StoreError::Task(e.to_string()))?;
    let mut next = (*directory.stored()).clone();
    for (id, slot) in built {
        if let Some(agent) = next.agents.get_mut(&id) {
            agent.slot = slot;
        }
    }
    directory.publish(next);
    Ok(())
}

/// The snapshot of `agents` and `numbers` (all orgs), reusing `current`'s compiled agents that did not change
/// (nor did their org's keys), and the agents to build, each with its org's keys.
fn snapshot(
    directory: &Directory,
    current: &Stored,
    compiler: &AgentCompiler,
    agents: &[Record],
    numbers: &[Record],
    org_keys: &KeysByOrg,
) -> (Stored, Vec<(AgentConfig, Arc<OrgKeys>)>) {
    let mut next = Stored::default();
    let mut to_build = Vec::new();
    let mut owners: HashMap<&str, &str> = HashMap::new();
    for record in agents {
        let id = record.id.as_str();
        if directory.is_configured(id) {
            tracing::warn!(agent = id, org_id = %record.org_id, "a stored agent has the id of a configured one; calls reach the configured one");
            continue;
        }
        if let Some(other) = owners.insert(id, &record.org_id) {
            // An id must lead to one agent: two orgs holding it (imported data) route to neither.
            let reason = format!("agent id {id:?} is used by orgs {other} and {}; rename one", record.org_id);
            tracing::error!(agent = id, "{reason}");
            to_build.retain(|(c, _): &(AgentConfig, Arc<OrgKeys>)| c.id != id);
            next.agents.insert(
                id.to_string(),
                StoredAgent {
                    org_id: record.org_id.clone(),
                    name: None,
                    source: String::new(),
                    slot: Slot::Failed(reason),
                },
            );
            continue;
        }
        let input = compile_input(&record.doc);
        let keys = org_keys.get(&record.org_id).cloned().unwrap_or_default();
        // The org's keys are part of what the agent is built from: a new key rebuilds its clients.
        let source = format!("{input}#{:x}", keys.fingerprint());
        let old = current.agents.get(id).filter(|old| old.org_id == record.org_id);
        let slot = match old {
            Some(old) if old.source == source => old.slot.clone(),
            old => match compiler.compile(id, &input) {
                Err(e) => {
                    let field = if e.field.is_empty() { String::new() } else { format!("agent_config.{}: ", e.field) };
                    tracing::error!(agent = id, org_id = %record.org_id, error = %e.message, "stored agent does not compile here");
                    Slot::Failed(format!("{field}{}", e.message))
                }
                Ok(config) => {
                    to_build.push((config, keys));
                    match old.map(|o| &o.slot) {
                        Some(ready @ Slot::Ready(_)) => ready.clone(),
                        _ => Slot::Loading,
                    }
                }
            },
        };
        let name = record.doc.get("agent_type").and_then(Value::as_str).map(str::to_string);
        next.agents.insert(id.to_string(), StoredAgent { org_id: record.org_id.clone(), name, source, slot });
    }
    for record in numbers {
        let Some(agent_id) = record.doc.get("agent_id").and_then(Value::as_str).filter(|a| !a.is_empty()) else {
            continue;
        };
        let digits = normalize_number(&record.id);
        if digits.is_empty() || directory.numbers.contains_key(&digits) {
            continue;
        }
        // A number leads only to an agent of its own org.
        if next.agents.get(agent_id).is_none_or(|a| a.org_id != record.org_id) {
            continue;
        }
        if let Some(other) = next.numbers.insert(digits.clone(), agent_id.to_string()) {
            tracing::error!(number = %digits, agents = ?(other, agent_id), "a number is attached twice; calls reach the last");
        }
    }
    (next, to_build)
}

/// The control plane's view of this node's routing: the configured agents (read-only in the API, listed in
/// the owner's org) and the hook that makes an API write reach this node's calls at once.
pub(crate) struct ApiAgents {
    /// The owner's org, once known (a node that started with the store away learns it later); `None`: no
    /// owner is configured, the configured agents are listed in no org.
    pub(crate) config_org: Option<Arc<voicera_records::RecordsOrg>>,
    pub(crate) config_agents: Vec<voicera_api::ConfigAgent>,
    /// This node's directory (None on an API-only node: media nodes notice by polling).
    pub(crate) directory: Option<Arc<Directory>>,
}

impl ApiAgents {
    pub(crate) fn new(
        config_org: Option<Arc<voicera_records::RecordsOrg>>,
        agents: &[AgentConfig],
        directory: Option<Arc<Directory>>,
    ) -> ApiAgents {
        let config_agents = agents
            .iter()
            .map(|a| voicera_api::ConfigAgent {
                id: a.id.clone(),
                numbers: a.numbers.clone(),
                agent_config: config_view(a),
            })
            .collect();
        ApiAgents { config_org, config_agents, directory }
    }
}

/// A configured agent's settings as the API shows them (the original's `agent_config` field names).
fn config_view(agent: &AgentConfig) -> Value {
    let llm = match &agent.llm {
        LlmChoice::Local { model } => json!({"name": model}),
        LlmChoice::OpenAiCompatible { base_url, model, .. } => json!({"name": model, "base_url": base_url}),
        LlmChoice::Native { model, base_url, .. } => json!({"name": model, "base_url": base_url}),
        // A chain shows as the list of names it was configured with (what `llm_model` takes back).
        LlmChoice::Chain(links) => json!(links.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>()),
    };
    let stt = match &agent.stt {
        SttChoice::Local(model) => json!({"name": model}),
        SttChoice::Cloud(speech) => json!({"name": speech.name}),
        SttChoice::Chain(links) => json!(links.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>()),
    };
    let tts = match &agent.tts {
        TtsChoice::Espeak => json!({"name": "espeak"}),
        TtsChoice::Piper => json!({"name": crate::config::PIPER_VOICE}),
        TtsChoice::Parler(dir) => json!({"name": dir.display().to_string()}),
        TtsChoice::Cloud(speech) => json!({"name": speech.name}),
        TtsChoice::Chain(links) => json!(links.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>()),
    };
    json!({
        "system_prompt": agent.system_prompt,
        "greeting_message": agent.greeting,
        "language": agent.language,
        "stt_model": stt,
        "llm_model": llm,
        "tts_model": tts,
        "tts_voice": agent.tts_voice,
        "interaction_mode": match agent.mode {
            voicera_conversation::agent::InteractionMode::Conversational => "conversational",
            voicera_conversation::agent::InteractionMode::NonConversational => "non_conversational",
        },
    })
}

impl voicera_api::AgentDirectory for ApiAgents {
    fn config_org(&self) -> Option<String> {
        self.config_org.as_ref().and_then(|org| org.get()).map(str::to_string)
    }

    fn config_agents(&self) -> Vec<voicera_api::ConfigAgent> {
        self.config_agents.clone()
    }

    fn changed(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if let Some(directory) = &self.directory {
                directory.refreshed(CHANGE_WAIT).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configured agents are listed in the owner's org once it is known, also when that is after the
    /// control plane started (a node that started with the store away); in none without an owner.
    #[test]
    fn configured_agents_list_in_the_owners_org_once_it_is_known() {
        use voicera_api::AgentDirectory as _;
        let records_org = Arc::new(voicera_records::RecordsOrg::pending("default"));
        let listed = ApiAgents::new(Some(Arc::clone(&records_org)), &[], None);
        assert_eq!(listed.config_org(), None, "not the stand-in");
        records_org.settle("org-owner");
        assert_eq!(listed.config_org().as_deref(), Some("org-owner"));
        assert_eq!(ApiAgents::new(None, &[], None).config_org(), None, "no owner configured");
    }

    fn compiler() -> AgentCompiler {
        AgentCompiler {
            policy: Arc::new(voicera_conversation::dial_policy::DialPolicy::default()),
            providers: Default::default(),
        }
    }

    fn record(org: &str, id: &str, doc: Value) -> Record {
        Record { org_id: org.into(), id: id.into(), doc }
    }

    fn agent_doc(greeting: &str) -> Value {
        json!({"agent_type": "Sales", "agent_config": {"system_prompt": "Sell.", "greeting_message": greeting,
               "llm_model": {"name": "smollm2-135m"}, "language": "en"}})
    }

    fn directory() -> Directory {
        Directory::new(Agent::bench(false), false, &[])
    }

    fn status(d: &Directory, user: &str) -> Option<String> {
        d.route(user).map(|dest| match dest {
            Destination::Echo => "echo".into(),
            Destination::Agent(a) => format!("agent {}", a.id),
            Destination::Unavailable { reason, .. } => format!("unavailable: {reason}"),
        })
    }

    #[test]
    fn stored_agents_and_their_numbers_route_and_unchanged_ones_are_not_rebuilt() {
        let d = directory();
        let agents = [record("o1", "sales", agent_doc("Hi")), record("o2", "support", agent_doc("Hello"))];
        let numbers = [
            record("o1", "918000000001", json!({"phone_number": "+91 80000 00001", "agent_id": "sales"})),
            // Detached: leads nowhere.
            record("o1", "918000000002", json!({"phone_number": "+918000000002", "agent_id": null})),
            // Another org's agent: a number leads only within its org.
            record("o1", "918000000003", json!({"agent_id": "support"})),
        ];
        let (next, build) = snapshot(&d, &d.stored(), &compiler(), &agents, &numbers, &HashMap::new());
        assert_eq!(build.iter().map(|(c, _)| c.id.as_str()).collect::<Vec<_>>(), ["sales", "support"]);
        assert_eq!(build[0].0.greeting, "Hi");
        d.publish(next);
        assert!(status(&d, "sales").unwrap().contains("still loading"));
        assert!(status(&d, "+918000000001").unwrap().contains("\"+918000000001\" is still loading"));
        assert_eq!(status(&d, "918000000002"), None);
        assert_eq!(status(&d, "918000000003"), None);
        assert_eq!(status(&d, "nobody"), None);
        assert_eq!(status(&d, "echo").as_deref(), Some("echo"));

        // Built: ready. The same documents again: nothing to build; a changed greeting: only that agent, and
        // its previous version keeps answering until the new one is ready.
        let mut next = (*d.stored()).clone();
        for agent in next.agents.values_mut() {
            agent.slot = Slot::Ready(Arc::new(Agent::bench(false)));
        }
        d.publish(next);
        assert_eq!(status(&d, "sales").as_deref(), Some("agent bench"));
        let (_, build) = snapshot(&d, &d.stored(), &compiler(), &agents, &numbers, &HashMap::new());
        assert!(build.is_empty());
        // Org o1 stores a provider key: its agent is rebuilt with it, o2's is not.
        let master = MasterKey::from_bytes([5; 32]);
        let sealed = master.seal("dg-org-key", "integrations/o1/Deepgram").unwrap();
        let integration = record("o1", "Deepgram", json!({"api_key": sealed}));
        let keys = HashMap::from([("o1".to_string(), Arc::new(OrgKeys::open(&[&integration], &master)))]);
        let (_, build) = snapshot(&d, &d.stored(), &compiler(), &agents, &numbers, &keys);
        assert_eq!(build.iter().map(|(c, _)| c.id.as_str()).collect::<Vec<_>>(), ["sales"]);
        assert_eq!(build[0].1.get("deepgram"), Some("dg-org-key"));
        let changed = [record("o1", "sales", agent_doc("Welcome back")), agents[1].clone()];
        let (next, build) = snapshot(&d, &d.stored(), &compiler(), &changed, &numbers, &HashMap::new());
        assert_eq!(
            build.iter().map(|(c, _)| (c.id.as_str(), c.greeting.as_str())).collect::<Vec<_>>(),
            [("sales", "Welcome back")]
        );
        d.publish(next);
        assert_eq!(
            status(&d, "sales").as_deref(),
            Some("agent bench"),
            "the previous version until the new one is built"
        );

        // Deleted: gone, with its number.
        let (next, _) = snapshot(&d, &d.stored(), &compiler(), &changed[1..], &numbers, &HashMap::new());
        d.publish(next);
        assert_eq!(status(&d, "sales"), None);
        assert_eq!(status(&d, "918000000001"), None);
        assert_eq!(d.list().iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["bench", "demo", "echo", "support"]);
    }

    #[test]
    fn a_stored_agent_that_does_not_compile_or_is_ambiguous_is_unavailable_with_the_reason() {
        let d = directory();
        let mut broken = agent_doc("Hi");
        broken["agent_config"]["llm_model"]["name"] = json!("no-such-model");
        let agents = [
            record("o1", "broken", broken),
            record("o1", "twice", agent_doc("A")),
            record("o2", "twice", agent_doc("B")),
            // A built-in's id: the built-in answers.
            record("o1", "demo", agent_doc("C")),
        ];
        let (next, build) = snapshot(&d, &d.stored(), &compiler(), &agents, &[], &HashMap::new());
        assert!(build.is_empty());
        d.publish(next);
        let broken = status(&d, "broken").unwrap();
        assert!(broken.starts_with("unavailable") && broken.contains("agent_config.llm_model"), "{broken}");
        let twice = status(&d, "twice").unwrap();
        assert!(twice.contains("used by orgs o1 and o2"), "{twice}");
        assert!(status(&d, "demo").unwrap().contains("disabled by configuration"));
    }

    /// Two nodes on one store: what one writes, the other's poll picks up (the revision moved); a poll with
    /// nothing new reads nothing but the revisions.
    #[tokio::test]
    async fn a_node_picks_up_another_nodes_writes_by_polling_the_revisions() {
        let dir = crate::test_support::fresh_dir("agents-sync");
        let path = dir.join(voicera_store::sqlite::FILE_NAME);
        let open = || async { Store::Sqlite(voicera_store::sqlite::SqliteStore::open(&path).await.unwrap()) };
        let (writer, store) = (open().await, open().await);
        let directory = Arc::new(directory());
        let models = Arc::new(SharedModels::new(|| panic!("nothing here loads models")));
        let mut sync = StoreSync {
            directory: Arc::clone(&directory),
            store,
            compiler: compiler(),
            models,
            master_key: MasterKey::from_bytes([3; 32]),
            org_keys: None,
            applied: None,
            served: 0,
            store_down: false,
        };
        assert!(sync.step().await, "the first poll loads");
        assert!(!sync.step().await, "nothing changed");

        // Written by another node (this agent's model is not on this node: it is unavailable, with why).
        let mut doc = agent_doc("Hi");
        doc["agent_config"]["llm_model"]["name"] = json!("gpt-9-local");
        writer.put(Collection::Agents, &record("o1", "remote", doc)).await.unwrap();
        let number = json!({"phone_number": "+918000000001", "agent_id": "remote"});
        writer.put(Collection::PhoneNumbers, &record("o1", "918000000001", number)).await.unwrap();
        assert_eq!(status(&directory, "remote"), None, "not before the poll");
        assert!(sync.step().await);
        let remote = status(&directory, "918000000001").unwrap();
        assert!(remote.contains("failed to load") && remote.contains("gpt-9-local"), "{remote}");
        assert!(!sync.step().await);

        writer.delete(Collection::Agents, "o1", "remote").await.unwrap();
        assert!(sync.step().await);
        assert_eq!(status(&directory, "remote"), None);
        assert_eq!(status(&directory, "918000000001"), None);

        // This node's own request reloads even when the revisions did not move, and answers the waiter.
        let waiter = {
            let directory = Arc::clone(&directory);
            tokio::spawn(async move { directory.refreshed(Duration::from_secs(30)).await })
        };
        while directory.refresh.requested.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(sync.step().await);
        waiter.await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_top_level_greeting_of_the_original_fills_a_config_without_one() {
        let doc = json!({"greeting_message": "Top", "agent_config": {"system_prompt": "x"}});
        assert_eq!(compile_input(&doc)["greeting_message"], "Top");
        let doc = json!({"greeting_message": "Top", "agent_config": {"greeting_message": "Inner"}});
        assert_eq!(compile_input(&doc)["greeting_message"], "Inner");
    }
}
