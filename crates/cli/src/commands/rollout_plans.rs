//! `rollout-plans …`.

use ff_api_types::{PauseRequest, WorkItem};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Listing, capped_table, filters, member, rule_of};
use crate::cli::RolloutPlansCommand;
use crate::client::{CliResult, Client, WriteOptions, segment, typed};
use crate::output::{Printer, short};

/// `rollout-plans …`.
pub(crate) async fn rollout_plans(
    client: &Client,
    printer: &Printer,
    command: &RolloutPlansCommand,
) -> CliResult {
    let (path, body) = match command {
        RolloutPlansCommand::List {
            status,
            flag,
            environment,
            limit,
        } => {
            let query = filters(&[
                ("status", status),
                ("flag_id", flag),
                ("environment", environment),
            ]);
            return capped_table(
                client,
                printer,
                &Listing {
                    path: "/api/v1/rollout-plans",
                    what: "rollout plans",
                    columns: &[
                        "id",
                        "status",
                        "flag",
                        "environment",
                        "rule",
                        "percentages",
                        "applied",
                        "next step at",
                        "paused because",
                    ],
                },
                query,
                *limit,
                |plan| {
                    vec![
                        plan.id.clone(),
                        plan.status.clone(),
                        short(member(plan, "flag_id")),
                        short(member(plan, "environment")),
                        short(member(plan, "rule")),
                        plan_percentages(member(plan, "steps")),
                        format!(
                            "{}/{}",
                            short(member(plan, "next_step")),
                            member(plan, "steps").as_array().map_or(0, Vec::len)
                        ),
                        plan.due_at.clone().unwrap_or_default(),
                        short(member(plan, "paused_reason")),
                    ]
                },
            )
            .await;
        }
        RolloutPlansCommand::Get { id } => {
            let answer = client
                .get(&format!("/api/v1/rollout-plans/{}", segment(id)))
                .await?;
            let plan: WorkItem = typed(&answer)?;
            return printer.document(&answer, |p| show_plan_steps(p, &plan));
        }
        RolloutPlansCommand::Create {
            flag,
            environment,
            rule,
            percentages,
            start_at,
            every_hours,
            reason,
        } => {
            let mut body = json!({
                "flag_id": flag,
                "environment": environment,
                "percentages": percentages,
                "start_at": start_at,
                "every_hours": every_hours,
            });
            if let Some(rule) = rule {
                body["rule"] = rule_of(rule);
            }
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            ("/api/v1/rollout-plans".to_owned(), Some(body))
        }
        RolloutPlansCommand::Pause { id, reason } => (
            format!("/api/v1/rollout-plans/{}/pause", segment(id)),
            Some(
                serde_json::to_value(PauseRequest {
                    reason: reason.clone(),
                })
                .unwrap_or_default(),
            ),
        ),
        RolloutPlansCommand::Resume { id } => (
            format!("/api/v1/rollout-plans/{}/resume", segment(id)),
            None,
        ),
    };
    let answer = client
        .send(Method::POST, &path, body.as_ref(), &WriteOptions::default())
        .await?;
    let plan: WorkItem = typed(&answer.body)?;
    printer.document(&answer.body, |p| {
        p.say(format!(
            "rollout plan {} of {} in {} is {}: {} % ({})",
            plan.id,
            short(member(&plan, "flag_id")),
            short(member(&plan, "environment")),
            plan.status,
            plan_percentages(member(&plan, "steps")).replace(',', " → "),
            plan.due_at.as_ref().map_or_else(
                || "no step due".to_owned(),
                |at| format!("next step at {at}")
            )
        ));
        if let Some(reason) = member(&plan, "paused_reason").as_str() {
            p.say(format!("  paused because: {reason}"));
        }
    })
}

/// A plan's steps' percentages, comma-separated.
fn plan_percentages(steps: &Value) -> String {
    steps
        .as_array()
        .into_iter()
        .flatten()
        .map(|step| percent(&step["percentage"]))
        .collect::<Vec<_>>()
        .join(",")
}

/// A percentage as people write it: `5`, `2.5` (the service's JSON has
/// `5.0`).
fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| short(value), |p| p.to_string())
}

/// `rollout-plans get` for people: what the plan is, then its steps.
fn show_plan_steps(printer: &Printer, plan: &WorkItem) {
    let mut line = format!(
        "rollout plan {} of {} in {}: {}",
        plan.id,
        short(member(plan, "flag_id")),
        short(member(plan, "environment")),
        plan.status
    );
    if !member(plan, "rule").is_null() {
        line.push_str(&format!(", rule {}", short(member(plan, "rule"))));
    }
    printer.say(line);
    for (label, field) in [
        ("paused because", "paused_reason"),
        ("reason", "reason"),
        ("author", "author"),
    ] {
        if !member(plan, field).is_null() {
            printer.say(format!("  {label}: {}", short(member(plan, field))));
        }
    }
    let history = member(plan, "history")
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rows = member(plan, "steps")
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, step)| {
            let applied = history
                .iter()
                .find(|h| h["step"].as_u64() == Some(i as u64))
                .map(|h| short(&h["applied_at"]))
                .unwrap_or_default();
            vec![
                (i + 1).to_string(),
                percent(&step["percentage"]),
                short(&step["at"]),
                applied,
            ]
        })
        .collect();
    printer.table(&["step", "percentage", "at", "applied at"], rows);
}
