//! The editor's page: every field of the draft with its name (the document
//! path), its HTML id, its text and the problem found there, if any.
//! Problems whose path names no field (a rule as a whole, a weighted
//! split's total) are shown at the top of the nearest enclosing part, and
//! every problem is listed in the summary at the top with a link to it.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};

use askama::Template;
use axum::http::StatusCode;
use ff_engine::{FlagType, Lifecycle, Operator, Problem};
use serde_json::Value;

use super::draft::{ConditionDraft, Draft, EnvironmentDraft, RuleDraft, Scope, rules_path};
use crate::error::ApiError;
use crate::live::LiveConfig;
use crate::routes::overview::environments_in_tree_order;
use crate::state::AppState;
use crate::ui::actions::api_message;
use crate::ui::shell::{Shell, format_time};

/// What stopped a save (or nothing, on a fresh form).
#[derive(Default)]
pub struct Outcome {
    pub(in crate::ui) problems: Vec<Problem>,
    pub(in crate::ui) message: Option<String>,
    /// What a button did, for the top of the form (not a problem).
    pub(in crate::ui) notice: Option<String>,
    pub(in crate::ui) conflict: Option<Conflict>,
    pub(in crate::ui) status: Option<StatusCode>,
}

impl Outcome {
    /// Problems at fields' paths.
    pub fn problems(problems: Vec<Problem>) -> Outcome {
        Outcome {
            problems,
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            ..Outcome::default()
        }
    }

    /// A message for the top of the form.
    pub fn message(message: &str) -> Outcome {
        Outcome {
            message: Some(message.to_owned()),
            ..Outcome::default()
        }
    }

    /// What a button did (e.g. rules copied), shown as done, not wrong.
    pub fn notice(notice: String) -> Outcome {
        Outcome {
            notice: Some(notice),
            ..Outcome::default()
        }
    }

    /// Someone saved the flag since the form was opened.
    pub fn conflict(conflict: Option<Conflict>) -> Outcome {
        let message = conflict.is_none().then(|| {
            "This flag was changed or deleted since you opened the editor; reload to see it."
                .to_owned()
        });
        Outcome {
            conflict,
            message,
            status: Some(StatusCode::CONFLICT),
            ..Outcome::default()
        }
    }

    /// The API's refusal, placed at its field where it names one.
    pub async fn from_error(error: ApiError) -> Outcome {
        Outcome::from_error_keyed(error, "flag_id").await
    }

    /// As [`Outcome::from_error`], for a document whose key is the field
    /// `key_field` (`flag_id`, `segment_id`): a key taken already is shown
    /// there.
    pub async fn from_error_keyed(error: ApiError, key_field: &str) -> Outcome {
        let status = match &error {
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Refused { status, .. } => *status,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        let at = |path: &str, message: String| Outcome {
            problems: vec![Problem::error(path, message)],
            status: Some(status),
            ..Outcome::default()
        };
        match error {
            ApiError::Validation(problems) => Outcome {
                problems,
                status: Some(status),
                ..Outcome::default()
            },
            ApiError::Conflict {
                code: "already_exists",
                message,
                ..
            } => at(
                key_field,
                // Without the API's advice (`use PUT to replace it`).
                format!("{}; choose another key", until_advice(&message)),
            ),
            ApiError::Refused {
                code: "reason_required",
                message,
                ..
            } => at(
                "reason",
                format!("{}: give a reason for this change", first_clause(&message)),
            ),
            ApiError::Refused {
                code: "confirmation_required",
                message,
                ..
            } => at(
                "confirmed",
                format!("{}: tick the box to confirm", first_clause(&message)),
            ),
            other => Outcome {
                message: Some(api_message(other).await),
                status: Some(status),
                ..Outcome::default()
            },
        }
    }

    /// The answer's status: 200 for a fresh form.
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(StatusCode::OK)
    }
}

/// A message up to its advice for API callers, after the first `;`.
fn until_advice(message: &str) -> &str {
    message.split(';').next().unwrap_or(message)
}

