//! `/api/v1/change-requests`: writes held for approval (four eyes).
//!
//! A write into an `approval_required` environment (or, for flags tagged
//! for compliance, into a protected one) does not take effect: the write
//! path stores it here with the documents before and after, and answers
//! `202 Accepted`. Someone else with the `approver` role approves it (as
//! many times as the environment demands) or rejects it. The last approval
//! applies it, checking that every flag is still at the version the request
//! was made against; if one changed meanwhile the request is stale and must
//! be rebased (its change re-applied onto the latest documents, approvals
//! cleared) rather than blindly applied.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ff_store::{
    AuditedChange, Change, Expect, ResourceKind, Role, StoreError, StoredWorkItem, WorkItem,
    WorkKind, WorkQuery,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::auth::{Principal, generate_id};
use crate::error::{ApiError, ApiResult};
use crate::extract::{OptionalJsonBody, Path, QueryParams};
use crate::flag_ops::{merge_diff, merge_patch, parse_flag, rfc3339};
use crate::governance::{Review, WriteMeta, WriteMode};
use crate::live::LiveConfig;
use crate::routes::{rollout_plans, schedules};
use crate::state::AppState;
use crate::write::{apply, change};

/// A change request's body (the work item's document).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// Who asked (an API key id).
    pub author: String,
    /// Why.
    pub reason: Option<String>,
    /// The deployment the change belongs to.
    pub deployment_id: Option<String>,
    /// The environments whose approval it needs.
    pub environments: Vec<String>,
    /// How many approvals it needs.
    pub required_approvals: u32,
    /// The author confirmed destructive changes (`X-Confirm`).
    pub confirmed: bool,
    /// The flag writes, applied together.
    pub changes: Vec<HeldChange>,
    /// Approvals so far.
    #[serde(default)]
    pub approvals: Vec<Decision>,
    /// The rejection, if rejected.
    #[serde(default)]
    pub rejection: Option<Decision>,
    /// The revision it was applied at.
    #[serde(default)]
    pub applied_revision: Option<i64>,
    /// Rebases so far (who rebased is a co-author: they may not approve).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rebases: Vec<Decision>,
    /// The schedule or rollout plan whose due step this request holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// The scheduled item a request holds a step of. Approving the request
/// moves the item on (a schedule is applied, a plan goes to its next step)
/// in the same commit; rejecting it fails the schedule or pauses the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Origin {
    /// `schedule` or `rollout_plan`.
    pub kind: WorkKind,
    /// The item.
    pub id: String,
    /// Its status once the step is applied.
    pub next_status: String,
    /// Its next due time once the step is applied.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_due_at: Option<OffsetDateTime>,
    /// Its document once the step is applied.
    pub next_document: Value,
}

/// One held flag write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldChange {
    /// The flag.
    pub flag_id: String,
    /// The audit action it will be recorded as.
    pub action: String,
    /// The version it was made against (`None`: a new flag).
    pub base_version: Option<i64>,
    /// It restores a deleted flag (at `base_version`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restores: bool,
    /// The document then (`null` for a new flag).
    pub before: Value,
    /// The proposed document (`null`: delete the flag).
    pub after: Value,
}

/// An approval or rejection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    /// Who.
    pub actor: String,
    /// Their comment.
    pub comment: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Statuses.
pub const PENDING: &str = "pending";
const APPLIED: &str = "applied";
const REJECTED: &str = "rejected";

