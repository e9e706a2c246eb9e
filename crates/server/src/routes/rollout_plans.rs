//! `/api/v1/rollout-plans`: a rule's percentage raised step by step (say
//! 5 → 25 → 50 → 100 %) at given times or every N hours. The scheduler
//! (`crate::scheduler`) applies each step when it falls due, exactly once;
//! a plan can be paused and resumed, and the kill switch pauses it.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use ff_engine::edit::RuleSelector;
use ff_store::{Change, Expect, Role, StoredWorkItem, WorkItem, WorkKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::actions::Action;
use crate::auth::{Principal, generate_id};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, OptionalJsonBody, Path, QueryParams};
use crate::flag_ops::rfc3339;
use crate::governance::{WriteMeta, WriteMode};
use crate::routes::schedules::{
    self, ListQuery, check_target, from_value, item_response, list, load,
    require_reason_if_protected, to_value,
};
use crate::scheduler::Step;
use crate::state::AppState;
use crate::write::{apply, change};

/// Steps remain and the scheduler advances it.
pub const ACTIVE: &str = "active";
/// Paused (by someone, or by the kill switch).
pub const PAUSED: &str = "paused";
/// Every step applied.
pub const COMPLETED: &str = "completed";

/// One step: a percentage from a time on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    /// The rule's percentage from then on.
    pub percentage: f64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// `POST /api/v1/rollout-plans`: either `steps`, or `percentages` with
/// `start_at` and `every_hours`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePlan {
    flag_id: String,
    environment: String,
    #[serde(default)]
    rule: Option<RuleSelector>,
    #[serde(default)]
    steps: Option<Vec<PlanStep>>,
    #[serde(default)]
    percentages: Option<Vec<f64>>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    start_at: Option<OffsetDateTime>,
    #[serde(default)]
    every_hours: Option<f64>,
    #[serde(default)]
    reason: Option<String>,
}

/// A plan's body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutPlan {
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: String,
    /// The rule whose percentage changes.
    pub rule: Option<RuleSelector>,
    /// The steps, in time order.
    pub steps: Vec<PlanStep>,
    /// The next step to apply.
    pub next_step: usize,
    /// Who made it.
    pub author: String,
    /// Why.
    pub reason: Option<String>,
    /// What was applied, when.
    #[serde(default)]
    pub history: Vec<Value>,
    /// Why it is paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
}

/// `POST /api/v1/rollout-plans`.
pub async fn create_rollout_plan(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreatePlan>,
) -> ApiResult<Response> {
    principal.require(Role::Editor)?;
    let meta = WriteMeta::from_request(&principal, &headers)
        .with_body(request.reason.clone(), None)
        .in_mode(WriteMode::Administrative);
    let steps = plan_steps(&request)?;
    // Check against the latest configuration (another node may have just
    // created the flag).
    state.live.refresh().await?;
    let live = state.live.current();
    for step in &steps {
        check_target(
            &live,
            &request.flag_id,
            Some(&request.environment),
            &percentage(step.percentage, request.rule.clone()),
        )?;
    }
    require_reason_if_protected(&live, Some(&request.environment), meta.reason.as_deref())?;
    let plan = RolloutPlan {
        flag_id: request.flag_id,
        environment: request.environment,
        rule: request.rule,
        next_step: 0,
        author: principal.key_id().to_owned(),
        reason: meta.reason.clone(),
        history: Vec::new(),
        paused_reason: None,
        steps,
    };
    let item = WorkItem {
        kind: WorkKind::RolloutPlan,
        id: generate_id("plan"),
        status: ACTIVE.to_owned(),
        flag_id: Some(plan.flag_id.clone()),
        environment: Some(plan.environment.clone()),
        due_at: plan.steps.first().map(|s| s.at),
        document: to_value(&plan)?,
    };
    schedules::create(&state, meta, item, "rollout_plan.create").await
}

fn percentage(percentage: f64, rule: Option<RuleSelector>) -> Action {
    Action::Percentage { percentage, rule }
}

/// The steps a request describes, checked: at least one, percentages in
/// 0–100, times in order.
fn plan_steps(request: &CreatePlan) -> Result<Vec<PlanStep>, ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_plan", message);
    let steps = match (&request.steps, &request.percentages) {
        (Some(steps), None) => steps.clone(),
        (None, Some(percentages)) => {
            let start = request
                .start_at
                .ok_or_else(|| invalid("percentages need start_at".into()))?;
            let hours = request
                .every_hours
                .filter(|h| h.is_finite() && *h > 0.0)
                .ok_or_else(|| invalid("percentages need every_hours > 0".into()))?;
            let every = time::Duration::seconds_f64(hours * 3600.0);
            percentages
                .iter()
                .enumerate()
                .map(|(i, p)| PlanStep {
                    percentage: *p,
                    at: start + every * i32::try_from(i).unwrap_or(i32::MAX),
                })
                .collect()
        }
        _ => {
            return Err(invalid(
                "give either steps [{percentage, at}] or percentages with start_at and every_hours"
                    .into(),
            ));
        }
    };
    if steps.is_empty() {
        return Err(invalid("a plan needs at least one step".into()));
    }
    for (i, step) in steps.iter().enumerate() {
        if !(0.0..=100.0).contains(&step.percentage) {
            return Err(invalid(format!(
                "steps[{i}].percentage must be between 0 and 100, found {}",
                step.percentage
            )));
        }
        if i > 0 && step.at < steps[i - 1].at {
            return Err(invalid(format!(
                "steps[{i}].at is before steps[{}].at",
                i - 1
            )));
        }
    }
    Ok(steps)
}

