//! Calls in progress on this node, as the console's Live page shows them: who is talking to which agent over
//! which transport, since when, what has been said so far, and a way to end the call from outside.
//!
//! Every transport's [`CallCore`](crate::core::CallCore) registers its call here when it starts and leaves
//! when it is dropped, and appends the words of each `Said` action; so the registry covers SIP, provider
//! streams, the browser socket and WebRTC alike without any transport knowing of it. A hang-up asked for
//! here comes out of the core's `poll_action` as an ordinary [`CallAction::HangUp`](crate::core::CallAction)
//! with [`HangUpReason::Operator`](crate::engine::HangUpReason::Operator): each transport ends the call the way
//! it ends an agent's hang-up (BYE on SIP, the stream's stop message and close, WebRTC's close).
//!
//! The process has one registry ([`LiveCalls::node`]), as it has one set of listeners; tests make their own
//! with [`LiveCalls::default`]. Nothing here is on the per-packet path: registering, a turn and a hang-up
//! take a short lock; the core checks the hang-up flag with one atomic load per poll.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use serde::Serialize;

/// Turns kept per call: a call that talks for hours keeps its latest ones (the record keeps them all).
pub const MAX_LIVE_TURNS: usize = 500;

/// What a live call is, fixed when it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveCallInfo {
    /// The transport's id of the call (SIP Call-ID, the provider's call id, the browser call's id).
    pub call_id: String,
    /// The agent's id (`echo` for the echo service).
    pub agent: String,
    /// `sip`, `webrtc`, `browser` or a provider's name.
    pub transport: String,
    /// The caller's number or URI user, when the transport knows it.
    pub caller: String,
    /// The called number or agent, when the transport knows it.
    pub called: String,
    /// The agent placed the call rather than answered it.
    pub outbound: bool,
    /// When the call started, Unix milliseconds.
    pub started_at_ms: u64,
}

/// Who is on a call, as its transport knows them: what the Live view shows for every call, whether or not the
/// agent keeps a record of it (the record's plan carries the same numbers, for the record).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallParties {
    /// The caller's number or URI user (empty when the transport does not say).
    pub caller: String,
    /// The called number or agent (empty when the transport does not say).
    pub called: String,
    /// The agent placed the call rather than answered it.
    pub outbound: bool,
}

/// One utterance of a live transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveTurn {
    /// Its position in the call's transcript, from 0 (a stream resumes after the last one it had).
    pub seq: u64,
    /// `user` or `agent`, as the call history's transcripts say.
    pub role: &'static str,
    /// The conversation's turn it belongs to (0: the greeting).
    pub turn: u64,
    /// The words.
    pub content: String,
    /// The agent was cut off by the caller.
    pub interrupted: bool,
    /// When it was said, Unix milliseconds.
    pub at_ms: u64,
}

/// A change of a live call, for a waiting transcript stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveVersion {
    /// Turns said so far (the next turn's `seq`).
    pub turns: u64,
    /// The call has ended.
    pub ended: bool,
}

/// One call in progress.
pub struct LiveCall {
    /// Its id in the registry: the call id, made unique on this node (`<call id>~2` for a second call with the
    /// same transport id).
    id: String,
    info: LiveCallInfo,
    transcript: Mutex<Transcript>,
    hang_up: AtomicBool,
    changes: tokio::sync::watch::Sender<LiveVersion>,
}

#[derive(Default)]
struct Transcript {
    turns: std::collections::VecDeque<LiveTurn>,
    next_seq: u64,
}

impl LiveCall {
    /// Its id in the registry (what `/api/v1/calls/live/{id}` takes).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What the call is.
    pub fn info(&self) -> &LiveCallInfo {
        &self.info
    }

    /// The transcript so far (at most [`MAX_LIVE_TURNS`], the latest).
    pub fn transcript(&self) -> Vec<LiveTurn> {
        self.transcript.lock().map(|t| t.turns.iter().cloned().collect()).unwrap_or_default()
    }