/// A refusal's message up to its advice, which names the API's headers
/// (`environment "production" is protected: say why with …`).
fn first_clause(message: &str) -> &str {
    message.split(':').next().unwrap_or(message)
}

/// What changed on the server since the form was opened.
pub struct Conflict {
    /// The version saving now overwrites.
    pub current_version: i64,
    /// Who made it, and when.
    pub actor: String,
    pub at: String,
    /// From the form's version to the current one, path by path.
    pub changes: Vec<ChangeRow>,
}

/// One path that changed.
pub struct ChangeRow {
    pub path: String,
    pub before: String,
    pub after: String,
}

impl Conflict {
    /// The versions from the store (`None` if the flag is gone).
    pub async fn find(
        state: &AppState,
        flag_id: &str,
        base: Option<i64>,
        details: &Value,
    ) -> Option<Conflict> {
        let current = details["current_version"].as_i64()?;
        let now = state.store.flag_version(flag_id, current).await.ok()??;
        let before = match base {
            Some(base) => state.store.flag_version(flag_id, base).await.ok()?,
            None => None,
        };
        let shown = |v: &Option<Value>| match v {
            Some(value) => serde_json::to_string_pretty(value).unwrap_or_default(),
            None => "not set".to_owned(),
        };
        let changes = match before {
            Some(before) => ff_engine::diff::diff(&before.document, &now.document)
                .into_iter()
                .map(|d| ChangeRow {
                    path: if d.path.is_empty() {
                        "(the whole document)".to_owned()
                    } else {
                        d.path
                    },
                    before: shown(&d.before),
                    after: shown(&d.after),
                })
                .collect(),
            None => Vec::new(),
        };
        Some(Conflict {
            current_version: current,
            actor: now.actor,
            at: format_time(now.at),
            changes,
        })
    }
}

/// A form field.
pub struct Field {
    /// The document path it fills (the form's field name).
    pub name: String,
    /// Its HTML id (`f-` and the path, made safe).
    pub id: String,
    /// What it holds.
    pub value: String,
    /// The problem found there.
    pub error: Option<String>,
}

/// An option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A value typed by the flag's type.
pub struct ValueInput {
    pub field: Field,
    /// `boolean`, `string`, `number` or `json`.
    pub kind: &'static str,
    /// Empty means "the default value" (an environment's value).
    pub optional: bool,
    /// What empty means, for the placeholder.
    pub default_text: String,
}

impl ValueInput {
    /// The boolean choices.
    pub fn boolean_choices(&self) -> Vec<Choice> {
        let mut choices = Vec::new();
        if self.optional {
            choices.push(Choice {
                value: String::new(),
                label: format!("default ({})", self.default_text),
                selected: self.field.value.is_empty(),
            });
        }
        for v in ["true", "false"] {
            choices.push(Choice {
                value: v.to_owned(),
                label: v.to_owned(),
                selected: self.field.value.trim() == v,
            });
        }
        choices
    }
}

/// A row of the flag's variants.
pub struct VariantView {
    pub name: Field,
    pub value: ValueInput,
    pub remove_op: String,
}

/// A prerequisite's row.
pub struct DependencyView {
    pub flag: Field,
    pub required_value: Field,
    pub repository: Field,
    pub remove_op: String,
}

/// A rule's card.
pub struct RuleView {
    pub id: String,
    /// 1-based, for people.
    pub number: usize,
    pub name: Field,
    pub conditions: Vec<ConditionView>,
    pub serve: Field,
    pub serve_choices: Vec<Choice>,
    pub value: ValueInput,
    pub variant: Field,
    pub variant_choices: Vec<Choice>,
    pub split: Vec<ShareView>,
    pub percentage: Field,
    pub bucket_by: Field,
    /// Problems about the rule as a whole.
    pub problems: Vec<String>,
    pub remove_op: String,
    pub up_op: Option<String>,
    pub add_condition_op: String,
    pub add_share_op: String,
}

