//! The dial registry: campaign calls placed through a provider's REST API, in the store every node shares.
//!
//! A provider calls back on the URLs we gave it: the answer webhook, the media stream and the status callbacks
//! name the call by its dial id (`?dial=`, 128 random bits). Behind a load balancer they may reach any node,
//! not the one that placed the call. So each call is one store document (`campaign_dials`, id = dial id) that
//! says what any node needs to serve it: the campaign, contact, org, agent (the only one the call may open a
//! stream to), provider and placing account, the contact's variables and answering-machine detection, and the
//! placing node's lease. The node that hears something of the call appends it as a [`DialNote`] (a
//! compare-and-set on [`DialDocument::version`]); the placing node reads the notes in order and follows the
//! call to its end exactly as if it had heard them itself, holding the contact's lease and the campaign's
//! live-call slot until then.
//!
//! The placing node renews the dial's lease while it follows the call. A lapsed lease (the node died) makes
//! the call unknown to every node: its contact is settled `failed(node lost)` as any call of a dead node.
//!
//! Functions here are pure; the runner and the endpoints do the reads and writes.

use serde::{Deserialize, Serialize};

use crate::lease::Lease;
use crate::{DialerError, UnixMillis};

/// Notes a dial keeps at most. A call has a handful (stream start and end, up to four status callbacks, a
/// verdict, a message left); a provider that keeps posting cannot grow the document without bound.
pub const MAX_NOTES: usize = 32;
/// How long after its lease lapsed a dial's document may be swept (seconds): long after any late callback.
pub const SWEEP_AFTER_SECS: i64 = 3600;

/// Answering-machine detection asked for on a dialled call's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialAmd {
    /// What a machine gets: `hangup`, `leave_message` or `connect`.
    pub on_machine: String,
    /// The voicemail message (its `{{variables}}` filled by the node running the stream).
    pub message: String,
}

/// Something a node heard of a dialled call, in the order it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DialNote {
    /// Its media stream started on `node`: the provider's id of the call.
    StreamStarted {
        /// The provider's call id (the stream's `callId`/`callSid`).
        call_id: String,
        /// The node running the stream.
        node: String,
    },
    /// Its media stream ended on `node`.
    StreamEnded {
        /// The node that ran the stream.
        node: String,
    },
    /// A signed status callback reached `node`: its form fields, read again by the placing node.
    Status {
        /// The callback's fields (`CallStatus`, `HangupCause`, `AnsweredBy`, ...).
        fields: Vec<(String, String)>,
        /// The node the callback reached.
        node: String,
    },
    /// Answering-machine detection's verdict on the stream.
    AmdDecided {
        /// `human`, `machine`, `machine-beep` or `undecided`.
        verdict: String,
        /// Milliseconds from the answer to the verdict.
        decided_after_ms: u64,
        /// What the call did with it (`agent`, `hangup`, `leave_message`, ...).
        step: String,
    },
    /// The voicemail message was spoken to the end.
    AmdMessageLeft,
}

/// A dialled call, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialDocument {
    /// The campaign.
    pub batch_id: String,
    /// The contact's store id.
    pub contact: String,
    /// The agent the call was placed for: its answer may open a stream to no other.
    pub agent: String,
    /// The provider placing it (`vobiz`, `plivo`, `twilio`).
    pub provider: String,
    /// The public id of the account that placed it (never its token): a node serving the call must resolve
    /// the org's account to this one, whose token signs the call's webhooks.
    pub auth_id: String,
    /// The contact's `{{contact.<column>}}` values.
    pub variables: Vec<(String, String)>,
    /// Answering-machine detection on the stream (None: the agent starts with the stream).
    pub amd: Option<DialAmd>,
    /// The placing node, and until when it follows the call unless it renews.
    pub lease: Lease,
    /// What nodes heard of the call, oldest first.
    pub notes: Vec<DialNote>,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
    /// When the document may be swept (Unix seconds), well after the lease.
    pub expires_at: i64,
}

/// What a dial needs when it is placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDial {
    /// The campaign.
    pub batch_id: String,
    /// The contact's store id.
    pub contact: String,
    /// The agent.
    pub agent: String,
    /// The provider's name.
    pub provider: String,
    /// The placing account's public id.
    pub auth_id: String,
    /// The contact's variables.
    pub variables: Vec<(String, String)>,
    /// Answering-machine detection.
    pub amd: Option<DialAmd>,
}

impl DialDocument {
    /// A call `node` is about to place at `now`, leased for `ttl_ms` (inserted before the request: the
    /// provider may call back before its reply to the request arrives).
    pub fn placed(dial: NewDial, node: &str, now: UnixMillis, ttl_ms: i64) -> DialDocument {
        let expires_at = now + ttl_ms;
        DialDocument {
            batch_id: dial.batch_id,
            contact: dial.contact,
            agent: dial.agent,
            provider: dial.provider,
            auth_id: dial.auth_id,
            variables: dial.variables,
            amd: dial.amd,
            lease: Lease { node: node.to_string(), expires_at },
            notes: Vec::new(),
            version: 1,
            expires_at: sweep_at(expires_at),
        }
    }

    /// A stored document.
    pub fn from_json(value: &serde_json::Value) -> Result<DialDocument, DialerError> {
        DialDocument::deserialize(value).map_err(|e| DialerError::Document(e.to_string()))
    }

    /// The document as JSON for the store.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Whether the placing node still follows the call at `now` (its lease has not lapsed).
    pub fn followed(&self, now: UnixMillis) -> bool {
        self.lease.expires_at > now
    }

