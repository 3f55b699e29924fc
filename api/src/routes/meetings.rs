//! `meetings`: the call history (the original called call logs meetings). The list takes the original's
//! filters, sorts and pages, answered by the store ([`voicera_store::call_logs`]); the export writes the same
//! selection as CSV; the detail parses the transcript into turns with each answer's latency; the recording
//! streams with HTTP ranges ([`crate::recording`]). All only ever see the caller's org.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use voicera_store::call_logs::{turn_latency_ms, CallLogQuery, CallLogSort, CallStatus, FilterField};
use voicera_store::{Collection, Record};

use crate::auth::Caller;
use crate::call_log_cursor::{self, Cursor};
use crate::error::{ApiError, ApiQuery};
use crate::recording::{content_type, parse_range, OpenRecording, RangeRequest, RecordingError, RecordingSource};
use crate::state::ApiState;

/// The original's page size cap, and its cap when exporting.
const MAX_PAGE: u64 = 50;
const MAX_EXPORT_PAGE: u64 = 10_000;

/// The original's query (parameters of later versions it does not know, e.g. `search`, are ignored).
#[derive(Debug, Default, Deserialize)]
pub struct MeetingsQuery {
    page: Option<u64>,
    limit: Option<u64>,
    for_export: Option<bool>,
    agent_type: Option<String>,
    agent_id: Option<String>,
    from_number: Option<String>,
    to_number: Option<String>,
    inbound: Option<bool>,
    call_status: Option<String>,
    date_from: Option<String>,
    date_to: Option<String>,
    date_sort_order: Option<String>,
    duration_sort_order: Option<String>,
    has_latency_metrics: Option<bool>,
    /// Keyset paging: the previous answer's `next_cursor` ([`crate::call_log_cursor`]).
    cursor: Option<String>,
}

/// `YYYY-MM-DD` (the whole day, from its start or to its end) or an RFC 3339 UTC time, as the stored
/// fixed-width text (`2024-11-19T07:06:40.000Z`) so that text order is time order.
pub(crate) fn parse_time(text: &str, field: &str, end_of_day: bool) -> Result<String, ApiError> {
    let bad = || ApiError::invalid(field, format!("{text:?}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.mmm]Z (UTC)"));
    let text = text.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let date_ok = |d: &str| {
        let p: Vec<&str> = d.split('-').collect();
        p.len() == 3 && p[0].len() == 4 && p[1].len() == 2 && p[2].len() == 2 && p.iter().all(|x| digits(x))
    };
    if text.len() == 10 {
        return if date_ok(text) {
            Ok(format!("{text}T{}", if end_of_day { "23:59:59.999Z" } else { "00:00:00.000Z" }))
        } else {
            Err(bad())
        };
    }
    let rest = text.strip_suffix('Z').or_else(|| text.strip_suffix("+00:00")).ok_or_else(bad)?;
    let (date, time) = rest.split_once('T').ok_or_else(bad)?;
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let hms_ok = hms.split(':').count() == 3 && hms.split(':').all(|x| x.len() == 2 && digits(x));
    if !date_ok(date) || !hms_ok || !(fraction.is_empty() || digits(fraction)) {
        return Err(bad());
    }
    let millis: String = fraction.chars().chain(std::iter::repeat('0')).take(3).collect();
    Ok(format!("{date}T{hms}.{millis}Z"))
}

