//! `analytics`: the original's call figures for the caller's org (attempts, connected calls, minutes, the
//! busiest agent, calls per agent) and what it lacked: the connection rate and response-latency percentiles
//! per agent and per day. The store folds the matching calls in one pass ([`voicera_store::Store::call_stats`]);
//! nothing here holds the calls.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use voicera_store::call_logs::{CallLogQuery, CallStats, Percentiles};

use crate::auth::Caller;
use crate::error::{ApiError, ApiQuery};
use crate::routes::meetings::parse_time;
use crate::state::ApiState;

/// The original's filters.
#[derive(Debug, Default, Deserialize)]
pub struct AnalyticsQuery {
    agent_type: Option<String>,
    /// Calls from or to this number (the original filtered a field its calls never had).
    phone_number: Option<String>,
    /// `YYYY-MM-DD` or an RFC 3339 UTC time; the day's start.
    start_date: Option<String>,
    /// `YYYY-MM-DD` or an RFC 3339 UTC time; a date includes its whole day.
    end_date: Option<String>,
}

/// Two decimals, as the original rounded its minutes.
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn latency(values: &mut [f64]) -> Value {
    match Percentiles::of(values) {
        Some(p) => json!({"turns": p.turns, "p50_ms": p.p50, "p90_ms": p.p90, "p99_ms": p.p99}),
        None => json!({"turns": 0, "p50_ms": null, "p90_ms": null, "p99_ms": null}),
    }
}

/// The answer's body from the folded figures.
pub fn figures(org_id: &str, mut stats: CallStats) -> Value {
    let minutes = stats.connected_secs / 60.0;
    let average = if stats.connected > 0 { minutes / stats.connected as f64 } else { 0.0 };
    let rate = if stats.attempted > 0 { stats.connected as f64 / stats.attempted as f64 } else { 0.0 };
    let mut agents: Vec<(&String, &mut voicera_store::call_logs::AgentStats)> = stats.per_agent.iter_mut().collect();
    // The busiest first; ties by name, so the answer is the same on every call.
    agents.sort_by(|a, b| b.1.calls.cmp(&a.1.calls).then_with(|| a.0.cmp(b.0)));
    let (most_used, most_used_count) = agents.first().map_or((Value::Null, 0), |(name, a)| (json!(name), a.calls));
    let breakdown: Vec<Value> =
        agents.iter().map(|(name, a)| json!({"agent_type": name, "call_count": a.calls})).collect();
    let per_agent: Vec<Value> = agents
        .iter_mut()
        .map(|(name, a)| {
            let mut entry = latency(&mut a.latencies_ms);
            entry["agent_type"] = json!(name);
            entry["calls"] = json!(a.calls);
            entry["calls_connected"] = json!(a.connected);
            entry["total_minutes_connected"] = json!(round2(a.connected_secs / 60.0));
            entry
        })
        .collect();
    let per_day: Vec<Value> = stats
        .per_day
        .iter_mut()
        .map(|(day, (calls, values))| {
            let mut entry = latency(values);
            entry["date"] = json!(day);
            entry["calls"] = json!(calls);
            entry
        })
        .collect();
    json!({
        "org_id": org_id,
        "calls_attempted": stats.attempted,
        "calls_connected": stats.connected,
        "average_call_duration": round2(average),
        "total_minutes_connected": round2(minutes),
        "success_rate": round2(rate * 100.0),
        "most_used_agent": most_used,
        "most_used_agent_count": most_used_count,
        "agent_breakdown": breakdown,
        "latency": {"per_agent": per_agent, "per_day": per_day},
    })
}

/// `GET /analytics`: the org's call figures, optionally for one agent, one number and a date range.
pub async fn analytics(
    caller: Caller,
    State(state): State<ApiState>,
    ApiQuery(q): ApiQuery<AnalyticsQuery>,
) -> Result<Json<Value>, ApiError> {
    let non_empty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (start, end) = (non_empty(q.start_date), non_empty(q.end_date));
    let query = CallLogQuery {
        org_id: caller.org_id.clone(),
        agent_type: non_empty(q.agent_type),
        number: non_empty(q.phone_number),
        from_time: start.as_deref().map(|t| parse_time(t, "start_date", false)).transpose()?,
        to_time: end.as_deref().map(|t| parse_time(t, "end_date", true)).transpose()?,
        ..CallLogQuery::default()
    };
    let stats = state.store().call_stats(&query).await?;
    let mut body = figures(&caller.org_id, stats);
    body["calculated_at"] = json!(voicera_store::utc_text(state.now()));
    body["start_date"] = json!(start);
    body["end_date"] = json!(end);
    Ok(Json(body))
}
