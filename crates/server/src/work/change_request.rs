//! Change requests: writes held for approval (four eyes).
//!
//! A write into an `approval_required` environment (or, for flags tagged
//! for compliance, into a protected one) does not take effect: the write
//! path ([`crate::write::apply`]) stores it as a change request ([`hold`])
//! with the documents before and after. Someone else with the `approver`
//! role approves it (as many times as the environment demands) or rejects
//! it. The last approval applies it, checking that every flag is still at
//! the version the request was made against; if one changed meanwhile the
//! request is stale and must be rebased (its change re-applied onto the
//! latest documents, approvals cleared) rather than blindly applied.
//!
//! ```text
//! pending ──last approval──▶ applied
//!    │ ▲
//!    │ └─approval, rebase (approvals cleared)
//!    └──────reject─────────▶ rejected
//! ```
//!
//! Everything here is a decision over documents: what the next state is,
//! and the changes that commit it. Reading and committing is
//! [`super::operations`]'.

use ff_store::{
    AuditedChange, Change, Expect, ResourceKind, StoreError, StoredWorkItem, WorkItem, WorkKind,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::item::{ItemStep, Status, bookkeeping, from_value, to_value};
use super::rollout_plan::{self, PlanStatus};
use super::schedule::{self, ScheduleStatus};
use crate::error::ApiError;
use crate::flag_ops::{merge_diff, merge_patch, parse_flag};
use crate::governance::{Review, WriteMeta};
use crate::ids::generate_id;
use crate::live::LiveConfig;

/// Where a change request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for approvals.
    Pending,
    /// Approved and applied.
    Applied,
    /// Rejected; nothing applied.
    Rejected,
}

impl Status for RequestStatus {
    const ALL: &'static [RequestStatus] = &[
        RequestStatus::Pending,
        RequestStatus::Applied,
        RequestStatus::Rejected,
    ];

    fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Applied => "applied",
            RequestStatus::Rejected => "rejected",
        }
    }
}

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

/// An approval, rejection or rebase.
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

/// The change request a held write becomes (not yet stored).
pub fn hold(
    live: &LiveConfig,
    changes: &[AuditedChange],
    meta: &WriteMeta,
    review: &Review,
) -> Result<WorkItem, ApiError> {
    let held = changes
        .iter()
        .map(|audited| held_change(live, audited, review))
        .collect::<Result<Vec<_>, _>>()?;
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
        status: RequestStatus::Pending.as_str().to_owned(),
        flag_id: single_flag(&request),
        environment: review.held.first().cloned(),
        due_at: None,
        document: to_value(&request)?,
    })
}

