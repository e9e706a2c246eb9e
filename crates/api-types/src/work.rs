//! Work items: change requests, schedules and rollout plans, and the bodies
//! that create and move them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::documents::Members;
use crate::flags::RuleSelector;

/// A change request, schedule or rollout plan as answered: its id and
/// status, its document's members, and (when stored) its version and times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkItem {
    /// The item's id.
    pub id: String,
    /// Change requests: pending, applied, rejected. Schedules: scheduled,
    /// applied, held, failed, cancelled. Plans: active, paused, completed,
    /// held, failed.
    pub status: String,
    /// RFC 3339: when the item is next due (schedules and plans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// The item's document (`flag_id`, `environment`, `changes`, `action`,
    /// `steps`, …; a change request's changes each with their `diff`).
    #[serde(flatten)]
    pub document: Members,
    /// Its version (absent on a request just held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// After an approval: whether it was the last one needed and applied
    /// the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<bool>,
}

/// `202 Accepted`: the write was held for approval and became this change
/// request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Held {
    /// The change request.
    pub change_request: WorkItem,
}

/// `POST /api/v1/change-requests/{id}/approve`, `/reject`, `/rebase`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// A comment for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `POST /api/v1/rollout-plans/{id}/pause` and `/resume`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /api/v1/schedules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScheduleRequest {
    /// The flag.
    pub flag_id: String,
    /// The environment (needed by enable, disable, set_environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// When (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub at: OffsetDateTime,
    /// What.
    pub action: ScheduledAction,
    /// Why (else `X-Change-Reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The deployment (else `X-Deployment-Id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
}

/// A change to one flag, made when due.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduledAction {
    /// Turn the flag on in the environment.
    Enable,
    /// Turn the flag off in the environment (as the kill switch does).
    Disable,
    /// Serve this value: the environment's value (keeping the rules in
    /// effect there), or the default without an environment.
    SetValue {
        /// The value.
        value: Value,
    },
    /// Set a rule's percentage: among the rules in effect in the
    /// environment, or at the flag level without an environment.
    Percentage {
        /// The new percentage, 0–100.
        #[schemars(range(min = 0, max = 100))]
        percentage: f64,
        /// The rule: its name or its index; default the first rule with a
        /// percentage (or the only rule).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<RuleSelector>,
    },
    /// Replace the environment's entry.
    SetEnvironment {
        /// A bare value or `{enabled, value, targeting_rules}`.
        #[schemars(with = "crate::EnvironmentEntry")]
        entry: Value,
    },
    /// A JSON merge patch of the whole document.
    Patch {
        /// The patch.
        #[schemars(with = "crate::MergePatch")]
        patch: Value,
    },
}

/// `POST /api/v1/rollout-plans`: explicit `steps`, or `percentages` from
/// `start_at` every `every_hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRolloutPlanRequest {
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: String,
    /// The rule whose percentage moves (default: the first with a
    /// percentage, or the only rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleSelector>,
    /// Explicit steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<PlanStep>>,
    /// Percentages, evenly spaced from `start_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentages: Option<Vec<f64>>,
    /// RFC 3339: the first of `percentages`.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub start_at: Option<OffsetDateTime>,
    /// Hours between `percentages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_hours: Option<f64>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One step of a rollout plan: a percentage from a time on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    /// The rule's percentage from then on.
    #[schemars(range(min = 0, max = 100))]
    pub percentage: f64,
    /// When (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub at: OffsetDateTime,
}

/// `POST /api/v1/schedules/run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunOutcomes {
    /// What happened to each due item.
    pub outcomes: Vec<StepOutcome>,
}

/// What one run did to one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepOutcome {
    /// `schedule` or `rollout_plan`.
    pub kind: String,
    /// The item.
    pub id: String,
    /// `applied`, `held`, `failed`, or `skipped` (another node got it first).
    pub result: String,
    /// Why it failed or was skipped; the change request when held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
