//! What every kind of work item shares: statuses with their stored names,
//! a due step, the item's own state written with the step (the exactly-once
//! check), and reading an item's document.

use ff_store::{AuditedChange, Change, Expect, StoredWorkItem, WorkItem, WorkKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::action::Action;
use crate::error::ApiError;

/// A work item's status: an enum whose names are the strings stored in the
/// item and sent over the wire (`pending`, `scheduled`, `active` …).
pub trait Status: Copy + PartialEq + Sized + 'static {
    /// Every status of the kind.
    const ALL: &'static [Self];

    /// Its stored and wire name.
    fn as_str(self) -> &'static str;

    /// The status of that name.
    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.as_str() == name)
    }

    /// The status of a stored item (an unknown one makes it unreadable).
    fn of(item: &StoredWorkItem) -> Result<Self, ApiError> {
        Self::parse(&item.item.status).ok_or_else(|| {
            ApiError::Internal(format!(
                "{} has an unknown status \"{}\"",
                item.item.id, item.item.status
            ))
        })
    }
}

/// What is due for a schedule or rollout plan: a change to one flag, and
/// the item as it will be once that change is applied.
#[derive(Debug, Clone)]
pub struct Step {
    /// The flag.
    pub flag_id: String,
    /// The environment, if the change is in one.
    pub environment: Option<String>,
    /// The change.
    pub action: Action,
    /// The item after this step (status, next due time, history).
    pub next: WorkItem,
    /// Who asked for it (the audit actor).
    pub author: String,
    /// Why.
    pub reason: Option<String>,
    /// The author confirmed destructive changes.
    pub confirmed: bool,
    /// The deployment it belongs to.
    pub deployment_id: Option<String>,
}

/// A due step as the write path carries it out: the item moves on in the
/// same commit as the step's change — or, when the change is held for
/// approval, waits for the change request, which names it.
#[derive(Debug, Clone)]
pub struct ItemStep {
    /// The item as read (the commit expects this version: exactly once).
    pub item: StoredWorkItem,
    /// The item once the step is applied.
    pub next: WorkItem,
}

/// The item's new state, expecting the version that was read: when two
/// nodes apply the same item, the second commit fails this check and writes
/// nothing.
pub fn bookkeeping(item: &StoredWorkItem, next: WorkItem) -> AuditedChange {
    let action = format!("{}.{}", kind_name(item.item.kind), next.status);
    let environment = next.environment.clone();
    AuditedChange {
        change: Change::PutWorkItem(next, Expect::Version(item.version)),
        action,
        environment,
    }
}

/// The item after a commit that wrote `next` at `version`: what a read
/// would give, without the read.
pub fn stored_after(
    before: Option<&StoredWorkItem>,
    next: WorkItem,
    version: i64,
    at: time::OffsetDateTime,
) -> StoredWorkItem {
    StoredWorkItem {
        item: next,
        version,
        created_at: before.map_or(at, |b| b.created_at),
        updated_at: at,
    }
}

/// `change_request`, `schedule` or `rollout_plan`.
pub fn kind_name(kind: WorkKind) -> &'static str {
    kind.resource_kind().as_str()
}

/// A document as JSON.
pub fn to_value<T: Serialize>(document: &T) -> Result<Value, ApiError> {
    serde_json::to_value(document).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A stored item's document.
pub fn from_value<T: DeserializeOwned>(item: &StoredWorkItem) -> Result<T, ApiError> {
    serde_json::from_value(item.item.document.clone())
        .map_err(|e| ApiError::Internal(format!("{} is unreadable: {e}", item.item.id)))
}