    /// The turns from `seq` on (those still kept).
    pub fn transcript_since(&self, seq: u64) -> Vec<LiveTurn> {
        self.transcript
            .lock()
            .map(|t| t.turns.iter().filter(|turn| turn.seq >= seq).cloned().collect())
            .unwrap_or_default()
    }

    /// Words said on the call (empty words are not a turn).
    pub fn said(&self, role: &'static str, turn: u64, content: &str, interrupted: bool, at_ms: u64) {
        let content = content.trim();
        if content.is_empty() {
            return;
        }
        let turns = {
            let Ok(mut transcript) = self.transcript.lock() else { return };
            let seq = transcript.next_seq;
            transcript.next_seq += 1;
            if transcript.turns.len() >= MAX_LIVE_TURNS {
                transcript.turns.pop_front();
            }
            transcript.turns.push_back(LiveTurn { seq, role, turn, content: content.to_string(), interrupted, at_ms });
            transcript.next_seq
        };
        self.changes.send_modify(|v| v.turns = turns);
    }

    /// Asks the call to end: its core hands its transport a hang-up at the next poll. Returns false when one
    /// was asked for already.
    pub fn request_hang_up(&self) -> bool {
        !self.hang_up.swap(true, Ordering::AcqRel)
    }

    /// Whether a hang-up was asked for and not yet taken ([`LiveCall::take_hang_up`]).
    pub fn hang_up_requested(&self) -> bool {
        self.hang_up.load(Ordering::Acquire)
    }

    /// Takes the asked-for hang-up, once.
    pub fn take_hang_up(&self) -> bool {
        // A load first: the swap (a write) happens only once a hang-up was asked for.
        self.hang_up.load(Ordering::Relaxed) && self.hang_up.swap(false, Ordering::AcqRel)
    }

    /// The call's changes: the number of turns said, and whether it ended.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<LiveVersion> {
        self.changes.subscribe()
    }

    /// Whether the call has ended (left the registry).
    pub fn ended(&self) -> bool {
        self.changes.borrow().ended
    }
}

/// The calls in progress on one node.
#[derive(Default)]
pub struct LiveCalls {
    calls: Mutex<HashMap<String, Weak<LiveCall>>>,
}

/// A call's place in the registry: the call leaves it when this is dropped (the call ended, or its task
/// ended some other way).
pub struct LiveEntry {
    call: Arc<LiveCall>,
    registry: Weak<LiveCalls>,
}

impl LiveEntry {
    /// The call.
    pub fn call(&self) -> &Arc<LiveCall> {
        &self.call
    }
}

impl Drop for LiveEntry {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.remove(&self.call.id);
        }
        self.call.changes.send_modify(|v| v.ended = true);
    }
}

