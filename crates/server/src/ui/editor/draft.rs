//! The editor's form state ("draft"): a flag as the editor's fields hold it,
//! read from a stored flag or from a submitted form, changed by the form's
//! buttons (add a rule, remove a condition, …) and turned into the flag
//! document the API takes.
//!
//! Every field is named by the document path it fills
//! (`environments.staging.targeting_rules[0].conditions[1].value`), which is
//! also the path the engine's validation problems carry: a problem lands next
//! to the field it concerns with no mapping table in between.
//!
//! Values are typed as text and read by the flag's type (`true`, `12.5`,
//! `{"tiers": [0, 5]}`, or a string as it is). A condition's operand is read
//! by its operator: lists are comma-separated, and an item is a number or
//! `true`/`false` when written as one, text otherwise (`"18"` in quotes for
//! text that looks like a number).

use std::collections::HashMap;

use ff_engine::{
    Condition, Dependency, EnvironmentEntry, Flag, FlagType, Operator, Problem, Rule, Serve,
};
use serde_json::{Map, Value};

/// The flag as the editor's fields hold it.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub flag_id: String,
    /// `boolean`, `string`, `number` or `json`.
    pub flag_type: String,
    pub description: String,
    /// Comma-separated.
    pub tags: String,
    pub owner: String,
    /// A lifecycle stage, or empty.
    pub lifecycle: String,
    pub default_value: String,
    pub variants: Vec<VariantDraft>,
    /// The flag-level rules (used by environments without their own).
    pub rules: Vec<RuleDraft>,
    /// One per environment of the installation, in tree order.
    pub environments: Vec<EnvironmentDraft>,
    pub dependencies: Vec<DependencyDraft>,
}

/// A named value rules may serve.
#[derive(Debug, Clone, Default)]
pub struct VariantDraft {
    pub name: String,
    pub value: String,
}

/// A prerequisite.
#[derive(Debug, Clone, Default)]
pub struct DependencyDraft {
    pub flag: String,
    /// Empty: `true`.
    pub required_value: String,
    pub repository: String,
}

/// One environment's entry.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentDraft {
    pub key: String,
    /// Whether the flag has an entry here; without one the environment
    /// follows its parent (auto-sync) or the flag's defaults.
    pub custom: bool,
    pub enabled: bool,
    /// Empty: the flag's default value.
    pub value: String,
    /// Whether the environment has rules of its own (else the flag's).
    pub own_rules: bool,
    pub rules: Vec<RuleDraft>,
    /// The entry was a bare value: written back as one while it can be.
    pub bare: bool,
}

/// A targeting rule.
#[derive(Debug, Clone, Default)]
pub struct RuleDraft {
    pub name: String,
    pub conditions: Vec<ConditionDraft>,
    /// `value`, `variant` or `split`.
    pub serve: String,
    pub value: String,
    pub variant: String,
    pub split: Vec<ShareDraft>,
    /// Empty: everyone the conditions match.
    pub percentage: String,
    pub bucket_by: String,
}

/// One condition of a rule.
#[derive(Debug, Clone, Default)]
pub struct ConditionDraft {
    pub attribute: String,
    pub operator: String,
    pub value: String,
}

/// One share of a weighted split.
#[derive(Debug, Clone, Default)]
pub struct ShareDraft {
    pub variant: String,
    pub weight: String,
}

/// Where a rule list lives: `None` for the flag level, else an environment.
pub type Scope = Option<String>;

/// The document path of a scope's rule list.
pub fn rules_path(scope: &Scope) -> String {
    match scope {
        None => "targeting_rules".to_owned(),
        Some(env) => format!("environments.{env}.targeting_rules"),
    }
}

impl Draft {
    /// An empty boolean flag, every environment following the defaults.
    pub fn new_flag(environments: &[String]) -> Draft {
        Draft {
            flag_type: "boolean".to_owned(),
            default_value: "false".to_owned(),
            environments: environments
                .iter()
                .map(|key| EnvironmentDraft {
                    key: key.clone(),
                    enabled: true,
                    ..EnvironmentDraft::default()
                })
                .collect(),
            ..Draft::default()
        }
    }

