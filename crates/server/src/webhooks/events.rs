//! Which audit entries are webhook events, and what is sent for them.
//!
//! | event | audit actions |
//! |---|---|
//! | `flag.killed` | `emergency.disable` (the kill switch) |
//! | `flag.changed` | every other action on a flag (`flag.*`, `emergency.enable`, …) |
//! | `change_request.opened` | `change_request.create` |
//! | `change_request.decided` | `change_request.reject`, and the `change_request.approve` that applies it |
//! | `schedule.applied` | `schedule.applied`; a rollout plan's step (`rollout_plan.active`, `rollout_plan.completed`) |
//! | `schedule.failed` | `schedule.failed`, `rollout_plan.failed` |
//!
//! An event has the environment of its audit entry; one without (a whole
//! flag's edit, a kill switch in every environment) passes every
//! environment filter.

use ff_store::{AuditEntry, ResourceKind};
use serde_json::{Value, json};

use crate::flag_ops::rfc3339;

/// An event derived from an audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// `evt_<audit id>`: the same on every node, so a delivery is made once
    /// per endpoint and event.
    pub id: String,
    /// One of `ff_api_types::WEBHOOK_EVENTS`.
    pub name: &'static str,
    /// The entry it comes from.
    pub entry: &'a AuditEntry,
}

/// The event an audit entry is, if any.
pub fn event_of(entry: &AuditEntry) -> Option<Event<'_>> {
    let name = match (entry.resource_kind, entry.action.as_str()) {
        (ResourceKind::Flag, "emergency.disable") => "flag.killed",
        (ResourceKind::Flag, _) => "flag.changed",
        (ResourceKind::ChangeRequest, "change_request.create") => "change_request.opened",
        (ResourceKind::ChangeRequest, "change_request.reject") => "change_request.decided",
        (ResourceKind::ChangeRequest, "change_request.approve")
            if entry.after["status"] != "pending" =>
        {
            "change_request.decided"
        }
        (ResourceKind::Schedule, "schedule.applied")
        | (ResourceKind::RolloutPlan, "rollout_plan.active" | "rollout_plan.completed") => {
            "schedule.applied"
        }
        (ResourceKind::Schedule, "schedule.failed")
        | (ResourceKind::RolloutPlan, "rollout_plan.failed") => "schedule.failed",
        _ => return None,
    };
    Some(Event {
        id: format!("evt_{}", entry.id),
        name,
        entry,
    })
}

/// Whether an endpoint with these events and environment filter gets it.
pub fn wanted(event: &Event<'_>, events: &[String], environments: &[String]) -> bool {
    events.iter().any(|e| e == event.name)
        && match &event.entry.environment {
            Some(environment) => {
                environments.is_empty() || environments.iter().any(|e| e == environment)
            }
            None => true,
        }
}

/// The body for an endpoint of `format` (`json` or `slack`).
pub fn body(event: &Event<'_>, format: &str) -> String {
    let value = if format == "slack" {
        json!({ "text": slack_text(event) })
    } else {
        json_body(event)
    };
    value.to_string()
}

/// The event as JSON: what happened, to what, where, by whom, and the
/// resource before and after (as the audit log has them).
fn json_body(event: &Event<'_>) -> Value {
    let entry = event.entry;
    let mut body = json!({
        "id": event.id,
        "event": event.name,
        "created_at": rfc3339(entry.at),
        "action": entry.action,
        "resource": {"kind": entry.resource_kind.as_str(), "key": entry.resource_key},
        "environment": entry.environment,
        "actor": entry.actor,
        "reason": entry.reason,
        "audit_id": entry.id,
        "data": {"before": entry.before, "after": entry.after},
    });
    if let Some(deployment) = &entry.deployment_id {
        body["deployment_id"] = json!(deployment);
    }
    if event.name == "change_request.decided" {
        body["decision"] = json!(decision(entry));
    }
    body
}

/// The body of a test ping.
pub fn ping_body(id: &str, webhook_id: &str, format: &str, at: time::OffsetDateTime) -> String {
    if format == "slack" {
        json!({"text": format!("Test ping from feature-flags (webhook `{webhook_id}`): this endpoint receives its events.")})
    } else {
        json!({"id": id, "event": "ping", "created_at": rfc3339(at), "webhook_id": webhook_id})
    }
    .to_string()
}

fn decision(entry: &AuditEntry) -> &'static str {
    if entry.action == "change_request.reject" {
        "rejected"
    } else {
        "approved"
    }
}

