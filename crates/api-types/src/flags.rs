//! `/api/v1/flags`: flags as answered, their history, and the bodies that
//! change them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::documents::{FlagFields, Members};

/// A flag as the API answers it: the document's members plus the stored
/// metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Flag {
    /// The document (`flag_id`, `type`, `default_value`, …).
    #[serde(flatten)]
    #[schemars(with = "FlagFields")]
    pub document: Members,
    /// Its version, also its `ETag`.
    pub version: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// `true` for a soft-deleted flag.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Accepted, but probably mistakes (written documents only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// A warning about a written flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Warning {
    /// On creation: a problem of the document, with its path.
    Problem(crate::Problem),
    /// After an edit: a prerequisite the flag now breaks, in words.
    Text(String),
}

impl Flag {
    /// The flag's id.
    pub fn flag_id(&self) -> &str {
        self.document
            .get("flag_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// `DELETE /api/v1/flags/{flag_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FlagDeleted {
    /// The flag.
    pub flag_id: String,
    /// Always `true`.
    pub deleted: bool,
    /// The version that records the deletion.
    pub version: Option<i64>,
    /// The configuration revision.
    pub revision: i64,
}

/// `GET /api/v1/flags/{flag_id}/environments/{env}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FlagEnvironment {
    /// The flag.
    pub flag_id: String,
    /// The environment asked about.
    pub environment: String,
    /// The flag's version.
    pub version: i64,
    /// The environment's own entry (null when it has none).
    pub entry: Option<Value>,
    /// The `auto_sync` ancestor whose entry is in effect, if not its own.
    pub inherited_from: Option<String>,
    /// What is in effect there.
    pub effective: EffectiveEntry,
}

/// What is in effect for a flag in an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EffectiveEntry {
    /// Whether the flag is on.
    pub enabled: bool,
    /// The value served when no rule decides.
    pub value: Value,
    /// The rules in effect.
    pub targeting_rules: Vec<Value>,
}

/// One stored version of a flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FlagVersion {
    /// The flag.
    pub flag_id: String,
    /// The version number.
    pub version: i64,
    /// The document as it was.
    pub document: Value,
    /// Whether this version is a deletion.
    pub deleted: bool,
    /// The audit action that produced it (`flag.update`, …).
    pub action: String,
    /// Who wrote it.
    pub actor: String,
    /// When (RFC 3339).
    pub at: String,
    /// The change's reason, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The deployment that made it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
}

/// One difference between two documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Difference {
    /// Where (`environments.production.enabled`; empty for the whole document).
    pub path: String,
    /// The old value; absent when added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The new value; absent when removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// `GET /api/v1/flags/{flag_id}/diff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FlagDiff {
    /// The flag.
    pub flag_id: String,
    /// The older version.
    pub from: i64,
    /// The newer version.
    pub to: i64,
    /// What changed, path by path.
    pub differences: Vec<Difference>,
}

/// A rule chosen by its position or its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RuleSelector {
    /// Its index in the rule list.
    Index(usize),
    /// Its `name`.
    Name(String),
}

/// `POST /api/v1/flags/{flag_id}/environments/{env}/actions`: one edit,
/// made by the server to the flag's latest version in the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum FlagAction {
    /// Turn the flag on there.
    Enable,
    /// Turn the flag off there.
    Disable,
    /// Serve this value there (keeping the rules in effect).
    SetValue {
        /// The value.
        value: Value,
    },
    /// Set a rule's percentage among the rules in effect there.
    SetPercentage {
        /// 0–100.
        #[schemars(range(min = 0, max = 100))]
        percentage: f64,
        /// The rule's name or index (default: the first with a percentage,
        /// or the only rule).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<RuleSelector>,
    },
}

