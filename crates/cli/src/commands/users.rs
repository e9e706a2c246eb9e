//! `users …`: accounts for people who sign in to the admin interface.

use std::io::BufRead;

use reqwest::Method;
use serde_json::{Value, json};

use super::keys::parse_environment_roles;
use crate::cli::UsersCommand;
use crate::client::{CliError, CliResult, Client, WriteOptions, segment};
use crate::output::{Printer, short};

/// `users …`.
pub(crate) async fn users(client: &Client, printer: &Printer, command: &UsersCommand) -> CliResult {
    match command {
        UsersCommand::List => {
            let page = client.get("/api/v1/users").await?;
            printer.document(&page, |p| {
                let rows = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|u| {
                        vec![
                            short(&u["email"]),
                            short(&u["display_name"]),
                            short(&u["role"]),
                            if u["disabled_at"].is_null() {
                                "active".into()
                            } else {
                                "disabled".into()
                            },
                        ]
                    })
                    .collect();
                p.table(&["email", "name", "role", "state"], rows);
            })
        }
        UsersCommand::Create {
            email,
            name,
            role,
            environments,
            environment_roles,
        } => {
            let mut body = json!({
                "email": email,
                "display_name": name,
                "role": role,
                "password": password_from_stdin()?,
            });
            if !environments.is_empty() {
                body["environments"] = json!(environments);
            }
            if let Some(roles) = parse_environment_roles(environment_roles)? {
                body["environment_roles"] = json!(roles);
            }
            let answer = client
                .send(
                    Method::POST,
                    "/api/v1/users",
                    Some(&body),
                    &WriteOptions::default(),
                )
                .await?;
            printer.document(&answer.body, |p| {
                p.say(format!(
                    "created {} ({}); they can sign in now",
                    short(&answer.body["email"]),
                    short(&answer.body["role"])
                ));
            })
        }
        UsersCommand::Update {
            email,
            name,
            role,
            password_stdin,
            disable,
            enable,
            environments,
            environment_roles,
            unscoped,
        } => {
            let mut body = json!({});
            if !environments.is_empty() {
                body["environments"] = json!(environments);
            }
            if let Some(roles) = parse_environment_roles(environment_roles)? {
                body["environment_roles"] = json!(roles);
            }
            if *unscoped {
                body["environments"] = json!([]);
            }
            if let Some(name) = name {
                body["display_name"] = json!(name);
            }
            if let Some(role) = role {
                body["role"] = json!(role);
            }
            if *password_stdin {
                body["password"] = json!(password_from_stdin()?);
            }
            if *disable || *enable {
                body["disabled"] = json!(*disable);
            }
            if body.as_object().is_some_and(serde_json::Map::is_empty) {
                return Err(CliError::invalid(
                    "nothing to change: give --name, --role, --password-stdin, --disable, --enable, \
                     --environment, --environment-role or --unscoped",
                ));
            }
            let path = format!("/api/v1/users/{}", segment(&user_id(email)));
            let answer = client
                .send(Method::PATCH, &path, Some(&body), &WriteOptions::default())
                .await?;
            printer.document(&answer.body, |p| p.say(summary(&answer.body)))
        }
    }
}

/// The account id of an email (`user:<email>`); an id is kept as it is.
fn user_id(email: &str) -> String {
    if email.starts_with("user:") {
        email.to_owned()
    } else {
        format!("user:{}", email.trim().to_lowercase())
    }
}

fn summary(user: &Value) -> String {
    let state = if user["disabled_at"].is_null() {
        "active"
    } else {
        "disabled"
    };
    format!(
        "updated {}: {}, {state}",
        short(&user["email"]),
        short(&user["role"])
    )
}

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> CliResult<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        CliError::invalid(format!("cannot read the password from standard input: {e}"))
    })?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(CliError::invalid(
            "give the password on standard input, e.g. `printf '%s\\n' \"$PASSWORD\" | feature-flags users create …`",
        ));
    }
    Ok(password)
}
