//! Reading flag and segment documents from JSON, checking everything that can
//! be checked on one document and reporting every problem at once, each with
//! its JSON path.
//!
//! A document that parses can be compiled and evaluated without any error:
//! every operand has the type its operator needs, every regular expression
//! compiles, every version and date parses, every referenced variant exists.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::model::{
    Condition, Dependency, EnvironmentConfig, EnvironmentEntry, Flag, FlagType, Lifecycle,
    Operator, Rule, Segment, Serve, WeightedVariant, looks_like_config,
};
use crate::validate::{Problem, join_path, suggestion};
use crate::values::{has_at_most_three_decimals, kind, parse_date, parse_semver};

/// The largest compiled regular expression a condition may hold, in bytes.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// The longest key (flag, segment, environment).
pub const MAX_KEY_LEN: usize = 128;

const FLAG_KEYS: &[&str] = &[
    "flag_id",
    "type",
    "description",
    "tags",
    "owner",
    "lifecycle",
    "default_value",
    "variants",
    "targeting_rules",
    "environments",
    "depends_on",
];
const RULE_KEYS: &[&str] = &[
    "name",
    "conditions",
    "value",
    "variant",
    "variants",
    "percentage",
    "bucket_by",
];
const CONDITION_KEYS: &[&str] = &["attribute", "operator", "value"];
const SPLIT_KEYS: &[&str] = &["variant", "weight"];
const DEPENDENCY_KEYS: &[&str] = &["flag", "required_value", "repository"];
const SEGMENT_KEYS: &[&str] = &["segment_id", "description", "conditions"];

/// Reads and checks one flag document.
pub fn parse_flag(doc: &Value) -> Result<Flag, Vec<Problem>> {
    let mut p = Parser::default();
    let Some(obj) = p.object(doc, "", "a flag") else {
        return Err(p.problems);
    };
    p.unknown_keys(obj, "", FLAG_KEYS);

    let flag_id = p.key(obj, "", "flag_id");
    let default_value = obj.get("default_value");
    let flag_type = match obj.get("type") {
        None | Some(Value::Null) => default_value.map_or(FlagType::Boolean, FlagType::infer),
        Some(Value::String(name)) => FlagType::from_name(name).unwrap_or_else(|| {
            let names = FlagType::ALL.map(FlagType::as_str);
            p.unknown_name("type", "type", name, &names);
            FlagType::Json
        }),
        Some(other) => {
            p.error("type", format!("expected a string, found {}", kind(other)));
            FlagType::Json
        }
    };
    let default_value = match default_value {
        Some(value) => {
            p.typed_value(value, flag_type, "default_value");
            value.clone()
        }
        None if flag_type == FlagType::Boolean => Value::Bool(false),
        None => {
            p.error(
                "default_value",
                format!("a {} flag needs a default_value", flag_type.as_str()),
            );
            Value::Null
        }
    };

    let variants = p.variants(obj.get("variants"), flag_type);
    let scope = FlagScope {
        flag_type,
        variants: &variants,
    };
    let targeting_rules = p.rules(obj.get("targeting_rules"), "targeting_rules", &scope);
    let environments = p.environments(obj.get("environments"), &scope);
    let depends_on = p.dependencies(obj.get("depends_on"), flag_id.as_deref());

    let flag = Flag {
        flag_id: flag_id.unwrap_or_default(),
        flag_type,
        description: p.optional_string(obj, "", "description"),
        tags: p.string_list(obj.get("tags"), "tags"),
        owner: p.optional_string(obj, "", "owner"),
        lifecycle: p.lifecycle(obj.get("lifecycle")),
        default_value,
        variants,
        targeting_rules,
        environments,
        depends_on,
    };
    p.finish(flag)
}

/// Reads and checks one segment document.
pub fn parse_segment(doc: &Value) -> Result<Segment, Vec<Problem>> {
    let mut p = Parser::default();
    let Some(obj) = p.object(doc, "", "a segment") else {
        return Err(p.problems);
    };
    p.unknown_keys(obj, "", SEGMENT_KEYS);
    let segment_id = p.key(obj, "", "segment_id");
    let conditions = match obj.get("conditions") {
        None => {
            p.error("conditions", "a segment needs a list of conditions");
            Vec::new()
        }
        Some(value) => p.conditions(Some(value), "conditions", false),
    };
    let segment = Segment {
        segment_id: segment_id.unwrap_or_default(),
        description: p.optional_string(obj, "", "description"),
        conditions,
    };
    p.finish(segment)
}

