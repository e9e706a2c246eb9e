//! The flag document: the one shape that the API takes and returns, that is
//! stored, exported and kept as history.
//!
//! These types are produced only by [`crate::parse`] (or serde's
//! `Deserialize`, which calls it), so a value of [`Flag`] or [`Segment`] has
//! always passed the per-document checks. Serialization writes the document
//! back in the form it was written in (bare environment values stay bare).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// The keys that make an environment entry a configuration object rather than
/// a bare value (see [`EnvironmentEntry`]).
pub const CONFIG_KEYS: &[&str] = &["enabled", "value", "targeting_rules"];

/// One feature flag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    /// Unique key: lowercase letters, digits, `_`, `-`, `.`; starts with a letter.
    pub flag_id: String,
    /// The type every value of this flag has.
    #[serde(rename = "type")]
    pub flag_type: FlagType,
    /// Free text for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Labels for filtering and policies (e.g. `sox`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The team or repository that owns the flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Where the flag is in its life.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
    /// Served when nothing else applies.
    pub default_value: Value,
    /// Named values that rules may serve by name.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub variants: IndexMap<String, Value>,
    /// Rules used in every environment that does not define its own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targeting_rules: Vec<Rule>,
    /// Per-environment values or configurations.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub environments: IndexMap<String, EnvironmentEntry>,
    /// Prerequisites: flags that must have a given value for this one to be on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Dependency>,
}

impl Flag {
    /// Whether any rule of the flag (at flag level or in an environment)
    /// tests segment membership: such a flag is compiled against the
    /// segments, and is recompiled when the set of segments changes.
    pub fn uses_segments(&self) -> bool {
        let rules_use = |rules: &[Rule]| {
            rules
                .iter()
                .flat_map(|rule| &rule.conditions)
                .any(|condition| condition.operator.is_segment())
        };
        rules_use(&self.targeting_rules)
            || self.environments.values().any(|entry| match entry {
                EnvironmentEntry::Config(config) => {
                    config.targeting_rules.as_deref().is_some_and(rules_use)
                }
                EnvironmentEntry::Value(_) => false,
            })
    }
}

/// The type of a flag's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlagType {
    /// `true` / `false`.
    Boolean,
    /// Any string.
    String,
    /// Any JSON number (integers stay integers).
    Number,
    /// Any JSON value.
    Json,
}

impl FlagType {
    /// All types, in documentation order.
    pub const ALL: [FlagType; 4] = [
        FlagType::Boolean,
        FlagType::String,
        FlagType::Number,
        FlagType::Json,
    ];

    /// The name used in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Boolean => "boolean",
            FlagType::String => "string",
            FlagType::Number => "number",
            FlagType::Json => "json",
        }
    }

    /// Parses a document name.
    pub fn from_name(name: &str) -> Option<FlagType> {
        FlagType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether `value` is a value of this type.
    pub fn admits(self, value: &Value) -> bool {
        match self {
            FlagType::Boolean => value.is_boolean(),
            FlagType::String => value.is_string(),
            FlagType::Number => value.is_number(),
            FlagType::Json => true,
        }
    }

    /// The type a bare value implies when a document has no `type`.
    pub fn infer(value: &Value) -> FlagType {
        match value {
            Value::Bool(_) => FlagType::Boolean,
            Value::String(_) => FlagType::String,
            Value::Number(_) => FlagType::Number,
            _ => FlagType::Json,
        }
    }
}

/// The stages of a flag's life, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// Defined, not used yet.
    Creation,
    /// Used in code behind the flag.
    Development,
    /// Both states under test.
    Testing,
    /// Being released gradually.
    Rollout,
    /// Fully released, being watched.
    Stabilization,
    /// Ready for its code to be removed.
    Cleanup,
}

impl Lifecycle {
    /// All stages, in order.
    pub const ALL: [Lifecycle; 6] = [
        Lifecycle::Creation,
        Lifecycle::Development,
        Lifecycle::Testing,
        Lifecycle::Rollout,
        Lifecycle::Stabilization,
        Lifecycle::Cleanup,
    ];

    /// The name used in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Creation => "creation",
            Lifecycle::Development => "development",
            Lifecycle::Testing => "testing",
            Lifecycle::Rollout => "rollout",
            Lifecycle::Stabilization => "stabilization",
            Lifecycle::Cleanup => "cleanup",
        }
    }
}

