//! The call history as the console reads it: one tenant's call logs filtered, sorted and paged in the store
//! (never loaded whole into the API), with the total for the pager. Both backends answer the same
//! [`CallLogQuery`] over the original's call-log fields (`agent_type`, `from_number`, `to_number`, `inbound`,
//! `call_busy`, `end_time_utc`, `start_time_utc`, `created_at`, `duration`, `latency_metrics.turns`), with
//! indexes on the two sort orders (creation time, duration) per tenant.

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
    /// Calls skipped before the page starts.
    pub offset: u64,
    /// Most calls on the page.
    pub limit: u64,
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
}

/// The call-log query's conformance, run on each backend (SQLite in `sqlite.rs`, MongoDB in
/// `tests/mongodb.rs`); panics on the first difference.
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
