//! The kill switch: `POST /api/v1/emergency/disable` (the seed's call) and
//! `/enable`. Turning off is never held by approvals or change windows;
//! turning back on is an ordinary, governed change. Both are audited.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use ff_api_types::{EmergencyRequest, EmergencyResponse};
use ff_engine::edit::set_enabled;
use ff_store::{Change, Expect, Role};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::governance::{WriteMeta, WriteMode};
use crate::live::live_flag;
use crate::routes::change_requests::held;
use crate::state::AppState;
use crate::work::{operations, rollout_plan};
use crate::write::{Outcome, apply, change};

/// Turns a flag off in one environment (or all, without `environment`).
pub async fn emergency_disable(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<EmergencyRequest>,
) -> ApiResult<Response> {
    switch(state, principal, headers, request, false).await
}

/// Turns a flag back on where the kill switch turned it off: a governed
/// write (held for approval where the environment requires it, `202`).
pub async fn emergency_enable(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<EmergencyRequest>,
) -> ApiResult<Response> {
    switch(state, principal, headers, request, true).await
}

async fn switch(
    state: AppState,
    principal: Principal,
    headers: HeaderMap,
    request: EmergencyRequest,
    enabled: bool,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let live = state.live.current();
    let current = live_flag(&live, &request.flag_id)?;
    let environments: Vec<String> = match &request.environment {
        Some(env) if live.environments.contains_key(env) => vec![env.clone()],
        Some(env) => return Err(ApiError::not_found("environment", env)),
        None => live.environments.keys().cloned().collect(),
    };
    let tree = live.environment_tree();
    let mut flag = current.flag.clone();
    for env in &environments {
        flag = set_enabled(&flag, env, enabled, &tree);
    }
    let action = if enabled {
        "emergency.enable"
    } else {
        "emergency.disable"
    };
    let environment = request.environment.clone();
    let mut meta = WriteMeta::from_request(&principal, &headers).with_body(request.reason, None);
    meta = if enabled {
        // Turning a flag back on exposes its feature again: an ordinary
        // change, held for approval and kept to change windows where the
        // environment says so.
        meta
    } else {
        // Never held by approvals or change windows; in a protected
        // environment the audit still says why.
        meta.in_mode(WriteMode::Emergency)
            .with_default_reason(|| format!("{action} (kill switch)"))
    };
    // A plan read here may advance (the scheduler, another node) before the
    // commit, which then fails its version check: the kill switch must not
    // fail for that, so it reads the plans again and retries.
    let mut attempts = 0u32;
    let (plans, committed) = loop {
        attempts = attempts.saturating_add(1);
        // Turning a flag off pauses its gradual rollouts there: a plan must
        // not raise the percentage of something that was just killed.
        let plans = if enabled {
            Vec::new()
        } else {
            operations::active_plans(&state, &request.flag_id, &environments).await?
        };
        if flag == current.flag && plans.is_empty() {
            // Already in the requested state: nothing to write.
            break (plans, None);
        }
        let result = apply(&state, meta.clone(), |live| {
            // The kill switch wins over concurrent edits: apply it to the
            // latest version rather than refusing with a conflict.
            let latest = live_flag(live, &flag.flag_id)?;
            let tree = live.environment_tree();
            let mut latest_flag = latest.flag.clone();
            for env in &environments {
                latest_flag = set_enabled(&latest_flag, env, enabled, &tree);
            }
            let mut changes = Vec::new();
            if latest_flag != latest.flag {
                changes.push(change(
                    Change::PutFlag(latest_flag, Expect::Version(latest.version)),
                    action,
                    environment.as_deref(),
                ));
            }
            for plan in &plans {
                changes.push(change(
                    Change::PutWorkItem(
                        rollout_plan::paused(plan, "paused by the kill switch")?,
                        Expect::Version(plan.version),
                    ),
                    "rollout_plan.pause",
                    plan.item.environment.as_deref(),
                ));
            }
            Ok(changes)
        })
        .await;
        match result {
            Err(ApiError::Conflict {
                code: "version_conflict",
                details,
                ..
            }) if details["kind"] == "rollout_plan" && attempts < 5 => continue,
            Err(error) => return Err(error),
            Ok(Outcome::Committed(commit)) => break (plans, Some(commit)),
            // Turning a flag back on needs approval there.
            Ok(Outcome::Held(request)) => return Ok(held(&request)),
            // Already so on the latest version.
            Ok(Outcome::Unchanged) => break (plans, None),
        }
    };
    let (version, revision) = match committed {
        Some(committed) => (
            committed.versions.first().copied().unwrap_or_default(),
            committed.revision,
        ),
        None => (current.version, live.revision),
    };
    Ok(Json(EmergencyResponse {
        flag_id: request.flag_id,
        environments,
        enabled,
        version,
        revision,
        paused_rollout_plans: plans.iter().map(|p| p.item.id.clone()).collect(),
    })
    .into_response())
}