fn query_of(org_id: &str, q: MeetingsQuery) -> Result<(CallLogQuery, u64, u64), ApiError> {
    let page = q.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::invalid("page", "pages start at 1"));
    }
    let cap = if q.for_export.unwrap_or(false) { MAX_EXPORT_PAGE } else { MAX_PAGE };
    let limit = match q.limit.unwrap_or(MAX_PAGE) {
        0 => return Err(ApiError::invalid("limit", "limit must be at least 1")),
        n => n.min(cap),
    };
    let status = match q.call_status.as_deref().map(|s| s.trim().to_lowercase()) {
        None => None,
        Some(s) if s == "busy" => Some(CallStatus::Busy),
        Some(s) if s == "completed" => Some(CallStatus::Completed),
        Some(s) if s == "in progress" || s == "in_progress" => Some(CallStatus::InProgress),
        Some(other) => {
            return Err(ApiError::invalid("call_status", format!("{other:?} is not Busy, Completed or In Progress")))
        }
    };
    let sort = match (q.duration_sort_order.as_deref(), q.date_sort_order.as_deref()) {
        (Some("longest"), _) => CallLogSort::Longest,
        (Some("shortest"), _) => CallLogSort::Shortest,
        (Some(other), _) => {
            return Err(ApiError::invalid("duration_sort_order", format!("{other:?} is not longest or shortest")))
        }
        (None, None | Some("latest")) => CallLogSort::Latest,
        (None, Some("oldest")) => CallLogSort::Oldest,
        (None, Some(other)) => {
            return Err(ApiError::invalid("date_sort_order", format!("{other:?} is not latest or oldest")))
        }
    };
    let non_empty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let query = CallLogQuery {
        org_id: org_id.to_string(),
        agent_type: non_empty(q.agent_type),
        agent_id: non_empty(q.agent_id),
        from_number: non_empty(q.from_number),
        to_number: non_empty(q.to_number),
        number: None,
        inbound: q.inbound,
        status,
        from_time: non_empty(q.date_from).map(|t| parse_time(&t, "date_from", false)).transpose()?,
        to_time: non_empty(q.date_to).map(|t| parse_time(&t, "date_to", true)).transpose()?,
        with_latency: q.has_latency_metrics.unwrap_or(false),
        sort,
        offset: (page - 1).saturating_mul(limit),
        limit,
        after: None,
    };
    Ok((query, page, limit))
}

/// One transcript line, `[timestamp] role: text`, as the console shows it.
fn parse_line(line: &str) -> Option<(Option<&str>, &'static str, &str)> {
    let (timestamp, rest) = match line.strip_prefix('[').and_then(|l| l.split_once(']')) {
        Some((ts, rest)) => (Some(ts.trim()), rest.trim_start()),
        None => (None, line),
    };
    let (role, text) = rest.split_once(':')?;
    let role = match role.trim().to_lowercase().as_str() {
        "user" | "human" => "user",
        "assistant" | "agent" | "bot" => "agent",
        _ => return None,
    };
    Some((timestamp, role, text.trim()))
}

/// The original's transcript parsing: known lines become turns; other lines alternate speakers.
pub fn parse_transcript(content: &str) -> Vec<Value> {
    let mut turns: Vec<Value> = Vec::new();
    for line in content.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match parse_line(line) {
            Some((Some(timestamp), role, text)) => {
                turns.push(json!({"role": role, "content": text, "timestamp": timestamp}))
            }
            Some((None, role, text)) => turns.push(json!({"role": role, "content": text})),
            None => {
                let last = turns.last().and_then(|t| t.get("role")).and_then(Value::as_str);
                let role = if last == Some("agent") { "user" } else { "agent" };
                turns.push(json!({"role": role, "content": line}));
            }
        }
    }
    turns
}

