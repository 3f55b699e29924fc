//! `meetings`: the call history (the original called call logs meetings). The list takes the original's
//! filters, sorts and pages, answered by the store ([`voicera_store::call_logs`]); the detail parses the
//! transcript into turns. Both only ever see the caller's org.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use voicera_store::call_logs::{CallLogQuery, CallLogSort, CallStatus, FilterField};
use voicera_store::{Collection, Record};

use crate::auth::Caller;
use crate::error::{ApiError, ApiQuery};
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
}

/// `YYYY-MM-DD` (the whole day, from its start or to its end) or an RFC 3339 UTC time, as the stored
/// fixed-width text (`2024-11-19T07:06:40.000Z`) so that text order is time order.
fn parse_time(text: &str, field: &str, end_of_day: bool) -> Result<String, ApiError> {
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
        inbound: q.inbound,
        status,
        from_time: non_empty(q.date_from).map(|t| parse_time(&t, "date_from", false)).transpose()?,
        to_time: non_empty(q.date_to).map(|t| parse_time(&t, "date_to", true)).transpose()?,
        with_latency: q.has_latency_metrics.unwrap_or(false),
        sort,
        offset: (page - 1).saturating_mul(limit),
        limit,
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

/// A call log as the console reads it: `meeting_id` always present, stored recordings behind the API's
/// recording route, the transcript parsed.
fn view(record: Record) -> Value {
    let mut doc = record.doc;
    if let Some(map) = doc.as_object_mut() {
        map.entry("meeting_id").or_insert_with(|| Value::String(record.id.clone()));
        let stored_recording = map
            .get("recording_url")
            .and_then(Value::as_str)
            .is_some_and(|u| !u.is_empty() && !u.starts_with("http://") && !u.starts_with("https://"));
        if stored_recording {
            map.insert("recording_url".into(), Value::String(format!("/api/v1/meetings/{}/recording", record.id)));
        }
        let transcript =
            map.get("transcript_content").and_then(Value::as_str).map(parse_transcript).unwrap_or_default();
        map.insert("transcript".into(), Value::Array(transcript));
    }
    doc
}

/// `GET /meetings`: one page of the org's call history.
pub async fn list(
    caller: Caller,
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<MeetingsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (query, page, limit) = query_of(&caller.org_id, q)?;
    let found = state.store().query_call_logs(&query).await?;
    let items: Vec<Value> = found.records.into_iter().map(view).collect();
    Ok(Json(json!({"items": items, "total": found.total, "page": page, "limit": limit})))
}

/// The History tab's drop-downs: the distinct agents and numbers of the org's calls.
pub async fn filter_options(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let store = state.store();
    Ok(Json(json!({
        "agent_types": store.call_log_values(&caller.org_id, FilterField::AgentType).await?,
        "from_numbers": store.call_log_values(&caller.org_id, FilterField::FromNumber).await?,
        "to_numbers": store.call_log_values(&caller.org_id, FilterField::ToNumber).await?,
    })))
}

/// `GET /meetings/{meeting_id}`: one call of the org's history.
pub async fn detail(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state
        .store()
        .get(Collection::CallLogs, &caller.org_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no meeting {id:?} in your org")))?;
    Ok(Json(view(record)))
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
