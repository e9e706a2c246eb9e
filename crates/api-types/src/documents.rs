//! The documents the service stores: flags, segments, environments, and
//! the documents read whole (merge patches, `flag-dependencies.yaml`,
//! exports).
//!
//! They travel as JSON values: the engine is their authority
//! (`ff_engine::parse_flag` checks everything about a document at once and
//! reports each problem with its JSON path, which a derived deserialiser
//! could not), so these types carry the value as it is and describe its
//! shape here, by hand, for the OpenAPI document. Keep these schemas in step
//! with `crates/engine/README.md`; the server's contract test validates
//! every document its API tests write and read against them.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A flag, segment or environment key: lowercase letters, digits, `_`, `-`
/// and `.`, starting with a letter, at most 128 characters.
pub const KEY_PATTERN: &str = "^[a-z][a-z0-9_.-]{0,127}$";

/// Declares a newtype over a JSON value whose schema is written by hand.
macro_rules! document {
    ($(#[$meta:meta])* $name:ident, $schema_name:literal, $schema:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Value);

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($schema_name)
            }

            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                let schema: fn(&mut SchemaGenerator) -> Schema = $schema;
                schema(generator)
            }
        }
    };
}

fn reference<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<T>().to_value()
}

/// An object schema. Optional members may also be `null`, which the engine
/// reads as absent.
fn object(required: &[&str], mut properties: Value, closed: bool) -> Schema {
    if let Value::Object(members) = &mut properties {
        for (name, member) in members.iter_mut() {
            if !required.contains(&name.as_str()) {
                *member = json!({"anyOf": [member.take(), {"type": "null"}]});
            }
        }
    }
    let mut schema = json!({"type": "object", "required": required, "properties": properties});
    if closed {
        schema["additionalProperties"] = false.into();
    }
    Schema::try_from(schema).unwrap_or_default()
}

/// The members of a flag document.
fn flag_properties(generator: &mut SchemaGenerator) -> Value {
    let rule = reference::<RuleDocument>(generator);
    let entry = reference::<EnvironmentEntry>(generator);
    json!({
        "flag_id": {"type": "string", "pattern": KEY_PATTERN},
        "type": {"enum": ["boolean", "string", "number", "json"]},
        "description": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {"type": "string"},
        "lifecycle": {"enum": ff_engine::Lifecycle::ALL.map(ff_engine::Lifecycle::as_str)},
        "default_value": {},
        "variants": {"type": "object"},
        "targeting_rules": {"type": "array", "items": rule},
        "environments": {"type": "object", "additionalProperties": entry},
        "depends_on": {"type": "array", "items": {"type": "object", "required": ["flag"], "properties": {
            "flag": {"type": "string"}, "required_value": {}, "repository": {"type": "string"}}}},
    })
}

/// What a written document may also carry, as read from the API: the
/// version it was read at (a stale one is a 409) and the metadata an answer
/// adds, which is ignored. (`ff_server::flag_ops::strip_meta`.)
fn with_read_metadata(mut properties: Value, extra: &[&str]) -> Value {
    properties["version"] = json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX,
        "description": "the version the document was read at (optional)"});
    for name in ["created_at", "updated_at", "deleted", "warnings"]
        .iter()
        .chain(extra)
    {
        properties[*name] = json!({"description": "as answered; ignored"});
    }
    properties
}

document!(
    /// A flag document as created (`POST /api/v1/flags`, bulk, import): see
    /// `crates/engine/README.md`.
    FlagDocument,
    "FlagDocument",
    |generator| {
        let properties = with_read_metadata(flag_properties(generator), &[]);
        object(&["flag_id"], properties, true)
    }
);

document!(
    /// A flag document replacing one (`PUT /api/v1/flags/{flag_id}`): the
    /// `flag_id` is the path's when absent.
    FlagReplacement,
    "FlagReplacement",
    |generator| {
        let properties = with_read_metadata(flag_properties(generator), &[]);
        object(&[], properties, true)
    }
);

document!(
    /// A flag document's members as the API answers them, beside the
    /// stored metadata (see [`crate::Flag`]).
    FlagFields,
    "FlagFields",
    |generator| object(&["flag_id"], flag_properties(generator), false)
);

document!(
    /// One targeting rule.
    RuleDocument,
    "Rule",
    |generator| {
        let condition = reference::<ConditionDocument>(generator);
        object(&[], json!({
            "name": {"type": "string"},
            "conditions": {"type": "array", "items": condition},
            "value": {},
            "variant": {"type": "string"},
            "variants": {"type": "array", "items": {"type": "object", "properties": {
                "variant": {"type": "string"}, "weight": {"type": "number"}}}},
            "percentage": {"type": "number", "minimum": 0, "maximum": 100},
            "bucket_by": {"type": "string"},
        }), false)
    }
);

