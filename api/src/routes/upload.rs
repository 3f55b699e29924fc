//! Reading an uploaded file: the routes that take one (contact lists, knowledge documents) share the limit
//! check while the bytes stream in and the wording of their errors, so both answer a too-large or malformed
//! body the same way.

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;

use crate::error::ApiError;
use crate::state::ApiState;

/// What one route accepts: the largest file and what the file is (named in the too-large error).
#[derive(Debug, Clone, Copy)]
pub(crate) struct UploadLimit {
    /// Largest file, in bytes.
    pub(crate) max_bytes: usize,
    /// The file as the error names it, e.g. "a contact list".
    pub(crate) what: &'static str,
}

impl UploadLimit {
    /// The `413 body_too_large` error, at the `file` field.
    pub(crate) fn too_large(&self) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("{} may be at most {} MB", self.what, self.max_bytes / (1024 * 1024)),
        )
        .at("file")
    }

    /// A multipart reading error: too large when the body limit stopped it, otherwise a bad request.
    pub(crate) fn multipart_error(&self, error: MultipartError) -> ApiError {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            self.too_large()
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("the multipart body: {}", error.body_text()))
        }
    }

    /// The next part of a multipart body, `None` after the last.
    pub(crate) async fn next_field<'a>(&self, multipart: &'a mut Multipart) -> Result<Option<Field<'a>>, ApiError> {
        multipart.next_field().await.map_err(|e| self.multipart_error(e))
    }

    /// A text part's value.
    pub(crate) async fn field_text(&self, field: Field<'_>) -> Result<String, ApiError> {
        field.text().await.map_err(|e| self.multipart_error(e))
    }

    /// A file part's bytes, refused as soon as they pass the limit (never buffered past it).
    pub(crate) async fn file_bytes(&self, field: &mut Field<'_>) -> Result<Vec<u8>, ApiError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| self.multipart_error(e))? {
            if bytes.len() + chunk.len() > self.max_bytes {
                return Err(self.too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// A raw (non-multipart) body, refused past the limit.
    pub(crate) async fn raw_body(&self, request: Request) -> Result<Vec<u8>, ApiError> {
        let body = axum::body::to_bytes(request.into_body(), self.max_bytes + 1).await.map_err(|_| self.too_large())?;
        if body.len() > self.max_bytes {
            return Err(self.too_large());
        }
        Ok(body.to_vec())
    }
}

/// The request's multipart body, or a `400 bad_request` saying why it is not one.
pub(crate) async fn multipart(request: Request, state: &ApiState) -> Result<Multipart, ApiError> {
    Multipart::from_request(request, state).await.map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("the multipart body: {}", e.body_text()))
    })
}
