//! `/flags/{flag_id}/rollback`: roll a flag (or one environment of it) back
//! to an old version. The page (`GET`, linked from each version in the flag
//! page's history) shows what the rollback would change and asks for a
//! reason; its form (`POST`) goes through the API's own handler
//! (`POST /api/v1/flags/{id}/rollback`), so approvals, change windows and
//! protection apply as they do to the API: a rollback that turns something
//! back on in production waits for approval, one that turns it off does not.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::{Form, extract};
use ff_api_types::{RollbackRequest, VersionRef};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{JsonBody, Path};
use crate::live::live_flag;
use crate::routes::flags;
use crate::routes::overview::environments_in_tree_order;
use crate::state::AppState;
use crate::ui::actions::{CommonFields, Retry, back_to, check_csrf, outcome, write_headers};
use crate::ui::changes::{DiffRow, diff_rows, name_of, people_names};
use crate::ui::shell::{PageResult, Shell, format_time, render, viewer};

/// `?version=N&environment=E`.
#[derive(Debug, Deserialize)]
pub struct RollbackQuery {
    version: i64,
    /// Preselects one environment.
    #[serde(default)]
    environment: String,
}

#[derive(Template)]
#[template(path = "rollback.html")]
struct RollbackPage {
    shell: Shell,
    flag_id: String,
    version: i64,
    current: i64,
    actor: String,
    at: String,
    action: String,
    reason: Option<String>,
    /// Whole flag (`""`) or one environment.
    scopes: Vec<Scope>,
    diff: Vec<DiffRow>,
    /// Environments whose rules apply (protected, approval, windows).
    governed: Vec<String>,
}

struct Scope {
    value: String,
    label: String,
    selected: bool,
    /// The rollback would change this environment's entry.
    changes: bool,
}

/// `GET /flags/{flag_id}/rollback`.
pub async fn show_rollback(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
    extract::Path(flag_id): extract::Path<String>,
    Query(query): Query<RollbackQuery>,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let current = live_flag(&live, &flag_id)?;
    let old = state
        .store
        .flag_version(&flag_id, query.version)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "flag \"{flag_id}\" has no version {}",
                query.version
            ))
        })?;
    let now_doc = serde_json::to_value(&current.flag).unwrap_or_default();
    let title = format!("Roll back {flag_id} to version {}", old.version);
    let shell = Shell::new(&state, &live, &principal, title, "flags", &uri).await;
    let names = people_names(&state).await;
    let entry = |doc: &Value, env: &str| doc["environments"].get(env).cloned();
    let environments = environments_in_tree_order(&live);
    let mut scopes = vec![Scope {
        value: String::new(),
        label: "The whole flag".to_owned(),
        selected: query.environment.is_empty(),
        changes: now_doc != old.document,
    }];
    scopes.extend(environments.iter().map(|env| Scope {
        label: format!("Only {}", env.key),
        selected: query.environment == env.key,
        changes: entry(&now_doc, &env.key) != entry(&old.document, &env.key),
        value: env.key.clone(),
    }));
    let governed = environments
        .iter()
        .filter_map(|env| {
            let settings = &live.environments.get(&env.key)?.environment;
            let mut rules = Vec::new();
            if settings.approval_required {
                rules.push("waits for approval, unless the rollback only turns the flag off there");
            } else if settings.protected {
                rules.push("a reason is required");
            }
            if !settings.change_windows.is_empty() {
                rules.push("only inside its change windows");
            }
            (!rules.is_empty()).then(|| format!("{}: {}", env.key, rules.join("; ")))
        })
        .collect();
    render(&RollbackPage {
        diff: diff_rows(&now_doc, &old.document),
        current: current.version,
        version: old.version,
        actor: name_of(&names, &old.actor),
        at: format_time(old.at),
        action: old.action,
        reason: old.reason,
        scopes,
        governed,
        flag_id,
        shell,
    })
}

/// The form of `POST /flags/{flag_id}/rollback`.
#[derive(Debug, Deserialize)]
pub struct RollbackForm {
    version: i64,
    /// Empty: the whole flag.
    #[serde(default)]
    environment: String,
    #[serde(flatten)]
    common: CommonFields,
}

/// `POST /flags/{flag_id}/rollback`: as `POST /api/v1/flags/{id}/rollback`.
pub async fn rollback_flag(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path(flag_id): extract::Path<String>,
    Form(form): Form<RollbackForm>,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &form.common)?;
    let back = back_to(&headers, &form.common, &format!("/flags/{flag_id}"));
    let environment = Some(form.environment.trim().to_owned()).filter(|e| !e.is_empty());
    let scope = environment
        .as_ref()
        .map(|env| format!(" in {env}"))
        .unwrap_or_default();
    let request = RollbackRequest {
        to_version: VersionRef::Number(form.version),
        environment: environment.clone(),
        reason: Some(form.common.reason.trim().to_owned()).filter(|r| !r.is_empty()),
    };
    let result = flags::rollback_flag(
        State(state.clone()),
        principal.clone(),
        write_headers(&headers, &form.common, None),
        Path(flag_id.clone()),
        JsonBody(request),
    )
    .await;
    let retry = Retry {
        heading: format!("Roll back {flag_id}{scope} to version {}?", form.version),
        action_url: format!("/flags/{flag_id}/rollback"),
        hidden: vec![
            ("version", form.version.to_string()),
            ("environment", environment.unwrap_or_default()),
        ],
        button: "Roll back".to_owned(),
        danger: true,
    };
    let done = format!(
        "{flag_id}{scope} is back to version {} (a new version; history is kept).",
        form.version
    );
    outcome(
        &state,
        &principal,
        &form.common,
        &back,
        result,
        retry,
        &done,
    )
    .await
}
