//! The one error type of the control plane and the one place it becomes HTTP: `{"detail": …, "code": …,
//! "field": …}` (the original's `detail`, plus a machine-readable `code` and the offending `field`). Bodies and
//! queries go through [`ApiJson`] and [`ApiQuery`], so a malformed request gets the same shape as any other
//! error, naming the field serde stopped at.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;
use voicera_store::StoreError;

/// What a request got wrong, or what failed serving it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {detail}")]
pub struct ApiError {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// Stable, machine-readable (`unauthorized`, `forbidden`, `not_found`, `invalid`, ...).
    pub code: &'static str,
    /// For people: what was wrong and, where it helps, what to do.
    pub detail: String,
    /// The request field at fault (`email`, `agent_config.language`), when one is.
    pub field: Option<String>,
    /// Seconds before a refused attempt may be retried (429).
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with this status and code and no field.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, code, detail: detail.into(), field: None, retry_after_secs: None }
    }

    /// The same error, naming the field at fault.
    pub fn at(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    /// The request carries no valid credential (401).
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// The caller is known but may not do this (403).
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// Nothing of the caller's org by that name or id (404; other orgs' things are "not found" too).
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// The `field`'s value is taken already (409), e.g. an email or agent name.
    pub fn conflict(field: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", detail).at(field)
    }

    /// A field's value is not acceptable (422).
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail).at(field)
    }

    /// A failure of ours: logged here, once, and answered without internals.
    pub fn internal(what: &str, error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "{what}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("{what} failed; see the server log"))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        tracing::error!(%error, "store");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "the store failed; see the server log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"detail": self.detail, "code": self.code, "field": self.field});
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A JSON body whose rejections are [`ApiError`]s.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => serde_error(&e.body_text(), "the JSON body"),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not JSON: {}", e.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body is too large")
        }
        other => ApiError::new(other.status(), "bad_request", other.body_text()),
    }
}

/// Query parameters whose rejections are [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(serde_error(&e.body_text(), "the query")),
            Err(other) => Err(ApiError::new(other.status(), "bad_request", other.body_text())),
        }
    }
}

/// A 422 from axum's text for a serde failure (`Failed to deserialize ...: email: invalid type: ... at line 1
/// column 9`), with the field it names.
fn serde_error(text: &str, what: &str) -> ApiError {
    let message = text.split_once(": ").map_or(text, |(_, rest)| rest);
    let message = message.rsplit_once(" at line ").map_or(message, |(m, _)| m);
    let backticked = |m: &str| m.split('`').nth(1).map(str::to_string);
    let (field, message) = if message.starts_with("missing field") || message.starts_with("unknown field") {
        (backticked(message), message.to_string())
    } else {
        match message.split_once(": ") {
            Some((path, rest)) if !path.contains(' ') && path != "." => (Some(path.to_string()), rest.to_string()),
            _ => (None, message.to_string()),
        }
    };
    let error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", format!("{what}: {message}"));
    match field {
        Some(field) => error.at(field),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        let e = serde_error(
            "Failed to deserialize the JSON body into the target type: missing field `email` at line 1 column 2",
            "the JSON body",
        );
        assert_eq!((e.field.as_deref(), e.detail.as_str()), (Some("email"), "the JSON body: missing field `email`"));
        let e = serde_error(
            "Failed to deserialize the JSON body into the target type: agent_config.language: invalid type: integer `3`, expected a string at line 1 column 40",
            "the JSON body",
        );
        assert_eq!(e.field.as_deref(), Some("agent_config.language"));
        assert_eq!(e.detail, "the JSON body: invalid type: integer `3`, expected a string");
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
