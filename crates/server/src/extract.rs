//! Request extractors whose failures answer in the JSON error envelope, and
//! the `If-Match` header's version.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use std::time::Duration;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body; a malformed, mistyped or oversized one is a 4xx in the
/// envelope, saying what is wrong and where.
///
/// The body is read as JSON whatever its `Content-Type`: the seed's own
/// `curl -d '{...}'` sends `application/x-www-form-urlencoded`, and refusing
/// it would help nobody.
pub struct JsonBody<T>(pub T);

impl<T> FromRequest<AppState> for JsonBody<T>
where
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "empty_body",
                "the request needs a JSON body",
            ));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// A JSON body that may be left out: no body reads as `T::default()`.
pub struct OptionalJsonBody<T>(pub T);

impl<T> FromRequest<AppState> for OptionalJsonBody<T>
where
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse_json(&bytes).map(OptionalJsonBody)
    }
}

/// Reads one JSON document of type `T`, locating a mismatch by its path.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    ff_documents::check_depth(bytes)?;
    {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let located = if path.is_empty() || path == "." {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            };
            if inner.is_syntax() || inner.is_eof() {
                malformed(&located)
            } else {
                ApiError::bad_request(
                    "invalid_body",
                    format!("the body does not have the expected shape: {located}"),
                )
            }
        })?;
        // Nothing but whitespace may follow the document.
        deserializer.end().map_err(|e| malformed(&e.to_string()))?;
        Ok(value)
    }
}

fn malformed(located: &str) -> ApiError {
    ApiError::bad_request(
        "malformed_json",
        format!("the body is not valid JSON: {located}"),
    )
}

/// The body's bytes, whatever they are; an oversized or unreadable body is a
/// 4xx in the envelope (axum's own `Bytes` rejection answers plain text),
/// and so is one that does not arrive whole within
/// `--body-read-timeout-secs` (a client dripping its body would otherwise
/// hold a connection and a task for ever).
pub struct RawBody(pub axum::body::Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = Duration::from_secs(state.config.body_read_timeout_secs);
        // A body that came with the headers is read at the first poll, and
        // the timer is then never armed.
        let read = axum::body::Bytes::from_request(request, state);
        match tokio::time::timeout(limit, read).await {
            Ok(Ok(bytes)) => Ok(RawBody(bytes)),
            Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Ok(Err(rejection)) => Err(ApiError::bad_request("invalid_body", rejection.body_text())),
            Err(_) => Err(ApiError::RequestTimeout(format!(
                "the request body did not arrive within {} s",
                limit.as_secs()
            ))),
        }
    }
}

/// Path parameters, as axum's `Path`, except that one that does not read as
/// its type (`/versions/one`, invalid percent-encoding) is a 400 in the
/// envelope rather than axum's plain text.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| ApiError::bad_request("invalid_path", rejection.body_text()))
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
        // Nothing stored holds a control character (writes refuse them), and
        // PostgreSQL cannot even compare with a NUL (it answered 503 for
        // `?status=%00`): refused here alike on both backends.
        if parts.uri.query().is_some_and(has_control_character) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "query parameters may not contain control characters",
            ));
        }
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

/// Whether a query string, once percent-decoded, holds a control character.
#[expect(
    clippy::arithmetic_side_effects,
    reason = "i stays within the query's length, which is far below usize::MAX"
)]
fn has_control_character(query: &str) -> bool {
    let bytes = query.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            _ => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded)
        .chars()
        .any(char::is_control)
}

/// A version named by `If-Match` (`"3"`, `W/"3"` or `3`).
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "invalid_if_match",
            format!("If-Match must be a version number such as \"3\", found {text:?}"),
        )
    })
}
