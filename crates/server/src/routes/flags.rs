//! `/api/v1/flags`: the flag documents, their per-environment entries, their
//! history, rollback and bulk changes.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ff_api_types::{
    EffectiveEntry, FlagAction, FlagDeleted, FlagDiff, FlagDiffQuery, FlagEnvironment, FlagVersion,
    ListFlagsQuery, Page, RollbackRequest, VersionRef, VersionsQuery, Warning,
};
use ff_engine::{EnvironmentEntry, Flag, Lifecycle};
use ff_store::{Change, Expect, Role};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Path, QueryParams, if_match};
use crate::flag_ops::{flag_response, merge_patch, parse_flag, strip_meta, with_environment_entry};
use crate::governance::{WriteMeta, WriteMode};
use crate::live::{LiveConfig, live_flag};
use crate::routes::change_requests::held;
use crate::state::AppState;
use crate::wire::{differences, flag_version, problem, rule_selector};
use crate::work::action::{Action, apply_action};
use crate::write::{Outcome, apply, change, expect_version};

/// `GET /api/v1/flags`: filtered, paginated by flag id.
pub async fn list_flags(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListFlagsQuery>,
) -> ApiResult<Json<Page<ff_api_types::Flag>>> {
    principal.require(Role::Viewer)?;
    let lifecycle = match query.lifecycle.as_deref() {
        None => None,
        Some(name) => Some(
            Lifecycle::ALL
                .into_iter()
                .find(|l| l.as_str() == name)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_query",
                        format!("unknown lifecycle \"{name}\"; expected one of creation, development, testing, rollout, stabilization, cleanup"),
                    )
                })?,
        ),
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000) as usize;
    let needle = query.q.as_deref().map(str::to_lowercase);
    let matches = |flag: &Flag| {
        query.tag.as_ref().is_none_or(|t| flag.tags.contains(t))
            && query
                .owner
                .as_ref()
                .is_none_or(|o| flag.owner.as_ref() == Some(o))
            && lifecycle.is_none_or(|l| flag.lifecycle == Some(l))
            && needle.as_ref().is_none_or(|n| {
                flag.flag_id.to_lowercase().contains(n)
                    || flag
                        .description
                        .as_ref()
                        .is_some_and(|d| d.to_lowercase().contains(n))
                    || flag
                        .owner
                        .as_ref()
                        .is_some_and(|o| o.to_lowercase().contains(n))
                    || flag.tags.iter().any(|t| t.to_lowercase().contains(n))
            })
    };
    let stored = if query.deleted {
        state.store.deleted_flags().await?
    } else {
        state
            .live
            .current()
            .flags
            .values()
            .map(|f| (**f).clone())
            .collect()
    };
    let matching: Vec<_> = stored.iter().filter(|f| matches(&f.flag)).collect();
    let total = matching.len() as u64;
    let page: Vec<_> = matching
        .into_iter()
        .filter(|f| query.cursor.as_ref().is_none_or(|c| f.flag.flag_id > *c))
        .take(limit.saturating_add(1))
        .collect();
    let next_cursor = (page.len() > limit)
        .then(|| {
            page.get(limit.saturating_sub(1))
                .map(|f| f.flag.flag_id.clone())
        })
        .flatten();
    Ok(Json(Page {
        items: page.into_iter().take(limit).map(flag_response).collect(),
        total: Some(total),
        next_cursor,
    }))
}

