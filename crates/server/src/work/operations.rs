//! What people do to work items, as the routes ask for it: make a schedule
//! or a rollout plan, cancel, pause and resume them, approve, reject and
//! rebase change requests — each one commit through the write path, which
//! checks the item's version (a concurrent decision is a conflict) — and
//! read them back.
//!
//! The decisions themselves are the kinds' ([`super::change_request`],
//! [`super::schedule`], [`super::rollout_plan`]); here they meet the store.

use ff_engine::edit::RuleSelector;
use ff_store::{Change, Expect, Role, StoredWorkItem, WorkItem, WorkKind, WorkQuery};
use time::OffsetDateTime;

use super::action::{Action, check_target};
use super::change_request::{self, Decided, Origin, RequestStatus};
use super::item::{Status, stored_after};
use super::rollout_plan::{self, PlanStatus, RolloutPlan, StepsAsked};
use super::schedule::{self, Schedule};
use crate::error::ApiError;
use crate::governance::{WriteMeta, WriteMode, require_reason_if_protected};
use crate::state::AppState;
use crate::write::{Commit, apply, change};

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

/// Work items matching a query, newest first.
pub async fn list(state: &AppState, query: &WorkQuery) -> Result<Vec<StoredWorkItem>, ApiError> {
    Ok(state.store.work_items(query).await?)
}

/// Change requests, newest first: in a status, needing an environment's
/// approval, changing a flag; at most `limit`.
pub async fn list_change_requests(
    state: &AppState,
    status: Option<RequestStatus>,
    environment: Option<&str>,
    flag_id: Option<&str>,
    limit: u32,
) -> Result<Vec<StoredWorkItem>, ApiError> {
    // A request needs the approval of every environment it lists and may
    // change several flags, while the store knows one of each: those
    // filters are applied here, before the limit.
    let filtered = flag_id.is_some() || environment.is_some();
    let items = state
        .store
        .work_items(&WorkQuery {
            kind: Some(WorkKind::ChangeRequest),
            statuses: status.map(|s| s.as_str().to_owned()).into_iter().collect(),
            limit: (!filtered).then_some(limit),
            ..WorkQuery::default()
        })
        .await?;
    Ok(items
        .into_iter()
        .filter(|stored| {
            !filtered
                || change_request::document(stored).is_ok_and(|r| {
                    flag_id.is_none_or(|id| r.changes.iter().any(|c| c.flag_id == id))
                        && environment.is_none_or(|env| r.environments.iter().any(|e| e == env))
                })
        })
        .take(limit as usize)
        .collect())
}

/// The active rollout plans of a flag in these environments.
pub async fn active_plans(
    state: &AppState,
    flag_id: &str,
    environments: &[String],
) -> Result<Vec<StoredWorkItem>, ApiError> {
    Ok(state
        .store
        .work_items(&WorkQuery {
            kind: Some(WorkKind::RolloutPlan),
            statuses: vec![PlanStatus::Active.as_str().to_owned()],
            flag_id: Some(flag_id.to_owned()),
            ..WorkQuery::default()
        })
        .await?
        .into_iter()
        .filter(|p| {
            p.item
                .environment
                .as_ref()
                .is_some_and(|env| environments.contains(env))
        })
        .collect())
}

/// Schedules `action` on a flag at `at`, by `meta`'s author: checked
/// against the flag as it is now, so that a change that could never apply
/// is refused at once.
pub async fn create_schedule(
    state: &AppState,
    meta: WriteMeta,
    flag_id: String,
    environment: Option<String>,
    at: OffsetDateTime,
    action: Action,
) -> Result<StoredWorkItem, ApiError> {
    // Against the latest configuration (another node may have just created
    // the flag).
    state.live.refresh().await?;
    let live = state.live.current();
    check_target(&live, &flag_id, environment.as_deref(), &action)?;
    require_reason_if_protected(&live, environment.as_deref(), meta.reason.as_deref())?;
    let item = schedule::new_item(&Schedule {
        flag_id,
        environment,
        at,
        action,
        author: meta.actor.clone(),
        reason: meta.reason.clone(),
        confirmed: meta.confirmed,
        deployment_id: meta.deployment_id.clone(),
        applied_at: None,
    })?;
    create(state, meta, item, "schedule.create").await
}

