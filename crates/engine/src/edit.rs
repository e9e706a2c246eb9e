//! Edits of one flag document, and what is in effect in an environment.
//!
//! These are the changes people make most often — turn a flag on or off in
//! an environment, serve another value, move a rule's percentage — written
//! once, as functions from a document to a document. The server applies
//! them under its write lock (its actions endpoint, schedules, rollout
//! plans, the kill switch, deployment hooks), so that no client has to
//! re-implement them over several requests.
//!
//! An edit in an environment starts from the entry *in effect* there: its
//! own, or the one it inherits through `auto_sync` parents. Whatever the
//! edit writes becomes the environment's own entry, so that the environment
//! keeps serving what it served, but for the one thing the edit changes.
//!
//! Edits that can make a document invalid (a value of another type, a
//! percentage with more than three decimals) return the document as it will
//! be stored — serialized and parsed again — so that what the caller holds is
//! checked and is exactly what a later read gives back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compile::project_flag;
use crate::model::looks_like_config;
use crate::model::{Environment, EnvironmentConfig, EnvironmentEntry, Flag, FlagType, Rule};
use crate::validate::Problem;

/// Why an edit cannot be made.
#[derive(Debug, Clone, PartialEq)]
pub enum EditError {
    /// The edited document does not validate (e.g. a value of another type);
    /// the problems are located in the document.
    Invalid(Vec<Problem>),
    /// A percentage outside 0–100.
    PercentageOutOfRange(f64),
    /// No rule matches the selector; the rules there, by name or index.
    UnknownRule {
        /// The names (or indices) of the rules that could have been meant.
        rules: Vec<String>,
    },
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::Invalid(problems) => write!(f, "{}", Problem::join(problems)),
            EditError::PercentageOutOfRange(percentage) => write!(
                f,
                "percentage must be between 0 and 100, found {percentage}"
            ),
            EditError::UnknownRule { rules } => write!(
                f,
                "no such rule to set a percentage on; its rules: [{}]",
                rules.join(", ")
            ),
        }
    }
}

impl std::error::Error for EditError {}

/// A rule by position or by name, as people name it (`--rule 0`,
/// `--rule beta_users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RuleSelector {
    /// Its index in the rule list.
    Index(usize),
    /// Its `name`.
    Name(String),
}

/// What applies to a flag in an environment, inheritance resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct InEffect {
    /// The environment's settings for the flag (empty when it has none),
    /// without its rules.
    pub config: EnvironmentConfig,
    /// The targeting rules that apply: the entry's own, else the flag's.
    pub rules: Vec<Rule>,
}

/// The entry in effect in `env` as a configuration: its own, else the one
/// inherited through `auto_sync` parents, else empty (the flag level).
pub fn entry_in_effect(flag: &Flag, env: &str, tree: &[Environment]) -> EnvironmentConfig {
    project_flag(flag, env, tree)
        .environments
        .get(env)
        .map(EnvironmentEntry::to_config)
        .unwrap_or_default()
}

/// [`InEffect`] for `flag` in `env`.
pub fn in_effect(flag: &Flag, env: &str, tree: &[Environment]) -> InEffect {
    let mut config = entry_in_effect(flag, env, tree);
    let rules = config
        .targeting_rules
        .take()
        .unwrap_or_else(|| flag.targeting_rules.clone());
    InEffect { config, rules }
}

/// Whether a flag is enabled in an environment (the entry in effect does
/// not say `enabled: false`).
pub fn enabled_in(flag: &Flag, env: &str, tree: &[Environment]) -> bool {
    entry_in_effect(flag, env, tree).enabled != Some(false)
}

/// Whether a flag is on in an environment: enabled there and, for a boolean
/// flag, not serving `false` whatever the context (the seed's
/// `"production": false` is how a boolean flag is off).
pub fn on_in(flag: &Flag, env: &str, tree: &[Environment]) -> bool {
    enabled_in(flag, env, tree)
        && !(flag.flag_type == FlagType::Boolean
            && static_value(flag, env, tree) == Some(Value::Bool(false)))
}

