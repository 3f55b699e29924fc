//! `dnc`: the org's do-not-call list. Numbers are kept in E.164 (normalised by the dialer's
//! [`voicera_dialer::phone`], so `+1 (555) 100-0001` and `+15551000001` are one entry), one document each in
//! `do_not_call` keyed by the number. Contact-list uploads mark listed numbers `dnc-skipped`, and the campaign
//! runner looks each number up again just before dialling it, so a number listed after the upload is never
//! called. Members write (audit-logged), viewers read.

use std::collections::BTreeSet;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use voicera_dialer::phone::{to_e164, CountryPlan};
use voicera_store::{utc_text, Collection, Record, Store, StoreError};

use super::upload::UploadLimit;
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::state::ApiState;

/// Most numbers one request may add.
pub const MAX_NUMBERS_PER_REQUEST: usize = 100_000;
/// Longest `reason`.
const MAX_REASON_CHARS: usize = 200;
/// A text/CSV upload of numbers.
const NUMBER_LIST: UploadLimit = UploadLimit { max_bytes: 5 * 1024 * 1024, what: "a do-not-call list" };

/// The JSON body of `POST /dnc`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    /// The numbers, in any common spelling.
    numbers: Vec<String>,
    /// ISO country whose national format numbers without `+` are read in (default `IN`).
    #[serde(default)]
    default_country: Option<String>,
    /// Why (kept with each number).
    #[serde(default)]
    reason: Option<String>,
}

/// The query of `POST /dnc` (for a CSV body) and `DELETE /dnc/{number}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DncQuery {
    #[serde(default)]
    default_country: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

fn country(code: Option<&str>) -> Result<CountryPlan, ApiError> {
    let code = code.map(str::trim).filter(|c| !c.is_empty()).unwrap_or("IN");
    CountryPlan::for_country(code).ok_or_else(|| {
        ApiError::invalid(
            "default_country",
            format!(
                "{code:?} is not a country the dialer knows ({})",
                CountryPlan::known().collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// Which of `numbers` (E.164) are on the org's list: what an upload flags, looked up in batches
/// ([`Store::get_many`]) so the cost follows the upload, not the list.
pub async fn listed_among(store: &Store, org_id: &str, numbers: &[String]) -> Result<BTreeSet<String>, StoreError> {
    Ok(store.get_many(Collection::DoNotCall, org_id, numbers).await?.into_iter().map(|r| r.id).collect())
}

/// Whether `number` (E.164) is on the org's list.
pub async fn is_listed(store: &Store, org_id: &str, number: &str) -> Result<bool, StoreError> {
    Ok(store.get(Collection::DoNotCall, org_id, number).await?.is_some())
}

fn view(record: &Record) -> Value {
    json!({
        "number": record.id,
        "added_at": record.doc.get("added_at"),
        "added_by": record.doc.get("added_by"),
        "reason": record.doc.get("reason"),
    })
}

/// Numbers per page of `GET /dnc` unless `limit` says otherwise.
const DEFAULT_PAGE_SIZE: u64 = 100;
/// Most numbers per page.
const MAX_PAGE_SIZE: u64 = 1000;

/// The query of `GET /dnc`: the audit log's and contacts' paging.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1-based page.
    #[serde(default)]
    page: Option<u64>,
    /// Numbers per page (1 to 1000, default 100).
    #[serde(default)]
    limit: Option<u64>,
}

/// `GET /dnc?page=&limit=`: one page of the org's do-not-call numbers in number order, and how many there are
/// in all (`total`; `count` says the same, as before paging).
pub async fn list(
    caller: Caller,
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::invalid("page", "pages start at 1"));
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("limit is 1 to {MAX_PAGE_SIZE}")));
    }
    let skip = (page - 1).saturating_mul(limit);
    let (records, total) = state.store().list_page(Collection::DoNotCall, &caller.org_id, skip, limit).await?;
    let numbers: Vec<Value> = records.iter().map(view).collect();
    Ok(Json(json!({"numbers": numbers, "total": total, "count": total, "page": page, "limit": limit})))
}

/// The numbers of a text or CSV body: the first field of each line (`,` or `;` separated, quotes dropped); a
/// first line that is not a number is a header. Every bad line is an error naming its line.
fn numbers_of_text(bytes: &[u8], country: &CountryPlan) -> Result<Vec<String>, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        ApiError::invalid("file", format!("line {line}: not UTF-8 text"))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut numbers = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let field = line.split([',', ';']).next().unwrap_or_default().trim().trim_matches('"').trim();
        if field.is_empty() {
            continue;
        }
        match to_e164(field, country) {
            Ok(number) => numbers.push(number),
            // A header (`number`, `contact_number`): letters, no digits.
            Err(_) if index == 0 && !field.chars().any(|c| c.is_ascii_digit()) => {}
            Err(problem) => return Err(ApiError::invalid("file", format!("line {}: {field:?}: {problem}", index + 1))),
        }
    }
    Ok(numbers)
}