/// `POST /api/v1/flags`: creates a flag from its document (the seed's
/// documents as they are).
pub async fn create_flag(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(mut doc): JsonBody<Value>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    strip_meta(&mut doc)?;
    let flag = parse_flag(&doc)?;
    let warnings = ff_engine::lint_flag(&flag);
    let flag_id = flag.flag_id.clone();
    let meta = WriteMeta::from_request(&principal, &headers);
    // Creating a flag is never held: nothing uses it yet.
    let live = apply(&state, meta, |live| {
        if live.flags.contains_key(&flag.flag_id) {
            return Err(ApiError::Conflict {
                code: "already_exists",
                message: format!(
                    "flag \"{}\" already exists; use PUT to replace it",
                    flag.flag_id
                ),
                details: json!({ "flag_id": flag.flag_id }),
            });
        }
        Ok(vec![change(
            Change::PutFlag(flag, Expect::Absent),
            "flag.create",
            None,
        )])
    })
    .await?
    .into_commit()?
    .live;
    let stored = live_flag(&live, &flag_id)?;
    let mut body = flag_response(stored);
    body.warnings = warnings
        .into_iter()
        .map(problem)
        .map(Warning::Problem)
        .collect();
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    set_header(
        &mut response,
        header::LOCATION,
        &format!("/api/v1/flags/{flag_id}"),
    );
    set_header(
        &mut response,
        header::ETAG,
        &format!("\"{}\"", stored.version),
    );
    Ok(response)
}

/// `GET /api/v1/flags/{flag_id}`.
pub async fn get_flag(
    State(state): State<AppState>,
    principal: Principal,
    Path(flag_id): Path<String>,
) -> ApiResult<Response> {
    principal.require(Role::Viewer)?;
    let live = state.live.current();
    let stored = match live.flags.get(&flag_id) {
        Some(stored) => (**stored).clone(),
        // A deleted flag is still readable (and restorable).
        None => state
            .store
            .flag(&flag_id)
            .await?
            .ok_or_else(|| ApiError::not_found("flag", &flag_id))?,
    };
    Ok(with_etag(Json(flag_response(&stored)), stored.version))
}

/// `PUT /api/v1/flags/{flag_id}`: replaces the document.
pub async fn replace_flag(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(flag_id): Path<String>,
    JsonBody(mut doc): JsonBody<Value>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let body_version = strip_meta(&mut doc)?;
    let client_version = if_match(&headers)?.or(body_version);
    if let Value::Object(map) = &mut doc {
        let id = map
            .entry("flag_id")
            .or_insert_with(|| flag_id.clone().into());
        if id.as_str() != Some(flag_id.as_str()) {
            return Err(ApiError::bad_request(
                "flag_id_mismatch",
                format!(
                    "the document's flag_id {id} differs from the URL's \"{flag_id}\"; flags cannot be renamed"
                ),
            ));
        }
    }
    let flag = parse_flag(&doc)?;
    let meta = WriteMeta::from_request(&principal, &headers);
    edit_flag(
        &state,
        meta,
        &flag_id,
        client_version,
        "flag.update",
        None,
        |_| Ok(flag),
    )
    .await
}

/// `PATCH /api/v1/flags/{flag_id}`: a JSON merge patch (RFC 7396) of the
/// document.
pub async fn patch_flag(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(flag_id): Path<String>,
    JsonBody(mut patch): JsonBody<Value>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "a merge patch must be a JSON object",
        ));
    }
    let body_version = strip_meta(&mut patch)?;
    if patch
        .get("flag_id")
        .is_some_and(|id| id.as_str() != Some(flag_id.as_str()))
    {
        return Err(ApiError::bad_request(
            "flag_id_mismatch",
            "flags cannot be renamed",
        ));
    }
    let client_version = if_match(&headers)?.or(body_version);
    let meta = WriteMeta::from_request(&principal, &headers);
    edit_flag(
        &state,
        meta,
        &flag_id,
        client_version,
        "flag.update",
        None,
        |current| {
            let mut doc = serde_json::to_value(current).unwrap_or_default();
            merge_patch(&mut doc, &patch);
            parse_flag(&doc)
        },
    )
    .await
}

