//! The call history as the console reads it: one tenant's call logs filtered, sorted and paged in the store
//! (never loaded whole into the API), with the total for the pager. Both backends answer the same
//! [`CallLogQuery`] over the original's call-log fields (`agent_type`, `from_number`, `to_number`, `inbound`,
//! `call_busy`, `end_time_utc`, `start_time_utc`, `created_at`, `duration`, `latency_metrics.turns`), with
//! indexes on the two sort orders (creation time, duration) per tenant.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Record;

/// A call's state as the History tab filters it (the original's `call_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// `call_busy` is true.
    Busy,
    /// Not busy, with an end time.
    Completed,
    /// Not busy, no end time yet.
    InProgress,
}

/// The order of a page (the original's `date_sort_order` / `duration_sort_order`). Ties are broken by call
/// id, so pages never overlap or skip a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallLogSort {
    /// Newest `created_at` first.
    #[default]
    Latest,
    /// Oldest `created_at` first.
    Oldest,
    /// Longest `duration` first, then newest.
    Longest,
    /// Shortest `duration` first, then newest.
    Shortest,
}

/// One page of one tenant's call logs. Text filters match exactly; times are [`crate::utc_text`] strings
/// compared as text (the documents' format orders by time), applied to `start_time_utc`, else `created_at`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallLogQuery {
    /// The tenant whose history is read; never empty (queries never cross tenants).
    pub org_id: String,
    /// The agent's name (`agent_type`).
    pub agent_type: Option<String>,
    /// The agent's id.
    pub agent_id: Option<String>,
    /// The caller's number as stored.
    pub from_number: Option<String>,
    /// The called number as stored.
    pub to_number: Option<String>,
    /// Calls from or to this number (the analytics' `phone_number`).
    pub number: Option<String>,
    /// Inbound (`true`) or outbound (`false`) calls only.
    pub inbound: Option<bool>,
    /// Calls that ended this way only.
    pub status: Option<CallStatus>,
    /// Inclusive lower bound.
    pub from_time: Option<String>,
    /// Inclusive upper bound.
    pub to_time: Option<String>,
    /// Only calls whose `latency_metrics.turns` is a non-empty list.
    pub with_latency: bool,
    /// The page's order.
    pub sort: CallLogSort,
    /// Calls skipped before the page starts (ignored when `after` is set).
    pub offset: u64,
    /// Most calls on the page.
    pub limit: u64,
    /// Keyset paging: the page starts right after the call with this key (the previous page's
    /// [`CallLogPage::last_key`]), found by seeking the sort order's index instead of skipping `offset` calls.
    /// Its values must be of the query's `sort` ([`CallLogSort::key_fields`]).
    pub after: Option<CallLogKey>,
}

/// A call-log field a sort orders by (before the call id, which breaks ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyField {
    /// `created_at`.
    Created,
    /// `duration`.
    Duration,
}

impl KeyField {
    /// The document field.
    pub fn name(self) -> &'static str {
        match self {
            KeyField::Created => "created_at",
            KeyField::Duration => "duration",
        }
    }
}

/// Which way a sort goes through a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Smallest first.
    Ascending,
    /// Largest first.
    Descending,
}

impl Direction {
    /// The other way.
    pub fn reversed(self) -> Direction {
        match self {
            Direction::Ascending => Direction::Descending,
            Direction::Descending => Direction::Ascending,
        }
    }
}

impl CallLogSort {
    /// The fields this order sorts by, in order, each with its direction; the call id breaks ties
    /// ([`CallLogSort::id_direction`]).
    pub fn key_fields(self) -> &'static [(KeyField, Direction)] {
        use Direction::*;
        match self {
            CallLogSort::Latest => &[(KeyField::Created, Descending)],
            CallLogSort::Oldest => &[(KeyField::Created, Ascending)],
            CallLogSort::Longest => &[(KeyField::Duration, Descending), (KeyField::Created, Descending)],
            CallLogSort::Shortest => &[(KeyField::Duration, Ascending), (KeyField::Created, Descending)],
        }
    }

    /// The direction of the call id, the last tie-breaker.
    pub fn id_direction(self) -> Direction {
        match self {
            CallLogSort::Oldest => Direction::Ascending,
            _ => Direction::Descending,
        }
    }
}

/// A sort field's value as both stores order it: missing or null first, then numbers, then text (SQLite
/// orders `NULL < numbers < text`, MongoDB `null < numbers < strings < objects < ...`). Values of other JSON
/// types have no key ([`CallLogKey::of`] gives none), and a page after such a call is read by offset.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    /// Missing or `null`.
    Null,
    /// A JSON number.
    Number(f64),
    /// A JSON string.
    Text(String),
}

