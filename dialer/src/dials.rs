//! The dial registry: campaign calls placed through a provider's REST API, in the store every node shares.
//!
//! A provider calls back on the URLs we gave it: the answer webhook, the media stream and the status callbacks
//! name the call by its dial id (`?dial=`: the contact's store id, the attempt and 128 random bits,
//! [`dial_key`]). Behind a load balancer they may reach any node,
//! not the one that placed the call. So each call is one store document (`campaign_dials`, id = dial id) that
//! says what any node needs to serve it: the campaign, contact, org, agent (the only one the call may open a
//! stream to), provider and placing account, the contact's variables and answering-machine detection, and the
//! placing node's lease. The node that hears something of the call appends it as a [`DialNote`] (a
//! compare-and-set on [`DialDocument::version`]); the placing node reads the notes in order and follows the
//! call to its end exactly as if it had heard them itself, holding the contact's lease and the campaign's
//! live-call slot until then.
//!
//! The placing node renews the dial's lease while it follows the call. A lapsed lease (the node died) makes
//! the call unknown to every node: its contact is settled `failed(node lost)` as any call of a dead node. The
//! node that settles it first marks the dial settled ([`DialDocument::settled`]) and hangs the provider's call
//! up through the REST API (by the call id of the [`DialNote::StreamStarted`] note); the node serving the
//! call's stream watches the dial and hangs up too when it lapsed or was settled, and writes a heartbeat
//! ([`Heartbeat`]) the placing node watches in turn (see [`crate::dial_watch`]).
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

/// The key prefix of the dials placed for attempt `attempt` of contact `contact` (a contact's store id,
/// `"{batch_id}:{row}"`): `"{contact}:{attempt}:"`. A node settling a lost attempt lists exactly that
/// attempt's dials by it, never another attempt's (a retry another node placed meanwhile) nor the org's others.
pub fn attempt_prefix(contact: &str, attempt: u32) -> String {
    format!("{contact}:{attempt}:")
}

/// The key of a dial placed for attempt `attempt` of `contact`: its [`attempt_prefix`] and 128 random bits
/// (the part nobody can guess: the id rides in the provider's callback URLs).
pub fn dial_key(contact: &str, attempt: u32, random: u128) -> String {
    format!("{}{random:032x}", attempt_prefix(contact, attempt))
}

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
    /// A special information tone was heard on the stream, after the provider's answer: the network's
    /// announcement answered, not the callee (the attempt is `failed(announcement)`, as on SIP).
    SpecialInformationTone,
}

/// The serving node's sign of life on a dialled call: rewritten every third of the lease while the call's
/// stream runs, so that the placing node can tell a call still served from one whose serving node died or
/// could no longer write (its end notes then never come).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The node running the stream.
    pub node: String,
    /// The provider's call id (the stream's `callId`/`callSid`).
    pub call_id: String,
    /// Beats so far. Readers look for a change of this counter on their own clock, never compare `at` with
    /// it: two nodes' clocks may disagree.
    pub beats: u64,
    /// When the last beat was written, on the serving node's clock (for the operator).
    pub at: UnixMillis,
}