/// One line of Slack `mrkdwn`, with what people write escaped.
fn slack_text(event: &Event<'_>) -> String {
    let entry = event.entry;
    let key = format!("`{}`", escape(&entry.resource_key));
    let place = match &entry.environment {
        Some(environment) => format!(" in *{}*", escape(environment)),
        None => " in every environment".to_owned(),
    };
    let who = escape(&entry.actor);
    let mut text = match event.name {
        "flag.killed" => {
            format!(":rotating_light: Kill switch: flag {key} turned off{place} by {who}")
        }
        "flag.changed" => format!(
            ":triangular_flag_on_post: Flag {key} changed ({}){place} by {who}",
            escape(&entry.action)
        ),
        "change_request.opened" => format!(":memo: Change request {key} opened{place} by {who}"),
        "change_request.decided" => {
            let decided = decision(entry);
            let icon = if decided == "rejected" {
                ":x:"
            } else {
                ":white_check_mark:"
            };
            format!("{icon} Change request {key} {decided}{place} by {who}")
        }
        "schedule.applied" => format!(
            ":alarm_clock: Scheduled change {key} of flag `{}` applied{place}",
            escape(entry.after["flag_id"].as_str().unwrap_or("?"))
        ),
        _ => format!(
            ":warning: Scheduled change {key} of flag `{}` failed{place}: {}",
            escape(entry.after["flag_id"].as_str().unwrap_or("?")),
            escape(
                entry.after["document"]["error"]
                    .as_str()
                    .unwrap_or("see the audit log")
            )
        ),
    };
    if let Some(reason) = &entry.reason {
        text.push_str(&format!(". Reason: {}", escape(reason)));
    }
    text
}

/// Slack's three control characters in `mrkdwn` text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        kind: ResourceKind,
        action: &str,
        environment: Option<&str>,
        after: Value,
    ) -> AuditEntry {
        AuditEntry {
            id: 7,
            at: time::OffsetDateTime::UNIX_EPOCH,
            actor: "key_a".into(),
            action: action.into(),
            resource_kind: kind,
            resource_key: "checkout".into(),
            environment: environment.map(str::to_owned),
            before: Value::Null,
            after,
            reason: Some("<b>incident</b>".into()),
            request_id: None,
            deployment_id: None,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn audit_actions_map_to_events() {
        use ResourceKind::*;
        let cases: &[(ResourceKind, &str, Value, Option<&str>)] = &[
            (Flag, "emergency.disable", Value::Null, Some("flag.killed")),
            (Flag, "emergency.enable", Value::Null, Some("flag.changed")),
            (Flag, "flag.update", Value::Null, Some("flag.changed")),
            (
                Flag,
                "flag.environment.update",
                Value::Null,
                Some("flag.changed"),
            ),
            (
                ChangeRequest,
                "change_request.create",
                Value::Null,
                Some("change_request.opened"),
            ),
            (
                ChangeRequest,
                "change_request.approve",
                json!({"status": "pending"}),
                None,
            ),
            (
                ChangeRequest,
                "change_request.approve",
                json!({"status": "applied"}),
                Some("change_request.decided"),
            ),
            (
                ChangeRequest,
                "change_request.reject",
                json!({"status": "rejected"}),
                Some("change_request.decided"),
            ),
            (ChangeRequest, "change_request.rebase", Value::Null, None),
            (
                Schedule,
                "schedule.applied",
                Value::Null,
                Some("schedule.applied"),
            ),
            (
                Schedule,
                "schedule.failed",
                Value::Null,
                Some("schedule.failed"),
            ),
            (Schedule, "schedule.create", Value::Null, None),
            (
                RolloutPlan,
                "rollout_plan.active",
                Value::Null,
                Some("schedule.applied"),
            ),
            (
                RolloutPlan,
                "rollout_plan.failed",
                Value::Null,
                Some("schedule.failed"),
            ),
            (Segment, "segment.update", Value::Null, None),
            (ApiKey, "api_key.create", Value::Null, None),
            (Webhook, "webhook.create", Value::Null, None),
        ];
        for (kind, action, after, expected) in cases {
            let entry = entry(*kind, action, None, after.clone());
            assert_eq!(
                event_of(&entry).map(|e| e.name),
                *expected,
                "{action} {after}"
            );
        }
    }

    #[test]
    fn filters_by_event_and_environment() {
        let prod = entry(
            ResourceKind::Flag,
            "emergency.disable",
            Some("production"),
            Value::Null,
        );
        let everywhere = entry(ResourceKind::Flag, "emergency.disable", None, Value::Null);
        let (Some(prod), Some(everywhere)) = (event_of(&prod), event_of(&everywhere)) else {
            panic!("kill switches are events");
        };
        let killed = vec!["flag.killed".to_owned()];
        let changed = vec!["flag.changed".to_owned()];
        let staging = vec!["staging".to_owned()];
        let production = vec!["production".to_owned()];
        assert!(wanted(&prod, &killed, &[]));
        assert!(wanted(&prod, &killed, &production));
        assert!(!wanted(&prod, &killed, &staging));
        assert!(!wanted(&prod, &changed, &[]));
        assert!(wanted(&everywhere, &killed, &staging));
    }

    #[test]
    fn slack_bodies_are_one_escaped_line() {
        let entry = entry(
            ResourceKind::Flag,
            "emergency.disable",
            Some("production"),
            Value::Null,
        );
        let Some(event) = event_of(&entry) else {
            panic!("an event");
        };
        let body: Value = match serde_json::from_str(&body(&event, "slack")) {
            Ok(body) => body,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            body,
            json!({"text": ":rotating_light: Kill switch: flag `checkout` turned off in *production* by key_a. Reason: &lt;b&gt;incident&lt;/b&gt;"})
        );
    }
}
