//! Flag documents as the API reads and writes them: per-environment entries
//! and JSON merge patches of the JSON document, and the metadata fields that
//! responses add to a document. Edits of the flag model itself (the kill
//! switch, values, percentages) are the engine's (`ff_engine::edit`).

use ff_engine::{Flag, Segment};
use ff_store::StoredFlag;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// A flag as the API returns it: the document plus `version`, `created_at`,
/// `updated_at` (and `deleted` when it is).
pub fn flag_response(stored: &StoredFlag) -> ff_api_types::Flag {
    ff_api_types::Flag {
        document: members(&stored.flag),
        version: stored.version,
        created_at: rfc3339(stored.created_at),
        updated_at: rfc3339(stored.updated_at),
        deleted: stored.deleted,
        warnings: Vec::new(),
    }
}

/// A document's members, answered beside its metadata.
pub fn members(document: &impl serde::Serialize) -> ff_api_types::Members {
    match serde_json::to_value(document) {
        Ok(Value::Object(members)) => members,
        _ => ff_api_types::Members::new(),
    }
}

/// A time as RFC 3339.
pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Removes the response metadata from a document; returns its `version`
/// (`ff_documents::strip_meta`, answering the API's error).
pub fn strip_meta(doc: &mut Value) -> Result<Option<i64>, ApiError> {
    Ok(ff_documents::strip_meta(doc)?)
}

/// The document with `environments[env]` replaced by `entry` (JSON), or
/// removed when `entry` is `None`. Returned as JSON for the engine to parse,
/// so that problems are located inside the whole document.
pub fn with_environment_entry(flag: &Flag, env: &str, entry: Option<Value>) -> Value {
    let mut doc = serde_json::to_value(flag).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut doc {
        let environments = map
            .entry("environments")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(envs) = environments {
            match entry {
                Some(entry) => {
                    envs.insert(env.to_owned(), entry);
                }
                None => {
                    envs.shift_remove(env);
                }
            }
        }
    }
    doc
}

/// Applies a JSON merge patch (RFC 7396): objects merge, `null` removes,
/// anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.shift_remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Reads a flag document: engine parsing with every problem reported, 422.
pub fn parse_flag(doc: &serde_json::Value) -> Result<Flag, ApiError> {
    ff_engine::parse_flag(doc).map_err(ApiError::Validation)
}

/// Reads a segment document.
pub fn parse_segment(doc: &serde_json::Value) -> Result<Segment, ApiError> {
    ff_engine::parse_segment(doc).map_err(ApiError::Validation)
}

/// A `number` flag is a float flag when any of its values is written with a
/// fraction or exponent (`10.0`, `0.5`); otherwise its values are integers.
pub fn is_float_flag(flag: &ff_engine::Flag) -> bool {
    if flag.flag_type != ff_engine::FlagType::Number {
        return false;
    }
    let document = serde_json::to_value(flag).unwrap_or_default();
    let mut values = vec![&document["default_value"]];
    if let Some(variants) = document["variants"].as_object() {
        values.extend(variants.values());
    }
    if let Some(environments) = document["environments"].as_object() {
        for entry in environments.values() {
            values.push(entry.get("value").unwrap_or(entry));
            collect_rule_values(&entry["targeting_rules"], &mut values);
        }
    }
    collect_rule_values(&document["targeting_rules"], &mut values);
    values
        .iter()
        .any(|v| v.as_number().is_some_and(|n| n.is_f64()))
}

fn collect_rule_values<'a>(rules: &'a Value, out: &mut Vec<&'a Value>) {
    if let Some(rules) = rules.as_array() {
        out.extend(rules.iter().filter_map(|rule| rule.get("value")));
    }
}

/// The merge patch (RFC 7396) that turns `before` into `after`: what a
/// change did, so that it can be re-applied to a newer document.
pub fn merge_diff(before: &Value, after: &Value) -> Value {
    match (before, after) {
        (Value::Object(before), Value::Object(after)) => {
            let mut patch = serde_json::Map::new();
            for (key, old) in before {
                match after.get(key) {
                    None => {
                        patch.insert(key.clone(), Value::Null);
                    }
                    Some(new) if new != old => {
                        patch.insert(key.clone(), merge_diff(old, new));
                    }
                    Some(_) => {}
                }
            }
            for (key, new) in after {
                if !before.contains_key(key) {
                    patch.insert(key.clone(), new.clone());
                }
            }
            Value::Object(patch)
        }
        _ => after.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn merge_diff_reapplies_a_change() {
        let before = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        let after = serde_json::json!({"a": 1, "b": {"c": 5}, "e": [2], "f": true});
        let patch = merge_diff(&before, &after);
        let mut applied = before.clone();
        merge_patch(&mut applied, &patch);
        assert_eq!(applied, after);
    }
}
