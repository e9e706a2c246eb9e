//! `/api/v1/schedules`: changes to apply at a time (enable, disable, a
//! value, a percentage, an environment entry, a patch). Stored, so they
//! survive restarts; applied exactly once by the scheduler
//! (`crate::scheduler`), which also records them in the flag's history.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_store::{Change, Expect, Role, StoredWorkItem, WorkItem, WorkKind, WorkQuery};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::actions::{Action, apply_action};
use crate::auth::{Principal, generate_id};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Path, QueryParams};
use crate::flag_ops::rfc3339;
use crate::governance::{WriteMeta, WriteMode};
use crate::live::{LiveConfig, live_flag};
use crate::scheduler::Step;
use crate::state::AppState;
use crate::write::{apply, change};

/// Waiting for its time.
pub const SCHEDULED: &str = "scheduled";
/// Applied.
pub const APPLIED: &str = "applied";
/// Became a change request (named in `change_request_id`).
pub const HELD: &str = "held";
/// Could not be applied (`error` says why).
pub const FAILED: &str = "failed";
/// Cancelled before its time.
pub const CANCELLED: &str = "cancelled";

/// `POST /api/v1/schedules`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    /// The flag.
    flag_id: String,
    /// The environment (needed by enable, disable, set_environment).
    #[serde(default)]
    environment: Option<String>,
    /// When (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    /// What.
    action: Action,
    /// Why (else `X-Change-Reason`).
    #[serde(default)]
    reason: Option<String>,
    /// The deployment (else `X-Deployment-Id`).
    #[serde(default)]
    deployment_id: Option<String>,
}

/// A schedule's body (the work item's document).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What.
    pub action: Action,
    /// Who scheduled it.
    pub author: String,
    /// Why.
    pub reason: Option<String>,
    /// Destructive changes confirmed (`X-Confirm`).
    #[serde(default)]
    pub confirmed: bool,
    /// The deployment.
    pub deployment_id: Option<String>,
    /// When it was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
}

/// `POST /api/v1/schedules`: checks the change against the flag as it is
/// now (so that an impossible change is refused at once) and stores it.
pub async fn create_schedule(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateSchedule>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let meta = WriteMeta::from_request(&principal, &headers)
        .with_body(request.reason.clone(), request.deployment_id.clone())
        .in_mode(WriteMode::Administrative);
    // Check against the latest configuration (another node may have just
    // created the flag).
    state.live.refresh().await?;
    let live = state.live.current();
    check_target(
        &live,
        &request.flag_id,
        request.environment.as_deref(),
        &request.action,
    )?;
    require_reason_if_protected(
        &live,
        request.environment.as_deref(),
        meta.reason.as_deref(),
    )?;
    let schedule = Schedule {
        flag_id: request.flag_id,
        environment: request.environment,
        at: request.at,
        action: request.action,
        author: principal.key_id().to_owned(),
        reason: meta.reason.clone(),
        confirmed: meta.confirmed,
        deployment_id: meta.deployment_id.clone(),
        applied_at: None,
    };
    let item = WorkItem {
        kind: WorkKind::Schedule,
        id: generate_id("sch"),
        status: SCHEDULED.to_owned(),
        flag_id: Some(schedule.flag_id.clone()),
        environment: schedule.environment.clone(),
        due_at: Some(schedule.at),
        document: to_value(&schedule)?,
    };
    create(&state, meta, item, "schedule.create").await
}

/// Stores a new work item and answers `201` with it.
pub async fn create(
    state: &AppState,
    meta: WriteMeta,
    item: WorkItem,
    action: &str,
) -> ApiResult<Response> {
    let (kind, id) = (item.kind, item.id.clone());
    let environment = item.environment.clone();
    apply(state, meta, |_| {
        Ok(vec![change(
            Change::PutWorkItem(item, Expect::Absent),
            action,
            environment.as_deref(),
        )])
    })
    .await?
    .into_commit()?;
    let stored = load(state, kind, &id).await?;
    Ok((StatusCode::CREATED, Json(item_response(&stored))).into_response())
}

/// Refuses a change that cannot apply to the flag as it is now.
pub fn check_target(
    live: &LiveConfig,
    flag_id: &str,
    environment: Option<&str>,
    action: &Action,
) -> Result<(), ApiError> {
    let current = live_flag(live, flag_id)?;
    if let Some(env) = environment
        && !live.environments.contains_key(env)
    {
        return Err(ApiError::not_found("environment", env));
    }
    apply_action(&current.flag, environment, action, &live.environment_tree()).map(|_| ())
}

/// A protected environment's changes need a reason, also when scheduled.
pub fn require_reason_if_protected(
    live: &LiveConfig,
    environment: Option<&str>,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    let protected = environment
        .and_then(|env| live.environments.get(env))
        .is_some_and(|e| e.environment.protected);
    if protected && reason.is_none() {
        return Err(ApiError::Refused {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "reason_required",
            message: format!(
                "environment \"{}\" is protected: give a \"reason\" (or X-Change-Reason)",
                environment.unwrap_or_default()
            ),
            details: json!({ "environment": environment }),
        });
    }
    Ok(())
}