/// The change request a held write becomes (not yet stored).
pub fn hold(
    live: &LiveConfig,
    changes: &[AuditedChange],
    meta: &WriteMeta,
    review: &Review,
) -> Result<WorkItem, ApiError> {
    let mut held = Vec::new();
    for audited in changes {
        let (flag_id, after) = match &audited.change {
            Change::PutFlag(flag, _) => (
                flag.flag_id.clone(),
                serde_json::to_value(flag).map_err(|e| ApiError::Internal(e.to_string()))?,
            ),
            Change::DeleteFlag(id, _) => (id.clone(), Value::Null),
            _ => {
                return Err(ApiError::Conflict {
                    code: "approval_required",
                    message: format!(
                        "{} require approval, and a change request holds flag changes only; send the other changes separately",
                        review.held.join(", ")
                    ),
                    details: json!({ "environments": review.held }),
                });
            }
        };
        let current = live.flags.get(&flag_id);
        // Restoring a deleted flag: not live, expected at its deleted version.
        let restores =
            current.is_none() && matches!(audited.change, Change::PutFlag(_, Expect::Version(_)));
        // A write made against an older version (If-Match, a body's
        // version) is a conflict now, as it would be if it were not held:
        // approving it must not overwrite what changed since.
        if let Change::PutFlag(_, expected) | Change::DeleteFlag(_, expected) = audited.change
            && let Expect::Version(version) = expected
            && !restores
            && current.map(|f| f.version) != Some(version)
        {
            return Err(StoreError::Conflict {
                kind: ResourceKind::Flag,
                key: flag_id,
                expected,
                actual: current.map(|f| f.version),
            }
            .into());
        }
        let base_version = match (&audited.change, restores) {
            (Change::PutFlag(_, Expect::Version(version)), true) => Some(*version),
            _ => current.map(|f| f.version),
        };
        held.push(HeldChange {
            action: audited.action.clone(),
            restores,
            base_version,
            before: current
                .map(|f| serde_json::to_value(&f.flag).unwrap_or_default())
                .unwrap_or_default(),
            after,
            flag_id,
        });
    }
    let request = ChangeRequest {
        author: meta.actor.clone(),
        reason: meta.reason.clone(),
        deployment_id: meta.deployment_id.clone(),
        environments: review.held.clone(),
        required_approvals: review.required_approvals.max(1),
        confirmed: meta.confirmed,
        approvals: Vec::new(),
        rejection: None,
        applied_revision: None,
        rebases: Vec::new(),
        origin: None,
        changes: held,
    };
    Ok(WorkItem {
        kind: WorkKind::ChangeRequest,
        id: generate_id("cr"),
        status: PENDING.to_owned(),
        flag_id: single_flag(&request),
        environment: review.held.first().cloned(),
        due_at: None,
        document: serde_json::to_value(&request).map_err(|e| ApiError::Internal(e.to_string()))?,
    })
}