/// `POST /api/v1/flags/{flag_id}/rollback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version whose document (or environment entry) is restored: a
    /// number, or a label naming the last version written by that
    /// deployment (`X-Deployment-Id`), e.g. a release `"1.2.3"`.
    pub to_version: VersionRef,
    /// Restore only this environment's entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A flag version: its number, or a deployment (release) label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum VersionRef {
    /// A version number.
    Number(i64),
    /// A deployment id; a string of digits is read as a number.
    Label(String),
}

/// A number or a string, as `RuleSelector` and `VersionRef` are read: a
/// number written `3.0` is 3 (JSON does not tell them apart, nor does JSON
/// Schema's `integer`), any other fraction is refused.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl NumberOrText {
    fn whole(f: f64) -> Option<i64> {
        // i64::MAX as f64 rounds up to 2^63, which is out of range.
        let in_range = f >= i64::MIN as f64 && f < i64::MAX as f64;
        (f.fract() == 0.0 && in_range).then_some(f as i64)
    }
}

impl<'de> Deserialize<'de> for RuleSelector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let index = |n: i64| {
            usize::try_from(n)
                .map(RuleSelector::Index)
                .map_err(|_| serde::de::Error::custom("a rule index is 0 or more"))
        };
        match NumberOrText::deserialize(deserializer)? {
            NumberOrText::Integer(n) => index(n),
            NumberOrText::Float(f) => match NumberOrText::whole(f) {
                Some(n) => index(n),
                None => Err(serde::de::Error::custom("a rule index is a whole number")),
            },
            NumberOrText::Text(name) => Ok(RuleSelector::Name(name)),
        }
    }
}

impl<'de> Deserialize<'de> for VersionRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(deserializer)? {
            NumberOrText::Integer(n) => Ok(VersionRef::Number(n)),
            NumberOrText::Float(f) => NumberOrText::whole(f)
                .map(VersionRef::Number)
                .ok_or_else(|| serde::de::Error::custom("a version is a whole number")),
            NumberOrText::Text(label) => Ok(VersionRef::Label(label)),
        }
    }
}

// Written by hand: a derived schema would leave the numbers unbounded,
// and a number past the integer's range is refused (400).
impl JsonSchema for RuleSelector {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RuleSelector".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A rule: its index in the rule list, or its name.",
            "anyOf": [{"type": "integer", "minimum": 0, "maximum": u32::MAX}, {"type": "string"}]
        })
    }
}

impl JsonSchema for VersionRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VersionRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A version number, or a deployment id (the flag's last version written by it).",
            "anyOf": [{"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX}, {"type": "string"}]
        })
    }
}

impl std::fmt::Display for VersionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionRef::Number(n) => write!(f, "{n}"),
            VersionRef::Label(label) => write!(f, "{label}"),
        }
    }
}

/// `POST /api/v1/emergency/disable` and `/enable`: the seed's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyRequest {
    /// The flag.
    pub flag_id: String,
    /// The environment; absent means every environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Why (recorded in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer of the kill switch (and of turning a flag back on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmergencyResponse {
    /// The flag.
    pub flag_id: String,
    /// The environments switched.
    pub environments: Vec<String>,
    /// Whether the flag is now on there.
    pub enabled: bool,
    /// The flag's version now.
    pub version: i64,
    /// The configuration revision.
    pub revision: i64,
    /// Rollout plans the kill switch paused.
    #[serde(default)]
    pub paused_rollout_plans: Vec<String>,
}

/// `GET /api/v1/flags/stale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StaleFlags {
    /// The look-back for evaluations, in days.
    pub unused_days: u32,
    /// The look-back for unchanged single-valued flags, in days.
    pub rollout_days: u32,
    /// RFC 3339: when the answer was computed.
    pub as_of: String,
    /// The candidates.
    pub items: Vec<StaleFlag>,
}

/// A cleanup candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StaleFlag {
    /// The flag.
    pub flag_id: String,
    /// Its owner.
    pub owner: Option<String>,
    /// Its lifecycle stage.
    pub lifecycle: Option<String>,
    /// RFC 3339; null when never evaluated since the service started recording.
    pub last_evaluated_at: Option<String>,
    /// RFC 3339.
    pub updated_at: String,
    /// Why it is a candidate, in words.
    pub reasons: Vec<String>,
}

