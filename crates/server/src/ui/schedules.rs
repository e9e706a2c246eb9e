//! `/schedules`: scheduled changes and rollout plans. Lists both (a plan's
//! steps as a timeline: done, next, later, with their times), creates a
//! scheduled change (enable, disable or a value, at a time) and a rollout
//! plan (percentages from a time, every N hours), cancels a schedule,
//! pauses and resumes a plan: each through the API's own handlers
//! (`/api/v1/schedules`, `/api/v1/rollout-plans`).
//!
//! Times are typed in UTC (a `datetime-local` field says so): the page
//! cannot know the browser's zone without its script.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::{Form, extract};
use ff_api_types::{
    CreateRolloutPlanRequest, CreateScheduleRequest, PauseRequest, RuleSelector, ScheduledAction,
};
use ff_store::{StoredWorkItem, WorkKind, WorkQuery};
use serde::Deserialize;
use serde_json::Value;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{JsonBody, OptionalJsonBody, Path};
use crate::routes::overview::environments_in_tree_order;
use crate::routes::{rollout_plans, schedules};
use crate::state::AppState;
use crate::ui::actions::{CommonFields, api_message, back_to, check_csrf, write_headers};
use crate::ui::changes::{name_of, people_names};
use crate::ui::dashboard::Choice;
use crate::ui::shell::{
    PageResult, Shell, format_time, percentage, redirect_with_flash, render, viewer,
};
use crate::work::item::from_value;
use crate::work::rollout_plan::RolloutPlan;
use crate::work::schedule::Schedule;

#[derive(Template)]
#[template(path = "schedules.html")]
struct SchedulesPage {
    shell: Shell,
    schedules: Vec<ScheduleRow>,
    plans: Vec<PlanView>,
    flag_ids: Vec<String>,
    environments: Vec<Choice>,
    /// An example time for the forms: the next full hour, in UTC.
    next_hour: String,
}

struct ScheduleRow {
    id: String,
    flag_id: String,
    environment: String,
    what: String,
    when: String,
    status: String,
    author: String,
    reason: Option<String>,
    /// Why it failed, or the change request that holds it.
    note: Option<String>,
}

struct PlanView {
    id: String,
    flag_id: String,
    environment: String,
    status: String,
    rule: String,
    author: String,
    reason: Option<String>,
    note: Option<String>,
    steps: Vec<StepView>,
}

/// One step of a plan's timeline.
struct StepView {
    percentage: String,
    /// When it is (or was) due.
    at: String,
    /// `done`, `next` or `later`.
    state: &'static str,
    /// When it was applied.
    applied_at: Option<String>,
}

/// How many of each are listed (newest first).
const LISTED: u32 = 100;

/// `GET /schedules`.
pub async fn show_schedules(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    uri: Uri,
) -> PageResult {
    let principal = viewer(principal)?;
    let live = state.live.current();
    let shell = Shell::new(&state, &live, &principal, "Schedules", "changes", &uri).await;
    let names = people_names(&state).await;
    let list = |kind| {
        let state = state.clone();
        async move {
            state
                .store
                .work_items(&WorkQuery {
                    kind: Some(kind),
                    limit: Some(LISTED),
                    ..WorkQuery::default()
                })
                .await
                .map_err(ApiError::from)
        }
    };
    let schedules = list(WorkKind::Schedule)
        .await?
        .iter()
        .filter_map(|stored| schedule_row(stored, &names))
        .collect();
    let plans = list(WorkKind::RolloutPlan)
        .await?
        .iter()
        .filter_map(|stored| plan_view(stored, &names))
        .collect();
    let environments = environments_in_tree_order(&live);
    let now = OffsetDateTime::now_utc();
    let next_hour = now
        .saturating_add(time::Duration::hours(1))
        .replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:00",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour()
            )
        })
        .unwrap_or_default();
    render(&SchedulesPage {
        shell,
        schedules,
        plans,
        flag_ids: live.flags.keys().cloned().collect(),
        environments: Choice::list(environments.iter().map(|e| e.key.as_str()), "staging"),
        next_hour,
    })
}

fn schedule_row(
    stored: &StoredWorkItem,
    names: &std::collections::HashMap<String, String>,
) -> Option<ScheduleRow> {
    let schedule: Schedule = from_value(stored).ok()?;
    Some(ScheduleRow {
        id: stored.item.id.clone(),
        environment: schedule
            .environment
            .clone()
            .unwrap_or_else(|| "every environment".to_owned()),
        what: schedule.action.describe(),
        when: format_time(schedule.at),
        status: stored.item.status.clone(),
        author: name_of(names, &schedule.author),
        reason: schedule.reason.clone(),
        note: note(&stored.item.document),
        flag_id: schedule.flag_id,
    })
}

/// Why an item failed, or the change request it waits for.
fn note(document: &Value) -> Option<String> {
    if let Some(error) = document["error"].as_str() {
        return Some(format!("failed: {error}"));
    }
    document["change_request_id"]
        .as_str()
        .map(|id| format!("waits for approval of {id}"))
}

