//! The node's agent directory: what a SIP Request-URI user, a provider's `agent_id` or a called number leads
//! to. Built-in services (`echo`, the `bench` agent), the `demo` agent and `[[agents]]` from voicera.toml;
//! agents on local models become callable once their models are loaded in the background (until then a
//! call gets 503 with Retry-After, never a silent wait). The store-backed directory of the control plane
//! implements the same [`Router`] trait later.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use voicera_conversation::agent::Agent;
use voicera_conversation::routing::{Destination, Listing, Router};

use crate::config::{normalize_number, AgentConfig};
use crate::local::{self, LocalModels};

/// An agent as routing sees it while its models load.
#[derive(Clone)]
pub enum Slot {
    Loading,
    Ready(Arc<Agent>),
    Failed(String),
}

/// Agents by id, and attached numbers.
pub struct Directory {
    bench: Arc<Agent>,
    slots: RwLock<HashMap<String, Slot>>,
    /// Normalised number → agent id.
    numbers: HashMap<String, String>,
}

impl Directory {
    /// A directory with the built-ins, `demo` (when enabled) and `agents`, all loading.
    pub fn new(bench: Agent, demo: bool, agents: &[AgentConfig]) -> Directory {
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
        Directory { bench: Arc::new(bench), slots: RwLock::new(slots), numbers }
    }

    fn set(&self, id: &str, slot: Slot) {
        if let Ok(mut slots) = self.slots.write() {
            slots.insert(id.to_string(), slot);
        }
    }

    fn slot(&self, id: &str) -> Option<Slot> {
        self.slots.read().ok().and_then(|s| s.get(id).cloned())
    }
}

impl Router for Directory {
    fn route(&self, user: &str) -> Option<Destination> {
        match user {
            "echo" => return Some(Destination::Echo),
            "bench" => return Some(Destination::Agent(Arc::clone(&self.bench))),
            _ => {}
        }
        let slot = self.slot(user).or_else(|| {
            let number = normalize_number(user);
            self.numbers.get(&number).and_then(|id| self.slot(id))
        })?;
        Some(match slot {
            Slot::Ready(agent) => Destination::Agent(agent),
            Slot::Loading => Destination::Unavailable {
                reason: format!("agent {user:?} is still loading its local models"),
                retry_after_secs: 10,
            },
            Slot::Failed(reason) => Destination::Unavailable {
                reason: format!("agent {user:?} failed to load: {reason}"),
                retry_after_secs: 60,
            },
        })
    }

    fn list(&self) -> Vec<Listing> {
        let ready = |id: &str| Listing { id: id.to_string(), status: "ready".into() };
        let mut listing = vec![ready("bench"), ready("echo")];
        if let Ok(slots) = self.slots.read() {
            listing.extend(slots.iter().map(|(id, slot)| Listing {
                id: id.clone(),
                status: match slot {
                    Slot::Ready(_) => "ready".into(),
                    Slot::Loading => "loading".into(),
                    Slot::Failed(reason) => format!("failed: {reason}"),
                },
            }));
        }
        listing.sort_by(|a, b| a.id.cmp(&b.id));
        listing
    }
}

/// Loads the demo agent and the configured agents on a blocking thread, one after the other (models shared).
pub fn spawn_loader(directory: Arc<Directory>, models: Arc<LocalModels>, demo: bool, agents: Vec<AgentConfig>) {
    tokio::task::spawn_blocking(move || {
        if demo {
            load(&directory, "demo", || local::demo_agent(&models));
        }
        for config in &agents {
            load(&directory, &config.id, || local::configured_agent(&models, config));
        }
    });
}

fn load(directory: &Directory, id: &str, build: impl FnOnce() -> anyhow::Result<Agent>) {
    let started = std::time::Instant::now();
    let slot = match build() {
        Ok(agent) => {
            tracing::info!(agent = id, took = ?started.elapsed(), "agent ready (local models)");
            Slot::Ready(Arc::new(agent))
        }
        Err(e) => {
            tracing::error!(agent = id, error = %format!("{e:#}"), "agent unavailable");
            Slot::Failed(format!("{e:#}"))
        }
    };
    directory.set(id, slot);
}
