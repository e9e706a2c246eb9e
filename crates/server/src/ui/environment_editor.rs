//! An environment's settings: `/environments/{env}/edit` (admins, as the
//! API's `PUT /api/v1/environments/{env}`), a new one at `/new-environment`
//! (`POST /api/v1/environments`, optionally starting from another
//! environment's flag settings) and deleting one
//! (`POST /environments/{env}/delete`, as `DELETE /api/v1/environments/{env}`:
//! it asks first, and the page says beforehand what stops it).
//!
//! One form holds every setting the API lets one change (all of them but
//! the key): the description, the parent and auto-sync, protection, the
//! approvals required, what breaking a prerequisite does, and the change
//! windows (rows added and removed by `op=` buttons that post the form
//! back, as in the flag editor). Saving sends the whole document through
//! the API's own handler with the form's version as `If-Match` and its
//! reason, so a protected environment asks for one, and the API's
//! validation problems come back next to their fields (the field names are
//! the document's paths: `change_windows[0].end`).

use askama::Template;
use axum::Form;
use axum::extract::{self, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use ff_engine::Problem;
use ff_store::{DependencyPolicy, EnvironmentSettings, Role};
use serde_json::{Map, Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path};
use crate::live::LiveConfig;
use crate::routes::environments;
use crate::state::AppState;
use crate::ui::actions::{Retry, api_message, confirm, write_headers};
use crate::ui::editor::draft::FormFields;
use crate::ui::editor::view::{Choice, Field, Outcome, Placer, SummaryItem};
use crate::ui::form_data::{self, Submitted};
use crate::ui::shell::{PageResult, Shell, UiError, redirect_with_flash, render, viewer};

/// The days of a change window, in the order people read a week.
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The settings as the form's fields hold them.
#[derive(Debug, Clone, Default)]
struct SettingsDraft {
    key: String,
    description: String,
    /// Empty: a root.
    parent: String,
    auto_sync: bool,
    protected: bool,
    approval_required: bool,
    /// Typed as text: a whole number, at least 1.
    required_approvals: String,
    /// `warn` or `refuse`.
    dependency_policy: String,
    windows: Vec<WindowDraft>,
    /// A new environment only: the environment whose flag settings it
    /// starts with (empty: none).
    copy_from: String,
}

/// One change window.
#[derive(Debug, Clone, Default)]
struct WindowDraft {
    days: Vec<String>,
    start: String,
    end: String,
    time_zone: String,
}

impl WindowDraft {
    /// A new row: working days, office hours, UTC.
    fn office_hours() -> WindowDraft {
        WindowDraft {
            days: DAYS[..5].iter().map(|d| (*d).to_owned()).collect(),
            start: "09:00".to_owned(),
            end: "17:00".to_owned(),
            time_zone: "UTC".to_owned(),
        }
    }
}

impl SettingsDraft {
    fn from_settings(settings: &EnvironmentSettings) -> SettingsDraft {
        SettingsDraft {
            key: settings.tree.key.clone(),
            description: settings.description.clone().unwrap_or_default(),
            parent: settings.tree.parent.clone().unwrap_or_default(),
            auto_sync: settings.tree.auto_sync,
            protected: settings.protected,
            approval_required: settings.approval_required,
            required_approvals: settings.required_approvals.to_string(),
            dependency_policy: match settings.dependency_policy {
                DependencyPolicy::Warn => "warn",
                DependencyPolicy::Refuse => "refuse",
            }
            .to_owned(),
            windows: settings
                .change_windows
                .iter()
                .map(|w| WindowDraft {
                    days: w.days.clone(),
                    start: w.start.clone(),
                    end: w.end.clone(),
                    time_zone: w.time_zone.clone(),
                })
                .collect(),
            copy_from: String::new(),
        }
    }

    /// What a new environment's form starts with: a root, one approval
    /// when approvals are switched on, a prerequisite broken with a warning.
    fn new_environment() -> SettingsDraft {
        SettingsDraft {
            required_approvals: "1".to_owned(),
            dependency_policy: "warn".to_owned(),
            ..SettingsDraft::default()
        }
    }

    fn from_form(key: &str, pairs: &[(String, String)]) -> SettingsDraft {
        let form = FormFields::new(pairs);
        let checked = |name: &str| form.get(name) == "true";
        let windows = form
            .indexed("change_windows", "start")
            .map(|p| {
                let days_name = format!("{p}.days");
                WindowDraft {
                    // Checkboxes: one pair per ticked day.
                    days: pairs
                        .iter()
                        .filter(|(k, _)| *k == days_name)
                        .map(|(_, v)| v.clone())
                        .collect(),
                    start: form.get(&format!("{p}.start")),
                    end: form.get(&format!("{p}.end")),
                    time_zone: form.get(&format!("{p}.time_zone")),
                }
            })
            .collect();
        SettingsDraft {
            key: key.to_owned(),
            description: form.get("description"),
            parent: form.get("parent"),
            auto_sync: checked("auto_sync"),
            protected: checked("protected"),
            approval_required: checked("approval_required"),
            required_approvals: form.get("required_approvals"),
            dependency_policy: form.get("dependency_policy"),
            windows,
            copy_from: form.get("copy_from"),
        }
    }

    /// The settings document the API takes, or the fields that do not read
    /// (the API checks the rest).
    fn to_document(&self) -> Result<Value, Vec<Problem>> {
        let mut doc = Map::new();
        doc.insert("key".into(), self.key.trim().into());
        let copy_from = self.copy_from.trim();
        if !copy_from.is_empty() {
            doc.insert("copy_from".into(), copy_from.into());
        }
        let description = self.description.trim();
        if !description.is_empty() {
            doc.insert("description".into(), description.into());
        }
        let parent = self.parent.trim();
        if !parent.is_empty() {
            doc.insert("parent".into(), parent.into());
        }
        doc.insert("auto_sync".into(), self.auto_sync.into());
        doc.insert("protected".into(), self.protected.into());
        doc.insert("approval_required".into(), self.approval_required.into());
        let approvals = self.required_approvals.trim();
        let required = if approvals.is_empty() {
            1
        } else {
            match approvals.parse::<u32>() {
                Ok(n) => n,
                Err(_) => {
                    return Err(vec![Problem::error(
                        "required_approvals",
                        format!("\"{approvals}\" is not a whole number; write 1, 2, …"),
                    )]);
                }
            }
        };
        doc.insert("required_approvals".into(), required.into());
        let policy = if self.dependency_policy.is_empty() {
            "warn"
        } else {
            self.dependency_policy.as_str()
        };
        doc.insert("dependency_policy".into(), policy.into());
        let windows: Vec<Value> = self
            .windows
            .iter()
            .map(|w| {
                json!({
                    "days": w.days,
                    "start": w.start.trim(),
                    "end": w.end.trim(),
                    "time_zone": if w.time_zone.trim().is_empty() { "UTC" } else { w.time_zone.trim() },
                })
            })
            .collect();
        doc.insert("change_windows".into(), Value::Array(windows));
        Ok(Value::Object(doc))
    }

    /// Carries out a row button (`add_window`, `remove_window|i`); `false`
    /// if it names nothing that exists.
    fn apply_op(&mut self, op: &str) -> bool {
        let mut parts = op.split('|');
        match (parts.next(), parts.next().map(str::parse::<usize>)) {
            (Some("add_window"), None) => {
                self.windows.push(WindowDraft::office_hours());
                true
            }
            (Some("remove_window"), Some(Ok(i))) if i < self.windows.len() => {
                self.windows.remove(i);
                true
            }
            _ => false,
        }
    }
}

/// A change window's row on the page.
struct WindowView {
    number: usize,
    days_id: String,
    days_name: String,
    days: Vec<Choice>,
    days_problems: Vec<String>,
    start: Field,
    end: Field,
    time_zone: Field,
    remove_op: String,
}

#[derive(Template)]
#[template(path = "environment_edit.html")]
struct EnvironmentEditPage {
    shell: Shell,
    /// A new environment (`/new-environment`), not yet saved.
    is_new: bool,
    /// Where the form posts.
    action_url: String,
    key: String,
    /// The key's field (a new environment only: the key never changes).
    key_field: Field,
    /// A new environment: whose flag settings it starts with.
    copy_from: Field,
    copy_choices: Vec<Choice>,
    version: String,
    summary: Vec<SummaryItem>,
    message: Option<String>,
    description: Field,
    parent: Field,
    parent_choices: Vec<Choice>,
    auto_sync: Field,
    auto_sync_checked: bool,
    protected: Field,
    protected_checked: bool,
    approval_required: Field,
    approval_checked: bool,
    required_approvals: Field,
    dependency_policy: Field,
    policy_choices: Vec<Choice>,
    windows_id: String,
    windows: Vec<WindowView>,
    reason: Field,
    /// Saving needs a reason: the environment is protected now.
    needs_reason: bool,
    /// The environments that inherit from this one.
    children: Vec<String>,
    /// API keys (not revoked) bound to it: they stop a deletion too.
    bound_keys: Vec<String>,
    /// How many flags have settings of their own here (deleted with it).
    flags_with_entries: usize,
}

/// `GET /environments/{env}/edit`.
pub async fn show_edit_environment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    extract::Path(env): extract::Path<String>,
) -> PageResult {
    let principal = admin(principal)?;
    let live = state.live.current();
    let stored = live
        .environments
        .get(&env)
        .ok_or_else(|| UiError(ApiError::not_found("environment", &env)))?;
    let draft = SettingsDraft::from_settings(&stored.environment);
    let shell = Shell::new(&state, &live, &principal, "", "environments", &uri).await;
    render(&build(
        shell,
        &live,
        draft,
        Some(stored.version),
        Outcome::default(),
        "",
    ))
}