fn plan_view(
    stored: &StoredWorkItem,
    names: &std::collections::HashMap<String, String>,
) -> Option<PlanView> {
    let plan: RolloutPlan = from_value(stored).ok()?;
    let applied_at = |index: usize| {
        plan.history
            .iter()
            .find(|h| h["step"].as_u64() == Some(index as u64))
            .and_then(|h| h["applied_at"].as_str())
            .and_then(|at| {
                OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()
            })
            .map(format_time)
    };
    let steps = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| StepView {
            percentage: percentage(step.percentage),
            at: format_time(step.at),
            state: match i.cmp(&plan.next_step) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal => "next",
                std::cmp::Ordering::Greater => "later",
            },
            applied_at: applied_at(i),
        })
        .collect();
    let mut note = note(&stored.item.document);
    if let Some(why) = &plan.paused_reason
        && stored.item.status == "paused"
    {
        note = Some(format!("paused: {why}"));
    }
    Some(PlanView {
        id: stored.item.id.clone(),
        status: stored.item.status.clone(),
        rule: match &plan.rule {
            Some(ff_engine::edit::RuleSelector::Name(name)) => format!("rule {name}"),
            Some(ff_engine::edit::RuleSelector::Index(i)) => format!("rule {}", super::ordinal(*i)),
            None => "the first rule with a percentage".to_owned(),
        },
        author: name_of(names, &plan.author),
        reason: plan.reason.clone(),
        note,
        steps,
        flag_id: plan.flag_id,
        environment: plan.environment,
    })
}

/// `POST /schedules`.
#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    flag_id: String,
    #[serde(default)]
    environment: String,
    /// `enable`, `disable` or `set_value`.
    action: String,
    /// For `set_value`: JSON, or text for a string flag.
    #[serde(default)]
    value: String,
    /// `YYYY-MM-DDTHH:MM`, UTC.
    at: String,
    #[serde(flatten)]
    common: CommonFields,
}

/// `POST /schedules`: as `POST /api/v1/schedules`.
pub async fn create_schedule(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    Form(form): Form<ScheduleForm>,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &form.common)?;
    let back = back_to(&headers, &form.common, "/schedules");
    let flag_id = form.flag_id.trim().to_owned();
    let request = (|| {
        let action = match form.action.as_str() {
            "enable" => ScheduledAction::Enable,
            "disable" => ScheduledAction::Disable,
            "set_value" => ScheduledAction::SetValue {
                value: typed_value(&state, &flag_id, &form.value),
            },
            other => return Err(format!("unknown action \"{other}\"")),
        };
        Ok(CreateScheduleRequest {
            flag_id: flag_id.clone(),
            environment: non_empty(&form.environment),
            at: utc_time(&form.at).ok_or("when: give a date and time (UTC)")?,
            action,
            reason: non_empty(&form.common.reason),
            deployment_id: None,
        })
    })();
    let request = match request {
        Ok(request) => request,
        Err(message) => return Ok(redirect_with_flash(&back, "error", &message)),
    };
    let when = format_time(request.at);
    let result = schedules::create_schedule(
        State(state),
        principal,
        write_headers(&headers, &form.common, None),
        JsonBody(request),
    )
    .await;
    Ok(match result {
        Ok(response) if response.status() == StatusCode::CREATED => {
            let id = crate::ui::actions::body_json(response).await["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            redirect_with_flash(
                &back,
                "ok",
                &format!("Scheduled {id}: {flag_id} changes at {when}."),
            )
        }
        Ok(_) => redirect_with_flash(&back, "ok", "Scheduled."),
        Err(error) => redirect_with_flash(&back, "error", &api_message(error).await),
    })
}

/// A value typed in a form: text as it is for a string flag, else JSON
/// (and text that is not JSON as a string, which the API then refuses
/// with the flag's type).
fn typed_value(state: &AppState, flag_id: &str, text: &str) -> Value {
    let live = state.live.current();
    let is_string = live
        .flags
        .get(flag_id)
        .is_some_and(|f| f.flag.flag_type.as_str() == "string");
    if is_string {
        return Value::String(text.to_owned());
    }
    serde_json::from_str(text.trim()).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// `POST /schedules/{id}/cancel`: as `DELETE /api/v1/schedules/{id}`.
pub async fn cancel_schedule(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path(id): extract::Path<String>,
    Form(common): Form<CommonFields>,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &common)?;
    let back = back_to(&headers, &common, "/schedules");
    let result = schedules::cancel_schedule(
        State(state),
        principal,
        write_headers(&headers, &common, None),
        Path(id.clone()),
    )
    .await;
    Ok(match result {
        Ok(_) => redirect_with_flash(&back, "ok", &format!("Cancelled {id}.")),
        Err(error) => redirect_with_flash(&back, "error", &api_message(error).await),
    })
}

