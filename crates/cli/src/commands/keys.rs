//! `keys …`: API keys.

use ff_api_types::{ApiKey, CreateApiKeyRequest, Page};
use reqwest::Method;

use crate::cli::KeysCommand;
use crate::client::{CliResult, Client, WriteOptions, segment, typed};
use crate::output::Printer;

/// `keys …`.
pub(crate) async fn keys(client: &Client, printer: &Printer, command: &KeysCommand) -> CliResult {
    match command {
        KeysCommand::List => {
            let page = client.get("/api/v1/api-keys").await?;
            let keys: Page<ApiKey> = typed(&page)?;
            printer.document(&page, |p| {
                let rows = keys
                    .items
                    .into_iter()
                    .map(|k| {
                        let state = if k.revoked_at.is_none() {
                            "active"
                        } else {
                            "revoked"
                        };
                        vec![
                            k.id,
                            k.name,
                            k.kind,
                            k.role.unwrap_or_default(),
                            k.environment.unwrap_or_default(),
                            k.prefix,
                            state.to_owned(),
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
            let request = CreateApiKeyRequest {
                name: name.clone(),
                kind: kind.clone(),
                role: role.clone(),
                environment: environment.clone(),
            };
            let body = serde_json::to_value(request).unwrap_or_default();
            let answer = client
                .send(
                    Method::POST,
                    "/api/v1/api-keys",
                    Some(&body),
                    &WriteOptions::default(),
                )
                .await?;
            let created: ApiKey = typed(&answer.body)?;
            printer.document(&answer.body, |_| {
                // The secret is printed even with --quiet: it is shown once.
                eprintln!(
                    "created key {} ({}); its secret, shown once:",
                    created.id, kind
                );
            })?;
            if printer.format == crate::output::Format::Table {
                crate::output::emit_line(created.key.as_deref().unwrap_or_default());
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