/// `GET /new-environment`.
pub async fn show_new_environment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
) -> PageResult {
    let principal = admin(principal)?;
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, "", "environments", &uri).await;
    let draft = SettingsDraft::new_environment();
    render(&build(shell, &live, draft, None, Outcome::default(), ""))
}

/// `POST /new-environment`: as `POST /api/v1/environments`.
pub async fn submit_new_environment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let principal = admin(principal)?;
    let form = Submitted::read(&principal, &form_data::FormFields::from_pairs(&pairs))?;
    let live = state.live.current();
    let key = pairs
        .iter()
        .rev()
        .find(|(name, _)| name == "key")
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    let mut draft = SettingsDraft::from_form(&key, &pairs);
    let shell = Shell::new(&state, &live, &principal, "", "environments", &uri).await;
    let answer = |shell, draft, outcome: Outcome| -> PageResult {
        let status = outcome.status();
        let html = render(&build(
            shell,
            &live,
            draft,
            None,
            outcome,
            &form.common.reason,
        ))?;
        Ok((status, html).into_response())
    };
    if !form.saves() {
        let outcome = if draft.apply_op(&form.op) {
            Outcome::default()
        } else {
            Outcome::message("That row is gone already; the form shows what is left.")
        };
        return answer(shell, draft, outcome);
    }
    if key.is_empty() {
        let problem = Problem::error(
            "key",
            "give the environment a key, e.g. qa or eu_production",
        );
        return answer(shell, draft, Outcome::problems(vec![problem]));
    }
    let document = match draft.to_document() {
        Ok(document) => document,
        Err(problems) => return answer(shell, draft, Outcome::problems(problems)),
    };
    let result = environments::create_environment(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, None),
        JsonBody(document),
    )
    .await;
    match result {
        Ok(_) => {
            let copied = if draft.copy_from.trim().is_empty() {
                String::new()
            } else {
                format!(", with the flag settings of {}", draft.copy_from.trim())
            };
            Ok(redirect_with_flash(
                "/environments",
                "ok",
                &format!("Created environment {key}{copied}."),
            ))
        }
        Err(error) => {
            let outcome = match error {
                // `copy_from` naming an environment deleted meanwhile.
                ApiError::NotFound(_) if !draft.copy_from.is_empty() => {
                    Outcome::problems(vec![Problem::error(
                        "copy_from",
                        "that environment no longer exists; choose another",
                    )])
                }
                error => Outcome::from_error_keyed(error, "key").await,
            };
            draft.key = key;
            answer(shell, draft, outcome)
        }
    }
}

