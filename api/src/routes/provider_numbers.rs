//! `vobiz` and `plivo`: the original's proxies to the telephony provider's REST API, with its paths and
//! shapes — create and delete the application that holds an agent's answer URL, list the account's numbers,
//! link a number to an application and unlink it. Requests go out with the caller's org's own account (its
//! `VobizAuthId`/`VobizAuthToken` or `PlivoAuthId`/`PlivoAuthToken` integrations, opened with the master
//! key; the owner's org may use the node's `[telephony.<provider>]` account instead) through the REST client
//! `voicera numbers` uses, to the node's `[telephony.<provider>] api_base` or the provider's public API. The
//! provider's refusals answer 502 with its status and message; no credential is ever in an answer or a log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use voicera_carrier_rest::Provider;
use voicera_carrier_rest::{ProviderAccount, ProviderRest, RestError};

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiJson};
use crate::state::ApiState;

/// The body of `POST /{provider}/application`.
#[derive(Debug, Deserialize)]
pub struct CreateApplication {
    /// The agent's name: the application's name, as the original named it.
    agent_type: String,
    /// Where the provider fetches the call's instructions (this node's `/answer?agent_id=…`).
    answer_url: String,
}

/// The body of `POST /{provider}/numbers/link`.
#[derive(Debug, Deserialize)]
pub struct Link {
    phone_number: String,
    application_id: String,
}

/// The body of `DELETE /{provider}/numbers/unlink`.
#[derive(Debug, Deserialize)]
pub struct Unlink {
    phone_number: String,
}

/// The account `org_id` uses on `provider`: its own (the provider's id and token integrations, e.g.
/// `VobizAuthId`/`VobizAuthToken`), else, for the owner's org only, the node's `[telephony.<provider>]`
/// account. Requests go to the node's `api_base` for the provider when it sets one. None: no account.
pub(crate) async fn org_account(
    state: &ApiState,
    org_id: &str,
    provider: Provider,
) -> Result<Option<ProviderAccount>, ApiError> {
    let (id_name, token_name) = provider.integration_names();
    let node = state.config().telephony_accounts.iter().find(|(p, _)| *p == provider).map(|(_, a)| a);
    let api_base = node.and_then(|a| a.api_base.clone());
    let id = super::integrations::org_key(state, org_id, id_name).await?;
    let token = super::integrations::org_key(state, org_id, token_name).await?;
    if let (Some(auth_id), Some(auth_token)) = (id, token) {
        return Ok(Some(ProviderAccount { auth_id, auth_token, api_base }));
    }
    // The owner's org may use the node's own account (voicera.toml).
    let owners = state.agent_directory().and_then(|d| d.config_org()).is_some_and(|org| org == org_id);
    Ok(node.filter(|_| owners).cloned())
}

/// The REST client for the caller's org's account on `provider` (resolved before the body is checked, so an
/// org without an account always hears that first).
async fn client(state: &ApiState, caller: &Caller, provider: Provider) -> Result<ProviderRest, ApiError> {
    match org_account(state, &caller.org_id, provider).await? {
        Some(account) => {
            Ok(ProviderRest::new(provider, account.api_base.as_deref(), &account.auth_id, &account.auth_token))
        }
        None => {
            let (id_name, token_name) = provider.integration_names();
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "no_provider_account",
                format!(
                    "your org has no {} account: add the {id_name} and {token_name} integrations (POST /api/v1/integrations)",
                    provider.as_str()
                ),
            )
            .at("model"))
        }
    }
}

/// Runs one blocking REST call off the async workers; a provider's refusal becomes a 502 naming it.
async fn call<T: Send + 'static>(
    rest: ProviderRest,
    work: impl FnOnce(&ProviderRest) -> Result<T, RestError> + Send + 'static,
) -> Result<T, ApiError> {
    let outcome = tokio::task::spawn_blocking(move || work(&rest))
        .await
        .map_err(|e| ApiError::internal("provider request", e))?;
    outcome.map_err(|error| {
        tracing::warn!(%error, "provider REST request failed");
        match error {
            RestError::Status { status: 404, .. } => ApiError::not_found(error.to_string()),
            RestError::Unsupported { .. } => {
                ApiError::new(StatusCode::NOT_IMPLEMENTED, "unsupported", error.to_string())
            }
            _ => ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", error.to_string()),
        }
    })
}

/// A number as the provider's path takes it: digits with an optional leading `+`.
fn check_number(number: &str) -> Result<String, ApiError> {
    let number = number.trim();
    let digits = number.strip_prefix('+').unwrap_or(number);
    if !(3..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid("phone_number", format!("{number:?} is not a phone number (+ and digits)")));
    }
    Ok(number.to_string())
}

/// A provider's application id as one path segment.
fn check_application(id: &str, field: &str) -> Result<String, ApiError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(ApiError::invalid(field, format!("{id:?} is not an application id")));
    }
    Ok(id.to_string())
}

