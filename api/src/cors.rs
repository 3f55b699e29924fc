//! CORS for the control plane: the console's origin (the public URL's, [`crate::ApiConfig::public_origin`])
//! and no other gets CORS headers, with credentials (the session cookie); its preflights are answered here.
//! A request from any other origin gets no CORS headers, so a browser keeps the answer from that page, and its
//! preflight is refused.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::ApiState;

/// Methods the console may use across origins.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// Request headers the console may send across origins.
const HEADERS: &str = "authorization, content-type, x-csrf-token";
/// How long a browser may cache a preflight's answer (seconds).
const MAX_AGE: &str = "600";

fn allowed(state: &ApiState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let public = state.config().public_origin()?;
    origin.to_str().ok().filter(|o| o.eq_ignore_ascii_case(&public)).map(|_| origin.clone())
}

/// The middleware: answers preflights, adds CORS headers for the console's origin.
pub(crate) async fn layer(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let origin = allowed(&state, request.headers());
    let preflight = request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        && request.headers().contains_key(header::ORIGIN);
    if preflight {
        let Some(origin) = origin else {
            return (StatusCode::FORBIDDEN, [(header::VARY, "Origin")], Body::empty()).into_response();
        };
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(METHODS));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(HEADERS));
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        return response;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("retry-after"));
    }
    response
}
