//! `/api/v1/environments`: the environment tree and its governance settings.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_api_types::{
    Environment, EnvironmentDeleted, EnvironmentDiff, EnvironmentDiffQuery, EnvironmentDifference,
    Page, PromoteRequest, PromoteResponse,
};
use ff_engine::is_valid_key;
use ff_store::{Change, EnvironmentSettings, Expect, Role, StoredEnvironment};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Path, if_match};
use crate::flag_ops::{members, rfc3339, strip_meta};
use crate::governance::{WriteMeta, WriteMode};
use crate::routes::change_requests::held;
use crate::state::AppState;
use crate::write::{Outcome, apply, change, expect_version};

/// An environment as the API returns it: its settings plus `version`,
/// `updated_at` and its `children`.
fn environment_response(stored: &StoredEnvironment, children: Vec<&str>) -> Environment {
    Environment {
        settings: members(&stored.environment),
        version: stored.version,
        updated_at: rfc3339(stored.updated_at),
        children: children.into_iter().map(str::to_owned).collect(),
    }
}

fn children<'a>(
    all: &'a std::collections::BTreeMap<String, std::sync::Arc<StoredEnvironment>>,
    key: &str,
) -> Vec<&'a str> {
    all.values()
        .filter(|e| e.environment.tree.parent.as_deref() == Some(key))
        .map(|e| e.environment.tree.key.as_str())
        .collect()
}