/// A condition's row.
pub struct ConditionView {
    pub attribute: Field,
    pub operator: Field,
    pub operator_choices: Vec<Choice>,
    pub value: Field,
    /// Which suggestions the value field offers (`segments` or none).
    pub value_list: &'static str,
    /// What the value field expects, in words.
    pub hint: &'static str,
    pub remove_op: String,
    /// 1-based, for the labels ("Value of condition 2").
    pub number: usize,
    /// What the condition belongs to, for the remove button's label
    /// ("rule 1", "the segment").
    pub owner: String,
}

/// A weighted share of a split.
pub struct ShareView {
    pub variant: Field,
    pub variant_choices: Vec<Choice>,
    pub weight: Field,
    pub remove_op: String,
}

/// An environment's section.
pub struct EnvironmentView {
    pub key: String,
    pub id: String,
    pub mode_name: String,
    pub custom: bool,
    pub enabled_name: String,
    pub enabled: bool,
    pub value: ValueInput,
    pub rules_name: String,
    pub own_rules: bool,
    pub bare_name: String,
    pub bare: bool,
    pub rules: Vec<RuleView>,
    pub add_rule_op: String,
    /// The "copy these rules to …" buttons (when it has rules of its own).
    pub copy_targets: Vec<CopyTarget>,
    /// Where it takes its entry from when it has none of its own.
    pub follows: String,
    pub protected: bool,
    pub approval: bool,
    pub problems: Vec<String>,
}

/// A button copying a section's rules into another environment.
pub struct CopyTarget {
    /// `copy_rules|<from>|<to>`.
    pub op: String,
    /// The environment that receives them.
    pub to: String,
}

/// The buttons copying the rules of `from` (`*`: the flag's) to every
/// other environment.
fn copy_targets(from: &str, environments: &[String]) -> Vec<CopyTarget> {
    environments
        .iter()
        .filter(|e| e.as_str() != from)
        .map(|to| CopyTarget {
            op: format!("copy_rules|{from}|{to}"),
            to: to.clone(),
        })
        .collect()
}

/// One line of the problem summary.
pub struct SummaryItem {
    pub message: String,
    /// The id of the field or part it concerns.
    pub anchor: Option<String>,
}

#[derive(Template)]
#[template(path = "editor.html")]
pub struct EditorPage {
    pub shell: Shell,
    pub is_new: bool,
    pub flag_id: String,
    pub action_url: String,
    pub version: String,
    pub summary: Vec<SummaryItem>,
    pub message: Option<String>,
    pub notice: Option<String>,
    pub conflict: Option<Conflict>,
    pub flag_id_field: Field,
    pub type_field: Field,
    pub type_choices: Vec<Choice>,
    pub description: Field,
    pub tags: Field,
    pub owner: Field,
    pub lifecycle: Field,
    pub lifecycle_choices: Vec<Choice>,
    pub default_value: ValueInput,
    pub variants: Vec<VariantView>,
    pub flag_rules: Vec<RuleView>,
    pub flag_rules_id: String,
    /// The flag's rules copied into an environment.
    pub flag_copy_targets: Vec<CopyTarget>,
    pub environments: Vec<EnvironmentView>,
    pub dependencies: Vec<DependencyView>,
    pub reason: Field,
    pub confirmed: Field,
    pub confirmed_checked: bool,
    /// Some environment wants a reason (protected).
    pub protected_envs: Vec<String>,
    pub attribute_suggestions: Vec<String>,
    pub segment_ids: Vec<String>,
    pub flag_ids: Vec<String>,
    /// The flag's version in the live configuration (0 for a new flag):
    /// the script warns when it moves past the form's.
    pub live_version: i64,
}

/// Places problems on the fields built: each field takes the problem at its
/// own path; the ids built are remembered for the summary's links.
pub(in crate::ui) struct Placer {
    by_path: HashMap<String, Vec<String>>,
    ids: RefCell<HashSet<String>>,
}

impl Placer {
    fn new(problems: &[Problem], draft: &Draft) -> Placer {
        Placer::at_paths(
            problems
                .iter()
                .map(|p| (field_path(&p.path, draft), p.message.clone())),
        )
    }

