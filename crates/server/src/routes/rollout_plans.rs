//! `/api/v1/rollout-plans`: a rule's percentage raised step by step. What a
//! plan is, its steps and its states are `crate::work::rollout_plan`; these
//! handlers translate HTTP.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use ff_api_types::{self as wire, CreateRolloutPlanRequest, Page, PauseRequest, WorkItemsQuery};
use ff_store::{Role, WorkKind};

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::{JsonBody, OptionalJsonBody, Path, QueryParams};
use crate::governance::WriteMeta;
use crate::routes::schedules::{created_response, item_response, list};
use crate::state::AppState;
use crate::wire::{plan_step, rule_selector};
use crate::work::operations;
use crate::work::rollout_plan::StepsAsked;

/// `POST /api/v1/rollout-plans`.
pub async fn create_rollout_plan(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateRolloutPlanRequest>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let meta = WriteMeta::from_request(&principal, &headers).with_body(request.reason, None);
    let asked = StepsAsked {
        steps: request
            .steps
            .map(|steps| steps.into_iter().map(plan_step).collect()),
        percentages: request.percentages,
        start_at: request.start_at,
        every_hours: request.every_hours,
    };
    let created = operations::create_plan(
        &state,
        meta,
        request.flag_id,
        request.environment,
        request.rule.map(rule_selector),
        &asked,
    )
    .await?;
    Ok(created_response(&created))
}

/// `GET /api/v1/rollout-plans`.
pub async fn list_rollout_plans(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<WorkItemsQuery>,
) -> ApiResult<Json<Page<wire::WorkItem>>> {
    principal.require(Role::Viewer)?;
    list(&state, WorkKind::RolloutPlan, query).await
}

/// `GET /api/v1/rollout-plans/{id}`.
pub async fn get_rollout_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::WorkItem>> {
    principal.require(Role::Viewer)?;
    let stored = operations::load(&state, WorkKind::RolloutPlan, &id).await?;
    Ok(Json(item_response(&stored)))
}

/// `POST /api/v1/rollout-plans/{id}/pause`.
pub async fn pause_rollout_plan(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<PauseRequest>,
) -> ApiResult<Json<wire::WorkItem>> {
    principal.require(Role::Editor)?;
    let reason = body.reason.unwrap_or_else(|| "paused".to_owned());
    let meta = WriteMeta::from_request(&principal, &headers);
    let paused = operations::pause_plan(&state, meta, &id, &reason).await?;
    Ok(Json(item_response(&paused)))
}

/// `POST /api/v1/rollout-plans/{id}/resume`: steps whose time has passed
/// apply at the scheduler's next run, one per run.
pub async fn resume_rollout_plan(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(_body): OptionalJsonBody<PauseRequest>,
) -> ApiResult<Json<wire::WorkItem>> {
    principal.require(Role::Editor)?;
    let meta = WriteMeta::from_request(&principal, &headers);
    let resumed = operations::resume_plan(&state, meta, &id).await?;
    Ok(Json(item_response(&resumed)))
}
