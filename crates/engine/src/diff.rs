//! Differences between two JSON documents, as a list of paths with their old
//! and new values: what version history, imports and change requests show.

use serde::Serialize;
use serde_json::Value;

use crate::validate::join_path;

/// One difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// Where (`environments.production.enabled`; empty for the whole document).
    pub path: String,
    /// The old value; absent when added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The new value; absent when removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// The differences from `before` to `after`. Objects are compared key by key;
/// arrays of equal length item by item; anything else as a whole. Numbers
/// compare by value (`1` and `1.0` are the same).
pub fn diff(before: &Value, after: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk("", Some(before), Some(after), &mut out);
    out
}

fn walk(path: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<Difference>) {
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (key, old) in a {
                walk(&join_path(path, key), Some(old), b.get(key), out);
            }
            for (key, new) in b {
                if !a.contains_key(key) {
                    walk(&join_path(path, key), None, Some(new), out);
                }
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
            for (i, (old, new)) in a.iter().zip(b).enumerate() {
                walk(&format!("{path}[{i}]"), Some(old), Some(new), out);
            }
        }
        (Some(a), Some(b)) if crate::values::json_equal(a, b) => {}
        (None, None) => {}
        (before, after) => out.push(Difference {
            path: path.to_owned(),
            before: before.cloned(),
            after: after.cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_changed_added_and_removed_paths() {
        let before =
            json!({"a": 1, "env": {"production": {"enabled": true}}, "tags": ["x"], "gone": 1});
        let after = json!({"a": 1.0, "env": {"production": {"enabled": false}}, "tags": ["x", "y"], "new": 2});
        let found = diff(&before, &after);
        assert_eq!(
            found,
            vec![
                Difference {
                    path: "env.production.enabled".into(),
                    before: Some(json!(true)),
                    after: Some(json!(false))
                },
                Difference {
                    path: "tags".into(),
                    before: Some(json!(["x"])),
                    after: Some(json!(["x", "y"]))
                },
                Difference {
                    path: "gone".into(),
                    before: Some(json!(1)),
                    after: None
                },
                Difference {
                    path: "new".into(),
                    before: None,
                    after: Some(json!(2))
                },
            ]
        );
        assert!(diff(&after, &after).is_empty());
    }
}
