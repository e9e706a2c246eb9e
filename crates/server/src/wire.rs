//! From the domain's and the store's types to their wire form
//! (`ff_api_types`): the one place that knows both, so that handlers build
//! answers from typed values and the OpenAPI document describes them.

use ff_api_types as wire;
use serde_json::Value;

use crate::flag_ops::rfc3339;

/// An engine problem (validation, lint) on the wire.
pub fn problem(problem: ff_engine::Problem) -> wire::Problem {
    let severity = match problem.severity {
        ff_engine::Severity::Error => "error",
        ff_engine::Severity::Warning => "warning",
    };
    wire::Problem {
        path: problem.path,
        message: problem.message,
        severity: severity.to_owned(),
    }
}

/// The differences between two documents, path by path.
pub fn differences(before: &Value, after: &Value) -> Vec<wire::Difference> {
    ff_engine::diff::diff(before, after)
        .into_iter()
        .map(|d| wire::Difference {
            path: d.path,
            before: d.before,
            after: d.after,
        })
        .collect()
}

/// A stored flag version.
pub fn flag_version(version: ff_store::FlagVersion) -> wire::FlagVersion {
    wire::FlagVersion {
        flag_id: version.flag_id,
        version: version.version,
        document: version.document,
        deleted: version.deleted,
        action: version.action,
        actor: version.actor,
        at: rfc3339(version.at),
        reason: version.reason,
        deployment_id: version.deployment_id,
    }
}

/// An API key, never its secret.
pub fn api_key(key: &ff_store::ApiKey) -> wire::ApiKey {
    wire::ApiKey {
        id: key.id.clone(),
        name: key.name.clone(),
        kind: key_kind(key.kind).to_owned(),
        role: key.role.map(|role| role.name().to_owned()),
        environment: key.environment.clone(),
        environment_roles: key.environment_roles.as_ref().map(crate::scope::wire_roles),
        prefix: key.prefix.clone(),
        created_by: key.created_by.clone(),
        created_at: rfc3339(key.created_at),
        last_used_at: key.last_used_at.map(rfc3339),
        revoked_at: key.revoked_at.map(rfc3339),
        key: None,
    }
}

fn key_kind(kind: ff_store::KeyKind) -> &'static str {
    match kind {
        ff_store::KeyKind::Admin => "admin",
        ff_store::KeyKind::Server => "server",
        ff_store::KeyKind::Client => "client",
    }
}

/// An audit entry.
pub fn audit_entry(entry: ff_store::AuditEntry) -> wire::AuditEntry {
    wire::AuditEntry {
        id: entry.id,
        at: rfc3339(entry.at),
        actor: entry.actor,
        action: entry.action,
        resource_kind: entry.resource_kind.as_str().to_owned(),
        resource_key: entry.resource_key,
        environment: entry.environment,
        before: entry.before,
        after: entry.after,
        reason: entry.reason,
        request_id: entry.request_id,
        deployment_id: entry.deployment_id,
        prev_hash: entry.prev_hash,
        hash: entry.hash,
    }
}

/// The audit log's query, as the store takes it.
pub fn audit_query(query: wire::AuditQuery) -> ff_store::AuditQuery {
    ff_store::AuditQuery {
        flag_id: query.flag_id,
        environment: query.environment,
        actor: query.actor,
        action: query.action,
        deployment_id: query.deployment_id,
        since: query.since,
        until: query.until,
        before_id: query.before_id,
        limit: query.limit,
    }
}

/// A rule chosen by index or name, as the engine's edits take it.
pub fn rule_selector(rule: wire::RuleSelector) -> ff_engine::edit::RuleSelector {
    match rule {
        wire::RuleSelector::Index(index) => ff_engine::edit::RuleSelector::Index(index),
        wire::RuleSelector::Name(name) => ff_engine::edit::RuleSelector::Name(name),
    }
}

/// A work item as answered: id, status, (when asked) its due time, its
/// document's members.
pub fn work_item(item: &ff_store::WorkItem, with_due_at: bool) -> wire::WorkItem {
    wire::WorkItem {
        id: item.id.clone(),
        status: item.status.clone(),
        due_at: item.due_at.filter(|_| with_due_at).map(rfc3339),
        document: crate::flag_ops::members(&item.document),
        version: None,
        created_at: None,
        updated_at: None,
        applied: None,
    }
}

/// With the stored item's version and times.
pub fn with_stored_metadata(
    mut item: wire::WorkItem,
    stored: &ff_store::StoredWorkItem,
) -> wire::WorkItem {
    item.version = Some(stored.version);
    item.created_at = Some(rfc3339(stored.created_at));
    item.updated_at = Some(rfc3339(stored.updated_at));
    item
}

/// A scheduled action as the work items store it.
pub fn scheduled_action(action: wire::ScheduledAction) -> crate::work::action::Action {
    use crate::work::action::Action;
    match action {
        wire::ScheduledAction::Enable => Action::Enable,
        wire::ScheduledAction::Disable => Action::Disable,
        wire::ScheduledAction::SetValue { value } => Action::SetValue { value },
        wire::ScheduledAction::Percentage { percentage, rule } => Action::Percentage {
            percentage,
            rule: rule.map(rule_selector),
        },
        wire::ScheduledAction::SetEnvironment { entry } => Action::SetEnvironment { entry },
        wire::ScheduledAction::Patch { patch } => Action::Patch { patch },
    }
}

/// A rollout plan's step as the plan stores it.
pub fn plan_step(step: wire::PlanStep) -> crate::work::rollout_plan::PlanStep {
    crate::work::rollout_plan::PlanStep {
        percentage: step.percentage,
        at: step.at,
    }
}

/// What a scheduler run did to one item.
pub fn step_outcome(outcome: crate::work::scheduler::StepOutcome) -> wire::StepOutcome {
    wire::StepOutcome {
        kind: outcome.kind.to_owned(),
        id: outcome.id,
        result: outcome.result.to_owned(),
        detail: outcome.detail,
    }
}