/// `POST /environments/{env}/delete`: as `DELETE /api/v1/environments/{env}`.
/// Without `confirmed=yes` (the script's dialog, or the confirmation page
/// shown here without it) it asks first; a protected environment wants a
/// reason. What stops it (child environments, API keys bound to it) comes
/// back as the page's message, in words.
pub async fn delete_environment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path(env): extract::Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let principal = admin(principal)?;
    let form = Submitted::read(&principal, &form_data::FormFields::from_pairs(&pairs))?;
    let back = format!("/environments/{env}/edit");
    let live = state.live.current();
    let Some(stored) = live.environments.get(&env) else {
        return Err(UiError(ApiError::not_found("environment", &env)));
    };
    let protected = stored.environment.protected;
    let retry = Retry {
        heading: format!("Delete environment {env}?"),
        action_url: format!("/environments/{env}/delete"),
        hidden: form
            .version
            .map(|v| ("version", v.to_string()))
            .into_iter()
            .collect(),
        button: "Delete environment".to_owned(),
        danger: true,
    };
    if !form.confirmed() || (protected && form.common.reason.trim().is_empty()) {
        let note = delete_note(&live, &env);
        return confirm(&state, &principal, &form.common, &back, &retry, &note).await;
    }
    let result = environments::delete_environment(
        State(state.clone()),
        principal,
        write_headers(&headers, &form.common, form.version),
        Path(env.clone()),
    )
    .await;
    Ok(match result {
        Ok(_) => redirect_with_flash(
            "/environments",
            "ok",
            &format!("Deleted environment {env}."),
        ),
        Err(ApiError::Conflict {
            code: "in_use",
            details,
            ..
        }) => {
            // Keys by name, as the page lists them.
            let mut details = details;
            if let Some(ids) = details["api_keys"].as_array_mut() {
                for id in ids.iter_mut() {
                    let name = live
                        .keys_by_hash
                        .values()
                        .find(|k| Some(k.id.as_str()) == id.as_str())
                        .map(|k| k.name.clone());
                    if let Some(name) = name {
                        *id = Value::String(name);
                    }
                }
            }
            redirect_with_flash(&back, "error", &in_use_message(&env, &details))
        }
        Err(error) => redirect_with_flash(&back, "error", &api_message(error).await),
    })
}

