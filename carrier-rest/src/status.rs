//! What a provider's call status callback says about a call we placed: still going, or ended and how.
//!
//! Vobiz and Plivo post their `hangup_url` once, at the end (`Event=Hangup`, `CallStatus`, `HangupCause`,
//! newer accounts also `HangupCauseName`); Twilio posts its `StatusCallback` at each event asked for
//! (`CallStatus` = `initiated`, `ringing`, `in-progress`, then `completed`, `busy`, `no-answer`, `canceled` or
//! `failed`), with `AnsweredBy` when its machine detection ran. Plivo's machine detection reports
//! `Machine=true|false`. Field names are read in every spelling the providers use; a cause the provider names
//! is kept as it wrote it (it goes into the attempt's `failed(...)` reason).

/// How a placed call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndKind {
    /// It was answered, and has ended since.
    Completed,
    /// The callee was busy (or rejected the call as busy).
    Busy,
    /// Nobody answered before the ring timeout.
    NoAnswer,
    /// The call was cancelled before it was answered (through the API, or by the originator).
    Canceled,
    /// The call could not be connected (bad number, network, refused); the cause says why.
    Failed,
}

/// Who answered, when the provider's machine detection says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnsweredBy {
    /// A person.
    Human,
    /// An answering machine, voicemail or fax.
    Machine,
}

/// The end of a call as its provider reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEnd {
    /// How it ended.
    pub kind: EndKind,
    /// The provider's own words for it (`USER_BUSY`, `no-answer`, `SIP 404`…), for the attempt's reason.
    pub cause: String,
    /// The provider's machine detection, if it ran and decided.
    pub answered_by: Option<AnsweredBy>,
    /// Seconds the call was up, when reported.
    pub duration_secs: Option<u64>,
}

/// Where a call stands by one callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallProgress {
    /// Not ended yet (queued, initiated, ringing, answered, in progress); the provider's status word, and who
    /// answered when machine detection already decided.
    Going {
        /// The status as sent (lowercase).
        status: String,
        /// Machine detection's answer, if any yet.
        answered_by: Option<AnsweredBy>,
    },
    /// The call is over.
    Ended(CallEnd),
}

/// Statuses that mean the call is still going.
const GOING: [&str; 8] =
    ["queued", "initiated", "ringing", "ring", "in-progress", "answered", "early-media", "started"];