    /// The fields of a stored flag. `environments` lists the installation's
    /// environments in tree order (entries for unknown ones are kept last).
    pub fn from_flag(flag: &Flag, environments: &[String]) -> Draft {
        let flag_type = flag.flag_type;
        let mut keys: Vec<String> = environments.to_vec();
        keys.extend(
            flag.environments
                .keys()
                .filter(|k| !environments.contains(k))
                .cloned(),
        );
        let environments = keys
            .into_iter()
            .map(|key| match flag.environments.get(&key) {
                None => EnvironmentDraft {
                    key,
                    enabled: true,
                    ..EnvironmentDraft::default()
                },
                Some(entry) => {
                    let config = entry.to_config();
                    EnvironmentDraft {
                        key,
                        custom: true,
                        enabled: config.enabled.unwrap_or(true),
                        value: config
                            .value
                            .as_ref()
                            .map(|v| value_text(flag_type, v))
                            .unwrap_or_default(),
                        own_rules: config.targeting_rules.is_some(),
                        rules: config
                            .targeting_rules
                            .iter()
                            .flatten()
                            .map(|r| RuleDraft::from_rule(r, flag_type))
                            .collect(),
                        bare: matches!(entry, EnvironmentEntry::Value(_)),
                    }
                }
            })
            .collect();
        Draft {
            flag_id: flag.flag_id.clone(),
            flag_type: flag_type.as_str().to_owned(),
            description: flag.description.clone().unwrap_or_default(),
            tags: flag.tags.join(", "),
            owner: flag.owner.clone().unwrap_or_default(),
            lifecycle: flag
                .lifecycle
                .map(|l| l.as_str().to_owned())
                .unwrap_or_default(),
            default_value: value_text(flag_type, &flag.default_value),
            variants: flag
                .variants
                .iter()
                .map(|(name, value)| VariantDraft {
                    name: name.clone(),
                    value: value_text(flag_type, value),
                })
                .collect(),
            rules: flag
                .targeting_rules
                .iter()
                .map(|r| RuleDraft::from_rule(r, flag_type))
                .collect(),
            environments,
            dependencies: flag
                .depends_on
                .iter()
                .map(DependencyDraft::from_dependency)
                .collect(),
        }
    }

    /// The fields of a submitted form (`pairs` as the browser sent them);
    /// `environments` as for [`Draft::from_flag`].
    pub fn from_form(pairs: &[(String, String)], environments: &[String]) -> Draft {
        let form = FormFields::new(pairs);
        let mut draft = Draft {
            flag_id: form.get("flag_id"),
            flag_type: form.get("type"),
            description: form.get("description"),
            tags: form.get("tags"),
            owner: form.get("owner"),
            lifecycle: form.get("lifecycle"),
            default_value: form.get("default_value"),
            ..Draft::default()
        };
        if FlagType::from_name(&draft.flag_type).is_none() {
            draft.flag_type = "boolean".to_owned();
        }
        draft.variants = form
            .indexed("variants", "name")
            .map(|p| VariantDraft {
                name: form.get(&format!("{p}.name")),
                value: form.get(&format!("{p}.value")),
            })
            .collect();
        draft.dependencies = form
            .indexed("depends_on", "flag")
            .map(|p| DependencyDraft {
                flag: form.get(&format!("{p}.flag")),
                required_value: form.get(&format!("{p}.required_value")),
                repository: form.get(&format!("{p}.repository")),
            })
            .collect();
        draft.rules = form.rules("targeting_rules");
        draft.environments = environments
            .iter()
            .map(|key| {
                let base = format!("environments.{key}");
                EnvironmentDraft {
                    key: key.clone(),
                    custom: form.get(&format!("{base}.mode")) == "custom",
                    enabled: form.get(&format!("{base}.enabled")) == "true",
                    value: form.get(&format!("{base}.value")),
                    own_rules: form.get(&format!("{base}.rules")) == "own",
                    rules: form.rules(&format!("{base}.targeting_rules")),
                    bare: form.get(&format!("{base}.bare")) == "true",
                }
            })
            .collect();
        draft
    }

    /// The type the fields are read as.
    pub fn flag_type(&self) -> FlagType {
        FlagType::from_name(&self.flag_type).unwrap_or(FlagType::Boolean)
    }

    /// The rule list of a scope, if the scope exists.
    pub fn rules_mut(&mut self, scope: &Scope) -> Option<&mut Vec<RuleDraft>> {
        match scope {
            None => Some(&mut self.rules),
            Some(env) => self
                .environments
                .iter_mut()
                .find(|e| e.key == *env)
                .map(|e| &mut e.rules),
        }
    }

    /// The flag document the API takes, or the problems found reading the
    /// fields (a number that is not one, JSON that does not parse), each at
    /// its field's path. The engine checks the rest when the API parses it.
    pub fn to_document(&self) -> Result<Value, Vec<Problem>> {
        let mut problems = Vec::new();
        let flag_type = self.flag_type();
        let mut doc = Map::new();
        doc.insert("flag_id".into(), self.flag_id.trim().into());
        doc.insert("type".into(), flag_type.as_str().into());
        insert_text(&mut doc, "description", &self.description);
        let tags: Vec<Value> = split_list(&self.tags)
            .into_iter()
            .map(Value::String)
            .collect();
        if !tags.is_empty() {
            doc.insert("tags".into(), Value::Array(tags));
        }
        insert_text(&mut doc, "owner", &self.owner);
        insert_text(&mut doc, "lifecycle", &self.lifecycle);
        let default = read_value(
            flag_type,
            &self.default_value,
            "default_value",
            &mut problems,
        );
        doc.insert("default_value".into(), default);
        if !self.variants.is_empty() {
            let mut variants = Map::new();
            for (i, variant) in self.variants.iter().enumerate() {
                let path = format!("variants[{i}].value");
                let value = read_value(flag_type, &variant.value, &path, &mut problems);
                variants.insert(variant.name.trim().to_owned(), value);
            }
            doc.insert("variants".into(), Value::Object(variants));
        }
        if !self.rules.is_empty() {
            let rules = rules_document(&self.rules, &None, flag_type, &mut problems);
            doc.insert("targeting_rules".into(), rules);
        }
        let mut environments = Map::new();
        for env in self.environments.iter().filter(|e| e.custom) {
            let entry = env.to_document(flag_type, &mut problems);
            environments.insert(env.key.clone(), entry);
        }
        if !environments.is_empty() {
            doc.insert("environments".into(), Value::Object(environments));
        }
        if !self.dependencies.is_empty() {
            let deps = self
                .dependencies
                .iter()
                .enumerate()
                .map(|(i, d)| d.to_document(i, &mut problems))
                .collect();
            doc.insert("depends_on".into(), Value::Array(deps));
        }
        if problems.is_empty() {
            Ok(Value::Object(doc))
        } else {
            Err(problems)
        }
    }