/// `GET /api/v1/environments`: every environment, parents before children.
pub async fn list_environments(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Page<Environment>>> {
    principal.require(Role::Viewer)?;
    let live = state.live.current();
    let mut ordered: Vec<&StoredEnvironment> = Vec::new();
    let mut queue: Vec<&str> = live
        .environments
        .values()
        .filter(|e| {
            e.environment
                .tree
                .parent
                .as_ref()
                .is_none_or(|p| !live.environments.contains_key(p))
        })
        .map(|e| e.environment.tree.key.as_str())
        .collect();
    while let Some(key) = queue.first().copied() {
        queue.remove(0);
        if let Some(env) = live.environments.get(key) {
            ordered.push(env);
            queue.extend(children(&live.environments, key));
        }
    }
    let items = ordered
        .into_iter()
        .map(|e| environment_response(e, children(&live.environments, &e.environment.tree.key)))
        .collect();
    Ok(Json(Page::all(items)))
}

/// `GET /api/v1/environments/{env}`.
pub async fn get_environment(
    State(state): State<AppState>,
    principal: Principal,
    Path(env): Path<String>,
) -> ApiResult<Json<Environment>> {
    principal.require(Role::Viewer)?;
    let live = state.live.current();
    let stored = live
        .environments
        .get(&env)
        .ok_or_else(|| ApiError::not_found("environment", &env))?;
    Ok(Json(environment_response(
        stored,
        children(&live.environments, &env),
    )))
}

/// Reads environment settings from a body, refusing unknown fields.
fn parse_settings(
    mut body: Value,
    key: Option<&str>,
) -> Result<(EnvironmentSettings, Option<i64>), ApiError> {
    let version = strip_meta(&mut body)?;
    if let Value::Object(map) = &mut body {
        map.shift_remove("children");
        if let Some(key) = key {
            let given = map.entry("key").or_insert_with(|| key.into());
            if given.as_str() != Some(key) {
                return Err(ApiError::bad_request(
                    "key_mismatch",
                    format!(
                        "the body's key {given} differs from the URL's \"{key}\"; environments cannot be renamed"
                    ),
                ));
            }
        }
    }
    let settings = parse_environment_settings(&body)?;
    Ok((settings, version))
}

/// Checks environment settings: known fields, a valid key, times and days
/// of change windows.
pub fn parse_environment_settings(body: &Value) -> Result<EnvironmentSettings, ApiError> {
    const FIELDS: &[&str] = &[
        "key",
        "parent",
        "auto_sync",
        "description",
        "approval_required",
        "required_approvals",
        "protected",
        "change_windows",
        "dependency_policy",
    ];
    let mut problems = Vec::new();
    if let Value::Object(map) = body {
        for field in map.keys() {
            if !FIELDS.contains(&field.as_str()) {
                problems.push(ff_engine::Problem::error(
                    field.clone(),
                    format!(
                        "unknown field \"{field}\"; known fields: {}",
                        FIELDS.join(", ")
                    ),
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let settings: EnvironmentSettings = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::Validation(vec![ff_engine::Problem::error("", e.to_string())]))?;
    if !is_valid_key(&settings.tree.key) {
        problems.push(ff_engine::Problem::error(
            "key",
            format!(
                "\"{}\" is not a valid key: use lowercase letters, digits, _, - and ., starting with a letter",
                settings.tree.key
            ),
        ));
    }
    if settings.tree.parent.as_deref() == Some(settings.tree.key.as_str()) {
        problems.push(ff_engine::Problem::error(
            "parent",
            "an environment cannot be its own parent",
        ));
    }
    if settings.tree.auto_sync && settings.tree.parent.is_none() {
        problems.push(ff_engine::Problem::error(
            "auto_sync",
            "auto_sync needs a parent to follow",
        ));
    }
    if settings.required_approvals == 0 {
        problems.push(ff_engine::Problem::error(
            "required_approvals",
            "must be at least 1",
        ));
    }
    for (i, window) in settings.change_windows.iter().enumerate() {
        const DAYS: &[&str] = &[
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        if window.days.is_empty() {
            problems.push(ff_engine::Problem::error(
                format!("change_windows[{i}].days"),
                "list at least one day",
            ));
        }
        for (d, day) in window.days.iter().enumerate() {
            if !DAYS.contains(&day.as_str()) {
                problems.push(ff_engine::Problem::error(
                    format!("change_windows[{i}].days[{d}]"),
                    format!("unknown day \"{day}\"; expected one of {}", DAYS.join(", ")),
                ));
            }
        }
        if crate::governance::time_zone(&window.time_zone).is_none() {
            problems.push(ff_engine::Problem::error(
                format!("change_windows[{i}].time_zone"),
                format!(
                    "unknown time zone \"{}\"; use an IANA name such as Europe/Rome, or UTC",
                    window.time_zone
                ),
            ));
        }
        if window.start >= window.end {
            problems.push(ff_engine::Problem::error(
                format!("change_windows[{i}].end"),
                format!(
                    "the window must end after it starts ({} – {}); split a window across midnight into two",
                    window.start, window.end
                ),
            ));
        }
        for (field, text) in [("start", &window.start), ("end", &window.end)] {
            if parse_hh_mm(text).is_none() {
                problems.push(ff_engine::Problem::error(
                    format!("change_windows[{i}].{field}"),
                    format!("\"{text}\" is not a time of day HH:MM"),
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(ApiError::Validation(problems))
    }
}

/// The flag with `target`'s entry set to `source`'s effective entry (its
/// own or inherited through auto_sync; none when `source` uses the
/// flag-level configuration). `None` when that changes nothing.
fn copied_entry(
    flag: &ff_engine::Flag,
    source: &str,
    target: &str,
    tree: &[ff_engine::Environment],
) -> Result<Option<ff_engine::Flag>, ApiError> {
    let projected = ff_engine::project_flag(flag, source, tree);
    let entry = projected
        .environments
        .get(source)
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if entry.is_none() && !flag.environments.contains_key(target) {
        return Ok(None);
    }
    let next = crate::flag_ops::parse_flag(&crate::flag_ops::with_environment_entry(
        flag, target, entry,
    ))?;
    Ok((next != *flag).then_some(next))
}

/// `POST /api/v1/environments/{env}/promote`: copies flags' configuration
/// from the parent into `env`, under `env`'s rules (a change request where
/// it requires approval, refused outside its change windows).
pub async fn promote_environment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(env): Path<String>,
    JsonBody(body): JsonBody<PromoteRequest>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let live = state.live.current();
    let target = live
        .environments
        .get(&env)
        .ok_or_else(|| ApiError::not_found("environment", &env))?;
    let Some(parent) = target.environment.tree.parent.clone() else {
        return Err(ApiError::bad_request(
            "no_parent",
            format!("environment \"{env}\" has no parent to promote from"),
        ));
    };
    let selectors = [
        !body.flags.is_empty(),
        body.all,
        body.changed_since.is_some(),
    ]
    .into_iter()
    .filter(|&chosen| chosen)
    .count();
    if selectors != 1 {
        return Err(ApiError::bad_request(
            "invalid_body",
            "say which flags: exactly one of \"flags\": [ids], \"all\": true, \"changed_since\": time",
        ));
    }
    for flag_id in &body.flags {
        crate::live::live_flag(&live, flag_id)?;
    }
    let meta = WriteMeta::from_request(&principal, &headers).with_body(body.reason.clone(), None);
    let mut promoted = Vec::new();
    let mut unchanged = Vec::new();
    let outcome = apply(&state, meta, |live| {
        let tree = live.environment_tree();
        let mut changes = Vec::new();
        for stored in live.flags.values() {
            let flag = &stored.flag;
            let selected = body.all
                || body.flags.contains(&flag.flag_id)
                || body
                    .changed_since
                    .is_some_and(|since| stored.updated_at >= since);
            if !selected {
                continue;
            }
            match copied_entry(flag, &parent, &env, &tree)? {
                Some(next) => {
                    promoted.push(flag.flag_id.clone());
                    changes.push(change(
                        Change::PutFlag(next, Expect::Version(stored.version)),
                        "flag.promote",
                        Some(&env),
                    ));
                }
                None => unchanged.push(flag.flag_id.clone()),
            }
        }
        Ok(changes)
    })
    .await?;
    let revision = match outcome {
        Outcome::Committed(commit) => Some(commit.revision),
        // Every selected flag is already as in the parent.
        Outcome::Unchanged => None,
        Outcome::Held(request) => return Ok(held(&request)),
    };
    Ok(Json(PromoteResponse {
        environment: env,
        from: parent,
        promoted,
        unchanged,
        revision,
    })
    .into_response())
}

fn parse_hh_mm(text: &str) -> Option<(u8, u8)> {
    let (h, m) = text.split_once(':')?;
    let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
    (h < 24 && m < 60 && text.len() == 5).then_some((h, m))
}

/// `POST /api/v1/environments`: creates an environment (admin role).
pub async fn create_environment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(mut body): JsonBody<Value>,
) -> ApiResult<Response> {
    principal.require(Role::Admin)?;
    // `copy_from`: start with another environment's configuration of every
    // flag (its effective entries, inherited ones included).
    let copy_from = match body
        .as_object_mut()
        .and_then(|m| m.shift_remove("copy_from"))
    {
        None | Some(Value::Null) => None,
        Some(Value::String(source)) => Some(source),
        Some(_) => {
            return Err(ApiError::Validation(vec![ff_engine::Problem::error(
                "copy_from",
                "must be the key of an existing environment",
            )]));
        }
    };
    let (settings, _) = parse_settings(body, None)?;
    let key = settings.tree.key.clone();
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    let live = apply(&state, meta, |live| {
        if live.environments.contains_key(&settings.tree.key) {
            return Err(ApiError::Conflict {
                code: "already_exists",
                message: format!("environment \"{}\" already exists", settings.tree.key),
                details: Value::Null,
            });
        }
        let mut changes = vec![change(
            Change::PutEnvironment(settings, Expect::Absent),
            "environment.create",
            Some(&key),
        )];
        if let Some(source) = &copy_from {
            if !live.environments.contains_key(source) {
                return Err(ApiError::not_found("environment", source));
            }
            let tree = live.environment_tree();
            for stored in live.flags.values() {
                let Some(flag) = copied_entry(&stored.flag, source, &key, &tree)? else {
                    continue;
                };
                changes.push(change(
                    Change::PutFlag(flag, Expect::Version(stored.version)),
                    "flag.environment.copy",
                    Some(&key),
                ));
            }
        }
        Ok(changes)
    })
    .await?
    .into_commit()?
    .live;
    let stored = live
        .environments
        .get(&key)
        .ok_or_else(|| ApiError::Internal("created environment missing".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(environment_response(stored, Vec::new())),
    )
        .into_response())
}

/// `PUT /api/v1/environments/{env}`: replaces an environment's settings.
pub async fn replace_environment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(env): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Environment>> {
    principal.require_in(Role::Admin, [env.as_str()])?;
    let (settings, body_version) = parse_settings(body, Some(&env))?;
    let client_version = if_match(&headers)?.or(body_version);
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    let reason = meta.reason.clone();
    let live = apply(&state, meta, |live| {
        let current = live
            .environments
            .get(&env)
            .ok_or_else(|| ApiError::not_found("environment", &env))?;
        // Rollback protection covers the rules themselves: switching off
        // approvals, protection or windows, or moving a protected
        // environment in the tree, is a change that needs a reason.
        require_reason(current, reason.as_deref(), "its settings change")?;
        Ok(vec![change(
            Change::PutEnvironment(settings, expect_version(client_version, current.version)),
            "environment.update",
            Some(&env),
        )])
    })
    .await?
    .into_commit()?
    .live;
    let stored = live
        .environments
        .get(&env)
        .ok_or_else(|| ApiError::Internal("updated environment missing".into()))?;
    Ok(Json(environment_response(
        stored,
        children(&live.environments, &env),
    )))
}

/// A protected environment's own settings change only with a reason.
fn require_reason(
    current: &StoredEnvironment,
    reason: Option<&str>,
    what: &str,
) -> Result<(), ApiError> {
    if !current.environment.protected || reason.is_some() {
        return Ok(());
    }
    let env = &current.environment.tree.key;
    Err(ApiError::Refused {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "reason_required",
        message: format!(
            "environment \"{env}\" is protected: say why {what} with an X-Change-Reason header"
        ),
        details: json!({ "environment": env }),
    })
}

/// `DELETE /api/v1/environments/{env}`: only an environment that no flag,
/// environment or key refers to.
pub async fn delete_environment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(env): Path<String>,
) -> ApiResult<Json<EnvironmentDeleted>> {
    principal.require_in(Role::Admin, [env.as_str()])?;
    let client_version = if_match(&headers)?;
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    let reason = meta.reason.clone();
    let committed = apply(&state, meta, |live| {
        let current = live
            .environments
            .get(&env)
            .ok_or_else(|| ApiError::not_found("environment", &env))?;
        let child_envs = children(&live.environments, &env);
        let keys: Vec<&str> = live
            .keys_by_hash
            .values()
            .filter(|k| k.revoked_at.is_none() && k.environment.as_deref() == Some(env.as_str()))
            .map(|k| k.id.as_str())
            .collect();
        if !child_envs.is_empty() || !keys.is_empty() {
            return Err(ApiError::Conflict {
                code: "in_use",
                message: format!(
                    "environment \"{env}\" is still used: child environments [{}], API keys [{}]; \
                     move or delete them first",
                    child_envs.join(", "),
                    keys.join(", ")
                ),
                details: json!({ "children": child_envs, "api_keys": keys }),
            });
        }
        require_reason(current, reason.as_deref(), "it is deleted")?;
        // Flags' entries for the environment go with it, as new versions.
        let mut changes = Vec::new();
        for stored in live
            .flags
            .values()
            .filter(|f| f.flag.environments.contains_key(&env))
        {
            let mut flag = stored.flag.clone();
            flag.environments.shift_remove(&env);
            changes.push(change(
                Change::PutFlag(flag, Expect::Version(stored.version)),
                "flag.environment.delete",
                Some(&env),
            ));
        }
        changes.push(change(
            Change::DeleteEnvironment(env.clone(), expect_version(client_version, current.version)),
            "environment.delete",
            Some(&env),
        ));
        Ok(changes)
    })
    .await?
    .into_commit()?;
    Ok(Json(EnvironmentDeleted {
        key: env,
        deleted: true,
        revision: committed.revision,
    }))
}

/// `GET /api/v1/environments/diff?from=A&to=B`: the flags whose effective
/// configuration (inheritance resolved) differs between two environments,
/// and how, path by path.
pub async fn diff_environments(
    State(state): State<AppState>,
    principal: Principal,
    crate::extract::QueryParams(query): crate::extract::QueryParams<EnvironmentDiffQuery>,
) -> ApiResult<Json<EnvironmentDiff>> {
    principal.require(Role::Viewer)?;
    let (Some(from), Some(to)) = (query.from, query.to) else {
        return Err(ApiError::bad_request(
            "invalid_query",
            "give both environments: ?from=staging&to=production",
        ));
    };
    let live = state.live.current();
    for env in [&from, &to] {
        if !live.environments.contains_key(env) {
            return Err(ApiError::not_found("environment", env));
        }
    }
    let tree = live.environment_tree();
    let mut differences = Vec::new();
    let mut equal = 0u64;
    for stored in live.flags.values() {
        let a = effective(&stored.flag, &from, &tree);
        let b = effective(&stored.flag, &to, &tree);
        if a == b {
            equal = equal.saturating_add(1);
            continue;
        }
        differences.push(EnvironmentDifference {
            flag_id: stored.flag.flag_id.clone(),
            changes: crate::wire::differences(&a, &b),
            from: a,
            to: b,
        });
    }
    Ok(Json(EnvironmentDiff {
        from,
        to,
        differences,
        equal,
    }))
}

/// What a flag does in an environment: on or off, the value, the rules in
/// effect (inherited ones resolved), and where its entry comes from.
fn effective(flag: &ff_engine::Flag, env: &str, tree: &[ff_engine::Environment]) -> Value {
    let projected = ff_engine::project_flag(flag, env, tree);
    let config = projected
        .environments
        .get(env)
        .map(ff_engine::EnvironmentEntry::to_config)
        .unwrap_or_default();
    json!({
        "enabled": config.enabled.unwrap_or(true),
        "value": config.value.as_ref().unwrap_or(&flag.default_value),
        "targeting_rules": config.targeting_rules.as_ref().unwrap_or(&flag.targeting_rules),
    })
}