    /// A placer for problems already at their fields' paths (forms whose
    /// field names are exactly the document's paths).
    pub(in crate::ui) fn at_paths(problems: impl Iterator<Item = (String, String)>) -> Placer {
        let mut by_path: HashMap<String, Vec<String>> = HashMap::new();
        for (path, message) in problems {
            by_path.entry(path).or_default().push(message);
        }
        Placer {
            by_path,
            ids: RefCell::new(HashSet::new()),
        }
    }

    pub(in crate::ui) fn field(&self, name: &str, value: &str) -> Field {
        let id = html_id(name);
        self.ids.borrow_mut().insert(id.clone());
        Field {
            name: name.to_owned(),
            id,
            value: value.to_owned(),
            error: self.by_path.get(name).map(|m| m.join("; ")),
        }
    }

    /// A part of the form (a rule, an environment): its id, and the
    /// problems at its own path or at `extra` paths under it that no field
    /// shows.
    pub(in crate::ui) fn part(&self, path: &str, extra: &[&str]) -> (String, Vec<String>) {
        let id = html_id(path);
        self.ids.borrow_mut().insert(id.clone());
        let mut problems: Vec<String> = self.by_path.get(path).cloned().unwrap_or_default();
        for suffix in extra {
            if let Some(found) = self.by_path.get(&format!("{path}{suffix}")) {
                problems.extend(found.iter().cloned());
            }
        }
        (id, problems)
    }

    /// The id a problem at `path` links to: its field's, else the nearest
    /// enclosing part's.
    pub(in crate::ui) fn anchor(&self, path: &str) -> Option<String> {
        let ids = self.ids.borrow();
        let mut path = path.to_owned();
        loop {
            let id = html_id(&path);
            if ids.contains(&id) {
                return Some(id);
            }
            let cut = path.rfind(['.', '['])?;
            path.truncate(cut);
        }
    }
}

/// The engine names a variant's problems `variants.<name>`; the editor's
/// variant rows are numbered (`variants[0].value`).
fn field_path(path: &str, draft: &Draft) -> String {
    if let Some(rest) = path.strip_prefix("variants.") {
        let name = rest.split('.').next().unwrap_or(rest);
        if let Some(i) = draft.variants.iter().position(|v| v.name.trim() == name) {
            return format!("variants[{i}].value");
        }
    }
    path.to_owned()
}

/// An HTML id for a path: `f-` and the path with every other character
/// than a letter, digit, `_` or `-` as `-`.
pub(in crate::ui) fn html_id(path: &str) -> String {
    let mut id = String::with_capacity(path.len().saturating_add(2));
    id.push_str("f-");
    id.extend(path.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '-'
        }
    }));
    id
}

