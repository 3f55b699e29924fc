//! A call's record as a call-log document in the original's `CallLogs` shape (`meeting_id`, `inbound`,
//! `from_number`, `to_number`, `start_time_utc`, `end_time_utc`, `call_busy`, `duration`, `recording_url`,
//! `transcript_url`, `transcript_content`, `latency_metrics{turns, summary}`), plus ours: `record_id`,
//! `call_id`, `status`, `end_reason`, `transport`, `agent_id`, `org_id`, `node_id`. Pure functions: the
//! [`crate::sink`] calls them at a call's start and end, the orphan sweep on a restart.
//!
//! The document's id (`meeting_id`) is the record id this server made (`rec-…`), not the transport's
//! Call-ID: two calls sending one Call-ID keep a log each, and a caller cannot overwrite another's log. The
//! transport's id is `call_id`.

use serde_json::{json, Map, Value};
use voicera_conversation::recorder::{CallRecord, ProviderReport, TurnRecord};
use voicera_store::utc_text;

/// `status` of a call whose end has not been written yet.
pub const IN_PROGRESS: &str = "in-progress";
/// `status` of a call that ended (or was closed as an orphan).
pub const COMPLETED: &str = "completed";
/// `end_reason` of a call its node stopped tracking (crash, kill) and closed on its next start.
pub const NODE_RESTARTED: &str = "node_restarted";
/// Characters of the caller's words kept in `latency_metrics.turns[].user_text_preview` (the original's).
const PREVIEW_CHARS: usize = 50;

/// Where a call's log belongs and what it links to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogContext {
    /// The tenant that owns the call (the agent's org).
    pub org_id: String,
    /// The node that took the call.
    pub node_id: String,
    /// Where the recording is, when there is one.
    pub recording_url: Option<String>,
    /// Where the transcript file is, when written.
    pub transcript_url: Option<String>,
    /// The agent's name (a stored agent's `agent_type`), the log's `agent_type`; else its id.
    pub agent_name: Option<String>,
    /// The node's run (one per process start) that took the call, the log's `run_id`: the start-up sweep
    /// closes in-progress logs of earlier runs only, so a sweep that waits for the store never closes a
    /// live call. Empty: not written.
    pub run_id: String,
}

/// `YYYY-MM-DD` (UTC) of Unix seconds: the day directory of a call's objects.
pub fn day_of(unix_secs: u64) -> String {
    utc_text(unix_secs as i64 * 1000).chars().take(10).collect()
}

/// A record id as it names files and objects: letters, digits, `-` and `_` only (ours are `rec-<ms>-<hex>`).
pub fn file_stem(record_id: &str) -> String {
    record_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

/// The transcript as the original wrote it: one `[ISO ts] role: text` line per utterance, `role` being
/// `user` or `assistant`; the greeting first.
pub fn transcript(record: &CallRecord) -> String {
    let mut out = String::new();
    let mut line = |at_ms: u64, role: &str, text: &str| {
        if let Some(line) = transcript_line(at_ms, role, text) {
            out.push_str(&line);
        }
    };
    line(record.started_at * 1000, "assistant", &record.greeting);
    for turn in &record.turns {
        line(turn.user_at_ms, "user", &turn.user_text);
        line(turn.agent_at_ms.unwrap_or(turn.user_at_ms), "assistant", &turn.agent_text);
    }
    out
}

/// One line of [`transcript`], `[ISO ts] role: text\n`; `None` for blank text (nothing said).
pub fn transcript_line(at_ms: u64, role: &str, text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return None;
    }
    // One line per utterance: line breaks inside would start a new speaker's line.
    let text = text.replace(['\r', '\n'], " ");
    Some(format!("[{}] {role}: {}\n", utc_text(at_ms as i64), text.trim()))
}