/// The kinds of [`SortValue`] (and, on MongoDB, everything that sorts after text), in sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValueClass {
    /// Missing or `null`.
    Null,
    /// Numbers.
    Number,
    /// Text.
    Text,
    /// Objects, arrays, booleans (MongoDB only: SQLite reads them as numbers or text).
    Other,
}

impl SortValue {
    /// Its kind.
    pub fn class(&self) -> ValueClass {
        match self {
            SortValue::Null => ValueClass::Null,
            SortValue::Number(_) => ValueClass::Number,
            SortValue::Text(_) => ValueClass::Text,
        }
    }

    /// The value of a JSON field (`None`: a type no key represents).
    pub fn of(value: Option<&Value>) -> Option<SortValue> {
        match value {
            None | Some(Value::Null) => Some(SortValue::Null),
            Some(Value::Number(n)) => n.as_f64().filter(|f| f.is_finite()).map(SortValue::Number),
            Some(Value::String(s)) => Some(SortValue::Text(s.clone())),
            Some(_) => None,
        }
    }
}

/// Where a call stands in a sort order: its values of the order's [`CallLogSort::key_fields`] and its id.
#[derive(Debug, Clone, PartialEq)]
pub struct CallLogKey {
    /// One per key field, in order.
    pub values: Vec<SortValue>,
    /// The call's id.
    pub id: String,
}

impl CallLogKey {
    /// The key of `record` in `sort` (`None` when a key field holds an object, array or boolean).
    pub fn of(sort: CallLogSort, record: &Record) -> Option<CallLogKey> {
        let values = sort
            .key_fields()
            .iter()
            .map(|(field, _)| SortValue::of(record.doc.get(field.name())))
            .collect::<Option<Vec<_>>>()?;
        Some(CallLogKey { values, id: record.id.clone() })
    }
}

/// One contiguous stretch of a sort order's index after a key: the calls equal to the key on the first
/// `equal.len()` key fields and, on the next field (or on the id, when every key field is equal), within
/// `range`. [`seek_segments`] lists them in the order's order, so a page is the first of them that are
/// not empty, each read with one index seek.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Key fields held equal to the key's values.
    pub equal: Vec<(KeyField, SortValue)>,
    /// The range on the next field.
    pub range: SegmentRange,
}

/// The range of a [`Segment`] on its free field.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentRange {
    /// Ids strictly after `after` going `direction`.
    Id {
        /// The key's id.
        after: String,
        /// The id's direction in the order.
        direction: Direction,
    },
    /// Values of `field` of one class; with `after`, only those strictly after that value going `direction`.
    Class {
        /// The field.
        field: KeyField,
        /// The class.
        class: ValueClass,
        /// The bound (same class) and the field's direction.
        after: Option<(SortValue, Direction)>,
    },
}

/// The stretches of `sort`'s order that follow `key`, in order: ties on every key field with later ids, then
/// ties on all but the last key field with later values of it (its own class first, then the classes that
/// follow in the field's direction), and so on out to the first field. `classes` are the kinds of value the
/// store orders, in order.
pub fn seek_segments(sort: CallLogSort, key: &CallLogKey, classes: &[ValueClass]) -> Vec<Segment> {
    let fields = sort.key_fields();
    let mut segments = Vec::new();
    for level in (0..=fields.len()).rev() {
        let equal: Vec<(KeyField, SortValue)> =
            fields.iter().zip(&key.values).take(level).map(|((field, _), value)| (*field, value.clone())).collect();
        let Some(&(field, direction)) = fields.get(level) else {
            let range = SegmentRange::Id { after: key.id.clone(), direction: sort.id_direction() };
            segments.push(Segment { equal, range });
            continue;
        };
        let Some(value) = key.values.get(level) else { continue };
        let own = value.class();
        // Within its own class a value has successors, except null (all nulls are equal).
        if own != ValueClass::Null {
            let after = Some((value.clone(), direction));
            segments.push(Segment { equal: equal.clone(), range: SegmentRange::Class { field, class: own, after } });
        }
        let mut later: Vec<ValueClass> = match direction {
            Direction::Ascending => classes.iter().copied().filter(|c| *c > own).collect(),
            Direction::Descending => classes.iter().copied().filter(|c| *c < own).collect(),
        };
        if direction == Direction::Descending {
            later.reverse();
        }
        for class in later {
            segments.push(Segment { equal: equal.clone(), range: SegmentRange::Class { field, class, after: None } });
        }
    }
    segments
}

