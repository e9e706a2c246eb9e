//! The error envelopes: the REST API's and OFREP's own.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every error the REST API returns: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code (`validation_failed`, `version_conflict`, …).
    pub code: String,
    /// A sentence for people that says what to fix.
    pub message: String,
    /// Structured details: for `validation_failed` `{"problems": [{path,
    /// message, severity}]}`; for conflicts e.g. the current version; for
    /// `rate_limited` `{"retry_after": seconds}`.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl ErrorBody {
    /// The validation problems of a `validation_failed` error, if any.
    pub fn problems(&self) -> Vec<Problem> {
        self.error
            .details
            .get("problems")
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .unwrap_or_default()
    }
}

/// One problem of a document, with its JSON path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    /// Where (`targeting_rules[0].conditions[1].operator`).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// `error` (refused) or `warning` (accepted, but probably a mistake).
    #[serde(default = "error_severity")]
    pub severity: String,
}

fn error_severity() -> String {
    "error".to_owned()
}

/// OFREP's error answer, for a request (`GENERAL`, `PARSE_ERROR`,
/// `INVALID_CONTEXT`; no `key`) or for one flag (`FLAG_NOT_FOUND`,
/// `TYPE_MISMATCH`, …; with its `key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OfrepError {
    /// The flag, when the error is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// OpenFeature's error code.
    #[serde(rename = "errorCode")]
    pub error_code: String,
    /// For people.
    #[serde(
        rename = "errorDetails",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error_details: Option<String>,
}