/// Writes a new version of an existing flag and answers with it. `edit`
/// turns the latest document into the new one; it runs under the write lock,
/// so edits that are not full replacements (patches, one environment's
/// entry) apply to the latest version instead of failing on a concurrent
/// change. A version the client names (`If-Match`) is still checked.
pub(crate) async fn edit_flag(
    state: &AppState,
    meta: WriteMeta,
    flag_id: &str,
    client_version: Option<i64>,
    action: &str,
    environment: Option<&str>,
    edit: impl FnOnce(&Flag) -> Result<Flag, ApiError>,
) -> ApiResult<Response> {
    let outcome = apply(state, meta, |live| {
        let current = live_flag(live, flag_id)?;
        let flag = edit(&current.flag)?;
        let expect = expect_version(client_version, current.version);
        // A lifecycle transition alone gets its own action, so that the
        // history of stages is one audit query.
        let action = if lifecycle_only(&current.flag, &flag) {
            "flag.lifecycle"
        } else {
            action
        };
        Ok(vec![change(
            Change::PutFlag(flag, expect),
            action,
            environment,
        )])
    })
    .await?;
    let live = match outcome {
        Outcome::Held(request) => return Ok(held(&request)),
        other => other.into_commit()?.live,
    };
    written_flag(&live, flag_id)
}

/// A flag as a write left it: its document, `ETag`, and the prerequisites
/// it now breaks as warnings.
fn written_flag(live: &LiveConfig, flag_id: &str) -> ApiResult<Response> {
    let stored = live_flag(live, flag_id)?;
    let mut body = flag_response(stored);
    body.warnings = dependency_warnings(live, &stored.flag)
        .into_iter()
        .map(Warning::Text)
        .collect();
    Ok(with_etag(Json(body), stored.version))
}

/// The stored action a [`FlagAction`] is, and its audit action.
fn into_action(action: FlagAction) -> (Action, &'static str) {
    {
        match action {
            FlagAction::Enable => (Action::Enable, "flag.enable"),
            FlagAction::Disable => (Action::Disable, "flag.disable"),
            FlagAction::SetValue { value } => {
                (Action::SetValue { value }, "flag.environment.update")
            }
            FlagAction::SetPercentage { percentage, rule } => (
                Action::Percentage {
                    percentage,
                    rule: rule.map(rule_selector),
                },
                "flag.environment.update",
            ),
        }
    }
}

/// `POST /api/v1/flags/{flag_id}/environments/{env}/actions`: one edit of
/// the flag in an environment, made here on the latest document (so that a
/// client need not re-implement it) and governed like any write: `If-Match`
/// names the version the client saw (409 when stale), and approvals, reasons
/// and change windows apply (202 with a change request where approval is
/// needed). Nothing to change: 200 with the flag as it is, no new version.
pub async fn apply_flag_action(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path((flag_id, env)): Path<(String, String)>,
    JsonBody(body): JsonBody<FlagAction>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    if !state.live.current().environments.contains_key(&env) {
        return Err(ApiError::not_found("environment", &env));
    }
    let client_version = if_match(&headers)?;
    let (action, audit_action) = into_action(body);
    let meta = WriteMeta::from_request(&principal, &headers);
    let outcome = apply(&state, meta, |live| {
        let current = live_flag(live, &flag_id)?;
        let tree = live.environment_tree();
        let next = apply_action(&current.flag, Some(&env), &action, &tree)?;
        if next == current.flag {
            return Ok(Vec::new());
        }
        let expect = expect_version(client_version, current.version);
        Ok(vec![change(
            Change::PutFlag(next, expect),
            audit_action,
            Some(&env),
        )])
    })
    .await?;
    let live = match outcome {
        Outcome::Committed(commit) => commit.live,
        Outcome::Held(request) => return Ok(held(&request)),
        Outcome::Unchanged => state.live.current(),
    };
    written_flag(&live, &flag_id)
}

/// Whether two versions differ in their lifecycle stage only.
fn lifecycle_only(before: &Flag, after: &Flag) -> bool {
    before.lifecycle != after.lifecycle
        && Flag {
            lifecycle: after.lifecycle,
            ..before.clone()
        } == *after
}

