//! Whole documents in a request body (an import, a `flag-dependencies.yaml`):
//! which format a request declares, and reading it off the async workers when
//! it is large. The reading itself, with its bounds on nesting, is
//! `ff_documents`'.
//!
//! - The format is the declared one: `?format=`, else `Content-Type` (a JSON
//!   type is read as JSON only). Only an undeclared body (`curl -d` sends
//!   form encoding) is read as JSON when it opens like JSON, else as YAML.
//! - A large body is parsed on the blocking pool, so that however long it
//!   takes, the async workers keep answering every other request.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
pub use ff_documents::Format;
use ff_documents::{DocumentError, parse_document};
use serde_json::Value;

use crate::error::ApiError;

/// Bodies larger than this are parsed off the async workers.
pub const INLINE_PARSE_BYTES: usize = 64 * 1024;

impl From<DocumentError> for ApiError {
    fn from(error: DocumentError) -> ApiError {
        ApiError::bad_request(error.code, error.message)
    }
}

/// The format asked for by `?format=`, else declared by `Content-Type`.
pub fn declared_format(headers: &HeaderMap, query: Option<&str>) -> Result<Format, ApiError> {
    match query {
        Some("json") => return Ok(Format::Json),
        Some("yaml") => return Ok(Format::Yaml),
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("format: unknown format \"{other}\"; expected json or yaml"),
            ));
        }
        None => {}
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    Ok(if content_type.contains("yaml") {
        Format::Yaml
    } else if content_type.contains("json") {
        Format::Json
    } else {
        Format::Either
    })
}

/// Reads a document body as `format`, then runs `then` on it: both on the
/// blocking pool when the body is large (`then` is where a route validates
/// what it read, which costs in proportion to the body too).
pub async fn read_document<T, F>(body: Bytes, format: Format, then: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Value) -> Result<T, ApiError> + Send + 'static,
{
    let large = body.len() > INLINE_PARSE_BYTES;
    let work = move || {
        parse_document(&body, format)
            .map_err(ApiError::from)
            .and_then(then)
    };
    if large {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ApiError::Internal(format!("parsing a document failed: {e}")))?
    } else {
        work()
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn formats_follow_the_declaration() {
        let json = HeaderMap::from_iter([(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        )]);
        let yaml =
            HeaderMap::from_iter([(header::CONTENT_TYPE, "application/yaml".parse().unwrap())]);
        let form = HeaderMap::from_iter([(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        )]);
        assert_eq!(declared_format(&json, None).unwrap(), Format::Json);
        assert_eq!(declared_format(&yaml, None).unwrap(), Format::Yaml);
        assert_eq!(declared_format(&form, None).unwrap(), Format::Either);
        assert_eq!(declared_format(&json, Some("yaml")).unwrap(), Format::Yaml);
        assert!(declared_format(&json, Some("toml")).is_err());
    }
}
