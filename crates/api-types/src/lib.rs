#![doc = include_str!("../README.md")]

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every error the API returns: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable machine-readable code (`validation_failed`, `version_conflict`, …).
    pub code: String,
    /// A sentence for people that says what to fix.
    pub message: String,
    /// Structured details (for validation: the list of problems with paths).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

/// `POST /api/v1/evaluate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// One flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_id: Option<String>,
    /// Several flags; with neither field, every flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_ids: Option<Vec<String>>,
    /// The environment (optional for server and client keys, which have one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The evaluation context: `user_id` / `targetingKey` and any attributes.
    #[serde(default)]
    pub context: Value,
}

/// The rule that decided a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    /// Position in the environment's rule list.
    pub index: usize,
    /// The rule's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One flag's evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkEvaluation {
    /// The environment evaluated in.
    pub environment: String,
    /// The configuration revision the answers come from.
    pub revision: i64,
    /// One result per flag asked for (or per flag).
    pub results: Vec<EvaluationResult>,
}

/// `POST /api/v1/emergency/disable` and `/enable`: the seed's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// `POST /api/v1/flags/{flag_id}/rollback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VersionRef {
    /// A version number.
    Number(i64),
    /// A deployment id; a string of digits is read as a number.
    Label(String),
}

impl std::fmt::Display for VersionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionRef::Number(n) => write!(f, "{n}"),
            VersionRef::Label(label) => write!(f, "{label}"),
        }
    }
}

/// `POST /api/v1/api-keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A name for people.
    pub name: String,
    /// `admin`, `server` or `client`.
    pub kind: String,
    /// For admin keys: `viewer`, `editor`, `approver` or `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// For server and client keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many items match in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Pass as `cursor` (or `before_id`) to get the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/users`: an account for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// The sign-in name (kept in lower case).
    pub email: String,
    /// How the interface names them.
    pub display_name: String,
    /// `viewer`, `editor`, `approver` or `admin`.
    pub role: String,
    /// At least 10 characters.
    pub password: String,
}

/// `PATCH /api/v1/users/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// A new display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A new role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A new password (ends the user's sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `true` disables the account (ending its sessions), `false` enables it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// `POST /api/v1/sessions`: sign in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// The account's email.
    pub email: String,
    /// Its password.
    pub password: String,
}

/// `POST /api/v1/metrics`: what an SDK evaluated locally since its last
/// batch, counted per flag and outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsBatch {
    /// Who sent it (`ff-sdk-rust/0.1.0`), for logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<String>,
    /// The environment (admin keys only; server and client keys have their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// When the counted window ended (RFC 3339; default: now). The counts
    /// go to that minute. At most a day old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<String>,
    /// The counts (at most 10 000 entries).
    #[serde(default)]
    pub evaluations: Vec<EvaluationTally>,
    /// Variants served to users, for experiments running on the flags (at
    /// most 10 000; each user's first exposure counts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposures: Vec<ExposureReport>,
}

/// A variant of a flag served to a user (an SDK evaluated it locally).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureReport {
    /// The flag.
    pub flag_id: String,
    /// The variant served.
    pub variant: String,
    /// The user (their targeting key).
    pub user_id: String,
    /// When it was first served (RFC 3339; default: the batch's window
    /// end). Events before a user's exposure do not count for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// How many times one flag gave one outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationTally {
    /// The flag.
    pub flag_id: String,
    /// The outcome as the engine's tally labels it (the variant, else a
    /// bounded label of the value: `true`, a short string …); SDKs built
    /// on the engine send this. Takes precedence over `variant` and `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The variant served, if it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The value served (used for the outcome when there is no variant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The OpenFeature reason (`STATIC`, `TARGETING_MATCH`, …).
    pub reason: String,
    /// The OpenFeature error code, if the evaluation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// How many (1 to 1 000 000 000).
    pub count: u64,
}

/// The answer to a [`MetricsBatch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsAccepted {
    /// Exposures to running experiments among those reported.
    #[serde(default)]
    pub exposures: u64,
    /// Evaluations counted.
    pub accepted: u64,
    /// Evaluations of flags this service does not have (not counted).
    pub dropped: u64,
    /// Up to ten of those flags, to find a misspelling.
    pub unknown_flags: Vec<String>,
}

/// `POST /api/v1/experiments`: compare a flag's weighted split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateExperimentRequest {
    /// Its id (a key: `checkout_button_test`).
    pub id: String,
    /// What it tests, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The flag whose weighted split assigns the variants.
    pub flag_id: String,
    /// Where it runs.
    pub environment: String,
    /// The variant the others are compared with.
    pub control: String,
    /// What decides it.
    pub primary_metric: MetricRequest,
    /// Also reported.
    #[serde(default)]
    pub secondary_metrics: Vec<MetricRequest>,
}

/// A metric: a tracked event, read as a conversion or a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricRequest {
    /// The event's name (as sent to `/api/v1/track`).
    pub event: String,
    /// `conversion` (did it happen after exposure) or `numeric` (the sum of
    /// its values per user).
    pub kind: String,
}

/// `POST /api/v1/track`: one event, or `events` for a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackRequest {
    /// The event (with `user_id`), for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Who did it, for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// A number (revenue …), for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// When (RFC 3339; default now), for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// A batch (at most 1 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<TrackedEventRequest>>,
}

/// One event of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackedEventRequest {
    /// The event's name.
    pub event: String,
    /// Who did it.
    pub user_id: String,
    /// A number (revenue …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// When (RFC 3339; default now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// `POST /api/v1/flags/{flag_id}/environments/{environment}/evaluation-log`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationLogRequest {
    /// How long to log (1 to 60 minutes; default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u32>,
    /// Keep context attribute values in clear (default: keyed hashes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_context: Option<bool>,
}