/// What deleting `env` takes with it, for the confirmation.
fn delete_note(live: &LiveConfig, env: &str) -> String {
    let entries = flags_with_entries(live, env);
    let flags = match entries {
        0 => "No flag has settings of its own there.".to_owned(),
        1 => "One flag has settings of its own there; they are deleted with it (as a new version of the flag).".to_owned(),
        n => format!("{n} flags have settings of their own there; they are deleted with it (as a new version of each flag)."),
    };
    format!("Applications using {env} stop getting its flags. {flags} This cannot be undone.")
}

/// The API's `in_use` refusal in words: what stops it, and what to do.
fn in_use_message(env: &str, details: &Value) -> String {
    let names = |field: &str| -> Vec<String> {
        details[field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (children, keys) = (names("children"), names("api_keys"));
    let mut message = format!("{env} was not deleted.");
    if !children.is_empty() {
        let (verb, them) = if children.len() == 1 {
            ("inherits", "it")
        } else {
            ("inherit", "them")
        };
        message.push_str(&format!(
            " {} {verb} from it: give {them} another parent, or delete {them}, first.",
            children.join(", ")
        ));
    }
    if !keys.is_empty() {
        let (noun, verb, them) = if keys.len() == 1 {
            ("API key", "is", "it")
        } else {
            ("API keys", "are", "them")
        };
        message.push_str(&format!(
            " The {noun} {} {verb} bound to it: revoke {them} first.",
            keys.join(", ")
        ));
    }
    message
}

/// How many flags have an entry of their own in `env`.
fn flags_with_entries(live: &LiveConfig, env: &str) -> usize {
    live.flags
        .values()
        .filter(|f| f.flag.environments.contains_key(env))
        .count()
}

/// `POST /environments/{env}/edit`.
pub async fn submit_edit_environment(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    uri: Uri,
    extract::Path(env): extract::Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let principal = admin(principal)?;
    let Submitted {
        common,
        op,
        version,
    } = Submitted::read(&principal, &form_data::FormFields::from_pairs(&pairs))?;
    let live = state.live.current();
    if !live.environments.contains_key(&env) {
        return Err(UiError(ApiError::not_found("environment", &env)));
    }
    let mut draft = SettingsDraft::from_form(&env, &pairs);
    let shell = Shell::new(&state, &live, &principal, "", "environments", &uri).await;
    let shown_version = version.unwrap_or_default();
    let answer = |shell, draft, version, outcome: Outcome| -> PageResult {
        let status = outcome.status();
        let html = render(&build(
            shell,
            &live,
            draft,
            Some(version),
            outcome,
            &common.reason,
        ))?;
        Ok((status, html).into_response())
    };
    if !(op.is_empty() || op == "save") {
        let outcome = if draft.apply_op(&op) {
            Outcome::default()
        } else {
            Outcome::message("That row is gone already; the form shows what is left.")
        };
        return answer(shell, draft, shown_version, outcome);
    }
    let document = match draft.to_document() {
        Ok(document) => document,
        Err(problems) => return answer(shell, draft, shown_version, Outcome::problems(problems)),
    };
    let result = environments::replace_environment(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &common, version),
        Path(env.clone()),
        JsonBody(document),
    )
    .await;
    match result {
        Ok(saved) => Ok(redirect_with_flash(
            "/environments",
            "ok",
            &format!("Saved the settings of {env} (version {}).", saved.0.version),
        )),
        Err(ApiError::Conflict {
            code: "version_conflict",
            details,
            ..
        }) => {
            let current = details["current_version"].as_i64().unwrap_or(shown_version);
            let outcome = Outcome {
                message: Some(format!(
                    "Someone changed {env}'s settings while you were editing. Your edits are \
                     below and were not saved: save again to replace theirs, or reload to start \
                     from theirs."
                )),
                status: Some(StatusCode::CONFLICT),
                ..Outcome::default()
            };
            answer(shell, draft, current, outcome)
        }
        Err(error) => {
            let outcome = Outcome::from_error_keyed(error, "key").await;
            answer(shell, draft, shown_version, outcome)
        }
    }
}

fn build(
    mut shell: Shell,
    live: &LiveConfig,
    draft: SettingsDraft,
    version: Option<i64>,
    outcome: Outcome,
    reason: &str,
) -> EnvironmentEditPage {
    let placer = Placer::at_paths(
        outcome
            .problems
            .iter()
            .map(|p| (p.path.clone(), p.message.clone())),
    );
    // Only a saved environment has a version.
    let is_new = version.is_none();
    shell.title = if is_new {
        "New environment".to_owned()
    } else {
        format!("Settings of {}", draft.key)
    };
    // A parent may be any environment but this one and those below it (a
    // tree has no cycles).
    let below = if is_new {
        Vec::new()
    } else {
        descendants(live, &draft.key)
    };
    let mut parent_choices = vec![Choice {
        value: String::new(),
        label: "none (a root environment)".to_owned(),
        selected: draft.parent.is_empty(),
    }];
    parent_choices.extend(
        crate::routes::overview::environments_in_tree_order(live)
            .into_iter()
            .filter(|e| is_new || (e.key != draft.key && !below.contains(&e.key)))
            .map(|e| Choice {
                selected: e.key == draft.parent,
                label: e.key.clone(),
                value: e.key,
            }),
    );
    if !draft.parent.is_empty() && !parent_choices.iter().any(|c| c.selected) {
        parent_choices.push(Choice {
            value: draft.parent.clone(),
            label: format!("{} (not available)", draft.parent),
            selected: true,
        });
    }
    let windows = draft
        .windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let base = format!("change_windows[{i}]");
            let (days_id, mut days_problems) = placer.part(&format!("{base}.days"), &[]);
            for d in 0..w.days.len() {
                if let Some(found) = placer.field(&format!("{base}.days[{d}]"), "").error {
                    days_problems.push(found);
                }
            }
            WindowView {
                number: super::ordinal(i),
                days_name: format!("{base}.days"),
                days: DAYS
                    .iter()
                    .map(|d| Choice {
                        value: (*d).to_owned(),
                        label: capitalised(d),
                        selected: w.days.iter().any(|x| x == d),
                    })
                    .collect(),
                days_id,
                days_problems,
                start: placer.field(&format!("{base}.start"), &w.start),
                end: placer.field(&format!("{base}.end"), &w.end),
                time_zone: placer.field(&format!("{base}.time_zone"), &w.time_zone),
                remove_op: format!("remove_window|{i}"),
            }
        })
        .collect();
    let (windows_id, _) = placer.part("change_windows", &[]);
    let needs_reason = live
        .environments
        .get(&draft.key)
        .is_some_and(|e| e.environment.protected);
    let mut copy_choices = vec![Choice {
        value: String::new(),
        label: "none (start empty)".to_owned(),
        selected: draft.copy_from.is_empty(),
    }];
    copy_choices.extend(
        crate::routes::overview::environments_in_tree_order(live)
            .into_iter()
            .map(|e| Choice {
                selected: e.key == draft.copy_from,
                label: e.key.clone(),
                value: e.key,
            }),
    );
    let mut page = EnvironmentEditPage {
        is_new,
        action_url: if is_new {
            "/new-environment".to_owned()
        } else {
            format!("/environments/{}/edit", draft.key)
        },
        key_field: placer.field("key", &draft.key),
        copy_from: placer.field("copy_from", &draft.copy_from),
        copy_choices,
        version: version.map(|v| v.to_string()).unwrap_or_default(),
        summary: Vec::new(),
        message: outcome.message.clone(),
        description: placer.field("description", &draft.description),
        parent: placer.field("parent", &draft.parent),
        parent_choices,
        auto_sync: placer.field("auto_sync", "true"),
        auto_sync_checked: draft.auto_sync,
        protected: placer.field("protected", "true"),
        protected_checked: draft.protected,
        approval_required: placer.field("approval_required", "true"),
        approval_checked: draft.approval_required,
        required_approvals: placer.field("required_approvals", &draft.required_approvals),
        dependency_policy: placer.field("dependency_policy", &draft.dependency_policy),
        policy_choices: [("warn", "allowed, with a warning"), ("refuse", "refused")]
            .into_iter()
            .map(|(value, label)| Choice {
                value: value.to_owned(),
                label: label.to_owned(),
                selected: draft.dependency_policy == value,
            })
            .collect(),
        windows_id,
        windows,
        reason: placer.field("reason", reason),
        needs_reason,
        children: live
            .environments
            .values()
            .filter(|e| e.environment.tree.parent.as_deref() == Some(draft.key.as_str()))
            .map(|e| e.environment.tree.key.clone())
            .collect(),
        bound_keys: live
            .keys_by_hash
            .values()
            .filter(|k| {
                k.revoked_at.is_none() && k.environment.as_deref() == Some(draft.key.as_str())
            })
            .map(|k| k.name.clone())
            .collect(),
        flags_with_entries: if is_new {
            0
        } else {
            flags_with_entries(live, &draft.key)
        },
        key: draft.key,
        shell,
    };
    page.summary = outcome
        .problems
        .iter()
        .map(|p| SummaryItem {
            message: format!("{}: {}", describe(&p.path), p.message),
            anchor: placer.anchor(&p.path),
        })
        .collect();
    page
}

