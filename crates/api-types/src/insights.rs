//! What flags did and what it means: evaluation metrics from SDKs,
//! experiments and their results, tracked events, privacy requests and
//! evaluation logs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/v1/metrics`: what an SDK evaluated locally since its last
/// batch, counted per flag and outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    #[schemars(length(max = 10_000))]
    pub evaluations: Vec<EvaluationTally>,
    /// Variants served to users, for experiments running on the flags (at
    /// most 10 000; each user's first exposure counts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10_000))]
    pub exposures: Vec<ExposureReport>,
}

/// A variant of a flag served to a user (an SDK evaluated it locally).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExposureReport {
    /// The flag.
    pub flag_id: String,
    /// The variant served.
    #[schemars(length(max = 64))]
    pub variant: String,
    /// The user (their targeting key).
    #[schemars(length(min = 1, max = 256))]
    pub user_id: String,
    /// When it was first served (RFC 3339; default: the batch's window
    /// end). Events before a user's exposure do not count for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// How many times one flag gave one outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationTally {
    /// The flag.
    pub flag_id: String,
    /// The outcome as the engine's tally labels it (the variant, else a
    /// bounded label of the value: `true`, a short string …); SDKs built
    /// on the engine send this. Takes precedence over `variant` and `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub label: Option<String>,
    /// The variant served, if it came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub variant: Option<String>,
    /// The value served (used for the outcome when there is no variant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The OpenFeature reason (`STATIC`, `TARGETING_MATCH`, …).
    #[schemars(extend("enum" = ["STATIC", "DEFAULT", "TARGETING_MATCH", "SPLIT", "DISABLED", "PREREQUISITE_FAILED", "ERROR"]))]
    pub reason: String,
    /// The OpenFeature error code, if the evaluation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["FLAG_NOT_FOUND", "TYPE_MISMATCH", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "PARSE_ERROR", "GENERAL"]))]
    pub error_code: Option<String>,
    /// How many (0 to 1 000 000 000).
    #[schemars(range(max = 1_000_000_000))]
    pub count: u64,
}

/// The answer to a [`MetricsBatch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricRequest {
    /// The event's name (as sent to `/api/v1/track`).
    #[schemars(length(min = 1, max = 128))]
    pub event: String,
    /// `conversion` (did it happen after exposure) or `numeric` (the sum of
    /// its values per user).
    #[schemars(extend("enum" = ["conversion", "numeric"]))]
    pub kind: String,
}

/// `POST /api/v1/track`: one event, or `events` for a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    #[schemars(length(max = 1_000))]
    pub events: Option<Vec<TrackedEventRequest>>,
}

/// One event of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationLogRequest {
    /// How long to log (1 to 60 minutes; default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 60))]
    pub minutes: Option<u32>,
    /// Keep context attribute values in clear (default: keyed hashes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_context: Option<bool>,
}

/// A flag's evaluations over a time range (`GET /api/v1/flags/{flag_id}/metrics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FlagMetrics {
    /// The flag.
    pub flag_id: String,
    /// `minute`, `hour` or `day`.
    pub granularity: String,
    /// The first bucket's start (RFC 3339).
    pub since: String,
    /// The end of the last bucket.
    pub until: String,
    /// The whole range.
    pub totals: MetricsTotals,
    /// Every bucket of the range, empty ones included.
    pub buckets: Vec<MetricsBucket>,
    /// When the flag was last evaluated, as recorded.
    pub last_evaluated_at: Option<String>,
}

/// Evaluations of a range, in total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricsTotals {
    /// How many.
    pub evaluations: i64,
    /// Of which errors.
    pub errors: i64,
    /// `errors / evaluations` (0 without evaluations).
    pub error_rate: f64,
    /// By variant or value label (an error code for errors).
    pub by_outcome: std::collections::BTreeMap<String, i64>,
    /// By OpenFeature reason.
    pub by_reason: std::collections::BTreeMap<String, i64>,
    /// By environment.
    pub by_environment: std::collections::BTreeMap<String, i64>,
}

/// Evaluations of one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricsBucket {
    /// The bucket's start (RFC 3339).
    pub start: String,
    /// How many.
    pub evaluations: i64,
    /// Of which errors.
    pub errors: i64,
    /// By variant or value label.
    pub by_outcome: std::collections::BTreeMap<String, i64>,
}

/// An experiment, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Experiment {
    /// Its id.
    pub id: String,
    /// What it tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The flag whose weighted split assigns the variants.
    pub flag_id: String,
    /// Where it runs.
    pub environment: String,
    /// The variant the others are compared with.
    pub control: String,
    /// The split's variants and weights when it started.
    pub variants: Vec<ExperimentVariant>,
    /// The primary metric first.
    pub metrics: Vec<MetricRequest>,
    /// `running` or `stopped`.
    pub status: String,
    /// When it started.
    pub started_at: String,
    /// When it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    /// Its version.
    pub version: i64,
}

/// A variant of an experiment's split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExperimentVariant {
    /// The variant.
    pub variant: String,
    /// Its weight.
    pub weight: f64,
}

/// An experiment's results (`GET /api/v1/experiments/{id}/results`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExperimentResults {
    /// The experiment (without its version).
    pub experiment: serde_json::Value,
    /// The primary metric's verdict in plain words.
    pub verdict: Option<String>,
    /// One report per metric (`ff_stats`' conversion or numeric report,
    /// with its `kind`).
    pub metrics: Vec<serde_json::Value>,
}

/// The answer to `POST /api/v1/track`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrackAccepted {
    /// Events stored.
    pub accepted: u64,
}

/// Everything held about a person (`GET /api/v1/subjects/{user_id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SubjectExport {
    /// The id asked about.
    pub user_id: String,
    /// How it is stored (a keyed hash, or `id:` and the id).
    pub subject: String,
    /// Their exposures to experiments.
    pub exposures: Vec<serde_json::Value>,
    /// The events tracked for them.
    pub events: Vec<serde_json::Value>,
    /// The flags and segments whose conditions name the id.
    pub named_in: serde_json::Value,
}

/// What erasing a person did (`DELETE /api/v1/subjects/{user_id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SubjectErasure {
    /// How the person was stored.
    pub subject: String,
    /// Exposures deleted.
    pub exposures_erased: u64,
    /// Events deleted.
    pub events_erased: u64,
    /// What became of the flags naming them: `erased`, `pending_approval`,
    /// `not_named` or `refused`.
    pub rules: serde_json::Value,
    /// The same for segments.
    pub segments: serde_json::Value,
    /// Where the id was named.
    pub named_in: serde_json::Value,
    /// What keeps the id (earlier versions, the audit log).
    pub retained: String,
}

/// An evaluation log's switch (`POST`/`DELETE …/evaluation-log`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EvaluationLogSwitch {
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: String,
    /// Logging stops then (null: off).
    pub until: Option<String>,
    /// Whether context values are kept in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_context: Option<bool>,
}

/// An evaluation log (`GET …/evaluation-log`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvaluationLog {
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: String,
    /// Until when logging is on (null: off).
    pub until: Option<String>,
    /// Whether context values are kept in clear (null: off).
    pub clear_context: Option<bool>,
    /// The newest logged evaluations: context, value, variant, reason, rule, at.
    pub items: Vec<serde_json::Value>,
}

/// The query of `GET /api/v1/flags/{flag_id}/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagMetricsQuery {
    /// Only this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// `minute`, `hour` (default) or `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["minute", "hour", "day"]))]
    pub granularity: Option<String>,
    /// The range's start (default: 24 hours ago).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub since: Option<String>,
    /// The range's end (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub until: Option<String>,
}