/// A path in words: `staging › rule 1 › condition 2 › value`.
pub(in crate::ui) fn describe(path: &str, environments: &[String]) -> String {
    if path.is_empty() {
        return "the flag".to_owned();
    }
    let mut words = Vec::new();
    let mut rest = path;
    if let Some(after) = rest.strip_prefix("environments.") {
        let env = environments
            .iter()
            .filter(|e| after == e.as_str() || after.starts_with(&format!("{e}.")))
            .max_by_key(|e| e.len());
        match env {
            Some(env) => {
                words.push(env.clone());
                rest = after[env.len()..].trim_start_matches('.');
            }
            None => return path.to_owned(),
        }
    }
    let mut in_rule = false;
    for part in rest.split('.').filter(|p| !p.is_empty()) {
        let (name, index) = match part.split_once('[') {
            Some((name, index)) => (name, index.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let number = index.map(crate::ui::ordinal);
        let word = match (name, number) {
            ("targeting_rules", Some(n)) => {
                in_rule = true;
                format!("rule {n}")
            }
            ("targeting_rules", None) => "rules".to_owned(),
            ("conditions", Some(n)) => format!("condition {n}"),
            ("variants", Some(n)) if in_rule => format!("share {n}"),
            ("variants", Some(n)) => format!("variant {n}"),
            ("variants", None) if in_rule => "split".to_owned(),
            ("depends_on", Some(n)) => format!("prerequisite {n}"),
            ("default_value", _) => "default value".to_owned(),
            ("flag_id", _) => "key".to_owned(),
            ("bucket_by", _) => "bucket by".to_owned(),
            ("required_value", _) => "required value".to_owned(),
            (other, Some(n)) => format!("{other} {n}"),
            (other, None) => other.replace('_', " "),
        };
        words.push(word);
    }
    words.join(" › ")
}

impl EditorPage {
    /// The page for `draft`, with what stopped its save.
    pub fn build(
        shell: Shell,
        live: &LiveConfig,
        draft: Draft,
        version: Option<i64>,
        outcome: Outcome,
        reason: &str,
        confirmed: bool,
    ) -> EditorPage {
        let placer = Placer::new(&outcome.problems, &draft);
        let flag_type = draft.flag_type();
        let default_text = draft.default_value.clone();
        let variant_names: Vec<String> = draft
            .variants
            .iter()
            .map(|v| v.name.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        let ctx = RuleContext {
            placer: &placer,
            flag_type,
            variant_names: &variant_names,
        };
        let tree = environments_in_tree_order(live);
        let env_keys: Vec<String> = draft.environments.iter().map(|e| e.key.clone()).collect();
        let environments = draft
            .environments
            .iter()
            .map(|env| {
                let info = tree.iter().find(|e| e.key == env.key);
                let follows = match info {
                    Some(e) if e.auto_sync => match &e.parent {
                        Some(parent) => format!("follows {parent} (auto-sync)"),
                        None => "uses the flag's defaults".to_owned(),
                    },
                    _ => "uses the flag's defaults".to_owned(),
                };
                let mut view = environment_view(
                    env,
                    &ctx,
                    &default_text,
                    follows,
                    info.is_some_and(|e| e.protected),
                    info.is_some_and(|e| e.approval_required),
                );
                if env.custom && env.own_rules && !env.rules.is_empty() {
                    view.copy_targets = copy_targets(&env.key, &env_keys);
                }
                view
            })
            .collect();
        let (flag_rules_id, _) = placer.part("targeting_rules", &[]);
        let flag_rules = rule_views(&draft.rules, &None, &ctx);
        let variants = draft
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| VariantView {
                name: placer.field(&format!("variants[{i}].name"), &v.name),
                value: ValueInput {
                    field: placer.field(&format!("variants[{i}].value"), &v.value),
                    kind: flag_type.as_str(),
                    optional: false,
                    default_text: String::new(),
                },
                remove_op: format!("remove_variant|{i}"),
            })
            .collect();
        let dependencies = draft
            .dependencies
            .iter()
            .enumerate()
            .map(|(i, d)| DependencyView {
                flag: placer.field(&format!("depends_on[{i}].flag"), &d.flag),
                required_value: placer.field(
                    &format!("depends_on[{i}].required_value"),
                    &d.required_value,
                ),
                repository: placer.field(&format!("depends_on[{i}].repository"), &d.repository),
                remove_op: format!("remove_dependency|{i}"),
            })
            .collect();
        let is_new = version.is_none();
        let flag_id = draft.flag_id.clone();
        let mut page = EditorPage {
            is_new,
            action_url: if is_new {
                "/new-flag".to_owned()
            } else {
                format!("/flags/{flag_id}/edit")
            },
            version: version.map(|v| v.to_string()).unwrap_or_default(),
            summary: Vec::new(),
            message: outcome.message.clone(),
            notice: outcome.notice.clone(),
            conflict: outcome.conflict,
            flag_id_field: placer.field("flag_id", &draft.flag_id),
            type_field: placer.field("type", &draft.flag_type),
            type_choices: FlagType::ALL
                .iter()
                .map(|t| Choice {
                    value: t.as_str().to_owned(),
                    label: t.as_str().to_owned(),
                    selected: *t == flag_type,
                })
                .collect(),
            description: placer.field("description", &draft.description),
            tags: placer.field("tags", &draft.tags),
            owner: placer.field("owner", &draft.owner),
            lifecycle: placer.field("lifecycle", &draft.lifecycle),
            lifecycle_choices: std::iter::once(("", "not set"))
                .chain(Lifecycle::ALL.iter().map(|l| (l.as_str(), l.as_str())))
                .map(|(value, label)| Choice {
                    value: value.to_owned(),
                    label: label.to_owned(),
                    selected: draft.lifecycle == value,
                })
                .collect(),
            default_value: ValueInput {
                field: placer.field("default_value", &draft.default_value),
                kind: flag_type.as_str(),
                optional: false,
                default_text: String::new(),
            },
            variants,
            flag_rules,
            flag_rules_id,
            flag_copy_targets: if draft.rules.is_empty() {
                Vec::new()
            } else {
                copy_targets("*", &env_keys)
            },
            environments,
            dependencies,
            reason: placer.field("reason", reason),
            confirmed: placer.field("confirmed", "yes"),
            confirmed_checked: confirmed,
            protected_envs: tree
                .iter()
                .filter(|e| e.protected)
                .map(|e| e.key.clone())
                .collect(),
            attribute_suggestions: attribute_suggestions(live),
            segment_ids: live.segments.keys().cloned().collect(),
            flag_ids: live
                .flags
                .keys()
                .filter(|k| **k != flag_id)
                .cloned()
                .collect(),
            live_version: live
                .flags
                .get(&draft.flag_id)
                .map_or(0, |stored| stored.version),
            flag_id,
            shell,
        };
        page.summary = outcome
            .problems
            .iter()
            .map(|p| SummaryItem {
                message: format!("{}: {}", describe(&p.path, &env_keys), p.message),
                anchor: placer.anchor(&field_path(&p.path, &draft)),
            })
            .collect();
        page.shell.title = if page.is_new {
            "New flag".to_owned()
        } else {
            format!("Edit {}", page.flag_id)
        };
        page
    }
}

/// What building a rule's fields needs.
struct RuleContext<'a> {
    placer: &'a Placer,
    flag_type: FlagType,
    variant_names: &'a [String],
}

fn environment_view(
    env: &EnvironmentDraft,
    ctx: &RuleContext<'_>,
    default_text: &str,
    follows: String,
    protected: bool,
    approval: bool,
) -> EnvironmentView {
    let base = format!("environments.{}", env.key);
    let (id, problems) = ctx.placer.part(&base, &[".targeting_rules"]);
    EnvironmentView {
        key: env.key.clone(),
        id,
        mode_name: format!("{base}.mode"),
        custom: env.custom,
        enabled_name: format!("{base}.enabled"),
        enabled: env.enabled,
        value: ValueInput {
            field: ctx.placer.field(&format!("{base}.value"), &env.value),
            kind: ctx.flag_type.as_str(),
            optional: true,
            default_text: default_text.to_owned(),
        },
        rules_name: format!("{base}.rules"),
        own_rules: env.own_rules,
        bare_name: format!("{base}.bare"),
        bare: env.bare,
        rules: rule_views(&env.rules, &Some(env.key.clone()), ctx),
        add_rule_op: format!("add_rule|{}", env.key),
        copy_targets: Vec::new(),
        follows,
        protected,
        approval,
        problems,
    }
}

fn rule_views(rules: &[RuleDraft], scope: &Scope, ctx: &RuleContext<'_>) -> Vec<RuleView> {
    let base = rules_path(scope);
    let scope_op = scope.clone().unwrap_or_else(|| "*".to_owned());
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| rule_view(rule, &format!("{base}[{i}]"), &scope_op, i, ctx))
        .collect()
}