/// Prerequisites the flag now breaks in some environment (enabled while a
/// prerequisite is off, or off while enabled flags require it). Environments
/// with `dependency_policy: refuse` never get here with one.
fn dependency_warnings(live: &LiveConfig, flag: &Flag) -> Vec<String> {
    let tree = live.environment_tree();
    live.environments
        .keys()
        .flat_map(|env| {
            let flags = crate::governance::FlagView::live(live);
            crate::governance::dependency_problems(flag, env, &tree, &flags)
        })
        .collect()
}

/// `DELETE /api/v1/flags/{flag_id}`: a soft delete; `POST …/restore` undoes it.
pub async fn delete_flag(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(flag_id): Path<String>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let client_version = if_match(&headers)?;
    let meta = WriteMeta::from_request(&principal, &headers);
    let outcome = apply(&state, meta, |live| {
        let current = live_flag(live, &flag_id)?;
        let dependents: Vec<&str> = live
            .flags
            .values()
            .filter(|f| f.flag.depends_on.iter().any(|d| d.flag == flag_id))
            .map(|f| f.flag.flag_id.as_str())
            .collect();
        if !dependents.is_empty() {
            return Err(ApiError::Conflict {
                code: "has_dependents",
                message: format!(
                    "flag \"{flag_id}\" is a prerequisite of {}; remove those dependencies first",
                    dependents.join(", ")
                ),
                details: json!({ "dependents": dependents }),
            });
        }
        let expect = expect_version(client_version, current.version);
        Ok(vec![change(
            Change::DeleteFlag(flag_id.clone(), expect),
            "flag.delete",
            None,
        )])
    })
    .await?;
    let commit = match outcome {
        Outcome::Held(request) => return Ok(held(&request)),
        other => other.into_commit()?,
    };
    Ok(Json(FlagDeleted {
        flag_id,
        deleted: true,
        version: commit.versions.first().copied(),
        revision: commit.revision,
    })
    .into_response())
}

/// `POST /api/v1/flags/{flag_id}/restore`: brings back a deleted flag.
pub async fn restore_flag(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(flag_id): Path<String>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let stored = state
        .store
        .flag(&flag_id)
        .await?
        .ok_or_else(|| ApiError::not_found("flag", &flag_id))?;
    if !stored.deleted {
        return Err(ApiError::Conflict {
            code: "not_deleted",
            message: format!("flag \"{flag_id}\" is not deleted"),
            details: json!({ "version": stored.version }),
        });
    }
    let meta = WriteMeta::from_request(&principal, &headers);
    let outcome = apply(&state, meta, |_| {
        Ok(vec![change(
            Change::PutFlag(stored.flag.clone(), Expect::Version(stored.version)),
            "flag.restore",
            None,
        )])
    })
    .await?;
    let live = match outcome {
        Outcome::Held(request) => return Ok(held(&request)),
        other => other.into_commit()?.live,
    };
    let restored = live_flag(&live, &flag_id)?;
    Ok(with_etag(Json(flag_response(restored)), restored.version))
}

