//! Rollout plans: a rule's percentage raised step by step (say
//! 5 → 25 → 50 → 100 %) at given times or every N hours. The scheduler
//! ([`super::scheduler`]) applies each step when it falls due, exactly once;
//! a plan can be paused and resumed, and the kill switch pauses it.
//!
//! ```text
//! active ──last step──▶ completed
//!   │  ▲ └──a step held──▶ held (approved: active or completed; rejected: paused)
//!   │  │ └──a step fails─▶ failed
//! pause resume
//!   ▼  │
//! paused
//! ```

use ff_engine::edit::RuleSelector;
use ff_store::{StoredWorkItem, WorkItem, WorkKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::action::Action;
use super::item::{Status, Step, from_value, to_value};
use crate::error::ApiError;
use crate::flag_ops::rfc3339;
use crate::ids::generate_id;

/// Where a plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Steps remain and the scheduler advances it.
    Active,
    /// Paused (by someone, or by the kill switch).
    Paused,
    /// Every step applied.
    Completed,
    /// A step became a change request (named in `change_request_id`).
    Held,
    /// A step could not be applied (`error` says why).
    Failed,
}

impl Status for PlanStatus {
    const ALL: &'static [PlanStatus] = &[
        PlanStatus::Active,
        PlanStatus::Paused,
        PlanStatus::Completed,
        PlanStatus::Held,
        PlanStatus::Failed,
    ];

    fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Active => "active",
            PlanStatus::Paused => "paused",
            PlanStatus::Completed => "completed",
            PlanStatus::Held => "held",
            PlanStatus::Failed => "failed",
        }
    }
}

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

/// A plan's body (the work item's document).
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

impl RolloutPlan {
    /// The change a step makes.
    pub fn action(&self, step: &PlanStep) -> Action {
        Action::Percentage {
            percentage: step.percentage,
            rule: self.rule.clone(),
        }
    }
}

/// How the steps are asked for: either each `{percentage, at}`, or
/// percentages from `start_at`, one every `every_hours`.
#[derive(Debug, Clone, Default)]
pub struct StepsAsked {
    /// Explicit steps.
    pub steps: Option<Vec<PlanStep>>,
    /// Percentages, evenly spaced.
    pub percentages: Option<Vec<f64>>,
    /// When the first of `percentages` applies.
    pub start_at: Option<OffsetDateTime>,
    /// Hours between two of `percentages`.
    pub every_hours: Option<f64>,
}

/// The steps asked for, checked: at least one, percentages in 0–100, times
/// in order.
pub fn plan_steps(asked: &StepsAsked) -> Result<Vec<PlanStep>, ApiError> {
    let invalid = |message: String| ApiError::bad_request("invalid_plan", message);
    let steps = match (&asked.steps, &asked.percentages) {
        (Some(steps), None) => steps.clone(),
        (None, Some(percentages)) => {
            let start = asked
                .start_at
                .ok_or_else(|| invalid("percentages need start_at".into()))?;
            let hours = asked
                .every_hours
                .filter(|h| h.is_finite() && *h > 0.0)
                .ok_or_else(|| invalid("percentages need every_hours > 0".into()))?;
            // Checked: a start near year 9999 or an interval of ages must be
            // a clear refusal, not an overflow.
            let beyond = || invalid("every_hours: the steps would fall after year 9999".into());
            let every = time::Duration::checked_seconds_f64(hours * 3600.0).ok_or_else(beyond)?;
            percentages
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let at = i32::try_from(i)
                        .ok()
                        .and_then(|i| every.checked_mul(i))
                        .and_then(|offset| start.checked_add(offset))
                        .ok_or_else(beyond)?;
                    Ok(PlanStep { percentage: *p, at })
                })
                .collect::<Result<_, ApiError>>()?
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
        let previous = i.checked_sub(1);
        if !(0.0..=100.0).contains(&step.percentage) {
            return Err(invalid(format!(
                "steps[{i}].percentage must be between 0 and 100, found {}",
                step.percentage
            )));
        }
        if let Some(previous) = previous
            && steps.get(previous).is_some_and(|p| step.at < p.at)
        {
            return Err(invalid(format!(
                "steps[{i}].at is before steps[{previous}].at"
            )));
        }
    }
    Ok(steps)
}

