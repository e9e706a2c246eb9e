//! Request extractors whose failures answer in the JSON error envelope.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; a malformed, mistyped or oversized one is a 4xx in the
/// envelope, saying what is wrong and where.
///
/// The body is read as JSON whatever its `Content-Type`: the seed's own
/// `curl -d '{...}'` sends `application/x-www-form-urlencoded`, and refusing
/// it would help nobody.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::bad_request("invalid_body", rejection.body_text())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "empty_body",
                "the request needs a JSON body",
            ));
        }
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(deserializer)
            .map(JsonBody)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let located = if path.is_empty() || path == "." {
                    inner.to_string()
                } else {
                    format!("{path}: {inner}")
                };
                if inner.is_syntax() || inner.is_eof() {
                    ApiError::bad_request(
                        "malformed_json",
                        format!("the body is not valid JSON: {located}"),
                    )
                } else {
                    ApiError::bad_request(
                        "invalid_body",
                        format!("the body does not have the expected shape: {located}"),
                    )
                }
            })
    }
}

/// The innermost error message (serde's, with its line and column).
fn source_text(error: &dyn std::error::Error) -> String {
    let mut current: &dyn std::error::Error = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// Query parameters; unknown or mistyped ones are a 400 in the envelope.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryParams(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::bad_request(
                "invalid_query",
                format!("invalid query parameters: {}", source_text(&e)),
            )),
            Err(other) => Err(ApiError::bad_request("invalid_query", other.body_text())),
        }
    }
}
