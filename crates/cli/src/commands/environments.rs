//! `envs …`.

use reqwest::Method;
use serde_json::json;

use super::written;
use crate::cli::EnvsCommand;
use crate::client::{CliResult, Client, segment};
use crate::output::{Printer, short};

/// `envs …`.
pub(crate) async fn envs(client: &Client, printer: &Printer, command: &EnvsCommand) -> CliResult {
    match command {
        EnvsCommand::List => {
            let page = client.get("/api/v1/environments").await?;
            printer.document(&page, |p| {
                let rows = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        vec![
                            short(&e["key"]),
                            short(&e["parent"]),
                            short(&e["auto_sync"]),
                            short(&e["approval_required"]),
                            short(&e["protected"]),
                            e["change_windows"]
                                .as_array()
                                .map_or(0, Vec::len)
                                .to_string(),
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
            printer.document(&diff, |p| {
                let mut rows = Vec::new();
                for flag in diff["differences"].as_array().into_iter().flatten() {
                    for change in flag["changes"].as_array().into_iter().flatten() {
                        rows.push(vec![
                            short(&flag["flag_id"]),
                            short(&change["path"]),
                            short(&change["before"]),
                            short(&change["after"]),
                        ]);
                    }
                }
                p.table(&["flag", "path", from, to], rows);
                p.say(format!("{} flag(s) equal", short(&diff["equal"])));
            })
        }
        EnvsCommand::Promote {
            environment,
            flags,
            all,
            write,
        } => {
            let body = if *all {
                json!({"all": true})
            } else {
                json!({"flags": flags})
            };
            let path = format!("/api/v1/environments/{}/promote", segment(environment));
            let answer = client
                .send(Method::POST, &path, Some(&body), &write.into())
                .await?;
            written(printer, answer, |p, body| {
                p.say(format!(
                    "promoted into {environment} from {}: {}",
                    short(&body["from"]),
                    body["promoted"]
                        .as_array()
                        .map(|f| f.iter().map(short).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ));
            })
        }
    }
}
