//! The events endpoints subscribe to, and the JSON envelope every delivery carries:
//! `{"id": "evt_…", "type": "call.ended", "created_at": "<UTC>", "org_id": "…", "data": {…}}`.
//!
//! A subscription is an event name, a family wildcard (`call.*`, `campaign.*`) or `*` (every event).

use serde_json::{json, Value};

/// A call was answered by an agent (its journal opened).
pub const CALL_STARTED: &str = "call.started";
/// A call ended: the transcript, per-turn latency and a signed recording link when there is a recording.
pub const CALL_ENDED: &str = "call.ended";
/// The agent transferred the call (sent before the transferred call's `call.ended`).
pub const CALL_TRANSFER: &str = "call.transfer";
/// A campaign started dialling.
pub const CAMPAIGN_STARTED: &str = "campaign.started";
/// A campaign was paused.
pub const CAMPAIGN_PAUSED: &str = "campaign.paused";
/// A paused campaign resumed.
pub const CAMPAIGN_RESUMED: &str = "campaign.resumed";
/// A campaign dialled every contact.
pub const CAMPAIGN_COMPLETED: &str = "campaign.completed";
/// A campaign was stopped before its end.
pub const CAMPAIGN_CANCELLED: &str = "campaign.cancelled";
/// One of a campaign's contacts reached a final outcome (answered, busy, failed, ...).
pub const CAMPAIGN_CONTACT_FINISHED: &str = "campaign.contact_finished";
/// Sent by `POST /webhooks/{id}/test` to that endpoint only, whatever it subscribes to.
pub const WEBHOOK_TEST: &str = "webhook.test";

/// Every event an endpoint may subscribe to by name.
pub const EVENTS: [&str; 9] = [
    CALL_STARTED,
    CALL_ENDED,
    CALL_TRANSFER,
    CAMPAIGN_STARTED,
    CAMPAIGN_PAUSED,
    CAMPAIGN_RESUMED,
    CAMPAIGN_COMPLETED,
    CAMPAIGN_CANCELLED,
    CAMPAIGN_CONTACT_FINISHED,
];

/// Whether `subscription` is something an endpoint may subscribe to: a known event, `<family>.*` of a known
/// family, or `*`.
pub fn is_valid_subscription(subscription: &str) -> bool {
    if subscription == "*" || EVENTS.contains(&subscription) {
        return true;
    }
    match subscription.strip_suffix(".*") {
        Some(family) => EVENTS.iter().any(|e| e.split('.').next() == Some(family)),
        None => false,
    }
}

/// Whether an endpoint subscribed to `subscriptions` receives `event`.
pub fn subscribed(subscriptions: &[String], event: &str) -> bool {
    subscriptions.iter().any(|s| {
        s == "*"
            || s == event
            || s.strip_suffix(".*").is_some_and(|family| event.strip_prefix(family).is_some_and(|r| r.starts_with('.')))
    })
}

/// The body of a delivery: the event's id, type, time, org and data.
pub fn envelope(event_id: &str, event: &str, created_at: &str, org_id: &str, data: Value) -> Value {
    json!({"id": event_id, "type": event, "created_at": created_at, "org_id": org_id, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_match_names_families_and_everything() {
        let subs = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(subscribed(&subs(&["call.ended"]), CALL_ENDED));
        assert!(!subscribed(&subs(&["call.ended"]), CALL_STARTED));
        assert!(subscribed(&subs(&["campaign.*"]), CAMPAIGN_COMPLETED));
        assert!(!subscribed(&subs(&["campaign.*"]), CALL_ENDED));
        assert!(!subscribed(&subs(&["call.*"]), "callx.ended"), "a family is a whole dotted prefix");
        assert!(subscribed(&subs(&["*"]), CAMPAIGN_CONTACT_FINISHED));
        assert!(!subscribed(&[], CALL_ENDED));
        for valid in ["call.started", "campaign.*", "call.*", "*", "campaign.contact_finished"] {
            assert!(is_valid_subscription(valid), "{valid}");
        }
        for invalid in ["call.answered", "billing.*", "", "call", "webhook.test"] {
            assert!(!is_valid_subscription(invalid), "{invalid}");
        }
    }
}
