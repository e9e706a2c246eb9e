//! `POST /api/v1/evaluate`: the engine's full resolution.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/v1/evaluate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// One flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_id: Option<String>,
    /// Several flags; with neither field, every flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_ids: Option<Vec<String>>,
    /// The environment (optional for server and client keys, which have
    /// one; required with an admin key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The evaluation context: `user_id` / `targetingKey` and any attributes.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub context: Value,
}

/// The rule that decided a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuleInfo {
    /// Position in the environment's rule list.
    pub index: usize,
    /// The rule's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One flag's evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvaluationResult {
    /// The flag.
    pub flag_id: String,
    /// The value (absent on error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The variant served, when the value came from `variants`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// `STATIC`, `DEFAULT`, `TARGETING_MATCH`, `SPLIT`, `DISABLED`,
    /// `PREREQUISITE_FAILED` or `ERROR`.
    pub reason: String,
    /// The rule that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleInfo>,
    /// The prerequisite that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_prerequisite: Option<String>,
    /// `FLAG_NOT_FOUND`, `TYPE_MISMATCH`, … when `reason` is `ERROR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

impl EvaluationResult {
    /// The wire form of an engine resolution.
    pub fn from_resolution(
        flag_id: &str,
        resolution: &ff_engine::Resolution<'_>,
    ) -> EvaluationResult {
        EvaluationResult {
            flag_id: flag_id.to_owned(),
            value: resolution.value.cloned(),
            variant: resolution.variant.map(str::to_owned),
            reason: resolution.reason.as_str().to_owned(),
            rule: resolution.rule.map(|r| RuleInfo {
                index: r.index,
                name: r.name.map(str::to_owned),
            }),
            failed_prerequisite: resolution.failed_prerequisite.map(str::to_owned),
            error_code: resolution.error_code.map(|c| c.as_str().to_owned()),
        }
    }
}

/// Several flags' evaluations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BulkEvaluation {
    /// The environment evaluated in.
    pub environment: String,
    /// The configuration revision the answers come from.
    pub revision: i64,
    /// One result per flag asked for (or per flag).
    pub results: Vec<EvaluationResult>,
}

/// The answer of `POST /api/v1/evaluate`: one result for `flag_id`, else
/// the bulk answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EvaluateResponse {
    /// For `flag_ids` or every flag.
    Bulk(BulkEvaluation),
    /// For one `flag_id`.
    One(EvaluationResult),
}
