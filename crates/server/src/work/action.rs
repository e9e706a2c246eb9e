//! Flag changes described as data, so that they can be stored and applied
//! later: schedules and rollout steps say *what* to do to a flag (enable
//! it, set a percentage …) and apply it to whatever the flag's latest
//! document is when the time comes. The edits themselves are the engine's
//! (`ff_engine::edit`).

use ff_engine::Flag;
use ff_engine::edit::{self, EditError, RuleSelector};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::flag_ops::{merge_patch, parse_flag, with_environment_entry};
use crate::live::{LiveConfig, live_flag};

/// A change to one flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
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
    /// environment (which become its own), or at the flag level without an
    /// environment.
    Percentage {
        /// The new percentage, 0–100.
        percentage: f64,
        /// The rule: its name or its index; default the first rule with a
        /// percentage (or the only rule).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<RuleSelector>,
    },
    /// Replace the environment's entry.
    SetEnvironment {
        /// A bare value or `{enabled, value, targeting_rules}`.
        entry: Value,
    },
    /// A JSON merge patch of the whole document.
    Patch {
        /// The patch.
        patch: Value,
    },
}

impl Action {
    /// A short description for audit reasons and reports.
    pub fn describe(&self) -> String {
        match self {
            Action::Enable => "enable".to_owned(),
            Action::Disable => "disable".to_owned(),
            Action::SetValue { value } => format!("set value {value}"),
            Action::Percentage { percentage, .. } => format!("percentage {percentage}"),
            Action::SetEnvironment { .. } => "set environment entry".to_owned(),
            Action::Patch { .. } => "patch".to_owned(),
        }
    }
}

/// The flag after `action` in `env` (checked like any written document).
pub fn apply_action(
    flag: &Flag,
    env: Option<&str>,
    action: &Action,
    tree: &[ff_engine::Environment],
) -> Result<Flag, ApiError> {
    let need_env = || {
        env.ok_or_else(|| {
            ApiError::bad_request(
                "environment_required",
                format!("the action \"{}\" needs an environment", action.describe()),
            )
        })
    };
    let edited = match action {
        Action::Enable => Ok(edit::set_enabled(flag, need_env()?, true, tree)),
        Action::Disable => Ok(edit::set_enabled(flag, need_env()?, false, tree)),
        Action::SetValue { value } => edit::set_value(flag, env, value.clone(), tree),
        Action::Percentage { percentage, rule } => {
            edit::set_percentage(flag, env, *percentage, rule.as_ref(), tree)
        }
        Action::SetEnvironment { entry } => {
            return parse_flag(&with_environment_entry(
                flag,
                need_env()?,
                Some(entry.clone()),
            ));
        }
        Action::Patch { patch } => return patched(flag, patch),
    };
    edited.map_err(|error| edit_error(&flag.flag_id, error))
}

/// Refuses an action that cannot apply to the flag as it is now (so that a
/// schedule or plan that could never apply is refused when it is made).
pub fn check_target(
    live: &LiveConfig,
    flag_id: &str,
    environment: Option<&str>,
    action: &Action,
) -> Result<(), ApiError> {
    let current = live_flag(live, flag_id)?;
    if let Some(env) = environment
        && !live.environments.contains_key(env)
    {
        return Err(ApiError::not_found("environment", env));
    }
    apply_action(&current.flag, environment, action, &live.environment_tree()).map(|_| ())
}

/// An edit's refusal as the API answers it.
pub fn edit_error(flag_id: &str, error: EditError) -> ApiError {
    match error {
        EditError::Invalid(problems) => ApiError::Validation(problems),
        EditError::PercentageOutOfRange(_) => {
            ApiError::bad_request("invalid_percentage", error.to_string())
        }
        EditError::UnknownRule { .. } => {
            ApiError::bad_request("unknown_rule", format!("flag \"{flag_id}\" has {error}"))
        }
    }
}

/// The flag after a JSON merge patch of its document (it may not rename it).
fn patched(flag: &Flag, patch: &Value) -> Result<Flag, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "a patch must be a JSON object",
        ));
    }
    let mut doc = serde_json::to_value(flag).map_err(|e| ApiError::Internal(e.to_string()))?;
    merge_patch(&mut doc, patch);
    if doc.get("flag_id").and_then(Value::as_str) != Some(flag.flag_id.as_str()) {
        return Err(ApiError::bad_request(
            "flag_id_mismatch",
            "flags cannot be renamed",
        ));
    }
    parse_flag(&doc)
}
