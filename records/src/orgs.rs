//! Which org a call belongs to: its agent's (an agent an org created through the API), else the node's
//! records org (the built-in agents and `[[agents]]` from voicera.toml have no org of their own). The org is
//! settled when the call starts and kept until it ends, so an agent deleted or moved mid-call cannot split a
//! call's log (or its events) between two tenants.
//!
//! The records org is the owner's, which a node that starts with the store away cannot look up: until it is
//! found ([`RecordsOrg::settle`]) calls settle on a stand-in (`default`) marked pending, and their writes are
//! addressed to the owner's org when they are delivered ([`crate::item::StoreDelivery`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Notify;
use voicera_conversation::recorder::CallRecord;

/// The org owning an agent, by agent id; `None` for agents without one.
pub type AgentOrgs = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The org of calls whose agent has none of its own: known at start, or found later (a node that started
/// with the store away finds the owner's org once the store answers).
#[derive(Debug)]
pub struct RecordsOrg {
    /// The org calls are logged under until it is known.
    stand_in: String,
    known: OnceLock<String>,
    /// Woken when it becomes known.
    settled: Notify,
}

impl RecordsOrg {
    /// A records org known from the start.
    pub fn known(org_id: impl Into<String>) -> RecordsOrg {
        RecordsOrg { stand_in: String::new(), known: OnceLock::from(org_id.into()), settled: Notify::new() }
    }

    /// A records org still to be found ([`Self::settle`]); calls are logged under `stand_in` meanwhile,
    /// marked pending.
    pub fn pending(stand_in: impl Into<String>) -> RecordsOrg {
        RecordsOrg { stand_in: stand_in.into(), known: OnceLock::new(), settled: Notify::new() }
    }

    /// It is `org_id` (once: a second settling is ignored, so the calls of a run never change org twice).
    /// Returns whether this call settled it.
    pub fn settle(&self, org_id: impl Into<String>) -> bool {
        let settled = self.known.set(org_id.into()).is_ok();
        if settled {
            self.settled.notify_waiters();
        }
        settled
    }

    /// The org, once known.
    pub fn get(&self) -> Option<&str> {
        self.known.get().map(String::as_str)
    }

    /// The org calls settle on now: the known one, else the stand-in (pending).
    pub fn now(&self) -> CallOrg {
        match self.get() {
            Some(org) => CallOrg::known(org),
            None => CallOrg { org_id: self.stand_in.clone(), pending: true },
        }
    }

    /// Waits until it is known.
    pub async fn wait_known(&self) {
        loop {
            // Registered before the check, so a settling in between is not missed.
            let woken = self.settled.notified();
            if self.get().is_some() {
                return;
            }
            woken.await;
        }
    }
}

/// The org a call settled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOrg {
    /// The org its writes are addressed to.
    pub org_id: String,
    /// The records org's stand-in, the owner's org not yet known: its writes go to the owner's org once it is.
    pub pending: bool,
}

impl CallOrg {
    /// A known org.
    pub fn known(org_id: impl Into<String>) -> CallOrg {
        CallOrg { org_id: org_id.into(), pending: false }
    }
}

/// The orgs of a node's calls: resolved per call from the agent, with the node's records org as the fallback.
pub struct CallOrgs {
    records: Arc<RecordsOrg>,
    agents: OnceLock<AgentOrgs>,
    /// Calls started and not yet ended, by record id: the org each was settled on. Touched once at a call's
    /// start and once at its end, never on the media path.
    open: Mutex<HashMap<String, CallOrg>>,
}

impl CallOrgs {
    /// Calls of agents without an org of their own belong to `records`.
    pub fn new(records: Arc<RecordsOrg>) -> CallOrgs {
        CallOrgs { records, agents: OnceLock::new(), open: Mutex::new(HashMap::new()) }
    }

    /// Resolves agents' orgs with `agents` from now on (set once, when the node's agent directory is up;
    /// a second call is ignored).
    pub fn resolve_with(&self, agents: AgentOrgs) {
        let _ = self.agents.set(agents);
    }

