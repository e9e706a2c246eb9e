//! `keys …`: API keys.

use reqwest::Method;
use serde_json::json;

use crate::cli::KeysCommand;
use crate::client::{CliResult, Client, WriteOptions, segment};
use crate::output::{Printer, short};

/// `keys …`.
pub(crate) async fn keys(client: &Client, printer: &Printer, command: &KeysCommand) -> CliResult {
    match command {
        KeysCommand::List => {
            let page = client.get("/api/v1/api-keys").await?;
            printer.document(&page, |p| {
                let rows = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|k| {
                        vec![
                            short(&k["id"]),
                            short(&k["name"]),
                            short(&k["kind"]),
                            short(&k["role"]),
                            short(&k["environment"]),
                            short(&k["prefix"]),
                            if k["revoked_at"].is_null() {
                                "active".into()
                            } else {
                                "revoked".into()
                            },
                        ]
                    })
                    .collect();
                p.table(
                    &[
                        "id",
                        "name",
                        "kind",
                        "role",
                        "environment",
                        "prefix",
                        "state",
                    ],
                    rows,
                );
            })
        }
        KeysCommand::Create {
            name,
            kind,
            role,
            environment,
        } => {
            let mut body = json!({"name": name, "kind": kind});
            if let Some(role) = role {
                body["role"] = json!(role);
            }
            if let Some(env) = environment {
                body["environment"] = json!(env);
            }
            let answer = client
                .send(
                    Method::POST,
                    "/api/v1/api-keys",
                    Some(&body),
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |_| {
                // The secret is printed even with --quiet: it is shown once.
                eprintln!(
                    "created key {} ({}); its secret, shown once:",
                    short(&answer.body["id"]),
                    kind
                );
            })?;
            if printer.format == crate::output::Format::Table {
                crate::output::emit_line(&short(&answer.body["key"]));
            }
            Ok(())
        }
        KeysCommand::Revoke { id } => {
            let answer = client
                .send(
                    Method::DELETE,
                    &format!("/api/v1/api-keys/{}", segment(id)),
                    None,
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| p.say(format!("revoked {id}")))
        }
    }
}