/// Advice that does not refuse a flag: the naming convention.
pub fn lint_flag(flag: &Flag) -> Vec<Problem> {
    let id = &flag.flag_id;
    let mut warnings = Vec::new();
    if id.contains(['-', '.']) || id.contains("__") || id.ends_with('_') {
        warnings.push(Problem::warning(
            "flag_id",
            format!(
                "\"{id}\" is not snake_case; names like dashboard_redesign_enabled are advised"
            ),
        ));
    } else if id.split('_').count() < 3 {
        warnings.push(Problem::warning(
            "flag_id",
            format!(
                "\"{id}\" does not follow {{component}}_{{feature}}_{{action}} \
                 (e.g. payment_flow_optimized); advised, not required"
            ),
        ));
    }
    warnings
}

/// Whether `key` is a valid flag, segment or environment key: lowercase
/// letters, digits, `_`, `-` and `.`, starting with a letter, at most
/// [`MAX_KEY_LEN`] bytes. Such a key is safe in a URL path.
pub fn is_valid_key(key: &str) -> bool {
    key.len() <= MAX_KEY_LEN
        && key.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b))
}

/// What rules of one flag may refer to.
struct FlagScope<'a> {
    flag_type: FlagType,
    variants: &'a IndexMap<String, Value>,
}

#[derive(Default)]
struct Parser {
    problems: Vec<Problem>,
}