/// The hang-up URL that goes with an answer URL: this node's `/telephony/{provider}/hangup` at the answer
/// URL's origin.
fn hangup_url(answer_url: &str, provider: Provider) -> String {
    let (scheme, rest) = answer_url.split_once("://").unwrap_or(("https", answer_url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{authority}/telephony/{}/hangup", provider.as_str())
}

async fn create_application(
    caller: Caller,
    state: ApiState,
    provider: Provider,
    body: CreateApplication,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Member, "creating provider applications")?;
    let rest = client(&state, &caller, provider).await?;
    let name = body.agent_type.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("agent_type", "name the application's agent (1 to 100 characters)"));
    }
    let answer_url = body.answer_url.trim().to_string();
    if !(answer_url.starts_with("https://") || answer_url.starts_with("http://")) || answer_url.len() > 2048 {
        return Err(ApiError::invalid("answer_url", "an http(s) URL the provider fetches when a call arrives"));
    }
    let hangup = hangup_url(&answer_url, provider);
    let (app_name, answer) = (name.clone(), answer_url.clone());
    let app_id = call(rest, move |rest| rest.create_application(&app_name, &answer, &hangup)).await?;
    crate::audit::record(&state, &caller, &format!("create_{}_application", provider.as_str()), &app_id).await?;
    let answer = json!({"status": "success", "message": format!("{} application created", provider.as_str()),
                        "app_id": app_id, "application_id": app_id, "answer_url": answer_url});
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn delete_application(
    caller: Caller,
    state: ApiState,
    provider: Provider,
    app_id: String,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "deleting provider applications")?;
    let rest = client(&state, &caller, provider).await?;
    let app_id = check_application(&app_id, "application_id")?;
    let id = app_id.clone();
    call(rest, move |rest| rest.delete_application(&id)).await?;
    crate::audit::record(&state, &caller, &format!("delete_{}_application", provider.as_str()), &app_id).await?;
    Ok(Json(json!({"status": "success", "message": format!("{} application deleted", provider.as_str())})))
}

async fn numbers(caller: Caller, state: ApiState, provider: Provider) -> Result<Json<Value>, ApiError> {
    let rest = client(&state, &caller, provider).await?;
    let listed = call(rest, |rest| rest.list_numbers()).await?;
    let items: Vec<Value> =
        listed.iter().map(|n| json!({"phone_number": n.number, "application_id": n.application_id})).collect();
    let numbers: Vec<&str> = listed.iter().map(|n| n.number.as_str()).collect();
    Ok(Json(json!({"status": "success", "numbers": numbers, "items": items})))
}

async fn link(
    caller: Caller,
    state: ApiState,
    provider: Provider,
    body: Link,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Member, "linking numbers")?;
    let rest = client(&state, &caller, provider).await?;
    let number = check_number(&body.phone_number)?;
    let app_id = check_application(&body.application_id, "application_id")?;
    let (n, a) = (number.clone(), app_id.clone());
    call(rest, move |rest| rest.attach_number(&n, &a)).await?;
    crate::audit::record(&state, &caller, &format!("link_{}_number", provider.as_str()), &number).await?;
    // 201, as the original answered a link.
    let message = format!("{number} linked to application {app_id}");
    Ok((StatusCode::CREATED, Json(json!({"status": "success", "message": message}))))
}

async fn unlink(caller: Caller, state: ApiState, provider: Provider, body: Unlink) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "unlinking numbers")?;
    let rest = client(&state, &caller, provider).await?;
    let number = check_number(&body.phone_number)?;
    let n = number.clone();
    call(rest, move |rest| rest.detach_number(&n)).await?;
    crate::audit::record(&state, &caller, &format!("unlink_{}_number", provider.as_str()), &number).await?;
    Ok(Json(json!({"status": "success", "message": format!("{number} unlinked")})))
}

/// `POST /vobiz/application`.
pub async fn vobiz_create_application(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateApplication>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create_application(caller, state, Provider::Vobiz, body).await
}

/// `DELETE /vobiz/application/{application_id}`.
pub async fn vobiz_delete_application(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    delete_application(caller, state, Provider::Vobiz, id).await
}

/// `GET /vobiz/numbers`.
pub async fn vobiz_numbers(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    numbers(caller, state, Provider::Vobiz).await
}

/// `POST /vobiz/numbers/link` (201).
pub async fn vobiz_link(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<Link>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    link(caller, state, Provider::Vobiz, body).await
}

/// `DELETE /vobiz/numbers/unlink`.
pub async fn vobiz_unlink(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<Unlink>,
) -> Result<Json<Value>, ApiError> {
    unlink(caller, state, Provider::Vobiz, body).await
}

/// `POST /plivo/application`.
pub async fn plivo_create_application(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<CreateApplication>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create_application(caller, state, Provider::Plivo, body).await
}

/// `DELETE /plivo/application/{application_id}`.
pub async fn plivo_delete_application(
    caller: Caller,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    delete_application(caller, state, Provider::Plivo, id).await
}

/// `GET /plivo/numbers`.
pub async fn plivo_numbers(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    numbers(caller, state, Provider::Plivo).await
}

/// `POST /plivo/numbers/link` (201).
pub async fn plivo_link(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<Link>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    link(caller, state, Provider::Plivo, body).await
}

/// `DELETE /plivo/numbers/unlink`.
pub async fn plivo_unlink(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<Unlink>,
) -> Result<Json<Value>, ApiError> {
    unlink(caller, state, Provider::Plivo, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_application_ids_and_hangup_urls() {
        assert_eq!(check_number(" +918000000001 ").unwrap(), "+918000000001");
        for bad in ["", "+1", "91 800", "../x", "+91800000000000000000000"] {
            assert_eq!(check_number(bad).unwrap_err().field.as_deref(), Some("phone_number"), "{bad}");
        }
        assert!(check_application("app-42_x.1", "application_id").is_ok());
        assert!(check_application("../x", "application_id").is_err() && check_application("", "a").is_err());
        assert_eq!(
            hangup_url("https://voice.example.com/answer?agent_id=sales", Provider::Vobiz),
            "https://voice.example.com/telephony/vobiz/hangup"
        );
    }
}
