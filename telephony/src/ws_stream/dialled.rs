//! Calls this node placed through a provider's REST API and still follows (a campaign's): what their stream
//! needs (the contact's variables, answering-machine detection), the account whose token signs their
//! webhooks, and where their progress goes. Each is known by a dial id of ours that rides in the answer and
//! status URLs we hand the provider (`?dial=`), and from the answer document in the stream's URL (or Twilio's
//! custom parameters): the answer, the stream and every status callback find the call by it, before and
//! whatever the provider's own id of the call.
//!
//! The registry is this node's: a provider that sends a call's answer or stream to another node (a load
//! balancer in front of several) reaches the agent without the contact's variables or detection, and the
//! placing node learns the call's end only from its own status callbacks (else its time-out).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use voicera_carrier_rest::{CallProgress, Provider, ProviderAccount};

use crate::sip_rtp::AmdRequest;

/// The URL parameter naming a dialled call (answer URL, status URL, stream URL, Twilio custom parameter).
pub const DIAL_PARAM: &str = "dial";

/// What happened to a dialled call, as the endpoints see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialEvent {
    /// Its media stream started: the provider's id of the call.
    StreamStarted {
        /// The provider's call id (the stream's `callId`/`callSid`).
        call_id: String,
    },
    /// Its media stream ended (either side closed it).
    StreamEnded,
    /// A signed status callback arrived.
    Status(CallProgress),
}

/// A call placed through a provider and what its endpoints need.
#[derive(Debug)]
pub struct DialledCall {
    /// The provider that places it.
    pub provider: Provider,
    /// The account that placed it: its token signs the call's webhooks.
    pub account: ProviderAccount,
    /// Values for the agent's `{{contact.<name>}}` variables on the call.
    pub variables: Vec<(String, String)>,
    /// Answering-machine detection on the call's stream (None: the agent starts when the stream does).
    pub amd: Option<AmdRequest>,
    /// Where its events go (the dialer that placed it).
    pub events: mpsc::UnboundedSender<DialEvent>,
}

/// The node's dialled calls, by dial id. Cheap to clone: one registry shared by the dialer and the endpoints.
#[derive(Clone, Default)]
pub struct DialledCalls {
    calls: Arc<Mutex<HashMap<String, Arc<DialledCall>>>>,
}

impl std::fmt::Debug for DialledCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialledCalls").field("calls", &self.lock().len()).finish()
    }
}

impl DialledCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<DialledCall>>> {
        self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Follows `call` as `dial_id` (before it is placed: the provider may call back at once).
    pub fn insert(&self, dial_id: &str, call: DialledCall) {
        self.lock().insert(dial_id.to_string(), Arc::new(call));
    }

    /// Stops following a call (its end is known, or the dialer gave up on it).
    pub fn remove(&self, dial_id: &str) {
        self.lock().remove(dial_id);
    }

    /// The call followed as `dial_id`, if any.
    pub fn get(&self, dial_id: &str) -> Option<Arc<DialledCall>> {
        self.lock().get(dial_id).cloned()
    }

    /// Tells the call's dialer of `event`; false when no call is followed as `dial_id`.
    pub fn report(&self, dial_id: &str, event: DialEvent) -> bool {
        match self.get(dial_id) {
            Some(call) => {
                let _ = call.events.send(event);
                true
            }
            None => false,
        }
    }

    /// Calls followed now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no call is followed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_the_dialler_of_a_followed_call_only() {
        let calls = DialledCalls::default();
        let (events, mut heard) = mpsc::unbounded_channel();
        let account = ProviderAccount { auth_id: "MA1".into(), auth_token: "t".into(), api_base: None };
        let call = DialledCall { provider: Provider::Vobiz, account, variables: Vec::new(), amd: None, events };
        calls.insert("d-1", call);
        assert!(calls.report("d-1", DialEvent::StreamEnded));
        assert!(!calls.report("d-2", DialEvent::StreamEnded));
        assert_eq!(heard.try_recv(), Ok(DialEvent::StreamEnded));
        calls.remove("d-1");
        assert!(calls.is_empty() && !calls.report("d-1", DialEvent::StreamEnded));
    }
}
