//! Where a call goes: the directory every transport asks, in the same way, which agent (or built-in service)
//! a Request-URI user, a called number or a stream's `agent_id` leads to. The binary implements [`Router`]
//! over the configured and stored agents; SIP, provider streams, browser calls and outbound calls all route
//! through it, so an agent id or attached number means the same thing on every transport.

use std::sync::Arc;

use crate::agent::Agent;

/// Where a Request-URI user leads.
#[derive(Clone)]
pub enum Destination {
    /// The built-in echo service.
    Echo,
    /// An agent's conversation.
    Agent(Arc<Agent>),
    /// A known agent that cannot take calls yet (its models are still loading): 503 with Retry-After, so
    /// the caller's side retries instead of waiting on a silent line.
    Unavailable {
        /// Why, for the log and the reason phrase.
        reason: String,
        /// The Retry-After to send, in seconds.
        retry_after_secs: u32,
    },
}

/// One entry of a directory listing (the browser test page's agent picker).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listing {
    /// The agent's id.
    pub id: String,
    /// `ready`, `loading` or `failed: <why>`.
    pub status: String,
}

/// Maps a Request-URI user (agent id, number, service name) to a destination.
pub trait Router: Send + Sync {
    /// Where `user` leads (None: nowhere, 404).
    fn route(&self, user: &str) -> Option<Destination>;

    /// What can be called by id, sorted by id.
    fn list(&self) -> Vec<Listing> {
        Vec::new()
    }
}