/// A call-log field the History tab offers as a filter drop-down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    /// The agent's name (`agent_type`).
    AgentType,
    /// The caller's number (`from_number`).
    FromNumber,
    /// The called number (`to_number`).
    ToNumber,
}

impl FilterField {
    /// The document field.
    pub fn name(self) -> &'static str {
        match self {
            FilterField::AgentType => "agent_type",
            FilterField::FromNumber => "from_number",
            FilterField::ToNumber => "to_number",
        }
    }
}

/// A page and the number of calls matching the filters across all pages.
#[derive(Debug, Clone, PartialEq)]
pub struct CallLogPage {
    /// The page's call logs, in the query's order.
    pub records: Vec<Record>,
    /// Calls matching the filters on all pages, for the pager.
    pub total: u64,
    /// More calls follow the page (the store read one call past it).
    pub more: bool,
}

impl CallLogPage {
    /// The key of the page's last call in `sort`, where the next page starts (`None` when the page is empty
    /// or the call's key fields hold values no key represents).
    pub fn last_key(&self, sort: CallLogSort) -> Option<CallLogKey> {
        self.records.last().and_then(|r| CallLogKey::of(sort, r))
    }
}

/// What analytics needs of one call, read from its stored document (the original's `CallLogs` fields, and the
/// per-turn timings of both record shapes: the original's `latency_metrics.turns` and this server's `turns`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallFacts {
    /// The agent's name (`agent_type`), when the document has one.
    pub agent_type: Option<String>,
    /// `YYYY-MM-DD` of `start_time_utc`, else `created_at`.
    pub day: Option<String>,
    /// `duration` in seconds (0 when absent or not a number).
    pub duration_secs: f64,
    /// The original's rule: not busy (`call_busy` true or 1), and an end time (non-empty text) or a positive
    /// duration.
    pub connected: bool,
    /// Each turn's response latency in milliseconds ([`turn_latency_ms`]).
    pub turn_latencies_ms: Vec<f64>,
}

impl CallFacts {
    /// The facts of a call-log document (missing or mistyped fields count as absent).
    pub fn from_doc(doc: &Value) -> CallFacts {
        let text = |key: &str| doc.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
        let duration = doc.get("duration").and_then(Value::as_f64).filter(|d| d.is_finite());
        let busy = doc.get("call_busy").is_some_and(|b| *b == Value::Bool(true) || b.as_f64() == Some(1.0));
        let connected = !busy && (text("end_time_utc").is_some() || duration.is_some_and(|d| d > 0.0));
        let day = text("start_time_utc").or_else(|| text("created_at")).and_then(|t| t.get(..10)).map(str::to_string);
        let original = doc.pointer("/latency_metrics/turns").and_then(Value::as_array).filter(|t| !t.is_empty());
        let turns = original.or_else(|| doc.get("turns").and_then(Value::as_array));
        let turn_latencies_ms = turns.into_iter().flatten().filter_map(turn_latency_ms).collect();
        CallFacts {
            agent_type: text("agent_type").map(str::to_string),
            day,
            duration_secs: duration.unwrap_or(0.0),
            connected,
            turn_latencies_ms,
        }
    }
}

/// A turn's response latency: this server's end of the caller's speech to the agent's first audio
/// (`end_to_end_ms` in its call logs, `end_of_speech_to_audio_ms` in its call records), else the sum of the stages the turn reports (the original's `stt_ms`, `llm_ttfb_ms`,
/// `tts_first_chunk_ms`, or this server's `stt_ms`, `llm_first_token_ms`, `tts_first_audio_ms`). Only
/// non-negative JSON numbers count; the SQLite store computes the same in SQL (its `cl_latencies` column).
pub fn turn_latency_ms(turn: &Value) -> Option<f64> {
    let field = |key: &str| turn.get(key).and_then(Value::as_f64).filter(|v| v.is_finite() && *v >= 0.0);
    if let Some(total) = field("end_to_end_ms").or_else(|| field("end_of_speech_to_audio_ms")) {
        return Some(total);
    }
    let stages = [
        field("stt_ms"),
        field("llm_ttfb_ms").or_else(|| field("llm_first_token_ms")),
        field("tts_first_chunk_ms").or_else(|| field("tts_first_audio_ms")),
    ];
    stages.iter().any(Option::is_some).then(|| stages.iter().flatten().sum())
}

/// One agent's share of the calls.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentStats {
    /// Calls attempted.
    pub calls: u64,
    /// Calls connected.
    pub connected: u64,
    /// Seconds of connected calls.
    pub connected_secs: f64,
    /// Turn latencies (ms), unordered.
    pub latencies_ms: Vec<f64>,
}