/// One environment's entry in a flag: either the seed's shorthand (a bare
/// value) or a configuration object.
///
/// For a `json` flag an object is a configuration only when every key in it is
/// one of [`CONFIG_KEYS`]; otherwise it is the value itself. A JSON value that
/// looks like a configuration is therefore written `{"value": {...}}`, which is
/// what serialization does.
#[derive(Debug, Clone, PartialEq)]
pub enum EnvironmentEntry {
    /// The environment's value; enabled, with the flag-level rules.
    Value(Value),
    /// An explicit configuration.
    Config(EnvironmentConfig),
}

impl EnvironmentEntry {
    /// The entry as a configuration (a bare value becomes `{value}`).
    pub fn to_config(&self) -> EnvironmentConfig {
        match self {
            EnvironmentEntry::Value(value) => EnvironmentConfig {
                value: Some(value.clone()),
                ..EnvironmentConfig::default()
            },
            EnvironmentEntry::Config(config) => config.clone(),
        }
    }
}

impl Serialize for EnvironmentEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EnvironmentEntry::Value(value) if !looks_like_config(value) => {
                value.serialize(serializer)
            }
            EnvironmentEntry::Value(value) => EnvironmentConfig {
                value: Some(value.clone()),
                ..EnvironmentConfig::default()
            }
            .serialize(serializer),
            EnvironmentEntry::Config(config) => config.serialize(serializer),
        }
    }
}

/// Whether a JSON value would be read as a configuration object.
pub fn looks_like_config(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            !map.is_empty() && map.keys().all(|k| CONFIG_KEYS.contains(&k.as_str()))
        }
        _ => false,
    }
}

/// An environment's explicit configuration. Absent fields fall back to the
/// flag level: `enabled` to `true`, `value` to `default_value`,
/// `targeting_rules` to the flag's rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EnvironmentConfig {
    /// `false` is the kill switch: the flag serves its off value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The value served when no rule matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Rules for this environment (replacing the flag-level ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targeting_rules: Option<Vec<Rule>>,
}

/// A targeting rule: when all conditions hold (and the context falls within
/// `percentage`), serve `serve`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// A name unique within its rule list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// All must hold for the rule to match. No conditions: everyone matches.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// What the rule serves.
    #[serde(flatten)]
    pub serve: Serve,
    /// Share of matching contexts that get the rule's value (0–100, 3 decimals).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_optional_percentage"
    )]
    pub percentage: Option<f64>,
    /// The attribute whose value is hashed for `percentage` and `variants`
    /// (default `user_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_by: Option<String>,
}

/// What a rule serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Serve {
    /// A literal value.
    #[serde(rename = "value")]
    Value(Value),
    /// A named entry of the flag's `variants`.
    #[serde(rename = "variant")]
    Variant(String),
    /// A weighted split between variants, by bucket.
    #[serde(rename = "variants")]
    Split(Vec<WeightedVariant>),
}

/// One share of a weighted split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightedVariant {
    /// A key of the flag's `variants`.
    pub variant: String,
    /// Percentage of the split (all weights of a rule add up to 100).
    #[serde(serialize_with = "serialize_percentage")]
    pub weight: f64,
}

/// Percentages are written as integers when they are whole (`25`, not
/// `25.0`), so that documents round-trip as they were written.
fn serialize_percentage<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && (0.0..=100.0).contains(value) {
        serializer.serialize_u64(*value as u64)
    } else {
        serializer.serialize_f64(*value)
    }
}

fn serialize_optional_percentage<S: Serializer>(
    value: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serialize_percentage(value, serializer),
        None => serializer.serialize_none(),
    }
}

/// One condition of a rule or segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// The context attribute tested (not needed for segment operators).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// How it is tested.
    pub operator: Operator,
    /// The operand (not needed for `exists` / `not_exists`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// A prerequisite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dependency {
    /// The flag that must have `required_value`.
    pub flag: String,
    /// The value the prerequisite must evaluate to (default `true`).
    pub required_value: Value,
    /// Where the prerequisite lives (metadata: the seed's cross-repository
    /// dependencies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

/// A reusable set of conditions, referenced by `in_segment` / `not_in_segment`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// Unique key, same rules as a flag key.
    pub segment_id: String,
    /// Free text for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// All must hold for a context to be in the segment.
    pub conditions: Vec<Condition>,
}

