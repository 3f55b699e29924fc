//! What the dialer keeps of a campaign, through `oneshot`, on both stores (an embedded SQLite file and MongoDB:
//! SecantusDB on loopback):
//!
//! - Deleting a batch deletes its pacing document, live-call slots and dial registrations with its contacts,
//!   and nothing of another batch (one whose id the deleted one's is a prefix of included) or another org.
//! - A campaign's ring time-out is checked against the dialer's lease (`[campaigns] lease_ms`): under two
//!   thirds of it, with a 422 naming `ring_timeout_seconds` and the range that fits, or, for a lease too short
//!   for any ring time-out (the node refuses one; an API configured with one says so), the lease range.

#[macro_use]
mod common;

use axum::http::{Method, StatusCode};
use common::Harness;
use serde_json::{json, Value};
use voicera_api::{accounts, ApiConfig, Role};
use voicera_dialer::dials::{DialDocument, NewDial};
use voicera_dialer::pacing::{reserve_start, PacingDocument};
use voicera_dialer::slots::{plan_claim, SlotDocument};
use voicera_store::{Collection, Record, Store};

const T0: i64 = 1_732_000_000_000;

async fn harness(kind: &str, campaign_lease_ms: u64) -> Harness {
    common::control_plane(kind, "campaign_records", ApiConfig { campaign_lease_ms, ..ApiConfig::default() }, T0).await
}

