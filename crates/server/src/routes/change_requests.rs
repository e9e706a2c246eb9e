//! `/api/v1/change-requests`: writes held for approval (four eyes), listed,
//! read, approved, rejected and rebased. What a change request is and how
//! each decision works is `crate::work::change_request`; these handlers
//! translate HTTP. Every route that writes answers a held write with
//! [`held`].

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_store::{Role, StoredWorkItem, WorkItem, WorkKind};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{OptionalJsonBody, Path, QueryParams};
use crate::flag_ops::rfc3339;
use crate::governance::WriteMeta;
use crate::state::AppState;
use crate::work::change_request::RequestStatus;
use crate::work::item::Status;
use crate::work::operations;

/// A change request as answered: id, status, its body and what each
/// change does, path by path.
pub fn response(item: &WorkItem) -> Value {
    let mut body = json!({ "id": item.id, "status": item.status });
    if let (Value::Object(body), Value::Object(document)) = (&mut body, &item.document) {
        for (key, value) in document {
            body.insert(key.clone(), value.clone());
        }
        if let Some(Value::Array(changes)) = body.get_mut("changes") {
            for held in changes {
                let diff = ff_engine::diff::diff(&held["before"], &held["after"]);
                held["diff"] = json!(diff);
            }
        }
    }
    body
}

/// The answer to a write held for approval: `202 Accepted` with the change
/// request it became.
pub fn held(request: &WorkItem) -> Response {
    let body = json!({ "change_request": response(request) });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

fn stored_response(stored: &StoredWorkItem) -> Value {
    let mut body = response(&stored.item);
    body["version"] = json!(stored.version);
    body["created_at"] = json!(rfc3339(stored.created_at));
    body["updated_at"] = json!(rfc3339(stored.updated_at));
    body
}

/// Filters of `GET /api/v1/change-requests`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending`, `applied` or `rejected`.
    status: Option<String>,
    /// Requests needing this environment's approval.
    environment: Option<String>,
    /// Requests changing this flag.
    flag_id: Option<String>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

/// `GET /api/v1/change-requests`: newest first.
pub async fn list_change_requests(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Value>> {
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
    let items: Vec<Value> = items.iter().map(stored_response).collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/change-requests/{id}`.
pub async fn get_change_request(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Viewer)?;
    let stored = operations::load(&state, WorkKind::ChangeRequest, &id).await?;
    Ok(Json(stored_response(&stored)))
}

/// The body of approve, reject and rebase.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// A comment for the record.
    comment: Option<String>,
}

/// `POST /api/v1/change-requests/{id}/approve`: adds an approval; the last
/// one needed applies the request.
pub async fn approve_change_request(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ReviewBody>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Approver)?;
    let meta = WriteMeta::from_request(&principal, &headers);
    let (stored, applied) = operations::approve(&state, meta, &id, body.comment).await?;
    let mut body = stored_response(&stored);
    body["applied"] = json!(applied);
    Ok(Json(body))
}

/// `POST /api/v1/change-requests/{id}/reject`.
pub async fn reject_change_request(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ReviewBody>,
) -> ApiResult<Json<Value>> {
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
    OptionalJsonBody(body): OptionalJsonBody<ReviewBody>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Editor)?;
    let meta = with_comment_as_reason(WriteMeta::from_request(&principal, &headers), &body);
    let stored = operations::rebase(&state, meta, &id, body.comment).await?;
    Ok(Json(stored_response(&stored)))
}

/// The audit says why: the comment, unless a reason header says more.
fn with_comment_as_reason(mut meta: WriteMeta, body: &ReviewBody) -> WriteMeta {
    if meta.reason.is_none() {
        meta.reason = body.comment.clone();
    }
    meta
}