/// A new plan's work item: active, due at its first step.
pub fn new_item(plan: &RolloutPlan) -> Result<WorkItem, ApiError> {
    Ok(WorkItem {
        kind: WorkKind::RolloutPlan,
        id: generate_id("plan"),
        status: PlanStatus::Active.as_str().to_owned(),
        flag_id: Some(plan.flag_id.clone()),
        environment: Some(plan.environment.clone()),
        due_at: plan.steps.first().map(|s| s.at),
        document: to_value(plan)?,
    })
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
    plan.next_step = plan.next_step.saturating_add(1);
    let mut next = item.item.clone();
    next.due_at = plan.steps.get(plan.next_step).map(|s| s.at);
    if next.due_at.is_none() {
        next.status = PlanStatus::Completed.as_str().to_owned();
    }
    next.document = to_value(&plan)?;
    Ok(Step {
        flag_id: plan.flag_id.clone(),
        environment: Some(plan.environment.clone()),
        action: plan.action(&current),
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

/// The plan paused, with the reason: from active (someone pauses it, the
/// kill switch), or from held (its step's change request was rejected).
pub fn paused(stored: &StoredWorkItem, reason: &str) -> Result<WorkItem, ApiError> {
    let mut plan: RolloutPlan = from_value(stored)?;
    plan.paused_reason = Some(reason.to_owned());
    let mut paused = stored.item.clone();
    paused.status = PlanStatus::Paused.as_str().to_owned();
    paused.due_at = None;
    paused.document = to_value(&plan)?;
    Ok(paused)
}

/// The plan paused by someone: only an active one.
pub fn pause(stored: &StoredWorkItem, reason: &str) -> Result<WorkItem, ApiError> {
    require(stored, PlanStatus::Active)?;
    paused(stored, reason)
}

/// The plan resumed: only a paused one. Steps whose time has passed apply
/// at the scheduler's next runs, one per run.
pub fn resume(stored: &StoredWorkItem) -> Result<WorkItem, ApiError> {
    require(stored, PlanStatus::Paused)?;
    let mut plan: RolloutPlan = from_value(stored)?;
    plan.paused_reason = None;
    let mut resumed = stored.item.clone();
    resumed.status = PlanStatus::Active.as_str().to_owned();
    resumed.due_at = plan.steps.get(plan.next_step).map(|s| s.at);
    if resumed.due_at.is_none() {
        resumed.status = PlanStatus::Completed.as_str().to_owned();
    }
    resumed.document = to_value(&plan)?;
    Ok(resumed)
}

fn require(stored: &StoredWorkItem, wanted: PlanStatus) -> Result<(), ApiError> {
    if PlanStatus::of(stored)? == wanted {
        return Ok(());
    }
    Err(ApiError::Conflict {
        code: "invalid_state",
        message: format!(
            "rollout plan {} is {}, not {}",
            stored.item.id,
            stored.item.status,
            wanted.as_str()
        ),
        details: json!({ "status": stored.item.status }),
    })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const START: OffsetDateTime = datetime!(2026-03-01 09:00 UTC);

    fn step_at(percentage: f64, hours: i64) -> PlanStep {
        PlanStep {
            percentage,
            at: START + time::Duration::hours(hours),
        }
    }

    /// The step maths: (what is asked, the steps, or the error's message).
    #[test]
    fn plan_steps_cases() {
        let percentages =
            |p: &[f64], start: Option<OffsetDateTime>, every: Option<f64>| StepsAsked {
                percentages: Some(p.to_vec()),
                start_at: start,
                every_hours: every,
                ..StepsAsked::default()
            };
        let steps = |s: Vec<PlanStep>| StepsAsked {
            steps: Some(s),
            ..StepsAsked::default()
        };
        #[rustfmt::skip]
        let cases: Vec<(StepsAsked, Result<Vec<PlanStep>, &str>)> = vec![
            (percentages(&[5.0, 25.0, 50.0, 100.0], Some(START), Some(24.0)),
             Ok(vec![step_at(5.0, 0), step_at(25.0, 24), step_at(50.0, 48), step_at(100.0, 72)])),
            (percentages(&[10.0, 20.0], Some(START), Some(0.5)),
             Ok(vec![step_at(10.0, 0), PlanStep { percentage: 20.0, at: START + time::Duration::minutes(30) }])),
            (steps(vec![step_at(1.0, 0), step_at(2.0, 0)]), Ok(vec![step_at(1.0, 0), step_at(2.0, 0)])),
            (percentages(&[5.0], None, Some(24.0)), Err("percentages need start_at")),
            (percentages(&[5.0], Some(START), Some(0.0)), Err("percentages need every_hours > 0")),
            (percentages(&[5.0], Some(START), Some(f64::NAN)), Err("percentages need every_hours > 0")),
            (percentages(&[], Some(START), Some(1.0)), Err("a plan needs at least one step")),
            (percentages(&[5.0, 101.0], Some(START), Some(1.0)),
             Err("steps[1].percentage must be between 0 and 100, found 101")),
            (steps(vec![step_at(1.0, 2), step_at(2.0, 1)]), Err("steps[1].at is before steps[0].at")),
            (percentages(&[5.0, 10.0], Some(START), Some(1e15)),
             Err("every_hours: the steps would fall after year 9999")),
            (percentages(&[5.0, 10.0], Some(time::macros::datetime!(9999-12-31 12:00 UTC)), Some(24.0)),
             Err("every_hours: the steps would fall after year 9999")),
            (StepsAsked::default(), Err("give either steps")),
            (StepsAsked { steps: Some(vec![step_at(1.0, 0)]), percentages: Some(vec![1.0]), ..StepsAsked::default() },
             Err("give either steps")),
        ];
        for (i, (asked, expected)) in cases.into_iter().enumerate() {
            match (plan_steps(&asked), expected) {
                (Ok(steps), Ok(expected)) => assert_eq!(steps, expected, "case {i}"),
                (Err(error), Err(message)) => {
                    assert!(error.to_string().starts_with(message), "case {i}: {error}");
                }
                (got, expected) => panic!("case {i}: {got:?}, expected {expected:?}"),
            }
        }
    }

    fn plan(next_step: usize, status: PlanStatus) -> StoredWorkItem {
        let plan = RolloutPlan {
            flag_id: "f".into(),
            environment: "staging".into(),
            rule: None,
            steps: vec![step_at(5.0, 0), step_at(50.0, 24)],
            next_step,
            author: "key_a".into(),
            reason: None,
            history: Vec::new(),
            paused_reason: None,
        };
        let mut item = new_item(&plan).unwrap_or_else(|e| panic!("{e}"));
        item.status = status.as_str().to_owned();
        StoredWorkItem {
            item,
            version: 1,
            created_at: START,
            updated_at: START,
        }
    }

    /// Each step: the percentage it applies, the plan's status and next due
    /// time after it.
    #[test]
    fn steps_advance_the_plan_until_it_completes() {
        let cases = [
            (0, 5.0, PlanStatus::Active, Some(step_at(50.0, 24).at)),
            (1, 50.0, PlanStatus::Completed, None),
        ];
        for (next_step, percentage, status, due_at) in cases {
            let step =
                step(&plan(next_step, PlanStatus::Active), START).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                step.action,
                Action::Percentage {
                    percentage,
                    rule: None
                }
            );
            assert_eq!(step.next.status, status.as_str(), "step {next_step}");
            assert_eq!(step.next.due_at, due_at, "step {next_step}");
            assert_eq!(
                step.next.document["next_step"],
                json!(next_step + 1),
                "step {next_step}"
            );
        }
        assert!(step(&plan(2, PlanStatus::Active), START).is_err());
    }

    /// Pause and resume: (status, next step, what pausing gives, what
    /// resuming gives).
    #[test]
    fn pausing_and_resuming() {
        use PlanStatus::*;
        #[rustfmt::skip]
        let cases = [
            (Active, 0, Some(Paused), None),
            (Paused, 0, None, Some(Active)),
            // Resumed after its last step ran: nothing left, completed.
            (Paused, 2, None, Some(Completed)),
            (Completed, 2, None, None),
            (Held, 1, None, None),
            (Failed, 1, None, None),
        ];
        for (from, next_step, after_pause, after_resume) in cases {
            let stored = plan(next_step, from);
            let status = |r: Result<WorkItem, ApiError>| r.ok().map(|item| item.status);
            assert_eq!(
                status(pause(&stored, "why")),
                after_pause.map(|s| s.as_str().to_owned()),
                "pause from {from:?}"
            );
            assert_eq!(
                status(resume(&stored)),
                after_resume.map(|s| s.as_str().to_owned()),
                "resume from {from:?}"
            );
        }
    }

    #[test]
    fn statuses_are_named_as_stored() {
        for status in PlanStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(json!(status.as_str()))
            );
            assert_eq!(PlanStatus::parse(status.as_str()), Some(*status));
        }
    }
}