    /// Carries out one of the form's buttons (`op`, e.g.
    /// `add_condition|staging|0`); `false` if it names nothing that exists.
    pub fn apply_op(&mut self, op: &str) -> bool {
        let parts: Vec<&str> = op.split('|').collect();
        let scope = |part: Option<&&str>| -> Scope {
            match part {
                Some(&"*") | None => None,
                Some(env) => Some((*env).to_owned()),
            }
        };
        let index = |part: Option<&&str>| part.and_then(|p| p.parse::<usize>().ok());
        match parts.first().copied() {
            // The form again as typed (e.g. with the value fields of a
            // newly chosen type).
            Some("refresh") => true,
            Some("add_variant") => {
                self.variants.push(VariantDraft::default());
                true
            }
            Some("remove_variant") => remove_at(&mut self.variants, index(parts.get(1))),
            Some("add_dependency") => {
                self.dependencies.push(DependencyDraft::default());
                true
            }
            Some("remove_dependency") => remove_at(&mut self.dependencies, index(parts.get(1))),
            Some("copy_rules") => match (parts.get(1), parts.get(2)) {
                (Some(from), Some(to)) => self.copy_rules(&scope(Some(from)), to),
                _ => false,
            },
            Some(name) => {
                let scope = scope(parts.get(1));
                let first = index(parts.get(2));
                let second = index(parts.get(3));
                let flag_type = self.flag_type();
                let Some(rules) = self.rules_mut(&scope) else {
                    return false;
                };
                rule_op(rules, name, first, second, flag_type)
            }
            None => false,
        }
    }
}

impl Draft {
    /// The rules a scope's section shows: an environment's own when it has
    /// them, else the flag's (which it uses).
    pub fn rules_shown(&self, scope: &Scope) -> Option<&[RuleDraft]> {
        match scope {
            None => Some(&self.rules),
            Some(env) => self.environments.iter().find(|e| e.key == *env).map(|e| {
                if e.custom && e.own_rules {
                    e.rules.as_slice()
                } else {
                    self.rules.as_slice()
                }
            }),
        }
    }

    /// `copy_rules|<from>|<to>`: environment `to` gets settings of its own
    /// with rules of its own, a copy of the rules `from` shows (`*`: the
    /// flag's). Saved by the form's normal save, like any other edit.
    fn copy_rules(&mut self, from: &Scope, to: &str) -> bool {
        if from.as_deref() == Some(to) {
            return false;
        }
        let Some(rules) = self.rules_shown(from).map(<[RuleDraft]>::to_vec) else {
            return false;
        };
        let Some(target) = self.environments.iter_mut().find(|e| e.key == to) else {
            return false;
        };
        target.custom = true;
        target.own_rules = true;
        target.bare = false;
        target.rules = rules;
        true
    }
}

/// The buttons that act on a rule list.
fn rule_op(
    rules: &mut Vec<RuleDraft>,
    name: &str,
    first: Option<usize>,
    second: Option<usize>,
    flag_type: FlagType,
) -> bool {
    match name {
        "add_rule" => {
            rules.push(RuleDraft::new(rules.len(), flag_type));
            true
        }
        "remove_rule" => remove_at(rules, first),
        "move_rule_up" => match first {
            Some(i) if i > 0 && i < rules.len() => {
                rules.swap(i.saturating_sub(1), i);
                true
            }
            _ => false,
        },
        "add_condition" => match first.and_then(|i| rules.get_mut(i)) {
            Some(rule) => {
                rule.conditions.push(ConditionDraft::empty());
                true
            }
            None => false,
        },
        "remove_condition" => match first.and_then(|i| rules.get_mut(i)) {
            Some(rule) => remove_at(&mut rule.conditions, second),
            None => false,
        },
        "add_share" => match first.and_then(|i| rules.get_mut(i)) {
            Some(rule) => {
                rule.serve = "split".to_owned();
                rule.split.push(ShareDraft::default());
                true
            }
            None => false,
        },
        "remove_share" => match first.and_then(|i| rules.get_mut(i)) {
            Some(rule) => remove_at(&mut rule.split, second),
            None => false,
        },
        _ => false,
    }
}

