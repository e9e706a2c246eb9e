//! `/api/v1/schedules`: changes of a flag to apply at a time. What a
//! schedule is, and how it is applied, is `crate::work::schedule` and
//! `crate::work::scheduler`; these handlers translate HTTP.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_api_types::{self as wire, CreateScheduleRequest, Page, RunOutcomes, WorkItemsQuery};
use ff_store::{Role, StoredWorkItem, WorkKind, WorkQuery};

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::{JsonBody, Path, QueryParams};
use crate::governance::WriteMeta;
use crate::state::AppState;
use crate::wire::{scheduled_action, step_outcome, with_stored_metadata, work_item};
use crate::work::{operations, scheduler};

/// `POST /api/v1/schedules`: checks the change against the flag as it is
/// now (so that an impossible change is refused at once) and stores it.
pub async fn create_schedule(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateScheduleRequest>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let meta = WriteMeta::from_request(&principal, &headers)
        .with_body(request.reason, request.deployment_id);
    let created = operations::create_schedule(
        &state,
        meta,
        request.flag_id,
        request.environment,
        request.at,
        scheduled_action(request.action),
    )
    .await?;
    Ok(created_response(&created))
}

/// `201 Created` with a new work item.
pub fn created_response(created: &StoredWorkItem) -> Response {
    (StatusCode::CREATED, Json(item_response(created))).into_response()
}

/// `GET /api/v1/schedules`: newest first.
pub async fn list_schedules(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<WorkItemsQuery>,
) -> ApiResult<Json<Page<wire::WorkItem>>> {
    principal.require(Role::Viewer)?;
    list(&state, WorkKind::Schedule, query).await
}

/// A list of work items of one kind.
pub async fn list(
    state: &AppState,
    kind: WorkKind,
    query: WorkItemsQuery,
) -> ApiResult<Json<Page<wire::WorkItem>>> {
    let items = operations::list(
        state,
        &WorkQuery {
            kind: Some(kind),
            statuses: query.status.into_iter().collect(),
            flag_id: query.flag_id,
            environment: query.environment,
            due_by: None,
            limit: Some(query.limit.unwrap_or(100).clamp(1, 1000)),
        },
    )
    .await?;
    Ok(Json(Page::all(items.iter().map(item_response).collect())))
}

/// `GET /api/v1/schedules/{id}`.
pub async fn get_schedule(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::WorkItem>> {
    principal.require(Role::Viewer)?;
    let stored = operations::load(&state, WorkKind::Schedule, &id).await?;
    Ok(Json(item_response(&stored)))
}

/// `DELETE /api/v1/schedules/{id}`: cancels a schedule that has not run.
pub async fn cancel_schedule(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::WorkItem>> {
    principal.require(Role::Editor)?;
    let meta = WriteMeta::from_request(&principal, &headers);
    let cancelled = operations::cancel_schedule(&state, meta, &id).await?;
    Ok(Json(item_response(&cancelled)))
}

/// `POST /api/v1/schedules/run`: applies what is due now instead of at the
/// scheduler's next tick (operators, tests); answers what it did.
pub async fn run_schedules(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<RunOutcomes>> {
    principal.require(Role::Admin)?;
    let outcomes = scheduler::run_due(&state).await?;
    Ok(Json(RunOutcomes {
        outcomes: outcomes.into_iter().map(step_outcome).collect(),
    }))
}

/// A work item as answered: id, status, due time, its body, version and
/// times.
pub fn item_response(stored: &StoredWorkItem) -> wire::WorkItem {
    with_stored_metadata(work_item(&stored.item, true), stored)
}