/// A note as recorded: numbered in the order the dial's nodes recorded them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedNote {
    /// The note's number, from the document's counter: strictly increasing, never reused (the placing node
    /// reads what is numbered after the last it read, whatever was dropped or kept apart meanwhile).
    pub seq: u64,
    /// What was heard.
    pub note: DialNote,
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
    /// What nodes heard of the call on its way, oldest first (at most [`MAX_NOTES`]; later progress is
    /// dropped). The call's end is kept apart, in `final_status` and `stream_ended`, so it is never crowded out.
    pub notes: Vec<RecordedNote>,
    /// The call's first final status callback (completed, busy, failed, ...).
    #[serde(default)]
    pub final_status: Option<RecordedNote>,
    /// The first end of its stream.
    #[serde(default)]
    pub stream_ended: Option<RecordedNote>,
    /// The number the next note gets.
    #[serde(default)]
    pub next_seq: u64,
    /// The lease's length (ms), renewed every third of it: the pace the serving node expects renewals at, so
    /// that nodes configured with another `lease_ms` still judge this dial by its own (0 in older documents:
    /// the reader's own setting then).
    #[serde(default)]
    pub lease_ms: i64,
    /// The provider's id of the call from its reply to the placing request, once the placing node recorded it:
    /// a node settling the dial can hang the call up by it even before (or without) a stream.
    #[serde(default)]
    pub placed_call_id: Option<String>,
    /// The serving node's heartbeat, once its stream started (older documents have none).
    #[serde(default)]
    pub served: Option<Heartbeat>,
    /// The node that settled the dial after its placing node was lost: nobody follows the call any more, and
    /// the node serving it must hang it up.
    #[serde(default)]
    pub settled_by: Option<String>,
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
        let expires_at = now.saturating_add(ttl_ms);
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
            final_status: None,
            stream_ended: None,
            next_seq: 1,
            lease_ms: ttl_ms,
            placed_call_id: None,
            served: None,
            settled_by: None,
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

    /// Whether the placing node still follows the call at `now`: its lease has not lapsed, and no other node
    /// settled the dial.
    pub fn followed(&self, now: UnixMillis) -> bool {
        self.settled_by.is_none() && self.lease.expires_at > now
    }

    /// [`followed`](Self::followed) as another node (serving the call's webhooks and stream) judges it at
    /// `now` on its own clock: the placing node's expiry given [`MAX_CLOCK_SKEW_MS`](crate::dial_watch::MAX_CLOCK_SKEW_MS)
    /// of room, so a clock running ahead does not refuse a live call's notes. A settled dial is never followed.
    pub fn followed_from_afar(&self, now: UnixMillis) -> bool {
        self.followed(now.saturating_sub(crate::dial_watch::MAX_CLOCK_SKEW_MS))
    }

    /// Whether `reclaimer`, settling at `now` an attempt whose contact lease `lost_node` held (None: a contact
    /// left dialling without a lease), may settle this dial and hang its call up: only a dial that node
    /// placed, and only once its own lease lapsed by more than two clocks may disagree
    /// ([`MAX_CLOCK_SKEW_MS`](crate::dial_watch::MAX_CLOCK_SKEW_MS)), unless it is the reclaimer's own from
    /// before a restart. A dial still leased is some node's live call: it is left alone.
    pub fn reclaimable_by(&self, reclaimer: &str, lost_node: Option<&str>, now: UnixMillis) -> bool {
        if lost_node.is_some_and(|lost| lost != self.lease.node) {
            return false;
        }
        let lapsed = self.lease.expires_at.saturating_add(crate::dial_watch::MAX_CLOCK_SKEW_MS) <= now;
        lapsed || self.lease.node == reclaimer || self.settled_by.is_some()
    }

    /// The serving node `node` beats at `now` (its own clock) for the provider's call `call_id`. Refused once
    /// another node settled the dial (the serving node then hangs up instead); a lapsed lease is the watch's to
    /// judge ([`crate::dial_watch::ServingWatch`], with its own clock and skew margin), not the beat's.
    pub fn with_heartbeat(&self, node: &str, call_id: &str, now: UnixMillis) -> Result<DialDocument, DialerError> {
        if self.settled_by.is_some() {
            return Err(DialerError::LeaseLost { node: self.lease.node.clone() });
        }
        let beats = match &self.served {
            Some(beat) => bumped(beat.beats, "heartbeat")?,
            None => 1,
        };
        let mut next = self.clone();
        next.served = Some(Heartbeat { node: node.to_string(), call_id: call_id.to_string(), beats, at: now });
        next.version = bumped(self.version, "version")?;
        Ok(next)
    }

    /// The dial settled by `node` at `now`, its placing node lost: its lease ends now (if not before), and no
    /// node records, renews or serves it any more. None when it was settled already.
    pub fn settled(&self, node: &str, now: UnixMillis) -> Result<Option<DialDocument>, DialerError> {
        if self.settled_by.is_some() {
            return Ok(None);
        }
        let mut next = self.clone();
        next.settled_by = Some(node.to_string());
        next.lease.expires_at = self.lease.expires_at.min(now);
        next.version = bumped(self.version, "version")?;
        Ok(Some(next))
    }

    /// The document with the provider's id of the call from its reply to the request, as the placing node
    /// `node` records it while it follows the call.
    pub fn with_placed_call_id(&self, node: &str, call_id: &str, now: UnixMillis) -> Result<DialDocument, DialerError> {
        if self.lease.node != node || !self.followed(now) {
            return Err(DialerError::LeaseLost { node: node.to_string() });
        }
        let mut next = self.clone();
        next.placed_call_id = Some(call_id.to_string());
        next.version = bumped(self.version, "version")?;
        Ok(next)
    }

    /// The provider's id of the call: from the stream's start note, else the serving node's heartbeat, else
    /// the provider's reply to the request (a call that never streamed). What a node hangs it up by through
    /// the REST API.
    pub fn provider_call_id(&self) -> Option<&str> {
        let noted = self.notes.iter().find_map(|n| match &n.note {
            DialNote::StreamStarted { call_id, .. } => Some(call_id.as_str()),
            _ => None,
        });
        noted.or_else(|| self.served.as_ref().map(|beat| beat.call_id.as_str())).or(self.placed_call_id.as_deref())
    }

    /// The document with `note` added, as a node that heard it at `now` writes it. Refused once the placing
    /// node's lease lapsed (nobody follows the call any more). A final status or a stream's end (what the
    /// placing node waits for) is kept apart, the first of each; other notes past [`MAX_NOTES`] are dropped.
    /// The document is returned unchanged (same version) when the note is dropped.
    pub fn with_note(&self, note: DialNote, now: UnixMillis) -> Result<DialDocument, DialerError> {
        if !self.followed_from_afar(now) {
            return Err(DialerError::LeaseLost { node: self.lease.node.clone() });
        }
        let mut next = self.clone();
        let recorded = RecordedNote { seq: next.next_seq, note };
        let slot = match &recorded.note {
            DialNote::StreamEnded { .. } => Some(&mut next.stream_ended),
            DialNote::Status { fields, .. } if is_final(fields) => Some(&mut next.final_status),
            _ => None,
        };
        match slot {
            Some(slot) if slot.is_some() => return Ok(self.clone()),
            Some(slot) => *slot = Some(recorded),
            None if next.notes.len() >= MAX_NOTES => return Ok(self.clone()),
            None => next.notes.push(recorded),
        }
        next.next_seq = bumped(self.next_seq, "note counter")?;
        next.version = bumped(self.version, "version")?;
        Ok(next)
    }

    /// `node`, still following the call, extends its lease to `now + ttl_ms`.
    pub fn renew(&self, node: &str, now: UnixMillis, ttl_ms: i64) -> Result<DialDocument, DialerError> {
        if self.lease.node != node || !self.followed(now) {
            return Err(DialerError::LeaseLost { node: node.to_string() });
        }
        let mut next = self.clone();
        next.lease.expires_at = now.saturating_add(ttl_ms);
        next.expires_at = sweep_at(next.lease.expires_at);
        next.version = bumped(self.version, "version")?;
        Ok(next)
    }

    /// The notes numbered after `last_seq` (the last the placing node read), in the order they were recorded,
    /// the call's end included.
    pub fn unread(&self, last_seq: u64) -> Vec<&RecordedNote> {
        let ends = self.final_status.iter().chain(self.stream_ended.iter());
        let mut unread: Vec<&RecordedNote> = self.notes.iter().chain(ends).filter(|n| n.seq > last_seq).collect();
        unread.sort_by_key(|n| n.seq);
        unread
    }
}