/// The scheduler's step for a due plan: its next percentage; the plan
/// moves on to the step after (or completes).
pub fn step(item: &StoredWorkItem, now: OffsetDateTime) -> Result<Step, ApiError> {
    let mut plan: RolloutPlan = from_value(item)?;
    let Some(current) = plan.steps.get(plan.next_step).cloned() else {
        return Err(ApiError::Internal(format!(
            "plan {} has no step left",
            item.item.id
        )));
    };
    plan.history.push(json!({
        "step": plan.next_step,
        "percentage": current.percentage,
        "applied_at": rfc3339(now),
    }));
    plan.next_step += 1;
    let mut next = item.item.clone();
    next.due_at = plan.steps.get(plan.next_step).map(|s| s.at);
    if next.due_at.is_none() {
        next.status = COMPLETED.to_owned();
    }
    next.document = to_value(&plan)?;
    Ok(Step {
        flag_id: plan.flag_id.clone(),
        environment: Some(plan.environment.clone()),
        action: percentage(current.percentage, plan.rule.clone()),
        next,
        author: plan.author.clone(),
        reason: plan.reason.clone().or_else(|| {
            Some(format!(
                "rollout plan {}: step {} of {} ({} %)",
                item.item.id,
                plan.next_step,
                plan.steps.len(),
                current.percentage
            ))
        }),
        confirmed: false,
        deployment_id: None,
    })
}

/// `GET /api/v1/rollout-plans`.
pub async fn list_rollout_plans(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Viewer)?;
    list(&state, WorkKind::RolloutPlan, query).await
}

/// `GET /api/v1/rollout-plans/{id}`.
pub async fn get_rollout_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Viewer)?;
    Ok(Json(item_response(
        &load(&state, WorkKind::RolloutPlan, &id).await?,
    )))
}

/// The body of pause and resume.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// Why.
    reason: Option<String>,
}

/// `POST /api/v1/rollout-plans/{id}/pause`.
pub async fn pause_rollout_plan(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<PauseBody>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Editor)?;
    let stored = load(&state, WorkKind::RolloutPlan, &id).await?;
    if stored.item.status != ACTIVE {
        return Err(not_in(&stored, ACTIVE));
    }
    let reason = body.reason.unwrap_or_else(|| "paused".to_owned());
    let paused = paused(&stored, &reason)?;
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    write(&state, meta, &stored, paused, "rollout_plan.pause").await
}

/// `POST /api/v1/rollout-plans/{id}/resume`: steps whose time has passed
/// apply at the scheduler's next run, one per run.
pub async fn resume_rollout_plan(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(_body): OptionalJsonBody<PauseBody>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::Editor)?;
    let stored = load(&state, WorkKind::RolloutPlan, &id).await?;
    if stored.item.status != PAUSED {
        return Err(not_in(&stored, PAUSED));
    }
    let mut plan: RolloutPlan = from_value(&stored)?;
    plan.paused_reason = None;
    let mut resumed = stored.item.clone();
    resumed.status = ACTIVE.to_owned();
    resumed.due_at = plan.steps.get(plan.next_step).map(|s| s.at);
    if resumed.due_at.is_none() {
        resumed.status = COMPLETED.to_owned();
    }
    resumed.document = to_value(&plan)?;
    let meta = WriteMeta::from_request(&principal, &headers).in_mode(WriteMode::Administrative);
    write(&state, meta, &stored, resumed, "rollout_plan.resume").await
}

/// The plan paused, with the reason.
pub fn paused(stored: &StoredWorkItem, reason: &str) -> Result<WorkItem, ApiError> {
    let mut plan: RolloutPlan = from_value(stored)?;
    plan.paused_reason = Some(reason.to_owned());
    let mut paused = stored.item.clone();
    paused.status = PAUSED.to_owned();
    paused.due_at = None;
    paused.document = to_value(&plan)?;
    Ok(paused)
}

async fn write(
    state: &AppState,
    meta: WriteMeta,
    stored: &StoredWorkItem,
    next: WorkItem,
    action: &str,
) -> ApiResult<Json<Value>> {
    let id = next.id.clone();
    let environment = next.environment.clone();
    apply(state, meta, |_| {
        Ok(vec![change(
            Change::PutWorkItem(next, Expect::Version(stored.version)),
            action,
            environment.as_deref(),
        )])
    })
    .await?
    .into_commit()?;
    Ok(Json(item_response(
        &load(state, WorkKind::RolloutPlan, &id).await?,
    )))
}

fn not_in(stored: &StoredWorkItem, wanted: &str) -> ApiError {
    ApiError::Conflict {
        code: "invalid_state",
        message: format!(
            "rollout plan {} is {}, not {wanted}",
            stored.item.id, stored.item.status
        ),
        details: json!({ "status": stored.item.status }),
    }
}
