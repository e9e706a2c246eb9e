//! What text the store takes: the same on both backends.
//!
//! PostgreSQL cannot store a NUL character in text or `jsonb` (SQLite can),
//! so a NUL anywhere is refused before either backend sees it, with the
//! place it was found. Identifiers, names and reasons take no control
//! characters at all (reasons may have line breaks and tabs), and have a
//! length limit: they are shown in lists, logs and the audit trail.

use serde_json::Value;

use crate::types::{ChangeSet, StoreError};

/// The longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// The longest actor, request id or deployment id accepted, in characters.
pub const MAX_ID_CHARS: usize = 200;

/// Checks a change set's own text (actor, reason, request and deployment
/// ids, audit actions). Documents are checked by [`check_document`].
pub fn check_change_set(set: &ChangeSet) -> Result<(), StoreError> {
    check_name("actor", &set.actor, MAX_ID_CHARS)?;
    if let Some(reason) = &set.reason {
        check_reason("reason", reason)?;
    }
    if let Some(request_id) = &set.request_id {
        check_name("request_id", request_id, MAX_ID_CHARS)?;
    }
    if let Some(deployment_id) = &set.deployment_id {
        check_name("deployment_id", deployment_id, MAX_ID_CHARS)?;
    }
    for change in &set.changes {
        check_name("action", &change.action, MAX_ID_CHARS)?;
        if let Some(environment) = &change.environment {
            check_name("environment", environment, MAX_ID_CHARS)?;
        }
    }
    Ok(())
}

/// An identifier or name: no control characters, at most `max` characters.
pub fn check_name(field: &str, text: &str, max: usize) -> Result<(), StoreError> {
    if let Some(at) = text.chars().position(char::is_control) {
        return Err(invalid(
            field,
            format!("control character at position {at}; names and ids are plain text"),
        ));
    }
    check_length(field, text, max)
}

/// A reason: line breaks and tabs allowed, no other control characters.
pub fn check_reason(field: &str, text: &str) -> Result<(), StoreError> {
    let forbidden = |c: &char| c.is_control() && !matches!(c, '\n' | '\r' | '\t');
    if let Some(at) = text.chars().position(|c| forbidden(&c)) {
        return Err(invalid(
            field,
            format!("control character at position {at}; only line breaks and tabs are allowed"),
        ));
    }
    check_length(field, text, MAX_REASON_CHARS)
}

fn check_length(field: &str, text: &str, max: usize) -> Result<(), StoreError> {
    let length = text.chars().count();
    if length > max {
        return Err(invalid(
            field,
            format!("{length} characters; at most {max}"),
        ));
    }
    Ok(())
}

/// A stored document: no NUL character in any string or key. `path` names
/// the document (`flag[checkout]`); the error adds where inside it.
pub fn check_document(path: &str, document: &Value) -> Result<(), StoreError> {
    match document {
        Value::String(text) if text.contains('\0') => Err(invalid(
            path,
            "a NUL character (\\u0000) cannot be stored".to_owned(),
        )),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_document(&format!("{path}[{i}]"), item)),
        Value::Object(members) => members.iter().try_for_each(|(key, value)| {
            if key.contains('\0') {
                return Err(invalid(
                    path,
                    "a NUL character (\\u0000) in a member name cannot be stored".to_owned(),
                ));
            }
            check_document(&format!("{path}.{key}"), value)
        }),
        _ => Ok(()),
    }
}

fn invalid(field: &str, message: String) -> StoreError {
    StoreError::Invalid {
        field: field.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_reasons_and_documents() {
        let cases: [(Result<(), StoreError>, Option<&str>); 9] = [
            (check_name("name", "release manager", 200), None),
            (
                check_name("name", "a\0b", 200),
                Some("control character at position 1"),
            ),
            (
                check_name("name", "tab\there", 200),
                Some("control character"),
            ),
            (
                check_name("name", &"x".repeat(201), 200),
                Some("201 characters; at most 200"),
            ),
            (check_reason("reason", "line one\nline two\tend"), None),
            (
                check_reason("reason", "bell\u{7}"),
                Some("control character at position 4"),
            ),
            (
                check_document(
                    "flag[a]",
                    &json!({"default_value": {"x": ["ok", "n\u{0}l"]}}),
                ),
                Some("flag[a].default_value.x[1]"),
            ),
            (
                check_document("flag[a]", &json!({"k\u{0}": 1})),
                Some("member name"),
            ),
            (
                check_document("flag[a]", &json!({"text": "new\nline \u{1}"})),
                None,
            ),
        ];
        for (i, (outcome, expected)) in cases.into_iter().enumerate() {
            match (outcome, expected) {
                (Ok(()), None) => {}
                (Err(error), Some(says)) => {
                    assert!(error.to_string().contains(says), "case {i}: {error}")
                }
                (outcome, expected) => panic!("case {i}: {outcome:?}, expected {expected:?}"),
            }
        }
    }
}