    /// The org of calls nothing names an agent for (a provider's report of an unanswered call).
    pub fn fallback(&self) -> CallOrg {
        self.records.now()
    }

    /// The org of `agent` as of now.
    fn of_agent(&self, agent: &str) -> CallOrg {
        match self.agents.get().and_then(|resolve| resolve(agent)) {
            Some(org) => CallOrg::known(org),
            None => self.records.now(),
        }
    }

    /// Settles the org of a call that starts.
    pub fn started(&self, record: &CallRecord) -> CallOrg {
        let org = self.of_agent(&record.agent);
        if let Ok(mut open) = self.open.lock() {
            open.insert(record.record_id.clone(), org.clone());
        }
        org
    }

    /// The org of an ongoing call: the one it started with (else its agent's now).
    pub fn of(&self, record: &CallRecord) -> CallOrg {
        let settled = self.open.lock().ok().and_then(|open| open.get(&record.record_id).cloned());
        settled.unwrap_or_else(|| self.of_agent(&record.agent))
    }

    /// The org of a call that ended: the one it started with (else its agent's now), forgotten.
    pub fn ended(&self, record: &CallRecord) -> CallOrg {
        let settled = self.open.lock().ok().and_then(|mut open| open.remove(&record.record_id));
        settled.unwrap_or_else(|| self.of_agent(&record.agent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, agent: &str) -> CallRecord {
        CallRecord { record_id: id.into(), agent: agent.into(), ..CallRecord::example() }
    }

    #[test]
    fn a_call_belongs_to_its_agents_org_else_the_records_org() {
        let orgs = CallOrgs::new(Arc::new(RecordsOrg::known("owner")));
        let owner = CallOrg::known("owner");
        assert_eq!(orgs.started(&record("r0", "b-agent")), owner, "no directory yet: the records org");
        let directory: Arc<Mutex<HashMap<String, String>>> =
            Arc::new(Mutex::new(HashMap::from([("b-agent".to_string(), "org-b".to_string())])));
        let lookup = Arc::clone(&directory);
        orgs.resolve_with(Arc::new(move |agent: &str| lookup.lock().unwrap().get(agent).cloned()));
        let org_b = CallOrg::known("org-b");
        assert_eq!(orgs.started(&record("r1", "b-agent")), org_b);
        assert_eq!(orgs.started(&record("r2", "echo")), owner, "a built-in agent has no org");
        // The agent is deleted mid-call: the call stays with the org it started in.
        directory.lock().unwrap().clear();
        assert_eq!(orgs.of(&record("r1", "b-agent")), org_b);
        assert_eq!(orgs.ended(&record("r1", "b-agent")), org_b);
        assert_eq!(orgs.ended(&record("r1", "b-agent")), owner, "forgotten once ended");
    }

    #[tokio::test]
    async fn calls_settle_on_the_stand_in_pending_until_the_records_org_is_found() {
        let records = Arc::new(RecordsOrg::pending("default"));
        let orgs = CallOrgs::new(Arc::clone(&records));
        let pending = CallOrg { org_id: "default".into(), pending: true };
        assert_eq!(orgs.started(&record("r1", "echo")), pending);
        assert_eq!(orgs.fallback(), pending);
        let waiting = tokio::spawn({
            let records = Arc::clone(&records);
            async move { records.wait_known().await }
        });
        assert!(records.settle("org-owner"));
        assert!(!records.settle("org-other"), "settled once");
        waiting.await.unwrap();
        // A call that started pending stays so to its end (its writes all reach one org, at delivery); the
        // next call is the owner's.
        assert_eq!(orgs.ended(&record("r1", "echo")), pending);
        assert_eq!(orgs.started(&record("r2", "echo")), CallOrg::known("org-owner"));
        assert_eq!(records.get(), Some("org-owner"));
    }
}
