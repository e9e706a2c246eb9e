//! `schedule …`.

use reqwest::Method;
use serde_json::json;

use super::{Listing, capped_table, filters, member, rule_of, value_of};
use crate::cli::ScheduleCommand;
use crate::client::{CliError, CliResult, Client, WriteOptions, exit, segment};
use crate::output::{Printer, short};

/// `schedule …`.
pub(crate) async fn schedule(
    client: &Client,
    printer: &Printer,
    command: &ScheduleCommand,
) -> CliResult {
    match command {
        ScheduleCommand::List {
            status,
            flag,
            limit,
        } => {
            let query = filters(&[("status", status), ("flag_id", flag)]);
            capped_table(
                client,
                printer,
                &Listing {
                    path: "/api/v1/schedules",
                    what: "schedules",
                    columns: &[
                        "id",
                        "status",
                        "flag",
                        "environment",
                        "at",
                        "action",
                        "error",
                    ],
                },
                query,
                *limit,
                |s| {
                    vec![
                        s.id.clone(),
                        s.status.clone(),
                        short(member(s, "flag_id")),
                        short(member(s, "environment")),
                        short(member(s, "at")),
                        short(&member(s, "action")["type"]),
                        short(member(s, "error")),
                    ]
                },
            )
            .await
        }
        ScheduleCommand::Create {
            flag,
            environment,
            at,
            action,
            value,
            percentage,
            rule,
            reason,
        } => {
            let action = match action.as_str() {
                "enable" => json!({"type": "enable"}),
                "disable" => json!({"type": "disable"}),
                "set-value" => {
                    let value = value
                        .as_ref()
                        .ok_or_else(|| CliError::new(exit::USAGE, "set-value needs --value"))?;
                    json!({"type": "set_value", "value": value_of(value)})
                }
                _ => {
                    let percentage = percentage.ok_or_else(|| {
                        CliError::new(exit::USAGE, "percentage needs --percentage")
                    })?;
                    let mut action = json!({"type": "percentage", "percentage": percentage});
                    if let Some(rule) = rule {
                        action["rule"] = rule_of(rule);
                    }
                    action
                }
            };
            let mut body = json!({"flag_id": flag, "at": at, "action": action});
            if let Some(env) = environment {
                body["environment"] = json!(env);
            }
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            let answer = client
                .send(
                    Method::POST,
                    "/api/v1/schedules",
                    Some(&body),
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| {
                p.say(format!("scheduled {} for {at}", short(&answer.body["id"])))
            })
        }
        ScheduleCommand::Cancel { id } => {
            let answer = client
                .send(
                    Method::DELETE,
                    &format!("/api/v1/schedules/{}", segment(id)),
                    None,
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| p.say(format!("cancelled {id}")))
        }
    }
}