fn rule_view(
    rule: &RuleDraft,
    path: &str,
    scope_op: &str,
    index: usize,
    ctx: &RuleContext<'_>,
) -> RuleView {
    let placer = ctx.placer;
    let (id, problems) = placer.part(path, &[".variants", ".conditions"]);
    let field = |name: &str, value: &str| placer.field(&format!("{path}.{name}"), value);
    let variant_choices = |selected: &str| -> Vec<Choice> {
        let mut choices: Vec<Choice> = ctx
            .variant_names
            .iter()
            .map(|n| Choice {
                value: n.clone(),
                label: n.clone(),
                selected: n == selected,
            })
            .collect();
        if !selected.is_empty() && !ctx.variant_names.iter().any(|n| n == selected) {
            choices.push(Choice {
                value: selected.to_owned(),
                label: format!("{selected} (not defined)"),
                selected: true,
            });
        }
        choices
    };
    let serve = if rule.serve.is_empty() {
        "value"
    } else {
        rule.serve.as_str()
    };
    RuleView {
        number: crate::ui::ordinal(index),
        name: field("name", &rule.name),
        conditions: rule
            .conditions
            .iter()
            .enumerate()
            .map(|(j, c)| {
                condition_view(
                    c,
                    &format!("{path}.conditions[{j}]"),
                    placer,
                    format!("remove_condition|{scope_op}|{index}|{j}"),
                    (
                        crate::ui::ordinal(j),
                        format!("rule {}", crate::ui::ordinal(index)),
                    ),
                )
            })
            .collect(),
        serve: field("serve", serve),
        serve_choices: [
            ("value", "a value"),
            ("variant", "a variant"),
            ("split", "a weighted split of variants"),
        ]
        .into_iter()
        .map(|(value, label)| Choice {
            value: value.to_owned(),
            label: label.to_owned(),
            selected: serve == value,
        })
        .collect(),
        value: ValueInput {
            field: field("value", &rule.value),
            kind: ctx.flag_type.as_str(),
            optional: false,
            default_text: String::new(),
        },
        variant: field("variant", &rule.variant),
        variant_choices: variant_choices(&rule.variant),
        split: rule
            .split
            .iter()
            .enumerate()
            .map(|(k, share)| ShareView {
                variant: placer.field(&format!("{path}.variants[{k}].variant"), &share.variant),
                variant_choices: variant_choices(&share.variant),
                weight: placer.field(&format!("{path}.variants[{k}].weight"), &share.weight),
                remove_op: format!("remove_share|{scope_op}|{index}|{k}"),
            })
            .collect(),
        percentage: field("percentage", &rule.percentage),
        bucket_by: field("bucket_by", &rule.bucket_by),
        problems,
        remove_op: format!("remove_rule|{scope_op}|{index}"),
        up_op: (index > 0).then(|| format!("move_rule_up|{scope_op}|{index}")),
        add_condition_op: format!("add_condition|{scope_op}|{index}"),
        add_share_op: format!("add_share|{scope_op}|{index}"),
        id,
    }
}