impl Parser {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::error(path, message));
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<Problem>> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }

    fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        what: &str,
    ) -> Option<&'v Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            other => {
                self.error(
                    path,
                    format!("{what} must be a JSON object, found {}", kind(other)),
                );
                None
            }
        }
    }

    fn array<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v Vec<Value>> {
        match value {
            Value::Array(items) => Some(items),
            other => {
                self.error(path, format!("expected a list, found {}", kind(other)));
                None
            }
        }
    }

    fn unknown_keys(&mut self, obj: &Map<String, Value>, path: &str, known: &[&str]) {
        for key in obj.keys() {
            if !known.contains(&key.as_str()) {
                let hint = suggestion(key, known.iter().copied())
                    .unwrap_or_else(|| format!("; known fields: {}", known.join(", ")));
                self.error(
                    join_path(path, key),
                    format!("unknown field \"{key}\"{hint}"),
                );
            }
        }
    }

    fn unknown_name(&mut self, path: &str, noun: &str, name: &str, known: &[&str]) {
        let hint = suggestion(name, known.iter().copied())
            .unwrap_or_else(|| format!("; expected one of: {}", known.join(", ")));
        self.error(path, format!("unknown {noun} \"{name}\"{hint}"));
    }

    /// A required key field (`flag_id`, `segment_id`).
    fn key(&mut self, obj: &Map<String, Value>, path: &str, field: &str) -> Option<String> {
        let path = join_path(path, field);
        match obj.get(field) {
            None => {
                self.error(path, format!("{field} is required"));
                None
            }
            Some(Value::String(key)) if is_valid_key(key) => Some(key.clone()),
            Some(Value::String(key)) => {
                self.error(path, key_message(key));
                None
            }
            Some(other) => {
                self.error(path, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn optional_string(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        field: &str,
    ) -> Option<String> {
        match obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.error(
                    join_path(path, field),
                    format!("expected a string, found {}", kind(other)),
                );
                None
            }
        }
    }

    fn non_empty_string(&mut self, value: &Value, path: &str) -> Option<String> {
        match value {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::String(_) => {
                self.error(path, "must not be empty");
                None
            }
            other => {
                self.error(path, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn string_list(&mut self, value: Option<&Value>, path: &str) -> Vec<String> {
        let Some(items) = value.and_then(|v| self.array(v, path)) else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.non_empty_string(item, &format!("{path}[{i}]")))
            .collect()
    }

    fn lifecycle(&mut self, value: Option<&Value>) -> Option<Lifecycle> {
        match value? {
            Value::Null => None,
            Value::String(name) => {
                let found = Lifecycle::ALL.into_iter().find(|l| l.as_str() == name);
                if found.is_none() {
                    let names = Lifecycle::ALL.map(Lifecycle::as_str);
                    self.unknown_name("lifecycle", "lifecycle stage", name, &names);
                }
                found
            }
            other => {
                self.error(
                    "lifecycle",
                    format!("expected a string, found {}", kind(other)),
                );
                None
            }
        }
    }

    fn typed_value(&mut self, value: &Value, flag_type: FlagType, path: &str) {
        if !flag_type.admits(value) {
            self.error(
                path,
                format!(
                    "expected a {} value (the flag's type), found {}",
                    flag_type.as_str(),
                    kind(value)
                ),
            );
        }
    }

    fn variants(&mut self, value: Option<&Value>, flag_type: FlagType) -> IndexMap<String, Value> {
        let mut variants = IndexMap::new();
        let Some(value) = value else {
            return variants;
        };
        let Some(obj) = self.object(value, "variants", "variants") else {
            return variants;
        };
        for (name, value) in obj {
            let path = format!("variants.{name}");
            if !is_valid_variant_name(name) {
                self.error(
                    path.clone(),
                    format!(
                        "invalid variant name \"{name}\": use letters, digits, _, - and ., \
                         starting with a letter or digit, at most {MAX_KEY_LEN} characters"
                    ),
                );
            }
            self.typed_value(value, flag_type, &path);
            variants.insert(name.clone(), value.clone());
        }
        variants
    }

    fn environments(
        &mut self,
        value: Option<&Value>,
        scope: &FlagScope<'_>,
    ) -> IndexMap<String, EnvironmentEntry> {
        let mut environments = IndexMap::new();
        let Some(obj) = value.and_then(|v| self.object(v, "environments", "environments")) else {
            return environments;
        };
        for (env, entry) in obj {
            let path = format!("environments.{env}");
            if !is_valid_key(env) {
                self.error(
                    path.clone(),
                    format!("invalid environment name: {}", key_message(env)),
                );
            }
            if let Some(entry) = self.environment_entry(entry, &path, scope) {
                environments.insert(env.clone(), entry);
            }
        }
        environments
    }

    fn environment_entry(
        &mut self,
        entry: &Value,
        path: &str,
        scope: &FlagScope<'_>,
    ) -> Option<EnvironmentEntry> {
        let config_object = match entry {
            Value::Object(map) if looks_like_config(entry) => Some(map),
            // A non-JSON flag has no object values, so any object is meant as
            // a configuration: report its unknown keys rather than a type error.
            Value::Object(map) if scope.flag_type != FlagType::Json => Some(map),
            _ => None,
        };
        let Some(map) = config_object else {
            self.typed_value(entry, scope.flag_type, path);
            return Some(EnvironmentEntry::Value(entry.clone()));
        };
        self.unknown_keys(map, path, crate::model::CONFIG_KEYS);
        let enabled = match map.get("enabled") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.error(
                    join_path(path, "enabled"),
                    format!("expected true or false, found {}", kind(other)),
                );
                None
            }
        };
        let value = map.get("value").map(|v| {
            self.typed_value(v, scope.flag_type, &join_path(path, "value"));
            v.clone()
        });
        let rules_path = join_path(path, "targeting_rules");
        let targeting_rules = map
            .get("targeting_rules")
            .map(|rules| self.rules(Some(rules), &rules_path, scope));
        Some(EnvironmentEntry::Config(EnvironmentConfig {
            enabled,
            value,
            targeting_rules,
        }))
    }

    fn rules(&mut self, value: Option<&Value>, path: &str, scope: &FlagScope<'_>) -> Vec<Rule> {
        let Some(items) = value.and_then(|v| self.array(v, path)) else {
            return Vec::new();
        };
        let mut names: Vec<&str> = Vec::new();
        let mut rules = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let rule_path = format!("{path}[{i}]");
            if let Some(Value::String(name)) = item.get("name") {
                if names.contains(&name.as_str()) {
                    self.error(
                        format!("{rule_path}.name"),
                        format!("duplicate rule name \"{name}\""),
                    );
                }
                names.push(name);
            }
            if let Some(rule) = self.rule(item, &rule_path, scope) {
                rules.push(rule);
            }
        }
        rules
    }

    fn rule(&mut self, value: &Value, path: &str, scope: &FlagScope<'_>) -> Option<Rule> {
        let obj = self.object(value, path, "a rule")?;
        self.unknown_keys(obj, path, RULE_KEYS);
        let name = obj
            .get("name")
            .and_then(|v| self.non_empty_string(v, &join_path(path, "name")));
        let conditions =
            self.conditions(obj.get("conditions"), &join_path(path, "conditions"), true);
        let percentage = obj
            .get("percentage")
            .and_then(|v| self.percentage(v, &join_path(path, "percentage")));
        let bucket_by = obj
            .get("bucket_by")
            .and_then(|v| self.non_empty_string(v, &join_path(path, "bucket_by")));
        let serve = self.serve(obj, path, scope)?;
        if matches!(serve, Serve::Split(_)) && percentage.is_some_and(|p| p < 100.0) {
            self.error(
                join_path(path, "percentage"),
                "a rule with a weighted variants split cannot also have a percentage; \
                 give the split's weights instead",
            );
        }
        Some(Rule {
            name,
            conditions,
            serve,
            percentage,
            bucket_by,
        })
    }

    fn serve(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        scope: &FlagScope<'_>,
    ) -> Option<Serve> {
        let given: Vec<&str> = ["value", "variant", "variants"]
            .into_iter()
            .filter(|k| obj.contains_key(*k))
            .collect();
        if given.len() > 1 {
            self.error(
                path,
                format!(
                    "a rule serves one of value, variant or variants, not {}",
                    given.join(" and ")
                ),
            );
            return None;
        }
        if let Some(value) = obj.get("value") {
            self.typed_value(value, scope.flag_type, &join_path(path, "value"));
            return Some(Serve::Value(value.clone()));
        }
        if let Some(variant) = obj.get("variant") {
            let vpath = join_path(path, "variant");
            let name = self.non_empty_string(variant, &vpath)?;
            self.known_variant(&name, &vpath, scope);
            return Some(Serve::Variant(name));
        }
        if let Some(split) = obj.get("variants") {
            return self.split(split, &join_path(path, "variants"), scope);
        }
        if scope.flag_type == FlagType::Boolean {
            // A boolean rule that says nothing serves `true`: "target these users".
            return Some(Serve::Value(Value::Bool(true)));
        }
        self.error(
            path,
            "a rule must serve a value, a variant or a weighted variants split",
        );
        None
    }

    fn known_variant(&mut self, name: &str, path: &str, scope: &FlagScope<'_>) {
        if !scope.variants.contains_key(name) {
            let known: Vec<&str> = scope.variants.keys().map(String::as_str).collect();
            if known.is_empty() {
                self.error(
                    path,
                    format!("unknown variant \"{name}\": the flag defines no variants"),
                );
            } else {
                self.unknown_name(path, "variant", name, &known);
            }
        }
    }

    fn split(&mut self, value: &Value, path: &str, scope: &FlagScope<'_>) -> Option<Serve> {
        let items = self.array(value, path)?;
        if items.is_empty() {
            self.error(path, "a split needs at least one variant");
            return None;
        }
        let mut shares = Vec::with_capacity(items.len());
        let mut total_thousandths: u64 = 0;
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            let Some(obj) = self.object(item, &ipath, "a weighted variant") else {
                continue;
            };
            self.unknown_keys(obj, &ipath, SPLIT_KEYS);
            let variant = match obj.get("variant") {
                Some(v) => self.non_empty_string(v, &join_path(&ipath, "variant")),
                None => {
                    self.error(join_path(&ipath, "variant"), "variant is required");
                    None
                }
            };
            if let Some(name) = &variant {
                self.known_variant(name, &join_path(&ipath, "variant"), scope);
            }
            let weight = match obj.get("weight") {
                Some(w) => self.percentage(w, &join_path(&ipath, "weight")),
                None => {
                    self.error(join_path(&ipath, "weight"), "weight is required");
                    None
                }
            };
            if let (Some(variant), Some(weight)) = (variant, weight) {
                total_thousandths =
                    total_thousandths.saturating_add(u64::from(crate::values::thousandths(weight)));
                shares.push(WeightedVariant { variant, weight });
            }
        }
        if shares.len() == items.len() && total_thousandths != 100_000 {
            self.error(
                path,
                format!(
                    "variant weights must add up to 100, they add up to {}",
                    total_thousandths as f64 / 1000.0
                ),
            );
        }
        Some(Serve::Split(shares))
    }

    fn percentage(&mut self, value: &Value, path: &str) -> Option<f64> {
        let Some(p) = value.as_f64() else {
            self.error(
                path,
                format!("expected a number from 0 to 100, found {}", kind(value)),
            );
            return None;
        };
        if !(0.0..=100.0).contains(&p) {
            self.error(path, format!("must be between 0 and 100, found {p}"));
            None
        } else if !has_at_most_three_decimals(p) {
            self.error(
                path,
                format!("at most 3 decimals are allowed (0.001 % steps), found {p}"),
            );
            None
        } else {
            Some(p)
        }
    }

    fn conditions(
        &mut self,
        value: Option<&Value>,
        path: &str,
        segments_allowed: bool,
    ) -> Vec<Condition> {
        let Some(items) = value.and_then(|v| self.array(v, path)) else {
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.condition(item, &format!("{path}[{i}]"), segments_allowed))
            .collect()
    }

    fn condition(
        &mut self,
        value: &Value,
        path: &str,
        segments_allowed: bool,
    ) -> Option<Condition> {
        let obj = self.object(value, path, "a condition")?;
        self.unknown_keys(obj, path, CONDITION_KEYS);
        let op_path = join_path(path, "operator");
        let operator = match obj.get("operator") {
            None => {
                self.error(op_path, "operator is required");
                None
            }
            Some(Value::String(name)) => {
                let op = Operator::from_name(name);
                if op.is_none() {
                    let names = Operator::ALL.map(Operator::as_str);
                    self.unknown_name(&op_path, "operator", name, &names);
                }
                op
            }
            Some(other) => {
                self.error(op_path, format!("expected a string, found {}", kind(other)));
                None
            }
        };
        let attr_path = join_path(path, "attribute");
        let attribute = match (obj.get("attribute"), operator) {
            (None, Some(op)) if !op.is_segment() => {
                self.error(
                    attr_path,
                    format!("attribute is required for \"{}\"", op.as_str()),
                );
                None
            }
            (Some(_), Some(op)) if op.is_segment() => {
                self.error(
                    attr_path,
                    format!(
                        "\"{}\" tests the whole context; remove the attribute",
                        op.as_str()
                    ),
                );
                None
            }
            (Some(v), _) => self.non_empty_string(v, &attr_path),
            (None, _) => None,
        };
        let operator = operator?;
        if operator.is_segment() && !segments_allowed {
            self.error(op_path_of(path), "a segment cannot refer to other segments");
        }
        let operand = obj.get("value");
        self.operand(operator, operand, &join_path(path, "value"));
        Some(Condition {
            attribute,
            operator,
            value: operand.cloned(),
        })
    }

    /// Checks the operand's type for its operator, so that evaluation never
    /// meets one it cannot use.
    fn operand(&mut self, operator: Operator, operand: Option<&Value>, path: &str) {
        use Operator as Op;
        let op = operator.as_str();
        let Some(value) = operand else {
            if !matches!(operator, Op::Exists | Op::NotExists) {
                self.error(path, format!("\"{op}\" needs a value"));
            }
            return;
        };
        match operator {
            Op::Exists | Op::NotExists => {
                self.error(path, format!("\"{op}\" takes no value; remove it"));
            }
            Op::Equals | Op::NotEquals | Op::Contains | Op::NotContains => {
                if !is_scalar(value) {
                    let hint = if value.is_array() && matches!(operator, Op::Equals | Op::NotEquals) {
                        format!("; to compare with a list use \"{}\"", if operator == Op::Equals { "in" } else { "not_in" })
                    } else {
                        String::new()
                    };
                    self.error(path, format!("\"{op}\" needs a string, number or boolean, found {}{hint}", kind(value)));
                }
            }
            Op::In | Op::NotIn => match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if !is_scalar(item) {
                            self.error(format!("{path}[{i}]"), format!("list items must be strings, numbers or booleans, found {}", kind(item)));
                        }
                    }
                }
                other => {
                    let hint = if is_scalar(other) {
                        format!("; to compare with one value use \"{}\"", if operator == Op::In { "equals" } else { "not_equals" })
                    } else {
                        String::new()
                    };
                    self.error(path, format!("\"{op}\" needs a list, found {}{hint}", kind(other)));
                }
            },
            Op::StartsWith | Op::EndsWith => {
                if !value.is_string() {
                    self.error(path, format!("\"{op}\" needs a string, found {}", kind(value)));
                }
            }
            Op::Matches => match value {
                Value::String(pattern) => {
                    if let Err(e) = compile_regex(pattern) {
                        self.error(path, format!("invalid regular expression: {e}"));
                    }
                }
                other => self.error(path, format!("\"matches\" needs a regular expression string, found {}", kind(other))),
            },
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                if !value.is_number() {
                    self.error(path, format!("\"{op}\" needs a number, found {}", kind(value)));
                }
            }
            Op::SemverEq | Op::SemverGt | Op::SemverGte | Op::SemverLt | Op::SemverLte => match value {
                Value::String(v) if parse_semver(v).is_some() => {}
                Value::String(v) => self.error(path, format!("\"{v}\" is not a semantic version (expected e.g. 2.3.1 or 2.3.1-beta.1)")),
                other => self.error(path, format!("\"{op}\" needs a version string, found {}", kind(other))),
            },
            Op::Before | Op::After => match value {
                Value::String(v) if parse_date(v).is_some() => {}
                Value::String(v) => self.error(path, format!("\"{v}\" is not an RFC 3339 date-time (expected e.g. 2026-01-15T09:30:00Z)")),
                other => self.error(path, format!("\"{op}\" needs an RFC 3339 date-time string, found {}", kind(other))),
            },
            Op::InSegment | Op::NotInSegment => match value {
                Value::String(id) if is_valid_key(id) => {}
                Value::Array(items) if !items.is_empty() => {
                    for (i, item) in items.iter().enumerate() {
                        if !item.as_str().is_some_and(is_valid_key) {
                            self.error(format!("{path}[{i}]"), format!("expected a segment id, found {}", kind(item)));
                        }
                    }
                }
                other => self.error(path, format!("\"{op}\" needs a segment id or a non-empty list of them, found {}", kind(other))),
            },
        }
    }

    fn dependencies(&mut self, value: Option<&Value>, flag_id: Option<&str>) -> Vec<Dependency> {
        let Some(items) = value.and_then(|v| self.array(v, "depends_on")) else {
            return Vec::new();
        };
        let mut dependencies = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("depends_on[{i}]");
            let Some(obj) = self.object(item, &path, "a dependency") else {
                continue;
            };
            self.unknown_keys(obj, &path, DEPENDENCY_KEYS);
            let Some(flag) = self.key(obj, &path, "flag") else {
                continue;
            };
            if Some(flag.as_str()) == flag_id {
                self.error(join_path(&path, "flag"), "a flag cannot depend on itself");
            }
            dependencies.push(Dependency {
                flag,
                required_value: obj
                    .get("required_value")
                    .cloned()
                    .unwrap_or(Value::Bool(true)),
                repository: self.optional_string(obj, &path, "repository"),
            });
        }
        dependencies
    }
}