/// The analytics of a set of calls, folded one call at a time so the calls are never held together.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallStats {
    /// Calls attempted.
    pub attempted: u64,
    /// Calls connected ([`CallFacts::connected`]).
    pub connected: u64,
    /// Seconds of connected calls.
    pub connected_secs: f64,
    /// By agent name (`unknown` for calls without one).
    pub per_agent: BTreeMap<String, AgentStats>,
    /// Turn latencies (ms) by day (`YYYY-MM-DD`), and calls that day.
    pub per_day: BTreeMap<String, (u64, Vec<f64>)>,
}

impl CallStats {
    /// Counts one call.
    pub fn add(&mut self, call: CallFacts) {
        let connected_secs = if call.connected { call.duration_secs } else { 0.0 };
        self.add_group(
            call.agent_type,
            call.day,
            1,
            u64::from(call.connected),
            connected_secs,
            &call.turn_latencies_ms,
        );
    }

    /// Counts `calls` calls of one agent on one day at once (`connected` of them, `connected_secs` long in all,
    /// with these turn latencies), as a store that groups in its query hands them over.
    pub fn add_group(
        &mut self,
        agent_type: Option<String>,
        day: Option<String>,
        calls: u64,
        connected: u64,
        connected_secs: f64,
        latencies_ms: &[f64],
    ) {
        self.attempted += calls;
        self.connected += connected;
        self.connected_secs += connected_secs;
        let name = agent_type.filter(|a| !a.trim().is_empty()).unwrap_or_else(|| "unknown".into());
        let agent = self.per_agent.entry(name).or_default();
        agent.calls += calls;
        agent.connected += connected;
        agent.connected_secs += connected_secs;
        agent.latencies_ms.extend_from_slice(latencies_ms);
        if let Some(day) = day {
            let (day_calls, latencies) = self.per_day.entry(day).or_default();
            *day_calls += calls;
            latencies.extend_from_slice(latencies_ms);
        }
    }
}

/// Latency percentiles of a set of turns (nearest rank: the smallest value at or above that share of turns).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Turns counted.
    pub turns: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    /// The percentiles of `values` (sorted in place), or `None` when there are none.
    pub fn of(values: &mut [f64]) -> Option<Percentiles> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let rank = |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Some(Percentiles { turns: values.len(), p50: rank(0.50), p90: rank(0.90), p99: rank(0.99) })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn facts_read_both_record_shapes_and_the_original_connected_rule() {
        let original = json!({"agent_type": "Sales", "created_at": "2024-11-19T07:00:00.000Z", "duration": 30,
            "end_time_utc": "2024-11-19T07:00:30.000Z", "call_busy": false,
            "latency_metrics": {"turns": [{"turn_index": 1, "stt_ms": 100, "llm_ttfb_ms": 300, "tts_first_chunk_ms": 50},
                                          {"turn_index": 2, "user_text_preview": "no timings"}]}});
        let facts = CallFacts::from_doc(&original);
        assert_eq!(facts.turn_latencies_ms, [450.0]);
        assert_eq!((facts.connected, facts.duration_secs, facts.day.as_deref()), (true, 30.0, Some("2024-11-19")));
        let ours = json!({"agent_type": "Support", "start_time_utc": "2024-11-20T23:59:59.000Z", "created_at": "2024-11-21T00:00:00.000Z",
            "turns": [{"turn": 1, "end_of_speech_to_audio_ms": 620, "stt_ms": 100},
                      {"turn": 2, "stt_ms": 90, "llm_first_token_ms": 200, "tts_first_audio_ms": 60}]});
        let facts = CallFacts::from_doc(&ours);
        assert_eq!(
            (facts.turn_latencies_ms, facts.day.as_deref(), facts.connected),
            (vec![620.0, 350.0], Some("2024-11-20"), false)
        );
        let busy = CallFacts::from_doc(&json!({"call_busy": true, "duration": 5, "end_time_utc": "x"}));
        assert!(!busy.connected);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let p = Percentiles::of(&mut values).unwrap();
        assert_eq!((p.turns, p.p50, p.p90, p.p99), (100, 50.0, 90.0, 99.0));
        let p = Percentiles::of(&mut [7.0]).unwrap();
        assert_eq!((p.p50, p.p99), (7.0, 7.0));
        let p = Percentiles::of(&mut [400.0, 100.0, 300.0, 200.0]).unwrap();
        assert_eq!((p.p50, p.p90, p.p99), (200.0, 400.0, 400.0));
        assert_eq!(Percentiles::of(&mut []), None);
    }
}