/// `POST /api/v1/flags/bulk`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Applied in order; each flag at most once.
    #[schemars(length(min = 1))]
    pub operations: Vec<BulkOperation>,
    /// Why (recorded on every audit entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The deployment these changes belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
}

/// One operation of a bulk request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum BulkOperation {
    /// Create a flag from its document.
    Create {
        /// The document.
        #[schemars(with = "crate::FlagDocument")]
        flag: Value,
    },
    /// Replace a flag's document.
    Replace {
        /// The document.
        #[schemars(with = "crate::FlagDocument")]
        flag: Value,
        /// The version it was read at.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<i64>,
    },
    /// Merge-patch a flag's document.
    Patch {
        /// The flag.
        flag_id: String,
        /// An RFC 7396 merge patch.
        #[schemars(with = "crate::MergePatch")]
        patch: Value,
        /// The version it was read at.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<i64>,
    },
    /// Soft-delete a flag.
    Delete {
        /// The flag.
        flag_id: String,
        /// The version it was read at.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<i64>,
    },
    /// Turn a flag on in an environment.
    Enable {
        /// The flag.
        flag_id: String,
        /// The environment.
        environment: String,
    },
    /// Turn a flag off in an environment.
    Disable {
        /// The flag.
        flag_id: String,
        /// The environment.
        environment: String,
    },
    /// Set a flag's value in an environment (keeping its rules).
    SetValue {
        /// The flag.
        flag_id: String,
        /// The environment.
        environment: String,
        /// The value.
        value: Value,
    },
}

impl BulkOperation {
    /// The flag an operation is about, when it names it.
    pub fn flag_id(&self) -> Option<&str> {
        match self {
            BulkOperation::Create { flag } | BulkOperation::Replace { flag, .. } => {
                flag.get("flag_id").and_then(Value::as_str)
            }
            BulkOperation::Patch { flag_id, .. }
            | BulkOperation::Delete { flag_id, .. }
            | BulkOperation::Enable { flag_id, .. }
            | BulkOperation::Disable { flag_id, .. }
            | BulkOperation::SetValue { flag_id, .. } => Some(flag_id),
        }
    }
}

/// The answer of a committed bulk request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BulkResponse {
    /// The configuration revision.
    pub revision: i64,
    /// Per flag named, in order: the flag as it is now, or that it is
    /// deleted.
    pub results: Vec<BulkResult>,
}

/// What a bulk request left of one flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BulkResult {
    /// The flag as it is now.
    Flag(Flag),
    /// The flag was deleted.
    Deleted {
        /// The flag.
        flag_id: String,
        /// Always `true`.
        deleted: bool,
    },
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// Found by schemathesis: JSON Schema calls `3.0` an integer, and the
    /// service refused it as a rule index and as a version.
    #[test]
    fn whole_numbers_written_with_a_fraction_are_numbers() {
        let rule: RuleSelector = serde_json::from_str("3.0").unwrap();
        assert_eq!(rule, RuleSelector::Index(3));
        let rule: RuleSelector = serde_json::from_str("\"beta\"").unwrap();
        assert_eq!(rule, RuleSelector::Name("beta".into()));
        assert!(serde_json::from_str::<RuleSelector>("2.5").is_err());
        assert!(serde_json::from_str::<RuleSelector>("-1").is_err());

        let version: VersionRef = serde_json::from_str("-4.0").unwrap();
        assert_eq!(version, VersionRef::Number(-4));
        let version: VersionRef = serde_json::from_str("\"1.2.3\"").unwrap();
        assert_eq!(version, VersionRef::Label("1.2.3".into()));
        assert!(serde_json::from_str::<VersionRef>("1e300").is_err());
    }
}