/// What a flag serves in an environment when that does not depend on the
/// context: its off value when disabled, its value when it has no rules.
/// `None` when rules decide.
pub fn static_value(flag: &Flag, env: &str, tree: &[Environment]) -> Option<Value> {
    let InEffect { config, rules } = in_effect(flag, env, tree);
    if config.enabled == Some(false) {
        return Some(off_value(flag));
    }
    if !rules.is_empty() {
        return None;
    }
    Some(config.value.unwrap_or_else(|| flag.default_value.clone()))
}

/// What a disabled flag serves: `false` for booleans, else its default.
pub fn off_value(flag: &Flag) -> Value {
    match flag.flag_type {
        FlagType::Boolean => Value::Bool(false),
        _ => flag.default_value.clone(),
    }
}

/// The flag with its kill switch set in `env`.
///
/// Disabling writes `enabled: false` into the environment's own entry
/// (creating one where it inherited). Enabling undoes that and leaves the
/// environment on:
/// - an own entry that is not switched off is left as it is;
/// - an own `enabled: false` is removed, and so is an entry that held
///   nothing else — unless what the environment would then inherit is off
///   too, in which case the entry says `enabled: true`;
/// - an environment without an own entry that inherits a switched-off one
///   gets, as its own entry, what that entry serves when on (its value and
///   the rules in effect).
///
/// So disabling and then enabling gives back the document as it was.
pub fn set_enabled(flag: &Flag, env: &str, enabled: bool, tree: &[Environment]) -> Flag {
    let own = flag.environments.get(env);
    let next = if enabled {
        enabled_entry(flag, env, own, tree)
    } else {
        let mut config = own.map(EnvironmentEntry::to_config).unwrap_or_default();
        config.enabled = Some(false);
        Some(EnvironmentEntry::Config(config))
    };
    with_entry(flag, env, next)
}

/// The own entry that leaves `env` on (see [`set_enabled`]); `None`: no own
/// entry.
fn enabled_entry(
    flag: &Flag,
    env: &str,
    own: Option<&EnvironmentEntry>,
    tree: &[Environment],
) -> Option<EnvironmentEntry> {
    match own {
        Some(entry) if entry.to_config().enabled != Some(false) => Some(entry.clone()),
        Some(entry) => {
            let mut config = entry.to_config();
            config.enabled = None;
            if let Some(rest) = simplify(config) {
                return Some(rest);
            }
            // The entry was only the kill switch: inherit again, unless what
            // would be inherited is off as well.
            if enabled_in(&with_entry(flag, env, None), env, tree) {
                None
            } else {
                Some(EnvironmentEntry::Config(EnvironmentConfig {
                    enabled: Some(true),
                    ..EnvironmentConfig::default()
                }))
            }
        }
        None => {
            let InEffect { config, rules } = in_effect(flag, env, tree);
            if config.enabled != Some(false) {
                return None;
            }
            Some(EnvironmentEntry::Config(EnvironmentConfig {
                enabled: None,
                value: Some(config.value.unwrap_or_else(|| flag.default_value.clone())),
                targeting_rules: Some(rules),
            }))
        }
    }
}

/// The flag serving `value`: in `env` (the entry in effect, with this
/// value, becomes the environment's own), or as its default without an
/// environment.
pub fn set_value(
    flag: &Flag,
    env: Option<&str>,
    value: Value,
    tree: &[Environment],
) -> Result<Flag, EditError> {
    let next = match env {
        None => Flag {
            default_value: value,
            ..flag.clone()
        },
        Some(env) => {
            let mut config = entry_in_effect(flag, env, tree);
            config.value = Some(value);
            with_entry(flag, env, simplify(config))
        }
    };
    as_stored(&next)
}