/// The call-log query's conformance, run on each backend (SQLite in `sqlite.rs`, MongoDB in
/// `tests/mongodb.rs`); panics on the first difference.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod conformance {
    use serde_json::json;

    use super::*;
    use crate::{Collection, Store};

    pub async fn run(store: &Store) {
        let calls = [
            (
                "c1",
                json!({"agent_type": "Sales", "agent_id": "sales", "inbound": true, "from_number": "+911", "to_number": "+800",
                          "created_at": "2024-11-19T07:00:00.000Z", "start_time_utc": "2024-11-19T07:00:01.000Z",
                          "end_time_utc": "2024-11-19T07:01:00.000Z", "call_busy": false, "duration": 59.0,
                          "latency_metrics": {"turns": [{"turn_index": 1}]}}),
            ),
            (
                "c2",
                json!({"agent_type": "Sales", "agent_id": "sales", "inbound": false, "from_number": "+800", "to_number": "+912",
                          "created_at": "2024-11-20T07:00:00.000Z", "call_busy": true, "duration": 0.0}),
            ),
            (
                "c3",
                json!({"agent_type": "Support", "agent_id": "support", "inbound": true, "from_number": "+913", "to_number": "+800",
                          "created_at": "2024-11-21T07:00:00.000Z", "start_time_utc": "2024-11-21T07:00:00.500Z", "duration": 12.5,
                          "latency_metrics": {"turns": []}}),
            ),
            (
                "c4",
                json!({"agent_type": "Sales", "agent_id": "sales", "inbound": true, "from_number": "+911", "to_number": "+800",
                          "created_at": "2024-11-22T07:00:00.000Z", "end_time_utc": "", "duration": 300.0}),
            ),
        ];
        for (id, doc) in calls {
            store.put(Collection::CallLogs, &Record { org_id: "org1".into(), id: id.into(), doc }).await.unwrap();
        }
        let other = json!({"agent_type": "Sales", "created_at": "2024-11-23T07:00:00.000Z", "duration": 1.0});
        store.put(Collection::CallLogs, &Record { org_id: "org2".into(), id: "x1".into(), doc: other }).await.unwrap();

        let page = |q: CallLogQuery| async move {
            let page = store.query_call_logs(&q).await.unwrap();
            (page.records.into_iter().map(|r| r.id).collect::<Vec<_>>(), page.total)
        };
        let all = CallLogQuery { org_id: "org1".into(), limit: 10, ..CallLogQuery::default() };
        assert_eq!(page(all.clone()).await, (vec!["c4".into(), "c3".into(), "c2".into(), "c1".into()], 4));
        assert_eq!(page(CallLogQuery { sort: CallLogSort::Oldest, ..all.clone() }).await.0, ["c1", "c2", "c3", "c4"]);
        assert_eq!(page(CallLogQuery { sort: CallLogSort::Longest, ..all.clone() }).await.0, ["c4", "c1", "c3", "c2"]);
        assert_eq!(page(CallLogQuery { sort: CallLogSort::Shortest, ..all.clone() }).await.0, ["c2", "c3", "c1", "c4"]);
        // Pages: the total counts every match, the page holds `limit` from `offset`.
        assert_eq!(
            page(CallLogQuery { offset: 1, limit: 2, ..all.clone() }).await,
            (vec!["c3".into(), "c2".into()], 4)
        );
        assert_eq!(page(CallLogQuery { offset: 4, ..all.clone() }).await, (vec![], 4));

        let only = |q: CallLogQuery| async move { page(q).await.0 };
        assert_eq!(only(CallLogQuery { agent_type: Some("Sales".into()), ..all.clone() }).await, ["c4", "c2", "c1"]);
        assert_eq!(only(CallLogQuery { agent_id: Some("support".into()), ..all.clone() }).await, ["c3"]);
        assert_eq!(only(CallLogQuery { from_number: Some("+911".into()), ..all.clone() }).await, ["c4", "c1"]);
        assert_eq!(only(CallLogQuery { to_number: Some("+912".into()), ..all.clone() }).await, ["c2"]);
        assert_eq!(only(CallLogQuery { number: Some("+912".into()), ..all.clone() }).await, ["c2"]);
        assert_eq!(only(CallLogQuery { number: Some("+911".into()), ..all.clone() }).await, ["c4", "c1"]);
        // Analytics: one pass over the matching calls.
        let timed = json!({"agent_type": "Support", "agent_id": "support", "created_at": "2024-11-18T07:00:00.000Z", "start_time_utc": "",
            "duration": "7", "end_time_utc": "", "from_number": "+999",
            "latency_metrics": {"turns": [{"stt_ms": 100, "llm_ttfb_ms": 300, "tts_first_chunk_ms": 50}, {"end_to_end_ms": 610.5, "stt_ms": 1},
                                          {"stt_ms": "900"}, {"stt_ms": -5, "llm_first_token_ms": 200}, "not a turn", {"note": "none"}]}});
        store.put(Collection::CallLogs, &Record { org_id: "org3".into(), id: "t1".into(), doc: timed }).await.unwrap();
        let ours = json!({"agent_type": "", "created_at": "2024-11-18T08:00:00.000Z", "call_busy": true,
            "latency_metrics": {"turns": []}, "turns": [{"end_of_speech_to_audio_ms": 420}, {"tts_first_audio_ms": 30}]});
        store.put(Collection::CallLogs, &Record { org_id: "org3".into(), id: "t2".into(), doc: ours }).await.unwrap();
        let mut timed =
            store.call_stats(&CallLogQuery { org_id: "org3".into(), ..CallLogQuery::default() }).await.unwrap();
        assert_eq!((timed.attempted, timed.connected), (2, 0), "an empty end time and a text duration do not connect");
        let support = timed.per_agent.get_mut("Support").unwrap();
        support.latencies_ms.sort_by(f64::total_cmp);
        assert_eq!(support.latencies_ms, [200.0, 450.0, 610.5]);
        assert_eq!(timed.per_agent["unknown"].latencies_ms, [420.0, 30.0]);
        assert_eq!(timed.per_day.keys().collect::<Vec<_>>(), ["2024-11-18"]);
        let stats = store.call_stats(&all).await.unwrap();
        assert_eq!((stats.attempted, stats.connected, stats.connected_secs), (4, 3, 371.5));
        let sales = &stats.per_agent["Sales"];
        assert_eq!((sales.calls, sales.connected, sales.connected_secs), (3, 2, 359.0));
        assert_eq!(stats.per_agent["Support"].calls, 1);
        assert_eq!(stats.per_day.keys().collect::<Vec<_>>(), ["2024-11-19", "2024-11-20", "2024-11-21", "2024-11-22"]);
        let support =
            store.call_stats(&CallLogQuery { agent_type: Some("Support".into()), ..all.clone() }).await.unwrap();
        assert_eq!((support.attempted, support.connected), (1, 1));
        assert_eq!(only(CallLogQuery { inbound: Some(false), ..all.clone() }).await, ["c2"]);
        assert_eq!(only(CallLogQuery { inbound: Some(true), ..all.clone() }).await, ["c4", "c3", "c1"]);
        assert_eq!(only(CallLogQuery { status: Some(CallStatus::Busy), ..all.clone() }).await, ["c2"]);
        assert_eq!(only(CallLogQuery { status: Some(CallStatus::Completed), ..all.clone() }).await, ["c1"]);
        assert_eq!(only(CallLogQuery { status: Some(CallStatus::InProgress), ..all.clone() }).await, ["c4", "c3"]);
        assert_eq!(only(CallLogQuery { with_latency: true, ..all.clone() }).await, ["c1"]);
        // Times: start_time_utc when present, else created_at; both bounds inclusive.
        let window = CallLogQuery {
            from_time: Some("2024-11-19T07:00:01.000Z".into()),
            to_time: Some("2024-11-21T07:00:00.000Z".into()),
            ..all.clone()
        };
        assert_eq!(only(window).await, ["c2", "c1"]);
        let combined = CallLogQuery {
            agent_type: Some("Sales".into()),
            inbound: Some(true),
            sort: CallLogSort::Oldest,
            ..all.clone()
        };
        assert_eq!(page(combined).await, (vec!["c1".into(), "c4".into()], 2));
        // Drop-down values: distinct, sorted, this tenant's only.
        let values = |field| async move { store.call_log_values("org1", field).await.unwrap() };
        assert_eq!(values(FilterField::AgentType).await, ["Sales", "Support"]);
        assert_eq!(values(FilterField::FromNumber).await, ["+800", "+911", "+913"]);
        assert_eq!(values(FilterField::ToNumber).await, ["+800", "+912"]);
        assert_eq!(store.call_log_values("nobody", FilterField::AgentType).await.unwrap(), Vec::<String>::new());
        // An agent's rename reaches the calls (and numbers) that refer to it by id, in its tenant only.
        let number = json!({"phone_number": "+918000000001", "agent_type": "Sales", "agent_id": "sales"});
        store
            .put(Collection::PhoneNumbers, &Record { org_id: "org1".into(), id: "918000000001".into(), doc: number })
            .await
            .unwrap();
        let theirs = json!({"agent_type": "Sales", "agent_id": "sales", "created_at": "2024-11-24T07:00:00.000Z"});
        store.put(Collection::CallLogs, &Record { org_id: "org2".into(), id: "x2".into(), doc: theirs }).await.unwrap();
        assert_eq!(store.rename_agent("org1", "sales", "Sales & Renewals").await.unwrap(), 4);
        assert_eq!(store.rename_agent("org1", "sales", "Sales & Renewals").await.unwrap(), 0);
        let renamed = CallLogQuery { agent_type: Some("Sales & Renewals".into()), ..all.clone() };
        assert_eq!(page(renamed).await, (vec!["c4".into(), "c2".into(), "c1".into()], 3));
        let number = store.get(Collection::PhoneNumbers, "org1", "918000000001").await.unwrap().unwrap();
        assert_eq!(number.doc["agent_type"], "Sales & Renewals");
        assert_eq!(number.doc["phone_number"], "+918000000001");
        let theirs = store.get(Collection::CallLogs, "org2", "x2").await.unwrap().unwrap();
        assert_eq!(theirs.doc["agent_type"], "Sales");
        store.delete(Collection::CallLogs, "org2", "x2").await.unwrap();

        // Another tenant's calls never appear.
        assert_eq!(page(CallLogQuery { org_id: "org2".into(), ..all.clone() }).await, (vec!["x1".into()], 1));
        assert_eq!(page(CallLogQuery { org_id: "nobody".into(), ..all }).await, (vec![], 0));

        // A node's calls still in progress, in every tenant: its next start closes them.
        let open = [("org1", "p1", "n1", "in-progress"), ("org2", "p2", "n1", "in-progress")];
        let others = [("org1", "p3", "n1", "completed"), ("org1", "p4", "n2", "in-progress")];
        for (org, id, node, status) in open.iter().chain(&others) {
            let doc = json!({"node_id": node, "status": status, "created_at": "2024-11-25T07:00:00.000Z"});
            store.put(Collection::CallLogs, &Record { org_id: (*org).into(), id: (*id).into(), doc }).await.unwrap();
        }
        let found = store.call_logs_in_progress_on("n1").await.unwrap();
        let keys: Vec<(String, String)> = found.into_iter().map(|r| (r.org_id, r.id)).collect();
        assert_eq!(keys, [("org1".to_string(), "p1".to_string()), ("org2".to_string(), "p2".to_string())]);
        assert!(store.call_logs_in_progress_on("nobody").await.unwrap().is_empty());
        for (org, id, _, _) in open.iter().chain(&others) {
            store.delete(Collection::CallLogs, org, id).await.unwrap();
        }
        keyset(store).await;
    }

    /// Keyset paging over ties, missing and null sort values, text where numbers are expected and a value no
    /// key represents: walking by keys, or by offsets, gives the order of one big page, for every sort and filter.
    async fn keyset(store: &Store) {
        let calls = [
            (
                "k1",
                json!({"agent_type": "A", "created_at": "2024-01-01T00:00:00.000Z", "duration": 10, "inbound": true, "end_time_utc": "x"}),
            ),
            (
                "k2",
                json!({"agent_type": "A", "created_at": "2024-01-01T00:00:00.000Z", "duration": 10.0, "inbound": true, "end_time_utc": "x"}),
            ),
            (
                "k3",
                json!({"agent_type": "A", "created_at": "2024-01-02T00:00:00.000Z", "call_busy": true, "inbound": false}),
            ),
            ("k4", json!({"agent_type": "A", "duration": 5, "inbound": true})),
            (
                "k5",
                json!({"agent_type": "A", "created_at": "2024-01-02T00:00:00.000Z", "duration": "7", "end_time_utc": "x"}),
            ),
            (
                "k6",
                json!({"agent_type": "A", "created_at": "2024-01-03T00:00:00.000Z", "duration": 10, "inbound": false, "end_time_utc": "x"}),
            ),
            ("k7", json!({"agent_type": "A", "created_at": null, "duration": null, "inbound": true})),
            (
                "k8",
                json!({"agent_type": "A", "created_at": "2024-01-01T00:00:00.000Z", "duration": 2.5, "call_busy": true}),
            ),
            // SQLite reads `true` as 1, MongoDB sorts booleans after strings: no key represents it.
            (
                "k9",
                json!({"agent_type": "B", "created_at": "2024-01-02T00:00:00.000Z", "duration": true, "end_time_utc": "x"}),
            ),
        ];
        for (id, doc) in calls {
            store.put(Collection::CallLogs, &Record { org_id: "keys".into(), id: id.into(), doc }).await.unwrap();
        }
        let theirs = json!({"agent_type": "A", "created_at": "2024-01-02T00:00:00.000Z", "duration": 10});
        store
            .put(Collection::CallLogs, &Record { org_id: "keys2".into(), id: "k5".into(), doc: theirs })
            .await
            .unwrap();
        let ids = |page: &CallLogPage| page.records.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let base =
            CallLogQuery { org_id: "keys".into(), agent_type: Some("A".into()), limit: 100, ..CallLogQuery::default() };
        for (sort, expected) in [
            (CallLogSort::Latest, ["k6", "k5", "k3", "k8", "k2", "k1", "k7", "k4"]),
            (CallLogSort::Oldest, ["k4", "k7", "k1", "k2", "k8", "k3", "k5", "k6"]),
            (CallLogSort::Longest, ["k5", "k6", "k2", "k1", "k4", "k8", "k3", "k7"]),
            (CallLogSort::Shortest, ["k3", "k7", "k8", "k4", "k6", "k2", "k1", "k5"]),
        ] {
            let page = store.query_call_logs(&CallLogQuery { sort, ..base.clone() }).await.unwrap();
            assert_eq!(
                (ids(&page), page.total, page.more),
                (expected.map(String::from).to_vec(), 8, false),
                "{sort:?}"
            );
        }
        let statuses = [None, Some(CallStatus::Busy), Some(CallStatus::Completed), Some(CallStatus::InProgress)];
        for sort in [CallLogSort::Latest, CallLogSort::Oldest, CallLogSort::Longest, CallLogSort::Shortest] {
            for (agent, inbound, status) in statuses.iter().flat_map(|s| {
                [(None, None, *s), (Some("A"), None, *s), (None, Some(true), *s), (None, Some(false), *s)]
            }) {
                let query = CallLogQuery {
                    org_id: "keys".into(),
                    agent_type: agent.map(String::from),
                    inbound,
                    status,
                    sort,
                    limit: 100,
                    ..CallLogQuery::default()
                };
                let whole = store.query_call_logs(&query).await.unwrap();
                let what = format!("{sort:?} {agent:?} {inbound:?} {status:?}");
                for limit in [1, 2, 3] {
                    // By keys (by position after a call no key represents), as a client follows cursors.
                    let (mut walked, mut position, mut after) = (Vec::new(), 0, None);
                    loop {
                        let q = CallLogQuery { limit, offset: position, after: after.clone(), ..query.clone() };
                        let page = store.query_call_logs(&q).await.unwrap();
                        assert_eq!(page.total, whole.total, "{what}");
                        walked.extend(ids(&page));
                        position += page.records.len() as u64;
                        after = page.last_key(sort);
                        assert!(walked.len() <= whole.records.len(), "{what} by {limit}: {walked:?}");
                        if !page.more {
                            break;
                        }
                    }
                    assert_eq!(walked, ids(&whole), "{what}: walked by keys, {limit} at a time");
                    // By offsets (pages past the middle are read backwards).
                    let mut paged = Vec::new();
                    for n in 0..whole.total.div_ceil(limit) {
                        let page = store
                            .query_call_logs(&CallLogQuery { limit, offset: n * limit, ..query.clone() })
                            .await
                            .unwrap();
                        assert_eq!(page.more, (n + 1) * limit < whole.total, "{what}");
                        paged.extend(ids(&page));
                    }
                    assert_eq!(paged, ids(&whole), "{what}: paged by offset, {limit} at a time");
                }
            }
        }
        // A key never reaches across tenants: the same key in another org pages that org's calls only.
        let first = store.query_call_logs(&CallLogQuery { limit: 1, ..base.clone() }).await.unwrap();
        let after = first.last_key(CallLogSort::Latest);
        let theirs = CallLogQuery { org_id: "keys2".into(), agent_type: None, after, ..base.clone() };
        let page = store.query_call_logs(&theirs).await.unwrap();
        assert_eq!((ids(&page), page.total), (vec!["k5".to_string()], 1));
        for id in ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"] {
            store.delete(Collection::CallLogs, "keys", id).await.unwrap();
        }
        store.delete(Collection::CallLogs, "keys2", "k5").await.unwrap();
    }
}

impl crate::Store {
    /// The call logs still in progress (`status: "in-progress"`) that node `node_id` wrote, in every tenant:
    /// after a crash, the node's next start closes them.
    pub async fn call_logs_in_progress_on(&self, node_id: &str) -> crate::Result<Vec<Record>> {
        match self {
            crate::Store::Sqlite(s) => s.call_logs_in_progress_on(node_id).await,
            crate::Store::Mongo(m) => m.call_logs_in_progress_on(node_id).await,
        }
    }
}
