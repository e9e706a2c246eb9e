//! Whole documents in a request body (an import, a `flag-dependencies.yaml`),
//! read as JSON or YAML with bounds that keep a hostile body from stalling
//! the service.
//!
//! - The format is the declared one: `?format=`, else `Content-Type` (a JSON
//!   type is read as JSON only). Only an undeclared body (`curl -d` sends
//!   form encoding) is read as JSON when it opens like JSON, else as YAML.
//! - Nesting is capped at [`MAX_DEPTH`] levels in both formats, checked in
//!   one linear pass for JSON and by the YAML parser's own budget (whose
//!   limits on events, nodes and aliases also stop billion-laughs documents).
//! - A large body is parsed on the blocking pool, so that however long it
//!   takes, the async workers keep answering every other request.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::error::ApiError;

/// The deepest nesting of arrays and objects a document may have.
pub const MAX_DEPTH: usize = 64;

/// Bodies larger than this are parsed off the async workers.
pub const INLINE_PARSE_BYTES: usize = 64 * 1024;

/// The format of a document body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON only.
    Json,
    /// YAML only.
    Yaml,
    /// Not declared: JSON, else YAML.
    Either,
}

impl Format {
    /// The format asked for by `?format=`, else declared by `Content-Type`.
    pub fn of(headers: &HeaderMap, query: Option<&str>) -> Result<Format, ApiError> {
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
    let work = move || parse_document(&body, format).and_then(then);
    if large {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ApiError::Internal(format!("parsing a document failed: {e}")))?
    } else {
        work()
    }
}

/// Parses `body` as `format`, refusing documents nested deeper than
/// [`MAX_DEPTH`].
pub fn parse_document(body: &[u8], format: Format) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("invalid_body", "the document must be UTF-8 text"))?;
    match format {
        Format::Json => parse_json(text),
        Format::Yaml => parse_yaml(text),
        // Text that opens like a JSON document is JSON (and its errors are
        // JSON errors); anything else is YAML, of which JSON scalars are a
        // part.
        Format::Either if looks_like_json(text) => parse_json(text),
        Format::Either => parse_yaml(text),
    }
}

/// Refuses JSON nested deeper than [`MAX_DEPTH`], naming where.
pub fn check_depth(json: &[u8]) -> Result<(), ApiError> {
    match too_deep(json, MAX_DEPTH) {
        None => Ok(()),
        Some(at) => Err(ApiError::bad_request(
            "document_too_deep",
            format!("the body is nested deeper than {MAX_DEPTH} levels (at byte {at})"),
        )),
    }
}

fn parse_json(text: &str) -> Result<Value, ApiError> {
    check_depth(text.as_bytes())?;
    serde_json::from_str::<Value>(text).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    })
}

fn parse_yaml(text: &str) -> Result<Value, ApiError> {
    let mut options = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    options.budget = Some(budget);
    serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| {
        ApiError::bad_request("malformed_yaml", format!("the body is not valid YAML: {e}"))
    })
}

/// Whether the text's first non-blank character opens a JSON object or array.
fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// The byte offset at which JSON text first nests deeper than `limit`
/// arrays and objects, if it does. Brackets inside strings do not count.
/// One pass, no allocation: cheap enough to run before every parse.
pub fn too_deep(bytes: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (at, &byte) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(at);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        assert_eq!(too_deep(b"[[[]]]", 3), None);
        assert_eq!(too_deep(b"[[[[]]]]", 3), Some(3));
        assert_eq!(too_deep(br#"{"a": "[[[[[[", "b": [1]}"#, 2), None);
        assert_eq!(too_deep(br#"["\"[[[[", [[[0]]]]"#, 3), Some(13));
        assert_eq!(too_deep(b"[][][][][][]", 1), None);
    }

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
        assert_eq!(Format::of(&json, None).unwrap(), Format::Json);
        assert_eq!(Format::of(&yaml, None).unwrap(), Format::Yaml);
        assert_eq!(Format::of(&form, None).unwrap(), Format::Either);
        assert_eq!(Format::of(&json, Some("yaml")).unwrap(), Format::Yaml);
        assert!(Format::of(&json, Some("toml")).is_err());
    }

    #[test]
    fn declared_json_is_never_read_as_yaml() {
        let error = parse_document(b"a: 1", Format::Json).unwrap_err();
        assert!(error.to_string().contains("JSON"), "{error}");
        assert_eq!(
            parse_document(b"a: 1", Format::Either).unwrap(),
            serde_json::json!({"a": 1})
        );
    }

    #[test]
    fn deep_documents_are_refused_in_both_formats() {
        let deep_json = format!("{}{}", "[".repeat(65), "]".repeat(65));
        let error = parse_document(deep_json.as_bytes(), Format::Json).unwrap_err();
        assert!(error.to_string().contains("nested deeper"), "{error}");
        let deep_yaml = format!("a: {}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse_document(deep_yaml.as_bytes(), Format::Yaml).is_err());
        let fine = format!("a: {}{}", "[".repeat(10), "]".repeat(10));
        assert!(parse_document(fine.as_bytes(), Format::Yaml).is_ok());
    }
}