/// The lines of a transcript in [`transcript`]'s form as `(at, role, text)`, `at` as written (ISO UTC);
/// lines not in that form are skipped. For a transcript read back from a file (a salvaged call's).
pub fn parse_transcript(text: &str) -> Vec<(&str, &str, &str)> {
    text.lines()
        .filter_map(|line| {
            let (at, rest) = line.strip_prefix('[')?.split_once("] ")?;
            let (role, said) = rest.split_once(": ")?;
            Some((at, role, said))
        })
        .collect()
}

/// The log of a call that has started: `status: "in-progress"`, no end.
pub fn started(record: &CallRecord, context: &LogContext) -> Value {
    let mut doc = common(record, context);
    doc.insert("status".into(), json!(IN_PROGRESS));
    doc.insert("end_time_utc".into(), Value::Null);
    doc.insert("duration".into(), Value::Null);
    doc.insert("end_reason".into(), json!(""));
    Value::Object(doc)
}

/// The log of a call that has ended: the transcript, per-turn latencies and links.
pub fn finished(record: &CallRecord, context: &LogContext) -> Value {
    let mut doc = common(record, context);
    doc.insert("status".into(), json!(COMPLETED));
    doc.insert("end_time_utc".into(), json!(utc_text(record.ended_at as i64 * 1000)));
    doc.insert("duration".into(), json!(record.ended_at.saturating_sub(record.started_at) as f64));
    doc.insert("end_reason".into(), json!(record.end_reason));
    doc.insert("transcript_content".into(), json!(transcript(record)));
    doc.insert("latency_metrics".into(), latency_metrics(&record.turns));
    doc.insert("recording_truncated".into(), json!(record.recording_truncated));
    if !record.model_fallbacks.is_empty() {
        doc.insert("model_fallbacks".into(), json!(record.model_fallbacks));
    }
    if !record.model_failures.is_empty() {
        doc.insert("model_failures".into(), json!(record.model_failures));
    }
    if let Some(amd) = &record.amd {
        doc.insert("amd".into(), json!(amd));
    }
    // The recording opens with this much early media: the answer is this far into it.
    if record.early_media_ms > 0 {
        doc.insert("early_media_ms".into(), json!(record.early_media_ms));
    }
    Value::Object(doc)
}

/// An in-progress log closed because its node restarted: it ended at an unknown time, so `end_time_utc` is
/// when it was closed and `duration` stays unknown.
pub fn closed_as_orphan(doc: &Value, now_ms: u64) -> Value {
    let mut doc = doc.clone();
    if let Some(map) = doc.as_object_mut() {
        map.insert("status".into(), json!(COMPLETED));
        map.insert("end_reason".into(), json!(NODE_RESTARTED));
        map.insert("end_time_utc".into(), json!(utc_text(now_ms as i64)));
    }
    doc
}

/// The log of a provider call that never connected (busy, no answer, failed), from the provider's
/// end-of-call report: no stream ever reached an agent, so this is the call's only trace (the original's
/// `call_busy`). Its id is `<provider>-<provider's call id>`, so the provider's retried webhooks upsert one log.
pub fn unanswered(report: &ProviderReport, context: &LogContext) -> (String, Value) {
    let id = format!("{}-{}", report.provider, report.call_id);
    let at = utc_text(report.received_at as i64 * 1000);
    let doc = json!({
        "meeting_id": id,
        "call_id": report.call_id,
        "org_id": context.org_id,
        "node_id": context.node_id,
        "transport": report.provider,
        "inbound": report.direction != "outbound",
        "from_number": report.caller,
        "to_number": report.called,
        "created_at": at,
        "start_time_utc": at,
        "end_time_utc": at,
        "call_busy": true,
        "duration": 0.0,
        "status": COMPLETED,
        "end_reason": report.cause,
    });
    (id, doc)
}

/// Whether `stored` is the orphan closing `closing` (the same `node_restarted` end at the same instant): a
/// closing delivered again after a crash finds its own write there, not another sweep's or the call's end.
pub fn is_same_closing(stored: &Value, closing: &Value) -> bool {
    let field = |doc: &Value, key: &str| doc.get(key).cloned().unwrap_or(Value::Null);
    field(stored, "end_reason") == json!(NODE_RESTARTED)
        && field(stored, "status") == json!(COMPLETED)
        && field(stored, "end_time_utc") == field(closing, "end_time_utc")
}