/// A condition's row at `path`; `(number, owner)` name it in labels.
pub(in crate::ui) fn condition_view(
    condition: &ConditionDraft,
    path: &str,
    placer: &Placer,
    remove_op: String,
    (number, owner): (usize, String),
) -> ConditionView {
    let operator = Operator::from_name(&condition.operator);
    let (value_list, hint) = match operator {
        Some(Operator::In | Operator::NotIn) => (
            "",
            "comma-separated; \"quote\" text that looks like a number",
        ),
        Some(Operator::InSegment | Operator::NotInSegment) => {
            ("segment-ids", "one or more segments, comma-separated")
        }
        Some(Operator::Exists | Operator::NotExists) => ("", "no value needed"),
        Some(Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte) => ("", "a number"),
        Some(
            Operator::SemverEq
            | Operator::SemverGt
            | Operator::SemverGte
            | Operator::SemverLt
            | Operator::SemverLte,
        ) => ("", "a version, e.g. 2.1.0"),
        Some(Operator::Before | Operator::After) => ("", "a date-time, e.g. 2026-01-15T09:30:00Z"),
        Some(Operator::Matches) => ("", "a regular expression"),
        _ => ("", "text, a number or true/false"),
    };
    ConditionView {
        attribute: placer.field(&format!("{path}.attribute"), &condition.attribute),
        operator: placer.field(&format!("{path}.operator"), &condition.operator),
        operator_choices: operator_choices(&condition.operator),
        value: placer.field(&format!("{path}.value"), &condition.value),
        value_list,
        hint,
        remove_op,
        number,
        owner,
    }
}