/// One flag write of a held change set, with the document it was made
/// against.
fn held_change(
    live: &LiveConfig,
    audited: &AuditedChange,
    review: &Review,
) -> Result<HeldChange, ApiError> {
    let (flag_id, after) = match &audited.change {
        Change::PutFlag(flag, _) => (flag.flag_id.clone(), to_value(flag)?),
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
    // A write made against an older version (If-Match, a body's version) is
    // a conflict now, as it would be if it were not held: approving it must
    // not overwrite what changed since.
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
    Ok(HeldChange {
        action: audited.action.clone(),
        restores,
        base_version,
        before: current
            .map(|f| serde_json::to_value(&f.flag).unwrap_or_default())
            .unwrap_or_default(),
        after,
        flag_id,
    })
}

fn single_flag(request: &ChangeRequest) -> Option<String> {
    match request.changes.as_slice() {
        [only] => Some(only.flag_id.clone()),
        _ => None,
    }
}

/// A schedule's or rollout plan's step held for approval: the request names
/// the item, and the item waits for the request. Returns the item's waiting
/// state, to commit with the request.
pub fn hold_step(request: &mut WorkItem, step: &ItemStep) -> Result<AuditedChange, ApiError> {
    request.document["origin"] = to_value(&Origin {
        kind: step.item.item.kind,
        id: step.item.item.id.clone(),
        next_status: step.next.status.clone(),
        next_due_at: step.next.due_at,
        next_document: step.next.document.clone(),
    })?;
    let mut waiting = step.item.item.clone();
    waiting.status = match waiting.kind {
        WorkKind::RolloutPlan => PlanStatus::Held.as_str(),
        _ => ScheduleStatus::Held.as_str(),
    }
    .to_owned();
    waiting.due_at = None;
    waiting.document["change_request_id"] = json!(request.id);
    Ok(bookkeeping(&step.item, waiting))
}

/// A decision's commit: the changes, one of which stores the request in
/// its new state.
#[derive(Debug)]
pub struct Decided {
    /// What to commit.
    pub changes: Vec<AuditedChange>,
    /// The request as it will be stored.
    pub request: WorkItem,
    /// The position of the request's own change in `changes`.
    pub request_change: usize,
    /// The request's changes apply with this commit.
    pub applies: bool,
}

/// The scheduled item a request holds a step of, when it still waits for
/// that request (it may have been cancelled meanwhile).
pub fn waits_for(item: &StoredWorkItem, request_id: &str) -> bool {
    let held = match item.item.kind {
        WorkKind::RolloutPlan => PlanStatus::Held.as_str(),
        _ => ScheduleStatus::Held.as_str(),
    };
    item.item.status == held && item.item.document["change_request_id"] == request_id
}

/// An approval by `approver`: never the author's nor a rebaser's (four
/// eyes), once per approver. The last approval needed applies the request's
/// changes, each expecting the version it was made against, and moves a
/// waiting item on in the same commit.
pub fn approval(
    stored: &StoredWorkItem,
    live: &LiveConfig,
    approver: &str,
    comment: Option<String>,
    at: OffsetDateTime,
    origin: Option<&(Origin, StoredWorkItem)>,
) -> Result<Decided, ApiError> {
    let id = &stored.item.id;
    let mut request = pending(stored)?;
    if request.author == approver {
        return Err(ApiError::Forbidden(format!(
            "change request {id} is yours: someone else must approve it (four eyes)"
        )));
    }
    if request.rebases.iter().any(|r| r.actor == approver) {
        return Err(ApiError::Forbidden(format!(
            "you rebased change request {id}, so what it applies is partly yours: someone else must approve it (four eyes)"
        )));
    }
    if request.approvals.iter().any(|a| a.actor == approver) {
        return Err(ApiError::Conflict {
            code: "already_approved",
            message: format!("you already approved change request {id}"),
            details: json!({ "approvals": request.approvals.len(), "required": request.required_approvals }),
        });
    }
    request.approvals.push(Decision {
        actor: approver.to_owned(),
        comment,
        at,
    });
    let applies = request.approvals.len() >= request.required_approvals as usize;
    let mut changes = Vec::new();
    let status = if applies {
        changes = request_changes(live, id, &request)?;
        request.applied_revision = Some(live.revision.saturating_add(1));
        if let Some((origin, item)) = origin {
            changes.push(origin_applied(id, origin, item));
        }
        RequestStatus::Applied
    } else {
        RequestStatus::Pending
    };
    let action = "change_request.approve";
    decided(
        stored,
        status,
        &request,
        action,
        (changes, Vec::new()),
        applies,
    )
}

/// A rejection by `rejecter`: nothing is applied; a waiting schedule fails,
/// a waiting plan pauses (it can be resumed, which proposes the step again).
pub fn rejection(
    stored: &StoredWorkItem,
    rejecter: &str,
    comment: Option<String>,
    at: OffsetDateTime,
    origin: Option<&StoredWorkItem>,
) -> Result<Decided, ApiError> {
    let id = &stored.item.id;
    let mut request = pending(stored)?;
    let mut after = Vec::new();
    if let Some(item) = origin {
        after.push(origin_rejected(id, item, comment.as_deref())?);
    }
    request.rejection = Some(Decision {
        actor: rejecter.to_owned(),
        comment,
        at,
    });
    let (status, action) = (RequestStatus::Rejected, "change_request.reject");
    decided(stored, status, &request, action, (Vec::new(), after), false)
}

/// A rebase by `rebaser`: each change re-applied onto its flag's latest
/// version (as a merge patch of what it changed), approvals cleared — what
/// is approved must be what will be applied.
pub fn rebased(
    stored: &StoredWorkItem,
    live: &LiveConfig,
    rebaser: &str,
    comment: Option<String>,
    at: OffsetDateTime,
) -> Result<Decided, ApiError> {
    let mut request = pending(stored)?;
    request.rebases.push(Decision {
        actor: rebaser.to_owned(),
        comment,
        at,
    });
    for held in &mut request.changes {
        rebase_change(live, held)?;
    }
    request.approvals.clear();
    let (status, action) = (RequestStatus::Pending, "change_request.rebase");
    decided(
        stored,
        status,
        &request,
        action,
        (Vec::new(), Vec::new()),
        false,
    )
}

/// One held change onto its flag's latest version (unchanged when the flag
/// is still at the version it was made against).
fn rebase_change(live: &LiveConfig, held: &mut HeldChange) -> Result<(), ApiError> {
    let current = live.flags.get(&held.flag_id);
    if current.map(|f| f.version) == held.base_version || (held.restores && current.is_none()) {
        return Ok(());
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
    let latest = to_value(&current.flag)?;
    if !held.after.is_null() {
        let patch = merge_diff(&held.before, &held.after);
        let mut rebased = latest.clone();
        merge_patch(&mut rebased, &patch);
        held.after = to_value(&parse_flag(&rebased)?)?;
    }
    held.before = latest;
    held.base_version = Some(current.version);
    Ok(())
}

/// The request, which must be pending. The commit of a decision expects the
/// version read, so a concurrent decision makes the later one a conflict.
pub fn pending(stored: &StoredWorkItem) -> Result<ChangeRequest, ApiError> {
    if RequestStatus::of(stored)? != RequestStatus::Pending {
        return Err(ApiError::Conflict {
            code: "not_pending",
            message: format!(
                "change request {} is {}, not pending",
                stored.item.id, stored.item.status
            ),
            details: json!({ "status": stored.item.status }),
        });
    }
    document(stored)
}

/// A stored request's document.
pub fn document(stored: &StoredWorkItem) -> Result<ChangeRequest, ApiError> {
    from_value(stored)
}

/// The request's new state (expecting the version read) between the
/// changes that come before and after it in the audit.
fn decided(
    stored: &StoredWorkItem,
    status: RequestStatus,
    request: &ChangeRequest,
    action: &str,
    (before, after): (Vec<AuditedChange>, Vec<AuditedChange>),
    applies: bool,
) -> Result<Decided, ApiError> {
    let mut item = stored.item.clone();
    item.status = status.as_str().to_owned();
    item.document = to_value(request)?;
    let own = AuditedChange {
        change: Change::PutWorkItem(item.clone(), Expect::Version(stored.version)),
        action: action.to_owned(),
        environment: item.environment.clone(),
    };
    let request_change = before.len();
    let changes = before
        .into_iter()
        .chain(std::iter::once(own))
        .chain(after)
        .collect();
    Ok(Decided {
        changes,
        request: item,
        request_change,
        applies,
    })
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
        let change = if held.after.is_null() {
            Change::DeleteFlag(held.flag_id.clone(), expect)
        } else {
            Change::PutFlag(parse_flag(&held.after)?, expect)
        };
        changes.push(AuditedChange {
            change,
            action: held.action.clone(),
            environment: request.environments.first().cloned(),
        });
    }
    Ok(changes)
}

/// The held item moved on as if its step had been applied by the scheduler.
fn origin_applied(id: &str, origin: &Origin, item: &StoredWorkItem) -> AuditedChange {
    let mut next = item.item.clone();
    next.status = origin.next_status.clone();
    next.due_at = origin.next_due_at;
    next.document = origin.next_document.clone();
    next.document["change_request_id"] = json!(id);
    bookkeeping(item, next)
}

/// The held item after its change request was rejected: a schedule fails,
/// a rollout plan pauses.
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
        WorkKind::RolloutPlan => rollout_plan::paused(item, &why)?,
        _ => schedule::failed(&item.item, &why),
    };
    Ok(bookkeeping(item, next))
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
pub fn stale_if_conflict(error: ApiError, id: &str) -> ApiError {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ff_store::StoredFlag;
    use time::macros::datetime;

    use super::*;

    const AT: OffsetDateTime = datetime!(2026-02-01 10:00 UTC);

    fn live_with_flag(version: i64) -> LiveConfig {
        let flag = ff_engine::parse_flag(&json!({"flag_id": "f", "default_value": false}))
            .unwrap_or_else(|p| panic!("{p:?}"));
        let mut live = LiveConfig::default();
        live.flags.insert(
            "f".into(),
            Arc::new(StoredFlag {
                flag,
                version,
                deleted: false,
                created_at: AT,
                updated_at: AT,
            }),
        );
        live
    }

    /// A pending request by `author`, needing `required` approvals, with
    /// these approvers and rebasers so far, made against version 1 of `f`.
    fn request(
        status: RequestStatus,
        required: u32,
        approvers: &[&str],
        rebasers: &[&str],
    ) -> StoredWorkItem {
        let decision = |actor: &&str| Decision {
            actor: (*actor).to_owned(),
            comment: None,
            at: AT,
        };
        let document = ChangeRequest {
            author: "author".into(),
            reason: None,
            deployment_id: None,
            environments: vec!["production".into()],
            required_approvals: required,
            confirmed: false,
            changes: vec![HeldChange {
                flag_id: "f".into(),
                action: "flag.update".into(),
                base_version: Some(1),
                restores: false,
                before: json!({"flag_id": "f", "default_value": false}),
                after: json!({"flag_id": "f", "default_value": true}),
            }],
            approvals: approvers.iter().map(decision).collect(),
            rejection: None,
            applied_revision: None,
            rebases: rebasers.iter().map(decision).collect(),
            origin: None,
        };
        StoredWorkItem {
            item: WorkItem {
                kind: WorkKind::ChangeRequest,
                id: "cr_1".into(),
                status: status.as_str().to_owned(),
                flag_id: Some("f".into()),
                environment: Some("production".into()),
                due_at: None,
                document: to_value(&document).unwrap_or_else(|e| panic!("{e}")),
            },
            version: 3,
            created_at: AT,
            updated_at: AT,
        }
    }

    /// The request, the approver, the flag's version now; the request's
    /// status after and whether it applies, or the error code.
    type Case<'a> = (
        StoredWorkItem,
        &'a str,
        i64,
        Result<(RequestStatus, bool), &'a str>,
    );

    /// Approving, one [`Case`] a line.
    #[test]
    fn approval_cases() {
        use RequestStatus::*;
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            (request(Pending, 1, &[], &[]), "approver", 1, Ok((Applied, true))),
            (request(Pending, 2, &[], &[]), "approver", 1, Ok((Pending, false))),
            (request(Pending, 2, &["first"], &[]), "approver", 1, Ok((Applied, true))),
            // Four eyes: not the author, not who rebased it, once each.
            (request(Pending, 1, &[], &[]), "author", 1, Err("forbidden")),
            (request(Pending, 1, &[], &["approver"]), "approver", 1, Err("forbidden")),
            (request(Pending, 2, &["approver"], &[]), "approver", 1, Err("already_approved")),
            // The flag changed since: stale, rebase it.
            (request(Pending, 1, &[], &[]), "approver", 2, Err("change_request_stale")),
            // Only a pending request is decided.
            (request(Applied, 1, &[], &[]), "approver", 1, Err("not_pending")),
            (request(Rejected, 1, &[], &[]), "approver", 1, Err("not_pending")),
        ];
        for (i, (stored, approver, version, expected)) in cases.into_iter().enumerate() {
            let live = live_with_flag(version);
            let got = approval(&stored, &live, approver, None, AT, None);
            match (got, expected) {
                (Ok(decided), Ok((status, applies))) => {
                    assert_eq!(decided.request.status, status.as_str(), "case {i}");
                    assert_eq!(decided.applies, applies, "case {i}");
                    // The flag's change (when it applies), then the request.
                    assert_eq!(decided.changes.len(), 1 + usize::from(applies), "case {i}");
                    assert!(matches!(
                        decided
                            .changes
                            .get(decided.request_change)
                            .map(|c| &c.change),
                        Some(Change::PutWorkItem(_, Expect::Version(3)))
                    ));
                }
                (Err(error), Err(code)) => assert_eq!(code_of(&error), code, "case {i}: {error}"),
                (got, expected) => panic!("case {i}: {got:?}, expected {expected:?}"),
            }
        }
    }

    fn code_of(error: &ApiError) -> &'static str {
        match error {
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Conflict { code, .. } => code,
            _ => "other",
        }
    }

    #[test]
    fn rebasing_clears_approvals_and_moves_the_base() {
        let stored = request(RequestStatus::Pending, 2, &["first"], &[]);
        let decided = rebased(&stored, &live_with_flag(4), "rebaser", None, AT)
            .unwrap_or_else(|e| panic!("{e}"));
        let after: ChangeRequest =
            serde_json::from_value(decided.request.document).unwrap_or_else(|e| panic!("{e}"));
        assert!(after.approvals.is_empty());
        assert_eq!(after.changes[0].base_version, Some(4));
        assert_eq!(after.rebases[0].actor, "rebaser");
        assert_eq!(decided.request.status, "pending");
    }

    #[test]
    fn statuses_are_named_as_stored() {
        for status in RequestStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(json!(status.as_str()))
            );
            assert_eq!(RequestStatus::parse(status.as_str()), Some(*status));
        }
    }
}