/// The flag with one rule's percentage set: in `env`, among the rules in
/// effect there (which, with the rest of the entry in effect, become the
/// environment's own); without an environment, among the flag-level rules.
pub fn set_percentage(
    flag: &Flag,
    env: Option<&str>,
    percentage: f64,
    rule: Option<&RuleSelector>,
    tree: &[Environment],
) -> Result<Flag, EditError> {
    if !(0.0..=100.0).contains(&percentage) {
        return Err(EditError::PercentageOutOfRange(percentage));
    }
    let next = match env {
        None => {
            let mut next = flag.clone();
            set_rule_percentage(&mut next.targeting_rules, rule, percentage)?;
            next
        }
        Some(env) => {
            let InEffect {
                mut config,
                mut rules,
            } = in_effect(flag, env, tree);
            set_rule_percentage(&mut rules, rule, percentage)?;
            config.targeting_rules = Some(rules);
            with_entry(flag, env, simplify(config))
        }
    };
    as_stored(&next)
}

fn set_rule_percentage(
    rules: &mut [Rule],
    selector: Option<&RuleSelector>,
    percentage: f64,
) -> Result<(), EditError> {
    let Some(index) = choose_rule(rules, selector) else {
        return Err(EditError::UnknownRule {
            rules: rules
                .iter()
                .enumerate()
                .map(|(i, r)| r.name.clone().unwrap_or_else(|| i.to_string()))
                .collect(),
        });
    };
    rules[index].percentage = Some(percentage);
    Ok(())
}

/// The rule a selector means:
/// - an index names the rule at that position (or, past the end, a rule
///   whose name is that number);
/// - a name names the rule of that name (or, when none has it and it is a
///   number, the rule at that position);
/// - no selector means the first rule with a percentage, else the only rule.
pub fn choose_rule(rules: &[Rule], selector: Option<&RuleSelector>) -> Option<usize> {
    let by_name = |name: &str| rules.iter().position(|r| r.name.as_deref() == Some(name));
    let by_index = |i: usize| (i < rules.len()).then_some(i);
    match selector {
        Some(RuleSelector::Index(i)) => by_index(*i).or_else(|| by_name(&i.to_string())),
        Some(RuleSelector::Name(name)) => {
            by_name(name).or_else(|| name.parse::<usize>().ok().and_then(by_index))
        }
        None => rules
            .iter()
            .position(|r| r.percentage.is_some())
            .or_else(|| (rules.len() == 1).then_some(0)),
    }
}

/// The flag with `environments[env]` set to `entry`, or removed (`None`).
/// A new entry goes last; a replaced one keeps its place.
pub fn with_entry(flag: &Flag, env: &str, entry: Option<EnvironmentEntry>) -> Flag {
    let mut next = flag.clone();
    match entry {
        Some(entry) => {
            next.environments.insert(env.to_owned(), entry);
        }
        None => {
            next.environments.shift_remove(env);
        }
    }
    next
}

/// A configuration in its simplest form: nothing left → no entry; only a
/// value → the bare value (unless it would read as a configuration).
fn simplify(config: EnvironmentConfig) -> Option<EnvironmentEntry> {
    match config {
        EnvironmentConfig {
            enabled: None,
            value: None,
            targeting_rules: None,
        } => None,
        EnvironmentConfig {
            enabled: None,
            value: Some(value),
            targeting_rules: None,
        } if !looks_like_config(&value) => Some(EnvironmentEntry::Value(value)),
        config => Some(EnvironmentEntry::Config(config)),
    }
}