/// The per-turn timings of a call, whichever shape its record has: the original's `latency_metrics.turns`
/// (`turn_index`, `stt_ms`, `llm_ttfb_ms`, `tts_first_chunk_ms`) or this server's `turns` (`turn`, `stt_ms`,
/// `llm_first_token_ms`, `tts_first_audio_ms`, `end_of_speech_to_audio_ms`), as
/// `{turn_index, user_text_preview, stt_ms, llm_ttfb_ms, tts_first_chunk_ms, latency_ms}`.
pub fn turn_latencies(doc: &Value) -> Vec<Value> {
    let original = doc.pointer("/latency_metrics/turns").and_then(Value::as_array).filter(|t| !t.is_empty());
    let ours = doc.get("turns").and_then(Value::as_array);
    let Some(turns) = original.or(ours) else { return Vec::new() };
    turns
        .iter()
        .enumerate()
        .map(|(i, turn)| {
            let pick = |keys: &[&str]| keys.iter().find_map(|k| turn.get(*k).filter(|v| v.is_number()).cloned());
            let index = pick(&["turn_index", "turn"]).unwrap_or_else(|| json!(i + 1));
            let preview = turn
                .get("user_text_preview")
                .or_else(|| turn.get("user_text"))
                .and_then(Value::as_str)
                .map(|t| t.chars().take(80).collect::<String>());
            json!({
                "turn_index": index,
                "user_text_preview": preview,
                "stt_ms": pick(&["stt_ms"]),
                "llm_ttfb_ms": pick(&["llm_ttfb_ms", "llm_first_token_ms"]),
                "tts_first_chunk_ms": pick(&["tts_first_chunk_ms", "tts_first_audio_ms"]),
                "latency_ms": turn_latency_ms(turn),
            })
        })
        .collect()
}

/// The conversation as turns: the original's `transcript_content` lines, else this server's record (`greeting`
/// and `turns`). Each agent answer after the caller's n-th turn carries that turn's `latency_ms` when known.
pub fn transcript_turns(doc: &Value) -> Vec<Value> {
    let latencies: Vec<Option<f64>> =
        turn_latencies(doc).iter().map(|t| t.get("latency_ms").and_then(Value::as_f64)).collect();
    let mut turns = match doc.get("transcript_content").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
        Some(content) => parse_transcript(content),
        None => own_record_turns(doc),
    };
    let mut user_turns = 0;
    let mut answered = true;
    for turn in &mut turns {
        match turn.get("role").and_then(Value::as_str) {
            Some("user") => {
                user_turns += 1;
                answered = false;
            }
            Some("agent") if !answered && user_turns > 0 => {
                answered = true;
                if let (Some(Some(ms)), Some(map)) = (latencies.get(user_turns - 1), turn.as_object_mut()) {
                    map.insert("latency_ms".into(), json!(ms));
                }
            }
            _ => {}
        }
    }
    turns
}

/// This server's call record (`greeting`, `turns[{user_text, agent_text, interrupted}]`) as transcript turns.
fn own_record_turns(doc: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(greeting) = doc.get("greeting").and_then(Value::as_str).filter(|g| !g.is_empty()) {
        out.push(json!({"role": "agent", "content": greeting}));
    }
    for turn in doc.get("turns").and_then(Value::as_array).into_iter().flatten() {
        let text = |key: &str| turn.get(key).and_then(Value::as_str).filter(|t| !t.is_empty());
        if let Some(user) = text("user_text") {
            out.push(json!({"role": "user", "content": user}));
        }
        if let Some(agent) = text("agent_text") {
            let interrupted = turn.get("interrupted").and_then(Value::as_bool).unwrap_or(false);
            out.push(json!({"role": "agent", "content": agent, "interrupted": interrupted}));
        }
    }
    out
}

/// Whether a call log's recording is served by this API (not a provider's `http(s)` link).
fn stored_recording(doc: &Value) -> Option<&str> {
    doc.get("recording_url")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty() && !u.starts_with("http://") && !u.starts_with("https://"))
}

/// A call log as the list shows it: `meeting_id` always present, stored recordings behind the API's
/// recording route.
fn list_view(record: Record) -> Value {
    let mut doc = record.doc;
    let stored = stored_recording(&doc).is_some();
    if let Some(map) = doc.as_object_mut() {
        map.entry("meeting_id").or_insert_with(|| Value::String(record.id.clone()));
        if stored {
            map.insert("recording_url".into(), Value::String(format!("/api/v1/meetings/{}/recording", record.id)));
        }
    }
    doc
}