/// `GET /api/v1/flags/{flag_id}/environments/{env}`: the environment's own
/// entry, where an inherited one comes from, and what is in effect.
pub async fn get_flag_environment(
    State(state): State<AppState>,
    principal: Principal,
    Path((flag_id, env)): Path<(String, String)>,
) -> ApiResult<Json<FlagEnvironment>> {
    principal.require(Role::Viewer)?;
    let live = state.live.current();
    let stored = live_flag(&live, &flag_id)?;
    if !live.environments.contains_key(&env) {
        return Err(ApiError::not_found("environment", &env));
    }
    let flag = &stored.flag;
    // Walk up through auto_sync parents to the entry in effect.
    let mut source = Some(env.clone());
    let mut effective_from = None;
    while let Some(key) = source {
        if flag.environments.contains_key(&key) {
            effective_from = Some(key);
            break;
        }
        source = live
            .environments
            .get(&key)
            .filter(|e| e.environment.tree.auto_sync)
            .and_then(|e| e.environment.tree.parent.clone());
    }
    let config = effective_from
        .as_ref()
        .and_then(|k| flag.environments.get(k))
        .map(EnvironmentEntry::to_config)
        .unwrap_or_default();
    let rules = config
        .targeting_rules
        .as_ref()
        .unwrap_or(&flag.targeting_rules);
    Ok(Json(FlagEnvironment {
        entry: flag
            .environments
            .get(&env)
            .map(|entry| serde_json::to_value(entry).unwrap_or_default()),
        inherited_from: effective_from.filter(|k| *k != env),
        flag_id,
        environment: env,
        version: stored.version,
        effective: EffectiveEntry {
            enabled: config.enabled.unwrap_or(true),
            value: config.value.as_ref().unwrap_or(&flag.default_value).clone(),
            targeting_rules: rules
                .iter()
                .map(|rule| serde_json::to_value(rule).unwrap_or_default())
                .collect(),
        },
    }))
}

/// `PUT /api/v1/flags/{flag_id}/environments/{env}`: sets the environment's
/// entry (a bare value or `{enabled, value, targeting_rules}`).
pub async fn put_flag_environment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path((flag_id, env)): Path<(String, String)>,
    JsonBody(entry): JsonBody<Value>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    set_flag_environment(&state, &principal, &headers, &flag_id, &env, Some(entry)).await
}

/// `DELETE /api/v1/flags/{flag_id}/environments/{env}`: removes the
/// environment's entry, so that it inherits again.
pub async fn delete_flag_environment(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path((flag_id, env)): Path<(String, String)>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    set_flag_environment(&state, &principal, &headers, &flag_id, &env, None).await
}

async fn set_flag_environment(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    flag_id: &str,
    env: &str,
    entry: Option<Value>,
) -> ApiResult<Response> {
    if !state.live.current().environments.contains_key(env) {
        return Err(ApiError::not_found("environment", env));
    }
    let client_version = if_match(headers)?;
    let meta = WriteMeta::from_request(principal, headers);
    let action = "flag.environment.update";
    edit_flag(
        state,
        meta,
        flag_id,
        client_version,
        action,
        Some(env),
        |current| parse_flag(&with_environment_entry(current, env, entry)),
    )
    .await
}

/// `GET /api/v1/flags/{flag_id}/versions`: newest first.
pub async fn list_flag_versions(
    State(state): State<AppState>,
    principal: Principal,
    Path(flag_id): Path<String>,
    QueryParams(query): QueryParams<VersionsQuery>,
) -> ApiResult<Json<Page<FlagVersion>>> {
    principal.require(Role::Viewer)?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let versions = state
        .store
        .flag_versions(&flag_id, query.before, limit)
        .await?;
    if versions.is_empty() && query.before.is_none() {
        return Err(ApiError::not_found("flag", &flag_id));
    }
    let next_cursor = (versions.len() == limit as usize)
        .then(|| versions.last().map(|v| v.version.to_string()))
        .flatten();
    Ok(Json(Page {
        items: versions.into_iter().map(flag_version).collect(),
        total: None,
        next_cursor,
    }))
}

/// `GET /api/v1/flags/{flag_id}/versions/{version}`.
pub async fn get_flag_version(
    State(state): State<AppState>,
    principal: Principal,
    Path((flag_id, version)): Path<(String, i64)>,
) -> ApiResult<Json<FlagVersion>> {
    principal.require(Role::Viewer)?;
    state
        .store
        .flag_version(&flag_id, version)
        .await?
        .map(|v| Json(flag_version(v)))
        .ok_or_else(|| ApiError::NotFound(format!("flag \"{flag_id}\" has no version {version}")))
}

