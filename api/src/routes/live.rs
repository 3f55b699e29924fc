//! `calls/live`: the calls in progress, as the console's Live page shows them. This node's calls come from its
//! registry ([`crate::state::NodeConsole`]) with their transcript so far; other nodes sharing the store show
//! through their in-progress call logs (each carries its `node_id`), without a transcript, which only the node
//! taking the call holds. A call's transcript streams as Server-Sent Events; an admin hangs a call up (the
//! transport ends it its own way: BYE, the stream's stop and close, WebRTC's close) and the audit log keeps it.
//! Every answer is the caller's org's calls only.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use voicera_conversation::live::{LiveCall, LiveTurn, LiveVersion};
use voicera_store::call_logs::{CallLogQuery, CallLogSort, CallStatus};
use voicera_store::utc_text;

use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::state::{ApiState, NodeCall};

/// Other nodes' calls read from the store per request, at most.
const MAX_REMOTE_CALLS: u64 = 500;

/// How often an idle transcript stream sends a comment, so proxies keep it open and a gone browser is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A call of this node as the list shows it.
fn local_view(call: &LiveCall, node_id: Option<&str>, now_ms: i64) -> Value {
    let info = call.info();
    let started = i64::try_from(info.started_at_ms).unwrap_or(i64::MAX);
    json!({
        "id": call.id(),
        "call_id": info.call_id,
        "agent_type": info.agent,
        "agent_id": info.agent,
        "transport": info.transport,
        "direction": if info.outbound { "outbound" } else { "inbound" },
        "inbound": !info.outbound,
        "from_number": info.caller,
        "to_number": info.called,
        "start_time_utc": utc_text(started),
        "duration": (now_ms.saturating_sub(started).max(0) as f64 / 1000.0),
        "node_id": node_id,
        "on_this_node": true,
        "hangup_requested": call.hang_up_requested(),
        "transcript": call.transcript(),
    })
}

/// Another node's call, from its in-progress log.
fn remote_view(doc: &Value, id: &str, now_ms: i64) -> Value {
    let text = |key: &str| doc.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let start = text("start_time_utc");
    let duration = parse_utc_ms(&start).map(|at| now_ms.saturating_sub(at).max(0) as f64 / 1000.0);
    let inbound = doc.get("inbound").and_then(Value::as_bool).unwrap_or(true);
    json!({
        "id": id,
        "call_id": text("call_id"),
        "agent_type": text("agent_type"),
        "agent_id": text("agent_id"),
        "transport": text("transport"),
        "direction": if inbound { "inbound" } else { "outbound" },
        "inbound": inbound,
        "from_number": text("from_number"),
        "to_number": text("to_number"),
        "start_time_utc": start,
        "duration": duration,
        "node_id": text("node_id"),
        "on_this_node": false,
        "hangup_requested": false,
        "transcript": [],
    })
}

/// Unix milliseconds of the store's UTC text (`2024-11-19T07:06:40.000Z`, fraction optional).
pub(super) fn parse_utc_ms(text: &str) -> Option<i64> {
    let text = text.trim().strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    let millis: i64 = fraction.chars().chain(std::iter::repeat('0')).take(3).collect::<String>().parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// This node's calls of the caller's org.
fn my_calls(state: &ApiState, caller: &Caller) -> Result<Vec<NodeCall>, ApiError> {
    let node = state.node_console()?;
    Ok(node.live_calls().into_iter().filter(|c| c.org_id == caller.org_id).collect())
}

/// This node's call `id` of the caller's org (another org's call is as unknown as a call that does not exist;
/// so is any call on a node that reports none).
fn my_call(state: &ApiState, caller: &Caller, id: &str) -> Result<Arc<LiveCall>, ApiError> {
    let calls = state.0.node_console.get().map(|node| node.live_calls()).unwrap_or_default();
    calls
        .into_iter()
        .find(|c| c.org_id == caller.org_id && c.call.id() == id)
        .map(|c| c.call)
        .ok_or_else(|| ApiError::not_found(format!("no call {id:?} in progress on this node in your org")))
}

/// Other nodes' in-progress logs of the caller's org.
async fn remote_calls(
    state: &ApiState,
    caller: &Caller,
    node_id: Option<&str>,
) -> Result<Vec<(String, Value)>, ApiError> {
    let query = CallLogQuery {
        org_id: caller.org_id.clone(),
        status: Some(CallStatus::InProgress),
        sort: CallLogSort::Oldest,
        limit: MAX_REMOTE_CALLS,
        ..CallLogQuery::default()
    };
    let found = state.store().query_call_logs(&query).await?;
    Ok(found
        .records
        .into_iter()
        .filter(|r| {
            let node = r.doc.get("node_id").and_then(Value::as_str).unwrap_or_default();
            // This node's calls come from its registry (with their transcripts); a log of ours that is still
            // in progress without a registry entry is a call ending right now.
            !node.is_empty() && Some(node) != node_id
        })
        .map(|r| (r.id, r.doc))
        .collect())
}

/// `GET /calls/live`: the org's calls in progress, on this node and on the others sharing its store.
pub async fn list(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let node_id = state.node_console()?.node_id();
    let now = state.now();
    let mut calls: Vec<Value> =
        my_calls(&state, &caller)?.iter().map(|c| local_view(&c.call, node_id.as_deref(), now)).collect();
    for (id, doc) in remote_calls(&state, &caller, node_id.as_deref()).await? {
        calls.push(remote_view(&doc, &id, now));
    }
    Ok(Json(json!({"node_id": node_id, "calls": calls})))
}

/// `GET /calls/live/{id}`: one call of this node with its transcript so far.
pub async fn get(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let call = my_call(&state, &caller, &id)?;
    let node_id = state.node_console()?.node_id();
    Ok(Json(local_view(&call, node_id.as_deref(), state.now())))
}

/// `POST /calls/live/{id}/hangup`: ends a call of this node (admins; audit-logged).
pub async fn hang_up(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin, "hanging up calls")?;
    let call = match my_call(&state, &caller, &id) {
        Ok(call) => call,
        Err(not_here) => {
            let Ok(node) = state.node_console() else { return Err(not_here) };
            let node_id = node.node_id();
            // A call of the org on another node: say where, since only that node can end it.
            let elsewhere =
                remote_calls(&state, &caller, node_id.as_deref()).await?.into_iter().find(|(rid, _)| *rid == id);
            return Err(match elsewhere {
                Some((_, doc)) => ApiError::new(
                    StatusCode::CONFLICT,
                    "on_another_node",
                    format!(
                        "call {id:?} is on node {:?}: hang it up through that node's API",
                        doc.get("node_id").and_then(Value::as_str).unwrap_or_default()
                    ),
                ),
                None => not_here,
            });
        }
    };
    let first = call.request_hang_up();
    crate::audit::record(&state, &caller, "hangup_call", call.id()).await?;
    tracing::info!(call = %call.id(), who = %caller.email, first, "hang-up asked for");
    Ok((StatusCode::ACCEPTED, Json(json!({"id": call.id(), "status": "hanging_up"}))))
}

