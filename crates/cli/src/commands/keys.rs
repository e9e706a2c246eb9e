//! `keys …`: API keys.

use ff_api_types::{ApiKey, CreateApiKeyRequest, Page};
use reqwest::Method;

use crate::cli::KeysCommand;
use crate::client::{CliError, CliResult, Client, WriteOptions, segment, typed};
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
                            // A scoped admin key's environments and roles.
                            k.environment
                                .or_else(|| {
                                    k.environment_roles.map(|roles| {
                                        roles
                                            .iter()
                                            .map(|(env, role)| format!("{env}={role}"))
                                            .collect::<Vec<_>>()
                                            .join(",")
                                    })
                                })
                                .unwrap_or_default(),
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
            environments,
            environment_roles,
        } => {
            let admin = kind == "admin";
            let (environment, scope) = match (admin, environments.as_slice()) {
                (true, []) => (None, None),
                (true, scope) => (None, Some(scope.to_vec())),
                (false, [one]) => (Some(one.clone()), None),
                (false, []) => (None, None),
                (false, _) => {
                    return Err(CliError::invalid(
                        "server and client keys belong to one --environment",
                    ));
                }
            };
            let request = CreateApiKeyRequest {
                name: name.clone(),
                kind: kind.clone(),
                role: role.clone(),
                environment,
                environments: scope,
                environment_roles: parse_environment_roles(environment_roles)?,
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

/// `--environment-role ENV=ROLE` flags as the API's `environment_roles`
/// (`None` when there are none).
pub(crate) fn parse_environment_roles(
    flags: &[String],
) -> Result<Option<std::collections::BTreeMap<String, String>>, CliError> {
    if flags.is_empty() {
        return Ok(None);
    }
    flags
        .iter()
        .map(|flag| match flag.split_once('=') {
            Some((env, role)) if !env.trim().is_empty() && !role.trim().is_empty() => {
                Ok((env.trim().to_owned(), role.trim().to_owned()))
            }
            _ => Err(CliError::invalid(format!(
                "--environment-role {flag}: expected ENV=ROLE, e.g. production=viewer"
            ))),
        })
        .collect::<Result<_, _>>()
        .map(Some)
}