/// Makes a rollout plan of a rule's percentage in an environment, every
/// step checked against the flag as it is now.
pub async fn create_plan(
    state: &AppState,
    meta: WriteMeta,
    flag_id: String,
    environment: String,
    rule: Option<RuleSelector>,
    asked: &StepsAsked,
) -> Result<StoredWorkItem, ApiError> {
    let plan = RolloutPlan {
        flag_id,
        environment,
        rule,
        steps: rollout_plan::plan_steps(asked)?,
        next_step: 0,
        author: meta.actor.clone(),
        reason: meta.reason.clone(),
        history: Vec::new(),
        paused_reason: None,
    };
    // Against the latest configuration (another node may have just created
    // the flag).
    state.live.refresh().await?;
    let live = state.live.current();
    for step in &plan.steps {
        check_target(
            &live,
            &plan.flag_id,
            Some(&plan.environment),
            &plan.action(step),
        )?;
    }
    require_reason_if_protected(&live, Some(&plan.environment), meta.reason.as_deref())?;
    let item = rollout_plan::new_item(&plan)?;
    create(state, meta, item, "rollout_plan.create").await
}

/// Cancels a schedule that has not run.
pub async fn cancel_schedule(
    state: &AppState,
    meta: WriteMeta,
    id: &str,
) -> Result<StoredWorkItem, ApiError> {
    let stored = load(state, WorkKind::Schedule, id).await?;
    let next = schedule::cancelled(&stored)?;
    write_next(state, meta, &stored, next, "schedule.cancel").await
}

/// Pauses an active plan.
pub async fn pause_plan(
    state: &AppState,
    meta: WriteMeta,
    id: &str,
    reason: &str,
) -> Result<StoredWorkItem, ApiError> {
    let stored = load(state, WorkKind::RolloutPlan, id).await?;
    let next = rollout_plan::pause(&stored, reason)?;
    write_next(state, meta, &stored, next, "rollout_plan.pause").await
}

/// Resumes a paused plan.
pub async fn resume_plan(
    state: &AppState,
    meta: WriteMeta,
    id: &str,
) -> Result<StoredWorkItem, ApiError> {
    let stored = load(state, WorkKind::RolloutPlan, id).await?;
    let next = rollout_plan::resume(&stored)?;
    write_next(state, meta, &stored, next, "rollout_plan.resume").await
}

/// Approves a change request (as `meta`'s actor); the last approval needed
/// applies it. Returns the request and whether it was applied now.
pub async fn approve(
    state: &AppState,
    meta: WriteMeta,
    id: &str,
    comment: Option<String>,
) -> Result<(StoredWorkItem, bool), ApiError> {
    let now = state.clock.now();
    let stored = load(state, WorkKind::ChangeRequest, id).await?;
    // The change is recorded as it was asked for: with the request's reason
    // (unless the approver gives one) and in the request's deployment, so
    // that the audit says why and a deployment rollback finds it.
    let asked = change_request::pending(&stored)?;
    // A scoped approver approves in their environments only.
    check_request_scope(&meta, &asked, Role::Approver)?;
    let mut meta = meta.in_mode(WriteMode::Approved);
    if meta.reason.is_none() {
        meta.reason = asked.reason;
    }
    if asked.deployment_id.is_some() {
        meta.deployment_id = asked.deployment_id;
    }
    let origin = waiting_origin(state, id, asked.origin.as_ref()).await?;
    let approver = meta.actor.clone();
    let mut decided = None;
    let commit = apply(state, meta, |live| {
        let decision =
            change_request::approval(&stored, live, &approver, comment, now, origin.as_ref())?;
        Ok(take_changes(decision, &mut decided))
    })
    .await
    .map_err(|e| change_request::stale_if_conflict(e, id))?
    .into_commit()?;
    let applies = decided.as_ref().is_some_and(|d| d.applies);
    Ok((request_after(&stored, decided, &commit)?, applies))
}

