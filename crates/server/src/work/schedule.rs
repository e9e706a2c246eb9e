//! Schedules: one change of a flag (an [`Action`]: enable, disable, a
//! value, a percentage, an environment entry, a patch) at a time. Stored,
//! so they survive restarts; applied exactly once by the scheduler
//! ([`super::scheduler`]), which also records them in the flag's history.
//!
//! ```text
//! scheduled ──due──▶ applied
//!     │       └────▶ held (a change request; approved: applied, rejected: failed)
//!     │       └────▶ failed (the change no longer applies; `error` says why)
//!     └──cancel────▶ cancelled
//! ```

use ff_store::{StoredWorkItem, WorkItem, WorkKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::action::Action;
use super::item::{Status, Step, from_value, to_value};
use crate::error::ApiError;
use crate::flag_ops::rfc3339;
use crate::ids::generate_id;

/// Where a schedule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleStatus {
    /// Waiting for its time.
    Scheduled,
    /// Applied.
    Applied,
    /// Became a change request (named in `change_request_id`).
    Held,
    /// Could not be applied (`error` says why).
    Failed,
    /// Cancelled before its time.
    Cancelled,
}

impl Status for ScheduleStatus {
    const ALL: &'static [ScheduleStatus] = &[
        ScheduleStatus::Scheduled,
        ScheduleStatus::Applied,
        ScheduleStatus::Held,
        ScheduleStatus::Failed,
        ScheduleStatus::Cancelled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ScheduleStatus::Scheduled => "scheduled",
            ScheduleStatus::Applied => "applied",
            ScheduleStatus::Held => "held",
            ScheduleStatus::Failed => "failed",
            ScheduleStatus::Cancelled => "cancelled",
        }
    }
}

/// A schedule's body (the work item's document).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    /// The flag.
    pub flag_id: String,
    /// The environment.
    pub environment: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What.
    pub action: Action,
    /// Who scheduled it.
    pub author: String,
    /// Why.
    pub reason: Option<String>,
    /// Destructive changes confirmed (`X-Confirm`).
    #[serde(default)]
    pub confirmed: bool,
    /// The deployment.
    pub deployment_id: Option<String>,
    /// When it was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
}

/// A new schedule's work item: scheduled, due at its time.
pub fn new_item(schedule: &Schedule) -> Result<WorkItem, ApiError> {
    Ok(WorkItem {
        kind: WorkKind::Schedule,
        id: generate_id("sch"),
        status: ScheduleStatus::Scheduled.as_str().to_owned(),
        flag_id: Some(schedule.flag_id.clone()),
        environment: schedule.environment.clone(),
        due_at: Some(schedule.at),
        document: to_value(schedule)?,
    })
}

/// The scheduler's step for a due schedule: its change, after which it is
/// applied.
pub fn step(item: &StoredWorkItem, now: OffsetDateTime) -> Result<Step, ApiError> {
    let schedule: Schedule = from_value(item)?;
    let mut next = item.item.clone();
    next.status = ScheduleStatus::Applied.as_str().to_owned();
    next.due_at = None;
    next.document["applied_at"] = json!(rfc3339(now));
    Ok(Step {
        flag_id: schedule.flag_id,
        environment: schedule.environment,
        action: schedule.action,
        next,
        author: schedule.author,
        reason: schedule.reason,
        confirmed: schedule.confirmed,
        deployment_id: schedule.deployment_id,
    })
}

/// The schedule cancelled; only one that has not run can be.
pub fn cancelled(stored: &StoredWorkItem) -> Result<WorkItem, ApiError> {
    if ScheduleStatus::of(stored)? != ScheduleStatus::Scheduled {
        return Err(ApiError::Conflict {
            code: "not_scheduled",
            message: format!(
                "schedule {} is {}; only a scheduled one can be cancelled",
                stored.item.id, stored.item.status
            ),
            details: json!({ "status": stored.item.status }),
        });
    }
    let mut cancelled = stored.item.clone();
    cancelled.status = ScheduleStatus::Cancelled.as_str().to_owned();
    cancelled.due_at = None;
    Ok(cancelled)
}

/// The schedule failed, with the reason (its change will not be applied).
pub fn failed(item: &WorkItem, why: &str) -> WorkItem {
    let mut failed = item.clone();
    failed.status = ScheduleStatus::Failed.as_str().to_owned();
    failed.due_at = None;
    failed.document["error"] = Value::String(why.to_owned());
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(status: ScheduleStatus) -> StoredWorkItem {
        let at = time::macros::datetime!(2026-01-01 09:00 UTC);
        let schedule = Schedule {
            flag_id: "f".into(),
            environment: Some("staging".into()),
            at,
            action: Action::Enable,
            author: "key_a".into(),
            reason: None,
            confirmed: false,
            deployment_id: None,
            applied_at: None,
        };
        let mut item = new_item(&schedule).unwrap_or_else(|e| panic!("{e}"));
        item.status = status.as_str().to_owned();
        StoredWorkItem {
            item,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn statuses_are_named_as_stored() {
        for status in ScheduleStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(json!(status.as_str()))
            );
            assert_eq!(ScheduleStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(ScheduleStatus::parse("active"), None);
    }

    /// Which statuses a schedule can be cancelled from.
    #[test]
    fn cancelling() {
        let cases = [
            (ScheduleStatus::Scheduled, Some(ScheduleStatus::Cancelled)),
            (ScheduleStatus::Applied, None),
            (ScheduleStatus::Held, None),
            (ScheduleStatus::Failed, None),
            (ScheduleStatus::Cancelled, None),
        ];
        for (from, to) in cases {
            let next = cancelled(&stored(from));
            assert_eq!(
                next.as_ref().ok().map(|item| item.status.as_str()),
                to.map(ScheduleStatus::as_str),
                "{from:?}"
            );
            if let Ok(item) = next {
                assert_eq!(item.due_at, None);
            }
        }
    }

    #[test]
    fn a_due_schedule_steps_to_applied() {
        let now = time::macros::datetime!(2026-01-01 09:00:01 UTC);
        let step = step(&stored(ScheduleStatus::Scheduled), now).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(step.action, Action::Enable);
        assert_eq!(step.next.status, "applied");
        assert_eq!(step.next.due_at, None);
        assert_eq!(step.next.document["applied_at"], "2026-01-01T09:00:01Z");
    }
}