fn remove_at<T>(items: &mut Vec<T>, index: Option<usize>) -> bool {
    match index {
        Some(i) if i < items.len() => {
            items.remove(i);
            true
        }
        _ => false,
    }
}

impl RuleDraft {
    /// A new rule: one empty condition, serving `true` for a boolean flag.
    pub fn new(position: usize, flag_type: FlagType) -> RuleDraft {
        RuleDraft {
            name: format!("rule_{}", super::super::ordinal(position)),
            conditions: vec![ConditionDraft::empty()],
            serve: "value".to_owned(),
            value: if flag_type == FlagType::Boolean {
                "true".to_owned()
            } else {
                String::new()
            },
            ..RuleDraft::default()
        }
    }

    fn from_rule(rule: &Rule, flag_type: FlagType) -> RuleDraft {
        let mut draft = RuleDraft {
            name: rule.name.clone().unwrap_or_default(),
            conditions: rule
                .conditions
                .iter()
                .map(ConditionDraft::from_condition)
                .collect(),
            percentage: rule.percentage.map(number_text).unwrap_or_default(),
            bucket_by: rule.bucket_by.clone().unwrap_or_default(),
            ..RuleDraft::default()
        };
        match &rule.serve {
            Serve::Value(value) => {
                draft.serve = "value".to_owned();
                draft.value = value_text(flag_type, value);
            }
            Serve::Variant(name) => {
                draft.serve = "variant".to_owned();
                draft.variant = name.clone();
            }
            Serve::Split(shares) => {
                draft.serve = "split".to_owned();
                draft.split = shares
                    .iter()
                    .map(|s| ShareDraft {
                        variant: s.variant.clone(),
                        weight: number_text(s.weight),
                    })
                    .collect();
            }
        }
        draft
    }

    fn to_document(&self, path: &str, flag_type: FlagType, problems: &mut Vec<Problem>) -> Value {
        let mut rule = Map::new();
        insert_text(&mut rule, "name", &self.name);
        if !self.conditions.is_empty() {
            let conditions = self
                .conditions
                .iter()
                .enumerate()
                .map(|(j, c)| c.to_document(&format!("{path}.conditions[{j}]"), problems))
                .collect();
            rule.insert("conditions".into(), Value::Array(conditions));
        }
        match self.serve.as_str() {
            "variant" => {
                rule.insert("variant".into(), self.variant.trim().into());
            }
            "split" => {
                let shares = self
                    .split
                    .iter()
                    .enumerate()
                    .map(|(k, share)| {
                        let wpath = format!("{path}.variants[{k}].weight");
                        let mut obj = Map::new();
                        obj.insert("variant".into(), share.variant.trim().into());
                        obj.insert(
                            "weight".into(),
                            read_number(&share.weight, &wpath, problems),
                        );
                        Value::Object(obj)
                    })
                    .collect();
                rule.insert("variants".into(), Value::Array(shares));
            }
            _ => {
                let vpath = format!("{path}.value");
                rule.insert(
                    "value".into(),
                    read_value(flag_type, &self.value, &vpath, problems),
                );
            }
        }
        if !self.percentage.trim().is_empty() {
            let ppath = format!("{path}.percentage");
            rule.insert(
                "percentage".into(),
                read_number(&self.percentage, &ppath, problems),
            );
        }
        insert_text(&mut rule, "bucket_by", &self.bucket_by);
        Value::Object(rule)
    }
}

impl ConditionDraft {
    /// A new, empty row ("is one of", the most used operator).
    pub(in crate::ui) fn empty() -> ConditionDraft {
        ConditionDraft {
            operator: "in".to_owned(),
            ..ConditionDraft::default()
        }
    }

    /// The fields of a stored condition (shared with the segment editor).
    pub(in crate::ui) fn from_condition(condition: &Condition) -> ConditionDraft {
        ConditionDraft {
            attribute: condition.attribute.clone().unwrap_or_default(),
            operator: condition.operator.as_str().to_owned(),
            value: condition
                .value
                .as_ref()
                .map(operand_text)
                .unwrap_or_default(),
        }
    }

    /// The condition as the API takes it; operands that do not read are
    /// problems at `{path}.value`.
    pub(in crate::ui) fn to_document(&self, path: &str, problems: &mut Vec<Problem>) -> Value {
        let mut condition = Map::new();
        let operator = Operator::from_name(&self.operator);
        if !operator.is_some_and(Operator::is_segment) {
            insert_text(&mut condition, "attribute", &self.attribute);
        }
        condition.insert("operator".into(), self.operator.clone().into());
        if let Some(value) = operator.and_then(|operator| {
            read_operand(operator, &self.value, &format!("{path}.value"), problems)
        }) {
            condition.insert("value".into(), value);
        }
        Value::Object(condition)
    }
}