/// A call log as the detail shows it: the list's view plus the transcript as turns and the per-turn timings.
fn detail_view(record: Record) -> Value {
    let transcript = transcript_turns(&record.doc);
    let latencies = turn_latencies(&record.doc);
    let mut doc = list_view(record);
    if let Some(map) = doc.as_object_mut() {
        map.insert("transcript".into(), Value::Array(transcript));
        map.insert("turn_latencies".into(), Value::Array(latencies));
    }
    doc
}

/// A page of the selection: the store's query (its start from `page` or from `cursor`), the page's number
/// and size, and the calls before it.
struct PageRequest {
    query: CallLogQuery,
    page: u64,
    limit: u64,
    position: u64,
}

fn page_request(state: &ApiState, org_id: &str, mut q: MeetingsQuery) -> Result<PageRequest, ApiError> {
    let cursor = q.cursor.take().map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    if cursor.is_some() && q.page.is_some() {
        return Err(ApiError::invalid("page", "send page or cursor, not both: a cursor says where its page starts"));
    }
    let (mut query, page, limit) = query_of(org_id, q)?;
    let Some(cursor) = cursor else {
        let position = query.offset;
        return Ok(PageRequest { query, page, limit, position });
    };
    let cursor = call_log_cursor::decode(&state.0.tokens, &query, &cursor)?;
    // A cursor without a key (its call's sort field holds no sortable value) continues by position.
    query.offset = cursor.position;
    query.after = cursor.key;
    Ok(PageRequest { query, page: cursor.position / limit + 1, limit, position: cursor.position })
}

/// `GET /meetings`: one page of the org's call history, by `page` or by `cursor`, with the cursor of the next.
pub async fn list(
    caller: Caller,
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<MeetingsQuery>,
) -> Result<Json<Value>, ApiError> {
    let PageRequest { query, page, limit, position } = page_request(&state, &caller.org_id, q)?;
    let found = state.store().query_call_logs(&query).await?;
    let next_cursor = found.more.then(|| {
        let next = Cursor { key: found.last_key(query.sort), position: position + found.records.len() as u64 };
        call_log_cursor::encode(&state.0.tokens, &query, &next)
    });
    let items: Vec<Value> = found.records.into_iter().map(list_view).collect();
    Ok(Json(json!({"items": items, "total": found.total, "page": page, "limit": limit, "next_cursor": next_cursor})))
}

/// The History tab's drop-downs: the distinct agents and numbers of the org's calls, and the statuses the
/// list filters by.
pub async fn filter_options(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let store = state.store();
    Ok(Json(json!({
        "agent_types": store.call_log_values(&caller.org_id, FilterField::AgentType).await?,
        "from_numbers": store.call_log_values(&caller.org_id, FilterField::FromNumber).await?,
        "to_numbers": store.call_log_values(&caller.org_id, FilterField::ToNumber).await?,
        "call_statuses": ["Busy", "Completed", "In Progress"],
    })))
}

/// `GET /meetings/{meeting_id}`: one call of the org's history.
pub async fn detail(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(detail_view(meeting(&state, &caller, &id).await?)))
}

async fn meeting(state: &ApiState, caller: &Caller, id: &str) -> Result<Record, ApiError> {
    state
        .store()
        .get(Collection::CallLogs, &caller.org_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no meeting {id:?} in your org")))
}

/// The export's columns, in order.
const CSV_COLUMNS: [&str; 12] = [
    "meeting_id",
    "agent_type",
    "direction",
    "from_number",
    "to_number",
    "call_status",
    "created_at",
    "start_time_utc",
    "end_time_utc",
    "duration",
    "turns",
    "recording_url",
];

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes doubled.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A call's status as the History tab shows it.
fn status_of(doc: &Value) -> &'static str {
    let busy = matches!(doc.get("call_busy"), Some(Value::Bool(true)));
    let ended = doc.get("end_time_utc").and_then(Value::as_str).is_some_and(|t| !t.is_empty());
    match (busy, ended) {
        (true, _) => "Busy",
        (false, true) => "Completed",
        (false, false) => "In Progress",
    }
}