/// The document as it will be stored and read back: serialized and parsed
/// again, which checks it like any written document.
fn as_stored(flag: &Flag) -> Result<Flag, EditError> {
    let document = serde_json::to_value(flag)
        .map_err(|e| EditError::Invalid(vec![Problem::error("", e.to_string())]))?;
    crate::parse::parse_flag(&document).map_err(EditError::Invalid)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn flag(doc: Value) -> Flag {
        crate::parse::parse_flag(&doc).unwrap_or_else(|p| panic!("{p:?}"))
    }

    /// development → staging (auto_sync) → production, as in the seed.
    fn tree() -> Vec<Environment> {
        Environment::seed_tree()
    }

    /// The document's `environments` (`{}` when it has none).
    fn environments(flag: &Flag) -> Value {
        let document = serde_json::to_value(flag).unwrap_or_else(|e| panic!("{e}"));
        document.get("environments").cloned().unwrap_or(json!({}))
    }

    /// `set_enabled`: (the flag's environments, where, on?, the environments
    /// after). The flag's default is `true`.
    #[test]
    fn set_enabled_cases() {
        #[rustfmt::skip]
        let cases = [
            // Disabling writes enabled: false into the own entry.
            (json!({}), "development", false, json!({"development": {"enabled": false}})),
            (json!({"development": true}), "development", false,
             json!({"development": {"enabled": false, "value": true}})),
            (json!({"production": {"value": true, "targeting_rules": []}}), "production", false,
             json!({"production": {"enabled": false, "value": true, "targeting_rules": []}})),
            // Staging inherits development's entry: disabling gives it its own.
            (json!({"development": true}), "staging", false,
             json!({"development": true, "staging": {"enabled": false}})),
            // Enabling what is on changes nothing.
            (json!({}), "staging", true, json!({})),
            (json!({"staging": {"enabled": true}}), "staging", true, json!({"staging": {"enabled": true}})),
            (json!({"staging": false}), "staging", true, json!({"staging": false})),
            // Enabling removes the kill switch, and an entry left empty.
            (json!({"development": {"enabled": false, "value": true}}), "development", true,
             json!({"development": true})),
            (json!({"development": {"enabled": false}}), "development", true, json!({})),
            (json!({"production": {"enabled": false, "value": true, "targeting_rules": []}}), "production", true,
             json!({"production": {"value": true, "targeting_rules": []}})),
            // An own kill switch under a parent that is off too: say on.
            (json!({"development": {"enabled": false}, "staging": {"enabled": false}}), "staging", true,
             json!({"development": {"enabled": false}, "staging": {"enabled": true}})),
            // Inheriting a switched-off entry: what it serves when on becomes own.
            (json!({"development": {"enabled": false}}), "staging", true,
             json!({"development": {"enabled": false}, "staging": {"value": true, "targeting_rules": []}})),
            (json!({"development": {"enabled": false, "value": false}}), "staging", true,
             json!({"development": {"enabled": false, "value": false},
                    "staging": {"value": false, "targeting_rules": []}})),
            // Production does not follow staging (no auto_sync): nothing inherited.
            (json!({"development": {"enabled": false}}), "production", true,
             json!({"development": {"enabled": false}})),
        ];
        for (i, (envs, env, on, expected)) in cases.into_iter().enumerate() {
            let before = flag(json!({"flag_id": "f", "default_value": true, "environments": envs}));
            let after = set_enabled(&before, env, on, &tree());
            assert_eq!(environments(&after), expected, "case {i}: {env} {on}");
            assert_eq!(enabled_in(&after, env, &tree()), on, "case {i}");
            // What set_enabled returns is what storing and reading gives.
            assert_eq!(as_stored(&after), Ok(after.clone()), "case {i}");
        }
    }

    #[test]
    fn disabling_then_enabling_restores_the_document() {
        let original = flag(json!({
            "flag_id": "new_payment_flow",
            "default_value": false,
            "environments": {"development": true, "production": {"value": true, "targeting_rules": []}}
        }));
        for env in ["development", "staging", "production"] {
            let off = set_enabled(&original, env, false, &tree());
            assert_ne!(off, original);
            assert!(!enabled_in(&off, env, &tree()));
            assert_eq!(set_enabled(&off, env, true, &tree()), original, "{env}");
        }
        // Every environment off, then on again (in key order, as the kill
        // switch does): staging's own kill switch goes once development is on.
        let all = ["development", "production", "staging"];
        let off = all.iter().fold(original.clone(), |f, env| {
            set_enabled(&f, env, false, &tree())
        });
        let on = all
            .iter()
            .fold(off, |f, env| set_enabled(&f, env, true, &tree()));
        assert_eq!(on, original);
    }

    fn rules(names: &[Option<&str>], with_percentage: &[bool]) -> Vec<Rule> {
        names
            .iter()
            .zip(with_percentage)
            .map(|(name, p)| {
                let mut rule = json!({"value": true});
                if let Some(name) = name {
                    rule["name"] = json!(name);
                }
                if *p {
                    rule["percentage"] = json!(10);
                }
                rule
            })
            .map(|rule| {
                flag(json!({"flag_id": "f", "default_value": false, "targeting_rules": [rule]}))
                    .targeting_rules
                    .remove(0)
            })
            .collect()
    }

    #[test]
    fn choose_rule_cases() {
        let named = rules(&[Some("beta"), Some("2"), None], &[false, false, true]);
        let index = |i| Some(RuleSelector::Index(i));
        let name = |n: &str| Some(RuleSelector::Name(n.to_owned()));
        let cases: [(&[Rule], Option<RuleSelector>, Option<usize>); 10] = [
            (&named, index(0), Some(0)),
            (&named, index(2), Some(2)),
            // Past the end, an index may still be a rule's name.
            (&named, index(7), None),
            (&named, name("beta"), Some(0)),
            // A name first, then a position.
            (&named, name("2"), Some(1)),
            (&named, name("0"), Some(0)),
            (&named, name("gamma"), None),
            // No selector: the first rule with a percentage …
            (&named, None, Some(2)),
            // … else the only rule, else none.
            (&rules(&[Some("only")], &[false]), None, Some(0)),
            (&rules(&[None, None], &[false, false]), None, None),
        ];
        for (i, (rules, selector, expected)) in cases.into_iter().enumerate() {
            assert_eq!(
                choose_rule(rules, selector.as_ref()),
                expected,
                "case {i}: {selector:?}"
            );
        }
        let numbered = rules(&[Some("a"), Some("7")], &[false, false]);
        assert_eq!(choose_rule(&numbered, index(7).as_ref()), Some(1));
    }

    /// `set_percentage`: (the flag's environments, where, rule, percentage,
    /// the environments after, or the error). The flag-level rules are
    /// `[{name: everyone, value: true, percentage: 0}]`.
    #[test]
    fn set_percentage_cases() {
        let everyone = json!([{"name": "everyone", "value": true, "percentage": 5}]);
        let beta = json!([{"name": "beta", "value": true, "percentage": 50}]);
        #[rustfmt::skip]
        let cases = [
            // No entry anywhere: the flag-level rules become staging's own.
            (json!({}), "staging", None, 5.0, Ok(json!({"staging": {"targeting_rules": everyone}}))),
            // Staging inherits development's entry: its value and rules too.
            (json!({"development": {"value": false, "targeting_rules": beta}}), "staging", Some("beta"), 75.0,
             Ok(json!({"development": {"value": false, "targeting_rules": beta},
                       "staging": {"value": false, "targeting_rules": [{"name": "beta", "value": true, "percentage": 75}]}}))),
            // An own entry keeps what it has.
            (json!({"production": {"enabled": false}}), "production", None, 100.0,
             Ok(json!({"production": {"enabled": false,
                                      "targeting_rules": [{"name": "everyone", "value": true, "percentage": 100}]}}))),
            (json!({}), "staging", Some("nobody"), 5.0, Err(EditError::UnknownRule { rules: vec!["everyone".into()] })),
            (json!({}), "staging", None, 101.0, Err(EditError::PercentageOutOfRange(101.0))),
            (json!({}), "staging", None, -1.0, Err(EditError::PercentageOutOfRange(-1.0))),
        ];
        for (i, (envs, env, rule, percentage, expected)) in cases.into_iter().enumerate() {
            let before = flag(
                json!({"flag_id": "f", "default_value": false, "environments": envs,
                "targeting_rules": [{"name": "everyone", "value": true, "percentage": 0}]}),
            );
            let selector = rule.map(|r: &str| RuleSelector::Name(r.to_owned()));
            let after = set_percentage(&before, Some(env), percentage, selector.as_ref(), &tree());
            assert_eq!(after.map(|f| environments(&f)), expected, "case {i}");
        }
    }

    #[test]
    fn set_percentage_without_an_environment_edits_the_flag_level() {
        let before = flag(json!({"flag_id": "f", "default_value": false,
            "targeting_rules": [{"name": "a", "value": true}, {"name": "b", "value": true, "percentage": 1}]}));
        let after =
            set_percentage(&before, None, 12.5, None, &tree()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(after.targeting_rules[1].percentage, Some(12.5));
        assert_eq!(after.targeting_rules[0].percentage, None);
        // Steps are 0.001 %: checked like any written document.
        assert!(matches!(
            set_percentage(&before, None, 33.3333, None, &tree()),
            Err(EditError::Invalid(_))
        ));
    }

    /// `set_value`: (the flag's environments, where, value, the environments
    /// after, or whether it is refused).
    #[test]
    fn set_value_cases() {
        let rules = json!([{"name": "beta", "value": true, "percentage": 50}]);
        #[rustfmt::skip]
        let cases = [
            (json!({}), "staging", json!(true), Some(json!({"staging": true}))),
            (json!({"staging": {"enabled": false}}), "staging", json!(true),
             Some(json!({"staging": {"enabled": false, "value": true}}))),
            // Inherited rules are kept: only the value changes.
            (json!({"development": {"value": false, "targeting_rules": rules}}), "staging", json!(true),
             Some(json!({"development": {"value": false, "targeting_rules": rules},
                         "staging": {"value": true, "targeting_rules": rules}}))),
            // A value of another type is refused.
            (json!({}), "staging", json!("yes"), None),
        ];
        for (i, (envs, env, value, expected)) in cases.into_iter().enumerate() {
            let before =
                flag(json!({"flag_id": "f", "default_value": false, "environments": envs}));
            let after = set_value(&before, Some(env), value, &tree());
            match expected {
                Some(expected) => {
                    assert_eq!(after.map(|f| environments(&f)), Ok(expected), "case {i}")
                }
                None => assert!(
                    matches!(after, Err(EditError::Invalid(_))),
                    "case {i}: {after:?}"
                ),
            }
        }
        let before = flag(json!({"flag_id": "f", "default_value": false}));
        let after =
            set_value(&before, None, json!(true), &tree()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(after.default_value, json!(true));
    }

    /// `static_value` and `on_in`: (the flag, where, what it serves whatever
    /// the context, whether it is on).
    #[test]
    fn in_effect_cases() {
        #[rustfmt::skip]
        let cases = [
            (json!({"default_value": true}), "production", Some(json!(true)), true),
            (json!({"default_value": true, "environments": {"development": false}}), "staging", Some(json!(false)), false),
            (json!({"default_value": true, "environments": {"development": {"enabled": false}}}), "staging",
             Some(json!(false)), false),
            (json!({"type": "string", "default_value": "a", "environments": {"production": {"enabled": false, "value": "b"}}}),
             "production", Some(json!("a")), false),
            (json!({"type": "string", "default_value": "a", "environments": {"production": "b"}}),
             "production", Some(json!("b")), true),
            (json!({"default_value": false, "targeting_rules": [{"value": true, "percentage": 5}]}), "staging", None, true),
        ];
        for (i, (mut doc, env, value, on)) in cases.into_iter().enumerate() {
            doc["flag_id"] = json!("f");
            let flag = flag(doc);
            assert_eq!(static_value(&flag, env, &tree()), value, "case {i}");
            assert_eq!(on_in(&flag, env, &tree()), on, "case {i}");
        }
    }
}