/// One Server-Sent Event.
fn event(name: &str, id: Option<u64>, data: &Value) -> Bytes {
    let mut text = format!("event: {name}\n");
    if let Some(id) = id {
        text.push_str(&format!("id: {id}\n"));
    }
    // JSON text has no line breaks (serde_json escapes them), so one `data:` line carries it.
    text.push_str(&format!("data: {data}\n\n"));
    Bytes::from(text)
}

/// Where a transcript stream is.
struct Cursor {
    call: Arc<LiveCall>,
    changes: tokio::sync::watch::Receiver<LiveVersion>,
    next_seq: u64,
    queue: VecDeque<Bytes>,
    done: bool,
}

impl Cursor {
    /// The next piece of the stream: turns as they are said, `ended` when the call is over, a comment now and
    /// then while nothing happens.
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Cursor)> {
        loop {
            if let Some(bytes) = self.queue.pop_front() {
                return Some((Ok(bytes), self));
            }
            if self.done {
                return None;
            }
            let version = *self.changes.borrow_and_update();
            for turn in self.call.transcript_since(self.next_seq) {
                self.next_seq = turn.seq + 1;
                self.queue.push_back(turn_event(&turn));
            }
            if !self.queue.is_empty() {
                continue;
            }
            if version.ended {
                self.queue.push_back(event("ended", None, &json!({"id": self.call.id()})));
                self.done = true;
                continue;
            }
            match tokio::time::timeout(KEEP_ALIVE, self.changes.changed()).await {
                Ok(Ok(())) => {}
                // The sender lives with the call, which this stream holds: not reached, but ends cleanly.
                Ok(Err(_)) => self.done = true,
                Err(_) => self.queue.push_back(Bytes::from_static(b": keep-alive\n\n")),
            }
        }
    }
}

fn turn_event(turn: &LiveTurn) -> Bytes {
    event("turn", Some(turn.seq), &serde_json::to_value(turn).unwrap_or(Value::Null))
}

/// `GET /calls/live/{id}/events`: the call's transcript as Server-Sent Events (`turn` events, each with its
/// `seq` as the event id; `Last-Event-ID` resumes after it), then `ended`.
pub async fn events(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let call = my_call(&state, &caller, &id)?;
    let next_seq = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(0, |last| last + 1);
    let cursor = Cursor { changes: call.watch(), call, next_seq, queue: VecDeque::new(), done: false };
    let stream = futures_util::stream::unfold(cursor, Cursor::next);
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // Tells nginx-style proxies not to buffer the stream.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_times_parse_back_to_their_milliseconds() {
        for ms in [0, 1_732_000_000_123, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(parse_utc_ms(&utc_text(ms)), Some(ms), "{}", utc_text(ms));
        }
        assert_eq!(parse_utc_ms("2024-11-19T07:06:40Z"), Some(1_732_000_000_000));
        assert_eq!(parse_utc_ms("yesterday"), None);
        assert_eq!(parse_utc_ms(""), None);
    }

    #[test]
    fn events_are_one_data_line_each() {
        let bytes = event("turn", Some(3), &json!({"content": "two\nlines"}));
        assert_eq!(&bytes[..], b"event: turn\nid: 3\ndata: {\"content\":\"two\\nlines\"}\n\n");
    }
}