    /// The document with `note` added, as a node that heard it at `now` writes it. Refused once the placing
    /// node's lease lapsed (nobody follows the call any more). Past [`MAX_NOTES`] the note is dropped, except
    /// a final status or a stream's end (what the placing node waits for), which replace the oldest progress.
    pub fn with_note(&self, note: DialNote, now: UnixMillis) -> Result<DialDocument, DialerError> {
        if !self.followed(now) {
            return Err(DialerError::LeaseLost { node: self.lease.node.clone() });
        }
        let mut next = self.clone();
        if next.notes.len() >= MAX_NOTES {
            let ends = matches!(note, DialNote::StreamEnded { .. } | DialNote::Status { .. });
            let oldest_progress = next.notes.iter().position(|n| matches!(n, DialNote::Status { .. }));
            match oldest_progress.filter(|_| ends) {
                Some(at) => {
                    next.notes.remove(at);
                }
                None => return Ok(self.clone()),
            }
        }
        next.notes.push(note);
        next.version += 1;
        Ok(next)
    }

    /// `node`, still following the call, extends its lease to `now + ttl_ms`.
    pub fn renew(&self, node: &str, now: UnixMillis, ttl_ms: i64) -> Result<DialDocument, DialerError> {
        if self.lease.node != node || !self.followed(now) {
            return Err(DialerError::LeaseLost { node: node.to_string() });
        }
        let mut next = self.clone();
        next.lease.expires_at = now + ttl_ms;
        next.expires_at = sweep_at(next.lease.expires_at);
        next.version += 1;
        Ok(next)
    }

    /// The notes after the first `seen`: what the placing node has not read yet. Notes are only appended
    /// (or, past [`MAX_NOTES`], an old progress report is dropped, which may skip one unread report).
    pub fn unread(&self, seen: usize) -> &[DialNote] {
        self.notes.get(seen..).unwrap_or(&[])
    }
}

/// The sweep time (Unix seconds) of a lease lapsing at `lease_expires_at` (Unix milliseconds).
fn sweep_at(lease_expires_at: UnixMillis) -> i64 {
    lease_expires_at.div_euclid(1000) + SWEEP_AFTER_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: i64 = 9_000;

    fn dial() -> DialDocument {
        let new = NewDial {
            batch_id: "b1".into(),
            contact: "b1:3".into(),
            agent: "caller".into(),
            provider: "vobiz".into(),
            auth_id: "MA_VOBIZ".into(),
            variables: vec![("name".into(), "Ben".into())],
            amd: Some(DialAmd { on_machine: "hangup".into(), message: String::new() }),
        };
        DialDocument::placed(new, "node-a", 1_000, TTL)
    }

    fn status(value: &str) -> DialNote {
        DialNote::Status { fields: vec![("CallStatus".into(), value.into())], node: "node-b".into() }
    }

    #[test]
    fn notes_from_any_node_reach_the_placing_node_in_order_while_it_follows_the_call() {
        let doc = dial();
        assert_eq!((doc.version, doc.expires_at), (1, 10 + SWEEP_AFTER_SECS));
        let started = DialNote::StreamStarted { call_id: "CA1".into(), node: "node-b".into() };
        let doc = doc.with_note(started.clone(), 2_000).unwrap();
        let doc = doc.with_note(status("in-progress"), 2_100).unwrap();
        assert_eq!(doc.version, 3);
        assert_eq!(doc.unread(0), [started, status("in-progress")]);
        assert_eq!(doc.unread(1), [status("in-progress")]);
        assert!(doc.unread(2).is_empty() && doc.unread(7).is_empty());
        // The placing node renews; another node cannot.
        let renewed = doc.renew("node-a", 8_000, TTL).unwrap();
        assert_eq!((renewed.lease.expires_at, renewed.expires_at), (17_000, 17 + SWEEP_AFTER_SECS));
        assert!(doc.renew("node-b", 8_000, TTL).is_err());
        // A lapsed lease: the call is no longer followed; nothing more is recorded and it cannot be renewed.
        assert!(!renewed.followed(17_000) && renewed.followed(16_999));
        assert!(renewed.with_note(status("completed"), 17_000).is_err());
        assert!(renewed.renew("node-a", 17_000, TTL).is_err());
    }

    #[test]
    fn a_chatty_provider_cannot_grow_a_dial_past_its_notes_limit_nor_crowd_out_its_end() {
        let mut doc = dial();
        for _ in 0..MAX_NOTES + 5 {
            doc = doc.with_note(status("ringing"), 2_000).unwrap();
        }
        assert_eq!(doc.notes.len(), MAX_NOTES);
        let verdict = DialNote::AmdDecided { verdict: "human".into(), decided_after_ms: 900, step: "agent".into() };
        assert_eq!(doc.with_note(verdict, 2_000).unwrap().notes.len(), MAX_NOTES, "dropped when full");
        let ended = doc.with_note(DialNote::StreamEnded { node: "node-b".into() }, 2_000).unwrap();
        assert_eq!(ended.notes.last(), Some(&DialNote::StreamEnded { node: "node-b".into() }));
        assert_eq!(ended.notes.len(), MAX_NOTES);
    }

    #[test]
    fn dial_documents_round_trip() {
        let doc = dial().with_note(DialNote::AmdMessageLeft, 2_000).unwrap();
        let json = doc.to_json();
        assert_eq!(json["notes"][0]["kind"], "amd_message_left");
        assert_eq!(DialDocument::from_json(&json).unwrap(), doc);
        assert!(DialDocument::from_json(&serde_json::json!({"agent": 1})).is_err());
    }
}