/// Rejects a change request (as `meta`'s actor).
pub async fn reject(
    state: &AppState,
    meta: WriteMeta,
    id: &str,
    comment: Option<String>,
) -> Result<StoredWorkItem, ApiError> {
    let now = state.clock.now();
    let stored = load(state, WorkKind::ChangeRequest, id).await?;
    let asked = change_request::pending(&stored)?;
    check_request_scope(&meta, &asked, Role::Approver)?;
    let origin = waiting_origin(state, id, asked.origin.as_ref()).await?;
    let rejecter = meta.actor.clone();
    let mut decided = None;
    let commit = apply(state, meta.in_mode(WriteMode::Administrative), |_| {
        let origin = origin.as_ref().map(|(_, item)| item);
        let decision = change_request::rejection(&stored, &rejecter, comment, now, origin)?;
        Ok(take_changes(decision, &mut decided))
    })
    .await?
    .into_commit()?;
    request_after(&stored, decided, &commit)
}

/// Rebases a change request onto its flags' latest versions (as `meta`'s
/// actor); its approvals are cleared.
pub async fn rebase(
    state: &AppState,
    meta: WriteMeta,
    id: &str,
    comment: Option<String>,
) -> Result<StoredWorkItem, ApiError> {
    let now = state.clock.now();
    let stored = load(state, WorkKind::ChangeRequest, id).await?;
    let asked = change_request::pending(&stored)?;
    check_request_scope(&meta, &asked, Role::Editor)?;
    let rebaser = meta.actor.clone();
    let mut decided = None;
    let commit = apply(state, meta.in_mode(WriteMode::Administrative), |live| {
        let decision = change_request::rebased(&stored, live, &rebaser, comment, now)?;
        Ok(take_changes(decision, &mut decided))
    })
    .await?
    .into_commit()?;
    request_after(&stored, decided, &commit)
}

/// Refuses a scoped caller without `role` in every environment whose
/// approval the change request needs.
fn check_request_scope(
    meta: &WriteMeta,
    request: &change_request::ChangeRequest,
    role: Role,
) -> Result<(), ApiError> {
    crate::scope::check(
        meta.environment_roles.as_ref(),
        request.environments.iter().map(|env| (env.as_str(), role)),
    )
}

/// A decision's changes, to commit; the rest of it is kept in `kept` to
/// describe the request afterwards.
fn take_changes(mut decided: Decided, kept: &mut Option<Decided>) -> Vec<ff_store::AuditedChange> {
    let changes = std::mem::take(&mut decided.changes);
    *kept = Some(decided);
    changes
}

/// The change request as a decision's commit left it (what a read would
/// give, without the read).
fn request_after(
    stored: &StoredWorkItem,
    decided: Option<Decided>,
    commit: &Commit,
) -> Result<StoredWorkItem, ApiError> {
    let written = decided.and_then(|d| {
        let version = commit.versions.get(d.request_change).copied()?;
        Some((d.request, version))
    });
    let Some((request, version)) = written else {
        return Err(ApiError::Internal(format!(
            "the commit of {} did not write it",
            stored.item.id
        )));
    };
    Ok(stored_after(Some(stored), request, version, commit.at))
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
        .filter(|item| change_request::waits_for(item, id))
        .map(|item| (origin.clone(), item)))
}

/// Stores a new work item (administrative: work items change nothing
/// evaluated until they apply).
async fn create(
    state: &AppState,
    meta: WriteMeta,
    item: WorkItem,
    action: &str,
) -> Result<StoredWorkItem, ApiError> {
    let environment = item.environment.clone();
    let created = item.clone();
    let commit = apply(state, meta.in_mode(WriteMode::Administrative), |_| {
        Ok(vec![change(
            Change::PutWorkItem(item, Expect::Absent),
            action,
            environment.as_deref(),
        )])
    })
    .await?
    .into_commit()?;
    let version = commit.versions.first().copied().unwrap_or(1);
    Ok(stored_after(None, created, version, commit.at))
}

/// Writes an item's next state, expecting the version read.
async fn write_next(
    state: &AppState,
    meta: WriteMeta,
    stored: &StoredWorkItem,
    next: WorkItem,
    action: &str,
) -> Result<StoredWorkItem, ApiError> {
    let environment = next.environment.clone();
    let written = next.clone();
    let commit = apply(state, meta.in_mode(WriteMode::Administrative), |_| {
        Ok(vec![change(
            Change::PutWorkItem(next, Expect::Version(stored.version)),
            action,
            environment.as_deref(),
        )])
    })
    .await?
    .into_commit()?;
    let version = commit
        .versions
        .first()
        .copied()
        .unwrap_or(stored.version.saturating_add(1));
    Ok(stored_after(Some(stored), written, version, commit.at))
}
