//! `/api/v1/change-requests`: writes held for approval (four eyes), listed,
//! read, approved, rejected and rebased. What a change request is and how
//! each decision works is `crate::work::change_request`; these handlers
//! translate HTTP. Every route that writes answers a held write with
//! [`held`].

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_api_types::{self as wire, ChangeRequestsQuery, Held, Page, ReviewRequest};
use ff_store::{Role, StoredWorkItem, WorkItem, WorkKind};
use serde_json::Value;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{OptionalJsonBody, Path, QueryParams};
use crate::governance::WriteMeta;
use crate::state::AppState;
use crate::wire::{differences, with_stored_metadata, work_item};
use crate::work::change_request::RequestStatus;
use crate::work::item::Status;
use crate::work::operations;

/// A change request as answered: id, status, its body and what each
/// change does, path by path.
pub fn response(item: &WorkItem) -> wire::WorkItem {
    let mut body = work_item(item, false);
    if let Some(Value::Array(changes)) = body.document.get_mut("changes") {
        for held in changes {
            let diff = differences(&held["before"], &held["after"]);
            held["diff"] = serde_json::to_value(diff).unwrap_or_default();
        }
    }
    body
}

/// The answer to a write held for approval: `202 Accepted` with the change
/// request it became.
pub fn held(request: &WorkItem) -> Response {
    let body = Held {
        change_request: response(request),
    };
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

fn stored_response(stored: &StoredWorkItem) -> wire::WorkItem {
    with_stored_metadata(response(&stored.item), stored)
}

/// `GET /api/v1/change-requests`: newest first.
pub async fn list_change_requests(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ChangeRequestsQuery>,
) -> ApiResult<Json<Page<wire::WorkItem>>> {
    principal.require(Role::Viewer)?;
    let status = match &query.status {
        None => None,
        Some(name) => Some(RequestStatus::parse(name).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("unknown status \"{name}\"; expected pending, applied or rejected"),
            )
        })?),
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let items = operations::list_change_requests(
        &state,
        status,
        query.environment.as_deref(),
        query.flag_id.as_deref(),
        limit,
    )
    .await?;
    Ok(Json(Page::all(items.iter().map(stored_response).collect())))
}

/// `GET /api/v1/change-requests/{id}`.
pub async fn get_change_request(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::WorkItem>> {
    principal.require(Role::Viewer)?;
    let stored = operations::load(&state, WorkKind::ChangeRequest, &id).await?;
    Ok(Json(stored_response(&stored)))
}

/// `POST /api/v1/change-requests/{id}/approve`: adds an approval; the last
/// one needed applies the request.
pub async fn approve_change_request(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ReviewRequest>,
) -> ApiResult<Json<wire::WorkItem>> {
    principal.require(Role::Approver)?;
    let meta = WriteMeta::from_request(&principal, &headers);
    let (stored, applied) = operations::approve(&state, meta, &id, body.comment).await?;
    let mut body = stored_response(&stored);
    body.applied = Some(applied);
    Ok(Json(body))
}

/// `POST /api/v1/change-requests/{id}/reject`.
pub async fn reject_change_request(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ReviewRequest>,
) -> ApiResult<Json<wire::WorkItem>> {
    principal.require(Role::Approver)?;
    let meta = with_comment_as_reason(WriteMeta::from_request(&principal, &headers), &body);
    let stored = operations::reject(&state, meta, &id, body.comment).await?;
    Ok(Json(stored_response(&stored)))
}

/// `POST /api/v1/change-requests/{id}/rebase`: re-applies each change onto
/// the flag's latest version (as a merge patch of what it changed), and
/// clears the approvals: what is approved must be what will be applied.
pub async fn rebase_change_request(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ReviewRequest>,
) -> ApiResult<Json<wire::WorkItem>> {
    principal.require(Role::Editor)?;
    let meta = with_comment_as_reason(WriteMeta::from_request(&principal, &headers), &body);
    let stored = operations::rebase(&state, meta, &id, body.comment).await?;
    Ok(Json(stored_response(&stored)))
}

/// The audit says why: the comment, unless a reason header says more.
fn with_comment_as_reason(mut meta: WriteMeta, body: &ReviewRequest) -> WriteMeta {
    if meta.reason.is_none() {
        meta.reason = body.comment.clone();
    }
    meta
}