/// Whether a status callback's fields say the call is over.
fn is_final(fields: &[(String, String)]) -> bool {
    let progress =
        voicera_carrier_rest::read_callback(|name| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()));
    matches!(progress, voicera_carrier_rest::CallProgress::Ended(_))
}

/// A stored counter plus one; a counter at its limit is a corrupt document, not a wrap to an old value.
fn bumped(counter: u64, what: &str) -> Result<u64, DialerError> {
    counter.checked_add(1).ok_or_else(|| DialerError::Document(format!("dial {what} at its limit")))
}

/// The sweep time (Unix seconds) of a lease lapsing at `lease_expires_at` (Unix milliseconds).
fn sweep_at(lease_expires_at: UnixMillis) -> i64 {
    lease_expires_at.div_euclid(1000).saturating_add(SWEEP_AFTER_SECS)
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

    fn notes(unread: Vec<&RecordedNote>) -> Vec<(u64, DialNote)> {
        unread.into_iter().map(|n| (n.seq, n.note.clone())).collect()
    }

    #[test]
    fn notes_from_any_node_reach_the_placing_node_in_order_while_it_follows_the_call() {
        let doc = dial();
        assert_eq!((doc.version, doc.expires_at), (1, 10 + SWEEP_AFTER_SECS));
        let started = DialNote::StreamStarted { call_id: "CA1".into(), node: "node-b".into() };
        let doc = doc.with_note(started.clone(), 2_000).unwrap();
        let doc = doc.with_note(status("in-progress"), 2_100).unwrap();
        assert_eq!(doc.version, 3);
        assert_eq!(notes(doc.unread(0)), [(1, started), (2, status("in-progress"))]);
        assert_eq!(notes(doc.unread(1)), [(2, status("in-progress"))]);
        assert!(doc.unread(2).is_empty() && doc.unread(7).is_empty());
        // The placing node renews; another node cannot.
        let renewed = doc.renew("node-a", 8_000, TTL).unwrap();
        assert_eq!((renewed.lease.expires_at, renewed.expires_at), (17_000, 17 + SWEEP_AFTER_SECS));
        assert!(doc.renew("node-b", 8_000, TTL).is_err());
        // A lapsed lease: the call is no longer followed; nothing more is recorded and it cannot be renewed.
        assert!(!renewed.followed(17_000) && renewed.followed(16_999));
        // Another node records notes with room for its clock to run ahead, not past it.
        let skew = crate::dial_watch::MAX_CLOCK_SKEW_MS;
        assert!(renewed.followed_from_afar(17_000 + skew - 1) && !renewed.followed_from_afar(17_000 + skew));
        assert!(renewed.with_note(status("completed"), 17_000 + skew - 1).is_ok());
        assert!(renewed.with_note(status("completed"), 17_000 + skew).is_err());
        // A serving node beats whatever its clock says of the lease (its watch judges the lapse).
        assert!(renewed.with_heartbeat("node-b", "CA1", 17_000 + skew).is_ok());
        assert!(renewed.renew("node-a", 17_000, TTL).is_err());
    }

    #[test]
    fn a_chatty_provider_cannot_grow_a_dial_past_its_notes_limit_nor_crowd_out_its_end() {
        let mut doc = dial();
        let mut last_seq = 0;
        let mut read = Vec::new();
        for _ in 0..40 {
            doc = doc.with_note(status("ringing"), 2_000).unwrap();
            // The placing node reads as it goes, remembering the last number it read.
            for note in doc.unread(last_seq) {
                last_seq = note.seq;
                read.push(note.note.clone());
            }
        }
        assert_eq!(doc.notes.len(), MAX_NOTES);
        assert_eq!(read.len(), MAX_NOTES, "progress past the limit is dropped");
        let verdict = DialNote::AmdDecided { verdict: "human".into(), decided_after_ms: 900, step: "agent".into() };
        assert_eq!(doc.with_note(verdict, 2_000).unwrap(), doc, "dropped when full");
        // The final status and the stream's end still reach a reader that read everything before them.
        let doc = doc.with_note(status("completed"), 2_100).unwrap();
        let doc = doc.with_note(DialNote::StreamEnded { node: "node-b".into() }, 2_200).unwrap();
        assert_eq!(
            notes(doc.unread(last_seq)),
            [
                (MAX_NOTES as u64 + 1, status("completed")),
                (MAX_NOTES as u64 + 2, DialNote::StreamEnded { node: "node-b".into() }),
            ]
        );
        // Only the first of each end is kept.
        assert_eq!(doc.with_note(status("busy"), 2_300).unwrap(), doc);
        assert_eq!(doc.notes.len(), MAX_NOTES);
    }

    #[test]
    fn a_counter_at_its_limit_is_a_corrupt_document_not_a_wrap() {
        let mut doc = dial();
        doc.version = u64::MAX;
        assert!(matches!(doc.with_note(status("ringing"), 2_000), Err(DialerError::Document(_))));
        assert!(matches!(doc.renew("node-a", 2_000, TTL), Err(DialerError::Document(_))));
        let mut doc = dial();
        doc.next_seq = u64::MAX;
        assert!(matches!(doc.with_note(status("completed"), 2_000), Err(DialerError::Document(_))));
        assert_eq!(dial().renew("node-a", 2_000, i64::MAX).unwrap().lease.expires_at, i64::MAX);
    }

    #[test]
    fn a_settled_dial_is_followed_by_nobody_and_names_the_call_to_hang_up() {
        let doc = dial();
        assert_eq!(doc.provider_call_id(), None, "not placed yet: nothing to hang up by id");
        assert!(doc.with_placed_call_id("node-b", "CA7", 1_500).is_err(), "only the placing node records it");
        let placed = doc.with_placed_call_id("node-a", "CA7", 1_500).unwrap();
        assert_eq!((placed.provider_call_id(), placed.version), (Some("CA7"), doc.version + 1));
        let doc = placed;
        let started = DialNote::StreamStarted { call_id: "CA7".into(), node: "node-b".into() };
        let doc = doc.with_note(started, 2_000).unwrap();
        assert_eq!(doc.provider_call_id(), Some("CA7"));
        let beat = doc.with_heartbeat("node-b", "CA7", 2_100).unwrap();
        let beat = beat.with_heartbeat("node-b", "CA7", 5_100).unwrap();
        assert_eq!(beat.served.as_ref().map(|b| (b.beats, b.at)), Some((2, 5_100)));
        assert_eq!(beat.version, doc.version + 2);
        // Another node settles it while the lease would still run: nobody follows, renews or serves it now.
        let settled = beat.settled("node-c", 6_000).unwrap().unwrap();
        assert_eq!((settled.settled_by.as_deref(), settled.lease.expires_at), (Some("node-c"), 6_000));
        assert!(!settled.followed(5_000), "settled, whatever the clock");
        assert!(settled.with_heartbeat("node-b", "CA7", 6_001).is_err());
        assert!(settled.with_heartbeat("node-b", "CA7", 1_000).is_err(), "settled, whatever the clock");
        assert!(!settled.followed_from_afar(1_000));
        assert!(settled.with_note(status("completed"), 6_001).is_err());
        assert!(settled.renew("node-a", 6_001, TTL).is_err());
        assert_eq!(settled.settled("node-d", 7_000), Ok(None), "settled once");
        // A lapsed lease is not moved later by settling.
        let lapsed = beat.settled("node-c", 20_000).unwrap().unwrap();
        assert_eq!(lapsed.lease.expires_at, beat.lease.expires_at);
        // The call id still comes from the heartbeat when the start note was crowded out.
        let mut crowded = settled.clone();
        crowded.notes.clear();
        assert_eq!(crowded.provider_call_id(), Some("CA7"));
    }

    #[test]
    fn dial_documents_round_trip() {
        let doc = dial().with_note(DialNote::AmdMessageLeft, 2_000).unwrap();
        let json = doc.to_json();
        assert_eq!(json["notes"][0]["note"]["kind"], "amd_message_left");
        assert_eq!(json["notes"][0]["seq"], 1);
        assert_eq!(DialDocument::from_json(&json).unwrap(), doc);
        assert!(DialDocument::from_json(&serde_json::json!({"agent": 1})).is_err());
    }
    #[test]
    fn a_lost_attempt_reclaims_only_its_own_dials_and_only_once_their_lease_lapsed_past_the_skew() {
        // Keys: one attempt's prefix names none of another attempt's or another contact's dials.
        let first = dial_key("b1:3", 1, 0xab);
        assert!(first.starts_with(&attempt_prefix("b1:3", 1)));
        assert_eq!(first, format!("b1:3:1:{:032x}", 0xab));
        assert!(!dial_key("b1:3", 2, 1).starts_with(&attempt_prefix("b1:3", 1)));
        assert!(!dial_key("b1:31", 1, 1).starts_with(&attempt_prefix("b1:3", 1)));
        assert!(!dial_key("b1:3", 12, 1).starts_with(&attempt_prefix("b1:3", 1)));
        // node-a placed it, leased until 10_000.
        let doc = dial();
        let expiry = doc.lease.expires_at;
        let skew = crate::dial_watch::MAX_CLOCK_SKEW_MS;
        // Another node's lease (a retry placed by node-c): never node-a's lost attempt.
        assert!(!doc.reclaimable_by("node-b", Some("node-c"), expiry + skew + 60_000));
        // node-a's, but still leased (or lapsed within the skew margin): a live call, left alone.
        assert!(!doc.reclaimable_by("node-b", Some("node-a"), expiry));
        assert!(!doc.reclaimable_by("node-b", Some("node-a"), expiry + skew - 1));
        assert!(doc.reclaimable_by("node-b", Some("node-a"), expiry + skew));
        // node-a itself after a restart: its own dial from before, whatever the lease says.
        assert!(doc.reclaimable_by("node-a", Some("node-a"), 1_000));
        // A contact left dialling without a lease: any node's lapsed dial of the attempt.
        assert!(!doc.reclaimable_by("node-b", None, expiry));
        assert!(doc.reclaimable_by("node-b", None, expiry + skew));
    }
}