/// `GET /api/v1/flags/{flag_id}/diff?from=N&to=M`: what changed between two
/// versions, path by path.
pub async fn diff_flag_versions(
    State(state): State<AppState>,
    principal: Principal,
    Path(flag_id): Path<String>,
    QueryParams(query): QueryParams<FlagDiffQuery>,
) -> ApiResult<Json<FlagDiff>> {
    principal.require(Role::Viewer)?;
    let version =
        |n: i64| {
            let state = state.clone();
            let flag_id = flag_id.clone();
            async move {
                state.store.flag_version(&flag_id, n).await?.ok_or_else(|| {
                    ApiError::NotFound(format!("flag \"{flag_id}\" has no version {n}"))
                })
            }
        };
    let from = version(query.from).await?;
    let to = match query.to {
        Some(n) => version(n).await?,
        None => state
            .store
            .flag_versions(&flag_id, None, 1)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::not_found("flag", &flag_id))?,
    };
    Ok(Json(FlagDiff {
        flag_id,
        from: from.version,
        to: to.version,
        differences: differences(&from.document, &to.document),
    }))
}

/// `POST /api/v1/flags/{flag_id}/rollback`: writes a new version equal to an
/// old one (or with one environment's entry as it was). History is never
/// rewritten.
pub async fn rollback_flag(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(flag_id): Path<String>,
    JsonBody(request): JsonBody<RollbackRequest>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let version = resolve_version(&state, &flag_id, &request.to_version).await?;
    let old = state
        .store
        .flag_version(&flag_id, version)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("flag \"{flag_id}\" has no version {version}"))
        })?;
    let restore = |current: &Flag| {
        let doc = match &request.environment {
            None => old.document.clone(),
            Some(env) => {
                let entry = old
                    .document
                    .get("environments")
                    .and_then(|e| e.get(env))
                    .cloned();
                with_environment_entry(current, env, entry)
            }
        };
        parse_flag(&doc)
    };
    let live = state.live.current();
    let current = live_flag(&live, &flag_id)?;
    if restore(&current.flag)? == current.flag {
        // Already as it was: nothing to write.
        return Ok(with_etag(Json(flag_response(current)), current.version));
    }
    let environment = request.environment.clone();
    // A rollback is an emergency procedure (the seed's) where it turns the
    // flag off, never held by approvals or windows; where it turns a flag
    // back on it is an ordinary governed change. Always audited with a
    // reason.
    let meta = WriteMeta::from_request(&principal, &headers)
        .with_body(request.reason.clone(), None)
        .in_mode(WriteMode::Rollback)
        .with_default_reason(|| format!("rollback of \"{flag_id}\" to version {version}"));
    edit_flag(
        &state,
        meta,
        &flag_id,
        None,
        "flag.rollback",
        environment.as_deref(),
        restore,
    )
    .await
}

/// A version number from a number or a deployment label: the flag's last
/// version written by that deployment.
async fn resolve_version(
    state: &AppState,
    flag_id: &str,
    version: &VersionRef,
) -> Result<i64, ApiError> {
    let label = match version {
        VersionRef::Number(n) => return Ok(*n),
        VersionRef::Label(text) => match text.trim().parse::<i64>() {
            Ok(n) => return Ok(n),
            Err(_) => text,
        },
    };
    state
        .store
        .deployment_versions(label)
        .await?
        .into_iter()
        .filter(|v| v.flag_id == flag_id)
        .map(|v| v.version)
        .max()
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "flag \"{flag_id}\" has no version written by deployment \"{label}\"; give a version number or a deployment id"
            ))
        })
}

/// A JSON response with `ETag: "<version>"`.
pub(crate) fn with_etag<T: serde::Serialize>(body: Json<T>, version: i64) -> Response {
    let mut response = body.into_response();
    set_header(&mut response, header::ETAG, &format!("\"{version}\""));
    response
}

fn set_header(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}