fn single_flag(request: &ChangeRequest) -> Option<String> {
    match request.changes.as_slice() {
        [only] => Some(only.flag_id.clone()),
        _ => None,
    }
}

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
    if let Some(status) = &query.status
        && ![PENDING, APPLIED, REJECTED].contains(&status.as_str())
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("unknown status \"{status}\"; expected pending, applied or rejected"),
        ));
    }
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    // A request needs the approval of every environment it lists and may
    // change several flags, while the store knows one of each: those
    // filters are applied here, before the limit.
    let filtered = query.flag_id.is_some() || query.environment.is_some();
    let items = state
        .store
        .work_items(&WorkQuery {
            kind: Some(WorkKind::ChangeRequest),
            statuses: query.status.into_iter().collect(),
            flag_id: None,
            environment: None,
            due_by: None,
            limit: (!filtered).then_some(limit),
        })
        .await?;
    let items: Vec<Value> = items
        .iter()
        .filter(|stored| {
            if !filtered {
                return true;
            }
            document(stored).is_ok_and(|r| {
                query
                    .flag_id
                    .as_ref()
                    .is_none_or(|flag_id| r.changes.iter().any(|c| &c.flag_id == flag_id))
                    && query
                        .environment
                        .as_ref()
                        .is_none_or(|env| r.environments.contains(env))
            })
        })
        .take(limit as usize)
        .map(stored_response)
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/change-requests/{id}`.
pub async fn get_change_request(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Viewer)?;
    let stored = load(&state, &id).await?;
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
    let now = state.clock.now();
    let mut applied_now = false;
    let stored = pending(&state, &id).await?;
    // The change is recorded as it was asked for: with the request's reason
    // (unless the approver gives one) and in the request's deployment, so
    // that the audit says why and a deployment rollback finds it.
    let asked = document(&stored)?;
    let mut meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Approved);
    if meta.reason.is_none() {
        meta.reason = asked.reason;
    }
    if asked.deployment_id.is_some() {
        meta.deployment_id = asked.deployment_id;
    }
    let origin = waiting_origin(&state, &id, asked.origin.as_ref()).await?;
    apply(&state, meta, |live| {
        let mut request = document(&stored)?;
        if request.author == principal.key_id() {
            return Err(ApiError::Forbidden(format!(
                "change request {id} is yours: someone else must approve it (four eyes)"
            )));
        }
        if request.rebases.iter().any(|r| r.actor == principal.key_id()) {
            return Err(ApiError::Forbidden(format!(
                "you rebased change request {id}, so what it applies is partly yours: someone else must approve it (four eyes)"
            )));
        }
        if request.approvals.iter().any(|a| a.actor == principal.key_id()) {
            return Err(ApiError::Conflict {
                code: "already_approved",
                message: format!("you already approved change request {id}"),
                details: json!({ "approvals": request.approvals.len(), "required": request.required_approvals }),
            });
        }
        request.approvals.push(Decision {
            actor: principal.key_id().to_owned(),
            comment: body.comment.clone(),
            at: now,
        });
        let complete = request.approvals.len() >= request.required_approvals as usize;
        let mut changes = Vec::new();
        if complete {
            changes = request_changes(live, &id, &request)?;
            request.applied_revision = Some(live.revision + 1);
            applied_now = true;
            if let Some((origin, item)) = &origin {
                changes.push(origin_applied(&id, origin, item));
            }
        }
        let status = if complete { APPLIED } else { PENDING };
        changes.push(work_change(&stored, status, &request, "change_request.approve")?);
        Ok(changes)
    })
    .await
    .map_err(|e| stale_if_conflict(e, &id))?
    .into_commit()?;
    let stored = load(&state, &id).await?;
    let mut body = stored_response(&stored);
    body["applied"] = json!(applied_now);
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
    let mut meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    // The audit says why: the comment, unless a reason header says more.
    if meta.reason.is_none() {
        meta.reason = body.comment.clone();
    }
    let now = state.clock.now();
    let stored = pending(&state, &id).await?;
    let origin = waiting_origin(&state, &id, document(&stored)?.origin.as_ref()).await?;
    apply(&state, meta, |_| {
        let mut request = document(&stored)?;
        request.rejection = Some(Decision {
            actor: principal.key_id().to_owned(),
            comment: body.comment.clone(),
            at: now,
        });
        let mut changes = vec![work_change(
            &stored,
            REJECTED,
            &request,
            "change_request.reject",
        )?];
        if let Some((_, item)) = &origin {
            changes.push(origin_rejected(&id, item, body.comment.as_deref())?);
        }
        Ok(changes)
    })
    .await?
    .into_commit()?;
    Ok(Json(stored_response(&load(&state, &id).await?)))
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
    let mut meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    if meta.reason.is_none() {
        meta.reason = body.comment.clone();
    }
    let now = state.clock.now();
    let stored = pending(&state, &id).await?;
    apply(&state, meta, |live| {
        let mut request = document(&stored)?;
        request.rebases.push(Decision {
            actor: principal.key_id().to_owned(),
            comment: body.comment.clone(),
            at: now,
        });
        for held in &mut request.changes {
            let current = live.flags.get(&held.flag_id);
            if current.map(|f| f.version) == held.base_version
                || (held.restores && current.is_none())
            {
                continue;
            }
            let Some(current) = current else {
                return Err(ApiError::Conflict {
                    code: "cannot_rebase",
                    message: format!(
                        "flag \"{}\" no longer exists; reject this request and make a new one",
                        held.flag_id
                    ),
                    details: Value::Null,
                });
            };
            let latest = serde_json::to_value(&current.flag)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            if !held.after.is_null() {
                let patch = merge_diff(&held.before, &held.after);
                let mut rebased = latest.clone();
                merge_patch(&mut rebased, &patch);
                held.after = serde_json::to_value(parse_flag(&rebased)?)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
            }
            held.before = latest;
            held.base_version = Some(current.version);
        }
        request.approvals.clear();
        Ok(vec![work_change(
            &stored,
            PENDING,
            &request,
            "change_request.rebase",
        )?])
    })
    .await?
    .into_commit()?;
    Ok(Json(stored_response(&load(&state, &id).await?)))
}

/// The flag changes of an approved request, each expecting the version it
/// was made against.
fn request_changes(
    live: &LiveConfig,
    id: &str,
    request: &ChangeRequest,
) -> Result<Vec<AuditedChange>, ApiError> {
    let mut changes = Vec::new();
    for held in &request.changes {
        let current = live.flags.get(&held.flag_id).map(|f| f.version);
        // A restore's deleted flag is not live: the commit checks its version.
        if !held.restores && current != held.base_version {
            return Err(stale(id, &held.flag_id, held.base_version, current));
        }
        let expect = held.base_version.map_or(Expect::Absent, Expect::Version);
        let environment = request.environments.first().map(String::as_str);
        let change_kind = if held.after.is_null() {
            Change::DeleteFlag(held.flag_id.clone(), expect)
        } else {
            Change::PutFlag(parse_flag(&held.after)?, expect)
        };
        changes.push(change(change_kind, &held.action, environment));
    }
    Ok(changes)
}

/// The scheduled item a request holds a step of, if it still waits for it
/// (it may have been cancelled meanwhile).
async fn waiting_origin(
    state: &AppState,
    id: &str,
    origin: Option<&Origin>,
) -> Result<Option<(Origin, StoredWorkItem)>, ApiError> {
    let Some(origin) = origin else {
        return Ok(None);
    };
    let item = state.store.work_item(origin.kind, &origin.id).await?;
    Ok(item
        .filter(|item| {
            item.item.status == schedules::HELD && item.item.document["change_request_id"] == id
        })
        .map(|item| (origin.clone(), item)))
}

/// The held item moved on as if its step had been applied by the scheduler.
fn origin_applied(id: &str, origin: &Origin, item: &StoredWorkItem) -> AuditedChange {
    let mut next = item.item.clone();
    next.status = origin.next_status.clone();
    next.due_at = origin.next_due_at;
    next.document = origin.next_document.clone();
    next.document["change_request_id"] = json!(id);
    crate::scheduler::bookkeeping(item, next)
}

/// The held item after its change request was rejected: a schedule fails,
/// a rollout plan pauses (it can be resumed, which proposes the step again).
fn origin_rejected(
    id: &str,
    item: &StoredWorkItem,
    comment: Option<&str>,
) -> Result<AuditedChange, ApiError> {
    let why = match comment {
        Some(comment) => format!("change request {id} was rejected: {comment}"),
        None => format!("change request {id} was rejected"),
    };
    let next = match item.item.kind {
        WorkKind::RolloutPlan => rollout_plans::paused(item, &why)?,
        _ => {
            let mut failed = item.item.clone();
            failed.status = schedules::FAILED.to_owned();
            failed.due_at = None;
            failed.document["error"] = json!(why);
            failed
        }
    };
    Ok(crate::scheduler::bookkeeping(item, next))
}

fn stale(id: &str, flag_id: &str, base: Option<i64>, current: Option<i64>) -> ApiError {
    ApiError::Conflict {
        code: "change_request_stale",
        message: format!(
            "flag \"{flag_id}\" changed since change request {id} was made (version {} then, {} now); rebase it (POST /api/v1/change-requests/{id}/rebase) and have it approved again",
            base.map_or("none".to_owned(), |v| v.to_string()),
            current.map_or("none".to_owned(), |v| v.to_string()),
        ),
        details: json!({ "flag_id": flag_id, "base_version": base, "current_version": current }),
    }
}

/// A version conflict while applying means a flag changed between the
/// check and the commit (another node): the request is stale.
fn stale_if_conflict(error: ApiError, id: &str) -> ApiError {
    match error {
        ApiError::Conflict {
            code: "version_conflict",
            details,
            ..
        } if details["kind"] == "flag" => stale(
            id,
            details["key"].as_str().unwrap_or_default(),
            None,
            details["current_version"].as_i64(),
        ),
        other => other,
    }
}

/// The change that stores a request's new state, expecting the version read.
fn work_change(
    stored: &StoredWorkItem,
    status: &str,
    request: &ChangeRequest,
    action: &str,
) -> Result<AuditedChange, ApiError> {
    let mut item = stored.item.clone();
    item.status = status.to_owned();
    item.document = serde_json::to_value(request).map_err(|e| ApiError::Internal(e.to_string()))?;
    let environment = item.environment.clone();
    Ok(change(
        Change::PutWorkItem(item, Expect::Version(stored.version)),
        action,
        environment.as_deref(),
    ))
}

async fn load(state: &AppState, id: &str) -> Result<StoredWorkItem, ApiError> {
    state
        .store
        .work_item(WorkKind::ChangeRequest, id)
        .await?
        .ok_or_else(|| ApiError::not_found("change request", id))
}

/// The request, which must be pending. Read before the write; the commit
/// expects its version, so a concurrent decision makes this one a conflict.
async fn pending(state: &AppState, id: &str) -> Result<StoredWorkItem, ApiError> {
    let stored = load(state, id).await?;
    if stored.item.status != PENDING {
        return Err(ApiError::Conflict {
            code: "not_pending",
            message: format!("change request {id} is {}, not pending", stored.item.status),
            details: json!({ "status": stored.item.status }),
        });
    }
    Ok(stored)
}

fn document(stored: &StoredWorkItem) -> Result<ChangeRequest, ApiError> {
    serde_json::from_value(stored.item.document.clone()).map_err(|e| {
        ApiError::Internal(format!(
            "change request {} is unreadable: {e}",
            stored.item.id
        ))
    })
}