/// Whether a stored log is still in progress.
pub fn is_in_progress(doc: &Value) -> bool {
    doc.get("status").and_then(Value::as_str) == Some(IN_PROGRESS)
}

fn common(record: &CallRecord, context: &LogContext) -> Map<String, Value> {
    let start = utc_text(record.started_at as i64 * 1000);
    let doc = json!({
        "meeting_id": record.record_id,
        "record_id": record.record_id,
        "call_id": record.call_id,
        "agent_type": context.agent_name.as_deref().unwrap_or(&record.agent),
        "agent_id": record.agent,
        "org_id": context.org_id,
        "node_id": context.node_id,
        "transport": record.transport,
        "inbound": !record.outbound,
        "from_number": record.caller,
        "to_number": record.called,
        "created_at": start,
        "start_time_utc": start,
        "call_busy": false,
        "recording_url": context.recording_url,
        "transcript_url": context.transcript_url,
    });
    match doc {
        Value::Object(mut map) => {
            if !context.run_id.is_empty() {
                map.insert("run_id".into(), json!(context.run_id));
            }
            map
        }
        _ => Map::new(),
    }
}

/// Reads one stage's time off a turn.
type StageOf = fn(&TurnRecord) -> Option<u64>;

/// The original's `latency_metrics`: per turn `{turn_index, user_text_preview, stt_ms, llm_ttfb_ms,
/// tts_first_chunk_ms}` (plus our end-of-speech-to-audio time and barge-in flag), and a `summary` of counts,
/// averages and maxima. `null` without turns, as the original wrote none.
fn latency_metrics(turns: &[TurnRecord]) -> Value {
    if turns.is_empty() {
        return Value::Null;
    }
    let per_turn: Vec<Value> = turns
        .iter()
        .map(|t| {
            json!({
                "turn_index": t.turn,
                "user_text_preview": t.user_text.chars().take(PREVIEW_CHARS).collect::<String>(),
                "stt_ms": t.stt_ms,
                "llm_ttfb_ms": t.llm_first_token_ms,
                "tts_first_chunk_ms": t.tts_first_audio_ms,
                "end_to_end_ms": t.end_of_speech_to_audio_ms,
                "interrupted": t.interrupted,
            })
        })
        .collect();
    let mut summary = Map::new();
    summary.insert("turn_count".into(), json!(turns.len()));
    let stages: [(&str, StageOf); 4] = [
        ("stt_ms", |t| t.stt_ms),
        ("llm_ttfb_ms", |t| t.llm_first_token_ms),
        ("tts_first_chunk_ms", |t| t.tts_first_audio_ms),
        ("end_to_end_ms", |t| t.end_of_speech_to_audio_ms),
    ];
    for (name, of) in stages {
        let values: Vec<u64> = turns.iter().filter_map(of).collect();
        let avg = (!values.is_empty()).then(|| values.iter().sum::<u64>() as f64 / values.len() as f64);
        summary.insert(format!("avg_{name}"), json!(avg));
        summary.insert(format!("max_{name}"), json!(values.iter().max()));
    }
    json!({"turns": per_turn, "summary": summary})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> CallRecord {
        CallRecord {
            call_id: "abc@host".into(),
            caller: "+911".into(),
            called: "bench".into(),
            started_at: 1_732_000_000,
            ended_at: 1_732_000_042,
            end_reason: "Stopped".into(),
            greeting: "Hello!".into(),
            turns: vec![TurnRecord {
                turn: 1,
                user_text: "what time is it\nnow".into(),
                agent_text: "Noon.".into(),
                interrupted: false,
                end_of_speech_to_audio_ms: Some(400),
                stt_ms: Some(100),
                llm_first_token_ms: Some(200),
                tts_first_audio_ms: None,
                barge_ins: vec![],
                user_at_ms: 1_732_000_010_500,
                agent_at_ms: Some(1_732_000_011_000),
            }],
            ..CallRecord::example()
        }
    }

    #[test]
    fn a_finished_call_has_the_originals_fields() {
        let context = LogContext {
            org_id: "org1".into(),
            node_id: "node-a".into(),
            recording_url: Some("calls/2024-11-19/rec-1.wav".into()),
            transcript_url: Some("calls/2024-11-19/rec-1.txt".into()),
            agent_name: None,
            run_id: "run-1".into(),
        };
        let doc = finished(&record(), &context);
        assert_eq!(doc["run_id"], "run-1", "the run that took the call");
        assert_eq!(doc["agent_type"], doc["agent_id"], "a configured agent's name is its id");
        let named = LogContext { agent_name: Some("Sales Agent".into()), ..context.clone() };
        assert_eq!(finished(&record(), &named)["agent_type"], "Sales Agent", "a stored agent's name");
        assert_eq!(finished(&record(), &named)["agent_id"], record().agent);
        assert_eq!(doc["meeting_id"], "rec-1");
        assert_eq!(doc["call_id"], "abc@host");
        assert_eq!(doc["status"], COMPLETED);
        assert_eq!(doc["start_time_utc"], "2024-11-19T07:06:40.000Z");
        assert_eq!(doc["end_time_utc"], "2024-11-19T07:07:22.000Z");
        assert_eq!(doc["duration"], 42.0);
        assert_eq!(doc["from_number"], "+911");
        assert_eq!(doc["node_id"], "node-a");
        assert_eq!(doc["recording_url"], "calls/2024-11-19/rec-1.wav");
        assert_eq!(
            doc["transcript_content"],
            "[2024-11-19T07:06:40.000Z] assistant: Hello!\n[2024-11-19T07:06:50.500Z] user: what time is it now\n\
             [2024-11-19T07:06:51.000Z] assistant: Noon.\n"
        );
        let metrics = &doc["latency_metrics"];
        assert_eq!(metrics["turns"][0]["turn_index"], 1);
        assert_eq!(metrics["turns"][0]["llm_ttfb_ms"], 200);
        assert_eq!(metrics["summary"]["turn_count"], 1);
        assert_eq!(metrics["summary"]["avg_stt_ms"], 100.0);
        assert_eq!(metrics["summary"]["max_tts_first_chunk_ms"], Value::Null);
        assert_eq!(doc["inbound"], true);
        let placed = CallRecord { outbound: true, ..record() };
        assert_eq!(finished(&placed, &context)["inbound"], false, "a call the agent placed is not inbound");
    }

    #[test]
    fn an_unanswered_provider_call_is_a_busy_log() {
        let report = ProviderReport {
            provider: "plivo",
            call_id: "uuid-1".into(),
            caller: "+911".into(),
            called: "+800".into(),
            direction: "outbound".into(),
            cause: "USER_BUSY".into(),
            duration_secs: None,
            unanswered: true,
            received_at: 1_732_000_000,
        };
        let (id, doc) = unanswered(&report, &LogContext { org_id: "o".into(), ..LogContext::default() });
        assert_eq!(id, "plivo-uuid-1");
        assert_eq!(doc["meeting_id"], "plivo-uuid-1");
        assert_eq!(doc["call_busy"], true);
        assert_eq!(doc["inbound"], false);
        assert_eq!(doc["end_reason"], "USER_BUSY");
        assert!(!is_in_progress(&doc));
    }

    #[test]
    fn a_started_call_is_in_progress_until_closed() {
        let doc = started(&record(), &LogContext::default());
        assert!(is_in_progress(&doc));
        assert_eq!(doc["end_time_utc"], Value::Null);
        assert!(doc.get("transcript_content").is_none());
        let closed = closed_as_orphan(&doc, 1_732_000_100_000);
        assert!(!is_in_progress(&closed));
        assert_eq!(closed["end_reason"], NODE_RESTARTED);
        assert_eq!(closed["end_time_utc"], "2024-11-19T07:08:20.000Z");
        assert_eq!(closed["meeting_id"], "rec-1");
    }
}