impl EnvironmentDraft {
    fn to_document(&self, flag_type: FlagType, problems: &mut Vec<Problem>) -> Value {
        let base = format!("environments.{}", self.key);
        let value = (!self.value.trim().is_empty() || flag_type == FlagType::String && self.bare)
            .then(|| read_value(flag_type, &self.value, &format!("{base}.value"), problems));
        if self.bare
            && self.enabled
            && !self.own_rules
            && let Some(value) = &value
            && !ff_engine::model::looks_like_config(value)
        {
            return value.clone();
        }
        let mut entry = Map::new();
        entry.insert("enabled".into(), self.enabled.into());
        if let Some(value) = value {
            entry.insert("value".into(), value);
        }
        if self.own_rules {
            let rules = rules_document(&self.rules, &Some(self.key.clone()), flag_type, problems);
            entry.insert("targeting_rules".into(), rules);
        }
        Value::Object(entry)
    }
}

impl DependencyDraft {
    fn from_dependency(dependency: &Dependency) -> DependencyDraft {
        DependencyDraft {
            flag: dependency.flag.clone(),
            required_value: if dependency.required_value == Value::Bool(true) {
                String::new()
            } else {
                literal_text(&dependency.required_value)
            },
            repository: dependency.repository.clone().unwrap_or_default(),
        }
    }

    fn to_document(&self, index: usize, problems: &mut Vec<Problem>) -> Value {
        let mut dep = Map::new();
        dep.insert("flag".into(), self.flag.trim().into());
        let text = self.required_value.trim();
        if !text.is_empty() {
            let value = if text.starts_with('{') || text.starts_with('[') {
                serde_json::from_str(text).unwrap_or_else(|e| {
                    problems.push(Problem::error(
                        format!("depends_on[{index}].required_value"),
                        format!("not valid JSON: {e}"),
                    ));
                    Value::Null
                })
            } else {
                parse_literal(text)
            };
            dep.insert("required_value".into(), value);
        }
        insert_text(&mut dep, "repository", &self.repository);
        Value::Object(dep)
    }
}

fn rules_document(
    rules: &[RuleDraft],
    scope: &Scope,
    flag_type: FlagType,
    problems: &mut Vec<Problem>,
) -> Value {
    let base = rules_path(scope);
    Value::Array(
        rules
            .iter()
            .enumerate()
            .map(|(i, rule)| rule.to_document(&format!("{base}[{i}]"), flag_type, problems))
            .collect(),
    )
}

/// A non-empty, trimmed text field.
fn insert_text(map: &mut Map<String, Value>, key: &str, text: &str) {
    let text = text.trim();
    if !text.is_empty() {
        map.insert(key.into(), text.into());
    }
}

/// A value as its field shows it: strings as they are, the rest as JSON.
pub fn value_text(flag_type: FlagType, value: &Value) -> String {
    match (flag_type, value) {
        (FlagType::String, Value::String(s)) => s.clone(),
        (FlagType::Json, other) => serde_json::to_string_pretty(other).unwrap_or_default(),
        (_, other) => other.to_string(),
    }
}

/// A field's text read as a value of the flag's type. A value that is not
/// one is still passed on as the text, so the engine's own message (which
/// names the expected type) is the one shown; only JSON that does not parse
/// is reported here.
fn read_value(flag_type: FlagType, text: &str, path: &str, problems: &mut Vec<Problem>) -> Value {
    match flag_type {
        FlagType::String => Value::String(text.to_owned()),
        FlagType::Boolean => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.to_owned()),
        },
        FlagType::Number => read_number(text, path, problems),
        FlagType::Json => match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => {
                let message = if text.trim().is_empty() {
                    "a value is required (JSON, e.g. {} or [])".to_owned()
                } else {
                    format!("not valid JSON: {e}")
                };
                problems.push(Problem::error(path, message));
                Value::Null
            }
        },
    }
}

fn read_number(text: &str, path: &str, problems: &mut Vec<Problem>) -> Value {
    let text = text.trim();
    match serde_json::from_str::<serde_json::Number>(text) {
        Ok(number) => Value::Number(number),
        Err(_) => {
            let message = if text.is_empty() {
                "a number is required".to_owned()
            } else {
                format!("\"{text}\" is not a number")
            };
            problems.push(Problem::error(path, message));
            Value::Null
        }
    }
}

/// A number without a needless `.0`.
fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

