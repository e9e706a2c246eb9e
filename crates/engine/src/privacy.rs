//! Where a person's id appears in flag rules and segments, and the same
//! documents without it (for privacy erasure requests).
//!
//! Only exact string matches in condition values count: a list entry equal
//! to the id is removed, a single value equal to it is replaced by
//! [`ERASED`]. Both keep every other context's result unchanged (nobody
//! else had that id), where removing a whole condition would widen its rule
//! to everyone. Ids inside patterns (`starts_with`, `matches`) are not
//! recognised.

use serde_json::Value;

use crate::{Condition, EnvironmentEntry, Flag, Rule, Segment};

/// What replaces an erased id in a single-valued condition.
pub const ERASED: &str = "[erased]";

/// The paths of the conditions of `flag` that name `id`
/// (`targeting_rules[0].conditions[1]`, `environments.production.targeting_rules[0]…`).
pub fn flag_mentions(flag: &Flag, id: &str) -> Vec<String> {
    let mut found = rule_mentions(&flag.targeting_rules, id, "targeting_rules");
    for (env, entry) in &flag.environments {
        if let EnvironmentEntry::Config(config) = entry
            && let Some(rules) = &config.targeting_rules
        {
            found.extend(rule_mentions(
                rules,
                id,
                &format!("environments.{env}.targeting_rules"),
            ));
        }
    }
    found
}

/// The paths of the conditions of `segment` that name `id`.
pub fn segment_mentions(segment: &Segment, id: &str) -> Vec<String> {
    condition_mentions(&segment.conditions, id, "conditions")
}

/// `flag` without `id`, when it named it.
pub fn erase_from_flag(flag: &Flag, id: &str) -> Option<Flag> {
    if flag_mentions(flag, id).is_empty() {
        return None;
    }
    let mut erased = flag.clone();
    erase_in_rules(&mut erased.targeting_rules, id);
    for entry in erased.environments.values_mut() {
        if let EnvironmentEntry::Config(config) = entry
            && let Some(rules) = &mut config.targeting_rules
        {
            erase_in_rules(rules, id);
        }
    }
    Some(erased)
}

/// `segment` without `id`, when it named it.
pub fn erase_from_segment(segment: &Segment, id: &str) -> Option<Segment> {
    if segment_mentions(segment, id).is_empty() {
        return None;
    }
    let mut erased = segment.clone();
    erase_in_conditions(&mut erased.conditions, id);
    Some(erased)
}

fn rule_mentions(rules: &[Rule], id: &str, path: &str) -> Vec<String> {
    rules
        .iter()
        .enumerate()
        .flat_map(|(i, rule)| {
            condition_mentions(&rule.conditions, id, &format!("{path}[{i}].conditions"))
        })
        .collect()
}

fn condition_mentions(conditions: &[Condition], id: &str, path: &str) -> Vec<String> {
    conditions
        .iter()
        .enumerate()
        .filter(|(_, condition)| condition.value.as_ref().is_some_and(|v| names(v, id)))
        .map(|(i, _)| format!("{path}[{i}]"))
        .collect()
}

fn names(value: &Value, id: &str) -> bool {
    match value {
        Value::String(text) => text == id,
        Value::Array(items) => items.iter().any(|item| item.as_str() == Some(id)),
        _ => false,
    }
}

fn erase_in_rules(rules: &mut [Rule], id: &str) {
    for rule in rules {
        erase_in_conditions(&mut rule.conditions, id);
    }
}

fn erase_in_conditions(conditions: &mut [Condition], id: &str) {
    for condition in conditions {
        match &mut condition.value {
            Some(Value::String(text)) if text == id => *text = ERASED.to_owned(),
            Some(Value::Array(items)) => items.retain(|item| item.as_str() != Some(id)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Context, Snapshot, parse_flag};

    fn flag() -> Flag {
        parse_flag(&json!({
            "flag_id": "beta", "default_value": false,
            "targeting_rules": [
                {"conditions": [{"attribute": "user_id", "operator": "in", "value": ["ann", "bob"]}], "value": true},
                {"conditions": [{"attribute": "user_id", "operator": "not_equals", "value": "bob"},
                                {"attribute": "country", "operator": "equals", "value": "IT"}], "value": true}
            ],
            "environments": {"production": {"enabled": true, "value": false, "targeting_rules": [
                {"conditions": [{"attribute": "user_id", "operator": "equals", "value": "bob"}], "value": true}
            ]}}
        }))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
    }

    #[test]
    fn mentions_are_found_and_erased() {
        let flag = flag();
        assert_eq!(
            flag_mentions(&flag, "bob"),
            [
                "targeting_rules[0].conditions[0]",
                "targeting_rules[1].conditions[0]",
                "environments.production.targeting_rules[0].conditions[0]"
            ]
        );
        assert!(flag_mentions(&flag, "carol").is_empty());
        assert!(erase_from_flag(&flag, "carol").is_none());
        let erased = erase_from_flag(&flag, "bob").unwrap_or_else(|| panic!("bob is named"));
        assert!(flag_mentions(&erased, "bob").is_empty());
        assert!(
            !serde_json::to_string(&erased)
                .unwrap_or_default()
                .contains("\"bob\"")
        );
    }

    #[test]
    fn erasing_keeps_everyone_elses_values() {
        let flag = flag();
        let erased = erase_from_flag(&flag, "bob").unwrap_or_else(|| panic!("bob is named"));
        let tree = crate::Environment::seed_tree();
        let before = Snapshot::build(std::slice::from_ref(&flag), &[], &tree);
        let after = Snapshot::build(std::slice::from_ref(&erased), &[], &tree);
        for user in ["ann", "carol", "dave"] {
            for country in ["IT", "FR"] {
                let context = Context::for_user(user).with("country", country);
                for env in ["development", "production"] {
                    let value = |snapshot: &Snapshot| {
                        snapshot
                            .environment(env)
                            .and_then(|s| s.evaluate("beta", &context).value.cloned())
                    };
                    assert_eq!(value(&before), value(&after), "{user} {country} {env}");
                }
            }
        }
    }
}