impl Harness {
    async fn owner(&self, org_name: &str, email: &str) -> (String, String) {
        let org = accounts::create_org(&self.state, org_name).await.unwrap();
        accounts::create_user(&self.state, email, "s3cret-pass", "A", org_name, &org, Role::Owner).await.unwrap();
        let (status, login) = self
            .json(Method::POST, "/api/v1/users/login", "", json!({"email": email, "password": "s3cret-pass"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{login}");
        (org, login["access_token"].as_str().unwrap().to_string())
    }

    /// A batch of two contacts for the built-in `echo` agent: its id.
    async fn upload(&self, token: &str, name: &str) -> String {
        let path = format!("/api/v1/batches/upload?batch_name={name}&agent_type=echo&default_country=US");
        let csv = b"contact_number\n+15551000001\n+15551000002\n".to_vec();
        let (status, uploaded) = self.send(Method::POST, &path, token, "text/csv", csv).await;
        assert_eq!(status, StatusCode::CREATED, "{uploaded}");
        uploaded["batch_id"].as_str().unwrap().to_string()
    }
}

on_both_stores!(
    deleting_a_batch_deletes_its_pacing_slots_and_dials_and_nothing_of_another,
    a_ring_timeout_is_checked_against_the_dialers_lease
);

/// Writes what a dialer node running `batch_id` of `org_id` keeps: its pacing document, two live-call slots and
/// a dial registration (as the runner writes them, through the same pure functions).
async fn dialled(store: &Store, org_id: &str, batch_id: &str, dial_id: &str) {
    let reservation = reserve_start(batch_id, None, 2, T0).unwrap();
    let pacing = Record { org_id: org_id.into(), id: batch_id.into(), doc: reservation.claim.document().to_json() };
    assert!(store.put_if_version(Collection::CampaignPacing, &pacing, None).await.unwrap());
    let mut slots = Vec::new();
    for contact in ["1", "2"] {
        let claim = plan_claim(batch_id, &slots, 5, "node-a", &format!("{batch_id}:{contact}"), T0, 9_000)[0].clone();
        let slot = claim.document().clone();
        let record = Record { org_id: org_id.into(), id: slot.store_id(), doc: slot.to_json() };
        assert!(store.put_if_version(Collection::CampaignSlots, &record, None).await.unwrap());
        slots.push(slot);
    }
    let dial = NewDial {
        batch_id: batch_id.into(),
        contact: format!("{batch_id}:1"),
        agent: "echo".into(),
        provider: "vobiz".into(),
        auth_id: "MA_TEST".into(),
        variables: Vec::new(),
        amd: None,
    };
    let doc = DialDocument::placed(dial, "node-a", T0, 9_000);
    let record = Record { org_id: org_id.into(), id: dial_id.into(), doc: doc.to_json() };
    assert!(store.put_if_version(Collection::CampaignDials, &record, None).await.unwrap());
}

/// What is left of `batch_id` of `org_id` in the dialer's collections: (pacing, slots, dials).
async fn left_of(store: &Store, org_id: &str, batch_id: &str) -> (usize, usize, usize) {
    let pacing = store.get(Collection::CampaignPacing, org_id, batch_id).await.unwrap();
    if let Some(pacing) = &pacing {
        assert_eq!(PacingDocument::from_json(&pacing.doc).unwrap().batch_id, batch_id);
    }
    let slots = store.list_prefix(Collection::CampaignSlots, org_id, &SlotDocument::prefix(batch_id)).await.unwrap();
    let dials = store.list(Collection::CampaignDials, org_id).await.unwrap();
    let dials = dials.iter().filter(|d| d.doc["batch_id"] == json!(batch_id)).count();
    (usize::from(pacing.is_some()), slots.len(), dials)
}

async fn deleting_a_batch_deletes_its_pacing_slots_and_dials_and_nothing_of_another(kind: &str) {
    let h = harness(kind, 60_000).await;
    let (org, owner) = h.owner("Acme", "asha@acme.io").await;
    let (other_org, stranger) = h.owner("Other", "sam@other.io").await;
    let batch = h.upload(&owner, "spring").await;
    let sibling = h.upload(&owner, "summer").await;
    let foreign = h.upload(&stranger, "autumn").await;
    let store = h.state.store();
    dialled(store, &org, &batch, "d1").await;
    dialled(store, &org, &sibling, "d2").await;
    dialled(store, &other_org, &foreign, "d3").await;
    // A batch whose id extends the deleted one's: `b1` must never take `b10`'s slots.
    let longer = format!("{batch}0");
    dialled(store, &org, &longer, "d4").await;
    assert_eq!(left_of(store, &org, &batch).await, (1, 2, 1));

    let (status, deleted) = h.json(Method::DELETE, &format!("/api/v1/batches/{batch}"), &owner, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["contacts_deleted"], 2, "{deleted}");
    assert_eq!(left_of(store, &org, &batch).await, (0, 0, 0), "nothing of the deleted batch is left");
    let contacts = store.list_prefix(Collection::BatchContacts, &org, &format!("{batch}:")).await.unwrap();
    assert!(contacts.is_empty(), "{contacts:?}");
    // Every other batch keeps its records: the same org's, the longer id's, another org's.
    assert_eq!(left_of(store, &org, &sibling).await, (1, 2, 1));
    assert_eq!(left_of(store, &org, &longer).await, (1, 2, 1));
    assert_eq!(left_of(store, &other_org, &foreign).await, (1, 2, 1));
    // Another org cannot delete this org's batch (nor learn of it).
    let (status, _) = h.json(Method::DELETE, &format!("/api/v1/batches/{sibling}"), &stranger, Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(left_of(store, &org, &sibling).await, (1, 2, 1));
}

async fn a_ring_timeout_is_checked_against_the_dialers_lease(kind: &str) {
    // The shortest lease a node accepts: 7.501 s, two thirds of which (5.0007 s) admit the shortest ring (5 s).
    let h = harness(kind, voicera_dialer::config::MIN_LEASE_MS).await;
    let (_, owner) = h.owner("Acme", "asha@acme.io").await;
    let batch = h.upload(&owner, "spring").await;
    let path = format!("/api/v1/campaigns/{batch}");
    let put = |ring: u32| h.json(Method::PUT, &path, &owner, json!({"ring_timeout_seconds": ring, "trunk": "carrier"}));
    let (status, answer) = put(5).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, e) = put(6).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("ring_timeout_seconds")), "{e}");
    assert!(e["detail"].as_str().unwrap().starts_with("must be 5 to 5 seconds"), "{e}");

    // An API configured with a lease too short for any ring time-out names the lease range it needs.
    let h = harness(kind, 5_000).await;
    let (_, owner) = h.owner("Acme", "asha@acme.io").await;
    let batch = h.upload(&owner, "spring").await;
    let body = json!({"ring_timeout_seconds": 5, "trunk": "carrier"});
    let (status, e) = h.json(Method::PUT, &format!("/api/v1/campaigns/{batch}"), &owner, body).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("ring_timeout_seconds")), "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(detail.contains("lease_ms = 5000 ms") && detail.contains("lease_ms must be 7501 to 3600000"), "{e}");
}
