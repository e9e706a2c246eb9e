//! Flag changes described as data, so that they can be stored and applied
//! later: scheduled changes, rollout steps and deployment hooks all say
//! *what* to do to a flag (enable it, set a percentage …) and apply it to
//! whatever the flag's latest document is when the time comes.

use ff_engine::{EnvironmentConfig, EnvironmentEntry, Flag, Rule};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::flag_ops::{merge_patch, set_enabled, with_environment_entry};
use crate::write::parse_flag;

/// A change to one flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Turn the flag on in the environment.
    Enable,
    /// Turn the flag off in the environment (as the kill switch does).
    Disable,
    /// Serve this value: the environment's value, or the default without
    /// an environment.
    SetValue {
        /// The value.
        value: Value,
    },
    /// Set a rule's percentage, in the environment's rules (copied from
    /// the flag level first if the environment has none of its own) or at
    /// the flag level without an environment.
    Percentage {
        /// The new percentage, 0–100.
        percentage: f64,
        /// The rule: its name or its index; default the first rule with a
        /// percentage (or the only rule).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<RuleRef>,
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

/// A rule by name or position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RuleRef {
    /// Its index in the rule list.
    Index(usize),
    /// Its `name`.
    Name(String),
}

impl Action {
    /// Whether the action needs an environment.
    pub fn needs_environment(&self) -> bool {
        matches!(
            self,
            Action::Enable | Action::Disable | Action::SetEnvironment { .. }
        )
    }

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
    match action {
        Action::Enable => Ok(set_enabled(flag, need_env()?, true, tree)),
        Action::Disable => Ok(set_enabled(flag, need_env()?, false, tree)),
        Action::SetValue { value } => match env {
            Some(env) => {
                let mut config = entry_config(flag, env);
                config.value = Some(value.clone());
                reparse(flag, env, config)
            }
            None => {
                let mut doc = to_doc(flag)?;
                doc["default_value"] = value.clone();
                parse_flag(&doc)
            }
        },
        Action::Percentage { percentage, rule } => {
            if !(0.0..=100.0).contains(percentage) {
                return Err(ApiError::bad_request(
                    "invalid_percentage",
                    format!("percentage must be between 0 and 100, found {percentage}"),
                ));
            }
            match env {
                Some(env) => {
                    let mut config = entry_config(flag, env);
                    let mut rules = config
                        .targeting_rules
                        .take()
                        .unwrap_or_else(|| flag.targeting_rules.clone());
                    set_percentage(&mut rules, rule.as_ref(), *percentage, &flag.flag_id)?;
                    config.targeting_rules = Some(rules);
                    reparse(flag, env, config)
                }
                None => {
                    let mut next = flag.clone();
                    set_percentage(
                        &mut next.targeting_rules,
                        rule.as_ref(),
                        *percentage,
                        &flag.flag_id,
                    )?;
                    parse_flag(&to_doc(&next)?)
                }
            }
        }
        Action::SetEnvironment { entry } => parse_flag(&with_environment_entry(
            flag,
            need_env()?,
            Some(entry.clone()),
        )),
        Action::Patch { patch } => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    "a patch must be a JSON object",
                ));
            }
            let mut doc = to_doc(flag)?;
            merge_patch(&mut doc, patch);
            if doc.get("flag_id").and_then(Value::as_str) != Some(flag.flag_id.as_str()) {
                return Err(ApiError::bad_request(
                    "flag_id_mismatch",
                    "flags cannot be renamed",
                ));
            }
            parse_flag(&doc)
        }
    }
}

/// The environment's own configuration (empty when it inherits).
fn entry_config(flag: &Flag, env: &str) -> EnvironmentConfig {
    flag.environments
        .get(env)
        .map(EnvironmentEntry::to_config)
        .unwrap_or_default()
}

fn reparse(flag: &Flag, env: &str, config: EnvironmentConfig) -> Result<Flag, ApiError> {
    let entry = serde_json::to_value(EnvironmentEntry::Config(config))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    parse_flag(&with_environment_entry(flag, env, Some(entry)))
}

fn to_doc(flag: &Flag) -> Result<Value, ApiError> {
    serde_json::to_value(flag).map_err(|e| ApiError::Internal(e.to_string()))
}

fn set_percentage(
    rules: &mut [Rule],
    which: Option<&RuleRef>,
    percentage: f64,
    flag_id: &str,
) -> Result<(), ApiError> {
    let index = match which {
        Some(RuleRef::Index(i)) if *i < rules.len() => Some(*i),
        Some(RuleRef::Index(_)) => None,
        Some(RuleRef::Name(name)) => rules
            .iter()
            .position(|r| r.name.as_deref() == Some(name.as_str())),
        None => rules
            .iter()
            .position(|r| r.percentage.is_some())
            .or_else(|| (rules.len() == 1).then_some(0)),
    };
    let Some(index) = index else {
        let names: Vec<String> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| r.name.clone().unwrap_or_else(|| i.to_string()))
            .collect();
        return Err(ApiError::bad_request(
            "unknown_rule",
            format!(
                "flag \"{flag_id}\" has no such rule to set a percentage on; its rules: [{}]",
                names.join(", ")
            ),
        ));
    };
    rules[index].percentage = Some(percentage);
    Ok(())
}