/// Reads one status callback; `field(name)` gives a form field's value.
pub fn read_callback<'a>(field: impl Fn(&str) -> Option<&'a str>) -> CallProgress {
    let first = |names: &[&str]| names.iter().find_map(|n| field(n)).map(str::trim).filter(|v| !v.is_empty());
    let status = first(&["CallStatus", "Status", "call_status"]).unwrap_or("").to_ascii_lowercase();
    let cause = first(&["HangupCause", "HangupCauseName"]).unwrap_or("").to_string();
    let event = first(&["Event"]).unwrap_or("").to_ascii_lowercase();
    let answered_by = match first(&["AnsweredBy", "Machine"]).map(str::to_ascii_lowercase).as_deref() {
        Some("human" | "false") => Some(AnsweredBy::Human),
        Some(m) if m == "true" || m == "fax" || m.starts_with("machine") => Some(AnsweredBy::Machine),
        _ => None,
    };
    let ended = event == "hangup" || !cause.is_empty();
    if GOING.contains(&status.as_str()) && !ended {
        return CallProgress::Going { status, answered_by };
    }
    if status.is_empty() && !ended {
        return CallProgress::Going { status: event, answered_by };
    }
    let upper = cause.to_ascii_uppercase().replace([' ', '-'], "_");
    // The cause is the more precise of the two where it names a busy line or no answer: Plivo posts
    // `CallStatus=completed` beside some of them.
    let kind = match (upper.as_str(), status.as_str()) {
        ("USER_BUSY" | "BUSY_LINE" | "BUSY", _) | (_, "busy") => EndKind::Busy,
        ("NO_ANSWER" | "NO_USER_RESPONSE" | "RING_TIMEOUT", _) | (_, "no-answer" | "no_answer" | "timeout") => {
            EndKind::NoAnswer
        }
        ("ORIGINATOR_CANCEL" | "CANCELLED" | "CANCELED", _) | (_, "canceled" | "cancelled" | "cancel") => {
            EndKind::Canceled
        }
        (_, "failed") => EndKind::Failed,
        ("NORMAL_CLEARING" | "NORMAL_HANGUP" | "END_OF_XML_INSTRUCTIONS", _) | ("", "completed" | "") => {
            EndKind::Completed
        }
        _ => EndKind::Failed,
    };
    let reason = match (kind, first(&["SipResponseCode"])) {
        (EndKind::Failed, Some(code)) if cause.is_empty() => format!("SIP {code}"),
        _ if !cause.is_empty() => cause,
        _ => status,
    };
    let duration_secs = first(&["CallDuration", "Duration", "BillDuration"]).and_then(|d| d.parse().ok());
    CallProgress::Ended(CallEnd { kind, cause: reason, answered_by, duration_secs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> CallProgress {
        read_callback(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
    }

    fn ended(pairs: &[(&str, &str)]) -> CallEnd {
        match read(pairs) {
            CallProgress::Ended(end) => end,
            going => panic!("{pairs:?} read as {going:?}"),
        }
    }

    #[test]
    fn twilio_statuses_map_to_their_ends() {
        assert!(matches!(read(&[("CallStatus", "ringing")]), CallProgress::Going { .. }));
        let answered = read(&[("CallStatus", "in-progress"), ("AnsweredBy", "machine_end_beep")]);
        assert_eq!(
            answered,
            CallProgress::Going { status: "in-progress".into(), answered_by: Some(AnsweredBy::Machine) }
        );
        let end = ended(&[("CallStatus", "completed"), ("CallDuration", "42"), ("AnsweredBy", "human")]);
        assert_eq!(
            end,
            CallEnd {
                kind: EndKind::Completed,
                cause: "completed".into(),
                answered_by: Some(AnsweredBy::Human),
                duration_secs: Some(42)
            }
        );
        assert_eq!(ended(&[("CallStatus", "busy")]).kind, EndKind::Busy);
        assert_eq!(ended(&[("CallStatus", "no-answer")]).kind, EndKind::NoAnswer);
        assert_eq!(ended(&[("CallStatus", "canceled")]).kind, EndKind::Canceled);
        let failed = ended(&[("CallStatus", "failed"), ("SipResponseCode", "404")]);
        assert_eq!((failed.kind, failed.cause.as_str()), (EndKind::Failed, "SIP 404"));
        assert_eq!(ended(&[("CallStatus", "completed"), ("AnsweredBy", "fax")]).answered_by, Some(AnsweredBy::Machine));
    }

    #[test]
    fn plivo_and_vobiz_hangups_map_by_their_cause() {
        let busy = ended(&[("Event", "Hangup"), ("CallStatus", "completed"), ("HangupCause", "USER_BUSY")]);
        assert_eq!((busy.kind, busy.cause.as_str()), (EndKind::Busy, "USER_BUSY"));
        assert_eq!(ended(&[("Event", "Hangup"), ("HangupCause", "NO_ANSWER")]).kind, EndKind::NoAnswer);
        assert_eq!(ended(&[("CallStatus", "timeout")]).kind, EndKind::NoAnswer);
        assert_eq!(ended(&[("HangupCauseName", "Busy Line")]).kind, EndKind::Busy);
        assert_eq!(ended(&[("HangupCause", "ORIGINATOR_CANCEL")]).kind, EndKind::Canceled);
        let normal = ended(&[("Event", "Hangup"), ("HangupCause", "NORMAL_CLEARING"), ("Duration", "7")]);
        assert_eq!((normal.kind, normal.duration_secs), (EndKind::Completed, Some(7)));
        let rejected = ended(&[("Event", "Hangup"), ("CallStatus", "failed"), ("HangupCause", "CALL_REJECTED")]);
        assert_eq!((rejected.kind, rejected.cause.as_str()), (EndKind::Failed, "CALL_REJECTED"));
        assert_eq!(ended(&[("HangupCause", "UNALLOCATED_NUMBER")]).kind, EndKind::Failed);
        assert_eq!(ended(&[("Event", "Hangup"), ("Machine", "true")]).answered_by, Some(AnsweredBy::Machine));
        // The answer request and ring events are no end.
        assert!(matches!(read(&[("Event", "StartApp"), ("CallStatus", "in-progress")]), CallProgress::Going { .. }));
        assert!(matches!(read(&[("Event", "Ring")]), CallProgress::Going { .. }));
    }
}