/// A condition's operand read by its operator: nothing for
/// `exists`/`not_exists`, a list for `in`/`not_in`, one or several segment
/// ids, a typed literal for equality and numeric tests, text otherwise.
fn read_operand(
    operator: Operator,
    text: &str,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<Value> {
    use Operator as Op;
    match operator {
        Op::Exists | Op::NotExists => None,
        Op::In | Op::NotIn => Some(Value::Array(
            split_list(text)
                .iter()
                .map(|item| parse_literal(item))
                .collect(),
        )),
        Op::InSegment | Op::NotInSegment => {
            let mut ids: Vec<Value> = split_list(text).into_iter().map(Value::String).collect();
            Some(if ids.len() == 1 {
                ids.remove(0)
            } else {
                Value::Array(ids)
            })
        }
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => Some(read_number(text, path, problems)),
        Op::Equals | Op::NotEquals | Op::Contains | Op::NotContains => {
            Some(parse_literal(text.trim()))
        }
        _ => Some(Value::String(text.trim().to_owned())),
    }
}

/// An operand as its field shows it (the inverse of [`read_operand`]).
fn operand_text(value: &Value) -> String {
    match value {
        Value::Array(items) => items
            .iter()
            .map(literal_text)
            .collect::<Vec<_>>()
            .join(", "),
        other => literal_text(other),
    }
}

/// One item typed in a field: a number or `true`/`false` when written as
/// one, a quoted string without its quotes, text otherwise.
pub fn parse_literal(item: &str) -> Value {
    let item = item.trim();
    if item.starts_with('"')
        && let Ok(text) = serde_json::from_str::<String>(item)
    {
        return Value::String(text);
    }
    match item {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(number) = serde_json::from_str::<serde_json::Number>(item) {
        return Value::Number(number);
    }
    Value::String(item.to_owned())
}

/// How an item is written so that [`parse_literal`] (and the list
/// splitting) reads it back as the same value.
pub fn literal_text(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let plain = parse_literal(s) == *value && !s.contains(',') && s.trim() == s;
            if plain && !s.is_empty() {
                s.clone()
            } else {
                Value::String(s.clone()).to_string()
            }
        }
        other => other.to_string(),
    }
}

/// Splits comma-separated items, keeping commas inside double quotes; items
/// are trimmed and empty ones dropped. Quoted items keep their quotes (for
/// [`parse_literal`]).
pub fn split_list(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if quoted {
            current.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
            }
        } else if c == ',' {
            items.push(std::mem::take(&mut current));
        } else {
            if c == '"' {
                quoted = true;
            }
            current.push(c);
        }
    }
    items.push(current);
    items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

/// A submitted form's fields by name (the last value of a repeated name).
pub(in crate::ui) struct FormFields<'a> {
    fields: HashMap<&'a str, &'a str>,
}