/// `POST /rollout-plans`.
#[derive(Debug, Deserialize)]
pub struct PlanForm {
    flag_id: String,
    environment: String,
    /// A rule's name or number (from 1); empty: the first with a
    /// percentage.
    #[serde(default)]
    rule: String,
    /// `5, 25, 50, 100`.
    percentages: String,
    /// The first step, `YYYY-MM-DDTHH:MM` UTC.
    start_at: String,
    /// Hours between steps.
    every_hours: String,
    #[serde(flatten)]
    common: CommonFields,
}

/// `POST /rollout-plans`: as `POST /api/v1/rollout-plans`.
pub async fn create_plan(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    Form(form): Form<PlanForm>,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &form.common)?;
    let back = back_to(&headers, &form.common, "/schedules");
    let request = (|| {
        let percentages = form
            .percentages
            .split([',', ' ', '→', '%'])
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|_| "steps: percentages separated by commas, e.g. 5, 25, 50, 100")?;
        if percentages.is_empty() {
            return Err("steps: give at least one percentage".to_owned());
        }
        let every_hours = form
            .every_hours
            .trim()
            .parse::<f64>()
            .map_err(|_| "every: a number of hours, e.g. 24")?;
        let rule = form.rule.trim();
        let rule = match rule.parse::<usize>() {
            _ if rule.is_empty() => None,
            Ok(number) if number >= 1 => Some(RuleSelector::Index(number.saturating_sub(1))),
            _ => Some(RuleSelector::Name(rule.to_owned())),
        };
        Ok(CreateRolloutPlanRequest {
            flag_id: form.flag_id.trim().to_owned(),
            environment: form.environment.clone(),
            rule,
            steps: None,
            percentages: Some(percentages),
            start_at: Some(
                utc_time(&form.start_at).ok_or("first step: give a date and time (UTC)")?,
            ),
            every_hours: Some(every_hours),
            reason: non_empty(&form.common.reason),
        })
    })();
    let request = match request {
        Ok(request) => request,
        Err(message) => return Ok(redirect_with_flash(&back, "error", &message)),
    };
    let flag_id = request.flag_id.clone();
    let result = rollout_plans::create_rollout_plan(
        State(state),
        principal,
        write_headers(&headers, &form.common, None),
        JsonBody(request),
    )
    .await;
    Ok(match result {
        Ok(response) => {
            let id = crate::ui::actions::body_json(response).await["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            redirect_with_flash(
                &back,
                "ok",
                &format!("Rollout plan {id} created for {flag_id}."),
            )
        }
        Err(error) => redirect_with_flash(&back, "error", &api_message(error).await),
    })
}

/// `POST /rollout-plans/{id}/pause` and `/resume`.
pub async fn pause_plan(
    state: State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    path: extract::Path<String>,
    Form(common): Form<CommonFields>,
) -> PageResult {
    pause_or_resume(state, principal, headers, path, common, true).await
}

/// `POST /rollout-plans/{id}/resume`.
pub async fn resume_plan(
    state: State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    path: extract::Path<String>,
    Form(common): Form<CommonFields>,
) -> PageResult {
    pause_or_resume(state, principal, headers, path, common, false).await
}

async fn pause_or_resume(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
    headers: HeaderMap,
    extract::Path(id): extract::Path<String>,
    common: CommonFields,
    pause: bool,
) -> PageResult {
    let principal = principal?;
    check_csrf(&principal, &common)?;
    let back = back_to(&headers, &common, "/schedules");
    let body = OptionalJsonBody(PauseRequest {
        reason: non_empty(&common.reason),
    });
    let api_headers = write_headers(&headers, &common, None);
    let result = if pause {
        rollout_plans::pause_rollout_plan(
            State(state),
            principal,
            api_headers,
            Path(id.clone()),
            body,
        )
        .await
    } else {
        rollout_plans::resume_rollout_plan(
            State(state),
            principal,
            api_headers,
            Path(id.clone()),
            body,
        )
        .await
    };
    Ok(match result {
        Ok(_) if pause => redirect_with_flash(&back, "ok", &format!("Paused {id}.")),
        Ok(_) => redirect_with_flash(
            &back,
            "ok",
            &format!(
                "Resumed {id}: steps whose time has passed apply at the next run, one per run."
            ),
        ),
        Err(error) => redirect_with_flash(&back, "error", &api_message(error).await),
    })
}

/// A `datetime-local` value (`2026-12-08T09:00`, seconds optional) read
/// as UTC; an RFC 3339 time is taken as it is.
fn utc_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(at) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(at);
    }
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text, minutes)
        .or_else(|_| PrimitiveDateTime::parse(text, seconds))
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn form_times_are_utc() {
        assert_eq!(
            utc_time("2026-12-08T09:30"),
            Some(datetime!(2026-12-08 09:30 UTC))
        );
        assert_eq!(
            utc_time("2026-12-08T09:30:15"),
            Some(datetime!(2026-12-08 09:30:15 UTC))
        );
        assert_eq!(
            utc_time("2026-12-08T09:30:00+01:00"),
            Some(datetime!(2026-12-08 08:30 UTC))
        );
        assert_eq!(utc_time("tomorrow"), None);
    }
}
