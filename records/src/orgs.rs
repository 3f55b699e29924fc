//! Which org a call belongs to: its agent's (an agent an org created through the API), else the node's
//! records org (the built-in agents and `[[agents]]` from voicera.toml have no org of their own). The org is
//! settled when the call starts and kept until it ends, so an agent deleted or moved mid-call cannot split a
//! call's log (or its events) between two tenants.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use voicera_conversation::recorder::CallRecord;

/// The org owning an agent, by agent id; `None` for agents without one.
pub type AgentOrgs = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The orgs of a node's calls: resolved per call from the agent, with the node's records org as the fallback.
pub struct CallOrgs {
    fallback: String,
    agents: OnceLock<AgentOrgs>,
    /// Calls started and not yet ended, by record id: the org each was settled on. Touched once at a call's
    /// start and once at its end, never on the media path.
    open: Mutex<HashMap<String, String>>,
}

impl CallOrgs {
    /// Calls of agents without an org of their own belong to `fallback`.
    pub fn new(fallback: impl Into<String>) -> CallOrgs {
        CallOrgs { fallback: fallback.into(), agents: OnceLock::new(), open: Mutex::new(HashMap::new()) }
    }

    /// Resolves agents' orgs with `agents` from now on (set once, when the node's agent directory is up;
    /// a second call is ignored).
    pub fn resolve_with(&self, agents: AgentOrgs) {
        let _ = self.agents.set(agents);
    }

    /// The org of calls nothing names an agent for (a provider's report of an unanswered call).
    pub fn fallback(&self) -> &str {
        &self.fallback
    }

    /// The org of `agent` as of now.
    fn of_agent(&self, agent: &str) -> String {
        self.agents.get().and_then(|resolve| resolve(agent)).unwrap_or_else(|| self.fallback.clone())
    }

    /// Settles the org of a call that starts.
    pub fn started(&self, record: &CallRecord) -> String {
        let org = self.of_agent(&record.agent);
        if let Ok(mut open) = self.open.lock() {
            open.insert(record.record_id.clone(), org.clone());
        }
        org
    }

    /// The org of an ongoing call: the one it started with (else its agent's now).
    pub fn of(&self, record: &CallRecord) -> String {
        let settled = self.open.lock().ok().and_then(|open| open.get(&record.record_id).cloned());
        settled.unwrap_or_else(|| self.of_agent(&record.agent))
    }

    /// The org of a call that ended: the one it started with (else its agent's now), forgotten.
    pub fn ended(&self, record: &CallRecord) -> String {
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
        let orgs = CallOrgs::new("owner");
        assert_eq!(orgs.started(&record("r0", "b-agent")), "owner", "no directory yet: the records org");
        let directory: Arc<Mutex<HashMap<String, String>>> =
            Arc::new(Mutex::new(HashMap::from([("b-agent".to_string(), "org-b".to_string())])));
        let lookup = Arc::clone(&directory);
        orgs.resolve_with(Arc::new(move |agent: &str| lookup.lock().unwrap().get(agent).cloned()));
        assert_eq!(orgs.started(&record("r1", "b-agent")), "org-b");
        assert_eq!(orgs.started(&record("r2", "echo")), "owner", "a built-in agent has no org");
        // The agent is deleted mid-call: the call stays with the org it started in.
        directory.lock().unwrap().clear();
        assert_eq!(orgs.of(&record("r1", "b-agent")), "org-b");
        assert_eq!(orgs.ended(&record("r1", "b-agent")), "org-b");
        assert_eq!(orgs.ended(&record("r1", "b-agent")), "owner", "forgotten once ended");
    }
}
