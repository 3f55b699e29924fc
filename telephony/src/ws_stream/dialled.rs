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
use std::time::Duration;

use tokio::sync::mpsc;
use voicera_carrier_rest::{AnsweredBy, CallEnd, CallProgress, EndKind, Provider, ProviderAccount};

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
    /// The agent the call was placed for: the only one its answer webhook may open a stream to (the account
    /// that signs it is the placing org's own).
    pub agent: String,
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

/// How long the final status callback is waited for once the stream has ended (then the stream's end stands
/// for the call's, and the call is to be hung up through the API in case it is still up).
pub const END_GRACE: Duration = Duration::from_secs(5);
/// How long a stream's end is waited for once the final status says the call is over (its last detection
/// events come with it).
pub const STREAM_GRACE: Duration = Duration::from_secs(2);

/// What following a dialled call found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followed {
    /// How it ended, by its final status callback (the provider's machine detection merged in), or by its
    /// stream's end when no status followed; None: the provider went quiet (no stream, no final status).
    pub end: Option<CallEnd>,
    /// The provider's call id, from the stream's start.
    pub call_id: Option<String>,
    /// No final word from the provider: the call should be hung up through the API.
    pub hang_up: bool,
}

/// Follows a placed call's events to its end: its final status callback (once its stream, if one is up, has
/// ended or [`STREAM_GRACE`] passed), or its stream's end (then [`END_GRACE`] for the final status), or
/// `setup_limit` without a stream or a final status. A stream keeps the call going as long as it runs.
pub async fn follow(events: &mut mpsc::UnboundedReceiver<DialEvent>, setup_limit: Duration) -> Followed {
    let mut call_id = None;
    let mut streaming = false;
    let mut machine = None;
    let mut ended: Option<CallEnd> = None;
    let mut deadline = Some(tokio::time::Instant::now() + setup_limit);
    loop {
        let next = match deadline {
            Some(at) => tokio::time::timeout_at(at, events.recv()).await,
            None => Ok(events.recv().await),
        };
        match next {
            Ok(Some(DialEvent::StreamStarted { call_id: id })) => {
                call_id = Some(id);
                streaming = true;
                deadline = None;
            }
            Ok(Some(DialEvent::StreamEnded)) => {
                if let Some(end) = ended.take() {
                    return finished(end, machine, call_id, false);
                }
                // The conversation is over and the final status normally follows at once. Without it, the call
                // was answered (it streamed), and may still be up.
                return match tokio::time::timeout(END_GRACE, next_end(events, &mut machine)).await {
                    Ok(Some(end)) => finished(end, machine, call_id, false),
                    _ => finished(answered_end(), machine, call_id, true),
                };
            }
            Ok(Some(DialEvent::Status(CallProgress::Going { answered_by, .. }))) => {
                machine = answered_by.or(machine);
            }
            Ok(Some(DialEvent::Status(CallProgress::Ended(end)))) => {
                if !streaming {
                    return finished(end, machine, call_id, false);
                }
                ended = Some(end);
                deadline = Some(tokio::time::Instant::now() + STREAM_GRACE);
            }
            Ok(None) => {
                let end = ended.take().unwrap_or_else(answered_end);
                return finished(end, machine, call_id, false);
            }
            Err(_) => {
                return match ended.take() {
                    Some(end) => finished(end, machine, call_id, false),
                    None => Followed { end: None, call_id, hang_up: true },
                };
            }
        }
    }
}

/// The next final status (remembering machine detection on the way); None when the channel closed.
async fn next_end(
    events: &mut mpsc::UnboundedReceiver<DialEvent>,
    machine: &mut Option<AnsweredBy>,
) -> Option<CallEnd> {
    loop {
        match events.recv().await? {
            DialEvent::Status(CallProgress::Ended(end)) => return Some(end),
            DialEvent::Status(CallProgress::Going { answered_by, .. }) => *machine = answered_by.or(*machine),
            DialEvent::StreamStarted { .. } | DialEvent::StreamEnded => {}
        }
    }
}

/// The end of a call whose stream ran and whose final status never came: it was answered.
fn answered_end() -> CallEnd {
    CallEnd { kind: EndKind::Completed, cause: "stream ended".into(), answered_by: None, duration_secs: None }
}

