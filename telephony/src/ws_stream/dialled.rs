//! Calls our dialer placed through a provider's REST API and still follows (a campaign's): what their stream
//! needs (the contact's variables, answering-machine detection), the account whose token signs their
//! webhooks, and where their progress goes. Each is known by a dial id of ours that rides in the answer and
//! status URLs we hand the provider (`?dial=`), and from the answer document in the stream's URL (or Twilio's
//! custom parameters): the answer, the stream and every status callback find the call by it, before and
//! whatever the provider's own id of the call.
//!
//! The registry is a [`DialRegistry`] the node wires in: the deployment's store, so that a provider behind a
//! load balancer may send a call's answer, stream and callbacks to any node, and what that node hears reaches
//! the node that placed the call (which holds the call's campaign slot until its end).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use voicera_carrier_rest::{AnsweredBy, CallEnd, CallProgress, EndKind, Provider, ProviderAccount};
use voicera_conversation::amd::AmdEvent;

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
    /// A signed status callback arrived: its form fields, read by
    /// [`voicera_carrier_rest::read_callback`] where the call is followed.
    Status(Vec<(String, String)>),
    /// Answering-machine detection on its stream decided, or left the message.
    Amd(AmdEvent),
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
    /// Answering-machine detection on the call's stream (None: the agent starts when the stream does). Its
    /// `events` are the stream's to set: they go back through [`DialRegistry::report`].
    pub amd: Option<AmdRequest>,
}

/// The status-callback fields a dialled call's end is read from ([`voicera_carrier_rest::read_callback`]):
/// what a [`DialEvent::Status`] keeps of a callback (not the numbers or the provider's other fields).
pub const STATUS_FIELDS: [&str; 12] = [
    "CallStatus",
    "Status",
    "call_status",
    "HangupCause",
    "HangupCauseName",
    "Event",
    "AnsweredBy",
    "Machine",
    "SipResponseCode",
    "CallDuration",
    "Duration",
    "BillDuration",
];

/// A registry's answer, boxed (the trait is used as `dyn`).
pub type DialFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the endpoints find dialled calls and report what they hear of them.
pub trait DialRegistry: Send + Sync {
    /// The call followed as `dial_id`, placed through `provider`, whichever node placed it; None when no call
    /// is (or is any longer) followed as `dial_id`, or it cannot be read.
    fn find<'a>(&'a self, dial_id: &'a str, provider: Provider) -> DialFuture<'a, Option<DialledCall>>;
    /// Tells the call's dialer of `event`, heard of the call `call` found (its provider and placing account
    /// must still be the dial's); false when no such call is followed as `dial_id`, or the event could not be
    /// recorded.
    fn report<'a>(&'a self, dial_id: &'a str, call: &'a DialledCall, event: DialEvent) -> DialFuture<'a, bool>;
    /// Watches the call `call` found, whose stream runs on this node as the provider's call `call_id`, for as
    /// long as the stream runs: resolves (with why) once the call must be hung up because nobody follows it
    /// any more (its placing node died and the dial lapsed, or another node settled it), the registry having
    /// hung the provider's call up through its API first; the stream then ends. Never resolves by default (a
    /// registry whose dials cannot outlive their dialer).
    fn watch<'a>(&'a self, dial_id: &'a str, call: &'a DialledCall, call_id: &'a str) -> DialFuture<'a, String> {
        let _ = (dial_id, call, call_id);
        Box::pin(std::future::pending())
    }
}

/// The node's registry of dialled calls. Cheap to clone. The default has none: every dial id is unknown.
#[derive(Clone, Default)]
pub struct DialledCalls {
    registry: Option<Arc<dyn DialRegistry>>,
}

impl std::fmt::Debug for DialledCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialledCalls").field("registry", &self.registry.is_some()).finish()
    }
}

impl DialledCalls {
    /// Dialled calls found in and reported to `registry`.
    pub fn new(registry: Arc<dyn DialRegistry>) -> DialledCalls {
        DialledCalls { registry: Some(registry) }
    }

    /// The call followed as `dial_id` and placed through `provider`, if any.
    pub async fn find(&self, dial_id: &str, provider: Provider) -> Option<DialledCall> {
        match &self.registry {
            Some(registry) => registry.find(dial_id, provider).await,
            None => None,
        }
    }

    /// Tells the call's dialer of `event` heard of `call` (as [`DialledCalls::find`] found it); false when no
    /// such call is followed as `dial_id`, or the event could not be recorded.
    pub async fn report(&self, dial_id: &str, call: &DialledCall, event: DialEvent) -> bool {
        match &self.registry {
            Some(registry) => registry.report(dial_id, call, event).await,
            None => false,
        }
    }
}

impl DialledCalls {
    /// Resolves (with why) once the dialled call `call`, streaming here as `call_id`, must be hung up: see
    /// [`DialRegistry::watch`]. Never resolves without a registry.
    pub fn watch<'a>(&'a self, dial_id: &'a str, call: &'a DialledCall, call_id: &'a str) -> DialFuture<'a, String> {
        match &self.registry {
            Some(registry) => registry.watch(dial_id, call, call_id),
            None => Box::pin(std::future::pending()),
        }
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
            Ok(Some(DialEvent::Status(fields))) => match progress_of(&fields) {
                CallProgress::Going { answered_by, .. } => machine = answered_by.or(machine),
                CallProgress::Ended(end) => {
                    if !streaming {
                        return finished(end, machine, call_id, false);
                    }
                    ended = Some(end);
                    deadline = Some(tokio::time::Instant::now() + STREAM_GRACE);
                }
            },
            // The dialer reads detection events apart (they are the stream's, not the call's progress).
            Ok(Some(DialEvent::Amd(_))) => {}
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
            DialEvent::Status(fields) => match progress_of(&fields) {
                CallProgress::Ended(end) => return Some(end),
                CallProgress::Going { answered_by, .. } => *machine = answered_by.or(*machine),
            },
            DialEvent::StreamStarted { .. } | DialEvent::StreamEnded | DialEvent::Amd(_) => {}
        }
    }
}

/// A status callback's fields read as the provider's progress report.
fn progress_of(fields: &[(String, String)]) -> CallProgress {
    voicera_carrier_rest::read_callback(|name| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()))
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

    fn status(pairs: &[(&str, &str)]) -> DialEvent {
        DialEvent::Status(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn ended(kind: EndKind) -> DialEvent {
        let status = match kind {
            EndKind::Busy => "busy",
            EndKind::NoAnswer => "no-answer",
            EndKind::Completed => "completed",
            EndKind::Canceled => "canceled",
            EndKind::Failed => "failed",
        };
        self::status(&[("CallStatus", status)])
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_status_ends_the_call_and_a_silent_provider_times_out() {
        let (events, mut heard) = mpsc::unbounded_channel();
        events.send(status(&[("CallStatus", "ringing")])).unwrap();
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
        events.send(status(&[("CallStatus", "in-progress"), ("AnsweredBy", "machine_start")])).unwrap();
        events.send(DialEvent::Amd(AmdEvent::MessageLeft)).unwrap();
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
}