fn csv_row(record: &Record) -> String {
    let doc = &record.doc;
    let text = |key: &str| match doc.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let direction = match doc.get("inbound") {
        Some(Value::Bool(true)) => "inbound",
        Some(Value::Bool(false)) => "outbound",
        _ => "",
    };
    let recording = if stored_recording(doc).is_some() {
        format!("/api/v1/meetings/{}/recording", record.id)
    } else {
        text("recording_url")
    };
    let turns = turn_latencies(doc).len();
    let fields = [
        doc.get("meeting_id").and_then(Value::as_str).unwrap_or(&record.id).to_string(),
        text("agent_type"),
        direction.to_string(),
        text("from_number"),
        text("to_number"),
        status_of(doc).to_string(),
        text("created_at"),
        text("start_time_utc"),
        text("end_time_utc"),
        text("duration"),
        turns.to_string(),
        recording,
    ];
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// `GET /meetings/export`: the list's selection (every filter and sort) as CSV, up to 10,000 calls from
/// `page` (default 1) with `limit` (default and cap 10,000), as a download.
pub async fn export(
    caller: Caller,
    State(state): State<ApiState>,
    ApiQuery(mut q): ApiQuery<MeetingsQuery>,
) -> Result<Response, ApiError> {
    q.for_export = Some(true);
    q.limit = Some(q.limit.unwrap_or(MAX_EXPORT_PAGE));
    let query = page_request(&state, &caller.org_id, q)?.query;
    let found = state.store().query_call_logs(&query).await?;
    let mut csv = CSV_COLUMNS.join(",");
    csv.push_str("\r\n");
    for record in &found.records {
        csv.push_str(&csv_row(record));
    }
    let day = voicera_store::utc_text(state.now()).get(..10).unwrap_or_default().replace('-', "");
    let disposition = format!("attachment; filename=\"meetings-{day}.csv\"");
    let mut response = (StatusCode::OK, csv).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert("x-total-count", HeaderValue::from(found.total));
    Ok(response)
}

/// `GET /meetings/{meeting_id}/recording`: the call's audio, streamed from where its record says, honouring
/// one HTTP byte range (206 with `Content-Range`; 416 when it selects nothing; several ranges get the whole).
pub async fn recording(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = meeting(&state, &caller, &id).await?;
    stream_recording(&state, &record, &id, &headers).await
}

/// The query of a signed recording link ([`crate::links`]).
#[derive(Debug, Deserialize)]
pub struct SignedLinkQuery {
    org_id: String,
    expires: u64,
    sig: String,
}

/// `GET /meetings/{meeting_id}/recording/signed`: the recording by a signed link, without a credential
/// (webhook receivers get one in `call.ended`); 403 when the link is wrong or expired.
pub async fn signed_recording(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<SignedLinkQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now_secs = u64::try_from(state.now() / 1000).unwrap_or(0);
    let key = &state.resources()?.master_key;
    if !crate::links::verify(key, &query.org_id, &id, query.expires, &query.sig, now_secs) {
        return Err(ApiError::forbidden("the recording link is invalid or has expired").at("sig"));
    }
    let record = state
        .store()
        .get(Collection::CallLogs, &query.org_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no meeting {id:?}")))?;
    stream_recording(&state, &record, &id, &headers).await
}

/// A call's recording, whole or the one `Range` asked for.
async fn stream_recording(
    state: &ApiState,
    record: &Record,
    id: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let id = id.to_string();
    let url = stored_recording(&record.doc)
        .ok_or_else(|| ApiError::not_found(format!("meeting {id:?} has no recording stored here")))?
        .to_string();
    let source = &state.resources()?.recordings;
    let first = open_recording(source.as_ref(), &url, 0, &id).await?;
    let length = first.length;
    let range = parse_range(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), length);
    let (status, start, end, reader) = match range {
        RangeRequest::Whole => (StatusCode::OK, 0, length.checked_sub(1), first.reader),
        RangeRequest::Part { start: 0, end } => (StatusCode::PARTIAL_CONTENT, 0, Some(end), first.reader),
        RangeRequest::Part { start, end } => {
            drop(first);
            let again = open_recording(source.as_ref(), &url, start, &id).await?;
            (StatusCode::PARTIAL_CONTENT, start, Some(end), again.reader)
        }
        RangeRequest::Unsatisfiable => {
            let mut error = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the recording is {length} bytes; the range asks for none of them"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{length}")) {
                error.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            error.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            return Ok(error);
        }
    };
    let size = end.map_or(0, |end| end + 1 - start);
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(reader.take(size)));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&url)));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let (StatusCode::PARTIAL_CONTENT, Some(end)) = (status, end) {
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{length}")) {
            out.insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

async fn open_recording(
    source: &dyn RecordingSource,
    url: &str,
    offset: u64,
    id: &str,
) -> Result<OpenRecording, ApiError> {
    source.open(url, offset).await.map_err(|error| match error {
        RecordingError::NotFound(_) => ApiError::not_found(format!("the recording of meeting {id:?} is missing")),
        other => ApiError::internal("reading a recording", other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_become_the_stored_fixed_width_text() {
        assert_eq!(parse_time("2024-11-19", "d", false).unwrap(), "2024-11-19T00:00:00.000Z");
        assert_eq!(parse_time("2024-11-19", "d", true).unwrap(), "2024-11-19T23:59:59.999Z");
        assert_eq!(parse_time("2024-11-19T07:06:40Z", "d", false).unwrap(), "2024-11-19T07:06:40.000Z");
        assert_eq!(parse_time("2024-11-19T07:06:40.5+00:00", "d", false).unwrap(), "2024-11-19T07:06:40.500Z");
        assert_eq!(parse_time("2024-11-19T07:06:40.123456Z", "d", false).unwrap(), "2024-11-19T07:06:40.123Z");
        for bad in ["yesterday", "2024-11-19T07:06:40", "2024-11-19T07:06:40+05:30", "2024-1-19", "2024-11-19T7:06:40Z"]
        {
            assert_eq!(parse_time(bad, "date_from", false).unwrap_err().field.as_deref(), Some("date_from"), "{bad}");
        }
    }

    #[test]
    fn transcripts_parse_like_the_original() {
        let turns = parse_transcript(
            "[2024-11-19T07:06:40Z] user: नमस्ते\n\n[2024-11-19T07:06:41Z] assistant: Hello: how can I help?\nBot: ok\nstray line",
        );
        assert_eq!(
            turns,
            vec![
                json!({"role": "user", "content": "नमस्ते", "timestamp": "2024-11-19T07:06:40Z"}),
                json!({"role": "agent", "content": "Hello: how can I help?", "timestamp": "2024-11-19T07:06:41Z"}),
                json!({"role": "agent", "content": "ok"}),
                json!({"role": "user", "content": "stray line"}),
            ]
        );
    }

    #[test]
    fn pages_are_capped_like_the_original_and_bad_values_name_their_field() {
        let q = MeetingsQuery { page: Some(3), limit: Some(500), ..MeetingsQuery::default() };
        let (query, page, limit) = query_of("o", q).unwrap();
        assert_eq!((query.offset, query.limit, page, limit), (100, 50, 3, 50));
        let q = MeetingsQuery { limit: Some(20_000), for_export: Some(true), ..MeetingsQuery::default() };
        assert_eq!(query_of("o", q).unwrap().2, 10_000);
        let bad = MeetingsQuery { call_status: Some("done".into()), ..MeetingsQuery::default() };
        assert_eq!(query_of("o", bad).unwrap_err().field.as_deref(), Some("call_status"));
        let bad = MeetingsQuery { page: Some(0), ..MeetingsQuery::default() };
        assert_eq!(query_of("o", bad).unwrap_err().field.as_deref(), Some("page"));
    }
}