fn op_path_of(path: &str) -> String {
    join_path(path, "operator")
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

fn is_valid_variant_name(name: &str) -> bool {
    name.len() <= MAX_KEY_LEN
        && name
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

fn key_message(key: &str) -> String {
    if key.is_empty() {
        "must not be empty".to_owned()
    } else if key.len() > MAX_KEY_LEN {
        format!("at most {MAX_KEY_LEN} characters, found {}", key.len())
    } else {
        format!(
            "\"{key}\" is not a valid key: use lowercase letters, digits, _, - and ., starting with a letter"
        )
    }
}

/// Compiles a condition's regular expression with the size limit every
/// document must respect.
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT * 4)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(doc: Value) -> Vec<String> {
        match parse_flag(&doc) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn unknown_operator_is_located_and_suggested() {
        let found = problems(json!({
            "flag_id": "beta_features",
            "environments": {"production": {"targeting_rules": [
                {"name": "a", "conditions": [], "value": true},
                {"name": "b", "conditions": [{"attribute": "x", "operator": "equal", "value": "y"}], "value": true}
            ]}}
        }));
        assert_eq!(
            found,
            vec![
                "environments.production.targeting_rules[1].conditions[0].operator: unknown operator \"equal\"; did you mean \"equals\"?"
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let found = problems(json!({
            "flag_id": "Bad Name",
            "type": "number",
            "default_value": "thirty",
            "defualt": 1,
            "targeting_rules": [
                {"name": "r", "conditions": [{"attribute": "v", "operator": "semver_gt", "value": "1.x"}], "value": 1, "percentage": 100.5},
                {"name": "r", "conditions": [{"attribute": "e", "operator": "matches", "value": "("}], "value": true}
            ]
        }));
        assert_eq!(found.len(), 8, "{found:#?}");
        assert!(found.iter().any(|p| p.starts_with("flag_id: ")));
        assert!(found.iter().any(|p| p == "defualt: unknown field \"defualt\"; did you mean \"default_value\"?"));
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("default_value: expected a number value"))
        );
        assert!(found.iter().any(|p| p.starts_with(
            "targeting_rules[0].conditions[0].value: \"1.x\" is not a semantic version"
        )));
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("targeting_rules[0].percentage: must be between 0 and 100"))
        );
        assert!(
            found
                .iter()
                .any(|p| p == "targeting_rules[1].name: duplicate rule name \"r\"")
        );
        assert!(found.iter().any(|p| {
            p.starts_with("targeting_rules[1].conditions[0].value: invalid regular expression")
        }));
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("targeting_rules[1].value: expected a number value"))
        );
    }

    #[test]
    fn json_environment_objects_are_values_unless_all_keys_are_config_keys() {
        let flag = parse_flag(&json!({
            "flag_id": "ui_theme_config",
            "type": "json",
            "default_value": {"theme": "light"},
            "environments": {
                "development": {"theme": "dark"},
                "staging": {"enabled": false},
                "production": {"value": {"enabled": true}}
            }
        }))
        .map_err(|p| Problem::join(&p));
        let Ok(flag) = flag else {
            panic!("{flag:?}");
        };
        assert!(matches!(
            flag.environments["development"],
            EnvironmentEntry::Value(_)
        ));
        assert!(matches!(
            flag.environments["staging"],
            EnvironmentEntry::Config(_)
        ));
        assert_eq!(
            serde_json::to_value(&flag.environments["production"]).ok(),
            Some(json!({"value": {"enabled": true}}))
        );
    }

    #[test]
    fn split_weights_must_add_up() {
        let found = problems(json!({
            "flag_id": "checkout_button_color",
            "default_value": "blue",
            "variants": {"blue": "blue", "green": "green"},
            "targeting_rules": [{"variants": [{"variant": "blue", "weight": 50}, {"variant": "gren", "weight": 40}]}]
        }));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].contains("did you mean \"green\""));
        assert!(found[1].contains("add up to 90"));
    }

    /// Found by the `flag_document` fuzz target: serde_json's default float
    /// parser read `9.999999999990002e40` back one ULP off, so the flag
    /// written as text and read again was another flag (the workspace turns
    /// on serde_json's `float_roundtrip`).
    #[test]
    fn a_number_is_the_same_after_being_written_and_read_as_text() {
        let doc = serde_json::from_str::<Value>(
            r#"{"flag_id": "api_timeout_seconds", "default_value": 99999999999900020000000000000000000906845,
                "environments": {"production": 9.999999999990002e40, "staging": 0.30000000000000004}}"#,
        );
        let Ok(Ok(flag)) = doc.map(|doc| parse_flag(&doc)) else {
            panic!("the document parses");
        };
        let text = serde_json::to_string(&flag).unwrap_or_default();
        let again = serde_json::from_str::<Value>(&text).map(|doc| parse_flag(&doc));
        assert!(
            matches!(again, Ok(Ok(ref again)) if *again == flag),
            "{text}: {again:?}"
        );
    }

    #[test]
    fn keys() {
        assert!(is_valid_key("new_payment_flow"));
        assert!(is_valid_key("web.checkout-v2"));
        assert!(!is_valid_key("New"));
        assert!(!is_valid_key("1abc"));
        assert!(!is_valid_key("a/b"));
        assert!(!is_valid_key(&"a".repeat(129)));
    }
}
