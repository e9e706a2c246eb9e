//! The scheduler: applies scheduled changes and advances rollout plans when
//! they fall due.
//!
//! Every node runs it. Exactly-once does not rest on a lock table: each
//! item is applied in one commit together with its own new state, and that
//! commit expects the item's version as read. Commits are serialised across
//! nodes (SQLite's single writer, PostgreSQL's advisory write lock), so when
//! two nodes find the same item due, the second one's commit fails its
//! version check and writes nothing — the same guarantee as `SELECT … FOR
//! UPDATE SKIP LOCKED`, and it also holds on SQLite.
//!
//! An item that cannot be applied (its change no longer validates, a change
//! window is closed) is marked `failed` with the reason, never half-applied.
//! One that needs approval becomes a change request (the item is `held`,
//! naming it), in the same commit.

use std::time::Duration;

use ff_store::{AuditedChange, Change, Expect, StoredWorkItem, WorkKind, WorkQuery};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::action::apply_action;
use super::item::{ItemStep, Status, Step, bookkeeping, kind_name};
use super::rollout_plan::{self, PlanStatus};
use super::schedule::{self, ScheduleStatus};
use crate::error::ApiError;
use crate::governance::{WriteMeta, WriteMode};
use crate::live::{LiveConfig, live_flag};
use crate::state::AppState;
use crate::write::{self, Plan, apply, change};

/// What one run did to one item.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepOutcome {
    /// `schedule` or `rollout_plan`.
    pub kind: &'static str,
    /// The item.
    pub id: String,
    /// `applied`, `held`, `failed`, or `skipped` (another node got it first).
    pub result: &'static str,
    /// Why it failed or was skipped; the change request when held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Runs until the service stops: every `interval`, applies what is due.
pub async fn run(state: AppState, interval: Duration) {
    let mut stopping = state.stopping.subscribe();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        let result = run_due(&state).await;
        // Counted once the run is over, so a count says the work is done.
        state.metrics.scheduler_runs.inc();
        if let Err(error) = result {
            state.metrics.scheduler_failures.inc();
            tracing::warn!(%error, "scheduler run failed; retrying at the next tick");
        }
    }
}

/// Applies every schedule and rollout step due now, oldest first.
pub async fn run_due(state: &AppState) -> Result<Vec<StepOutcome>, ApiError> {
    let now = state.clock.now();
    let due = state
        .store
        .work_items(&WorkQuery {
            kind: None,
            statuses: vec![
                ScheduleStatus::Scheduled.as_str().to_owned(),
                PlanStatus::Active.as_str().to_owned(),
            ],
            due_by: Some(now),
            limit: Some(100),
            ..WorkQuery::default()
        })
        .await?;
    let mut outcomes = Vec::with_capacity(due.len());
    for item in due {
        outcomes.push(run_one(state, item, now).await);
    }
    Ok(outcomes)
}

async fn run_one(state: &AppState, item: StoredWorkItem, now: OffsetDateTime) -> StepOutcome {
    let kind = match item.item.kind {
        WorkKind::Schedule => "schedule",
        _ => "rollout_plan",
    };
    let id = item.item.id.clone();
    let outcome = |result, detail| StepOutcome {
        kind,
        id: id.clone(),
        result,
        detail,
    };
    let step = match item.item.kind {
        WorkKind::Schedule => schedule::step(&item, now),
        _ => rollout_plan::step(&item, now),
    };
    let step = match step {
        Ok(step) => step,
        Err(error) => return fail(state, &item, now, error_text(&error), kind).await,
    };
    match attempt(state, &item, &step).await {
        Ok(Attempt::Applied) => outcome("applied", None),
        Ok(Attempt::Held(request)) => outcome("held", Some(request)),
        Err(ApiError::Conflict {
            code: "version_conflict",
            details,
            ..
        }) if details["kind"] == item.item.kind.resource_kind().as_str() => {
            outcome("skipped", Some("another node applied it first".to_owned()))
        }
        // The flag changed between this run's read and its commit (another
        // node wrote it): the item is still due, and the next run applies
        // its step to the latest document.
        Err(ApiError::Conflict {
            code: "version_conflict",
            details,
            ..
        }) if details["kind"] == "flag" => outcome(
            "skipped",
            Some("the flag changed meanwhile; retried at the next run".to_owned()),
        ),
        Err(error) => fail(state, &item, now, error_text(&error), kind).await,
    }
}