impl<'a> FormFields<'a> {
    pub(in crate::ui) fn new(pairs: &'a [(String, String)]) -> FormFields<'a> {
        FormFields {
            fields: pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        }
    }

    pub(in crate::ui) fn get(&self, name: &str) -> String {
        self.fields
            .get(name)
            .copied()
            .unwrap_or_default()
            .to_owned()
    }

    fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// The paths `base[0]`, `base[1]`, … for as long as `base[i].marker`
    /// is a field (the editor numbers rows without gaps).
    pub(in crate::ui) fn indexed<'s>(
        &'s self,
        base: &'s str,
        marker: &'s str,
    ) -> impl Iterator<Item = String> + 's {
        (0..)
            .map(move |i| format!("{base}[{i}]"))
            .take_while(move |p| self.has(&format!("{p}.{marker}")))
    }

    /// The condition rows `base[0]`, `base[1]`, … (a rule's, or a
    /// segment's `conditions`).
    pub(in crate::ui) fn conditions(&self, base: &str) -> Vec<ConditionDraft> {
        self.indexed(base, "operator")
            .map(|c| ConditionDraft {
                attribute: self.get(&format!("{c}.attribute")),
                operator: self.get(&format!("{c}.operator")),
                value: self.get(&format!("{c}.value")),
            })
            .collect()
    }

    fn rules(&self, base: &str) -> Vec<RuleDraft> {
        self.indexed(base, "serve")
            .map(|p| RuleDraft {
                name: self.get(&format!("{p}.name")),
                conditions: self.conditions(&format!("{p}.conditions")),
                serve: self.get(&format!("{p}.serve")),
                value: self.get(&format!("{p}.value")),
                variant: self.get(&format!("{p}.variant")),
                split: self
                    .indexed(&format!("{p}.variants"), "variant")
                    .map(|s| ShareDraft {
                        variant: self.get(&format!("{s}.variant")),
                        weight: self.get(&format!("{s}.weight")),
                    })
                    .collect(),
                percentage: self.get(&format!("{p}.percentage")),
                bucket_by: self.get(&format!("{p}.bucket_by")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envs() -> Vec<String> {
        ["development", "staging", "production"]
            .map(String::from)
            .to_vec()
    }

    fn flag(doc: Value) -> Flag {
        match serde_json::from_value(doc) {
            Ok(flag) => flag,
            Err(e) => panic!("not a valid flag: {e}"),
        }
    }

    /// Renders a draft as the form's (name, value) pairs, the way the
    /// editor's template names its fields.
    fn pairs_of(draft: &Draft) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("flag_id".into(), draft.flag_id.clone()),
            ("type".into(), draft.flag_type.clone()),
            ("description".into(), draft.description.clone()),
            ("tags".into(), draft.tags.clone()),
            ("owner".into(), draft.owner.clone()),
            ("lifecycle".into(), draft.lifecycle.clone()),
            ("default_value".into(), draft.default_value.clone()),
        ];
        for (i, v) in draft.variants.iter().enumerate() {
            pairs.push((format!("variants[{i}].name"), v.name.clone()));
            pairs.push((format!("variants[{i}].value"), v.value.clone()));
        }
        for (i, d) in draft.dependencies.iter().enumerate() {
            pairs.push((format!("depends_on[{i}].flag"), d.flag.clone()));
            pairs.push((
                format!("depends_on[{i}].required_value"),
                d.required_value.clone(),
            ));
            pairs.push((format!("depends_on[{i}].repository"), d.repository.clone()));
        }
        let rule_pairs = |pairs: &mut Vec<(String, String)>, base: &str, rules: &[RuleDraft]| {
            for (i, r) in rules.iter().enumerate() {
                let p = format!("{base}[{i}]");
                pairs.push((format!("{p}.name"), r.name.clone()));
                pairs.push((format!("{p}.serve"), r.serve.clone()));
                pairs.push((format!("{p}.value"), r.value.clone()));
                pairs.push((format!("{p}.variant"), r.variant.clone()));
                pairs.push((format!("{p}.percentage"), r.percentage.clone()));
                pairs.push((format!("{p}.bucket_by"), r.bucket_by.clone()));
                for (j, c) in r.conditions.iter().enumerate() {
                    let c_path = format!("{p}.conditions[{j}]");
                    pairs.push((format!("{c_path}.attribute"), c.attribute.clone()));
                    pairs.push((format!("{c_path}.operator"), c.operator.clone()));
                    pairs.push((format!("{c_path}.value"), c.value.clone()));
                }
                for (k, s) in r.split.iter().enumerate() {
                    pairs.push((format!("{p}.variants[{k}].variant"), s.variant.clone()));
                    pairs.push((format!("{p}.variants[{k}].weight"), s.weight.clone()));
                }
            }
        };
        rule_pairs(&mut pairs, "targeting_rules", &draft.rules);
        for env in &draft.environments {
            let base = format!("environments.{}", env.key);
            let mode = if env.custom { "custom" } else { "inherit" };
            pairs.push((format!("{base}.mode"), mode.into()));
            if env.enabled {
                pairs.push((format!("{base}.enabled"), "true".into()));
            }
            pairs.push((format!("{base}.value"), env.value.clone()));
            let rules = if env.own_rules { "own" } else { "flag" };
            pairs.push((format!("{base}.rules"), rules.into()));
            if env.bare {
                pairs.push((format!("{base}.bare"), "true".into()));
            }
            rule_pairs(&mut pairs, &format!("{base}.targeting_rules"), &env.rules);
        }
        pairs
    }

    /// The editor writes `enabled` in every entry it writes (absent means
    /// `true`); this makes it explicit so that flags compare by meaning.
    fn explicit(mut flag: Flag) -> Flag {
        for entry in flag.environments.values_mut() {
            if let EnvironmentEntry::Config(config) = entry {
                config.enabled.get_or_insert(true);
            }
        }
        flag
    }

    /// A flag read into the editor and submitted unchanged is the same
    /// flag: every kind of rule, serve, operand and entry survives.
    #[test]
    fn an_unchanged_form_gives_back_the_same_flag() {
        let documents = [
            json!({
                "flag_id": "new_checkout", "type": "boolean", "default_value": false,
                "description": "Checkout", "tags": ["web", "checkout"], "owner": "payments",
                "lifecycle": "rollout",
                "environments": {
                    "development": true,
                    "staging": {"enabled": true, "value": false, "targeting_rules": [
                        {"name": "eu", "conditions": [
                            {"attribute": "country", "operator": "in", "value": ["IT", "FR", "18", "a, b"]},
                            {"attribute": "age", "operator": "gte", "value": 18},
                            {"attribute": "app_version", "operator": "semver_gte", "value": "2.1.0"},
                            {"attribute": "beta", "operator": "equals", "value": true},
                            {"attribute": "email", "operator": "exists"},
                            {"operator": "in_segment", "value": ["beta_testers", "staff"]}
                        ], "value": true, "percentage": 12.5, "bucket_by": "account_id"}
                    ]},
                    "production": {"enabled": false}
                },
                "depends_on": [{"flag": "payments_v2", "required_value": true, "repository": "org/payments"}]
            }),
            json!({
                "flag_id": "checkout_copy", "type": "string", "default_value": "Buy",
                "variants": {"a": "Buy now", "b": "Order"},
                "targeting_rules": [
                    {"name": "split", "variants": [{"variant": "a", "weight": 50}, {"variant": "b", "weight": 50}]},
                    {"name": "fixed", "conditions": [{"attribute": "plan", "operator": "equals", "value": "18"}], "variant": "b"}
                ],
                "environments": {"production": "Checkout"}
            }),
            json!({
                "flag_id": "pricing", "type": "json", "default_value": {"tiers": [0, 5]},
                "environments": {"staging": {"value": {"enabled": true}}}
            }),
            json!({"flag_id": "max_items", "type": "number", "default_value": 20.5,
                   "environments": {"development": 50}}),
        ];
        for doc in documents {
            let original = flag(doc);
            let draft = Draft::from_flag(&original, &envs());
            let read_back = Draft::from_form(&pairs_of(&draft), &envs());
            let document = match read_back.to_document() {
                Ok(document) => document,
                Err(problems) => panic!("{problems:?}"),
            };
            assert_eq!(
                explicit(flag(document)),
                explicit(original.clone()),
                "{}",
                original.flag_id
            );
        }
    }

    #[test]
    fn buttons_add_and_remove_rows() {
        let mut draft = Draft::new_flag(&envs());
        draft.flag_id = "f".into();
        assert!(draft.apply_op("add_rule|staging"));
        assert!(draft.apply_op("add_condition|staging|0"));
        assert_eq!(draft.environments[1].rules[0].conditions.len(), 2);
        assert!(draft.apply_op("remove_condition|staging|0|0"));
        assert_eq!(draft.environments[1].rules[0].conditions.len(), 1);
        assert!(draft.apply_op("add_rule|*"));
        assert!(draft.apply_op("add_rule|*"));
        draft.rules[1].name = "second".into();
        assert!(draft.apply_op("move_rule_up|*|1"));
        assert_eq!(draft.rules[0].name, "second");
        assert!(draft.apply_op("add_share|*|0"));
        assert_eq!(draft.rules[0].serve, "split");
        assert!(draft.apply_op("add_variant"));
        assert!(draft.apply_op("remove_variant|0"));
        assert!(draft.variants.is_empty());
        // Nothing there: refused, nothing changed.
        assert!(!draft.apply_op("remove_rule|staging|7"));
        assert!(!draft.apply_op("add_rule|nowhere"));
        assert!(!draft.apply_op("move_rule_up|*|0"));
        assert!(!draft.apply_op("explode"));
    }

    #[test]
    fn rules_are_copied_to_another_environment() {
        let mut draft = Draft::new_flag(&envs());
        draft.flag_id = "f".into();
        assert!(draft.apply_op("add_rule|*"));
        assert!(draft.apply_op("add_rule|staging"));
        draft.environments[1].custom = true;
        draft.environments[1].own_rules = true;
        draft.environments[1].rules[0].name = "eu".into();
        draft.environments[1].rules[0].conditions[0].attribute = "country".into();
        assert!(draft.apply_op("copy_rules|staging|production"));
        let production = &draft.environments[2];
        assert!(production.custom && production.own_rules);
        assert_eq!(production.rules[0].name, "eu");
        assert_eq!(production.rules[0].conditions[0].attribute, "country");
        // The source keeps its rules; the flag's rules copy as well.
        assert_eq!(draft.environments[1].rules.len(), 1);
        assert!(draft.apply_op("copy_rules|*|development"));
        assert_eq!(draft.environments[0].rules[0].name, "rule_1");
        // An environment without rules of its own shows the flag's.
        draft.environments[1].own_rules = false;
        assert!(draft.apply_op("copy_rules|staging|production"));
        assert_eq!(draft.environments[2].rules[0].name, "rule_1");
        // Nowhere, or onto itself: refused.
        assert!(!draft.apply_op("copy_rules|staging|nowhere"));
        assert!(!draft.apply_op("copy_rules|nowhere|staging"));
        assert!(!draft.apply_op("copy_rules|staging|staging"));
        assert!(!draft.apply_op("copy_rules|staging"));
        // Saved as any edit: the copied rules are in the document.
        let document = match draft.to_document() {
            Ok(document) => document,
            Err(problems) => panic!("{problems:?}"),
        };
        assert_eq!(
            document["environments"]["production"]["targeting_rules"][0]["name"],
            "rule_1"
        );
    }

    #[test]
    fn fields_that_do_not_read_are_problems_at_their_path() {
        let mut draft = Draft::new_flag(&envs());
        draft.flag_id = "f".into();
        draft.flag_type = "json".into();
        draft.default_value = "{\"a\": ".into();
        draft.apply_op("add_rule|production");
        draft.environments[2].own_rules = true;
        draft.environments[2].custom = true;
        draft.environments[2].rules[0].value = "{}".into();
        draft.environments[2].rules[0].percentage = "half".into();
        draft.environments[2].rules[0].conditions[0].operator = "gt".into();
        draft.environments[2].rules[0].conditions[0].value = "ten".into();
        let Err(problems) = draft.to_document() else {
            panic!("the fields read without a problem");
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "default_value",
                "environments.production.targeting_rules[0].conditions[0].value",
                "environments.production.targeting_rules[0].percentage",
            ]
        );
    }

    #[test]
    fn literals_read_back_as_written() {
        for value in [
            json!("IT"),
            json!("18"),
            json!("true"),
            json!("a, b"),
            json!(" padded"),
            json!(""),
            json!("say \"hi\""),
            json!(18),
            json!(2.5),
            json!(false),
        ] {
            let text = literal_text(&value);
            let items = split_list(&text);
            let read: Vec<Value> = items.iter().map(|i| parse_literal(i)).collect();
            if value == json!("") {
                assert_eq!(text, "\"\"");
            } else {
                assert_eq!(read, vec![value.clone()], "{text}");
            }
        }
        assert_eq!(
            split_list("IT, \"a, b\" ,,FR"),
            vec!["IT", "\"a, b\"", "FR"]
        );
    }
}
