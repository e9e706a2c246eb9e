//! Whole documents in a request body or a file (an import, a
//! `flag-dependencies.yaml`), read as JSON or YAML with bounds that keep a
//! hostile document from stalling the reader.
//!
//! - The format is the declared one. Only an undeclared document is read as
//!   JSON when it opens like JSON (`{` or `[`), else as YAML.
//! - Nesting is capped at [`MAX_DEPTH`] levels in both formats, checked in
//!   one linear pass for JSON ([`too_deep`]) and by the YAML parser's own
//!   budget (whose limits on events, nodes and aliases also stop
//!   billion-laughs documents).
//! - [`strip_meta`] removes the fields a response adds to a document, so that
//!   a client may send back what it read.
//!
//! A crate of its own, with no I/O and no server dependency, so that the
//! fuzz targets (`fuzz/`) build it in a few minutes rather than building the
//! whole service.

// Requests, documents and contexts reach this crate's arithmetic: it must
// neither panic nor wrap unnoticed. Where an invariant keeps an operation in
// range, the function says which (`#[expect(..., reason = ...)]`).
#![cfg_attr(not(test), deny(clippy::panic, clippy::arithmetic_side_effects))]

use std::fmt;

use serde_json::Value;

/// The deepest nesting of arrays and objects a document may have.
pub const MAX_DEPTH: usize = 64;

/// The format of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON only.
    Json,
    /// YAML only.
    Yaml,
    /// Not declared: JSON when it opens like JSON, else YAML.
    Either,
}

/// Why a document could not be read: a stable machine-readable `code`
/// (`invalid_body`, `document_too_deep`, `malformed_json`, `malformed_yaml`,
/// `invalid_version`) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    /// The error code an API answers with.
    pub code: &'static str,
    /// What is wrong, and where when known.
    pub message: String,
}

impl DocumentError {
    fn new(code: &'static str, message: impl Into<String>) -> DocumentError {
        DocumentError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DocumentError {}

/// Parses `body` as `format`, refusing documents nested deeper than
/// [`MAX_DEPTH`].
pub fn parse_document(body: &[u8], format: Format) -> Result<Value, DocumentError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| DocumentError::new("invalid_body", "the document must be UTF-8 text"))?;
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
pub fn check_depth(json: &[u8]) -> Result<(), DocumentError> {
    match too_deep(json, MAX_DEPTH) {
        None => Ok(()),
        Some(at) => Err(DocumentError::new(
            "document_too_deep",
            format!("the body is nested deeper than {MAX_DEPTH} levels (at byte {at})"),
        )),
    }
}

fn parse_json(text: &str) -> Result<Value, DocumentError> {
    check_depth(text.as_bytes())?;
    serde_json::from_str::<Value>(text).map_err(|e| {
        DocumentError::new("malformed_json", format!("the body is not valid JSON: {e}"))
    })
}

fn parse_yaml(text: &str) -> Result<Value, DocumentError> {
    let mut options = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    options.budget = Some(budget);
    serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| {
        DocumentError::new("malformed_yaml", format!("the body is not valid YAML: {e}"))
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
                depth = depth.saturating_add(1);
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

/// Fields a response adds to a document. A client may send a document it
/// read back unchanged: these are removed before parsing (`version` becomes
/// the expected version).
pub const META_FIELDS: &[&str] = &["version", "created_at", "updated_at", "deleted", "warnings"];

/// Removes the response metadata ([`META_FIELDS`]) from a document; returns
/// its `version`.
pub fn strip_meta(doc: &mut Value) -> Result<Option<i64>, DocumentError> {
    let Value::Object(map) = doc else {
        return Ok(None);
    };
    let version =
        match map.get("version") {
            None | Some(Value::Null) => None,
            Some(v) => Some(whole_number(v).ok_or_else(|| {
                DocumentError::new("invalid_version", "version must be an integer")
            })?),
        };
    for field in META_FIELDS {
        map.shift_remove(*field);
    }
    Ok(version)
}

/// A JSON number that is a whole number: `2`, and also `2.0`, which JSON
/// does not tell apart from it (nor does JSON Schema's `integer`).
fn whole_number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        let f = value.as_f64()?;
        // i64::MAX as f64 rounds up to 2^63, which is out of range.
        let in_range = f >= i64::MIN as f64 && f < i64::MAX as f64;
        (f.fract() == 0.0 && in_range).then_some(f as i64)
    })
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        assert_eq!(too_deep(b"[[[]]]", 3), None);
        assert_eq!(too_deep(b"[[[[]]]]", 3), Some(3));
        assert_eq!(too_deep(br#"{"a": "[[[[[[", "b": [1]}"#, 2), None);
        assert_eq!(too_deep(br#"["\"[[[[", [[[0]]]]"#, 3), Some(13));
        assert_eq!(too_deep(b"[][][][][][]", 1), None);
    }

    #[test]
    fn declared_json_is_never_read_as_yaml() {
        let error = parse_document(b"a: 1", Format::Json).unwrap_err();
        assert_eq!(error.code, "malformed_json");
        assert_eq!(
            parse_document(b"a: 1", Format::Either).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(parse_document(b" [1]", Format::Either).unwrap(), json!([1]));
    }

    #[test]
    fn deep_documents_are_refused_in_both_formats() {
        let deep_json = format!("{}{}", "[".repeat(65), "]".repeat(65));
        let error = parse_document(deep_json.as_bytes(), Format::Json).unwrap_err();
        assert_eq!(error.code, "document_too_deep");
        assert!(error.message.contains("at byte 64"), "{error}");
        let deep_yaml = format!("a: {}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(
            parse_document(deep_yaml.as_bytes(), Format::Yaml)
                .unwrap_err()
                .code,
            "malformed_yaml"
        );
        let fine = format!("a: {}{}", "[".repeat(10), "]".repeat(10));
        assert!(parse_document(fine.as_bytes(), Format::Yaml).is_ok());
    }

    #[test]
    fn text_must_be_utf8() {
        let error = parse_document(&[0xff, 0xfe], Format::Either).unwrap_err();
        assert_eq!(error.code, "invalid_body");
    }

    #[test]
    fn meta_fields_are_removed_and_the_version_read() {
        let mut doc = json!({"key": "a", "version": 3.0, "created_at": "x", "deleted": false});
        assert_eq!(strip_meta(&mut doc).unwrap(), Some(3));
        assert_eq!(doc, json!({"key": "a"}));
        let mut null_version = json!({"key": "a", "version": null});
        assert_eq!(strip_meta(&mut null_version).unwrap(), None);
        for bad in [json!(2.5), json!("2"), json!(1e300)] {
            let mut doc = json!({"version": bad});
            assert_eq!(strip_meta(&mut doc).unwrap_err().code, "invalid_version");
        }
        let mut not_an_object = json!([1]);
        assert_eq!(strip_meta(&mut not_an_object).unwrap(), None);
    }
}
