//! `envs …`.

use ff_api_types::{Environment, EnvironmentDiff, Page, PromoteRequest, PromoteResponse};
use reqwest::Method;
use serde_json::Value;

use super::written;
use crate::cli::EnvsCommand;
use crate::client::{CliResult, Client, segment, typed};
use crate::output::{Printer, short};

/// `envs …`.
pub(crate) async fn envs(client: &Client, printer: &Printer, command: &EnvsCommand) -> CliResult {
    match command {
        EnvsCommand::List => {
            let page = client.get("/api/v1/environments").await?;
            let environments: Page<Environment> = typed(&page)?;
            printer.document(&page, |p| {
                let rows = environments
                    .items
                    .iter()
                    .map(|e| {
                        let setting =
                            |name: &str| short(e.settings.get(name).unwrap_or(&Value::Null));
                        let windows = e.settings.get("change_windows").and_then(Value::as_array);
                        vec![
                            setting("key"),
                            setting("parent"),
                            setting("auto_sync"),
                            setting("approval_required"),
                            setting("protected"),
                            windows.map_or(0, Vec::len).to_string(),
                        ]
                    })
                    .collect();
                p.table(
                    &[
                        "environment",
                        "parent",
                        "auto_sync",
                        "approval",
                        "protected",
                        "windows",
                    ],
                    rows,
                );
            })
        }
        EnvsCommand::Diff { from, to } => {
            let diff = client
                .get(&format!(
                    "/api/v1/environments/diff?from={}&to={}",
                    segment(from),
                    segment(to)
                ))
                .await?;
            let answer: EnvironmentDiff = typed(&diff)?;
            printer.document(&diff, |p| {
                let mut rows = Vec::new();
                for flag in &answer.differences {
                    for change in &flag.changes {
                        rows.push(vec![
                            flag.flag_id.clone(),
                            change.path.clone(),
                            short(change.before.as_ref().unwrap_or(&Value::Null)),
                            short(change.after.as_ref().unwrap_or(&Value::Null)),
                        ]);
                    }
                }
                p.table(&["flag", "path", from, to], rows);
                p.say(format!("{} flag(s) equal", answer.equal));
            })
        }
        EnvsCommand::Promote {
            environment,
            flags,
            all,
            write,
        } => {
            let request = PromoteRequest {
                flags: if *all { Vec::new() } else { flags.clone() },
                all: *all,
                ..PromoteRequest::default()
            };
            let body = serde_json::to_value(request).unwrap_or_default();
            let path = format!("/api/v1/environments/{}/promote", segment(environment));
            let answer = client
                .send(Method::POST, &path, Some(&body), &write.into())
                .await?;
            written(printer, answer, |p, body| {
                if let Ok(promoted) = typed::<PromoteResponse>(body) {
                    p.say(format!(
                        "promoted into {environment} from {}: {}",
                        promoted.from,
                        promoted.promoted.join(", ")
                    ));
                }
            })
        }
    }
}
