//! `org/*`: settings of the caller's own org. `GET /org/retention` shows how long the org keeps its calls;
//! `PUT /org/retention` sets it (`{"recording_retention_days": N}`, 1 to 36500) or clears it (`null`: the
//! node's `[storage] recording_retention_days` applies). The value lives on the org's document in the
//! `Orgs` collection, where every node's retention sweeper (`voicera_records::retention`, field
//! `recording_retention_days`) reads it: calls, their recordings and transcripts older than that many days
//! are deleted together. Admins write; every change is in the audit log.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};
use voicera_store::{utc_text, Collection, Record};

use crate::audit;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiJson};
use crate::state::ApiState;

/// The org document's field the retention sweeper reads (`voicera_records::retention::ORG_FIELD`).
pub const RETENTION_FIELD: &str = "recording_retention_days";
/// Longest retention an org may set: a hundred years (longer is "for ever", which is no retention at all).
pub const MAX_RETENTION_DAYS: u64 = 36_500;

/// The org's own retention, if it set one.
fn retention_of(doc: &Value) -> Option<u64> {
    doc.get(RETENTION_FIELD).and_then(Value::as_u64).filter(|d| *d > 0)
}

fn view(org_id: &str, doc: Option<&Value>) -> Value {
    let days = doc.and_then(retention_of);
    json!({
        "org_id": org_id,
        RETENTION_FIELD: days,
        // Without its own, the node's default (`[storage] recording_retention_days`) applies.
        "source": if days.is_some() { "org" } else { "node_default" },
    })
}

/// `GET /org/retention`: the org's recording retention (`null`: the node's default).
pub async fn get_retention(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer, "reading the org's retention")?;
    let org = state.store().get(Collection::Orgs, &caller.org_id, &caller.org_id).await?;
    Ok(Json(view(&caller.org_id, org.as_ref().map(|r| &r.doc))))
}

/// Reads the body's `recording_retention_days`: a whole number of days in range, or `null` to clear.
fn requested_days(body: &Value) -> Result<Option<u64>, ApiError> {
    let Some(fields) = body.as_object() else {
        return Err(ApiError::invalid("body", "a JSON object {\"recording_retention_days\": N or null}"));
    };
    if let Some(unknown) = fields.keys().find(|k| k.as_str() != RETENTION_FIELD) {
        return Err(ApiError::invalid(unknown.clone(), format!("unknown field {unknown:?}")));
    }
    let wrong = || {
        ApiError::invalid(
            RETENTION_FIELD,
            format!("recording_retention_days must be a whole number of days from 1 to {MAX_RETENTION_DAYS}, or null to use the node's default"),
        )
    };
    match fields.get(RETENTION_FIELD) {
        None => Err(ApiError::invalid(RETENTION_FIELD, "recording_retention_days is required (null clears it)")),
        Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(days) if (1..=MAX_RETENTION_DAYS).contains(&days) => Ok(Some(days)),
            _ => Err(wrong()),
        },
    }
}

/// `PUT /org/retention`: sets (`N` days) or clears (`null`) the org's recording retention. Admins only.
pub async fn put_retention(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "setting the org's retention")?;
    let days = requested_days(&body)?;
    let now = utc_text(state.now());
    let mut org =
        state.store().get(Collection::Orgs, &caller.org_id, &caller.org_id).await?.unwrap_or_else(|| Record {
            org_id: caller.org_id.clone(),
            id: caller.org_id.clone(),
            doc: json!({"org_id": caller.org_id, "created_at": now}),
        });
    if !org.doc.is_object() {
        org.doc = Value::Object(Map::new());
    }
    org.doc[RETENTION_FIELD] = days.map_or(Value::Null, Value::from);
    org.doc["updated_at"] = json!(now);
    state.store().put(Collection::Orgs, &org).await?;
    let (operation, target) = match days {
        Some(days) => ("set_recording_retention", format!("{days} days")),
        None => ("clear_recording_retention", "node default".to_string()),
    };
    audit::record(&state, &caller, operation, &target).await?;
    tracing::info!(org_id = %caller.org_id, days = ?days, by = %caller.email, "recording retention changed");
    Ok(Json(view(&caller.org_id, Some(&org.doc))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_whole_in_range_or_null_and_errors_name_the_field() {
        assert_eq!(requested_days(&json!({"recording_retention_days": 30})).unwrap(), Some(30));
        assert_eq!(requested_days(&json!({"recording_retention_days": 36500})).unwrap(), Some(36_500));
        assert_eq!(requested_days(&json!({"recording_retention_days": null})).unwrap(), None);
        for bad in [json!(0), json!(-1), json!(1.5), json!("30"), json!(36_501), json!(true)] {
            let err = requested_days(&json!({"recording_retention_days": bad})).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(RETENTION_FIELD), "{bad}");
        }
        assert_eq!(requested_days(&json!({})).unwrap_err().field.as_deref(), Some(RETENTION_FIELD));
        assert_eq!(requested_days(&json!({"days": 3})).unwrap_err().field.as_deref(), Some("days"));
        assert_eq!(requested_days(&json!([30])).unwrap_err().field.as_deref(), Some("body"));
    }

    #[test]
    fn the_view_says_whose_retention_applies() {
        assert_eq!(view("o", None), json!({"org_id": "o", "recording_retention_days": null, "source": "node_default"}));
        let doc = json!({"recording_retention_days": 7});
        assert_eq!(view("o", Some(&doc))["source"], "org");
        assert_eq!(view("o", Some(&json!({"recording_retention_days": 0})))["source"], "node_default");
    }
}