/// The environments below `key` in the tree (children, their children, …).
fn descendants(live: &LiveConfig, key: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut frontier = vec![key.to_owned()];
    while let Some(current) = frontier.pop() {
        for stored in live.environments.values() {
            let child = &stored.environment.tree;
            if child.parent.as_deref() == Some(current.as_str()) && !found.contains(&child.key) {
                found.push(child.key.clone());
                frontier.push(child.key.clone());
            }
        }
    }
    found
}

/// A settings path in words: `change window 1 › end`.
fn describe(path: &str) -> String {
    if path.is_empty() {
        return "the settings".to_owned();
    }
    path.split('.')
        .map(|part| match part.split_once('[') {
            Some(("change_windows", index)) => {
                let n = super::ordinal(index.trim_end_matches(']').parse::<usize>().unwrap_or(0));
                format!("change window {n}")
            }
            Some((name, index)) => {
                let n = super::ordinal(index.trim_end_matches(']').parse::<usize>().unwrap_or(0));
                format!("{} {n}", name.replace('_', " "))
            }
            None => part.replace('_', " "),
        })
        .collect::<Vec<_>>()
        .join(" › ")
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Environment settings are for admins (as the API's); others are told so.
fn admin(principal: Result<Principal, ApiError>) -> Result<Principal, UiError> {
    let principal = viewer(principal)?;
    principal.require(Role::Admin)?;
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_form_reads_into_the_settings_document() {
        let draft = SettingsDraft::from_form(
            "staging",
            &pairs(&[
                ("description", " Pre-production "),
                ("parent", "development"),
                ("auto_sync", "true"),
                ("approval_required", "true"),
                ("required_approvals", "2"),
                ("dependency_policy", "refuse"),
                ("change_windows[0].days", "monday"),
                ("change_windows[0].days", "friday"),
                ("change_windows[0].start", "09:00"),
                ("change_windows[0].end", "17:30"),
                ("change_windows[0].time_zone", "Europe/Rome"),
            ]),
        );
        let document = match draft.to_document() {
            Ok(document) => document,
            Err(problems) => panic!("{problems:?}"),
        };
        assert_eq!(
            document,
            json!({
                "key": "staging", "description": "Pre-production", "parent": "development",
                "auto_sync": true, "protected": false, "approval_required": true,
                "required_approvals": 2, "dependency_policy": "refuse",
                "change_windows": [{"days": ["monday", "friday"], "start": "09:00",
                                    "end": "17:30", "time_zone": "Europe/Rome"}]
            })
        );
        // The API reads it as the same settings, and the form shows them
        // again as typed.
        let settings = match environments::parse_environment_settings(&document) {
            Ok(settings) => settings,
            Err(error) => panic!("{error:?}"),
        };
        let again = SettingsDraft::from_settings(&settings);
        assert_eq!(again.windows[0].days, ["monday", "friday"]);
        assert_eq!(again.required_approvals, "2");
        assert_eq!(again.dependency_policy, "refuse");
    }

    #[test]
    fn a_count_that_is_not_a_number_is_a_problem_at_its_field() {
        let draft =
            SettingsDraft::from_form("production", &pairs(&[("required_approvals", "two")]));
        let Err(problems) = draft.to_document() else {
            panic!("\"two\" read as a number");
        };
        assert_eq!(problems[0].path, "required_approvals");
    }

    #[test]
    fn rows_are_added_and_removed_and_paths_read_as_words() {
        let mut draft = SettingsDraft::default();
        assert!(draft.apply_op("add_window"));
        assert_eq!(draft.windows[0].days.len(), 5);
        assert!(draft.apply_op("remove_window|0"));
        assert!(!draft.apply_op("remove_window|0"));
        assert!(!draft.apply_op("explode"));
        assert_eq!(describe("change_windows[0].end"), "change window 1 › end");
        assert_eq!(describe("required_approvals"), "required approvals");
    }
}
