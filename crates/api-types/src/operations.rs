//! Deployments, dependencies and transfer: the operations over many flags.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/v1/deployments/{id}/rollback`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRollbackRequest {
    /// Undo only what the deployment did to this environment's entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Why (default: "rollback of deployment <id>").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer of a deployment's rollback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeploymentRollback {
    /// The deployment.
    pub deployment_id: String,
    /// The environment, when only its entries were undone.
    pub environment: Option<String>,
    /// The configuration revision.
    pub revision: i64,
    /// Each flag the deployment changed.
    pub flags: Vec<RevertedFlag>,
}

/// What a deployment's rollback did to one flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RevertedFlag {
    /// The flag.
    pub flag_id: String,
    /// `reverted`, `restored`, `deleted` or `unchanged`.
    pub result: String,
    /// Its version before the rollback.
    pub from_version: i64,
    /// The version restored (null: the deployment created the flag).
    pub restored_version: Option<i64>,
}

/// `POST /api/v1/deployments/{id}/hooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentHooksRequest {
    /// Where the steps apply.
    pub environment: String,
    /// `pre_deploy` or `post_deploy`.
    #[schemars(extend("enum" = ["pre_deploy", "post_deploy"]))]
    pub phase: String,
    /// The seed's `deployment:` document: `pre_deploy` / `post_deploy`
    /// lists of `{enable_flag}`, `{disable_flag}`, `{verify_flags}`.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub deployment: Value,
    /// Why (default: "<phase> of deployment <id>").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer of a deployment phase's steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeploymentHooks {
    /// The deployment.
    pub deployment_id: String,
    /// The environment.
    pub environment: String,
    /// The phase run.
    pub phase: String,
    /// The configuration revision (null when nothing changed).
    pub revision: Option<i64>,
    /// What each step did.
    pub steps: Vec<HookStep>,
}

/// What one step of a deployment phase did (or, in the `verify_failed`
/// error's `failures`, why it failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HookStep {
    /// The step's position in the phase.
    pub step: usize,
    /// The flag.
    pub flag_id: String,
    /// `enable_flag` / `disable_flag`: the flag is now on (or off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `verify_flags`: the flag is on and does not serve `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Why the step failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// `POST /api/v1/dependencies/check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DependencyCheck {
    /// The environment checked.
    pub environment: String,
    /// Whether every requirement holds.
    pub holds: bool,
    /// One result per requirement.
    pub dependencies: Vec<DependencyResult>,
}

/// Whether one requirement holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DependencyResult {
    /// The flag that requires.
    pub flag: String,
    /// Where that flag lives.
    pub repository: Option<String>,
    /// The flag required.
    pub depends_on: String,
    /// The value it must serve.
    pub required_value: Value,
    /// What it serves (null when it does not exist).
    pub actual_value: Value,
    /// Whether the requirement holds.
    pub holds: bool,
    /// Why it does not hold, or that the value varies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `GET /api/v1/flags/{flag_id}/dependents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Dependents {
    /// The flag.
    pub flag_id: String,
    /// The flags that require it, directly or not.
    pub dependents: Vec<Dependent>,
}

/// One flag that requires another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Dependent {
    /// The flag that requires.
    pub flag_id: String,
    /// The flag it requires.
    pub requires: String,
    /// The value it requires.
    pub required_value: Value,
    /// Where the requirement is declared.
    pub repository: Option<String>,
    /// Whether it requires the asked flag itself.
    pub direct: bool,
    /// Per environment, whether the requirement holds.
    pub holds: std::collections::BTreeMap<String, bool>,
}

/// `POST /api/v1/import`: what changed (or would, with `dry_run`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImportReport {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Each resource created.
    pub created: Vec<ImportItem>,
    /// Each resource updated, with what changed.
    pub updated: Vec<ImportItem>,
    /// Each resource deleted (`prune`).
    pub deleted: Vec<ImportItem>,
    /// How many resources were already equal.
    pub unchanged: u64,
    /// The configuration revision (null for a dry run or no change).
    pub revision: Option<i64>,
}

/// One resource an import creates, updates or deletes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImportItem {
    /// `environment`, `segment` or `flag`.
    pub kind: String,
    /// Its key.
    pub key: String,
    /// For an update: what changed, path by path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differences: Option<Vec<crate::Difference>>,
}
