//! The meetings list's cursor (keyset paging): where the next page starts, handed to the client as an opaque
//! string and taken back as `cursor`. It holds the last call's sort key and id (the store seeks its index
//! after them instead of skipping `offset` calls) and its position (shown as `page`, and used instead of
//! the key when the call's sort field holds a value no key represents). It is tagged with the API's token
//! key, so a client cannot make or alter one, and bound to the selection it was issued for (org, filters,
//! sort), so it cannot be replayed with other filters or by another org: either is a 422 naming `cursor`.
//!
//! Format: `<payload>.<tag>`, both base64url without padding; the payload is JSON
//! `{"f": selection fingerprint, "k": [sort values] | null, "i": id, "n": position}`, the tag the
//! HMAC-SHA256 of the encoded payload under the token key ([`TokenKey::tag`], purpose [`PURPOSE`]).

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use voicera_store::call_logs::{CallLogKey, CallLogQuery, SortValue};

use crate::auth::token::TokenKey;
use crate::error::ApiError;

/// What the cursor's tag is made for (a tag for another purpose never verifies as a cursor).
pub const PURPOSE: &str = "meetings cursor v1";

/// Longer than any cursor this server issues for sane sort values; anything longer is refused unread.
const MAX_CURSOR_LEN: usize = 4096;

/// Where a page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// The previous page's last call in the sort order (`None`: read by `position`).
    pub key: Option<CallLogKey>,
    /// Calls before the page (exact by offset; counted along a keyset walk, so calls added or deleted
    /// before the page meanwhile are not reflected).
    pub position: u64,
}

/// The selection a cursor belongs to: org, every filter and the sort (not the page size, which may change
/// between pages).
fn fingerprint(query: &CallLogQuery) -> String {
    let selection = json!([
        query.org_id,
        query.agent_type,
        query.agent_id,
        query.from_number,
        query.to_number,
        query.number,
        query.inbound,
        query.status.map(|s| format!("{s:?}")),
        query.from_time,
        query.to_time,
        query.with_latency,
        format!("{:?}", query.sort),
    ]);
    let digest = Sha256::digest(selection.to_string().as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn value_json(value: &SortValue) -> Value {
    match value {
        SortValue::Null => Value::Null,
        SortValue::Number(n) => json!(n),
        SortValue::Text(t) => Value::String(t.clone()),
    }
}

fn value_of(json: &Value) -> Option<SortValue> {
    match json {
        Value::Null => Some(SortValue::Null),
        Value::Number(n) => n.as_f64().map(SortValue::Number),
        Value::String(s) => Some(SortValue::Text(s.clone())),
        _ => None,
    }
}

/// The cursor of `cursor` for `query`'s selection.
pub fn encode(tokens: &TokenKey, query: &CallLogQuery, cursor: &Cursor) -> String {
    let key = cursor.key.as_ref();
    let payload = json!({
        "f": fingerprint(query),
        "k": key.map(|k| k.values.iter().map(value_json).collect::<Vec<_>>()),
        "i": key.map(|k| k.id.clone()),
        "n": cursor.position,
    });
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tag = tokens.tag(PURPOSE, &payload);
    format!("{payload}.{tag}")
}

fn forged() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_cursor",
        "the cursor is not one this server issued, or it was altered; start again without a cursor",
    )
    .at("cursor")
}

/// Where the page of `text` (a cursor from an earlier answer) starts, if it was issued by this server for
/// `query`'s selection.
pub fn decode(tokens: &TokenKey, query: &CallLogQuery, text: &str) -> Result<Cursor, ApiError> {
    if text.len() > MAX_CURSOR_LEN {
        return Err(forged());
    }
    let (payload, tag) = text.split_once('.').ok_or_else(forged)?;
    let expected = tokens.tag(PURPOSE, payload);
    if !bool::from(expected.as_bytes().ct_eq(tag.as_bytes())) {
        return Err(forged());
    }
    // Tagged by us: what follows fails only if this server's format changed.
    let body: Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(forged)?;
    if body.get("f").and_then(Value::as_str) != Some(fingerprint(query).as_str()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "cursor_mismatch",
            "the cursor was issued for other filters or another sort order; send it with the filters and sort of \
             the request that returned it, or start again without a cursor",
        )
        .at("cursor"));
    }
    let position = body.get("n").and_then(Value::as_u64).ok_or_else(forged)?;
    let key = match (body.get("k"), body.get("i")) {
        (Some(Value::Array(values)), Some(Value::String(id))) => {
            let values = values.iter().map(value_of).collect::<Option<Vec<_>>>().ok_or_else(forged)?;
            if values.len() != query.sort.key_fields().len() {
                return Err(forged());
            }
            Some(CallLogKey { values, id: id.clone() })
        }
        (Some(Value::Null) | None, Some(Value::Null) | None) => None,
        _ => return Err(forged()),
    };
    Ok(Cursor { key, position })
}

#[cfg(test)]
mod tests {
    use voicera_store::call_logs::{CallLogSort, CallStatus};

    use super::*;

    fn query() -> CallLogQuery {
        CallLogQuery {
            org_id: "org1".into(),
            status: Some(CallStatus::Completed),
            sort: CallLogSort::Longest,
            limit: 50,
            ..CallLogQuery::default()
        }
    }

    #[test]
    fn a_cursor_comes_back_as_issued_for_its_selection_only() {
        let tokens = TokenKey::new([5; 32]);
        let key = CallLogKey {
            values: vec![SortValue::Number(59.5), SortValue::Text("2024-11-19T07:00:00.000Z".into())],
            id: "CA-1".into(),
        };
        let cursor = Cursor { key: Some(key), position: 100 };
        let text = encode(&tokens, &query(), &cursor);
        assert_eq!(decode(&tokens, &query(), &text).unwrap(), cursor);
        // A smaller page is the same selection.
        assert_eq!(decode(&tokens, &CallLogQuery { limit: 5, ..query() }, &text).unwrap(), cursor);
        let by_position = Cursor { key: None, position: 7 };
        assert_eq!(decode(&tokens, &query(), &encode(&tokens, &query(), &by_position)).unwrap(), by_position);

        let refused = |q: &CallLogQuery, text: &str| {
            let e = decode(&tokens, q, text).unwrap_err();
            assert_eq!((e.status, e.field.as_deref()), (StatusCode::UNPROCESSABLE_ENTITY, Some("cursor")));
            e.code
        };
        assert_eq!(refused(&CallLogQuery { org_id: "org2".into(), ..query() }, &text), "cursor_mismatch");
        assert_eq!(refused(&CallLogQuery { sort: CallLogSort::Shortest, ..query() }, &text), "cursor_mismatch");
        assert_eq!(refused(&CallLogQuery { inbound: Some(true), ..query() }, &text), "cursor_mismatch");
        assert_eq!(refused(&CallLogQuery { status: None, ..query() }, &text), "cursor_mismatch");
        // Another key's cursor, an altered payload, a made-up one, junk.
        assert_eq!(refused(&query(), &encode(&TokenKey::new([6; 32]), &query(), &cursor)), "invalid_cursor");
        let (payload, tag) = text.split_once('.').unwrap();
        let mut body: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        body["n"] = json!(0);
        let altered = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(body.to_string()));
        assert_eq!(refused(&query(), &altered), "invalid_cursor");
        for junk in ["", ".", "abc", "abc.def", &"x".repeat(5000), &format!("{payload}.")] {
            assert_eq!(refused(&query(), junk), "invalid_cursor", "{junk}");
        }
    }
}
