//! The org's do-not-call list through `oneshot`, on both stores (an embedded SQLite file and MongoDB:
//! SecantusDB on loopback): numbers normalised to E.164 from JSON or a text/CSV body, precise errors, roles,
//! tenant scoping, the audit log, and contact-list uploads marking listed numbers `dnc-skipped`.

#[macro_use]
mod common;

use axum::http::{Method, StatusCode};
use common::Harness;
use serde_json::{json, Value};
use voicera_api::{accounts, ApiConfig, Role};

const T0: i64 = 1_732_000_000_000;

async fn harness(kind: &str) -> Harness {
    common::control_plane(kind, "dnc", ApiConfig::default(), T0).await
}

impl Harness {
    async fn user(&self, email: &str, org: &str, role: Role) -> String {
        accounts::create_user(&self.state, email, "s3cret-pass", "A", "Acme", org, role).await.unwrap();
        let (status, login) = self
            .json(Method::POST, "/api/v1/users/login", "", json!({"email": email, "password": "s3cret-pass"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{login}");
        login["access_token"].as_str().unwrap().to_string()
    }
}

on_both_stores!(
    the_do_not_call_list_is_normalised_scoped_audited_and_used_by_uploads,
    the_do_not_call_list_is_paged_and_adding_keeps_what_is_listed
);

async fn the_do_not_call_list_is_normalised_scoped_audited_and_used_by_uploads(kind: &str) {
    let h = harness(kind).await;
    let org = accounts::create_org(&h.state, "Acme").await.unwrap();
    let owner = h.user("asha@acme.io", &org, Role::Owner).await;
    let viewer = h.user("vik@acme.io", &org, Role::Viewer).await;
    let other_org = accounts::create_org(&h.state, "Other").await.unwrap();
    let stranger = h.user("sam@other.io", &other_org, Role::Owner).await;

    // JSON: any spelling, one entry per number.
    let body = json!({"numbers": ["+1 (555) 100-0001", "555-100-0002", "+15551000001"], "default_country": "US",
                      "reason": "asked not to be called"});
    let (status, added) = h.json(Method::POST, "/api/v1/dnc", &owner, body).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!((added["added"].as_u64(), added["already_listed"].as_u64()), (Some(2), Some(0)), "{added}");
    assert_eq!(added["numbers"], json!(["+15551000001", "+15551000002"]));
    let (_, again) = h.json(Method::POST, "/api/v1/dnc", &owner, json!({"numbers": ["+15551000002"]})).await;
    assert_eq!((again["added"].as_u64(), again["already_listed"].as_u64()), (Some(0), Some(1)), "{again}");

    // Precise errors, nothing stored from a refused request.
    let bad = json!({"numbers": ["+15551000009", "12"], "default_country": "US"});
    let (status, e) = h.json(Method::POST, "/api/v1/dnc", &owner, bad).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("numbers[1]")), "{e}");
    let (status, e) = h
        .json(Method::POST, "/api/v1/dnc", &owner, json!({"numbers": ["+15551000009"], "default_country": "XX"}))
        .await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("default_country")), "{e}");
    let (status, e) = h.json(Method::POST, "/api/v1/dnc", &owner, json!({"numbers": []})).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("numbers")), "{e}");
    let (status, e) = h.json(Method::POST, "/api/v1/dnc", &owner, json!({"number": "+15551000009"})).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("number")), "{e}");

    // A CSV body: a header, the first column.
    let csv = b"number,note\n(555) 100-0003,moved\n\n".to_vec();
    let (status, added) = h.send(Method::POST, "/api/v1/dnc?default_country=US", &owner, "text/csv", csv).await;
    assert_eq!((status, added["numbers"].clone()), (StatusCode::OK, json!(["+15551000003"])), "{added}");
    let csv = b"+15551000004\nnot a number\n".to_vec();
    let (status, e) = h.send(Method::POST, "/api/v1/dnc?default_country=US", &owner, "text/csv", csv).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("file")), "{e}");
    assert!(e["detail"].as_str().unwrap().starts_with("line 2: \"not a number\""), "{e}");

    // Viewers read, members write; another org sees and removes nothing of this one.
    let (status, e) = h.json(Method::POST, "/api/v1/dnc", &viewer, json!({"numbers": ["+15551000005"]})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    let (status, list) = h.json(Method::GET, "/api/v1/dnc", &viewer, Value::Null).await;
    assert_eq!((status, list["count"].as_u64()), (StatusCode::OK, Some(3)), "{list}");
    assert_eq!(list["numbers"][0]["number"], "+15551000001");
    assert_eq!(list["numbers"][0]["reason"], "asked not to be called");
    assert_eq!(list["numbers"][0]["added_by"], "asha@acme.io");
    let (_, theirs) = h.json(Method::GET, "/api/v1/dnc", &stranger, Value::Null).await;
    assert_eq!(theirs["count"], 0, "{theirs}");
    let (status, _) = h.json(Method::DELETE, "/api/v1/dnc/%2B15551000001", &stranger, Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An upload marks listed numbers dnc-skipped (the org's list and the upload's own field together).
    let contacts = b"contact_number,name\n+15551000001,Asha\n+15551000007,Ben\n+15551000008,Chen\n".to_vec();
    let path = "/api/v1/batches/upload?batch_name=spring&agent_type=echo&default_country=US&do_not_call=%2B15551000008";
    let (status, uploaded) = h.send(Method::POST, path, &owner, "text/csv", contacts.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    assert_eq!(
        (uploaded["valid_contacts"].as_u64(), uploaded["dnc_contacts"].as_u64()),
        (Some(1), Some(2)),
        "{uploaded}"
    );
    assert_eq!(
        uploaded["dnc_rows"],
        json!([{"line": 2, "contact_number": "+15551000001"}, {"line": 4, "contact_number": "+15551000008"}])
    );
    // Another org's list does not apply to its uploads.
    let path = "/api/v1/batches/upload?batch_name=spring&agent_type=echo&default_country=US";
    let (_, theirs) = h.send(Method::POST, path, &stranger, "text/csv", contacts).await;
    assert_eq!(theirs["dnc_contacts"], 0, "{theirs}");

    // Removal in any spelling; twice is a 404.
    let (status, removed) =
        h.json(Method::DELETE, "/api/v1/dnc/555-100-0002?default_country=US", &owner, Value::Null).await;
    assert_eq!((status, removed["removed"].as_str()), (StatusCode::OK, Some("+15551000002")), "{removed}");
    let (status, e) = h.json(Method::DELETE, "/api/v1/dnc/%2B15551000002", &owner, Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    let (status, e) = h.json(Method::DELETE, "/api/v1/dnc/%2B15551000001", &viewer, Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    let (_, list) = h.json(Method::GET, "/api/v1/dnc", &owner, Value::Null).await;
    assert_eq!(list["count"], 2, "{list}");

    // Every change is in the audit log.
    let (status, audit) = h.json(Method::GET, "/api/v1/audit", &owner, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let text = audit.to_string();
    let entries: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{text}"))
        .iter()
        .map(|e| (e["operation"].as_str().unwrap_or_default().into(), e["target"].as_str().unwrap_or_default().into()))
        .collect();
    assert!(entries.contains(&("add_dnc".into(), "2 numbers".into())), "{entries:?}");
    assert!(entries.contains(&("add_dnc".into(), "+15551000003".into())), "{entries:?}");
    assert!(entries.contains(&("remove_dnc".into(), "+15551000002".into())), "{entries:?}");
}

/// `GET /dnc` pages through the list in number order with its total; `POST` adds only the absent numbers
/// (a number listed before keeps its entry) and says which.
async fn the_do_not_call_list_is_paged_and_adding_keeps_what_is_listed(kind: &str) {
    let h = harness(kind).await;
    let org = accounts::create_org(&h.state, "Acme").await.unwrap();
    let owner = h.user("asha@acme.io", &org, Role::Owner).await;
    let first = json!({"numbers": ["+15551000100"], "reason": "first"});
    let (status, added) = h.json(Method::POST, "/api/v1/dnc", &owner, first).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    // 2,500 numbers in one request, one of them listed already and one given twice.
    let mut csv = String::from("number\n");
    for i in (0..2_500).rev() {
        csv.push_str(&format!("+1555100{i:04}\n"));
    }
    csv.push_str("+15551000007\n");
    let (status, added) = h.send(Method::POST, "/api/v1/dnc?reason=bulk", &owner, "text/csv", csv.into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(
        (added["added"].as_u64(), added["already_listed"].as_u64()),
        (Some(2_499), Some(1)),
        "{}",
        added["already_listed"]
    );
    let new = added["numbers"].as_array().unwrap();
    assert_eq!((new.len(), new[0].as_str(), new[99].as_str()), (2_499, Some("+15551000000"), Some("+15551000099")));
    assert_eq!(new[100], "+15551000101", "the listed number is not among the new ones");

    // Pages of 1,000 in number order, each with the total; the number listed first kept its reason.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let (status, list) =
            h.json(Method::GET, &format!("/api/v1/dnc?page={page}&limit=1000"), &owner, Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(
            (list["total"].as_u64(), list["page"].as_u64(), list["limit"].as_u64()),
            (Some(2_500), Some(page), Some(1000))
        );
        seen.extend(list["numbers"].as_array().unwrap().iter().map(|n| n["number"].as_str().unwrap().to_string()));
    }
    let expected: Vec<String> = (0..2_500).map(|i| format!("+1555100{i:04}")).collect();
    assert_eq!(seen, expected);
    let (_, list) = h.json(Method::GET, "/api/v1/dnc?page=2&limit=50", &owner, Value::Null).await;
    let numbers = list["numbers"].as_array().unwrap();
    assert_eq!((numbers.len(), numbers[0]["number"].as_str()), (50, Some("+15551000050")), "{list}");
    assert_eq!(numbers[49]["number"], "+15551000099");
    let (_, default) = h.json(Method::GET, "/api/v1/dnc", &owner, Value::Null).await;
    assert_eq!((default["numbers"].as_array().unwrap().len(), default["count"].as_u64()), (100, Some(2_500)));
    assert_eq!(default["numbers"][0]["number"], "+15551000000");
    let (_, listed) = h.json(Method::GET, "/api/v1/dnc?page=11&limit=10", &owner, Value::Null).await;
    assert_eq!(
        (listed["numbers"][0]["number"].as_str(), listed["numbers"][0]["reason"].as_str()),
        (Some("+15551000100"), Some("first"))
    );
    assert_eq!(listed["numbers"][1]["reason"], "bulk");
    let (_, past) = h.json(Method::GET, "/api/v1/dnc?page=99&limit=1000", &owner, Value::Null).await;
    assert_eq!((past["numbers"].as_array().unwrap().len(), past["total"].as_u64()), (0, Some(2_500)), "{past}");

    // Bad paging names its field.
    for (query, field) in [("page=0", "page"), ("limit=0", "limit"), ("limit=1001", "limit"), ("size=3", "size")] {
        let (status, e) = h.json(Method::GET, &format!("/api/v1/dnc?{query}"), &owner, Value::Null).await;
        assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{query}: {e}");
    }
}