impl LiveCalls {
    /// This process's registry, where every call core registers.
    pub fn node() -> &'static Arc<LiveCalls> {
        static NODE: OnceLock<Arc<LiveCalls>> = OnceLock::new();
        NODE.get_or_init(|| Arc::new(LiveCalls::default()))
    }

    /// Registers a call that started; `greeting` (when not empty) is its first turn.
    pub fn register(self: &Arc<Self>, info: LiveCallInfo, greeting: &str) -> LiveEntry {
        let at_ms = info.started_at_ms;
        let mut calls = self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut id = info.call_id.clone();
        let mut n = 1;
        while calls.get(&id).is_some_and(|c| c.strong_count() > 0) {
            n += 1;
            id = format!("{}~{n}", info.call_id);
        }
        let call = Arc::new(LiveCall {
            id: id.clone(),
            info,
            transcript: Mutex::new(Transcript::default()),
            hang_up: AtomicBool::new(false),
            changes: tokio::sync::watch::Sender::new(LiveVersion { turns: 0, ended: false }),
        });
        calls.insert(id, Arc::downgrade(&call));
        drop(calls);
        call.said("agent", 0, greeting, false, at_ms);
        LiveEntry { call, registry: Arc::downgrade(self) }
    }

    /// The calls in progress, oldest first.
    pub fn list(&self) -> Vec<Arc<LiveCall>> {
        let calls = self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut list: Vec<Arc<LiveCall>> = calls.values().filter_map(Weak::upgrade).collect();
        list.sort_by(|a, b| a.info.started_at_ms.cmp(&b.info.started_at_ms).then_with(|| a.id.cmp(&b.id)));
        list
    }

    /// A call in progress by its registry id.
    pub fn get(&self, id: &str) -> Option<Arc<LiveCall>> {
        self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(id).and_then(Weak::upgrade)
    }

    /// Calls in progress.
    pub fn len(&self) -> usize {
        self.list().len()
    }

    /// Whether no call is in progress.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove(&self, id: &str) {
        let mut calls = self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Only a dead entry: a second call may have taken the id since.
        if calls.get(id).is_some_and(|c| c.strong_count() == 0) {
            calls.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(call_id: &str, at: u64) -> LiveCallInfo {
        LiveCallInfo {
            call_id: call_id.into(),
            agent: "bench".into(),
            transport: "sip".into(),
            caller: "+14155550100".into(),
            called: "bench".into(),
            outbound: false,
            started_at_ms: at,
        }
    }

    #[test]
    fn calls_register_with_their_greeting_and_leave_when_their_entry_drops() {
        let calls = Arc::new(LiveCalls::default());
        let first = calls.register(info("a", 2), "Hello!");
        let second = calls.register(info("b", 1), "");
        let ids: Vec<String> = calls.list().iter().map(|c| c.id().to_string()).collect();
        assert_eq!(ids, ["b", "a"], "oldest first");
        let greeting = first.call().transcript();
        assert_eq!(greeting.len(), 1);
        assert_eq!((greeting[0].role, greeting[0].content.as_str(), greeting[0].seq), ("agent", "Hello!", 0));
        assert!(second.call().transcript().is_empty());
        let watch = first.call().watch();
        drop(first);
        assert!(watch.borrow().ended, "a stream hears the end");
        assert!(calls.get("a").is_none());
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn a_second_call_with_the_same_id_gets_its_own_entry() {
        let calls = Arc::new(LiveCalls::default());
        let one = calls.register(info("x", 1), "");
        let two = calls.register(info("x", 2), "");
        assert_eq!(two.call().id(), "x~2");
        drop(one);
        assert!(calls.get("x").is_none());
        assert!(calls.get("x~2").is_some());
    }

    #[test]
    fn turns_are_numbered_bounded_and_streamed() {
        let calls = Arc::new(LiveCalls::default());
        let entry = calls.register(info("t", 0), "Hi");
        let call = Arc::clone(entry.call());
        let watch = call.watch();
        call.said("user", 1, "  what time is it ", false, 5);
        call.said("agent", 1, "", false, 6);
        call.said("agent", 1, "Nine.", true, 7);
        assert_eq!(watch.borrow().turns, 3);
        let since = call.transcript_since(1);
        assert_eq!(since.len(), 2);
        assert_eq!((since[0].content.as_str(), since[1].interrupted), ("what time is it", true));
        for i in 0..(MAX_LIVE_TURNS as u64 + 10) {
            call.said("user", i, "x", false, i);
        }
        let kept = call.transcript();
        assert_eq!(kept.len(), MAX_LIVE_TURNS);
        assert_eq!(kept.last().map(|t| t.seq), Some(MAX_LIVE_TURNS as u64 + 12));
    }

    #[test]
    fn a_hang_up_is_taken_once() {
        let calls = Arc::new(LiveCalls::default());
        let entry = calls.register(info("h", 0), "");
        let call = entry.call();
        assert!(!call.take_hang_up());
        assert!(call.request_hang_up());
        assert!(!call.request_hang_up(), "asked already");
        assert!(call.hang_up_requested());
        assert!(call.take_hang_up());
        assert!(!call.take_hang_up());
    }
}
