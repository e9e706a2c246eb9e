//! `/api/v1/schedules`: changes of a flag to apply at a time. What a
//! schedule is, and how it is applied, is `crate::work::schedule` and
//! `crate::work::scheduler`; these handlers translate HTTP.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_store::{Role, StoredWorkItem, WorkKind, WorkQuery};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::{JsonBody, Path, QueryParams};
use crate::flag_ops::rfc3339;
use crate::governance::WriteMeta;
use crate::state::AppState;
use crate::work::action::Action;
use crate::work::{operations, scheduler};

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
        .with_body(request.reason, request.deployment_id);
    let created = operations::create_schedule(
        &state,
        meta,
        request.flag_id,
        request.environment,
        request.at,
        request.action,
    )
    .await?;
    Ok(created_response(&created))
}

/// `201 Created` with a new work item.
pub fn created_response(created: &StoredWorkItem) -> Response {
    (StatusCode::CREATED, Json(item_response(created))).into_response()
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
    let stored = operations::load(&state, WorkKind::Schedule, &id).await?;
    Ok(Json(item_response(&stored)))
}

/// `DELETE /api/v1/schedules/{id}`: cancels a schedule that has not run.
pub async fn cancel_schedule(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
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
) -> ApiResult<Json<Value>> {
    principal.require(Role::Admin)?;
    let outcomes = scheduler::run_due(&state).await?;
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