document!(
    /// One condition of a rule or segment.
    ConditionDocument,
    "Condition",
    |_| {
        let operators: Vec<&str> = ff_engine::Operator::ALL.iter().map(|op| op.as_str()).collect();
        object(&[], json!({
            "attribute": {"type": "string"}, "operator": {"enum": operators}, "value": {}}), false)
    }
);

document!(
    /// A flag's entry in one environment: a bare value, or
    /// `{enabled, value, targeting_rules}`.
    EnvironmentEntry,
    "EnvironmentEntry",
    |generator| {
        let rule = reference::<RuleDocument>(generator);
        json_schema!({"description": "A bare value, or {enabled, value, targeting_rules}.", "anyOf": [{}, {"type": "object", "properties": {
            "enabled": {"type": "boolean"}, "value": {}, "targeting_rules": {"type": "array", "items": rule}}}]})
    }
);

document!(
    /// An RFC 7396 merge patch of a flag document: objects merge, `null`
    /// removes.
    MergePatch,
    "MergePatch",
    |_| json_schema!({"type": "object", "description": "RFC 7396: objects merge, null removes."})
);

fn segment_properties(generator: &mut SchemaGenerator) -> Value {
    let condition = reference::<ConditionDocument>(generator);
    json!({
        "segment_id": {"type": "string", "pattern": KEY_PATTERN},
        "description": {"type": "string"},
        "conditions": {"type": "array", "items": condition},
    })
}

document!(
    /// A segment document: a reusable list of conditions.
    SegmentDocument,
    "SegmentDocument",
    |generator| {
        let properties = with_read_metadata(segment_properties(generator), &["used_by"]);
        object(&["segment_id", "conditions"], properties, true)
    }
);

document!(
    /// A segment document replacing one: the `segment_id` is the path's
    /// when absent.
    SegmentReplacement,
    "SegmentReplacement",
    |generator| {
        let properties = with_read_metadata(segment_properties(generator), &["used_by"]);
        object(&["conditions"], properties, true)
    }
);

document!(
    /// A segment document's members as the API answers them.
    SegmentFields,
    "SegmentFields",
    |generator| object(&["segment_id", "conditions"], segment_properties(generator), false)
);

fn environment_properties() -> Value {
    json!({
        "key": {"type": "string", "pattern": KEY_PATTERN}, "parent": {"type": ["string", "null"]}, "auto_sync": {"type": "boolean"},
        "description": {"type": "string"}, "approval_required": {"type": "boolean"},
        "required_approvals": {"type": "integer", "minimum": 1}, "protected": {"type": "boolean"},
        "dependency_policy": {"enum": ["warn", "refuse"]},
        "change_windows": {"type": "array", "items": {"type": "object", "properties": {
            "days": {"type": "array", "items": {"type": "string"}}, "start": {"type": "string"},
            "end": {"type": "string"}, "time_zone": {"type": "string"}}}},
    })
}

document!(
    /// An environment's settings.
    EnvironmentDocument,
    "EnvironmentDocument",
    |_| {
        let properties = with_read_metadata(environment_properties(), &["children"]);
        object(&["key"], properties, false)
    }
);

document!(
    /// An environment's settings replacing its own: the `key` is the
    /// path's when absent.
    EnvironmentReplacement,
    "EnvironmentReplacement",
    |_| {
        let properties = with_read_metadata(environment_properties(), &["children"]);
        object(&[], properties, false)
    }
);

document!(
    /// An environment's settings as the API answers them.
    EnvironmentFields,
    "EnvironmentFields",
    |_| object(&["key"], environment_properties(), false)
);

document!(
    /// The seed's `flag-dependencies.yaml`, as JSON or YAML.
    DependenciesDocument,
    "Dependencies",
    |_| object(&["dependencies"], json!({
        "dependencies": {"type": "array", "items": {"type": "object", "required": ["flag", "depends_on"], "properties": {
            "flag": {"type": "string"},
            "depends_on": {"type": "array", "items": {"type": "object", "required": ["flag"], "properties": {
                "repository": {"type": "string"}, "flag": {"type": "string"}, "required_value": {}}}}}}}}), false)
);

document!(
    /// Everything, as `GET /api/v1/export` answers and `POST
    /// /api/v1/import` reads it. `environments` may also be a map from key
    /// to settings (the seed's YAML).
    ExportDocument,
    "Export",
    |generator| {
        let flag = reference::<FlagFields>(generator);
        let segment = reference::<SegmentFields>(generator);
        let environment = reference::<EnvironmentFields>(generator);
        object(&[], json!({
            "format_version": {"description": "as exported; ignored on import"},
            "revision": {"description": "as exported; ignored on import"},
            "flags": {"type": "array", "items": flag},
            "segments": {"type": "array", "items": segment},
            "environments": {"anyOf": [{"type": "array", "items": environment}, {"type": "object"}]},
        }), false)
    }
);

/// A JSON object, as the members of a document answered beside metadata.
pub type Members = Map<String, Value>;