/// Every operator, in words.
fn operator_choices(selected: &str) -> Vec<Choice> {
    let label = |op: Operator| match op {
        Operator::Equals => "is",
        Operator::NotEquals => "is not",
        Operator::In => "is one of",
        Operator::NotIn => "is none of",
        Operator::Contains => "contains",
        Operator::NotContains => "does not contain",
        Operator::StartsWith => "starts with",
        Operator::EndsWith => "ends with",
        Operator::Matches => "matches (regex)",
        Operator::Gt => "is greater than",
        Operator::Gte => "is at least",
        Operator::Lt => "is less than",
        Operator::Lte => "is at most",
        Operator::SemverEq => "is version",
        Operator::SemverGt => "is a version after",
        Operator::SemverGte => "is version or later",
        Operator::SemverLt => "is a version before",
        Operator::SemverLte => "is version or earlier",
        Operator::Before => "is before (date)",
        Operator::After => "is after (date)",
        Operator::Exists => "is set",
        Operator::NotExists => "is not set",
        Operator::InSegment => "is in segment",
        Operator::NotInSegment => "is not in segment",
    };
    let mut choices: Vec<Choice> = Operator::ALL
        .iter()
        .map(|op| Choice {
            value: op.as_str().to_owned(),
            label: label(*op).to_owned(),
            selected: op.as_str() == selected,
        })
        .collect();
    if Operator::from_name(selected).is_none() && !selected.is_empty() {
        choices.insert(
            0,
            Choice {
                value: selected.to_owned(),
                label: format!("{selected} (unknown)"),
                selected: true,
            },
        );
    }
    choices
}

/// Attribute names for the attribute fields' suggestions: those the
/// installation's rules and segments already test, and the usual ones.
pub(in crate::ui) fn attribute_suggestions(live: &LiveConfig) -> Vec<String> {
    /// Enough to choose from; a large installation's long tail is typed.
    const MAX: usize = 200;
    let mut names: BTreeSet<String> = ["user_id", "email", "country", "platform", "app_version"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let add = |names: &mut BTreeSet<String>, conditions: &[ff_engine::Condition]| {
        for c in conditions {
            if let Some(a) = &c.attribute
                && names.len() < MAX
            {
                names.insert(a.clone());
            }
        }
    };
    for segment in live.segments.values() {
        add(&mut names, &segment.segment.conditions);
    }
    for stored in live.flags.values() {
        if names.len() >= MAX {
            break;
        }
        for rule in &stored.flag.targeting_rules {
            add(&mut names, &rule.conditions);
        }
        for entry in stored.flag.environments.values() {
            if let ff_engine::EnvironmentEntry::Config(config) = entry {
                for rule in config.targeting_rules.iter().flatten() {
                    add(&mut names, &rule.conditions);
                }
            }
        }
    }
    names.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_words() {
        let envs = vec!["staging".to_owned(), "eu.prod".to_owned()];
        assert_eq!(
            describe(
                "environments.eu.prod.targeting_rules[0].conditions[1].value",
                &envs
            ),
            "eu.prod › rule 1 › condition 2 › value"
        );
        assert_eq!(
            describe("targeting_rules[2].variants[1].weight", &envs),
            "rule 3 › share 2 › weight"
        );
        assert_eq!(describe("default_value", &envs), "default value");
        assert_eq!(describe("", &envs), "the flag");
        assert_eq!(
            describe("depends_on[0].flag", &envs),
            "prerequisite 1 › flag"
        );
    }

    #[test]
    fn ids_are_safe_and_problems_link_to_the_nearest_part() {
        assert_eq!(
            html_id("environments.staging.targeting_rules[0].name"),
            "f-environments-staging-targeting_rules-0--name"
        );
        let draft = Draft::default();
        let placer = Placer::new(&[], &draft);
        placer.part("targeting_rules[0]", &[]);
        placer.field("targeting_rules[0].name", "");
        assert_eq!(
            placer.anchor("targeting_rules[0].name").as_deref(),
            Some("f-targeting_rules-0--name")
        );
        assert_eq!(
            placer.anchor("targeting_rules[0].variants").as_deref(),
            Some("f-targeting_rules-0-")
        );
        assert_eq!(placer.anchor("depends_on[3]"), None);
    }
}