/// The scheduler's step for a due schedule.
pub fn step(item: &StoredWorkItem, now: OffsetDateTime) -> Result<Step, ApiError> {
    let schedule: Schedule = from_value(item)?;
    let mut next = item.item.clone();
    next.status = APPLIED.to_owned();
    next.due_at = None;
    next.document["applied_at"] = json!(rfc3339(now));
    Ok(Step {
        flag_id: schedule.flag_id,
        environment: schedule.environment,
        action: schedule.action,
        next,
        author: schedule.author,
        reason: schedule.reason,
        confirmed: schedule.confirmed,
        deployment_id: schedule.deployment_id,
    })
}

/// Filters of the lists.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this status.
    status: Option<String>,
    /// Only about this flag.
    flag_id: Option<String>,
    /// Only in this environment.
    environment: Option<String>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

/// `GET /api/v1/schedules`: newest first.
pub async fn list_schedules(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Viewer)?;
    list(&state, WorkKind::Schedule, query).await
}

/// A list of work items of one kind.
pub async fn list(state: &AppState, kind: WorkKind, query: ListQuery) -> ApiResult<Json<Value>> {
    let items = state
        .store
        .work_items(&WorkQuery {
            kind: Some(kind),
            statuses: query.status.into_iter().collect(),
            flag_id: query.flag_id,
            environment: query.environment,
            due_by: None,
            limit: Some(query.limit.unwrap_or(100).clamp(1, 1000)),
        })
        .await?;
    let items: Vec<Value> = items.iter().map(item_response).collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/schedules/{id}`.
pub async fn get_schedule(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Viewer)?;
    Ok(Json(item_response(
        &load(&state, WorkKind::Schedule, &id).await?,
    )))
}

/// `DELETE /api/v1/schedules/{id}`: cancels a schedule that has not run.
pub async fn cancel_schedule(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Editor)?;
    let stored = load(&state, WorkKind::Schedule, &id).await?;
    if stored.item.status != SCHEDULED {
        return Err(ApiError::Conflict {
            code: "not_scheduled",
            message: format!(
                "schedule {id} is {}; only a scheduled one can be cancelled",
                stored.item.status
            ),
            details: json!({ "status": stored.item.status }),
        });
    }
    let mut cancelled = stored.item.clone();
    cancelled.status = CANCELLED.to_owned();
    cancelled.due_at = None;
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    let environment = cancelled.environment.clone();
    apply(&state, meta, |_| {
        Ok(vec![change(
            Change::PutWorkItem(cancelled, Expect::Version(stored.version)),
            "schedule.cancel",
            environment.as_deref(),
        )])
    })
    .await?
    .into_commit()?;
    Ok(Json(item_response(
        &load(&state, WorkKind::Schedule, &id).await?,
    )))
}

/// `POST /api/v1/schedules/run`: applies what is due now instead of at the
/// scheduler's next tick (operators, tests); answers what it did.
pub async fn run_schedules(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Admin)?;
    let outcomes = crate::scheduler::run_due(&state).await?;
    Ok(Json(json!({ "outcomes": outcomes })))
}

/// A work item as answered: id, status, due time, its body, version and
/// times.
pub fn item_response(stored: &StoredWorkItem) -> Value {
    let mut body = json!({
        "id": stored.item.id,
        "status": stored.item.status,
    });
    if let Some(due_at) = stored.item.due_at {
        body["due_at"] = json!(rfc3339(due_at));
    }
    if let (Value::Object(body), Value::Object(document)) = (&mut body, &stored.item.document) {
        for (key, value) in document {
            body.insert(key.clone(), value.clone());
        }
    }
    body["version"] = json!(stored.version);
    body["created_at"] = json!(rfc3339(stored.created_at));
    body["updated_at"] = json!(rfc3339(stored.updated_at));
    body
}

/// One work item, or 404.
pub async fn load(state: &AppState, kind: WorkKind, id: &str) -> Result<StoredWorkItem, ApiError> {
    let what = match kind {
        WorkKind::ChangeRequest => "change request",
        WorkKind::Schedule => "schedule",
        WorkKind::RolloutPlan => "rollout plan",
    };
    state
        .store
        .work_item(kind, id)
        .await?
        .ok_or_else(|| ApiError::not_found(what, id))
}

/// A body as JSON.
pub fn to_value<T: Serialize>(body: &T) -> Result<Value, ApiError> {
    serde_json::to_value(body).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A stored body.
pub fn from_value<T: serde::de::DeserializeOwned>(item: &StoredWorkItem) -> Result<T, ApiError> {
    serde_json::from_value(item.item.document.clone())
        .map_err(|e| ApiError::Internal(format!("{} is unreadable: {e}", item.item.id)))
}