fn finished(end: CallEnd, machine: Option<AnsweredBy>, call_id: Option<String>, hang_up: bool) -> Followed {
    let answered_by = end.answered_by.or(machine);
    Followed { end: Some(CallEnd { answered_by, ..end }), call_id, hang_up }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(kind: EndKind) -> DialEvent {
        DialEvent::Status(CallProgress::Ended(CallEnd {
            kind,
            cause: "x".into(),
            answered_by: None,
            duration_secs: None,
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_status_ends_the_call_and_a_silent_provider_times_out() {
        let (events, mut heard) = mpsc::unbounded_channel();
        events.send(DialEvent::Status(CallProgress::Going { status: "ringing".into(), answered_by: None })).unwrap();
        events.send(ended(EndKind::Busy)).unwrap();
        let followed = follow(&mut heard, Duration::from_secs(30)).await;
        assert_eq!((followed.end.map(|e| e.kind), followed.hang_up), (Some(EndKind::Busy), false));

        let (_events, mut heard) = mpsc::unbounded_channel();
        let started = tokio::time::Instant::now();
        let followed = follow(&mut heard, Duration::from_secs(30)).await;
        assert_eq!(followed, Followed { end: None, call_id: None, hang_up: true });
        assert_eq!(started.elapsed(), Duration::from_secs(30), "given up on at the limit, not before");
    }

    #[tokio::test(start_paused = true)]
    async fn a_streamed_call_lasts_as_long_as_its_stream_and_takes_the_status_that_follows() {
        let (events, mut heard) = mpsc::unbounded_channel();
        events.send(DialEvent::StreamStarted { call_id: "CA1".into() }).unwrap();
        let sender = events.clone();
        tokio::spawn(async move {
            // A conversation far longer than the set-up limit.
            tokio::time::sleep(Duration::from_secs(600)).await;
            sender.send(DialEvent::StreamEnded).unwrap();
            sender.send(ended(EndKind::Completed)).unwrap();
        });
        let followed = follow(&mut heard, Duration::from_secs(30)).await;
        assert_eq!(followed.end.map(|e| e.kind), Some(EndKind::Completed));
        assert_eq!((followed.call_id.as_deref(), followed.hang_up), (Some("CA1"), false));

        // No status after the stream: answered (the provider's machine detection kept), hung up in case.
        let (events, mut heard) = mpsc::unbounded_channel();
        events.send(DialEvent::StreamStarted { call_id: "CA2".into() }).unwrap();
        let machine = CallProgress::Going { status: "in-progress".into(), answered_by: Some(AnsweredBy::Machine) };
        events.send(DialEvent::Status(machine)).unwrap();
        events.send(DialEvent::StreamEnded).unwrap();
        let started = tokio::time::Instant::now();
        let followed = follow(&mut heard, Duration::from_secs(30)).await;
        let end = followed.end.unwrap();
        assert_eq!(
            (end.kind, end.answered_by, followed.hang_up),
            (EndKind::Completed, Some(AnsweredBy::Machine), true)
        );
        assert_eq!(started.elapsed(), END_GRACE);

        // The final status while the stream still closes: the stream's end is waited for, briefly.
        let (events, mut heard) = mpsc::unbounded_channel();
        events.send(DialEvent::StreamStarted { call_id: "CA3".into() }).unwrap();
        events.send(ended(EndKind::Completed)).unwrap();
        let started = tokio::time::Instant::now();
        let followed = follow(&mut heard, Duration::from_secs(30)).await;
        assert_eq!((followed.end.map(|e| e.kind), followed.hang_up), (Some(EndKind::Completed), false));
        assert_eq!(started.elapsed(), STREAM_GRACE);
    }

    #[test]
    fn events_reach_the_dialler_of_a_followed_call_only() {
        let calls = DialledCalls::default();
        let (events, mut heard) = mpsc::unbounded_channel();
        let account = ProviderAccount { auth_id: "MA1".into(), auth_token: "t".into(), api_base: None };
        let call = DialledCall {
            provider: Provider::Vobiz,
            account,
            agent: "bench".into(),
            variables: Vec::new(),
            amd: None,
            events,
        };
        calls.insert("d-1", call);
        assert!(calls.report("d-1", DialEvent::StreamEnded));
        assert!(!calls.report("d-2", DialEvent::StreamEnded));
        assert_eq!(heard.try_recv(), Ok(DialEvent::StreamEnded));
        calls.remove("d-1");
        assert!(calls.is_empty() && !calls.report("d-1", DialEvent::StreamEnded));
    }
}