/// An environment as the engine sees it: its place in the tree and whether it
/// follows its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Unique key (`production`).
    pub key: String,
    /// The environment it inherits from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Flags with no entry here follow the parent's configuration.
    #[serde(default)]
    pub auto_sync: bool,
}

impl Environment {
    /// An environment with a parent (or none) and its `auto_sync` setting.
    pub fn new(key: &str, parent: Option<&str>, auto_sync: bool) -> Environment {
        Environment {
            key: key.to_owned(),
            parent: parent.map(str::to_owned),
            auto_sync,
        }
    }

    /// The seed's tree: `development` → `staging` (auto-sync) → `production`.
    pub fn seed_tree() -> Vec<Environment> {
        vec![
            Environment::new("development", None, false),
            Environment::new("staging", Some("development"), true),
            Environment::new("production", Some("staging"), false),
        ]
    }
}

/// The operators of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// Same type and value.
    Equals,
    /// Present and not equal.
    NotEquals,
    /// Equal to one of a list.
    In,
    /// Present and equal to none of a list.
    NotIn,
    /// Substring of a string, or element of a list.
    Contains,
    /// Present and not containing.
    NotContains,
    /// String prefix.
    StartsWith,
    /// String suffix.
    EndsWith,
    /// Regular expression search.
    Matches,
    /// Numeric `>`.
    Gt,
    /// Numeric `>=`.
    Gte,
    /// Numeric `<`.
    Lt,
    /// Numeric `<=`.
    Lte,
    /// Semantic version `==`.
    SemverEq,
    /// Semantic version `>`.
    SemverGt,
    /// Semantic version `>=`.
    SemverGte,
    /// Semantic version `<`.
    SemverLt,
    /// Semantic version `<=`.
    SemverLte,
    /// Date strictly before.
    Before,
    /// Date strictly after.
    After,
    /// Attribute present (not null).
    Exists,
    /// Attribute absent or null.
    NotExists,
    /// Context in one of the named segments.
    InSegment,
    /// Context in none of the named segments.
    NotInSegment,
}

impl Operator {
    /// Every operator, in documentation order.
    pub const ALL: [Operator; 24] = [
        Operator::Equals,
        Operator::NotEquals,
        Operator::In,
        Operator::NotIn,
        Operator::Contains,
        Operator::NotContains,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::Matches,
        Operator::Gt,
        Operator::Gte,
        Operator::Lt,
        Operator::Lte,
        Operator::SemverEq,
        Operator::SemverGt,
        Operator::SemverGte,
        Operator::SemverLt,
        Operator::SemverLte,
        Operator::Before,
        Operator::After,
        Operator::Exists,
        Operator::NotExists,
        Operator::InSegment,
        Operator::NotInSegment,
    ];

    /// The name used in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NotEquals => "not_equals",
            Operator::In => "in",
            Operator::NotIn => "not_in",
            Operator::Contains => "contains",
            Operator::NotContains => "not_contains",
            Operator::StartsWith => "starts_with",
            Operator::EndsWith => "ends_with",
            Operator::Matches => "matches",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::SemverEq => "semver_eq",
            Operator::SemverGt => "semver_gt",
            Operator::SemverGte => "semver_gte",
            Operator::SemverLt => "semver_lt",
            Operator::SemverLte => "semver_lte",
            Operator::Before => "before",
            Operator::After => "after",
            Operator::Exists => "exists",
            Operator::NotExists => "not_exists",
            Operator::InSegment => "in_segment",
            Operator::NotInSegment => "not_in_segment",
        }
    }

    /// Parses a document name.
    pub fn from_name(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// Segment operators test the whole context, not one attribute.
    pub fn is_segment(self) -> bool {
        matches!(self, Operator::InSegment | Operator::NotInSegment)
    }
}

impl Serialize for Operator {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

macro_rules! deserialize_via_parse {
    ($ty:ty, $parse:path) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = Value::deserialize(deserializer)?;
                $parse(&value).map_err(|problems| {
                    serde::de::Error::custom(crate::validate::Problem::join(&problems))
                })
            }
        }
    };
}

deserialize_via_parse!(Flag, crate::parse::parse_flag);
deserialize_via_parse!(Segment, crate::parse::parse_segment);