enum Attempt {
    Applied,
    Held(String),
}

/// Applies a step under the environments' rules, reviewed once like any
/// write of its author's: committed with the item's next state, or held as
/// a change request that the item then waits for.
async fn attempt(
    state: &AppState,
    item: &StoredWorkItem,
    step: &Step,
) -> Result<Attempt, ApiError> {
    let meta = WriteMeta {
        actor: step.author.clone(),
        role: None,
        // A step was checked against its author's scope when it was made.
        environment_roles: None,
        mode: WriteMode::Governed,
        confirmed: step.confirmed,
        override_window: false,
        reason: Some(
            step.reason
                .clone()
                .unwrap_or_else(|| format!("{} {}", kind_name(item.item.kind), item.item.id)),
        ),
        request_id: Some(item.item.id.clone()),
        deployment_id: step.deployment_id.clone(),
    };
    let outcome = apply(state, meta, |live| {
        Ok(Plan {
            changes: planned_change(live, step, item)?.into_iter().collect(),
            step: Some(ItemStep {
                item: item.clone(),
                next: step.next.clone(),
            }),
        })
    })
    .await?;
    Ok(match outcome {
        write::Outcome::Held(request) => Attempt::Held(request.id),
        write::Outcome::Committed(_) | write::Outcome::Unchanged => Attempt::Applied,
    })
}

/// The flag change of a step; `None` when the flag is already as wanted.
fn planned_change(
    live: &LiveConfig,
    step: &Step,
    item: &StoredWorkItem,
) -> Result<Option<AuditedChange>, ApiError> {
    let current = live_flag(live, &step.flag_id)?;
    if let Some(env) = &step.environment
        && !live.environments.contains_key(env)
    {
        return Err(ApiError::not_found("environment", env));
    }
    let next = apply_action(
        &current.flag,
        step.environment.as_deref(),
        &step.action,
        &live.environment_tree(),
    )?;
    if next == current.flag {
        // Already so: record the step without a new flag version.
        return Ok(None);
    }
    Ok(Some(change(
        Change::PutFlag(next, Expect::Version(current.version)),
        match item.item.kind {
            WorkKind::Schedule => "schedule.apply",
            _ => "rollout_plan.step",
        },
        step.environment.as_deref(),
    )))
}

/// Marks an item failed with the reason (if another node has not already
/// moved it on).
async fn fail(
    state: &AppState,
    item: &StoredWorkItem,
    now: OffsetDateTime,
    reason: String,
    kind: &'static str,
) -> StepOutcome {
    let mut failed = item.item.clone();
    failed.status = match item.item.kind {
        WorkKind::RolloutPlan => PlanStatus::Failed.as_str(),
        _ => ScheduleStatus::Failed.as_str(),
    }
    .to_owned();
    failed.due_at = None;
    failed.document["error"] = Value::String(reason.clone());
    failed.document["failed_at"] = json!(crate::flag_ops::rfc3339(now));
    let meta = WriteMeta {
        actor: "system".to_owned(),
        mode: WriteMode::Administrative,
        reason: Some(reason.clone()),
        ..WriteMeta::default()
    };
    let result = apply(state, meta, |_| Ok(vec![bookkeeping(item, failed)])).await;
    StepOutcome {
        kind,
        id: item.item.id.clone(),
        result: if result.is_ok() { "failed" } else { "skipped" },
        detail: Some(reason),
    }
}

fn error_text(error: &ApiError) -> String {
    match error {
        ApiError::Validation(problems) => problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}