/// `POST /dnc`: adds numbers to the org's list, from JSON `{numbers, default_country?, reason?}` or a text/CSV
/// body (one number per line, first column; `default_country` and `reason` in the query). All or nothing: a
/// number that is not one fails the request naming it.
pub async fn add(
    caller: Caller,
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<DncQuery>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "changing the do-not-call list")?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (numbers, reason) = if content_type.starts_with("application/json") {
        let ApiJson(body) = ApiJson::<AddBody>::from_request(request, &state).await?;
        let country = country(body.default_country.as_deref().or(query.default_country.as_deref()))?;
        let mut numbers = Vec::with_capacity(body.numbers.len());
        for (i, raw) in body.numbers.iter().enumerate() {
            let number = to_e164(raw, &country)
                .map_err(|e| ApiError::invalid(format!("numbers[{i}]"), format!("{raw:?}: {e}")))?;
            numbers.push(number);
        }
        (numbers, body.reason.or(query.reason))
    } else {
        let country = country(query.default_country.as_deref())?;
        let bytes = NUMBER_LIST.raw_body(request).await?;
        (numbers_of_text(&bytes, &country)?, query.reason)
    };
    if numbers.is_empty() {
        return Err(ApiError::invalid("numbers", "no numbers given"));
    }
    if numbers.len() > MAX_NUMBERS_PER_REQUEST {
        return Err(ApiError::invalid("numbers", format!("at most {MAX_NUMBERS_PER_REQUEST} numbers per request")));
    }
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control)) {
        return Err(ApiError::invalid("reason", format!("one line of at most {MAX_REASON_CHARS} characters")));
    }
    // Each number inserted only where absent: the org's list is never read to find the new ones (it may hold
    // millions), and a number listed meanwhile by another request keeps its first entry.
    let requested: BTreeSet<String> = numbers.into_iter().collect();
    let now = utc_text(state.now());
    let records: Vec<Record> = requested
        .iter()
        .map(|number| Record {
            org_id: caller.org_id.clone(),
            id: number.clone(),
            doc: json!({"number": number, "added_at": now, "added_by": caller.email, "reason": reason}),
        })
        .collect();
    let inserted = state.store().insert_many_if_absent(Collection::DoNotCall, &records).await?;
    let new: Vec<&String> = requested.iter().zip(&inserted).filter(|(_, new)| **new).map(|(n, _)| n).collect();
    if !new.is_empty() {
        let target = match new.as_slice() {
            [only] => (*only).clone(),
            _ => format!("{} numbers", new.len()),
        };
        crate::audit::record(&state, &caller, "add_dnc", &target).await?;
    }
    Ok(Json(json!({
        "status": "success",
        "added": new.len(),
        "already_listed": requested.len() - new.len(),
        "numbers": new,
    })))
}

/// `DELETE /dnc/{number}`: takes a number off the org's list (in any spelling; `default_country` in the query
/// for a national one).
pub async fn remove(
    caller: Caller,
    State(state): State<ApiState>,
    Path(number): Path<String>,
    ApiQuery(query): ApiQuery<DncQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "changing the do-not-call list")?;
    let country = country(query.default_country.as_deref())?;
    let not_listed = || ApiError::not_found(format!("{number:?} is not on your org's do-not-call list"));
    let normalised = to_e164(&number, &country).map_err(|_| not_listed())?;
    if !state.store().delete(Collection::DoNotCall, &caller.org_id, &normalised).await? {
        return Err(not_listed());
    }
    crate::audit::record(&state, &caller, "remove_dnc", &normalised).await?;
    Ok(Json(json!({"status": "success", "removed": normalised})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lists_skip_a_header_and_name_bad_lines() {
        let us = CountryPlan::for_country("US").unwrap();
        let numbers =
            numbers_of_text(b"\xef\xbb\xbfnumber,note\n(555) 100-0001,x\n\n\"+1 555 100 0002\"\n", &us).unwrap();
        assert_eq!(numbers, ["+15551000001", "+15551000002"]);
        let error = numbers_of_text(b"+15551000001\n12\n", &us).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("file"));
        assert!(error.detail.starts_with("line 2: \"12\""), "{}", error.detail);
        assert!(numbers_of_text(b"number\nfoo\n", &us).unwrap_err().detail.starts_with("line 2"));
        assert!(numbers_of_text(b"+1555\xff\n", &us).unwrap_err().detail.contains("UTF-8"));
    }
}
